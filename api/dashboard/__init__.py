"""The web dashboard (issue 7), served at ``/``: server-rendered pages whose small scripts read the
REST API. ``router`` holds the pages and ``/static/plotly.min.js`` (plotly.js's basic bundle,
vendored in ``static/vendor/``, never a CDN); ``static_files`` is mounted at ``/static`` after it."""

from api.dashboard.pages import router, static_files

__all__ = ["router", "static_files"]

"""The dashboard's pages: plain ``def`` routes rendering Jinja2 templates.

A page is a shell that holds no stored data: its ids (from the path), static text and the elements its
script in ``static/`` fills from ``/api/v1``, with the API key the browser keeps (a page load cannot send
an ``Authorization`` header, so a page rendered from the store would show it to anyone). The browser
thus sees the same data and the same error messages as any REST client: an id that is not there is the
API's 404, shown by the script; only a path that cannot name an id is a 404 page. Plotly.js is the
vendored basic bundle in ``static/vendor/`` (scatter, bar and pie: the dashboard draws only scatter
traces): no CDN, no build step. Its full bundle, the only one the ``plotly`` Python package ships,
takes 1.6 s to start in a browser here against 0.35 s; see ``static/vendor/README.md``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from nas.evaluate import DEFAULT_PROXY
from nas.search.request import SearchRequest
from nas.search.strategies import STRATEGIES

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)

# Ids are positive integers the database can hold; anything else is simply not there (404, not 422).
MAX_ID = 2**63 - 1


def static_files() -> StaticFiles:
    return StaticFiles(directory=HERE / "static")


PLOTLY_JS = HERE / "static" / "vendor" / "plotly-basic.min.js"


@router.get("/static/plotly.min.js")
def plotly_js() -> FileResponse:
    return FileResponse(PLOTLY_JS, media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=86400"})


def _page(request: Request, name: str, page: str, status_code: int = 200, **context) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"page": page, **context}, status_code=status_code)


def _not_found(request: Request, message: str) -> HTMLResponse:
    return _page(request, "not_found.html", "not-found", status_code=404, message=message)


def _id(text: str) -> int | None:
    """The id a page's path names; None for anything else (too long to be an id, too: Python refuses
    to read an integer of over 4,300 digits)."""
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(MAX_ID))):
        return None
    return int(text) if 0 < int(text) <= MAX_ID else None


@router.get("/", response_class=HTMLResponse)
def searches_page(request: Request) -> HTMLResponse:
    return _page(request, "searches.html", "searches")


@router.get("/searches/new", response_class=HTMLResponse)
def new_search_page(request: Request) -> HTMLResponse:
    # The request's own defaults (code, not data); the default device comes from /health by script.
    defaults = {name: field.default for name, field in SearchRequest.model_fields.items()
                if field.default is not None and isinstance(field.default, (int, float, str))}
    return _page(request, "new_search.html", "new-search", strategies=STRATEGIES,
                 defaults={**defaults, "proxy": DEFAULT_PROXY})


@router.get("/searches/{search_id}", response_class=HTMLResponse)
def search_page(request: Request, search_id: str) -> HTMLResponse:
    if (found := _id(search_id)) is None:
        return _not_found(request, f"There is no search with id {search_id}.")
    return _page(request, "search.html", "search", search_id=found, default_proxy=DEFAULT_PROXY)


@router.get("/candidates/{candidate_id}", response_class=HTMLResponse)
def candidate_page(request: Request, candidate_id: str) -> HTMLResponse:
    if (found := _id(candidate_id)) is None:
        return _not_found(request, f"There is no candidate with id {candidate_id}.")
    return _page(request, "candidate.html", "candidate", candidate_id=found)


@router.get("/compare", response_class=HTMLResponse)
def compare_page(request: Request) -> HTMLResponse:
    return _page(request, "compare.html", "compare")


@router.get("/devices", response_class=HTMLResponse)
def devices_page(request: Request) -> HTMLResponse:
    return _page(request, "devices.html", "devices")

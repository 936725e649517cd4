"""Browsers kept out (issue 26): what a web page a user visits must not make the service do.

One pure ASGI middleware, outermost, refuses before any route runs:

- a ``Host`` that is not one of ``NAS_ALLOWED_HOSTS`` (by default the loopback names and the address
  bound): a page of ``attacker.example`` whose name resolves to 127.0.0.1 (DNS rebinding) is not
  served (400);
- a request from another machine while auth is off only because ``NAS_HOST`` says loopback (403): the
  app started by hand (``uvicorn api.main:app --host 0.0.0.0``) serves no one else without keys;
- a write (POST, PUT, PATCH, DELETE) that ``Sec-Fetch-Site`` or ``Origin`` says comes from another
  site (403): a cross-site form or ``fetch`` cannot cancel a search or upload a dataset;
- a body whose content type the route does not declare in /openapi.json (415): a JSON route reads
  only ``application/json``, so no "simple" cross-site request (a form's ``text/plain``) reaches it.

and it sets the security headers on every response (``SECURITY_HEADERS``). The API's own ``/docs``
(Swagger UI) and ``/redoc`` are served from ``static/vendor`` with their start-up code in static files,
so they load with no request leaving the machine and under the Content-Security-Policy.
"""

from __future__ import annotations

import ipaddress
import json
import re
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nas.settings import Settings, get_settings

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SAME_SITE = frozenset({"same-origin", "none"})  # Sec-Fetch-Site of the service's own pages, and of no page
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'")
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}


def install(app: FastAPI) -> None:
    """Add the guard (outermost) and the /docs and /redoc pages to ``app``."""
    app.add_middleware(BrowserGuard)
    app.include_router(router)


class BrowserGuard:
    """The refusals and headers above; settings come from ``app.state.settings`` per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._bodies: list[tuple[str, re.Pattern, frozenset[str]]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        refusal = self._refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send_with_headers)
            return
        status, detail = refusal
        body = json.dumps({"detail": detail}).encode()
        await send_with_headers({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send_with_headers({"type": "http.response.body", "body": body})

    def _refusal(self, scope: Scope) -> tuple[int, str] | None:
        app = scope.get("app")
        settings: Settings = getattr(getattr(app, "state", None), "settings", None) or get_settings()
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        allowed = settings.host_names()
        if "*" not in allowed and _name(host) not in allowed:
            return 400, (f"Host: {host[:100]!r} is not a name this service answers; NAS_ALLOWED_HOSTS lists "
                         f"them ({', '.join(allowed)})")
        client = _remote(scope)
        if client is not None and settings.auth is None and settings.auth_mode() == "off":
            return 403, (f"authorization: keys are off because NAS_HOST ({settings.host}) is loopback, yet this "
                         f"request came from {client}; start the service with `nas serve --host ADDRESS` (keys "
                         "required), or set NAS_AUTH=off to serve every machine without keys")
        if scope["method"] not in WRITES:
            return None
        site = headers.get("sec-fetch-site")
        if site is not None and site not in SAME_SITE:
            return 403, f"Sec-Fetch-Site: a write from another site ({site[:40]!r}) is refused"
        origin = headers.get("origin")
        if origin is not None and (origin == "null" or urlsplit(origin).netloc.lower() != host.lower()):
            return 403, f"Origin: a write from {origin[:100]!r} is refused; only this service's own pages may write"
        return self._content_type(scope, headers, app)

    def _content_type(self, scope: Scope, headers: Headers, app: FastAPI | None) -> tuple[int, str] | None:
        if not _has_body(headers) or app is None:
            return None
        path = scope.get("path", "")
        declared = next((kinds for method, pattern, kinds in self._routes(app)
                         if method == scope["method"] and pattern.fullmatch(path)), None)
        if not declared:
            return None
        sent = headers.get("content-type", "").partition(";")[0].strip().lower()
        if sent in declared or ("application/json" in declared and re.fullmatch(r"application/[\w.+-]+\+json", sent)):
            return None
        return 415, f"content-type: expected {' or '.join(sorted(declared))}, got {sent[:60] or 'none'!r}"

    def _routes(self, app: FastAPI) -> list[tuple[str, re.Pattern, frozenset[str]]]:
        """Each operation's declared body media types, from the OpenAPI document (one source of truth:
        a new route is covered as it is written)."""
        if self._bodies is None:
            bodies = []
            for path, operations in app.openapi()["paths"].items():
                pattern = re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)))
                for method, operation in operations.items():
                    kinds = frozenset(operation.get("requestBody", {}).get("content", {}))
                    bodies.append((method.upper(), pattern, kinds))
            self._bodies = bodies
        return self._bodies


def _name(host: str) -> str:
    """The name of a Host header, its port left out: ``[::1]:8000`` -> ``::1``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _has_body(headers: Headers) -> bool:
    length = headers.get("content-length")
    return "transfer-encoding" in headers or (length is not None and length.strip() not in ("", "0"))


# --- /docs and /redoc ---------------------------------------------------------------------------

router = APIRouter(include_in_schema=False)
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>{head}</head>
<body>{body}</body></html>
"""


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui() -> HTMLResponse:
    return HTMLResponse(PAGE.format(
        title="Hardware-aware NAS: API (Swagger UI)",
        head='<link rel="stylesheet" href="/static/vendor/swagger-ui/swagger-ui.css">',
        body='<div id="swagger-ui" data-openapi="/openapi.json"></div>'
             '<script src="/static/vendor/swagger-ui/swagger-ui-bundle.js"></script>'
             '<script src="/static/docs.js"></script>'))


@router.get("/redoc", response_class=HTMLResponse)
def redoc() -> HTMLResponse:
    # ReDoc starts itself from the element: no start-up script of ours. Its fonts are the browser's own.
    return HTMLResponse(PAGE.format(
        title="Hardware-aware NAS: API (ReDoc)", head="",
        body='<redoc spec-url="/openapi.json" hide-download-button></redoc>'
             '<script src="/static/vendor/redoc/redoc.standalone.js"></script>'))


def _remote(scope: Scope) -> str | None:
    """The client's address when it is another machine's (an IP address that is not loopback)."""
    client = scope.get("client")
    if not client:
        return None
    try:
        address = ipaddress.ip_address(str(client[0]))
    except ValueError:  # a test client's name, or a Unix socket
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return None if address.is_loopback else str(address)

"""/docs (Swagger UI) and /redoc (ReDoc) load in a real browser with no request leaving the machine
(issue 26): their assets are the service's own (vendored with their licences under
api/dashboard/static/vendor), they run under the Content-Security-Policy (a violation is a console
error, which fails the test), and they render the API's operations from /openapi.json. Any request to
another origin is recorded and aborted, so a page that needed one would render nothing and fail."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import expect


@pytest.fixture(scope="module")
def service(module_services):
    return module_services()


@pytest.fixture
def elsewhere(page, service):
    """Requests the page made to anywhere but the service; each is aborted."""
    own = urlsplit(service.api).netloc
    made: list[str] = []

    def route(route):
        url = route.request.url
        if urlsplit(url).scheme in ("data", "blob") or urlsplit(url).netloc == own:
            route.continue_()
        else:
            made.append(url)
            route.abort()

    page.context.route("**/*", route)
    return made


def _origin(service) -> str:
    parts = urlsplit(service.api)
    return f"{parts.scheme}://{parts.netloc}"


def test_swagger_ui_renders_every_operation_from_the_service_alone(page, service, elsewhere):
    page.goto(_origin(service) + "/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Hardware-aware NAS")
    expect(page.locator(".opblock").first).to_be_visible()
    operations = httpx.get(_origin(service) + "/openapi.json").json()["paths"]
    count = sum(len(methods) for path, methods in operations.items())
    expect(page.locator(".opblock")).to_have_count(count)
    expect(page.locator("#operations-searches-submitSearch")).to_be_visible()
    assert elsewhere == []


def test_redoc_renders_the_api_from_the_service_alone(page, service, elsewhere):
    page.goto(_origin(service) + "/redoc")
    expect(page.locator("h1").first).to_contain_text("Hardware-aware NAS")
    expect(page.get_by_text("submitSearch").or_(page.locator("[data-section-id*=submitSearch]")).first).to_be_attached()
    assert elsewhere == []

"""The dashboard where the service needs a key (issue 26), in a real browser against one ``nas serve``
started with ``NAS_AUTH=required`` and a bootstrap admin key: the page asks for a key, shows the API's
401 for a wrong one, keeps a good one in the tab's session storage (no cookie) and sends it as a header;
it marks the caller's own searches, and a viewer's key sees no submit, cancel or upload form.

Searches are NAS-Bench-201; one service runs one search at a time, so a second one waits behind the first.
"""

from __future__ import annotations

import re
import secrets

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import screenshot
from tests.e2e.service import FINAL, wait_until

ADMIN_KEY = "nas_" + secrets.token_urlsafe(32)
SPACE = "nasbench201"


@pytest.fixture(scope="module")
def service(module_services):
    return module_services({"NAS_AUTH": "required", "NAS_ADMIN_KEY": ADMIN_KEY, "NAS_MAX_CONCURRENT_SEARCHES": "1"})


def call(service, method: str, path: str, key: str, **kwargs):
    return service.client.request(method, path, headers={"Authorization": f"Bearer {key}"}, **kwargs)


def submit(service, key: str, budget: int) -> int:
    response = call(service, "POST", "/searches", key, json={"space": SPACE, "budget": budget})
    assert response.status_code == 202, response.text
    return response.json()["id"]


@pytest.fixture(scope="module")
def keys(service) -> dict[str, str]:
    made = {"admin": ADMIN_KEY}
    for name, role in (("viewer1", "viewer"), ("member1", "member")):
        response = call(service, "POST", "/keys", ADMIN_KEY, json={"name": name, "role": role})
        assert response.status_code == 201, response.text
        made[name] = response.json()["key"]
    return made


def url(service, path: str) -> str:
    return f"http://127.0.0.1:{service.port}{path}"


def give_key(page, key: str, name: str) -> None:
    """Type ``key`` into the page's key panel; the page reloads as ``name``."""
    expect(page.locator("#key-panel")).to_be_visible()
    page.fill("#key-input", key)
    page.click("#key-submit")
    expect(page.locator("#who-name")).to_have_text(name)
    expect(page.locator("#key-panel")).to_be_hidden()


def test_the_dashboard_asks_for_a_key_and_keeps_it_for_the_tab_only(page, service, keys, console_errors):
    console_errors.allow_status(401, r"/api/v1/keys/me$")
    search_id = submit(service, ADMIN_KEY, 16)
    page.goto(url(service, "/"))
    expect(page.locator("#key-panel")).to_contain_text("nas keys create NAME --role viewer")
    expect(page.locator("#key-input")).to_have_attribute("type", "password")
    expect(page.locator("#who")).to_be_hidden()
    expect(page.locator("table#searches tr[data-search-id]")).to_have_count(0)

    wrong = "nas_" + "x" * 43
    refused = call(service, "GET", "/keys/me", wrong)
    assert refused.status_code == 401
    page.fill("#key-input", wrong)
    page.click("#key-submit")
    expect(page.locator("#key-error")).to_have_text(refused.json()["detail"])
    screenshot(page, "key-refused")
    assert page.evaluate("() => sessionStorage.length") == 0

    sent: list[str | None] = []
    page.on("request", lambda r: sent.append(r.headers.get("authorization")) if "/api/v1/searches" in r.url else None)
    give_key(page, ADMIN_KEY, "admin")
    expect(page.locator("#who-role")).to_have_text("admin")
    row = page.locator(f'table#searches tr[data-search-id="{search_id}"]')
    expect(row.locator(".owner")).to_contain_text("admin")
    expect(row.locator(".owner .yours")).to_be_visible()
    screenshot(page, "searches-with-key")
    assert sent and set(sent) == {f"Bearer {ADMIN_KEY}"}, sent
    assert page.evaluate("() => Object.values(sessionStorage)") == [ADMIN_KEY]
    assert page.evaluate("() => [localStorage.length, document.cookie]") == [0, ""]
    assert page.context.cookies() == []

    # The key goes with the export links too, which a followed link could not send.
    wait_until(lambda: call(service, "GET", f"/searches/{search_id}", ADMIN_KEY).json()["status"] in FINAL,
               240, f"search {search_id} to end")
    front = call(service, "GET", f"/searches/{search_id}/pareto", ADMIN_KEY).json()
    page.goto(url(service, f"/candidates/{front[0]['id']}"))
    expect(page.locator("#arch")).to_have_text(front[0]["arch"])
    with page.expect_download() as download:
        page.click("#export-json")
    assert download.value.suggested_filename.endswith(".json")
    assert front[0]["arch"] in download.value.path().read_text()

    page.click("#forget-key")
    expect(page.locator("#key-panel")).to_be_visible()
    assert page.evaluate("() => sessionStorage.length") == 0


@pytest.fixture
def live(service, keys):
    """Two searches that stay live while the test runs: the admin's (running: a large budget) and the
    member's (queued behind it); both cancelled after."""
    ids = {"admin": submit(service, ADMIN_KEY, 5000), "member1": submit(service, keys["member1"], 16)}
    yield ids
    for search_id in ids.values():
        call(service, "POST", f"/searches/{search_id}/cancel", ADMIN_KEY)


def test_a_viewer_reads_and_a_member_cancels_only_its_own(page, service, keys, live):
    open_with_key(page, service, "/", keys["viewer1"], "viewer1")
    expect(page.locator("#read-only")).to_be_visible()
    expect(page.locator(f'table#searches tr[data-search-id="{live["member1"]}"]')).to_be_attached()
    expect(page.locator("table#searches tr[data-yours]")).to_have_count(0)
    for path, hidden in (("/searches/new", "#submit-search"), ("/devices", "form#device-form"),
                         (f"/searches/{live['admin']}", "#cancel-search")):
        page.goto(url(service, path))  # the same tab: the key stays
        expect(page.locator("body")).to_have_attribute("data-ready", "true")
        expect(page.locator("body")).to_have_attribute("data-role", "viewer")
        expect(page.locator(hidden)).to_be_hidden()
        expect(page.locator("#read-only")).to_be_visible()
    expect(page.locator("#search-status")).to_have_text(re.compile("queued|running"))
    screenshot(page, "search-read-only")

    member = page.context.new_page()  # a new tab: its own session storage, so no key yet
    open_with_key(member, service, "/", keys["member1"], "member1")
    mine = member.locator(f'table#searches tr[data-search-id="{live["member1"]}"]')
    expect(mine).to_have_attribute("data-yours", "true")
    member.goto(url(service, f"/searches/{live['admin']}"))
    expect(member.locator("#search-status")).to_have_text(re.compile("queued|running"))
    expect(member.locator("#cancel-search")).to_be_hidden()
    member.goto(url(service, f"/searches/{live['member1']}"))
    expect(member.locator("#search-status")).to_have_text(re.compile("queued|running"))
    member.click("#cancel-search")
    expect(member.locator("#search-status")).to_have_text("cancelled")
    expect(member.locator("#read-only")).to_be_hidden()


def open_with_key(page, service, path: str, key: str, name: str) -> None:
    page.goto(url(service, path))
    give_key(page, key, name)

"""The dashboard (issue 7) in a real browser: Debian's Chromium driven by Playwright against one real
``nas serve`` for the module (SQLite, its own local Ray, so searches really run), to the dashboard
contract's element ids, with auth off (a loopback service: no key asked for; with a key,
test_dashboard_auth.py). Every page must load with no console error (the ``page`` fixture fails a test
on any); each page's screenshot is saved under the contract's name in ``$NAS_SCREENSHOTS``.

Searches are NAS-Bench-201 with budget 16: a few seconds each on two cores.
"""

from __future__ import annotations

import copy
import json
import re
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from nas.latency import default_device, shipped_files
from tests.budgets import latency_quantile
from tests.e2e.browser import plot_layout_shapes, plot_ready, plot_traces, screenshot
from tests.e2e.service import FINAL
from tests.latency.conftest import synthetic_document

SPACE = "nasbench201"
DEVICE = default_device()  # the shipped profile of this host's CPU, the default device
BUDGET = 16
LATENCY_MAX_MS = latency_quantile(SPACE, 0.9)  # a tenth of the candidates are over it
NAV = {"nav-searches": "/", "nav-new": "/searches/new", "nav-compare": "/compare", "nav-devices": "/devices"}


@pytest.fixture(scope="module")
def service(module_services):
    return module_services({"NAS_MAX_CONCURRENT_SEARCHES": "2"})


def finished(service, search_id: int) -> dict:
    done, _ = service.wait_for(search_id, FINAL, timeout=240)
    assert done["status"] == "succeeded", (done["error"], service.log_tail())
    return done


@pytest.fixture(scope="module")
def searches(service) -> list[dict]:
    """Two finished searches: the first under a latency budget, the second with another seed."""
    bodies = [{"space": SPACE, "budget": BUDGET, "latency_max_ms": LATENCY_MAX_MS},
              {"space": SPACE, "budget": BUDGET, "seed": 1}]
    ids = []
    for body in bodies:
        response = service.client.post("/searches", json=body)
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])
    return [finished(service, search_id) for search_id in ids]


@pytest.fixture(scope="module")
def front(service, searches) -> list[dict]:
    """The first search's front, as GET /searches/{id}/pareto gives it (fastest first)."""
    points = service.client.get(f"/searches/{searches[0]['id']}/pareto").json()
    assert points, "the search found no front"
    return points


def url(service, path: str) -> str:
    return f"http://127.0.0.1:{service.port}{path}"


def open_page(page, service, path: str, name: str):
    """Go to ``path`` and wait for ``<body data-page=NAME>``; the response is returned."""
    response = page.goto(url(service, path))
    expect(page.locator("body")).to_have_attribute("data-page", name)
    return response


def pathname(page, selector: str) -> str:
    """The path and query of the link ``selector``, whether its href is relative or absolute."""
    return page.eval_on_selector(selector, "a => a.pathname + a.search")


def candidate_ids(customdata: list) -> list[int]:
    # The contract puts the candidate id in each point's customdata; a list (id first) is read too.
    return [int(item[0] if isinstance(item, list) else item) for item in customdata]


def points(trace: dict) -> list[tuple[float, float, int]]:
    return list(zip(trace["x"], trace["y"], candidate_ids(trace["customdata"]), strict=True))


def by_name(traces: list[dict]) -> dict[str, dict]:
    return {trace["name"]: trace for trace in traces}


# Per page: the path, and what shows it has loaded its data (beyond <body data-page=NAME>).
def check_searches(page, service, searches, front):
    first, second = searches
    rows = page.locator("table#searches tr[data-search-id]")
    row = page.locator(f'table#searches tr[data-search-id="{first["id"]}"]')
    expect(row).to_have_attribute("data-status", "succeeded")
    expect(page.locator(f'table#searches tr[data-search-id="{second["id"]}"]')).to_be_attached()
    order = [int(rows.nth(i).get_attribute("data-search-id")) for i in range(rows.count())]
    assert order == sorted(order, reverse=True), f"rows not newest first: {order}"
    expect(row.locator(".status")).to_have_text("succeeded")
    expect(row.locator(".space")).to_have_text(SPACE)
    expect(row.locator(".device")).to_have_text(DEVICE)
    expect(row.locator(".budget")).to_have_text(str(BUDGET))
    progress = row.locator(".progress progress")
    assert (progress.get_attribute("value"), progress.get_attribute("max")) == (str(BUDGET), str(BUDGET))
    assert pathname(page, f'table#searches tr[data-search-id="{first["id"]}"] .id a') == f"/searches/{first['id']}"
    best = row.locator(".best").inner_text().strip()
    assert float(best) == pytest.approx(first["best_score"], rel=1e-2), (best, first["best_score"])
    expect(row.locator(f'input.compare-pick[value="{first["id"]}"]')).to_be_attached()
    expect(page.locator("button#compare-selected")).to_be_attached()
    expect(row.locator(".owner")).to_be_hidden()  # auth off: no owners to show


def check_new_search(page, service, searches, front):
    form = page.locator("form#search-form")
    for name in ("space", "device", "strategy", "proxy", "data"):
        expect(form.locator(f"select[name={name}]")).to_be_attached()
    for name in ("budget", "latency_max_ms", "seed", "params_max", "macs_max"):
        expect(form.locator(f"input[name={name}]")).to_be_attached()
    options = {
        "space": [s["name"] for s in service.client.get("/spaces").json()],
        "device": sorted({device for device, _ in shipped_files()}),
        "proxy": [p["name"] for p in service.client.get("/proxies").json()],
        "data": [d["name"] for d in service.client.get("/datasets").json()],
    }
    for name, values in options.items():
        for value in values:
            expect(form.locator(f'select[name={name}] option[value="{value}"]')).to_be_attached()
    expect(form.locator("select[name=device]")).to_have_value(DEVICE)  # preselected: the API's default
    expect(page.locator("#default-latency")).to_contain_text(f"Default device: {DEVICE}")
    expect(page.locator("#key-panel")).to_be_hidden()  # auth off: nothing of keys shows
    expect(page.locator("#who")).to_be_hidden()


def check_search(page, service, searches, front):
    search = searches[0]
    expect(page.locator("#search-status")).to_contain_text("succeeded")
    progress = page.locator("progress#search-progress")
    assert (progress.get_attribute("value"), progress.get_attribute("max")) == (str(BUDGET), str(BUDGET))
    expect(page.locator("table#front tr[data-candidate-id]")).to_have_count(len(front))
    plot_ready(page, "pareto-plot")
    history = search["history"]
    assert history, "the search has no hypervolume history"
    hv = [trace for trace in plot_traces(page, "hv-plot") if len(trace["x"]) == len(history)]
    assert hv, f"no trace of div#hv-plot has the history's {len(history)} points"
    assert hv[0]["x"] == pytest.approx([h[0] for h in history])
    assert hv[0]["y"] == pytest.approx([h[1] for h in history])


def check_candidate(page, service, searches, front):
    chosen = front[0]
    described = service.client.get(f"/candidates/{chosen['id']}/architecture").json()
    expect(page.locator("#arch")).to_have_text(chosen["arch"])
    expect(page.locator("ol#blocks > li")).to_have_count(len(described["blocks"]))
    assert page.locator("ol#blocks > li").first.inner_text().strip() == described["blocks"][0]
    for proxy in chosen["scores"]:
        expect(page.locator("table#scores")).to_contain_text(proxy)
    expect(page.locator("#metrics")).to_be_attached()
    for form, route in (("onnx", "model.onnx"), ("json", "architecture")):
        assert pathname(page, f"a#export-{form}") == f"/api/v1/candidates/{chosen['id']}/{route}"
    expect(page.locator(f'a[href$="/searches/{searches[0]["id"]}"]').first).to_be_attached()


def check_compare(page, service, searches, front):
    traces = plot_traces(page, "compare-plot")
    assert len(traces) == len(searches), [t["name"] for t in traces]


def check_devices(page, service, searches, front):
    expect(page.locator(f'table#devices tr[data-device="{DEVICE}"]')).to_contain_text(SPACE)
    expect(page.locator("form#device-form")).to_be_attached()
    expect(page.locator("form#profile-form select[name=device]")).to_be_attached()
    expect(page.locator("form#profile-form input[type=file][name=profile]")).to_be_attached()


PAGES = {
    "searches": (lambda searches, front: "/", check_searches),
    "new-search": (lambda searches, front: "/searches/new", check_new_search),
    "search": (lambda searches, front: f"/searches/{searches[0]['id']}", check_search),
    "candidate": (lambda searches, front: f"/candidates/{front[0]['id']}", check_candidate),
    "compare": (lambda searches, front: f"/compare?ids={searches[0]['id']},{searches[1]['id']}", check_compare),
    "devices": (lambda searches, front: "/devices", check_devices),
}


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_loads_cleanly(page, service, searches, front, name):
    path, check = PAGES[name]
    response = open_page(page, service, path(searches, front), name)
    assert response.status == 200
    for link, target in NAV.items():
        assert pathname(page, f"a#{link}") == target, link
    check(page, service, searches, front)
    screenshot(page, name)


def test_unknown_ids_show_the_apis_not_found_message(page, service, console_errors):
    # The page is a shell (200) that cannot know the id; its script shows the API's 404. Chromium logs
    # each 4xx response as "Failed to load resource": only these are admitted.
    console_errors.allow_status(404, r"/api/v1/(searches/424242/plot\?|candidates/424242$)")
    console_errors.allow_status(404, r"/searches/abc$")
    for path, name, message in (("/searches/424242", "search", service.client.get("/searches/424242/plot")),
                                ("/candidates/424242", "candidate", service.client.get("/candidates/424242"))):
        assert message.status_code == 404
        assert open_page(page, service, path, name).status == 200
        expect(page.locator("#not-found")).to_have_text(message.json()["detail"])
        expect(page.locator("h1")).to_have_text("Not found")
    # A path that cannot name an id is the server's own 404 page.
    response = page.goto(url(service, "/searches/abc"))
    assert response.status == 404
    expect(page.locator("body")).to_have_attribute("data-page", "not-found")


def test_the_pareto_plot_holds_exactly_the_front(page, service, searches, front):
    search = searches[0]
    plot = service.client.get(f"/searches/{search['id']}/plot").json()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(urlparse(request.url).path))
    open_page(page, service, f"/searches/{search['id']}", "search")
    traces = by_name(plot_traces(page, "pareto-plot"))
    # A search of 100,000 candidates renders from the plot endpoint alone, never from a full listing.
    api = sorted({path for path in requested if path.startswith("/api/")})
    assert f"/api/v1/searches/{search['id']}/plot" in api, api
    assert not [path for path in api if path.endswith(("/candidates", "/pareto"))], api
    assert {"front", "candidates"} <= set(traces), f"traces named {sorted(traces)}"
    shown = points(traces["front"])
    assert sorted(p[2] for p in shown) == sorted(c["id"] for c in front)
    expected = {c["id"]: (c["latency_ms"], c["score"]) for c in front}
    for x, y, cid in shown:
        assert (x, y) == pytest.approx(expected[cid]), f"front point of candidate {cid}"
    assert [p[0] for p in shown] == sorted(p[0] for p in shown), "the front's line is not sorted by latency"
    assert "lines" in (traces["front"]["mode"] or ""), "the front's points are not joined by a line"
    hover = json.dumps([traces["front"][k] for k in ("text", "hovertext", "customdata", "hovertemplate")])
    missing = [c["arch"] for c in front if c["arch"] not in hover]
    assert not missing, f"the front's hover does not show the arch strings {missing}"

    dominated = candidate_ids(traces["candidates"]["customdata"])
    assert not set(dominated) & set(expected), "front candidates are in the 'candidates' trace"
    assert sorted(dominated) == sorted(p["id"] for p in plot["sample"])
    shapes = plot_layout_shapes(page, "pareto-plot")
    assert any(s.get("x0") == pytest.approx(LATENCY_MAX_MS) and s.get("x1") == pytest.approx(LATENCY_MAX_MS)
               for s in shapes), f"no vertical line at the latency budget among the shapes {shapes}"

    rows = page.locator("table#front tr[data-candidate-id]")
    expect(rows).to_have_count(len(front))
    assert sorted(int(rows.nth(i).get_attribute("data-candidate-id")) for i in range(len(front))) \
        == sorted(expected)

    # A row's link opens the candidate's page.
    chosen = front[-1]
    page.locator(f'table#front tr[data-candidate-id="{chosen["id"]}"] a[href$="/candidates/{chosen["id"]}"]').click()
    page.wait_for_url(re.compile(rf"/candidates/{chosen['id']}$"))
    expect(page.locator("body")).to_have_attribute("data-page", "candidate")
    expect(page.locator("#arch")).to_have_text(chosen["arch"])

    # So does a click on the plot's point.
    chosen = front[0]
    open_page(page, service, f"/searches/{search['id']}", "search")
    plot_ready(page, "pareto-plot")
    x, y = page.evaluate("""([latency, score]) => {
      const plot = document.getElementById('pareto-plot'), layout = plot._fullLayout;
      const box = plot.getBoundingClientRect();
      return [box.left + layout._size.l + layout.xaxis.l2p(latency),
              box.top + layout._size.t + layout.yaxis.l2p(score)];
    }""", [chosen["latency_ms"], chosen["score"]])
    page.mouse.move(x, y)
    page.mouse.click(x, y)
    page.wait_for_url(re.compile(r"/candidates/\d+$"))
    assert page.url.endswith(f"/candidates/{chosen['id']}"), (page.url, chosen["id"])


def submit_form(page, form: str) -> None:
    page.locator(f"form#{form} [type=submit]").click()


def test_the_form_submits_a_search_that_the_list_then_shows(page, service):
    listing = page
    open_page(listing, service, "/", "searches")
    expect(listing.locator("table#searches")).to_be_attached()
    form = page.context.new_page()
    open_page(form, service, "/searches/new", "new-search")
    expect(form.locator(f'select[name=space] option[value="{SPACE}"]')).to_be_attached()
    form.select_option("select[name=space]", SPACE)
    form.fill("input[name=budget]", str(BUDGET))
    with form.expect_request(lambda r: r.method == "POST" and r.url.endswith("/api/v1/searches")) as posted:
        submit_form(form, "search-form")
    body = posted.value.post_data_json
    assert (body["space"], body["budget"]) == (SPACE, BUDGET), body
    assert not [k for k, v in body.items() if v in ("", None)], f"empty inputs sent in the body: {body}"
    form.wait_for_url(re.compile(r"/searches/\d+$"))
    search_id = int(form.url.rsplit("/", 1)[1])
    request = service.search(search_id)["request"]
    assert (request["space"], request["budget"]) == (SPACE, BUDGET)
    assert request["latency_max_ms"] is None and request["params_max"] is None and request["macs_max"] is None

    # The list, open all along, adds the row and follows it to the end without a reload.
    row = listing.locator(f'table#searches tr[data-search-id="{search_id}"]')
    expect(row).to_be_attached(timeout=10_000)
    assert listing.locator("table#searches tr[data-search-id]").first.get_attribute("data-search-id") \
        == str(search_id), "the new search is not the first row"
    expect(row).to_have_attribute("data-status", "succeeded", timeout=180_000)
    expect(row.locator(".status")).to_have_text("succeeded", timeout=5_000)
    expect(row.locator(".progress progress")).to_have_attribute("value", str(BUDGET), timeout=5_000)
    # The search page, opened while the search was queued or running, polled to the end too.
    expect(form.locator("#search-status")).to_contain_text("succeeded", timeout=30_000)
    front_size = service.search(search_id)["front_size"]
    expect(form.locator("table#front tr[data-candidate-id]")).to_have_count(front_size)


def test_the_form_shows_the_apis_validation_messages(page, service, console_errors):
    console_errors.allow_status(422, r"/api/v1/searches$")
    before = len(service.client.get("/searches", params={"limit": 1000}).json())
    open_page(page, service, "/searches/new", "new-search")
    expect(page.locator(f'select[name=space] option[value="{SPACE}"]')).to_be_attached()
    page.select_option("select[name=space]", SPACE)
    page.fill("input[name=budget]", "0")
    page.fill("input[name=latency_max_ms]", "-1")
    submit_form(page, "search-form")

    refused = service.client.post("/searches", json={"space": SPACE, "budget": 0, "latency_max_ms": -1})
    assert refused.status_code == 422
    expected = {item["loc"][-1]: item["msg"] for item in refused.json()["detail"]}
    assert set(expected) == {"budget", "latency_max_ms"}
    blocked = page.evaluate("() => [...document.querySelectorAll('#search-form :invalid')].map(e => e.name)")
    assert not blocked, f"the browser's own validation stopped the form before the API saw it: {blocked}"
    for field, message in expected.items():
        expect(page.locator(f'.field-error[data-field="{field}"]')).to_have_text(message)
    listed = page.locator("ul#form-errors li")
    expect(listed).to_have_count(len(expected))
    for message in expected.values():
        expect(page.locator("ul#form-errors")).to_contain_text(message)
    assert page.url.endswith("/searches/new")
    assert len(service.client.get("/searches", params={"limit": 1000}).json()) == before


def profile_file(tmp_path, device: str, broken: bool):
    document = copy.deepcopy(synthetic_document())
    document["device"]["name"] = device
    if broken:
        keys = sorted(document["entries"])
        document["entries"][keys[0]]["p50"] = float("nan")  # json.dumps writes NaN
        del document["entries"][keys[1]]["count"]
    path = tmp_path / f"{device}-{'broken' if broken else 'valid'}.json"
    path.write_text(json.dumps(document))
    return path


XSS = 'the browser test\'s CPU <img src=x onerror="window.__xss = 1"><script>window.__xss = 2</script>'


def test_devices_register_and_upload(page, service, tmp_path, console_errors):
    device = "browser-test-cpu"
    console_errors.allow_status(422, rf"/api/v1/devices/{device}/profiles$")
    open_page(page, service, "/devices", "devices")
    page.fill("form#device-form [name=name]", device)
    page.fill("form#device-form [name=hardware]", XSS)  # stored, then shown as text: never markup
    submit_form(page, "device-form")
    expect(page.locator(f'table#devices tr[data-device="{device}"] td.hardware')).to_have_text(XSS)
    assert page.locator("table#devices img").count() == 0 and page.evaluate("window.__xss") is None
    assert service.client.get(f"/devices/{device}").status_code == 200
    expect(page.locator(f'form#profile-form select[name=device] option[value="{device}"]')).to_be_attached()

    broken = profile_file(tmp_path, device, broken=True)
    page.select_option("form#profile-form select[name=device]", device)
    page.set_input_files("form#profile-form input[type=file][name=profile]", str(broken))
    submit_form(page, "profile-form")
    refused = service.client.post(f"/devices/{device}/profiles", content=broken.read_bytes(),
                                  headers={"content-type": "application/json"})
    assert refused.status_code == 422
    messages = [item["msg"] for item in refused.json()["detail"]]
    assert len(messages) == 2, messages
    errors = page.locator("ul#upload-errors li")
    expect(errors).to_have_count(len(messages))
    assert sorted(errors.all_inner_texts()) == sorted(messages)
    assert service.client.get(f"/devices/{device}/profiles").json() == []

    valid = profile_file(tmp_path, device, broken=False)
    page.set_input_files("form#profile-form input[type=file][name=profile]", str(valid))
    submit_form(page, "profile-form")
    expect(page.locator("#upload-result")).to_be_visible()
    expect(page.locator("#upload-result")).not_to_be_empty()
    expect(page.locator(f'table#devices tr[data-device="{device}"]')).to_contain_text(SPACE)
    stored = service.client.get(f"/devices/{device}/profiles").json()
    assert [(p["search_space"], p["version"]) for p in stored] == [(SPACE, 1)]


def test_devices_fit_from_a_csv_shows_the_rows_refused_then_the_fitted_profile(page, service, tmp_path,
                                                                              console_errors):
    from nas.latency import DEFAULT_DEVICE
    from tests.test_cli_fit import csv_text, timed_networks

    device = "browser-fit-npu"
    console_errors.allow_status(422, rf"/api/v1/devices/{device}/measurements\?")
    rows = timed_networks(8)
    lines = csv_text(rows).splitlines()
    lines[3] = f"{rows[2][0]},NaN"
    broken, valid = tmp_path / "broken.csv", tmp_path / "times.csv"
    broken.write_text("\n".join(lines) + "\n")
    valid.write_text(csv_text(rows))
    open_page(page, service, "/devices", "devices")
    expect(page.locator(f'form#fit-form select[name=space] option[value="{SPACE}"]')).to_be_attached()
    page.fill("form#fit-form [name=name]", device)
    page.select_option("form#fit-form select[name=space]", SPACE)
    page.set_input_files("form#fit-form input[type=file][name=measurements]", str(broken))
    submit_form(page, "fit-form")
    errors = page.locator("ul#fit-errors li")
    expect(errors).to_have_count(1)
    expect(errors).to_contain_text("line 4")
    assert service.client.get(f"/devices/{device}").status_code == 404

    page.set_input_files("form#fit-form input[type=file][name=measurements]", str(valid))
    submit_form(page, "fit-form")
    expect(page.locator("#fit-result")).to_contain_text("fitted from 8 measurements")
    expect(page.locator("ul#fit-errors")).to_be_hidden()
    row = page.locator(f'table#devices tr[data-device="{device}"]')
    expect(row.locator(".origin")).to_contain_text("fitted from 8 measurements")
    shipped = page.locator(f'table#devices tr[data-device="{DEFAULT_DEVICE}"] .origin').first
    expect(shipped).to_have_text("measured")


def test_compare_overlays_one_trace_per_search(page, service, searches):
    fronts = {s["id"]: service.client.get(f"/searches/{s['id']}/pareto").json() for s in searches}
    open_page(page, service, "/", "searches")
    for search_id in fronts:
        page.check(f'input.compare-pick[value="{search_id}"]')
    page.click("button#compare-selected")
    page.wait_for_url(re.compile(r"/compare\?"))
    picked = parse_qs(urlparse(page.url).query)["ids"][0].split(",")
    assert sorted(map(int, picked)) == sorted(fronts)
    expect(page.locator("body")).to_have_attribute("data-page", "compare")

    traces = by_name(plot_traces(page, "compare-plot"))
    names = {f"#{search_id} {SPACE} on {DEVICE}": search_id for search_id in fronts}
    assert set(traces) == set(names), f"traces named {sorted(traces)}"
    for name, search_id in names.items():
        trace = traces[name]
        expected = sorted((c["latency_ms"], c["score"]) for c in fronts[search_id])
        shown = sorted(zip(trace["x"], trace["y"]))
        assert [v for point in shown for v in point] == pytest.approx([v for point in expected for v in point]), name

    # The picker: down to the first search alone.
    first = searches[0]["id"]
    page.fill("input#compare-ids", str(first))
    page.click("input#compare-ids + button")
    page.wait_for_function("() => document.getElementById('compare-plot').data.length === 1")
    assert [t["name"] for t in plot_traces(page, "compare-plot")] == [f"#{first} {SPACE} on {DEVICE}"]

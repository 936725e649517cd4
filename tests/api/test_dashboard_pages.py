"""The dashboard's pages as the server sends them (issues 7 and 26): every page answers with its name, the
nav and the elements the browser tests and page scripts rely on, and holds no stored data (a page load
cannot send the API key, so its script reads everything from /api/v1); every page can ask for a key and
runs no inline script (the CSP allows only 'self'); Plotly.js is the vendored bundle its README
describes; a path that cannot name an id is a 404 page; the files ship with the package.
What the pages do in a browser is tested in tests/e2e."""

from __future__ import annotations

import fnmatch
import hashlib
import re
import tomllib
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from nas.settings import Settings
from nas.storage.here import default_latency

ROOT = Path(__file__).resolve().parents[2]
NAV = {"nav-searches": "/", "nav-new": "/searches/new", "nav-compare": "/compare", "nav-devices": "/devices"}
TRICKY_ARCH = '<img src=x onerror="alert(1)">&amp;'


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text inside elements that have an id."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: dict[str, str] = {}
        self._open: list[str | None] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        found = {name: value or "" for name, value in attrs}
        self.tags.append((tag, found))
        if tag not in {"input", "link", "meta", "br", "img"}:
            self._open.append(found.get("id"))
            if found.get("id"):
                self.text[found["id"]] = ""

    def handle_endtag(self, tag):
        if self._open and tag not in {"input", "link", "meta", "br", "img"}:
            self._open.pop()

    def handle_data(self, data):
        for element_id in filter(None, self._open):
            self.text[element_id] += data

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k.rstrip("_")) == v for k, v in attrs.items())]

    def one(self, tag: str, **attrs: str) -> dict[str, str]:
        found = self.find(tag, **attrs)
        assert len(found) == 1, f"{tag} {attrs}: {len(found)} found"
        return found[0]


@pytest.fixture
def client(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'nas.db'}", data_dir=str(tmp_path))
    with TestClient(create_app(settings, run_searches=False)) as test_client:
        yield test_client


@pytest.fixture
def search(client):
    """A finished search of 40 candidates on the shipped device, 5 of them on its front."""
    store = client.app.state.store
    profile = store.profiles.get("x86-64-2core", "nasbench201")
    record = store.searches.create({"space": "nasbench201", "budget": 40, "latency_max_ms": 3.0},
                                 space="nasbench201", device="x86-64-2core", profile_id=profile.id,
                                 strategy="random", budget=40, seed=0)
    rows = [{"arch": TRICKY_ARCH if i == 0 else f"arch-{i}", "arch_hash": hashlib.sha256(str(i).encode()).hexdigest(),
             "scores": {"synflow": float(i), "naswot": 2.0 * i}, "score": float(i), "latency_ms": 1.0 + i / 10,
             "params": 1000 * i, "macs": 10_000 * i, "feasible": i < 20} for i in range(40)]
    store.candidates.add(record.id, rows)
    store.candidates.set_pareto(record.id, [row["arch_hash"] for row in rows[:5]])
    store.searches.update(record.id, status="running")
    store.searches.update(record.id, status="succeeded", evaluated=40, hypervolume=1.5, history=[[20, 1.0], [40, 1.5]])
    candidates = store.candidates.list(record.id, sort="created", descending=False, limit=100)
    return {"id": record.id, "candidates": {c.arch: c.id for c in candidates}}


def page(client, path: str, name: str) -> Elements:
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    html = Elements(response.text)
    assert html.one("body")["data-page"] == name
    for nav_id, href in NAV.items():
        assert html.one("a", id=nav_id)["href"] == href
    return html


def paths(search) -> dict[str, str]:
    candidate = search["candidates"]["arch-3"]
    return {"searches": "/", "new-search": "/searches/new", "search": f"/searches/{search['id']}",
            "candidate": f"/candidates/{candidate}", "compare": f"/compare?ids={search['id']}", "devices": "/devices"}


@pytest.mark.parametrize("name", ["searches", "new-search", "search", "candidate", "compare", "devices"])
def test_every_page_answers_with_its_name_the_nav_and_assets_that_exist(client, search, name):
    html = page(client, paths(search)[name], name)
    assets = [a["src"] for t, a in html.tags if t == "script"] + [a["href"] for t, a in html.tags
                                                                  if t == "link" and a.get("rel") == "stylesheet"]
    assert "/static/common.js" in assets
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        kind = "text/css" if asset.endswith(".css") else "javascript"
        assert kind in response.headers["content-type"], asset


def test_the_searches_page_holds_the_table_and_the_compare_button(client):
    html = page(client, "/", "searches")
    html.one("table", id="searches")
    html.one("button", id="compare-selected")


def test_the_new_search_form_has_a_field_per_request_field_with_an_error_slot(client):
    html = page(client, "/searches/new", "new-search")
    html.one("form", id="search-form")
    for field in ("space", "device", "strategy", "proxy", "data"):
        html.one("select", name=field)
    # the default device and how its latency table was made come from /health, by script
    assert "data-default" not in html.one("select", name="device")
    assert "hidden" in html.one("p", id="default-latency") and not html.text["default-latency"].strip()
    for field in ("budget", "latency_max_ms", "seed", "params_max", "macs_max"):
        html.one("input", name=field)
    for field in ("space", "budget", "device", "strategy", "latency_max_ms", "proxy", "seed", "data",
                  "params_max", "macs_max"):
        html.one("span", class_="field-error", **{"data-field": field})
    html.one("ul", id="form-errors")
    strategies = [a["value"] for a in html.find("option")]
    assert strategies == ["random", "evolution", "nsga2", "tpe"]
    assert html.one("option", value="tpe").get("selected") == ""  # the API's default
    assert html.one("button", id="submit-search")["data-needs"] == "member"  # hidden from a viewer's key


def test_the_search_page_is_a_shell_of_its_header_and_the_plot_containers(client, search):
    html = page(client, f"/searches/{search['id']}", "search")
    assert html.one("main")["data-search-id"] == str(search["id"])
    for element in ("search-status", "search-space", "search-device", "search-proxy", "search-owner"):
        assert html.text[element].strip() == "", element  # filled by search.js
    for element in ("pareto-plot", "hv-plot"):
        html.one("div", id=element)
    html.one("table", id="front")
    assert "hidden" in html.one("button", id="cancel-search")


def test_the_search_page_reads_its_data_only_from_the_plot_endpoint():
    script = (ROOT / "api" / "dashboard" / "static" / "search.js").read_text()
    reads = set(re.findall(r"/api/v1/searches/\$\{id\}/?(\w*)", script))
    assert reads == {"plot", "cancel"}


def test_the_candidate_page_is_a_shell_with_the_export_links(client, search):
    candidate = search["candidates"][TRICKY_ARCH]
    html = page(client, f"/candidates/{candidate}", "candidate")
    assert html.one("main")["data-candidate-id"] == str(candidate)
    assert html.text["arch"] == "" and html.text["candidate-origin"].strip() == ""
    html.one("ol", id="blocks")
    html.one("dl", id="metrics")
    assert not [a for a in html.find("tr") if "data-proxy" in a]
    for fmt, route in (("onnx", "model.onnx"), ("json", "architecture")):
        assert html.one("a", id=f"export-{fmt}")["href"] == f"/api/v1/candidates/{candidate}/{route}"


def test_the_compare_and_devices_pages_hold_their_forms(client):
    compare = page(client, "/compare?ids=1,2", "compare")
    compare.one("div", id="compare-plot")
    compare.one("input", id="compare-ids")
    devices = page(client, "/devices", "devices")
    devices.one("table", id="devices")
    devices.one("form", id="device-form")
    devices.one("form", id="profile-form")
    devices.one("select", name="device")
    devices.one("input", type="file", name="profile")
    devices.one("ul", id="upload-errors")
    devices.one("p", id="upload-result")
    assert len(devices.find("section", **{"data-needs": "member"})) == 3  # the forms, hidden from a viewer's key


@pytest.mark.parametrize("path", ["/searches/abc", "/searches/0", "/searches/99999999999999999999",
                                  "/candidates/-1", "/candidates/1.5"])
def test_paths_that_name_no_id_are_404_pages(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    html = Elements(response.text)
    assert html.one("body")["data-page"] == "not-found"
    assert "There is no" in html.text["not-found"]


@pytest.mark.parametrize(("path", "name"), [("/searches/999", "search"), ("/candidates/999", "candidate")])
def test_an_unknown_id_is_a_shell_too(client, path, name):
    # Whether the id is there is the API's to say (a 404 the script shows), to a caller with a key.
    html = page(client, path, name)
    assert html.one("main")[f"data-{name}-id"] == "999"


@pytest.mark.parametrize("name", ["searches", "new-search", "search", "candidate", "compare", "devices"])
def test_no_page_holds_stored_data(client, search, name):
    text = client.get(paths(search)[name]).text
    store = client.app.state.store
    candidate = store.candidates.get(search["candidates"]["arch-3"])
    stored = ["arch-3", "arch-39", "&lt;img src=x", TRICKY_ARCH, candidate.arch_hash, "succeeded", "x86-64-2core",
              default_latency(store)]
    assert [value for value in stored if value in text] == []


@pytest.mark.parametrize("name", ["searches", "new-search", "search", "candidate", "compare", "devices"])
def test_every_page_can_ask_for_a_key_and_runs_no_inline_script(client, search, name):
    html = page(client, paths(search)[name], name)
    assert "hidden" in html.one("section", id="key-panel") and "hidden" in html.one("div", id="who")
    html.one("form", id="key-form")
    assert html.one("input", id="key-input")["type"] == "password"
    html.one("button", id="forget-key")
    assert "nas keys create NAME --role viewer" in client.get(paths(search)[name]).text
    assert "hidden" in html.one("p", id="read-only")
    # The CSP (script-src 'self') would block an inline script or handler: there must be none.
    assert all(a.get("src", "").startswith("/static/") for t, a in html.tags if t == "script")
    assert [(t, k) for t, a in html.tags for k in a if k.startswith("on")] == []


def test_the_key_lives_in_session_storage_and_goes_as_a_header():
    scripts = {path.name: re.sub(r"//.*", "", path.read_text())  # the code, not its comments
               for path in (ROOT / "api" / "dashboard" / "static").glob("*.js")}
    for name, script in scripts.items():
        assert "localStorage" not in script and "cookie" not in script.lower(), name
    common = scripts["common.js"]
    assert "sessionStorage.setItem" in common and "authorization: `Bearer ${key}`" in common


def test_plotly_is_the_vendored_bundle_its_readme_describes(client):
    response = client.get("/static/plotly.min.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "max-age" in response.headers["cache-control"]
    vendor = ROOT / "api" / "dashboard" / "static" / "vendor"
    assert response.content == (vendor / "plotly-basic.min.js").read_bytes()
    version = re.match(rb"/\*\*\s*\* plotly\.js \(basic - minified\) v(\d+\.\d+\.\d+)", response.content)
    assert version, "not plotly.js's basic bundle"
    readme = (vendor / "README.md").read_text()
    assert f"plotly.js-basic-dist-min@{version[1].decode()}" in readme
    assert hashlib.sha256(response.content).hexdigest() in readme
    assert (vendor / "LICENSE").read_text().startswith("MIT License")


def test_the_templates_and_static_files_ship_with_the_package():
    dashboard = resources.files("api.dashboard")
    for folder, names in {"templates": ["base.html", "not_found.html", "searches.html", "new_search.html",
                                        "search.html", "candidate.html", "compare.html", "devices.html"],
                          "static": ["dashboard.css", "common.js", "searches.js", "new_search.js", "search.js",
                                     "candidate.js", "compare.js", "devices.js"]}.items():
        for name in names:
            assert dashboard.joinpath(folder, name).is_file(), f"{folder}/{name}"
    # A wheel holds what [tool.setuptools.package-data] names: every file of the dashboard must match.
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["api"]
    for path in (ROOT / "api" / "dashboard").rglob("*"):
        if path.is_file() and path.suffix != ".pyc" and path.suffix != ".py":
            relative = path.relative_to(ROOT / "api").as_posix()
            assert any(fnmatch.fnmatch(relative, glob) for glob in globs), relative

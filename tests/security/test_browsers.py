"""Browsers kept out (issue 26), each probe of the issue through the real app: a foreign Host (DNS
rebinding) is not served, a write another site's page sends is refused and stores nothing, a JSON
route reads only JSON (so no form's ``text/plain`` reaches it), and every response carries the security
headers. The service runs as ``make run`` starts it: loopback, auth off, NAS_ALLOWED_HOSTS unset."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.browser import CSP, SECURITY_HEADERS
from api.main import create_app
from nas.latency import DEFAULT_DEVICE, read_shipped
from nas.settings import Settings

ORIGIN = "http://127.0.0.1:8000"
SEARCH = {"space": "nasbench201", "budget": 4}


@pytest.fixture
def client(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'nas.db'}", data_dir=str(tmp_path), host="127.0.0.1",
                        allowed_hosts=None, auth=None)
    assert settings.auth_mode() == "off"
    with TestClient(create_app(settings, run_searches=False), base_url=ORIGIN) as test_client:
        yield test_client


def _npz() -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, images=np.zeros((4, 8, 8, 3), np.uint8), labels=np.arange(4) % 2)
    return buffer.getvalue()


def _datasets(client) -> list[str]:
    return [d["name"] for d in client.get("/api/v1/datasets").json() if not d["built_in"]]


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:8000", "127.0.0.1.nip.io", "10.0.0.7:8000"])
def test_a_foreign_host_is_not_served(client, host):
    for path in ("/", "/api/v1/health", "/api/v1/searches", "/docs"):
        response = client.get(path, headers={"host": host})
        assert response.status_code == 400, (path, response.text)
        assert "NAS_ALLOWED_HOSTS" in response.json()["detail"] and host in response.json()["detail"]
    assert client.post("/api/v1/searches", json=SEARCH, headers={"host": host}).status_code == 400
    assert client.get("/api/v1/searches").json() == []


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "LOCALHOST", "[::1]:8000", "127.0.0.1"])
def test_the_loopback_names_are_served(client, host):
    assert client.get("/api/v1/health", headers={"host": host}).status_code == 200


def test_allowed_hosts_names_what_is_served(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'nas.db'}", data_dir=str(tmp_path),
                        allowed_hosts="nas.example.com, localhost")
    with TestClient(create_app(settings, run_searches=False)) as client:
        assert client.get("/api/v1/health", headers={"host": "nas.example.com"}).status_code == 200
        assert client.get("/api/v1/health", headers={"host": "localhost:8000"}).status_code == 200
        assert client.get("/api/v1/health", headers={"host": "127.0.0.1:8000"}).status_code == 400


CROSS_SITE = [{"origin": "http://evil"}, {"origin": "null"}, {"origin": "http://127.0.0.1:9999"},
              {"sec-fetch-site": "cross-site"}, {"sec-fetch-site": "same-site"},
              {"sec-fetch-site": "cross-site", "origin": ORIGIN}]


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_a_write_from_another_site_is_refused_and_changes_nothing(client, headers):
    search = client.post("/api/v1/searches", json=SEARCH).json()
    cancel = client.post(f"/api/v1/searches/{search['id']}/cancel", headers=headers)
    assert cancel.status_code == 403, cancel.text
    assert next(iter(headers)).title() in cancel.json()["detail"] or "Origin" in cancel.json()["detail"]
    assert client.get(f"/api/v1/searches/{search['id']}").json()["status"] == "queued"
    upload = client.post("/api/v1/datasets", files={"file": ("d.npz", _npz())}, data={"name": "planted"},
                         headers=headers)
    assert upload.status_code == 403 and _datasets(client) == []
    device = client.post("/api/v1/devices", json={"name": "planted-board"}, headers=headers)
    assert device.status_code == 403
    assert "planted-board" not in [d["name"] for d in client.get("/api/v1/devices").json()]
    submit = client.post("/api/v1/searches", json=SEARCH, headers=headers)
    assert submit.status_code == 403 and len(client.get("/api/v1/searches").json()) == 1


def test_the_services_own_pages_and_clients_without_a_page_may_write(client):
    for headers in ({"origin": ORIGIN, "sec-fetch-site": "same-origin"}, {"sec-fetch-site": "none"}, {}):
        search = client.post("/api/v1/searches", json=SEARCH, headers=headers)
        assert search.status_code == 202, search.text
        cancel = client.post(f"/api/v1/searches/{search.json()['id']}/cancel", headers=headers)
        assert cancel.status_code == 200 and cancel.json()["status"] == "cancelled"
    upload = client.post("/api/v1/datasets", files={"file": ("d.npz", _npz())}, data={"name": "mine"},
                         headers={"origin": ORIGIN})
    assert upload.status_code == 201 and _datasets(client) == ["mine"]
    # reads are not writes: another site's page cannot read the answer anyway (no CORS headers)
    read = client.get("/api/v1/searches", headers={"origin": "http://evil", "sec-fetch-site": "cross-site"})
    assert read.status_code == 200 and "access-control-allow-origin" not in read.headers


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                                          None])
def test_json_routes_read_only_json(client, content_type):
    headers = {"content-type": content_type} if content_type else {}
    submit = client.post("/api/v1/searches", content=json.dumps(SEARCH).encode(), headers=headers)
    assert submit.status_code == 415 and "application/json" in submit.json()["detail"], submit.text
    assert client.get("/api/v1/searches").json() == []
    board = client.post("/api/v1/devices", json={"name": "lab-board"})
    assert board.status_code == 201
    document = json.loads(read_shipped(DEFAULT_DEVICE, "nasbench201").to_json())
    document["device"]["name"] = "lab-board"
    profile = client.post("/api/v1/devices/lab-board/profiles", content=json.dumps(document).encode(), headers=headers)
    assert profile.status_code == 415, profile.text
    assert client.get("/api/v1/devices/lab-board/profiles").json() == []
    # the same bodies as JSON are taken
    assert client.post("/api/v1/searches", content=json.dumps(SEARCH).encode(),
                       headers={"content-type": "application/json; charset=utf-8"}).status_code == 202
    assert client.post("/api/v1/devices/lab-board/profiles", json=document).status_code == 201


def test_every_response_carries_the_security_headers(client):
    responses = {
        "page": client.get("/"), "health": client.get("/api/v1/health"), "static": client.get("/static/common.js"),
        "vendored": client.get("/static/vendor/swagger-ui/swagger-ui.css"), "docs": client.get("/docs"),
        "redoc": client.get("/redoc"), "openapi": client.get("/openapi.json"),
        "404": client.get("/api/v1/searches/999999"), "unknown path": client.get("/nothing/here"),
        "422": client.post("/api/v1/searches", json={"space": "nope"}),
        "400": client.get("/", headers={"host": "attacker.example"}),
        "403": client.post("/api/v1/searches", json=SEARCH, headers={"origin": "http://evil"}),
    }
    for name, response in responses.items():
        for header, value in SECURITY_HEADERS.items():
            assert response.headers.get(header) == value, (name, response.status_code, header)
    assert [responses[name].status_code for name in ("page", "static", "vendored", "docs", "redoc")] == [200] * 5
    assert "frame-ancestors 'none'" in CSP and "script-src 'self';" in CSP  # no inline scripts, no other site


def test_the_docs_pages_name_no_other_site(client):
    for path in ("/docs", "/redoc"):
        page = client.get(path).text
        assert "http://" not in page and "https://" not in page and "//" not in page.replace("<!doctype", ""), path
        assert "<script>" not in page  # start-up code is a static file, allowed by script-src 'self'

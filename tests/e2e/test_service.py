"""End to end: a real ``nas serve`` (uvicorn on a loopback port, its own local Ray) driven over HTTP as
a user would: on PostgreSQL, submit, watch progress, read the front, export a network and run it with
ONNX Runtime, cancel, bad inputs (one service for the three); on SQLite, a crash of the service
mid-search and its restart."""

from __future__ import annotations

import time

import httpx
import numpy as np
import onnxruntime
import pytest

from tests.budgets import latency_quantile
from tests.e2e.service import wait_until


@pytest.fixture
def service(services, database_url):
    return services({"DATABASE_URL": database_url, "NAS_MAX_CONCURRENT_SEARCHES": "2"})


@pytest.fixture(scope="module")
def shared(module_services, postgres):
    """One service on PostgreSQL, production's database, for the scenarios that leave it running: the
    user session, a cancel and bad inputs, in that order. SQLite's (what `make run` uses) is the README's
    curl session (tests/e2e/test_readme_curl.py) and the restart below; storage runs on both in tests/storage."""
    return module_services({"DATABASE_URL": postgres.url(postgres.new_database()),
                            "NAS_MAX_CONCURRENT_SEARCHES": "2"})


def test_a_user_session(shared):
    service = shared
    health = service.client.get("/health").json()
    assert health["status"] == "ok" and health["ray"]["address"] == "local" and health["ray"]["cpus"] >= 1

    budget_ms = latency_quantile("mobilenetv3", 0.2)  # about a fifth of the candidates fit
    submitted = service.client.post("/searches", json={"space": "mobilenetv3", "budget": 48,
                                                      "latency_max_ms": budget_ms})
    assert submitted.status_code == 202, submitted.text
    search_id = submitted.json()["id"]
    done, seen = service.wait_for(search_id)
    assert done["status"] == "succeeded", done["error"]
    assert done["evaluated"] == 48 and done["progress"] == 1.0
    moving = sorted({body["evaluated"] for body in seen if body["status"] == "running"})
    assert len(moving) >= 2 and moving[0] < 48, f"progress seen while running: {moving}"
    assert [point[0] for point in done["history"]] == sorted(point[0] for point in done["history"])

    front = service.client.get(f"/searches/{search_id}/pareto").json()
    assert len(front) == done["front_size"] > 0
    assert all(c["latency_ms"] <= budget_ms and c["is_pareto"] for c in front)
    page = service.client.get(f"/searches/{search_id}/candidates", params={"limit": 20, "sort": "score"}).json()
    assert page["total"] == 48 and len(page["items"]) == 20

    # The best network of the front, as ONNX, runs in ONNX Runtime.
    best = max(front, key=lambda c: c["score"])
    exported = httpx.get(f"http://127.0.0.1:{service.port}{best['links']['onnx']}", timeout=60)
    assert exported.status_code == 200, exported.text
    session = onnxruntime.InferenceSession(exported.content, providers=["CPUExecutionProvider"])
    described = service.client.get(f"/candidates/{best['id']}/model", params={"format": "json"}).json()
    resolution = described["resolution"]
    (output,) = session.run(None, {session.get_inputs()[0].name:
                                   np.random.default_rng(0).standard_normal((1, 3, resolution, resolution),
                                                                            dtype=np.float32)})
    assert output.shape == (1, described["num_classes"]) and np.isfinite(output).all()
    assert described["arch"] == best["arch"] and described["params"] == best["params"]


def test_cancel_keeps_what_was_found(shared):
    service = shared
    search_id = service.client.post("/searches", json={"space": "nasbench201", "budget": 5000}).json()["id"]
    wait_until(lambda: service.search(search_id)["evaluated"] >= 16, 120, "16 candidates")
    cancelled = service.client.post(f"/searches/{search_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    at_cancel = cancelled.json()["evaluated"]
    # It stops within seconds: at most the batch under way (8 candidates) is added, then nothing.
    time.sleep(5)
    settled = service.search(search_id)["evaluated"]
    time.sleep(3)
    kept = service.search(search_id)
    assert kept["status"] == "cancelled" and kept["evaluated"] == settled <= at_cancel + 8
    assert service.client.get(f"/searches/{search_id}/candidates").json()["total"] == kept["evaluated"]


JSON = {"content-type": "application/json"}


def test_bad_inputs_are_4xx_naming_the_field(shared):
    client = shared.client
    before = client.get("/searches").json()
    checks = [
        (client.post("/searches", json={"space": "mobilenetv3", "budget": 0}), 422, "budget"),
        (client.post("/searches", json={"space": "vgg"}), 422, "space"),
        (client.post("/searches", content=b"{not json", headers={"content-type": "application/json"}), 422, "body"),
        (client.get("/searches/424242"), 404, "424242"),
        (client.get("/candidates/424242/model"), 404, "424242"),
        (client.post("/devices", json={"name": "a b"}), 422, "name"),
        (client.post("/devices/x86-64-2core/profiles", content=b"[]", headers=JSON), 409, "shipped device"),
        (client.post("/devices/x86-64-2core/profiles", content=b"[]"), 415, "content-type"),
        (client.post("/datasets", files={"file": ("x.npz", b"junk")}, data={"name": "x"}), 422, "file"),
        (client.post("/devices/x86-64-2core/profiles", content=b"0" * (9 * 1024 * 1024), headers=JSON), 413,
         "NAS_MAX_UPLOAD_BYTES"),
    ]
    for response, status, named in checks:
        assert response.status_code == status, (response.request.url, response.text)
        assert named in response.text, (response.request.url, response.text)
    assert [search["id"] for search in client.get("/searches").json()] == [search["id"] for search in before]


@pytest.mark.backends("sqlite")
def test_a_service_killed_mid_search_resumes_it_at_restart(service):
    search_id = service.client.post("/searches", json={"space": "nasbench201", "budget": 64}).json()["id"]
    wait_until(lambda: service.search(search_id)["evaluated"] >= 16, 120, "16 candidates")
    service.stop(kill=True)  # no shutdown at all: the row still says running
    service.start()
    done, seen = service.wait_for(search_id)
    assert done["status"] == "succeeded", done["error"]
    assert done["evaluated"] == 64 and min(body["evaluated"] for body in seen) >= 16
    total = service.client.get(f"/searches/{search_id}/candidates", params={"limit": 1}).json()["total"]
    assert total == 64
    assert "resumes" in service.log_tail(100_000)

"""Searches over REST with the real dispatcher on a real local Ray, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import time

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from nas.latency import default_device
from nas.settings import Settings
from nas.storage import open_store
from tests.budgets import latency_quantile


@pytest.fixture
def client(database_url, tmp_path, local_ray):
    settings = Settings(database_url=database_url, data_dir=str(tmp_path), max_concurrent_searches=1)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def wait_for(client, search_id, statuses, timeout=180.0):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/searches/{search_id}").json()
        seen.append(body)
        if body["status"] in statuses:
            return body, seen
        time.sleep(0.2)
    pytest.fail(f"search {search_id} still {seen[-1]['status']} after {timeout} s")


def test_submit_watch_and_read_the_front(client):
    budget_ms = latency_quantile("nasbench201", 0.35)
    response = client.post("/api/v1/searches", json={"space": "nasbench201", "budget": 24, "latency_max_ms": budget_ms})
    assert response.status_code == 202, response.text
    submitted = response.json()
    assert submitted["status"] == "queued" and submitted["strategy"] == "tpe"
    assert submitted["device"] == default_device()  # the shipped table of the server's CPU

    done, seen = wait_for(client, submitted["id"], {"succeeded", "failed"})
    assert done["status"] == "succeeded", done["error"]
    assert done["evaluated"] == 24 and done["progress"] == 1.0
    assert len({body["evaluated"] for body in seen}) > 1, "progress was visible while it ran"
    assert done["history"][-1][0] == 24 and done["front_size"] > 0

    front = client.get(f"/api/v1/searches/{submitted['id']}/pareto").json()
    assert len(front) == done["front_size"]
    assert all(c["is_pareto"] and c["feasible"] and c["latency_ms"] <= budget_ms for c in front)
    page = client.get(f"/api/v1/searches/{submitted['id']}/candidates",
                      params={"sort": "latency_ms", "descending": False, "limit": 10, "offset": 5}).json()
    assert page["total"] == 24 and len(page["items"]) == 10
    latencies = [c["latency_ms"] for c in page["items"]]
    assert latencies == sorted(latencies)
    listed = client.get("/api/v1/searches", params={"status": "succeeded"}).json()
    assert [s["id"] for s in listed] == [submitted["id"]]


def test_a_search_scores_on_an_uploaded_dataset(client):
    import numpy as np

    from tests.datasets.test_calibration import images, npz

    content = npz(images=images(n=24, side=32), labels=np.arange(24) % 10)
    uploaded = client.post("/api/v1/datasets", files={"file": ("parts.npz", content)}, data={"name": "parts"})
    assert uploaded.status_code == 201, uploaded.text
    ids = [client.post("/api/v1/searches", json={"space": "nasbench201", "budget": 8, "proxy": "naswot",
                                                 "proxy_batch": 16, "data": data}).json()["id"]
           for data in ("parts", "cifar10_sample")]
    scores = []
    for search_id in ids:
        done, _ = wait_for(client, search_id, {"succeeded", "failed"})
        assert done["status"] == "succeeded", done["error"]
        items = client.get(f"/api/v1/searches/{search_id}/candidates", params={"sort": "created"}).json()["items"]
        scores.append({c["arch_hash"]: c["scores"]["naswot"] for c in items})
    # Same seed, same candidates; different images, different NASWOT scores.
    assert scores[0].keys() == scores[1].keys()
    assert scores[0] != scores[1]


def test_queue_respects_the_limit_and_cancel_keeps_what_was_found(client):
    ids = [client.post("/api/v1/searches", json={"space": "nasbench201", "budget": budget, "seed": i}).json()["id"]
           for i, budget in enumerate((2000, 16, 16))]
    running, seen = wait_for(client, ids[0], {"running"})
    deadline = time.monotonic() + 120
    while client.get(f"/api/v1/searches/{ids[0]}").json()["evaluated"] < 16:
        assert time.monotonic() < deadline
        # The limit is one: the others wait, queued, behind the first.
        assert [client.get(f"/api/v1/searches/{i}").json()["status"] for i in ids[1:]] == ["queued", "queued"]
        time.sleep(0.2)
    cancelled_at = time.monotonic()
    assert client.post(f"/api/v1/searches/{ids[0]}/cancel").json()["status"] == "cancelled"
    finished = [wait_for(client, i, {"succeeded"})[0] for i in ids[1:]]
    first = client.get(f"/api/v1/searches/{ids[0]}").json()
    assert first["status"] == "cancelled" and first["evaluated"] >= 16
    assert client.get(f"/api/v1/searches/{ids[0]}/candidates").json()["total"] == first["evaluated"]
    assert finished[0]["started_at"] <= finished[1]["started_at"], "queued searches start in order"
    assert time.monotonic() - cancelled_at < 120  # not the 2000 candidates: it stopped
    again = client.post(f"/api/v1/searches/{ids[0]}/cancel")
    assert again.status_code == 200 and again.json()["status"] == "cancelled"  # idempotent
    refused = client.post(f"/api/v1/searches/{ids[1]}/cancel")
    assert refused.status_code == 409 and "succeeded" in refused.json()["detail"]


@pytest.mark.parametrize("body, field", [
    ({}, "space"),
    ({"space": "resnet"}, "space"),
    ({"space": "nasbench201", "budget": 0}, "budget"),
    ({"space": "nasbench201", "strategy": "annealing"}, "strategy"),
    ({"space": "nasbench201", "device": "pixel9"}, "device"),
    ({"space": "nasbench201", "profile_version": 7}, "profile_version"),
    ({"space": "nasbench201", "proxy": "accuracy"}, "proxy"),
    ({"space": "nasbench201", "ensemble": ["synflow"]}, "ensemble"),
    ({"space": "nasbench201", "ensemble": ["synflow", "accuracy"]}, "ensemble"),
    ({"space": "nasbench201", "proxy": "snip", "ensemble": ["synflow", "naswot"]}, "ensemble"),
    ({"space": "nasbench201", "data": "missing-set"}, "data"),
    ({"space": "nasbench201", "budget": True}, "budget"),
    ({"space": "nasbench201", "budget": "10"}, "budget"),
    ({"space": "nasbench201", "budget": 10.0}, "budget"),
    ({"space": "nasbench201", "latency_max_ms": "12"}, "latency_max_ms"),
    ({"space": "nasbench201", "latency_max_ms": -1}, "latency_max_ms"),
    ({"space": "nasbench201", "data": "imagenet"}, "data"),
    ({"space": "nasbench201", "colour": "red"}, "colour"),
    ({"space": "nasbench201", "flops_max": 0}, "flops_max"),  # the old name, refused under it
])
def test_bad_requests_are_422_naming_the_field_and_store_nothing(client, body, field):
    response = client.post("/api/v1/searches", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", field]
    assert client.get("/api/v1/searches").json() == []


@pytest.mark.parametrize("text, field", [
    ('{"space": "nasbench201", "latency_max_ms": NaN}', "latency_max_ms"),
    ('{"space": "nasbench201", "latency_max_ms": Infinity}', "latency_max_ms"),
    ('{"space": "nasbench201", "latency_max_ms": -Infinity}', "latency_max_ms"),
    ('{"space": "nasbench201", "params_max": NaN}', "params_max"),
    ('{"space": "nasbench201\\ud800"}', "space"),
])
def test_numbers_json_cannot_hold_are_422_not_500(client, text, field):
    response = client.post("/api/v1/searches", content=text, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", field]
    assert client.get("/api/v1/searches").json() == []


def test_requests_written_before_the_macs_rename_still_work(client):
    old = {"space": "nasbench201", "flops_max": 10**9, "proxy": "flops", "objectives": ["flops"]}
    response = client.post("/api/v1/searches", json=old)
    assert response.status_code == 202, response.text
    stored = client.get(f"/api/v1/searches/{response.json()['id']}").json()["request"]
    assert (stored["macs_max"], stored["proxy"], stored["objectives"]) == (10**9, "macs", ["macs"])
    assert "flops_max" not in stored


def test_unknown_search_is_404(client):
    for path in ("/api/v1/searches/999", "/api/v1/searches/999/candidates", "/api/v1/searches/999/pareto"):
        assert client.get(path).status_code == 404
    assert client.post("/api/v1/searches/999/cancel").status_code == 404


def evaluating_workers() -> list[int]:
    """Ray worker processes running an evaluation now (Ray titles a busy worker with its task)."""
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as handle:
                    if handle.read().startswith(b"ray::_evaluate_task"):
                        pids.append(int(entry.name))
            except OSError:
                pass
    return pids


@pytest.mark.backends("sqlite")  # Ray's retry, not the database: tests/storage covers both
def test_a_worker_killed_mid_search_costs_only_its_candidates(client):
    search_id = client.post("/api/v1/searches", json={"space": "mobilenetv3", "budget": 16}).json()["id"]
    deadline = time.monotonic() + 120
    killed = None
    while killed is None:
        assert time.monotonic() < deadline, "no evaluation was ever seen running"
        busy = evaluating_workers()
        if busy:
            os.kill(busy[0], signal.SIGKILL)
            killed = busy[0]
        time.sleep(0.02)
    done, _ = wait_for(client, search_id, {"succeeded", "failed"})
    assert done["status"] == "succeeded", done["error"]
    assert done["evaluated"] == 16 and done["front_size"] > 0
    page = client.get(f"/api/v1/searches/{search_id}/candidates", params={"limit": 100}).json()
    assert page["total"] == 16 and len({c["arch_hash"] for c in page["items"]}) == 16
    assert not os.path.exists(f"/proc/{killed}") or killed not in evaluating_workers()


@pytest.mark.backends("postgresql")  # the sqlite case: tests/e2e's service killed mid-search
def test_a_search_cut_off_by_a_stop_resumes_at_the_next_start(database_url, tmp_path, local_ray):
    settings = Settings(database_url=database_url, data_dir=str(tmp_path))
    with TestClient(create_app(settings)) as client:
        search_id = client.post("/api/v1/searches", json={"space": "nasbench201", "budget": 64}).json()["id"]
        deadline = time.monotonic() + 120
        while client.get(f"/api/v1/searches/{search_id}").json()["evaluated"] < 16:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    # The service stopped mid-search: the search waits in the queue with what it found.
    with open_store(database_url) as store:
        cut = store.searches.get(search_id)
        before = store.candidates.list(search_id, sort="created", descending=False, limit=1000)
    assert cut.status == "queued" and 16 <= cut.evaluated < 64 and len(before) == cut.evaluated

    with TestClient(create_app(settings)) as client:
        done, seen = wait_for(client, search_id, {"succeeded", "failed"})
        assert done["status"] == "succeeded", done["error"]
        assert done["evaluated"] == 64 and done["history"][-1][0] == 64
        assert min(body["evaluated"] for body in seen) >= cut.evaluated, "progress never went backwards"
        after = client.get(f"/api/v1/searches/{search_id}/candidates",
                           params={"sort": "created", "descending": False, "limit": 1000}).json()
    assert after["total"] == 64
    # What the first run found is kept as it was (same rows), and nothing was stored twice.
    assert [(c["id"], c["arch_hash"]) for c in after["items"][:len(before)]] == [(c.id, c.arch_hash) for c in before]
    assert len({c["arch_hash"] for c in after["items"]}) == 64


def test_a_search_found_running_at_start_up_resumes(database_url, tmp_path, local_ray):
    # What a crash leaves: the row says running, and nobody runs it.
    with open_store(database_url) as store:
        store.devices.ensure_shipped()
        profile = store.profiles.get("x86-64-2core", "nasbench201")
        record = store.searches.create({"space": "nasbench201", "budget": 10}, space="nasbench201",
                                     device="x86-64-2core", profile_id=profile.id, strategy="tpe", budget=10, seed=0)
        store.searches.update(record.id, status="running")
        broken = store.searches.create({"space": "nasbench201", "budget": "many"}, space="nasbench201",
                                     device="x86-64-2core", profile_id=profile.id, strategy="tpe", budget=10, seed=0)
        store.searches.update(broken.id, status="running")
    settings = Settings(database_url=database_url, data_dir=str(tmp_path))
    with TestClient(create_app(settings)) as client:
        done, _ = wait_for(client, record.id, {"succeeded", "failed"})
        failed, _ = wait_for(client, broken.id, {"succeeded", "failed"})
    assert done["status"] == "succeeded" and done["evaluated"] == 10
    # One that cannot be resumed fails with the reason rather than staying running.
    assert failed["status"] == "failed" and "budget" in failed["error"]

"""Cancel is final: the evaluations under way stop (their Ray workers are killed, never retried), and
nothing is stored for a search after its cancel is answered, so the counts it answered stay true."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from nas.settings import Settings
from tests.api.test_searches import evaluating_workers, wait_for

# Slow candidates (MetaFormer, synflow at batch 32: seconds each on this machine's two cores), so a
# cancel lands while a batch is under way and would still be running for seconds without the kill.
SLOW_SEARCH = {"space": "metaformer", "budget": 16, "batch_size": 8, "device": "x86-64-2core", "proxy": "synflow"}


@pytest.fixture
def client(tmp_path, local_ray):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'nas.db'}", data_dir=str(tmp_path),
                        max_concurrent_searches=1)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_a_cancel_stops_the_batch_under_way_and_nothing_is_stored_after_it(client):
    search_id = client.post("/api/v1/searches", json=SLOW_SEARCH).json()["id"]
    deadline = time.monotonic() + 120
    while not evaluating_workers():
        assert time.monotonic() < deadline, "no evaluation was ever seen running"
        time.sleep(0.05)
    cancelled = client.post(f"/api/v1/searches/{search_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    answered = cancelled.json()["evaluated"]
    busy_until = time.monotonic() + 10
    while evaluating_workers():  # the evaluations under way are killed, not run to their end
        assert time.monotonic() < busy_until, f"evaluations still running 10 s after the cancel: {evaluating_workers()}"
        time.sleep(0.1)
    for _ in range(3):  # and nothing arrives later: no retry, no late batch
        time.sleep(1)
        body = client.get(f"/api/v1/searches/{search_id}").json()
        total = client.get(f"/api/v1/searches/{search_id}/candidates").json()["total"]
        assert (body["status"], body["evaluated"], total) == ("cancelled", answered, answered)
        assert not evaluating_workers()
    # The killed workers are replaced: the next search runs to its end.
    second = client.post("/api/v1/searches", json={"space": "nasbench201", "budget": 8,
                                                   "device": "x86-64-2core"}).json()["id"]
    done, _ = wait_for(client, second, {"succeeded", "failed"})
    assert done["status"] == "succeeded" and done["evaluated"] == 8, done["error"]

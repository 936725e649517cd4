"""Costs bounded before work starts: a budget over the service's maximum is a 422 naming it, a full
queue a 429, and nothing is stored for either."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from nas.settings import Settings

SEARCH = {"space": "nasbench201", "budget": 8, "device": "x86-64-2core"}


@pytest.fixture
def client(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'nas.db'}", data_dir=str(tmp_path),
                        max_budget=500, max_queued_searches=2)
    with TestClient(create_app(settings, run_searches=False)) as test_client:  # nothing leaves the queue
        yield test_client


def test_a_budget_over_the_service_maximum_is_422_naming_it(client):
    refused = client.post("/api/v1/searches", json={**SEARCH, "budget": 501})
    assert refused.status_code == 422
    [problem] = refused.json()["detail"]
    assert problem["loc"] == ["body", "budget"] and "at most 500" in problem["msg"] and "NAS_MAX_BUDGET" in problem["msg"]
    assert client.post("/api/v1/searches", json={**SEARCH, "budget": 500}).status_code == 202


def test_a_full_queue_is_429_and_stores_nothing(client):
    for _ in range(2):
        assert client.post("/api/v1/searches", json=SEARCH).status_code == 202
    refused = client.post("/api/v1/searches", json=SEARCH)
    assert refused.status_code == 429 and "NAS_MAX_QUEUED_SEARCHES" in refused.json()["detail"]
    assert refused.headers.get("retry-after")
    assert len(client.get("/api/v1/searches").json()) == 2
    client.post("/api/v1/searches/1/cancel")  # a place frees: the next is admitted
    assert client.post("/api/v1/searches", json=SEARCH).status_code == 202


def test_an_evaluation_over_its_memory_cap_is_422_naming_the_proxy_batch(client):
    refused = client.post("/api/v1/searches", json={**SEARCH, "space": "mobilenetv3", "proxy": "grasp",
                                                    "proxy_batch": 64})
    assert refused.status_code == 422, refused.text
    [problem] = refused.json()["detail"]
    assert problem["loc"] == ["body", "proxy_batch"] and "at most" in problem["msg"] and "grasp" in problem["msg"]
    assert client.get("/api/v1/searches").json() == []


def test_the_default_proxy_batch_is_lowered_to_fit_and_tasks_declare_their_memory():
    from nas.errors import InvalidField
    from nas.evaluate import ProxyConfig
    from nas.proxies import DEFAULT_BATCH
    from nas.search import costs
    from nas.search.request import parse_request

    light = parse_request({"space": "mobilenetv3"}).to_config().proxy
    heavy = parse_request({"space": "mobilenetv3", "ensemble": ["synflow", "grasp"]}).to_config().proxy
    assert light.batch_size == DEFAULT_BATCH["mobilenetv3"]
    assert 1 <= heavy.batch_size < light.batch_size
    assert heavy.batch_size % 8 == 0 and costs.eval_mb("mobilenetv3", heavy) <= costs.MAX_EVAL_MB
    with pytest.raises(InvalidField, match="proxy_batch: .* at most"):
        costs.check("mobilenetv3", ProxyConfig(proxies=("synflow", "grasp"), ensemble=True, batch_size=64))
    assert costs.task_bytes("mobilenetv3", light) < costs.task_bytes("mobilenetv3", heavy)
    for space in costs.MEMORY:  # every space has a model, and a default search fits at its default batch
        assert parse_request({"space": space}).to_config().proxy.batch_size == DEFAULT_BATCH[space]


# The probes as sent, on a service with the default limits: each once admitted.

@pytest.fixture
def default_client(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'nas.db'}", data_dir=str(tmp_path))
    with TestClient(create_app(settings, run_searches=False)) as test_client:
        yield test_client


def test_a_budget_of_100000_is_refused_by_the_default_limit(default_client):
    refused = default_client.post("/api/v1/searches", json={**SEARCH, "budget": 100_000})
    assert refused.status_code == 422, refused.text
    [problem] = refused.json()["detail"]
    assert problem["loc"] == ["body", "budget"] and f"at most {Settings().max_budget}" in problem["msg"]
    assert default_client.get("/api/v1/searches").json() == []


def test_metaformer_with_every_proxy_at_batch_512_is_refused_naming_the_proxy_batch(default_client):
    from nas.proxies import names

    refused = default_client.post("/api/v1/searches", json={**SEARCH, "space": "metaformer", "ensemble": names(),
                                                            "proxy_batch": 512})
    assert refused.status_code == 422, refused.text
    [problem] = refused.json()["detail"]
    assert problem["loc"] == ["body", "proxy_batch"] and "at most" in problem["msg"], problem
    assert default_client.get("/api/v1/searches").json() == []

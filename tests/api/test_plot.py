"""GET /searches/{id}/plot: the front in full and a bounded, spread sample of the rest, whatever the
search's size (the dashboard's one request per search page); on SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

import searchspaces
from api.main import create_app
from nas.proxies import FLOOR
from nas.search.pareto import pareto_mask
from nas.settings import Settings
from nas.storage import open_store


def stored_search(database_url, n=300, seed=0):
    """A search with ``n`` sampled NAS-Bench-201 candidates, random scores and latencies, its front marked."""
    space = searchspaces.get("nasbench201")
    rng = np.random.default_rng(seed)
    archs = {}
    while len(archs) < n:
        arch = space.sample(rng)
        archs[space.arch_hash(arch)] = space.encode(arch)
    scores, latencies = rng.normal(size=n), rng.uniform(1, 10, size=n)
    scores[:5] = FLOOR  # the proxy could not score these
    rows = [{"arch": arch, "arch_hash": h, "scores": {"synflow": float(s)}, "score": float(s), "latency_ms": float(t),
             "params": 1000 + i, "macs": 2000 + i, "feasible": bool(t < 8)}
            for i, ((h, arch), s, t) in enumerate(zip(archs.items(), scores, latencies))]
    usable = [r for r in rows if r["feasible"] and r["score"] > FLOOR]
    mask = pareto_mask(np.array([[-r["score"], r["latency_ms"]] for r in usable]))
    front = {r["arch_hash"] for r, keep in zip(usable, mask) if keep}
    with open_store(database_url) as store:
        store.devices.ensure_shipped()
        profile = store.profiles.get("x86-64-2core", "nasbench201")
        record = store.searches.create({"space": "nasbench201"}, space="nasbench201", device="x86-64-2core",
                                     profile_id=profile.id, strategy="random", budget=n, seed=seed)
        store.candidates.add(record.id, rows)
        store.candidates.set_pareto(record.id, front)
        ids = {c.arch_hash: c.id for c in store.candidates.list(record.id, limit=n)}
    return record.id, {ids[h] for h in front}, ids


@pytest.fixture
def client(database_url, tmp_path):
    settings = Settings(database_url=database_url, data_dir=str(tmp_path))
    with TestClient(create_app(settings, run_searches=False)) as test_client:
        yield test_client


def test_the_front_in_full_and_a_spread_sample_of_the_rest(client, database_url):
    search_id, front, ids = stored_search(database_url)
    body = client.get(f"/api/v1/searches/{search_id}/plot", params={"points": 50}).json()
    assert body["total"] == 300 and body["search"]["id"] == search_id
    assert {p["id"] for p in body["front"]} == front
    latencies = [p["latency_ms"] for p in body["front"]]
    assert latencies == sorted(latencies), "fastest first"
    sample = [p["id"] for p in body["sample"]]
    assert 40 <= len(sample) <= 50 and body["sampled"] == len(sample)
    assert not set(sample) & front and len(set(sample)) == len(sample)
    assert all(p["score"] > FLOOR for p in body["sample"])
    # Spread over the whole search, not its first candidates.
    order = sorted(ids.values())
    positions = sorted(order.index(i) for i in sample)
    assert positions[0] < 30 and positions[-1] > 270


def test_small_searches_are_sent_whole_and_points_zero_sends_only_the_front(client, database_url):
    search_id, front, ids = stored_search(database_url, n=40)
    whole = client.get(f"/api/v1/searches/{search_id}/plot").json()
    assert whole["sampled"] + len(whole["front"]) == 40 - 5  # all but the five unscored ones
    only_front = client.get(f"/api/v1/searches/{search_id}/plot", params={"points": 0}).json()
    assert only_front["sample"] == [] and {p["id"] for p in only_front["front"]} == front


def test_bad_plot_requests(client):
    assert client.get("/api/v1/searches/99/plot").status_code == 404
    refused = client.get("/api/v1/searches/1/plot", params={"points": -1})
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["query", "points"]


def test_multiply_adds_are_macs_with_flops_kept_as_a_deprecated_alias(client, database_url):
    search_id, _, ids = stored_search(database_url, n=20)
    point = client.get(f"/api/v1/searches/{search_id}/plot").json()["front"][0]
    [candidate] = client.get(f"/api/v1/searches/{search_id}/candidates", params={"limit": 1}).json()["items"]
    for item in (point, candidate):
        assert item["macs"] == item["flops"] == 2000 + sorted(ids.values()).index(item["id"])
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for name in ("PlotPoint", "CandidateOut"):
        fields = schemas[name]["properties"]
        assert fields["flops"].get("deprecated") is True and "deprecated" not in fields["macs"]

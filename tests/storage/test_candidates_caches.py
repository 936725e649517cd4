"""Candidates (unique per search and architecture hash) and the caches shared across searches."""

from __future__ import annotations

import pytest

from nas.storage import NotFound
from tests.storage.helpers import new_search, synthetic_profile


@pytest.fixture
def search_id(store):
    store.devices.add("pi4")
    profile = store.profiles.add("pi4", synthetic_profile())
    return new_search(store, profile.id).id


def row(i: int, **changes) -> dict:
    values = {"arch": f"arch-{i}", "arch_hash": f"h{i:03d}", "scores": {"synflow": 10.0 + i, "naswot": -i},
              "score": float(i % 7), "latency_ms": 1.0 + (i * 37 % 11), "params": 1000 * (i % 5 + 1),
              "macs": 10**9 + i, "feasible": i % 2 == 0}
    values.update(changes)
    return values


def test_candidates_round_trip(store, search_id):
    assert store.candidates.add(search_id, [row(1)]) == 1
    [stored] = store.candidates.list(search_id)
    assert (stored.search_id, stored.arch, stored.arch_hash) == (search_id, "arch-1", "h001")
    assert stored.scores == {"synflow": 11.0, "naswot": -1.0}
    assert (stored.score, stored.latency_ms, stored.params, stored.macs) == (1.0, 5.0, 2000, 10**9 + 1)
    assert stored.feasible is False and stored.is_pareto is False


def test_a_hash_is_stored_once_per_search(store, search_id):
    assert store.candidates.add(search_id, [row(1), row(2), row(2, arch="same hash")]) == 2
    assert store.candidates.add(search_id, [row(2), row(3)]) == 1
    assert store.candidates.count(search_id) == 3
    other = store.searches.create({}, space="nasbench201", device="pi4", profile_id=None, strategy="random",
                                budget=1, seed=None)
    assert store.candidates.add(other.id, [row(2)]) == 1  # another search may hold the same network


def test_sorting_and_pagination(store, search_id):
    store.candidates.add(search_id, [row(i) for i in range(30)])
    everything = store.candidates.list(search_id, limit=1000)
    assert len(everything) == 30
    for key in ("score", "latency_ms", "params", "macs"):
        values = [getattr(c, key) for c in store.candidates.list(search_id, sort=key, descending=False, limit=30)]
        assert values == sorted(values), key
    by_score = store.candidates.list(search_id, sort="score", limit=30)
    assert [(-c.score, -c.id) for c in by_score] == sorted((-c.score, -c.id) for c in by_score)
    pages = [store.candidates.list(search_id, sort="latency_ms", limit=7, offset=o) for o in range(0, 30, 7)]
    paged = [c.id for page in pages for c in page]
    assert paged == [c.id for c in store.candidates.list(search_id, sort="latency_ms", limit=30)]
    assert len(set(paged)) == 30
    created = store.candidates.list(search_id, sort="created", descending=False, limit=3)
    assert [c.arch_hash for c in created] == ["h000", "h001", "h002"]
    with pytest.raises(ValueError, match="sort"):
        store.candidates.list(search_id, sort="accuracy")


def test_set_pareto_marks_exactly_the_front(store, search_id):
    store.candidates.add(search_id, [row(i) for i in range(10)])
    store.candidates.set_pareto(search_id, ["h001", "h004"])
    store.candidates.set_pareto(search_id, ["h004", "h007"])
    front = store.candidates.list(search_id, pareto_only=True, sort="created", descending=False)
    assert [c.arch_hash for c in front] == ["h004", "h007"]
    assert store.candidates.count(search_id, pareto_only=True) == 2
    with pytest.raises(NotFound, match="'h999'"):
        store.candidates.set_pareto(search_id, ["h001", "h999"])
    assert store.candidates.count(search_id, pareto_only=True) == 2  # the refused call changed nothing


@pytest.mark.parametrize("changes, field", [
    ({"score": float("nan")}, "rows[0].score"),
    ({"latency_ms": float("inf")}, "rows[0].latency_ms"),
    ({"scores": {"synflow": float("-inf")}}, "rows[0].scores.synflow"),
    ({"params": -1}, "rows[0].params"),
])
def test_bad_candidate_values_are_refused_naming_the_field(store, search_id, changes, field):
    with pytest.raises(ValueError, match=field.replace("[", r"\[").replace("]", r"\]")):
        store.candidates.add(search_id, [row(0, **changes), row(1)])
    assert store.candidates.count(search_id) == 0


def test_candidates_of_a_missing_search(store):
    with pytest.raises(NotFound, match="77"):
        store.candidates.add(77, [row(1)])
    with pytest.raises(NotFound, match="77"):
        store.candidates.list(77)


def test_score_cache_round_trip_ignores_duplicates(store):
    store.caches.put_scores("nasbench201", "cifar10-b64-s0", {"h1": {"synflow": 1.5}, "h2": {"synflow": 2.5}})
    store.caches.put_scores("nasbench201", "cifar10-b64-s0", {"h1": {"synflow": 99.0}, "h3": {"synflow": 3.5}})
    found = store.caches.scores("nasbench201", "cifar10-b64-s0", ["h1", "h2", "h3", "h4"])
    assert found == {"h1": {"synflow": 1.5}, "h2": {"synflow": 2.5}, "h3": {"synflow": 3.5}}
    assert store.caches.scores("nasbench201", "synthetic-b64-s0", ["h1"]) == {}
    assert store.caches.scores("mobilenetv3", "cifar10-b64-s0", ["h1"]) == {}
    with pytest.raises(ValueError, match="synflow"):
        store.caches.put_scores("nasbench201", "k", {"h5": {"synflow": float("nan")}})


def test_latency_cache_round_trip_ignores_duplicates(store, search_id):
    profile = store.profiles.get("pi4", "nasbench201")
    store.caches.put_latencies(profile.id, {"h1": 1.25, "h2": 2.5})
    store.caches.put_latencies(profile.id, {"h1": 9.0})
    hashes = [f"h{i}" for i in range(1200)]  # more than one IN (...) chunk
    assert store.caches.latencies(profile.id, hashes) == {"h1": 1.25, "h2": 2.5}
    with pytest.raises(ValueError, match="h3"):
        store.caches.put_latencies(profile.id, {"h3": float("inf")})
    with pytest.raises(NotFound, match="999"):
        store.caches.put_latencies(999, {"h1": 1.0})

"""Summaries of many searches in one query: the same front size and best score as asking per search."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from nas.storage import SearchSummary
from tests.storage.helpers import new_search, synthetic_profile


def row(i: int, score: float) -> dict:
    return {"arch": f"arch-{i}", "arch_hash": f"h{i:03d}", "scores": {"synflow": score}, "score": score,
            "latency_ms": 1.0 + i, "params": 1000 + i, "macs": 10**6 + i, "feasible": True}


@pytest.fixture
def search_ids(store) -> list[int]:
    """Searches with a front, one whose best candidate is off its front, one with candidates but no
    front yet, and one with no candidates at all."""
    store.devices.add("pi4")
    profile_id = store.profiles.add("pi4", synthetic_profile()).id
    fronts = {0: [0, 2, 5], 1: [1], 2: [], 3: None}
    ids = []
    for k, front in fronts.items():
        search = new_search(store, profile_id)
        if front is not None:
            store.candidates.add(search.id, [row(i, score=float((i * 7 + k) % 5) - 1.5) for i in range(8)])
            store.candidates.set_pareto(search.id, [f"h{i:03d}" for i in front])
        ids.append(search.id)
    return ids


def per_search(store, search_id: int) -> SearchSummary:
    """What the REST listing computed before, two queries per search."""
    best = store.candidates.list(search_id, pareto_only=True, limit=1, sort="score")
    return SearchSummary(search_id, store.candidates.count(search_id, pareto_only=True),
                         best[0].score if best else None)


def test_summaries_agree_with_the_per_search_queries(store, search_ids):
    summaries = store.searches.summaries(search_ids)
    assert summaries == {i: per_search(store, i) for i in search_ids}
    sizes = [summaries[i].front_size for i in search_ids]
    assert sizes == [3, 1, 0, 0]
    assert summaries[search_ids[1]].best_score < max(c.score for c in store.candidates.list(search_ids[1]))
    assert [summaries[i].best_score for i in search_ids[2:]] == [None, None]


def test_summaries_of_nothing_and_of_unknown_ids(store, search_ids):
    assert store.searches.summaries([]) == {}
    assert store.searches.summaries([999, 2**40, -1, search_ids[0], search_ids[0]]) == {
        search_ids[0]: per_search(store, search_ids[0])}


def test_summaries_run_one_query_however_many_searches(store, search_ids):
    statements = []

    def record(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(store._engine, "before_cursor_execute", record)
    try:
        store.searches.summaries(search_ids)
    finally:
        event.remove(store._engine, "before_cursor_execute", record)
    assert len(statements) == 1, statements

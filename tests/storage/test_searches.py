"""A search's life: queued, running, then one final status, with progress and times on the way."""

from __future__ import annotations

from datetime import timezone

import pytest
from sqlalchemy import func, select

from nas.storage import SEARCH_STATUSES, InvalidTransition, NotFound
from nas.storage.models import Candidate
from tests.storage.helpers import REQUEST, new_search, synthetic_profile


@pytest.fixture
def profile_id(store):
    store.devices.add("pi4")
    return store.profiles.add("pi4", synthetic_profile()).id


def test_statuses_are_the_five_of_the_contract():
    assert SEARCH_STATUSES == ("queued", "running", "succeeded", "failed", "cancelled")


def test_a_new_search_is_queued(store, profile_id):
    search = new_search(store, profile_id)
    assert search.status == "queued" and search.request == REQUEST
    assert (search.space, search.device, search.profile_id) == ("nasbench201", "pi4", profile_id)
    assert (search.strategy, search.budget, search.seed, search.evaluated) == ("evolution", 50, 7, 0)
    assert search.history == [] and search.hypervolume is None and search.error is None
    assert search.created_at.tzinfo is timezone.utc
    assert search.started_at is None and search.finished_at is None
    assert store.searches.get(search.id) == search


def test_lifecycle_sets_times_and_progress(store, profile_id):
    search = new_search(store, profile_id)
    running = store.searches.update(search.id, status="running")
    assert running.started_at is not None and running.started_at >= search.created_at
    assert running.finished_at is None
    progress = store.searches.update(search.id, evaluated=20, hypervolume=0.5, history=[[10, 0.25], [20, 0.5]])
    assert (progress.status, progress.evaluated, progress.hypervolume) == ("running", 20, 0.5)
    assert progress.history == [[10, 0.25], [20, 0.5]]
    done = store.searches.update(search.id, status="succeeded", evaluated=50)
    assert done.finished_at is not None and done.finished_at >= done.started_at
    assert done.finished_at.tzinfo is timezone.utc
    assert store.searches.get(search.id) == done


def test_a_running_search_can_go_back_in_the_queue_and_keeps_its_first_start(store, profile_id):
    search = new_search(store, profile_id)
    first = store.searches.update(search.id, status="running", evaluated=8)
    requeued = store.searches.update(search.id, status="queued")
    assert (requeued.status, requeued.evaluated) == ("queued", 8)
    again = store.searches.update(search.id, status="running")
    assert again.started_at == first.started_at and again.finished_at is None


def test_a_final_status_is_final(store, profile_id):
    search = new_search(store, profile_id)
    cancelled = store.searches.update(search.id, status="cancelled")
    assert cancelled.finished_at is not None and cancelled.started_at is None
    with pytest.raises(InvalidTransition, match="cancelled"):
        store.searches.update(search.id, status="succeeded")
    assert store.searches.update(search.id, status="cancelled") == cancelled  # saying it again is harmless
    failed = store.searches.update(new_search(store, profile_id).id, status="failed", error="out of memory")
    assert failed.error == "out of memory"


def test_bad_updates_name_the_field(store, profile_id):
    search = new_search(store, profile_id)
    with pytest.raises(ValueError, match="status"):
        store.searches.update(search.id, status="done")
    with pytest.raises(ValueError, match="hypervolume"):
        store.searches.update(search.id, hypervolume=float("nan"))
    with pytest.raises(ValueError, match=r"history\[1\]"):
        store.searches.update(search.id, history=[[1, 0.1], [2, float("inf")]])
    with pytest.raises(NotFound, match="999"):
        store.searches.update(999, status="running")
    assert store.searches.get(search.id) == search


def test_a_profile_of_another_device_or_space_is_refused(store, profile_id):
    store.devices.add("jetson")
    with pytest.raises(ValueError, match="profile_id"):
        new_search(store, profile_id, device="jetson")
    with pytest.raises(NotFound, match="'nope'"):
        new_search(store, profile_id, device="nope")
    with pytest.raises(NotFound, match="4242"):
        new_search(store, 4242)


def test_list_filters_and_pages_newest_first(store, profile_id):
    ids = [new_search(store, profile_id).id for _ in range(5)]
    store.searches.update(ids[1], status="running")
    store.searches.update(ids[3], status="running")
    assert [s.id for s in store.searches.list()] == ids[::-1]
    assert [s.id for s in store.searches.list(status="running")] == [ids[3], ids[1]]
    assert [s.id for s in store.searches.list(limit=2, offset=1)] == [ids[3], ids[2]]
    assert store.searches.list(space="mobilenetv3") == []
    with pytest.raises(ValueError, match="status"):
        store.searches.list(status="finished")
    with pytest.raises(NotFound, match="12345"):
        store.searches.get(12345)


def test_text_that_does_not_fit_its_column_is_refused(store, profile_id):
    with pytest.raises(ValueError, match="strategy"):
        new_search(store, profile_id, strategy="x" * 65)
    with pytest.raises(ValueError, match="hardware"):
        store.devices.add("long", hardware="h" * 201)


def batch(start: int, n: int = 4) -> list[dict]:
    return [{"arch": f"a{i}", "arch_hash": f"h{i:04d}", "scores": {"synflow": float(i)}, "score": float(i),
             "latency_ms": 1.0, "params": 1, "macs": 1, "feasible": True} for i in range(start, start + n)]


def test_a_batch_is_recorded_whole_and_only_while_running(store, profile_id):
    search = new_search(store, profile_id)
    assert store.searches.record(search.id, batch(0)) is False, "queued: nothing is stored"
    store.searches.update(search.id, status="running")
    assert store.searches.record(search.id, batch(0), ["h0003"], evaluated=4, hypervolume=0.5, history=[[4, 0.5]])
    stored = store.searches.get(search.id)
    assert (stored.evaluated, stored.hypervolume, stored.history) == (4, 0.5, [[4, 0.5]])
    assert [c.arch_hash for c in store.candidates.list(search.id, pareto_only=True)] == ["h0003"]
    with pytest.raises(NotFound, match="h9999"):  # a front naming an unknown candidate: the batch is not kept
        store.searches.record(search.id, batch(4), ["h9999"], evaluated=8)
    assert store.candidates.count(search.id) == 4 and store.searches.get(search.id).evaluated == 4
    cancelled = store.searches.update(search.id, status="cancelled")
    assert store.searches.record(search.id, batch(4), ["h0007"], evaluated=8) is False
    assert store.candidates.count(search.id) == cancelled.evaluated == 4


def test_only_a_finished_search_is_deleted_with_its_candidates(store, profile_id):
    search = new_search(store, profile_id)
    with pytest.raises(InvalidTransition, match="queued: cancel it first"):
        store.searches.delete(search.id)
    store.searches.update(search.id, status="running")
    store.searches.record(search.id, batch(0), ["h0001"], evaluated=4)
    with pytest.raises(InvalidTransition, match="running"):
        store.searches.delete(search.id)
    kept = new_search(store, profile_id)
    store.searches.update(search.id, status="cancelled")
    assert store.searches.delete(search.id).evaluated == 4
    with pytest.raises(NotFound):
        store.searches.get(search.id)
    with pytest.raises(NotFound):
        store.searches.delete(search.id)
    assert store.searches.record(search.id, batch(4)) is False  # a batch ending after the delete: dropped
    with store._sessions.begin() as session:
        left = session.scalar(select(func.count()).select_from(Candidate).where(Candidate.search_id == search.id))
    assert left == 0
    assert [s.id for s in store.searches.list()] == [kept.id]


def test_a_cancel_racing_the_recorder_answers_counts_that_stay_true(store, profile_id):
    """A worker records batches as fast as it can while a cancel comes in: whatever the interleaving,
    the evaluated count the cancel answers is what the search keeps, candidates included."""
    import threading

    for attempt in range(6):
        search = new_search(store, profile_id)
        store.searches.update(search.id, status="running")
        started = threading.Event()

        def worker(search_id=search.id, started=started):
            written = 0
            while store.searches.record(search_id, batch(written), evaluated=written + 4):
                written += 4
                started.set()
            started.set()

        thread = threading.Thread(target=worker)
        thread.start()
        started.wait(10)
        answered = store.searches.update(search.id, status="cancelled")
        thread.join(30)
        assert not thread.is_alive()
        kept = store.searches.get(search.id)
        assert kept.evaluated == answered.evaluated == store.candidates.count(search.id) > 0, attempt

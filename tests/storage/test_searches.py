"""A search's life: queued, running, then one final status, with progress and times on the way."""

from __future__ import annotations

from datetime import timezone

import pytest

from nas.storage import SEARCH_STATUSES, InvalidTransition, NotFound
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

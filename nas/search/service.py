"""The search sequence, written once: ``submit`` stores a request as a queued search, ``run`` takes a
stored search to its end. ``nas search``, ``POST /api/v1/searches`` and the service's dispatcher all
call these two; what differs between them is passed in (how to fit this machine's profile when it is
missing, which evaluator runs the candidates, when to stop, what to show after each batch).

``run``: request -> config -> profile -> stored dataset -> data -> evaluator (behind the store's
caches) -> ``Search.run`` with the recorder after every batch -> the final status. A search is
never left ``running``: it ends succeeded, cancelled (Ctrl-C, or a cancel: from the moment it is
answered, nothing more of the search is stored),
failed (naming why, keeping what it found), or back in the queue when the service stops under it.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Callable, Protocol

import searchspaces
from nas.errors import InvalidField
from nas.evaluate import ProxyConfig, load_data
from nas.latency import Profile
from nas.latency.local import is_local
from nas.latency.shipped import reference_table
from nas.proxies import ProxyData
from nas.search.persist import Recorder, stored_dataset, stored_evaluator
from nas.search.request import SearchRequest, parse_request
from nas.search.runner import Evaluator, Search, Stopped
from nas.settings import MAX_BUDGET
from nas.storage import InvalidTransition, NotFound, ProfileRecord, SearchRecord, Store
from nas.storage.here import ensure_local_device


class Backend(Protocol):
    """Makes the evaluator of a search's candidates (in this process, a pool, or Ray tasks). An
    evaluator that can abandon a batch under way reads ``should_stop`` while it waits, and raises
    ``Stopped`` (one that cannot finishes its batch; the cancel is then read before the next)."""

    def __call__(self, space: searchspaces.SearchSpace, proxy: ProxyConfig, data: ProxyData,
                 profile: Profile, *, should_stop: Callable[[], bool]) -> Evaluator: ...


@dataclass(frozen=True)
class Finished:
    """How a run ended: the status that stands in the store, the search as far as it got."""

    status: str
    search: Search | None
    error: str | None = None
    trace: str | None = None  # the failure's traceback, for the service's log


@dataclass(frozen=True)
class Limits:
    """What a service admits (``NAS_MAX_BUDGET``, ``NAS_MAX_QUEUED_SEARCHES``); the CLI sets none."""

    max_budget: int = MAX_BUDGET
    max_queued: int | None = None


class QueueFull(Exception):
    """As many searches wait as the service allows: retry once some have started (a 429)."""


def submit(store: Store, request: SearchRequest,
           calibrate: Callable[[str], ProfileRecord] | None = None, limits: Limits = Limits(),
           owner: str | None = None) -> SearchRecord:
    """Check ``request`` against the store and queue it; ``InvalidField`` naming what is wrong,
    ``QueueFull`` when the queue is at ``limits.max_queued``.

    A search on this machine's own device before its profile of the space is fitted is queued
    without a profile (the dispatcher fits it, then starts the search), unless ``calibrate(space)``
    is given to fit it now. ``owner`` names the key that submitted it (None: auth off, or the CLI)."""
    if request.budget > limits.max_budget:
        raise InvalidField("budget", f"at most {limits.max_budget} on this service (NAS_MAX_BUDGET), "
                                     f"got {request.budget}")
    config = request.to_config()
    if limits.max_queued is not None and store.searches.count("queued") >= limits.max_queued:
        raise QueueFull(f"queue: {limits.max_queued} searches wait already, the most this service lets "
                        "wait (NAS_MAX_QUEUED_SEARCHES); retry once some have started")
    profile = _profile(store, request, calibrate)
    num_classes = store.profiles.load(profile.id).num_classes if profile else reference_table(request.space).num_classes
    stored_dataset(store, config.proxy, num_classes, load=False)
    # the proxy it resolved to, not "the default": a resumed search scores as it began if the default changes
    proxy = None if config.proxy.ensemble else config.proxy.proxies[0]
    stored = {**request.model_dump(), "proxy": proxy, "profile_version": profile.version if profile else None}
    return store.searches.create(stored, space=config.space, device=request.device,
                               profile_id=profile.id if profile else None,
                               strategy=config.strategy, budget=config.budget, seed=config.seed, owner=owner)


def _profile(store: Store, request: SearchRequest,
             calibrate: Callable[[str], ProfileRecord] | None) -> ProfileRecord | None:
    try:
        return store.profiles.get(request.device, request.space, request.profile_version)
    except NotFound as error:
        if is_local(request.device) and request.profile_version is None:
            if calibrate is not None:
                return calibrate(request.space)
            ensure_local_device(store)
            return None
        field = "profile_version" if request.profile_version else "device"
        raise InvalidField(field, str(error)) from None


def run(store: Store, record: SearchRecord, backend: Backend, *,
        progress: Callable[[Search], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        stopping: Callable[[], bool] = lambda: False) -> Finished:
    """Run the stored search ``record`` (already marked running) to its end and write its final status.

    ``should_stop`` is read before each batch (a cancel); when ``stopping()`` says the service itself
    is going down, an unfinished search goes back to the queue to resume at the next start."""
    recorder = Recorder(store, record.id, resume_from=record.evaluated)
    search: Search | None = None
    evaluator = None
    try:
        config = parse_request(record.request).to_config()
        space = searchspaces.get(config.space)
        profile = store.profiles.load(record.profile_id)
        uploaded = stored_dataset(store, config.proxy, profile.num_classes)
        data = load_data(config.proxy, space, profile.num_classes, uploaded)
        evaluator = backend(space, config.proxy, data, profile, should_stop=should_stop or (lambda: False))
        cached = stored_evaluator(store, space, config.proxy, data, profile, record.profile_id, evaluator)
        search = Search(config)

        def after_batch(current: Search) -> None:
            recorder(current)
            if progress is not None:
                progress(current)

        search.run(cached, progress=after_batch, should_stop=should_stop)
        recorder(search)
        status = "queued" if stopping() and not search.done else "succeeded"
        return Finished(finish(store, record.id, status), search)
    except KeyboardInterrupt:
        _record_last(recorder, search)
        return Finished(finish(store, record.id, "cancelled"), search)
    except Stopped:  # a cancel (then the batch under way is dropped) or the service going down
        return Finished(finish(store, record.id, "queued" if stopping() else "cancelled"), search)
    except Exception as error:  # the search failed: say why, keep what it found
        _record_last(recorder, search)
        message = f"{type(error).__name__}: {error}"
        return Finished(finish(store, record.id, "failed", message), search, message, traceback.format_exc())
    finally:
        close = getattr(evaluator, "close", None)
        if close is not None:
            close()


def _record_last(recorder: Recorder, search: Search | None) -> None:
    if search is not None:
        try:
            recorder(search)
        except Exception:  # the store failing too must not hide why the search ended
            pass


def finish(store: Store, search_id: int, status: str, error: str | None = None) -> str:
    """Set a search's final status (or put it back in the queue); a cancel that came first stands.
    Returns the status the search has now."""
    try:
        return store.searches.update(search_id, status=status, error=error).status
    except InvalidTransition:
        return store.searches.get(search_id).status
    except NotFound:  # deleted after its cancel, while it wound down
        return "deleted"

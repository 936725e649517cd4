"""The dispatcher: runs queued searches, oldest first, while fewer than the limit run.

It lives in the service's process: a thread polls the database, and each search it starts runs in
a thread of its own (the strategy's ask and tell are cheap) whose candidate evaluations are Ray tasks.
Progress is written after every batch (``nas.search.persist.Recorder``, one transaction that stores
nothing once the search is no longer running). A search is cancelled by setting its status: the
running search reads it while its batch's Ray tasks run, cancels them (killing those under way; Ray
does not retry a cancelled task) and ends, keeping what it had stored before the cancel.

A search cut off by a stop of the service (a graceful one puts it back in the queue itself; after a
crash it is found ``running`` at the next start) is queued again and resumes from what is stored:
the search is run again from its seed, and every candidate it had evaluated comes back from the
store's score and latency caches, so it proposes the same candidates again at no cost and goes on
from there. If it cannot be resumed (its request or its profile is gone), running it fails with the
reason; it is never left running.
"""

from __future__ import annotations

import logging
import threading
import time

from nas.latency.local import is_local
from nas.search import service
from nas.storage import InvalidTransition, NotFound, SearchRecord, Store
from workers.calibrator import Calibrator
from workers.ray_backend import RayEvaluator

log = logging.getLogger("nas.workers")
CANCEL_POLL_SECONDS = 0.5


class Dispatcher:
    def __init__(self, store: Store, max_concurrent: int, poll_seconds: float = 0.5) -> None:
        self.store = store
        self.max_concurrent = max_concurrent
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._wake = threading.Event()  # a search was submitted or one ended: look now, not at the next poll
        self._running: dict[int, threading.Thread] = {}
        self._ended: set[int] = set()
        self._cancel_read: dict[int, float] = {}  # search id -> when its status was last read
        self._thread = threading.Thread(target=self._loop, name="nas-dispatcher", daemon=True)
        self.calibrator = Calibrator(store, on_ready=self.wake)

    def start(self) -> None:
        for record in self.store.searches.list(status="running", limit=10_000):
            log.warning("search %s was cut off at %s/%s candidates; it resumes", record.id, record.evaluated,
                        record.budget)
            self._requeue(record.id)
        self._thread.start()

    def wake(self) -> None:
        """Look for queued searches now (the submit route calls it)."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        for thread in list(self._running.values()):
            thread.join(timeout)

    @property
    def running(self) -> list[int]:
        return sorted(self._running)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:  # the database went away for a moment: try again next tick
                log.exception("dispatcher tick failed")
            self._wake.wait(self.poll_seconds)
            self._wake.clear()

    def _tick(self) -> None:
        for search_id, thread in list(self._running.items()):
            if search_id in self._ended or not thread.is_alive():
                del self._running[search_id]
                self._ended.discard(search_id)
        free = self.max_concurrent - len(self._running)
        if free <= 0:
            return
        queued = sorted(self.store.searches.list(status="queued", limit=10_000), key=lambda s: s.id)
        for record in [r for r in (self._with_profile(q) for q in queued) if r is not None][:free]:
            try:
                self.store.searches.update(record.id, status="running")
            except InvalidTransition:  # cancelled since it was listed
                continue
            thread = threading.Thread(target=self._run, args=(record,), name=f"nas-search-{record.id}", daemon=True)
            self._running[record.id] = thread
            thread.start()

    def _with_profile(self, record: SearchRecord) -> SearchRecord | None:
        """The search ready to start, its profile attached; ``None`` while this machine's profile of
        its space is being fitted (a failed fit fails the search, naming why)."""
        if record.profile_id is not None or not is_local(record.device):
            return record
        failed = self.calibrator.failed.get(record.space)
        if failed is not None:
            self._finish(record.id, "failed", f"calibrating this machine for {record.space} failed: {failed}")
            return None
        profile = self.calibrator.ready(record.space)
        if profile is None:
            return None
        return self.store.searches.attach_profile(record.id, profile.id)

    def _cancelled(self, search_id: int) -> bool:
        """Whether the search must stop: the service is stopping, or the search was cancelled (read
        from the store at most every ``CANCEL_POLL_SECONDS``: the evaluator asks several times a second)."""
        if self._stop.is_set():
            return True
        now = time.monotonic()
        if now - self._cancel_read.get(search_id, -CANCEL_POLL_SECONDS) < CANCEL_POLL_SECONDS:
            return False
        self._cancel_read[search_id] = now
        try:
            return self.store.searches.get(search_id).status == "cancelled"
        except NotFound:  # deleted once cancelled
            return True

    def _run(self, record: SearchRecord) -> None:
        try:
            self._search(record)
        finally:
            self._ended.add(record.id)
            self._wake.set()

    def _search(self, record: SearchRecord) -> None:
        finished = service.run(self.store, record, RayEvaluator, should_stop=lambda: self._cancelled(record.id),
                               stopping=self._stop.is_set)
        self._cancel_read.pop(record.id, None)
        if finished.error is not None:
            log.error("search %s failed:\n%s", record.id, finished.trace)

    def _requeue(self, search_id: int) -> None:
        service.finish(self.store, search_id, "queued")  # a cancel that came first stands

    def _finish(self, search_id: int, status: str, error: str | None = None) -> None:
        service.finish(self.store, search_id, status, error)

"""Fits this machine's own latency profile in the background, one space at a time.

On a CPU with no shipped table the default device is this machine's own (``nas.latency.local``); a
search for it whose space has no profile yet stays queued while the calibrator times a kit of
networks here and stores the fitted profile; the dispatcher then starts it. Only one space is timed
at a time, so two timings never share the cores.
"""

from __future__ import annotations

import logging
import threading

from nas.latency.shipped import local_device_name
from nas.storage import NotFound, ProfileRecord, Store
from nas.storage.here import local_profile

log = logging.getLogger("nas.workers")


class Calibrator:
    def __init__(self, store: Store, on_ready=lambda: None) -> None:
        self.store = store
        self.on_ready = on_ready  # called when a profile is stored (wakes the dispatcher)
        self.failed: dict[str, str] = {}  # space -> why its calibration failed
        self._lock = threading.Lock()
        self._queue: list[str] = []
        self._current: str | None = None
        self._thread: threading.Thread | None = None

    @property
    def calibrating(self) -> list[str]:
        """The spaces being timed now or waiting to be."""
        with self._lock:
            return ([self._current] if self._current else []) + list(self._queue)

    def ready(self, space: str) -> ProfileRecord | None:
        """This machine's profile for ``space``; ``None`` while it is being fitted (started if need be)."""
        try:
            return self.store.profiles.get(local_device_name(), space)
        except NotFound:
            pass
        with self._lock:
            if space not in self.failed and space != self._current and space not in self._queue:
                self._queue.append(space)
                log.info("timing %s networks on this machine to fit its latency profile", space)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="nas-calibrator", daemon=True)
                self._thread.start()
        return None

    def _work(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    self._current = None
                    return
                self._current = self._queue.pop(0)
            space = self._current
            try:
                record = local_profile(self.store, space)
                log.info("this machine's %s profile is ready (version %s)", space, record.version)
            except Exception as error:  # reported on the searches that wait for it
                log.exception("calibrating this machine for %s failed", space)
                self.failed[space] = f"{type(error).__name__}: {error}"
            self.on_ready()

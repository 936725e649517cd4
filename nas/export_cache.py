"""Exports built once, off the request path: a stored candidate's ONNX file or JSON architecture.

``ExportCache.submit(target, format)`` answers a future of the file's path under ``folder``. A file
already there is answered at once. Otherwise one builder process (spawned on first use and kept) builds
it. Its memory never joins the service's, and a network too large for the machine kills the builder,
not the service. It writes a temporary file and renames it into place.

- **Built once.** A file is named by a hash of everything its bytes depend on (space, arch, class
  count, seed, format, ONNX opset, package version). A candidate asked for twice is built once; every
  request for one file waits on the same build.
- **Bounded.** A candidate over ``max_params`` parameters is refused before anything is built
  (``InvalidField`` on ``candidate_id``, a 422). At most ``MAX_WAITING`` builds wait; one more raises
  ``ExportBusy`` (a 429). The folder is kept under ``max_bytes`` by removing the files served longest ago.
- **Streamed.** Callers read the file in chunks (the API's download routes); the bytes never pass
  through the service's memory whole.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from nas import __version__
from nas.children import exit_with_parent
from nas.errors import InvalidField
from nas.export import Exportable
from nas.onnx_export import ONNX_OPSET

MAX_WAITING = 8  # builds queued or running at once; beyond, a request is told to come back

_POOL: ProcessPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


class ExportBusy(Exception):
    """Too many builds are waiting; ask again later."""


class ExportFailed(Exception):
    """The builder could not make the file: ``stopped`` when its process died (out of memory, killed),
    which a new try may survive; otherwise the network itself failed to export."""

    def __init__(self, message: str, *, stopped: bool = False) -> None:
        super().__init__(message)
        self.stopped = stopped


class ExportCache:
    def __init__(self, folder: Path, *, max_bytes: int, max_params: int) -> None:
        self.folder, self.max_bytes, self.max_params = Path(folder), max_bytes, max_params
        self._building: dict[Path, Future[Path]] = {}
        self._lock = threading.Lock()

    def submit(self, target: Exportable, format: str) -> Future[Path]:
        """A future of the path of ``target``'s file in ``format`` (``onnx`` or ``json``)."""
        self.check(target)
        path = self.folder / f"{key(target, format)}.{format}"
        with self._lock:
            if path in self._building:
                return self._building[path]
            if path.exists():
                os.utime(path)  # served now: the last to be evicted
                return _done(path)
            if len(self._building) >= MAX_WAITING:
                raise ExportBusy(f"export: {len(self._building)} exports are being built; try again shortly")
            self.folder.mkdir(parents=True, exist_ok=True)
            future: Future[Path] = Future()
            self._building[path] = future
        try:
            built = _submit(_build, target, format, str(path))
        except (BrokenProcessPool, RuntimeError) as error:  # a builder that died since: the next try starts one
            _reset_pool()
            built = Future()
            built.set_exception(BrokenProcessPool(str(error)))
        built.add_done_callback(lambda done: self._finish(path, future, done))
        return future

    def check(self, target: Exportable) -> None:
        if target.params is not None and target.params > self.max_params:
            raise InvalidField("candidate_id", f"candidate {target.candidate_id} has {target.params:,} parameters; "
                               f"exports are limited to {self.max_params:,} (NAS_MAX_EXPORT_PARAMS)", where="path")

    def _finish(self, path: Path, future: Future[Path], built: Future[str | None]) -> None:
        stopped = False
        try:
            problem = built.result()
        except BrokenProcessPool:
            _reset_pool()
            problem, stopped = "the export builder stopped before finishing (out of memory?); try again", True
        except Exception as error:  # noqa: BLE001 - whatever went wrong reaches the waiting requests
            problem = f"{type(error).__name__}: {error}"
        with self._lock:
            del self._building[path]
        if problem is None:
            self._evict(keep=path)
            future.set_result(path)
        else:
            future.set_exception(ExportFailed(f"candidate export: {problem}", stopped=stopped))

    def _evict(self, keep: Path) -> None:
        """The files served longest ago removed until the folder fits in ``max_bytes`` (``keep`` stays)."""
        files = []
        for path in self.folder.glob("*.*"):
            try:
                files.append((path.stat().st_mtime, path.stat().st_size, path))
            except FileNotFoundError:  # removed by another process sharing the folder
                continue
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files):
            if total <= self.max_bytes:
                break
            if path != keep:
                path.unlink(missing_ok=True)
                total -= size


def key(target: Exportable, format: str) -> str:
    """What a file's bytes depend on, hashed (the ids of a stored candidate are not among them)."""
    identity = [target.space, target.arch, target.num_classes, target.seed, format, ONNX_OPSET, __version__]
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:32]


def _build(target: Exportable, format: str, path: str) -> str | None:
    """In the builder process: the file written to ``path``; None, or what went wrong (as text, since
    not every exception pickles back)."""
    try:
        data = target.content(format)
        partial = f"{path}.{os.getpid()}.partial"
        with open(partial, "wb") as handle:
            handle.write(data)
        os.replace(partial, path)
        return None
    except Exception as error:  # noqa: BLE001 - reported to the request that asked
        return f"{type(error).__name__}: {error}"


def _submit(function, *args) -> Future:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            # spawn: a fresh interpreter, never a fork of a process that runs threads (Ray, uvicorn)
            _POOL = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=exit_with_parent, initargs=(os.getpid(),))
        return _POOL.submit(function, *args)


def _reset_pool() -> None:
    global _POOL
    with _POOL_LOCK:
        pool, _POOL = _POOL, None
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


def _done(path: Path) -> Future[Path]:
    future: Future[Path] = Future()
    future.set_result(path)
    return future

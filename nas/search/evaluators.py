"""Evaluators for the search loop: a list of arch objects in, their ``Metrics`` out, in order.

``local_evaluator`` runs ``nas.evaluate`` in this process, or in a pool of worker processes with one
torch thread each (``workers > 1``). Small networks at batch 1 use a second thread poorly, and when
the cores are shared a second thread per process spins against the other processes (a MobileNetV3
synflow pass measured 2 s with one thread and 25-120 s with two, beside two busy processes); one
process per core with one thread each avoids both.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import torch

import searchspaces
from nas.children import exit_with_parent
from nas.errors import InvalidField
from nas.evaluate import Metrics, ProxyConfig, evaluate
from nas.latency import Profile
from nas.proxies import ProxyData


class LocalEvaluator:
    """Evaluate candidates here (``workers == 1``) or in ``workers`` processes; ``close()`` ends the
    pool. The data batch and the profile go to each worker once, when it starts. ``threads`` is
    torch's intra-op thread count: here when given, else left alone; in each worker, 1 by default."""

    def __init__(self, space: searchspaces.SearchSpace, proxy: ProxyConfig, data: ProxyData, profile: Profile,
                 workers: int = 1, threads: int | None = None) -> None:
        if workers < 1:
            raise InvalidField("workers", f"must be at least 1, got {workers}")
        if threads is not None and threads < 1:
            raise InvalidField("threads", f"must be at least 1, got {threads}")
        self.space, self.proxy, self.data, self.profile = space, proxy, data, profile
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._threads_before: int | None = None
        if workers == 1:
            if threads is not None:
                self._threads_before = torch.get_num_threads()
                torch.set_num_threads(threads)
        else:
            self._pool = ProcessPoolExecutor(
                workers, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker,
                initargs=(os.getpid(), space.name, proxy, data, profile, threads or 1),
            )

    def __call__(self, archs: list[Any]) -> list[Metrics]:
        if self._pool is None:
            return [evaluate(arch, self.space, self.proxy, self.data, self.profile) for arch in archs]
        return list(self._pool.map(_evaluate_in_worker, [self.space.encode(a) for a in archs]))

    def close(self) -> None:
        """End the pool, or give torch back the thread count it had."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
        if self._threads_before is not None:
            torch.set_num_threads(self._threads_before)
            self._threads_before = None

    def __enter__(self) -> "LocalEvaluator":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def local_evaluator(space: searchspaces.SearchSpace, proxy: ProxyConfig, data: ProxyData, profile: Profile,
                    workers: int = 1, threads: int | None = None) -> LocalEvaluator:
    return LocalEvaluator(space, proxy, data, profile, workers, threads)


_WORKER: dict[str, Any] = {}


def _start_worker(parent: int, space_name: str, proxy: ProxyConfig, data: ProxyData, profile: Profile,
                  threads: int) -> None:
    exit_with_parent(parent)
    torch.set_num_threads(threads)
    _WORKER.update(space=searchspaces.get(space_name), proxy=proxy, data=data, profile=profile)


def _evaluate_in_worker(arch: str) -> Metrics:
    return evaluate(arch, _WORKER["space"], _WORKER["proxy"], _WORKER["data"], _WORKER["profile"])

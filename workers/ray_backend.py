"""Ray wiring: join or start Ray, and evaluate candidates as Ray tasks.

A search's data batch and device profile go to the object store once (``ray.put``); each task gets
references to them and one candidate's arch string, and runs ``nas.evaluate`` with one torch thread
(one task per core: see ``nas/search/evaluators.py`` for why one thread).
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any, Callable

import ray

import searchspaces
from nas.evaluate import Metrics, ProxyConfig, evaluate
from nas.latency import Profile
from nas.proxies import ProxyData
from nas.search import costs
from nas.search.runner import Stopped


def init_ray(address: str | None = None) -> dict[str, Any]:
    """Join the cluster at ``address`` or start a local Ray with this machine's cores; what it got.

    ``ray.init`` replaces the process's SIGTERM and SIGINT handlers with its own (``sys.exit`` from
    wherever the signal lands, after native stack dumps): the ones in place before (the server's
    graceful shutdown) are put back."""
    if not ray.is_initialized():
        options: dict[str, Any] = {"ignore_reinit_error": True, "logging_level": "WARNING",
                                   "include_dashboard": False, "log_to_driver": False}
        handlers = _handlers()
        if address:
            ray.init(address=address, **options)
        else:
            ray.init(num_cpus=os.cpu_count() or 1, **options)
        _restore(handlers)
    return {"address": address or "local", "cpus": ray.cluster_resources().get("CPU", 0)}


SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _handlers() -> dict[int, Any]:
    return {number: signal.getsignal(number) for number in SIGNALS}


def _restore(handlers: dict[int, Any]) -> None:
    if threading.current_thread() is threading.main_thread():  # only there can handlers be set
        for number, handler in handlers.items():
            if handler is not None:
                signal.signal(number, handler)


@ray.remote(num_cpus=1, max_retries=2)
def _evaluate_task(arch: str, space_name: str, proxy: ProxyConfig, data: ProxyData, profile: Profile) -> Metrics:
    import torch

    torch.set_num_threads(1)
    return evaluate(arch, searchspaces.get(space_name), proxy, data, profile)


class RayEvaluator:
    """Evaluate a batch of candidates as parallel Ray tasks; a task whose worker dies is retried.

    While it waits it reads ``should_stop`` every ``POLL_SECONDS``: on a cancel it cancels the
    batch's tasks, killing those under way (Ray never retries a cancelled task), and raises ``Stopped``."""

    POLL_SECONDS = 0.2

    def __init__(self, space: searchspaces.SearchSpace, proxy: ProxyConfig, data: ProxyData, profile: Profile,
                 *, should_stop: Callable[[], bool] = lambda: False) -> None:
        self.space, self.proxy, self.should_stop = space, proxy, should_stop
        self.memory = costs.task_bytes(space.name, proxy)  # the scheduler packs no more than fits
        self.data_ref, self.profile_ref = ray.put(data), ray.put(profile)

    def __call__(self, archs: list[Any]) -> list[Metrics]:
        task = _evaluate_task.options(memory=self.memory)
        refs = [task.remote(self.space.encode(a), self.space.name, self.proxy, self.data_ref, self.profile_ref)
                for a in archs]
        pending = refs
        while pending:
            if self.should_stop():
                for ref in pending:
                    ray.cancel(ref, force=True)
                raise Stopped(f"{len(pending)} of {len(refs)} evaluations abandoned")
            _, pending = ray.wait(pending, num_returns=len(pending), timeout=self.POLL_SECONDS)
        return ray.get(refs)

    def close(self) -> None:
        pass

"""Ray wiring: join or start Ray, and evaluate candidates as Ray tasks.

A search's data batch and device profile go to the object store once (``ray.put``); each task gets
references to them and one candidate's arch string, and runs ``nas.evaluate`` with one torch thread
(one task per core: see ``nas/search/evaluators.py`` for why one thread).
"""

from __future__ import annotations

import os
from typing import Any

import ray

import searchspaces
from nas.evaluate import Metrics, ProxyConfig, evaluate
from nas.latency import Profile
from nas.proxies import ProxyData


def init_ray(address: str | None = None) -> dict[str, Any]:
    """Join the cluster at ``address`` or start a local Ray with this machine's cores; what it got."""
    if not ray.is_initialized():
        options: dict[str, Any] = {"ignore_reinit_error": True, "logging_level": "WARNING",
                                   "include_dashboard": False, "log_to_driver": False}
        if address:
            ray.init(address=address, **options)
        else:
            ray.init(num_cpus=os.cpu_count() or 1, **options)
    return {"address": address or "local", "cpus": ray.cluster_resources().get("CPU", 0)}


@ray.remote(num_cpus=1, max_retries=2)
def _evaluate_task(arch: str, space_name: str, proxy: ProxyConfig, data: ProxyData, profile: Profile) -> Metrics:
    import torch

    torch.set_num_threads(1)
    return evaluate(arch, searchspaces.get(space_name), proxy, data, profile)


class RayEvaluator:
    """Evaluate a batch of candidates as parallel Ray tasks; a task whose worker dies is retried."""

    def __init__(self, space: searchspaces.SearchSpace, proxy: ProxyConfig, data: ProxyData, profile: Profile) -> None:
        self.space, self.proxy = space, proxy
        self.data_ref, self.profile_ref = ray.put(data), ray.put(profile)

    def __call__(self, archs: list[Any]) -> list[Metrics]:
        refs = [_evaluate_task.remote(self.space.encode(a), self.space.name, self.proxy, self.data_ref,
                                      self.profile_ref) for a in archs]
        return ray.get(refs)

    def close(self) -> None:
        pass

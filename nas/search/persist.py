"""A search against the database: results cached across searches, progress written per batch.

``stored_evaluator`` wraps an evaluator: proxy scores already computed for the same arch, proxy
settings and data, and latencies already predicted for the same arch and profile, come from the
store; only the rest is evaluated, then stored. ``Recorder`` writes a running search's new
candidates, its front, count and hypervolume after every batch, so whoever polls the search sees it
move. Both are used by ``nas search`` and by the service's workers.
"""

from __future__ import annotations

from typing import Any

import searchspaces
from nas.datasets.calibration import CalibrationSet, read_npz, stored_problems
from nas.errors import InvalidField
from nas.evaluate import BUILT_IN_DATA, Metrics, ProxyConfig, evaluate
from nas.latency import Profile
from nas.proxies import ProxyData
from nas.search.runner import Evaluator, Search, Stopped
from nas.storage import NotFound, Store


def stored_evaluator(
    store: Store,
    space: searchspaces.SearchSpace,
    proxy: ProxyConfig,
    data: ProxyData,
    profile: Profile,
    profile_id: int,
    inner: Evaluator,
) -> Evaluator:
    """An evaluator that reads and fills the store's score and latency caches; ``inner`` evaluates
    the candidates whose scores are not cached."""
    proxy_key = proxy.key()

    def run(archs: list[Any]) -> list[Metrics]:
        hashes = [space.arch_hash(a) for a in archs]
        scores = store.caches.scores(space.name, proxy_key, hashes)
        latencies = store.caches.latencies(profile_id, hashes)
        missing = [arch for arch, h in zip(archs, hashes) if h not in scores]
        computed = iter(inner(missing) if missing else [])
        results = [
            # Cached scores: only the latency may be left to predict, which is cheap.
            evaluate(arch, space, proxy, data, profile, scores=scores[h], latency_ms=latencies.get(h))
            if h in scores else next(computed)
            for arch, h in zip(archs, hashes)
        ]
        store.caches.put_scores(space.name, proxy_key, {m.arch_hash: m.scores for m in results if m.arch_hash not in scores})
        store.caches.put_latencies(profile_id, {m.arch_hash: m.latency_ms for m in results if m.arch_hash not in latencies})
        return results

    return run


def stored_dataset(store: Store, proxy: ProxyConfig, num_classes: int, load: bool = True) -> CalibrationSet | None:
    """The uploaded dataset ``proxy.data`` names (None for a built-in batch), checked against the
    search: ``InvalidField`` naming ``data`` or ``proxy_batch`` when it cannot serve it. With
    ``load=False`` only the checks run (None either way)."""
    if proxy.data in BUILT_IN_DATA:
        return None
    try:
        record = store.datasets.get(proxy.data)
    except NotFound:
        uploaded = [d.name for d in store.datasets.list()]
        raise InvalidField("data", f"unknown dataset {proxy.data!r}; built in: {', '.join(BUILT_IN_DATA)}; "
                           f"uploaded: {', '.join(uploaded) or 'none (POST /api/v1/datasets)'}") from None
    if record.num_classes > num_classes:
        raise InvalidField("data", f"dataset {record.name!r} has {record.num_classes} classes, more than the "
                           f"{num_classes} outputs of the networks the device profile describes")
    over = stored_problems(record.num_images, record.height, record.width, record.dtype)
    if over:
        raise InvalidField("data", f"dataset {record.name!r} was stored before this service's limits and breaks "
                           f"them ({'; '.join(problem.message for problem in over)}): upload it again within them")
    if proxy.needs_data() and proxy.batch_size > record.num_images:
        raise InvalidField("proxy_batch", f"dataset {record.name!r} holds {record.num_images} images; "
                           f"the proxy batch asks {proxy.batch_size}")
    if not load:
        return None
    statistics = (record.channel_mean, record.channel_std) if record.channel_mean and record.channel_std else None
    return read_npz(store.datasets.content(record.name), record.num_classes, statistics)


class Recorder:
    """Writes a search's progress to its row: new candidates, the front, count and hypervolume.

    A resumed search replays from its seed what it had evaluated (``resume_from`` candidates, served
    by the caches); while it catches up, the stored progress is left as it was, so no poller sees it
    go backwards, and the candidates it finds again are already stored (``add_candidates`` skips them).
    """

    def __init__(self, store: Store, search_id: int, resume_from: int = 0) -> None:
        self.store = store
        self.search_id = search_id
        self.resume_from = resume_from
        self.written = 0

    def __call__(self, search: Search) -> None:
        """Store what ``search`` found since the last call, in one transaction; ``Stopped`` when the
        search is no longer running (cancelled meanwhile), and then nothing of it is stored."""
        new = search.candidates[self.written:]
        rows = [c.row() for c in new]
        if search.evaluated < self.resume_from and not search.done:
            stored = self.store.searches.record(self.search_id, rows)
        else:
            stored = self.store.searches.record(
                self.search_id, rows, [c.metrics.arch_hash for c in search.front()],
                evaluated=search.evaluated, hypervolume=search.progress().hypervolume,
                history=[list(point) for point in search.history])
        if not stored:
            raise Stopped(f"search {self.search_id} is no longer running")
        self.written = len(search.candidates)

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
from nas.evaluate import Metrics, ProxyConfig, evaluate
from nas.latency import Profile
from nas.proxies import ProxyData
from nas.search.runner import Evaluator, Search
from nas.storage import Store


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
        scores = store.cached_scores(space.name, proxy_key, hashes)
        latencies = store.cached_latencies(profile_id, hashes)
        missing = [arch for arch, h in zip(archs, hashes) if h not in scores]
        computed = iter(inner(missing) if missing else [])
        results = [
            # Cached scores: only the latency may be left to predict, which is cheap.
            evaluate(arch, space, proxy, data, profile, scores=scores[h], latency_ms=latencies.get(h))
            if h in scores else next(computed)
            for arch, h in zip(archs, hashes)
        ]
        store.put_scores(space.name, proxy_key, {m.arch_hash: m.scores for m in results if m.arch_hash not in scores})
        store.put_latencies(profile_id, {m.arch_hash: m.latency_ms for m in results if m.arch_hash not in latencies})
        return results

    return run


class Recorder:
    """Writes a search's progress to its row: new candidates, the front, count and hypervolume."""

    def __init__(self, store: Store, search_id: int) -> None:
        self.store = store
        self.search_id = search_id
        self.written = 0

    def __call__(self, search: Search) -> None:
        new = search.candidates[self.written:]
        if new:
            self.store.add_candidates(self.search_id, [c.row() for c in new])
            self.written = len(search.candidates)
        self.store.set_pareto(self.search_id, [c.metrics.arch_hash for c in search.front()])
        progress = search.progress()
        self.store.update_search(
            self.search_id, evaluated=search.evaluated, hypervolume=progress.hypervolume,
            history=[list(point) for point in search.history],
        )

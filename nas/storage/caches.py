"""Results worth keeping across searches: proxy scores (a zero-cost proxy is a function of the network
and its settings only) and predicted latencies (a stored profile never changes).

Writes skip what is already there (``ON CONFLICT DO NOTHING``), so two workers caching the same
architecture at once both succeed.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from nas.storage import convert, lookups
from nas.storage.models import (
    HASH,
    NAME,
    LatencyCache,
    LatencyProfile,
    ProxyScoreCache,
    utcnow,
)
from nas.storage.records import NotFound, finite, finite_scores


class CacheRepository:
    """The proxy score cache, keyed by (space, proxy_key, arch_hash), and the latency cache, keyed by
    (profile_id, arch_hash)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def scores(self, space: str, proxy_key: str, arch_hashes: Iterable[str]) -> dict[str, dict[str, float]]:
        """The proxy scores already computed for ``arch_hashes`` under ``proxy_key``; missing ones are absent."""
        wanted = list(dict.fromkeys(arch_hashes))
        found: dict[str, dict[str, float]] = {}
        with self._sessions.begin() as session:
            for chunk in convert.chunks(wanted, lookups.CHUNK):
                query = select(ProxyScoreCache.arch_hash, ProxyScoreCache.scores).where(
                    ProxyScoreCache.space == space, ProxyScoreCache.proxy_key == proxy_key,
                    ProxyScoreCache.arch_hash.in_(chunk))
                found.update({h: dict(s) for h, s in session.execute(query)})
        return found

    def put_scores(self, space: str, proxy_key: str, scores: dict[str, dict[str, float]]) -> None:
        convert.check_text(space, "space", NAME)
        convert.check_text(proxy_key, "proxy_key", 128)
        rows = [{"space": space, "proxy_key": proxy_key, "arch_hash": convert.check_text(h, "arch_hash", HASH),
                 "scores": finite_scores(s, f"scores[{h!r}]"), "created_at": utcnow()} for h, s in scores.items()]
        with self._sessions.begin() as session:
            convert.insert_ignoring(session, ProxyScoreCache, rows, ["space", "proxy_key", "arch_hash"])

    def latencies(self, profile_id: int, arch_hashes: Iterable[str]) -> dict[str, float]:
        """The latencies already predicted for ``arch_hashes`` under profile ``profile_id``."""
        wanted = list(dict.fromkeys(arch_hashes))
        found: dict[str, float] = {}
        with self._sessions.begin() as session:
            for chunk in convert.chunks(wanted, lookups.CHUNK):
                query = select(LatencyCache.arch_hash, LatencyCache.latency_ms).where(
                    LatencyCache.profile_id == profile_id, LatencyCache.arch_hash.in_(chunk))
                found.update({h: ms for h, ms in session.execute(query)})
        return found

    def put_latencies(self, profile_id: int, latencies: dict[str, float]) -> None:
        rows = [{"profile_id": profile_id, "arch_hash": convert.check_text(h, "arch_hash", HASH),
                 "latency_ms": finite(ms, f"latencies[{h!r}]"), "created_at": utcnow()} for h, ms in latencies.items()]
        with self._sessions.begin() as session:
            if rows and session.get(LatencyProfile, profile_id) is None:
                raise NotFound(f"no latency profile with id {profile_id}")
            convert.insert_ignoring(session, LatencyCache, rows, ["profile_id", "arch_hash"])

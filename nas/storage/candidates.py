"""Evaluated candidates of a search (one per architecture hash), the search's Pareto front among them,
and the points a plot of a search of any size needs.

The front itself is computed by ``nas.search.pareto`` on plain arrays; this only records which
candidates are on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from nas.errors import InvalidField
from nas.storage import convert, lookups
from nas.storage.models import Candidate, utcnow
from nas.storage.records import CandidatePoint, CandidateRecord, NotFound

SORTS = {"score": Candidate.score, "latency_ms": Candidate.latency_ms, "params": Candidate.params,
         "macs": Candidate.macs, "created": Candidate.id}
PLOTTED = (Candidate.id, Candidate.arch, Candidate.score, Candidate.latency_ms, Candidate.params,
           Candidate.macs, Candidate.feasible, Candidate.is_pareto)


class CandidateRepository:
    """Candidates by search: unique per (search, arch_hash), paged and sorted on read."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def add(self, search_id: int, rows: Sequence[dict[str, Any]]) -> int:
        """Store evaluated candidates; one whose ``arch_hash`` the search already has is skipped.

        Returns how many were new.
        """
        values = checked_rows(rows)
        with self._sessions.begin() as session:
            lookups.search(session, search_id)
            return insert_new(session, search_id, values)

    def set_pareto(self, search_id: int, arch_hashes: Iterable[str]) -> None:
        """Mark exactly ``arch_hashes`` as the search's Pareto front."""
        with self._sessions.begin() as session:
            lookups.search(session, search_id)
            mark_front(session, search_id, arch_hashes)

    def list(self, search_id: int, *, pareto_only: bool = False, sort: str = "score",
             descending: bool = True, limit: int = 100, offset: int = 0) -> list[CandidateRecord]:
        """A page of the search's candidates, ordered by ``sort`` (ties by insertion order)."""
        if sort not in SORTS:
            raise InvalidField("sort", f"unknown sort key {sort!r}; one of {', '.join(SORTS)}")
        convert.check_page(limit, offset)
        column = SORTS[sort]
        order = [column.desc() if descending else column.asc()]
        if sort != "created":
            order.append(Candidate.id.desc() if descending else Candidate.id.asc())
        query = select(Candidate).where(Candidate.search_id == search_id)
        if pareto_only:
            query = query.where(Candidate.is_pareto.is_(True))
        with self._sessions.begin() as session:
            lookups.search(session, search_id)
            rows = session.scalars(query.order_by(*order).limit(limit).offset(offset))
            return [convert.candidate(c) for c in rows]

    def count(self, search_id: int, pareto_only: bool = False) -> int:
        query = select(func.count()).select_from(Candidate).where(Candidate.search_id == search_id)
        if pareto_only:
            query = query.where(Candidate.is_pareto.is_(True))
        with self._sessions.begin() as session:
            lookups.search(session, search_id)
            return session.scalar(query) or 0

    def plot_points(self, search_id: int, sample: int) -> tuple[list[CandidatePoint], list[CandidatePoint], int]:
        """The search's front in full (fastest first), at most ``sample`` of its other candidates spread
        over evaluation order (every k-th id), and how many candidates it has: what a plot of a search
        of any size needs, reading only the plotted columns."""
        if isinstance(sample, bool) or not isinstance(sample, int) or sample < 0:
            raise InvalidField("sample", f"must be a non-negative integer, got {sample!r}")
        mine = Candidate.search_id == search_id
        with self._sessions.begin() as session:
            lookups.search(session, search_id)
            total = session.scalar(select(func.count()).select_from(Candidate).where(mine)) or 0
            front = session.execute(select(*PLOTTED).where(mine, Candidate.is_pareto.is_(True))
                                    .order_by(Candidate.latency_ms, Candidate.id)).all()
            others = []
            rest = total - len(front)
            if sample and rest:
                # Every k-th by id, in SQL over the (search_id, is_pareto, id) index: ids of one search are
                # nearly contiguous (searches running side by side interleave by batches), so this spreads
                # the sample over the whole search; LIMIT keeps it within ``sample`` however ids fall.
                step = -(-rest // sample)
                others = session.execute(select(*PLOTTED).where(mine, Candidate.is_pareto.is_(False),
                                                                Candidate.id % step == 0)
                                         .order_by(Candidate.id).limit(sample)).all()
        return [CandidatePoint(*row) for row in front], [CandidatePoint(*row) for row in others], total

    def get(self, candidate_id: int) -> CandidateRecord:
        if not lookups.is_id(candidate_id):
            raise NotFound(f"no candidate with id {candidate_id}")
        with self._sessions.begin() as session:
            found = session.get(Candidate, candidate_id)
            if found is None:
                raise NotFound(f"no candidate with id {candidate_id}")
            return convert.candidate(found)


def checked_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [convert.candidate_row(row, f"rows[{i}]") for i, row in enumerate(rows)]


def insert_new(session: Session, search_id: int, values: list[dict[str, Any]]) -> int:
    """Insert the checked ``values`` whose arch hash the search does not have yet; how many were new."""
    seen = set(lookups.existing(session, Candidate.arch_hash, [v["arch_hash"] for v in values],
                                Candidate.search_id == search_id))
    new = []
    for value in values:
        if value["arch_hash"] not in seen:
            seen.add(value["arch_hash"])
            new.append({**value, "search_id": search_id, "is_pareto": False, "created_at": utcnow()})
    convert.insert_ignoring(session, Candidate, new, ["search_id", "arch_hash"])
    return len(new)


def mark_front(session: Session, search_id: int, arch_hashes: Iterable[str]) -> None:
    """Mark exactly ``arch_hashes`` as the search's front; ``NotFound`` naming any it does not have."""
    front = set(arch_hashes)
    mine = Candidate.search_id == search_id
    known = set(lookups.existing(session, Candidate.arch_hash, front, mine))
    if front - known:
        raise NotFound(f"search {search_id} has no candidates with arch_hash "
                       f"{convert.listing(sorted(front - known))}")
    session.execute(update(Candidate).where(mine).values(is_pareto=False))
    for chunk in convert.chunks(sorted(front), lookups.CHUNK):
        session.execute(update(Candidate).where(mine, Candidate.arch_hash.in_(chunk)).values(is_pareto=True))

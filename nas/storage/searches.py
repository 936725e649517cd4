"""Searches: their request, their life cycle (queued, running, one final status) and their progress,
and the summary of their results that a listing shows.

queued -> running | a final status; running -> queued (to resume after a restart) | a final status
(succeeded, failed, cancelled); a final status never changes, so a worker finishing after a cancel
cannot undo it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from nas.errors import InvalidField
from nas.storage import candidates, convert, lookups
from nas.storage.models import NAME, Candidate, LatencyProfile, Search, utcnow
from nas.storage.records import (
    FINAL_STATUSES,
    InvalidTransition,
    NotFound,
    SearchRecord,
    SearchSummary,
    check_status,
    finite,
)

# running -> queued: a search cut off by a stop of the service goes back in the queue to resume.
NEXT_STATUSES = {"queued": {"running", *FINAL_STATUSES}, "running": {"queued", *FINAL_STATUSES}}


class SearchRepository:
    """Searches, newest first in listings; every change locks the search's row."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def create(self, request: dict[str, Any], *, space: str, device: str, profile_id: int | None,
               strategy: str, budget: int, seed: int | None, owner: str | None = None) -> SearchRecord:
        """A new search, queued; ``profile_id`` must be one of ``device``'s profiles for ``space``."""
        if not isinstance(request, dict):
            raise InvalidField("request", f"must be a JSON object, got {type(request).__name__}")
        convert.check_json(request, "request")
        convert.check_text(space, "space", NAME)
        convert.check_text(strategy, "strategy", NAME)
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 0:
            raise InvalidField("budget", f"must be a non-negative integer, got {budget!r}")
        with self._sessions.begin() as session:
            device_row = lookups.device(session, device)
            if profile_id is not None:
                profile = session.get(LatencyProfile, profile_id)
                if profile is None:
                    raise NotFound(f"no latency profile with id {profile_id}")
                if profile.device_id != device_row.id or profile.search_space != space:
                    raise InvalidField("profile_id", f"profile {profile_id} is for device {profile.device.name!r} "
                                                     f"and space {profile.search_space!r}, not {device!r} and {space!r}")
            search = Search(request=request, space=space, device=device_row, profile_id=profile_id,
                            strategy=strategy, budget=budget, seed=seed, status="queued", evaluated=0,
                            history=[], owner=owner)
            session.add(search)
            session.flush()
            return convert.search(search)

    def attach_profile(self, search_id: int, profile_id: int) -> SearchRecord:
        """Give a queued search that waited for its device's profile (this machine's, being fitted)
        that profile; it must be of the search's device and space."""
        with self._sessions.begin() as session:
            search = lookups.search(session, search_id, lock=True)
            profile = session.get(LatencyProfile, profile_id)
            if profile is None or profile.device_id != search.device_id or profile.search_space != search.space:
                raise ValueError(f"profile_id: {profile_id} is not a profile of the search's device and space")
            search.profile_id = profile_id
            search.request = {**search.request, "profile_version": profile.version}
            session.flush()
            return convert.search(search)

    def get(self, search_id: int) -> SearchRecord:
        with self._sessions.begin() as session:
            return convert.search(lookups.search(session, search_id))

    def count(self, status: str) -> int:
        """How many searches have ``status`` (the queue's length: ``count("queued")``)."""
        query = select(func.count()).select_from(Search).where(Search.status == check_status(status))
        with self._sessions.begin() as session:
            return session.scalar(query) or 0

    def list(self, status: str | None = None, space: str | None = None, limit: int = 100,
             offset: int = 0) -> list[SearchRecord]:
        """Newest first."""
        convert.check_page(limit, offset)
        query = select(Search)
        if status is not None:
            query = query.where(Search.status == check_status(status))
        if space is not None:
            if not convert.nameable(space):
                return []
            query = query.where(Search.space == space)
        query = query.order_by(Search.id.desc()).limit(limit).offset(offset)
        with self._sessions.begin() as session:
            return [convert.search(s) for s in session.scalars(query)]

    def update(self, search_id: int, *, status: str | None = None, evaluated: int | None = None,
               hypervolume: float | None = None, history: Sequence[Sequence[float]] | None = None,
               error: str | None = None) -> SearchRecord:
        """Record progress or a status change (see the module's life cycle); the times are set by the
        change. ``started_at`` is the first start: a resumed search keeps it."""
        if status is not None:
            check_status(status)
        progress = _progress(evaluated, hypervolume, history)
        with self._sessions.begin() as session:
            search = lookups.search(session, search_id, lock=True)
            if status is not None and status != search.status:
                _move(search, status)
            _apply(search, progress)
            if error is not None:
                search.error = error
            session.flush()
            return convert.search(search)

    def record(self, search_id: int, rows: Sequence[dict[str, Any]], front: Iterable[str] | None = None, *,
               evaluated: int | None = None, hypervolume: float | None = None,
               history: Sequence[Sequence[float]] | None = None) -> bool:
        """Store a running search's batch in one transaction: its new candidates (``rows``), its front
        (arch hashes; None: as it was) and its progress. Only while the search is ``running``: once a cancel (or any
        other status change) is committed, nothing more is stored and the answer is False, so the
        counts a cancel answered stay true."""
        values = candidates.checked_rows(rows)
        progress = _progress(evaluated, hypervolume, history)
        with self._sessions.begin() as session:
            try:
                search = lookups.search(session, search_id, lock=True)
            except NotFound:  # deleted after its cancel, while the batch under way ended
                return False
            if search.status != "running":
                return False
            candidates.insert_new(session, search_id, values)
            if front is not None:
                candidates.mark_front(session, search_id, front)
            _apply(search, progress)
            return True

    def delete(self, search_id: int) -> SearchRecord:
        """Delete a finished search and its candidates, in one transaction; ``InvalidTransition`` while
        it is queued or running (cancel it first), ``NotFound`` for an unknown id."""
        with self._sessions.begin() as session:
            search = lookups.search(session, search_id, lock=True)
            if search.status not in FINAL_STATUSES:
                raise InvalidTransition(f"search {search_id} is {search.status}: cancel it first")
            record = convert.search(search)
            session.execute(delete(Candidate).where(Candidate.search_id == search_id))
            session.delete(search)
            return record

    def summaries(self, search_ids: Iterable[int]) -> dict[int, SearchSummary]:
        """Each search's front size and best front score, by search id, in one grouped query (per
        ``CHUNK`` ids): what a listing shows without two queries per search.

        Every existing search asked for is in the answer (front size 0 and no best score while its
        front is empty); an id that names no search is simply absent.
        """
        wanted = [i for i in dict.fromkeys(search_ids) if lookups.is_id(i)]
        on_front = and_(Candidate.search_id == Search.id, Candidate.is_pareto.is_(True))
        found: dict[int, SearchSummary] = {}
        with self._sessions.begin() as session:
            for chunk in convert.chunks(wanted, lookups.CHUNK):
                query = (select(Search.id, func.count(Candidate.id), func.max(Candidate.score))
                         .select_from(Search).outerjoin(Candidate, on_front)
                         .where(Search.id.in_(chunk)).group_by(Search.id))
                found.update({search_id: SearchSummary(search_id, size, best)
                              for search_id, size, best in session.execute(query)})
        return found


def _progress(evaluated: int | None, hypervolume: float | None,
              history: Sequence[Sequence[float]] | None) -> dict[str, Any]:
    """The progress fields given, checked: evaluated count, hypervolume, history pairs."""
    if evaluated is not None and (isinstance(evaluated, bool) or not isinstance(evaluated, int) or evaluated < 0):
        raise ValueError(f"evaluated: must be a non-negative integer, got {evaluated!r}")
    changes = {"evaluated": evaluated, "hypervolume": None if hypervolume is None else finite(hypervolume, "hypervolume"),
               "history": None if history is None else convert.history(history)}
    return {field: value for field, value in changes.items() if value is not None}


def _apply(search: Search, progress: dict[str, Any]) -> None:
    for field, value in progress.items():
        setattr(search, field, value)


def _move(search: Search, status: str) -> None:
    """Change ``search``'s status if its life cycle allows it, stamping the start and the finish."""
    if status not in NEXT_STATUSES.get(search.status, ()):
        raise InvalidTransition(f"status: search {search.id} is {search.status}; it cannot become {status}")
    search.status = status
    if status == "running" and search.started_at is None:
        search.started_at = utcnow()
    if status in FINAL_STATUSES:
        search.finished_at = utcnow()

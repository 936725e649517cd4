"""Searches: submit (202, queued), list, status and progress, cancel, candidates and the front.

Routes are thin: a submitted request is checked by ``nas.search.request.SearchRequest`` and queued by
``nas.search.service.submit`` (every bad field is a 422 naming it); the dispatcher in ``workers``
runs it through ``nas.search.service.run``.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, Query, Request

from api import errors
from api.deps import StoreDep
from api.schemas import CandidateOut, CandidatePage, SearchOut, SearchPlot
from nas.errors import known_space
from nas.proxies import FLOOR
from nas.search import service
from nas.search.request import SearchRequest
from nas.storage import (
    SEARCH_STATUSES,
    SORTS,
    CandidatePoint,
    CandidateRecord,
    InvalidTransition,
    NotFound,
    SearchRecord,
    SearchSummary,
    Store,
)

router = APIRouter(tags=["searches"])

UNKNOWN_SEARCH = {404: errors.error("no search with that id")}
MAX_OFFSET = 2**31 - 1
Status = Literal[SEARCH_STATUSES]  # type: ignore[valid-type]
Sort = Literal[tuple(SORTS)]  # type: ignore[valid-type]


def _search_out(store: Store, record: SearchRecord, summary: SearchSummary | None = None) -> dict:
    """A search as the API shows it; ``summary`` (its front's size and best score) when the caller
    has it already, as a listing does for a whole page in one query."""
    if summary is None:
        summary = store.searches.summaries([record.id]).get(record.id, SearchSummary(record.id, 0, None))
    return {
        "id": record.id, "status": record.status, "space": record.space, "device": record.device,
        "profile_version": record.request.get("profile_version"), "strategy": record.strategy,
        "waiting": (f"this machine's calibration for {record.space} (timing networks here)"
                    if record.status == "queued" and record.profile_id is None else None),
        "budget": record.budget, "seed": record.seed, "evaluated": record.evaluated,
        "progress": record.evaluated / record.budget if record.budget else 0.0,
        "hypervolume": record.hypervolume, "history": record.history,
        "front_size": summary.front_size, "best_score": summary.best_score, "request": record.request, "error": record.error,
        "created_at": record.created_at.isoformat(),
        "started_at": record.started_at.isoformat() if record.started_at else None,
        "finished_at": record.finished_at.isoformat() if record.finished_at else None,
    }


def _candidate_out(c: CandidateRecord) -> dict:
    return {"id": c.id, "arch": c.arch, "arch_hash": c.arch_hash, "score": c.score, "scores": c.scores,
            "latency_ms": c.latency_ms, "params": c.params, "macs": c.macs, "flops": c.macs, "feasible": c.feasible,
            "is_pareto": c.is_pareto, "created_at": c.created_at.isoformat(),
            "links": {form: f"/api/v1/candidates/{c.id}/model?format={form}" for form in ("onnx", "json")}}


def _get(store: Store, search_id: int) -> SearchRecord:
    try:
        return store.searches.get(search_id)
    except NotFound as error:
        raise HTTPException(status_code=404, detail=str(error)) from None


@router.post("/searches", response_model=SearchOut, status_code=202,
             responses={413: errors.error("the body is over NAS_MAX_UPLOAD_BYTES")})
def submit_search(body: SearchRequest, request: Request, store: StoreDep) -> dict:
    """Queue a search. Only ``space`` is required: the shipped device profile, the default strategy
    (tpe) and proxy (synflow) fill the rest. Returns at once with the search's id, status queued."""
    record = service.submit(store, body)
    dispatcher = getattr(request.app.state, "dispatcher", None)
    if dispatcher is not None:
        dispatcher.wake()
    return _search_out(store, record)


@router.get("/searches", response_model=list[SearchOut])
def list_searches(
    store: StoreDep,
    status: Status | None = Query(None, description="only searches with this status"),
    space: str | None = Query(None, description="only searches of this space (GET /spaces)"),
    limit: int = Query(50, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> list[dict]:
    """Searches, newest first."""
    if space is not None:
        known_space(space, where="query")
    page = store.searches.list(status=status, space=space, limit=limit, offset=offset)
    summaries = store.searches.summaries([r.id for r in page])
    return [_search_out(store, r, summaries.get(r.id)) for r in page]


@router.get("/searches/{search_id}", response_model=SearchOut, responses=UNKNOWN_SEARCH)
def get_search(search_id: int, store: StoreDep) -> dict:
    """Status and progress: evaluated / budget, hypervolume after every batch, the front's size."""
    return _search_out(store, _get(store, search_id))


@router.post("/searches/{search_id}/cancel", response_model=SearchOut,
             responses={**UNKNOWN_SEARCH, 409: errors.error("the search has already finished")})
def cancel_search(search_id: int, store: StoreDep) -> dict:
    """Cancel a queued or running search; a running one stops after its current batch and keeps
    what it found."""
    record = _get(store, search_id)
    try:
        record = store.searches.update(search_id, status="cancelled")
    except InvalidTransition:
        raise HTTPException(status_code=409, detail=f"status: search {search_id} is already {record.status}") from None
    return _search_out(store, record)


@router.get("/searches/{search_id}/candidates", response_model=CandidatePage, responses=UNKNOWN_SEARCH)
def list_candidates(
    store: StoreDep,
    search_id: int,
    sort: Sort = Query("score", description="the column to sort by (created: evaluation order)"),
    descending: bool = True,
    limit: int = Query(100, ge=1, le=10_000),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> dict:
    """The search's candidates, a page at a time, sorted."""
    _get(store, search_id)
    items = store.candidates.list(search_id, sort=sort, descending=descending, limit=limit, offset=offset)
    return {"total": store.candidates.count(search_id), "limit": limit, "offset": offset,
            "items": [_candidate_out(c) for c in items]}


@router.get("/searches/{search_id}/plot", response_model=SearchPlot, responses=UNKNOWN_SEARCH)
def search_plot(
    store: StoreDep,
    search_id: int,
    points: int = Query(2000, ge=0, le=20_000, description="most dominated candidates to send"),
) -> dict:
    """What the dashboard plots: the search, its front in full and a spread sample of the rest, so a
    search of any size is one small response."""
    record = _get(store, search_id)
    front, others, total = store.candidates.plot_points(search_id, points)

    def point(p: CandidatePoint) -> dict:
        return {"id": p.id, "arch": p.arch, "score": p.score, "latency_ms": p.latency_ms, "params": p.params,
                "macs": p.macs, "flops": p.macs, "feasible": p.feasible}

    sample = [point(p) for p in others if p.score > FLOOR]
    return {"search": _search_out(store, record), "front": [point(p) for p in front], "sample": sample,
            "total": total, "sampled": len(sample)}


@router.get("/searches/{search_id}/pareto", response_model=list[CandidateOut], responses=UNKNOWN_SEARCH)
def pareto_front(search_id: int, store: StoreDep) -> list[dict]:
    """The front: feasible non-dominated candidates, fastest first."""
    _get(store, search_id)
    front = store.candidates.list(search_id, pareto_only=True, sort="latency_ms", descending=False, limit=10_000)
    return [_candidate_out(c) for c in front]

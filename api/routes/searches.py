"""Searches: submit (202, queued), list, status and progress, cancel, candidates and the front.

Routes are thin: a submitted request is checked by ``nas.search.request.SearchRequest`` and queued by
``nas.search.service.submit`` (every bad field is a 422 naming it); the dispatcher in ``workers``
runs it through ``nas.search.service.run``.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Request, Response

from api import errors
from api.auth import READ, Member
from api.deps import StoreDep
from api.schemas import (
    CandidateOut,
    CandidatePage,
    CandidateSort,
    SearchOut,
    SearchPlot,
    SearchStatus,
)
from nas.errors import known_space
from nas.proxies import FLOOR
from nas.search import service
from nas.search.request import SearchRequest
from nas.storage import (
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
        "created_at": record.created_at, "started_at": record.started_at, "finished_at": record.finished_at,
        "owner": record.owner,
    }


def _candidate_out(c: CandidateRecord) -> dict:
    return {"id": c.id, "search_id": c.search_id, "arch": c.arch, "arch_hash": c.arch_hash, "score": c.score, "scores": c.scores,
            "latency_ms": c.latency_ms, "params": c.params, "macs": c.macs, "flops": c.macs, "feasible": c.feasible,
            "is_pareto": c.is_pareto, "created_at": c.created_at,
            "links": {"onnx": f"/api/v1/candidates/{c.id}/model.onnx", "json": f"/api/v1/candidates/{c.id}/architecture"}}


def _get(store: Store, search_id: int) -> SearchRecord:
    try:
        return store.searches.get(search_id)
    except NotFound as error:
        raise HTTPException(status_code=404, detail=str(error)) from None


@router.post("/searches", response_model=SearchOut, status_code=202, operation_id="submitSearch",
             responses={**errors.TOO_LARGE, 429: errors.error("as many searches wait as NAS_MAX_QUEUED_SEARCHES allows")})
def submit_search(body: SearchRequest, request: Request, store: StoreDep, caller: Member) -> dict:
    """Queue a search. Only ``space`` is required: the shipped device profile, the default strategy
    (tpe) and proxy (synflow) fill the rest. Returns at once with the search's id, status queued.
    A budget over ``NAS_MAX_BUDGET`` or a proxy batch over what one evaluation may hold is a 422; a
    full queue, a 429 (retry after the seconds it says)."""
    settings = request.app.state.settings
    limits = service.Limits(max_budget=settings.max_budget, max_queued=settings.max_queued_searches)
    try:
        record = service.submit(store, body, limits=limits, owner=caller.name)
    except service.QueueFull as error:
        raise HTTPException(status_code=429, detail=str(error), headers={"Retry-After": "30"}) from None
    dispatcher = getattr(request.app.state, "dispatcher", None)
    if dispatcher is not None:
        dispatcher.wake()
    return _search_out(store, record)


@router.get("/searches", response_model=list[SearchOut], operation_id="listSearches", dependencies=[READ])
def list_searches(
    store: StoreDep,
    status: SearchStatus | None = Query(None, description="only searches with this status"),
    space: str | None = Query(None, description="only searches of this space (GET /spaces)"),
    limit: int = Query(50, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> list[dict]:
    """Searches, newest first."""
    if space is not None:
        known_space(space, where="query")
    page = store.searches.list(status=status and status.value, space=space, limit=limit, offset=offset)
    summaries = store.searches.summaries([r.id for r in page])
    return [_search_out(store, r, summaries.get(r.id)) for r in page]


@router.get("/searches/{search_id}", response_model=SearchOut, operation_id="getSearch", responses=UNKNOWN_SEARCH,
            dependencies=[READ])
def get_search(search_id: int, store: StoreDep) -> dict:
    """Status and progress: evaluated / budget, hypervolume after every batch, the front's size."""
    return _search_out(store, _get(store, search_id))


@router.post("/searches/{search_id}/cancel", response_model=SearchOut, operation_id="cancelSearch",
             responses={**UNKNOWN_SEARCH, 409: errors.error("the search has already finished"), **errors.TOO_LARGE})
def cancel_search(search_id: int, store: StoreDep, caller: Member) -> dict:
    """Cancel a queued or running search (its owner or an admin). It is final: a running one's evaluations
    under way are stopped, nothing more is stored after this answer, and what it had stored stays."""
    record = _get(store, search_id)
    caller.check_owns(record.owner, f"search {search_id}")
    try:
        record = store.searches.update(search_id, status="cancelled")
    except InvalidTransition:
        raise HTTPException(status_code=409, detail=f"status: search {search_id} is already {record.status}") from None
    return _search_out(store, record)


@router.delete("/searches/{search_id}", status_code=204, operation_id="deleteSearch",
               responses={**UNKNOWN_SEARCH, 409: errors.error("the search is queued or running: cancel it first")})
def delete_search(search_id: int, store: StoreDep, caller: Member) -> Response:
    """Delete a finished search (succeeded, failed or cancelled) and its candidates, for good (its owner
    or an admin). A queued or running one is cancelled first (409 until then)."""
    record = _get(store, search_id)
    caller.check_owns(record.owner, f"search {search_id}")
    try:
        store.searches.delete(search_id)
    except InvalidTransition as error:
        raise HTTPException(status_code=409, detail=f"status: {error}") from None
    except NotFound:  # deleted meanwhile
        pass
    return Response(status_code=204)


@router.get("/candidates/{candidate_id}", response_model=CandidateOut, operation_id="getCandidate",
            responses={404: errors.error("no candidate with that id")}, dependencies=[READ])
def get_candidate(candidate_id: int, store: StoreDep) -> dict:
    """One candidate: its scores, predicted latency, size and export links."""
    try:
        return _candidate_out(store.candidates.get(candidate_id))
    except NotFound as error:
        raise HTTPException(status_code=404, detail=f"candidate_id: {error}") from None


@router.get("/searches/{search_id}/candidates", response_model=CandidatePage, operation_id="listCandidates",
            responses=UNKNOWN_SEARCH, dependencies=[READ])
def list_candidates(
    store: StoreDep,
    search_id: int,
    sort: CandidateSort = Query(CandidateSort.score, description="the column to sort by (created: evaluation order)"),
    descending: bool = True,
    limit: int = Query(100, ge=1, le=10_000),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> dict:
    """The search's candidates, a page at a time, sorted."""
    _get(store, search_id)
    items = store.candidates.list(search_id, sort=sort.value, descending=descending, limit=limit, offset=offset)
    return {"total": store.candidates.count(search_id), "limit": limit, "offset": offset,
            "items": [_candidate_out(c) for c in items]}


@router.get("/searches/{search_id}/plot", response_model=SearchPlot, operation_id="getSearchPlot",
            responses=UNKNOWN_SEARCH, dependencies=[READ])
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


@router.get("/searches/{search_id}/pareto", response_model=list[CandidateOut], operation_id="getParetoFront",
            responses=UNKNOWN_SEARCH, dependencies=[READ])
def pareto_front(search_id: int, store: StoreDep) -> list[dict]:
    """The front: feasible non-dominated candidates, fastest first."""
    _get(store, search_id)
    front = store.candidates.list(search_id, pareto_only=True, sort="latency_ms", descending=False, limit=10_000)
    return [_candidate_out(c) for c in front]

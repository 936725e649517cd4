"""Searches: submit (202, queued), list, status and progress, cancel, candidates and the front.

Routes are thin: a submitted request is checked by ``nas.search.request.SearchRequest`` (every bad
field is a 422 naming it) and stored as queued; the dispatcher in ``workers`` runs it.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request

import searchspaces
from api import errors
from api.deps import get_store
from api.schemas import CandidateOut, CandidatePage, SearchOut, SearchPlot
from nas.latency.local import is_local
from nas.latency.shipped import reference_table
from nas.proxies import FLOOR
from nas.search.persist import stored_dataset
from nas.search.request import SearchRequest
from nas.storage import (
    SEARCH_STATUSES,
    SORTS,
    CandidatePoint,
    CandidateRecord,
    InvalidTransition,
    NotFound,
    ProfileRecord,
    SearchRecord,
    Store,
)
from nas.storage.here import ensure_local_device

router = APIRouter(tags=["searches"])

UNKNOWN_SEARCH = {404: errors.error("no search with that id")}
MAX_OFFSET = 2**31 - 1
Status = Literal[SEARCH_STATUSES]  # type: ignore[valid-type]
Sort = Literal[tuple(SORTS)]  # type: ignore[valid-type]


def _search_out(store: Store, record: SearchRecord) -> dict:
    front = store.list_candidates(record.id, pareto_only=True, limit=1, sort="score")
    return {
        "id": record.id, "status": record.status, "space": record.space, "device": record.device,
        "profile_version": record.request.get("profile_version"), "strategy": record.strategy,
        "waiting": (f"this machine's calibration for {record.space} (timing networks here)"
                    if record.status == "queued" and record.profile_id is None else None),
        "budget": record.budget, "seed": record.seed, "evaluated": record.evaluated,
        "progress": record.evaluated / record.budget if record.budget else 0.0,
        "hypervolume": record.hypervolume, "history": record.history,
        "front_size": store.count_candidates(record.id, pareto_only=True),
        "best_score": front[0].score if front else None, "request": record.request, "error": record.error,
        "created_at": record.created_at.isoformat(),
        "started_at": record.started_at.isoformat() if record.started_at else None,
        "finished_at": record.finished_at.isoformat() if record.finished_at else None,
    }


def _candidate_out(c: CandidateRecord) -> dict:
    return {"id": c.id, "arch": c.arch, "arch_hash": c.arch_hash, "score": c.score, "scores": c.scores,
            "latency_ms": c.latency_ms, "params": c.params, "flops": c.flops, "feasible": c.feasible,
            "is_pareto": c.is_pareto, "created_at": c.created_at.isoformat(),
            "links": {form: f"/api/v1/candidates/{c.id}/model?format={form}" for form in ("onnx", "json")}}


def _get(store: Store, search_id: int) -> SearchRecord:
    try:
        return store.get_search(search_id)
    except NotFound as error:
        raise HTTPException(status_code=404, detail=str(error)) from None


def _invalid(field: str, message: str) -> HTTPException:
    return errors.invalid(["body", field], message)


def _profile(store: Store, body: SearchRequest) -> ProfileRecord | None:
    """The device's profile the search will use; ``None`` for this machine's own device before its
    profile of the space is fitted (the search waits in the queue for it)."""
    try:
        return store.get_profile(body.device, body.space, body.profile_version)
    except NotFound as error:
        if is_local(body.device) and body.profile_version is None:
            ensure_local_device(store)
            return None
        field = "profile_version" if body.profile_version else "device"
        raise _invalid(field, f"{field}: {error}") from None


@router.post("/searches", response_model=SearchOut, status_code=202,
             responses={413: errors.error("the body is over NAS_MAX_UPLOAD_BYTES")})
def submit_search(body: SearchRequest, request: Request, store: Store = Depends(get_store)) -> dict:
    """Queue a search. Only ``space`` is required: the shipped device profile, the default strategy
    (tpe) and proxy (synflow) fill the rest. Returns at once with the search's id, status queued."""
    try:
        config = body.to_config()
    except KeyError as error:  # unknown space
        raise _invalid("space", str(error.args[0]) if error.args else "unknown space") from None
    except ValueError as error:
        field = str(error).partition(":")[0].split(".")[-1].strip() or "body"
        raise _invalid(field, str(error)) from None
    profile = _profile(store, body)
    num_classes = store.load_profile(profile.id).num_classes if profile else reference_table(body.space).num_classes
    try:
        stored_dataset(store, config.proxy, num_classes, load=False)
    except ValueError as error:
        raise _invalid(str(error).partition(":")[0], str(error)) from None
    stored = {**body.model_dump(), "profile_version": profile.version if profile else None}
    record = store.create_search(stored, space=config.space, device=body.device,
                                 profile_id=profile.id if profile else None,
                                 strategy=config.strategy, budget=config.budget, seed=config.seed)
    dispatcher = getattr(request.app.state, "dispatcher", None)
    if dispatcher is not None:
        dispatcher.wake()
    return _search_out(store, record)


@router.get("/searches", response_model=list[SearchOut])
def list_searches(
    status: Status | None = Query(None, description="only searches with this status"),
    space: str | None = Query(None, description="only searches of this space (GET /spaces)"),
    limit: int = Query(50, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
    store: Store = Depends(get_store),
) -> list[dict]:
    """Searches, newest first."""
    if space is not None and space not in searchspaces.names():
        raise errors.invalid(["query", "space"], f"space: unknown search space {space!r}; known spaces: "
                             + ", ".join(searchspaces.names()))
    return [_search_out(store, r) for r in store.list_searches(status=status, space=space, limit=limit,
                                                               offset=offset)]


@router.get("/searches/{search_id}", response_model=SearchOut, responses=UNKNOWN_SEARCH)
def get_search(search_id: int, store: Store = Depends(get_store)) -> dict:
    """Status and progress: evaluated / budget, hypervolume after every batch, the front's size."""
    return _search_out(store, _get(store, search_id))


@router.post("/searches/{search_id}/cancel", response_model=SearchOut,
             responses={**UNKNOWN_SEARCH, 409: errors.error("the search has already finished")})
def cancel_search(search_id: int, store: Store = Depends(get_store)) -> dict:
    """Cancel a queued or running search; a running one stops after its current batch and keeps
    what it found."""
    record = _get(store, search_id)
    try:
        record = store.update_search(search_id, status="cancelled")
    except InvalidTransition:
        raise HTTPException(status_code=409, detail=f"status: search {search_id} is already {record.status}") from None
    return _search_out(store, record)


@router.get("/searches/{search_id}/candidates", response_model=CandidatePage, responses=UNKNOWN_SEARCH)
def list_candidates(
    search_id: int,
    sort: Sort = Query("score", description="the column to sort by (created: evaluation order)"),
    descending: bool = True,
    limit: int = Query(100, ge=1, le=10_000),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
    store: Store = Depends(get_store),
) -> dict:
    """The search's candidates, a page at a time, sorted."""
    _get(store, search_id)
    items = store.list_candidates(search_id, sort=sort, descending=descending, limit=limit, offset=offset)
    return {"total": store.count_candidates(search_id), "limit": limit, "offset": offset,
            "items": [_candidate_out(c) for c in items]}


@router.get("/searches/{search_id}/plot", response_model=SearchPlot, responses=UNKNOWN_SEARCH)
def search_plot(
    search_id: int,
    points: int = Query(2000, ge=0, le=20_000, description="most dominated candidates to send"),
    store: Store = Depends(get_store),
) -> dict:
    """What the dashboard plots: the search, its front in full and a spread sample of the rest, so a
    search of any size is one small response."""
    record = _get(store, search_id)
    front, others, total = store.plot_points(search_id, points)

    def point(p: CandidatePoint) -> dict:
        return {"id": p.id, "arch": p.arch, "score": p.score, "latency_ms": p.latency_ms, "params": p.params,
                "flops": p.flops, "feasible": p.feasible}

    sample = [point(p) for p in others if p.score > FLOOR]
    return {"search": _search_out(store, record), "front": [point(p) for p in front], "sample": sample,
            "total": total, "sampled": len(sample)}


@router.get("/searches/{search_id}/pareto", response_model=list[CandidateOut], responses=UNKNOWN_SEARCH)
def pareto_front(search_id: int, store: Store = Depends(get_store)) -> list[dict]:
    """The front: feasible non-dominated candidates, fastest first."""
    _get(store, search_id)
    front = store.list_candidates(search_id, pareto_only=True, sort="latency_ms", descending=False, limit=10_000)
    return [_candidate_out(c) for c in front]

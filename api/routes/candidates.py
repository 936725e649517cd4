"""Export of a found network: ``GET /candidates/{id}/model.onnx`` (the file) and
``GET /candidates/{id}/architecture`` (JSON); ``GET /candidates/{id}/model?format=onnx|json``, the
two in one route, stays for the links and pages written before them (deprecated).

Each has one media type, so a client generated from the document reads the ONNX route's body as
bytes and the architecture's as JSON.

The candidate is built with its search's device-profile class count and seed (the weights its proxies
scored) by ``nas.export``, once per network and format, in the export cache's builder process
(``nas.export_cache``): a route awaits the build and streams the file. A candidate over
``NAS_MAX_EXPORT_PARAMS`` parameters is a 422; more builds waiting than the builder takes, a 429.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import BinaryIO, Iterator

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.auth import READ
from api.deps import ExportsDep, StoreDep
from api.errors import error
from api.schemas import ArchitectureOut, ModelFormat
from nas import export
from nas.export_cache import ExportBusy, ExportCache, ExportFailed
from nas.storage import NotFound, Store

router = APIRouter(tags=["candidates"])

ONNX_MEDIA_TYPE = "application/octet-stream"
ONNX_FILE = "the ONNX file (opset 17, input 'input' N x 3 x R x R, output 'logits', dynamic batch)"
UNKNOWN_CANDIDATE = {404: error("no candidate with that id"),
                     429: error("too many exports being built; try again after Retry-After seconds")}
# The errors of a route whose own media type is not JSON: written out, or FastAPI would give them its type.
UNKNOWN_CANDIDATE_JSON = {status: {"description": entry["description"], "content": {
    "application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}} for status, entry in UNKNOWN_CANDIDATE.items()}
CHUNK = 1 << 20


class OnnxResponse(StreamingResponse):
    media_type = ONNX_MEDIA_TYPE


async def _target(store: Store, candidate_id: int) -> export.Exportable:
    try:
        return await run_in_threadpool(export.stored_candidate, store, candidate_id)
    except NotFound as missing:
        raise HTTPException(status_code=404, detail=f"candidate_id: {missing}") from None


async def _built(exports: ExportCache, target: export.Exportable, format: str) -> Path:
    """The file, once built (at once when it already is): the wait runs on the event loop, the build
    in the builder process."""
    try:
        return await asyncio.wrap_future(exports.submit(target, format))
    except ExportBusy as busy:
        raise HTTPException(status_code=429, detail=str(busy), headers={"Retry-After": "5"}) from None
    except ExportFailed as failed:  # a builder that died (503: try again) or a network that cannot export
        raise HTTPException(status_code=503 if failed.stopped else 500, detail=str(failed),
                            headers={"Retry-After": "5"} if failed.stopped else None) from None


def _chunks(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while data := handle.read(CHUNK):
            yield data


async def _onnx(exports: ExportCache, target: export.Exportable) -> OnnxResponse:
    # Opened before answering: a file removed from the cache meanwhile is still read whole.
    handle = open(await _built(exports, target, "onnx"), "rb")  # noqa: SIM115 - closed by _chunks
    return OnnxResponse(_chunks(handle), headers={
        "Content-Length": str(os.fstat(handle.fileno()).st_size),
        "Content-Disposition": f'attachment; filename="{target.filename("onnx")}"'})


async def _architecture(exports: ExportCache, target: export.Exportable) -> dict:
    path = await _built(exports, target, "json")
    return {"candidate_id": target.candidate_id, "search_id": target.search_id,
            **await run_in_threadpool(lambda: json.loads(path.read_bytes()))}


@router.get(
    "/candidates/{candidate_id}/model.onnx", response_class=OnnxResponse, operation_id="downloadCandidateOnnx",
    responses={200: {"content": {ONNX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
                     "description": ONNX_FILE}, **UNKNOWN_CANDIDATE_JSON}, dependencies=[READ])
async def download_candidate_onnx(candidate_id: int, store: StoreDep, exports: ExportsDep) -> OnnxResponse:
    """The candidate as an ONNX model with its initial weights (the weights its proxies scored)."""
    return await _onnx(exports, await _target(store, candidate_id))


@router.get("/candidates/{candidate_id}/architecture", response_model=ArchitectureOut,
            operation_id="getCandidateArchitecture", responses=UNKNOWN_CANDIDATE, dependencies=[READ])
async def candidate_architecture(candidate_id: int, store: StoreDep, exports: ExportsDep) -> dict:
    """The candidate as a JSON architecture: its encodings, params, multiply-adds, block keys and every
    layer with its output shape."""
    return await _architecture(exports, await _target(store, candidate_id))


@router.get(
    "/candidates/{candidate_id}/model",
    response_model=ArchitectureOut, operation_id="getCandidateModel", deprecated=True,
    responses={200: {"content": {ONNX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
                     "description": f"format=onnx: {ONNX_FILE}; format=json: the architecture"},
               **UNKNOWN_CANDIDATE}, dependencies=[READ])
async def candidate_model(
    store: StoreDep,
    exports: ExportsDep,
    candidate_id: int,
    format: ModelFormat = Query(ModelFormat.onnx, description="onnx (a file) or json (the layer list)"),
):
    """Deprecated: two media types in one response, which generated clients cannot read. Use
    downloadCandidateOnnx (``/model.onnx``) or getCandidateArchitecture (``/architecture``)."""
    target = await _target(store, candidate_id)
    return await (_architecture(exports, target) if format == ModelFormat.json else _onnx(exports, target))

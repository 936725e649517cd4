"""Export of a found network: ``GET /candidates/{id}/model.onnx`` (the file) and
``GET /candidates/{id}/architecture`` (JSON); ``GET /candidates/{id}/model?format=onnx|json``, the
two in one route, stays for the links and pages written before them (deprecated).

Each has one media type, so a client generated from the document reads the ONNX route's body as
bytes and the architecture's as JSON.

The candidate is built with its search's device-profile class count and seed (the weights its proxies
scored) by ``nas.export``. Building, tracing and checking a network is CPU work of up to a few
seconds, so the routes are plain ``def``: FastAPI runs them in its thread pool, off the event loop.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Response

from api.deps import StoreDep
from api.errors import error
from api.schemas import ArchitectureOut, ModelFormat
from nas import export
from nas.storage import NotFound, Store

router = APIRouter(tags=["candidates"])

ONNX_MEDIA_TYPE = "application/octet-stream"
ONNX_FILE = "the ONNX file (opset 17, input 'input' N x 3 x R x R, output 'logits', dynamic batch)"
UNKNOWN_CANDIDATE = {404: error("no candidate with that id")}
# The errors of a route whose own media type is not JSON: written out, or FastAPI would give them its type.
UNKNOWN_CANDIDATE_JSON = {404: {"description": "no candidate with that id", "content": {
    "application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}}


class OnnxResponse(Response):
    media_type = ONNX_MEDIA_TYPE


def _target(store: Store, candidate_id: int) -> export.Exportable:
    try:
        return export.stored_candidate(store, candidate_id)
    except NotFound as missing:
        raise HTTPException(status_code=404, detail=f"candidate_id: {missing}") from None


def _onnx(target: export.Exportable) -> OnnxResponse:
    return OnnxResponse(content=target.to_onnx(), headers={
        "Content-Disposition": f'attachment; filename="{target.filename("onnx")}"'})


@router.get(
    "/candidates/{candidate_id}/model.onnx", response_class=OnnxResponse, operation_id="downloadCandidateOnnx",
    responses={200: {"content": {ONNX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
                     "description": ONNX_FILE}, **UNKNOWN_CANDIDATE_JSON},
)
def download_candidate_onnx(candidate_id: int, store: StoreDep) -> OnnxResponse:
    """The candidate as an ONNX model with its initial weights (the weights its proxies scored)."""
    return _onnx(_target(store, candidate_id))


@router.get("/candidates/{candidate_id}/architecture", response_model=ArchitectureOut,
            operation_id="getCandidateArchitecture", responses=UNKNOWN_CANDIDATE)
def candidate_architecture(candidate_id: int, store: StoreDep) -> dict:
    """The candidate as a JSON architecture: its encodings, params, multiply-adds, block keys and every
    layer with its output shape."""
    return _target(store, candidate_id).to_json()


@router.get(
    "/candidates/{candidate_id}/model",
    response_model=ArchitectureOut, operation_id="getCandidateModel", deprecated=True,
    responses={200: {"content": {ONNX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
                     "description": f"format=onnx: {ONNX_FILE}; format=json: the architecture"},
               **UNKNOWN_CANDIDATE},
)
def candidate_model(
    store: StoreDep,
    candidate_id: int,
    format: ModelFormat = Query(ModelFormat.onnx, description="onnx (a file) or json (the layer list)"),
):
    """Deprecated: two media types in one response, which generated clients cannot read. Use
    downloadCandidateOnnx (``/model.onnx``) or getCandidateArchitecture (``/architecture``)."""
    target = _target(store, candidate_id)
    return target.to_json() if format == ModelFormat.json else _onnx(target)

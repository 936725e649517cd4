"""Export of a found network: ``GET /candidates/{id}/model?format=onnx|json``.

The candidate is built with its search's device-profile class count and seed (the weights its proxies
scored) by ``nas.export``. Building, tracing and checking a network is CPU work of up to a few
seconds, so the route is a plain ``def``: FastAPI runs it in its thread pool, off the event loop.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, Query, Response

from api.deps import StoreDep
from api.errors import error
from api.schemas import ArchitectureOut
from nas import export
from nas.storage import NotFound

router = APIRouter(tags=["candidates"])

ONNX_MEDIA_TYPE = "application/octet-stream"


@router.get(
    "/candidates/{candidate_id}/model",
    response_model=ArchitectureOut,
    responses={200: {"content": {ONNX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
                     "description": "format=onnx: the ONNX file (opset 17, input 'input' N x 3 x R x R, "
                                    "output 'logits', dynamic batch); format=json: the architecture"},
               404: error("no candidate with that id")},
)
def candidate_model(
    store: StoreDep,
    candidate_id: int,
    format: Literal["onnx", "json"] = Query("onnx", description="onnx (a file) or json (the layer list)"),
):
    """The candidate as an ONNX model with its initial weights, or as a JSON architecture: its
    encodings, params, multiply-adds, block keys and every layer with its output shape."""
    try:
        target = export.stored_candidate(store, candidate_id)
    except NotFound as missing:
        raise HTTPException(status_code=404, detail=f"candidate_id: {missing}") from None
    if format == "json":
        return target.to_json()
    return Response(
        content=target.to_onnx(), media_type=ONNX_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{target.filename("onnx")}"'},
    )

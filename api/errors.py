"""Error responses: one shape for every refusal, and the OpenAPI entries that document them.

A refused request is a 422 in FastAPI's own shape, ``{"detail": [{"loc": [...], "msg": ..., "type":
...}]}``, whether pydantic refused the body or a check raised ``nas.errors.InvalidField`` (handled
here, once, for every route): ``loc`` is where the field is (``["body", "latency_max_ms"]``), ``msg``
names it and says why. Another refusal (404, 409, 413) is ``{"detail": "field: reason"}``; routes
list those statuses with ``responses={404: error("...")}``.

What a check missed is still no 500: a ``ValueError`` (``UnicodeError`` among them) out of a route is
a 422 on the request as a whole, a ``MemoryError`` a 413; both are logged with their traceback, since
each means a check to add.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from nas.errors import InvalidField

log = logging.getLogger("nas.api")


class ErrorOut(BaseModel):
    detail: str = Field(description="the field at fault, a colon, then the reason",
                        examples=["name: no device named 'pixel7-cpu'"])


def error(description: str) -> dict:
    """A ``responses=`` entry for an error status answered with ``{"detail": "field: reason"}``."""
    return {"model": ErrorOut, "description": description}


TOO_LARGE = {413: error("the body is over NAS_MAX_UPLOAD_BYTES")}
"""What every route that takes a body declares: the upload limit is checked before the route runs."""


def install(app: FastAPI) -> None:
    """Answer ``InvalidField`` and pydantic's refusals as 422s, for every route of ``app``."""
    app.add_exception_handler(InvalidField, _invalid_field)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(ValueError, _missed)
    app.add_exception_handler(MemoryError, _missed)


def _invalid_field(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, InvalidField)
    detail = [{"loc": [error.where, *problem.path()], "msg": str(problem), "type": problem.kind or error.kind}
              for problem in error.problems]
    return JSONResponse(status_code=422, content={"detail": detail})


def _missed(request: Request, error: Exception) -> JSONResponse:
    """A refusal no check made: the request as a whole, as a 422 (a 413 when it did not fit in memory)."""
    log.warning("%s %s: unchecked %s", request.method, request.url.path, type(error).__name__, exc_info=error)
    if isinstance(error, MemoryError):
        return JSONResponse(status_code=413, content={"detail": "request: too large to process"})
    where = "body" if request.method in ("POST", "PUT", "PATCH") else "query"
    detail = [{"loc": [where], "msg": _text(f"{where}: {error}"), "type": "value_error"}]
    return JSONResponse(status_code=422, content={"detail": detail})


def _request_validation(_request: Request, error: Exception) -> JSONResponse:
    # FastAPI's own handler echoes each input back, and fails (a 500) on one JSON cannot hold: NaN,
    # Infinity, a lone surrogate. Here the input comes back only when it can be encoded.
    assert isinstance(error, RequestValidationError)
    detail = []
    for item in error.errors():
        entry = {"loc": list(item["loc"]), "msg": _text(item.get("msg", "")), "type": item.get("type", "value_error")}
        if "input" in item and _encodable(item["input"]):
            entry["input"] = item["input"]
        detail.append(entry)
    return JSONResponse(status_code=422, content={"detail": detail})


def _encodable(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError):  # UnicodeEncodeError is a ValueError
        return False
    return True


def _text(value: Any) -> str:
    text = str(value)
    return text if _encodable(text) else text.encode("utf-8", "backslashreplace").decode("utf-8")

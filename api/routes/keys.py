"""API keys (admins): list, create (the key shown once), revoke; and who the caller is (any key)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path

from api import errors
from api.auth import Admin, Viewer
from api.deps import StoreDep
from api.schemas import CurrentKey, KeyCreate, KeyOut, NewKeyOut
from nas.latency.schema import DEVICE_NAME_PATTERN
from nas.storage import AlreadyExists, KeyRecord, NotFound

router = APIRouter(tags=["keys"])

KeyName = Annotated[str, Path(pattern=DEVICE_NAME_PATTERN, description="the key's name (GET /keys)",
                              examples=["ci-bot"])]


def _out(record: KeyRecord) -> dict:
    return {"name": record.name, "role": record.role, "created_by": record.created_by,
            "created_at": record.created_at, "last_used_at": record.last_used_at, "revoked_at": record.revoked_at}


@router.get("/keys", response_model=list[KeyOut], operation_id="listKeys")
def list_keys(store: StoreDep, _caller: Admin) -> list[dict]:
    """Every key by name, revoked ones too (never the keys themselves)."""
    return [_out(record) for record in store.keys.list()]


@router.get("/keys/me", response_model=CurrentKey, operation_id="getCurrentKey")
def current_key(caller: Viewer) -> dict:
    """The name and role of the key this request sent (auth off: no name, admin)."""
    return {"name": caller.name, "role": caller.role, "auth": caller.auth}


@router.post("/keys", response_model=NewKeyOut, status_code=201, operation_id="createKey",
             responses={409: errors.error("a key of that name exists (revoked keys keep their names)"),
                        **errors.TOO_LARGE})
def create_key(body: KeyCreate, store: StoreDep, caller: Admin) -> dict:
    """Make a key; the answer holds the key itself, shown this once (only its hash is kept)."""
    try:
        record, key = store.keys.create(body.name, body.role.value, created_by=caller.name)
    except AlreadyExists as error:
        raise HTTPException(status_code=409, detail=str(error)) from None
    return {**_out(record), "key": key}


@router.delete("/keys/{name}", response_model=KeyOut, operation_id="revokeKey",
               responses={404: errors.error("no key of that name"),
                          409: errors.error("the key this request sent: revoke it with another")})
def revoke_key(name: KeyName, store: StoreDep, caller: Admin) -> dict:
    """Revoke a key: from now on it is refused (401). Its name stays taken. An admin cannot revoke the
    key it sends (ask another admin, or `nas keys revoke NAME`), so a service never loses its last admin
    by accident."""
    if name == caller.name:
        raise HTTPException(status_code=409, detail=f"name: {name!r} is the key this request sent; revoke it "
                                                    "with another admin key or `nas keys revoke`")
    try:
        return _out(store.keys.revoke(name))
    except NotFound as error:
        raise HTTPException(status_code=404, detail=f"name: {error}") from None

"""Who may do what: API keys, roles and owners (issue 26).

A client sends ``Authorization: Bearer <key>``. With ``NAS_AUTH=required`` a missing, malformed,
unknown or revoked key is a 401; a key whose role does not allow the route, or that does not own what
it would change, a 403. With auth off every request may do everything, as an admin with no name.

Every route under ``/api`` names its rule by the type of one parameter: ``caller: Viewer`` (reads),
``Member`` (writes of one's own), ``dependencies=[READ]`` where a reading route has no use for the caller, ``Admin`` (keys, and changing what others own), or ``Anyone`` (says
who calls where a key is given, refuses no one: ``/health``). ``check_rules`` refuses to build an app
with a route that names none, so a new route cannot be open by omission.

Roles rank viewer < member < admin. A member changes what it owns (the searches it submitted, the
devices it registered); what has no owner (shipped devices, what was made with auth off, this
machine's own device) only an admin changes, and a shipped device's profiles no one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Callable

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from nas.storage import ROLES, Store

BEARER = HTTPBearer(auto_error=False, description="an API key: `nas keys create NAME --role viewer|member|admin`, "
                    "or POST /api/v1/keys as an admin. Needed when the service runs with NAS_AUTH=required")
CHALLENGE = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True)
class Caller:
    """Who sends a request: the key's name and role; with auth off, an admin with no name."""

    name: str | None
    role: str
    auth: str  # the service's mode: "off" or "required"

    def may(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)

    def owns(self, owner: str | None) -> bool:
        """Whether it may change what ``owner`` made: its own, or anything for an admin."""
        return self.role == "admin" or (owner is not None and owner == self.name)

    def check_owns(self, owner: str | None, what: str) -> None:
        if not self.owns(owner):
            whose = f"owned by {owner!r}" if owner else "owned by no key (shipped, or made with auth off)"
            raise HTTPException(status_code=403, detail=f"authorization: {what} is {whose}; a member changes "
                                                        "only what it made, an admin anything")


def _unauthorised(reason: str) -> HTTPException:
    return HTTPException(status_code=401, detail=f"authorization: {reason}", headers=CHALLENGE)


def identify(request: Request, credentials: HTTPAuthorizationCredentials | None, required: bool = True) -> Caller | None:
    """The caller of ``request``; None for no key where none is required (``/health``)."""
    mode = request.app.state.settings.auth_mode()
    if mode == "off":
        return Caller(name=None, role="admin", auth=mode)
    if credentials is None:
        if request.headers.get("authorization") and required:
            raise _unauthorised("send the key as `Authorization: Bearer <key>`")
        if required:
            raise _unauthorised("this service needs an API key (NAS_AUTH=required): send `Authorization: "
                                "Bearer <key>`; an admin makes one with `nas keys create NAME --role viewer`")
        return None
    store: Store = request.app.state.store
    key = store.keys.authenticate(credentials.credentials)
    if key is None:
        if required:
            raise _unauthorised("unknown or revoked key")
        return None
    return Caller(name=key.name, role=key.role, auth=mode)


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]


def _rule(role: str | None) -> Callable[..., Caller | None]:
    def caller(request: Request, credentials: Credentials) -> Caller | None:
        found = identify(request, credentials, required=role is not None)
        if found is not None and role is not None and not found.may(role):
            raise HTTPException(status_code=403, detail=f"authorization: key {found.name!r} is a {found.role}; "
                                                        f"this needs a{'n' * (role[0] == 'a')} {role} key")
        return found

    caller.rule = role or "anyone"  # type: ignore[attr-defined]
    return caller


_RULES = {role: _rule(role) for role in (None, *ROLES)}
Anyone = Annotated[Caller | None, Depends(_RULES[None])]
Viewer = Annotated[Caller, Depends(_RULES["viewer"])]
Member = Annotated[Caller, Depends(_RULES["member"])]
Admin = Annotated[Caller, Depends(_RULES["admin"])]
READ = Depends(_RULES["viewer"])  # for a route's ``dependencies=[READ]``, where it does not use the caller


def rule_of(route: APIRoute) -> str | None:
    """The rule a route names (anyone, viewer, member, admin); None if it names none."""
    found = [getattr(d.call, "rule") for d in route.dependant.dependencies if hasattr(d.call, "rule")]
    return found[0] if len(found) == 1 else None


def check_rules(routers: list[APIRouter], prefix: str) -> dict[tuple[str, str], str]:
    """Each route's rule by method and path (under ``prefix``); ``RuntimeError`` for a route that names
    none (or more than one), so no route is open by omission."""
    rules: dict[tuple[str, str], str] = {}
    missing = []
    for route in (route for router in routers for route in router.routes):
        rule = rule_of(route) if isinstance(route, APIRoute) else None
        for method in getattr(route, "methods", None) or ("?",):
            if rule is None:
                missing.append(f"{method} {prefix}{getattr(route, 'path', route)}")
            rules[(method, prefix + getattr(route, "path", ""))] = rule
    if missing:
        raise RuntimeError(f"routes without an access rule (api.auth: Viewer, Member, Admin or Anyone): {missing}")
    return rules

"""API keys: made here, shown once, kept only as the SHA-256 of their text.

A key is ``nas_`` and 43 URL-safe characters (256 random bits), so a plain SHA-256 is a fit digest to
keep: there is nothing to guess by brute force that a salt or a slow hash would protect. A presented
key is found by its digest (an indexed, unique column) and then compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from nas.errors import InvalidField
from nas.latency.schema import DEVICE_NAME_PATTERN
from nas.settings import KEY_PREFIX, MAX_KEY_CHARS
from nas.storage import convert, lookups
from nas.storage.models import ApiKey, utcnow
from nas.storage.records import ROLES, AlreadyExists, KeyRecord, NotFound

TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per key


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def check_role(role: object, field: str = "role") -> str:
    if role not in ROLES:
        raise InvalidField(field, f"must be one of {', '.join(ROLES)}, got {role!r:.40}")
    return str(role)


class KeyRepository:
    """Keys by name; ``authenticate`` is the one way a presented key becomes a record."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def create(self, name: str, role: str, created_by: str | None = None, key: str | None = None) -> tuple[KeyRecord, str]:
        """A new key named ``name``; returns its record and its text (shown once, never stored).
        ``key`` registers a given text instead of a new one (a deployment's bootstrap key)."""
        convert.check_name(name, "name", DEVICE_NAME_PATTERN)
        check_role(role)
        key = key if key is not None else new_key()
        with self._sessions.begin() as session:
            if session.scalar(select(ApiKey.id).where(ApiKey.name == name)) is not None:
                raise AlreadyExists("name", f"a key named {name!r} exists (revoked keys keep their names)")
            row = ApiKey(name=name, role=role, key_hash=digest(key), created_by=created_by)
            session.add(row)
            lookups.flush(session, "name", f"a key named {name!r} exists")
            return convert.key(row), key

    def ensure(self, name: str, role: str, key: str) -> KeyRecord:
        """Key ``name`` with this text and role, made or changed to it (NAS_ADMIN_KEY at every start):
        a changed variable replaces the old text, and a revoked bootstrap key comes back."""
        with self._sessions.begin() as session:
            row = session.scalars(select(ApiKey).where(ApiKey.name == name).with_for_update()).first()
            if row is not None:
                row.key_hash, row.role, row.revoked_at = digest(key), role, None
                session.flush()
                return convert.key(row)
        return self.create(name, role, key=key)[0]

    def authenticate(self, key: str) -> KeyRecord | None:
        """The live key whose text is ``key``; None for an unknown or revoked one."""
        if not isinstance(key, str) or not key.startswith(KEY_PREFIX) or len(key) > MAX_KEY_CHARS:
            return None
        wanted = digest(key)
        with self._sessions.begin() as session:
            row = session.scalars(select(ApiKey).where(ApiKey.key_hash == wanted)).first()
            if row is None or not hmac.compare_digest(row.key_hash, wanted) or row.revoked_at is not None:
                return None
            now = utcnow()
            if row.last_used_at is None or now - row.last_used_at > TOUCH_EVERY:
                row.last_used_at = now
            return convert.key(row)

    def list(self, include_revoked: bool = True) -> list[KeyRecord]:
        with self._sessions.begin() as session:
            query = select(ApiKey).order_by(ApiKey.name)
            if not include_revoked:
                query = query.where(ApiKey.revoked_at.is_(None))
            return [convert.key(row) for row in session.scalars(query)]

    def revoke(self, name: str) -> KeyRecord:
        """Revoke key ``name`` (revoking it again changes nothing); ``NotFound`` if there is none."""
        with self._sessions.begin() as session:
            row = session.scalars(select(ApiKey).where(ApiKey.name == name).with_for_update()).first() \
                if convert.nameable(name) else None
            if row is None:
                raise NotFound(f"no key named {name!r}")
            if row.revoked_at is None:
                row.revoked_at = utcnow()
            return convert.key(row)

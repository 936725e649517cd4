"""SQLAlchemy 2.0 models of the service's tables; only ``nas.storage`` imports them.

The schema itself is created by the Alembic migrations in ``migrations/versions`` (never by
``create_all``); a test checks that these models and the migrated database agree.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from nas.storage.records import SEARCH_STATUSES

# Named constraints, so later migrations can drop or alter them by name on every backend.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
NAME = 64  # device names, space names, hashes, strategies
HASH = 64


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend.

    PostgreSQL keeps the instant (timestamptz); SQLite keeps text without an offset, so the value is
    written as naive UTC and read back with UTC attached. Naive values are refused on the way in.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: store timezone-aware UTC times")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Device(Base):
    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME), unique=True)
    hardware: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    shipped: Mapped[bool] = mapped_column(Boolean, default=False)
    owner: Mapped[str | None] = mapped_column(String(NAME), nullable=True)  # the key that registered it
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LatencyProfile(Base):
    __tablename__ = "latency_profiles"
    __table_args__ = (UniqueConstraint("device_id", "search_space", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    search_space: Mapped[str] = mapped_column(String(NAME))
    version: Mapped[int] = mapped_column(Integer)
    runtime: Mapped[str] = mapped_column(String(NAME))
    resolutions: Mapped[list[Any]] = mapped_column(JSON)
    num_keys: Mapped[int] = mapped_column(Integer)
    validation_n: Mapped[int | None] = mapped_column(Integer)
    validation_mape: Mapped[float | None] = mapped_column(Float)
    validation_within_10pct: Mapped[float | None] = mapped_column(Float)
    # The document exactly as Profile.to_json() wrote it: text, so a re-read compares byte for byte.
    document: Mapped[str] = mapped_column(Text)
    shipped: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # as released
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    device: Mapped[Device] = relationship(lazy="joined", innerjoin=True)


class Search(Base):
    __tablename__ = "searches"
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in SEARCH_STATUSES) + ")", name="status"
        ),
        Index("ix_searches_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    space: Mapped[str] = mapped_column(String(NAME))
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"))  # a device with searches stays
    profile_id: Mapped[int | None] = mapped_column(ForeignKey("latency_profiles.id", ondelete="SET NULL"))
    strategy: Mapped[str] = mapped_column(String(NAME))
    budget: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    evaluated: Mapped[int] = mapped_column(Integer, default=0)
    hypervolume: Mapped[float | None] = mapped_column(Float)
    history: Mapped[list[Any]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(NAME), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()

    device: Mapped[Device] = relationship(lazy="joined", innerjoin=True)


class Candidate(Base):
    __tablename__ = "candidates"
    __table_args__ = (
        UniqueConstraint("search_id", "arch_hash"),
        Index("ix_candidates_search_id_score", "search_id", "score"),
        # The front, its count and the plot's sample of the rest read this alone (migration 0003).
        Index("ix_candidates_search_id_is_pareto", "search_id", "is_pareto", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    search_id: Mapped[int] = mapped_column(ForeignKey("searches.id", ondelete="CASCADE"))
    arch: Mapped[str] = mapped_column(Text)
    arch_hash: Mapped[str] = mapped_column(String(HASH))
    scores: Mapped[dict[str, Any]] = mapped_column(JSON)
    score: Mapped[float] = mapped_column(Float)
    latency_ms: Mapped[float] = mapped_column(Float)
    params: Mapped[int] = mapped_column(BigInteger)
    macs: Mapped[int] = mapped_column(BigInteger)
    feasible: Mapped[bool] = mapped_column(Boolean)
    is_pareto: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProxyScoreCache(Base):
    """Proxy scores of one architecture under one proxy setting (data, seed, batch): reusable across
    searches, since a zero-cost proxy is a function of the network and those settings only."""

    __tablename__ = "proxy_score_cache"

    space: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    proxy_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    arch_hash: Mapped[str] = mapped_column(String(HASH), primary_key=True)
    scores: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LatencyCache(Base):
    """Predicted latency of one architecture under one stored profile (profiles never change)."""

    __tablename__ = "latency_cache"

    profile_id: Mapped[int] = mapped_column(
        ForeignKey("latency_profiles.id", ondelete="CASCADE"), primary_key=True
    )
    arch_hash: Mapped[str] = mapped_column(String(HASH), primary_key=True)
    latency_ms: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Dataset(Base):
    """An uploaded calibration dataset (``nas.datasets.calibration``): the ``.npz`` file as uploaded
    and what its check found. Names are never reused, so a name identifies its content in the caches."""

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    num_images: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    num_classes: Mapped[int] = mapped_column(Integer)
    dtype: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(HASH))
    size_bytes: Mapped[int] = mapped_column(Integer)
    # a uint8 set's channel statistics in [0, 1], computed at upload; NULL: float images, or uploaded before 0005
    channel_mean: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    channel_std: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    owner: Mapped[str | None] = mapped_column(String(NAME), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """An API key (``nas.storage.keys``): only the SHA-256 of its text is kept. A revoked key's name
    stays taken, so owners and logs never name two keys."""

    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint("role IN ('admin', 'member', 'viewer')", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(HASH), unique=True)
    created_by: Mapped[str | None] = mapped_column(String(NAME), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)

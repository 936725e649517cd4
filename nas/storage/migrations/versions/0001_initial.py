"""The first schema: devices, latency profiles, searches, candidates, and the two result caches.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Written by hand to match ``nas/storage/models.py`` as of this revision, with every constraint named
after the models' naming convention (``tests/storage/test_migrations.py`` checks they agree). It
spells the tables out rather than importing the models, which will move on.
"""

from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: Union[str, None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("hardware", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("shipped", sa.Boolean(), nullable=False),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_devices"),
        sa.UniqueConstraint("name", name="uq_devices_name"),
    )
    op.create_table(
        "latency_profiles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("search_space", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("runtime", sa.String(64), nullable=False),
        sa.Column("resolutions", sa.JSON(), nullable=False),
        sa.Column("num_keys", sa.Integer(), nullable=False),
        sa.Column("validation_n", sa.Integer(), nullable=True),
        sa.Column("validation_mape", sa.Float(), nullable=True),
        sa.Column("validation_within_10pct", sa.Float(), nullable=True),
        sa.Column("document", sa.Text(), nullable=False),
        _when("created_at"),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], ondelete="CASCADE",
                                name="fk_latency_profiles_device_id_devices"),
        sa.PrimaryKeyConstraint("id", name="pk_latency_profiles"),
        sa.UniqueConstraint("device_id", "search_space", "version", name="uq_latency_profiles_device_id"),
    )
    op.create_table(
        "searches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("space", sa.String(64), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=True),
        sa.Column("strategy", sa.String(64), nullable=False),
        sa.Column("budget", sa.Integer(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("evaluated", sa.Integer(), nullable=False),
        sa.Column("hypervolume", sa.Float(), nullable=True),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        _when("created_at"),
        _when("started_at", nullable=True),
        _when("finished_at", nullable=True),
        sa.CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in STATUSES) + ")",
                           name="ck_searches_status"),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], name="fk_searches_device_id_devices"),
        sa.ForeignKeyConstraint(["profile_id"], ["latency_profiles.id"], ondelete="SET NULL",
                                name="fk_searches_profile_id_latency_profiles"),
        sa.PrimaryKeyConstraint("id", name="pk_searches"),
    )
    op.create_index("ix_searches_status", "searches", ["status"])
    op.create_table(
        "candidates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("search_id", sa.Integer(), nullable=False),
        sa.Column("arch", sa.Text(), nullable=False),
        sa.Column("arch_hash", sa.String(64), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("params", sa.BigInteger(), nullable=False),
        sa.Column("flops", sa.BigInteger(), nullable=False),
        sa.Column("feasible", sa.Boolean(), nullable=False),
        sa.Column("is_pareto", sa.Boolean(), nullable=False),
        _when("created_at"),
        sa.ForeignKeyConstraint(["search_id"], ["searches.id"], ondelete="CASCADE",
                                name="fk_candidates_search_id_searches"),
        sa.PrimaryKeyConstraint("id", name="pk_candidates"),
        sa.UniqueConstraint("search_id", "arch_hash", name="uq_candidates_search_id"),
    )
    op.create_index("ix_candidates_search_id_score", "candidates", ["search_id", "score"])
    op.create_table(
        "proxy_score_cache",
        sa.Column("space", sa.String(64), nullable=False),
        sa.Column("proxy_key", sa.String(128), nullable=False),
        sa.Column("arch_hash", sa.String(64), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        _when("created_at"),
        sa.PrimaryKeyConstraint("space", "proxy_key", "arch_hash", name="pk_proxy_score_cache"),
    )
    op.create_table(
        "latency_cache",
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("arch_hash", sa.String(64), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        _when("created_at"),
        sa.ForeignKeyConstraint(["profile_id"], ["latency_profiles.id"], ondelete="CASCADE",
                                name="fk_latency_cache_profile_id_latency_profiles"),
        sa.PrimaryKeyConstraint("profile_id", "arch_hash", name="pk_latency_cache"),
    )


def downgrade() -> None:
    for table in ("latency_cache", "proxy_score_cache", "candidates", "searches", "latency_profiles", "devices"):
        op.drop_table(table)

"""API keys, and an owner on each search, device and dataset (issue 26).

A key is kept only as the SHA-256 of its text; ``revoked_at`` set means it no longer opens anything,
and its name stays taken so a log or an owner never points at two keys. ``owner`` is the name of the
key that made the row; NULL for what ships with the service, what the service made itself (this
machine's device) and what was made while auth was off. A latency profile row records whether it is
the one shipped (``shipped``): searches on a shipped device use only those, never a later upload.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: Union[str, None] = "0005"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

OWNED = ("searches", "devices", "datasets")


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("role IN ('admin', 'member', 'viewer')", name="ck_api_keys_role"),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("name", name="uq_api_keys_name"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    for table in OWNED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("owner", sa.String(64), nullable=True))
    with op.batch_alter_table("latency_profiles") as batch:
        batch.add_column(sa.Column("shipped", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("latency_profiles") as batch:
        batch.drop_column("shipped")
    for table in OWNED:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("owner")
    op.drop_table("api_keys")

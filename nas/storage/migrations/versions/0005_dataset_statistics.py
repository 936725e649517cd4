"""Each uploaded dataset's per-channel mean and standard deviation, computed once at upload.

A uint8 dataset's images are normalised with their own channel statistics before the proxies see
them; reading them from the row spares a pass over every image at each search's start. Rows uploaded
before this revision (and float datasets, which are used as they are) hold NULL; their statistics
are computed when a search loads them, as before.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: Union[str, None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("channel_mean", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("channel_std", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.drop_column("channel_std")
        batch.drop_column("channel_mean")

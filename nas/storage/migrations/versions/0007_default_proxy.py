"""Searches that named no proxy keep the one they ran with: the default became meco (it was synflow).

A search's stored request is what a resumed search reads; one that named neither ``proxy`` nor
``ensemble`` ran with the default of its day, synflow, so its request now names synflow. New
searches store the proxy they resolve to (``nas.search.service``). Going down leaves the named proxy:
it is what those searches ran with under either default.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: Union[str, None] = "0006"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

CHUNK = 1000  # rows read and rewritten at a time
FORMER_DEFAULT = "synflow"

searches = sa.table("searches", sa.column("id", sa.Integer), sa.column("request", sa.JSON))


def _pinned(request: dict) -> dict:
    if request.get("proxy") or request.get("ensemble"):
        return request
    return {**request, "proxy": FORMER_DEFAULT}


def upgrade() -> None:
    connection, last = op.get_bind(), None
    while True:
        query = sa.select(searches.c.id, searches.c.request).order_by(searches.c.id).limit(CHUNK)
        rows = connection.execute(query if last is None else query.where(searches.c.id > last)).all()
        for row_id, value in rows:
            if isinstance(value, dict) and _pinned(value) != value:
                connection.execute(searches.update().where(searches.c.id == row_id)
                                   .values(request=_pinned(value)))
        if len(rows) < CHUNK:
            return
        last = rows[-1][0]


def downgrade() -> None:
    pass

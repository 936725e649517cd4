"""Multiply-adds are called macs: the candidates' column, the score key and the stored requests.

``candidates.flops`` becomes ``candidates.macs``; in each candidate's ``scores`` the key ``flops``
becomes ``macs``; in each search's stored request ``flops_max`` becomes ``macs_max`` and ``flops``
becomes ``macs`` in ``proxy``, ``ensemble`` and ``objectives`` (so a resumed search reads the same
request). The proxy-score cache is emptied: its keys hash the proxy names, so no new search would
read its rows again; they are recomputed on demand.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

from typing import Any, Callable, Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: Union[str, None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

CHUNK = 1000  # rows read and rewritten at a time

candidates = sa.table("candidates", sa.column("id", sa.Integer), sa.column("scores", sa.JSON))
searches = sa.table("searches", sa.column("id", sa.Integer), sa.column("request", sa.JSON))


def _rename(value: Any, old: str, new: str) -> Any:
    return new if value == old else value


def _request(old: str, new: str) -> Callable[[dict], dict]:
    def rewrite(request: dict) -> dict:
        request = {(f"{new}_max" if key == f"{old}_max" else key): value for key, value in request.items()}
        if "proxy" in request:
            request["proxy"] = _rename(request["proxy"], old, new)
        for field in ("ensemble", "objectives"):
            if isinstance(request.get(field), list):
                request[field] = [_rename(name, old, new) for name in request[field]]
        return request
    return rewrite


def _scores(old: str, new: str) -> Callable[[dict], dict]:
    return lambda scores: {(new if key == old else key): value for key, value in scores.items()}


def _rewrite(table: sa.TableClause, column: str, change: Callable[[dict], dict]) -> None:
    """Apply ``change`` to the JSON object in ``column`` of every row, a chunk of rows at a time."""
    connection, last = op.get_bind(), None
    while True:
        query = sa.select(table.c.id, table.c[column]).order_by(table.c.id).limit(CHUNK)
        rows = connection.execute(query if last is None else query.where(table.c.id > last)).all()
        for row_id, value in rows:
            changed = change(value) if isinstance(value, dict) else value
            if changed != value:
                connection.execute(table.update().where(table.c.id == row_id).values({column: changed}))
        if len(rows) < CHUNK:
            return
        last = rows[-1][0]


def _migrate(old: str, new: str) -> None:
    with op.batch_alter_table("candidates") as batch:
        batch.alter_column(old, new_column_name=new, existing_type=sa.BigInteger(), existing_nullable=False)
    _rewrite(candidates, "scores", _scores(old, new))
    _rewrite(searches, "request", _request(old, new))
    op.execute("DELETE FROM proxy_score_cache")


def upgrade() -> None:
    _migrate("flops", "macs")


def downgrade() -> None:
    _migrate("macs", "flops")

"""Row lookups that more than one repository needs, run inside a session the caller already opened.

They return ORM rows, so they stay inside ``nas.storage``: a repository turns what it found into a
record (``convert.py``) before its transaction ends.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from nas.storage import convert
from nas.storage.models import Dataset, Device, Search
from nas.storage.records import AlreadyExists, NotFound

Named = TypeVar("Named", Device, Dataset)
CHUNK = 500  # values per IN (...) list and rows per insert, well under SQLite's parameter limit


def is_id(value: Any) -> bool:
    """Ids are 32-bit (PostgreSQL's integer): a larger one names no row, it is no database error."""
    return isinstance(value, int) and 0 < value < 2**31


def named(session: Session, model: type[Named], noun: str, name: str) -> Named:
    """The ``model`` row called ``name`` (devices and datasets are looked up by their unique name)."""
    if not convert.nameable(name):
        raise NotFound(f"no {noun} named {name!r}")
    found = session.scalars(select(model).where(model.name == name)).first()
    if found is None:
        raise NotFound(f"no {noun} named {name!r}")
    return found


def device(session: Session, name: str) -> Device:
    return named(session, Device, "device", name)


def search(session: Session, search_id: int, lock: bool = False) -> Search:
    """The search row; with ``lock``, no other transaction changes it until this one ends, and what is
    read is its latest committed state (a status check then holds until the commit)."""
    if not is_id(search_id):
        raise NotFound(f"no search with id {search_id}")
    if lock and session.get_bind().dialect.name == "sqlite":
        # SQLite has no row locks, and Python's driver begins a transaction at the first write: write
        # first (changing nothing), so the database's write lock is held before the row is read.
        session.execute(update(Search).where(Search.id == search_id).values(id=Search.id))
    # FOR UPDATE OF searches: lock the search row only, not its device.
    found = session.get(Search, search_id, with_for_update={"of": Search} if lock else None)
    if found is None:
        raise NotFound(f"no search with id {search_id}")
    return found


def existing(session: Session, column: Any, values: Iterable[str], *where: Any) -> Iterator[str]:
    """Which of ``values`` are already in ``column`` (under ``where``), a chunk of IN (...) at a time."""
    for chunk in convert.chunks(list(dict.fromkeys(values)), CHUNK):
        yield from session.scalars(select(column).where(*where, column.in_(chunk)))


def flush(session: Session, field: str, reason: str) -> None:
    """Flush, turning a unique violation from a concurrent writer into ``AlreadyExists``."""
    try:
        session.flush()
    except IntegrityError:
        raise AlreadyExists(field, reason) from None

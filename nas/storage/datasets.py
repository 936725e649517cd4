"""Uploaded calibration datasets (``nas.datasets.calibration``): the ``.npz`` file as uploaded and what
its check found. A name is never reused, so a name identifies its content in the proxy caches.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from nas.errors import InvalidField
from nas.latency.schema import DEVICE_NAME_PATTERN
from nas.storage import convert, lookups
from nas.storage.models import Dataset
from nas.storage.records import AlreadyExists, DatasetRecord

INFO_FIELDS = ("num_images", "height", "width", "num_classes", "dtype", "sha256")


class DatasetRepository:
    """Calibration datasets by name; the content is read only when asked for (a deferred column)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def add(self, name: str, content: bytes, info: dict[str, Any], description: str = "",
            owner: str | None = None) -> DatasetRecord:
        """Keep an uploaded dataset already checked by ``nas.datasets.calibration.read_npz``; ``info``
        is its ``describe()``. A name is never reused (``AlreadyExists``)."""
        convert.check_name(name, "name", DEVICE_NAME_PATTERN)
        if not isinstance(description, str) or len(description) > 2000 or not convert.nameable(description):
            raise InvalidField("description", f"must be a string of at most 2000 characters without NUL, "
                                              f"got {description!r:.80}")
        with self._sessions.begin() as session:
            if session.scalar(select(Dataset.id).where(Dataset.name == name)) is not None:
                raise AlreadyExists("name", f"a dataset named {name!r} already exists; datasets are never "
                                            "replaced, upload it under a new name")
            row = Dataset(name=name, description=description, content=content, size_bytes=len(content), owner=owner,
                          channel_mean=_listed(info.get("channel_mean")), channel_std=_listed(info.get("channel_std")),
                          **{key: info[key] for key in INFO_FIELDS})
            session.add(row)
            lookups.flush(session, "name", f"a dataset named {name!r} already exists")
            return convert.dataset(row)

    def get(self, name: str) -> DatasetRecord:
        with self._sessions.begin() as session:
            return convert.dataset(_dataset(session, name))

    def list(self) -> list[DatasetRecord]:
        with self._sessions.begin() as session:
            return [convert.dataset(d) for d in session.scalars(select(Dataset).order_by(Dataset.name))]

    def content(self, name: str) -> bytes:
        """The ``.npz`` file as it was uploaded."""
        with self._sessions.begin() as session:
            _dataset(session, name)
            return bytes(session.scalar(select(Dataset.content).where(Dataset.name == name)))



def _listed(values: Any) -> list[float] | None:
    return None if values is None else [float(v) for v in values]


def _dataset(session: Session, name: str) -> Dataset:
    return lookups.named(session, Dataset, "dataset", name)

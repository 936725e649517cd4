"""Devices and their latency profiles (versioned per device and search space), and the devices that
ship with the package in ``latency_tables/``.

A profile is never changed once stored: a new measurement or a new shipped release is the next version,
so caches keyed by profile id stay right.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

import nas.latency as latency
from nas.errors import InvalidField
from nas.latency.schema import DEVICE_NAME_PATTERN
from nas.storage import convert, lookups
from nas.storage.models import Device, LatencyProfile
from nas.storage.records import AlreadyExists, DeviceRecord, NotFound, ProfileRecord

SHIPPED_DESCRIPTION = "measured by the project; ships with the package"


class DeviceRepository:
    """The device registry."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def add(self, name: str, hardware: str = "", description: str = "", shipped: bool = False,
            owner: str | None = None) -> DeviceRecord:
        convert.check_name(name, "name", DEVICE_NAME_PATTERN)
        if not isinstance(hardware, str) or len(hardware) > 200:
            raise InvalidField("hardware", f"must be a string of at most 200 characters, got {hardware!r:.80}")
        for field, value in (("hardware", hardware), ("description", description)):
            if not convert.nameable(value):
                raise InvalidField(field, "must not contain NUL characters")
        with self._sessions.begin() as session:
            if session.scalar(select(Device.id).where(Device.name == name)) is not None:
                raise AlreadyExists("name", f"a device named {name!r} already exists")
            device = Device(name=name, hardware=hardware, description=description, shipped=shipped, owner=owner)
            session.add(device)
            lookups.flush(session, "name", f"a device named {name!r} already exists")
            return convert.device(device)

    def get(self, name: str) -> DeviceRecord:
        with self._sessions.begin() as session:
            return convert.device(lookups.device(session, name))

    def list(self) -> list[DeviceRecord]:
        with self._sessions.begin() as session:
            return [convert.device(d) for d in session.scalars(select(Device).order_by(Device.name))]

    def ensure_shipped(self) -> list[ProfileRecord]:
        """Register the devices and profiles shipped in ``latency_tables/``; returns what was added.

        Idempotent: a profile whose latest stored version has the same document is left alone; one
        whose shipped file changed (a new release) is added as the next version.
        """
        added = []
        for (device_name, space), _file in sorted(latency.shipped_files().items()):
            profile = latency.read_shipped(device_name, space)
            document = profile.to_json()
            with self._sessions.begin() as session:
                device = session.scalars(select(Device).where(Device.name == device_name)).first()
                if device is None:
                    device = Device(name=device_name, hardware=profile.device.hardware, shipped=True,
                                    description=SHIPPED_DESCRIPTION)
                    session.add(device)
                    session.flush()
                latest = session.scalar(
                    select(LatencyProfile.document)
                    .where(LatencyProfile.device_id == device.id, LatencyProfile.search_space == space)
                    .order_by(LatencyProfile.version.desc()).limit(1))
                if latest != document:
                    added.append(convert.profile(add_profile_row(session, device, profile, document, shipped=True)))
                else:  # kept from before rows said so (migration 0006): the release's own rows are marked
                    session.execute(update(LatencyProfile).where(
                        LatencyProfile.device_id == device.id, LatencyProfile.search_space == space,
                        LatencyProfile.document == document, LatencyProfile.shipped.is_(False)).values(shipped=True))
        return added


class ProfileRepository:
    """Latency profiles: the next version on every add, the latest by default on every read."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def add(self, device_name: str, profile: latency.Profile) -> ProfileRecord:
        """Store ``profile`` as the next version for its device and search space; ``ShippedDevice``
        for a device that ships with the service (its profiles change only with a release)."""
        with self._sessions.begin() as session:
            device = lookups.device(session, device_name)
            if device.shipped:
                raise ShippedDevice(device_name)
            return convert.profile(add_profile_row(session, device, profile))

    def list(self, device_name: str, space: str | None = None) -> list[ProfileRecord]:
        with self._sessions.begin() as session:
            device = lookups.device(session, device_name)
            query = select(LatencyProfile).where(LatencyProfile.device_id == device.id)
            if space is not None and not convert.nameable(space):
                return []
            if space is not None:
                query = query.where(LatencyProfile.search_space == space)
            query = query.order_by(LatencyProfile.search_space, LatencyProfile.version)
            return [convert.profile(p) for p in session.scalars(query)]

    def get(self, device_name: str, space: str, version: int | None = None) -> ProfileRecord:
        """Version ``version`` of the device's profile for ``space``; the latest when None."""
        with self._sessions.begin() as session:
            device = lookups.device(session, device_name)
            if not convert.nameable(space):
                raise NotFound(f"device {device_name!r} has no profile for search space {space!r}")
            query = select(LatencyProfile).where(
                LatencyProfile.device_id == device.id, LatencyProfile.search_space == space)
            if version is None:  # the latest; of a shipped device, the latest it shipped with
                if device.shipped:
                    query = query.where(LatencyProfile.shipped.is_(True))
                query = query.order_by(LatencyProfile.version.desc()).limit(1)
            else:
                query = query.where(LatencyProfile.version == version)
            found = session.scalars(query).first()
            if found is None:
                which = "any profile" if version is None else f"profile version {version}"
                raise NotFound(f"device {device_name!r} has no {which} for search space {space!r}")
            return convert.profile(found)

    def load(self, profile_id: int) -> latency.Profile:
        """The stored document of profile ``profile_id``, checked again as any profile is."""
        with self._sessions.begin() as session:
            document = session.scalar(select(LatencyProfile.document).where(LatencyProfile.id == profile_id))
        if document is None:
            raise NotFound(f"no latency profile with id {profile_id}")
        return latency.validate_profile(document, source=f"stored latency profile {profile_id}")


class ShippedDevice(InvalidField):
    """A profile added to a device the project ships: its profiles change only with a release, so every
    search on it (every search that names no device, on a known CPU) predicts from the measured table.
    The name is taken rather than malformed: the API answers it as a conflict (409), naming the field."""

    def __init__(self, name: str) -> None:
        super().__init__("name", f"{name!r} is a shipped device, measured by the project; its profiles are not "
                                 "changed. Register your device under a name of its own")


def add_profile_row(session: Session, device: Device, profile: latency.Profile,
                    document: str | None = None, shipped: bool = False) -> LatencyProfile:
    """Add ``profile`` as the next version of ``device``'s profile for its space, in ``session``."""
    if not isinstance(profile, latency.Profile):
        raise TypeError(f"profile: expected nas.latency.Profile, got {type(profile).__name__}")
    last = session.scalar(select(func.max(LatencyProfile.version)).where(
        LatencyProfile.device_id == device.id, LatencyProfile.search_space == profile.search_space))
    version = (last or 0) + 1
    row = LatencyProfile(
        device=device, search_space=profile.search_space, version=version,
        runtime=profile.device.runtime, resolutions=list(profile.resolutions),
        num_keys=len(profile.entries), validation_n=profile.validation.n,
        validation_mape=profile.validation.mape, validation_within_10pct=profile.validation.within_10pct,
        document=document if document is not None else profile.to_json(), shipped=shipped,
    )
    session.add(row)
    lookups.flush(session, "version", f"profile version {version} of {device.name!r} on "
                                      f"{profile.search_space!r} was added concurrently; retry")
    return row

"""This machine's own device in the registry: registered when it is the default, its profile of a
space fitted here on first need (``nas.latency.local``) and stored as the device's next version."""

from __future__ import annotations

from typing import Callable

from nas import latency
from nas.latency.local import Timer, calibrate_here, is_local
from nas.latency.shipped import host_cpu, local_device_name, shipped_device_here
from nas.storage.devices import ShippedDevice
from nas.storage.records import AlreadyExists, NotFound, ProfileRecord
from nas.storage.repository import Store

DESCRIPTION = "this machine: each space's profile fitted from networks timed end to end here, on first need"


def ensure_local_device(store: Store) -> str | None:
    """Register this machine's device when it is the default (its CPU has no shipped table);
    returns its name, or ``None`` where the default is another device."""
    name = latency.default_device()
    if not is_local(name):
        return None
    try:
        store.devices.add(name, hardware=host_cpu()[:200], description=DESCRIPTION)
    except AlreadyExists:
        pass
    return name


def has_profile(store: Store, device: str, space: str) -> bool:
    try:
        store.profiles.get(device, space)
    except NotFound:
        return False
    return True


def local_profile(store: Store, space: str, *, progress: Callable[[int, int], None] | None = None,
                  timer: Timer | None = None) -> ProfileRecord:
    """This machine's stored profile for ``space``, fitted here first if it has none."""
    name = local_device_name()
    try:
        store.devices.get(name)
    except NotFound:
        store.devices.add(name, hardware=host_cpu()[:200], description=DESCRIPTION)
    try:
        return store.profiles.get(name, space)
    except NotFound:
        return store.profiles.add(name, calibrate_here(space, progress=progress, timer=timer))


def fittable(store: Store, name: str) -> bool:
    """Whether device ``name`` exists already; ``ShippedDevice`` where it is a shipped one."""
    try:
        device = store.devices.get(name)
    except NotFound:
        return False
    if device.shipped:
        raise ShippedDevice(name)
    return True


def add_fitted(store: Store, name: str, profile: latency.Profile, hardware: str = "",
               owner: str | None = None) -> tuple[ProfileRecord, bool]:
    """Store a fitted profile as the device's next version, registering the device first if it is new
    (one registered by a concurrent request meanwhile is added to); returns it and whether the device
    was created."""
    created = not fittable(store, name)
    if created:
        try:
            store.devices.add(name, hardware=hardware, owner=owner)
        except AlreadyExists:
            created = not fittable(store, name)
    return store.profiles.add(name, profile), created


def default_latency(store: Store) -> str:
    """How the default device's profiles were made: shipped for this CPU, fitted here, or chosen."""
    device = latency.default_device()
    if is_local(device):
        spaces = sorted({p.search_space for p in _profiles(store, device)})
        done = f"fitted so far for {', '.join(spaces)}" if spaces else "none fitted yet"
        return (f"this machine's own profiles: its CPU has no shipped table, so each space's is fitted from "
                f"networks timed end to end here on first use ({done})")
    if device == shipped_device_here():
        return "the shipped tables measured block by block on this CPU"
    return "chosen by NAS_DEFAULT_DEVICE"


def _profiles(store: Store, device: str) -> list:
    try:
        return store.profiles.list(device)
    except NotFound:  # not registered yet
        return []

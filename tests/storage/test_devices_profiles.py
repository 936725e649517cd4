"""The device registry and its versioned latency profiles."""

from __future__ import annotations

from datetime import timezone

import pytest

import nas.latency as latency
from nas.storage import AlreadyExists, NotFound, ShippedDevice, lookups
from nas.storage.devices import add_profile_row
from tests.storage.helpers import synthetic_profile


def test_device_round_trip(store):
    added = store.devices.add("pi4", hardware="Raspberry Pi 4, Cortex-A72", description="lab board")
    assert added.name == "pi4" and added.hardware.startswith("Raspberry") and not added.shipped
    assert added.created_at.tzinfo is timezone.utc
    assert store.devices.get("pi4") == added
    store.devices.add("jetson")
    assert [d.name for d in store.devices.list()] == ["jetson", "pi4"]


def test_a_duplicate_device_is_refused_naming_the_field(store):
    store.devices.add("pi4")
    with pytest.raises(AlreadyExists, match="pi4") as caught:
        store.devices.add("pi4", hardware="another")
    assert caught.value.field == "name"
    assert store.devices.get("pi4").hardware == ""


def test_a_bad_device_name_is_refused(store):
    with pytest.raises(ValueError, match="name"):
        store.devices.add("has space")


def test_missing_things_are_named(store):
    with pytest.raises(NotFound, match="'nowhere'"):
        store.devices.get("nowhere")
    with pytest.raises(LookupError, match="'nowhere'"):
        store.profiles.list("nowhere")
    store.devices.add("pi4")
    with pytest.raises(NotFound, match="'nasbench201'"):
        store.profiles.get("pi4", "nasbench201")
    with pytest.raises(NotFound, match="12345"):
        store.profiles.load(12345)


def test_a_stored_profile_loads_back_equal(store):
    store.devices.add("pi4")
    original = synthetic_profile()
    record = store.profiles.add("pi4", original)
    assert (record.device, record.search_space, record.version) == ("pi4", "nasbench201", 1)
    assert record.runtime == "torch" and record.resolutions == [32]
    assert record.num_keys == len(original.entries)
    assert record.validation == {"n": 30, "mape": 0.05, "within_10pct": 0.9}
    assert record.created_at.tzinfo is timezone.utc
    assert store.profiles.load(record.id).model_dump() == original.model_dump()


def test_versions_count_per_device_and_space(store):
    store.devices.add("pi4")
    store.devices.add("jetson")
    first = store.profiles.add("pi4", synthetic_profile())
    second = store.profiles.add("pi4", synthetic_profile(overhead_ms=0.07))
    other_device = store.profiles.add("jetson", synthetic_profile())
    assert (first.version, second.version, other_device.version) == (1, 2, 1)
    assert store.profiles.get("pi4", "nasbench201").id == second.id
    assert store.profiles.get("pi4", "nasbench201", version=1).id == first.id
    assert [p.version for p in store.profiles.list("pi4")] == [1, 2]
    assert store.profiles.list("pi4", space="mobilenetv3") == []
    assert store.profiles.load(second.id).overhead_ms == 0.07
    with pytest.raises(NotFound, match="version 3"):
        store.profiles.get("pi4", "nasbench201", version=3)


def test_ensure_shipped_devices_is_idempotent(store):
    added = store.devices.ensure_shipped()
    shipped = latency.shipped_files()
    assert {(p.device, p.search_space) for p in added} == set(shipped)
    assert all(p.version == 1 for p in added)
    devices = {device for device, _ in shipped}  # one per CPU of the machine class
    assert latency.DEFAULT_DEVICE in devices and latency.default_device() in devices
    for name in devices:
        device = store.devices.get(name)
        assert device.shipped and device.hardware == latency.read_shipped(name, "nasbench201").device.hardware
        assert len(store.profiles.list(name)) == len(shipped) // len(devices)
    assert store.devices.ensure_shipped() == []
    profile = store.profiles.get(latency.default_device(), "nasbench201")
    assert store.profiles.load(profile.id) == latency.default_profile("nasbench201")


def _older_row(store, shipped: bool):
    """A row no caller can add any more: an older release's table, or (``shipped=False``) an upload
    kept from before shipped devices were read-only (migration 0006)."""
    older = latency.read_shipped(latency.DEFAULT_DEVICE, "nasbench201").model_copy(update={"overhead_ms": 0.123})
    with store._sessions.begin() as session:
        device = lookups.device(session, latency.DEFAULT_DEVICE)
        return add_profile_row(session, device, older, shipped=shipped).version


def test_ensure_shipped_devices_adds_a_version_when_the_shipped_file_changed(store):
    store.devices.ensure_shipped()
    assert _older_row(store, shipped=True) == 2  # a store filled by an older release
    added = store.devices.ensure_shipped()
    assert [(p.search_space, p.version) for p in added] == [("nasbench201", 3)]
    assert store.devices.ensure_shipped() == []
    assert store.profiles.get(latency.DEFAULT_DEVICE, "nasbench201").version == 3


def test_a_shipped_device_takes_no_profile_and_serves_only_what_shipped(store):
    store.devices.ensure_shipped()
    with pytest.raises(ShippedDevice, match="shipped device") as refused:
        store.profiles.add(latency.DEFAULT_DEVICE, latency.read_shipped(latency.DEFAULT_DEVICE, "nasbench201"))
    assert refused.value.field == "name"
    # An upload from before 0006 is the latest version, but a search that names no version uses the
    # shipped one; the upload is still there for one that asks for it by version.
    upload = _older_row(store, shipped=False)
    assert store.profiles.get(latency.DEFAULT_DEVICE, "nasbench201").version == 1
    assert store.profiles.get(latency.DEFAULT_DEVICE, "nasbench201", upload).version == upload == 2

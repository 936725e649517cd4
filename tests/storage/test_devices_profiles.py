"""The device registry and its versioned latency profiles."""

from __future__ import annotations

from datetime import timezone

import pytest

import nas.latency as latency
from nas.storage import AlreadyExists, NotFound
from tests.storage.helpers import synthetic_profile


def test_device_round_trip(store):
    added = store.add_device("pi4", hardware="Raspberry Pi 4, Cortex-A72", description="lab board")
    assert added.name == "pi4" and added.hardware.startswith("Raspberry") and not added.shipped
    assert added.created_at.tzinfo is timezone.utc
    assert store.get_device("pi4") == added
    store.add_device("jetson")
    assert [d.name for d in store.list_devices()] == ["jetson", "pi4"]


def test_a_duplicate_device_is_refused_naming_the_field(store):
    store.add_device("pi4")
    with pytest.raises(AlreadyExists, match="pi4") as caught:
        store.add_device("pi4", hardware="another")
    assert caught.value.field == "name"
    assert store.get_device("pi4").hardware == ""


def test_a_bad_device_name_is_refused(store):
    with pytest.raises(ValueError, match="name"):
        store.add_device("has space")


def test_missing_things_are_named(store):
    with pytest.raises(NotFound, match="'nowhere'"):
        store.get_device("nowhere")
    with pytest.raises(LookupError, match="'nowhere'"):
        store.list_profiles("nowhere")
    store.add_device("pi4")
    with pytest.raises(NotFound, match="'nasbench201'"):
        store.get_profile("pi4", "nasbench201")
    with pytest.raises(NotFound, match="12345"):
        store.load_profile(12345)


def test_a_stored_profile_loads_back_equal(store):
    store.add_device("pi4")
    original = synthetic_profile()
    record = store.add_profile("pi4", original)
    assert (record.device, record.search_space, record.version) == ("pi4", "nasbench201", 1)
    assert record.runtime == "torch" and record.resolutions == [32]
    assert record.num_keys == len(original.entries)
    assert record.validation == {"n": 30, "mape": 0.05, "within_10pct": 0.9}
    assert record.created_at.tzinfo is timezone.utc
    assert store.load_profile(record.id).model_dump() == original.model_dump()


def test_versions_count_per_device_and_space(store):
    store.add_device("pi4")
    store.add_device("jetson")
    first = store.add_profile("pi4", synthetic_profile())
    second = store.add_profile("pi4", synthetic_profile(overhead_ms=0.07))
    other_device = store.add_profile("jetson", synthetic_profile())
    assert (first.version, second.version, other_device.version) == (1, 2, 1)
    assert store.get_profile("pi4", "nasbench201").id == second.id
    assert store.get_profile("pi4", "nasbench201", version=1).id == first.id
    assert [p.version for p in store.list_profiles("pi4")] == [1, 2]
    assert store.list_profiles("pi4", space="mobilenetv3") == []
    assert store.load_profile(second.id).overhead_ms == 0.07
    with pytest.raises(NotFound, match="version 3"):
        store.get_profile("pi4", "nasbench201", version=3)


def test_ensure_shipped_devices_is_idempotent(store):
    added = store.ensure_shipped_devices()
    shipped = latency.shipped_files()
    assert {(p.device, p.search_space) for p in added} == set(shipped)
    assert all(p.version == 1 for p in added)
    devices = {device for device, _ in shipped}  # one per CPU of the machine class
    assert latency.DEFAULT_DEVICE in devices and latency.default_device() in devices
    for name in devices:
        device = store.get_device(name)
        assert device.shipped and device.hardware == latency.read_shipped(name, "nasbench201").device.hardware
        assert len(store.list_profiles(name)) == len(shipped) // len(devices)
    assert store.ensure_shipped_devices() == []
    profile = store.get_profile(latency.default_device(), "nasbench201")
    assert store.load_profile(profile.id) == latency.default_profile("nasbench201")


def test_ensure_shipped_devices_adds_a_version_when_the_shipped_file_changed(store):
    store.ensure_shipped_devices()
    # A store filled by an older release: its latest nasbench201 document differs from the file.
    older = latency.read_shipped(latency.DEFAULT_DEVICE, "nasbench201").model_copy(update={"overhead_ms": 0.123})
    store.add_profile(latency.DEFAULT_DEVICE, older)
    added = store.ensure_shipped_devices()
    assert [(p.search_space, p.version) for p in added] == [("nasbench201", 3)]
    assert store.ensure_shipped_devices() == []

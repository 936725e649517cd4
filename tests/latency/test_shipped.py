"""The shipped profiles: one per space and CPU of this machine class, complete and honest about themselves,
and the one of this host's CPU picked by default."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import searchspaces
from nas.latency import (
    DEFAULT_DEVICE,
    default_device,
    default_profile,
    load_profile,
    predict_many,
    read_shipped,
    shipped_files,
)
from nas.latency.hardware import describe_hardware
from nas.latency.sessions import merge_sessions
from nas.latency.shipped import (
    cpu_signature,
    device_for,
    local_device_name,
    shipped_device_here,
    shipped_hardware,
)
from nas.settings import get_settings

DEVICES = sorted({device for device, _ in shipped_files()})
ZEN1 = "x86-64-2core-zen1"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", searchspaces.names())
def test_every_space_has_a_shipped_profile_that_predicts(name, device):
    profile = read_shipped(device, name)
    space = searchspaces.get(name)
    assert profile.device.name == device and profile.search_space == name
    assert profile.device.runtime == "torch" and profile.device.precision == "fp32"
    assert profile.device.threads == 1 and profile.device.batch_size == 1
    assert set(profile.entries) == space.all_blocks()
    assert profile.calibration.fit_on >= 20 and profile.validation.n >= 20
    rng = random.Random(0)
    predicted = predict_many(profile, [space.sample(rng) for _ in range(50)])
    assert (predicted > 0).all()


def test_shipped_files_are_named_device_and_space():
    assert DEFAULT_DEVICE in DEVICES and ZEN1 in DEVICES
    assert set(shipped_files()) == {(device, name) for device in DEVICES for name in searchspaces.names()}
    for device in DEVICES:  # every table of a device was measured on the same CPU
        assert {read_shipped(device, name).device.hardware for name in searchspaces.names()} == {
            shipped_hardware()[device]}


def test_every_cpu_but_the_default_one_is_named_by_family_and_model_once():
    signatures = {device: cpu_signature(hardware) for device, hardware in shipped_hardware().items()}
    named = [s for device, s in signatures.items() if device != DEFAULT_DEVICE]
    assert None not in named and len(set(named)) == len(named), signatures
    assert signatures[ZEN1] == ("x86_64", "AMD EPYC", 23, 1)
    assert cpu_signature("x86_64, 4 cores, Intel(R) Xeon(R) CPU @ 2.20GHz (family 6 model 85, 2200 MHz, AVX512)") == (
        "x86_64", "Intel(R) Xeon(R) CPU @ 2.20GHz", 6, 85)


@pytest.mark.parametrize("hardware, device", [
    ("x86_64, 2 cores, AMD EPYC (family 23 model 1, 1996 MHz, AVX2)", ZEN1),
    # another clock, core count or torch vector extension is still that CPU
    ("x86_64, 8 cores, AMD EPYC (family 23 model 1, 2450 MHz, AVX512)", ZEN1),
    ("x86_64, 2 cores, AMD EPYC (family 25 model 1, 2450 MHz, AVX2)", DEFAULT_DEVICE),  # Zen 3
    ("x86_64, 2 cores, AMD EPYC 7B13 (family 23 model 1, 1996 MHz, AVX2)", DEFAULT_DEVICE),  # another name
    ("aarch64, 2 cores, AMD EPYC (family 23 model 1, 1996 MHz, DEFAULT)", DEFAULT_DEVICE),
    ("x86_64, 2 cores, AMD EPYC", DEFAULT_DEVICE),  # family and model not known
    ("NVIDIA H100 80GB HBM3, x86_64, 16 cores, Intel Xeon (family 6 model 143, 2000 MHz, AVX512)", DEFAULT_DEVICE),
    ("", DEFAULT_DEVICE),
])
def test_the_default_device_is_the_one_measured_on_this_cpu(hardware, device):
    assert device_for(hardware) == device


@pytest.fixture
def settings_read_again():
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize("name", searchspaces.names())
def test_default_profile_is_the_default_devices_table(name, monkeypatch, settings_read_again):
    assert default_profile(name).to_json() == read_shipped(default_device(), name).to_json()
    monkeypatch.delenv("NAS_DEFAULT_DEVICE")
    get_settings.cache_clear()  # read anew without it; the fixture below clears it again after
    here = shipped_device_here()
    assert here is None or here == device_for(describe_hardware())
    assert default_device() == (here or local_device_name())
    # a fit of this machine scales the nearest shipped table, never a fitted one
    assert default_profile(name).device.name == (here or DEFAULT_DEVICE)


def test_unknown_shipped_profiles_are_named():
    with pytest.raises(LookupError, match="no shipped profile for device 'pi4' on space 'metaformer'"):
        read_shipped("pi4", "metaformer")
    with pytest.raises(KeyError, match="resnet"):
        default_profile("resnet")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", searchspaces.names())
def test_the_shipped_profile_is_the_merge_of_its_sessions(name, device):
    """bench/latency_sessions/ holds what the shipped file was merged from; merging again gives it."""
    folder = Path(__file__).resolve().parents[2] / "bench" / "latency_sessions"
    files = sorted(folder.glob(f"*/{device}__{name}.json"))
    sessions = [load_profile(path) for path in files]
    shipped = read_shipped(device, name)
    assert len(sessions) >= 3
    assert shipped.measurement.sessions == sorted(s.measurement.measured_at for s in sessions)
    again = merge_sessions(sessions)
    assert again.entries == shipped.entries and again.overhead_ms == shipped.overhead_ms
    assert again.calibration.a == pytest.approx(shipped.calibration.a)
    assert again.validation.within_10pct == shipped.validation.within_10pct

"""The shipped profiles: one per space for this machine class, complete and honest about themselves."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import searchspaces
from nas.latency import DEFAULT_DEVICE, default_profile, load_profile, predict_many, read_shipped, shipped_files
from nas.latency.profiler import merge_sessions


@pytest.mark.parametrize("name", searchspaces.names())
def test_every_space_has_a_shipped_profile_that_predicts(name):
    profile = default_profile(name)
    space = searchspaces.get(name)
    assert profile.device.name == DEFAULT_DEVICE and profile.search_space == name
    assert profile.device.runtime == "torch" and profile.device.precision == "fp32"
    assert profile.device.threads == 1 and profile.device.batch_size == 1
    assert set(profile.entries) == space.all_blocks()
    assert profile.calibration.fit_on >= 20 and profile.validation.n >= 20
    rng = random.Random(0)
    predicted = predict_many(profile, [space.sample(rng) for _ in range(50)])
    assert (predicted > 0).all()


def test_shipped_files_are_named_device_and_space():
    assert set(shipped_files()) == {(DEFAULT_DEVICE, name) for name in searchspaces.names()}


def test_unknown_shipped_profiles_are_named():
    with pytest.raises(LookupError, match="no shipped profile for device 'pi4' on space 'metaformer'"):
        read_shipped("pi4", "metaformer")
    with pytest.raises(KeyError, match="resnet"):
        default_profile("resnet")


@pytest.mark.parametrize("name", searchspaces.names())
def test_the_shipped_profile_is_the_merge_of_its_sessions(name):
    """latency_tables/sessions/ holds what the shipped file was merged from; merging again gives it."""
    folder = Path(__file__).resolve().parents[2] / "latency_tables" / "sessions"
    files = sorted(folder.glob(f"*/{DEFAULT_DEVICE}__{name}.json"))
    sessions = [load_profile(path) for path in files]
    shipped = default_profile(name)
    assert len(sessions) >= 3
    assert shipped.measurement.sessions == sorted(s.measurement.measured_at for s in sessions)
    again = merge_sessions(sessions)
    assert again.entries == shipped.entries and again.overhead_ms == shipped.overhead_ms
    assert again.calibration.a == pytest.approx(shipped.calibration.a)
    assert again.validation.within_10pct == shipped.validation.within_10pct

"""The shipped profiles: one per space for this machine class, complete and honest about themselves."""

from __future__ import annotations

import random

import pytest

import searchspaces
from nas.latency import DEFAULT_DEVICE, default_profile, predict_many, read_shipped, shipped_files


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

"""fit_profile: a profile fitted from whole networks, predicted by the one prediction path."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

import searchspaces
from nas.latency import (
    MeasurementError,
    fit_profile,
    linear,
    predict_many,
    read_shipped,
    validate_profile,
)
from nas.latency.bank import bank_prior, read_bank
from nas.latency.shipped import DEFAULT_DEVICE
from nas.stats import spearman
from searchspaces.nasbench201 import OPS, unread_edges

CUT_OFF = ("|nor_conv_3x3~0|+|none~0|nor_conv_1x1~1|+|none~0|none~1|none~2|",
           "|skip_connect~0|+|avg_pool_3x3~0|none~1|+|none~0|none~1|none~2|")


def sample(space_name: str, n: int, seed: int) -> list[str]:
    space = searchspaces.get(space_name)
    rng = random.Random(seed)
    found: dict[str, None] = {}
    while len(found) < n:
        found[space.encode(space.sample(rng))] = None
    return list(found)


def synthetic_device(space_name: str) -> tuple:
    """A made-up device in the fit's own model. Without a bank: the reference's kinds scaled unevenly
    (0.3-3x), plus an intercept. With one (nasbench201): a bank device's weights, each kind's moved by
    up to 25%, since a few measurements are only meant to place a device among those the bank spans."""
    reference = read_shipped(DEFAULT_DEVICE, space_name)
    table = linear.floored(reference)
    space = searchspaces.get(space_name)
    plan = linear.design(table, space)
    rng = np.random.default_rng(7)
    bank = read_bank(space_name)
    if bank is None:
        weights = np.r_[2.0, rng.uniform(0.3, 3.0, len(plan.kinds)) * plan.kind_means]
    else:
        weights = np.array(bank["devices"]["fpga"]["weights"]) * 3.0
        weights[1:1 + len(plan.kinds)] *= rng.uniform(0.75, 1.25, len(plan.kinds))
    return reference, table, plan, weights


@pytest.mark.parametrize("space_name", ["nasbench201", "mobilenetv3"])
def test_the_fit_recovers_a_known_table_from_its_own_predictions(space_name):
    reference, table, plan, weights = synthetic_device(space_name)
    space = searchspaces.get(space_name)
    archs = sample(space_name, 130, seed=3)
    if space_name == "nasbench201":  # what the measurements must show for cut_off to be learnt
        archs[:2] = [CUT_OFF[0], CUT_OFF[1]]
    truth = linear.features(table, plan, archs, space) @ weights
    fitted = fit_profile(space_name, list(zip(archs[:30], truth[:30])), reference=reference, device="synthetic")
    predicted = predict_many(fitted, archs[30:])
    errors = np.abs(predicted / truth[30:] - 1)
    assert np.max(errors) < 0.03 and np.median(errors) < 0.01
    assert spearman(predicted, truth[30:]) > 0.99
    assert fitted.validation.method == "leave-one-out" and fitted.validation.n == 30
    assert fitted.validation.within_10pct == 1.0
    assert fitted.fit.n == 30 and fitted.fit.reference == f"{DEFAULT_DEVICE}/{space_name}"
    assert fitted.calibration.fit_on == 30 and fitted.device.name == "synthetic"


def test_a_fitted_profile_round_trips_through_its_json():
    archs = sample("nasbench201", 12, seed=5)
    reference = read_shipped(DEFAULT_DEVICE, "nasbench201")
    measured = 3.0 * predict_many(reference, archs)
    fitted = fit_profile("nasbench201", list(zip(archs, measured)), device={"name": "phone", "runtime": "tflite"})
    again = validate_profile(fitted.to_json())
    assert again.schema_version == 4 and again.fit.bank and again.device.runtime == "tflite"
    assert np.allclose(predict_many(again, archs), predict_many(fitted, archs))
    # a device three times slower than the reference is predicted about three times slower
    assert np.median(predict_many(fitted, archs) / measured) == pytest.approx(1.0, rel=0.1)


def test_nasbench201_leans_on_the_bank_and_an_evaluation_can_leave_a_device_out():
    bank = read_bank("nasbench201")
    assert bank is not None and len(bank["devices"]) == 27 and "MIT" in bank["source"]
    archs = sample("nasbench201", 10, seed=9)
    rows = [(a, 1.0 + i) for i, a in enumerate(archs)]
    fitted = fit_profile("nasbench201", rows, bank_exclude={"pixel3", "raspi4"})
    assert "pixel3" not in fitted.fit.bank and "raspi4" not in fitted.fit.bank and "fpga" in fitted.fit.bank
    assert "bank of 25 devices" in fitted.fit.method
    table = linear.floored(read_shipped(DEFAULT_DEVICE, "nasbench201"))
    plan = linear.design(table, searchspaces.get("nasbench201"))
    assert bank_prior("nasbench201", plan).mean.shape == (len(plan.names),)


def test_a_cut_off_cell_is_a_structural_feature_of_nasbench201():
    space = searchspaces.get("nasbench201")
    cut = space.decode("|nor_conv_3x3~0|+|none~0|nor_conv_1x1~1|+|none~0|none~1|none~2|")
    assert space.structure_features(cut) == {
        "cut_off": 1.0, "dead_skip_connect": 0.0, "dead_nor_conv_1x1": 15.0, "dead_nor_conv_3x3": 15.0,
        "dead_avg_pool_3x3": 0.0, "no_output": 1.0, "unread_skip_connect": 0.0, "unread_nor_conv_1x1": 15.0,
        "unread_nor_conv_3x3": 15.0, "unread_avg_pool_3x3": 0.0}
    dead_branch = space.decode("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
    assert space.structure_features(dead_branch)["cut_off"] == 0.0
    assert space.structure_features(dead_branch)["dead_nor_conv_3x3"] == 15.0
    assert space.structure_features(dead_branch)["unread_nor_conv_3x3"] == 15.0


def test_an_op_on_a_zero_node_is_dead_but_still_read_by_the_output():
    """Node 1 gets only a zero edge, and node 3 reads a 3x3 conv of it: no chain from the input reaches
    the output (cut off, the conv dead), yet the conv's result is read (not unread, an output)."""
    space = searchspaces.get("nasbench201")
    zero_fed = space.decode("|none~0|+|nor_conv_3x3~0|skip_connect~1|+|none~0|nor_conv_3x3~1|none~2|")
    features = space.structure_features(zero_fed)
    assert features["cut_off"] == 1.0 and features["no_output"] == 0.0
    assert features["dead_nor_conv_3x3"] == 30.0 and features["dead_skip_connect"] == 15.0
    # node 2 (a conv of the input, a skip of node 1) feeds nothing; node 1's conv feeds the output
    assert features["unread_nor_conv_3x3"] == 15.0 and features["unread_skip_connect"] == 15.0


def test_too_few_or_bad_measurements_are_refused_naming_the_row():
    archs = sample("nasbench201", 6, seed=1)
    with pytest.raises(MeasurementError, match="at least 5"):
        fit_profile("nasbench201", [(a, 1.0) for a in archs[:3]])
    rows = [(f"line {i + 2}", a, 1.0) for i, a in enumerate(archs)]
    rows[2] = ("line 4", archs[2], float("nan"))
    with pytest.raises(MeasurementError, match="line 4"):
        fit_profile("nasbench201", rows)
    with pytest.raises(KeyError, match="unknown search space"):
        fit_profile("no-such-space", [(a, 1.0) for a in archs])


def test_a_device_that_prunes_unread_work_is_fitted_where_a_zero_fed_op_still_runs():
    """A made-up converter in the way of HW-NAS-Bench's Pixel 3: it drops every edge whose result
    nothing reads and folds a network whose cells send only zeros to their output, but runs an op fed
    by a zero node. Fitted from 40 cells, the cells such an op keeps running (cut off by the other
    reading) are predicted at their cost, not folded."""
    space = searchspaces.get("nasbench201")
    reference = read_shipped(DEFAULT_DEVICE, "nasbench201")
    table = linear.floored(reference)
    plan = linear.design(table, space)
    everything = [space.encode(arch) for arch in itertools.product(OPS, repeat=6)]
    kept = []
    for text in everything:
        arch = space.decode(text)
        kept.append(space.encode(tuple("none" if idle else op for op, idle in zip(arch, unread_edges(arch)))))
    truth = linear.features(table, plan, kept, space)[:, 1:1 + len(plan.kinds)] @ plan.kind_means
    silent = np.array([space.structure_features(space.decode(t))["no_output"] == 1.0 for t in everything])
    truth[silent] = 0.01 * np.median(truth)
    zero_fed = np.array([space.structure_features(space.decode(t))["cut_off"] == 1.0 for t in everything]) & ~silent
    rng = np.random.default_rng(11)
    picked = np.r_[rng.choice(np.flatnonzero(~zero_fed), 36, replace=False), rng.choice(np.flatnonzero(zero_fed), 4)]
    fitted = fit_profile("nasbench201", [(everything[i], truth[i]) for i in picked], reference=reference)
    predicted = predict_many(fitted, everything)
    assert np.median(np.abs(predicted[zero_fed] / truth[zero_fed] - 1)) < 0.05
    assert spearman(predicted, truth) > 0.98

"""The profiler, for real on this machine: a tiny profile measured here predicts a tiny network."""

from __future__ import annotations

import json
import os
import platform
import re
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
import torch

import searchspaces
from nas.latency import SCHEMA_VERSION, ProfileError, block_sums, predict, predict_many, speedcheck, validate_profile
from nas.latency.calibration import (
    choose_calibration,
    error_summary,
    fit_calibration,
    fit_kind_scales,
    recalibrate,
)
from nas.latency.hardware import describe_hardware
from nas.latency.measure import Runner, time_calls
from nas.latency.profiler import profile_space, sample_networks
from nas.latency.sessions import merge_sessions, session_speeds
from nas.latency.speedcheck import speed_check, speed_check_points, with_speed_check


@pytest.fixture(scope="module")
def measured():
    stages = []
    profile = profile_space(
        "nasbench201", "here", repeats=12, rounds=2, calibration=6, validation=4, seed=5,
        progress=lambda stage, done, total: stages.append((stage, done, total)),
    )
    return profile, stages


def test_the_profile_covers_the_space_and_passes_its_own_checks(measured):
    profile, _ = measured
    space = searchspaces.get("nasbench201")
    assert set(profile.entries) == space.all_blocks()
    assert validate_profile(profile.to_json()) == profile
    assert profile.device.threads == 1 and profile.measurement.statistic == "min"
    assert profile.measurement.allocator == Runner("torch").allocator  # recorded as the timings ran
    assert all(e.count == 12 and e.min <= e.p50 for e in profile.entries.values())
    assert profile.calibration.fit_on == 6 and profile.validation.n == 4
    fitted = {p.arch for p in profile.calibration.networks}
    assert fitted.isdisjoint(p.arch for p in profile.validation.networks)


def test_progress_reaches_every_total(measured):
    _, stages = measured
    last = {}
    for stage, done, total in stages:
        last[stage] = (done, total)
    assert set(last) == {"blocks", "networks"}
    assert all(done == total for done, total in last.values())
    assert last["blocks"][1] == 2 * 22 and last["networks"][1] == 2 * (6 + 4)


def test_a_tiny_network_is_predicted_within_a_loose_bound(measured):
    profile, _ = measured
    space = searchspaces.get("nasbench201")
    arch = space.decode("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|")
    measured_ms = time_calls(Runner().prepare(space.build(arch), (3, 32, 32)), 5, 60).min
    predicted = predict(profile, arch)
    # This VM's speed drifts by tens of percent from one minute to the next; the bound is loose on
    # purpose. bench/latency_accuracy.py measures the real accuracy.
    assert measured_ms / 3 < predicted < measured_ms * 3


def test_the_validation_figures_are_those_of_the_recorded_points(measured):
    profile, _ = measured
    points = profile.validation.networks
    measured_ms = np.array([p.measured_ms for p in points])
    predicted = np.array([p.predicted_ms for p in points])
    summary = error_summary(measured_ms, predicted)
    assert profile.validation.mape == pytest.approx(summary["mape"])
    assert profile.validation.within_10pct == summary["within_10pct"]
    space = searchspaces.get("nasbench201")
    archs = [p.arch for p in points]
    raw = block_sums(profile, archs, space)
    assert predicted == pytest.approx(profile.calibration.a * raw + profile.calibration.b)


def test_onnxruntime_profiles_a_space_too():
    profile = profile_space("nasbench201", "here-ort", runtime="onnxruntime", repeats=4, rounds=1,
                            calibration=3, validation=2)
    assert profile.device.runtime == "onnxruntime"
    assert set(profile.entries) == searchspaces.get("nasbench201").all_blocks()
    assert profile.validation.n == 2 and profile.validation.within_10pct is not None


def test_calibration_fit_recovers_a_line_and_keeps_a_positive():
    raw = np.array([1.0, 2.0, 4.0, 8.0])
    a, b = fit_calibration(raw, 1.5 * raw + 0.25)
    assert (a, b) == pytest.approx((1.5, 0.25))
    assert fit_calibration(np.array([2.0]), np.array([3.0])) == (1.5, 0.0)
    assert fit_calibration(np.array([]), np.array([])) == (1.0, 0.0)
    a, _ = fit_calibration(np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0]))
    assert a > 0


def kind_data(true_scales, n=30, seed=0):
    """Networks' per-kind sums, and what they measure when each kind costs ``true_scales`` times
    its table entry (1% noise)."""
    rng = np.random.default_rng(seed)
    sums = rng.uniform(0.5, 4.0, size=(n, len(true_scales)))
    measured = (0.05 + sums @ np.asarray(true_scales)) * rng.normal(1.0, 0.01, size=n)
    return sums, measured


def test_per_kind_scales_are_found_when_kinds_differ():
    sums, measured = kind_data([1.0, 0.4, 1.6, 1.0])
    a, b, scales = choose_calibration(sums, 0.05, measured)
    assert scales is not None
    per_kind = np.abs((a * (0.05 + sums @ scales) + b) / measured - 1).mean()
    shared = np.abs((np.polyval(fit_calibration(sums.sum(axis=1) + 0.05, measured), sums.sum(axis=1) + 0.05))
                    / measured - 1).mean()
    assert per_kind < 0.02 and per_kind < shared / 3
    assert a * scales[1] < 0.8 * a * scales[0] < a * scales[2] / 1.3  # the cheap and the dear kinds


def test_one_scale_is_kept_when_every_kind_behaves_alike():
    sums, measured = kind_data([1.3, 1.3, 1.3, 1.3], seed=1)
    a, b, scales = choose_calibration(sums, 0.05, measured)
    assert scales is None
    assert (a, b) == pytest.approx(fit_calibration(sums.sum(axis=1) + 0.05, measured))


def test_a_kind_no_network_uses_keeps_the_shared_scale():
    sums, measured = kind_data([1.0, 0.4, 1.6, 1.0])
    sums[:, 3] = 0.0
    scales, _ = fit_kind_scales(sums, 0.05, measured, 1.0)
    assert scales[3] == pytest.approx(1.0, abs=1e-9)
    assert fit_kind_scales(sums[:2], 0.05, measured[:2], 1.0) is None  # too few networks to say


def test_recalibrate_refits_on_the_recorded_networks(measured):
    profile, _ = measured
    again = recalibrate(profile)
    assert [p.arch for p in again.validation.networks] == [p.arch for p in profile.validation.networks]
    assert [p.measured_ms for p in again.calibration.networks] == [p.measured_ms for p in profile.calibration.networks]
    assert again.entries == profile.entries and again.schema_version == SCHEMA_VERSION
    recorded = np.array([p.predicted_ms for p in again.validation.networks])
    assert recorded == pytest.approx(np.maximum(predict_many(again, [p.arch for p in again.validation.networks]), 0))
    stripped = validate_profile({**json.loads(profile.to_json()), "validation": {"n": 4}})
    with pytest.raises(ValueError, match="and 0 of its 4 validation networks; all are needed"):
        recalibrate(stripped)


def test_networks_are_sampled_at_the_asked_resolutions_and_distinct():
    space = searchspaces.get("mobilenetv3")
    archs = sample_networks(space, 5, [160], seed=0)
    assert len(archs) == 5 and {space.resolution(a) for a in archs} == {160}
    again = sample_networks(space, 5, [160], seed=1, exclude={space.encode(a) for a in archs})
    assert not {space.encode(a) for a in again} & {space.encode(a) for a in archs}


def test_bad_settings_are_refused_by_name():
    with pytest.raises(ValueError, match="unknown runtime 'tflite'"):
        profile_space("nasbench201", "x", runtime="tflite")
    with pytest.raises(ValueError, match="resolution 64 is not in space 'nasbench201'"):
        profile_space("nasbench201", "x", resolutions=[64])
    with pytest.raises(ValueError, match="threads must be at least 1"):
        profile_space("nasbench201", "x", threads=0)
    with pytest.raises(ValueError, match="unknown accelerator 'tpu'; choose from \\['cuda', 'cuda-graph'\\]"):
        profile_space("nasbench201", "x", accelerator="tpu")
    with pytest.raises(ValueError, match="accelerator 'cuda' is measured with runtime 'torch' only"):
        profile_space("nasbench201", "x", runtime="onnxruntime", accelerator="cuda")
    with pytest.raises(ValueError, match="accelerator 'cuda-graph' is measured with runtime 'torch' only"):
        profile_space("nasbench201", "x", runtime="onnxruntime", accelerator="cuda-graph")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without a GPU")
def test_cuda_without_a_gpu_is_refused_before_anything_is_timed():
    with pytest.raises(ValueError, match="accelerator 'cuda' is not available here: torch .* sees no CUDA GPU"):
        profile_space("nasbench201", "x", accelerator="cuda")
    with pytest.raises(ValueError, match="accelerator 'cuda-graph' is not available here: torch .* sees no CUDA GPU"):
        profile_space("nasbench201", "x", accelerator="cuda-graph")


def another_session(profile, speed: float, hour: int, **changes):
    """``profile`` as if measured again at ``hour``:00 with the machine ``speed`` times slower."""
    document = json.loads(profile.to_json())
    for entry in document["entries"].values():
        for stat in ("p50", "mean", "min"):
            entry[stat] = round(entry[stat] * speed, 4)
    for part in ("calibration", "validation"):
        for point in document[part]["networks"]:
            point["measured_ms"] *= speed
    document["overhead_ms"] = round(document["overhead_ms"] * speed, 4)
    document["measurement"]["measured_at"] = f"2026-11-23T{hour:02d}:00:00+00:00"
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = document
        for part in parents:
            node = node[part]
        node[last] = value
    return validate_profile(document)


def test_merged_sessions_take_the_median_and_refit(measured):
    profile, _ = measured
    sessions = [another_session(profile, 1.10, 9), another_session(profile, 1.0, 8), another_session(profile, 0.95, 11)]
    merged = merge_sessions(sessions)
    # the median, not the mean (which would be 1.017 times the middle session)
    for key, entry in merged.entries.items():
        assert entry.min == pytest.approx(profile.entries[key].min, abs=2e-4)
        assert entry.count == 3 * profile.entries[key].count
    assert [p.measured_ms for p in merged.validation.networks] == pytest.approx(
        [p.measured_ms for p in profile.validation.networks])
    assert merged.overhead_ms == pytest.approx(profile.overhead_ms, abs=2e-4)
    assert [s.hour for s in merged.measurement.sessions] == [8, 9, 11]
    assert merged.measurement.measured_at.hour == 11
    assert "median of 3 sessions" in merged.measurement.tool
    # calibrated again on the medians: the figures a single session at the middle speed would have
    refit = recalibrate(sessions[1])
    assert merged.calibration.a == pytest.approx(refit.calibration.a, rel=1e-3)
    assert merged.validation.mape == pytest.approx(refit.validation.mape, abs=1e-3)
    assert session_speeds(sessions, merged) == pytest.approx([1.10, 1.0, 0.95], abs=1e-3)
    assert validate_profile(merged.to_json()).measurement.sessions == merged.measurement.sessions


def test_sessions_that_differ_are_refused_naming_each_field(measured):
    profile, _ = measured
    with pytest.raises(ProfileError, match="need at least 2 sessions"):
        merge_sessions([profile])
    other = another_session(profile, 1.0, 9, device__threads=2, measurement__repeats=30)
    others = sample_networks(searchspaces.get("nasbench201"), 4, profile.resolutions, seed=99)
    moved = json.loads(profile.to_json())
    for point, arch in zip(moved["validation"]["networks"], others):
        point["arch"] = searchspaces.get("nasbench201").encode(arch)
    with pytest.raises(ProfileError) as error:
        merge_sessions([profile, other, validate_profile(moved)], ["a.json", "b.json", "c.json"])
    assert [p.field for p in error.value.problems] == ["device.threads", "measurement.repeats", "validation.networks"]
    assert [str(p) for p in error.value.problems] == [
        "device.threads: 2 in b.json, 1 in a.json",
        "measurement.repeats: 30 in b.json, 12 in a.json",
        "validation.networks: c.json timed other networks than a.json "
        "(profile every session with the same --seed, --calibration and --validation)",
    ]
    merged = merge_sessions([profile, another_session(profile, 1.1, 9)])
    with pytest.raises(ProfileError, match="b.json: already merged from 2 sessions"):
        merge_sessions([profile, merged], ["a.json", "b.json"])


def test_a_speed_check_scales_every_prediction_by_the_median_ratio(measured):
    profile, _ = measured
    at = datetime(2026, 11, 24, 20, 0, tzinfo=timezone.utc)
    checked = with_speed_check(profile, [1.0, 2.0, 4.0], [1.1, 2.4, 4.2], at)  # ratios 1.1, 1.2, 1.05
    check = checked.speed_check
    assert check.factor == pytest.approx(1.1) and check.networks == 3
    assert (check.low, check.high) == pytest.approx((1.05, 1.2)) and check.measured_at == at
    assert checked.schema_version == SCHEMA_VERSION == 4 and profile.speed_check is None
    archs = sample_networks(searchspaces.get("nasbench201"), 5, profile.resolutions, seed=31)
    assert predict_many(checked, archs) == pytest.approx(1.1 * predict_many(profile, archs))
    assert predict(checked, archs[0]) == pytest.approx(1.1 * predict(profile, archs[0]))
    assert validate_profile(checked.to_json()).model_dump() == checked.model_dump()  # the check travels with the file
    assert recalibrate(checked).speed_check == check  # a refit does not change the recorded times
    with pytest.raises(ProfileError, match="session 2: has a speed check; merge the sessions as"):
        merge_sessions([profile, checked])


def test_a_speed_check_times_the_recorded_networks_again_here(measured, monkeypatch):
    profile, _ = measured
    points = speed_check_points(profile, 4)
    timed = []

    def clock(again, archs, progress):  # what this machine takes now: no timing in a test
        timed.append((again, list(archs)))
        progress(len(archs) * again.measurement.rounds)
        return np.array([p.measured_ms for p in points]) * np.array([0.5, 0.5, 0.4, 0.6])

    monkeypatch.setattr(speedcheck, "time_like", clock)
    ticks = []
    checked = speed_check(profile, networks=4, progress=ticks.append)
    assert timed == [(profile, [p.arch for p in points])]  # the recorded networks, the profile's own settings
    assert checked.speed_check.networks == 4 and sum(ticks) == 4 * profile.measurement.rounds
    assert checked.speed_check.factor == pytest.approx(0.5)  # the median of the ratios
    assert (checked.speed_check.low, checked.speed_check.high) == pytest.approx((0.4, 0.6))


def test_a_speed_check_needs_recorded_networks_and_a_count(measured):
    profile, _ = measured
    with pytest.raises(ValueError, match="networks: must be at least 1, got 0"):
        speed_check(profile, networks=0)
    document = json.loads(profile.to_json())
    document["calibration"]["networks"] = []
    with pytest.raises(ValueError, match="calibration.networks: the profile records no calibration networks"):
        speed_check(validate_profile(document))


def test_the_hardware_line_names_the_cpu_closely_enough_to_tell_two_hosts_apart():
    line = describe_hardware()
    assert f"{os.cpu_count()} cores" in line and platform.machine() in line
    assert torch.backends.cpu.get_cpu_capability() in line  # the vector instructions the kernels use
    if Path("/proc/cpuinfo").exists() and platform.machine() == "x86_64":
        assert re.search(r"\(family \d+ model \d+, \d+ MHz, ", line), line

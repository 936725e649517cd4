"""The profile format: round trips, and refusals that name every problem."""

from __future__ import annotations

import copy
import json

import pytest

import searchspaces
from nas.errors import InvalidField
from nas.latency import ProfileError, load_profile, validate_profile
from nas.latency.measure import ACCELERATORS


def problems_of(data) -> list[str]:
    with pytest.raises(ProfileError) as caught:
        validate_profile(data)
    return [str(problem) for problem in caught.value.problems]


def fields_of(data) -> list[str]:
    with pytest.raises(ProfileError) as caught:
        validate_profile(data)
    assert isinstance(caught.value, InvalidField) and caught.value.kind == "profile"
    return [problem.field for problem in caught.value.problems]


def test_a_profile_round_trips_through_json_and_a_file(document, tmp_path):
    profile = validate_profile(document)
    again = validate_profile(profile.to_json())
    assert again == profile
    path = tmp_path / "p.json"
    path.write_text(profile.to_json())
    assert load_profile(path) == profile
    assert json.loads(profile.to_json())["entries"] == document["entries"]


def test_not_json_is_refused():
    problems = problems_of("{not json")
    assert len(problems) == 1 and problems[0].startswith("not JSON")
    assert problems_of("[1, 2]") == ["the document must be a JSON object, got list"]
    assert fields_of("{not json") == fields_of("[1, 2]") == [""]  # the document as a whole


def test_every_problem_is_listed_with_its_field(document):
    key_a, key_b, key_c = sorted(document["entries"])[:3]
    document["entries"][key_a]["p50"] = float("nan")
    document["entries"][key_b]["mean"] = -1.0
    del document["entries"][key_c]
    document["measurement"]["unit"] = "us"
    del document["device"]["threads"]
    problems = problems_of(document)
    text = "\n".join(problems)
    assert f"entries.{key_a}.p50: must be a finite number" in text
    assert f"entries.{key_b}.mean: Input should be greater than or equal to 0" in text
    assert "measurement.unit: must be 'ms', got 'us'" in text
    assert "device.threads: required field is missing" in text
    assert f"entries: 1 of the space's 22 block keys are missing (resolutions [32], 10 classes): {key_c}" in text
    assert len(problems) == 5
    assert sorted(fields_of(document)) == sorted([f"entries.{key_a}.p50", f"entries.{key_b}.mean", "measurement.unit",
                                                  "device.threads", "entries"])


def test_unknown_space_and_resolution_are_refused(document):
    document["search_space"] = "resnet"
    assert problems_of(document) == [
        "search_space: unknown space 'resnet'; known: metaformer, mobilenetv3, nasbench201, shufflenetv2"
    ]
    document["search_space"] = "nasbench201"
    document["resolutions"] = [32, 64]
    assert problems_of(document) == ["resolutions: [64] not in space 'nasbench201' (choose from [32])"]


def test_keys_of_another_class_count_are_extra_and_missing(document):
    document["num_classes"] = 100
    text = "\n".join(problems_of(document))
    assert "1 of the space's 22 block keys are missing" in text and "nb201_head-input:8x8x64-classes:100" in text
    assert "1 keys the space does not produce: nb201_head-input:8x8x64-classes:10" in text


def test_typos_and_bad_values_elsewhere_are_named(document):
    document["device"]["thread"] = 1
    document["calibration"]["a"] = 0
    document["measurement"]["statistic"] = "p90"
    document["validation"]["within_10pct"] = 1.5
    text = "\n".join(problems_of(document))
    for field in ("device.thread: unknown field", "calibration.a:", "measurement.statistic:",
                  "validation.within_10pct:"):
        assert field in text


def test_statistic_min_needs_min_in_every_entry(document):
    document["measurement"]["statistic"] = "min"
    key = sorted(document["entries"])[0]
    del document["entries"][key]["min"]
    assert problems_of(document) == [f"entries: statistic is 'min' but 1 entries lack it: {key}"]


def test_load_profile_names_the_file(tmp_path):
    with pytest.raises(ProfileError, match="(?s)profile .*missing.json.*cannot read the file"):
        load_profile(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(ProfileError, match=r"invalid profile .*bad.json \(10 problems\)"):
        load_profile(bad)


def test_numbers_and_dates_of_the_wrong_kind_are_refused_not_coerced(document):
    # Lax parsing would read these as 32, 1, 60 and 1970-01-01, and 32.0 would skip the key check.
    key = sorted(document["entries"])[0]
    document["resolutions"] = [32.0]
    document["device"]["threads"] = True
    document["entries"][key]["count"] = "60"
    document["measurement"]["measured_at"] = 0
    text = "\n".join(problems_of(document))
    for field in ("resolutions.0:", "device.threads:", f"entries.{key}.count:",
                  "measurement.measured_at: must be an ISO 8601 date-time string, got int"):
        assert field in text


def test_text_with_nul_and_parts_of_the_wrong_shape_are_refused(document):
    document["device"]["runtime"] = "torch\x00"
    document["measurement"] = ["min"]
    assert problems_of(document) == ["device.runtime: must not contain NUL characters",
                                     "measurement: Input should be a valid dictionary or instance of MeasurementInfo"]
    assert problems_of("[" * 100_000) == ["not JSON: nested too deeply to read"]


def test_kind_scales_round_trip_and_must_cover_exactly_the_spaces_kinds(document):
    space = searchspaces.get("nasbench201")
    kinds = sorted({space.block_kind(key) for key in space.all_blocks()})
    assert "nb201_edge[op=avg_pool_3x3]" in kinds and "nb201_stem" in kinds
    document["calibration"]["kind_scales"] = {kind: 1.0 for kind in kinds}
    profile = validate_profile(document)
    assert validate_profile(profile.to_json()) == profile

    bad = copy.deepcopy(document)
    del bad["calibration"]["kind_scales"]["nb201_stem"]
    bad["calibration"]["kind_scales"]["nb201_edge[op=max_pool]"] = 1.0
    bad["calibration"]["kind_scales"]["nb201_head"] = 0.0
    with pytest.raises(ProfileError) as caught:
        validate_profile(bad)
    text = str(caught.value)
    assert "calibration.kind_scales.nb201_head: Input should be greater than 0" in text
    assert "calibration.kind_scales: kinds the space does not have: nb201_edge[op=max_pool]" in text
    assert "calibration.kind_scales: no scale for kinds nb201_stem" in text

    old = copy.deepcopy(document)
    old["schema_version"] = 1
    with pytest.raises(ProfileError, match="calibration.kind_scales: needs schema_version 2"):
        validate_profile(old)
    del old["calibration"]["kind_scales"]
    assert validate_profile(old).schema_version == 1  # version 1 documents are still read


def test_a_speed_check_needs_version_3_and_a_positive_factor(document):
    check = {"factor": 1.08, "measured_at": "2026-11-24T20:00:00Z", "networks": 10, "low": 1.01, "high": 1.15,
             "tool": "test"}
    document["speed_check"] = check
    assert validate_profile(document).speed_check.factor == 1.08
    document["schema_version"] = 2
    with pytest.raises(ProfileError, match="speed_check: needs schema_version 3 \\(version 2 has no such field\\)"):
        validate_profile(document)
    document["schema_version"] = 3
    document["speed_check"] = {**check, "factor": -1.0, "networks": 0, "measured_at": 5}
    with pytest.raises(ProfileError) as caught:
        validate_profile(document)
    assert "speed_check.factor: Input should be greater than 0" in str(caught.value)
    assert "speed_check.networks: Input should be greater than or equal to 1" in str(caught.value)
    assert "speed_check.measured_at: must be an ISO 8601 date-time string, got int" in str(caught.value)


def test_the_accelerator_is_cuda_or_absent(document):
    for accelerator in ACCELERATORS:  # every accelerator the profiler can time on is admitted
        document["device"]["accelerator"] = accelerator
        assert validate_profile(document).device.accelerator == accelerator
    document["device"]["accelerator"] = "tpu"
    assert any(p.startswith("device.accelerator:") for p in problems_of(document))
    del document["device"]["accelerator"]
    assert validate_profile(document).device.accelerator is None


def test_sessions_of_a_merged_profile_are_dates_two_or_more(document):
    document["measurement"]["sessions"] = ["2026-11-23T08:00:00Z", "2026-11-23T10:00:00Z"]
    assert len(validate_profile(document).measurement.sessions) == 2
    document["measurement"]["sessions"] = ["2026-11-23T08:00:00Z"]
    assert any(p.startswith("measurement.sessions:") for p in problems_of(document))
    document["measurement"]["sessions"] = ["2026-11-23T08:00:00Z", "yesterday"]
    assert any(p.startswith("measurement.sessions.1:") for p in problems_of(document))

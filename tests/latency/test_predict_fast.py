"""The predictor's fast path (parts of canonical strings, priced once per profile) against the block sum
worked out by hand from ``space.blocks``, on every space, and its errors against the per-key path's."""

from __future__ import annotations

import gc
import importlib
import json
import math
import random
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

import searchspaces
from nas.latency import MissingBlocksError, default_profile, predict, predict_many, validate_profile

predict_module = importlib.import_module("nas.latency.predict")

SPACES = sorted(searchspaces.names())


def by_hand(profile, space, arch) -> float:
    """``speed * (a * (overhead + sum scale[kind] * entry) + b + sum coef * feature)``, key by key."""
    calibration = profile.calibration
    scales = calibration.kind_scales or {}
    if isinstance(arch, str):
        arch = space.decode(arch)
    total = profile.overhead_ms + math.fsum(
        scales.get(space.block_kind(key), 1.0) * profile.value(key)
        for key in space.blocks(arch, profile.num_classes)
    )
    structure = 0.0
    if calibration.structure:
        features = space.structure_features(arch)
        structure = math.fsum(coef * features[name] for name, coef in calibration.structure.items())
    speed = profile.speed_check.factor if profile.speed_check else 1.0
    return speed * (calibration.a * total + calibration.b + structure)


def document(name: str) -> dict:
    return json.loads(default_profile(name).to_json())


def fitted_style(name: str) -> object:
    """The shipped profile with a speed check, a scale per kind and a coefficient per feature."""
    space = searchspaces.get(name)
    doc = document(name)
    doc["schema_version"] = 4
    kinds = sorted({space.block_kind(key) for key in doc["entries"]})
    doc["calibration"]["kind_scales"] = {kind: 0.8 + 0.05 * i for i, kind in enumerate(kinds)}
    if space.structure_feature_names:
        doc["calibration"]["structure"] = {
            feature: -2.0 + 0.7 * i for i, feature in enumerate(space.structure_feature_names)
        }
    doc["speed_check"] = {"factor": 1.13, "measured_at": "2026-01-01T00:00:00Z", "networks": 3,
                          "low": 1.05, "high": 1.2, "tool": "test"}
    return validate_profile(doc)


def samples(space, n: int, seed: int) -> list:
    rng = random.Random(seed)
    return [space.sample(rng) for _ in range(n)]


@pytest.mark.parametrize("name", SPACES)
def test_parts_pool_to_the_blocks_of_the_string(name):
    space = searchspaces.get(name)
    for arch in samples(space, 300, 11):
        text = space.encode(arch)
        for classes in (None, 7):
            pooled = [key for part in space.block_parts(text) for key in space.part_blocks(part, classes)]
            assert Counter(pooled) == Counter(space.blocks(arch, classes))


@pytest.mark.parametrize("name", SPACES)
@pytest.mark.parametrize("style", ["shipped", "fitted"])
def test_fast_path_equals_the_sum_by_hand(name, style, monkeypatch):
    def per_key_path(*args):
        raise AssertionError("good candidates went the per-key way")

    monkeypatch.setattr(predict_module, "_key_sums", per_key_path)
    space = searchspaces.get(name)
    profile = default_profile(name) if style == "shipped" else fitted_style(name)
    archs = samples(space, 200, 5)
    texts = [space.encode(arch) for arch in archs]
    expected = [by_hand(profile, space, arch) for arch in archs]
    assert list(predict_many(profile, texts)) == pytest.approx(expected, rel=1e-9)
    assert list(predict_many(profile, archs)) == pytest.approx(expected, rel=1e-9)  # arch objects
    mixed = [text if i % 2 else arch for i, (text, arch) in enumerate(zip(texts, archs))]
    assert list(predict_many(profile, mixed, space)) == pytest.approx(expected, rel=1e-9)
    assert predict(profile, texts[3]) == pytest.approx(expected[3], rel=1e-9)
    assert predict_many(profile, []).shape == (0,)


def test_nasbench201_structure_features_count(document):
    """A fitted-style profile built on the synthetic table: coefficients move the cut-off cells."""
    space = searchspaces.get("nasbench201")
    document["schema_version"] = 4
    document["calibration"]["structure"] = {name: 0.5 + i for i, name in
                                           enumerate(space.structure_feature_names)}
    profile = validate_profile(document)
    cut_off = "|none~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|"
    connected = "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|none~1|none~2|"
    for text in (cut_off, connected):
        assert predict(profile, text) == pytest.approx(by_hand(profile, space, text), rel=1e-12)
    plain = profile.model_copy(update={"calibration": profile.calibration.model_copy(
        update={"structure": None})})
    assert space.structure_features(space.decode(cut_off))["cut_off"] == 1.0
    shifts = [
        sum(coef * space.structure_features(space.decode(text))[name]
            for name, coef in profile.calibration.structure.items())
        for text in (cut_off, connected)
    ]
    assert shifts[0] >= 0.5
    assert predict_many(profile, [cut_off, connected]) - predict_many(plain, [cut_off, connected]) \
        == pytest.approx(shifts, rel=1e-9)


@pytest.mark.parametrize("name", ["mobilenetv3", "nasbench201"])
def test_a_copy_with_other_scales_does_not_reuse_the_original_cache(name):
    space = searchspaces.get(name)
    profile = default_profile(name)
    archs = samples(space, 20, 2)
    predict_many(profile, archs)  # builds the original's cache
    kinds = sorted({space.block_kind(key) for key in profile.entries})
    copy = profile.model_copy(update={"calibration": profile.calibration.model_copy(
        update={"kind_scales": {kind: 2.0 for kind in kinds}})})
    assert list(predict_many(copy, archs)) == pytest.approx(
        [by_hand(copy, space, arch) for arch in archs], rel=1e-9)


def corrupt(text: str, rng: random.Random) -> str:
    """One small edit of a canonical string: a character changed, dropped or doubled, or a token moved."""
    at = rng.randrange(len(text))
    edit = rng.randrange(4)
    if edit == 0:
        return text[:at] + rng.choice("|,+~_0123456789abcdekmrw. \n") + text[at + 1:]
    if edit == 1:
        return text[:at] + text[at + 1:]
    if edit == 2:
        return text[:at] + text[at] + text[at:]
    cut = rng.randrange(len(text))
    return text[:min(at, cut)] + text[max(at, cut):] + text[min(at, cut):max(at, cut)]


@pytest.mark.parametrize("name", SPACES)
def test_edited_strings_predict_or_fail_as_decode_does(name):
    """Whatever ``decode`` makes of a string, the prediction follows: the decoded network's sum, or
    the very error ``decode`` raises, whether the string's parts were priced before or not."""
    space = searchspaces.get(name)
    profile = default_profile(name)
    rng = random.Random(17)
    texts = [space.encode(arch) for arch in samples(space, 150, 3)]
    predict_many(profile, texts)  # the parts of the good strings are priced
    bad = 0
    for text in texts:
        edited = corrupt(text, rng)
        try:
            arch = space.decode(edited)
        except ValueError as error:
            bad += 1
            with pytest.raises(ValueError) as caught:
                predict_many(profile, [texts[0], edited])
            assert str(caught.value) == str(error)
        else:
            assert predict(profile, edited) == pytest.approx(by_hand(profile, space, arch), rel=1e-9)
    assert bad > 50


def test_missing_keys_are_named_as_the_per_key_path_names_them():
    name = "mobilenetv3"
    space = searchspaces.get(name)
    doc = document(name)
    texts = [space.encode(arch) for arch in samples(space, 300, 9)]
    used = Counter(key for text in texts for key in space.blocks(space.decode(text)))
    gone = sorted(sorted(used), key=used.__getitem__)[:3] + ["mbv3_head-input:7x7x160-classes:1000"]
    profile = validate_profile(doc)
    predict_many(profile, texts)  # every part priced while the keys were there
    for key in gone:
        del profile.entries[key]
    predict_module.drop_cache(profile)  # its entries changed in place
    missing = sorted({key for text in texts for key in space.blocks(space.decode(text)) if key in gone})
    with pytest.raises(MissingBlocksError) as caught:
        predict_many(profile, texts)
    assert caught.value.missing == missing
    assert f"no entry for {len(missing)} block key(s)" in str(caught.value)
    # a candidate that needs none of them is still priced, by hand's sum
    fine = [text for text in texts if not set(space.blocks(space.decode(text))) & set(gone)]
    assert fine
    assert list(predict_many(profile, fine)) == pytest.approx(
        [by_hand(profile, space, text) for text in fine], rel=1e-9)


def test_a_bounded_part_cache_starts_again_and_stays_right(monkeypatch):
    monkeypatch.setattr(predict_module, "MAX_PARTS", 5)
    space = searchspaces.get("shufflenetv2")
    profile = default_profile("shufflenetv2")
    for seed in (1, 2):
        archs = samples(space, 40, seed)
        assert list(predict_many(profile, archs)) == pytest.approx(
            [by_hand(profile, space, arch) for arch in archs], rel=1e-9)
    assert len(predict_module.priced_parts(profile)) < 40 * 22  # dropped at the start of the second call


def test_each_profile_object_has_its_own_cache_until_it_is_collected():
    space = searchspaces.get("nasbench201")
    profile = default_profile("nasbench201")
    texts = [space.encode(arch) for arch in samples(space, 20, 3)]
    predict_many(profile, texts)
    priced = predict_module.priced_parts(profile)
    assert priced and sorted(priced.values()) == list(range(len(priced)))
    copy = profile.model_copy(deep=True)
    assert predict_module.priced_parts(copy) == {}  # a copy builds its own arrays
    assert list(predict_many(copy, texts)) == list(predict_many(profile, texts))
    predict_module.drop_cache(profile)
    assert predict_module.priced_parts(profile) == {}
    key = id(copy)
    assert key in predict_module._TABLES
    del copy
    gc.collect()
    assert key not in predict_module._TABLES  # no table outlives its profile


def test_threads_sharing_a_profile_price_parts_once_each():
    """Parts priced from several threads at once (a service's thread pool shares one profile)."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        space = searchspaces.get("mobilenetv3")
        profile = default_profile("mobilenetv3")
        batches = [samples(space, 60, seed) for seed in range(6)]
        with ThreadPoolExecutor(max_workers=6) as pool:
            results = list(pool.map(lambda archs: predict_many(profile, archs), batches))
    finally:
        sys.setswitchinterval(interval)
    for archs, got in zip(batches, results):
        assert list(got) == pytest.approx([by_hand(profile, space, arch) for arch in archs], rel=1e-9)
    rows = predict_module.priced_parts(profile)
    assert sorted(rows.values()) == list(range(len(rows)))

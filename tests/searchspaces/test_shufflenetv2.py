"""Tests for the SPOS ShuffleNetV2 block-and-channel space (``shufflenetv2``)."""

from __future__ import annotations

import functools
import random

import pytest
import torch

import searchspaces
import searchspaces.shufflenetv2  # noqa: F401  (registers the space if the package does not yet)
from nas.counting import count_macs, count_params

SPACE = searchspaces.get("shufflenetv2")
BASELINE = (("shuf_k3", 1.0),) * 20
BASELINE_TEXT = "|".join(",".join(["shuf_k3_m1.0"] * depth) for depth in (4, 4, 8, 4))

# The searched "OneShot" model of the official SPOS release (megvii-model/ShuffleNet-Series, OneShot):
# block ids [0,0,3,1,1,1,0,0,2,0,2,1,1,0,2,0,2,1,3,2] (0/1/2 = shuffle 3/5/7, 3 = xception) and
# scale ids [6,5,3,5,2,6,3,4,2,5,7,5,4,6,7,4,4,5,4,3] into (0.2, 0.4, ..., 1.6), written here as tokens.
ONESHOT_TEXT = (
    "shuf_k3_m1.4,shuf_k3_m1.2,xcp_k3_m0.8,shuf_k5_m1.2|"
    "shuf_k5_m0.6,shuf_k5_m1.4,shuf_k3_m0.8,shuf_k3_m1.0|"
    "shuf_k7_m0.6,shuf_k3_m1.2,shuf_k7_m1.6,shuf_k5_m1.2,shuf_k5_m1.0,shuf_k3_m1.4,shuf_k7_m1.6,"
    "shuf_k3_m1.0|"
    "shuf_k7_m1.0,shuf_k5_m1.2,xcp_k3_m1.0,shuf_k7_m0.8"
)


@functools.lru_cache(maxsize=None)
def costs(arch, num_classes=None):
    """(params, MACs) of the built network; cached, as full-network counts are the slow part."""
    net = SPACE.build(arch, num_classes)
    return count_params(net), count_macs(net, (1, 3, 224, 224))


def test_size_is_forty_choices_per_block_over_twenty_blocks():
    assert SPACE.size() == 40**20


def test_published_oneshot_model_matches_its_reported_flops_and_params():
    """The one published anchor this exact space reproduces: SPOS's released block+channel model.

    The release reports 328M FLOPs (multiply-adds, the ShuffleNet convention) and 3.4M params. The
    paper's 319M figure is the block-search-only model, whose channel widths are not published, so
    it is not checkable. This anchor also pins the skeleton: a max-pool after the stem (as in
    ShuffleNetV2) would cut the MACs about fourfold; the bias-free classifier follows the release.
    """
    params, macs = costs(SPACE.decode(ONESHOT_TEXT))
    assert 3.35e6 <= params < 3.45e6  # "3.4M"
    assert 327.5e6 <= macs < 328.5e6  # "328M"
    assert (params, macs) == (3_432_579, 327_857_920)  # regression pin of our exact count


def test_baseline_all_shuffle3x3_scale1_costs():
    """All ``shuf_k3_m1.0``: ShuffleNetV2 units at SPOS widths (16/64/160/320/640/1024).

    No published figure exists for this exact net (ShuffleNetV2 1.0x, 146M MACs / 2.3M params, uses
    24/116/232/464 channels and a max-pool), so it is pinned against the hand-checked block counts
    below and sits, as it must, under the OneShot model, which uses wider bottlenecks and 5x5/7x7.
    """
    params, macs = costs(BASELINE)
    assert (params, macs) == (3_154_880, 295_842_496)


@pytest.mark.parametrize(
    "key, params, macs",
    [
        # conv 3x3 3->16 (432) + BN (32); 432 MACs at each of 112x112 outputs.
        ("spos_stem-input:224x224x3-out:16", 464, 432 * 112 * 112),
        # stride 1, inp 32, mid 32: pw 32*32 + dw 32*9 + pw 32*32, three BNs of 32 (64 each), at 56x56.
        ("spos_shuffle-input:56x56x64-out:64-k:3-s:1-mid:32", 2336 + 192, 2336 * 56 * 56),
        # stride 2, inp 16, mid 32, out 64: main pw 16*32 at 112x112, dw 32*9 + pw 32*48 at 56x56;
        # projection dw 16*9 + pw 16*16 at 56x56; BNs 64+64+96+32+32.
        (
            "spos_shuffle-input:112x112x16-out:64-k:3-s:2-mid:32",
            512 + 288 + 1536 + 144 + 256 + 288,
            512 * 112 * 112 + (288 + 1536 + 144 + 256) * 56 * 56,
        ),
        # xception stride 1, inp 32, mid 32: three dw 3x3 (288 each) + three pw 32*32, six BNs of 32.
        ("spos_xception-input:56x56x64-out:64-k:3-s:1-mid:32", 864 + 3072 + 384, 3936 * 56 * 56),
        # conv 1x1 640->1024 + BN at 7x7, then the bias-free linear 1024->1000 once.
        (
            "spos_head-input:7x7x640-out:1024-classes:1000",
            655_360 + 2048 + 1_024_000,
            655_360 * 49 + 1_024_000,
        ),
    ],
)
def test_block_costs_match_hand_counts(key, params, macs):
    """Hand counts of small blocks check the unit structure the network totals rest on."""
    module, (channels, height, width) = SPACE.block_module(key)
    assert count_params(module) == params
    assert count_macs(module, (1, channels, height, width)) == macs


def test_channel_scale_sets_mid_channels_like_spos():
    """mid = int(out // 2 * scale): 640-channel blocks at 0.2 get 64, at 2.0 get 640; 64 at 0.6 -> 19."""
    arch = SPACE.decode(
        ",".join(["shuf_k3_m0.6"] * 4) + "|" + ",".join(["shuf_k3_m1.0"] * 4) + "|"
        + ",".join(["shuf_k3_m1.0"] * 8) + "|shuf_k3_m0.2,shuf_k3_m2.0,xcp_k3_m1.8,shuf_k7_m1.0"
    )
    keys = SPACE.blocks(arch)
    assert keys[1].endswith("mid:19")
    assert keys[17] == "spos_shuffle-input:14x14x320-out:640-k:3-s:2-mid:64"
    assert keys[18] == "spos_shuffle-input:7x7x640-out:640-k:3-s:1-mid:640"
    assert keys[19] == "spos_xception-input:7x7x640-out:640-k:3-s:1-mid:576"


def test_canonical_string_round_trips():
    arch = SPACE.decode(ONESHOT_TEXT)
    assert len(arch) == 20 and arch[2] == ("xcp_k3", 0.8)
    assert SPACE.encode(arch) == ONESHOT_TEXT
    assert SPACE.decode(BASELINE_TEXT) == BASELINE
    assert SPACE.encode(BASELINE) == BASELINE_TEXT
    assert hash(arch) == hash(SPACE.decode(ONESHOT_TEXT))


@pytest.mark.parametrize(
    "text, token, why",
    [
        (BASELINE_TEXT.replace("shuf_k3_m1.0", "conv_k3_m1.0", 1), "conv_k3_m1.0", "unknown op"),
        (BASELINE_TEXT.replace("shuf_k3_m1.0", "shuf_k9_m1.0", 1), "shuf_k9_m1.0", "unknown kernel"),
        (BASELINE_TEXT.replace("shuf_k3_m1.0", "xcp_k5_m1.0", 1), "xcp_k5_m1.0", "unknown kernel"),
        (BASELINE_TEXT.replace("shuf_k3_m1.0", "shuf_k3_m1.1", 1), "shuf_k3_m1.1", "not in the choices"),
        (BASELINE_TEXT.replace("shuf_k3_m1.0", "shuf_k3_m1", 1), "shuf_k3_m1", "not in the choices"),
        (BASELINE_TEXT.replace("shuf_k3_m1.0", "shuf_k3", 1), "shuf_k3", "is written"),
        (BASELINE_TEXT.replace("shuf_k3_m1.0,", ",", 1), "", "empty"),
        (BASELINE_TEXT.rpartition("|")[0], BASELINE_TEXT.rpartition("|")[0], "stages"),
        ("shuf_k3_m1.0|" + BASELINE_TEXT.partition("|")[2], "shuf_k3_m1.0", "stage 1 has 4 blocks"),
        ("", "", "stages"),
    ],
)
def test_decode_rejects_malformed_strings_naming_the_token(text, token, why):
    with pytest.raises(ValueError) as error:
        SPACE.decode(text)
    message = str(error.value)
    assert message.startswith(f"bad token {token!r}")
    assert why in message


def test_decode_rejects_non_strings():
    with pytest.raises(ValueError, match=r"^bad token 42: .*must be a string"):
        SPACE.decode(42)  # type: ignore[arg-type]


def test_json_round_trip_and_bad_fields():
    arch = SPACE.decode(ONESHOT_TEXT)
    data = SPACE.to_json(arch)
    assert len(data) == 40
    assert data["stage1.block2.op"] == "xcp_k3" and data["stage1.block2.scale"] == 0.8
    assert data["stage3.block7.op"] == "shuf_k3" and data["stage4.block3.scale"] == 0.8
    assert SPACE.from_json(data) == arch
    for field, value, match in [
        ("stage2.block1.op", "shuf_k9", "stage2.block1.op"),
        ("stage2.block1.scale", 0.5, "stage2.block1.scale"),
        ("stage2.block1.scale", True, "stage2.block1.scale"),
        ("stage5.block0.op", "shuf_k3", "unknown field 'stage5.block0.op'"),
    ]:
        with pytest.raises(ValueError, match=match):
            SPACE.from_json({**data, field: value})
    del data["stage3.block0.scale"]
    with pytest.raises(ValueError, match="missing field 'stage3.block0.scale'"):
        SPACE.from_json(data)


def test_invalid_arch_values_are_rejected():
    for bad in [BASELINE[:19], BASELINE[:19] + (("shuf_k3", 0.5),), BASELINE[:19] + (("shuf", 1.0),),
                list(BASELINE)]:
        with pytest.raises(ValueError):
            SPACE.encode(bad)  # type: ignore[arg-type]


def test_sample_and_mutate_change_exactly_one_choice():
    rng = random.Random(0)
    for _ in range(200):
        arch = SPACE.sample(rng)
        child = SPACE.mutate(arch, rng)
        assert SPACE.decode(SPACE.encode(child)) == child
        changed = [(a, b) for pa, pb in zip(arch, child) for a, b in zip(pa, pb) if a != b]
        assert len(changed) == 1
    assert SPACE.sample(random.Random(3)) == SPACE.sample(random.Random(3))


def test_all_blocks_covers_sampled_archs():
    """4 stages x 2 shape positions (stride-2 first block, shared stride-1 rest) x 40 + stem + head."""
    keys = SPACE.all_blocks()
    assert len(keys) == 4 * 2 * 40 + 2
    rng = random.Random(1)
    for _ in range(20):
        assert set(SPACE.blocks(SPACE.sample(rng))) <= keys
    assert any("classes:10" in key for key in SPACE.all_blocks(num_classes=10))
    with pytest.raises(ValueError):
        SPACE.all_blocks(resolutions=(192,))


@pytest.mark.parametrize(
    "arch, num_classes",
    [(SPACE.sample(random.Random(0)), 100), (SPACE.decode(ONESHOT_TEXT), None)],
    ids=["sampled", "oneshot"],
)
def test_block_costs_sum_to_network_costs(arch, num_classes):
    """Latency/cost tables sum over blocks, so the blocks must be exactly the network's parts."""
    keys = SPACE.blocks(arch, num_classes)
    assert len(keys) == 22
    params = macs = 0
    for key in keys:
        module, (channels, height, width) = SPACE.block_module(key)
        params += count_params(module)
        macs += count_macs(module, (1, channels, height, width))
    assert (params, macs) == costs(arch, num_classes)


def test_forward_gives_logits():
    net = SPACE.build(SPACE.decode(ONESHOT_TEXT), num_classes=10)
    net.eval()
    with torch.no_grad():
        assert net(torch.randn(2, 3, 224, 224)).shape == (2, 10)
    assert SPACE.build(BASELINE)[-1].classifier.out_features == 1000  # the default class count


def test_block_module_rejects_bad_keys():
    for key in ["spos_conv-input:7x7x640-out:10", "spos_shuffle-input:56x56x64-out:64",
                "spos_head-out:1024-classes:10"]:
        with pytest.raises(ValueError):
            SPACE.block_module(key)


def test_describe_lists_choices():
    info = SPACE.describe()
    assert info["name"] == "shufflenetv2" and info["num_block_keys"] == 322
    assert info["choices"]["example"] == BASELINE_TEXT

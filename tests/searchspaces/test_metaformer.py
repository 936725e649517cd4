"""The MetaFormer space: PoolFormer-S12 reproduced, encodings, exploring, and block-cost sums."""

from __future__ import annotations

import json
import random

import pytest
import torch

import searchspaces
import searchspaces.metaformer as mf  # registers the space
from nas.counting import count_macs, count_params

S12 = "pool_d2_w64_r4|pool_d2_w128_r4|pool_d6_w320_r4|pool_d2_w512_r4"
TIMM_S12_PARAMS = 11_915_176


@pytest.fixture(scope="module")
def space() -> searchspaces.SearchSpace:
    return searchspaces.get("metaformer")


def small(arch: tuple) -> tuple:
    """Shrink a sampled arch to each stage's smallest depth and width (keeps mixers and ratios)."""
    return tuple(
        mf.Stage(s.mixer, mf.DEPTHS[i][0], mf.WIDTHS[i][0], s.mlp_ratio) for i, s in enumerate(arch)
    )


def test_registered(space):
    assert space.name == "metaformer"
    assert isinstance(space, mf.MetaFormerSpace)


def test_poolformer_s12_params_and_macs(space):
    net = space.build(space.decode(S12))
    params = count_params(net)
    assert params == TIMM_S12_PARAMS
    assert abs(params - 11.9e6) / 11.9e6 < 0.01
    macs = count_macs(net, (1, 3, 224, 224))
    assert abs(macs - 1.8e9) / 1.8e9 < 0.05


def test_size(space):
    assert space.size() == (4 * 3 * 2 * 3) ** 3 * (4 * 4 * 3 * 3) == 53_747_712


def test_known_string_round_trips(space):
    arch = space.decode(S12)
    assert arch == (
        ("pool", 2, 64, 4),
        ("pool", 2, 128, 4),
        ("pool", 6, 320, 4),
        ("pool", 2, 512, 4),
    )
    assert space.encode(arch) == S12
    data = space.to_json(arch)
    assert data["stage3.depth"] == 6 and data["stage4.width"] == 512 and data["stage1.mixer"] == "pool"
    assert space.from_json(json.loads(json.dumps(data))) == arch
    assert hash(arch) == hash(space.decode(S12))
    assert space.arch_hash(arch) == space.arch_hash(space.decode(S12))


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        ("conv_d2_w64_r4|pool_d2_w128_r4|pool_d6_w320_r4|pool_d2_w512_r4", "conv_d2_w64_r4"),
        ("pool_d4_w64_r4|pool_d2_w128_r4|pool_d6_w320_r4|pool_d2_w512_r4", "pool_d4_w64_r4"),
        ("pool_d2_w64_r4|pool_d2_w128_r4|pool_d5_w320_r4|pool_d2_w512_r4", "pool_d5_w320_r4"),
        ("pool_d2_w64_r4|pool_d2_w320_r4|pool_d6_w320_r4|pool_d2_w512_r4", "pool_d2_w320_r4"),
        ("pool_d2_w64_r4|pool_d2_w128_r4|pool_d6_w320_r4|pool_d2_w512_r8", "pool_d2_w512_r8"),
        ("pool_d2_w64_r4|pool_d2_w128_r4|pool_d6_w320_r4", None),
        ("pool_d2_w64_r4|pool_d2_w128_r4|pool_d6_w320_r4|pool_d2_w512_r4|pool_d2_w512_r4", None),
        ("|pool_d2_w128_r4|pool_d6_w320_r4|pool_d2_w512_r4", ""),
        ("pool_d2_w64|pool_d2_w128_r4|pool_d6_w320_r4|pool_d2_w512_r4", "pool_d2_w64"),
        ("pool_d02_w64_r4|pool_d2_w128_r4|pool_d6_w320_r4|pool_d2_w512_r4", "pool_d02_w64_r4"),
        ("pool-d2-w64-r4|pool_d2_w128_r4|pool_d6_w320_r4|pool_d2_w512_r4", "pool-d2-w64-r4"),
        ("", None),
    ],
)
def test_malformed_strings_name_the_bad_token(space, text, bad):
    bad = text if bad is None else bad
    with pytest.raises(ValueError, match="^bad token ") as err:
        space.decode(text)
    assert str(err.value).startswith(f"bad token {bad!r}")


def test_non_string_is_refused(space):
    with pytest.raises(ValueError, match="^bad token '42': .*must be a string"):
        space.decode(42)


def test_from_json_names_the_bad_field(space):
    data = space.to_json(space.decode(S12))
    for field, value in [("stage2.width", 96), ("stage3.depth", True), ("stage1.mixer", "conv")]:
        with pytest.raises(ValueError, match=f"'{field}'"):
            space.from_json({**data, field: value})
    with pytest.raises(ValueError, match="missing field 'stage4.mlp_ratio'"):
        space.from_json({k: v for k, v in data.items() if k != "stage4.mlp_ratio"})
    with pytest.raises(ValueError, match="unknown field 'stage5.depth'"):
        space.from_json({**data, "stage5.depth": 2})


def test_invalid_arch_values_are_refused(space):
    arch = list(space.decode(S12))
    arch[0] = mf.Stage("pool", True, 64, 4)  # True == 1 but is not a depth
    with pytest.raises(ValueError):
        space.encode(tuple(arch))
    with pytest.raises(ValueError):
        space.build(tuple(arch[:3]))


def test_sample_and_mutate(space):
    rng = random.Random(0)
    for _ in range(200):
        arch = space.sample(rng)
        assert space.decode(space.encode(arch)) == arch
        child = space.mutate(arch, rng)
        space.encode(child)  # validates
        diffs = [(a, b) for s, t in zip(arch, child) for a, b in zip(s, t) if a != b]
        assert len(diffs) == 1


def test_blocks_cover_network_and_all_blocks(space):
    s12 = space.blocks(space.decode(S12))
    assert len(s12) == 1 + 3 + (2 + 2 + 6 + 2) + 1
    assert s12[0].startswith("mf_stem-") and s12[-1] == "mf_head-input:7x7x512-classes:1000"
    keys = space.all_blocks()
    assert len(keys) == 2 + (4 + 6 + 6) + 4 * 3 * (2 + 2 + 3 + 2) + 2
    rng = random.Random(1)
    for _ in range(50):
        assert set(space.blocks(space.sample(rng))) <= keys
    for key in keys:
        module, shape = space.block_module(key)
        assert len(shape) == 3 and count_params(module) > 0
    with pytest.raises(ValueError):
        space.all_blocks(resolutions=(256,))


@pytest.mark.parametrize("seed", [0, 1])
def test_block_costs_sum_to_network(space, seed):
    arch = small(space.sample(random.Random(seed)))
    net = space.build(arch)
    params = macs = 0
    for key in space.blocks(arch):
        module, (channels, height, width) = space.block_module(key)
        params += count_params(module)
        macs += count_macs(module, (1, channels, height, width))
    assert params == count_params(net)
    assert macs == count_macs(net, (1, 3, 224, 224))


def test_every_mixer_costs_sum(space):
    """Each mixer once in stage 1 (the largest token count), with the smallest other stages."""
    for mixer in mf.MIXERS:
        arch = small(tuple(mf.Stage(mixer, 1, 32, 2) for _ in range(4)))
        keys = space.blocks(arch, num_classes=10)
        parts = [space.block_module(k) for k in keys]
        net = space.build(arch, num_classes=10)
        assert sum(count_params(m) for m, _ in parts) == count_params(net)
        macs = sum(count_macs(m, (1, *shape)) for m, shape in parts)
        assert macs == count_macs(net, (1, 3, 224, 224))


def test_attention_in_stage1_forward(space):
    arch = space.decode("attention_d1_w64_r2|pool_d1_w64_r2|sepconv_d2_w192_r2|identity_d1_w384_r2")
    net = space.build(arch, num_classes=10).eval()
    with torch.no_grad():
        out = net(torch.randn(1, 3, 224, 224))
    assert out.shape == (1, 10)
    assert torch.isfinite(out).all()

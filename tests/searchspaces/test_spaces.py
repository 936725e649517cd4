"""Contract tests run over every registered space (timm's habit: parametrize over the registry)."""

from __future__ import annotations

import json
import random

import pytest
import torch

import searchspaces
from nas.counting import count_macs, count_params

SPACES = searchspaces.names()
N_SAMPLES = 50


@pytest.fixture(params=SPACES)
def space(request):
    return searchspaces.get(request.param)


def samples(space, n=N_SAMPLES, seed=0):
    rng = random.Random(seed)
    return [space.sample(rng) for _ in range(n)]


def test_all_four_spaces_are_registered():
    assert set(SPACES) == {"shufflenetv2", "mobilenetv3", "metaformer", "nasbench201"}


def test_registry_refuses_a_duplicate_name():
    with pytest.raises(ValueError, match="already registered"):
        searchspaces.register(searchspaces.get("nasbench201"))


def test_unknown_space_names_the_known_ones():
    with pytest.raises(KeyError) as info:
        searchspaces.get("resnet")
    assert "resnet" in str(info.value) and "mobilenetv3" in str(info.value)


def test_encodings_round_trip(space):
    for arch in samples(space):
        text = space.encode(arch)
        assert space.decode(text) == arch
        assert space.encode(space.decode(text)) == text
        data = space.to_json(arch)
        assert space.from_json(json.loads(json.dumps(data))) == arch


def test_hash_is_stable_and_separates_candidates(space):
    archs = samples(space)
    hashes = {space.encode(a): space.arch_hash(a) for a in archs}
    assert all(space.arch_hash(space.decode(text)) == h for text, h in hashes.items())
    assert len(set(hashes.values())) == len(hashes)
    assert all(len(h) == 16 and int(h, 16) >= 0 for h in hashes.values())


def test_sampling_is_deterministic_under_a_seed(space):
    assert samples(space, 10, seed=7) == samples(space, 10, seed=7)
    assert samples(space, 10, seed=7) != samples(space, 10, seed=8)


def test_sample_with_names_exactly_the_json_choices(space):
    """Optuna drives ``sample_with``: each choice it is asked is a ``to_json`` field with that value,
    and every field of the candidate was asked (no hidden choice)."""
    rng = random.Random(7)
    for _ in range(20):
        asked = {}

        def choose(name, options):
            assert name not in asked, f"{name} asked twice"
            asked[name] = rng.choice(list(options))
            return asked[name]

        arch = space.sample_with(choose)
        assert asked == space.to_json(arch)


def test_sample_is_sample_with_uniform_choices(space):
    rng = random.Random(3)
    direct = space.sample(random.Random(3))
    assert space.encode(space.sample_with(lambda name, options: rng.choice(options))) == space.encode(direct)


def test_mutate_gives_a_different_valid_neighbour(space):
    rng = random.Random(1)
    for arch in samples(space):
        child = space.mutate(arch, rng)
        assert child != arch
        assert space.decode(space.encode(child)) == child


def test_every_sample_builds_and_runs_to_logits(space):
    torch.manual_seed(0)
    for arch in samples(space):
        model = space.build(arch, num_classes=7).eval()
        size = space.resolution(arch)
        assert size in space.resolutions
        with torch.no_grad():
            logits = model(torch.randn(1, 3, size, size))
        assert logits.shape == (1, 7)
        assert torch.isfinite(logits).all()


def test_blocks_are_keys_of_all_blocks(space):
    every = space.all_blocks()
    for arch in samples(space):
        keys = space.blocks(arch)
        assert keys and set(keys) <= every


def test_block_modules_add_up_to_the_network(space):
    """Block keys carry every shape that changes cost: their modules' params and MACs sum exactly."""
    for arch in samples(space, 3, seed=3):
        size = space.resolution(arch)
        total_params = total_macs = 0
        for key in space.blocks(arch, num_classes=10):
            module, (channels, height, width) = space.block_module(key)
            total_params += count_params(module)
            total_macs += count_macs(module, (1, channels, height, width))
        network = space.build(arch, num_classes=10)
        assert total_params == count_params(network)
        assert total_macs == count_macs(network, (1, 3, size, size))


def test_size_is_positive_and_described(space):
    info = space.describe()
    assert info["size"] == space.size() > 1000
    assert info["num_block_keys"] == len(space.all_blocks())
    assert space.decode(info["choices"]["example"]) is not None


def test_unknown_resolution_is_refused(space):
    with pytest.raises(ValueError, match="resolution 999"):
        space.all_blocks(resolutions=(999,))


def test_the_shared_argument_checks_are_public(space):
    assert space.classes(None) == space.default_num_classes and space.classes(7) == 7
    for bad in (0, -1, True, 2.0, "10"):
        with pytest.raises(ValueError, match="num_classes must be a positive integer"):
            space.classes(bad)
    assert space.check_resolutions(None) == space.resolutions
    assert space.check_resolutions(list(space.resolutions[:1])) == space.resolutions[:1]
    with pytest.raises(ValueError, match=f"resolution 999 is not in space '{space.name}'"):
        space.check_resolutions((space.resolutions[0], 999))


@pytest.mark.parametrize("bad", [None, 42, "", "|||", "garbage"])
def test_malformed_strings_raise_value_error(space, bad):
    with pytest.raises(ValueError):
        space.decode(bad)


# One malformed string per space with the token the message must name.
BAD_TOKENS = {
    "nasbench201": (
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|conv_5x5~1|+|skip_connect~0|none~1|none~2|",
        "conv_5x5~1",
    ),
    "mobilenetv3": (
        "r224|ir_k3_e4,ir_k3_e3|ir_k5_e3,ir_k9_e3,ir_k5_e3|ir_k3_e6,ir_k3_e3|ir_k3_e6,ir_k3_e6|"
        "ir_k5_e6,ir_k5_e6",
        "ir_k9_e3",
    ),
    "shufflenetv2": (
        "shuf_k3_m1.0,shuf_k3_m1.0,shuf_k3_m1.0,shuf_k3_m1.0|shuf_k3_m1.0,shuf_k3_m1.0,"
        "shuf_k3_m1.0,shuf_k3_m1.0|shuf_k3_m1.0,shuf_k3_m1.0,shuf_k3_m1.0,shuf_k3_m1.0,"
        "shuf_k3_m1.0,shuf_k3_m1.0,shuf_k3_m1.0,shuf_k4_m1.0|shuf_k3_m1.0,shuf_k3_m1.0,"
        "shuf_k3_m1.0,shuf_k3_m1.0",
        "shuf_k4_m1.0",
    ),
    "metaformer": ("pool_d2_w64_r4|pool_d2_w128_r4|conv_d6_w320_r4|pool_d2_w512_r4", "conv_d6_w320_r4"),
}


def test_malformed_string_names_the_bad_token(space):
    text, token = BAD_TOKENS[space.name]
    with pytest.raises(ValueError) as info:
        space.decode(text)
    assert repr(token) in str(info.value)


def test_out_of_space_json_names_the_field(space):
    data = space.to_json(samples(space, 1)[0])
    field = sorted(data)[0]
    data[field] = "not-a-choice"
    with pytest.raises(ValueError) as info:
        space.from_json(data)
    assert field in str(info.value)


def test_every_network_pools_through_one_global_pool(space):
    """Proxies that need pre-pooling features (Zen-score) rely on exactly one GlobalAvgPool."""
    from searchspaces.layers import GlobalAvgPool

    for arch in samples(space, 3):
        pools = [m for m in space.build(arch).modules() if isinstance(m, GlobalAvgPool)]
        assert len(pools) == 1


def test_published_networks_are_members_of_the_space(space):
    assert space.published, "every space names at least one published network"
    for name, text in space.published.items():
        assert space.encode(space.decode(text)) == text, name


def test_malformed_block_keys_are_refused_with_the_key(space):
    key = sorted(space.all_blocks())[0]
    kind = key.split("-")[0]
    for bad in (key.replace(kind, "nosuchblock", 1), kind + "-input:8x8x3", "nokind"):
        with pytest.raises(ValueError) as info:
            space.block_module(bad)
        assert bad in str(info.value) or "nokind" in str(info.value)


def test_block_kinds_name_the_type_and_the_operation_never_the_shape():
    nb201 = searchspaces.get("nasbench201")
    assert nb201.block_kind("nb201_edge-input:16x16x32-op:avg_pool_3x3") == "nb201_edge[op=avg_pool_3x3]"
    assert nb201.block_kind("nb201_stem-input:32x32x3-out:16") == "nb201_stem"
    for name in searchspaces.names():
        space = searchspaces.get(name)
        kinds = {space.block_kind(key) for key in space.all_blocks()}
        assert 3 <= len(kinds) <= 12, (name, kinds)
        assert not any("input" in kind for kind in kinds)
    metaformer = searchspaces.get("metaformer")
    assert {k for k in (metaformer.block_kind(key) for key in metaformer.all_blocks()) if "[" in k} == {
        f"mf_block[mixer={m}]" for m in ("attention", "identity", "pool", "sepconv")}

"""Export of a candidate (nas.export): ONNX that ONNX Runtime runs like the torch module, and a JSON
architecture whose layer list accounts for every parameter; for every space."""

from __future__ import annotations

import json
import random

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn

import searchspaces
from nas import export
from nas.counting import count_macs, count_params

# MetaFormer with every mixer, attention at the 56x56 stage included: the ops a sample may skip.
EVERY_MIXER = "attention_d1_w32_r2|sepconv_d1_w64_r2|pool_d2_w192_r2|identity_d1_w384_r2"
BAD_ARCHS = {
    "nasbench201": ("|nor_conv_3x3~0|+|conv_9x9~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|",
                    "conv_9x9~0"),
    "mobilenetv3": ("r224|ir_k3_e4,ir_k9_e3|ir_k5_e3,ir_k5_e3|ir_k5_e3,ir_k5_e3|ir_k5_e3,ir_k5_e3|ir_k5_e3,ir_k5_e3",
                    "ir_k9_e3"),
    "metaformer": ("pool_d2_w64_r4|pool_d2_w128_r4|pool_d6_w320_r4|pool_d2_w999_r4", "pool_d2_w999_r4"),
    "shufflenetv2": ("|".join([",".join(["shuf_k3_m1.0"] * n) for n in (4, 4, 8)] + ["shuf_k3_m1.0,shuf_k9_m1.0"]),
                     "shuf_k9_m1.0"),
}


def small_sample(name: str, seed: int = 0) -> str:
    """A random candidate drawn from each choice's first two options (the small end of every space),
    so the tests stay fast."""
    space = searchspaces.get(name)
    rng = random.Random(seed)
    return space.encode(space.sample_with(lambda _name, options: rng.choice(list(options)[:2])))


CASES = [(name, small_sample(name)) for name in searchspaces.names()] + [("metaformer", EVERY_MIXER)]


def close(got: np.ndarray, expected: np.ndarray) -> None:
    # Relative to the logits' scale: SPOS's bias-free head gives logits near 1e-7 at initialisation.
    scale = float(np.abs(expected).max())
    assert got.shape == expected.shape
    assert float(np.abs(got - expected).max()) <= 1e-4 * scale + 1e-9


@pytest.mark.parametrize("name, arch", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_onnx_runs_in_onnxruntime_like_the_torch_module(name, arch):
    space = searchspaces.get(name)
    data = export.to_onnx(name, arch, seed=3)
    model = onnx.load_from_string(data)
    onnx.checker.check_model(model)
    metadata = {p.key: p.value for p in model.metadata_props}
    assert metadata["arch"] == arch and metadata["space"] == name and metadata["seed"] == "3"
    assert metadata["arch_hash"] == space.arch_hash(space.decode(arch))

    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input"]
    assert [o.name for o in session.get_outputs()] == ["logits"]
    module = export.build(name, arch, seed=3)
    resolution = space.resolution(space.decode(arch))
    for batch in (1, 2):  # the batch axis is dynamic
        inputs = torch.randn(batch, 3, resolution, resolution, generator=torch.Generator().manual_seed(batch))
        with torch.no_grad():
            expected = module(inputs).numpy()
        (got,) = session.run(None, {"input": inputs.numpy()})
        assert got.shape == (batch, space.default_num_classes)
        close(got, expected)


@pytest.mark.parametrize("name", searchspaces.names())
def test_json_layers_account_for_every_parameter(name):
    arch = small_sample(name, seed=1)
    space = searchspaces.get(name)
    decoded = space.decode(arch)
    document = export.to_json(name, decoded, num_classes=7)
    json.dumps(document, allow_nan=False)  # plain JSON
    module = space.build(decoded, 7)
    resolution = space.resolution(decoded)
    assert document["arch"] == arch and document["arch_hash"] == space.arch_hash(decoded)
    assert document["choices"] == space.to_json(decoded) and document["space"] == name
    assert (document["resolution"], document["num_classes"]) == (resolution, 7)
    assert document["input_shape"] == [1, 3, resolution, resolution]
    assert document["params"] == count_params(module)
    assert document["macs"] == count_macs(module, (1, 3, resolution, resolution)) > 0
    assert document["blocks"] == space.blocks(decoded, 7)

    layers = document["layers"]
    assert sum(layer["params"] for layer in layers) == document["params"]
    names = dict(module.named_modules())
    assert len({layer["name"] for layer in layers}) == len(layers) and all(layer["name"] in names for layer in layers)
    assert all(layer["type"] == type(names[layer["name"]]).__name__ for layer in layers)
    assert all(layer["output_shape"] is not None for layer in layers)
    assert layers[-1]["output_shape"] == [1, 7] and layers[-1]["config"]["out_features"] == 7
    first = layers[0]  # every space starts with a 3-channel conv
    assert first["type"] == "Conv2d" and first["config"]["in_channels"] == 3
    assert {"out_channels", "kernel_size", "stride", "groups", "bias"} <= set(first["config"])


def test_layer_list_follows_the_forward_pass_and_lists_own_parameters():
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.unused = nn.Linear(2, 2)
            self.scale = nn.Parameter(torch.ones(4))
            self.fc = nn.Linear(3, 4)
            self.act = nn.ReLU()

        def forward(self, x):
            return self.act(self.fc(x)) * self.scale

    layers = export.layers(Net(), torch.zeros(1, 3))
    assert [layer["name"] for layer in layers] == ["Net", "fc", "act", "unused"]
    assert layers[0]["params"] == 4 and layers[0]["config"] == {"parameters": {"scale": [4]}}
    assert layers[1]["config"] == {"in_features": 3, "out_features": 4, "bias": True}
    assert layers[1]["output_shape"] == [1, 4] and layers[-1]["output_shape"] is None
    assert sum(layer["params"] for layer in layers) == 4 + 16 + 6


def test_weights_are_the_seeded_ones_the_proxies_score_and_leave_the_global_rng_alone():
    arch = small_sample("nasbench201")
    space = searchspaces.get("nasbench201")
    torch.manual_seed(5)  # what the proxy engine does before it builds a candidate
    scored = space.build(space.decode(arch))
    torch.manual_seed(123)
    untouched = torch.rand(1)
    torch.manual_seed(123)
    exported = export.build("nasbench201", arch, seed=5)
    assert torch.equal(torch.rand(1), untouched)
    for key, value in scored.state_dict().items():
        assert torch.equal(value, exported.state_dict()[key]), key
    assert not exported.training
    assert export.to_onnx("nasbench201", arch, seed=5) == export.to_onnx("nasbench201", arch, seed=5)
    assert export.to_onnx("nasbench201", arch, seed=5) != export.to_onnx("nasbench201", arch, seed=6)


@pytest.mark.parametrize("name", sorted(BAD_ARCHS))
def test_a_bad_arch_is_refused_naming_the_token(name):
    text, token = BAD_ARCHS[name]
    with pytest.raises(ValueError) as decoding:
        searchspaces.get(name).decode(text)
    for make in (export.to_onnx, export.to_json):
        with pytest.raises(ValueError, match=token) as refused:
            make(name, text)
        assert str(refused.value) == str(decoding.value)  # the space's own message, kept


def test_a_bad_class_count_is_refused():
    with pytest.raises(ValueError, match="num_classes"):
        export.to_json("nasbench201", small_sample("nasbench201"), num_classes=0)

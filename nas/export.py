"""Export of a found network: ONNX (the built module with its initial weights) and a JSON architecture.

ONNX goes through ``nas.onnx_export.onnx_bytes`` (PyTorch's TorchScript exporter at opset
``ONNX_OPSET``), the same code path the latency profiler's ONNX Runtime timings use: one ``input``
(N x 3 x R x R at the arch's resolution) and one ``logits`` output (N x classes), with a dynamic batch
axis. Weights are the space's initialisation after ``torch.manual_seed(seed)``: with the search's seed
they are the very weights its zero-cost proxies scored.

The JSON form is timm-style "architecture as data" plus a layer list in the spirit of torchinfo's
summary: every leaf module in the order the forward pass first calls it, with its qualified name,
type, main hyper-parameters, parameter count and output shape. A container that holds parameters of
its own (MetaFormer's layer scales) is listed too, counting only those, so the layers' parameters sum
to the network's. Multiply-adds follow ``nas.counting`` (a candidate's stored ``macs`` is that count).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

import searchspaces
from nas.counting import count_macs, count_params
from nas.errors import InvalidField
from nas.onnx_export import TORCH_LOCK, onnx_bytes

if TYPE_CHECKING:
    from nas.storage import Store

FORMATS = ("onnx", "json")
INPUT_NAME, OUTPUT_NAME = "input", "logits"
# Hyper-parameters read off a layer when it has them (torch's own attribute names).
HYPER_PARAMETERS = (
    "in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups",
    "in_features", "out_features", "num_features", "num_groups", "num_channels", "output_size",
    "p", "approximate", "heads",
)


def resolve(space: searchspaces.SearchSpace | str, arch: Any) -> tuple[searchspaces.SearchSpace, Any]:
    """The space object and the arch object; a bad arch string raises the space's ``ValueError``,
    which names the bad token."""
    space = searchspaces.get(space) if isinstance(space, str) else space
    if isinstance(arch, str):
        return space, space.decode(arch)
    space.encode(arch)  # validates an arch object the same way
    return space, arch


def build(space: searchspaces.SearchSpace | str, arch: Any, num_classes: int | None = None,
          seed: int = 0) -> nn.Module:
    """The candidate as its real module, in eval mode, with the weights seeded by ``seed``."""
    space, arch = resolve(space, arch)
    with TORCH_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = space.build(arch, num_classes)
    return module.eval()


def example_input(space: searchspaces.SearchSpace, arch: Any, batch: int = 1, seed: int = 0) -> torch.Tensor:
    resolution = space.resolution(arch)
    return torch.randn(batch, 3, resolution, resolution, generator=torch.Generator().manual_seed(seed))


def to_onnx(space: searchspaces.SearchSpace | str, arch: Any, num_classes: int | None = None, *,
            seed: int = 0) -> bytes:
    """The candidate as a checked ONNX model (bytes), with its space, arch and hash as metadata."""
    import onnx

    space, arch = resolve(space, arch)
    module = build(space, arch, num_classes, seed)
    data = onnx_bytes(module, example_input(space, arch), input_name=INPUT_NAME, output_name=OUTPUT_NAME,
                      dynamic_batch=True)
    model = onnx.load_from_string(data)
    model.doc_string = f"{space.name} candidate {space.encode(arch)}"
    metadata = {"space": space.name, "arch": space.encode(arch), "arch_hash": space.arch_hash(arch),
                "resolution": space.resolution(arch), "num_classes": space.classes(num_classes), "seed": seed}
    onnx.helper.set_model_props(model, {key: str(value) for key, value in metadata.items()})
    onnx.checker.check_model(model)
    return model.SerializeToString()


def to_json(space: searchspaces.SearchSpace | str, arch: Any, num_classes: int | None = None) -> dict[str, Any]:
    """The candidate's architecture: its encodings, counts, block keys and layer list (plain JSON)."""
    space, arch = resolve(space, arch)
    classes = space.classes(num_classes)
    module = build(space, arch, classes)
    resolution = space.resolution(arch)
    shape = (1, 3, resolution, resolution)
    return {
        "space": space.name,
        "arch": space.encode(arch),
        "arch_hash": space.arch_hash(arch),
        "choices": space.to_json(arch),
        "resolution": resolution,
        "input_shape": list(shape),
        "num_classes": classes,
        "params": count_params(module),
        "macs": count_macs(module, shape),
        "blocks": space.blocks(arch, classes),
        "layers": layers(module, torch.zeros(shape)),
    }


def layers(module: nn.Module, example: torch.Tensor) -> list[dict[str, Any]]:
    """Every leaf module (and every container with parameters of its own) of ``module``, in the
    order one forward pass on ``example`` first calls it; modules it never calls come last, shapeless."""
    listed = {name: m for name, m in module.named_modules()
              if not any(True for _ in m.children()) or any(True for _ in m.parameters(recurse=False))}
    names = {id(m): name for name, m in listed.items()}
    called: list[str] = []
    shapes: dict[str, Any] = {}

    def before(m: nn.Module, _inputs: Any) -> None:
        name = names[id(m)]
        if name not in shapes:
            called.append(name)
            shapes[name] = None

    def after(m: nn.Module, _inputs: Any, output: Any) -> None:
        name = names[id(m)]
        if shapes[name] is None:
            shapes[name] = _shape(output)

    handles = []
    for m in listed.values():
        handles += [m.register_forward_pre_hook(before), m.register_forward_hook(after)]
    try:
        with torch.no_grad():
            module(example)
    finally:
        for handle in handles:
            handle.remove()
    order = called + [name for name in listed if name not in shapes]
    return [_layer(name, listed[name], shapes.get(name)) for name in order]


def _layer(name: str, module: nn.Module, output_shape: Any) -> dict[str, Any]:
    config = {key: _plain(getattr(module, key)) for key in HYPER_PARAMETERS if hasattr(module, key)}
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        config["bias"] = module.bias is not None
    own = dict(module.named_parameters(recurse=False))
    if own and not config:  # a custom module: its parameters' shapes say what it holds
        config["parameters"] = {key: list(p.shape) for key, p in own.items()}
    # A leaf's own parameters are all of its parameters; a container's are those not in its children.
    return {"name": name or type(module).__name__, "type": type(module).__name__,
            "params": sum(p.numel() for p in own.values()), "output_shape": output_shape, "config": config}


def _shape(output: Any) -> list[int] | list[list[int]] | None:
    if isinstance(output, torch.Tensor):
        return list(output.shape)
    if isinstance(output, (tuple, list)) and all(isinstance(o, torch.Tensor) for o in output):
        return [list(o.shape) for o in output]
    return None


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return str(value)


@dataclass(frozen=True)
class Exportable:
    """What an export needs: a space, an arch string, a class count and the weights' seed; for a
    stored candidate, where it came from."""

    space: str
    arch: str
    num_classes: int | None = None
    seed: int = 0
    candidate_id: int | None = None
    search_id: int | None = None
    params: int | None = None  # a stored candidate's count, known before anything is built

    def content(self, format: str) -> bytes:
        """The file in ``format`` without a stored candidate's ids: what depends only on the network."""
        if format == "onnx":
            return self.to_onnx()
        if format == "json":
            return json.dumps(to_json(self.space, self.arch, self.num_classes), indent=2).encode()
        raise InvalidField("format", f"unknown format {format!r}; one of {', '.join(FORMATS)}")

    def to_onnx(self) -> bytes:
        return to_onnx(self.space, self.arch, self.num_classes, seed=self.seed)

    def to_json(self) -> dict[str, Any]:
        return {"candidate_id": self.candidate_id, "search_id": self.search_id,
                **to_json(self.space, self.arch, self.num_classes)}

    def export(self, format: str) -> bytes:
        """The file's content in ``format`` (onnx or json), with a stored candidate's ids in the JSON."""
        if format == "json":
            return json.dumps(self.to_json(), indent=2).encode()
        return self.content(format)

    def filename(self, format: str) -> str:
        space = searchspaces.get(self.space)
        stem = f"{self.space}-{space.arch_hash(space.decode(self.arch))}"
        if self.candidate_id is not None:
            stem = f"candidate-{self.candidate_id}-{stem}"
        return f"{stem}.{format}"


def stored_candidate(store: Store, candidate_id: int, num_classes: int | None = None,
                     seed: int | None = None) -> Exportable:
    """A stored candidate, with the class count of its search's device profile (else the space's
    default) and its search's seed; ``NotFound`` naming the candidate when there is none."""
    candidate = store.candidates.get(candidate_id)
    search = store.searches.get(candidate.search_id)
    params = candidate.params if num_classes is None else None  # counted with the search's classes
    if num_classes is None:
        num_classes = (store.profiles.load(search.profile_id).num_classes if search.profile_id is not None
                       else searchspaces.get(search.space).default_num_classes)
    return Exportable(space=search.space, arch=candidate.arch, num_classes=num_classes,
                      seed=(search.seed or 0) if seed is None else seed, candidate_id=candidate.id,
                      search_id=search.id, params=params)

"""A measurement kit: a few whole networks, as ONNX, for their owner to time on a device we cannot reach.

``fit_profile`` fits one weight per block kind, per structural feature and an intercept by least
squares, so the kit's networks are chosen as a D-optimal design (Fedorov's greedy exchange, as in
optimal experimental design): from a random pool, each next network is the one that most increases
``log det(X^T X + eps I)`` of the (column-normalised) features the fit will see, the reference table's
per-kind block sums, the space's structural features and a constant. It starts from the pool's
fastest and slowest predicted networks, and between near-equal gains it prefers a network from a
latency quantile bin not yet covered, so the kit spans the latency range as well as the kinds.
Networks whose output cannot depend on their input (``space.constant_output``) are never chosen: a
converter may fold them to nothing, and on HW-NAS-Bench's Pixel 3 and Raspberry Pi 4 a kit of 20 that
held them ranked the other cells at 0.83 and 0.77 against 0.97 without them (bench/device_fit.py).

The kit folder holds ``net_XX.onnx`` (the networks, batch 1 at their resolution), ``kit.json`` (what
each file is) and ``measure.py`` (``nas.latency.kit_measure``: times them with ONNX Runtime alone).
"""

from __future__ import annotations

import json
import random
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

import searchspaces
from nas.errors import InvalidField
from nas.latency import linear
from nas.latency.predict import predict_many
from nas.latency.shipped import default_profile

KIT_VERSION = 1
MIN_NETWORKS, MAX_NETWORKS = 5, 200
POOL_PER_NETWORK, MIN_POOL = 40, 400
RIDGE = 1e-3  # eps of log det(X^T X + eps I): keeps the first picks' determinant finite
NEAR_TIE = 0.25  # gains within this fraction of the best count as a tie, settled toward an uncovered bin
SCRIPT = "measure.py"


def make_kit(
    space_name: str,
    out_dir: str | Path,
    *,
    n: int = 20,
    resolution: int | None = None,
    seed: int = 0,
    num_classes: int | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Write a kit of ``n`` networks of ``space_name`` to ``out_dir`` and return its ``kit.json``.

    ``resolution`` keeps every network at one input resolution (default: the space's, all of them
    where it has several). Raises ``InvalidField`` for a resolution the space lacks, ``n`` outside
    5-200, or an ``out_dir`` that holds a kit already (unless ``overwrite``); an unknown space raises
    ``searchspaces.UnknownSpaceError``. ``progress(i, n)`` is called after each network is written.
    """
    space = searchspaces.get(space_name)
    if not MIN_NETWORKS <= n <= MAX_NETWORKS:
        raise InvalidField("n", f"a kit has {MIN_NETWORKS} to {MAX_NETWORKS} networks, got {n}")
    if resolution is not None and resolution not in space.resolutions:
        raise InvalidField("resolution", f"space {space_name!r} has no resolution {resolution}; "
                                         f"choose from {list(space.resolutions)}")
    out = Path(out_dir)
    if (out / "kit.json").exists() and not overwrite:
        raise InvalidField("out_dir", f"{str(out)!r} holds a kit already (kit.json); choose another folder or overwrite")
    reference = default_profile(space_name)
    archs = choose_networks(space, reference, n, resolution=resolution, seed=seed)
    predicted = predict_many(reference, archs, space)
    classes = space.classes(num_classes)
    out.mkdir(parents=True, exist_ok=True)
    width = max(2, len(str(n - 1)))
    networks = []
    for i, (arch, ms) in enumerate(zip(archs, predicted)):
        from nas.export import to_onnx  # torch and onnx load only when a kit is made

        size = space.resolution(space.decode(arch))
        name = f"net_{i:0{width}d}.onnx"
        (out / name).write_bytes(to_onnx(space, arch, classes, seed=seed))
        networks.append({"file": name, "arch": arch, "input_shape": [1, 3, size, size],
                         "predicted_ms_reference": round(float(ms), 4)})
        if progress is not None:
            progress(i + 1, len(archs))
    kit = {
        "kit_version": KIT_VERSION,
        "space": space_name,
        "resolutions": sorted({net["input_shape"][-1] for net in networks}),
        "num_classes": classes,
        "seed": seed,
        "reference": f"{reference.device.name}/{space_name}",
        "networks": networks,
    }
    (out / "kit.json").write_text(json.dumps(kit, indent=2) + "\n")
    (out / SCRIPT).write_text(resources.files("nas.latency").joinpath("kit_measure.py").read_text())
    return kit


def draw_pool(space: searchspaces.SearchSpace, size: int, *, resolution: int | None, seed: int) -> list[str]:
    """Up to ``size`` distinct canonical strings drawn at random (at ``resolution`` if given)."""
    rng = random.Random(seed)

    def choose(name: str, options: Sequence[Any]) -> Any:
        if resolution is not None and name == "resolution" and resolution in options:
            return resolution
        return rng.choice(options)

    found: dict[str, None] = {}
    for _ in range(size * 3):  # a small space (NB201 has 15,625 networks) repeats itself
        arch = space.sample_with(choose) if resolution is not None else space.sample(rng)
        if resolution is not None and space.resolution(arch) != resolution:
            raise InvalidField("resolution", f"space {space.name!r} cannot sample networks at {resolution}")
        if space.constant_output(arch):  # folded away whole by some converters: its time tells nothing
            continue
        found[space.encode(arch)] = None
        if len(found) == size:
            break
    return list(found)


def design_features(reference, space: searchspaces.SearchSpace, archs: Sequence[str]) -> np.ndarray:
    """Per network, what a fit sees (``nas.latency.linear.features`` on the floored reference), each
    column scaled to unit largest magnitude (a constant column stays constant)."""
    table = linear.floored(reference)
    x = linear.features(table, linear.design(table, space), archs, space)
    scale = np.abs(x).max(axis=0)
    return x / np.where(scale > 0, scale, 1.0)


def choose_networks(space: searchspaces.SearchSpace, reference, n: int, *, resolution: int | None = None,
                    seed: int = 0) -> list[str]:
    """``n`` distinct canonical strings of ``space`` that make a well-posed fit (see the module's note)."""
    pool = draw_pool(space, max(POOL_PER_NETWORK * n, MIN_POOL), resolution=resolution, seed=seed)
    if len(pool) < n:
        raise InvalidField("n", f"space {space.name!r} has only {len(pool)} distinct networks to choose from")
    predicted = predict_many(reference, pool, space)
    x = design_features(reference, space, pool)
    bins = _quantile_bins(predicted, n)
    chosen = _greedy_design(x, bins, n, start=[int(np.argmin(predicted)), int(np.argmax(predicted))])
    return [pool[i] for i in chosen]


def _quantile_bins(predicted: np.ndarray, n: int) -> np.ndarray:
    """Each network's latency quantile bin, 0 to n-1."""
    edges = np.quantile(predicted, np.linspace(0, 1, n + 1)[1:-1])
    return np.searchsorted(edges, predicted, side="right")


def _greedy_design(x: np.ndarray, bins: np.ndarray, n: int, start: list[int]) -> list[int]:
    """Indices of ``n`` rows of ``x`` picked greedily for log det; by the matrix determinant lemma the
    gain of a row ``v`` is ``log(1 + v^T M^-1 v)``, ``M`` the chosen rows' ``X^T X + eps I``."""
    m = RIDGE * np.eye(x.shape[1])
    chosen: list[int] = []
    free = np.ones(len(x), dtype=bool)
    covered: set[int] = set()
    for i in dict.fromkeys(start):
        chosen.append(i)
    for i in chosen:
        m += np.outer(x[i], x[i])
        free[i] = False
        covered.add(int(bins[i]))
    while len(chosen) < n:
        inverse = np.linalg.inv(m)
        gain = np.log1p(np.einsum("ij,jk,ik->i", x, inverse, x))
        gain[~free] = -np.inf
        best = gain.max()
        near = free & (gain >= best - NEAR_TIE * abs(best))
        uncovered = near & ~np.isin(bins, list(covered))
        pick = int(np.argmax(np.where(uncovered if uncovered.any() else near, gain, -np.inf)))
        chosen.append(pick)
        m += np.outer(x[pick], x[pick])
        free[pick] = False
        covered.add(int(bins[pick]))
    return chosen[:n]

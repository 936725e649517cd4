"""A device's latency profile fitted from a few whole networks timed end to end on it.

A phone NPU, an Edge TPU or a Jetson with TensorRT cannot run our block profiler; its owner can time a
handful of whole networks with the device's own tool (``nas kit`` writes them as ONNX). From those
times ``fit_profile`` makes a profile that ``predict_many`` reads like a measured one: the reference
table's entries (floored, see ``nas.latency.linear``), one scale per block kind, an intercept in
``calibration.b`` and the weights of the space's structural features in ``calibration.structure``.
How it was made goes to ``fit``, and a leave-one-out check over the measurements to ``validation``,
so that users see how far to trust it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Collection, Sequence

import numpy as np

import nas.latency.linear as linear  # the module, not the package: the package imports this one
import searchspaces
from nas import __version__
from nas.latency.bank import bank_devices, bank_prior
from nas.latency.calibration import error_summary
from nas.latency.measurements import check_measurements
from nas.latency.schema import SCHEMA_VERSION, Profile, validate_profile
from nas.latency.shipped import reference_table

MINIMUM_MEASUREMENTS = 5
METHOD = "Bayesian linear fit of per-kind block sums and structural features"
DEVICE_DEFAULTS = {
    "name": "fitted-device",
    "hardware": "not stated (fitted from end-to-end measurements)",
    "runtime": "not stated",
    "runtime_version": "not stated",
    "threads": 1,
    "batch_size": 1,
    "precision": "fp32",
}


def _labelled(measurements: Sequence[Any]) -> tuple[list[tuple[str | int, Any, Any]], str]:
    """The rows as ``check_measurements`` reads them, and the field they are in: a pair is the item
    of that position in the list ``measurements`` (a JSON body's); a triple is labelled already."""
    rows: list[tuple[str | int, Any, Any]] = []
    for i, row in enumerate(measurements):
        if isinstance(row, (tuple, list)) and len(row) == 3:
            rows.append(tuple(row))
        elif isinstance(row, (tuple, list)) and len(row) == 2:
            rows.append((i, row[0], row[1]))
        else:
            raise TypeError(f"measurements[{i}]: expected (arch, ms) or (label, arch, ms), got {row!r:.80}")
    return rows, "measurements" if any(isinstance(label, int) for label, _, _ in rows) else ""


def _device(device: str | dict | None, hardware_note: str) -> dict:
    info = dict(DEVICE_DEFAULTS, hardware=hardware_note)
    if isinstance(device, str):
        info["name"] = device
    elif isinstance(device, dict):
        info.update({k: v for k, v in device.items() if v is not None})
    return info


def fit_profile(
    space_name: str,
    measurements: Sequence[Any],
    *,
    reference: Profile | str | None = None,
    device: str | dict | None = None,
    tool: str | None = None,
    timing: dict | None = None,
    bank_exclude: Collection[str] = (),
) -> Profile:
    """A profile of ``device`` for ``space_name`` fitted from ``measurements``: ``(arch, ms)`` pairs
    (named in errors as the list ``measurements`` of a JSON body: ``measurements[3]``), or
    ``(label, arch, ms)`` triples whose labels name the rows ("line 4").

    Refuses with ``MeasurementError`` naming each bad row (an arch not in the space, a time that is
    not a positive number, one arch with conflicting times) or too few networks. ``timing`` records how
    the networks were timed (warmup, repeats, rounds, statistic), where known. ``bank_exclude``
    leaves device families out of the bank prior (for evaluations: a device is not its own reference).
    """
    space = searchspaces.get(space_name)
    labelled, field = _labelled(measurements)
    rows = check_measurements(space_name, labelled, minimum=MINIMUM_MEASUREMENTS, field=field)
    archs = [arch for arch, _ in rows]
    measured = np.array([ms for _, ms in rows], dtype=float)
    base = reference_table(space_name, reference)
    table = linear.floored(base)  # every resolution of the reference: its entries carry shape costs
    plan = linear.design(table, space)
    x = linear.features(table, plan, archs, space)
    scale = float(measured.mean())
    target = measured / scale
    prior = bank_prior(space_name, plan, bank_exclude) or linear.reference_prior(table, plan, x)
    kinds = len(plan.kinds)
    noise = linear.choose_noise(x, target, prior, kinds)
    theta = linear.solve(x, target, prior, noise, kinds)
    loo = linear.leave_one_out(x, target, prior, noise, kinds) * scale
    fitted = x @ theta * scale
    bank = bank_devices(space_name, bank_exclude) if prior.source.startswith("bank") else None
    document = table.model_dump(mode="json", exclude_none=True)
    document.update(
        schema_version=SCHEMA_VERSION,
        device=_device(device, f"not stated (fitted from {len(rows)} end-to-end measurements)"),
        measurement=_measurement(table, tool, timing),
        overhead_ms=0.0,
        calibration={
            "a": 1.0, "b": float(theta[0] * scale), "fit_on": len(rows), "method": METHOD,
            "kind_scales": {k: float(max(w, linear.MIN_WEIGHT) * scale / m)
                            for k, w, m in zip(plan.kinds, theta[1:1 + kinds], plan.kind_means)},
            "structure": {s: float(w * scale) for s, w in zip(plan.structure, theta[1 + kinds:])},
            "networks": _points(archs, measured, fitted),
        },
        validation={"method": "leave-one-out", **error_summary(measured, loo), "networks": _points(archs, measured, loo)},
        fit={"method": f"{METHOD}; prior: {_prior_words(prior, noise)}", "n": len(rows),
             "reference": f"{base.device.name}/{space_name}", **({"bank": bank} if bank else {}),
             **({"tool": tool} if tool else {})},
    )
    document.pop("speed_check", None)
    if not document["calibration"]["structure"]:
        del document["calibration"]["structure"]
    return validate_profile(document, source=f"fitted profile of {document['device']['name']}")


def _prior_words(prior: linear.Prior, noise: float) -> str:
    if prior.components:
        return f"{prior.source}, each device's neighbourhood weighed by how well it explains the times"
    return f"{prior.source}, relative noise {noise:g} (leave-one-out)"


def _measurement(table: Profile, tool: str | None, timing: dict | None) -> dict:
    return {
        "warmup": 0, "repeats": 1, "statistic": table.measurement.statistic, **(timing or {}), "unit": "ms",
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "tool": tool or f"end-to-end times fitted by nas {__version__} (fit_profile)",
    }


def _points(archs: Sequence[str], measured: np.ndarray, predicted: np.ndarray) -> list[dict]:
    return [{"arch": a, "measured_ms": float(m), "predicted_ms": float(max(p, 0.0))}
            for a, m, p in zip(archs, measured, predicted)]

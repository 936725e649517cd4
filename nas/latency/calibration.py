"""Calibration of a measured table: ``a * (overhead + sum of block entries) + b`` fitted on whole networks.

Step 3 of ``nas.latency.profiler``'s procedure, and what ``recalibrate`` and ``merge_sessions`` run
again on recorded times. ``a, b`` minimise the squared relative errors over the calibration networks
(each network's relative error weighs the same). Where the blocks of one kind (``space.block_kind``)
misstate their cost inside a network in their own way, one scale per kind is fitted too, and kept
only if it predicts left-out networks better (``choose_calibration``). The calibrated table is then
checked on separate validation networks (``error_summary``).
"""

from __future__ import annotations

import json
from typing import Any, Sequence

import numpy as np

import searchspaces
from nas.errors import InvalidField
from nas.latency.predict import kind_sums
from nas.latency.schema import SCHEMA_VERSION, NetworkPoint, Profile, validate_profile
from nas.stats import spearman

KIND_RIDGE = 0.1  # how strongly per-kind scales are pulled towards the shared calibration
KIND_MARGIN = 0.10  # per-kind scales are kept only if they cut the leave-one-out error by 10% or more


def fit_calibration(raw: np.ndarray, measured: np.ndarray) -> tuple[float, float]:
    """``a, b`` minimising the squared relative errors of ``a * raw + b``; ``a`` stays positive."""
    if len(raw) == 0:
        return 1.0, 0.0
    if len(raw) >= 2 and np.ptp(raw) > 0:
        design = np.column_stack([raw / measured, 1.0 / measured])
        a, b = np.linalg.lstsq(design, np.ones_like(measured), rcond=None)[0]
        if a > 0:
            return float(a), float(b)
    return float(np.median(measured / raw)), 0.0


def fit_kind_scales(
    sums: np.ndarray, overhead: float, measured: np.ndarray, a: float, ridge: float = KIND_RIDGE
) -> tuple[np.ndarray, float] | None:
    """Per-kind scales ``s`` and ``b`` minimising the squared relative errors of
    ``a * (overhead + sums @ s) + b`` for a fixed ``a``, each scale pulled towards 1.

    ``sums`` holds one row per network and one column per block kind. The pull (``ridge``, in units
    of one network's squared relative error) keeps a kind that few networks use near the shared
    calibration, and one that none uses exactly at it. ``None`` when the fit would make a scale zero
    or negative, or has too few networks to say anything.
    """
    kinds = sums.shape[1]
    if len(measured) < 3:
        return None
    design = np.vstack([
        np.column_stack([a * sums / measured[:, None], 1.0 / measured]),
        np.sqrt(ridge) * np.column_stack([np.eye(kinds), np.zeros(kinds)]),
    ])
    target = np.concatenate([1.0 - a * overhead / measured, np.full(kinds, np.sqrt(ridge))])
    coef = np.linalg.lstsq(design, target, rcond=None)[0]
    scales, b = coef[:-1], float(coef[-1])
    if (scales <= 0).any():
        return None
    return scales, b


def choose_calibration(
    sums: np.ndarray, overhead: float, measured: np.ndarray
) -> tuple[float, float, np.ndarray | None]:
    """``a, b`` and per-kind scales (or ``None``): the scales are kept only when they predict the
    calibration networks better, each left out of the fit in turn, than one ``a`` for every block.

    The leave-one-out test is what keeps the extra coefficients honest: on a space where one scale
    fits every kind (most of them, on PyTorch), it prefers the simpler calibration.
    """
    raw = sums.sum(axis=1) + overhead
    a, b = fit_calibration(raw, measured)
    fitted = fit_kind_scales(sums, overhead, measured, a)
    if fitted is None:
        return a, b, None
    shared_errors, kind_errors = [], []
    for i in range(len(measured)):
        rest = np.arange(len(measured)) != i
        a_i, b_i = fit_calibration(raw[rest], measured[rest])
        shared_errors.append(abs((a_i * raw[i] + b_i) / measured[i] - 1.0))
        out = fit_kind_scales(sums[rest], overhead, measured[rest], a_i)
        if out is None:
            return a, b, None
        kind_errors.append(abs((a_i * (overhead + sums[i] @ out[0]) + out[1]) / measured[i] - 1.0))
    if np.mean(kind_errors) < (1.0 - KIND_MARGIN) * np.mean(shared_errors):
        return a, fitted[1], fitted[0]
    return a, b, None


def error_summary(measured: np.ndarray, predicted: np.ndarray) -> dict[str, float | int | None]:
    """n, mean absolute percentage error, share within +-10%, Spearman, worst error."""
    if len(measured) == 0:
        return {"n": 0}
    ape = np.abs(predicted / measured - 1.0)
    rho = spearman(measured, predicted) if len(measured) > 2 else float("nan")
    return {
        "n": int(len(measured)),
        "mape": float(ape.mean()),
        "within_10pct": float((ape <= 0.10).mean()),
        "spearman": None if np.isnan(rho) else float(rho),
        "max_ape": float(ape.max()),
    }


def calibrated(
    profile: Profile, fit_archs: Sequence[Any], fit_measured: np.ndarray,
    check_archs: Sequence[Any], check_measured: np.ndarray,
) -> Profile:
    """``profile`` with its calibration fitted on the first networks and validated on the others
    (archs or canonical strings, with the milliseconds measured for them)."""
    space = searchspaces.get(profile.search_space)
    kinds, fit_sums = kind_sums(profile, fit_archs, space)
    _, check_sums = kind_sums(profile, check_archs, space)
    fit_measured, check_measured = np.asarray(fit_measured, float), np.asarray(check_measured, float)
    a, b, scales = choose_calibration(fit_sums, profile.overhead_ms, fit_measured)
    weights = np.ones(len(kinds)) if scales is None else scales

    def predicted(sums: np.ndarray) -> np.ndarray:
        return a * (profile.overhead_ms + sums @ weights) + b

    def points(archs: Sequence[Any], measured: np.ndarray, predicted: np.ndarray) -> list[dict]:
        return [
            NetworkPoint(arch=x if isinstance(x, str) else space.encode(x), measured_ms=float(m),
                         predicted_ms=max(float(p), 0.0)).model_dump()
            for x, m, p in zip(archs, measured, predicted)
        ]

    document = json.loads(profile.to_json())
    document["schema_version"] = SCHEMA_VERSION
    document["calibration"] = {
        "a": a, "b": b, "fit_on": len(fit_archs),
        "method": "least relative squares" if scales is None else (
            "least relative squares, one scale per block kind "
            f"(leave-one-out error {KIND_MARGIN:.0%} or more below one scale)"
        ),
        **({} if scales is None else {"kind_scales": {k: float(v) for k, v in zip(kinds, scales)}}),
        "networks": points(fit_archs, fit_measured, predicted(fit_sums)),
    }
    check_predicted = predicted(check_sums)
    document["validation"] = {
        **error_summary(check_measured, check_predicted),
        "networks": points(check_archs, check_measured, check_predicted),
    }
    return validate_profile(document)


def recalibrate(profile: Profile) -> Profile:
    """Fit ``profile``'s calibration again on the networks it recorded, nothing measured: for a
    profile written before per-kind scales existed, or after its entries were edited. A speed check
    is kept: it compares times measured later with the recorded ones, which a refit does not change."""
    fit, check = profile.calibration.networks, profile.validation.networks
    if len(fit) != profile.calibration.fit_on or profile.validation.n != len(check):
        raise InvalidField(
            "calibration.networks" if len(fit) != profile.calibration.fit_on else "validation.networks",
            f"the profile records {len(fit)} of its {profile.calibration.fit_on} calibration networks and "
            f"{len(check)} of its {profile.validation.n} validation networks; all are needed to fit again"
        )
    return calibrated(
        profile, [p.arch for p in fit], np.array([p.measured_ms for p in fit]),
        [p.arch for p in check], np.array([p.measured_ms for p in check]),
    )

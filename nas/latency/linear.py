"""The linear model behind a fitted profile: features of a network, and a Bayesian fit of their weights.

A network's latency on a device is modelled as ``intercept + sum_k w_k * f_k + sum_s v_s * g_s``:

- ``f_k`` is the network's sum, over its blocks of kind ``k`` (``space.block_kind``), of the reference
  table's entry for the block, in units of that kind's mean entry ("block equivalents"). The
  reference table carries how a kind's cost moves with a block's shape (its channels, resolution,
  kernel), which few measurements could never learn; the device decides only what one block
  equivalent of each kind costs. Entries get a small floor first (``FLOOR``), so a kind that costs
  nothing on the reference's runtime (a skip connection in PyTorch) still counts blocks on a device
  where it does cost.
- ``g_s`` are the space's structural features (``space.structure_features``): what a block sum
  cannot see (NAS-Bench-201's cell whose output is cut off from its input, which a converter that
  folds constants removes whole).

The weights, over the measured times divided by their mean (so devices of any speed share one
scale), get a prior: where the space has a bank of real devices (``nas.latency.bank``), a mixture of
one Gaussian around each bank device's weights, one broad Gaussian over the whole bank and one vague
one, so that a few measurements pick the devices they resemble (a phone that folds dead work, a GPU
that pays per kernel) rather than an average of all, and a device like none of them is still fitted
from its own times; elsewhere the reference table's own weights with a relative spread. Each
Gaussian's posterior mean minimises relative squared error plus its penalty, and the mixture weighs
them, each at a few noise levels, by how likely each makes the measurements (its evidence). Weights on kinds are kept positive (a
block never saves time), by fixing any that come out below ``MIN_WEIGHT`` and solving again for the
rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

import searchspaces
from nas.latency.predict import kind_sums, structure_matrix
from nas.latency.schema import Profile

FLOOR = 0.02  # each entry's floor, as a share of the table's median entry
MIN_WEIGHT = 1e-6  # a kind's weight is kept at or above this (normalised units)
REFERENCE_SPREAD = 0.5  # the reference prior's relative standard deviation of each weight
INTERCEPT_SPREAD = 0.5  # and of the intercept, in units of the mean measured time
NOISE_GRID = (0.001, 0.003, 0.01, 0.02, 0.04, 0.08, 0.16)  # relative noise levels tried by leave-one-out
INTERCEPT = "intercept"


@dataclass(frozen=True)
class Design:
    """The feature columns of a fit: names (``intercept``, kinds, then structural features)."""

    names: tuple[str, ...]
    kinds: tuple[str, ...]
    structure: tuple[str, ...]
    kind_means: np.ndarray  # each kind's mean floored entry (ms of the reference)


@dataclass(frozen=True)
class Prior:
    """A Gaussian prior over the normalised weights, in ``Design.names`` order; with ``components``,
    a mixture of such Gaussians, each weighed by the likelihood of the measurements under it."""

    mean: np.ndarray
    precision: np.ndarray
    source: str  # "bank of N devices" or "reference table"
    components: tuple["Prior", ...] = ()
    # relative noise levels: a mixture weighs each with each component by evidence; a single Gaussian
    # takes the one leave-one-out prefers (``NOISE_GRID`` where empty)
    noises: tuple[float, ...] = ()


def floored(reference: Profile) -> Profile:
    """The reference with every entry raised by ``FLOOR`` times the median entry (all statistics)."""
    values = np.array([reference.value(key) for key in reference.entries])
    lift = FLOOR * float(np.median(values)) if len(values) else 0.0
    entries = {}
    for key, entry in reference.entries.items():
        update = {"p50": entry.p50 + lift, "mean": entry.mean + lift}
        if entry.min is not None:
            update["min"] = entry.min + lift
        entries[key] = entry.model_copy(update=update)
    return reference.model_copy(update={"entries": entries}, deep=False)


def design(table: Profile, space: searchspaces.SearchSpace) -> Design:
    """The columns of a fit on ``table`` (a floored reference)."""
    kind_of = table.kinds()
    kinds = tuple(sorted(set(kind_of.values())))
    means = np.array([np.mean([table.value(k) for k, kind in kind_of.items() if kind == name]) for name in kinds])
    structure = tuple(space.structure_feature_names)
    return Design((INTERCEPT, *kinds, *structure), kinds, structure, means)


def features(table: Profile, plan: Design, archs: Sequence[Any], space: searchspaces.SearchSpace) -> np.ndarray:
    """One row per network: 1, its block equivalents per kind, its structural features."""
    kinds, sums = kind_sums(table, archs, space)
    if tuple(kinds) != plan.kinds:
        raise ValueError(f"table kinds {kinds} differ from the design's {list(plan.kinds)}")
    extra = structure_matrix(space, archs, plan.structure)
    return np.hstack([np.ones((len(archs), 1)), sums / plan.kind_means, extra])


def reference_prior(table: Profile, plan: Design, rows: np.ndarray) -> Prior:
    """The reference table's own weights, normalised by its mean prediction on ``rows``, with a
    relative spread: a device unlike any bank's is pulled toward the reference's proportions."""
    scales = table.calibration.kind_scales or {}
    a = table.calibration.a
    weights = [a * table.overhead_ms + table.calibration.b]
    weights += [a * scales.get(kind, 1.0) * mean for kind, mean in zip(plan.kinds, plan.kind_means)]
    weights += [(table.calibration.structure or {}).get(name, 0.0) for name in plan.structure]
    mean = np.array(weights)
    scale = float(np.mean(rows @ mean))
    mean = mean / scale
    spread = np.abs(mean) * REFERENCE_SPREAD
    spread[0] = INTERCEPT_SPREAD
    spread[1 + len(plan.kinds):] = INTERCEPT_SPREAD  # structural features: no reference value to trust
    spread = np.maximum(spread, 1e-3)
    return Prior(mean, np.diag(1.0 / spread**2), "reference table")


def solve(rows: np.ndarray, target: np.ndarray, prior: Prior, noise: float, kinds: int) -> np.ndarray:
    """The posterior mean of the weights: of the Gaussian ``prior``, or the mixture of its components
    weighed by their marginal likelihood."""
    if not prior.components:
        return solve_gaussian(rows, target, prior, noise, kinds)
    logs, means = [], []
    for part in prior.components:
        for level in prior.noises or (noise,):  # the noise level is weighed by evidence too
            logs.append(log_evidence(rows, target, part, level))
            means.append(solve_gaussian(rows, target, part, level, kinds))
    logs = np.array(logs)
    weights = np.exp(logs - logs.max())
    return (weights / weights.sum()) @ np.array(means)


def log_evidence(rows: np.ndarray, target: np.ndarray, prior: Prior, noise: float) -> float:
    """log p(target | prior), up to a constant: the weights integrated out of the linear model."""
    covariance = np.linalg.inv(prior.precision)
    around = np.diag((noise * target) ** 2) + rows @ covariance @ rows.T
    residual = target - rows @ prior.mean
    _, logdet = np.linalg.slogdet(around)
    return float(-0.5 * (residual @ np.linalg.solve(around, residual) + logdet))


def solve_gaussian(rows: np.ndarray, target: np.ndarray, prior: Prior, noise: float, kinds: int) -> np.ndarray:
    """The posterior mean of the weights under relative squared error with noise ``noise``, kind
    weights held at or above ``MIN_WEIGHT``."""
    weight = 1.0 / np.maximum(target, 1e-12) ** 2  # relative errors: each network counts the same
    gram = rows.T @ (rows * weight[:, None]) / noise**2 + prior.precision
    right = rows.T @ (target * weight) / noise**2 + prior.precision @ prior.mean
    fixed = np.zeros(len(prior.mean), dtype=bool)
    theta = prior.mean.copy()
    for _ in range(kinds + 1):
        theta = np.where(fixed, MIN_WEIGHT, 0.0)
        free = ~fixed
        theta[free] = np.linalg.solve(gram[np.ix_(free, free)], right[free] - gram[np.ix_(free, fixed)] @ theta[fixed])
        low = np.zeros_like(fixed)
        low[1:1 + kinds] = theta[1:1 + kinds] < MIN_WEIGHT
        if not (low & free).any():
            break
        fixed |= low
    return theta


def leave_one_out(rows: np.ndarray, target: np.ndarray, prior: Prior, noise: float, kinds: int) -> np.ndarray:
    """Each network's prediction by a fit made without it."""
    out = np.empty(len(target))
    for i in range(len(target)):
        keep = np.arange(len(target)) != i
        out[i] = rows[i] @ solve(rows[keep], target[keep], prior, noise, kinds)
    return out


def choose_noise(rows: np.ndarray, target: np.ndarray, prior: Prior, kinds: int) -> float:
    """The noise level of ``NOISE_GRID`` with the smallest leave-one-out relative squared error; for a
    mixture, which weighs its own noise levels, the first of them."""
    if prior.components:
        return prior.noises[0] if prior.noises else NOISE_GRID[0]
    grid = NOISE_GRID
    errors = [np.mean((leave_one_out(rows, target, prior, noise, kinds) / target - 1.0) ** 2) for noise in grid]
    return grid[int(np.argmin(errors))]

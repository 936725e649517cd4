"""What a search optimises: its objectives, its constraints and the score of a candidate.

Objectives: the proxy score (maximised; one proxy, or the rank ensemble of several) and the
predicted latency (minimised), optionally parameters and multiply-adds (MACs; minimised). Constraints: a latency
budget and maxima of parameters and MACs. A candidate that breaks one is infeasible: strategies
see how far it is off (the sum of relative excesses), and it is never on a front.

The rank ensemble needs a population to rank against. Ranks within the growing set of evaluated
candidates would change a candidate's score after a strategy was told it, so candidates are ranked
against a fixed reference population instead: the first batch a search evaluates (a random sample
for every strategy). For each proxy a candidate takes the rank it would have among the reference's n
members, q = (members below + half the ties + 1) / (n + 1), in (0, 1]; its score is the log-rank sum
of ``nas.proxies.ensemble`` over the proxies, as ``ensemble_scores`` gives within a population.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from nas.errors import InvalidField
from nas.proxies.ensemble import log_rank_sum

OPTIONAL_OBJECTIVES = ("params", "macs")


@dataclass(frozen=True)
class Constraints:
    latency_ms: float | None = None
    params: int | None = None
    macs: int | None = None

    def __post_init__(self) -> None:
        for name in ("latency_ms", "params", "macs"):
            value = getattr(self, name)
            if value is not None and (not math.isfinite(value) or value <= 0):
                raise ValueError(f"constraints.{name}: must be a positive number, got {value!r}")

    def excess(self, metrics: Mapping[str, float]) -> dict[str, float]:
        """Relative excess over each limit (0 where within it): ``(value - limit) / limit``."""
        out = {}
        for name in ("latency_ms", "params", "macs"):
            limit = getattr(self, name)
            if limit is not None:
                out[name] = max(0.0, (float(metrics[name]) - limit) / limit)
        return out

    def violation(self, metrics: Mapping[str, float]) -> float:
        return float(sum(self.excess(metrics).values()))

    def as_dict(self) -> dict:
        return {k: v for k, v in (("latency_ms", self.latency_ms), ("params", self.params),
                                  ("macs", self.macs)) if v is not None}


@dataclass(frozen=True)
class Objectives:
    """The objectives in order: score (maximised), latency_ms, then any of params and macs."""

    extra: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in self.extra:
            if name not in OPTIONAL_OBJECTIVES:
                raise ValueError(
                    f"objectives: unknown objective {name!r}; optional ones: {', '.join(OPTIONAL_OBJECTIVES)}"
                )
        if len(set(self.extra)) != len(self.extra):
            raise InvalidField("objectives", "an objective is named twice")

    @property
    def names(self) -> tuple[str, ...]:
        return ("score", "latency_ms", *self.extra)

    @property
    def maximise(self) -> tuple[bool, ...]:
        return (True,) + (False,) * (len(self.names) - 1)

    def minimised(self, score: float, metrics: Mapping[str, float]) -> tuple[float, ...]:
        """The objective vector with every entry to be minimised (the score negated)."""
        return (-float(score), float(metrics["latency_ms"]), *(float(metrics[n]) for n in self.extra))


@dataclass
class Scorer:
    """Turns a candidate's proxy scores into its score objective: one proxy's value as is, or the
    rank ensemble against a reference population fixed by ``set_reference``."""

    proxies: tuple[str, ...]
    ensemble: bool = False
    reference: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.proxies:
            raise InvalidField("proxies", "name at least one proxy")
        if not self.ensemble and len(self.proxies) != 1:
            raise InvalidField("proxies", "several proxies need the ensemble; pick one otherwise")

    @property
    def ready(self) -> bool:
        return not self.ensemble or bool(self.reference)

    def set_reference(self, population: Sequence[Mapping[str, float]]) -> None:
        if not population:
            raise ValueError("the ensemble's reference population is empty")
        self.reference = {
            name: np.sort(np.array([_finite(row.get(name)) for row in population])) for name in self.proxies
        }

    def score(self, scores: Mapping[str, float]) -> float:
        if not self.ensemble:
            return _finite(scores[self.proxies[0]])
        if not self.reference:
            raise RuntimeError("the ensemble has no reference population yet")
        shares = []
        for name in self.proxies:
            ref = self.reference[name]
            value = _finite(scores.get(name))
            below = np.searchsorted(ref, value, side="left")
            equal = np.searchsorted(ref, value, side="right") - below
            shares.append((below + 0.5 * equal + 1) / (len(ref) + 1))
        return float(log_rank_sum(shares))

    def describe(self) -> dict:
        return {"proxies": list(self.proxies), "ensemble": self.ensemble}


def _finite(value: float | None) -> float:
    # Undefined scores rank below every defined one, as in nas.proxies.ensemble.
    if value is None or not math.isfinite(value):
        return -math.inf
    return float(value)

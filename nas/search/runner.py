"""The search loop: ask the strategy for a batch, evaluate what is new, tell, keep the front.

The loop is independent of where evaluation runs: it is handed an ``evaluator`` that maps a list
of arch objects to their ``nas.evaluate.Metrics`` (in this process, from a cache, or on Ray
workers). Candidates are unique per search: a proposal already evaluated is told its known outcome
and costs no budget. The hypervolume of the feasible front is kept after every batch.

Hypervolume is measured in a normalised objective space fixed by the first batch (a random sample
for every strategy): each objective is scaled so the first batch spans 0 (its best) to 1 (its
worst; the latency budget, when there is one), and the reference point is 1 in every objective.
Values above 1 mean a front that reaches beyond the first batch's best.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

import searchspaces
from nas.errors import InvalidField
from nas.evaluate import Metrics, ProxyConfig
from nas.proxies import FLOOR
from nas.search.pareto import hypervolume, pareto_mask
from nas.search.problem import Constraints, Objectives, Scorer
from nas.search.strategies import STRATEGIES, Outcome, make_strategy

DEFAULT_STRATEGY = "tpe"
DEFAULT_BATCH = 8
# Rounds in a row that bring nothing new before the loop stops (a space smaller than the budget).
MAX_IDLE_ROUNDS = 50

Evaluator = Callable[[list[Any]], list[Metrics]]


class Stopped(Exception):
    """A search stopped in the middle of a batch (a cancel, or the service going down): the batch's
    evaluations were abandoned and nothing of it is kept."""


@dataclass(frozen=True)
class SearchConfig:
    space: str
    strategy: str = DEFAULT_STRATEGY
    budget: int = 100
    seed: int = 0
    batch_size: int = DEFAULT_BATCH
    constraints: Constraints = field(default_factory=Constraints)
    objectives: Objectives = field(default_factory=Objectives)
    proxy: ProxyConfig = field(default_factory=ProxyConfig)

    def __post_init__(self) -> None:
        searchspaces.get(self.space)  # UnknownSpaceError naming the known spaces
        if self.strategy not in STRATEGIES:
            raise InvalidField("strategy", f"unknown strategy {self.strategy!r}; choose from {', '.join(STRATEGIES)}")
        if isinstance(self.budget, bool) or not isinstance(self.budget, int) or self.budget < 1:
            raise InvalidField("budget", f"must be a positive integer, got {self.budget!r}")
        if self.batch_size < 1:
            raise InvalidField("batch_size", f"must be a positive integer, got {self.batch_size!r}")

    def describe(self) -> dict[str, Any]:
        return {
            "space": self.space,
            "strategy": self.strategy,
            "budget": self.budget,
            "seed": self.seed,
            "batch_size": self.batch_size,
            "constraints": self.constraints.as_dict(),
            "objectives": list(self.objectives.names),
            "proxies": list(self.proxy.proxies),
            "ensemble": self.proxy.ensemble,
            "proxy_batch_size": self.proxy.batch_size,
            "data": self.proxy.data,
        }


@dataclass
class Candidate:
    """An evaluated candidate of a search, in evaluation order."""

    index: int
    metrics: Metrics
    score: float
    violation: float
    is_pareto: bool = False

    @property
    def feasible(self) -> bool:
        return self.violation <= 0.0

    @property
    def defined(self) -> bool:
        """False when the proxy could not score the network (its floor: e.g. a NAS-Bench-201 cell
        whose output ignores its input); such a candidate is never on a front."""
        return self.score > FLOOR

    def row(self) -> dict[str, Any]:
        m = self.metrics
        return {
            "arch": m.arch, "arch_hash": m.arch_hash, "scores": dict(m.scores), "score": self.score,
            "latency_ms": m.latency_ms, "params": m.params, "macs": m.macs, "feasible": self.feasible,
        }


@dataclass
class Progress:
    evaluated: int
    budget: int
    best_score: float | None  # best score among feasible candidates
    hypervolume: float
    front_size: int


class Search:
    """One search, stepped batch by batch (``step``) or run to the end (``run``)."""

    def __init__(self, config: SearchConfig) -> None:
        self.config = config
        self.space = searchspaces.get(config.space)
        self.scorer = Scorer(config.proxy.proxies, config.proxy.ensemble)
        self.strategy = make_strategy(
            config.strategy, self.space, config.seed, config.budget, len(config.objectives.names)
        )
        self.candidates: list[Candidate] = []
        self.by_hash: dict[str, Candidate] = {}
        self.history: list[tuple[int, float]] = []
        self.idle_rounds = 0
        self.exhausted = False
        self._low: np.ndarray | None = None
        self._span: np.ndarray | None = None

    # -- state -----------------------------------------------------------------------------------
    @property
    def evaluated(self) -> int:
        return len(self.candidates)

    @property
    def done(self) -> bool:
        return self.evaluated >= self.config.budget or self.exhausted

    def objective_values(self, candidates: Sequence[Candidate]) -> np.ndarray:
        """The minimised objective vectors of ``candidates``, one row each."""
        return np.array(
            [self.config.objectives.minimised(c.score, _as_metrics(c.metrics)) for c in candidates],
            dtype=np.float64,
        ).reshape(len(candidates), len(self.config.objectives.names))

    def front(self) -> list[Candidate]:
        """The feasible non-dominated candidates, best score first."""
        feasible = [c for c in self.candidates if c.feasible and c.defined]
        if not feasible:
            return []
        mask = pareto_mask(self.objective_values(feasible))
        return sorted((c for c, keep in zip(feasible, mask) if keep), key=lambda c: -c.score)

    def hypervolume(self) -> float:
        feasible = [c for c in self.candidates if c.feasible and c.defined]
        if not feasible or self._low is None:
            return 0.0
        points = (self.objective_values(feasible) - self._low) / self._span
        return hypervolume(points, np.ones(points.shape[1]))

    def progress(self) -> Progress:
        front = self.front()
        return Progress(
            evaluated=self.evaluated,
            budget=self.config.budget,
            best_score=front[0].score if front else None,
            hypervolume=self.history[-1][1] if self.history else 0.0,
            front_size=len(front),
        )

    # -- the loop --------------------------------------------------------------------------------
    def step(self, evaluator: Evaluator) -> int:
        """Ask for one batch, evaluate the new candidates, tell; returns how many were new."""
        wanted = min(self.config.batch_size, self.config.budget - self.evaluated)
        if wanted <= 0:
            return 0
        archs = self.strategy.ask(wanted)
        hashes = [self.space.arch_hash(a) for a in archs]
        new: dict[str, Any] = {}
        for arch, h in zip(archs, hashes):
            if h not in self.by_hash and h not in new:
                new[h] = arch
        if new:
            metrics = evaluator(list(new.values()))
            if len(metrics) != len(new):
                raise RuntimeError(f"evaluator returned {len(metrics)} results for {len(new)} candidates")
            self._add(metrics)
            self.idle_rounds = 0
        else:
            self.idle_rounds += 1
            self.exhausted = self.idle_rounds >= MAX_IDLE_ROUNDS
        self.strategy.tell(archs, [self._outcome(self.by_hash[h]) for h in hashes])
        if new:
            self.history.append((self.evaluated, self.hypervolume()))
        return len(new)

    def run(
        self,
        evaluator: Evaluator,
        progress: Callable[["Search"], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> "Search":
        """Step until the budget is spent (or the space is, or ``should_stop()`` says so); call
        ``progress(self)`` after every batch that brought new candidates."""
        while not self.done:
            if should_stop is not None and should_stop():
                break
            if self.step(evaluator) and progress is not None:
                progress(self)
        return self

    def _add(self, metrics: Sequence[Metrics]) -> None:
        first = not self.candidates
        if first and not self.scorer.ready:
            self.scorer.set_reference([m.scores for m in metrics])
        for m in metrics:
            score = self.scorer.score(m.scores)
            violation = self.config.constraints.violation(_as_metrics(m))
            candidate = Candidate(len(self.candidates), m, score, violation)
            self.candidates.append(candidate)
            self.by_hash[m.arch_hash] = candidate
        if first:
            self._set_normalisation(self.candidates)
        front = {id(c) for c in self.front()}
        for c in self.candidates:
            c.is_pareto = id(c) in front

    def _set_normalisation(self, batch: Sequence[Candidate]) -> None:
        # Floored scores (-1e30) would stretch the score axis until every real score sat at 0.
        usable = [c for c in batch if c.defined] or list(batch)
        feasible = [c for c in usable if c.feasible] or usable
        values = self.objective_values(feasible)
        low, high = values.min(axis=0), values.max(axis=0)
        budget = self.config.constraints.latency_ms
        if budget is not None:
            high[1] = budget
            low[1] = min(low[1], budget)
        span = high - low
        span[span <= 0] = np.maximum(np.abs(high[span <= 0]), 1.0)
        self._low, self._span = low, span

    def _outcome(self, candidate: Candidate) -> Outcome:
        values = self.config.objectives.minimised(candidate.score, _as_metrics(candidate.metrics))
        return Outcome(tuple(values), candidate.violation)


def _as_metrics(metrics: Metrics) -> dict[str, float]:
    return {"latency_ms": metrics.latency_ms, "params": metrics.params, "macs": metrics.macs}


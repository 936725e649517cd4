"""Search strategies behind one small interface: ``ask(n)`` proposes candidates, ``tell`` reports
how they did. Every strategy is seeded: the same seed and the same outcomes give the same proposals.

- ``random``: uniform samples of the space.
- ``evolution``: regularised (aging) evolution (Real et al., 2019): a population in a queue; each
  child mutates (the space's ``mutate``) the winner of a tournament among a random sample of the
  population, joins it, and the oldest member leaves. With several objectives the tournament winner
  is drawn among the sample's feasible, non-dominated members (the least infeasible, if none is).
- ``nsga2`` and ``tpe``: Optuna's NSGA-II and multi-objective TPE samplers, through Optuna's ask and
  tell interface, with its constraints support (``Trial.set_constraint``); the space's choices are suggested by name
  (``sample_with``), so conditional choices (a stage's layers beyond its depth) stay conditional.
"""

from __future__ import annotations

import random
import warnings
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Sequence

import numpy as np

from nas.errors import InvalidField
from nas.search.pareto import pareto_mask
from searchspaces import SearchSpace


class Strategy(StrEnum):
    """The search strategy that proposes candidates."""

    random = "random"
    evolution = "evolution"
    nsga2 = "nsga2"
    tpe = "tpe"


STRATEGIES = tuple(strategy.value for strategy in Strategy)


@dataclass(frozen=True)
class Outcome:
    """How a candidate did: objective values (all minimised) and its constraint violation (0 when
    feasible)."""

    values: tuple[float, ...]
    violation: float = 0.0

    @property
    def feasible(self) -> bool:
        return self.violation <= 0.0


class SearchStrategy(ABC):
    name: str = ""

    def __init__(self, space: SearchSpace, seed: int, budget: int) -> None:
        self.space = space
        self.seed = seed
        self.budget = budget

    @abstractmethod
    def ask(self, n: int) -> list[Any]:
        """``n`` candidates (arch objects) to evaluate next; they may repeat earlier ones."""

    @abstractmethod
    def tell(self, archs: Sequence[Any], outcomes: Sequence[Outcome]) -> None:
        """The outcomes of the candidates of the last ``ask``, in the same order."""


class RandomSearch(SearchStrategy):
    name = "random"

    def __init__(self, space: SearchSpace, seed: int, budget: int) -> None:
        super().__init__(space, seed, budget)
        self.rng = random.Random(seed)

    def ask(self, n: int) -> list[Any]:
        return [self.space.sample(self.rng) for _ in range(n)]

    def tell(self, archs: Sequence[Any], outcomes: Sequence[Outcome]) -> None:
        pass


def population_size(budget: int) -> int:
    """A population an eighth of the budget, within 10..100 (Real et al. use 100 for 20k models)."""
    return max(10, min(100, budget // 8))


class AgingEvolution(SearchStrategy):
    name = "evolution"

    def __init__(self, space: SearchSpace, seed: int, budget: int,
                 population: int | None = None, sample: int | None = None) -> None:
        super().__init__(space, seed, budget)
        self.rng = random.Random(seed)
        self.capacity = population or population_size(budget)
        self.sample_size = sample or max(2, self.capacity // 4)
        if self.sample_size > self.capacity:
            raise ValueError("evolution: the tournament sample cannot exceed the population")
        self.population: deque[tuple[Any, Outcome]] = deque()
        self.asked_random = 0  # initial random members asked but not yet told

    def ask(self, n: int) -> list[Any]:
        out = []
        for _ in range(n):
            if len(self.population) + self.asked_random < self.capacity:
                self.asked_random += 1
                out.append(self.space.sample(self.rng))
            elif not self.population:
                out.append(self.space.sample(self.rng))
            else:
                out.append(self.space.mutate(self._tournament(), self.rng))
        return out

    def _tournament(self) -> Any:
        members = list(self.population)
        picked = self.rng.sample(members, min(self.sample_size, len(members)))
        feasible = [m for m in picked if m[1].feasible]
        if not feasible:
            return min(picked, key=lambda m: m[1].violation)[0]
        mask = pareto_mask(np.array([m[1].values for m in feasible]))
        winners = [m for m, keep in zip(feasible, mask) if keep]
        return self.rng.choice(winners)[0]

    def tell(self, archs: Sequence[Any], outcomes: Sequence[Outcome]) -> None:
        for arch, outcome in zip(archs, outcomes):
            if self.asked_random:
                self.asked_random -= 1
            self.population.append((arch, outcome))
            if len(self.population) > self.capacity:
                self.population.popleft()  # aging: the oldest leaves, however good


class OptunaStrategy(SearchStrategy):
    """Optuna's samplers through ask and tell; constraints through ``Trial.set_constraint``."""

    def __init__(self, space: SearchSpace, seed: int, budget: int, sampler: str, num_objectives: int) -> None:
        super().__init__(space, seed, budget)
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.name = sampler
        with warnings.catch_warnings():
            # multivariate/group TPE is marked experimental in Optuna; we rely on it knowingly.
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            if sampler == "nsga2":
                made = optuna.samplers.NSGAIISampler(population_size=population_size(budget), seed=seed)
            elif sampler == "tpe":
                made = optuna.samplers.TPESampler(
                    seed=seed, n_startup_trials=population_size(budget), multivariate=True, group=True,
                )
            else:
                raise InvalidField("strategy", f"unknown Optuna sampler {sampler!r}")
        self.study = optuna.create_study(directions=["minimize"] * num_objectives, sampler=made)
        self.pending: list[Any] = []

    def ask(self, n: int) -> list[Any]:
        out = []
        with warnings.catch_warnings():
            import optuna

            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            for _ in range(n):
                trial = self.study.ask()
                arch = self.space.sample_with(
                    lambda name, options, trial=trial: trial.suggest_categorical(name, list(options))
                )
                self.pending.append(trial)
                out.append(arch)
        return out

    def tell(self, archs: Sequence[Any], outcomes: Sequence[Outcome]) -> None:
        if len(outcomes) != len(self.pending):
            raise ValueError(f"tell: expected {len(self.pending)} outcomes, got {len(outcomes)}")
        for trial, outcome in zip(self.pending, outcomes):
            # Optuna's constraints: a trial is feasible when every value is <= 0.
            trial.set_constraint("violation", outcome.violation)
            self.study.tell(trial, list(outcome.values))
        self.pending = []


def make_strategy(name: str, space: SearchSpace, seed: int, budget: int, num_objectives: int) -> SearchStrategy:
    if name == "random":
        return RandomSearch(space, seed, budget)
    if name == "evolution":
        return AgingEvolution(space, seed, budget)
    if name in ("nsga2", "tpe"):
        return OptunaStrategy(space, seed, budget, name, num_objectives)
    raise InvalidField("strategy", f"unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}")

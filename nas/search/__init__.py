"""Search: strategies behind ask/tell, objectives and constraints, Pareto fronts and hypervolume,
and the loop that ties them to an evaluator (``nas.evaluate`` here, Ray workers in the service)."""

from nas.search.evaluators import LocalEvaluator, local_evaluator
from nas.search.pareto import (
    front_ranks,
    hypervolume,
    non_dominated_sort,
    pareto_mask,
    to_minimise,
)
from nas.search.problem import Constraints, Objectives, Scorer
from nas.search.runner import (
    DEFAULT_STRATEGY,
    Candidate,
    Progress,
    Search,
    SearchConfig,
)
from nas.search.strategies import (
    STRATEGIES,
    Outcome,
    SearchStrategy,
    Strategy,
    make_strategy,
)

__all__ = [
    "Candidate",
    "Constraints",
    "LocalEvaluator",
    "DEFAULT_STRATEGY",
    "Objectives",
    "Outcome",
    "Progress",
    "STRATEGIES",
    "Scorer",
    "Search",
    "SearchConfig",
    "SearchStrategy",
    "Strategy",
    "front_ranks",
    "hypervolume",
    "local_evaluator",
    "make_strategy",
    "non_dominated_sort",
    "pareto_mask",
    "to_minimise",
]

"""The search loop with real spaces, proxies and the shipped latency profiles."""

import math
import random

import numpy as np
import pytest

import searchspaces
from nas.evaluate import ProxyConfig, evaluate, load_data
from nas.latency import default_profile, predict
from nas.search import (
    STRATEGIES,
    Constraints,
    Objectives,
    Search,
    SearchConfig,
    local_evaluator,
)
from nas.search.pareto import pareto_mask
from nas.search.problem import Scorer
from tests.budgets import latency_quantile

BUDGET = 24
# The "params" proxy keeps these runs cheap; the loop does not care which proxy scores.
PARAMS = ProxyConfig(proxies=("params",))


def run(strategy, seed=0, space="nasbench201", budget=BUDGET, constraints=None, proxy=PARAMS, **kwargs):
    config = SearchConfig(space, strategy=strategy, budget=budget, seed=seed, proxy=proxy,
                          constraints=constraints or Constraints(), **kwargs)
    profile = default_profile(space)
    searched = searchspaces.get(space)
    data = load_data(proxy, searched, profile.num_classes)
    with local_evaluator(searched, proxy, data, profile, threads=1) as evaluator:
        return Search(config).run(evaluator)


class Remembered:
    """An evaluator that evaluates each architecture once across runs: evaluation is deterministic, so
    the runs below differ only in what their strategies propose, which is what they test."""

    def __init__(self, evaluator, space) -> None:
        self.evaluator, self.space, self.seen = evaluator, space, {}

    def __call__(self, archs):
        keys = [self.space.arch_hash(arch) for arch in archs]
        missing = {key: arch for key, arch in zip(keys, archs) if key not in self.seen}
        self.seen.update(zip(missing, self.evaluator(list(missing.values()))))
        return [self.seen[key] for key in keys]


@pytest.fixture(scope="module")
def budgeted():
    """Each strategy twice with seed 0 and once with seed 1, under a latency and a params limit."""
    limit = Constraints(latency_ms=latency_quantile("nasbench201", 0.5), params=400_000)
    profile, searched = default_profile("nasbench201"), searchspaces.get("nasbench201")
    with local_evaluator(searched, PARAMS, load_data(PARAMS, searched, profile.num_classes), profile,
                         threads=1) as evaluator:
        remembered = Remembered(evaluator, searched)
        return limit, {
            (name, seed, repeat): Search(SearchConfig("nasbench201", strategy=name, budget=BUDGET, seed=seed,
                                                      proxy=PARAMS, constraints=limit)).run(remembered)
            for name in STRATEGIES for seed, repeat in ((0, 0), (0, 1), (1, 0))
        }


def hashes(search):
    return [c.metrics.arch_hash for c in search.candidates]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_same_seed_same_result(budgeted, strategy):
    _, runs = budgeted
    first, again, other = runs[(strategy, 0, 0)], runs[(strategy, 0, 1)], runs[(strategy, 1, 0)]
    assert hashes(first) == hashes(again)
    assert [c.metrics.arch_hash for c in first.front()] == [c.metrics.arch_hash for c in again.front()]
    assert first.history == again.history
    assert hashes(first) != hashes(other)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_constraints_hold_on_every_front(budgeted, strategy):
    limit, runs = budgeted
    for key, search in runs.items():
        if key[0] != strategy:
            continue
        front = search.front()
        assert front, "a front under a median latency budget is never empty at this budget"
        assert any(not c.feasible for c in search.candidates), "the limits must bite for this test to mean anything"
        for c in front:
            assert c.metrics.latency_ms <= limit.latency_ms
            assert c.metrics.params <= limit.params
        assert all(c.is_pareto == (c in front) for c in search.candidates)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_front_is_the_non_dominated_feasible_set(budgeted, strategy):
    _, runs = budgeted
    search = runs[(strategy, 0, 0)]
    feasible = [c for c in search.candidates if c.feasible]
    values = np.array([[-c.score, c.metrics.latency_ms] for c in feasible])
    expected = {c.metrics.arch_hash for c, keep in zip(feasible, pareto_mask(values)) if keep}
    assert {c.metrics.arch_hash for c in search.front()} == expected


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_budget_counts_unique_candidates_and_history_grows(budgeted, strategy):
    _, runs = budgeted
    search = runs[(strategy, 0, 0)]
    assert search.evaluated == BUDGET
    assert len(set(hashes(search))) == BUDGET
    evaluated = [e for e, _ in search.history]
    assert evaluated == sorted(evaluated) and evaluated[-1] == BUDGET
    volumes = [v for _, v in search.history]
    assert all(b >= a - 1e-12 for a, b in zip(volumes, volumes[1:])), "hypervolume never falls"
    assert volumes[-1] > 0


def test_evolution_children_are_mutations():
    search = run("evolution", seed=3, budget=60)
    space = searchspaces.get("nasbench201")
    population = search.strategy.capacity
    earlier = [space.to_json(space.decode(c.metrics.arch)) for c in search.candidates[:population]]
    for c in search.candidates[population:]:
        child = space.to_json(space.decode(c.metrics.arch))
        assert any(sum(child[k] != parent[k] for k in child) == 1 for parent in earlier), c.metrics.arch
        earlier.append(child)


def test_optional_objectives_add_columns():
    search = run("nsga2", budget=16, objectives=Objectives(extra=("macs",)))
    assert search.objective_values(search.candidates).shape == (16, 3)
    assert search.front()


def test_ensemble_scores_rank_against_the_first_batch():
    proxy = ProxyConfig(proxies=("params", "macs"), ensemble=True)
    search = run("random", budget=16, proxy=proxy, batch_size=8)
    scores = [c.score for c in search.candidates]
    assert all(2 * math.log(1 / 9) <= s <= 0.0 for s in scores)
    first = search.candidates[:8]
    biggest = max(first, key=lambda c: c.metrics.params)
    # the most parameters and multiply-adds of the first batch: beats the other 7 and ties itself on
    # each proxy, q = (7 + 0.5 + 1) / (8 + 1)
    assert max(first, key=lambda c: c.metrics.macs) is biggest
    assert biggest.score == pytest.approx(2 * math.log(8.5 / 9))


def test_scorer_reference_is_fixed():
    scorer = Scorer(("a", "b"), ensemble=True)
    scorer.set_reference([{"a": 1, "b": 1}, {"a": 2, "b": 2}, {"a": 3, "b": 3}])
    # q = (below + ties / 2 + 1) / (3 + 1) for each proxy; the score is the sum of log q
    assert scorer.score({"a": 2, "b": 2}) == pytest.approx(2 * math.log(2.5 / 4))
    assert scorer.score({"a": 10, "b": 10}) == pytest.approx(0.0)
    # best on one proxy, last on the other: below a candidate in the middle on both (a mean would tie them)
    assert scorer.score({"a": 10, "b": 0}) == pytest.approx(math.log(1 / 4))
    assert scorer.score({"a": 10, "b": 0}) < scorer.score({"a": 2, "b": 2})
    assert scorer.score({"a": float("nan"), "b": 0}) == pytest.approx(2 * math.log(1 / 4))


def test_mobilenetv3_with_synflow_respects_a_budget():
    budget_ms = latency_quantile("mobilenetv3", 0.5)
    search = run("evolution", space="mobilenetv3", budget=16, proxy=ProxyConfig(proxies=("synflow",)),
                 constraints=Constraints(latency_ms=budget_ms))
    assert search.front()
    assert all(c.metrics.latency_ms <= budget_ms for c in search.front())
    assert all("synflow" in c.metrics.scores for c in search.candidates)


def test_worker_processes_give_the_same_metrics():
    space = searchspaces.get("nasbench201")
    profile = default_profile("nasbench201")
    proxy = ProxyConfig(proxies=("synflow",))
    data = load_data(proxy, space, profile.num_classes)
    rng = random.Random(9)
    archs = [space.sample(rng) for _ in range(6)]
    with local_evaluator(space, proxy, data, profile, threads=1) as here:
        expected = here(archs)
    with local_evaluator(space, proxy, data, profile, workers=2) as pool:
        assert pool(archs) == expected


def test_evaluate_is_pure_and_uses_its_cache_arguments():
    space = searchspaces.get("nasbench201")
    profile = default_profile("nasbench201")
    proxy = ProxyConfig(proxies=("synflow",))
    data = load_data(proxy, space, profile.num_classes)
    arch = space.published["best"] if "best" in space.published else next(iter(space.published.values()))
    one, two = evaluate(arch, space, proxy, data, profile), evaluate(arch, "nasbench201", proxy, data, profile)
    assert one == two
    assert one.latency_ms == pytest.approx(predict(profile, arch))
    cached = evaluate(arch, space, proxy, data, profile, scores={"synflow": 1.0, "params": 2, "macs": 3},
                      latency_ms=4.0)
    assert (cached.scores["synflow"], cached.params, cached.macs, cached.latency_ms) == (1.0, 2, 3, 4.0)


@pytest.mark.parametrize("kwargs, field", [
    ({"strategy": "annealing"}, "strategy"),
    ({"budget": 0}, "budget"),
    ({"space": "resnet"}, "resnet"),
])
def test_bad_configs_name_the_field(kwargs, field):
    base = {"space": "nasbench201"}
    with pytest.raises((ValueError, KeyError), match=field):
        SearchConfig(**{**base, **kwargs})


@pytest.mark.parametrize("kwargs, field", [
    ({"proxies": ("nope",)}, "nope"),
    ({"proxies": ("synflow", "naswot")}, "ensemble"),
    ({"proxies": ("synflow",), "ensemble": True}, "ensemble"),
    ({"batch_size": 0}, "batch_size"),
])
def test_bad_proxy_configs_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        ProxyConfig(**kwargs)


def test_bad_constraints_name_the_field():
    with pytest.raises(ValueError, match="latency_ms"):
        Constraints(latency_ms=-1)
    with pytest.raises(ValueError, match="objectives"):
        Objectives(extra=("accuracy",))


def test_unscorable_candidates_never_reach_the_front():
    """A candidate at the proxy's floor (no defined score) stays off the front even when it is the
    fastest, and does not stretch the hypervolume's normalisation."""
    from nas.proxies import FLOOR

    space = searchspaces.get("nasbench201")
    profile = default_profile("nasbench201")
    proxy = ProxyConfig(proxies=("synflow",))
    data = load_data(proxy, space, profile.num_classes)
    fastest_third = latency_quantile("nasbench201", 1 / 3)

    def evaluator(archs):
        out = []
        for arch in archs:
            latency = predict(profile, arch)
            # The fastest third of the space is "unscorable" here; the rest scores by latency.
            score = FLOOR if latency < fastest_third else latency
            out.append(evaluate(arch, space, proxy, data, profile, latency_ms=latency,
                                scores={"synflow": score, "params": 1, "macs": 1}))
        return out

    search = Search(SearchConfig("nasbench201", strategy="random", budget=40, seed=2, proxy=proxy)).run(evaluator)
    floored = [c for c in search.candidates if c.score == FLOOR]
    assert floored and min(c.metrics.latency_ms for c in floored) < min(c.metrics.latency_ms for c in search.front())
    assert all(c.defined for c in search.front())
    assert 0 < search.history[-1][1] < 10

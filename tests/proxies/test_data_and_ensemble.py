from __future__ import annotations

import math

import pytest
import torch

import nas.proxies as proxies
from nas.proxies.ensemble import average_ranks
from nas.stats import kendall, spearman


def test_cifar10_batch_is_real_normalised_images_with_their_source():
    data = proxies.cifar10_data(64, 32, seed=0)
    assert data.source == "cifar10_sample"
    assert data.inputs.shape == (64, 3, 32, 32) and data.inputs.dtype == torch.float32
    assert 0 <= int(data.targets.min()) and int(data.targets.max()) <= 9
    assert abs(float(data.inputs.mean())) < 0.3  # normalised with the CIFAR-10 statistics
    assert len(set(data.targets.tolist())) >= 8  # a random draw covers most classes


def test_cifar10_batch_is_resized_to_the_space_resolution_and_seeded():
    a = proxies.cifar10_data(8, 224, seed=1)
    assert a.inputs.shape == (8, 3, 224, 224)
    assert torch.equal(a.inputs, proxies.cifar10_data(8, 224, seed=1).inputs)
    assert not torch.equal(a.inputs, proxies.cifar10_data(8, 224, seed=2).inputs)


def test_synthetic_data_says_so():
    data = proxies.synthetic_data(16, 64, 100, seed=0)
    assert data.source == "synthetic" and data.inputs.shape == (16, 3, 64, 64)
    assert int(data.targets.max()) < 100


@pytest.mark.parametrize("kwargs, field", [({"batch_size": 0}, "batch_size"), ({"batch_size": 9999}, "batch_size")])
def test_bad_data_requests_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        proxies.cifar10_data(**{"batch_size": 8, **kwargs})


def test_average_ranks_share_ties_and_put_undefined_last():
    ranks = average_ranks([3.0, 1.0, 3.0, math.nan, float("inf"), 2.0])
    assert ranks.tolist() == [4.5, 2.0, 4.5, 0.5, 0.5, 3.0]
    assert ranks[3] == ranks[4] < ranks[1] < ranks[5] < ranks[0] == ranks[2]


def test_mean_rank_ensemble():
    population = [{"a": 1.0, "b": 10.0}, {"a": 2.0, "b": 30.0}, {"a": 3.0, "b": 20.0}]
    assert proxies.mean_rank(population, ["a"]) == [0.0, 0.5, 1.0]
    assert proxies.mean_rank(population, ["a", "b"]) == [0.0, 0.75, 0.75]
    assert proxies.mean_rank([{"a": 5.0}], ["a"]) == [0.5]
    # a missing score ranks last
    assert proxies.mean_rank([{"a": 1.0}, {}], ["a"]) == [1.0, 0.0]
    with pytest.raises(ValueError):
        proxies.mean_rank(population, [])


def test_ensemble_scores_are_the_log_rank_sum():
    population = [{"a": 1.0, "b": 30.0}, {"a": 2.0, "b": 20.0}, {"a": 3.0, "b": 10.0}, {"a": 3.0, "b": 40.0}]
    # ranks 1..4 (ties averaged): a -> 1, 2, 3.5, 3.5; b -> 3, 2, 1, 4; score = sum log(rank / 4)
    expected = [math.log(1 / 4) + math.log(3 / 4), math.log(2 / 4) + math.log(2 / 4),
                math.log(3.5 / 4) + math.log(1 / 4), math.log(3.5 / 4) + math.log(4 / 4)]
    assert proxies.ensemble_scores(population, ["a", "b"]) == pytest.approx(expected)
    # a middling candidate on both beats one that is best on one proxy and worst on the other
    scores = proxies.ensemble_scores([{"a": 1, "b": 3}, {"a": 2, "b": 2}, {"a": 3, "b": 1}], ["a", "b"])
    assert scores[1] > scores[0] == pytest.approx(scores[2])
    assert proxies.ensemble_scores([{"a": 1.0}, {}], ["a"]) == pytest.approx([0.0, math.log(1 / 2)])
    assert proxies.ensemble_scores([{"a": 5.0}], ["a"]) == [0.0] and proxies.ensemble_scores([], ["a"]) == []
    with pytest.raises(ValueError, match="at least one proxy"):
        proxies.ensemble_scores(population, [])


def test_the_default_ensemble_names_registered_proxies_a_search_accepts():
    from nas.search.request import SearchRequest

    assert len(proxies.DEFAULT_ENSEMBLE) >= 2 and all(proxies.get(n) for n in proxies.DEFAULT_ENSEMBLE)
    config = SearchRequest(space="mobilenetv3", ensemble=list(proxies.DEFAULT_ENSEMBLE)).to_config()
    assert config.proxy.proxies == proxies.DEFAULT_ENSEMBLE and config.proxy.ensemble


def test_rank_correlations_on_known_sequences():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert kendall([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)
    # tau-b with ties: x has one tied pair
    assert kendall([1, 1, 2, 3], [1, 2, 3, 4]) == pytest.approx(5 / math.sqrt(5 * 6))

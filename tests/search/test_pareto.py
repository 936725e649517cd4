"""Pareto fronts and hypervolume against brute force, on random point sets with ties and duplicates."""

import itertools

import numpy as np
import pytest

from nas.search.pareto import front_ranks, hypervolume, non_dominated_sort, pareto_mask, to_minimise


def brute_mask(points):
    n = len(points)
    return np.array([
        not any(np.all(points[j] <= points[i]) and np.any(points[j] < points[i]) for j in range(n))
        for i in range(n)
    ])


def brute_hypervolume(points, ref):
    """Sum the grid cells (between consecutive coordinates) that some point dominates."""
    points = points[np.all(points < ref, axis=1)]
    if len(points) == 0:
        return 0.0
    axes = [np.unique(np.append(points[:, k], ref[k])) for k in range(points.shape[1])]
    total = 0.0
    for cell in itertools.product(*(range(len(axis) - 1) for axis in axes)):
        low = np.array([axes[k][i] for k, i in enumerate(cell)])
        if np.any(np.all(points <= low, axis=1)):
            total += np.prod([axes[k][i + 1] - axes[k][i] for k, i in enumerate(cell)])
    return total


def point_sets(dims, count=60, seed=0):
    rng = np.random.default_rng(seed + dims)
    for trial in range(count):
        n = int(rng.integers(1, 25 if dims <= 2 else 10))
        if trial % 3 == 0:  # small integers: many ties and exact duplicates
            points = rng.integers(0, 4, size=(n, dims)).astype(float)
        else:
            points = rng.random((n, dims))
        if trial % 5 == 0 and n > 1:
            points[-1] = points[0]  # a duplicate
        yield points


@pytest.mark.parametrize("dims", [1, 2, 3, 4])
def test_pareto_mask_matches_brute_force(dims):
    for points in point_sets(dims):
        assert np.array_equal(pareto_mask(points), brute_mask(points)), points


@pytest.mark.parametrize("dims", [2, 3])
def test_non_dominated_sort_peels_fronts(dims):
    for points in point_sets(dims, count=30):
        fronts = non_dominated_sort(points)
        assert sorted(np.concatenate(fronts).tolist()) == list(range(len(points)))
        remaining = np.arange(len(points))
        for front in fronts:
            expected = remaining[brute_mask(points[remaining])]
            assert np.array_equal(np.sort(front), expected)
            remaining = np.setdiff1d(remaining, front)
        ranks = front_ranks(points)
        for rank, front in enumerate(fronts):
            assert (ranks[front] == rank).all()


def test_duplicates_share_the_front():
    points = np.array([[1.0, 2.0], [1.0, 2.0], [2.0, 1.0], [2.0, 2.0]])
    assert pareto_mask(points).tolist() == [True, True, True, False]


@pytest.mark.parametrize("dims", [1, 2, 3, 4])
def test_hypervolume_matches_brute_force(dims):
    for points in point_sets(dims, count=40):
        ref = np.full(dims, 3.5 if points.max() > 1 else 1.1)
        assert hypervolume(points, ref) == pytest.approx(brute_hypervolume(points, ref), abs=1e-12)


def test_hypervolume_known_values_and_reference():
    assert hypervolume([[1, 1]], [2, 2]) == 1.0
    assert hypervolume([[0, 1], [1, 0]], [2, 2]) == 3.0
    assert hypervolume([[3, 0]], [2, 2]) == 0.0  # beyond the reference: nothing
    assert hypervolume(np.zeros((0, 2)), [1, 1]) == 0.0
    assert hypervolume([[0, 0, 0]], [1, 2, 3]) == 6.0


def test_bad_points_are_refused():
    with pytest.raises(ValueError, match="NaN"):
        pareto_mask([[0.0, float("nan")]])
    with pytest.raises(ValueError, match="reference"):
        hypervolume([[0.0, 0.0]], [1.0])
    with pytest.raises(ValueError, match="columns"):
        to_minimise(np.zeros((2, 3)), [True, False])


def test_to_minimise_negates_maximised_columns():
    values = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert to_minimise(values, [True, False]).tolist() == [[-1.0, 2.0], [-3.0, 4.0]]

"""Tests for hea_zoo.evaluation.metrics on hand-computed cases."""

import doctest

import numpy as np
import pytest

from hea_zoo.evaluation import metrics
from hea_zoo.evaluation.metrics import (
    absolute_percentage_error,
    cosine_similarity_to_reference,
    hit_rate,
    mape,
    nearest_training_distance,
    novelty,
    surrogate_oracle_gap,
    uniqueness,
    valid_mask,
    validity,
    within_condition_cosine_similarity,
)


def _brute_force_cosine(designs):
    out = []
    for rows in designs:
        u = rows / np.linalg.norm(rows, axis=1, keepdims=True)
        s = u @ u.T
        n = len(rows)
        out.append((s.sum() - np.trace(s)) / (n * (n - 1)))
    return np.array(out)


def test_docstring_examples():
    assert doctest.testmod(metrics).failed == 0


# --------------------------------------------------------------------------- MAPE


def test_mape_known_vectors():
    predicted = np.array([[[110.0, 9.0], [90.0, 12.0]]])  # (1, 2, 2)
    target = np.array([[100.0, 10.0]])
    result = mape(predicted, target)
    np.testing.assert_allclose(result.per_property, [10.0, 15.0])
    assert result.mean == pytest.approx(12.5)


def test_mape_broadcasts_per_condition_target():
    target = np.array([[100.0, 10.0], [50.0, 5.0]])  # (m=2, P=2)
    predicted = np.stack(
        [np.full((3, 2), [100.0, 11.0]), np.full((3, 2), [40.0, 5.0])]
    )  # (2, 3, 2)
    ape = absolute_percentage_error(predicted, target)
    assert ape.shape == (2, 3, 2)
    np.testing.assert_allclose(ape[0], [[0.0, 10.0]] * 3)
    np.testing.assert_allclose(ape[1], [[20.0, 0.0]] * 3)
    np.testing.assert_allclose(mape(predicted, target).per_property, [10.0, 5.0])


def test_mape_flat_and_single_target():
    np.testing.assert_allclose(mape([[2.0], [4.0]], [2.0]).per_property, [50.0])


def test_mape_uses_absolute_target():
    assert mape([[-1.5]], [-1.0]).mean == pytest.approx(50.0)


@pytest.mark.parametrize("target", [[[0.0, 1.0]], [[np.nan, 1.0]]])
def test_mape_rejects_zero_or_nan_target(target):
    with pytest.raises(ValueError, match="nonzero"):
        mape(np.ones((1, 3, 2)), target)


def test_mape_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="broadcast"):
        mape(np.ones((2, 3, 2)), np.ones((3, 2)))


# --------------------------------------------------------------------------- cosine similarity


def test_identical_rows_give_cosine_one():
    row = np.array([0.2, 0.3, 0.5, 0.0])
    designs = np.tile(row, (3, 50, 1))
    result = within_condition_cosine_similarity(designs)
    np.testing.assert_allclose(result.per_condition, 1.0)
    assert result.mean == pytest.approx(1.0)


def test_disjoint_element_sets_give_cosine_zero():
    designs = np.array([[[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.3, 0.7]]])
    result = within_condition_cosine_similarity(designs)
    np.testing.assert_allclose(result.per_condition, [0.0], atol=1e-12)


def test_cosine_excludes_self_pairs():
    # Two identical rows and one orthogonal: pairs (0,1)=1, (0,2)=(1,2)=0 -> 2/6.
    designs = np.array([[[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]])
    assert within_condition_cosine_similarity(designs).mean == pytest.approx(1.0 / 3.0)


def test_fast_cosine_identity_matches_brute_force():
    rng = np.random.default_rng(1)
    designs = rng.dirichlet(np.full(22, 0.4), size=(7, 60))
    fast = within_condition_cosine_similarity(designs)
    np.testing.assert_allclose(fast.per_condition, _brute_force_cosine(designs), rtol=1e-10)
    assert fast.mean == pytest.approx(_brute_force_cosine(designs).mean())


def test_cosine_single_condition_2d_and_undefined():
    assert within_condition_cosine_similarity([[1.0, 0.0], [1.0, 1.0]]).mean == pytest.approx(
        1 / np.sqrt(2)
    )
    result = within_condition_cosine_similarity(np.zeros((1, 3, 2)))
    assert np.isnan(result.per_condition[0])


# --------------------------------------------------------------------------- novelty


def test_novelty_constructed():
    reference = np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
    designs = np.array(
        [
            [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],  # cos 1 and 0 -> 0.5
            [[0.0, 0.5, 0.5], [0.0, 0.5, 0.5]],  # cos 1 and 1 -> 1.0
        ]
    )
    sims = cosine_similarity_to_reference(designs, reference)
    np.testing.assert_allclose(sims, [[1.0, 0.0], [1.0, 1.0]], atol=1e-12)
    result = novelty(designs, reference)
    np.testing.assert_allclose(result.per_condition, [0.5, 1.0])
    assert result.mean == pytest.approx(0.75)


def test_novelty_rejects_mismatched_reference():
    with pytest.raises(ValueError, match="reference"):
        novelty(np.ones((2, 3, 4)), np.ones((3, 4)))


# --------------------------------------------------------------------------- validity / uniqueness


def test_validity_and_mask():
    designs = np.array(
        [
            [0.5, 0.5, 0.0],
            [0.5, 0.5 + 1e-7, 0.0],  # within atol
            [0.6, 0.6, -0.2],  # negative
            [0.5, 0.6, 0.0],  # sums to 1.1
            [np.nan, 0.5, 0.5],  # not finite
        ]
    )
    np.testing.assert_array_equal(valid_mask(designs), [True, True, False, False, False])
    assert validity(designs) == pytest.approx(0.4)
    assert valid_mask(designs.reshape(1, 5, 3)).shape == (1, 5)


def test_uniqueness_after_rounding():
    designs = np.array(
        [[[0.3, 0.7], [0.3001, 0.6999], [0.2, 0.8], [0.0, 1.0]], [[-0.0001, 1.0001], [0.2, 0.8], [0.9, 0.1], [0.9, 0.1]]]
    )
    # Distinct after rounding to 3 decimals: (0.3,0.7), (0.2,0.8), (0,1), (0.9,0.1) -> 4 of 8.
    assert uniqueness(designs) == pytest.approx(0.5)
    assert uniqueness(designs, decimals=4) == pytest.approx(6 / 8)  # 0.3001 and -0.0001 rows split off


# --------------------------------------------------------------------------- hit rate, gap


def test_hit_rate_requires_all_properties():
    target = np.array([[100.0, 10.0]])
    achieved = np.array(
        [[[104.0, 10.4], [104.0, 10.6], [108.0, 10.0], [100.0, 10.0]]]
    )
    assert hit_rate(achieved, target, 0.05) == pytest.approx(0.5)
    assert hit_rate(achieved, target, 0.10) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="tolerance"):
        hit_rate(achieved, target, 0.0)


def test_surrogate_oracle_gap():
    target = np.array([[100.0, 10.0]])
    surrogate = np.array([[[101.0, 10.1]]])  # 1 %, 1 %
    oracle = np.array([[[120.0, 12.0]]])  # 20 %, 20 %
    gap = surrogate_oracle_gap(surrogate, oracle, target)
    np.testing.assert_allclose(gap.per_property, [-19.0, -19.0])
    assert gap.mean == pytest.approx(-19.0)


# --------------------------------------------------------------------------- nearest training


def test_nearest_training_distance_hand_computed():
    training = np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
    designs = np.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    euclid = nearest_training_distance(designs, training)
    assert euclid.shape == (1, 2)
    np.testing.assert_allclose(euclid, [[0.0, np.sqrt(0.5)]], atol=1e-7)
    l1 = nearest_training_distance(designs, training, metric="l1")
    np.testing.assert_allclose(l1, [[0.0, 1.0]])


def test_nearest_training_distance_chunks_match_brute_force():
    rng = np.random.default_rng(2)
    designs = rng.dirichlet(np.ones(6), size=(3, 70))
    training = rng.dirichlet(np.ones(6), size=40)
    diff = designs[..., None, :] - training
    for metric, brute in (
        ("euclidean", np.sqrt((diff**2).sum(-1)).min(-1)),
        ("l1", np.abs(diff).sum(-1).min(-1)),
    ):
        got = nearest_training_distance(designs, training, metric=metric, chunk_size=17)
        np.testing.assert_allclose(got, brute, atol=1e-7)


def test_nearest_training_distance_rejects_bad_input():
    with pytest.raises(ValueError, match="metric"):
        nearest_training_distance(np.ones((2, 3)), np.ones((2, 3)), metric="cosine")
    with pytest.raises(ValueError, match="training_compositions"):
        nearest_training_distance(np.ones((2, 3)), np.ones((2, 4)))

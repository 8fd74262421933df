"""The campaign's acquisition rules and batch spread, on hand-made numbers (no TensorFlow)."""

import itertools

import numpy as np
import pytest

from hea_zoo.campaign.acquisition import (
    expected_improvement,
    greedy_spread,
    hypervolume_2d,
    hypervolume_improvement,
)


def test_hypervolume_2d_against_a_hand_computed_value():
    # Front (4,1), (3,3), (1,4) above reference (0,0): strips 4*1 + 3*(3-1) + 1*(4-3) = 11.
    assert hypervolume_2d([[4, 1], [3, 3], [1, 4]], [0, 0]) == pytest.approx(11.0)
    # A dominated point and a point below the reference change nothing.
    assert hypervolume_2d([[4, 1], [3, 3], [1, 4], [2, 2], [-1, 9]], [0, 0]) == pytest.approx(11.0)
    # Reference (1, 0.5): 3*0.5 + 2*2 + 0*1 = 5.5.
    assert hypervolume_2d([[4, 1], [3, 3], [1, 4]], [1, 0.5]) == pytest.approx(5.5)
    assert hypervolume_2d(np.zeros((0, 2)), [0, 0]) == 0.0


def test_hypervolume_improvement_is_the_difference_of_hypervolumes():
    rng = np.random.default_rng(0)
    front = rng.random((6, 2)) * 5
    cands = rng.random((40, 2)) * 6
    ref = np.array([0.5, 0.2])
    got = hypervolume_improvement(cands, front, ref)
    want = [hypervolume_2d(np.vstack([front, c]), ref) - hypervolume_2d(front, ref) for c in cands]
    np.testing.assert_allclose(got, want, atol=1e-9)
    # A point the front dominates adds nothing; with an empty front, its box.
    assert hypervolume_improvement([[0.6, 0.3]], [[5, 5]], ref)[0] == 0.0
    assert hypervolume_improvement([[2.5, 1.2]], np.zeros((0, 2)), ref)[0] == pytest.approx(2.0)


def test_expected_improvement_matches_its_closed_form_limits():
    # sigma -> 0: max(mu - best, 0); mu = best: sigma / sqrt(2 pi).
    assert expected_improvement([3.0], [1e-9], 1.0)[0] == pytest.approx(2.0)
    assert expected_improvement([1.0], [1e-9], 3.0)[0] == pytest.approx(0.0, abs=1e-12)
    assert expected_improvement([1.0], [2.0], 1.0)[0] == pytest.approx(2.0 / np.sqrt(2 * np.pi), rel=1e-6)
    # Monotone in the mean and in the spread.
    ei = expected_improvement([0.0, 0.5, 1.0], [1.0, 1.0, 1.0], 1.0)
    assert np.all(np.diff(ei) > 0)
    assert expected_improvement([0.0], [2.0], 1.0)[0] > expected_improvement([0.0], [1.0], 1.0)[0]


def test_greedy_spread_does_not_take_variants_of_the_best_alloy():
    # Ten near-copies of one alloy score highest; three other alloys score lower.
    base = np.array([0.5, 0.5, 0.0, 0.0])
    variants = base + np.linspace(-0.02, 0.02, 10)[:, None] * np.array([1, -1, 0, 0])
    others = np.array([[0.0, 0.0, 0.5, 0.5], [0.5, 0.0, 0.5, 0.0], [0.0, 0.5, 0.0, 0.5]])
    x = np.vstack([variants, others])
    score = np.concatenate([np.linspace(1.0, 0.9, 10), [0.5, 0.4, 0.3]])
    picked = greedy_spread(score, x, 4, 0.1)
    assert picked.tolist() == [0, 10, 11, 12]
    for a, b in itertools.combinations(picked, 2):
        assert np.abs(x[a] - x[b]).sum() / 2 >= 0.1
    # Without the distance rule the batch is the ten variants' best four.
    assert greedy_spread(score, x, 4, 0.0).tolist() == [0, 1, 2, 3]
    # Fewer candidates than asked: all that remain.
    assert len(greedy_spread(score[:3], x[:3], 8, 0.1)) == 1


def test_greedy_spread_applies_the_believer_update():
    x = np.eye(3)
    calls = []

    def update(taken, score):
        calls.append(list(taken))
        out = score.copy()
        out[2] = 10.0  # after the first pick, the last row becomes the best
        return out

    picked = greedy_spread(np.array([3.0, 2.0, 1.0]), x, 2, 0.1, update)
    assert picked.tolist() == [0, 2] and calls == [[0]]

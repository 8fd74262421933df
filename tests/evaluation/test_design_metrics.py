"""The realism metrics of designs (hea_zoo.evaluation.metrics): element counts and their
Wasserstein-1 distance, trace share, alloy systems; hand-computed cases and SciPy."""

from __future__ import annotations

import numpy as np
import pytest

from hea_zoo.evaluation import metrics


def _rows(*fractions):
    return np.array(fractions, dtype=np.float64)


def test_element_counts_use_the_printed_threshold():
    x = _rows([0.5, 0.495, 0.005, 0.0], [0.25, 0.25, 0.25, 0.25], [1.0, 0.0, 0.0, 0.0], [0.9, 0.0979, 0.0021, 0.0])
    assert metrics.element_counts(x).tolist() == [3, 4, 1, 2]
    # a float32 copy of a printed 0.005 still counts
    assert metrics.element_counts(np.float32([[0.995, 0.005]])).tolist() == [2]
    assert metrics.element_counts(x, threshold=0.1).tolist() == [2, 4, 1, 1]
    assert metrics.element_counts(x.reshape(2, 2, 4)).shape == (2, 2)


def test_element_count_distance_is_wasserstein_1():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)

    def sample(n, counts):
        x = np.zeros((n, 10))
        for row, c in zip(x, counts):
            row[:c] = 1.0 / c
        return x

    a_counts, b_counts = rng.integers(3, 9, 400), rng.integers(4, 7, 300)
    a, b = sample(400, a_counts), sample(300, b_counts)
    expected = scipy_stats.wasserstein_distance(a_counts, b_counts)
    assert metrics.element_count_distance(a, b) == pytest.approx(expected, abs=1e-12)
    assert metrics.element_count_distance(a, a) == 0.0
    # one element more everywhere: distance 1
    assert metrics.element_count_distance(sample(5, [5] * 5), sample(5, [4] * 5)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least one composition"):
        metrics.element_count_distance(np.zeros((0, 10)), a)


def test_trace_share():
    x = _rows(
        [0.49, 0.49, 0.02, 0.0],  # a 2 at.% trace
        [0.25, 0.25, 0.25, 0.25],  # none
        [0.97, 0.03, 0.0, 0.0],  # 3 at.% is not a trace
        [0.996, 0.004, 0.0, 0.0],  # 0.4 at.% is dropped when printed: not present
        [0.5, 0.495, 0.005, 0.0],  # 0.5 at.% is present and a trace
    )
    assert metrics.trace_share(x) == pytest.approx(2 / 5)
    assert metrics.trace_share(x, high=0.05) == pytest.approx(3 / 5)
    with pytest.raises(ValueError, match="empty"):
        metrics.trace_share(np.zeros((0, 4)))


def test_alloy_systems_and_distinct_systems():
    elements = ["Hf", "Nb", "Ta", "Ti"]
    x = _rows([0.3, 0.3, 0.3, 0.1], [0.25, 0.25, 0.25, 0.25], [0.5, 0.47, 0.03, 0.0], [0.5, 0.45, 0.05, 0.0])
    assert metrics.alloy_systems(x, elements) == ["Hf-Nb-Ta-Ti", "Hf-Nb-Ta-Ti", "Hf-Nb", "Hf-Nb-Ta"]
    assert metrics.distinct_systems(x) == 3
    assert metrics.distinct_systems(x, top_n=2) == 1
    assert metrics.distinct_systems(x, min_fraction=0.2) == 3  # Hf-Nb-Ta, Hf-Nb-Ta-Ti, Hf-Nb
    with pytest.raises(ValueError, match="top_n"):
        metrics.distinct_systems(x, top_n=0)
    with pytest.raises(ValueError, match="name the 4 columns"):
        metrics.alloy_systems(x, elements[:3])


def test_systems_agree_with_the_design_engine():
    """The engine's system column (k >= 50 thousandths) is the metric's (>= 5 at.%)."""
    from hea_zoo.serving.design import SYSTEM_MIN_THOUSANDTHS, Designer
    from tests.support.design_exports import EXPORTED

    designer = Designer.from_exported("cae", EXPORTED)
    result = designer.design([60.0, 35.0], n=30, seed=0)
    x = np.stack([result.rows[e] for e in designer.elements], axis=1)
    assert metrics.alloy_systems(x, designer.elements, SYSTEM_MIN_THOUSANDTHS / 1000) == list(result.rows["system"])
    assert metrics.distinct_systems(x) == result.n_systems

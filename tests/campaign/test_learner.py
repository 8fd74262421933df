"""The campaign learner: a learner stays itself after later calls share its cached
trainer; distance-widened intervals."""

from __future__ import annotations

import numpy as np
import pytest

from hea_zoo.campaign.learner import train_campaign_model
from hea_zoo.data import oracle

ELEMENTS = ("Mo", "Nb", "Ta", "Ti", "V", "W", "Zr")
FAST = {"steps": 80}


def _table(seed: int, n: int = 30, elements=ELEMENTS):
    rng = np.random.default_rng(seed)
    x = rng.dirichlet(np.ones(len(elements)), size=n)
    return x, oracle.properties(x, elements)


@pytest.fixture(scope="module")
def table():
    return _table(0)


def test_a_learner_survives_a_later_call_of_the_same_shape(table):
    x, y = table
    first = train_campaign_model(x, y, ELEMENTS, ["G", "K"], seed=1, distance_intervals=True, **FAST)
    before = first.predict_interval(x)
    other_x, other_y = _table(9)
    train_campaign_model(other_x, other_y, ELEMENTS, ["G", "K"], seed=5, **FAST)  # the same cache
    after = first.predict_interval(x)
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)
    s = first.surrogate()
    for a, b in zip(after, s.predict_interval(x.astype(np.float32))):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3)
    assert s.distance_rows == len(x)


def test_distance_intervals_widen_from_the_measured_alloys(table):
    from hea_zoo.models import calibration

    x, y = table
    m = train_campaign_model(x, y, ELEMENTS, ["G", "K"], seed=2, distance_intervals=True, **FAST)
    p = m._interval
    assert p.distance_power is not None and np.all(p.distance_power >= 0) and np.all(p.distance_scale > 0)
    near = x[:3] * 0.98 + 0.02 / len(ELEMENTS)
    far = np.zeros((3, len(ELEMENTS)))
    far[:, [0, 5]] = [[0.5, 0.5], [0.7, 0.3], [0.4, 0.6]]  # Mo-W, far from random 7-element alloys
    q = np.concatenate([near, far])
    mean, lower, upper = m.predict_interval(q)
    _, std = m.predict_with_uncertainty(q)
    d = calibration.nearest_distances(q, x)
    assert d[3:].min() > d[:3].max()
    half = p.scale * (std + p.offset) ** p.power * (1 + d[:, None] / p.distance_scale) ** p.distance_power
    np.testing.assert_allclose(upper - mean, half, rtol=1e-6)  # (the kept rows are float32)
    s = m.surrogate()
    assert s.distance_rows == len(x)
    for a, b in zip((mean, lower, upper), s.predict_interval(q.astype(np.float32))):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3)
    plain = train_campaign_model(x, y, ELEMENTS, ["G", "K"], seed=2, **FAST)
    assert plain._interval.distance_power is None and plain.surrogate().distance_rows == 0


def test_an_unknown_learner_setting_is_a_usage_error_naming_the_learner(table):
    from hea_zoo.errors import UsageError

    x, y = table
    with pytest.raises(UsageError, match=r"unknown learner setting\(s\) \['layers'\]; valid: .*'steps'") as err:
        train_campaign_model(x, y, ELEMENTS, ["G", "K"], layers=3)
    assert err.value.field == "learner"

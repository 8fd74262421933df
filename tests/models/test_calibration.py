"""Calibrated intervals: the conformal maths on synthetic data, and the surrogate's
intervals (calibrate, predict_interval, save/load, held-out coverage) on short trainings."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pandas as pd
import pytest

from hea_zoo.data.datasets import load_dataset
from hea_zoo.models import Surrogate, train_default_surrogate
from hea_zoo.models import calibration


# ------------------------------------------------------------------------ the maths


def test_conformal_quantile_is_the_finite_sample_order_statistic():
    scores = np.arange(1.0, 20.0)  # 19 scores
    assert calibration.conformal_quantile(scores, 0.9) == 18.0  # ceil(20 * 0.9) = 18th
    assert calibration.conformal_quantile(scores, 0.5) == 10.0
    assert calibration.min_calibration_size(0.9) == 9 and calibration.min_calibration_size(0.8) == 4
    calibration.conformal_quantile(np.ones(9), 0.9)
    with pytest.raises(ValueError, match="needs at least 9 calibration alloys. Received: 8"):
        calibration.conformal_quantile(np.ones(8), 0.9)
    with pytest.raises(ValueError, match="^coverage: must be in"):
        calibration.conformal_quantile(np.ones(20), 1.0)


def _synthetic(n, rng, informative=True, power=1.0):
    """Ensemble outputs whose spread tracks the error (y = mean + 3 std**power noise) or does not."""
    mean = rng.uniform(50, 150, (n, 2))
    std = rng.uniform(0.5, 5.0, (n, 2))
    sigma = 3.0 * std**power if informative else np.full_like(std, 8.0)
    return mean + sigma * rng.standard_normal((n, 2)), mean, std


@pytest.mark.parametrize("informative", [True, False])
def test_normalized_intervals_cover_as_promised_and_adapt_to_the_spread(informative):
    rng = np.random.default_rng(0)
    params = calibration.fit_intervals(*_synthetic(1000, rng, informative), coverage=0.9)
    y, mean, std = _synthetic(20000, rng, informative)
    lower, upper = calibration.interval_bounds(mean, std, params)
    report = calibration.interval_report(y, lower, upper, std, ["a", "b"], 0.9)
    for name in ("a", "b"):
        assert 0.87 <= report[name]["coverage"] <= 0.93
        assert all(0.8 <= t <= 0.97 for t in report[name]["coverage_by_spread"]), report[name]
    width = upper - lower
    if informative:  # wider where the members disagree, at the rate the errors grow
        assert np.all(params.power > 1.0)  # (std + eps) ** b with b > 1 tracks an error ∝ std
        assert np.corrcoef(std[:, 0], width[:, 0])[0, 1] > 0.95
        assert np.mean(np.abs(y - mean) <= 2 * std) < 0.6  # the raw ± 2 std covers far less than 95 %
    else:  # a spread that says nothing about the error: about one width for all
        assert np.all(params.power < 0.3) and width[:, 0].max() < 1.5 * width[:, 0].min()


def _heteroscedastic(n, rng):
    """An ensemble whose error grows faster than its spread: noise sd 0.3 (std + 1) ** 1.5,
    std log-uniform over [0.1, 10] (median 1)."""
    mean = rng.uniform(50, 150, (n, 1))
    std = np.exp(rng.uniform(np.log(0.1), np.log(10.0), (n, 1)))
    return mean + 0.3 * (std + 1.0) ** 1.5 * rng.standard_normal((n, 1)), mean, std


def test_coverage_is_near_nominal_over_many_seeds_overall_and_by_spread_tercile():
    """85 calibration alloys (the bundled table's calibration split), 100 test alloys, 200
    seeds: the mean coverage sits at the conformal guarantee (>= 90 %, <= 90 % + 1/86), and
    each tercile of spread is covered, which one proportional scale (power 1) does not do."""
    coverage, terciles, plain_terciles, powers = [], [], [], []
    for seed in range(200):
        rng = np.random.default_rng(seed)
        y_cal, mean_cal, std_cal = _heteroscedastic(85, rng)
        params = calibration.fit_intervals(y_cal, mean_cal, std_cal, coverage=0.9)
        y, mean, std = _heteroscedastic(100, rng)
        r = calibration.interval_report(y, *calibration.interval_bounds(mean, std, params), std, ["p"], 0.9)["p"]
        coverage.append(r["coverage"])
        terciles.append(r["coverage_by_spread"])
        powers.append(params.power[0])
        # The same calibration with the width proportional to std + eps (power 1).
        plain_scale = calibration.conformal_quantile(np.abs(y_cal - mean_cal) / (std_cal + params.offset), 0.9)
        plain = calibration.IntervalParameters(plain_scale, params.offset, np.ones(1))
        bounds = calibration.interval_bounds(mean, std, plain)
        plain_terciles.append(calibration.interval_report(y, *bounds, std, ["p"], 0.9)["p"]["coverage_by_spread"])
    coverage, terciles, plain_terciles = np.array(coverage), np.array(terciles), np.array(plain_terciles)
    assert 0.89 <= coverage.mean() <= 0.92, coverage.mean()
    assert np.percentile(coverage, 5) >= 0.8 and np.percentile(coverage, 95) <= 0.98
    assert np.all((terciles.mean(axis=0) >= 0.86) & (terciles.mean(axis=0) <= 0.95)), terciles.mean(axis=0)
    assert plain_terciles.mean(axis=0)[0] > 0.97 and plain_terciles.mean(axis=0)[2] < 0.85, plain_terciles.mean(axis=0)
    assert 1.2 < np.median(powers) < 1.8  # the log-spread model finds the faster growth


def test_the_spread_exponent_is_shrunk_towards_one_on_few_rows():
    """20 rows: the fit is mostly noise and b stays nearer 1 than the data's own exponent."""
    rng = np.random.default_rng(3)
    few = [calibration.fit_intervals(*_heteroscedastic(20, rng)).power[0] for _ in range(50)]
    many = calibration.fit_intervals(*_heteroscedastic(2000, rng)).power[0]
    assert 1.0 < np.median(few) < many
    assert calibration.spread_power(np.ones(10), np.ones(10)) == 1.0  # a constant spread says nothing
    assert calibration.spread_power(np.exp(np.arange(10.0) * 5), np.exp(np.arange(10.0))) == 3.0  # clipped


def _far_errors(n, rng, growth_power=1.0, far_share=0.0):
    """Calibration-like rows whose error grows with the distance d to the training alloys as
    (1 + d / 0.1) ** growth_power at one spread; `far_share` of them far away (d 0.2-0.6)."""
    std = rng.uniform(0.5, 1.5, (n, 1))
    d = np.where(rng.random(n) < far_share, rng.uniform(0.2, 0.6, n), rng.uniform(0.0, 0.15, n))
    mean = rng.uniform(50, 150, (n, 1))
    sigma = 2.0 * std * (1.0 + d[:, None] / 0.1) ** growth_power
    return mean + sigma * rng.standard_normal((n, 1)), mean, std, d


def test_distance_power_recovers_how_fast_errors_grow_and_never_narrows():
    rng = np.random.default_rng(3)
    d = rng.uniform(0.0, 0.5, 4000)
    growth = 1.0 + d / 0.1
    noise = np.abs(rng.standard_normal(4000))
    assert abs(calibration.distance_power(noise * growth, growth) - 1.0) < 0.1
    assert calibration.distance_power(noise, growth) < 0.1  # errors that do not grow
    assert calibration.distance_power(noise / growth, growth) == 0.0  # that shrink: 0, not negative
    assert calibration.distance_power(noise * growth**5, growth) == calibration.DISTANCE_POWER_RANGE[1]
    assert calibration.distance_power(noise[:2] + 1, growth[:2]) == 0.0  # too few rows say nothing
    # few rows: shrunk towards 0
    few = [calibration.distance_power(np.abs(rng.standard_normal(12)) * g, g)
           for g in (1.0 + rng.uniform(0, 0.5, (40, 12)) / 0.1)]  # fmt: skip
    assert np.mean(few) < 0.9


def test_intervals_that_widen_with_distance_cover_far_alloys_too():
    """Fitted with distances, the interval holds near and far; without, far alloys fall out."""
    rng = np.random.default_rng(4)
    y, mean, std, d = _far_errors(600, rng, far_share=0.3)
    plain = calibration.fit_intervals(y, mean, std, 0.9)
    widening = calibration.fit_intervals(y, mean, std, 0.9, distance=d)
    assert plain.distance_power is None and 0.5 < widening.distance_power[0] <= 1.5
    np.testing.assert_allclose(widening.distance_scale, np.median(d))
    yt, mt, st, dt = _far_errors(20000, rng, far_share=0.5)
    near, far = dt < 0.15, dt >= 0.2
    inside_plain = np.ravel((yt >= calibration.interval_bounds(mt, st, plain)[0]) & (yt <= calibration.interval_bounds(mt, st, plain)[1]))
    lower, upper = calibration.interval_bounds(mt, st, widening, distance=dt)
    inside = np.ravel((yt >= lower) & (yt <= upper))
    assert inside_plain[far].mean() < 0.8  # one width for all: too narrow far away
    assert 0.85 <= inside[near].mean() <= 0.97 and 0.85 <= inside[far].mean() <= 0.97
    with pytest.raises(ValueError, match="pass `distance`"):
        calibration.interval_bounds(mt, st, widening)
    with pytest.raises(ValueError, match="one finite distance >= 0 per calibration row"):
        calibration.fit_intervals(y, mean, std, 0.9, distance=d[:-1])


def test_far_rows_set_how_fast_intervals_widen_not_their_scale():
    """A calibration split near the training alloys says little about growth; far rows (held
    out by cluster) fix the exponent, and the split alone sets the conformal scale."""
    rng = np.random.default_rng(5)
    y, mean, std, d = _far_errors(80, rng, far_share=0.0)  # near rows only
    far = _far_errors(400, rng, far_share=1.0)
    alone = calibration.fit_intervals(y, mean, std, 0.9, distance=d)
    helped = calibration.fit_intervals(y, mean, std, 0.9, distance=d, far=far)
    assert helped.distance_power[0] > alone.distance_power[0] + 0.2
    assert abs(helped.distance_power[0] - 1.0) < 0.3
    np.testing.assert_array_equal(helped.power, alone.power)  # the spread exponent: the split's
    growth = (1.0 + d[:, None] / helped.distance_scale) ** helped.distance_power
    scores = np.abs(y - mean) / ((std + helped.offset) ** helped.power * growth)
    np.testing.assert_allclose(helped.scale, calibration.conformal_quantile(scores, 0.9))  # split rows only
    with pytest.raises(ValueError, match="`far` rows need"):
        calibration.fit_intervals(y, mean, std, 0.9, far=far)


def test_composition_clusters_are_seeded_and_keep_equal_alloys_together():
    from hea_zoo.data.datasets import composition_clusters

    rng = np.random.default_rng(0)
    x = rng.dirichlet(np.ones(5), 200)
    x = np.concatenate([x, x[:10]])  # ten alloys twice
    c = composition_clusters(x, 4, seed=1)
    np.testing.assert_array_equal(c, composition_clusters(x, 4, seed=1))
    assert set(c.tolist()) == {0, 1, 2, 3}
    np.testing.assert_array_equal(c[:10], c[200:])
    # each alloy is nearer its own cluster's centre than any other's (a k-means fixed point)
    centres = np.stack([x[c == k].mean(0) for k in range(4)])
    assert np.mean(np.argmin(((x[:, None] - centres[None]) ** 2).sum(-1), axis=1) == c) > 0.97
    with pytest.raises(ValueError, match="Too few distinct alloys \\(2\\) for 3 clusters"):
        composition_clusters(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]), 3, seed=0)


def test_the_surrogate_measures_distance_as_numpy_does(surrogate, dataset):
    x = np.asarray(dataset.test.compositions, np.float64)
    rows = surrogate.distance_x.numpy().astype(np.float64)
    expected = np.sqrt(((x[:, None, :] - rows[None]) ** 2).sum(-1)).min(axis=1)
    np.testing.assert_allclose(surrogate.training_distance(x), expected, atol=2e-4)
    train = np.asarray(dataset.train.compositions, np.float64)
    assert surrogate.distance_rows == len(rows) < len(train)  # the fit split's alloys, not the calibration's
    assert np.all(surrogate.interval_distance_power.numpy() >= 0)


# ------------------------------------------------------------------- the surrogate


@pytest.fixture(scope="module")
def surrogate(dataset):
    return train_default_surrogate(dataset, epochs=30, seed=0)


def test_default_training_calibrates_on_held_out_groups(surrogate, dataset):
    assert surrogate.is_calibrated and surrogate.coverage == 0.9
    assert surrogate.calibration_folds == 0  # 423 training alloys: a held-out split
    assert surrogate.calibration_size == round(len(dataset.train_index) * calibration.CALIBRATION_FRACTION)
    mean, lower, upper = surrogate.predict_interval(dataset.test.compositions)
    assert mean.shape == lower.shape == upper.shape == (len(dataset.test_index), 2)
    assert np.all(lower <= mean) and np.all(mean <= upper) and np.all(lower >= 0)
    scores = surrogate.score(dataset.test.compositions, dataset.test.properties)
    for name in dataset.property_names:
        s = scores[name]
        # Split conformal holds whatever the fit: a 30-epoch model still covers about 90 %.
        assert 0.8 <= s["interval_coverage"] <= 1.0, s
        assert s["coverage"] == 0.9 and len(s["interval_coverage_by_spread"]) == 3
        assert s["interval_width"] > 0


def test_intervals_are_wider_where_the_ensemble_disagrees(surrogate, dataset):
    x = dataset.test.compositions
    mean, std = surrogate.predict_with_uncertainty(x)
    _, lower, upper = surrogate.predict_interval(x)
    half = upper - mean
    distance = surrogate.training_distance(x)[:, None]
    growth = (1.0 + distance / surrogate.interval_distance_scale.numpy()) ** surrogate.interval_distance_power.numpy()
    spread_part = half / growth  # the width at the distance of the training alloys
    for j in range(2):
        assert np.all(np.diff(spread_part[np.argsort(std[:, j]), j]) >= -1e-4)  # grows with the spread
        assert half[:, j].max() > 1.2 * half[:, j].min()  # and is not one constant width
    unclipped = lower > 0
    np.testing.assert_allclose((mean - lower)[unclipped], half[unclipped], rtol=1e-4)


def test_intervals_survive_save_and_load(surrogate, dataset, tmp_path):
    path = tmp_path / "s.keras"
    surrogate.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.calibration_size == surrogate.calibration_size and loaded.coverage == 0.9
    for a, b in zip(surrogate.predict_interval(dataset.test.compositions), loaded.predict_interval(dataset.test.compositions)):
        np.testing.assert_array_equal(a, b)


def test_calibrate_changes_the_coverage(surrogate, dataset, tmp_path):
    # An independent copy that is still "trained" (its optimizer's step count is saved).
    surrogate.save(tmp_path / "copy.keras")
    clone = keras.saving.load_model(tmp_path / "copy.keras")
    x, y = dataset.test.compositions, dataset.test.properties
    _, lo90, hi90 = clone.predict_interval(x)
    report = clone.calibrate(x[:60], y[:60], coverage=0.5)
    _, lo50, hi50 = clone.predict_interval(x)
    assert clone.coverage == 0.5 and clone.calibration_size == 60
    assert report["shear_modulus"]["coverage"] >= 0.5  # on its own calibration rows
    assert np.all(hi50 - lo50 < hi90 - lo90)


def test_uncalibrated_surrogate_says_so(dataset):
    model = Surrogate(n_members=2, hidden_units=(8,))
    with pytest.raises(ValueError, match="call `fit` first"):
        model.calibrate(dataset.test.compositions, dataset.test.properties)
    model.adapt(dataset.train.compositions, dataset.train.properties)
    model.compile()
    model.fit(dataset.train.compositions, dataset.train.properties, epochs=1, verbose=0)
    assert not model.is_calibrated
    with pytest.raises(ValueError, match="no calibrated intervals"):
        model.predict_interval(dataset.test.compositions)
    with pytest.raises(ValueError, match="needs at least 9 calibration alloys"):
        model.calibrate(dataset.test.compositions[:5], dataset.test.properties[:5])


def test_group_folds_keep_groups_whole_and_balanced():
    from hea_zoo.data.datasets import group_folds

    groups = np.repeat(np.arange(23), np.arange(1, 24) % 3 + 1)  # 23 groups of 1-3 rows
    fold = group_folds(groups, 5, seed=4)
    for g in range(23):
        assert len(set(fold[groups == g])) == 1  # a group never straddles two folds
    per_fold = [len(set(groups[fold == k])) for k in range(5)]
    assert sorted(per_fold) == [4, 4, 5, 5, 5]
    np.testing.assert_array_equal(fold, group_folds(groups, 5, seed=4))
    assert not np.array_equal(fold, group_folds(groups, 5, seed=5))
    with pytest.raises(ValueError, match="Too few distinct alloys \\(3\\) for 5 folds"):
        group_folds(np.array([0, 1, 2, 2]), 5, seed=0)
    with pytest.raises(ValueError, match="n_folds: must be an integer >= 2"):
        group_folds(groups, 1, seed=0)


@pytest.fixture(scope="module")
def small_table(dataset):
    """120 bundled alloys: 96 train (below CROSS_CONFORMAL_MAX_ALLOYS), 24 test."""
    frame = dataset.to_frame().iloc[:120][["composition", *dataset.property_names]]
    return load_dataset(frame.reset_index(drop=True), verbose=False)


def test_small_tables_calibrate_on_out_of_fold_predictions_of_every_alloy(small_table, monkeypatch):
    seen = {}
    fit_intervals = calibration.fit_intervals

    def spy(y, mean, std, coverage, distance=None, far=None):
        seen.update(y=y, mean=mean, std=std, distance=distance, parameters=fit_intervals(y, mean, std, coverage, distance))
        return seen["parameters"]

    monkeypatch.setattr(calibration, "fit_intervals", spy)
    model = train_default_surrogate(small_table, epochs=40, seed=0, verbose=0)
    train = small_table.train
    n = len(train)
    assert n < calibration.CROSS_CONFORMAL_MAX_ALLOYS
    assert model.is_calibrated and model.calibration_folds == calibration.CROSS_CONFORMAL_FOLDS
    assert model.calibration_size == n  # every training alloy calibrates ...
    np.testing.assert_allclose(seen["y"], train.properties, rtol=1e-6)
    # ... and the kept ensemble trained on all of them: 40 passes of ceil(n / 32) steps,
    # in whole executions of 16 steps.
    assert int(model.optimizer.iterations.numpy()) == 16 * int(np.ceil(40 * np.ceil(n / 32) / 16))
    # The scores are out of fold: those ensembles never saw the alloy they predict, so they
    # err more on it than the kept ensemble, which trained on it.
    in_sample = np.abs(model.predict(train.compositions, verbose=0) - train.properties)
    out_of_fold = np.abs(seen["mean"] - train.properties)
    assert np.all(out_of_fold.mean(axis=0) > 1.2 * in_sample.mean(axis=0))
    # Spreads in units of each ensemble's median spread on its own training alloys: the
    # kept ensemble's interval is the fitted one with its own unit put back in.
    own = model.predict_with_uncertainty(train.compositions)[1]
    unit = np.median(own, axis=0)
    assert np.all(np.median(seen["std"], axis=0) > 1.0)  # out of fold: wider than on their own rows
    x = small_table.test.compositions
    mean, std = model.predict_with_uncertainty(x)
    _, lower, upper = model.predict_interval(x)
    scale, offset, power, d_scale, d_power = seen["parameters"]
    # Each alloy's distance is to the alloys of the other folds (the fold ensemble's
    # training alloys); the kept model measures from every training alloy.
    from hea_zoo.data.datasets import group_folds

    groups = np.arange(n) if train.groups is None else np.asarray(train.groups)
    fold = group_folds(groups, calibration.CROSS_CONFORMAL_FOLDS, 1)
    c = np.asarray(train.compositions, np.float64)
    for i in (0, n // 2, n - 1):
        others = c[fold != fold[i]]
        np.testing.assert_allclose(seen["distance"][i], np.sqrt(((others - c[i]) ** 2).sum(1)).min(), rtol=1e-6, atol=1e-7)
    assert model.distance_rows == len(np.unique(c, axis=0))
    growth = (1.0 + model.training_distance(x)[:, None] / d_scale) ** d_power
    np.testing.assert_allclose(upper - mean, scale * (std / unit + offset) ** power * growth, rtol=2e-3)
    # The interval is wider where the members disagree (at one distance).
    order = np.argsort(std[:, 0])
    assert np.all(np.diff(((upper - mean) / growth)[order, 0]) >= -1e-4)


def test_parameters_in_units_give_the_same_interval():
    rng = np.random.default_rng(0)
    y, mean, std = _synthetic(300, rng)
    unit = np.array([2.5, 0.4])
    relative = calibration.fit_intervals(y, mean, std / unit)
    raw = calibration.in_units_of(relative, unit)
    np.testing.assert_allclose(
        calibration.interval_bounds(mean, std, raw)[1], calibration.interval_bounds(mean, std / unit, relative)[1], rtol=1e-12
    )


def test_the_calibration_scheme_can_be_chosen(small_table, tmp_path):
    split = train_default_surrogate(small_table, epochs=2, seed=0, verbose=0, calibration_folds=0)
    assert split.calibration_folds == 0
    assert split.calibration_size == round(len(small_table.train) * calibration.CALIBRATION_FRACTION)
    folds = train_default_surrogate(small_table, epochs=2, seed=0, verbose=0, calibration_folds=2)  # not the default 5
    assert folds.calibration_folds == 2 and folds.calibration_size == len(small_table.train)
    folds.save(tmp_path / "folds.keras")
    loaded = keras.saving.load_model(tmp_path / "folds.keras")
    assert loaded.calibration_folds == 2 and loaded.calibration_size == folds.calibration_size
    with pytest.raises(ValueError, match="^calibration_folds: must be 0 \\(a calibration split\\) or >= 2"):
        train_default_surrogate(small_table, epochs=1, calibration_folds=1)
    with pytest.raises(ValueError, match="^calibration_folds: must be a nonnegative integer"):
        train_default_surrogate(small_table, epochs=1, calibration_folds=-2)


def test_too_small_a_table_trains_uncalibrated_with_a_warning():
    """24 alloys train (the minimum is 20) but cannot calibrate a 99 % interval (99 are needed)."""
    formulas = [f"Nb{i + 1}Ta{24 - i}Ti5" for i in range(24)]  # 24 distinct alloys
    frame = pd.DataFrame({"composition": formulas, "h": np.arange(1.0, 25.0)})
    ds = load_dataset(frame, test_fraction=0.0)
    with pytest.warns(UserWarning, match="not calibrated"):
        model = train_default_surrogate(ds, epochs=2, coverage=0.99)
    assert not model.is_calibrated and model.is_trained
    small = load_dataset(frame.iloc[:8], test_fraction=0.0)
    with pytest.raises(ValueError, match="at least 20 are needed to train"):
        train_default_surrogate(small, epochs=2)


def test_negative_properties_train_and_only_the_log_transform_refuses_them():
    rng = np.random.default_rng(0)
    symbols = ["Nb", "Ta", "Ti", "Zr", "Mo"]
    x = rng.dirichlet(np.ones(5), 60)
    formulas = ["".join(f"{s}{v:.3f}" for s, v in zip(symbols, row)) for row in x]
    dh = x @ np.array([-10.0, 5.0, -3.0, 8.0, -1.0])  # a formation enthalpy, both signs
    ds = load_dataset(pd.DataFrame({"composition": formulas, "dH": dh}), verbose=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no "not calibrated" warning
        model = train_default_surrogate(ds, epochs=3, calibration_folds=2)  # 3 trainings, not the default 6
    assert not model.log_targets and model.is_calibrated
    mean, lower, upper = model.predict_interval(ds.test.compositions)
    assert np.any(lower < 0)  # no clipping at zero without the log transform
    with pytest.raises(ValueError, match=r"learns log\(property\) \(log_targets=True\), a transform that needs positive values"):
        Surrogate(elements=ds.elements, property_names=["dH"], property_units=[""], log_targets=True).adapt(
            ds.train.compositions, ds.train.properties
        )


def test_generators_accept_negative_conditions_when_the_data_has_them():
    from hea_zoo.models import CVAE

    rng = np.random.default_rng(1)
    x = rng.dirichlet(np.ones(4), 64).astype(np.float32)
    c = np.stack([x @ [-10.0, 5.0, -3.0, 8.0], x @ [100.0, 200.0, 300.0, 400.0]], axis=1).astype(np.float32)
    model = CVAE(elements=["Nb", "Ta", "Ti", "Zr"], condition_names=["dH", "ys"], condition_units=["", "MPa"], seed=0)
    with pytest.warns(UserWarning, match="not been trained"):
        model.generate([[-4.0, -5.0]], n_per_condition=1, seed=0)  # before adapt: no sign rule
    model.adapt(x, c)  # negative training conditions are data, not an error
    model.compile()
    model.fit(x, c, epochs=1, verbose=0)
    designs = model.generate([[-4.0, 250.0]], n_per_condition=3, seed=0)
    assert designs.shape == (1, 3, 4)
    with pytest.raises(ValueError, match="ys=-5.0 MPa .*the training data's ys is never negative"):
        model.generate([[-4.0, -5.0]], n_per_condition=3, seed=0)


def _older_file(model, path, drop: list[str], config_keys: tuple[str, ...] = ()):
    """`model` (without descriptors) saved to `path` as an older hea_zoo wrote it: layout 2
    (no `descriptors` in its config), weights `drop` and config keys removed."""
    import io
    import json
    import zipfile

    import h5py

    model.save(path.with_suffix(".new.keras"))
    with zipfile.ZipFile(path.with_suffix(".new.keras")) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    weights = io.BytesIO(files["model.weights.h5"])
    with h5py.File(weights, "r+") as h5:
        # target mean, std; interval scale, offset, power
        assert sorted(h5["vars"].keys()) == ["0", "1", "2", "3", "4"]
        for key in drop:
            del h5["vars"][key]
    files["model.weights.h5"] = weights.getvalue()
    config = json.loads(files["config.json"])
    assert config["config"].pop("descriptors") == []
    config["config"]["model_version"] = "2"
    for key in config_keys:
        config["config"].pop(key)
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return keras.saving.load_model(path)


def test_a_surrogate_file_saved_before_the_intervals_loads_uncalibrated(dataset, tmp_path):
    """A layout-2 file without interval weights (saved before they existed) loads with its
    target statistics and predictions, uncalibrated."""
    model = Surrogate(n_members=2, hidden_units=(8,), descriptors=())
    model.adapt(dataset.train.compositions, dataset.train.properties)
    model.compile()
    model.fit(dataset.train.compositions, dataset.train.properties, epochs=1, verbose=0)
    loaded = _older_file(model, tmp_path / "old.keras", ["2", "3", "4"], ("coverage", "calibration_size"))
    assert loaded.is_trained and loaded.is_adapted and not loaded.is_calibrated
    np.testing.assert_array_equal(loaded.target_std.numpy(), model.target_std.numpy())
    for a, b in zip(model.predict_with_uncertainty(dataset.test.compositions),
                    loaded.predict_with_uncertainty(dataset.test.compositions)):  # fmt: skip
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="no calibrated intervals"):
        loaded.predict_interval(dataset.test.compositions)


def test_a_surrogate_file_saved_before_the_spread_exponent_keeps_its_intervals(dataset, tmp_path):
    """A calibrated file without `interval_power` (hea_zoo before the fitted exponent) loads
    with power 1: its intervals are the ``mean ± scale * (std + offset)`` it was saved with."""
    surrogate = train_default_surrogate(dataset, epochs=10, seed=0, verbose=0, descriptors=(), distance_intervals=False)
    from hea_zoo.serving.export import model_metadata

    # its export says the intervals do not widen with distance (the graph has no distance term)
    assert model_metadata(surrogate, "s", 1)["interval_method"] == calibration.SPREAD_INTERVAL_METHOD
    assert surrogate.distance_rows == 0
    loaded = _older_file(surrogate, tmp_path / "old.keras", ["4"])
    assert loaded.descriptors == () and loaded.model_version == "3"
    assert loaded.is_calibrated and loaded.calibration_size == surrogate.calibration_size
    np.testing.assert_array_equal(loaded.interval_power.numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(loaded.interval_scale.numpy(), surrogate.interval_scale.numpy())
    x = dataset.test.compositions
    mean, std = loaded.predict_with_uncertainty(x)
    _, lower, upper = loaded.predict_interval(x)
    half = loaded.interval_scale.numpy() * (std + loaded.interval_offset.numpy())
    np.testing.assert_allclose(upper, mean + half, rtol=1e-5)

"""Tests for hea_zoo.evaluation.experiments with fake generator, surrogate and dataset."""

import json

import numpy as np
import pytest

import hea_zoo
from hea_zoo.evaluation import experiments, metrics
from hea_zoo.data import oracle as oracle_module
from hea_zoo.data.elements import ELEMENTS as ELEMENTS_22
from hea_zoo.evaluation.experiments import (
    evaluate_generator,
    grid_conditions,
    line_conditions,
    novelty_conditions,
    oracle_for,
    run_interpolation,
    run_line,
    run_novelty,
    run_samples,
    sample_conditions,
)
from tests.support.evaluation_fakes import ELEMENTS, FakeGenerator, FakeSurrogate, make_dataset, oracle


@pytest.fixture(scope="module")
def dataset():
    return make_dataset()


def _percentiles(dataset, q):
    return np.percentile(dataset.train.properties, q, axis=0)


# --------------------------------------------------------------------------- conditions


def test_line_conditions_shape_range_order(dataset):
    line = line_conditions(dataset)
    assert line.shape == (20, 2)
    assert line.dtype == np.float32
    q5, q95 = _percentiles(dataset, 5), _percentiles(dataset, 95)
    np.testing.assert_allclose(line[0], q5, rtol=1e-6)
    np.testing.assert_allclose(line[-1], q95, rtol=1e-6)
    assert np.all(line >= q5 - 1e-4) and np.all(line <= q95 + 1e-4)
    assert np.all(np.diff(line, axis=0) > 0)  # strictly increasing in both properties
    steps = np.diff(line, axis=0)
    np.testing.assert_allclose(steps, np.broadcast_to(steps[0], steps.shape), rtol=1e-4)


def test_grid_conditions_shape_range_order(dataset):
    grid = grid_conditions(dataset)
    assert grid.shape == (25, 2)
    q10, q90 = _percentiles(dataset, 10), _percentiles(dataset, 90)
    assert np.all(grid >= q10 - 1e-4) and np.all(grid <= q90 + 1e-4)
    for p in range(2):
        values = np.unique(grid[:, p])
        assert values.size == 5
        np.testing.assert_allclose([values[0], values[-1]], [q10[p], q90[p]], rtol=1e-6)
    # C order: the first property varies slowest, the second fastest.
    by_g = grid.reshape(5, 5, 2)
    assert np.all(by_g[:, :, 0] == by_g[:, :1, 0])
    assert np.all(np.diff(by_g[:, 0, 0]) > 0) and np.all(np.diff(by_g[0, :, 1]) > 0)


def test_conditions_reject_bad_counts(dataset):
    with pytest.raises(ValueError, match="n"):
        line_conditions(dataset, n=1)
    with pytest.raises(ValueError, match="n"):
        grid_conditions(dataset, n=2.5)


def test_novelty_conditions_seeded_subset_of_train(dataset):
    chosen = novelty_conditions(dataset, n=10, seed=3)
    assert chosen.indices.shape == (10,)
    assert np.unique(chosen.indices).size == 10
    assert set(chosen.indices) <= set(dataset.train_index)
    np.testing.assert_array_equal(chosen.conditions, dataset.properties[chosen.indices])
    np.testing.assert_array_equal(chosen.compositions, dataset.compositions[chosen.indices])
    again = novelty_conditions(dataset, n=10, seed=3)
    np.testing.assert_array_equal(chosen.indices, again.indices)
    other = novelty_conditions(dataset, n=10, seed=4)
    assert not np.array_equal(chosen.indices, other.indices)
    # More than the train split: capped.
    assert novelty_conditions(dataset, n=100).indices.size == dataset.train_index.size


def test_sample_conditions_low_high(dataset):
    low_high = sample_conditions(dataset)
    assert low_high.shape == (2, 2)
    np.testing.assert_allclose(low_high[0], _percentiles(dataset, 10), rtol=1e-6)
    assert np.all(low_high[1] > low_high[0])


def test_oracle_for(dataset):
    assert oracle_for(dataset, "auto") is None  # six elements: not the study's
    assert oracle_for(dataset, None) is None
    assert oracle_for(dataset, oracle) is oracle
    with pytest.raises(ValueError, match="oracle"):
        oracle_for(dataset, "ground-truth")


def test_oracle_applies_to_the_bundled_table_not_to_its_names(dataset):
    bundled = hea_zoo.load_dataset()
    assert oracle_for(bundled, "auto") is oracle_module.properties
    assert oracle_for(bundled.train, "auto") is oracle_module.properties  # splits keep the origin
    # A user's measured table with the study's 22 elements and property names is not oracle data.
    frame = bundled.to_frame()[["composition", "shear_modulus", "fracture_toughness"]].copy()
    frame["shear_modulus"] *= 1.01
    measured = hea_zoo.load_dataset(frame, elements=bundled.elements)
    assert measured.property_names == bundled.property_names and measured.elements == bundled.elements
    assert oracle_for(measured, "auto") is None
    study = dataset.__class__(**{**dataset.__dict__, "elements": ELEMENTS_22})
    assert oracle_for(study, "auto") is None


# --------------------------------------------------------------------------- runs


def test_run_line_shapes_and_judges(dataset):
    model = FakeGenerator(dataset, noise=0.2)
    run = run_line(model, dataset, FakeSurrogate(), oracle=oracle, n_per_condition=7, seed=5)
    assert run.designs.shape == (20, 7, len(ELEMENTS))
    assert run.surrogate_properties.shape == (20, 7, 2)
    assert run.surrogate_std.shape == (20, 7, 2)
    np.testing.assert_allclose(run.oracle_properties, 1.1 * run.surrogate_properties, rtol=1e-5)
    assert model.calls[-1] == ((20, 2), 7, 5)
    no_oracle = run_line(model, dataset, FakeSurrogate(), n_per_condition=3)
    assert no_oracle.oracle_properties is None


def test_run_rejects_wrong_generate_shape(dataset):
    class Broken(FakeGenerator):
        def generate(self, conditions, n_per_condition, seed=None):
            return np.ones((n_per_condition, len(ELEMENTS)))

    with pytest.raises(ValueError, match="generate"):
        run_line(Broken(dataset), dataset, FakeSurrogate(), n_per_condition=4)


def test_run_novelty_copying_generator_is_not_novel(dataset):
    # A generator that returns the very alloy whose properties were asked for.
    run = run_novelty(FakeGenerator(dataset), dataset, FakeSurrogate(), n_per_condition=4, n=8)
    assert run.reference.shape == (8, len(ELEMENTS))
    assert metrics.novelty(run.designs, run.reference).mean == pytest.approx(1.0, abs=1e-6)


def test_run_samples(dataset):
    samples = run_samples(FakeGenerator(dataset, noise=0.3), dataset, FakeSurrogate(), n_per_condition=5)
    assert samples.designs.shape == (2, 5, len(ELEMENTS))
    assert samples.oracle_properties is None


def test_run_interpolation_follows_latent_path(dataset):
    model = FakeGenerator(dataset)
    run = run_interpolation(model, dataset, FakeSurrogate(), n_steps=6, seed=2)
    assert run.t.tolist() == pytest.approx(np.linspace(0, 1, 6).tolist())
    assert run.designs.shape == (6, len(ELEMENTS))
    np.testing.assert_allclose(run.designs[0], model.decode(run.z0[None], run.condition[None])[0])
    np.testing.assert_allclose(run.designs[-1], model.decode(run.z1[None], run.condition[None])[0])
    np.testing.assert_allclose(run.condition, np.median(dataset.train.properties, axis=0), rtol=1e-6)
    # The first element's share moves monotonically with z[:, 0] along the path.
    assert np.all(np.diff(run.designs[:, 0]) * np.sign(run.z1[0] - run.z0[0]) >= -1e-7)


# --------------------------------------------------------------------------- evaluation


def test_evaluate_collapsed_generator(dataset):
    model = FakeGenerator(dataset, noise=0.0)
    result = evaluate_generator(
        model, dataset, FakeSurrogate(), n_per_condition=5, n_novelty=10, name="copycat"
    )
    assert result.name == "copycat"
    assert not result.oracle_used
    line = result.line
    assert line.n_conditions == 20 and line.n_per_condition == 5
    # Every sample of a condition is the same alloy: cosine similarity 1, few unique rows.
    np.testing.assert_allclose(line.cosine_similarity_per_condition, 1.0, atol=1e-9)
    assert line.uniqueness <= 20 / 100
    assert line.validity == 1.0
    # Copies of training alloys: no distance to the training set.
    assert line.nearest_training["euclidean_mean"] == pytest.approx(0.0, abs=1e-6)
    assert line.nearest_training["copy_rate"] == 1.0
    assert result.novelty.novelty == pytest.approx(1.0, abs=1e-6)
    # MAPE equals the hand computation from the raw arrays.
    run = result.runs["line"]
    expected = np.abs(run.surrogate_properties - run.conditions[:, None]) / run.conditions[:, None]
    assert line.mape_surrogate["mean"] == pytest.approx(100 * expected.mean())
    assert line.mape_surrogate["shear_modulus"] == pytest.approx(100 * expected[..., 0].mean())
    assert line.mape_oracle is None and line.hit_rate_oracle is None
    assert line.surrogate_oracle_gap is None
    assert set(line.hit_rate_surrogate) == {"5%", "10%"}
    assert line.hit_rate_surrogate["5%"] <= line.hit_rate_surrogate["10%"]
    assert result.grid.n_conditions == 25
    assert result.samples.designs.shape == (2, 10, len(ELEMENTS))
    assert result.interpolation.designs.shape == (11, len(ELEMENTS))


def test_evaluate_with_oracle_and_gap(dataset):
    result = evaluate_generator(
        FakeGenerator(dataset, noise=0.3), dataset, FakeSurrogate(), oracle=oracle,
        n_per_condition=6, n_novelty=5,
    )  # fmt: skip
    assert result.oracle_used
    line = result.line
    run = result.runs["line"]
    gap = metrics.mape(run.surrogate_properties, run.conditions).mean - metrics.mape(
        run.oracle_properties, run.conditions
    ).mean
    assert line.surrogate_oracle_gap["mean"] == pytest.approx(gap)
    assert line.mape_per_condition_oracle.shape == (20, 2)
    assert 0.0 < line.cosine_similarity < 1.0
    assert line.uniqueness == 1.0


def test_evaluate_is_seeded_and_serializable(dataset):
    def evaluate(seed):
        model = FakeGenerator(dataset, noise=0.5)
        return evaluate_generator(
            model, dataset, FakeSurrogate(), oracle=oracle, n_per_condition=4, n_novelty=6,
            seed=seed,
        ).to_dict()  # fmt: skip

    first, second, other = evaluate(0), evaluate(0), evaluate(1)
    assert json.dumps(first) == json.dumps(second)
    assert json.dumps(first) != json.dumps(other)
    text = json.dumps(first, allow_nan=False)
    back = json.loads(text)
    assert back["summary"]["mape_oracle"] == pytest.approx(first["line"]["mape_oracle"]["mean"])
    assert len(back["line"]["conditions"]) == 20
    assert back["elements"] == list(ELEMENTS)


def test_oracle_rejected_rows_become_nan_not_errors(dataset):
    def strict_oracle(compositions):
        x = np.asarray(compositions)
        if np.any(x[:, 0] > 0.5):
            raise ValueError("too much Hf")
        return oracle(x)

    class HalfBad(FakeGenerator):
        def generate(self, conditions, n_per_condition, seed=None):
            out = super().generate(conditions, n_per_condition, seed)
            out[:, 0] = np.eye(len(ELEMENTS))[0]
            return out

    run = run_line(HalfBad(dataset, noise=0.1), dataset, FakeSurrogate(), strict_oracle, 4, n=3)
    assert np.all(np.isnan(run.oracle_properties[:, 0]))
    assert np.all(np.isfinite(run.oracle_properties[:, 1:]))
    good = metrics.mape(run.oracle_properties[:, 1:], run.conditions)
    assert metrics.mape(run.oracle_properties, run.conditions).mean == pytest.approx(good.mean)


def test_bundled_dataset_conditions_and_oracle():
    data = hea_zoo.load_dataset()
    line = line_conditions(data)
    np.testing.assert_allclose(line[[0, -1]], data.percentile([5, 95]), rtol=1e-5)
    grid = grid_conditions(data)
    lo, hi = data.percentile([10, 90])
    assert np.all(grid >= lo - 1e-3) and np.all(grid <= hi + 1e-3)
    chosen = novelty_conditions(data, seed=0)
    assert chosen.indices.size == 100 and set(chosen.indices) <= set(data.train_index)
    # The oracle reproduces the bundled labels, so copying the reference alloy is exact.
    np.testing.assert_allclose(
        oracle_module.properties(chosen.compositions), chosen.conditions, rtol=1e-4
    )


def test_invalid_rows_are_left_to_validity(dataset):
    class StrictSurrogate(FakeSurrogate):
        def predict_with_uncertainty(self, compositions):
            if not np.all(metrics.valid_mask(compositions, atol=1e-3)):
                raise ValueError("compositions must sum to 1")
            return super().predict_with_uncertainty(compositions)

    class Sloppy(FakeGenerator):
        def generate(self, conditions, n_per_condition, seed=None):
            out = super().generate(conditions, n_per_condition, seed)
            out[:, 0] *= 2.0  # the first design of every condition sums to 2
            return out

    run = run_line(Sloppy(dataset, noise=0.2), dataset, StrictSurrogate(), n_per_condition=4, n=5)
    assert np.all(np.isnan(run.surrogate_properties[:, 0]))
    assert np.all(np.isfinite(run.surrogate_properties[:, 1:]))
    result = experiments.compute_run_metrics(run, dataset.property_names)
    assert result.validity == pytest.approx(0.75)
    assert np.isfinite(result.mape_surrogate["mean"])

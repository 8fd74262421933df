"""The step budget of the default trainings: cost bounded by steps, not by the table's size."""

import gc

import keras
import numpy as np
import pytest

from hea_zoo.models import Surrogate, TrainingBudget, fit_with_budget
from hea_zoo.models.training import HeldOutLosses
from hea_zoo.models.defaults import DEFAULT_HYPERPARAMETERS
from hea_zoo.models import SURROGATE_DEFAULTS


def test_batch_grows_with_the_square_root_of_the_table_up_to_a_cap():
    budget = TrainingBudget(max_batch_size=256)
    assert [budget.batch_size(n, 32) for n in (423, 1000, 4000, 7200, 72000, 10**7)] == [
        32, 32, 64, 64, 256, 256,
    ]  # fmt: skip
    assert budget.batch_size(100, 512) == 512  # never below the model's own batch


def test_epochs_are_capped_by_the_step_budget():
    budget = TrainingBudget(max_steps=6000)
    assert budget.epochs(423, 32, 400) == 400  # 14 steps an epoch: all 400 epochs
    assert budget.epochs(72000, 256, 400) == 21  # 282 steps an epoch
    assert budget.epochs(10**7, 256, 400) == 1  # at least one epoch


def test_large_step_cap_grows_with_the_table_from_half():
    budget = TrainingBudget(large_max_steps=2000, large_steps_rows=32000)
    # 8000 rows at batch 128: 63 steps an epoch; sqrt(8000 / 32000) = 0.5 of 2000 steps
    assert budget.epochs(8000, 128, 400, large=True) == 1000 // 63
    assert budget.epochs(3000, 64, 400, large=True) == 1000 // 47  # floor: half the cap
    assert budget.epochs(18000, 256, 400, large=True) == 1500 // 71  # sqrt(0.5625) = 0.75
    assert budget.epochs(72000, 512, 400, large=True) == 2000 // 141  # all of the cap
    assert budget.epochs(8000, 128, 400, large=False) == 6000 // 63  # not large: max_steps
    with pytest.raises(ValueError, match="large_steps_rows"):
        TrainingBudget(large_steps_rows=0)


def test_the_bundled_table_keeps_the_measured_defaults():
    """423 training rows: the base batch, every epoch, no validation split."""
    for spec in (*DEFAULT_HYPERPARAMETERS.values(), SURROGATE_DEFAULTS):
        budget = spec["budget"]
        assert budget.batch_size(423, spec["batch_size"]) == spec["batch_size"]
        steps = spec["epochs"] * int(np.ceil(423 / spec["batch_size"]))
        assert steps <= budget.max_steps
        assert budget.stream_rows < 423 <= budget.early_stopping_rows  # the arrays path, as measured


def test_budget_errors():
    with pytest.raises(ValueError, match="max_steps.*Received: max_steps=0"):
        TrainingBudget(max_steps=0)
    with pytest.raises(ValueError, match="validation_fraction"):
        TrainingBudget(validation_fraction=0.7)


def test_large_tables_hold_out_rows_and_stop_early(dataset):
    """More rows than `early_stopping_rows`: a seeded validation split, early stopping with
    the best weights restored, and at most `max_steps` optimizer steps."""
    rng = np.random.default_rng(0)
    rows = rng.integers(0, len(dataset.train), 2400)
    x, y = dataset.train.compositions[rows], dataset.train.properties[rows]
    model = Surrogate(n_members=2, hidden_units=(16,), seed=0)
    model.adapt(x, y)
    model.compile()
    budget = TrainingBudget(max_steps=300, early_stopping_rows=2000, patience=2)
    history = fit_with_budget(model, x, y, epochs=1000, batch_size=32, budget=budget)
    plan = model.training_plan
    assert (plan["batch_size"], plan["max_epochs"], plan["validation_rows"]) == (32, 4, 240)
    assert "val_loss" in history.history and len(history.history["loss"]) <= 4
    assert int(model.optimizer.iterations.numpy()) <= 300
    with pytest.raises(ValueError, match="epochs.*Received: epochs=0"):
        fit_with_budget(model, x, y, epochs=0, batch_size=32, budget=budget)


def test_large_tables_take_their_own_step_cap_and_a_scaled_learning_rate(dataset):
    rng = np.random.default_rng(2)
    rows = rng.integers(0, len(dataset.train), 2400)
    x, y = dataset.train.compositions[rows], dataset.train.properties[rows]
    model = Surrogate(n_members=2, hidden_units=(16,), seed=0)
    model.adapt(x, y)
    model.compile(keras.optimizers.Adam(1e-3))
    budget = TrainingBudget(max_steps=10**6, large_max_steps=40, reference_rows=250,
                            max_batch_size=512, early_stopping_rows=2000)  # fmt: skip
    fit_with_budget(model, x, y, epochs=1000, batch_size=32, budget=budget)
    # 2,160 training rows: 32 * sqrt(2160 / 250) = 94 -> a batch of 64, 34 steps an epoch.
    assert model.training_plan["batch_size"] == 64
    assert model.training_plan["learning_rate"] == pytest.approx(1e-3 * np.sqrt(2), rel=1e-6)
    assert int(model.optimizer.iterations.numpy()) == 34  # one epoch fits in 40 steps
    assert TrainingBudget(large_max_steps=40).epochs(2160, 64, 1000, large=False) == 6000 // 34


def test_early_stopping_restores_the_best_weights(dataset):
    rng = np.random.default_rng(1)
    rows = rng.integers(0, len(dataset.train), 2400)
    x, y = dataset.train.compositions[rows], dataset.train.properties[rows]
    model = Surrogate(n_members=1, hidden_units=(16,), seed=0)  # unstable
    model.adapt(x, y)
    model.compile(keras.optimizers.Adam(0.5))
    budget = TrainingBudget(max_steps=10**6, early_stopping_rows=2000, patience=1)
    history = fit_with_budget(model, x, y, epochs=30, batch_size=32, budget=budget, seed=3)
    val = history.history["val_loss"]
    assert len(val) < 30  # stopped early
    held = np.sort(np.random.default_rng(3).permutation(len(x))[:240])  # the seeded split
    logs = model.evaluate(x[held], y[held], batch_size=240, verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(np.nanmin(val), rel=1e-5)


def test_large_tables_stream_each_row_once_an_epoch_within_the_step_cap(dataset):
    """The large-table pipeline: every row once per epoch in a seeded order, batches of the
    planned size, and epochs of whole compiled executions, so the step cap holds."""
    from hea_zoo.models.training import _shuffled_batches

    x = np.arange(10, dtype=np.float32).reshape(5, 2)
    y = np.arange(5, dtype=np.float32)[:, None]
    batches = [b for b in _shuffled_batches(x, y, 2, seed=0).take(6)]
    assert [len(bx) for bx, _ in batches] == [2, 2, 1, 2, 2, 1]
    for epoch in (batches[:3], batches[3:]):
        rows = np.concatenate([by.numpy()[:, 0] for _, by in epoch])
        assert sorted(rows) == [0, 1, 2, 3, 4]
        np.testing.assert_array_equal(np.concatenate([bx.numpy() for bx, _ in epoch])[:, 0], 2 * rows)
    first = np.concatenate([by.numpy()[:, 0] for _, by in batches[:3]])
    again = np.concatenate([by.numpy()[:, 0] for _, by in _shuffled_batches(x, y, 2, seed=0).take(3)])
    np.testing.assert_array_equal(first, again)  # seeded

    rng = np.random.default_rng(2)
    rows = rng.integers(0, len(dataset.train), 2400)
    xs, ys = dataset.train.compositions[rows], dataset.train.properties[rows]
    model = Surrogate(n_members=2, hidden_units=(16,), seed=0)
    model.adapt(xs, ys)
    model.compile(steps_per_execution=16)
    budget = TrainingBudget(max_steps=10**6, large_max_steps=100, early_stopping_rows=2000, max_batch_size=64,
                            reference_rows=250)  # fmt: skip
    fit_with_budget(model, xs, ys, epochs=1000, batch_size=32, budget=budget)
    # 2,160 rows at batch 64: 34 steps, rounded up to 48 (3 executions of 16); 100 // 48 = 2
    assert model.training_plan["max_epochs"] == 2
    assert int(model.optimizer.iterations.numpy()) == 96 <= 100


def test_full_batches_have_a_static_shape_and_drop_a_different_remainder_each_pass(dataset):
    """`full_batches`: every batch holds `batch` rows (the step function's shapes are
    static), each pass over a fresh permutation drops its last partial batch, and the
    epochs keep their length (the patience rules count epochs)."""
    from hea_zoo.models.training import _shuffled_batches

    x = np.arange(14, dtype=np.float32).reshape(7, 2)
    y = np.arange(7, dtype=np.float32)[:, None]
    data = _shuffled_batches(x, y, 3, seed=0, full=True)
    assert data.element_spec[0].shape.as_list() == [3, 2]
    assert data.element_spec[1].shape.as_list() == [3, 1]
    passes = [np.concatenate([by.numpy()[:, 0] for _, by in data.skip(2 * i).take(2)]) for i in range(4)]
    for rows in passes:
        assert len(rows) == len(set(rows)) == 6  # one row of 7 left out of the pass
    assert len({tuple(sorted(rows)) for rows in passes}) > 1  # not always the same row
    np.testing.assert_array_equal(
        np.concatenate([bx.numpy()[:, 0] for bx, _ in data.take(2)]), 2 * passes[0]
    )
    assert _shuffled_batches(x, y, 3, seed=0).element_spec[0].shape.as_list() == [None, 2]

    rng = np.random.default_rng(2)
    rows = rng.integers(0, len(dataset.train), 2400)
    xs, ys = dataset.train.compositions[rows], dataset.train.properties[rows]
    model = Surrogate(n_members=2, hidden_units=(16,), seed=0)
    model.adapt(xs, ys)
    model.compile(keras.optimizers.Adam(1e-3), steps_per_execution=16)
    budget = TrainingBudget(max_steps=10**6, large_max_steps=100, early_stopping_rows=2000, max_batch_size=64,
                            reference_rows=250, full_batches=True, lr_exponent=1.0)  # fmt: skip
    fit_with_budget(model, xs, ys, epochs=1000, batch_size=32, budget=budget)
    # 2,160 rows at batch 64: 33 full batches a pass, epochs of 48 steps as without it
    assert model.training_plan["max_epochs"] == 2
    assert model.training_plan["learning_rate"] == pytest.approx(2e-3, rel=1e-6)  # linear: 64 / 32
    assert int(model.optimizer.iterations.numpy()) == 96


def test_lr_exponent_must_be_in_zero_one():
    for bad in (-0.5, 1.5, True, "1"):
        with pytest.raises(ValueError, match="lr_exponent"):
            TrainingBudget(lr_exponent=bad)


def test_tiny_tables_stream_whole_passes_in_whole_executions(dataset):
    """At most `stream_rows` rows: one pipeline, no validation split, the steps of `epochs`
    whole passes rounded up to executions; a larger small table keeps the arrays path."""
    x, y = dataset.train.compositions[:90], dataset.train.properties[:90]
    model = Surrogate(n_members=2, hidden_units=(16,), seed=0)
    model.adapt(x, y)
    model.compile(steps_per_execution=16)
    history = fit_with_budget(model, x, y, epochs=10, batch_size=32, budget=TrainingBudget())
    # 90 rows at batch 32: 3 steps a pass, 30 steps, 2 epochs of one 16-step execution.
    plan = model.training_plan
    assert (plan["max_epochs"], plan["steps_per_epoch"], plan["validation_rows"]) == (2, 16, 0)
    assert int(model.optimizer.iterations.numpy()) == 32
    assert len(history.history["loss"]) == 2 and history.history["loss"][-1] < history.history["loss"][0]
    arrays = Surrogate(n_members=2, hidden_units=(16,), seed=0)
    arrays.adapt(x, y)
    arrays.compile(steps_per_execution=16)
    fit_with_budget(arrays, x, y, epochs=10, batch_size=32, budget=TrainingBudget(stream_rows=0))
    assert arrays.training_plan["steps_per_epoch"] == 3
    assert int(arrays.optimizer.iterations.numpy()) == 30  # epochs of the arrays path: exact
    with pytest.raises(ValueError, match="stream_rows"):
        TrainingBudget(stream_rows=-1)


def _large_table(dataset, seed, rows=2400):
    picked = np.random.default_rng(seed).integers(0, len(dataset.train), rows)
    return dataset.train.compositions[picked], dataset.train.properties[picked]


class _Probe(keras.callbacks.Callback):
    """Records what a fit does: Keras evaluation loops run, the held-out losses each epoch
    sees, and whether old objects are frozen for the garbage collector during the fit."""

    def __init__(self):
        super().__init__()
        self.evaluations, self.val_losses, self.frozen = 0, [], []

    def on_test_begin(self, logs=None):
        self.evaluations += 1

    def on_epoch_end(self, epoch, logs=None):
        self.val_losses.append(logs.get("val_loss"))
        self.frozen.append(gc.get_freeze_count())


def test_held_out_losses_are_keras_validation_without_its_evaluation_loop(dataset):
    """Large tables get `val_*` from one compiled call per epoch: the numbers Keras'
    `validation_data` gives, without an evaluation loop per epoch."""
    x, y = _large_table(dataset, 4)
    held = np.sort(np.random.default_rng(0).permutation(len(x))[:240])
    kept = np.setdiff1d(np.arange(len(x)), held)

    def model():
        m = Surrogate(n_members=2, hidden_units=(16,), seed=0)
        m.adapt(x[kept], y[kept])
        m.compile()
        return m

    def both_ways(rows):
        """val_* histories from Keras' validation and from HeldOutLosses, and a probe."""
        histories, probe = [], _Probe()
        for extra in (
            {"validation_data": (x[held], y[held]), "validation_batch_size": rows},
            {"callbacks": [HeldOutLosses(x[held], y[held], chunk_rows=rows), probe]},
        ):
            keras.utils.set_random_seed(0)
            fitted = model().fit(x[kept], y[kept], batch_size=64, epochs=3, shuffle=False, verbose=0, **extra)
            histories.append(fitted.history)
        return histories, probe

    # All held-out rows in one call, then in calls of 100 rows (the mean over rows, as
    # Keras weighs its validation batches of that size).
    for rows in (240, 100):
        (keras_way, ours), probe = both_ways(rows)
        assert probe.evaluations == 0
        for name in ("val_loss", "val_mae"):
            np.testing.assert_allclose(ours[name], keras_way[name], rtol=1e-5)

    budget = TrainingBudget(max_steps=200, early_stopping_rows=2000)
    probe = _Probe()
    history = fit_with_budget(model(), x, y, epochs=3, batch_size=32, budget=budget, callbacks=[probe])
    assert probe.evaluations == 0  # fit_with_budget's validation is the compiled one
    assert probe.val_losses == history.history["val_loss"] and None not in probe.val_losses


def test_fit_freezes_old_objects_for_the_collector_and_restores_the_process(dataset):
    x, y = _large_table(dataset, 5)
    model = Surrogate(n_members=1, hidden_units=(8,), seed=0)
    model.adapt(x, y)
    model.compile()
    budget = TrainingBudget(max_steps=100, early_stopping_rows=2000)
    assert gc.get_freeze_count() == 0
    probe = _Probe()
    fit_with_budget(model, x, y, epochs=2, batch_size=32, budget=budget, callbacks=[probe])
    assert min(probe.frozen) > 0  # during the fit
    assert gc.get_freeze_count() == 0  # and back afterwards
    # A process that froze objects itself keeps them frozen.
    gc.freeze()
    try:
        fit_with_budget(model, x, y, epochs=1, batch_size=32, budget=budget)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_the_large_table_pipeline_does_not_autotune():
    from hea_zoo.models.training import _shuffled_batches

    x = np.zeros((6, 2), np.float32)
    assert _shuffled_batches(x, x, 2, seed=0).options().autotune.enabled is False

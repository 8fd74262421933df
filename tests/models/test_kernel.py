"""The small-table recipe's kernel ridge regression: its inputs (fractions, settings and,
with `kernel_descriptors`, the element descriptors at weights it chooses), its file and its
export."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pandas as pd
import pytest

from hea_zoo.data.datasets import load_dataset
from hea_zoo.data.elements import element_property
from hea_zoo.models import SURROGATE_DEFAULTS, Surrogate, train_default_surrogate
from hea_zoo.models.surrogate.model import KERNEL_DESCRIPTOR_SCALES


@pytest.fixture(scope="module")
def small():
    """100 alloys of 3-5 of 8 refractory elements whose hardness rises with the atomic-size
    mismatch δ (a descriptor, not a linear function of the fractions): the small-table
    recipe, with its kernel."""
    elements = ["Al", "Mo", "Nb", "Ta", "Ti", "V", "W", "Zr"]
    rng = np.random.default_rng(0)
    x = np.zeros((100, len(elements)))
    for row in x:
        k = rng.integers(3, 6)
        row[rng.choice(len(elements), k, replace=False)] = rng.dirichlet(np.ones(k))
    radius = element_property("atomic_radius", elements)
    delta = np.sqrt(np.maximum(x @ radius**2 - (x @ radius) ** 2, 0.0)) / (x @ radius) * 100
    hardness = 300 + 60 * delta + rng.normal(0, 10, len(x))
    formulas = ["".join(f"{e}{v:.3f}" for e, v in zip(elements, row) if v > 0) for row in x]
    table = load_dataset(pd.DataFrame({"composition": formulas, "hv": hardness}), properties=["hv"],
                         property_units=["HV"], verbose=False)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = train_default_surrogate(table, epochs=2, seed=0, verbose=0)
    return table, model


def test_the_kernel_reads_the_descriptors_with_weights_it_chooses(small):
    table, model = small
    assert SURROGATE_DEFAULTS["small_table"]["kernel_descriptors"] is True
    assert model.kernel_descriptors and model.descriptors
    n_el, n_desc = len(model.elements), 2 * len(model.descriptors)
    assert tuple(model.kernel_x.shape) == (len(table.train), n_el + n_desc)
    setting_weight, stored_weight = (float(v) for v in model.kernel_scales.numpy())
    weight = min(KERNEL_DESCRIPTOR_SCALES, key=lambda b: abs(b - stored_weight))
    assert abs(weight - stored_weight) < 1e-6  # one of the grid's (as float32)
    stored = model.kernel_x.numpy()[: len(table.train)]
    np.testing.assert_allclose(stored[:, :n_el], table.train.compositions, atol=1e-6)
    # the stored descriptor columns are the standardized features times the chosen weight
    features = model._kernel_parts(table.train.compositions)[-1].numpy()
    np.testing.assert_allclose(stored[:, n_el:], features * weight, atol=1e-5)
    # the chosen weights have the least summed leave-one-out error of the grid
    x, y = table.train.compositions, table.train.properties
    z = (np.log(y) - model.target_mean.numpy()) / model.target_std.numpy()
    parts = [p.numpy().astype(np.float64) for p in model._kernel_parts(x)]
    # (with `kernel_laplacian`, the recipe's, the weights are chosen with the Laplacian kernel)
    assert model.kernel_laplacian
    errors = {b: sum(fit[0] for fit in model._kernel_fits(np.hstack([parts[0], parts[-1] * b]), y, z, laplacian=True))
              for b in (0.0, *KERNEL_DESCRIPTOR_SCALES)}  # fmt: skip
    assert errors[weight] == min(errors[b] for b in KERNEL_DESCRIPTOR_SCALES)
    assert 0.0 not in KERNEL_DESCRIPTOR_SCALES  # the descriptors always take part
    assert errors[weight] < errors[0.0]  # and here they lower the error
    # the choice moves the prediction: the same model with the kernel on fractions only
    before = model.predict(table.test.compositions, verbose=0)
    model.kernel_scales.assign([setting_weight, 0.0])
    try:
        assert not np.allclose(model.predict(table.test.compositions, verbose=0), before, rtol=1e-3)
    finally:
        model.kernel_scales.assign([setting_weight, stored_weight])


def test_the_kernel_s_weights_round_trip_through_a_file_and_old_files_have_none(small, tmp_path):
    _, model = small
    path = tmp_path / "small.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.kernel_descriptors
    np.testing.assert_array_equal(loaded.kernel_scales.numpy(), model.kernel_scales.numpy())
    x = np.eye(len(model.elements), dtype=np.float32)[:5] * 0.5 + 0.5 / len(model.elements)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    config = model.get_config()
    config.pop("kernel_descriptors")
    old = Surrogate.from_config(config)  # a file written before: the kernel on fractions only
    assert not old.kernel_descriptors and tuple(old.kernel_x.shape)[1] == len(model.elements)
    with pytest.raises(ValueError, match="kernel_descriptors"):
        Surrogate.from_config({**config, "kernel_descriptors": "yes"})


def test_the_kernel_is_the_mean_of_the_leave_one_out_and_the_evidence_regressions(small, tmp_path):
    """With `kernel_evidence` (the recipe's) each property's kernel is the mean of two
    regressions at the chosen weights: the one of least leave-one-out error and the one of
    greatest marginal likelihood, found here by brute force (a solve per left-out row, a
    log-determinant per grid point; not the eigendecompositions the model uses)."""
    from hea_zoo.models.surrogate.model import KERNEL_LENGTHS, KERNEL_RIDGES, LAPLACIAN_LENGTHS

    _, recipe_model = small
    assert SURROGATE_DEFAULTS["small_table"]["kernel_evidence"] is True and recipe_model.kernel_evidence
    elements, x, y = _stepped(0)  # steps: here the two criteria choose different ridges
    model = Surrogate(elements=elements, property_names=["hv"], property_units=["HV"], n_members=2,
                      hidden_units=(4,), descriptors=(), kernel_rows=len(x), kernel_weight=1.0,
                      kernel_laplacian=True, kernel_evidence=True)  # fmt: skip
    model.adapt(x, y)
    by_loo, by_evidence = model.fit_kernel(x, y)["hv"]
    z = ((np.log(y) - model.target_mean.numpy()) / model.target_std.numpy())[:, 0].astype(np.float64)
    d = np.sqrt(np.maximum(((x[:, None] - x[None]) ** 2).sum(-1), 0.0))
    n = len(z)

    def kernel(family, length, distance):
        return np.exp(-distance / length) if family == "laplacian" else np.exp(-(distance**2) / (2 * length**2))

    def loo(family, length, ridge):
        c = kernel(family, length, d) + ridge * np.eye(n)
        errors = []
        for i in range(n):
            keep = np.arange(n) != i
            alpha = np.linalg.solve(c[np.ix_(keep, keep)], z[keep])
            errors.append(z[i] - c[i, keep] @ alpha)
        return float(np.mean(np.square(errors)))

    def evidence(family, length, ridge):
        c = kernel(family, length, d) + ridge * np.eye(n)
        return 0.5 * n * np.log(z @ np.linalg.solve(c, z) / n) + 0.5 * np.linalg.slogdet(c)[1]

    grid = [("gaussian", length, ridge) for length in KERNEL_LENGTHS for ridge in KERNEL_RIDGES]
    grid += [("laplacian", length, ridge) for length in LAPLACIAN_LENGTHS for ridge in KERNEL_RIDGES]
    as_chosen = lambda g: (g[1], g[2], g[0])  # noqa: E731
    assert by_evidence == as_chosen(min(grid, key=lambda g: evidence(*g)))
    assert by_loo == as_chosen(min(grid, key=lambda g: loo(*g)))
    assert by_loo != by_evidence
    # the kernel's standardized output: the mean of the two regressions, each solved here
    probe = np.vstack([_stepped(2, 30)[1], x[:5]])
    dp = np.sqrt(np.maximum(((probe[:, None] - x[None]) ** 2).sum(-1), 0.0))
    mean = 0.0
    for length, ridge, family in (by_loo, by_evidence):
        alpha = np.linalg.solve(kernel(family, length, d) + ridge * np.eye(n), z)
        mean = mean + 0.5 * kernel(family, length, dp) @ alpha
    np.testing.assert_allclose(model._kernel(probe).numpy()[:, 0], mean, rtol=1e-3, atol=1e-3)
    # the file keeps the second regression; a file written before has none; a flag is a bool
    loaded = _flag_round_trip(model, "kernel_evidence", "kernel_alpha_e", probe, tmp_path)
    np.testing.assert_array_equal(loaded.kernel_alpha_e.numpy(), model.kernel_alpha_e.numpy())


def _flag_round_trip(model: Surrogate, flag: str, state: str, probe, tmp_path) -> Surrogate:
    """`model` saved and loaded: the flag and the predictions kept; a config written before
    the flag builds no `state`; a flag that is not a bool is refused. Returns the loaded model."""
    path = tmp_path / f"{flag}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert getattr(loaded, flag)
    probe = np.asarray(probe, np.float32)
    np.testing.assert_array_equal(loaded.predict(probe, verbose=0), model.predict(probe, verbose=0))
    config = model.get_config()
    config.pop(flag)
    assert not hasattr(Surrogate.from_config(config), state)
    with pytest.raises(ValueError, match=flag):
        Surrogate.from_config({**config, flag: 1})
    return loaded


def test_the_exported_graph_computes_the_same_kernel(small, tmp_path):
    import onnxruntime as ort

    from hea_zoo.serving import export

    table, model = small
    result = export.export_model(model, tmp_path, "surrogate")
    session = ort.InferenceSession(str(result.onnx), providers=["CPUExecutionProvider"])
    x = table.test.compositions.astype(np.float32)
    onnx = session.run(["properties"], {"composition": x})[0]
    np.testing.assert_allclose(onnx, model.predict(x, verbose=0), rtol=1e-4, atol=1e-4)


def test_a_split_calibrated_kernel_refits_on_every_training_alloy(small):
    """With a calibration split, the members train on the rest of the alloys and the
    intervals are calibrated on the split; then the kernel, which gives the mean, refits on
    every training alloy: the calibration alloys teach the mean too."""
    table, _ = small
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = train_default_surrogate(table, epochs=2, seed=0, verbose=0, calibration_folds=0)
    train = table.train.compositions
    assert model.is_calibrated and model.calibration_folds == 0
    assert 0 < model.calibration_size < len(train)
    n_el = len(model.elements)
    kernel_rows = model.kernel_x.numpy()[:, :n_el]
    assert np.count_nonzero(kernel_rows.sum(axis=1)) == len(train)
    np.testing.assert_allclose(kernel_rows, train, atol=1e-6)
    # the members trained without the calibration alloys (the distance rows are theirs)
    assert model.distance_rows == len(train) - model.calibration_size
    # the calibration alloys (those the members did not train on) are predicted closer
    # than by the same model with its kernel on the members' alloys only
    members_rows = {tuple(np.round(r, 6)) for r in model.distance_x.numpy()}
    held = np.array([tuple(np.round(r, 6)) not in members_rows for r in train])
    assert held.sum() == model.calibration_size
    y = table.train.properties[held, 0]
    refitted = model.predict(train[held], verbose=0)[:, 0]
    model.fit_kernel(train[~held], table.train.properties[~held])
    members_only = model.predict(train[held], verbose=0)[:, 0]
    assert np.mean(np.abs(refitted - y)) < np.mean(np.abs(members_only - y))


def _stepped(seed: int, n: int = 80):
    """`n` alloys of 3-5 of 6 elements whose hardness steps at x_Mo = 0.25 and x_Ti = 0.3:
    rough for a Gaussian kernel, what the Laplacian suits."""
    elements = ["Mo", "Nb", "Ta", "Ti", "V", "W"]
    rng = np.random.default_rng(seed)
    x = np.zeros((n, len(elements)))
    for row in x:
        k = rng.integers(3, 6)
        row[rng.choice(len(elements), k, replace=False)] = rng.dirichlet(np.ones(k))
    y = 300 + 400 * (x[:, 0] > 0.25) + 300 * (x[:, 3] > 0.3)
    return elements, x, y[:, None]


def _kernel_model(elements, laplacian: bool, rows: int) -> Surrogate:
    model = Surrogate(elements=elements, property_names=["hv"], property_units=["HV"], n_members=2,
                      hidden_units=(4,), descriptors=(), kernel_rows=rows, kernel_weight=1.0,
                      kernel_laplacian=laplacian)  # fmt: skip
    return model


def test_the_laplacian_is_kept_only_where_its_leave_one_out_error_is_lower(tmp_path):
    elements, x, y = _stepped(0)
    test_elements, test_x, test_y = _stepped(1, 200)
    errors, models = {}, {}
    for laplacian in (False, True):
        model = _kernel_model(elements, laplacian, len(x))
        model.adapt(x, y)
        chosen = model.fit_kernel(x, y)
        kept = model(test_x.astype(np.float32)).numpy()
        errors[laplacian], models[laplacian] = float(np.abs(kept - test_y).mean()), (model, chosen)
    gaussian, laplacian = models[False][1]["hv"], models[True][1]["hv"]
    assert gaussian[2] == "gaussian" and laplacian[2] == "laplacian"
    assert float(models[True][0].kernel_laplace.numpy()[0]) == 1.0
    assert errors[True] < 0.95 * errors[False], errors  # the steps: the Laplacian predicts better held out
    # Its leave-one-out error is the lower one; on a smooth property it is not, and the
    # Gaussian stays.
    model = models[True][0]
    z = (np.log(y) - model.target_mean.numpy()) / model.target_std.numpy()
    f = x.astype(np.float64)
    assert model._kernel_fits(f, y, z, laplacian=True)[0][0] < model._kernel_fits(f, y, z)[0][0]
    smooth = 300 + 200 * x[:, :1] ** 2 + 100 * x[:, 1:2]
    other = _kernel_model(elements, True, len(x))
    other.adapt(x, smooth)
    assert other.fit_kernel(x, smooth)["hv"][2] == "gaussian"
    assert float(other.kernel_laplace.numpy()[0]) == 0.0
    # The file keeps the choice; a file written before the option has no such state.
    loaded = _flag_round_trip(model, "kernel_laplacian", "kernel_laplace", test_x[:20], tmp_path)
    assert float(loaded.kernel_laplace.numpy()[0]) == 1.0


def test_the_exported_graph_computes_the_laplacian_kernel(tmp_path):
    import onnxruntime as ort

    from hea_zoo.serving import export

    elements, x, y = _stepped(0)
    model = _kernel_model(elements, True, len(x))
    model.adapt(x, y)
    model.compile()
    model.fit(x, y, epochs=1, verbose=0)
    assert model.fit_kernel(x, y)["hv"][2] == "laplacian"
    result = export.export_model(model, tmp_path, "surrogate")
    session = ort.InferenceSession(str(result.onnx), providers=["CPUExecutionProvider"])
    probe = np.vstack([_stepped(2, 30)[1], x[:5]]).astype(np.float32)  # held-out alloys and training ones (d = 0)
    onnx = session.run(["properties"], {"composition": probe})[0]
    np.testing.assert_allclose(onnx, model.predict(probe, verbose=0), rtol=1e-4, atol=1e-3)

"""Tests of the conditional normalizing flow (CFlow)."""

import itertools
import json

import numpy as np
import pytest
import scipy.stats
import tensorflow as tf

from hea_zoo.evaluation.baselines import gaussian_baseline_nll
from hea_zoo.models import CFlow
from hea_zoo.models.flow import (
    ConditionalMADE,
    composition_to_log_ratios,
    log_ratios_to_composition,
    reference_mask,
)
from tests.support.model_checks import (
    assert_valid_compositions,
    check_bad_inputs,
    check_conditioning,
    check_decode_traceable,
    check_generate,
    check_version_warning,
    fit_default,
    run_model_saving_test,
)

EPOCHS = 30
THREE = ("Nb", "Ta", "Ti")


@pytest.fixture(scope="module")
def trained(dataset):
    return fit_default(
        "flow", dataset, EPOCHS, batch_size=64,
        validation_data=(dataset.test.compositions, dataset.test.properties),
        validation_freq=EPOCHS,
    )  # fmt: skip


def randomized(model: CFlow, seed: int = 0, scale: float = 0.3) -> CFlow:
    """Sets every weight of an untrained model to random values (a non-trivial flow);
    conditions are normalized as for 40 +- 10 GPa, 10 +- 5 MPa m^0.5."""
    model.adapt(np.full((2, model.n_elements), 1 / model.n_elements, "float32"), [[30.0, 5.0], [50.0, 15.0]])
    rng = np.random.default_rng(seed)
    for w in model.trainable_weights:
        w.assign(rng.normal(0.0, scale, w.shape).astype("float32"))
    return model


# ------------------------------------------------------------------------ training
def test_loss_falls(trained):
    _, history = trained
    h = history.history
    names = {"loss", "presence_nll", "fraction_nll"}
    assert set(h) == names | {f"val_{n}" for n in names}
    assert h["loss"][-1] < h["loss"][0] - 5.0, (h["loss"][0], h["loss"][-1])
    assert h["presence_nll"][-1] < h["presence_nll"][0]
    assert h["fraction_nll"][-1] < h["fraction_nll"][0]
    np.testing.assert_allclose(
        np.add(h["presence_nll"], h["fraction_nll"]), h["loss"], rtol=1e-4, atol=1e-4
    )


# -------------------------------------------------------------------- generation
def test_decode_deterministic(trained):
    model, _ = trained
    rng = np.random.default_rng(0)
    z = rng.standard_normal((64, model.latent_dim)).astype("float32")
    c = np.tile(np.float32([[60.0, 20.0]]), (64, 1))
    a = model.decode(z, c).numpy()
    np.testing.assert_array_equal(a, model.decode(z, c).numpy())
    assert not np.allclose(a, model.decode(z + 0.5, c).numpy())
    check_decode_traceable(model)


def test_generate_realistic_compositions(trained, dataset):
    model, _ = trained
    check_generate(model, dataset)
    x = model.generate(dataset.test.properties[:10], 200, seed=0).reshape(-1, model.n_elements)
    assert_valid_compositions(x, model.n_elements)
    present = x > 0
    # Absent elements are exactly 0; present ones are at least the threshold.
    assert np.all(x[present] >= model.threshold - 1e-6)
    counts = present.sum(axis=1)
    data_counts = (dataset.train.compositions >= 0.005).sum(axis=1)
    assert counts.min() >= 1
    assert abs(counts.mean() - data_counts.mean()) < 0.75, (counts.mean(), data_counts.mean())
    assert np.mean((counts >= 4) & (counts <= 7)) > 0.8, np.bincount(counts)


def test_conditioning_moves_the_output(trained, dataset):
    model, _ = trained
    q10, q50, q90 = (dataset.percentile(q) for q in (10, 50, 90))
    low, high = q50.copy(), q50.copy()
    low[0], high[0] = q10[0], q90[0]
    from hea_zoo.data import oracle

    designs = model.generate(np.stack([low, high]), 300, seed=11)
    g = oracle.properties(designs.reshape(-1, model.n_elements))[:, 0].reshape(2, -1)
    assert g[1].mean() - g[0].mean() > 0.25 * (q90[0] - q10[0]), g.mean(axis=1)


@pytest.mark.slow
def test_conditioning_after_full_training(dataset):
    from hea_zoo.models import train_default_generator

    check_conditioning(train_default_generator("flow", dataset, seed=0), dataset)


# ----------------------------------------------------------------------- density
def test_transform_round_trip():
    x = np.array(
        [[0.2, 0.3, 0.5, 0.0], [0.006, 0.0, 0.0, 0.994], [0.0, 1.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]],
        "float32",
    )
    presence, active, y, _ = composition_to_log_ratios(x, 0.005)
    np.testing.assert_array_equal(presence.numpy(), x > 0)
    # The reference (last present element) is inactive.
    np.testing.assert_array_equal(active.numpy(), [[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 0]])
    back = log_ratios_to_composition(y, presence, 0.005).numpy()
    np.testing.assert_allclose(back, x, atol=2e-7)
    assert np.all(back[x == 0] == 0.0)


def test_one_pass_inverse_is_the_tfp_chains():
    """`inverse_and_log_det` (training and `log_prob`) gives what the TFP chain that
    `decode` uses gives for `inverse` and `inverse_log_det_jacobian`, on random weights and
    every kind of presence pattern (one element, the reference alone, all present), and
    inverts `forward`."""
    model = randomized(CFlow(seed=0, n_couplings=3), seed=4)
    rng = np.random.default_rng(1)
    n, e = 600, model.n_elements
    presence = (rng.random((n, e)) < rng.uniform(0.05, 0.7, (n, 1))).astype("float32")
    presence[:3] = 0.0
    presence[0, 0] = presence[1, e - 1] = 1.0  # one element present
    presence[2] = 1.0  # every element
    presence[presence.sum(axis=1) == 0, 5] = 1.0
    active = (presence - reference_mask(tf.constant(presence))).numpy()
    cn = model.normalize_conditions(rng.uniform([30, 2], [60, 20], (n, 2)).astype("float32"))
    y = (rng.normal(0.0, 1.5, (n, e)) * active).astype("float32")
    flow = model.bijector(presence, cn)
    z, log_det = model.inverse_and_log_det(y, presence, cn)
    np.testing.assert_allclose(z.numpy(), flow.inverse(y).numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        log_det.numpy(), flow.inverse_log_det_jacobian(y, event_ndims=1).numpy(), rtol=1e-5, atol=1e-4
    )
    assert np.ptp(log_det.numpy()) > 1.0  # the couplings and scales are not the identity
    np.testing.assert_array_equal(z.numpy()[active == 0], 0.0)  # inactive stay put
    # Inverts forward (weights of scale 0.3 stretch by up to 1e4: round-trip on milder ones).
    model = randomized(CFlow(seed=0, n_couplings=3), seed=4, scale=0.1)
    base = (rng.normal(size=(n, e)) * active).astype("float32")
    back, _ = model.inverse_and_log_det(model.bijector(presence, cn).forward(base), presence, cn)
    np.testing.assert_allclose(back.numpy(), base, atol=1e-4)


def test_identity_flow_density_matches_scipy():
    """An untrained flow: independent unit-normal log-fractions, so the log-ratios
    against the reference are N(0, I + 11^T); checked with SciPy."""
    t = 0.005
    model = CFlow(elements=THREE, threshold=t)
    model.adapt(np.full((2, 3), 1 / 3, "float32"), np.float32([[40.0, 5.0], [60.0, 15.0]]))
    x = np.float32([[0.3, 0.0, 0.7], [0.2, 0.5, 0.3]])
    c = np.float32([[50.0, 10.0], [50.0, 10.0]])
    parts = model.log_prob_parts(x, c)
    # Two present: y = log(w1 / w3) ~ N(0, 2); x = t + (1 - 2t) w.
    w = (x[0, [0, 2]] - t) / (1 - 2 * t)
    expected0 = (
        scipy.stats.norm(0.0, np.sqrt(2.0)).logpdf(np.log(w[0] / w[1]))
        - np.log(w).sum()
        - np.log(1 - 2 * t)
    )
    # Three present: (log(w1/w3), log(w2/w3)) ~ N(0, [[2, 1], [1, 2]]).
    w = (x[1] - t) / (1 - 3 * t)
    y = np.log(w[:2] / w[2])
    expected1 = (
        scipy.stats.multivariate_normal(np.zeros(2), np.eye(2) + 1.0).logpdf(y)
        - np.log(w).sum()
        - 2 * np.log(1 - 3 * t)
    )
    np.testing.assert_allclose(parts["fractions"].numpy(), [expected0, expected1], rtol=1e-5)
    # The untrained presence model gives every bit probability 1/2.
    np.testing.assert_allclose(parts["presence"].numpy(), 3 * np.log(0.5), rtol=1e-6)


def test_presence_model_is_normalized_and_sampled_as_scored():
    made = ConditionalMADE(4, 2, hidden_units=(16, 16))
    rng = np.random.default_rng(0)
    for w in made.trainable_weights:
        w.assign(rng.normal(0.0, 0.8, w.shape).astype("float32"))
    c = np.float32([[0.3, -1.0]])
    patterns = np.array(list(itertools.product([0, 1], repeat=4)), "float32")
    p = np.exp(made.log_prob(patterns, np.repeat(c, 16, axis=0)).numpy())
    assert p[0] < 1e-12  # nothing present is impossible
    np.testing.assert_allclose(p.sum(), 1.0, rtol=1e-5)
    # Sampling by Phi(z_j) < P(b_j | b_<j) follows those probabilities.
    n = 40000
    bits = made.sample(rng.standard_normal((n, 4)).astype("float32"), np.repeat(c, n, axis=0)).numpy()
    index = (bits @ (2 ** np.arange(3, -1, -1))).astype(int)
    frequency = np.bincount(index, minlength=16) / n
    assert np.all(np.abs(frequency - p) <= 4 * np.sqrt(p * (1 - p) / n) + 1e-3), (frequency, p)


def test_fraction_density_integrates_to_one():
    """A random (non-identity) flow's density on a 2- and a 3-element face integrates to 1."""
    model = randomized(CFlow(elements=THREE, hidden_units=(16,), presence_units=(8,), n_couplings=2))
    t = model.threshold
    c = np.float32([[45.0, 12.0]])
    # Two present elements (Nb, Ti): integrate over x_Nb in [t, 1 - t].
    grid = np.linspace(t, 1 - t, 20001)[1:-1]
    x = np.zeros((len(grid), 3), "float32")
    x[:, 0], x[:, 2] = grid, 1 - grid
    density = np.exp(model.log_prob_parts(x, np.repeat(c, len(grid), 0))["fractions"].numpy())
    np.testing.assert_allclose(np.trapezoid(density, grid), 1.0, atol=2e-3)
    # Three present: integrate over (x_Nb, x_Ta) on the triangle x_i >= t.
    n = 500
    a, b = np.meshgrid(np.linspace(t, 1 - 2 * t, n), np.linspace(t, 1 - 2 * t, n), indexing="ij")
    inside = (1 - a - b) > t
    x = np.stack([a[inside], b[inside], 1 - a[inside] - b[inside]], axis=1).astype("float32")
    density = np.exp(model.log_prob_parts(x, np.repeat(c, len(x), 0))["fractions"].numpy())
    cell = ((1 - 3 * t) / (n - 1)) ** 2
    assert abs(density.sum() * cell - 1.0) < 0.03, density.sum() * cell


def test_log_prob(trained, dataset):
    model, _ = trained
    x, c = dataset.test.compositions, dataset.test.properties
    lp = model.log_prob(x, c).numpy()
    parts = model.log_prob_parts(x, c)
    assert lp.shape == (len(x),) and np.all(np.isfinite(lp))
    np.testing.assert_allclose(lp, parts["presence"].numpy() + parts["fractions"].numpy(), rtol=1e-6)
    # Real alloys are more likely than random mixtures of random elements.
    rng = np.random.default_rng(0)
    noise = np.zeros_like(x)
    for row in noise:
        row[rng.choice(len(row), 5, replace=False)] = rng.dirichlet(np.ones(5))
    noise = np.where(noise >= 0.005, noise, 0.0)
    noise /= noise.sum(axis=1, keepdims=True)
    assert np.median(model.log_prob(noise, c).numpy()) < np.median(lp) - 10.0
    # Traces below the threshold are scored as dropped.
    traced = x.copy()
    column = int(np.argmin((x > 0).sum(axis=0)))
    traced[:, column] = np.where(x[:, column] == 0, 0.002, x[:, column])
    traced /= traced.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.log_prob(traced, c).numpy(), lp, rtol=1e-4, atol=1e-4)


# --------------------------------------------------------------- saving and config
def test_save_load_round_trip(trained, dataset, tmp_path):
    model, _ = trained
    loaded = run_model_saving_test(model, tmp_path)
    x, c = dataset.test.compositions, dataset.test.properties
    np.testing.assert_array_equal(model.log_prob(x, c).numpy(), loaded.log_prob(x, c).numpy())
    assert loaded.noise_std == model.noise_std and loaded.threshold == model.threshold


def test_config_is_complete():
    model = CFlow(
        elements=THREE, n_couplings=3, hidden_units=(8,), presence_units=(4, 4), max_log_scale=2.0,
        noise_std=0.2, threshold=0.01, seed=3,
    )  # fmt: skip
    config = model.get_config()
    assert config["latent_dim"] == 6
    clone = CFlow.from_config(config)
    assert clone.get_config() == config
    assert json.loads(json.dumps(config)) == config


def test_bad_inputs(trained, dataset):
    check_bad_inputs(trained[0], dataset)


def test_version_warning(trained):
    check_version_warning(trained[0])


def test_constructor_errors():
    with pytest.raises(ValueError, match="latent_dim.*6.*Received: latent_dim=8"):
        CFlow(elements=THREE, latent_dim=8)
    with pytest.raises(ValueError, match="threshold"):
        CFlow(elements=THREE, threshold=0.4)
    with pytest.raises(ValueError, match="n_couplings"):
        CFlow(n_couplings=-1)
    with pytest.raises(ValueError, match="noise_std"):
        CFlow(noise_std=-0.1)
    with pytest.raises(ValueError, match="presence_units"):
        CFlow(presence_units=(0,))


# --------------------------------------------------------------------------- export
@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    """The trained flow saved to a .keras file, loaded back and that copy exported (SavedModel,
    flow.onnx, flow_log_prob.onnx) once for the module: the parity below is also the check
    that a loaded flow (a checkpoint, tests/models/test_keras_contract.py) exports."""
    import keras

    from hea_zoo.serving import export

    root = tmp_path_factory.mktemp("exported")
    path = root / "flow.keras"
    trained[0].save(path)
    loaded = keras.saving.load_model(path)
    path.unlink()
    return root, export.export_model(loaded, root, "flow")


def test_export_parity(trained, exported, dataset):
    """SavedModel and ONNX agree with Keras on `decode` (1e-5) and `log_prob`."""
    from tests.support.exports import (
        TOLERANCE,
        generator_inputs,
        keras_outputs,
        max_abs_diff,
        onnx_outputs,
        saved_model_outputs,
    )
    from hea_zoo.serving import export

    model, _ = trained
    root, result = exported
    assert result.log_prob_onnx == root / "flow_log_prob.onnx"
    z, c = generator_inputs(model, dataset)
    inputs = {"z": z, "condition": c}
    expected = keras_outputs(model, inputs)
    assert max_abs_diff(expected, saved_model_outputs(result.saved_model, inputs)) <= TOLERANCE
    assert max_abs_diff(expected, onnx_outputs(result.onnx, inputs)) <= TOLERANCE

    x = np.concatenate([dataset.test.compositions, expected["composition"]]).astype("float32")
    conditions = np.concatenate([dataset.test.properties, c]).astype("float32")
    lp = model.log_prob(x, conditions).numpy()
    loaded = tf.saved_model.load(str(result.saved_model))
    assert set(loaded.signatures) == {"serving_default", "log_prob"}
    from_saved = loaded.signatures["log_prob"](composition=x, condition=conditions)["log_prob"].numpy()
    from_onnx = onnx_outputs(result.log_prob_onnx, {"composition": x, "condition": conditions})
    assert list(from_onnx) == ["log_prob"]
    scale = np.maximum(np.abs(lp), 1.0)  # nats: float32 agreement is relative
    assert np.max(np.abs(from_saved - lp) / scale) <= TOLERANCE
    assert np.max(np.abs(from_onnx["log_prob"] - lp) / scale) <= TOLERANCE

    meta = export.read_onnx_metadata(result.onnx)
    assert meta["log_prob_model"] == "flow_log_prob.onnx" and meta["log_prob_signature"] == "log_prob"
    assert meta["latent_dim"] == 2 * model.n_elements
    lp_meta = export.read_onnx_metadata(result.log_prob_onnx)
    assert lp_meta["inputs"] == ["composition", "condition"] and lp_meta["outputs"] == ["log_prob"]
    assert export.read_saved_model_metadata(result.saved_model) == json.loads(json.dumps(result.metadata))


# ------------------------------------------------------------------ held-out NLL
@pytest.mark.slow
def test_held_out_nll_beats_the_gaussian_baseline(dataset):
    """Default training on the train split; NLL on the test split (nats per alloy)."""
    from hea_zoo.models import train_default_generator

    model = train_default_generator("flow", dataset, seed=0)
    train, test = dataset.train, dataset.test
    parts = model.log_prob_parts(test.compositions, test.properties)
    flow_nll = -float(np.mean(parts["presence"].numpy() + parts["fractions"].numpy()))

    def baseline(**kwargs):
        return gaussian_baseline_nll(
            model, train.compositions, train.properties, test.compositions, test.properties, **kwargs
        )

    mle = baseline()  # the Gaussian in the flow's log-ratio coordinates, maximum likelihood
    assert mle["presence_nll"] == pytest.approx(-float(np.mean(parts["presence"].numpy())), rel=1e-5)
    assert flow_nll < mle["nll"] - 0.5, (flow_nll, mle)
    # Regularized like the flow (the same training noise): still worse.
    same_noise = baseline(noise_std=model.noise_std)
    assert flow_nll < same_noise["nll"] - 0.3, (flow_nll, same_noise)
    logistic = baseline(space="log_fraction", noise_std=model.noise_std)
    assert flow_nll < logistic["nll"], (flow_nll, logistic)


# ------------------------------------------------------------------ typicality in design
def _design_csv(tmp_path, model, target, *extra):
    import csv

    from hea_zoo import cli

    out = tmp_path / f"{model}{'_typical' if extra else ''}.csv"
    code = cli.main(["design", "--model", model, "--models-dir", str(tmp_path), "-G", str(target[0]),
                     "-K", str(target[1]), "-n", "8", "--candidates", "400", "--seed", "5", "--out", str(out),
                     *extra])  # fmt: skip
    assert code == 0
    with open(out, newline="") as handle:
        return list(csv.DictReader(handle))


def test_design_prints_the_flows_log_prob_of_each_design(trained, exported, dataset, tmp_path):
    """`hea-zoo design --model flow` and `--typicality` on another generator: each row's
    `log_prob` is `CFlow.log_prob` of its printed fractions at the target."""
    import shutil

    from tests.support.exports import EXPORTED

    model, _ = trained
    for name in ("flow.onnx", "flow_log_prob.onnx"):
        shutil.copy(exported[0] / name, tmp_path / name)
    for name in ("cvae", "surrogate"):
        shutil.copy(EXPORTED / f"{name}.onnx", tmp_path / f"{name}.onnx")
    target = [float(v) for v in np.round(dataset.percentile(50), 1)]
    for name, extra in (("flow", ()), ("cvae", ("--typicality",))):
        rows = _design_csv(tmp_path, name, target, *extra)
        assert len(rows) == 8
        fractions = np.float32([[float(r[e]) for e in model.elements] for r in rows])
        expected = model.log_prob(fractions, np.tile(np.float32([target]), (len(rows), 1))).numpy()
        printed = np.array([float(r["log_prob"]) for r in rows])
        # The CSV keeps 4 decimals; float32 nats agree to ~1e-5 relative.
        np.testing.assert_allclose(printed, expected, rtol=1e-5, atol=1.5e-4, err_msg=name)
    assert "log_prob" not in _design_csv(tmp_path, "cvae", target)[0]  # off by default


def test_typicality_without_an_exported_flow_is_a_model_error(tmp_path, capsys):
    import shutil

    from tests.support.exports import EXPORTED
    from hea_zoo import cli

    shutil.copy(EXPORTED / "cvae.onnx", tmp_path / "cvae.onnx")
    code = cli.main(["design", "--model", "cvae", "--models-dir", str(tmp_path), "-G", "60", "-K", "35",
                     "--typicality"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 4 and len(err) == 1, err
    assert err[0].startswith("model error: typicality needs the flow's log-density: no flow.onnx in")

"""Shared checks for the conditional generators (applied to every model)."""

from __future__ import annotations

import re
from pathlib import Path

import keras
import numpy as np
import pytest

from hea_zoo.data import oracle
from hea_zoo.models.defaults import build_default_generator


def fit_default(name: str, dataset, epochs: int, batch_size: int = 32, seed: int = 0, **fit_kwargs):
    """`(model, history)`: the default `name` generator adapted and fit on the training split."""
    keras.utils.set_random_seed(seed)
    model = build_default_generator(name, dataset, seed=seed)
    assert not model.is_trained and not model.is_adapted
    x, c = dataset.train.compositions, dataset.train.properties
    model.adapt(x, c)
    history = model.fit(x, c, epochs=epochs, batch_size=batch_size, verbose=0, **fit_kwargs)
    return model, history


def composition_mmd(a: np.ndarray, b: np.ndarray, bandwidth: float = 0.3) -> float:
    """Squared maximum mean discrepancy (RBF kernel) between two sets of compositions."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)

    def k(x, y):
        d2 = (x * x).sum(1)[:, None] + (y * y).sum(1)[None, :] - 2.0 * x @ y.T
        return np.exp(-np.maximum(d2, 0.0) / (2.0 * bandwidth**2))

    return float(k(a, a).mean() + k(b, b).mean() - 2.0 * k(a, b).mean())


def assert_valid_compositions(x: np.ndarray, n_elements: int) -> None:
    x = np.asarray(x)
    assert x.shape[-1] == n_elements
    assert x.dtype == np.float32
    assert np.all(np.isfinite(x))
    assert np.all(x >= 0.0)
    np.testing.assert_allclose(x.sum(axis=-1), 1.0, atol=1e-5)


def check_generate(model, dataset) -> None:
    """`generate` gives (m, n, E) float32 valid compositions; same seed, same samples."""
    conditions = dataset.train.properties[:3]
    x = model.generate(conditions, 7, seed=3)
    assert x.shape == (3, 7, len(dataset.elements))
    assert_valid_compositions(x, len(dataset.elements))
    np.testing.assert_array_equal(x, model.generate(conditions, 7, seed=3))
    assert not np.allclose(x, model.generate(conditions, 7, seed=4))
    # One condition vector is one condition.
    assert model.generate(conditions[0], 2, seed=0).shape == (1, 2, len(dataset.elements))
    # Unseeded draws advance the model's seed generator.
    assert not np.allclose(model.generate(conditions, 7), model.generate(conditions, 7))


def check_conditioning(model, dataset, n: int = 300, min_gap: float = 0.25) -> None:
    """Designs at a high target have clearly higher oracle properties than at a low one.

    For each property p (the others held at their median): the mean oracle
    value of designs at the q90 target exceeds that at the q10 target by at
    least `min_gap` of the target gap.
    """
    q10, q50, q90 = (dataset.percentile(q) for q in (10, 50, 90))
    for p, name in enumerate(dataset.property_names):
        low, high = q50.copy(), q50.copy()
        low[p], high[p] = q10[p], q90[p]
        designs = model.generate(np.stack([low, high]), n, seed=11)
        achieved = oracle.properties(designs.reshape(-1, designs.shape[-1])).reshape(2, n, -1)
        mean_low, mean_high = achieved[0, :, p].mean(), achieved[1, :, p].mean()
        gap = min_gap * (q90[p] - q10[p])
        assert mean_high - mean_low > gap, (
            f"{name}: mean at high target {mean_high:.2f} vs low {mean_low:.2f}; "
            f"wanted a difference above {gap:.2f} (targets {q10[p]:.2f} -> {q90[p]:.2f})"
        )


def run_model_saving_test(model, tmp_path: Path) -> keras.Model:
    """`.keras` round trip: same config, flags, `decode` outputs and seeded samples.

    Returns the reloaded model.
    """
    path = tmp_path / f"{model.name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)  # no custom_objects: registered classes
    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()
    assert loaded.is_trained == model.is_trained
    assert loaded.elements == model.elements
    assert loaded.condition_names == model.condition_names
    assert loaded.condition_units == model.condition_units
    assert loaded.model_version == model.model_version
    rng = np.random.default_rng(0)
    z = rng.standard_normal((16, model.latent_dim)).astype("float32")
    c = np.stack(
        [rng.uniform(40, 100, 16), rng.uniform(5, 50, 16)][: model.n_conditions], axis=1
    ).astype("float32")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model.decode(z, c)),
        keras.ops.convert_to_numpy(loaded.decode(z, c)),
    )
    np.testing.assert_array_equal(model.generate(c, 3, seed=5), loaded.generate(c, 3, seed=5))
    return loaded


def check_bad_inputs(model, dataset) -> None:
    """Bad training data (to `adapt`) and bad `generate` arguments raise a ValueError
    saying what is wrong."""
    x = dataset.train.compositions[:8]
    c = dataset.train.properties[:8]
    e, p = x.shape[1], c.shape[1]

    with pytest.raises(ValueError, match=re.escape(f"(N, {e})") + ".*" + re.escape(f"(8, {e - 1})")):
        model.adapt(x[:, :-1], c)
    with pytest.raises(ValueError, match=re.escape(f"(m, {p})") + ".*" + re.escape(f"(8, {p + 1})")):
        model.adapt(x, np.concatenate([c, c[:, :1]], axis=1))
    bad = c.copy()
    bad[5, 1] = np.nan
    with pytest.raises(ValueError, match="row 5"):
        model.adapt(x, bad)
    bad = x.copy()
    bad[2, 0] = np.nan
    with pytest.raises(ValueError, match="row 2"):
        model.adapt(bad, c)
    bad = x.copy()
    bad[4, 0] += 0.5
    with pytest.raises(ValueError, match="row 4"):
        model.adapt(bad, c)
    with pytest.raises(ValueError, match="8 compositions and 7 conditions"):
        model.adapt(x, c[:7])
    with pytest.raises(ValueError, match="conditions are missing"):
        model.adapt(x, None)
    with pytest.raises(ValueError, match="row 1.*" + dataset.property_names[0]):
        model.generate([[50.0, 5.0], [-1.0, 5.0]], 2)
    with pytest.raises(ValueError, match="row 0"):
        model.generate([[np.inf, 5.0]], 2)
    with pytest.raises(ValueError, match=re.escape(f"(m, {p})") + ".*" + re.escape("(1, 3)")):
        model.generate([[50.0, 5.0, 1.0]], 2)
    with pytest.raises(ValueError, match="n_per_condition.*Received: n_per_condition=0"):
        model.generate([[50.0, 5.0]], 0)
    with pytest.raises(ValueError, match="seed"):
        model.generate([[50.0, 5.0]], 2, seed=1.5)


def check_version_warning(model) -> None:
    """Loading a model saved by another package version warns."""
    config = model.get_config()
    config["hea_zoo_version"] = "0.0.0-other"
    with pytest.warns(UserWarning, match="0.0.0-other"):
        type(model).from_config(config)


def check_decode_traceable(model) -> None:
    """`decode` traces under a tf.function with an input signature (as export wraps it)."""
    import tensorflow as tf

    fn = tf.function(
        lambda z, c: model.decode(z, c),
        input_signature=[
            tf.TensorSpec([None, model.latent_dim], tf.float32, name="z"),
            tf.TensorSpec([None, model.n_conditions], tf.float32, name="condition"),
        ],
    )
    rng = np.random.default_rng(1)
    z = rng.standard_normal((5, model.latent_dim)).astype("float32")
    c = np.tile(np.array([[60.0, 20.0, 1.0][: model.n_conditions]], "float32"), (5, 1))
    np.testing.assert_allclose(
        fn(z, c).numpy(), keras.ops.convert_to_numpy(model.decode(z, c)), atol=1e-6
    )
    ops = {op.type for op in fn.get_concrete_function().graph.get_operations()}
    assert "Softmax" in ops
    assert not any("Stateful" in t or "RandomStandardNormal" in t for t in ops), ops


def mean_entropy(x: np.ndarray) -> float:
    """Mean Shannon entropy (nats) of composition rows: the floor of a cross-entropy loss."""
    x = np.asarray(x, np.float64)
    return float(-(x * np.log(np.where(x > 0, x, 1.0))).sum(axis=-1).mean())


def assert_reconstruction_falls(model, losses, compositions, factor: float = 0.5) -> None:
    """The reconstruction loss falls to `factor` of its first-epoch value.

    For the cross-entropy loss, whose floor is the data's entropy, the excess
    over that floor (the KL from data to reconstruction) is compared.
    """
    floor = mean_entropy(compositions) if model.reconstruction == "crossentropy" else 0.0
    first, last = losses[0] - floor, losses[-1] - floor
    assert last < factor * first, (losses[0], losses[-1], floor)

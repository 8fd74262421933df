"""The forward surrogate: held-out accuracy, uncertainty, the vectorized ensemble, save/load."""

import keras
import numpy as np
import pytest

from hea_zoo.models.surrogate import EnsembleDense, Surrogate, train_default_surrogate


@pytest.fixture(scope="module")
def surrogate(dataset):
    return train_default_surrogate(dataset, epochs=150, seed=0)


def test_held_out_r2_above_0_9(surrogate, dataset):
    scores = surrogate.score(dataset.test.compositions, dataset.test.properties)
    print("\nsurrogate held-out scores (150 epochs):", scores)
    for name in dataset.property_names:
        assert scores[name]["r2"] >= 0.9, (name, scores[name])
        assert 0.0 < scores[name]["coverage_2std"] <= 1.0
    assert surrogate.is_trained and surrogate.training_seconds > 0


def test_ensemble_gives_mean_and_spread(surrogate, dataset):
    mean, std = surrogate.predict_with_uncertainty(dataset.test.compositions)
    assert mean.shape == std.shape == (106, 2)
    assert np.all(std > 0)
    np.testing.assert_allclose(mean, surrogate(dataset.test.compositions).numpy(), rtol=1e-5)
    assert surrogate.n_members >= 5


def test_members_are_one_vectorized_computation(surrogate, dataset):
    """Every layer holds all members' weights (members, in, out); each member is the plain
    MLP of its slices."""
    layers = surrogate.ensemble_layers
    assert all(isinstance(layer, EnsembleDense) for layer in layers)
    assert [tuple(w.shape) for w in surrogate.trainable_weights] == [
        (5, 22, 128), (5, 1, 128), (5, 128, 128), (5, 1, 128), (5, 128, 2), (5, 1, 2),
    ]  # fmt: skip
    x = dataset.test.compositions[:7].astype(np.float64)
    members = surrogate.member_outputs(dataset.test.compositions[:7]).numpy()
    mean = surrogate.target_mean.numpy()
    std = surrogate.target_std.numpy()
    for m in range(surrogate.n_members):
        h = x
        for j, layer in enumerate(layers):
            h = h @ layer.kernel.numpy()[m] + layer.bias.numpy()[m, 0]
            if j < len(layers) - 1:
                h = h / (1.0 + np.exp(-h))  # silu
        np.testing.assert_allclose(members[m], np.exp(h * std + mean), rtol=2e-5)
    assert not np.allclose(members[0], members[1])  # initialized differently


def test_loss_falls(dataset):
    model = Surrogate(n_members=2, hidden_units=(32,), seed=1)
    model.adapt(dataset.train.compositions, dataset.train.properties)
    model.compile()
    history = model.fit(dataset.train.compositions, dataset.train.properties, epochs=8, verbose=0)
    loss = history.history["loss"]
    assert loss[-1] < 0.5 * loss[0]
    assert int(model.optimizer.iterations.numpy()) == 8 * 14 and model.is_trained


def test_save_load_identical_predictions(surrogate, dataset, tmp_path):
    path = tmp_path / "surrogate.keras"
    surrogate.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, Surrogate) and loaded.is_trained
    assert loaded.get_config() == surrogate.get_config()
    a = surrogate.predict_with_uncertainty(dataset.test.compositions)
    b = loaded.predict_with_uncertainty(dataset.test.compositions)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_bad_input(dataset):
    model = Surrogate(n_members=1, hidden_units=(8,))
    with pytest.raises(ValueError, match=r"shape \(423, 2\)"):
        model.adapt(dataset.train.compositions, dataset.train.properties[:, :1])
    y = dataset.train.properties.copy()
    y[5, 1] = np.nan
    with pytest.raises(ValueError, match="properties row 5"):
        model.adapt(dataset.train.compositions, y)
    y[5, 1] = -1.0
    with pytest.raises(ValueError, match="properties row 5 is not positive"):
        model.adapt(dataset.train.compositions, y)
    with pytest.raises(ValueError, match="n_members must be a positive integer"):
        Surrogate(n_members=0)
    assert not model.is_adapted

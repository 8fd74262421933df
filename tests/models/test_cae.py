"""Tests of the conditional autoencoder."""

import keras
import numpy as np
import pytest

from hea_zoo.models import CAE
from hea_zoo.models.defaults import build_default_generator
import helpers

EPOCHS = 60


@pytest.fixture(scope="module")
def trained(dataset):
    keras.utils.set_random_seed(0)
    model = build_default_generator("cae", dataset, seed=0)
    assert not model.is_trained
    history = model.fit(
        dataset.train.compositions, dataset.train.properties, epochs=EPOCHS, batch_size=32, verbose=0
    )
    return model, history


def test_loss_falls(trained, dataset):
    model, history = trained
    helpers.assert_reconstruction_falls(model, history.history["loss"], dataset.train.compositions)


def test_is_trained_and_latent_gaussian_fitted(trained, dataset):
    model, _ = trained
    assert model.is_trained
    codes = keras.ops.convert_to_numpy(
        model.encode(dataset.train.compositions, dataset.train.properties)
    )
    mean = keras.ops.convert_to_numpy(model.latent_mean)
    chol = keras.ops.convert_to_numpy(model.latent_cholesky)
    np.testing.assert_allclose(mean, codes.mean(axis=0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(chol @ chol.T, np.cov(codes, rowvar=False), rtol=1e-3, atol=1e-5)
    # decode maps standard-normal z through the fitted Gaussian.
    z = np.zeros((1, model.latent_dim), "float32")
    c = dataset.train.properties[:1]
    expected = keras.ops.softmax(
        model.decoder([keras.ops.convert_to_tensor(mean[None]), model.normalize_conditions(c)])
    )
    np.testing.assert_allclose(model.decode(z, c), expected, atol=1e-6)


def test_generate(trained, dataset):
    helpers.check_generate(trained[0], dataset)


def test_decode_traceable(trained):
    helpers.check_decode_traceable(trained[0])


def test_conditioning(trained, dataset):
    helpers.check_conditioning(trained[0], dataset)


def test_save_load_round_trip(trained, tmp_path):
    loaded = helpers.run_model_saving_test(trained[0], tmp_path)
    np.testing.assert_array_equal(loaded.latent_cholesky, trained[0].latent_cholesky)


def test_bad_inputs(trained, dataset):
    helpers.check_bad_inputs(trained[0], dataset)


def test_version_warning(trained):
    helpers.check_version_warning(trained[0])


def test_validation_data_and_callbacks(dataset, tmp_path):
    model = CAE(seed=1, elements=dataset.elements)
    csv = tmp_path / "log.csv"
    history = model.fit(
        dataset.train.compositions,
        dataset.train.properties,
        validation_data=(dataset.test.compositions, dataset.test.properties),
        epochs=3,
        verbose=0,
        callbacks=[
            keras.callbacks.CSVLogger(str(csv)),
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=5),
            keras.callbacks.ModelCheckpoint(str(tmp_path / "best.keras"), monitor="val_loss"),
        ],
    )
    assert set(history.history) == {"loss", "val_loss"}
    assert csv.read_text().splitlines()[0].split(",") == ["epoch", "loss", "val_loss"]
    assert keras.saving.load_model(tmp_path / "best.keras").latent_dim == model.latent_dim


def test_constructor_errors():
    with pytest.raises(ValueError, match="latent_dim.*Received: latent_dim=0"):
        CAE(latent_dim=0)
    with pytest.raises(ValueError, match="reconstruction.*Received: reconstruction='l1'"):
        CAE(reconstruction="l1")
    with pytest.raises(ValueError, match="condition_units"):
        CAE(condition_names=("a", "b"), condition_units=("GPa",))

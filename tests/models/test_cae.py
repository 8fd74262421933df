"""Tests of the conditional autoencoder."""

import keras
import numpy as np
import pytest

from hea_zoo.models import CAE
from tests.support.model_checks import (
    assert_reconstruction_falls,
    check_bad_inputs,
    check_conditioning,
    check_decode_traceable,
    check_generate,
    check_version_warning,
    run_model_saving_test,
)

MODEL = "cae"
EPOCHS = 30


def test_loss_falls(trained, dataset):
    model, history = trained
    assert_reconstruction_falls(model, history.history["loss"], dataset.train.compositions)


def test_running_latent_gaussian_tracks_the_training_latents(trained, dataset):
    model, _ = trained
    assert model.is_trained
    mean, cov = model.latent_statistics(dataset.train.compositions, dataset.train.properties)
    running_mean = keras.ops.convert_to_numpy(model.latent_mean)
    chol = keras.ops.convert_to_numpy(model.latent_cholesky)
    running_cov = chol @ chol.T
    std = np.sqrt(np.diag(cov))
    # An exponential average over the last ~100 steps of a still-moving encoder.
    assert np.all(np.abs(running_mean - mean) < 0.25 * std), (running_mean, mean, std)
    assert np.linalg.norm(running_cov - cov) < 0.3 * np.linalg.norm(cov), (running_cov, cov)
    # decode maps standard-normal z through the stored Gaussian: plain matmuls.
    z = np.zeros((1, model.latent_dim), "float32")
    c = dataset.train.properties[:1]
    expected = keras.ops.softmax(
        model.decoder([keras.ops.convert_to_tensor(running_mean[None]), model.normalize_conditions(c)])
    )
    np.testing.assert_allclose(model.decode(z, c), expected, atol=1e-6)


def test_latent_gaussian_with_momentum_0_is_the_last_batch(dataset):
    x, c = dataset.train.compositions, dataset.train.properties
    model = CAE(seed=0, latent_momentum=0.0, elements=dataset.elements)
    model.adapt(x, c)
    model.compile()
    model.fit(x, c, epochs=2, batch_size=len(x), shuffle=False, verbose=0)
    mean, cov = model.latent_statistics(x, c)  # the encoder after the last step
    np.testing.assert_allclose(model.latent_mean.numpy(), mean, rtol=1e-4, atol=1e-5)
    chol = model.latent_cholesky.numpy()
    np.testing.assert_allclose(chol @ chol.T, cov, rtol=1e-3, atol=1e-5)


def test_generate(trained, dataset):
    check_generate(trained[0], dataset)


def test_decode_traceable(trained):
    check_decode_traceable(trained[0])


def test_conditioning(trained, dataset):
    check_conditioning(trained[0], dataset)


def test_save_load_round_trip(trained, tmp_path):
    loaded = run_model_saving_test(trained[0], tmp_path)
    np.testing.assert_array_equal(loaded.latent_cholesky, trained[0].latent_cholesky)


def test_bad_inputs(trained, dataset):
    check_bad_inputs(trained[0], dataset)


def test_version_warning(trained):
    check_version_warning(trained[0])


def test_validation_data_and_callbacks(dataset, tmp_path):
    model = CAE(seed=1, elements=dataset.elements)
    model.adapt(dataset.train.compositions, dataset.train.properties)
    model.compile()
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
    with pytest.raises(ValueError, match="latent_momentum.*Received: latent_momentum=1"):
        CAE(latent_momentum=1)

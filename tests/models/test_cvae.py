"""Tests of the conditional variational autoencoder."""

import keras
import numpy as np
import pytest
import scipy.stats
import tensorflow_probability as tfp

from hea_zoo.models import CVAE
from tests.support.model_checks import (
    assert_reconstruction_falls,
    check_bad_inputs,
    check_conditioning,
    check_decode_traceable,
    check_generate,
    check_version_warning,
    run_model_saving_test,
)

tfd = tfp.distributions
MODEL = "cvae"
EPOCHS = 30


def test_loss_falls(trained, dataset):
    model, history = trained
    assert_reconstruction_falls(
        model, history.history["reconstruction_loss"], dataset.train.compositions
    )
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert set(history.history) == {"loss", "reconstruction_loss", "kl_loss"}


def test_posterior_is_diagonal_normal(trained, dataset):
    model, _ = trained
    x, c = dataset.train.compositions[:5], dataset.train.properties[:5]
    q = model.posterior(x, c)
    assert isinstance(q, tfd.MultivariateNormalDiag)
    assert tuple(q.batch_shape) == (5,)
    assert tuple(q.event_shape) == (model.latent_dim,)
    # KL to N(0, I) matches the closed form; log_prob matches SciPy.
    mu, sd = q.mean().numpy(), q.stddev().numpy()
    expected_kl = 0.5 * np.sum(sd**2 + mu**2 - 1.0 - 2.0 * np.log(sd), axis=-1)
    kl = tfd.kl_divergence(q, model.prior(5)).numpy()
    np.testing.assert_allclose(kl, expected_kl, rtol=1e-4, atol=1e-5)
    z = np.zeros((5, model.latent_dim), "float32")
    expected_lp = scipy.stats.norm(mu, sd).logpdf(z).sum(-1)
    np.testing.assert_allclose(q.log_prob(z).numpy(), expected_lp, rtol=1e-4, atol=1e-4)
    assert np.all(sd > 0)


def test_beta_annealing():
    model = CVAE(beta=0.5, kl_warmup_steps=10, elements=("Nb", "Ta", "Ti"))
    model.compile(optimizer="adam")
    assert float(model.current_beta()) == pytest.approx(0.05)
    model.optimizer.iterations.assign(100)
    assert float(model.current_beta()) == pytest.approx(0.5)


def test_generate(trained, dataset):
    check_generate(trained[0], dataset)


def test_decode_traceable(trained):
    check_decode_traceable(trained[0])


def test_conditioning(trained, dataset):
    check_conditioning(trained[0], dataset)


def test_save_load_round_trip(trained, tmp_path):
    loaded = run_model_saving_test(trained[0], tmp_path)
    assert loaded.beta == trained[0].beta


def test_bad_inputs(trained, dataset):
    check_bad_inputs(trained[0], dataset)


def test_version_warning(trained):
    check_version_warning(trained[0])


def test_validation_data(dataset):
    model = CVAE(seed=1, elements=dataset.elements)
    model.adapt(dataset.train.compositions, dataset.train.properties)
    model.compile()
    history = model.fit(
        dataset.train.compositions,
        dataset.train.properties,
        validation_data=(dataset.test.compositions, dataset.test.properties),
        epochs=2,
        verbose=0,
    )
    assert {"val_loss", "val_kl_loss", "val_reconstruction_loss"} <= set(history.history)


def test_constructor_errors():
    with pytest.raises(ValueError, match="beta.*Received: beta=-1"):
        CVAE(beta=-1)
    with pytest.raises(ValueError, match="kl_warmup_steps"):
        CVAE(kl_warmup_steps=1.5)

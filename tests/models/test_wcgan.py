"""Tests of the Wasserstein conditional GAN."""

import keras
import numpy as np
import pytest

from hea_zoo.models import WCGAN
from hea_zoo.models.defaults import build_default_generator
from tests.support.model_checks import (
    check_bad_inputs,
    check_conditioning,
    check_decode_traceable,
    check_generate,
    check_version_warning,
    composition_mmd,
    run_model_saving_test,
)

MODEL = "wcgan"
EPOCHS = 40
BATCH_SIZE = 64


@pytest.fixture(scope="module")
def before(dataset):
    """Samples of the default WcGAN before training (the same initial weights as `trained`)."""
    keras.utils.set_random_seed(0)
    model = build_default_generator("wcgan", dataset, seed=0)
    with pytest.warns(UserWarning, match="not been trained"):
        return model.generate(dataset.train.properties, 1, seed=0)[:, 0]


def test_losses_fall_and_samples_approach_data(trained, before, dataset):
    model, history = trained
    # The critic learns to separate real from generated (its loss falls below 0) ...
    critic = history.history["critic_loss"]
    assert min(critic) < 0.0
    assert np.mean(critic[-5:]) < critic[0]
    # ... and the generator's samples move towards the data distribution.
    after = model.generate(dataset.train.properties, 1, seed=0)[:, 0]
    real = dataset.train.compositions
    assert composition_mmd(after, real) < 0.5 * composition_mmd(before, real)


def test_critic_weights_clipped(trained):
    model = trained[0]
    for w in model.critic.trainable_weights:
        assert np.max(np.abs(keras.ops.convert_to_numpy(w))) <= model.clip_value + 1e-7


def test_generate(trained, dataset):
    check_generate(trained[0], dataset)


def test_decode_traceable(trained):
    check_decode_traceable(trained[0])


def test_conditioning(trained, dataset):
    check_conditioning(trained[0], dataset)


def test_save_load_round_trip_ready_to_train(trained, dataset, tmp_path):
    model = trained[0]
    loaded = run_model_saving_test(model, tmp_path)
    assert type(loaded.d_optimizer) is type(model.d_optimizer)
    assert float(loaded.g_optimizer.learning_rate) == pytest.approx(
        float(model.g_optimizer.learning_rate)
    )
    steps = int(loaded.g_optimizer.iterations.numpy())
    history = loaded.fit(dataset.train.compositions, dataset.train.properties, epochs=1, verbose=0)
    assert int(loaded.g_optimizer.iterations.numpy()) > steps
    assert np.isfinite(history.history["critic_loss"][0])


def test_gradient_penalty_option(dataset):
    keras.utils.set_random_seed(0)
    model = WCGAN(seed=0, gradient_penalty=10.0, elements=dataset.elements)
    model.adapt(dataset.train.compositions, dataset.train.properties)
    model.compile()
    assert isinstance(model.d_optimizer, keras.optimizers.Adam)
    assert model.critic.layers[-1].kernel_constraint is None
    history = model.fit(
        dataset.train.compositions,
        dataset.train.properties,
        validation_data=(dataset.test.compositions, dataset.test.properties),
        epochs=3,
        verbose=0,
    )
    assert {"critic_loss", "generator_loss", "wasserstein_distance", "val_critic_loss"} <= set(
        history.history
    )
    assert all(np.isfinite(v).all() for v in history.history.values())


def test_bad_inputs(trained, dataset):
    check_bad_inputs(trained[0], dataset)


def test_version_warning(trained):
    check_version_warning(trained[0])


def test_compile_errors():
    model = WCGAN(elements=("Nb", "Ta", "Ti"))
    with pytest.raises(ValueError, match="d_optimizer"):
        model.compile(optimizer="adam")
    with pytest.raises(ValueError, match="n_critic.*Received: n_critic=0"):
        WCGAN(n_critic=0)


def test_the_critic_takes_n_critic_steps_per_generator_step(trained):
    model = trained[0]
    g_steps = int(model.g_optimizer.iterations.numpy())
    assert g_steps > 0
    assert int(model.d_optimizer.iterations.numpy()) == model.n_critic * g_steps

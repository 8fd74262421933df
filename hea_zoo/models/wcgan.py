"""Wasserstein conditional GAN (WcGAN)."""

from __future__ import annotations

from typing import Sequence

import keras
import tensorflow as tf

from hea_zoo.errors import UsageError
from hea_zoo.models import validation
from hea_zoo.models.base import (
    ConditionalGenerator,
    batch_weight,
    build_mlp,
    scale_for_replicas,
    weighted_mean,
)


@keras.saving.register_keras_serializable(package="hea_zoo")
class ClipConstraint(keras.constraints.Constraint):
    """Clips every weight to `[-clip_value, clip_value]` (WGAN weight clipping).

    Args:
        clip_value: positive bound.
    """

    def __init__(self, clip_value: float = 0.01):
        if not isinstance(clip_value, (int, float)) or clip_value <= 0:
            raise UsageError(
                f"must be a positive number. Received: clip_value={clip_value!r}",
                field="clip_value",
            )
        self.clip_value = float(clip_value)

    def __call__(self, w):
        return keras.ops.clip(w, -self.clip_value, self.clip_value)

    def get_config(self) -> dict:
        return {"clip_value": self.clip_value}


@keras.saving.register_keras_serializable(package="hea_zoo")
class WCGAN(ConditionalGenerator):
    """Wasserstein conditional GAN for composition generation.

    The generator maps `(z, c)` to `x = softmax(g(z, c))`; the critic scores
    pairs `f(x, c)`. Per generator step the critic takes `n_critic` steps on

        L_critic = E[f(x_fake, c)] - E[f(x_real, c)]  (+ gp_weight * GP),

    and the generator then minimizes `L_gen = -E[f(x_fake, c)]`. With
    `gradient_penalty=0` (the study's setting) the critic stays
    1-Lipschitz-ish by clipping every critic weight to `[-clip_value,
    clip_value]` after each update (Arjovsky et al., 2017), with RMSprop. With
    `gradient_penalty > 0` clipping is off and the critic loss gets
    `GP = E[(||grad_x_hat f(x_hat, c)||_2 - 1)^2]` at
    `x_hat = a x_real + (1 - a) x_fake`, `a ~ Uniform(0, 1)` per row
    (Gulrajani et al., 2017), with Adam(beta_1=0.5, beta_2=0.9).

    The metrics are `critic_loss`, `generator_loss` and
    `wasserstein_distance` (the critic's estimate `E f(real) - E f(fake)`).

    Reference: Tung, Debnath & Reinhart, "Evaluating generative models for
    inverse design of high-entropy refractory alloys" (the WcGAN of the study).

    Args:
        latent_dim: size of the noise vector.
        hidden_units: widths of the generator's hidden layers.
        critic_units: widths of the critic's hidden layers.
        n_critic: critic steps per generator step.
        clip_value: weight-clipping bound (used when `gradient_penalty == 0`).
        gradient_penalty: weight of the gradient penalty (0: weight clipping).
        **kwargs: `ConditionalGenerator` and `keras.Model` arguments.

    Example:

    ```python
    model = hea_zoo.models.WCGAN(seed=0)
    model.adapt(ds.train.compositions, ds.train.properties)
    model.compile()  # RMSprop for both networks
    model.fit(ds.train.compositions, ds.train.properties, epochs=300, batch_size=64)
    ```
    """

    default_learning_rate = 5e-4
    """Learning rate of the optimizers `compile()` makes when given none."""

    def __init__(
        self,
        latent_dim: int = 8,
        hidden_units: Sequence[int] = (128, 128),
        critic_units: Sequence[int] = (128, 128),
        activation: str = "leaky_relu",
        n_critic: int = 5,
        clip_value: float = 0.01,
        gradient_penalty: float = 0.0,
        **kwargs,
    ):
        super().__init__(
            latent_dim=latent_dim,
            hidden_units=hidden_units,
            activation=activation,
            loss_names=("critic_loss", "generator_loss", "wasserstein_distance"),
            **kwargs,
        )
        # === Config ===
        self.critic_units = validation.units_tuple(critic_units, "critic_units")
        self.n_critic = validation.positive_int(n_critic, "n_critic")
        self.clip_value = validation.positive_number(clip_value, "clip_value")
        self.gradient_penalty = validation.nonnegative_number(gradient_penalty, "gradient_penalty")

        # === Networks ===
        e, c, k = self.n_elements, self.n_conditions, self.latent_dim
        self.generator = build_mlp(
            (k, c), ("noise", "condition"), e, self.hidden_units, self.activation, "generator"
        )
        clip = None if self.gradient_penalty > 0 else ClipConstraint(self.clip_value)
        self.critic = build_mlp(
            (e, c),
            ("composition", "condition"),
            1,
            self.critic_units,
            self.activation,
            "critic",
            kernel_constraint=clip,
            bias_constraint=clip,
        )

        self.d_optimizer = None
        self.g_optimizer = None
        self.built = True

    # ---------------------------------------------------------------- compile
    def default_optimizer(self) -> keras.optimizers.Optimizer:
        """RMSprop(`default_learning_rate`) with weight clipping; Adam(`default_learning_rate`,
        0.5, 0.9) with the gradient penalty. Another rate is a training setting: pass the
        optimizers to `compile` (it is not part of the model's config)."""
        if self.gradient_penalty > 0:
            return keras.optimizers.Adam(self.default_learning_rate, beta_1=0.5, beta_2=0.9)
        return keras.optimizers.RMSprop(self.default_learning_rate)

    def optimizers(self) -> list:
        """The critic's and the generator's optimizers."""
        return [o for o in (self.d_optimizer, self.g_optimizer) if o is not None]

    def compile(self, d_optimizer=None, g_optimizer=None, **kwargs):
        """Configures the two optimizers.

        Args:
            d_optimizer: critic optimizer (instance, name or config). Default:
                RMSprop(`default_learning_rate`) with weight clipping,
                Adam(`default_learning_rate`, 0.5, 0.9) with the gradient penalty.
            g_optimizer: generator optimizer, same default.
            **kwargs: other `keras.Model.compile` arguments (e.g.
                `steps_per_execution`, `run_eagerly`).
        """
        if "optimizer" in kwargs:
            raise UsageError(
                "WCGAN trains two networks: pass `d_optimizer=` (critic) and "
                "`g_optimizer=` (generator) instead of `optimizer=`.",
                field="optimizer",
            )
        for key in ("loss", "metrics"):
            if kwargs.get(key) is not None:
                raise UsageError(
                    f"WCGAN defines its own losses and metrics. Received: {key}={kwargs[key]!r}",
                    field=key,
                )
        self.d_optimizer = (
            self.default_optimizer() if d_optimizer is None else keras.optimizers.get(d_optimizer)
        )
        self.g_optimizer = (
            self.default_optimizer() if g_optimizer is None else keras.optimizers.get(g_optimizer)
        )
        keras.Model.compile(self, optimizer=self.g_optimizer, **kwargs)
        self.d_optimizer.build(self.critic.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)
        self._compile_kwargs = dict(kwargs)

    def get_compile_config(self) -> dict | None:
        if self.d_optimizer is None:
            return None
        config = {
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
        }
        for key in ("steps_per_execution", "run_eagerly", "jit_compile"):
            if key in getattr(self, "_compile_kwargs", {}):
                config[key] = self._compile_kwargs[key]
        return config

    def compile_from_config(self, config: dict) -> None:
        config = dict(config)
        d = keras.saving.deserialize_keras_object(config.pop("d_optimizer"))
        g = keras.saving.deserialize_keras_object(config.pop("g_optimizer"))
        self.compile(d_optimizer=d, g_optimizer=g, **config)

    # --------------------------------------------------------------- networks
    def _decode_logits(self, latent: tf.Tensor, normalized_conditions: tf.Tensor) -> tf.Tensor:
        return self.generator([latent, normalized_conditions])

    def _fake(self, cn, training):
        z = self.random_normal((tf.shape(cn)[0], self.latent_dim))
        return tf.nn.softmax(self.generator([z, cn], training=training), axis=-1)

    def _critic_loss(self, x, cn, fake, sample_weight):
        real_score = weighted_mean(self.critic([x, cn], training=True), sample_weight)
        fake_score = weighted_mean(self.critic([fake, cn], training=True), sample_weight)
        distance = real_score - fake_score
        loss = -distance
        if self.gradient_penalty > 0:
            alpha = self.random_uniform((tf.shape(x)[0], 1))
            mixed = alpha * x + (1.0 - alpha) * fake
            with tf.GradientTape() as gp_tape:
                gp_tape.watch(mixed)
                score = self.critic([mixed, cn], training=True)
            grads = gp_tape.gradient(score, mixed)
            norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=-1) + 1e-12)
            loss = loss + self.gradient_penalty * weighted_mean(tf.square(norm - 1.0), sample_weight)
        return loss, distance

    def _generator_loss(self, cn, sample_weight, training):
        fake = self._fake(cn, training=training)
        return -weighted_mean(self.critic([fake, cn], training=training), sample_weight)

    # ---------------------------------------------------------------- training
    def compute_losses(self, x, c, sample_weight, training):
        """Critic and generator losses on one batch, without updates (`test_step`)."""
        cn = self.normalize_conditions(c)
        fake = self._fake(cn, training=training)
        real_score = weighted_mean(self.critic([x, cn], training=training), sample_weight)
        fake_score = weighted_mean(self.critic([fake, cn], training=training), sample_weight)
        return {
            "critic_loss": fake_score - real_score,
            "generator_loss": -fake_score,
            "wasserstein_distance": real_score - fake_score,
        }

    def train_step(self, data):
        # Two optimizers: `n_critic` critic steps, then one generator step; the base's
        # unpacking, replica scaling and trackers.
        x, c, sample_weight = self.unpack(data)
        weight = batch_weight(x, sample_weight)
        cn = self.normalize_conditions(c)
        critic_weights = self.critic.trainable_weights

        def critic_step(step, d_loss, distance):
            fake = tf.stop_gradient(self._fake(cn, training=True))
            with tf.GradientTape() as tape:
                d_loss, distance = self._critic_loss(x, cn, fake, sample_weight)
                scaled = scale_for_replicas(d_loss, weight)
            grads = tape.gradient(scaled, critic_weights)
            self.d_optimizer.apply_gradients(zip(grads, critic_weights))
            return step + 1, d_loss, distance

        state = (tf.constant(0), tf.constant(0.0), tf.constant(0.0))
        if tf.distribute.has_strategy():
            # Under a strategy the optimizer's all-reduce cannot sit in a graph loop.
            for _ in range(self.n_critic):
                state = critic_step(*state)
        else:
            # A graph loop: the critic step is traced once, not `n_critic` times.
            state = tf.while_loop(lambda step, *_: step < self.n_critic, critic_step, state)
        _, d_loss, distance = state
        generator_weights = self.generator.trainable_weights
        with tf.GradientTape() as tape:
            g_loss = self._generator_loss(cn, sample_weight, training=True)
            scaled = scale_for_replicas(g_loss, weight)
        grads = tape.gradient(scaled, generator_weights)
        self.g_optimizer.apply_gradients(zip(grads, generator_weights))
        return self.record(
            {"critic_loss": d_loss, "generator_loss": g_loss, "wasserstein_distance": distance},
            weight,
        )

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "critic_units": list(self.critic_units),
                "n_critic": self.n_critic,
                "clip_value": self.clip_value,
                "gradient_penalty": self.gradient_penalty,
            }
        )
        return config

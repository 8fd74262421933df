"""Conditional variational autoencoder (cVAE)."""

from __future__ import annotations

from typing import Sequence

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from hea_zoo.models.base import (
    ConditionalGenerator,
    _replica_mean,
    build_mlp,
    scale_for_replicas,
)

tfd = tfp.distributions

_SCALE_EPS = 1e-5


@keras.saving.register_keras_serializable(package="hea_zoo")
class CVAE(ConditionalGenerator):
    """Conditional variational autoencoder for composition generation.

    The encoder outputs `2 * latent_dim` numbers per row, the location and raw
    scale of a diagonal Gaussian posterior

        q(z | x, c) = MultivariateNormalDiag(loc, softplus(raw) + 1e-5),

    batch shape `(batch,)`, event shape `(latent_dim,)` (see `posterior`). The
    prior is `p(z) = N(0, I)`; the decoder maps `(z, c)` to
    `x_hat = softmax(g(z, c))`. The loss is the negative ELBO with a weight on
    the KL term,

        loss = E_q[rec(x, x_hat)] + beta_t * KL(q(z | x, c) || p(z)),

    with the KL from `tfd.kl_divergence` and `z = loc + scale * eps`
    (reparameterized). `beta_t` rises linearly from 0 to `beta` over
    `kl_warmup_steps` optimizer steps (KL annealing; 0 disables it).

    Reference: Tung, Debnath & Reinhart, "Evaluating generative models for
    inverse design of high-entropy refractory alloys" (the cVAE of the study);
    Sohn, Lee & Yan, "Learning structured output representation using deep
    conditional generative models", NeurIPS 2015.

    Args:
        latent_dim: size of the latent code.
        hidden_units: widths of the hidden layers (the decoder mirrors them).
        beta: weight of the KL term.
        kl_warmup_steps: optimizer steps over which the KL weight ramps up.
        reconstruction: `"mse"` or `"crossentropy"` (see
            `ConditionalGenerator.reconstruction_error`).
        **kwargs: `ConditionalGenerator` and `keras.Model` arguments.

    Example:

    ```python
    model = hea_zoo.models.CVAE(beta=0.05, seed=0)
    model.fit(ds.train.compositions, ds.train.properties, epochs=200, batch_size=32)
    q = model.posterior(ds.train.compositions[:4], ds.train.properties[:4])
    q.batch_shape, q.event_shape  # (4,), (latent_dim,)
    ```
    """

    def __init__(
        self,
        latent_dim: int = 8,
        hidden_units: Sequence[int] = (128, 128),
        beta: float = 1.0,
        kl_warmup_steps: int = 0,
        reconstruction: str = "mse",
        **kwargs,
    ):
        super().__init__(latent_dim=latent_dim, hidden_units=hidden_units, **kwargs)
        # === Config ===
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or beta < 0:
            raise ValueError(f"`beta` must be a nonnegative number. Received: beta={beta!r}")
        self.beta = float(beta)
        if isinstance(kl_warmup_steps, bool) or not isinstance(kl_warmup_steps, int) or kl_warmup_steps < 0:
            raise ValueError(
                "`kl_warmup_steps` must be a nonnegative integer. "
                f"Received: kl_warmup_steps={kl_warmup_steps!r}"
            )
        self.kl_warmup_steps = int(kl_warmup_steps)
        self.reconstruction = self._check_reconstruction(reconstruction)

        # === Networks ===
        e, c, k = self.n_elements, self.n_conditions, self.latent_dim
        self.encoder = build_mlp(
            (e, c), ("composition", "condition"), 2 * k, self.hidden_units, self.activation, "encoder"
        )
        self.decoder = build_mlp(
            (k, c), ("latent", "condition"), e, self.hidden_units[::-1], self.activation, "decoder"
        )

        # === Trackers ===
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_tracker = keras.metrics.Mean(name="kl_loss")
        self.built = True

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]

    # --------------------------------------------------------------- networks
    def _posterior_normalized(self, x, normalized_conditions, training=False):
        params = self.encoder([tf.cast(x, "float32"), normalized_conditions], training=training)
        loc, raw_scale = tf.split(params, 2, axis=-1)
        return tfd.MultivariateNormalDiag(
            loc=loc, scale_diag=tf.nn.softplus(raw_scale) + _SCALE_EPS
        )

    def posterior(self, compositions, conditions) -> tfd.MultivariateNormalDiag:
        """The approximate posterior `q(z | x, c)`.

        Args:
            compositions: `(batch, n_elements)` fractions.
            conditions: `(batch, n_conditions)` in physical units.

        Returns:
            `tfd.MultivariateNormalDiag` with batch shape `(batch,)` and event
            shape `(latent_dim,)`; scale `softplus(raw) + 1e-5`.
        """
        return self._posterior_normalized(compositions, self.normalize_conditions(conditions))

    def prior(self, batch_size: int | tf.Tensor = 1) -> tfd.MultivariateNormalDiag:
        """The prior `N(0, I)` with batch shape `(batch_size,)`."""
        loc = tf.zeros(tf.stack([batch_size, self.latent_dim]), "float32")
        return tfd.MultivariateNormalDiag(loc=loc, scale_diag=tf.ones_like(loc))

    def _decode_logits(self, latent: tf.Tensor, normalized_conditions: tf.Tensor) -> tf.Tensor:
        return self.decoder([latent, normalized_conditions])

    # ---------------------------------------------------------------- training
    def current_beta(self) -> tf.Tensor:
        """The KL weight at the current optimizer step (after annealing)."""
        if self.kl_warmup_steps == 0 or self.optimizer is None:
            return tf.constant(self.beta, "float32")
        step = tf.cast(self.optimizer.iterations, "float32")
        return self.beta * tf.minimum(1.0, (step + 1.0) / float(self.kl_warmup_steps))

    def _elbo_terms(self, x, c, sample_weight, training):
        cn = self.normalize_conditions(c)
        q = self._posterior_normalized(x, cn, training=training)
        loc = q.mean()
        eps = keras.random.normal(tf.shape(loc), seed=self.seed_generator)
        z = loc + q.stddev() * eps
        x_hat = tf.nn.softmax(self.decoder([z, cn], training=training), axis=-1)
        rec = self.reconstruction_error(x, x_hat, self.reconstruction)
        kl = tfd.kl_divergence(q, self.prior(tf.shape(loc)[0]))
        rec = _replica_mean(rec, sample_weight)
        kl = _replica_mean(kl, sample_weight)
        return rec, kl

    def train_step(self, data):
        x, c, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        x = tf.cast(x, "float32")
        beta = self.current_beta()
        with tf.GradientTape() as tape:
            rec, kl = self._elbo_terms(x, c, sample_weight, training=True)
            loss = rec + beta * kl
            scaled = scale_for_replicas(loss)
        weights = self.encoder.trainable_weights + self.decoder.trainable_weights
        grads = tape.gradient(scaled, weights)
        self.optimizer.apply_gradients(zip(grads, weights))
        # The reported loss uses the full beta, so epochs are comparable.
        self.loss_tracker.update_state(rec + self.beta * kl)
        self.reconstruction_tracker.update_state(rec)
        self.kl_tracker.update_state(kl)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x, c, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        rec, kl = self._elbo_terms(tf.cast(x, "float32"), c, sample_weight, training=False)
        self.loss_tracker.update_state(rec + self.beta * kl)
        self.reconstruction_tracker.update_state(rec)
        self.kl_tracker.update_state(kl)
        return {m.name: m.result() for m in self.metrics}

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "beta": self.beta,
                "kl_warmup_steps": self.kl_warmup_steps,
                "reconstruction": self.reconstruction,
            }
        )
        return config

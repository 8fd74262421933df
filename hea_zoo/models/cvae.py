"""Conditional variational autoencoder (cVAE)."""

from __future__ import annotations

from typing import Sequence

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from hea_zoo.errors import UsageError
from hea_zoo.models import validation
from hea_zoo.models.base import ConditionalGenerator, build_mlp, weighted_mean

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
    model.adapt(ds.train.compositions, ds.train.properties)
    model.compile()
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
        super().__init__(
            latent_dim=latent_dim,
            hidden_units=hidden_units,
            loss_names=("loss", "reconstruction_loss", "kl_loss"),
            **kwargs,
        )
        # === Config ===
        self.beta = validation.nonnegative_number(beta, "beta")
        if isinstance(kl_warmup_steps, bool) or not isinstance(kl_warmup_steps, int) or kl_warmup_steps < 0:
            raise UsageError(
                "must be a nonnegative integer. "
                f"Received: kl_warmup_steps={kl_warmup_steps!r}",
                field="kl_warmup_steps",
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

        self.built = True

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

    def compute_losses(self, x, c, sample_weight, training):
        """Negative ELBO terms; the optimized loss weighs the KL by the annealed beta.

        The reported `loss` uses the full `beta` (epochs stay comparable), the
        optimized one `current_beta()`.
        """
        cn = self.normalize_conditions(c)
        q = self._posterior_normalized(x, cn, training=training)
        loc = q.mean()
        z = loc + q.stddev() * self.random_normal(tf.shape(loc))
        x_hat = tf.nn.softmax(self.decoder([z, cn], training=training), axis=-1)
        rec = weighted_mean(self.reconstruction_error(x, x_hat, self.reconstruction), sample_weight)
        kl = weighted_mean(tfd.kl_divergence(q, self.prior(tf.shape(loc)[0])), sample_weight)
        return {
            "loss": rec + self.current_beta() * kl if training else rec + self.beta * kl,
            "reconstruction_loss": rec,
            "kl_loss": kl,
        }

    def record(self, losses, weight=None):
        # The tracked loss is the full-beta negative ELBO, also while beta anneals.
        full = losses["reconstruction_loss"] + self.beta * losses["kl_loss"]
        return super().record({**losses, "loss": full}, weight)

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

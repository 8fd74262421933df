"""Conditional autoencoder (cAE)."""

from __future__ import annotations

from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from hea_zoo.errors import UsageError
from hea_zoo.models import validation
from hea_zoo.models.base import ConditionalGenerator, build_mlp, weighted_mean


def _squared_correlation(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """Sum of squared batch correlations between the columns of `a` and of `b`."""
    a = a - tf.reduce_mean(a, axis=0)
    b = b - tf.reduce_mean(b, axis=0)
    a = a / tf.sqrt(tf.reduce_mean(tf.square(a), axis=0) + 1e-6)
    b = b / tf.sqrt(tf.reduce_mean(tf.square(b), axis=0) + 1e-6)
    corr = tf.matmul(a, b, transpose_a=True) / tf.cast(tf.shape(a)[0], a.dtype)
    return tf.reduce_sum(tf.square(corr))


def _replica_sum(value: tf.Tensor) -> tf.Tensor:
    """Sum of `value` over the replicas in sync (itself on one device)."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return context.all_reduce("SUM", value)


@keras.saving.register_keras_serializable(package="hea_zoo")
class CAE(ConditionalGenerator):
    """Conditional autoencoder for composition generation.

    A deterministic encoder maps a composition and its (normalized) properties
    to a latent code, `z = f(x, c)`; a decoder maps it back,
    `x_hat = softmax(g(z, c))`, trained on the reconstruction error. Generation
    decodes `mu + L eps`, `eps ~ N(0, I)`, from a Gaussian `N(mu, L L^T)` of the
    encoded training latents, so `decode(z, c)` takes standard-normal `z` like every
    hea_zoo generator.

    The Gaussian is a running statistic, like BatchNormalization's moving mean: after
    each optimizer step, `train_step` encodes the batch with the updated encoder and
    moves the stored mean `latent_mean` and second moment `latent_second_moment`
    towards the batch's (weight `1 - m` with `m = min(latent_momentum, t / (t + 1))`
    at the `t`-th step, so the first steps average rather than decay from the
    initial values), then stores the Cholesky factor of the covariance
    `S - mu mu^T` in `latent_cholesky`. Decoding and exports are plain matmuls on
    these non-trainable weights. Under a `tf.distribute` strategy the batch moments are
    summed over the replicas first, so every replica stores the same Gaussian.

    Reference: Tung, Debnath & Reinhart, "Evaluating generative models for
    inverse design of high-entropy refractory alloys" (the cAE of the study).

    Args:
        latent_dim: size of the latent code.
        hidden_units: widths of the hidden layers of encoder and decoder (the
            decoder mirrors them).
        reconstruction: `"mse"` (sum of squared errors over elements) or
            `"crossentropy"` (`-sum x log x_hat`).
        latent_noise: standard deviation of Gaussian noise added to the latent
            code during training (0 disables); it keeps the decoder smooth
            around the training codes, which sampling from the fitted Gaussian
            relies on.
        decorrelation: weight of a penalty on the squared batch correlations
            between latent codes and conditions, `sum_ij corr(z_i, c_j)^2`.
            Generation draws `z` independently of `c`, so a code that also
            encodes the properties pulls designs off target; the penalty
            pushes property information out of `z` and into the condition
            input (0 disables).
        latent_momentum: momentum `m` in [0, 1) of the running latent statistics
            (0: the last batch's statistics).
        **kwargs: `ConditionalGenerator` arguments (elements, condition names
            and units, activation, seed, model_version) and `keras.Model` ones.

    Example:

    ```python
    model = hea_zoo.models.CAE(seed=0)
    model.adapt(ds.train.compositions, ds.train.properties)
    model.compile()
    model.fit(ds.train.compositions, ds.train.properties, epochs=200, batch_size=32)
    model.generate([[50.0, 6.0]], n_per_condition=5, seed=1).shape  # (1, 5, 22)
    ```
    """

    def __init__(
        self,
        latent_dim: int = 4,
        hidden_units: Sequence[int] = (128, 128),
        reconstruction: str = "mse",
        latent_noise: float = 0.0,
        decorrelation: float = 0.0,
        latent_momentum: float = 0.99,
        **kwargs,
    ):
        super().__init__(
            latent_dim=latent_dim,
            hidden_units=hidden_units,
            loss_names=("loss", "reconstruction_loss") if decorrelation else ("loss",),
            **kwargs,
        )
        # === Config ===
        self.reconstruction = self._check_reconstruction(reconstruction)
        self.latent_noise = validation.nonnegative_number(latent_noise, "latent_noise")
        self.decorrelation = validation.nonnegative_number(decorrelation, "decorrelation")
        self.latent_momentum = validation.nonnegative_number(latent_momentum, "latent_momentum")
        if self.latent_momentum >= 1.0:
            raise UsageError(
                f"must be in [0, 1). Received: latent_momentum={latent_momentum!r}",
                field="latent_momentum",
            )

        # === Networks ===
        e, c, k = self.n_elements, self.n_conditions, self.latent_dim
        self.encoder = build_mlp(
            (e, c), ("composition", "condition"), k, self.hidden_units, self.activation, "encoder"
        )
        self.decoder = build_mlp(
            (k, c), ("latent", "condition"), e, self.hidden_units[::-1], self.activation, "decoder"
        )

        # === Latent Gaussian (running statistics, updated in train_step) ===
        # Every replica assigns the same (all-reduced) values: keep the first's.
        self.latent_mean = self.add_weight(
            shape=(k,), initializer="zeros", trainable=False, name="latent_mean",
            aggregation="only_first_replica",
        )
        self.latent_cholesky = self.add_weight(
            shape=(k, k), initializer="identity", trainable=False, name="latent_cholesky",
            aggregation="only_first_replica",
        )
        self.latent_second_moment = self.add_weight(
            shape=(k, k), initializer="identity", trainable=False, name="latent_second_moment",
            aggregation="only_first_replica",
        )
        self.built = True

    # --------------------------------------------------------------- networks
    def encode(self, compositions: tf.Tensor, conditions: tf.Tensor) -> tf.Tensor:
        """Latent codes `(batch, latent_dim)` of compositions at conditions (physical units)."""
        return self.encoder(
            [tf.cast(compositions, "float32"), self.normalize_conditions(conditions)]
        )

    def _latent_from_noise(self, z: tf.Tensor) -> tf.Tensor:
        return self.latent_mean + tf.matmul(z, self.latent_cholesky, transpose_b=True)

    def _decode_logits(self, latent: tf.Tensor, normalized_conditions: tf.Tensor) -> tf.Tensor:
        return self.decoder([latent, normalized_conditions])

    # ---------------------------------------------------------------- training
    def compute_losses(self, x, c, sample_weight, training):
        cn = self.normalize_conditions(c)
        latent = self.encoder([x, cn], training=training)
        if training and self.latent_noise > 0:
            latent = latent + self.latent_noise * self.random_normal(tf.shape(latent))
        x_hat = tf.nn.softmax(self.decoder([latent, cn], training=training), axis=-1)
        rec = weighted_mean(self.reconstruction_error(x, x_hat, self.reconstruction), sample_weight)
        if self.decorrelation == 0:
            return {"loss": rec}
        loss = rec + self.decorrelation * _squared_correlation(latent, cn)
        return {"loss": loss, "reconstruction_loss": rec}

    def update_statistics(self, x, c, sample_weight):
        """Moves the latent Gaussian towards the batch's latents (after the step)."""
        latent = self.encoder([x, self.normalize_conditions(c)], training=False)
        if sample_weight is None:
            w = tf.ones_like(latent[:, :1])
        else:
            w = tf.reshape(tf.cast(sample_weight, latent.dtype), [-1, 1])
        total = _replica_sum(tf.reduce_sum(w))
        first = _replica_sum(tf.reduce_sum(w * latent, axis=0)) / tf.maximum(total, 1e-12)
        second = _replica_sum(tf.matmul(w * latent, latent, transpose_a=True)) / tf.maximum(
            total, 1e-12
        )
        # The optimizer has counted this step: t = iterations - 1 earlier updates.
        t = tf.cast(self.optimizer.iterations, "float32") - 1.0
        m = tf.minimum(self.latent_momentum, t / (t + 1.0))
        mean = m * self.latent_mean + (1.0 - m) * first
        moment = m * self.latent_second_moment + (1.0 - m) * second
        self.latent_mean.assign(mean)
        self.latent_second_moment.assign(moment)
        self.latent_cholesky.assign(self._cholesky(moment - mean[:, None] * mean[None, :]))

    def _cholesky(self, covariance: tf.Tensor) -> tf.Tensor:
        covariance = 0.5 * (covariance + tf.transpose(covariance))
        k = self.latent_dim
        jitter = 1e-6 * tf.maximum(tf.linalg.trace(covariance) / k, 1e-12)
        return tf.linalg.cholesky(covariance + jitter * tf.eye(k))

    def latent_statistics(self, compositions, conditions, batch_size: int = 4096):
        """Mean and covariance (population) of the encoded latents of the given rows.

        What the running statistics estimate; for checks and diagnostics.
        """
        x, c = self.check_pair(compositions, conditions, "latent_statistics")
        codes = np.concatenate(
            [
                keras.ops.convert_to_numpy(self.encode(x[i : i + batch_size], c[i : i + batch_size]))
                for i in range(0, len(x), batch_size)
            ]
        ).astype("float64")
        return codes.mean(axis=0), np.atleast_2d(np.cov(codes, rowvar=False, bias=True))

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "reconstruction": self.reconstruction,
                "latent_noise": self.latent_noise,
                "decorrelation": self.decorrelation,
                "latent_momentum": self.latent_momentum,
            }
        )
        return config

"""Conditional autoencoder (cAE)."""

from __future__ import annotations

from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from hea_zoo.models.base import (
    ConditionalGenerator,
    _replica_mean,
    build_mlp,
    scale_for_replicas,
)


def _squared_correlation(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """Sum of squared batch correlations between the columns of `a` and of `b`."""
    a = a - tf.reduce_mean(a, axis=0)
    b = b - tf.reduce_mean(b, axis=0)
    a = a / tf.sqrt(tf.reduce_mean(tf.square(a), axis=0) + 1e-6)
    b = b / tf.sqrt(tf.reduce_mean(tf.square(b), axis=0) + 1e-6)
    corr = tf.matmul(a, b, transpose_a=True) / tf.cast(tf.shape(a)[0], a.dtype)
    return tf.reduce_sum(tf.square(corr))


@keras.saving.register_keras_serializable(package="hea_zoo")
class CAE(ConditionalGenerator):
    """Conditional autoencoder for composition generation.

    A deterministic encoder maps a composition and its (normalized) properties
    to a latent code, `z = f(x, c)`; a decoder maps it back,
    `x_hat = softmax(g(z, c))`, trained on the reconstruction error. After
    training, a Gaussian `N(mu, L L^T)` is fitted to the encoded training
    latents and stored in the model (non-trainable weights `latent_mean` and
    `latent_cholesky`); generation decodes `mu + L eps` with `eps ~ N(0, I)`,
    so `decode(z, c)` takes standard-normal `z` like every hea_zoo generator.

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
        **kwargs: `ConditionalGenerator` arguments (elements, condition names
            and units, activation, seed, model_version) and `keras.Model` ones.

    Example:

    ```python
    model = hea_zoo.models.CAE(seed=0)
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
        **kwargs,
    ):
        super().__init__(latent_dim=latent_dim, hidden_units=hidden_units, **kwargs)
        # === Config ===
        self.reconstruction = self._check_reconstruction(reconstruction)
        if not (isinstance(latent_noise, (int, float)) and latent_noise >= 0):
            raise ValueError(
                f"`latent_noise` must be a nonnegative number. Received: latent_noise={latent_noise!r}"
            )
        self.latent_noise = float(latent_noise)
        if not (isinstance(decorrelation, (int, float)) and decorrelation >= 0):
            raise ValueError(
                "`decorrelation` must be a nonnegative number. "
                f"Received: decorrelation={decorrelation!r}"
            )
        self.decorrelation = float(decorrelation)

        # === Networks ===
        e, c, k = self.n_elements, self.n_conditions, self.latent_dim
        self.encoder = build_mlp(
            (e, c), ("composition", "condition"), k, self.hidden_units, self.activation, "encoder"
        )
        self.decoder = build_mlp(
            (k, c), ("latent", "condition"), e, self.hidden_units[::-1], self.activation, "decoder"
        )

        # === Latent Gaussian (fitted after training) ===
        self.latent_mean = self.add_weight(
            shape=(k,), initializer="zeros", trainable=False, name="latent_mean"
        )
        self.latent_cholesky = self.add_weight(
            shape=(k, k), initializer="identity", trainable=False, name="latent_cholesky"
        )

        # === Trackers ===
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.built = True

    @property
    def metrics(self):
        if self.decorrelation > 0:
            return [self.loss_tracker, self.reconstruction_tracker]
        return [self.loss_tracker]

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
    def _batch_loss(self, x, c, sample_weight, training):
        cn = self.normalize_conditions(c)
        latent = self.encoder([x, cn], training=training)
        if training and self.latent_noise > 0:
            latent = latent + self.latent_noise * keras.random.normal(
                tf.shape(latent), seed=self.seed_generator
            )
        x_hat = tf.nn.softmax(self.decoder([latent, cn], training=training), axis=-1)
        per_sample = self.reconstruction_error(x, x_hat, self.reconstruction)
        rec = _replica_mean(per_sample, sample_weight)
        if self.decorrelation == 0:
            return rec, rec
        return rec + self.decorrelation * _squared_correlation(latent, cn), rec

    def train_step(self, data):
        x, c, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        x = tf.cast(x, "float32")
        with tf.GradientTape() as tape:
            loss, rec = self._batch_loss(x, c, sample_weight, training=True)
            scaled = scale_for_replicas(loss)
        weights = self.encoder.trainable_weights + self.decoder.trainable_weights
        grads = tape.gradient(scaled, weights)
        self.optimizer.apply_gradients(zip(grads, weights))
        self.loss_tracker.update_state(loss)
        self.reconstruction_tracker.update_state(rec)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x, c, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        loss, rec = self._batch_loss(tf.cast(x, "float32"), c, sample_weight, training=False)
        self.loss_tracker.update_state(loss)
        self.reconstruction_tracker.update_state(rec)
        return {m.name: m.result() for m in self.metrics}

    def fit_latent_gaussian(self, compositions, conditions, batch_size: int = 4096) -> None:
        """Fits `N(mu, L L^T)` to the encoded latents and stores it in the model.

        `fit` calls this on its training arrays; call it yourself after fitting
        on a `tf.data.Dataset`.
        """
        x, c = self._check_pair(compositions, conditions, "fit_latent_gaussian")
        codes = np.concatenate(
            [
                keras.ops.convert_to_numpy(self.encode(x[i : i + batch_size], c[i : i + batch_size]))
                for i in range(0, len(x), batch_size)
            ]
        ).astype("float64")
        mean = codes.mean(axis=0)
        if len(codes) > 1:
            cov = np.atleast_2d(np.cov(codes, rowvar=False))
        else:
            cov = np.eye(self.latent_dim)
        jitter = 1e-6 * max(float(np.trace(cov)) / self.latent_dim, 1e-12)
        chol = np.linalg.cholesky(cov + jitter * np.eye(self.latent_dim))
        self.latent_mean.assign(mean.astype("float32"))
        self.latent_cholesky.assign(chol.astype("float32"))

    def _after_fit(self, compositions, conditions) -> None:
        if compositions is not None:
            self.fit_latent_gaussian(compositions, conditions)

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "reconstruction": self.reconstruction,
                "latent_noise": self.latent_noise,
                "decorrelation": self.decorrelation,
            }
        )
        return config

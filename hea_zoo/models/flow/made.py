"""`ConditionalMADE`: the flow's presence model, autoregressive Bernoulli logits over
which elements are present, given a condition."""

from __future__ import annotations

import math
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from hea_zoo.models import validation

FORCE_LOGIT = 30.0  # sigmoid(30) == 1 in float32


@keras.saving.register_keras_serializable(package="hea_zoo")
class ConditionalMADE(keras.layers.Layer):
    """Autoregressive Bernoulli logits over presence bits, given a condition.

    A masked MLP (MADE) whose output `l_j` depends on the bits `b_<j` (element order)
    and on the condition only, so

        log P(b | c) = sum_j [b_j log sigmoid(l_j) + (1 - b_j) log sigmoid(-l_j)]

    is exact and normalized. At least one bit is set: when no earlier bit is set, the
    last bit's logit is +30 (probability 1 in float32).

    Args:
        n_bits: number of bits (elements).
        n_conditions: width of the condition input.
        hidden_units: widths of the masked hidden layers.
        activation: hidden activation.
        **kwargs: `keras.layers.Layer` arguments.
    """

    def __init__(
        self,
        n_bits: int,
        n_conditions: int,
        hidden_units: Sequence[int] = (128,),
        activation: str = "relu",
        **kwargs,
    ):
        super().__init__(**kwargs)
        # === Config ===
        self.n_bits = int(n_bits)
        self.n_conditions = int(n_conditions)
        self.hidden_units = validation.units_tuple(hidden_units, "presence_units")
        self.activation = activation
        self._act = keras.activations.get(activation)

        # === Masks (a function of the config) ===
        # Degrees as in MADE: input bit j has degree j + 1; a hidden unit of degree m
        # sees the bits of degree <= m; output j sees hidden units of degree < j + 1 and
        # the bits before it. The condition feeds the first and the output layer unmasked.
        e, c = self.n_bits, self.n_conditions
        input_degrees = np.arange(1, e + 1)
        degrees = [np.arange(u) % max(e - 1, 1) + 1 for u in self.hidden_units]
        first = input_degrees[:, None] <= degrees[0][None, :]
        masks = [np.concatenate([first, np.ones((c, len(degrees[0])))])]
        for prev, cur in zip(degrees[:-1], degrees[1:]):
            masks.append(prev[:, None] <= cur[None, :])
        masks.append(
            np.concatenate(
                [
                    degrees[-1][:, None] < input_degrees[None, :],
                    input_degrees[:, None] < input_degrees[None, :],
                    np.ones((c, e)),
                ]
            )
        )
        self._masks = [m.astype("float32") for m in masks]
        self.build()

    def build(self, input_shape=None):
        if self.built:
            return
        e, c = self.n_bits, self.n_conditions
        widths_in = (e + c, *self.hidden_units[:-1], self.hidden_units[-1] + e + c)
        widths_out = (*self.hidden_units, e)
        self.kernels, self.biases = [], []
        for i, (n_in, n_out) in enumerate(zip(widths_in, widths_out)):
            last = i == len(widths_out) - 1
            self.kernels.append(
                self.add_weight(
                    shape=(n_in, n_out), initializer="zeros" if last else "glorot_uniform", name=f"kernel_{i}"
                )
            )
            self.biases.append(self.add_weight(shape=(n_out,), initializer="zeros", name=f"bias_{i}"))
        self.built = True

    def _masked_kernels(self) -> list[tf.Tensor]:
        return [k * m for k, m in zip(self.kernels, self._masks)]

    def _logits(self, b: tf.Tensor, c: tf.Tensor, kernels: list[tf.Tensor]) -> tf.Tensor:
        h = tf.concat([b, c], axis=-1)
        for kernel, bias in zip(kernels[:-1], self.biases[:-1]):
            h = self._act(tf.nn.bias_add(tf.matmul(h, kernel), bias))
        h = tf.concat([h, b, c], axis=-1)
        return tf.nn.bias_add(tf.matmul(h, kernels[-1]), self.biases[-1])

    def _force_last(self, b: tf.Tensor, logits_last: tf.Tensor) -> tf.Tensor:
        none_before = tf.reduce_sum(b[:, : self.n_bits - 1], axis=-1) < 0.5
        return tf.where(none_before, tf.fill(tf.shape(logits_last), FORCE_LOGIT), logits_last)

    def call(self, bits: tf.Tensor, condition: tf.Tensor) -> tf.Tensor:
        """Logits `(batch, n_bits)`: `l_j` from `bits[:, :j]` and `condition`."""
        b = tf.cast(bits, "float32")
        logits = self._logits(b, tf.cast(condition, "float32"), self._masked_kernels())
        last = self._force_last(b, logits[:, -1])
        return tf.concat([logits[:, :-1], last[:, None]], axis=-1)

    def log_prob(self, bits: tf.Tensor, condition: tf.Tensor) -> tf.Tensor:
        """`log P(bits | condition)`, `(batch,)` nats."""
        b = tf.cast(bits, "float32")
        logits = self(b, condition)
        # b log sigmoid(l) + (1 - b) log sigmoid(-l) = b l - softplus(l)  (ONNX has Softplus)
        return tf.reduce_sum(b * logits - tf.nn.softplus(logits), axis=-1)

    def sample(self, noise: tf.Tensor, condition: tf.Tensor) -> tf.Tensor:
        """Bits from standard-normal noise `(batch, n_bits)`, deterministically.

        Bit `j` is set when `Phi(noise_j) < sigmoid(l_j)`, in element order (one pass of
        the network per bit, the masked weights computed once).
        """
        noise = tf.cast(noise, "float32")
        c = tf.cast(condition, "float32")
        kernels = self._masked_kernels()
        u = 0.5 * (1.0 + tf.math.erf(noise * (1.0 / math.sqrt(2.0))))
        b = tf.zeros_like(noise)
        eye = np.eye(self.n_bits, dtype="float32")
        for j in range(self.n_bits):
            logit = self._logits(b, c, kernels)[:, j]
            if j == self.n_bits - 1:
                logit = self._force_last(b, logit)
            bit = tf.cast(u[:, j] < tf.sigmoid(logit), "float32")
            if j == self.n_bits - 1:  # exact even where Phi(noise) rounds to 1
                bit = tf.maximum(bit, tf.cast(tf.reduce_sum(b, axis=-1) < 0.5, "float32"))
            b = b + bit[:, None] * eye[j]
        return b

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "n_bits": self.n_bits,
                "n_conditions": self.n_conditions,
                "hidden_units": list(self.hidden_units),
                "activation": self.activation,
            }
        )
        return config

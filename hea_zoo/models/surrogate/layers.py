"""`EnsembleDense`: the layer of every member of the surrogate's ensemble at once."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from hea_zoo.models import validation


@keras.saving.register_keras_serializable(package="hea_zoo")
class EnsembleDense(keras.layers.Layer):
    """A dense layer for each of `members` networks, applied as one batched matmul.

    Input `(batch, in)` (the same rows for every member) or `(members, batch, in)`;
    output `(members, batch, units)`: `activation(x @ kernel[m] + bias[m])` for each
    member `m`. Each member's kernel is Glorot-uniform over its own `(in, units)`.

    Args:
        members: number of networks.
        units: output width.
        activation: activation name.
        seed: seed of the kernel initializer.
        **kwargs: `keras.layers.Layer` arguments.
    """

    def __init__(self, members: int, units: int, activation: str | None = None, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.members = validation.positive_int(members, "members")
        self.units = validation.positive_int(units, "units")
        self.activation = keras.activations.get(activation)
        self._activation_name = activation
        self.seed = seed

    def build(self, input_shape):
        fan_in = int(input_shape[-1])
        limit = float(np.sqrt(6.0 / (fan_in + self.units)))
        self.kernel = self.add_weight(
            shape=(self.members, fan_in, self.units),
            initializer=keras.initializers.RandomUniform(-limit, limit, seed=self.seed),
            name="kernel",
        )
        self.bias = self.add_weight(
            shape=(self.members, 1, self.units), initializer="zeros", name="bias"
        )

    def load_own_variables(self, store):
        if getattr(self, "_loaded_from_legacy", False):
            return  # set by `Surrogate` from a file of model_version 1
        super().load_own_variables(store)

    def call(self, inputs):
        if len(inputs.shape) == 2:
            inputs = inputs[None]  # the same rows for every member (broadcast)
        return self.activation(tf.matmul(inputs, self.kernel) + self.bias)

    def compute_output_shape(self, input_shape):
        return (self.members, input_shape[-2], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "members": self.members,
                "units": self.units,
                "activation": self._activation_name,
                "seed": self.seed,
            }
        )
        return config

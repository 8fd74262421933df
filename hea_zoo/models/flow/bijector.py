"""`RankOneUpdate`: the symmetric square root of `I + v v^T` as a TFP bijector, the
correlated part of the flow's base-to-data map."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

tfb = tfp.bijectors


def rank_one_factors(v: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """`(u, a)` of `I + a u u^T`, the symmetric square root of `I + v v^T` (`RankOneUpdate`)."""
    squared = tf.reduce_sum(tf.square(v), axis=-1, keepdims=True)
    return v * tf.math.rsqrt(tf.maximum(squared, 1e-30)), tf.sqrt(1.0 + squared) - 1.0


def rank_one_inverse(y: tf.Tensor, u: tf.Tensor, a: tf.Tensor) -> tf.Tensor:
    """`(I + a u u^T)^-1 y = y - a / (1 + a) u (u . y)`."""
    return y - a / (1.0 + a) * u * tf.reduce_sum(u * y, axis=-1, keepdims=True)


class RankOneUpdate(tfb.Bijector):
    """`y = (I + a u u^T) x` with `u = v / |v|`, `a = sqrt(1 + |v|^2) - 1`.

    The symmetric square root of `I + v v^T`: a standard-normal `x` gives `y ~ N(0, I +
    v v^T)`. Inverse `x = y - a / (1 + a) u (u . y)`; `log |det| = log(1 + a)`. Plain
    TensorFlow ops in both directions (no Cholesky or triangular solve, so both convert
    to ONNX). `v = 0` is the identity; coordinates where `v` is 0 are left unchanged.

    Args:
        v: `(batch, n)` update vectors.
    """

    def __init__(self, v, validate_args=False, name="rank_one_update"):
        parameters = dict(locals())
        with tf.name_scope(name) as name:
            self._v = tf.convert_to_tensor(v, "float32")
            self._u, self._a = rank_one_factors(self._v)
            super().__init__(
                forward_min_event_ndims=1,
                is_constant_jacobian=True,
                validate_args=validate_args,
                parameters=parameters,
                name=name,
            )

    @classmethod
    def _parameter_properties(cls, dtype, num_classes=None):
        return dict(v=tfp.util.ParameterProperties(event_ndims=1))

    def _forward(self, x):
        return x + self._a * self._u * tf.reduce_sum(self._u * x, axis=-1, keepdims=True)

    def _inverse(self, y):
        return rank_one_inverse(y, self._u, self._a)

    def _forward_log_det_jacobian(self, x):
        return tf.math.log(1.0 + self._a[..., 0])  # (ONNX has no Log1p)

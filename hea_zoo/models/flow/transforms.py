"""The flow's fraction transform: compositions <-> additive log-ratios against the last
present element, with every present element floored at the threshold (the maths are in
`hea_zoo.models.flow`)."""

from __future__ import annotations

import math

import tensorflow as tf

THRESHOLD_SLACK = 1e-7  # a float32 copy of a printed 0.005 counts as present (as artifact.py)
MIN_W = 1e-7  # floor of w inside the log (a fraction exactly at the threshold)
ABSENT_LOGIT = -1e9
LOG_2PI = math.log(2.0 * math.pi)


def reference_mask(presence: tf.Tensor) -> tf.Tensor:
    """One-hot `(batch, E)` of the reference element: the last present one."""
    after = tf.cumsum(presence, axis=-1, exclusive=True, reverse=True)
    return presence * tf.cast(after < 0.5, presence.dtype)


def composition_to_log_ratios(x: tf.Tensor, threshold: float):
    """The flow's coordinates of compositions.

    Args:
        x: `(batch, E)` fractions.
        threshold: presence threshold `t`.

    Returns:
        `(presence, active, y, log_jacobian)`: presence bits `b` (x >= t), active
        coordinates (present minus the reference), log-ratios `y` (0 off the active
        coordinates) and `log |dy/dx|` over the k - 1 free fractions, all `(batch, E)`
        except `log_jacobian` `(batch,)`.
    """
    x = tf.cast(x, "float32")
    presence = tf.cast(x >= threshold - THRESHOLD_SLACK, "float32")
    kept = x * presence
    kept = kept / tf.reduce_sum(kept, axis=-1, keepdims=True)
    k = tf.reduce_sum(presence, axis=-1)
    room = 1.0 - k * threshold
    w = (kept - threshold * presence) / room[:, None]
    log_w = tf.math.log(tf.maximum(w, MIN_W)) * presence
    reference = reference_mask(presence)
    active = presence - reference
    log_w_ref = tf.reduce_sum(log_w * reference, axis=-1, keepdims=True)
    y = (log_w - log_w_ref) * active
    log_jacobian = -tf.reduce_sum(log_w, axis=-1) - (k - 1.0) * tf.math.log(room)
    return presence, active, y, log_jacobian


def log_ratios_to_composition(y: tf.Tensor, presence: tf.Tensor, threshold: float) -> tf.Tensor:
    """Inverse of `composition_to_log_ratios`: exact zeros off the presence pattern."""
    active = presence - reference_mask(presence)
    logits = tf.where(presence > 0.5, y * active, tf.fill(tf.shape(y), ABSENT_LOGIT))
    w = tf.nn.softmax(logits, axis=-1)
    k = tf.reduce_sum(presence, axis=-1, keepdims=True)
    return threshold * presence + (1.0 - k * threshold) * w


def masked_normal_log_prob(z: tf.Tensor, active: tf.Tensor) -> tf.Tensor:
    """`sum_j active_j * log N(z_j; 0, 1)`, `(batch,)`."""
    return tf.reduce_sum(active * (-0.5 * tf.square(z) - 0.5 * LOG_2PI), axis=-1)

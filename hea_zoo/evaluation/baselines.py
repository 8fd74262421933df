"""Research baselines the generators are measured against (not models of the zoo).

`gaussian_baseline_nll`: the flow's presence model with a full-covariance Gaussian in
place of its fraction flow, fitted by its own training loop; `benchmarks/flow_nll.py`
and `docs/FLOW.md` set the flow's held-out likelihood beside it.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from hea_zoo.errors import UsageError
from hea_zoo.models.flow.model import CFlow
from hea_zoo.models.flow.transforms import LOG_2PI, composition_to_log_ratios, reference_mask

__all__ = ["gaussian_baseline_nll"]


def _masked_gaussian_log_prob(y, active, mean, cov):
    """log N(y_A; mean_A, cov_AA) over each row's active coordinates A, `(batch,)`.

    Inactive coordinates get unit variance and zero residual, so the full-size Cholesky
    factorization gives the active block's log-determinant and quadratic form.
    """
    a = active[:, :, None] * active[:, None, :]
    eye = tf.eye(tf.shape(y)[-1], batch_shape=tf.shape(y)[:1])
    cov = cov * a + eye * (1.0 - active[:, None, :])
    chol = tf.linalg.cholesky(cov)
    residual = ((y - mean) * active)[:, :, None]
    solved = tf.linalg.triangular_solve(chol, residual, lower=True)[:, :, 0]
    log_det = 2.0 * tf.reduce_sum(tf.math.log(tf.linalg.diag_part(chol)), axis=-1)
    n = tf.reduce_sum(active, axis=-1)
    return -0.5 * tf.reduce_sum(tf.square(solved), axis=-1) - 0.5 * log_det - 0.5 * n * LOG_2PI


def gaussian_baseline_nll(
    model: CFlow,
    train_compositions: Any,
    train_conditions: Any,
    test_compositions: Any,
    test_conditions: Any,
    space: str = "log_ratio",
    mean_features: str = "condition",
    noise_std: float = 0.0,
    steps: int = 3000,
    learning_rate: float = 0.01,
    seed: int = 0,
) -> dict[str, float]:
    """Held-out NLL of the Gaussian baseline: the flow's presence model, a Gaussian for
    the fractions.

    The fractions are mapped by the same transform as the flow's (threshold floor, then
    log-ratios against the last present element, `composition_to_log_ratios`), and the
    flow is replaced by a full-covariance Gaussian whose mean is affine in the
    normalized condition (optionally also in the presence bits), fitted by maximum likelihood (Adam, full
    batch) on the training rows. Each row is scored by the marginal of that Gaussian on
    its active coordinates, plus the same log-Jacobian as the flow; the presence term is
    `model.presence` (trained with the flow), so the two models differ only in the
    fraction density.

    Args:
        model: a trained `CFlow` (its presence model, threshold and condition
            normalization are used).
        train_compositions, train_conditions: the rows the Gaussian is fitted on.
        test_compositions, test_conditions: the rows it is scored on.
        space: `"log_ratio"`: a Gaussian over the log-ratio coordinates `y` (the flow's
            space); `"log_fraction"`: a Gaussian over the 22 log-fractions `log w`, each
            row scored through the linear map to its log-ratios (a logistic-normal model,
            the same on every face up to the choice of reference).
        mean_features: what the mean is affine in: `"condition"` (the normalized
            condition) or `"condition_presence"` (also the presence bits).
        noise_std: Gaussian noise added to the training log-ratios at every step, as
            `CFlow(noise_std=...)` does (0: plain maximum likelihood).
        steps: optimizer steps.
        learning_rate: Adam learning rate.
        seed: initialization seed.

    Returns:
        `{"nll", "presence_nll", "fraction_nll"}`: mean over the test rows, nats per alloy.
    """
    if mean_features not in ("condition", "condition_presence"):
        raise UsageError(
            "must be 'condition' or 'condition_presence'. "
            f"Received: mean_features={mean_features!r}",
            field="mean_features",
        )
    if space not in ("log_ratio", "log_fraction"):
        raise UsageError(
            f"must be 'log_ratio' or 'log_fraction'. Received: space={space!r}",
            field="space",
        )
    threshold = model.threshold
    e = model.n_elements

    def prepare(x, c):
        x, c = model.check_pair(x, c, "gaussian_baseline_nll")
        presence, active, y, log_jacobian = composition_to_log_ratios(tf.constant(x), threshold)
        cn = model.normalize_conditions(c)
        features = cn if mean_features == "condition" else tf.concat([cn, presence], axis=-1)
        reference = reference_mask(presence)
        # Linear map from log-fractions to log-ratios: rows e_j - e_r on active j.
        mixing = tf.linalg.diag(active) - active[:, :, None] * reference[:, None, :]
        return presence, active, y, log_jacobian, cn, features, mixing

    train = prepare(train_compositions, train_conditions)
    test = prepare(test_compositions, test_conditions)
    rng = np.random.default_rng(seed)
    n_features = int(train[5].shape[-1])
    weights = tf.Variable(rng.normal(0.0, 0.01, (n_features, e)).astype("float32"))
    bias = tf.Variable(np.zeros(e, "float32"))
    raw_chol = tf.Variable(np.zeros((e, e), "float32"))

    noise = tf.random.Generator.from_seed(seed)

    def log_prob(data, training=False):
        _, active, y, log_jacobian, _, features, mixing = data
        if training and noise_std > 0:
            y = y + noise_std * active * noise.normal(tf.shape(y))
        mean = tf.matmul(features, weights) + bias
        lower = tf.linalg.band_part(raw_chol, -1, 0)
        diag = tf.nn.softplus(tf.linalg.diag_part(raw_chol)) + 1e-3
        chol = tf.linalg.set_diag(lower, diag)
        cov = tf.matmul(chol, chol, transpose_b=True)
        if space == "log_fraction":
            mean = tf.linalg.matvec(mixing, mean)
            cov = tf.matmul(tf.matmul(mixing, cov[None]), mixing, transpose_b=True)
        return _masked_gaussian_log_prob(y, active, mean, cov) + log_jacobian

    optimizer = keras.optimizers.Adam(learning_rate)
    variables = [weights, bias, raw_chol]

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(log_prob(train, training=True))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    for _ in range(int(steps)):
        step()
    presence, _, _, _, cn, _, _ = test
    lp_presence = model.presence.log_prob(presence, cn)
    lp_fractions = log_prob(test)
    return {
        "nll": float(-tf.reduce_mean(lp_presence + lp_fractions)),
        "presence_nll": float(-tf.reduce_mean(lp_presence)),
        "fraction_nll": float(-tf.reduce_mean(lp_fractions)),
    }

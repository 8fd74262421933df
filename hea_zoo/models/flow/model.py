"""`CFlow`, the conditional normalizing flow (the maths are in `hea_zoo.models.flow`)."""

from __future__ import annotations

import numbers
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from hea_zoo.errors import UsageError
from hea_zoo.artifact import DROP_THRESHOLD
from hea_zoo.constants import ELEMENTS
from hea_zoo.models import validation
from hea_zoo.models.base import ConditionalGenerator, build_mlp, weighted_mean
from hea_zoo.models.flow.bijector import RankOneUpdate, rank_one_factors, rank_one_inverse
from hea_zoo.models.flow.made import ConditionalMADE
from hea_zoo.models.flow.transforms import (
    composition_to_log_ratios,
    log_ratios_to_composition,
    masked_normal_log_prob,
    reference_mask,
)

tfb = tfp.bijectors

_PERMUTATION_SEED = 1729


@keras.saving.register_keras_serializable(package="hea_zoo")
class CFlow(ConditionalGenerator):
    """Conditional normalizing flow over compositions, trained by exact likelihood.

    The model (see the module docstring for the maths):

        p(x | c) = P(b | c) * p(x_S | b, c)

    with a conditional autoregressive Bernoulli model of the presence pattern `b`
    (`presence`, a `ConditionalMADE`) and, for the fractions of the present elements, a
    RealNVP flow in additive log-ratio coordinates (from base noise to data):
    `n_couplings` affine coupling layers (`tfb.RealNVP`: half the coordinates, permuted
    by a fixed `tfb.Permute`, condition the other half; shift and log-scale from an MLP
    on the active values of that half and the normalized condition), then a logistic-
    normal layer: an MLP on the condition gives each element a location `mu_j` and a
    scale `s_j` of its log-fraction, and the log-ratios against the reference `r` get
    exactly the mean `mu_j - mu_r` and covariance `diag(s_j^2) + s_r^2 11^T` that
    independent log-fractions `N(mu_j, s_j^2)` would give them (`tfb.Shift`,
    `tfb.Scale` and a symmetric rank-one factor, `RankOneUpdate`). With the couplings at
    the identity the model is that logistic-normal. Inactive coordinates are masked out
    of every conditioner input, shift and scale. Log-scales are soft-clamped to
    `max_log_scale * tanh(s / max_log_scale)`; the output layers start at zero.

    The loss is the negative log-likelihood in nats per alloy, tracked as `loss` =
    `presence_nll` + `fraction_nll`.

    Reference: Dinh, Sohl-Dickstein & Bengio, "Density estimation using Real NVP",
    ICLR 2017; Germain et al., "MADE", ICML 2015. A generator beyond those of Tung,
    Debnath & Reinhart, "Evaluating generative models for inverse design of
    high-entropy refractory alloys".

    Args:
        n_couplings: number of affine coupling layers.
        hidden_units: widths of the hidden layers of each coupling's conditioner (and
            of the logistic-normal layer's).
        presence_units: widths of the hidden layers of the presence model.
        max_log_scale: bound of the log-scales (couplings and log-fraction scales).
        noise_std: standard deviation of Gaussian noise added to the log-ratios of the
            training data (a smoothing regularizer: it keeps the density from collapsing
            onto the exact fractions of the training alloys; 0 disables). The reported
            `log_prob` is always of the clean input.
        threshold: presence threshold `t` (fractions at or above it are present; a
            present element is never generated below it). Defaults to the drop
            threshold of printed formulas, 0.005.
        latent_dim: must be `2 * n_elements` (or None); the noise size is fixed by the
            element list.
        **kwargs: `ConditionalGenerator` arguments (elements, condition names and units,
            activation, seed, model_version) and `keras.Model` ones.

    Example:

    ```python
    model = hea_zoo.models.CFlow(seed=0)
    model.adapt(ds.train.compositions, ds.train.properties)
    model.compile()
    model.fit(ds.train.compositions, ds.train.properties, epochs=150, batch_size=64)
    x = model.generate([[50.0, 6.0]], n_per_condition=5, seed=1)   # (1, 5, 22)
    model.log_prob(ds.test.compositions, ds.test.properties)       # (106,) nats
    ```
    """

    def __init__(
        self,
        n_couplings: int = 2,
        hidden_units: Sequence[int] = (32, 32),
        presence_units: Sequence[int] = (128,),
        max_log_scale: float = 3.0,
        noise_std: float = 0.5,
        threshold: float | None = None,
        latent_dim: int | None = None,
        **kwargs,
    ):
        elements = kwargs.get("elements")
        try:
            n_elements = len(ELEMENTS if elements is None else tuple(elements))
        except TypeError:
            n_elements = 1  # not a sequence: the base class rejects it with a clear message
        if latent_dim is not None and latent_dim != 2 * n_elements:
            raise UsageError(
                f"must be 2 * n_elements = {2 * n_elements} for CFlow (presence "
                f"noise and flow noise, one column each per element). Received: "
                f"latent_dim={latent_dim!r}",
                field="latent_dim",
            )
        super().__init__(
            latent_dim=2 * n_elements,
            hidden_units=hidden_units,
            loss_names=("loss", "presence_nll", "fraction_nll"),
            **kwargs,
        )
        # === Config ===
        if isinstance(n_couplings, bool) or not isinstance(n_couplings, numbers.Integral) or n_couplings < 0:
            raise UsageError(
                f"must be a nonnegative integer. Received: n_couplings={n_couplings!r}",
                field="n_couplings",
            )
        self.n_couplings = int(n_couplings) if self.n_elements > 1 else 0
        self.presence_units = validation.units_tuple(presence_units, "presence_units")
        if (
            isinstance(max_log_scale, bool)
            or not isinstance(max_log_scale, (int, float))
            or not max_log_scale > 0
        ):
            raise UsageError(
                f"must be a positive number. Received: max_log_scale={max_log_scale!r}",
                field="max_log_scale",
            )
        self.max_log_scale = float(max_log_scale)
        if isinstance(noise_std, bool) or not isinstance(noise_std, (int, float)) or noise_std < 0:
            raise UsageError(
                f"must be a nonnegative number. Received: noise_std={noise_std!r}",
                field="noise_std",
            )
        self.noise_std = float(noise_std)
        threshold = float(DROP_THRESHOLD) if threshold is None else threshold
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, (int, float))
            or not 0 < threshold * self.n_elements < 1
        ):
            raise UsageError(
                "must be positive with threshold * n_elements < 1 (every element "
                f"present at the threshold must fit). Received: threshold={threshold!r} with "
                f"{self.n_elements} elements",
                field="threshold",
            )
        self.threshold = float(threshold)

        # === Networks ===
        e, c = self.n_elements, self.n_conditions
        self.presence = ConditionalMADE(e, c, self.presence_units, self.activation, name="presence")
        self._n_masked = e // 2
        self.couplings = [
            build_mlp(
                (self._n_masked, c),
                ("masked", "condition"),
                2 * (e - self._n_masked),
                self.hidden_units,
                self.activation,
                f"coupling_{i}",
            )
            for i in range(self.n_couplings)
        ]
        self.affine = build_mlp(
            (c,), ("condition",), 2 * e, self.hidden_units, self.activation, "affine"
        )
        for net in (*self.couplings, self.affine):
            output = net.layers[-1]
            output.kernel.assign(tf.zeros_like(output.kernel))
        rng = np.random.RandomState(_PERMUTATION_SEED)
        self._permutations = [rng.permutation(e).astype("int32") for _ in range(self.n_couplings)]
        self._inverse_permutations = [np.argsort(p).astype("int32") for p in self._permutations]

        self.built = True

    # ------------------------------------------------------------------- flow
    def _clamp(self, raw: tf.Tensor) -> tf.Tensor:
        return self.max_log_scale * tf.tanh(raw / self.max_log_scale)

    def _coupling_shift_and_log_scale(self, net, active_p, x0, condition):
        """Shift and clamped log-scale of a coupling's transformed half, from its
        conditioning half `x0` (permuted coordinates; inactive ones masked out)."""
        m = self._n_masked
        out = net([x0 * active_p[:, :m], condition])
        shift, raw = tf.split(out, 2, axis=-1)
        mask = active_p[:, m:]
        return shift * mask, self._clamp(raw) * mask

    def _coupling(self, net, permutation, inverse, active, condition) -> tfb.Bijector:
        active_p = tf.gather(active, permutation, axis=-1)

        def shift_and_log_scale(x0, output_units):
            return self._coupling_shift_and_log_scale(net, active_p, x0, condition)

        return tfb.Chain(
            [
                tfb.Permute(inverse),
                tfb.RealNVP(num_masked=self._n_masked, shift_and_log_scale_fn=shift_and_log_scale),
                tfb.Permute(permutation),
            ]
        )

    def _logistic_normal_parameters(self, presence, active, normalized_conditions):
        """`(shift, log_scale, v)` of the logistic-normal layer (`Shift`, `Scale`,
        `RankOneUpdate(v)`), zero on inactive coordinates."""
        # Independent log-fractions l_j ~ N(mu_j, s_j^2) give the log-ratios
        # y_j = l_j - l_r (j active) mean mu_j - mu_r and covariance diag(s_j^2) +
        # s_r^2 11^T: a diagonal scale after a symmetric rank-one factor.
        mu, raw = tf.split(self.affine([normalized_conditions]), 2, axis=-1)
        log_s = self._clamp(raw)
        reference = presence - active
        shift = mu - tf.reduce_sum(mu * reference, axis=-1, keepdims=True)
        log_s_ref = tf.reduce_sum(log_s * reference, axis=-1, keepdims=True)
        return shift * active, log_s * active, tf.exp(log_s_ref - log_s) * active

    def bijector(self, presence: tf.Tensor, normalized_conditions: tf.Tensor) -> tfb.Bijector:
        """The flow from base noise to log-ratios, for given presence patterns.

        Args:
            presence: `(batch, n_elements)` presence bits.
            normalized_conditions: `(batch, n_conditions)` standardized conditions.

        Returns:
            A `tfb.Chain` acting on `(batch, n_elements)` (event size `n_elements`):
            the identity on inactive coordinates (absent elements and the reference).
        """
        presence = tf.cast(presence, "float32")
        active = presence - reference_mask(presence)
        shift, log_s, v = self._logistic_normal_parameters(presence, active, normalized_conditions)
        steps = [tfb.Shift(shift), tfb.Scale(log_scale=log_s), RankOneUpdate(v)]
        for net, permutation, inverse in reversed(
            list(zip(self.couplings, self._permutations, self._inverse_permutations))
        ):
            steps.append(self._coupling(net, permutation, inverse, active, normalized_conditions))
        return tfb.Chain(steps)

    def inverse_and_log_det(
        self, y: tf.Tensor, presence: tf.Tensor, normalized_conditions: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """Base noise of log-ratios and the log-determinant, in one pass.

        What `flow.inverse(y)` and `flow.inverse_log_det_jacobian(y, event_ndims=1)` give
        for `flow = bijector(presence, normalized_conditions)` (tested to float32
        round-off), with each coupling's conditioner evaluated once: `tfb.RealNVP`
        evaluates it once for the inverse and again for the log-determinant, and the
        chain's shape bookkeeping adds a third of the training step's graph. Training and
        `log_prob` use this pass; `decode` uses the TFP chain.

        Args:
            y: `(batch, n_elements)` log-ratios (0 off the active coordinates).
            presence: `(batch, n_elements)` presence bits.
            normalized_conditions: `(batch, n_conditions)` standardized conditions.

        Returns:
            `(z, log |dz/dy|)`, `(batch, n_elements)` and `(batch,)`.
        """
        presence = tf.cast(presence, "float32")
        active = presence - reference_mask(presence)
        shift, log_s, v = self._logistic_normal_parameters(presence, active, normalized_conditions)
        u, a = rank_one_factors(v)
        z = rank_one_inverse((y - shift) * tf.exp(-log_s), u, a)
        log_det = -tf.reduce_sum(log_s, axis=-1) - tf.math.log(1.0 + a[:, 0])
        m = self._n_masked
        for net, permutation, inverse in reversed(
            list(zip(self.couplings, self._permutations, self._inverse_permutations))
        ):
            z_p = tf.gather(z, permutation, axis=-1)
            z0 = z_p[:, :m]
            shift_c, log_scale = self._coupling_shift_and_log_scale(
                net, tf.gather(active, permutation, axis=-1), z0, normalized_conditions
            )
            z1 = (z_p[:, m:] - shift_c) * tf.exp(-log_scale)
            log_det = log_det - tf.reduce_sum(log_scale, axis=-1)
            z = tf.gather(tf.concat([z0, z1], axis=-1), inverse, axis=-1)
        return z, log_det

    # ----------------------------------------------------------------- decode
    def decode(self, z: tf.Tensor, conditions: tf.Tensor) -> tf.Tensor:
        """Decodes noise and conditions into compositions, deterministically.

        Args:
            z: standard-normal noise, float32 `(batch, 2 * n_elements)`: presence noise
                then flow noise.
            conditions: float32 `(batch, n_conditions)` in physical units.

        Returns:
            float32 `(batch, n_elements)` fractions: nonnegative, rows summing to 1,
            absent elements exactly 0, present ones at least `threshold`.
        """
        z = tf.cast(z, "float32")
        e = self.n_elements
        cn = self.normalize_conditions(conditions)
        presence = self.presence.sample(z[:, :e], cn)
        y = self.bijector(presence, cn).forward(z[:, e:])
        return log_ratios_to_composition(y, presence, self.threshold)

    # ---------------------------------------------------------------- density
    def _log_prob_terms(self, x, normalized_conditions, training=False):
        presence, active, y, log_jacobian = composition_to_log_ratios(x, self.threshold)
        if training and self.noise_std > 0:
            y = y + self.noise_std * active * self.random_normal(tf.shape(y))
        lp_presence = self.presence.log_prob(presence, normalized_conditions)
        z, log_det = self.inverse_and_log_det(y, presence, normalized_conditions)
        return lp_presence, masked_normal_log_prob(z, active) + log_det + log_jacobian

    def log_prob_parts(self, compositions, conditions) -> dict[str, tf.Tensor]:
        """The two terms of `log_prob`, `(batch,)` each.

        Returns:
            `{"presence": log P(b | c), "fractions": log p(x_S | b, c)}` in nats (the
            fraction density with respect to Lebesgue measure on k - 1 free fractions).
        """
        lp_presence, lp_fractions = self._log_prob_terms(
            compositions, self.normalize_conditions(conditions)
        )
        return {"presence": lp_presence, "fractions": lp_fractions}

    def log_prob(self, compositions, conditions) -> tf.Tensor:
        """Log-density of compositions at conditions, nats per alloy: the typicality score.

        `log P(b | c) + log p(x_S | b, c)` (see the module docstring): higher is more
        alloy-like under the training data. Traceable with plain TensorFlow ops (the
        `log_prob` export wraps it); inputs are not validated here.

        Args:
            compositions: `(batch, n_elements)` fractions (traces below `threshold` are
                treated as absent).
            conditions: `(batch, n_conditions)` in physical units.

        Returns:
            float32 `(batch,)`.
        """
        parts = self.log_prob_parts(compositions, conditions)
        return parts["presence"] + parts["fractions"]

    # --------------------------------------------------------------- training
    def compute_losses(self, x, c, sample_weight=None, training=False) -> dict[str, tf.Tensor]:
        """Mean negative log-likelihood (nats per alloy) and its two terms.

        Returns:
            `{"loss", "presence_nll", "fraction_nll"}` (weighted batch means).
        """
        lp_presence, lp_fractions = self._log_prob_terms(
            x, self.normalize_conditions(c), training=training
        )
        presence_nll = weighted_mean(-lp_presence, sample_weight)
        fraction_nll = weighted_mean(-lp_fractions, sample_weight)
        return {
            "loss": presence_nll + fraction_nll,
            "presence_nll": presence_nll,
            "fraction_nll": fraction_nll,
        }

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "n_couplings": self.n_couplings,
                "presence_units": list(self.presence_units),
                "max_log_scale": self.max_log_scale,
                "noise_std": self.noise_std,
                "threshold": self.threshold,
            }
        )
        return config

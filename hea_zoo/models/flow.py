"""Conditional normalizing flow (cFlow): a generator with an exact likelihood.

Compositions are sparse: most of the 22 fractions are exactly zero, and a log-ratio is
undefined at zero. The flow therefore models a composition in two parts,

    p(x | c) = P(b | c) * p(x_S | b, c),

- **presence** `b`: which elements are present (fraction >= `threshold`, 0.005 by
  default, the drop threshold of printed formulas), a conditional autoregressive
  Bernoulli model (`ConditionalMADE`): `P(b | c) = prod_j Bernoulli(b_j; sigmoid(l_j(b_<j, c)))`;
- **fractions** `x_S` of the `k` present elements on their face of the simplex, through
  an exact change of variables to an additive log-ratio space in which a RealNVP flow of
  TFP bijectors (`tfb.RealNVP`, `tfb.Permute`, `tfb.Shift`, `tfb.Scale`) conditioned on
  `c` maps a masked standard-normal base to the data (the presence pattern enters through
  the masks and the choice of reference).

The fraction transform. Every present element is held at or above the threshold `t`:

    x_j = t + (1 - k t) w_j   (j in S),      x_j = 0   (j not in S),

with `w` a point of the open (k-1)-simplex, and `w` is written in additive log-ratios
against the *reference* element `r` (the last present element in element order):

    y_j = log(w_j / w_r)   for j in S \\ {r}   (the k - 1 *active* coordinates).

In generation the inverse is a masked softmax: absent logits are set to -1e9 (so their
fractions are exactly 0), the reference logit to 0, and `x = t b + (1 - k t) softmax`.
A present element is thus never below `t`: the element count above 0.5 at.% of a design
is exactly its number of present elements.

The density. `log_prob(x, c)` (nats per alloy) is

    log P(b | c) + log p_y(y | b, c) - sum_{j in S} log w_j - (k - 1) log(1 - k t),

the Bernoulli log-likelihood of the presence pattern plus the log-density of the present
fractions with respect to Lebesgue measure on any k - 1 of them (the last two terms are
the log-Jacobian of the floor-and-log-ratio transform; for k = 1 there is no continuous
part). The flow acts as the identity on inactive coordinates and its conditioners never
see them, so `log p_y` is the exact density of the k - 1 active coordinates: base
`N(0, I)` over the active coordinates plus the flow's log-Jacobian. Input fractions below
`t` are treated as absent: the composition is scored as printed (traces dropped, the
rest renormalized). A composition with nothing at or above `t` has no density (NaN).
The presence model puts probability 0 on the empty pattern (if no earlier element is
present, the last one is), so `P(b | c)` is normalized over the patterns `decode` can
produce. Training maximizes this likelihood on log-ratios perturbed by Gaussian noise
(`noise_std`, a smoothing regularizer for 423 training rows); `log_prob` is the exact
density of the trained model at the clean input.

The noise. `decode(z, c)` takes `z` of size `latent_dim = 2 * n_elements`: the first
`n_elements` columns choose the presence pattern (element `j` is present when
`Phi(z_j) < P(b_j = 1 | b_<j, c)`, evaluated in element order), the last `n_elements`
drive the flow (the columns of inactive coordinates are ignored). `decode` is
deterministic given `z` and uses plain TensorFlow ops only, so it converts to ONNX.

Reference: Dinh, Sohl-Dickstein & Bengio, "Density estimation using Real NVP", ICLR 2017
(arXiv:1605.08803); Germain, Gregor, Murray & Larochelle, "MADE: Masked autoencoder for
distribution estimation", ICML 2015; Aitchison, "The Statistical Analysis of
Compositional Data", 1986 (log-ratio transforms). The generators it joins follow Tung,
Debnath & Reinhart, "Evaluating generative models for inverse design of high-entropy
refractory alloys".
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from hea_zoo.artifact import DROP_THRESHOLD
from hea_zoo.constants import ELEMENTS
from hea_zoo.models import validation
from hea_zoo.models.base import ConditionalGenerator, build_mlp, weighted_mean

tfb = tfp.bijectors

_THRESHOLD_SLACK = 1e-7  # a float32 copy of a printed 0.005 counts as present (as artifact.py)
_MIN_W = 1e-7  # floor of w inside the log (a fraction exactly at the threshold)
_ABSENT_LOGIT = -1e9
_FORCE_LOGIT = 30.0  # sigmoid(30) == 1 in float32
_LOG_2PI = math.log(2.0 * math.pi)
_PERMUTATION_SEED = 1729


# --------------------------------------------------------------------------- transform
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
    presence = tf.cast(x >= threshold - _THRESHOLD_SLACK, "float32")
    kept = x * presence
    kept = kept / tf.reduce_sum(kept, axis=-1, keepdims=True)
    k = tf.reduce_sum(presence, axis=-1)
    room = 1.0 - k * threshold
    w = (kept - threshold * presence) / room[:, None]
    log_w = tf.math.log(tf.maximum(w, _MIN_W)) * presence
    reference = reference_mask(presence)
    active = presence - reference
    log_w_ref = tf.reduce_sum(log_w * reference, axis=-1, keepdims=True)
    y = (log_w - log_w_ref) * active
    log_jacobian = -tf.reduce_sum(log_w, axis=-1) - (k - 1.0) * tf.math.log(room)
    return presence, active, y, log_jacobian


def log_ratios_to_composition(y: tf.Tensor, presence: tf.Tensor, threshold: float) -> tf.Tensor:
    """Inverse of `composition_to_log_ratios`: exact zeros off the presence pattern."""
    active = presence - reference_mask(presence)
    logits = tf.where(presence > 0.5, y * active, tf.fill(tf.shape(y), _ABSENT_LOGIT))
    w = tf.nn.softmax(logits, axis=-1)
    k = tf.reduce_sum(presence, axis=-1, keepdims=True)
    return threshold * presence + (1.0 - k * threshold) * w


def masked_normal_log_prob(z: tf.Tensor, active: tf.Tensor) -> tf.Tensor:
    """`sum_j active_j * log N(z_j; 0, 1)`, `(batch,)`."""
    return tf.reduce_sum(active * (-0.5 * tf.square(z) - 0.5 * _LOG_2PI), axis=-1)


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


# --------------------------------------------------------------------------- presence
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
        return tf.where(none_before, tf.fill(tf.shape(logits_last), _FORCE_LOGIT), logits_last)

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


# --------------------------------------------------------------------------- the model
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
            raise ValueError(
                f"`latent_dim` of CFlow is 2 * n_elements = {2 * n_elements} (presence "
                f"noise and flow noise, one column each per element). Received: "
                f"latent_dim={latent_dim!r}"
            )
        super().__init__(
            latent_dim=2 * n_elements,
            hidden_units=hidden_units,
            loss_names=("loss", "presence_nll", "fraction_nll"),
            **kwargs,
        )
        # === Config ===
        if isinstance(n_couplings, bool) or not isinstance(n_couplings, numbers.Integral) or n_couplings < 0:
            raise ValueError(
                f"`n_couplings` must be a nonnegative integer. Received: n_couplings={n_couplings!r}"
            )
        self.n_couplings = int(n_couplings) if self.n_elements > 1 else 0
        self.presence_units = validation.units_tuple(presence_units, "presence_units")
        if (
            isinstance(max_log_scale, bool)
            or not isinstance(max_log_scale, (int, float))
            or not max_log_scale > 0
        ):
            raise ValueError(
                f"`max_log_scale` must be a positive number. Received: max_log_scale={max_log_scale!r}"
            )
        self.max_log_scale = float(max_log_scale)
        if isinstance(noise_std, bool) or not isinstance(noise_std, (int, float)) or noise_std < 0:
            raise ValueError(
                f"`noise_std` must be a nonnegative number. Received: noise_std={noise_std!r}"
            )
        self.noise_std = float(noise_std)
        threshold = float(DROP_THRESHOLD) if threshold is None else threshold
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, (int, float))
            or not 0 < threshold * self.n_elements < 1
        ):
            raise ValueError(
                "`threshold` must be positive with threshold * n_elements < 1 (every element "
                f"present at the threshold must fit). Received: threshold={threshold!r} with "
                f"{self.n_elements} elements"
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



# --------------------------------------------------------------------------- baseline
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
    return -0.5 * tf.reduce_sum(tf.square(solved), axis=-1) - 0.5 * log_det - 0.5 * n * _LOG_2PI


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
        raise ValueError(
            "`mean_features` must be 'condition' or 'condition_presence'. "
            f"Received: mean_features={mean_features!r}"
        )
    if space not in ("log_ratio", "log_fraction"):
        raise ValueError(
            f"`space` must be 'log_ratio' or 'log_fraction'. Received: space={space!r}"
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

"""The forward surrogate: an ensemble of small MLPs, composition -> properties.

It is the study's judge of generated designs (Tung, Debnath & Reinhart, "Evaluating
generative models for inverse design of high-entropy refractory alloys"): the study scored
its generators with a learned forward model. hea_zoo's is an ensemble of `n_members`
networks initialized differently; their mean is the prediction and their standard
deviation an uncertainty. The members are one vectorized computation: every layer holds
the weights of all members, shaped `(members, in, out)`, and applies them with one batched
matmul, so a training step updates the whole ensemble at the cost of one wide network.
Targets are standardized inside the model (constants set by `adapt` on the training data
and saved with it), so inputs are atomic fractions and outputs are in physical units.

Besides the fractions, each member reads composition-weighted element descriptors: for
each tabulated element property named in `descriptors` (by default the valence-electron
count and the atomic radius, the two classic descriptors of refractory HEAs: VEC and the
atomic-size mismatch), its mean and its standard deviation over the alloy's atoms
(`descriptor_features`). They are computed inside the model from the element table
(`hea_zoo.data.elements`), so inputs stay atomic fractions and exports need nothing else.

Its uncertainty is a calibrated interval (`calibrate`, `predict_interval`): normalized
split conformal prediction on alloys held out from training (or, on small tables,
cross-conformal scores from folds of the training alloys), the width growing with the
ensemble spread at a fitted rate (`hea_zoo.models.calibration`), so that about `coverage`
(90 % by default) of new alloys' true values fall inside.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from hea_zoo._version import __version__
from hea_zoo.constants import ELEMENTS, PROPERTY_NAMES, PROPERTY_UNITS
from hea_zoo.models import calibration, validation
from hea_zoo.models.base import ZooModel
from hea_zoo.models.training import STEPS_PER_EXECUTION, TrainingBudget, fit_with_budget

__all__ = [
    "EnsembleDense",
    "Surrogate",
    "train_default_surrogate",
    "descriptor_features",
    "resolve_descriptors",
    "SURROGATE_DEFAULTS",
    "DEFAULT_DESCRIPTORS",
]

SURROGATE_MODEL_VERSION = "3"
"""Layout of saved surrogates. "1" (hea_zoo 0.1.0): one network per member; "2": one
vectorized ensemble (`EnsembleDense` layers), with the interval weights
(`interval_scale`, `interval_offset`, `interval_power`) after the target statistics; a
layout-2 file saved before the intervals existed has no interval weights and loads
uncalibrated, one saved before `interval_power` loads with power 1 (the same intervals).
"3": element descriptors as extra inputs (`descriptors`; the descriptor table and the
features' statistics after the interval weights); a layout-2 file loads without them."""

#: Element properties whose composition-weighted mean and standard deviation the default
#: surrogate reads (docs/HYPERPARAMETERS.md: chosen by held-out error on the bundled data,
#: checked on the MPEA measurements).
DEFAULT_DESCRIPTORS: tuple[str, ...] = ("valence_electrons", "atomic_radius")

#: Defaults chosen on the bundled data (see docs/HYPERPARAMETERS.md).
SURROGATE_DEFAULTS: dict = {
    "n_members": 5,
    "hidden_units": (128, 128),
    "learning_rate": 3e-3,
    "epochs": 400,
    "batch_size": 32,
    "budget": TrainingBudget(
        max_steps=6000, large_max_steps=2000, large_steps_rows=32000, max_batch_size=512,
        reference_rows=250, lr_patience=3,
    ),
    # Smooth members interpolate best between the few alloy families of a small table;
    # on large tables (more training rows than the budget's `early_stopping_rows`) ReLU
    # members resolve the oracle's sharp ductility thresholds (docs/HYPERPARAMETERS.md).
    "activation": "silu",
    "large_table_activation": "relu",
}


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


def resolve_descriptors(descriptors, elements: Sequence[str]) -> tuple[str, ...]:
    """The descriptor names a surrogate over `elements` reads.

    Args:
        descriptors: ``"auto"`` (`DEFAULT_DESCRIPTORS` when every element is in the element
            table, none otherwise), or a sequence of `hea_zoo.data.elements.PROPERTY_COLUMNS`
            names (empty: fractions only).
        elements: the model's elements.

    Raises:
        ValueError: an unknown property, an element without tabulated data, or a property
            the table does not give for one of the elements (oxygen's moduli).
    """
    from hea_zoo.data.elements import ELEMENTS as TABLED, PROPERTY_COLUMNS, element_property

    if isinstance(descriptors, str):
        if descriptors != "auto":
            raise ValueError(
                f"descriptors must be 'auto' or a list of element properties ({', '.join(PROPERTY_COLUMNS)}). "
                f"Received: descriptors={descriptors!r}"
            )
        return DEFAULT_DESCRIPTORS if all(e in TABLED for e in elements) else ()
    names = tuple(descriptors)
    if not all(isinstance(name, str) for name in names):
        raise ValueError(f"descriptors must be element property names. Received: descriptors={descriptors!r}")
    unknown = [name for name in names if name not in PROPERTY_COLUMNS]
    if unknown:
        raise ValueError(f"Unknown element descriptor(s) {unknown}. Valid names: {', '.join(PROPERTY_COLUMNS)}.")
    if len(set(names)) != len(names):
        raise ValueError(f"descriptors repeat a name: {list(names)}")
    if names:
        untabled = [e for e in elements if e not in TABLED]
        if untabled:
            raise ValueError(
                f"Element descriptors need tabulated data for every element; {untabled} have none "
                f"(the table covers {', '.join(TABLED)}). Pass descriptors=() to read fractions only."
            )
        for name in names:
            values = element_property(name, elements)
            missing = [e for e, v in zip(elements, values) if not np.isfinite(v)]
            if missing:
                raise ValueError(
                    f"The element table has no {name} for {missing}: choose other descriptors, or descriptors=()."
                )
    return names


def _descriptor_table(names: Sequence[str], elements: Sequence[str]) -> np.ndarray:
    """(E, D) element values, each column standardized over the elements (float32)."""
    from hea_zoo.data.elements import element_property

    table = np.stack([element_property(name, elements) for name in names], axis=1)
    return ((table - table.mean(axis=0)) / np.maximum(table.std(axis=0), 1e-12)).astype(np.float32)


def descriptor_features(compositions, table):
    """Composition-weighted mean and standard deviation of each descriptor column.

    Args:
        compositions: (batch, E) atomic fractions (rows summing to 1).
        table: (E, D) element values.

    Returns:
        (batch, 2 D): the means ``x @ v`` then the standard deviations
        ``sqrt(x @ v² − (x @ v)²)`` (clipped at 0 before the root; the atomic-size
        mismatch δ is the radius's standard deviation over its mean).
    """
    x = tf.cast(compositions, tf.float32)
    table = tf.cast(table, tf.float32)
    mean = tf.matmul(x, table)
    variance = tf.matmul(x, tf.square(table)) - tf.square(mean)
    return tf.concat([mean, tf.sqrt(tf.maximum(variance, 0.0) + 1e-12)], axis=-1)


@keras.saving.register_keras_serializable(package="hea_zoo")
class Surrogate(ZooModel):
    """Deep-ensemble regressor from atomic fractions to properties in physical units.

    Args:
        elements: element symbols of the input columns.
        property_names: names of the predicted properties.
        property_units: their units.
        n_members: number of networks in the ensemble (>= 1; 5 by default).
        hidden_units: widths of each member's hidden layers.
        activation: hidden activation.
        learning_rate: Adam learning rate used by `compile()` without an optimizer.
        log_targets: learn log(property) (for positive properties such as moduli and
            toughness: relative errors weigh equally across the range). `adapt` refuses
            nonpositive targets when True.
        seed: seed of the members' initialization.
        model_version: version string recorded in saved files and exports.
        package_version: hea_zoo version that built the model (set automatically).
        data_fingerprint: `Dataset.source_fingerprint` of the training data.
        coverage: nominal coverage of the prediction intervals (0.9 by default).
        calibration_size: number of calibration alloys behind the intervals (0: not
            calibrated; set by `calibrate`).
        calibration_folds: 0 when the intervals come from a held-out calibration split;
            K when from K-fold cross-conformal scores (`train_default_surrogate` on a
            small table; `hea_zoo.models.calibration`).
        descriptors: element properties whose composition-weighted mean and standard
            deviation are extra inputs (`resolve_descriptors`): ``"auto"`` (default:
            `DEFAULT_DESCRIPTORS` when every element is in the element table, else none),
            a list of names, or ``()`` for fractions only. Standardized by `adapt`.

    Call:
        `model(compositions)` -> (batch, P) ensemble mean in physical units.

    Example:
        >>> ds = hea_zoo.load_dataset()
        >>> s = Surrogate(n_members=5)
        >>> s.adapt(ds.train.compositions, ds.train.properties)
        >>> s.compile()
        >>> s.fit(ds.train.compositions, ds.train.properties, epochs=200, batch_size=32)
        >>> mean, std = s.predict_with_uncertainty(ds.test.compositions)
        >>> s.calibrate(calibration_compositions, calibration_properties)
        >>> mean, lower, upper = s.predict_interval(ds.test.compositions)
    """

    _adapt_arguments = "compositions, properties"

    def __init__(
        self,
        elements: Sequence[str] = ELEMENTS,
        property_names: Sequence[str] = PROPERTY_NAMES,
        property_units: Sequence[str] = PROPERTY_UNITS,
        n_members: int = SURROGATE_DEFAULTS["n_members"],
        hidden_units: Sequence[int] = SURROGATE_DEFAULTS["hidden_units"],
        activation: str = SURROGATE_DEFAULTS["activation"],
        learning_rate: float = SURROGATE_DEFAULTS["learning_rate"],
        log_targets: bool = True,
        seed: int = 0,
        model_version: str = SURROGATE_MODEL_VERSION,
        package_version: str = __version__,
        data_fingerprint: str | None = None,
        coverage: float = calibration.DEFAULT_COVERAGE,
        calibration_size: int = 0,
        calibration_folds: int = 0,
        descriptors: Sequence[str] | str = "auto",
        **kwargs,
    ):
        super().__init__(loss_names=("loss", "mae"), **kwargs)
        if isinstance(n_members, bool) or not isinstance(n_members, (int, np.integer)) or n_members < 1:
            raise ValueError(f"n_members must be a positive integer. Received: n_members={n_members}")
        if len(property_names) < 1 or len(property_units) != len(property_names):
            raise ValueError(
                "Expected one unit per property name. Received: "
                f"property_names={list(property_names)}, property_units={list(property_units)}"
            )
        # === Config ===
        self.elements = validation.as_str_tuple(tuple(elements), "elements")
        self.property_names = tuple(property_names)
        self.property_units = tuple(property_units)
        self.n_members = int(n_members)
        self.hidden_units = validation.units_tuple(hidden_units, "hidden_units")
        keras.activations.get(activation)
        self.activation = activation
        self.learning_rate = validation.positive_number(learning_rate, "learning_rate")
        self.log_targets = bool(log_targets)
        self.seed = int(seed)
        self.model_version = str(model_version)
        self.package_version = str(package_version)
        self.data_fingerprint = None if data_fingerprint is None else str(data_fingerprint)
        self.coverage = calibration._check_coverage(coverage)
        self.calibration_size = int(calibration_size)
        self.calibration_folds = validation.nonnegative_int(calibration_folds, "calibration_folds")
        self.descriptors = resolve_descriptors(descriptors, self.elements)
        n_props = len(self.property_names)
        # === Layers: all members in one stack of EnsembleDense layers ===
        self.ensemble_layers = [
            EnsembleDense(
                self.n_members, units, activation=activation, seed=self.seed * 1000 + j,
                name=f"ensemble_dense_{j}",
            )
            for j, units in enumerate(self.hidden_units)
        ]
        self.ensemble_layers.append(
            EnsembleDense(self.n_members, n_props, seed=self.seed * 1000 + 999, name="ensemble_output")
        )
        width = len(self.elements) + 2 * len(self.descriptors)
        for layer in self.ensemble_layers:
            layer.build((None, width))
            width = layer.units
        # === Non-trainable state, saved with the weights ===
        def state(shape, initializer, name):
            return self.add_weight(shape=shape, initializer=initializer, trainable=False, name=name)

        # Target standardization (set by adapt)
        self.target_mean = state((n_props,), "zeros", "target_mean")
        self.target_std = state((n_props,), "ones", "target_std")
        # Interval calibration (set by `calibrate`; NaN until then)
        self.interval_scale = state((n_props,), keras.initializers.Constant(float("nan")), "interval_scale")
        self.interval_offset = state((n_props,), "zeros", "interval_offset")
        self.interval_power = state((n_props,), "ones", "interval_power")
        # Element descriptors (the table is fixed; the features' statistics are set by adapt)
        if self.descriptors:
            table = _descriptor_table(self.descriptors, self.elements)
            self.descriptor_table = state(table.shape, keras.initializers.Constant(table), "descriptor_table")
            self.feature_mean = state((2 * len(self.descriptors),), "zeros", "feature_mean")
            self.feature_std = state((2 * len(self.descriptors),), "ones", "feature_std")
        self.built = True

    def default_optimizer(self) -> keras.optimizers.Optimizer:
        """Adam(learning_rate)."""
        return keras.optimizers.Adam(self.learning_rate)

    # === Forward ===
    def _inputs(self, x) -> tf.Tensor:
        """The fractions, then the standardized descriptor features (when the model has any)."""
        x = tf.cast(x, tf.float32)
        if not self.descriptors:
            return x
        features = descriptor_features(x, self.descriptor_table)
        return tf.concat([x, (features - self.feature_mean) / self.feature_std], axis=-1)

    def _standard_members(self, x, training=False) -> tf.Tensor:
        h = self._inputs(x)
        for layer in self.ensemble_layers:
            h = layer(h, training=training)
        return h  # (members, batch, P), standardized

    def member_outputs(self, compositions) -> tf.Tensor:
        """(n_members, batch, P) predictions in physical units."""
        return self._from_standard(self._standard_members(compositions))

    def _to_standard(self, y):
        y = tf.cast(y, tf.float32)
        if self.log_targets:
            y = tf.math.log(y)
        return (y - self.target_mean) / self.target_std

    def _from_standard(self, z):
        y = z * self.target_std + self.target_mean
        return tf.exp(y) if self.log_targets else y

    def call(self, compositions, training=False):
        return tf.reduce_mean(self.member_outputs(compositions), axis=0)

    # === Training ===
    def compute_losses(self, x, y, sample_weight, training):
        """Mean over members of the standardized squared error; MAE of the ensemble mean."""
        preds = self._standard_members(x, training=training)
        err = tf.reduce_mean(tf.square(preds - self._to_standard(y)[None]), axis=-1)  # (members, batch)
        if sample_weight is not None:
            w = tf.cast(tf.reshape(sample_weight, (1, -1)), tf.float32)
            loss = tf.reduce_sum(err * w) / (tf.maximum(tf.reduce_sum(w), 1e-12) * self.n_members)
        else:
            loss = tf.reduce_mean(err)
        mae = tf.reduce_mean(tf.abs(self._from_standard(tf.reduce_mean(preds, 0)) - y))
        return {"loss": loss, "mae": mae}

    def check_data(self, compositions, properties, name: str = "") -> tuple[np.ndarray, np.ndarray]:
        """Validates compositions and their properties; float32 arrays."""
        prefix = f"{name} " if name else ""
        x = validation.check_compositions(compositions, self.elements, name=f"{prefix}compositions")
        y = validation.check_properties(properties, x.shape[0], self.property_names, f"{prefix}properties")
        if self.log_targets and np.any(y <= 0):
            r = int(np.argmax(np.any(y <= 0, axis=1)))
            raise ValueError(
                f"{prefix}properties row {r} is not positive ({y[r].tolist()}): this Surrogate "
                "learns log(property) (log_targets=True), a transform that needs positive values. "
                "Pass log_targets=False (train_default_surrogate does when a value is not positive)."
            )
        return x, y

    def adapt(self, compositions, properties) -> None:
        """Validates the training data and sets the target standardization (call before `fit`).

        Args:
            compositions: (N, E) atomic fractions.
            properties: (N, P) properties in physical units.
        """
        x, y = self.check_data(compositions, properties)
        t = np.log(y.astype(np.float64)) if self.log_targets else y.astype(np.float64)
        self.target_mean.assign(t.mean(axis=0).astype("float32"))
        self.target_std.assign(np.maximum(t.std(axis=0), 1e-6).astype("float32"))
        if self.descriptors:
            f = keras.ops.convert_to_numpy(descriptor_features(x, self.descriptor_table)).astype(np.float64)
            self.feature_mean.assign(f.mean(axis=0).astype("float32"))
            self.feature_std.assign(np.maximum(f.std(axis=0), 1e-6).astype("float32"))
        self._adapted = True

    def predict_with_uncertainty(self, compositions, batch_size: int = 65536) -> tuple[np.ndarray, np.ndarray]:
        """Ensemble mean and standard deviation, each (N, P) in physical units."""
        x = validation.check_compositions(compositions, self.elements, atol=1e-3)
        outs = []
        for start in range(0, x.shape[0], batch_size):
            outs.append(self._members_fn(x[start : start + batch_size]).numpy())
        members = np.concatenate(outs, axis=1)
        return members.mean(axis=0), members.std(axis=0)

    @tf.function(reduce_retracing=True)
    def _members_fn(self, x):
        return self.member_outputs(x)

    # === Intervals ===
    @property
    def is_calibrated(self) -> bool:
        """True once `calibrate` has set the interval scale (saved with the model)."""
        return self.calibration_size > 0 and bool(
            np.all(np.isfinite(keras.ops.convert_to_numpy(self.interval_scale)))
        )

    def interval_bounds(self, mean, std):
        """Interval ends ``mean ± scale * (std + offset) ** power`` from ensemble mean and spread.

        Tensor ops (the exported graph uses them too); the lower end is clipped at 0 when
        the model learns log targets (its properties are positive). NaN until calibrated.
        """
        spread = tf.cast(std, tf.float32) + self.interval_offset  # > 0 once calibrated
        half = self.interval_scale * tf.pow(spread, self.interval_power)
        lower = tf.cast(mean, tf.float32) - half
        if self.log_targets:
            lower = tf.maximum(lower, 0.0)
        return lower, tf.cast(mean, tf.float32) + half

    def calibrate(self, compositions, properties, coverage: float | None = None) -> dict[str, dict]:
        """Calibrates the prediction intervals on alloys the model did not train on.

        Normalized split conformal (`hea_zoo.models.calibration`): per property, the
        exponent ``b`` of a log-spread model fitted on these rows (shrunk towards 1), then
        the conformal quantile of ``|y - mean| / (std + eps) ** b`` over them becomes the
        interval scale. Use alloys whose compositions are not in the training data (a
        group-disjoint split), or the intervals come out too narrow.

        Args:
            compositions: (N, E) calibration compositions.
            properties: (N, P) their measured properties.
            coverage: nominal coverage (default: the model's `coverage`, 0.9).

        Returns:
            The intervals' coverage on the calibration rows (`calibration.interval_report`;
            at least nominal by construction; measure on held-out alloys with `score`).

        Raises:
            ValueError: an untrained model, too few rows for the coverage (9 for 90 %), or
                bad inputs.
        """
        if not self.is_trained:
            raise ValueError(
                "Calibrate a trained Surrogate: call `fit` first (after `adapt` and "
                "`compile`), or use `train_default_surrogate`, which calibrates."
            )
        coverage = self.coverage if coverage is None else calibration._check_coverage(coverage)
        x = validation.check_compositions(compositions, self.elements, name="calibration compositions", atol=1e-3)
        y = validation.check_properties(properties, x.shape[0], self.property_names, "calibration properties")
        mean, std = self.predict_with_uncertainty(x)
        self.set_intervals(calibration.fit_intervals(y, mean, std, coverage), coverage, int(x.shape[0]))
        lower, upper = (keras.ops.convert_to_numpy(t) for t in self.interval_bounds(mean, std))
        return calibration.interval_report(y, lower, upper, std, self.property_names, coverage)

    def set_intervals(
        self,
        parameters: calibration.IntervalParameters,
        coverage: float,
        calibration_size: int,
        calibration_folds: int = 0,
    ) -> None:
        """Sets the interval ``mean ± scale * (std + offset) ** power`` (saved with the model).

        `calibrate` fits the parameters on held-out alloys; `train_default_surrogate` fits
        them on out-of-fold predictions on small tables (`hea_zoo.models.calibration`).

        Args:
            parameters: `calibration.IntervalParameters`, one value per property.
            coverage: their nominal coverage.
            calibration_size: alloys they were fitted on (>= 1).
            calibration_folds: K for K-fold cross-conformal scores, 0 for a split.
        """
        n_props = len(self.property_names)
        values = [np.asarray(v, dtype=np.float32).reshape(-1) for v in parameters]
        if any(v.shape != (n_props,) for v in values):
            raise ValueError(
                f"Interval parameters need one value per property ({n_props}). "
                f"Received shapes: {[v.shape for v in values]}"
            )
        for variable, value in zip((self.interval_scale, self.interval_offset, self.interval_power), values):
            variable.assign(value)
        self.coverage = calibration._check_coverage(coverage)
        self.calibration_size = validation.positive_int(calibration_size, "calibration_size")
        self.calibration_folds = validation.nonnegative_int(calibration_folds, "calibration_folds")

    def predict_interval(self, compositions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Prediction and its calibrated interval: ``(mean, lower, upper)``, each (N, P).

        About `coverage` of new alloys' true values fall in ``[lower, upper]``.

        Raises:
            ValueError: the model is not calibrated (call `calibrate`).
        """
        if not self.is_calibrated:
            raise ValueError(
                "This Surrogate has no calibrated intervals: call `calibrate(compositions, "
                "properties)` on held-out alloys (train_default_surrogate does)."
            )
        mean, std = self.predict_with_uncertainty(compositions)
        lower, upper = self.interval_bounds(mean, std)
        return mean, keras.ops.convert_to_numpy(lower), keras.ops.convert_to_numpy(upper)

    def score(self, compositions, properties) -> dict[str, dict[str, float]]:
        """Held-out scores per property: R², MAPE (%), MAE, mean ensemble std, and
        ``coverage_2std``: the share of rows whose error is within two ensemble standard
        deviations (about 0.95 for a calibrated Gaussian uncertainty; lower means the
        spread understates the error). A calibrated model adds its intervals' measured
        ``interval_coverage`` (nominal ``coverage``), ``interval_coverage_by_spread``
        (terciles of ensemble spread, low to high), ``interval_width`` (mean, in the
        property's units), ``calibration_size`` and ``calibration_folds`` (how the
        intervals were calibrated); every row adds ``n`` (rows scored)."""
        y = validation.check_properties(
            properties, np.asarray(compositions).shape[0], self.property_names
        )
        mean, std = self.predict_with_uncertainty(compositions)
        scores = {}
        for j, name in enumerate(self.property_names):
            resid = y[:, j] - mean[:, j]
            ss_tot = float(np.sum((y[:, j] - y[:, j].mean()) ** 2))
            scores[name] = {
                "r2": 1.0 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else float("nan"),
                "mape": float(np.mean(np.abs(resid) / np.abs(y[:, j])) * 100.0),
                "mae": float(np.mean(np.abs(resid))),
                "mean_std": float(np.mean(std[:, j])),
                "coverage_2std": float(np.mean(np.abs(resid) <= 2.0 * std[:, j])),
                "n": int(len(y)),
            }
        if self.is_calibrated:
            lower, upper = (keras.ops.convert_to_numpy(t) for t in self.interval_bounds(mean, std))
            report = calibration.interval_report(y, lower, upper, std, self.property_names, self.coverage)
            for name, r in report.items():
                scores[name].update(
                    {
                        "coverage": r["nominal"],
                        "interval_coverage": r["coverage"],
                        "interval_coverage_by_spread": r["coverage_by_spread"],
                        "interval_width": r["width"],
                        "interval_relative_width": r["relative_width"],
                        "calibration_size": self.calibration_size,
                        "calibration_folds": self.calibration_folds,
                    }
                )
        return scores

    # === Config ===
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "elements": list(self.elements),
                "property_names": list(self.property_names),
                "property_units": list(self.property_units),
                "n_members": self.n_members,
                "hidden_units": list(self.hidden_units),
                "activation": self.activation,
                "learning_rate": self.learning_rate,
                "log_targets": self.log_targets,
                "seed": self.seed,
                "model_version": self.model_version,
                "package_version": __version__,
                "data_fingerprint": self.data_fingerprint,
                "coverage": self.coverage,
                "calibration_size": self.calibration_size,
                "calibration_folds": self.calibration_folds,
                "descriptors": list(self.descriptors),
            }
        )
        return config

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        saved = str(config.get("package_version", __version__))
        model_version = str(config.get("model_version", SURROGATE_MODEL_VERSION))
        legacy = model_version == "1"
        # Layouts 1 and 2 read fractions only (and are converted on load).
        config.setdefault("descriptors", [])
        if model_version in ("1", "2"):
            config["model_version"] = SURROGATE_MODEL_VERSION
        cls._check_versions(
            saved if saved != __version__ else None,
            None if model_version in ("1", "2", SURROGATE_MODEL_VERSION) else model_version,
            SURROGATE_MODEL_VERSION,
        )
        model = cls(**config)
        if legacy:
            model._legacy_layout = "1"
            model._legacy_package_version = saved
        return model

    # === Files of hea_zoo 0.1.0 ===
    def load_own_variables(self, store):
        if getattr(self, "_legacy_layout", None) != "1":
            own = self._trainable_variables + self._non_trainable_variables
            missing = len(own) - len(store.keys())
            if missing in (1, 3):
                # A layout-2 file saved before `interval_power` (1 missing: power 1, the
                # intervals as they were) or before the intervals (3: no interval_scale,
                # interval_offset, interval_power; the model loads uncalibrated).
                for i, variable in enumerate(own[:-missing]):
                    variable.assign(store[f"{i}"])
                self.interval_power.assign(np.ones(len(self.property_names), np.float32))
                if missing == 3:
                    self.calibration_size = 0
                self._adapted = True
                return
            super().load_own_variables(store)
            return
        try:
            self._load_legacy(store)
        except (KeyError, AttributeError, TypeError, ValueError) as error:
            saved = getattr(self, "_legacy_package_version", "0.1.0")
            raise ValueError(
                f"This Surrogate was saved by hea_zoo {saved} (one network per member, "
                f"model_version 1) and could not be converted ({error}): retrain it "
                "(`hea-zoo train surrogate --out surrogate.keras`), or keep using its "
                "ONNX and SavedModel exports, which do not change."
            ) from None
        self._adapted = True

    def _load_legacy(self, store) -> None:
        """Stacks the members of a model_version-1 file into the ensemble layers.

        0.1.0 kept member `i` as a `Sequential` (saved as `layers/sequential[_i]`) of
        Dense layers (`layers/dense[_j]`), and a `trained` weight after the target
        statistics; "trained" now is the optimizer's step count, taken from the file.
        """
        values = [np.asarray(store[str(i)]) for i in range(len(store.keys()))]
        mean, std, trained = values
        h5 = store.h5_file
        for j, layer in enumerate(self.ensemble_layers):
            kernels, biases = [], []
            for i in range(self.n_members):
                member = h5["layers"]["sequential" + ("" if i == 0 else f"_{i}")]
                dense = member["layers"]["dense" + ("" if j == 0 else f"_{j}")]["vars"]
                kernels.append(np.asarray(dense["0"]))
                biases.append(np.asarray(dense["1"]))
            layer.kernel.assign(np.stack(kernels))
            layer.bias.assign(np.stack(biases)[:, None, :])
            layer._loaded_from_legacy = True
        self.target_mean.assign(mean)
        self.target_std.assign(std)
        self.calibration_size = 0  # 0.1.0 had no intervals
        if self.optimizer is not None:
            steps = int(np.asarray(h5["optimizer"]["vars"]["0"])) if float(trained) > 0.5 else 0
            # The optimizer's moments do not carry over (their layout changed too).
            self.optimizer.iterations.assign(steps)


def train_default_surrogate(
    dataset,
    epochs: int | None = None,
    seed: int = 0,
    verbose: int | str = "auto",
    budget: TrainingBudget | None = None,
    coverage: float = calibration.DEFAULT_COVERAGE,
    calibration_fraction: float = calibration.CALIBRATION_FRACTION,
    calibration_folds: int | None = None,
    descriptors: Sequence[str] | str = "auto",
) -> Surrogate:
    """Train the default ensemble on `dataset.train` and calibrate its intervals.

    How the intervals are calibrated depends on the number of distinct training alloys
    (composition groups; `hea_zoo.models.calibration`):

    - at least `calibration.CROSS_CONFORMAL_MAX_ALLOYS` (250): a share
      `calibration_fraction` of them (whole groups, seeded by `seed`) is kept out of
      training and calibrates the intervals (split conformal, `Surrogate.calibrate`); the
      ensemble trains on the rest;
    - fewer: K-fold cross-conformal (K = `calibration.CROSS_CONFORMAL_FOLDS`, 5): K
      ensembles, each trained on all folds but one, predict the alloys of the fold they
      did not see; the intervals are fitted on those out-of-fold predictions of every
      training alloy, with each ensemble's spread measured in units of its median spread
      on its own training alloys; the returned ensemble trains on all of them, and its
      interval uses its own spread in the same units (K + 1 trainings).

    When there are too few alloys for either (a calibration set smaller than
    ``min_calibration_size(coverage)``), the model trains on all of them and stays
    uncalibrated, with a warning.

    On the training rows it adapts the target standardization, then fits within the
    default step budget (`SURROGATE_DEFAULTS["budget"]`, see
    `hea_zoo.models.training.TrainingBudget`): the batch grows with the table, the number
    of epochs is capped by a number of optimizer steps, and on large tables training
    stops early on a validation split with the best weights restored. The members' activation is
    `SURROGATE_DEFAULTS["activation"]`, or `"large_table_activation"` on tables of more than
    the budget's `early_stopping_rows` training rows.

    Args:
        dataset: a `hea_zoo.Dataset` (its elements, properties, units and groups).
        epochs: maximum number of epochs (default `SURROGATE_DEFAULTS["epochs"]`); an
            integer >= 1.
        seed: ensemble and calibration-split seed.
        verbose: ``"auto"``: one progress bar and a summary on stderr
            (`hea_zoo.progress.TrainingProgress`); 0: silent; 1 or 2: Keras's own output.
        budget: the step budget (default `SURROGATE_DEFAULTS["budget"]`).
        coverage: nominal coverage of the intervals.
        calibration_fraction: share of training alloys used for a calibration split (0:
            no calibration at all).
        calibration_folds: None (default): cross-conformal folds on small tables, a split
            otherwise (above); 0: always a split; K >= 2: always K-fold cross-conformal.
        descriptors: the members' element descriptors (`Surrogate`; ``"auto"``: the
            valence-electron count and atomic radius when the element table covers the
            dataset's elements, fractions only otherwise).

    Returns:
        The trained surrogate; `model.training_seconds` holds the training time
        (calibration included).
    """
    epochs = SURROGATE_DEFAULTS["epochs"] if epochs is None else validation.check_epochs(epochs)
    coverage = calibration._check_coverage(coverage)
    calibration_fraction = validation.nonnegative_number(calibration_fraction, "calibration_fraction")
    if calibration_fraction >= 1.0:
        raise ValueError(
            "`calibration_fraction` must be in [0, 1) (the rest trains the ensemble). "
            f"Received: calibration_fraction={calibration_fraction!r}"
        )
    if calibration_folds is not None:
        calibration_folds = validation.nonnegative_int(calibration_folds, "calibration_folds")
        if calibration_folds == 1:
            raise ValueError(
                "`calibration_folds` must be 0 (a calibration split) or >= 2. Received: calibration_folds=1"
            )
    budget = SURROGATE_DEFAULTS["budget"] if budget is None else budget
    train = dataset.train
    settings = {
        "activation": SURROGATE_DEFAULTS[
            "large_table_activation" if len(train) > budget.early_stopping_rows else "activation"
        ],
        "log_targets": bool(np.all(dataset.properties > 0)),
        "elements": dataset.elements,
        "property_names": dataset.property_names,
        "property_units": dataset.property_units,
        "seed": seed,
        "data_fingerprint": getattr(dataset, "source_fingerprint", None),
        "coverage": coverage,
        "descriptors": resolve_descriptors(descriptors, dataset.elements),
    }
    fit = {"epochs": epochs, "budget": budget, "seed": seed}
    keras.utils.set_random_seed(seed)
    model = Surrogate(**settings)
    x, y = model.check_data(train.compositions, train.properties)
    groups = getattr(train, "groups", None)
    groups = np.arange(len(x)) if groups is None else np.asarray(groups)
    n_groups = len(np.unique(groups))
    needed = calibration.min_calibration_size(coverage)
    folds = 0
    if calibration_fraction > 0:
        folds = calibration_folds
        if folds is None:
            small = n_groups < calibration.CROSS_CONFORMAL_MAX_ALLOYS
            folds = calibration.CROSS_CONFORMAL_FOLDS if small else 0
        n_cal = n_groups if folds else int(round(n_groups * calibration_fraction))
        if n_cal < needed or n_groups < max(folds, 2):
            warnings.warn(
                f"{n_groups} training alloys leave {n_cal} for calibration; a "
                f"{coverage:.0%} interval needs {needed}. "
                "The surrogate is not calibrated (no intervals).",
                stacklevel=2,
            )
            calibration_fraction, folds = 0.0, 0
    start = time.perf_counter()
    if calibration_fraction > 0 and folds:
        from hea_zoo.data.datasets import group_folds

        fold = group_folds(groups, folds, seed + 1)
        mean, spread = np.zeros_like(y, dtype=np.float64), np.zeros_like(y, dtype=np.float64)
        for k in range(folds):
            held = fold == k
            keras.utils.set_random_seed(seed)
            part = Surrogate(**settings)
            _fit_surrogate(part, x[~held], y[~held], verbose, f"surrogate, calibration fold {k + 1}/{folds}", **fit)
            mean[held], std = _members_moments(part, x[held])
            spread[held] = std / _spread_unit(part, x[~held])
            del part
        keras.utils.set_random_seed(seed)
        model = Surrogate(**settings)
        _fit_surrogate(model, x, y, verbose, "surrogate", **fit)
        relative = calibration.fit_intervals(y, mean, spread, coverage)
        model.set_intervals(calibration.in_units_of(relative, _spread_unit(model, x)), coverage, len(x), folds)
    else:
        fit_index, cal_index = np.arange(len(x)), np.arange(0)
        if calibration_fraction > 0:
            from hea_zoo.data.datasets import group_split

            fit_index, cal_index = group_split(groups, calibration_fraction, seed + 1)
        _fit_surrogate(model, x[fit_index], y[fit_index], verbose, "surrogate", **fit)
        if len(cal_index):
            model.calibrate(x[cal_index], y[cal_index])
    model.training_seconds = time.perf_counter() - start
    return model


def _members_moments(model: Surrogate, x) -> tuple[np.ndarray, np.ndarray]:
    """Ensemble mean and spread, computed eagerly (a compiled function per fold model would
    be retraced, and warned about, each time)."""
    members = keras.ops.convert_to_numpy(model.member_outputs(x)).astype(np.float64)
    return members.mean(axis=0), members.std(axis=0)


def _spread_unit(model: Surrogate, x) -> np.ndarray:
    """(P,) the median ensemble spread of `model` on its own training rows `x`: the unit in
    which cross-conformal calibration measures spreads (`hea_zoo.models.calibration`)."""
    return np.maximum(np.median(_members_moments(model, x)[1], axis=0), 1e-12)


def _fit_surrogate(model: Surrogate, x, y, verbose, label: str, epochs: int, budget: TrainingBudget, seed: int) -> None:
    """Adapts, compiles and fits `model` on (x, y) with the default batch within `budget`."""
    from hea_zoo.progress import fit_arguments

    model.adapt(x, y)
    model.compile(steps_per_execution=STEPS_PER_EXECUTION)
    fit_with_budget(
        model,
        x,
        y,
        epochs=epochs,
        batch_size=SURROGATE_DEFAULTS["batch_size"],
        budget=budget,
        monitor="val_loss",
        seed=seed,
        **fit_arguments(verbose, label),
    )

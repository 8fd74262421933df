"""The forward surrogate: an ensemble of small MLPs, composition -> properties.

It is the study's judge of generated designs (Tung, Debnath & Reinhart, "Evaluating
generative models for inverse design of high-entropy refractory alloys"): the study scored
its generators with a learned forward model. hea_zoo's is an ensemble of `n_members`
networks trained from different seeds; their mean is the prediction and their standard
deviation an uncertainty. Targets are standardized inside the model (constants adapted on
the training data and saved with it), so inputs are atomic fractions and outputs are in
physical units.

Its uncertainty is a calibrated interval (`calibrate`, `predict_interval`): normalized
split conformal prediction on alloys held out from training (`hea_zoo.models.calibration`),
so that about `coverage` (90 % by default) of new alloys' true values fall inside.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from hea_zoo._version import __version__
from hea_zoo.data.composition import validate_compositions
from hea_zoo.constants import ELEMENTS, PROPERTY_NAMES, PROPERTY_UNITS
from hea_zoo.models import calibration

__all__ = ["Surrogate", "train_default_surrogate", "SURROGATE_DEFAULTS"]

#: Defaults chosen on the bundled data (see docs/HYPERPARAMETERS.md).
SURROGATE_DEFAULTS: dict = {
    "n_members": 5,
    "hidden_units": (128, 128),
    "learning_rate": 3e-3,
    "epochs": 400,
    "batch_size": 32,
}


def _check_properties(properties, n_rows: int, n_props: int, name: str = "properties") -> np.ndarray:
    y = np.asarray(properties, dtype=np.float64)
    if y.ndim == 1 and n_props == 1:
        y = y[:, None]
    if y.shape != (n_rows, n_props):
        raise ValueError(
            f"Expected {name} of shape ({n_rows}, {n_props}) (one row per composition, one "
            f"column per property). Received shape {y.shape}."
        )
    bad = ~np.all(np.isfinite(y), axis=1)
    if bad.any():
        r = int(np.argmax(bad))
        raise ValueError(f"{name} row {r} is not finite: {y[r].tolist()}.")
    return y.astype(np.float32)


@keras.saving.register_keras_serializable(package="hea_zoo")
class Surrogate(keras.Model):
    """Deep-ensemble regressor from atomic fractions to properties in physical units.

    Args:
        elements: element symbols of the input columns.
        property_names: names of the predicted properties.
        property_units: their units.
        n_members: number of networks in the ensemble (>= 1; 5 by default).
        hidden_units: widths of each member's hidden layers.
        activation: hidden activation.
        learning_rate: Adam learning rate used by `compile` when called without arguments.
        log_targets: learn log(property) (for positive properties such as moduli and
            toughness: relative errors weigh equally across the range). `fit` refuses
            nonpositive targets when True.
        seed: base seed; member i is initialized from `seed + i`.
        model_version: version string recorded in saved files and exports.
        package_version: hea_zoo version that built the model (set automatically).
        data_fingerprint: `Dataset.source_fingerprint` of the training data.
        coverage: nominal coverage of the prediction intervals (0.9 by default).
        calibration_size: number of calibration alloys behind the intervals (0: not
            calibrated; set by `calibrate`).

    Call:
        `model(compositions)` -> (batch, P) ensemble mean in physical units.

    Example:
        >>> ds = hea_zoo.load_dataset()
        >>> s = Surrogate(n_members=5)
        >>> s.fit(ds.train.compositions, ds.train.properties, epochs=200)
        >>> mean, std = s.predict_with_uncertainty(ds.test.compositions)
        >>> s.calibrate(calibration_compositions, calibration_properties)
        >>> mean, lower, upper = s.predict_interval(ds.test.compositions)
    """

    def __init__(
        self,
        elements: Sequence[str] = ELEMENTS,
        property_names: Sequence[str] = PROPERTY_NAMES,
        property_units: Sequence[str] = PROPERTY_UNITS,
        n_members: int = SURROGATE_DEFAULTS["n_members"],
        hidden_units: Sequence[int] = SURROGATE_DEFAULTS["hidden_units"],
        activation: str = "silu",
        learning_rate: float = SURROGATE_DEFAULTS["learning_rate"],
        log_targets: bool = True,
        seed: int = 0,
        model_version: str = "1",
        package_version: str = __version__,
        data_fingerprint: str | None = None,
        coverage: float = calibration.DEFAULT_COVERAGE,
        calibration_size: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(n_members) < 1:
            raise ValueError(f"n_members must be a positive integer. Received: n_members={n_members}")
        if len(property_names) < 1 or len(property_units) != len(property_names):
            raise ValueError(
                "Expected one unit per property name. Received: "
                f"property_names={list(property_names)}, property_units={list(property_units)}"
            )
        # === Config ===
        self.elements = tuple(elements)
        self.property_names = tuple(property_names)
        self.property_units = tuple(property_units)
        self.n_members = int(n_members)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.activation = activation
        self.learning_rate = float(learning_rate)
        self.log_targets = bool(log_targets)
        self.seed = int(seed)
        self.model_version = str(model_version)
        self.package_version = str(package_version)
        self.data_fingerprint = None if data_fingerprint is None else str(data_fingerprint)
        self.coverage = calibration._check_coverage(coverage)
        self.calibration_size = int(calibration_size)
        if self.package_version != __version__:
            warnings.warn(
                f"This Surrogate was saved by hea_zoo {self.package_version}; this is "
                f"hea_zoo {__version__}. Check its predictions before relying on them.",
                stacklevel=2,
            )
        n_props = len(self.property_names)
        # === Layers ===
        self.members = []
        for i in range(self.n_members):
            layers = [keras.Input((len(self.elements),))]
            for j, units in enumerate(self.hidden_units):
                layers.append(
                    keras.layers.Dense(
                        units,
                        activation=activation,
                        kernel_initializer=keras.initializers.GlorotUniform(seed=self.seed * 1000 + i * 10 + j),
                        name=f"member{i}_dense{j}",
                    )
                )
            layers.append(
                keras.layers.Dense(
                    n_props,
                    kernel_initializer=keras.initializers.GlorotUniform(seed=self.seed * 1000 + i * 10 + 9),
                    name=f"member{i}_out",
                )
            )
            self.members.append(keras.Sequential(layers, name=f"member{i}"))
        # === Target standardization (adapted in fit, saved with the weights) ===
        self.target_mean = self.add_weight(
            shape=(n_props,), initializer="zeros", trainable=False, name="target_mean"
        )
        self.target_std = self.add_weight(
            shape=(n_props,), initializer="ones", trainable=False, name="target_std"
        )
        self.trained = self.add_weight(shape=(), initializer="zeros", trainable=False, name="trained")
        # === Interval calibration (set by `calibrate`; NaN until then) ===
        self.interval_scale = self.add_weight(
            shape=(n_props,), initializer=keras.initializers.Constant(float("nan")),
            trainable=False, name="interval_scale",
        )  # fmt: skip
        self.interval_offset = self.add_weight(
            shape=(n_props,), initializer="zeros", trainable=False, name="interval_offset"
        )
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mae_tracker = keras.metrics.Mean(name="mae")

    # === Forward ===
    def member_outputs(self, compositions) -> tf.Tensor:
        """(n_members, batch, P) predictions in physical units."""
        x = tf.convert_to_tensor(compositions, dtype=tf.float32)
        z = tf.stack([m(x) for m in self.members], axis=0)
        return self._from_standard(z)

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

    @property
    def metrics(self):
        return [self.loss_tracker, self.mae_tracker]

    def _ensemble_losses(self, x, y, sample_weight=None):
        y_std = self._to_standard(y)
        preds = tf.stack([m(x, training=True) for m in self.members], axis=0)
        err = tf.reduce_mean(tf.square(preds - y_std[None]), axis=-1)  # (members, batch)
        if sample_weight is not None:
            w = tf.cast(tf.reshape(sample_weight, (1, -1)), tf.float32)
            loss = tf.reduce_sum(err * w) / (tf.reduce_sum(w) * self.n_members)
        else:
            loss = tf.reduce_mean(err)
        mae = tf.reduce_mean(tf.abs(self._from_standard(tf.reduce_mean(preds, 0)) - tf.cast(y, tf.float32)))
        return loss, mae

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            loss, mae = self._ensemble_losses(x, y, sample_weight)
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply(grads, self.trainable_weights)
        self.loss_tracker.update_state(loss)
        self.mae_tracker.update_state(mae)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        loss, mae = self._ensemble_losses(x, y, sample_weight)
        self.loss_tracker.update_state(loss)
        self.mae_tracker.update_state(mae)
        return {m.name: m.result() for m in self.metrics}

    # === Training ===
    def fit(self, x=None, y=None, epochs=SURROGATE_DEFAULTS["epochs"], batch_size=SURROGATE_DEFAULTS["batch_size"], **kwargs):
        """Validate the data, adapt the target standardization, then run Keras `fit`.

        Args:
            x: (N, E) atomic fractions.
            y: (N, P) properties in physical units.
            epochs, batch_size, **kwargs: as for `keras.Model.fit` (validation_data,
                callbacks, verbose, ...).
        """
        x = validate_compositions(x, n_elements=len(self.elements))
        y = _check_properties(y, x.shape[0], len(self.property_names))
        if kwargs.get("validation_data") is not None:
            vx, vy = kwargs["validation_data"][:2]
            vx = validate_compositions(vx, n_elements=len(self.elements), name="validation compositions")
            kwargs["validation_data"] = (vx, _check_properties(vy, vx.shape[0], len(self.property_names), "validation properties"))
        if not self.built:
            self.build((None, len(self.elements)))
        if not self.compiled:
            self.compile(optimizer=keras.optimizers.Adam(self.learning_rate))
        if self.log_targets and np.any(y <= 0):
            r = int(np.argmax(np.any(y <= 0, axis=1)))
            raise ValueError(
                f"properties row {r} is not positive ({y[r].tolist()}): this Surrogate learns "
                "log(property) (log_targets=True), a transform that needs positive values. Pass "
                "log_targets=False (train_default_surrogate does when a value is not positive)."
            )
        if float(keras.ops.convert_to_numpy(self.trained)) == 0.0:
            t = np.log(y) if self.log_targets else y
            self.target_mean.assign(t.mean(axis=0))
            self.target_std.assign(np.maximum(t.std(axis=0), 1e-6))
        kwargs.setdefault("shuffle", True)
        history = super().fit(x, y, epochs=epochs, batch_size=batch_size, **kwargs)
        self.trained.assign(1.0)
        return history

    @property
    def is_trained(self) -> bool:
        """True once `fit` has run (saved with the model)."""
        return self.built and float(keras.ops.convert_to_numpy(self.trained)) == 1.0

    def predict_with_uncertainty(self, compositions, batch_size: int = 65536) -> tuple[np.ndarray, np.ndarray]:
        """Ensemble mean and standard deviation, each (N, P) in physical units."""
        x = validate_compositions(compositions, n_elements=len(self.elements), atol=1e-3)
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
        """Interval ends ``mean ± scale * (std + offset)`` from ensemble mean and spread.

        Tensor ops (the exported graph uses them too); the lower end is clipped at 0 when
        the model learns log targets (its properties are positive). NaN until calibrated.
        """
        half = self.interval_scale * (tf.cast(std, tf.float32) + self.interval_offset)
        lower = tf.cast(mean, tf.float32) - half
        if self.log_targets:
            lower = tf.maximum(lower, 0.0)
        return lower, tf.cast(mean, tf.float32) + half

    def calibrate(self, compositions, properties, coverage: float | None = None) -> dict[str, dict]:
        """Calibrates the prediction intervals on alloys the model did not train on.

        Normalized split conformal (`hea_zoo.models.calibration`): per property, the
        conformal quantile of ``|y - mean| / (std + eps)`` over these rows becomes the
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
            ValueError: too few rows for the coverage (9 for 90 %), or bad inputs.
        """
        if not self.is_trained:
            raise ValueError("Calibrate a trained Surrogate: call `fit` first.")
        coverage = self.coverage if coverage is None else calibration._check_coverage(coverage)
        x = validate_compositions(compositions, n_elements=len(self.elements), atol=1e-3)
        y = _check_properties(properties, x.shape[0], len(self.property_names))
        mean, std = self.predict_with_uncertainty(x)
        scale, offset = calibration.fit_intervals(y, mean, std, coverage)
        self.interval_scale.assign(scale.astype(np.float32))
        self.interval_offset.assign(offset.astype(np.float32))
        self.coverage = coverage
        self.calibration_size = int(x.shape[0])
        lower, upper = (t.numpy() for t in self.interval_bounds(mean, std))
        return calibration.interval_report(y, lower, upper, std, self.property_names, coverage)

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
        return mean, lower.numpy(), upper.numpy()

    def score(self, compositions, properties) -> dict[str, dict[str, float]]:
        """Held-out scores per property: R², MAPE (%), MAE, mean ensemble std, and
        ``coverage_2std``: the share of rows whose error is within two ensemble standard
        deviations (about 0.95 for a calibrated Gaussian uncertainty; lower means the
        spread understates the error). A calibrated model adds its intervals' measured
        ``interval_coverage`` (nominal ``coverage``), ``interval_coverage_by_spread``
        (terciles of ensemble spread, low to high), ``interval_width`` (mean, in the
        property's units) and ``n`` (rows scored)."""
        y = _check_properties(properties, np.asarray(compositions).shape[0], len(self.property_names))
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
            lower, upper = (t.numpy() for t in self.interval_bounds(mean, std))
            report = calibration.interval_report(y, lower, upper, std, self.property_names, self.coverage)
            for name, r in report.items():
                scores[name].update(
                    {
                        "coverage": r["nominal"],
                        "interval_coverage": r["coverage"],
                        "interval_coverage_by_spread": r["coverage_by_spread"],
                        "interval_width": r["width"],
                        "interval_relative_width": r["relative_width"],
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
                "package_version": self.package_version,
                "data_fingerprint": self.data_fingerprint,
                "coverage": self.coverage,
                "calibration_size": self.calibration_size,
            }
        )
        return config

    def load_own_variables(self, store):
        """Loads the saved variables; a file saved before the intervals existed (no
        ``interval_scale``/``interval_offset``) loads uncalibrated."""
        own = self._trainable_variables + self._non_trainable_variables
        if len(store.keys()) == len(own) - 2:
            for i, variable in enumerate(own[:-2]):
                variable.assign(store[f"{i}"])
            self.calibration_size = 0
            return
        super().load_own_variables(store)

    def build(self, input_shape=None):
        for m in self.members:
            m.build((None, len(self.elements)))
        super().build((None, len(self.elements)))


def train_default_surrogate(
    dataset,
    epochs: int | None = None,
    seed: int = 0,
    verbose: int = 0,
    coverage: float = calibration.DEFAULT_COVERAGE,
    calibration_fraction: float = calibration.CALIBRATION_FRACTION,
) -> Surrogate:
    """Train the default ensemble on `dataset.train` and calibrate its intervals.

    A share `calibration_fraction` of the training alloys (whole composition groups,
    seeded by `seed`) is kept out of training and calibrates the intervals
    (`Surrogate.calibrate`); the ensemble trains on the rest. When the training split
    has too few alloys for that (fewer than ``min_calibration_size(coverage)``
    calibration alloys), the model trains on all of it and stays uncalibrated, with a
    warning.

    Args:
        dataset: a `hea_zoo.Dataset` (its elements, properties, units and groups).
        epochs: default `SURROGATE_DEFAULTS["epochs"]`.
        seed: ensemble and calibration-split seed.
        verbose: Keras verbosity.
        coverage: nominal coverage of the intervals.
        calibration_fraction: share of training alloys used for calibration (0: none).
    """
    keras.utils.set_random_seed(seed)
    model = Surrogate(
        log_targets=bool(np.all(dataset.properties > 0)),
        elements=dataset.elements,
        property_names=dataset.property_names,
        property_units=dataset.property_units,
        seed=seed,
        data_fingerprint=getattr(dataset, "source_fingerprint", None),
    )
    model.coverage = calibration._check_coverage(coverage)
    train = dataset.train
    fit_index, cal_index = np.arange(len(train)), np.arange(0)
    if calibration_fraction > 0:
        from hea_zoo.data.datasets import group_split

        groups = getattr(train, "groups", None)
        groups = np.arange(len(train)) if groups is None else groups
        n_cal = int(round(len(np.unique(groups)) * calibration_fraction))
        if n_cal >= calibration.min_calibration_size(coverage):
            fit_index, cal_index = group_split(groups, calibration_fraction, seed + 1)
        else:
            warnings.warn(
                f"{len(np.unique(groups))} training alloys leave {n_cal} for calibration; a "
                f"{coverage:.0%} interval needs {calibration.min_calibration_size(coverage)}. "
                "The surrogate is not calibrated (no intervals).",
                stacklevel=2,
            )
    model.fit(
        train.compositions[fit_index],
        train.properties[fit_index],
        epochs=epochs or SURROGATE_DEFAULTS["epochs"],
        verbose=verbose,
    )
    if len(cal_index):
        model.calibrate(train.compositions[cal_index], train.properties[cal_index])
    return model

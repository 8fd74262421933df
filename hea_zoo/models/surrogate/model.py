"""`Surrogate`, the deep-ensemble regressor (see `hea_zoo.models.surrogate`)."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from hea_zoo.errors import DataError, UsageError
from hea_zoo._version import __version__
from hea_zoo.constants import ELEMENTS, PROPERTY_NAMES, PROPERTY_UNITS
from hea_zoo.models import calibration, legacy, validation
from hea_zoo.models.base import ZooModel
from hea_zoo.models.surrogate.descriptors import descriptor_features, descriptor_table, resolve_descriptors
from hea_zoo.models.surrogate.layers import EnsembleDense
from hea_zoo.models.surrogate.priors import check_priors, prior_weights, unit_of

KERNEL_LENGTHS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.5, 0.8)
"""Length scales (in atomic fraction, L2) the kernel ridge regression chooses among."""

KERNEL_RIDGES: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0)
"""Ridges (on standardized targets) the kernel ridge regression chooses among."""

LAPLACIAN_LENGTHS: tuple[float, ...] = (0.3, 0.8, 2.0, 5.0)
"""Length scales of the Laplacian kernel ``exp(-d / length)`` (with `kernel_laplacian`);
it decays more slowly than the Gaussian, so its grid reaches further."""

KERNEL_SETTING_SCALE = 0.25
"""A setting's standard deviation counts as this much composition distance in the kernel
(a kernel without `kernel_descriptors`)."""

KERNEL_SETTING_SCALES: tuple[float, ...] = (0.25, 0.5, 1.0)
KERNEL_DESCRIPTOR_SCALES: tuple[float, ...] = (0.3, 0.6, 1.0)
"""With `kernel_descriptors`: the weights of a setting's and of a descriptor feature's
standard deviation, in composition distance, that `fit_kernel` chooses among (one pair per
model, by the leave-one-out error summed over the properties). No weight is 0: the
descriptors are what carries a table's knowledge to an element few of its alloys hold, and
leave-one-out error, measured among the training alloys, cannot see that (until 2026-12-08
the grid began at 0, which measured MPEA tables sometimes chose; docs/MPEA.md, "Small
tables")."""

SURROGATE_MODEL_VERSION = "3"
"""Layout of saved surrogates. "1" (hea_zoo 0.1.0): one network per member; "2": one
vectorized ensemble (`EnsembleDense` layers), with the interval weights
(`interval_scale`, `interval_offset`, `interval_power`) after the target statistics; a
layout-2 file saved before the intervals existed has no interval weights and loads
uncalibrated, one saved before `interval_power` loads with power 1 (the same intervals).
"3": element descriptors as extra inputs (`descriptors`; the descriptor table and the
features' statistics after the interval weights); a layout-2 file loads without them.
A layout-3 model with ``distance_rows`` in its config also holds its training compositions
and the intervals' distance terms (``distance_x``, ``interval_distance_scale``,
``interval_distance_power``); files without that key load as before (intervals from the
spread only)."""


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
        settings: names of measurement settings (e.g. ``("test_temperature",)``, °C):
            numeric inputs besides the composition (standardized by `adapt`), fixed when
            designing, never predicted. A model with settings takes them in every method
            (``settings=``: an (N, S) array or a mapping name -> value for every row); a
            model without settings is called with compositions only, as before.
        setting_units: their units.
        output_margin: None (default), or a margin m >= 0: each member's standardized
            output is clipped to the training targets' range widened by m standard
            deviations on each side (`adapt` records the range), so that a member cannot
            extrapolate to absurd values where a small table has no alloy (an unseen
            element); the small-table recipe (`hea_zoo.models.SURROGATE_DEFAULTS`) sets it.
        kernel_rows: 0 (default), or the capacity of a kernel ridge regression that joins
            the members (the small-table recipe): a Gaussian-kernel ridge regression on
            the fractions (and the standardized settings, scaled by `KERNEL_SETTING_SCALE`)
            fitted in closed form by `fit_kernel` after the members train (length scale and
            ridge per property by leave-one-out error); it reverts to the training mean far
            from every training alloy, as a random forest does, where the networks would
            extrapolate. Each member's standardized output becomes ``member +
            kernel_weight * (kernel - mean of the members)``: the ensemble mean moves to
            ``(1 - kernel_weight) * members' mean + kernel_weight * kernel`` and the
            members' spread (the uncertainty the intervals scale) is kept.
        kernel_weight: the kernel's share of the ensemble mean (0.5; the small-table recipe: 1).
        kernel_descriptors: False (default): the kernel reads the fractions and the
            settings (scaled by `KERNEL_SETTING_SCALE`); True (the small-table recipe): also
            the standardized element-descriptor features (`descriptors`), the weights of
            settings and descriptors chosen by `fit_kernel` (`KERNEL_SETTING_SCALES`,
            `KERNEL_DESCRIPTOR_SCALES`) and kept in the ``kernel_scales`` state.
        kernel_laplacian: False (default): a Gaussian kernel ``exp(-d² / (2 length²))``;
            True (the small-table recipe): `fit_kernel` chooses the weights with the
            Laplacian kernel ``exp(-d / length)`` (`LAPLACIAN_LENGTHS`), then tries the
            Gaussian at those weights and keeps, per property, the one of lower
            leave-one-out error (the ``kernel_laplace`` state: 1 where the Laplacian is
            kept). Measured on the MPEA properties in docs/MPEA.md, "Small tables".
        kernel_evidence: False (default): per property, the kernel ridge regression of least
            leave-one-out error; True (the small-table recipe): the mean of that one and a
            second, fitted at the same weights, whose length scale, ridge and kernel family
            maximize the marginal likelihood (the evidence of the equivalent Gaussian
            process, its signal variance at its closed-form optimum; `_kernel_fits`). The
            two criteria err in different places on measured tables (docs/MPEA.md, "Two
            criteria"); the second's state is ``kernel_alpha_e``, ``kernel_gamma_e``,
            ``kernel_laplace_e``.
        distance_rows: 0 (default), or the number of training compositions the model
            keeps (``distance_x``, set by `set_distance_rows`) so that its intervals widen
            with the distance of an alloy to the nearest of them (`nearest_distance`,
            Euclidean in atomic fractions; `hea_zoo.models.calibration`):
            ``half-width * (1 + d / distance_scale) ** distance_power``, both fitted per
            property when the intervals are calibrated. `train_default_surrogate` keeps
            the compositions its ensemble trained on.
        nonnegative: per property, True when it cannot be negative (strength, hardness,
            modulus, density, elongation...): its prediction and interval ends are clipped
            at 0 (`hea_zoo.models.calibration.nonnegative_properties` is the rule the
            default recipe applies). None: every property when `log_targets` (positive
            by construction), none otherwise.
        priors: None (default), or one physical prior per property (``""``: none;
            `hea_zoo.models.surrogate.priors`): ``"density"`` (the rule-of-mixtures
            density) or ``"reuss:<modulus>"`` (the volume-fraction Reuss average of the
            elements' modulus). A property with a prior is learnt as its ratio to it (in
            the log or linear target space) and every prediction and interval end is
            multiplied back by the alloy's prior, in the graph. The small-table recipe
            gives them by name and unit (`priors.auto_priors`).

    Call:
        `model(x)` -> (batch, P) ensemble mean in physical units; `x` is the
        compositions, or, for a model with settings, `join_inputs(compositions,
        settings)` (the fractions then the settings, one row each).

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

    default_learning_rate = 3e-3
    """Learning rate of the Adam optimizer `compile()` uses without one (the default
    recipe's, `hea_zoo.models.SURROGATE_DEFAULTS`)."""

    def __init__(
        self,
        elements: Sequence[str] = ELEMENTS,
        property_names: Sequence[str] = PROPERTY_NAMES,
        property_units: Sequence[str] = PROPERTY_UNITS,
        n_members: int = 5,
        hidden_units: Sequence[int] = (128, 128),
        activation: str = "silu",
        log_targets: bool = True,
        seed: int = 0,
        model_version: str = SURROGATE_MODEL_VERSION,
        package_version: str = __version__,
        data_fingerprint: str | None = None,
        coverage: float = calibration.DEFAULT_COVERAGE,
        calibration_size: int = 0,
        calibration_folds: int = 0,
        descriptors: Sequence[str] | str = "auto",
        settings: Sequence[str] = (),
        setting_units: Sequence[str] | None = None,
        nonnegative: Sequence[bool] | None = None,
        output_margin: float | None = None,
        kernel_rows: int = 0,
        kernel_weight: float = 0.5,
        kernel_descriptors: bool = False,
        kernel_laplacian: bool = False,
        kernel_evidence: bool = False,
        distance_rows: int = 0,
        priors: Sequence[str] | None = None,
        **kwargs,
    ):
        super().__init__(loss_names=("loss", "mae"), **kwargs)
        if isinstance(n_members, bool) or not isinstance(n_members, (int, np.integer)) or n_members < 1:
            raise UsageError(f"must be a positive integer. Received: n_members={n_members}", field="n_members")
        if len(property_names) < 1 or len(property_units) != len(property_names):
            raise UsageError(
                "Expected one unit per property name. Received: "
                f"property_names={list(property_names)}, property_units={list(property_units)}",
                field="property_units",
            )
        # === Config ===
        self.elements = validation.as_str_tuple(tuple(elements), "elements")
        self.property_names = tuple(property_names)
        self.property_units = tuple(property_units)
        self.n_members = int(n_members)
        self.hidden_units = validation.units_tuple(hidden_units, "hidden_units")
        keras.activations.get(activation)
        self.activation = activation
        self.log_targets = bool(log_targets)
        self.seed = int(seed)
        self.model_version = str(model_version)
        self.package_version = str(package_version)
        self.data_fingerprint = None if data_fingerprint is None else str(data_fingerprint)
        self.coverage = calibration._check_coverage(coverage)
        self.calibration_size = int(calibration_size)
        self.calibration_folds = validation.nonnegative_int(calibration_folds, "calibration_folds")
        self.descriptors = resolve_descriptors(descriptors, self.elements)
        self.settings = validation.as_str_tuple(tuple(settings), "settings", allow_empty=True) if settings else ()
        if len(set(self.settings)) != len(self.settings) or set(self.settings) & set(self.property_names):
            raise UsageError(
                f"settings must be distinct and not properties. Received: settings={list(self.settings)}, "
                f"property_names={list(self.property_names)}",
                field="settings",
            )
        self.setting_units = tuple(setting_units) if setting_units is not None else ("",) * len(self.settings)
        if len(self.setting_units) != len(self.settings):
            raise UsageError("Expected one unit per setting.", field="setting_units")
        if nonnegative is None:
            nonnegative = (self.log_targets,) * len(self.property_names)
        self.nonnegative = tuple(bool(v) for v in nonnegative)
        if len(self.nonnegative) != len(self.property_names):
            raise UsageError("Expected one nonnegative flag per property.", field="nonnegative")
        self.output_margin = (
            None if output_margin is None else validation.nonnegative_number(output_margin, "output_margin")
        )
        self.kernel_rows = validation.nonnegative_int(kernel_rows, "kernel_rows")
        self.kernel_weight = float(kernel_weight)
        if not isinstance(kernel_descriptors, (bool, np.bool_)):
            raise UsageError(f"must be True or False. Received: kernel_descriptors={kernel_descriptors!r}",
                             field="kernel_descriptors")  # fmt: skip
        self.kernel_descriptors = bool(kernel_descriptors)
        if not isinstance(kernel_laplacian, (bool, np.bool_)):
            raise UsageError(f"must be True or False. Received: kernel_laplacian={kernel_laplacian!r}",
                             field="kernel_laplacian")  # fmt: skip
        self.kernel_laplacian = bool(kernel_laplacian)
        if not isinstance(kernel_evidence, (bool, np.bool_)):
            raise UsageError(f"must be True or False. Received: kernel_evidence={kernel_evidence!r}",
                             field="kernel_evidence")  # fmt: skip
        self.kernel_evidence = bool(kernel_evidence)
        self.distance_rows = validation.nonnegative_int(distance_rows, "distance_rows")
        self.priors = check_priors(priors, self.property_names, self.elements, self.property_units)
        if not 0.0 <= self.kernel_weight <= 1.0:
            raise UsageError(f"must be in [0, 1]. Received: kernel_weight={kernel_weight}", field="kernel_weight")
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
        width = len(self.elements) + 2 * len(self.descriptors) + len(self.settings)
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
        # The training compositions and the intervals' distance terms (set by
        # `set_distance_rows` and `set_intervals`; power 0, no widening, until then)
        if self.distance_rows:
            self.distance_x = state((self.distance_rows, len(self.elements)), "zeros", "distance_x")
            self.interval_distance_scale = state((n_props,), "ones", "interval_distance_scale")
            self.interval_distance_power = state((n_props,), "zeros", "interval_distance_power")
        # Element descriptors (the table is fixed; the features' statistics are set by adapt)
        if self.descriptors:
            table = descriptor_table(self.descriptors, self.elements)
            self.descriptor_table = state(table.shape, keras.initializers.Constant(table), "descriptor_table")
            self.feature_mean = state((2 * len(self.descriptors),), "zeros", "feature_mean")
            self.feature_std = state((2 * len(self.descriptors),), "ones", "feature_std")
        # Physical priors (fixed): the prior of fractions c is (c @ prior_num) / (c @ prior_den)
        if self.has_priors:
            num, den = zip(*(prior_weights(p, self.elements, unit_of(name, u))
                             for p, name, u in zip(self.priors, self.property_names, self.property_units)))  # fmt: skip
            self.prior_num = state((len(self.elements), n_props), keras.initializers.Constant(np.stack(num, 1)), "prior_num")
            self.prior_den = state((len(self.elements), n_props), keras.initializers.Constant(np.stack(den, 1)), "prior_den")
        # Measurement settings' standardization (set by adapt)
        if self.settings:
            self.setting_mean = state((len(self.settings),), "zeros", "setting_mean")
            self.setting_std = state((len(self.settings),), "ones", "setting_std")
        # The standardized training targets' range (set by adapt), when outputs are clipped to it
        if self.output_margin is not None:
            self.output_low = state((n_props,), keras.initializers.Constant(-1e6), "output_low")
            self.output_high = state((n_props,), keras.initializers.Constant(1e6), "output_high")
        # The kernel ridge regression that joins the members (set by fit_kernel; 0 until then)
        if self.kernel_rows:
            width_k = len(self.elements) + len(self.settings) + (2 * len(self.descriptors) if self._kernel_descriptors else 0)
            if self._kernel_descriptors:  # (setting weight, descriptor weight), set by fit_kernel
                self.kernel_scales = state((2,), keras.initializers.Constant([KERNEL_SETTING_SCALE, 0.0]),
                                           "kernel_scales")  # fmt: skip
            self.kernel_x = state((self.kernel_rows, width_k), "zeros", "kernel_x")
            self.kernel_alpha = state((self.kernel_rows, n_props), "zeros", "kernel_alpha")
            self.kernel_gamma = state((n_props,), "ones", "kernel_gamma")
            if self.kernel_laplacian:  # 1 where a property's kernel is the Laplacian (set by fit_kernel)
                self.kernel_laplace = state((n_props,), "zeros", "kernel_laplace")
            if self.kernel_evidence:  # the evidence-chosen regression, averaged with the first
                self.kernel_alpha_e = state((self.kernel_rows, n_props), "zeros", "kernel_alpha_e")
                self.kernel_gamma_e = state((n_props,), "ones", "kernel_gamma_e")
                self.kernel_laplace_e = state((n_props,), "zeros", "kernel_laplace_e")
        self.built = True

    def default_optimizer(self) -> keras.optimizers.Optimizer:
        """Adam(`default_learning_rate`). The learning rate is a training setting: it lives
        with the optimizer (``compile(optimizer=keras.optimizers.Adam(rate))``), not in the
        model's config."""
        return keras.optimizers.Adam(self.default_learning_rate)

    # === Forward ===
    @property
    def n_inputs(self) -> int:
        """Width of the model's input rows: the elements, then the settings."""
        return len(self.elements) + len(self.settings)

    def join_inputs(self, compositions, settings=None, name: str = "") -> np.ndarray:
        """The model's input rows (N, E + S): validated compositions, then the settings.

        Args:
            compositions: (N, E) atomic fractions.
            settings: for a model with settings, an (N, S) array or a mapping name -> value
                (one value for every row, or N values); must be None for a model without.

        Raises:
            UsageError: settings missing, unknown or given to a model without settings.
        """
        prefix = f"{name} " if name else ""
        compositions, settings = self._split_joined(compositions, settings)
        x = validation.check_compositions(compositions, self.elements, name=f"{prefix}compositions", atol=1e-3)
        if not self.settings:
            if settings is not None and len(settings):
                raise UsageError(
                    f"this Surrogate takes no settings (it was trained without any). Received: {settings!r}",
                    field="settings",
                )
            return x
        return np.concatenate([x, self.setting_values(settings, x.shape[0])], axis=1)

    def _split_joined(self, compositions, settings):
        """Rows already joined (fractions then settings, width E + S) given without
        `settings`: split them back."""
        if self.settings and settings is None:
            array = np.asarray(compositions)
            if array.ndim == 2 and array.shape[1] == self.n_inputs:
                return array[:, : len(self.elements)], array[:, len(self.elements) :]
        return compositions, settings

    def setting_values(self, settings, n_rows: int) -> np.ndarray:
        """(n_rows, S) float32 setting values from an array or a mapping name -> value(s)."""
        names = list(self.settings)
        if settings is None:
            raise UsageError(
                f"this Surrogate takes measurement settings as inputs ({', '.join(names)}); pass settings "
                f"(e.g. settings={{{names[0]!r}: 25.0}}).",
                field="settings",
            )
        if isinstance(settings, dict):
            unknown = [k for k in settings if k not in names]
            missing = [k for k in names if k not in settings]
            if unknown or missing:
                raise UsageError(
                    f"expected a value for each of {names}"
                    + (f"; unknown {unknown}" if unknown else "")
                    + (f"; missing {missing}" if missing else "")
                    + ".",
                    field="settings",
                )
            columns = [np.broadcast_to(np.asarray(settings[k], dtype=np.float64).reshape(-1), (n_rows,)) for k in names]
            values = np.stack(columns, axis=1)
        else:
            values = np.asarray(settings, dtype=np.float64)
            if values.ndim == 1 and len(names) == 1 and values.shape[0] == n_rows:
                values = values[:, None]
            if values.ndim == 1 and values.shape[0] == len(names):
                values = np.broadcast_to(values[None], (n_rows, len(names)))
            if values.shape != (n_rows, len(names)):
                raise UsageError(
                    f"expected settings of shape ({n_rows}, {len(names)}) ({', '.join(names)}). "
                    f"Received shape {values.shape}.",
                    field="settings",
                )
        if not np.all(np.isfinite(values)):
            raise UsageError(f"settings must be finite numbers. Received: {values[~np.isfinite(values)][:3].tolist()}",
                             field="settings")  # fmt: skip
        return values.astype(np.float32)

    def _inputs(self, x) -> tf.Tensor:
        """The fractions, the standardized descriptor features (when the model has any), then
        the standardized settings (when it has any)."""
        x = tf.cast(x, tf.float32)
        if not self.descriptors and not self.settings:
            return x
        n_el = len(self.elements)
        composition = x[:, :n_el] if self.settings else x
        parts = [composition]
        if self.descriptors:
            features = descriptor_features(composition, self.descriptor_table)
            parts.append((features - self.feature_mean) / self.feature_std)
        if self.settings:
            parts.append((x[:, n_el:] - self.setting_mean) / self.setting_std)
        return tf.concat(parts, axis=-1)

    @property
    def _kernel_descriptors(self) -> bool:
        return bool(self.kernel_descriptors and self.descriptors)

    def _kernel_parts(self, x) -> list[tf.Tensor]:
        """The kernel's unscaled inputs: the fractions, the standardized settings (if any)
        and, with `kernel_descriptors`, the standardized descriptor features."""
        x = tf.cast(x, tf.float32)
        n_el = len(self.elements)
        parts = [x[:, :n_el]]
        if self.settings:
            parts.append((x[:, n_el:] - self.setting_mean) / self.setting_std)
        if self._kernel_descriptors:
            parts.append((descriptor_features(x[:, :n_el], self.descriptor_table) - self.feature_mean) / self.feature_std)
        return parts

    def _kernel_weights(self) -> tuple:
        """(setting weight, descriptor weight): the chosen ``kernel_scales`` with
        `kernel_descriptors`, else (`KERNEL_SETTING_SCALE`, 0)."""
        return (self.kernel_scales[0], self.kernel_scales[1]) if self._kernel_descriptors else (KERNEL_SETTING_SCALE, 0.0)

    def _weighted(self, parts: list, setting_weight, descriptor_weight) -> list:
        """`_kernel_parts` (tensors or arrays) with the settings and descriptors scaled."""
        out = [parts[0]]
        if self.settings:
            out.append(parts[1] * setting_weight)
        if self._kernel_descriptors:
            out.append(parts[-1] * descriptor_weight)
        return out

    def _kernel_features(self, x) -> tf.Tensor:
        """The kernel's inputs: `_kernel_parts` scaled by `_kernel_weights`."""
        return tf.concat(self._weighted(self._kernel_parts(x), *self._kernel_weights()), axis=-1)

    def _kernel(self, x) -> tf.Tensor:
        """(batch, P) the kernel ridge regression's standardized prediction."""
        f = self._kernel_features(x)
        d2 = (tf.reduce_sum(tf.square(f), -1, keepdims=True) - 2.0 * tf.matmul(f, self.kernel_x, transpose_b=True)
              + tf.reduce_sum(tf.square(self.kernel_x), -1)[None])  # (batch, rows)  # fmt: skip
        d2 = tf.maximum(d2, 0.0)[None]
        out = self._kernel_sum(d2, self.kernel_gamma, self.kernel_laplace if self.kernel_laplacian else None,
                               self.kernel_alpha)  # fmt: skip
        if self.kernel_evidence:
            out = 0.5 * (out + self._kernel_sum(d2, self.kernel_gamma_e, self.kernel_laplace_e, self.kernel_alpha_e))
        return out

    @staticmethod
    def _kernel_sum(d2, gamma, laplace, alpha) -> tf.Tensor:
        """(batch, P) ``sum_i alpha_i k(x, x_i)`` from squared distances `d2` (1, batch, rows):
        per property the Gaussian ``exp(-gamma d²)``, or where `laplace` is 1 the Laplacian
        ``exp(-gamma d)``."""
        k = tf.exp(-d2 * gamma[:, None, None])  # (P, batch, rows)
        if laplace is not None:
            lap = laplace[:, None, None]
            k = (1.0 - lap) * k + lap * tf.exp(-tf.sqrt(d2) * gamma[:, None, None])
        return tf.transpose(tf.reduce_sum(k * tf.transpose(alpha)[:, None, :], axis=-1))

    def fit_kernel(self, compositions, properties, settings=None) -> dict[str, tuple]:
        """Fits the kernel ridge regression (`kernel_rows` > 0) on training rows, in closed
        form: per property, on the rows that have it, the length scale and ridge of least
        leave-one-out error on the standardized targets (grids `KERNEL_LENGTHS`,
        `KERNEL_RIDGES`). With `kernel_descriptors`, the weights of the settings and of the
        descriptor features (`KERNEL_SETTING_SCALES`, `KERNEL_DESCRIPTOR_SCALES`) are chosen
        first, one pair for the model, by the properties' summed leave-one-out error. With
        `kernel_laplacian`, the weights are chosen with the Laplacian kernel
        (`LAPLACIAN_LENGTHS`), and each property then keeps the Gaussian at those weights
        where its leave-one-out error is lower. With `kernel_evidence`, each property also
        gets the regression of greatest marginal likelihood at those weights (Laplacian or
        Gaussian, the same grids), and the kernel is the mean of the two.
        Returns ``{property: (length, ridge, "gaussian" or "laplacian")}`` (with
        `kernel_evidence`, ``{property: ((length, ridge, family), (length, ridge, family))}``:
        leave-one-out, then evidence)."""
        if not self.kernel_rows:
            raise UsageError("this Surrogate has no kernel (kernel_rows=0).", field="kernel_rows")
        x = self.join_inputs(compositions, settings)
        y = validation.check_properties(properties, x.shape[0], self.property_names, allow_missing=True)
        if x.shape[0] > self.kernel_rows:
            raise UsageError(f"{x.shape[0]} rows exceed the kernel's {self.kernel_rows}.", field="kernel_rows")
        r = self._ratios(x, y) if self.has_priors else y  # (float32 logs without priors, as before)
        t = np.log(np.where(np.isfinite(r), r, 1.0)) if self.log_targets else r.astype(np.float64)
        z = (t - self.target_mean.numpy()) / self.target_std.numpy()
        parts = [keras.ops.convert_to_numpy(p).astype(np.float64) for p in self._kernel_parts(x)]
        grid = [(KERNEL_SETTING_SCALE, 0.0)]
        if self._kernel_descriptors:
            grid = [(a, b) for a in (KERNEL_SETTING_SCALES if self.settings else (KERNEL_SETTING_SCALE,))
                    for b in KERNEL_DESCRIPTOR_SCALES]  # fmt: skip
        best = None
        for weights in grid:
            f = np.concatenate(self._weighted(parts, *weights), axis=1)
            fits = self._kernel_fits(f, y, z, laplacian=self.kernel_laplacian)
            error = sum(fit[0] for fit in fits)
            if best is None or error < best[0]:
                best = (error, weights, f, fits)
        _, weights, f, fits = best
        if self._kernel_descriptors:
            self.kernel_scales.assign(np.asarray(weights, np.float32))
        laplace = np.zeros(len(self.property_names))
        gaussian = self._kernel_fits(f, y, z, criterion="both") if self.kernel_evidence else None
        if self.kernel_laplacian:  # (fits are the Laplacian's: the Gaussian where it is lower)
            fits, took_gaussian = self._lower_of(fits, gaussian[0] if gaussian else self._kernel_fits(f, y, z))
            laplace = 1.0 - took_gaussian
            self.kernel_laplace.assign(laplace.astype("float32"))
        alpha, gamma, chosen = self._kernel_state(fits, laplace)
        features = np.zeros((self.kernel_rows, f.shape[1]))
        features[: len(f)] = f
        self.kernel_x.assign(features.astype("float32"))
        self.kernel_alpha.assign(alpha.astype("float32"))
        self.kernel_gamma.assign(gamma.astype("float32"))
        if self.kernel_evidence:  # the Gaussian, or the Laplacian (if the model has it) where it is lower
            evidence, laplace_e = gaussian[1], np.zeros(len(self.property_names))
            if self.kernel_laplacian:
                evidence, laplace_e = self._lower_of(evidence, self._kernel_fits(f, y, z, laplacian=True,
                                                                                 criterion="evidence"))  # fmt: skip
            alpha_e, gamma_e, chosen_e = self._kernel_state(evidence, laplace_e)
            self.kernel_alpha_e.assign(alpha_e.astype("float32"))
            self.kernel_gamma_e.assign(gamma_e.astype("float32"))
            self.kernel_laplace_e.assign(laplace_e.astype("float32"))
            chosen = {name: (chosen[name], chosen_e[name]) for name in self.property_names}
        return chosen

    @staticmethod
    def _lower_of(first: list[tuple], second: list[tuple]) -> tuple[list[tuple], np.ndarray]:
        """Per property the fit of lower score (`_kernel_fits`) of two lists (`first` on a tie),
        and 1.0 where it is `second`'s."""
        took = np.array([b[0] < a[0] for a, b in zip(first, second)], dtype=np.float64)
        return [b if t else a for a, b, t in zip(first, second, took)], took

    def _kernel_state(self, fits: list[tuple], laplace: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
        """(alpha (kernel_rows, P), gamma (P,), {property: (length, ridge, family)}) of `fits`."""
        alpha = np.zeros((self.kernel_rows, len(self.property_names)))
        gamma = np.ones(len(self.property_names))
        chosen = {}
        for j, (name, (_, length, ridge, a, has)) in enumerate(zip(self.property_names, fits)):
            alpha[has, j] = a
            gamma[j] = 1.0 / length if laplace[j] else 1.0 / (2.0 * length**2)
            chosen[name] = (length, ridge, "laplacian" if laplace[j] else "gaussian")
        return alpha, gamma, chosen

    def _kernel_fits(self, f: np.ndarray, y: np.ndarray, z: np.ndarray, laplacian: bool = False,
                     criterion: str = "loo"):  # fmt: skip
        """Per property: ``(score, length, ridge, alpha, rows)`` of the kernel ridge regression
        on features `f` of least score, Gaussian (or Laplacian) kernel (an eigendecomposition
        per length serves every ridge). `criterion` "loo": the score is the mean squared
        leave-one-out error; "evidence": the negative log marginal likelihood of the Gaussian
        process with covariance ``s² (K + ridge I)``, `s²` at its optimum
        ``zᵀ(K + ridge I)⁻¹z / n``: ``n/2 log(zᵀ(K + ridge I)⁻¹z / n) + 1/2 log det(K + ridge I)``
        (constants dropped); "both": the two lists ``(loo, evidence)`` from one pass."""
        names = ("loo", "evidence") if criterion == "both" else (criterion,)
        if any(name not in ("loo", "evidence") for name in names):
            raise UsageError(f"must be loo, evidence or both. Received: criterion={criterion!r}", field="criterion")
        d2 = np.maximum(((f[:, None, :] - f[None, :, :]) ** 2).sum(-1), 0.0)
        dist = np.sqrt(d2) if laplacian else d2  # exp(-d / length), or exp(-d² / (2 length²))
        out: dict[str, list] = {name: [] for name in names}
        for j in range(len(self.property_names)):
            has = np.flatnonzero(np.isfinite(y[:, j]))
            target = z[has, j]
            best: dict[str, tuple | None] = {name: None for name in names}
            for length in LAPLACIAN_LENGTHS if laplacian else KERNEL_LENGTHS:
                scale = length if laplacian else 2.0 * length**2
                values, vectors = np.linalg.eigh(np.exp(-dist[np.ix_(has, has)] / scale))
                projected = vectors.T @ target
                for ridge in KERNEL_RIDGES:
                    shifted = np.maximum(values, 0.0) + ridge
                    a = vectors @ (projected / shifted)
                    for name in names:
                        if name == "loo":
                            diagonal = np.einsum("ij,j,ij->i", vectors, 1.0 / shifted, vectors)
                            score = float(np.mean((a / diagonal) ** 2))
                        else:
                            score = 0.5 * len(target) * float(np.log(projected @ (projected / shifted) / len(target)))
                            score += 0.5 * float(np.sum(np.log(shifted)))
                        if best[name] is None or score < best[name][0]:
                            best[name] = (score, length, ridge, a, has)
            for name in names:
                out[name].append(best[name])
        return (out["loo"], out["evidence"]) if criterion == "both" else out[criterion]

    def _bound(self, values):
        """Values of properties that cannot be negative, clipped at 0 (`nonnegative`)."""
        if not any(self.nonnegative) or self.log_targets:  # log targets: positive already
            return values
        mask = tf.constant(self.nonnegative, dtype=tf.bool)
        values = tf.cast(values, tf.float32)
        return tf.where(mask, tf.maximum(values, 0.0), values)

    def moments(self, x):
        """Ensemble mean (clipped where a property cannot be negative) and spread, tensors
        (batch, P), of input rows `x` (`join_inputs`): what `predict_with_uncertainty` and
        the exported graph compute."""
        members = self.member_outputs(x)
        return self._bound(tf.reduce_mean(members, axis=0)), tf.math.reduce_std(members, axis=0)

    def _standard_members(self, x, training=False) -> tf.Tensor:
        h = self._inputs(x)
        for layer in self.ensemble_layers:
            h = layer(h, training=training)
        if self.kernel_rows and not training:
            # The ensemble mean moves towards the kernel's; the members' spread is kept.
            h = h + self.kernel_weight * (self._kernel(x)[None] - tf.reduce_mean(h, axis=0, keepdims=True))
        if self.output_margin is not None:
            h = tf.minimum(tf.maximum(h, self.output_low), self.output_high)
        return h  # (members, batch, P), standardized

    def member_outputs(self, compositions) -> tf.Tensor:
        """(n_members, batch, P) predictions in physical units."""
        return self._from_standard(self._standard_members(compositions), self._prior(compositions))

    @property
    def has_priors(self) -> bool:
        """True when a property has a physical prior (`priors`)."""
        return any(self.priors)

    def _prior(self, x):
        """(batch, P) the physical priors of input rows `x` (1 where a property has none or
        an alloy holds none of the elements its estimate reads); None without priors."""
        if not self.has_priors:
            return None
        c = tf.cast(x, tf.float32)[:, : len(self.elements)]
        top, bottom = tf.matmul(c, self.prior_num), tf.matmul(c, self.prior_den)
        return tf.where(bottom > 0.0, top / tf.where(bottom > 0.0, bottom, 1.0), 1.0)

    def _ratios(self, x, y) -> np.ndarray:
        """Training values `y` (N, P) over their priors (`_prior`), float64 (`y` without priors)."""
        y = np.asarray(y, np.float64)
        if not self.has_priors:
            return y
        return y / keras.ops.convert_to_numpy(self._prior(x)).astype(np.float64)

    def _to_standard(self, y, prior=None):
        y = tf.cast(y, tf.float32)
        if prior is not None:
            y = y / prior
        if self.log_targets:
            y = tf.math.log(y)
        return (y - self.target_mean) / self.target_std

    def _from_standard(self, z, prior=None):
        y = z * self.target_std + self.target_mean
        y = tf.exp(y) if self.log_targets else y
        return y if prior is None else y * prior

    def call(self, compositions, training=False):
        return self._bound(tf.reduce_mean(self.member_outputs(compositions), axis=0))

    # === Training ===
    def compute_losses(self, x, y, sample_weight, training):
        """Masked multi-task loss: the mean over members and over the (row, property) values a
        row has of the standardized squared error; a missing value (NaN: a sparse table)
        contributes nothing, to the loss or its gradient. MAE of the ensemble mean, over the
        values present."""
        preds = self._standard_members(x, training=training)
        y = tf.cast(y, tf.float32)
        present = tf.math.is_finite(y)  # (batch, P)
        mask = tf.cast(present, tf.float32)
        safe_y = tf.where(present, y, tf.ones_like(y))  # finite (and positive for log targets) where masked
        prior = self._prior(x)
        err = tf.where(present[None], tf.square(preds - self._to_standard(safe_y, prior)[None]), 0.0)  # (members, batch, P)
        w = tf.ones_like(mask[:, 0]) if sample_weight is None else tf.cast(tf.reshape(sample_weight, (-1,)), tf.float32)
        weighted = mask * w[:, None]  # (batch, P)
        loss = tf.reduce_sum(err * weighted[None]) / (tf.maximum(tf.reduce_sum(weighted), 1e-12) * self.n_members)
        diff = tf.where(present, tf.abs(self._from_standard(tf.reduce_mean(preds, 0), prior) - safe_y), 0.0)
        mae = tf.reduce_sum(diff) / tf.maximum(tf.reduce_sum(mask), 1.0)
        return {"loss": loss, "mae": mae}

    def check_data(self, compositions, properties, name: str = "", settings=None) -> tuple[np.ndarray, np.ndarray]:
        """Validates compositions (and settings) and their properties; float32 arrays: the
        input rows (`join_inputs`) and the properties (NaN where a row lacks a value)."""
        prefix = f"{name} " if name else ""
        compositions, settings = self._split_joined(compositions, settings)
        x = validation.check_compositions(compositions, self.elements, name=f"{prefix}compositions")
        if self.settings or settings is not None:
            x = self.join_inputs(x, settings, name)
        y = validation.check_properties(
            properties, x.shape[0], self.property_names, f"{prefix}properties", allow_missing=True
        )
        empty = ~np.isfinite(y).any(axis=1)
        if empty.any():
            raise DataError(f"{prefix}properties row {int(np.argmax(empty))} has no value: nothing to learn from it.",
                            field="properties")  # fmt: skip
        if self.log_targets and np.any(y <= 0):
            r = int(np.argmax(np.any(y <= 0, axis=1)))
            raise DataError(
                f"{prefix}properties row {r} is not positive ({y[r].tolist()}): this Surrogate "
                "learns log(property) (log_targets=True), a transform that needs positive values. "
                "Pass log_targets=False (train_default_surrogate does when a value is not positive).",
                field="properties",
            )
        return x, y

    def adapt(self, compositions, properties, settings=None) -> None:
        """Validates the training data and sets the target standardization (call before `fit`).

        Args:
            compositions: (N, E) atomic fractions.
            properties: (N, P) properties in physical units (NaN: a value the row lacks).
            settings: (N, S) settings, for a model with settings (`join_inputs`).
        """
        x, y = self.check_data(compositions, properties, settings=settings)
        y = self._ratios(x, y)  # (the values themselves without priors)
        t = np.log(y) if self.log_targets else y
        if not np.isfinite(t).any(axis=0).all():
            missing = [n for n, ok in zip(self.property_names, np.isfinite(t).any(axis=0)) if not ok]
            raise DataError(f"no training row has a value for {missing}: nothing to learn.", field="properties")
        self.target_mean.assign(np.nanmean(t, axis=0).astype("float32"))
        self.target_std.assign(np.maximum(np.nanstd(t, axis=0), 1e-6).astype("float32"))
        if self.output_margin is not None:
            z = (t - np.nanmean(t, axis=0)) / np.maximum(np.nanstd(t, axis=0), 1e-6)
            self.output_low.assign((np.nanmin(z, axis=0) - self.output_margin).astype("float32"))
            self.output_high.assign((np.nanmax(z, axis=0) + self.output_margin).astype("float32"))
        if self.settings:
            v = x[:, len(self.elements) :].astype(np.float64)
            self.setting_mean.assign(v.mean(axis=0).astype("float32"))
            self.setting_std.assign(np.maximum(v.std(axis=0), 1e-6).astype("float32"))
            x = x[:, : len(self.elements)]
        if self.descriptors:
            f = keras.ops.convert_to_numpy(descriptor_features(x, self.descriptor_table)).astype(np.float64)
            self.feature_mean.assign(f.mean(axis=0).astype("float32"))
            self.feature_std.assign(np.maximum(f.std(axis=0), 1e-6).astype("float32"))
        self._adapted = True

    def predict_with_uncertainty(
        self, compositions, batch_size: int = 65536, settings=None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Ensemble mean and standard deviation, each (N, P) in physical units (the mean
        clipped at 0 for a property that cannot be negative, `nonnegative`).

        `settings`: for a model with settings, (N, S) values or a mapping name -> value
        (`join_inputs`)."""
        x = self.join_inputs(compositions, settings)
        outs = []
        for start in range(0, x.shape[0], batch_size):
            outs.append(self._members_fn(x[start : start + batch_size]).numpy())
        members = np.concatenate(outs, axis=1) if outs else np.zeros((self.n_members, 0, len(self.property_names)))
        mean = members.mean(axis=0)
        if any(self.nonnegative) and not self.log_targets:
            mean = np.where(np.asarray(self.nonnegative), np.maximum(mean, 0.0), mean)
        return mean, members.std(axis=0)

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

    def nearest_distance(self, x):
        """(batch,) tensor: the Euclidean distance, in atomic fractions, of each row of `x`
        (compositions, or joined input rows: the settings are ignored) to the nearest
        training composition the model keeps (``distance_x``; `distance_rows`). One
        matrix product (``|x|² + |t|² - 2 x·t``), so it runs in the exported graph."""
        c = tf.cast(x, tf.float32)[:, : len(self.elements)]
        rows = tf.cast(self.distance_x, tf.float32)
        squared = (tf.reduce_sum(c * c, axis=1, keepdims=True) + tf.reduce_sum(rows * rows, axis=1)[None, :]
                   - 2.0 * tf.matmul(c, rows, transpose_b=True))  # fmt: skip
        return tf.sqrt(tf.maximum(tf.reduce_min(squared, axis=1), 0.0))

    def interval_bounds(self, mean, std, x=None):
        """Interval ends ``mean ± scale * (std + offset) ** power`` from ensemble mean and
        spread, times ``(1 + d / distance_scale) ** distance_power`` for a model that keeps
        its training compositions (`distance_rows`; d = `nearest_distance` of the input rows
        `x`, which such a model requires).

        Tensor ops (the exported graph uses them too); both ends are clipped at 0 for a
        property that cannot be negative (`nonnegative`; every property when the model
        learns log targets). NaN until calibrated.
        """
        spread = tf.cast(std, tf.float32) + self.interval_offset  # > 0 once calibrated
        half = self.interval_scale * tf.pow(spread, self.interval_power)
        if self.distance_rows:
            if x is None:
                raise UsageError("This Surrogate's intervals widen with the distance to its training alloys: "
                                 "pass the input rows `x` to interval_bounds.", field="x")  # fmt: skip
            d = self.nearest_distance(x)[:, None]
            half = half * tf.pow(1.0 + d / self.interval_distance_scale, self.interval_distance_power)
        lower = tf.cast(mean, tf.float32) - half
        if self.log_targets and all(self.nonnegative):
            lower = tf.maximum(lower, 0.0)  # the graph of models without per-property bounds
            return lower, tf.cast(mean, tf.float32) + half
        return self._bound(lower), self._bound(tf.cast(mean, tf.float32) + half)

    def set_distance_rows(self, compositions) -> None:
        """Keeps `compositions` ((distance_rows, E) fractions, or joined input rows) as the
        training alloys that `nearest_distance` measures from."""
        if not self.distance_rows:
            raise UsageError("This Surrogate keeps no training compositions (distance_rows=0).", field="distance_rows")
        c = np.asarray(compositions, dtype=np.float32)[:, : len(self.elements)]
        if c.shape != (self.distance_rows, len(self.elements)):
            raise UsageError(f"Expected {self.distance_rows} rows of {len(self.elements)} fractions "
                             f"(distance_rows). Received shape {c.shape}.", field="compositions")  # fmt: skip
        self.distance_x.assign(c)

    def training_distance(self, x) -> np.ndarray | None:
        """`nearest_distance` of rows `x` as a float64 array, or None for a model that keeps
        no training compositions."""
        if not self.distance_rows:
            return None
        return keras.ops.convert_to_numpy(self.nearest_distance(np.asarray(x, np.float32))).astype(np.float64)

    def calibrate(self, compositions, properties, coverage: float | None = None, settings=None,
                  far: tuple | None = None) -> dict[str, dict]:  # fmt: skip
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
            settings: their settings, for a model with settings.
            far: for a model that keeps its training compositions (`distance_rows`):
                ``(y, mean, std, distance)`` of alloys held out farther away, predicted by
                ensembles trained without them (`calibration.fit_intervals`); they inform
                how fast the interval grows with distance, not its scale.

        Returns:
            The intervals' coverage on the calibration rows (`calibration.interval_report`;
            at least nominal by construction; measure on held-out alloys with `score`).

        Raises:
            ValueError: an untrained model, too few rows for the coverage (9 for 90 %), or
                bad inputs.
        """
        if not self.is_trained:
            raise UsageError(
                "Calibrate a trained Surrogate: call `fit` first (after `adapt` and "
                "`compile`), or use `train_default_surrogate`, which calibrates."
            )
        coverage = self.coverage if coverage is None else calibration._check_coverage(coverage)
        x = self.join_inputs(compositions, settings, "calibration")
        y = validation.check_properties(properties, x.shape[0], self.property_names, "calibration properties",
                                        allow_missing=True)  # fmt: skip
        mean, std = self._predict_rows(x)
        distance = self.training_distance(x)
        parameters = calibration.fit_intervals(y, mean, std, coverage, distance, far=far if distance is not None else None)
        self.set_intervals(parameters, coverage, int(x.shape[0]))
        lower, upper = (keras.ops.convert_to_numpy(t) for t in self.interval_bounds(mean, std, x))
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
        parameters = calibration.IntervalParameters(*parameters)
        if self.distance_rows:
            parameters = parameters.with_distance()
        elif parameters.distance_power is not None and np.any(np.asarray(parameters.distance_power) != 0):
            raise UsageError("These intervals widen with the distance to the training alloys; this Surrogate "
                             "keeps no training compositions (distance_rows=0).", field="parameters")  # fmt: skip
        variables = [self.interval_scale, self.interval_offset, self.interval_power]
        if self.distance_rows:
            variables += [self.interval_distance_scale, self.interval_distance_power]
        values = [np.asarray(v, dtype=np.float32).reshape(-1) for v in parameters[: len(variables)]]
        if any(v.shape != (n_props,) for v in values):
            raise UsageError(
                f"Interval parameters need one value per property ({n_props}). "
                f"Received shapes: {[v.shape for v in values]}"
            )
        for variable, value in zip(variables, values):
            variable.assign(value)
        self.coverage = calibration._check_coverage(coverage)
        self.calibration_size = validation.positive_int(calibration_size, "calibration_size")
        self.calibration_folds = validation.nonnegative_int(calibration_folds, "calibration_folds")

    def _predict_rows(self, x) -> tuple[np.ndarray, np.ndarray]:
        """`predict_with_uncertainty` of input rows already joined (`join_inputs`)."""
        members = self._members_fn(x).numpy()
        mean = members.mean(axis=0)
        if any(self.nonnegative) and not self.log_targets:
            mean = np.where(np.asarray(self.nonnegative), np.maximum(mean, 0.0), mean)
        return mean, members.std(axis=0)

    def predict_interval(self, compositions, settings=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Prediction and its calibrated interval: ``(mean, lower, upper)``, each (N, P).

        About `coverage` of new alloys' true values fall in ``[lower, upper]``.

        Raises:
            ValueError: the model is not calibrated (call `calibrate`).
        """
        if not self.is_calibrated:
            raise UsageError(
                "This Surrogate has no calibrated intervals: call `calibrate(compositions, "
                "properties)` on held-out alloys (train_default_surrogate does)."
            )
        x = self.join_inputs(compositions, settings)
        mean, std = self.predict_with_uncertainty(x)
        lower, upper = self.interval_bounds(mean, std, x)
        return mean, keras.ops.convert_to_numpy(lower), keras.ops.convert_to_numpy(upper)

    def score(self, compositions, properties, settings=None) -> dict[str, dict[str, float]]:
        """Held-out scores per property: R², MAPE (%), MAE, mean ensemble std, and
        ``coverage_2std``: the share of rows whose error is within two ensemble standard
        deviations (about 0.95 for a calibrated Gaussian uncertainty; lower means the
        spread understates the error). A calibrated model adds its intervals' measured
        ``interval_coverage`` (nominal ``coverage``), ``interval_coverage_by_spread``
        (terciles of ensemble spread, low to high), ``interval_width`` (mean, in the
        property's units), ``calibration_size`` and ``calibration_folds`` (how the
        intervals were calibrated); every row adds ``n`` (rows scored). In a sparse
        table each property is scored on the rows that have it."""
        y = validation.check_properties(
            properties, np.asarray(compositions).shape[0], self.property_names, allow_missing=True
        )
        x = self.join_inputs(compositions, settings)
        mean, std = self.predict_with_uncertainty(x)
        scores = {}
        for j, name in enumerate(self.property_names):
            has = np.isfinite(y[:, j])
            yj, mj, sj = y[has, j], mean[has, j], std[has, j]
            resid = yj - mj
            ss_tot = float(np.sum((yj - yj.mean()) ** 2)) if len(yj) else 0.0
            nan = float("nan")
            scores[name] = {
                "r2": 1.0 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else nan,
                "mape": float(np.mean(np.abs(resid) / np.abs(yj)) * 100.0) if len(yj) else nan,
                "mae": float(np.mean(np.abs(resid))) if len(yj) else nan,
                "mean_std": float(np.mean(sj)) if len(yj) else nan,
                "coverage_2std": float(np.mean(np.abs(resid) <= 2.0 * sj)) if len(yj) else nan,
                "n": int(len(yj)),
            }
        if self.is_calibrated:
            lower, upper = (keras.ops.convert_to_numpy(t) for t in self.interval_bounds(mean, std, x))
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
        if self.settings:  # files of models without settings keep their config
            config.update({"settings": list(self.settings), "setting_units": list(self.setting_units)})
        if self.nonnegative != (self.log_targets,) * len(self.property_names):
            config["nonnegative"] = list(self.nonnegative)
        if self.output_margin is not None:
            config["output_margin"] = self.output_margin
        if self.kernel_rows:
            config.update({"kernel_rows": self.kernel_rows, "kernel_weight": self.kernel_weight})
            if self.kernel_descriptors:  # (files without it keep their config)
                config["kernel_descriptors"] = True
            if self.kernel_laplacian:  # (files without it keep their config)
                config["kernel_laplacian"] = True
            if self.kernel_evidence:  # (files without it keep their config)
                config["kernel_evidence"] = True
        if self.distance_rows:  # (files without it keep their config)
            config["distance_rows"] = self.distance_rows
        if self.has_priors:  # (files without them keep their config)
            config["priors"] = list(self.priors)
        return config

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        saved = str(config.get("package_version", __version__))
        config, layout = legacy.surrogate_config(config, SURROGATE_MODEL_VERSION)  # earlier releases' files
        cls._check_versions(
            saved if saved != __version__ else None,
            None if layout in ("1", "2", SURROGATE_MODEL_VERSION) else layout,
            SURROGATE_MODEL_VERSION,
        )
        model = cls(**config)
        model._legacy_layout = layout
        model._legacy_package_version = saved
        return model

    def load_own_variables(self, store):
        layout = getattr(self, "_legacy_layout", SURROGATE_MODEL_VERSION)
        saved = getattr(self, "_legacy_package_version", __version__)
        if not legacy.load_surrogate_variables(self, store, layout, saved):
            super().load_own_variables(store)
        self._adapted = True

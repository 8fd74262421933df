"""The campaign learner: a cross-conformal surrogate ensemble trained in one compiled step.

`train_default_surrogate` calibrates a small table by K-fold cross-conformal scores: K
ensembles trained on all folds but one give every alloy an out-of-fold prediction, and a
K+1-th ensemble trained on every alloy is kept (`hea_zoo.models.calibration`). That is K+1
Keras fits, 6.3 s on 24 rows. A campaign retrains on every call, so here the K fold
ensembles and the kept one are ONE vectorized `Surrogate` of ``(K + 1) * members``
members: member ``m`` belongs to group ``g = m // members``, and a per-member row mask
``w[m, r, p]`` (1 when row r is outside fold g and property p is measured on it; the kept
group sees every row) weights the squared error in the loss, so each group learns only
from its own rows. Training is full-batch Adam inside one `tf.function` (`tf.range` loop
over the steps); rows are padded to size buckets (powers of two from 32) with zero mask,
and the model, optimizer and compiled function of a shape are kept in a cache, their
values reset from the seed on every call: the trace is built once per bucket in a
process and reused by every later call.

After training, the fold groups' members give every alloy its out-of-fold mean and
spread; spreads are measured in units of each group's median spread on its own training
rows; `calibration.fit_intervals` fits the interval on them and `calibration.in_units_of`
turns it into the kept group's ``mean ± scale * (std + offset) ** power``, exactly as
`train_default_surrogate` does with its K + 1 fits. `CampaignModel.surrogate()` returns
the kept group as a plain calibrated `hea_zoo.models.surrogate.Surrogate` (its weights
copied), which can be saved, exported and used by `design`.

Sparse tables: a property missing on a row (NaN) is masked out of that row's loss; each
property is calibrated on the rows that have it.

Measurement settings (``setting_names``, e.g. ``test_temperature``): each row's setting
values are inputs beside its fractions and descriptors, standardized by their mean and
spread over the training rows (the `Surrogate`'s ``settings``); predictions then take the
settings they are made at. Without settings the learner is the one above, unchanged.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence

import numpy as np

from hea_zoo.errors import DataError, UsageError

__all__ = ["LEARNER_DEFAULTS", "CampaignModel", "train_campaign_model"]

LEARNER_DEFAULTS = {
    "members": 4,
    "folds": 5,
    "hidden_units": (64, 64),
    "activation": "silu",
    "learning_rate": 5e-3,
    "steps": 300,
    "descriptors": ("valence_electrons", "atomic_radius", "melting_point"),
    "distance_intervals": False,
}
"""The campaign learner's settings (docs/CAMPAIGNS.md: chosen by held-out error and time
on 24-120 oracle-labelled alloys): members per group, cross-conformal folds, member
widths, activation, Adam learning rate, full-batch steps, the element descriptors read
besides the fractions (each dropped when the element table lacks it for an element), and
whether the interval widens with the distance to the nearest measured alloy as the
library's surrogate's does (`distance_intervals`; False, the default: the spread alone;
docs/CAMPAIGNS.md, "Learner options")."""

_MIN_BUCKET = 32


def _bucket(n: int) -> int:
    size = _MIN_BUCKET
    while size < n:
        size *= 2
    return size


class _Trainer:
    """One vectorized ensemble, its optimizer and its compiled training function, for one
    shape (elements, properties, descriptors, members, padded rows)."""

    def __init__(self, elements, n_props, descriptors, total_members, hidden, activation, log_targets, lr,
                 settings=()):
        import keras
        import tensorflow as tf

        from hea_zoo.models.surrogate import Surrogate

        self.model = Surrogate(
            elements=elements, property_names=[f"p{j}" for j in range(n_props)], property_units=[""] * n_props,
            n_members=total_members, hidden_units=hidden, activation=activation, log_targets=log_targets,
            descriptors=descriptors, settings=settings,
        )  # fmt: skip
        self.variables = list(self.model.trainable_variables)
        self.optimizer = keras.optimizers.Adam(lr)
        self.optimizer.build(self.variables)
        lr_var = getattr(self.optimizer, "_learning_rate", None)
        self.slots = [v for v in self.optimizer.variables if v is not lr_var and "learning_rate" not in v.path]
        model, optimizer, variables = self.model, self.optimizer, self.variables

        @tf.function(reduce_retracing=True)
        def train(x, y, w, steps):
            count = tf.maximum(tf.reduce_sum(w, axis=[1, 2]), 1.0)  # (members,)
            target = model._to_standard(y)[None]
            for _ in tf.range(steps):
                with tf.GradientTape() as tape:
                    preds = model._standard_members(x, training=True)
                    err = tf.reduce_sum(tf.square(preds - target) * w, axis=[1, 2]) / count
                    loss = tf.reduce_sum(err)
                grads = tape.gradient(loss, variables)
                optimizer.apply_gradients(zip(grads, variables))
            return loss

        @tf.function(reduce_retracing=True)
        def standard(x):
            return model._standard_members(x)

        self.train = train
        self.standard = standard

    def reset(self, seed: int) -> None:
        """Fresh Glorot-uniform kernels (per member), zero biases and optimizer state."""
        rng = np.random.default_rng(seed)
        for layer in self.model.ensemble_layers:
            m, fan_in, units = layer.kernel.shape
            limit = math.sqrt(6.0 / (fan_in + units))
            layer.kernel.assign(rng.uniform(-limit, limit, (m, fan_in, units)).astype(np.float32))
            layer.bias.assign(np.zeros(layer.bias.shape, np.float32))
        for v in self.slots:
            v.assign(np.zeros(v.shape, v.dtype))


_TRAINERS: dict[tuple, _Trainer] = {}


def _trainer(key) -> _Trainer:
    if key not in _TRAINERS:
        _TRAINERS[key] = _Trainer(*key)
    return _TRAINERS[key]


_STATISTICS = ("target_mean", "target_std", "feature_mean", "feature_std", "setting_mean", "setting_std")


def _physical(h: np.ndarray, state: dict) -> np.ndarray:
    stats = state["statistics"]
    y = h * stats["target_std"].astype(np.float64) + stats["target_mean"].astype(np.float64)
    return np.exp(y) if state["log_targets"] else y


@dataclasses.dataclass
class CampaignModel:
    """A trained campaign learner: the kept ensemble's predictions with calibrated intervals.

    Attributes:
        elements, property_names, property_units: as the table's.
        members: members of the kept ensemble (and of each fold ensemble).
        folds: cross-conformal folds.
        seconds: training time (calibration included).
        oof_mean, oof_std: (N, P) out-of-fold predictions of the training rows.
        settings: the measurement settings among the inputs (empty: fractions only);
            predictions then take ``settings=`` (a mapping name -> value, or (N, S)).
    """

    elements: tuple[str, ...]
    property_names: tuple[str, ...]
    property_units: tuple[str, ...]
    members: int
    folds: int
    coverage: float
    calibration_size: int
    seconds: float
    oof_mean: np.ndarray
    oof_std: np.ndarray
    _trainer: _Trainer
    _interval: tuple  # IntervalParameters of the kept group, in raw spreads
    _state: dict
    settings: tuple[str, ...] = ()
    setting_units: tuple[str, ...] = ()
    _weights: tuple = ()  # the trained networks' (kernel, bias) per layer: the cached trainer is shared
    _distance_rows: np.ndarray | None = None  # the measured compositions the interval widens away from

    def _restore(self) -> None:
        """Puts this learner's weights and statistics back into the shared, cached trainer
        (a later call of the same shape trains the same variables)."""
        model = self._trainer.model
        for layer, (kernel, bias) in zip(model.ensemble_layers, self._weights):
            layer.kernel.assign(kernel)
            layer.bias.assign(bias)
        for name, value in self._state["statistics"].items():
            getattr(model, name).assign(value)

    def _rows(self, compositions, settings=None) -> np.ndarray:
        """The input rows: the fractions, then (a model with settings) the setting values."""
        x = np.asarray(compositions, dtype=np.float32)
        if not self.settings:
            if settings:
                raise UsageError(f"this learner takes no measurement settings. Received: {settings!r}", field="settings")
            return x
        if settings is None:
            raise UsageError(f"this learner takes the settings {list(self.settings)}; pass settings=.", field="settings")
        if isinstance(settings, dict):
            missing = [k for k in self.settings if k not in settings]
            if missing:
                raise UsageError(f"no value for the setting(s) {missing}.", field="settings")
            values = np.array([[float(settings[k]) for k in self.settings]], np.float32)
        else:
            values = np.asarray(settings, np.float32).reshape(-1, len(self.settings))
        values = np.broadcast_to(values, (x.shape[0], len(self.settings)))
        return np.concatenate([x, values], axis=1)

    def _kept(self, compositions, settings=None) -> np.ndarray:
        """(members, N, P) the kept group's member outputs in physical units, float64, as
        `surrogate()` computes them."""
        x = self._rows(compositions, settings)
        self._restore()
        out = []
        for start in range(0, max(len(x), 1), 8192):
            chunk = x[start : start + 8192]
            if not len(chunk):
                break
            n = len(chunk)
            padded = np.zeros((_bucket(n), x.shape[1]), np.float32)
            padded[:n] = chunk
            padded[n:, 0] = 1.0
            out.append(self._trainer.standard(padded).numpy()[-self.members :, :n])
        if not out:
            return np.zeros((self.members, 0, len(self.property_names)))
        return _physical(np.concatenate(out, axis=1).astype(np.float64), self._state)

    def predict_with_uncertainty(self, compositions, settings=None) -> tuple[np.ndarray, np.ndarray]:
        members = self._kept(compositions, settings)
        return members.mean(axis=0), members.std(axis=0)

    def predict_interval(self, compositions, settings=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(mean, lower, upper)``, each (N, P): the kept ensemble and its calibrated interval
        (the same numbers as `surrogate().predict_interval`, computed without a new trace).
        A learner with settings takes them (``{"test_temperature": 1000}`` for every row, or
        (N, S) values)."""
        from hea_zoo.models import calibration

        mean, std = self.predict_with_uncertainty(compositions, settings)
        distance = None
        if self._distance_rows is not None:
            fractions = np.asarray(compositions, dtype=np.float64)[:, : len(self.elements)]
            distance = calibration.nearest_distances(fractions, self._distance_rows)
        lower, upper = calibration.interval_bounds(mean, std, self._interval, distance=distance)
        if self._state["log_targets"]:
            lower = np.maximum(lower, 0.0)
        return mean, lower, upper

    def surrogate(self):
        """The kept ensemble as a calibrated `hea_zoo.models.surrogate.Surrogate` (a copy)."""
        from hea_zoo.models.surrogate import Surrogate

        big = self._trainer.model
        s = Surrogate(
            elements=self.elements, property_names=self.property_names, property_units=self.property_units,
            n_members=self.members, hidden_units=big.hidden_units, activation=big.activation,
            log_targets=big.log_targets, descriptors=big.descriptors, coverage=self.coverage,
            calibration_folds=self.folds, settings=self.settings,
            setting_units=self.setting_units or None,
            distance_rows=0 if self._distance_rows is None else len(self._distance_rows),
        )  # fmt: skip
        if self._distance_rows is not None:
            s.set_distance_rows(self._distance_rows)
        for small, (kernel_, bias) in zip(s.ensemble_layers, self._weights):
            small.kernel.assign(kernel_[-self.members :])
            small.bias.assign(bias[-self.members :])
        for name, value in self._state["statistics"].items():
            getattr(s, name).assign(value)
        s._adapted = True
        s.set_intervals(self._interval, self.coverage, self.calibration_size, self.folds)
        return s


def _descriptors(names, elements) -> tuple[str, ...]:
    """The descriptor names the element table gives for every one of `elements`."""
    from hea_zoo.data.elements import KNOWN_ELEMENTS as TABLED, element_property

    if not all(e in TABLED for e in elements):
        return ()
    return tuple(n for n in names if np.all(np.isfinite(element_property(n, elements))))


def train_campaign_model(
    compositions: np.ndarray,
    properties: np.ndarray,
    elements: Sequence[str],
    property_names: Sequence[str],
    property_units: Sequence[str] | None = None,
    groups: np.ndarray | None = None,
    seed: int = 0,
    coverage: float = 0.9,
    setting_values: np.ndarray | None = None,
    setting_names: Sequence[str] = (),
    setting_units: Sequence[str] | None = None,
    **settings,
) -> CampaignModel:
    """Trains the campaign learner (module text) on a measured table.

    Args:
        compositions: (N, E) atomic fractions.
        properties: (N, P) measured values; NaN where a property was not measured.
        elements, property_names, property_units: the table's.
        groups: (N,) composition group of each row (default: one per row); folds keep
            groups whole.
        seed: initialization and fold seed.
        coverage: nominal coverage of the intervals.
        setting_values: (N, S) measurement settings of the rows (e.g. test temperature),
            inputs beside the fractions (module text); None: none.
        setting_names, setting_units: their names and units.
        **settings: overrides of `LEARNER_DEFAULTS`.

    Raises:
        UsageError: a key of `settings` that `LEARNER_DEFAULTS` does not have (field
            ``learner``).
        DataError: a property measured on fewer alloys than a calibrated interval needs
            (9 at 90 %, and at least one per fold), field ``data``.
    """
    import keras

    from hea_zoo.data.datasets import group_folds
    from hea_zoo.models import calibration

    unknown = sorted(set(settings) - set(LEARNER_DEFAULTS))
    if unknown:
        raise UsageError(f"unknown learner setting(s) {unknown}; valid: {sorted(LEARNER_DEFAULTS)}", field="learner")
    cfg = {**LEARNER_DEFAULTS, **settings}
    start = time.perf_counter()
    x = np.asarray(compositions, dtype=np.float32)
    y = np.asarray(properties, dtype=np.float64)
    n, n_props = y.shape
    setting_names = tuple(setting_names or ())
    n_elements = x.shape[1]
    if setting_names:
        s = np.asarray(setting_values, dtype=np.float64).reshape(n, len(setting_names))
        if not np.all(np.isfinite(s)):
            raise DataError("a setting value is missing or not finite.", field="settings")
        x = np.concatenate([x, s.astype(np.float32)], axis=1)
    measured = np.isfinite(y)
    needed = calibration.min_calibration_size(coverage)
    for j, name in enumerate(property_names):
        if measured[:, j].sum() < max(needed, cfg["folds"]):
            raise DataError(
                f"{name} is measured on {int(measured[:, j].sum())} alloys; a calibrated "
                f"{coverage:.0%} interval needs at least {max(needed, cfg['folds'])}.",
                field="data",
            )
    log_targets = bool(np.all(y[measured] > 0))
    groups = np.arange(n) if groups is None else np.asarray(groups)
    fold = group_folds(groups, cfg["folds"], seed + 1)
    members, folds = int(cfg["members"]), int(cfg["folds"])
    total = members * (folds + 1)
    descriptors = _descriptors(cfg["descriptors"], tuple(elements))
    size = _bucket(n)
    key = (tuple(elements), n_props, descriptors, total, tuple(cfg["hidden_units"]), cfg["activation"],
           log_targets, float(cfg["learning_rate"]))  # fmt: skip
    if setting_names:  # (a key without settings is the one it always was)
        key = (*key, setting_names)
    trainer = _trainer(key)
    model = trainer.model
    keras.utils.set_random_seed(seed)
    trainer.reset(seed)
    # Standardization from the measured values (per property, its measured rows).
    t = np.where(measured, y, 1.0)
    t = np.log(t) if log_targets else t
    mean = np.array([t[measured[:, j], j].mean() for j in range(n_props)])
    std = np.array([max(t[measured[:, j], j].std(), 1e-6) for j in range(n_props)])
    model.target_mean.assign(mean.astype(np.float32))
    model.target_std.assign(std.astype(np.float32))
    if descriptors:
        from hea_zoo.models.surrogate import descriptor_features

        f = keras.ops.convert_to_numpy(descriptor_features(x[:, :n_elements], model.descriptor_table)).astype(np.float64)
        model.feature_mean.assign(f.mean(axis=0).astype(np.float32))
        model.feature_std.assign(np.maximum(f.std(axis=0), 1e-6).astype(np.float32))
    if setting_names:
        v = x[:, n_elements:].astype(np.float64)
        model.setting_mean.assign(v.mean(axis=0).astype(np.float32))
        model.setting_std.assign(np.maximum(v.std(axis=0), 1e-6).astype(np.float32))
    # Padded rows, per-member masks.
    xp = np.zeros((size, x.shape[1]), np.float32)
    xp[:n] = x
    xp[n:, 0] = 1.0
    yp = np.ones((size, n_props), np.float32)
    yp[:n] = np.where(measured, y, 1.0)
    group_of = np.repeat(np.arange(folds + 1), members)
    rows = np.zeros((total, size), np.float32)
    rows[:, :n] = (fold[None, :] != group_of[:, None]) | (group_of[:, None] == folds)
    w = rows[:, :, None] * np.pad(measured, ((0, size - n), (0, 0))).astype(np.float32)[None]
    trainer.train(xp, yp, w, np.int32(cfg["steps"]))
    statistics = {name: getattr(model, name).numpy().copy() for name in _STATISTICS if hasattr(model, name)}
    state = {"log_targets": log_targets, "descriptors": descriptors, "statistics": statistics}
    # Out-of-fold moments, spreads in units of each group's median spread on its own rows.
    hz = trainer.standard(xp).numpy()[:, :n].astype(np.float64)  # (total, n, P) standardized
    oof_mean, oof_std = np.full((n, n_props), np.nan), np.full((n, n_props), np.nan)
    relative = np.full((n, n_props), np.nan)
    oof_distance = np.full(n, np.nan)
    for g in range(folds):
        held = fold == g
        if cfg["distance_intervals"]:
            oof_distance[held] = calibration.nearest_distances(x[held, :n_elements], x[~held, :n_elements])
        part = _physical(hz[g * members : (g + 1) * members], state)
        m, s = part.mean(axis=0), part.std(axis=0)
        unit = np.array([np.median(s[~held & measured[:, j], j]) for j in range(n_props)])
        oof_mean[held], oof_std[held] = m[held], s[held]
        relative[held] = s[held] / np.maximum(unit, 1e-12)
    kept = _physical(hz[folds * members :], state)
    kept_std = kept.std(axis=0)
    unit = np.array([max(np.median(kept_std[measured[:, j], j]), 1e-12) for j in range(n_props)])
    scale, offset, power, d_scale, d_power = (np.zeros(n_props) for _ in range(5))
    for j in range(n_props):
        rows_j = measured[:, j]
        p = calibration.fit_intervals(y[rows_j, j], oof_mean[rows_j, j], relative[rows_j, j], coverage,
                                      distance=oof_distance[rows_j] if cfg["distance_intervals"] else None)  # fmt: skip
        p = calibration.in_units_of(p, unit[j : j + 1])
        scale[j], offset[j], power[j] = p.scale[0], p.offset[0], p.power[0]
        if cfg["distance_intervals"]:
            d_scale[j], d_power[j] = p.distance_scale[0], p.distance_power[0]
    interval = calibration.IntervalParameters(scale, offset, power)
    if cfg["distance_intervals"]:
        interval = calibration.IntervalParameters(scale, offset, power, d_scale, d_power)
    return CampaignModel(
        elements=tuple(elements), property_names=tuple(property_names),
        property_units=tuple(property_units or [""] * n_props), members=members, folds=folds,
        coverage=coverage, calibration_size=int(len(np.unique(groups))), seconds=time.perf_counter() - start,
        oof_mean=oof_mean, oof_std=oof_std, _trainer=trainer, _interval=interval,
        _state=state, settings=setting_names,
        setting_units=tuple(setting_units or [""] * len(setting_names)) if setting_names else (),
        _weights=tuple((layer.kernel.numpy().copy(), layer.bias.numpy().copy()) for layer in model.ensemble_layers),
        _distance_rows=x[:, :n_elements].astype(np.float64) if cfg["distance_intervals"] else None,
    )  # fmt: skip

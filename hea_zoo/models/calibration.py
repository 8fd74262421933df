"""Calibrated prediction intervals for the surrogate: normalized split conformal prediction
with a fitted spread exponent, widened with the distance to the training alloys.

An ensemble's standard deviation is not an error bar: on the bundled data only 61 % (shear
modulus) and 36 % (toughness) of held-out errors fall within two ensemble standard
deviations, and 25 % of hardness errors on MPEA. Split conformal prediction turns the
spread into an interval with a stated coverage (Lei et al., "Distribution-free predictive
inference for regression", JASA 113, 1094 (2018); normalized scores: Papadopoulos et al.,
"Normalized nonconformity measures for regression conformal prediction", 2008).

For each property, on a calibration set of alloys the ensemble did not train on (disjoint
by composition group from the training rows):

    u_i      = (std_i + eps) ** b                 eps = EPS_FRACTION * median(std)
    score_i  = |y_i - mean_i| / u_i
    q        = the ceil((n + 1) * coverage)-th smallest score
    interval = mean ± q * (std + eps) ** b

If calibration and new alloys are exchangeable and `b`, `eps` are fixed, the interval
holds the truth with probability at least `coverage` (and at most coverage + 1/(n + 1)).
Here `eps` and `b` come from the same calibration rows (two numbers from 12-85 rows, a
small departure from the guarantee), which is why coverage is measured on held-out alloys,
overall and by tercile of ensemble spread (`interval_report`,
benchmarks/results/calibration.md). `b` and `eps` decide *where* the interval is wide: it
grows with the spread, and `b` says how fast. With b = 1 (plain normalized scores) the
width is proportional to std + eps; but a surrogate's error can grow faster than its
spread (the bundled shear modulus, b about 1.45: the alloys the members disagree on are
also the ones they all get wrong) or slower, and then one scale over-covers the confident alloys and
under-covers the uncertain ones. `b` is the slope of a log-spread model, the
least-squares fit of ``log|y - mean| = a + b log(std + eps)`` on the calibration rows,
shrunk towards 1 by its own standard error ``se`` (a normal prior on b with mean 1 and
standard deviation s = `POWER_PRIOR_SD`: ``b = 1 + (b_fit - 1) s^2 / (s^2 + se^2)``) and
clipped to `POWER_RANGE`: on 20 calibration alloys the fit is mostly noise and b stays
near 1; on 85 it follows the data. `eps` keeps the width from collapsing where the
members happen to agree. Nothing is chosen by the width it gives (choosing the narrowest
of several normalizations on the same rows, as earlier versions did, biases the coverage low
on small tables).

Small tables: cross-conformal scores. A split of a table of 80 alloys leaves 16 for
calibration: the 90 % quantile is then the largest score or the second largest, a single
split covers anywhere from 60 to 100 %, and 16 alloys fewer train the ensemble. Below
`CROSS_CONFORMAL_MAX_ALLOYS` training alloys, `train_default_surrogate` instead splits the
training alloys into `CROSS_CONFORMAL_FOLDS` folds (whole composition groups); an ensemble
trained on the other folds gives each alloy of a fold its out-of-fold mean and spread, and
`fit_intervals` runs on all of them pooled (every training alloy calibrates). The ensemble
that is kept then trains on every training alloy. Its spread is not on the scale of the
fold ensembles': on the 65-alloy MPEA tension table, one trained on all of them spread 3-9
times less, on the same held-out alloys, than those trained on four fifths, and intervals
scaled by the raw spreads covered 82.5 % and 81.6 % of yield strength and elongation over
20 splits. So every spread is measured in units of its own ensemble's median spread on the
alloys that ensemble trained on (`std / unit`: for a fold ensemble, its four folds; for
the kept one, all the training alloys), the interval is fitted on those relative spreads,
and `in_units_of` turns it back into the ``mean ± scale * (std + offset) ** power`` of the
kept ensemble. This is K-fold cross-conformal calibration in the spirit of Vovk's
cross-conformal predictors ("Cross-conformal predictors", Ann. Math. Artif. Intell. 74, 9
(2015)) and of the CV+ of Barber et al. ("Predictive inference with the jackknife+", Ann.
Statist. 49, 486 (2021)), simplified to one exportable interval: CV+ predicts with the K
fold models, hea_zoo with one refitted ensemble (pooling the fold models' members instead
gave absurd means wherever one fold had never seen an element, and 98-100 % coverage), so
no guarantee is claimed and the coverage is measured on held-out alloys
(benchmarks/calibration.py).

Away from the training alloys. Calibration alloys (a random split, or random folds) sit a
few at.% from a training alloy; designs sit tens of at.% away, where a network's error grows
and its members' spread need not (bundled fracture toughness: the spread-only interval keeps
its width and held 25-45 % of oracle values 50-100 at.% away;
benchmarks/results/interval_distance.md). So the interval also grows with the distance
``d`` of an alloy to the nearest alloy the ensemble trained on (Euclidean, in atomic
fractions; computed in the exported graph from the training compositions the model keeps):

    u_i = (std_i + eps) ** b * (1 + d_i / s) ** g           s = median calibration distance

``g`` is the slope of ``log(|y - mean| / (std + eps) ** b)`` on ``log(1 + d / s)`` (the error
left once the spread has spoken), shrunk towards 0 by its standard error (prior sd
`DISTANCE_PRIOR_SD`) and clipped to `DISTANCE_POWER_RANGE`: the interval never narrows
away from the data. ``b`` is fitted first, on the calibration rows, as above. With a
calibration split the rows are near the training alloys and say little about ``g``, so
`hea_zoo.models.train_default_surrogate` also trains `DISTANCE_FOLDS` (3) ensembles, each
without one k-means cluster of the training compositions and for a quarter of the epochs
(`DISTANCE_FOLD_EPOCHS`: on the bundled data the exponents came out as with full
trainings of 4 folds, 0.65/1.29 against 0.66/1.20, at a sixth of the cost), and passes
their errors on their cluster as ``far`` rows: they join the fit of ``g`` and leave the conformal quantile
to the calibration split. Cross-conformal folds give every alloy an out-of-fold distance
already. A far interval is an extrapolation of the fitted trend, measured, not guaranteed.

Example:
    >>> params = fit_intervals(y_cal, mean_cal, std_cal, coverage=0.9)  # doctest: +SKIP
    >>> lower, upper = interval_bounds(mean, std, params)                # doctest: +SKIP
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from hea_zoo.errors import DataError, UsageError

__all__ = [
    "DEFAULT_COVERAGE",
    "CALIBRATION_FRACTION",
    "EPS_FRACTION",
    "POWER_PRIOR_SD",
    "POWER_RANGE",
    "DISTANCE_PRIOR_SD",
    "DISTANCE_POWER_RANGE",
    "DISTANCE_FOLDS",
    "DISTANCE_FOLD_EPOCHS",
    "INTERVAL_METHOD",
    "SPREAD_INTERVAL_METHOD",
    "CROSS_CONFORMAL_FOLDS",
    "CROSS_CONFORMAL_MAX_ALLOYS",
    "calibration_method",
    "in_units_of",
    "IntervalParameters",
    "min_calibration_size",
    "conformal_quantile",
    "spread_power",
    "distance_power",
    "distance_factor",
    "fit_intervals",
    "interval_bounds",
    "interval_report",
    "nonnegative_properties",
]

DEFAULT_COVERAGE = 0.9
"""Nominal coverage of the surrogate's intervals."""

CALIBRATION_FRACTION = 0.2
"""Share of the training alloys (groups) `train_default_surrogate` keeps for calibration."""

EPS_FRACTION = 1.0
"""eps = EPS_FRACTION x the median calibration std of a property (module text)."""

POWER_PRIOR_SD = 0.5
"""Standard deviation of the normal prior (mean 1) that shrinks the fitted spread exponent."""

POWER_RANGE: tuple[float, float] = (0.0, 3.0)
"""The spread exponent b is clipped to this range (0: constant width)."""

DISTANCE_PRIOR_SD = 0.5
"""Standard deviation of the normal prior (mean 0) that shrinks the fitted distance exponent."""

DISTANCE_FOLDS = 3
"""`train_default_surrogate` with a calibration split also trains this many ensembles, each
without one k-means cluster of the training compositions, to fit how fast the error grows
with distance (module text); 0: the calibration split alone."""

DISTANCE_FOLD_EPOCHS = 0.25
"""The distance folds train for this share of the kept ensemble's epochs (at least 1)."""

DISTANCE_SCALE_FLOOR = 0.01
"""The distance scale (the median calibration distance) is at least this (atomic fraction)."""

DISTANCE_POWER_RANGE: tuple[float, float] = (0.0, 2.0)
"""The distance exponent g is clipped to this range: intervals widen away from the
training alloys or keep their width, never narrow."""

SPREAD_INTERVAL_METHOD = "conformal: mean ± scale * (std + offset) ** power"
"""The metadata's `interval_method` of a surrogate whose intervals do not widen with distance
(``distance_rows=0``: `distance_intervals=False`, files of hea_zoo 0.2)."""

INTERVAL_METHOD = SPREAD_INTERVAL_METHOD + (" * (1 + distance / distance_scale) ** distance_power; distance: "
                                            "Euclidean, in atomic fractions, to the nearest training alloy")  # fmt: skip
"""How an exported surrogate that keeps its training compositions computes
`properties_lower`/`properties_upper` (its metadata)."""

CROSS_CONFORMAL_FOLDS = 5
"""Folds of the cross-conformal calibration of small tables (module text)."""

CROSS_CONFORMAL_MAX_ALLOYS = 250
"""`train_default_surrogate` calibrates by cross-conformal folds when the training split has
fewer distinct alloys than this (a split would leave fewer than 50 for calibration), and
by a held-out calibration split otherwise."""


def calibration_method(folds: int) -> str:
    """How intervals were calibrated, in words: 0 folds is a held-out calibration split.

    Example:
        >>> calibration_method(5)
        '5-fold cross-conformal (out-of-fold scores of every training alloy)'
    """
    folds = int(folds)
    if folds == 0:
        return "split conformal (a held-out calibration split of the training alloys)"
    return f"{folds}-fold cross-conformal (out-of-fold scores of every training alloy)"


def _check_coverage(coverage: float) -> float:
    coverage = float(coverage)
    if not 0.0 < coverage < 1.0:
        raise UsageError(f"must be in (0, 1). Received: coverage={coverage}", field="coverage")
    return coverage


def min_calibration_size(coverage: float) -> int:
    """Fewest calibration rows for a finite interval at `coverage` (9 for 0.9).

    Example:
        >>> min_calibration_size(0.9)
        9
    """
    coverage = _check_coverage(coverage)
    return int(math.ceil(coverage / (1.0 - coverage) - 1e-9))


def conformal_quantile(scores: np.ndarray, coverage: float) -> np.ndarray:
    """The finite-sample conformal quantile of `scores` (N,) or (N, P), per column.

    The ``ceil((N + 1) * coverage)``-th smallest score.

    Raises:
        ValueError: fewer than `min_calibration_size(coverage)` scores.
    """
    coverage = _check_coverage(coverage)
    scores = np.asarray(scores, dtype=np.float64)
    n = scores.shape[0]
    k = int(math.ceil((n + 1) * coverage - 1e-9))
    if k > n:
        raise DataError(
            f"A {coverage:.0%} interval needs at least {min_calibration_size(coverage)} "
            f"calibration alloys. Received: {n}.",
            field="scores",
        )
    return np.sort(scores, axis=0)[k - 1]


class IntervalParameters(NamedTuple):
    """What an interval needs besides the ensemble mean and spread, each (P,) float64.

    The interval is ``mean ± scale * (std + offset) ** power * (1 + d / distance_scale) **
    distance_power``, d the distance of the alloy to the nearest training alloy (Euclidean,
    in atomic fractions). Without distances (`distance_power` None or 0) it is
    ``mean ± scale * (std + offset) ** power``.
    """

    scale: np.ndarray
    offset: np.ndarray
    power: np.ndarray
    distance_scale: np.ndarray | None = None
    distance_power: np.ndarray | None = None

    def with_distance(self) -> IntervalParameters:
        """The same parameters with explicit distance fields (scale 1, power 0 when absent)."""
        if self.distance_power is not None:
            return self
        ones = np.ones_like(np.asarray(self.scale, dtype=np.float64))
        return self._replace(distance_scale=ones, distance_power=np.zeros_like(ones))


def distance_factor(distance, parameters: IntervalParameters) -> np.ndarray | float:
    """``(1 + d / distance_scale) ** distance_power``, (N, P), for distances `d` (N,); 1
    when the parameters carry no distance terms."""
    if parameters.distance_power is None or distance is None:
        return 1.0
    d = np.asarray(distance, dtype=np.float64).reshape(-1, 1)
    return (1.0 + d / np.asarray(parameters.distance_scale)) ** np.asarray(parameters.distance_power)


def _shrunk_slope(response: np.ndarray, regressor: np.ndarray, prior_mean: float, prior_sd: float) -> float | None:
    """The least-squares slope of `response` on `regressor` (intercept free), shrunk towards
    `prior_mean` by its own standard error ``se`` (a normal prior with sd ``s``):
    ``prior_mean + (slope - prior_mean) s² / (s² + se²)``; None when the regressor does not
    vary or there are fewer than 3 rows."""
    u = regressor - regressor.mean()
    sxx = float(np.sum(u**2))
    n = len(u)
    if n < 3 or sxx <= 1e-12:
        return None
    fitted = float(np.sum(u * (response - response.mean())) / sxx)
    residual = response - response.mean() - fitted * u
    se2 = float(np.sum(residual**2)) / (n - 2) / sxx
    prior = prior_sd**2
    return prior_mean + (fitted - prior_mean) * prior / (prior + se2)


def spread_power(abs_error: np.ndarray, spread: np.ndarray) -> float:
    """The exponent b of the log-spread model, shrunk towards 1 (module text).

    Args:
        abs_error: (N,) positive absolute errors on calibration rows.
        spread: (N,) positive ``std + eps`` on the same rows.

    Returns:
        b in `POWER_RANGE` (1 when the spread does not vary or N < 3).
    """
    b = _shrunk_slope(np.log(np.asarray(abs_error, dtype=np.float64)), np.log(np.asarray(spread, dtype=np.float64)),
                      1.0, POWER_PRIOR_SD)  # fmt: skip
    return 1.0 if b is None else float(np.clip(b, *POWER_RANGE))


def nearest_distances(compositions: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """(N,) Euclidean distance of each composition to the nearest of `rows` (atomic
    fractions; the measure of `Surrogate.nearest_distance`)."""
    c, r = np.asarray(compositions, np.float64), np.asarray(rows, np.float64)
    out = np.empty(len(c))
    for a in range(0, len(c), 1024):
        block = c[a : a + 1024]
        squared = (block**2).sum(1)[:, None] + (r**2).sum(1)[None, :] - 2.0 * block @ r.T
        out[a : a + 1024] = np.sqrt(np.maximum(squared.min(axis=1), 0.0))
    return out


def distance_power(scores: np.ndarray, growth: np.ndarray) -> float:
    """The exponent g of the distance model, shrunk towards 0 (module text): the slope of
    ``log score = a + g log(growth)``, ``score = |y - mean| / (std + eps) ** b`` (the error
    left once the spread has spoken), ``growth = 1 + d / distance_scale``.

    Args:
        scores: (N,) positive normalized errors.
        growth: (N,) ``1 + d / distance_scale`` (>= 1).

    Returns:
        g in `DISTANCE_POWER_RANGE` (0 when the distance does not vary, N < 3, or the
        errors do not grow with it).
    """
    g = _shrunk_slope(np.log(np.asarray(scores, dtype=np.float64)), np.log(np.asarray(growth, dtype=np.float64)),
                      0.0, DISTANCE_PRIOR_SD)  # fmt: skip
    return 0.0 if g is None else float(np.clip(g, *DISTANCE_POWER_RANGE))


def fit_intervals(
    y: np.ndarray, mean: np.ndarray, std: np.ndarray, coverage: float = DEFAULT_COVERAGE, distance=None,
    far: tuple | None = None,
) -> IntervalParameters:
    """The interval parameters per property from a calibration set (module text).

    Args:
        y: (N, P) true values of calibration alloys the model did not train on (NaN: a
            value the alloy lacks; each property is calibrated on the rows that have it).
        mean, std: (N, P) ensemble mean and standard deviation on them.
        coverage: nominal coverage in (0, 1).
        distance: None, or (N,) each calibration alloy's distance to the nearest alloy the
            ensemble trained on (Euclidean, atomic fractions): the interval then also
            grows as ``(1 + d / distance_scale) ** distance_power``, distance_scale the
            median calibration distance, the power fitted (`distance_power`).
        far: None, or ``(y, mean, std, distance)`` of more alloys, held out farther from
            the training alloys (clusters of compositions, `train_default_surrogate`),
            their `std` on the same scale: they join the fit of the exponents (how fast
            the error grows with spread and distance) but not the conformal quantile,
            which the calibration rows alone set. Needs `distance`.

    Returns:
        `IntervalParameters`: interval ``mean ± scale * (std + offset) ** power`` (times the
        distance factor when `distance` is given).

    Raises:
        ValueError: shapes that differ, or fewer than `min_calibration_size(coverage)` rows.
    """
    y, mean, std = (np.asarray(a, dtype=np.float64) for a in (y, mean, std))
    if y.ndim == 1:
        y, mean, std = y[:, None], mean[:, None], std[:, None]
    if not (y.shape == mean.shape == std.shape):
        raise DataError(f"y, mean and std must have one shape. Received: {y.shape}, {mean.shape}, {std.shape}")
    if distance is not None:
        distance = np.asarray(distance, dtype=np.float64).reshape(-1)
        if distance.shape != (y.shape[0],) or not np.all(np.isfinite(distance)) or np.any(distance < 0):
            raise DataError(f"distance must hold one finite distance >= 0 per calibration row ({y.shape[0]}). "
                            f"Received shape {distance.shape}.", field="distance")  # fmt: skip
    if far is not None:
        if distance is None:
            raise UsageError("`far` rows need the calibration rows' `distance`.", field="far")
        far = tuple(np.asarray(a, dtype=np.float64) for a in far)
        far = tuple(a[:, None] if a.ndim == 1 and i < 3 else a for i, a in enumerate(far))
        if far[0].shape[1:] != y.shape[1:] or not (far[0].shape == far[1].shape == far[2].shape) or far[3].shape != far[0].shape[:1]:
            raise DataError(f"far rows must be (M, {y.shape[1]}) y, mean, std and (M,) distance. "
                            f"Received: {[a.shape for a in far]}", field="far")  # fmt: skip
    if np.isnan(y).any() or (far is not None and np.isnan(far[0]).any()):
        # a sparse table: each property on the rows that have it
        parts = [fit_intervals(y[has, j], mean[has, j], std[has, j], coverage,
                               None if distance is None else distance[has],
                               None if far is None else (far[0][h2, j], far[1][h2, j], far[2][h2, j], far[3][h2]))
                 for j, (has, h2) in enumerate(zip(np.isfinite(y).T,
                                                   np.isfinite(far[0]).T if far is not None else np.isfinite(y).T))]  # fmt: skip
        fields = range(5 if distance is not None else 3)
        return IntervalParameters(*(np.concatenate([p[i] for p in parts]) for i in fields))
    floor = 1e-6 * np.maximum(np.median(np.abs(y), axis=0), 1e-12)
    offset = np.maximum(EPS_FRACTION * np.median(std, axis=0), floor)
    error = np.abs(y - mean)
    if distance is None:
        power = np.array(
            [spread_power(np.maximum(error[:, j], floor[j]), std[:, j] + offset[j]) for j in range(y.shape[1])]
        )
        scale = conformal_quantile(error / (std + offset) ** power, coverage)
        return IntervalParameters(scale, offset, power)
    d_scale = np.full(y.shape[1], max(float(np.median(distance)), DISTANCE_SCALE_FLOOR))
    growth = 1.0 + distance[:, None] / d_scale
    fit_error, fit_spread, fit_growth = error, std + offset, growth
    if far is not None and len(far[0]):
        fit_error = np.concatenate([error, np.abs(far[0] - far[1])])
        fit_spread = np.concatenate([fit_spread, far[2] + offset])
        fit_growth = np.concatenate([growth, 1.0 + far[3][:, None] / d_scale])
    power = np.array(
        [spread_power(np.maximum(error[:, j], floor[j]), std[:, j] + offset[j]) for j in range(y.shape[1])]
    )
    d_power = np.array([distance_power(np.maximum(fit_error[:, j], floor[j]) / fit_spread[:, j] ** power[j],
                                       fit_growth[:, j]) for j in range(y.shape[1])])  # fmt: skip
    scale = conformal_quantile(error / ((std + offset) ** power * growth**d_power), coverage)
    return IntervalParameters(scale, offset, power, d_scale, d_power)


def in_units_of(parameters: IntervalParameters, unit) -> IntervalParameters:
    """Parameters fitted on spreads measured in units of `unit` (P,), for raw spreads.

    ``scale * (std / unit + offset) ** power == scale * unit ** -power * (std + offset * unit) ** power``:
    the same interval, in the form `interval_bounds` (and the exported graph) computes.
    """
    scale, offset, power = (np.asarray(a, dtype=np.float64) for a in parameters[:3])
    unit = np.asarray(unit, dtype=np.float64)
    return parameters._replace(scale=scale * unit ** (-power), offset=offset * unit)


NONNEGATIVE_NAMES = ("strength", "hardness", "modulus", "density", "elongation", "toughness", "ductility",
                     "strain", "stress", "grain_size")  # fmt: skip
"""Words of a property name that mark a quantity that cannot be negative."""

NONNEGATIVE_UNITS = ("mpa", "gpa", "pa", "hv", "%", "g/cm^3", "g/cm3", "kg/m^3", "mpa*m^0.5", "mpa m^0.5", "um")
"""Units (lower case) of quantities that cannot be negative here (stress, hardness, percent strain, density)."""


def nonnegative_properties(names, units, values) -> tuple[bool, ...]:
    """Which properties cannot be negative: the rule of the default surrogate's bounds.

    A property is nonnegative when its name contains one of `NONNEGATIVE_NAMES`
    (``yield_strength``, ``hardness``, ``youngs_modulus_exp``, ``density_calc``,
    ``elongation``...), when its unit is one of `NONNEGATIVE_UNITS` (MPa, GPa, HV, %,
    g/cm^3...), or when every training value it has is >= 0. Its predictions and interval
    ends are clipped at 0.

    Args:
        names, units: the P property names and units.
        values: (N, P) training values (NaN: missing).
    """
    values = np.asarray(values, dtype=np.float64).reshape(-1, len(names))
    out = []
    for j, (name, unit) in enumerate(zip(names, units)):
        column = values[:, j][np.isfinite(values[:, j])]
        by_name = any(word in str(name).lower() for word in NONNEGATIVE_NAMES)
        by_unit = str(unit).strip().lower() in NONNEGATIVE_UNITS
        out.append(bool(by_name or by_unit or (len(column) and column.min() >= 0)))
    return tuple(out)


def interval_bounds(mean, std, parameters: IntervalParameters, lower_bound: float | None = None, distance=None):
    """``mean ± scale * (std + offset) ** power`` (NumPy) times `distance_factor` when the
    parameters have distance terms (then `distance`, (N,), is required), lower end clipped
    at `lower_bound`."""
    scale, offset, power = (np.asarray(a) for a in parameters[:3])
    if parameters.distance_power is not None and np.any(np.asarray(parameters.distance_power) != 0) and distance is None:
        raise UsageError("These intervals widen with the distance to the training alloys: pass `distance`.",
                         field="distance")  # fmt: skip
    half = scale * (np.asarray(std) + offset) ** power * distance_factor(distance, parameters)
    lower = np.asarray(mean) - half
    if lower_bound is not None:
        lower = np.maximum(lower, lower_bound)
    return lower, np.asarray(mean) + half


def interval_report(
    y: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    std: np.ndarray,
    names,
    coverage: float,
) -> dict[str, dict]:
    """Measured coverage of intervals, per property, overall and by tercile of spread.

    Args:
        y: (N, P) held-out truths.
        lower, upper: (N, P) interval ends.
        std: (N, P) ensemble standard deviation (sorts rows into terciles).
        names: the P property names.
        coverage: the nominal coverage (recorded).

    Returns:
        ``{name: {"nominal", "coverage", "width", "relative_width", "n",
        "coverage_by_spread": [low, middle, high tercile]}}``; ``width`` is the mean
        interval width in the property's units, ``relative_width`` its mean over |y|.
    """
    y, lower, upper, std = (np.asarray(a, dtype=np.float64) for a in (y, lower, upper, std))
    inside = (y >= lower) & (y <= upper)
    out = {}
    nan = float("nan")
    for j, name in enumerate(names):
        has = np.flatnonzero(np.isfinite(y[:, j]))  # a sparse table: the rows with the property
        order = has[np.argsort(std[has, j], kind="stable")]
        terciles = [inside[part, j].mean() if len(part) else nan for part in np.array_split(order, 3)]
        width = upper[has, j] - lower[has, j]
        out[str(name)] = {
            "nominal": float(coverage),
            "coverage": float(inside[has, j].mean()) if len(has) else nan,
            "width": float(width.mean()) if len(has) else nan,
            "relative_width": float(np.mean(width / np.maximum(np.abs(y[has, j]), 1e-12))) if len(has) else nan,
            "n": int(len(has)),
            "coverage_by_spread": [float(t) for t in terciles],
        }
    return out

"""Calibrated prediction intervals for the surrogate: normalized split conformal prediction.

An ensemble's standard deviation is not an error bar: on the bundled data only 61 % (shear
modulus) and 36 % (toughness) of held-out errors fall within two ensemble standard
deviations, and 25 % of hardness errors on MPEA. Split conformal prediction turns the
spread into an interval with a stated coverage (Lei et al., "Distribution-free predictive
inference for regression", JASA 113, 1094 (2018); normalized scores: Papadopoulos et al.,
"Normalized nonconformity measures for regression conformal prediction", 2008).

For each property, on a calibration set of alloys the ensemble did not train on (disjoint
by composition group from the training rows):

    score_i = |y_i - mean_i| / (std_i + eps)          eps = f * median(std)
    q       = the ceil((n + 1) * coverage)-th smallest score
    interval = mean ± q * (std + eps)

If calibration and new alloys are exchangeable, the interval holds the truth with
probability at least `coverage` (and at most coverage + 1/(n + 1)). The interval is wider
where the ensemble members disagree; `eps` sets how much: f -> 0 makes the width
proportional to the spread (right when the spread tracks the error), large f makes it
constant (right when it does not). f is chosen per property from `EPS_FRACTIONS` as the
one giving the narrowest mean interval on the calibration set (the most informative
normalization); choosing among four candidates on the same rows can lower the coverage
slightly below the guarantee, which is why coverage is then measured on held-out alloys,
overall and by tercile of ensemble spread (`interval_report`).

Example:
    >>> scale, offset = fit_intervals(y_cal, mean_cal, std_cal, coverage=0.9)  # doctest: +SKIP
    >>> lower, upper = interval_bounds(mean, std, scale, offset)                # doctest: +SKIP
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "DEFAULT_COVERAGE",
    "CALIBRATION_FRACTION",
    "EPS_FRACTIONS",
    "min_calibration_size",
    "conformal_quantile",
    "fit_intervals",
    "interval_bounds",
    "interval_report",
]

DEFAULT_COVERAGE = 0.9
"""Nominal coverage of the surrogate's intervals."""

CALIBRATION_FRACTION = 0.2
"""Share of the training alloys (groups) `train_default_surrogate` keeps for calibration."""

EPS_FRACTIONS: tuple[float, ...] = (0.05, 0.25, 1.0, 4.0)
"""Candidates f for eps = f x the median calibration std of a property (module text)."""


def _check_coverage(coverage: float) -> float:
    coverage = float(coverage)
    if not 0.0 < coverage < 1.0:
        raise ValueError(f"coverage must be in (0, 1). Received: coverage={coverage}")
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
        raise ValueError(
            f"A {coverage:.0%} interval needs at least {min_calibration_size(coverage)} "
            f"calibration alloys. Received: {n}."
        )
    return np.sort(scores, axis=0)[k - 1]


def fit_intervals(
    y: np.ndarray, mean: np.ndarray, std: np.ndarray, coverage: float = DEFAULT_COVERAGE
) -> tuple[np.ndarray, np.ndarray]:
    """The interval scale ``q`` and offset ``eps`` per property from a calibration set.

    Args:
        y: (N, P) true values of calibration alloys the model did not train on.
        mean, std: (N, P) ensemble mean and standard deviation on them.
        coverage: nominal coverage in (0, 1).

    Returns:
        ``(scale, offset)``, each (P,) float64: interval ``mean ± scale * (std + offset)``.
    """
    y, mean, std = (np.asarray(a, dtype=np.float64) for a in (y, mean, std))
    if y.ndim == 1:
        y, mean, std = y[:, None], mean[:, None], std[:, None]
    if not (y.shape == mean.shape == std.shape):
        raise ValueError(f"y, mean and std must have one shape. Received: {y.shape}, {mean.shape}, {std.shape}")
    floor = 1e-6 * np.maximum(np.median(np.abs(y), axis=0), 1e-12)
    best_scale = best_offset = best_width = None
    for fraction in EPS_FRACTIONS:
        offset = np.maximum(fraction * np.median(std, axis=0), floor)
        scale = conformal_quantile(np.abs(y - mean) / (std + offset), coverage)
        width = np.mean(scale * (std + offset), axis=0)
        if best_width is None:
            best_scale, best_offset, best_width = scale, offset, width
            continue
        better = width < best_width  # per property
        best_scale = np.where(better, scale, best_scale)
        best_offset = np.where(better, offset, best_offset)
        best_width = np.where(better, width, best_width)
    return best_scale, best_offset


def interval_bounds(mean, std, scale, offset, lower_bound: float | None = None):
    """``mean ± scale * (std + offset)`` (NumPy), lower end clipped at `lower_bound`."""
    half = np.asarray(scale) * (np.asarray(std) + np.asarray(offset))
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
    for j, name in enumerate(names):
        order = np.argsort(std[:, j], kind="stable")
        terciles = [inside[part, j].mean() if len(part) else float("nan") for part in np.array_split(order, 3)]
        width = upper[:, j] - lower[:, j]
        out[str(name)] = {
            "nominal": float(coverage),
            "coverage": float(inside[:, j].mean()),
            "width": float(width.mean()),
            "relative_width": float(np.mean(width / np.maximum(np.abs(y[:, j]), 1e-12))),
            "n": int(len(y)),
            "coverage_by_spread": [float(t) for t in terciles],
        }
    return out

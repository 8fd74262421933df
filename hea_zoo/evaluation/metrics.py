"""Metrics for judging generated alloy compositions.

Everything here is plain NumPy and vectorized; nothing trains or imports a model. The
metrics follow the study's protocol (Tung, Debnath & Reinhart, "Evaluating generative
models for inverse design of high-entropy refractory alloys") and add a few that the
study did not report but a user choosing a generator needs.

Shapes used throughout:

- ``designs``: generated compositions, ``(m, n, E)`` — ``m`` conditions, ``n`` samples
  per condition, ``E`` elements (atomic fractions).
- ``predicted`` / ``achieved``: properties of the designs as judged by a surrogate or an
  oracle, ``(m, n, P)`` (or ``(N, P)`` for a flat batch).
- ``target``: the requested properties, ``(m, P)`` (one row per condition, broadcast over
  the samples), ``(P,)`` (one target for everything) or the full shape of ``predicted``.

Units: MAPE and the surrogate–oracle gap are percentages; cosine similarities, novelty,
validity, uniqueness and hit rates are fractions in [0, 1] (cosine similarity in [-1, 1]
in general; compositions are nonnegative, so it lies in [0, 1] for them).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from hea_zoo.errors import UsageError

__all__ = [
    "MAPEResult",
    "ConditionAverage",
    "absolute_percentage_error",
    "mape",
    "within_condition_cosine_similarity",
    "cosine_similarity_to_reference",
    "novelty",
    "valid_mask",
    "validity",
    "uniqueness",
    "hit_rate",
    "nearest_training_distance",
    "surrogate_oracle_gap",
    "element_counts",
    "element_count_distance",
    "trace_share",
    "alloy_systems",
    "distinct_systems",
]

_EPS = 1e-12
_PRESENT = 0.005  # the drop threshold of printed formulas (hea_zoo.artifact.DROP_THRESHOLD)
_SLACK = 1e-7  # a float32 copy of a printed fraction counts as that fraction (as hea_zoo.artifact)


class MAPEResult(NamedTuple):
    """Mean absolute percentage error, per property and averaged over properties.

    Attributes:
        per_property: ``(P,)`` MAPE of each property, in percent.
        mean: Mean of ``per_property``, in percent.
    """

    per_property: np.ndarray
    mean: float


class ConditionAverage(NamedTuple):
    """A per-condition metric and its average over conditions.

    Attributes:
        per_condition: ``(m,)`` value for each condition (NaN where undefined).
        mean: Mean over the conditions where the value is defined.
    """

    per_condition: np.ndarray
    mean: float


# --------------------------------------------------------------------------- helpers


def _as_array(x, name: str, min_ndim: int = 1) -> np.ndarray:
    array = np.asarray(x, dtype=np.float64)
    if array.ndim < min_ndim:
        raise UsageError(
            f"must have at least {min_ndim} dimension(s). "
            f"Received: {name}.shape={array.shape}",
            field=name,
        )
    return array


def _designs_3d(designs, name: str = "designs") -> np.ndarray:
    array = _as_array(designs, name)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3:
        raise UsageError(
            f"must have shape (m, n, E) or (n, E). Received: {name}.shape={array.shape}",
            field=name,
        )
    return array


def _broadcast_target(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Broadcasts a ``(m, P)`` per-condition target against ``(m, n, P)`` predictions."""
    if predicted.ndim == 3 and target.ndim == 2:
        target = target[:, None, :]
    try:
        return np.broadcast_to(target, predicted.shape)
    except ValueError:
        raise UsageError(
            "must broadcast against `predicted`: shape (P,), (m, P) for predictions "
            f"(m, n, P), or the shape of `predicted`. Received: target.shape={target.shape}, "
            f"predicted.shape={predicted.shape}",
            field="target",
        ) from None


def _unit_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``x`` scaled to unit length; all-zero rows stay zero. Returns (u, nonzero)."""
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    nonzero = norm[..., 0] > _EPS
    u = np.divide(x, norm, out=np.zeros_like(x), where=norm > _EPS)
    return u, nonzero


# --------------------------------------------------------------------------- accuracy


def absolute_percentage_error(predicted, target) -> np.ndarray:
    """Elementwise absolute percentage error ``100 · |ŷ − y| / |y|``.

    Args:
        predicted: Achieved properties ``ŷ``, shape ``(m, n, P)`` or ``(N, P)``.
        target: Requested properties ``y``: ``(m, P)`` per condition (broadcast over the
            ``n`` samples), ``(P,)``, or the shape of ``predicted``. Must be nonzero.

    Returns:
        Array of the shape of ``predicted``, in percent.

    Raises:
        ValueError: if the shapes do not broadcast or a target is zero or not finite.
    """
    predicted = _as_array(predicted, "predicted")
    target = _broadcast_target(predicted, _as_array(target, "target"))
    if not np.all(np.isfinite(target)) or np.any(np.abs(target) < _EPS):
        raise UsageError(
            "must be finite and nonzero for a percentage error. "
            f"Received: min |target| = {np.nanmin(np.abs(target)):.3g}",
            field="target",
        )
    return 100.0 * np.abs(predicted - target) / np.abs(target)


def mape(predicted, target) -> MAPEResult:
    """Mean absolute percentage error of achieved against requested properties.

    For property ``p``, with ``ŷ_ijp`` the property of sample ``j`` of condition ``i`` and
    ``y_ip`` the requested value,

        MAPE_p = 100 / (m·n) · Σ_i Σ_j |ŷ_ijp − y_ip| / |y_ip|

    and the reported mean is ``(1/P) Σ_p MAPE_p``. NaN predictions (designs a judge could
    not rate, e.g. rows the oracle rejects) are left out of the mean.

    Args:
        predicted: Achieved properties, ``(m, n, P)`` or ``(N, P)``.
        target: Requested properties, ``(m, P)``, ``(P,)`` or the shape of ``predicted``.

    Returns:
        A ``MAPEResult(per_property, mean)``, in percent.

    Example:
        >>> mape([[[110.0, 9.0]]], [[100.0, 10.0]]).per_property
        array([10., 10.])
    """
    ape = absolute_percentage_error(predicted, target)
    ape = ape.reshape(-1, ape.shape[-1])
    if np.all(np.isnan(ape), axis=0).any():
        per_property = np.full(ape.shape[-1], np.nan)
    else:
        per_property = np.nanmean(ape, axis=0)
    return MAPEResult(per_property, float(per_property.mean()))


def hit_rate(achieved, target, tolerance: float = 0.05) -> float:
    """Share of designs within a relative tolerance of the target on *every* property.

    A design hits if ``|ŷ_p − y_p| ≤ tolerance · |y_p|`` for all properties ``p``; a NaN
    prediction is a miss.

    Args:
        achieved: Achieved properties, ``(m, n, P)`` or ``(N, P)``.
        target: Requested properties, ``(m, P)``, ``(P,)`` or the shape of ``achieved``.
        tolerance: Relative tolerance as a fraction (``0.05`` for ±5 %).

    Returns:
        The hit rate, a fraction in [0, 1].

    Example:
        >>> hit_rate([[[104.0, 10.0], [120.0, 10.0]]], [[100.0, 10.0]], 0.05)
        0.5
    """
    if not tolerance > 0:
        raise UsageError(f"must be a positive fraction. Received: tolerance={tolerance}", field="tolerance")
    ape = absolute_percentage_error(achieved, target)
    hits = np.all(ape <= 100.0 * tolerance + 1e-9, axis=-1)
    return float(hits.mean())


def surrogate_oracle_gap(surrogate_predicted, oracle_predicted, target) -> MAPEResult:
    """Surrogate-judged MAPE minus oracle-judged MAPE of the same designs.

    ``gap_p = MAPE_p(surrogate) − MAPE_p(oracle)``. A strongly negative gap means the
    surrogate rates the designs better than the ground truth does: the generator has
    found compositions where the surrogate is wrong in its favour (it exploits the judge),
    typically far from the training data.

    Args:
        surrogate_predicted: Properties predicted by the surrogate, ``(m, n, P)``.
        oracle_predicted: Properties given by the oracle, same shape.
        target: Requested properties, ``(m, P)`` or broadcastable.

    Returns:
        A ``MAPEResult(per_property, mean)`` of differences, in percentage points.
    """
    s = mape(surrogate_predicted, target)
    o = mape(oracle_predicted, target)
    gap = s.per_property - o.per_property
    return MAPEResult(gap, float(gap.mean()))


# --------------------------------------------------------------------------- diversity


def within_condition_cosine_similarity(designs) -> ConditionAverage:
    """Mean pairwise cosine similarity between distinct samples of each condition.

    For condition ``i`` with unit vectors ``u_j = x_ij / ‖x_ij‖`` (``j = 1..n``),

        s_i = 1 / (n(n−1)) · Σ_{j≠k} u_j · u_k
            = (‖Σ_j u_j‖² − Σ_j ‖u_j‖²) / (n(n−1))

    The second form costs ``O(n·E)`` per condition instead of ``O(n²·E)``. Only distinct
    samples are paired (``j ≠ k``): a sample is not compared with itself. Identical samples
    give 1; samples over disjoint element sets give 0. All-zero rows have no direction and
    are left out (``n`` counts the nonzero rows); a condition with fewer than two nonzero
    rows gives NaN. Lower means more diverse.

    Args:
        designs: Generated compositions, ``(m, n, E)`` (or ``(n, E)`` for one condition).

    Returns:
        ``ConditionAverage(per_condition (m,), mean)`` as fractions.

    Example:
        >>> within_condition_cosine_similarity([[[1, 0], [0, 1]]]).mean
        0.0
    """
    x = _designs_3d(designs)
    u, nonzero = _unit_rows(x)
    k = nonzero.sum(axis=1).astype(np.float64)                # (m,)
    total = u.sum(axis=1)                                     # (m, E)
    pair_sum = np.einsum("me,me->m", total, total) - k        # Σ‖u_j‖² = k for unit rows
    pairs = k * (k - 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_condition = np.where(pairs > 0, pair_sum / np.where(pairs > 0, pairs, 1.0), np.nan)
    mean = float(np.nanmean(per_condition)) if np.any(np.isfinite(per_condition)) else float("nan")
    return ConditionAverage(per_condition, mean)


def cosine_similarity_to_reference(designs, reference) -> np.ndarray:
    """Cosine similarity of every generated composition to its condition's reference alloy.

    ``c_ij = x_ij · r_i / (‖x_ij‖ ‖r_i‖)``; zero rows give 0.

    Args:
        designs: Generated compositions, ``(m, n, E)``.
        reference: One reference composition per condition, ``(m, E)``.

    Returns:
        ``(m, n)`` cosine similarities.
    """
    x = _designs_3d(designs)
    r = _as_array(reference, "reference")
    if r.ndim == 1:
        r = r[None]
    if r.shape != (x.shape[0], x.shape[2]):
        raise UsageError(
            "must have shape (m, E) matching `designs` (m, n, E). "
            f"Received: reference.shape={r.shape}, designs.shape={x.shape}",
            field="reference",
        )
    u, _ = _unit_rows(x)
    v, _ = _unit_rows(r)
    return np.einsum("mne,me->mn", u, v)


def novelty(designs, reference) -> ConditionAverage:
    """Cosine similarity between generated compositions and the alloy that set the condition.

    The study's novelty test conditions a generator on the properties of real training
    alloys ``r_i`` and measures ``(1/n) Σ_j cos(x_ij, r_i)`` per condition, averaged over
    conditions. Lower means the generator proposes compositions unlike the alloy whose
    properties it was asked for (more novel); 1 means it returned that alloy.

    Args:
        designs: Generated compositions, ``(m, n, E)``.
        reference: The real alloys, ``(m, E)``.

    Returns:
        ``ConditionAverage(per_condition (m,), mean)`` as fractions.

    Example:
        >>> round(novelty([[[1.0, 0.0]], [[0.5, 0.5]]], [[1.0, 0.0], [0.5, 0.5]]).mean, 6)
        1.0
    """
    c = cosine_similarity_to_reference(designs, reference)
    per_condition = c.mean(axis=1)
    return ConditionAverage(per_condition, float(per_condition.mean()))


# --------------------------------------------------------------------------- validity


def valid_mask(designs, atol: float = 1e-6) -> np.ndarray:
    """Which rows are valid compositions: finite, nonnegative and summing to 1.

    A row ``x`` is valid if every entry is finite, ``x_e ≥ −atol`` and ``|Σ_e x_e − 1| ≤ atol``.

    Args:
        designs: Compositions, ``(..., E)``.
        atol: Absolute tolerance for the sum and for negative rounding noise.

    Returns:
        Boolean array of shape ``designs.shape[:-1]``.
    """
    x = _as_array(designs, "designs")
    finite = np.all(np.isfinite(x), axis=-1)
    with np.errstate(invalid="ignore"):
        nonnegative = np.all(x >= -atol, axis=-1)
        sums = np.abs(x.sum(axis=-1) - 1.0) <= atol
    return finite & nonnegative & sums


def validity(designs, atol: float = 1e-6) -> float:
    """Share of generated rows that are valid compositions (see `valid_mask`).

    Args:
        designs: Compositions, ``(..., E)``.
        atol: Absolute tolerance for the sum to 1 and for negative rounding noise.

    Returns:
        A fraction in [0, 1].

    Example:
        >>> validity([[0.5, 0.5], [0.7, 0.7], [-0.1, 1.1]])
        0.3333333333333333
    """
    return float(valid_mask(designs, atol).mean())


def uniqueness(designs, decimals: int = 3) -> float:
    """Share of generated rows that are unique after rounding.

    Rows are rounded to ``decimals`` places (``-0.0`` folded into ``0.0``) and the number
    of distinct rows is divided by the number of rows, over all conditions together.
    A collapsed generator that returns one composition per condition scores ``m / (m·n)``.

    Args:
        designs: Compositions, ``(..., E)``.
        decimals: Decimal places kept before comparing (3 = 0.1 at.%).

    Returns:
        A fraction in (0, 1].

    Example:
        >>> uniqueness([[0.5, 0.5], [0.5001, 0.4999], [0.2, 0.8]])
        0.6666666666666666
    """
    x = _as_array(designs, "designs")
    rows = x.reshape(-1, x.shape[-1])
    if rows.shape[0] == 0:
        raise UsageError("is empty.", field="designs")
    rounded = np.round(rows, decimals) + 0.0
    return float(np.unique(rounded, axis=0).shape[0] / rows.shape[0])


# --------------------------------------------------------------------------- memorization


def nearest_training_distance(
    designs,
    training_compositions,
    metric: str = "euclidean",
    chunk_size: int = 256,
) -> np.ndarray:
    """Distance from each design to the nearest training composition, in fraction space.

    ``d(x) = min_t ‖x − t‖`` with the Euclidean (``‖·‖₂``) or L1 (``‖·‖₁``, twice the
    total atomic fraction that must move) norm. Near-zero distances flag designs that
    copy training alloys. Designs are processed in chunks, so memory stays at
    ``chunk_size × n_train`` (40 000 designs against 423 alloys is quick).

    Args:
        designs: Compositions, ``(..., E)``.
        training_compositions: ``(T, E)`` training compositions.
        metric: ``"euclidean"`` or ``"l1"``.
        chunk_size: Designs compared at once.

    Returns:
        Distances of shape ``designs.shape[:-1]``.
    """
    if metric not in ("euclidean", "l1"):
        raise UsageError(f"must be 'euclidean' or 'l1'. Received: metric={metric!r}", field="metric")
    x = _as_array(designs, "designs")
    t = _as_array(training_compositions, "training_compositions", min_ndim=2)
    if t.ndim != 2 or t.shape[1] != x.shape[-1] or t.shape[0] == 0:
        raise UsageError(
            "must have shape (T, E) with E matching `designs`. "
            f"Received: training_compositions.shape={t.shape}, designs.shape={x.shape}",
            field="training_compositions",
        )
    flat = x.reshape(-1, x.shape[-1])
    out = np.empty(flat.shape[0])
    t_sq = np.einsum("te,te->t", t, t)
    for start in range(0, flat.shape[0], chunk_size):
        block = flat[start : start + chunk_size]
        if metric == "euclidean":
            sq = np.einsum("be,be->b", block, block)[:, None] + t_sq[None] - 2.0 * block @ t.T
            out[start : start + chunk_size] = np.sqrt(np.maximum(sq.min(axis=1), 0.0))
        else:
            d = np.abs(block[:, None, :] - t[None, :, :]).sum(axis=-1)
            out[start : start + chunk_size] = d.min(axis=1)
    return out.reshape(x.shape[:-1])


# --------------------------------------------------------------------------- realism


def _rows(designs, name: str = "designs") -> np.ndarray:
    x = _as_array(designs, name)
    return x.reshape(-1, x.shape[-1])


def element_counts(designs, threshold: float = _PRESENT) -> np.ndarray:
    """Number of elements at or above `threshold` in each composition.

    With the default 0.005 (0.5 at.%, the drop threshold of printed formulas) this is the
    number of elements in the printed formula.

    Args:
        designs: Compositions, ``(..., E)``.
        threshold: Smallest fraction that counts as present.

    Returns:
        Integer array of shape ``designs.shape[:-1]``.

    Example:
        >>> element_counts([[0.5, 0.498, 0.002], [0.25, 0.25, 0.5]]).tolist()
        [2, 3]
    """
    x = _as_array(designs, "designs")
    return np.sum(x >= threshold - _SLACK, axis=-1)


def element_count_distance(designs, reference, threshold: float = _PRESENT) -> float:
    """Wasserstein-1 distance between the element-count distributions of two sets.

    With ``F`` and ``G`` the cumulative distributions of the element counts (see
    `element_counts`) of the designs and of the reference (e.g. the training data),
    ``W1 = Σ_k |F(k) − G(k)|``: the mean number of elements that must be added or removed
    per composition to turn one distribution into the other. 0 means the same
    distribution; designs with one element too many everywhere score 1.

    Args:
        designs: Compositions, ``(..., E)``.
        reference: Compositions, ``(..., E)`` (same E).
        threshold: Smallest fraction that counts as present.

    Returns:
        The distance, in elements.

    Example:
        >>> element_count_distance([[0.5, 0.5, 0.0], [0.4, 0.3, 0.3]], [[0.4, 0.3, 0.3]])
        0.5
    """
    a = element_counts(_rows(designs), threshold)
    b = element_counts(_rows(reference, "reference"), threshold)
    if a.size == 0 or b.size == 0:
        raise UsageError("must hold at least one composition, and so must `reference`.", field="designs")
    top = int(max(a.max(), b.max())) + 1
    cdf_a = np.cumsum(np.bincount(a, minlength=top)) / a.size
    cdf_b = np.cumsum(np.bincount(b, minlength=top)) / b.size
    return float(np.abs(cdf_a - cdf_b).sum())


def trace_share(designs, low: float = _PRESENT, high: float = 0.03) -> float:
    """Share of compositions holding a *trace*: an element present but below 3 at.%.

    A trace is a fraction in ``[low, high)``: at or above the drop threshold (so it is in
    the printed formula) and below `high`. Real refractory high-entropy alloys are mostly
    4–7 principal elements; a generator that sprinkles 1 % of everything scores near 1.

    Args:
        designs: Compositions, ``(..., E)``.
        low: Smallest fraction that counts as present (0.005).
        high: Fractions below this are traces (0.03).

    Returns:
        A fraction in [0, 1].

    Example:
        >>> trace_share([[0.49, 0.49, 0.02], [0.25, 0.25, 0.5]])
        0.5
    """
    x = _rows(designs)
    if x.shape[0] == 0:
        raise UsageError("is empty.", field="designs")
    trace = (x >= low - _SLACK) & (x < high - _SLACK)
    return float(np.any(trace, axis=1).mean())


def alloy_systems(designs, elements, min_fraction: float = 0.05) -> list[str]:
    """The alloy system of each composition: its elements at or above 5 at.%, joined by "-".

    Args:
        designs: Compositions, ``(N, E)`` (or ``(..., E)``, flattened).
        elements: The element symbols of the columns.
        min_fraction: Smallest fraction of a system's element (0.05; the design engine's
            `SYSTEM_MIN_THOUSANDTHS` / 1000).

    Returns:
        One string per composition, elements in column order: ``"Hf-Nb-Ta-Ti-Zr"``.

    Example:
        >>> alloy_systems([[0.5, 0.47, 0.03]], ["Nb", "Ti", "Al"])
        ['Nb-Ti']
    """
    x = _rows(designs)
    symbols = list(elements)
    if x.shape[1] != len(symbols):
        raise UsageError(f"must name the {x.shape[1]} columns. Received {len(symbols)} names.", field="elements")
    member = x >= min_fraction - _SLACK
    return ["-".join(s for s, m in zip(symbols, row) if m) for row in member]


def distinct_systems(designs, top_n: int | None = None, min_fraction: float = 0.05) -> int:
    """How many distinct alloy systems the first `top_n` compositions span.

    A system is the set of elements at or above `min_fraction` (see `alloy_systems`). The
    closest designs of a target often collapse onto one family (1–3 systems among the top
    20); a diverse selection spans many.

    Args:
        designs: Compositions in rank order, ``(N, E)`` (or ``(..., E)``, flattened).
        top_n: Count over the first `top_n` rows only (None: all).
        min_fraction: Smallest fraction of a system's element.

    Returns:
        The number of distinct systems.

    Example:
        >>> distinct_systems([[0.5, 0.5, 0.0], [0.6, 0.4, 0.0], [0.4, 0.3, 0.3]])
        2
    """
    x = _rows(designs)
    if top_n is not None:
        if top_n < 1:
            raise UsageError(f"must be a positive integer. Received: top_n={top_n}", field="top_n")
        x = x[:top_n]
    member = x >= min_fraction - _SLACK
    return int(np.unique(member, axis=0).shape[0]) if x.shape[0] else 0

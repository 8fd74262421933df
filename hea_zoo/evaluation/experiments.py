"""The study's evaluation protocol: conditions, experiments and the metrics of a generator.

Implements the protocol of Tung, Debnath & Reinhart, "Evaluating generative models for
inverse design of high-entropy refractory alloys", on any `hea_zoo` dataset, with every
draw seeded. With ``q_p`` the p-th percentile of a property over the *training* split:

- *line*: ``n`` conditions evenly spaced from ``(q5, q5)`` to ``(q95, q95)``;
- *grid*: ``n × n`` conditions over ``[q10, q90]`` of each property;
- *novelty*: the properties of ``n`` training alloys drawn at random;
- *samples*: a few compositions at low and high targets, for bar charts;
- *interpolation*: compositions decoded along a straight path between two latent points.

Designs are judged twice: by the surrogate (as in the study) and, where the dataset is
the bundled one over the study's 22 elements and two properties, by the physics oracle
(ground truth). `evaluate_generator` runs everything and returns a `GeneratorEvaluation`
with the metrics and the raw arrays the plots need.

What the functions need from their arguments (duck-typed, so anything with this surface
works):

- ``model``: ``generate(conditions, n_per_condition, seed=None) -> (m, n, E)``,
  ``decode(z, conditions) -> (batch, E)`` and ``latent_dim``; ``z`` is standard-normal
  noise; conditions are in physical units.
- ``surrogate``: ``predict_with_uncertainty(compositions (N, E)) -> (mean, std)``, each
  ``(N, P)`` in physical units.
- ``dataset``: a `hea_zoo.data.datasets.Dataset` (``compositions``, ``properties``,
  ``elements``, ``property_names``, ``property_units``, ``train_index``, ``train``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

from hea_zoo.errors import UsageError
from hea_zoo.constants import oracle_applies
from hea_zoo.data import oracle as oracle_module
from hea_zoo.evaluation import metrics

__all__ = [
    "HIT_TOLERANCES",
    "COPY_DISTANCE_L1",
    "NoveltyConditions",
    "ConditionRun",
    "RunMetrics",
    "SampleRun",
    "InterpolationRun",
    "GeneratorEvaluation",
    "line_conditions",
    "grid_conditions",
    "novelty_conditions",
    "sample_conditions",
    "oracle_for",
    "run_conditions",
    "run_line",
    "run_grid",
    "run_novelty",
    "run_samples",
    "run_interpolation",
    "compute_run_metrics",
    "evaluate_generator",
]

#: Relative tolerances at which hit rates are reported (fractions).
HIT_TOLERANCES: tuple[float, ...] = (0.05, 0.10)
#: A design closer than this L1 distance (total atomic fraction moved × 2) to a training
#: alloy counts as a copy of it: 0.05 means at most 2.5 at.% moved between elements.
COPY_DISTANCE_L1: float = 0.05


Oracle = Callable[[np.ndarray], np.ndarray]


# --------------------------------------------------------------------------- conditions


class NoveltyConditions(NamedTuple):
    """Training alloys whose properties serve as conditions in the novelty test.

    Attributes:
        indices: ``(n,)`` row indices into the full dataset (all in its train split).
        conditions: ``(n, P)`` their properties, physical units.
        compositions: ``(n, E)`` their compositions (the references for novelty).
    """

    indices: np.ndarray
    conditions: np.ndarray
    compositions: np.ndarray


def _train_properties(dataset) -> np.ndarray:
    return np.asarray(dataset.train.properties, dtype=np.float64)


def _check_count(name: str, value: int, minimum: int) -> int:
    if int(value) != value or value < minimum:
        raise UsageError(f"must be an integer >= {minimum}. Received: {name}={value!r}", field=name)
    return int(value)


def line_conditions(dataset, n: int = 20, low: float = 5.0, high: float = 95.0) -> np.ndarray:
    """Conditions evenly spaced on the segment from ``q_low`` to ``q_high`` of every property.

    Point ``k`` (``k = 0..n−1``) is ``c_k = q_low + k/(n−1) · (q_high − q_low)``, with the
    percentiles taken per property over the training split (over the rows that have it, in a
    sparse table), so the line runs from
    (q5 G, q5 K) to (q95 G, q95 K) for the study's two properties.

    Args:
        dataset: The dataset whose train split sets the percentiles.
        n: Number of conditions (the study uses 20).
        low: Lower percentile.
        high: Upper percentile.

    Returns:
        ``(n, P)`` float32 conditions in physical units, ordered from low to high.

    Example:
        >>> conditions = line_conditions(dataset)          # doctest: +SKIP
        >>> conditions.shape                               # doctest: +SKIP
        (20, 2)
    """
    n = _check_count("n", n, 2)
    q = np.nanpercentile(_train_properties(dataset), [low, high], axis=0)  # (2, P)
    t = np.linspace(0.0, 1.0, n)[:, None]
    return (q[0] + t * (q[1] - q[0])).astype(np.float32)


def grid_conditions(dataset, n: int = 5, low: float = 10.0, high: float = 90.0) -> np.ndarray:
    """A regular ``n × … × n`` grid of conditions over ``[q_low, q_high]`` of each property.

    Each property takes ``n`` evenly spaced values between its percentiles over the train
    split; the grid is their Cartesian product in C order: the first property varies
    slowest (row ``i·n + j`` has the ``i``-th G and the ``j``-th K for two properties).

    Args:
        dataset: The dataset whose train split sets the percentiles.
        n: Values per property (the study uses 5, giving 25 conditions).
        low: Lower percentile.
        high: Upper percentile.

    Returns:
        ``(n**P, P)`` float32 conditions in physical units.
    """
    n = _check_count("n", n, 2)
    q = np.nanpercentile(_train_properties(dataset), [low, high], axis=0)  # (2, P)
    axes = [np.linspace(q[0, p], q[1, p], n) for p in range(q.shape[1])]
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=-1).astype(np.float32)


def novelty_conditions(dataset, n: int = 100, seed: int = 0) -> NoveltyConditions:
    """Draws ``n`` distinct training alloys; their properties are the novelty conditions.

    Args:
        dataset: The dataset; alloys are drawn from its train split.
        n: Number of alloys (capped at the size of the train split).
        seed: Seed of the draw.

    Returns:
        A `NoveltyConditions` (indices into the full dataset, conditions, compositions),
        sorted by index.
    """
    n = _check_count("n", n, 1)
    train_index = np.asarray(dataset.train_index)
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(train_index, size=min(n, train_index.size), replace=False))
    return NoveltyConditions(
        indices=chosen,
        conditions=np.asarray(dataset.properties, dtype=np.float32)[chosen],
        compositions=np.asarray(dataset.compositions, dtype=np.float32)[chosen],
    )


def sample_conditions(dataset, low: float = 10.0, high: float = 90.0) -> np.ndarray:
    """Two conditions for the sample bar charts: every property at ``q_low`` and at ``q_high``.

    The study shows samples at low and high target shear modulus. Moving the other
    properties with it (rather than holding them at the median) keeps both targets on the
    line of the data, where real alloys exist.

    Returns:
        ``(2, P)`` float32 conditions: row 0 low, row 1 high.
    """
    return np.nanpercentile(_train_properties(dataset), [low, high], axis=0).astype(np.float32)


def oracle_for(dataset, oracle: Oracle | str | None = "auto") -> Oracle | None:
    """The oracle that applies to ``dataset``, or None.

    Args:
        dataset: The dataset being evaluated.
        oracle: ``"auto"`` uses `hea_zoo.data.oracle.properties` when the dataset came
            from the bundled oracle-labelled table (`hea_zoo.constants.oracle_applies`),
            else none; ``None`` disables the oracle; a callable
            ``(N, E) -> (N, P)`` is used as given.

    Returns:
        A callable or None.
    """
    if oracle is None or callable(oracle):
        return oracle
    if oracle != "auto":
        raise UsageError(
            f"must be 'auto', None or a callable. Received: oracle={oracle!r}",
            field="oracle",
        )
    if not oracle_applies(dataset):
        return None
    return oracle_module.properties


# --------------------------------------------------------------------------- runs


@dataclasses.dataclass
class ConditionRun:
    """Designs for a set of conditions and how the judges rate them.

    Attributes:
        name: ``"line"``, ``"grid"`` or ``"novelty"`` (or a user's name).
        conditions: ``(m, P)`` requested properties, physical units.
        designs: ``(m, n, E)`` generated compositions.
        surrogate_properties: ``(m, n, P)`` surrogate ensemble mean.
        surrogate_std: ``(m, n, P)`` surrogate ensemble spread (or None).
        oracle_properties: ``(m, n, P)`` ground truth, or None where no oracle applies.
        reference: ``(m, E)`` real alloys whose properties were the conditions (novelty).
        reference_index: ``(m,)`` their row indices in the dataset (novelty).
    """

    name: str
    conditions: np.ndarray
    designs: np.ndarray
    surrogate_properties: np.ndarray
    surrogate_std: np.ndarray | None
    oracle_properties: np.ndarray | None
    reference: np.ndarray | None = None
    reference_index: np.ndarray | None = None


@dataclasses.dataclass
class SampleRun:
    """A few compositions at low and high targets (for bar charts).

    Attributes:
        conditions: ``(2, P)``: row 0 low, row 1 high.
        designs: ``(2, n, E)``.
        surrogate_properties: ``(2, n, P)``.
        oracle_properties: ``(2, n, P)`` or None.
    """

    conditions: np.ndarray
    designs: np.ndarray
    surrogate_properties: np.ndarray
    oracle_properties: np.ndarray | None


@dataclasses.dataclass
class InterpolationRun:
    """Compositions decoded along ``z(t) = (1 − t)·z0 + t·z1`` at a fixed condition.

    Attributes:
        condition: ``(P,)`` the fixed condition.
        z0, z1: ``(latent_dim,)`` end points (standard-normal draws).
        t: ``(k,)`` path parameter in [0, 1].
        designs: ``(k, E)`` decoded compositions, in path order.
        surrogate_properties: ``(k, P)``.
        oracle_properties: ``(k, P)`` or None.
    """

    condition: np.ndarray
    z0: np.ndarray
    z1: np.ndarray
    t: np.ndarray
    designs: np.ndarray
    surrogate_properties: np.ndarray
    oracle_properties: np.ndarray | None


def _to_numpy(x) -> np.ndarray:
    if hasattr(x, "numpy"):
        x = x.numpy()
    return np.asarray(x)


def _judge(designs: np.ndarray, surrogate, oracle: Oracle | None, n_properties: int, settings=None):
    """Surrogate mean/std and oracle properties for ``(..., E)`` designs, shaped ``(..., P)``
    (a surrogate with measurement settings judges at ``settings``, a mapping name -> value)."""
    lead = designs.shape[:-1]
    flat = designs.reshape(-1, designs.shape[-1]).astype(np.float32)
    extra = {"settings": dict(settings)} if settings else {}

    def surrogate_fn(x):
        mean, std = surrogate.predict_with_uncertainty(x, **extra)
        mean = _to_numpy(mean).astype(np.float64)
        std = np.full_like(mean, np.nan) if std is None else _to_numpy(std).astype(np.float64)
        return np.concatenate([mean, std], axis=-1)

    both = _apply_judge(surrogate_fn, flat, 2 * n_properties, row_fallback=False)
    mean = both[:, :n_properties].reshape(*lead, n_properties)
    std = both[:, n_properties:].reshape(*lead, n_properties)
    truth = None
    if oracle is not None:
        truth = _apply_judge(oracle, flat, n_properties).reshape(*lead, n_properties)
    return mean, std, truth


def _apply_judge(judge, flat: np.ndarray, n_outputs: int, row_fallback: bool = True) -> np.ndarray:
    """The judge's output for the rows it accepts; NaN for the rows it rejects.

    Judges refuse rows that are not compositions (not finite, negative, sums far from 1;
    the oracle also rows without a metal). A generator that emits such rows is penalized
    by `metrics.validity`; here they are left out of the judged means (NaN) instead of
    aborting the evaluation. If the judge still refuses the valid rows, it is asked row
    by row (``row_fallback``) or the error is raised.
    """
    try:
        return _to_numpy(judge(flat)).astype(np.float64).reshape(flat.shape[0], n_outputs)
    except ValueError:
        pass
    out = np.full((flat.shape[0], n_outputs), np.nan)
    accepted = metrics.valid_mask(flat, atol=1e-3)
    if not accepted.any():
        return out
    try:
        out[accepted] = _to_numpy(judge(flat[accepted])).reshape(-1, n_outputs)
        return out
    except ValueError:
        if not row_fallback:
            raise
    for i in np.flatnonzero(accepted):
        try:
            out[i] = _to_numpy(judge(flat[i : i + 1])).reshape(n_outputs)
        except ValueError:
            pass
    return out


def _generate(model, conditions: np.ndarray, n_per_condition: int, seed: int | None) -> np.ndarray:
    designs = _to_numpy(
        model.generate(np.asarray(conditions, np.float32), n_per_condition, seed=seed)
    )
    expected = (conditions.shape[0], n_per_condition)
    if designs.ndim != 3 or designs.shape[:2] != expected:
        raise UsageError(
            "`model.generate` must return an array of shape (m, n_per_condition, n_elements) = "
            f"({expected[0]}, {expected[1]}, E). Received: shape={designs.shape}",
            field="model",
        )
    return designs.astype(np.float64)


def run_conditions(
    model,
    conditions,
    surrogate,
    oracle: Oracle | None = None,
    n_per_condition: int = 2000,
    seed: int | None = 0,
    name: str = "custom",
    settings=None,
) -> ConditionRun:
    """Generates ``n_per_condition`` designs per condition and judges them.

    Args:
        model: A conditional generator (see module docstring).
        conditions: ``(m, P)`` requested properties, physical units.
        surrogate: The judge (``predict_with_uncertainty``).
        oracle: A ground-truth callable ``(N, E) -> (N, P)`` or None (see `oracle_for`).
        n_per_condition: Samples per condition.
        seed: Seed passed to ``model.generate``.
        name: Name of the run.
        settings: for models trained with measurement settings (``Dataset.setting_names``),
            the mapping name -> value every condition is designed and judged at, in the
            models' order of the settings: the generator is conditioned on the properties
            followed by these values, the surrogate predicts at them.

    Returns:
        A `ConditionRun` (its ``conditions`` are the properties only).
    """
    conditions = np.atleast_2d(np.asarray(conditions, dtype=np.float32))
    n_per_condition = _check_count("n_per_condition", n_per_condition, 1)
    asked = conditions
    if settings:
        held = np.asarray([float(v) for v in dict(settings).values()], np.float32)
        asked = np.concatenate([conditions, np.broadcast_to(held, (len(conditions), held.size))], axis=1)
    designs = _generate(model, asked, n_per_condition, seed)
    mean, std, truth = _judge(designs, surrogate, oracle, conditions.shape[1], settings)
    return ConditionRun(name, conditions, designs, mean, std, truth)


def run_line(
    model, dataset, surrogate, oracle="auto", n_per_condition: int = 2000, n: int = 20, seed=0, settings=None
) -> ConditionRun:
    """The study's line experiment (see `line_conditions`) at `settings` (`run_conditions`);
    returns a `ConditionRun`."""
    return run_conditions(
        model, line_conditions(dataset, n), surrogate, oracle_for(dataset, oracle),
        n_per_condition, seed, name="line", settings=settings,
    )  # fmt: skip


def run_grid(
    model, dataset, surrogate, oracle="auto", n_per_condition: int = 2000, n: int = 5, seed=0
) -> ConditionRun:
    """The study's grid experiment (see `grid_conditions`); returns a `ConditionRun`."""
    return run_conditions(
        model, grid_conditions(dataset, n), surrogate, oracle_for(dataset, oracle),
        n_per_condition, seed, name="grid",
    )  # fmt: skip


def run_novelty(
    model, dataset, surrogate, oracle="auto", n_per_condition: int = 2000, n: int = 100, seed=0
) -> ConditionRun:
    """The study's novelty experiment (see `novelty_conditions`).

    The reference alloys are drawn with ``seed``; generation uses ``seed`` too.

    Returns:
        A `ConditionRun` with ``reference`` and ``reference_index`` set.
    """
    chosen = novelty_conditions(dataset, n, seed)
    run = run_conditions(
        model, chosen.conditions, surrogate, oracle_for(dataset, oracle),
        n_per_condition, seed, name="novelty",
    )  # fmt: skip
    run.reference = chosen.compositions.astype(np.float64)
    run.reference_index = chosen.indices
    return run


def run_samples(
    model, dataset, surrogate, oracle="auto", n_per_condition: int = 10, seed=0,
    low: float = 10.0, high: float = 90.0,
) -> SampleRun:  # fmt: skip
    """A few designs at low and high targets (see `sample_conditions`), for bar charts."""
    run = run_conditions(
        model, sample_conditions(dataset, low, high), surrogate, oracle_for(dataset, oracle),
        n_per_condition, seed, name="samples",
    )  # fmt: skip
    return SampleRun(run.conditions, run.designs, run.surrogate_properties, run.oracle_properties)


def run_interpolation(
    model,
    dataset,
    surrogate,
    oracle="auto",
    condition=None,
    n_steps: int = 11,
    seed: int = 0,
) -> InterpolationRun:
    """Decodes compositions along a straight latent path at a fixed condition.

    ``z0`` and ``z1`` are drawn from N(0, I) with ``seed``; the path is
    ``z(t) = (1 − t)·z0 + t·z1`` for ``t`` evenly spaced in [0, 1], and each point is
    decoded with ``model.decode(z, condition)``.

    Args:
        model: The generator (needs ``decode`` and ``latent_dim``).
        dataset: Sets the default condition (the training median of each property).
        surrogate: The judge.
        oracle: ``"auto"``, None or a callable (see `oracle_for`).
        condition: ``(P,)`` fixed condition in physical units, or None for the median.
        n_steps: Points on the path, ends included.
        seed: Seed of the two latent end points.

    Returns:
        An `InterpolationRun`.
    """
    n_steps = _check_count("n_steps", n_steps, 2)
    latent_dim = _check_count("model.latent_dim", int(model.latent_dim), 1)
    if condition is None:
        condition = np.nanpercentile(_train_properties(dataset), 50.0, axis=0)
    condition = np.asarray(condition, dtype=np.float32).reshape(-1)
    rng = np.random.default_rng(seed)
    z0, z1 = rng.standard_normal((2, latent_dim)).astype(np.float32)
    t = np.linspace(0.0, 1.0, n_steps, dtype=np.float32)
    z = (1.0 - t[:, None]) * z0 + t[:, None] * z1
    conditions = np.tile(condition, (n_steps, 1))
    designs = _to_numpy(model.decode(z, conditions)).astype(np.float64)
    mean, _, truth = _judge(designs, surrogate, oracle_for(dataset, oracle), condition.size)
    return InterpolationRun(condition, z0, z1, t, designs, mean, truth)


# --------------------------------------------------------------------------- metrics


@dataclasses.dataclass
class RunMetrics:
    """The metrics of one `ConditionRun`.

    MAPE values are percentages; everything else fractions (or distances in fraction
    space). ``*_oracle`` fields are None when no oracle applies.

    Attributes:
        name: The run's name.
        n_conditions: ``m``.
        n_per_condition: ``n``.
        property_names: Names of the ``P`` properties.
        mape_surrogate: ``{property: MAPE, ..., "mean": MAPE}`` judged by the surrogate.
        mape_oracle: The same judged by the oracle.
        mape_per_condition_surrogate: ``(m, P)``.
        mape_per_condition_oracle: ``(m, P)`` or None.
        hit_rate_surrogate: ``{"5%": share, "10%": share}`` within tolerance on all properties.
        hit_rate_oracle: The same by the oracle.
        surrogate_oracle_gap: ``{property: gap, "mean": gap}``, surrogate minus oracle MAPE.
        cosine_similarity: Mean within-condition cosine similarity.
        cosine_similarity_per_condition: ``(m,)``.
        novelty: Mean cosine similarity to the reference alloys (novelty run only).
        novelty_per_condition: ``(m,)`` or None.
        validity: Share of valid rows.
        uniqueness: Share of rows unique after rounding to 3 decimals.
        nearest_training: ``{"euclidean_mean", "euclidean_median", "l1_mean",
            "l1_median", "copy_rate"}`` distances to the nearest training composition;
            ``copy_rate`` is the share closer than `COPY_DISTANCE_L1` in L1.
        surrogate_std_mean: ``{property: mean ensemble std}`` — large values flag designs
            outside the surrogate's domain.
    """

    name: str
    n_conditions: int
    n_per_condition: int
    property_names: tuple[str, ...]
    mape_surrogate: dict[str, float]
    mape_oracle: dict[str, float] | None
    mape_per_condition_surrogate: np.ndarray
    mape_per_condition_oracle: np.ndarray | None
    hit_rate_surrogate: dict[str, float]
    hit_rate_oracle: dict[str, float] | None
    surrogate_oracle_gap: dict[str, float] | None
    cosine_similarity: float
    cosine_similarity_per_condition: np.ndarray
    novelty: float | None
    novelty_per_condition: np.ndarray | None
    validity: float
    uniqueness: float
    nearest_training: dict[str, float] | None
    surrogate_std_mean: dict[str, float] | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (arrays as lists, NaN as None)."""
        return _jsonable(dataclasses.asdict(self))


def _named(names, result: metrics.MAPEResult) -> dict[str, float]:
    out = {name: float(v) for name, v in zip(names, result.per_property)}
    out["mean"] = float(result.mean)
    return out


def _hit_rates(achieved, target) -> dict[str, float]:
    return {f"{round(100 * tol)}%": metrics.hit_rate(achieved, target, tol) for tol in HIT_TOLERANCES}


def compute_run_metrics(
    run: ConditionRun,
    property_names=None,
    training_compositions=None,
) -> RunMetrics:
    """Computes every metric of a run.

    Args:
        run: The run.
        property_names: Names of the properties (default ``p0, p1, …``).
        training_compositions: ``(T, E)`` training compositions for the nearest-training
            distance; None skips it.

    Returns:
        A `RunMetrics`.
    """
    m, n, _ = run.designs.shape
    n_properties = run.conditions.shape[1]
    names = tuple(property_names) if property_names is not None else tuple(
        f"p{i}" for i in range(n_properties)
    )
    target = run.conditions.astype(np.float64)
    ape_s = metrics.absolute_percentage_error(run.surrogate_properties, target)
    oracle = run.oracle_properties
    ape_o = None if oracle is None else metrics.absolute_percentage_error(oracle, target)
    cosine = metrics.within_condition_cosine_similarity(run.designs)
    novelty = None if run.reference is None else metrics.novelty(run.designs, run.reference)
    nearest = None
    if training_compositions is not None:
        euclid = metrics.nearest_training_distance(run.designs, training_compositions)
        l1 = metrics.nearest_training_distance(run.designs, training_compositions, "l1")
        nearest = {
            "euclidean_mean": float(euclid.mean()),
            "euclidean_median": float(np.median(euclid)),
            "l1_mean": float(l1.mean()),
            "l1_median": float(np.median(l1)),
            "copy_rate": float((l1 < COPY_DISTANCE_L1).mean()),
        }
    std = run.surrogate_std
    return RunMetrics(
        name=run.name,
        n_conditions=int(m),
        n_per_condition=int(n),
        property_names=names,
        mape_surrogate=_named(names, metrics.mape(run.surrogate_properties, target)),
        mape_oracle=None if oracle is None else _named(names, metrics.mape(oracle, target)),
        mape_per_condition_surrogate=ape_s.mean(axis=1),
        mape_per_condition_oracle=None if ape_o is None else ape_o.mean(axis=1),
        hit_rate_surrogate=_hit_rates(run.surrogate_properties, target),
        hit_rate_oracle=None if oracle is None else _hit_rates(oracle, target),
        surrogate_oracle_gap=None if oracle is None else _named(
            names, metrics.surrogate_oracle_gap(run.surrogate_properties, oracle, target)
        ),
        cosine_similarity=cosine.mean,
        cosine_similarity_per_condition=cosine.per_condition,
        novelty=None if novelty is None else novelty.mean,
        novelty_per_condition=None if novelty is None else novelty.per_condition,
        validity=metrics.validity(run.designs),
        uniqueness=metrics.uniqueness(run.designs),
        nearest_training=nearest,
        surrogate_std_mean=None if std is None else {
            name: float(v) for name, v in zip(names, std.reshape(-1, n_properties).mean(axis=0))
        },
    )  # fmt: skip


# --------------------------------------------------------------------------- evaluation


@dataclasses.dataclass
class GeneratorEvaluation:
    """Everything the protocol measures for one generator.

    The headline numbers (`summary`) follow the study: MAPE and within-condition cosine
    similarity over the *line* conditions, novelty from the novelty run.

    Attributes:
        name: Model name (``"cae"``, ``"cvae"``, ``"wcgan"`` or a user's name).
        elements: Element order of the compositions.
        property_names: Names of the properties.
        property_units: Their units.
        n_per_condition: Samples per condition.
        seed: Seed of the evaluation.
        oracle_used: Whether ground truth was available.
        line, grid, novelty: `RunMetrics` of each experiment.
        runs: The raw `ConditionRun` objects by name (not serialized).
        samples: The `SampleRun` (not serialized).
        interpolation: The `InterpolationRun` (not serialized).
    """

    name: str
    elements: tuple[str, ...]
    property_names: tuple[str, ...]
    property_units: tuple[str, ...]
    n_per_condition: int
    seed: int
    oracle_used: bool
    line: RunMetrics
    grid: RunMetrics
    novelty: RunMetrics
    runs: dict[str, ConditionRun] = dataclasses.field(default_factory=dict, repr=False)
    samples: SampleRun | None = dataclasses.field(default=None, repr=False)
    interpolation: InterpolationRun | None = dataclasses.field(default=None, repr=False)

    def summary(self) -> dict[str, Any]:
        """Headline numbers, as in the study's Tables 1 and 2 plus the extra metrics.

        Returns:
            Dict with ``mape_surrogate`` / ``mape_oracle`` (line, mean over properties, %),
            ``cosine_similarity`` (line) and ``novelty`` (fractions), the hit rates,
            ``validity``, ``uniqueness``, nearest-training distance and the gap, and the
            ``*_reachable`` MAPE and hit rates at the novelty conditions (properties of real
            training alloys, so reachable targets).
        """
        line = self.line
        return {
            "mape_surrogate": line.mape_surrogate["mean"],
            "mape_oracle": None if line.mape_oracle is None else line.mape_oracle["mean"],
            "cosine_similarity": line.cosine_similarity,
            "novelty": self.novelty.novelty,
            "hit_rate_surrogate": line.hit_rate_surrogate,
            "hit_rate_oracle": line.hit_rate_oracle,
            "surrogate_oracle_gap": None
            if line.surrogate_oracle_gap is None
            else line.surrogate_oracle_gap["mean"],
            "validity": min(r.validity for r in (self.line, self.grid, self.novelty)),
            "uniqueness": line.uniqueness,
            "nearest_training_euclidean": None
            if line.nearest_training is None
            else line.nearest_training["euclidean_mean"],
            "copy_rate": None if line.nearest_training is None else line.nearest_training["copy_rate"],
            "mape_surrogate_reachable": self.novelty.mape_surrogate["mean"],
            "mape_oracle_reachable": None
            if self.novelty.mape_oracle is None
            else self.novelty.mape_oracle["mean"],
            "hit_rate_oracle_reachable": self.novelty.hit_rate_oracle,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the metrics (raw designs are left out)."""
        out = {
            "name": self.name,
            "elements": list(self.elements),
            "property_names": list(self.property_names),
            "property_units": list(self.property_units),
            "n_per_condition": self.n_per_condition,
            "seed": self.seed,
            "oracle_used": self.oracle_used,
            "summary": self.summary(),
            "line": self.line.to_dict(),
            "grid": self.grid.to_dict(),
            "novelty": self.novelty.to_dict(),
        }
        if "line" in self.runs:
            out["line"]["conditions"] = self.runs["line"].conditions
        if "grid" in self.runs:
            out["grid"]["conditions"] = self.runs["grid"].conditions
        if "novelty" in self.runs:
            out["novelty"]["reference_index"] = self.runs["novelty"].reference_index
        return _jsonable(out)


def _jsonable(value):
    """Converts arrays, NumPy scalars, tuples and NaN into JSON-safe values."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return None if not math.isfinite(value) else value
    return value


def evaluate_generator(
    model,
    dataset,
    surrogate,
    oracle: Oracle | str | None = "auto",
    n_per_condition: int = 2000,
    seed: int = 0,
    name: str | None = None,
    n_line: int = 20,
    n_grid: int = 5,
    n_novelty: int = 100,
    n_samples: int = 10,
    n_interpolation: int = 11,
    progress: Callable[[str], None] | None = None,
) -> GeneratorEvaluation:
    """Runs the study's whole protocol on one generator.

    Line (``n_line`` conditions), grid (``n_grid × n_grid``) and novelty (``n_novelty``
    training alloys) with ``n_per_condition`` designs each, plus samples at low/high
    targets and a latent interpolation; every design judged by the surrogate and, where
    it applies (see `oracle_for`), by the oracle. Each experiment gets its own seed
    derived from ``seed``, so results do not depend on the order the runs are made.

    Args:
        model: A conditional generator (``generate``, ``decode``, ``latent_dim``).
        dataset: The dataset the generator was trained on.
        surrogate: The judge (``predict_with_uncertainty``).
        oracle: ``"auto"``, None or a callable ``(N, E) -> (N, P)``.
        n_per_condition: Samples per condition (the study uses 2000).
        seed: Base seed.
        name: Name of the model in reports (default: ``model.name`` or the class name).
        n_line: Line conditions.
        n_grid: Grid values per property.
        n_novelty: Novelty alloys.
        n_samples: Designs per condition in the sample bar charts.
        n_interpolation: Points on the latent path.
        progress: Called with a one-line message before each experiment (e.g.
            `hea_zoo.progress.Steps`); None: silent.

    Returns:
        A `GeneratorEvaluation`.

    Example:
        >>> result = evaluate_generator(model, dataset, surrogate)   # doctest: +SKIP
        >>> result.summary()["mape_oracle"]                          # doctest: +SKIP
    """
    oracle_fn = oracle_for(dataset, oracle)
    names = tuple(dataset.property_names)
    training = np.asarray(dataset.train.compositions, dtype=np.float64)
    say = progress or (lambda message: None)
    say(f"line: {n_line} conditions x {n_per_condition} designs")
    runs = {"line": run_line(model, dataset, surrogate, oracle_fn, n_per_condition, n_line, seed)}
    say(f"grid: {n_grid * n_grid} conditions x {n_per_condition} designs")
    runs["grid"] = run_grid(model, dataset, surrogate, oracle_fn, n_per_condition, n_grid, seed + 1)
    say(f"novelty: {n_novelty} training alloys x {n_per_condition} designs")
    runs["novelty"] = run_novelty(model, dataset, surrogate, oracle_fn, n_per_condition, n_novelty, seed + 2)
    say("metrics, samples and latent interpolation")
    results = {key: compute_run_metrics(run, names, training) for key, run in runs.items()}
    samples = run_samples(model, dataset, surrogate, oracle_fn, n_samples, seed + 3)
    interpolation = None
    if hasattr(model, "decode") and hasattr(model, "latent_dim"):
        interpolation = run_interpolation(
            model, dataset, surrogate, oracle_fn, n_steps=n_interpolation, seed=seed + 4
        )
    if name is None:
        name = getattr(model, "name", None) or type(model).__name__
    return GeneratorEvaluation(
        name=str(name),
        elements=tuple(dataset.elements),
        property_names=names,
        property_units=tuple(getattr(dataset, "property_units", ("",) * len(names))),
        n_per_condition=int(n_per_condition),
        seed=int(seed),
        oracle_used=oracle_fn is not None,
        line=results["line"],
        grid=results["grid"],
        novelty=results["novelty"],
        runs=runs,
        samples=samples,
        interpolation=interpolation,
    )


def evaluations_by_name(evaluations) -> dict[str, GeneratorEvaluation]:
    """Normalizes one evaluation, a mapping or a sequence of them to ``{name: evaluation}``.

    Raises:
        ValueError: no evaluation given.
    """
    if isinstance(evaluations, GeneratorEvaluation):
        return {evaluations.name: evaluations}
    if isinstance(evaluations, Mapping):
        out = dict(evaluations)
    else:
        out = {e.name: e for e in evaluations}
    if not out:
        raise UsageError("is empty: pass at least one GeneratorEvaluation.", field="evaluations")
    return out

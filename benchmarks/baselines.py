"""Baselines that answer the same question as the generators, for the design benchmark.

Each baseline has the generators' surface, ``generate(conditions, n_per_condition, seed)
-> (m, n, E)``, so `hea_zoo.evaluation.experiments.run_conditions` judges all of them with the same
protocol code ("equal designs per condition").

- `NearestNeighbourRetrieval`: look the target up in the training data. The training
  alloys nearest to the target in standardized property space (each property minus its
  training mean, over its training standard deviation). ``mode="ranked"`` returns the
  ``n`` nearest distinct alloys, in order of distance, cycling through the whole training
  split again when ``n`` exceeds its size; ``mode="top1"`` repeats the single nearest
  alloy ``n`` times.
- `ScreeningBaseline`: generate-then-filter. A fixed candidate pool is drawn and scored
  once; for each condition the ``n`` candidates with the smallest mean relative error
  ``mean_p |s_p − c_p| / c_p`` between their score ``s`` and the target ``c`` are kept
  (cycling when ``n`` exceeds the pool). The score is the surrogate's prediction (random
  screening; SDV filtered by the surrogate) or the property columns a tabular synthesizer
  sampled together with the composition (SDV filtered by its own columns).
- Pools: `random_dirichlet_pool` (uniform Dirichlet fractions over the element subsets of
  the training alloys) and `sdv_pools` (TVAE and CTGAN from SDV trained on the training
  table of 22 fractions + 2 properties; optional, needs the ``bench`` extra).

The baselines are deterministic given their pool: ``seed`` is accepted for the common
surface and ignored.
"""

from __future__ import annotations

import dataclasses
import time
import warnings

import numpy as np

__all__ = [
    "NearestNeighbourRetrieval",
    "ScreeningBaseline",
    "CandidatePool",
    "random_dirichlet_pool",
    "dirichlet_compositions",
    "sdv_available",
    "sdv_pools",
    "SDV_INSTALL_HINT",
]

SDV_INSTALL_HINT = (
    "the optional `bench` extra is not installed; install it with "
    "`pip install torch==2.13.0 && pip install sdv` (or `pip install -e .[bench]`)"
)


def _check_conditions(conditions, n_properties: int) -> np.ndarray:
    c = np.atleast_2d(np.asarray(conditions, dtype=np.float64))
    if c.ndim != 2 or c.shape[1] != n_properties or c.shape[0] == 0:
        raise ValueError(
            f"`conditions` must have shape (m, {n_properties}). Received: shape={c.shape}"
        )
    return c


def _check_n(n_per_condition) -> int:
    if int(n_per_condition) != n_per_condition or n_per_condition < 1:
        raise ValueError(
            "`n_per_condition` must be a positive integer. "
            f"Received: n_per_condition={n_per_condition!r}"
        )
    return int(n_per_condition)


# --------------------------------------------------------------------------- retrieval


class NearestNeighbourRetrieval:
    """Looks the target up in the training data.

    Args:
        dataset: a `hea_zoo.Dataset`; its train split is the lookup table.
        mode: ``"ranked"`` (the ``n`` nearest distinct alloys, cycling through the train
            split when ``n`` exceeds it) or ``"top1"`` (the nearest alloy, ``n`` times).

    Example:
        >>> nn = NearestNeighbourRetrieval(hea_zoo.load_dataset())   # doctest: +SKIP
        >>> nn.generate([[60.0, 5.0]], 3).shape                       # doctest: +SKIP
        (1, 3, 22)
    """

    def __init__(self, dataset, mode: str = "ranked"):
        if mode not in ("ranked", "top1"):
            raise ValueError(f"`mode` must be 'ranked' or 'top1'. Received: mode={mode!r}")
        self.mode = mode
        train = dataset.train
        self.compositions = np.asarray(train.compositions, dtype=np.float32)
        properties = np.asarray(train.properties, dtype=np.float64)
        self.mean = properties.mean(axis=0)
        self.std = np.where(properties.std(axis=0) > 0, properties.std(axis=0), 1.0)
        self.standardized = (properties - self.mean) / self.std
        self.name = "nearest_neighbour" if mode == "ranked" else "nearest_neighbour_top1"

    def ranking(self, conditions) -> np.ndarray:
        """``(m, T)`` training-row indices sorted by distance to each condition."""
        c = (_check_conditions(conditions, self.standardized.shape[1]) - self.mean) / self.std
        d = ((c[:, None, :] - self.standardized[None, :, :]) ** 2).sum(axis=-1)
        return np.argsort(d, axis=1, kind="stable")

    def generate(self, conditions, n_per_condition: int, seed: int | None = None) -> np.ndarray:
        """``(m, n, E)`` training compositions nearest to each condition (``seed`` unused)."""
        n = _check_n(n_per_condition)
        order = self.ranking(conditions)
        if self.mode == "top1":
            index = np.repeat(order[:, :1], n, axis=1)
        else:
            index = order[:, np.arange(n) % order.shape[1]]
        return self.compositions[index]


# --------------------------------------------------------------------------- screening


@dataclasses.dataclass
class CandidatePool:
    """A scored pool of candidate compositions.

    Attributes:
        name: what the pool is (``"random_dirichlet"``, ``"tvae"``, ``"ctgan"``).
        compositions: ``(N, E)`` float32 valid compositions.
        surrogate_scores: ``(N, P)`` surrogate predictions, physical units.
        sampled_properties: ``(N, P)`` properties the synthesizer sampled with each row,
            or None.
        info: how the pool was made (sizes, times, settings), JSON-ready.
    """

    name: str
    compositions: np.ndarray
    surrogate_scores: np.ndarray
    sampled_properties: np.ndarray | None
    info: dict


class ScreeningBaseline:
    """Generate-then-filter: keeps, per condition, the ``n`` candidates scored nearest.

    Args:
        name: name of the baseline in reports.
        compositions: ``(N, E)`` candidate pool.
        scores: ``(N, P)`` the properties the filter believes each candidate has.
        description: one line for the report.

    The distance of candidate ``j`` to condition ``c`` is ``mean_p |s_jp − c_p| / |c_p|``;
    ties keep the pool order. When ``n > N`` the ranked pool is cycled.
    """

    def __init__(self, name: str, compositions, scores, description: str = ""):
        self.name = name
        self.compositions = np.asarray(compositions, dtype=np.float32)
        self.scores = np.asarray(scores, dtype=np.float64)
        if self.compositions.shape[0] != self.scores.shape[0] or self.compositions.shape[0] == 0:
            raise ValueError(
                "`compositions` and `scores` must have the same, nonzero number of rows. "
                f"Received: {self.compositions.shape[0]} and {self.scores.shape[0]}"
            )
        self.description = description

    def generate(self, conditions, n_per_condition: int, seed: int | None = None) -> np.ndarray:
        """``(m, n, E)`` the best-scored candidates per condition (``seed`` unused)."""
        n = _check_n(n_per_condition)
        c = _check_conditions(conditions, self.scores.shape[1])
        size = self.scores.shape[0]
        out = np.empty((c.shape[0], n, self.compositions.shape[1]), dtype=np.float32)
        for i, target in enumerate(c):
            error = np.mean(np.abs(self.scores - target) / np.abs(target), axis=1)
            error = np.where(np.isfinite(error), error, np.inf)
            k = min(n, size)
            best = np.argpartition(error, k - 1)[:k] if k < size else np.arange(size)
            best = best[np.argsort(error[best], kind="stable")]
            out[i] = self.compositions[best[np.arange(n) % k]]
        return out


class FilteredGenerator:
    """A generator followed by the surrogate filter, as `hea-zoo design` runs it.

    Per condition it draws ``factor * n`` designs from the generator, scores them with
    the surrogate and keeps the ``n`` with the smallest mean relative error to the
    target: the same generate-then-filter step the screening baselines get, with
    candidates that already aim at the target.

    Args:
        name: name in reports.
        model: a generator (``generate``).
        surrogate: the filter (``predict_with_uncertainty``).
        factor: candidates drawn per kept design.
    """

    def __init__(self, name: str, model, surrogate, factor: int = 10):
        self.name = name
        self.model = model
        self.surrogate = surrogate
        self.factor = _check_n(factor)

    def generate(self, conditions, n_per_condition: int, seed: int | None = None) -> np.ndarray:
        """``(m, n, E)``: per condition the best ``n`` of ``factor * n`` generated designs."""
        n = _check_n(n_per_condition)
        c = _check_conditions(conditions, len(self.model.condition_names))
        candidates = np.asarray(self.model.generate(c, n * self.factor, seed=seed))
        m, k, e = candidates.shape
        scores = _score(self.surrogate, candidates.reshape(-1, e)).reshape(m, k, -1)
        out = np.empty((m, n, e), dtype=np.float32)
        for i, target in enumerate(c):
            error = np.mean(np.abs(scores[i] - target) / np.abs(target), axis=1)
            best = np.argsort(np.where(np.isfinite(error), error, np.inf), kind="stable")[:n]
            out[i] = candidates[i, best]
        return out


# --------------------------------------------------------------------------- pools


def _renormalize(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clips negatives to 0 and rescales rows to sum 1; returns (rows, kept mask)."""
    x = np.clip(np.nan_to_num(np.asarray(x, dtype=np.float64), nan=0.0), 0.0, None)
    total = x.sum(axis=1)
    kept = total > 1e-9
    return (x[kept] / total[kept, None]).astype(np.float32), kept


def _score(surrogate, compositions: np.ndarray) -> np.ndarray:
    mean, _ = surrogate.predict_with_uncertainty(compositions)
    return np.asarray(mean, dtype=np.float64)


def dirichlet_compositions(supports, size: int, rng: np.random.Generator, alpha: float = 1.0) -> np.ndarray:
    """``size`` random compositions, each over the element set of a random row of ``supports``.

    Args:
        supports: ``(T, E)`` boolean element sets (the training alloys' ``x > 0``).
        size: number of compositions.
        rng: NumPy generator (the draw is reproducible from its state).
        alpha: symmetric Dirichlet concentration over each chosen set.

    Returns:
        ``(size, E)`` float32 fractions, rows summing to 1.
    """
    supports = np.asarray(supports, dtype=bool)
    chosen = supports[rng.integers(0, supports.shape[0], int(size))]
    gamma = rng.gamma(alpha, 1.0, size=chosen.shape) * chosen
    return (gamma / gamma.sum(axis=1, keepdims=True)).astype(np.float32)


def random_dirichlet_pool(dataset, surrogate, size: int, seed: int = 0, alpha: float = 1.0) -> CandidatePool:
    """Random valid compositions over the element subsets seen in the training data.

    Each candidate takes the element set (support) of a training alloy drawn uniformly
    at random and fractions from a symmetric Dirichlet(``alpha``) over that set.

    Args:
        dataset: the training data (its train split gives the supports).
        surrogate: scores the pool (``predict_with_uncertainty``).
        size: number of candidates.
        seed: seed of the draw.
        alpha: Dirichlet concentration (1: uniform over the simplex of the support).

    Returns:
        A `CandidatePool`.
    """
    start = time.perf_counter()
    supports = np.asarray(dataset.train.compositions) > 0
    compositions = dirichlet_compositions(supports, size, np.random.default_rng(seed), alpha)
    draw_seconds = time.perf_counter() - start
    start = time.perf_counter()
    scores = _score(surrogate, compositions)
    return CandidatePool(
        name="random_dirichlet",
        compositions=compositions,
        surrogate_scores=scores,
        sampled_properties=None,
        info={
            "pool_size": int(size),
            "distinct_supports": int(np.unique(supports, axis=0).shape[0]),
            "alpha": float(alpha),
            "draw_seconds": draw_seconds,
            "score_seconds": time.perf_counter() - start,
        },
    )


def sdv_available() -> tuple[bool, str]:
    """Whether SDV (and torch) import; the reason when not."""
    try:
        import sdv  # noqa: F401
        import torch  # noqa: F401
    except Exception as error:  # ImportError, or a broken install
        return False, f"{SDV_INSTALL_HINT} ({type(error).__name__}: {error})"
    return True, ""


def sdv_pools(
    dataset,
    surrogate,
    size: int,
    seed: int = 0,
    epochs: int = 300,
    batch_size: int = 500,
    synthesizers: tuple[str, ...] = ("tvae", "ctgan"),
    threads: int = 2,
    train_rows: int | None = None,
) -> dict[str, CandidatePool]:
    """Trains SDV synthesizers on the training table and draws scored pools.

    The table has one column per element (atomic fraction) and one per property
    (physical units). Sampled fractions are clipped at 0 and renormalized to sum 1; rows
    whose fractions are all zero are dropped (counted in ``info``).

    Args:
        dataset: the training data (its train split).
        surrogate: scores the pools.
        size: rows sampled per synthesizer.
        seed: seeds torch and NumPy before each fit.
        epochs: training epochs (SDV's default is 300).
        batch_size: SDV batch size (SDV's default 500; must be a multiple of 10 for CTGAN).
        synthesizers: any of ``"tvae"``, ``"ctgan"``.
        threads: torch CPU threads.
        train_rows: learn from this many training alloys drawn at random (seeded by `seed`)
            instead of all of them (None): for smoke runs, whose numbers mean nothing.

    Returns:
        ``{name: CandidatePool}``.

    Raises:
        ImportError: SDV or torch is missing (see `sdv_available`).
    """
    import pandas as pd
    import torch
    from sdv.metadata import Metadata
    from sdv.single_table import CTGANSynthesizer, TVAESynthesizer

    classes = {"tvae": TVAESynthesizer, "ctgan": CTGANSynthesizer}
    torch.set_num_threads(threads)
    train = dataset.train
    elements = list(dataset.elements)
    properties = list(dataset.property_names)
    table_rows = np.hstack([train.compositions, train.properties]).astype(np.float64)
    if train_rows is not None and train_rows < len(table_rows):
        table_rows = table_rows[np.sort(np.random.default_rng(seed).permutation(len(table_rows))[:train_rows])]
    frame = pd.DataFrame(table_rows, columns=elements + properties)
    table = "alloys"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        metadata = Metadata.detect_from_dataframes({table: frame})
    pools = {}
    for name in synthesizers:
        if name not in classes:
            raise ValueError(f"Unknown synthesizer {name!r}. Valid names: {sorted(classes)}")
        torch.manual_seed(seed)
        np.random.seed(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            synthesizer = classes[name](
                metadata, epochs=epochs, batch_size=batch_size, enable_gpu=False,
                enforce_rounding=False,
            )
            start = time.perf_counter()
            synthesizer.fit({table: frame})
            fit_seconds = time.perf_counter() - start
            start = time.perf_counter()
            sampled = synthesizer.sample(size)
            sample_seconds = time.perf_counter() - start
        if isinstance(sampled, dict):
            sampled = sampled[table]
        compositions, kept = _renormalize(sampled[elements].to_numpy())
        sampled_properties = sampled[properties].to_numpy(dtype=np.float64)[kept]
        start = time.perf_counter()
        scores = _score(surrogate, compositions)
        raw_sums = sampled[elements].to_numpy(dtype=np.float64).sum(axis=1)
        pools[name] = CandidatePool(
            name=name,
            compositions=compositions,
            surrogate_scores=scores,
            sampled_properties=sampled_properties,
            info={
                "pool_size": int(compositions.shape[0]),
                "sampled_rows": int(size),
                "training_rows": int(len(frame)),
                "dropped_all_zero_rows": int((~kept).sum()),
                "raw_fraction_sum_mean": float(raw_sums.mean()),
                "raw_fraction_sum_std": float(raw_sums.std()),
                "epochs": int(epochs),
                "batch_size": int(batch_size),
                "fit_seconds": fit_seconds,
                "sample_seconds": sample_seconds,
                "score_seconds": time.perf_counter() - start,
                "sdv_version": __import__("sdv").__version__,
                "torch_version": torch.__version__,
            },
        )
    return pools

"""Forward-optimization peers of `design`, at a fixed budget of surrogate calls per target.

Every method here proposes compositions for one target, judges them *as printed*
(`hea_zoo.artifact.printed_fractions`: traces below 0.5 at.% dropped, renormalized, rounded
to 0.001) with the same exported ONNX surrogate (`SurrogateJudge`, onnxruntime), ranks them
by the design engine's score — the mean over properties of
`hea_zoo.artifact.relative_errors` — and returns its best ``n`` distinct printed
compositions. A *surrogate call* is one composition judged; `SurrogateJudge` counts them, so
the calls reported are measured, never assumed.

- `random_screening`: ``budget`` random compositions, each Dirichlet(1) over the element
  set of a random training alloy (`benchmarks.baselines.dirichlet_compositions`, the draw of
  the screening baseline), all judged, the ``n`` best kept.
- `genetic_algorithm`: pymoo's single-objective GA (tournament selection, SBX crossover,
  polynomial mutation, duplicate elimination: pymoo's defaults) over weights
  ``w ∈ [0, 1]^E``; an element is present when its weight is at least ``WEIGHT_THRESHOLD``
  and the composition is the present weights normalized. The first population takes the
  element sets of random training alloys (weights of absent elements below the threshold),
  so the search starts where random screening draws, and mutation can switch elements on
  and off. Every individual evaluated is one call; the best ``n`` distinct printed
  compositions seen during the whole run are returned. Population and generations per
  budget are `ga_settings` (population × generations = budget, the last generation cut at
  the budget where it does not divide).
- `design_engine`: `hea_zoo.serving.design.Designer.design` with ``candidates = budget``;
  its surrogate calls are its candidates.

The GA needs the optional ``pymoo`` package (`pymoo_available`); without it the benchmark
records the rows as skipped with `PYMOO_INSTALL_HINT`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hea_zoo.artifact import decode_metadata, printed_thousandths, relative_errors

__all__ = [
    "GA_SETTINGS",
    "PYMOO_INSTALL_HINT",
    "WEIGHT_THRESHOLD",
    "PeerResult",
    "SurrogateJudge",
    "best_distinct",
    "design_engine",
    "ga_settings",
    "genetic_algorithm",
    "pymoo_available",
    "random_screening",
]

PYMOO_INSTALL_HINT = (
    "pymoo is not installed; install it with `pip install 'pymoo>=0.6,<0.7'` "
    "(or `pip install -e .[bench]`)"
)

GA_SETTINGS: dict[int, tuple[int, int]] = {1_000: (50, 20), 10_000: (100, 100), 100_000: (250, 400)}
"""Budget -> (population, generations) of the GA; population × generations = budget."""

WEIGHT_THRESHOLD = 0.1
"""GA weights below this leave their element out of the composition."""

_CHUNK = 8_192  # rows per onnxruntime call (cache-sized; see the speed benchmark)
_UNIT = 1000  # printed compositions are integers in thousandths


@dataclasses.dataclass
class PeerResult:
    """The best ``n`` distinct printed designs one method found for one target.

    Attributes:
        designs: ``(k, E)`` float32 printed fractions, best first (``k <= n``).
        scores: ``(k,)`` the surrogate score (mean relative error) of each design.
        surrogate_calls: compositions the method had judged for this target.
        seconds: wall time for this target.
    """

    designs: np.ndarray
    scores: np.ndarray
    surrogate_calls: int
    seconds: float


class SurrogateJudge:
    """The exported ONNX surrogate (onnxruntime), counting every composition it judges.

    Args:
        path: the surrogate's ``.onnx`` file (``exported/surrogate.onnx``).
        scale_floor: per-property floor of the relative error's denominator (the design
            engine uses 1 % of the training-condition range); None: 1e-9.
        threads: onnxruntime intra-op threads (0: onnxruntime's default).

    Attributes:
        calls: compositions judged through `__call__` so far.
    """

    def __init__(self, path: str | Path, scale_floor: Sequence[float] | None = None, threads: int = 0):
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no exported surrogate at {self.path}; export one with `hea-zoo export`.")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = int(threads)
        self._session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self.metadata = decode_metadata(
            dict(self._session.get_modelmeta().custom_metadata_map), source=str(self.path)
        )
        if self.metadata.get("kind") != "surrogate":
            raise ValueError(f"{self.path} is not an exported hea_zoo surrogate (kind={self.metadata.get('kind')!r}).")
        self.elements: list[str] = list(self.metadata["elements"])
        self.property_names: list[str] = list(self.metadata["property_names"])
        self.scale_floor = None if scale_floor is None else np.asarray(scale_floor, dtype=np.float64)
        self.calls = 0

    def predict(self, compositions: np.ndarray) -> np.ndarray:
        """``(N, P)`` float64 surrogate means of ``(N, E)`` compositions, not counted."""
        x = np.ascontiguousarray(compositions, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != len(self.elements):
            raise ValueError(
                f"Expected compositions of shape (N, {len(self.elements)}). Received shape {x.shape}."
            )
        out = np.empty((x.shape[0], len(self.property_names)), dtype=np.float64)
        for start in range(0, x.shape[0], _CHUNK):
            (mean,) = self._session.run(["properties"], {"composition": x[start : start + _CHUNK]})
            out[start : start + _CHUNK] = mean
        return out

    def __call__(self, compositions: np.ndarray) -> np.ndarray:
        """`predict`, counting the rows as surrogate calls."""
        out = self.predict(compositions)
        self.calls += int(out.shape[0])
        return out

    def score(self, predicted: np.ndarray, target: Sequence[float]) -> np.ndarray:
        """The design engine's score: mean over properties of the relative error, ``(N,)``."""
        return relative_errors(predicted, target, self.scale_floor).mean(axis=1)


def best_distinct(thousandths: np.ndarray, scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` best-scored distinct rows (ties: lower index), best first.

    Rows are printed compositions in thousandths; of identical rows the best-scored (then
    the first) is kept. Rows with a non-finite score are left out.
    """
    k = np.asarray(thousandths)
    s = np.asarray(scores, dtype=np.float64)
    finite = np.flatnonzero(np.isfinite(s))
    order = finite[np.argsort(s[finite], kind="stable")]
    if order.size == 0:
        return order
    _, first = np.unique(k[order], axis=0, return_index=True)
    return order[np.sort(first)[:n]]


def _printed(compositions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(thousandths, ok) of raw compositions, as `hea_zoo.artifact.printed_thousandths`."""
    return printed_thousandths(compositions)


def _result(k: np.ndarray, scores: np.ndarray, n: int, calls: int, start: float) -> PeerResult:
    best = best_distinct(k, scores, n)
    return PeerResult(
        designs=(k[best].astype(np.float32) / np.float32(_UNIT)),
        scores=scores[best],
        surrogate_calls=int(calls),
        seconds=time.perf_counter() - start,
    )


# --------------------------------------------------------------------------- random screening


def random_screening(
    judge: SurrogateJudge,
    target: Sequence[float],
    budget: int,
    supports: np.ndarray,
    seed: int = 0,
    n: int = 20,
) -> PeerResult:
    """``budget`` random compositions over training element sets, judged as printed.

    Args:
        judge: the surrogate.
        target: ``(P,)`` target properties, physical units.
        budget: compositions drawn and judged (the surrogate calls).
        supports: ``(T, E)`` boolean element sets of the training alloys.
        seed: seed of the draw.
        n: designs returned.
    """
    from benchmarks.baselines import dirichlet_compositions

    start = time.perf_counter()
    calls_before = judge.calls
    raw = dirichlet_compositions(supports, budget, np.random.default_rng(seed))
    k, ok = _printed(raw)
    k = k[ok]
    scores = judge.score(judge(k.astype(np.float32) / np.float32(_UNIT)), target)
    return _result(k, scores, n, judge.calls - calls_before, start)


# --------------------------------------------------------------------------- genetic algorithm


def pymoo_available() -> tuple[bool, str]:
    """Whether pymoo (0.6.x) imports; the reason when not."""
    try:
        import pymoo  # noqa: F401
        from pymoo.algorithms.soo.nonconvex.ga import GA  # noqa: F401
    except Exception as error:  # ImportError, or a broken install
        return False, f"{PYMOO_INSTALL_HINT} ({type(error).__name__}: {error})"
    return True, ""


def ga_settings(budget: int) -> tuple[int, int]:
    """(population, generations) for a budget: `GA_SETTINGS`, else population ~ sqrt(budget).

    The run stops at the budget: when population × generations exceeds it, the last
    generation is judged only up to the budget.
    """
    budget = int(budget)
    if budget in GA_SETTINGS:
        return GA_SETTINGS[budget]
    population = int(min(max(10, round(np.sqrt(budget))), budget))
    return population, max(1, -(-budget // population))


def _weights_to_compositions(weights: np.ndarray) -> np.ndarray:
    w = np.where(weights >= WEIGHT_THRESHOLD, weights, 0.0)
    total = w.sum(axis=1, keepdims=True)
    return np.divide(w, total, out=np.zeros_like(w), where=total > 0)


def _initial_weights(supports: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Weights over random training element sets: present in [threshold, 1], absent below it."""
    chosen = np.asarray(supports, dtype=bool)[rng.integers(0, supports.shape[0], size)]
    u = rng.random(chosen.shape)
    return np.where(chosen, WEIGHT_THRESHOLD + (1.0 - WEIGHT_THRESHOLD) * u, WEIGHT_THRESHOLD * u)


def genetic_algorithm(
    judge: SurrogateJudge,
    target: Sequence[float],
    budget: int,
    supports: np.ndarray,
    seed: int = 0,
    n: int = 20,
    population: int | None = None,
) -> PeerResult:
    """pymoo's GA minimizing the surrogate score of the printed composition.

    Args:
        judge: the surrogate.
        target: ``(P,)`` target properties.
        budget: surrogate calls allowed (the run stops there; an offspring past the budget
            is not judged).
        supports: ``(T, E)`` boolean element sets of the training alloys (first population).
        seed: seed of pymoo and of the first population.
        n: designs returned (the best distinct printed compositions seen in the run).
        population: population size (default: `ga_settings`).

    Raises:
        ImportError: pymoo is missing (see `pymoo_available`).
    """
    from pymoo.algorithms.soo.nonconvex.ga import GA
    from pymoo.core.problem import Problem
    from pymoo.optimize import minimize

    start = time.perf_counter()
    budget = int(budget)
    pop_size, generations = ga_settings(budget)
    if population is not None:
        pop_size, generations = int(population), max(1, -(-budget // int(population)))
    target = np.asarray(target, dtype=np.float64)
    n_elements = len(judge.elements)
    seen_k: list[np.ndarray] = []
    seen_score: list[np.ndarray] = []
    state = {"calls": 0}

    class _Problem(Problem):
        def __init__(self):
            super().__init__(n_var=n_elements, n_obj=1, xl=0.0, xu=1.0)

        def _evaluate(self, x, out, *args, **kwargs):
            f = np.full(x.shape[0], 1e6)
            k, ok = _printed(_weights_to_compositions(np.asarray(x, dtype=np.float64)))
            rows = np.flatnonzero(ok)[: max(0, budget - state["calls"])]
            if rows.size:
                score = judge.score(judge(k[rows].astype(np.float32) / np.float32(_UNIT)), target)
                state["calls"] += rows.size
                f[rows] = score
                seen_k.append(k[rows])
                seen_score.append(score)
            out["F"] = f[:, None]

    rng = np.random.default_rng(seed)
    algorithm = GA(pop_size=pop_size, sampling=_initial_weights(supports, pop_size, rng), eliminate_duplicates=True)
    minimize(_Problem(), algorithm, ("n_eval", budget), seed=int(seed) % (2**31), verbose=False)
    k = np.concatenate(seen_k) if seen_k else np.zeros((0, n_elements), dtype=np.int32)
    scores = np.concatenate(seen_score) if seen_score else np.zeros(0)
    result = _result(k, scores, n, state["calls"], start)
    result.population, result.generations = pop_size, generations  # type: ignore[attr-defined]
    return result


# --------------------------------------------------------------------------- the design engine


def design_engine(designer, target: Sequence[float], budget: int | None, seed: int = 0, n: int = 20) -> PeerResult:
    """`Designer.design` with ``candidates = budget`` (None: the engine's default), else its defaults.

    The designs are the result table's element columns (printed fractions); the surrogate
    calls are the candidates the engine drew (`DesignResult.n_candidates`): it judges each.
    """
    start = time.perf_counter()
    kwargs: dict[str, Any] = {"n": n, "seed": int(seed)}
    if budget is not None:
        kwargs["candidates"] = int(budget)
    result = designer.design(list(map(float, target)), **kwargs)
    table = result.table
    designs = table[list(designer.elements)].to_numpy(dtype=np.float32)
    return PeerResult(
        designs=designs,
        scores=table["relative_error_surrogate"].to_numpy(dtype=np.float64),
        surrogate_calls=int(result.n_candidates),
        seconds=time.perf_counter() - start,
    )

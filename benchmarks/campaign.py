"""Closed-loop campaigns in simulated labs: hea_zoo's `propose` against the tools a lab would use.

    python benchmarks/run.py --only campaign                    # every task, method and seed (hours)
    python benchmarks/run.py --only campaign --campaign-tasks a --campaign-methods random,rf \\
        --campaign-seeds 0,1,2,3                                # one piece; the cache keeps it
    python benchmarks/run.py --only campaign --campaign-seeds ""  # the report of what is cached

A *lab* labels what a method asks for; a *method* sees only the lab's measurements and
proposes the next batch. Every method gets the same start and batch size per (task, seed).

**Labs.**

- *Oracle lab* (tasks ``a``, ``a_prime``, ``b``, ``c``): any composition over the 22 elements
  can be measured; the measured values are the bundled physics oracle's
  (`hea_zoo.data.oracle.properties`) and the exact descriptors
  (`hea_zoo.data.descriptors.compute_descriptors`) of the composition *as printed*
  (`hea_zoo.artifact.printed_thousandths`: below 0.5 at.% dropped, thousandths). The space
  every method searches: oxygen excluded, 3 to 7 elements. The start: 24 alloys drawn from
  the 529 bundled ones (seeded by the run's seed), none meeting the task's success rule.
  Then 12 rounds of 8: **96 measurements beyond the start** (the start is not counted in any
  number below, for every method).
- *MPEA lab* (tasks ``mpea_hardness``, ``mpea_yield``), pool-based: only the alloys of the
  bundled MPEA table can be measured, and they return their recorded values
  (`load_dataset("mpea", properties=[...], dropna=True)`: room temperature, duplicates merged
  by median; hardness 376 alloys, yield strength 394). The start: 10 % of the pool (38 / 39
  alloys) drawn at random among those outside the target set (the top 1 % of hardness, 4
  alloys; the top 2 % of yield strength, 8 alloys); batch 4, until the first success (or
  `campaign_pool_rounds`).

**Tasks** (success rule in brackets): ``a`` G >= 70 GPa and K >= 50 MPa m^1/2;
``a_prime`` G >= 80 and K >= 50; ``b`` maximize K subject to G >= 60 [K >= 60 at G >= 60];
``c`` G >= 70, K >= 40 and density <= 9 g/cm3; ``mpea_hardness`` [an alloy of the top 1 %
of hardness]; ``mpea_yield`` [top 2 % of yield strength].

**Methods** (`METHODS`):

- ``random``: random 3-7-element alloys (`benchmarks.goals.random_alloys`); in a pool,
  random unmeasured alloys.
- ``rf``: a FUELS-style random-forest sequential learner: scikit-learn's
  `RandomForestRegressor` (`campaign_trees` trees) per property on the measured rows; mean
  and standard deviation across the trees; acquisition = probability of meeting every
  threshold goal (normal approximation per property, product), or expected improvement of
  the objective times the probability of its constraint; exact descriptor goals filter the
  candidates. Candidates: `campaign_candidates` / 2 random alloys plus as many mutations
  of the 8 best measured alloys (fractions scaled, an element swapped, added or removed).
  The batch: greedily the best acquisition, each >= 0.1 from the batch's others in L1,
  never a measured alloy. In a pool: expected improvement over the unmeasured alloys.
- ``botorch``: a `SingleTaskGP` per property set (`Standardize` outcomes, fitted by
  `fit_gpytorch_mll`) on the fractions of the 21 allowed elements. Threshold goals:
  `qLogNoisyExpectedImprovement` of the *smallest goal margin*
  min_i (y_i - t_i) / s_i (s = 10 GPa, 10 MPa m^1/2, 1 g/cm3; the density margin is computed
  exactly from X inside the objective), so a positive objective means every goal is met;
  maximize K at G >= 60: `qLogNoisyExpectedImprovement` of K with the outcome constraint
  G >= 60. Composition on the simplex by normalization: `optimize_acqf` (L-BFGS-B) over
  weights w in [0, 1]^21, the composition w / sum(w) (an equality constraint sum = 1
  needs SLSQP, which took 55 s a round on this machine: 4 restarts x 8 points x 21
  weights in one problem), q = 8 jointly, restarts started from the best random alloys
  and mutations of the measured ones by the acquisition; each point then projected to at most 7 elements (the
  7 largest kept), at least 3, and printed. In a pool: `optimize_acqf_discrete` with
  `qLogNoisyExpectedImprovement` over the unmeasured alloys.
- ``ga``: pymoo 0.6's GA (`benchmarks.goals._pymoo_search`: weights, an element present at
  weight >= 0.1) on a random-forest surrogate's mean (100 trees, measured rows only),
  maximizing the predicted goal attainment (or K with a penalty below G = 60),
  `campaign_ga_evaluations` surrogate calls per round; the batch: the best distinct printed
  compositions it saw, 3-7 elements, >= 0.1 apart in L1, never a measured alloy. In a pool:
  each GA design is replaced by its nearest unmeasured pool alloy (L1).
- ``hea_zoo``: `hea_zoo.campaign.propose(measured, goals=..., maximize=..., batch=...,
  seed=..., elements=..., exclude=("O",), min_elements=3, max_elements=7,
  min_fraction=0.005)` (`HEA_ZOO_MIN_FRACTION`: the lab's space, every element of a
  printed composition at >= 0.5 at.%, as for the peers; `propose`'s own default is the
  design engine's 3 at.%) with its default
  candidate sources (`hea_zoo.campaign.next_batch.DEFAULT_SOURCES`; in a pool: ``pool=``
  the unmeasured alloys); ``hea_zoo_random``: the same with ``sources=("random",)``
  (random candidates, same acquisition: no generator, no mutations, no prior);
  ``hea_zoo_generator``: every source (`hea_zoo.campaign.sources.SOURCES`, the generator
  trained on the measured table included). The last two: oracle tasks only (in a pool the
  pool is the source). Its proposals are measured as they are (`min_elements` bounds its
  random candidates; a mutation may have 2 elements).

No method sees a label other than the lab's measurements of its own campaign.

**Cache.** Each (task, method, seed) campaign is written, when done, to
``<out>/campaign_cache/<task>/<method>/seed<NNN>.json`` with the configuration it ran
under; a later run with the same configuration reads it instead of running it again. The
report covers every cached campaign of the selected tasks and methods (so pieces run one
after the other add up).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
import warnings
from pathlib import Path

import numpy as np

PROPERTIES = ("shear_modulus", "fracture_toughness")
METHODS = ("random", "rf", "botorch", "ga", "hea_zoo", "hea_zoo_random", "hea_zoo_generator")
METHOD_LABELS = {
    "random": "random", "rf": "random forest (FUELS-style)", "botorch": "BoTorch qLogNEI",
    "ga": "pymoo GA on a surrogate", "hea_zoo": "hea_zoo propose", "hea_zoo_random": "hea_zoo, random candidates",
    "hea_zoo_generator": "hea_zoo, with its generator",
}  # fmt: skip
SCALES = {"shear_modulus": 10.0, "fracture_toughness": 10.0, "density": 1.0}
MIN_ELEMENTS, MAX_ELEMENTS = 3, 7
HEA_ZOO_MIN_FRACTION = 0.005
"""The smallest fraction of an element hea_zoo may propose on the oracle lab: the lab's
space (a printed composition keeps every element at >= 0.5 at.%), the space the peers
search. `propose`'s default, the design engine's 3 at.%, would keep hea_zoo out of the
1-3 at.% additions the peers can propose (task b's best alloys hold 1-3 at.% Be)."""
MIN_L1 = 0.1
SYSTEM_THOUSANDTHS = 50  # an element belongs to an alloy's system at >= 5 at.%
CACHE = "campaign_cache"


@dataclasses.dataclass(frozen=True)
class Task:
    name: str
    lab: str  # "oracle" or "mpea"
    summary: str
    goals: tuple[str, ...] = ()  # threshold goals, hea_zoo syntax
    maximize: str | None = None
    success_min: float | None = None  # maximize tasks: success when the objective reaches it
    mpea_property: str | None = None
    top_share: float | None = None


TASKS: dict[str, Task] = {t.name: t for t in (
    Task("a", "oracle", "G >= 70 GPa and K >= 50 MPa m^1/2", ("shear_modulus>=70", "fracture_toughness>=50")),
    Task("a_prime", "oracle", "G >= 80 and K >= 50", ("shear_modulus>=80", "fracture_toughness>=50")),
    Task("b", "oracle", "maximize K subject to G >= 60 (success: K >= 60)", ("shear_modulus>=60",),
         maximize="fracture_toughness", success_min=60.0),
    Task("c", "oracle", "G >= 70, K >= 40 and density <= 9 g/cm3",
         ("shear_modulus>=70", "fracture_toughness>=40", "density<=9")),
    Task("mpea_hardness", "mpea", "MPEA pool: an alloy in the top 1 % of hardness", maximize="hardness",
         mpea_property="hardness", top_share=0.01),
    Task("mpea_yield", "mpea", "MPEA pool: an alloy in the top 2 % of room-temperature yield strength",
         maximize="yield_strength", mpea_property="yield_strength", top_share=0.02),
)}  # fmt: skip


def _goal_list(task: Task) -> list[tuple[str, float, float]]:
    from hea_zoo.serving.design.goals import parse_goal

    out = []
    for text in task.goals:
        g = parse_goal(text)
        out.append((g.name, float(g.lo), float(g.hi)))
    return out


# --------------------------------------------------------------------------- the labs


class OracleLab:
    """Any composition over the 22 elements; the oracle's G and K and the exact density of
    the printed composition."""

    columns = (*PROPERTIES, "density")

    def __init__(self, task: Task):
        from hea_zoo.data.datasets import load_dataset
        from hea_zoo.data.elements import ELEMENTS

        self.task = task
        self.elements = tuple(ELEMENTS)
        self.allowed = np.array([e != "O" for e in self.elements])
        self.goals = _goal_list(task)
        bundled = load_dataset()
        self.bundled_k = _print(np.asarray(bundled.compositions, np.float64))
        self.bundled_values = self.measure(self.bundled_k)

    def measure(self, k: np.ndarray) -> np.ndarray:
        """(n, 3): G, K, density of printed thousandths."""
        from hea_zoo.data import oracle
        from hea_zoo.data.descriptors import compute_descriptors

        x = np.asarray(k, np.float64) / 1000.0
        out = np.full((x.shape[0], 3), np.nan)
        if x.shape[0]:
            ok = oracle.judgeable(x, self.elements)
            out[ok, :2] = oracle.properties(x[ok], self.elements)
            out[:, 2] = compute_descriptors(x, self.elements, ["density"])["density"]
        return out

    def descriptors(self, k: np.ndarray) -> np.ndarray:
        """(n, 1): the exact density of printed thousandths (what a method may compute
        itself: no oracle label)."""
        from hea_zoo.data.descriptors import compute_descriptors

        x = np.asarray(k, np.float64) / 1000.0
        return compute_descriptors(x, self.elements, ["density"])["density"][:, None]

    def success(self, values: np.ndarray) -> np.ndarray:
        v = np.asarray(values, np.float64)
        ok = np.ones(v.shape[0], bool)
        with np.errstate(invalid="ignore"):
            for name, lo, hi in self.goals:
                col = v[:, self.columns.index(name)]
                ok &= (col >= lo) & (col <= hi)
            if self.task.success_min is not None:
                ok &= v[:, self.columns.index(self.task.maximize)] >= self.task.success_min
        return ok

    def value(self, values: np.ndarray) -> np.ndarray:
        """The per-measurement value whose best-so-far is plotted: the goal attainment
        min_i (y_i / t_i for >= goals, t_i / y_i for <= goals) (>= 1 means every goal met),
        or the objective where its constraints hold (NaN elsewhere)."""
        v = np.asarray(values, np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            if self.task.maximize is not None:
                ok = np.ones(v.shape[0], bool)
                for name, lo, hi in self.goals:
                    col = v[:, self.columns.index(name)]
                    ok &= (col >= lo) & (col <= hi)
                return np.where(ok, v[:, self.columns.index(self.task.maximize)], np.nan)
            ratios = []
            for name, lo, hi in self.goals:
                col = v[:, self.columns.index(name)]
                ratios.append(col / lo if np.isfinite(lo) and lo > 0 else hi / col)
            return np.min(np.stack(ratios, axis=1), axis=1)

    def start(self, seed: int, size: int) -> np.ndarray:
        """Indices of `size` bundled alloys, none a success."""
        rng = np.random.default_rng([seed, 28])
        allowed = np.flatnonzero(~self.success(self.bundled_values))
        return np.sort(rng.choice(allowed, size=size, replace=False))


class PoolLab:
    """The MPEA table: only its alloys can be measured; they return their recorded value."""

    def __init__(self, task: Task):
        from hea_zoo.data.datasets import load_dataset

        self.task = task
        data = load_dataset("mpea", properties=[task.mpea_property], dropna=True, verbose=False)
        self.elements = tuple(data.elements)
        self.allowed = np.ones(len(self.elements), bool)
        self.columns = (task.mpea_property,)
        self.k = _print(np.asarray(data.compositions, np.float64))
        self.fractions = np.asarray(data.compositions, np.float64)
        self.formulas = tuple(data.formulas)
        self.values = np.asarray(data.properties, np.float64)[:, :1]
        n_top = max(1, int(math.ceil(task.top_share * len(self.values) - 1e-9)))
        order = np.argsort(-self.values[:, 0], kind="stable")
        self.top = np.zeros(len(self.values), bool)
        self.top[order[:n_top]] = True
        self.threshold = float(self.values[order[n_top - 1], 0])

    def success(self, values: np.ndarray) -> np.ndarray:
        # relative slack 1e-9: the threshold is a float32 value of the table read back
        return np.asarray(values, np.float64)[:, 0] >= self.threshold * (1 - 1e-9)

    def value(self, values: np.ndarray) -> np.ndarray:
        return np.asarray(values, np.float64)[:, 0]

    def start(self, seed: int, share: float) -> np.ndarray:
        rng = np.random.default_rng([seed, 28])
        size = int(round(share * len(self.values)))
        return np.sort(rng.choice(np.flatnonzero(~self.top), size=size, replace=False))


def _print(x: np.ndarray) -> np.ndarray:
    from hea_zoo.artifact import printed_thousandths

    return printed_thousandths(np.asarray(x, np.float64))[0].astype(np.int64)


def _key(k: np.ndarray) -> list[bytes]:
    return [row.tobytes() for row in np.ascontiguousarray(k, dtype=np.int64)]


def _systems_key(k: np.ndarray) -> list[tuple[int, ...]]:
    return [tuple(np.flatnonzero(row >= SYSTEM_THOUSANDTHS)) for row in np.asarray(k)]


# --------------------------------------------------------------------------- composition helpers


def _project(x: np.ndarray, allowed: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rows onto the space: allowed elements only, at most 7 present (the largest kept), at
    least 3 (the next largest raised to 2 at.% when needed), printed thousandths."""
    x = np.where(allowed[None, :], np.clip(np.asarray(x, np.float64), 0, None), 0.0)
    x = x + 1e-12 * rng.random(x.shape) * allowed  # ties: a random order
    order = np.argsort(-x, axis=1)
    ranks = np.argsort(order, axis=1)
    x = np.where(ranks < MAX_ELEMENTS, x, 0.0)
    x = x / x.sum(axis=1, keepdims=True)
    third = np.take_along_axis(x, order[:, MIN_ELEMENTS - 1:MIN_ELEMENTS], axis=1)
    low = (ranks < MIN_ELEMENTS) & (x < 0.02) & (third < 0.02)
    x = np.where(low, 0.02, x)
    x = np.where(x < 0.005, 0.0, x)  # printed like `printed_thousandths` would
    x = x / x.sum(axis=1, keepdims=True)
    return _print(x)


def _random_alloys(allowed: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Random 3-7-element alloys over the allowed elements, Dirichlet(1), printed (the draw of
    `benchmarks.goals.random_alloys`, which excludes oxygen, for any element list)."""
    metals = np.flatnonzero(allowed)
    counts = rng.integers(MIN_ELEMENTS, MAX_ELEMENTS + 1, size)
    keys = rng.random((size, metals.size))
    ranks = np.argsort(np.argsort(keys, axis=1), axis=1)
    chosen = np.zeros((size, allowed.size), bool)
    chosen[:, metals] = ranks < counts[:, None]
    x = rng.gamma(1.0, 1.0, chosen.shape) * chosen
    return _print(x / x.sum(axis=1, keepdims=True))


def _mutations(parents: np.ndarray, size: int, allowed: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`size` mutations of the parent rows (thousandths): fractions scaled by a log-normal
    factor, or an element swapped for an absent one, added (5-25 at.%) or removed."""
    if not len(parents) or size <= 0:
        return np.zeros((0, allowed.size), np.int64)
    x = parents[rng.integers(0, len(parents), size)].astype(np.float64) / 1000.0
    kind = rng.integers(0, 4, size)
    present = x > 0
    scale = np.exp(rng.normal(0.0, 0.35, x.shape))
    x = np.where(kind[:, None] == 0, x * scale, x)
    for i in np.flatnonzero(kind > 0):
        have = np.flatnonzero(present[i])
        absent = np.flatnonzero(allowed & ~present[i])
        if kind[i] == 1 and absent.size:  # swap
            j, e = rng.choice(have), rng.choice(absent)
            x[i, e], x[i, j] = x[i, j], 0.0
        elif kind[i] == 2 and absent.size and have.size < MAX_ELEMENTS:  # add
            x[i, rng.choice(absent)] = rng.uniform(0.05, 0.25)
        elif have.size > MIN_ELEMENTS:  # remove
            x[i, rng.choice(have)] = 0.0
        else:
            x[i] *= np.exp(rng.normal(0.0, 0.35, x.shape[1]))
    return _project(x, allowed, rng)


def _select(k: np.ndarray, score: np.ndarray, n: int, measured: set[bytes], min_l1: float = MIN_L1) -> np.ndarray:
    """Greedy batch: indices of the best scores, each >= `min_l1` from the chosen in L1
    (fractions), never a measured row; topped up without the distance rule when too few."""
    order = np.lexsort((np.arange(len(score)), -np.nan_to_num(score, nan=-np.inf)))
    keys = _key(k)
    chosen: list[int] = []
    seen = set(measured)
    for strict in (True, False):
        for i in order:
            if len(chosen) >= n:
                break
            if keys[i] in seen:
                continue
            if strict and chosen:
                d = np.abs(k[chosen] - k[i]).sum(axis=1) / 1000.0
                if d.min() < min_l1:
                    continue
            chosen.append(int(i))
            seen.add(keys[i])
    return np.array(chosen, np.int64)


def _normal_cdf(z):
    from scipy.special import ndtr

    return ndtr(z)


def _expected_improvement(mean, std, best):
    from scipy.stats import norm

    std = np.maximum(std, 1e-9)
    z = (mean - best) / std
    return (mean - best) * norm.cdf(z) + std * norm.pdf(z)


# --------------------------------------------------------------------------- campaign state


@dataclasses.dataclass
class State:
    task: Task
    lab: object
    k: np.ndarray  # (n, E) thousandths measured
    values: np.ndarray  # (n, P) measured values
    batch: int
    seed: int
    round: int
    settings: object
    pool_index: np.ndarray | None = None  # pool rows not measured yet (pool labs)

    @property
    def elements(self):
        return self.lab.elements

    @property
    def allowed(self):
        return self.lab.allowed

    @property
    def measured_keys(self) -> set[bytes]:
        return set(_key(self.k))

    def rng(self, salt: int = 0) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.round, salt, 2028])


def _oracle_acquisition(state: State, mean: np.ndarray, std: np.ndarray, descriptors: np.ndarray) -> np.ndarray:
    """P(every threshold goal) (normal per property, product; exact descriptor goals 0/1),
    times the expected improvement of the objective when there is one."""
    lab: OracleLab = state.lab
    p = np.ones(mean.shape[0])
    for name, lo, hi in lab.goals:
        if name in PROPERTIES:
            j = PROPERTIES.index(name)
            s = np.maximum(std[:, j], 1e-9)
            p *= _normal_cdf((hi - mean[:, j]) / s) - _normal_cdf((lo - mean[:, j]) / s)
        else:
            col = descriptors[:, lab.columns.index(name) - len(PROPERTIES)]
            with np.errstate(invalid="ignore"):
                p *= ((col >= lo) & (col <= hi)).astype(np.float64)
    if state.task.maximize is None:
        return p
    j = PROPERTIES.index(state.task.maximize)
    feasible = lab.value(state.values)
    if not np.isfinite(feasible).any():
        return p
    return p * _expected_improvement(mean[:, j], std[:, j], np.nanmax(feasible))


def _candidates(state: State, n: int, rng: np.random.Generator) -> np.ndarray:
    """Half random alloys, half mutations of the 8 best measured (by the lab's value)."""
    value = np.nan_to_num(state.lab.value(state.values), nan=-np.inf)
    parents = state.k[np.argsort(-value, kind="stable")[:8]]
    k = np.concatenate([_random_alloys(state.allowed, n - n // 2, rng),
                        _mutations(parents, n // 2, state.allowed, rng)])
    return np.unique(k, axis=0)


def _forest(state: State, trees: int, seed: int):
    from sklearn.ensemble import RandomForestRegressor

    x = state.k.astype(np.float64) / 1000.0
    models = []
    for j in range(min(state.values.shape[1], 2) if state.lab.__class__ is OracleLab else 1):
        y = state.values[:, j]
        ok = np.isfinite(y)
        m = RandomForestRegressor(n_estimators=trees, random_state=seed, n_jobs=1, min_samples_leaf=1)
        m.fit(x[ok], y[ok])
        models.append(m)
    return models


def _forest_predict(models, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    means, stds = [], []
    for m in models:
        per_tree = np.stack([t.predict(x) for t in m.estimators_], axis=0)
        means.append(per_tree.mean(axis=0))
        stds.append(per_tree.std(axis=0))
    return np.stack(means, axis=1), np.stack(stds, axis=1)


# --------------------------------------------------------------------------- the methods


def method_random(state: State) -> np.ndarray:
    rng = state.rng(1)
    if state.pool_index is not None:
        return rng.choice(state.pool_index, size=min(state.batch, state.pool_index.size), replace=False)
    k = _random_alloys(state.allowed, state.batch * 4, rng)
    return k[_select(k, rng.random(len(k)), state.batch, state.measured_keys, min_l1=0.0)]


def method_rf(state: State) -> np.ndarray:
    s = state.settings
    rng = state.rng(2)
    models = _forest(state, s.campaign_trees, seed=state.seed * 1000 + state.round)
    if state.pool_index is not None:
        lab: PoolLab = state.lab
        mean, std = _forest_predict(models, lab.fractions[state.pool_index])
        score = _expected_improvement(mean[:, 0], std[:, 0], np.nanmax(state.values[:, 0]))
        order = np.lexsort((np.arange(score.size), -score))[: state.batch]
        return state.pool_index[order]
    k = _candidates(state, s.campaign_candidates, rng)
    descriptors = state.lab.descriptors(k)
    mean, std = _forest_predict(models, k.astype(np.float64) / 1000.0)
    score = _oracle_acquisition(state, mean, std, descriptors)
    return k[_select(k, score, state.batch, state.measured_keys)]


def _predicted_attainment(state: State, mean: np.ndarray, k: np.ndarray) -> np.ndarray:
    """The lab's value (goal attainment, or the objective with a penalty) of predicted
    properties, exact descriptors computed (the GA's fitness)."""
    lab: OracleLab = state.lab
    values = np.concatenate([mean, lab.descriptors(k)], axis=1)
    if state.task.maximize is None:
        return np.nan_to_num(lab.value(values), nan=-1.0)
    j = PROPERTIES.index(state.task.maximize)
    penalty = np.zeros(len(values))
    for name, lo, hi in lab.goals:
        col = values[:, lab.columns.index(name)]
        penalty += np.clip(lo - col, 0, None) + np.clip(col - hi, 0, None)
    return values[:, j] - 10.0 * penalty


def method_ga(state: State) -> np.ndarray:
    from benchmarks.goals import _pymoo_search

    s = state.settings
    models = _forest(state, 100, seed=state.seed * 1000 + state.round)
    seen_k, seen_f = [], []
    n_el = len(state.elements)
    pool = state.pool_index is not None

    def evaluate(k, ok):
        f = np.full((k.shape[0], 1), 1e6)
        count = (k > 0).sum(axis=1)
        inside = (count >= MIN_ELEMENTS) & (count <= MAX_ELEMENTS) & (k[:, ~state.allowed].sum(axis=1) == 0)
        rows = np.flatnonzero(ok & inside)
        if rows.size:
            mean, _ = _forest_predict(models, k[rows].astype(np.float64) / 1000.0)
            fit = mean[:, 0] if pool else _predicted_attainment(state, mean, k[rows])
            f[rows, 0] = -fit
            seen_k.append(k[rows])
            seen_f.append(fit)
        return f

    supports = state.k >= SYSTEM_THOUSANDTHS
    supports = supports[supports.sum(axis=1) >= 1]
    pop = max(10, int(round(math.sqrt(s.campaign_ga_evaluations))))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _pymoo_search(evaluate, n_el, s.campaign_ga_evaluations, supports, state.seed * 1000 + state.round, 1, pop)
    rng = state.rng(4)
    if not seen_k:
        return method_random(state)
    k = np.concatenate(seen_k)
    f = np.concatenate(seen_f)
    if pool:
        lab: PoolLab = state.lab
        order = np.argsort(-f, kind="stable")
        free = list(state.pool_index)
        chosen = []
        for i in order:
            if len(chosen) >= state.batch or not free:
                break
            d = np.abs(lab.fractions[free] - k[i] / 1000.0).sum(axis=1)
            j = int(np.argmin(d))
            chosen.append(free.pop(j))
        return np.array(chosen, np.int64)
    k, first = np.unique(k, axis=0, return_index=True)
    chosen = _select(k, f[first], state.batch, state.measured_keys)
    out = k[chosen]
    if len(out) < state.batch:
        extra = _random_alloys(state.allowed, 4 * state.batch, rng)
        out = np.concatenate([out, extra[: state.batch - len(out)]])
    return out


def _on_simplex(acq):
    """The acquisition over weights w in [0, 1]^d of the composition w / sum(w) (the
    normalization parametrization of the simplex: L-BFGS-B on a box, no equality
    constraint)."""
    from botorch.acquisition import AcquisitionFunction

    class OnSimplex(AcquisitionFunction):
        def __init__(self, base):
            super().__init__(model=base.model)
            self.base = base

        def forward(self, X):
            return self.base(X / X.sum(-1, keepdim=True).clamp_min(1e-12))

    return OnSimplex(acq)


def method_botorch(state: State) -> np.ndarray:
    import torch
    from botorch.acquisition.logei import qLogNoisyExpectedImprovement
    from botorch.acquisition.objective import GenericMCObjective
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from botorch.optim import optimize_acqf, optimize_acqf_discrete
    from gpytorch.mlls import ExactMarginalLogLikelihood

    s = state.settings
    # One thread: on a shared machine torch's default thread pool makes a 24-point GP fit
    # 16x slower (measured: 172 s against 11 s at a load of 9 on 2 cores).
    torch.set_num_threads(1)
    torch.manual_seed(state.seed * 1000 + state.round)
    dtype = torch.float64
    allowed = np.flatnonzero(state.allowed)
    pool = state.pool_index is not None
    x_np = state.k[:, allowed].astype(np.float64) / 1000.0
    if pool:
        y_np = state.values[:, :1]
    else:
        y_np = state.values[:, :2]
    ok = np.all(np.isfinite(y_np), axis=1)
    train_x = torch.tensor(x_np[ok], dtype=dtype)
    train_y = torch.tensor(y_np[ok], dtype=dtype)
    model = SingleTaskGP(train_x, train_y, outcome_transform=Standardize(m=train_y.shape[-1]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))

    if pool:
        lab: PoolLab = state.lab
        acq = qLogNoisyExpectedImprovement(model, X_baseline=train_x, prune_baseline=True, cache_root=False)
        choices = torch.tensor(lab.fractions[state.pool_index][:, allowed], dtype=dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            chosen, _ = optimize_acqf_discrete(acq, q=min(state.batch, len(choices)), choices=choices, unique=True)
        # back to pool rows (exact match of the chosen rows)
        out = []
        for row in chosen.numpy():
            d = np.abs(lab.fractions[state.pool_index][:, allowed] - row).sum(axis=1)
            for j in np.argsort(d, kind="stable"):
                if state.pool_index[j] not in out:
                    out.append(int(state.pool_index[j]))
                    break
        return np.array(out, np.int64)

    lab: OracleLab = state.lab
    goals = lab.goals
    from hea_zoo.data.descriptors import DescriptorTable

    table = DescriptorTable(lab.elements)
    mass = torch.tensor(np.nan_to_num(table.values["atomic_mass"][allowed]), dtype=dtype)
    rho = torch.tensor(np.nan_to_num(table.values["density"][allowed], nan=1.0), dtype=dtype)

    def density(x):  # rule-of-mixtures density of the (unprinted) fractions
        return (x * mass).sum(-1) / (x * mass / rho).sum(-1).clamp_min(1e-9)

    constraints = None
    if state.task.maximize is None:
        def margin(samples, X=None):
            parts = []
            for name, lo, hi in goals:
                if name in PROPERTIES:
                    z = samples[..., PROPERTIES.index(name)]
                else:
                    z = density(X).expand(samples.shape[:-1])
                sc = SCALES[name]
                parts.append((z - lo) / sc if np.isfinite(lo) else (hi - z) / sc)
            return torch.stack(parts, dim=-1).min(dim=-1).values

        objective = GenericMCObjective(margin)
    else:
        j = PROPERTIES.index(state.task.maximize)
        objective = GenericMCObjective(lambda samples, X=None: samples[..., j])
        constraints = []
        for name, lo, hi in goals:
            i = PROPERTIES.index(name)
            if np.isfinite(lo):
                constraints.append(lambda Z, i=i, lo=lo: lo - Z[..., i])
            if np.isfinite(hi):
                constraints.append(lambda Z, i=i, hi=hi: Z[..., i] - hi)
    acq = qLogNoisyExpectedImprovement(model, X_baseline=train_x, objective=objective, constraints=constraints,
                                       prune_baseline=True, cache_root=False)  # fmt: skip
    # Starting points: the best of random alloys and mutations by the acquisition (one point each).
    rng = state.rng(3)
    raw = _candidates(state, s.campaign_botorch_raw, rng)
    raw_x = torch.tensor(raw[:, allowed].astype(np.float64) / 1000.0, dtype=dtype)
    with torch.no_grad():
        single = torch.cat([acq(raw_x[i:i + 256].unsqueeze(1)) for i in range(0, len(raw_x), 256)])
    top = torch.argsort(single, descending=True)
    starts = []
    for r in range(s.campaign_botorch_restarts):
        idx = top[r * state.batch:(r + 1) * state.batch]
        if len(idx) < state.batch:
            idx = top[torch.randint(0, len(top), (state.batch,))]
        starts.append(raw_x[idx])
    d = len(allowed)
    bounds = torch.stack([torch.zeros(d, dtype=dtype), torch.ones(d, dtype=dtype)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w, _ = optimize_acqf(_on_simplex(acq), bounds=bounds, q=state.batch, num_restarts=len(starts),
                             batch_initial_conditions=torch.stack(starts),
                             options={"maxiter": s.campaign_botorch_iterations})  # fmt: skip
    x = w / w.sum(-1, keepdim=True).clamp_min(1e-12)
    full = np.zeros((state.batch, len(lab.elements)))
    full[:, allowed] = x.detach().numpy()
    k = _project(full, state.allowed, rng)
    # a repeat of a measured alloy or of the batch: the next best raw point instead
    keys, seen, out = _key(k), state.measured_keys, []
    for i, key in enumerate(keys):
        if key not in seen:
            out.append(k[i])
            seen.add(key)
    for i in top.numpy():
        if len(out) >= state.batch:
            break
        key = raw[i].tobytes()
        if key not in seen:
            out.append(raw[i])
            seen.add(key)
    return np.stack(out[: state.batch])


def _frame(state: State, k: np.ndarray | None = None, rows: np.ndarray | None = None):
    """The measured table as a lab keeps it: formulas and property columns."""
    import pandas as pd

    from hea_zoo.data.composition import to_formulas

    if rows is not None:
        return pd.DataFrame({"composition": [state.lab.formulas[i] for i in rows]})
    k = state.k if k is None else k
    formulas = to_formulas(k.astype(np.float64) / 1000.0, state.elements)
    frame = pd.DataFrame({"composition": formulas})
    for j, name in enumerate(state.lab.columns[: state.values.shape[1]]):
        if name in PROPERTIES or name == state.task.mpea_property:
            frame[name] = state.values[:, j]
    return frame


def _hea_zoo(state: State, sources) -> np.ndarray:
    from hea_zoo.campaign import propose

    kwargs = {"batch": state.batch, "seed": state.seed * 1000 + state.round}
    if sources is not None:
        kwargs["sources"] = sources
    if state.pool_index is not None:
        lab: PoolLab = state.lab
        measured_rows = np.setdiff1d(np.arange(len(lab.values)), state.pool_index)
        data = _frame(state, rows=measured_rows)
        data[state.task.mpea_property] = lab.values[measured_rows, 0]
        p = propose(data, goals=(), maximize=state.task.maximize, properties=[state.task.mpea_property],
                    pool=_frame(state, rows=state.pool_index), elements=list(lab.elements), **kwargs)  # fmt: skip
        got = np.asarray(p.compositions, np.float64)
        order = [list(p.elements).index(e) if e in p.elements else -1 for e in lab.elements]
        x = np.stack([got[:, i] if i >= 0 else np.zeros(len(got)) for i in order], axis=1)
        out = []
        for row in x:
            d = np.abs(lab.fractions[state.pool_index] - row).sum(axis=1)
            for j in np.argsort(d, kind="stable"):
                if int(state.pool_index[j]) not in out:
                    out.append(int(state.pool_index[j]))
                    break
        return np.array(out[: state.batch], np.int64)
    data = _frame(state)
    props = list(PROPERTIES)
    p = propose(data, goals=tuple(g for g in state.task.goals), maximize=state.task.maximize, properties=props,
                elements=list(state.elements), exclude=("O",), min_elements=MIN_ELEMENTS,
                max_elements=MAX_ELEMENTS, min_fraction=HEA_ZOO_MIN_FRACTION, **kwargs)  # fmt: skip
    got = np.asarray(p.compositions, np.float64)
    x = np.zeros((got.shape[0], len(state.elements)))
    for j, e in enumerate(p.elements):
        x[:, state.elements.index(e)] = got[:, j]
    return _print(x)


def method_hea_zoo(state: State) -> np.ndarray:
    return _hea_zoo(state, None)


def method_hea_zoo_random(state: State) -> np.ndarray:
    return _hea_zoo(state, ("random",))


def method_hea_zoo_generator(state: State) -> np.ndarray:
    from hea_zoo.campaign.sources import SOURCES

    return _hea_zoo(state, tuple(SOURCES))


PROPOSERS = {"random": method_random, "rf": method_rf, "botorch": method_botorch, "ga": method_ga,
             "hea_zoo": method_hea_zoo, "hea_zoo_random": method_hea_zoo_random,
             "hea_zoo_generator": method_hea_zoo_generator}  # fmt: skip


def available(method: str, task: Task) -> str | None:
    """None when the method can run on the task, else the reason it is skipped."""
    import importlib.util

    if method in ("hea_zoo_random", "hea_zoo_generator") and task.lab == "mpea":
        return "not applicable: in a pool, the pool is the candidate source"
    needs = {"rf": ("sklearn",), "ga": ("sklearn", "pymoo"), "botorch": ("botorch", "torch")}.get(method, ())
    missing = [m for m in needs if importlib.util.find_spec(m) is None]
    if missing:
        return f"needs {', '.join(missing)} (pip install -e \".[bench]\")"
    if method.startswith("hea_zoo"):
        try:
            from hea_zoo.campaign import propose  # noqa: F401
        except ImportError as error:
            return f"hea_zoo.campaign.propose is not available ({error})"
    return None


# --------------------------------------------------------------------------- one campaign


def config(task: Task, settings, method: str | None = None) -> dict:
    """What a campaign depends on besides method and seed (the cache key); hea_zoo's
    methods also on the campaign learner's settings (`LEARNER_DEFAULTS`)."""
    if task.lab == "oracle":
        c = {"start": settings.campaign_start, "batch": settings.campaign_batch, "rounds": settings.campaign_rounds}
    else:
        c = {"start_share": settings.campaign_pool_start, "batch": settings.campaign_pool_batch,
             "rounds": settings.campaign_pool_rounds}  # fmt: skip
    c.update(candidates=settings.campaign_candidates, trees=settings.campaign_trees,
             botorch=[settings.campaign_botorch_restarts, settings.campaign_botorch_raw,
                      settings.campaign_botorch_iterations],
             ga=settings.campaign_ga_evaluations, task=dataclasses.asdict(task))  # fmt: skip
    if method is not None and method.startswith("hea_zoo"):
        from hea_zoo.campaign.learner import LEARNER_DEFAULTS

        changed = {k: v for k, v in LEARNER_DEFAULTS.items() if _CACHED_LEARNER.get(k, _UNSET) != v}
        if changed:  # a learner unlike the one the stored campaigns ran with: a new key
            c["learner"] = changed
        if task.lab == "oracle":
            c["min_fraction"] = HEA_ZOO_MIN_FRACTION
    return c


_UNSET = object()
_CACHED_LEARNER = {
    "members": 4, "folds": 5, "hidden_units": (64, 64), "activation": "silu", "learning_rate": 5e-3, "steps": 300,
    "descriptors": ("valence_electrons", "atomic_radius", "melting_point"), "distance_intervals": False,
}  # fmt: skip
"""The campaign learner's settings the stored hea_zoo campaigns ran with (their cache key
names only the settings that differ from these)."""


def run_campaign(task: Task, method: str, seed: int, settings, lab=None) -> dict:
    """One campaign: the start, then rounds of the method's batches measured by the lab."""
    lab = lab or (OracleLab(task) if task.lab == "oracle" else PoolLab(task))
    propose = PROPOSERS[method]
    if task.lab == "oracle":
        start = lab.start(seed, settings.campaign_start)
        k, values = lab.bundled_k[start], lab.bundled_values[start]
        batch, rounds, pool_index = settings.campaign_batch, settings.campaign_rounds, None
    else:
        start = lab.start(seed, settings.campaign_pool_start)
        k, values = lab.k[start], lab.values[start]
        batch, rounds = settings.campaign_pool_batch, settings.campaign_pool_rounds
        pool_index = np.setdiff1d(np.arange(len(lab.values)), start)
        rounds = rounds if rounds is not None else int(math.ceil(pool_index.size / batch))
    n_start = len(k)
    seconds, repeats = [], 0
    for r in range(rounds):
        state = State(task, lab, k, values, batch, seed, r, settings, pool_index)
        began = time.perf_counter()
        chosen = propose(state)
        seconds.append(time.perf_counter() - began)
        if pool_index is not None:
            chosen = np.asarray(chosen, np.int64)[:batch]
            new_k, new_values = lab.k[chosen], lab.values[chosen]
            pool_index = np.setdiff1d(pool_index, chosen)
        else:
            new_k = _print(np.asarray(chosen, np.float64) / 1000.0)[:batch]
            new_values = lab.measure(new_k)
            measured = state.measured_keys
            repeats += sum(key in measured for key in _key(new_k))
        k, values = np.concatenate([k, new_k]), np.concatenate([values, new_values])
        if pool_index is not None and (lab.success(new_values).any() or pool_index.size == 0):
            break
    new = slice(n_start, None)
    return {
        "task": task.name, "method": method, "seed": int(seed), "start": int(n_start),
        "k": k[new].tolist(), "values": values[new].tolist(),
        "start_best": _nanmax(lab.value(values[:n_start])),
        "round_seconds": [round(x, 3) for x in seconds], "repeats": int(repeats),
    }  # fmt: skip


def _nanmax(v) -> float | None:
    v = np.asarray(v, np.float64)
    return float(np.nanmax(v)) if np.isfinite(v).any() else None


def _cache_path(out: Path, task: str, method: str, seed: int) -> Path:
    return Path(out) / CACHE / task / method / f"seed{seed:03d}.json"


def _config_hash(c: dict) -> str:
    return hashlib.sha256(json.dumps(c, sort_keys=True, default=str).encode()).hexdigest()[:16]


def cached(out: Path, task: Task, method: str, seed: int, settings) -> dict | None:
    path = _cache_path(out, task.name, method, seed)
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if record.get("config") == _config_hash(config(task, settings, method)) else None


CODE = ("hea_zoo/campaign", "hea_zoo/models/surrogate", "hea_zoo/models/base.py", "hea_zoo/models/calibration.py",
        "hea_zoo/models/defaults.py", "hea_zoo/data", "hea_zoo/serving/design", "hea_zoo/serving/constraints.py",
        "hea_zoo/artifact.py", "hea_zoo/constants.py")  # fmt: skip
"""The hea_zoo code a proposal depends on (relative to the repository): its fingerprint is
stored with every hea_zoo campaign, and the report says how many seeds ran on other code."""


def code_fingerprint(root: Path | None = None) -> str:
    """The fingerprint of `CODE` (`benchmarks.run.code_fingerprint`)."""
    from benchmarks.run import code_fingerprint as fingerprint

    return fingerprint(CODE, root)


def store(out: Path, record: dict, task: Task, settings) -> None:
    from hea_zoo.files import write_text

    record = dict(record, config=_config_hash(config(task, settings, record["method"])))
    if record["method"].startswith("hea_zoo"):
        record["code"] = code_fingerprint()
    path = _cache_path(out, task.name, record["method"], record["seed"])
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(record) + "\n")


def all_cached(out: Path, task: Task, method: str, settings) -> list[dict]:
    folder = Path(out) / CACHE / task.name / method
    records = []
    for path in sorted(folder.glob("seed*.json")) if folder.is_dir() else []:
        r = cached(out, task, method, int(path.stem[4:]), settings)
        if r is not None:
            records.append(r)
    return records


# --------------------------------------------------------------------------- metrics


def campaign_metrics(record: dict, lab) -> dict:
    """Per campaign: measurements to the first success and to successes in 3 distinct
    systems (1-based, beyond the start; None when not reached), successes, best-so-far."""
    k = np.asarray(record["k"], np.int64).reshape(-1, len(lab.elements))
    values = np.asarray(record["values"], np.float64).reshape(len(k), -1)
    ok = lab.success(values) if len(k) else np.zeros(0, bool)
    first = int(np.argmax(ok)) + 1 if ok.any() else None
    systems, third = set(), None
    for i in np.flatnonzero(ok):
        systems.add(_systems_key(k[i:i + 1])[0])
        if len(systems) >= 3:
            third = int(i) + 1
            break
    value = lab.value(values) if len(k) else np.zeros(0)
    start = record["start_best"]
    best = np.fmax.accumulate(np.concatenate([[np.nan if start is None else start], value]))[1:]
    return {"first": first, "three_systems": third, "successes": int(ok.sum()), "measured": int(len(k)),
            "best": [None if not np.isfinite(b) else float(b) for b in best]}  # fmt: skip


def _summary(xs: list, budget: int) -> dict:
    """Median, mean, quartiles and share reached of measurements-to-success (None = not
    reached within `budget`: counted as more than the budget; the mean over all seeds is
    then a lower bound)."""
    n = len(xs)
    reached = [x for x in xs if x is not None]
    if not n:
        return {"seeds": 0}
    # a seed that did not succeed counts as "more than the budget" (a huge sentinel): a
    # quantile that reaches it is not known, None
    filled = np.array([x if x is not None else 1e12 for x in xs], np.float64)
    q25, median, q75 = (float(v) if v <= budget else math.inf for v in np.percentile(filled, [25, 50, 75]))
    censored = np.where(filled <= budget, filled, budget)
    return {"seeds": n, "reached": len(reached), "share": len(reached) / n,
            "median": median if math.isfinite(median) else None, "q25": q25 if math.isfinite(q25) else None,
            "q75": q75 if math.isfinite(q75) else None, "mean_reached": float(np.mean(reached)) if reached else None,
            "mean": float(censored.mean()), "mean_is_lower_bound": len(reached) < n,
            "values": xs}  # fmt: skip


def random_reference(task: Task, lab, p_success: float | None, n_start: int) -> dict:
    """What random selection needs, exactly: measurements to the first success.

    Oracle lab: a success has probability p per random alloy (the facts' draw), so the
    count is geometric: mean 1/p, median ceil(ln 0.5 / ln(1 - p)); successes expected by n
    measurements: n p. Pool: drawing without replacement from N unmeasured alloys of
    which M succeed, P(T > t) = C(N - M, t) / C(N, t), mean (N + 1) / (M + 1)."""
    if task.lab == "oracle":
        if not p_success:
            return {"p": p_success, "mean": None, "median": None}
        return {"p": p_success, "mean": 1.0 / p_success,
                "median": math.ceil(math.log(0.5) / math.log1p(-p_success))}  # fmt: skip
    n = len(lab.values) - n_start
    m = int(lab.top.sum())
    survive, t = 1.0, 0
    while survive > 0.5:
        survive *= (n - m - t) / (n - t)
        t += 1
    return {"pool": n, "targets": m, "mean": (n + 1) / (m + 1), "median": t}


def random_p_first_by(task: Task, lab, reference: dict, n: int) -> float:
    """P(random's first success within n measurements)."""
    if task.lab == "oracle":
        p = reference.get("p") or 0.0
        return 1.0 - (1.0 - p) ** n
    survive = 1.0
    pool, m = reference["pool"], reference["targets"]
    for t in range(min(n, pool - m)):
        survive *= (pool - m - t) / (pool - t)
    return 1.0 - survive


# --------------------------------------------------------------------------- facts


def facts(settings) -> dict:
    """The issue's numbers, measured: training alloys meeting each oracle task, the share of
    random 3-7-element alloys meeting it, the best K at G >= 60 among them."""
    from benchmarks.goals import random_alloys

    out = {"random_alloys": int(settings.campaign_facts), "tasks": {}}
    labs = {}
    for task in TASKS.values():
        if task.lab != "oracle":
            continue
        lab = labs.setdefault("oracle", OracleLab(task))
        lab.task, lab.goals = task, _goal_list(task)
        if "random" not in labs:
            k = random_alloys(lab.elements, settings.campaign_facts, np.random.default_rng(settings.seed))
            labs["random"] = lab.measure(k)
        random_values = labs["random"]
        bundled = lab.success(lab.bundled_values)
        out["tasks"][task.name] = {"bundled_meeting": int(bundled.sum()), "bundled": int(len(bundled)),
                                   "random_share": float(lab.success(random_values).mean())}  # fmt: skip
        if task.maximize:
            best = lab.value(random_values)
            out["tasks"][task.name]["random_best"] = _nanmax(best)
            out["tasks"][task.name]["bundled_best"] = _nanmax(lab.value(lab.bundled_values))
    for task in TASKS.values():
        if task.lab == "mpea":
            lab = PoolLab(task)
            out["tasks"][task.name] = {"pool": int(len(lab.values)), "targets": int(lab.top.sum()),
                                       "threshold": lab.threshold}  # fmt: skip
    return out


def _cached_facts(out: Path, settings) -> dict:
    """`facts`, read from the cache folder when measured before with the same draw."""
    from hea_zoo.files import write_text

    path = Path(out) / CACHE / f"facts_{settings.campaign_facts}_{settings.seed}.json"
    if path.exists():
        try:
            return json.loads(path.read_text())
        except ValueError:
            pass
    fact = facts(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(fact) + "\n")
    return fact


# --------------------------------------------------------------------------- the study


def run(settings, context) -> dict:
    """The study (``python benchmarks/run.py --only campaign``)."""
    unknown = sorted(set(settings.campaign_tasks) - set(TASKS)) + sorted(set(settings.campaign_methods) - set(METHODS))
    if unknown:
        from hea_zoo.errors import UsageError

        raise UsageError(f"unknown {unknown}; tasks: {list(TASKS)}, methods: {list(METHODS)}", field="campaign")
    out = Path(context.out)
    began = time.perf_counter()
    fact = _cached_facts(out, settings)
    print(f"[campaign] facts: {json.dumps(fact['tasks'])}", flush=True)
    tasks = [TASKS[t] for t in settings.campaign_tasks]
    results, skipped, ran = {}, {}, []
    for task in tasks:
        lab = OracleLab(task) if task.lab == "oracle" else PoolLab(task)
        for method in settings.campaign_methods:
            reason = available(method, task)
            if reason:
                skipped[f"{task.name}/{method}"] = reason
                print(f"[campaign] {task.name} {method}: skipped ({reason})", flush=True)
                continue
            for seed in settings.campaign_seeds:
                if cached(out, task, method, seed, settings) is not None:
                    continue
                t0 = time.perf_counter()
                try:
                    record = run_campaign(task, method, seed, settings, lab)
                except ImportError as error:  # e.g. a candidate source this hea_zoo does not have
                    if not method.startswith("hea_zoo"):
                        raise
                    skipped[f"{task.name}/{method}"] = f"{type(error).__name__}: {error}"
                    print(f"[campaign] {task.name} {method}: skipped ({error})", flush=True)
                    break
                store(out, record, task, settings)
                m = campaign_metrics(record, lab)
                ran.append({"task": task.name, "method": method, "seed": seed, "seconds": time.perf_counter() - t0})
                print(f"[campaign] {task.name} {method} seed {seed}: first success {m['first']}, "
                      f"successes {m['successes']}, {time.perf_counter() - t0:.1f} s "
                      f"({np.mean(record['round_seconds']):.2f} s per round)", flush=True)  # fmt: skip
        results[task.name] = summarize(task, lab, out, settings, fact)
    figure = _figure(results, out, settings) if any(r["methods"] for r in results.values()) else None
    return {"facts": fact, "tasks": results, "skipped": skipped, "ran": ran, "figure": figure,
            "seconds_this_run": time.perf_counter() - began}  # fmt: skip


def _code_counts(records: list[dict]) -> dict:
    """Seeds run on the current hea_zoo code, on other code, and before fingerprints were kept."""
    from benchmarks.run import code_counts

    return code_counts(records, code_fingerprint())


def summarize(task: Task, lab, out: Path, settings, fact: dict) -> dict:
    if task.lab == "oracle":
        budget = settings.campaign_batch * settings.campaign_rounds
        n_start = settings.campaign_start
    else:
        budget = None
        n_start = int(round(settings.campaign_pool_start * len(lab.values)))
    p = fact["tasks"][task.name].get("random_share") if task.lab == "oracle" else None
    reference = random_reference(task, lab, p, n_start)
    methods = {}
    for method in settings.campaign_methods:
        records = all_cached(out, task, method, settings)
        if not records:
            continue
        metrics = [campaign_metrics(r, lab) for r in records]
        b = budget if budget is not None else max(m["measured"] for m in metrics)
        first = _summary([m["first"] for m in metrics], b)
        third = _summary([m["three_systems"] for m in metrics], b)
        curves = [m["best"] for m in metrics]
        length = max(len(c) for c in curves)
        grid = np.full((len(curves), length), np.nan)
        for i, c in enumerate(curves):
            row = np.array([np.nan if v is None else v for v in c], np.float64)
            grid[i, : len(row)] = row
            if len(row) < length and len(row):  # a pool campaign that stopped: best stays
                grid[i, len(row):] = row[-1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            median_curve = np.nanmedian(grid, axis=0)
            q25_curve, q75_curve = np.nanpercentile(grid, 25, axis=0), np.nanpercentile(grid, 75, axis=0)
        entry = {
            "seeds": [r["seed"] for r in records], "first": first, "three_systems": third,
            "successes_mean": float(np.mean([m["successes"] for m in metrics])),
            "best_final": _stats([c[-1] if c else None for c in curves]),
            "curve": {"median": _list(median_curve), "q25": _list(q25_curve), "q75": _list(q75_curve)},
            "round_seconds": float(np.mean([s for r in records for s in r["round_seconds"]] or [math.nan])),
            "code": _code_counts(records) if method.startswith("hea_zoo") else None,
            "repeats": int(sum(r.get("repeats", 0) for r in records)),
        }  # fmt: skip
        # acceleration: random's measurements to the first success over the method's
        if reference.get("median") and first.get("median"):
            entry["acceleration_median"] = reference["median"] / first["median"]
        if reference.get("mean") and first.get("mean") and not first["mean_is_lower_bound"]:
            entry["acceleration_mean"] = reference["mean"] / first["mean"]
        # enhancement at n: the method's successes (oracle) or share of seeds succeeded
        # (pool) by n measurements over random's expectation
        if task.lab == "oracle" and p:
            entry["enhancement"] = entry["successes_mean"] / (b * p)
            entry["enhancement_at"] = b
        elif task.lab == "mpea":
            n_ef = settings.campaign_pool_enhancement_at
            got = np.mean([m["first"] is not None and m["first"] <= n_ef for m in metrics])
            entry["enhancement"] = float(got / random_p_first_by(task, lab, reference, n_ef))
            entry["enhancement_at"] = n_ef
        methods[method] = entry
    return {"summary": task.summary, "lab": task.lab, "budget": budget, "start": n_start,
            "threshold": getattr(lab, "threshold", task.success_min), "random_reference": reference,
            "methods": methods}  # fmt: skip


def _list(a) -> list:
    return [None if not np.isfinite(v) else round(float(v), 4) for v in a]


def _stats(xs) -> dict:
    v = np.array([np.nan if x is None else x for x in xs], np.float64)
    if not np.isfinite(v).any():
        return {"median": None, "mean": None, "q25": None, "q75": None}
    return {"median": float(np.nanmedian(v)), "mean": float(np.nanmean(v)),
            "q25": float(np.nanpercentile(v, 25)), "q75": float(np.nanpercentile(v, 75))}  # fmt: skip


def _figure(results: dict, out: Path, settings) -> str | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [t for t, r in results.items() if r["methods"]]
    cols = min(3, len(names))
    rows = int(math.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.8 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        task, r = TASKS[name], results[name]
        for method, entry in r["methods"].items():
            med = np.array([np.nan if v is None else v for v in entry["curve"]["median"]], np.float64)
            lo = np.array([np.nan if v is None else v for v in entry["curve"]["q25"]], np.float64)
            hi = np.array([np.nan if v is None else v for v in entry["curve"]["q75"]], np.float64)
            x = np.arange(1, len(med) + 1)
            label = f"{METHOD_LABELS[method]} ({len(entry['seeds'])} seeds)"
            line, = ax.plot(x, med, drawstyle="steps-post", label=label)
            ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.15, linewidth=0, step="post")
        if task.lab == "oracle" and task.maximize is None:
            ax.axhline(1.0, color="k", ls="--", lw=0.8)
            ax.set_ylabel("best goal attainment (>= 1: success)")
        elif task.lab == "oracle":
            ax.axhline(task.success_min, color="k", ls="--", lw=0.8)
            ax.set_ylabel("best K at G >= 60 (MPa m^1/2)")
        else:
            ax.axhline(r["threshold"], color="k", ls="--", lw=0.8)
            ax.set_ylabel(f"best {task.mpea_property}")
        ax.set_title(f"{name}: {task.summary}", fontsize=8)
        ax.set_xlabel("measurements beyond the start")
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    path = out / "campaign.png"
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


# --------------------------------------------------------------------------- markdown


def _n(v, digits=0) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{v:.{digits}f}" if digits else f"{v:g}" if isinstance(v, float) and v != int(v) else f"{int(v)}"


def markdown(record: dict) -> str:
    from benchmarks.run import code_sentence

    lines = ["# Closed-loop campaigns in simulated labs", "",
             f"Command: `{record['command']}` ({record['date']}, {record.get('seconds', 0):.0f} s this run; "
             f"load {record['machine']['load_average']}).", ""]  # fmt: skip
    if record.get("tiny") is True:
        lines += ["*Tiny settings: a smoke run, the numbers mean nothing.*", ""]
    f = record["facts"]
    lines += ["## The tasks, measured", "",
              f"Random alloys: {f['random_alloys']:,} random 3-7-element alloys (oxygen excluded, Dirichlet(1), "
              "printed; `benchmarks.goals.random_alloys`), judged by the oracle.", "",
              "| task | goal | bundled alloys meeting it | random alloys meeting it | best of the random alloys |",
              "|---|---|---|---|---|"]  # fmt: skip
    for name, t in f["tasks"].items():
        if "random_share" in t:
            lines.append(f"| {name} | {TASKS[name].summary} | {t['bundled_meeting']} of {t['bundled']} | "
                         f"{100 * t['random_share']:.4f} % | "
                         f"{_n(t.get('random_best'), 1) if t.get('random_best') is not None else '–'} |")  # fmt: skip
        else:
            lines.append(f"| {name} | {TASKS[name].summary} | pool of {t['pool']}, {t['targets']} targets "
                         f"(>= {t['threshold']:g}) | – | – |")  # fmt: skip
    lines += ["", "## Results", "",
              "Measurements are counted beyond the start (24 bundled alloys; 10 % of the pool), one by one "
              "in the order each method ranked its batch. *First*: measurements to the first success; "
              "*3 systems*: to successes in 3 distinct element sets (>= 5 at.%); median [quartiles], mean "
              "(a lower bound, marked >=, when some seeds did not succeed within the budget: they count as the "
              "budget), share of seeds that succeeded. *AF* (acceleration factor, Liang et al., npj Comput. "
              "Mater. 7, 188 (2021)): n_random / n_method, the measurements random selection needs to reach "
              "the same goal (the first success) over the method's, on medians (and means); random's n is "
              "exact (oracle: geometric with p the random alloys' success share, median ceil(ln 0.5 / "
              "ln(1 - p)), mean 1/p; pool: drawing without replacement, mean (N + 1)/(M + 1)). *EF* "
              "(enhancement factor, ibid.: Top%_method(n) / Top%_random(n), Top% the share of the target set "
              "found by n measurements): oracle tasks, the mean successes by n = the budget over random's "
              "expected n p (the target set's size cancels); pool tasks, the share of seeds succeeded by n "
              "over random's P(first success <= n). *Best*: the best value after the budget (goal attainment "
              "min_i(y_i / t_i) for threshold goals, >= 1 is a success; K at G >= 60 for b; the property for "
              "pool tasks). Seconds: mean wall time of one `propose` step (one round).", "",
              f"hea_zoo on the oracle lab searches the lab's space as the peers do: `propose(..., "
              f"min_fraction={HEA_ZOO_MIN_FRACTION:g})`, every element at >= {100 * HEA_ZOO_MIN_FRACTION:g} at.% "
              "(its default minimum is 3 at.%); in a pool it takes the pool's alloys as they are.", ""]  # fmt: skip
    for name, r in record["tasks"].items():
        ref = r["random_reference"]
        lines += [f"### {name}: {r['summary']}", "",
                  f"Budget: {r['budget'] if r['budget'] else 'until the first success'}; random selection "
                  f"needs, exactly: median {_n(ref.get('median'))}, mean {_n(ref.get('mean'), 1)} measurements.", "",
                  "| method | seeds | first: median [q25, q75] | mean | succeeded | 3 systems: median | "
                  "succeeded | AF (median) | AF (mean) | EF (at n) | best: median [q25, q75] | s / round |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for method, e in r["methods"].items():
            fs, ts, b = e["first"], e["three_systems"], e["best_final"]
            budget = r["budget"]
            budget = budget or max((m for m in fs.get("values", []) if m is not None), default=None)
            med = _n(fs.get("median")) if fs.get("median") is not None else f"> {budget or '–'}"
            tmed = _n(ts.get("median")) if ts.get("median") is not None else f"> {budget or '–'}"
            t_reached = f"{ts['reached']}/{ts['seeds']}"
            if r["lab"] == "mpea":  # a pool campaign stops at its first success
                tmed = t_reached = "–"
            mean = ("≥ " if fs.get("mean_is_lower_bound") else "") + _n(fs.get("mean"), 1)
            lines.append(
                f"| {METHOD_LABELS[method]} | {fs['seeds']} | {med} [{_n(fs.get('q25'))}, {_n(fs.get('q75'))}] | "
                f"{mean} | {fs['reached']}/{fs['seeds']} | {tmed} | {t_reached} | "
                f"{_n(e.get('acceleration_median'), 1)} | {_n(e.get('acceleration_mean'), 1)} | "
                f"{_n(e.get('enhancement'), 1)} ({e.get('enhancement_at', '–')}) | "
                f"{_n(b['median'], 2)} [{_n(b['q25'], 2)}, {_n(b['q75'], 2)}] | {_n(e['round_seconds'], 2)} |")
        if not r["methods"]:
            lines.append("| (nothing run or cached) | | | | | | | | | | | |")
        lines.append("")
        for method, e in r["methods"].items():
            if e.get("code"):
                lines += code_sentence(e["code"], f"{METHOD_LABELS[method]}: of its {sum(e['code'].values())} seeds",
                                       "benchmarks.campaign.CODE")  # fmt: skip
    if record.get("skipped"):
        lines += ["Skipped: " + "; ".join(f"{k}: {v}" for k, v in record["skipped"].items()), ""]
    if record.get("figure"):
        lines += [f"![best so far against measurements]({record['figure']})", ""]
    return "\n".join(lines) + "\n"

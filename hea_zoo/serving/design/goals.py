"""Goals (docs/DESIGN_ENGINE.md, section 7): thresholds, ranges, points, objectives and
exact composition descriptors, as a design request states them and as a run uses them.

- `Goal`, `parse_goal`: the goal language (``shear_modulus>=60``, ``density<=9``,
  ``vec=4.4:5``, ``fracture_toughness=35``), checked without a model;
- `GoalPlan` (`plan_goals`): the goals resolved against a generator (its conditions,
  training range and elements) and the constraints: the names checked, the impossible
  goals refused, the box each candidate's condition is drawn from (7.2);
- `probability_within`: the probability of a normal within an interval with the erfc
  approximation both engines use (7.3);
- `select_objective`, `select_front`: the selection with one or two objectives (7.4).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence

import numpy as np

from hea_zoo.constants import DEFAULT_MIN_PROBABILITY
from hea_zoo.errors import TargetError

__all__ = [
    "DEFAULT_MIN_PROBABILITY",
    "DESCRIPTOR_GOALS",
    "Goal",
    "GoalPlan",
    "parse_goal",
    "parse_objective",
    "plan_goals",
    "normal_cdf",
    "interval_z",
    "probability_within",
    "condition_sequence",
    "goal_phases",
    "refine_rows",
]


DESCRIPTOR_GOALS = ("density", "vec", "delta", "dhmix", "omega", "tm")
"""The exact descriptors a goal may name (`hea_zoo.data.descriptors`)."""

INTERVAL_Z = 1.6448536269514722
"""Standard-normal quantile of a two-sided 90 % interval (`interval_z(0.9)`): mean ±
INTERVAL_Z · std is also the interval the design engine uses when the surrogate export has
no calibrated interval outputs."""
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:inf|infinity|nan)"
_GOAL = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|=)\s*(\S.*?)\s*$")
_SYNTAX = "a goal must read NAME>=V, NAME<=V, NAME=LO:HI or NAME=V (e.g. shear_modulus>=60). Received: "


@dataclasses.dataclass(frozen=True)
class Goal:
    """One goal: `name` within ``[lo, hi]`` (``-inf``/``+inf`` for one-sided goals), or a
    point `point` within the request's tolerance (then `lo`, `hi` are set by `plan_goals`).

    ``Goal("shear_modulus", 60, math.inf)`` is ``shear_modulus>=60``;
    ``Goal.at("fracture_toughness", 35)`` is ``fracture_toughness=35``.
    """

    name: str
    lo: float = -math.inf
    hi: float = math.inf
    point: float | None = None

    @classmethod
    def at(cls, name: str, value: float) -> Goal:
        """A point goal: `name` = `value` within the tolerance."""
        return cls(name, value, value, float(value))

    @property
    def kind(self) -> str:
        if self.point is not None:
            return "point"
        if self.lo == -math.inf:
            return "max"  # at most: <=
        if self.hi == math.inf:
            return "min"  # at least: >=
        return "range"

    def text(self) -> str:
        if self.point is not None:
            return f"{self.name}={self.point:g}"
        if self.lo == -math.inf:
            return f"{self.name}<={self.hi:g}"
        if self.hi == math.inf:
            return f"{self.name}>={self.lo:g}"
        return f"{self.name}={self.lo:g}:{self.hi:g}"


def _number(text: str, source: str, field: str) -> float:
    if not re.fullmatch(_NUMBER, text.strip(), flags=re.IGNORECASE):
        raise TargetError(f"{_SYNTAX}{source!r}", field=field)
    return float(text)


def _finite(values, field: str) -> None:
    for value in values:
        if not math.isfinite(value):
            raise TargetError(f"{value} is not a finite number.", field=field)


def _ordered(lo: float, hi: float, field: str) -> None:
    if lo > hi:
        raise TargetError(f"the range {lo:g}:{hi:g} is empty ({lo:g} > {hi:g}).", field=field)


def parse_goal(value, field: str = "goals") -> Goal:
    """A `Goal` from a string (``"shear_modulus>=60"``) or a `Goal`, checked (7.1).

    Raises:
        TargetError: a string that does not parse, a value that is not finite, LO > HI.
    """
    if isinstance(value, Goal):
        name, lo, hi, point = value.name, value.lo, value.hi, value.point
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise TargetError(f"a goal's name must be a word. Received: {name!r}", field=field)
        try:
            lo, hi = float(lo), float(hi)
            point = None if point is None else float(point)
        except (TypeError, ValueError):
            raise TargetError(f"a goal's bounds must be numbers. Received: {value!r}", field=field) from None
        if point is not None:
            _finite([point], field)
            return Goal(name, point, point, point)
        if math.isnan(lo) or math.isnan(hi) or lo == math.inf or hi == -math.inf:
            _finite([v for v in (lo, hi) if math.isnan(v)] or [lo if lo == math.inf else hi], field)
        if not math.isfinite(lo) and not math.isfinite(hi):
            raise TargetError(f"{_SYNTAX}{value!r}", field=field)
        _ordered(lo, hi, field)
        return Goal(name, lo, hi)
    if not isinstance(value, str):
        raise TargetError(f"{_SYNTAX}{value!r}", field=field)
    match = _GOAL.match(value)
    if not match:
        raise TargetError(f"{_SYNTAX}{value!r}", field=field)
    name, op, rest = match.groups()
    if op == ">=":
        v = _number(rest, value, field)
        _finite([v], field)
        return Goal(name, v, math.inf)
    if op == "<=":
        v = _number(rest, value, field)
        _finite([v], field)
        return Goal(name, -math.inf, v)
    if ":" in rest:
        lo_text, _, hi_text = rest.partition(":")
        lo, hi = _number(lo_text, value, field), _number(hi_text, value, field)
        _finite([lo, hi], field)
        _ordered(lo, hi, field)
        return Goal(name, lo, hi)
    v = _number(rest, value, field)
    _finite([v], field)
    return Goal(name, v, v, v)


def parse_objective(value, field: str = "objectives") -> tuple[str, str]:
    """``("NAME", "max"|"min")`` from such a pair (or a string ``"max:NAME"``/``"min:NAME"``)."""
    if isinstance(value, str) and ":" in value:
        direction, _, name = value.partition(":")
        value = (name.strip(), direction.strip())
    if not (isinstance(value, (tuple, list)) and len(value) == 2 and isinstance(value[0], str)):
        raise TargetError(f"an objective must be (NAME, 'max' or 'min'). Received: {value!r}", field=field)
    if value[1] not in ("max", "min"):
        raise TargetError(f"must be max or min. Received: {value[1]!r}", field=field)
    return (value[0].strip(), value[1])


# ----------------------------------------------------------------------------- 7.3
_ERFC = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587,
         -0.82215223, 0.17087277)  # fmt: skip


def _erfc(x: np.ndarray) -> np.ndarray:
    """erfc by the rational Chebyshev approximation of section 7.3 (float64)."""
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    c = _ERFC
    poly = c[1] + t * (c[2] + t * (c[3] + t * (c[4] + t * (c[5] + t * (c[6] + t * (c[7] + t * (c[8] + t * c[9])))))))
    r = t * np.exp(-z * z + c[0] + t * poly)
    return np.where(x >= 0, r, 2.0 - r)


def normal_cdf(x: np.ndarray) -> np.ndarray:
    """Φ(x) = erfc(−x/√2)/2 (section 7.3), with Φ(±inf) = 1 / 0."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        out = _erfc(-x / math.sqrt(2.0)) / 2.0
    out = np.where(x == np.inf, 1.0, out)
    return np.where(x == -np.inf, 0.0, out)


def interval_z(coverage: float | None = None) -> float:
    """z of a two-sided interval of nominal `coverage`: Φ(z) = 0.5 + coverage / 2 (section 7.3).

    `INTERVAL_Z` for 0.9 (and None: a surrogate that records no coverage); otherwise the
    root of `normal_cdf` by bisection on [0, 40] until the midpoint stops moving, the same
    steps in both engines.

    Raises:
        TargetError: a coverage outside (0, 1).

    Example:
        >>> round(interval_z(0.8), 6)
        1.281552
    """
    if coverage is None or float(coverage) == 0.9:
        return INTERVAL_Z
    c = float(coverage)
    if not 0.0 < c < 1.0:
        raise TargetError(f"an interval's coverage must be in (0, 1). Received: coverage={coverage!r}",
                          field="coverage")  # fmt: skip
    target = 0.5 + c / 2.0
    lo, hi = 0.0, 40.0
    while True:
        mid = (lo + hi) / 2.0
        if mid in (lo, hi):
            return mid
        if float(normal_cdf(mid)) < target:
            lo = mid
        else:
            hi = mid


def sigma_from_interval(lower, upper, z: float = INTERVAL_Z) -> np.ndarray:
    """σ of the predictive normal whose interval at the coverage of `z` (`interval_z`; the
    nominal 90 % by default) is [lower, upper]: (upper − lower) / (2 z), at least 1e−12."""
    return np.maximum((np.asarray(upper, np.float64) - np.asarray(lower, np.float64)) / (2.0 * z), 1e-12)


def probability_within(mean, lower, upper, lo: float, hi: float, z: float = INTERVAL_Z) -> np.ndarray:
    """P(lo ≤ Y ≤ hi) for Y normal with `mean` and σ = (upper − lower)/(2 z) (≥ 1e−12); `z`
    of the interval's coverage (`interval_z`; the nominal 90 % by default)."""
    mu = np.asarray(mean, dtype=np.float64)
    sigma = sigma_from_interval(lower, upper, z)
    with np.errstate(invalid="ignore", over="ignore"):
        high = normal_cdf((hi - mu) / sigma) if hi != math.inf else np.ones_like(mu)
        low = normal_cdf((lo - mu) / sigma) if lo != -math.inf else np.zeros_like(mu)
    return high - low


# ----------------------------------------------------------------------------- 7.2
def _phi(p: int) -> float:
    """The positive root of x^(P+1) = x + 1: 60 Newton rounds from 2.0, powers by multiplication."""
    x = 2.0
    for _ in range(60):
        power = 1.0  # x^P
        for _ in range(p):
            power *= x
        x = x - (power * x - x - 1.0) / ((p + 1) * power - 1.0)
    return x


def condition_alphas(p: int) -> np.ndarray:
    """α_j = frac(1 / φ_P^(j+1)), j = 0..P-1 (the R_P sequence)."""
    phi = _phi(p)
    out, power = [], 1.0
    for _ in range(p):
        power *= phi
        a = 1.0 / power
        out.append(a - math.floor(a))
    return np.asarray(out, dtype=np.float64)


def condition_sequence(start: int, rows: int, p: int) -> np.ndarray:
    """``u(r) = frac((r + 1) α)`` for rows ``start .. start + rows - 1``: (rows, P) float64."""
    r = np.arange(start, start + rows, dtype=np.float64) + 1.0
    x = r[:, None] * condition_alphas(p)[None, :]
    return x - np.floor(x)


# ----------------------------------------------------------------------------- 7.2 random rows
RANDOM_KEY = 0x52616E64
"""Mixed into the seed for the random candidates' words (section 7.2, "Random candidates")."""

_MIN_RANDOM_ELEMENTS, _MAX_RANDOM_ELEMENTS = 3, 7

RANDOM_EVERY_GOALS = 0
"""Without objectives every candidate is decoded (section 7.2, measured)."""

RANDOM_EVERY_OBJECTIVES = 2
"""With an objective, candidate r is a random composition when r is odd (section 7.2, measured)."""


OBJECTIVE_SPREAD = 0.25
"""A property objective is its mean less (a maximum) or plus (a minimum) this share of its
90 % interval's width (7.4, measured): `INTERVAL_Z`/2 standard deviations of section 7.3's
normal (an interval at another coverage is first rescaled to the 90 % one's width)."""

REFINE_KEY = 0x52656669
"""Mixed into the seed for the refinement rows' words (section 7.2, "Refinement")."""

REFINE_ROUNDS_OBJECTIVES = 10
"""With an objective, the candidates end with 10 refinement rounds (section 7.2, measured)."""

REFINE_ROUNDS_GOALS = 2
"""Without objectives, 2 refinement rounds (section 7.2, measured)."""

REFINE_SCALE = 0.5
"""A parent's fractions are multiplied by exp(REFINE_SCALE * (2u - 1)), u uniform in (0, 1)."""

BOX_BEYOND = 0.25
"""How far beyond the training range a condition box reaches, as a share of the range (7.2)."""

BOX_POINT = False
"""Measured alternative (7.2): every condition at its box's middle instead of spread over it."""

REFINE_PARENTS = 2
"""A round's parents are the designs the run would give for REFINE_PARENTS * n designs (7.2, measured)."""

PARENTS_MEET_GOALS = True
"""A refinement round's parents are the designs with P(goals) >= p_min (section 7.2, measured)."""

SYSTEMS_FIRST = True
"""Without objectives the diverse rule takes new alloy systems first (section 7.4, measured)."""

_REFINE_WORDS = 3  # words before the per-element ones: the add/drop draw, the element added, its share


def goal_phases(candidates: int, rounds: int) -> list[tuple[int, int]]:
    """``(start, rows)`` of the exploration and of each refinement round (7.2): with R rounds
    each has ``b = candidates // (R + 2)`` rows and the exploration the ``candidates - R b``
    before them; without rounds (or b = 0) the exploration is every candidate."""
    candidates = int(candidates)
    b = candidates // (rounds + 2) if rounds > 0 else 0
    if b <= 0:
        return [(0, candidates)]
    first = candidates - rounds * b
    return [(0, first)] + [(first + t * b, b) for t in range(rounds)]


def refine_rows(seed: int, rows: np.ndarray, first: int, parents: np.ndarray, allowed: np.ndarray,
                max_elements: int) -> np.ndarray:
    """The refinement compositions of candidate rows `rows` of a round that starts at row
    `first` (section 7.2): (N, E) float32 from the printed `parents` (P, E thousandths).

    Row r takes parent ``(r - first) mod P``; with ``w_j = mix32(h + j)``,
    ``h = mix32(mix32(seed ^ REFINE_KEY) ^ r)`` and ``u_j = (w_j + 0.5) / 2^32``:
    every present element ``i`` is multiplied by ``exp(REFINE_SCALE (2 u_(3+i) - 1))``; when
    ``w_0 mod 10 < 3`` and fewer than ``min(7, max_elements)`` are present, the absent allowed
    element number ``w_1 mod c`` (element order, c of them) joins at ``S (0.03 + 0.12 u_2)``
    (S the sum so far); when ``(w_0 >> 16) mod 10 < 2`` and more than 3 are present, the
    smallest (the first of equals) leaves; the fractions over their sum, then float32.
    """
    rows = np.asarray(rows, dtype=np.int64)
    parents = np.asarray(parents, np.int64)
    size = np.asarray(allowed).size
    out = np.zeros((rows.size, size), np.float32)
    if not rows.size or not parents.shape[0]:
        return out
    from hea_zoo.artifact import row_words

    w = row_words(seed, REFINE_KEY, rows, _REFINE_WORDS + size)
    u = (w.astype(np.float64) + 0.5) / 4294967296.0
    x = parents[(rows - int(first)) % parents.shape[0]].astype(np.float64) / 1000.0
    present = x > 0
    x = np.where(present, x * np.exp(REFINE_SCALE * (2.0 * u[:, _REFINE_WORDS:] - 1.0)), 0.0)
    allowed = np.asarray(allowed, bool)
    top = min(_MAX_RANDOM_ELEMENTS, int(max_elements))
    count = present.sum(axis=1)
    add = ((w[:, 0] % np.uint32(10)) < 3) & (count < top)
    for i in np.flatnonzero(add):
        absent = np.flatnonzero(allowed & ~present[i])
        if absent.size:
            total = x[i, 0]
            for e in range(1, size):
                total += x[i, e]
            x[i, absent[int(w[i, 1] % np.uint32(absent.size))]] = total * (0.03 + 0.12 * u[i, 2])
    drop = (((w[:, 0] >> np.uint32(16)) % np.uint32(10)) < 2) & ((x > 0).sum(axis=1) > 3)
    for i in np.flatnonzero(drop):
        held = np.flatnonzero(x[i] > 0)
        x[i, held[int(np.argmin(x[i, held]))]] = 0.0
    total = x[:, 0].copy()
    for e in range(1, size):
        total += x[:, e]
    return (x / total[:, None]).astype(np.float32)


def random_rows(seed: int, rows: np.ndarray, allowed: np.ndarray, max_elements: int) -> np.ndarray:
    """Random compositions for candidate rows `rows` (section 7.2): (N, E) float32.

    Row r: ``m = 3 + w_0 mod 5`` elements (at most the allowed ones and `max_elements`),
    chosen from the allowed elements (index order) by a partial Fisher-Yates shuffle
    (step i swaps position i with ``i + w_(1+i) mod (A - i)``), fractions
    ``-ln((w_(8+i) + 1) / 2^32)`` over their sum (float64, added in step order), then float32.
    """
    rows = np.asarray(rows, dtype=np.int64)
    pool_elements = np.flatnonzero(np.asarray(allowed, bool))
    a = pool_elements.size
    out = np.zeros((rows.size, np.asarray(allowed).size), np.float32)
    if not rows.size or not a:
        return out
    from hea_zoo.artifact import row_words

    w = row_words(seed, RANDOM_KEY, rows, 1 + 2 * _MAX_RANDOM_ELEMENTS)
    top = min(_MAX_RANDOM_ELEMENTS, a, int(max_elements))
    m = np.minimum(_MIN_RANDOM_ELEMENTS + (w[:, 0] % np.uint32(5)).astype(np.int64), top)
    pool = np.tile(pool_elements, (rows.size, 1))
    every = np.arange(rows.size)
    for i in range(top):
        j = i + (w[:, 1 + i] % np.uint32(a - i)).astype(np.int64)
        pool[every, i], pool[every, j] = pool[every, j], pool[every, i].copy()
    e = -np.log((w[:, 1 + _MAX_RANDOM_ELEMENTS : 1 + _MAX_RANDOM_ELEMENTS + top].astype(np.float64) + 1.0) / 4294967296.0)
    e[np.arange(top)[None, :] >= m[:, None]] = 0.0
    total = e[:, 0].copy()
    for i in range(1, top):
        total += e[:, i]
    x = (e / total[:, None]).astype(np.float32)
    for i in range(top):
        used = i < m
        out[every[used], pool[used, i]] = x[used, i]
    return out


# ----------------------------------------------------------------------------- plan
@dataclasses.dataclass
class GoalPlan:
    """The goals of a request resolved against a generator: what a goal-mode run needs."""

    names: list[str]  # the generator's conditions
    property_goals: list[tuple[int, float, float]]  # (condition position, lo, hi), in the order given
    descriptor_goals: list[tuple[str, float, float]]  # (descriptor, lo, hi), in the order given
    objectives: list[tuple[str, str]]  # (name, "max"|"min")
    box: np.ndarray  # (2, P): the lower and upper ends of each condition's box
    descriptor_columns: list[str]  # descriptor goals then descriptor objectives, each once
    min_probability: float
    goals: list[Goal]  # as given (intervals resolved)
    random_every: int = 0  # candidate r is a random composition when r % random_every == random_every - 1 (0: none)
    refine_rounds: int = 0  # rounds of refinement after the exploration (7.2, "Refinement")

    def random_mask(self, start: int, rows: int) -> np.ndarray:
        """Which of the rows ``start ..`` are random compositions (7.2)."""
        if not self.random_every:
            return np.zeros(rows, bool)
        return (np.arange(start, start + rows, dtype=np.int64) % self.random_every) == self.random_every - 1

    def conditions(self, start: int, rows: int) -> np.ndarray:
        """c(r) for rows ``start ..``: (rows, P) float32 (7.2)."""
        u = condition_sequence(start, rows, len(self.names))
        a, b = self.box
        return (a[None, :] + u * (b - a)[None, :]).astype(np.float32)

    def conditions_at(self, index: np.ndarray) -> np.ndarray:
        """c(r) for the candidates `index` (any order): (N, P) float32."""
        r = np.asarray(index, dtype=np.float64) + 1.0
        x = r[:, None] * condition_alphas(len(self.names))[None, :]
        u = x - np.floor(x)
        a, b = self.box
        return (a[None, :] + u * (b - a)[None, :]).astype(np.float32)

    def p_goals(self, mean, lower, upper, z: float = INTERVAL_Z) -> np.ndarray:
        """The product of P_g over the property goals in the order given (1 without any);
        `z` of the intervals' coverage (`interval_z`)."""
        p = np.ones(np.shape(mean)[0], dtype=np.float64)
        for j, lo, hi in self.property_goals:
            p = p * probability_within(mean[:, j], lower[:, j], upper[:, j], lo, hi, z)
        return p

    def descriptors_met(self, values: dict[str, np.ndarray], n: int) -> np.ndarray:
        """(n,) bool: the candidates whose exact descriptors (`values`, one array per name of
        `descriptor_goals`) lie inside every descriptor goal; NaN (an element or a pair
        without a tabulated value) fails, +inf (Omega where ΔHmix = 0) meets a goal open
        above. All True without descriptor goals."""
        ok = np.ones(n, bool)
        for name, lo, hi in self.descriptor_goals:
            v = np.asarray(values[name], np.float64)
            with np.errstate(invalid="ignore"):
                ok &= (v >= lo) & (v <= hi)  # NaN compares False
        return ok

    def phases(self, candidates: int) -> list[tuple[int, int]]:
        """``(start, rows)`` of the exploration and of each refinement round (7.2)."""
        return goal_phases(candidates, self.refine_rounds)

    def objective_values(self, mean, lower, upper, descriptors: dict[str, np.ndarray],
                         z: float = INTERVAL_Z) -> np.ndarray:  # fmt: skip
        """(N, O) objective values turned into "larger is better" (7.4): a property's mean
        less (a maximum) or plus (a minimum) a quarter of its 90 % interval's width, that is
        `INTERVAL_Z`/2 standard deviations of its normal; `z` of the intervals' coverage
        (`interval_z`: the width is read as ``(upper − lower) · INTERVAL_Z / z``)."""
        spread = OBJECTIVE_SPREAD * (INTERVAL_Z / z)  # exactly OBJECTIVE_SPREAD at 90 %
        cols = []
        for name, direction in self.objectives:
            if name in self.names:
                j = self.names.index(name)
                mu = np.asarray(mean, np.float64)[:, j]
                width = np.asarray(upper, np.float64)[:, j] - np.asarray(lower, np.float64)[:, j]
                v = mu - width * spread if direction == "max" else mu + width * spread
            else:
                v = descriptors[name]
            cols.append(v if direction == "max" else -v)
        return np.stack(cols, axis=1) if cols else np.zeros((np.shape(lower)[0], 0))


def _reach(descriptor: str, elements: Sequence[str], allowed: np.ndarray) -> tuple[float, float]:
    """The range a descriptor can take over compositions of the allowed elements (7.1)."""
    if descriptor in ("delta", "omega"):
        return 0.0, math.inf
    if descriptor == "dhmix":
        return -math.inf, math.inf
    from hea_zoo.data.descriptors import DescriptorTable

    table = DescriptorTable(elements)
    column = {"density": "density", "vec": "valence_electrons", "tm": "melting_point"}[descriptor]
    values = table.values[column][allowed]
    values = values[np.isfinite(values)]
    if not values.size:
        return math.nan, math.nan
    return float(values.min()), float(values.max())


def plan_goals(goals: Sequence[Goal], objectives: Sequence[tuple[str, str]], target_names: Sequence[str],
               names: Sequence[str], training_range: np.ndarray | None, elements: Sequence[str],
               allowed: np.ndarray, tolerance: float, min_probability: float) -> GoalPlan:
    """The goals checked against a generator (names, reach) and resolved (7.1, 7.2).

    `target_names`: the properties a point target is also given for (refused with a goal).
    """
    names = list(names)
    valid = names + list(DESCRIPTOR_GOALS)
    if training_range is None:
        rng = np.array([[0.0] * len(names), [1.0] * len(names)])
    else:
        rng = np.asarray(training_range, np.float64)
    width = rng[1] - rng[0]
    resolved, property_goals, descriptor_goals = [], [], []
    for i, goal in enumerate(goals):
        field = f"goals[{i}]"
        if goal.name not in valid:
            raise TargetError(f"unknown name {goal.name!r}; valid names: {', '.join(valid)}.", field=field)
        if goal.name in target_names:
            raise TargetError(f"{goal.name} has both a point target and a goal.", field=field)
    for i, (name, _direction) in enumerate(objectives):
        if name not in valid:
            raise TargetError(f"unknown name {name!r}; valid names: {', '.join(valid)}.", field=f"objectives[{i}]")
    for i, goal in enumerate(goals):
        field = f"goals[{i}]"
        lo, hi = goal.lo, goal.hi
        if goal.point is not None:
            v = goal.point
            floor = max(0.01 * width[names.index(goal.name)], 1e-9) if goal.name in names else 1e-9
            d = tolerance * max(abs(v), floor)
            lo, hi = v - d, v + d
            goal = Goal(goal.name, lo, hi, v)
        if goal.name in names:
            j = names.index(goal.name)
            m, big, w = rng[0, j], rng[1, j], width[j]
            if training_range is not None and (hi < m - w or lo > big + w):
                raise TargetError(
                    f"{goal.text()} is far outside the training data of {goal.name} ({m:.4g} to {big:.4g}): "
                    "more than the data's range beyond it, where the models know nothing.",
                    field=field,
                )
            property_goals.append((j, lo, hi))
        else:
            low, high = _reach(goal.name, elements, allowed)
            if not (hi >= low and lo <= high):
                why = (f"{goal.name} is never negative" if goal.name in ("delta", "omega")
                       else f"{goal.name} lies between {low:g} and {high:g} over them")  # fmt: skip
                raise TargetError(f"no composition of the allowed elements has {goal.text()}: {why}.", field=field)
            descriptor_goals.append((goal.name, lo, hi))
        resolved.append(goal)
    # 7.2: the box of each condition
    box = np.array(rng, dtype=np.float64, copy=True)
    by_condition = {j: (lo, hi, g) for (j, lo, hi), g in zip(property_goals, [g for g in resolved if g.name in names])}
    directions = {name: d for name, d in objectives}
    for j, name in enumerate(names):
        m, big, w = rng[0, j], rng[1, j], width[j]
        delta, e = 0.02 * w, BOX_BEYOND * w
        interval = None
        if j in by_condition:
            lo, hi, goal = by_condition[j]
            if goal.point is not None:
                a = b = goal.point
            elif goal.hi == math.inf:
                a, b = lo + delta, max(lo + delta, big + e)
            elif goal.lo == -math.inf:
                a, b = min(hi - delta, m - e), hi - delta
                if m >= 0:
                    a = max(a, 0.0)
            elif hi - lo < 2 * delta:
                a = b = (lo + hi) / 2
            else:
                a, b = lo + delta, hi - delta
            interval = (a, b)
        if name in directions and (j not in by_condition or by_condition[j][2].point is None):
            if directions[name] == "max":
                a, b = big - e, big + e
            else:
                a, b = m - e, m + e
                if m >= 0:
                    a = max(a, 0.0)
            if interval is not None:
                a, b = max(a, interval[0]), min(b, interval[1])
                if a > b:  # the objective's box misses the goal's: the goal's box alone
                    a, b = interval
            interval = (a, b)
        if interval is not None:
            box[0, j], box[1, j] = interval
    if BOX_POINT:
        box[0], box[1] = (box[0] + box[1]) / 2, (box[0] + box[1]) / 2
    columns = [name for name, _lo, _hi in descriptor_goals]
    columns += [name for name, _d in objectives if name in DESCRIPTOR_GOALS and name not in columns]
    every = RANDOM_EVERY_OBJECTIVES if objectives else RANDOM_EVERY_GOALS
    rounds = REFINE_ROUNDS_OBJECTIVES if objectives else REFINE_ROUNDS_GOALS
    return GoalPlan(names, property_goals, descriptor_goals, list(objectives), box, columns, float(min_probability),
                    resolved, every, rounds)  # fmt: skip


# ----------------------------------------------------------------------------- 7.4
def _twin_mask(points: np.ndarray, s: int, min_distance: int) -> np.ndarray:
    return np.abs(points - points[s]).sum(axis=1) < min_distance


def objective_order(values: np.ndarray, p: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Positions best first by the (first) objective, ties: higher p, then lower index."""
    return np.lexsort((index, -p, -values[:, 0]))


def select_objective(k: np.ndarray, values: np.ndarray, p: np.ndarray, index: np.ndarray, n: int,
                     min_distance: int) -> np.ndarray:
    """One objective: positions taken in objective order, skipping twins of those taken."""
    order = objective_order(values, p, index)
    points = k.astype(np.int64)
    blocked = np.zeros(points.shape[0], bool)
    taken = []
    for s in order:
        if len(taken) >= n:
            break
        if blocked[s]:
            continue
        taken.append(int(s))
        blocked |= _twin_mask(points, s, min_distance)
    return np.asarray(taken, dtype=np.int64)


def front_ranks(values: np.ndarray, p: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Non-dominated sorting of two "larger is better" objectives: (order, front of each position).

    `order` sorts by first objective desc, then second desc, then lower index.
    """
    order = np.lexsort((index, -values[:, 1], -values[:, 0]))
    front = np.zeros(values.shape[0], dtype=np.int64)
    tails: list[tuple[float, float]] = []  # per front: (o1, o2) of its last member
    for s in order:
        a, b = float(values[s, 0]), float(values[s, 1])

        def dominated(f):
            t1, t2 = tails[f]
            return t2 > b or (t2 == b and t1 > a)

        lo, hi = 0, len(tails)
        while lo < hi:  # the first front whose tail does not dominate
            mid = (lo + hi) // 2
            if dominated(mid):
                lo = mid + 1
            else:
                hi = mid
        if lo == len(tails):
            tails.append((a, b))
        else:
            tails[lo] = (a, b)
        front[s] = lo
    return order, front


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance of two scaled objective vectors: ``sqrt(x*x + y*y)`` in float64."""
    x = float(a[0]) - float(b[0])
    y = float(a[1]) - float(b[1])
    return math.sqrt(x * x + y * y)


def _fronts(values: np.ndarray, order: np.ndarray):
    """The fronts of `front_ranks`, first front first, each as positions in `order`'s order;
    peeled one at a time (vectorized), so a caller that needs the first few stops early."""
    remaining = np.asarray(order, dtype=np.int64)
    while remaining.size:
        v1, v2 = values[remaining, 0], values[remaining, 1]
        # dominated by an earlier record (v1 >= on it): a larger v2 before it, or the same v2
        # with a larger v1 (the first record with that v2 has the largest v1 of them)
        before = np.maximum.accumulate(np.concatenate([[-np.inf], v2[:-1]]))
        _, first, inverse = np.unique(v2, return_index=True, return_inverse=True)
        dominated = (before > v2) | (v1[first[inverse.reshape(-1)]] > v1)
        yield remaining[~dominated]
        remaining = remaining[dominated]


def select_front(k: np.ndarray, values: np.ndarray, p: np.ndarray, index: np.ndarray, n: int,
                 min_distance: int) -> np.ndarray:
    """Two objectives (7.4): whole fronts in order, the last one spread along it; no twins."""
    if not k.shape[0]:
        return np.zeros(0, np.int64)
    points = k.astype(np.int64)
    order = np.lexsort((index, -values[:, 1], -values[:, 0]))
    taken: list[int] = []
    front_of: list[int] = []
    for f, front in enumerate(_fronts(values, order)):
        if len(taken) >= n:
            break
        own = points[front]
        blocked = np.zeros(front.size, bool)  # a twin of a design taken
        for t in taken:
            blocked |= np.abs(own - points[t]).sum(axis=1) < min_distance

        def take(i, front=front, own=own, blocked=blocked, f=f):
            taken.append(int(front[i]))
            front_of.append(f)
            blocked |= np.abs(own - own[i]).sum(axis=1) < min_distance

        members = np.flatnonzero(~blocked)  # positions in `front`, in sorted order
        need = n - len(taken)
        if members.size <= need:
            for i in members:
                if not blocked[i]:
                    take(i)
            continue
        # spread: the two ends, then the largest normalized gap to the taken neighbours
        v = values[front[members]]
        span = v.max(axis=0) - v.min(axis=0)
        span[~(span > 0) | ~np.isfinite(span)] = 1.0
        scaled = v / span  # the gap: the smaller of the distances to the taken neighbours
        chosen = np.zeros(members.size, bool)
        count = 0
        for end in (0, members.size - 1):
            if count < need and not blocked[members[end]]:
                take(members[end])
                chosen[end] = True
                count += 1
        while count < need:
            best, best_gap = -1, -math.inf
            positions = np.flatnonzero(chosen)
            for i in range(members.size):
                if chosen[i] or blocked[members[i]]:
                    continue
                left = positions[positions < i]
                right = positions[positions > i]
                sides = [_distance(scaled[i], scaled[j]) for j in (left[-1:].tolist() + right[:1].tolist())]
                gap = min(sides) if sides else 0.0
                if gap > best_gap:
                    best, best_gap = i, gap
            if best < 0:
                break
            take(members[best])
            chosen[best] = True
            count += 1
    taken_array = np.asarray(taken, dtype=np.int64)
    # shown by (front, first objective desc, second desc, index)
    rank = np.empty(order.size, np.int64)
    rank[order] = np.arange(order.size)
    return taken_array[np.lexsort((rank[taken_array], np.asarray(front_of, np.int64)))]

"""One design request, typed and validated in one place (docs/DESIGN_ENGINE.md, section 0).

`DesignRequest` holds everything a run of the design engine is asked: the target, the
number of designs, the candidates drawn, the selection, the tolerance, the constraints,
the seed, the chunk size and the output file. Building one checks every rule that needs
no model; `DesignRequest.target_values` checks the target against a generator's
conditions (names, number, training range). `Designer.design`, the command line and the
page (`examples/web/engine.js`, `checkOptions`) apply the same rules with the same limits.

Every error is a `hea_zoo.errors` class whose ``field`` names the request field at fault
(``"n"``, ``"candidates"``, ``"target['shear_modulus']"``...); the messages never name a
command-line flag.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hea_zoo.errors import TargetError, UsageError
from hea_zoo.serving.constraints import Constraints
from hea_zoo.serving.design.goals import DEFAULT_MIN_PROBABILITY, Goal, parse_goal, parse_objective

__all__ = [
    "DEFAULT_N",
    "DEFAULT_TOLERANCE",
    "DEFAULT_CHUNK_SIZE",
    "MAX_CANDIDATES",
    "MAX_SEED",
    "SELECTIONS",
    "DesignRequest",
    "check_settings",
    "default_candidates",
]

DEFAULT_N = 20
"""Designs returned unless the request says."""

DEFAULT_TOLERANCE = 0.05
"""Relative tolerance on every property for a candidate to be *in tolerance* (5 %)."""

DEFAULT_CHUNK_SIZE = 65536
"""Candidates per chunk unless the request says (memory is bounded by it)."""

MAX_CANDIDATES = 2**32
"""The most candidates a request may draw: 2^32, the noise rows (section 1: row index
``r < 2^32``). The same limit in both engines."""

MAX_SEED = 2**32 - 1
"""Seeds are integers in [0, 2^32 - 1] (section 1)."""

SELECTIONS = ("diverse", "closest")
"""The selection rules (section 5); the first is the default."""

FLOAT32_MAX = float(np.finfo(np.float32).max)


def default_candidates(n: int) -> int:
    """Candidates drawn for `n` designs unless the request says: ``max(100 n, 32000)``."""
    return max(100 * int(n), 32000)


def _integer(value: Any, field: str, minimum: int, maximum: int | None = None, why: str = "") -> int:
    """An integer in [minimum, maximum] (no bool, no float), else a `UsageError` on `field`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise UsageError(f"must be an integer. Received: {value!r}", field=field)
    value = int(value)
    if minimum == 0 and maximum is not None and not 0 <= value <= maximum:
        raise UsageError(f"must be an integer in [0, {maximum}]. Received: {value}", field=field)
    if value < minimum:
        what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise UsageError(f"must be {what}. Received: {value}", field=field)
    if maximum is not None and value > maximum:
        raise UsageError(f"must be at most {maximum:,}{why}. Received: {value:,}", field=field)
    return value


def _target_value(value: Any, field: str) -> float:
    if isinstance(value, bool):
        raise TargetError(f"must be a finite number. Received: {value!r}", field=field)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TargetError(f"must be a number. Received: {value!r}", field=field) from None
    if not math.isfinite(number):
        raise TargetError(f"must be a finite number. Received: {number}", field=field)
    if abs(number) > FLOAT32_MAX:
        raise TargetError(
            f"{number:g} is beyond what the models take (float32, at most {FLOAT32_MAX:.3g}).", field=field
        )
    return number


def check_settings(settings: Any) -> dict[str, float]:
    """Fixed measurement settings, checked: a mapping name -> finite number (None: none).

    The one rule of ``settings`` for a design request and a campaign's `propose`
    (``--setting NAME=VALUE`` on the command line). Names are stripped.

    Raises:
        UsageError: not a mapping, or a name that is not a non-empty string (field
            ``settings``).
        TargetError: a value that is not a finite float32 number (field ``settings['NAME']``).
    """
    settings = {} if settings is None else settings
    if not isinstance(settings, Mapping):
        raise UsageError(f"must be a mapping name -> value. Received: {settings!r}", field="settings")
    checked = {}
    for name, value in settings.items():
        if not isinstance(name, str) or not name.strip():
            raise UsageError(f"setting names must be strings. Received: {name!r}", field="settings")
        checked[name.strip()] = _target_value(value, f"settings[{name.strip()!r}]")
    return checked


@dataclasses.dataclass(frozen=True)
class DesignRequest:
    """A design request, validated when built (docs/DESIGN_ENGINE.md, section 0).

    Attributes:
        target: the target: a sequence of values in the generator's condition order, or
            a mapping condition name -> value (``{"shear_modulus": 60, "fracture_toughness": 35}``).
            Stored as a tuple of floats, or a dict name -> float.
        n: designs to return (>= 1).
        candidates: candidates drawn, in [n, `MAX_CANDIDATES`] (None: `default_candidates(n)`).
        select: ``"diverse"`` (default) or ``"closest"``.
        tolerance: relative tolerance on every property, a finite number > 0.
        constraints: a `Constraints` (or a mapping of its fields, or None: the defaults).
        seed: noise seed in [0, 2^32 - 1]; None: drawn from the OS when the design runs.
        chunk_size: candidates per chunk (>= 1).
        out: a file to write every design to (.csv, or .parquet with pyarrow), or None.
        goals: goals (section 7): strings ``"NAME>=V"``, ``"NAME<=V"``, ``"NAME=LO:HI"``,
            ``"NAME=V"`` or `Goal` objects, on the generator's properties or the exact
            descriptors (``density``, ``vec``, ``delta``, ``dhmix``, ``omega``, ``tm``).
        objectives: at most two ``(NAME, "max"|"min")`` pairs.
        min_probability: the probability of meeting every goal a candidate needs to be in
            the pool (in (0, 1), default 0.5).
        settings: fixed measurement settings, a mapping name -> value in the models'
            units (``{"test_temperature": 1000}``, °C): conditions of a generator trained
            with settings and inputs of its surrogate; never targets (a name both a
            setting and a target or goal is refused). Default none.

    Raises:
        UsageError: n, candidates, select, seed, chunk_size or out out of their domain
            (``field`` names the field).
        TargetError: a target value that is not a finite number within float32, or a
            tolerance that is not a finite number > 0.
    """

    target: Any = None
    n: int = DEFAULT_N
    candidates: int | None = None
    select: str = SELECTIONS[0]
    tolerance: float = DEFAULT_TOLERANCE
    constraints: Constraints = dataclasses.field(default_factory=Constraints)
    seed: int | None = None
    chunk_size: int = DEFAULT_CHUNK_SIZE
    out: Path | None = None
    goals: Any = ()
    objectives: Any = ()
    min_probability: float = DEFAULT_MIN_PROBABILITY
    settings: Any = None

    def __post_init__(self):
        put = object.__setattr__
        put(self, "settings", check_settings(self.settings))
        p_min = self.min_probability
        if (isinstance(p_min, bool) or not isinstance(p_min, numbers.Real) or not math.isfinite(p_min)
                or not 0 < p_min < 1):  # fmt: skip
            raise TargetError(f"must be a number in (0, 1). Received: {p_min}", field="min_probability")
        put(self, "min_probability", float(p_min))
        goals = self.goals
        if isinstance(goals, (str, Goal)):
            goals = [goals]
        if not isinstance(goals, (Sequence, np.ndarray)):
            raise TargetError(f"must be a list of goals. Received: {goals!r}", field="goals")
        goals = tuple(parse_goal(g, f"goals[{i}]") for i, g in enumerate(goals))
        seen: dict[str, int] = {}
        for i, goal in enumerate(goals):
            if goal.name in seen:
                raise TargetError(f"{goal.name} has a goal already (goals[{seen[goal.name]}]).", field=f"goals[{i}]")
            seen[goal.name] = i
        put(self, "goals", goals)
        objectives = self.objectives
        if isinstance(objectives, str) or (isinstance(objectives, tuple) and len(objectives) == 2
                                           and objectives[1] in ("max", "min")):  # fmt: skip
            objectives = [objectives]
        objectives = tuple(parse_objective(o, f"objectives[{i}]") for i, o in enumerate(objectives))
        for i, (name, _d) in enumerate(objectives):
            earlier = [j for j in range(i) if objectives[j][0] == name]
            if earlier:
                raise TargetError(f"{name} is an objective already (objectives[{earlier[0]}]).", field=f"objectives[{i}]")
        if len(objectives) > 2:
            raise TargetError(f"at most two objectives. Received: {len(objectives)}", field="objectives")
        put(self, "objectives", objectives)
        target = self.target
        if target is None and (goals or objectives):
            target = {}
        put(self, "target", self._check_target(target))
        # A setting is how a value is measured: fixed, never a target or a goal.
        for name in self.settings:
            if isinstance(self.target, dict) and name in self.target:
                raise TargetError(f"{name} is a measurement setting: give its value among the settings only, "
                                  "never as a target.", field=f"target[{name!r}]")  # fmt: skip
            for i, goal in enumerate(goals):
                if goal.name == name:
                    raise TargetError(f"{name} is a measurement setting: a fixed value, never a goal.",
                                      field=f"goals[{i}]")  # fmt: skip
        if isinstance(self.target, dict):
            for i, goal in enumerate(goals):
                if goal.name in self.target:
                    raise TargetError(f"{goal.name} has both a point target and a goal.", field=f"goals[{i}]")
        n = _integer(self.n, "n", 1)
        put(self, "n", n)
        if self.candidates is None:
            put(self, "candidates", min(default_candidates(n), MAX_CANDIDATES))
        else:
            candidates = _integer(self.candidates, "candidates", 1, MAX_CANDIDATES, " (2^32, the noise rows)")
            if candidates < n:
                raise UsageError(
                    f"{candidates} is fewer than the {n} designs asked for; each design is a distinct candidate.",
                    field="candidates",
                )
            put(self, "candidates", candidates)
        if self.select not in SELECTIONS:
            raise UsageError(f"must be diverse or closest. Received: {self.select!r}", field="select")
        tolerance = self.tolerance
        if (isinstance(tolerance, bool) or not isinstance(tolerance, numbers.Real) or not math.isfinite(tolerance)
                or tolerance <= 0):  # fmt: skip
            raise TargetError(
                f"must be a positive number (a relative error, 0.05 = 5 %). Received: {tolerance}", field="tolerance"
            )
        put(self, "tolerance", float(tolerance))
        put(self, "constraints", Constraints.coerce(self.constraints))
        if self.seed is not None:
            put(self, "seed", _integer(self.seed, "seed", 0, MAX_SEED))
        put(self, "chunk_size", _integer(self.chunk_size, "chunk_size", 1))
        if self.out is not None:
            from hea_zoo.serving.design.sinks import check_output_path

            put(self, "out", check_output_path(self.out))

    @staticmethod
    def _check_target(target: Any) -> tuple[float, ...] | dict[str, float]:
        if isinstance(target, Mapping):
            out = {}
            for name, value in target.items():
                if not isinstance(name, str):
                    raise TargetError(f"condition names must be strings. Received: {name!r}", field="target")
                out[name] = _target_value(value, f"target[{name!r}]")
            return out
        if isinstance(target, (str, bytes)) or not isinstance(target, (Sequence, np.ndarray)):
            raise TargetError(
                f"must be a sequence of numbers (condition order) or a mapping name -> value. Received: {target!r}",
                field="target",
            )
        values = np.asarray(target, dtype=object).reshape(-1)
        return tuple(_target_value(v, f"target[{i}]") for i, v in enumerate(values))

    @property
    def goal_mode(self) -> bool:
        """Whether the request has goals or objectives (section 7) rather than a target alone."""
        return bool(self.goals or self.objectives)

    def classic_target(self, names: Sequence[str]) -> dict[str, float] | None:
        """The point target equal to this request, or None: a request whose goals are point
        goals that, with its target, cover every condition once, with no descriptor goal
        and no objective, is the classic request (section 7)."""
        if not self.goal_mode:
            return None
        if self.objectives or any(g.point is None or g.name not in names for g in self.goals):
            return None
        target = dict(self.target) if isinstance(self.target, dict) else (
            dict(zip(names, self.target)) if len(self.target) == len(names) else None)  # fmt: skip
        if target is None:
            return None
        for goal in self.goals:
            target[goal.name] = goal.point
        if sorted(target) != sorted(names):
            return None
        return {name: target[name] for name in names}

    def replace(self, **changes) -> DesignRequest:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def target_values(self, names: Sequence[str], training_range: np.ndarray | None = None) -> np.ndarray:
        """The target as float64 in the order of `names` (the generator's conditions), checked.

        A negative value is refused for a condition whose training values were never
        negative, or whose training range is not recorded (`training_range` None); a
        condition whose training data has negative values (a temperature in °C) accepts one.

        Raises:
            TargetError: the wrong number of values, unknown or missing names, or a
                negative value where the training data has none (``field`` names it).
        """
        names = list(names)
        if isinstance(self.target, dict):
            unknown = sorted(set(self.target) - set(names))
            if unknown:
                raise TargetError(f"the model is conditioned on {names}; unknown target(s) {unknown}.", field="target")
            missing = [name for name in names if name not in self.target]
            if missing:
                raise TargetError(f"missing target value(s) for {missing}.", field="target")
            values = [self.target[name] for name in names]
            fields = [f"target[{name!r}]" for name in names]
        else:
            if len(self.target) != len(names):
                raise TargetError(
                    f"expected {len(names)} target values ({', '.join(names)}). Received {len(self.target)}: "
                    f"{list(self.target)}",
                    field="target",
                )
            values = list(self.target)
            fields = [f"target[{i}]" for i in range(len(names))]
        for j, (name, value, field) in enumerate(zip(names, values, fields)):
            if value < 0 and (training_range is None or training_range[0][j] >= 0):
                known = "" if training_range is None else " (its training values are never negative)"
                raise TargetError(f"must be nonnegative{known}. Received: {value:g}", field=field)
            if training_range is not None:
                low, high = float(training_range[0][j]), float(training_range[1][j])
                reach = FAR_OUTSIDE * (high - low)
                floor = max(low - reach, 0.0) if low >= 0 else low - reach
                if not low - reach <= value <= high + reach:
                    raise TargetError(
                        f"{value:g} is far outside the training data of {name} ({low:.4g} to {high:.4g}): "
                        "more than the data's range beyond it, where the models know nothing. Aim "
                        f"between {floor:.4g} and {high + reach:.4g}.",
                        field=field,
                    )
        return np.asarray(values, dtype=np.float64)


FAR_OUTSIDE = 1.0
"""A target more than this many training ranges beyond the training data of its condition
is refused (`TargetError`); one outside the data but nearer is served, with a note that
the designs are extrapolations."""


def as_request(target: Any, **options) -> DesignRequest:
    """A `DesignRequest` from itself (no options) or from a target and options."""
    if isinstance(target, DesignRequest):
        if options:
            return target.replace(**options)
        return target
    return DesignRequest(target, **options)


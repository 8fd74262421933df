"""`propose`: the next batch of a closed-loop campaign, from the measured table alone
(docs/CAMPAIGNS.md).

One call: read the measured table; train the campaign learner on it
(`hea_zoo.campaign.learner`: a cross-conformal ensemble with calibrated intervals); draw
candidates from the sources (`hea_zoo.campaign.sources`) or the pool; repair them under the
constraints and keep those that meet every exact-descriptor goal and are not measured;
score them by the acquisition (`hea_zoo.campaign.acquisition`); refine the best by
mutation; pick a spread batch. Nothing is kept between calls: the measured table is the
whole state, and the same table with the same seed gives the same batch.

Measurement settings (``settings={"test_temperature": 1000}``): the named columns of the
measured table are inputs of the learner beside the compositions; one alloy measured at
two settings is two rows; candidates are scored, and proposed, at the requested values;
"measured" (never proposed again, successes, best so far) means measured at them.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from hea_zoo.errors import DataError, TargetError, UsageError

__all__ = ["Proposal", "propose", "proposal_settings", "DEFAULT_SOURCES", "DEFAULT_CANDIDATES", "MIN_DISTANCE"]

DEFAULT_SOURCES = ("random", "mutation", "prior")
"""Candidate sources without a pool (docs/CAMPAIGNS.md: measured on the oracle lab)."""

DEFAULT_CANDIDATES = 6000
"""Candidates scored per call before the refinement rounds (which score as many again)."""

MIN_DISTANCE = 0.1
"""Two proposals of one batch differ by at least this share of atoms (L1/2 of their
fractions: 0.1 = 10 at.%; `nearest_distance` is the same measure in at.%)."""

REFINE_ROUNDS = 2
"""Rounds of mutating the best-scored candidates (a local search of the acquisition)."""

_REFINE_PARENTS = 64


@dataclasses.dataclass
class Proposal:
    """The next batch of a campaign.

    Attributes:
        table: one row per proposal in rank order: ``rank``, ``formula``, each setting
            (with `settings`: the value the batch is measured at), per property
            ``<name>_mean``, ``<name>_lower``, ``<name>_upper`` (the calibrated interval),
            the exact descriptors the goals name, ``p_goals``, ``acquisition``, ``source``,
            ``nearest_measured``, ``nearest_distance`` (at.%), then one column per element.
        compositions: (batch, E) float64 atomic fractions over `elements`.
        elements: the design space's element symbols.
        summary: measured rows and alloys, best so far per goal and objective, successes
            so far, seconds, candidates scored, the learner's time.
        model: the trained campaign learner (`hea_zoo.campaign.learner.CampaignModel`;
            ``model.surrogate()`` is a plain calibrated `Surrogate`).
        settings: the measurement settings the batch is proposed at (name -> value; empty
            without settings); `table` has a column for each, after ``formula``.
    """

    table: pd.DataFrame
    compositions: np.ndarray
    elements: tuple[str, ...]
    summary: dict
    model: Any = dataclasses.field(default=None, repr=False)
    _state: Any = dataclasses.field(default=None, repr=False)
    settings: dict = dataclasses.field(default_factory=dict)

    def plot(self, path: str | os.PathLike) -> str:
        """A PNG of the campaign's progress (`hea_zoo.campaign.progress.plot_progress`)."""
        from hea_zoo.campaign.progress import plot_progress

        return plot_progress(self, path)

    def write(self, out: str | os.PathLike) -> str:
        """Writes `table` to a .csv or .parquet file atomically (`hea_zoo.files`)."""
        from hea_zoo.files import atomic_write, resolve_output, table_format

        resolve_output(out, field="out")
        kind = table_format(out, field="out")
        if kind == "parquet":
            atomic_write(out, lambda tmp: self.table.to_parquet(tmp, index=False), field="out")
        else:
            atomic_write(out, lambda tmp: self.table.to_csv(tmp, index=False), field="out")
        return str(out)


# ----------------------------------------------------------------------------- input
def _names(value, field: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    out = list(value)
    if not all(isinstance(v, str) and v for v in out):
        raise UsageError(f"must be property names. Received: {field}={value!r}", field=field)
    return out


def _read_table(data, composition_column: str):
    """(frame, label) of the measured table; a Dataset gives its frame."""
    from hea_zoo.data.datasets import Dataset

    if isinstance(data, Dataset):
        return None, data.name
    if isinstance(data, pd.DataFrame):
        return data.reset_index(drop=True), "data"
    if isinstance(data, (str, os.PathLike)):
        from pathlib import Path

        path = Path(data)
        if not path.is_file():
            raise DataError(f"{path}: no such file (expected a CSV of measured alloys).", field="data")
        try:
            return pd.read_csv(path), path.name
        except Exception as err:
            raise DataError(f"cannot read {str(path)!r} as CSV: {err}", field="data") from None
    raise UsageError(f"must be a CSV path, a DataFrame or a Dataset. Received: {type(data).__name__}", field="data")


def _columns(data, composition_column: str) -> list[str]:
    """The column names of the measured table (a Dataset's property names)."""
    from hea_zoo.data.datasets import Dataset

    if isinstance(data, Dataset):
        return list(data.property_names) + list(data.setting_names)
    if isinstance(data, pd.DataFrame):
        return [str(c) for c in data.columns]
    if isinstance(data, (str, os.PathLike)):
        from pathlib import Path

        path = Path(data)
        if not path.is_file():
            raise DataError(f"{path}: no such file (expected a CSV of measured alloys).", field="data")
        try:
            return [str(c) for c in pd.read_csv(path, nrows=0).columns]
        except Exception as err:
            raise DataError(f"cannot read {str(path)!r} as CSV: {err}", field="data") from None
    raise UsageError(f"must be a CSV path, a DataFrame or a Dataset. Received: {type(data).__name__}", field="data")


def _line_error(err: DataError, field: str, offset: int = 2) -> DataError:
    row = getattr(err, "row", None)
    where = f"line {int(row) + offset} (row {row}, 0-based): " if isinstance(row, (int, np.integer)) else ""
    return DataError(f"{where}{err.message}", field=field)


def _pool_fractions(pool, composition_column: str, elements: tuple[str, ...] | None):
    """(formulas, fractions or None, found elements) of a pool (CSV path, frame, formulas)."""
    from hea_zoo.data.composition import parse_compositions

    if isinstance(pool, (str, os.PathLike)):
        from pathlib import Path

        path = Path(pool)
        if not path.is_file():
            raise DataError(f"{path}: no such file (expected a CSV with a {composition_column!r} column).", field="pool")
        frame = pd.read_csv(path)
    elif isinstance(pool, pd.DataFrame):
        frame = pool.reset_index(drop=True)
    elif isinstance(pool, Sequence):
        frame = pd.DataFrame({composition_column: list(pool)})
    else:
        raise UsageError(f"must be a CSV path, a DataFrame or a list of formulas. Received: {type(pool).__name__}",
                         field="pool")  # fmt: skip
    if composition_column not in frame.columns:
        raise DataError(f"no {composition_column!r} column. Columns: {', '.join(map(str, frame.columns))}.", field="pool")
    formulas = frame[composition_column].tolist()
    if not formulas:
        raise DataError("the pool is empty.", field="pool")
    try:
        x, found = parse_compositions(formulas, elements, field="pool")
    except DataError as err:
        raise _line_error(err, "pool") from None
    return [str(f) for f in formulas], x, found


def _setting_rows(values: np.ndarray, names: Sequence[str], what: str, field: str, offset: int = 2) -> None:
    """A DataError naming the setting column and its rows without a value (NaN)."""
    for j, name in enumerate(names):
        bad = np.flatnonzero(np.isnan(values[:, j]))
        if len(bad):
            shown = ", ".join(str(int(r) + offset) for r in bad[:10]) + (", ..." if len(bad) > 10 else "")
            rows = ", ".join(str(int(r)) for r in bad[:10]) + (", ..." if len(bad) > 10 else "")
            raise DataError(
                f"setting {name!r} has no value on {len(bad)} row(s) of the {what}: line(s) {shown} (rows {rows}, "
                "0-based). Every row needs the value it was measured at (or leave the setting out of settings).",
                field=field,
            )
        if np.isinf(values[:, j]).any():
            r = int(np.flatnonzero(np.isinf(values[:, j]))[0])
            raise DataError(f"line {r + offset}: setting {name!r} is not finite.", field=field)


def _numbers(frame: pd.DataFrame, columns: Sequence[str], what) -> np.ndarray:
    """(N, C) float64 values of `columns` (empty cells are NaN); a cell that is not a number
    is a DataError naming its line and ``what(column)``."""
    values = frame[list(columns)].apply(pd.to_numeric, errors="coerce")
    for c in columns:
        bad = values[c].isna() & frame[c].notna()
        if bad.any():
            r = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"line {r + 2}: {what(c)} is not a number ({frame[c].iloc[r]!r}).", field="data")
    return values.to_numpy(np.float64)


def _measured(data, composition_column, properties, elements, setting_names=()):
    """(fractions float64, values (N, P) with NaN, elements, groups, settings (N, S)).

    Groups are compositions (rounded to `GROUP_DECIMALS`) measured at the same settings."""
    from hea_zoo.data.datasets import Dataset, group_ids

    x, y, found = _measured_values(data, composition_column, properties, elements)
    if not setting_names:
        return x, y, found, group_ids(x), np.zeros((len(x), 0))
    if isinstance(data, Dataset):
        s = np.stack([data.settings[:, list(data.setting_names).index(n)] for n in setting_names], axis=1)
        s = s.astype(np.float64)  # finite: load_dataset refuses a row without a setting
    else:
        frame, _label = _read_table(data, composition_column)
        s = _numbers(frame, setting_names, lambda c: f"setting {c!r}")
        _setting_rows(s, setting_names, "measured table", "data")
    return x, y, found, group_ids(np.concatenate([x, s], axis=1)), s


def _measured_values(data, composition_column, properties, elements):
    """(fractions float64, values (N, P) with NaN, elements)."""
    from hea_zoo.data.composition import parse_compositions
    from hea_zoo.data.datasets import Dataset

    if isinstance(data, Dataset):
        missing = [p for p in properties if p not in data.property_names]
        if missing:
            raise TargetError(
                f"{missing} not among the data's properties ({', '.join(data.property_names)}).", field="properties"
            )
        cols = [data.property_names.index(p) for p in properties]
        x = data.compositions.astype(np.float64)
        found = tuple(data.elements)
        if elements is not None:
            extra = [e for e, v in zip(found, x.any(axis=0)) if v and e not in elements]
            if extra:
                raise DataError(f"the data holds {extra}, outside the elements {list(elements)}.", field="elements")
            idx = {e: j for j, e in enumerate(found)}
            x = np.stack([x[:, idx[e]] if e in idx else np.zeros(len(x)) for e in elements], axis=1)
            found = tuple(elements)
        y = data.properties[:, cols].astype(np.float64)
        return x, y, found
    frame, _label = _read_table(data, composition_column)
    if composition_column not in frame.columns:
        raise DataError(
            f"no {composition_column!r} column. Columns: {', '.join(map(str, frame.columns))}.",
            field="composition_column",
        )
    missing = [p for p in properties if p not in frame.columns]
    if missing:
        raise TargetError(
            f"{missing} not among the data's columns ({', '.join(c for c in map(str, frame.columns) if c != composition_column)}).",
            field="properties",
        )
    if not len(frame):
        raise DataError("the measured table has no rows.", field="data")
    try:
        x, found = parse_compositions(frame[composition_column].tolist(), elements, field="data")
    except DataError as err:
        raise _line_error(err, "data") from None
    y = _numbers(frame, properties, str)
    if not np.all(np.isfinite(y) | np.isnan(y)):
        raise DataError("a property value is infinite.", field="data")
    return x.astype(np.float64), y, tuple(found)


def _merge(x, y, groups):
    """One row per composition group: the group's first composition, the median of each
    measured property (NaN where no row of the group has it)."""
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    first = np.array([np.flatnonzero(groups == g)[0] for g in range(n_groups)], dtype=np.int64)
    if n_groups == len(groups):
        return x, y, np.arange(len(groups))
    out = np.full((n_groups, y.shape[1]), np.nan)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for g in range(n_groups):
            out[g] = np.nanmedian(y[groups == g], axis=0)
    return x[first], out, np.arange(n_groups)


# ----------------------------------------------------------------------------- propose
def propose(
    data,
    goals: Sequence = (),
    maximize=None,
    minimize=None,
    properties: Sequence[str] | None = None,
    batch: int = 8,
    seed: int = 0,
    composition_column: str = "composition",
    elements: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    max_elements: int | None = None,
    min_elements: int | None = None,
    bounds: Mapping[str, tuple[float, float]] | Sequence[str] | None = None,
    pool=None,
    prior=None,
    sources: Sequence[str] | None = None,
    candidates: int | None = None,
    min_fraction: float | None = None,
    min_distance: float = MIN_DISTANCE,
    coverage: float = 0.9,
    learner: Mapping[str, Any] | None = None,
    settings: Mapping[str, float] | None = None,
) -> Proposal:
    """The next `batch` alloys to measure, from the measured table alone (module text).

    Args:
        data: the measured alloys: a CSV path, a DataFrame or a `hea_zoo.Dataset`, with a
            composition column and property columns (a missing value is allowed: a row
            teaches the properties it has).
        goals: goals in the language of `hea_zoo.serving.design.goals` (``"NAME>=V"``,
            ``"NAME<=V"``, ``"NAME=LO:HI"``, ``"NAME=V"`` or `Goal`s), on a learned
            property or an exact descriptor (density, vec, delta, dhmix, omega, tm: hard
            constraints).
        maximize, minimize: a property (or descriptor) name or a sequence of them; at most
            two objectives in all.
        properties: the columns to learn (default: every property the goals and
            objectives name; descriptors are computed, not learned).
        batch: proposals to return (>= 1).
        seed: seed of the learner, the sources and ties.
        composition_column: the formula column of `data` and `pool`.
        elements: the design space (default: the elements of data and pool).
        exclude, max_elements, bounds, min_fraction: constraints, as design's
            (`hea_zoo.serving.constraints.Constraints`).
        min_elements: fewest elements of a random candidate (default 3, or fewer when
            fewer are allowed).
        pool: candidates only from these (a CSV path with `composition_column`, a
            DataFrame, or a list of formulas): a pool-based campaign.
        prior: None (property knowledge from `data` alone), ``"mpea"``, or a CSV path of
            labelled alloys with the same property columns: its rows join the training
            rows (never the measured table, the successes or the nearest alloys).
        sources: candidate sources without a pool (`hea_zoo.campaign.sources.SOURCES`;
            default `DEFAULT_SOURCES`).
        candidates: candidates drawn before refinement (default `DEFAULT_CANDIDATES`).
        min_distance: smallest L1/2 distance between two proposals of the batch.
        coverage: nominal coverage of the intervals.
        learner: overrides of `hea_zoo.campaign.learner.LEARNER_DEFAULTS`.
        settings: the measurement settings the batch will be measured at, a mapping
            name -> value (``{"test_temperature": 1000}``; the rule of design's
            ``settings``). Each names a numeric column of `data` (every row needs a value):
            the learner takes it as an input beside the composition, candidates are scored
            at the given values, and an alloy counts as measured (never proposed again, a
            success, the best so far) only on rows measured at them. Columns not named
            here are not inputs. The pool's alloys are scored at these values; a prior
            table needs the setting columns too. None or empty: no settings.

    Returns:
        A `Proposal`.

    Raises:
        UsageError, DataError, TargetError: naming the field at fault.

    Example:
        >>> p = propose("measured.csv", goals=["shear_modulus>=70", "fracture_toughness>=50"])  # doctest: +SKIP
        >>> p.write("next.csv")  # doctest: +SKIP
    """
    from hea_zoo.data.descriptors import DescriptorTable
    from hea_zoo.serving.constraints import Constraints, apply_constraints
    from hea_zoo.serving.design.goals import DESCRIPTOR_GOALS, parse_goal, plan_goals
    from hea_zoo.serving.design.request import check_settings

    from hea_zoo.campaign import acquisition, learner as learner_module, sources as source_module

    start = time.perf_counter()
    # --- arguments
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
        raise UsageError(f"must be an integer >= 1. Received: batch={batch!r}", field="batch")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UsageError(f"must be an integer >= 0. Received: seed={seed!r}", field="seed")
    n_candidates = DEFAULT_CANDIDATES if candidates is None else candidates
    if isinstance(n_candidates, bool) or not isinstance(n_candidates, (int, np.integer)) or n_candidates < 1:
        raise UsageError(f"must be an integer >= 1. Received: candidates={candidates!r}", field="candidates")
    if min_elements is not None and (isinstance(min_elements, bool) or not isinstance(min_elements, (int, np.integer))
                                     or min_elements < 1):
        raise UsageError(f"must be an integer >= 1. Received: min_elements={min_elements!r}", field="min_elements")
    if isinstance(goals, str):
        goals = [goals]
    goal_list = [parse_goal(g, field=f"goals[{i}]") for i, g in enumerate(goals or ())]
    objectives = [(n, "max") for n in _names(maximize, "maximize")] + [(n, "min") for n in _names(minimize, "minimize")]
    if len(objectives) > 2:
        raise TargetError(f"at most two objectives. Received: {[n for n, _ in objectives]}", field="objectives")
    if not goal_list and not objectives:
        raise TargetError("give at least one goal or objective (e.g. goals=['shear_modulus>=70']).", field="goals")
    if sources is None:
        sources = DEFAULT_SOURCES
    sources = tuple([sources] if isinstance(sources, str) else sources)
    unknown = [s for s in sources if s not in source_module.SOURCES]
    if unknown or not sources:
        raise UsageError(f"unknown source(s) {unknown}; valid: {', '.join(source_module.SOURCES)}.", field="sources")
    min_distance = float(min_distance)
    if not 0.0 <= min_distance < 1.0:
        raise UsageError(f"must be in [0, 1). Received: min_distance={min_distance}", field="min_distance")
    at = check_settings(settings)
    setting_names = tuple(at)
    named = [g.name for g in goal_list] + [n for n, _ in objectives]
    columns = _columns(data, composition_column)
    for name in setting_names:
        if name not in columns or name == composition_column:
            raise DataError(
                f"{name!r} is not a column of the measured table. Columns: {', '.join(columns)}.",
                field=f"settings[{name!r}]",
            )
        if name in named or (properties is not None and name in _names(properties, "properties")):
            raise UsageError(
                f"{name!r} is a measurement setting (an input of the learner), not a property to learn or a goal.",
                field=f"settings[{name!r}]",
            )
    valid = [c for c in columns if c != composition_column and c not in setting_names] + list(DESCRIPTOR_GOALS)
    for what, names in (("goals", [g.name for g in goal_list]), ("objectives", [n for n, _ in objectives])):
        for i, name in enumerate(names):
            if name not in valid:
                raise TargetError(f"unknown name {name!r}; valid names: {', '.join(valid)}.", field=f"{what}[{i}]")
    if properties is None:
        properties = [n for n in dict.fromkeys(named) if n not in DESCRIPTOR_GOALS]
    else:
        properties = _names(properties, "properties")
    if elements is not None:
        elements = tuple(_names(elements, "elements"))
    # --- the measured table
    x, y, found, groups, measured_settings = _measured(data, composition_column, properties, elements, setting_names)
    pool_formulas = pool_x = None
    if pool is not None:
        pool_formulas, pool_x, pool_found = _pool_fractions(pool, composition_column, elements)
        if elements is None:
            union = tuple(sorted(set(found) | set(pool_found)))
            idx = {e: j for j, e in enumerate(union)}
            x = _reindex(x, found, idx, len(union))
            pool_x = _reindex(pool_x.astype(np.float64), pool_found, idx, len(union))
            found = union
        else:
            pool_x = pool_x.astype(np.float64)
    elements = found
    for i, goal in enumerate(goal_list):
        if goal.name not in properties and goal.name not in DESCRIPTOR_GOALS:
            raise TargetError(
                f"unknown name {goal.name!r}; valid names: {', '.join(list(properties) + list(DESCRIPTOR_GOALS))}.",
                field=f"goals[{i}]",
            )
    n_rows = len(y)
    if setting_names:  # one alloy at two settings is two rows
        xs, y, groups = _merge(np.concatenate([x, measured_settings], axis=1), y, groups)
        x, measured_settings = xs[:, : x.shape[1]], xs[:, x.shape[1] :]
    else:
        x, y, groups = _merge(x, y, groups)
        measured_settings = np.zeros((len(x), 0))
    if not properties:
        raise TargetError("no property to learn: name one in goals, an objective, or properties.", field="properties")
    # --- constraints and goals
    constraints = Constraints(elements=None, exclude=tuple(_names(exclude, "exclude")), max_elements=max_elements,
                              bounds=bounds or {}, min_fraction=min_fraction)  # fmt: skip
    rules = constraints.resolve(elements)
    plan = plan_goals(goal_list, objectives, (), list(properties), None, list(elements), rules.allowed, 0.05, 0.5)
    table = DescriptorTable(elements)
    descriptor_names = list(plan.descriptor_columns)
    # --- the learner (property knowledge from the data, and the prior when asked)
    train_x, train_y, train_s = x, y, measured_settings
    if prior is not None:
        px, py, ps = _prior_rows(prior, composition_column, properties, elements, setting_names)
        train_x, train_y = np.concatenate([x, px]), np.concatenate([y, py])
        train_s = np.concatenate([measured_settings, ps])
    from hea_zoo.data.datasets import group_ids

    if setting_names:
        model = learner_module.train_campaign_model(
            train_x, train_y, elements, properties, groups=group_ids(train_x), seed=int(seed), coverage=coverage,
            setting_values=train_s, setting_names=setting_names, **dict(learner or {}),
        )  # fmt: skip
    else:
        model = learner_module.train_campaign_model(
            train_x, train_y, elements, properties, groups=group_ids(train_x), seed=int(seed), coverage=coverage,
            **dict(learner or {}),
        )  # fmt: skip
    rng = np.random.default_rng([int(seed), 28])
    from hea_zoo.data.datasets import GROUP_DECIMALS

    unit = 10**GROUP_DECIMALS  # the thousandths candidates are printed in
    # Rows measured at the requested settings (compared as groups are: in thousandths).
    here = _at_settings(measured_settings, at, unit)
    measured_keys = {row.tobytes() for row in np.round(x[here] * unit).astype(np.int64)}
    # --- the best measured so far (for EI, the front and the mutation parents): at the settings
    measured_desc = table.compute_fractions(x, descriptor_names) if descriptor_names else {}
    y_here = y if here.all() else np.where(here[:, None], y, np.nan)
    meets = _meets(plan, y_here, measured_desc) & here
    state = _State(plan, properties, objectives, y_here, measured_desc, meets, model, at=at or None, y_all=y)
    # --- candidates
    seen: set[bytes] = set()
    pool_k = None
    if pool is not None:
        from hea_zoo.artifact import printed_thousandths

        pool_rules = dataclasses.replace(rules, min_k=1) if min_fraction is None else rules
        pool_k, ok = printed_thousandths(pool_x, 1e-6)
        ok &= pool_rules.satisfied(pool_k)
        cand = _Candidates(pool_x[ok], pool_k[ok], ["pool"] * int(ok.sum()),
                           [pool_formulas[i] for i in np.flatnonzero(ok)])  # fmt: skip
        # compared as the measured table is (fractions rounded to GROUP_DECIMALS), not as printed
        cand = cand.filter(_fresh(np.round(cand.fractions * unit).astype(np.int64), measured_keys, seen))
        if descriptor_names:
            cand = cand.filter(_descriptor_ok(plan, table, cand.k))
    else:
        raw, labels = _draw(sources, n_candidates, x, y, state, rules, elements, min_elements, max_elements, rng,
                            source_module)  # fmt: skip
        cand = _repaired(raw, labels, rules, apply_constraints, plan, table, descriptor_names, measured_keys, seen)
    if not len(cand):
        raise TargetError(
            "no candidate meets the constraints and exact-descriptor goals without repeating a measured alloy"
            + (" (the pool holds none)." if pool is not None else "."),
            field="pool" if pool is not None else "goals",
        )
    scored = state.score(cand.fractions)
    n_scored = len(cand)
    if pool is None:
        for _ in range(REFINE_ROUNDS):
            top = np.argsort(-scored, kind="stable")[:_REFINE_PARENTS]
            mutants, parent = source_module.mutate(cand.fractions[top], n_candidates // (2 * REFINE_ROUNDS),
                                                   rules.allowed, rng, scale=0.2)  # fmt: skip
            labels = [_refined(cand.source[top[i]]) for i in parent]
            extra = _repaired(mutants, labels, rules, apply_constraints, plan, table, descriptor_names, measured_keys,
                              seen)  # fmt: skip
            if len(extra):
                cand = cand.join(extra)
                scored = np.concatenate([scored, state.score(extra.fractions)])
                n_scored += len(extra)
    # --- the batch
    fractions = cand.k.astype(np.float64) / 1000.0 if pool is None else cand.fractions
    update = state.believer(cand.fractions) if len(objectives) == 2 else None
    picked = acquisition.greedy_spread(scored, fractions, int(batch), min_distance, update)
    final = cand.take(picked)
    mean, lower, upper = model.predict_interval(final.fractions, settings=at or None)
    p_goals = plan.p_goals(mean, lower, upper, state.z)
    acq = state.score(final.fractions, picked_scores=scored[picked])
    frame = _frame(final, elements, properties, mean, lower, upper, p_goals, acq, table, descriptor_names, x, pool,
                   at)  # fmt: skip
    summary = state.summary(x, elements, len(y))
    summary["measured_rows"] = int(n_rows)
    if at:
        summary["settings"] = dict(at)
        summary["measured_at_settings"] = int(here.sum())
        summary["measured_compositions"] = int(len(np.unique(group_ids(x))))
    summary.update(
        {
            "seconds": round(time.perf_counter() - start, 3),
            "learner_seconds": round(model.seconds, 3),
            "candidates_scored": int(n_scored),
            "proposed": int(len(frame)),
            "sources": {str(s): int(v) for s, v in zip(*np.unique(np.asarray(cand.source), return_counts=True))},
            "prior": None if prior is None else str(prior),
        }
    )
    return Proposal(frame, fractions[picked], tuple(elements), summary, model, state, dict(at))


# ----------------------------------------------------------------------------- helpers
def proposal_settings(table: pd.DataFrame) -> list[str]:
    """The measurement-setting columns of a proposal table (`Proposal.table`, or its CSV):
    the columns between ``formula`` and the first ``<property>_mean``; [] for a table that
    is not a proposal (no ``formula``, ``p_goals`` and ``acquisition`` columns)."""
    columns = [str(c) for c in table.columns]
    if not {"formula", "p_goals", "acquisition"} <= set(columns):
        return []
    out = []
    for c in columns[columns.index("formula") + 1 :]:
        if c.endswith("_mean") or c in ("p_goals", "acquisition"):
            break
        out.append(c)
    return out


def _refined(source: str) -> str:
    """The label of a refinement mutant: its lineage's first source, then ``+refine``."""
    return source if source.endswith("+refine") else f"{source}+refine"


def _at_settings(values: np.ndarray, at: Mapping[str, float], unit: int) -> np.ndarray:
    """(N,) rows whose settings equal the requested values (in thousandths; all rows without
    settings)."""
    if not at:
        return np.ones(len(values), bool)
    want = np.round(np.array([float(v) for v in at.values()]) * unit).astype(np.int64)
    return np.all(np.round(values * unit).astype(np.int64) == want[None], axis=1)


def _reindex(x, found, index, size):
    out = np.zeros((x.shape[0], size))
    for j, e in enumerate(found):
        out[:, index[e]] = x[:, j]
    return out


def _prior_rows(prior, composition_column, properties, elements, setting_names=()):
    """Labelled rows of a prior table over `elements` (rows with another element dropped),
    and their setting values (N, S)."""
    from hea_zoo.data.composition import parse_compositions

    if isinstance(prior, str) and prior.strip().lower() == "mpea":
        from hea_zoo.data.datasets import load_dataset

        try:
            ds = load_dataset("mpea", properties=list(properties), dropna=True, verbose=False,
                              settings=list(setting_names) or None)  # fmt: skip
        except DataError as err:
            raise DataError(err.message, field="prior") from None
        fx, fy, found = ds.compositions.astype(np.float64), ds.properties.astype(np.float64), ds.elements
        fs = ds.settings.astype(np.float64)
    else:
        from pathlib import Path

        path = Path(prior)
        if not path.is_file():
            raise DataError(f"{path}: no such file; prior is None, 'mpea' or a CSV path.", field="prior")
        frame = pd.read_csv(path)
        missing = [p for p in [composition_column, *properties, *setting_names] if p not in frame.columns]
        if missing:
            raise DataError(f"the prior table has no column(s) {missing}.", field="prior")
        try:
            fx, found = parse_compositions(frame[composition_column].tolist(), None, field="prior")
        except DataError as err:
            raise _line_error(err, "prior") from None
        fx = fx.astype(np.float64)
        fy = frame[list(properties)].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
        fs = frame[list(setting_names)].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
        if setting_names:
            _setting_rows(fs, setting_names, "prior table", "prior")
    inside = np.ones(len(fx), bool)
    for j, e in enumerate(found):
        if e not in elements:
            inside &= fx[:, j] <= 0
    idx = {e: j for j, e in enumerate(elements)}
    out = np.zeros((int(inside.sum()), len(elements)))
    for j, e in enumerate(found):
        if e in idx:
            out[:, idx[e]] = fx[inside, j]
    return out, fy[inside], fs[inside].reshape(int(inside.sum()), len(setting_names))


@dataclasses.dataclass
class _Candidates:
    fractions: np.ndarray
    k: np.ndarray
    source: list
    formulas: list | None = None

    def __len__(self):
        return int(self.fractions.shape[0])

    def filter(self, keep):
        keep = np.asarray(keep, bool)
        idx = np.flatnonzero(keep)
        return self.take(idx)

    def take(self, idx):
        return _Candidates(self.fractions[idx], self.k[idx], [self.source[i] for i in idx],
                           None if self.formulas is None else [self.formulas[i] for i in idx])  # fmt: skip

    def join(self, other):
        formulas = None
        if self.formulas is not None or other.formulas is not None:
            formulas = (self.formulas or [None] * len(self)) + (other.formulas or [None] * len(other))
        return _Candidates(np.concatenate([self.fractions, other.fractions]), np.concatenate([self.k, other.k]),
                           self.source + other.source, formulas)  # fmt: skip


def _fresh(k, measured_keys, seen) -> np.ndarray:
    """Rows not measured and not seen before (the first of repeats), `seen` updated."""
    keep = np.zeros(len(k), bool)
    for i, row in enumerate(np.asarray(k, np.int64)):
        key = row.tobytes()
        if key in measured_keys or key in seen:
            continue
        seen.add(key)
        keep[i] = True
    return keep


def _descriptor_ok(plan, table, k) -> np.ndarray:
    values = table.compute(np.asarray(k, np.int64), [n for n, _lo, _hi in plan.descriptor_goals])
    return plan.descriptors_met(values, len(k))


def _repaired(raw, labels, rules, apply_constraints, plan, table, descriptor_names, measured_keys, seen):
    if not len(raw):
        return _Candidates(np.zeros((0, rules.allowed.size)), np.zeros((0, rules.allowed.size), np.int32), [])
    from hea_zoo.serving.constraints import _repair

    k, ok = _repair(np.asarray(raw, np.float64), rules)
    idx = np.flatnonzero(ok)
    k = k[idx]
    labels = [labels[i] for i in idx]
    cand = _Candidates(k.astype(np.float64) / 1000.0, k, labels)
    if plan.descriptor_goals:
        cand = cand.filter(_descriptor_ok(plan, table, cand.k))
    return cand.filter(_fresh(cand.k, measured_keys, seen))


def _draw(sources, n, x, y, state, rules, elements, min_elements, max_elements, rng, source_module):
    """Raw candidates from the sources, in shares of `n` (module text of sources)."""
    allowed, required = rules.allowed, rules.required
    n_allowed = int(allowed.sum())
    lo = 3 if min_elements is None else int(min_elements)
    hi = 7 if max_elements is None else int(max_elements)
    hi = max(min(hi, n_allowed, rules.max_elements), 1)
    lo = max(min(lo, hi), int(required.sum()), 1)
    shares = {"random": 0.5, "mutation": 0.3, "prior": 0.1, "generator": 0.1}
    total = sum(shares[s] for s in sources)
    raws, labels = [], []
    for s in sources:
        m = int(round(n * shares[s] / total))
        if s == "random":
            r = source_module.random_compositions(m, allowed, required, lo, hi, rng)
        elif s == "mutation":
            parents = x[state.parent_order()[:16]]
            r, _ = source_module.mutate(parents, m, allowed, rng)
        elif s == "prior":
            base = source_module.prior_formulas(elements, allowed)
            if len(base):
                mutants, _ = source_module.mutate(base, max(m - len(base), 0), allowed, rng, scale=0.2)
                r = np.concatenate([base, mutants])
            else:
                r = np.zeros((0, len(elements)))
        else:  # generator
            from hea_zoo.campaign.generator import generated

            r = generated(x, y, state, m, elements, rng)
        raws.append(r)
        labels += [s] * len(r)
    return np.concatenate(raws) if raws else np.zeros((0, len(elements))), labels


def _meets(plan, y, descriptors) -> np.ndarray:
    """(N,) measured rows meeting every goal (measured values; descriptors exactly)."""
    ok = np.ones(len(y), bool)
    for j, lo, hi in plan.property_goals:
        v = y[:, j]
        ok &= np.isfinite(v) & (v >= lo) & (v <= hi)
    return ok & plan.descriptors_met(descriptors, len(y))


class _State:
    """What the acquisition needs of the measured table and the learner."""

    def __init__(self, plan, properties, objectives, y, descriptors, meets, model, at=None, y_all=None):
        from hea_zoo.campaign.acquisition import sigma_of
        from hea_zoo.serving.design.goals import interval_z

        self.plan, self.properties, self.objectives = plan, list(properties), list(objectives)
        self.z = interval_z(model.coverage)  # the learner's intervals are at its coverage
        self.y, self.descriptors, self.meets, self.model = y, descriptors, meets, model
        self.at = at  # the settings candidates are scored at (None: a learner without settings)
        # σ of each measured row's out-of-fold prediction (how far from a goal counts as near),
        # over every measured row (`y_all`; `y` holds only the rows measured at the settings)
        ya = y if y_all is None else y_all
        self.scale = np.array([np.nanmedian(np.abs(model.oof_mean[: len(ya), j] - ya[:, j])) + 1e-9 for j in range(ya.shape[1])])
        self.sigma_of = sigma_of
        self.reference = None
        if len(objectives) == 2:
            v = self._objective_matrix_measured()
            finite = np.all(np.isfinite(v), axis=1)
            vv = v[finite] if finite.any() else np.zeros((1, 2))
            span = np.maximum(vv.max(axis=0) - vv.min(axis=0), 1e-9)
            self.reference = vv.min(axis=0) - 0.1 * span
            feasible = finite & meets
            self.front = v[feasible] if feasible.any() else np.zeros((0, 2))

    def _objective_matrix_measured(self) -> np.ndarray:
        cols = []
        for name, direction in self.objectives:
            v = self.y[:, self.properties.index(name)] if name in self.properties else self.descriptors[name]
            cols.append(v if direction == "max" else -v)
        return np.stack(cols, axis=1)

    def parent_order(self) -> np.ndarray:
        """Measured rows, most promising first: those meeting the goals and best by the
        first objective first; then by the log-probability of the goals if each row's
        measured value were a normal with the learner's typical error."""
        from hea_zoo.serving.design.goals import normal_cdf

        logp = np.zeros(len(self.y))
        for j, lo, hi in self.plan.property_goals:
            v, s = self.y[:, j], self.scale[j]
            with np.errstate(divide="ignore", invalid="ignore"):
                p = normal_cdf((hi - v) / s) - normal_cdf((lo - v) / s)
            logp += np.log(np.maximum(np.nan_to_num(p, nan=0.0), 1e-300))
        key = logp
        if self.objectives:
            v = self._objective_matrix_measured()[:, 0]
            span = np.nanstd(v) + 1e-9
            key = logp + np.nan_to_num(v / span, nan=-1e9) * 0.5
        return np.lexsort((np.arange(len(key)), -key))

    def score(self, fractions, picked_scores=None) -> np.ndarray:
        """The acquisition of each candidate (module text of `acquisition`)."""
        from hea_zoo.campaign.acquisition import expected_improvement, hypervolume_improvement

        if picked_scores is not None:
            return np.asarray(picked_scores, np.float64)
        mean, lower, upper = self.model.predict_interval(fractions, settings=self.at)
        p = self.plan.p_goals(mean, lower, upper, self.z)
        if not self.objectives:
            return p
        sigma = self.sigma_of(lower, upper, self.z)
        mu, sd = self._objective_moments(fractions, mean, sigma)
        if len(self.objectives) == 1:
            v = self._objective_matrix_measured()[:, 0]
            pool = v[self.meets & np.isfinite(v)]
            if not len(pool):
                pool = v[np.isfinite(v)]
            best = float(pool.max()) if len(pool) else float(mu[:, 0].min())
            return expected_improvement(mu[:, 0], sd[:, 0], best) * p + 1e-12 * p
        optimistic = mu + sd
        return hypervolume_improvement(optimistic, self.front, self.reference) * p + 1e-12 * p

    def _objective_moments(self, fractions, mean, sigma):
        mus, sds = [], []
        desc = None
        for name, direction in self.objectives:
            if name in self.properties:
                j = self.properties.index(name)
                m, s = mean[:, j], sigma[:, j]
            else:
                if desc is None:
                    from hea_zoo.data.descriptors import DescriptorTable

                    desc = DescriptorTable(self.model.elements).compute_fractions(
                        np.asarray(fractions) / np.asarray(fractions).sum(axis=1, keepdims=True),
                        [n for n, _ in self.objectives if n not in self.properties])  # fmt: skip
                m, s = desc[name], np.full(len(fractions), 1e-9)
            mus.append(m if direction == "max" else -m)
            sds.append(s)
        return np.stack(mus, axis=1), np.stack(sds, axis=1)

    def believer(self, fractions):
        """The two-objective update: a pick's predicted mean joins the front."""
        from hea_zoo.campaign.acquisition import hypervolume_improvement

        mean, lower, upper = self.model.predict_interval(fractions, settings=self.at)
        p = self.plan.p_goals(mean, lower, upper, self.z)
        mu, sd = self._objective_moments(fractions, mean, self.sigma_of(lower, upper, self.z))
        optimistic = mu + sd

        def update(taken, score):
            front = np.concatenate([self.front, mu[taken]])
            alive = np.isfinite(score)
            new = np.full(len(score), -np.inf)
            new[alive] = hypervolume_improvement(optimistic[alive], front, self.reference) * p[alive] + 1e-12 * p[alive]
            return new

        return update

    def summary(self, x, elements, n_rows) -> dict:
        best = {}
        for j, lo, hi in self.plan.property_goals:
            name = self.properties[j]
            v = self.y[:, j]
            finite = np.isfinite(v)
            if not finite.any():
                best[name] = None
            elif hi == math.inf:
                best[name] = float(v[finite].max())
            elif lo == -math.inf:
                best[name] = float(v[finite].min())
            else:
                best[name] = float(v[finite][np.argmin(np.abs(v[finite] - (lo + hi) / 2))])
        objectives = {}
        for name, direction in self.objectives:
            v = self.y[:, self.properties.index(name)] if name in self.properties else self.descriptors[name]
            ok = self.meets & np.isfinite(v)
            if ok.any():
                objectives[f"{direction}:{name}"] = float(v[ok].max() if direction == "max" else v[ok].min())
            else:
                objectives[f"{direction}:{name}"] = None
        from hea_zoo.artifact import formula_strings, printed_thousandths

        success_rows = np.flatnonzero(self.meets) if (self.plan.property_goals or self.plan.descriptor_goals) else []
        formulas = formula_strings(printed_thousandths(x[success_rows], 1e-6)[0], elements) if len(success_rows) else []
        return {
            "measured_alloys": int(n_rows),
            "goals": [g.text() for g in self.plan.goals],
            "objectives": [f"{d}:{n}" for n, d in self.objectives],
            "best_so_far": best,
            "best_objective_meeting_goals": objectives,
            "successes": int(len(success_rows)),
            "success_formulas": formulas[:20],
        }


def _frame(final, elements, properties, mean, lower, upper, p_goals, acq, table, descriptor_names, x, pool, at=None):
    from hea_zoo.artifact import formula_strings

    n = len(final)
    formulas = formula_strings(final.k, elements) if final.formulas is None else [
        f if f is not None else g for f, g in zip(final.formulas, formula_strings(final.k, elements))]  # fmt: skip
    cols: dict[str, Any] = {"rank": np.arange(1, n + 1), "formula": formulas}
    for name, value in (at or {}).items():  # the condition the lab measures the batch at
        cols[name] = np.full(n, value)
    for j, name in enumerate(properties):
        cols[f"{name}_mean"] = mean[:, j]
        cols[f"{name}_lower"] = lower[:, j]
        cols[f"{name}_upper"] = upper[:, j]
    if descriptor_names:
        values = table.compute_fractions(final.fractions / final.fractions.sum(axis=1, keepdims=True), descriptor_names)
        for name in descriptor_names:
            cols[name] = values[name]
    cols["p_goals"] = p_goals
    cols["acquisition"] = acq
    cols["source"] = list(final.source)
    # nearest measured alloy: L1/2 in at.%
    d = np.abs(final.fractions[:, None, :] - x[None, :, :]).sum(axis=2) / 2.0 * 100.0 if n else np.zeros((0, len(x)))
    nearest = np.argmin(d, axis=1) if n else np.zeros(0, np.int64)
    from hea_zoo.artifact import printed_thousandths

    measured_k = printed_thousandths(x, 1e-6)[0]
    near_formulas = formula_strings(measured_k[nearest], elements) if n else []
    cols["nearest_measured"] = near_formulas
    cols["nearest_distance"] = d[np.arange(n), nearest] if n else np.zeros(0)
    for e, symbol in enumerate(elements):
        cols[symbol] = final.fractions[:, e]
    return pd.DataFrame(cols)

"""Designs as rows: blocks of selected records with every column a row shows (section 6),
the result of a run (`DesignResult`) and the text table `hea-zoo design` prints."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hea_zoo.constants import short_label
from hea_zoo.serving.constraints import _UNIT
from hea_zoo.serving.design import text

if TYPE_CHECKING:  # pragma: no cover
    from hea_zoo.serving.design.designer import Designer

__all__ = ["SYSTEM_MIN_THOUSANDTHS", "DesignResult", "format_table"]

SYSTEM_MIN_THOUSANDTHS = 50
"""An alloy *system* is the set of elements with at least 50 thousandths (5 at.%)."""

_BOOLEAN_CELLS = text.token_table([t + b"," for t in text.BOOLEANS])


@dataclasses.dataclass
class _Block:
    """One block of designs, ready to be shown or written."""

    designer: Designer
    ranks: np.ndarray
    records: np.ndarray
    oracle: np.ndarray | None
    oracle_error: np.ndarray | None
    log_prob: np.ndarray | None
    in_tolerance: np.ndarray | None
    nearest: tuple[np.ndarray, np.ndarray] | None = None  # nearest training rows (k), distance (at.%)
    plan: Any = None  # goals.GoalPlan in goal mode (section 7)

    def columns(self) -> list[str]:
        d = self.designer
        goal = self.plan is not None
        cols = ["rank", "candidate", "formula"]
        if d.has_surrogate:
            for name in d.condition_names:
                cols += [f"{name}_surrogate", f"{name}_lower", f"{name}_upper"]
        if goal:
            cols.append("p_goals")
            cols += list(self.plan.descriptor_columns)
        if self.oracle is not None:
            cols += [f"{name}_oracle" for name in d.condition_names]
        if d.has_surrogate and not goal:
            cols.append("relative_error_surrogate")
        if self.oracle is not None and not goal:
            cols.append("relative_error_oracle")
        if d.has_surrogate and not goal:
            cols.append("in_tolerance")
        if self.log_prob is not None:
            cols.append("log_prob")
        cols.append("system")
        if self.nearest is not None:
            cols += ["nearest_training", "nearest_distance"]
        return cols + list(d.elements)

    def csv_bytes(self) -> bytes:
        """The block's CSV rows (columns as `columns`), built without a per-row loop."""
        d, r = self.designer, self.records
        if not r.size:
            return b""
        k = r["k"].astype(np.int64)
        rows, n_props = r.size, len(d.condition_names)
        sections = [
            text.integer_pieces(np.stack([self.ranks, r["index"]], axis=1), b","),
            d._texts.formula_pieces(k),
            text.constant_pieces(rows, b","),
        ]
        values = []
        if d.has_surrogate:
            for j in range(n_props):
                values += [r["mean"][:, j], r["lower"][:, j], r["upper"][:, j]]
        goal = self.plan is not None
        if self.oracle is not None and not goal:  # goal mode: after p_goals and the descriptors
            values += [self.oracle[:, j] for j in range(n_props)]
        if goal:
            if d.has_surrogate:  # the intervals, then p_goals and the descriptors, then the oracle
                sections.append(text.float_pieces(np.stack(values[: 3 * n_props], axis=1), 4, b","))
            values = []
            sections.append(text.float_pieces(r["p"], 6, b","))
            if self.plan.descriptor_columns:
                columns = len(self.plan.descriptor_columns)
                sections.append(text.float_pieces(r["desc"][:, :columns], 4, b","))
            if self.oracle is not None:
                values = [self.oracle[:, j] for j in range(n_props)]
        if values:
            sections.append(text.float_pieces(np.stack(values, axis=1), 4, b","))
        if not goal:
            errors = ([r["score"]] if d.has_surrogate else []) + ([self.oracle_error] if self.oracle is not None else [])
            if errors:
                sections.append(text.float_pieces(np.stack(errors, axis=1), 6, b","))
            if d.has_surrogate:
                sections.append(text.token_pieces(_BOOLEAN_CELLS, self.in_tolerance.astype(np.int64)))
        if self.log_prob is not None:
            sections.append(text.float_pieces(self.log_prob, 4, b","))
        sections.append(d._texts.system_pieces(k))
        sections.append(text.constant_pieces(rows, b","))
        if self.nearest is not None:
            sections.append(d._texts.formula_pieces(self.nearest[0]))
            sections.append(text.constant_pieces(rows, b","))
            sections.append(text.float_pieces(self.nearest[1], 2, b","))
        sections.append(d._texts.fraction_pieces(k, b",", last=b"\n"))
        return text.join_pieces(sections)

    def arrays(self) -> dict[str, Any]:
        """Column name -> values (NumPy arrays; formula and system as lists of str)."""
        d, r = self.designer, self.records
        k = r["k"].astype(np.int64)
        out: dict[str, Any] = {
            "rank": self.ranks.astype(np.int64),
            "candidate": r["index"].astype(np.int64),
            "formula": text.piece_strings(d._texts.formula_pieces(k)),
        }
        if d.has_surrogate:
            for j, name in enumerate(d.condition_names):
                out[f"{name}_surrogate"] = r["mean"][:, j].copy()
                out[f"{name}_lower"] = r["lower"][:, j].copy()
                out[f"{name}_upper"] = r["upper"][:, j].copy()
        goal = self.plan is not None
        if goal:
            out["p_goals"] = r["p"].copy()
            for c, name in enumerate(self.plan.descriptor_columns):
                out[name] = r["desc"][:, c].copy()
        if self.oracle is not None:
            for j, name in enumerate(d.condition_names):
                out[f"{name}_oracle"] = self.oracle[:, j]
        if d.has_surrogate and not goal:
            out["relative_error_surrogate"] = r["score"].copy()
        if self.oracle is not None and not goal:
            out["relative_error_oracle"] = self.oracle_error
        if d.has_surrogate and not goal:
            out["in_tolerance"] = self.in_tolerance
        if self.log_prob is not None:
            out["log_prob"] = self.log_prob
        out["system"] = text.piece_strings(d._texts.system_pieces(k))
        if self.nearest is not None:
            out["nearest_training"] = text.piece_strings(d._texts.formula_pieces(self.nearest[0]))
            out["nearest_distance"] = self.nearest[1].copy()
        fractions = k.astype(np.float32) / np.float32(_UNIT)
        for e, symbol in enumerate(d.elements):
            out[symbol] = fractions[:, e]
        return out

    def frame(self):
        import pandas as pd

        return pd.DataFrame(self.arrays())


@dataclasses.dataclass
class DesignResult:
    """What `Designer.design` returns.

    Attributes:
        table: the designs (pandas DataFrame, built on first access), sorted by
            (score, candidate index): rank, candidate index, formula; per property the
            surrogate's mean and interval (``<name>_surrogate``, ``_lower``, ``_upper``)
            and, where the oracle applies, ``<name>_oracle``; the relative errors; whether
            the design is within the tolerance; ``log_prob`` for a generator with a
            density; the alloy system; one column per element (printed fractions). With
            ``out=`` and more than `table_rows` designs, the first `table_rows` rows only
            (the file has them all).
        notes: warnings and remarks on the run (one line each).
        n_designs: designs returned (written).
        n_candidates: candidates drawn.
        n_valid: candidates that printed and met the constraints.
        n_distinct: distinct printed compositions among them.
        n_in_tolerance: distinct candidates within the tolerance on every property.
        n_systems: distinct alloy systems among the designs.
        seed: the noise seed (drawn from the OS when the request gave None).
        select: ``"diverse"`` or ``"closest"``.
        tolerance: the relative tolerance.
        target: the target, one value per condition.
        out: the file written, if any.
        seconds: wall time of the run.
    """

    notes: list[str]
    n_designs: int
    n_candidates: int
    n_valid: int
    n_distinct: int
    n_in_tolerance: int | None
    n_systems: int
    seed: int
    select: str
    tolerance: float
    target: list[float]
    out: Path | None
    seconds: float
    _arrays: dict[str, Any] = dataclasses.field(repr=False, default_factory=dict)
    goals: list[str] = dataclasses.field(default_factory=list)
    objectives: list[str] = dataclasses.field(default_factory=list)
    min_probability: float | None = None
    _table: Any = dataclasses.field(repr=False, default=None)

    @property
    def table(self):
        if self._table is None:
            import pandas as pd

            self._table = pd.DataFrame(self._arrays)
        return self._table

    @property
    def rows(self) -> dict[str, Any]:
        """The first designs as column arrays (what `table` is built from, without pandas)."""
        return self._arrays


def _concat_arrays(parts: list[dict[str, Any]]) -> dict[str, Any]:
    if not parts:
        return {}
    out = {}
    for key in parts[0]:
        values = [p[key] for p in parts]
        out[key] = sum(values, []) if isinstance(values[0], list) else np.concatenate(values)
    return out



def _system_codes(k: np.ndarray) -> set[bytes]:
    """The distinct alloy systems of printed rows, each as the bytes of its membership bits."""
    packed = np.packbits(k >= SYSTEM_MIN_THOUSANDTHS, axis=1)
    if packed.shape[1] > 8:  # more than 64 elements: rows of bytes (slower)
        return {row.tobytes() for row in np.unique(packed, axis=0)}
    words = np.zeros((packed.shape[0], 8), np.uint8)
    words[:, : packed.shape[1]] = packed
    return {code.tobytes() for code in np.unique(words.view("<u8").ravel())}



def format_table(result: DesignResult, designer: Designer, max_rows: int | None = None) -> str:
    """The table `hea-zoo design` prints: a header line, the designs, a summary line."""
    names, units = designer.condition_names, designer.condition_units
    goal = bool(result.goals or result.objectives)
    rows = result.rows
    shown = len(rows.get("rank", []))
    if max_rows is not None:
        shown = min(shown, max_rows)
    fixed = designer.settings_text() if hasattr(designer, "settings_text") else ""
    at = f" at {fixed}" if fixed else ""  # the measurement settings every design is judged at
    if goal:
        head = "; ".join(([", ".join(result.goals)] if result.goals else []) + result.objectives) + at
        order = "best by objective first" if result.objectives else "most probable first"
        lines = [
            f"goals: {head}  (model: {designer.generator_path.stem}, seed {result.seed}, {result.n_designs:,} designs, "
            f"{result.select} selection, {order})"
        ]
    else:
        head = ", ".join(f"{name} = {v:g} {u}".rstrip() for name, v, u in zip(names, result.target, units)) + at
        order = "best by surrogate first" if designer.has_surrogate else "not judged: no surrogate"
        lines = [
            f"target: {head}  (model: {designer.generator_path.stem}, seed {result.seed}, {result.n_designs:,} designs, "
            f"{result.select} selection, {order})"
        ]
    from hea_zoo.serving.design.goals import DESCRIPTOR_GOALS

    descriptors = [c for c in rows if c in DESCRIPTOR_GOALS] if goal else []
    columns = ["#", "formula"]
    for name, unit in zip(names, units):
        short = short_label(name)
        if designer.has_surrogate:
            columns.append(f"{short} surrogate [{unit}]" if unit else f"{short} surrogate")
        if f"{name}_oracle" in rows:
            columns.append(f"{short} oracle")
    if goal and "p_goals" in rows:
        columns.append("P(goals)")
    columns += descriptors
    if "log_prob" in rows:
        columns.append("log p")
    columns.append("system")
    table = []
    for i in range(shown):
        cells = [str(rows["rank"][i]), rows["formula"][i]]
        for name in names:
            if designer.has_surrogate:
                cells.append(
                    f"{rows[f'{name}_surrogate'][i]:.1f} [{rows[f'{name}_lower'][i]:.1f}, {rows[f'{name}_upper'][i]:.1f}]"
                )
            if f"{name}_oracle" in rows:
                value = rows[f"{name}_oracle"][i]
                cells.append(f"{value:.1f}" if np.isfinite(value) else "–")  # oxygen alone
        if goal and "p_goals" in rows:
            cells.append(f"{rows['p_goals'][i]:.3f}")
        for name in descriptors:
            cells.append(f"{rows[name][i]:.3f}")
        if "log_prob" in rows:
            cells.append(f"{rows['log_prob'][i]:.1f}")
        cells.append(rows["system"][i])
        table.append(cells)
    widths = [max([len(c)] + [len(r[j]) for r in table]) for j, c in enumerate(columns)]
    left = {1, len(columns) - 1}

    def fmt(cells):
        return "  ".join(c.ljust(w) if j in left else c.rjust(w) for j, (c, w) in enumerate(zip(cells, widths))).rstrip()

    lines.append(fmt(columns))
    lines.extend(fmt(r) for r in table)
    if shown < result.n_designs:
        where = f" in {result.out}" if result.out else ""
        lines.append(f"... {result.n_designs - shown:,} more designs{where}")
    tol = ""
    if result.n_in_tolerance is not None and goal:
        tol = f", {result.n_in_tolerance:,} with P(goals) >= {result.min_probability:g}"
    elif result.n_in_tolerance is not None:
        tol = f", {result.n_in_tolerance:,} within {100 * result.tolerance:g} %"
    lines.append(
        f"{result.n_designs:,} designs span {result.n_systems:,} alloy systems (elements >= 5 at.%); "
        f"{result.n_candidates:,} candidates, {result.n_distinct:,} distinct and valid{tol}."
    )
    if not designer.uses_oracle:
        lines.append(
            "(no oracle column: the physics oracle applies only to models trained on the bundled data, "
            "recognized by the data fingerprint in their export)"
        )
    return "\n".join(lines)


"""Datasets: the bundled 529-alloy RHEA set, the MPEA table of measured properties, and
users' own tables; duplicate compositions grouped, splits disjoint by group.

Duplicates. Real tables measure the same alloy several times (different papers,
processing, tests). Two rows are the same alloy when their compositions, normalized to
atomic fractions and rounded to 1e-3 (0.1 at.%), are equal; `setting_columns` (e.g. the
test temperature, when it is a condition) must match too for two rows to be merged. The
`duplicates` policy chooses what training sees: ``"median"`` (default) or ``"mean"`` of
each property over the group, ``"first"`` row, or ``"keep"`` every row. Whatever the
policy, rows of one composition share a group id and every split keeps whole groups
together, so no composition is both trained on and held out.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hea_zoo.data.composition import parse_formula, to_formula
from hea_zoo.data.builder import DATA_PATH
from hea_zoo.data.elements import ELEMENTS
from hea_zoo.constants import BUNDLED_NAME, PROPERTY_NAMES, PROPERTY_UNITS

__all__ = [
    "Dataset",
    "load_dataset",
    "group_ids",
    "group_split",
    "group_folds",
    "csv_line",
    "DUPLICATE_POLICIES",
    "GROUP_DECIMALS",
    "PROPERTY_NAMES",
    "PROPERTY_UNITS",
    "BUNDLED_NAME",
]

#: What training sees of a group of rows with the same composition.
DUPLICATE_POLICIES: tuple[str, ...] = ("median", "mean", "first", "keep")

#: Compositions are compared after rounding their atomic fractions to this many decimals.
GROUP_DECIMALS = 3

_FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True, eq=False)
class Dataset:
    """Compositions with their properties, element list, units and a seeded group split.

    Attributes:
        compositions: (N, E) float32 atomic fractions, rows summing to 1.
        properties: (N, P) float32, physical units (`property_units`).
        elements: the E element symbols, in column order.
        property_names: the P property names (for the bundled data: shear_modulus,
            fracture_toughness).
        property_units: the P units (GPa, MPa*m^0.5 for the bundled data).
        formulas: the N formula strings.
        train_index, test_index: disjoint row indices of the seeded split; no group
            (composition) has rows in both.
        name: where the data came from.
        source_fingerprint: `fingerprint()` of the whole table this one came from (kept by
            `subset`, `train` and `test`), so a split still knows its origin
            (`hea_zoo.constants.oracle_applies`).
        groups: (N,) int64 group id of each row: rows with the same composition (rounded
            to `GROUP_DECIMALS`) share one. Default: every row its own group.
        duplicates: one line saying how duplicates were handled ("" if there were none).
    """

    compositions: np.ndarray
    properties: np.ndarray
    elements: tuple[str, ...]
    property_names: tuple[str, ...]
    property_units: tuple[str, ...]
    formulas: tuple[str, ...]
    train_index: np.ndarray
    test_index: np.ndarray
    name: str = "custom"
    source_fingerprint: str | None = None
    groups: np.ndarray | None = None
    duplicates: str = ""
    _subsets: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        if self.groups is None:
            object.__setattr__(self, "groups", np.arange(len(self.compositions), dtype=np.int64))

    def __len__(self) -> int:
        return int(self.compositions.shape[0])

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, n={len(self)}, alloys={self.n_alloys}, "
            f"elements={len(self.elements)}, properties={list(self.property_names)}, "
            f"train={len(self.train_index)}, test={len(self.test_index)})"
        )

    @property
    def n_alloys(self) -> int:
        """Number of distinct alloys (groups)."""
        return int(len(np.unique(self.groups)))

    def alloys_in(self, index: np.ndarray) -> int:
        """Number of distinct alloys (groups) among the given rows."""
        return int(len(np.unique(self.groups[np.asarray(index, dtype=np.int64)])))

    def subset(self, index: np.ndarray, name: str) -> Dataset:
        """A new dataset with the given rows (all of them in its train split)."""
        index = np.asarray(index, dtype=np.int64)
        return Dataset(
            compositions=self.compositions[index],
            properties=self.properties[index],
            elements=self.elements,
            property_names=self.property_names,
            property_units=self.property_units,
            formulas=tuple(self.formulas[i] for i in index),
            train_index=np.arange(len(index)),
            test_index=np.arange(0),
            name=name,
            source_fingerprint=self.source_fingerprint,
            groups=self.groups[index],
            duplicates=self.duplicates,
        )

    @property
    def train(self) -> Dataset:
        """The training rows."""
        if "train" not in self._subsets:
            self._subsets["train"] = self.subset(self.train_index, f"{self.name}[train]")
        return self._subsets["train"]

    @property
    def test(self) -> Dataset:
        """The held-out rows."""
        if "test" not in self._subsets:
            self._subsets["test"] = self.subset(self.test_index, f"{self.name}[test]")
        return self._subsets["test"]

    def resplit(self, test_fraction: float = 0.2, seed: int = 0) -> Dataset:
        """The same rows with another seeded group split (`group_split`)."""
        train_index, test_index = group_split(self.groups, test_fraction, seed)
        return dataclasses.replace(self, train_index=train_index, test_index=test_index, _subsets={})

    def percentile(self, q: float | Sequence[float]) -> np.ndarray:
        """Percentile(s) of each property over the training split: shape (P,) or (len(q), P)."""
        return np.percentile(self.properties[self.train_index], q, axis=0).astype(np.float32)

    def to_frame(self) -> pd.DataFrame:
        """The table: a composition column, one column per property, group and split."""
        frame = pd.DataFrame({"composition": list(self.formulas)})
        for j, name in enumerate(self.property_names):
            frame[name] = self.properties[:, j]
        frame["group"] = self.groups
        frame["split"] = "train"
        frame.loc[self.test_index, "split"] = "test"
        return frame

    def fingerprint(self) -> str:
        """sha256 of elements, property names, compositions and properties."""
        h = hashlib.sha256()
        h.update(",".join(self.elements).encode())
        h.update(",".join(self.property_names).encode())
        h.update(np.ascontiguousarray(self.compositions, dtype=np.float32).tobytes())
        h.update(np.ascontiguousarray(self.properties, dtype=np.float32).tobytes())
        return h.hexdigest()


def group_ids(compositions: np.ndarray, decimals: int = GROUP_DECIMALS) -> np.ndarray:
    """(N,) int64 group ids: equal for rows whose fractions agree after rounding.

    Ids are numbered in order of first appearance (0, 1, ...).

    Example:
        >>> group_ids(np.array([[0.5, 0.5], [0.2, 0.8], [0.5004, 0.4996]])).tolist()
        [0, 1, 0]
    """
    keys = np.round(np.asarray(compositions, dtype=np.float64) * 10**decimals).astype(np.int64)
    return _first_appearance_ids(keys)


def _first_appearance_ids(keys: np.ndarray) -> np.ndarray:
    if len(keys) == 0:
        return np.zeros(0, dtype=np.int64)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[np.asarray(inverse).reshape(-1)]


def group_split(groups: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded split that keeps every group whole.

    The distinct groups (in order of first appearance) are permuted with
    ``numpy.random.default_rng(seed)``; the first ``round(n_groups * test_fraction)`` go to
    the test side. With one row per group this is the plain row permutation split.

    Returns:
        ``(train_index, test_index)``, sorted row indices.
    """
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in [0, 1). Received: test_fraction={test_fraction}")
    groups = np.asarray(groups)
    ids = _first_appearance_ids(groups.reshape(-1, 1))
    n_groups = int(ids.max()) + 1 if len(ids) else 0
    order = np.random.default_rng(seed).permutation(n_groups)
    n_test = int(round(n_groups * test_fraction))
    if n_groups - n_test < 2:
        raise ValueError(
            f"Too few distinct alloys ({n_groups}) to split with test_fraction={test_fraction}."
        )
    held_out = np.zeros(n_groups, dtype=bool)
    held_out[order[:n_test]] = True
    test = held_out[ids]
    return np.flatnonzero(~test), np.flatnonzero(test)


def group_folds(groups: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """A seeded K-fold assignment that keeps every group whole.

    The distinct groups (in order of first appearance) are permuted with
    ``numpy.random.default_rng(seed)`` and dealt to the folds in turn, so fold sizes in
    groups differ by at most one.

    Returns:
        (N,) int fold number (0 .. n_folds - 1) of each row.

    Raises:
        ValueError: fewer distinct groups than folds, or `n_folds` < 2.
    """
    if isinstance(n_folds, bool) or int(n_folds) != n_folds or n_folds < 2:
        raise ValueError(f"n_folds must be an integer >= 2. Received: n_folds={n_folds!r}")
    groups = np.asarray(groups)
    ids = _first_appearance_ids(groups.reshape(-1, 1))
    n_groups = int(ids.max()) + 1 if len(ids) else 0
    if n_groups < n_folds:
        raise ValueError(f"Too few distinct alloys ({n_groups}) for {n_folds} folds.")
    fold_of_group = np.empty(n_groups, dtype=np.int64)
    fold_of_group[np.random.default_rng(seed).permutation(n_groups)] = np.arange(n_groups) % int(n_folds)
    return fold_of_group[ids]


def load_dataset(
    source: str | os.PathLike | pd.DataFrame | None = None,
    composition_column: str = "composition",
    property_columns: Sequence[str] | None = None,
    elements: Sequence[str] | None = None,
    dropna: bool = False,
    test_fraction: float = 0.2,
    seed: int = 0,
    property_units: Sequence[str] | None = None,
    duplicates: str = "median",
    setting_columns: Sequence[str] | None = None,
    properties: Sequence[str] | None = None,
    test_type: str | None = None,
    temperature: tuple[float, float] | str | None = "room",
    processing: Sequence[str] | None = None,
    verbose: bool = True,
) -> Dataset:
    """Load the bundled RHEA dataset, the bundled MPEA table, or a user's table of alloys.

    Args:
        source: None for the bundled 529 alloys; ``"mpea"`` for the MPEA table of measured
            properties (Borg et al., Sci. Data 7, 430 (2020); see `hea_zoo.data.mpea`);
            else a CSV path or a DataFrame.
        composition_column: the column holding formula strings ("HfNbTaTiZr").
        property_columns: property columns (at least one). Default for the bundled data:
            shear_modulus, fracture_toughness; for a user table: every column but the
            composition column. For MPEA: short names (``hardness``, ``yield_strength``,
            ``elongation``, ``youngs_modulus_calc``, ``density_calc``,
            ``test_temperature``, ...) or the source's column names; required.
        elements: element order of the composition vectors. Default: the study's 22 for
            the bundled data; the elements the table contains, sorted, otherwise.
        dropna: drop rows with a missing property (printing how many) instead of raising.
        test_fraction: share of distinct alloys (groups) held out, by a permutation seeded
            with `seed` (`group_split`).
        seed: split seed.
        property_units: units of the property columns (default: the bundled units when the
            names match, MPEA's units for MPEA, else "").
        duplicates: what training sees of rows with the same composition:
            ``"median"`` (default), ``"mean"``, ``"first"`` or ``"keep"`` (see the module
            docstring). One line reports the groups merged and the largest spread.
        setting_columns: property columns that describe how a value was measured rather
            than what was measured (e.g. ``test_temperature``): rows are merged only when
            these are equal too. MPEA: ``test_temperature`` when it is a property.
        properties: the same as `property_columns` (give one of them).
        test_type: MPEA only: ``"compression"``, ``"tension"`` or None (all).
        temperature: MPEA only: ``(min, max)`` test temperature in °C, ``"room"``
            (15–30 °C; every temperature when ``test_temperature`` is a property) or None.
        processing: MPEA only: processing routes to keep (CAST, WROUGHT, ANNEAL, POWDER,
            OTHER) or None (all).
        verbose: print the one-line notes (rows dropped, duplicates merged).

    Returns:
        A `Dataset`.

    Raises:
        ValueError: missing file or column, no property column, an unknown MPEA name or
            filter (the message lists the valid ones), an MPEA selection with fewer than
            `hea_zoo.data.mpea.MIN_ALLOYS` distinct alloys, a bad composition or a missing,
            non-numeric, infinite or float32-overflowing property (the message names the
            row).

    Example:
        >>> ds = load_dataset()
        >>> ds.compositions.shape
        (529, 22)
        >>> mpea = load_dataset("mpea", properties=["hardness"], dropna=True)  # doctest: +SKIP
    """
    if properties is not None:
        if property_columns is not None:
            raise ValueError("Give property_columns or properties, not both.")
        property_columns = properties
    if duplicates not in DUPLICATE_POLICIES:
        raise ValueError(
            f"duplicates must be one of {', '.join(DUPLICATE_POLICIES)}. Received: duplicates={duplicates!r}"
        )
    is_mpea = isinstance(source, str) and source.strip().lower() == "mpea"
    if not is_mpea and (test_type is not None or processing is not None or temperature not in ("room", None)):
        raise ValueError("test_type, temperature and processing filter the MPEA data (source='mpea') only.")
    bundled = source is None
    units = dict(zip(PROPERTY_NAMES, PROPERTY_UNITS))
    source_rows: np.ndarray | None = None
    if bundled:
        frame = pd.read_csv(DATA_PATH)
        name = BUNDLED_NAME
        if elements is None:
            elements = ELEMENTS
        where = _where_frame
    elif is_mpea:
        from hea_zoo.data import mpea

        if property_columns is None:
            raise ValueError(
                "Name the MPEA properties to load (properties=[...]). Available: "
                f"{', '.join(mpea.MPEA_PROPERTIES)}."
            )
        if isinstance(property_columns, str):
            property_columns = [property_columns]
        frame = mpea.mpea_frame(property_columns, test_type=test_type, temperature=temperature, processing=processing)
        property_columns = [mpea.mpea_column(c) for c in property_columns]
        composition_column = "composition"
        source_rows = frame["source_row"].to_numpy()
        units = dict(mpea.MPEA_UNITS)
        name = mpea.MPEA_NAME
        if setting_columns is None:
            setting_columns = [c for c in ("test_temperature",) if c in property_columns]
        where = _where_mpea
    elif isinstance(source, pd.DataFrame):
        frame, name = source.reset_index(drop=True), "dataframe"
        where = _where_frame
    else:
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"Data file not found: {str(path)!r}.")
        try:
            frame = pd.read_csv(path)
        except Exception as err:
            raise ValueError(f"Cannot read {str(path)!r} as CSV: {err}") from None
        name = path.name
        where = _where_csv(path)
    if source_rows is None:
        source_rows = np.arange(len(frame))
    if composition_column not in frame.columns:
        raise ValueError(
            f"Composition column {composition_column!r} not found. "
            f"Columns: {', '.join(map(str, frame.columns))}."
        )
    if property_columns is None:
        property_columns = [c for c in frame.columns if c != composition_column]
    property_columns = list(property_columns)
    if not property_columns:
        raise ValueError("Expected at least one property column. Received none.")
    missing = [c for c in property_columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"Property column(s) {missing} not found. Columns: {', '.join(map(str, frame.columns))}."
        )
    if composition_column in property_columns:
        raise ValueError(f"{composition_column!r} cannot be both the composition and a property column.")
    setting_columns = list(setting_columns or [])
    stray = [c for c in setting_columns if c not in property_columns]
    if stray:
        raise ValueError(f"setting_columns {stray} must be property columns ({property_columns}).")
    def too_few(n_alloys: int) -> ValueError:
        from hea_zoo.data.mpea import MIN_ALLOYS

        return ValueError(
            f"The MPEA selection (properties {property_columns}, test_type={test_type!r}, "
            f"temperature={temperature!r}, processing={processing!r}) leaves {n_alloys} "
            f"distinct alloys; at least {MIN_ALLOYS} are needed. Loosen a filter."
        )

    if len(frame) == 0:
        raise too_few(0) if is_mpea else ValueError("The table has no rows.")

    values = frame[property_columns].apply(pd.to_numeric, errors="coerce")
    for c in property_columns:
        bad = values[c].isna() & frame[c].notna()
        if bad.any():
            r = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(f"{where(source_rows[r])}: property {c!r} is not a number ({frame[c].iloc[r]!r}).")
    array = values.to_numpy(dtype=np.float64)
    finite = np.isfinite(array) | np.isnan(array)
    too_big = np.abs(np.where(np.isfinite(array), array, 0.0)) > _FLOAT32_MAX
    if (~finite | too_big).any():
        r, c = map(int, np.argwhere(~finite | too_big)[0])
        problem = (
            "is not finite" if not finite[r, c] else f"overflows float32 (largest {_FLOAT32_MAX:.3g})"
        )
        raise ValueError(f"{where(source_rows[r])}: property {property_columns[c]!r} = {array[r, c]!r} {problem}.")
    missing_rows = np.isnan(array).any(axis=1)
    if missing_rows.any():
        if not dropna:
            r = int(np.flatnonzero(missing_rows)[0])
            cols = [c for j, c in enumerate(property_columns) if np.isnan(array[r, j])]
            raise ValueError(
                f"{where(source_rows[r])}: missing value for {', '.join(cols)} "
                f"({int(missing_rows.sum())} rows have missing properties; pass dropna=True "
                f"to drop them)."
            )
        if verbose:
            print(f"load_dataset: dropped {int(missing_rows.sum())} rows with missing properties.")
        keep = ~missing_rows
        frame = frame.loc[keep].reset_index(drop=True)
        array = array[keep]
        source_rows = source_rows[keep]
    if len(frame) == 0:
        raise too_few(0) if is_mpea else ValueError("No row has every property; nothing to load.")

    formulas = frame[composition_column].tolist()
    if elements is None:
        # Each row is parsed once over its own elements, then placed in the union's columns.
        rows = [_parse_own_elements(f, int(r)) for r, f in zip(source_rows, formulas)]
        elements = tuple(sorted({s for symbols, _ in rows for s in symbols}))
        column = {s: j for j, s in enumerate(elements)}
        compositions = np.zeros((len(rows), len(elements)), dtype=np.float32)
        for i, (symbols, vector) in enumerate(rows):
            compositions[i, [column[s] for s in symbols]] = vector
    else:
        elements = tuple(elements)
        if len(set(elements)) != len(elements):
            raise ValueError(f"Duplicate symbols in elements: {list(elements)}.")
        compositions = np.stack(
            [parse_formula(f, elements, row=int(r)) for r, f in zip(source_rows, formulas)]
        ).astype(np.float32)
    if property_units is None:
        property_units = [units.get(c, "") for c in property_columns]
    if len(property_units) != len(property_columns):
        raise ValueError(
            f"Expected {len(property_columns)} property units. Received {list(property_units)}."
        )
    if not bundled:
        formulas = [to_formula(c, elements, threshold=0.0) for c in compositions]

    settings = [property_columns.index(c) for c in setting_columns]
    compositions, array, formulas, groups, note = _merge_duplicates(
        compositions, array, formulas, property_columns, settings, duplicates
    )
    if note and verbose:
        print(f"load_dataset: {note}")
    if is_mpea:
        from hea_zoo.data.mpea import MIN_ALLOYS

        if int(groups.max()) + 1 < MIN_ALLOYS:
            raise too_few(int(groups.max()) + 1)
    train_index, test_index = group_split(groups, test_fraction, seed)
    dataset = Dataset(
        compositions=compositions.astype(np.float32),
        properties=array.astype(np.float32),
        elements=elements,
        property_names=tuple(property_columns),
        property_units=tuple(property_units),
        formulas=tuple(formulas),
        train_index=train_index,
        test_index=test_index,
        name=name,
        groups=groups,
        duplicates=note,
    )
    return dataclasses.replace(dataset, source_fingerprint=dataset.fingerprint())


def _where_frame(row: int) -> str:
    return f"data row {int(row)} (0-based)"


def csv_line(path: str | os.PathLike, row: int) -> int | None:
    """The line of a CSV file where data row `row` (0-based, after the header) starts, as
    pandas reads it (blank lines skipped, quoted fields may span lines); None if the file
    cannot be read or has no such row."""
    try:
        with open(path, newline="", encoding="utf-8", errors="replace") as handle:
            reader = csv.reader(handle)
            records = -1  # the header is record -1
            start = 1
            for fields in reader:
                if fields and any(f.strip() for f in fields):
                    if records == row:
                        return start
                    records += 1
                start = reader.line_num + 1
    except (OSError, csv.Error):
        return None
    return None


def _where_csv(path: Path):
    def where(row: int) -> str:
        line = csv_line(path, int(row))
        line = int(row) + 2 if line is None else line
        return f"data row {int(row)} (0-based; line {line} of {path.name})"

    return where


def _where_mpea(row: int) -> str:
    return f"MPEA data row {int(row)} (0-based; line {int(row) + 2} of MPEA_dataset.csv)"


def _merge_duplicates(compositions, values, formulas, names, settings, policy):
    """Groups rows by rounded composition (and setting columns); applies the policy.

    Returns ``(compositions, values, formulas, groups, note)``; `groups` are composition
    groups (settings ignored), numbered by first appearance.
    """
    comp_keys = np.round(compositions.astype(np.float64) * 10**GROUP_DECIMALS).astype(np.int64)
    groups = _first_appearance_ids(comp_keys)
    keys = np.concatenate([groups[:, None].astype(np.float64), values[:, settings]], axis=1)
    units = _first_appearance_ids(keys)  # merge units: composition and settings
    n_units = int(units.max()) + 1
    counts = np.bincount(units, minlength=n_units)
    repeated = np.flatnonzero(counts > 1)
    if len(repeated) == 0:
        return compositions, values, list(formulas), groups, ""
    n_rows = int(counts[repeated].sum())
    # The largest spread, relative to the group's median, over every measured property.
    measured = [j for j in range(len(names)) if j not in settings]
    best = None
    for u in repeated:
        rows = np.flatnonzero(units == u)
        for j in measured:
            v = values[rows, j]
            spread = (v.max() - v.min()) / max(abs(float(np.median(v))), 1e-12)
            if best is None or spread > best[0]:
                best = (spread, j, v.min(), v.max(), formulas[rows[0]])
    if best is None:
        spread_text = "no measured property to compare"
    elif best[0] == 0:
        spread_text = "the repeats agree exactly"
    else:
        spread_text = f"largest spread: {names[best[1]]} {best[2]:.4g} to {best[3]:.4g} ({best[4]})"
    what = (
        f"{n_rows} rows repeat {len(repeated)} compositions "
        f"({counts[repeated].min()}-{counts[repeated].max()} rows each)"
    )
    if policy == "keep":
        note = f"duplicates: {what}, kept as separate rows (split by group); {spread_text}"
        return compositions, values, list(formulas), groups, note
    first = np.array([np.flatnonzero(units == u)[0] for u in range(n_units)])
    merged = values[first].copy()
    if policy != "first":
        reduce = np.median if policy == "median" else np.mean
        for u in repeated:
            merged[u] = reduce(values[units == u], axis=0)
    note = f"duplicates: {what}, merged to one row each by {policy}; {spread_text}"
    return compositions[first], merged, [formulas[i] for i in first], groups[first], note


def _parse_own_elements(formula: object, row: int) -> tuple[list[str], np.ndarray]:
    """A formula's element symbols and its fractions over them; raises the parse error."""
    from pymatgen.core import Composition
    from pymatgen.core.periodic_table import Element

    if not isinstance(formula, str) or not formula.strip():
        parse_formula(formula, ELEMENTS, row=row)  # raises the missing/empty message
    try:
        symbols = sorted({getattr(el, "symbol", str(el)) for el in Composition(formula).elements})
    except Exception:
        symbols = []
    unknown = [s for s in symbols if not Element.is_valid_symbol(s)]
    if unknown:
        raise ValueError(f"row {row}: formula {formula!r}: {', '.join(unknown)} is not a chemical element.")
    return symbols, parse_formula(formula, symbols, row=row)  # the remaining checks

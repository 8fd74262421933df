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
import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hea_zoo.constants import BUNDLED_NAME, PROPERTY_NAMES, PROPERTY_UNITS
from hea_zoo.data.builder import DATA_PATH
from hea_zoo.data.composition import _element_list, parse_compositions, to_formulas
from hea_zoo.data.elements import ELEMENTS
from hea_zoo.errors import DataError, UsageError

logger = logging.getLogger(__name__)

MPEA_NAME = "mpea"  # `hea_zoo.data.mpea.MPEA_NAME`, without importing the MPEA module

__all__ = [
    "Dataset",
    "load_dataset",
    "group_ids",
    "group_split",
    "group_folds",
    "composition_clusters",
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
MIN_ALLOYS = 20
"""Fewest distinct alloys a table may have, for every table (a user's CSV or frame, an MPEA
selection after its filters): fewer cannot be split into train, calibration and test
groups worth reporting. The bundled 529 alloys are exempt only because they are fixed."""

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
        notes: one line per thing loading did to the table (rows dropped for missing
            properties, duplicates merged), for a program to show; empty when it took the
            table as it was.
        settings: (N, S) float32 measurement settings (how each value was measured, e.g.
            the test temperature in °C): inputs of the surrogate and conditions of the
            generators, never targets. (N, 0) when the table has none.
        setting_names, setting_units: the S settings' names and units.
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
    notes: tuple[str, ...] = ()
    settings: np.ndarray | None = None
    setting_names: tuple[str, ...] = ()
    setting_units: tuple[str, ...] = ()
    _subsets: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        if self.groups is None:
            object.__setattr__(self, "groups", np.arange(len(self.compositions), dtype=np.int64))
        if self.settings is None:
            object.__setattr__(self, "settings", np.zeros((len(self.compositions), 0), dtype=np.float32))
        object.__setattr__(self, "setting_names", tuple(self.setting_names))
        object.__setattr__(self, "setting_units", tuple(self.setting_units) or ("",) * len(self.setting_names))

    @property
    def n_settings(self) -> int:
        """Number of measurement settings (inputs of the surrogate, conditions of generators)."""
        return len(self.setting_names)

    @property
    def conditions(self) -> np.ndarray:
        """(N, P + S): the properties then the settings: what a generator is conditioned on."""
        return np.concatenate([self.properties, self.settings], axis=1).astype(np.float32)

    @property
    def condition_names(self) -> tuple[str, ...]:
        """The property names then the setting names (the columns of `conditions`)."""
        return self.property_names + self.setting_names

    @property
    def condition_units(self) -> tuple[str, ...]:
        return self.property_units + self.setting_units

    def property_counts(self, index: np.ndarray | None = None) -> dict[str, tuple[int, int]]:
        """Per property, ``(alloys, rows)`` that have a value (among `index`, default all rows):
        in a sparse table each property is taught by its own rows."""
        index = np.arange(len(self)) if index is None else np.asarray(index, dtype=np.int64)
        out = {}
        for j, name in enumerate(self.property_names):
            has = index[np.isfinite(self.properties[index, j])]
            out[name] = (int(len(np.unique(self.groups[has]))), int(len(has)))
        return out

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

    def check_learnable(self) -> None:
        """Refuses a table no model can learn from: fewer than `MIN_ALLOYS` distinct alloys
        (the rule every table follows; an MPEA selection is refused already when loaded),
        or a property with the same value in every training alloy (no spread) or no
        finite value at all.

        Raises:
            DataError: the reason; ``field`` names the property, or ``source`` for the table.
        """
        if self.n_alloys < MIN_ALLOYS:
            raise DataError(
                f"the table has {self.n_alloys} distinct alloy{'' if self.n_alloys == 1 else 's'}; at least "
                f"{MIN_ALLOYS} are needed to train: a fifth of them is held out to test the models (split by "
                "composition) and the surrogate's intervals are calibrated on the rest.",
                field="source",
            )
        values = self.properties[self.train_index]
        for j, name in enumerate(self.property_names):
            column = values[:, j]
            finite = column[np.isfinite(column)]
            if finite.size == 0:
                raise DataError("no training alloy has a value: nothing to learn.", field=name)
            if float(finite.max()) == float(finite.min()):
                raise DataError(
                    f"every training alloy has the same value ({float(finite[0]):.6g}): a property without "
                    "spread cannot be learned or designed for; leave it out of the properties.",
                    field=name,
                )

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
            notes=self.notes,
            settings=self.settings[index],
            setting_names=self.setting_names,
            setting_units=self.setting_units,
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
        return np.nanpercentile(self.properties[self.train_index], q, axis=0).astype(np.float32)

    def to_frame(self) -> pd.DataFrame:
        """The table: a composition column, one column per property, group and split."""
        frame = pd.DataFrame({"composition": list(self.formulas)})
        for j, name in enumerate(self.property_names):
            frame[name] = self.properties[:, j]
        for j, name in enumerate(self.setting_names):
            frame[name] = self.settings[:, j]
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
        if self.setting_names:  # tables without settings keep their fingerprints
            h.update(("settings:" + ",".join(self.setting_names)).encode())
            h.update(np.ascontiguousarray(self.settings, dtype=np.float32).tobytes())
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
        raise UsageError(f"must be in [0, 1). Received: test_fraction={test_fraction}", field="test_fraction")
    groups = np.asarray(groups)
    ids = _first_appearance_ids(groups.reshape(-1, 1))
    n_groups = int(ids.max()) + 1 if len(ids) else 0
    order = np.random.default_rng(seed).permutation(n_groups)
    n_test = int(round(n_groups * test_fraction))
    if n_groups - n_test < 2:
        raise DataError(f"Too few distinct alloys ({n_groups}) to split with test_fraction={test_fraction}.")
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
        DataError: fewer distinct groups than folds.
        UsageError: `n_folds` < 2.
    """
    if isinstance(n_folds, bool) or int(n_folds) != n_folds or n_folds < 2:
        raise UsageError(f"must be an integer >= 2. Received: n_folds={n_folds!r}", field="n_folds")
    groups = np.asarray(groups)
    ids = _first_appearance_ids(groups.reshape(-1, 1))
    n_groups = int(ids.max()) + 1 if len(ids) else 0
    if n_groups < n_folds:
        raise DataError(f"Too few distinct alloys ({n_groups}) for {n_folds} folds.")
    fold_of_group = np.empty(n_groups, dtype=np.int64)
    fold_of_group[np.random.default_rng(seed).permutation(n_groups)] = np.arange(n_groups) % int(n_folds)
    return fold_of_group[ids]


def composition_clusters(compositions: np.ndarray, n_clusters: int, seed: int, iterations: int = 20) -> np.ndarray:
    """Seeded k-means clusters of compositions (Euclidean, atomic fractions): folds whose
    alloys are far from the rest, for measuring how a model's errors grow with the distance
    to its training alloys (`hea_zoo.models.calibration`).

    k-means++ seeding (``numpy.random.default_rng(seed)``), then Lloyd iterations; equal
    compositions always share a cluster. A cluster that empties keeps its last centre.

    Returns:
        (N,) int cluster of each row (0 .. n_clusters - 1).

    Raises:
        DataError: fewer distinct compositions than clusters.
        UsageError: `n_clusters` < 2.
    """
    if isinstance(n_clusters, bool) or int(n_clusters) != n_clusters or n_clusters < 2:
        raise UsageError(f"must be an integer >= 2. Received: n_clusters={n_clusters!r}", field="n_clusters")
    x = np.asarray(compositions, dtype=np.float64)
    distinct = np.unique(x, axis=0)
    if len(distinct) < n_clusters:
        raise DataError(f"Too few distinct alloys ({len(distinct)}) for {n_clusters} clusters.")
    rng = np.random.default_rng(seed)

    def squared(a, b):
        return np.maximum((a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2.0 * a @ b.T, 0.0)

    centres = [distinct[rng.integers(len(distinct))]]
    for _ in range(1, int(n_clusters)):
        d2 = squared(distinct, np.asarray(centres)).min(axis=1)
        centres.append(distinct[rng.choice(len(distinct), p=d2 / d2.sum())])
    centres = np.asarray(centres)
    label = np.argmin(squared(distinct, centres), axis=1)
    for _ in range(int(iterations)):
        for c in range(len(centres)):
            if np.any(label == c):
                centres[c] = distinct[label == c].mean(axis=0)
        new = np.argmin(squared(distinct, centres), axis=1)
        if np.array_equal(new, label):
            break
        label = new
    return np.argmin(squared(x, centres), axis=1).astype(np.int64)


def load_dataset(
    source: str | os.PathLike | pd.DataFrame | None = None,
    composition_column: str = "composition",
    properties: Sequence[str] | None = None,
    elements: Sequence[str] | None = None,
    dropna: bool = False,
    test_fraction: float = 0.2,
    seed: int = 0,
    property_units: Sequence[str] | None = None,
    duplicates: str = "median",
    setting_columns: Sequence[str] | None = None,
    property_columns: Sequence[str] | None = None,
    test_type: str | None = None,
    temperature: tuple[float, float] | str | None = "room",
    processing: Sequence[str] | None = None,
    verbose: bool = True,
    settings: Sequence[str] | None = None,
) -> Dataset:
    """Load the bundled RHEA dataset, the bundled MPEA table, or a user's table of alloys.

    Every table's formulas go through one parser
    (`hea_zoo.data.composition.parse_compositions`). Nothing is printed: what loading did
    to the table (rows dropped, duplicates merged) is in ``Dataset.notes``.

    Args:
        source: None for the bundled 529 alloys; ``"mpea"`` for the MPEA table of measured
            properties (Borg et al., Sci. Data 7, 430 (2020); see `hea_zoo.data.mpea`);
            else a CSV path or a DataFrame.
        composition_column: the column holding formula strings ("HfNbTaTiZr").
        properties: property columns (at least one). Default for the bundled data:
            shear_modulus, fracture_toughness; for a user table: every column but the
            composition column. For MPEA: short names (``hardness``, ``yield_strength``,
            ``elongation``, ``youngs_modulus_calc``, ``density_calc``,
            ``test_temperature``, ...) or the source's column names; required.
        elements: element order of the composition vectors. Default: the study's 22 for
            the bundled data; the elements the table contains, sorted, otherwise.
        dropna: drop rows with a missing property (a note says how many). Without it the
            table may be sparse: a row with some of the properties is kept (NaN for the
            others; it teaches the ones it has), a row with none of them is an error (for
            MPEA, a selection, it is left out and a note says how many).
        test_fraction: share of distinct alloys (groups) held out, by a permutation seeded
            with `seed` (`group_split`).
        seed: split seed.
        property_units: units of the property columns (default: the bundled units when the
            names match, MPEA's units for MPEA, else "").
        duplicates: what training sees of rows with the same composition:
            ``"median"`` (default), ``"mean"``, ``"first"`` or ``"keep"`` (see the module
            docstring). A note reports the groups merged and the largest spread.
        setting_columns: property columns that describe how a value was measured rather
            than what was measured (e.g. ``test_temperature``): rows are merged only when
            these are equal too. MPEA: ``test_temperature`` when it is a property.
        property_columns: deprecated name of `properties` (a DeprecationWarning; removed
            in the next release).
        test_type, temperature, processing: filters of the MPEA table, passed to
            `hea_zoo.data.mpea.mpea_frame` (``source="mpea"`` only).
        verbose: also log the notes (logger ``hea_zoo.data.datasets``, level INFO).
        settings: numeric columns that say how a value was measured (``test_temperature``
            for MPEA, in °C): `Dataset.settings`, inputs of the surrogate and conditions of
            the generators, never properties (a name in both is refused). Rows are merged
            as duplicates only when their settings agree too. A row without a setting value
            is an error (dropped with `dropna`); MPEA rows without a recorded test
            temperature count as 25 °C. MPEA: with ``test_temperature`` as a setting the
            default temperature filter keeps every temperature; ``temperature=None`` (all)
            without it is refused (it would merge measurements from -269 to 1,600 °C
            into one value per alloy).

    Returns:
        A `Dataset`; ``notes`` lists what loading did to the table.

    Raises:
        DataError: missing file or column, no property column, an unknown MPEA property
            (the message lists the valid ones), an MPEA selection with fewer than
            `MIN_ALLOYS` distinct alloys, a bad composition or a missing,
            non-numeric, infinite or float32-overflowing property. A bad row's error has
            ``row`` (0-based, as the table was read) and, for a file, ``line``.
        UsageError: a parameter outside its domain (``duplicates``, an element list with
            repeats, an MPEA filter for another table, ...).

    Example:
        >>> ds = load_dataset()
        >>> ds.compositions.shape
        (529, 22)
        >>> mpea = load_dataset("mpea", properties=["hardness"], dropna=True)  # doctest: +SKIP
        >>> mpea.notes  # doctest: +SKIP
        ('dropped 1 rows with missing properties.', 'duplicates: ...')
    """
    if property_columns is not None:
        warnings.warn(
            "load_dataset(property_columns=...) is deprecated and will be removed in the next "
            "release; use properties=...",
            DeprecationWarning,
            stacklevel=2,
        )
        if properties is not None:
            raise UsageError("give properties or property_columns (its old name), not both.", field="properties")
        properties = property_columns
    if duplicates not in DUPLICATE_POLICIES:
        raise UsageError(
            f"must be one of {', '.join(DUPLICATE_POLICIES)}. Received: {duplicates!r}", field="duplicates"
        )
    if elements is not None:
        elements = _element_list(tuple(elements))  # usage errors before the table's own
    settings = _setting_list(settings, properties, source)
    table = _open(source, composition_column, properties, setting_columns, test_type, temperature, processing, settings)
    frame, columns, composition_column = table.frame, table.property_columns, table.composition_column
    notes: list[str] = []
    setting_values, setting_units = _read_settings(table, settings)

    values = frame[columns].apply(pd.to_numeric, errors="coerce")
    for c in columns:
        bad = values[c].isna() & frame[c].notna()
        if bad.any():
            r = int(np.flatnonzero(bad.to_numpy())[0])
            raise table.row_error(f"property {c!r} is not a number ({frame[c].iloc[r]!r}).", c, r)
    array = values.to_numpy(dtype=np.float64)
    finite = np.isfinite(array) | np.isnan(array)
    too_big = np.abs(np.where(np.isfinite(array), array, 0.0)) > _FLOAT32_MAX
    if (~finite | too_big).any():
        r, c = map(int, np.argwhere(~finite | too_big)[0])
        problem = "is not finite" if not finite[r, c] else f"overflows float32 (largest {_FLOAT32_MAX:.3g})"
        raise table.row_error(f"property {columns[c]!r} = {array[r, c]!r} {problem}.", columns[c], r)
    missing_rows = np.isnan(array).any(axis=1) if dropna else np.isnan(array).all(axis=1)
    if settings:
        missing_settings = np.isnan(setting_values).any(axis=1)
        if missing_settings.any() and not dropna:
            r = int(np.flatnonzero(missing_settings)[0])
            cols = [c for j, c in enumerate(settings) if np.isnan(setting_values[r, j])]
            raise table.row_error(
                f"missing setting value for {', '.join(cols)} ({int(missing_settings.sum())} rows lack a setting; "
                "set it to drop them).", "dropna", r,
            )  # fmt: skip
        missing_rows = missing_rows | missing_settings
    if missing_rows.any():
        if not dropna and table.min_alloys is None:
            r = int(np.flatnonzero(missing_rows)[0])
            cols = [c for j, c in enumerate(columns) if np.isnan(array[r, j])]
            raise table.row_error(
                f"missing value for {', '.join(cols)} ({int(missing_rows.sum())} rows have missing "
                "properties; set it to drop them).",
                "dropna",
                r,
            )
        if dropna:
            notes.append(f"dropped {int(missing_rows.sum())} rows with missing properties.")
        else:
            notes.append(f"left out {int(missing_rows.sum())} rows with none of the properties.")
        keep = ~missing_rows
        frame = frame.loc[keep].reset_index(drop=True)
        array = array[keep]
        setting_values = setting_values[keep]
        table.source_rows = table.source_rows[keep]
    if len(frame) == 0:
        raise table.too_few(0) if table.min_alloys is not None else DataError(
            "No row has every property; nothing to load.", field="properties"
        )

    try:
        compositions, elements = parse_compositions(
            frame[composition_column].to_numpy(), elements if elements is not None else table.elements,
            rows=table.source_rows.tolist(), field=composition_column,
        )  # fmt: skip
    except DataError as err:
        if err.row is None:
            raise
        raise table.row_error(err.message, composition_column, err.row) from None
    if property_units is None:
        property_units = [table.units.get(c, "") for c in columns]
    if len(property_units) != len(columns):
        raise UsageError(
            f"expected {len(columns)} property units, one per property. Received: {list(property_units)}",
            field="property_units",
        )
    formulas = frame[composition_column].tolist() if table.bundled else to_formulas(compositions, elements, threshold=0.0)

    keys = [columns.index(c) for c in table.setting_columns] + [len(columns) + j for j in range(len(settings))]
    compositions, merged, formulas, groups, note = _merge_duplicates(
        compositions, np.concatenate([array, setting_values], axis=1), formulas, columns + list(settings), keys,
        duplicates,
    )
    array, setting_values = merged[:, : len(columns)], merged[:, len(columns) :]
    if note:
        notes.append(note)
    n_alloys = int(groups.max()) + 1
    error = table.too_few(n_alloys)
    if error is not None:
        raise error
    if not table.bundled and n_alloys < MIN_ALLOYS:
        notes.append(f"{n_alloys} distinct alloys: too few to train a model on (at least {MIN_ALLOYS}).")
    if verbose:
        for line in notes:
            logger.info("%s: %s", table.name, line)
    train_index, test_index = group_split(groups, test_fraction, seed)
    dataset = Dataset(
        compositions=compositions.astype(np.float32),
        properties=array.astype(np.float32),
        elements=elements,
        property_names=tuple(columns),
        property_units=tuple(property_units),
        formulas=tuple(formulas),
        train_index=train_index,
        test_index=test_index,
        name=table.name,
        groups=groups,
        duplicates=note,
        notes=tuple(notes),
        settings=setting_values.astype(np.float32),
        setting_names=tuple(settings),
        setting_units=tuple(setting_units),
    )
    if np.isnan(dataset.properties).any():
        counts = dataset.property_counts()
        dataset = dataclasses.replace(dataset, notes=dataset.notes + (
            "sparse table: " + ", ".join(f"{name} {a} alloys ({r} rows)" for name, (a, r) in counts.items())
            + "; each row teaches the properties it has.",))  # fmt: skip
    return dataclasses.replace(dataset, source_fingerprint=dataset.fingerprint())


def _setting_list(settings, properties, source) -> list[str]:
    """The setting names, checked: a list of distinct names, none of them a property."""
    if settings is None:
        return []
    if isinstance(settings, str):
        settings = [settings]
    settings = [str(s).strip() for s in settings]
    if not all(settings):
        raise UsageError(f"an empty setting name in {settings}.", field="settings")
    if len(set(settings)) != len(settings):
        raise UsageError(f"a setting is named twice: {settings}.", field="settings")
    is_mpea = isinstance(source, str) and source.strip().lower() == MPEA_NAME
    if is_mpea:
        from hea_zoo.data import mpea

        settings = [mpea.mpea_column(s) if s not in mpea.MPEA_CATEGORICAL else s for s in settings]
        categorical = [s for s in settings if s in mpea.MPEA_CATEGORICAL]
        if categorical:
            raise UsageError(
                f"{categorical} are categories, not numbers; settings are numeric in this release "
                f"(test_temperature). Keep one category with the filters instead (test_type, processing).",
                field="settings",
            )
    if properties is not None:
        props = [properties] if isinstance(properties, str) else list(properties)
        if is_mpea:
            from hea_zoo.data import mpea

            props = [mpea.mpea_column(p) for p in props]
        both = [s for s in settings if s in props]
        if both:
            raise UsageError(
                f"{', '.join(both)} is how a value was measured, not a property to predict: name it among the "
                "settings only (an input of the surrogate and a condition of the generators, fixed when "
                "designing).",
                field="properties",
            )
    return settings


def _read_settings(table, settings) -> tuple[np.ndarray, list[str]]:
    """(N, S) float64 setting values of the table's rows (NaN where missing) and their units."""
    frame = table.frame
    if not settings:
        return np.zeros((len(frame), 0)), []
    missing = [c for c in settings if c not in frame.columns]
    if missing:
        raise DataError(
            f"Setting column(s) {missing} not found. Columns: {', '.join(map(str, frame.columns))}.", field="settings"
        )
    values = frame[settings].apply(pd.to_numeric, errors="coerce")
    for c in settings:
        bad = values[c].isna() & frame[c].notna()
        if bad.any():
            r = int(np.flatnonzero(bad.to_numpy())[0])
            raise table.row_error(
                f"setting {c!r} is not a number ({frame[c].iloc[r]!r}); settings are numeric.", "settings", r
            )
    array = values.to_numpy(dtype=np.float64, copy=True)
    if np.isinf(array).any():
        r, c = map(int, np.argwhere(np.isinf(array))[0])
        raise table.row_error(f"setting {settings[c]!r} is not finite.", "settings", r)
    if table.name == MPEA_NAME and "test_temperature" in settings:
        j = settings.index("test_temperature")
        array[:, j] = np.where(np.isnan(array[:, j]), 25.0, array[:, j])  # as the temperature filter counts them
    return array, [table.units.get(c, "") for c in settings]


@dataclass
class _Table:
    """A table as read, before its values are checked: the frame, its columns, and how
    to name its rows in errors."""

    frame: pd.DataFrame
    name: str
    composition_column: str
    property_columns: list[str]
    units: dict[str, str]
    setting_columns: list[str]
    source_rows: np.ndarray
    elements: tuple[str, ...] | None = None  # the default element list (None: the table's own)
    bundled: bool = False
    path: Path | None = None  # a CSV file: lines are counted in it
    label: str = "data row"
    line_offset: int | None = None  # a file with no blank lines or multi-line fields: line = row + offset
    file_name: str | None = None
    min_alloys: int | None = None
    selection: str = ""

    def line(self, row: int) -> int | None:
        if self.path is not None:
            line = csv_line(self.path, row)
            return row + 2 if line is None else line
        return None if self.line_offset is None else row + self.line_offset

    def row_error(self, message: str, field: str, row: int) -> DataError:
        """A `DataError` at data row `row` (0-based, as read; rows dropped by `dropna` keep
        their numbers): ``where`` says ``data row 7 (0-based; line 9 of alloys.csv)``."""
        row = int(row)
        line = self.line(row)
        where = f"{self.label} {row} (0-based)" if line is None else f"{self.label} {row} (0-based; line {line} of {self.file_name})"
        return DataError(message, field=field, row=row, line=line, where=where)

    def too_few(self, n_alloys: int) -> DataError | None:
        if self.min_alloys is None:
            return DataError("The table has no rows.") if n_alloys == 0 else None
        if n_alloys >= self.min_alloys:
            return None
        if self.selection:
            return DataError(
                f"The {self.name.upper()} selection ({self.selection}) leaves {n_alloys} distinct alloys; "
                f"at least {self.min_alloys} are needed. Loosen a filter."
            )
        return DataError(
            f"the table has {n_alloys} distinct alloy{'' if n_alloys == 1 else 's'} with the requested properties; "
            f"at least {self.min_alloys} are needed: a fifth of them is held out to test the models "
            "(split by composition) and the surrogate's intervals are calibrated on the rest.",
            field="source",
        )


def _open(source, composition_column, properties, setting_columns, test_type, temperature, processing,
          settings=()) -> _Table:  # fmt: skip
    """Reads `source` into a `_Table` and checks its columns against the parameters."""
    if isinstance(properties, str):
        properties = [properties]
    if isinstance(source, str) and source.strip().lower() == MPEA_NAME:
        from hea_zoo.data import mpea

        selection = mpea.mpea_selection(
            properties, test_type=test_type, temperature=temperature, processing=processing, settings=settings
        )
        frame = selection.frame
        table = _Table(
            frame=frame, name=mpea.MPEA_NAME, composition_column="composition", property_columns=list(selection.properties),
            units=dict(mpea.MPEA_UNITS), setting_columns=list(selection.setting_columns if setting_columns is None else setting_columns),
            source_rows=frame["source_row"].to_numpy(), label="MPEA data row", line_offset=2,
            file_name=mpea.MPEA_PATH.name, min_alloys=MIN_ALLOYS, selection=selection.description,
        )  # fmt: skip
        properties = table.property_columns
    else:
        given = [name for name, value, default in (("test_type", test_type, None), ("temperature", temperature, "room"),
                                                   ("processing", processing, None)) if value not in (default, None)]  # fmt: skip
        if given:
            also = f", as does {', '.join(given[1:])}" if len(given) > 1 else ""
            raise UsageError(
                f"filters the MPEA table only (source='mpea'){also}. Received: source={source!r}", field=given[0]
            )
        units, elements, bundled, path, name = dict(zip(PROPERTY_NAMES, PROPERTY_UNITS)), None, False, None, "dataframe"
        if source is None:
            frame, name, bundled, elements = pd.read_csv(DATA_PATH), BUNDLED_NAME, True, ELEMENTS
        elif isinstance(source, pd.DataFrame):
            frame = source.reset_index(drop=True)
        else:
            path = Path(source)
            _check_csv_file(path)
            try:
                frame = pd.read_csv(path)
            except Exception as err:
                raise DataError(f"cannot read {str(path)!r} as CSV: {err}", field="source") from None
            name = path.name
        table = _Table(
            frame=frame, name=name, composition_column=composition_column, property_columns=[], units=units,
            setting_columns=list(setting_columns or []), source_rows=np.arange(len(frame)), elements=elements,
            bundled=bundled, path=path, file_name=None if path is None else path.name,
        )  # fmt: skip
    frame, composition_column = table.frame, table.composition_column
    if composition_column not in frame.columns:
        raise DataError(
            f"Composition column {composition_column!r} not found. Columns: {', '.join(map(str, frame.columns))}.",
            field="composition_column",
        )
    if properties is None:
        properties = [c for c in frame.columns if c != composition_column]
    properties = list(properties)
    if not properties:
        raise DataError("Expected at least one property column. Received none.", field="properties")
    repeated = sorted({c for c in properties if properties.count(c) > 1}, key=properties.index)
    if repeated:
        raise UsageError(f"{', '.join(map(repr, repeated))} listed more than once; name each property once.",
                         field="properties")  # fmt: skip
    missing = [c for c in properties if c not in frame.columns]
    if missing:
        raise DataError(
            f"Property column(s) {missing} not found. Columns: {', '.join(map(str, frame.columns))}.",
            field="properties",
        )
    if composition_column in properties:
        raise UsageError(f"{composition_column!r} cannot be both the composition and a property column.", field="properties")
    stray = [c for c in table.setting_columns if c not in properties]
    if stray:
        raise UsageError(f"{stray} must be property columns ({properties}).", field="setting_columns")
    table.property_columns = properties
    error = table.too_few(0) if len(frame) == 0 else None
    if error is not None:
        raise error
    return table


def _check_csv_file(path: Path) -> None:
    """Refuses, before pandas reads it, a CSV that is missing, a folder, empty, has a
    column name twice in its header, or a row with more fields than the header; the
    error names the file, the column or the line."""
    if not path.exists():
        raise DataError(f"data file not found: {str(path)!r}.", field="source")
    if path.is_dir():
        raise DataError(f"{str(path)!r} is a folder; expected a CSV file.", field="source")
    try:
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as handle:
            reader = csv.reader(handle)
            header = None
            for fields in reader:
                if not any(f.strip() for f in fields):
                    continue  # pandas skips blank lines
                if header is None:
                    header = [f.strip() for f in fields]
                    seen: dict[str, int] = {}
                    for column, name in enumerate(header, start=1):
                        if name in seen:
                            raise DataError(
                                f"the header names column {name!r} twice (columns {seen[name]} "
                                f"and {column}); give every column its own name.",
                                field="source",
                            )
                        seen[name] = column
                    continue
                if len(fields) > len(header):
                    raise DataError(
                        f"line {reader.line_num}: {len(fields)} fields, the header has "
                        f"{len(header)} (too many fields: a stray comma, or a formula with a comma that is "
                        "not quoted).",
                        field="source",
                    )
    except OSError as err:
        raise DataError(f"cannot read {str(path)!r}: {err.strerror or err}.", field="source") from None
    except csv.Error as err:
        raise DataError(f"cannot read {str(path)!r} as CSV: {err}.", field="source") from None
    if header is None:
        raise DataError("the file is empty: expected a header line and rows of alloys.", field="source")


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


def _merge_duplicates(compositions, values, formulas, names, settings, policy):
    """Groups rows by rounded composition (and setting columns); applies the policy
    (median and mean over the rows that have each property: sparse rows merge).

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
            v = v[np.isfinite(v)]
            if len(v) < 2:
                continue
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
        reduce = np.nanmedian if policy == "median" else np.nanmean
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a property no repeat has stays NaN
            for u in repeated:
                merged[u] = reduce(values[units == u], axis=0)
    note = f"duplicates: {what}, merged to one row each by {policy}; {spread_text}"
    return compositions[first], merged, [formulas[i] for i in first], groups[first], note

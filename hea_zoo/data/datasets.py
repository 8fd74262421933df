"""Datasets: the bundled 529-alloy RHEA set and users' own tables, with a seeded split."""

from __future__ import annotations

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

__all__ = ["Dataset", "load_dataset", "PROPERTY_NAMES", "PROPERTY_UNITS", "BUNDLED_NAME"]


@dataclass(frozen=True, eq=False)
class Dataset:
    """Compositions with their properties, element list, units and a seeded train/test split.

    Attributes:
        compositions: (N, E) float32 atomic fractions, rows summing to 1.
        properties: (N, P) float32, physical units (`property_units`).
        elements: the E element symbols, in column order.
        property_names: the P property names (for the bundled data: shear_modulus,
            fracture_toughness).
        property_units: the P units (GPa, MPa*m^0.5 for the bundled data).
        formulas: the N formula strings.
        train_index, test_index: disjoint row indices of the seeded split.
        name: where the data came from.
        source_fingerprint: `fingerprint()` of the whole table this one came from (kept by
            `subset`, `train` and `test`), so a split still knows its origin
            (`hea_zoo.constants.oracle_applies`).
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
    _subsets: dict = field(default_factory=dict, repr=False, compare=False)

    def __len__(self) -> int:
        return int(self.compositions.shape[0])

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, n={len(self)}, elements={len(self.elements)}, "
            f"properties={list(self.property_names)}, train={len(self.train_index)}, "
            f"test={len(self.test_index)})"
        )

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

    def percentile(self, q: float | Sequence[float]) -> np.ndarray:
        """Percentile(s) of each property over the training split: shape (P,) or (len(q), P)."""
        return np.percentile(self.properties[self.train_index], q, axis=0).astype(np.float32)

    def to_frame(self) -> pd.DataFrame:
        """The table: a composition column and one column per property."""
        frame = pd.DataFrame({"composition": list(self.formulas)})
        for j, name in enumerate(self.property_names):
            frame[name] = self.properties[:, j]
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


def _split(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in [0, 1). Received: test_fraction={test_fraction}")
    order = np.random.default_rng(seed).permutation(n)
    n_test = int(round(n * test_fraction))
    if n - n_test < 2:
        raise ValueError(f"Too few rows ({n}) to split with test_fraction={test_fraction}.")
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def load_dataset(
    source: str | os.PathLike | pd.DataFrame | None = None,
    composition_column: str = "composition",
    property_columns: Sequence[str] | None = None,
    elements: Sequence[str] | None = None,
    dropna: bool = False,
    test_fraction: float = 0.2,
    seed: int = 0,
    property_units: Sequence[str] | None = None,
) -> Dataset:
    """Load the bundled RHEA dataset, or a user's table of alloys.

    Args:
        source: None for the bundled 529 alloys; else a CSV path or a DataFrame.
        composition_column: the column holding formula strings ("HfNbTaTiZr").
        property_columns: property columns (at least one). Default for the bundled data:
            shear_modulus, fracture_toughness; for a user table: every column but the
            composition column.
        elements: element order of the composition vectors. Default: the study's 22 for
            the bundled data; the elements the table contains, sorted, for a user table.
        dropna: drop rows with a missing property (printing how many) instead of raising.
        test_fraction: share of rows held out, by a permutation seeded with `seed`.
        seed: split seed.
        property_units: units of the property columns (default: the bundled units when the
            names match, else "").

    Returns:
        A `Dataset`.

    Raises:
        ValueError: missing file or column, no property column, a bad composition (the
            message names the row, formula and reason), a missing or non-numeric property.

    Example:
        >>> ds = load_dataset()
        >>> ds.compositions.shape
        (529, 22)
    """
    bundled = source is None
    if bundled:
        frame = pd.read_csv(DATA_PATH)
        name = BUNDLED_NAME
        if elements is None:
            elements = ELEMENTS
    elif isinstance(source, pd.DataFrame):
        frame, name = source.reset_index(drop=True), "dataframe"
    else:
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"Data file not found: {str(path)!r}.")
        try:
            frame = pd.read_csv(path)
        except Exception as err:
            raise ValueError(f"Cannot read {str(path)!r} as CSV: {err}") from None
        name = path.name
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
    if len(frame) == 0:
        raise ValueError("The table has no rows.")

    values = frame[property_columns].apply(pd.to_numeric, errors="coerce")
    for c in property_columns:
        bad = values[c].isna() & frame[c].notna()
        if bad.any():
            r = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(f"row {r}: property {c!r} is not a number ({frame[c].iloc[r]!r}).")
    missing_rows = values.isna().any(axis=1).to_numpy()
    if missing_rows.any():
        if not dropna:
            r = int(np.flatnonzero(missing_rows)[0])
            cols = [c for c in property_columns if pd.isna(values[c].iloc[r])]
            raise ValueError(
                f"row {r}: missing value for {', '.join(cols)} "
                f"({int(missing_rows.sum())} rows have missing properties; pass dropna=True "
                f"to drop them)."
            )
        print(f"load_dataset: dropped {int(missing_rows.sum())} rows with missing properties.")
        frame = frame.loc[~missing_rows].reset_index(drop=True)
        values = values.loc[~missing_rows].reset_index(drop=True)
    infinite = ~np.isfinite(values.to_numpy(dtype=np.float64))
    if infinite.any():
        r, c = map(int, np.argwhere(infinite)[0])
        raise ValueError(f"row {r}: property {property_columns[c]!r} is not finite.")

    formulas = frame[composition_column].tolist()
    if elements is None:
        # Each row is parsed once over its own elements, then placed in the union's columns.
        rows = [_parse_own_elements(f, r) for r, f in enumerate(formulas)]
        elements = tuple(sorted({s for symbols, _ in rows for s in symbols}))
        column = {s: j for j, s in enumerate(elements)}
        compositions = np.zeros((len(rows), len(elements)), dtype=np.float32)
        for i, (symbols, vector) in enumerate(rows):
            compositions[i, [column[s] for s in symbols]] = vector
    else:
        elements = tuple(elements)
        if len(set(elements)) != len(elements):
            raise ValueError(f"Duplicate symbols in elements: {list(elements)}.")
        compositions = np.stack([parse_formula(f, elements, row=r) for r, f in enumerate(formulas)])
    properties = values.to_numpy(dtype=np.float32)
    if property_units is None:
        units = dict(zip(PROPERTY_NAMES, PROPERTY_UNITS))
        property_units = [units.get(c, "") for c in property_columns]
    if len(property_units) != len(property_columns):
        raise ValueError(
            f"Expected {len(property_columns)} property units. Received {list(property_units)}."
        )
    train_index, test_index = _split(len(frame), test_fraction, seed)
    dataset = Dataset(
        compositions=compositions.astype(np.float32),
        properties=properties,
        elements=elements,
        property_names=tuple(property_columns),
        property_units=tuple(property_units),
        formulas=tuple(to_formula(c, elements, threshold=0.0) for c in compositions)
        if not bundled
        else tuple(formulas),
        train_index=train_index,
        test_index=test_index,
        name=name,
    )
    return dataclasses.replace(dataset, source_fingerprint=dataset.fingerprint())


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

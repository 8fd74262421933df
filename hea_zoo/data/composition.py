"""Compositions: formula strings <-> atomic-fraction vectors, and their validation.

A composition is a row of nonnegative atomic fractions summing to 1 (within `SUM_ATOL`)
over an element list. Formula strings are parsed with pymatgen's `Composition`, the
field's standard parser, so ``"HfNbTaTiZr"``, ``"Hf0.2Nb0.2Ta0.2Ti0.2Zr0.2"`` and
``"AlMo0.5NbTa0.5TiZr"`` all work; amounts are renormalized to fractions.

Output formulas drop fractions below `DROP_THRESHOLD` (0.5 at.%) and renormalize the
rest, so a generated vector with a 1e-7 trace of every element prints as the alloy a
metallurgist would make. Printing is `hea_zoo.artifact`'s printed composition (fractions
rounded to 0.001 by largest remainder, summing to exactly 1), so a printed formula parsed
and printed again is the same formula (a fixed point), in every runtime.
"""

from __future__ import annotations

import functools
import math
import re
import warnings
from collections.abc import Iterable, Sequence

import numpy as np

from hea_zoo.artifact import DECIMALS, DROP_THRESHOLD, formula_strings, printed_thousandths
from hea_zoo.constants import ELEMENTS
from hea_zoo.errors import DataError, UsageError

__all__ = [
    "DROP_THRESHOLD",
    "SUM_ATOL",
    "parse_compositions",
    "parse_formula",
    "parse_formulas",
    "to_formula",
    "to_formulas",
    "validate_compositions",
    "valid_rows",
]

#: Rows must sum to 1 within this tolerance.
SUM_ATOL = 1e-6

_EXPONENT = re.compile(r"(?<=[A-Za-z)\]])(\d+\.?\d*|\.\d+)[eE]([-+]?\d+)")
_AMOUNT = re.compile(r"([A-Z][a-z]?)\s*(-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|(?:nan|NaN|NAN)(?![a-z]))?")


# Symbols pymatgen reads as hydrogen isotopes: refused, so that `NbTaD` is not silently NbTaH.
_ISOTOPES = {"D": "deuterium", "T": "tritium"}


def _expand_exponents(text: str) -> str:
    """Writes amounts in scientific notation (``Nb2.5e+1``) as plain decimals (``Nb25``).

    pymatgen's formula grammar has no exponents; a plain decimal of the same value keeps
    the amounts exact.
    """
    from decimal import Decimal

    def plain(match: re.Match) -> str:
        value = Decimal(f"{match.group(1)}e{match.group(2)}")
        return format(value.normalize(), "f") if value else "0"

    return _EXPONENT.sub(plain, text)


def _reason_of_amounts(text: str) -> str | None:
    """Why the amounts written in `text` cannot be used (NaN, negative), checked before
    pymatgen, which accepts some of these silently; None if they can."""
    for symbol, amount in _AMOUNT.findall(text):
        if amount and amount.lower() == "nan":
            return f"amount of {symbol} is NaN."
        if amount and float(amount) < 0:
            return f"amount of {symbol} is negative ({amount})."
    return None


@functools.lru_cache(maxsize=65536)
def _amounts(text: str) -> tuple[tuple[str, float], ...]:
    """The element amounts of a (stripped, non-empty) formula string, sorted by symbol.

    The one set of rules every formula goes through: amounts neither NaN nor negative,
    parsed by pymatgen's `Composition` (scientific notation written out first), every
    symbol a chemical element, amounts finite, at least one positive. Cached: tables
    repeat formulas, and pymatgen is the slow part.

    Raises:
        ValueError: the reason (no formula or row in it).
    """
    from pymatgen.core import Composition
    from pymatgen.core.periodic_table import Element

    reason = _reason_of_amounts(text)
    if reason is not None:
        raise ValueError(reason)
    isotopes = sorted({symbol for symbol, _ in _AMOUNT.findall(text) if symbol in _ISOTOPES})
    if isotopes:
        raise ValueError("; ".join(f"{s} is {_ISOTOPES[s]}, an isotope of H, not an element; write H" for s in isotopes) + ".")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            comp = Composition(_expand_exponents(text))
    except Exception as err:  # pymatgen raises several types for bad strings
        raise ValueError(f"cannot be parsed as a chemical formula ({err}).") from None
    amounts: dict[str, float] = {}
    for el, amount in comp.get_el_amt_dict().items():
        amounts[str(el)] = amounts.get(str(el), 0.0) + float(amount)
    if not amounts:
        raise ValueError("amounts sum to zero (no element with a positive amount).")
    unknown = sorted(s for s in amounts if not Element.is_valid_symbol(s))
    if unknown:
        raise ValueError(f"{', '.join(unknown)} is not a chemical element.")
    if not all(math.isfinite(v) for v in amounts.values()):
        raise ValueError("amounts must be finite.")
    bad = sorted(s for s, v in amounts.items() if v < 0)
    if bad:
        raise ValueError(f"amount of {', '.join(bad)} is negative.")
    if sum(amounts.values()) <= 0:
        raise ValueError("amounts sum to zero.")
    return tuple(sorted(amounts.items()))


def _formula_amounts(formula: object, row: object, field: str | None) -> dict[str, float]:
    """`_amounts` of one table cell, or a `DataError` naming the row, formula and reason."""
    if formula is None or (isinstance(formula, float) and math.isnan(formula)):
        reason = "empty composition (missing value)."
    elif not isinstance(formula, str):
        reason = f"expected a formula string, received {type(formula).__name__}."
    elif not formula.strip():
        reason = "empty composition string."
    else:
        try:
            return dict(_amounts(formula.strip()))
        except ValueError as err:
            reason = str(err)
    what = f"formula {formula!r}" if row is not None else repr(formula)
    raise DataError(f"{what}: {reason}", field=field, row=row)


@functools.lru_cache(maxsize=64)
def _element_list(elements: tuple[str, ...]) -> tuple[str, ...]:
    from pymatgen.core.periodic_table import Element

    if len(set(elements)) != len(elements):
        raise UsageError(f"duplicate symbols in the element list. Received: {list(elements)}", field="elements")
    unknown = [e for e in elements if not (isinstance(e, str) and Element.is_valid_symbol(e)) or e in _ISOTOPES]
    if unknown:
        raise UsageError(
            f"{', '.join(map(str, unknown))} is not a chemical element. Received: {list(elements)}",
            field="elements",
        )
    return elements


def parse_compositions(
    formulas: Iterable[str],
    elements: Sequence[str] | None = None,
    rows: Sequence | None = None,
    field: str | None = "formulas",
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Parse a column of formulas into fractions: the one parser of hea_zoo.

    `parse_formula`, `parse_formulas` and `hea_zoo.data.datasets.load_dataset` all parse
    here, with one set of rules. Each distinct formula is parsed once (pymatgen's
    `Composition`, cached across calls) and the table is filled from the distinct rows.

    Args:
        formulas: a list, array or pandas Series of formula strings.
        elements: the element order of the columns; None for the elements the formulas
            contain, sorted by symbol.
        rows: what to call each row in errors (default: the position, or the index label
            of a Series).
        field: the parameter or column named by errors.

    Returns:
        ``(fractions, elements)``: an (N, E) float32 array (rows nonnegative, summing to 1)
        and the E element symbols of its columns.

    Raises:
        DataError: the first bad row (in order), with ``row`` set: missing or empty,
            unparsable, a NaN, negative or infinite amount, zero total, a symbol that is not
            a chemical element, or one outside `elements`.
        UsageError: `elements` repeats a symbol or holds something that is not an element.

    Example:
        >>> x, elements = parse_compositions(["NbTa", "Mo0.5W0.5"])
        >>> elements
        ('Mo', 'Nb', 'Ta', 'W')
    """
    if isinstance(formulas, str):
        formulas = [formulas]
    if hasattr(formulas, "index") and hasattr(formulas, "to_numpy"):
        labels, values = list(formulas.index), list(formulas.to_numpy())
    else:
        values = list(formulas)
        labels = range(len(values))
    if rows is not None:
        labels = list(rows)
    given = None if elements is None else _element_list(tuple(elements))
    codes = np.empty(len(values), dtype=np.int64)
    seen: dict[str, int] = {}
    distinct: list[dict[str, float]] = []
    for i, formula in enumerate(values):
        key = formula.strip() if isinstance(formula, str) else None
        k = seen.get(key) if key is not None else None
        if k is None:
            amounts = _formula_amounts(formula, labels[i], field)
            if given is not None:
                outside = sorted(set(amounts) - set(given))
                if outside:
                    what = f"formula {formula!r}" if labels[i] is not None else repr(formula)
                    raise DataError(
                        f"{what}: element(s) {', '.join(outside)} not in the element list ({', '.join(given)}).",
                        field=field,
                        row=labels[i],
                    )
            k = len(distinct)
            distinct.append(amounts)
            if key is not None:
                seen[key] = k
        codes[i] = k
    columns = given if given is not None else tuple(sorted({s for a in distinct for s in a}))
    index = {s: j for j, s in enumerate(columns)}
    table = np.zeros((len(distinct), len(columns)), dtype=np.float32)
    for k, amounts in enumerate(distinct):
        # Normalized over the element list given, or over the formula's own elements
        # (zeros do not change the sum, and this keeps every value as it always was).
        symbols = columns if given is not None else tuple(sorted(amounts))
        v = np.array([amounts.get(s, 0.0) for s in symbols], dtype=np.float64)
        table[k, [index[s] for s in symbols]] = (v / v.sum()).astype(np.float32)
    return table[codes], columns


def parse_formula(
    formula: str, elements: Sequence[str] = ELEMENTS, row: int | None = None
) -> np.ndarray:
    """Parse one formula into a fraction vector over `elements`.

    Args:
        formula: e.g. ``"Hf0.2Nb0.2Ta0.2Ti0.2Zr0.2"``, ``"MoNbTaW"`` or ``"Nb2.5e+1Ta1"``.
        elements: the element order of the output vector.
        row: row number to name in error messages (for tables).

    Returns:
        float32 array of shape (len(elements),), nonnegative, summing to 1.

    Raises:
        DataError: empty or unparsable string, negative or NaN amount, zero total, a symbol
            that is not a chemical element or an element outside `elements`; the message
            names the formula (and the row) and the reason.

    Example:
        >>> parse_formula("MoNbTaW")[ELEMENTS.index("W")]
        0.25
    """
    return parse_compositions([formula], elements, rows=[row], field="formula")[0][0]


def parse_formulas(formulas: Iterable[str], elements: Sequence[str] = ELEMENTS) -> np.ndarray:
    """Parse a list, array or pandas column of formulas into an (N, E) float32 array.

    Errors name the row: the position in the sequence, or the index label of a pandas
    Series. A single string is treated as one formula.
    """
    return parse_compositions(formulas, elements, field="formulas")[0]


def _check_decimals(decimals: int) -> None:
    if decimals != DECIMALS:
        raise UsageError(
            f"printed formulas have {DECIMALS} decimals (multiples of 0.001 that sum to "
            f"exactly 1, hea_zoo.artifact). Received: decimals={decimals}",
            field="decimals",
        )


def to_formula(
    vector: Sequence[float] | np.ndarray,
    elements: Sequence[str] = ELEMENTS,
    threshold: float = DROP_THRESHOLD,
    decimals: int = DECIMALS,
) -> str:
    """Format one fraction vector as a formula string (its printed composition).

    Fractions below `threshold` are dropped and the rest renormalized, then rounded to
    0.001 by largest remainder so the printed fractions sum to exactly 1
    (`hea_zoo.artifact.printed_thousandths`); elements keep the order of `elements`.
    Parsing the result and printing it again gives the same string.

    Raises:
        DataError: wrong length, a negative or non-finite fraction, or nothing at or
            above the threshold.
        UsageError: ``decimals`` other than 3.

    Example:
        >>> to_formula([0.25, 0.25, 0.25, 0.25], ["Mo", "Nb", "Ta", "W"])
        'Mo0.25Nb0.25Ta0.25W0.25'
    """
    v = np.asarray(vector, dtype=np.float64).reshape(-1)
    if v.shape[0] != len(elements):
        raise DataError(
            f"Expected a vector of {len(elements)} fractions (one per element). "
            f"Received shape {np.shape(vector)}.",
            field="vector",
        )
    return _formulas(v[None, :], elements, threshold, decimals, single=True)[0]


def to_formulas(
    array: np.ndarray,
    elements: Sequence[str] = ELEMENTS,
    threshold: float = DROP_THRESHOLD,
    decimals: int = DECIMALS,
) -> list[str]:
    """Format each row of an (N, E) array (or any (..., E) array, flattened) as a formula.

    Vectorized: one `printed_thousandths` call for the whole array. Raises a `DataError`
    naming the first row that cannot be printed (``row``).
    """
    a = np.asarray(array, dtype=np.float64)
    if a.ndim == 0 or a.shape[-1] != len(elements):
        raise DataError(
            f"Expected rows of {len(elements)} fractions (one per element). Received shape {a.shape}.",
            field="array",
        )
    return _formulas(a.reshape(-1, a.shape[-1]), elements, threshold, decimals)


def _formulas(rows: np.ndarray, elements, threshold: float, decimals: int, single: bool = False) -> list[str]:
    _check_decimals(decimals)
    if rows.shape[0] == 0:
        return []
    field = "vector" if single else "array"
    bad = ~np.all(np.isfinite(rows), axis=1) | np.any(rows < -SUM_ATOL, axis=1)
    if bad.any():
        r = int(np.argmax(bad))
        raise DataError(
            f"cannot format a composition with negative or non-finite fractions: {rows[r].tolist()}.",
            field=field,
            row=None if single else r,
        )
    thousandths, ok = printed_thousandths(rows, threshold)
    if not ok.all():
        r = int(np.argmin(ok))
        raise DataError(
            f"no fraction reaches the drop threshold {threshold}: nothing to format.",
            field=field,
            row=None if single else r,
        )
    return formula_strings(thousandths, elements)


def valid_rows(array: np.ndarray, atol: float = SUM_ATOL) -> np.ndarray:
    """Boolean mask of rows that are valid compositions (finite, >= 0, summing to 1)."""
    a = np.asarray(array, dtype=np.float64)
    finite = np.all(np.isfinite(a), axis=-1)
    nonneg = np.all(np.nan_to_num(a, nan=-1.0) >= 0, axis=-1)
    sums = np.abs(np.nansum(a, axis=-1) - 1.0) <= atol
    return finite & nonneg & sums


def validate_compositions(
    array: np.ndarray,
    n_elements: int | None = None,
    name: str = "compositions",
    atol: float = 1e-4,
) -> np.ndarray:
    """Check an (N, E) array of fractions and return it as float32.

    Args:
        array: the compositions.
        n_elements: expected number of columns, if known.
        name: what to call the array in error messages.
        atol: tolerance on the row sums (float32 arithmetic from callers is allowed for).

    Raises:
        DataError: wrong shape, NaN/inf, negative fraction, or a row not summing to 1;
            ``field`` is `name`, ``row`` the first bad row.
    """
    a = np.asarray(array, dtype=np.float64)
    if a.ndim != 2:
        raise DataError(f"Expected {name} as a 2-D array (rows, elements). Received shape {a.shape}.", field=name)
    if n_elements is not None and a.shape[1] != n_elements:
        raise DataError(
            f"Expected {name} with {n_elements} columns (one per element). Received shape {a.shape}.", field=name
        )
    if a.shape[0] == 0:
        raise DataError(f"Expected at least one row in {name}. Received shape {a.shape}.", field=name)
    bad = ~np.all(np.isfinite(a), axis=1)
    if bad.any():
        r = int(np.argmax(bad))
        raise DataError(f"contains NaN or infinite fractions: {a[r].tolist()}.", field=name, row=r)
    bad = np.any(a < 0, axis=1)
    if bad.any():
        r = int(np.argmax(bad))
        raise DataError(f"has a negative fraction: {a[r].tolist()}.", field=name, row=r)
    sums = a.sum(axis=1)
    bad = np.abs(sums - 1.0) > atol
    if bad.any():
        r = int(np.argmax(bad))
        raise DataError(f"sums to {sums[r]:.6g}, expected 1 (atomic fractions).", field=name, row=r)
    return a.astype(np.float32)

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

import math
import re
import warnings
from collections.abc import Iterable, Sequence

import numpy as np

from hea_zoo.artifact import DECIMALS, DROP_THRESHOLD, formula_strings, printed_thousandths
from hea_zoo.constants import ELEMENTS

__all__ = [
    "DROP_THRESHOLD",
    "SUM_ATOL",
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


def _where(row: int | None, formula: object) -> str:
    prefix = f"row {row}: " if row is not None else ""
    return f"{prefix}formula {formula!r}"


def parse_formula(
    formula: str, elements: Sequence[str] = ELEMENTS, row: int | None = None
) -> np.ndarray:
    """Parse one formula into a fraction vector over `elements`.

    Args:
        formula: e.g. ``"Hf0.2Nb0.2Ta0.2Ti0.2Zr0.2"`` or ``"MoNbTaW"``.
        elements: the element order of the output vector.
        row: row number to name in error messages (for tables).

    Returns:
        float32 array of shape (len(elements),), nonnegative, summing to 1.

    Raises:
        ValueError: empty or unparsable string, negative or NaN amount, zero total, or an
            element outside `elements`; the message names the row, formula and reason.

    Example:
        >>> parse_formula("MoNbTaW")[ELEMENTS.index("W")]
        0.25
    """
    from pymatgen.core import Composition

    where = _where(row, formula)
    if formula is None or (isinstance(formula, float) and math.isnan(formula)):
        raise ValueError(f"{where}: empty composition (missing value).")
    if not isinstance(formula, str):
        raise ValueError(f"{where}: expected a formula string, received {type(formula).__name__}.")
    text = formula.strip()
    if not text:
        raise ValueError(f"{where}: empty composition string.")
    # pymatgen accepts some of these silently; check them ourselves with precise reasons.
    for symbol, amount in _AMOUNT.findall(text):
        if amount and amount.lower() == "nan":
            raise ValueError(f"{where}: amount of {symbol} is NaN.")
        if amount and float(amount) < 0:
            raise ValueError(f"{where}: amount of {symbol} is negative ({amount}).")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            comp = Composition(_expand_exponents(text))
    except Exception as err:  # pymatgen raises several types for bad strings
        raise ValueError(f"{where}: cannot be parsed as a chemical formula ({err}).") from None
    amounts: dict[str, float] = {}
    for el, amount in comp.get_el_amt_dict().items():
        amounts[str(el)] = amounts.get(str(el), 0.0) + float(amount)
    if not amounts:
        raise ValueError(f"{where}: amounts sum to zero (no element with a positive amount).")
    unknown = sorted(set(amounts) - set(elements))
    if unknown:
        raise ValueError(
            f"{where}: element(s) {', '.join(unknown)} not in the element list "
            f"({', '.join(elements)})."
        )
    values = np.array([amounts.get(e, 0.0) for e in elements], dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{where}: amounts must be finite.")
    if np.any(values < 0):
        bad = [e for e, v in zip(elements, values) if v < 0]
        raise ValueError(f"{where}: amount of {', '.join(bad)} is negative.")
    total = values.sum()
    if total <= 0:
        raise ValueError(f"{where}: amounts sum to zero.")
    return (values / total).astype(np.float32)


def parse_formulas(formulas: Iterable[str], elements: Sequence[str] = ELEMENTS) -> np.ndarray:
    """Parse a list, array or pandas column of formulas into an (N, E) float32 array.

    Errors name the row: the position in the sequence, or the index label of a pandas
    Series. A single string is treated as one formula.
    """
    if isinstance(formulas, str):
        return parse_formula(formulas, elements)[None, :]
    labels: Iterable
    if hasattr(formulas, "index") and hasattr(formulas, "to_numpy"):
        labels, values = list(formulas.index), list(formulas.to_numpy())
    else:
        values = list(formulas)
        labels = range(len(values))
    if not values:
        return np.zeros((0, len(elements)), dtype=np.float32)
    return np.stack([parse_formula(f, elements, row=r) for r, f in zip(labels, values)])


def _check_decimals(decimals: int) -> None:
    if decimals != DECIMALS:
        raise ValueError(
            f"Printed formulas have {DECIMALS} decimals (multiples of 0.001 that sum to "
            f"exactly 1, hea_zoo.artifact). Received: decimals={decimals}"
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
        ValueError: wrong length, a negative or non-finite fraction, nothing at or above
            the threshold, or ``decimals`` other than 3.

    Example:
        >>> to_formula([0.25, 0.25, 0.25, 0.25], ["Mo", "Nb", "Ta", "W"])
        'Mo0.25Nb0.25Ta0.25W0.25'
    """
    v = np.asarray(vector, dtype=np.float64).reshape(-1)
    if v.shape[0] != len(elements):
        raise ValueError(
            f"Expected a vector of {len(elements)} fractions (one per element). "
            f"Received shape {np.shape(vector)}."
        )
    return _formulas(v[None, :], elements, threshold, decimals, single=True)[0]


def to_formulas(
    array: np.ndarray,
    elements: Sequence[str] = ELEMENTS,
    threshold: float = DROP_THRESHOLD,
    decimals: int = DECIMALS,
) -> list[str]:
    """Format each row of an (N, E) array (or any (..., E) array, flattened) as a formula.

    Vectorized: one `printed_thousandths` call for the whole array. Raises a ValueError
    naming the first row that cannot be printed.
    """
    a = np.asarray(array, dtype=np.float64)
    if a.ndim == 0 or a.shape[-1] != len(elements):
        raise ValueError(
            f"Expected rows of {len(elements)} fractions (one per element). Received shape {a.shape}."
        )
    return _formulas(a.reshape(-1, a.shape[-1]), elements, threshold, decimals)


def _formulas(rows: np.ndarray, elements, threshold: float, decimals: int, single: bool = False) -> list[str]:
    _check_decimals(decimals)
    if rows.shape[0] == 0:
        return []
    bad = ~np.all(np.isfinite(rows), axis=1) | np.any(rows < -SUM_ATOL, axis=1)
    if bad.any():
        r = int(np.argmax(bad))
        where = "" if single else f"row {r}: "
        raise ValueError(f"{where}cannot format a composition with negative or non-finite fractions: {rows[r].tolist()}.")
    thousandths, ok = printed_thousandths(rows, threshold)
    if not ok.all():
        r = int(np.argmin(ok))
        where = "" if single else f"row {r}: "
        raise ValueError(f"{where}no fraction reaches the drop threshold {threshold}: nothing to format.")
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
        ValueError: wrong shape, NaN/inf, negative fraction, or a row not summing to 1;
            the message names the first bad row.
    """
    a = np.asarray(array, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"Expected {name} as a 2-D array (rows, elements). Received shape {a.shape}.")
    if n_elements is not None and a.shape[1] != n_elements:
        raise ValueError(
            f"Expected {name} with {n_elements} columns (one per element). Received shape {a.shape}."
        )
    if a.shape[0] == 0:
        raise ValueError(f"Expected at least one row in {name}. Received shape {a.shape}.")
    bad = ~np.all(np.isfinite(a), axis=1)
    if bad.any():
        r = int(np.argmax(bad))
        raise ValueError(f"{name} row {r} contains NaN or infinite fractions: {a[r].tolist()}.")
    bad = np.any(a < 0, axis=1)
    if bad.any():
        r = int(np.argmax(bad))
        raise ValueError(f"{name} row {r} has a negative fraction: {a[r].tolist()}.")
    sums = a.sum(axis=1)
    bad = np.abs(sums - 1.0) > atol
    if bad.any():
        r = int(np.argmax(bad))
        raise ValueError(f"{name} row {r} sums to {sums[r]:.6g}, expected 1 (atomic fractions).")
    return a.astype(np.float32)

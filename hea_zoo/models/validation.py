"""Checks of model arguments and training data, with errors that name what is wrong.

Every public entry point of the models (constructors, `adapt`, `generate`, the default
trainings) validates through these functions, so a bad argument or a bad row raises one
`ValueError` that says what was expected, echoes what was received and names the row.
"""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np

from hea_zoo.errors import DataError, HeaZooError, TargetError, UsageError

__all__ = [
    "as_str_tuple",
    "check_compositions",
    "check_conditions",
    "check_epochs",
    "check_pair",
    "check_properties",
    "nonnegative_int",
    "nonnegative_number",
    "positive_int",
    "positive_number",
    "units_tuple",
]


def as_str_tuple(value: Any, argument: str, allow_empty: bool = False) -> tuple[str, ...]:
    """A non-empty tuple of strings (each non-empty unless `allow_empty`)."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise UsageError(
            f"must be a sequence of strings. Received: {argument}={value!r}",
            field=argument,
        )
    out = tuple(value)
    if not out or not all(isinstance(v, str) and (v or allow_empty) for v in out):
        raise UsageError(
            f"must be a non-empty sequence of "
            f"{'' if allow_empty else 'non-empty '}strings. Received: {argument}={value!r}",
            field=argument,
        )
    return out


def positive_int(value: Any, argument: str) -> int:
    """`value` as an int >= 1 (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise UsageError(
            f"must be a positive integer. Received: {argument}={value!r}",
            field=argument,
        )
    return int(value)


def nonnegative_int(value: Any, argument: str) -> int:
    """`value` as an int >= 0 (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise UsageError(
            f"must be a nonnegative integer. Received: {argument}={value!r}",
            field=argument,
        )
    return int(value)


def check_epochs(epochs: Any) -> int:
    """The number of epochs of a training: an integer >= 1."""
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 1:
        raise UsageError(
            f"must be an integer >= 1 (a training runs at least one epoch). "
            f"Received: epochs={epochs!r}",
            field="epochs",
        )
    return int(epochs)


def nonnegative_number(value: Any, argument: str) -> float:
    """`value` as a finite float >= 0."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not np.isfinite(value)
        or value < 0
    ):
        raise UsageError(
            f"must be a nonnegative number. Received: {argument}={value!r}",
            field=argument,
        )
    return float(value)


def positive_number(value: Any, argument: str) -> float:
    """`value` as a finite float > 0."""
    if nonnegative_number(value, argument) == 0:
        raise UsageError(f"must be a positive number. Received: {argument}={value!r}", field=argument)
    return float(value)


def units_tuple(value: Any, argument: str) -> tuple[int, ...]:
    """Layer widths: a sequence of positive integers (one integer is one layer)."""
    if isinstance(value, numbers.Integral):
        value = (value,)
    try:
        out = tuple(value)
    except TypeError:
        out = None
    if out is None or not all(
        isinstance(u, numbers.Integral) and not isinstance(u, bool) and u > 0 for u in out
    ):
        raise UsageError(
            f"must be a sequence of positive integers (layer widths). "
            f"Received: {argument}={value!r}",
            field=argument,
        )
    return tuple(int(u) for u in out)


def _describe(names: Sequence[str], units: Sequence[str]) -> str:
    return ", ".join(f"{n} [{u}]" for n, u in zip(names, units))


def check_conditions(
    conditions: Any,
    names: Sequence[str],
    units: Sequence[str],
    name: str = "conditions",
    nonnegative: bool | Sequence[bool] | np.ndarray = True,
    error: type[HeaZooError] = TargetError,
) -> np.ndarray:
    """Validates conditions (physical units) and returns them as float32 `(m, len(names))`.

    A single condition vector of shape `(len(names),)` is accepted and returned as one row.

    Args:
        conditions: `(m, len(names))` values, or one vector `(len(names),)`.
        names, units: the condition columns (named in errors).
        name: what to call the argument in errors.
        nonnegative: which columns refuse negative values: True (every column), False
            (none: training data, whose own range sets the rule), or one bool per column.
            A model passes the columns whose training data was never negative
            (`ConditionalGenerator.check_conditions`): a condition the data has negative
            (a test temperature in °C, a formation energy) accepts negative values.

        error: the class raised: `TargetError` (conditions asked for, the default) or
            `DataError` (a training table's conditions).

    Raises:
        TargetError (or `error`): wrong shape, non-numeric or non-finite values, or a
            negative value in a column that refuses them (field `name`; the message names
            the row and the expected columns). Both are `ValueError`s.
    """
    n = len(names)
    try:
        array = np.asarray(conditions, dtype="float64")
    except (TypeError, ValueError) as error:
        raise error(
            f"must be numeric, shape (m, {n}) with columns "
            f"{_describe(names, units)}. Could not convert: {error}",
            field=name,
        ) from None
    if array.ndim == 1 and array.shape[0] == n:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] != n or array.shape[0] == 0:
        raise error(
            f"must have shape (m, {n}), one column per condition "
            f"({_describe(names, units)}), m >= 1. Received: shape {array.shape}",
            field=name,
        )
    finite = np.isfinite(array)
    if not finite.all():
        row = int(np.argwhere(~finite.all(axis=1))[0, 0])
        raise error(
            f"must be finite; row {row} is {array[row].tolist()} "
            f"(columns {_describe(names, units)}).",
            field=name,
        )
    columns = np.broadcast_to(np.asarray(nonnegative, dtype=bool), (n,))
    negative = (array < 0) & columns[None, :]
    if negative.any():
        row, col = (int(v) for v in np.argwhere(negative)[0])
        every = bool(np.ndim(nonnegative) == 0 and nonnegative)
        raise error(
            "must be nonnegative"
            + (" physical values" if every else " where the training data is")
            + f"; row {row} has {names[col]}={float(array[row, col])!r} {units[col]} "
            f"(row {array[row].tolist()})"
            + ("." if every else f"; the training data's {names[col]} is never negative."),
            field=name,
        )
    return array.astype("float32")


def check_compositions(
    compositions: Any, elements: Sequence[str], name: str = "compositions", atol: float | None = None
) -> np.ndarray:
    """Validates compositions and returns them as float32 `(N, len(elements))`.

    Raises:
        ValueError: wrong number of columns (one per element expected), or a row that is
            not a composition (negative, NaN, not summing to 1); the message names the row.
    """
    from hea_zoo.data.composition import validate_compositions

    try:
        shape = np.shape(compositions)
    except Exception:  # ragged input: let the validator describe it
        shape = None
    if shape is not None and (len(shape) != 2 or shape[1] != len(elements)):
        raise DataError(
            f"must have shape (N, {len(elements)}), one column per element "
            f"({' '.join(elements)}). Received: shape {tuple(shape)}",
            field=name,
        )
    kwargs = {} if atol is None else {"atol": atol}
    return validate_compositions(compositions, n_elements=len(elements), name=name, **kwargs)


def check_pair(
    compositions: Any,
    conditions: Any,
    elements: Sequence[str],
    names: Sequence[str],
    units: Sequence[str],
    what: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Validates training compositions and their conditions (same number of rows)."""
    if conditions is None:
        raise DataError(
            f"{what}: the conditions are missing. Pass (compositions, conditions) with "
            f"conditions of shape (N, {len(names)}) ({_describe(names, units)})."
        )
    x = check_compositions(compositions, elements, name=f"{what} compositions")
    # Training data: its own range decides where negative conditions are allowed later.
    c = check_conditions(conditions, names, units, name=f"{what} conditions", nonnegative=False, error=DataError)
    if len(x) != len(c):
        raise DataError(
            f"{what}: compositions and conditions must have the same number of rows. "
            f"Received: {len(x)} compositions and {len(c)} conditions."
        )
    return x, c


def check_properties(
    properties: Any, n_rows: int, names: Sequence[str], name: str = "properties", allow_missing: bool = False
) -> np.ndarray:
    """Validates a property table `(n_rows, len(names))`; returns float32.

    With `allow_missing`, NaN marks a value a row does not have (a sparse table); infinite
    values are still refused."""
    n = len(names)
    try:
        y = np.asarray(properties, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise DataError(f"{name} must be numeric. Could not convert: {error}") from None
    if y.ndim == 1 and n == 1:
        y = y[:, None]
    if y.shape != (n_rows, n):
        raise DataError(
            f"Expected {name} of shape ({n_rows}, {n}) (one row per composition, one "
            f"column per property: {', '.join(names)}). Received shape {y.shape}."
        )
    bad = ~np.all(np.isfinite(y) | (allow_missing & np.isnan(y)), axis=1)
    if bad.any():
        r = int(np.argmax(bad))
        raise DataError(f"{name} row {r} is not finite: {y[r].tolist()}.")
    return y.astype(np.float32)

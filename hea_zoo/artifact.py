"""The artifact format: what every runtime (Keras, onnxruntime, Node, the browser) agrees on.

One home for four rules, each implemented bit-for-bit alike in
``examples/web/engine.js`` (see docs/DESIGN_ENGINE.md for the specification):

- the seeded noise draw (`noise`): a counter-based integer hash mapped to standard
  normals by Box–Muller, so ``model.generate(seed=s)``, ``hea-zoo design --seed s``, the
  Node example and the browser page draw the same ``z``;
- the printed composition (`printed_thousandths`, `printed_fractions`, `formula_strings`):
  the alloy a user sees — traces below the drop threshold removed, the rest renormalized
  and rounded to 0.001 by largest remainder, so the printed fractions sum to exactly 1 and
  printing a parsed printed formula gives the same formula (a fixed point);
- ranking of candidates against a target (`relative_errors`);
- the metadata written into exports (`encode_metadata`, `decode_metadata`).

Pure NumPy: importing this module loads neither TensorFlow nor pandas nor pymatgen.
"""

from __future__ import annotations

import json
import numbers
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hea_zoo.errors import MetadataError

__all__ = [
    "NOISE_SPEC",
    "DROP_THRESHOLD",
    "DECIMALS",
    "MAX_SEED",
    "check_seed",
    "noise",
    "printed_thousandths",
    "printed_fractions",
    "formula_strings",
    "parse_printed",
    "relative_errors",
    "encode_metadata",
    "decode_metadata",
    "MetadataError",
]

NOISE_SPEC = "hzn1"
"""Name of the noise generator (recorded in exports: ``noise`` metadata key)."""

DROP_THRESHOLD = 0.005
"""Fractions below this (0.5 at.%) are dropped from printed formulas."""

DECIMALS = 3
"""Printed fractions are multiples of 10**-DECIMALS."""

_UNIT = 10**DECIMALS
MAX_SEED = 2**32 - 1
"""Seeds are integers in [0, MAX_SEED]."""

_M1 = np.uint32(0x21F0AAAD)
_M2 = np.uint32(0x735A2D97)
_GOLDEN = np.uint32(0x9E3779B9)
_TWO32 = 4294967296.0


def _mix32(x: np.ndarray) -> np.ndarray:
    """A 32-bit integer hash (xor-shift-multiply, a bijection on uint32)."""
    x = np.asarray(x, dtype=np.uint32)
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint32(16))
        x = x * _M1
        x = x ^ (x >> np.uint32(15))
        x = x * _M2
        x = x ^ (x >> np.uint32(15))
    return x


def check_seed(seed: Any, name: str = "seed") -> int:
    """Validates a seed: an integer in [0, 2**32 - 1].

    Raises:
        ValueError: not an integer, or out of range (the message gives the range).
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"`{name}` must be an integer in [0, {MAX_SEED}]. Received: {name}={seed!r}")
    if not 0 <= int(seed) <= MAX_SEED:
        raise ValueError(f"`{name}` must be an integer in [0, {MAX_SEED}]. Received: {name}={seed!r}")
    return int(seed)


def row_words(seed: int, salt: int, rows: np.ndarray, count: int) -> np.ndarray:
    """``w_j(r) = mix32(h + j)`` for ``j < count``, ``h = mix32(mix32(seed ^ salt) ^ r)``
    (sums mod 2**32): (len(rows), count) uint32. Row r depends only on ``(seed, salt, r)``."""
    key = _mix32(np.uint32(seed) ^ np.uint32(salt))
    h = _mix32(key ^ np.asarray(rows, dtype=np.uint64).astype(np.uint32))[:, None]
    with np.errstate(over="ignore"):
        return _mix32(h + np.arange(count, dtype=np.uint32)[None, :])


def noise(seed: int, n_rows: int, latent_dim: int, start_row: int = 0) -> np.ndarray:
    """Standard-normal noise ``(n_rows, latent_dim)`` float32, rows ``start_row ...``.

    Row ``r`` depends only on ``(seed, r)``, so drawing rows in chunks gives the same
    noise as drawing them at once. For column ``j`` of row ``r``::

        key = mix32(seed ^ 0x9E3779B9)
        h   = mix32(key ^ r)
        a   = mix32(h + 2 j),  b = mix32(h + 2 j + 1)        (mod 2**32)
        z   = sqrt(-2 ln((a + 1) / 2**32)) * cos(2 pi b / 2**32)   (float64, then float32)

    Args:
        seed: integer in [0, 2**32 - 1].
        n_rows: number of rows.
        latent_dim: columns per row.
        start_row: index of the first row (rows must stay below 2**32).

    Example:
        >>> noise(0, 2, 3).shape
        (2, 3)
    """
    seed = check_seed(seed)
    n_rows, latent_dim, start_row = int(n_rows), int(latent_dim), int(start_row)
    if n_rows < 0 or latent_dim < 1 or start_row < 0 or start_row + n_rows > 2**32:
        raise ValueError(
            "noise rows must lie in [0, 2**32) and latent_dim must be positive. Received: "
            f"start_row={start_row}, n_rows={n_rows}, latent_dim={latent_dim}"
        )
    words = row_words(seed, _GOLDEN, np.arange(start_row, start_row + n_rows, dtype=np.uint64), 2 * latent_dim)
    a, b = words[:, 0::2], words[:, 1::2]
    u1 = (a.astype(np.float64) + 1.0) / _TWO32
    u2 = b.astype(np.float64) / _TWO32
    return (np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)).astype(np.float32)


def printed_thousandths(
    compositions: np.ndarray, threshold: float = DROP_THRESHOLD
) -> tuple[np.ndarray, np.ndarray]:
    """The printed composition of each row, as integers in thousandths (rows sum to 1000).

    Per row: fractions below ``threshold - 1e-7`` are set to 0, the rest renormalized to sum 1,
    scaled by 1000 and rounded by largest remainder: ``base = floor(q + 1e-3)``, then the
    ``1000 - sum(base)`` present elements with the largest remainder ``q - base`` get
    one more (ties: the lower column first). Exact thousandths map to themselves, so a
    printed composition printed again is unchanged.

    Args:
        compositions: ``(N, E)`` fractions (any float dtype).
        threshold: drop threshold.

    Returns:
        ``(thousandths, ok)``: int32 ``(N, E)`` and a bool ``(N,)`` mask of rows that
        could be printed (finite, nonnegative, something at or above the threshold);
        rows not ok are all zero.
    """
    x = np.asarray(compositions, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"Expected compositions of shape (N, E). Received shape {x.shape}.")
    # finite and nonnegative (to 1e-6): NaN and infinities fail one of the comparisons
    finite = np.all((x >= -1e-6) & (x < np.inf), axis=1)
    # The 1e-7 slack keeps a float32 copy of a printed 0.005 (0.0049999999) printed. (NaN is
    # not kept; the rows with NaN or inf are not ok and print as zeros.)
    kept = np.where(x >= threshold - 1e-7, x, 0.0)
    total = kept.sum(axis=1)
    ok = finite & (total > 0)
    f = np.divide(kept, total[:, None], out=np.zeros_like(kept), where=ok[:, None])
    q = f * _UNIT
    base = np.floor(q + 1e-3)
    np.minimum(base, 0.0, out=base, where=f <= 0)  # nothing for absent (or negative) elements
    deficit = (_UNIT - base.sum(axis=1)).astype(np.int64)
    # The `deficit` present elements with the largest remainders get one more: round j
    # takes the largest remainder not yet taken (argmax: ties go to the lower column).
    rows = np.flatnonzero(ok & (deficit > 0))
    if rows.size:
        present = f[rows] > 0
        rem = np.where(present, q[rows] - base[rows], -np.inf)
        need = deficit[rows]
        more = np.zeros(rem.shape, bool)
        for j in range(min(int(need.max()), x.shape[1])):
            live = np.flatnonzero(need > j)
            column = np.argmax(rem[live], axis=1)
            more[live, column] = True
            rem[live, column] = -np.inf
        base[rows] += more & present
    return base.astype(np.int32), ok  # rows not ok have f = 0, so base = 0


def printed_fractions(compositions: np.ndarray, threshold: float = DROP_THRESHOLD) -> np.ndarray:
    """The printed compositions as float32 fractions (multiples of 0.001, rows sum to 1).

    Rows that cannot be printed are NaN.
    """
    k, ok = printed_thousandths(compositions, threshold)
    out = k.astype(np.float32) / np.float32(_UNIT)
    out[~ok] = np.nan
    return out


def _fraction_text(k: int) -> str:
    if k >= _UNIT:
        return "1"
    return ("0." + f"{k:03d}").rstrip("0")


def formula_strings(thousandths: np.ndarray, elements: Sequence[str]) -> list[str]:
    """Formula strings of printed rows (integers in thousandths, as `printed_thousandths`).

    Elements in column order, each with its fraction without trailing zeros:
    ``[[250, 250, 500]]`` over ``Mo Nb W`` is ``"Mo0.25Nb0.25W0.5"``. Only call this for
    rows that are shown or written: it is the one per-row step.
    """
    k = np.asarray(thousandths)
    symbols = list(elements)
    if k.ndim != 2 or k.shape[1] != len(symbols):
        raise ValueError(
            f"Expected thousandths of shape (N, {len(symbols)}). Received shape {k.shape}."
        )
    out = []
    for row in k.tolist():
        out.append("".join(f"{s}{_fraction_text(v)}" for s, v in zip(symbols, row) if v > 0))
    return out


_PRINTED_TERM = re.compile(r"([A-Z][a-z]?)(1|0\.\d{1,3})")


def parse_printed(formulas: Sequence[str], elements: Sequence[str]) -> np.ndarray:
    """Thousandths of printed formulas (the inverse of `formula_strings`), int32 ``(N, E)``.

    Only the printed form is accepted (``Mo0.25Nb0.25W0.5``: symbols in any order, each
    with ``1`` or ``0.`` and up to three decimals, summing to 1); any formula is parsed by
    `hea_zoo.data.composition.parse_formula`. Pure Python: no pymatgen.

    Raises:
        ValueError: a formula that is not printed (the message names it and why).

    Example:
        >>> parse_printed(["Mo0.25Nb0.25W0.5"], ["Mo", "Nb", "W"]).tolist()
        [[250, 250, 500]]
    """
    column = {s: e for e, s in enumerate(elements)}
    out = np.zeros((len(formulas), len(column)), dtype=np.int32)
    for row, formula in enumerate(formulas):
        text = str(formula)
        terms = _PRINTED_TERM.findall(text)
        if not terms or "".join(s + a for s, a in terms) != text:
            raise ValueError(f"row {row}: {text!r} is not a printed formula (e.g. Mo0.25Nb0.25W0.5).")
        for symbol, amount in terms:
            if symbol not in column:
                raise ValueError(f"row {row}: {text!r}: element {symbol} is not in the element list.")
            out[row, column[symbol]] += 1000 if amount == "1" else int(amount[2:].ljust(3, "0"))
        if out[row].sum() != _UNIT:
            raise ValueError(f"row {row}: {text!r}: fractions sum to {out[row].sum() / 1000:g}, not 1.")
    return out


def relative_errors(
    predicted: np.ndarray, target: Sequence[float], scale_floor: Sequence[float] | None = None
) -> np.ndarray:
    """``|predicted - target| / max(|target|, floor)`` per row and property, ``(N, P)``.

    The floor keeps a target of 0 meaningful: by default 1 % of each property's training
    range where the caller knows it (``scale_floor``), else 1e-9.
    """
    t = np.asarray(target, dtype=np.float64)
    floor = np.full_like(t, 1e-9) if scale_floor is None else np.maximum(np.asarray(scale_floor, dtype=np.float64), 1e-9)
    den = np.maximum(np.abs(t), floor)
    return np.abs(np.asarray(predicted, dtype=np.float64) - t) / den


# ----------------------------------------------------------------------------- metadata
_INT_KEYS = ("export_version", "latent_dim", "n_members", "calibration_size", "n_presence")
_FLOAT_KEYS = ("composition_threshold", "coverage")


def encode_metadata(metadata: Mapping[str, Any]) -> dict[str, str]:
    """Metadata as ONNX ``metadata_props`` strings: scalars as text, lists and dicts as JSON."""
    return {
        str(key): json.dumps(value) if isinstance(value, (list, tuple, dict)) else str(value)
        for key, value in metadata.items()
    }


def decode_metadata(props: Mapping[str, str], source: str = "model", required: Sequence[str] = ()) -> dict[str, Any]:
    """Decodes ``metadata_props`` (inverse of `encode_metadata`).

    Args:
        props: key -> string.
        source: what to name in errors (the file).
        required: keys that must be present.

    Raises:
        MetadataError: a JSON value that does not parse, or a missing required key
            (the message names the file and the key).
    """
    out: dict[str, Any] = {}
    for key, value in props.items():
        decoded: Any = value
        try:
            if value[:1] in ("[", "{"):
                decoded = json.loads(value)
            elif key in _INT_KEYS:
                decoded = int(value)
            elif key in _FLOAT_KEYS:
                decoded = float(value)
        except ValueError as err:
            raise MetadataError(f"{source}: metadata key {key!r} does not parse ({err}).") from None
        out[key] = decoded
    missing = [k for k in required if k not in out]
    if missing:
        raise MetadataError(
            f"{source}: metadata is missing key(s) {', '.join(repr(m) for m in missing)}; "
            "re-export the model with `hea-zoo export`."
        )
    return out

"""Text of design tables without a per-row loop: formulas, systems, numbers, CSV rows.

The design engine writes millions of rows; formatting each with Python costs more than
generating and judging it. Every cell here is built for a whole block at once as a
fixed-width byte array ``(rows, ..., width)`` with a mask of the bytes that belong to the
text (padding is False anywhere in a cell, so pieces of a cell are simply concatenated);
a block of CSV is the concatenation of its cells with the padding removed by one NumPy
boolean index. Pure NumPy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "Cells",
    "FRACTIONS",
    "BOOLEANS",
    "TextTables",
    "token_table",
    "token_cells",
    "integer_cells",
    "float_cells",
    "with_separator",
    "join_cells",
    "cell_strings",
]

Cells = tuple[np.ndarray, np.ndarray]
"""``(bytes uint8 (..., width), mask bool (..., width))``: the text of each cell is its
bytes where the mask holds, in order."""

_UNIT = 1000
_DIGITS = np.frombuffer(b"0123456789", np.uint8)


def token_table(tokens: Sequence[bytes]) -> Cells:
    """Tokens as a padded byte table ``(len(tokens), width)`` and its mask."""
    width = max((len(t) for t in tokens), default=1) or 1
    table = np.zeros((len(tokens), width), np.uint8)
    for i, t in enumerate(tokens):
        table[i, : len(t)] = np.frombuffer(t, np.uint8)
    lengths = np.array([len(t) for t in tokens], np.int64)
    return table, np.arange(width)[None, :] < lengths[:, None]


def token_cells(table: Cells, ids: np.ndarray) -> Cells:
    """The tokens `ids` (any shape) of a table."""
    return table[0][ids], table[1][ids]


def fraction_text(k: int) -> bytes:
    """Thousandths as printed: ``250 -> b"0.25"``, ``1000 -> b"1"``, ``0 -> b"0"``."""
    if k >= _UNIT:
        return b"1"
    if k <= 0:
        return b"0"
    return ("0." + f"{k:03d}").rstrip("0").encode()


FRACTIONS = token_table([fraction_text(k) for k in range(_UNIT + 1)])
"""Printed fractions by thousandths."""

BOOLEANS = token_table([b"False", b"True"])


def _constant(shape: tuple[int, ...], byte: bytes, present: np.ndarray | bool = True) -> Cells:
    data = np.full(shape + (1,), byte[0], np.uint8)
    mask = np.broadcast_to(np.asarray(present, bool)[..., None], shape + (1,)) if not isinstance(present, bool) \
        else np.full(shape + (1,), present)  # fmt: skip
    return data, mask


def concat_cells(pieces: Sequence[Cells]) -> Cells:
    """The pieces of each cell, one after the other."""
    return (np.concatenate([np.broadcast_to(p[0], pieces[0][1].shape[:-1] + p[0].shape[-1:]) for p in pieces], axis=-1),
            np.concatenate([np.broadcast_to(p[1], pieces[0][1].shape[:-1] + p[1].shape[-1:]) for p in pieces], axis=-1))  # fmt: skip


def integer_cells(values: np.ndarray) -> Cells:
    """Decimal text of nonnegative integers (any shape), right-aligned under the mask."""
    v = np.asarray(values, dtype=np.int64)
    width = max(1, len(str(int(v.max())))) if v.size else 1
    lengths = np.ones(v.shape, np.int64)
    for d in range(1, width):
        lengths += v >= 10**d
    out = np.empty(v.shape + (width,), np.uint8)
    rest = v
    for c in range(width - 1, -1, -1):
        rest, digit = np.divmod(rest, 10)
        out[..., c] = _DIGITS[digit]
    return out, np.arange(width) >= (width - lengths)[..., None]


def float_cells(values: np.ndarray, decimals: int) -> Cells:
    """Fixed-point text (`decimals` places, trailing zeros removed) of floats, any shape.

    ``60.03125 -> "60.0312"`` (round half to even on the scaled value), ``35.0 -> "35"``,
    ``-0.00001 -> "0"``; non-finite and huge values (rare) are spelled by Python:
    ``nan``, ``inf``, ``1e+20``.
    """
    v = np.asarray(values, dtype=np.float64)
    regular = np.isfinite(v) & (np.abs(v) < 1e12)
    scaled = np.rint(np.abs(np.where(regular, v, 0.0)) * 10.0**decimals).astype(np.int64)
    negative = (v < 0) & (scaled > 0)
    whole, frac = np.divmod(scaled, 10**decimals)
    digits = np.empty(v.shape + (decimals,), np.int64)
    rest = frac
    for j in range(decimals - 1, -1, -1):
        rest, digits[..., j] = np.divmod(rest, 10)
    # keep a fraction digit if it or a later one is nonzero
    keep = np.logical_or.accumulate((digits != 0)[..., ::-1], axis=-1)[..., ::-1]
    ints = integer_cells(whole)
    pieces = [
        _constant(v.shape, b"-", negative & regular),
        (ints[0], ints[1] & regular[..., None]),
        _constant(v.shape, b".", keep[..., 0] & regular),
        (_DIGITS[digits], keep & regular[..., None]),
    ]
    if not regular.all():
        special = np.argwhere(~regular)
        texts = [(repr(float(v[tuple(i)])) if np.isfinite(v[tuple(i)]) else str(float(v[tuple(i)]))).encode()
                 for i in special]  # fmt: skip
        width = max(len(t) for t in texts)
        data = np.zeros(v.shape + (width,), np.uint8)
        mask = np.zeros(v.shape + (width,), bool)
        for index, t in zip(special, texts):
            data[tuple(index)][: len(t)] = np.frombuffer(t, np.uint8)
            mask[tuple(index)][: len(t)] = True
        pieces.append((data, mask))
    return concat_cells(pieces)


def with_separator(cells: Cells, separator: bytes = b",") -> Cells:
    """Each cell followed by `separator` (one byte)."""
    return concat_cells([cells, _constant(cells[1].shape[:-1], separator)])


def join_cells(sections: Sequence[Cells | tuple[Cells, bytes]]) -> bytes:
    """The rows of a block: every section's cells in order, padding removed.

    Args:
        sections: ``Cells`` with a leading rows axis, ``(rows, width)`` or
            ``(rows, cells, width)``, or ``(Cells, separator)`` to follow each of the
            section's cells by the one-byte `separator`. Everything is written once into a
            buffer of the block's rows, whose padding one boolean index then removes.
    """
    parts = [(s, None) if isinstance(s[1], np.ndarray) else s for s in sections]
    rows = parts[0][0][0].shape[0]
    shapes = []
    for (data, _), separator in parts:
        cells = int(np.prod(data.shape[1:-1], dtype=np.int64))
        shapes.append((cells, data.shape[-1] + (separator is not None)))
    total = sum(c * w for c, w in shapes)
    out = np.empty((rows, total), np.uint8)
    keep = np.empty((rows, total), bool)
    at = 0
    for ((data, mask), separator), (cells, width) in zip(parts, shapes):
        span = slice(at, at + cells * width)
        view = out[:, span].reshape(rows, cells, width)
        view_keep = keep[:, span].reshape(rows, cells, width)
        w = data.shape[-1]
        view[..., :w] = data.reshape(rows, cells, w)
        view_keep[..., :w] = mask.reshape(rows, cells, w)
        if separator is not None:
            view[..., w] = separator[0]
            view_keep[..., w] = True
        at += cells * width
    return out[keep].tobytes()


def cell_strings(cells: Cells) -> list[str]:
    """Python strings of one cell per row."""
    rows = cells[0].shape[0]
    if not rows:
        return []
    return join_cells([(cells, b"\n")]).decode("ascii").split("\n")[:rows]


class TextTables:
    """Formula and system text of printed rows over an element list.

    Args:
        elements: the element symbols, in column order.
        system_min: thousandths an element needs to belong to the alloy system.
    """

    def __init__(self, elements: Sequence[str], system_min: int):
        self.elements = list(elements)
        self.system_min = system_min
        size = len(self.elements)
        symbols, symbol_mask = token_table([s.encode() for s in self.elements])
        fractions, fraction_mask = FRACTIONS
        # formula token (e, k): symbol e then the text of k thousandths; k = 0 prints nothing
        data = np.concatenate([np.broadcast_to(symbols[:, None, :], (size, _UNIT + 1, symbols.shape[1])),
                               np.broadcast_to(fractions[None], (size, _UNIT + 1, fractions.shape[1]))], axis=-1)  # fmt: skip
        mask = np.concatenate([np.broadcast_to(symbol_mask[:, None, :], (size, _UNIT + 1, symbols.shape[1])),
                               np.broadcast_to(fraction_mask[None], (size, _UNIT + 1, fractions.shape[1]))], axis=-1)  # fmt: skip
        mask = mask.copy()
        mask[:, 0, :] = False
        self.formula_table = (data.reshape(size * (_UNIT + 1), -1), mask.reshape(size * (_UNIT + 1), -1))
        self.system_table = token_table([b"-" + s.encode() for s in self.elements])

    def formula_cells(self, k: np.ndarray) -> Cells:
        """The formula of each printed row as one cell: ``Mo0.25Nb0.25W0.5``."""
        ids = np.arange(k.shape[1])[None, :] * (_UNIT + 1) + k
        data, mask = token_cells(self.formula_table, ids)
        return data.reshape(k.shape[0], -1), mask.reshape(k.shape[0], -1)

    def system_cells(self, k: np.ndarray) -> Cells:
        """The alloy system of each printed row as one cell: ``Hf-Nb-Ta-Ti-Zr``."""
        member = k >= self.system_min
        data = np.broadcast_to(self.system_table[0], member.shape + self.system_table[0].shape[-1:])
        mask = self.system_table[1][None, :, :] & member[..., None]
        # the first member loses its leading "-"
        first = np.argmax(member, axis=1)
        rows = np.flatnonzero(member.any(axis=1))
        mask[rows, first[rows], 0] = False
        return data.reshape(k.shape[0], -1), mask.reshape(k.shape[0], -1)

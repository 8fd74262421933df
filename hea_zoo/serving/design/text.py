"""Text of design tables without a per-row loop: formulas, systems, numbers, CSV rows.

The design engine writes millions of rows; formatting each with Python costs more than
generating and judging it. Every cell here is built for a whole block at once from
*pieces*: a piece is at most 8 bytes of text held in one little-endian ``uint64`` word
(first character in the lowest byte, zeros after the text) with its length; a cell is
one or more pieces, an empty piece has length 0. A block of text is its pieces in row
order, each copied to its offset in the output (the cumulative sum of the lengths) as one
8-byte word. Pure NumPy.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

__all__ = [
    "Pieces",
    "FRACTIONS",
    "BOOLEANS",
    "TextTables",
    "token_table",
    "token_pieces",
    "constant_pieces",
    "integer_pieces",
    "float_pieces",
    "join_pieces",
    "piece_strings",
]

Pieces = tuple[np.ndarray, np.ndarray]
"""``(words uint64 (rows, pieces), lengths (rows, pieces), 0 to 8)``: the text of a row is
its pieces in order; a word holds its piece's bytes, first in the lowest byte, then zeros."""

_UNIT = 1000
_WORD = 8
_ZERO = 48  # b"0"
_LOW_DIGITS = 7  # digits in the last piece of an integer (with a one-byte separator: 8)
_LOW = 10**_LOW_DIGITS
_REGULAR = 1e12  # floats below this are written by the pieces; larger ones (rare) by Python
_SMALL = 10**4  # whole parts below this come from a table
_TABLE_DECIMALS = 4  # up to this many decimals come from a table (10**4 entries)


def _word(text: bytes) -> int:
    if len(text) > _WORD:
        raise ValueError(f"a piece holds at most {_WORD} bytes. Received: {text!r}")
    return int.from_bytes(text, "little")


def token_table(tokens: Sequence[bytes]) -> Pieces:
    """Tokens as ``(words, lengths)`` of shape ``(tokens, pieces)``: as many pieces per token
    as the longest needs (one for tokens of at most 8 bytes)."""
    width = max(1, -(-max((len(t) for t in tokens), default=1) // _WORD))
    padded = b"".join(t.ljust(width * _WORD, b"\0") for t in tokens)
    words = np.frombuffer(padded, "<u8").astype(np.uint64).reshape(len(tokens), width)
    sizes = np.array([len(t) for t in tokens], np.int64)[:, None]
    return words, np.clip(sizes - _WORD * np.arange(width)[None, :], 0, _WORD).astype(np.uint8)


def token_pieces(table: Pieces, ids: np.ndarray) -> Pieces:
    """The tokens `ids` (``(rows, cells)`` or ``(rows,)``) of a table."""
    ids = np.asarray(ids)
    rows = ids.shape[0]
    return table[0][ids].reshape(rows, -1), table[1][ids].reshape(rows, -1)


def constant_pieces(rows: int, text: bytes) -> Pieces:
    """The same piece (at most 8 bytes) on every row."""
    return np.full((rows, 1), _word(text), np.uint64), np.full((rows, 1), len(text), np.uint8)


def fraction_text(k: int) -> bytes:
    """Thousandths as printed: ``250 -> b"0.25"``, ``1000 -> b"1"``, ``0 -> b"0"``."""
    if k >= _UNIT:
        return b"1"
    if k <= 0:
        return b"0"
    return ("0." + f"{k:03d}").rstrip("0").encode()


FRACTIONS = [fraction_text(k) for k in range(_UNIT + 1)]
"""Printed fractions by thousandths."""

BOOLEANS = [b"False", b"True"]


def _digit_words(values: np.ndarray, digits: int) -> np.ndarray:
    """``values`` (nonnegative, below 10**digits) as `digits` zero-padded decimal characters."""
    word = np.zeros(values.shape, np.uint64)
    rest = values
    for position in range(digits - 1, -1, -1):
        rest, digit = np.divmod(rest, 10)
        word |= (digit + _ZERO).astype(np.uint64) << np.uint64(8 * position)
    return word


def _digit_count(values: np.ndarray, most: int) -> np.ndarray:
    """Decimal digits of nonnegative integers below 10**most (0 has one)."""
    count = np.ones(values.shape, np.int64)
    for d in range(1, most):
        count += values >= 10**d
    return count


def _shift_down(words: np.ndarray, dropped: np.ndarray) -> np.ndarray:
    """Drops the first `dropped` characters (0..7) of each word."""
    return words >> (dropped.astype(np.uint64) * np.uint64(8))


def _append(words: np.ndarray, lengths: np.ndarray, byte: bytes) -> np.ndarray:
    """Words with the one-byte `byte` after their text (lengths must stay below 8)."""
    return words | (np.uint64(byte[0]) << (lengths.astype(np.uint64) * np.uint64(8)))


def _integer_words(values: np.ndarray, sign: np.ndarray | None, separator: bytes) -> Pieces:
    """Two pieces per value: [sign and leading digits, last 7 digits + separator]."""
    high, low = np.divmod(values, _LOW)
    has_high = high > 0
    low_digits = np.where(has_high, _LOW_DIGITS, _digit_count(low, _LOW_DIGITS))
    low_words = _shift_down(_digit_words(low, _LOW_DIGITS), _LOW_DIGITS - low_digits)
    low_length = low_digits
    if separator:
        low_words = _append(low_words, low_length, separator)
        low_length = low_length + 1
    high_digits = np.where(has_high, _digit_count(high, _WORD - 1), 0)
    high_words = _shift_down(_digit_words(high, _WORD - 1), (_WORD - 1) - high_digits)
    high_words = np.where(has_high, high_words, np.uint64(0))
    high_length = high_digits
    if sign is not None:  # "-" first: the digits move up one byte
        high_words = np.where(sign, (high_words << np.uint64(8)) | np.uint64(ord("-")), high_words)
        high_length = high_length + sign
    return np.stack([high_words, low_words], axis=-1), np.stack([high_length, low_length], axis=-1)


def integer_pieces(values: np.ndarray, separator: bytes = b"") -> Pieces:
    """Decimal text of nonnegative integers below 10**14, ``(rows,)`` or ``(rows, cells)``.

    Two pieces per cell (leading digits, then the last 7 and the optional one-byte
    `separator`).
    """
    v = np.asarray(values, dtype=np.int64)
    if v.size and (v.min() < 0 or v.max() >= 10 ** (_LOW_DIGITS + _WORD - 1)):
        raise ValueError(f"integer_pieces takes integers in [0, 10**14). Received: {v.min()}..{v.max()}")
    words, lengths = _integer_words(v, None, separator)
    return words.reshape(v.shape[0], -1), lengths.reshape(v.shape[0], -1)


def _decimal_words(frac: np.ndarray, decimals: int, separator: bytes) -> Pieces:
    """``.dddd`` (up to the last nonzero digit; nothing for 0) and the separator, one piece each."""
    trailing = np.zeros(frac.shape, np.int64)
    zeros = np.ones(frac.shape, bool)
    digits = np.zeros(frac.shape, np.uint64)
    rest = frac
    for position in range(decimals, 0, -1):
        rest, digit = np.divmod(rest, 10)
        zeros &= digit == 0
        trailing += zeros
        digits |= (digit + _ZERO).astype(np.uint64) << np.uint64(8 * position)
    length = np.where(frac > 0, 1 + decimals - trailing, 0)
    keep = (np.uint64(1) << (length.astype(np.uint64) * np.uint64(8))) - np.uint64(1)
    words = (digits | np.uint64(ord("."))) & np.where(frac > 0, keep, np.uint64(0))
    if separator:
        words = _append(words, length, separator)
        length = length + 1
    return words, length


@functools.lru_cache(maxsize=None)
def _signed_table() -> Pieces:
    """Whole parts below 10**4: token ``w`` is ``w``, token ``10**4 + w`` is ``-w``."""
    whole = np.tile(np.arange(_SMALL), 2)
    sign = np.repeat([False, True], _SMALL)
    words, lengths = _integer_words(whole, sign, b"")  # pieces: the sign (no leading digits), the digits
    words = (words[:, 1] << (lengths[:, 0].astype(np.uint64) * np.uint64(8))) | words[:, 0]
    return words, lengths.sum(axis=1).astype(np.uint8)


@functools.lru_cache(maxsize=None)
def _decimals_table(decimals: int, separator: bytes) -> Pieces:
    """`_decimal_words` of every integer below 10**decimals."""
    words, lengths = _decimal_words(np.arange(10**decimals), decimals, separator)
    return words, lengths.astype(np.uint8)


def float_pieces(values: np.ndarray, decimals: int, separator: bytes = b"") -> Pieces:
    """Fixed-point text (`decimals` places, trailing zeros removed) of floats, ``(rows[, cells])``.

    ``60.03125 -> "60.0312"`` (round half to even on the scaled value), ``35.0 -> "35"``,
    ``-0.00001 -> "0"``; non-finite and huge values (rare) are spelled by Python:
    ``nan``, ``inf``, ``1e+20``. Per cell: the sign and whole part (one piece below 10**4,
    else two), the decimals and the optional one-byte `separator` (one piece), and one
    more piece when a block holds a value Python spells.
    """
    if not 0 <= decimals <= _WORD - 2:
        raise ValueError(f"float_pieces writes 0 to {_WORD - 2} decimals. Received: {decimals}")
    v = np.asarray(values, dtype=np.float64)
    rows = v.shape[0]
    regular = np.isfinite(v) & (np.abs(v) < _REGULAR)
    scaled = np.rint(np.abs(np.where(regular, v, 0.0)) * 10.0**decimals).astype(np.int64)
    negative = (v < 0) & (scaled > 0)
    whole, frac = np.divmod(scaled, 10**decimals)
    if not whole.size or whole.max() < _SMALL:
        table = _signed_table()
        ids = whole + negative * _SMALL
        words, lengths = table[0][ids][..., None], table[1][ids][..., None]
    else:
        words, lengths = _integer_words(whole, negative, b"")
    if decimals <= _TABLE_DECIMALS:
        table = _decimals_table(decimals, separator)
        frac_words, frac_length = table[0][frac], table[1][frac]
    else:
        frac_words, frac_length = _decimal_words(frac, decimals, separator)
    words = np.concatenate([words, frac_words[..., None]], axis=-1)
    lengths = np.concatenate([lengths, frac_length[..., None]], axis=-1)
    if not regular.all():
        words = np.concatenate([words, np.zeros(v.shape + (1,), np.uint64)], axis=-1)
        lengths = np.concatenate([lengths, np.zeros(v.shape + (1,), np.int64)], axis=-1)
        for at in np.argwhere(~regular):
            value = float(v[tuple(at)])
            spelled = (repr(value) if np.isfinite(value) else str(value)).encode() + separator
            chunks = [spelled[i : i + _WORD] for i in range(0, len(spelled), _WORD)]
            chunks += [b""] * (words.shape[-1] - len(chunks))
            words[tuple(at)] = [_word(c) for c in chunks]
            lengths[tuple(at)] = [len(c) for c in chunks]
    return words.reshape(rows, -1), lengths.reshape(rows, -1)


def join_pieces(sections: Sequence[Pieces]) -> bytes:
    """The text of a block: every row's pieces, section after section, rows in order.

    Args:
        sections: `Pieces` with the same number of rows.
    """
    words = np.concatenate([s[0] for s in sections], axis=1).reshape(-1)
    lengths = np.concatenate([s[1] for s in sections], axis=1, dtype=np.uint8, casting="unsafe").reshape(-1)
    if not words.size:
        return b""
    ends = np.cumsum(lengths, dtype=np.int64)
    total = int(ends[-1])
    starts = ends - lengths
    buffer = np.zeros(total + _WORD, np.uint8)
    # every byte as the first of an (unaligned) 8-byte word
    slots = np.ndarray((total + 1,), dtype="<u8", buffer=buffer, strides=(1,))
    # A piece's word also zeroes the 8 - length bytes after it (an empty piece all 8):
    # written in order, the next pieces write over them, and no byte of the text is 0.
    slots[starts] = words
    data = buffer[:total].tobytes()
    if b"\0" in data:  # pragma: no cover - NumPy does not promise the order of a fancy assignment
        # Pieces 8 apart among the nonempty ones never overlap: OR them into a clear buffer.
        present = np.flatnonzero(lengths)
        starts, words = starts[present], words[present]
        buffer[:] = 0
        for p in range(_WORD):
            at = starts[p::_WORD]
            slots[at] |= words[p::_WORD]
        data = buffer[:total].tobytes()
    return data


def piece_strings(pieces: Pieces) -> list[str]:
    """Python strings of one cell per row."""
    rows = pieces[0].shape[0]
    if not rows:
        return []
    return join_pieces([pieces, constant_pieces(rows, b"\n")]).decode("ascii").split("\n")[:rows]


class TextTables:
    """Formula, system and fraction pieces of printed rows over an element list.

    Args:
        elements: the element symbols, in column order.
        system_min: thousandths an element needs to belong to the alloy system.
    """

    def __init__(self, elements: Sequence[str], system_min: int):
        self.elements = list(elements)
        self.system_min = system_min
        size = len(self.elements)
        # formula token (e, k): symbol e then the text of k thousandths; k = 0 prints nothing
        self.formula_table = token_table([s.encode() + FRACTIONS[k] if k else b"" for s in self.elements
                                          for k in range(_UNIT + 1)])  # fmt: skip
        # system token 2 e + first: symbol e after a "-", or without it for the first member;
        # the last token is empty (not a member)
        self.system_table = token_table([b"-" * (not first) + s.encode() for s in self.elements for first in (0, 1)]
                                        + [b""])  # fmt: skip
        self.fraction_tables = {sep: token_table([t + sep for t in FRACTIONS]) for sep in (b"", b",", b"\n")}
        self._columns = np.arange(size) * (_UNIT + 1)
        self._system_ids = 2 * np.arange(size)

    def formula_pieces(self, k: np.ndarray) -> Pieces:
        """The formula of each printed row: ``Mo0.25Nb0.25W0.5`` (one piece per element)."""
        return token_pieces(self.formula_table, self._columns[None, :] + k)

    def system_pieces(self, k: np.ndarray) -> Pieces:
        """The alloy system of each printed row: ``Hf-Nb-Ta-Ti-Zr`` (one piece per element)."""
        member = k >= self.system_min
        first = np.cumsum(member, axis=1, dtype=np.int16) == 1
        ids = np.where(member, self._system_ids[None, :] + first, 2 * k.shape[1])
        return token_pieces(self.system_table, ids)

    def fraction_pieces(self, k: np.ndarray, separator: bytes = b"", last: bytes | None = None) -> Pieces:
        """The printed fractions (``0.25``, ``0``, ``1``), each followed by `separator`, the last
        one by `last` (default `separator`)."""
        last = separator if last is None else last
        if last == separator:
            return token_pieces(self.fraction_tables[separator], k)
        head = token_pieces(self.fraction_tables[separator], k[:, :-1])
        tail = token_pieces(self.fraction_tables[last], k[:, -1:])
        return np.concatenate([head[0], tail[0]], axis=1), np.concatenate([head[1], tail[1]], axis=1)

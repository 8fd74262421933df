"""Constraints on the designs and the repair that meets them exactly (docs/DESIGN_ENGINE.md,
section 3): allowed and excluded elements, a maximum number of elements, per-element
bounds and a minimum fraction of any element present. `apply_constraints` repairs raw
compositions and prints them in thousandths; every returned row satisfies every
constraint on its printed fractions.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hea_zoo.artifact import DROP_THRESHOLD, printed_thousandths
from hea_zoo.errors import TargetError, UsageError

__all__ = [
    "DEFAULT_MIN_FRACTION",
    "DEFAULT_MAX_ELEMENTS",
    "Constraints",
    "parse_bound",
    "apply_constraints",
]

DEFAULT_MIN_FRACTION = 0.03
"""Minimum fraction of any element in a design unless the request sets one (3 at.%).

Chosen by measurement (benchmarks/design_realism.py, docs/DESIGN_ENGINE.md section 5): with
it the diverse generators' (cAE, flow) element counts come within 0.4 of the data's and
traces (elements below 3 at.%) disappear; the cVAE's and WcGAN's designs then hold 0.4-0.7
more elements than the data (0.04 suits them better); see the README."""

DEFAULT_MAX_ELEMENTS: int | None = None
"""Maximum number of elements in a design unless the request sets one (None: no limit)."""

_UNIT = 1000
_MAX_ROUNDS = 50
_MOVE_TOLERANCE = 1e-12


def _fraction(value: Any, what: str, field: str | None = None) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TargetError(f"{what} must be a number. Received: {value!r}", field=field) from None
    if not math.isfinite(number):
        raise TargetError(f"{what} must be a finite number. Received: {value!r}", field=field)
    return number


def parse_bound(text: str) -> tuple[str, tuple[float, float]]:
    """Parses a per-element bound ``SYMBOL=LO:HI`` (fractions).

    ``Al=0:0.1`` bounds Al to [0, 0.1]; ``Al=:0.1`` and ``W=0.2:`` leave one side at its
    default (0 or 1); ``Ta=0.3`` fixes Ta at 0.3.

    Raises:
        TargetError: the text is not of that form.

    Example:
        >>> parse_bound("Al=0:0.1")
        ('Al', (0.0, 0.1))
    """
    symbol, sep, rest = str(text).partition("=")
    symbol = symbol.strip()
    if not sep or not symbol.isalpha():
        raise TargetError(f"a bound must read SYMBOL=LO:HI (e.g. Al=0:0.1). Received: {text!r}", field="bounds")
    lo_text, colon, hi_text = rest.partition(":")
    if not colon:
        value = _fraction(rest, f"bound {text!r}", f"bounds[{symbol!r}]")
        return symbol, (value, value)
    lo = _fraction(lo_text, f"bound {text!r}", f"bounds[{symbol!r}]") if lo_text.strip() else 0.0
    hi = _fraction(hi_text, f"bound {text!r}", f"bounds[{symbol!r}]") if hi_text.strip() else 1.0
    return symbol, (lo, hi)


_PERIODIC_TABLE = frozenset(
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr "
    "Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm "
    "Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es Fm Md No "
    "Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og".split()
)


def _is_element(symbol: str) -> bool:
    """Whether `symbol` is a chemical element's symbol (isotopes such as D are not)."""
    return symbol in _PERIODIC_TABLE


def _symbols(value: Any, what: str) -> list[str] | None:
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    out = []
    for item in items:
        if not isinstance(item, str):
            raise TargetError(f"element symbols must be strings. Received: {item!r}", field=what)
        if item.strip():
            out.append(item.strip())
    return out


@dataclasses.dataclass(frozen=True)
class Constraints:
    """What a design may contain (docs/DESIGN_ENGINE.md, section 3).

    Attributes:
        elements: the allowed elements (None: all the model's elements).
        exclude: elements that must not appear.
        max_elements: at most this many elements per design (None: `DEFAULT_MAX_ELEMENTS`).
        bounds: ``{symbol: (lo, hi)}`` fractions; an element with ``lo > 0`` is required.
        min_fraction: the smallest fraction of any present element
            (None: `DEFAULT_MIN_FRACTION`).

    Example:
        >>> Constraints(elements=["Nb", "Ta", "Ti", "W"], max_elements=3, bounds={"W": (0, 0.2)})
        Constraints(elements=['Nb', 'Ta', 'Ti', 'W'], exclude=(), max_elements=3, bounds={'W': (0, 0.2)}, min_fraction=None)
    """

    elements: Sequence[str] | None = None
    exclude: Sequence[str] = ()
    max_elements: int | None = None
    bounds: Mapping[str, tuple[float, float]] = dataclasses.field(default_factory=dict)
    min_fraction: float | None = None

    @classmethod
    def coerce(cls, value: Constraints | Mapping[str, Any] | None) -> Constraints:
        """A `Constraints` from itself, None or a mapping with the same keys."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, Mapping):
            unknown = sorted(set(value) - {f.name for f in dataclasses.fields(cls)})
            if unknown:
                raise TargetError(
                    f"unknown constraint(s) {unknown}. Valid: elements, exclude, max_elements, "
                    "bounds, min_fraction.",
                    field="constraints",
                )
            return cls(**dict(value))
        raise TargetError(f"must be a Constraints or a mapping. Received: {type(value).__name__}", field="constraints")

    def is_empty(self) -> bool:
        """Whether no constraint is given (every field at its default)."""
        return (self.elements is None and not self.exclude and self.max_elements is None and not self.bounds
                and self.min_fraction is None)  # fmt: skip

    def resolve(self, elements: Sequence[str], threshold: float = DROP_THRESHOLD) -> _Rules:
        """Checks the request against the model's `elements`; returns the arrays the repair uses.

        Excluding an element the model does not have is already satisfied: it is dropped
        from the request with a note (`_Rules.notes`); an unknown symbol elsewhere, or a
        string that is no element at all, is an error.

        Raises:
            TargetError: an unknown symbol or a contradictory request (one line naming it).
        """
        elements = list(elements)
        index = {s: e for e, s in enumerate(elements)}
        size = len(elements)

        def known(symbol: str, what: str) -> int:
            if symbol not in index:
                raise TargetError(f"unknown element {symbol!r}; the model's elements are {' '.join(elements)}.", field=what)
            return index[symbol]

        allowed_list = _symbols(self.elements, "elements")
        excluded_list = _symbols(self.exclude, "exclude") or []
        notes = []
        absent = [s for s in excluded_list if s not in index and _is_element(s)]
        if absent:  # excluding an element the model never generates is already satisfied
            notes.append(
                f"excluded {', '.join(absent)}: not among the model's elements, so no design holds "
                f"{'it' if len(absent) == 1 else 'them'} anyway."
            )
            excluded_list = [s for s in excluded_list if s not in absent]
        if isinstance(self.bounds, Mapping):
            bound_items = list(self.bounds.items())
        else:
            bound_items = [parse_bound(b) if isinstance(b, str) else tuple(b) for b in self.bounds]
        allowed = np.ones(size, bool) if allowed_list is None else np.zeros(size, bool)
        for symbol in allowed_list or []:
            allowed[known(symbol, "elements")] = True
        for symbol in excluded_list:
            allowed[known(symbol, "exclude")] = False
        lo = np.zeros(size)
        hi = np.ones(size)
        seen: set[str] = set()
        for symbol, pair in bound_items:
            field = f"bounds[{str(symbol).strip()!r}]"
            e = known(str(symbol).strip(), field)
            if symbol in seen:
                raise TargetError(f"{symbol} is bounded twice.", field=field)
            seen.add(symbol)
            try:
                low, high = pair
            except (TypeError, ValueError):
                raise TargetError(f"the bounds of {symbol} must be (lo, hi). Received: {pair!r}", field=field) from None
            lo[e] = _fraction(0.0 if low is None else low, f"the lower bound of {symbol}", field)
            hi[e] = _fraction(1.0 if high is None else high, f"the upper bound of {symbol}", field)
        if not allowed.any():
            raise TargetError("no element is left: the allowed elements are all excluded.", field="exclude")
        for e in range(size):
            if not allowed[e] and lo[e] > 0:
                raise TargetError(
                    f"{elements[e]} is required (lower bound {lo[e]:g}) but excluded or not allowed.",
                    field=f"bounds[{elements[e]!r}]",
                )
        for e in range(size):
            if not (0.0 <= lo[e] <= 1.0 and 0.0 <= hi[e] <= 1.0):
                raise TargetError(
                    f"the bounds of {elements[e]} must lie in [0, 1]. Received: {lo[e]:g}:{hi[e]:g}",
                    field=f"bounds[{elements[e]!r}]",
                )
            if lo[e] > hi[e]:
                raise TargetError(
                    f"the bounds of {elements[e]} are contradictory: lower {lo[e]:g} > upper {hi[e]:g}.",
                    field=f"bounds[{elements[e]!r}]",
                )
        total_lo = sum(float(v) for v in lo)
        if total_lo > 1.0:
            raise TargetError(f"the lower bounds sum to {total_lo:.6g} > 1: no composition can meet them.", field="bounds")
        total_hi = sum(float(hi[e]) for e in range(size) if allowed[e])
        if total_hi < 1.0:
            raise TargetError(
                f"the upper bounds of the allowed elements sum to {total_hi:.6g} < 1: no composition can meet them.",
                field="bounds",
            )
        required = lo > 0
        n_required = int(required.sum())
        default_m = self.max_elements is None
        m = DEFAULT_MAX_ELEMENTS if default_m else self.max_elements
        if m is None:
            m = size
        elif isinstance(m, bool) or not isinstance(m, numbers.Integral):
            raise TargetError(f"must be an integer >= 1. Received: {m!r}", field="max_elements")
        m = int(m)
        if default_m:
            m = max(m, n_required)
        if m < 1:
            raise TargetError(f"must be at least 1. Received: {m}", field="max_elements")
        if m < n_required:
            raise TargetError(
                f"{m} is below the {n_required} required elements "
                f"({', '.join(elements[e] for e in np.flatnonzero(required))}).",
                field="max_elements",
            )
        default_f = self.min_fraction is None
        f_min = DEFAULT_MIN_FRACTION if default_f else _fraction(self.min_fraction, "the minimum fraction", "min_fraction")
        if not 0.0 < f_min <= 1.0:
            raise TargetError(f"must lie in (0, 1]. Received: {f_min:g}", field="min_fraction")
        hint = " (the default; set min_fraction to change it)" if default_f else ""
        raised = required & (lo < f_min)
        lo = np.where(raised, f_min, lo)
        for e in np.flatnonzero(raised):
            if lo[e] > hi[e]:
                raise TargetError(
                    f"the bounds of {elements[e]}: the minimum fraction {f_min:g}{hint} exceeds its upper bound {hi[e]:g}.",
                    field=f"bounds[{elements[e]!r}]",
                )
        if raised.any():
            total_lo = sum(float(v) for v in lo)
            if total_lo > 1.0:
                raise TargetError(
                    f"the lower bounds, raised to the minimum fraction {f_min:g}{hint}, sum to {total_lo:.6g} > 1.",
                    field="bounds",
                )
        trivial = bool(allowed.all() and not required.any() and np.all(hi == 1.0) and m >= size and f_min == threshold)
        return _Rules(
            elements=tuple(elements),
            allowed=allowed,
            lo=lo,
            hi=hi,
            required=required,
            max_elements=m,
            min_fraction=f_min,
            min_k=int(math.ceil(_UNIT * f_min - 1e-9)),
            trivial=trivial,
            given=not self.is_empty(),
            notes=tuple(notes),
        )


@dataclasses.dataclass(frozen=True)
class _Rules:
    """Constraints in normal form over a model's element list."""

    elements: tuple[str, ...]
    allowed: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    required: np.ndarray
    max_elements: int
    min_fraction: float
    min_k: int
    trivial: bool
    given: bool = True  # whether the request named any constraint (the defaults aside)
    notes: tuple[str, ...] = ()  # remarks on the request (an excluded element the model lacks)

    def describe(self) -> str:
        """The request in one line (for errors and notes)."""
        size = len(self.elements)
        parts = []
        if not self.allowed.all():
            parts.append("elements " + ",".join(s for s, a in zip(self.elements, self.allowed) if a))
        if self.max_elements < size:
            parts.append(f"at most {self.max_elements} elements")
        for e in range(size):
            if self.lo[e] > 0 or self.hi[e] < 1:
                parts.append(f"{self.elements[e]} {self.lo[e]:g}-{self.hi[e]:g}")
        parts.append(f"min fraction {self.min_fraction:g}")
        return "; ".join(parts)

    def satisfied(self, k: np.ndarray) -> np.ndarray:
        """Step 7: which printed rows (thousandths) meet every constraint exactly."""
        present = k > 0
        ok = ~np.any(present & (k < self.min_k), axis=1)
        if not self.allowed.all():
            ok &= ~np.any(present[:, ~self.allowed], axis=1)
        if self.max_elements < k.shape[1]:
            ok &= present.sum(axis=1) <= self.max_elements
        bounded = np.flatnonzero((self.lo > 0) | (self.hi < 1))
        if bounded.size:
            kb, pb = k[:, bounded], present[:, bounded]
            ok &= ~np.any(pb & (kb < _UNIT * self.lo[bounded] - 1e-9), axis=1)
            ok &= ~np.any(pb & (kb > _UNIT * self.hi[bounded] + 1e-9), axis=1)
        if self.required.any():
            ok &= np.all(present[:, self.required], axis=1)
        return ok


def _sequential_sum(x: np.ndarray) -> np.ndarray:
    """Row sums added column by column, left to right (the specification's order).

    A column at a time (as `np.cumsum` along the rows would, four times slower; `np.sum`
    adds pairwise, which rounds differently).
    """
    if x.shape[1] == 0:
        return np.zeros(x.shape[0])
    total = x[:, 0].copy()
    for e in range(1, x.shape[1]):
        total += x[:, e]
    return total


def _repair(raw: np.ndarray, rules: _Rules) -> tuple[np.ndarray, np.ndarray]:
    """Section 3, steps 1-7, vectorized over rows: ``(thousandths int32, ok bool)``."""
    if rules.trivial:
        k, ok = printed_thousandths(raw, rules.min_fraction)
        return k, ok
    x = np.array(raw, dtype=np.float64)
    size = x.shape[1]
    finite = np.all(np.isfinite(x), axis=1)
    x[~finite] = 0.0
    # 1. off the allowed set; 2. below the minimum fraction (elements without a lower bound).
    if not rules.allowed.all():
        x[:, ~rules.allowed] = 0.0
    x[(x < rules.min_fraction) & ~rules.required[None, :]] = 0.0
    # 3. at most m elements: the required ones, then the largest of the rest.
    required = rules.required
    n_required = int(required.sum())
    if rules.max_elements < size:
        free = (x > 0) & ~required[None, :]
        over = np.flatnonzero(free.sum(axis=1) + n_required > rules.max_elements)
        if over.size:
            sub, sub_free = x[over], free[over]
            order = np.argsort(np.where(sub_free, -sub, np.inf), axis=1, kind="stable")
            ranks = np.empty_like(order)
            np.put_along_axis(ranks, order, np.broadcast_to(np.arange(size), order.shape), axis=1)
            sub[sub_free & (ranks >= max(rules.max_elements - n_required, 0))] = 0.0
            x[over] = sub
    # 4. a required element that is 0 becomes its lower bound.
    if n_required:
        x = np.where((x == 0.0) & required[None, :], rules.lo[None, :], x)
    # 5. normalize, then clip to the bounds and spread the difference until nothing moves.
    total = _sequential_sum(x)
    ok = finite & (total > 0)
    x = x / np.where(ok, total, 1.0)[:, None]
    x[~ok] = 0.0
    lo, hi = rules.lo[None, :], rules.hi[None, :]
    active = np.flatnonzero(ok)
    bounded = bool(np.any(rules.lo > 0) or np.any(rules.hi < 1))
    for _ in range(_MAX_ROUNDS):
        if not active.size:
            break
        xs = x[active]
        if not bounded:
            # No bounds: every x_e lies in [0, 1] and is >= 0, so nothing is clipped, C = 0
            # and a round is x_e = ((1 - 0) x_e) / F = x_e / F over the present elements.
            spread_values = xs / _sequential_sum(xs)[:, None]
            moved = np.max(np.abs(spread_values - xs), axis=1)
            x[active] = spread_values
            active = active[moved > _MOVE_TOLERANCE]
            continue
        present = xs > 0
        clipped_values = np.minimum(np.maximum(xs, lo), hi)
        clipped = present & (clipped_values != xs)
        moved = np.max(np.where(clipped, np.abs(clipped_values - xs), 0.0), axis=1)
        xs = np.where(clipped, clipped_values, xs)
        mass = 1.0 - _sequential_sum(np.where(clipped, xs, 0.0))
        unclipped = (xs > 0) & ~clipped
        free_mass = _sequential_sum(np.where(unclipped, xs, 0.0))
        spread = unclipped & (free_mass > 0)[:, None]
        spread_values = (mass[:, None] * xs) / np.where(free_mass > 0, free_mass, 1.0)[:, None]
        moved = np.maximum(moved, np.max(np.where(spread, np.abs(spread_values - xs), 0.0), axis=1))
        xs = np.where(spread, spread_values, xs)
        x[active] = xs
        active = active[moved > _MOVE_TOLERANCE]
    # 6. print with the minimum fraction as the drop threshold; 7. keep exact matches only.
    k, printed = printed_thousandths(x, rules.min_fraction)
    ok &= printed
    ok &= rules.satisfied(k)
    k[~ok] = 0
    return k, ok


def apply_constraints(
    compositions: np.ndarray,
    elements: Sequence[str],
    constraints: Constraints | Mapping[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Repairs and prints raw compositions under `constraints` (docs/DESIGN_ENGINE.md §3).

    Args:
        compositions: ``(N, E)`` raw fractions (a generator's output).
        elements: the element order of the columns.
        constraints: a `Constraints`, a mapping of its fields, or None (the defaults).

    Returns:
        ``(thousandths, ok)``: int32 ``(N, E)`` printed compositions (rows sum to 1000) and
        a bool ``(N,)`` mask of the rows that satisfy every constraint exactly (others are 0).

    Example:
        >>> k, ok = apply_constraints([[0.5, 0.3, 0.2]], ["Nb", "Ti", "W"], {"bounds": {"W": (0, 0.1)}})
        >>> k.tolist(), ok.tolist()
        ([[563, 337, 100]], [True])
    """
    x = np.asarray(compositions, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(elements):
        raise UsageError(f"expected shape (N, {len(elements)}). Received shape {x.shape}.", field="compositions")
    return _repair(x, Constraints.coerce(constraints).resolve(elements))

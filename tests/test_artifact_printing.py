"""Judging as printed: the vectorized printed composition against the per-row
formula -> pymatgen path that design used before, printed formulas as fixed points of
parse -> print, and amounts in scientific notation."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hea_zoo.artifact import formula_strings, parse_printed, printed_fractions, printed_thousandths
from hea_zoo.constants import ELEMENTS
from hea_zoo.data.composition import DROP_THRESHOLD, parse_formula, to_formula

E = len(ELEMENTS)


def _generator_like(rng: np.random.Generator, rows: int) -> np.ndarray:
    scale = rng.choice([0.002, 0.02, 0.3], size=(rows, E), p=[0.5, 0.3, 0.2])
    x = rng.exponential(scale)
    x[x.sum(axis=1) == 0, 0] = 1.0
    return (x / x.sum(axis=1, keepdims=True)).astype(np.float32)


def test_printed_fractions_equal_the_old_per_row_path():
    """Old path: `to_formula` (traces dropped, each fraction rounded to 3 decimals) parsed
    back by pymatgen, which renormalizes. Where the rounded fractions sum to 1 the two agree
    exactly (away from exact halves); where they do not, the old path was not a printed
    composition (its fractions are not multiples of 0.001) and the largest-remainder print
    differs from it by at most 0.001 plus the old rounding error of the sum per element."""
    rng = np.random.default_rng(0)
    raw = _generator_like(rng, 3000)
    new = printed_fractions(raw).astype(np.float64)
    exact = 0
    for row, printed in zip(raw, new):
        x = row.astype(np.float64)
        kept = np.where(x >= DROP_THRESHOLD, x, 0.0)
        q = 1000 * kept / kept.sum()
        near_edge = np.any(np.abs(x - DROP_THRESHOLD) < 1e-6) or np.any(np.abs(q - np.floor(q) - 0.5) < 1e-6)
        old = parse_formula(to_formula(row)).astype(np.float64)
        rounded = np.array([round(v, 3) for v in kept / kept.sum()])
        if abs(rounded.sum() - 1.0) < 1e-9 and not near_edge:
            np.testing.assert_allclose(printed, old, atol=1e-7)
            exact += 1
        else:
            # the old renormalization moved every fraction by up to |Σ rounded - 1| more
            assert np.max(np.abs(printed - old)) <= 1e-3 + abs(rounded.sum() - 1.0) + 1e-7
    assert exact > 1000  # most rows round to a sum of exactly 1


@settings(max_examples=300)
@given(
    seed=st.integers(0, 2**32 - 1),
    dtype=st.sampled_from([np.float32, np.float64]),
    threshold=st.sampled_from([DROP_THRESHOLD, 0.01, 0.04]),
)
def test_printed_formulas_are_fixed_points(seed, dtype, threshold):
    rng = np.random.default_rng(seed)
    raw = _generator_like(rng, 4).astype(dtype)
    k, ok = printed_thousandths(raw, threshold)
    formulas = formula_strings(k[ok], ELEMENTS)
    for formula in formulas:
        parsed = parse_formula(formula)  # pymatgen
        again = formula_strings(printed_thousandths(parsed[None, :])[0], ELEMENTS)[0]
        assert again == formula
        assert formula_strings(printed_thousandths(parsed[None, :], threshold)[0], ELEMENTS)[0] == formula
    np.testing.assert_array_equal(parse_printed(formulas, ELEMENTS), k[ok])


def test_exponent_amounts_parse():
    x = parse_formula("Nb2.5e+1Ta1", ["Nb", "Ta"])
    np.testing.assert_allclose(x, [25 / 26, 1 / 26], rtol=1e-6)
    np.testing.assert_allclose(parse_formula("Mo1e-3W1E0", ["Mo", "W"]), [0.001 / 1.001, 1 / 1.001], rtol=1e-6)
    np.testing.assert_allclose(parse_formula("Nb2Er1", ["Nb", "Er"]), [2 / 3, 1 / 3], rtol=1e-6)  # Er, not 2e...


@settings(max_examples=200)
@given(
    amounts=st.lists(st.floats(1e-3, 1e3, allow_nan=False), min_size=2, max_size=5),
    symbols=st.lists(st.sampled_from(ELEMENTS), min_size=5, max_size=5, unique=True),
    style=st.sampled_from(["{:e}", "{:E}", "{:.3e}", "{:g}"]),
)
def test_any_float_spelling_parses_to_the_same_fractions(amounts, symbols, style):
    plain = "".join(f"{s}{format(a, 'f')}" for s, a in zip(symbols, amounts))
    spelled = "".join(f"{s}{style.format(a)}" for s, a in zip(symbols, amounts))
    np.testing.assert_allclose(parse_formula(spelled), parse_formula(plain), rtol=2e-3, atol=1e-7)


def _largest_remainder_row(x: np.ndarray, threshold: float) -> list[int] | None:
    """Section 2 of docs/DESIGN_ENGINE.md for one row, with Python's stable sort."""
    if not np.all(np.isfinite(x)) or np.any(x < -1e-6):
        return None
    kept = np.where(x >= threshold - 1e-7, x, 0.0)
    total = kept.sum()
    if not total > 0:
        return None
    q = kept / total * 1000
    base = [int(np.floor(v + 1e-3)) if v > 0 else 0 for v in q]
    order = sorted((e for e in range(len(x)) if q[e] > 0), key=lambda e: -(q[e] - base[e]))
    for e in order[: max(1000 - sum(base), 0)]:
        base[e] += 1
    return base


def test_largest_remainder_matches_a_row_by_row_reading():
    rng = np.random.default_rng(5)
    for size in (1, 3, 22, 29):
        x = rng.exponential(rng.choice([0.002, 0.02, 0.3], size=(400, size)))
        x[rng.random(x.shape) < 0.3] = 0
        x[::7] = np.round(x[::7] / np.maximum(x[::7].sum(axis=1, keepdims=True), 1e-9), 3)  # exact and tied
        x[::11, 0] = np.nan
        x[::13] = 0
        x[::17] = 1.0 / size  # equal remainders everywhere
        for threshold in (DROP_THRESHOLD, 0.04):
            k, ok = printed_thousandths(x, threshold)
            for row, got, good in zip(x, k, ok):
                expected = _largest_remainder_row(row, threshold)
                assert good == (expected is not None)
                assert got.tolist() == (expected if expected is not None else [0] * size)

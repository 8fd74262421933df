"""Constraints of the design engine (docs/DESIGN_ENGINE.md §3): the vectorized repair
against a literal one-row reference of the specification, property-based checks that every
returned design obeys every constraint, and the one-line errors of contradictory requests."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hea_zoo.artifact import printed_thousandths
from hea_zoo.constants import ELEMENTS
from hea_zoo.serving import design
from hea_zoo.serving.design import Constraints, Designer, InfeasibleError, TargetError, apply_constraints, parse_bound
from tests.support.design_exports import EXPORTED

E = len(ELEMENTS)


def reference_repair(raw, rules) -> np.ndarray | None:
    """Section 3 for one row, in plain Python floats, exactly as written."""
    x = [float(v) for v in raw]
    if not all(math.isfinite(v) for v in x):
        return None
    if rules.trivial:
        k, ok = printed_thousandths(np.array([x]), rules.min_fraction)
        return k[0] if ok[0] else None
    lo, hi, size = list(rules.lo), list(rules.hi), len(x)
    required = [v > 0 for v in lo]
    for e in range(size):  # 1
        if not rules.allowed[e]:
            x[e] = 0.0
    for e in range(size):  # 2
        if x[e] < rules.min_fraction and lo[e] == 0:
            x[e] = 0.0
    slots = rules.max_elements - sum(required)  # 3
    rest = [e for e in range(size) if x[e] > 0 and not required[e]]
    if len(rest) > slots:
        for e in sorted(rest, key=lambda e: (-x[e], e))[slots:]:
            x[e] = 0.0
    for e in range(size):  # 4
        if required[e] and x[e] == 0:
            x[e] = lo[e]
    total = 0.0  # 5
    for v in x:
        total += v
    if not total > 0:
        return None
    x = [v / total for v in x]
    for _ in range(50):
        moved, clipped = 0.0, [False] * size
        for e in range(size):
            if x[e] > 0:
                v = lo[e] if x[e] < lo[e] else hi[e] if x[e] > hi[e] else x[e]
                if v != x[e]:
                    clipped[e] = True
                    moved = max(moved, abs(v - x[e]))
                    x[e] = v
        c = f = 0.0
        for e in range(size):
            if clipped[e]:
                c += x[e]
        for e in range(size):
            if x[e] > 0 and not clipped[e]:
                f += x[e]
        if f > 0:
            for e in range(size):
                if x[e] > 0 and not clipped[e]:
                    new = ((1.0 - c) * x[e]) / f
                    moved = max(moved, abs(new - x[e]))
                    x[e] = new
        if not moved > 1e-12:
            break
    k, ok = printed_thousandths(np.array([x]), rules.min_fraction)  # 6
    k = k[0]
    if not ok[0]:
        return None
    present = k > 0  # 7
    if np.any(present & ~rules.allowed) or present.sum() > rules.max_elements:
        return None
    if np.any(present & (k < math.ceil(1000 * rules.min_fraction - 1e-9))):
        return None
    if np.any(present & ((k < 1000 * rules.lo - 1e-9) | (k > 1000 * rules.hi + 1e-9))):
        return None
    if np.any(rules.required & ~present):
        return None
    return k


# ----------------------------------------------------------------------------- strategies
@st.composite
def raw_rows(draw, n_rows=st.integers(1, 40)):
    """Generator-like rows: a few large fractions, many small ones, some exact zeros."""
    rows = draw(n_rows)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    scale = rng.choice([0.002, 0.02, 0.3], size=(rows, E), p=[0.5, 0.3, 0.2])
    x = rng.exponential(scale) * (rng.random((rows, E)) > 0.2)
    x[x.sum(axis=1) == 0, 0] = 1.0
    return x / x.sum(axis=1, keepdims=True)


@st.composite
def requests(draw):
    """Valid constraint requests (hypothesis discards the few contradictory draws)."""
    allowed = draw(st.none() | st.lists(st.sampled_from(ELEMENTS), min_size=1, max_size=12, unique=True))
    pool = allowed or list(ELEMENTS)
    exclude = draw(st.lists(st.sampled_from(ELEMENTS), max_size=4, unique=True))
    bounds = {}
    for symbol in draw(st.lists(st.sampled_from(pool), max_size=3, unique=True)):
        lo = draw(st.sampled_from([0.0, 0.0, 0.05, 0.1, 0.2]))
        hi = draw(st.sampled_from([lo + 0.1, lo + 0.3, 0.5, 1.0]))
        bounds[symbol] = (lo, min(hi, 1.0))
    return {
        "elements": allowed,
        "exclude": exclude,
        "bounds": bounds,
        "max_elements": draw(st.none() | st.integers(1, 8)),
        "min_fraction": draw(st.none() | st.sampled_from([0.005, 0.01, 0.03, 0.05, 0.1])),
    }


def resolved(request):
    try:
        return Constraints.coerce(request).resolve(ELEMENTS)
    except TargetError:
        return None


def assert_obeys(k: np.ndarray, request) -> None:
    """Every constraint, checked on the printed integers."""
    rules = Constraints.coerce(request).resolve(ELEMENTS)
    assert np.all(k.sum(axis=1) == 1000)
    present = k > 0
    index = {s: e for e, s in enumerate(ELEMENTS)}
    if request.get("elements"):
        outside = [index[s] for s in ELEMENTS if s not in request["elements"]]
        assert not present[:, outside].any()
    for symbol in request.get("exclude") or []:
        assert not present[:, index[symbol]].any()
    m = request.get("max_elements")
    if m is not None:
        assert np.all(present.sum(axis=1) <= max(m, 1))
    f_min = request.get("min_fraction") or design.DEFAULT_MIN_FRACTION
    assert np.all(k[present] >= math.ceil(1000 * f_min - 1e-9))
    for symbol, (lo, hi) in (request.get("bounds") or {}).items():
        column = k[:, index[symbol]]
        if lo > 0:
            assert np.all(column >= 1000 * max(lo, f_min) - 1e-9)
        assert np.all(column <= 1000 * hi + 1e-9)
    assert np.array_equal(rules.satisfied(k), np.ones(len(k), bool))


# ----------------------------------------------------------------------------- properties
@settings(max_examples=150, suppress_health_check=[HealthCheck.filter_too_much])
@given(rows=raw_rows(), request=requests())
def test_repair_matches_the_specification_row_by_row(rows, request):
    rules = resolved(request)
    if rules is None:
        return
    k, ok = design._repair(rows, rules)
    for i, row in enumerate(rows):
        expected = reference_repair(row, rules)
        assert ok[i] == (expected is not None), (i, request)
        if expected is not None:
            np.testing.assert_array_equal(k[i], expected)


@settings(max_examples=150)
@given(rows=raw_rows(), request=requests())
def test_every_repaired_row_obeys_every_constraint(rows, request):
    if resolved(request) is None:
        return
    k, ok = apply_constraints(rows, ELEMENTS, request)
    assert_obeys(k[ok], request)
    assert np.all(k[~ok] == 0)


@pytest.fixture(scope="module")
def cvae() -> Designer:
    return Designer.from_exported("cvae", EXPORTED)


@settings(max_examples=25)
@given(request=requests(), select=st.sampled_from(["diverse", "closest"]), seed=st.integers(0, 2**32 - 1))
def test_every_design_obeys_every_constraint(cvae, request, select, seed):
    if resolved(request) is None:
        return
    try:
        result = cvae.design([70.0, 30.0], n=10, seed=seed, candidates=300, select=select, constraints=request)
    except InfeasibleError as err:
        assert "300 candidates" in str(err)
        return
    k = np.rint(np.stack([result.rows[e] for e in ELEMENTS], axis=1).astype(np.float64) * 1000).astype(int)
    assert_obeys(k, request)


def test_plain_request_is_the_plain_print():
    rows = np.random.default_rng(0).dirichlet(np.full(E, 0.3), 500)
    k, ok = apply_constraints(rows, ELEMENTS, {"min_fraction": 0.005})
    expected, printable = printed_thousandths(rows)
    np.testing.assert_array_equal(k, expected)
    np.testing.assert_array_equal(ok, printable)


def test_repair_examples():
    # bounds clip and the rest is spread in proportion
    k, ok = apply_constraints([[0.5, 0.3, 0.2]], ["Nb", "Ti", "W"], {"bounds": {"W": (0, 0.1)}, "min_fraction": 0.005})
    # W at 0.1, Nb 0.5625 and Ti 0.3375: the tied remainders go to the lower column
    assert ok[0] and k.tolist() == [[563, 337, 100]]
    # a required element missing from the raw row is added at its lower bound
    k, ok = apply_constraints([[0.6, 0.4, 0.0]], ["Nb", "Ti", "W"], {"bounds": {"W": (0.2, 1)}})
    assert ok[0] and k[0, 2] == 200 and k.sum() == 1000
    # at most 2 elements: the required one and the largest of the rest
    k, ok = apply_constraints([[0.5, 0.3, 0.2]], ["Nb", "Ti", "W"], {"max_elements": 2, "bounds": {"W": (0.1, 1)}})
    assert ok[0] and k[0, 1] == 0 and k[0, 0] > 0 and k[0, 2] >= 100
    # excluded elements vanish, the minimum fraction drops small ones
    k, ok = apply_constraints([[0.5, 0.45, 0.05]], ["Nb", "Ti", "W"], {"exclude": ["Ti"], "min_fraction": 0.1})
    assert ok[0] and k.tolist() == [[1000, 0, 0]]


@pytest.mark.parametrize(
    "request_, fragment",
    [
        ({"elements": ["Xx"]}, "unknown element 'Xx'"),
        ({"exclude": ["Al", "Unobtainium"]}, "unknown element 'Unobtainium'"),
        ({"bounds": {"Qq": (0, 0.1)}}, "unknown element 'Qq'"),
        ({"elements": ["Nb"], "exclude": ["Nb"]}, "no element is left"),
        ({"exclude": ["Nb"], "bounds": {"Nb": (0.1, 0.5)}}, "Nb is required (lower bound 0.1) but excluded"),
        ({"elements": ["Ti", "V"], "bounds": {"Nb": (0.1, 0.5)}}, "Nb is required"),
        ({"bounds": {"Al": (0.3, 0.1)}}, "lower 0.3 > upper 0.1"),
        ({"bounds": {"Al": (-0.1, 0.1)}}, "must lie in [0, 1]"),
        ({"bounds": {"Al": (0.6, 1), "Nb": (0.6, 1)}}, "lower bounds sum to 1.2 > 1"),
        ({"elements": ["Nb", "Ti"], "bounds": {"Nb": (0, 0.3), "Ti": (0, 0.3)}}, "sum to 0.6 < 1"),
        ({"max_elements": 0}, "max_elements: must be at least 1"),
        ({"max_elements": 1, "bounds": {"Nb": (0.2, 1), "Ti": (0.2, 1)}}, "below the 2 required elements (Nb, Ti)"),
        ({"min_fraction": 0}, "min_fraction: must lie in (0, 1]"),
        ({"min_fraction": 1.5}, "min_fraction: must lie in (0, 1]"),
        ({"bounds": {"Al": (0.01, 0.02)}}, "minimum fraction 0.03 (the default; set min_fraction to change it) exceeds"),
        ({"bounds": {"Al": (0, float("nan"))}}, "must be a finite number"),
        ({"colour": "red"}, "unknown constraint(s) ['colour']"),
    ],
)
def test_contradictory_requests_are_one_line_errors(request_, fragment):
    with pytest.raises(TargetError) as info:
        Constraints.coerce(request_).resolve(ELEMENTS)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_parse_bound():
    assert parse_bound("Al=0:0.1") == ("Al", (0.0, 0.1))
    assert parse_bound("Al=:0.1") == ("Al", (0.0, 0.1))
    assert parse_bound("W=0.2:") == ("W", (0.2, 1.0))
    assert parse_bound("Ta=0.3") == ("Ta", (0.3, 0.3))
    for bad in ("Al", "=0:1", "Al=a:b", "Al=0:1:2"):
        with pytest.raises(TargetError):
            parse_bound(bad)

"""Formula <-> vector round trips and the validation of bad input."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hea_zoo import ELEMENTS
from hea_zoo.data.composition import (
    DROP_THRESHOLD,
    parse_formula,
    parse_formulas,
    to_formula,
    to_formulas,
    valid_rows,
    validate_compositions,
)


def test_equimolar_and_weighted_formulas():
    x = parse_formula("HfNbTaTiZr")
    assert x.shape == (22,) and x.dtype == np.float32
    for e in ("Hf", "Nb", "Ta", "Ti", "Zr"):
        assert x[ELEMENTS.index(e)] == pytest.approx(0.2)
    y = parse_formula("AlMo0.5NbTa0.5TiZr")
    assert y[ELEMENTS.index("Mo")] == pytest.approx(0.1)
    assert y.sum() == pytest.approx(1.0, abs=1e-6)
    assert to_formula(x) == "Hf0.2Nb0.2Ta0.2Ti0.2Zr0.2"


def test_amounts_are_renormalized():
    np.testing.assert_allclose(parse_formula("Mo2W2"), parse_formula("MoW"))


def test_output_formula_drops_traces_and_renormalizes():
    x = np.zeros(22)
    x[ELEMENTS.index("Mo")] = 0.499
    x[ELEMENTS.index("W")] = 0.499
    x[ELEMENTS.index("O")] = 0.002  # below DROP_THRESHOLD
    assert 0.002 < DROP_THRESHOLD
    assert to_formula(x) == "Mo0.5W0.5"


def test_lists_and_pandas_columns():
    formulas = ["MoNbTaW", "HfNbTaTiZr", "NbTaTiV"]
    a = parse_formulas(formulas)
    b = parse_formulas(pd.Series(formulas))
    assert a.shape == (3, 22)
    np.testing.assert_array_equal(a, b)
    assert to_formulas(a) == ["Mo0.25Nb0.25Ta0.25W0.25", "Hf0.2Nb0.2Ta0.2Ti0.2Zr0.2", "Nb0.25Ta0.25Ti0.25V0.25"]


def test_custom_element_list():
    x = parse_formula("NbTi", elements=["Nb", "Ti", "Zr"])
    np.testing.assert_allclose(x, [0.5, 0.5, 0.0])
    assert to_formula(x, ["Nb", "Ti", "Zr"]) == "Nb0.5Ti0.5"


@pytest.mark.parametrize(
    "formula, reason",
    [
        ("", "empty"),
        ("   ", "empty"),
        (None, "empty"),
        (float("nan"), "empty"),
        ("NbTaNa", "Na not in the element list"),
        ("Nb-0.2Ta", "negative"),
        ("NbNaN", "NaN"),
        ("Nb0Ta0", "sum to zero"),
        ("(((", "cannot be parsed"),
        ("hello", "cannot be parsed"),
    ],
)
def test_bad_formulas_name_row_formula_and_reason(formula, reason):
    good = ["MoNbTaW", "HfNbTaTiZr"]
    with pytest.raises(ValueError) as err:
        parse_formulas(good + [formula])
    message = str(err.value)
    assert message.startswith("row 2: ")
    assert reason in message
    if isinstance(formula, str) and formula.strip():
        assert repr(formula) in message


def test_bad_row_named_by_pandas_index():
    s = pd.Series(["MoNbTaW", "MoNbTaXx"], index=["a17", "b42"])
    with pytest.raises(ValueError, match="row b42"):
        parse_formulas(s)


def _grid_composition(symbols, units):
    """Fractions on the 0.001 grid (each present element >= 0.006, above the drop threshold)."""
    counts = np.array(units, dtype=np.int64)
    counts = 6 + (counts * (1000 - 6 * len(counts))) // counts.sum()
    counts[0] += 1000 - counts.sum()
    x = np.zeros(22)
    for s, c in zip(symbols, counts):
        x[ELEMENTS.index(s)] = c / 1000
    return x


compositions = st.integers(min_value=1, max_value=7).flatmap(
    lambda k: st.tuples(
        st.lists(st.sampled_from(ELEMENTS), min_size=k, max_size=k, unique=True),
        st.lists(st.integers(min_value=1, max_value=1000), min_size=k, max_size=k),
    )
)


@settings(max_examples=200, deadline=None)
@given(compositions)
def test_round_trip_vector_formula_vector(spec):
    x = _grid_composition(*spec)
    assert x.min(initial=1) >= 0 and abs(x.sum() - 1) < 1e-12 and x[x > 0].min() > DROP_THRESHOLD
    formula = to_formula(x)
    back = parse_formula(formula)
    np.testing.assert_allclose(back, x, atol=1e-6)  # vector -> formula -> vector
    assert to_formula(back) == formula  # formula -> vector -> formula


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1, allow_nan=False), min_size=22, max_size=22))
def test_valid_rows_agrees_with_validate(values):
    x = np.asarray(values)[None, :]
    if valid_rows(x)[0]:
        validate_compositions(x)
    else:
        with pytest.raises(ValueError, match="row 0"):
            validate_compositions(x, atol=1e-6)


def test_validate_compositions_names_the_row():
    x = np.full((3, 22), 1 / 22)
    x[2, 0] = np.nan
    with pytest.raises(ValueError, match="row 2 contains NaN"):
        validate_compositions(x)
    x[2, 0] = -0.1
    with pytest.raises(ValueError, match="row 2 has a negative"):
        validate_compositions(x)
    with pytest.raises(ValueError, match="22 columns"):
        validate_compositions(np.ones((2, 5)) / 5, n_elements=22)

"""Formula <-> vector round trips and the validation of bad input."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hea_zoo import ELEMENTS
from hea_zoo.composition import (
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


compositions = st.integers(min_value=1, max_value=7).flatmap(
    lambda k: st.tuples(
        st.lists(st.sampled_from(ELEMENTS), min_size=k, max_size=k, unique=True),
        st.lists(st.integers(min_value=5, max_value=1000), min_size=k, max_size=k),
    )
)


@settings(max_examples=200, deadline=None)
@given(compositions)
def test_round_trip_vector_formula_vector(spec):
    symbols, units = spec
    x = np.zeros(22)
    for s, u in zip(symbols, units):
        x[ELEMENTS.index(s)] = u
    x /= x.sum()
    x = np.round(x, 3)
    x /= x.sum()
    # keep clear of the drop threshold (float32 parsing may land just below it)
    x[x < 1.2 * DROP_THRESHOLD] = 0
    x /= x.sum()
    formula = to_formula(x, decimals=6)
    back = parse_formula(formula)
    np.testing.assert_allclose(back, x, atol=2e-6)
    # and formula -> vector -> formula is stable
    assert to_formula(back, decimals=6) == formula


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

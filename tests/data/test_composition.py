"""Formula <-> vector round trips and the validation of bad input."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hea_zoo import ELEMENTS
from hea_zoo.errors import DataError, UsageError
from hea_zoo.data.composition import (
    DROP_THRESHOLD,
    parse_compositions,
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
    with pytest.raises(DataError) as err:
        parse_formulas(good + [formula])
    message = str(err.value)
    assert message.startswith("formulas: row 2: formula ")
    assert err.value.field == "formulas" and err.value.row == 2 and err.value.line is None
    assert reason in err.value.message
    if isinstance(formula, str) and formula.strip():
        assert repr(formula) in message
    with pytest.raises(DataError) as one:  # one formula: the same rule, no row
        parse_formula(formula)
    assert one.value.field == "formula" and one.value.row is None and reason in str(one.value)


@pytest.mark.parametrize(
    "formula, expected",
    [
        ("Nb2.5e+1Ta1", {"Nb": 25 / 26, "Ta": 1 / 26}),
        ("Nb1e-3Ta", {"Nb": 0.001 / 1.001, "Ta": 1 / 1.001}),
        ("(NbTa)0.5Ti", {"Nb": 0.25, "Ta": 0.25, "Ti": 0.5}),
        ("Nb 0.5 Ta0.5", {"Nb": 0.5, "Ta": 0.5}),
    ],
)
def test_one_parser_for_a_given_element_list_and_a_tables_own(formula, expected):
    """`parse_formula` over the 22 elements and `parse_compositions` over the elements a
    table contains read a formula the same way (scientific notation included)."""
    over_22 = parse_formula(formula)
    own, elements = parse_compositions([formula, "MoW"])
    assert elements == tuple(sorted(set(expected) | {"Mo", "W"}))
    for symbol, fraction in expected.items():
        assert over_22[ELEMENTS.index(symbol)] == pytest.approx(fraction, rel=1e-6)
        assert own[0, elements.index(symbol)] == over_22[ELEMENTS.index(symbol)]


@pytest.mark.parametrize(
    "formula, reason",
    [("MoNbXx", "Xx is not a chemical element"), ("NbTa-0.3Ti", "amount of Ta is negative"), ("nbta", "cannot be parsed")],
)
def test_a_tables_own_elements_follow_the_same_rules(formula, reason):
    for elements in (None, ELEMENTS):
        with pytest.raises(DataError) as err:
            parse_compositions(["NbTa", formula], elements, rows=[7, 9], field="alloy")
        assert err.value.row == 9 and err.value.field == "alloy" and reason in err.value.message


def test_element_lists_are_checked():
    with pytest.raises(UsageError, match="elements: duplicate symbols"):
        parse_compositions(["NbTa"], ["Nb", "Ta", "Nb"])
    with pytest.raises(UsageError, match="elements: Xx is not a chemical element"):
        parse_formula("NbTa", ["Nb", "Ta", "Xx"])


def test_repeated_formulas_are_parsed_once_and_keep_their_rows():
    x, elements = parse_compositions(pd.Series(["NbTa", "MoW", " NbTa", "Nb1Ta1"], index=[3, 4, 5, 6]))
    np.testing.assert_array_equal(x[0], x[2])
    np.testing.assert_array_equal(x[0], x[3])
    with pytest.raises(DataError) as err:
        parse_compositions(pd.Series(["NbTa", "NbTa", None], index=["a", "b", "c"]))
    assert err.value.row == "c"


def test_bad_row_named_by_pandas_index():
    s = pd.Series(["MoNbTaW", "MoNbTaXx"], index=["a17", "b42"])
    with pytest.raises(ValueError, match="row b42: formula 'MoNbTaXx': Xx is not a chemical element") as err:
        parse_formulas(s)
    assert err.value.row == "b42"


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
    with pytest.raises(DataError, match="compositions: row 2: contains NaN") as err:
        validate_compositions(x)
    assert err.value.row == 2
    x[2, 0] = -0.1
    with pytest.raises(DataError, match="row 2: has a negative"):
        validate_compositions(x)
    with pytest.raises(ValueError, match="22 columns"):
        validate_compositions(np.ones((2, 5)) / 5, n_elements=22)


# Printed formulas: fixed points of parse -> print, amounts in scientific notation.
@st.composite
def compositions(draw):
    k = draw(st.integers(1, 8))
    columns = draw(st.lists(st.integers(0, len(ELEMENTS) - 1), min_size=k, max_size=k, unique=True))
    amounts = draw(st.lists(st.floats(0.0005, 1.0), min_size=k, max_size=k))
    x = np.zeros(len(ELEMENTS))
    x[columns] = amounts
    return x / x.sum()


@given(compositions())
def test_printed_formulas_are_fixed_points(x):
    try:
        printed = to_formula(x)
    except ValueError:  # every fraction below the drop threshold
        assert np.all(x < DROP_THRESHOLD + 1e-7)
        return
    assert to_formula(parse_formula(printed)) == printed
    assert to_formulas(parse_formulas([printed, printed])) == [printed, printed]
    thousandths = [round(float(v) * 1000) for v in parse_formula(printed)]
    assert sum(thousandths) == 1000


def test_the_reported_drifting_formula_is_stable():
    printed = to_formula(parse_formula("Al0.656Co0.331Y0.012"))
    assert printed == "Al0.657Co0.331Y0.012"
    assert to_formula(parse_formula(printed)) == printed


@given(st.lists(st.floats(1e-4, 1e4), min_size=2, max_size=5))
def test_scientific_amounts_parse_like_plain_ones(amounts):
    symbols = ["Nb", "Ta", "Ti", "Zr", "Hf"][: len(amounts)]
    plain = "".join(f"{s}{np.format_float_positional(a, trim='-')}" for s, a in zip(symbols, amounts))
    expected = parse_formula(plain, symbols)
    for spec in ("e", "E", ".3e"):
        text = "".join(f"{s}{a:{spec}}" for s, a in zip(symbols, amounts))  # e+ and e- exponents
        got = parse_formula(text, symbols)
        tolerance = 1e-6 if spec != ".3e" else 2e-3
        np.testing.assert_allclose(got, expected, atol=tolerance, err_msg=text)


def test_the_reported_exponent_formula_parses():
    np.testing.assert_allclose(parse_formula("Nb2.5e+1Ta1", ["Nb", "Ta"]), [25 / 26, 1 / 26], rtol=1e-6)
    np.testing.assert_allclose(parse_formula("Nb2.5E1Ta1", ["Nb", "Ta"]), [25 / 26, 1 / 26], rtol=1e-6)
    with pytest.raises(ValueError, match="negative"):
        parse_formula("Nb-2.5e+1Ta1", ["Nb", "Ta"])

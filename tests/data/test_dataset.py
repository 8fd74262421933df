"""The bundled dataset, its builder, and loading users' own tables."""

import numpy as np
import pandas as pd
import pytest

import hea_zoo
from hea_zoo import ELEMENTS, load_dataset
from hea_zoo.data import oracle
from hea_zoo.data.composition import parse_formula, valid_rows
from hea_zoo.errors import DataError, UsageError
from hea_zoo.data.builder import DATA_PATH, FAMILIES, build_frame


@pytest.fixture(scope="module")
def ds():
    return load_dataset()


def test_bundled_shapes_and_names(ds):
    assert ds.compositions.shape == (529, 22) and ds.compositions.dtype == np.float32
    assert ds.properties.shape == (529, 2) and ds.properties.dtype == np.float32
    assert ds.elements == ELEMENTS
    assert ds.elements[:3] == ("Al", "Be", "Co") and ds.elements[-1] == "Zr"
    assert ds.property_names == ("shear_modulus", "fracture_toughness")
    assert ds.property_units == ("GPa", "MPa*m^0.5")
    assert len(ds.formulas) == 529


def test_every_row_valid_distinct_and_all_elements_used(ds):
    assert valid_rows(ds.compositions).all()
    assert len(np.unique(ds.compositions, axis=0)) == 529
    assert np.all(ds.compositions.max(axis=0) > 0), "every one of the 22 elements occurs"


def test_principal_and_minor_element_rules(ds):
    x = ds.compositions
    principal = (x >= 0.05).sum(axis=1)
    assert principal.min() >= 4 and principal.max() <= 7
    present = x > 0
    assert np.all(x[present] >= 0.005 - 1e-6)
    assert x[:, ELEMENTS.index("O")].max() < 0.05


def test_known_families_present(ds):
    formulas = set(ds.formulas)
    for f in ("Hf0.2Nb0.2Ta0.2Ti0.2Zr0.2", "Mo0.25Nb0.25Ta0.25W0.25", "Cr0.25Mo0.25Nb0.25V0.25"):
        assert f in formulas
    assert len(FAMILIES) >= 40


def test_labels_are_the_oracle(ds):
    np.testing.assert_allclose(ds.properties, oracle.properties(ds.compositions), rtol=1e-4)


def test_builder_is_deterministic_and_matches_committed_csv():
    committed = pd.read_csv(DATA_PATH)
    rebuilt = build_frame()
    pd.testing.assert_frame_equal(rebuilt, committed, check_exact=False, rtol=1e-6)


def test_split_is_seeded_and_disjoint(ds):
    assert len(ds.train_index) == 423 and len(ds.test_index) == 106
    assert not set(ds.train_index) & set(ds.test_index)
    again = load_dataset()
    np.testing.assert_array_equal(again.test_index, ds.test_index)
    other = load_dataset(seed=1)
    assert not np.array_equal(other.test_index, ds.test_index)
    assert ds.train.compositions.shape == (423, 22)
    q = ds.percentile([5, 95])
    assert q.shape == (2, 2) and np.all(q[0] < q[1])


def test_user_csv_with_own_columns(tmp_path):
    path = tmp_path / "alloys.csv"
    pd.DataFrame(
        {
            "Alloy": ["NbTaTiV", "MoNbTaW", "HfNbTaTiZr", "CrMoNbV", "NbTiZr"],
            "Hv": [350.0, 500.0, 300.0, 520.0, 280.0],
            "E_GPa": [120.0, 220.0, 90.0, 200.0, 85.0],
            "YS": [1, 2, 3, 4, 5],
        }
    ).to_csv(path, index=False)
    ds = load_dataset(path, composition_column="Alloy", properties=["Hv", "E_GPa"])
    assert ds.elements == ("Cr", "Hf", "Mo", "Nb", "Ta", "Ti", "V", "W", "Zr")
    assert ds.compositions.shape == (5, 9)
    assert ds.property_names == ("Hv", "E_GPa")
    assert valid_rows(ds.compositions).all()
    one = load_dataset(path, composition_column="Alloy", properties=["YS"], elements=ELEMENTS)
    assert one.compositions.shape == (5, 22) and one.properties.shape == (5, 1)


def test_property_columns_is_the_deprecated_name_of_properties(tmp_path):
    frame = pd.DataFrame({"alloy": ["NbTaTiV", "MoNbTaW", "HfNbTaTiZr", "CrMoNbV"], "h": [1.0, 2, 3, 4], "e": [5.0, 6, 7, 8]})
    with pytest.warns(DeprecationWarning, match="use properties"):
        old = load_dataset(frame, "alloy", property_columns=["e"])
    new = load_dataset(frame, "alloy", properties=["e"])
    assert old.property_names == new.property_names == ("e",)
    np.testing.assert_array_equal(old.properties, new.properties)
    with pytest.raises(UsageError, match="not both"), pytest.warns(DeprecationWarning):
        load_dataset(frame, "alloy", properties=["h"], property_columns=["e"])


def test_a_users_table_parses_as_parse_formula_does(tmp_path):
    """Without an element list a table's formulas go through the same parser: scientific
    notation, parentheses and spaces read as `parse_formula` reads them."""
    path = tmp_path / "alloys.csv"
    path.write_text("composition,h\nNb2.5e+1Ta1,1\n(MoW)0.5Ti,2\nNb 0.5 Ta0.5,3\nHfZr,4\n")
    ds = load_dataset(path, test_fraction=0.0)
    assert ds.elements == ("Hf", "Mo", "Nb", "Ta", "Ti", "W", "Zr")
    for i, formula in enumerate(["Nb2.5e+1Ta1", "(MoW)0.5Ti", "Nb 0.5 Ta0.5", "HfZr"]):
        np.testing.assert_array_equal(ds.compositions[i], parse_formula(formula, ds.elements))
    assert ds.formulas[0] == "Nb0.962Ta0.038"
    again = load_dataset(path, test_fraction=0.0, elements=ELEMENTS)
    np.testing.assert_array_equal(again.compositions[0], parse_formula("Nb2.5e+1Ta1"))


def test_user_table_errors_name_the_problem(tmp_path):
    frame = pd.DataFrame({"alloy": ["NbTa", "MoW", "Nb-1Ta"], "h": [1.0, 2.0, 3.0]})
    with pytest.raises(DataError, match=r"alloy: data row 2 \(0-based\): formula 'Nb-1Ta': amount of Nb is negative") as err:
        load_dataset(frame, composition_column="alloy")
    assert (err.value.field, err.value.row, err.value.line) == ("alloy", 2, None)
    with pytest.raises(DataError, match="composition_column: Composition column 'formula' not found"):
        load_dataset(frame, composition_column="formula")
    with pytest.raises(DataError, match=r"properties: Property column\(s\) \['hardness'\] not found"):
        load_dataset(frame, composition_column="alloy", properties=["hardness"])
    with pytest.raises(DataError, match="not found"):
        load_dataset(tmp_path / "missing.csv")
    with pytest.raises(DataError, match="Al not in the element list") as err:
        load_dataset(pd.DataFrame({"c": ["NbTa", "AlNb"], "h": [1, 2]}), "c", elements=["Nb", "Ta"])
    assert err.value.row == 1
    with pytest.raises(UsageError, match="elements: duplicate symbols"):
        load_dataset(frame, "alloy", elements=["Nb", "Ta", "Nb"])
    path = tmp_path / "alloys.csv"
    path.write_text("alloy,h\nNbTa,1\n\nMoW,2\nNbXx,3\n")
    with pytest.raises(DataError, match=r"data row 2 \(0-based; line 5 of alloys.csv\): formula 'NbXx'") as err:
        load_dataset(path, "alloy")
    assert (err.value.row, err.value.line) == (2, 5)


def test_missing_properties_raise_or_are_dropped(capsys, caplog):
    frame = pd.DataFrame({"alloy": ["NbTa", "MoW", "TiZr", "HfNb"], "h": [1.0, None, 3.0, None]})
    with pytest.raises(DataError, match=r"dropna: data row 1 \(0-based\): missing value for h \(2 rows") as err:
        load_dataset(frame, composition_column="alloy")
    assert err.value.row == 1 and "dropna=True" not in str(err.value)
    with caplog.at_level("INFO", logger="hea_zoo.data.datasets"):
        ds = load_dataset(frame, composition_column="alloy", dropna=True, test_fraction=0.0)
    assert len(ds) == 2
    assert ds.notes == ("dropped 2 rows with missing properties.", "2 distinct alloys: too few to train a model on (at least 20).")
    assert capsys.readouterr() == ("", "")  # the library does not print
    assert "dataframe: dropped 2 rows with missing properties." in caplog.messages
    assert ds.elements == ("Nb", "Ta", "Ti", "Zr")
    caplog.clear()
    with caplog.at_level("INFO", logger="hea_zoo.data.datasets"):
        quiet = load_dataset(frame, composition_column="alloy", dropna=True, test_fraction=0.0, verbose=False)
    assert quiet.notes == ds.notes and not caplog.messages


def test_import_and_public_api():
    assert hea_zoo.load_dataset().compositions.shape == (529, 22)
    assert isinstance(hea_zoo.__version__, str)


def test_bundled_fingerprint_constant_matches_the_shipped_table():
    from hea_zoo.constants import BUNDLED_FINGERPRINT, oracle_applies

    ds = load_dataset()
    assert ds.fingerprint() == BUNDLED_FINGERPRINT == ds.source_fingerprint
    assert oracle_applies(ds) and oracle_applies(ds.test)
    assert oracle_applies({"data_fingerprint": BUNDLED_FINGERPRINT})
    assert not oracle_applies({"data_fingerprint": ""}) and not oracle_applies(None)


# --------------------------------------------------------------------------- duplicates


def _repeated_table() -> pd.DataFrame:
    """30 distinct alloys; NbTa appears 3 times (written three ways), MoW twice."""
    rng = np.random.default_rng(0)
    base = ["NbTaTiV", "MoNbTaW", "HfNbTaTiZr", "CrMoNbV", "NbTiZr", "AlNbTiV"]
    formulas = [f"{b}Ti{0.1 * (i + 1):.1f}" if "Ti" not in b else f"{b}Mo{0.1 * (i + 1):.1f}" for i, b in enumerate(base * 5)][:28]
    formulas += ["NbTa", "Nb0.5Ta0.5", "Nb50Ta50.04", "MoW", "Mo1W1"]
    h = rng.uniform(100, 500, len(formulas)).round(1)
    h[-5:-2] = [100.0, 200.0, 600.0]
    h[-2:] = [300.0, 400.0]
    return pd.DataFrame({"alloy": formulas, "h": h, "e": np.arange(len(formulas), dtype=float) + 1})


def test_duplicates_are_grouped_and_merged_by_the_policy(capsys):
    frame = _repeated_table()
    median = load_dataset(frame, "alloy", test_fraction=0.2)
    assert capsys.readouterr().out == ""
    (out,) = median.notes
    assert out == median.duplicates and median.train.notes == median.notes
    assert "5 rows repeat 2 compositions (2-3 rows each), merged to one row each by median" in out
    assert "largest spread: h 100 to 600 (Nb0.5Ta0.5)" in out
    assert len(median) == median.n_alloys == len(frame) - 3
    row = median.formulas.index("Nb0.5Ta0.5")
    np.testing.assert_allclose(median.properties[row], [200.0, 30.0])  # medians of the 3 rows
    mean = load_dataset(frame, "alloy", duplicates="mean", verbose=False)
    np.testing.assert_allclose(mean.properties[mean.formulas.index("Nb0.5Ta0.5")], [300.0, 30.0])
    first = load_dataset(frame, "alloy", duplicates="first", verbose=False)
    np.testing.assert_allclose(first.properties[first.formulas.index("Mo0.5W0.5")], [300.0, 32.0])
    keep = load_dataset(frame, "alloy", duplicates="keep", verbose=False)
    assert len(keep) == len(frame) and keep.n_alloys == len(frame) - 3
    assert len(set(keep.groups[-5:-2])) == 1 and len(set(keep.groups[-2:])) == 1
    with pytest.raises(UsageError, match="duplicates: must be one of median, mean, first, keep"):
        load_dataset(frame, "alloy", duplicates="max")


@pytest.mark.parametrize("seed", range(6))
def test_no_composition_is_in_both_train_and_test(seed):
    keep = load_dataset(_repeated_table(), "alloy", duplicates="keep", seed=seed, verbose=False)
    train, test = set(keep.groups[keep.train_index]), set(keep.groups[keep.test_index])
    assert train and test and not train & test
    assert len(keep.train_index) + len(keep.test_index) == len(keep)
    rounded = {tuple(np.round(c, 3)) for c in keep.test.compositions}
    assert not rounded & {tuple(np.round(c, 3)) for c in keep.train.compositions}
    assert keep.alloys_in(keep.test_index) == round(keep.n_alloys * 0.2)


def test_setting_columns_keep_different_settings_apart(capsys):
    frame = pd.DataFrame(
        {"alloy": ["NbTa", "NbTa", "NbTa", "MoW", "TiZr"], "ys": [1.0, 3.0, 10.0, 5.0, 6.0], "T": [25.0, 25.0, 1000.0, 25.0, 25.0]}
    )
    ds = load_dataset(frame, "alloy", setting_columns=["T"], test_fraction=0.0, verbose=False)
    assert len(ds) == 4  # NbTa at 25 °C merged (median 2), NbTa at 1000 °C kept
    np.testing.assert_allclose(ds.properties[:2], [[2.0, 25.0], [10.0, 1000.0]])
    assert ds.groups[0] == ds.groups[1]  # one composition: never split apart


def test_bundled_split_and_fingerprint_are_unchanged_by_grouping(ds):
    from hea_zoo.constants import BUNDLED_FINGERPRINT

    assert ds.n_alloys == 529 and ds.duplicates == ""
    order = np.random.default_rng(0).permutation(529)  # the split before groups existed
    np.testing.assert_array_equal(ds.test_index, np.sort(order[:106]))
    assert ds.fingerprint() == ds.source_fingerprint == BUNDLED_FINGERPRINT
    assert ds.train.source_fingerprint == BUNDLED_FINGERPRINT


def test_group_ids_round_fractions_to_1e_3():
    from hea_zoo.data.datasets import group_ids, group_split

    x = np.array([[0.5, 0.5], [0.2, 0.8], [0.5004, 0.4996], [0.502, 0.498]])
    assert group_ids(x).tolist() == [0, 1, 0, 2]
    train, test = group_split(np.array([0, 0, 1, 2, 2, 3, 4, 5]), 0.5, seed=0)
    assert not set(np.array([0, 0, 1, 2, 2, 3, 4, 5])[train]) & set(np.array([0, 0, 1, 2, 2, 3, 4, 5])[test])
    with pytest.raises(ValueError, match="Too few distinct alloys"):
        group_split(np.zeros(10), 0.2, 0)


# ------------------------------------------------------------------ bad property values


@pytest.mark.parametrize("bad, problem", [("inf", "is not finite"), ("1e308", "overflows float32"), ("-inf", "is not finite")])
def test_infinite_or_overflowing_property_names_the_row(tmp_path, bad, problem):
    path = tmp_path / "alloys.csv"
    path.write_text(f"composition,h\nNbTa,1.0\nMoW,2.0\nTiZr,{bad}\nHfNb,3\n")
    with pytest.raises(DataError, match=rf"h: data row 2 \(0-based; line 4 of alloys.csv\): property 'h' .* {problem}") as err:
        load_dataset(path)
    assert (err.value.field, err.value.row, err.value.line) == ("h", 2, 4)
    frame = pd.read_csv(path)
    with pytest.raises(ValueError, match=rf"data row 2 \(0-based\): property 'h'"):
        load_dataset(frame, dropna=True)


def test_row_numbers_survive_dropna(tmp_path):
    frame = pd.DataFrame({"composition": ["NbTa", "MoW", "TiZr", "HfNb"], "h": [None, 1.0, 2.0, np.inf]})
    with pytest.raises(ValueError, match=r"data row 3 \(0-based\)"):
        load_dataset(frame, dropna=True)


def test_negative_properties_load():
    frame = pd.DataFrame({"composition": ["NbTa", "MoW", "TiZr", "HfNb"], "dH": [-12.5, 3.0, -0.5, 7.0]})
    ds = load_dataset(frame, test_fraction=0.0)
    np.testing.assert_allclose(ds.properties[:, 0], [-12.5, 3.0, -0.5, 7.0])

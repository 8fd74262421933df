"""The bundled dataset, its builder, and loading users' own tables."""

import numpy as np
import pandas as pd
import pytest

import hea_zoo
from hea_zoo import ELEMENTS, load_dataset
from hea_zoo.data import oracle
from hea_zoo.data.composition import valid_rows
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
    ds = load_dataset(path, composition_column="Alloy", property_columns=["Hv", "E_GPa"])
    assert ds.elements == ("Cr", "Hf", "Mo", "Nb", "Ta", "Ti", "V", "W", "Zr")
    assert ds.compositions.shape == (5, 9)
    assert ds.property_names == ("Hv", "E_GPa")
    assert valid_rows(ds.compositions).all()
    one = load_dataset(path, composition_column="Alloy", property_columns=["YS"], elements=ELEMENTS)
    assert one.compositions.shape == (5, 22) and one.properties.shape == (5, 1)


def test_user_table_errors_name_the_problem(tmp_path):
    frame = pd.DataFrame({"alloy": ["NbTa", "MoW", "Nb-1Ta"], "h": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match=r"row 2: formula 'Nb-1Ta': amount of Nb is negative"):
        load_dataset(frame, composition_column="alloy")
    with pytest.raises(ValueError, match="Composition column 'formula' not found"):
        load_dataset(frame, composition_column="formula")
    with pytest.raises(ValueError, match=r"Property column\(s\) \['hardness'\] not found"):
        load_dataset(frame, composition_column="alloy", property_columns=["hardness"])
    with pytest.raises(ValueError, match="not found"):
        load_dataset(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match="Al not in the element list"):
        load_dataset(pd.DataFrame({"c": ["NbTa", "AlNb"], "h": [1, 2]}), "c", elements=["Nb", "Ta"])


def test_missing_properties_raise_or_are_dropped(capsys):
    frame = pd.DataFrame({"alloy": ["NbTa", "MoW", "TiZr", "HfNb"], "h": [1.0, None, 3.0, None]})
    with pytest.raises(ValueError, match=r"data row 1 \(0-based\): missing value for h \(2 rows"):
        load_dataset(frame, composition_column="alloy")
    ds = load_dataset(frame, composition_column="alloy", dropna=True, test_fraction=0.0)
    assert len(ds) == 2
    assert "dropped 2 rows" in capsys.readouterr().out
    assert ds.elements == ("Nb", "Ta", "Ti", "Zr")


def test_import_and_public_api():
    assert hea_zoo.load_dataset().compositions.shape == (529, 22)
    assert isinstance(hea_zoo.__version__, str)

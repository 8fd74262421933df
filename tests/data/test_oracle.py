"""The physics oracle."""

import numpy as np
import pytest

from hea_zoo import ELEMENTS, load_dataset, parse_formulas
from hea_zoo.data import oracle
from hea_zoo.data.elements import element_table, pymatgen_cross_check


@pytest.mark.parametrize("element", [e for e in ELEMENTS if e != "O"])
def test_pure_element_reproduces_tabulated_shear_modulus(element):
    x = np.eye(22)[ELEMENTS.index(element)]
    assert oracle.shear_modulus(x)[0] == pytest.approx(element_table().loc[element, "shear_modulus"])


def test_hill_average_lies_between_reuss_and_voigt():
    d = oracle.descriptors(parse_formulas(["MoNbTaW", "HfNbTaTiZr"]))
    g = element_table()["shear_modulus"]
    assert g["Nb"] < d["G"][0] < g["W"]


def test_w_rich_alloy_stiffer_than_ti_rich():
    g = oracle.shear_modulus(parse_formulas(["W0.6Mo0.1Nb0.1Ta0.1Ti0.1", "Ti0.6Mo0.1Nb0.1Ta0.1W0.1"]))
    assert g[0] > g[1] + 30


def test_ductile_family_tougher_than_brittle_one():
    k = oracle.fracture_toughness(parse_formulas(["HfNbTaTiZr", "MoNbTaW", "W"]))
    assert k[0] > 2 * k[1] and k[1] > k[2]


def test_oxygen_embrittles():
    k = oracle.fracture_toughness(parse_formulas(["HfNbTaTiZr", "HfNbTaTiZrO0.2"]))
    assert k[1] < 0.8 * k[0]


def test_finite_positive_on_every_dataset_row():
    ds = load_dataset()
    p = oracle.properties(ds.compositions)
    assert p.shape == (529, 2)
    assert np.all(np.isfinite(p)) and np.all(p > 0)


def test_properties_not_near_collinear():
    p = load_dataset().properties
    r = np.corrcoef(p[:, 0], p[:, 1])[0, 1]
    assert abs(r) < 0.7


def test_oxygen_alone_is_not_judgeable():
    x = parse_formulas(["O", "HfNbTaTiZrO0.2", "Si"])
    np.testing.assert_array_equal(oracle.judgeable(x), [False, True, True])
    with pytest.raises(ValueError, match="metallic element"):
        oracle.properties(x)
    assert np.all(np.isfinite(oracle.properties(x[oracle.judgeable(x)])))


def test_rejects_other_elements():
    with pytest.raises(ValueError, match="22 elements"):
        oracle.properties(np.array([[0.5, 0.5]]), elements=("Nb", "Cs"))


def test_element_table_sources_and_pymatgen_disagreements():
    t = element_table()
    assert list(t.index) == list(ELEMENTS)
    for column in ("shear_modulus", "atomic_radius", "valence_electrons", "density"):
        assert t[f"{column}_source"].notna().all()
    assert np.isnan(t.loc["O", "shear_modulus"])
    diff = pymatgen_cross_check()
    mo = diff[(diff.element == "Mo") & (diff.property == "shear_modulus")]
    assert float(mo.pymatgen.iloc[0]) == pytest.approx(20.0)


def test_atomic_masses_agree_with_pymatgen():
    from pymatgen.core import Element

    from hea_zoo.data.elements import element_property

    masses = element_property("atomic_mass")
    for symbol, mass in zip(ELEMENTS, masses):
        assert mass == float(Element(symbol).atomic_mass), symbol

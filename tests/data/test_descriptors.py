"""Exact composition descriptors (hea_zoo.data.descriptors) and the completed element table."""

import itertools
import json
import math
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

from hea_zoo.constants import ELEMENTS
from hea_zoo.data import descriptors as D
from hea_zoo.data.elements import (
    KNOWN_ELEMENTS,
    MODELLING_NOTES,
    PROPERTY_COLUMNS,
    SOURCES,
    element_property,
    element_sources,
    element_table,
)
from hea_zoo.errors import UsageError


def _equimolar(symbols):
    """Thousandths (exact for 4 and 5 elements); the fraction form agrees to 1e-12."""
    k = np.full((1, len(symbols)), 1000 // len(symbols))
    out = D.DescriptorTable(symbols).compute(k)
    fractions = D.compute_descriptors(k / 1000.0, symbols)
    for name in D.DESCRIPTOR_NAMES:
        np.testing.assert_allclose(fractions[name], out[name], rtol=1e-12, atol=1e-12)
    return out


# --------------------------------------------------------------------------- literature
# Published values. VEC and dHmix follow from the element table and the Takeuchi-Inoue
# pairs exactly; densities are compared with measured values and with the rule-of-mixtures
# densities compiled in the bundled MPEA table (Borg et al., Sci. Data 7, 430 (2020),
# column "Calculated Density", one decimal).


def test_hfnbtatizr():
    d = _equimolar(["Hf", "Nb", "Ta", "Ti", "Zr"])
    assert d["vec"][0] == 4.4
    # Senkov et al., J. Alloys Compd. 509, 6043 (2011): measured 9.94 g/cm3; MPEA: 9.9.
    assert d["density"][0] == pytest.approx(9.94, rel=0.01)
    assert round(float(d["density"][0]), 1) == 9.9
    # dHmix = 4 (4 + 3 + 0 + 0 + 0 + 2 + 4 + 1 + 3 + 0) / 25 = +2.72 kJ/mol.
    assert d["dhmix"][0] == pytest.approx(2.72, abs=1e-12)
    # delta ~ 5 % with the Miracle 2010 radii (matminer's YangSolidSolution gives 0.0486).
    assert d["delta"][0] == pytest.approx(4.86, abs=0.005)
    r = element_property("atomic_radius", ["Hf", "Nb", "Ta", "Ti", "Zr"])  # Takeuchi radii: 4.99 %
    assert 100 * math.sqrt(np.mean((1 - r / r.mean()) ** 2)) == pytest.approx(4.99, abs=0.005)
    assert d["tm"][0] == pytest.approx((2506 + 2750 + 3290 + 1941 + 2128) / 5, rel=1e-15)


def test_monbtaw():
    d = _equimolar(["Mo", "Nb", "Ta", "W"])
    assert d["vec"][0] == 5.5
    # Senkov et al., Intermetallics 18, 1758 (2010); Yang & Zhang 2012: dHmix = -6.5 kJ/mol.
    assert d["dhmix"][0] == pytest.approx(-6.5, abs=1e-12)
    # Measured 13.6 g/cm3 and rule of mixtures 13.7 (MPEA table rows of this alloy).
    assert d["density"][0] == pytest.approx(13.6, rel=0.01)
    # Its published delta, 2.3 % (Yang & Zhang 2012), uses 12-fold metallic radii, the
    # table's `atomic_radius` column; the Miracle radii of `delta` give 2.73 %.
    r = element_property("atomic_radius", ["Mo", "Nb", "Ta", "W"])
    rbar = r.mean()
    assert 100 * math.sqrt(np.mean((1 - r / rbar) ** 2)) == pytest.approx(2.31, abs=0.01)
    assert d["delta"][0] == pytest.approx(2.73, abs=0.005)


def test_nbtativ_and_alcocrfeni():
    d = _equimolar(["Nb", "Ta", "Ti", "V"])
    assert d["vec"][0] == 4.75
    assert d["dhmix"][0] == pytest.approx(-0.25, abs=1e-12)  # 4 (0 + 2 - 1 + 1 - 1 - 2) / 16
    assert round(float(d["density"][0]), 1) == 9.2  # MPEA rule-of-mixtures density
    d = _equimolar(["Al", "Co", "Cr", "Fe", "Ni"])
    assert d["vec"][0] == 7.2  # Guo et al. 2011
    assert d["dhmix"][0] == pytest.approx(-12.32, abs=1e-12)  # Yang & Zhang 2012: -12.32
    assert round(float(d["density"][0]), 1) == 6.7  # MPEA rule-of-mixtures density


# ------------------------------------------------------------------ reference formulas
def _reference(c, elements):
    """Plain-Python, loop-by-loop reading of the definitions in DESCRIPTORS."""
    pairs = D.mixing_enthalpy_pairs()
    m = element_property("atomic_mass", elements)
    rho = element_property("density", elements)
    vec = element_property("valence_electrons", elements)
    r = element_property("miracle_radius", elements)
    tm = element_property("melting_point", elements)
    out = []
    for row in c:
        idx = [i for i, v in enumerate(row) if v > 0]
        dens = sum(row[i] * m[i] for i in idx) / sum(row[i] * m[i] / rho[i] for i in idx)
        rbar = sum(row[i] * r[i] for i in idx)
        delta = 100 * math.sqrt(sum(row[i] * (1 - r[i] / rbar) ** 2 for i in idx))
        dh = sum(
            4 * pairs[tuple(sorted((elements[i], elements[j])))] * row[i] * row[j]
            for i, j in itertools.combinations(idx, 2)
        )
        t = sum(row[i] * tm[i] for i in idx)
        ds = -D.GAS_CONSTANT * sum(row[i] * math.log(row[i]) for i in idx)
        omega = (t * ds / (1000 * abs(dh)) if dh != 0 else math.inf) if ds > 0 else 0.0
        out.append(
            {"density": dens, "vec": sum(row[i] * vec[i] for i in idx), "delta": delta, "dhmix": dh,
             "omega": omega, "tm": t}
        )  # fmt: skip
    return {name: np.array([o[name] for o in out]) for name in D.DESCRIPTOR_NAMES}


def _random_thousandths(rng, n, n_elements, low=1, high=7):
    k = np.zeros((n, n_elements), dtype=np.int64)
    for row in k:
        size = rng.integers(low, high + 1)
        cols = rng.choice(n_elements, size, replace=False)
        cuts = np.sort(rng.choice(np.arange(1, 1000), size - 1, replace=False))
        row[cols] = np.diff(np.concatenate([[0], cuts, [1000]]))
    return k


METALS = [e for e in ELEMENTS if e != "O"]


def test_matches_a_loop_by_loop_reading_of_the_definitions():
    rng = np.random.default_rng(1)
    k = _random_thousandths(rng, 300, len(METALS))
    ref = _reference(k / 1000.0, METALS)
    table = D.DescriptorTable(METALS)
    for got in (table.compute(k), D.compute_descriptors(k / 1000.0, METALS)):
        for name in D.DESCRIPTOR_NAMES:
            np.testing.assert_allclose(got[name], ref[name], rtol=1e-12, atol=1e-12, err_msg=name)


def test_integer_path_is_the_correctly_rounded_exact_mean():
    """vec, tm and dhmix from thousandths are the float nearest the exact rational value."""
    rng = np.random.default_rng(2)
    elements = list(KNOWN_ELEMENTS)
    elements.remove("O")
    k = _random_thousandths(rng, 200, len(elements))
    got = D.DescriptorTable(elements).compute(k, ["vec", "tm", "dhmix"])
    pairs = D.mixing_enthalpy_pairs()
    vec = element_property("valence_electrons", elements)
    tm = element_property("melting_point", elements)
    for row, v, t, h in zip(k, got["vec"], got["tm"], got["dhmix"]):
        c = [Fraction(int(x), 1000) for x in row]
        assert v == float(sum(ci * Fraction(vi) for ci, vi in zip(c, vec)))
        assert t == float(sum(ci * Fraction(str(ti)) for ci, ti in zip(c, tm)))
        exact = sum(
            4 * Fraction(pairs[tuple(sorted((elements[i], elements[j])))]) * c[i] * c[j]
            for i, j in itertools.combinations(range(len(elements)), 2)
            if c[i] and c[j]
        )
        assert h == float(exact)


def test_blocks_do_not_change_results():
    rng = np.random.default_rng(3)
    k = _random_thousandths(rng, 3 * D._BLOCK + 17, len(ELEMENTS))
    table = D.DescriptorTable(ELEMENTS)
    whole = table.compute(k)
    parts = [table.compute(k[i : i + 500]) for i in range(0, len(k), 500)]
    for name in D.DESCRIPTOR_NAMES:
        assert np.array_equal(whole[name], np.concatenate([p[name] for p in parts]), equal_nan=True)


# ---------------------------------------------------------------------- edge cases
def test_missing_values_are_nan_only_where_the_element_is_present():
    elements = ["Nb", "Ta", "O", "Cs"]  # O: no pairs, no condensed density; Cs: untabulated
    table = D.DescriptorTable(elements)
    out = table.compute(np.array([[500, 500, 0, 0], [480, 480, 40, 0], [500, 400, 0, 100]]))
    assert not any(np.isnan(out[name][0]) for name in D.DESCRIPTOR_NAMES)
    for name in ("dhmix", "omega", "density"):
        assert np.isnan(out[name][1]), name
    for name in ("vec", "delta", "tm"):
        assert np.isfinite(out[name][1]), name
    assert all(np.isnan(out[name][2]) for name in D.DESCRIPTOR_NAMES)


def test_omega_limits():
    out = D.compute_descriptors([[0.5, 0.5], [1.0, 0.0]], ["Mo", "W"])  # dH(Mo-W) = 0
    assert out["dhmix"][0] == 0.0 and out["omega"][0] == math.inf
    assert out["omega"][1] == 0.0 and out["delta"][1] == 0.0  # one element: no mixing


def test_input_errors_name_the_field():
    table = D.DescriptorTable(["Nb", "Ta"])
    with pytest.raises(UsageError) as err:
        table.compute(np.array([[500, 499]]))
    assert err.value.field == "k"
    with pytest.raises(UsageError) as err:
        table.compute(np.array([[500, 500, 0]]))
    assert err.value.field == "k"
    with pytest.raises(UsageError) as err:
        table.compute(np.array([[500, 500]]), ["vec", "hardness"])
    assert err.value.field == "names"
    with pytest.raises(UsageError) as err:
        D.compute_descriptors([[0.5, 0.6]], ["Nb", "Ta"])
    assert err.value.field == "fractions"


def test_every_descriptor_is_documented():
    for name, (unit, definition, citation) in D.DESCRIPTORS.items():
        assert unit and definition and citation in D.CITATIONS, name


# ------------------------------------------------------------------------------ JSON
def test_json_round_trip_reproduces_the_results_exactly():
    rng = np.random.default_rng(4)
    for elements in (ELEMENTS, KNOWN_ELEMENTS):
        k = _random_thousandths(rng, 2000, len(elements))
        text = json.dumps(D.descriptor_table_json(elements), allow_nan=False)
        data = json.loads(text)
        assert data["elements"] == list(elements)
        assert data["pairs"][elements.index("O")][elements.index("Nb")] is None
        assert data["sources"]["miracle_radius"][elements.index("W")] == "Miracle2010"
        rebuilt = D.DescriptorTable.from_json(data)
        a, b = D.DescriptorTable(elements).compute(k), rebuilt.compute(k)
        for name in D.DESCRIPTOR_NAMES:
            assert np.array_equal(a[name], b[name], equal_nan=True), name


def test_numpy_only():
    code = (
        "import sys, numpy as np\n"
        "import hea_zoo.data.descriptors as d\n"
        "t = d.DescriptorTable(['Nb', 'Ta', 'W'])\n"
        "t.compute(np.array([[400, 300, 300]]))\n"
        "d.compute_descriptors([[0.5, 0.5]], ['Hf', 'Zr'])\n"
        "bad = [m for m in ('pandas', 'tensorflow', 'pymatgen', 'keras') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -------------------------------------------------------------------- element table
def test_element_table_covers_every_mpea_element():
    import re
    from pathlib import Path

    import pandas as pd

    import hea_zoo.data

    frame = pd.read_csv(Path(hea_zoo.data.__file__).parent / "mpea" / "MPEA_dataset.csv")
    symbols = set()
    for formula in frame["FORMULA"].dropna():
        symbols |= set(re.findall(r"[A-Z][a-z]?", formula))
    assert symbols <= set(KNOWN_ELEMENTS)
    assert KNOWN_ELEMENTS[: len(ELEMENTS)] == ELEMENTS


def test_element_table_defaults_to_the_study_and_every_value_has_a_source():
    assert list(element_table().index) == list(ELEMENTS)
    full = element_table(None)
    assert list(full.index) == list(KNOWN_ELEMENTS)
    assert list(element_table(["Zn", "Pd"]).index) == ["Zn", "Pd"]
    for column in PROPERTY_COLUMNS:
        assert full[f"{column}_source"].isin(list(SOURCES)).all(), column
        # a missing value is a stated modelling choice
        missing = full.index[full[column].isna()]
        assert (full.loc[missing, f"{column}_source"] == "Choice").all(), column
    for column in ("atomic_radius", "miracle_radius", "valence_electrons", "melting_point", "atomic_mass",
                   "density", "electronegativity"):  # fmt: skip
        assert full[column].notna().all(), column
    assert element_sources("miracle_radius", ["Zn"]) == ["Miracle2010"]
    assert {"B,C:elastic", "Ga:elastic", "Li:poisson", "Nd:vec"} <= set(MODELLING_NOTES)
    with pytest.raises(UsageError) as err:
        element_property("density", ["Nb", "Cs"])
    assert err.value.field == "elements"


def test_added_elements_agree_with_pymatgen():
    from hea_zoo.data.elements import _EXTRA_ELEMENTS, pymatgen_cross_check

    diff = pymatgen_cross_check(elements=_EXTRA_ELEMENTS)
    # only the moduli left NaN on purpose differ (pymatgen lists B and C bulk moduli)
    assert set(zip(diff.element, diff.property)) == {("B", "bulk_modulus"), ("C", "bulk_modulus")}


# --------------------------------------------------------------------------- matminer
def test_agrees_with_matminer_when_installed():
    pytest.importorskip("matminer.featurizers.composition")
    from matminer.featurizers.composition import YangSolidSolution
    from matminer.utils.data import MixingEnthalpy
    from pymatgen.core import Composition, Element

    mixing = MixingEnthalpy()
    ours = D.mixing_enthalpy_pairs()
    for (a, b), value in ours.items():
        assert mixing.get_mixing_enthalpy(Element(a), Element(b)) == value, (a, b)
    for a, b in itertools.combinations([e for e in KNOWN_ELEMENTS if e != "O"], 2):
        assert tuple(sorted((a, b))) in ours
    from matminer.utils.data import MagpieData

    radii = MagpieData().get_elemental_properties([Element(e) for e in KNOWN_ELEMENTS], "MiracleRadius")
    np.testing.assert_allclose(element_property("miracle_radius", KNOWN_ELEMENTS), np.array(radii) / 100, rtol=1e-12)
    yang = YangSolidSolution()
    for formula in ("HfNbTaTiZr", "MoNbTaW", "NbTaTiV", "AlCoCrFeNi", "Al0.3CoCrFeNi", "MgZnCaSn"):
        comp = Composition(formula)
        symbols = [el.symbol for el in comp.elements]
        fractions = np.array([[comp.get_atomic_fraction(el) for el in comp.elements]])
        d = D.compute_descriptors(fractions, symbols)
        assert d["delta"][0] == pytest.approx(100 * yang.compute_delta(comp), rel=1e-9), formula

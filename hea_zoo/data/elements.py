"""The study's 22 elements and their tabulated properties, each value with its source.

The element order is the one used by Tung, Debnath & Reinhart ("Evaluating generative
models for inverse design of high-entropy refractory alloys") for their composition
vectors, and by every bundled model and export of hea_zoo.

The table also covers every other element of the bundled MPEA table (`KNOWN_ELEMENTS`:
the 22, then Ag, B, C, Ca, Ga, Li, Mg, Nd, Pd, Sc, Sn, Zn), so that descriptors and the
surrogate's element inputs exist for measured tables too. `element_table()` still returns
the study's 22 by default; pass ``elements=None`` (every known element) or a list.

Values are room-temperature, polycrystalline (isotropic) handbook values. Where a
handbook gives no meaningful value (the elastic moduli of oxygen, a gas), the entry is
NaN and the modelling choice is stated in `MODELLING_NOTES` and `docs/DATASET.md`.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

__all__ = [
    "ELEMENTS",
    "KNOWN_ELEMENTS",
    "PROPERTY_COLUMNS",
    "SOURCES",
    "MODELLING_NOTES",
    "element_table",
    "element_property",
    "element_sources",
    "pymatgen_cross_check",
]

from hea_zoo.constants import ELEMENTS  # noqa: E402  (the one definition)
from hea_zoo.errors import UsageError  # noqa: E402

#: Elements tabulated beyond the study's 22: the rest of the bundled MPEA table's elements.
_EXTRA_ELEMENTS: tuple[str, ...] = ("Ag", "B", "C", "Ca", "Ga", "Li", "Mg", "Nd", "Pd", "Sc", "Sn", "Zn")

#: Every element the table covers: the study's 22 in its order, then the others alphabetically.
KNOWN_ELEMENTS: tuple[str, ...] = ELEMENTS + _EXTRA_ELEMENTS

#: Column name -> unit.
PROPERTY_COLUMNS: dict[str, str] = {
    "shear_modulus": "GPa",
    "youngs_modulus": "GPa",
    "bulk_modulus": "GPa",
    "poissons_ratio": "1",
    "atomic_radius": "angstrom",
    "melting_point": "K",
    "valence_electrons": "1",
    "electronegativity": "Pauling",
    "atomic_mass": "u",
    "density": "g/cm^3",
    "miracle_radius": "angstrom",
}

#: Short keys used in the table -> full citations.
SOURCES: dict[str, str] = {
    "CRC": "W. M. Haynes (ed.), CRC Handbook of Chemistry and Physics, 97th ed., CRC Press "
    "(2016): 'Elastic constants of polycrystalline metals', 'Melting, boiling, triple and "
    "critical points of the elements', 'Density of the elements', 'Electronegativity'.",
    "WebElements": "M. Winter, WebElements periodic table (physical properties pages), "
    "compiled from the handbook literature; the values pymatgen also carries.",
    "Hopcroft2010": "M. A. Hopcroft, W. D. Nix, T. W. Kenny, 'What is the Young's modulus of "
    "silicon?', J. Microelectromech. Syst. 19, 229-238 (2010), doi:10.1109/JMEMS.2009.2039697 "
    "(isotropic polycrystalline Si: E = 160-169 GPa, nu = 0.22).",
    "Isotropic": "Derived from the other two tabulated isotropic constants: G = E / (2(1 + nu)), "
    "B = E / (3(1 - 2 nu)).",
    "Takeuchi2005": "A. Takeuchi, A. Inoue, 'Classification of bulk metallic glasses by atomic "
    "size difference, heat of mixing and period of constituent elements', Mater. Trans. 46, "
    "2817-2829 (2005), doi:10.2320/matertrans.46.2817 (metallic radii, 12-fold coordination).",
    "Cordero2008": "B. Cordero et al., 'Covalent radii revisited', Dalton Trans. 2832-2838 "
    "(2008), doi:10.1039/B801115J (covalent radius of O, used for interstitial oxygen).",
    "Guo2011": "S. Guo, C. Ng, J. Lu, C. T. Liu, 'Effect of valence electron concentration on "
    "stability of fcc or bcc phase in high entropy alloys', J. Appl. Phys. 109, 103505 (2011), "
    "doi:10.1063/1.3587228 (VEC = number of s + d electrons; p-block: s + p).",
    "IUPAC2021": "IUPAC Commission on Isotopic Abundances and Atomic Weights, standard atomic "
    "weights (abridged), as carried by pymatgen's periodic table.",
    "Miracle2010": "D. B. Miracle, D. V. Louzguine-Luzgin, L. V. Louzguina-Luzgina, A. Inoue, 'An "
    "assessment of binary metallic glasses: correlations between structure, glass forming "
    "ability and stability', Int. Mater. Rev. 55, 218-256 (2010), "
    "doi:10.1179/095066010X12646898728200 (atomic radii assessed in metallic glasses; the "
    "values matminer's MagpieData 'MiracleRadius' and YangSolidSolution use, copied from "
    "matminer 0.10.1, BSD licence).",
    "TakeuchiTable": "Metallic radii (12-fold coordination) of the Takeuchi & Inoue 2005 table as "
    "transcribed in HEA parameter tables (they reproduce this table's 22 Takeuchi2005 values "
    "to 0.001 angstrom); see MODELLING_NOTES['radius:added'].",
    "Choice": "Modelling choice, see MODELLING_NOTES.",
}

MODELLING_NOTES: dict[str, str] = {
    "O:elastic": "Oxygen has no meaningful elastic moduli (a gas at room temperature); in RHEAs "
    "it is an interstitial addition of a few at.%. Its moduli are NaN: the physics oracle mixes "
    "the moduli over the metallic elements only (oxygen excluded, fractions renormalized) and "
    "models oxygen's effect on toughness by an embrittlement factor instead.",
    "O:radius": "Covalent radius (Cordero 2008) in place of a metallic radius.",
    "O:density": "Density of the gas at 273 K, 101.325 kPa (CRC); not used by the oracle.",
    "Mn:shear": "Handbooks give E and nu for polycrystalline alpha-Mn; G derived as E/(2(1+nu)).",
    "Si:elastic": "Si is a covalent semiconductor; isotropic polycrystalline values from "
    "Hopcroft 2010 (E = 162, nu = 0.22), G and B derived.",
    "Zr:bulk": "B derived from E and nu (isotropic relation).",
    "B,C:elastic": "Boron and carbon are covalent solids (in alloys: borides, carbides, "
    "interstitials); they have no polycrystalline metal moduli. Their moduli are NaN.",
    "Ga:elastic": "Gallium melts at 303 K; handbooks give no polycrystalline moduli. NaN.",
    "Li:poisson": "The handbook E (4.9 GPa) and G (4.2 GPa) of Li are not isotropically "
    "consistent (E/(2G) - 1 < 0); nu is left NaN rather than derived.",
    "C:melting": "Carbon sublimes at atmospheric pressure; 3800 K is the value pymatgen/WebElements "
    "carry (graphite), kept as a rank-order value for mean melting points.",
    "C:density": "Graphite.",
    "Sn:density": "White (beta) tin, the room-temperature metal.",
    "Nd:vec": "Lanthanides count 3 valence electrons (the trivalent metal), the convention of "
    "HEA VEC tables; Nd's 4f electrons are not counted.",
    "radius:added": "Radii of the 12 elements added for the MPEA table: Takeuchi & Inoue 2005's "
    "12-fold metallic radii as transcribed in HEA parameter tables (source key TakeuchiTable), "
    "except Nd, whose transcribed value (1.64) disagrees with every CN12 radius of Nd "
    "(1.81-1.82): Nd uses pymatgen/WebElements' metallic radius. Not yet checked against the "
    "paper's own table.",
}

# element: (G, G_src, E, E_src, B, B_src, nu, nu_src)
_ELASTIC: dict[str, tuple] = {
    "Al": (26.0, "CRC", 70.0, "CRC", 76.0, "CRC", 0.35, "CRC"),
    "Be": (132.0, "CRC", 287.0, "CRC", 130.0, "CRC", 0.032, "CRC"),
    "Co": (75.0, "CRC", 209.0, "CRC", 180.0, "CRC", 0.31, "CRC"),
    "Cr": (115.0, "CRC", 279.0, "CRC", 160.0, "CRC", 0.21, "CRC"),
    "Cu": (48.0, "CRC", 130.0, "CRC", 140.0, "CRC", 0.34, "CRC"),
    "Fe": (82.0, "CRC", 211.0, "CRC", 170.0, "CRC", 0.29, "CRC"),
    "Hf": (30.0, "CRC", 78.0, "CRC", 110.0, "CRC", 0.37, "CRC"),
    "Ir": (210.0, "CRC", 528.0, "CRC", 320.0, "CRC", 0.26, "CRC"),
    "Mn": (79.8, "Isotropic", 198.0, "WebElements", 120.0, "WebElements", 0.24, "CRC"),
    "Mo": (126.0, "CRC", 329.0, "CRC", 230.0, "CRC", 0.31, "CRC"),
    "Nb": (38.0, "CRC", 105.0, "CRC", 170.0, "CRC", 0.40, "CRC"),
    "Ni": (76.0, "CRC", 200.0, "CRC", 180.0, "CRC", 0.31, "CRC"),
    "O": (math.nan, "Choice", math.nan, "Choice", math.nan, "Choice", math.nan, "Choice"),
    "Re": (178.0, "CRC", 463.0, "CRC", 370.0, "CRC", 0.30, "CRC"),
    "Ru": (173.0, "CRC", 447.0, "CRC", 220.0, "CRC", 0.30, "CRC"),
    "Si": (66.4, "Isotropic", 162.0, "Hopcroft2010", 96.4, "Isotropic", 0.22, "Hopcroft2010"),
    "Ta": (69.0, "CRC", 186.0, "CRC", 200.0, "CRC", 0.34, "CRC"),
    "Ti": (44.0, "CRC", 116.0, "CRC", 110.0, "CRC", 0.32, "CRC"),
    "V": (47.0, "CRC", 128.0, "CRC", 160.0, "CRC", 0.37, "CRC"),
    "W": (161.0, "CRC", 411.0, "CRC", 310.0, "CRC", 0.28, "CRC"),
    "Y": (26.0, "CRC", 64.0, "CRC", 41.0, "CRC", 0.24, "CRC"),
    "Zr": (33.0, "CRC", 88.0, "CRC", 91.7, "Isotropic", 0.34, "CRC"),
    # Elements of the MPEA table beyond the study's 22 (handbook values as WebElements
    # compiles them, the values pymatgen carries; a test cross-checks them).
    "Ag": (30.0, "WebElements", 83.0, "WebElements", 100.0, "WebElements", 0.37, "WebElements"),
    "B": (math.nan, "Choice", math.nan, "Choice", math.nan, "Choice", math.nan, "Choice"),
    "C": (math.nan, "Choice", math.nan, "Choice", math.nan, "Choice", math.nan, "Choice"),
    "Ca": (7.4, "WebElements", 20.0, "WebElements", 17.0, "WebElements", 0.31, "WebElements"),
    "Ga": (math.nan, "Choice", math.nan, "Choice", math.nan, "Choice", math.nan, "Choice"),
    "Li": (4.2, "WebElements", 4.9, "WebElements", 11.0, "WebElements", math.nan, "Choice"),
    "Mg": (17.0, "WebElements", 45.0, "WebElements", 45.0, "WebElements", 0.29, "WebElements"),
    "Nd": (16.0, "WebElements", 41.0, "WebElements", 32.0, "WebElements", 0.28, "WebElements"),
    "Pd": (44.0, "WebElements", 121.0, "WebElements", 180.0, "WebElements", 0.39, "WebElements"),
    "Sc": (29.0, "WebElements", 74.0, "WebElements", 57.0, "WebElements", 0.28, "WebElements"),
    "Sn": (18.0, "WebElements", 50.0, "WebElements", 58.0, "WebElements", 0.36, "WebElements"),
    "Zn": (43.0, "WebElements", 108.0, "WebElements", 70.0, "WebElements", 0.25, "WebElements"),
}

# element: (radius, src, T_melt K, src, VEC, src, chi_Pauling, src, density, src)
_OTHER: dict[str, tuple] = {
    "Al": (1.432, "Takeuchi2005", 933.47, "CRC", 3, "Guo2011", 1.61, "CRC", 2.70, "CRC"),
    "Be": (1.128, "Takeuchi2005", 1560.0, "CRC", 2, "Guo2011", 1.57, "CRC", 1.85, "CRC"),
    "Co": (1.251, "Takeuchi2005", 1768.0, "CRC", 9, "Guo2011", 1.88, "CRC", 8.86, "CRC"),
    "Cr": (1.249, "Takeuchi2005", 2180.0, "CRC", 6, "Guo2011", 1.66, "CRC", 7.15, "CRC"),
    "Cu": (1.278, "Takeuchi2005", 1357.77, "CRC", 11, "Guo2011", 1.90, "CRC", 8.96, "CRC"),
    "Fe": (1.241, "Takeuchi2005", 1811.0, "CRC", 8, "Guo2011", 1.83, "CRC", 7.87, "CRC"),
    "Hf": (1.578, "Takeuchi2005", 2506.0, "CRC", 4, "Guo2011", 1.30, "CRC", 13.31, "CRC"),
    "Ir": (1.357, "Takeuchi2005", 2719.0, "CRC", 9, "Guo2011", 2.20, "CRC", 22.56, "CRC"),
    "Mn": (1.350, "Takeuchi2005", 1519.0, "CRC", 7, "Guo2011", 1.55, "CRC", 7.21, "CRC"),
    "Mo": (1.363, "Takeuchi2005", 2896.0, "CRC", 6, "Guo2011", 2.16, "CRC", 10.28, "CRC"),
    "Nb": (1.429, "Takeuchi2005", 2750.0, "CRC", 5, "Guo2011", 1.60, "CRC", 8.57, "CRC"),
    "Ni": (1.246, "Takeuchi2005", 1728.0, "CRC", 10, "Guo2011", 1.91, "CRC", 8.90, "CRC"),
    "O": (0.66, "Cordero2008", 54.36, "CRC", 6, "Guo2011", 3.44, "CRC", 0.001429, "CRC"),
    "Re": (1.375, "Takeuchi2005", 3459.0, "CRC", 7, "Guo2011", 1.90, "CRC", 21.02, "CRC"),
    "Ru": (1.339, "Takeuchi2005", 2607.0, "CRC", 8, "Guo2011", 2.20, "CRC", 12.45, "CRC"),
    "Si": (1.153, "Takeuchi2005", 1687.0, "CRC", 4, "Guo2011", 1.90, "CRC", 2.33, "CRC"),
    "Ta": (1.430, "Takeuchi2005", 3290.0, "CRC", 5, "Guo2011", 1.50, "CRC", 16.65, "CRC"),
    "Ti": (1.462, "Takeuchi2005", 1941.0, "CRC", 4, "Guo2011", 1.54, "CRC", 4.51, "CRC"),
    "V": (1.316, "Takeuchi2005", 2183.0, "CRC", 5, "Guo2011", 1.63, "CRC", 6.11, "CRC"),
    "W": (1.367, "Takeuchi2005", 3695.0, "CRC", 6, "Guo2011", 2.36, "CRC", 19.25, "CRC"),
    "Y": (1.801, "Takeuchi2005", 1799.0, "CRC", 3, "Guo2011", 1.22, "CRC", 4.47, "CRC"),
    "Zr": (1.603, "Takeuchi2005", 2128.0, "CRC", 4, "Guo2011", 1.33, "CRC", 6.51, "CRC"),
    "Ag": (1.445, "TakeuchiTable", 1234.93, "WebElements", 11, "Guo2011", 1.93, "WebElements", 10.49, "WebElements"),
    "B": (0.820, "TakeuchiTable", 2349.0, "WebElements", 3, "Guo2011", 2.04, "WebElements", 2.46, "WebElements"),
    "C": (0.773, "TakeuchiTable", 3800.0, "WebElements", 4, "Guo2011", 2.55, "WebElements", 2.267, "WebElements"),
    "Ca": (1.976, "TakeuchiTable", 1115.0, "WebElements", 2, "Guo2011", 1.00, "WebElements", 1.55, "WebElements"),
    "Ga": (1.392, "TakeuchiTable", 302.91, "WebElements", 3, "Guo2011", 1.81, "WebElements", 5.904, "WebElements"),
    "Li": (1.519, "TakeuchiTable", 453.69, "WebElements", 1, "Guo2011", 0.98, "WebElements", 0.535, "WebElements"),
    "Mg": (1.601, "TakeuchiTable", 923.0, "WebElements", 2, "Guo2011", 1.31, "WebElements", 1.738, "WebElements"),
    "Nd": (1.814, "WebElements", 1297.0, "WebElements", 3, "Choice", 1.14, "WebElements", 6.80, "WebElements"),
    "Pd": (1.375, "TakeuchiTable", 1828.05, "WebElements", 10, "Guo2011", 2.20, "WebElements", 12.023, "WebElements"),
    "Sc": (1.641, "TakeuchiTable", 1814.0, "WebElements", 3, "Guo2011", 1.36, "WebElements", 2.985, "WebElements"),
    "Sn": (1.620, "TakeuchiTable", 505.08, "WebElements", 4, "Guo2011", 1.96, "WebElements", 7.31, "WebElements"),
    "Zn": (1.395, "TakeuchiTable", 692.68, "WebElements", 12, "Guo2011", 1.65, "WebElements", 7.14, "WebElements"),
}  # fmt: skip

# Miracle et al. 2010 radii (angstrom; matminer's MiracleRadius table, pm / 100), the radii of
# matminer's YangSolidSolution delta and of hea_zoo.data.descriptors' `delta`.
_MIRACLE_RADIUS: dict[str, float] = {
    "Al": 1.41, "Be": 1.12, "Co": 1.25, "Cr": 1.30, "Cu": 1.26, "Fe": 1.25, "Hf": 1.58,
    "Ir": 1.36, "Mn": 1.32, "Mo": 1.39, "Nb": 1.43, "Ni": 1.26, "O": 0.64, "Re": 1.37,
    "Ru": 1.34, "Si": 1.10, "Ta": 1.45, "Ti": 1.42, "V": 1.34, "W": 1.35, "Y": 1.79,
    "Zr": 1.58, "Ag": 1.44, "B": 0.88, "C": 0.77, "Ca": 2.01, "Ga": 1.34, "Li": 1.52,
    "Mg": 1.60, "Nd": 1.82, "Pd": 1.42, "Sc": 1.62, "Sn": 1.55, "Zn": 1.40,
}  # fmt: skip



# Standard atomic weights as pymatgen's periodic table carries them (a test checks they
# still agree), kept here so the oracle needs neither pymatgen nor pandas at run time.
_ATOMIC_MASS: dict[str, float] = {
    "Al": 26.9815386, "Be": 9.012182, "Co": 58.933195, "Cr": 51.9961, "Cu": 63.546,
    "Fe": 55.845, "Hf": 178.49, "Ir": 192.217, "Mn": 54.938045, "Mo": 95.94, "Nb": 92.90638,
    "Ni": 58.6934, "O": 15.9994, "Re": 186.207, "Ru": 101.07, "Si": 28.0855, "Ta": 180.94788,
    "Ti": 47.867, "V": 50.9415, "W": 183.84, "Y": 88.90585, "Zr": 91.224,
    "Ag": 107.8682, "B": 10.811, "C": 12.0107, "Ca": 40.078, "Ga": 69.723, "Li": 6.941,
    "Mg": 24.305, "Nd": 144.242, "Pd": 106.42, "Sc": 44.955912, "Sn": 118.71, "Zn": 65.409,
}  # fmt: skip


def _row(symbol: str) -> dict:
    g, gs, e, es, b, bs, nu, nus = _ELASTIC[symbol]
    r, rs, tm, tms, vec, vecs, chi, chis, rho, rhos = _OTHER[symbol]
    return {
        "element": symbol,
        "shear_modulus": g, "shear_modulus_source": gs,
        "youngs_modulus": e, "youngs_modulus_source": es,
        "bulk_modulus": b, "bulk_modulus_source": bs,
        "poissons_ratio": nu, "poissons_ratio_source": nus,
        "atomic_radius": r, "atomic_radius_source": rs,
        "melting_point": tm, "melting_point_source": tms,
        "valence_electrons": float(vec), "valence_electrons_source": vecs,
        "electronegativity": chi, "electronegativity_source": chis,
        "atomic_mass": _ATOMIC_MASS[symbol], "atomic_mass_source": "IUPAC2021",
        "density": rho, "density_source": rhos,
        "miracle_radius": _MIRACLE_RADIUS[symbol], "miracle_radius_source": "Miracle2010",
    }  # fmt: skip


def _check_elements(elements, field: str = "elements") -> tuple[str, ...]:
    from hea_zoo.errors import UsageError

    if isinstance(elements, str):
        raise UsageError(f"expected a sequence of element symbols, received the string {elements!r}", field=field)
    elements = tuple(elements)
    unknown = [e for e in elements if e not in _ELASTIC]
    if unknown:
        raise UsageError(
            f"No tabulated data for element(s) {unknown}; the table covers {', '.join(KNOWN_ELEMENTS)}.",
            field=field,
        )
    return elements


_TABLE = None


def element_table(elements: tuple[str, ...] | list[str] | None = ELEMENTS):
    """The tabulated properties of elements, one row each.

    Args:
        elements: element symbols, in the order wanted (default: the study's 22 in its
            order); ``None``: every element of `KNOWN_ELEMENTS`.

    Returns:
        A DataFrame indexed by element symbol with one numeric column per entry of
        `PROPERTY_COLUMNS` and a `<column>_source` column naming its source (a key of
        `SOURCES`). A copy: changing it does not change the oracle.

    Raises:
        UsageError: an element the table does not cover (field ``elements``).

    Example:
        >>> float(element_table().loc["W", "shear_modulus"])
        161.0
        >>> float(element_table(["Pd", "Zn"]).loc["Zn", "valence_electrons"])
        12.0
    """
    import pandas as pd

    global _TABLE
    elements = KNOWN_ELEMENTS if elements is None else _check_elements(elements)
    if _TABLE is None:
        _TABLE = pd.DataFrame([_row(symbol) for symbol in KNOWN_ELEMENTS]).set_index("element")
    return _TABLE.loc[list(elements)].copy()


def element_property(name: str, elements: tuple[str, ...] | list[str] = ELEMENTS) -> np.ndarray:
    """One tabulated property as a float64 vector over `elements`.

    Args:
        name: a key of `PROPERTY_COLUMNS`, e.g. "shear_modulus".
        elements: element symbols; each must be one of `KNOWN_ELEMENTS`.

    Returns:
        Array of shape (len(elements),); NaN where the table has no value (see
        `MODELLING_NOTES`).

    Raises:
        UsageError: an unknown property (field ``name``) or element (field ``elements``).
    """
    from hea_zoo.errors import UsageError

    if name not in PROPERTY_COLUMNS:
        raise UsageError(
            f"Unknown element property {name!r}. Valid names: {', '.join(PROPERTY_COLUMNS)}.", field="name"
        )
    elements = _check_elements(elements)
    return np.array([_row(e)[name] for e in elements], dtype=np.float64)


def element_sources(name: str, elements: tuple[str, ...] | list[str] = ELEMENTS) -> list[str]:
    """The source keys (of `SOURCES`) of one tabulated property over `elements`.

    Args:
        name: a key of `PROPERTY_COLUMNS`.
        elements: element symbols; each must be one of `KNOWN_ELEMENTS`.
    """
    element_property(name, elements)  # validates
    return [_row(e)[f"{name}_source"] for e in elements]


_PYMATGEN_ATTRIBUTES = {
    "shear_modulus": "rigidity_modulus",
    "youngs_modulus": "youngs_modulus",
    "bulk_modulus": "bulk_modulus",
    "poissons_ratio": "poissons_ratio",
    "melting_point": "melting_point",
    "electronegativity": "X",
    "atomic_mass": "atomic_mass",
}


def pymatgen_cross_check(rtol: float = 0.10, elements: tuple[str, ...] | list[str] | None = ELEMENTS):
    """Compare the table with pymatgen's element data and list the disagreements.

    Args:
        rtol: relative difference above which a value is listed.
        elements: the elements compared (default the study's 22; ``None``: every known element).

    Returns:
        DataFrame with columns element, property, table, pymatgen, relative_difference
        (pymatgen missing values are listed with NaN).
    """
    import pandas as pd
    from pymatgen.core import Element

    table = element_table(elements)
    rows = []
    for symbol in table.index:
        el = Element(symbol)
        for column, attribute in _PYMATGEN_ATTRIBUTES.items():
            ours = float(table.loc[symbol, column])
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # pymatgen warns for each missing value
                    theirs = getattr(el, attribute)
                theirs = float(theirs) if theirs is not None else math.nan
            except (TypeError, ValueError, AttributeError):
                theirs = math.nan
            if math.isnan(ours) and math.isnan(theirs):
                continue
            diff = abs(ours - theirs) / abs(ours) if ours and not math.isnan(ours) else math.nan
            if math.isnan(theirs) or math.isnan(ours) or diff > rtol:
                rows.append(
                    {
                        "element": symbol,
                        "property": column,
                        "table": ours,
                        "pymatgen": theirs,
                        "relative_difference": diff,
                    }
                )
    return pd.DataFrame(
        rows, columns=["element", "property", "table", "pymatgen", "relative_difference"]
    )

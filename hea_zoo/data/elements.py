"""The study's 22 elements and their tabulated properties, each value with its source.

The element order is the one used by Tung, Debnath & Reinhart ("Evaluating generative
models for inverse design of high-entropy refractory alloys") for their composition
vectors, and by every bundled model and export of hea_zoo.

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
    "PROPERTY_COLUMNS",
    "SOURCES",
    "MODELLING_NOTES",
    "element_table",
    "element_property",
    "pymatgen_cross_check",
]

from hea_zoo.constants import ELEMENTS  # noqa: E402  (the one definition)
from hea_zoo.errors import UsageError  # noqa: E402

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
}


# Standard atomic weights as pymatgen's periodic table carries them (a test checks they
# still agree), kept here so the oracle needs neither pymatgen nor pandas at run time.
_ATOMIC_MASS: dict[str, float] = {
    "Al": 26.9815386, "Be": 9.012182, "Co": 58.933195, "Cr": 51.9961, "Cu": 63.546,
    "Fe": 55.845, "Hf": 178.49, "Ir": 192.217, "Mn": 54.938045, "Mo": 95.94, "Nb": 92.90638,
    "Ni": 58.6934, "O": 15.9994, "Re": 186.207, "Ru": 101.07, "Si": 28.0855, "Ta": 180.94788,
    "Ti": 47.867, "V": 50.9415, "W": 183.84, "Y": 88.90585, "Zr": 91.224,
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
    }  # fmt: skip


def _build_table():
    import pandas as pd

    return pd.DataFrame([_row(symbol) for symbol in ELEMENTS]).set_index("element")


_TABLE = None


def element_table():
    """The tabulated properties of the 22 elements, one row each, in the study's order.

    Returns:
        A DataFrame indexed by element symbol with one numeric column per entry of
        `PROPERTY_COLUMNS` and a `<column>_source` column naming its source (a key of
        `SOURCES`). A copy: changing it does not change the oracle.

    Example:
        >>> element_table().loc["W", "shear_modulus"]
        161.0
    """
    global _TABLE
    if _TABLE is None:
        _TABLE = _build_table()
    return _TABLE.copy()


def element_property(name: str, elements: tuple[str, ...] | list[str] = ELEMENTS) -> np.ndarray:
    """One tabulated property as a float64 vector over `elements`.

    Args:
        name: a key of `PROPERTY_COLUMNS`, e.g. "shear_modulus".
        elements: element symbols; each must be one of `ELEMENTS`.

    Returns:
        Array of shape (len(elements),).
    """
    if name not in PROPERTY_COLUMNS:
        raise UsageError(
            f"Unknown element property {name!r}. Valid names: {', '.join(PROPERTY_COLUMNS)}.", field="name"
        )
    unknown = [e for e in elements if e not in _ELASTIC]
    if unknown:
        raise UsageError(
            f"No tabulated data for element(s) {unknown}; the table covers {', '.join(ELEMENTS)}.",
            field="elements",
        )
    return np.array([_row(e)[name] for e in elements], dtype=np.float64)


_PYMATGEN_ATTRIBUTES = {
    "shear_modulus": "rigidity_modulus",
    "youngs_modulus": "youngs_modulus",
    "bulk_modulus": "bulk_modulus",
    "poissons_ratio": "poissons_ratio",
    "melting_point": "melting_point",
    "electronegativity": "X",
    "atomic_mass": "atomic_mass",
}


def pymatgen_cross_check(rtol: float = 0.10):
    """Compare the table with pymatgen's element data and list the disagreements.

    Args:
        rtol: relative difference above which a value is listed.

    Returns:
        DataFrame with columns element, property, table, pymatgen, relative_difference
        (pymatgen missing values are listed with NaN).
    """
    import pandas as pd
    from pymatgen.core import Element

    table = element_table()
    rows = []
    for symbol in ELEMENTS:
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

r"""The physics oracle that labels the bundled dataset: shear modulus and fracture toughness.

Both properties are closed-form functions of the composition and the tabulated element
data (`hea_zoo.data.elements`), vectorized over rows. Because the oracle is known, generated
designs can be judged against ground truth, not only against a learned surrogate. It is a
documented *model*, not a measurement: see `docs/DATASET.md` for equations, assumptions,
ranges and the correlation of the two properties on the dataset.

Shear modulus (GPa), the Hill average of the Voigt and Reuss bounds over the metallic
elements, weighted by volume fraction:

.. math::

    \phi_i = \frac{x_i \Omega_i}{\sum_j x_j \Omega_j},\quad
    G_V = \sum_i \phi_i G_i,\quad G_R = \Big(\sum_i \phi_i / G_i\Big)^{-1},\quad
    G = \tfrac12 (G_V + G_R)

with :math:`\Omega_i = M_i / \rho_i` the atomic volume (oxygen excluded, fractions
renormalized over the metals). The bulk modulus :math:`B` is mixed the same way; Young's
modulus and Poisson's ratio follow from the isotropic relations
:math:`E = 9BG/(3B + G)`, :math:`\nu = (3B - 2G) / (2(3B + G))`.

Fracture toughness (MPa·m^1/2), a Griffith–Irwin energy balance scaled by plastic work:

.. math::

    K_{IC} = \sqrt{\frac{E}{1 - \nu^2}\, 2(\gamma_s + \gamma_p)}\; e^{-\beta x_O},\qquad
    \gamma_p = \alpha\, D\, \gamma_s

- surface energy :math:`\gamma_s = c_\gamma k_B \bar T_m / \bar\Omega^{2/3}` (the cohesive
  energy scales with the melting point; :math:`c_\gamma = 4` puts W at 3.2 J/m^2,
  close to its measured ~3.3 J/m^2);
- ductility indicator
  :math:`D = \sigma((B/G - 1.75)/0.25)\,\sigma((4.6 - \mathrm{VEC})/0.3)\,\sigma((0.066 - \delta)/0.01)`,
  the product of Pugh's criterion (ductile above B/G = 1.75), the valence-electron
  criterion for refractory HEAs (ductile below VEC ≈ 4.5–4.6, Sheikh et al., J. Appl.
  Phys. 120, 164902 (2016)) and the solid-solution criterion on the atomic-size mismatch
  :math:`\delta = \sqrt{\sum_i x_i (1 - r_i/\bar r)^2}` over the metals (single-phase solid
  solutions for δ ≤ 6.6 %, Guo & Liu, Prog. Nat. Sci. 21, 433 (2011); beyond it
  intermetallics embrittle); :math:`\sigma` is the logistic function;
- :math:`\alpha = 10^4`: in a fully ductile alloy the plastic work dissipated at the crack
  tip outweighs the surface energy by about four orders of magnitude (the Orowan–Irwin
  picture of ductile metals); 
- :math:`e^{-\beta x_O}` with :math:`\beta = 15`: interstitial oxygen embrittles
  (a 5 at.% addition roughly halves the toughness).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hea_zoo.data.elements import ELEMENTS, element_property
from hea_zoo.errors import DataError, UsageError

__all__ = [
    "PROPERTY_NAMES",
    "PROPERTY_UNITS",
    "CONSTANTS",
    "shear_modulus",
    "fracture_toughness",
    "properties",
    "descriptors",
    "judgeable",
]

from hea_zoo.constants import PROPERTY_NAMES, PROPERTY_UNITS  # noqa: E402  (the one definition)

#: The oracle's fixed parameters (see module docstring).
CONSTANTS: dict[str, float] = {
    "c_gamma": 4.0,
    "pugh_threshold": 1.75,
    "pugh_width": 0.25,
    "vec_threshold": 4.6,
    "vec_width": 0.3,
    "delta_threshold": 0.066,
    "delta_width": 0.01,
    "alpha_plastic": 1.0e4,
    "beta_oxygen": 15.0,
}

_K_B_EV = 8.617333262e-5  # eV/K
_EV_PER_A2_TO_J_PER_M2 = 16.02176634
_AVOGADRO = 6.02214076e23


def _arrays(elements: Sequence[str]) -> dict[str, np.ndarray]:
    unknown = [e for e in elements if e not in ELEMENTS]
    if unknown:
        raise UsageError(
            f"The oracle is defined for the study's 22 elements only; received {unknown}. "
            f"Valid elements: {', '.join(ELEMENTS)}.",
            field="elements",
        )
    volume = element_property("atomic_mass", elements) / element_property("density", elements)
    volume_a3 = volume / _AVOGADRO * 1e24  # cm^3 -> A^3
    metal = np.array([e != "O" for e in elements])
    return {
        "G": element_property("shear_modulus", elements),
        "B": element_property("bulk_modulus", elements),
        "Tm": element_property("melting_point", elements),
        "VEC": element_property("valence_electrons", elements),
        "omega": volume_a3,
        "radius": element_property("atomic_radius", elements),
        "metal": metal,
        "is_O": ~metal,
    }


def _check(compositions: np.ndarray, elements: Sequence[str]) -> np.ndarray:
    x = np.asarray(compositions, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.shape[-1] != len(elements):
        raise DataError(
            f"Expected compositions with {len(elements)} columns ({', '.join(elements)}). "
            f"Received shape {x.shape}.",
            field="compositions",
        )
    if not np.all(np.isfinite(x)) or np.any(x < 0):
        raise DataError("Compositions must be finite and nonnegative.", field="compositions")
    return x


def _hill(phi: np.ndarray, moduli: np.ndarray) -> np.ndarray:
    voigt = phi @ moduli
    reuss = 1.0 / (phi @ (1.0 / moduli))
    return 0.5 * (voigt + reuss)


def descriptors(
    compositions: np.ndarray, elements: Sequence[str] = ELEMENTS
) -> dict[str, np.ndarray]:
    """The oracle's intermediate quantities for each row.

    Returns:
        Dict of (N,) arrays: G, B, E, nu (moduli in GPa), pugh (B/G), vec, delta (size mismatch), gamma_s (J/m^2),
        ductility (D in [0, 1]), oxygen (x_O), K (MPa·m^1/2).
    """
    x = _check(compositions, elements)
    a = _arrays(elements)
    c = CONSTANTS
    xm = x[:, a["metal"]]
    metal_total = xm.sum(axis=1, keepdims=True)
    if np.any(metal_total <= 0):
        raise DataError("Every composition needs at least one metallic element.", field="compositions")
    xm = xm / metal_total
    vol = xm * a["omega"][a["metal"]]
    phi = vol / vol.sum(axis=1, keepdims=True)
    g = _hill(phi, a["G"][a["metal"]])
    b = _hill(phi, a["B"][a["metal"]])
    e = 9.0 * b * g / (3.0 * b + g)
    nu = (3.0 * b - 2.0 * g) / (2.0 * (3.0 * b + g))
    tm = xm @ a["Tm"][a["metal"]]
    omega = xm @ a["omega"][a["metal"]]
    gamma_s = c["c_gamma"] * _K_B_EV * tm / omega ** (2.0 / 3.0) * _EV_PER_A2_TO_J_PER_M2
    vec = x @ a["VEC"]  # oxygen's valence electrons count, as in the VEC rule
    pugh = b / g
    sig = lambda t: 1.0 / (1.0 + np.exp(-t))  # noqa: E731
    radius = a["radius"][a["metal"]]
    r_mean = xm @ radius
    delta = np.sqrt(np.sum(xm * (1.0 - radius / r_mean[:, None]) ** 2, axis=1))
    ductility = (
        sig((pugh - c["pugh_threshold"]) / c["pugh_width"])
        * sig((c["vec_threshold"] - vec) / c["vec_width"])
        * sig((c["delta_threshold"] - delta) / c["delta_width"])
    )
    gamma_p = c["alpha_plastic"] * ductility * gamma_s
    x_o = x[:, a["is_O"]].sum(axis=1)
    e_plane = e * 1e9 / (1.0 - nu**2)  # Pa
    k = np.sqrt(e_plane * 2.0 * (gamma_s + gamma_p)) * np.exp(-c["beta_oxygen"] * x_o) / 1e6
    return {
        "G": g, "B": b, "E": e, "nu": nu, "pugh": pugh, "vec": vec, "delta": delta, "gamma_s": gamma_s,
        "ductility": ductility, "oxygen": x_o, "K": k,
    }  # fmt: skip


def shear_modulus(compositions: np.ndarray, elements: Sequence[str] = ELEMENTS) -> np.ndarray:
    """Shear modulus in GPa: Hill average over the metallic elements (volume fractions).

    Example:
        >>> import numpy as np
        >>> float(shear_modulus(np.eye(22)[ELEMENTS.index("W")])[0])
        161.0
    """
    return descriptors(compositions, elements)["G"]


def fracture_toughness(compositions: np.ndarray, elements: Sequence[str] = ELEMENTS) -> np.ndarray:
    """Fracture toughness in MPa·m^1/2 (Griffith–Irwin with a ductility-scaled plastic work)."""
    return descriptors(compositions, elements)["K"]


def properties(compositions: np.ndarray, elements: Sequence[str] = ELEMENTS) -> np.ndarray:
    """(N, 2) array: shear modulus (GPa), fracture toughness (MPa·m^1/2)."""
    d = descriptors(compositions, elements)
    return np.stack([d["G"], d["K"]], axis=1)


def judgeable(compositions: np.ndarray, elements: Sequence[str] = ELEMENTS) -> np.ndarray:
    """(N,) bool: the rows the oracle can judge, those with a metallic element (not oxygen
    alone); `properties` raises on the others."""
    x = _check(compositions, elements)
    return x[:, _arrays(elements)["metal"]].sum(axis=1) > 0

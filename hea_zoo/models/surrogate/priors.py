"""Physical prior means: a property with a rule of mixtures is learnt as its ratio to it.

Some measured properties have a physical estimate from the composition alone: an alloy's
density is close to the rule-of-mixtures density of its elements (ideal, additive atomic
volumes), and its elastic moduli lie near the Reuss (iso-stress) average of its elements'
moduli. A surrogate with a prior for a property learns the ratio of the measured value to
that estimate instead of the value itself (in its log or linear target space), and
multiplies it back in every prediction and interval end. Where a small table holds no
alloy like the one asked about, the kernel and the members revert towards a ratio typical
of the training alloys, so the prediction follows the new alloy's own elements rather
than the training mean (docs/MPEA.md, "Physical priors": measured on MPEA's density and
Young's modulus).

Both estimates are a ratio of two linear forms of the atomic fractions `c`,
``(c · num) / (c · den)``, so the model computes them in its graph from two constant
(E, P) matrices (exports need nothing else):

- ``"density"``: the rule-of-mixtures density, ``sum(c_i m_i) / sum(c_i m_i / rho_i)``
  (atomic masses m, element densities rho; the exact descriptor
  `hea_zoo.data.descriptors`' ``density``);
- ``"reuss:<element property>"`` (shear_modulus, youngs_modulus, bulk_modulus): the
  volume-fraction Reuss average ``1 / sum(v_i / M_i)``, ``v_i = c_i V_i / sum(c_k V_k)``,
  atomic volumes ``V = m / rho``. Elements without a tabulated modulus (carbon) are left
  out and the others' volume fractions renormalized.

`auto_priors` is the rule the small-table recipe applies (`SURROGATE_DEFAULTS`,
``"physical_priors"``): by a property's name and unit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from hea_zoo.errors import UsageError

__all__ = ["MODULI", "DENSITY_UNITS", "MODULUS_UNITS", "auto_priors", "check_priors", "prior_weights", "prior_values",
           "unit_of"]

MODULI: tuple[str, ...] = ("shear_modulus", "youngs_modulus", "bulk_modulus")
"""Element properties a ``"reuss:"`` prior may average."""

DENSITY_UNITS: tuple[str, ...] = ("g/cm^3", "g/cm3", "g cm^-3", "g/cc")
"""Units of a density prior (the element table's g/cm^3; compared in lower case)."""
MODULUS_UNITS: dict[str, float] = {"gpa": 1.0, "mpa": 1e3}
"""Units a modulus prior is computed in (the element table's GPa, scaled; lower case)."""

_SPELLINGS: dict[str, tuple[str, ...]] = {
    "shear_modulus": ("shearmodulus",), "youngs_modulus": ("youngsmodulus", "youngmodulus"),
    "bulk_modulus": ("bulkmodulus",),
}  # fmt: skip
"""How a property's name (letters only, lower case) may spell each modulus of `MODULI`."""


def _volumes(elements: Sequence[str]) -> np.ndarray:
    from hea_zoo.data.descriptors import NO_CONDENSED_DENSITY
    from hea_zoo.data.elements import element_property

    v = element_property("atomic_mass", list(elements)) / element_property("density", list(elements))
    return np.where([e in NO_CONDENSED_DENSITY for e in elements], np.nan, v)


def prior_weights(prior: str, elements: Sequence[str], unit: str = "") -> tuple[np.ndarray, np.ndarray]:
    """``(num, den)`` (E,) float64 of one property's prior: the prior of fractions `c` is
    ``(c · num) / (c · den)``; ``""`` (no prior) gives ones and ones.

    Raises:
        UsageError: an unknown prior, an element the table does not cover, or one the
            estimate needs and cannot use (oxygen in a density; a modulus prior over
            elements none of which has the modulus), field ``priors``.
    """
    from hea_zoo.data.elements import KNOWN_ELEMENTS, element_property

    n = len(elements)
    if prior == "":
        return np.ones(n), np.ones(n)
    untabled = [e for e in elements if e not in KNOWN_ELEMENTS]
    if untabled:
        raise UsageError(f"prior {prior!r} needs tabulated elements; {untabled} have none.", field="priors")
    volume = _volumes(elements)
    if prior == "density":
        if not np.isfinite(volume).all():
            bad = [e for e, v in zip(elements, volume) if not np.isfinite(v)]
            raise UsageError(f"the rule-of-mixtures density has no value for {bad}.", field="priors")
        return element_property("atomic_mass", list(elements)), volume
    kind, _, column = prior.partition(":")
    if kind != "reuss" or column not in MODULI:
        raise UsageError(f"Unknown prior {prior!r}. Valid: 'density', " + ", ".join(f"'reuss:{m}'" for m in MODULI)
                         + ", or '' (none).", field="priors")  # fmt: skip
    modulus = element_property(column, list(elements)) * MODULUS_UNITS.get(str(unit).strip().lower(), 1.0)
    has = np.isfinite(modulus) & (modulus > 0) & np.isfinite(volume)
    if not has.any():
        raise UsageError(f"prior {prior!r}: no element of {list(elements)} has a tabulated {column}.", field="priors")
    num = np.where(has, volume, 0.0)
    return num, np.where(has, num / np.where(has, modulus, 1.0), 0.0)


def check_priors(priors: Sequence[str] | None, property_names: Sequence[str], elements: Sequence[str],
                 units: Sequence[str] = ()) -> tuple[str, ...]:  # fmt: skip
    """One prior per property (``""``: none), each valid over `elements` (`prior_weights`,
    in the property's unit, `unit_of`); None: none at all."""
    if priors is None:
        return ("",) * len(property_names)
    if isinstance(priors, str) or len(priors) != len(property_names):
        raise UsageError(f"Expected one prior per property {list(property_names)} ('' for none). "
                         f"Received: priors={priors!r}", field="priors")  # fmt: skip
    out = tuple(str(p) for p in priors)
    units = tuple(units) or ("",) * len(out)
    for prior, name, unit in zip(out, property_names, units):
        prior_weights(prior, elements, unit_of(name, unit))
    return out


def unit_of(name: str, unit: str) -> str:
    """A property's unit: `unit`, or when it is empty the ``(unit)`` that ends `name`
    (a CSV column such as ``"Youngs modulus (GPa)"``)."""
    if str(unit or "").strip():
        return str(unit).strip()
    found = re.search(r"\(([^()]*)\)\s*$", str(name))
    return found.group(1).strip() if found else ""


def auto_priors(property_names: Sequence[str], property_units: Sequence[str], elements: Sequence[str]) -> tuple[str, ...]:
    """The priors the small-table recipe gives each property (``""``: none): ``"density"``
    for a property whose name holds "density" in g/cm^3, ``"reuss:<modulus>"`` for one
    named after a modulus of `MODULI` (letters only, any case: ``youngs_modulus_exp``,
    ``"Young's modulus (GPa)"``) in GPa or MPa; the unit is `property_units`' or, when
    that is empty, the name's ``(unit)`` (`unit_of`). None where the element table cannot
    give the estimate for these elements."""
    out = []
    for name, unit in zip(property_names, property_units):
        key = re.sub(r"[^a-z]", "", str(name).lower())
        unit = unit_of(name, unit)
        prior = ""
        if "density" in key and unit.lower() in DENSITY_UNITS:
            prior = "density"
        elif unit.lower() in MODULUS_UNITS:
            prior = next((f"reuss:{m}" for m in MODULI if any(w in key for w in _SPELLINGS[m])), "")
        if prior:
            try:
                prior_weights(prior, elements, unit)
            except UsageError:
                prior = ""
        out.append(prior)
    return tuple(out)


def prior_values(compositions, num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """(N, P) float64 priors of fractions (N, E) from (E, P) `num` and `den` (NumPy; 1 where
    an alloy has none of the elements the estimate reads)."""
    c = np.asarray(compositions, np.float64)
    top, bottom = c @ num, c @ den
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1.0), 1.0)

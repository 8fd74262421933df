"""Exact composition descriptors: density, VEC, size mismatch, mixing enthalpy, Omega, T_m.

Every descriptor is a closed-form function of the composition and of tabulated element
values (`hea_zoo.data.elements`, each value with its source) and binary mixing enthalpies
(`hea_zoo/data/mixing_enthalpy.csv`: the Miedema-model values tabulated by Takeuchi &
Inoue 2005). Design goals on these names are hard constraints: every design obeys them
exactly, so the computation is specified step by step (docs/DATASET.md, "Exact
descriptors") and a JavaScript port reproduces it from `descriptor_table_json`.

NumPy only, at import and at call time (no pandas, pymatgen or TensorFlow): the design
engine imports this module.

Two entry points:

- ``compute_descriptors(fractions, elements, names=None)``: an (N, E) float array of atomic
  fractions (rows summing to 1, zeros allowed) over `elements`.
- ``DescriptorTable(elements).compute(k, names=None)``: an (N, E) integer array of
  thousandths (rows summing to 1000), the form the design engine prints. VEC, T_m and
  ΔH_mix are then computed in integer arithmetic (exact in float64) and divided once, so
  they are the correctly rounded value of the exact decimal mean: the same bits in every
  runtime, and a goal such as ``vec<=5`` is decided identically in Python and JavaScript.

Missing data: a descriptor is NaN for a row where an element it needs a value for is
present (fraction > 0): oxygen has no Miedema ΔH with any element (``dhmix``, ``omega``)
and no condensed-phase density (``density``); an element the table does not cover has no
value at all. Rows where such an element has fraction 0 are unaffected.
"""

from __future__ import annotations

import csv
import functools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "DESCRIPTORS",
    "DESCRIPTOR_NAMES",
    "CITATIONS",
    "GAS_CONSTANT",
    "NO_CONDENSED_DENSITY",
    "DescriptorTable",
    "compute_descriptors",
    "descriptor_table_json",
    "mixing_enthalpy_pairs",
]

#: Molar gas constant, J/(mol K) (CODATA 2018, exact).
GAS_CONSTANT = 8.314462618

#: name -> (unit, one-line definition, citation key of `CITATIONS`).
DESCRIPTORS: dict[str, tuple[str, str, str]] = {
    "density": (
        "g/cm^3",
        "rule-of-mixtures density sum(c_i m_i) / sum(c_i m_i / rho_i) (atomic masses m_i, "
        "element densities rho_i); NaN where O (no condensed-phase density) or an untabulated "
        "element is present",
        "CRC",
    ),
    "vec": (
        "1",
        "valence electron concentration sum(c_i VEC_i), VEC = s + d electrons (p-block: s + p)",
        "Guo2011",
    ),
    "delta": (
        "%",
        "atomic size mismatch 100 sqrt(sum(c_i (1 - r_i / rbar)^2)), rbar = sum(c_i r_i), "
        "Miracle et al. 2010 radii (those of matminer's YangSolidSolution); 0 for one element",
        "Miracle2010",
    ),
    "dhmix": (
        "kJ/mol",
        "mixing enthalpy sum_{i<j} 4 dH_ij c_i c_j, dH_ij the Miedema-model binary values "
        "tabulated by Takeuchi & Inoue 2005; NaN where a present pair has no value (any pair "
        "with O)",
        "Takeuchi2005",
    ),
    "omega": (
        "1",
        "Yang & Zhang Omega = tm dS_mix / |dH_mix| with dS_mix = -R sum(c_i ln c_i); +inf "
        "when dH_mix = 0 and dS_mix > 0, 0 for a single element (dS_mix = 0); NaN where dhmix is",
        "Yang2012",
    ),
    "tm": (
        "K",
        "mean melting point sum(c_i T_m,i)",
        "CRC",
    ),
}

DESCRIPTOR_NAMES: tuple[str, ...] = tuple(DESCRIPTORS)

#: Citation keys of `DESCRIPTORS` -> full citations (element values: also
#: `hea_zoo.data.elements.SOURCES`, per value).
CITATIONS: dict[str, str] = {
    "CRC": "W. M. Haynes (ed.), CRC Handbook of Chemistry and Physics, 97th ed., CRC Press (2016) "
    "(element densities and melting points; the rule of mixtures assumes ideal, additive "
    "atomic volumes).",
    "Guo2011": "S. Guo, C. Ng, J. Lu, C. T. Liu, J. Appl. Phys. 109, 103505 (2011), "
    "doi:10.1063/1.3587228.",
    "Miracle2010": "D. B. Miracle, D. V. Louzguine-Luzgin, L. V. Louzguina-Luzgina, A. Inoue, Int. "
    "Mater. Rev. 55, 218-256 (2010), doi:10.1179/095066010X12646898728200.",
    "Takeuchi2005": "A. Takeuchi, A. Inoue, Mater. Trans. 46, 2817-2829 (2005), "
    "doi:10.2320/matertrans.46.2817 (binary ΔH of equiatomic liquids, Miedema model; values "
    "as tabulated in matminer 0.10.1, BSD licence).",
    "Yang2012": "X. Yang, Y. Zhang, 'Prediction of high-entropy stabilized solid-solution in "
    "multi-component alloys', Mater. Chem. Phys. 132, 233-238 (2012), "
    "doi:10.1016/j.matchemphys.2011.11.021.",
}

_DATA = Path(__file__).resolve().parent / "mixing_enthalpy.csv"

NO_CONDENSED_DENSITY: frozenset[str] = frozenset({"O"})
"""Elements whose tabulated density is not a condensed-phase density (O: the gas): the
rule-of-mixtures density and atomic volumes have no value for an alloy holding them."""

_COLUMNS = ("atomic_mass", "density", "valence_electrons", "miracle_radius", "melting_point")

_BLOCK = 1024  # rows per block: temporaries stay in cache, and BLAS stays single-threaded
# (multi-threaded GEMM on (8192, E) blocks was 5-20x slower on a loaded 2-core machine)


@functools.lru_cache(maxsize=1)
def mixing_enthalpy_pairs() -> dict[tuple[str, str], float]:
    """The binary mixing enthalpies of `mixing_enthalpy.csv`, kJ/mol.

    Returns:
        ``{(a, b): dH}`` with ``a < b`` (alphabetical); a pair absent from the table is
        absent from the dict.
    """
    pairs: dict[tuple[str, str], float] = {}
    with open(_DATA, encoding="utf-8", newline="") as handle:
        rows = csv.reader(line for line in handle if not line.startswith("#"))
        header = next(rows)
        if header != ["element_a", "element_b", "dh_mix_kj_per_mol"]:
            raise RuntimeError(f"{_DATA}: unexpected header {header}")
        for a, b, value in rows:
            pairs[tuple(sorted((a, b)))] = float(value)
    return pairs


def _element_values(elements: Sequence[str]) -> dict[str, np.ndarray]:
    """Per-element float64 vectors (NaN where the table has no value for a descriptor)."""
    from hea_zoo.data.elements import KNOWN_ELEMENTS, element_property

    known = [e in KNOWN_ELEMENTS for e in elements]
    tabled = [e for e, k in zip(elements, known) if k]

    def column(name):
        out = np.full(len(elements), np.nan)
        if tabled:
            out[np.flatnonzero(known)] = element_property(name, tabled)
        return out

    density = column("density")
    density[[e in NO_CONDENSED_DENSITY for e in elements]] = np.nan
    return {
        "atomic_mass": column("atomic_mass"),
        "density": density,
        "valence_electrons": column("valence_electrons"),
        "miracle_radius": column("miracle_radius"),
        "melting_point": column("melting_point"),
    }


def _pair_matrix(elements: Sequence[str]) -> np.ndarray:
    pairs = mixing_enthalpy_pairs()
    n = len(elements)
    h = np.full((n, n), np.nan)
    for i, a in enumerate(elements):
        h[i, i] = 0.0
        for j in range(i + 1, n):
            value = pairs.get(tuple(sorted((a, elements[j]))), math.nan)
            h[i, j] = h[j, i] = value
    return h


def _as_list(values: np.ndarray):
    return [None if not math.isfinite(v) else float(v) for v in values]


class DescriptorTable:
    """Per-element vectors and the E x E mixing-enthalpy matrix for a fixed element list.

    Args:
        elements: element symbols (any; an untabulated one gives NaN where present).
        values: optional ``{column: (E,) array}`` and ``pairs`` (E, E) overriding the
            tables (used by `from_json`); columns ``atomic_mass``, ``density``,
            ``valence_electrons``, ``miracle_radius``, ``melting_point``.

    Example:
        >>> t = DescriptorTable(["Hf", "Nb", "Ta", "Ti", "Zr"])
        >>> out = t.compute(np.array([[200, 200, 200, 200, 200]]))
        >>> float(out["vec"][0]), float(out["dhmix"][0])
        (4.4, 2.72)
    """

    def __init__(self, elements: Sequence[str], values: Mapping[str, np.ndarray] | None = None,
                 pairs: np.ndarray | None = None):
        from hea_zoo.errors import UsageError

        if isinstance(elements, str) or not all(isinstance(e, str) for e in elements):
            raise UsageError(f"expected a sequence of element symbols, received {elements!r}", field="elements")
        self.elements: tuple[str, ...] = tuple(elements)
        if len(set(self.elements)) != len(self.elements):
            raise UsageError(f"elements repeat a symbol: {list(self.elements)}", field="elements")
        if values is None:
            table = _element_values(self.elements)
        else:
            table = {column: np.asarray(v, np.float64) for column, v in values.items()}
        missing = [c for c in _COLUMNS if c not in table]
        if missing:
            raise UsageError(f"element values lack column(s) {missing}", field="values")
        self.values = {column: table[column] for column in _COLUMNS}
        table = self.values
        self.pairs = _pair_matrix(self.elements) if pairs is None else np.asarray(pairs, np.float64)
        e = len(self.elements)
        if self.pairs.shape != (e, e) or any(v.shape != (e,) for v in table.values()):
            raise UsageError("element values and pair matrix do not match the element list", field="values")

        mass, rho = table["atomic_mass"], table["density"]
        with np.errstate(invalid="ignore", divide="ignore"):
            volume = mass / rho  # v_i = m_i / rho_i, cm^3/mol
        self._missing = {
            "density": ~(np.isfinite(mass) & np.isfinite(volume)),
            "vec": ~np.isfinite(table["valence_electrons"]),
            "delta": ~np.isfinite(table["miracle_radius"]),
            "tm": ~np.isfinite(table["melting_point"]),
        }
        self._pair_missing = ~np.isfinite(self.pairs)
        self._mass = np.where(np.isfinite(mass), mass, 0.0)
        self._volume = np.where(np.isfinite(volume), volume, 0.0)
        self._vec = np.where(np.isfinite(table["valence_electrons"]), table["valence_electrons"], 0.0)
        self._radius = np.where(np.isfinite(table["miracle_radius"]), table["miracle_radius"], 1.0)
        self._tm = np.where(np.isfinite(table["melting_point"]), table["melting_point"], 0.0)
        self._h = np.where(np.isfinite(self.pairs), self.pairs, 0.0)
        # Integer forms (exact sums over thousandths); None when the values are not integral.
        self._vec_int = self._vec if np.all(self._vec == np.round(self._vec)) else None
        tm100 = np.round(self._tm * 100.0)
        self._tm100 = tm100 if np.all(np.abs(tm100 - self._tm * 100.0) < 1e-6) else None
        self._h_int = self._h if np.all(self._h == np.round(self._h)) else None
        # c ln c for c = k / 1000, k = 0..1000 (0 ln 0 = 0).
        c = np.arange(1001, dtype=np.float64) / 1000.0
        with np.errstate(divide="ignore", invalid="ignore"):
            self._clnc = np.where(c > 0, c * np.log(c), 0.0)

    # ------------------------------------------------------------------ JSON
    def to_json(self) -> dict:
        """A plain, JSON-serializable dict (NaN as null) from which `from_json` rebuilds the table."""
        from hea_zoo.data.elements import KNOWN_ELEMENTS, element_sources

        sources = {
            column: [element_sources(column, [e])[0] if e in KNOWN_ELEMENTS else None for e in self.elements]
            for column in self.values
        }
        for i, e in enumerate(self.elements):
            if e in NO_CONDENSED_DENSITY:
                sources["density"][i] = "Choice"
        return {
            "format": "hea_zoo.descriptor_table",
            "version": 1,
            "elements": list(self.elements),
            "values": {column: _as_list(v) for column, v in self.values.items()},
            "sources": sources,
            "pairs": [_as_list(row) for row in self.pairs],
            "pairs_source": "Takeuchi2005",
            "gas_constant": GAS_CONSTANT,
            "descriptors": {
                name: {"unit": u, "definition": d, "citation": c} for name, (u, d, c) in DESCRIPTORS.items()
            },
            "citations": dict(CITATIONS),
        }

    @classmethod
    def from_json(cls, data: Mapping) -> "DescriptorTable":
        """Rebuild a table from `to_json` output (e.g. after ``json.loads``)."""

        def arr(values):
            return np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)

        values = {column: arr(v) for column, v in data["values"].items()}
        pairs = np.array([arr(row) for row in data["pairs"]]).reshape(len(data["elements"]), len(data["elements"]))
        return cls(data["elements"], values=values, pairs=pairs)

    # --------------------------------------------------------------- compute
    def _names(self, names):
        from hea_zoo.errors import UsageError

        if names is None:
            return DESCRIPTOR_NAMES
        if isinstance(names, str):
            names = (names,)
        names = tuple(names)
        unknown = [n for n in names if n not in DESCRIPTORS]
        if unknown:
            raise UsageError(
                f"unknown descriptor(s) {unknown}; valid names: {', '.join(DESCRIPTOR_NAMES)}", field="names"
            )
        return names

    def compute(self, k, names: Sequence[str] | str | None = None) -> dict[str, np.ndarray]:
        """Descriptors of compositions given in integer thousandths.

        Args:
            k: (N, E) integers >= 0, each row summing to 1000 (c_i = k_i / 1000).
            names: descriptor names (default all of `DESCRIPTOR_NAMES`).

        Returns:
            ``{name: (N,) float64}``.

        Raises:
            UsageError: a wrong shape, a negative or non-integer entry, a row not summing to
                1000 (field ``k``), or an unknown name (field ``names``).

        Order of operations (float64; docs/DATASET.md "Exact descriptors"):

        1. vec = (Σ k_i VEC_i) / 1000 — VEC integers, the sum is exact.
        2. tm = (Σ k_i T_i) / 100000 with T_i = round(100 T_m,i) — exact integer sum.
        3. dhmix = Q / 500000 with Q = Σ_i k_i (Σ_j ΔH_ij k_j) over the symmetric matrix
           with zero diagonal (ΔH integers: Q exact; Q = 2 Σ_{i<j} ΔH_ij k_i k_j).
        4. density = (Σ k_i m_i) / (Σ k_i v_i), v_i = m_i / ρ_i.
        5. delta: c_i = k_i / 1000, r̄ = Σ c_i r_i, d_i = 1 − r_i / r̄,
           delta = 100 sqrt(Σ c_i (d_i d_i)).
        6. omega: ΔS = −R Σ_{k_i>0} c_i ln c_i; omega = (tm ΔS) / (1000 |dhmix|) if ΔS > 0
           (+inf when dhmix = 0), else 0.
        7. NaN where an element (or, for dhmix/omega, a pair) without a value is present.
        """
        from hea_zoo.errors import UsageError

        names = self._names(names)
        k = np.asarray(k)
        if k.ndim != 2 or k.shape[1] != len(self.elements):
            raise UsageError(f"expected an (N, {len(self.elements)}) array, received shape {k.shape}", field="k")
        if not np.issubdtype(k.dtype, np.integer):
            if not np.all(k == np.round(k)):
                raise UsageError("thousandths must be integers", field="k")
            k = k.astype(np.int64)
        if k.size and (k.min() < 0 or np.any(k.sum(axis=1) != 1000)):
            raise UsageError("thousandths must be >= 0 and every row must sum to 1000", field="k")
        return self._run(k, names, integer=True)

    def compute_fractions(self, fractions, names: Sequence[str] | str | None = None) -> dict[str, np.ndarray]:
        """Descriptors of compositions given as atomic fractions.

        Args:
            fractions: (N, E) floats >= 0, rows summing to 1 (within 1e-6).
            names: descriptor names (default all).

        Returns:
            ``{name: (N,) float64}``.
        """
        from hea_zoo.errors import UsageError

        names = self._names(names)
        c = np.asarray(fractions, dtype=np.float64)
        if c.ndim == 1:
            c = c[None, :]
        if c.ndim != 2 or c.shape[1] != len(self.elements):
            raise UsageError(
                f"expected an (N, {len(self.elements)}) array, received shape {c.shape}", field="fractions"
            )
        if c.size and (not np.all(np.isfinite(c)) or c.min() < 0 or np.any(np.abs(c.sum(axis=1) - 1.0) > 1e-6)):
            raise UsageError("fractions must be finite, >= 0, and every row must sum to 1", field="fractions")
        return self._run(c, names, integer=False)

    def _run(self, x, names, integer):
        n = x.shape[0]
        out = {name: np.empty(n, dtype=np.float64) for name in names}
        for start in range(0, n, _BLOCK):
            self._block(x[start : start + _BLOCK], names, out, slice(start, start + _BLOCK), integer)
        return out

    def _block(self, x, names, out, rows, integer):
        need = set(names)
        if "omega" in need:
            need |= {"tm", "dhmix"}
        xf = x.astype(np.float64)  # k (integer-valued) or c
        present = x > 0
        scale = 1000.0 if integer else 1.0
        res = {}
        if "vec" in need:
            if integer and self._vec_int is not None:
                res["vec"] = (xf @ self._vec_int) / 1000.0
            else:
                res["vec"] = (xf @ self._vec) / scale
        if "tm" in need:
            if integer and self._tm100 is not None:
                res["tm"] = (xf @ self._tm100) / 100000.0
            else:
                res["tm"] = (xf @ self._tm) / scale
        if "density" in need:
            with np.errstate(divide="ignore", invalid="ignore"):
                res["density"] = (xf @ self._mass) / (xf @ self._volume)
        if "delta" in need:
            c = xf / 1000.0 if integer else xf
            rbar = c @ self._radius
            d = 1.0 - self._radius[None, :] / rbar[:, None]
            res["delta"] = 100.0 * np.sqrt(np.einsum("ij,ij->i", c, d * d))
        if "dhmix" in need:
            if integer and self._h_int is not None:
                q = np.einsum("ij,ij->i", xf @ self._h_int, xf)  # sum_ij k_i k_j dH_ij, exact integer
                res["dhmix"] = q / 500000.0  # 4 * (q / 2) / 1000^2
            else:
                q = np.einsum("ij,ij->i", xf @ self._h, xf)
                res["dhmix"] = 2.0 * q if not integer else q / 500000.0
            if self._pair_missing.any():
                p = present.astype(np.float64)
                bad = np.einsum("ij,ij->i", p @ self._pair_missing.astype(np.float64), p) > 0
                res["dhmix"][bad] = np.nan
        if "omega" in need:
            if integer:
                s = self._clnc[x].sum(axis=1)
            else:
                with np.errstate(divide="ignore", invalid="ignore"):
                    s = np.where(present, xf * np.log(np.where(present, xf, 1.0)), 0.0).sum(axis=1)
            ds = -GAS_CONSTANT * s  # J/(mol K)
            dh = res["dhmix"]
            with np.errstate(divide="ignore", invalid="ignore"):
                omega = (res["tm"] * ds) / (1000.0 * np.abs(dh))
            omega = np.where(ds > 0, omega, 0.0)  # one element: no mixing entropy, Omega = 0
            omega[np.isnan(dh)] = np.nan
            res["omega"] = omega
        for name in ("density", "vec", "delta", "tm"):
            if name in res and self._missing[name].any():
                bad = present @ self._missing[name].astype(np.float64) > 0
                res[name][bad] = np.nan
        if "omega" in res and self._missing["tm"].any():
            res["omega"][present @ self._missing["tm"].astype(np.float64) > 0] = np.nan
        for name in names:
            out[name][rows] = res[name]


@functools.lru_cache(maxsize=32)
def _table(elements: tuple[str, ...]) -> DescriptorTable:
    return DescriptorTable(elements)


def compute_descriptors(
    fractions, elements: Sequence[str], names: Sequence[str] | str | None = None
) -> dict[str, np.ndarray]:
    """Exact descriptors of compositions given as atomic fractions.

    Args:
        fractions: (N, E) atomic fractions over `elements` (rows summing to 1; zeros
            allowed), or one (E,) row.
        elements: the E element symbols.
        names: descriptor names (default all of `DESCRIPTOR_NAMES`).

    Returns:
        ``{name: (N,) float64}``; units and definitions in `DESCRIPTORS`.

    Example:
        >>> out = compute_descriptors([[0.25, 0.25, 0.25, 0.25]], ["Mo", "Nb", "Ta", "W"])
        >>> float(out["vec"][0]), float(out["dhmix"][0])
        (5.5, -6.5)
    """
    return _table(tuple(elements)).compute_fractions(fractions, names)


def descriptor_table_json(elements: Sequence[str]) -> dict:
    """The per-element values (with sources) and the pair matrix for `elements`, as a plain
    JSON-serializable dict (NaN as null) that an exporter writes for the JavaScript engine.
    `DescriptorTable.from_json` rebuilds the same table."""
    return _table(tuple(elements)).to_json()


def write_descriptor_json(folder, elements: Sequence[str]) -> Path:
    """Writes ``descriptors.json`` (`descriptor_table_json(elements)`) into `folder`, beside
    exported models, for the JavaScript engine (examples/web/engine.js) to read as data
    (`hea_zoo.workflows.export_all` writes it; the page and the Node example read it for
    goals on the exact descriptors). Written atomically.

    Returns:
        The path written.
    """
    import json

    from hea_zoo.files import write_text

    return write_text(Path(folder) / "descriptors.json",
                      json.dumps(descriptor_table_json(elements), indent=1, ensure_ascii=False) + "\n")

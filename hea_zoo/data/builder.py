"""Deterministic builder of the bundled 529-alloy RHEA dataset (`hea_zoo/data/rhea529.csv`).

The study's 529 compositions are not public, so hea_zoo ships its own: known refractory
high-entropy alloy families from the literature (`FAMILIES`, mostly from the review of
Senkov, Miracle, Chaput & Couzinie, J. Mater. Res. 33, 3092 (2018),
doi:10.1557/jmr.2018.153) plus seeded variants of them. Every row

- has 4 to 7 principal elements (fraction >= `PRINCIPAL_MIN` = 5 at.%),
- may carry minor additions (0.5 at.% <= fraction < 5 at.%); oxygen only as a minor addition,
- has fractions on a 0.001 grid summing exactly to 1,

all 22 elements occur somewhere and all rows are distinct. Properties come from the
physics oracle (`hea_zoo.data.oracle`). Rebuild with ``python -m hea_zoo.data.builder``;
the output is byte-identical for the same seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from hea_zoo.data import oracle
from hea_zoo.data.composition import parse_formula, to_formula
from hea_zoo.data.elements import ELEMENTS
from hea_zoo.errors import DataError

__all__ = ["FAMILIES", "build_compositions", "build_frame", "DATA_PATH", "N_ALLOYS", "SEED"]

N_ALLOYS = 529
SEED = 20240529
PRINCIPAL_MIN = 0.05
MINOR_MIN = 0.005
GRID = 1000  # fractions are multiples of 1 / GRID
DATA_PATH = Path(__file__).with_name("rhea529.csv")

#: Known RHEA compositions (and close relatives) used as the seeds of the dataset.
FAMILIES: tuple[str, ...] = (
    "HfNbTaTiZr", "MoNbTaW", "MoNbTaVW", "NbTaTiV", "CrMoNbV", "AlMo0.5NbTa0.5TiZr",
    "HfNbTaZr", "MoNbTaTiW", "CrNbTiZr", "CrNbTiVZr", "NbTiVZr", "NbTiV2Zr", "HfNbTiZr",
    "HfMoNbTaTiZr", "HfMoTaTiZr", "HfMoNbTiZr", "AlNbTiV", "AlCrMoNbTi", "AlCrMoTaTi",
    "CrMoNbTaVW", "NbTaVW", "AlHfNbTaTiZr", "HfNbTaTiVZr", "MoNbTiV", "MoNbTiVZr",
    "AlNbTaTiV", "AlCrNbTiV", "AlNbTiVZr", "MoNbReTaW", "NbTaTiVW", "CrHfNbTaTiZr",
    "AlMoNbTi", "Al0.5NbTaTiV", "HfNbTaTiZrW0.5", "Ti2ZrHfV0.5Ta0.2", "CrMoTaTiW",
    "HfMoNbTaZr", "MoNbTaTiVW", "AlCr0.5NbTiV", "NbTaTiZr", "HfTaTiZr", "MoNbTaReW",
    "CrMoNbTiW", "Al0.3HfNbTaTiZr", "HfNbTaTiZrSi0.3", "MoNbRuTaW", "IrMoNbReW",
    "HfNbTiVZr", "CrNbTaTiV", "MoTaTiVW",
)  # fmt: skip

_PRINCIPAL_POOL = (
    "Al", "Cr", "Hf", "Mo", "Nb", "Re", "Ru", "Ir", "Ta", "Ti", "V", "W", "Zr", "Si",
    "Co", "Ni", "Fe", "Mn", "Cu", "Y", "Be",
)  # fmt: skip
# Relative odds of picking each principal addition (refractory elements more often).
_PRINCIPAL_ODDS = np.array(
    [4, 4, 4, 5, 5, 1, 1, 1, 5, 5, 5, 5, 4, 1, 1, 1, 1, 1, 1, 0.5, 0.5], dtype=float
)
_MINOR_POOL = ELEMENTS


def _snap(x: np.ndarray) -> np.ndarray:
    """Round fractions to the 1/GRID grid keeping the sum exactly GRID (largest remainder)."""
    scaled = x / x.sum() * GRID
    units = np.floor(scaled).astype(int)
    short = GRID - units.sum()
    order = np.argsort(-(scaled - units), kind="stable")
    units[order[:short]] += 1
    return units


def _acceptable(units: np.ndarray) -> bool:
    frac = units / GRID
    principal = frac >= PRINCIPAL_MIN
    present = frac > 0
    if not 4 <= principal.sum() <= 7:
        return False
    if np.any(present & (frac < MINOR_MIN)):
        return False
    if frac[ELEMENTS.index("O")] >= PRINCIPAL_MIN:
        return False
    return True


def _variant(rng: np.random.Generator, base: np.ndarray, force: str | None) -> np.ndarray:
    x = base.copy()
    principal = np.flatnonzero(x >= PRINCIPAL_MIN)
    # 1. jitter the principal fractions around the base (Dirichlet, concentration 40/element)
    x[principal] = rng.dirichlet(x[principal] / x[principal].sum() * 40.0 * len(principal))
    x[principal] *= base[principal].sum()
    # 2. sometimes drop a principal element
    if len(principal) > 4 and rng.random() < 0.2:
        x[rng.choice(principal)] = 0.0
    # 3. sometimes add a principal element
    if rng.random() < 0.35 or (force is not None and force != "O" and rng.random() < 0.5):
        absent = [e for e in _PRINCIPAL_POOL if x[ELEMENTS.index(e)] == 0]
        odds = np.array([_PRINCIPAL_ODDS[_PRINCIPAL_POOL.index(e)] for e in absent])
        pick = force if force in absent else rng.choice(absent, p=odds / odds.sum())
        x = x / x.sum() * (1.0 - (share := rng.uniform(0.06, 0.25)))
        x[ELEMENTS.index(pick)] = share
        force = None if pick == force else force
    # 4. sometimes add one or two minor additions (0.5-4.5 at.%)
    n_minor = rng.choice([0, 1, 2], p=[0.55, 0.35, 0.10])
    if force is not None:
        n_minor = max(n_minor, 1)
    for k in range(n_minor):
        absent = [e for e in _MINOR_POOL if x[ELEMENTS.index(e)] == 0]
        pick = force if (k == 0 and force in absent) else rng.choice(absent)
        share = rng.uniform(MINOR_MIN + 0.001, 0.045)
        x = x / x.sum() * (1.0 - share)
        x[ELEMENTS.index(pick)] = share
    return x / x.sum()


def build_compositions(n: int = N_ALLOYS, seed: int = SEED) -> np.ndarray:
    """Build `n` distinct, valid RHEA compositions (float64, (n, 22), 0.001 grid).

    The families come first (those meeting the constraints), then seeded variants; the
    first variants each force in an element so that all 22 occur.
    """
    rng = np.random.default_rng(seed)
    bases = [parse_formula(f).astype(np.float64) for f in FAMILIES]
    rows: list[np.ndarray] = []
    seen: set[bytes] = set()

    def add(units: np.ndarray) -> bool:
        key = units.tobytes()
        if key in seen or not _acceptable(units):
            return False
        seen.add(key)
        rows.append(units)
        return True

    for base in bases:
        add(_snap(base))
    forced = [e for e in ELEMENTS for _ in range(3)]  # each element forced in three times
    attempts = 0
    while len(rows) < n:
        attempts += 1
        if attempts > 100 * n:
            raise DataError(f"could not build {n} distinct compositions in {100 * n} attempts.", field="n")
        force = forced.pop(0) if forced else None
        base = bases[rng.integers(len(bases))]
        if not add(_snap(_variant(rng, base, force))) and force is not None:
            forced.insert(0, force)
    units = np.stack(rows[:n])
    return units / GRID


def build_frame(n: int = N_ALLOYS, seed: int = SEED) -> pd.DataFrame:
    """The dataset as a table: formula and the two oracle properties (4 decimals)."""
    x = build_compositions(n, seed)
    props = oracle.properties(x)
    return pd.DataFrame(
        {
            "composition": [to_formula(r, threshold=0.0, decimals=3) for r in x],
            "shear_modulus": np.round(props[:, 0], 4),
            "fracture_toughness": np.round(props[:, 1], 4),
        }
    )


def write_dataset(out: str | Path = DATA_PATH, seed: int = SEED) -> Path:
    """Rebuilds the bundled table and writes it atomically to `out` (byte-for-byte the
    committed file for the default seed). `python -m hea_zoo.data.builder` runs it."""
    from hea_zoo.files import atomic_write

    frame = build_frame(seed=seed)
    atomic_write(out, lambda tmp: frame.to_csv(tmp, index=False, lineterminator="\n"))
    return Path(out)


if __name__ == "__main__":
    print(f"wrote {N_ALLOYS} alloys to {write_dataset()}")

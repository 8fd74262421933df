"""Candidate sources of a campaign (docs/CAMPAIGNS.md): where the alloys that the
acquisition ranks come from. None of them reads a property label other than the measured
table's; the bundled exported models (trained on oracle labels) are never a source.

- ``random``: random element subsets within the constraints (between `min_elements` and
  `max_elements` elements, 3 to 7 unless given), fractions from a flat Dirichlet.
- ``mutation``: mutations of the most promising measured alloys (closest to meeting the
  goals, or best by the objective): fractions jittered, an element swapped for another
  allowed one, one added, or one dropped.
- ``prior``: a composition prior without labels: the formulas of the bundled MPEA table
  whose elements are all allowed (formulas only; its measured values are not read), and
  mutations of them.
- ``generator``: a conditional autoencoder (`hea_zoo.models.CAE`) trained on the measured
  table (compositions conditioned on their measured properties), decoded at conditions
  drawn in the goal region.

Every source returns raw fractions; `propose` repairs them under the constraints
(`hea_zoo.serving.constraints.apply_constraints`) and drops what is measured or repeated.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

__all__ = ["SOURCES", "random_compositions", "mutate", "prior_formulas"]

SOURCES = ("random", "mutation", "prior", "generator")
"""Every candidate source `propose` knows."""


def random_compositions(n: int, allowed: np.ndarray, required: np.ndarray, lo_count: int, hi_count: int,
                        rng: np.random.Generator) -> np.ndarray:  # fmt: skip
    """(n, E) random alloys: the required elements plus random allowed ones, Dirichlet(1)."""
    size = allowed.size
    free = np.flatnonzero(allowed & ~required)
    n_req = int(required.sum())
    counts = rng.integers(lo_count, hi_count + 1, n) - n_req
    counts = np.clip(counts, 0, free.size)
    keys = rng.random((n, free.size))
    ranks = np.argsort(np.argsort(keys, axis=1), axis=1)
    chosen = np.zeros((n, size), bool)
    chosen[:, free] = ranks < counts[:, None]
    chosen[:, required] = True
    x = rng.gamma(1.0, 1.0, (n, size)) * chosen
    total = x.sum(axis=1, keepdims=True)
    return x / np.where(total > 0, total, 1.0)


def mutate(parents: np.ndarray, n: int, allowed: np.ndarray, rng: np.random.Generator,
           scale: float = 0.3) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """`n` mutants of `parents` (rows of fractions), cycling over the parents.

    Each mutant: its parent's present fractions multiplied by exp(N(0, scale)), then one
    move with probability 1/2: swap a present element for an absent allowed one (same
    fraction), add an absent allowed one at U(0.05, 0.25), or drop a present one (when
    more than two). Returns ``(mutants, parent index of each)``.
    """
    parents = np.asarray(parents, np.float64)
    if not len(parents) or n <= 0:
        return np.zeros((0, allowed.size)), np.zeros(0, np.int64)
    which = np.arange(n) % len(parents)
    x = parents[which].copy()
    present = x > 0
    x = np.where(present, x * np.exp(rng.normal(0.0, scale, x.shape)), 0.0)
    moves = rng.integers(0, 6, n)  # 0 swap, 1 add, 2 drop, 3-5: jitter only
    u = rng.random((n, x.shape[1]))
    for i in np.flatnonzero(moves < 3):
        row = x[i]
        have = np.flatnonzero(row > 0)
        absent = np.flatnonzero((row == 0) & allowed)
        move = moves[i]
        if move == 0 and absent.size and have.size:
            a = have[np.argmax(u[i, have])]
            b = absent[np.argmax(u[i, absent])]
            row[b], row[a] = row[a], 0.0
        elif move == 1 and absent.size:
            b = absent[np.argmax(u[i, absent])]
            row[b] = (0.05 + 0.2 * u[i, b]) * row.sum() / max(1e-12, 1.0 - (0.05 + 0.2 * u[i, b]))
        elif move == 2 and have.size > 2:
            row[have[np.argmax(u[i, have])]] = 0.0
    total = x.sum(axis=1, keepdims=True)
    return x / np.where(total > 0, total, 1.0), which


@functools.lru_cache(maxsize=1)
def _mpea_formulas() -> tuple[np.ndarray, tuple[str, ...]]:
    import pandas as pd

    from hea_zoo.data.composition import parse_compositions
    from hea_zoo.data.mpea import MPEA_PATH

    formulas = pd.read_csv(MPEA_PATH, usecols=["FORMULA"])["FORMULA"].dropna().astype(str).unique()
    return parse_compositions(sorted(formulas), None, field="prior")


def prior_formulas(elements: Sequence[str], allowed: np.ndarray) -> np.ndarray:
    """Fractions of the bundled MPEA table's distinct formulas whose elements are all
    allowed (over `elements`); its property columns are not read (parsed once per process)."""
    x, found = _mpea_formulas()
    index = {s: j for j, s in enumerate(elements)}
    ok_symbols = {s for s, a in zip(elements, allowed) if a}
    usable = [j for j, s in enumerate(found) if s in ok_symbols]
    rows = x[:, [j for j, s in enumerate(found) if s not in ok_symbols]].sum(axis=1) <= 0 if len(usable) < len(found) else np.ones(len(x), bool)
    out = np.zeros((int(rows.sum()), len(elements)))
    for j in usable:
        out[:, index[found[j]]] = x[rows, j]
    return out

"""Duplicates by the printed composition (docs/DESIGN_ENGINE.md, section 5): 64-bit
tabulation hashes of the printed integer vectors and the set of those seen so far."""

from __future__ import annotations

import numpy as np

from hea_zoo.serving.constraints import _UNIT

__all__ = ["RowHasher", "SeenHashes"]


def _splitmix64(count: int, seed: int) -> np.ndarray:
    """`count` words of the splitmix64 sequence from `seed` (fixed pseudo-random constants)."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + np.arange(1, count + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


class _RowHasher:
    """64-bit tabulation hashes of printed rows: ``h = Σ_e T[e, k_e] mod 2^64``.

    T holds fixed pseudo-random words, so two different rows collide with probability
    2^-64 (about 3e-6 for a run with 10^7 distinct candidates).
    """

    def __init__(self, n_elements: int):
        self.table = _splitmix64(n_elements * (_UNIT + 1), 0x68656133).reshape(n_elements, _UNIT + 1)
        self.columns = np.arange(n_elements)

    def __call__(self, k: np.ndarray) -> np.ndarray:
        words = self.table[self.columns[None, :], k]
        return words.sum(axis=1, dtype=np.uint64)


class _SeenHashes:
    """The hashes of every printed row seen so far: sorted runs merged as they grow."""

    def __init__(self):
        self.runs: list[np.ndarray] = []

    def __len__(self) -> int:
        return sum(r.size for r in self.runs)

    def first_seen(self, hashes: np.ndarray) -> np.ndarray:
        """Marks the rows whose hash was never seen (first occurrence in `hashes`) and records them."""
        unique, first = np.unique(hashes, return_index=True)
        fresh = np.ones(unique.size, bool)
        for run in self.runs:
            at = np.minimum(np.searchsorted(run, unique), run.size - 1)
            fresh &= run[at] != unique
        mask = np.zeros(hashes.size, bool)
        mask[first[fresh]] = True
        if fresh.any():
            self.runs.append(unique[fresh])
            while len(self.runs) > 1 and self.runs[-2].size <= 2 * self.runs[-1].size:
                last, before = self.runs.pop(), self.runs.pop()
                merged = np.concatenate([before, last])
                merged.sort(kind="stable")  # two sorted runs: a linear merge
                self.runs.append(merged)
        return mask


RowHasher = _RowHasher
SeenHashes = _SeenHashes

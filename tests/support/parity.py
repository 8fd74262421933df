"""Comparing two runs of the design engine (browser, Node, Python) designed from the same inputs.

Runtimes agree to float32 rounding, not bit for bit (onnxruntime-web's WebAssembly kernels
round differently from the native ones), so two runs give the same designs except where a
candidate sits on an edge: its printed composition on a 0.001 rounding boundary, two
scores within rounding of each other, or an error within rounding of the tolerance.
`compare` asserts equality and accepts a difference only when the first one is such an
edge, checked from the raw generator output (Python onnxruntime) of the candidates involved.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, field

import numpy as np

from hea_zoo import artifact
from tests.support import design_reference

SCORE_RTOL = 1e-5
PREDICTION_RTOL = 1e-5

PARITY_SEED = int(os.environ.get("HEA_ZOO_PARITY_SEED", "0"))
"""The seed of every random input of the parity tests (targets, design seeds, rows,
constraints): fixed, so a failure reproduces. ``HEA_ZOO_PARITY_SEED=<n>`` draws another
set (a sweep by hand: ``for n in 1 2 3; do HEA_ZOO_PARITY_SEED=$n python -m pytest
tests/serving/test_onnx_node.py; done``)."""


def rng(*labels) -> np.random.Generator:
    """The generator of one test's draws, seeded by `PARITY_SEED` and the labels (the
    test's name): the same values whatever runs before it (parallel workers, ``-k``).

    Example:
        >>> rng("test_web scenario").integers(0, 2**32) == rng("test_web scenario").integers(0, 2**32)
        True
    """
    words = [zlib.crc32(str(label).encode()) for label in labels]
    return np.random.default_rng([PARITY_SEED, *words])


@dataclass
class Run:
    """Designs in order: candidate index (None if unknown), printed thousandths, score."""

    name: str
    indices: list
    k: np.ndarray
    scores: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    means: list = field(default_factory=list)

    @classmethod
    def from_engine(cls, name, result) -> Run:
        designs = result["designs"]
        judged = all("errors" in d for d in designs)  # not without a surrogate
        return cls(name, [d["index"] for d in designs], np.array([d["k"] for d in designs], np.int64).reshape(len(designs), -1),
                   [d["score"] for d in designs], [d["errors"] for d in designs] if judged else [],
                   [d["mean"] for d in designs] if judged else [])  # fmt: skip


class RawSource:
    """The raw generator row of a candidate, from Python onnxruntime (hzn1 row = index)."""

    def __init__(self, generator_path, target, seed, constraint_args, elements, threshold):
        import onnxruntime as ort

        from hea_zoo.artifact import decode_metadata

        self.session = ort.InferenceSession(str(generator_path), providers=["CPUExecutionProvider"])
        self.meta = decode_metadata(dict(self.session.get_modelmeta().custom_metadata_map))
        self.target = np.asarray(target, np.float32)
        self.seed = seed
        self.constraints = design_reference.constraints(elements, threshold=threshold, **constraint_args)

    def raw(self, index: int) -> np.ndarray:
        z = artifact.noise(self.seed, 1, int(self.meta["latent_dim"]), start_row=index)
        (out,) = self.session.run(["composition"], {"z": z, "condition": self.target[None, :]})
        return out[0]

    def fragile(self, index: int, trials: int = 16) -> bool:
        """Does the printed composition change under float32-sized perturbations of the raw row?"""
        raw = self.raw(index).astype(np.float64)
        base = design_reference.repair(raw, self.constraints)
        rng = np.random.default_rng(index)
        for _ in range(trials):
            bumped = raw * (1 + rng.uniform(-2e-6, 2e-6, raw.shape))
            k = design_reference.repair(bumped, self.constraints)
            if (k is None) != (base is None) or (k is not None and not np.array_equal(k, base)):
                return True
        return False


def _near(a: float, b: float, rtol: float) -> bool:
    return abs(a - b) <= rtol * max(abs(a), abs(b), 1e-3)


def first_difference(a: Run, b: Run) -> int | None:
    for i in range(max(len(a.k), len(b.k))):
        if i >= len(a.k) or i >= len(b.k):
            return i
        same_index = a.indices[i] is None or b.indices[i] is None or a.indices[i] == b.indices[i]
        if not same_index or not np.array_equal(a.k[i], b.k[i]):
            return i
    return None


def explain(a: Run, b: Run, i: int, raw: RawSource, tolerance: float) -> str | None:
    """Why the runs differ from position i on, if it is an edge case; else None."""
    if i >= len(a.k) or i >= len(b.k):
        return None
    for run in (a, b):
        index = run.indices[i]
        if index is not None and raw.fragile(index):
            return f"candidate {index} ({run.name}) prints on a 0.001 rounding boundary"
    if a.scores and b.scores and _near(a.scores[i], b.scores[i], SCORE_RTOL):
        return f"candidates {a.indices[i]} and {b.indices[i]} tie in score to float32 rounding"
    for run in (a, b):
        if run.errors and any(_near(e, tolerance, SCORE_RTOL) for e in run.errors[i]):
            return f"candidate {run.indices[i]} ({run.name}) sits on the tolerance"
    # A near tie anywhere above i reorders the ranking (sorted by score) from there on.
    for run in (a, b):
        for j in range(min(i, len(run.scores) - 1)):
            if _near(run.scores[j], run.scores[j + 1], SCORE_RTOL):
                return f"{run.name}: designs {j + 1} and {j + 2} tie in score to float32 rounding"
    return None


def compare(a: Run, b: Run, raw: RawSource, tolerance: float) -> str | None:
    """Asserts that two runs gave the same designs (same candidates, same printed
    compositions, predictions and scores equal to float32 rounding), or that they part at
    an edge case; returns the edge case's description, None when equal."""
    i = first_difference(a, b)
    if i is None:
        if a.means and b.means:
            np.testing.assert_allclose(np.array(a.means), np.array(b.means), rtol=PREDICTION_RTOL)
        if a.scores and b.scores:
            np.testing.assert_allclose(np.array(a.scores), np.array(b.scores), rtol=SCORE_RTOL, atol=1e-7)
        return None
    why = explain(a, b, i, raw, tolerance)
    assert why is not None, (
        f"{a.name} and {b.name} part at design {i + 1} without an edge case:\n"
        f"  {a.name}: {a.indices[i:i + 3]} {a.k[i:i + 1].tolist()}\n  {b.name}: {b.indices[i:i + 3]} {b.k[i:i + 1].tolist()}"
    )
    # Before the first difference everything agrees.
    if a.means and b.means and i > 0:
        np.testing.assert_allclose(np.array(a.means[:i]), np.array(b.means[:i]), rtol=PREDICTION_RTOL)
    return why


def k_from_fractions(fractions: np.ndarray) -> np.ndarray:
    """Printed fractions (multiples of 0.001, as a table holds them) to thousandths."""
    k = np.rint(np.asarray(fractions, np.float64) * 1000)
    np.testing.assert_allclose(k / 1000, fractions, atol=2e-7)  # really on the 0.001 grid
    return k.astype(np.int64)

"""Summarize the bundled dataset and draw its K-vs-G scatter (docs/dataset_scatter.png).

    python examples/dataset_figure.py [OUT.png]        # default docs/dataset_scatter.png

Prints the property ranges, percentiles and the G-K correlation quoted in docs/DATASET.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import hea_zoo  # noqa: E402
from hea_zoo.data import oracle


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/dataset_scatter.png")
    ds = hea_zoo.load_dataset()
    g, k = ds.properties[:, 0], ds.properties[:, 1]
    d = oracle.descriptors(ds.compositions)
    print(f"rows: {len(ds)} (train {len(ds.train_index)}, test {len(ds.test_index)})")
    for name, unit, v in (("shear modulus", "GPa", g), ("fracture toughness", "MPa*m^0.5", k)):
        q = np.percentile(v, [0, 5, 50, 95, 100])
        print(f"{name} [{unit}]: min {q[0]:.1f}, q5 {q[1]:.1f}, median {q[2]:.1f}, q95 {q[3]:.1f}, max {q[4]:.1f}")
    print(f"Pearson r(G, K) = {np.corrcoef(g, k)[0, 1]:.3f}")
    ranks = lambda v: np.argsort(np.argsort(v))  # noqa: E731
    print(f"Spearman rho(G, K) = {np.corrcoef(ranks(g), ranks(k))[0, 1]:.3f}")
    n_principal = (ds.compositions >= 0.05).sum(axis=1)
    counts = np.unique(n_principal, return_counts=True)
    print("principal elements per alloy:", {int(a): int(b) for a, b in zip(*counts)})
    print("alloys containing each element:", {e: int(c) for e, c in zip(ds.elements, (ds.compositions > 0).sum(axis=0))})
    print(f"VEC range {d['vec'].min():.2f}-{d['vec'].max():.2f}; delta range {d['delta'].min():.3f}-{d['delta'].max():.3f}")

    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=120)
    sc = ax.scatter(g, k, c=d["vec"], cmap="viridis", s=14, edgecolors="none")
    fig.colorbar(sc, ax=ax, label="valence electron concentration")
    ax.set_xlabel("shear modulus G [GPa]")
    ax.set_ylabel("fracture toughness K [MPa·m$^{1/2}$]")
    ax.set_title(f"Bundled RHEA dataset: {len(ds)} alloys, r(G, K) = {np.corrcoef(g, k)[0, 1]:.2f}")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

"""Which element descriptors the surrogate reads: held-out error and interval coverage per set.

    python benchmarks/surrogate_descriptors.py                  # the sets below, seeds 0-2 (about 5 min)
    python benchmarks/surrogate_descriptors.py --seeds 0 --sets "none;valence_electrons,atomic_radius"

Each run is `train_default_surrogate(dataset, seed=s, descriptors=set)` on the bundled
train split (the ensemble on 80 % of the training alloys, its intervals calibrated on the
other 20 %), scored on the 106 held-out test alloys. One line per run, then the mean per set.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SETS = (
    "none",
    "valence_electrons",
    "valence_electrons,atomic_radius",
    "valence_electrons,atomic_radius,melting_point",
    "valence_electrons,atomic_radius,melting_point,electronegativity",
)


def run(descriptors: tuple[str, ...], seed: int) -> dict:
    import hea_zoo
    from hea_zoo.models import train_default_surrogate

    dataset = hea_zoo.load_dataset()
    start = time.perf_counter()
    model = train_default_surrogate(dataset, seed=seed, verbose=0, descriptors=descriptors)
    seconds = time.perf_counter() - start
    scores = model.score(dataset.test.compositions, dataset.test.properties)
    row = {"descriptors": list(descriptors), "seed": seed, "seconds": round(seconds, 1)}
    for name, s in scores.items():
        row[name] = {k: round(float(s[k]), 4) for k in ("r2", "mape", "interval_coverage")}
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=";".join(SETS), help="';'-separated sets of comma-separated names ('none': fractions only)")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    args = parser.parse_args(argv)
    sets = [() if s == "none" else tuple(s.split(",")) for s in args.sets.split(";")]
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    for descriptors in sets:
        for seed in seeds:
            rows.append(run(descriptors, seed))
            print(json.dumps(rows[-1]), flush=True)
    print("\nmean over seeds: set | G R² / MAPE % / coverage | K R² / MAPE % / coverage")
    for descriptors in sets:
        mine = [r for r in rows if tuple(r["descriptors"]) == descriptors]
        cells = []
        for name in ("shear_modulus", "fracture_toughness"):
            m = {k: np.mean([r[name][k] for r in mine]) for k in ("r2", "mape", "interval_coverage")}
            cells.append(f"{m['r2']:.4f} / {m['mape']:.2f} / {100 * m['interval_coverage']:.1f} %")
        print(f"{','.join(descriptors) or 'none'} | " + " | ".join(cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

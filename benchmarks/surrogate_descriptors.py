"""Which element descriptors the surrogate reads: held-out error and interval coverage per set.

    python benchmarks/run.py --only surrogate_descriptors       # the five sets, seeds 0-2 (about 5 min)
    python benchmarks/run.py --only surrogate_descriptors --descriptor-seeds 0 \\
        --descriptor-sets "none;valence_electrons,atomic_radius"

Each run is `train_default_surrogate(dataset, seed=s, descriptors=set)` on the bundled
train split (the ensemble on 80 % of the training alloys, its intervals calibrated on the
other 20 %), scored on the 106 held-out test alloys. One line per run, then the mean per set.
"""

from __future__ import annotations

import json
import time

import numpy as np


def run_one(descriptors: tuple[str, ...], seed: int, epochs: int | None = None) -> dict:
    import hea_zoo
    from hea_zoo.models import train_default_surrogate

    dataset = hea_zoo.load_dataset()
    start = time.perf_counter()
    model = train_default_surrogate(dataset, epochs=epochs, seed=seed, verbose=0, descriptors=descriptors)
    seconds = time.perf_counter() - start
    scores = model.score(dataset.test.compositions, dataset.test.properties)
    row = {"descriptors": list(descriptors), "seed": seed, "seconds": round(seconds, 1)}
    for name, s in scores.items():
        row[name] = {k: round(float(s[k]), 4) for k in ("r2", "mape", "interval_coverage")}
    return row


def run(settings, context) -> dict:
    """The study (``python benchmarks/run.py --only surrogate_descriptors``): one row per set and seed."""
    sets = [() if s == "none" else tuple(s.split(",")) for s in settings.descriptor_sets]
    rows = []
    for descriptors in sets:
        for seed in settings.descriptor_seeds:
            rows.append(run_one(descriptors, seed, settings.descriptor_epochs))
            print(json.dumps(rows[-1]), flush=True)
    means = []
    for descriptors in sets:
        mine = [r for r in rows if tuple(r["descriptors"]) == descriptors]
        properties = [k for k in mine[0] if isinstance(mine[0][k], dict)]
        means.append({"descriptors": list(descriptors), "seeds": len(mine)} | {
            name: {k: float(np.mean([r[name][k] for r in mine])) for k in ("r2", "mape", "interval_coverage")}
            for name in properties
        })  # fmt: skip
    return {"rows": rows, "means": means}


def markdown(record: dict) -> str:
    means = record["means"]
    properties = [k for k in means[0] if isinstance(means[0][k], dict)]
    lines = [
        "# The surrogate's element descriptors",
        "",
        f"Command: `{record['command']}` ({record['date']}, {record['seconds']:.0f} s). Mean over seeds "
        f"{list(record['settings']['descriptor_seeds'])} of the held-out R², MAPE (%) and 90 % interval coverage.",
        "",
        "| descriptors | " + " | ".join(f"{p} R² / MAPE % / coverage" for p in properties) + " |",
        "|---" * (1 + len(properties)) + "|",
    ]
    for m in means:
        cells = [f"{m[p]['r2']:.4f} / {m[p]['mape']:.2f} / {100 * m[p]['interval_coverage']:.1f} %" for p in properties]
        lines.append(f"| {','.join(m['descriptors']) or 'none'} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"

"""Does the flow's typicality score say which designs to trust? Oracle hit rate by log-density.

    python benchmarks/run.py --only typicality            # cae, cvae, wcgan, flow; 100 targets (about 1 min)
    python benchmarks/run.py --only typicality --typicality-generators cae --typicality-targets 30

For each exported generator, `design` with its defaults (20 designs, seed i at target i) at
the 100 reachable targets of the design benchmark (`novelty_conditions(dataset, 100, 0)`),
with the `log_prob` column from `exported/flow_log_prob.onnx` (`Designer.from_exported(...,
typicality=True)`). The designs are judged by the oracle columns of the same table (the
design benchmark's `metrics.mape` and `metrics.hit_rate`) and grouped by their
log-density against the training alloys' own (each at its own properties): below the
training alloys' 1st percentile, between the 1st and 5th, and above the 5th. One line per
group: designs, oracle MAPE, oracle hit rate (every property within 5 %).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np


def training_log_prob(exported: Path, compositions: np.ndarray, conditions: np.ndarray) -> np.ndarray:
    """The flow's log-density of each training alloy at its own properties."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(exported / "flow_log_prob.onnx"), providers=["CPUExecutionProvider"])
    name = session.get_outputs()[0].name
    feed = {"composition": compositions.astype(np.float32), "condition": conditions.astype(np.float32)}
    return np.asarray(session.run([name], feed)[0], dtype=np.float64).reshape(-1)


BANDS = ("< 1st pct", "1st-5th pct", ">= 5th pct", "all")


def run(settings, context) -> dict:
    """The study (``python benchmarks/run.py --only typicality``): one row per generator and band."""
    import hea_zoo
    from hea_zoo.evaluation import metrics
    from hea_zoo.evaluation.experiments import novelty_conditions
    from hea_zoo.serving.design import Designer

    exported = Path(context.exported)
    dataset = hea_zoo.load_dataset()
    targets = np.asarray(novelty_conditions(dataset, settings.typicality_targets, seed=0).conditions, dtype=np.float64)
    train_lp = training_log_prob(exported, np.asarray(dataset.train.compositions), np.asarray(dataset.train.properties))
    p1, p5 = np.percentile(train_lp, [1, 5])
    rows = []
    for name in settings.typicality_generators:
        start = time.perf_counter()
        designer = Designer.from_exported(name, exported, typicality=True)
        lp, achieved, wanted = [], [], []
        for i, target in enumerate(targets):
            table = designer.design(target, n=20, seed=settings.seed + i).table
            lp.append(table["log_prob"].to_numpy(np.float64))
            achieved.append(table[[f"{c}_oracle" for c in designer.condition_names]].to_numpy(np.float64))
            wanted.append(np.tile(target, (len(table), 1)))
        lp, achieved, wanted = np.concatenate(lp), np.concatenate(achieved), np.concatenate(wanted)
        masks = (lp < p1, (lp >= p1) & (lp < p5), lp >= p5, np.ones_like(lp, dtype=bool))
        for label, m in zip(BANDS, masks):
            row = {"generator": name, "band": label, "designs": int(m.sum()), "share": float(m.mean()),
                   "mape": None, "hit5": None}  # fmt: skip
            if m.any():
                row["mape"] = float(metrics.mape(achieved[m], wanted[m]).mean)
                row["hit5"] = float(metrics.hit_rate(achieved[m], wanted[m], 0.05))
            rows.append(row)
        print(f"[typicality] {name}: {time.perf_counter() - start:.0f} s", flush=True)
    return {
        "training_log_prob": {"p1": float(p1), "p5": float(p5), "median": float(np.median(train_lp)),
                              "alloys": int(len(train_lp))},
        "targets": int(len(targets)),
        "rows": rows,
    }


def markdown(record: dict) -> str:
    t = record["training_log_prob"]
    lines = [
        "# Typicality: oracle accuracy of `design`'s designs by the flow's log-density",
        "",
        f"Command: `{record['command']}` ({record['date']}, {record['seconds']:.0f} s); 20 designs at each of "
        f"{record['targets']} reachable targets.",
        "",
        f"Training alloys' log p at their own properties: 1st percentile {t['p1']:.1f}, 5th {t['p5']:.1f}, "
        f"median {t['median']:.1f} nats ({t['alloys']} alloys).",
        "",
        "| generator | log p band | designs | oracle MAPE % | oracle hit ±5 % |",
        "|---|---|---|---|---|",
    ]
    for r in record["rows"]:
        if r["designs"]:
            lines.append(f"| {r['generator']} | {r['band']} | {r['designs']} ({100 * r['share']:.1f} %) "
                         f"| {r['mape']:.2f} | {100 * r['hit5']:.1f} |")
        else:
            lines.append(f"| {r['generator']} | {r['band']} | 0 | – | – |")
    return "\n".join(lines) + "\n"

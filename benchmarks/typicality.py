"""Does the flow's typicality score say which designs to trust? Oracle hit rate by log-density.

    python benchmarks/typicality.py                       # cae, cvae, wcgan, flow; 100 targets (about 1 min)
    python benchmarks/typicality.py --generators cae --targets 30

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

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def training_log_prob(exported: Path, compositions: np.ndarray, conditions: np.ndarray) -> np.ndarray:
    """The flow's log-density of each training alloy at its own properties."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(exported / "flow_log_prob.onnx"), providers=["CPUExecutionProvider"])
    name = session.get_outputs()[0].name
    feed = {"composition": compositions.astype(np.float32), "condition": conditions.astype(np.float32)}
    return np.asarray(session.run([name], feed)[0], dtype=np.float64).reshape(-1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generators", default="cae,cvae,wcgan,flow", help="comma-separated exported generators")
    parser.add_argument("--targets", type=int, default=100, help="reachable targets (default 100)")
    parser.add_argument("--exported", type=Path, default=ROOT / "exported", help="folder of exported models")
    args = parser.parse_args(argv)

    import hea_zoo
    from hea_zoo.evaluation import metrics
    from hea_zoo.evaluation.experiments import novelty_conditions
    from hea_zoo.serving.design import Designer

    dataset = hea_zoo.load_dataset()
    targets = np.asarray(novelty_conditions(dataset, args.targets, seed=0).conditions, dtype=np.float64)
    train_lp = training_log_prob(
        args.exported, np.asarray(dataset.train.compositions), np.asarray(dataset.train.properties)
    )
    p1, p5 = np.percentile(train_lp, [1, 5])
    print(f"training alloys' log p at their own properties: 1st percentile {p1:.1f}, 5th {p5:.1f}, "
          f"median {np.median(train_lp):.1f} nats ({len(train_lp)} alloys)")  # fmt: skip
    print("generator | log p band | designs | oracle MAPE % | oracle hit ±5 %")
    for name in args.generators.split(","):
        start = time.perf_counter()
        designer = Designer.from_exported(name, args.exported, typicality=True)
        lp, achieved, wanted = [], [], []
        for i, target in enumerate(targets):
            table = designer.design(target, n=20, seed=i).table
            lp.append(table["log_prob"].to_numpy(np.float64))
            achieved.append(table[[f"{c}_oracle" for c in designer.condition_names]].to_numpy(np.float64))
            wanted.append(np.tile(target, (len(table), 1)))
        lp, achieved, wanted = np.concatenate(lp), np.concatenate(achieved), np.concatenate(wanted)
        bands = (("< 1st pct", lp < p1), ("1st-5th pct", (lp >= p1) & (lp < p5)), (">= 5th pct", lp >= p5),
                 ("all", np.ones_like(lp, dtype=bool)))  # fmt: skip
        for label, m in bands:
            if m.any():
                mape = metrics.mape(achieved[m], wanted[m]).mean
                hit = 100 * metrics.hit_rate(achieved[m], wanted[m], 0.05)
                print(f"{name} | {label} | {int(m.sum())} ({100 * m.mean():.1f} %) | {mape:.2f} | {hit:.1f}")
            else:
                print(f"{name} | {label} | 0 | – | –")
        print(f"({name}: {time.perf_counter() - start:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

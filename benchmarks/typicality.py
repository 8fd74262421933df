"""Does the flow's typicality score say which designs to trust? Oracle hit rate by log-density.

    python benchmarks/typicality.py                       # cae, cvae, wcgan, flow; 100 targets (about 3 min)
    python benchmarks/typicality.py --generators cae --targets 30

For each exported generator, `design` with its defaults (20 designs, seed i at target i) at
the 100 reachable targets of the design benchmark (`novelty_conditions(dataset, 100, 0)`),
with the `log_prob` column of `exported/flow_log_prob.onnx` (`Designer.from_exported(...,
typicality=True)`). The designs are judged by the physics oracle and grouped by their
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
    from hea_zoo.data import oracle
    from hea_zoo.evaluation.experiments import novelty_conditions
    from hea_zoo.serving.design import Designer

    dataset = hea_zoo.load_dataset()
    elements = list(dataset.elements)
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
        lp, err = [], []
        for i, target in enumerate(targets):
            table = designer.design(target, n=20, seed=i).table
            x = table[elements].to_numpy(np.float64)
            y = oracle.properties(x, elements)
            ok = np.all(np.isfinite(y), axis=1)  # a design of oxygen alone has no oracle value
            lp.append(table["log_prob"].to_numpy(np.float64)[ok])
            err.append(np.abs(y[ok] - target) / np.abs(target))
        lp, err = np.concatenate(lp), np.concatenate(err)
        bands = (("< 1st pct", lp < p1), ("1st-5th pct", (lp >= p1) & (lp < p5)), (">= 5th pct", lp >= p5),
                 ("all", np.ones_like(lp, dtype=bool)))  # fmt: skip
        for label, m in bands:
            if m.any():
                mape, hit = 100 * err[m].mean(), 100 * np.all(err[m] <= 0.05, axis=1).mean()
                print(f"{name} | {label} | {int(m.sum())} ({100 * m.mean():.1f} %) | {mape:.2f} | {hit:.1f}")
            else:
                print(f"{name} | {label} | 0 | – | –")
        print(f"({name}: {time.perf_counter() - start:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Realism of `hea-zoo design` output: element counts, traces and alloy systems vs the data.

For each committed generator (exported/cae.onnx, cvae.onnx, wcgan.onnx) and each setting
of the design engine's composition defaults (minimum fraction, maximum number of
elements), design n = 20 alloys at each of the study's 20 line targets and 20 reachable
targets (the properties of training alloys) with the default selection, and compare them
with the bundled data (`hea_zoo.load_dataset()`):

- mean element count (elements >= 0.5 at.%) and the Wasserstein-1 distance between the
  element-count histograms of designs and data (`metrics.element_count_distance`);
- trace share: designs holding an element in [0.5, 3) at.% (`metrics.trace_share`);
- distinct alloy systems (elements >= 5 at.%) among the 20 designs of a target;
- accuracy by the oracle (MAPE of the designs, %) and the share of designs within 5 % of
  the target on both properties (ground truth, not the surrogate that selected them);
- within-target cosine similarity (lower = more diverse).

Runs on onnxruntime and NumPy (no TensorFlow):

    nice -n 5 python benchmarks/design_realism.py                  # every setting, ~2 min
    nice -n 5 python benchmarks/design_realism.py --min-fractions 0.005,0.03 --max-elements none
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

import hea_zoo  # noqa: E402
from hea_zoo.data import oracle  # noqa: E402
from hea_zoo.evaluation import metrics  # noqa: E402
from hea_zoo.evaluation.experiments import line_conditions  # noqa: E402
from hea_zoo.serving.design import Designer, InfeasibleError  # noqa: E402


def reachable_targets(dataset, n: int = 20, seed: int = 0) -> np.ndarray:
    """Properties of `n` training alloys drawn at random (targets real alloys reach)."""
    rng = np.random.default_rng(seed)
    train = dataset.train
    return train.properties[rng.choice(len(train), n, replace=False)].astype(np.float64)


def measure(designer: Designer, targets: np.ndarray, data_x: np.ndarray, n: int, min_fraction, max_elements,
            candidates, seed: int = 0) -> dict[str, float]:  # fmt: skip
    """Designs at every target with one setting; their realism and accuracy."""
    constraints = {"min_fraction": min_fraction, "max_elements": max_elements}
    rows, systems, cosines, hits, apes = [], [], [], [], []
    infeasible = 0
    for t in targets:
        try:
            result = designer.design(t, n=n, seed=seed, candidates=candidates, constraints=constraints)
        except InfeasibleError:
            infeasible += 1
            continue
        table = result.rows
        x = np.stack([table[e] for e in designer.elements], axis=1).astype(np.float64)
        rows.append(x)
        systems.append(result.n_systems)
        cosines.append(metrics.within_condition_cosine_similarity(x[None]).mean)
        truth = oracle.properties(x, designer.elements)
        rel = np.abs(truth - t) / np.abs(t)
        apes.append(100 * rel.mean())
        hits.append(np.mean(np.all(rel <= 0.05, axis=1)))
    x = np.concatenate(rows)
    return {
        "count": float(metrics.element_counts(x).mean()),
        "w1": metrics.element_count_distance(x, data_x),
        "trace": metrics.trace_share(x),
        "systems": float(np.mean(systems)),
        "mape": float(np.mean(apes)),
        "hit5": float(np.mean(hits)),
        "cosine": float(np.mean(cosines)),
        "infeasible": infeasible,
    }


def _parse_list(text: str, cast):
    return [None if item.strip().lower() == "none" else cast(item) for item in text.split(",")]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models-dir", default=str(ROOT / "exported"))
    p.add_argument("--models", default="cae,cvae,wcgan")
    p.add_argument("--min-fractions", default="0.005,0.01,0.02,0.03,0.04,0.05")
    p.add_argument("--max-elements", default="none,7,6")
    p.add_argument("--candidates", type=int, default=None, help="candidates per target (default: the design default)")
    p.add_argument("-n", type=int, default=20)
    args = p.parse_args(argv)
    ds = hea_zoo.load_dataset()
    data_x = ds.compositions.astype(np.float64)
    print(f"data ({ds.name}, {len(ds)} alloys): mean element count {metrics.element_counts(data_x).mean():.2f}, "
          f"trace share {100 * metrics.trace_share(data_x):.1f} %")  # fmt: skip
    targets = {"line": line_conditions(ds).astype(np.float64), "reachable": reachable_targets(ds)}
    header = ("| model | targets | min fraction | max elements | mean count | W1 count | trace share | "
              "systems / 20 | oracle MAPE | hit ±5 % | cosine |")  # fmt: skip
    print(header)
    print("|---" * 11 + "|")
    start = time.perf_counter()
    for name in args.models.split(","):
        designer = Designer.from_exported(name, args.models_dir)
        for f_min in _parse_list(args.min_fractions, float):
            for m in _parse_list(args.max_elements, int):
                for label, t in targets.items():
                    r = measure(designer, t, data_x, args.n, f_min, m, args.candidates)
                    note = f" ({r['infeasible']} infeasible)" if r["infeasible"] else ""
                    print(f"| {name} | {label} | {f_min} | {m or '-'} | {r['count']:.2f} | {r['w1']:.2f} | "
                          f"{100 * r['trace']:.0f} % | {r['systems']:.1f} | {r['mape']:.2f} % | "
                          f"{100 * r['hit5']:.0f} % | {r['cosine']:.3f}{note} |", flush=True)  # fmt: skip
    print(f"({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Realism of `hea-zoo design` output: element counts, traces and alloy systems vs the data.

For each committed generator (exported/cae.onnx, cvae.onnx, wcgan.onnx) and each setting
of the design engine's composition defaults (minimum fraction, maximum number of
elements), design n = 20 alloys (``realism_n``) at each of the study's 20 line targets and 20
(``realism_targets``) reachable
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

    nice -n 5 python benchmarks/run.py --only design_realism        # every setting, ~2 min
    nice -n 5 python benchmarks/run.py --only design_realism --realism-min-fractions 0.005,0.03 \\
        --realism-max-elements none --realism-models cae,cvae,wcgan,flow
"""

from __future__ import annotations

import numpy as np

import hea_zoo
from hea_zoo.data import oracle
from hea_zoo.evaluation import metrics
from hea_zoo.evaluation.experiments import line_conditions
from hea_zoo.serving.design import Designer, InfeasibleError


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


COLUMNS = ("model", "targets", "min_fraction", "max_elements", "count", "w1", "trace", "systems", "mape",
           "hit5", "cosine", "infeasible")


def run(settings, context) -> dict:
    """The study (``python benchmarks/run.py --only design_realism``): one row per model, setting and target set."""
    ds = hea_zoo.load_dataset()
    data_x = ds.compositions.astype(np.float64)
    line = line_conditions(ds).astype(np.float64)
    targets = {"line": line[: settings.realism_targets], "reachable": reachable_targets(ds, settings.realism_targets)}
    rows = []
    for name in settings.realism_models:
        designer = Designer.from_exported(name, context.exported)
        for f_min in settings.realism_min_fractions:
            for m in settings.realism_max_elements:
                for label, t in targets.items():
                    r = measure(designer, t, data_x, settings.realism_n, f_min, m, settings.realism_candidates,
                                seed=settings.seed)  # fmt: skip
                    rows.append({"model": name, "targets": label, "min_fraction": f_min, "max_elements": m, **r})
                    print(_row(rows[-1]), flush=True)
    return {
        "data": {"name": ds.name, "alloys": len(ds), "count": float(metrics.element_counts(data_x).mean()),
                 "trace": float(metrics.trace_share(data_x))},
        "rows": rows,
    }


def _row(r: dict) -> str:
    note = f" ({r['infeasible']} infeasible)" if r["infeasible"] else ""
    return (f"| {r['model']} | {r['targets']} | {r['min_fraction']} | {r['max_elements'] or '-'} | {r['count']:.2f} "
            f"| {r['w1']:.2f} | {100 * r['trace']:.0f} % | {r['systems']:.1f} | {r['mape']:.2f} % "
            f"| {100 * r['hit5']:.0f} % | {r['cosine']:.3f}{note} |")  # fmt: skip


def markdown(record: dict) -> str:
    d = record["data"]
    s = record["settings"]
    lines = [
        "# Design realism: every setting measured",
        "",
        f"Command: `{record['command']}` ({record['date']}, {record['seconds']:.0f} s, load average "
        f"{record['machine']['load_average']} at the start); {s['realism_n']} designs at each of "
        f"{s['realism_targets']} line and {s['realism_targets']} reachable targets, seed {s['seed']}, candidates "
        f"{s['realism_candidates'] or 'the design default'}.",
        "",
        f"data ({d['name']}, {d['alloys']} alloys): mean element count {d['count']:.2f}, trace share "
        f"{100 * d['trace']:.1f} %",
        "",
        "| model | targets | min fraction | max elements | mean count | W1 count | trace share | "
        "systems / 20 | oracle MAPE | hit ±5 % | cosine |",
        "|---" * 11 + "|",
    ]
    lines += [_row(r) for r in record["rows"]]
    return "\n".join(lines) + "\n"

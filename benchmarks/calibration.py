"""Held-out coverage of the surrogate's calibrated 90 % intervals, and MPEA scores before and
after the duplicates fix.

    nice -n 5 python benchmarks/run.py --only calibration          # full run (about 20 min on 2 cores at load 2-3)
    python benchmarks/run.py --only calibration --tiny --out /tmp/c  # a smoke run (not a result)

What it measures (`train_default_surrogate`: on 250 training alloys or more the ensemble
trains on 80 % of them and calibrates its intervals on the other 20 %, split by composition
group; on fewer, as on the MPEA tables, it calibrates on 5-fold cross-conformal scores of
every training alloy):

1. Bundled data, group split seed 0: coverage per property, by tercile of ensemble spread,
   mean width. Also the mean over `calibration_bundled_splits` seeds.
2. MPEA (``calibration_tasks``: ``hardness``, hardness + calculated Young's modulus;
   ``tension``, tension yield strength + elongation at room temperature): mean and spread
   of the same over `calibration_splits` random group splits (40: a tercile of a split
   holds 5-8 test alloys, and the mean of a tercile over 20 splits still moves by about 3
   points from one set of 20 splits to the next).
3. MPEA hardness + calculated Young's modulus (the first ``min(calibration_splits, 5)``
   splits) before the duplicates fix (every row kept, rows split at random: compositions in
   both train and test) and after (median per composition, group split): held-out R², MAPE,
   and how many test rows have their exact composition in train.

The harness writes ``benchmarks/results/calibration.json`` and ``calibration.md`` (or ``--out``).
"""

from __future__ import annotations

import dataclasses
import os
import resource
import time

import numpy as np

MPEA_TASKS = {
    "mpea hardness + E_calc": dict(properties=["hardness", "youngs_modulus_calc"]),
    "mpea tension YS + elongation": dict(properties=["yield_strength", "elongation"], test_type="tension"),
}
TASK_KEYS = {"hardness": "mpea hardness + E_calc", "tension": "mpea tension YS + elongation"}
"""The names of `MPEA_TASKS` in the setting ``calibration_tasks``."""


def _coverage(dataset, epochs: int, seed: int) -> dict:
    from hea_zoo.models import train_default_surrogate

    model = train_default_surrogate(dataset, epochs=epochs, seed=seed)
    scores = model.score(dataset.test.compositions, dataset.test.properties)
    return {
        name: {
            k: s[k]
            for k in ("r2", "mape", "coverage_2std", "interval_coverage", "interval_coverage_by_spread",
                      "interval_width", "interval_relative_width", "n")  # fmt: skip
            if k in s
        }
        for name, s in scores.items()
    } | {
        "_calibration_size": model.calibration_size,
        "_power": dict(zip(model.property_names, model.interval_power.numpy().astype(float).tolist())),
    }


def _summary(runs: list[dict]) -> dict:
    """Mean and standard deviation over splits, per property and statistic."""
    out = {}
    for name in [k for k in runs[0] if not k.startswith("_")]:
        cov = np.array([r[name]["interval_coverage"] for r in runs])
        ter = np.array([r[name]["interval_coverage_by_spread"] for r in runs])
        out[name] = {
            "splits": len(runs),
            "coverage_mean": float(cov.mean()),
            "coverage_std": float(cov.std(ddof=1)) if len(runs) > 1 else 0.0,
            "coverage_min": float(cov.min()),
            "coverage_max": float(cov.max()),
            "tercile_mean": ter.mean(axis=0).tolist(),
            "width_mean": float(np.mean([r[name]["interval_width"] for r in runs])),
            "power_mean": float(np.mean([r["_power"][name] for r in runs])),
            "calibration_size_mean": float(np.mean([r["_calibration_size"] for r in runs])),
            "relative_width_mean": float(np.mean([r[name]["interval_relative_width"] for r in runs])),
            "coverage_2std_mean": float(np.mean([r[name]["coverage_2std"] for r in runs])),
            "r2_mean": float(np.mean([r[name]["r2"] for r in runs])),
            "mape_mean": float(np.mean([r[name]["mape"] for r in runs])),
            "test_rows_mean": float(np.mean([r[name]["n"] for r in runs])),
        }
    return out


def _leak(dataset) -> int:
    """Test rows whose composition group also has rows in train."""
    train = set(dataset.groups[dataset.train_index].tolist())
    return int(sum(g in train for g in dataset.groups[dataset.test_index]))


def _before_after(epochs: int, seeds: list[int]) -> dict:
    from hea_zoo.data.datasets import load_dataset
    from hea_zoo.models import train_default_surrogate

    task = MPEA_TASKS["mpea hardness + E_calc"]
    out = {}
    for label, policy in (("before (keep rows, row split)", "keep"), ("after (median, group split)", "median")):
        runs, leaks, sizes = [], [], []
        for seed in seeds:
            ds = load_dataset("mpea", dropna=True, duplicates=policy, seed=seed, verbose=False, **task)
            if policy == "keep":  # the old behaviour: rows permuted one by one
                order = np.random.default_rng(seed).permutation(len(ds))
                n_test = int(round(len(ds) * 0.2))
                ds = dataclasses.replace(
                    ds, train_index=np.sort(order[n_test:]), test_index=np.sort(order[:n_test]),
                    _subsets={},
                )  # fmt: skip
            leaks.append(_leak(ds))
            sizes.append((len(ds.test_index), ds.alloys_in(ds.test_index)))
            model = train_default_surrogate(ds, epochs=epochs, seed=seed, calibration_fraction=0.0)
            runs.append(model.score(ds.test.compositions, ds.test.properties))
        out[label] = {
            name: {
                "r2_mean": float(np.mean([r[name]["r2"] for r in runs])),
                "r2_std": float(np.std([r[name]["r2"] for r in runs], ddof=1)) if len(runs) > 1 else 0.0,
                "mape_mean": float(np.mean([r[name]["mape"] for r in runs])),
                "coverage_2std_mean": float(np.mean([r[name]["coverage_2std"] for r in runs])),
            }
            for name in runs[0]
        } | {
            "_test_rows_mean": float(np.mean([s[0] for s in sizes])),
            "_test_alloys_mean": float(np.mean([s[1] for s in sizes])),
            "_test_rows_with_composition_in_train_mean": float(np.mean(leaks)),
            "_splits": len(seeds),
        }
    return out


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def render(results: dict) -> str:
    lines = ["# Calibration of the surrogate's 90 % intervals", "", f"Command: `{results['command']}`", ""]
    lines += [f"Load average {results['load_average'][0]:.2f} at the start, {results['load_average'][1]:.2f} at the end "
              f"(2 cores shared); {results['seconds']:.0f} s wall, {results['cpu_seconds']:.0f} CPU s.", ""]  # fmt: skip
    lines += ["Held-out coverage (nominal 90 %); terciles of ensemble spread low / mid / high; mean width "
              "in the property's units (relative to |y| in brackets); b: mean fitted spread exponent "
              "(interval ∝ (std + eps)^b); calibration alloys per split.", ""]  # fmt: skip
    lines += ["| data | property | splits | coverage mean ± std [min, max] | by spread tercile | width | b | calibration alloys | within 2 std (uncalibrated ±) | R² | test rows |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for data, summary in results["coverage"].items():
        for prop, s in summary.items():
            lines.append(
                f"| {data} | {prop} | {s['splits']} | {_pct(s['coverage_mean'])} ± {100 * s['coverage_std']:.1f} "
                f"[{_pct(s['coverage_min'])}, {_pct(s['coverage_max'])}] | "
                + " / ".join(_pct(t) for t in s["tercile_mean"])
                + f" | {s['width_mean']:.4g} ({_pct(s['relative_width_mean'])}) | {s['power_mean']:.2f} "
                f"| {s['calibration_size_mean']:.0f} | {_pct(s['coverage_2std_mean'])} "
                f"| {s['r2_mean']:.3f} | {s['test_rows_mean']:.0f} |"
            )
    lines += ["", "MPEA hardness + calculated Young's modulus, held-out scores before and after the duplicates fix "
              "(mean over splits):", ""]  # fmt: skip
    lines += ["| | property | R² | MAPE | within 2 std | test rows (alloys) | test rows whose composition is in train |",
              "|---|---|---|---|---|---|---|"]  # fmt: skip
    for label, block in results["before_after"].items():
        for prop, s in block.items():
            if prop.startswith("_"):
                continue
            lines.append(
                f"| {label} | {prop} | {s['r2_mean']:.3f} ± {s['r2_std']:.3f} | {s['mape_mean']:.1f} % | "
                f"{_pct(s['coverage_2std_mean'])} | {block['_test_rows_mean']:.0f} ({block['_test_alloys_mean']:.0f}) | "
                f"{block['_test_rows_with_composition_in_train_mean']:.1f} |"
            )
    return "\n".join(lines) + "\n"


def _cpu_seconds() -> float:
    return float(sum(resource.getrusage(resource.RUSAGE_SELF)[:2]))


def run(settings, context) -> dict:
    """The study (``python benchmarks/run.py --only calibration``): coverage and before/after."""
    from hea_zoo.data.datasets import load_dataset
    from hea_zoo.models import SURROGATE_DEFAULTS

    splits, bundled_splits = settings.calibration_splits, settings.calibration_bundled_splits
    epochs = settings.calibration_epochs or SURROGATE_DEFAULTS["epochs"]
    start, cpu_start = time.perf_counter(), _cpu_seconds()
    load_start = os.getloadavg()[0]
    coverage = {}
    bundled_runs = [_coverage(load_dataset(seed=s, verbose=False), epochs, s) for s in range(bundled_splits)]
    coverage["bundled, seed 0"] = _summary(bundled_runs[:1])
    if len(bundled_runs) > 1:
        coverage[f"bundled, {len(bundled_runs)} splits"] = _summary(bundled_runs)
    unknown = sorted(set(settings.calibration_tasks) - set(TASK_KEYS))
    if unknown:
        raise ValueError(f"calibration_tasks: unknown {unknown}; valid: {sorted(TASK_KEYS)}")
    for label in (TASK_KEYS[key] for key in settings.calibration_tasks):
        task = MPEA_TASKS[label]
        runs = [
            _coverage(load_dataset("mpea", dropna=True, seed=s, verbose=False, **task), epochs, s)
            for s in range(splits)
        ]
        coverage[label] = _summary(runs)
        print(f"{label}: done ({time.perf_counter() - start:.0f} s)", flush=True)
    before_after = _before_after(epochs, list(range(min(splits, 5))))
    return {
        "epochs": epochs,
        "cpu_seconds": round(_cpu_seconds() - cpu_start, 1),
        "load_average": [round(load_start, 2), round(os.getloadavg()[0], 2)],
        "coverage": coverage,
        "before_after": before_after,
    }


markdown = render

"""Small campaigns of `hea_zoo.campaign.propose` on the bundled oracle as the lab, the
speed of a call, and the learner's held-out accuracy: the measurements behind
docs/CAMPAIGNS.md (a development loop; the benchmark against peers is
`python benchmarks/run.py --only campaign`).

    python examples/campaign/propose_loop.py campaign task=a seeds=0-7        # first success per seed
    python examples/campaign/propose_loop.py campaign task=a seeds=0-5 rounds=3 sources=random,mutation
    python examples/campaign/propose_loop.py campaign task=a seeds=0-7 rounds=3 learner=steps:450
    python examples/campaign/propose_loop.py sources task=a sizes=24,100,500 seeds=0-5  # one batch per source mix
    python examples/campaign/propose_loop.py speed                           # seconds per call
    python examples/campaign/propose_loop.py accuracy descriptors=valence_electrons,atomic_radius
    python examples/campaign/propose_loop.py accuracy learner=distance_intervals:1
    python examples/campaign/propose_loop.py benchmark task=mpea_yield seeds=0-29 learner=distance_intervals:1
    python examples/campaign/propose_loop.py benchmark task=mpea_yield seeds=0-29 learner=descriptors:

`benchmark` replays `benchmarks/campaign.py`'s hea_zoo campaigns (its tasks a, a_prime, b,
c, mpea_hardness, mpea_yield; its starts, batches and budget; measurements counted beyond
the start) with learner settings changed, without touching the benchmark's cache, and
prints the first success per seed with their median and mean (a seed without one counts
as 999).

Lab: start from 24 random bundled alloys without oxygen (seeded by 1000 + seed) none of
which meets the task; each round `propose` 8 alloys over the 21 bundled elements other than
oxygen, "measure" them with the oracle, append them, repeat. Reports the measurements to
the first success (24 + the position of the first alloy that meets every goal), the
successes and their distinct systems (elements >= 5 at.%), the best value (task b), and the
seconds per call in this process (the first call builds the learner's trace). Tasks: a
(G >= 70, K >= 50), a2 (G >= 80, K >= 50), b (maximize K with G >= 60), c (G >= 60,
K >= 45, density <= 9).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

TASKS = {
    "a": (("shear_modulus>=70", "fracture_toughness>=50"), None),
    "a2": (("shear_modulus>=80", "fracture_toughness>=50"), None),
    "b": (("shear_modulus>=60",), "fracture_toughness"),
    "c": (("shear_modulus>=60", "fracture_toughness>=45", "density<=9"), None),
}


def _seeds(text: str) -> list[int]:
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(t) for t in text.split(",")]


def _frame(x, elements):
    from hea_zoo.artifact import formula_strings, printed_thousandths
    from hea_zoo.data import oracle

    y = oracle.properties(x, elements)
    return pd.DataFrame({"composition": formula_strings(printed_thousandths(x, 1e-6)[0], elements),
                         "shear_modulus": y[:, 0], "fracture_toughness": y[:, 1]})  # fmt: skip


def _meets(frame, x, goals, elements) -> np.ndarray:
    from hea_zoo.data.descriptors import compute_descriptors
    from hea_zoo.serving.design.goals import parse_goal

    ok = np.ones(len(frame), bool)
    for text in goals:
        g = parse_goal(text)
        v = compute_descriptors(x, elements, [g.name])[g.name] if g.name == "density" else frame[g.name].to_numpy()
        ok &= (v >= g.lo) & (v <= g.hi)
    return ok


def start_table(seed: int, goals, n: int = 24):
    from hea_zoo.data.datasets import load_dataset
    from hea_zoo.data.elements import ELEMENTS

    ds = load_dataset()
    x = ds.compositions.astype(np.float64)
    frame = _frame(x, ELEMENTS)
    ok = ~_meets(frame, x, goals, ELEMENTS) & (x[:, ELEMENTS.index("O")] == 0)
    idx = np.random.default_rng(1000 + seed).choice(np.flatnonzero(ok), n, replace=False)
    return frame.iloc[idx].reset_index(drop=True), x[idx]


def campaign(seed: int, task: str, rounds: int, batch: int = 8, **kwargs) -> dict:
    from hea_zoo.campaign import propose
    from hea_zoo.data.elements import ELEMENTS

    goals, maximize = TASKS[task]
    frame, x = start_table(seed, goals)
    first, seconds, hits = None, [], []
    for _ in range(rounds):
        t = time.perf_counter()
        p = propose(frame, goals=goals, maximize=maximize, batch=batch, seed=seed, elements=ELEMENTS,
                    exclude=["O"], **kwargs)  # fmt: skip
        seconds.append(time.perf_counter() - t)
        new_x = np.zeros((len(p.compositions), len(ELEMENTS)))
        for j, e in enumerate(p.elements):
            new_x[:, ELEMENTS.index(e)] = p.compositions[:, j]
        new = _frame(new_x, ELEMENTS)
        met = _meets(new, new_x, goals, ELEMENTS)
        if first is None and met.any():
            first = len(frame) + int(np.flatnonzero(met)[0]) + 1
        hits += [tuple(e for e, v in zip(ELEMENTS, row) if v >= 0.05) for row in new_x[met]]
        frame, x = pd.concat([frame, new], ignore_index=True), np.vstack([x, new_x])
    out = {"seed": seed, "first_success": first, "successes": len(hits), "systems": len(set(hits)),
           "measurements": len(frame), "first_call_s": round(seconds[0], 2),
           "median_call_s": round(float(np.median(seconds[1:] or seconds)), 2)}  # fmt: skip
    if maximize:
        g = frame["shear_modulus"].to_numpy()
        k = frame[maximize].to_numpy()
        out["best"] = round(float(k[g >= 60].max()), 2) if (g >= 60).any() else None
    return out


SOURCE_MIXES = ("random", "random,mutation", "random,mutation,prior", "random,mutation,prior,generator")


def sources(task: str, sizes, seeds) -> None:
    """One `propose` batch (8) per source mix from tables of each size (random bundled alloys
    without oxygen, none meeting the task, seeded as in `campaign`), judged by the oracle:
    the batch's successes and its best goal attainment min_i(y_i / t_i) (>= 1 meets every
    goal), with the seconds of the call. Prints a JSON line per (size, seed, mix) and a
    summary per (size, mix)."""
    from hea_zoo.campaign import propose
    from hea_zoo.data.elements import ELEMENTS
    from hea_zoo.serving.design.goals import parse_goal

    goals, maximize = TASKS[task]
    parsed = [parse_goal(g) for g in goals]
    summary = {}
    for n in sizes:
        for seed in seeds:
            frame, _ = start_table(seed, goals, n)
            for mix in SOURCE_MIXES:
                t = time.perf_counter()
                p = propose(frame, goals=goals, maximize=maximize, batch=8, seed=seed, elements=ELEMENTS,
                            exclude=["O"], sources=tuple(mix.split(",")))  # fmt: skip
                seconds = time.perf_counter() - t
                new_x = np.zeros((len(p.compositions), len(ELEMENTS)))
                for j, e in enumerate(p.elements):
                    new_x[:, ELEMENTS.index(e)] = p.compositions[:, j]
                new = _frame(new_x, ELEMENTS)
                met = _meets(new, new_x, goals, ELEMENTS)
                attain = np.min([new[g.name].to_numpy() / g.lo for g in parsed if g.name in new], axis=0)
                row = {"size": n, "seed": seed, "sources": mix, "successes": int(met.sum()),
                       "best_attainment": round(float(attain.max()), 4), "seconds": round(seconds, 2)}  # fmt: skip
                print(json.dumps(row), flush=True)
                summary.setdefault((n, mix), []).append(row)
    print("| measured alloys | sources | successes in the batch of 8, mean | seeds with a success | best attainment, median | s per call, median |")
    print("|---|---|---|---|---|---|")
    for (n, mix), rows in summary.items():
        print(f"| {n} | `{mix}` | {np.mean([r['successes'] for r in rows]):.2f} | "
              f"{sum(r['successes'] > 0 for r in rows)}/{len(rows)} | "
              f"{np.median([r['best_attainment'] for r in rows]):.3f} | {np.median([r['seconds'] for r in rows]):.1f} |")  # fmt: skip


def speed() -> None:
    """Seconds per warm call at 24 and 120 measured rows, and a CLI call on 500 rows."""
    import subprocess
    import tempfile

    from hea_zoo.campaign import propose
    from hea_zoo.data.datasets import load_dataset
    from hea_zoo.data.elements import ELEMENTS

    goals = TASKS["a"][0]
    ds = load_dataset()
    full = _frame(ds.compositions.astype(np.float64), ELEMENTS)
    for n in (24, 120, 500):
        frame = full.iloc[:n]
        times = []
        for seed in range(4):
            t = time.perf_counter()
            propose(frame, goals=goals, seed=seed, elements=ELEMENTS)
            times.append(time.perf_counter() - t)
        print(json.dumps({"rows": n, "first_call_s": round(times[0], 2), "warm_calls_s": [round(v, 2) for v in times[1:]]}))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "measured.csv"
        full.iloc[:500].to_csv(path, index=False)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "hea_zoo.cli", "propose", "--data", str(path), "--goal", goals[0],
                        "--goal", goals[1], "--out", str(Path(tmp) / "next.csv")], check=True, capture_output=True)  # fmt: skip
        print(json.dumps({"cli_rows": 500, "seconds": round(time.perf_counter() - t, 2)}))


def _learner(text: str | None) -> dict:
    """``key:value,...`` learner settings: numbers, None, or for a list-valued setting
    (descriptors, hidden_units) its items joined by ``+`` (``descriptors:`` empty: the
    fractions alone; ``hidden_units:32+32``)."""
    from hea_zoo.campaign.learner import LEARNER_DEFAULTS

    out = {}
    for item in (text or "").split(","):
        if item:
            key, value = item.split(":", 1)
            if isinstance(LEARNER_DEFAULTS.get(key), tuple):
                parts = [v for v in value.split("+") if v]
                out[key] = tuple(int(v) if v.isdigit() else v for v in parts)
            else:
                out[key] = None if value == "None" else int(value) if value.isdigit() else float(value)
    return out


def benchmark_replay(task: str, seeds, learner: dict) -> None:
    """The benchmark's hea_zoo campaigns of `task` with `learner` settings (module text)."""
    from benchmarks import campaign as bench
    from benchmarks.run import Settings

    import hea_zoo.campaign as campaign_module

    plain = campaign_module.propose
    campaign_module.propose = lambda *a, **kw: plain(*a, **kw, learner=learner)  # the benchmark's calls, changed
    try:
        t = bench.TASKS[task]
        lab = bench.OracleLab(t) if t.lab == "oracle" else bench.PoolLab(t)
        firsts = []
        for seed in seeds:
            record = bench.run_campaign(t, "hea_zoo", seed, Settings(), lab=lab)
            firsts.append(bench.campaign_metrics(record, lab)["first"])
            print(json.dumps({"task": task, "seed": seed, "first": firsts[-1]}), flush=True)
    finally:
        campaign_module.propose = plain
    f = np.array([x if x is not None else 999 for x in firsts], np.float64)
    print(json.dumps({"task": task, "learner": learner, "first": firsts, "median": float(np.median(f)),
                      "mean": round(float(f.mean()), 1)}))  # fmt: skip


def learner_accuracy(descriptors: tuple[str, ...] | None, learner: dict | None = None) -> None:
    """Held-out MAPE, 90 % interval coverage and width of the campaign learner on random
    tables of the bundled alloys without oxygen (3 tables of 24, 2 of 48, 1 of 120; every
    other alloy judges), one descriptor set."""
    from hea_zoo.campaign.learner import train_campaign_model
    from hea_zoo.data.datasets import load_dataset

    ds = load_dataset()
    o = ds.elements.index("O")
    rows = np.flatnonzero(ds.compositions[:, o] == 0)
    cols = [j for j in range(len(ds.elements)) if j != o]
    x, y = ds.compositions[rows][:, cols], ds.properties[rows]
    elements = [ds.elements[j] for j in cols]
    settings = {} if descriptors is None else {"descriptors": descriptors}
    settings.update(learner or {})
    rng = np.random.default_rng(0)
    results = []
    for n in (24, 24, 24, 48, 48, 120):
        idx = rng.choice(len(x), n, replace=False)
        model = train_campaign_model(x[idx], y[idx], elements, ds.property_names, seed=0, **settings)
        rest = np.setdiff1d(np.arange(len(x)), idx)
        mean, lower, upper = model.predict_interval(x[rest])
        truth = y[rest]
        results.append([n, *(np.mean(np.abs(mean - truth) / truth, axis=0) * 100),
                        *np.mean((truth >= lower) & (truth <= upper), axis=0)])  # fmt: skip
    r = np.array(results)
    for n in (24, 48, 120):
        g_mape, k_mape, g_cov, k_cov = r[r[:, 0] == n, 1:].mean(axis=0)
        print(json.dumps({"descriptors": descriptors or "default", "rows": n, "G_mape": round(g_mape, 2),
                          "K_mape": round(k_mape, 2), "G_coverage": round(g_cov, 2), "K_coverage": round(k_cov, 2)}))


def main(argv=None) -> int:
    """``MODE KEY=VALUE ...`` (module text); MODE is campaign, speed or accuracy."""
    import warnings

    warnings.filterwarnings("ignore")
    argv = list(sys.argv[1:] if argv is None else argv)
    mode = argv[0] if argv else "campaign"
    options = dict(item.split("=", 1) for item in argv[1:])
    if mode == "speed":
        speed()
        return 0
    if mode == "sources":
        sources(options.get("task", "a"), [int(v) for v in options.get("sizes", "24,100,500").split(",")],
                _seeds(options.get("seeds", "0-5")))  # fmt: skip
        return 0
    if mode == "accuracy":
        names = options.get("descriptors", "default")
        learner_accuracy(None if names == "default" else tuple(names.split(",")), _learner(options.get("learner")))
        return 0
    if mode == "benchmark":
        benchmark_replay(options.get("task", "mpea_yield"), _seeds(options.get("seeds", "0-29")), _learner(options.get("learner")))
        return 0
    task, rounds = options.get("task", "a"), int(options.get("rounds", 12))
    kwargs = {}
    if "sources" in options:
        kwargs["sources"] = tuple(options["sources"].split(","))
    if "learner" in options:
        kwargs["learner"] = _learner(options["learner"])
    if "min_distance" in options:
        kwargs["min_distance"] = float(options["min_distance"])
    rows = []
    for seed in _seeds(options.get("seeds", "0-5")):
        rows.append(campaign(seed, task, rounds, **kwargs))
        print(json.dumps(rows[-1]), flush=True)
    firsts = [r["first_success"] for r in rows]
    found = sorted(f for f in firsts if f is not None)
    print(json.dumps({"task": task, "options": options, "first_success": firsts, "found": f"{len(found)}/{len(rows)}",
                      "median_first_success": float(np.median([f if f is not None else np.inf for f in firsts])),
                      "median_systems": float(np.median([r["systems"] for r in rows]))}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Many targets on Dask: `design_many` over a table of targets on local clusters of 1 and 2
worker processes (one thread each), and the client's memory for a large table.

    python benchmarks/run.py --only many_targets            # 1,000 targets x 32,000 candidates
    python benchmarks/run.py --only many_targets --quick    # 200 targets x 32,000 candidates

Each run is a fresh Python process (the client), so its peak resident set size is its
own (``getrusage(RUSAGE_SELF)``; the workers are other processes): it opens the models,
starts a ``LocalCluster`` of W workers (processes, one thread each, loopback), has every
worker open the models (`many.cached_designer`, timed apart as start-up), then times
`design_many` over the targets to a CSV file (the workers' designs streamed to it in
table order). Throughput is targets/s and candidates/s over that time; the scaling
efficiency is the 2-worker throughput over twice the 1-worker one. The workers' CPU time
(``getrusage`` in each worker, before and after) gives the CPU seconds a target costs and
the cores the workers actually got (CPU time over wall time): on a machine shared with
other work, wall-time scaling shows the other load, CPU per target shows the overhead of
spreading the work. The memory row designs
`many_memory_targets` targets x 20 designs (few candidates each, so it is quick: the
client's memory depends on the number of targets and designs, not on the candidates).

The cost of 10^4 targets x 10^6 candidates is estimated from the candidates/s of the
largest worker count: 10^10 candidates at that rate (linear in candidates: a target's
fixed costs, its selection and its rows, are a smaller share at 10^6 candidates, so the
estimate errs long), in hours on this machine and in core-hours (one worker = one core).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIG_TARGETS, BIG_CANDIDATES = 10_000, 1_000_000


def _targets(path: Path, count: int, seed: int) -> None:
    """`count` point targets over the bundled data's reachable region (G 40-120 GPa, K 10-50)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    pd.DataFrame({"id": [f"t{i}" for i in range(count)],
                  "shear_modulus": np.round(rng.uniform(40, 120, count), 2),
                  "fracture_toughness": np.round(rng.uniform(10, 50, count), 2)}).to_csv(path, index=False)  # fmt: skip


def _child(job: dict) -> dict:
    """One timed run in this (fresh) process: the client."""
    import logging

    from distributed import Client, LocalCluster

    from hea_zoo.serving.design import Designer, design_many, many

    designer = Designer.from_exported(job["model"], job["models_dir"])
    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=job["workers"], threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, silence_logs=logging.ERROR)  # fmt: skip
    client = Client(cluster)
    client.run(many.open_models, many._designer_spec(designer))  # every worker opens the models once
    startup = time.perf_counter() - t0
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cpu_before = sum(client.run(_cpu_seconds).values())
    t1 = time.perf_counter()
    result = design_many(designer, job["targets"], job["out"], seed=job["seed"], cluster=client, n=job["n"],
                         candidates=job["candidates"])  # fmt: skip
    seconds = time.perf_counter() - t1
    worker_cpu = sum(client.run(_cpu_seconds).values()) - cpu_before
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    client.close()
    cluster.close()
    with open(job["out"], "rb") as handle:
        rows = sum(1 for _ in handle) - 1
    return {"workers": job["workers"], "targets": result.n_targets, "designed": result.n_designed,
            "failed": len(result.failed), "candidates": job["candidates"], "n": job["n"], "rows": rows,
            "bytes": os.path.getsize(job["out"]), "startup_seconds": startup, "seconds": seconds,
            "targets_per_s": result.n_targets / seconds,
            "candidates_per_s": result.n_targets * job["candidates"] / seconds,
            "client_rss_before_mib": rss_before, "client_peak_rss_mib": peak,
            "worker_cpu_seconds": worker_cpu, "worker_cpu_per_target": worker_cpu / max(result.n_targets, 1),
            "cores_used": worker_cpu / seconds}  # fmt: skip


def _cpu_seconds() -> float:
    """User + system CPU seconds of this (worker) process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _run_child(job: dict) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), json.dumps(job)], capture_output=True,
                          text=True, env=env, cwd=ROOT)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"many_targets run {job['workers']} workers failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(settings, context) -> dict:
    """The study (``python benchmarks/run.py --only many_targets``)."""
    rows, load = [], [round(os.getloadavg()[0], 2)]
    with tempfile.TemporaryDirectory(prefix="hea_zoo-many-") as folder:
        folder = Path(folder)
        table = folder / "targets.csv"
        _targets(table, settings.many_targets, settings.seed)
        for workers in settings.many_workers:
            job = {"model": settings.many_model, "models_dir": str(context.exported), "workers": int(workers),
                   "targets": str(table), "out": str(folder / f"designs_{workers}.csv"), "seed": settings.seed,
                   "n": settings.many_n, "candidates": settings.many_candidates}  # fmt: skip
            rows.append({"kind": "throughput", **_run_child(job)})
            print(_line(rows[-1]), flush=True)
            load.append(round(os.getloadavg()[0], 2))
        outputs = [folder / f"designs_{w}.csv" for w in settings.many_workers]
        identical = len({p.read_bytes() for p in outputs}) == 1
        for p in outputs:
            p.unlink()
        memory = None
        if settings.many_memory_targets:
            big = folder / "memory.csv"
            _targets(big, settings.many_memory_targets, settings.seed + 1)
            job = {"model": settings.many_model, "models_dir": str(context.exported),
                   "workers": int(max(settings.many_workers)), "targets": str(big), "out": str(folder / "memory_out.csv"),
                   "seed": settings.seed, "n": 20, "candidates": settings.many_memory_candidates}  # fmt: skip
            memory = {"kind": "memory", **_run_child(job)}
            print(_line(memory), flush=True)
            load.append(round(os.getloadavg()[0], 2))
    by_workers = {r["workers"]: r for r in rows}
    scaling = None
    if 1 in by_workers and len(by_workers) > 1:
        most = max(by_workers)
        speedup = by_workers[most]["targets_per_s"] / by_workers[1]["targets_per_s"]
        scaling = {"workers": most, "speedup": speedup, "efficiency": speedup / most,
                   "cpu_per_target_ratio": by_workers[most]["worker_cpu_per_target"]
                   / by_workers[1]["worker_cpu_per_target"]}  # fmt: skip
    best = by_workers[max(by_workers)]
    candidates = BIG_TARGETS * BIG_CANDIDATES
    estimate = {"targets": BIG_TARGETS, "candidates_per_target": BIG_CANDIDATES, "workers": best["workers"],
                "hours": candidates / best["candidates_per_s"] / 3600,
                "core_hours": candidates / best["candidates_per_s"] * best["workers"] / 3600,
                "cpu_core_hours": best["worker_cpu_per_target"] / best["candidates"] * candidates / 3600}  # fmt: skip
    return {"model": settings.many_model, "rows": rows, "memory": memory, "scaling": scaling,
            "estimate_1e4_x_1e6": estimate, "identical_tables": identical, "load_average": load}  # fmt: skip


def _line(r: dict) -> str:
    return (f"[many_targets] {r['workers']} worker(s): {r['targets']:,} targets x {r['candidates']:,} candidates in "
            f"{r['seconds']:.1f} s ({r['targets_per_s']:.2f} targets/s, {r['candidates_per_s']:,.0f} candidates/s), "
            f"client peak {r['client_peak_rss_mib']:.0f} MiB")  # fmt: skip


def markdown(record: dict) -> str:
    lines = [
        "# Many targets on Dask (`design_many`, local clusters)",
        "",
        f"Command: `{record['command']}` ({record['date']}; {record['machine']['cores']} cores, "
        f"load average {', '.join(str(v) for v in record['load_average'])} before and after each run; "
        f"model {record['model']}). Each worker is one process with one thread.",
        "",
        "| workers | targets | candidates per target | designs per target | start-up (s) | run (s) | targets/s | "
        "candidates/s | worker CPU s per target | cores used | client peak RSS (MiB) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in record["rows"] + ([record["memory"]] if record.get("memory") else []):
        lines.append(
            f"| {r['workers']} | {r['targets']:,} | {r['candidates']:,} | {r['n']} | {r['startup_seconds']:.1f} | "
            f"{r['seconds']:.1f} | {r['targets_per_s']:.2f} | {r['candidates_per_s']:,.0f} | "
            f"{r['worker_cpu_per_target']:.3f} | {r['cores_used']:.2f} | {r['client_peak_rss_mib']:.0f} |"
        )
    lines.append("")
    s = record.get("scaling")
    if s:
        lines.append(f"Scaling: {s['workers']} workers give {s['speedup']:.2f}x one worker's throughput "
                     f"(efficiency {100 * s['efficiency']:.0f} %; target >= 1.7x). CPU per target: "
                     f"{s['cpu_per_target_ratio']:.2f}x one worker's (the work a target costs on a worker; "
                     "\"cores used\" is the workers' CPU time over the run's wall time: what the machine gave "
                     "them).")  # fmt: skip
    lines.append(f"The tables of every worker count are byte-identical: {record['identical_tables']}.")
    m = record.get("memory")
    if m:
        lines.append(
            f"Client memory for {m['targets']:,} targets x {m['n']} designs ({m['rows']:,} rows, "
            f"{m['bytes'] / 2**20:.1f} MiB of CSV): peak RSS {m['client_peak_rss_mib']:.0f} MiB "
            f"({m['client_rss_before_mib']:.0f} MiB before the run, with the models and the Dask client loaded; "
            "target < 500 MiB)."
        )
    e = record["estimate_1e4_x_1e6"]
    lines += [
        "",
        f"Estimated cost of {e['targets']:,} targets x {e['candidates_per_target']:,} candidates at the "
        f"{e['workers']}-worker rate: {e['hours']:.1f} h on this machine, {e['core_hours']:.1f} core-hours "
        "(divide by the cores of a cluster; linear in candidates, so it errs long).",
        f"From the CPU time instead (wall time moves with other load): {e['cpu_core_hours']:.1f} core-hours.",
    ]
    if record.get("tiny") or record["settings"].get("many_targets", 0) < 1000:
        lines += ["", "Smaller settings than the study's (1,000 targets): a look, not the result."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(json.dumps(_child(json.loads(sys.argv[1]))))

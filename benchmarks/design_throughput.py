"""Throughput and memory of `hea-zoo design`, end to end, as a user runs it.

Each row runs the command in a fresh process (so the peak resident set size is its own,
read from ``/usr/bin/time -v`` where available, else from the kernel's child accounting)
and writes every design to a CSV file:

    hea-zoo design -G 60 -K 35 --select closest -n N --candidates N --out designs.csv

for N = 10^3 ... 10^7, then diverse selection (-n 20) over 10^6 candidates. designs/s is
N over the wall time (start-up included); candidates/s is the candidates over it. CPU is
the user + system time of the process (worker threads run on every core): on a busy
machine wall time grows with the other load, CPU time much less, so CPU seconds are the
figure to compare across runs.

    nice -n 5 python benchmarks/run.py --only design_throughput          # 10^3 ... 10^7
    nice -n 5 python benchmarks/run.py --only design_throughput --throughput-sizes 1000,1000000 \\
        --throughput-diverse-candidates 0                                  # no diverse row

The CSV files are written to a temporary folder and removed after their rows are counted.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = ("-G", "60", "-K", "35")


def run_design(args: list[str], out: Path, models_dir: Path | None = None) -> dict[str, float]:
    """One `hea-zoo design` run: wall seconds, peak RSS (MiB), bytes written."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    command = [sys.executable, "-m", "hea_zoo.cli", "design", *TARGET, *args, "--seed", "0", "--out", str(out)]
    if models_dir is not None:
        command += ["--models-dir", str(models_dir)]
    timer = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    if timer:
        proc = subprocess.run([timer, "-v", *command], capture_output=True, text=True, env=env)
    else:  # pragma: no cover - the kernel's accounting (max over all children so far)
        proc = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {proc.stderr.strip()[-500:]}")
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    rss_kb = int(match.group(1)) if match else max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before)
    cpu = sum(float(m) for m in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", proc.stderr)) or float("nan")
    with open(out, "rb") as handle:
        lines = sum(1 for _ in handle)
    return {"seconds": seconds, "cpu": cpu, "rss_mib": rss_kb / 1024, "bytes": out.stat().st_size, "csv_lines": lines}


def run(settings, context) -> dict:
    """The study (``python benchmarks/run.py --only design_throughput``): one row per run."""
    model = settings.throughput_model
    runs = [("closest", int(n), int(n)) for n in settings.throughput_sizes]
    if settings.throughput_diverse_candidates:
        runs.append(("diverse", 20, int(settings.throughput_diverse_candidates)))
    load_before = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory(prefix="hea_zoo-throughput-") as folder:
        for select, n, candidates in runs:
            out = Path(folder) / f"designs_{select}_{n}.csv"
            args = ["--model", model, "--select", select, "-n", str(n), "--candidates", str(candidates)]
            r = run_design(args, out, context.exported)
            out.unlink()
            rows.append({"select": select, "n": n, "candidates": candidates, **r})
            print(_row(rows[-1]), flush=True)
    return {"model": model, "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)], "rows": rows}


def _row(r: dict) -> str:
    return (f"| {r['select']} | {r['n']:,} | {r['candidates']:,} | {r['seconds']:.2f} | {r['cpu']:.2f} "
            f"| {r['n'] / r['seconds']:,.0f} | {r['candidates'] / r['seconds']:,.0f} | {r['rss_mib']:.0f} "
            f"| {r['bytes'] / 1e6:.1f} |")  # fmt: skip


def markdown(record: dict) -> str:
    lines = [
        "# Throughput and memory of `hea-zoo design`",
        "",
        f"Command: `{record['command']}` ({record['date']}). Each row: `hea-zoo design --model {record['model']} "
        f"{' '.join(TARGET)} --seed 0 --select SELECT -n N --candidates C --out designs.csv` in a fresh process; "
        f"load average {record['load_average'][0]} before, {record['load_average'][1]} after, on "
        f"{record['machine']['cores']} cores; CPU = user + system seconds.",
        "",
        "| selection | n | candidates | wall [s] | CPU [s] | designs/s | candidates/s | peak RSS [MiB] | CSV [MB] |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [_row(r) for r in record["rows"]]
    return "\n".join(lines) + "\n"

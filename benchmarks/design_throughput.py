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

    nice -n 5 python benchmarks/design_throughput.py                     # 10^3 ... 10^7
    nice -n 5 python benchmarks/design_throughput.py --sizes 1000,1000000 --no-diverse
"""

from __future__ import annotations

import argparse
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


def run(args: list[str], out: Path) -> dict[str, float]:
    """One `hea-zoo design` run: wall seconds, peak RSS (MiB), bytes written."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    command = [sys.executable, "-m", "hea_zoo.cli", "design", *TARGET, *args, "--seed", "0", "--out", str(out)]
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
    return {"seconds": seconds, "cpu": cpu, "rss_mib": rss_kb / 1024, "bytes": out.stat().st_size}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1000,10000,100000,1000000,10000000", help="comma-separated N")
    p.add_argument("--model", default="cvae")
    p.add_argument("--no-diverse", action="store_true", help="skip the diverse row")
    p.add_argument("--diverse-candidates", type=int, default=1_000_000)
    p.add_argument("--keep", default=None, help="folder for the CSV files (default: a temporary one, removed)")
    args = p.parse_args(argv)
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="hea_zoo-throughput-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"hea-zoo design --model {args.model} -G 60 -K 35 --seed 0 --out designs.csv (CSV kept: {bool(args.keep)})")
    print(f"(load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; CPU = user + system seconds)")
    print("| selection | n | candidates | wall [s] | CPU [s] | designs/s | candidates/s | peak RSS [MiB] | CSV [MB] |")
    print("|---|---|---|---|---|---|---|---|---|")
    try:
        rows = [("closest", int(n), int(n)) for n in args.sizes.split(",")]
        if not args.no_diverse:
            rows.append(("diverse", 20, args.diverse_candidates))
        for select, n, candidates in rows:
            out = folder / f"designs_{select}_{n}.csv"
            r = run(["--model", args.model, "--select", select, "-n", str(n), "--candidates", str(candidates)], out)
            print(f"| {select} | {n:,} | {candidates:,} | {r['seconds']:.2f} | {r['cpu']:.2f} | {n / r['seconds']:,.0f} | "
                  f"{candidates / r['seconds']:,.0f} | {r['rss_mib']:.0f} | {r['bytes'] / 1e6:.1f} |", flush=True)  # fmt: skip
            if not args.keep:
                out.unlink()
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"(load average after: {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

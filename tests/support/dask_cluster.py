"""A real Dask cluster of local processes for the many-target tests: ``dask scheduler`` and
``dask worker`` command-line programs on the loopback interface, this repository first on
the workers' path."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.support import ROOT


@dataclass
class LocalProcesses:
    address: str
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen] = field(default_factory=list)

    def kill_worker(self, i: int) -> None:
        """Kills worker `i` (SIGKILL: no goodbye to the scheduler)."""
        self.workers[i].send_signal(signal.SIGKILL)
        self.workers[i].wait(10)


def _env() -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return dict(os.environ, PYTHONPATH=path, DASK_DISTRIBUTED__WORKER__DAEMON="False")


def _wait_workers(address: str, count: int, seconds: float = 60) -> None:
    from distributed import Client

    with Client(address, timeout=seconds) as client:
        client.wait_for_workers(count, timeout=seconds)


@contextlib.contextmanager
def dask_processes(folder: Path, workers: int = 2) -> Iterator[LocalProcesses]:
    """A scheduler and `workers` single-threaded workers without nannies (a killed worker
    stays dead), all on 127.0.0.1; stopped on exit."""
    scheduler_file = folder / "scheduler.json"
    logs = [open(folder / "scheduler.log", "wb")]
    env = _env()
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
         "--scheduler-file", str(scheduler_file)],
        stdout=logs[0], stderr=subprocess.STDOUT, env=env, cwd=folder,
    )  # fmt: skip
    procs = LocalProcesses("", scheduler)
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() or not scheduler_file.read_text().strip():
            if scheduler.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dask scheduler did not start: {(folder / 'scheduler.log').read_text()[-2000:]}")
            time.sleep(0.1)
        time.sleep(0.1)
        procs.address = json.loads(scheduler_file.read_text())["address"]
        for i in range(workers):
            logs.append(open(folder / f"worker{i}.log", "wb"))
            procs.workers.append(subprocess.Popen(
                [sys.executable, "-m", "dask", "worker", procs.address, "--host", "127.0.0.1", "--nthreads", "1",
                 "--no-nanny", "--no-dashboard", "--name", f"w{i}"],
                stdout=logs[-1], stderr=subprocess.STDOUT, env=env, cwd=folder,
            ))  # fmt: skip
        _wait_workers(procs.address, workers)
        yield procs
    finally:
        for proc in [*procs.workers, scheduler]:
            if proc.poll() is None:
                proc.terminate()
        for proc in [*procs.workers, scheduler]:
            try:
                # A worker that has lost its peer can spend 10 s in a graceful close; a test
                # cluster has nothing to save, so it gets 2 s before SIGKILL.
                proc.wait(2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        for log in logs:
            log.close()

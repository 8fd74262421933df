"""Many targets on a real Dask cluster of local processes (a scheduler and two single-thread
workers on 127.0.0.1, started with the ``dask`` command line): the table equals the
one-process table byte for byte, and a worker killed mid-run loses no target."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

# Looked up, not imported: importing Dask's distributed at collection costs every pytest-xdist
# worker ~1.5 s CPU, also the worker that never runs this file.
if importlib.util.find_spec("distributed") is None:
    pytest.skip("Dask distributed is not installed (pip install -e '.[cluster]')", allow_module_level=True)

from hea_zoo.serving.design import Designer, design_many, many, target_seed  # noqa: E402
from tests.support.cli import env  # noqa: E402
from tests.support.dask_cluster import dask_processes  # noqa: E402

TARGETS = 50


@pytest.fixture(scope="module")
def processes(tmp_path_factory):
    with dask_processes(tmp_path_factory.mktemp("dask"), workers=2) as procs:
        yield procs


@pytest.fixture(scope="module")
def designer():
    return Designer.from_exported("cae")


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """50 point targets across the training data, no id column (a row's id is its line)."""
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("targets") / "targets.csv"
    pd.DataFrame({"shear_modulus": np.round(rng.uniform(40, 120, TARGETS), 2),
                  "fracture_toughness": np.round(rng.uniform(10, 50, TARGETS), 2)}).to_csv(path, index=False)  # fmt: skip
    return path


def test_cluster_table_equals_one_process(processes, designer, table, tmp_path, capsys):
    from hea_zoo.cli import main

    here, there, blocks = tmp_path / "here.csv", tmp_path / "there.csv", tmp_path / "blocks.csv"
    design_many(designer, table, here, seed=4, workers=0, n=10, candidates=2000)
    code = main(["design", "--targets", str(table), "--out", str(there), "--seed", "4", "-n", "10",
                 "--candidates", "2000", "--cluster", processes.address])  # fmt: skip
    stdout = capsys.readouterr().out
    assert code == 0 and f"Dask at {processes.address} (2 workers, 2 threads)" in stdout
    assert there.read_bytes() == here.read_bytes()
    # One target per task: 50 tasks finishing in any order on the two workers, the same bytes.
    result = design_many(designer, table, blocks, seed=4, cluster=processes.address, block=1, n=10, candidates=2000)
    assert result.n_designed == TARGETS and blocks.read_bytes() == here.read_bytes()
    frame = pd.read_csv(here)
    assert list(dict.fromkeys(frame["target_id"])) == list(range(2, TARGETS + 2))
    assert len(frame) == 10 * TARGETS
    # Each worker opened the models once for its share of the 2 + 50 tasks.
    from distributed import Client

    with Client(processes.address) as client:
        assert sorted(client.run(many.models_opened).values()) == [1, 1]


def test_a_worker_killed_mid_run_loses_no_target(processes, designer, table, tmp_path):
    """Kill one of the two workers when a fifth of the targets are done: the scheduler runs
    its tasks again on the other, and every target's designs are in the table (checked
    against single designs for three of them); or the run fails with one line and nothing
    is left at the output."""
    out = tmp_path / "designs.csv"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hea_zoo.cli", "design", "--targets", str(table), "--out", str(out), "--seed", "9",
         "-n", "5", "--candidates", "4000", "--cluster", processes.address],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(),
    )  # fmt: skip
    lines = []
    for line in proc.stderr:  # the progress lines over targets
        lines.append(line)
        if line.startswith("design: "):
            break
    assert proc.poll() is None, "".join(lines)
    processes.kill_worker(1)
    killed_at = time.monotonic()
    stdout, stderr = proc.communicate(timeout=300)
    stderr = "".join(lines) + stderr
    if proc.returncode != 0:
        errors = [s for s in stderr.splitlines() if not s.startswith(("design: ", "note: "))]
        assert len(errors) == 1 and "error: --cluster:" in errors[0], stderr
        assert not out.exists() and not list(tmp_path.glob(".designs*"))
        return
    print(f"completed {time.monotonic() - killed_at:.1f} s after the kill")
    assert f"designed {TARGETS} of {TARGETS} targets" in stdout, stderr
    frame = pd.read_csv(out)
    assert list(dict.fromkeys(frame["target_id"])) == list(range(2, TARGETS + 2)) and len(frame) == 5 * TARGETS
    targets = pd.read_csv(table)
    for line in (2, 26, TARGETS + 1):
        row = targets.iloc[line - 2]
        alone = designer.design({"shear_modulus": row["shear_modulus"], "fracture_toughness": row["fracture_toughness"]},
                                n=5, seed=target_seed(9, line), candidates=4000)  # fmt: skip
        assert list(frame.loc[frame["target_id"] == line, "formula"]) == list(alone.table["formula"])

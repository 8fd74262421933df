"""Many targets in one process (hea_zoo.serving.design.many; docs/DESIGN_ENGINE.md section 8):
each target's rows are the rows of a single design with its derived seed, a bad row names
its line and stops before any design, a failed target keeps the others' designs, and a
single design never imports Dask."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from hea_zoo.errors import DataError, HeaZooError, TargetError
from hea_zoo.serving.design import Designer, design_many, many, target_seed
from tests.support.cli import env, run

CANDIDATES = 1000


@pytest.fixture(scope="module")
def designer():
    return Designer.from_exported("cae")


def write(path, text: str):
    path.write_text(text)
    return path


def test_target_seed_is_the_documented_hash():
    digest = hashlib.sha256(b"hea_zoo target seed 7 a7").digest()
    assert target_seed(7, "a7") == int.from_bytes(digest[:4], "little")
    assert target_seed(7, 12) == target_seed(7, "12")  # a line number is its text
    seeds = {target_seed(s, i) for s in (0, 1) for i in range(200)}
    assert len(seeds) == 400 and all(0 <= s < 2**32 for s in seeds)
    with pytest.raises(HeaZooError, match="seed"):
        target_seed(-1, "a")


def test_each_target_is_its_single_design(designer, tmp_path):
    """Point targets, with an id column: the many-target CSV holds, for every target, the
    bytes `design --seed <target seed>` writes for it alone, after its id and seed."""
    table = write(tmp_path / "targets.csv", "id,shear_modulus,fracture_toughness\nA,60,35\n\"b,2\",90,40\nc,45.5,20\n")
    out = tmp_path / "designs.csv"
    result = design_many(designer, table, out, seed=11, workers=0, n=5, candidates=CANDIDATES)
    assert (result.n_targets, result.n_designed, result.n_designs, result.failed) == (3, 3, 15, [])
    assert result.workers == "this process" and result.out == out
    lines = out.read_bytes().splitlines(keepends=True)
    for i, (tid, g, k) in enumerate([("A", 60, 35), ("b,2", 90, 40), ("c", 45.5, 20)]):
        alone = tmp_path / f"alone{i}.csv"
        designer.design({"shear_modulus": g, "fracture_toughness": k}, n=5, seed=target_seed(11, tid),
                        candidates=CANDIDATES, out=alone)  # fmt: skip
        head, *rows = alone.read_bytes().splitlines(keepends=True)
        assert lines[0] == b"target_id,seed," + head
        cell = f'"{tid}"' if "," in tid else tid
        assert lines[1 + 5 * i : 6 + 5 * i] == [f"{cell},{target_seed(11, tid)},".encode() + r for r in rows]
    frame = pd.read_csv(out)
    assert list(frame["target_id"]) == ["A"] * 5 + ["b,2"] * 5 + ["c"] * 5


def test_goal_rows_line_ids_and_parquet(designer, tmp_path):
    """Goal rows (two goal columns, ';' in a cell, an objective) without an id column: a
    row's id is its line; the Parquet table holds the same values as the CSV."""
    table = write(tmp_path / "goals.csv", "goal,goal_2,maximize\n"
                  "shear_modulus>=60,density<=12,\n\nshear_modulus>=80;density<=11,,fracture_toughness\n")  # fmt: skip
    csv_out, parquet_out = tmp_path / "g.csv", tmp_path / "g.parquet"
    design_many(designer, table, csv_out, seed=3, workers=0, n=4, candidates=2000)
    design_many(designer, table, parquet_out, seed=3, workers=0, n=4, candidates=2000)
    frame = pd.read_csv(csv_out)
    assert list(frame["target_id"]) == [2] * 4 + [4] * 4  # line 3 is blank
    alone = designer.design(goals=["shear_modulus>=80", "density<=11"], objectives=[("fracture_toughness", "max")],
                            n=4, seed=target_seed(3, 4), candidates=2000)  # fmt: skip
    assert list(frame["formula"][4:]) == list(alone.table["formula"])
    parquet = pd.read_parquet(parquet_out)
    assert list(parquet.columns) == list(frame.columns)
    assert list(parquet["formula"]) == list(frame["formula"])
    np.testing.assert_allclose(parquet["p_goals"], frame["p_goals"], atol=1e-6)


BAD_ROWS = [
    ("id,shear_modulus,fracture_toughness\na,60,35\nb,abc,30\n", TargetError,
     "line 3 (id b): target['shear_modulus']: must be a number. Received: 'abc'"),
    ("shear_modulus,fracture_toughness\n60,35\n60,nan\n", TargetError,
     "line 3: target['fracture_toughness']: must be a finite number. Received: nan"),
    ("id,shear_modulus,fracture_toughness\na,60,35\nb,900000,30\n", TargetError, "line 3 (id b): target['shear_modulus']: 900000 is far outside"),
    ("id,shear_modulus,fracture_toughness\na,60,35\nb,60,\n", TargetError, "line 3 (id b): target: missing target value(s) for ['fracture_toughness']"),
    ("id,goal\nx,shear_modulus>=60\ny,shear_modulus>>60\n", TargetError, "line 3 (id y): goals[0]: a goal must read"),
    ("id,goal\nx,hardness>=60\n", TargetError, "line 2 (id x): goals[0]: unknown name 'hardness'"),
    ("id,shear_modulus,fracture_toughness\na,60,35\na,61,30\n", DataError, "line 3: id a repeats line 2's"),
    ("id,shear_modulus,fracture_toughness\na,60,35\n,61,30\n", DataError, "line 3: the id cell is empty"),
    ("shear_modulus,fracture_toughness,colour\n60,35,red\n", DataError, "unknown column(s) ['colour']"),
    ("shear_modulus,fracture_toughness,goal\n60,35,\n,,shear_modulus>=60;density<=9\n", DataError,
     "line 3: its row asks for goals with the descriptor columns ['density'], line 2 for a point target"),
    ("shear_modulus,fracture_toughness\n", DataError, "has no rows"),
]  # fmt: skip


@pytest.mark.parametrize("text, kind, message", BAD_ROWS, ids=[m[:30] for _t, _k, m in BAD_ROWS])
def test_a_bad_row_names_its_line_and_stops_before_any_work(designer, tmp_path, monkeypatch, text, kind, message):
    def no_design(*args, **kwargs):
        raise AssertionError("a design ran before the table was checked")

    monkeypatch.setattr(Designer, "run", no_design)
    out = tmp_path / "designs.csv"
    with pytest.raises(kind) as caught:
        design_many(designer, write(tmp_path / "t.csv", text), out, seed=0, workers=0, candidates=CANDIDATES)
    assert caught.value.field == "targets" and message in caught.value.message
    assert not out.exists() and not list(tmp_path.glob(".designs*"))


def test_a_failed_target_keeps_the_others(designer, tmp_path):
    """Density <= 2.5 is reachable (Be, Al) but no candidate of the cAE meets it: that target
    fails at its design, the two others are written."""
    table = write(tmp_path / "t.csv", "id,goal,goal_2\nx,shear_modulus>=60,density<=12\n"
                  "y,shear_modulus>=60,density<=2.5\nz,shear_modulus>=80,density<=11\n")  # fmt: skip
    out = tmp_path / "d.csv"
    result = design_many(designer, table, out, seed=1, workers=0, candidates=2000)
    assert [(i, w, type(e).__name__) for i, w, e in result.failed] == [("y", "line 3", "InfeasibleError")]
    assert result.n_designed == 2 and sorted(set(pd.read_csv(out)["target_id"])) == ["x", "z"]
    # Every target failed: nothing written.
    lone = write(tmp_path / "lone.csv", "id,goal\ny,density<=2.5\n")
    result = design_many(designer, lone, tmp_path / "none.csv", seed=1, workers=0, candidates=2000)
    assert result.out is None and result.n_designed == 0 and not (tmp_path / "none.csv").exists()


def test_without_dask_the_targets_run_in_this_process(designer, tmp_path, monkeypatch):
    from hea_zoo.serving.design import cluster

    monkeypatch.setattr(cluster, "available", lambda: False)
    table = write(tmp_path / "t.csv", "shear_modulus,fracture_toughness\n60,35\n")
    result = design_many(designer, table, tmp_path / "d.csv", seed=0, n=3, candidates=CANDIDATES)
    assert result.workers == "this process" and result.n_designs == 3
    assert "Dask is not installed" in result.notes[0][1] and cluster.INSTALL_HINT in result.notes[0][1]
    with pytest.raises(many.ClusterError, match="needs dask"):
        design_many(designer, table, tmp_path / "e.csv", seed=0, cluster="tcp://127.0.0.1:9", candidates=CANDIDATES)


def test_cli_targets(tmp_path):
    table = write(tmp_path / "t.csv", "id,shear_modulus,fracture_toughness\na,60,35\nb,70,30\n")
    out = tmp_path / "d.csv"
    done = run("design", "--targets", str(table), "--out", str(out), "--seed", "5", "-n", "3",
               "--candidates", str(CANDIDATES), "--workers", "0", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "designed 2 of 2 targets: 6 designs written to" in done.stdout and "(seed 5; this process;" in done.stdout
    assert "design: " in done.stderr  # the progress over targets
    api = tmp_path / "api.csv"
    design_many(Designer.from_exported("cae"), table, api, seed=5, workers=0, n=3, candidates=CANDIDATES)
    assert out.read_bytes() == api.read_bytes()
    bad = write(tmp_path / "bad.csv", "id,shear_modulus,fracture_toughness\na,60,35\nb,abc,30\n")
    done = run("design", "--targets", str(bad), "--out", str(out), "--workers", "0", cwd=tmp_path)
    assert done.returncode == 5 and done.stderr.strip().splitlines()[-1] == (
        "target error: --targets: line 3 (id b): target['shear_modulus']: must be a number. Received: 'abc'")
    done = run("design", "--targets", str(table), "-G", "60", "--out", str(out), cwd=tmp_path)
    assert done.returncode == 2 and "leave out -G, -K and --target" in done.stderr
    done = run("design", "-G", "60", "-K", "35", "--workers", "2", cwd=tmp_path)
    assert done.returncode == 2 and "--workers: spreads the targets of --targets FILE" in done.stderr


def test_a_single_design_never_imports_dask(tmp_path):
    code = ("import sys\nfrom hea_zoo.cli import main\n"
            f"assert main(['design', '-G', '60', '-K', '35', '--candidates', '1000', '--seed', '0']) == 0\n"
            f"assert main(['design', '--targets', {str(tmp_path / 't.csv')!r}, '--out', {str(tmp_path / 'd.csv')!r}, "
            "'--candidates', '1000', '--workers', '0']) == 0\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))\n")  # fmt: skip
    write(tmp_path / "t.csv", "shear_modulus,fracture_toughness\n60,35\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env())
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"

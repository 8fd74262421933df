"""hea_zoo.files under stress: concurrent writers of one file (in Python and through the
command line), planted symlinks, file modes, failed and killed writers and what they leave,
version folders replaced while another process reads them."""

from __future__ import annotations

import errno
import os
import pickle
import random
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hea_zoo
from hea_zoo import files
from hea_zoo.errors import UsageError
from tests.support.cli import env, run, start
from tests.support.files import leftovers


_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from hea_zoo.files import atomic_write
    target, me, ready, go = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
    payload = (f"writer {me} " * 4000 + "\\n").encode() * 8   # ~400 kB, distinct per writer
    ready.touch()
    while not go.exists():
        time.sleep(0.001)
    for _ in range(20):
        atomic_write(target, lambda tmp: tmp.write_bytes(payload))
    """
)


def _payload(me: int) -> bytes:
    return (f"writer {me} " * 4000 + "\n").encode() * 8


def test_concurrent_atomic_writes_all_succeed_and_one_writer_wins_whole(tmp_path):
    """Eight processes, started together, each replace the same file 20 times."""
    target = tmp_path / "out" / "shared.csv"
    go = tmp_path / "go"
    procs = []
    for me in range(8):
        ready = tmp_path / f"ready{me}"
        procs.append((ready, subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(target), str(me), str(ready), str(go)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(),
        )))  # fmt: skip
    deadline = time.time() + 120
    while not all(r.exists() for r, _ in procs) and time.time() < deadline:
        time.sleep(0.01)
    go.touch()
    for _, proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
    assert target.read_bytes() in {_payload(me) for me in range(8)}
    assert leftovers(target.parent) == []


def test_concurrent_cli_writers_of_one_out_all_succeed(tmp_path):
    """Six `hea-zoo dataset --out shared.csv` runs on different tables: every one exits 0
    and the file is one writer's table, whole."""
    ds = hea_zoo.load_dataset()
    expected = set()
    paths = []
    for me in range(6):
        rows = np.arange(me * 40, me * 40 + 40 + me)
        frame = pd.DataFrame({"composition": [ds.formulas[i] for i in rows], "G": ds.properties[rows, 0]})
        path = tmp_path / f"table{me}.csv"
        frame.to_csv(path, index=False)
        paths.append(path)
        expected.add(hea_zoo.load_dataset(path).to_frame().to_csv(index=False))
    out = tmp_path / "shared.csv"
    procs = [start("dataset", "--data", str(p), "--out", str(out)) for p in paths]
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr
        assert stdout.startswith("wrote ") and "alloys to" in stdout
    assert len(expected) == 6
    assert out.read_text() in expected
    assert leftovers(tmp_path) == []


def _plant(folder: Path, victim: Path, names) -> None:
    for name in names:
        os.symlink(victim, folder / name)


def test_planted_symlinks_are_never_followed(tmp_path, monkeypatch):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "out"
    out.mkdir()
    predictable = [".trap.csv.tmp", "trap.csv.tmp", ".trap.tmp.csv", ".trap.csv.swp", "trap.csv~", ".trap.tmp"]
    _plant(out, victim, predictable)
    files.write_text(out / "trap.csv", "a,b\n1,2\n")
    assert victim.read_text() == "precious"
    assert (out / "trap.csv").read_text() == "a,b\n1,2\n" and not (out / "trap.csv").is_symlink()
    assert all((out / n).is_symlink() for n in predictable)

    # Even the exact temporary name, made predictable, is not followed: it is created
    # exclusively and without following links, so the write refuses instead.
    monkeypatch.setattr(files.secrets, "token_hex", lambda n: "0" * (2 * n))
    guessed = files.temporary_name(out / "next.csv")
    _plant(out, victim, [guessed.name])
    with pytest.raises(FileExistsError):
        files.write_text(out / "next.csv", "x")
    assert victim.read_text() == "precious" and not (out / "next.csv").exists()


def test_cli_out_does_not_follow_a_planted_symlink(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    _plant(tmp_path, victim, [".trap.csv.tmp", "trap.csv.tmp"])
    proc = run("dataset", "--out", str(tmp_path / "trap.csv"))
    assert proc.returncode == 0, proc.stderr
    assert victim.read_text() == "precious"
    assert len(pd.read_csv(tmp_path / "trap.csv")) == 529


def test_files_get_the_umask_modes_and_replaced_files_keep_theirs(tmp_path, umask022):
    new = files.write_text(tmp_path / "a.csv", "x")
    assert stat.S_IMODE(new.stat().st_mode) == 0o644
    with files.staged_directory(tmp_path, "rep") as staged:
        assert stat.S_IMODE(staged.stat().st_mode) == 0o755
    os.umask(0o027)
    assert stat.S_IMODE(files.write_text(tmp_path / "b.csv", "x").stat().st_mode) == 0o640
    os.chmod(new, 0o600)  # the user's choice for an existing file is kept
    assert stat.S_IMODE(files.write_text(new, "y").stat().st_mode) == 0o600


def test_a_failed_write_leaves_the_target_and_no_temporary_file(tmp_path):
    target = files.write_text(tmp_path / "t.csv", "old")

    def half(tmp):
        tmp.write_text("half of the new")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        files.atomic_write(target, half)
    assert target.read_text() == "old" and leftovers(tmp_path) == []
    with pytest.raises(IsADirectoryError) as err:
        files.write_text(tmp_path, "x")
    assert isinstance(err.value, UsageError) and err.value.field == "path" and err.value.errno == errno.EISDIR
    assert str(err.value) == f"path: {tmp_path} is a folder; expected a file path."
    assert pickle.loads(pickle.dumps(err.value)).field == "path"


def test_remove_stale_removes_only_old_leftovers_of_killed_writers(tmp_path):
    (tmp_path / ".x.0123456789abcdef.tmp.csv").write_text("part")  # a temporary file
    (tmp_path / ".v3.0123456789abcdef.tmp").mkdir()  # a staging folder
    (tmp_path / ".v2-0123456789abcdef").mkdir()  # a version folder no link points to
    (tmp_path / ".v1-fedcba9876543210").mkdir()  # a linked version folder
    os.symlink(".v1-fedcba9876543210", tmp_path / "1")
    (tmp_path / "4").mkdir()
    keep = [".hidden_notes", "notes.tmp", "data.csv"]
    for name in keep:
        (tmp_path / name).write_text("mine")
    assert files.remove_stale(tmp_path) == []  # all fresh: maybe a running writer's
    past = time.time() - 2 * files.STALE_SECONDS
    for entry in tmp_path.iterdir():
        os.utime(entry, (past, past), follow_symlinks=False)
    removed = sorted(p.name for p in files.remove_stale(tmp_path))
    assert removed == [".v2-0123456789abcdef", ".v3.0123456789abcdef.tmp", ".x.0123456789abcdef.tmp.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([".v1-fedcba9876543210", "1", "4", *keep])


def test_remove_stale_removes_a_new_folder_whose_link_never_went_live(tmp_path):
    """A writer killed after making its temporary link and before renaming it over the
    version leaves the link and the folder it points to: both go, the live one stays."""
    (tmp_path / ".v1-fedcba9876543210").mkdir()
    os.symlink(".v1-fedcba9876543210", tmp_path / "1")
    (tmp_path / ".v1-0123456789abcdef").mkdir()
    os.symlink(".v1-0123456789abcdef", tmp_path / ".1.link.0123456789abcdef.tmp")
    assert files.remove_stale(tmp_path) == []  # fresh: a writer may be about to switch
    past = time.time() - 2 * files.STALE_SECONDS
    for entry in tmp_path.iterdir():
        os.utime(entry, (past, past), follow_symlinks=False)
    removed = sorted(p.name for p in files.remove_stale(tmp_path))
    assert removed == [".1.link.0123456789abcdef.tmp", ".v1-0123456789abcdef"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".v1-fedcba9876543210", "1"]


# ------------------------------------------------------- folders: kill and concurrent read
_SWAPPER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from hea_zoo import files
    if sys.argv[2] == "link":  # a file system without an atomic swap
        files.exchange_paths = lambda a, b: False
    target = Path(sys.argv[1])
    for generation in range(10**6):
        with files.staged_directory(target.parent, "v1") as staged:
            for part in ("saved_model.pb", "variables.index", "variables.data"):
                (staged / part).write_text(f"{generation}\\n" * (1000 + generation % 7))
            files.replace_directory(staged, target)
        if generation == 0:
            print("ready", flush=True)
    """
)


def _complete(version: Path) -> bool:
    """All three files whole and of one generation."""
    lines = [(version / p).read_text().splitlines() for p in ("saved_model.pb", "variables.index", "variables.data")]
    generation = lines[0][0]
    return all(len(part) == 1000 + int(generation) % 7 and set(part) == {generation} for part in lines)


@pytest.mark.parametrize("layout", ["swap", "link"])
def test_folder_replacement_is_complete_at_every_instant_and_survives_kill(tmp_path, layout):
    """A writer replaces a version folder in a loop; another process checks it all the
    time, then kills the writer at a random moment: the folder is always there, and whole
    whenever the writer stops.

    (A reader that is inside the old folder while it is removed after the swap can miss a
    file: the swap guarantees the name, not a reader that straddles it. Hence servers load
    new version numbers, and an overwrite is for a version not being loaded.)"""
    target = tmp_path / "model" / "1"
    rng = random.Random(0)
    checks = 0
    for _ in range(4):
        proc = subprocess.Popen([sys.executable, "-c", _SWAPPER, str(target), layout],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env())  # fmt: skip
        assert proc.stdout.readline().strip() == b"ready", proc.stderr.read()
        stop = time.perf_counter() + rng.uniform(0.1, 0.5)
        while time.perf_counter() < stop:
            assert os.path.isdir(target), "no version at this instant"
            checks += 1
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert _complete(target)
        assert target.is_symlink() == (layout == "link")
    assert checks > 100
    past = time.time() - 2 * files.STALE_SECONDS
    for entry in target.parent.iterdir():
        os.utime(entry, (past, past), follow_symlinks=False)
    files.remove_stale(target.parent)  # what the next export does first
    expected = ["1"] if layout == "swap" else sorted(["1", os.readlink(target)])
    assert sorted(p.name for p in target.parent.iterdir()) == expected

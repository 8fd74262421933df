"""Hardening: every user mistake a clean error, concurrent runs safe, exports a server can
read, progress a person can follow.

Writes (hea_zoo.files): concurrent writers, planted symlinks, file modes, killed writers,
stale leftovers. Exports: versions, crash-safe overwrite (atomic swap or version links),
modes a server can read, export_all. The command line: errors in its own words with the
right exit code, rows counted as a user counts them, no Python objects on the console,
progress in a few lines. Printed formulas: fixed points, scientific notation.
"""

from __future__ import annotations

import errno
import io
import json
import os
import pickle
import random
import signal
import stat
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import hea_zoo
from hea_zoo import files
from hea_zoo.cli import EXIT_DATA, EXIT_MODEL, EXIT_USAGE
from hea_zoo.data.composition import parse_formula, parse_formulas, to_formula, to_formulas
from hea_zoo.errors import UsageError
from tests.support import ROOT

EXPORTED = ROOT / "exported"


# --------------------------------------------------------------------------- helpers
def _env(**extra) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, PYTHONPATH=path, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore", **extra)


def run(*args: str, cwd=None, timeout=900) -> subprocess.CompletedProcess:
    """`hea-zoo ARGS` as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "hea_zoo.cli", *args],
        capture_output=True, text=True, cwd=cwd, env=_env(), timeout=timeout,
    )  # fmt: skip


def start(*args: str, cwd=None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "hea_zoo.cli", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd, env=_env(),
    )  # fmt: skip


def one_line_error(proc, code: int, *fragments: str, absent: tuple[str, ...] = ()) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    message = [line for line in proc.stderr.splitlines() if line and not line.startswith((" ", "usage:"))]
    assert len(message) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in message[0], (fragment, message[0])
    for fragment in absent:
        assert fragment not in message[0], (fragment, message[0])
    return message[0]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in Path(folder).rglob(".*") if ".tmp" in p.name)


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def umask022():
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture(scope="module")
def tiny_cvae():
    from hea_zoo.models import train_default_generator

    return train_default_generator("cvae", hea_zoo.load_dataset(), epochs=2, verbose=0)


# =========================================================================== writes
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
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(),
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
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())  # fmt: skip
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


# =========================================================================== exports
def _export():
    from hea_zoo.serving import export

    return export


def test_overwrite_touches_the_live_version_in_one_atomic_step(tiny_cvae, tmp_path, monkeypatch):
    """Proof by construction: while re-exporting version 1, the only filesystem operation
    on ``cvae/1`` is one atomic swap with the complete staged folder."""
    export = _export()
    export.export_model(tiny_cvae, tmp_path, "cvae")
    live = os.fspath(tmp_path / "cvae" / "1")
    calls = []

    def spy(module, name):
        real = getattr(module, name)

        def wrapped(*args, **kwargs):
            calls.append((name, *[os.fspath(a) for a in args if isinstance(a, (str, os.PathLike))]))
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapped)

    import shutil

    for module, name in ((os, "rename"), (os, "replace"), (os, "unlink"), (os, "rmdir"), (shutil, "rmtree"),
                         (files, "exchange_paths")):  # fmt: skip
        spy(module, name)
    result = export.export_model(tiny_cvae, tmp_path, "cvae", version=1, overwrite=True)
    monkeypatch.undo()
    touching = [c for c in calls if live in c[1:]]
    assert len(touching) == 1 and touching[0][0] == "exchange_paths", touching
    staged = touching[0][1]
    assert Path(staged).name.startswith(".v1.") and ".tmp" in Path(staged).name
    assert result.replaced and (tmp_path / "cvae" / "1" / "saved_model.pb").is_file()
    assert not (tmp_path / "cvae" / "1").is_symlink()
    assert leftovers(tmp_path) == []


def test_exports_are_readable_by_a_server_user(tiny_cvae, tmp_path, umask022):
    export = _export()
    root = tmp_path / "exported"
    export.export_model(tiny_cvae, root, "cvae")
    export.export_model(tiny_cvae, root, "cvae", version=1, overwrite=True)
    entries = [root, *root.rglob("*")]
    assert len(entries) > 8
    for entry in entries:
        mode = stat.S_IMODE(entry.stat().st_mode)
        assert mode == (0o755 if entry.is_dir() else 0o644), (entry, oct(mode))


def test_version_links_where_the_file_system_cannot_swap(tiny_cvae, tmp_path, monkeypatch):
    """NFS-like: no atomic swap. Versions become links to hidden folders; TensorFlow
    loads through them; an overwrite switches the link; the manifest lists files under
    the version name whatever the layout."""
    import tensorflow as tf

    export = _export()
    real = tmp_path / "real"
    export.export_model(tiny_cvae, real, "cvae")  # the old layout: a real folder
    monkeypatch.setattr(files, "exchange_paths", lambda a, b: False)
    monkeypatch.setattr(files, "_LINK_LAYOUT", {})
    linked = tmp_path / "linked"
    export.export_model(tiny_cvae, linked, "cvae")
    version = linked / "cvae" / "1"
    assert version.is_symlink() and os.readlink(version).startswith(".v1-")
    z = np.zeros((3, tiny_cvae.latent_dim), np.float32)
    c = np.float32([[80.0, 40.0]] * 3)
    loaded = tf.saved_model.load(str(version)).signatures["serving_default"]
    got = loaded(z=tf.constant(z), condition=tf.constant(c))["composition"].numpy()
    np.testing.assert_allclose(got, tiny_cvae.decode(z, c).numpy(), atol=1e-6)
    assert export.existing_versions(linked / "cvae") == [1]
    assert export.next_version(linked, "cvae") == 2
    first = os.readlink(version)
    export.export_model(tiny_cvae, linked, "cvae", version=1, overwrite=True)
    assert os.readlink(version) != first
    # The previous folder outlives the switch (a reader may be resolving the old link);
    # the next export clears it once it is old.
    assert (linked / "cvae" / first / "saved_model.pb").is_file()
    past = time.time() - 2 * files.STALE_SECONDS
    os.utime(linked / "cvae" / first, (past, past))
    export.export_model(tiny_cvae, linked, "cvae")
    assert not (linked / "cvae" / first).exists()
    assert export.existing_versions(linked / "cvae") == [1, 2]
    assert {os.readlink(v) for v in (linked / "cvae" / "1", linked / "cvae" / "2")} == {
        p.name for p in (linked / "cvae").iterdir() if p.name.startswith(".")
    }
    listing = export.artifact_files(linked)
    assert {k.replace("cvae/2/", "cvae/1/") for k in listing} == set(export.artifact_files(real))
    assert "cvae/1/saved_model.pb" in listing and not any("/." in k or k.startswith(".") for k in listing)
    # An old-layout real folder becomes a link at its first overwrite here.
    export.export_model(tiny_cvae, real, "cvae", version=1, overwrite=True)
    assert (real / "cvae" / "1").is_symlink() and (real / "cvae" / "1" / "saved_model.pb").is_file()
    assert leftovers(tmp_path) == []


def test_next_export_clears_what_a_killed_export_left(tiny_cvae, tmp_path):
    export = _export()
    export.export_model(tiny_cvae, tmp_path, "cvae")
    staged = tmp_path / "cvae" / ".v2.0123456789abcdef.tmp"
    (staged / "variables").mkdir(parents=True)
    (staged / "saved_model.pb").write_bytes(b"half")
    onnx_tmp = tmp_path / ".cvae.0123456789abcdef.tmp.onnx"
    onnx_tmp.write_bytes(b"half")
    past = time.time() - 2 * files.STALE_SECONDS
    for entry in (staged, onnx_tmp):
        os.utime(entry, (past, past))
    assert export.next_version(tmp_path, "cvae") == 2  # a staging folder is not a version
    export.export_model(tiny_cvae, tmp_path, "cvae")
    assert not staged.exists() and not onnx_tmp.exists()
    assert export.existing_versions(tmp_path / "cvae") == [1, 2]


@pytest.mark.slow
def test_export_all_from_saved_models_writes_versions_and_a_true_manifest(tmp_path):
    export = _export()
    from hea_zoo import workflows
    from hea_zoo.errors import ModelFileError, UsageError
    messages = []
    from tests.support.exports import committed_names

    names = committed_names()  # the flow once exported/ holds it
    manifest_path = workflows.export_all(
        tmp_path, from_dir=EXPORTED / "keras", models=names[:-1], n_per_condition=10, progress=messages.append,
        command="hea-zoo export --all --from-dir exported/keras",
    )  # fmt: skip
    manifest = json.loads(manifest_path.read_text())
    assert manifest["files"] == export.artifact_files(tmp_path, exclude=("MANIFEST.json", "README.md"))
    assert set(manifest["models"]) == set(names)
    for name, entry in manifest["models"].items():
        assert entry["export_version"] == 1 and entry["files"]["saved_model"] == f"{name}/1"
        assert entry["bytes"]["onnx"] == manifest["files"][f"{name}.onnx"]["bytes"]
        assert (tmp_path / "keras" / f"{name}.keras").is_file()
    assert set(manifest["models"]["cvae"]["metrics"]) >= {"mape_surrogate_percent", "mape_oracle_percent", "cosine_similarity"}
    assert any("exporting version 1" in m for m in messages) and len(messages) < 20
    # A second run is the next version; ONNX files hold it; nothing was overwritten.
    again = json.loads(workflows.export_all(tmp_path, from_dir=EXPORTED / "keras", models=names[:-1], n_per_condition=10).read_text())
    assert {e["export_version"] for e in again["models"].values()} == {2}
    assert export.read_onnx_metadata(tmp_path / "cvae.onnx")["export_version"] == 2
    assert "cae/1/saved_model.pb" in again["files"] and "cae/2/saved_model.pb" in again["files"]
    with pytest.raises(UsageError, match="^overwrite: .*already exists"):
        workflows.export_all(tmp_path, from_dir=EXPORTED / "keras", models=names[:-1], version=2)
    with pytest.raises(UsageError, match="^version: .*older than the exported version"):
        workflows.export_all(tmp_path, from_dir=EXPORTED / "keras", models=names[:-1], version=1, overwrite=True)


def test_export_all_refuses_before_any_work(tmp_path):
    export = _export()
    from hea_zoo import workflows
    from hea_zoo.errors import ModelFileError, UsageError
    source = tmp_path / "saved"
    source.mkdir()
    with pytest.raises(ModelFileError, match="^from_dir: .*no surrogate.keras there"):
        workflows.export_all(tmp_path / "out", from_dir=source)
    with zipfile.ZipFile(source / "surrogate.keras", "w") as archive:
        archive.writestr("config.json", "{not json")
    with pytest.raises(ModelFileError, match="surrogate.keras is not a hea_zoo model file, or it is damaged"):
        workflows.export_all(tmp_path / "out", from_dir=source)
    (tmp_path / "out" / "cae" / "3").mkdir(parents=True)
    with pytest.raises(UsageError, match="cae/3 already exists"):
        workflows.export_all(tmp_path / "out", from_dir=source, version=3)
    assert not (tmp_path / "out" / "MANIFEST.json").exists()


def test_committed_exports_read_in_either_layout():
    export = _export()
    for name in ("cae", "cvae", "wcgan", "surrogate"):
        assert export.existing_versions(EXPORTED / name) == [1]
    listing = export.artifact_files(EXPORTED, exclude=("MANIFEST.json", "README.md"))
    assert listing == json.loads((EXPORTED / "MANIFEST.json").read_text())["files"]


# =========================================================================== the CLI
@pytest.mark.parametrize(
    "args",
    [
        ("train", "--model", "cvae", "--epochs", "0"),
        ("train", "--model", "cvae", "--epochs", "-1"),
        ("reproduce", "--epochs", "0"),
        ("reproduce", "--surrogate-epochs", "-3"),
        ("export", "--all", "--epochs", "0"),
        ("evaluate", "--model", "x.keras", "--n-per-condition", "0"),
        ("export", "--model", "x.keras", "--version", "0"),
    ],
)
def test_nonpositive_counts_are_usage_errors(args):
    one_line_error(run(*args), EXIT_USAGE, "expected a positive integer")


def test_overwrite_needs_the_version_it_replaces():
    for args in (("export", "--model", "x.keras", "--overwrite"), ("export", "--all", "--overwrite")):
        one_line_error(run(*args), EXIT_USAGE, "--overwrite replaces the version given with --version")


def test_data_mistakes_are_data_errors_in_the_users_terms(tmp_path):
    one_line_error(run("dataset", "--data", str(tmp_path)), EXIT_DATA, "is a folder", absent=("not found",))
    one_line_error(run("train", "--model", "cae", "--data", str(tmp_path), "--out", str(tmp_path / "m.keras")),
                   EXIT_DATA, "is a folder")  # fmt: skip
    table = tmp_path / "alloys.csv"
    table.write_text("c,h\nNbTaTiV,1\n\nMoNbTaW,\nHfNbTa,3\nNbTa-0.3Ti,4\n")
    one_line_error(run("dataset", "--data", str(table), "--composition-column", "c"), EXIT_DATA,
                   "line 4 (data row 1, 0-based)", "--dropna", absent=("dropna=True",))  # fmt: skip
    # Rows keep their numbers in the file when --dropna drops others: the line is exact.
    one_line_error(run("dataset", "--data", str(table), "--composition-column", "c", "--dropna"), EXIT_DATA,
                   "alloys.csv: line 6 (data row 3, 0-based)", "'NbTa-0.3Ti'", "negative")  # fmt: skip
    table.write_text("c,h\nNbTaTiV,1\n\nMoNbTaW,2\nHfNbTa,inf\n")  # a property's row, from load_dataset
    one_line_error(run("dataset", "--data", str(table), "--composition-column", "c"), EXIT_DATA,
                   "alloys.csv: line 5 (data row 2, 0-based): property 'h'", "is not finite",
                   absent=("line 4",))  # fmt: skip
    table.write_text("c,h\nNbTaTiV,1\n\nMoNbTaW,2\nHfNbTa,3\nNbTa-0.3Ti,4\n")
    one_line_error(run("dataset", "--data", str(table), "--composition-column", "c"), EXIT_DATA,
                   "alloys.csv: line 6 (data row 3, 0-based)", "'NbTa-0.3Ti'")  # fmt: skip
    one_line_error(run("dataset", "--out", str(tmp_path)), EXIT_USAGE, "is a folder")


def test_damaged_or_foreign_model_files_are_model_errors(tmp_path):
    real = (EXPORTED / "keras" / "cvae.keras").read_bytes()
    (tmp_path / "truncated.keras").write_bytes(real[: len(real) // 2])
    with zipfile.ZipFile(tmp_path / "foreign.keras", "w") as archive:
        archive.writestr("notes.txt", "not a model")
    (tmp_path / "folder.keras").mkdir()
    for name in ("truncated", "foreign", "folder"):
        for command in ("evaluate", "export"):
            one_line_error(run(command, "--model", str(tmp_path / f"{name}.keras"), "--out", str(tmp_path / "o")),
                           EXIT_MODEL, f"{name}.keras")  # fmt: skip


def test_dataset_summary_prints_no_empty_units(tmp_path):
    table = tmp_path / "mine.csv"
    table.write_text("formula,Vickers hardness (HV)\nNbTaTiV,400\nMoNbTaW,500\nHfNbTa,300\n")
    proc = run("dataset", "--data", str(table), "--composition-column", "formula")
    assert proc.returncode == 0, proc.stderr
    assert "Vickers hardness (HV): min 300" in proc.stdout and "[-]" not in proc.stdout and "[]" not in proc.stdout


@pytest.mark.slow
def test_train_export_evaluate_speak_to_people(tmp_path):
    """Progress in a few lines, results without Python objects, errors with flags."""
    model = tmp_path / "small.keras"
    proc = run("train", "--model", "cae", "--epochs", "50", "--out", str(model))
    assert proc.returncode == 0, proc.stderr
    epoch_lines = [line for line in proc.stderr.splitlines() if "epoch" in line]
    assert 1 <= len(epoch_lines) <= 6, proc.stderr  # not one line per epoch
    assert "cae: trained 50 epochs in" in proc.stderr and "final loss" in proc.stderr
    assert "I0000" not in proc.stderr and "E0000" not in proc.stderr and "oneDNN" not in proc.stderr
    assert "[" not in proc.stdout.splitlines()[0] and "trained cae in" in proc.stdout

    exported = tmp_path / "exported"
    first = run("export", "--model", str(model), "--out", str(exported))
    second = run("export", "--model", str(model), "--out", str(exported))
    assert first.returncode == second.returncode == 0, (first.stderr, second.stderr)
    assert first.stdout.startswith(f"exported small version 1: SavedModel {exported / 'small' / '1'}")
    assert second.stdout.startswith("exported small version 2:")
    for proc in (first, second):
        assert "ExportResult" not in proc.stdout and "PosixPath" not in proc.stdout
    one_line_error(run("export", "--model", str(model), "--out", str(exported), "--version", "2"),
                   EXIT_MODEL, "already exists", "--overwrite", absent=("overwrite=True",))  # fmt: skip
    replaced = run("export", "--model", str(model), "--out", str(exported), "--version", "1", "--overwrite")
    assert replaced.returncode == 0 and "version 1 (replaced)" in replaced.stdout
    assert "holds a newer version" in replaced.stdout

    report = tmp_path / "report"
    proc = run("evaluate", "--model", str(model), "--n-per-condition", "10", "--out", str(report))
    assert proc.returncode == 0, proc.stderr
    steps = [line for line in proc.stderr.splitlines() if line.startswith("[")]
    assert any("line: 20 conditions" in s for s in steps) and any("novelty" in s for s in steps)
    assert "{" not in proc.stdout and "MAPE vs target, judged by the oracle:" in proc.stdout

    weights = tmp_path / "damaged.keras"
    with zipfile.ZipFile(model) as src, zipfile.ZipFile(weights, "w") as dst:
        for item in src.namelist():
            data = src.read(item)
            dst.writestr(item, data[: len(data) // 2] if item.endswith(".h5") else data)
    one_line_error(run("export", "--model", str(weights), "--out", str(exported)), EXIT_MODEL, "damaged.keras")


@pytest.mark.slow
def test_python_use_keeps_tensorflow_start_up_lines_off_the_terminal():
    proc = subprocess.run([sys.executable, "-c", "import hea_zoo.models"], capture_output=True, text=True,
                          env={k: v for k, v in _env().items() if k != "TF_CPP_MIN_LOG_LEVEL"}, timeout=600)  # fmt: skip
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


# =========================================================================== progress
def test_training_progress_is_a_few_lines_off_a_terminal_and_one_bar_on_it():
    import keras

    from hea_zoo.progress import TrainingProgress, fit_arguments

    x = np.random.default_rng(0).normal(size=(32, 3)).astype(np.float32)
    y = x.sum(axis=1, keepdims=True)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    log = io.StringIO()
    history = model.fit(x, y, epochs=60, verbose=0, callbacks=[TrainingProgress("toy", stream=log)])
    lines = log.getvalue().splitlines()
    assert len(lines) == 5, lines  # epochs 12, 24, 36, 48 and the summary, not 60 lines
    assert lines[0].startswith("toy: epoch 12/60  loss ")
    assert lines[-1].startswith("toy: trained 60 epochs in ") and "final loss" in lines[-1]
    assert history.history["loss"][-1] < history.history["loss"][0]  # a real training

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen = Terminal()
    model.fit(x, y, epochs=10, verbose=0, callbacks=[TrainingProgress("toy", stream=screen)])
    text = screen.getvalue()
    assert text.count("\n") == 1 and "\r\033[K" in text  # redrawn in place, then one summary line
    assert "toy  epoch 10/10 [" + "#" * 30 + "] loss " in text
    assert text.split("\r\033[K")[-1].startswith("toy: trained 10 epochs in ")
    assert fit_arguments(0, "x") == {"verbose": 0, "callbacks": []}
    assert isinstance(fit_arguments("auto", "x")["callbacks"][0], TrainingProgress)
    with pytest.raises(ValueError, match="'auto', 0, 1 or 2"):
        fit_arguments(3, "x")


def test_steps_are_timed_lines():
    from hea_zoo.progress import Steps

    log = io.StringIO()
    steps = Steps(stream=log)
    steps("line: 20 conditions")
    Steps(enabled=False, stream=log)("hidden")
    assert log.getvalue().count("\n") == 1
    assert log.getvalue().startswith("[") and log.getvalue().rstrip().endswith("s] line: 20 conditions")


# =========================================================================== formulas
_ELEMENTS = hea_zoo.ELEMENTS


@st.composite
def compositions(draw):
    k = draw(st.integers(1, 8))
    columns = draw(st.lists(st.integers(0, len(_ELEMENTS) - 1), min_size=k, max_size=k, unique=True))
    amounts = draw(st.lists(st.floats(0.0005, 1.0), min_size=k, max_size=k))
    x = np.zeros(len(_ELEMENTS))
    x[columns] = amounts
    return x / x.sum()


@given(compositions())
def test_printed_formulas_are_fixed_points(x):
    try:
        printed = to_formula(x)
    except ValueError:  # every fraction below the drop threshold
        assert np.all(x < hea_zoo.DROP_THRESHOLD + 1e-7)
        return
    assert to_formula(parse_formula(printed)) == printed
    assert to_formulas(parse_formulas([printed, printed])) == [printed, printed]
    thousandths = [round(float(v) * 1000) for v in parse_formula(printed)]
    assert sum(thousandths) == 1000


def test_the_reported_drifting_formula_is_stable():
    printed = to_formula(parse_formula("Al0.656Co0.331Y0.012"))
    assert printed == "Al0.657Co0.331Y0.012"
    assert to_formula(parse_formula(printed)) == printed


@given(st.lists(st.floats(1e-4, 1e4), min_size=2, max_size=5))
def test_scientific_amounts_parse_like_plain_ones(amounts):
    symbols = ["Nb", "Ta", "Ti", "Zr", "Hf"][: len(amounts)]
    plain = "".join(f"{s}{np.format_float_positional(a, trim='-')}" for s, a in zip(symbols, amounts))
    expected = parse_formula(plain, symbols)
    for spec in ("e", "E", ".3e"):
        text = "".join(f"{s}{a:{spec}}" for s, a in zip(symbols, amounts))  # e+ and e- exponents
        got = parse_formula(text, symbols)
        tolerance = 1e-6 if spec != ".3e" else 2e-3
        np.testing.assert_allclose(got, expected, atol=tolerance, err_msg=text)


def test_the_reported_exponent_formula_parses():
    np.testing.assert_allclose(parse_formula("Nb2.5e+1Ta1", ["Nb", "Ta"]), [25 / 26, 1 / 26], rtol=1e-6)
    np.testing.assert_allclose(parse_formula("Nb2.5E1Ta1", ["Nb", "Ta"]), [25 / 26, 1 / 26], rtol=1e-6)
    with pytest.raises(ValueError, match="negative"):
        parse_formula("Nb-2.5e+1Ta1", ["Nb", "Ta"])


# =========================================================================== units
def test_labels_keep_user_names_and_drop_empty_units():
    from hea_zoo.evaluation.plots import _label, _value

    assert _label("shear_modulus", "GPa") == "Shear modulus (GPa)"
    assert _label("Vickers hardness (HV)", "") == "Vickers hardness (HV)"
    assert _label("yield_strength_MPa") == "yield_strength_MPa"
    assert _value(80.0, "GPa") == "80 GPa" and _value(80.0, "") == "80"


def test_report_on_user_data_has_no_empty_units():
    import dataclasses

    from hea_zoo.evaluation import experiments, report
    from tests.support.evaluation_fakes import FakeGenerator, FakeSurrogate, make_dataset

    dataset = dataclasses.replace(
        make_dataset(), property_names=("Vickers hardness (HV)", "E"), property_units=("", "")
    )
    evaluation = experiments.evaluate_generator(
        FakeGenerator(dataset, 0.1), dataset, FakeSurrogate(), oracle=None,
        n_per_condition=8, n_novelty=5, n_grid=2, name="mine",
    )  # fmt: skip
    text = report.render_markdown({"mine": evaluation}, dataset=dataset)
    assert "Vickers hardness (HV)" in text
    assert "()" not in text and "[-]" not in text and "[]" not in text

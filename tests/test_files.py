"""Output paths: only regular files are replaced; pipes, devices and links are respected;
what a killed writer leaves is removed at the next write; unknown formats are refused.

FIFOs and device nodes are made in a temporary folder (``mkfifo``, ``mknod``), never the
machine's own ``/dev`` entries: a failing test must not be able to replace them.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from hea_zoo import files
from hea_zoo.errors import UsageError
from tests.support import ROOT
from tests.support.cli import call  # in this process; `cli` below runs `hea-zoo` as a user does


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def cli(*args: str, cwd=None, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hea_zoo.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=_env(), timeout=timeout)  # fmt: skip


def _read_fifo(path: Path, box: list) -> threading.Thread:
    def read():
        with open(path, "rb") as handle:
            box.append(handle.read())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def _char_device(path: Path, major: int, minor: int) -> Path:
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
    except PermissionError:
        pytest.skip("making a device node needs root (CAP_MKNOD)")
    return path


def test_a_fifo_is_written_through_and_stays_a_fifo(tmp_path):
    fifo = tmp_path / "designs.csv"
    os.mkfifo(fifo)
    box: list = []
    reader = _read_fifo(fifo, box)
    files.write_text(fifo, "a,b\n1,2\n")
    reader.join(10)
    assert box == [b"a,b\n1,2\n"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["designs.csv"]


def test_a_null_device_is_written_and_a_full_one_fails_without_being_replaced(tmp_path):
    null = _char_device(tmp_path / "null", 1, 3)
    full = _char_device(tmp_path / "full", 1, 7)
    files.write_text(null, "x" * 10000)
    assert stat.S_ISCHR(os.lstat(null).st_mode)
    with pytest.raises(OSError):
        files.write_text(full, "x" * 100000)
    assert stat.S_ISCHR(os.lstat(full).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full", "null"]


def test_the_command_line_reports_a_full_device_and_never_says_it_wrote(tmp_path):
    full = _char_device(tmp_path / "full.csv", 1, 7)
    proc = cli("dataset", "--out", str(full))
    assert proc.returncode == 2, proc.stderr
    assert "wrote" not in proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0], proc.stderr
    assert stat.S_ISCHR(os.lstat(full).st_mode)


def test_a_symlink_is_followed_and_never_replaced(tmp_path):
    real = files.write_text(tmp_path / "real.csv", "old")
    link = tmp_path / "link.csv"
    os.symlink("real.csv", link)
    assert files.write_text(link, "new") == real.resolve()
    assert os.path.islink(link) and real.read_text() == "new"
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    os.symlink("pipe", tmp_path / "to_pipe.csv")
    box: list = []
    reader = _read_fifo(fifo, box)
    files.write_text(tmp_path / "to_pipe.csv", "through the link")
    reader.join(10)
    assert box == [b"through the link"] and os.path.islink(tmp_path / "to_pipe.csv")


def test_a_dangling_symlink_a_folder_and_a_socket_are_refused(tmp_path):
    os.symlink("nowhere/at/all.csv", tmp_path / "dangling.csv")
    with pytest.raises(UsageError, match="does not exist") as err:
        files.write_text(tmp_path / "dangling.csv", "x")
    assert err.value.field == "path"
    assert os.path.islink(tmp_path / "dangling.csv") and not (tmp_path / "nowhere").exists()
    with pytest.raises(UsageError, match="is a folder"):
        files.write_text(tmp_path, "x")
    import socket

    sock_path = tmp_path / "s.csv"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(sock_path))
        with pytest.raises(UsageError, match="not a regular file"):
            files.write_text(sock_path, "x")
    assert stat.S_ISSOCK(os.lstat(sock_path).st_mode)


_SLOW_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from hea_zoo.files import atomic_write
    target, ready = Path(sys.argv[1]), Path(sys.argv[2])

    def write(tmp):
        with open(tmp, "wb") as handle:
            handle.write(b"x" * 100000)
            handle.flush()
            ready.touch()
            time.sleep(600)

    atomic_write(target, write)
    """
)


def _start_writer(target: Path, ready: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, str(target), str(ready)], env=_env())
    deadline = time.time() + 120
    while not ready.exists():
        assert proc.poll() is None and time.time() < deadline, "the writer did not start"
        time.sleep(0.02)
    return proc


def _temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and ".tmp" in p.name)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_the_next_write_removes_what_a_killed_writer_left_but_not_a_live_writers_file(tmp_path, sig):
    live = _start_writer(tmp_path / "a.csv", tmp_path / "ready_a")
    dead = _start_writer(tmp_path / "b.csv", tmp_path / "ready_b")
    try:
        assert len(_temporaries(tmp_path)) == 2
        dead.send_signal(sig)
        dead.wait(30)
        assert len(_temporaries(tmp_path)) == 2  # the dead writer's temporary is still there
        files.write_text(tmp_path / "c.csv", "next")
        left = _temporaries(tmp_path)
        assert len(left) == 1 and left[0].startswith(".a."), left  # only the live writer's
    finally:
        live.kill()
        live.wait(30)
    files.write_text(tmp_path / "c.csv", "again")
    assert _temporaries(tmp_path) == []
    assert not (tmp_path / "a.csv").exists() and not (tmp_path / "b.csv").exists()


def test_table_formats_are_checked_before_any_work(tmp_path, monkeypatch):
    assert files.table_format(tmp_path / "d.csv") == "csv"
    assert files.table_format(tmp_path / "D.CSV") == "csv"
    with pytest.raises(UsageError, match=r"unknown table format '\.xlsx'") as err:
        files.table_format(tmp_path / "d.xlsx")
    assert err.value.field == "path" and "--" not in err.value.message
    with pytest.raises(UsageError, match="no suffix"):
        files.table_format(tmp_path / "designs")
    fifo = tmp_path / "pipe.anything"
    os.mkfifo(fifo)
    assert files.table_format(fifo) == "csv"
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if pyarrow were not installed
    with pytest.raises(UsageError, match=r"needs pyarrow: pip install 'hea_zoo\[parquet\]'"):
        files.table_format(tmp_path / "d.parquet")


def test_dataset_refuses_unknown_formats_and_writing_over_its_input(tmp_path):
    table = tmp_path / "mine.csv"
    table.write_text("composition,hardness\n" + "".join(f"Nb{1 + i % 7}Ta{1 + i // 7}Ti1,{300 + i}\n" for i in range(30)))
    before = table.read_bytes()
    proc = call("dataset", "--data", str(table), "--out", str(table))
    assert proc.returncode == 2 and "is the input table" in proc.stderr, proc.stderr
    os.symlink("mine.csv", tmp_path / "alias.csv")
    proc = call("dataset", "--data", str(table), "--out", str(tmp_path / "alias.csv"))
    assert proc.returncode == 2 and "is the input table" in proc.stderr, proc.stderr
    assert table.read_bytes() == before
    proc = call("dataset", "--data", str(table), "--out", str(tmp_path / "d.xlsx"))
    assert proc.returncode == 2 and proc.stderr.strip() == (
        f"usage error: --out: {tmp_path / 'd.xlsx'}: unknown table format '.xlsx'; write a .csv or a .parquet file."
    ), proc.stderr
    assert not (tmp_path / "d.xlsx").exists()


def test_dataset_writes_parquet_when_asked(tmp_path):
    pytest.importorskip("pyarrow")
    import pandas as pd

    proc = call("dataset", "--out", str(tmp_path / "d.parquet"))
    assert proc.returncode == 0, proc.stderr
    frame = pd.read_parquet(tmp_path / "d.parquet")
    assert len(frame) == 529 and "shear_modulus" in frame.columns


def test_concurrent_exports_of_one_name_get_distinct_versions_and_none_is_lost(tmp_path):
    """Two `hea-zoo export --model A.keras --name m --out d` started together: versions 1
    and 2, both complete on disk, each reported by its own process."""
    model = ROOT / "exported" / "keras" / "cae.keras"
    out = tmp_path / "d"
    procs = [
        subprocess.Popen([sys.executable, "-m", "hea_zoo.cli", "export", "--model", str(model), "--name", "m",
                          "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
        for _ in range(2)
    ]  # fmt: skip
    reports = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr
        reports.append(stdout)
    said = sorted(int(word) for text in reports for word in [text.split("exported m version ")[1].split()[0].rstrip(":")])
    assert said == [1, 2], reports
    for version in (1, 2):
        assert (out / "m" / str(version) / "saved_model.pb").is_file()
    from hea_zoo.serving import export

    assert export.existing_versions(out / "m") == [1, 2]
    assert export.read_onnx_metadata(out / "m.onnx")["export_version"] == 2


def test_design_streams_into_a_fifo_and_reports_a_full_device(tmp_path):
    fifo = tmp_path / "designs.csv"
    os.mkfifo(fifo)
    box: list = []
    reader = _read_fifo(fifo, box)
    proc = cli("design", "-G", "60", "-K", "35", "-n", "4", "--candidates", "2000", "--seed", "0", "--out", str(fifo))
    reader.join(60)
    assert proc.returncode == 0, proc.stderr
    lines = box[0].decode().splitlines()
    assert lines[0].startswith("rank,candidate,formula") and len(lines) == 5
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    full = _char_device(tmp_path / "full.csv", 1, 7)
    proc = cli("design", "-G", "60", "-K", "35", "-n", "4", "--candidates", "2000", "--seed", "0", "--out", str(full))
    assert proc.returncode == 2 and "wrote" not in proc.stdout, (proc.stdout, proc.stderr)
    assert "No space left on device" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert stat.S_ISCHR(os.lstat(full).st_mode)
    proc = call("design", "-G", "60", "-K", "35", "-n", "4", "--out", str(tmp_path / "d.xlsx"))
    assert proc.returncode == 2 and "unknown table format '.xlsx'" in proc.stderr, proc.stderr

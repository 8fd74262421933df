"""Hardening of the command line: every user mistake a one-line error in its own words with
the right exit code, rows counted as a user counts them, no Python objects on the console,
progress in a few lines, no TensorFlow start-up lines.

(hea_zoo.files under stress: tests/test_files_hardening.py; exports:
tests/serving/test_export_hardening.py; progress: tests/test_progress.py.)
"""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest

from hea_zoo.cli import EXIT_DATA, EXIT_MODEL, EXIT_USAGE
from tests.support import ROOT
from tests.support.cli import env, run

EXPORTED = ROOT / "exported"


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
                          env={k: v for k, v in env().items() if k != "TF_CPP_MIN_LOG_LEVEL"}, timeout=600)  # fmt: skip
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr

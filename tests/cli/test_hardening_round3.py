"""Round 3 of hardening: cases found by trying hea_zoo as a new user and an auditor would.
Each gets a correct result or one clean line with exit 2-5 naming the flag or column."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.support.cli import call

ROWS = [f"Nb{1 + i % 5}Ta{1 + i // 5}Ti{2 + i % 3}V1,{300 + 7 * i},{100 + i}" for i in range(40)]


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    """`hea-zoo ARGS` in this process (`tests.support.cli.call`): these cases check the
    command's parsing and messages; tests/cli/test_cli.py runs each command as a process."""
    return call(*args, cwd=cwd)


def one_line(proc: subprocess.CompletedProcess, code: int, *fragments: str) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    lines = [line for line in proc.stderr.strip().splitlines() if not line.startswith(("usage:", "   "))]
    assert len(lines) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in proc.stderr
    return lines[0]


def table(tmp_path: Path, name: str, header: str, rows: list[str]) -> Path:
    path = tmp_path / name
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


# ----------------------------------------------------------------------------- data
def test_a_repeated_column_in_the_header_or_in_properties_names_the_column(tmp_path):
    dup = table(tmp_path, "dup.csv", "composition,hardness,hardness", ROWS)
    one_line(run("dataset", "--data", str(dup)), 3, "--data", "column 'hardness' twice (columns 2 and 3)")
    ok = table(tmp_path, "ok.csv", "composition,hardness,modulus", ROWS)
    one_line(run("dataset", "--data", str(ok), "--properties", "hardness,hardness"), 2,
             "--properties", "'hardness' listed more than once")  # fmt: skip


def test_a_ragged_row_names_its_line_and_says_too_many_fields(tmp_path):
    rows = list(ROWS)
    rows[5] += ",7"
    ragged = table(tmp_path, "ragged.csv", "composition,hardness,modulus", rows)
    one_line(run("dataset", "--data", str(ragged)), 3, "line 7: 4 fields, the header has 3 (too many fields")


def test_an_empty_file_is_empty_not_missing(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    one_line(run("dataset", "--data", str(empty)), 3, "the file is empty")
    one_line(run("dataset", "--data", os.devnull), 3, "the file is empty")  # exists, reads as empty
    one_line(run("dataset", "--data", str(tmp_path / "nothing.csv")), 3, "file not found")


def test_isotopes_and_non_elements_are_refused(tmp_path):
    import hea_zoo
    from hea_zoo.errors import DataError, UsageError

    with pytest.raises(DataError, match="D is deuterium, an isotope of H"):
        hea_zoo.parse_formula("NbTaD", ["Nb", "Ta", "H"])
    iso = table(tmp_path, "iso.csv", "composition,hardness,modulus", ROWS[:30] + ["NbTaD,300,100"])
    one_line(run("dataset", "--data", str(iso)), 3, "line 32", "D is deuterium")
    with pytest.raises(UsageError, match="Xx is not a chemical element"):
        hea_zoo.parse_formula("NbTa", ["Nb", "Ta", "Xx"])
    ok = table(tmp_path, "ok.csv", "composition,hardness,modulus", ROWS)
    one_line(run("dataset", "--data", str(ok), "--elements", "Nb,Ta,Ti,V,Xx"), 2, "--elements", "Xx is not a chemical element")


def test_a_property_without_spread_and_a_small_table_cannot_train(tmp_path):
    import hea_zoo
    from hea_zoo.errors import DataError

    const = table(tmp_path, "const.csv", "composition,hardness,modulus", [r.rsplit(",", 1)[0] + ",5" for r in ROWS])
    data = hea_zoo.load_dataset(str(const))
    with pytest.raises(DataError, match=r"every training alloy has the same value \(5\)") as err:
        data.check_learnable()
    assert err.value.field == "modulus"
    hea_zoo.load_dataset(str(const), properties=["hardness"]).check_learnable()  # the other column is fine
    small = table(tmp_path, "small.csv", "composition,hardness,modulus", ROWS[:5])
    data = hea_zoo.load_dataset(str(small))
    assert data.notes[-1] == "5 distinct alloys: too few to train a model on (at least 20)."
    with pytest.raises(DataError, match="the table has 5 distinct alloys; at least 20 are needed to train"):
        data.check_learnable()
    proc = run("train", "--model", "surrogate", "--data", str(small), "--epochs", "2", "--out", str(tmp_path / "s.keras"))
    one_line(proc, 3, "at least 20 are needed")
    assert not (tmp_path / "s.keras").exists()
    proc = run("train", "--model", "cae", "--data", str(const), "--epochs", "2", "--out", str(tmp_path / "c.keras"))
    one_line(proc, 3, "modulus", "same value (5)")


def test_epochs_are_reported_in_the_unit_of_the_flag(tmp_path):
    """A small table runs several passes per Keras epoch (whole compiled executions): the
    progress counts passes, the unit of --epochs."""
    ok = table(tmp_path, "ok.csv", "composition,hardness,modulus", ROWS)
    proc = run("train", "--model", "cae", "--data", str(ok), "--epochs", "5", "--out", str(tmp_path / "c.keras"))
    assert proc.returncode == 0, proc.stderr
    assert "cae: trained 5 epochs in" in proc.stderr, proc.stderr
    import io

    from hea_zoo.progress import TrainingProgress

    class Model:  # what fit_with_budget records: 1 Keras epoch of 8 passes planned
        training_plan = {"max_epochs": 1, "epochs": 1, "passes_per_epoch": 8.0}
        stop_training = False

    out = io.StringIO()
    progress = TrainingProgress("toy", stream=out)
    progress.set_model(Model())
    progress.set_params({"epochs": 1})
    progress.on_train_begin()
    progress.on_epoch_end(0, {"loss": 1.0})
    progress.on_train_end()
    assert "toy: trained 1 epoch in" in out.getvalue()
    Model.training_plan = {"max_epochs": 10, "epochs": 80, "passes_per_epoch": 8.0}
    Model.stop_training = True
    out = io.StringIO()
    progress = TrainingProgress("toy", stream=out)
    progress.set_model(Model())
    progress.set_params({"epochs": 10})
    progress.on_train_begin()
    for epoch in range(3):
        progress.on_epoch_end(epoch, {"loss": 1.0})
    progress.on_train_end()
    assert "toy: trained 24 of 80 epochs (the validation loss stopped improving) in" in out.getvalue(), out.getvalue()


# ----------------------------------------------------------------------------- design
def test_list_flags_add_up_when_repeated_and_an_empty_list_is_refused(tmp_path):
    merged = run("design", "-G", "60", "-K", "35", "-n", "4", "--seed", "0", "--exclude", "Al", "--exclude", "Cr,V")
    once = run("design", "-G", "60", "-K", "35", "-n", "4", "--seed", "0", "--exclude", "Al,Cr,V")
    assert merged.returncode == 0 and merged.stdout == once.stdout
    assert not any(e in merged.stdout.split("system")[1] for e in ("Al", "Cr", "V0", "V1"))
    one_line(run("design", "-G", "60", "-K", "35", "--elements", ""), 2, "--elements: an empty list")
    one_line(run("design", "-G", "60", "-K", "35", "--exclude", "Al,,Cr"), 2, "--exclude: an empty item")
    out = tmp_path / "d.csv"
    allowed = run("design", "-G", "60", "-K", "35", "-n", "3", "--seed", "0", "--elements", "Mo,Nb,Ta",
                  "--elements", "Ti,W", "--out", str(out))  # fmt: skip
    assert allowed.returncode == 0, allowed.stderr
    import pandas as pd

    designs = pd.read_csv(out)
    present = {e for e in designs.columns[designs.columns.get_loc("nearest_distance") + 1:] if (designs[e] > 0).any()}
    assert present <= {"Mo", "Nb", "Ta", "Ti", "W"} and present & {"Ti", "W"}, present


def test_excluding_an_element_the_model_lacks_is_already_satisfied():
    from hea_zoo.serving.design import Constraints, TargetError

    rules = Constraints(exclude=["Be", "Nb"]).resolve(["Nb", "Ta", "Ti", "W"])
    assert rules.notes == ("excluded Be: not among the model's elements, so no design holds it anyway.",)
    assert rules.allowed.tolist() == [False, True, True, True]
    with pytest.raises(TargetError, match="unknown element 'Xx'"):
        Constraints(exclude=["Xx"]).resolve(["Nb", "Ta", "Ti", "W"])
    with pytest.raises(TargetError, match="unknown element 'Be'"):
        Constraints(elements=["Be", "Nb"]).resolve(["Nb", "Ta", "Ti", "W"])  # allowing it cannot be satisfied


def test_a_missing_models_folder_is_named(tmp_path):
    one_line(run("design", "-G", "60", "-K", "35", "--models-dir", str(tmp_path / "nowhere")), 2,
             "--models-dir", "does not exist")  # fmt: skip
    (tmp_path / "file").write_text("x")
    one_line(run("design", "-G", "60", "-K", "35", "--models-dir", str(tmp_path / "file")), 2, "is a file, not a folder")


def test_long_runs_show_a_few_progress_lines_off_a_terminal():
    proc = run("design", "-G", "60", "-K", "35", "-n", "3", "--seed", "0", "--candidates", "200000")
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("design: ")]
    assert 2 <= len(lines) <= 6, proc.stderr
    assert all("/200,000 candidates (" in line and "left" in line for line in lines)
    quiet = run("design", "-G", "60", "-K", "35", "-n", "3", "--seed", "0")
    assert "candidates (" not in quiet.stderr


def test_a_target_far_outside_the_training_data_is_a_target_error_in_python_too():
    from hea_zoo.serving.design import Designer, TargetError

    designer = Designer.from_exported()
    with pytest.raises(TargetError, match="far outside the training data of shear_modulus") as err:
        designer.design({"shear_modulus": 1e30, "fracture_toughness": 35.0}, n=3, seed=0)
    assert err.value.field == "target['shear_modulus']"
    result = designer.design({"shear_modulus": 170.0, "fracture_toughness": 35.0}, n=3, seed=0, candidates=4000)
    assert any("outside the training data" in note for note in result.notes)
    assert np.isfinite(result.table["shear_modulus_surrogate"]).all()

"""The `hea-zoo` command, run as a user would: subprocesses, their output and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hea_zoo import load_dataset, parse_formulas
from hea_zoo.data import oracle
from hea_zoo.cli import EXIT_DATA, EXIT_MODEL, EXIT_TARGET, EXIT_USAGE


def run(*args: str, cwd=None, timeout=600) -> subprocess.CompletedProcess:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
    return subprocess.run(
        [sys.executable, "-m", "hea_zoo.cli", *args],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout,
    )  # fmt: skip


def one_line_error(proc: subprocess.CompletedProcess, code: int, *fragments: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    message = [line for line in proc.stderr.splitlines() if line and not line.startswith("usage:")]
    assert len(message) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in message[0], (fragment, message[0])


@pytest.fixture(scope="module")
def user_csv(tmp_path_factory) -> Path:
    """A user's table: own column names, 9 elements, two properties in other units."""
    ds = load_dataset()
    keep = [i for i, f in enumerate(ds.formulas) if set(parse_formulas([f], ds.elements)[0].nonzero()[0])
            <= {ds.elements.index(e) for e in ("Hf", "Mo", "Nb", "Ta", "Ti", "V", "W", "Zr", "Cr")}]  # fmt: skip
    rng = np.random.default_rng(0)
    sub = ds.subset(np.array(keep[:120]), "user")
    path = tmp_path_factory.mktemp("user") / "my_alloys.csv"
    pd.DataFrame(
        {
            "Alloy ID": [f"A{i}" for i in range(len(sub))],
            "Nominal composition": list(sub.formulas),
            "Vickers hardness (HV)": 3.0 * sub.properties[:, 0] + 150 + rng.normal(0, 5, len(sub)),
            "Youngs modulus (GPa)": oracle.descriptors(sub.compositions)["E"],
        }
    ).to_csv(path, index=False)
    return path


def test_design_prints_valid_sorted_designs_and_moves_with_target(tmp_path):
    means = []
    for g, k in ((40.0, 45.0), (85.0, 20.0)):
        out = tmp_path / f"designs_{g:.0f}.csv"
        proc = run("design", "--model", "cvae", "--shear-modulus", str(g), "--toughness", str(k),
                   "-n", "20", "--seed", "1", "--out", str(out))  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert f"shear_modulus = {g:g} GPa" in proc.stdout
        table = pd.read_csv(out)
        assert len(table) == 20
        x = parse_formulas(table["formula"])  # every printed formula is a valid composition
        np.testing.assert_allclose(x.sum(axis=1), 1.0, atol=1e-6)
        assert table["formula"].is_unique
        assert np.all(np.diff(table["relative_error_surrogate"]) >= 0), "sorted by closeness"
        np.testing.assert_allclose(table["shear_modulus_oracle"], oracle.shear_modulus(x), rtol=2e-3)
        means.append(table[["shear_modulus_oracle", "fracture_toughness_oracle"]].mean().to_numpy())
        for formula in table["formula"][:3]:
            assert formula in proc.stdout
    assert means[1][0] > means[0][0] + 25, means  # G follows the target
    assert means[1][1] < means[0][1] - 10, means  # and so does K


def test_design_same_seed_same_designs_and_out_of_range_warning():
    a = run("design", "--model", "cae", "-G", "60", "-K", "30", "-n", "5", "--seed", "3")
    b = run("design", "--model", "cae", "-G", "60", "-K", "30", "-n", "5", "--seed", "3")
    assert a.returncode == 0 and a.stdout == b.stdout
    far = run("design", "--model", "wcgan", "-G", "300", "-K", "30", "-n", "3", "--seed", "0")
    assert far.returncode == 0
    assert "outside the training data" in far.stderr


@pytest.mark.parametrize(
    "args, fragments",
    [
        (("-G", "-5", "-K", "30"), ("shear_modulus must be nonnegative", "-5")),
        (("-G", "nan", "-K", "30"), ("shear_modulus must be a finite number",)),
        (("-G", "50"), ("missing target value(s) for ['fracture_toughness']",)),
        (("-G", "50", "-K", "30", "--target", "hardness=3"), ("unknown target(s) ['hardness']",)),
    ],
)
def test_design_bad_targets(args, fragments):
    one_line_error(run("design", "--model", "cvae", *args), EXIT_TARGET, *fragments)


def test_unknown_model_and_command():
    one_line_error(run("design", "--model", "gan", "-G", "50", "-K", "30"), EXIT_USAGE, "unknown model 'gan'", "cvae")
    one_line_error(run("train", "--model", "vae"), EXIT_USAGE, "unknown model 'vae'", "surrogate")
    proc = run("fly")
    assert proc.returncode == EXIT_USAGE and "invalid choice" in proc.stderr and "Traceback" not in proc.stderr


def test_data_errors(tmp_path, user_csv):
    one_line_error(run("dataset", "--data", str(tmp_path / "none.csv")), EXIT_DATA, "not found", "none.csv")
    one_line_error(
        run("dataset", "--data", str(user_csv), "--composition-column", "formula"),
        EXIT_DATA, "Composition column 'formula' not found", "Nominal composition",
    )  # fmt: skip
    one_line_error(
        run("dataset", "--data", str(user_csv), "--composition-column", "Nominal composition",
            "--properties", "Hardness"),
        EXIT_DATA, "['Hardness'] not found",
    )  # fmt: skip
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"c": ["NbTaTiV", "MoNbTaW", "NbTa-0.3Ti", "Unobtainium"], "h": [1, 2, 3, 4]}).to_csv(bad, index=False)
    one_line_error(run("dataset", "--data", str(bad), "--composition-column", "c"), EXIT_DATA,
                   "row 2", "'NbTa-0.3Ti'", "negative")  # fmt: skip


def test_model_file_errors(tmp_path):
    not_model = tmp_path / "notes.keras"
    not_model.write_text("these are my notes, not a model")
    one_line_error(run("evaluate", "--model", str(not_model)), EXIT_MODEL, "not a hea_zoo model", "notes.keras")
    one_line_error(run("export", "--model", str(tmp_path / "missing.keras")), EXIT_MODEL, "file not found")


def test_dataset_show_and_write(tmp_path):
    proc = run("dataset", "--head", "3")
    assert proc.returncode == 0 and "rhea529: 529 alloys, 22 elements" in proc.stdout
    out = tmp_path / "rhea529.csv"
    assert run("dataset", "--out", str(out)).returncode == 0
    table = pd.read_csv(out)
    assert len(table) == 529 and {"composition", "shear_modulus", "fracture_toughness"} <= set(table.columns)
    np.testing.assert_allclose(table.shear_modulus, load_dataset().properties[:, 0], rtol=1e-6)


def test_train_evaluate_export_design_on_a_user_csv(tmp_path, user_csv):
    columns = ("--data", str(user_csv), "--composition-column", "Nominal composition",
               "--properties", "Vickers hardness (HV),Youngs modulus (GPa)")  # fmt: skip
    model = tmp_path / "my_cvae.keras"
    proc = run("train", "--model", "cvae", *columns, "--epochs", "40", "--out", str(model))
    assert proc.returncode == 0, proc.stderr
    assert model.is_file() and "trained cvae" in proc.stdout
    surrogate = tmp_path / "surrogate.keras"
    proc = run("train", "--model", "surrogate", *columns, "--epochs", "60", "--out", str(surrogate))
    assert proc.returncode == 0, proc.stderr
    assert "held-out Vickers hardness (HV): R2" in proc.stdout

    report = tmp_path / "report"
    proc = run("evaluate", "--model", str(model), *columns, "--surrogate", str(surrogate),
               "--n-per-condition", "20", "--out", str(report))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((report / "metrics.json").read_text())
    assert (report / "report.md").is_file()
    assert "my_cvae" in metrics["models"]
    # the oracle does not apply to a user's 9-element hardness data: no oracle numbers
    assert metrics["models"]["my_cvae"]["summary"]["mape_oracle"] is None

    # evaluating with mismatched data is a model error, not a crash
    one_line_error(run("evaluate", "--model", str(model), "--n-per-condition", "5"), EXIT_MODEL, "trained on elements")

    exported = tmp_path / "exported"
    for path, name in ((model, "my_cvae"), (surrogate, "surrogate")):
        proc = run("export", "--model", str(path), "--out", str(exported), "--name", name, "--version", "2")
        assert proc.returncode == 0, proc.stderr
    assert (exported / "my_cvae" / "2" / "saved_model.pb").is_file()
    assert (exported / "my_cvae.onnx").is_file()
    again = run("export", "--model", str(model), "--out", str(exported), "--name", "my_cvae", "--version", "2")
    assert again.returncode == EXIT_MODEL and "Traceback" not in again.stderr

    out = tmp_path / "designs.csv"
    proc = run("design", "--models-dir", str(exported), "--model", "my_cvae",
               "--target", "Vickers hardness (HV)=330", "--target", "Youngs modulus (GPa)=150",
               "-n", "5", "--seed", "0", "--out", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    designs = pd.read_csv(out)
    elements = ("Cr", "Hf", "Mo", "Nb", "Ta", "Ti", "V", "W", "Zr")
    x = parse_formulas(designs["formula"], elements)
    assert x.shape == (5, 9)
    assert "Vickers hardness (HV)_surrogate" in designs.columns
    assert "no oracle column" in proc.stdout


@pytest.mark.slow
def test_reproduce_quick_writes_the_report(tmp_path):
    out = tmp_path / "report"
    proc = run("reproduce", "--quick", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "total time:" in proc.stdout
    data = json.loads((out / "metrics.json").read_text())
    assert set(data["models"]) == {"cae", "cvae", "wcgan"}
    text = (out / "report.md").read_text()
    assert "Table 1" in text and "Table 2" in text
    for rel in data["figures"].values():
        assert (out / rel).is_file() and (out / rel).stat().st_size > 1000

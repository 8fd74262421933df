"""The `hea-zoo` command, run as a user would: subprocesses, their output and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hea_zoo import load_dataset, parse_formulas
from hea_zoo.constants import ELEMENTS, GENERATOR_NAMES
from hea_zoo.data import oracle
from hea_zoo.cli import EXIT_DATA, EXIT_MODEL, EXIT_TARGET, EXIT_USAGE
from tests.support.cli import call, one_line_error, run


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


@pytest.fixture(scope="module")
def oracle_models(tmp_path_factory) -> Path:
    """The committed cVAE and surrogate, the cVAE marked as trained on the bundled data."""
    from hea_zoo.constants import BUNDLED_FINGERPRINT
    from tests.support.design_exports import models_dir

    return models_dir(tmp_path_factory.mktemp("oracle_models"), updates={"data_fingerprint": BUNDLED_FINGERPRINT})


def test_design_prints_valid_sorted_designs_and_moves_with_target(tmp_path, oracle_models):
    means = []
    for g, k in ((40.0, 45.0), (85.0, 20.0)):
        out = tmp_path / f"designs_{g:.0f}.csv"
        proc = run("design", "--models-dir", str(oracle_models), "--model", "cvae", "--shear-modulus", str(g),
                   "--toughness", str(k), "-n", "20", "--seed", "1", "--out", str(out))  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert f"shear_modulus = {g:g} GPa" in proc.stdout
        assert "designs span" in proc.stdout and "alloy systems" in proc.stdout
        table = pd.read_csv(out)
        assert len(table) == 20
        x = parse_formulas(table["formula"])  # every printed formula is a valid composition
        np.testing.assert_allclose(x.sum(axis=1), 1.0, atol=1e-6)
        assert table["formula"].is_unique
        keys = list(zip(table["relative_error_surrogate"], table["candidate"]))
        assert keys == sorted(keys), "sorted by closeness"
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
    far = run("design", "--model", "wcgan", "-G", "200", "-K", "30", "-n", "3", "--seed", "0")
    assert far.returncode == 0
    assert "outside the training data" in far.stderr
    # Beyond the data by more than its range: a target error naming the range, not a design of Mo1.
    absurd = run("design", "-G", "1e30", "-K", "35", "-n", "3", "--seed", "0")
    assert absurd.returncode == 5 and absurd.stdout == ""
    assert absurd.stderr.strip().startswith("target error: --shear-modulus: 1e+30 is far outside the training data of "
                                            "shear_modulus (34.72 to 151.1)"), absurd.stderr  # fmt: skip


def test_design_without_seed_reports_the_drawn_one():
    proc = call("design", "-G", "60", "-K", "30", "-n", "3")
    assert proc.returncode == 0, proc.stderr
    seed = proc.stdout.split("seed ")[1].split(",")[0]
    again = call("design", "-G", "60", "-K", "30", "-n", "3", "--seed", seed)
    assert again.stdout == proc.stdout


def test_design_constraints_hold_in_every_row(tmp_path):
    out = tmp_path / "constrained.csv"
    proc = call("design", "-G", "70", "-K", "25", "-n", "15", "--seed", "2", "--elements", "Mo,Nb,Ta,Ti,V,W,Zr,Hf",
               "--exclude", "Hf", "--max-elements", "4", "--bound", "Ti=0.1:0.3", "--bound", "W=:0.2",
               "--min-fraction", "0.05", "--select", "closest", "--out", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(out)
    assert len(table) == 15
    k = np.rint(table[list(ELEMENTS)].to_numpy() * 1000).astype(int)
    present = k > 0
    allowed = [ELEMENTS.index(e) for e in ("Mo", "Nb", "Ta", "Ti", "V", "W", "Zr")]
    assert not np.delete(present, allowed, axis=1).any()
    assert np.all(present.sum(axis=1) <= 4) and np.all(k[present] >= 50)
    ti, w = k[:, ELEMENTS.index("Ti")], k[:, ELEMENTS.index("W")]
    assert np.all((ti >= 100) & (ti <= 300)) and np.all(w <= 200)
    assert "wrote 15 designs" in proc.stdout


def test_design_without_surrogate_says_so(tmp_path):
    from tests.support.design_exports import models_dir

    folder = models_dir(tmp_path / "only_cvae", surrogate=False)
    proc = call("design", "--models-dir", str(folder), "--model", "cvae", "-G", "60", "-K", "30", "-n", "3", "--seed", "0")
    assert proc.returncode == 0, proc.stderr
    assert "no surrogate found" in proc.stderr and "export command" in proc.stderr
    assert "best by surrogate" not in proc.stdout and "not judged" in proc.stdout


def test_design_target_zero_uses_the_floor_without_warnings():
    proc = run("design", "-G", "0", "-K", "30", "-n", "3", "--seed", "0", "--select", "closest")
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr and "divide" not in proc.stderr


@pytest.mark.parametrize(
    "args, code, fragments",
    [
        (("-n", "-5"), EXIT_USAGE, ("usage error: -n: must be a positive integer", "-5")),
        (("--candidates", "5", "-n", "20"), EXIT_USAGE, ("usage error: --candidates: 5 is fewer than the 20 designs",)),
        (("--candidates", "0"), EXIT_USAGE, ("usage error: --candidates: must be a positive integer", "0")),
        (("--candidates", "-5"), EXIT_USAGE, ("usage error: --candidates: must be a positive integer", "-5")),
        (("--seed", "-1"), EXIT_USAGE, ("usage error: --seed: ", "[0, 4294967295]", "-1")),
        (("--seed", "4294967296"), EXIT_USAGE, ("[0, 4294967295]",)),
        (("--select", "best"), EXIT_USAGE, ("usage error: --select: must be diverse or closest", "'best'")),
        (("--tolerance", "0"), EXIT_TARGET, ("target error: --tolerance: must be a positive number",)),
        (("--tolerance", "-0.1"), EXIT_TARGET, ("target error: --tolerance: must be a positive number",)),
        (("--target", "shear_modulus=80"), EXIT_TARGET, ("shear_modulus is given twice",)),
        (("-G", "1e39"), EXIT_TARGET, ("target error: --shear-modulus: 1e+39 is beyond",)),
        (("--elements", "Nb,Xx"), EXIT_TARGET, ("target error: --elements: unknown element 'Xx'",)),
        (("--exclude", "Nb", "--bound", "Nb=0.1:0.5"), EXIT_TARGET, ("target error: --bound Nb: Nb is required", "excluded")),
        (("--bound", "Al=0.6:1", "--bound", "Nb=0.6:1"), EXIT_TARGET, ("target error: --bound: the lower bounds sum to 1.2 > 1",)),
        (("--max-elements", "0"), EXIT_TARGET, ("target error: --max-elements: must be at least 1",)),
        (("--bound", "Al=0.3:0.1"), EXIT_TARGET, ("target error: --bound Al: ", "lower 0.3 > upper 0.1",)),
        (("--bound", "Al"), EXIT_TARGET, ("target error: --bound: ", "SYMBOL=LO:HI",)),
        (("--elements", "Be,O", "--candidates", "300"), EXIT_TARGET, ("no candidate satisfies", "300 candidates")),
        (("--out", "/proc/hea_zoo_designs.csv"), EXIT_USAGE, ("usage error: --out: ", "not writable", "/proc")),
    ],
)
def test_design_bad_requests(args, code, fragments):
    base = ["design", "--model", "cvae", "-G", "60", "-K", "30"]
    proc = call(*base, *args)
    one_line_error(proc, code, *fragments)
    assert proc.stdout == "", "fails before printing any design"


def test_design_broken_model_files(tmp_path):
    from tests.support.design_exports import EXPORTED, copy_export, foreign_onnx, models_dir, truncated_copy

    cut = truncated_copy(EXPORTED / "cvae.onnx", tmp_path / "cut.onnx")
    one_line_error(call("design", "--model", str(cut), "-G", "60", "-K", "30"), EXIT_MODEL, "cut.onnx", "not a readable ONNX")
    foreign = foreign_onnx(tmp_path / "foreign.onnx")
    one_line_error(call("design", "--model", str(foreign), "-G", "60", "-K", "30"), EXIT_MODEL, "foreign.onnx", "missing key")
    nolatent = copy_export("cvae", tmp_path, remove=("latent_dim",), as_name="nolatent")
    one_line_error(call("design", "--model", str(nolatent), "-G", "60", "-K", "30"), EXIT_MODEL, "nolatent.onnx", "'latent_dim'")
    badjson = copy_export("cvae", tmp_path, raw={"condition_names": '["shear_modulus"'}, as_name="badjson")
    one_line_error(call("design", "--model", str(badjson), "-G", "60", "-K", "30"), EXIT_MODEL, "badjson.onnx",
                   "'condition_names' does not parse")  # fmt: skip
    folder = models_dir(tmp_path / "cut_surrogate", surrogate=False)
    truncated_copy(EXPORTED / "surrogate.onnx", folder / "surrogate.onnx")
    one_line_error(call("design", "--models-dir", str(folder), "--model", "cvae", "-G", "60", "-K", "30"), EXIT_MODEL,
                   "surrogate.onnx", "not a readable ONNX surrogate")  # fmt: skip


@pytest.mark.parametrize(
    "args, fragments",
    [
        (("-G", "-5", "-K", "30"), ("target error: --shear-modulus: must be nonnegative (its training values are never negative)", "-5")),
        (("-G", "nan", "-K", "30"), ("target error: --shear-modulus: must be a finite number",)),
        (("-G", "50"), ("missing target value(s) for ['fracture_toughness']",)),
        (("-G", "50", "-K", "30", "--target", "hardness=3"), ("unknown target(s) ['hardness']",)),
    ],
)
def test_design_bad_targets(args, fragments):
    one_line_error(call("design", "--model", "cvae", *args), EXIT_TARGET, *fragments)


def test_unknown_model_and_command():
    one_line_error(call("design", "--model", "gan", "-G", "50", "-K", "30"), EXIT_USAGE, "unknown model 'gan'", "cvae")
    one_line_error(call("train", "--model", "vae"), EXIT_USAGE, "unknown model 'vae'", "surrogate")
    proc = call("fly")
    assert proc.returncode == EXIT_USAGE and "invalid choice" in proc.stderr and "Traceback" not in proc.stderr


def test_data_errors(tmp_path, user_csv):
    one_line_error(call("dataset", "--data", str(tmp_path / "none.csv")), EXIT_DATA, "not found", "none.csv")
    one_line_error(
        call("dataset", "--data", str(user_csv), "--composition-column", "formula"),
        EXIT_DATA, "Composition column 'formula' not found", "Nominal composition",
    )  # fmt: skip
    one_line_error(
        call("dataset", "--data", str(user_csv), "--composition-column", "Nominal composition",
            "--properties", "Hardness"),
        EXIT_DATA, "['Hardness'] not found",
    )  # fmt: skip
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"c": ["NbTaTiV", "MoNbTaW", "NbTa-0.3Ti", "Unobtainium"], "h": [1, 2, 3, 4]}).to_csv(bad, index=False)
    one_line_error(call("dataset", "--data", str(bad), "--composition-column", "c"), EXIT_DATA,
                   "row 2", "'NbTa-0.3Ti'", "negative")  # fmt: skip


def test_data_errors_name_flags_and_lines_from_the_errors_fields(tmp_path, capsys):
    """The library's error names the parameter (`field`) and the row (`row`, `line`); the
    command line shows the flag and the line of the user's file."""
    from hea_zoo.cli import main

    table = tmp_path / "alloys.csv"
    table.write_text("alloy,h\nNb2.5e+1Ta1,1\n\nMoW,\nHfNb,3\nTiZr,4\n")
    assert main(["dataset", "--data", str(table), "--composition-column", "alloy"]) == EXIT_DATA
    err = capsys.readouterr().err.strip()
    assert err == (f"data error: {table}: --dropna: line 4 (data row 1, 0-based): missing value for h "
                   "(1 rows have missing properties; set it to drop them).")  # fmt: skip
    # --dropna: the notes the library returns are printed, and scientific notation parses
    # without --elements as with it.
    assert main(["dataset", "--data", str(table), "--composition-column", "alloy", "--dropna"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("load_dataset: dropped 1 rows with missing properties.\n")
    assert "Nb0.962Ta0.038" in out
    assert main(["dataset", "--data", str(table), "--composition-column", "alloy", "--elements", "Nb,Ta,Nb"]) == EXIT_USAGE
    assert "usage error: " in (err := capsys.readouterr().err) and "--elements: duplicate symbols" in err
    assert main(["dataset", "--data", str(table), "--composition-column", "alloy", "--dropna",
                 "--elements", "Mo,W,Hf,Nb,Ti"]) == EXIT_DATA  # fmt: skip
    err = capsys.readouterr().err
    assert err.startswith(f"data error: {table}: line 2 (data row 0, 0-based): formula 'Nb2.5e+1Ta1': element(s) Ta")


def test_model_file_errors(tmp_path):
    not_model = tmp_path / "notes.keras"
    not_model.write_text("these are my notes, not a model")
    one_line_error(run("evaluate", "--model", str(not_model)), EXIT_MODEL, "not a hea_zoo model", "notes.keras")
    one_line_error(call("export", "--model", str(tmp_path / "missing.keras")), EXIT_MODEL, "file not found")


def test_dataset_show_and_write(tmp_path):
    proc = run("dataset", "--head", "3")
    assert proc.returncode == 0 and "rhea529: 529 alloys, 22 elements" in proc.stdout
    out = tmp_path / "rhea529.csv"
    assert call("dataset", "--out", str(out)).returncode == 0  # the writing, in this process
    table = pd.read_csv(out)
    assert len(table) == 529 and {"composition", "shear_modulus", "fracture_toughness"} <= set(table.columns)
    np.testing.assert_allclose(table.shear_modulus, load_dataset().properties[:, 0], rtol=1e-6)


@pytest.mark.slow
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
    assert ("priors: Youngs modulus (GPa) learnt as its ratio to the Reuss average of the elements' "
            "youngs_modulus\n") in proc.stdout  # (its name gives the unit; hardness has none)  # fmt: skip

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


def test_export_all_on_a_user_csv_then_design_with_it(tmp_path, user_csv):
    """`export --all --data`: every default model of a user's table, and `design` uses them."""
    columns = ("--data", str(user_csv), "--composition-column", "Nominal composition",
               "--properties", "Vickers hardness (HV),Youngs modulus (GPa)")  # fmt: skip
    exported = tmp_path / "my_models"
    # in this process (`call`: no second TensorFlow start-up); `design` below runs as a user runs it
    proc = call("export", "--all", *columns, "--models", "cae", "--quick", "--epochs", "1",
                "--surrogate-epochs", "1", "--n-per-condition", "5", "--out", str(exported))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((exported / "MANIFEST.json").read_text())
    assert set(manifest["models"]) == {"cae", "surrogate"}  # the surrogate is always trained
    assert manifest["dataset"]["property_names"] == ["Vickers hardness (HV)", "Youngs modulus (GPa)"]
    assert len(manifest["dataset"]["elements"]) == 9
    for name, entry in manifest["models"].items():
        assert entry["training"]["epochs"] == 1  # given epochs win over --quick's (tests/test_workflows.py)
        assert (exported / entry["files"]["onnx"]).is_file() and (exported / name / "1" / "saved_model.pb").is_file()
    assert manifest["models"]["cae"]["metrics"]["mape_oracle_percent"] is None  # no oracle for this table
    assert "manifest:" in proc.stdout and "[" in proc.stderr  # results on stdout, steps on stderr

    out = tmp_path / "designs.csv"
    proc = run("design", "--models-dir", str(exported), "--model", "cae",
               "--target", "Vickers hardness (HV)=330", "--target", "Youngs modulus (GPa)=150",
               "-n", "5", "--seed", "0", "--out", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    designs = pd.read_csv(out)
    assert parse_formulas(designs["formula"], manifest["dataset"]["elements"]).shape == (5, 9)
    # The surrogate of the same folder predicts each design, in the table's own names.
    assert {"Vickers hardness (HV)_surrogate", "Youngs modulus (GPa)_surrogate"} <= set(designs.columns), list(designs.columns)


@pytest.mark.slow
def test_reproduce_quick_writes_the_report(tmp_path):
    out = tmp_path / "report"
    proc = run("reproduce", "--quick", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "total time:" in proc.stdout
    data = json.loads((out / "metrics.json").read_text())
    assert set(data["models"]) == set(GENERATOR_NAMES)  # the study's three and the flow
    text = (out / "report.md").read_text()
    assert "Table 1" in text and "Table 2" in text
    assert "| flow (beyond the study) | — |" in text
    for rel in data["figures"].values():
        assert (out / rel).is_file() and (out / rel).stat().st_size > 1000


def test_design_path_imports_no_tensorflow_pandas_or_pymatgen(tmp_path):
    """Fast start: `import hea_zoo`, the CLI and a design with --out load none of them."""
    code = (
        "import sys, hea_zoo, hea_zoo.cli\n"
        "heavy = ('tensorflow', 'keras', 'pandas', 'pymatgen')\n"
        "assert not [m for m in heavy if m in sys.modules], sys.modules.keys()\n"
        f"code = hea_zoo.cli.main(['design', '-G', '60', '-K', '35', '-n', '5', '--seed', '0', '--out', {str(tmp_path / 'd.csv')!r}])\n"
        "print('loaded:', sorted(m for m in heavy if m in sys.modules), 'exit', code)\n"
        "assert callable(hea_zoo.load_dataset) and hea_zoo.ELEMENTS[0] == 'Al'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "loaded: [] exit 0" in proc.stdout


def test_negative_design_targets_follow_the_training_range():
    """A negative target is refused where the generator's training values never were
    negative (or the range is unknown), and accepted where they were: a rule of the design
    request, which the command line's NAME=VALUE targets reach as a mapping."""
    import argparse

    from hea_zoo.cli import _library_error, _parse_targets
    from hea_zoo.serving.design import DesignRequest, TargetError

    args = argparse.Namespace(shear_modulus=None, toughness=None, target=["dH=-4", "ys=250"])
    names = ["dH", "ys"]
    request = DesignRequest(_parse_targets(args))
    assert request.target_values(names, [[-10.0, 100.0], [8.0, 400.0]]).tolist() == [-4.0, 250.0]
    for training_range in (None, [[0.0, 100.0], [8.0, 400.0]]):
        with pytest.raises(TargetError, match="must be nonnegative") as info:
            request.target_values(names, training_range)
        assert info.value.field == "target['dH']"
        assert str(_library_error(None, info.value)).startswith("target error: --target dH: must be nonnegative")
    # the same rule for a target in condition order
    with pytest.raises(TargetError) as info:
        DesignRequest([-4.0, 250.0]).target_values(names, None)
    assert info.value.field == "target[0]"


def test_design_fields_map_to_flags():
    """Every field a design request names in an error has a flag of `hea-zoo design`."""
    from hea_zoo.cli import _flag as _design_flag

    assert _design_flag("n") == "-n" and _design_flag("out") == "--out" and _design_flag("chunk_size") == "--chunk-size"
    assert _design_flag("bounds['W']") == "--bound W" and _design_flag("target['shear_modulus']") == "--shear-modulus"
    assert _design_flag("target['fracture_toughness']") == "--toughness" and _design_flag("target['ys']") == "--target ys"
    assert _design_flag("min_fraction") == "--min-fraction" and _design_flag(None) is None

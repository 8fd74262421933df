"""The example training scripts are thin callers of `hea-zoo train` (one front end)."""

import runpy
import sys

import keras
import pytest

from hea_zoo.data.datasets import load_dataset
from tests.support import ROOT

EXAMPLES = ROOT / "examples"


def run_example(name: str, argv: list[str]) -> int:
    saved = sys.argv
    sys.argv = [str(EXAMPLES / f"train_{name}.py"), *argv]
    try:
        with pytest.raises(SystemExit) as done:
            runpy.run_path(str(EXAMPLES / f"train_{name}.py"), run_name="__main__")
    finally:
        sys.argv = saved
    return done.value.code


def test_example_trains_and_saves_on_bundled_data(tmp_path, capsys):
    out = tmp_path / "cae.keras"
    assert run_example("cae", ["--epochs", "2", "--out", str(out)]) == 0
    assert f"saved to {out}" in capsys.readouterr().out
    model = keras.saving.load_model(out)
    assert model.is_trained and len(model.elements) == 22


def test_example_takes_the_cli_list_convention_on_a_user_csv(tmp_path):
    frame = load_dataset().to_frame()
    frame = frame[frame["composition"].str.contains("Nb")].rename(
        columns={"composition": "formula", "shear_modulus": "G"}
    )
    csv = tmp_path / "mine.csv"
    frame[["formula", "G", "fracture_toughness"]].to_csv(csv, index=False)
    out = tmp_path / "mine.keras"
    argv = ["--epochs", "2", "--data", str(csv), "--composition-column", "formula",
            "--properties", "G,fracture_toughness", "--out", str(out)]  # fmt: skip
    assert run_example("cvae", argv) == 0
    model = keras.saving.load_model(out)
    assert model.condition_names == ("G", "fracture_toughness")


def test_example_reports_usage_errors_with_exit_code_2(capsys):
    assert run_example("wcgan", ["--epochs", "many"]) == 2
    assert "--epochs" in capsys.readouterr().err


@pytest.mark.slow
def test_mpea_goals_example_designs_obey_the_density_goal(tmp_path):
    """examples/mpea_goals.py: yield strength >= 1 GPa and density <= 8 on the MPEA table."""
    import os
    import subprocess
    import sys

    from tests.support import ROOT

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "mpea_goals.py"), str(tmp_path / "models")],
                          capture_output=True, text=True, env=env, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "8 designs for yield_strength>=1000, density<=8" in done.stdout
    assert done.stdout.count("nearest measured alloy:") == 8
    assert (tmp_path / "models" / "cae.onnx").is_file()

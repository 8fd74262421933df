"""The reproduce_paper example runs the `hea-zoo reproduce` command end to end."""

import json
import runpy
import sys

import pytest

from hea_zoo.constants import GENERATOR_NAMES
from tests.support import ROOT

EXAMPLE = ROOT / "examples" / "reproduce_paper.py"


def run_example(argv):
    saved = sys.argv
    sys.argv = [str(EXAMPLE), *argv]
    try:
        with pytest.raises(SystemExit) as done:
            runpy.run_path(str(EXAMPLE), run_name="__main__")
    finally:
        sys.argv = saved
    return done.value.code


@pytest.mark.slow
def test_reproduce_paper_quick_all_models(tmp_path):
    assert run_example(["--quick", "--n-per-condition", "20", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "metrics.json").read_text())
    assert set(data["models"]) == set(GENERATOR_NAMES)
    summary = data["models"]["cvae"]["summary"]
    assert summary["validity"] == 1.0
    assert summary["mape_oracle"] is not None
    assert all((tmp_path / rel).is_file() for rel in data["figures"].values())


@pytest.mark.slow  # a reproduction (one model, 2 epochs, the whole protocol): about 7.5 s
def test_reproduce_paper_one_model_and_deprecated_output_flag(tmp_path, capsys):
    code = run_example(["--quick", "--models", "cvae", "--n-per-condition", "10",
                        "--epochs", "2", "--output", str(tmp_path)])  # fmt: skip
    assert code == 0
    assert "--output is deprecated" in capsys.readouterr().err
    data = json.loads((tmp_path / "metrics.json").read_text())
    assert set(data["models"]) == {"cvae"}
    assert data["models"]["cvae"]["summary"]["mape_oracle"] is not None

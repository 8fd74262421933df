"""The reproduce_paper example runs end to end (slow: it trains models)."""

import json
import runpy
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "reproduce_paper.py"


@pytest.mark.slow
def test_reproduce_paper_quick(tmp_path):
    main = runpy.run_path(str(EXAMPLE))["main"]
    path = main(["--quick", "--models", "cvae", "--n-per-condition", "20", "--output", str(tmp_path)])
    assert path == tmp_path / "report.md"
    data = json.loads((tmp_path / "metrics.json").read_text())
    summary = data["models"]["cvae"]["summary"]
    assert summary["validity"] == 1.0
    assert summary["mape_oracle"] is not None
    assert all((tmp_path / rel).is_file() for rel in data["figures"].values())

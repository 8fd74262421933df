"""The reproduce_paper example runs end to end on quick settings (it trains models)."""

import json
import runpy
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "reproduce_paper.py"

def test_reproduce_paper_quick(tmp_path):
    main = runpy.run_path(str(EXAMPLE))["main"]
    path = main(["--quick", "--n-per-condition", "20", "--output", str(tmp_path)])
    assert path == tmp_path / "report.md"
    data = json.loads((tmp_path / "metrics.json").read_text())
    assert set(data["models"]) == {"cae", "cvae", "wcgan"}
    summary = data["models"]["cvae"]["summary"]
    assert summary["validity"] == 1.0
    assert summary["mape_oracle"] is not None
    assert all((tmp_path / rel).is_file() for rel in data["figures"].values())

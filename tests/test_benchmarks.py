"""The benchmark runner (benchmarks/run.py) on tiny settings: files written, keys, sane values.

No timing is asserted: the numbers depend on the machine.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import run  # noqa: E402

TINY = [
    "--quick",
    "--n-per-condition", "8",
    "--n-line", "3",
    "--n-novelty", "4",
    "--pool-size", "500",
    "--sdv-pool-size", "300",
    "--sdv-epochs", "1",
    "--train-epochs", "1",
    "--speed-batches", "1,64,1024",
    "--speed-models", "cvae",
    "--speed-min-time", "0.01",
    "--scale-total", "100000",
    "--scale-chunk", "16384",
]  # fmt: skip


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    args = [*TINY, "--out", str(out), "--scale-dir", str(out / "scale")]
    return out, run.main(args)


def test_files_written(results):
    out, returned = results
    data = json.loads((out / "results.json").read_text())
    assert data["parts"] == ["quality", "speed", "scale"]
    for key in ("command", "machine", "versions", "settings", "quality", "speed", "scale", "targets", "total_seconds"):
        assert key in data
    markdown = (out / "results.md").read_text()
    for heading in ("## Design quality", "## Training time", "## Generation throughput", "## Scale", "## Targets"):
        assert heading in markdown
    assert "random_screening" in markdown and "nearest_neighbour" in markdown
    assert data["quality"]["protocol"]["n_per_condition"] == 8
    assert returned["settings"]["scale_total"] == 100000


def test_quality_methods(results):
    _, data = results
    methods = data["quality"]["methods"]
    for name in ("cae", "cvae", "wcgan", "nearest_neighbour", "nearest_neighbour_top1", "random_screening"):
        entry = methods[name]
        assert not entry["skipped"]
        assert 0.0 <= entry["validity"] <= 1.0
        assert entry["line"]["mape_oracle"]["mean"] >= 0.0
        assert 0.0 <= entry["line"]["hit_rate_oracle"]["10%"] <= 1.0
        assert 0.0 <= entry["novelty"]["novelty"] <= 1.0 + 1e-9
    assert methods["random_screening"]["info"]["pool_size"] == 500
    # The top-1 lookup repeats one alloy: identical designs, and the reference itself at
    # the novelty targets.
    assert methods["nearest_neighbour_top1"]["line"]["cosine_similarity"] == pytest.approx(1.0)
    assert methods["nearest_neighbour_top1"]["novelty"]["novelty"] == pytest.approx(1.0)
    assert methods["nearest_neighbour"]["line"]["nearest_training"]["copy_rate"] == pytest.approx(1.0)
    sdv = {k: v for k, v in methods.items() if k.startswith("sdv_")}
    assert set(sdv) == {"sdv_tvae_surrogate", "sdv_tvae_columns", "sdv_ctgan_surrogate", "sdv_ctgan_columns"}
    for entry in sdv.values():
        if entry["skipped"]:
            assert entry["reason"]
        else:
            assert 0.0 <= entry["validity"] <= 1.0
            assert entry["info"]["pool_size"] > 0


def test_speed_and_scale(results):
    _, data = results
    speed = data["speed"]
    for name in ("cae", "cvae", "wcgan", "surrogate"):
        assert speed["training"][name]["seconds"] > 0
    cvae = speed["throughput"]["cvae"]
    assert [row["batch"] for row in cvae["batches"]] == [1, 64, 1024]
    for row in cvae["batches"]:
        for runtime in ("keras", "saved_model", "onnxruntime", "matmul_bound"):
            assert row[runtime]["compositions_per_second"] > 0
        assert row["onnx_over_matmul"] > 0
        assert row["max_abs_diff_onnx_keras"] < 1e-4
    assert cvae["matmul_shapes"][0][1] > 0
    assert cvae["onnxruntime_variants"]
    scale = data["scale"]
    assert scale["total"] == 100000 and scale["designs_per_second"] > 0
    assert scale["check"]["shape"] == [100000, 22] and scale["check"]["probe_valid"]
    assert scale["peak_rss_mb"] > 0
    assert not scale["file_kept"] and not Path(scale["file"]).exists()


def test_targets_reported(results):
    _, data = results
    names = [t["target"] for t in data["targets"]]
    assert any("1,000,000" in n for n in names)
    assert any("1.5x" in n for n in names)
    assert any("10 minutes" in n for n in names)
    for t in data["targets"]:
        assert isinstance(t["met"], bool)
    # Quick settings are never reported as a full reproduction.
    assert not next(t for t in data["targets"] if "10 minutes" in t["target"])["met"]


def test_only_and_unknown_part(tmp_path):
    with pytest.raises(SystemExit):
        run.main(["--only", "quality,warp", "--out", str(tmp_path)])

"""The benchmark runner (benchmarks/run.py) on tiny settings: files written, keys, sane values.

No timing is asserted: the numbers depend on the machine.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import run  # noqa: E402

TINY = [
    "--quick",
    "--only", "quality,speed,scale",
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
    for name in ("cae", "cvae", "wcgan", "flow", "nearest_neighbour", "nearest_neighbour_top1", "random_screening"):
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
    for name in ("cae", "cvae", "wcgan", "flow", "surrogate"):
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


# --------------------------------------------------------------------------- design, peers, MPEA

import numpy as np  # noqa: E402

from benchmarks import design_quality, peers  # noqa: E402
from hea_zoo.artifact import printed_thousandths  # noqa: E402

EXPORTED = ROOT / "exported"
DESIGN_TINY = [
    "--quick",
    "--design-targets", "3",
    "--design-candidates", "200",
    "--peer-budgets", "100,300",
    "--sweep-targets", "2",
]  # fmt: skip


@pytest.fixture(scope="module")
def bundled():
    import hea_zoo

    return hea_zoo.load_dataset()


@pytest.fixture(scope="module")
def judge(bundled):
    props = np.asarray(bundled.train.properties, dtype=np.float64)
    return peers.SurrogateJudge(EXPORTED / "surrogate.onnx", 0.01 * (props.max(0) - props.min(0)))


@pytest.fixture(scope="module")
def design_run(tmp_path_factory):
    """`--only design`, then `--only peers` into the same folder (the second keeps the first)."""
    out = tmp_path_factory.mktemp("design_bench")
    first = run.main([*DESIGN_TINY, "--only", "design", "--out", str(out)])
    second = run.main([*DESIGN_TINY, "--only", "peers", "--out", str(out)])
    return out, first, second


def _target(bundled, i=0):
    return np.asarray(bundled.properties, dtype=np.float64)[bundled.train_index[i]]


def _is_printed(designs):
    k, ok = printed_thousandths(designs)
    return bool(ok.all() and np.array_equal(k.astype(np.float32) / np.float32(1000), designs))


def test_judge_counts_calls_and_best_distinct(judge, bundled):
    x = np.asarray(bundled.train.compositions[:7])
    before = judge.calls
    judge(x)
    judge.predict(x)  # not counted
    assert judge.calls - before == 7
    k = np.array([[500, 500], [500, 500], [1000, 0], [0, 1000], [250, 750]])
    scores = np.array([0.3, 0.1, 0.2, np.nan, 0.05])
    # Identical rows keep the better score; NaN scores are left out; best first.
    assert peers.best_distinct(k, scores, 10).tolist() == [4, 1, 2]
    assert peers.best_distinct(k, scores, 2).tolist() == [4, 1]


def test_random_screening_is_printed_counted_and_ranked(judge, bundled):
    target = _target(bundled)
    supports = np.asarray(bundled.train.compositions) > 0
    result = peers.random_screening(judge, target, 500, supports, seed=3, n=20)
    assert result.surrogate_calls == 500
    assert result.designs.shape == (20, 22) and _is_printed(result.designs)
    assert np.unique(result.designs, axis=0).shape[0] == 20
    # The reported scores are the surrogate's score of the printed designs, best first.
    np.testing.assert_allclose(result.scores, judge.score(judge.predict(result.designs), target), rtol=1e-6)
    assert np.all(np.diff(result.scores) >= 0)
    # Every design keeps the element set of some training alloy.
    sets = {tuple(row) for row in supports}
    assert all(tuple(row) in sets or any(set(np.flatnonzero(row)) <= set(np.flatnonzero(s)) for s in supports)
               for row in result.designs > 0)  # fmt: skip
    again = peers.random_screening(judge, target, 500, supports, seed=3, n=20)
    np.testing.assert_array_equal(again.designs, result.designs)


def test_genetic_algorithm_improves_on_random_at_equal_calls(judge, bundled):
    pytest.importorskip("pymoo")
    target = _target(bundled, 5)
    supports = np.asarray(bundled.train.compositions) > 0
    ga = peers.genetic_algorithm(judge, target, 1000, supports, seed=1, n=20)
    rs = peers.random_screening(judge, target, 1000, supports, seed=1, n=20)
    assert ga.surrogate_calls == 1000 and (ga.population, ga.generations) == peers.GA_SETTINGS[1000]
    assert _is_printed(ga.designs) and np.unique(ga.designs, axis=0).shape[0] == 20
    assert ga.scores[0] < rs.scores[0]
    # A budget is a hard cap on the surrogate calls, even when it is not a whole number of generations.
    odd = peers.genetic_algorithm(judge, target, 130, supports, seed=1, n=5, population=40)
    assert odd.surrogate_calls <= 130


def test_pymoo_missing_gives_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "pymoo", None)
    available, reason = peers.pymoo_available()
    assert not available and "pip install" in reason and "pymoo" in reason


def test_design_metrics_by_hand():
    # Two targets; the second returns one design only (the rest are all-zero rows).
    designs = np.zeros((2, 3, 4), dtype=np.float32)
    designs[0] = [[0.5, 0.5, 0, 0], [0.49, 0.49, 0.02, 0], [0.25, 0.25, 0.25, 0.25]]
    designs[1, 0] = [1, 0, 0, 0]
    targets = np.array([[10.0, 1.0], [20.0, 2.0]])
    oracle = np.full((2, 3, 2), np.nan)
    oracle[0] = [[10.0, 1.0], [10.4, 1.0], [12.0, 1.0]]
    oracle[1, 0] = [20.0, 2.15]
    row = design_quality.design_metrics(designs, targets, {"oracle": oracle}, np.array([100, 300]))
    assert row["element_count"] == pytest.approx((2 + 3 + 4 + 1) / 4)
    assert row["trace_share"] == pytest.approx(1 / 4)  # the 2 at.% design
    assert row["systems_median"] == pytest.approx(1.5)  # {A,B}, {A,B,C,D} | {A}
    assert row["hit_5"]["oracle"] == pytest.approx(2 / 6)  # missing designs are misses
    assert row["hit_10"]["oracle"] == pytest.approx(3 / 6)
    assert row["mape"]["oracle"] == pytest.approx(np.mean([[0, 0], [4, 0], [20, 0], [0, 7.5]], axis=0).mean())
    assert row["surrogate_calls"] == 200 and row["designs_per_target"] == 2


def test_data_reference(bundled):
    ref = design_quality.data_reference(bundled.train.compositions)
    assert 4 <= ref["element_count"] <= 7
    assert 0 < ref["trace_share"] < 1 and 0 < ref["cosine_similarity"] < 1
    assert sum(ref["element_count_distribution"].values()) == len(bundled.train_index)


def test_design_part(design_run):
    out, first, _ = design_run
    d = first["design"]
    methods = d["methods"]
    assert {"design_cae", "design_cvae", "design_wcgan", "random_screening", "genetic_algorithm"} <= set(methods)
    assert d["protocol"]["n_targets"] == 3 and d["protocol"]["peer_budget"] == 200
    for name, row in methods.items():
        if row.get("skipped"):
            assert name == "genetic_algorithm" and "pip install" in row["reason"]
            continue
        assert row["surrogate_calls"] == (200 if name != "genetic_algorithm" else pytest.approx(200, abs=0))
        assert row["designs_per_target"] == 20
        assert 0 <= row["hit_5"]["oracle"] <= row["hit_10"]["oracle"] <= 1
        assert 0 < row["cosine_similarity"] <= 1 and row["element_count"] >= 1
        assert row["element_count_distance"] >= 0 and 0 <= row["trace_share"] <= 1
        assert np.isfinite(row["gap"])
    # Random screening is judged by the same oracle and is far less accurate than design.
    assert methods["random_screening"]["mape"]["oracle"] > methods["design_cvae"]["mape"]["oracle"]
    assert (out / "design_plane.png").stat().st_size > 10_000
    names = [t["target"] for t in first["targets"]]
    assert any("cosine <= 0.60" in n for n in names) and any("every design target at once" in n for n in names)
    assert all(isinstance(t["met"], bool) for t in first["targets"])


def test_peers_part_and_merge(design_run):
    out, first, second = design_run
    sweep = second["peers"]
    assert sweep["budgets"] == [100, 300] and sweep["n_targets"] == 2
    for budget in ("100", "300"):
        assert sweep["rows"]["random_screening"][budget]["surrogate_calls"] == int(budget)
        assert sweep["rows"]["design_cvae"][budget]["surrogate_calls"] == int(budget)
        ga = sweep["rows"]["genetic_algorithm"][budget]
        assert ga.get("skipped") or ga["surrogate_calls"] <= int(budget)
    # The second run kept the first run's design part, and says so.
    data = json.loads((out / "results.json").read_text())
    assert data["parts"] == ["peers"] and data["kept_parts"] == ["design"] and "design" in data
    markdown = (out / "results.md").read_text()
    for heading in ("## Design at reachable targets", "## Design and its peers at fixed budgets", "## Targets"):
        assert heading in markdown
    assert "design_plane.png" in markdown and "kept from earlier runs" in markdown
    assert data["provenance"]["design"]["date"] == first["date"] and "--only design" in data["provenance"]["design"]["command"]
    assert "--only peers" in data["provenance"]["peers"]["command"]


def test_independent_judge_fits_its_table(bundled):
    pytest.importorskip("sklearn")
    from benchmarks.mpea import IndependentJudge

    x, y = np.asarray(bundled.compositions[:100]), np.asarray(bundled.properties[:100])
    judge = IndependentJudge(x, y, seed=0, cv_folds=2)
    fitted = np.mean(np.abs(judge(x) - y) / y, axis=0)
    assert np.all(fitted < 0.10)  # in-sample
    assert len(judge.info["cv_mape_per_property"]) == 2
    assert all(v > 100 * f for v, f in zip(judge.info["cv_mape_per_property"], fitted))  # held out is harder


@pytest.mark.slow
def test_mpea_part(tmp_path):
    pytest.importorskip("sklearn")
    from benchmarks import mpea

    result = mpea.run_mpea(epochs=2, surrogate_epochs=2, n_targets=3, n=10, peer_budget=100, export_dir=tmp_path)
    assert result["protocol"]["judges"] == ["gbr", "surrogate"]
    assert result["dataset"]["alloys"] >= 20 and (tmp_path / "cvae.onnx").is_file()
    for name in ("design_cvae", "random_screening"):
        row = result["methods"][name]
        assert np.isfinite(row["mape"]["gbr"]) and np.isfinite(row["gap"])


def test_typicality_bands_cover_every_design(capsys):
    """benchmarks/typicality.py on the committed exports: the three bands partition the
    designs, and the training alloys' percentiles are ordered."""
    from benchmarks import typicality

    assert typicality.main(["--generators", "cae", "--targets", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    p1, p5, median = (float(v) for v in re.findall(r"(?:percentile|5th|median) (-?[0-9.]+)", lines[0]))
    assert p1 <= p5 <= median
    rows = {line.split(" | ")[1]: line.split(" | ") for line in lines if line.startswith("cae | ")}
    assert set(rows) == {"< 1st pct", "1st-5th pct", ">= 5th pct", "all"}
    counts = [int(rows[b][2].split()[0]) for b in ("< 1st pct", "1st-5th pct", ">= 5th pct")]
    assert sum(counts) == int(rows["all"][2].split()[0]) == 40
    assert 0 <= float(rows["all"][4]) <= 100 and float(rows["all"][3]) >= 0

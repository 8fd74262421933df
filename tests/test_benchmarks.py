"""The benchmark harness (benchmarks/run.py): every study it lists runs here on tiny settings.

Each study has a smoke test below (``python benchmarks/run.py --tiny --only NAME`` into a
temporary folder) that checks the files it writes and that its numbers are finite and in
range. No timing is asserted: the numbers depend on the machine. Studies that need the
``bench`` extra (SDV, pymoo, scikit-learn) skip or mark those rows with the reason.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import run  # noqa: E402

EXPORTED = ROOT / "exported"
HAS_SKLEARN = importlib.util.find_spec("sklearn") is not None


def tiny(out: Path, *names: str, extra=()) -> dict:
    return run.main(["--tiny", "--only", ",".join(names), "--out", str(out), *extra])


def written(out: Path, name: str) -> tuple[dict, str]:
    """The study's JSON (parsed) and markdown, as the harness wrote them."""
    record = json.loads((out / f"{name}.json").read_text())
    assert record["study"] == name and record["tiny"] is True
    assert record["command"].startswith("python benchmarks/run.py") and f"--only {name}" in record["command"]
    assert record["seconds"] >= 0 and record["settings"]["seed"] == 0
    markdown = (out / f"{name}.md").read_text()
    assert markdown.startswith("# ") and record["command"] in markdown
    return record, markdown


def table_rows(markdown: str, first_cell: str) -> list[list[str]]:
    """The cells of the markdown table rows whose first cell is `first_cell`."""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in markdown.splitlines() if line.startswith("|")]
    return [r for r in rows if r[0] == first_cell]


def finite(*values) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


# --------------------------------------------------------------------------- the harness


SMOKE_TESTED = {
    "quality": "test_quality_methods", "speed": "test_speed_and_scale", "scale": "test_speed_and_scale",
    "design": "test_design_part", "peers": "test_peers_part_and_merge", "mpea": "test_mpea_part",
    "calibration": "test_calibration", "design_realism": "test_design_realism",
    "design_throughput": "test_design_throughput", "flow_nll": "test_flow_nll",
    "surrogate_descriptors": "test_surrogate_descriptors", "training_scale": "test_training_scale",
    "tune_generators": "test_tune_generators", "tune_flow": "test_tune_flow", "typicality": "test_typicality",
    "goals": "test_goals", "many_targets": "test_many_targets", "small_tables": "test_small_tables",
    "campaign": "test_campaign", "real": "test_real", "interval_distance": "test_interval_distance",
}  # fmt: skip
HELPERS = {"__init__", "run", "baselines", "design_quality", "peers", "quality", "speed", "scale", "mpea"}
"""Modules of benchmarks/ that are not studies of their own (the results parts' code)."""


def test_every_study_has_a_smoke_test_and_every_script_is_a_study():
    assert set(SMOKE_TESTED) == set(run.STUDIES)
    for test in SMOKE_TESTED.values():
        assert callable(globals().get(test)), test
    modules = {p.stem for p in (ROOT / "benchmarks").glob("*.py")}
    assert modules == HELPERS | (set(run.STUDIES) - set(run.PARTS)) | {"scale"}
    for path in (ROOT / "benchmarks").glob("*.py"):
        if path.stem != "run":  # one parser: the harness's
            assert "argparse" not in path.read_text(), path.name
    for name in set(run.STUDIES) - set(run.PARTS):
        module = __import__(f"benchmarks.{name}", fromlist=["run"])
        assert callable(module.run) and callable(module.markdown), name
        assert run.STUDIES[name].prefixes, name


def test_list_prints_every_study(capsys):
    assert run.main(["--list"]) == {}
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(run.STUDIES)
    assert all(len(line.split(None, 1)[1]) > 20 for line in lines)


def test_unknown_study_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run.main(["--only", "quality,warp", "--out", str(tmp_path)])
    assert exit_info.value.code == 2 and "warp" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_tiny_never_writes_into_the_results_folder(capsys):
    before = sorted(p.name for p in run.RESULTS.iterdir())
    with pytest.raises(SystemExit):
        run.main(["--tiny", "--only", "design_realism"])
    assert "--out" in capsys.readouterr().err and sorted(p.name for p in run.RESULTS.iterdir()) == before


def test_settings_flags():
    parser = run.build_parser()
    args = parser.parse_args([
        "--tiny", "--seed", "3", "--realism-max-elements", "none,7", "--realism-min-fractions", "0.03",
        "--descriptor-sets", "none;valence_electrons,atomic_radius", "--design-candidates", "none",
        "--no-sdv", "--tune-learning-rate", "1e-4", "--speed-models", "cae,cvae",
    ])  # fmt: skip
    s = run.settings_from_args(args)
    assert s.tiny and s.seed == 3 and s.realism_max_elements == (None, 7) and s.realism_min_fractions == (0.03,)
    assert s.descriptor_sets == ("none", "valence_electrons,atomic_radius") and s.design_candidates is None
    assert s.sdv is False and s.tune_learning_rate == 1e-4 and s.speed_models == ("cae", "cvae")
    assert s.flow_epochs == run.Settings.tiny().flow_epochs  # untouched fields keep the preset
    with pytest.raises(SystemExit):
        run.settings_from_args(parser.parse_args(["--seed", "x"]), parser)
    # Every field of every preset is read by some study (no orphan settings).
    fields = {f.name for f in dataclasses.fields(run.Settings)}
    prefixed = {f for f in fields for s in run.STUDIES.values() if any(f.startswith(p) for p in s.prefixes)}
    assert set(run._results_settings(run.Settings())) | prefixed == fields


# --------------------------------------------------------------------------- results.json parts


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    return out, tiny(out, "quality", "speed", "scale", extra=["--scale-dir", str(out / "scale")])


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
    assert returned["settings"]["scale_total"] == 100000 and returned["settings"]["tiny"]
    assert not any(k.startswith(("calibration_", "flow_", "tune_")) for k in data["settings"])


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
            assert entry["info"]["training_rows"] == 100  # tiny: a sample of the training alloys


def test_speed_and_scale(results):
    _, data = results
    speed = data["speed"]
    assert set(speed["training"]) >= {"cvae", "surrogate"}  # tiny: train_models = ("cvae",)
    for name in ("cvae", "surrogate"):
        assert speed["training"][name]["seconds"] > 0 and speed["training"][name]["epochs"] == 1
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


# --------------------------------------------------------------------------- design, peers, MPEA

import numpy as np  # noqa: E402

from benchmarks import design_quality, peers  # noqa: E402
from hea_zoo.artifact import printed_thousandths  # noqa: E402


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
    first = tiny(out, "design")
    second = tiny(out, "peers")
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


@pytest.mark.slow  # trains MPEA models and an independent judge: about 5.5 s
def test_mpea_part(tmp_path):
    if not HAS_SKLEARN:
        pytest.skip('mpea needs scikit-learn for its independent judge (pip install -e ".[bench]")')
    result = tiny(tmp_path, "mpea")["mpea"]
    assert not result.get("skipped"), result.get("reason")
    assert result["protocol"]["judges"] == ["gbr", "surrogate"] and result["dataset"]["alloys"] >= 20
    assert result["protocol"]["peer_budget"] == 200  # the tiny preset's design candidates reach the study
    assert result["surrogate_calibration_folds"] == 2  # and its calibration folds (3 trainings, not 6)
    for name in ("design_cvae", "random_screening"):
        row = result["methods"][name]
        assert np.isfinite(row["mape"]["gbr"]) and np.isfinite(row["gap"])
    assert "MPEA" in (tmp_path / "results.md").read_text()


def test_mpea_without_sklearn_is_skipped_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.ensemble", None)
    result = tiny(tmp_path, "mpea")["mpea"]
    assert result["skipped"] and "scikit-learn" in result["reason"]


# --------------------------------------------------------------------------- studies of their own


def test_calibration(tmp_path):
    tiny(tmp_path, "calibration")
    record, markdown = written(tmp_path, "calibration")
    bundled = record["coverage"]["bundled, seed 0"]
    assert set(bundled) == {"shear_modulus", "fracture_toughness"}
    for s in bundled.values():
        assert s["splits"] == 1 and 0 <= s["coverage_mean"] <= 1 and len(s["tercile_mean"]) == 3
        assert finite(s["width_mean"], s["r2_mean"], s["mape_mean"]) and s["width_mean"] > 0
    before, after = record["before_after"].values()
    assert after["_test_rows_with_composition_in_train_mean"] == 0  # the group split leaks nothing
    assert before["_test_rows_with_composition_in_train_mean"] > 0  # the old row split did
    assert finite(*(v["r2_mean"] for k, v in after.items() if not k.startswith("_")))
    assert len(table_rows(markdown, "bundled, seed 0")) == 2


def test_design_realism(tmp_path):
    tiny(tmp_path, "design_realism")
    record, markdown = written(tmp_path, "design_realism")
    rows = record["rows"]
    assert [(r["min_fraction"], r["targets"]) for r in rows] == [
        (0.005, "line"), (0.005, "reachable"), (0.03, "line"), (0.03, "reachable")]
    for r in rows:
        assert finite(r["count"], r["w1"], r["mape"], r["cosine"]) and 1 <= r["count"] <= 22
        assert 0 <= r["hit5"] <= 1 and 1 <= r["systems"] <= 20 and r["infeasible"] == 0
    # A minimum fraction of 3 at.% leaves no element below 3 at.%: no traces.
    assert all(r["trace"] == 0 for r in rows if r["min_fraction"] == 0.03)
    assert len(table_rows(markdown, "cae")) == 4


def test_design_throughput(tmp_path):
    tiny(tmp_path, "design_throughput")
    record, markdown = written(tmp_path, "design_throughput")
    closest, diverse = record["rows"]
    # Every design was written: a header line and one line per design.
    assert (closest["select"], closest["n"], closest["csv_lines"]) == ("closest", 500, 501)
    assert (diverse["select"], diverse["n"], diverse["candidates"], diverse["csv_lines"]) == ("diverse", 20, 1000, 21)
    for r in record["rows"]:
        assert r["seconds"] > 0 and r["rss_mib"] > 10 and r["bytes"] > 0
    assert len(table_rows(markdown, "closest")) == 1 and not list(tmp_path.glob("*.csv"))


@pytest.mark.slow  # a flow training and its peers' fits: about 3.5 s
def test_flow_nll(tmp_path):
    tiny(tmp_path, "flow_nll")
    record, markdown = written(tmp_path, "flow_nll")
    nll = record["held_out_nll_mean"]
    assert set(nll) == {"flow", "gaussian_log_ratio_mle", "gaussian_log_ratio_noise", "gaussian_log_fraction_noise"}
    for v in nll.values():
        assert finite(v["nll"], v["presence_nll"], v["fraction_nll"])
        assert v["nll"] == pytest.approx(v["presence_nll"] + v["fraction_nll"], abs=2e-3)
        # The baselines share the flow's presence model: only the fraction term differs.
        assert v["presence_nll"] == pytest.approx(nll["flow"]["presence_nll"], abs=1e-3)
    designs = record["designs"]["flow"]
    assert finite(designs["oracle_mape_percent"]) and 0 <= designs["hit_rate_10"] <= 1
    assert record["data_element_counts"]["mean"] == pytest.approx(5.66, abs=0.01)
    assert len(table_rows(markdown, "flow")) == 2


def test_small_tables(tmp_path):
    pytest.importorskip("sklearn")
    tiny(tmp_path, "small_tables")
    record, markdown = written(tmp_path, "small_tables")
    (row,) = record["rows"]
    assert row["property"] == "youngs_modulus_exp" and row["alloys"] == 60
    assert math.isfinite(row["surrogate_r2_mean"]) and math.isfinite(row["forest_r2_mean"])
    assert "| youngs_modulus_exp | 60 |" in markdown


def test_real(tmp_path):
    """Every model on one group split and one leave-one-system-out split of the 60 measured
    Young's moduli (tiny settings); an element the table lacks is listed, not run; a second
    run reads every fit from the cache."""
    pytest.importorskip("sklearn")
    import numpy as np

    from benchmarks import real

    first = tiny(tmp_path, "real")["real"]
    record, markdown = written(tmp_path, "real")
    (entry,) = record["properties"]
    assert (entry["property"], entry["alloys"], entry["rows"]) == ("youngs_modulus_exp", 60, 60)
    group, loso = entry["kinds"]["group"], entry["kinds"]["loso"]
    assert group["splits"] == ["seed000"] and group["test_alloys"] == [12]
    data = real.load("youngs_modulus_exp")
    holds_zr = int((data.compositions[:, data.elements.index("Zr")] > 0).sum())
    assert loso["splits"] == ["without_Zr"] and loso["test_alloys"] == [holds_zr] and holds_zr >= real.MIN_TEST
    assert [s["element"] for s in loso["skipped"]] == ["W"] and loso["skipped"][0]["reason"] == "absent"
    for kind in (group, loso):
        assert set(kind["models"]) == set(real.MODELS)
        for name, m in kind["models"].items():
            assert finite(m["r2"]["mean"], m["mape"]["mean"]) and m["r2"]["n"] == 1
            if name in real.INTERVAL_MODELS:
                assert 0 <= m["coverage"]["mean"] <= 1 and m["width"]["mean"] > 0
        assert kind["hea_zoo_train_seconds_median"] > 0
    # The held-out rows of the leave-one-system-out split are exactly the alloys holding Zr.
    cached = json.loads((tmp_path / "real_cache/youngs_modulus_exp/loso/without_Zr/rf.json").read_text())
    zr = data.compositions[:, data.elements.index("Zr")] > 0
    assert sorted(cached["y"]) == sorted(data.properties[zr, 0].astype(float).tolist())
    assert record["fits"] == {"run": 8, "from_cache": 0, "hea_zoo_code": {"current": 2, "other": 0, "unrecorded": 0}}
    assert cached_code(tmp_path) == run.code_fingerprint(real.CODE) and "hea_zoo fits" not in markdown
    assert "fractions + hea_zoo descriptors" in record["labels"]["rf_descriptors"] or real._matminer()
    assert len(table_rows(markdown, "youngs_modulus_exp")) == 3 and "not held out: W (0 test" in markdown
    targets = {t["target"]: t for t in record["targets"]}
    assert len(targets) == 5 and all(isinstance(t["met"], bool) for t in targets.values())
    # Resumable: the same settings read every fit from the cache, with the same numbers.
    again = tiny(tmp_path, "real")["real"]
    assert again["fits"] == {"run": 0, "from_cache": 8, "hea_zoo_code": {"current": 2, "other": 0, "unrecorded": 0}}
    assert again["properties"][0]["kinds"]["loso"]["models"] == first["properties"][0]["kinds"]["loso"]["models"]
    # A fit stored before fingerprints were kept is still read, and the report counts it.
    path = tmp_path / "real_cache/youngs_modulus_exp/group/seed000/hea_zoo.json"
    old = json.loads(path.read_text())
    del old["code"]
    path.write_text(json.dumps(old))
    tiny(tmp_path, "real")
    record, markdown = written(tmp_path, "real")
    assert record["fits"]["hea_zoo_code"] == {"current": 1, "other": 0, "unrecorded": 1}
    assert "Of the 2 hea_zoo fits, 1 ran on the current code" in markdown and "1 before the code was recorded" in markdown
    # hea_zoo's own descriptors: VEC and the weighted mean of the valence electrons agree on MoNbTaW.
    features, names = real.descriptor_features(np.full((1, 4), 0.25), ["Mo", "Nb", "Ta", "W"])
    assert features[0, names.index("vec")] == pytest.approx(5.5)
    assert features[0, names.index("mean_valence_electrons")] == pytest.approx(5.5)
    assert features[0, names.index("dev_valence_electrons")] == pytest.approx(0.5)


def cached_code(out: Path) -> str:
    """The code fingerprint of the hea_zoo fit of the real study's group split (tiny run)."""
    path = out / "real_cache/youngs_modulus_exp/group/seed000/hea_zoo.json"
    return json.loads(path.read_text())["code"]


def test_surrogate_descriptors(tmp_path):
    tiny(tmp_path, "surrogate_descriptors")
    record, markdown = written(tmp_path, "surrogate_descriptors")
    (row,), (mean,) = record["rows"], record["means"]
    assert row["descriptors"] == mean["descriptors"] == ["valence_electrons"] and mean["seeds"] == 1
    for name in ("shear_modulus", "fracture_toughness"):
        assert finite(mean[name]["r2"], mean[name]["mape"]) and mean[name]["r2"] <= 1
        assert 0 <= mean[name]["interval_coverage"] <= 1 and mean[name]["r2"] == pytest.approx(row[name]["r2"])
    assert len(table_rows(markdown, "valence_electrons")) == 1


def test_training_scale(tmp_path):
    tiny(tmp_path, "training_scale")
    record, markdown = written(tmp_path, "training_scale")
    mlp, cae = record["rows"]
    assert (mlp["model"], cae["model"]) == ("mlp", "cae") and cae["train_rows"] == 240  # 80 % of 300
    if HAS_SKLEARN:
        assert finite(*(s["r2"] for s in mlp["scores"].values()))
    else:
        assert mlp["skipped"] and "scikit-learn" in mlp["reason"]
    assert cae["steps"] > 0 and finite(cae["held_out_loss"], *cae["oracle_median_ape"])
    assert len(table_rows(markdown, "300")) == 2


def test_tune_generators(tmp_path):
    """The WcGAN with a learning rate: the path that once called a missing method and fitted an
    un-adapted model."""
    tiny(tmp_path, "tune_generators", extra=["--tune-model", "wcgan", "--tune-learning-rate", "2e-4",
                                             "--tune-overrides", "latent_dim=6"])  # fmt: skip
    record, markdown = written(tmp_path, "tune_generators")
    assert record["model"] == "wcgan" and record["overrides"] == {"latent_dim": 6} and record["epochs"] == 1
    assert record["learning_rate"] == pytest.approx(2e-4)
    assert finite(record["oracle_mape"], *record["oracle_mape_per_property"], record["cosine"], record["G_slope"])
    assert record["valid"] == 1.0 and all(finite(v) for v in record["final"].values())
    assert len(table_rows(markdown, "wcgan")) == 1


def test_tune_overrides_parse():
    from benchmarks.tune_generators import parse_overrides

    assert parse_overrides("n_couplings=2; hidden_units=(32,32);noise_std=0.5;activation=gelu") == {
        "n_couplings": 2, "hidden_units": (32, 32), "noise_std": 0.5, "activation": "gelu"}
    assert parse_overrides("") == {}
    with pytest.raises(ValueError, match="tune_overrides"):
        parse_overrides("beta")


@pytest.mark.slow  # a flow tuning run: about 2 s
def test_tune_flow(tmp_path):
    tiny(tmp_path, "tune_flow", extra=["--tune-overrides", "n_couplings=2;hidden_units=(16,16)"])
    record, markdown = written(tmp_path, "tune_flow")
    assert record["overrides"] == {"n_couplings": 2, "hidden_units": "(16, 16)"} and record["epochs"] == 1
    assert record["val_nll"] == pytest.approx(record["val_presence_nll"] + record["val_fraction_nll"], abs=2e-3)
    assert len(record["val_curve"]) == 1 and finite(record["val_nll"], record["oracle_mape"], record["cosine"])
    assert record["designs"] == {"targets": 20, "per_target": 5}
    assert "n_couplings=2" in markdown


def test_typicality(tmp_path):
    """On the committed exports: the three bands partition the designs, and the training
    alloys' percentiles are ordered."""
    tiny(tmp_path, "typicality")
    record, markdown = written(tmp_path, "typicality")
    t = record["training_log_prob"]
    assert t["p1"] <= t["p5"] <= t["median"] and t["alloys"] == 423
    rows = {r["band"]: r for r in record["rows"] if r["generator"] == "cae"}
    assert list(rows) == ["< 1st pct", "1st-5th pct", ">= 5th pct", "all"]
    assert sum(rows[b]["designs"] for b in list(rows)[:3]) == rows["all"]["designs"] == 40
    assert 0 <= rows["all"]["hit5"] <= 1 and rows["all"]["mape"] >= 0
    assert len(table_rows(markdown, "cae")) == 4


def test_goals(tmp_path):
    """On the committed exports: three goal sets of 20 designs each, rarity shares ordered
    like the goals, every design's exact goals met, the reliability bins partition the designs."""
    tiny(tmp_path, "goals")
    record, markdown = written(tmp_path, "goals")
    rows = record["rows"]
    assert len(rows) == 3 and all(r["designs"] == 20 for r in rows)
    assert rows[0]["random_share"] >= rows[1]["random_share"] >= rows[2]["random_share"] > 0
    assert all(0 <= r["success"] <= 1 and 0 <= r["screening_success"] <= 1 for r in rows)
    assert sum(b["designs"] for b in record["reliability"]) == 60
    assert (tmp_path / record["figure"]).is_file()
    assert record["maximize"]["training_best_k"] < 45 and record["pareto"]["design_hypervolume"]["median"] > 0
    # the objectives over two seeds: each seed's own designs, the summary over them
    seeds = record["objective_seeds"]
    assert [x["seed"] for x in seeds] == [0, 1] and record["maximize"]["design_met"]["seeds"] == [x["design_met"] for x in seeds]
    assert record["pareto"]["design_hypervolume"]["min"] <= record["pareto"]["design_hypervolume"]["median"]
    assert "Over 2 seeds" in markdown
    assert "| shear_modulus>=40, fracture_toughness>=20 |" in markdown
    # the engine's rules against the alternatives, on the same seeds; the goal sets with refinement
    from benchmarks import goals

    assert [v["name"] for v in record["variants"]] == [name for name, _ in goals.VARIANTS]
    ei = record["variants"][5]
    assert ei["changes"] == {"ranking": "ei"} and ei["hypervolume"]["median"] is None and ei["best_k"]["median"] > 0
    assert [len(v["systems"]) for v in record["set_variants"]] == [3] * len(goals.SET_VARIANTS)
    assert "## The engine's objective rules against the alternatives" in markdown and record["mpea"] is None
    from benchmarks.peers import pymoo_available

    if pymoo_available()[0]:  # the GA peer of every goal set: 20 designs, judged by the oracle
        assert all(r["ga_designs"] == 20 and 0 <= r["ga_success"] <= 1 and r["ga_systems"] >= 1 for r in rows)


@pytest.mark.slow  # a 2-epoch MPEA export and five 500-candidate designs: about 15 s
def test_goals_on_measured_data(tmp_path):
    """The MPEA part of the goals study: five requests, each with 5 designs at density <= 9,
    the engine's and the alternatives', with their distances to the measured alloys."""
    tiny(tmp_path, "goals", extra=["--goals-mpea", "--goals-sets", "1", "--no-goals-variants"])
    record, markdown = written(tmp_path, "goals")
    runs = record["mpea"]["runs"]
    assert [(r["kind"], r["name"]) for r in runs][:3] == [("maximize", "the engine"), ("maximize", "lower end"),
                                                         ("maximize", "mean")]  # fmt: skip
    assert [r["kind"] for r in runs][3:] == ["yield_strength>=1000"] * 3 + ["yield_strength>=500"] * 2
    assert record["mpea"]["alloys"] > 100
    for r in runs:
        assert len(r["formula"]) == (5 if r["kind"] == "maximize" else 10) and all(d >= 0 for d in r["distance"])
        assert all(lo <= m <= hi for lo, m, hi in zip(r["lower"], r["mean"], r["upper"]))
    assert "## On measured data: MPEA yield strength at 1000 degC" in markdown


@pytest.mark.slow  # two surrogate trainings and 500 oracle-judged alloys: about 3 s
def test_interval_distance(tmp_path):
    """Two 3-epoch surrogates, spread-only and distance-widened: coverage per distance bin
    sums to the alloys judged, and only the default one has distance exponents."""
    tiny(tmp_path, "interval_distance")
    record, markdown = written(tmp_path, "interval_distance")
    plain, widened = record["models"]["spread only (0.2)"], record["models"]["spread and distance (default)"]
    assert plain["distance_power"] is None and set(widened["distance_power"]) == {"shear_modulus", "fracture_toughness"}
    for m in (plain, widened):
        assert sum(b["n"] for b in m["random"]["bins"]) == record["random_alloys"] > 0
        assert sum(b["n"] for b in m["test"]["bins"]) == record["test_alloys"] == 106
        assert all(0 <= v <= 1 for v in m["random"]["coverage"].values())
    # the widened intervals are never narrower than the distance factor 1 allows: far bins wider
    far = [b for b in widened["random"]["bins"] if b["lo"] >= 40]
    assert far and all(b["half_width"]["fracture_toughness"] > 0 for b in far)
    assert "## spread and distance (default)" in markdown and "| random | all |" in markdown


@pytest.mark.slow  # three local Dask clusters started in fresh processes: 15-25 s on 2 cores
def test_many_targets(tmp_path):
    """Local Dask clusters of 1 and 2 workers over 6 targets, and the memory row: every
    target designed, the two tables identical, the numbers finite."""
    pytest.importorskip("distributed")
    tiny(tmp_path, "many_targets")
    record, markdown = written(tmp_path, "many_targets")
    one, two = record["rows"]
    assert (one["workers"], two["workers"]) == (1, 2) and record["identical_tables"] is True
    for r in (one, two, record["memory"]):
        assert r["designed"] == r["targets"] and r["failed"] == 0 and r["rows"] == r["targets"] * r["n"]
        assert finite(r["targets_per_s"], r["candidates_per_s"], r["client_peak_rss_mib"]) and r["seconds"] > 0
        assert r["worker_cpu_per_target"] > 0 and 0 < r["cores_used"] <= r["workers"] + 0.2
    assert record["memory"]["targets"] == 40 and record["memory"]["n"] == 20
    assert finite(record["scaling"]["speedup"], record["estimate_1e4_x_1e6"]["hours"])
    assert len(table_rows(markdown, "2")) == 2 and not list(tmp_path.glob("*.csv"))


class _StandInProposal:
    def __init__(self, compositions, elements):
        import pandas as pd

        from hea_zoo.data.composition import to_formulas

        self.compositions, self.elements = compositions, tuple(elements)
        self.table = pd.DataFrame({"formula": to_formulas(compositions, self.elements)})


def _stand_in_module(calls: list):
    """A tiny stand-in of `hea_zoo.campaign` (random alloys or random pool rows) that keeps
    what each call received: the campaign study's wiring is tested without the real one."""
    import types

    import numpy as np

    from hea_zoo.data.composition import parse_compositions

    def propose(data, goals=(), maximize=None, properties=None, batch=8, seed=0, composition_column="composition",
                elements=None, exclude=None, max_elements=None, min_elements=None, bounds=None, pool=None,
                prior=None, sources=None, candidates=None, min_fraction=None):  # fmt: skip
        calls.append({"rows": len(data), "columns": list(data.columns), "goals": tuple(goals), "maximize": maximize,
                      "pool": None if pool is None else len(pool), "sources": sources, "batch": batch,
                      "min_fraction": min_fraction})  # fmt: skip
        rng = np.random.default_rng(seed)
        if pool is not None:
            x = parse_compositions(list(pool[composition_column]), elements)[0]
            return _StandInProposal(x[rng.choice(len(x), batch, replace=False)], elements)
        allowed = np.array([e not in (exclude or ()) for e in elements])
        x = np.zeros((batch, len(elements)))
        for row in x:
            row[rng.choice(np.flatnonzero(allowed), rng.integers(min_elements, max_elements + 1), replace=False)] = 1
        return _StandInProposal(x / x.sum(axis=1, keepdims=True), elements)

    return types.SimpleNamespace(propose=propose)


def test_campaign(tmp_path, monkeypatch):
    """Oracle lab (task c) and MPEA pool: every method gets the same start, proposes batches
    of distinct, never-measured alloys in the space (3-7 elements, no oxygen); `propose`
    sees only the measured rows; the cache makes a second run read instead of run."""
    import numpy as np

    import hea_zoo.campaign.learner  # noqa: F401  (the cache key reads its defaults; loaded before the stand-in)
    from benchmarks import campaign

    calls: list = []
    monkeypatch.setitem(sys.modules, "hea_zoo.campaign", _stand_in_module(calls))
    methods = "random,rf,ga,hea_zoo,hea_zoo_random" if HAS_SKLEARN else "random,hea_zoo,hea_zoo_random"
    tiny(tmp_path, "campaign", extra=["--campaign-methods", methods])
    record, markdown = written(tmp_path, "campaign")
    facts = record["facts"]["tasks"]
    assert facts["a"]["bundled_meeting"] == 0 and facts["mpea_hardness"]["targets"] == 4
    assert facts["mpea_yield"]["pool"] == 394 and facts["b"]["bundled_best"] < 45
    c = record["tasks"]["c"]
    assert set(c["methods"]) == set(methods.split(",")) and c["budget"] == 16
    lab = campaign.OracleLab(campaign.TASKS["c"])
    start = {r.tobytes() for r in lab.bundled_k[lab.start(0, 24)]}
    assert not lab.success(lab.bundled_values[lab.start(0, 24)]).any()
    for method in methods.split(","):
        run_ = campaign.cached(tmp_path, campaign.TASKS["c"], method, 0, run.Settings.tiny())
        k = np.asarray(run_["k"])
        assert k.shape == (16, 22) and (k.sum(axis=1) == 1000).all()
        assert len({r.tobytes() for r in k} | start) == 16 + 24, method  # never a repeat
        counts = (k > 0).sum(axis=1)
        assert counts.min() >= 3 and counts.max() <= 7 and k[:, lab.elements.index("O")].sum() == 0, method
        assert np.allclose(run_["values"], lab.measure(k), equal_nan=True)
        assert len(c["methods"][method]["curve"]["median"]) == 16
    oracle_calls = [x for x in calls if x["pool"] is None]
    assert [x["rows"] for x in oracle_calls] == [24, 32, 24, 32]  # the start, then the start and one batch
    assert oracle_calls[0]["columns"] == ["composition", "shear_modulus", "fracture_toughness"]
    assert oracle_calls[0]["goals"] == campaign.TASKS["c"].goals and oracle_calls[2]["sources"] == ("random",)
    # hea_zoo searches the lab's space (>= 0.5 at.% per element, as the peers), in a pool the pool
    assert {x["min_fraction"] for x in oracle_calls} == {campaign.HEA_ZOO_MIN_FRACTION} == {0.005}
    pool_calls = [x for x in calls if x["pool"] is not None]
    assert pool_calls[0]["rows"] == 38 and pool_calls[0]["pool"] == 376 - 38 and pool_calls[0]["maximize"] == "hardness"
    assert {x["min_fraction"] for x in pool_calls} == {None}
    assert record["skipped"]["mpea_hardness/hea_zoo_random"].startswith("not applicable")
    assert (tmp_path / record["figure"]).is_file()
    assert table_rows(markdown, "random") and "acceleration factor" in markdown
    assert "`propose(..., min_fraction=0.005)`" in markdown  # the space hea_zoo was given, said
    # Resumable: the same settings read every campaign from the cache.
    again = tiny(tmp_path, "campaign", extra=["--campaign-methods", methods])["campaign"]
    assert again["ran"] == [] and again["tasks"]["c"]["methods"].keys() == c["methods"].keys()


def test_campaign_metrics():
    """Measurements to the first success and to 3 distinct systems, counted beyond the start."""
    from benchmarks import campaign

    lab = campaign.OracleLab(campaign.TASKS["a"])
    k, values = [], []
    for i, (g, kk) in enumerate([(60, 40), (75, 55), (75, 55), (90, 51), (71, 50), (10, 10)]):
        row = [0] * 22
        row[[9, 10, 16, 19, 17, 21][i]] = 500
        row[[10, 16, 19, 17, 21, 9][i]] = 500
        k.append(row)
        values.append([g, kk, 9.0])
    m = campaign.campaign_metrics({"k": k, "values": values, "start_best": 0.9}, lab)
    assert m["first"] == 2 and m["three_systems"] == 4 and m["successes"] == 4
    assert m["best"][0] == 0.9 and abs(m["best"][1] - 1.07142857) < 1e-6
    s = campaign._summary([2, None, 10, 50], 96)
    assert s["share"] == 0.75 and s["mean_is_lower_bound"] and s["mean"] == (2 + 96 + 10 + 50) / 4
    ref = campaign.random_reference(campaign.TASKS["a"], lab, 1e-4, 24)
    assert ref["mean"] == 1e4 and ref["median"] == 6932


def test_campaign_cache_key_follows_the_learner(monkeypatch):
    """hea_zoo's stored campaigns stay valid while the learner is the one they ran with, and
    stop matching once a learner default changes; the peers' keys never depend on it."""
    from benchmarks import campaign
    from hea_zoo.campaign.learner import LEARNER_DEFAULTS

    assert set(campaign._CACHED_LEARNER) == set(LEARNER_DEFAULTS)  # a new setting is named here, on purpose
    settings, task, pool = run.Settings(), campaign.TASKS["a"], campaign.TASKS["mpea_yield"]
    # on the oracle lab, also the space hea_zoo is given (campaign.HEA_ZOO_MIN_FRACTION)
    assert campaign.config(task, settings, "hea_zoo") == {**campaign.config(task, settings, "rf"), "min_fraction": 0.005}
    assert campaign.config(pool, settings, "hea_zoo") == campaign.config(pool, settings, "rf")
    monkeypatch.setitem(LEARNER_DEFAULTS, "steps", 301)
    assert campaign.config(task, settings, "hea_zoo")["learner"] == {"steps": 301}
    assert "learner" not in campaign.config(task, settings, "rf")

def test_campaign_records_say_which_hea_zoo_code_ran_them(tmp_path):
    """Each stored hea_zoo campaign keeps the fingerprint of the code it ran on; the
    fingerprint moves with any byte of that code; the report counts the seeds that ran on
    other code (or before fingerprints were kept) under the method's table."""
    import shutil

    from benchmarks import campaign

    root = tmp_path / "repo"
    for part in campaign.CODE:
        source = ROOT / part
        assert source.exists(), part
        (shutil.copytree if source.is_dir() else shutil.copy)(source, root / part)
    now = campaign.code_fingerprint()
    assert campaign.code_fingerprint(root) == now
    for changed in ("hea_zoo/campaign/acquisition.py", "hea_zoo/data/mixing_enthalpy.csv"):
        before = campaign.code_fingerprint(root)
        with open(root / changed, "a") as handle:
            handle.write("\n")
        assert campaign.code_fingerprint(root) != before, changed
    task, settings = campaign.TASKS["a"], run.Settings()
    record = {"task": "a", "method": "hea_zoo", "seed": 0, "k": [], "values": [], "start_best": None,
              "round_seconds": [1.0], "repeats": 0}  # fmt: skip
    campaign.store(tmp_path, record, task, settings)
    assert campaign.cached(tmp_path, task, "hea_zoo", 0, settings)["code"] == now
    campaign.store(tmp_path, dict(record, method="rf"), task, settings)
    assert "code" not in campaign.cached(tmp_path, task, "rf", 0, settings)
    old = dict(campaign.cached(tmp_path, task, "hea_zoo", 0, settings), seed=1)
    old.pop("code")
    path = tmp_path / campaign.CACHE / "a" / "hea_zoo" / "seed001.json"
    path.write_text(json.dumps(old))
    records = campaign.all_cached(tmp_path, task, "hea_zoo", settings)
    assert campaign._code_counts(records) == {"current": 1, "other": 0, "unrecorded": 1}


@pytest.mark.slow
def test_campaign_botorch(tmp_path):
    """BoTorch's campaign on the tiny settings: batches in the space, never a repeat."""
    import numpy as np

    from benchmarks import campaign

    tiny(tmp_path, "campaign", extra=["--campaign-methods", "botorch"])
    for task in ("c", "mpea_hardness"):
        r = campaign.cached(tmp_path, campaign.TASKS[task], "botorch", 0, run.Settings.tiny())
        assert r is not None and r["repeats"] == 0
    k = np.asarray(campaign.cached(tmp_path, campaign.TASKS["c"], "botorch", 0, run.Settings.tiny())["k"])
    assert k.shape == (16, 22) and ((k > 0).sum(axis=1) <= 7).all()


@pytest.mark.slow
def test_campaign_hea_zoo(tmp_path):
    """The real `hea_zoo.campaign.propose` in the campaign study: tiny settings, every hea_zoo
    method, batches of new alloys without oxygen, the pool campaign inside the pool."""
    import numpy as np

    from benchmarks import campaign

    tiny(tmp_path, "campaign", extra=["--campaign-methods", "hea_zoo,hea_zoo_random,hea_zoo_generator"])
    record, _ = written(tmp_path, "campaign")
    ran = set(record["tasks"]["c"]["methods"])
    # every candidate source: run, or skipped with the reason (a source this hea_zoo lacks)
    assert ran == {"hea_zoo", "hea_zoo_random", "hea_zoo_generator"} or (
        ran == {"hea_zoo", "hea_zoo_random"} and "Error" in record["skipped"]["c/hea_zoo_generator"])
    assert set(record["tasks"]["mpea_hardness"]["methods"]) == {"hea_zoo"}
    for method in sorted(ran):
        r = campaign.cached(tmp_path, campaign.TASKS["c"], method, 0, run.Settings.tiny())
        k = np.asarray(r["k"])
        assert k.shape == (16, 22) and r["repeats"] == 0 and k[:, 12].sum() == 0  # O
        assert ((k > 0).sum(axis=1) <= 7).all()

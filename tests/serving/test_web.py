"""The design page (examples/web) in headless Chromium gives the designs, table and CSV of
the engine in Node and of `hea-zoo design` (hea_zoo.serving.design), with the same
defaults, plots them, and turns bad input into a message instead of a broken page.

The page is served by `python -m http.server` from the repository root, as the README
says; onnxruntime-web and playwright-core come from examples/web/node_modules (installed
here with `npm install --ignore-scripts` when missing, outside CI; no browser is
downloaded: the test drives Debian's Chromium). The model, targets and seeds are drawn
from `tests.support.parity.rng` (fixed by `PARITY_SEED`, so a failure reproduces). Chromium, Node
and npm are required: in CI a missing one fails these tests (`tests.support.node_examples`).
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import hea_zoo
from hea_zoo.errors import HeaZooError
from hea_zoo.serving.design import Designer
from hea_zoo.serving.design.request import DesignRequest
from tests.support import ROOT, parity
from tests.support.goal_page import BAD, CASES, goal_steps
from tests.support.node_examples import (
    NODE,
    NPM,
    WEB,
    bounds_text,
    interval_surrogate,
    node_design,
    onnx_node_example,
    require,
    web_example,
)

CHROMIUM = "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else shutil.which("chromium")
DRIVER = ROOT / "tests" / "support" / "web_drive.mjs"
EXPORTED = ROOT / "exported"
ELEMENTS = list(hea_zoo.ELEMENTS)


@pytest.fixture(autouse=True, scope="module")
def _browser_and_node():
    """Chromium, Node and npm drive the page: missing, a failure in CI, a skip elsewhere."""
    require(chromium=CHROMIUM, node=NODE, npm=NPM)


def _metadata(model: str) -> dict:
    return json.loads((EXPORTED / "MANIFEST.json").read_text())["models"][model]["metadata"]


def _fields(target, n, seed, *, select="diverse", tolerance=0.05, candidates="", allowed="", excluded="",
            max_elements="", bounds="", min_fraction="") -> dict:  # fmt: skip
    fields = {f"target-{p}": v for p, v in enumerate(target)}
    fields.update({"n": n, "seed": seed, "select": select, "tolerance": tolerance, "candidates": candidates,
                   "allowed": allowed, "excluded": excluded, "max-elements": max_elements, "bounds": bounds,
                   "min-fraction": min_fraction})  # fmt: skip
    return fields


@pytest.fixture(scope="module")
def scenario():
    """The run's random inputs: a generator, a target inside its training range, seeds."""
    rng = parity.rng("test_web scenario")
    models = json.loads((EXPORTED / "MANIFEST.json").read_text())["models"]
    # Every exported generator, the flow (with its log-density column) once exported/ holds it.
    model = str(rng.choice([name for name, entry in models.items() if entry["metadata"]["kind"] == "generator"]))
    lo, hi = np.asarray(_metadata(model)["condition_range"], np.float64)
    target = [round(float(v), 2) for v in rng.uniform(lo + 0.1 * (hi - lo), hi - 0.3 * (hi - lo))]
    constrained = {"excluded": ["Al", str(rng.choice(["V", "Cr", "Re"]))], "max_elements": int(rng.integers(4, 8)),
                   "bounds": {str(rng.choice(["W", "Mo", "Nb"])): (0.05, 0.4)}, "min_fraction": 0.02}  # fmt: skip
    return {
        "model": model, "target": target, "seed": int(rng.integers(0, 2**32)), "n": int(rng.integers(8, 25)),
        "seed2": int(rng.integers(0, 2**32)), "constraints": constrained,
        "target_cvae": target if model == "cvae" else [60.0, 35.0],
    }  # fmt: skip


@pytest.fixture(scope="module")
def page_run(server, scenario, tmp_path_factory):
    """One browser session: designs, bad inputs, a corrupt model file, a screenshot, and the
goal requests (`tests.support.goal_page`) in a fresh page."""
    web_example()
    s = scenario
    c = s["constraints"]
    shot = tmp_path_factory.mktemp("web") / "web_screenshot.png"
    valid = _fields([60, 35], 10, 0)
    request = {
        "url": server,
        "chromium": CHROMIUM,
        "playwright": str(WEB / "package.json"),
        "designs": [
            {"name": "plain", "model": s["model"], "fields": _fields(s["target"], s["n"], s["seed"])},
            {"name": "constrained", "model": "cvae", "fields": _fields(
                s["target_cvae"], 12, s["seed2"], select="closest", candidates=600,
                excluded=" ".join(c["excluded"]), max_elements=c["max_elements"], bounds=bounds_text(c["bounds"]),
                min_fraction=c["min_fraction"])},
            {"name": "out of range", "model": "cvae", "fields": _fields([200, 35], 5, s["seed"])},
        ],  # fmt: skip
        "bad": [
            {"name": "empty target", "model": "cvae", "fields": {**valid, "target-0": ""}},
            {"name": "negative target", "model": "cvae", "fields": {**valid, "target-1": "-5"}},
            {"name": "non-numeric target", "model": "cvae", "fields": {**valid, "target-0": "sixty"}},
            {"name": "absurd target", "model": "cvae", "fields": {**valid, "target-0": "1e39"}},
            {"name": "negative number of designs", "model": "cvae", "fields": {**valid, "n": "-3"}},
            {"name": "fractional seed", "model": "cvae", "fields": {**valid, "seed": "1.5"}},
            {"name": "contradictory bounds", "model": "cvae", "fields": {**valid, "bounds": "Mo=0.6:1, Nb=0.5:1"}},
            {"name": "unknown element", "model": "cvae", "fields": {**valid, "excluded": "Al Xx"}},
            {"name": "fewer candidates than designs", "model": "cvae", "fields": {**valid, "n": "30", "candidates": "10"}},
            {"name": "infeasible", "model": "cvae", "fields": {**valid, "bounds": "Ta=0.3337:0.3337"}},
        ],
        "corruptModel": "wcgan",
        "intervalSurrogate": {
            "path": str(interval_surrogate(EXPORTED / "surrogate.onnx", shot.parent / "surrogate.onnx")),
            "model": "cvae", "fields": _fields([60, 35], 5, s["seed"]),
        },
        "screenshot": {"path": str(shot), "model": "cvae", "fields": _fields([60, 35], 20, 0)},
        "noSurrogate": {"model": "cvae", "fields": _fields(s["target_cvae"], 10, s["seed2"])},
    }
    request["goals"] = goal_steps()
    file = tmp_path_factory.mktemp("drive") / "request.json"
    file.write_text(json.dumps(request))
    done = subprocess.run([NODE, str(DRIVER), str(file)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"driving the page failed:\n{done.stderr}"
    out = json.loads(done.stdout)
    out["screenshot_path"] = shot
    return out


@pytest.fixture(scope="module")
def node_example(tmp_path_factory):
    return onnx_node_example(tmp_path_factory)


def _constraint_args(c: dict) -> dict:
    return {"excluded": ",".join(c["excluded"]), "max_elements": c["max_elements"], "bounds": bounds_text(c["bounds"]),
            "min_fraction": c["min_fraction"]}  # fmt: skip


def _page_run(shown: dict) -> parity.Run:
    """The page's designs; scores from the table's error column are rounded, so ranking
    ties are judged from the Node run's scores."""
    return parity.Run("browser", [r["index"] for r in shown["rows"]], np.array([r["k"] for r in shown["rows"]], np.int64))


def _assert_table_is_the_run(shown: dict, node: dict, names: list[str]) -> None:
    """Formulas, fractions (table, CSV) and predictions of the page against the Node run
    (onnxruntime-web and onnxruntime-node agree to float32 rounding)."""
    rows = shown["rows"]
    k = np.array([r["k"] for r in rows])
    assert [r["cells"][1] for r in rows] == hea_zoo.artifact.formula_strings(k, ELEMENTS)
    table = list(csv.DictReader(io.StringIO(shown["csv"])))
    assert len(table) == len(rows)
    fractions = np.array([[float(t[s]) for s in ELEMENTS] for t in table])
    np.testing.assert_array_equal(parity.k_from_fractions(fractions), k)
    assert [t["formula"] for t in table] == [r["cells"][1] for r in rows]
    by_index = {d["index"]: d for d in node["designs"]}
    for t, r in zip(table, rows):
        d = by_index.get(r["index"])
        if d is None or d["k"] != r["k"]:
            continue  # an edge-case design (see parity.compare)
        for p, name in enumerate(names):
            for column, key in (("surrogate", "mean"), ("lower", "lower"), ("upper", "upper")):
                assert float(t[f"{name}_{column}"]) == pytest.approx(d[key][p], rel=1e-5, abs=1e-4)
            assert float(t[f"{name}_oracle"]) == pytest.approx(d["oracle"][p], abs=1e-4)
        assert float(t["relative_error_surrogate"]) == pytest.approx(d["score"], rel=1e-4, abs=1e-6)
        assert t["in_tolerance"] == str(d["inTolerance"]) and t["system"] == d["system"]


def test_page_designs_match_the_engine_in_node(page_run, scenario, node_example):
    s = scenario
    plain = page_run["designs"][0]
    assert plain["state"] == "done", plain.get("message")
    meta = _metadata(s["model"])
    assert plain["labels"] == [f"{n.replace('_', ' ')} [{u}]" for n, u in zip(meta["condition_names"], meta["condition_units"])]
    node = node_design(node_example, EXPORTED / f"{s['model']}.onnx", s["target"], s["n"], s["seed"])
    assert len(plain["rows"]) == len(node["designs"]) == s["n"]
    raw = parity.RawSource(EXPORTED / f"{s['model']}.onnx", s["target"], s["seed"], {}, ELEMENTS, 0.005)
    node_run = parity.Run.from_engine("node", node)
    why = parity.compare(_page_run(plain), node_run, raw, 0.05)
    if why:
        print(f"page and Node part at an edge case: {why}")
    else:
        assert f"span {node['systems']} alloy systems" in plain["summary"]
    _assert_table_is_the_run(plain, node, meta["condition_names"])
    print(f"\n{s['model']} target={s['target']} seed={s['seed']} n={s['n']}: time to first designs "
          f"{plain['ms']:.0f} ms (page ready after {page_run['readyMs']} ms)")  # fmt: skip


def test_page_constrained_designs_match_the_engine_in_node(page_run, scenario, node_example):
    s = scenario
    c = s["constraints"]
    run = page_run["designs"][1]
    assert run["state"] == "done", run.get("message")
    target = s["target_cvae"]
    node = node_design(node_example, EXPORTED / "cvae.onnx", target, 12, s["seed2"], select="closest",
                       candidates=600, **_constraint_args(c))  # fmt: skip
    raw = parity.RawSource(EXPORTED / "cvae.onnx", target, s["seed2"], c, ELEMENTS, 0.005)
    node_run = parity.Run.from_engine("node", node)
    why = parity.compare(_page_run(run), node_run, raw, 0.05)
    if why:
        print(f"page and Node part at an edge case: {why}")
    _assert_table_is_the_run(run, node, ["shear_modulus", "fracture_toughness"])
    k = np.array([r["k"] for r in run["rows"]])
    for symbol in c["excluded"]:
        assert not k[:, ELEMENTS.index(symbol)].any()
    assert ((k > 0).sum(1) <= c["max_elements"]).all()
    assert (k[k > 0] >= 20).all()
    ((symbol, (lo, hi)),) = c["bounds"].items()
    assert ((k[:, ELEMENTS.index(symbol)] >= 1000 * lo) & (k[:, ELEMENTS.index(symbol)] <= 1000 * hi)).all()


def test_page_plots_one_point_per_design_and_the_target(page_run):
    for run in page_run["designs"]:
        assert run["circles"] == len(run["rows"]) > 0
        assert run["targets"] == 1
        assert run["plotTitles"] == [f"#{i + 1} {r['cells'][1]}" for i, r in enumerate(run["rows"])]
        assert run["download"].endswith(".csv") and run["csv"].splitlines()[0].startswith("rank,candidate,formula,")


def test_page_warns_of_a_target_outside_the_training_range(page_run):
    run = page_run["designs"][2]
    assert run["state"] == "done" and len(run["rows"]) == 5 and run["message"] is None
    (warning,) = [w for w in run["warnings"] if w.startswith("target ")]
    assert warning.startswith("target shear_modulus = 200 GPa lies outside the training data (34.7-151)")


def test_page_lists_the_exported_generators(page_run):
    manifest = json.loads((EXPORTED / "MANIFEST.json").read_text())["models"]
    generators = [name for name, entry in manifest.items() if entry["metadata"]["kind"] == "generator"]
    assert page_run["models"] == generators
    assert page_run["initialMessage"] is None


EXPECTED_MESSAGES = {
    "empty target": "is empty",
    "negative target": "target['fracture_toughness']: must be nonnegative (its training values are never negative). Received: -5",
    "non-numeric target": "is not a number",
    "absurd target": "beyond any plausible value",
    "negative number of designs": "the number of designs must lie in [1, 1000]",
    "fractional seed": "the seed must be a whole number",
    "contradictory bounds": "the lower bounds sum to 1.1 > 1",
    "unknown element": "exclude: unknown element 'Xx'",
    "fewer candidates than designs": "candidates: 10 is fewer than the 30 designs asked for",
    "infeasible": "no candidate satisfies the constraints (Ta 0.3337-0.3337; min fraction 0.03) among 32,000 candidates",
}


def test_bad_input_shows_a_message_not_a_broken_page(page_run):
    assert [b["name"] for b in page_run["bad"]] == list(EXPECTED_MESSAGES)
    for bad in page_run["bad"]:
        assert bad["state"] == "error", bad
        assert bad["message"] and EXPECTED_MESSAGES[bad["name"]] in bad["message"], bad
        assert not bad["resultsShown"] and bad["buttonEnabled"]
    corrupt = page_run["corrupt"]
    assert corrupt["afterLoad"]["message"].startswith("exported/wcgan.onnx is not an ONNX model")
    assert corrupt["state"] == "error" and "exported/wcgan.onnx" in corrupt["message"]
    # The page still designs afterwards.
    assert page_run["screenshot"]["state"] == "done" and len(page_run["screenshot"]["rows"]) == 20


def test_page_shows_the_surrogate_interval_when_it_has_one(page_run, scenario, node_example, tmp_path):
    shown = page_run["interval"]
    assert shown["state"] == "done", shown.get("message")
    assert shown["header"][2] == "shear modulus [GPa], interval (90 %)"
    surrogate = interval_surrogate(EXPORTED / "surrogate.onnx", tmp_path / "surrogate.onnx")
    node = node_design(node_example, EXPORTED / "cvae.onnx", [60, 35], 5, scenario["seed"], surrogate=surrogate)
    table = list(csv.DictReader(io.StringIO(shown["csv"])))
    assert "shear_modulus_lower" in table[0] and "shear_modulus_std" not in table[0]
    by_index = {d["index"]: d for d in node["designs"]}
    for t, r in zip(table, shown["rows"]):
        d = by_index.get(r["index"])
        if d is not None and d["k"] == r["k"]:
            assert float(t["shear_modulus_lower"]) == pytest.approx(d["lower"][0], rel=1e-5)
            assert float(t["fracture_toughness_upper"]) == pytest.approx(d["upper"][1], rel=1e-5)
            mean, lower, upper = (float(v) for v in re.fullmatch(r"(\S+) \[(\S+), (\S+)\]", r["cells"][2]).groups())
            assert mean == pytest.approx(d["mean"][0], abs=0.051)
            assert (lower, upper) == pytest.approx((d["lower"][0], d["upper"][0]), abs=0.0051)


def test_no_console_errors(page_run):
    errors = [m for m in page_run["console"] if m["type"] == "error"]
    assert not errors and not page_run["pageErrors"], (errors, page_run["pageErrors"])
    assert any(m["text"].startswith("hea_zoo: first designs in") for m in page_run["console"])


def test_screenshot(page_run, tmp_path_factory):
    """The page's picture (cvae, 60 GPa and 35 MPa·m^1/2, 20 designs, seed 0) is a PNG in
    the test's temporary folder; nothing is written into the repository
    (`python examples/web_screenshot.py` refreshes docs/web_screenshot.png)."""
    shot = Path(page_run["screenshot_path"])
    assert shot.is_relative_to(tmp_path_factory.getbasetemp())
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    assert page_run["screenshot"]["state"] == "done" and len(page_run["screenshot"]["rows"]) == 20


def _python_design(models_dir, model, target, n, seed, tmp_path, **options):
    """`hea-zoo design`'s engine through its API: the designer, result and CSV rows (`--out`)."""
    from hea_zoo.serving.design import Designer

    out = tmp_path / f"{model}-{seed}-{n}.csv"
    designer = Designer.from_exported(model, models_dir)
    result = designer.design(target, n=n, seed=seed, out=out, **options)
    return designer, result, list(csv.DictReader(io.StringIO(out.read_text())))


def _assert_page_is_hea_zoo_design(shown: dict, designer, result, python_csv: list[dict], raw, label: str) -> None:
    """The page's designs are `hea-zoo design`'s: the same candidates and printed
    compositions, exactly (unless a candidate sits on a 0.001 rounding edge where
    onnxruntime-web's float32 differs from the native runtime's: checked from the raw
    rows, and printed); the table's formulas and the CSV's columns, text and numbers
    (surrogate numbers to float32 tolerance)."""
    table = result.table
    k = parity.k_from_fractions(table[ELEMENTS].to_numpy(np.float64))
    py = parity.Run("hea-zoo design", table["candidate"].tolist(), k,
                    table["relative_error_surrogate"].tolist() if designer.has_surrogate else [])  # fmt: skip
    why = parity.compare(_page_run(shown), py, raw, 0.05)
    if why is not None:
        print(f"{label}: page and hea-zoo design part at an edge case: {why}")
        return
    assert [r["cells"][1] for r in shown["rows"]] == table["formula"].tolist(), label
    page_csv = list(csv.DictReader(io.StringIO(shown["csv"])))
    assert shown["csv"].splitlines()[0] == ",".join(table.columns), label
    assert len(page_csv) == len(python_csv) == len(shown["rows"]), label
    floors = designer.scale_floors()
    for i, (a, b) in enumerate(zip(page_csv, python_csv)):
        for column, value in b.items():
            if column.endswith(("_surrogate", "_lower", "_upper", "_oracle")):
                assert float(a[column]) == pytest.approx(float(value), rel=1e-5, abs=1.5e-4), (label, i, column)
            elif column.startswith("relative_error"):
                assert float(a[column]) == pytest.approx(float(value), rel=1e-4, abs=1.5e-6), (label, i, column)
            elif column == "in_tolerance" and a[column] != value:
                # only a design whose error sits on the tolerance, to float32 rounding
                mean = np.array([float(b[f"{name}_surrogate"]) for name in designer.condition_names])
                t = np.asarray(result.target)
                errors = np.abs(mean - t) / np.maximum(np.abs(t), floors)
                assert np.any(np.abs(errors - result.tolerance) < 1e-4 * result.tolerance), (label, i, column)
            else:
                assert a[column] == value, (label, i, column)


def test_page_designs_match_hea_zoo_design(page_run, scenario, tmp_path):
    """The page with its default options (candidates, minimum fraction, tolerance; diverse)
    and with constraints (closest) against `hea-zoo design`, on the run's model, target and
    seeds."""
    s = scenario
    plain = page_run["designs"][0]
    assert plain["state"] == "done", plain.get("message")
    designer, result, rows = _python_design(EXPORTED, s["model"], s["target"], s["n"], s["seed"], tmp_path)
    raw = parity.RawSource(EXPORTED / f"{s['model']}.onnx", s["target"], s["seed"], {}, ELEMENTS, 0.005)
    _assert_page_is_hea_zoo_design(plain, designer, result, rows, raw, f"plain {s['model']} {s['target']} seed {s['seed']}")
    assert f"span {result.n_systems} alloy systems" in plain["summary"]
    assert result.n_candidates == max(100 * s["n"], 32000) and f"of {result.n_candidates:,} drawn" in plain["summary"]

    c = s["constraints"]
    run = page_run["designs"][1]
    assert run["state"] == "done", run.get("message")
    constraints = {"exclude": c["excluded"], "max_elements": c["max_elements"], "bounds": c["bounds"],
                   "min_fraction": c["min_fraction"]}  # fmt: skip
    designer, result, rows = _python_design(EXPORTED, "cvae", s["target_cvae"], 12, s["seed2"], tmp_path,
                                            candidates=600, select="closest", constraints=constraints)  # fmt: skip
    raw = parity.RawSource(EXPORTED / "cvae.onnx", s["target_cvae"], s["seed2"], c, ELEMENTS, 0.005)
    _assert_page_is_hea_zoo_design(run, designer, result, rows, raw, f"constrained {s['target_cvae']} seed {s['seed2']} {c}")


def test_page_without_a_surrogate_matches_hea_zoo_design(page_run, scenario, tmp_path):
    """No exported/surrogate.onnx: the page designs without judging (as `hea-zoo design`
    does without one), says so, and leaves the surrogate columns and the plot out."""
    s = scenario
    shown = page_run["noSurrogate"]
    assert shown["state"] == "done", shown.get("message")
    assert any(w.startswith("no surrogate found") for w in shown["warnings"])
    assert shown["plotHidden"] and "Not judged: no surrogate." in shown["summary"]
    assert not any("surrogate" in h or "rel. error" in h for h in shown["header"])
    errors = [m["text"] for m in shown["console"] if m["type"] == "error"]
    assert all("404" in text for text in errors) and not shown["pageErrors"], (errors, shown["pageErrors"])
    shutil.copy(EXPORTED / "cvae.onnx", tmp_path / "cvae.onnx")
    designer, result, rows = _python_design(tmp_path, "cvae", s["target_cvae"], 10, s["seed2"], tmp_path)
    assert not designer.has_surrogate
    raw = parity.RawSource(EXPORTED / "cvae.onnx", s["target_cvae"], s["seed2"], {}, ELEMENTS, 0.005)
    _assert_page_is_hea_zoo_design(shown, designer, result, rows, raw, f"no surrogate {s['target_cvae']} seed {s['seed2']}")


def test_page_defaults_are_those_of_hea_zoo_design(page_run):
    """The form opens with `hea-zoo design`'s defaults: 20 designs, a drawn seed, max(100 n,
    32000) candidates, diverse selection, tolerance 0.05, minimum fraction 0.03, no maximum
    number of elements, every element."""
    from hea_zoo import cli
    from hea_zoo.serving import design

    parser = cli.build_parser()
    args = parser.parse_args(["design"])
    form = page_run["initialFields"]
    assert form["model"]["value"] == args.model == design.DEFAULT_MODEL == "cae"
    assert int(form["n"]["value"]) == args.n
    assert form["seed"]["value"] == "" and args.seed is None and form["seed"]["placeholder"] == "drawn at random"
    assert form["candidates"]["value"] == "" and args.candidates is None
    assert form["candidates"]["placeholder"] == "max(100 n, 32000)" and design.default_candidates(args.n) == 32000
    assert form["select"]["value"] == args.select
    assert float(form["tolerance"]["value"]) == args.tolerance == design.DEFAULT_TOLERANCE
    assert form["min-fraction"]["value"] == "" and args.min_fraction is None
    assert float(form["min-fraction"]["placeholder"]) == design.DEFAULT_MIN_FRACTION
    assert form["max-elements"]["value"] == "" and args.max_elements is None and design.DEFAULT_MAX_ELEMENTS is None
    assert form["allowed"]["value"] == form["excluded"]["value"] == form["bounds"]["value"] == ""


# --------------------------------------------------------------------------- goals
# The page's goal fields give the designs, CSV and errors of the Python engine
# (`Designer.run` with the same goals and seeds). onnxruntime-web rounds float32 differently
# from the native runtime, so surrogate numbers are compared to float32 tolerance;
# candidates, formulas and descriptors exactly.
@pytest.fixture(scope="module")
def page_goals(page_run):
    steps = {step["name"]: step for step in goal_steps()}
    return {step["name"]: step for step in page_run["goals"]}, steps


@pytest.fixture(scope="module")
def designer() -> Designer:
    return Designer.from_exported("cae")


EXACT = ("rank", "candidate", "formula", "system", "nearest_training", "nearest_distance", "density", "vec")


@pytest.mark.parametrize("name, request_, n, candidates", CASES, ids=[c[0] for c in CASES])
def test_page_goal_designs_are_the_python_engine_s(page_goals, designer, tmp_path, name, request_, n, candidates):
    shown, steps = page_goals
    page = shown[name]
    assert page["state"] == "done", page.get("message")
    seed = steps[name]["fields"]["seed"]
    out = tmp_path / "py.csv"
    result = designer.run(DesignRequest(n=n, candidates=candidates, seed=seed, out=out, **request_))
    py = list(csv.DictReader(io.StringIO(out.read_text())))
    js = list(csv.DictReader(io.StringIO(page["csv"])))
    assert page["csv"].splitlines()[0] == out.read_text().splitlines()[0]
    assert len(js) == len(py) == n == len(page["rows"])
    assert "P(goals)" in page["header"] and page["header"][-1].startswith("nearest training alloy")
    for i, (a, b) in enumerate(zip(js, py)):
        for column, value in b.items():
            if column in EXACT or column in designer.elements:
                assert a[column] == value, (name, i, column)
            elif column == "p_goals":
                assert float(a[column]) == pytest.approx(float(value), abs=1e-4), (name, i, column)
            else:
                assert float(a[column]) == pytest.approx(float(value), rel=1e-5, abs=1.5e-4), (name, i, column)
    assert [r["cells"][1] for r in page["rows"]] == [row["formula"] for row in py]
    assert page["warnings"] == result.notes
    goals_text = "; ".join(([", ".join(result.goals)] if result.goals else []) + result.objectives)
    assert page["summary"].startswith(f"Goals: {goals_text}. ")


@pytest.mark.parametrize("name, request_", BAD, ids=[b[0] for b in BAD])
def test_page_refuses_a_bad_goal_request_as_the_python_engine(page_goals, designer, name, request_):
    shown, _ = page_goals
    page = shown[name]
    with pytest.raises(HeaZooError) as info:
        designer.plan(DesignRequest(n=5, candidates=500, seed=0, **request_))
    assert page["state"] == "error" and page["message"] == str(info.value)

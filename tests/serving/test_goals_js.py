"""Goals in the JavaScript engine (examples/web/engine.js, docs/DESIGN_ENGINE.md section 7)
against the Python engine: the descriptor table both read, the descriptors, the R_P
conditions and P(goals), the same errors for bad goal requests, and whole goal designs from
Node (`generate.js --design --goal ...`) equal to `hea-zoo design` for fixed seeds.

Node is required (in CI a missing one fails, elsewhere these tests skip: tests.node_examples).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from hea_zoo.data.descriptors import DESCRIPTOR_NAMES, DescriptorTable, descriptor_table_json
from hea_zoo.errors import HeaZooError
from hea_zoo.serving.design import Designer
from hea_zoo.serving.design import goals as g
from hea_zoo.serving.design.request import DesignRequest
from tests.support import ROOT, parity
from tests.support.node_examples import NODE, NPM, onnx_node_example, probe, require, run_generate

EXPORTED = ROOT / "exported"


@pytest.fixture(autouse=True, scope="module")
def _node():
    require(node=NODE, npm=NPM)


@pytest.fixture(scope="module")
def table() -> dict:
    return json.loads((EXPORTED / "descriptors.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def metadata() -> dict:
    return json.loads((EXPORTED / "MANIFEST.json").read_text())["models"]["cae"]["metadata"]


@pytest.fixture(scope="module")
def designer() -> Designer:
    return Designer.from_exported("cae")


@pytest.fixture(scope="module")
def example_dir(tmp_path_factory) -> Path:
    return onnx_node_example(tmp_path_factory)


# ------------------------------------------------------------------------ the table
def test_exported_descriptor_table_is_the_python_table_of_the_bundled_models(table):
    """exported/descriptors.json (what engine.js reads) is `descriptor_table_json` of the
    bundled generators' elements: one table, no second copy."""
    models = json.loads((EXPORTED / "MANIFEST.json").read_text())["models"]
    element_lists = {json.dumps(entry["metadata"]["elements"]) for entry in models.values()}
    assert len(element_lists) == 1
    elements = json.loads(element_lists.pop())
    assert table == json.loads(json.dumps(descriptor_table_json(elements)))
    assert table["elements"] == elements


@pytest.mark.slow
def test_export_all_writes_the_descriptor_table_beside_the_models(tmp_path):
    """`hea-zoo export --all` writes descriptors.json for engine.js, listed in the manifest."""
    from hea_zoo import workflows

    manifest = json.loads(workflows.export_all(tmp_path, from_dir=EXPORTED / "keras", models=["cae"], n_per_condition=10,
                                               verbose=0).read_text())  # fmt: skip
    written = json.loads((tmp_path / "descriptors.json").read_text(encoding="utf-8"))
    assert written == json.loads(json.dumps(descriptor_table_json(manifest["dataset"]["elements"])))
    assert "descriptors.json" in manifest["files"]
    assert (tmp_path / "descriptors.json").read_bytes() == (EXPORTED / "descriptors.json").read_bytes()


def _random_printed(rng, n_rows: int, n_elements: int) -> np.ndarray:
    """Printed compositions (thousandths summing to 1000) of 1 to 7 elements, O included."""
    k = np.zeros((n_rows, n_elements), np.int64)
    for i in range(n_rows):
        m = int(rng.integers(1, 8))
        cols = rng.choice(n_elements, size=m, replace=False)
        cuts = np.sort(rng.choice(np.arange(1, 1000), size=m - 1, replace=False)) if m > 1 else np.zeros(0, np.int64)
        k[i, cols] = np.diff(np.concatenate([[0], cuts, [1000]]))
    return k


def test_js_descriptors_equal_the_python_ones(tmp_path, table):
    """engine.js's descriptors of random printed compositions agree with
    `DescriptorTable.compute` to 1e-12 (vec, tm, dhmix exactly); NaN and inf alike."""
    elements = table["elements"]
    k = _random_printed(parity.rng("descriptors"), 3000, len(elements))
    k[0] = 0
    k[0, elements.index("Mo")] = 1000  # one element: delta 0, omega 0
    k[1] = 0
    k[1, [elements.index("Mo"), elements.index("W")]] = 500  # dhmix 0: omega inf
    src, out = tmp_path / "k.f64", tmp_path / "out.f64"
    src.write_bytes(k.astype(np.float64).tobytes())
    answer = probe(tmp_path, op="descriptors", table=table, elements=elements, input=str(src), out=str(out))
    assert tuple(answer["names"]) == DESCRIPTOR_NAMES
    js = np.frombuffer(out.read_bytes(), np.float64).reshape(len(k), len(DESCRIPTOR_NAMES))
    py = DescriptorTable(elements).compute(k)
    for j, name in enumerate(DESCRIPTOR_NAMES):
        a, b = js[:, j], py[name]
        assert np.array_equal(np.isnan(a), np.isnan(b)), name
        assert np.array_equal(np.isinf(a), np.isinf(b)), name
        finite = np.isfinite(b)
        if name in ("vec", "tm", "dhmix"):
            assert np.array_equal(a[finite], b[finite]), name
        else:
            np.testing.assert_allclose(a[finite], b[finite], rtol=1e-12, atol=1e-12, err_msg=name)
    assert np.isnan(py["density"][k[:, elements.index("O")] > 0]).all()  # the table's missing values are exercised
    assert js[1, DESCRIPTOR_NAMES.index("omega")] == math.inf and js[0, DESCRIPTOR_NAMES.index("delta")] == 0


# ---------------------------------------------------------------- conditions, P(goals)
def test_conditions_and_probability_equal_the_python_ones(tmp_path, metadata, table, designer):
    rng = parity.rng("goal math")
    x = np.concatenate([rng.normal(0, 3, 200), [0.0, -0.0, 1e-300, 40.0, -40.0, math.inf, -math.inf]])
    cases = []
    for _ in range(200):
        mu = float(rng.normal(60, 20))
        half = float(rng.uniform(0, 5))
        lo, hi = sorted(rng.normal(60, 20, 2).tolist())
        lo = "-inf" if rng.random() < 0.3 else lo
        hi = "inf" if rng.random() < 0.3 else hi
        cases.append([mu, float(np.float32(mu - half)), float(np.float32(mu + half)), lo, hi])
    cases.append([60.0, 60.0, 60.0, 59.0, 61.0])  # sigma floored at 1e-12
    coverages = [0.5, 0.8, 0.9, 0.95, 0.99, 1e-6, 1 - 1e-9]
    for i, c in enumerate(cases[:60]):  # intervals at other coverages: z of the coverage
        cases.append([*c, coverages[i % len(coverages)]])
    answer = probe(tmp_path, op="goalMath", P=2, x=[float(v) if math.isfinite(v) else ("inf" if v > 0 else "-inf") for v in x],
                   cases=cases, coverages=coverages)  # fmt: skip
    assert answer["z"] == [g.interval_z(c) for c in coverages]  # the same bisection, value for value
    assert answer["z"][2] == g.INTERVAL_Z and abs(answer["z"][1] - 1.2815516) < 1e-6
    assert answer["alphas"] == g.condition_alphas(2).tolist()
    # erfc: the same formula with the platform's exp (Math.exp vs NumPy's may differ in the last bit)
    np.testing.assert_allclose(answer["erfc"][:-2], g._erfc(x[:-2]), rtol=1e-15, atol=0)
    np.testing.assert_allclose(answer["cdf"], g.normal_cdf(x), rtol=1e-15, atol=0)
    num = {"inf": math.inf, "-inf": -math.inf}
    py = [float(g.probability_within(np.array([mu]), np.array([lower]), np.array([upper]), num.get(lo, lo), num.get(hi, hi),
                                     g.interval_z(c[0] if c else None))[0])
          for mu, lower, upper, lo, hi, *c in cases]  # fmt: skip
    np.testing.assert_allclose(answer["p"], py, rtol=1e-13, atol=1e-15)
    # the conditions of a goal request: the same float32 values row for row
    request = DesignRequest(goals=["shear_modulus>=60", "fracture_toughness=30:40"], objectives=[], n=5, seed=0)
    plan = designer.plan(request)
    options = {"metadata": metadata, "goals": ["shear_modulus>=60", "fracture_toughness=30:40"], "descriptors": table,
               "hasSurrogate": True, "seed": 0, "n": 5}  # fmt: skip
    start = 2**31 + 12345
    js = probe(tmp_path, op="conditions", options=options, start=start, rows=500)
    assert np.array_equal(np.float32(js["conditions"]).reshape(500, 2), plan.conditions(start, 500))
    assert js["boxes"] == plan.box.T.tolist()


@pytest.mark.parametrize("constraints", [{}, {"excluded": ["Al", "O", "W"], "maxElements": 4}, {"maxElements": 2},
                                         {"allowed": ["Nb", "Ta", "Ti", "Zr"]}])  # fmt: skip
def test_random_candidates_equal_the_python_ones(tmp_path, designer, constraints):
    """Section 7.2's random compositions, row for row, bit for bit (float32)."""
    from hea_zoo.serving.constraints import Constraints

    rows = [0, 1, 2, 3, 99, 12345, 2**31 + 7, 2**32 - 1] + list(range(1000, 1400))
    elements = designer.elements
    out = tmp_path / "random.f32"
    probe(tmp_path, op="randomRows", seed=4242, rows=rows, constraints=constraints, elements=elements,
          threshold=designer.threshold, out=str(out))  # fmt: skip
    js = np.frombuffer(out.read_bytes(), np.float32).reshape(len(rows), len(elements))
    rules = Constraints(elements=constraints.get("allowed"), exclude=constraints.get("excluded", ()),
                        max_elements=constraints.get("maxElements")).resolve(elements, designer.threshold)  # fmt: skip
    py = g.random_rows(4242, np.array(rows), rules.allowed, rules.max_elements)
    assert np.array_equal(js, py)
    assert (py > 0).sum(axis=1).min() >= min(3, rules.max_elements, int(rules.allowed.sum()))


# ------------------------------------------------------------------------- errors
BAD_GOAL_REQUESTS = [
    {"goals": ["shear_modulus>>60"]},
    {"goals": ["vec<=5", "density>=abc"]},
    {"goals": [3]},
    {"goals": ["vec>=inf"]},
    {"goals": ["vec=nan"]},
    {"goals": ["vec=1:-inf"]},
    {"goals": ["vec=6:5"]},
    {"goals": ["vec<=5", " vec >= 4 "]},
    {"objectives": [["vec", "max"], ["tm", "max"], ["delta", "min"]]},
    {"objectives": [["vec", "max"], ["vec", "min"]]},
    {"objectives": [["vec", "up"]]},
    {"objectives": [["vec"]]},
    {"target": {"shear_modulus": 60}, "goals": ["shear_modulus>=50"]},
    {"goals": ["vec<=5"], "min_probability": 1.5},  # (1.0 would read 1 in JavaScript: one number type)
    {"goals": ["vec<=5"], "min_probability": 0},
    {"goals": ["G>=60"]},
    {"objectives": [["toughness", "max"]]},
    {"goals": ["density<=1"]},
    {"goals": ["vec>=7"], "constraints": {"elements": ["Ti", "Zr", "Nb"]}},
    {"goals": ["tm<=1000"], "constraints": {"elements": ["Ti", "Zr", "Nb"]}},
    {"goals": ["delta<=-1"]},
    {"goals": ["omega=-3:-1"]},
    {"goals": ["shear_modulus>=600"]},
    {"goals": ["fracture_toughness<=-100"]},
    {"goals": ["shear_modulus=-400"]},
    {"goals": ["density<=9"], "target": {"shear_modulus": -5}},
    {"goals": ["density<=9"], "target": {"hardness": 5}},
    {"goals": ["density<=9"], "target": [60]},
    {"goals": ["density<=9"], "n": 0},
]


def _js_options(request: dict, metadata: dict, table: dict) -> dict:
    names = {"min_probability": "minProbability", "chunk_size": "chunkSize"}
    out = {"metadata": metadata, "descriptors": table, "hasSurrogate": True, "seed": 0}
    for key, value in request.items():
        if key == "constraints":
            value = {"allowed": value.get("elements")}
        out[names.get(key, key)] = value
    return out


def test_both_engines_refuse_a_bad_goal_request_with_the_same_error(tmp_path, designer, metadata, table):
    expected, requests = [], []
    for request in BAD_GOAL_REQUESTS:
        with pytest.raises(HeaZooError) as info:
            designer.plan(DesignRequest(**{"seed": 0, **request}))
        expected.append(str(info.value))
        requests.append({"op": "options", "options": _js_options(request, metadata, table)})
    answers = probe(tmp_path, op="batch", requests=requests)["answers"]
    assert [a["error"] for a in answers] == expected
    assert len(set(expected)) == len(expected)  # every case is a different rule


def test_without_a_surrogate_property_goals_are_refused(tmp_path, metadata, table):
    requests = [{"op": "options", "options": {**_js_options(r, metadata, table), "hasSurrogate": False}}
                for r in ({"goals": ["density<=9", "shear_modulus>=60"]}, {"objectives": [["fracture_toughness", "max"]]},
                          {"goals": ["density<=9"]})]  # fmt: skip
    answers = probe(tmp_path, op="batch", requests=requests)["answers"]
    assert [a["error"] for a in answers] == [
        "goals[1]: shear_modulus is judged by the surrogate, and there is none.",
        "objectives[0]: fracture_toughness is judged by the surrogate, and there is none.",
        None,
    ]


# ------------------------------------------------------------------- whole designs
GOAL_DESIGNS = [
    pytest.param({"goals": ["shear_modulus>=60", "fracture_toughness>=45"]}, 12, 4000, id="thresholds"),
    pytest.param({"goals": ["shear_modulus=50:70", "fracture_toughness<=40"], "select": "closest"}, 8, 3000, id="range"),
    pytest.param({"goals": ["fracture_toughness>=40", "density<=8.5", "vec=4:4.8"]}, 10, 4000, id="descriptors"),
    pytest.param({"goals": ["shear_modulus>=60"], "objectives": [("fracture_toughness", "max")]}, 10, 4000, id="maximize"),
    pytest.param({"goals": ["density<=9"], "objectives": [("shear_modulus", "max"), ("fracture_toughness", "max")]},
                 10, 4000, id="pareto"),
    pytest.param({"goals": ["vec>=4.5"], "objectives": [("density", "min")], "min_probability": 0.9}, 6, 2000,
                 id="descriptor-objective"),
    pytest.param({"target": {"shear_modulus": 70}, "goals": ["fracture_toughness>=40"], "constraints": {"max_elements": 4}},
                 10, 3000, id="point-and-threshold"),
    # no candidate reaches p_min: the note says so in both engines
    pytest.param({"goals": ["shear_modulus>=80", "fracture_toughness>=50"]}, 4, 1000, id="none-probable"),
]


def _node_args(request: dict, n: int, candidates: int, seed: int, out: Path) -> list[str]:
    args = ["--design", "--model", str(EXPORTED / "cae.onnx"), "--n", str(n), "--candidates", str(candidates),
            "--seed", str(seed), "--out", str(out)]  # fmt: skip
    for goal in request.get("goals", ()):
        args += ["--goal", goal]
    for name, sense in request.get("objectives", ()):
        args += ["--maximize" if sense == "max" else "--minimize", name]
    if "target" in request:
        args += ["--target", ",".join(f"{k}={v}" for k, v in request["target"].items())]
    if "select" in request:
        args += ["--select", request["select"]]
    if "min_probability" in request:
        args += ["--min-probability", str(request["min_probability"])]
    if "constraints" in request:
        args += ["--max-elements", str(request["constraints"]["max_elements"])]
    return args


@pytest.mark.parametrize("request_, n, candidates", GOAL_DESIGNS)
def test_node_goal_designs_equal_the_python_ones(tmp_path, example_dir, designer, request_, n, candidates):
    """`node generate.js --design --goal ...` writes the CSV `Designer.run` writes and prints
    the same table and notes, for fixed seeds."""
    seed = int(parity.rng("goal design", json.dumps(request_, sort_keys=True)).integers(0, 2**32))
    py_out, js_out = tmp_path / "py.csv", tmp_path / "js.csv"
    result = designer.run(DesignRequest(n=n, candidates=candidates, seed=seed, out=py_out, **request_))
    done = run_generate(example_dir, *_node_args(request_, n, candidates, seed, js_out))
    assert done.returncode == 0, done.stderr
    context = f"seed={seed} request={request_}"
    py_lines, js_lines = py_out.read_text().splitlines(), js_out.read_text().splitlines()
    assert js_lines[0] == py_lines[0], context
    assert "p_goals" in py_lines[0].split(",") and "nearest_training" in py_lines[0].split(",")
    assert js_lines == py_lines, context
    assert len(py_lines) == n + 1, context
    from hea_zoo.serving.design.table import format_table

    table_lines = format_table(result, designer).splitlines()
    assert done.stdout.splitlines()[: len(table_lines)] == table_lines, context
    notes = [line[len("note: "):] for line in done.stderr.splitlines() if line.startswith("note: ")]
    assert notes == result.notes, context


def test_point_goals_on_every_property_are_the_classic_request_in_node(tmp_path, example_dir):
    """`--goal shear_modulus=60 --goal fracture_toughness=35` is `--target 60,35`: the same CSV bytes."""
    outs = []
    for flags in (["--goal", "shear_modulus=60", "--goal", "fracture_toughness=35"], ["--target", "60,35"]):
        out = tmp_path / f"{len(outs)}.csv"
        done = run_generate(example_dir, "--design", "--model", str(EXPORTED / "cae.onnx"),
                            *flags, "--n", "5", "--candidates", "2000", "--seed", "7", "--out", str(out))  # fmt: skip
        assert done.returncode == 0, done.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] and b"relative_error_surrogate" in outs[0]


def test_a_surrogate_at_80_percent_is_read_at_80_percent_in_both_engines(tmp_path, example_dir):
    """A surrogate whose metadata records coverage 0.8: P(goals) uses z = 1.2816, not the
    90 % interval's 1.6449, in Python and in Node (the same CSV), so a design printed with
    mean and interval ends carries the probability of that 80 % normal."""
    import shutil

    import onnx

    for name in ("cae.onnx", "surrogate.onnx", "descriptors.json"):
        shutil.copy(EXPORTED / name, tmp_path / name)
    model = onnx.load(str(tmp_path / "surrogate.onnx"))
    props = {p.key: p for p in model.metadata_props}
    assert float(props["coverage"].value) == 0.9
    props["coverage"].value = "0.8"
    onnx.save(model, str(tmp_path / "surrogate.onnx"))
    designer = Designer.from_exported("cae", models_dir=tmp_path)
    assert designer.interval_z == g.interval_z(0.8) and abs(designer.interval_z - 1.2815516) < 1e-6
    seed, n, candidates = 11, 6, 2000

    def both_engines(request: dict, name: str) -> Path:
        """The CSV of `request` in Python, checked equal to Node's."""
        py_out, js_out = tmp_path / f"py_{name}.csv", tmp_path / f"js_{name}.csv"
        designer.run(DesignRequest(n=n, candidates=candidates, seed=seed, out=py_out, **request))
        args = _node_args(request, n, candidates, seed, js_out)
        args[args.index("--model") + 1] = str(tmp_path / "cae.onnx")
        done = run_generate(example_dir, *args)
        assert done.returncode == 0, done.stderr
        assert js_out.read_text().splitlines() == py_out.read_text().splitlines()
        return py_out

    py_out = both_engines({"goals": ["shear_modulus>=75", "fracture_toughness>=45"], "min_probability": 0.05}, "goals")
    import pandas as pd

    t = pd.read_csv(py_out)
    p = np.ones(len(t))
    p90 = np.ones(len(t))
    for name, lo in (("shear_modulus", 75.0), ("fracture_toughness", 45.0)):
        ends = t[f"{name}_surrogate"].to_numpy(), t[f"{name}_lower"].to_numpy(), t[f"{name}_upper"].to_numpy()
        p *= g.probability_within(*ends, lo, math.inf, g.interval_z(0.8))
        p90 *= g.probability_within(*ends, lo, math.inf)
    np.testing.assert_allclose(t["p_goals"], p, atol=2e-3)  # the CSV's values are rounded
    assert np.abs(p90 - t["p_goals"]).max() > 0.01, t["p_goals"].tolist()  # the 90 % reading would differ
    base = Designer.from_exported("cae")
    assert base.interval_z == g.INTERVAL_Z
    # an objective is read at the same scale: mean less INTERVAL_Z/2 sigma of the 80 % normal
    both_engines({"goals": ["shear_modulus>=60"], "objectives": [("fracture_toughness", "max")],
                  "min_probability": 0.05}, "max")  # fmt: skip

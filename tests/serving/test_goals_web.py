"""Goals on the design page (examples/web, headless Chromium): the page's goal fields give
the designs, CSV and errors of the Python engine (`Designer.run` with the same goals, fixed
seeds). onnxruntime-web rounds float32 differently from the native runtime, so surrogate
numbers are compared to float32 tolerance; candidates, formulas and descriptors exactly.

Chromium, Node and npm are required (in CI a missing one fails, elsewhere these tests skip).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from hea_zoo.errors import HeaZooError
from hea_zoo.serving.design import Designer
from hea_zoo.serving.design.request import DesignRequest
from tests.support import ROOT, parity
from tests.support.node_examples import NODE, NPM, WEB, require, web_example

EXPORTED = ROOT / "exported"
CHROMIUM = "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else shutil.which("chromium")
DRIVER = ROOT / "tests" / "support" / "web_drive.mjs"


@pytest.fixture(autouse=True, scope="module")
def _browser_and_node():
    require(chromium=CHROMIUM, node=NODE, npm=NPM)


#: (name, request as DesignRequest takes it, n, candidates)
CASES = [
    ("thresholds", {"goals": ["shear_modulus>=60", "fracture_toughness>=45"]}, 10, 3000),
    ("range", {"goals": ["shear_modulus=50:70", "fracture_toughness<=40"], "select": "closest"}, 8, 2000),
    ("descriptor", {"goals": ["fracture_toughness>=40", "density<=8.5"]}, 8, 3000),
    ("maximize", {"goals": ["shear_modulus>=60"], "objectives": [("fracture_toughness", "max")]}, 8, 3000),
    ("pareto", {"goals": ["vec=4:5"], "objectives": [("shear_modulus", "max"), ("fracture_toughness", "max")],
                "min_probability": 0.8}, 8, 3000),
]
BAD = [
    ("unknown name", {"goals": ["hardness>=3"]}),
    ("unreachable density", {"goals": ["density<=1"]}),
    ("empty range", {"goals": ["vec=5:4"]}),
    ("far outside", {"goals": ["shear_modulus>=600"]}),
    ("objective twice", {"goals": ["vec<=5"], "objectives": [("tm", "max"), ("tm", "min")]}),
    ("min probability", {"goals": ["vec<=5"], "min_probability": 1.5}),
]


def _fields(request: dict, n: int, seed: int, candidates: int) -> dict:
    goals = list(request.get("goals", ()))
    fields = {"aim": "goals", "n": n, "seed": seed, "candidates": candidates, "select": request.get("select", "diverse"),
              "tolerance": 0.05, "allowed": "", "excluded": "", "max-elements": "", "bounds": "", "min-fraction": "",
              "min-probability": request.get("min_probability", 0.5)}  # fmt: skip
    for i in range(max(3, len(goals))):
        fields[f"goal-{i}"] = goals[i] if i < len(goals) else ""
    objectives = list(request.get("objectives", ()))
    for i in range(2):
        name, sense = objectives[i] if i < len(objectives) else ("vec", "")
        fields[f"objective-{i}-name"] = name
        fields[f"objective-{i}-sense"] = sense
    return fields


@pytest.fixture(scope="module")
def page_goals(server, tmp_path_factory):
    web_example()
    steps = []
    for name, request, n, candidates in CASES:
        seed = int(parity.rng("goal page", name).integers(0, 2**32))
        steps.append({"name": name, "model": "cae", "fields": _fields(request, n, seed, candidates)})
    for name, request in BAD:
        steps.append({"name": name, "model": "cae", "fields": _fields(request, 5, 0, 500)})
    drive = {"url": server, "chromium": CHROMIUM, "playwright": str(WEB / "package.json"), "designs": [], "bad": [],
             "goals": steps}  # fmt: skip
    file = tmp_path_factory.mktemp("goals-drive") / "request.json"
    file.write_text(json.dumps(drive))
    done = subprocess.run([NODE, str(DRIVER), str(file)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"driving the page failed:\n{done.stderr}"
    out = json.loads(done.stdout)
    assert not out["pageErrors"], out["pageErrors"]
    return {step["name"]: step for step in out["goals"]}, {s["name"]: s for s in steps}


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

"""The JavaScript design engine (examples/web/engine.js) and the Node.js example
(examples/onnx_node) give the numbers Python gives.

Seeds, targets and rows are drawn from `tests.support.parity.rng`: fixed by `PARITY_SEED` and the
test's name, so a failure reproduces (``HEA_ZOO_PARITY_SEED=<n>`` draws another set, for a
sweep by hand); the whole-design parity also runs a seeded sweep (`SWEEP`, marked slow).
Node and npm are required: in CI a missing one fails these tests (`tests.support.node_examples`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import hea_zoo
from hea_zoo import artifact
from hea_zoo.serving import export
from tests.support import design_reference, parity
from tests.support.exports import (
    EXPORTED,
    GENERATOR_NAMES,
    STUDY_NAMES,
    TOLERANCE,
    committed_names,
    keras_outputs,
    onnx_outputs,
)
from tests.support.node_examples import (
    NODE,
    NPM,
    bounds_text,
    interval_surrogate,
    plain_surrogate,
    node_design,
    run_generate,
    onnx_node_example,
    probe,
    require,
)

ELEMENTS = list(hea_zoo.ELEMENTS)
_DRAWS = {"test": "", "calls": 0}  # the running test's name and how many generators it drew


@pytest.fixture(autouse=True, scope="module")
def _node_and_npm():
    """Node and npm run every test here: missing, a failure in CI, a skip elsewhere
    (checked before any other fixture of the module trains or installs anything)."""
    require(node=NODE, npm=NPM)


@pytest.fixture(autouse=True)
def _draws(request):
    _DRAWS.update(test=request.node.name, calls=0)


def fresh_rng() -> np.random.Generator:
    """The running test's seeded draws (`tests.support.parity.rng` of its name, parameters included)."""
    _DRAWS["calls"] += 1
    return parity.rng(_DRAWS["test"], _DRAWS["calls"])


def _mix32(x):
    return artifact._mix32(np.asarray(x, np.uint32))


@pytest.fixture(scope="module")
def example_dir(tmp_path_factory):
    return onnx_node_example(tmp_path_factory)


def run_node(example_dir, *args: str, json_output: bool = True, cli: bool = False):
    """`node generate.js ARGS [--json]`: in the session's Node server, or with `cli` as its
    own command line."""
    command = [NODE, str(example_dir / "generate.js"), *args] + (["--json"] if json_output else [])
    if cli:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    else:
        done = run_generate(example_dir, *command[2:], timeout=120)
    assert done.returncode == 0, f"{command} failed:\n{done.stderr}"
    return json.loads(done.stdout) if json_output else done.stdout


@pytest.fixture(scope="module")
def dataset():
    return hea_zoo.load_dataset()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """`(folder, Keras models)`: the committed study generators (exported/keras/*.keras,
    whose ONNX files tests/serving/test_export.py checks against them); the cAE exported
    afresh into the folder by this version's `export_model`, the others' committed ONNX
    files copied beside it. No training: the parity needs a model, not a good one."""
    import keras

    models = {name: keras.saving.load_model(EXPORTED / "keras" / f"{name}.keras") for name in STUDY_NAMES}
    root = tmp_path_factory.mktemp("exported")
    export.export_model(models["cae"], root, "cae")
    for name in STUDY_NAMES:
        if name != "cae":
            shutil.copy(EXPORTED / f"{name}.onnx", root / f"{name}.onnx")
    return root, models


@pytest.fixture(scope="module")
def flow_exported(dataset, tmp_path_factory):
    """A tiny flow exported with its log-density (`flow.onnx`, `flow_log_prob.onnx`) beside
    the committed surrogate."""
    from hea_zoo.models import train_default_generator

    root = tmp_path_factory.mktemp("flow")
    model = train_default_generator("flow", dataset, epochs=2, verbose=0)
    export.export_model(model, root, "flow")
    shutil.copy(EXPORTED / "surrogate.onnx", root / "surrogate.onnx")
    return root, {"flow": model}


def _flow_param(name):
    # The flow's own tiny export costs a training and two ONNX conversions: a slow test.
    return pytest.param(name, marks=pytest.mark.slow) if name == "flow" else name


# ------------------------------------------------------------------ the Node example


@pytest.mark.parametrize("name", [_flow_param(n) for n in GENERATOR_NAMES])
def test_node_matches_python_for_the_same_z(name, request, example_dir, tmp_path):
    root, models = request.getfixturevalue("flow_exported" if name == "flow" else "exported")
    model = models[name]
    z = np.random.default_rng(1).standard_normal((16, model.latent_dim)).astype(np.float32)
    z_file = tmp_path / "z.json"
    z_file.write_text(json.dumps(z.tolist()))
    out = run_node(example_dir, "--model", str(root / f"{name}.onnx"), "--target", "80,40", "--z", str(z_file))
    node = np.asarray(out["compositions"], np.float32)
    assert node.shape == (16, 22)
    np.testing.assert_array_equal(np.asarray(out["z"], np.float32), z)
    inputs = {"z": z, "condition": np.tile(np.float32([[80.0, 40.0]]), (16, 1))}
    python_onnx = onnx_outputs(root / f"{name}.onnx", inputs)["composition"]
    from_keras = keras_outputs(model, inputs)["composition"]
    assert np.max(np.abs(node - python_onnx)) <= TOLERANCE
    assert np.max(np.abs(node - from_keras)) <= TOLERANCE
    # Metadata as Python reads it; formulas printed as hea_zoo.artifact prints them.
    assert out["metadata"]["elements"] == ELEMENTS
    assert out["metadata"]["latent_dim"] == str(model.latent_dim)
    assert out["condition_units"] == ["GPa", "MPa*m^0.5"]
    k, ok = artifact.printed_thousandths(node)
    assert ok.all()
    assert out["formulas"] == artifact.formula_strings(k, ELEMENTS)


def test_node_seeded_noise_is_the_hzn1_draw(exported, example_dir):
    root, _ = exported
    path = str(root / "cvae.onnx")
    seed = int(fresh_rng().integers(0, 2**32))
    a = run_node(example_dir, "--model", path, "--target", "60,20", "--n", "5", "--seed", str(seed))
    b = run_node(example_dir, "--model", path, "--target", "60,20", "--n", "5", "--seed", str(seed))
    c = run_node(example_dir, "--model", path, "--target", "60,20", "--n", "5", "--seed", str(seed ^ 1))
    assert a == b and a["z"] != c["z"]
    assert a["noise"] == "hzn1" and a["seed"] == seed
    z = np.asarray(a["z"], np.float32)
    np.testing.assert_array_equal(z, artifact.noise(seed, 5, 8))  # bit for bit
    inputs = {"z": z, "condition": np.tile(np.float32([[60.0, 20.0]]), (5, 1))}
    python_onnx = onnx_outputs(path, inputs)["composition"]
    assert np.max(np.abs(np.asarray(a["compositions"], np.float32) - python_onnx)) <= TOLERANCE


def test_node_text_output_on_the_committed_model(example_dir):
    text = run_node(
        example_dir, "--model", str(EXPORTED / "cvae.onnx"), "--target", "80,40", "--n", "3",
        json_output=False, cli=True,
    )  # fmt: skip
    lines = text.strip().splitlines()
    assert lines[0].startswith("CVAE 'cvae' v1")
    assert "shear_modulus = 80 GPa" in lines[1]
    assert len(lines) == 5
    for formula in lines[2:]:
        vector = hea_zoo.parse_formula(formula)
        assert abs(float(vector.sum()) - 1.0) < 1e-3


def test_node_rejects_a_wrong_target(example_dir):
    done = subprocess.run(
        [NODE, str(example_dir / "generate.js"), "--model", str(EXPORTED / "cvae.onnx"), "--target", "80"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "shear_modulus [GPa], fracture_toughness [MPa*m^0.5]" in done.stderr


@pytest.mark.parametrize(
    "args, says, code",
    [  # the exit codes of `hea-zoo design`: 5 for a request that cannot be met, 2 for usage
        (["--bounds", "W=0.6:0.7,Mo=0.5:1"], "the lower bounds sum to 1.1 > 1", 5),
        (["--exclude", "Xx"], "exclude: unknown element 'Xx'", 5),
        (["--max-elements", "0"], "max_elements: must be at least 1", 5),
        (["--allow", "W", "--exclude", "W"], "no element is left", 5),
        (["--seed", "-1"], "--seed must be an integer in [0, 4294967295]", 2),
        (["--select", "best"], "select: must be diverse or closest", 2),
    ],
)
def test_node_design_rejects_a_bad_request_in_one_line(example_dir, args, says, code):
    done = run_generate(example_dir, "--design", "--model", str(EXPORTED / "cvae.onnx"), "--target", "60,35", *args,
                        timeout=60)  # fmt: skip
    assert done.returncode == code
    first = done.stderr.splitlines()[0]
    assert first.startswith("error: ") and says in first, done.stderr


def test_node_design_shows_the_surrogate_interval_when_it_has_one(example_dir, tmp_path):
    """A surrogate with `properties_lower`/`properties_upper` (metadata `coverage`) gives its
    calibrated interval; without them the interval is mean ± 1.6448536269514722 std in
    float32 (section 4), and a note says it is not calibrated."""
    surrogate = interval_surrogate(EXPORTED / "surrogate.onnx", tmp_path / "surrogate.onnx")
    model = str(EXPORTED / "cvae.onnx")
    common = ["--design", "--model", model, "--target", "60,35", "--n", "4", "--seed", "3"]
    with_interval = run_node(example_dir, *common, "--surrogate", str(surrogate))
    uncalibrated = plain_surrogate(EXPORTED / "surrogate.onnx", tmp_path / "plain.onnx")
    plain = run_node(example_dir, *common, "--surrogate", str(uncalibrated))
    assert with_interval["coverage"] == 0.9 and plain["coverage"] is None
    assert with_interval["calibrated"] is True and plain["calibrated"] is False
    assert not any("not calibrated" in note for note in with_interval["notes"])
    assert any("not calibrated" in note for note in plain["notes"])
    assert [d["formula"] for d in with_interval["designs"]] == [d["formula"] for d in plain["designs"]]
    z = np.float32(1.6448536269514722)
    for d, e in zip(plain["designs"], with_interval["designs"]):
        mean, std = np.float32(d["mean"]), np.float32(d["std"])
        np.testing.assert_array_equal(np.float32(d["lower"]), mean - z * std)  # float32, bit for bit
        np.testing.assert_array_equal(np.float32(d["upper"]), mean + z * std)
        # the exported interval is the same float32 arithmetic in the ONNX graph
        np.testing.assert_allclose(e["lower"], d["lower"], rtol=1e-6)
        np.testing.assert_allclose(e["upper"], d["upper"], rtol=1e-6)
        assert (mean > np.float32(d["lower"])).all() and (mean < np.float32(d["upper"])).all()
    text = run_node(example_dir, *common, "--surrogate", str(surrogate), json_output=False)
    first = text.splitlines()[2]
    d = with_interval["designs"][0]
    assert first.startswith(f"1  {d['formula']}")
    assert f"{d['mean'][0]:.1f} [{d['lower'][0]:.1f}, {d['upper'][0]:.1f}]" in first


# ------------------------------------------------------ engine.js against hea_zoo.artifact


def test_engine_noise_is_hzn1_bit_for_bit(tmp_path):
    rng = fresh_rng()
    for dim in (1, 4, 8, 13):
        seed = int(rng.integers(0, 2**32))
        start = int(rng.choice([0, rng.integers(0, 2**32 - 5000)]))
        rows = 4000 if dim != 13 else 997
        out = tmp_path / f"z{dim}.bin"
        probe(tmp_path, op="noise", seed=seed, start=start, rows=rows, dim=dim, out=str(out))
        z = np.fromfile(out, np.float32).reshape(rows, dim)
        words = np.fromfile(str(out) + ".words", np.uint32).reshape(rows, dim, 2)
        # The integers of section 1, written out from the specification.
        key = _mix32(np.uint32(seed) ^ np.uint32(0x9E3779B9))
        h = _mix32(key ^ np.arange(start, start + rows, dtype=np.uint64).astype(np.uint32))[:, None]
        j2 = (2 * np.arange(dim, dtype=np.uint32))[None, :]
        with np.errstate(over="ignore"):
            np.testing.assert_array_equal(words[..., 0], _mix32(h + j2), err_msg=f"seed={seed} start={start}")
            np.testing.assert_array_equal(words[..., 1], _mix32(h + j2 + np.uint32(1)))
        np.testing.assert_array_equal(z, artifact.noise(seed, rows, dim, start_row=start), err_msg=f"seed={seed}")
    # The last rows below 2**32, and the seed's extremes.
    for seed in (0, 2**32 - 1):
        out = tmp_path / "edge.bin"
        probe(tmp_path, op="noise", seed=seed, start=2**32 - 3, rows=3, dim=8, out=str(out))
        np.testing.assert_array_equal(np.fromfile(out, np.float32).reshape(3, 8), artifact.noise(seed, 3, 8, start_row=2**32 - 3))


def _rows_to_print(rng, n: int) -> np.ndarray:
    """Rows of every kind a printer meets: generator-like softmax rows, sparse rows, float32
    copies of printed rows, exact thousandths, values at the drop threshold, ties, and
    rows that cannot be printed."""
    E = len(ELEMENTS)
    parts = []
    logits = rng.normal(0, 3, (n, E))
    parts.append((np.exp(logits) / np.exp(logits).sum(1, keepdims=True)).astype(np.float32).astype(np.float64))
    sparse = rng.dirichlet(np.full(E, 0.3), n) * (rng.random((n, E)) < 0.4)
    parts.append(sparse)
    k, ok = artifact.printed_thousandths(parts[0][: n // 2])
    parts.append((k[ok] / 1000).astype(np.float32).astype(np.float64))  # printed, as float32
    grid = rng.multinomial(1000, np.full(E, 1 / E), n // 4) / 1000.0  # exact thousandths
    parts.append(grid)
    near = rng.dirichlet(np.ones(E), n // 4)
    cols = rng.integers(0, E, (n // 4, 3))
    np.put_along_axis(near, cols, rng.choice([0.005, 0.005 - 1e-7, 0.005 - 2e-7, 0.0049999, 0.00500001], (n // 4, 3)), 1)
    parts.append(near)
    equal = np.zeros((n // 8, E))
    for i, m in enumerate(rng.integers(2, 12, n // 8)):
        equal[i, rng.choice(E, m, replace=False)] = 1.0 / m  # remainder ties
    parts.append(equal)
    bad = rng.dirichlet(np.ones(E), 6)
    bad[0, 3] = np.nan
    bad[1, 4] = -0.01
    bad[2, 5] = np.inf
    bad[3] = 0.001  # everything below the threshold
    bad[4] = 0.0
    bad[5, 6] = -5e-7  # a rounding-sized negative is tolerated
    parts.append(bad)
    return np.concatenate(parts)


def test_engine_printed_thousandths_and_formulas_match_python(tmp_path):
    rng = fresh_rng()
    rows = _rows_to_print(rng, 3000)
    for threshold in (artifact.DROP_THRESHOLD, float(rng.choice([0.01, 0.02, 0.05])) + float(rng.uniform(0, 1e-3))):
        src = tmp_path / "rows.bin"
        rows.astype(np.float64).tofile(src)
        out = tmp_path / "printed"
        answer = probe(tmp_path, op="print", input=str(src), elements=ELEMENTS, threshold=threshold, out=str(out))
        k = np.fromfile(str(out) + ".k", np.int32).reshape(rows.shape)
        ok = np.fromfile(str(out) + ".ok", np.uint8).astype(bool)
        k_py, ok_py = artifact.printed_thousandths(rows, threshold)
        np.testing.assert_array_equal(ok, ok_py, err_msg=f"threshold={threshold}")
        np.testing.assert_array_equal(k, k_py, err_msg=f"threshold={threshold}")
        assert ok.sum() > 0.95 * len(rows) and (k[ok].sum(1) == 1000).all()
        assert [f for f in answer["formulas"] if f is not None] == artifact.formula_strings(k_py[ok_py], ELEMENTS)
        assert [f is None for f in answer["formulas"]] == list(~ok_py)


def _random_valid_constraints(rng) -> dict:
    """A request that passes validation: some excluded elements, a maximum count, bounds
    on a few elements (some required), a minimum fraction."""
    symbols = [str(s) for s in rng.permutation(ELEMENTS)]
    excluded = symbols[: rng.integers(0, 8)]
    rest = symbols[len(excluded):]
    bounds = {}
    for s in rest[: rng.integers(0, 4)]:
        lo = float(rng.choice([0.0, rng.uniform(0.02, 0.15)]))
        bounds[s] = (round(lo, 3), round(float(rng.uniform(max(lo, 0.1), 0.6)), 3))
    required = sum(1 for lo, _ in bounds.values() if lo > 0)
    return {
        "excluded": excluded,
        "max_elements": int(rng.integers(max(required, 2), 9)) if rng.random() < 0.8 else None,
        "bounds": bounds,
        "min_fraction": float(rng.choice([0.005, 0.01, 0.02, 0.03, 0.05])) if rng.random() < 0.7 else None,
        "allowed": None,
    }


def _js_constraints(c: dict) -> dict:
    return {"excluded": c["excluded"], "maxElements": c["max_elements"], "bounds": {s: list(b) for s, b in c["bounds"].items()},
            "minFraction": c["min_fraction"], "allowed": c["allowed"]}  # fmt: skip


def test_engine_repair_matches_the_python_reading_of_the_spec(tmp_path):
    """Section 3 on generator-like rows under random constraints: engine.js, the plain
    reading of the specification (tests/support/design_reference.py) and `hea-zoo design`'s
    vectorized repair (hea_zoo.serving.design.apply_constraints) print the same rows."""
    from hea_zoo.serving.design import apply_constraints

    rng = fresh_rng()
    E = len(ELEMENTS)
    logits = rng.normal(0, 2.5, (1200, E))
    raw = (np.exp(logits) / np.exp(logits).sum(1, keepdims=True)).astype(np.float32).astype(np.float64)
    src = tmp_path / "raw.bin"
    raw.tofile(src)
    cases = [_random_valid_constraints(rng) for _ in range(6)]
    probe(tmp_path, op="batch", requests=[
        {"op": "repair", "input": str(src), "elements": ELEMENTS, "threshold": 0.005, "constraints": _js_constraints(c),
         "out": str(tmp_path / f"repaired{i}")} for i, c in enumerate(cases)])  # fmt: skip
    kept_any = 0
    for i, c in enumerate(cases):
        out = tmp_path / f"repaired{i}"
        k = np.fromfile(str(out) + ".k", np.int32).reshape(raw.shape)
        ok = np.fromfile(str(out) + ".ok", np.uint8).astype(bool)
        ref = design_reference.constraints(ELEMENTS, **c)
        for row in range(len(raw)):
            expected = design_reference.repair(raw[row], ref)
            assert ok[row] == (expected is not None), f"row {row}, constraints {c}"
            if expected is not None:
                np.testing.assert_array_equal(k[row], expected, err_msg=f"row {row}, constraints {c}")
        k_py, ok_py = apply_constraints(raw, ELEMENTS, _python_constraints(c))
        np.testing.assert_array_equal(ok, ok_py, err_msg=f"constraints {c}")
        np.testing.assert_array_equal(k, k_py, err_msg=f"constraints {c}")
        # What was kept meets every constraint, as printed.
        kk = k[ok]
        assert (kk.sum(1) == 1000).all()
        excluded = [ELEMENTS.index(s) for s in c["excluded"]]
        assert not kk[:, excluded].any()
        if c["max_elements"] is not None:
            assert ((kk > 0).sum(1) <= c["max_elements"]).all()
        f_min = c["min_fraction"] or 0.03  # the default minimum fraction
        for s, (lo, hi) in c["bounds"].items():
            col = kk[:, ELEMENTS.index(s)]
            present = col > 0
            assert (col[present] >= 1000 * (max(lo, f_min) if lo > 0 else 0) - 1e-6).all()
            assert (col[present] <= 1000 * hi + 1e-6).all()
            if lo > 0:
                assert present.all()
        assert (kk[kk > 0] >= np.ceil(1000 * f_min - 1e-9)).all()
        kept_any += int(ok.sum())
    assert kept_any > 0


def test_engine_repair_counts_absent_required_elements_towards_the_maximum(tmp_path):
    """Section 3, step 3: a required element counts towards m even while absent; when the
    others already fill m, the smallest of them is trimmed and the candidate is kept."""
    E = len(ELEMENTS)
    col = {s: ELEMENTS.index(s) for s in ("Mo", "Nb", "Ta", "W", "Ti")}
    rows = np.zeros((3, E))
    rows[0, [col["Mo"], col["Nb"], col["Ta"]]] = (0.4, 0.35, 0.25)  # W (required) absent: Ta goes
    rows[1, [col["Mo"], col["Nb"], col["Ta"]]] = (0.3, 0.3, 0.4)  # a tie: the lower column (Mo) stays
    rows[2, [col["Mo"], col["Nb"], col["W"]]] = (0.4, 0.35, 0.25)  # W present: nothing to trim
    src = tmp_path / "rows.bin"
    rows.tofile(src)
    c = {"maxElements": 3, "bounds": "W=0.1:1", "minFraction": 0.02}
    out = tmp_path / "repaired"
    probe(tmp_path, op="repair", input=str(src), elements=ELEMENTS, threshold=0.005, constraints=c, out=str(out))
    k = np.fromfile(str(out) + ".k", np.int32).reshape(rows.shape)
    ok = np.fromfile(str(out) + ".ok", np.uint8).astype(bool)
    assert ok.all()
    ref = design_reference.constraints(ELEMENTS, max_elements=3, bounds={"W": (0.1, 1.0)}, min_fraction=0.02)
    for i in range(3):
        np.testing.assert_array_equal(k[i], design_reference.repair(rows[i], ref))
    assert [sorted(ELEMENTS[e] for e in np.flatnonzero(r)) for r in k] == [["Mo", "Nb", "W"], ["Mo", "Ta", "W"], ["Mo", "Nb", "W"]]
    # 0.4 / 0.85, 0.35 / 0.85, 0.1 / 0.85 printed
    assert (k[0, col["Mo"]], k[0, col["Nb"]], k[0, col["W"]]) == (470, 412, 118)  # largest remainders: Nb, W
    from hea_zoo.serving.design import apply_constraints

    k_py, ok_py = apply_constraints(rows, ELEMENTS, {"max_elements": 3, "bounds": {"W": (0.1, 1.0)}, "min_fraction": 0.02})
    np.testing.assert_array_equal(k, k_py)
    assert ok_py.all()


@pytest.mark.parametrize(
    "constraints, says",
    [
        ({"allowed": ["Mo", "Nb", "Zz"]}, "elements: unknown element 'Zz'"),
        ({"bounds": "Qq=0:0.1"}, "bounds['Qq']: unknown element 'Qq'"),
        ({"allowed": ["Mo", "Nb"], "excluded": ["Mo", "Nb"]}, "exclude: no element is left"),
        ({"excluded": ["W"], "bounds": "W=0.1:0.5"}, "bounds['W']: W is required (lower bound 0.1) but excluded"),
        ({"allowed": ["Mo", "Nb", "Ta"], "bounds": "W=0.1:0.5"}, "W is required (lower bound 0.1) but excluded or not allowed"),
        ({"bounds": "Al=0.3:0.2"}, "bounds['Al']: the bounds of Al are contradictory: lower 0.3 > upper 0.2."),
        ({"bounds": "Al=0:1.5"}, "bounds['Al']: the bounds of Al must lie in [0, 1]"),
        ({"bounds": "Al=-0.1:0.5"}, "the bounds of Al must lie in [0, 1]"),
        ({"bounds": "Mo=0.6:1,Nb=0.5:1"}, "bounds: the lower bounds sum to 1.1 > 1"),
        ({"allowed": ["Mo", "Nb"], "bounds": "Mo=0:0.4,Nb=0:0.5"}, "upper bounds of the allowed elements sum to 0.9 < 1"),
        ({"maxElements": 0}, "max_elements: must be at least 1"),
        ({"maxElements": 2.5}, "max_elements: must be an integer >= 1"),
        ({"maxElements": 2, "bounds": "Mo=0.1:1,Nb=0.1:1,Ta=0.1:1"}, "max_elements: 2 is below the 3 required elements (Mo, Nb, Ta)"),
        ({"minFraction": 0}, "min_fraction: must lie in (0, 1]"),
        ({"minFraction": 1.5}, "min_fraction: must lie in (0, 1]"),
        ({"minFraction": 0.2, "bounds": "Mo=0.1:0.15"}, "the minimum fraction 0.2 exceeds its upper bound 0.15"),
        ({"bounds": "Al=abc"}, "bounds['Al']: bound 'Al=abc' must be a number. Received: 'abc'"),
        ({"bounds": "Al0.1"}, "bounds: a bound must read SYMBOL=LO:HI"),
    ],
)
def test_engine_rejects_contradictory_constraints_in_one_line(tmp_path, constraints, says):
    (result,) = probe(tmp_path, op="constraints", cases=[constraints], elements=ELEMENTS, threshold=0.005)["results"]
    assert result["error"] is not None, f"{constraints} was accepted"
    assert says in result["error"] and "\n" not in result["error"], result["error"]


def _python_constraint_error(case: dict) -> str:
    from hea_zoo.serving.design import Constraints, TargetError

    names = {"allowed": "elements", "excluded": "exclude", "maxElements": "max_elements", "minFraction": "min_fraction"}
    fields = {names.get(key, key): value for key, value in case.items()}
    if isinstance(fields.get("bounds"), str):
        fields["bounds"] = [b for b in fields["bounds"].split(",") if b]
    with pytest.raises(TargetError) as info:
        Constraints(**fields).resolve(ELEMENTS, 0.005)
    return str(info.value)


BAD_CONSTRAINTS = [
    {"allowed": ["Mo", "Nb", "Zz"]}, {"bounds": "Qq=0:0.1"}, {"allowed": ["Mo", "Nb"], "excluded": ["Mo", "Nb"]},
    {"excluded": ["W"], "bounds": "W=0.1:0.5"}, {"bounds": "Al=0.3:0.2"}, {"bounds": "Al=0:1.5"},
    {"bounds": "Mo=0.6:1,Nb=0.5:1"}, {"allowed": ["Mo", "Nb"], "bounds": "Mo=0:0.4,Nb=0:0.5"},
    {"maxElements": 0}, {"maxElements": 2, "bounds": "Mo=0.1:1,Nb=0.1:1,Ta=0.1:1"}, {"minFraction": 0},
    {"minFraction": 1.5}, {"minFraction": 0.2, "bounds": "Mo=0.1:0.15"}, {"bounds": "Al=0.01:0.02"},
    {"bounds": "Mo=0.01:1,Nb=0.01:1,W=0.95:1"}, {"bounds": "Al=abc"}, {"bounds": "Al0.1"}, {"bounds": "W=0:0.1,W=0:0.2"},
]  # fmt: skip


def test_both_engines_refuse_bad_constraints_with_the_same_error(tmp_path):
    """Section 3's rejections give the same field and message in Python and engine.js."""
    results = probe(tmp_path, op="constraints", cases=BAD_CONSTRAINTS, elements=ELEMENTS, threshold=0.005)["results"]
    for constraints, result in zip(BAD_CONSTRAINTS, results, strict=True):
        assert result["error"] == _python_constraint_error(constraints), constraints


def test_engine_normalizes_valid_constraints(tmp_path):
    cases = [{}, {"minFraction": 0.05, "bounds": "Mo=0.01:0.5, W=0.3"}, {"allowed": "Mo Nb Ta W", "maxElements": 3},
             {"minFraction": 0.005}, {"minFraction": 0.005, "maxElements": 22}, {"minFraction": 0.005, "maxElements": 21}]
    plain, raised, allowed, threshold, all_elements, fewer = probe(
        tmp_path, op="constraints", cases=cases, elements=ELEMENTS, threshold=0.005
    )["results"]  # fmt: skip
    # The defaults of a design request: minimum fraction 0.03, no maximum number of elements.
    assert plain["error"] is None and plain["maxElements"] == 22 and plain["minFraction"] == 0.03
    assert not plain["trivial"]  # the default repair removes elements below 3 at.%
    # The plain request: every element, no bounds, m >= E and the drop threshold.
    assert threshold["trivial"] and all_elements["trivial"] and not fewer["trivial"]
    assert raised["error"] is None and not raised["trivial"]
    assert raised["lo"][ELEMENTS.index("Mo")] == 0.05  # a lower bound below f_min is raised to it
    assert raised["lo"][ELEMENTS.index("W")] == raised["hi"][ELEMENTS.index("W")] == 0.3  # W=0.3: exactly
    assert allowed["error"] is None and sum(allowed["allowed"]) == 4 and allowed["maxElements"] == 3


def test_engine_selection_matches_the_python_reading_of_the_spec(tmp_path):
    rng = fresh_rng()
    E = len(ELEMENTS)
    requests, expected = [], []
    for case in range(5):
        m = int(rng.integers(50, 3000))
        k = rng.multinomial(1000, rng.dirichlet(np.full(E, 0.4)), m)
        # Scores with ties, and a tolerance edge that leaves pools larger and smaller than n.
        scores = np.round(rng.exponential(0.05, m), int(rng.choice([3, 6, 12])))
        tolerance = float(rng.choice([0.001, 0.01, 0.05, 1.0]))
        judged = [{"index": int(i), "k": k[i].tolist(), "score": float(s), "inTolerance": bool(s <= tolerance)}
                  for i, s in enumerate(scores)]  # fmt: skip
        py = [{"index": d["index"], "k": d["k"], "score": d["score"], "in_tolerance": d["inTolerance"]} for d in judged]
        for n in (1, 7, int(rng.integers(10, 60))):
            for how in ("closest", "diverse"):
                requests.append({"op": "select", "judged": judged, "n": n, "select": how, "tolerance": tolerance,
                                 "elements": ELEMENTS})  # fmt: skip
                expected.append((f"case {case}, n={n}, {how}", design_reference.select(py, n, how, tolerance)))
    answers = probe(tmp_path, op="batch", requests=requests)["answers"]
    for answer, (context, chosen) in zip(answers, expected):
        assert answer["indices"] == [d["index"] for d in chosen], context
        systems = {tuple(np.nonzero(np.array(d["k"]) >= 50)[0]) for d in chosen}
        assert answer["systems"] == len(systems), context


def test_engine_discounts_distances_by_score(tmp_path):
    """Section 5 in engine.js: max-sum of cosine distances times (1 - score / tolerance)^1.25.
    Orthogonal candidates that use three quarters of the tolerance (weight 0.18) lose to a nearer one on
    the target; with equal scores the most distant wins; on random pools engine.js takes
    exactly the candidates `hea_zoo.serving.design._max_sum` takes."""
    from hea_zoo.serving import design

    E = len(ELEMENTS)
    k = np.zeros((4, E), np.int64)
    k[0, 0] = k[2, 1] = k[3, 2] = 1000
    k[1, :2] = 500
    requests = []
    for scores in ([0.0, 0.0, 0.0375, 0.0375], [0.0, 0.0, 0.0, 0.0]):
        judged = [{"index": i, "k": k[i].tolist(), "score": s, "inTolerance": True} for i, s in enumerate(scores)]
        requests.append({"op": "select", "judged": judged, "n": 2, "select": "diverse", "tolerance": 0.05,
                         "elements": ELEMENTS})  # fmt: skip
    rng = fresh_rng()
    pools = []
    for _ in range(6):
        size = int(rng.integers(30, 300))
        rows = np.vstack([rng.multinomial(1000, rng.dirichlet(np.full(E, 0.2))) for _ in range(size)])
        # quantized scores: many exact ties in A * w, which go to the earlier pool position
        scores = np.round(rng.uniform(0, 0.05, size), 3 if len(pools) % 2 else 12)
        scores = np.minimum(scores, 0.0499)
        judged = [{"index": i, "k": rows[i].tolist(), "score": float(scores[i]), "inTolerance": True} for i in range(size)]
        requests.append({"op": "select", "judged": judged, "n": 12, "select": "diverse", "tolerance": 0.05,
                         "elements": ELEMENTS})  # fmt: skip
        pools.append((rows, scores))
    answers = probe(tmp_path, op="batch", requests=requests)["answers"]
    discounted, plain = answers[:2]
    assert discounted["indices"] == [0, 1] and plain["indices"] == [0, 2]
    weight = design._discount(np.array([0.0, 0.0, 0.0375, 0.0375]), 0.05)
    assert list(design._max_sum(k, 2, weight)) == [0, 1] and list(design._max_sum(k, 2)) == [0, 2]
    for (rows, scores), answer in zip(pools, answers[2:]):
        order = np.lexsort((np.arange(len(scores)), scores))  # pool order: (score, index)
        taken = order[design._max_sum(rows[order], 12, design._discount(scores[order], 0.05))]
        expected = sorted(taken.tolist(), key=lambda i: (scores[i], i))
        assert answer["indices"] == expected


def test_engine_oracle_matches_hea_zoo(tmp_path):
    """Section 6: the oracle column of engine.js is hea_zoo.data.oracle (its element table
    copied into engine.js), to float64 rounding."""
    from hea_zoo.data import oracle

    rng = fresh_rng()
    E = len(ELEMENTS)
    k = rng.multinomial(1000, rng.dirichlet(np.full(E, 0.3)), 2000)
    k[:, ELEMENTS.index("O")] = np.where(rng.random(2000) < 0.8, 0, k[:, ELEMENTS.index("O")])
    k = k[(np.delete(k, ELEMENTS.index("O"), axis=1)).sum(1) > 0]
    x = np.concatenate([k / 1000, np.delete(np.eye(E), ELEMENTS.index("O"), axis=0)])  # and every pure metal
    src, out = tmp_path / "x.bin", tmp_path / "oracle.bin"
    x.astype(np.float64).tofile(src)
    probe(tmp_path, op="oracle", input=str(src), elements=ELEMENTS, out=str(out))
    values = np.fromfile(out, np.float64).reshape(-1, 2)
    np.testing.assert_allclose(values, oracle.properties(x, ELEMENTS), rtol=1e-12)


def test_engine_writes_numbers_as_hea_zoo_design(tmp_path):
    """Section 6: CSV numbers (`|v| 10^d` rounded half to even, trailing zeros removed, no
    "-0"; nan, inf, -inf), and the `{:.1f}` and `{:g}` of the printed table, as Python."""
    from hea_zoo.serving.design import text

    rng = fresh_rng()
    values = np.concatenate([
        rng.normal(0, 50, 300), rng.normal(0, 1e-4, 100), rng.uniform(-1e6, 1e6, 100),
        rng.normal(60, 20, 200).astype(np.float32).astype(np.float64),  # surrogate values, widened
        np.round(rng.normal(0, 10, 100), 4) + rng.choice([0.00005, -0.00005, 0.05, -0.05], 100),
        [60.03125, 35.0, -0.00001, 0.0, -0.0, 0.00005, 0.00015, 2.5, 0.25, -0.25, 1e-7, 123456.78905,
         999999999999.9, 1e12, 2.5e12, 1e20, -3.5e15, 1e16, np.nan, np.inf, -np.inf],
    ])  # fmt: skip
    src = tmp_path / "values.bin"
    values.astype(np.float64).tofile(src)
    for decimals in (4, 6, 1):
        answer = probe(tmp_path, op="numbers", input=str(src), decimals=decimals)
        assert answer["csv"] == text.piece_strings(text.float_pieces(values, decimals)), decimals
    assert answer["fixed1"] == [f"{v:.1f}" for v in values]
    assert answer["g"] == [f"{v:g}" for v in values]


@pytest.mark.parametrize(
    "options, says",
    [
        ({"target": [60]}, "target: expected 2 target values (shear_modulus, fracture_toughness). Received 1: [60.0]"),
        ({"target": [60, "abc"]}, "target[1]: must be a number. Received: 'abc'"),
        ({"target": [1e39, 35]}, "target[0]: 1e+39 is beyond what the models take"),
        ({"n": 0}, "n: must be a positive integer. Received: 0"),
        ({"seed": 2**32}, "seed: must be an integer in [0, 4294967295]. Received: 4294967296"),
        ({"candidates": -5}, "candidates: must be a positive integer. Received: -5"),
        ({"tolerance": -0.1}, "tolerance: must be a positive number (a relative error, 0.05 = 5 %). Received: -0.1"),
        ({"select": "random"}, "select: must be diverse or closest. Received: 'random'"),
        ({"n": 30, "candidates": 29}, "candidates: 29 is fewer than the 30 designs asked for; each design is a distinct candidate."),
    ],
)
def test_engine_rejects_bad_design_options(tmp_path, options, says):
    metadata = {"elements": ELEMENTS, "condition_names": ["shear_modulus", "fracture_toughness"],
                "condition_units": ["GPa", "MPa*m^0.5"], "latent_dim": "8"}  # fmt: skip
    answer = probe(tmp_path, op="options", options={"metadata": metadata, "target": [60, 35], **options})
    assert answer["error"] is not None and says in answer["error"], answer


BAD_REQUESTS = [
    {"target": [60]}, {"target": [60, "abc"]}, {"target": [1e39, 35]}, {"target": [-5, 35]},
    {"target": {"shear_modulus": 60}}, {"target": {"shear_modulus": -1, "fracture_toughness": 35}},
    {"target": {"shear_modulus": 60, "fracture_toughness": 35, "hardness": 3}},
    {"n": 0}, {"n": -3}, {"n": 2.5}, {"seed": -1}, {"seed": 2**32}, {"candidates": 0}, {"candidates": 2**32 + 1},
    {"n": 30, "candidates": 29}, {"tolerance": 0}, {"tolerance": -0.1}, {"select": "random"}, {"chunk_size": 0},
]  # fmt: skip


def test_both_engines_refuse_a_bad_request_with_the_same_error(tmp_path):
    """The rules of a design request (docs/DESIGN_ENGINE.md, section 0) give the same error,
    field and message in the Python request and in engine.js's checkOptions."""
    from hea_zoo.errors import HeaZooError
    from hea_zoo.serving.design import DesignRequest

    names = ["shear_modulus", "fracture_toughness"]
    metadata = {"elements": ELEMENTS, "condition_names": names, "condition_units": ["GPa", "MPa*m^0.5"], "latent_dim": "8"}
    expected, requests = [], []
    for options in BAD_REQUESTS:
        request = {"target": [60, 35], **options}
        with pytest.raises(HeaZooError) as info:
            DesignRequest(**request).target_values(names, None)
        expected.append(str(info.value))
        js = {("chunkSize" if key == "chunk_size" else key): value for key, value in request.items()}
        requests.append({"op": "options", "options": {"metadata": metadata, **js}})
    answers = probe(tmp_path, op="batch", requests=requests)["answers"]
    assert [a["error"] for a in answers] == expected


# ------------------------------------------------------------------ the whole design


def _random_target(rng, metadata) -> list[float]:
    lo, hi = np.asarray(metadata["condition_range"], np.float64)
    return [round(float(v), 2) for v in rng.uniform(lo + 0.1 * (hi - lo), hi - 0.3 * (hi - lo))]


def _generator_metadata(path) -> dict:
    import onnxruntime as ort

    from hea_zoo.artifact import decode_metadata

    return decode_metadata(dict(ort.InferenceSession(str(path)).get_modelmeta().custom_metadata_map))


def _node_constraint_args(c: dict) -> dict:
    return {
        "excluded": ",".join(c.get("excluded") or []) or None,
        "allowed": ",".join(c["allowed"]) if c.get("allowed") else None,
        "max_elements": c.get("max_elements"),
        "bounds": bounds_text(c["bounds"]) if c.get("bounds") else None,
        "min_fraction": c.get("min_fraction"),
    }


def _python_constraints(c: dict) -> dict | None:
    """The test's constraints as `Designer.design(constraints=...)` takes them."""
    out = {"elements": c.get("allowed"), "exclude": c.get("excluded") or (), "max_elements": c.get("max_elements"),
           "bounds": dict(c.get("bounds") or {}), "min_fraction": c.get("min_fraction")}  # fmt: skip
    return {key: value for key, value in out.items() if value not in (None, (), {})} or None


DESIGN_CASES = [
    ("cvae", "diverse", None),
    ("cae", "closest", None),
    ("wcgan", "diverse", "random"),
    ("cvae", "closest", "random"),
]
#: The same cases on other seeded draws (the test's name, and so its draws, differ).
SWEEP = [
    pytest.param(*case, marks=pytest.mark.slow, id=f"sweep{k}-{case[0]}-{case[1]}-{case[2]}")
    for k in range(1, 6)
    for case in DESIGN_CASES
]


@pytest.mark.parametrize("model, how, constrained", DESIGN_CASES + SWEEP)
def test_node_design_matches_the_python_reading_of_the_spec(example_dir, model, how, constrained):
    """The whole design in Node (onnxruntime-node + engine.js) against tests/support/design_reference.py
    (onnxruntime in Python + hea_zoo.artifact) on the committed models."""
    rng = fresh_rng()
    path = EXPORTED / f"{model}.onnx"
    meta = _generator_metadata(path)
    target = _random_target(rng, meta)
    seed = int(rng.integers(0, 2**32))
    n = int(rng.integers(5, 30))
    # Constrained: a few thousand; plain: 5,000, two chunks of 4,096 (the default count is checked by the
    # tests against `hea-zoo design`).
    candidates = int(rng.integers(300, 3000)) if constrained else 5000
    c = _random_valid_constraints(rng) if constrained else {}
    context = f"model={model} target={target} seed={seed} n={n} candidates={candidates} select={how} constraints={c}"
    try:
        ref = design_reference.design(path, EXPORTED / "surrogate.onnx", target, n, seed, candidates=candidates, how=how,
                                      chunk_size=4096, **{k: v for k, v in c.items() if v is not None})  # fmt: skip
    except design_reference.Infeasible:
        error = node_design(example_dir, path, target, n, seed, candidates=candidates, select=how,
                            expect_error=True, **_node_constraint_args(c))  # fmt: skip
        assert "no candidate satisfies the constraints" in error, context
        return
    node = node_design(example_dir, path, target, n, seed, candidates=candidates, select=how, **_node_constraint_args(c))
    assert node["seed"] == seed and node["noise"] == "hzn1", context
    assert node["candidates"] == candidates, context
    raw = parity.RawSource(path, target, seed, c, ELEMENTS, 0.005)
    why = parity.compare(parity.Run.from_engine("node", node), parity.Run.from_engine("python", ref), raw, 0.05)
    if why is None:
        assert node["systems"] == ref["systems"], context
        assert node["counts"]["distinct"] == ref["unique"] and node["counts"]["valid"] == ref["valid"], context
    else:
        print(f"{context}: the runs part at an edge case: {why}")
    # Every design as the table shows it: printed formula, judged as printed, sorted by score.
    k = np.array([d["k"] for d in node["designs"]])
    assert [d["formula"] for d in node["designs"]] == artifact.formula_strings(k, ELEMENTS)
    assert (k.sum(1) == 1000).all() and len({tuple(r) for r in k}) == len(k)
    scores = [d["score"] for d in node["designs"]]
    assert scores == sorted(scores)
    mean = onnx_outputs(EXPORTED / "surrogate.onnx", {"composition": (k / 1000).astype(np.float32)})["properties"]
    np.testing.assert_allclose([d["mean"] for d in node["designs"]], mean, rtol=1e-5)
    floors = 0.01 * np.ptp(np.asarray(meta["condition_range"]), axis=0)
    np.testing.assert_allclose(scores, artifact.relative_errors(mean, target, floors).mean(1), rtol=1e-5)
    for s, (lo, hi) in (c.get("bounds") or {}).items():
        col = k[:, ELEMENTS.index(s)]
        assert ((col == 0) | ((col >= 1000 * lo - 1e-6) & (col <= 1000 * hi + 1e-6))).all(), context


# ------------------------------------------- engine.js (Node) against `hea-zoo design`


def _python_engine(model, models_dir, target, n, seed, *, candidates=None, select="diverse", tolerance=0.05,
                   constraints=None, out=None):  # fmt: skip
    """`hea-zoo design`'s engine, through its API: `Designer.from_exported(model,
    models_dir).design(...)`; the designer and the `DesignResult`."""
    from hea_zoo.serving.design import Designer

    designer = Designer.from_exported(model, models_dir)
    result = designer.design(target, n=n, seed=seed, candidates=candidates, select=select, tolerance=tolerance,
                             constraints=constraints, out=out)  # fmt: skip
    return designer, result


def _csv_rows(path) -> list[dict]:
    import csv

    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def assert_same_designs(node: dict, designer, result, context: str, *, float_rtol: float = 1e-6) -> None:
    """Node's run (`generate.js --design --json`) gave the designs of `hea-zoo design`'s
    `result`: the same candidates, printed compositions (exact, in thousandths), formulas,
    systems and counts; surrogate numbers, scores and the oracle to float32 tolerance."""
    table = result.table
    k = parity.k_from_fractions(table[ELEMENTS].to_numpy(np.float64))
    designs = node["designs"]
    assert [d["index"] for d in designs] == table["candidate"].tolist(), context
    np.testing.assert_array_equal(np.array([d["k"] for d in designs], np.int64).reshape(k.shape), k, err_msg=context)
    assert [d["formula"] for d in designs] == table["formula"].tolist(), context
    assert [d["system"] for d in designs] == table["system"].tolist(), context
    assert [d["rank"] for d in designs] == table["rank"].tolist(), context
    assert node["systems"] == result.n_systems and node["seed"] == result.seed, context
    assert node["candidates"] == result.n_candidates, context
    counts = node["counts"]
    assert (counts["valid"], counts["distinct"]) == (result.n_valid, result.n_distinct), context
    assert node["hasSurrogate"] == designer.has_surrogate and node["usesOracle"] == designer.uses_oracle, context
    if designer.has_surrogate:
        assert counts["inTolerance"] == result.n_in_tolerance, context
        assert [d["inTolerance"] for d in designs] == table["in_tolerance"].tolist(), context
        for p, name in enumerate(designer.condition_names):
            for key, column in (("mean", "surrogate"), ("lower", "lower"), ("upper", "upper")):
                np.testing.assert_allclose([d[key][p] for d in designs], table[f"{name}_{column}"], rtol=float_rtol,
                                           err_msg=f"{context}: {name}_{column}")  # fmt: skip
        np.testing.assert_allclose([d["score"] for d in designs], table["relative_error_surrogate"], rtol=float_rtol,
                                   atol=1e-12, err_msg=context)  # fmt: skip
    if designer.uses_oracle:
        for p, name in enumerate(designer.condition_names):
            # (JSON writes NaN, no oracle value, as null: float arrays read it back as NaN)
            np.testing.assert_allclose(np.array([d["oracle"][p] for d in designs], float), table[f"{name}_oracle"],
                                       rtol=1e-9, err_msg=context)  # fmt: skip
        np.testing.assert_allclose(np.array([d["oracleError"] for d in designs], float), table["relative_error_oracle"],
                                   rtol=1e-9, atol=1e-12)  # fmt: skip
    assert node["columns"] == list(table.columns), context


def assert_same_csv(node_csv, python_csv, context: str, *, numbers_atol: float = 0.0) -> None:
    """The two CSV files of section 6 (`--out`): the same header and rows; numbers equal
    as written (to `numbers_atol` where the runtimes' float32 may differ), the rest as text."""
    a, b = _csv_rows(node_csv), _csv_rows(python_csv)
    header = Path(node_csv).read_text().splitlines()[0]
    assert header == Path(python_csv).read_text().splitlines()[0], context
    assert len(a) == len(b), context
    numeric = [c for c in header.split(",") if c.endswith(("_surrogate", "_lower", "_upper", "_oracle")) or c == "log_prob"]
    for i, (x, y) in enumerate(zip(a, b)):
        for column in x:
            if column in numeric:
                assert float(x[column]) == pytest.approx(float(y[column]), abs=max(numbers_atol, 1.5e-4), nan_ok=True), (
                    context, i, column)  # fmt: skip
            elif column.startswith("relative_error"):
                assert float(x[column]) == pytest.approx(float(y[column]), abs=1.5e-6, nan_ok=True), (context, i, column)
            else:
                assert x[column] == y[column], (context, i, column)


HEA_ZOO_CASES = [("plain", "diverse"), ("plain", "closest"), ("constrained", "diverse"), ("constrained", "closest")]


@pytest.mark.parametrize("kind, how", HEA_ZOO_CASES)
def test_node_design_matches_hea_zoo_design(example_dir, kind, how, tmp_path):
    """Full-design parity: Node (engine.js) and `hea-zoo design` (hea_zoo.serving.design)
    give the same designs, table and CSV for the same model, target, seed, options and
    constraints. A plain request leaves every option at its default (candidates, minimum
    fraction, tolerance), so the defaults are compared too. Model, target, seed, n and
    constraints are drawn when the test runs."""
    rng = fresh_rng()
    model = str(rng.choice(["cae", "cvae", "wcgan"]))
    path = EXPORTED / f"{model}.onnx"
    target, seed, n = _random_target(rng, _generator_metadata(path)), int(rng.integers(0, 2**32)), int(rng.integers(5, 31))
    candidates, c = None, {}
    if kind == "constrained":
        candidates = int(rng.integers(max(n, 500), 3000))
        c = _random_valid_constraints(rng)
        if rng.random() < 0.3:
            free = sorted(set(ELEMENTS) - set(c["excluded"]) - set(c["bounds"]))
            c["allowed"] = sorted(set(ELEMENTS) - set(c["excluded"]) - set(rng.choice(free, 3, replace=False)))
    context = f"model={model} target={target} seed={seed} n={n} candidates={candidates} select={how} constraints={c}"
    node_out, py_out = tmp_path / "node.csv", tmp_path / "python.csv"
    from hea_zoo.serving.design import InfeasibleError

    try:
        designer, result = _python_engine(model, EXPORTED, target, n, seed, candidates=candidates, select=how,
                                           constraints=_python_constraints(c), out=py_out)  # fmt: skip
    except InfeasibleError as err:
        error = node_design(example_dir, path, target, n, seed, candidates=candidates, select=how, expect_error=True,
                            **_node_constraint_args(c))  # fmt: skip
        assert error == f"error: {err}", context
        return
    node = node_design(example_dir, path, target, n, seed, candidates=candidates, select=how, out=node_out,
                       **_node_constraint_args(c))  # fmt: skip
    assert_same_designs(node, designer, result, context)
    assert node["notes"] == result.notes, context
    assert_same_csv(node_out, py_out, context)
    from hea_zoo.serving.design import format_table

    assert node["table"] == format_table(result, designer), context
    print(f"\n{context}: {len(node['designs'])} designs, {node['systems']} systems, identical")


def test_node_design_without_a_surrogate_matches_hea_zoo_design(example_dir, tmp_path):
    """No surrogate beside the generator: candidates are not judged (every score 0, all in
    tolerance), in both engines; the table and CSV leave the surrogate columns out."""
    rng = fresh_rng()
    model = str(rng.choice(["cae", "cvae", "wcgan"]))
    shutil.copy(EXPORTED / f"{model}.onnx", tmp_path / f"{model}.onnx")
    target, seed, n = _random_target(rng, _generator_metadata(tmp_path / f"{model}.onnx")), int(rng.integers(0, 2**32)), 12
    how = str(rng.choice(["diverse", "closest"]))
    designer, result = _python_engine(model, tmp_path, target, n, seed, select=how, out=tmp_path / "python.csv")
    assert not designer.has_surrogate
    node = node_design(example_dir, tmp_path / f"{model}.onnx", target, n, seed, select=how, out=tmp_path / "node.csv")
    context = f"no surrogate: model={model} target={target} seed={seed} select={how}"
    assert_same_designs(node, designer, result, context)
    assert not any(column.endswith("_surrogate") for column in node["columns"])
    assert node["notes"] == result.notes, context
    assert all(d["score"] == 0 for d in node["designs"])
    assert any(note.startswith("no surrogate found") for note in node["notes"])
    assert_same_csv(tmp_path / "node.csv", tmp_path / "python.csv", context)


def _with_log_density(model: str, folder: Path) -> Path:
    """A copy of an exported generator (and the surrogate) in `folder` whose metadata names a
    log-density model beside it (`log_prob_model`): a small ONNX graph of `composition` and
    `condition`, log p = composition . w + condition . v (nats; a stand-in for a density)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    generator = onnx.load(str(EXPORTED / f"{model}.onnx"))
    entry = generator.metadata_props.add()
    entry.key, entry.value = "log_prob_model", "density.onnx"
    onnx.save(generator, str(folder / f"{model}.onnx"))
    shutil.copy(EXPORTED / "surrogate.onnx", folder / "surrogate.onnx")
    w = np.linspace(-3.0, 2.0, len(ELEMENTS)).astype(np.float32)
    v = np.array([0.01, -0.02], np.float32)
    graph = helper.make_graph(
        [helper.make_node("Mul", ["composition", "w"], ["cw"]), helper.make_node("Mul", ["condition", "v"], ["cv"]),
         helper.make_node("ReduceSum", ["cw", "axis"], ["a"], keepdims=0),
         helper.make_node("ReduceSum", ["cv", "axis"], ["b"], keepdims=0), helper.make_node("Add", ["a", "b"], ["log_prob"])],
        "density",
        [helper.make_tensor_value_info("composition", TensorProto.FLOAT, [None, len(ELEMENTS)]),
         helper.make_tensor_value_info("condition", TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor_value_info("log_prob", TensorProto.FLOAT, [None])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(v, "v"), numpy_helper.from_array(np.array([1], np.int64), "axis")],
    )  # fmt: skip
    density = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    density.ir_version = generator.ir_version
    onnx.save(density, str(folder / "density.onnx"))
    return folder / f"{model}.onnx"


def test_node_design_log_prob_matches_hea_zoo_design(example_dir, tmp_path):
    """A generator with a log-density model: the `log_prob` column (section 6) in the table,
    the CSV and the printed table, as `hea-zoo design` writes it."""
    from hea_zoo.serving.design import format_table

    rng = fresh_rng()
    path = _with_log_density("cvae", tmp_path)
    target, seed = _random_target(rng, _generator_metadata(path)), int(rng.integers(0, 2**32))
    designer, result = _python_engine("cvae", tmp_path, target, 8, seed, out=tmp_path / "python.csv")
    assert "log_prob" in result.table.columns
    node = node_design(example_dir, path, target, 8, seed, out=tmp_path / "node.csv")
    context = f"log_prob: target={target} seed={seed}"
    assert_same_designs(node, designer, result, context)
    np.testing.assert_allclose([d["logProb"] for d in node["designs"]], result.table["log_prob"], rtol=1e-6)
    assert_same_csv(tmp_path / "node.csv", tmp_path / "python.csv", context)
    assert node["table"] == format_table(result, designer) and "log p" in node["table"].splitlines()[1]


@pytest.mark.parametrize("source", ["committed", pytest.param("tiny", marks=pytest.mark.slow)])
def test_node_design_with_the_flow_matches_hea_zoo_design(source, request, example_dir, tmp_path):
    """The flow, exported with its `flow_log_prob.onnx` (the committed one, or a tiny
    training): Node designs with it as `hea-zoo design --model flow` does, with the flow's
    own log-density as `log_prob`."""
    from hea_zoo.serving.design import format_table

    if source == "committed":
        if "flow" not in committed_names():
            pytest.skip("exported/ predates the flow: re-export with `hea-zoo export --all --out exported`")
        root = EXPORTED
    else:
        root = request.getfixturevalue("flow_exported")[0]
    for name in ("flow.onnx", "flow_log_prob.onnx", "surrogate.onnx"):
        shutil.copy(root / name, tmp_path / name)
    rng = fresh_rng()
    path = tmp_path / "flow.onnx"
    target, seed = _random_target(rng, _generator_metadata(path)), int(rng.integers(0, 2**32))
    how = str(rng.choice(["diverse", "closest"]))
    designer, result = _python_engine("flow", tmp_path, target, 10, seed, select=how, candidates=1000,
                                      out=tmp_path / "python.csv")  # fmt: skip
    assert designer.log_prob_path == tmp_path / "flow_log_prob.onnx"
    node = node_design(example_dir, path, target, 10, seed, select=how, candidates=1000, out=tmp_path / "node.csv")
    context = f"flow: target={target} seed={seed} select={how}"
    assert_same_designs(node, designer, result, context)
    np.testing.assert_allclose([d["logProb"] for d in node["designs"]], result.table["log_prob"], rtol=1e-5)
    assert_same_csv(tmp_path / "node.csv", tmp_path / "python.csv", context)
    assert node["table"] == format_table(result, designer), context


def test_node_design_edge_requests_match_hea_zoo_design(example_dir, tmp_path):
    """An infeasible request is an error naming the constraints and the candidates tried;
    fewer distinct candidates than n return them all with a note, in both engines."""
    from hea_zoo.serving.design import InfeasibleError, format_table

    rng = fresh_rng()
    seed = int(rng.integers(0, 2**32))
    path = EXPORTED / "cvae.onnx"
    # Ta exactly 0.3337: no printed composition (integers in thousandths) can meet it.
    with pytest.raises(InfeasibleError) as info:
        _python_engine("cvae", EXPORTED, [60.0, 35.0], 10, seed, constraints={"bounds": {"Ta": (0.3337, 0.3337)}})
    # The example's own command line, exit code 5 (the other cases run in the Node server).
    error = node_design(example_dir, path, [60.0, 35.0], 10, seed, bounds="Ta=0.3337:0.3337", expect_error=True,
                        cli=True)  # fmt: skip
    assert error == f"error: {info.value}"
    assert error.startswith("error: no candidate satisfies the constraints (Ta 0.3337-0.3337; min fraction 0.03) among 32,000 ")
    # Mo and Nb fixed at 0.5: every candidate prints Mo0.5Nb0.5, one distinct design.
    how = str(rng.choice(["diverse", "closest"]))
    designer, result = _python_engine("cvae", EXPORTED, [60.0, 35.0], 30, seed, select=how,
                                      constraints={"bounds": {"Mo": (0.5, 0.5), "Nb": (0.5, 0.5)}})  # fmt: skip
    node = node_design(example_dir, path, [60.0, 35.0], 30, seed, select=how, bounds="Mo=0.5:0.5,Nb=0.5:0.5")
    assert [d["formula"] for d in node["designs"]] == ["Mo0.5Nb0.5"] and result.n_designs == 1
    assert_same_designs(node, designer, result, f"one distinct design, seed={seed} select={how}")
    assert node["notes"] == result.notes and any(note.startswith("only 1 distinct") for note in node["notes"])
    # O fixed at 1: every candidate prints O1, which the oracle cannot judge (no metal):
    # both engines return it with no oracle values ("–" in the table, nan in the CSV).
    designer, result = _python_engine("cvae", EXPORTED, [60.0, 35.0], 5, seed, select=how,
                                      constraints={"bounds": {"O": (1.0, 1.0)}}, out=tmp_path / "python.csv")  # fmt: skip
    node = node_design(example_dir, path, [60.0, 35.0], 5, seed, select=how, bounds="O=1:1", out=tmp_path / "node.csv")
    assert [d["formula"] for d in node["designs"]] == ["O1"] and result.n_designs == 1
    assert np.isnan(result.table["shear_modulus_oracle"]).all()
    assert_same_designs(node, designer, result, f"oxygen alone, seed={seed} select={how}")
    assert_same_csv(tmp_path / "node.csv", tmp_path / "python.csv", "oxygen alone")
    assert node["table"] == format_table(result, designer)
    assert node["table"].splitlines()[2].split().count("–") == 2  # G and K oracle

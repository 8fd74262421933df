"""The JavaScript design engine (examples/web/engine.js) and the Node.js example
(examples/onnx_node) give the numbers Python gives.

Seeds, targets and rows are drawn when the test runs (`SEEDS`, printed on failure), so
every run checks parity on data no earlier run saw.
"""

from __future__ import annotations

import json
import secrets
import subprocess

import numpy as np
import pytest

import hea_zoo
from hea_zoo import artifact
from hea_zoo.serving import export
from tests import design_reference, parity
from tests.export_helpers import (
    EXPORTED,
    GENERATOR_NAMES,
    TOLERANCE,
    keras_outputs,
    onnx_outputs,
    train_tiny_models,
)
from tests.node_examples import NODE, NPM, bounds_text, interval_surrogate, node_design, onnx_node_example, probe

pytestmark = pytest.mark.skipif(
    NODE is None or NPM is None,
    reason="node and npm are needed to run examples/onnx_node (not found on PATH)",
)

ELEMENTS = list(hea_zoo.ELEMENTS)
SEEDS = np.random.SeedSequence(secrets.randbits(64))  # the run's randomness, one entropy value


def fresh_rng() -> np.random.Generator:
    (child,) = SEEDS.spawn(1)
    return np.random.default_rng(child)


def _mix32(x):
    return artifact._mix32(np.asarray(x, np.uint32))


@pytest.fixture(scope="module")
def example_dir(tmp_path_factory):
    return onnx_node_example(tmp_path_factory)


def run_node(example_dir, *args: str, json_output: bool = True):
    command = [NODE, str(example_dir / "generate.js"), *args] + (["--json"] if json_output else [])
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{command} failed:\n{done.stderr}"
    return json.loads(done.stdout) if json_output else done.stdout


@pytest.fixture(scope="module")
def dataset():
    return hea_zoo.load_dataset()


@pytest.fixture(scope="module")
def exported(dataset, tmp_path_factory):
    models = train_tiny_models(dataset)
    root = tmp_path_factory.mktemp("exported")
    for name in GENERATOR_NAMES:
        export.export_model(models[name], root, name)
    return root, models


# ------------------------------------------------------------------ the Node example


@pytest.mark.parametrize("name", GENERATOR_NAMES)
def test_node_matches_python_for_the_same_z(name, exported, example_dir, tmp_path):
    root, models = exported
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
        json_output=False,
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
    "args, says",
    [
        (["--bounds", "W=0.6:0.7,Mo=0.5:1"], "the lower bounds sum to 1.1 > 1"),
        (["--exclude", "Xx"], 'unknown element "Xx"'),
        (["--max-elements", "0"], "maximum number of elements must be an integer >= 1"),
        (["--seed", "-1"], "--seed must be an integer in [0, 4294967295]"),
        (["--select", "best"], 'select must be "diverse" or "closest"'),
    ],
)
def test_node_design_rejects_a_bad_request_in_one_line(example_dir, args, says):
    done = subprocess.run(
        [NODE, str(example_dir / "generate.js"), "--design", "--model", str(EXPORTED / "cvae.onnx"),
         "--target", "60,35", *args], capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    first = done.stderr.splitlines()[0]
    assert first.startswith("error: ") and says in first, done.stderr


def test_node_design_shows_the_surrogate_interval_when_it_has_one(example_dir, tmp_path):
    """A surrogate with `properties_lower`/`properties_upper` (metadata `coverage`) is shown
    with its interval; without them, mean ± std."""
    surrogate = interval_surrogate(EXPORTED / "surrogate.onnx", tmp_path / "surrogate.onnx")
    model = str(EXPORTED / "cvae.onnx")
    common = ["--design", "--model", model, "--target", "60,35", "--n", "4", "--seed", "3"]
    with_interval = run_node(example_dir, *common, "--surrogate", str(surrogate))
    plain = run_node(example_dir, *common)
    assert with_interval["coverage"] == 0.9 and plain["coverage"] is None
    assert [d["formula"] for d in with_interval["designs"]] == [d["formula"] for d in plain["designs"]]
    for d in with_interval["designs"]:
        mean, std, lower, upper = (np.array(d[key]) for key in ("mean", "std", "lower", "upper"))
        np.testing.assert_allclose(lower, mean - 1.6448536 * std, rtol=1e-5)
        np.testing.assert_allclose(upper, mean + 1.6448536 * std, rtol=1e-5)
        assert (lower < mean).all() and (mean < upper).all()
    assert all(d.get("lower") is None for d in plain["designs"])
    text = run_node(example_dir, *common, "--surrogate", str(surrogate), json_output=False)
    first = text.splitlines()[1]
    d = with_interval["designs"][0]
    assert f"{d['mean'][0]:.1f} [{d['lower'][0]:.2f}, {d['upper'][0]:.2f}]" in first
    assert "±" in run_node(example_dir, *common, json_output=False).splitlines()[1]


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
    symbols = list(rng.permutation(ELEMENTS))
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
        "min_fraction": float(rng.choice([0.005, 0.01, 0.02, 0.03])) if rng.random() < 0.7 else None,
        "allowed": None,
    }


def _js_constraints(c: dict) -> dict:
    return {"excluded": c["excluded"], "maxElements": c["max_elements"], "bounds": {s: list(b) for s, b in c["bounds"].items()},
            "minFraction": c["min_fraction"], "allowed": c["allowed"]}  # fmt: skip


def test_engine_repair_matches_the_python_reading_of_the_spec(tmp_path):
    rng = fresh_rng()
    E = len(ELEMENTS)
    logits = rng.normal(0, 2.5, (1500, E))
    raw = (np.exp(logits) / np.exp(logits).sum(1, keepdims=True)).astype(np.float32).astype(np.float64)
    src = tmp_path / "raw.bin"
    raw.tofile(src)
    kept_any = 0
    for case in range(6):
        c = _random_valid_constraints(rng)
        out = tmp_path / "repaired"
        probe(tmp_path, op="repair", input=str(src), elements=ELEMENTS, threshold=0.005, constraints=_js_constraints(c), out=str(out))
        k = np.fromfile(str(out) + ".k", np.int32).reshape(raw.shape)
        ok = np.fromfile(str(out) + ".ok", np.uint8).astype(bool)
        ref = design_reference.constraints(ELEMENTS, **c)
        for i in range(len(raw)):
            expected = design_reference.repair(raw[i], ref)
            assert ok[i] == (expected is not None), f"row {i}, constraints {c}"
            if expected is not None:
                np.testing.assert_array_equal(k[i], expected, err_msg=f"row {i}, constraints {c}")
        # What was kept meets every constraint, as printed.
        kk = k[ok]
        assert (kk.sum(1) == 1000).all()
        excluded = [ELEMENTS.index(s) for s in c["excluded"]]
        assert not kk[:, excluded].any()
        if c["max_elements"] is not None:
            assert ((kk > 0).sum(1) <= c["max_elements"]).all()
        f_min = c["min_fraction"] or 0.005
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


@pytest.mark.parametrize(
    "constraints, says",
    [
        ({"allowed": ["Mo", "Nb", "Zz"]}, 'unknown element "Zz"'),
        ({"bounds": "Qq=0:0.1"}, 'unknown element "Qq"'),
        ({"allowed": ["Mo", "Nb"], "excluded": ["Mo", "Nb"]}, "the allowed set is empty"),
        ({"excluded": ["W"], "bounds": "W=0.1:0.5"}, "W has a lower bound 0.1 but is excluded"),
        ({"allowed": ["Mo", "Nb", "Ta"], "bounds": "W=0.1:0.5"}, "W has a lower bound 0.1 but is excluded or not allowed"),
        ({"bounds": "Al=0.3:0.2"}, "lower 0.3 exceeds upper 0.2"),
        ({"bounds": "Al=0:1.5"}, "bounds of Al must lie in [0, 1]"),
        ({"bounds": "Al=-0.1:0.5"}, "bounds of Al must lie in [0, 1]"),
        ({"bounds": "Mo=0.6:1,Nb=0.5:1"}, "the lower bounds sum to 1.1 > 1"),
        ({"allowed": ["Mo", "Nb"], "bounds": "Mo=0:0.4,Nb=0:0.5"}, "upper bounds of the allowed elements sum to 0.9 < 1"),
        ({"maxElements": 0}, "must be an integer >= 1"),
        ({"maxElements": 2.5}, "must be an integer >= 1"),
        ({"maxElements": 2, "bounds": "Mo=0.1:1,Nb=0.1:1,Ta=0.1:1"}, "maximum number of elements (2) is below the 3 elements"),
        ({"minFraction": 0}, "the minimum fraction must lie in (0, 1]"),
        ({"minFraction": 1.5}, "the minimum fraction must lie in (0, 1]"),
        ({"minFraction": 0.2, "bounds": "Mo=0.1:0.15"}, "the minimum fraction 0.2 exceeds the upper bound 0.15"),
        ({"bounds": "Al=abc"}, "is not a number"),
        ({"bounds": "Al0.1"}, "must read SYMBOL=LO:HI"),
    ],
)
def test_engine_rejects_contradictory_constraints_in_one_line(tmp_path, constraints, says):
    (result,) = probe(tmp_path, op="constraints", cases=[constraints], elements=ELEMENTS, threshold=0.005)["results"]
    assert result["error"] is not None, f"{constraints} was accepted"
    assert says in result["error"] and "\n" not in result["error"], result["error"]


def test_engine_normalizes_valid_constraints(tmp_path):
    cases = [{}, {"minFraction": 0.05, "bounds": "Mo=0.01:0.5, W=0.3"}, {"allowed": "Mo Nb Ta W", "maxElements": 3}]
    plain, raised, allowed = probe(tmp_path, op="constraints", cases=cases, elements=ELEMENTS, threshold=0.005)["results"]
    assert plain["error"] is None and plain["trivial"] and plain["maxElements"] == 22 and plain["minFraction"] == 0.005
    assert raised["error"] is None and not raised["trivial"]
    assert raised["lo"][ELEMENTS.index("Mo")] == 0.05  # a lower bound below f_min is raised to it
    assert raised["lo"][ELEMENTS.index("W")] == raised["hi"][ELEMENTS.index("W")] == 0.3  # W=0.3: exactly
    assert allowed["error"] is None and sum(allowed["allowed"]) == 4 and allowed["maxElements"] == 3


def test_engine_selection_matches_the_python_reading_of_the_spec(tmp_path):
    rng = fresh_rng()
    E = len(ELEMENTS)
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
                answer = probe(tmp_path, op="select", judged=judged, n=n, select=how, elements=ELEMENTS)
                expected = design_reference.select(py, n, how)
                assert answer["indices"] == [d["index"] for d in expected], f"case {case}, n={n}, {how}"
                systems = {tuple(np.nonzero(np.array(d["k"]) >= 50)[0]) for d in expected}
                assert answer["systems"] == len(systems)


@pytest.mark.parametrize(
    "options, says",
    [
        ({"target": [60]}, "target must be 2 numbers"),
        ({"target": [60, "abc"]}, "target fracture_toughness must be a finite number"),
        ({"target": [1e39, 35]}, "target shear_modulus = 1e+39 is too large"),
        ({"n": 0}, "the number of designs must be an integer"),
        ({"seed": 2**32}, "seed must be an integer in [0, 4294967295]"),
        ({"candidates": -5}, "candidates must be an integer"),
        ({"tolerance": -0.1}, "tolerance must be a positive number"),
        ({"select": "random"}, 'select must be "diverse" or "closest"'),
    ],
)
def test_engine_rejects_bad_design_options(tmp_path, options, says):
    metadata = {"elements": ELEMENTS, "condition_names": ["shear_modulus", "fracture_toughness"],
                "condition_units": ["GPa", "MPa*m^0.5"], "latent_dim": "8"}  # fmt: skip
    answer = probe(tmp_path, op="options", options={"metadata": metadata, "target": [60, 35], **options})
    assert answer["error"] is not None and says in answer["error"], answer


# ------------------------------------------------------------------ the whole design


def _random_target(rng, metadata) -> list[float]:
    lo, hi = np.asarray(metadata["condition_range"], np.float64)
    return [round(float(v), 2) for v in rng.uniform(lo + 0.1 * (hi - lo), hi - 0.3 * (hi - lo))]


DESIGN_CASES = [
    ("cvae", "diverse", None),
    ("cae", "closest", None),
    ("wcgan", "diverse", "random"),
    ("cvae", "closest", "random"),
]


@pytest.mark.parametrize("model, how, constrained", DESIGN_CASES)
def test_node_design_matches_the_python_reading_of_the_spec(example_dir, model, how, constrained):
    """The whole design in Node (onnxruntime-node + engine.js) against tests/design_reference.py
    (onnxruntime in Python + hea_zoo.artifact) on the committed models."""
    rng = fresh_rng()
    from hea_zoo.artifact import decode_metadata
    import onnxruntime as ort

    path = EXPORTED / f"{model}.onnx"
    meta = decode_metadata(dict(ort.InferenceSession(str(path)).get_modelmeta().custom_metadata_map))
    target = _random_target(rng, meta)
    seed = int(rng.integers(0, 2**32))
    n = int(rng.integers(5, 30))
    candidates = int(rng.integers(300, 3000))
    c = _random_valid_constraints(rng) if constrained else {}
    node = node_design(
        example_dir, path, target, n, seed, candidates=candidates, select=how,
        excluded=",".join(c.get("excluded", [])) or None, max_elements=c.get("max_elements"),
        bounds=bounds_text(c["bounds"]) if c.get("bounds") else None, min_fraction=c.get("min_fraction"),
    )  # fmt: skip
    ref = design_reference.design(path, EXPORTED / "surrogate.onnx", target, n, seed, candidates=candidates, how=how,
                                  chunk_size=4096, **{k: v for k, v in c.items() if v is not None})  # fmt: skip
    context = f"model={model} target={target} seed={seed} n={n} candidates={candidates} select={how} constraints={c}"
    assert node["seed"] == seed and node["noise"] == "hzn1" and node["candidates"] == candidates
    if not ref["designs"]:  # constraints no candidate met
        assert not node["designs"], context
        return
    raw = parity.RawSource(path, target, seed, c, ELEMENTS, 0.005)
    why = parity.compare(parity.Run.from_engine("node", node), parity.Run.from_engine("python", ref), raw, 0.05)
    if why is None:
        assert node["systems"] == ref["systems"], context
        assert node["counts"]["unique"] == ref["unique"], context
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


def _python_engine_designs(model, target, n, seed, candidates, select, tolerance, constraints):
    """`hea-zoo design`'s engine (hea_zoo.serving.design): the formulas and fractions of its
    table, in order. The one place to adapt if that API differs from the one assumed here."""
    from hea_zoo.serving.design import Designer

    designer = Designer.from_exported(model, EXPORTED)
    result = designer.design(target, n=n, seed=seed, candidates=candidates, select=select, tolerance=tolerance,
                             constraints=constraints)  # fmt: skip
    table = result if hasattr(result, "columns") else getattr(result, "table", None)
    if table is None and isinstance(result, tuple):
        table = result[0]
    return list(table["formula"]), table[ELEMENTS].to_numpy(np.float64)


def _python_engine_available() -> bool:
    try:
        import hea_zoo.serving.design  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(not _python_engine_available(), reason="needs the design engine (hea_zoo.serving.design)")
@pytest.mark.parametrize("constrained", [False, True])
def test_node_design_matches_hea_zoo_design(example_dir, constrained):
    """Full-design parity: Node (engine.js) and `hea-zoo design` (hea_zoo.serving.design)
    give the same designs for the same model, target, seed, options and constraints."""
    rng = fresh_rng()
    model, how = ("cvae", "diverse") if not constrained else ("wcgan", "closest")
    import onnxruntime as ort
    from hea_zoo.artifact import decode_metadata

    path = EXPORTED / f"{model}.onnx"
    meta = decode_metadata(dict(ort.InferenceSession(str(path)).get_modelmeta().custom_metadata_map))
    target, seed, n, candidates = _random_target(rng, meta), int(rng.integers(0, 2**32)), 20, 1000
    c = {"excluded": ["Al", "V"], "max_elements": 6, "bounds": {"W": (0.05, 0.4)}, "min_fraction": 0.02} if constrained else {}
    node = node_design(
        example_dir, path, target, n, seed, candidates=candidates, select=how, tolerance=0.05,
        excluded=",".join(c.get("excluded", [])) or None, max_elements=c.get("max_elements"),
        bounds=bounds_text(c["bounds"]) if c.get("bounds") else None, min_fraction=c.get("min_fraction"),
    )  # fmt: skip
    formulas, fractions = _python_engine_designs(model, target, n, seed, candidates, how, 0.05, c or None)
    py = parity.Run("hea-zoo design", [None] * len(formulas), parity.k_from_fractions(fractions))
    raw = parity.RawSource(path, target, seed, c, ELEMENTS, 0.005)
    why = parity.compare(parity.Run.from_engine("node", node), py, raw, 0.05)
    if why is None:
        assert formulas == [d["formula"] for d in node["designs"]]
    else:
        print(f"target={target} seed={seed}: the runs part at an edge case: {why}")

"""The Node.js example (examples/onnx_node) gives the numbers Python gives for the same z."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

import hea_zoo
from hea_zoo.serving import export
from tests.export_helpers import (
    EXPORTED,
    GENERATOR_NAMES,
    REPO,
    TOLERANCE,
    keras_outputs,
    onnx_outputs,
    train_tiny_models,
)

EXAMPLE = REPO / "examples" / "onnx_node"
NODE = shutil.which("node")
NPM = shutil.which("npm")

pytestmark = pytest.mark.skipif(
    NODE is None or NPM is None,
    reason="node and npm are needed to run examples/onnx_node (not found on PATH)",
)


@pytest.fixture(scope="module")
def example_dir(tmp_path_factory):
    """The example with onnxruntime-node installed: in place if already installed,
    otherwise installed into a temporary copy (`npm install --ignore-scripts`: the
    package's install script would download a binary the package already contains)."""
    if (EXAMPLE / "node_modules" / "onnxruntime-node").is_dir():
        return EXAMPLE
    copy = tmp_path_factory.mktemp("onnx_node")
    for name in ("package.json", "package-lock.json", "generate.js"):
        shutil.copy(EXAMPLE / name, copy / name)
    done = subprocess.run(
        [NPM, "install", "--ignore-scripts", "--no-audit", "--no-fund"],
        cwd=copy, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, f"npm install failed:\n{done.stdout}\n{done.stderr}"
    return copy


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
    # Metadata as Python reads it; formulas as hea_zoo.data.composition.to_formula writes them.
    assert out["metadata"]["elements"] == list(hea_zoo.ELEMENTS)
    assert out["metadata"]["latent_dim"] == str(model.latent_dim)
    assert out["condition_units"] == ["GPa", "MPa*m^0.5"]
    assert out["formulas"] == hea_zoo.to_formulas(node.astype(np.float64))


def test_node_seeded_noise_is_printed_and_reproducible(exported, example_dir):
    root, _ = exported
    path = str(root / "cvae.onnx")
    a = run_node(example_dir, "--model", path, "--target", "60,20", "--n", "5", "--seed", "7")
    b = run_node(example_dir, "--model", path, "--target", "60,20", "--n", "5", "--seed", "7")
    c = run_node(example_dir, "--model", path, "--target", "60,20", "--n", "5", "--seed", "8")
    assert a == b and a["z"] != c["z"]
    z = np.asarray(a["z"], np.float32)
    assert z.shape == (5, 8) and abs(float(z.mean())) < 1.5
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

"""Exports: parity across Keras, SavedModel and ONNX, names, metadata, atomic writes,
refusals, and the committed artifacts in exported/."""

from __future__ import annotations

import json
import re

import keras
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import tensorflow as tf

import hea_zoo
from hea_zoo.models import calibration
from hea_zoo.errors import UsageError
from hea_zoo.models.calibration import calibration_method
from hea_zoo.serving import export
from hea_zoo.models import CVAE, Surrogate
from hea_zoo.models.base import MODEL_VERSION  # the generators' layout
from hea_zoo.models.surrogate import SURROGATE_MODEL_VERSION  # the surrogate's
from tests.support import ROOT
from tests.support.exports import (
    ALL_NAMES,
    EXPORTED,
    STUDY_NAMES,
    TOLERANCE,
    generator_inputs,
    keras_outputs,
    max_abs_diff,
    max_rel_diff,
    onnx_outputs,
    saved_model_outputs,
    committed_names,
    train_tiny_models,
)


@pytest.fixture(scope="module")
def dataset():
    return hea_zoo.load_dataset()


@pytest.fixture(scope="module")
def models(dataset):
    return train_tiny_models(dataset)


@pytest.fixture(scope="module")
def exports(models, tmp_path_factory):
    root = tmp_path_factory.mktemp("exported")
    return root, {name: export.export_model(model, root, name) for name, model in models.items()}


TINY_NAMES = (*STUDY_NAMES, "surrogate")  # the flow's export parity: tests/models/test_flow.py


def inputs_for(name, model, dataset) -> dict[str, np.ndarray]:
    if name == "surrogate":
        x = np.concatenate([dataset.test.compositions, np.full((1, 22), 1 / 22, np.float32)])
        return {"composition": x.astype(np.float32)}
    z, c = generator_inputs(model, dataset)
    return {"z": z, "condition": c}


def tree(root) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def leftovers(root) -> list[str]:
    """Hidden temporary files and folders (hea_zoo.files names them ``.<name>.<hex>.tmp...``)."""
    return [p.name for p in root.rglob("*") if p.name.startswith(".") and ".tmp" in p.name]


# --------------------------------------------------------------------------- parity


@pytest.mark.parametrize("name", TINY_NAMES)
def test_parity_keras_saved_model_onnx(name, models, exports, dataset):
    root, results = exports
    model, result = models[name], results[name]
    inputs = inputs_for(name, model, dataset)
    expected = keras_outputs(model, inputs)
    from_saved = saved_model_outputs(result.saved_model, inputs)
    from_onnx = onnx_outputs(result.onnx, inputs)
    if name == "surrogate":  # GPa-sized outputs: float32 agreement is relative
        assert max_rel_diff(expected, from_saved) <= TOLERANCE
        assert max_rel_diff(expected, from_onnx) <= TOLERANCE
        assert np.all(from_onnx["properties"] > 0) and np.all(from_onnx["properties_std"] >= 0)
        # The calibrated interval travels with the export and brackets the prediction.
        lower, upper = from_onnx["properties_lower"], from_onnx["properties_upper"]
        assert np.all(np.isfinite(lower)) and np.all(lower <= from_onnx["properties"])
        assert np.all(upper >= from_onnx["properties"])
        # ... with the fitted spread exponent applied in the graph (Pow), not only power 1.
        assert np.all(np.isfinite(model.interval_power.numpy())) and not np.allclose(model.interval_power.numpy(), 1.0)
        mean, lower_k, upper_k = model.predict_interval(inputs["composition"])
        np.testing.assert_allclose(from_saved["properties_lower"], lower_k, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(from_onnx["properties_upper"], upper_k, rtol=1e-5, atol=1e-5)
    else:
        assert max_abs_diff(expected, from_saved) <= TOLERANCE
        assert max_abs_diff(expected, from_onnx) <= TOLERANCE
        x = from_onnx["composition"]
        assert x.shape == (len(inputs["z"]), len(model.elements))
        assert np.all(x >= 0) and np.allclose(x.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("name", STUDY_NAMES)
def test_exports_follow_the_noise_input(name, exports, models, dataset):
    """Same z, same output; different z, different output (the noise is an input)."""
    _, results = exports
    inputs = inputs_for(name, models[name], dataset)
    a = onnx_outputs(results[name].onnx, inputs)["composition"]
    b = onnx_outputs(results[name].onnx, inputs)["composition"]
    np.testing.assert_array_equal(a, b)
    moved = dict(inputs, z=inputs["z"] + 1.0)
    assert not np.allclose(a, onnx_outputs(results[name].onnx, moved)["composition"])


# ------------------------------------------------------------------- names and metadata


@pytest.mark.parametrize("name", TINY_NAMES)
def test_signature_and_onnx_names(name, models, exports):
    _, results = exports
    model, result = models[name], results[name]
    loaded = tf.saved_model.load(str(result.saved_model))
    assert list(loaded.signatures) == ["serving_default"]  # the flow's: tests/models/test_flow.py
    serve = loaded.signatures["serving_default"]
    _, input_specs = serve.structured_input_signature
    session = ort.InferenceSession(str(result.onnx), providers=["CPUExecutionProvider"])
    onnx_inputs = {i.name: i.shape for i in session.get_inputs()}
    if name == "surrogate":
        assert set(input_specs) == {"composition"}
        assert input_specs["composition"].shape.as_list() == [None, 22]
        outputs = ["properties", "properties_std", "properties_lower", "properties_upper"]
        assert set(serve.structured_outputs) == set(outputs)
        assert list(onnx_inputs) == ["composition"] and onnx_inputs["composition"][1] == 22
        assert [o.name for o in session.get_outputs()] == outputs
    else:
        assert set(input_specs) == {"z", "condition"}
        assert input_specs["z"].shape.as_list() == [None, model.latent_dim]
        assert input_specs["condition"].shape.as_list() == [None, 2]
        assert all(s.dtype == tf.float32 for s in input_specs.values())
        assert set(serve.structured_outputs) == {"composition"}
        assert list(onnx_inputs) == ["z", "condition"]
        assert onnx_inputs["z"][1] == model.latent_dim and onnx_inputs["condition"][1] == 2
        assert [o.name for o in session.get_outputs()] == ["composition"]


@pytest.mark.parametrize("name", TINY_NAMES)
def test_metadata_read_back(name, models, exports):
    _, results = exports
    model, result = models[name], results[name]
    meta = export.read_onnx_metadata(result.onnx)
    assert meta == json.loads(json.dumps(result.metadata))
    assert meta == export.read_saved_model_metadata(result.saved_model)
    assert meta["elements"] == list(hea_zoo.ELEMENTS)
    # The first export into a fresh folder is version 1; the model's own layout version is separate.
    layout = SURROGATE_MODEL_VERSION if name == "surrogate" else MODEL_VERSION
    assert meta["export_version"] == result.version == 1 and meta["model_version"] == layout
    if name == "surrogate":
        assert meta["descriptors"] == ["valence_electrons", "atomic_radius"] == list(model.descriptors)
    assert meta["hea_zoo_version"] == hea_zoo.__version__
    assert meta["model_class"] == type(model).__name__
    # A reader that knows nothing of hea_zoo sees the same (lists as JSON strings).
    raw = ort.InferenceSession(str(result.onnx)).get_modelmeta().custom_metadata_map
    assert json.loads(raw["elements"]) == list(model.elements)
    if name == "surrogate":
        assert meta["property_names"] == list(model.property_names)
        assert meta["property_units"] == ["GPa", "MPa*m^0.5"]
        assert meta["outputs"] == ["properties", "properties_std", "properties_lower", "properties_upper"]
        assert meta["coverage"] == 0.9 and raw["coverage"] == "0.9"
        assert meta["calibration_size"] == model.calibration_size > 0
        assert meta["interval_method"] == calibration.INTERVAL_METHOD
        assert "(1 + distance / distance_scale) ** distance_power" in meta["interval_method"]
        assert meta["calibration_method"] == calibration_method(model.calibration_folds)
    else:
        assert meta["latent_dim"] == model.latent_dim and raw["latent_dim"] == str(model.latent_dim)
        assert meta["condition_names"] == ["shear_modulus", "fracture_toughness"]
        assert meta["condition_units"] == ["GPa", "MPa*m^0.5"]
    proto = onnx.load(str(result.onnx))
    onnx.checker.check_model(proto, full_check=True)
    assert proto.producer_name == "hea_zoo"


def test_saved_model_is_in_serving_layout(exports):
    root, _ = exports
    for name in TINY_NAMES:
        assert sorted(p.name for p in (root / name).iterdir()) == ["1"]
        version = root / name / "1"
        assert (version / "saved_model.pb").is_file()
        assert (version / "variables" / "variables.index").is_file()
    assert sorted(p.name for p in root.glob("*.onnx")) == sorted(f"{n}.onnx" for n in TINY_NAMES)
    assert leftovers(root) == []


# ---------------------------------------------------------- refusals and atomic writes


def test_new_exports_get_the_next_version_and_refuse_to_overwrite(models, tmp_path):
    first = export.export_model(models["cvae"], tmp_path, "cvae")
    assert first.version == 1 and not first.replaced
    # TensorFlow Serving does not reload a version it serves: a new export is a new version.
    second = export.export_model(models["cvae"], tmp_path, "cvae")
    assert second.version == 2 and (tmp_path / "cvae" / "2" / "saved_model.pb").is_file()
    assert export.existing_versions(tmp_path / "cvae") == [1, 2]
    assert export.read_onnx_metadata(tmp_path / "cvae.onnx")["export_version"] == 2
    assert str(second) == f"cvae version 2: SavedModel {tmp_path / 'cvae' / '2'}, ONNX {tmp_path / 'cvae.onnx'}"
    before = tree(tmp_path)
    with pytest.raises(UsageError, match="^overwrite: .*cvae/2 already exists") as caught:
        export.export_model(models["cvae"], tmp_path, "cvae", version=2)
    assert caught.value.field == "overwrite" and "--" not in caught.value.message
    assert tree(tmp_path) == before
    # overwrite=True replaces the version in place and leaves nothing behind.
    result = export.export_model(models["cae"], tmp_path, "cvae", version=2, overwrite=True)
    assert result.replaced
    assert export.read_saved_model_metadata(result.saved_model)["model_class"] == "CAE"
    assert export.read_onnx_metadata(result.onnx)["model_class"] == "CAE"
    # An older version re-exported leaves the ONNX file (the newest version) alone.
    old = export.export_model(models["wcgan"], tmp_path, "cvae", version=1, overwrite=True)
    assert old.onnx is None
    assert export.read_saved_model_metadata(old.saved_model)["model_class"] == "WCGAN"
    assert export.read_onnx_metadata(tmp_path / "cvae.onnx")["model_class"] == "CAE"
    assert leftovers(tmp_path) == []


def test_refuses_a_foreign_onnx_file(models, tmp_path):
    (tmp_path / "cvae.onnx").write_bytes(b"not a model")
    with pytest.raises(UsageError, match="^overwrite: .*not a hea_zoo export"):
        export.export_model(models["cvae"], tmp_path, "cvae")
    assert (tmp_path / "cvae.onnx").read_bytes() == b"not a model"
    assert not (tmp_path / "cvae").exists() or list((tmp_path / "cvae").iterdir()) == []


def _failing_onnx(*args, **kwargs):
    raise RuntimeError("simulated converter failure")


@pytest.mark.parametrize("previous", [False, True], ids=["fresh", "overwrite"])
def test_failed_conversion_leaves_targets_untouched(models, tmp_path, monkeypatch, previous):
    if previous:
        export.export_model(models["cvae"], tmp_path, "cvae")
    before = tree(tmp_path)
    monkeypatch.setattr(export, "_build_onnx", _failing_onnx)
    with pytest.raises(RuntimeError, match="simulated"):
        export.export_model(models["wcgan"], tmp_path, "cvae", version=1, overwrite=True)
    assert tree(tmp_path) == before
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("previous", [False, True], ids=["fresh", "overwrite"])
def test_failed_final_move_leaves_targets_untouched(models, tmp_path, monkeypatch, previous):
    if previous:
        export.export_model(models["cvae"], tmp_path, "cvae")
    before = tree(tmp_path)

    def fail(*args, **kwargs):
        raise OSError("simulated failure of the final move")

    monkeypatch.setattr(export, "replace_directory", fail)
    with pytest.raises(OSError, match="simulated"):
        export.export_model(models["wcgan"], tmp_path, "cvae", version=1, overwrite=True)
    monkeypatch.undo()
    assert tree(tmp_path) == before
    assert leftovers(tmp_path) == []


def test_untrained_models_are_refused(tmp_path):
    with pytest.raises(UsageError, match="^model: .*untrained CVAE"):
        export.export_model(CVAE(), tmp_path, "cvae")
    with pytest.raises(ValueError, match="unbuilt Surrogate|untrained Surrogate"):
        export.export_model(Surrogate(), tmp_path, "surrogate")
    with pytest.raises(TypeError, match="Received: Sequential"):
        export.export_model(keras.Sequential([keras.layers.Dense(1)]), tmp_path, "x")
    assert list(tmp_path.iterdir()) == []


def test_bad_names_and_versions_are_refused(models, tmp_path):
    with pytest.raises(UsageError, match="^version: must be a positive integer"):
        export.export_model(models["cvae"], tmp_path, "cvae", version="v1")
    with pytest.raises(ValueError, match="positive integer"):
        export.export_model(models["cvae"], tmp_path, "cvae", version=0)
    with pytest.raises(UsageError, match="^name: .*file name"):
        export.export_model(models["cvae"], tmp_path, "../cvae")
    with pytest.raises(TypeError):
        export.export_surrogate(models["cvae"], tmp_path)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------- TensorFlow Serving request


def _documented_exchanges() -> list[tuple[dict, dict]]:
    """(request, response) pairs: each JSON request block of docs/SERVING.md and the
    JSON block after it."""
    text = (ROOT / "docs" / "SERVING.md").read_text()
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", text, flags=re.S)]
    pairs = [
        (blocks[i], blocks[i + 1])
        for i in range(len(blocks) - 1)
        if "signature_name" in blocks[i]
    ]
    assert len(pairs) >= 3, "docs/SERVING.md should show columnar and row requests"
    return pairs


def _serve_like_tf_serving(serve, request: dict) -> dict:
    """Runs a REST predict request through a signature, formatting the answer as
    TensorFlow Serving's REST API does (one output: its name is omitted)."""
    _, specs = serve.structured_input_signature
    if "inputs" in request:  # columnar
        columns = request["inputs"]
    else:  # row format: a list of objects with one value per named input
        columns = {k: [row[k] for row in request["instances"]] for k in request["instances"][0]}
    assert set(columns) == set(specs), (sorted(columns), sorted(specs))
    outputs = serve(**{k: tf.constant(np.asarray(v, np.float32)) for k, v in columns.items()})
    outputs = {k: v.numpy().tolist() for k, v in outputs.items()}
    single = next(iter(outputs.values())) if len(outputs) == 1 else None
    if "inputs" in request:
        return {"outputs": single if single is not None else outputs}
    n = len(request["instances"])
    if single is not None:
        return {"predictions": single}
    return {"predictions": [{k: v[i] for k, v in outputs.items()} for i in range(n)]}


def test_documented_rest_requests_match_the_signatures():
    for request, documented in _documented_exchanges():
        assert request["signature_name"] == "serving_default"
        names = set(request.get("inputs") or request["instances"][0])
        model = {"z", "condition"} <= names and "cvae" or "surrogate"
        serve = export.load_saved_model(EXPORTED / model / "1")
        assert set(serve.structured_outputs) == (
            {"composition"} if model == "cvae"
            else {"properties", "properties_std", "properties_lower", "properties_upper"}
        )
        response = _serve_like_tf_serving(serve, request)
        assert set(response) == set(documented)
        key = next(iter(response))
        got, shown = response[key], documented[key]
        if isinstance(got, dict):  # several named outputs
            assert set(got) == set(shown) == {"properties", "properties_std", "properties_lower", "properties_upper"}
            for name in got:
                assert np.shape(got[name]) == np.shape(shown[name]) == (len(request["inputs"]["composition"]), 2)
                np.testing.assert_allclose(got[name], shown[name], rtol=1e-5, atol=1e-6)
        else:
            rows = request.get("inputs", {}).get("z") or request.get("instances")
            assert np.shape(got) == np.shape(shown) == (len(rows), 22)
            np.testing.assert_allclose(np.sum(got, axis=1), 1.0, atol=1e-5)
            np.testing.assert_allclose(got, shown, rtol=1e-5, atol=1e-7)  # real numbers


# ---------------------------------------------------------------- committed artifacts


def test_committed_onnx_files_run_with_onnxruntime_alone():
    rng = np.random.default_rng(0)
    for name in committed_names():
        path = EXPORTED / f"{name}.onnx"
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        raw = session.get_modelmeta().custom_metadata_map
        assert json.loads(raw["elements"]) == list(hea_zoo.ELEMENTS)
        assert raw["name"] == name and raw["export_version"] == "1"
        if name == "surrogate":
            assert json.loads(raw["property_units"]) == ["GPa", "MPa*m^0.5"]
            x = rng.dirichlet(np.ones(5), 16)
            comps = np.zeros((16, 22), np.float32)
            comps[:, [6, 10, 16, 17, 21]] = x  # Hf Nb Ta Ti Zr
            mean, std = session.run(["properties", "properties_std"], {"composition": comps})
            assert mean.shape == std.shape == (16, 2)
            assert np.all(np.isfinite(mean)) and np.all(mean > 0) and np.all(std >= 0)
            continue
        latent = int(raw["latent_dim"])
        assert json.loads(raw["condition_names"]) == ["shear_modulus", "fracture_toughness"]
        assert json.loads(raw["condition_units"]) == ["GPa", "MPa*m^0.5"]
        assert session.get_inputs()[0].shape[1] == latent
        z = rng.standard_normal((32, latent)).astype(np.float32)
        c = np.tile(np.float32([[80.0, 40.0]]), (32, 1))
        (x,) = session.run(["composition"], {"z": z, "condition": c})
        assert x.shape == (32, 22) and np.all(x >= 0)
        np.testing.assert_allclose(x.sum(axis=1), 1.0, atol=1e-5)


def test_committed_manifest_hashes_and_sizes_match_the_files():
    manifest = json.loads((EXPORTED / "MANIFEST.json").read_text())
    listed = manifest["files"]
    on_disk = export.artifact_files(EXPORTED, exclude=("MANIFEST.json", "README.md"))
    assert listed == on_disk
    assert manifest["total_bytes"] == sum(f["bytes"] for f in on_disk.values())
    assert manifest["total_bytes"] < 10_000_000
    assert manifest["dataset"]["fingerprint_sha256"] == hea_zoo.load_dataset().fingerprint()
    assert set(manifest["models"]) == set(committed_names())
    for name, entry in manifest["models"].items():
        layout = SURROGATE_MODEL_VERSION if name == "surrogate" else MODEL_VERSION
        assert entry["model_version"] == layout and entry["export_version"] == 1
        assert entry["files"]["onnx"] == f"{name}.onnx"
        assert entry["files"]["saved_model"] == f"{name}/1"
        assert entry["bytes"]["onnx"] == listed[f"{name}.onnx"]["bytes"]
    assert "r2" in manifest["models"]["surrogate"]["metrics"]["held_out"]["shear_modulus"]
    for name in committed_names()[:-1]:  # the generators
        m = manifest["models"][name]["metrics"]
        assert set(m) >= {"mape_surrogate_percent", "mape_oracle_percent", "cosine_similarity"}


@pytest.mark.parametrize("name", ALL_NAMES)
def test_committed_keras_saved_model_and_onnx_agree(name, dataset):
    """The committed .keras file, SavedModel and ONNX file are one model."""
    if name not in committed_names():
        pytest.skip(f"exported/ predates {name}: re-export with `hea-zoo export --all --out exported`")
    model = keras.saving.load_model(EXPORTED / "keras" / f"{name}.keras")
    inputs = inputs_for(name, model, dataset)
    from_saved = saved_model_outputs(EXPORTED / name / "1", inputs)
    from_onnx = onnx_outputs(EXPORTED / f"{name}.onnx", inputs)
    # Artifacts exported before the interval outputs existed have fewer outputs.
    expected = {k: v for k, v in keras_outputs(model, inputs).items() if k in from_onnx}
    diff = max_rel_diff if name == "surrogate" else max_abs_diff
    assert diff(expected, from_saved) <= TOLERANCE
    assert diff(expected, from_onnx) <= TOLERANCE

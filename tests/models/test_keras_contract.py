"""Every model is plain Keras: explicit adapt, no fit override, a checkpoint is a usable model,
and files written by hea_zoo 0.1.0 still load."""

import warnings

import keras
import numpy as np
import pytest

from hea_zoo.models import GENERATORS, Surrogate, ZooModel, build_default_generator
from hea_zoo.models.base import MODEL_VERSION
from hea_zoo.serving import export
from tests.support import ROOT

DATA = ROOT / "tests" / "fixtures"
ALL = (*sorted(GENERATORS), "surrogate")
EXPORTED_HERE = ("cae", "surrogate")  # exports are the costly part: a generator and the surrogate


def new_model(name, dataset):
    if name == "surrogate":
        model = Surrogate(n_members=2, hidden_units=(16,), seed=0)
        model.compile()
        return model
    return build_default_generator(name, dataset, seed=0)


def test_no_model_overrides_fit():
    for cls in (*GENERATORS.values(), Surrogate, ZooModel):
        assert cls.fit is keras.Model.fit, cls


@pytest.mark.parametrize("name", ALL)
def test_fit_without_adapt_fails_early_and_says_so(name, dataset):
    model = new_model(name, dataset)
    x, y = dataset.train.compositions, dataset.train.properties
    arguments = "compositions, properties" if name == "surrogate" else "compositions, conditions"
    with pytest.raises(ValueError, match=rf"fit: the model is not adapted\. Call `model\.adapt\({arguments}\)`"):
        model.fit(x, y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="evaluate: the model is not adapted"):
        model.evaluate(x, y, verbose=0)
    assert not model.is_trained and int(model.optimizer.iterations.numpy()) == 0
    model.adapt(x, y)
    model.fit(x[:64], y[:64], epochs=1, batch_size=32, verbose=0)
    assert model.is_trained and int(model.optimizer.iterations.numpy()) == 2


@pytest.mark.parametrize("name", ALL)
def test_model_checkpoint_file_loads_trained_generates_and_exports(name, dataset, tmp_path):
    keras.utils.set_random_seed(0)
    model = new_model(name, dataset)
    x, y = dataset.train.compositions, dataset.train.properties
    model.adapt(x, y)
    path = tmp_path / f"{name}.keras"
    model.fit(x, y, epochs=2, batch_size=64, verbose=0,
              callbacks=[keras.callbacks.ModelCheckpoint(str(path))])  # fmt: skip
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model)
    assert loaded.is_trained and loaded.is_adapted
    assert int(loaded.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy())
    if name == "surrogate":
        np.testing.assert_array_equal(loaded(x[:5]).numpy(), model(x[:5]).numpy())
        inputs = {"composition": x[:5]}
        expected = loaded(x[:5]).numpy()
        output = "properties"
    else:
        np.testing.assert_array_equal(loaded.generate(y[:3], 4, seed=1), model.generate(y[:3], 4, seed=1))
        z = np.random.default_rng(0).standard_normal((5, loaded.latent_dim)).astype("float32")
        inputs = {"z": z, "condition": y[:5]}
        expected = loaded.decode(z, y[:5]).numpy()
        output = "composition"
    if name not in EXPORTED_HERE:
        # The loaded copy generates as the trained model did (above); its export is checked on
        # `EXPORTED_HERE`'s models (one per export code path of the generators and the
        # surrogate); tests/models/test_flow.py exports a loaded flow and checks its parity,
        # tests/serving/test_export.py the parity of every model's export.
        loaded.fit(x[:64], y[:64], epochs=1, batch_size=32, verbose=0)
        return
    result = export.export_model(loaded, tmp_path / "exported", name)
    assert result.version == 1 and result.saved_model.name == "1"  # the first export in a fresh folder
    served = export.load_saved_model(result.saved_model)(**inputs)[output].numpy()
    np.testing.assert_allclose(served, expected, rtol=1e-5, atol=1e-6)
    import onnxruntime as ort

    session = ort.InferenceSession(str(result.onnx), providers=["CPUExecutionProvider"])
    from_onnx = session.run([output], {k: np.asarray(v, np.float32) for k, v in inputs.items()})[0]
    np.testing.assert_allclose(from_onnx, expected, rtol=1e-5, atol=1e-5)
    # Training resumes from the checkpoint.
    loaded.fit(x[:64], y[:64], epochs=1, batch_size=32, verbose=0)


# ------------------------------------------------------------------ files of hea_zoo 0.1.0
@pytest.fixture(scope="module")
def reference():
    """Outputs of the 0.1.0 files computed by hea_zoo 0.1.0 itself."""
    return dict(np.load(DATA / "hea_zoo_0.1.0_outputs.npz"))


def load_old(name):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = keras.saving.load_model(DATA / f"{name}_hea_zoo_0.1.0.keras")
    messages = [str(w.message) for w in caught]
    assert any(f"saved with hea_zoo 0.1.0; this is hea_zoo" in m for m in messages), messages
    return model


@pytest.mark.parametrize("name", ["wcgan", "cae"])
def test_generators_of_hea_zoo_0_1_0_load_and_decode_as_before(name, reference):
    model = load_old(name)
    assert model.is_trained and model.model_version == MODEL_VERSION
    z = reference["z8"] if name == "wcgan" else reference["z4"]
    np.testing.assert_allclose(model.decode(z, reference["conditions"]).numpy(), reference[name], atol=1e-6)
    np.testing.assert_allclose(
        model.generate(reference["conditions"], 2, seed=7), reference[f"{name}_generate"], atol=1e-6
    )
    assert "trained_flag" not in {w.name for w in model.weights}


def test_generator_of_hea_zoo_0_1_0_round_trips_in_the_new_layout(tmp_path, reference):
    model = load_old("cae")
    path = tmp_path / "cae.keras"
    model.save(path)
    again = keras.saving.load_model(path)
    assert again.get_config()["model_version"] == MODEL_VERSION and again.is_trained
    np.testing.assert_array_equal(
        again.decode(reference["z4"], reference["conditions"]).numpy(),
        model.decode(reference["z4"], reference["conditions"]).numpy(),
    )


def test_surrogate_of_hea_zoo_0_1_0_is_converted_to_the_vectorized_ensemble(reference):
    model = load_old("surrogate")
    assert model.is_trained and model.n_members == 2
    np.testing.assert_allclose(
        model.member_outputs(reference["compositions"]).numpy(),
        reference["surrogate_members"],
        rtol=1e-5,
    )


def test_unreadable_0_1_0_surrogate_fails_with_a_line_naming_the_version(tmp_path):
    """A 0.1.0 surrogate whose members cannot be found: one line names the version and
    what to do (Keras lists it among the objects it could not load)."""
    import zipfile

    source = DATA / "surrogate_hea_zoo_0.1.0.keras"
    broken = tmp_path / "broken.keras"
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(broken, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "model.weights.h5":
                import h5py, io

                buffer = io.BytesIO(data)
                with h5py.File(buffer, "a") as h5:
                    del h5["layers"]["sequential_1"]
                data = buffer.getvalue()
            zout.writestr(item, data)
    with pytest.raises(ValueError) as error:
        keras.saving.load_model(broken)
    lines = [line for line in str(error.value).splitlines() if "hea_zoo 0.1.0" in line]
    assert lines and "retrain it" in lines[0] and "exports" in lines[0], str(error.value)

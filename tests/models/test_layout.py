"""The models package's layout: training settings outside the model config, one home for
every model's defaults, older import paths and older files still working."""

import json
import warnings
import zipfile

import keras
import numpy as np
import pytest

from hea_zoo.models import SURROGATE_DEFAULTS, WCGAN, Surrogate, legacy
from tests.support import ROOT


@pytest.mark.parametrize("cls", [Surrogate, WCGAN])
def test_the_learning_rate_is_a_compile_setting_not_a_config_entry(cls):
    model = cls()
    assert "learning_rate" not in model.get_config()
    with pytest.raises(ValueError, match="learning_rate"):
        cls(learning_rate=1e-3)
    model.compile()  # the class's default optimizer(s)
    assert float(model.optimizers()[0].learning_rate) == pytest.approx(cls.default_learning_rate)
    # A config written by an earlier release, with its learning rate, still loads.
    old = dict(model.get_config(), learning_rate=0.25)
    assert "learning_rate" not in cls.from_config(old).get_config()


def test_committed_and_0_1_0_files_with_a_learning_rate_load(tmp_path):
    for path in sorted((ROOT / "tests" / "fixtures").glob("*_0.1.0.keras")):
        config = json.loads(zipfile.ZipFile(path).read("config.json"))["config"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = keras.saving.load_model(path)
        assert model.is_trained and "learning_rate" not in model.get_config(), path.name
        if "learning_rate" in config:  # the optimizer saved in the file keeps its rate
            assert float(model.optimizers()[0].learning_rate) == pytest.approx(config["learning_rate"])
    for name in ("wcgan", "surrogate"):
        model = keras.saving.load_model(ROOT / "exported" / "keras" / f"{name}.keras")
        again = tmp_path / f"{name}.keras"
        model.save(again)
        loaded = keras.saving.load_model(again)
        for a, b in zip(model.variables, loaded.variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_the_surrogate_class_defaults_are_the_recipe_defaults():
    model = Surrogate()
    assert model.n_members == SURROGATE_DEFAULTS["n_members"]
    assert model.hidden_units == tuple(SURROGATE_DEFAULTS["hidden_units"])
    assert model.activation == SURROGATE_DEFAULTS["activation"]
    assert Surrogate.default_learning_rate == SURROGATE_DEFAULTS["learning_rate"]


def test_legacy_drops_training_settings_only():
    assert legacy.drop_training_settings({"learning_rate": 1e-3, "seed": 2}) == {"seed": 2}


def test_moved_names_keep_their_old_import_paths():
    from hea_zoo.models import defaults, train_default_surrogate

    with pytest.warns(DeprecationWarning, match="hea_zoo.models.defaults"):
        from hea_zoo.models.surrogate import train_default_surrogate as old_recipe
    assert old_recipe is train_default_surrogate is defaults.train_default_surrogate
    import hea_zoo.models.flow as flow

    with pytest.raises(AttributeError):  # the research baseline lives in evaluation, not models
        flow.gaussian_baseline_nll  # noqa: B018

"""The forward surrogate: held-out accuracy, uncertainty, the vectorized ensemble, save/load."""

import keras
import numpy as np
import pytest

from hea_zoo.data import oracle
from hea_zoo.data.elements import element_property
from hea_zoo.models.surrogate import (
    DEFAULT_DESCRIPTORS,
    EnsembleDense,
    Surrogate,
    descriptor_features,
    resolve_descriptors,
)
from hea_zoo.models import SURROGATE_DEFAULTS, train_default_surrogate


@pytest.fixture(scope="module")
def surrogate(dataset):
    return train_default_surrogate(dataset, epochs=60, seed=0)


def test_held_out_r2_above_0_9(surrogate, dataset):
    scores = surrogate.score(dataset.test.compositions, dataset.test.properties)
    print("\nsurrogate held-out scores (60 epochs):", scores)
    for name in dataset.property_names:
        assert scores[name]["r2"] >= 0.9, (name, scores[name])
        assert 0.0 < scores[name]["coverage_2std"] <= 1.0
    assert surrogate.is_trained and surrogate.training_seconds > 0


def test_ensemble_gives_mean_and_spread(surrogate, dataset):
    mean, std = surrogate.predict_with_uncertainty(dataset.test.compositions)
    assert mean.shape == std.shape == (106, 2)
    assert np.all(std > 0)
    np.testing.assert_allclose(mean, surrogate(dataset.test.compositions).numpy(), rtol=1e-5)
    assert surrogate.n_members >= 5


def test_members_are_one_vectorized_computation(surrogate, dataset):
    """Every layer holds all members' weights (members, in, out); each member is the plain
    MLP of its slices, reading the fractions and the standardized descriptor features (the
    mean VEC and radius, then their standard deviations over the alloy's atoms)."""
    layers = surrogate.ensemble_layers
    assert all(isinstance(layer, EnsembleDense) for layer in layers)
    assert surrogate.descriptors == DEFAULT_DESCRIPTORS == ("valence_electrons", "atomic_radius")
    assert [tuple(w.shape) for w in surrogate.trainable_weights] == [
        (5, 26, 128), (5, 1, 128), (5, 128, 128), (5, 1, 128), (5, 128, 2), (5, 1, 2),
    ]  # fmt: skip
    table = np.stack([element_property(name) for name in DEFAULT_DESCRIPTORS], axis=1)

    def features(x):
        means = x @ table
        return np.concatenate([means, np.sqrt(np.maximum(x @ table**2 - means**2, 0.0))], axis=1)

    # Standardized by the statistics `adapt` took on the rows the ensemble trained on (the
    # training alloys less the calibration split); standardized features do not depend on
    # the table's own units.
    reference = features(surrogate_fit_rows(surrogate, dataset))
    fractions = dataset.test.compositions[:7].astype(np.float64)
    z = (features(fractions) - reference.mean(0)) / reference.std(0)
    x = np.concatenate([fractions, z], axis=1)
    members = surrogate.member_outputs(dataset.test.compositions[:7]).numpy()
    mean = surrogate.target_mean.numpy()
    std = surrogate.target_std.numpy()
    for m in range(surrogate.n_members):
        h = x
        for j, layer in enumerate(layers):
            h = h @ layer.kernel.numpy()[m] + layer.bias.numpy()[m, 0]
            if j < len(layers) - 1:
                h = h / (1.0 + np.exp(-h))  # silu
        np.testing.assert_allclose(members[m], np.exp(h * std + mean), rtol=2e-4)
    assert not np.allclose(members[0], members[1])  # initialized differently


def surrogate_fit_rows(surrogate, dataset) -> np.ndarray:
    """The training compositions the default surrogate fitted on (its calibration split left out)."""
    from hea_zoo.data.datasets import group_split
    from hea_zoo.models import calibration

    fit_index, _ = group_split(dataset.train.groups, calibration.CALIBRATION_FRACTION, surrogate.seed + 1)
    return dataset.train.compositions[fit_index].astype(np.float64)


def test_descriptors_are_the_alloys_vec_and_size_mismatch():
    """The features are the mean VEC (4.4 for HfNbTaTiZr) and the radius's spread, whose ratio
    to the mean radius is the oracle's size mismatch δ."""
    elements = ["Hf", "Nb", "Ta", "Ti", "Zr"]
    table = np.stack([element_property(name, elements) for name in DEFAULT_DESCRIPTORS], axis=1)
    x = np.array([[0.2] * 5, [0.1, 0.4, 0.3, 0.15, 0.05], [0, 1, 0, 0, 0]], dtype=np.float32)
    f = descriptor_features(x, table).numpy()
    np.testing.assert_allclose(f[:, 0], x @ element_property("valence_electrons", elements), rtol=1e-6)
    assert f[0, 0] == pytest.approx(4.4)
    np.testing.assert_allclose(f[:, 3] / f[:, 1], oracle.descriptors(x, elements)["delta"], rtol=1e-3, atol=1e-5)
    assert f[2, 2] < 1e-5 and f[2, 3] < 1e-5  # one element: no spread


def test_descriptors_resolve_or_say_what_is_wrong():
    assert resolve_descriptors("auto", ["Nb", "Ta"]) == DEFAULT_DESCRIPTORS
    assert resolve_descriptors("auto", ["Nb", "Unobtainium"]) == ()  # no table: fractions only
    # the MPEA elements beyond the bundled 22 are in the element table too
    assert resolve_descriptors("auto", ["Nb", "C", "Pd", "Sn", "Zn", "B", "Mg"]) == DEFAULT_DESCRIPTORS
    assert resolve_descriptors("auto", ["Nb", "Pt"]) == ()  # platinum is not tabulated
    assert resolve_descriptors([], ["Nb", "Xx"]) == ()
    assert resolve_descriptors(["melting_point"], ["Nb", "O"]) == ("melting_point",)
    with pytest.raises(ValueError, match=r"Unknown element descriptor\(s\) \['vec'\]"):
        resolve_descriptors(["vec"], ["Nb"])
    with pytest.raises(ValueError, match=r"\['Xx'\] have none"):
        resolve_descriptors(["atomic_radius"], ["Nb", "Xx"])
    with pytest.raises(ValueError, match=r"no shear_modulus for \['O'\]"):
        resolve_descriptors(["shear_modulus"], ["Nb", "O"])
    with pytest.raises(ValueError, match="repeat"):
        resolve_descriptors(["atomic_radius", "atomic_radius"], ["Nb"])
    with pytest.raises(ValueError, match="'auto' or a list"):
        Surrogate(elements=["Nb", "Ta"], property_names=["G"], property_units=["GPa"], descriptors="all")
    fractions_only = Surrogate(elements=["Nb", "Ta"], property_names=["G"], property_units=["GPa"], descriptors=())
    assert fractions_only.ensemble_layers[0].kernel.shape[1] == 2


def test_loss_falls(dataset):
    model = Surrogate(n_members=2, hidden_units=(32,), seed=1)
    model.adapt(dataset.train.compositions, dataset.train.properties)
    model.compile()
    history = model.fit(dataset.train.compositions, dataset.train.properties, epochs=8, verbose=0)
    loss = history.history["loss"]
    assert loss[-1] < 0.5 * loss[0]
    assert int(model.optimizer.iterations.numpy()) == 8 * 14 and model.is_trained


def test_save_load_identical_predictions(surrogate, dataset, tmp_path):
    path = tmp_path / "surrogate.keras"
    surrogate.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, Surrogate) and loaded.is_trained
    assert loaded.get_config() == surrogate.get_config()
    a = surrogate.predict_with_uncertainty(dataset.test.compositions)
    b = loaded.predict_with_uncertainty(dataset.test.compositions)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_bad_input(dataset):
    model = Surrogate(n_members=1, hidden_units=(8,))
    with pytest.raises(ValueError, match=r"shape \(423, 2\)"):
        model.adapt(dataset.train.compositions, dataset.train.properties[:, :1])
    y = dataset.train.properties.copy()
    y[5, :] = np.nan  # one missing value is a sparse row (it teaches the other); none at all is refused
    with pytest.raises(ValueError, match="properties row 5 has no value"):
        model.adapt(dataset.train.compositions, y)
    y[5, :] = [np.inf, 1.0]
    with pytest.raises(ValueError, match="properties row 5 is not finite"):
        model.adapt(dataset.train.compositions, y)
    y[5, :] = dataset.train.properties[5]
    y[5, 1] = -1.0
    with pytest.raises(ValueError, match="properties row 5 is not positive"):
        model.adapt(dataset.train.compositions, y)
    with pytest.raises(ValueError, match="^n_members: must be a positive integer"):
        Surrogate(n_members=0)
    assert not model.is_adapted


def test_the_small_table_recipe_takes_tables_below_its_alloy_count(dataset):
    """The bundled table (423 training alloys) trains with the large recipe; the same table
    cut to 300 alloys (MPEA's hardness table is about that size) with the small one."""
    from hea_zoo import load_dataset
    from hea_zoo.models.defaults import surrogate_recipe

    limit = SURROGATE_DEFAULTS["small_table"]["max_alloys"]
    large = surrogate_recipe(dataset)
    assert len(np.unique(dataset.train.groups)) >= limit and large["small_table"] is False
    assert large["hidden_units"] == SURROGATE_DEFAULTS["hidden_units"] and large.get("output_margin") is None
    frame = dataset.to_frame().iloc[:375][["composition", *dataset.property_names]]
    cut = load_dataset(frame.reset_index(drop=True), verbose=False)
    assert len(np.unique(cut.train.groups)) < limit
    small = surrogate_recipe(cut)
    assert small["small_table"] is True and small["output_margin"] == 0.0 and small["hidden_units"] == (64, 64)


def test_a_small_table_streams_every_fit_whatever_its_rows(dataset):
    """The small recipe's ``stream_rows`` replaces the budget's 256: a small table with more
    training rows (300 here; yield strength at every test temperature has 456) streams from
    one pipeline, epochs of whole 16-step executions; a budget given by hand is kept."""
    import warnings

    from hea_zoo import load_dataset
    from hea_zoo.models.training import TrainingBudget

    assert SURROGATE_DEFAULTS["small_table"]["stream_rows"] > SURROGATE_DEFAULTS["budget"].stream_rows
    frame = dataset.to_frame().iloc[:375][["composition", *dataset.property_names]]
    cut = load_dataset(frame.reset_index(drop=True), verbose=False)
    rows = len(cut.train)
    assert rows > SURROGATE_DEFAULTS["budget"].stream_rows
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        streamed = train_default_surrogate(cut, epochs=2, verbose=0, calibration_fraction=0.0)
        arrays = train_default_surrogate(cut, epochs=2, verbose=0, calibration_fraction=0.0, budget=TrainingBudget())
    passes = -(-rows // 32)
    assert streamed.training_plan["steps_per_epoch"] == -(-passes // 16) * 16
    assert streamed.training_plan["passes_per_epoch"] > 1.0
    assert arrays.training_plan["steps_per_epoch"] == passes and arrays.training_plan["passes_per_epoch"] == 1.0

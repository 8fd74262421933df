"""Physical priors: a density or a modulus learnt as its ratio to the rule of mixtures (the
estimates by hand, the recipe's rule, what the prior does held out, its file and export)."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pandas as pd
import pytest

from hea_zoo.data.datasets import load_dataset
from hea_zoo.data.descriptors import compute_descriptors
from hea_zoo.data.elements import element_property
from hea_zoo.errors import UsageError
from hea_zoo.models import SURROGATE_DEFAULTS, Surrogate, train_default_surrogate
from hea_zoo.models.surrogate.priors import auto_priors, check_priors, prior_values, prior_weights

ELEMENTS = ["Al", "Cr", "Mo", "Nb", "Ta", "Ti", "V", "W"]


def _alloys(rng, n, elements, k=(3, 6)):
    x = np.zeros((n, len(elements)))
    for row in x:
        m = rng.integers(*k)
        row[rng.choice(len(elements), m, replace=False)] = rng.dirichlet(np.ones(m))
    return x


def test_the_estimates_by_hand():
    rng = np.random.default_rng(0)
    x = _alloys(rng, 20, ELEMENTS)
    num, den = prior_weights("density", ELEMENTS)
    exact = compute_descriptors(x, ELEMENTS)["density"]
    np.testing.assert_allclose(prior_values(x, num[:, None], den[:, None])[:, 0], exact, rtol=1e-12)
    # Reuss over volume fractions: Mo0.5 Nb0.5 by hand; MPa reads the table's GPa x 1000
    mass, rho, e = (element_property(c, ["Mo", "Nb"]) for c in ("atomic_mass", "density", "youngs_modulus"))
    v = 0.5 * mass / rho
    v = v / v.sum()
    num, den = prior_weights("reuss:youngs_modulus", ["Mo", "Nb"])
    assert prior_values([[0.5, 0.5]], num[:, None], den[:, None])[0, 0] == pytest.approx(1.0 / np.sum(v / e), rel=1e-12)
    num_mpa, den_mpa = prior_weights("reuss:youngs_modulus", ["Mo", "Nb"], "MPa")
    assert prior_values([[0.5, 0.5]], num_mpa[:, None], den_mpa[:, None])[0, 0] == pytest.approx(1000.0 / np.sum(v / e))
    # carbon has no tabulated modulus: left out, the others' volume fractions renormalized
    num_c, den_c = prior_weights("reuss:youngs_modulus", ["Mo", "Nb", "C"])
    assert num_c[2] == 0.0 and den_c[2] == 0.0
    assert prior_values([[0.45, 0.45, 0.1]], num_c[:, None], den_c[:, None])[0, 0] == pytest.approx(1.0 / np.sum(v / e))


def test_the_recipe_s_rule_and_bad_priors():
    names = ["density_exp", "youngs_modulus_exp", "hardness", "shear_modulus", "density"]
    units = ["g/cm^3", "GPa", "HV", "MPa", "kg/m^3"]
    assert auto_priors(names, units, ELEMENTS) == ("density", "reuss:youngs_modulus", "", "reuss:shear_modulus", "")
    assert auto_priors(["density"], ["g/cm^3"], ["Nb", "O"]) == ("",)  # oxygen: no rule-of-mixtures density
    # a CSV's column names: the unit in brackets, any spelling of the modulus
    columns = ["Youngs modulus (GPa)", "Young's Modulus (MPa)", "Density (g/cm3)", "Shear modulus", "Bulk modulus (HV)"]
    assert auto_priors(columns, [""] * 5, ELEMENTS) == ("reuss:youngs_modulus", "reuss:youngs_modulus", "density", "", "")
    mpa = Surrogate(elements=["Mo", "Nb"], property_names=["E (MPa)"], property_units=[""], priors=["reuss:youngs_modulus"])
    gpa = Surrogate(elements=["Mo", "Nb"], property_names=["E"], property_units=["GPa"], priors=["reuss:youngs_modulus"])
    x = np.array([[0.5, 0.5]], np.float32)
    assert mpa._prior(x).numpy()[0, 0] == pytest.approx(1000 * gpa._prior(x).numpy()[0, 0], rel=1e-6)
    assert check_priors(None, ["a", "b"], ELEMENTS) == ("", "")
    with pytest.raises(UsageError, match="Unknown prior 'voigt:youngs_modulus'"):
        check_priors(["voigt:youngs_modulus"], ["e"], ELEMENTS)
    with pytest.raises(UsageError, match="one prior per property"):
        check_priors(["density"], ["a", "b"], ELEMENTS)
    with pytest.raises(UsageError, match=r"density has no value for \['O'\]"):
        Surrogate(elements=["Nb", "O"], property_names=["rho"], property_units=["g/cm^3"], priors=["density"])


@pytest.fixture(scope="module")
def densities():
    """90 alloys of 3-5 elements, 5 of them with 2 % W, and 30 holding 30 % W (the
    heaviest): measured densities 2 % above the rule of mixtures, with 1 % noise. Returns
    the training table, the W alloys and their densities, and the recipe's surrogate with
    and without priors."""
    rng = np.random.default_rng(1)
    train_x = _alloys(rng, 90, ELEMENTS[:-1])
    train_x = np.hstack([train_x, np.zeros((90, 1))])
    train_x[:5] = np.hstack([0.98 * train_x[:5, :-1], np.full((5, 1), 0.02)])
    test_x = _alloys(rng, 30, ELEMENTS[:-1], k=(2, 4))
    test_x = np.hstack([0.7 * test_x, np.full((30, 1), 0.3)])
    rom = lambda x: compute_descriptors(x, ELEMENTS)["density"]  # noqa: E731
    y = rom(train_x) * 1.02 * (1 + rng.normal(0, 0.01, len(train_x)))
    y_test = rom(test_x) * 1.02
    formulas = ["".join(f"{e}{v:.4f}" for e, v in zip(ELEMENTS, row) if v > 0) for row in train_x]
    table = load_dataset(pd.DataFrame({"composition": formulas, "density_exp": y}), properties=["density_exp"],
                         property_units=["g/cm^3"], verbose=False, test_fraction=0.0)  # fmt: skip
    models = {}
    for priors in (True, False):
        recipe = {**SURROGATE_DEFAULTS["small_table"], "physical_priors": priors}
        with warnings.catch_warnings(), pytest.MonkeyPatch.context() as mp:
            warnings.simplefilter("ignore")
            mp.setitem(SURROGATE_DEFAULTS, "small_table", recipe)
            models[priors] = train_default_surrogate(table, epochs=2, seed=0, verbose=0)
    return table, test_x.astype(np.float32), y_test, models


def test_a_prior_carries_a_density_to_alloys_unlike_the_training_ones(densities):
    table, test_x, y_test, models = densities
    assert models[True].priors == ("density",) and models[False].priors == ("",)
    error = {k: np.abs(m.predict_interval(test_x)[0][:, 0] / y_test - 1) for k, m in models.items()}
    assert error[True].max() < 0.05, error[True].max()  # the ratio, learnt where W is scarce, holds with 30 % W
    assert np.median(error[False]) > 0.1 > 2 * error[True].max(), np.median(error[False])  # without: off by 14 %
    mean, lower, upper = models[True].predict_interval(test_x)
    assert np.mean((y_test >= lower[:, 0]) & (y_test <= upper[:, 0])) >= 0.8


def test_priors_round_trip_through_a_file_and_the_export(densities, tmp_path):
    import onnxruntime as ort

    from hea_zoo.serving import export

    _, test_x, _, models = densities
    model = models[True]
    path = tmp_path / "priors.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.priors == ("density",)
    for a, b in zip(loaded.predict_interval(test_x), model.predict_interval(test_x)):
        np.testing.assert_array_equal(a, b)
    config = model.get_config()
    config.pop("priors")  # a file written before priors: none, and no prior state
    assert not hasattr(Surrogate.from_config(config), "prior_num")
    assert "priors" not in models[False].get_config()
    result = export.export_model(model, tmp_path / "export", "surrogate")
    session = ort.InferenceSession(str(result.onnx), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    assert "density" in meta["priors"]
    outs = session.run(["properties", "properties_lower", "properties_upper"], {"composition": test_x})
    for a, b in zip(outs, model.predict_interval(test_x)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)

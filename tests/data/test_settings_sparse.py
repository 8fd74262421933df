"""Measurement settings (inputs, never properties) and sparse property tables, as loaded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hea_zoo.cli import main
from hea_zoo.data.datasets import load_dataset
from hea_zoo.errors import DataError, UsageError


def _table():
    return pd.DataFrame({
        "alloy": ["NbTa", "NbTa", "NbTa", "MoW", "TiZr", "HfNb"],
        "ys": [1.0, 3.0, 10.0, 5.0, np.nan, 7.0],
        "hv": [np.nan, 2.0, np.nan, 4.0, 6.0, np.nan],
        "T": [25.0, 25.0, 1000.0, 25.0, 25.0, 800.0],
    })  # fmt: skip


def test_settings_are_read_apart_from_properties_and_merge_per_alloy_and_setting():
    ds = load_dataset(_table(), "alloy", properties=["ys", "hv"], settings=["T"], test_fraction=0.0, verbose=False)
    assert ds.setting_names == ("T",) and ds.property_names == ("ys", "hv")
    assert ds.condition_names == ("ys", "hv", "T") and ds.conditions.shape == (5, 3)
    # NbTa at 25 °C: two rows merged per property over the rows that have it; NbTa at 1000 °C apart.
    np.testing.assert_allclose(ds.properties[0], [2.0, 2.0])
    np.testing.assert_allclose(ds.settings[:, 0], [25.0, 1000.0, 25.0, 25.0, 800.0])
    assert ds.groups[0] == ds.groups[1]  # one composition: one group, never split apart
    # Sparse: rows keep the properties they have; the counts say how many alloys teach each.
    assert np.isnan(ds.properties[1, 1]) and np.isnan(ds.properties[3, 0])
    assert ds.property_counts() == {"ys": (3, 4), "hv": (3, 3)}
    assert any(note.startswith("sparse table: ys 3 alloys (4 rows), hv 3 alloys (3 rows)") for note in ds.notes)
    assert list(ds.to_frame().columns) == ["composition", "ys", "hv", "T", "group", "split"]


def test_a_setting_named_as_a_property_is_refused():
    with pytest.raises(UsageError, match="T is how a value was measured, not a property") as err:
        load_dataset(_table(), "alloy", properties=["ys", "T"], settings=["T"], verbose=False)
    assert err.value.field == "properties"
    with pytest.raises(UsageError, match="test_temperature is how a value was measured") as err:
        load_dataset("mpea", properties=["yield_strength", "test_temperature"], verbose=False)
    assert err.value.field == "properties" and "settings" in err.value.message


def test_every_temperature_without_temperature_as_a_setting_is_refused():
    with pytest.raises(UsageError, match="without test_temperature as a setting would merge") as err:
        load_dataset("mpea", properties=["yield_strength"], temperature=None, verbose=False)
    assert err.value.field == "temperature"
    # With it as a setting, every temperature is kept and repeats merge per (alloy, temperature).
    ds = load_dataset("mpea", properties=["yield_strength"], settings=["test_temperature"], test_type="compression",
                      verbose=False)  # fmt: skip
    t = ds.settings[:, 0]
    assert t.min() < 0 and t.max() >= 1000 and ds.setting_units == ("degC",)
    assert len(ds) > ds.n_alloys  # one alloy at several temperatures: several rows, one group
    assert not set(ds.groups[ds.train_index]) & set(ds.groups[ds.test_index])
    keys = {(g, float(v)) for g, v in zip(ds.groups, t)}
    assert len(keys) == len(ds)  # one row per (alloy, temperature)


def test_cli_refuses_temperature_as_a_property_and_points_to_settings(capsys):
    assert main(["train", "--model", "surrogate", "--data", "mpea", "--properties", "yield_strength,test_temperature"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage error: mpea: --properties: test_temperature is how a value was measured")
    assert "--settings test_temperature" in err
    assert main(["dataset", "--data", "mpea", "--properties", "yield_strength", "--temperature", "all"]) == 2
    assert "--temperature: every test temperature" in capsys.readouterr().err


def test_mpea_sparse_properties_load_without_dropna():
    ds = load_dataset("mpea", properties=["hardness", "yield_strength", "elongation", "youngs_modulus_exp"], verbose=False)
    counts = ds.property_counts()
    assert counts["youngs_modulus_exp"][0] == 60 and counts["hardness"][0] == 376
    assert counts["yield_strength"][0] == 394 and counts["elongation"][0] == 252
    assert np.isnan(ds.properties).any() and np.isfinite(ds.properties).any(axis=1).all()
    # dropna keeps its meaning: rows with every property only.
    full = load_dataset("mpea", properties=["hardness", "youngs_modulus_calc"], dropna=True, verbose=False)
    assert np.isfinite(full.properties).all()


def test_a_row_without_any_property_or_setting_is_still_an_error_in_a_users_table():
    frame = _table()
    frame.loc[4, "hv"] = np.nan  # TiZr: no property at all
    with pytest.raises(DataError, match=r"missing value for ys, hv"):
        load_dataset(frame, "alloy", properties=["ys", "hv"], verbose=False)
    frame = _table()
    frame.loc[0, "T"] = np.nan
    with pytest.raises(DataError, match="missing setting value for T"):
        load_dataset(frame, "alloy", properties=["ys", "hv"], settings=["T"], verbose=False)


def test_cli_design_setting_for_models_without_settings_names_the_flag(capsys):
    assert main(["design", "-G", "40", "-K", "40", "-n", "2", "--candidates", "100", "--seed", "0",
                 "--setting", "test_temperature=1000"]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert err == "usage error: --setting: the model takes no measurement settings; unknown ['test_temperature']."
    assert main(["design", "-G", "40", "-K", "40", "--setting", "test_temperature"]) == 2
    assert "--setting: expects NAME=VALUE" in capsys.readouterr().err

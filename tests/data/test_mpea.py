"""The bundled MPEA table (Borg et al., Sci. Data 7, 430 (2020)): short names, filters,
duplicates, group splits, and the command line on it."""

from __future__ import annotations

import configparser

import numpy as np
import pandas as pd
import pytest

from hea_zoo.cli import main
from hea_zoo.data import mpea
from hea_zoo.data.datasets import load_dataset
from hea_zoo.errors import DataError, UsageError
from tests.support import ROOT

RAW = pd.read_csv(mpea.MPEA_PATH)
T = mpea.MPEA_COLUMNS["test_temperature"]


def test_the_file_ships_with_its_licence_and_citation():
    folder = mpea.MPEA_PATH.parent
    assert len(RAW) == 1545
    assert "Apache License" in (folder / "LICENSE").read_text()
    assert "Borg" in (folder / "README.md").read_text() and "Scientific Data 7, 430" in (folder / "README.md").read_text()
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    package_data = config["options.package_data"]["hea_zoo"]
    assert "data/mpea/*.csv" in package_data and "data/mpea/LICENSE" in package_data


def test_short_and_source_names_load_the_same_values():
    short = load_dataset("mpea", properties=["hardness", "youngs_modulus_calc"], dropna=True, verbose=False)
    source = load_dataset(
        "mpea", properties=["PROPERTY: HV", "PROPERTY: Calculated Young modulus (GPa)"], dropna=True, verbose=False
    )
    assert short.property_names == source.property_names == ("hardness", "youngs_modulus_calc")
    assert short.property_units == ("HV", "GPa")
    np.testing.assert_array_equal(short.properties, source.properties)
    assert short.name == "mpea" and short.n_alloys == len(short) >= 100


def test_unknown_short_name_lists_the_available_ones():
    with pytest.raises(DataError, match=r"properties: Unknown MPEA property 'strength'. Available: hardness, yield_strength, .*elongation"):
        load_dataset("mpea", properties=["strength"])
    with pytest.raises(UsageError, match="properties: Name the MPEA properties to load. Available: hardness"):
        load_dataset("mpea")


def test_duplicates_are_merged_and_splits_are_by_composition(capsys):
    keep = load_dataset("mpea", properties=["hardness", "youngs_modulus_calc"], dropna=True, duplicates="keep")
    assert capsys.readouterr().out == ""
    dropped, out = keep.notes
    assert dropped.startswith("dropped ") and dropped.endswith(" rows with missing properties.")
    assert "repeat" in out and "largest spread: hardness 130.2 to 430.7 (Co0.2Cr0.2Fe0.2Mn0.2Ni0.2)" in out
    assert len(keep) > keep.n_alloys  # the source repeats alloys
    assert not set(keep.groups[keep.train_index]) & set(keep.groups[keep.test_index])
    merged = load_dataset("mpea", properties=["hardness", "youngs_modulus_calc"], dropna=True, verbose=False)
    assert len(merged) == merged.n_alloys == keep.n_alloys
    cantor = merged.formulas.index("Co0.2Cr0.2Fe0.2Mn0.2Ni0.2")
    rows = [i for i, f in enumerate(keep.formulas) if f == "Co0.2Cr0.2Fe0.2Mn0.2Ni0.2"]
    assert merged.properties[cantor, 0] == pytest.approx(np.median(keep.properties[rows, 0]))


def test_test_type_and_room_temperature_filters():
    frame = mpea.mpea_frame(["yield_strength", "elongation"], test_type="tension")
    source = RAW.iloc[frame["source_row"]]
    assert (source[mpea.MPEA_COLUMNS["test_type"]] == "T").all()
    t = source[T].to_numpy()
    assert np.all((t >= 15) & (t <= 30))  # default: room temperature
    assert {20.0, 23.0, 25.0} >= set(np.unique(t)) - {24.0}
    hot = mpea.mpea_frame(["yield_strength"], test_type="compression", temperature=(900, 1100))
    assert set(RAW.iloc[hot["source_row"]][T]) == {900.0, 1000.0, 1100.0}
    cast = mpea.mpea_frame(["hardness"], processing=["cast"])
    assert set(RAW.iloc[cast["source_row"]][mpea.MPEA_COLUMNS["processing"]]) == {"CAST"}
    with pytest.raises(UsageError, match="test_type: Unknown test type 'bend'. Valid: compression, tension"):
        mpea.mpea_frame(["hardness"], test_type="bend")
    with pytest.raises(UsageError, match=r"processing: Unknown processing route\(s\) \['MELT'\]. Valid: CAST"):
        mpea.mpea_frame(["hardness"], processing=["melt"])
    with pytest.raises(UsageError, match=r"temperature: must be \(min, max\) with min <= max"):
        mpea.mpea_frame(["hardness"], temperature=(100, 20))


def test_test_temperature_as_a_setting_keeps_every_temperature():
    ds = load_dataset("mpea", properties=["yield_strength"], settings=["test_temperature"], test_type="compression",
                      dropna=True, verbose=False)  # fmt: skip
    temperature = ds.settings[:, 0]
    assert temperature.max() >= 1000 and temperature.min() < 0  # cryogenic tests too
    assert ds.property_units == ("MPa",) and ds.setting_units == ("degC",)
    # Rows of one alloy at different temperatures are not averaged together, but they
    # stay on one side of the split.
    assert len(ds) > ds.n_alloys
    assert not set(ds.groups[ds.train_index]) & set(ds.groups[ds.test_index])


def test_a_filter_leaving_too_few_alloys_is_an_error_with_the_count():
    for route, count in (("ANNEAL", 10), ("POWDER", 0)):
        with pytest.raises(DataError, match=rf"leaves {count} distinct alloys; at least 20 are needed") as err:
            load_dataset("mpea", properties=["yield_strength", "elongation"], test_type="tension",
                         processing=[route], dropna=True, verbose=False)  # fmt: skip
        # The selection in words, not in keyword arguments.
        assert f"(yield_strength, elongation; tension tests; 15-30 °C; processing {route})" in str(err.value)
        assert "test_type=" not in str(err.value) and "--" not in str(err.value)


def test_filters_are_refused_for_other_data():
    with pytest.raises(UsageError, match=r"test_type: filters the MPEA table only \(source='mpea'\)") as err:
        load_dataset(None, test_type="tension")
    assert err.value.field == "test_type"
    with pytest.raises(UsageError, match="temperature: filters the MPEA table only .*, as does processing"):
        load_dataset(pd.DataFrame({"composition": ["NbTa"], "h": [1]}), temperature=(0, 100), processing=["CAST"])


def test_a_bad_mpea_row_is_named_by_its_line_in_the_source():
    from hea_zoo.data.datasets import _open

    table = _open("mpea", "composition", ["hardness"], None, None, "room", None)
    error = table.row_error("formula 'X': why.", "composition", 7)
    assert (error.row, error.line) == (7, 9)
    assert str(error) == "composition: MPEA data row 7 (0-based; line 9 of MPEA_dataset.csv): formula 'X': why."


def test_cli_dataset_on_mpea(tmp_path, capsys):
    out = tmp_path / "mpea.csv"
    code = main(["dataset", "--data", "mpea", "--properties", "yield_strength,elongation",
                 "--test-type", "tension", "--dropna", "--out", str(out)])  # fmt: skip
    assert code == 0
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["composition", "yield_strength", "elongation", "group", "split"]
    assert frame.groupby("group")["split"].nunique().max() == 1
    capsys.readouterr()
    assert main(["dataset", "--data", "mpea", "--properties", "hardness,youngs_modulus_calc", "--dropna",
                 "--duplicates", "keep", "--head", "2"]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "distinct alloys" in text and "split by composition" in text


def test_cli_errors_on_mpea(capsys):
    assert main(["dataset", "--data", "mpea", "--properties", "strength"]) == 3
    assert "Available: hardness" in capsys.readouterr().err
    assert main(["dataset", "--test-type", "tension"]) == 2
    assert "add --data mpea" in capsys.readouterr().err
    assert main(["dataset", "--data", "mpea", "--properties", "hardness", "--temperature", "hot"]) == 2
    assert "--temperature expects MIN,MAX" in capsys.readouterr().err


@pytest.mark.slow
def test_worked_example_runs():
    import os
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=str(ROOT), HEA_ZOO_EXAMPLE_QUICK="1")
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "mpea_strength_ductility.py")],
                          capture_output=True, text=True, env=env, timeout=1800)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "nearest measured alloy" in done.stdout and "yield_strength" in done.stdout


def test_cli_train_says_how_the_intervals_were_calibrated(tmp_path, capsys):
    """65 training alloys: cross-conformal folds, and the line says so with their count."""
    out = tmp_path / "surrogate.keras"
    assert main(["train", "--model", "surrogate", "--data", "mpea", "--properties", "yield_strength,elongation",
                 "--test-type", "tension", "--dropna", "--epochs", "2", "--out", str(out)]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "intervals: 5-fold cross-conformal (out-of-fold scores of every training alloy), 65 alloys" in text
    assert "% interval holds" in text
    # carbon is not one of the bundled 22, but the element table has it: descriptors are read
    assert "inputs: fractions and element descriptors (valence_electrons, atomic_radius: mean and spread)" in text
    from hea_zoo.cli import _surrogate_inputs
    from hea_zoo.models import Surrogate

    fractions_only = Surrogate(elements=["Nb", "Pt"], property_names=["G"], property_units=["GPa"])
    assert _surrogate_inputs(fractions_only, ["Nb", "Pt"]) == (
        "inputs: fractions only (the element table, hea_zoo.data.elements, has no data for Pt)")

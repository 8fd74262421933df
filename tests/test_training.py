"""Tests of the example-script helper (hea_zoo.training)."""

import keras
import pytest

from hea_zoo.dataset import load_dataset
from hea_zoo.training import build_parser, main

FAST = ["--epochs", "2", "--surrogate-epochs", "2", "--n-per-condition", "20", "--verbose", "0"]


def test_bundled_data_prints_both_judges(tmp_path, capsys):
    out = tmp_path / "cae.keras"
    result = main("cae", FAST + ["--output", str(out)])
    printed = capsys.readouterr().out
    assert "surrogate-judged MAPE" in printed and "oracle-judged MAPE:    " in printed
    assert result["oracle_mape"] is not None and result["surrogate_mape"] >= 0
    model = keras.saving.load_model(out)
    assert model.is_trained and len(model.elements) == 22


def test_user_csv_without_oracle(tmp_path, capsys):
    frame = load_dataset().to_frame()
    frame = frame[frame["composition"].str.contains("Nb")].rename(
        columns={"composition": "formula", "shear_modulus": "G"}
    )
    csv = tmp_path / "mine.csv"
    frame[["formula", "G", "fracture_toughness"]].to_csv(csv, index=False)
    out = tmp_path / "mine.keras"
    result = main(
        "cvae",
        FAST + ["--data", str(csv), "--composition-column", "formula",
                "--properties", "G", "fracture_toughness", "--output", str(out)],
    )
    printed = capsys.readouterr().out
    assert result["oracle_mape"] is None and "n/a" in printed
    model = keras.saving.load_model(out)
    assert model.condition_names == ("G", "fracture_toughness")


def test_bad_arguments():
    with pytest.raises(ValueError, match="Valid names"):
        build_parser("gan")
    with pytest.raises(SystemExit):
        build_parser("cae").parse_args(["--epochs", "many"])

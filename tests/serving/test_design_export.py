"""The generator export records its training alloys for `hea-zoo design`
(metadata ``training_compositions``): printed, distinct, readable without pymatgen."""

from __future__ import annotations

import numpy as np
import pytest

import hea_zoo
from hea_zoo.artifact import decode_metadata, encode_metadata, parse_printed, printed_thousandths
from tests.support import ROOT


def test_training_compositions_in_the_generator_metadata():
    from hea_zoo.models.defaults import build_default_generator
    from hea_zoo.serving.export import model_metadata, training_formulas

    ds = hea_zoo.load_dataset()
    formulas = training_formulas(ds.train, ds.elements)
    assert len(formulas) == len(set(formulas)) <= len(ds.train)
    k, ok = printed_thousandths(ds.train.compositions)
    assert ok.all()
    np.testing.assert_array_equal(np.unique(parse_printed(formulas, ds.elements), axis=0), np.unique(k, axis=0))
    assert training_formulas(list(ds.train.formulas[:5]), ds.elements) == formulas[:5]

    model = build_default_generator("cvae", ds)
    meta = model_metadata(model, "cvae", 1, training_compositions=ds.train)
    assert meta["training_compositions"] == formulas
    assert decode_metadata(encode_metadata(meta))["training_compositions"] == formulas
    assert "training_compositions" not in model_metadata(model, "cvae", 1)


@pytest.mark.slow
def test_cli_export_of_one_model_records_its_training_alloys(tmp_path):
    """`hea-zoo export --model`: a generator trained on the bundled table gets its training
    alloys without flags; --data naming another table is refused with its fingerprint."""
    from hea_zoo.serving.export import read_onnx_metadata, training_formulas

    from hea_zoo.cli import EXIT_DATA
    from tests.support.cli import one_line_error, run

    model = ROOT / "exported" / "keras" / "cae.keras"
    proc = run("export", "--model", str(model), "--out", str(tmp_path / "exp"), "--version", "1")
    assert proc.returncode == 0, proc.stderr
    ds = hea_zoo.load_dataset()
    meta = read_onnx_metadata(tmp_path / "exp" / "cae.onnx")
    assert meta["training_compositions"] == training_formulas(ds.train, ds.elements)

    other = tmp_path / "other.csv"
    other.write_text("composition,shear_modulus,fracture_toughness\n" + "".join(
        f"Nb{20 + i}Ta{30 - i}Ti50,{50 + i},{30 + i}\n" for i in range(30)))  # fmt: skip
    one_line_error(
        run("export", "--model", str(model), "--data", str(other), "--out", str(tmp_path / "b")),
        EXIT_DATA, "trained on another table",
    )  # fmt: skip

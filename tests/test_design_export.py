"""The generator export records its training alloys for `hea-zoo design`
(metadata ``training_compositions``): printed, distinct, readable without pymatgen."""

from __future__ import annotations

import numpy as np

import hea_zoo
from hea_zoo.artifact import decode_metadata, encode_metadata, parse_printed, printed_thousandths


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

"""Shared pieces of the export tests: tiny trained models and the runtimes to compare."""

from __future__ import annotations

import json

import numpy as np
import tensorflow as tf

from hea_zoo.serving import export
from hea_zoo.models import GENERATORS, train_default_generator, train_default_surrogate
from tests.support import ROOT

EXPORTED = ROOT / "exported"
GENERATOR_NAMES = tuple(GENERATORS)  # ("cae", "cvae", "wcgan", "flow")
ALL_NAMES = (*GENERATOR_NAMES, "surrogate")
TOLERANCE = 1e-5
_NEWER_THAN_THE_COMMITTED_EXPORTS = ("flow",)


def committed_names() -> tuple[str, ...]:
    """The models in exported/MANIFEST.json, in `ALL_NAMES` order.

    Every model must be there, except a generator newer than the committed exports (the
    flow), until `hea-zoo export --all --out exported` is run again.
    """
    listed = set(json.loads((EXPORTED / "MANIFEST.json").read_text())["models"])
    missing = set(ALL_NAMES) - listed
    assert missing <= set(_NEWER_THAN_THE_COMMITTED_EXPORTS), sorted(missing)
    return tuple(n for n in ALL_NAMES if n in listed)


STUDY_NAMES = tuple(n for n in GENERATOR_NAMES if n not in _NEWER_THAN_THE_COMMITTED_EXPORTS)
"""The study's generators: the shared tiny exports (the flow's own tests export the flow)."""


def train_tiny_models(dataset, epochs: int = 2, names=STUDY_NAMES) -> dict:
    """The default generators `names` and the surrogate, trained for a few epochs (enough
    for parity checks)."""
    models = {name: train_default_generator(name, dataset, epochs=epochs) for name in names}
    models["surrogate"] = train_default_surrogate(dataset, epochs=epochs)
    return models


def generator_inputs(model, dataset, n: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Standard-normal z and physical-unit conditions (training targets and beyond)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, model.latent_dim)).astype(np.float32)
    rows = rng.integers(0, len(dataset.properties), n)
    conditions = dataset.properties[rows].astype(np.float32)
    conditions[:4] = [[80.0, 40.0], [20.0, 2.0], [150.0, 90.0], [45.0, 12.0]]
    return z, conditions


def keras_outputs(model, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The Keras model's outputs under the export's names."""
    if "z" in inputs:
        return {"composition": model.decode(inputs["z"], inputs["condition"]).numpy()}
    members = model.member_outputs(inputs["composition"]).numpy()
    mean, std = model(inputs["composition"]).numpy(), members.std(axis=0)
    lower, upper = (t.numpy() for t in model.interval_bounds(mean, std, inputs["composition"]))
    return {"properties": mean, "properties_std": std, "properties_lower": lower, "properties_upper": upper}


def saved_model_outputs(path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    serve = export.load_saved_model(path)
    out = serve(**{k: tf.constant(v) for k, v in inputs.items()})
    return {k: v.numpy() for k, v in out.items()}


def onnx_outputs(path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, inputs)))


def max_abs_diff(a: dict, b: dict) -> float:
    assert sorted(a) == sorted(b), (sorted(a), sorted(b))
    return max(float(np.max(np.abs(a[k] - b[k]))) for k in a)


def max_rel_diff(a: dict, b: dict) -> float:
    """Surrogate outputs: largest |a - b| over max(|property|, 1).

    The properties are GPa-sized (50 GPa has a float32 spacing of 4e-6), and the
    ensemble std inherits the members' rounding at that scale, so both outputs are
    compared relative to the property value they belong to.
    """
    assert sorted(a) == sorted(b), (sorted(a), sorted(b))
    scale = np.maximum(np.abs(a["properties"]), 1.0)
    return max(float(np.max(np.abs(a[k] - b[k]) / scale)) for k in a)

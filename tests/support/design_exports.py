"""Exports for the design tests, derived from the committed ONNX files with `onnx` alone.

Copies with extra metadata (the data fingerprint, training compositions, a log-density
model), a surrogate with calibrated-interval outputs, and broken files (truncated,
foreign, metadata missing a key or not parsing). No TensorFlow, so the tests stay fast.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from hea_zoo.artifact import encode_metadata
from tests.support import ROOT

EXPORTED = ROOT / "exported"


def _set_props(model: onnx.ModelProto, updates: dict, remove=()) -> None:
    props = {p.key: p.value for p in model.metadata_props}
    for key in remove:
        props.pop(key, None)
    props.update(encode_metadata(updates))
    del model.metadata_props[:]
    helper.set_model_props(model, props)


def copy_export(name: str, folder: Path, updates: dict | None = None, remove=(), raw: dict | None = None,
                as_name: str | None = None) -> Path:  # fmt: skip
    """`exported/<name>.onnx` copied into `folder` with metadata changes.

    Args:
        updates: metadata to set (encoded as the exports do).
        remove: metadata keys to delete.
        raw: metadata strings to set verbatim (e.g. JSON that does not parse).
        as_name: file stem of the copy (default `name`).
    """
    folder.mkdir(parents=True, exist_ok=True)
    model = onnx.load(str(EXPORTED / f"{name}.onnx"))
    _set_props(model, updates or {}, remove)
    for key, value in (raw or {}).items():
        for prop in model.metadata_props:
            if prop.key == key:
                prop.value = value
                break
        else:
            model.metadata_props.add(key=key, value=value)
    path = folder / f"{as_name or name}.onnx"
    onnx.save(model, str(path))
    return path


def models_dir(folder: Path, generator: str = "cvae", surrogate: bool = True, **generator_changes) -> Path:
    """A folder with a copy of a committed generator (with metadata changes) and the surrogate."""
    copy_export(generator, folder, **generator_changes)
    if surrogate:
        shutil.copy(EXPORTED / "surrogate.onnx", folder / "surrogate.onnx")
    return folder


def calibrated_surrogate(folder: Path, z: float = 2.0) -> Path:
    """The committed surrogate with outputs `properties_lower/upper` = mean ∓ z · std."""
    from tests.support.node_examples import interval_surrogate

    folder.mkdir(parents=True, exist_ok=True)
    return interval_surrogate(EXPORTED / "surrogate.onnx", folder / "surrogate.onnx", z=z, coverage=0.9)


def log_prob_model(path: Path, n_elements: int = 22, n_conditions: int = 2) -> Path:
    """A stand-in log-density: ``Σ_e log(x_e + 0.01) + 0.01 · Σ_p c_p`` (any function will do)."""
    x = helper.make_tensor_value_info("composition", TensorProto.FLOAT, [None, n_elements])
    c = helper.make_tensor_value_info("condition", TensorProto.FLOAT, [None, n_conditions])
    out = helper.make_tensor_value_info("log_prob", TensorProto.FLOAT, [None])
    inits = [
        helper.make_tensor("eps", TensorProto.FLOAT, [], [0.01]),
        helper.make_tensor("axis", TensorProto.INT64, [1], [1]),
    ]
    nodes = [
        helper.make_node("Add", ["composition", "eps"], ["shifted"]),
        helper.make_node("Log", ["shifted"], ["logs"]),
        helper.make_node("ReduceSum", ["logs", "axis"], ["lp_x"], keepdims=0),
        helper.make_node("ReduceSum", ["condition", "axis"], ["sum_c"], keepdims=0),
        helper.make_node("Mul", ["sum_c", "eps"], ["lp_c"]),
        helper.make_node("Add", ["lp_x", "lp_c"], ["log_prob"]),
    ]
    graph = helper.make_graph(nodes, "log_prob", [x, c], [out], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def reference_log_prob(fractions: np.ndarray, target) -> np.ndarray:
    x = np.asarray(fractions, np.float32)
    return np.log(x + np.float32(0.01)).sum(axis=1) + np.float32(0.01) * np.float32(sum(target))


def foreign_onnx(path: Path) -> Path:
    """A valid ONNX file that is not a hea_zoo export (an Identity graph, no metadata)."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 3])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "identity", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def truncated_copy(source: Path, path: Path, keep: float = 0.5) -> Path:
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path

"""Exports trained hea_zoo models to SavedModel (TensorFlow Serving layout) and ONNX.

For a model exported under the name ``name`` into ``export_dir``:

- ``export_dir/<name>/<version>/`` is a SavedModel with a ``serving_default`` signature.
  Generators take ``z`` (float32 ``[batch, latent_dim]``, standard-normal noise) and
  ``condition`` (float32 ``[batch, n_conditions]``, physical units) and return
  ``composition`` (float32 ``[batch, n_elements]``, atomic fractions). The surrogate takes
  ``composition`` and returns ``properties`` (ensemble mean, physical units),
  ``properties_std`` (ensemble standard deviation) and ``properties_lower`` /
  ``properties_upper``, the calibrated interval at the nominal ``coverage`` recorded in
  the metadata (with ``calibration_size``; NaN for a surrogate never calibrated). ``assets.extra/hea_zoo.json`` holds
  the same metadata as the ONNX file (TensorFlow Serving ignores that folder).
- ``export_dir/<name>.onnx`` is the same graph with the same input and output names,
  checked with ``onnx.checker``; its ``metadata_props`` give the element order, the
  condition (or property) names and units, the latent size, the model and package
  versions (lists are JSON-encoded strings; see `read_onnx_metadata`).

The noise is an explicit input, so every runtime gives the same compositions for the same
``z``. Both artifacts are first written in full to temporary names in their final parent
directories (a SavedModel into ``export_dir/<name>/.tmp-<version>-*``, which TensorFlow
Serving ignores because it is not a number; the ONNX file into
``export_dir/.<name>.onnx.tmp-*``) and only then renamed into place, so a failed or
interrupted export never leaves a half-written model where a server would load it.

Example:
    >>> import hea_zoo
    >>> from hea_zoo.models import train_default_generator
    >>> from hea_zoo.serving.export import export_model
    >>> model = train_default_generator("cvae", hea_zoo.load_dataset())  # doctest: +SKIP
    >>> export_model(model, "exported", "cvae")                          # doctest: +SKIP
    ExportResult(name='cvae', version=1, saved_model=..., onnx=...)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

import tensorflow as tf

from hea_zoo._version import __version__
from hea_zoo.artifact import NOISE_SPEC, decode_metadata, encode_metadata

__all__ = [
    "ONNX_OPSET",
    "METADATA_FILE",
    "ExportResult",
    "export_model",
    "export_generator",
    "export_surrogate",
    "serving_function",
    "model_metadata",
    "read_onnx_metadata",
    "read_saved_model_metadata",
    "load_saved_model",
    "sha256_file",
    "artifact_files",
]

ONNX_OPSET = 17
"""ONNX opset the exports target."""

METADATA_FILE = "hea_zoo.json"
"""Name of the metadata file inside a SavedModel's ``assets.extra/`` folder."""

_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """Where an export was written.

    Attributes:
        name: The export name (``cvae``, ``surrogate``, ...).
        version: The SavedModel version folder (a positive integer).
        saved_model: Path of ``<export_dir>/<name>/<version>``.
        onnx: Path of ``<export_dir>/<name>.onnx`` (None if ONNX was not requested).
        metadata: The metadata written into both artifacts.
    """

    name: str
    version: int
    saved_model: Path
    onnx: Path | None
    metadata: dict[str, Any] = dataclasses.field(repr=False)


# --------------------------------------------------------------------------- helpers


def _is_generator(model) -> bool:
    from hea_zoo.models.base import ConditionalGenerator

    return isinstance(model, ConditionalGenerator)


def _is_surrogate(model) -> bool:
    from hea_zoo.models.surrogate import Surrogate

    return isinstance(model, Surrogate)


def _check_exportable(model) -> str:
    """Returns "generator" or "surrogate"; raises if the model cannot be exported."""
    if _is_generator(model):
        kind = "generator"
    elif _is_surrogate(model):
        kind = "surrogate"
    else:
        raise TypeError(
            "Expected a hea_zoo generator (CAE, CVAE, WCGAN) or a hea_zoo Surrogate. "
            f"Received: {type(model).__name__}"
        )
    if not getattr(model, "built", False):
        raise ValueError(
            f"Cannot export an unbuilt {type(model).__name__}: build and train it first "
            "(`model.fit(...)`)."
        )
    if not model.is_trained:
        raise ValueError(
            f"Cannot export an untrained {type(model).__name__}: its weights are random. "
            "Call `model.fit(...)` first (or load a trained .keras file)."
        )
    return kind


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_PATTERN.match(name):
        raise ValueError(
            "`name` must be a non-empty file name of letters, digits, '_', '-' or '.' "
            f"(not starting with '.' or '-'). Received: name={name!r}"
        )
    return name


def _check_version(version: Any, model) -> int:
    if version is None:
        version = getattr(model, "model_version", "1")
    try:
        number = int(str(version))
    except ValueError:
        number = 0
    if number < 1 or str(number) != str(version).strip():
        raise ValueError(
            "`version` must be a positive integer (TensorFlow Serving loads numeric version "
            f"folders). Received: version={version!r}"
        )
    return number


def model_metadata(model, name: str, version: int) -> dict[str, Any]:
    """The metadata recorded with an export (values are str, int or lists of str).

    Args:
        model: A trained generator or surrogate.
        name: The export name.
        version: The export version.

    Returns:
        Dict with ``name``, ``kind`` ("generator"/"surrogate"), ``model_class``,
        ``model_version``, ``export_version``, ``hea_zoo_version``, ``elements``,
        ``inputs``, ``outputs`` and, for generators, ``latent_dim``, ``condition_names``,
        ``condition_units``, ``condition_range`` ([min, max] of the training conditions);
        for the surrogate, ``property_names``, ``property_units``,
        ``n_members``, ``coverage`` (nominal coverage of ``properties_lower`` /
        ``properties_upper``) and ``calibration_size`` (alloys it was calibrated on; 0:
        not calibrated, the interval outputs are NaN).
    """
    kind = "generator" if _is_generator(model) else "surrogate"
    meta: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "model_class": type(model).__name__,
        "model_version": str(model.model_version),
        "export_version": int(version),
        "hea_zoo_version": __version__,
        "elements": list(model.elements),
        "composition_threshold": _drop_threshold(),
        "data_fingerprint": str(getattr(model, "data_fingerprint", None) or ""),
    }
    if kind == "generator":
        meta.update(
            {
                "latent_dim": int(model.latent_dim),
                "condition_range": model.condition_range.astype(float).round(6).tolist(),
                "condition_names": list(model.condition_names),
                "condition_units": list(model.condition_units),
                "inputs": ["z", "condition"],
                "outputs": ["composition"],
                "noise": f"standard normal N(0, I), shape [batch, latent_dim]; seeded draw {NOISE_SPEC} (hea_zoo.artifact.noise)",
            }
        )
    else:
        meta.update(
            {
                "property_names": list(model.property_names),
                "property_units": list(model.property_units),
                "n_members": int(model.n_members),
                "coverage": float(model.coverage),
                "calibration_size": int(model.calibration_size if model.is_calibrated else 0),
                "inputs": ["composition"],
                "outputs": ["properties", "properties_std", "properties_lower", "properties_upper"],
            }
        )
    return meta


def _drop_threshold() -> float:
    from hea_zoo.data.composition import DROP_THRESHOLD

    return float(DROP_THRESHOLD)


def serving_function(model) -> tuple[tf.types.experimental.GenericFunction, list[tf.TensorSpec]]:
    """The `tf.function` that both exports wrap, and its input signature.

    Generators: ``fn(z, condition) -> {"composition": model.decode(z, condition)}``.
    Surrogate: ``fn(composition) -> {"properties": mean, "properties_std": std,
    "properties_lower": lower, "properties_upper": upper}`` over the ensemble members
    (population standard deviation, as `Surrogate.predict_with_uncertainty`; the interval
    as `Surrogate.predict_interval`).

    Args:
        model: A generator or surrogate (built).

    Returns:
        ``(fn, input_signature)``.
    """
    if _is_generator(model):
        signature = [
            tf.TensorSpec([None, model.latent_dim], tf.float32, name="z"),
            tf.TensorSpec([None, model.n_conditions], tf.float32, name="condition"),
        ]

        @tf.function(input_signature=signature)
        def serve(z, condition):
            return {"composition": tf.identity(model.decode(z, condition), name="composition")}

    elif _is_surrogate(model):
        signature = [tf.TensorSpec([None, len(model.elements)], tf.float32, name="composition")]

        @tf.function(input_signature=signature)
        def serve(composition):
            members = model.member_outputs(composition)
            mean = tf.reduce_mean(members, axis=0)
            std = tf.math.reduce_std(members, axis=0)
            lower, upper = model.interval_bounds(mean, std)
            return {
                "properties": tf.identity(mean, name="properties"),
                "properties_std": tf.identity(std, name="properties_std"),
                "properties_lower": tf.identity(lower, name="properties_lower"),
                "properties_upper": tf.identity(upper, name="properties_upper"),
            }

    else:
        raise TypeError(
            "Expected a hea_zoo generator or Surrogate. Received: " f"{type(model).__name__}"
        )
    return serve, signature


def _rename_value(graph, old: str, new: str) -> None:
    """Renames a value (graph input/output or node output) everywhere in an ONNX graph."""
    if old == new:
        return
    for value in list(graph.input) + list(graph.output) + list(graph.value_info):
        if value.name == old:
            value.name = new
    for node in graph.node:
        for i, x in enumerate(node.input):
            if x == old:
                node.input[i] = new
        for i, x in enumerate(node.output):
            if x == old:
                node.output[i] = new


def _build_onnx(model, fn, signature, metadata: dict[str, Any], opset: int):
    """Converts `fn` to an ONNX ModelProto with exact names and metadata; checks it."""
    import onnx
    import tf2onnx

    proto, _ = tf2onnx.convert.from_function(fn, input_signature=signature, opset=opset)
    graph = proto.graph
    expected_inputs = list(metadata["inputs"])
    expected_outputs = list(metadata["outputs"])
    # tf2onnx names inputs after the TensorSpecs (possibly with a ":0" suffix) and keeps
    # the structured outputs in their flattened (sorted-key) order.
    for value, want in zip(list(graph.input), expected_inputs):
        if value.name.split(":")[0] != want:
            raise RuntimeError(f"ONNX conversion produced input {value.name!r}, expected {want!r}.")
        _rename_value(graph, value.name, want)
    got_outputs = [o.name for o in graph.output]
    for want in expected_outputs:
        match = [g for g in got_outputs if g.split(":")[0] == want]
        if not match:
            # Fall back on the flattened order of the structured output (sorted keys).
            position = sorted(expected_outputs).index(want)
            match = [got_outputs[position]]
        _rename_value(graph, match[0], want)
    order = {n: i for i, n in enumerate(expected_outputs)}
    outputs = sorted(graph.output, key=lambda o: order.get(o.name, len(order)))
    del graph.output[:]
    graph.output.extend(outputs)
    if [i.name for i in graph.input] != expected_inputs or [
        o.name for o in graph.output
    ] != expected_outputs:
        raise RuntimeError(
            "ONNX graph names do not match the export contract: inputs "
            f"{[i.name for i in graph.input]} (expected {expected_inputs}), outputs "
            f"{[o.name for o in graph.output]} (expected {expected_outputs})."
        )
    proto.producer_name = "hea_zoo"
    proto.producer_version = __version__
    proto.model_version = int(metadata["export_version"])
    proto.doc_string = (
        f"hea_zoo {metadata['model_class']} '{metadata['name']}' version "
        f"{metadata['export_version']}: inputs {expected_inputs}, outputs {expected_outputs}."
    )
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, _metadata_props(metadata))
    onnx.checker.check_model(proto, full_check=True)
    return proto




def _metadata_props(metadata: dict[str, Any]) -> dict[str, str]:
    """Scalars as plain strings, lists and dicts as JSON (`hea_zoo.artifact.encode_metadata`)."""
    return encode_metadata(metadata)


def _save_saved_model(model, fn, path: Path, metadata: dict[str, Any]) -> None:
    module = tf.Module()
    # Track only the variables the serving graph reads (not encoders, critics or
    # optimizer slots): the SavedModel holds what serving needs and nothing more.
    module.serving_variables = list(fn.get_concrete_function().variables)
    module.serve = fn
    tf.saved_model.save(module, str(path), signatures={"serving_default": fn})
    extra = path / "assets.extra"
    extra.mkdir(exist_ok=True)
    (extra / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")


def _existing_onnx_version(path: Path) -> int | None:
    try:
        return int(read_onnx_metadata(path).get("export_version"))
    except Exception:  # unreadable or foreign file: treat as occupying the name
        return None


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        try:
            path.unlink()
        except OSError:
            pass


def _replace_dir(staged: Path, target: Path) -> None:
    """Moves a staged folder onto `target`; an existing target is swapped out first."""
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".old-{target.name}-", dir=target.parent))
        old.rmdir()
        os.replace(target, old)
        try:
            os.replace(staged, target)
        except BaseException:
            os.replace(old, target)  # put the previous version back
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staged, target)


# --------------------------------------------------------------------------- public API


def export_model(
    model,
    export_dir: str | os.PathLike,
    name: str,
    version: int | str | None = None,
    overwrite: bool = False,
    onnx: bool = True,
    opset: int = ONNX_OPSET,
) -> ExportResult:
    """Exports a trained generator or surrogate as SavedModel and ONNX.

    Writes ``export_dir/<name>/<version>/`` (SavedModel, ``serving_default``) and
    ``export_dir/<name>.onnx``; both are staged under temporary names in their final
    parent folders and renamed into place only once both are complete.

    Args:
        model: A trained `hea_zoo.models` generator (CAE, CVAE, WCGAN) or `Surrogate`.
        export_dir: Root folder of the exports (created if missing).
        name: Export name, e.g. ``"cvae"``.
        version: SavedModel version folder, a positive integer (default: the model's
            ``model_version``).
        overwrite: Replace an existing ``<name>/<version>`` folder, and an existing
            ``<name>.onnx`` of the same version. Without it those raise
            `FileExistsError`. (The ONNX file always holds the most recently exported
            version, so an ONNX file of another version is replaced.)
        onnx: Also write the ONNX file.
        opset: ONNX opset.

    Returns:
        An `ExportResult`.

    Raises:
        TypeError: not a hea_zoo generator or surrogate.
        ValueError: the model is unbuilt or untrained, or a bad name or version.
        FileExistsError: the version exists and ``overwrite`` is False.

    Example:
        >>> export_model(cvae, "exported", "cvae")  # doctest: +SKIP
    """
    _check_exportable(model)
    name = _check_name(name)
    version = _check_version(version, model)
    root = Path(export_dir)
    target_sm = root / name / str(version)
    target_onnx = root / f"{name}.onnx"
    if target_sm.exists() and not overwrite:
        raise FileExistsError(
            f"{target_sm} already exists: version {version} of {name!r} is exported. Pass "
            "overwrite=True to replace it, or export another version."
        )
    if onnx and target_onnx.exists() and not overwrite:
        existing = _existing_onnx_version(target_onnx)
        if existing is None or existing == version:
            raise FileExistsError(
                f"{target_onnx} already exists (version {existing}). Pass overwrite=True "
                "to replace it."
            )
    metadata = model_metadata(model, name, version)
    fn, signature = serving_function(model)

    target_sm.parent.mkdir(parents=True, exist_ok=True)
    staged_sm = Path(tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=target_sm.parent))
    staged_onnx: Path | None = None
    try:
        _save_saved_model(model, fn, staged_sm, metadata)
        if onnx:
            proto = _build_onnx(model, fn, signature, metadata, opset)
            handle, tmp_name = tempfile.mkstemp(prefix=f".{name}.onnx.tmp-", dir=root)
            os.close(handle)
            staged_onnx = Path(tmp_name)
            staged_onnx.write_bytes(proto.SerializeToString())
        _replace_dir(staged_sm, target_sm)
        if staged_onnx is not None:
            os.replace(staged_onnx, target_onnx)
            staged_onnx = None
    finally:
        _remove(staged_sm)
        if staged_onnx is not None:
            _remove(staged_onnx)
    return ExportResult(
        name=name,
        version=version,
        saved_model=target_sm,
        onnx=target_onnx if onnx else None,
        metadata=metadata,
    )


def export_generator(model, export_dir, name: str | None = None, **kwargs) -> ExportResult:
    """`export_model` for a generator; ``name`` defaults to the class name in lower case.

    Example:
        >>> export_generator(cvae, "exported")  # -> exported/cvae/1, exported/cvae.onnx  # doctest: +SKIP
    """
    if not _is_generator(model):
        raise TypeError(
            "export_generator expects a hea_zoo generator (CAE, CVAE, WCGAN). "
            f"Received: {type(model).__name__}"
        )
    return export_model(model, export_dir, name or type(model).__name__.lower(), **kwargs)


def export_surrogate(model, export_dir, name: str = "surrogate", **kwargs) -> ExportResult:
    """`export_model` for the surrogate (``composition`` -> ``properties``, ``properties_std``,
    ``properties_lower``, ``properties_upper``).

    Example:
        >>> export_surrogate(surrogate, "exported")  # -> exported/surrogate/1  # doctest: +SKIP
    """
    if not _is_surrogate(model):
        raise TypeError(
            f"export_surrogate expects a hea_zoo Surrogate. Received: {type(model).__name__}"
        )
    return export_model(model, export_dir, name, **kwargs)


def read_onnx_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata_props of an exported ONNX file.

    Lists (``elements``, ``condition_names``, ...) are stored as JSON and decoded;
    ``export_version``, ``latent_dim`` and ``n_members`` are returned as int,
    ``composition_threshold`` as float, everything else as the stored string.

    Example:
        >>> read_onnx_metadata("exported/cvae.onnx")["elements"][:3]  # doctest: +SKIP
        ['Al', 'Be', 'Co']
    """
    import onnx


    proto = onnx.load(str(path), load_external_data=False)
    return decode_metadata({prop.key: prop.value for prop in proto.metadata_props})


def read_saved_model_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata stored in ``<saved_model>/assets.extra/hea_zoo.json``."""
    return json.loads((Path(path) / "assets.extra" / METADATA_FILE).read_text())


def load_saved_model(path: str | os.PathLike) -> Callable[..., dict[str, tf.Tensor]]:
    """The ``serving_default`` signature of an exported SavedModel.

    Example:
        >>> serve = load_saved_model("exported/cvae/1")  # doctest: +SKIP
        >>> serve(z=tf.zeros([1, 8]), condition=tf.constant([[80.0, 40.0]]))["composition"]  # doctest: +SKIP
    """
    loaded = tf.saved_model.load(str(path))
    fn = loaded.signatures["serving_default"]
    fn._hea_zoo_loaded = loaded  # keep the object (and its variables) alive
    return fn


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def artifact_files(root: str | os.PathLike, exclude: tuple[str, ...] = ()) -> dict[str, dict]:
    """Every file under `root` (relative POSIX path -> ``{"sha256", "bytes"}``), sorted.

    Args:
        root: Folder to walk.
        exclude: Relative paths to leave out (e.g. the manifest itself).
    """
    root = Path(root)
    out = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel in exclude:
            continue
        out[rel] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    return out


"""Exports trained hea_zoo models to SavedModel (TensorFlow Serving layout) and ONNX.

For a model exported under the name ``name`` into ``export_dir``:

- ``export_dir/<name>/<version>/`` is a SavedModel with a ``serving_default`` signature.
  Generators take ``z`` (float32 ``[batch, latent_dim]``, standard-normal noise) and
  ``condition`` (float32 ``[batch, n_conditions]``, physical units) and return
  ``composition`` (float32 ``[batch, n_elements]``, atomic fractions). The surrogate takes
  ``composition`` and returns ``properties`` (ensemble mean, physical units),
  ``properties_std`` (ensemble standard deviation) and ``properties_lower`` /
  ``properties_upper``, the calibrated interval at the nominal ``coverage`` recorded in
  the metadata (with ``calibration_size``; NaN for a surrogate never calibrated); a
  surrogate trained with measurement settings (the test temperature) also takes
  ``settings`` (float32 ``[batch, n_settings]``, physical units, named in the metadata's
  ``setting_names``). Properties that cannot be negative (metadata ``nonnegative``) have
  their outputs clipped at 0 in the graph. ``assets.extra/hea_zoo.json`` holds
  the same metadata as the ONNX file (TensorFlow Serving ignores that folder).
- ``export_dir/<name>.onnx`` is the same graph with the same input and output names,
  checked with ``onnx.checker``; its ``metadata_props`` give the element order, the
  condition (or property) names and units, the latent size, the model and package
  versions (lists are JSON-encoded strings; see `read_onnx_metadata`).
- A generator with a density (the flow, `hea_zoo.models.CFlow`) also gets a ``log_prob``
  signature in the SavedModel and ``export_dir/<name>_log_prob.onnx``: inputs
  ``composition`` (float32 ``[batch, n_elements]``) and ``condition`` (float32
  ``[batch, n_conditions]``, physical units), output ``log_prob`` (float32 ``[batch]``,
  nats per alloy); the metadata names them (``log_prob_model``, ``log_prob_signature``),
  and `hea-zoo design` prints the ``log_prob`` of each design.

The noise is an explicit input, so every runtime gives the same compositions for the same
``z``.

Versions. TensorFlow Serving does not reload a version number it already serves, so a new
export gets a new number: by default the next one (the highest existing version + 1).
Re-exporting an existing version needs ``overwrite`` and is a crash-safe swap.

Crash safety. The SavedModel is written in full into a hidden staging folder beside its
version folder (``<name>/.v<version>.<16 hex>.tmp``; TensorFlow Serving skips names that
are not numbers) and then moved into place in one step (`hea_zoo.files.replace_directory`:
a rename, or an atomic swap for an overwrite), so a server or reader always finds the
previous complete version or the new one, never none and never a part. Where the file
system has no atomic swap (NFS, some FUSE mounts) version folders are relative symlinks to
hidden ``<name>/.v<version>-<16 hex>`` folders, switched by renaming a new link over the
old; TensorFlow, ``saved_model_cli`` and TensorFlow Serving follow them (docs/SERVING.md).
The ONNX file, written through `hea_zoo.files.atomic_write`, is replaced only by a version
at least as new as the one it holds. Files get the umask's normal modes (0644/0755 under
umask 022), so a server running as another user can read them. Hidden temporary folders a
killed export left behind are removed by the next export (after an hour).

Example:
    >>> import hea_zoo
    >>> from hea_zoo.models import train_default_generator
    >>> from hea_zoo.serving.export import export_model
    >>> model = train_default_generator("cvae", hea_zoo.load_dataset())  # doctest: +SKIP
    >>> print(export_model(model, "exported", "cvae"))                   # doctest: +SKIP
    cvae version 1: SavedModel exported/cvae/1, ONNX exported/cvae.onnx
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, Callable

import hea_zoo._tensorflow  # noqa: F401  (TensorFlow's start-up lines kept off the terminal)
import tensorflow as tf

from hea_zoo._version import __version__
from hea_zoo.artifact import NOISE_SPEC, decode_metadata, encode_metadata
from hea_zoo.errors import UsageError
from hea_zoo.files import (
    atomic_write,
    folder_lock,
    remove_stale,
    replace_directory,
    staged_directory,
    write_bytes,
    write_text,
)

__all__ = [
    "ONNX_OPSET",
    "METADATA_FILE",
    "ExportResult",
    "export_model",
    "existing_versions",
    "next_version",
    "export_generator",
    "export_surrogate",
    "serving_function",
    "log_prob_function",
    "model_metadata",
    "training_formulas",
    "read_onnx_metadata",
    "read_saved_model_metadata",
    "load_saved_model",
    "sha256_file",
    "artifact_files",
    "MANIFEST",
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
        onnx: Path of ``<export_dir>/<name>.onnx`` (None if it was not written: not
            requested, or it holds a newer version).
        metadata: The metadata written into both artifacts.
        replaced: True if an existing version was overwritten.
        log_prob_onnx: Path of ``<export_dir>/<name>_log_prob.onnx`` for a generator with a
            density (None otherwise, or if the ONNX files were not written).
    """

    name: str
    version: int
    saved_model: Path
    onnx: Path | None
    metadata: dict[str, Any] = dataclasses.field(repr=False)
    replaced: bool = False
    log_prob_onnx: Path | None = None

    def __str__(self) -> str:
        """One line for people: ``cvae version 2: SavedModel exported/cvae/2, ONNX exported/cvae.onnx``."""
        onnx = f", ONNX {self.onnx}" if self.onnx is not None else ""
        if self.log_prob_onnx is not None:
            onnx += f" and {self.log_prob_onnx}"
        return f"{self.name} version {self.version}{' (replaced)' if self.replaced else ''}: SavedModel {self.saved_model}{onnx}"


# --------------------------------------------------------------------------- helpers


def _is_generator(model) -> bool:
    from hea_zoo.models.base import ConditionalGenerator

    return isinstance(model, ConditionalGenerator)


def _has_log_prob(model) -> bool:
    return _is_generator(model) and callable(getattr(model, "log_prob", None))


def _log_prob_onnx_name(name: str) -> str:
    return f"{name}_log_prob.onnx"


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
            "Expected a hea_zoo generator (CAE, CVAE, WCGAN, CFlow) or a hea_zoo Surrogate. "
            f"Received: {type(model).__name__}"
        )
    if not getattr(model, "built", False):
        raise UsageError(
            f"cannot export an unbuilt {type(model).__name__}: build and train it first "
            "(`model.fit(...)`).",
            field="model",
        )
    if not model.is_trained:
        raise UsageError(
            f"cannot export an untrained {type(model).__name__}: its weights are random. "
            "Call `model.fit(...)` first (or load a trained .keras file).",
            field="model",
        )
    return kind


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_PATTERN.match(name):
        raise UsageError(
            "must be a non-empty file name of letters, digits, '_', '-' or '.' "
            f"(not starting with '.' or '-'). Received: {name!r}",
            field="name",
        )
    return name


def _check_version(version: Any) -> int:
    try:
        number = int(str(version))
    except ValueError:
        number = 0
    if isinstance(version, bool) or number < 1 or str(number) != str(version).strip():
        raise UsageError(
            "must be a positive integer (TensorFlow Serving loads numeric version "
            f"folders). Received: {version!r}",
            field="version",
        )
    return number


def existing_versions(model_dir: str | os.PathLike) -> list[int]:
    """The version numbers exported in ``<export_dir>/<name>``, sorted: every numeric name
    (a folder, or a link to one), as TensorFlow Serving reads them. Hidden staging folders
    are not versions."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        return []
    return sorted(int(p.name) for p in model_dir.iterdir() if p.name.isdigit() and (p.is_dir() or p.is_symlink()))


def next_version(export_dir: str | os.PathLike, name: str) -> int:
    """The version a new export of `name` gets: the highest existing version + 1 (1 if none)."""
    versions = existing_versions(Path(export_dir) / name)
    return versions[-1] + 1 if versions else 1


def training_formulas(compositions, elements) -> list[str]:
    """Distinct printed formulas of training compositions (metadata ``training_compositions``).

    Args:
        compositions: an ``(N, E)`` array of fractions, a `Dataset` (its compositions) or
            a list of formula strings.
        elements: the element order.
    """
    import numpy as np

    from hea_zoo.artifact import formula_strings, printed_thousandths

    values = getattr(compositions, "compositions", compositions)
    if len(values) and isinstance(values[0], str):
        from hea_zoo.data.composition import parse_formulas

        values = parse_formulas(list(values), elements)
    k, ok = printed_thousandths(np.asarray(values, dtype=np.float64))
    return list(dict.fromkeys(formula_strings(k[ok], elements)))


def model_metadata(model, name: str, version: int, training_compositions=None) -> dict[str, Any]:
    """The metadata recorded with an export (values are str, int or lists of str).

    Args:
        model: A trained generator or surrogate.
        name: The export name.
        version: The export version.

    Returns:
        Dict with ``name``, ``kind`` ("generator"/"surrogate"), ``model_class``,
        ``model_version``, ``export_version``, ``hea_zoo_version``, ``elements``,
        ``inputs``, ``outputs`` and, for generators, ``latent_dim``, ``condition_names``,
        ``condition_units``, ``condition_range`` ([min, max] of the training conditions)
        and, when given (argument or the model's ``training_compositions`` attribute),
        ``training_compositions`` (the training alloys' printed formulas, which
        `hea-zoo design` checks constraints against); a generator with a density (the
        flow) adds ``log_prob_model`` (the ONNX file name), ``log_prob_signature``,
        ``log_prob_inputs``, ``log_prob_outputs`` and ``log_prob_units``; for the surrogate, ``property_names``, ``property_units``,
        ``n_members``, ``descriptors`` (the element properties it reads, `Surrogate`),
        ``nonnegative`` (per property: predictions and interval ends clipped at 0),
        ``priors`` (per property its physical prior, ``""`` for none; only when one has
        a prior: `hea_zoo.models.surrogate.priors`, computed in the graph),
        ``setting_names`` and ``setting_units`` with a ``settings`` input (float32
        [batch, n_settings], physical units) for a surrogate with measurement settings
        (a generator with settings lists them in ``setting_names``: its last
        conditions), ``coverage`` (nominal coverage of ``properties_lower`` /
        ``properties_upper``), ``calibration_size`` (alloys it was calibrated on; 0:
        not calibrated, the interval outputs are NaN), ``interval_method`` (how the
        graph computes the interval) and ``calibration_method`` (a held-out split or
        K-fold cross-conformal scores; `hea_zoo.models.calibration`).
    """
    from hea_zoo.models import calibration

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
        if getattr(model, "setting_names", ()):
            # The last conditions are measurement settings: fixed values when designing.
            meta["setting_names"] = list(model.setting_names)
        if _has_log_prob(model):
            meta.update(
                {
                    "log_prob_model": _log_prob_onnx_name(name),
                    "log_prob_signature": "log_prob",
                    "log_prob_inputs": ["composition", "condition"],
                    "log_prob_outputs": ["log_prob"],
                    "log_prob_units": "nats per alloy",
                }
            )
        if training_compositions is None:
            training_compositions = getattr(model, "training_compositions", None)
        if training_compositions is not None:
            meta["training_compositions"] = training_formulas(training_compositions, model.elements)
    else:
        meta.update(
            {
                "property_names": list(model.property_names),
                "property_units": list(model.property_units),
                "n_members": int(model.n_members),
                "descriptors": list(getattr(model, "descriptors", ())),
                "coverage": float(model.coverage),
                "calibration_size": int(model.calibration_size if model.is_calibrated else 0),
                "interval_method": (calibration.INTERVAL_METHOD if getattr(model, "distance_rows", 0)
                                    else calibration.SPREAD_INTERVAL_METHOD),  # fmt: skip
                "calibration_method": calibration.calibration_method(model.calibration_folds),
                "inputs": ["composition", "settings"] if getattr(model, "settings", ()) else ["composition"],
                "outputs": ["properties", "properties_std", "properties_lower", "properties_upper"],
                "nonnegative": [bool(v) for v in getattr(model, "nonnegative", ())],
            }
        )
        if getattr(model, "settings", ()):
            meta["setting_names"] = list(model.settings)
            meta["setting_units"] = list(model.setting_units)
        if any(getattr(model, "priors", ())):  # (exports without priors keep their metadata)
            meta["priors"] = list(model.priors)
    return meta


def _drop_threshold() -> float:
    from hea_zoo.data.composition import DROP_THRESHOLD

    return float(DROP_THRESHOLD)


def _surrogate_outputs(model, inputs) -> dict:
    """The surrogate's serving outputs (mean, spread, calibrated interval ends), named."""
    mean, std = model.moments(inputs)
    lower, upper = model.interval_bounds(mean, std, inputs)
    return {
        "properties": tf.identity(mean, name="properties"),
        "properties_std": tf.identity(std, name="properties_std"),
        "properties_lower": tf.identity(lower, name="properties_lower"),
        "properties_upper": tf.identity(upper, name="properties_upper"),
    }


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

        # `decode` has no tensor-dependent Python control flow: tracing it as written
        # (no AutoGraph conversion) gives the same graph, seconds sooner for the flow.
        @tf.function(input_signature=signature, autograph=False)
        def serve(z, condition):
            return {"composition": tf.identity(model.decode(z, condition), name="composition")}

    elif _is_surrogate(model) and getattr(model, "settings", ()):
        # A surrogate with measurement settings takes them as a second named input.
        signature = [
            tf.TensorSpec([None, len(model.elements)], tf.float32, name="composition"),
            tf.TensorSpec([None, len(model.settings)], tf.float32, name="settings"),
        ]

        @tf.function(input_signature=signature)
        def serve(composition, settings):
            return _surrogate_outputs(model, tf.concat([composition, settings], axis=-1))

    elif _is_surrogate(model):
        signature = [tf.TensorSpec([None, len(model.elements)], tf.float32, name="composition")]

        @tf.function(input_signature=signature)
        def serve(composition):
            return _surrogate_outputs(model, composition)

    else:
        raise TypeError(
            "Expected a hea_zoo generator or Surrogate. Received: " f"{type(model).__name__}"
        )
    return serve, signature


def log_prob_function(model) -> tuple[tf.types.experimental.GenericFunction, list[tf.TensorSpec]]:
    """The `tf.function` of a generator's log-density, and its input signature.

    ``fn(composition, condition) -> {"log_prob": model.log_prob(composition, condition)}``
    (nats per alloy, conditions in physical units).

    Raises:
        TypeError: the model has no ``log_prob`` (only the flow has one).
    """
    if not _has_log_prob(model):
        raise TypeError(
            "Expected a hea_zoo generator with a `log_prob` method (CFlow). Received: "
            f"{type(model).__name__}"
        )
    signature = [
        tf.TensorSpec([None, model.n_elements], tf.float32, name="composition"),
        tf.TensorSpec([None, model.n_conditions], tf.float32, name="condition"),
    ]

    @tf.function(input_signature=signature, autograph=False)
    def log_prob(composition, condition):
        return {"log_prob": tf.identity(model.log_prob(composition, condition), name="log_prob")}

    return log_prob, signature


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


def _save_saved_model(model, fn, path: Path, metadata: dict[str, Any], extra_signatures=None) -> None:
    module = tf.Module()
    signatures = {"serving_default": fn, **(extra_signatures or {})}
    # Track only the variables the serving graphs read (not encoders, critics or
    # optimizer slots): the SavedModel holds what serving needs and nothing more.
    variables = {}
    for function in signatures.values():
        for v in function.get_concrete_function().variables:
            variables.setdefault(id(v), v)
    module.serving_variables = list(variables.values())
    module.serve = fn
    for key, function in (extra_signatures or {}).items():
        setattr(module, key, function)
    tf.saved_model.save(module, str(path), signatures=signatures)
    extra = path / "assets.extra"
    extra.mkdir(exist_ok=True)
    (extra / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")


def _existing_onnx_version(path: Path) -> int | None:
    try:
        return int(read_onnx_metadata(path).get("export_version"))
    except Exception:  # unreadable or foreign file: treat as occupying the name
        return None


# --------------------------------------------------------------------------- public API


def export_model(
    model,
    export_dir: str | os.PathLike,
    name: str,
    version: int | str | None = None,
    overwrite: bool = False,
    onnx: bool = True,
    opset: int = ONNX_OPSET,
    training_compositions=None,
) -> ExportResult:
    """Exports a trained generator or surrogate as SavedModel and ONNX.

    Writes ``export_dir/<name>/<version>/`` (SavedModel, ``serving_default``) and
    ``export_dir/<name>.onnx``; for a generator with a density (the flow) also a
    ``log_prob`` signature and ``export_dir/<name>_log_prob.onnx``. All are complete before either is moved into place; the
    version folder is moved in one step (an atomic swap when it replaces one), so a server
    always finds a loadable version.

    Args:
        model: A trained `hea_zoo.models` generator (CAE, CVAE, WCGAN, CFlow) or `Surrogate`.
        export_dir: Root folder of the exports (created if missing).
        name: Export name, e.g. ``"cvae"``.
        version: SavedModel version, a positive integer (default: the next one, the
            highest version already in ``export_dir/<name>`` + 1, or 1).
        overwrite: Replace an existing ``<name>/<version>`` (a crash-safe swap). Without
            it an existing version raises `hea_zoo.errors.UsageError`. A running TensorFlow Serving
            keeps serving the version it loaded: export a new version to roll out.
        onnx: Also write the ONNX file. It holds the newest version: it is replaced by a
            version at least as new as its own, and left alone by an older one.
        opset: ONNX opset.
        training_compositions: a generator's training alloys (``(N, E)`` fractions, a
            `Dataset` or formulas), recorded as ``training_compositions`` so that
            `hea-zoo design` can warn when constraints exclude every one of them.

    Returns:
        An `ExportResult` (``str(result)`` is a one-line summary).

    Raises:
        TypeError: not a hea_zoo generator or surrogate.
        UsageError: the model is unbuilt or untrained (field ``model``), a bad name
            (``name``) or version (``version``); the version exists, or ``<name>.onnx``
            is not a hea_zoo export, and ``overwrite`` is False (field ``overwrite``).
            `hea_zoo.errors.UsageError` is a `ValueError`.

    Example:
        >>> export_model(cvae, "exported", "cvae")  # doctest: +SKIP
    """
    _check_exportable(model)
    name = _check_name(name)
    root = Path(export_dir)
    base = root / name
    if version is not None:
        version = _check_version(version)
    base.mkdir(parents=True, exist_ok=True)
    # One export of a name at a time: the version is chosen, checked and installed under
    # the lock, so concurrent exports get distinct versions and none is lost.
    with folder_lock(base):
        if version is None:
            version = next_version(root, name)
        target_sm = base / str(version)
        target_onnx = root / f"{name}.onnx"
        exists = os.path.lexists(target_sm)
        if exists and not overwrite:
            raise UsageError(
                f"{target_sm} already exists: version {version} of {name!r} is exported. It is "
                "replaced only on request; or export another version (the default is the next one).",
                field="overwrite",
            )
        write_onnx = onnx
        if onnx and os.path.lexists(target_onnx):
            held = _existing_onnx_version(target_onnx)
            if held is None and not overwrite:
                raise UsageError(
                    f"{target_onnx} already exists and is not a hea_zoo export; it is replaced "
                    "only on request.",
                    field="overwrite",
                )
            if held is not None and held > version:
                write_onnx = False  # it holds a newer version
        metadata = model_metadata(model, name, version, training_compositions)
        fn, signature = serving_function(model)
        extra = {"log_prob": log_prob_function(model)} if _has_log_prob(model) else {}
        target_lp = root / _log_prob_onnx_name(name) if extra else None

        remove_stale(root)
        remove_stale(base)
        with staged_directory(base, f"v{version}") as staged:
            _save_saved_model(model, fn, staged, metadata, {key: f for key, (f, _) in extra.items()})
            payload = _build_onnx(model, fn, signature, metadata, opset).SerializeToString() if write_onnx else None
            lp_payload = None
            if write_onnx and extra:
                lp_fn, lp_signature = extra["log_prob"]
                lp_metadata = dict(metadata, inputs=metadata["log_prob_inputs"], outputs=metadata["log_prob_outputs"])
                lp_payload = _build_onnx(model, lp_fn, lp_signature, lp_metadata, opset).SerializeToString()
            replace_directory(staged, target_sm)
        if lp_payload is not None:
            write_bytes(target_lp, lp_payload)  # before the generator graph that names it
        if payload is not None:
            write_bytes(target_onnx, payload)
    return ExportResult(
        name=name,
        version=version,
        saved_model=target_sm,
        onnx=target_onnx if payload is not None else None,
        metadata=metadata,
        replaced=exists,
        log_prob_onnx=target_lp if lp_payload is not None else None,
    )


def export_generator(model, export_dir, name: str | None = None, **kwargs) -> ExportResult:
    """`export_model` for a generator; ``name`` defaults to the class name in lower case.

    Example:
        >>> export_generator(cvae, "exported")  # -> exported/cvae/1, exported/cvae.onnx  # doctest: +SKIP
    """
    if not _is_generator(model):
        raise TypeError(
            "export_generator expects a hea_zoo generator (CAE, CVAE, WCGAN, CFlow). "
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

    Version folders are listed under their version name (``cvae/1/saved_model.pb``)
    whether they are real folders or links to hidden ones; hidden files and folders
    (staging folders, the targets of version links) are left out.

    Args:
        root: Folder to walk.
        exclude: Relative paths to leave out (e.g. the manifest itself).
    """
    root = Path(root)
    found = []
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for file in files:
            if not file.startswith("."):
                found.append(Path(folder) / file)
    out = {}
    for path in sorted(found, key=lambda p: p.relative_to(root).as_posix()):
        rel = path.relative_to(root).as_posix()
        if rel in exclude or not path.is_file():
            continue
        out[rel] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    return out


MANIFEST = "MANIFEST.json"
"""Name of the manifest `hea_zoo.workflows.export_all` writes beside the exports."""

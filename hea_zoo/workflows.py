"""The workflows that chain the layers: train the default models on a table, score them,
then write a report (`reproduce`) or export them with a manifest (`export_all`).

This module sits above evaluation and serving (data -> models -> evaluation -> serving ->
workflows -> cli): it is the one place that trains "every default model" of a table, and
the commands ``hea-zoo reproduce`` and ``hea-zoo export --all`` are thin wrappers of it.

``quick`` means the same everywhere: a smoke test, not a result. Unless given, generators
train for `QUICK.epochs` (5) epochs and the surrogate for `QUICK.surrogate_epochs` (10),
and at most `QUICK.n_per_condition` (100) designs are drawn per condition; epochs given
explicitly win.

The library does not print: step messages go to the ``progress`` callable (e.g.
`hea_zoo.progress.Steps`, which the command line passes) and to the ``hea_zoo.workflows``
logger; results are returned.

Example:
    >>> import hea_zoo
    >>> from hea_zoo import workflows
    >>> workflows.reproduce(out="report", quick=True)                          # doctest: +SKIP
    >>> data = hea_zoo.load_dataset("my.csv", composition_column="formula",
    ...                             properties=["hardness"])                    # doctest: +SKIP
    >>> workflows.export_all("my_models", dataset=data)                        # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import os
import platform
import time
from collections.abc import Sequence
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, Callable

from hea_zoo._version import __version__
from hea_zoo.constants import GENERATOR_NAMES, SURROGATE_NAME, short_label
from hea_zoo.errors import ModelFileError, UsageError
from hea_zoo.serving.export import MANIFEST

__all__ = [
    "QUICK",
    "QuickSettings",
    "TrainedModels",
    "Reproduction",
    "MANIFEST",
    "run_settings",
    "train_default_models",
    "generator_metrics",
    "export_all",
    "reproduce",
]

logger = logging.getLogger(__name__)

_NOT_HASHED = (MANIFEST, "README.md")  # the manifest itself and a hand-written README
_PACKAGES = ("tensorflow", "keras", "tensorflow-probability", "tf2onnx", "onnx", "onnxruntime", "numpy", "pymatgen")

Progress = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class QuickSettings:
    """What ``quick=True`` means: the settings of a smoke test (not a result).

    Attributes:
        epochs: generator epochs unless given.
        surrogate_epochs: surrogate epochs unless given.
        n_per_condition: the most designs drawn per condition.
    """

    epochs: int = 5
    surrogate_epochs: int = 10
    n_per_condition: int = 100


QUICK = QuickSettings()
"""The one meaning of ``quick`` (`reproduce`, `export_all`, ``--quick``)."""


def run_settings(
    epochs: int | None, surrogate_epochs: int | None, n_per_condition: int, quick: bool
) -> tuple[int | None, int | None, int]:
    """``(epochs, surrogate_epochs, n_per_condition)`` after ``quick`` (see `QUICK`)."""
    if not quick:
        return epochs, surrogate_epochs, n_per_condition
    return (
        epochs or QUICK.epochs,
        surrogate_epochs or QUICK.surrogate_epochs,
        min(n_per_condition, QUICK.n_per_condition),
    )


def _say(progress: Progress | None) -> Progress:
    def say(message: str) -> None:
        logger.info(message)
        if progress is not None:
            progress(message)

    return say


def _check_models(models: Sequence[str]) -> list[str]:
    from hea_zoo.models import get_generator_class

    names = [str(m).lower() for m in models]
    for name in names:
        try:
            get_generator_class(name)
        except UsageError as err:  # the valid names, said of this function's parameter
            raise UsageError(err.message, field="models") from None
    return names


# ------------------------------------------------------------------------ training
@dataclasses.dataclass
class TrainedModels:
    """The default models of one table.

    Attributes:
        dataset: the table they were trained on (or that they fit, when loaded).
        surrogate: the surrogate.
        generators: generator name -> trained generator, in the order asked.
        training: model name -> how it was obtained (``epochs``, ``seed``, ``seconds``; or
            ``loaded_from``).
    """

    dataset: Any
    surrogate: Any
    generators: dict[str, Any]
    training: dict[str, dict]

    def items(self):
        """``(name, model)`` pairs: the surrogate first, then the generators."""
        return [(SURROGATE_NAME, self.surrogate), *self.generators.items()]


def _load_keras(directory: Path, name: str):
    import keras

    import hea_zoo.models  # noqa: F401  (registers the classes)

    path = directory / f"{name}.keras"
    if not path.is_file():
        raise ModelFileError(
            f"{directory}: no {path.name} there (expected one .keras file per exported model).", field="from_dir"
        )
    try:
        return keras.saving.load_model(path)
    except Exception as err:  # keras raises many types for damaged or foreign files
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ModelFileError(f"{path} is not a hea_zoo model file, or it is damaged: {first[:200]}", field="from_dir") from None


def _check_fits(model, dataset, path: Path) -> None:
    """A loaded model must speak the table's elements and properties."""
    names = tuple(getattr(model, "condition_names", None) or getattr(model, "property_names", ()))
    if tuple(model.elements) != tuple(dataset.elements) or names != tuple(dataset.property_names):
        raise ModelFileError(
            f"{path} was trained on elements {', '.join(model.elements)} and properties "
            f"{', '.join(names)}; the table has elements {', '.join(dataset.elements)} and "
            f"properties {', '.join(dataset.property_names)}.",
            field="from_dir",
        )


def train_default_models(
    dataset=None,
    models: Sequence[str] = GENERATOR_NAMES,
    epochs: int | None = None,
    surrogate_epochs: int | None = None,
    seed: int = 0,
    from_dir: str | os.PathLike | None = None,
    verbose: int | str = "auto",
    progress: Progress | None = None,
) -> TrainedModels:
    """Trains the surrogate and each generator of `models` with their measured defaults
    (`hea_zoo.models.train_default_surrogate`, `train_default_generator`) on `dataset`, or
    loads them from ``<from_dir>/<name>.keras``.

    Args:
        dataset: a `hea_zoo.Dataset` (None: the bundled 529 alloys).
        models: generator names.
        epochs: generator epochs (None: each model's default).
        surrogate_epochs: surrogate epochs (None: its default).
        seed: training seed.
        from_dir: load the models from this folder instead of training (each must fit
            `dataset`'s elements and properties).
        verbose: ``"auto"``: a progress bar per training on stderr; 0: silent; 1 or 2:
            Keras's own output.
        progress: called with one-line step messages.

    Raises:
        UsageError: an unknown model name (field ``models``).
        ModelFileError: a file of `from_dir` is missing, damaged or fits another table
            (field ``from_dir``).
    """
    from hea_zoo.data.datasets import load_dataset
    from hea_zoo.models import DEFAULT_HYPERPARAMETERS, SURROGATE_DEFAULTS
    from hea_zoo.models import train_default_generator, train_default_surrogate

    say = _say(progress)
    models = _check_models(models)
    if dataset is None:
        dataset = load_dataset()
    source = None if from_dir is None else Path(from_dir)
    loaded, training = {}, {}
    for name in [SURROGATE_NAME, *models]:
        start = time.perf_counter()
        if source is not None:
            say(f"{name}: loading {source / (name + '.keras')}")
            loaded[name] = _load_keras(source, name)
            _check_fits(loaded[name], dataset, source / f"{name}.keras")
            training[name] = {"loaded_from": str(source / f"{name}.keras")}
            continue
        if name == SURROGATE_NAME:
            n = surrogate_epochs or SURROGATE_DEFAULTS["epochs"]
            say(f"{name}: training ({n} epochs)")
            loaded[name] = train_default_surrogate(dataset, epochs=surrogate_epochs, seed=seed, verbose=verbose)
        else:
            n = epochs or DEFAULT_HYPERPARAMETERS[name]["epochs"]
            say(f"{name}: training ({n} epochs)")
            loaded[name] = train_default_generator(name, dataset, epochs=epochs, seed=seed, verbose=verbose)
        training[name] = {"epochs": n, "seed": seed, "seconds": round(time.perf_counter() - start, 1)}
    surrogate = loaded.pop(SURROGATE_NAME)
    return TrainedModels(dataset, surrogate, loaded, training)


def generator_metrics(model, dataset, surrogate, n_per_condition: int, seed: int) -> dict:
    """MAPE (surrogate- and, where it applies, oracle-judged), diversity, validity,
    uniqueness, hit rate and copy rate on the study's line conditions (from the 5th to
    the 95th percentile of every property). A table with measurement settings is designed
    and judged at the median of each setting over the training rows (the protocol says
    which value)."""
    import numpy as np

    from hea_zoo.evaluation import experiments

    settings = None
    at = ""
    if getattr(dataset, "setting_names", ()):
        medians = np.nanmedian(np.asarray(dataset.train.settings, np.float64), axis=0)
        settings = {name: float(v) for name, v in zip(dataset.setting_names, medians)}
        at = ", at " + ", ".join(
            f"{name} {v:g}{' ' + u if u else ''} (the training median)"
            for (name, v), u in zip(settings.items(), dataset.setting_units)
        )
    run = experiments.run_line(model, dataset, surrogate, n_per_condition=n_per_condition, seed=seed,
                               settings=settings)  # fmt: skip
    m = experiments.compute_run_metrics(
        run, dataset.property_names, training_compositions=dataset.train.compositions
    ).to_dict()
    low = ", ".join(f"q5 {short_label(p)}" for p in dataset.property_names)
    high = ", ".join(f"q95 {short_label(p)}" for p in dataset.property_names)
    return {
        "protocol": f"line: {m['n_conditions']} conditions from ({low}) to ({high}){at}, "
        f"{m['n_per_condition']} designs each, seed {seed}",
        "mape_surrogate_percent": m["mape_surrogate"],
        "mape_oracle_percent": m["mape_oracle"],
        "cosine_similarity": m["cosine_similarity"],
        "validity": m["validity"],
        "uniqueness": m["uniqueness"],
        "hit_rate_oracle": m["hit_rate_oracle"],
        "copy_rate": None if m["nearest_training"] is None else m["nearest_training"]["copy_rate"],
    }


# --------------------------------------------------------------------------- export_all
def _package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version(), "hea_zoo": __version__}
    for package in _PACKAGES:
        try:
            versions[package] = importlib_metadata.version(package)
        except importlib_metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def _versions_for(output: Path, names: Sequence[str], version: int | None, overwrite: bool) -> dict[str, int]:
    """The version each model will get; raises before any training if one is refused."""
    from hea_zoo.serving.export import existing_versions

    chosen = {}
    for name in names:
        existing = existing_versions(output / name)
        if version is None:
            chosen[name] = existing[-1] + 1 if existing else 1
            continue
        if version in existing and not overwrite:
            raise UsageError(
                f"{output / name / str(version)} already exists; it is replaced only on request "
                "(or export the next version, the default).",
                field="overwrite",
            )
        if existing and version < existing[-1]:
            raise UsageError(
                f"version {version} of {name!r} is older than the exported version "
                f"{existing[-1]}: export_all writes the newest version (its ONNX and .keras "
                "files hold the newest). Export the old version with export_model instead.",
                field="version",
            )
        chosen[name] = version
    return chosen


def export_all(
    out: str | os.PathLike = "exported",
    from_dir: str | os.PathLike | None = None,
    models: Sequence[str] = GENERATOR_NAMES,
    version: int | None = None,
    overwrite: bool = False,
    epochs: int | None = None,
    surrogate_epochs: int | None = None,
    seed: int = 0,
    n_per_condition: int = 2000,
    quick: bool = False,
    command: str | None = None,
    progress: Progress | None = None,
    dataset=None,
    verbose: int | str = "auto",
) -> Path:
    """Trains (or loads) the default models of a table and exports them all.

    For each generator in `models` and the surrogate: ``<out>/<name>/<version>/``
    (SavedModel), ``<out>/<name>.onnx`` and ``<out>/keras/<name>.keras``; then
    ``<out>/descriptors.json`` (the exact descriptors' element table, for the JavaScript
    engine), ``<out>/MANIFEST.json`` with the model versions, the metrics each scored (surrogate
    held-out R² and MAPE; generators' MAPE judged by the surrogate and, where it applies,
    by the oracle, within-condition cosine similarity on the study's 20 line conditions),
    the sha256 and size of every file, the training data's fingerprint and the package
    versions. ``hea-zoo design --models-dir <out>`` designs with the result. This is
    ``hea-zoo export --all``.

    Args:
        out: the export folder.
        from_dir: load ``<name>.keras`` files from this folder instead of training.
        models: generators to export (the surrogate always is).
        version: export version (default: each model's next version).
        overwrite: replace existing versions (crash-safe swaps).
        epochs: generator epochs (default: each model's measured default).
        surrogate_epochs: surrogate epochs (default: its own).
        seed: training and metrics seed.
        n_per_condition: designs per line condition for the metrics (2000, as the study).
        quick: a smoke test, not a result (see `QUICK`).
        command: the command line to record in the manifest.
        progress: called with one-line progress messages (e.g. `hea_zoo.progress.Steps`).
        dataset: the table to train on, a `hea_zoo.Dataset` (None: the bundled 529 alloys).
        verbose: training output (see `train_default_models`).

    Returns:
        The path of the manifest.

    Raises:
        UsageError: an unknown model name, a version that exists while `overwrite` is
            False (field ``overwrite``) or is older than the exported one (field
            ``version``); checked before any training.
        ModelFileError: `from_dir` lacks a model file, holds a damaged one, or one of
            another table.
    """
    from hea_zoo.files import atomic_write, write_text
    from hea_zoo.serving.export import _check_version, artifact_files, export_model

    say = _say(progress)
    models = _check_models(models)
    if version is not None:
        version = _check_version(version)
    epochs, surrogate_epochs, n_per_condition = run_settings(epochs, surrogate_epochs, n_per_condition, quick)
    output = Path(out)
    names = [*models, SURROGATE_NAME]
    versions = _versions_for(output, names, version, overwrite)
    trained = train_default_models(
        dataset, models, epochs=epochs, surrogate_epochs=surrogate_epochs, seed=seed,
        from_dir=from_dir, verbose=verbose, progress=progress,
    )  # fmt: skip
    dataset, surrogate = trained.dataset, trained.surrogate
    test_settings = dataset.test.settings if dataset.setting_names else None
    scores = (surrogate.score(dataset.test.compositions, dataset.test.properties, settings=test_settings)
              if len(dataset.test_index) else {})  # fmt: skip
    metrics: dict[str, Any] = {SURROGATE_NAME: {"held_out": scores, "n_test": int(len(dataset.test_index))}}
    for name, model in trained.generators.items():
        say(f"{name}: metrics on the line conditions ({n_per_condition} designs each)")
        metrics[name] = generator_metrics(model, dataset, surrogate, n_per_condition, seed)

    entries = {}
    for name, model in [*trained.generators.items(), (SURROGATE_NAME, surrogate)]:
        say(f"{name}: exporting version {versions[name]} (SavedModel, ONNX, .keras)")
        # Generators record the training alloys, so `design` can warn when constraints
        # exclude every one of them (designs are then extrapolations).
        train = None if name == SURROGATE_NAME else dataset.train.compositions
        result = export_model(
            model, output, name, version=versions[name], overwrite=overwrite, training_compositions=train
        )
        keras_path = output / "keras" / f"{name}.keras"
        atomic_write(keras_path, model.save)
        files = {"saved_model": result.saved_model.relative_to(output).as_posix()}
        if result.onnx is not None:
            files["onnx"] = result.onnx.relative_to(output).as_posix()
        if result.log_prob_onnx is not None:
            files["log_prob_onnx"] = result.log_prob_onnx.relative_to(output).as_posix()
        files["keras"] = keras_path.relative_to(output).as_posix()
        entries[name] = {
            "class": type(model).__name__,
            "model_version": str(model.model_version),
            "export_version": result.version,
            "metadata": result.metadata,
            "files": files,
            "config": model.get_config(),
            "training": trained.training[name],
            "metrics": metrics[name],
        }

    # The exact descriptors' element table, read by the JavaScript engine (goals on density, vec, ...).
    from hea_zoo.data.descriptors import write_descriptor_json

    write_descriptor_json(output, dataset.elements)
    hashed = artifact_files(output, exclude=_NOT_HASHED)
    for entry in entries.values():
        entry["bytes"] = {
            kind: sum(info["bytes"] for path, info in hashed.items() if path == rel or path.startswith(rel + "/"))
            for kind, rel in entry["files"].items()
        }
    manifest = {
        "manifest_version": 1,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": command or "hea_zoo.workflows.export_all",
        "hea_zoo_version": __version__,
        "packages": _package_versions(),
        "dataset": {
            "name": dataset.name,
            "fingerprint_sha256": dataset.fingerprint(),
            "n_alloys": int(len(dataset)),
            "n_train": int(len(dataset.train_index)),
            "n_test": int(len(dataset.test_index)),
            "elements": list(dataset.elements),
            "property_names": list(dataset.property_names),
            "property_units": list(dataset.property_units),
        },
        "models": entries,
        "total_bytes": int(sum(info["bytes"] for info in hashed.values())),
        "files": hashed,
    }
    path = write_text(output / MANIFEST, json.dumps(manifest, indent=2, default=str) + "\n")
    say(f"manifest: {path} ({manifest['total_bytes'] / 1e6:.2f} MB in {len(hashed)} files)")
    return path


# --------------------------------------------------------------------------- reproduce
@dataclasses.dataclass(frozen=True)
class Reproduction:
    """What `reproduce` wrote and measured.

    Attributes:
        report: the path of ``report.md``.
        lines: one line per result for people (data, surrogate, each generator, the
            report's path, the total time); the command line prints them.
        seconds: total wall time.
    """

    report: Path
    lines: tuple[str, ...]
    seconds: float

    def __fspath__(self) -> str:
        return os.fspath(self.report)


def reproduce(
    dataset=None,
    models: Sequence[str] = GENERATOR_NAMES,
    out: str | os.PathLike = "report",
    seed: int = 0,
    epochs: int | None = None,
    surrogate_epochs: int | None = None,
    n_per_condition: int = 2000,
    save_models: bool = False,
    quick: bool = False,
    verbose: int | str = "auto",
    progress: Progress | None = None,
) -> Reproduction:
    """Trains the generators and the surrogate on `dataset`, runs the study's protocol
    (`hea_zoo.evaluation.experiments.evaluate_generator`) and writes a report.

    Tung, Debnath & Reinhart, "Evaluating generative models for inverse design of
    high-entropy refractory alloys": line (20 conditions), grid (5 × 5) and novelty
    (100 training alloys) experiments with 2000 designs per condition; MAPE judged by the
    surrogate (as the study) and by the physics oracle (ground truth); within-condition
    cosine similarity; novelty; sample bar charts; latent interpolation. The conditional
    flow, a generator beyond the study, runs as a further row.

    Writes ``<out>/report.md`` (Tables 1 and 2 beside the study's numbers, plus hit
    rates, validity, uniqueness, distance to the training set and the surrogate–oracle
    gap), ``<out>/metrics.json`` and ``<out>/figures/``. This is ``hea-zoo reproduce``.

    Args:
        dataset: a `hea_zoo.Dataset` (None: the bundled 529 alloys).
        models: generator names to train and compare.
        out: the report folder.
        seed: seed of training and of every experiment.
        epochs: generator epochs (None: each model's measured default).
        surrogate_epochs: surrogate epochs (None: its default).
        n_per_condition: designs per condition (2000, as the study).
        save_models: also save the trained models as ``<out>/<name>.keras``.
        quick: a smoke test, not a result (see `QUICK`).
        verbose: training output (see `train_default_models`).
        progress: called with one-line step messages (e.g. `hea_zoo.progress.Steps`).

    Returns:
        A `Reproduction` (the report's path and the result lines).
    """
    from hea_zoo.data.datasets import load_dataset
    from hea_zoo.evaluation import experiments, report
    from hea_zoo.files import atomic_write
    from hea_zoo.models import DEFAULT_HYPERPARAMETERS, train_default_generator

    began = time.perf_counter()
    say = _say(progress)
    models = _check_models(models)
    epochs, surrogate_epochs, n_per_condition = run_settings(epochs, surrogate_epochs, n_per_condition, quick)
    if dataset is None:
        dataset = load_dataset()
    lines = [
        f"data: {dataset.name}: {len(dataset)} alloys, {len(dataset.elements)} elements, "
        f"properties {', '.join(dataset.property_names)}"
    ]
    logger.info(lines[-1])
    output = Path(out)
    output.mkdir(parents=True, exist_ok=True)

    trained = train_default_models(
        dataset, [], surrogate_epochs=surrogate_epochs, seed=seed, verbose=verbose, progress=progress
    )
    surrogate = trained.surrogate
    test_settings = dataset.test.settings if dataset.setting_names else None
    scores = surrogate.score(dataset.test.compositions, dataset.test.properties, settings=test_settings)
    lines.append(
        f"surrogate trained in {trained.training[SURROGATE_NAME]['seconds']:.0f} s; held-out "
        + "; ".join(f"{short_label(k)}: R2 {v['r2']:.4f}, MAPE {v['mape']:.2f} %" for k, v in scores.items())
    )
    logger.info(lines[-1])
    if save_models:
        atomic_write(output / "surrogate.keras", surrogate.save)

    evaluations, timings = {}, {}
    for name in models:
        start = time.perf_counter()
        say(f"{name}: training ({epochs or DEFAULT_HYPERPARAMETERS[name]['epochs']} epochs)")
        model = train_default_generator(name, dataset, epochs=epochs, seed=seed, verbose=verbose)
        trained_seconds = time.perf_counter() - start
        if save_models:
            atomic_write(output / f"{name}.keras", model.save)
        start = time.perf_counter()
        evaluations[name] = experiments.evaluate_generator(
            model, dataset, surrogate, n_per_condition=n_per_condition, seed=seed, name=name,
            progress=lambda message, name=name: say(f"{name}: {message}"),
        )  # fmt: skip
        timings[name] = (trained_seconds, time.perf_counter() - start)
        summary = evaluations[name].summary()
        oracle_mape = summary["mape_oracle"]
        lines.append(
            f"{name}: trained {trained_seconds:.0f} s, evaluated {timings[name][1]:.0f} s; "
            f"MAPE surrogate {summary['mape_surrogate']:.2f} %"
            + ("" if oracle_mape is None else f", oracle {oracle_mape:.2f} %")
            + f"; cosine similarity {100 * summary['cosine_similarity']:.2f} %"
            + f"; novelty {100 * summary['novelty']:.2f} %"
        )
        logger.info(lines[-1])

    notes = (
        f"Trained with `hea-zoo reproduce` (seed {seed}; generator epochs "
        f"{epochs or 'default'}; surrogate epochs {surrogate_epochs or 'default'}). "
        + "Training / evaluation time: "
        + ", ".join(f"{n} {t:.0f} s / {e:.0f} s" for n, (t, e) in timings.items())
        + f". Total wall time including the surrogate: {time.perf_counter() - began:.0f} s"
        + " on this machine."
        + (" Quick run: a smoke test, not a result." if quick else "")
    )
    say("writing the report and figures")
    path = report.write_report(
        evaluations, output, dataset=dataset, surrogate_scores=scores, notes=notes,
        title="hea_zoo: the study's evaluation, reproduced",
    )  # fmt: skip
    seconds = time.perf_counter() - began
    lines += [f"report: {path}", f"total time: {seconds:.0f} s"]
    return Reproduction(Path(path), tuple(lines), seconds)

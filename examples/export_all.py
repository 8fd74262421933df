"""Train (or load) the default models and write the deployable artifacts in exported/.

For each of the generators (cae, cvae, wcgan) and the surrogate:

- ``exported/<name>/<version>/``  SavedModel in TensorFlow Serving's layout
  (``serving_default``: ``z``, ``condition`` -> ``composition``; the surrogate
  ``composition`` -> ``properties``, ``properties_std``),
- ``exported/<name>.onnx``       the same graph, with element order, condition names and
  units, latent size and versions as metadata_props,
- ``exported/keras/<name>.keras`` the trained Keras model (reload with
  ``keras.saving.load_model``),

and ``exported/MANIFEST.json``: model versions, the metrics each scored (surrogate
held-out R² and MAPE; generators' MAPE judged by the surrogate and by the oracle and the
within-condition cosine similarity on the study's 20 line conditions), the sha256 and
size of every file, the fingerprint of the training data and the package versions.

Usage:

    python examples/export_all.py                          # train with the defaults -> exported/
    python examples/export_all.py --from-dir exported/keras --overwrite   # re-export saved models
    python examples/export_all.py --output /tmp/exp --quick               # smoke test

An existing version is not replaced unless ``--overwrite`` is given; the script checks
that before training.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
import time
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Sequence

import keras

from hea_zoo import __version__, load_dataset
from hea_zoo.evaluation import experiments
from hea_zoo.serving.export import artifact_files, export_model
from hea_zoo.models import (
    DEFAULT_HYPERPARAMETERS,
    GENERATORS,
    SURROGATE_DEFAULTS,
    train_default_generator,
    train_default_surrogate,
)

MANIFEST = "MANIFEST.json"
NOT_HASHED = (MANIFEST, "README.md")  # the manifest itself and the hand-written README
PACKAGES = (
    "tensorflow",
    "keras",
    "tensorflow-probability",
    "tf2onnx",
    "onnx",
    "onnxruntime",
    "numpy",
    "pymatgen",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default="exported", help="export folder (default: exported).")
    parser.add_argument(
        "--from-dir", default=None, metavar="DIR",
        help="load <name>.keras files from DIR instead of training.",
    )  # fmt: skip
    parser.add_argument(
        "--models", nargs="+", default=list(GENERATORS), choices=sorted(GENERATORS),
        help="generators to export (default: all); the surrogate is always exported.",
    )  # fmt: skip
    parser.add_argument("--version", type=int, default=1, help="export version (default 1).")
    parser.add_argument("--epochs", type=int, default=None, help="generator epochs (default: each model's).")
    parser.add_argument("--surrogate-epochs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-per-condition", type=int, default=2000,
                        help="designs per line condition for the metrics (default 2000, as the study).")  # fmt: skip
    parser.add_argument("--overwrite", action="store_true", help="replace existing versions.")
    parser.add_argument("--quick", action="store_true",
                        help="5 epochs, 100 designs per condition: a smoke test, not a result.")  # fmt: skip
    parser.add_argument("--verbose", type=int, default=0, choices=(0, 1, 2))
    return parser


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "hea_zoo": __version__}
    for name in PACKAGES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def check_targets(output: Path, names: Sequence[str], version: int, overwrite: bool) -> None:
    """Fails before any training if an export would be refused."""
    if overwrite:
        return
    taken = [
        str(p)
        for name in names
        for p in (output / name / str(version), output / "keras" / f"{name}.keras")
        if p.exists()
    ]
    if taken:
        raise SystemExit(
            f"error: {', '.join(taken)} already exist. Pass --overwrite to replace them, "
            "or --version N / --output DIR to export elsewhere."
        )


def save_keras(model: keras.Model, path: Path) -> None:
    """Saves a .keras file through a temporary name in the same folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.stem}.tmp-", suffix=".keras", dir=path.parent)
    os.close(handle)
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_keras(directory: Path, name: str) -> keras.Model:
    path = directory / f"{name}.keras"
    if not path.exists():
        raise SystemExit(f"error: --from-dir {directory}: no {path.name} there.")
    return keras.saving.load_model(path)


def generator_metrics(model, dataset, surrogate, n_per_condition: int, seed: int) -> dict:
    """MAPE (surrogate- and oracle-judged) and diversity on the study's line conditions."""
    run = experiments.run_line(model, dataset, surrogate, n_per_condition=n_per_condition, seed=seed)
    m = experiments.compute_run_metrics(
        run, dataset.property_names, training_compositions=dataset.train.compositions
    ).to_dict()
    return {
        "protocol": f"line: {m['n_conditions']} conditions from (q5 G, q5 K) to (q95 G, q95 K), "
        f"{m['n_per_condition']} designs each, seed {seed}",
        "mape_surrogate_percent": m["mape_surrogate"],
        "mape_oracle_percent": m["mape_oracle"],
        "cosine_similarity": m["cosine_similarity"],
        "validity": m["validity"],
        "uniqueness": m["uniqueness"],
        "hit_rate_oracle": m["hit_rate_oracle"],
        "copy_rate": None if m["nearest_training"] is None else m["nearest_training"]["copy_rate"],
    }


def main(argv: Sequence[str] | None = None) -> Path:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.epochs = args.epochs or 5
        args.surrogate_epochs = args.surrogate_epochs or 5
        args.n_per_condition = min(args.n_per_condition, 100)
    output = Path(args.output)
    names = [*args.models, "surrogate"]
    check_targets(output, names, args.version, args.overwrite)
    dataset = load_dataset()
    print(f"data: {dataset!r}")
    source = None if args.from_dir is None else Path(args.from_dir)

    models, training = {}, {}
    start = time.perf_counter()
    if source is None:
        surrogate = train_default_surrogate(
            dataset, epochs=args.surrogate_epochs, seed=args.seed, verbose=args.verbose
        )
        training["surrogate"] = {
            "epochs": args.surrogate_epochs or SURROGATE_DEFAULTS["epochs"],
            "seed": args.seed,
            "seconds": round(time.perf_counter() - start, 1),
        }
    else:
        surrogate = load_keras(source, "surrogate")
        training["surrogate"] = {"loaded_from": str(source / "surrogate.keras")}
    models["surrogate"] = surrogate
    scores = surrogate.score(dataset.test.compositions, dataset.test.properties)
    print(f"surrogate: held-out {json.dumps(scores)}")

    for name in args.models:
        start = time.perf_counter()
        if source is None:
            model = train_default_generator(
                name, dataset, epochs=args.epochs, seed=args.seed, verbose=args.verbose
            )
            training[name] = {
                "epochs": args.epochs or DEFAULT_HYPERPARAMETERS[name]["epochs"],
                "seed": args.seed,
                "seconds": round(time.perf_counter() - start, 1),
            }
        else:
            model = load_keras(source, name)
            training[name] = {"loaded_from": str(source / f"{name}.keras")}
        models[name] = model
        print(f"{name}: ready ({training[name]})")

    metrics = {"surrogate": {"held_out": scores, "n_test": int(len(dataset.test_index))}}
    for name in args.models:
        start = time.perf_counter()
        metrics[name] = generator_metrics(
            models[name], dataset, surrogate, args.n_per_condition, args.seed
        )
        print(
            f"{name}: MAPE surrogate {metrics[name]['mape_surrogate_percent']['mean']:.2f} %, "
            f"oracle {metrics[name]['mape_oracle_percent']['mean']:.2f} %, cosine similarity "
            f"{100 * metrics[name]['cosine_similarity']:.2f} % "
            f"({time.perf_counter() - start:.0f} s)"
        )

    entries = {}
    for name in names:
        model = models[name]
        training = dataset.train if name != "surrogate" else None  # design warns when constraints exclude them all
        result = export_model(model, output, name, version=args.version, overwrite=args.overwrite,
                              training_compositions=training)  # fmt: skip
        keras_path = output / "keras" / f"{name}.keras"
        save_keras(model, keras_path)
        files = {
            "saved_model": result.saved_model.relative_to(output).as_posix(),
            "onnx": result.onnx.relative_to(output).as_posix(),
            "keras": keras_path.relative_to(output).as_posix(),
        }
        entries[name] = {
            "class": type(model).__name__,
            "model_version": str(model.model_version),
            "export_version": result.version,
            "metadata": result.metadata,
            "files": files,
            "config": model.get_config(),
            "training": training[name],
            "metrics": metrics[name],
        }
        print(f"{name}: exported to {result.saved_model} and {result.onnx}")

    hashed = artifact_files(output, exclude=NOT_HASHED)
    for name, entry in entries.items():
        sizes = {}
        for kind, rel in entry["files"].items():
            sizes[kind] = sum(
                info["bytes"] for path, info in hashed.items()
                if path == rel or path.startswith(rel + "/")
            )  # fmt: skip
        entry["bytes"] = sizes
    manifest = {
        "manifest_version": 1,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["python", "examples/export_all.py", *(argv or sys.argv[1:])]),
        "hea_zoo_version": __version__,
        "packages": package_versions(),
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
    handle, tmp = tempfile.mkstemp(prefix=".MANIFEST.tmp-", dir=output)
    with os.fdopen(handle, "w") as stream:
        json.dump(manifest, stream, indent=2, default=str)
        stream.write("\n")
    os.replace(tmp, output / MANIFEST)
    print(f"manifest: {output / MANIFEST} ({manifest['total_bytes'] / 1e6:.2f} MB in {len(hashed)} files)")
    return output / MANIFEST


if __name__ == "__main__":
    main()

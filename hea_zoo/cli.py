"""The `hea-zoo` command: design, train, evaluate, export, reproduce, dataset.

Exit codes (also in `hea-zoo --help`):

    0  success
    1  unexpected internal error (a bug: please report it with the traceback, HEA_ZOO_DEBUG=1)
    2  usage error: unknown command, option or model name, missing argument
    3  data error: missing file, unknown column, compositions or properties that fail to parse
    4  model error: a file that is not a hea_zoo model, a model that does not fit the data
    5  target error: negative, NaN or wrong number of target values
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

from hea_zoo.constants import GENERATOR_NAMES, MODEL_NAMES

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_DATA, EXIT_MODEL, EXIT_TARGET = 0, 1, 2, 3, 4, 5

_EPILOG = """exit codes: 0 success; 1 internal error; 2 usage error (unknown command, option or
model); 3 data error (missing file, unknown column, unparsable composition or property);
4 model error (not a hea_zoo model, model does not fit the data); 5 target error
(negative, NaN or wrong number of targets). Set HEA_ZOO_DEBUG=1 for tracebacks."""


class CLIError(Exception):
    """A user mistake: printed as one line, exits with `code`."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and exit code 2, like argparse, with a hint
        self.print_usage(sys.stderr)
        raise CLIError(f"{self.prog}: {message}", EXIT_USAGE)


def _quiet_tensorflow() -> None:
    """Import TensorFlow with its C++ start-up chatter (CUDA probing) kept off the terminal."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore", category=UserWarning, module="keras")
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import keras  # noqa: F401
        import tensorflow

        tensorflow.config.list_physical_devices()  # device probing logs here, not later
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


# ----------------------------------------------------------------------------- data
def _add_data_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=None,
                   help="CSV of alloys, or 'mpea' for the bundled MPEA measurements (Borg et al. "
                   "2020; --properties required, short names such as hardness, yield_strength, "
                   "elongation) (default: the bundled 529 RHEAs).")  # fmt: skip
    p.add_argument("--composition-column", default="composition",
                   help="column of formula strings (default: composition).")  # fmt: skip
    p.add_argument("--properties", default=None,
                   help="comma-separated property columns to condition on "
                   "(default: every column but the composition column).")  # fmt: skip
    p.add_argument("--elements", default=None,
                   help="comma-separated element order (default: the study's 22 for the "
                   "bundled data, the elements the CSV contains otherwise).")  # fmt: skip
    p.add_argument("--dropna", action="store_true",
                   help="drop rows with missing properties instead of stopping.")  # fmt: skip
    p.add_argument("--duplicates", default="median", choices=("median", "mean", "first", "keep"),
                   help="rows with the same composition (fractions rounded to 1e-3): train on "
                   "their median (default), mean, first row, or keep every row; splits are by "
                   "composition either way.")  # fmt: skip
    p.add_argument("--test-type", default=None, choices=("compression", "tension"),
                   help="--data mpea: keep compression or tension tests only (default both).")  # fmt: skip
    p.add_argument("--temperature", default=None, metavar="MIN,MAX",
                   help="--data mpea: test temperature range in degrees C, or 'all' (default "
                   "room temperature, 15,30; all when test_temperature is a property).")  # fmt: skip
    p.add_argument("--processing", default=None,
                   help="--data mpea: comma-separated processing routes to keep (CAST, WROUGHT, "
                   "ANNEAL, POWDER, OTHER; default all).")  # fmt: skip


def _split_list(text: str | None) -> list[str] | None:
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    return items or None


def _mpea_filters(args) -> dict:
    """The MPEA filter flags as `load_dataset` arguments (only those given)."""
    filters = {}
    if getattr(args, "test_type", None):
        filters["test_type"] = args.test_type
    if getattr(args, "processing", None):
        filters["processing"] = _split_list(args.processing)
    text = getattr(args, "temperature", None)
    if text is not None:
        if text.strip().lower() == "all":
            filters["temperature"] = None
        else:
            parts = _split_list(text) or []
            try:
                low, high = (float(v) for v in parts)
            except ValueError:
                raise CLIError(
                    f"usage error: --temperature expects MIN,MAX in degrees C or 'all'. Received: {text!r}",
                    EXIT_USAGE,
                ) from None
            filters["temperature"] = (low, high)
    if filters and str(args.data or "").strip().lower() != "mpea":
        flags = ", ".join("--" + k.replace("_", "-") for k in filters)
        raise CLIError(f"usage error: {flags} filter the MPEA data; add --data mpea.", EXIT_USAGE)
    return filters


def _load_data(args):
    from hea_zoo.data.datasets import load_dataset

    filters = _mpea_filters(args)
    try:
        return load_dataset(
            args.data,
            composition_column=args.composition_column,
            property_columns=_split_list(args.properties),
            elements=_split_list(args.elements),
            dropna=args.dropna,
            duplicates=getattr(args, "duplicates", "median"),
            **filters,
        )
    except ValueError as err:
        where = f"{args.data}: " if args.data else ""
        raise CLIError(f"data error: {where}{err}", EXIT_DATA) from None


def _load_model(path: str | os.PathLike, kind: str = "any"):
    """Load a hea_zoo `.keras` file, with one-line errors."""
    _quiet_tensorflow()
    path = Path(path)
    if not path.is_file():
        raise CLIError(f"model error: file not found: {path}", EXIT_MODEL)
    import zipfile

    import keras

    import hea_zoo.models  # noqa: F401  (registers the classes)
    from hea_zoo.models import ConditionalGenerator, Surrogate

    if path.suffix != ".keras" or not zipfile.is_zipfile(path):
        raise CLIError(
            f"model error: {path} is not a hea_zoo model file (expected a .keras archive "
            "saved by hea-zoo train or model.save).",
            EXIT_MODEL,
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = keras.saving.load_model(path)
    except Exception as err:  # keras raises many types for foreign files
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CLIError(
            f"model error: {path} is not a hea_zoo model file (.keras): {first[:200]}", EXIT_MODEL
        ) from None
    wanted = {"generator": ConditionalGenerator, "surrogate": Surrogate}.get(kind)
    if not isinstance(model, (ConditionalGenerator, Surrogate)):
        raise CLIError(
            f"model error: {path} holds a {type(model).__name__}, not a hea_zoo generator "
            "or surrogate.",
            EXIT_MODEL,
        )
    if wanted is not None and not isinstance(model, wanted):
        raise CLIError(f"model error: {path} holds a {type(model).__name__}; expected a {kind}.", EXIT_MODEL)
    return model


def _default_models_dir() -> Path:
    env = os.environ.get("HEA_ZOO_EXPORTED")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1] / "exported"


def _write_csv(frame, path: str | os.PathLike) -> None:
    """Write a table atomically (`hea_zoo.files.atomic_write`)."""
    from hea_zoo.files import atomic_write

    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))


# ----------------------------------------------------------------------------- commands
def cmd_dataset(args) -> int:
    data = _load_data(args)  # no TensorFlow needed
    frame = data.to_frame()
    if args.out:
        _write_csv(frame, args.out)
        print(f"wrote {len(frame)} alloys to {args.out}")
        return EXIT_OK
    rows = f"{len(data)} alloys" if len(data) == data.n_alloys else f"{len(data)} rows of {data.n_alloys} distinct alloys"
    print(f"{data.name}: {rows}, {len(data.elements)} elements "
          f"({' '.join(data.elements)}), train {len(data.train_index)} / test {len(data.test_index)} "
          f"(split by composition)")  # fmt: skip
    for j, (name, unit) in enumerate(zip(data.property_names, data.property_units)):
        v = data.properties[:, j]
        print(f"  {name} [{unit or '-'}]: min {v.min():.4g}, median {float(sorted(v)[len(v) // 2]):.4g}, max {v.max():.4g}")
    import pandas as pd

    with pd.option_context("display.width", 120, "display.max_columns", 10):
        print(frame.head(args.head).to_string(index=False))
    return EXIT_OK


def cmd_train(args) -> int:
    _quiet_tensorflow()
    data = _load_data(args)
    out = Path(args.out or f"{args.model}.keras")
    if out.suffix != ".keras":
        raise CLIError(f"usage error: --out must end in .keras. Received: {out}", EXIT_USAGE)
    print(f"data: {data.name}: {len(data)} rows, {data.alloys_in(data.train_index)} distinct alloys "
          f"in train, {data.alloys_in(data.test_index)} in test, {len(data.elements)} elements, "
          f"properties {list(data.property_names)}")  # fmt: skip
    start = time.perf_counter()
    verbose = 1 if args.verbose else 2 if not sys.stdout.isatty() else 1
    if args.model == "surrogate":
        from hea_zoo.models import train_default_surrogate

        model = train_default_surrogate(data, epochs=args.epochs, seed=args.seed, verbose=verbose)
        seconds = time.perf_counter() - start
        scores = model.score(data.test.compositions, data.test.properties) if len(data.test_index) else {}
        for name, s in scores.items():
            interval = (
                f", {100 * s['coverage']:.0f} % interval holds {100 * s['interval_coverage']:.0f} % "
                f"(mean width {s['interval_width']:.4g})"
                if "interval_coverage" in s
                else ", no calibrated interval"
            )
            print(f"held-out {name}: R2 {s['r2']:.4f}, MAPE {s['mape']:.2f} %, MAE {s['mae']:.4g}{interval}")
    else:
        from hea_zoo.models import train_default_generator

        model = train_default_generator(args.model, data, epochs=args.epochs, seed=args.seed, verbose=verbose)
        seconds = time.perf_counter() - start
    from hea_zoo.files import atomic_write

    atomic_write(out, model.save)
    print(f"trained {args.model} in {seconds:.1f} s; saved to {out}")
    return EXIT_OK


def _surrogate_for(args, data):
    from hea_zoo.models import Surrogate, train_default_surrogate

    if args.surrogate:
        surrogate = _load_model(args.surrogate, "surrogate")
    else:
        default = _default_models_dir() / "keras" / "surrogate.keras"
        surrogate = None
        if default.is_file():
            candidate = _load_model(default, "surrogate")
            if (candidate.elements, candidate.property_names) == (data.elements, data.property_names):
                surrogate = candidate
        if surrogate is None:
            print("training a surrogate on the data (pass --surrogate to reuse one)...")
            surrogate = train_default_surrogate(data, epochs=args.surrogate_epochs, seed=args.seed)
    if not isinstance(surrogate, Surrogate) or tuple(surrogate.elements) != tuple(data.elements):
        raise CLIError(
            f"model error: the surrogate's elements {list(surrogate.elements)} differ from the "
            f"data's {list(data.elements)}.",
            EXIT_MODEL,
        )
    return surrogate


def cmd_evaluate(args) -> int:
    _quiet_tensorflow()
    model = _load_model(args.model, "generator")
    data = _load_data(args)
    if tuple(model.elements) != tuple(data.elements) or len(model.condition_names) != len(data.property_names):
        raise CLIError(
            f"model error: {args.model} was trained on elements {list(model.elements)} and "
            f"conditions {list(model.condition_names)}; the data has elements "
            f"{list(data.elements)} and properties {list(data.property_names)}. "
            "Pass the same --data/--properties as for training.",
            EXIT_MODEL,
        )
    surrogate = _surrogate_for(args, data)
    from hea_zoo.evaluation import experiments, report

    start = time.perf_counter()
    name = Path(args.model).stem
    evaluation = experiments.evaluate_generator(
        model, data, surrogate, n_per_condition=args.n_per_condition, seed=args.seed, name=name
    )
    scores = surrogate.score(data.test.compositions, data.test.properties) if len(data.test_index) else None
    path = report.write_report({name: evaluation}, args.out, dataset=data, surrogate_scores=scores)
    summary = evaluation.summary()
    print(f"evaluated {name} in {time.perf_counter() - start:.1f} s; report: {path}")
    for key in ("mape_surrogate", "mape_oracle", "cosine_similarity", "novelty"):
        if summary.get(key) is not None:
            print(f"  {key}: {summary[key]:.4g}")
    return EXIT_OK


def cmd_export(args) -> int:
    model = _load_model(args.model)
    from hea_zoo.serving import export

    name = args.name or Path(args.model).stem
    try:
        written = export.export_model(model, args.out, name=name, version=args.version, overwrite=args.overwrite)
    except (ValueError, FileExistsError) as err:
        raise CLIError(f"export error: {err}", EXIT_MODEL) from None
    for p in written if isinstance(written, (list, tuple)) else [written]:
        print(f"wrote {p}")
    return EXIT_OK


def cmd_reproduce(args) -> int:
    _quiet_tensorflow()
    from hea_zoo.evaluation.reproduce import reproduce

    if args.output is not None:
        print("warning: --output is deprecated and will be removed in the next release; use --out.",
              file=sys.stderr)  # fmt: skip
        args.out = args.output
    models = _split_list(args.models) or list(GENERATOR_NAMES)
    unknown = [m for m in models if m not in GENERATOR_NAMES]
    if unknown:
        raise CLIError(
            f"usage error: unknown model(s) {', '.join(unknown)} in --models. Valid models: "
            f"{', '.join(GENERATOR_NAMES)}.",
            EXIT_USAGE,
        )
    data = _load_data(args) if (args.data or args.properties or args.elements) else None
    reproduce(
        data, models=models, out=args.out, seed=args.seed, epochs=args.epochs,
        surrogate_epochs=args.surrogate_epochs, n_per_condition=args.n_per_condition,
        save_models=args.save_models, quick=args.quick,
    )  # fmt: skip
    return EXIT_OK


def _parse_targets(args, names: Sequence[str]) -> list[float]:
    given: dict[str, float] = {}
    aliases = {"shear_modulus": args.shear_modulus, "fracture_toughness": args.toughness}
    for key, value in aliases.items():
        if value is not None:
            given[key] = value
    for item in args.target or []:
        if "=" not in item:
            raise CLIError(f"target error: --target expects NAME=VALUE. Received: {item!r}", EXIT_TARGET)
        key, _, value = item.partition("=")
        try:
            given[key.strip()] = float(value)
        except ValueError:
            raise CLIError(f"target error: {key.strip()} is not a number: {value!r}", EXIT_TARGET) from None
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise CLIError(
            f"target error: the model is conditioned on {list(names)}; unknown target(s) {unknown}.",
            EXIT_TARGET,
        )
    missing = [n for n in names if n not in given]
    if missing:
        flags = {"shear_modulus": "--shear-modulus", "fracture_toughness": "--toughness"}
        hint = ", ".join(flags.get(m, f"--target {m}=VALUE") for m in missing)
        raise CLIError(f"target error: missing target value(s) for {missing} (give {hint}).", EXIT_TARGET)
    values = [given[n] for n in names]
    for n, v in zip(names, values):
        if v != v or v in (float("inf"), float("-inf")):
            raise CLIError(f"target error: {n} must be a finite number. Received: {v}", EXIT_TARGET)
        if v < 0:
            raise CLIError(f"target error: {n} must be nonnegative. Received: {v}", EXIT_TARGET)
    return values


def cmd_design(args) -> int:
    from hea_zoo.serving import design

    models_dir = Path(args.models_dir) if args.models_dir else _default_models_dir()
    if not str(args.model).endswith(".onnx"):
        available = sorted(p.stem for p in models_dir.glob("*.onnx") if p.stem != "surrogate")
        if args.model not in available:
            raise CLIError(
                f"usage error: unknown model {args.model!r}. Valid models"
                f" (in {models_dir}): {', '.join(available) or 'none exported'}.",
                EXIT_USAGE,
            )
    try:
        designer = design.Designer.from_exported(args.model, models_dir)
    except (FileNotFoundError, ValueError) as err:
        raise CLIError(f"model error: {err}", EXIT_MODEL) from None
    target = _parse_targets(args, designer.condition_names)
    if args.n < 1:
        raise CLIError(f"usage error: -n must be a positive integer. Received: {args.n}", EXIT_USAGE)
    table, warnings_ = designer.design(target, n=args.n, seed=args.seed, candidates=args.candidates)
    for w in warnings_:
        print(f"warning: {w}", file=sys.stderr)
    print(design.format_table(table, designer, target))
    if args.out:
        _write_csv(table, args.out)
        print(f"wrote {len(table)} designs to {args.out}")
    return EXIT_OK


# ----------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    from hea_zoo._version import __version__

    parser = _Parser(
        prog="hea-zoo",
        description="Inverse design of refractory high-entropy alloys: generate compositions "
        "with target shear modulus and fracture toughness.",
        epilog=_EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"hea_zoo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("design", help="generate alloys for a target (uses the exported models).",
                       epilog=_EPILOG)  # fmt: skip
    p.add_argument("--model", default="cvae", help=f"exported generator: {', '.join(GENERATOR_NAMES)} (default cvae).")
    p.add_argument("--shear-modulus", "-G", type=float, default=None, help="target shear modulus [GPa].")
    p.add_argument("--toughness", "-K", type=float, default=None, help="target fracture toughness [MPa*m^0.5].")
    p.add_argument("--target", action="append", metavar="NAME=VALUE",
                   help="target for a model conditioned on other properties (repeatable).")  # fmt: skip
    p.add_argument("-n", type=int, default=20, help="designs to print (default 20).")
    p.add_argument("--candidates", type=int, default=None,
                   help="designs sampled before ranking by the surrogate (default max(10 n, 200)).")  # fmt: skip
    p.add_argument("--seed", type=int, default=None, help="seed of the latent noise.")
    p.add_argument("--out", default=None, help="also write the designs to this CSV.")
    p.add_argument("--models-dir", default=None, help="folder of exported models (default: the bundled exported/).")
    p.set_defaults(func=cmd_design)

    p = sub.add_parser("train", help="train a generator or the surrogate.", epilog=_EPILOG)
    p.add_argument("--model", required=True, help=f"one of {', '.join(MODEL_NAMES)}.")
    _add_data_arguments(p)
    p.add_argument("--epochs", type=int, default=None, help="epochs (default: the measured default).")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="output .keras file (default <model>.keras).")
    p.add_argument("--verbose", action="store_true", help="one progress bar line per step.")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="run the study's protocol on a trained generator.", epilog=_EPILOG)
    p.add_argument("--model", required=True, help="generator .keras file.")
    _add_data_arguments(p)
    p.add_argument("--surrogate", default=None, help="surrogate .keras file (default: the bundled one if it fits, else trained).")
    p.add_argument("--surrogate-epochs", type=int, default=None, help="epochs if a surrogate is trained.")
    p.add_argument("--n-per-condition", type=int, default=2000, help="designs per condition (default 2000, as the study).")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="report", help="report folder (default report/).")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("export", help="export a .keras model to SavedModel and ONNX.", epilog=_EPILOG)
    p.add_argument("--model", required=True, help=".keras file of a generator or surrogate.")
    p.add_argument("--out", default="exported", help="export folder (default exported/).")
    p.add_argument("--version", type=int, default=1, help="model version (default 1).")
    p.add_argument("--name", default=None, help="export name (default: the file's stem).")
    p.add_argument("--overwrite", action="store_true", help="replace an existing version.")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("reproduce", help="reproduce the study: train all, evaluate, write a report.", epilog=_EPILOG)
    _add_data_arguments(p)
    p.add_argument("--models", default=None,
                   help=f"comma-separated generators to train and compare (default: {','.join(GENERATOR_NAMES)}).")  # fmt: skip
    p.add_argument("--epochs", type=int, default=None, help="generator epochs (default: each model's measured default).")
    p.add_argument("--surrogate-epochs", type=int, default=None, help="surrogate epochs (default: its own).")
    p.add_argument("--n-per-condition", type=int, default=2000, help="designs per condition (default 2000, as the study).")
    p.add_argument("--save-models", action="store_true", help="also save the trained models as .keras files in the report folder.")
    p.add_argument("--quick", action="store_true", help="a smoke run in about a minute (not a result).")
    p.add_argument("--out", default="report", help="report folder (default report/).")
    p.add_argument("--output", default=None, help=argparse.SUPPRESS)  # deprecated alias of --out
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("dataset", help="show or write the bundled dataset (or a CSV, checked).", epilog=_EPILOG)
    _add_data_arguments(p)
    p.add_argument("--out", default=None, help="write the table to this CSV.")
    p.add_argument("--head", type=int, default=10, help="rows to show (default 10).")
    p.set_defaults(func=cmd_dataset)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `hea-zoo`; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return EXIT_USAGE
        if getattr(args, "model", None) is not None and args.command == "train" and args.model not in MODEL_NAMES:
            raise CLIError(f"usage error: unknown model {args.model!r}. Valid models: {', '.join(MODEL_NAMES)}.", EXIT_USAGE)
        return int(args.func(args) or EXIT_OK)
    except CLIError as err:
        print(str(err), file=sys.stderr)
        return err.code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # a bug: say so, one line unless debugging
        if os.environ.get("HEA_ZOO_DEBUG"):
            raise
        print(f"internal error: {type(err).__name__}: {err} (set HEA_ZOO_DEBUG=1 for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())

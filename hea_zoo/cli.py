"""The `hea-zoo` command: design, train, evaluate, export, reproduce, dataset, propose, oracle.

Exit codes (also in `hea-zoo --help`):

    0  success
    1  unexpected internal error (a bug: please report it with the traceback, HEA_ZOO_DEBUG=1)
    2  usage error: unknown command, option or model name, missing argument, an output
       that cannot be written
    3  data error: missing or empty file, unknown or repeated column, compositions or
       properties that fail to parse, a table too small or a property without spread
    4  model error: a file that is not a hea_zoo model, a model that does not fit the data
    5  target error: a target that is NaN, of the wrong count, far outside the training
       data or negative where the data never is; contradictory constraints
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

from hea_zoo.constants import DEFAULT_DESIGN_MODEL, DEFAULT_MIN_PROBABILITY, GENERATOR_NAMES, MODEL_NAMES
from hea_zoo.errors import HeaZooError

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_DATA, EXIT_MODEL, EXIT_TARGET = 0, 1, 2, 3, 4, 5

_EPILOG = """exit codes: 0 success; 1 internal error; 2 usage error (unknown command, option or
model, an output that cannot be written); 3 data error (missing or empty file, unknown or
repeated column, unparsable composition or property); 4 model error (not a hea_zoo model, a
model that does not fit the data); 5 target error (a target that is NaN, of the wrong count,
far outside the training data, or negative where the training data never is; contradictory
constraints). Set HEA_ZOO_DEBUG=1 for tracebacks."""


class CLIError(Exception):
    """A user mistake: printed as one line, exits with `code`."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


# The field of a library error (`hea_zoo.errors`: the Python parameter, request field or
# column at fault) -> the flag a command-line user types. Fields without a flag (a column of
# the user's table) are not shown; `bounds['W']` and `target['x']` name their key too.
_FLAGS = {
    # data
    "properties": "--properties",
    "dropna": "--dropna",
    "composition_column": "--composition-column",
    "elements": "--elements",
    "test_type": "--test-type",
    "temperature": "--temperature",
    "processing": "--processing",
    "duplicates": "--duplicates",
    "settings": "--settings",
    "source": "--data",
    # train, export, reproduce
    "overwrite": "--overwrite",
    "version": "--version",
    "name": "--name",
    "model": "--model",
    "models": "--models",
    "from_dir": "--from-dir",
    "epochs": "--epochs",
    "surrogate_epochs": "--surrogate-epochs",
    "n_per_condition": "--n-per-condition",
    # design (hea_zoo.serving.design.DesignRequest, Constraints)
    "n": "-n",
    "candidates": "--candidates",
    "select": "--select",
    "tolerance": "--tolerance",
    "chunk_size": "--chunk-size",
    "target": "--target",
    "exclude": "--exclude",
    "bounds": "--bound",
    "max_elements": "--max-elements",
    "min_fraction": "--min-fraction",
    "goals": "--goal",
    "objectives": "--maximize/--minimize",
    "min_probability": "--min-probability",
    "targets": "--targets",
    "cluster": "--cluster",
    "workers": "--workers",
    # propose (hea_zoo.campaign.propose)
    "data": "--data",
    "batch": "--batch",
    "pool": "--pool",
    "prior": "--prior",
    "sources": "--sources",
    "min_elements": "--min-elements",
    "maximize": "--maximize",
    "minimize": "--minimize",
    "min_distance": "--min-distance",
    "learner": "--learner",
    "plot": "--plot",
    # "settings" above: a fixed setting value, settings['NAME'] (propose, design), is --setting NAME
    # (`_flag`); a whole-mapping error of propose or design is --setting (`_library_error(design=True)`)
    # every command
    "seed": "--seed",
    "out": "--out",
}
_TARGET_FLAGS = {"shear_modulus": "--shear-modulus", "fracture_toughness": "--toughness"}
_KINDS = {EXIT_USAGE: "usage", EXIT_DATA: "data", EXIT_MODEL: "model", EXIT_TARGET: "target"}


def _flag(field: str | None) -> str | None:
    """The flag that sets a library `field` (``bounds['W']`` -> ``--bound W``,
    ``target['shear_modulus']`` -> ``--shear-modulus``); None for a field no flag sets."""
    if not field:
        return None
    match = re.fullmatch(r"(\w+)\[(.+)\]", field)
    base, key = (match.group(1), match.group(2).strip("'\"")) if match else (field, None)
    flag = _FLAGS.get(base)
    if flag is None or key is None:
        return flag
    if base == "target":
        return _TARGET_FLAGS.get(key, f"--target {key}") if not key.isdigit() else "--target"
    if base == "settings":  # a design's setting value: --setting NAME=VALUE
        return f"--setting {key}"
    if key.isdigit():  # goals[0], objectives[1]: the flag (its value is in the message)
        return flag
    return f"{flag} {key}"


def _library_error(kind: str | None, err: Exception, code: int | None = None, design: bool = False) -> CLIError:
    """A library error as one line in the command line's words: ``<kind> error: <flag>: <message>``.

    A `hea_zoo.errors.HeaZooError` names its field, which becomes its flag; its class gives
    the exit code (and, with `kind` None, the kind: usage, data, model or target) unless
    `code` is given.
    """
    if isinstance(err, HeaZooError):
        code = err.exit_code if code is None else code
        kind = kind or _KINDS.get(code, "usage")
        flag = _flag(err.field)
        if design and flag == "--settings":  # a design fixes settings with --setting NAME=VALUE
            flag = "--setting"
        if flag is None and err.field and kind in ("train", "evaluate", "export", "reproduce"):
            flag = err.field
        return CLIError(f"{kind} error: {flag + ': ' if flag else ''}{err.message}", code)
    code = EXIT_INTERNAL if code is None else code
    return CLIError(f"{kind or _KINDS.get(code, 'internal')} error: {err}", code)


def _int_at_least(minimum: int, what: str):
    """An argparse type: an integer >= `minimum`, with a one-line message otherwise."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {what} integer. Received: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a {what} integer. Received: {value}")
        return value

    return parse


_positive_int = _int_at_least(1, "positive")
_nonnegative_int = _int_at_least(0, "nonnegative")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and exit code 2, like argparse, with a hint
        self.print_usage(sys.stderr)
        raise CLIError(f"{self.prog}: {message}", EXIT_USAGE)


def _quiet_tensorflow() -> None:
    """Import TensorFlow with its C++ start-up chatter (CUDA probing) kept off the terminal."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore", category=UserWarning, module="keras")
    import hea_zoo._tensorflow  # noqa: F401


# ----------------------------------------------------------------------------- data
def _add_data_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=None,
                   help="CSV of alloys, or 'mpea' for the bundled MPEA measurements (Borg et al. "
                   "2020; --properties required, short names such as hardness, yield_strength, "
                   "elongation) (default: the bundled 529 RHEAs).")  # fmt: skip
    p.add_argument("--composition-column", default="composition",
                   help="column of formula strings (default: composition).")  # fmt: skip
    p.add_argument("--properties", action=_CommaList, default=None,
                   help="comma-separated property columns to condition on "
                   "(default: every column but the composition column).")  # fmt: skip
    p.add_argument("--elements", action=_CommaList, default=None,
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
    p.add_argument("--processing", action=_CommaList, default=None,
                   help="--data mpea: comma-separated processing routes to keep (CAST, WROUGHT, "
                   "ANNEAL, POWDER, OTHER; default all).")  # fmt: skip
    p.add_argument("--settings", action=_CommaList, default=None,
                   help="comma-separated numeric columns that say how a value was measured (test_temperature "
                   "for --data mpea, in degrees C): inputs of the surrogate and conditions of the "
                   "generators, fixed when designing (design --setting NAME=VALUE), never properties.")  # fmt: skip


class _CommaList(argparse.Action):
    """A comma-separated list flag; the one rule for every list flag: it may be repeated and
    the lists add up in order (``--exclude Be --exclude Re,Ru`` = ``--exclude Be,Re,Ru``);
    an empty list or item (``--elements ""``, ``Nb,,Ta``) is a usage error."""

    def __call__(self, parser, namespace, values, option_string=None):
        items = [t.strip() for t in str(values).split(",")]
        if not any(items):
            parser.error(f"{option_string}: an empty list; name at least one item, or leave the flag out.")
        if not all(items):
            parser.error(f"{option_string}: an empty item in {values!r}.")
        setattr(namespace, self.dest, (getattr(namespace, self.dest, None) or []) + items)


def _split_list(value: str | list[str] | None) -> list[str] | None:
    """The items of a list flag (`_CommaList` gives a list already; a plain string is split)."""
    if value is None:
        return None
    if isinstance(value, list):
        return list(value) or None
    items = [t.strip() for t in value.split(",") if t.strip()]
    return items or None




def _user_rows(err, path: Path | None) -> str:
    """A library error in the user's words: the field as its flag (`_FLAGS`), and a row
    of the user's file as ``line 9 (data row 7, 0-based)``, from the error's ``field``,
    ``row`` and ``line`` (`hea_zoo.errors.DataError`). Rows keep their numbers in the file
    when ``--dropna`` drops others. Rows of the bundled tables keep the library's words
    (``MPEA data row 7 (0-based; line 9 of MPEA_dataset.csv)``)."""
    parts = [_FLAGS[err.field]] if err.field in _FLAGS else []
    row = getattr(err, "row", None)
    if row is not None:
        if path is None:
            parts.append(err.where)
        elif getattr(err, "line", None) is not None:
            parts.append(f"line {err.line} (data row {row}, 0-based)")
        else:
            parts.append(f"data row {row} (0-based)")
    return ": ".join([*parts, err.message])


def _is_mpea(data: str | None) -> bool:
    return data is not None and str(data).strip().lower() == "mpea"


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
    if filters and not _is_mpea(args.data):
        flags = ", ".join("--" + k.replace("_", "-") for k in filters)
        raise CLIError(f"usage error: {flags} filter the MPEA data; add --data mpea.", EXIT_USAGE)
    return filters


def _load_data(args):
    from hea_zoo.data.datasets import load_dataset

    filters = _mpea_filters(args)  # usage errors first: they need no file
    path = Path(args.data) if args.data and not _is_mpea(args.data) else None
    if path is not None:
        if path.is_dir():
            raise CLIError(f"data error: --data {path} is a folder; expected a CSV file.", EXIT_DATA)
        if not path.exists():
            raise CLIError(f"data error: --data {path}: file not found.", EXIT_DATA)
    from hea_zoo.errors import HeaZooError

    where = f"{path}: " if path is not None else (f"{args.data}: " if args.data else "")
    try:
        data = load_dataset(
            args.data,
            composition_column=args.composition_column,
            properties=_split_list(args.properties),
            elements=_split_list(args.elements),
            dropna=args.dropna,
            duplicates=getattr(args, "duplicates", "median"),
            verbose=False,
            settings=_split_list(getattr(args, "settings", None)),
            **filters,
        )
    except HeaZooError as err:
        code = err.exit_code if err.exit_code in _KINDS else EXIT_DATA
        hint = ""
        if err.field in ("properties", "temperature") and "settings" in err.message:
            hint = " On the command line: --settings test_temperature."
        raise CLIError(f"{_KINDS[code]} error: {where}{_user_rows(err, path)}{hint}", code) from None
    except (ValueError, OSError) as err:
        raise CLIError(f"data error: {where}{err}", EXIT_DATA) from None
    for note in data.notes:  # what loading did to the table: rows dropped, duplicates merged
        print(f"load_dataset: {note}")
    return data


def _load_model(path: str | os.PathLike, kind: str = "any"):
    """Load a hea_zoo `.keras` file, with one-line errors (file checks before TensorFlow loads)."""
    import zipfile

    path = Path(path)
    if path.is_dir():
        raise CLIError(f"model error: {path} is a folder; expected a .keras file.", EXIT_MODEL)
    if not path.is_file():
        raise CLIError(f"model error: file not found: {path}", EXIT_MODEL)
    problem = None
    if path.suffix != ".keras" or not zipfile.is_zipfile(path):
        problem = "not a .keras archive (truncated, damaged, or another format)"
    else:
        try:
            with zipfile.ZipFile(path) as archive:
                if "config.json" not in archive.namelist():
                    problem = "a zip archive without a model configuration (config.json)"
        except (OSError, zipfile.BadZipFile) as err:
            problem = f"an unreadable archive ({err})"
    if problem is not None:
        raise CLIError(
            f"model error: {path} is not a hea_zoo model file: {problem}; expected a .keras "
            "file saved by hea-zoo train or model.save.",
            EXIT_MODEL,
        )
    _quiet_tensorflow()
    import keras

    import hea_zoo.models  # noqa: F401  (registers the classes)
    from hea_zoo.models import ConditionalGenerator, Surrogate

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = keras.saving.load_model(path)
    except Exception as err:  # keras raises many types for truncated or foreign files
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CLIError(
            f"model error: {path} is not a hea_zoo model file, or it is damaged (.keras): {first[:200]}",
            EXIT_MODEL,
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


def _names(items) -> str:
    return " ".join(str(i) for i in items) if all(len(str(i)) <= 2 for i in items) else ", ".join(map(str, items))


def _default_models_dir() -> Path:
    from hea_zoo.paths import bundled_models_dir

    return bundled_models_dir()


def _check_out_file(path: str | os.PathLike, flag: str = "--out") -> Path:
    path = Path(path)
    if path.is_dir():
        raise CLIError(f"usage error: {flag} {path} is a folder; expected a file path.", EXIT_USAGE)
    return path


def _check_out_dir(path: str | os.PathLike, flag: str = "--out") -> Path:
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise CLIError(f"usage error: {flag} {path} is a file; expected a folder.", EXIT_USAGE)
    return path


def _write_table(frame, path: str | os.PathLike, kind: str) -> None:
    """Write a table atomically (`hea_zoo.files.atomic_write`) as CSV or Parquet (`kind`)."""
    from hea_zoo.files import atomic_write

    if kind == "parquet":
        atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False), field="out")
    else:
        atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False), field="out")


# ----------------------------------------------------------------------------- commands
def cmd_dataset(args) -> int:
    kind = None
    if args.out:
        from hea_zoo.files import resolve_output, same_file, table_format

        resolve_output(args.out, field="out")  # a folder, a socket or a dangling link: refused first
        kind = table_format(args.out, field="out")
        if args.data not in (None, "mpea") and same_file(args.data, args.out):
            raise CLIError(
                f"usage error: --out {args.out} is the input table (--data {args.data}); writing the "
                "normalized table over it would lose the original. Give another file.",
                EXIT_USAGE,
            )
    data = _load_data(args)  # no TensorFlow needed
    import numpy as np

    frame = data.to_frame()
    if args.out:
        _write_table(frame, args.out, kind)
        print(f"wrote {len(frame)} alloys to {args.out}")
        return EXIT_OK
    rows = f"{len(data)} alloys" if len(data) == data.n_alloys else f"{len(data)} rows of {data.n_alloys} distinct alloys"
    print(f"{data.name}: {rows}, {len(data.elements)} elements "
          f"({' '.join(data.elements)}), train {len(data.train_index)} / test {len(data.test_index)} "
          f"(split by composition)")  # fmt: skip
    counts = data.property_counts()
    columns = [(n, u, data.properties[:, j], "")
               for j, (n, u) in enumerate(zip(data.property_names, data.property_units))]
    columns += [(n, u, data.settings[:, j], " (setting)")
                for j, (n, u) in enumerate(zip(data.setting_names, data.setting_units))]
    for name, unit, v, what in columns:
        v = v[np.isfinite(v)]
        unit = f" [{unit}]" if unit else ""
        sparse = f" ({counts[name][0]} alloys have it)" if name in counts and counts[name][1] < len(data) else ""
        median = float(sorted(v)[len(v) // 2])
        print(f"  {name}{unit}{what}: min {v.min():.4g}, median {median:.4g}, max {v.max():.4g}{sparse}")
    import pandas as pd

    with pd.option_context("display.width", 120, "display.max_columns", 10):
        print(frame.head(args.head).to_string(index=False))
    return EXIT_OK


def cmd_train(args) -> int:
    out = _check_out_file(args.out or f"{args.model}.keras")
    if out.suffix != ".keras":
        raise CLIError(f"usage error: --out must end in .keras. Received: {out}", EXIT_USAGE)
    data = _load_data(args)
    from hea_zoo.errors import HeaZooError

    try:
        data.check_learnable()  # before TensorFlow starts: a table no model can learn fails at once
    except HeaZooError as err:
        raise _library_error("train", err) from None
    _quiet_tensorflow()
    print(f"data: {data.name}: {len(data)} rows, {data.alloys_in(data.train_index)} distinct alloys "
          f"in train, {data.alloys_in(data.test_index)} in test, {len(data.elements)} elements, "
          f"properties {', '.join(data.property_names)}"
          + (f", settings {', '.join(data.setting_names)}" if data.setting_names else ""))  # fmt: skip
    counts = data.property_counts(data.train_index)
    print("taught by (training alloys with a value): "
          + ", ".join(f"{name} {alloys}" for name, (alloys, _rows) in counts.items()))  # fmt: skip
    verbose = 1 if args.verbose else "auto"
    from hea_zoo.models import train_default_generator, train_default_surrogate  # TensorFlow

    from hea_zoo.errors import HeaZooError

    start = time.perf_counter()  # the training, not the import of TensorFlow
    if args.model == "surrogate":
        try:
            model = train_default_surrogate(data, epochs=args.epochs, seed=args.seed, verbose=verbose)
        except HeaZooError as err:
            raise _library_error("train", err) from None
        seconds = time.perf_counter() - start
        test = data.test
        scores = model.score(test.compositions, test.properties,
                             settings=test.settings if data.setting_names else None) if len(data.test_index) else {}  # fmt: skip
        for name, s in scores.items():
            interval = (
                f", {100 * s['coverage']:.0f} % interval holds {100 * s['interval_coverage']:.0f} % "
                f"(mean width {s['interval_width']:.4g})"
                if "interval_coverage" in s
                else ", no calibrated interval"
            )
            print(f"held-out {name}: R2 {s['r2']:.4f}, MAPE {s['mape']:.2f} %, MAE {s['mae']:.4g}{interval}; "
                  f"{s['n']} rows")  # fmt: skip
        print(_surrogate_inputs(model, data.elements))
        if any(getattr(model, "priors", ())):
            print(_surrogate_priors(model))
        if model.is_calibrated:
            from hea_zoo.models.calibration import calibration_method

            print(f"intervals: {calibration_method(model.calibration_folds)}, {model.calibration_size} alloys")
    else:
        try:
            model = train_default_generator(args.model, data, epochs=args.epochs, seed=args.seed, verbose=verbose)
        except HeaZooError as err:
            raise _library_error("train", err) from None
        seconds = time.perf_counter() - start
    from hea_zoo.files import atomic_write

    atomic_write(out, model.save)
    print(f"trained {args.model} in {seconds:.1f} s; saved to {out}")
    return EXIT_OK


def _surrogate_inputs(model, elements) -> str:
    """One line: what the surrogate reads besides the fractions, or why it reads them only."""
    settings = f"; settings {', '.join(model.settings)} (standardized)" if getattr(model, "settings", ()) else ""
    if model.descriptors:
        return f"inputs: fractions and element descriptors ({', '.join(model.descriptors)}: mean and spread){settings}"
    if settings:
        return f"inputs: fractions{settings}"
    from hea_zoo.data.elements import KNOWN_ELEMENTS as TABLED

    untabled = [e for e in elements if e not in TABLED]
    why = (f" (the element table, hea_zoo.data.elements, has no data for {', '.join(untabled)})"
           if untabled else "")  # fmt: skip
    return f"inputs: fractions only{why}"


def _surrogate_priors(model) -> str:
    """One line: the properties learnt as their ratio to a physical prior, and which."""
    def text(prior: str) -> str:
        if prior == "density":
            return "the rule-of-mixtures density"
        return f"the Reuss average of the elements' {prior.partition(':')[2]}"

    return "priors: " + "; ".join(f"{name} learnt as its ratio to {text(prior)}"
                                  for name, prior in zip(model.property_names, model.priors) if prior)  # fmt: skip


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
            print("training a surrogate on the data (pass --surrogate to reuse one)...", file=sys.stderr)
            surrogate = train_default_surrogate(data, epochs=args.surrogate_epochs, seed=args.seed)
    if not isinstance(surrogate, Surrogate) or tuple(surrogate.elements) != tuple(data.elements):
        raise CLIError(
            f"model error: the surrogate's elements ({_names(surrogate.elements)}) differ from the "
            f"data's ({_names(data.elements)}).",
            EXIT_MODEL,
        )
    return surrogate


_SUMMARY_LABELS = {
    "mape_surrogate": ("MAPE vs target, judged by the surrogate", "%", 1),
    "mape_oracle": ("MAPE vs target, judged by the oracle", "%", 1),
    "cosine_similarity": ("within-condition cosine similarity", "%", 100),
    "novelty": ("cosine similarity to the condition's alloy", "%", 100),
}


def cmd_evaluate(args) -> int:
    _check_out_dir(args.out)
    model = _load_model(args.model, "generator")
    data = _load_data(args)
    from hea_zoo.progress import Steps

    steps = Steps()
    if tuple(model.elements) != tuple(data.elements) or len(model.condition_names) != len(data.property_names):
        raise CLIError(
            f"model error: {args.model} was trained on elements {_names(model.elements)} and "
            f"conditions {_names(model.condition_names)}; the data has elements "
            f"{_names(data.elements)} and properties {_names(data.property_names)}. "
            "Pass the same --data/--properties as for training.",
            EXIT_MODEL,
        )
    surrogate = _surrogate_for(args, data)
    from hea_zoo.evaluation import experiments, report

    start = time.perf_counter()
    name = Path(args.model).stem
    from hea_zoo.errors import HeaZooError

    try:
        evaluation = experiments.evaluate_generator(
            model, data, surrogate, n_per_condition=args.n_per_condition, seed=args.seed, name=name,
            progress=steps,
        )  # fmt: skip
    except HeaZooError as err:
        raise _library_error("evaluate", err) from None
    steps("writing the report and figures")
    test_settings = data.test.settings if data.setting_names else None
    scores = (surrogate.score(data.test.compositions, data.test.properties, settings=test_settings)
              if len(data.test_index) else None)  # fmt: skip
    path = report.write_report({name: evaluation}, args.out, dataset=data, surrogate_scores=scores)
    summary = evaluation.summary()
    print(f"evaluated {name} in {time.perf_counter() - start:.1f} s; report: {path}")
    for key, (label, unit, scale) in _SUMMARY_LABELS.items():
        if summary.get(key) is not None:
            print(f"  {label}: {scale * summary[key]:.2f} {unit}")
    return EXIT_OK


def cmd_export(args) -> int:
    if args.overwrite and args.version is None:
        raise CLIError(
            "usage error: --overwrite replaces the version given with --version; without "
            "--version an export is the next version and replaces nothing.",
            EXIT_USAGE,
        )
    if args.all:
        if args.model or args.name:
            raise CLIError("usage error: --all exports the default models; it takes no --model or --name.", EXIT_USAGE)
        return _export_all(args)
    if not args.model:
        raise CLIError("usage error: export needs --model FILE.keras (or --all).", EXIT_USAGE)
    for flag in ("from_dir", "models", "epochs", "surrogate_epochs", "quick"):
        if getattr(args, flag):
            raise CLIError(f"usage error: --{flag.replace('_', '-')} goes with --all.", EXIT_USAGE)
    _check_out_dir(args.out)
    model = _load_model(args.model)  # the slow part (TensorFlow); the export takes seconds
    from hea_zoo.serving import export

    name = args.name or Path(args.model).stem
    training = _training_compositions(args, model)
    try:
        result = export.export_model(
            model, args.out, name=name, version=args.version, overwrite=args.overwrite,
            training_compositions=training,
        )  # fmt: skip
    except ValueError as err:
        raise _library_error("export", err, EXIT_MODEL) from None
    print(f"exported {result}")
    if result.onnx is None:
        print(f"  {name}.onnx holds a newer version; left as it is.")
    return EXIT_OK


def _training_compositions(args, model):
    """A generator's training alloys for its export metadata (`training_compositions`, which
    lets `design` warn when constraints exclude all of them): the training split of --data,
    or of the bundled table when the model trained on it; None for a surrogate, or for a
    model of another table exported without --data."""
    from hea_zoo.constants import oracle_applies
    from hea_zoo.models import Surrogate

    if isinstance(model, Surrogate):
        if args.data or args.properties:
            raise CLIError("usage error: --data gives a generator's training alloys; a surrogate's export does "
                           "not record them.", EXIT_USAGE)  # fmt: skip
        return None
    if not (args.data or args.properties or oracle_applies(model)):
        return None
    data = _load_data(args)
    expected = getattr(model, "data_fingerprint", None)
    if expected is not None and data.source_fingerprint != expected:
        raise CLIError(
            f"data error: {args.model} was trained on another table than --data "
            f"{args.data or 'the bundled data'} (fingerprint {expected[:12]}, this table "
            f"{str(data.source_fingerprint)[:12]}); pass the table it was trained on.",
            EXIT_DATA,
        )
    return data.train.compositions


def _generator_list(text: str | None) -> list[str]:
    """The comma-separated --models value (default: every generator), names checked."""
    models = _split_list(text) or list(GENERATOR_NAMES)
    unknown = [m for m in models if m not in GENERATOR_NAMES]
    if unknown:
        raise CLIError(
            f"usage error: unknown model(s) {', '.join(unknown)} in --models. Valid models: "
            f"{', '.join(GENERATOR_NAMES)}.",
            EXIT_USAGE,
        )
    return models


def _export_all(args) -> int:
    models = _generator_list(args.models)
    if args.from_dir is not None and not Path(args.from_dir).is_dir():
        raise CLIError(f"usage error: --from-dir {args.from_dir} is not a folder.", EXIT_USAGE)
    _check_out_dir(args.out)
    # --data/--properties: every default model of the user's table (default: the bundled one).
    data = _load_data(args) if (args.data or args.properties or args.elements) else None
    _quiet_tensorflow()
    from hea_zoo import workflows
    from hea_zoo.progress import Steps

    steps = Steps()
    try:
        manifest = workflows.export_all(
            out=args.out, from_dir=args.from_dir, models=models, version=args.version,
            overwrite=args.overwrite, epochs=args.epochs, surrogate_epochs=args.surrogate_epochs,
            seed=args.seed, n_per_condition=args.n_per_condition, quick=args.quick,
            command=" ".join(["hea-zoo", *args.argv]), progress=steps, dataset=data,
        )  # fmt: skip
    except ValueError as err:
        from hea_zoo.errors import ModelFileError

        kind = "model" if isinstance(err, ModelFileError) else "export"
        raise _library_error(kind, err, EXIT_MODEL) from None
    import json

    entries = json.loads(Path(manifest).read_text())["models"]
    for name, entry in entries.items():
        print(f"exported {name} version {entry['export_version']}: " + ", ".join(entry["files"].values()))
    print(f"manifest: {manifest}")
    return EXIT_OK


def cmd_reproduce(args) -> int:
    _quiet_tensorflow()
    from hea_zoo import workflows
    from hea_zoo.progress import Steps

    if args.output is not None:
        print("warning: --output is deprecated and will be removed in the next release; use --out.",
              file=sys.stderr)  # fmt: skip
        args.out = args.output
    models = _generator_list(args.models)
    data = _load_data(args) if (args.data or args.properties or args.elements) else None
    _check_out_dir(args.out)
    try:
        result = workflows.reproduce(
            data, models=models, out=args.out, seed=args.seed, epochs=args.epochs,
            surrogate_epochs=args.surrogate_epochs, n_per_condition=args.n_per_condition,
            save_models=args.save_models, quick=args.quick, progress=Steps(),
        )  # fmt: skip
    except ValueError as err:  # library errors (`hea_zoo.errors`) in the command line's words
        from hea_zoo.errors import HeaZooError

        if not isinstance(err, HeaZooError):
            raise
        raise _library_error("reproduce", err) from None
    for line in result.lines:
        print(line)
    return EXIT_OK


def _parse_targets(args) -> dict[str, float]:
    """The target values the flags give, by condition name (-G, -K, --target NAME=VALUE).

    Only the flags' syntax is checked here; the values, names and the sign follow the
    rules of a design request (`DesignRequest`).
    """
    given: dict[str, float] = {}
    aliases = {"shear_modulus": args.shear_modulus, "fracture_toughness": args.toughness}
    flags = {"shear_modulus": "--shear-modulus/-G", "fracture_toughness": "--toughness/-K"}
    for key, value in aliases.items():
        if value is not None:
            given[key] = value
    for item in args.target or []:
        if "=" not in item:
            raise CLIError(f"target error: --target: expects NAME=VALUE. Received: {item!r}", EXIT_TARGET)
        key, _, value = item.partition("=")
        key = key.strip()
        if key in given:
            where = f"{flags[key]} and --target" if key in flags and aliases[key] is not None else "--target twice"
            raise CLIError(f"target error: --target: {key} is given twice ({where}); give each target once.", EXIT_TARGET)
        try:
            given[key] = float(value)
        except ValueError:
            raise CLIError(f"target error: --target {key}: not a number: {value!r}", EXIT_TARGET) from None
    return given


def _parse_settings(args) -> dict[str, float]:
    """--setting NAME=VALUE (repeatable): fixed measurement settings of a design."""
    given: dict[str, float] = {}
    for item in getattr(args, "setting", None) or []:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CLIError(f"usage error: --setting: expects NAME=VALUE. Received: {item!r}", EXIT_USAGE)
        if key in given:
            raise CLIError(f"usage error: --setting {key}: given twice; give each setting once.", EXIT_USAGE)
        try:
            given[key] = float(value)
        except ValueError:
            raise CLIError(f"usage error: --setting {key}: not a number: {value!r}", EXIT_USAGE) from None
    return given


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _parse_learner(args) -> dict:
    """--learner KEY=VALUE (repeatable): overrides of the campaign learner's settings
    (`hea_zoo.campaign.learner.LEARNER_DEFAULTS`), each value read as its default's type: a
    whole number, a number, true/false, a word, or a comma-separated list (``descriptors=``:
    an empty list, the fractions alone)."""
    from hea_zoo.campaign.learner import LEARNER_DEFAULTS

    given: dict = {}
    for item in getattr(args, "learner", None) or []:
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise CLIError(f"usage error: --learner: expects KEY=VALUE. Received: {item!r}", EXIT_USAGE)
        if key not in LEARNER_DEFAULTS:
            raise CLIError(f"usage error: --learner {key}: not a learner setting; valid: "
                           f"{', '.join(LEARNER_DEFAULTS)}.", EXIT_USAGE)  # fmt: skip
        if key in given:
            raise CLIError(f"usage error: --learner {key}: given twice; give each setting once.", EXIT_USAGE)
        given[key] = _learner_value(key, value, LEARNER_DEFAULTS[key])
    if "descriptors" in given:
        from hea_zoo.data.elements import PROPERTY_COLUMNS

        unknown = [n for n in given["descriptors"] if n not in PROPERTY_COLUMNS]
        if unknown:
            noun = "property" if len(unknown) == 1 else "properties"
            raise CLIError(f"usage error: --learner descriptors: unknown element {noun} {', '.join(unknown)}; "
                           f"valid: {', '.join(PROPERTY_COLUMNS)} (empty: the fractions alone).", EXIT_USAGE)  # fmt: skip
    if "activation" in given:
        import keras

        try:
            keras.activations.get(given["activation"])
        except ValueError:
            raise CLIError(f"usage error: --learner activation: not a Keras activation: {given['activation']!r} "
                           "(e.g. silu, relu, tanh).", EXIT_USAGE) from None
    return given


def _learner_value(key: str, value: str, default):
    """`value` read as the type of the learner setting's `default` (`_parse_learner`)."""
    if isinstance(default, bool):
        if value.lower() not in _TRUE + _FALSE:
            raise CLIError(f"usage error: --learner {key}: expects true or false. Received: {value!r}", EXIT_USAGE)
        return value.lower() in _TRUE
    if isinstance(default, tuple):
        kind = type(default[0]) if default else str
        try:
            out = tuple(kind(v.strip()) for v in value.split(",") if v.strip())
        except ValueError:
            raise CLIError(f"usage error: --learner {key}: expects a comma-separated list of {kind.__name__}s. "
                           f"Received: {value!r}", EXIT_USAGE) from None  # fmt: skip
        if kind is int and (not out or min(out) < 1):
            raise CLIError(f"usage error: --learner {key}: expects whole numbers >= 1, e.g. 64,64. Received: {value!r}",
                           EXIT_USAGE)  # fmt: skip
        return out
    if isinstance(default, (int, float)):
        kind = type(default)
        try:
            out = kind(value)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise CLIError(f"usage error: --learner {key}: expects {what}. Received: {value!r}", EXIT_USAGE) from None
        if kind is int:
            smallest = 2 if key == "folds" else 1
            if out < smallest:
                raise CLIError(f"usage error: --learner {key}: must be >= {smallest}. Received: {value!r}", EXIT_USAGE)
        elif not (math.isfinite(out) and out > 0):
            raise CLIError(f"usage error: --learner {key}: must be a number > 0. Received: {value!r}", EXIT_USAGE)
        return out
    if not value:
        raise CLIError(f"usage error: --learner {key}: expects a value.", EXIT_USAGE)
    return value


class _Objective(argparse.Action):
    """--maximize NAME / --minimize NAME: (NAME, "max"|"min") in the order given."""

    def __call__(self, parser, namespace, values, option_string=None):
        items = list(getattr(namespace, self.dest, None) or [])
        items.append((values.strip(), "max" if option_string == "--maximize" else "min"))
        setattr(namespace, self.dest, items)


def _design_request(args):
    """The design request the flags describe, validated before any model is opened."""
    from hea_zoo.errors import HeaZooError
    from hea_zoo.serving.design import Constraints, DesignRequest

    try:
        constraints = Constraints(
            elements=_split_list(args.elements),
            exclude=_split_list(args.exclude) or (),
            max_elements=args.max_elements,
            bounds=list(args.bound or []),
            min_fraction=args.min_fraction,
        )
        return DesignRequest(
            _parse_targets(args), n=args.n, candidates=args.candidates, select=args.select, tolerance=args.tolerance,
            constraints=constraints, seed=args.seed, chunk_size=args.chunk_size, out=args.out,
            goals=list(args.goal or []), objectives=list(args.objectives or []),
            min_probability=args.min_probability, settings=_parse_settings(args),
        )  # fmt: skip
    except HeaZooError as err:
        raise _library_error(None, err, design=True) from None


def _open_designer(args):
    """The `Designer` of --model and --models-dir (usage and model errors as one line)."""
    from hea_zoo.errors import HeaZooError
    from hea_zoo.serving import design

    models_dir = Path(args.models_dir) if args.models_dir else _default_models_dir()
    if args.models_dir and not models_dir.is_dir():
        what = "is a file, not a folder" if models_dir.exists() else "does not exist"
        raise CLIError(f"usage error: --models-dir: {models_dir} {what}; give the folder of an export "
                       "(hea-zoo export --out FOLDER).", EXIT_USAGE)  # fmt: skip
    if not str(args.model).endswith(".onnx"):
        available = sorted(
            p.stem for p in models_dir.glob("*.onnx") if p.stem != "surrogate" and not p.stem.endswith("_log_prob")
        )
        if args.model not in available:
            raise CLIError(
                f"usage error: --model: unknown model {args.model!r}. Valid models"
                f" (in {models_dir}): {', '.join(available) or 'none exported'}.",
                EXIT_USAGE,
            )
    try:
        return design.Designer.from_exported(args.model, models_dir, typicality=args.typicality)
    except FileNotFoundError as err:
        raise CLIError(f"model error: {err}", EXIT_MODEL) from None
    except HeaZooError as err:
        raise _library_error(None, err, design=True) from None


def cmd_design(args) -> int:
    if args.targets is not None:
        return _design_targets(args)
    for flag, value in (("--cluster", args.cluster), ("--workers", args.workers)):
        if value is not None:
            raise CLIError(f"usage error: {flag}: spreads the targets of --targets FILE; a single design runs "
                           "in this process.", EXIT_USAGE)  # fmt: skip
    request = _design_request(args)
    from hea_zoo.errors import HeaZooError
    from hea_zoo.serving import design

    designer = _open_designer(args)
    design.reuse_freed_memory()
    progress = False
    if request.candidates >= 100_000:  # a long run shows progress: a bar on a terminal, a few lines elsewhere
        progress = True if sys.stderr.isatty() else design.pipeline.CountLines("design", "candidates")
    try:
        result = designer.run(
            request, progress=progress,
            table_rows=None if request.out is None else min(request.n, 20),
        )  # fmt: skip
    except HeaZooError as err:
        raise _library_error(None, err, design=True) from None
    except ValueError as err:
        raise CLIError(f"usage error: {err}", EXIT_USAGE) from None
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    print(design.format_table(result, designer))
    if args.out:
        print(f"wrote {result.n_designs:,} designs to {args.out}")
    return EXIT_OK


_SHOWN_NOTES = 10


def _design_targets(args) -> int:
    """`design --targets FILE`: every row of FILE designed into one table at --out
    (`hea_zoo.serving.design.many`; on Dask unless --workers 0)."""
    from hea_zoo.errors import HeaZooError
    from hea_zoo.serving import design

    if args.shear_modulus is not None or args.toughness is not None or args.target:
        raise CLIError("usage error: --targets: the table gives the targets; leave out -G, -K and --target "
                       "(--goal, --maximize and --minimize add to every row's).", EXIT_USAGE)  # fmt: skip
    if not args.out:
        raise CLIError("usage error: --targets: writes one table of every target's designs; give --out FILE "
                       "(.csv, or .parquet with pyarrow).", EXIT_USAGE)  # fmt: skip
    if args.workers is not None and args.workers < 0:
        raise CLIError(f"usage error: --workers: must be a nonnegative integer (0: in this process). "
                       f"Received: {args.workers}", EXIT_USAGE)  # fmt: skip
    if args.cluster is not None and args.workers is not None:
        raise CLIError("usage error: --workers: sizes the local cluster; --cluster names a running one "
                       "(its workers are its own).", EXIT_USAGE)  # fmt: skip
    try:
        from hea_zoo.serving.design import Constraints, DesignRequest

        constraints = Constraints(
            elements=_split_list(args.elements), exclude=_split_list(args.exclude) or (),
            max_elements=args.max_elements, bounds=list(args.bound or []), min_fraction=args.min_fraction,
        )  # fmt: skip
        options = dict(
            n=args.n, candidates=args.candidates, select=args.select, tolerance=args.tolerance,
            constraints=constraints, chunk_size=args.chunk_size, goals=list(args.goal or []),
            objectives=list(args.objectives or []), min_probability=args.min_probability,
            settings=_parse_settings(args),
        )  # fmt: skip
        DesignRequest({}, **options)  # the options alone, before the table is read
        if args.seed is not None:
            DesignRequest({}, seed=args.seed)
        design.check_output_path(args.out)
    except HeaZooError as err:
        raise _library_error(None, err) from None
    designer = _open_designer(args)
    design.reuse_freed_memory()
    progress = True if sys.stderr.isatty() else design.pipeline.CountLines("design", "targets")
    try:
        result = designer.design_many(args.targets, args.out, seed=args.seed, cluster=args.cluster,
                                      workers=args.workers, progress=progress, **options)  # fmt: skip
    except HeaZooError as err:
        raise _library_error(None, err) from None
    for target_id, note in result.notes[:_SHOWN_NOTES]:
        print(f"note: {'' if target_id is None else f'target {target_id}: '}{note}", file=sys.stderr)
    if result.n_notes > _SHOWN_NOTES:
        print(f"note: ... {result.n_notes - _SHOWN_NOTES:,} more notes.", file=sys.stderr)
    code = EXIT_OK
    for target_id, where, err in result.failed:
        line = _library_error(None, err)
        print(f"target {target_id} ({where}) failed: {line}", file=sys.stderr)
        code = code or line.code
    ran = result.workers
    if result.out is None:
        print(f"no target was designed ({len(result.failed):,} failed, above); nothing written to {args.out}.",
              file=sys.stderr)  # fmt: skip
        return code or EXIT_TARGET
    failed = ""
    if result.failed:
        failed = f"; {len(result.failed):,} failed (above), " + ("its designs are" if len(result.failed) == 1 else
                                                                 "their designs are") + " missing"  # fmt: skip
    print(f"designed {result.n_designed:,} of {result.n_targets:,} targets: {result.n_designs:,} designs written to "
          f"{args.out} (seed {result.seed}; {ran}; {result.seconds:.1f} s){failed}.")  # fmt: skip
    return code


def cmd_propose(args) -> int:
    from hea_zoo.errors import HeaZooError
    from hea_zoo.files import resolve_output, table_format

    try:
        if args.out:
            resolve_output(args.out, field="out")
            table_format(args.out, field="out")
        if args.plot:
            resolve_output(args.plot, field="plot")
            if Path(args.plot).suffix.lower() != ".png":
                raise CLIError(f"usage error: --plot must end in .png. Received: {args.plot}", EXIT_USAGE)
    except HeaZooError as err:
        raise _library_error(None, err) from None
    data = Path(args.data)
    if data.is_dir() or not data.exists():
        raise CLIError(f"data error: --data {data}: {'a folder' if data.is_dir() else 'file not found'}; "
                       "expected a CSV of measured alloys.", EXIT_DATA)  # fmt: skip
    objectives = list(args.objectives or [])
    learner = _parse_learner(args)
    _quiet_tensorflow()
    from hea_zoo.campaign import propose
    from hea_zoo.campaign.progress import progress_lines

    try:
        proposal = propose(
            str(data), goals=list(args.goal or []),
            maximize=[n for n, d in objectives if d == "max"] or None,
            minimize=[n for n, d in objectives if d == "min"] or None,
            properties=_split_list(args.properties), batch=args.batch, seed=args.seed,
            composition_column=args.composition_column, elements=_split_list(args.elements),
            exclude=_split_list(args.exclude), max_elements=args.max_elements, min_elements=args.min_elements,
            bounds=list(args.bound or []), min_fraction=args.min_fraction, pool=args.pool, prior=args.prior,
            sources=_split_list(args.sources), candidates=args.candidates, settings=_parse_settings(args) or None,
            learner=learner or None, **({} if args.min_distance is None else {"min_distance": args.min_distance}),
        )  # fmt: skip
    except HeaZooError as err:
        raise _library_error(None, err, design=True) from None
    import pandas as pd

    print(_proposal_text(proposal))
    for line in progress_lines(proposal):
        print(line)
    if args.out:
        proposal.write(args.out)
        print(f"wrote {len(proposal.table)} proposals to {args.out}")
    if args.plot:
        proposal.plot(args.plot)
        print(f"wrote the progress figure to {args.plot}")
    return EXIT_OK


def _proposal_text(proposal) -> str:
    """The proposals as a text table: each property as ``mean [lower, upper]``."""
    import pandas as pd

    t = proposal.table
    names = [c[: -len("_mean")] for c in t.columns if c.endswith("_mean")]
    shown = pd.DataFrame({"rank": t["rank"], "formula": t["formula"]})
    for name in proposal.settings:  # the condition the batch is measured at, as given
        shown[name] = [f"{v:g}" for v in t[name]]
    for name in names:
        shown[name] = [f"{m:.1f} [{lo:.1f}, {hi:.1f}]" for m, lo, hi in zip(t[f"{name}_mean"], t[f"{name}_lower"], t[f"{name}_upper"])]
    skip = {"rank", "formula", "source", "nearest_measured", "nearest_distance", *proposal.elements, *proposal.settings}
    skip |= {f"{n}_{s}" for n in names for s in ("mean", "lower", "upper")}
    for c in t.columns:
        if c not in skip:
            shown[c] = [f"{v:.3g}" for v in t[c]]
    shown["source"] = t["source"]
    shown["nearest measured (at.%)"] = [f"{f} ({d:.1f})" for f, d in zip(t["nearest_measured"], t["nearest_distance"])]
    return shown.to_string(index=False)


def cmd_oracle(args) -> int:
    from hea_zoo.errors import HeaZooError
    from hea_zoo.files import resolve_output, table_format

    data = Path(args.data)
    if data.is_dir() or not data.exists():
        raise CLIError(f"data error: --data {data}: {'a folder' if data.is_dir() else 'file not found'}.", EXIT_DATA)
    import pandas as pd

    from hea_zoo.campaign.lab import measure

    try:
        resolve_output(args.out, field="out")
        kind = table_format(args.out, field="out")
        frame = pd.read_csv(data)
        measured = measure(frame, composition_column=args.composition_column)
    except HeaZooError as err:
        raise _library_error(None, err) from None
    if args.append:
        old = Path(args.append)
        if not old.is_file():
            raise CLIError(f"data error: --append {old}: file not found.", EXIT_DATA)
        measured = pd.concat([pd.read_csv(old), measured], ignore_index=True)
    _write_table(measured, args.out, kind)
    print(f"measured {len(frame)} alloys with the bundled oracle; wrote {len(measured)} rows to {args.out}")
    return EXIT_OK


# ----------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    from hea_zoo._version import __version__

    parser = _Parser(
        prog="hea-zoo",
        description="Inverse design of refractory high-entropy alloys: generate many different "
        "compositions with target properties (shear modulus and fracture toughness for the bundled "
        "models; any property of your own table), train and evaluate the models, export them.",
        epilog=_EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"hea_zoo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("design", help="generate alloys for a target (uses the exported models).",
                       epilog=_EPILOG)  # fmt: skip
    p.add_argument("--model", default=DEFAULT_DESIGN_MODEL,
                   help=f"exported generator: {', '.join(GENERATOR_NAMES)} (default {DEFAULT_DESIGN_MODEL}, the measured best).")  # fmt: skip
    p.add_argument("--shear-modulus", "-G", type=float, default=None, help="target shear modulus [GPa].")
    p.add_argument("--toughness", "-K", type=float, default=None, help="target fracture toughness [MPa*m^0.5].")
    p.add_argument("--target", action="append", metavar="NAME=VALUE",
                   help="target for a model conditioned on other properties (repeatable).")  # fmt: skip
    p.add_argument("--goal", action="append", metavar="GOAL",
                   help="a goal (repeatable, quoted): NAME>=V, NAME<=V, NAME=LO:HI or NAME=V, on a property or an "
                   "exact descriptor (density, vec, delta, dhmix, omega, tm).")  # fmt: skip
    p.add_argument("--maximize", action=_Objective, dest="objectives", metavar="NAME",
                   help="maximize a property (by its interval's lower end) or a descriptor; two objectives "
                   "give a Pareto front.")  # fmt: skip
    p.add_argument("--minimize", action=_Objective, dest="objectives", metavar="NAME",
                   help="minimize a property (by its interval's upper end) or a descriptor.")
    p.add_argument("--setting", action="append", metavar="NAME=VALUE",
                   help="a fixed measurement setting for models trained with --settings, e.g. "
                   "test_temperature=1000 (repeatable); never a target.")  # fmt: skip
    p.add_argument("--min-probability", type=float, default=DEFAULT_MIN_PROBABILITY,
                   help=f"with goals: the probability of meeting every goal a design needs (default {DEFAULT_MIN_PROBABILITY:g}).")
    p.add_argument("-n", type=int, default=20, help="designs to return (default 20).")
    p.add_argument("--candidates", type=int, default=None,
                   help="candidates drawn before selection (default max(100 n, 32000)).")  # fmt: skip
    p.add_argument("--select", default="diverse", metavar="{diverse,closest}",
                   help="diverse: spread over the candidates within --tolerance (default); "
                   "closest: the best scores.")  # fmt: skip
    p.add_argument("--tolerance", type=float, default=0.05,
                   help="relative tolerance on every property for diverse selection (default 0.05).")  # fmt: skip
    p.add_argument("--elements", action=_CommaList, default=None, help="comma-separated allowed elements (default: all the model's).")
    p.add_argument("--exclude", action=_CommaList, default=None, help="comma-separated elements that must not appear.")
    p.add_argument("--max-elements", type=int, default=None, help="at most this many elements per design.")
    p.add_argument("--bound", action="append", metavar="EL=LO:HI",
                   help="bounds of an element's fraction, e.g. Al=0:0.1 (repeatable).")  # fmt: skip
    p.add_argument("--min-fraction", type=float, default=None,
                   help="smallest fraction of any present element (default 0.03).")  # fmt: skip
    p.add_argument("--seed", type=int, default=None, help="seed of the latent noise, 0..4294967295 (default: drawn, and printed).")
    p.add_argument("--out", default=None, help="also write every design to this file (.csv, or .parquet with pyarrow).")
    p.add_argument("--models-dir", default=None, help="folder of exported models (default: the bundled exported/).")
    p.add_argument("--chunk-size", type=int, default=65536, help="candidates per chunk (bounds the memory; default 65536).")
    p.add_argument("--typicality", action="store_true",
                   help="score each design by the flow's log-density (log_prob column, nats; higher = more "
                   "alloy-like), also for cae, cvae, wcgan; needs flow.onnx in the models folder. "
                   "The flow's own designs are always scored.")  # fmt: skip
    p.add_argument("--targets", default=None, metavar="FILE",
                   help="design every row of this CSV (or Parquet) table of targets into one table at --out, with "
                   "a target_id column: columns id (optional), property values, goal/goals, maximize, minimize "
                   "(docs/DESIGN_ENGINE.md section 8). Runs on a local Dask cluster when dask is installed.")  # fmt: skip
    p.add_argument("--cluster", default=None, metavar="ADDRESS",
                   help="with --targets: run on this Dask scheduler (tcp://host:8786) instead of a local cluster.")
    p.add_argument("--workers", type=int, default=None,
                   help="with --targets: worker processes of the local cluster (default one per core; 0: in this "
                   "process, without Dask).")  # fmt: skip
    p.set_defaults(func=cmd_design)

    p = sub.add_parser("train", help="train a generator or the surrogate.", epilog=_EPILOG)
    p.add_argument("--model", required=True, help=f"one of {', '.join(MODEL_NAMES)}.")
    _add_data_arguments(p)
    p.add_argument("--epochs", type=_positive_int, default=None, help="epochs (default: the measured default).")
    p.add_argument("--seed", type=_nonnegative_int, default=0)
    p.add_argument("--out", default=None, help="output .keras file (default <model>.keras).")
    p.add_argument("--verbose", action="store_true", help="Keras's own progress output (one line per epoch) instead of one bar.")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="run the study's protocol on a trained generator.", epilog=_EPILOG)
    p.add_argument("--model", required=True, help="generator .keras file.")
    _add_data_arguments(p)
    p.add_argument("--surrogate", default=None, help="surrogate .keras file (default: the bundled one if it fits, else trained).")
    p.add_argument("--surrogate-epochs", type=_positive_int, default=None, help="epochs if a surrogate is trained.")
    p.add_argument("--n-per-condition", type=_positive_int, default=2000, help="designs per condition (default 2000, as the study).")
    p.add_argument("--seed", type=_nonnegative_int, default=0)
    p.add_argument("--out", default="report", help="report folder (default report/).")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("export", help="export a .keras model (or all default models) to SavedModel and ONNX.",
                       epilog=_EPILOG)  # fmt: skip
    p.add_argument("--model", default=None, help=".keras file of a generator or surrogate.")
    _add_data_arguments(p)
    p.add_argument("--all", action="store_true",
                   help="train (or load with --from-dir) the default models of the data (the bundled table, or --data), "
                   "export them all and write MANIFEST.json.")  # fmt: skip
    p.add_argument("--out", default="exported", help="export folder (default exported/).")
    p.add_argument("--version", type=_positive_int, default=None,
                   help="model version (default: the next one, highest existing + 1).")  # fmt: skip
    p.add_argument("--name", default=None, help="export name (default: the file's stem).")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing --version (a crash-safe swap; a running TensorFlow Serving keeps the version it loaded).")  # fmt: skip
    p.add_argument("--from-dir", default=None, metavar="DIR", help="with --all: load <name>.keras files from DIR instead of training.")
    p.add_argument("--models", action=_CommaList, default=None,
                   help=f"with --all: comma-separated generators (default: {','.join(GENERATOR_NAMES)}); the surrogate is always exported.")  # fmt: skip
    p.add_argument("--epochs", type=_positive_int, default=None, help="with --all: generator epochs (default: each model's).")
    p.add_argument("--surrogate-epochs", type=_positive_int, default=None, help="with --all: surrogate epochs.")
    p.add_argument("--n-per-condition", type=_positive_int, default=2000,
                   help="with --all: designs per line condition for the manifest's metrics (default 2000).")  # fmt: skip
    p.add_argument("--quick", action="store_true",
                   help="with --all: a smoke test, not a result (5 generator epochs, 10 surrogate epochs, "
                   "at most 100 designs per condition, unless given).")  # fmt: skip
    p.add_argument("--seed", type=_nonnegative_int, default=0)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("reproduce", help="reproduce the study: train all, evaluate, write a report.", epilog=_EPILOG)
    _add_data_arguments(p)
    p.add_argument("--models", action=_CommaList, default=None,
                   help=f"comma-separated generators to train and compare (default: {','.join(GENERATOR_NAMES)}).")  # fmt: skip
    p.add_argument("--epochs", type=_positive_int, default=None, help="generator epochs (default: each model's measured default).")
    p.add_argument("--surrogate-epochs", type=_positive_int, default=None, help="surrogate epochs (default: its own).")
    p.add_argument("--n-per-condition", type=_positive_int, default=2000, help="designs per condition (default 2000, as the study).")
    p.add_argument("--save-models", action="store_true", help="also save the trained models as .keras files in the report folder.")
    p.add_argument("--quick", action="store_true",
                   help="a smoke test, not a result (5 generator epochs, 10 surrogate epochs, at most "
                   "100 designs per condition, unless given).")  # fmt: skip
    p.add_argument("--out", default="report", help="report folder (default report/).")
    p.add_argument("--output", default=None, help=argparse.SUPPRESS)  # deprecated alias of --out
    p.add_argument("--seed", type=_nonnegative_int, default=0)
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("propose", help="the next batch of a campaign, from the measured table alone.",
                       epilog=_EPILOG)  # fmt: skip
    p.add_argument("--data", required=True, help="CSV of the measured alloys (composition column and property columns).")
    p.add_argument("--composition-column", default="composition", help="column of formula strings (default: composition).")
    p.add_argument("--properties", action=_CommaList, default=None,
                   help="comma-separated property columns to learn (default: those the goals and objectives name).")  # fmt: skip
    p.add_argument("--goal", action="append", metavar="GOAL",
                   help="a goal (repeatable, quoted): NAME>=V, NAME<=V, NAME=LO:HI or NAME=V, on a property or an "
                   "exact descriptor (density, vec, delta, dhmix, omega, tm).")  # fmt: skip
    p.add_argument("--maximize", action=_Objective, dest="objectives", metavar="NAME",
                   help="maximize a property (expected improvement); two objectives: hypervolume improvement.")  # fmt: skip
    p.add_argument("--minimize", action=_Objective, dest="objectives", metavar="NAME", help="minimize a property.")
    p.add_argument("--batch", type=_positive_int, default=8, help="alloys to propose (default 8).")
    p.add_argument("--pool", default=None, help="CSV of the alloys the lab can make (a composition column): propose only these.")
    p.add_argument("--prior", default=None,
                   help="'mpea' or a CSV of labelled alloys that join the training rows (default: the measured table alone).")  # fmt: skip
    p.add_argument("--sources", action=_CommaList, default=None,
                   help="comma-separated candidate sources: random, mutation, prior, generator (default random,mutation,prior).")  # fmt: skip
    p.add_argument("--candidates", type=_positive_int, default=None, help="candidates drawn per call (default 6000).")
    p.add_argument("--elements", action=_CommaList, default=None,
                   help="comma-separated design space (default: the elements of the data and the pool).")  # fmt: skip
    p.add_argument("--exclude", action=_CommaList, default=None, help="comma-separated elements that must not appear.")
    p.add_argument("--max-elements", type=int, default=None, help="at most this many elements per alloy.")
    p.add_argument("--min-elements", type=int, default=None, help="fewest elements of a random candidate (default 3).")
    p.add_argument("--bound", action="append", metavar="EL=LO:HI", help="bounds of an element's fraction (repeatable).")
    p.add_argument("--min-fraction", type=float, default=None, help="smallest fraction of any present element (default 0.03).")
    p.add_argument("--setting", action="append", metavar="NAME=VALUE",
                   help="a measurement setting the batch will be measured at (repeatable), e.g. test_temperature=1000: "
                   "a numeric column of --data, learned as an input; proposals are scored at this value and an alloy "
                   "measured only at other values may be proposed.")  # fmt: skip
    p.add_argument("--min-distance", type=float, default=None,
                   help="smallest distance between two proposals of the batch, as a share of atoms to move "
                   "(L1/2 of the fractions; default 0.1, i.e. 10 at.%%; 0: no spread).")  # fmt: skip
    p.add_argument("--learner", action="append", metavar="KEY=VALUE",
                   help="a campaign-learner setting (repeatable): members, folds, hidden_units, activation, "
                   "learning_rate, steps, descriptors (comma list; 'descriptors=' for the fractions alone), "
                   "distance_intervals (true/false). Default: the measured defaults (docs/CAMPAIGNS.md).")  # fmt: skip
    p.add_argument("--seed", type=_nonnegative_int, default=0)
    p.add_argument("--out", default=None, help="write the proposals to this file (.csv or .parquet).")
    p.add_argument("--plot", default=None, help="write a progress figure (.png): best so far and successes vs measurements.")
    p.set_defaults(func=cmd_propose)

    p = sub.add_parser("oracle", help="measure alloys with the bundled oracle (a simulated lab for campaigns).",
                       epilog=_EPILOG)  # fmt: skip
    p.add_argument("--data", required=True, help="CSV with a composition (or formula) column, e.g. propose's output.")
    p.add_argument("--composition-column", default="composition", help="column of formula strings (default: composition; else formula).")
    p.add_argument("--append", default=None, metavar="MEASURED.csv", help="prepend this measured table to the output.")
    p.add_argument("--out", required=True, help="output table: composition, shear_modulus, fracture_toughness.")
    p.set_defaults(func=cmd_oracle)

    p = sub.add_parser("dataset", help="show or write the bundled dataset (or a CSV, checked).", epilog=_EPILOG)
    _add_data_arguments(p)
    p.add_argument("--out", default=None,
                   help="write the table to this file: .csv, or .parquet with pyarrow; a pipe or "
                   "device (/dev/stdout) gets CSV; a symlink is followed.")  # fmt: skip
    p.add_argument("--head", type=_nonnegative_int, default=10, help="rows to show (default 10).")
    p.set_defaults(func=cmd_dataset)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `hea-zoo`; returns the exit code."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv)
        args.argv = argv
        if args.command is None:
            parser.print_help()
            return EXIT_USAGE
        if getattr(args, "model", None) is not None and args.command == "train" and args.model not in MODEL_NAMES:
            raise CLIError(f"usage error: unknown model {args.model!r}. Valid models: {', '.join(MODEL_NAMES)}.", EXIT_USAGE)
        return int(args.func(args) or EXIT_OK)
    except CLIError as err:
        print(str(err), file=sys.stderr)
        return err.code
    except HeaZooError as err:  # a library error that no command mapped: its field as the flag
        print(_library_error(None, err), file=sys.stderr)
        return err.exit_code
    except OSError as err:  # writing an output failed (a full device, a vanished folder)
        if os.environ.get("HEA_ZOO_DEBUG"):
            raise
        where = f" {err.filename}" if err.filename else ""
        print(f"write error:{where}: {err.strerror or err}", file=sys.stderr)
        return EXIT_USAGE
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

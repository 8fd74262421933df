"""Many targets: one design per row of a targets table, one output table (docs/DESIGN_ENGINE.md,
section 8; docs/DISTRIBUTED.md, "Many targets").

`read_targets` reads and checks the whole table before any work: one `DesignRequest` per
row (its point values, goals and objectives, the options of the run), each checked
against the generator as a single design checks it; a bad row raises an error that names
its line. `design_many` then designs every target, in this process or on Dask workers
(`hea_zoo.serving.design.cluster`, imported only then), and writes one table: the columns
``target_id`` and ``seed``, then the columns of a single design (section 6, 7.5), target
after target in table order, block by block, atomically (CSV, or Parquet with pyarrow).

Each target's seed is `target_seed` (run seed, target id), so the rows of a target are the
rows ``hea-zoo design --seed <its seed>`` writes for it alone, whatever the number of
workers and the order they finish in. A target whose design fails (no candidate meets the
constraints: an `InfeasibleError`) is reported in `ManyResult.failed`; the others' designs
are written.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hea_zoo.errors import DataError, HeaZooError, UsageError
from hea_zoo.serving.design.request import MAX_SEED, DesignRequest

if TYPE_CHECKING:  # pragma: no cover
    from hea_zoo.serving.design.designer import Designer

__all__ = [
    "ID_COLUMNS",
    "ClusterError",
    "ManyResult",
    "Target",
    "design_many",
    "read_targets",
    "target_seed",
]

ID_COLUMNS = ("id", "target_id")
"""A column of either name gives each row its target id (else the row's line)."""

OBJECTIVE_COLUMNS = {"maximize": "max", "minimize": "min"}
_GOAL_COLUMN = re.compile(r"^goals?(_?\d+)?$")
_SEED_TEXT = "hea_zoo target seed {seed} {id}"


class ClusterError(UsageError):
    """The Dask cluster could not be used or lost every worker (exit code 2, field ``cluster``)."""


def target_seed(seed: int, target_id: str | int) -> int:
    """The seed of one target of a run: the first 4 bytes (little-endian) of the SHA-256 of
    ``"hea_zoo target seed <seed> <target id>"`` (UTF-8; the id as text: the id column's
    cell, stripped, or the line number), an integer in [0, 2^32 - 1].

    Designing the target alone with this seed (``hea-zoo design --seed``) gives its rows.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise UsageError(f"must be an integer in [0, {MAX_SEED}]. Received: {seed!r}", field="seed")
    digest = hashlib.sha256(_SEED_TEXT.format(seed=seed, id=target_id).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "little")


@dataclasses.dataclass(frozen=True)
class Target:
    """One row of a targets table, checked: its id, where it is, and its request (seeded)."""

    id: str | int
    where: str  # "line 7" (CSV), "row 3" (other tables, from 1)
    request: DesignRequest
    columns: tuple = ()  # what decides the output's columns (point target or goals + descriptors)


@dataclasses.dataclass
class ManyResult:
    """What `design_many` returns.

    Attributes:
        out: the table written (None when no target was designed: nothing is written).
        seed: the run seed (drawn from the OS when none was given); target ``i``'s seed is
            `target_seed` (seed, id).
        n_targets: targets in the table.
        n_designed: targets whose designs were written.
        n_designs: design rows written.
        failed: one ``(target id, where, error)`` per target that failed, in table order
            (``error`` a `hea_zoo.errors.HeaZooError`: ``str`` gives its field and message).
        notes: ``(target id, note)`` of the designs' notes (the first 100; `n_notes` counts all).
        n_notes: notes in all.
        workers: where the designs ran: ``"this process"`` or the Dask scheduler's address
            and its worker count.
        seconds: wall time (the cluster's start included).
    """

    out: Path | None
    seed: int
    n_targets: int
    n_designed: int = 0
    n_designs: int = 0
    failed: list[tuple[Any, str, HeaZooError]] = dataclasses.field(default_factory=list)
    notes: list[tuple[Any, str]] = dataclasses.field(default_factory=list)
    n_notes: int = 0
    workers: str = "this process"
    seconds: float = 0.0


# ----------------------------------------------------------------------------- reading
def _rows_of(source: Any) -> tuple[list[str], Iterator[tuple[str, int | None, list[Any]]], str]:
    """The header and ``(where, line, cells)`` rows of a targets table: a CSV or Parquet file,
    a pandas DataFrame or a sequence of mappings; and the name to show for it."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            raise DataError(f"{path} is a folder; expected a CSV (or Parquet) table of targets.", field="targets")
        if not path.is_file():
            raise DataError(f"{path}: file not found.", field="targets")
        if path.suffix.lower() == ".parquet":
            import pandas as pd

            try:
                frame = pd.read_parquet(path)
            except Exception as err:  # pyarrow raises several types for a file it cannot read
                raise DataError(f"{path}: not a readable Parquet file ({err}).", field="targets") from None
            header, rows, _ = _rows_of(frame)
            return header, rows, str(path)
        handle = open(path, newline="", encoding="utf-8-sig")
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            handle.close()
            raise DataError(f"{path} is empty; expected a header line and one row per target.", field="targets") from None
        except (UnicodeDecodeError, csv.Error) as err:
            handle.close()
            raise DataError(f"{path}: line 1 does not read as CSV text ({err}).", field="targets") from None

        def lines():
            with handle:
                while True:
                    try:
                        cells = next(reader)
                    except StopIteration:
                        return
                    except (UnicodeDecodeError, csv.Error) as err:
                        raise DataError(f"line {reader.line_num + 1}: does not read as CSV text ({err}).",
                                        field="targets") from None  # fmt: skip
                    if not cells or all(not c.strip() for c in cells):
                        continue  # a blank line
                    yield f"line {reader.line_num}", reader.line_num, cells

        return [h.strip() for h in header], lines(), str(path)
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(source, pd.DataFrame):
        header = [str(c) for c in source.columns]
        values = source.astype(object).where(source.notna(), "").values.tolist()
        return header, ((f"row {i + 1}", None, row) for i, row in enumerate(values)), "the table"
    if isinstance(source, Sequence) and not isinstance(source, (str, bytes)):
        header: list[str] = []
        for row in source:
            if not isinstance(row, Mapping):
                raise DataError(f"a targets table is a CSV file, a DataFrame or a list of mappings. Received a row "
                                f"{row!r}", field="targets")  # fmt: skip
            header += [str(k) for k in row if str(k) not in header]
        return header, ((f"row {i + 1}", None, [row.get(h, "") for h in header]) for i, row in enumerate(source)), \
            "the table"  # fmt: skip
    raise DataError(f"expected a CSV or Parquet file, a DataFrame or a list of mappings. Received: {source!r}",
                    field="targets")  # fmt: skip


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value != value:  # NaN from a DataFrame: an empty cell
        return ""
    return str(value).strip()


def _in_row(err: HeaZooError, where: str, target_id: Any, id_given: bool) -> HeaZooError:
    """`err` of one row as an error of the table: ``targets: line 7 (id a7): <field>: <message>``."""
    who = f"{where} (id {target_id})" if id_given else where
    message = f"{who}: {err.field}: {err.message}" if err.field else f"{who}: {err.message}"
    out = type(err).__new__(type(err))
    HeaZooError.__init__(out, message, field="targets")
    if isinstance(out, DataError):
        out.row, out.line, out.where = None, None, None
    return out


def read_targets(
    source: Any,
    designer: Designer,
    base: DesignRequest | None = None,
    seed: int = 0,
) -> list[Target]:
    """The targets of a table, every row checked before any design runs.

    A table has one row per target and these columns (any order; names as written):

    - ``id`` or ``target_id`` (optional): the target id, as text; else a row's id is its
      line in a CSV file (the first row after the header is line 2) or its number from 1;
    - one column per property the generator is conditioned on (``shear_modulus``,
      ``fracture_toughness``): a point target value; an empty cell gives none;
    - goal columns ``goal``, ``goals``, ``goal_2``, ``goal3`` ...: goals in the goal language
      (section 7.1), several in one cell separated by ``;``;
    - ``maximize``, ``minimize``: objective names (``;`` between several);
    - one column per measurement setting the models take (``test_temperature``): the row's
      fixed value, over `base`'s settings (an empty cell keeps `base`'s).

    `base` holds the options of every design (n, candidates, select, tolerance, constraints,
    chunk size, min_probability) and goals and objectives added to every row's (after them).

    Raises:
        DataError (field ``targets``): an unknown or repeated column, an empty or repeated
            id, no row, a row whose goals give other columns than the first row's.
        TargetError, UsageError (field ``targets``): a row whose request is refused, as a
            single design refuses it; the message starts with the row's line
            (``line 7 (id a7): target['shear_modulus']: must be a finite number. Received: nan``).
    """
    base = DesignRequest({}) if base is None else base
    names = designer.condition_names
    header, rows, shown = _rows_of(source)
    seen_columns: dict[str, int] = {}
    for j, column in enumerate(header):
        if column in seen_columns:
            raise DataError(f"{shown}: column {column!r} appears twice.", field="targets")
        seen_columns[column] = j
    ids = [c for c in header if c in ID_COLUMNS]
    if len(ids) > 1:
        raise DataError(f"{shown}: give one id column (id or target_id), not both.", field="targets")
    goal_columns = [c for c in header if _GOAL_COLUMN.match(c)]
    setting_columns = [c for c in header if c in designer.setting_names]
    unknown = [c for c in header if c not in names and c not in ID_COLUMNS and c not in OBJECTIVE_COLUMNS
               and c not in goal_columns and c not in setting_columns]  # fmt: skip
    if unknown:
        raise DataError(
            f"{shown}: unknown column(s) {unknown}; a targets table has an optional id (or target_id) column, "
            f"point values of {', '.join(names)}, goal columns (goal, goal_2, ... or goals; ';' between several "
            "goals) and maximize/minimize.",
            field="targets",
        )
    id_column = seen_columns[ids[0]] if ids else None
    rules = base.constraints.resolve(designer.elements, designer.threshold)
    training_range = designer.training_range()
    targets: list[Target] = []
    where_of_id: dict[str, str] = {}
    for where, line, cells in rows:
        cells = list(cells) + [""] * (len(header) - len(cells))
        if len(cells) > len(header):
            raise DataError(f"{where}: {len(cells)} cells for {len(header)} columns.", field="targets")
        if id_column is not None:
            target_id: str | int = _cell(cells[id_column])
            if not target_id:
                raise DataError(f"{where}: the {header[id_column]} cell is empty.", field="targets")
        else:
            target_id = line if line is not None else int(where.split()[-1])
        if str(target_id) in where_of_id:
            raise DataError(f"{where}: id {target_id} repeats {where_of_id[str(target_id)]}'s.", field="targets")
        where_of_id[str(target_id)] = where
        target: dict[str, str] = {}
        goals: list[str] = []
        objectives: list[tuple[str, str]] = []
        settings: dict[str, str] = {}
        for column, value in zip(header, cells):
            text = _cell(value)
            if not text:
                continue
            if column in setting_columns:
                settings[column] = text
            elif column in names:
                target[column] = text
            elif column in goal_columns:
                goals += [g.strip() for g in text.split(";") if g.strip()]
            elif column in OBJECTIVE_COLUMNS:
                objectives += [(o.strip(), OBJECTIVE_COLUMNS[column]) for o in text.split(";") if o.strip()]
        try:
            request = base.replace(
                target=target, goals=goals + list(base.goals), objectives=objectives + list(base.objectives),
                seed=target_seed(seed, target_id), out=None, settings={**dict(base.settings or {}), **settings},
            )  # fmt: skip
            classic = request.classic_target(names) if request.goal_mode else None
            if request.goal_mode and classic is None:
                plan = designer.plan(request, rules)
                columns: tuple = ("goals", tuple(plan.descriptor_columns))
            else:
                if classic is not None:
                    request.replace(target=classic, goals=(), objectives=()).target_values(names, training_range)
                else:
                    request.target_values(names, training_range)
                columns = ("target",)
        except HeaZooError as err:
            raise _in_row(err, where, target_id, id_column is not None) from None
        if targets and columns != targets[0].columns:
            def say(c):
                return "a point target" if c[0] == "target" else (
                    f"goals with the descriptor columns {list(c[1])}" if c[1] else "goals")  # fmt: skip
            raise DataError(
                f"{where}: its row asks for {say(columns)}, {targets[0].where} for {say(targets[0].columns)}: their "
                "designs have different columns, and one table holds one set; put them in separate tables.",
                field="targets",
            )
        targets.append(Target(target_id, where, request, columns))
    if not targets:
        raise DataError(f"{shown} has no rows; expected one row per target.", field="targets")
    return targets


# ----------------------------------------------------------------------------- one target
@dataclasses.dataclass
class _Outcome:
    """What designing one target gives: its rows (CSV bytes without the header, or a
    DataFrame), the header line, its count, notes, or the error."""

    id: Any
    data: Any = None
    header: bytes = b""
    n_designs: int = 0
    notes: list[str] = dataclasses.field(default_factory=list)
    error: HeaZooError | None = None


def _csv_cell(value: Any) -> bytes:
    line = io.StringIO()
    csv.writer(line, lineterminator="").writerow([value])
    return line.getvalue().encode("utf-8")


def design_target(designer: Designer, target_id: Any, request: DesignRequest, fmt: str) -> _Outcome:
    """One target's designs as the rows of the many-target table (its ``target_id`` and
    ``seed`` cells in front), or the error that stopped it (a `HeaZooError`)."""
    try:
        if fmt == "csv":
            buffer = io.BytesIO()
            result = designer.run(request, table_rows=0, stream=buffer)
            text = buffer.getvalue()
            head, _, body = text.partition(b"\n")
            prefix = _csv_cell(target_id) + b"," + str(request.seed).encode() + b","
            data = (prefix + body[:-1].replace(b"\n", b"\n" + prefix) + b"\n") if body else b""
            return _Outcome(target_id, data, b"target_id,seed," + head + b"\n", result.n_designs, result.notes)
        result = designer.run(request, table_rows=request.n)
        frame = result.table.copy()
        frame.insert(0, "seed", int(request.seed))
        frame.insert(0, "target_id", target_id)
        return _Outcome(target_id, frame, b"", result.n_designs, result.notes)
    except HeaZooError as err:
        return _Outcome(target_id, error=err)


# ----------------------------------------------------------------------------- the writer
class _Writer:
    """Writes outcomes in table order to a CSV handle or a Parquet file; keeps the counts."""

    def __init__(self, result: ManyResult, fmt: str, path: Path, where: dict[Any, str], handle=None):
        self.result, self.fmt, self.path, self.where, self.handle = result, fmt, path, where, handle
        self.parquet = None
        self.header_written = False

    def write(self, outcome: _Outcome) -> None:
        r = self.result
        if outcome.error is not None:
            r.failed.append((outcome.id, self.where[str(outcome.id)], outcome.error))
            return
        for note in outcome.notes:
            r.n_notes += 1
            if len(r.notes) < 100:
                r.notes.append((outcome.id, note))
        r.n_designed += 1
        r.n_designs += outcome.n_designs
        if self.fmt == "csv":
            if not self.header_written:
                self.handle.write(outcome.header)
                self.header_written = True
            self.handle.write(outcome.data)
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(outcome.data, preserve_index=False)
        if self.parquet is None:
            self.parquet = pq.ParquetWriter(str(self.path), table.schema)
        self.parquet.write_table(table.cast(self.parquet.schema))

    def close(self) -> None:
        if self.parquet is not None:
            self.parquet.close()


# ----------------------------------------------------------------------------- the run
def _designer_spec(designer: Designer) -> tuple[str, str | None, str | None]:
    """The files a worker opens to rebuild `designer` (absolute paths)."""
    typicality = None
    if designer.log_prob_path is not None and not designer.metadata.get("log_prob_model"):
        typicality = str(Path(designer.log_prob_path).resolve())
    surrogate = str(Path(designer.surrogate_path).resolve()) if designer.surrogate_path is not None else None
    return str(Path(designer.generator_path).resolve()), surrogate, typicality


_CACHE: dict[tuple, Designer] = {}
_CACHE_LOCK = threading.Lock()
OPENED = 0
"""How many times this process opened a set of models for `design_targets` (a Dask
worker: once per set, whatever the number of targets it designs)."""


def cached_designer(spec: tuple[str, str | None, str | None]) -> Designer:
    """The `Designer` of `spec` in this process, opened once (a Dask worker keeps it for
    every target it designs)."""
    global OPENED
    with _CACHE_LOCK:
        designer = _CACHE.get(spec)
        if designer is None:
            from hea_zoo.serving.design.designer import Designer

            designer = _CACHE[spec] = Designer(*spec)
            OPENED += 1
        return designer


def models_opened() -> int:
    """`OPENED` of this process (``client.run(models_opened)`` asks every worker)."""
    return OPENED


def open_models(spec: tuple[str, str | None, str | None]) -> str:
    """Opens the models of `spec` in this process now (``client.run(open_models, spec)``
    has every worker load them before the first task); returns the generator's file."""
    return str(cached_designer(spec).generator_path)


def design_targets(spec: tuple, fmt: str, block: list[tuple[Any, DesignRequest]]) -> list[_Outcome]:
    """A Dask task: the targets of `block` designed with the worker's cached `Designer`,
    each on one thread (the cluster spreads the targets over the cores)."""
    from hea_zoo.serving.design import pipeline

    pipeline.set_threads(1)
    designer = cached_designer(spec)
    return [design_target(designer, target_id, request, fmt) for target_id, request in block]


def targets_per_task(candidates: int) -> int:
    """Targets per Dask task: about 65,536 candidates' work (at least 1, at most 64), so a
    task takes long enough to dwarf the scheduler's overhead and short enough to spread."""
    return max(1, min(64, 65536 // max(int(candidates), 1)))


def design_many(
    designer: Designer,
    targets: Any,
    out: str | os.PathLike,
    *,
    seed: int | None = None,
    cluster: Any = None,
    workers: int | None = None,
    progress: bool | Callable[[int, int], Any] | None = None,
    block: int | None = None,
    **options: Any,
) -> ManyResult:
    """Designs every target of a table into one output table (docs/DESIGN_ENGINE.md, section 8).

    Args:
        designer: the models (its generator, surrogate and log-density files are what the
            workers open).
        targets: a CSV or Parquet file, a pandas DataFrame or a list of mappings
            (`read_targets` has the columns), or a list of `Target` already read.
        out: the output table (``.csv``, or ``.parquet`` with pyarrow), written atomically:
            it appears whole when the run ends, or not at all.
        seed: the run seed in [0, 2^32 - 1] (None: drawn from the OS, in `ManyResult.seed`);
            each target's seed is `target_seed` (seed, target id).
        cluster: None (a local Dask cluster of `workers` processes), a scheduler address
            (``"tcp://10.0.0.5:8786"``) or a ``distributed.Client``.
        workers: worker processes of the local cluster (None: one per core); 0 designs in
            this process without Dask (also what happens when Dask is not installed).
        progress: True for one progress bar over the targets on stderr, or a callable
            ``(done, total)``.
        block: targets per Dask task (None: `targets_per_task`); changes no design.
        **options: the options of every design (`DesignRequest` fields: n, candidates,
            select, tolerance, constraints, chunk_size, goals, objectives, min_probability).

    Returns:
        A `ManyResult` (failed targets in `failed`: their designs are missing, the others'
        are written).

    Raises:
        UsageError, TargetError, DataError (field ``targets`` for a bad row, naming its
            line), before any design runs.
        ClusterError: the scheduler cannot be reached, or the cluster lost every worker or
            failed a task (nothing is written at `out` then).
    """
    from hea_zoo.files import atomic_write, table_format
    from hea_zoo.serving.design import pipeline
    from hea_zoo.serving.design.sinks import check_output_path

    started = time.perf_counter()
    out_path = check_output_path(out)
    fmt = table_format(out_path, field="out")
    if seed is None:
        seed = int.from_bytes(os.urandom(4), "little")
    elif isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise UsageError(f"must be an integer in [0, {MAX_SEED}]. Received: {seed!r}", field="seed")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 0):
        raise UsageError(f"must be a nonnegative integer (0: in this process). Received: {workers!r}", field="workers")
    for key in ("target", "seed", "out"):
        if key in options:
            raise UsageError(f"{key} is per target or per run here, not an option of every design.", field=key)
    base = DesignRequest({}, **options)
    if isinstance(targets, list) and targets and all(isinstance(t, Target) for t in targets):
        rows = targets
    else:
        rows = read_targets(targets, designer, base, seed)
    result = ManyResult(out=out_path, seed=seed, n_targets=len(rows))
    where = {str(t.id): t.where for t in rows}
    bar = pipeline.Progress(len(rows), progress, unit="targets")
    run_cluster = None
    if cluster is not None or workers != 0:
        from hea_zoo.serving.design import cluster as cluster_module

        if cluster is None and not cluster_module.available():
            run_cluster = None  # no Dask: this process (the cluster extra adds it)
            result.notes.append((None, f"Dask is not installed: the targets ran in this process "
                                       f"({cluster_module.INSTALL_HINT} spreads them over cores and machines)."))  # fmt: skip
            result.n_notes += 1
        else:
            run_cluster = cluster_module
    done = 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        bar(done)

    def fill(handle_or_path) -> None:
        writer = _Writer(result, fmt, Path(handle_or_path), where)
        handle = None
        try:
            if fmt == "csv":
                handle = writer.handle = open(handle_or_path, "wb", buffering=1 << 20)
            if run_cluster is None:
                designer_here = designer
                for t in rows:
                    writer.write(design_target(designer_here, t.id, t.request, fmt))
                    advance(1)
            else:
                blocks = [[(t.id, t.request) for t in rows[a : a + per_task]] for a in range(0, len(rows), per_task)]
                result.workers = run_cluster.run_blocks(
                    _designer_spec(designer), fmt, blocks, writer.write, advance, cluster=cluster, workers=workers
                )
            if result.n_designed == 0:
                raise _NothingDesigned()
        finally:
            writer.close()
            if handle is not None:
                handle.close()

    if block is not None and (isinstance(block, bool) or not isinstance(block, int) or block < 1):
        raise UsageError(f"must be a positive integer. Received: {block!r}", field="block")
    per_task = targets_per_task(base.candidates) if block is None else block
    try:
        try:
            atomic_write(out_path, fill, field="out")
        finally:
            bar.close()
    except _NothingDesigned:
        result.out = None
    result.seconds = time.perf_counter() - started
    return result


class _NothingDesigned(Exception):
    """Every target failed: nothing is written."""

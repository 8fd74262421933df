"""The design engine: many different, realistic, constrained alloys for a target.

This is what `hea-zoo design` runs, with onnxruntime and NumPy alone (no TensorFlow, no
pymatgen; pandas only to build `DesignResult.table` or write Parquet). It implements
docs/DESIGN_ENGINE.md step for step, like the JavaScript engine of the browser page, so
the same exported models, target, seed, constraints and options give the same designs:

1. candidate ``r`` decodes noise row ``r`` of the seeded draw (`hea_zoo.artifact.noise`)
   at the target with the exported generator (``<name>.onnx``);
2. each candidate is repaired to satisfy the constraints (`hea_zoo.serving.constraints`:
   allowed and excluded elements, a maximum number of elements, per-element bounds, a
   minimum fraction) and printed:
   integers in thousandths (`hea_zoo.artifact.printed_thousandths`), the alloy a user
   would make; a candidate whose printed composition breaks a constraint is dropped;
3. duplicates (the same printed composition) are removed, first occurrence kept;
4. the exported surrogate (``surrogate.onnx``) judges the printed fractions: mean and
   interval per property; the score is the mean relative error to the target (with a
   floor of 1 % of the training range, so a target of 0 ranks sensibly);
5. selection: ``diverse`` (default) spreads the designs over the candidates within the
   tolerance by greedy max-sum diversification: each next design has the largest sum of
   cosine distances to those taken, discounted by its score (a design must differ from
   all those taken *and* be close to the target); ``closest`` keeps the best scores.

Everything runs chunk by chunk with bounded memory: a bounded store of the best records
for ``closest`` (spilled to a temporary file when ``n`` is in the millions), a bounded
pool for ``diverse``, 64-bit hashes of the printed integer vectors for the duplicates.
Formula strings are made only for the rows that are shown or written, and the output is
written block by block (CSV; Parquet with pyarrow). Worker threads (one per core, at
most 4) generate, repair and judge pieces of 16,384 candidates and format the output
blocks while the calling thread removes duplicates, keeps the best and writes, in
candidate order, so the designs and every byte written do not depend on the threads.

Example:
    >>> from hea_zoo.serving.design import Designer
    >>> designer = Designer.from_exported("cvae", "exported")          # doctest: +SKIP
    >>> result = designer.design([60.0, 35.0], n=20, seed=0)            # doctest: +SKIP
    >>> result.table[["formula", "shear_modulus_surrogate"]].head(3)    # doctest: +SKIP
    >>> result.n_systems                                                # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hea_zoo.artifact import (
    DROP_THRESHOLD,
    MetadataError,
    check_seed,
    decode_metadata,
    noise,
    relative_errors,
)
from hea_zoo.constants import oracle_applies, short_label
from hea_zoo.serving import design_text as text
from hea_zoo.serving.constraints import (  # noqa: F401 (re-exported: the design API)
    _UNIT,
    DEFAULT_MAX_ELEMENTS,
    DEFAULT_MIN_FRACTION,
    Constraints,
    _repair,
    _Rules,
    apply_constraints,
    parse_bound,
)
from hea_zoo.serving.errors import DesignError, InfeasibleError, ModelFileError, TargetError

__all__ = [
    "DEFAULT_TOLERANCE",
    "DEFAULT_MIN_FRACTION",
    "DEFAULT_MAX_ELEMENTS",
    "DIVERSE_DISCOUNT",
    "SYSTEM_MIN_THOUSANDTHS",
    "INTERVAL_Z",
    "DesignError",
    "TargetError",
    "InfeasibleError",
    "ModelFileError",
    "Constraints",
    "parse_bound",
    "apply_constraints",
    "default_candidates",
    "DesignResult",
    "Designer",
    "format_table",
    "reuse_freed_memory",
]

DEFAULT_TOLERANCE = 0.05
"""Relative tolerance on every property for a candidate to be *in tolerance* (5 %)."""

DIVERSE_DISCOUNT = "(1 - score / tolerance)^1.25"
"""How the diverse selection discounts a candidate's distances by its score (section 5).

The next design maximizes ``A * w``: ``A`` the sum of its cosine distances to the designs
taken, ``w = (1 - score / tolerance)^1.25`` (computed as ``f = 1 - score / tolerance;
w = f * sqrt(sqrt(f))``): 1 on the target, 0 at the edge of the tolerance, 1/2 at 43 % of it. Chosen
by measurement (benchmarks/design_quality.py: the oracle-judged MAPE and hit rate of the
designs against their within-target cosine; docs/DESIGN_ENGINE.md, section 5)."""

SYSTEM_MIN_THOUSANDTHS = 50
"""An alloy *system* is the set of elements with at least 50 thousandths (5 at.%)."""

INTERVAL_Z = 1.6448536269514722
"""Standard-normal quantile of a two-sided 90 % interval: mean ± INTERVAL_Z · std is the
interval used when the surrogate export has no calibrated interval outputs."""

_SPILL_RECORDS = 1 << 20  # `closest` stores above this many designs spill to a temporary file
_JUDGE_BATCH = 1024  # rows per onnxruntime call (keeps the activations in cache)
_GENERATE_BATCH = 4096  # rows per generator call (cache-sized activations)
_PIECE_ROWS = 16384  # candidates per worker task: a chunk is cut into pieces (cache-sized arrays)
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def default_candidates(n: int) -> int:
    """Candidates drawn for `n` designs unless the request says: ``max(100 n, 32000)``."""
    return max(100 * int(n), 32000)


# ----------------------------------------------------------------------------- hashing
def _splitmix64(count: int, seed: int) -> np.ndarray:
    """`count` words of the splitmix64 sequence from `seed` (fixed pseudo-random constants)."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + np.arange(1, count + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


class _RowHasher:
    """64-bit tabulation hashes of printed rows: ``h = Σ_e T[e, k_e] mod 2^64``.

    T holds fixed pseudo-random words, so two different rows collide with probability
    2^-64 (about 3e-6 for a run with 10^7 distinct candidates).
    """

    def __init__(self, n_elements: int):
        self.table = _splitmix64(n_elements * (_UNIT + 1), 0x68656133).reshape(n_elements, _UNIT + 1)
        self.columns = np.arange(n_elements)

    def __call__(self, k: np.ndarray) -> np.ndarray:
        words = self.table[self.columns[None, :], k]
        return words.sum(axis=1, dtype=np.uint64)


class _SeenHashes:
    """The hashes of every printed row seen so far: sorted runs merged as they grow."""

    def __init__(self):
        self.runs: list[np.ndarray] = []

    def __len__(self) -> int:
        return sum(r.size for r in self.runs)

    def first_seen(self, hashes: np.ndarray) -> np.ndarray:
        """Marks the rows whose hash was never seen (first occurrence in `hashes`) and records them."""
        unique, first = np.unique(hashes, return_index=True)
        fresh = np.ones(unique.size, bool)
        for run in self.runs:
            at = np.minimum(np.searchsorted(run, unique), run.size - 1)
            fresh &= run[at] != unique
        mask = np.zeros(hashes.size, bool)
        mask[first[fresh]] = True
        if fresh.any():
            self.runs.append(unique[fresh])
            while len(self.runs) > 1 and self.runs[-2].size <= 2 * self.runs[-1].size:
                last, before = self.runs.pop(), self.runs.pop()
                merged = np.concatenate([before, last])
                merged.sort(kind="stable")  # two sorted runs: a linear merge
                self.runs.append(merged)
        return mask


# ----------------------------------------------------------------------------- records
def _record_dtype(n_elements: int, n_properties: int) -> np.dtype:
    return np.dtype(
        [
            ("index", "<i8"),
            ("score", "<f8"),
            ("k", "<i2", (n_elements,)),
            ("mean", "<f4", (n_properties,)),
            ("lower", "<f4", (n_properties,)),
            ("upper", "<f4", (n_properties,)),
        ]
    )


def _record_order(records: np.ndarray) -> np.ndarray:
    """The positions of records by (score, candidate index)."""
    index = records["index"]
    if index.size > 1 and bool(np.all(index[1:] > index[:-1])):  # in index order: one stable sort
        return np.argsort(records["score"], kind="stable")
    return np.lexsort((index, records["score"]))


def _sort_records(records: np.ndarray) -> np.ndarray:
    """Records by (score, candidate index)."""
    return np.take(records, _record_order(records))  # take: 4x faster than [] on records


class _BestRecords:
    """The `capacity` best records by (score, candidate index), offered in index order.

    Held in memory, or, above `_SPILL_RECORDS`, appended to a temporary file with only
    their keys in memory, and read back in order in ranges of `_SPILL_RECORDS`.
    """

    def __init__(self, capacity: int, dtype: np.dtype, spill: bool | None = None):
        self.capacity = int(capacity)
        self.dtype = dtype
        self.spill = self.capacity > _SPILL_RECORDS if spill is None else spill
        self.count = 0
        self._since_prune = 0
        self._threshold = math.inf
        self._parts: list[np.ndarray] = []
        self._file = None
        self._written = 0
        self._keys: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def offer(self, records: np.ndarray) -> None:
        if self._threshold < math.inf:
            records = records[records["score"] < self._threshold]
        if not records.size:
            return
        if self.spill:
            if self._file is None:
                import tempfile

                self._file = tempfile.TemporaryFile(prefix="hea_zoo-design-")
            self._file.write(records.tobytes())
            # candidate indices and file positions are below 2**32 (noise rows are)
            position = np.arange(self._written, self._written + records.size, dtype=np.uint32)
            self._written += records.size
            self._keys.append((records["score"].copy(), records["index"].astype(np.uint32), position))
        else:
            self._parts.append(records)
        self.count += records.size
        self._since_prune += records.size
        if self.count > self.capacity and self._since_prune >= max(self.capacity, 4096):
            self._prune()

    def _prune(self) -> None:
        self._since_prune = 0
        if self.spill:
            score, index, position = (np.concatenate(a) for a in zip(*self._keys))
            order = np.lexsort((index, score))[: self.capacity]
            self._keys = [(score[order], index[order], position[order])]
            self._threshold = float(score[order[-1]]) if order.size == self.capacity else math.inf
            self.count = order.size
        else:
            held = _sort_records(np.concatenate(self._parts))[: self.capacity]
            self._parts = [held]
            self._threshold = float(held["score"][-1]) if held.size == self.capacity else math.inf
            self.count = held.size

    def final_count(self) -> int:
        """How many records `sorted_blocks` yields."""
        if self.count > self.capacity:
            self._prune()
        return self.count

    def sorted_blocks(self, block: int) -> Iterator[np.ndarray]:
        """The held records, best first, in blocks of at most `block` rows."""
        if not self.spill:
            if not self._parts:
                return
            held = np.concatenate(self._parts) if len(self._parts) > 1 else self._parts[0]
            order = _record_order(held)[: self.capacity]
            for start in range(0, order.size, block):  # gathered block by block, as they are written
                yield np.take(held, order[start : start + block])
            return
        if not self._keys:
            return
        score, index, position = (np.concatenate(a) for a in zip(*self._keys))
        self._keys = []
        wanted_all = position[np.lexsort((index, score))[: self.capacity]]
        del score, index, position
        for start in range(0, wanted_all.size, _SPILL_RECORDS):
            wanted = wanted_all[start : start + _SPILL_RECORDS]
            buffer = np.empty(wanted.size, self.dtype)
            slot = np.argsort(wanted, kind="stable")
            sorted_wanted = wanted[slot]
            step = max(_SPILL_RECORDS // 4, 1)
            for first in range(0, self._written, step):
                last = min(first + step, self._written)
                a, b = np.searchsorted(sorted_wanted, [first, last])
                if a == b:
                    continue
                self._file.seek(first * self.dtype.itemsize)
                chunk = np.fromfile(self._file, dtype=self.dtype, count=last - first)
                buffer[slot[a:b]] = np.take(chunk, sorted_wanted[a:b] - first)
            for at in range(0, buffer.size, block):
                yield buffer[at : at + block]

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _discount(score: np.ndarray, tolerance: float) -> np.ndarray:
    """`DIVERSE_DISCOUNT`: ``(1 - score / tolerance)^1.25`` in float64, as section 5 writes it
    (the pool is in tolerance: ``f >= 0``)."""
    f = 1.0 - np.asarray(score, dtype=np.float64) / tolerance
    return f * np.sqrt(np.sqrt(f))


def _max_sum(k: np.ndarray, n: int, weight: np.ndarray | None = None) -> np.ndarray:
    """Greedy max-sum diversification by cosine distance, discounted (section 5): positions in `k`.

    The first pool candidate is taken; then, repeatedly, the candidate with the largest
    ``A_i * weight_i`` (float64; ties: earlier in the pool) until `n` are taken, where
    ``A_i`` is the sum, over the candidates taken so far in the order taken, of the cosine
    distance ``1 - (k_i . k_s) / sqrt(|k_i|^2 |k_s|^2)`` (the dot products and squared
    norms are exact integers; the quotient as float64). `weight` None: all 1.
    """
    points = k.astype(np.int64)
    norms = (points * points).sum(axis=1).astype(np.float64)

    def distance(s: int) -> np.ndarray:
        dots = (points @ points[s]).astype(np.float64)
        return 1.0 - dots / np.sqrt(norms * norms[s])

    chosen = [0]
    total = distance(0)
    taken = np.zeros(points.shape[0], bool)
    taken[0] = True
    while len(chosen) < n:
        value = total * weight if weight is not None else total.copy()
        value[taken] = -np.inf
        best = int(np.argmax(value))  # the first of equal values: earlier in the pool
        chosen.append(best)
        taken[best] = True
        total += distance(best)
    return np.asarray(chosen)


# ----------------------------------------------------------------------------- threads
def _worker_count() -> int:
    """Threads for the chunk pipeline: the cores this process may use (at most 4)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 4))


_WORKERS = _worker_count()


def reuse_freed_memory() -> bool:
    """Lets the C allocator keep freed blocks of up to 32 MiB for reuse (glibc only).

    The pipeline allocates and frees arrays of a few MiB per piece; by default glibc maps
    each from the kernel afresh and returns it on free, so every piece pays page faults
    (about a fifth of the CPU time of `hea-zoo design`). A process-wide setting: the
    command line calls it, a library user may. Returns whether it took effect.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, 32 << 20)) and bool(mallopt(m_trim_threshold, 256 << 20))


def _pieces(total: int, chunk: int, piece: int) -> Iterator[tuple[int, int]]:
    """``(start, rows)`` of consecutive pieces of at most `piece` rows covering chunks of `chunk` rows."""
    for first in range(0, total, chunk):
        end = min(first + chunk, total)
        for start in range(first, end, piece):
            yield start, min(piece, end - start)


def _ordered_map(func: Callable[[Any], Any], items: Iterator[Any] | Sequence[Any], workers: int | None = None) -> Iterator[Any]:
    """``map(func, items)`` computed by worker threads, results yielded in order.

    onnxruntime and the NumPy kernels release the GIL, so chunks run on every core while
    the caller consumes the earlier ones. At most ``2 * workers`` results are held at
    once (memory stays bounded); with one worker everything runs in the calling thread.
    """
    workers = _WORKERS if workers is None else workers
    if workers <= 1:
        yield from map(func, items)
        return
    import collections
    from concurrent.futures import ThreadPoolExecutor

    pending: collections.deque = collections.deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hea_zoo-design") as pool:
        try:
            for item in items:
                pending.append(pool.submit(func, item))
                if len(pending) >= 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


# ----------------------------------------------------------------------------- sessions
def _session(path: Path, role: str):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    # Idle worker threads sleep instead of spinning: the NumPy steps between calls get the
    # cores (spinning costs as much CPU as the work itself on a 2-core machine).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # The design pipeline runs pieces on every core (`_ordered_map`): each call on one thread.
    options.intra_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises several types for foreign or truncated files
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ModelFileError(f"{path} is not a readable ONNX {role} ({first[:160]}).") from None


def _metadata(session, path: Path, required: Sequence[str]) -> dict[str, Any]:
    props = dict(session.get_modelmeta().custom_metadata_map)
    return decode_metadata(props, source=str(path), required=required)


def _names(values) -> list[str]:
    return [v.name for v in values]


def _check_io(session, path: Path, inputs: Sequence[str], outputs: Sequence[str], role: str) -> None:
    have_in, have_out = _names(session.get_inputs()), _names(session.get_outputs())
    missing = [n for n in inputs if n not in have_in] + [n for n in outputs if n not in have_out]
    if missing:
        raise ModelFileError(
            f"{path} is not a hea_zoo {role} export: it lacks {', '.join(repr(m) for m in missing)} "
            f"(inputs {have_in}, outputs {have_out})."
        )


# ----------------------------------------------------------------------------- progress
class _Progress:
    def __init__(self, total: int, progress: bool | Callable[[int, int], Any] | None):
        self.total = total
        self.callback = progress if callable(progress) else None
        self.bar = progress is True
        self.start = time.perf_counter()
        self.last = 0.0

    def __call__(self, done: int) -> None:
        if self.callback is not None:
            self.callback(done, self.total)
        if not self.bar:
            return
        now = time.perf_counter()
        if now - self.last < 0.2 and done < self.total:
            return
        self.last = now
        elapsed = max(now - self.start, 1e-9)
        rate = done / elapsed
        eta = (self.total - done) / rate if rate > 0 else 0.0
        width = 30
        filled = int(width * done / max(self.total, 1))
        sys.stderr.write(
            f"\rdesign [{'#' * filled}{'.' * (width - filled)}] {done:,}/{self.total:,} candidates "
            f"{rate:,.0f}/s ETA {eta:.0f} s "
        )
        sys.stderr.flush()

    def close(self) -> None:
        if self.bar:
            sys.stderr.write("\n")
            sys.stderr.flush()


# ----------------------------------------------------------------------------- writers
class _CsvSink:
    def __init__(self, handle, header: list[str]):
        import csv
        import io

        self.handle = handle
        line = io.StringIO()
        csv.writer(line, lineterminator="\n").writerow(header)
        handle.write(line.getvalue().encode())

    @staticmethod
    def prepare(block: _Block) -> bytes:
        """The block's rows (in a worker thread)."""
        return block.csv_bytes()

    def write(self, data: bytes) -> None:
        self.handle.write(data)


class _ParquetSink:
    def __init__(self, path: Path):
        self.path = path
        self.writer = None

    @staticmethod
    def prepare(block: _Block):
        """The block as an Arrow table (in a worker thread)."""
        import pyarrow as pa

        return pa.Table.from_pandas(block.frame(), preserve_index=False)

    def write(self, table) -> None:
        import pyarrow.parquet as pq

        if self.writer is None:
            self.writer = pq.ParquetWriter(str(self.path), table.schema)
        self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _writable_folder(folder: Path) -> bool:
    """Whether a file can be created in `folder` (tried, not guessed from permission bits)."""
    import secrets

    probe = folder / f".hea_zoo-write-test-{secrets.token_hex(6)}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        return False
    os.close(fd)
    try:
        os.unlink(probe)
    except OSError:
        pass
    return True


def check_output_path(path: str | os.PathLike) -> Path:
    """Checks, before any work, that `path` can be written (its folder exists or can be made).

    Raises:
        DesignError: the path is a folder, its folder cannot be written or made, or
            Parquet without pyarrow.
    """
    target = Path(path)
    if target.is_dir():
        raise DesignError(f"--out {target} is a folder; give a file name (designs.csv or designs.parquet).")
    existing = target.parent
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise DesignError(f"cannot write --out {target}: {existing} is not a folder.")
    if not _writable_folder(existing):
        raise DesignError(f"cannot write --out {target}: the folder {existing} is not writable.")
    if target.suffix.lower() == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise DesignError(
                "--out ending in .parquet needs pyarrow: pip install 'hea_zoo[parquet]' (or write a .csv)."
            ) from None
    return target


# ----------------------------------------------------------------------------- results
_BOOLEAN_CELLS = text.token_table([t + b"," for t in text.BOOLEANS])


@dataclasses.dataclass
class _Block:
    """One block of designs, ready to be shown or written."""

    designer: Designer
    ranks: np.ndarray
    records: np.ndarray
    oracle: np.ndarray | None
    oracle_error: np.ndarray | None
    log_prob: np.ndarray | None
    in_tolerance: np.ndarray | None

    def columns(self) -> list[str]:
        d = self.designer
        cols = ["rank", "candidate", "formula"]
        if d.has_surrogate:
            for name in d.condition_names:
                cols += [f"{name}_surrogate", f"{name}_lower", f"{name}_upper"]
        if self.oracle is not None:
            cols += [f"{name}_oracle" for name in d.condition_names]
        if d.has_surrogate:
            cols.append("relative_error_surrogate")
        if self.oracle is not None:
            cols.append("relative_error_oracle")
        if d.has_surrogate:
            cols.append("in_tolerance")
        if self.log_prob is not None:
            cols.append("log_prob")
        cols.append("system")
        return cols + list(d.elements)

    def csv_bytes(self) -> bytes:
        """The block's CSV rows (columns as `columns`), built without a per-row loop."""
        d, r = self.designer, self.records
        if not r.size:
            return b""
        k = r["k"].astype(np.int64)
        rows, n_props = r.size, len(d.condition_names)
        sections = [
            text.integer_pieces(np.stack([self.ranks, r["index"]], axis=1), b","),
            d._texts.formula_pieces(k),
            text.constant_pieces(rows, b","),
        ]
        values = []
        if d.has_surrogate:
            for j in range(n_props):
                values += [r["mean"][:, j], r["lower"][:, j], r["upper"][:, j]]
        if self.oracle is not None:
            values += [self.oracle[:, j] for j in range(n_props)]
        if values:
            sections.append(text.float_pieces(np.stack(values, axis=1), 4, b","))
        errors = ([r["score"]] if d.has_surrogate else []) + ([self.oracle_error] if self.oracle is not None else [])
        if errors:
            sections.append(text.float_pieces(np.stack(errors, axis=1), 6, b","))
        if d.has_surrogate:
            sections.append(text.token_pieces(_BOOLEAN_CELLS, self.in_tolerance.astype(np.int64)))
        if self.log_prob is not None:
            sections.append(text.float_pieces(self.log_prob, 4, b","))
        sections.append(d._texts.system_pieces(k))
        sections.append(text.constant_pieces(rows, b","))
        sections.append(d._texts.fraction_pieces(k, b",", last=b"\n"))
        return text.join_pieces(sections)

    def arrays(self) -> dict[str, Any]:
        """Column name -> values (NumPy arrays; formula and system as lists of str)."""
        d, r = self.designer, self.records
        k = r["k"].astype(np.int64)
        out: dict[str, Any] = {
            "rank": self.ranks.astype(np.int64),
            "candidate": r["index"].astype(np.int64),
            "formula": text.piece_strings(d._texts.formula_pieces(k)),
        }
        if d.has_surrogate:
            for j, name in enumerate(d.condition_names):
                out[f"{name}_surrogate"] = r["mean"][:, j].copy()
                out[f"{name}_lower"] = r["lower"][:, j].copy()
                out[f"{name}_upper"] = r["upper"][:, j].copy()
        if self.oracle is not None:
            for j, name in enumerate(d.condition_names):
                out[f"{name}_oracle"] = self.oracle[:, j]
        if d.has_surrogate:
            out["relative_error_surrogate"] = r["score"].copy()
        if self.oracle is not None:
            out["relative_error_oracle"] = self.oracle_error
        if d.has_surrogate:
            out["in_tolerance"] = self.in_tolerance
        if self.log_prob is not None:
            out["log_prob"] = self.log_prob
        out["system"] = text.piece_strings(d._texts.system_pieces(k))
        fractions = k.astype(np.float32) / np.float32(_UNIT)
        for e, symbol in enumerate(d.elements):
            out[symbol] = fractions[:, e]
        return out

    def frame(self):
        import pandas as pd

        return pd.DataFrame(self.arrays())


@dataclasses.dataclass
class DesignResult:
    """What `Designer.design` returns.

    Attributes:
        table: the designs (pandas DataFrame, built on first access), sorted by
            (score, candidate index): rank, candidate index, formula; per property the
            surrogate's mean and interval (``<name>_surrogate``, ``_lower``, ``_upper``)
            and, where the oracle applies, ``<name>_oracle``; the relative errors; whether
            the design is within the tolerance; ``log_prob`` for a generator with a
            density; the alloy system; one column per element (printed fractions). With
            ``out=`` and more than `table_rows` designs, the first `table_rows` rows only
            (the file has them all).
        notes: warnings and remarks on the run (one line each).
        n_designs: designs returned (written).
        n_candidates: candidates drawn.
        n_valid: candidates that printed and met the constraints.
        n_distinct: distinct printed compositions among them.
        n_in_tolerance: distinct candidates within the tolerance on every property.
        n_systems: distinct alloy systems among the designs.
        seed: the noise seed (drawn from the OS when the request gave None).
        select: ``"diverse"`` or ``"closest"``.
        tolerance: the relative tolerance.
        target: the target, one value per condition.
        out: the file written, if any.
        seconds: wall time of the run.
    """

    notes: list[str]
    n_designs: int
    n_candidates: int
    n_valid: int
    n_distinct: int
    n_in_tolerance: int | None
    n_systems: int
    seed: int
    select: str
    tolerance: float
    target: list[float]
    out: Path | None
    seconds: float
    _arrays: dict[str, Any] = dataclasses.field(repr=False, default_factory=dict)
    _table: Any = dataclasses.field(repr=False, default=None)

    @property
    def table(self):
        if self._table is None:
            import pandas as pd

            self._table = pd.DataFrame(self._arrays)
        return self._table

    @property
    def rows(self) -> dict[str, Any]:
        """The first designs as column arrays (what `table` is built from, without pandas)."""
        return self._arrays


def _concat_arrays(parts: list[dict[str, Any]]) -> dict[str, Any]:
    if not parts:
        return {}
    out = {}
    for key in parts[0]:
        values = [p[key] for p in parts]
        out[key] = sum(values, []) if isinstance(values[0], list) else np.concatenate(values)
    return out


# ----------------------------------------------------------------------------- designer
TYPICALITY_MODEL = "flow"
"""The exported generator whose log-density scores designs with ``typicality``."""


def _typicality_model(folder: Path) -> Path:
    """The log-density ONNX file that `TYPICALITY_MODEL`'s metadata names, in `folder`."""
    flow = folder / f"{TYPICALITY_MODEL}.onnx"
    if not flow.is_file():
        raise ModelFileError(
            f"typicality needs the flow's log-density: no {flow.name} in {folder}. Export the flow "
            "(`hea-zoo export --all`, or `hea-zoo export --model flow.keras`)."
        )
    name = _metadata(_session(flow, "generator"), flow, ("log_prob_model",))["log_prob_model"]
    return folder / str(name)


class Designer:
    """An exported generator and surrogate, ready to design alloys.

    Attributes:
        generator_path: the generator's ONNX file.
        surrogate_path: the surrogate's ONNX file (None: designs are not judged).
        metadata: the generator's metadata (elements, condition names and units, latent size).
        surrogate_metadata: the surrogate's metadata (or None).
        log_prob_path: the ONNX file of the log-density that scores the designs (the
            ``log_prob`` column): the generator's own, where its metadata names one
            (``log_prob_model``), else ``typicality_path``.

    Args:
        generator_path: the generator's ONNX file.
        surrogate_path: the surrogate's ONNX file (None: designs are not judged).
        typicality_path: a log-density ONNX file (inputs ``composition``, ``condition``;
            the flow's ``flow_log_prob.onnx``) that scores the designs of a generator
            without a density of its own: how alloy-like each design is under the
            training data, in nats. Its elements and conditions must be the generator's.
    """

    def __init__(
        self,
        generator_path: str | os.PathLike,
        surrogate_path: str | os.PathLike | None = None,
        typicality_path: str | os.PathLike | None = None,
    ):
        self.generator_path = Path(generator_path)
        self.surrogate_path = Path(surrogate_path) if surrogate_path is not None else None
        self._generator = _session(self.generator_path, "generator")
        self.metadata = _metadata(
            self._generator, self.generator_path, ("kind", "elements", "latent_dim", "condition_names")
        )
        if self.metadata["kind"] != "generator":
            raise ModelFileError(
                f"{self.generator_path} is a hea_zoo {self.metadata['kind']} export, not a generator."
            )
        _check_io(self._generator, self.generator_path, ("z", "condition"), ("composition",), "generator")
        for key in ("elements", "condition_names"):
            value = self.metadata[key]
            if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
                raise MetadataError(f"{self.generator_path}: metadata key {key!r} is not a list of names.")
        if not isinstance(self.metadata["latent_dim"], int) or self.metadata["latent_dim"] < 1:
            raise MetadataError(f"{self.generator_path}: metadata key 'latent_dim' is not a positive integer.")
        self._surrogate = None
        self.surrogate_metadata = None
        self._judge_outputs: list[str] = []
        self.calibrated = False
        if self.surrogate_path is not None:
            self._open_surrogate()
        self.log_prob_path = None
        self._log_prob = None
        name = self.metadata.get("log_prob_model")
        if name:
            self.log_prob_path = self.generator_path.parent / str(name)
            if not self.log_prob_path.is_file():
                raise ModelFileError(
                    f"{self.generator_path}: metadata key 'log_prob_model' names {name}, which is not in "
                    f"{self.generator_path.parent}."
                )
            self._log_prob = _session(self.log_prob_path, "log-density model")
            _check_io(self._log_prob, self.log_prob_path, ("composition", "condition"), (), "log-density")
        elif typicality_path is not None:
            self._open_typicality(Path(typicality_path))
        self._texts = text.TextTables(self.elements, SYSTEM_MIN_THOUSANDTHS)
        self._hasher = _RowHasher(len(self.elements))

    def _open_typicality(self, path: Path) -> None:
        """Opens another model's log-density ONNX file to score this generator's designs."""
        if not path.is_file():
            raise ModelFileError(f"no log-density model at {path}.")
        session = _session(path, "log-density model")
        _check_io(session, path, ("composition", "condition"), (), "log-density")
        meta = _metadata(session, path, ("elements", "condition_names"))
        for key, what in (("elements", "scores compositions over"), ("condition_names", "is conditioned on")):
            if meta[key] != self.metadata[key]:
                raise ModelFileError(
                    f"{path} {what} {meta[key]}, but {self.generator_path} has {self.metadata[key]}."
                )
        self.log_prob_path = path
        self._log_prob = session

    def _open_surrogate(self) -> None:
        path = self.surrogate_path
        session = _session(path, "surrogate")
        meta = _metadata(session, path, ("kind", "elements", "property_names"))
        if meta["kind"] != "surrogate":
            raise ModelFileError(f"{path} is a hea_zoo {meta['kind']} export, not a surrogate.")
        outputs = _names(session.get_outputs())
        _check_io(session, path, ("composition",), ("properties",), "surrogate")
        if meta["elements"] != self.metadata["elements"]:
            raise ModelFileError(
                f"{path} judges compositions over {meta['elements']}, but {self.generator_path} "
                f"generates over {self.metadata['elements']}."
            )
        if meta["property_names"] != self.metadata["condition_names"]:
            raise ModelFileError(
                f"{path} predicts {meta['property_names']}, but {self.generator_path} is conditioned on "
                f"{self.metadata['condition_names']}."
            )
        # A surrogate exported uncalibrated (metadata calibration_size 0) has NaN interval
        # outputs: its ensemble spread stands in, as for an export without them.
        calibrated = meta.get("calibration_size", 1) != 0
        if calibrated and "properties_lower" in outputs and "properties_upper" in outputs:
            self._judge_outputs = ["properties", "properties_lower", "properties_upper"]
            self.calibrated = True
        elif "properties_std" in outputs:
            self._judge_outputs = ["properties", "properties_std"]
        else:
            raise ModelFileError(
                f"{path} has no interval outputs (properties_lower/properties_upper or properties_std)."
            )
        self._surrogate, self.surrogate_metadata = session, meta

    @classmethod
    def from_exported(
        cls, model: str = "cvae", models_dir: str | os.PathLike | None = None, typicality: bool = False
    ) -> Designer:
        """Opens `<models_dir>/<model>.onnx` (or an .onnx path) and the surrogate beside it.

        `models_dir` None: the bundled models (`hea_zoo.paths.bundled_models_dir`), from
        any folder and any install.

        The surrogate is ``surrogate.onnx`` in the generator's folder; without it designs
        are not judged (`DesignResult.notes` says so). With ``typicality``, the designs
        of a generator without a density of its own are scored by the flow's log-density
        (``log_prob_model`` of ``flow.onnx`` in the generator's folder; the ``log_prob``
        column); the flow's own designs always are.

        Raises:
            FileNotFoundError: no such generator file.
            ModelFileError: a file that is not a readable hea_zoo export (names the file).
            hea_zoo.artifact.MetadataError: metadata missing a key or not parsing (names
                the file and the key).
        """
        if models_dir is None:
            from hea_zoo.paths import bundled_models_dir

            models_dir = bundled_models_dir()
        models_dir = Path(models_dir)
        path = Path(model) if str(model).endswith(".onnx") else models_dir / f"{model}.onnx"
        if not path.is_file():
            raise FileNotFoundError(
                f"no exported model at {path}. Export one with `hea-zoo export` or point "
                "--models-dir (or HEA_ZOO_EXPORTED) at a folder of exported models."
            )
        surrogate = path.parent / "surrogate.onnx"
        density = _typicality_model(path.parent) if typicality else None
        return cls(path, surrogate if surrogate.is_file() else None, density)

    # --------------------------------------------------------------------- properties
    @property
    def elements(self) -> list[str]:
        return list(self.metadata["elements"])

    @property
    def condition_names(self) -> list[str]:
        return list(self.metadata["condition_names"])

    @property
    def condition_units(self) -> list[str]:
        units = self.metadata.get("condition_units")
        return list(units) if isinstance(units, list) else [""] * len(self.condition_names)

    @property
    def latent_dim(self) -> int:
        return int(self.metadata["latent_dim"])

    @property
    def has_surrogate(self) -> bool:
        return self._surrogate is not None

    @property
    def uses_oracle(self) -> bool:
        """Whether the physics oracle labelled this generator's training data (by fingerprint)."""
        return oracle_applies(self.metadata)

    @property
    def threshold(self) -> float:
        value = self.metadata.get("composition_threshold", DROP_THRESHOLD)
        return float(value) if isinstance(value, (int, float)) else DROP_THRESHOLD

    def training_range(self) -> np.ndarray | None:
        """(2, P) min/max of the training conditions, where the export records them."""
        value = self.metadata.get("condition_range")
        try:
            out = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            return None
        return out if out.shape == (2, len(self.condition_names)) and np.all(np.isfinite(out)) else None

    def scale_floors(self) -> np.ndarray:
        """Per property, 1 % of the training-condition range (1e-9 where unknown)."""
        rng = self.training_range()
        if rng is None:
            return np.full(len(self.condition_names), 1e-9)
        return np.maximum(0.01 * (rng[1] - rng[0]), 1e-9)

    # --------------------------------------------------------------------- models
    def generate(self, target: Sequence[float], n: int, seed: int = 0, start_row: int = 0) -> np.ndarray:
        """``(n, E)`` raw compositions of candidates ``start_row ...`` at `target`."""
        return self._decode(noise(seed, n, self.latent_dim, start_row), np.asarray(target, dtype=np.float32))

    def _decode(self, z: np.ndarray, target: np.ndarray) -> np.ndarray:
        """The generator's compositions for noise rows `z` at one float32 `target`."""
        condition = np.repeat(target.reshape(1, -1), min(z.shape[0], _GENERATE_BATCH), axis=0)
        parts = [self._generator.run(["composition"], {"z": z[a : a + _GENERATE_BATCH], "condition": condition[: z.shape[0] - a]})[0]
                 for a in range(0, z.shape[0], _GENERATE_BATCH)]  # fmt: skip
        return np.concatenate(parts) if parts else np.zeros((0, len(self.elements)), np.float32)

    def judge(self, fractions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Surrogate mean and interval ``(mean, lower, upper)``, ``(N, P)`` float32 each."""
        if self._surrogate is None:
            return None
        x = np.ascontiguousarray(fractions, dtype=np.float32)
        parts = [self._surrogate.run(self._judge_outputs, {"composition": x[a : a + _JUDGE_BATCH]})
                 for a in range(0, x.shape[0], _JUDGE_BATCH)]  # fmt: skip
        outs = [np.concatenate([p[i] for p in parts]) if parts else np.zeros((0, len(self.condition_names)), np.float32)
                for i in range(len(self._judge_outputs))]  # fmt: skip
        if self.calibrated:
            mean, lower, upper = outs
        else:
            mean, std = outs
            half = np.float32(INTERVAL_Z) * std
            lower, upper = mean - half, mean + half
        return mean, lower, upper

    def log_prob(self, fractions: np.ndarray, target: Sequence[float]) -> np.ndarray | None:
        """Log-density (nats) of printed fractions at `target`, for a generator that has one."""
        if self._log_prob is None:
            return None
        x = np.ascontiguousarray(fractions, dtype=np.float32)
        condition = np.tile(np.asarray(target, dtype=np.float32)[None, :], (x.shape[0], 1))
        name = self._log_prob.get_outputs()[0].name
        (out,) = self._log_prob.run([name], {"composition": x, "condition": condition})
        return np.asarray(out, dtype=np.float64).reshape(-1)

    # --------------------------------------------------------------------- checks
    def check_target(self, target: Sequence[float]) -> np.ndarray:
        """The target as float64, checked: one finite value per condition, within float32.

        Raises:
            TargetError: wrong number of values, NaN/inf, or beyond float32.
        """
        names = self.condition_names
        try:
            t = np.asarray(target, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise TargetError(f"the target must be {len(names)} numbers ({', '.join(names)}). Received: {target!r}") from None
        if t.shape != (len(names),):
            raise TargetError(
                f"expected {len(names)} target values ({', '.join(names)}). Received {t.size}: {list(t)}"
            )
        for name, value in zip(names, t):
            if not math.isfinite(value):
                raise TargetError(f"{name} must be a finite number. Received: {value}")
            if abs(value) > _FLOAT32_MAX:
                raise TargetError(f"{name} = {value:g} is beyond what the models take (float32, at most {_FLOAT32_MAX:.3g}).")
        return t

    def _training_rows(self) -> np.ndarray | None:
        """The training alloys recorded in the export (thousandths), or None."""
        value = self.metadata.get("training_compositions")
        if not isinstance(value, list) or not value:
            return None
        from hea_zoo.artifact import parse_printed

        try:
            return parse_printed(value, self.elements)
        except ValueError as err:
            raise MetadataError(f"{self.generator_path}: metadata key 'training_compositions' does not parse ({err}).") from None

    def _notes_before(self, t: np.ndarray, rules: _Rules, n: int, candidates: int) -> list[str]:
        notes = []
        rng = self.training_range()
        if rng is not None:
            for j, (name, unit) in enumerate(zip(self.condition_names, self.condition_units)):
                if not rng[0, j] <= t[j] <= rng[1, j]:
                    notes.append(
                        f"target {name} = {t[j]:g} {unit} lies outside the training data "
                        f"({rng[0, j]:.3g}-{rng[1, j]:.3g}); designs are extrapolations.".replace("  ", " ")
                    )
        training = self._training_rows()
        if training is not None and not rules.trivial and not rules.satisfied(training).any():
            notes.append(
                f"no training alloy satisfies the constraints ({rules.describe()}): the designs are "
                "extrapolations beyond the data."
            )
        if self._surrogate is None:
            notes.append(
                f"no surrogate found (no surrogate.onnx beside {self.generator_path}): designs are not judged "
                "or ranked. Export one with `hea-zoo export --model surrogate.keras --out "
                f"{self.generator_path.parent} --name surrogate`."
            )
        elif not self.calibrated:
            notes.append(
                f"intervals are the ensemble mean ± {INTERVAL_Z:.3f} std (nominal 90 %, not calibrated): "
                f"{self.surrogate_path} has no calibrated interval outputs."
            )
        return notes

    # --------------------------------------------------------------------- design
    def design(
        self,
        target: Sequence[float],
        n: int = 20,
        seed: int | None = None,
        candidates: int | None = None,
        select: str = "diverse",
        tolerance: float = DEFAULT_TOLERANCE,
        constraints: Constraints | Mapping[str, Any] | None = None,
        chunk_size: int = 65536,
        progress: bool | Callable[[int, int], Any] | None = None,
        out: str | os.PathLike | None = None,
        table_rows: int | None = None,
    ) -> DesignResult:
        """Designs `n` different alloys for `target` (docs/DESIGN_ENGINE.md).

        Args:
            target: one value per condition, in the metadata's units.
            n: designs to return.
            seed: noise seed in [0, 2**32 - 1]; None draws one from the OS (reported in
                `DesignResult.seed`, so the run can be repeated).
            candidates: candidates drawn (default `default_candidates(n)`); at least `n`.
            select: ``"diverse"`` (greedy max-sum of cosine distances, discounted by score, among the
                best in-tolerance candidates) or ``"closest"`` (the best scores).
            tolerance: relative tolerance on every property (> 0).
            constraints: a `Constraints` or a mapping of its fields (None: the defaults,
                `DEFAULT_MIN_FRACTION` and `DEFAULT_MAX_ELEMENTS`).
            chunk_size: candidates per chunk (memory is bounded by it, not by `candidates`).
            progress: True for a progress bar on stderr, or a callable ``(done, total)``.
            out: also write the designs to this file (``.csv``, or ``.parquet`` with pyarrow),
                block by block and atomically.
            table_rows: rows kept for `DesignResult.table` (default: all without `out`,
                at most 10,000 with it).

        Returns:
            A `DesignResult`.

        Raises:
            ValueError: `n`, `candidates`, `seed`, `chunk_size` or `select` out of range.
            TargetError: a bad target, tolerance or constraints.
            InfeasibleError: no candidate satisfies the constraints.
        """
        started = time.perf_counter()
        n = _positive_int(n, "n")
        chunk_size = _positive_int(chunk_size, "chunk_size")
        candidates = default_candidates(n) if candidates is None else _positive_int(candidates, "candidates")
        if candidates > 2**32:
            raise ValueError(f"`candidates` must be at most 2**32 (noise rows). Received: candidates={candidates}")
        if candidates < n:
            raise ValueError(
                f"`candidates` ({candidates}) must be at least `n` ({n}): each design is a distinct candidate."
            )
        if select not in ("diverse", "closest"):
            raise ValueError(f"`select` must be 'diverse' or 'closest'. Received: select={select!r}")
        seed = int.from_bytes(os.urandom(4), "little") if seed is None else check_seed(seed)
        if isinstance(tolerance, bool) or not isinstance(tolerance, numbers.Real) or not math.isfinite(tolerance) or tolerance <= 0:
            raise TargetError(f"--tolerance must be a positive number (a relative error, 0.05 = 5 %). Received: {tolerance}")
        t = self.check_target(target)
        rules = Constraints.coerce(constraints).resolve(self.elements, self.threshold)
        out_path = check_output_path(out) if out is not None else None
        notes = self._notes_before(t, rules, n, candidates)
        keep_rows = (n if out_path is None else min(n, 10_000)) if table_rows is None else int(table_rows)

        state = self._run(t, n, seed, candidates, select, float(tolerance), rules, chunk_size, progress)
        try:
            if state["n_valid"] == 0:
                raise InfeasibleError(
                    f"no candidate satisfies the constraints ({rules.describe()}) among {candidates:,} candidates "
                    "tried; relax the constraints or draw more candidates (--candidates)."
                )
            notes.extend(state["notes"])
            if state["n_designs"] < n:
                notes.append(
                    f"only {state['n_distinct']:,} distinct candidates met the constraints among {candidates:,} "
                    f"tried: {state['n_designs']:,} designs instead of {n:,} (draw more with --candidates)."
                )
            kept, systems = [], set()
            n_written = 0

            def consume(sink) -> None:
                nonlocal n_written

                def prepare(item):  # in a worker thread: the block's columns, text and systems
                    block = self._block(*item, t, float(tolerance))
                    found = _system_codes(block.records["k"])
                    return block, (sink.prepare(block) if sink is not None else None), found

                for block, prepared, found in _ordered_map(prepare, self._record_blocks(state)):
                    if sink is not None:
                        sink.write(prepared)
                    if n_written < keep_rows:
                        part = block.arrays()
                        take = min(keep_rows - n_written, block.records.size)
                        kept.append({key: v[:take] for key, v in part.items()})
                    systems.update(found)
                    n_written += block.records.size

            if out_path is None:
                consume(None)
            elif out_path.suffix.lower() == ".parquet":
                from hea_zoo.files import atomic_write

                def write_parquet(tmp: Path) -> None:
                    sink = _ParquetSink(tmp)
                    try:
                        consume(sink)
                    finally:
                        sink.close()

                atomic_write(out_path, write_parquet)
            else:
                from hea_zoo.files import atomic_write

                def write_csv(tmp: Path) -> None:
                    with open(tmp, "wb", buffering=1 << 20) as handle:
                        consume(_CsvSink(handle, self._header(state)))

                atomic_write(out_path, write_csv)
        finally:
            for store in state["stores"]:
                store.close()
        return DesignResult(
            notes=notes,
            n_designs=n_written,
            n_candidates=candidates,
            n_valid=state["n_valid"],
            n_distinct=state["n_distinct"],
            n_in_tolerance=state["n_in_tolerance"] if self.has_surrogate else None,
            n_systems=len(systems),
            seed=seed,
            select=select,
            tolerance=float(tolerance),
            target=[float(v) for v in t],
            out=out_path,
            seconds=time.perf_counter() - started,
            _arrays=_concat_arrays(kept),
        )

    def _header(self, state) -> list[str]:
        probe = _Block(self, np.zeros(0, np.int64), np.zeros(0, state["dtype"]),
                       np.zeros((0, 1)) if self.uses_oracle else None, None,
                       np.zeros(0) if self._log_prob is not None else None, None)  # fmt: skip
        return probe.columns()

    def _run(self, t, n, seed, candidates, select, tolerance, rules, chunk_size, progress) -> dict[str, Any]:
        """Sections 1-5 over the candidates, chunk by chunk: the selection stores."""
        size, n_props = len(self.elements), len(self.condition_names)
        dtype = _record_dtype(size, n_props)
        floors = self.scale_floors()
        condition = np.asarray(t, dtype=np.float32)[None, :]
        seen = _SeenHashes()
        if select == "closest":
            best = _BestRecords(n, dtype)
            pool = fill = None
            stores = [best]
        else:
            best = None
            pool = _BestRecords(max(50 * n, 2000), dtype, spill=False)
            fill = _BestRecords(n, dtype, spill=False)
            stores = [pool, fill]
        n_valid = n_distinct = n_in_tol = done = 0
        bar = _Progress(candidates, progress)

        def candidate_chunk(span: tuple[int, int]):
            """Sections 1-4 for one piece (in a worker thread): its distinct valid rows, judged."""
            start, rows = span
            z = noise(seed, rows, self.latent_dim, start)
            raw = self._decode(z, condition)
            k, ok = _repair(raw, rules)
            index = np.flatnonzero(ok)
            k = k[index]
            hashes = self._hasher(k)
            first = np.sort(np.unique(hashes, return_index=True)[1])  # first occurrences in the chunk
            index, k, hashes = index[first], k[first], hashes[first]
            return rows, int(ok.sum()), index + start, k, hashes, self.judge(k.astype(np.float32) / np.float32(_UNIT))

        try:
            pieces = _pieces(candidates, chunk_size, _PIECE_ROWS)
            for rows, valid, index, k, hashes, judged in _ordered_map(candidate_chunk, pieces):
                n_valid += valid
                fresh = seen.first_seen(hashes)  # across chunks, in candidate order
                index, k = index[fresh], k[fresh]
                n_distinct += index.size
                records = np.zeros(index.size, dtype)
                records["index"] = index
                records["k"] = k
                if judged is None:
                    records["mean"] = records["lower"] = records["upper"] = np.nan
                    records["score"] = 0.0
                    in_tol = np.ones(index.size, bool)
                else:
                    mean, lower, upper = (v[fresh] for v in judged)
                    records["mean"], records["lower"], records["upper"] = mean, lower, upper
                    with np.errstate(invalid="ignore"):
                        errors = relative_errors(mean, t, floors)
                        score = errors.sum(axis=1) / n_props
                        in_tol = np.all(errors <= tolerance, axis=1)
                    records["score"] = np.where(np.isnan(score), np.inf, score)
                n_in_tol += int(in_tol.sum())
                if best is not None:
                    best.offer(records)
                else:
                    pool.offer(records[in_tol])
                    fill.offer(records[~in_tol])
                done += rows
                bar(done)
        finally:
            bar.close()
        notes = []
        chosen = None
        if pool is not None:
            pool_records = np.concatenate(list(pool.sorted_blocks(1 << 30)) or [np.zeros(0, dtype)])
            if pool_records.size <= n:
                filler = np.concatenate(list(fill.sorted_blocks(1 << 30)) or [np.zeros(0, dtype)])
                chosen = np.concatenate([pool_records, filler[: n - pool_records.size]])
                if self.has_surrogate and pool_records.size < n and filler.size:
                    count = f"{pool_records.size:,} distinct candidate" + (" is" if pool_records.size == 1 else "s are")
                    notes.append(
                        f"only {count} within {100 * tolerance:g} % of the target on every property: the rest "
                        "are the closest others (the closest selection)."
                    )
            else:
                chosen = pool_records[_max_sum(pool_records["k"], n, _discount(pool_records["score"], tolerance))]
            chosen = _sort_records(chosen)
        n_designs = chosen.size if chosen is not None else best.final_count()
        return {
            "dtype": dtype,
            "best": best,
            "chosen": chosen,
            "stores": stores,
            "n_valid": n_valid,
            "n_distinct": n_distinct,
            "n_in_tolerance": n_in_tol,
            "n_designs": n_designs,
            "notes": notes,
        }

    def _record_blocks(self, state, block: int = 16384) -> Iterator[tuple[int, np.ndarray]]:
        """The selected designs, best first, in blocks: ``(rank of the first, records)``."""
        if state["chosen"] is not None:
            chosen = state["chosen"]
            source: Iterator[np.ndarray] = (chosen[a : a + block] for a in range(0, chosen.size, block))
        else:
            source = state["best"].sorted_blocks(block)
        rank = 1
        for records in source:
            yield rank, records
            rank += records.size

    def _block(self, rank: int, records: np.ndarray, t: np.ndarray, tolerance: float) -> _Block:
        """A block of designs with everything a row shows (oracle, tolerance, log-density)."""
        floors = self.scale_floors()
        fractions = records["k"].astype(np.float64) / _UNIT
        oracle_values = oracle_error = None
        if self.uses_oracle:
            from hea_zoo.data import oracle as oracle_module

            # A design of oxygen alone (possible under constraints) has no oracle values.
            oracle_values = np.full((fractions.shape[0], len(self.condition_names)), np.nan)
            judged = oracle_module.judgeable(fractions, self.elements)
            if judged.any():
                oracle_values[judged] = oracle_module.properties(fractions[judged], self.elements)
            oracle_error = relative_errors(oracle_values, t, floors).mean(axis=1)  # NaN where not judged
        in_tol = None
        if self.has_surrogate:
            with np.errstate(invalid="ignore"):
                in_tol = np.all(relative_errors(records["mean"], t, floors) <= tolerance, axis=1)
        log_prob = self.log_prob(fractions.astype(np.float32), t) if self._log_prob is not None else None
        ranks = np.arange(rank, rank + records.size)
        return _Block(self, ranks, records, oracle_values, oracle_error, log_prob, in_tol)


def _system_codes(k: np.ndarray) -> set[bytes]:
    """The distinct alloy systems of printed rows, each as the bytes of its membership bits."""
    packed = np.packbits(k >= SYSTEM_MIN_THOUSANDTHS, axis=1)
    if packed.shape[1] > 8:  # more than 64 elements: rows of bytes (slower)
        return {row.tobytes() for row in np.unique(packed, axis=0)}
    words = np.zeros((packed.shape[0], 8), np.uint8)
    words[:, : packed.shape[1]] = packed
    return {code.tobytes() for code in np.unique(words.view("<u8").ravel())}


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 1:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    return int(value)


# ----------------------------------------------------------------------------- text table
def format_table(result: DesignResult, designer: Designer, max_rows: int | None = None) -> str:
    """The table `hea-zoo design` prints: a header line, the designs, a summary line."""
    names, units = designer.condition_names, designer.condition_units
    head = ", ".join(f"{name} = {v:g} {u}".rstrip() for name, v, u in zip(names, result.target, units))
    rows = result.rows
    shown = len(rows.get("rank", []))
    if max_rows is not None:
        shown = min(shown, max_rows)
    order = "best by surrogate first" if designer.has_surrogate else "not judged: no surrogate"
    lines = [
        f"target: {head}  (model: {designer.generator_path.stem}, seed {result.seed}, {result.n_designs:,} designs, "
        f"{result.select} selection, {order})"
    ]
    columns = ["#", "formula"]
    for name, unit in zip(names, units):
        short = short_label(name)
        if designer.has_surrogate:
            columns.append(f"{short} surrogate [{unit}]" if unit else f"{short} surrogate")
        if f"{name}_oracle" in rows:
            columns.append(f"{short} oracle")
    if "log_prob" in rows:
        columns.append("log p")
    columns.append("system")
    table = []
    for i in range(shown):
        cells = [str(rows["rank"][i]), rows["formula"][i]]
        for name in names:
            if designer.has_surrogate:
                cells.append(
                    f"{rows[f'{name}_surrogate'][i]:.1f} [{rows[f'{name}_lower'][i]:.1f}, {rows[f'{name}_upper'][i]:.1f}]"
                )
            if f"{name}_oracle" in rows:
                value = rows[f"{name}_oracle"][i]
                cells.append(f"{value:.1f}" if np.isfinite(value) else "–")  # oxygen alone
        if "log_prob" in rows:
            cells.append(f"{rows['log_prob'][i]:.1f}")
        cells.append(rows["system"][i])
        table.append(cells)
    widths = [max([len(c)] + [len(r[j]) for r in table]) for j, c in enumerate(columns)]
    left = {1, len(columns) - 1}

    def fmt(cells):
        return "  ".join(c.ljust(w) if j in left else c.rjust(w) for j, (c, w) in enumerate(zip(cells, widths))).rstrip()

    lines.append(fmt(columns))
    lines.extend(fmt(r) for r in table)
    if shown < result.n_designs:
        where = f" in {result.out}" if result.out else ""
        lines.append(f"... {result.n_designs - shown:,} more designs{where}")
    tol = ""
    if result.n_in_tolerance is not None:
        tol = f", {result.n_in_tolerance:,} within {100 * result.tolerance:g} %"
    lines.append(
        f"{result.n_designs:,} designs span {result.n_systems:,} alloy systems (elements >= 5 at.%); "
        f"{result.n_candidates:,} candidates, {result.n_distinct:,} distinct and valid{tol}."
    )
    if not designer.uses_oracle:
        lines.append(
            "(no oracle column: the physics oracle applies only to models trained on the bundled data, "
            "recognized by the data fingerprint in their export)"
        )
    return "\n".join(lines)

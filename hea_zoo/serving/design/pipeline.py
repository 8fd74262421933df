"""The chunk pipeline: pieces of candidates run by worker threads, results in order, and
the progress bar. Worker threads (one per core, at most 4) generate, repair and judge
pieces of `_PIECE_ROWS` candidates while the calling thread consumes them in candidate
order, so nothing a run returns or writes depends on the threads."""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any

__all__ = ["reuse_freed_memory"]

_PIECE_ROWS = 16384  # candidates per worker task: a chunk is cut into pieces (cache-sized arrays)


def _worker_count() -> int:
    """Threads for the chunk pipeline: the cores this process may use (at most 4)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 4))


_WORKERS = _worker_count()


def set_threads(threads: int | None) -> int:
    """Sets the worker threads of this process's design pipeline (None: one per core, at
    most 4); returns the number before. A Dask worker of `design_many` runs its designs
    on one thread (a worker is one core; the cluster spreads the targets)."""
    global _WORKERS
    before = _WORKERS
    _WORKERS = _worker_count() if threads is None else max(1, int(threads))
    return before


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



# ----------------------------------------------------------------------------- progress
class _Progress:
    def __init__(self, total: int, progress: bool | Callable[[int, int], Any] | None, unit: str = "candidates"):
        self.total = total
        self.unit = unit
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
            f"\rdesign [{'#' * filled}{'.' * (width - filled)}] {done:,}/{self.total:,} {self.unit} "
            f"{rate:,.{0 if rate >= 100 else 1}f}/s ETA {eta:.0f} s "
        )
        sys.stderr.flush()

    def close(self) -> None:
        if self.bar:
            sys.stderr.write("\n")
            sys.stderr.flush()


pieces = _pieces
Progress = _Progress


class CountLines:
    """Progress of a long count (candidates of a design run) as a few lines, for a log
    file, a pipe or CI where a redrawn bar would be noise: one line each time another
    `1/lines` of the total is done, with the rate and the time left.

    Use it as the ``progress`` callable of `Designer.design` (``progress(done, total)``).

    Args:
        label: what is counted's owner (``"design"``), at the start of each line.
        unit: what is counted (``"candidates"``).
        lines: about how many lines for the whole run.
        stream: where to write (default: ``sys.stderr`` at the time of writing).
    """

    def __init__(self, label: str, unit: str, lines: int = 5, stream: IO[str] | None = None):
        self.label, self.unit, self.lines, self.stream = str(label), str(unit), max(1, int(lines)), stream
        self.start = time.perf_counter()
        self.shown = 0

    def __call__(self, done: int, total: int) -> None:
        step = max(1, math.ceil(int(total) / self.lines))
        if done >= total or done // step <= self.shown // step:
            return
        self.shown = done
        elapsed = time.perf_counter() - self.start
        rate = done / max(elapsed, 1e-9)
        left = (total - done) / rate if rate > 0 else 0.0
        out = self.stream if self.stream is not None else sys.stderr
        out.write(
            f"{self.label}: {done:,}/{total:,} {self.unit} ({100 * done / max(total, 1):.0f} %), "
            f"{rate:,.0f}/s, {left:.0f} s left\n"
        )
        out.flush()

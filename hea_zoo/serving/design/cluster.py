"""Many targets on Dask distributed (the ``cluster`` extra: ``pip install -e ".[cluster]"``).

Imported only by `hea_zoo.serving.design.many.design_many` when it runs on a cluster: a
single design never imports Dask. `run_blocks` submits blocks of targets as tasks
(`many.design_targets`: each worker process opens the models once, `many.cached_designer`),
keeps a bounded number of blocks in flight, and hands the finished blocks to the writer in
table order (a block that finishes early waits, at most `window` blocks held), so the
client's memory does not grow with the number of targets and the file equals the one a
single process writes. A worker that dies mid-run loses nothing: the scheduler runs its
tasks again on the others (a target's designs depend only on its request and seed); a
task that keeps killing workers, or a cluster with no worker left, stops the run with a
`many.ClusterError`, and nothing is written.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

from hea_zoo.serving.design.many import ClusterError, design_targets

__all__ = ["INSTALL_HINT", "available", "local_workers", "run_blocks"]

INSTALL_HINT = 'pip install -e ".[cluster]"'
_CONNECT_SECONDS = 30


def available() -> bool:
    """Whether Dask distributed can be imported."""
    return importlib.util.find_spec("distributed") is not None


def local_workers() -> int:
    """Worker processes of the default local cluster: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _client(cluster: Any, workers: int | None):
    """A ``distributed.Client`` and what to close after: the one given, one connected to an
    address, or a new local cluster (processes, one thread each, loopback only)."""
    if not available():
        raise ClusterError(f"running on Dask needs dask[distributed]: {INSTALL_HINT}.", field="cluster")
    from distributed import Client, LocalCluster

    if cluster is not None and not isinstance(cluster, str):
        return cluster, []
    if cluster is not None:
        try:
            client = Client(cluster, timeout=_CONNECT_SECONDS)
        except Exception as err:  # OSError, TimeoutError, ValueError for a bad address
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise ClusterError(f"cannot reach the Dask scheduler at {cluster} ({first[:200]}).", field="cluster") from None
        return client, [client]
    n = local_workers() if workers is None else workers
    try:
        local = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                             dashboard_address=None, silence_logs=logging.ERROR)  # fmt: skip
    except Exception as err:
        raise ClusterError(
            f"could not start a local Dask cluster of {n} worker processes ({type(err).__name__}: {err}). "
            "A script that starts one must guard its work with `if __name__ == \"__main__\":` (the workers "
            "import it).", field="cluster") from None  # fmt: skip
    client = Client(local)
    return client, [client, local]


def run_blocks(
    spec: tuple,
    fmt: str,
    blocks: list[list[tuple[Any, Any]]],
    write: Callable[[Any], None],
    advance: Callable[[int], None],
    cluster: Any = None,
    workers: int | None = None,
    window: int | None = None,
    no_worker_seconds: float = 60.0,
) -> str:
    """Runs every block as a Dask task and calls `write` on each outcome in table order
    (`advance` with the targets done, in completion order). Returns where it ran.

    `window`: blocks submitted and not yet written (default four per worker thread, at
    least 8): what bounds the client's memory. `no_worker_seconds`: how long a cluster
    without any worker is waited for before the run stops.

    Raises:
        ClusterError: no scheduler at the address, every worker lost, or a task failed.
    """
    from distributed import wait

    client, closing = _client(cluster, workers)
    try:
        threads = sum(client.nthreads().values())
        if threads == 0:
            try:
                client.wait_for_workers(1, timeout=_CONNECT_SECONDS)
            except Exception:
                raise ClusterError(f"the Dask scheduler at {client.scheduler.address} has no worker "
                                   f"(waited {_CONNECT_SECONDS} s).", field="cluster") from None  # fmt: skip
            threads = sum(client.nthreads().values())
        where = f"Dask at {client.scheduler.address} ({len(client.nthreads())} workers, {threads} threads)"
        window = max(8, 4 * threads) if window is None else max(1, int(window))
        run = uuid.uuid4().hex[:12]
        index: dict[Any, int] = {}
        ready: dict[int, list] = {}
        submitted = written = 0

        def submit() -> None:
            nonlocal submitted
            i = submitted
            future = client.submit(design_targets, spec, fmt, blocks[i], key=f"hea_zoo-targets-{run}-{i}", pure=False)
            index[future] = i
            submitted += 1

        while submitted < len(blocks) and submitted - written < window:
            submit()
        idle_since = None
        try:
            while index:
                try:
                    done, _ = wait(list(index), timeout=2, return_when="FIRST_COMPLETED")
                except TimeoutError:
                    if client.nthreads():
                        idle_since = None
                    elif idle_since is None:
                        idle_since = time.monotonic()
                    elif time.monotonic() - idle_since > no_worker_seconds:
                        raise ClusterError(
                            f"the Dask cluster at {client.scheduler.address} has had no worker for "
                            f"{no_worker_seconds:g} s; nothing was written.", field="cluster") from None  # fmt: skip
                    continue
                for future in sorted(done, key=index.get):
                    i = index.pop(future)
                    try:
                        outcomes = future.result()
                    except BaseException as err:  # KilledWorker, CancelledError, an error in the task
                        if isinstance(err, (KeyboardInterrupt, SystemExit)):
                            raise
                        raise _task_error(err, blocks[i]) from None
                    future.release()
                    ready[i] = outcomes
                    advance(len(outcomes))
                while written in ready:
                    for outcome in ready.pop(written):
                        write(outcome)
                    written += 1
                while submitted < len(blocks) and submitted - written < window:
                    submit()
        finally:
            if index:
                client.cancel(list(index))
        return where
    finally:
        for thing in closing:
            try:
                thing.close()
            except Exception:  # pragma: no cover - closing a cluster that lost its workers
                pass


def _task_error(err: BaseException, block: list) -> ClusterError:
    """A failed task as one line: the targets it held and why."""
    ids = [str(target_id) for target_id, _ in block]
    shown = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
    name = type(err).__name__
    text = (str(err).strip().splitlines() or [name])[0][:300]
    if name == "KilledWorker":
        why = "the workers running it died (out of memory, killed, or lost) more often than Dask retries"
    elif name in ("FutureCancelledError", "CancelledError"):
        why = "it was cancelled (the scheduler lost it, or every worker left)"
    else:
        why = f"{name}: {text}"
    return ClusterError(f"the task of target(s) {shown} failed: {why}; nothing was written.", field="cluster")

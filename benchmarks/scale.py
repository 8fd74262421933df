"""Scale: streams millions of designs from an exported generator into a file.

Noise is drawn in chunks, each chunk is decoded by onnxruntime straight into a
preallocated output buffer (``io_binding``; in calls of ``sub_batch`` rows, which keep the
hidden activations in cache), and the buffer is appended to a binary
``.npy`` file (float32 or float16 rows of atomic fractions; a text format such as CSV of
formulas costs more than the generation itself, so the file is binary). The buffers are
reused, so memory does not grow with the total: the resident set size is sampled after
every chunk and reported.

Row ``i`` of the file was generated at condition ``i mod m`` of the conditions given
(the benchmark passes the study's line conditions).

Runs on NumPy and onnxruntime alone (no TensorFlow import), as a subprocess of the
benchmark harness so that its peak memory is its own:

    python benchmarks/run.py --only scale [--scale-total 10000000 --scale-chunk 65536]
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["stream_designs", "main"]


def _rss_mb() -> float:
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:  # pragma: no cover - psutil is a dependency of hea_zoo
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb() -> float:
    """Peak RSS of this process image (``VmHWM``; unlike ``ru_maxrss`` it is not inherited
    from the parent across fork and exec)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def stream_designs(
    onnx_path,
    out_path,
    total: int,
    chunk: int,
    conditions,
    seed: int = 0,
    threads: int = 2,
    dtype: str = "float32",
    keep: bool = False,
    sub_batch: int | None = 8192,
) -> dict:
    """Generates ``total`` designs in chunks of ``chunk`` rows into ``out_path`` (.npy).

    Args:
        onnx_path: an exported generator (inputs ``z``, ``condition``; output ``composition``).
        out_path: the ``.npy`` file to write.
        total: number of designs.
        chunk: rows per onnxruntime call.
        conditions: ``(m, P)`` conditions in physical units, cycled over the rows.
        seed: seed of the noise.
        threads: onnxruntime intra-op threads.
        dtype: ``"float32"`` (exact model output) or ``"float16"`` (half the bytes).
        keep: keep the file (it is deleted after the check otherwise).
        sub_batch: rows per onnxruntime call inside a chunk (None: the whole chunk in one
            call). Smaller calls keep the hidden activations in cache; each call writes
            into its slice of the chunk's output buffer.

    Returns:
        JSON-ready dict: throughput, time split, file size, RSS samples and a check of
        the written file.
    """
    import onnxruntime as ort

    if total < 1 or chunk < 1:
        raise ValueError(f"`total` and `chunk` must be positive. Received: total={total}, chunk={chunk}")
    if dtype not in ("float32", "float16"):
        raise ValueError(f"`dtype` must be 'float32' or 'float16'. Received: dtype={dtype!r}")
    rss_start = _rss_mb()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    inputs = {i.name: i for i in session.get_inputs()}
    latent_dim = int(inputs["z"].shape[1])
    n_elements = int(session.get_outputs()[0].shape[1])
    conditions = np.atleast_2d(np.asarray(conditions, dtype=np.float32))
    m = conditions.shape[0]

    # Reused buffers: noise, conditions (a cyclic pattern), output (and its float16 copy).
    rng = np.random.default_rng(seed)
    z = np.empty((chunk, latent_dim), dtype=np.float32)
    pattern = np.ascontiguousarray(conditions[np.arange(chunk + m) % m])
    out = np.empty((chunk, n_elements), dtype=np.float32)
    half = np.empty((chunk, n_elements), dtype=np.float16) if dtype == "float16" else None

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
              "shape": (int(total), n_elements)}
    times = {"noise": 0.0, "inference": 0.0, "write": 0.0}
    rss_samples = []
    step = chunk if not sub_batch else min(int(sub_batch), chunk)
    binding = session.io_binding()
    start_all = time.perf_counter()
    with open(out_path, "wb") as handle:
        np.lib.format.write_array_header_2_0(handle, header)
        done = 0
        n_chunks = 0
        while done < total:
            rows = min(chunk, total - done)
            t0 = time.perf_counter()
            rng.standard_normal(out=z[:rows], dtype=np.float32)
            t1 = time.perf_counter()
            for lo in range(0, rows, step):
                hi = min(lo + step, rows)
                offset = (done + lo) % m
                binding.bind_cpu_input("z", z[lo:hi])
                binding.bind_cpu_input("condition", pattern[offset : offset + hi - lo])
                binding.bind_output(
                    "composition", "cpu", 0, np.float32, [hi - lo, n_elements], out[lo:hi].ctypes.data
                )
                session.run_with_iobinding(binding)
            t2 = time.perf_counter()
            if half is not None:
                np.copyto(half[:rows], out[:rows], casting="same_kind")
                handle.write(memoryview(half[:rows]).cast("B"))
            else:
                handle.write(memoryview(out[:rows]).cast("B"))
            t3 = time.perf_counter()
            times["noise"] += t1 - t0
            times["inference"] += t2 - t1
            times["write"] += t3 - t2
            done += rows
            n_chunks += 1
            rss_samples.append(_rss_mb())
    elapsed = time.perf_counter() - start_all
    size = out_path.stat().st_size

    # Check: the file loads (memory-mapped), has the right shape, rows are compositions.
    written = np.load(out_path, mmap_mode="r")
    probe = np.concatenate([written[:1000], written[-1000:]]).astype(np.float64)
    sums = probe.sum(axis=1)
    tol = 1e-5 if dtype == "float32" else 2e-2
    check = {
        "shape": list(written.shape),
        "dtype": str(written.dtype),
        "probe_rows": int(probe.shape[0]),
        "probe_max_abs_sum_error": float(np.abs(sums - 1.0).max()),
        "probe_valid": bool(np.all(probe >= 0) and np.all(np.abs(sums - 1.0) <= tol)),
    }
    del written
    if not keep:
        out_path.unlink()
    first = rss_samples[: max(1, len(rss_samples) // 10)]
    return {
        "onnx": str(onnx_path),
        "file": str(out_path),
        "file_kept": bool(keep),
        "format": f".npy, {dtype}, shape ({total}, {n_elements}), written chunk by chunk",
        "total": int(total),
        "chunk": int(chunk),
        "onnxruntime_call_rows": int(step),
        "chunks": int(n_chunks),
        "threads": int(threads),
        "conditions": int(m),
        "seconds": elapsed,
        "designs_per_second": total / elapsed,
        "inference_designs_per_second": total / times["inference"],
        "seconds_split": times,
        "bytes": int(size),
        "write_mb_per_second": size / 2**20 / max(times["write"], 1e-12),
        "rss_start_mb": rss_start,
        "rss_after_first_10pct_mb": max(first),
        "rss_peak_sampled_mb": max(rss_samples),
        "rss_growth_after_first_10pct_mb": max(rss_samples) - max(first),
        "peak_rss_mb": _peak_rss_mb(),
        "check": check,
    }


def main(argv=None) -> int:
    """The worker entry of the scale part: one JSON object of `stream_designs` arguments in,
    one JSON line of results out (the harness, ``python benchmarks/run.py --only scale``,
    starts it as its own process so that its memory is its own; it is not a command of its own)."""
    job = json.loads((sys.argv[1:] if argv is None else argv)[0])
    sys.stdout.write(json.dumps(stream_designs(**job)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

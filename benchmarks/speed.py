"""Speed: training time per model, generation throughput per runtime, the compute bound.

- *Training*: each default model (`hea_zoo.models.train_default_generator`,
  `train_default_surrogate`) trained once on the training split; wall seconds.
- *Throughput*: compositions per second of one call at batch 1, 256 and 65,536 for
  Keras (``model.decode`` inside a `tf.function`), the reloaded SavedModel
  (``serving_default``) and onnxruntime (CPU, ``intra_op_num_threads=2``). Every runtime
  gets NumPy float32 inputs and returns a NumPy array, so conversions are counted.
  Each point is the median of repeated calls after warm-up.
- *Compute bound*: in the same run, the time of NumPy ``x @ W`` (preallocated inputs and
  outputs) for exactly the dense layers of the exported graph (the weight shapes of its
  MatMul nodes, read from the ONNX file) at the same batch, measured before and after the
  runtimes (the faster median is kept). Biases, activations and the
  softmax are not counted, so the bound is optimistic; ``ratio = onnxruntime time /
  matmul time`` (1.0 = as fast as the matrix products alone).
- *onnxruntime options*: at the largest batch a few session settings are measured
  (optimization level, threads, spinning, output binding, sub-batches); the best
  single-call setting is the one reported in the throughput table.
"""

from __future__ import annotations

import resource
import statistics
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from hea_zoo.constants import GENERATOR_NAMES

__all__ = [
    "peak_rss_mb",
    "time_call",
    "training_times",
    "matmul_shapes",
    "throughput",
]


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MiB (``VmHWM``, else ``ru_maxrss``)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mb() -> float:
    """Current resident set size, MiB."""
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def time_call(fn: Callable[[], Any], min_time: float, min_reps: int = 3, warmup: int = 2,
              max_reps: int = 20000) -> dict[str, float]:
    """Seconds per call of ``fn``: median and best over repeats lasting ``min_time`` in total."""
    for _ in range(warmup):
        fn()
    times = []
    total = 0.0
    while (len(times) < min_reps or total < min_time) and len(times) < max_reps:
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        times.append(elapsed)
        total += elapsed
    return {"median": statistics.median(times), "best": min(times), "reps": len(times)}


# --------------------------------------------------------------------------- training


def training_times(dataset, epochs: int | None, seed: int = 0,
                   names: tuple[str, ...] = GENERATOR_NAMES) -> tuple[dict, dict]:
    """Trains each default model once; returns (times, trained models).

    Args:
        dataset: the training data.
        epochs: epochs for every model (None: each model's default).
        seed: training seed.
        names: generators to train (the surrogate is always trained).
    """
    from hea_zoo.models import (
        DEFAULT_HYPERPARAMETERS,
        SURROGATE_DEFAULTS,
        train_default_generator,
        train_default_surrogate,
    )

    times: dict[str, Any] = {}
    models = {}
    for name in names:
        model = train_default_generator(name, dataset, epochs=epochs, seed=seed)
        models[name] = model
        times[name] = {
            "seconds": float(model.training_seconds),
            "epochs": int(epochs or DEFAULT_HYPERPARAMETERS[name]["epochs"]),
            "batch_size": int(DEFAULT_HYPERPARAMETERS[name]["batch_size"]),
        }
        print(f"[speed] trained {name}: {model.training_seconds:.1f} s", flush=True)
    start = time.perf_counter()
    models["surrogate"] = train_default_surrogate(dataset, epochs=epochs, seed=seed)
    seconds = time.perf_counter() - start
    times["surrogate"] = {
        "seconds": seconds,
        "epochs": int(epochs or SURROGATE_DEFAULTS["epochs"]),
        "batch_size": int(SURROGATE_DEFAULTS["batch_size"]),
        "n_members": int(SURROGATE_DEFAULTS["n_members"]),
    }
    print(f"[speed] trained surrogate: {seconds:.1f} s", flush=True)
    times["n_train"] = int(len(dataset.train_index))
    times["peak_rss_mb"] = peak_rss_mb()
    return times, models


# --------------------------------------------------------------------------- bound


def matmul_shapes(onnx_path) -> list[tuple[int, int]]:
    """``(K, N)`` of every MatMul weight in an ONNX graph, in graph order."""
    import onnx
    from onnx import numpy_helper

    proto = onnx.load(str(onnx_path))
    weights = {init.name: numpy_helper.to_array(init) for init in proto.graph.initializer}
    shapes = []
    for node in proto.graph.node:
        if node.op_type in ("MatMul", "Gemm"):
            for name in node.input[1:2]:
                if name in weights and weights[name].ndim == 2:
                    shapes.append(tuple(int(s) for s in weights[name].shape))
    return shapes


def _matmul_fn(shapes, batch: int, rng) -> Callable[[], None]:
    layers = []
    for k, n in shapes:
        x = np.ascontiguousarray(rng.random((batch, k), dtype=np.float32))
        w = np.ascontiguousarray(rng.random((k, n), dtype=np.float32))
        out = np.empty((batch, n), dtype=np.float32)
        layers.append((x, w, out))

    def run():
        for x, w, out in layers:
            np.matmul(x, w, out=out)

    return run


# --------------------------------------------------------------------------- runtimes


def _ort_session(onnx_path, threads: int | None = 2, level: str = "all", spinning: bool = True,
                 sequential: bool = True):
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    options.graph_optimization_level = {
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    }[level]
    options.execution_mode = (
        ort.ExecutionMode.ORT_SEQUENTIAL if sequential else ort.ExecutionMode.ORT_PARALLEL
    )
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])


def _ort_run_fn(session, z, c) -> Callable[[], np.ndarray]:
    feeds = {"z": z, "condition": c}

    def run():
        return session.run(["composition"], feeds)[0]

    return run


def _ort_binding_fn(session, z, c, n_elements: int, sub_batch: int | None = None) -> Callable[[], np.ndarray]:
    """Runs with inputs and a preallocated output bound in place (no output allocation)."""
    out = np.empty((z.shape[0], n_elements), dtype=np.float32)
    step = z.shape[0] if sub_batch is None else sub_batch
    bindings = []
    for start in range(0, z.shape[0], step):
        stop = min(start + step, z.shape[0])
        binding = session.io_binding()
        zs, cs, os_ = z[start:stop], c[start:stop], out[start:stop]
        binding.bind_cpu_input("z", zs)
        binding.bind_cpu_input("condition", cs)
        binding.bind_output("composition", "cpu", 0, np.float32, list(os_.shape), os_.ctypes.data)
        bindings.append((binding, zs, cs, os_))

    def run():
        for binding, *_ in bindings:
            session.run_with_iobinding(binding)
        return out

    return run


def _inputs(latent_dim: int, condition, batch: int, rng) -> tuple[np.ndarray, np.ndarray]:
    z = np.ascontiguousarray(rng.standard_normal((batch, latent_dim), dtype=np.float32))
    c = np.ascontiguousarray(np.tile(np.asarray(condition, np.float32).reshape(1, -1), (batch, 1)))
    return z, c


def ort_variants(onnx_path, latent_dim: int, n_elements: int, condition, batch: int,
                 min_time: float, seed: int = 0) -> dict[str, dict]:
    """Seconds per call at one batch for several onnxruntime settings."""
    rng = np.random.default_rng(seed)
    z, c = _inputs(latent_dim, condition, batch, rng)
    variants: dict[str, dict] = {}

    def measure(key, description, session_kwargs, binding=False, sub_batch=None, single_call=True):
        session = _ort_session(onnx_path, **session_kwargs)
        if binding:
            fn = _ort_binding_fn(session, z, c, n_elements, sub_batch)
        else:
            fn = _ort_run_fn(session, z, c)
        t = time_call(fn, min_time)
        variants[key] = {
            "description": description,
            "single_call": single_call,
            "seconds": t["median"],
            "best_seconds": t["best"],
            "reps": t["reps"],
            "compositions_per_second": batch / t["median"],
        }

    measure("library_defaults", "SessionOptions() as shipped (threads chosen by onnxruntime)",
            {"threads": None})
    measure("threads2_all", "intra_op 2, inter_op 1, ORT_ENABLE_ALL, sequential", {})
    measure("threads2_basic", "as threads2_all with ORT_ENABLE_BASIC", {"level": "basic"})
    measure("threads2_disabled", "as threads2_all with ORT_DISABLE_ALL", {"level": "disabled"})
    measure("threads1_all", "intra_op 1, ORT_ENABLE_ALL", {"threads": 1})
    measure("threads2_nospin", "as threads2_all without spin-waiting", {"spinning": False})
    measure("threads2_iobinding", "as threads2_all, inputs and a preallocated output bound (no output allocation)",
            {}, binding=True)
    sub = max(1, min(8192, batch // 8))
    if sub < batch:
        measure(f"threads2_iobinding_sub{sub}",
                f"as threads2_iobinding, the batch run as {batch // sub} calls of {sub} rows "
                "(activations stay in cache; several calls, not one)",
                {}, binding=True, sub_batch=sub, single_call=False)
    return variants


def throughput(name: str, model, onnx_path, saved_model_path, batches, condition,
               min_time: float, seed: int = 0) -> dict[str, Any]:
    """Throughput of one generator at each batch for Keras, SavedModel and onnxruntime.

    Args:
        name: generator name.
        model: the Keras generator the exports were made from.
        onnx_path: its ``.onnx`` file.
        saved_model_path: its SavedModel version folder.
        batches: batch sizes.
        condition: ``(P,)`` the condition used for every row (physical units).
        min_time: seconds of repeated calls per point.
        seed: seed of the noise.

    Returns:
        JSON-ready dict with per-batch rows and the onnxruntime variants at the largest batch.
    """
    import tensorflow as tf

    from hea_zoo.serving.export import load_saved_model

    latent_dim = int(model.latent_dim)
    n_elements = int(model.n_elements)
    rng = np.random.default_rng(seed)
    shapes = matmul_shapes(onnx_path)
    flops_per_row = 2 * sum(k * n for k, n in shapes)

    decode = tf.function(model.decode)
    serving = load_saved_model(saved_model_path)
    largest = max(batches)
    variants = ort_variants(onnx_path, latent_dim, n_elements, condition, largest, min_time, seed)
    best_key = min((k for k, v in variants.items() if v["single_call"]),
                   key=lambda k: variants[k]["seconds"])
    best_session = {
        "library_defaults": {"threads": None},
        "threads2_all": {},
        "threads2_basic": {"level": "basic"},
        "threads2_disabled": {"level": "disabled"},
        "threads1_all": {"threads": 1},
        "threads2_nospin": {"spinning": False},
        "threads2_iobinding": {},
    }[best_key]
    best_binding = best_key.endswith("iobinding")
    session = _ort_session(onnx_path, **best_session)

    rows = []
    for batch in batches:
        z, c = _inputs(latent_dim, condition, batch, rng)
        zt_fn = lambda: decode(tf.constant(z), tf.constant(c)).numpy()  # noqa: E731
        sm_fn = lambda: serving(z=tf.constant(z), condition=tf.constant(c))["composition"].numpy()  # noqa: E731
        ort_fn = (_ort_binding_fn(session, z, c, n_elements) if best_binding
                  else _ort_run_fn(session, z, c))
        check = np.abs(ort_fn() - zt_fn()).max()
        matmul = _matmul_fn(shapes, batch, rng)
        # The bound is measured before and after the runtimes; the faster median is kept.
        bound_before = time_call(matmul, min_time)
        timings = {
            "keras": time_call(zt_fn, min_time),
            "saved_model": time_call(sm_fn, min_time),
            "onnxruntime": time_call(ort_fn, min_time),
        }
        bound_after = time_call(matmul, min_time)
        timings["matmul_bound"] = min(bound_before, bound_after, key=lambda t: t["median"])
        row = {"batch": int(batch), "max_abs_diff_onnx_keras": float(check)}
        for key, t in timings.items():
            row[key] = {
                "seconds": t["median"],
                "best_seconds": t["best"],
                "reps": t["reps"],
                "compositions_per_second": batch / t["median"],
            }
        row["onnx_over_matmul"] = timings["onnxruntime"]["median"] / timings["matmul_bound"]["median"]
        row["matmul_gflops"] = flops_per_row * batch / timings["matmul_bound"]["median"] / 1e9
        row["onnx_gflops_dense"] = flops_per_row * batch / timings["onnxruntime"]["median"] / 1e9
        rows.append(row)
        print(
            f"[speed] {name} batch {batch}: keras {row['keras']['compositions_per_second']:,.0f}/s, "
            f"saved_model {row['saved_model']['compositions_per_second']:,.0f}/s, "
            f"onnxruntime {row['onnxruntime']['compositions_per_second']:,.0f}/s, "
            f"matmul bound {row['matmul_bound']['compositions_per_second']:,.0f}/s "
            f"(ratio {row['onnx_over_matmul']:.2f})",
            flush=True,
        )
    return {
        "model": name,
        "onnx": Path(onnx_path).name,
        "saved_model": "/".join(Path(saved_model_path).parts[-2:]),
        "latent_dim": latent_dim,
        "matmul_shapes": [list(s) for s in shapes],
        "dense_flops_per_composition": int(flops_per_row),
        "onnxruntime_setting": best_key,
        "onnxruntime_variants_batch": int(largest),
        "onnxruntime_variants": variants,
        "batches": rows,
        "peak_rss_mb": peak_rss_mb(),
        "rss_mb": current_rss_mb(),
    }

"""The one harness of hea_zoo's benchmarks: every study is a named entry, run as

    python benchmarks/run.py --list                            # the studies, one line each
    python benchmarks/run.py                                   # the results.json studies (quality ... mpea)
    python benchmarks/run.py --only NAME[,NAME] [--quick | --tiny] [--SETTING VALUE ...]
    python benchmarks/run.py --only design,peers,mpea --quick  # the design benchmark, quickly

The harness owns the argument parsing (one flag per field of `Settings`), the output folder
(``--out``, default ``benchmarks/results/``), the seed (``--seed``) and the three presets:
`Settings.full()` (the measured runs), `Settings.quick_settings()` (a smaller look) and
`Settings.tiny()` (seconds per study: what the smoke tests in ``tests/test_benchmarks.py``
run). ``STUDIES`` lists the studies; ``benchmarks/README.md`` has the same table with the
runtimes measured at full settings.

Two kinds of study:

- the parts of ``results.json`` (``quality``, ``speed``, ``scale``, ``design``, ``peers``,
  ``mpea``) share one file pair, ``results.json`` and ``results.md``; ``--only`` redoes the
  parts it names and keeps the others of an existing ``results.json`` (with their
  provenance);
- every other study is a function ``run(settings, context) -> dict`` in its own module
  ``benchmarks/<name>.py`` with a ``markdown(record) -> str``; the harness writes
  ``<out>/<name>.json`` (the numbers, the settings it read, command, date, machine,
  versions) and ``<out>/<name>.md``.

The generators and the surrogate of the results parts are the committed
``exported/keras/*.keras`` models when present (the ONNX and SavedModel exports beside them
are the ones timed); a missing model is trained with the defaults and exported into the
output folder. Run it on an otherwise idle machine: the timings move with other load.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib
import importlib.util
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PARTS = ("quality", "speed", "scale", "design", "peers", "mpea")
CORE_PARTS = ("quality", "speed", "scale")  # the parts the 10-minute target times
from hea_zoo.constants import GENERATOR_NAMES as GENERATORS  # noqa: E402
from hea_zoo.files import write_text  # noqa: E402
from hea_zoo.paths import bundled_models_dir  # noqa: E402

BENCH_HINT = 'pip install -e ".[bench]"'
RESULTS = ROOT / "benchmarks" / "results"


@dataclasses.dataclass
class Settings:
    """Sizes of every study, one namespace (a field ``x_y`` is the flag ``--x-y``).

    `Settings.full()` is the measured benchmark; `quick_settings()` a smaller look;
    `tiny()` the smoke tests' seconds-per-study settings (numbers that mean nothing).
    """

    seed: int = 0
    # ---- results.json parts: quality, speed, scale, design, peers, mpea
    n_per_condition: int = 2000
    n_line: int = 20
    n_novelty: int = 100
    pool_size: int = 200_000
    filter_factor: int = 10
    sdv: bool = True
    sdv_pool_size: int = 200_000
    sdv_epochs: int = 300
    sdv_batch_size: int = 500
    sdv_train_rows: int | None = None  # None: SDV learns every training alloy (tiny: a sample)
    train_epochs: int | None = None
    train_models: tuple[str, ...] = GENERATORS
    speed_batches: tuple[int, ...] = (1, 256, 65_536)
    speed_models: tuple[str, ...] = GENERATORS
    speed_min_time: float = 1.0
    scale_model: str = "cvae"
    scale_total: int = 10_000_000
    scale_chunk: int = 65_536
    scale_sub_batch: int = 8_192
    scale_dtype: str = "float32"
    design_targets: int = 100
    design_n: int = 20
    design_candidates: int | None = None
    peer_budget: int | None = None
    peer_budgets: tuple[int, ...] = (1_000, 10_000, 100_000)
    sweep_targets: int = 20
    mpea_properties: tuple[str, ...] = ("yield_strength", "elongation")
    mpea_test_type: str = "tension"
    mpea_generators: tuple[str, ...] = ("cvae",)
    mpea_targets: int = 100
    mpea_calibration_folds: int | None = None  # the surrogate's (None: its default scheme for the table's size)
    # ---- calibration
    calibration_splits: int = 40
    calibration_bundled_splits: int = 5
    calibration_epochs: int | None = None
    calibration_tasks: tuple[str, ...] = ("hardness", "tension")
    # ---- design_realism
    realism_models: tuple[str, ...] = ("cae", "cvae", "wcgan")
    realism_min_fractions: tuple[float, ...] = (0.005, 0.01, 0.02, 0.03, 0.04, 0.05)
    realism_max_elements: tuple[int | None, ...] = (None, 7, 6)
    realism_targets: int = 20
    realism_n: int = 20
    realism_candidates: int | None = None
    # ---- design_throughput
    throughput_model: str = "cvae"
    throughput_sizes: tuple[int, ...] = (1_000, 10_000, 100_000, 1_000_000, 10_000_000)
    throughput_diverse_candidates: int = 1_000_000
    # ---- flow_nll
    flow_seeds: tuple[int, ...] = (0,)
    flow_epochs: int | None = None
    flow_targets: int = 20
    flow_per_target: int = 500
    flow_filtered: bool = False
    flow_compare: tuple[str, ...] = ()
    flow_baseline_steps: int = 3000
    # ---- surrogate_descriptors
    descriptor_sets: tuple[str, ...] = (
        "none",
        "valence_electrons",
        "valence_electrons,atomic_radius",
        "valence_electrons,atomic_radius,melting_point",
        "valence_electrons,atomic_radius,melting_point,electronegativity",
    )
    descriptor_seeds: tuple[int, ...] = (0, 1, 2)
    descriptor_epochs: int | None = None
    # ---- small_tables
    small_properties: tuple[str, ...] = ("youngs_modulus_exp", "elongation")
    small_splits: int = 5
    small_epochs: int | None = None
    # ---- real (every MPEA property: group and leave-one-system-out splits; resumable)
    real_properties: tuple[str, ...] = ("hardness", "yield_strength", "ultimate_strength", "elongation",
                                        "youngs_modulus_exp", "density_exp")
    real_splits: int = 20
    real_kinds: tuple[str, ...] = ("group", "loso")
    real_loso_elements: tuple[str, ...] = ("Al", "Ti", "Cr", "Mo", "Nb", "Ta", "V", "W", "Zr", "Hf")
    real_models: tuple[str, ...] = ("hea_zoo", "rf", "rf_descriptors", "gp")
    real_trees: int = 500
    real_epochs: int | None = None
    real_calibration_folds: int | None = None  # None: the surrogate's default (tiny: 2 folds, 3 trainings)
    # ---- training_scale
    training_sizes: tuple[str, ...] = ("bundled", "10000", "100000")
    training_models: tuple[str, ...] = ("mlp", "surrogate", *GENERATORS)
    training_epochs: int | None = None
    # ---- tune_generators and tune_flow (one configuration per run)
    tune_model: str = "cvae"
    tune_overrides: str = ""
    tune_epochs: int | None = None
    tune_batch_size: int | None = None
    tune_learning_rate: float | None = None
    tune_n_per_condition: int = 2000
    tune_split: int = 0
    tune_baselines: bool = False
    # ---- typicality
    typicality_generators: tuple[str, ...] = GENERATORS
    typicality_targets: int = 100
    # ---- interval_distance
    distance_random: int = 20_000
    distance_epochs: int | None = None
    # ---- goals
    goals_model: str = "cae"
    goals_sets: int = 24
    goals_candidates: int = 32000
    goals_random: int = 1_000_000
    goals_oracle_calls: int = 1_000_000
    goals_objective_seeds: int = 10  # seeds of the maximize and Pareto comparisons
    goals_min_probability: float | None = None  # None: the design engine's default (DEFAULT_MIN_PROBABILITY)
    goals_variants: bool = True  # also the objective rules the engine's are measured against (goals.VARIANTS)
    goals_set_ga: bool = True  # pymoo's GA on the surrogate for every goal set, at the design's calls
    goals_mpea: bool = True  # also designs from an MPEA yield-strength export (trains a cAE: about a minute)
    goals_mpea_epochs: int | None = None  # None: the defaults' epochs for that export
    # ---- many_targets
    many_model: str = "cae"
    many_targets: int = 1000
    many_candidates: int = 32000
    many_n: int = 20
    many_workers: tuple[int, ...] = (1, 2)
    many_memory_targets: int = 10_000
    many_memory_candidates: int = 200
    # ---- campaign (closed loops in simulated labs; benchmarks/campaign.py)
    campaign_tasks: tuple[str, ...] = ("a", "a_prime", "b", "c", "mpea_hardness", "mpea_yield")
    campaign_methods: tuple[str, ...] = ("random", "rf", "botorch", "ga", "hea_zoo", "hea_zoo_random",
                                         "hea_zoo_generator")
    campaign_seeds: tuple[int, ...] = tuple(range(30))
    campaign_start: int = 24
    campaign_batch: int = 8
    campaign_rounds: int = 12
    campaign_pool_start: float = 0.1
    campaign_pool_batch: int = 4
    campaign_pool_rounds: int | None = None
    campaign_pool_enhancement_at: int = 20
    campaign_candidates: int = 4000
    campaign_trees: int = 300
    campaign_botorch_restarts: int = 4
    campaign_botorch_raw: int = 1000
    campaign_botorch_iterations: int = 100
    campaign_ga_evaluations: int = 2000
    campaign_facts: int = 1_000_000
    quick: bool = False
    tiny: bool = False

    @classmethod
    def full(cls) -> "Settings":
        return cls()

    @classmethod
    def quick_settings(cls) -> "Settings":
        return cls(
            n_per_condition=200,
            n_novelty=20,
            pool_size=20_000,
            filter_factor=3,
            sdv_pool_size=5_000,
            sdv_epochs=20,
            train_epochs=5,
            speed_min_time=0.2,
            scale_total=1_000_000,
            design_targets=10,
            peer_budgets=(1_000, 10_000),
            sweep_targets=3,
            mpea_targets=10,
            calibration_splits=2,
            calibration_bundled_splits=1,
            calibration_epochs=20,
            realism_min_fractions=(0.005, 0.03),
            realism_max_elements=(None,),
            throughput_sizes=(1_000, 100_000),
            throughput_diverse_candidates=100_000,
            flow_epochs=20,
            flow_per_target=100,
            descriptor_sets=("none", "valence_electrons"),
            descriptor_seeds=(0,),
            descriptor_epochs=20,
            training_sizes=("bundled",),
            training_epochs=5,
            tune_epochs=20,
            tune_n_per_condition=200,
            typicality_targets=20,
            goals_candidates=8000,
            goals_random=100_000,
            goals_oracle_calls=100_000,
            goals_objective_seeds=3,
            many_targets=200,
            real_splits=3,
            real_loso_elements=("Al", "Nb", "Ti"),
            campaign_seeds=tuple(range(5)),
            campaign_facts=100_000,
            quick=True,
        )

    @classmethod
    def tiny(cls) -> "Settings":
        """Seconds per study (a few one-epoch fits at most): for the smoke tests, not a result."""
        return cls(
            n_per_condition=8,
            n_line=3,
            n_novelty=4,
            pool_size=500,
            filter_factor=3,
            sdv_pool_size=300,
            sdv_epochs=1,
            sdv_train_rows=100,
            train_epochs=1,
            train_models=("cvae",),
            speed_batches=(1, 64, 1024),
            speed_models=("cvae",),
            speed_min_time=0.01,
            scale_total=100_000,
            scale_chunk=16_384,
            design_targets=3,
            design_candidates=200,
            peer_budgets=(100, 300),
            sweep_targets=2,
            mpea_targets=3,
            mpea_calibration_folds=2,
            calibration_splits=1,
            calibration_bundled_splits=1,
            calibration_epochs=1,
            calibration_tasks=(),
            realism_models=("cae",),
            realism_min_fractions=(0.005, 0.03),
            realism_max_elements=(None,),
            realism_targets=2,
            realism_candidates=300,
            throughput_sizes=(500,),
            throughput_diverse_candidates=1_000,
            flow_epochs=1,
            flow_targets=2,
            flow_per_target=5,
            flow_baseline_steps=5,
            descriptor_sets=("valence_electrons",),
            descriptor_seeds=(0,),
            descriptor_epochs=1,
            small_properties=("youngs_modulus_exp",),
            small_splits=1,
            small_epochs=1,
            real_properties=("youngs_modulus_exp",),
            real_splits=1,
            real_loso_elements=("Zr", "W"),
            real_trees=10,
            real_epochs=1,
            real_calibration_folds=2,
            training_sizes=("300",),
            training_models=("mlp", "cae"),
            training_epochs=1,
            tune_epochs=1,
            tune_batch_size=64,
            tune_n_per_condition=5,
            typicality_generators=("cae",),
            typicality_targets=2,
            distance_random=500,
            distance_epochs=3,
            goals_sets=3,
            goals_candidates=500,
            goals_random=2000,
            goals_oracle_calls=2000,
            goals_objective_seeds=2,
            goals_mpea=False,
            goals_mpea_epochs=2,
            many_targets=6,
            many_candidates=500,
            many_n=5,
            many_memory_targets=40,
            many_memory_candidates=100,
            campaign_tasks=("c", "mpea_hardness"),
            campaign_seeds=(0,),
            campaign_rounds=2,
            campaign_pool_rounds=2,
            campaign_candidates=200,
            campaign_trees=10,
            campaign_botorch_restarts=1,
            campaign_botorch_raw=64,
            campaign_botorch_iterations=5,
            campaign_ga_evaluations=60,
            campaign_facts=2000,
            quick=True,
            tiny=True,
        )


# --------------------------------------------------------------------------- the studies


@dataclasses.dataclass(frozen=True)
class Study:
    """A named entry of the harness."""

    name: str
    summary: str
    prefixes: tuple[str, ...] = ()  # the Settings fields it reads (besides `seed`)
    requires: tuple[str, ...] = ()  # modules of the bench extra it cannot run without

    @property
    def writes(self) -> str:
        return "results.json, results.md" if self.name in PARTS else f"{self.name}.json, {self.name}.md"


STUDIES: dict[str, Study] = {s.name: s for s in (
    Study("quality", "generators and baselines (nearest neighbour, random screening, SDV) at equal "
          "designs per condition, judged by the oracle and the surrogate"),
    Study("speed", "training time per default model; Keras / SavedModel / onnxruntime throughput "
          "against the matmul bound"),
    Study("scale", "10 million designs streamed from onnxruntime to a .npy file: rate, peak memory"),
    Study("design", "`design` with its defaults at 100 reachable targets against random screening "
          "and a GA at equal surrogate calls; design targets"),
    Study("peers", "design, random screening and the GA at fixed budgets of surrogate calls"),
    Study("mpea", "design and its peers on measured MPEA data, judged by an independent "
          "gradient-boosting model (needs scikit-learn)"),
    Study("calibration", "held-out coverage of the surrogate's 90 % intervals (bundled, MPEA); "
          "MPEA scores before/after the duplicates fix", ("calibration_",)),
    Study("design_realism", "element counts, traces, systems and accuracy of `design` for each "
          "minimum fraction / maximum element count", ("realism_",)),
    Study("design_throughput", "`hea-zoo design` end to end in a fresh process: wall, CPU, peak "
          "memory, CSV size", ("throughput_",)),
    Study("flow_nll", "the flow's held-out NLL against full-covariance Gaussians; its designs' "
          "element counts and oracle accuracy", ("flow_",)),
    Study("surrogate_descriptors", "surrogate held-out R², MAPE, interval coverage per set of "
          "element descriptors", ("descriptor_",)),
    Study("small_tables", "the default surrogate against RandomForest(500) on small MPEA tables "
          "(group splits; needs scikit-learn)", ("small_",), ("sklearn",)),
    Study("real", "the default surrogate against random forests and a GP on every measured MPEA property: "
          "group and leave-one-system-out splits, R², MAPE, 90 % intervals; resumable (needs scikit-learn)",
          ("real_",), ("sklearn",)),
    Study("training_scale", "training cost and held-out quality of the default models on tables "
          "of growing size, beside scikit-learn's MLP", ("training_",)),
    Study("tune_generators", "one generator configuration: training time and loss, oracle MAPE, "
          "cosine, validity at the line conditions", ("tune_",)),
    Study("tune_flow", "one flow configuration on a validation split of the train split: NLL, "
          "oracle MAPE, cosine", ("tune_",)),
    Study("typicality", "oracle MAPE and hit rate of `design`'s designs grouped by the flow's "
          "log-density", ("typicality_",)),
    Study("interval_distance", "coverage of the surrogate's 90 % intervals by distance to the training "
          "alloys, spread-only against distance-widened, on test alloys and oracle-judged random alloys",
          ("distance_",)),
    Study("goals", "threshold goal sets of graded rarity, maximize, Pareto: oracle success, systems, "
          "reliability of the printed P(goals), random screening at equal calls", ("goals_",)),
    Study("many_targets", "`design_many` over a table of targets on local Dask clusters of 1 and 2 workers: "
          "targets/s, candidates/s, scaling, client peak memory; the cost of 10^4 x 10^6", ("many_",),
          ("distributed",)),
    Study("campaign", "closed-loop campaigns in simulated labs (bundled oracle, MPEA pool): measurements to "
          "the first success for hea_zoo's propose, random, a random forest, BoTorch and a GA; resumable",
          ("campaign_",)),
)}  # fmt: skip


@dataclasses.dataclass
class Context:
    """What a study gets besides its settings."""

    out: Path
    exported: Path
    command: str


# --------------------------------------------------------------------------- models


def _rel(path) -> str:
    """A path relative to the repository when inside it (results carry no machine layout)."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _load_or_train(dataset, settings: Settings, exported: Path, out: Path, trained: dict):
    """The generators and the surrogate, their sources and export paths (training only what is
    missing, exporting only what is missing and timed)."""
    import keras

    import hea_zoo.models  # noqa: F401  (registers the classes)
    from hea_zoo.serving.export import export_model
    from hea_zoo.models import train_default_generator, train_default_surrogate

    models, sources, exports = {}, {}, {}
    for name in (*GENERATORS, "surrogate"):
        path = exported / "keras" / f"{name}.keras"
        if path.exists():
            models[name] = keras.saving.load_model(path)
            sources[name] = _rel(path)
            onnx_path, sm_path = exported / f"{name}.onnx", exported / name / "1"
            if onnx_path.exists() and (sm_path / "saved_model.pb").exists():
                exports[name] = (onnx_path, sm_path)
            continue
        if name in trained:
            models[name] = trained[name]
        elif name == "surrogate":
            models[name] = train_default_surrogate(dataset, epochs=settings.train_epochs, seed=settings.seed)
        else:
            models[name] = train_default_generator(name, dataset, epochs=settings.train_epochs, seed=settings.seed)
        sources[name] = f"trained in this run ({_rel(path)} missing)"
    # Only the timed models need export files (speed, scale); exporting is seconds per model.
    for name in dict.fromkeys((*settings.speed_models, settings.scale_model)):
        if name in GENERATORS and name not in exports:
            result = export_model(models[name], out / "_exports", name, overwrite=True)
            exports[name] = (result.onnx, result.saved_model)
    return models, sources, exports


# --------------------------------------------------------------------------- parts


def _quality_methods(dataset, surrogate, models, settings: Settings) -> dict[str, dict]:
    from benchmarks import baselines

    methods: dict[str, dict] = {}
    for name in GENERATORS:
        methods[name] = {"model": models[name], "kind": "generator",
                         "description": f"{name} (exported/keras/{name}.keras)"}
    for name in GENERATORS:
        methods[f"{name}_filtered"] = {
            "model": baselines.FilteredGenerator(f"{name}_filtered", models[name], surrogate, settings.filter_factor),
            "kind": "generator",
            "description": (
                f"{name}, {settings.filter_factor} x n designs per condition, the n nearest by "
                "surrogate relative error kept (what `hea-zoo design` does)"
            ),
        }
    methods["nearest_neighbour"] = {
        "model": baselines.NearestNeighbourRetrieval(dataset, "ranked"),
        "kind": "baseline",
        "description": (
            f"the n nearest training alloys in standardized (G, K); n > {len(dataset.train_index)} "
            "training alloys cycles through all of them again"
        ),
    }
    methods["nearest_neighbour_top1"] = {
        "model": baselines.NearestNeighbourRetrieval(dataset, "top1"),
        "kind": "baseline",
        "description": "the single nearest training alloy, repeated n times",
    }
    pool = baselines.random_dirichlet_pool(dataset, surrogate, settings.pool_size, seed=settings.seed)
    methods["random_screening"] = {
        "model": baselines.ScreeningBaseline("random_screening", pool.compositions, pool.surrogate_scores),
        "kind": "baseline",
        "description": (
            f"{settings.pool_size:,} random Dirichlet(1) compositions over the training alloys' "
            "element sets, scored once by the surrogate; per condition the n nearest by mean "
            "relative error kept"
        ),
        "info": pool.info,
    }
    print(f"[quality] random pool: {pool.info}", flush=True)
    available, reason = baselines.sdv_available()
    if not settings.sdv:
        available, reason = False, "disabled with --no-sdv"
    if available:
        try:
            pools = baselines.sdv_pools(
                dataset, surrogate, settings.sdv_pool_size, seed=settings.seed,
                epochs=settings.sdv_epochs, batch_size=settings.sdv_batch_size,
                train_rows=settings.sdv_train_rows,
            )  # fmt: skip
        except Exception as error:  # an SDV failure must not lose the rest of the benchmark
            available, reason = False, f"SDV failed: {type(error).__name__}: {error}"
    if not available:
        print(f"[quality] SDV baselines skipped: {reason}", flush=True)
        for name in ("tvae", "ctgan"):
            for filt in ("surrogate", "columns"):
                methods[f"sdv_{name}_{filt}"] = {"model": None, "kind": "baseline", "reason": reason}
        return methods
    for name, sdv_pool in pools.items():
        print(f"[quality] SDV {name} pool: {sdv_pool.info}", flush=True)
        size = sdv_pool.info["pool_size"]
        common = (f"SDV {name.upper()} trained on the training table (22 fractions + G, K; "
                  f"{settings.sdv_epochs} epochs), {size:,} sampled rows clipped at 0 and renormalized")
        methods[f"sdv_{name}_surrogate"] = {
            "model": baselines.ScreeningBaseline(f"sdv_{name}_surrogate", sdv_pool.compositions, sdv_pool.surrogate_scores),
            "kind": "baseline",
            "description": common + "; per condition the n nearest by surrogate relative error kept",
            "info": sdv_pool.info,
        }
        methods[f"sdv_{name}_columns"] = {
            "model": baselines.ScreeningBaseline(f"sdv_{name}_columns", sdv_pool.compositions, sdv_pool.sampled_properties),
            "kind": "baseline",
            "description": common + "; per condition the n nearest by the G, K columns sampled with them",
            "info": sdv_pool.info,
        }
    return methods


def _run_scale(settings: Settings, onnx_path: Path, conditions, out: Path, scale_dir: str | None) -> dict:
    """Runs `benchmarks/scale.py` in a subprocess (its memory measured on its own)."""
    directory = Path(scale_dir) if scale_dir else Path(tempfile.mkdtemp(prefix="hea_zoo_scale_"))
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "designs.npy"
    job = {
        "onnx_path": str(onnx_path), "out_path": str(target), "total": settings.scale_total,
        "chunk": settings.scale_chunk, "conditions": [[float(v) for v in row] for row in conditions],
        "seed": settings.seed, "dtype": settings.scale_dtype, "sub_batch": settings.scale_sub_batch or None,
    }  # fmt: skip
    command = [sys.executable, str(ROOT / "benchmarks" / "scale.py"), json.dumps(job)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"scale run failed ({done.returncode}):\n{done.stderr[-4000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if not scale_dir:
        try:
            directory.rmdir()
        except OSError:
            pass
    result["model"] = onnx_path.stem
    result["onnx"] = _rel(result["onnx"])
    print(
        f"[scale] {result['total']:,} designs in {result['seconds']:.1f} s "
        f"({result['designs_per_second']:,.0f}/s), peak RSS {result['peak_rss_mb']:.0f} MiB",
        flush=True,
    )
    return result


def _design_parts(results: dict, parts, dataset, settings: Settings, exported: Path, out: Path) -> None:
    """The design benchmark, the budget sweep and MPEA (parts ``design``, ``peers``, ``mpea``)."""
    from benchmarks import design_quality

    common = {"n": settings.design_n, "seed": settings.seed, "generators": GENERATORS}
    if "design" in parts:
        t0 = time.perf_counter()
        results["design"] = design_quality.run_design(
            dataset, exported, n_targets=settings.design_targets, peer_budget=settings.peer_budget,
            candidates=settings.design_candidates, **common,
        )  # fmt: skip
        results["design"]["exported"] = _rel(exported)
        results["design"]["seconds"] = time.perf_counter() - t0
    if "peers" in parts:
        t0 = time.perf_counter()
        results["peers"] = design_quality.budget_sweep(
            dataset, exported, budgets=settings.peer_budgets, n_targets=settings.sweep_targets, **common
        )
        results["peers"]["seconds"] = time.perf_counter() - t0
    if "mpea" in parts:
        from benchmarks import mpea

        t0 = time.perf_counter()
        try:
            results["mpea"] = mpea.run_mpea(
                properties=settings.mpea_properties, filters={"test_type": settings.mpea_test_type or None},
                generators=settings.mpea_generators, epochs=settings.train_epochs,
                surrogate_epochs=settings.train_epochs, n_targets=settings.mpea_targets, n=settings.design_n,
                seed=settings.seed, peer_budget=settings.peer_budget, candidates=settings.design_candidates,
                calibration_folds=settings.mpea_calibration_folds,
            )  # fmt: skip
        except ImportError as error:  # scikit-learn missing: the part is skipped with the reason
            results["mpea"] = {"skipped": True, "reason": f"{mpea.SKLEARN_INSTALL_HINT} ({error})"}
            print(f"[mpea] skipped: {results['mpea']['reason']}", flush=True)
        except Exception as error:  # a failure here must not lose the parts already measured
            results["mpea"] = {"skipped": True, "reason": f"failed: {type(error).__name__}: {error}"}
            print(f"[mpea] {results['mpea']['reason']}", flush=True)
        results["mpea"]["seconds"] = time.perf_counter() - t0


def _plane(results: dict, parts, out: Path) -> None:
    """The accuracy–diversity plane of the design and MPEA parts (kept ones included), when one ran now."""
    from benchmarks import design_quality

    panels = {}
    if "design" in results:
        panels[f"bundled data ({results['dataset']['name']})"] = results["design"]
    if "mpea" in results and not results["mpea"].get("skipped"):
        d = results["mpea"]["dataset"]
        panels[f"MPEA ({', '.join(d['properties'])})"] = results["mpea"]
    if panels and ("design" in parts or "mpea" in parts):
        path = design_quality.plane_figure(panels, out / "design_plane.png", judge="oracle")
        results["design_plane"] = _rel(path)


def _merge_previous(results: dict, path: Path) -> None:
    """Keeps the parts of an earlier results.json that this run did not redo (``--only``).

    Every part carries its provenance (``results["provenance"][part]``: the command and date
    of the run that measured it), so a merged file says where each number came from.
    """
    stamp = {"command": results["command"], "date": results["date"]}
    results["provenance"] = {part: dict(stamp) for part in results["parts"]}
    if not path.is_file():
        return
    try:
        previous = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    own = {"command": previous.get("command"), "date": previous.get("date")}
    old_provenance = previous.get("provenance") or {
        **{part: own for part in previous.get("parts", [])},
        **{part: previous.get("kept_from", own) for part in previous.get("kept_parts", [])},
    }
    kept = [p for p in PARTS if p in previous and p not in results["parts"]]
    for part in kept:
        results[part] = previous[part]
        results["provenance"][part] = old_provenance.get(part, own)
    if kept:
        results["kept_parts"] = kept
    if "core" not in previous and all(p in previous.get("parts", []) for p in CORE_PARTS):
        # A results.json written before the core time was recorded on its own: that run did only these parts.
        previous["core"] = {"seconds": previous.get("total_seconds"), "quick": previous.get("settings", {}).get("quick")}
    for key in ("models", "core", "design_plane"):
        if key not in results and key in previous and kept:
            results[key] = previous[key]


# --------------------------------------------------------------------------- targets


def _targets(results: dict, settings: Settings) -> list[dict]:
    targets = []
    speed = results.get("speed", {}).get("throughput", {})
    primary = speed.get(settings.scale_model) or next(iter(speed.values()), None)
    if primary:
        row = max(primary["batches"], key=lambda r: r["batch"])
        rate = row["onnxruntime"]["compositions_per_second"]
        targets.append({
            "target": f"onnxruntime >= 1,000,000 compositions/s at batch 65,536 ({primary['model']})",
            "measured": f"{rate:,.0f}/s at batch {row['batch']:,} (setting `{primary['onnxruntime_setting']}`)",
            "met": bool(rate >= 1e6 and row["batch"] >= 65_536),
        })
        targets.append({
            "target": "onnxruntime within 1.5x of the NumPy matmul bound at batch 65,536",
            "measured": f"{row['onnx_over_matmul']:.2f}x",
            "met": bool(row["onnx_over_matmul"] <= 1.5 and row["batch"] >= 65_536),
        })
    complete = "core" in results and not results["core"]["quick"]
    core = results.get("core", {}).get("seconds", results["total_seconds"])
    if any(part in results for part in CORE_PARTS):
        targets.append({
            # The reproduction itself (`hea-zoo reproduce`) is timed in its report; this run
            # trains every model once and judges every method, so it bounds it from above.
            "target": "this benchmark's quality, speed and scale parts (every model trained once, "
                      "every method judged) under 10 minutes",
            "measured": f"{core / 60:.1f} min" + ("" if complete else " (not a full run)"),
            "met": bool(complete and core < 600),
        })
    quality = results.get("quality", {}).get("methods", {})
    generators = {k: v for k, v in quality.items() if v.get("kind") == "generator" and not v.get("skipped")}
    rivals = {k: v for k, v in quality.items()
              if (k == "random_screening" or k.startswith("sdv_")) and not v.get("skipped")}
    if generators and rivals:
        best = min(generators, key=lambda k: generators[k]["line"]["mape_oracle"]["mean"])
        g = generators[best]["line"]
        beaten, lost = [], []
        for name, rival in rivals.items():
            r = rival["line"]
            ahead = g["mape_oracle"]["mean"] < r["mape_oracle"]["mean"] and all(
                g["hit_rate_oracle"][t] > r["hit_rate_oracle"][t] for t in g["hit_rate_oracle"]
            )
            (beaten if ahead else lost).append(name)
        skipped = [k for k, v in quality.items() if k.startswith("sdv_") and v.get("skipped")]
        targets.append({
            "target": "best generator ahead of random screening and SDV on oracle MAPE and hit rate "
                      "(line conditions, ±5 % and ±10 %)",
            "measured": f"best generator {best} ({g['mape_oracle']['mean']:.2f} %); ahead of: "
                        f"{', '.join(beaten) or 'none'}; behind or mixed: {', '.join(lost) or 'none'}"
                        + (f"; skipped: {', '.join(skipped)}" if skipped else ""),
            "met": bool(not lost and not skipped),
        })
    if "design" in results:
        from benchmarks.design_quality import design_targets

        targets.extend(design_targets(results["design"], judge="oracle"))
    return targets


# --------------------------------------------------------------------------- markdown


def _f(value, digits=2, pct=False) -> str:
    if value is None:
        return "–"
    return f"{100 * value:.{digits}f}" if pct else f"{value:.{digits}f}"


def render_markdown(results: dict) -> str:
    """The results as markdown tables."""
    lines = [f"# hea_zoo benchmarks{' (quick settings)' if results['settings']['quick'] else ''}", ""]
    m = results["machine"]
    lines += [
        f"Command: `{results['command']}`  ",
        f"Machine: {m['cpu']}, {m['cores']} cores; Python {m['python']}; "
        + ", ".join(f"{k} {v}" for k, v in results["versions"].items()) + "  ",
        f"Date: {results['date']}; total wall time {results['total_seconds'] / 60:.1f} min.",
        "",
    ]
    if "quality" in results:
        q = results["quality"]
        p = q["protocol"]
        lines += [
            "## Design quality",
            "",
            f"{p['n_per_condition']:,} designs per condition for every method; line: the study's "
            f"{p['line_conditions']} conditions from (q5 G, q5 K) to (q95 G, q95 K); novelty: the "
            f"properties of {p['novelty_conditions']} training alloys (reachable targets). MAPE in %, "
            "hit rate = share of designs within ±5 % / ±10 % of the target on both properties, "
            "cosine = mean within-condition cosine similarity (lower = more diverse), novelty = "
            "mean cosine similarity to the real alloy whose properties were the target (lower = "
            "more novel), copy = share of designs within L1 0.05 of a training alloy. The "
            "generate-then-filter baselines select with the surrogate, so their surrogate-judged "
            "MAPE flatters them; the oracle (ground truth) is the fair judge.",
            "",
            "| method | oracle MAPE (line) | surrogate MAPE (line) | oracle hit ±5 % | oracle hit ±10 % "
            "| cosine | novelty | oracle MAPE (novelty targets) | validity | unique | copy |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        notes = []
        for name, e in q["methods"].items():
            if e.get("skipped"):
                lines.append(f"| {name} | skipped | | | | | | | | | |")
                notes.append(f"- **{name}**: skipped — {e.get('reason')}")
                continue
            line, nov = e["line"], e["novelty"]
            near = line.get("nearest_training") or {}
            lines.append(
                f"| {name} | {_f(line['mape_oracle']['mean'])} | {_f(line['mape_surrogate']['mean'])} "
                f"| {_f(line['hit_rate_oracle']['5%'], 1, True)} % | {_f(line['hit_rate_oracle']['10%'], 1, True)} % "
                f"| {_f(line['cosine_similarity'], 3)} | {_f(nov['novelty'], 3)} "
                f"| {_f(nov['mape_oracle']['mean'] if nov['mape_oracle'] else None)} "
                f"| {_f(e['validity'], 3)} | {_f(line['uniqueness'], 3)} | {_f(near.get('copy_rate'), 3)} |"
            )
            if e.get("kind") == "baseline" or name.endswith("_filtered"):
                notes.append(f"- **{name}**: {e.get('description', '')}")
        lines += ["", *notes, ""]
    if "speed" in results:
        s = results["speed"]
        if s.get("training"):
            t = s["training"]
            lines += ["## Training time", "",
                      f"Each default model trained once on the {t['n_train']} training alloys (2 CPU cores).", "",
                      "| model | epochs | batch | seconds |", "|---|---|---|---|"]
            for name in (*GENERATORS, "surrogate"):
                if name in t:
                    lines.append(f"| {name} | {t[name]['epochs']} | {t[name]['batch_size']} | {t[name]['seconds']:.1f} |")
            lines += ["", f"Peak RSS while training: {t['peak_rss_mb']:.0f} MiB.", ""]
        lines += [
            "## Generation throughput",
            "",
            "Compositions per second, one call per batch (NumPy float32 in, NumPy out, median of "
            "repeated calls). Matmul bound: NumPy `x @ W` into preallocated outputs for exactly the "
            "graph's dense layers at that batch (biases, activations and the softmax not counted); "
            "ratio = onnxruntime time / matmul time.",
            "",
            "| model | batch | Keras (tf.function) | SavedModel | onnxruntime | matmul bound | ratio |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, tp in s["throughput"].items():
            for row in tp["batches"]:
                lines.append(
                    f"| {name} | {row['batch']:,} | {row['keras']['compositions_per_second']:,.0f} "
                    f"| {row['saved_model']['compositions_per_second']:,.0f} "
                    f"| {row['onnxruntime']['compositions_per_second']:,.0f} "
                    f"| {row['matmul_bound']['compositions_per_second']:,.0f} | {row['onnx_over_matmul']:.2f} |"
                )
        first = next(iter(s["throughput"].values()))
        lines += ["", f"Dense layers of {first['model']} (K×N): "
                  + ", ".join(f"{k}×{n}" for k, n in first["matmul_shapes"])
                  + f" = {first['dense_flops_per_composition']:,} flop per composition.", ""]
        for name, tp in s["throughput"].items():
            lines += [f"onnxruntime settings for {name} at batch {tp['onnxruntime_variants_batch']:,} "
                      f"(reported above: `{tp['onnxruntime_setting']}`):", "",
                      "| setting | compositions/s | what |", "|---|---|---|"]
            for key, v in tp["onnxruntime_variants"].items():
                lines.append(f"| {key} | {v['compositions_per_second']:,.0f} | {v['description']} |")
            lines.append("")
        lines += [f"Peak RSS of the benchmark process after the speed part: {s['peak_rss_mb']:.0f} MiB.", ""]
    if "scale" in results:
        sc = results["scale"]
        lines += [
            "## Scale",
            "",
            "| model | designs | chunk (rows per call) | file | seconds | designs/s | inference only | peak RSS | RSS growth after first 10 % |",
            "|---|---|---|---|---|---|---|---|---|",
            f"| {sc['model']} | {sc['total']:,} | {sc['chunk']:,} ({sc['onnxruntime_call_rows']:,}) | {sc['bytes'] / 1e9:.2f} GB ({sc['format']}) "
            f"| {sc['seconds']:.1f} | {sc['designs_per_second']:,.0f} | {sc['inference_designs_per_second']:,.0f} "
            f"| {sc['peak_rss_mb']:.0f} MiB | {sc['rss_growth_after_first_10pct_mb']:+.1f} MiB |",
            "",
            f"Time split: noise {sc['seconds_split']['noise']:.1f} s, inference "
            f"{sc['seconds_split']['inference']:.1f} s, write {sc['seconds_split']['write']:.1f} s. "
            f"Written file checked: shape {sc['check']['shape']}, valid rows {sc['check']['probe_valid']}. "
            "Run as a separate process (NumPy + onnxruntime only), so the peak RSS is its own.",
            "",
        ]
    lines += _design_markdown(results)
    lines += ["## Targets", "", "| target | measured | met |", "|---|---|---|"]
    for t in results["targets"]:
        lines.append(f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else 'no'} |")
    lines.append("")
    return "\n".join(lines)


def _design_markdown(results: dict) -> list[str]:
    """The sections of the design, peers and MPEA parts, and the plane figure."""
    from benchmarks import design_quality

    lines = []
    if "design" in results:
        lines += design_quality.markdown_design(results["design"])
    if results.get("design_plane"):
        lines += [f"![accuracy–diversity plane]({Path(results['design_plane']).name})", ""]
    if "peers" in results:
        lines += design_quality.markdown_sweep(results["peers"])
    if "mpea" in results:
        lines += design_quality.markdown_mpea(results["mpea"])
    if results.get("kept_parts"):
        lines += ["Parts kept from earlier runs (`--only` redoes the parts it names and keeps the others):", ""]
        for part in results["kept_parts"]:
            p = results.get("provenance", {}).get(part, {})
            lines.append(f"- {part}: `{p.get('command')}`, {p.get('date')}")
        lines.append("")
    return lines


# --------------------------------------------------------------------------- main


def code_fingerprint(parts, root: Path | str | None = None) -> str:
    """16 hex digits of SHA-256 over the paths and bytes of the files under `parts` (paths
    relative to the repository: folders whole, `__pycache__` left out): the code a cached
    result ran on (the campaign and real studies store it with hea_zoo's results)."""
    import hashlib

    root = Path(root) if root is not None else ROOT
    digest = hashlib.sha256()
    for part in parts:
        path = root / part
        files = [f for f in path.rglob("*") if f.is_file() and "__pycache__" not in f.parts] if path.is_dir() else [path]
        for file in sorted(files):
            digest.update(file.relative_to(root).as_posix().encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def code_counts(records, current: str) -> dict:
    """How many of `records` ran on the `current` code, on other code, and before the code
    was recorded (no ``code`` key)."""
    codes = [r.get("code") for r in records]
    return {"current": sum(c == current for c in codes), "other": sum(c is not None and c != current for c in codes),
            "unrecorded": sum(c is None for c in codes)}  # fmt: skip


def code_sentence(counts: dict | None, subject: str, code: str) -> list[str]:
    """The report's lines on the code that `counts` (`code_counts`) ran on, opening with
    `subject` ("Of the 137 hea_zoo fits"); none when every one ran on the current code."""
    if not counts or not (counts["other"] or counts["unrecorded"]):
        return []
    return [f"{subject}, {counts['current']} ran on the current code (`{code}`), {counts['other']} on other "
            f"code, {counts['unrecorded']} before the code was recorded.", ""]


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for name in ("hea_zoo", "tensorflow", "keras", "onnxruntime", "numpy", "sdv", "torch"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# --------------------------------------------------------------------------- settings


def _kind(field: dataclasses.Field) -> str:
    """The field's annotation as written (``from __future__ import annotations``)."""
    return str(field.type).replace(" ", "")


def _scalar(text: str, kind: str):
    """One value of a flag: ``none`` is None where the field allows it."""
    kind, optional = kind.replace("|None", ""), "|None" in kind
    text = text.strip()
    if optional and text.lower() == "none":
        return None
    return {"int": int, "float": float, "str": str}[kind](text)


def _value(field: dataclasses.Field, text: str):
    kind = _kind(field)
    if kind.startswith("tuple["):
        inner = kind[len("tuple["):-len(",...]")]
        sep = ";" if field.name == "descriptor_sets" else ","
        return tuple(_scalar(item, inner) for item in text.split(sep) if item.strip())
    return _scalar(text, kind)


_PRESETS = ("quick", "tiny")


def build_parser() -> argparse.ArgumentParser:
    """The one parser of the benchmarks: the harness's options and one flag per setting."""
    parser = argparse.ArgumentParser(
        prog="python benchmarks/run.py",
        description="hea_zoo benchmarks: every study by name (--list prints them).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--list", action="store_true", help="print the studies, one line each, and exit")
    parser.add_argument("--only", default=",".join(PARTS),
                        help="comma-separated studies (default: the results.json parts " + ",".join(PARTS) + ")")
    preset = parser.add_mutually_exclusive_group()
    preset.add_argument("--quick", action="store_true", help="smaller settings (minutes)")
    preset.add_argument("--tiny", action="store_true", help="seconds per study: a smoke run, not a result")
    parser.add_argument("--out", default=None, help=f"output folder (default {_rel(RESULTS)}; required with --tiny)")
    parser.add_argument("--exported", default=None,
                        help="folder of the exported models (default: the bundled ones, hea_zoo.paths)")
    parser.add_argument("--scale-dir", default=None, help="where the scale part writes its file (default: a temp dir, deleted)")
    parser.add_argument("--no-train", action="store_true", help="speed: do not train the default models for the training times")
    overrides = parser.add_argument_group("settings (see Settings in benchmarks/run.py; lists are comma-separated, "
                                          "descriptor sets ';'-separated, 'none' where a value may be None)")
    for field in dataclasses.fields(Settings):
        if field.name in _PRESETS:
            continue
        flag = "--" + field.name.replace("_", "-")
        if _kind(field) == "bool":
            overrides.add_argument(flag, action=argparse.BooleanOptionalAction, default=None)
        else:
            overrides.add_argument(flag, default=None, metavar=field.name.upper())
    return parser


def settings_from_args(args, parser: argparse.ArgumentParser | None = None) -> Settings:
    settings = Settings.tiny() if args.tiny else Settings.quick_settings() if args.quick else Settings.full()
    for field in dataclasses.fields(Settings):
        value = getattr(args, field.name, None)
        if value is None or field.name in _PRESETS:
            continue
        if not isinstance(value, bool):
            try:
                value = _value(field, value)
            except (KeyError, ValueError) as error:
                message = f"--{field.name.replace('_', '-')}: cannot read {value!r} ({error})"
                if parser is None:
                    raise ValueError(message) from error
                parser.error(message)
        setattr(settings, field.name, value)
    return settings


def study_settings(settings: Settings, study: Study) -> dict[str, Any]:
    """The settings a study reads: `seed` and the fields of its prefixes."""
    return {k: v for k, v in dataclasses.asdict(settings).items()
            if k == "seed" or any(k.startswith(p) for p in study.prefixes)}


def _results_settings(settings: Settings) -> dict[str, Any]:
    """The settings of the results.json parts (no other study's fields)."""
    others = {p for study in STUDIES.values() for p in study.prefixes}
    return {k: v for k, v in dataclasses.asdict(settings).items() if not any(k.startswith(p) for p in others)}


def list_studies() -> str:
    width = max(len(name) for name in STUDIES)
    return "\n".join(f"{name:<{width}}  {study.summary}" for name, study in STUDIES.items())


def missing_modules(study: Study) -> list[str]:
    return [m for m in study.requires if importlib.util.find_spec(m) is None]


def run_study(study: Study, settings: Settings, context: Context) -> dict[str, Any]:
    """Runs one study of its own module; writes ``<name>.json`` and ``<name>.md``; returns the record."""
    missing = missing_modules(study)
    if missing:
        reason = f"needs {', '.join(missing)} ({BENCH_HINT})"
        print(f"[{study.name}] skipped: {reason}", flush=True)
        return {"study": study.name, "skipped": True, "reason": reason}
    module = importlib.import_module(f"benchmarks.{study.name}")
    record: dict[str, Any] = {
        "study": study.name,
        "command": context.command,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpu": _cpu(), "cores": os.cpu_count(), "python": platform.python_version(),
                    "load_average": round(os.getloadavg()[0], 2)},
        "versions": _versions(),
        "settings": study_settings(settings, study),
        # `Settings.tiny` the classmethod is also the default of the field `tiny` (the
        # dataclass reads the class attribute): only True means a tiny run.
        "tiny": settings.tiny is True,
    }
    start = time.perf_counter()
    print(f"[{study.name}] running", flush=True)
    record.update(module.run(settings, context))
    record["seconds"] = round(time.perf_counter() - start, 1)
    context.out.mkdir(parents=True, exist_ok=True)
    write_text(context.out / f"{study.name}.json", json.dumps(record, indent=1, default=str) + "\n")
    text = module.markdown(record)
    write_text(context.out / f"{study.name}.md", text)
    print(text, flush=True)
    print(f"[{study.name}] wrote {context.out / (study.name + '.json')} and .md ({record['seconds']:.0f} s)", flush=True)
    return record


def main(argv=None) -> dict:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list:
        print(list_studies())
        return {}
    names = tuple(dict.fromkeys(p.strip() for p in args.only.split(",") if p.strip()))
    unknown = sorted(set(names) - set(STUDIES))
    if unknown or not names:
        parser.error(f"unknown study {unknown}; valid studies: {list(STUDIES)} (--list describes them)")
    settings = settings_from_args(args, parser)
    if args.tiny and args.out is None:
        parser.error(f"--tiny numbers mean nothing: give --out (tiny runs never write into {_rel(RESULTS)})")
    out = Path(args.out) if args.out else RESULTS
    exported = Path(args.exported) if args.exported else bundled_models_dir()
    command = "python benchmarks/run.py" + ("" if argv is None and len(sys.argv) < 2 else " " + shlex.join(
        sys.argv[1:] if argv is None else argv))  # quoted: an empty value reads back as ""
    parts = tuple(n for n in names if n in PARTS)
    results = _run_results(parts, settings, args, out, exported, command) if parts else {}
    context = Context(out=out, exported=exported, command=command)
    for name in names:
        if name not in PARTS:
            results[name] = run_study(STUDIES[name], settings, context)
    return results


def _run_results(parts, settings: Settings, args, out: Path, exported: Path, command: str) -> dict:
    """The results.json parts: run, merged with the kept parts of an earlier results.json, written."""
    out.mkdir(parents=True, exist_ok=True)
    start_all = time.perf_counter()

    import numpy as np

    import hea_zoo
    from benchmarks import quality, speed
    from hea_zoo.evaluation.experiments import line_conditions

    dataset = hea_zoo.load_dataset()
    results: dict[str, Any] = {
        "command": command,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpu": _cpu(), "cores": os.cpu_count(), "python": platform.python_version()},
        "versions": _versions(),
        "settings": _results_settings(settings),
        "parts": list(parts),
        "dataset": {"name": dataset.name, "fingerprint": dataset.fingerprint(),
                    "n_train": int(len(dataset.train_index))},
    }

    trained: dict = {}
    training = None
    if "speed" in parts and not args.no_train:
        training, trained = speed.training_times(dataset, settings.train_epochs, settings.seed,
                                                  names=settings.train_models)
    if any(part in parts for part in CORE_PARTS):
        models, sources, exports = _load_or_train(dataset, settings, exported, out, trained)
        results["models"] = {k: {"source": v, "onnx": _rel(exports[k][0]) if k in exports else None,
                                 "saved_model": _rel(exports[k][1]) if k in exports else None}
                             for k, v in sources.items()}
    line = line_conditions(dataset, settings.n_line)

    if "quality" in parts:
        t0 = time.perf_counter()
        methods = _quality_methods(dataset, models["surrogate"], models, settings)
        results["quality"] = quality.run_quality(dataset, models["surrogate"], methods, settings)
        results["quality"]["seconds"] = time.perf_counter() - t0

    if "speed" in parts:
        t0 = time.perf_counter()
        condition = np.median(line, axis=0)
        results["speed"] = {
            "training": training,
            "throughput": {
                name: speed.throughput(name, models[name], exports[name][0], exports[name][1],
                                       settings.speed_batches, condition, settings.speed_min_time,
                                       settings.seed)
                for name in settings.speed_models
            },
            "peak_rss_mb": speed.peak_rss_mb(),
        }
        results["speed"]["seconds"] = time.perf_counter() - t0

    if "scale" in parts:
        t0 = time.perf_counter()
        results["scale"] = _run_scale(settings, Path(exports[settings.scale_model][0]), line, out, args.scale_dir)
        results["scale"]["wall_seconds"] = time.perf_counter() - t0
    if all(part in parts for part in CORE_PARTS):
        results["core"] = {"seconds": time.perf_counter() - start_all, "quick": settings.quick}

    _design_parts(results, parts, dataset, settings, exported, out)

    results["total_seconds"] = time.perf_counter() - start_all
    _merge_previous(results, out / "results.json")
    _plane(results, parts, out)
    results["targets"] = _targets(results, settings)
    write_text(out / "results.json", json.dumps(results, indent=1, default=str) + "\n")
    write_text(out / "results.md", render_markdown(results))
    print(f"wrote {out / 'results.json'} and {out / 'results.md'} "
          f"({results['total_seconds'] / 60:.1f} min)", flush=True)
    for t in results["targets"]:
        print(f"[target] {'met    ' if t['met'] else 'missed '} {t['target']}: {t['measured']}", flush=True)
    return results


if __name__ == "__main__":
    main()

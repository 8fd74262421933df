"""hea_zoo benchmarks: design quality, speed and scale, written as JSON and a markdown table.

    python benchmarks/run.py                       # the full benchmark (several minutes)
    python benchmarks/run.py --quick               # smaller settings, for a quick look
    python benchmarks/run.py --only quality,speed  # some parts only
    python benchmarks/run.py --only design,peers,mpea --quick   # the design benchmark, quickly
    python benchmarks/run.py --out benchmarks/results

Parts:

- ``quality`` (`benchmarks.quality`): cAE, cVAE, WcGAN and the baselines
  (`benchmarks.baselines`: nearest-neighbour retrieval, random screening, SDV TVAE and
  CTGAN with generate-then-filter) at the study's line and novelty conditions, equal
  designs per condition, judged by the surrogate and the physics oracle.
- ``speed`` (`benchmarks.speed`): training time per default model; generation throughput
  at batch 1, 256 and 65,536 for Keras, the reloaded SavedModel and onnxruntime, against
  the NumPy matrix-multiply time of the same layers; peak memory.
- ``scale`` (`benchmarks.scale`): 10 million designs streamed to a binary file in chunks,
  throughput and peak resident memory.
- ``design`` (`benchmarks.design_quality`): `design` with its defaults for every exported
  generator at the 100 reachable (novelty) targets, 20 designs each, against random
  screening and pymoo's GA (`benchmarks.peers`) at the same surrogate calls per target;
  oracle-judged MAPE and hit rate, diversity, element count, traces, distinct systems,
  surrogate-vs-oracle gap; the accuracy–diversity plane (``design_plane.png``) and the
  design targets.
- ``peers``: the same three kinds of method at fixed budgets of 10^3, 10^4 and 10^5
  surrogate calls per target (``sweep_targets`` reachable targets of their own draw).
- ``mpea`` (`benchmarks.mpea`): a generator and a surrogate trained and exported on an MPEA
  property pair (measured data), `design` and the peers judged by the surrogate and by an
  independent gradient-boosting judge.

The generators and the surrogate are the committed ``exported/keras/*.keras`` models when
present (the ONNX and SavedModel exports beside them are the ones timed); a missing model
is trained with the defaults and exported into the output folder. Run it on an otherwise
idle machine: the timings move with other load.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
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
DEFAULT_EXPORTED = ROOT / "exported"


@dataclasses.dataclass
class Settings:
    """Sizes of every part. `Settings.full()` is the benchmark; `quick()` a smaller look."""

    seed: int = 0
    n_per_condition: int = 2000
    n_line: int = 20
    n_novelty: int = 100
    pool_size: int = 200_000
    filter_factor: int = 10
    sdv: bool = True
    sdv_pool_size: int = 200_000
    sdv_epochs: int = 300
    sdv_batch_size: int = 500
    train_epochs: int | None = None
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
    quick: bool = False

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
            quick=True,
        )


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
    command = [
        sys.executable, str(ROOT / "benchmarks" / "scale.py"),
        "--onnx", str(onnx_path), "--out", str(target),
        "--total", str(settings.scale_total), "--chunk", str(settings.scale_chunk),
        "--conditions", json.dumps([[float(v) for v in row] for row in conditions]),
        "--seed", str(settings.seed), "--dtype", settings.scale_dtype,
        "--sub-batch", str(settings.scale_sub_batch),
    ]  # fmt: skip
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
                seed=settings.seed, peer_budget=settings.peer_budget,
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


_INT_LISTS = ("speed_batches", "peer_budgets")
_STR_LISTS = ("speed_models", "mpea_properties", "mpea_generators")
_STRINGS = ("scale_model", "scale_dtype", "mpea_test_type")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="hea_zoo benchmarks: design quality, speed, scale, the design engine against its peers, MPEA.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="smaller settings (about a minute)")
    parser.add_argument("--only", default=",".join(PARTS), help="comma-separated parts: " + ",".join(PARTS))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"), help="output folder")
    parser.add_argument("--exported", default=str(DEFAULT_EXPORTED), help="folder of the committed exports")
    parser.add_argument("--scale-dir", default=None, help="where the scale run writes its file (default: a temp dir, deleted)")
    parser.add_argument("--no-sdv", action="store_true", help="skip the SDV baselines")
    parser.add_argument("--no-train", action="store_true", help="do not train the default models for the training times")
    overrides = parser.add_argument_group("overrides of the settings")
    for field in dataclasses.fields(Settings):
        if field.name in ("quick", "sdv"):
            continue
        flag = "--" + field.name.replace("_", "-")
        if field.name in _INT_LISTS or field.name in _STR_LISTS:
            overrides.add_argument(flag, default=None, help="comma-separated")
        elif field.name in _STRINGS:
            overrides.add_argument(flag, default=None)
        elif field.name == "speed_min_time":
            overrides.add_argument(flag, type=float, default=None)
        else:
            overrides.add_argument(flag, type=int, default=None)
    return parser


def settings_from_args(args) -> Settings:
    settings = Settings.quick_settings() if args.quick else Settings.full()
    for field in dataclasses.fields(Settings):
        value = getattr(args, field.name, None)
        if value is None or field.name in ("quick", "sdv"):
            continue
        if field.name in _INT_LISTS:
            value = tuple(int(v) for v in value.split(","))
        elif field.name in _STR_LISTS:
            value = tuple(v.strip() for v in value.split(",") if v.strip())
        setattr(settings, field.name, value)
    settings.sdv = not args.no_sdv
    return settings


def main(argv=None) -> dict:
    parser = build_parser()
    args = parser.parse_args(argv)
    parts = tuple(p.strip() for p in args.only.split(",") if p.strip())
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s) {unknown}; valid parts: {list(PARTS)}")
    settings = settings_from_args(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start_all = time.perf_counter()

    import numpy as np

    import hea_zoo
    from benchmarks import quality, speed
    from hea_zoo.evaluation.experiments import line_conditions

    dataset = hea_zoo.load_dataset()
    command = "python benchmarks/run.py" + ("" if argv is None and len(sys.argv) < 2 else " " + " ".join(
        sys.argv[1:] if argv is None else argv))
    results: dict[str, Any] = {
        "command": command,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpu": _cpu(), "cores": os.cpu_count(), "python": platform.python_version()},
        "versions": _versions(),
        "settings": dataclasses.asdict(settings),
        "parts": list(parts),
        "dataset": {"name": dataset.name, "fingerprint": dataset.fingerprint(),
                    "n_train": int(len(dataset.train_index))},
    }

    trained: dict = {}
    training = None
    if "speed" in parts and not args.no_train:
        training, trained = speed.training_times(dataset, settings.train_epochs, settings.seed)
    if any(part in parts for part in CORE_PARTS):
        models, sources, exports = _load_or_train(dataset, settings, Path(args.exported), out, trained)
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

    _design_parts(results, parts, dataset, settings, Path(args.exported), out)

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

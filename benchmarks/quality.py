"""Design quality of the generators and the baselines, judged by the study's protocol.

Every method is asked for the same number of designs per condition at

- the study's *line* conditions (``n_line`` targets evenly spaced from (q5 G, q5 K) to
  (q95 G, q95 K) of the training split), and
- the *novelty* conditions (the properties of ``n_novelty`` training alloys drawn at
  random: targets known to be reachable),

and the designs are judged by `hea_zoo.evaluation.experiments.run_conditions` /
`compute_run_metrics` — surrogate and oracle MAPE, hit rates, within-condition cosine
similarity, novelty, validity, uniqueness, distance to the nearest training alloy. The
seeds follow `hea_zoo.evaluation.experiments.evaluate_generator` (line: ``seed``, novelty:
``seed + 2``), so the generators' numbers match the reference report at equal settings.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from hea_zoo.evaluation import experiments

__all__ = ["evaluate_method", "run_quality"]


def _line_summary(m: experiments.RunMetrics) -> dict[str, Any]:
    return {
        "mape_oracle": None if m.mape_oracle is None else m.mape_oracle,
        "mape_surrogate": m.mape_surrogate,
        "hit_rate_oracle": m.hit_rate_oracle,
        "hit_rate_surrogate": m.hit_rate_surrogate,
        "surrogate_oracle_gap": m.surrogate_oracle_gap,
        "cosine_similarity": m.cosine_similarity,
        "validity": m.validity,
        "uniqueness": m.uniqueness,
        "nearest_training": m.nearest_training,
    }


def evaluate_method(
    method,
    dataset,
    surrogate,
    line,
    novelty: experiments.NoveltyConditions,
    n_per_condition: int,
    seed: int = 0,
) -> dict[str, Any]:
    """Line and novelty runs of one method (anything with ``generate``), as a JSON-ready dict."""
    oracle = experiments.oracle_for(dataset)
    names = tuple(dataset.property_names)
    training = np.asarray(dataset.train.compositions, dtype=np.float64)
    start = time.perf_counter()
    line_run = experiments.run_conditions(
        method, line, surrogate, oracle, n_per_condition, seed, name="line"
    )
    novelty_run = experiments.run_conditions(
        method, novelty.conditions, surrogate, oracle, n_per_condition, seed + 2, name="novelty"
    )
    novelty_run.reference = novelty.compositions.astype(np.float64)
    novelty_run.reference_index = novelty.indices
    line_metrics = experiments.compute_run_metrics(line_run, names, training)
    novelty_metrics = experiments.compute_run_metrics(novelty_run, names, None)
    seconds = time.perf_counter() - start
    return experiments._jsonable(
        {
            "n_per_condition": int(n_per_condition),
            "line": _line_summary(line_metrics),
            "novelty": {
                "novelty": novelty_metrics.novelty,
                "mape_oracle": novelty_metrics.mape_oracle,
                "mape_surrogate": novelty_metrics.mape_surrogate,
                "hit_rate_oracle": novelty_metrics.hit_rate_oracle,
                "cosine_similarity": novelty_metrics.cosine_similarity,
                "validity": novelty_metrics.validity,
            },
            "validity": min(line_metrics.validity, novelty_metrics.validity),
            "generate_and_judge_seconds": seconds,
        }
    )


def run_quality(dataset, surrogate, methods: dict[str, dict], settings) -> dict[str, Any]:
    """Evaluates every method at equal designs per condition.

    Args:
        dataset: the bundled dataset (or a user's).
        surrogate: the judge.
        methods: ``{name: {"model": obj with generate, "kind": ..., "description": ...,
            "info": {...}}}``; a method whose ``"model"`` is None is recorded as skipped
            with its ``"reason"``.
        settings: the benchmark settings (``n_per_condition``, ``n_line``, ``n_novelty``,
            ``seed``).

    Returns:
        JSON-ready dict: the protocol settings and one entry per method.
    """
    line = experiments.line_conditions(dataset, settings.n_line)
    novelty = experiments.novelty_conditions(dataset, settings.n_novelty, seed=settings.seed + 2)
    results: dict[str, Any] = {}
    for name, spec in methods.items():
        entry = {k: v for k, v in spec.items() if k != "model"}
        if spec.get("model") is None:
            entry["skipped"] = True
            results[name] = entry
            print(f"[quality] {name}: skipped ({spec.get('reason', 'no reason given')})", flush=True)
            continue
        entry.update(
            evaluate_method(
                spec["model"], dataset, surrogate, line, novelty, settings.n_per_condition, settings.seed
            )
        )
        entry["skipped"] = False
        line_o = entry["line"]["mape_oracle"]
        print(
            f"[quality] {name}: oracle MAPE {line_o['mean'] if line_o else float('nan'):.2f} %, "
            f"cosine {entry['line']['cosine_similarity']:.3f}, "
            f"novelty {entry['novelty']['novelty']:.3f} "
            f"({entry['generate_and_judge_seconds']:.1f} s)",
            flush=True,
        )
        results[name] = entry
    return {
        "protocol": {
            "line_conditions": int(line.shape[0]),
            "novelty_conditions": int(novelty.conditions.shape[0]),
            "n_per_condition": int(settings.n_per_condition),
            "designs_per_method": int((line.shape[0] + novelty.conditions.shape[0]) * settings.n_per_condition),
            "seed": int(settings.seed),
            "line": experiments._jsonable(line),
        },
        "methods": results,
    }

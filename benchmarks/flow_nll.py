"""Measures the conditional flow (CFlow) on the bundled data.

Trains the flow with its defaults on the train split (once per ``flow_seeds`` seed), then
reports

- the training time;
- the held-out negative log-likelihood on the test split (nats per alloy: presence term +
  fraction term, see `hea_zoo.models.flow`) beside the Gaussian baselines of
  `gaussian_baseline_nll` (the flow's presence model, a full-covariance Gaussian for the
  fractions in the same transform): maximum likelihood, and trained with the flow's
  noise in the log-ratio and in the log-fraction parametrization; per seed and the mean;
- for the first seed: the element-count distribution (elements at or above 0.5 at.%) of
  designs generated at the test alloys' properties, beside the data's; oracle-judged
  MAPE, hit rate and within-condition cosine similarity at reachable targets (the
  properties of test alloys), raw and, with ``flow_filtered``, after the surrogate filter
  of `hea-zoo design` (10 x n candidates, the n closest by surrogate kept);
- optionally (``flow_compare``, e.g. cvae) the same design numbers for other generators trained
  with their defaults.

Usage (the numbers are written to ``flow_nll.json`` and ``flow_nll.md`` in ``--out``):

    python benchmarks/run.py --only flow_nll                       # about 1 minute on 2 cores
    python benchmarks/run.py --only flow_nll --flow-seeds 0,1,2 --flow-filtered --flow-compare cvae
"""

from __future__ import annotations

import keras
import numpy as np

from hea_zoo.data import oracle
from hea_zoo.evaluation import metrics
from hea_zoo.data.datasets import load_dataset
from hea_zoo.models import train_default_generator, train_default_surrogate
from hea_zoo.evaluation.baselines import gaussian_baseline_nll

from benchmarks.baselines import FilteredGenerator

THRESHOLD = 0.005
BASELINES = {
    "gaussian_log_ratio_mle": dict(space="log_ratio", noise_std=0.0),
    "gaussian_log_ratio_noise": dict(space="log_ratio", noise_std=None),
    "gaussian_log_fraction_noise": dict(space="log_fraction", noise_std=None),
}
"""The baselines (noise_std None: the flow's)."""


def counts_of(x: np.ndarray) -> np.ndarray:
    return (np.asarray(x) >= THRESHOLD).sum(axis=-1).ravel()


def count_summary(counts: np.ndarray) -> dict:
    hist = np.bincount(counts, minlength=12)[:12] / len(counts)
    return {
        "mean": round(float(counts.mean()), 3),
        "share_4_to_7": round(float(np.mean((counts >= 4) & (counts <= 7))), 3),
        "distribution": {int(k): round(float(v), 3) for k, v in enumerate(hist) if v > 0},
    }


def design_numbers(model, dataset, n_targets: int, n_per_target: int, seed: int) -> dict:
    test = dataset.test
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(test.properties), size=min(n_targets, len(test.properties)), replace=False)
    targets = test.properties[rows]
    designs = model.generate(targets, n_per_target, seed=seed)
    achieved = oracle.properties(designs.reshape(-1, designs.shape[-1])).reshape(
        len(targets), n_per_target, -1
    )
    mape = metrics.mape(achieved, targets)
    out = {
        "oracle_mape_percent": round(mape.mean, 2),
        "oracle_mape_per_property": [round(float(v), 2) for v in mape.per_property],
        "hit_rate_10": round(metrics.hit_rate(achieved, targets, 0.10), 3),
        "cosine_similarity": round(100 * metrics.within_condition_cosine_similarity(designs).mean, 2),
        "element_counts": count_summary(counts_of(designs)),
    }
    return out


def held_out(flow, dataset, seed: int, steps: int = 3000) -> dict:
    train, test = dataset.train, dataset.test
    parts = flow.log_prob_parts(test.compositions, test.properties)
    presence = -parts["presence"].numpy()
    fractions = -parts["fractions"].numpy()
    out = {
        "flow": {
            "nll": float(np.mean(presence + fractions)),
            "presence_nll": float(presence.mean()),
            "fraction_nll": float(fractions.mean()),
            "median_nll": float(np.median(presence + fractions)),
        }
    }
    for name, kwargs in BASELINES.items():
        kwargs = dict(kwargs)
        if kwargs["noise_std"] is None:
            kwargs["noise_std"] = flow.noise_std
        out[name] = gaussian_baseline_nll(
            flow, train.compositions, train.properties, test.compositions, test.properties,
            seed=seed, steps=steps, **kwargs,
        )  # fmt: skip
    return out


def rounded(tree, digits: int = 3):
    if isinstance(tree, dict):
        return {k: rounded(v, digits) for k, v in tree.items()}
    return round(tree, digits) if isinstance(tree, float) else tree


def run(settings, context) -> dict:
    """The study (``python benchmarks/run.py --only flow_nll``)."""
    seeds = list(settings.flow_seeds)
    ds = load_dataset()
    report: dict = {"seeds": seeds, "held_out_nll": {}, "training_seconds": {}}
    models = {}
    for seed in seeds:
        keras.utils.set_random_seed(seed)
        flow = train_default_generator("flow", ds, epochs=settings.flow_epochs, seed=seed, verbose=0)
        models.setdefault("flow", flow)
        report["training_seconds"][str(seed)] = round(flow.training_seconds, 1)
        report["held_out_nll"][str(seed)] = held_out(flow, ds, seed, steps=settings.flow_baseline_steps)
    skip = ("elements", "name", "trainable", "dtype")
    report["config"] = {k: v for k, v in models["flow"].get_config().items() if k not in skip}
    per_seed = report["held_out_nll"]
    report["held_out_nll_mean"] = {
        model: {
            key: float(np.mean([per_seed[str(s)][model][key] for s in seeds]))
            for key in ("nll", "presence_nll", "fraction_nll")
        }
        for model in ("flow", *BASELINES)
    }
    report["data_element_counts"] = count_summary(counts_of(ds.compositions))
    for name in settings.flow_compare:
        keras.utils.set_random_seed(seeds[0])
        models[name] = train_default_generator(name, ds, epochs=settings.flow_epochs, seed=seeds[0], verbose=0)
        report["training_seconds"][name] = round(models[name].training_seconds, 1)
    if settings.flow_filtered:
        keras.utils.set_random_seed(seeds[0])
        surrogate = train_default_surrogate(ds, seed=seeds[0], verbose=0)
        for name in list(models):
            models[f"{name}_filtered"] = FilteredGenerator(f"{name}_filtered", models[name], surrogate)
    report["designs"] = {
        name: design_numbers(model, ds, settings.flow_targets, settings.flow_per_target, seeds[0])
        for name, model in models.items()
    }
    return rounded(report)


def markdown(record: dict) -> str:
    lines = [
        "# The conditional flow: held-out NLL and designs",
        "",
        f"Command: `{record['command']}` ({record['date']}, {record['seconds']:.0f} s, load average "
        f"{record['machine']['load_average']} at the start); seeds {record['seeds']}.",
        "",
        "Held-out negative log-likelihood on the test split, nats per alloy (mean over seeds):",
        "",
        "| model | NLL | presence | fractions |",
        "|---|---|---|---|",
    ]
    for name, v in record["held_out_nll_mean"].items():
        lines.append(f"| {name} | {v['nll']:.3f} | {v['presence_nll']:.3f} | {v['fraction_nll']:.3f} |")
    c = record["data_element_counts"]
    lines += [
        "",
        f"Designs at the properties of {record['settings']['flow_targets']} test alloys, "
        f"{record['settings']['flow_per_target']} each (seed {record['seeds'][0]}); the data's mean element "
        f"count {c['mean']:.2f} ({100 * c['share_4_to_7']:.0f} % with 4-7 elements):",
        "",
        "| generator | oracle MAPE % | hit ±10 % | cosine % | mean element count | 4-7 elements |",
        "|---|---|---|---|---|---|",
    ]
    for name, d in record["designs"].items():
        e = d["element_counts"]
        lines.append(f"| {name} | {d['oracle_mape_percent']:.2f} | {100 * d['hit_rate_10']:.1f} % "
                     f"| {d['cosine_similarity']:.2f} | {e['mean']:.2f} | {100 * e['share_4_to_7']:.0f} % |")
    return "\n".join(lines) + "\n"

"""Tunes the conditional flow on a validation split carved from the train split.

The test split is never touched: the train split (423 alloys) is permuted with
``tune_split`` as seed, a fifth is held out for validation and the flow is trained on the
rest. Prints one JSON line: the settings, the fit time, the last training loss, the
validation NLL (nats per alloy, and its presence and fraction terms) at the end and
every tenth of the run, the five worst validation rows' fraction NLL, and oracle MAPE
and within-condition cosine similarity of designs at the first 20 validation alloys'
properties (300 each). One line of the flow table in docs/HYPERPARAMETERS.md per run.

Usage (``--tune-epochs`` default 150, ``--tune-batch-size`` 64, ``--tune-learning-rate`` 1e-3;
``--tune-baselines`` also fits the Gaussian baselines on the same split):

    python benchmarks/run.py --only tune_flow \\
        --tune-overrides "n_couplings=2;hidden_units=(32,32);noise_std=0.5" --tune-split 0
"""

from __future__ import annotations

import time

import keras
import numpy as np

from benchmarks.tune_generators import parse_overrides
from hea_zoo.data import oracle
from hea_zoo.data.datasets import load_dataset
from hea_zoo.evaluation import metrics
from hea_zoo.models import CFlow
from hea_zoo.evaluation.baselines import gaussian_baseline_nll

EPOCHS, BATCH_SIZE, LEARNING_RATE = 150, 64, 1e-3
"""The study's own defaults (the settings' None)."""


def run(settings, context) -> dict:
    """The study (``python benchmarks/run.py --only tune_flow``)."""
    overrides = parse_overrides(settings.tune_overrides)
    epochs = settings.tune_epochs or EPOCHS
    batch_size = settings.tune_batch_size or BATCH_SIZE
    learning_rate = settings.tune_learning_rate or LEARNING_RATE
    seed, split = settings.seed, settings.tune_split
    n_targets, n_per_target = 20, min(300, settings.tune_n_per_condition)

    ds = load_dataset()
    x, c = ds.train.compositions, ds.train.properties
    order = np.random.default_rng(split).permutation(len(x))
    n_val = len(order) // 5
    val, fit = order[:n_val], order[n_val:]

    keras.utils.set_random_seed(seed)
    model = CFlow(seed=seed, elements=ds.elements, **overrides)
    model.adapt(x[fit], c[fit])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    every = max(1, epochs // 10)
    start = time.perf_counter()
    history = model.fit(
        x[fit], c[fit], epochs=epochs, batch_size=batch_size, verbose=0,
        validation_data=(x[val], c[val]), validation_freq=every,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    parts = model.log_prob_parts(x[val], c[val])
    presence, fractions = -parts["presence"].numpy(), -parts["fractions"].numpy()
    targets = c[val][:n_targets]
    designs = model.generate(targets, n_per_target, seed=1)
    achieved = oracle.properties(designs.reshape(-1, designs.shape[-1])).reshape(len(targets), n_per_target, -1)
    mape = metrics.mape(achieved, targets)
    report = {
        "overrides": {k: repr(v) if isinstance(v, tuple) else v for k, v in overrides.items()},
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "split": split,
        "fit_seconds": round(seconds, 1),
        "train_loss": round(float(history.history["loss"][-1]), 3),
        "val_nll": round(float(np.mean(presence + fractions)), 3),
        "val_presence_nll": round(float(presence.mean()), 3),
        "val_fraction_nll": round(float(fractions.mean()), 3),
        "val_curve": [round(float(v), 2) for v in history.history["val_loss"]],
        "worst_fraction_nll": [round(float(v), 1) for v in np.sort(fractions)[-5:]],
        "designs": {"targets": int(len(targets)), "per_target": int(n_per_target)},
        "oracle_mape": round(float(mape.mean), 2),
        "cosine": round(100 * float(metrics.within_condition_cosine_similarity(designs).mean), 1),
    }
    if settings.tune_baselines:
        variants = (("log_ratio", 0.0), ("log_ratio", 0.3), ("log_ratio", 0.5), ("log_fraction", 0.5))
        for space, noise in variants:
            result = gaussian_baseline_nll(model, x[fit], c[fit], x[val], c[val], space=space, noise_std=noise)
            report[f"gaussian_{space}_{noise}_fraction_nll"] = round(float(result["fraction_nll"]), 3)
    return report


def markdown(record: dict) -> str:
    overrides = ", ".join(f"{k}={v}" for k, v in record["overrides"].items()) or "defaults"
    baselines = {k: v for k, v in record.items() if k.startswith("gaussian_")}
    lines = [
        f"# Flow: {overrides}",
        "",
        f"Command: `{record['command']}` ({record['date']}); validation split seed {record['split']}, "
        f"designs at the first {record['designs']['targets']} validation alloys' properties, "
        f"{record['designs']['per_target']} each.",
        "",
        "| overrides | epochs | fit s | train loss | val NLL (presence + fractions) | oracle MAPE % | cosine % |",
        "|---|---|---|---|---|---|---|",
        f"| {overrides} | {record['epochs']} | {record['fit_seconds']} | {record['train_loss']} "
        f"| {record['val_nll']} ({record['val_presence_nll']} + {record['val_fraction_nll']}) "
        f"| {record['oracle_mape']} | {record['cosine']} |",
        "",
        f"Validation NLL every {max(1, record['epochs'] // 10)} epochs: {record['val_curve']}; five worst fraction "
        f"NLLs: {record['worst_fraction_nll']}.",
    ]
    if baselines:
        lines += ["", "Gaussian baselines' fraction NLL: " + ", ".join(f"{k} {v}" for k, v in baselines.items()) + "."]
    return "\n".join(lines) + "\n"

"""Tunes the conditional flow on a validation split carved from the train split.

The test split is never touched: the train split (423 alloys) is permuted with
``--split`` as seed, a fifth is held out for validation and the flow is trained on the
rest. Prints one JSON line: the settings, the fit time, the last training loss, the
validation NLL (nats per alloy, and its presence and fraction terms) at the end and
every tenth of the run, the five worst validation rows' fraction NLL, and oracle MAPE
and within-condition cosine similarity of designs at the first 20 validation alloys'
properties (300 each). One line of the flow table in docs/HYPERPARAMETERS.md per run.

Usage:

    python benchmarks/tune_flow.py --set n_couplings=2 "hidden_units=(32,32)" \\
        noise_std=0.5 --epochs 150 --split 0 [--baselines]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import keras
import numpy as np

from hea_zoo.data import oracle
from hea_zoo.evaluation import metrics
from hea_zoo.data.datasets import load_dataset
from hea_zoo.models.flow import CFlow, gaussian_baseline_nll

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tune_generators import _value  # noqa: E402  (KEY=VALUE parsing, one home)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="CFlow arguments")
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--split", type=int, default=0, help="seed of the validation split")
    parser.add_argument("--seed", type=int, default=0, help="training seed")
    parser.add_argument(
        "--baselines", action="store_true",
        help="also fit the Gaussian baselines (noise 0, 0.3, 0.5) on the same split",
    )  # fmt: skip
    args = parser.parse_args(argv)
    overrides = {k: _value(v) for k, v in (item.split("=", 1) for item in args.set)}

    ds = load_dataset()
    x, c = ds.train.compositions, ds.train.properties
    order = np.random.default_rng(args.split).permutation(len(x))
    n_val = len(order) // 5
    val, fit = order[:n_val], order[n_val:]

    keras.utils.set_random_seed(args.seed)
    model = CFlow(seed=args.seed, elements=ds.elements, **overrides)
    model.adapt(x[fit], c[fit])
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
    every = max(1, args.epochs // 10)
    start = time.perf_counter()
    history = model.fit(
        x[fit], c[fit], epochs=args.epochs, batch_size=args.batch_size, verbose=0,
        validation_data=(x[val], c[val]), validation_freq=every,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    parts = model.log_prob_parts(x[val], c[val])
    presence, fractions = -parts["presence"].numpy(), -parts["fractions"].numpy()
    targets = c[val][:20]
    designs = model.generate(targets, 300, seed=1)
    achieved = oracle.properties(designs.reshape(-1, designs.shape[-1])).reshape(20, 300, -1)
    mape = metrics.mape(achieved, targets)
    report = {
        "overrides": overrides,
        "epochs": args.epochs,
        "learning_rate": args.learning_rate,
        "split": args.split,
        "seconds": round(seconds, 1),
        "train_loss": round(float(history.history["loss"][-1]), 3),
        "val_nll": round(float(np.mean(presence + fractions)), 3),
        "val_presence_nll": round(float(presence.mean()), 3),
        "val_fraction_nll": round(float(fractions.mean()), 3),
        "val_curve": [round(float(v), 2) for v in history.history["val_loss"]],
        "worst_fraction_nll": [round(float(v), 1) for v in np.sort(fractions)[-5:]],
        "oracle_mape": round(mape.mean, 2),
        "cosine": round(100 * metrics.within_condition_cosine_similarity(designs).mean, 1),
    }
    if args.baselines:
        variants = (("log_ratio", 0.0), ("log_ratio", 0.3), ("log_ratio", 0.5), ("log_fraction", 0.5))
        for space, noise in variants:
            result = gaussian_baseline_nll(
                model, x[fit], c[fit], x[val], c[val], space=space, noise_std=noise
            )
            report[f"gaussian_{space}_{noise}_fraction_nll"] = round(result["fraction_nll"], 3)
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()

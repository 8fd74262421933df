"""Measures a generator configuration on the bundled data.

Trains one generator on the train split and reports the training time, the
final training loss(es), and at the study's 20 line conditions (q5 -> q95 of
the train split, 2000 samples each) the oracle-judged MAPE, the validity and
the mean within-condition cosine similarity.

Usage (one line of docs/HYPERPARAMETERS.md per run):

    python benchmarks/tune_generators.py cvae \
        --set beta=0.05 latent_dim=8 --epochs 300
"""

from __future__ import annotations

import argparse
import ast
import json
import time

import keras
import numpy as np

from hea_zoo.evaluation import metrics
from hea_zoo.data import oracle
from hea_zoo.data.composition import valid_rows
from hea_zoo.data.datasets import load_dataset
from hea_zoo.evaluation.experiments import line_conditions
from hea_zoo.models.defaults import DEFAULT_HYPERPARAMETERS, build_default_generator


def _value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=sorted(DEFAULT_HYPERPARAMETERS))
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="constructor overrides, e.g. beta=0.1 hidden_units=(64,64)")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--learning-rate", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-per-condition", type=int, default=2000)
    args = parser.parse_args(argv)

    spec = DEFAULT_HYPERPARAMETERS[args.model]
    overrides = dict(item.split("=", 1) for item in args.set)
    overrides = {k: _value(v) for k, v in overrides.items()}
    ds = load_dataset()
    keras.utils.set_random_seed(args.seed)
    model = build_default_generator(args.model, ds, seed=args.seed, **overrides)
    if args.learning_rate is not None:
        if args.model == "wcgan":
            model.compile(d_optimizer=model._default_optimizer().__class__(args.learning_rate),
                          g_optimizer=model._default_optimizer().__class__(args.learning_rate))
        else:
            model.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
    epochs = args.epochs or spec["epochs"]
    start = time.perf_counter()
    history = model.fit(ds.train.compositions, ds.train.properties, epochs=epochs,
                        batch_size=args.batch_size or spec["batch_size"], verbose=0)
    seconds = time.perf_counter() - start

    conditions = line_conditions(ds)
    designs = model.generate(conditions, args.n_per_condition, seed=1)
    achieved = oracle.properties(designs.reshape(-1, designs.shape[-1])).reshape(
        designs.shape[0], designs.shape[1], -1)
    result = metrics.mape(achieved, conditions)
    cosine = metrics.within_condition_cosine_similarity(designs).mean
    # Conditioning: correlation of mean achieved G with the target along the line.
    slope = np.polyfit(conditions[:, 0], achieved.mean(axis=1)[:, 0], 1)[0]
    report = {
        "model": args.model,
        "overrides": overrides,
        "epochs": epochs,
        "seconds": round(seconds, 1),
        "final": {k: round(float(v[-1]), 4) for k, v in history.history.items()},
        "oracle_mape": round(result.mean, 2),
        "oracle_mape_per_property": [round(float(v), 2) for v in result.per_property],
        "cosine": round(100 * cosine, 2),
        "valid": float(valid_rows(designs.reshape(-1, designs.shape[-1])).mean()),
        "G_slope": round(float(slope), 3),
    }
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()

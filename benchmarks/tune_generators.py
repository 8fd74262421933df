"""Measures one generator configuration on the bundled data.

Builds the generator with the default hyperparameters and the given overrides
(`hea_zoo.models.build_default_generator`), adapts it on the train split (as the default
training does), fits it for the given epochs and batch (no step budget, no early
stopping: the configuration as written), and reports the training time, the final
training loss(es), and at the study's 20 line conditions (q5 -> q95 of the train split,
``tune_n_per_condition`` designs each) the oracle-judged MAPE, the validity, the mean
within-condition cosine similarity and the slope of the designs' mean G against the
target G (conditioning).

One line of docs/HYPERPARAMETERS.md per run:

    python benchmarks/run.py --only tune_generators --tune-model cvae \\
        --tune-overrides "beta=0.05;latent_dim=8" --tune-epochs 300
"""

from __future__ import annotations

import ast
import time

import keras
import numpy as np

from hea_zoo.data import oracle
from hea_zoo.data.composition import valid_rows
from hea_zoo.data.datasets import load_dataset
from hea_zoo.evaluation import metrics
from hea_zoo.evaluation.experiments import line_conditions
from hea_zoo.models import DEFAULT_HYPERPARAMETERS, WCGAN, build_default_generator


def _value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text.strip()


def parse_overrides(text: str) -> dict:
    """``"beta=0.05;hidden_units=(64,64)"`` -> ``{"beta": 0.05, "hidden_units": (64, 64)}``."""
    items = [item for item in str(text or "").split(";") if item.strip()]
    bad = [item for item in items if "=" not in item]
    if bad:
        raise ValueError(f"tune_overrides: expected KEY=VALUE items separated by ';', got {bad}")
    return {key.strip(): _value(value) for key, value in (item.split("=", 1) for item in items)}


def run(settings, context) -> dict:
    """The study (``python benchmarks/run.py --only tune_generators``)."""
    name = settings.tune_model.lower()
    if name not in DEFAULT_HYPERPARAMETERS:
        raise ValueError(f"tune_model: unknown generator {name!r}; valid: {sorted(DEFAULT_HYPERPARAMETERS)}")
    spec = DEFAULT_HYPERPARAMETERS[name]
    overrides = parse_overrides(settings.tune_overrides)
    seed = settings.seed
    ds = load_dataset()
    keras.utils.set_random_seed(seed)
    learning_rate = settings.tune_learning_rate
    model = build_default_generator(name, ds, seed=seed, **overrides)
    if learning_rate is not None and isinstance(model, WCGAN):
        # The critic's and the generator's default optimizers (their kind and betas) at this rate.
        d_opt, g_opt = model.default_optimizer(), model.default_optimizer()
        d_opt.learning_rate = g_opt.learning_rate = learning_rate
        model.compile(d_optimizer=d_opt, g_optimizer=g_opt)
    elif learning_rate is not None:
        model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    x, c = ds.train.compositions, ds.train.properties
    epochs = settings.tune_epochs or spec["epochs"]
    batch_size = settings.tune_batch_size or spec["batch_size"]
    start = time.perf_counter()
    model.adapt(x, c)
    history = model.fit(x, c, epochs=epochs, batch_size=batch_size, verbose=0)
    seconds = time.perf_counter() - start

    conditions = line_conditions(ds)
    designs = model.generate(conditions, settings.tune_n_per_condition, seed=seed + 1)
    flat = designs.reshape(-1, designs.shape[-1])
    achieved = oracle.properties(flat).reshape(designs.shape[0], designs.shape[1], -1)
    result = metrics.mape(achieved, conditions)
    cosine = metrics.within_condition_cosine_similarity(designs).mean
    # Conditioning: slope of the mean achieved G against the target G along the line.
    slope = np.polyfit(conditions[:, 0], achieved.mean(axis=1)[:, 0], 1)[0]
    return {
        "model": name,
        "overrides": {k: repr(v) if isinstance(v, tuple) else v for k, v in overrides.items()},
        "epochs": int(epochs),
        "batch_size": int(batch_size),
        "learning_rate": float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)),
        "fit_seconds": round(seconds, 1),
        "final": {k: round(float(v[-1]), 4) for k, v in history.history.items()},
        "oracle_mape": round(float(result.mean), 2),
        "oracle_mape_per_property": [round(float(v), 2) for v in result.per_property],
        "cosine": round(100 * float(cosine), 2),
        "valid": float(valid_rows(flat).mean()),
        "G_slope": round(float(slope), 3),
    }


def markdown(record: dict) -> str:
    overrides = ", ".join(f"{k}={v}" for k, v in record["overrides"].items()) or "defaults"
    final = ", ".join(f"{k} {v}" for k, v in record["final"].items())
    return "\n".join([
        f"# {record['model']}: {overrides}",
        "",
        f"Command: `{record['command']}` ({record['date']}).",
        "",
        "| model | overrides | epochs | batch | learning rate | fit s | final loss | oracle MAPE % (per property) | cosine % | valid | G slope |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        f"| {record['model']} | {overrides} | {record['epochs']} | {record['batch_size']} | {record['learning_rate']:.3g} | {record['fit_seconds']} "
        f"| {final} | {record['oracle_mape']} ({', '.join(map(str, record['oracle_mape_per_property']))}) "
        f"| {record['cosine']} | {record['valid']:.3f} | {record['G_slope']} |",
        "",
    ])  # fmt: skip

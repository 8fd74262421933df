"""Training cost and held-out quality of the default models as the table grows.

For each table (the bundled 529 alloys, and random oracle-labelled tables of 10,000 and
100,000 rows) every default training (`hea_zoo.models.train_default_generator`,
`train_default_surrogate`) runs once on the training split (80 %), and a scikit-learn
``MLPRegressor((128, 128), early_stopping=True)`` is fit on the same rows as the reference
cost. Reported per model: wall seconds of the training, CPU seconds of the process over
the same span (`time.process_time`, all threads: on a shared machine the wall time moves
with other jobs, the CPU time much less), optimizer steps, and held-out quality on the
test split (20 %):

- surrogate and MLP: R² and MAPE (%) per property;
- cAE, cVAE: the model's own loss on the held-out rows (`model.evaluate`: reconstruction
  for the cAE, the negative ELBO for the cVAE);
- every generator: how close to the asked properties its designs land, judged by the
  oracle: one design per held-out condition (`generate(test conditions, 1, seed=0)`, at
  most 2,000 conditions; a design of oxygen alone, which the oracle cannot judge, is
  counted and left out), the median absolute percentage error per property (the mean is
  dominated, on the random tables, by targets of toughness near zero: the oracle gives
  brittle random alloys K down to 1e-6 MPa·m^1/2), and the mean over both properties.

The random tables: compositions over the 22 elements with 3 to 7 nonzero elements (the
count uniform, the elements drawn without replacement, their fractions Dirichlet(1)),
labelled by `hea_zoo.data.oracle.properties`.

Usage (run it on an otherwise idle machine; timings move with other load)::

    nice -n 5 python benchmarks/run.py --only training_scale                 # full table
    nice -n 5 python benchmarks/run.py --only training_scale --training-sizes bundled \\
        --training-models surrogate,mlp

The MLP rows need scikit-learn (the ``bench`` extra); without it they say so and are skipped.

The numbers of the last full run are in docs/HYPERPARAMETERS.md.
"""

from __future__ import annotations

import importlib.util
import json
import time

import numpy as np

MODELS = ("mlp", "surrogate", "cae", "cvae", "wcgan", "flow")


def random_table(n_rows: int, seed: int = 0):
    """A `Dataset` of `n_rows` random compositions labelled by the oracle (80/20 split)."""
    from hea_zoo.constants import ELEMENTS, PROPERTY_NAMES, PROPERTY_UNITS
    from hea_zoo.data import oracle
    from hea_zoo.data.datasets import Dataset

    rng = np.random.default_rng(seed)
    n_elements = len(ELEMENTS)
    x = np.zeros((n_rows, n_elements))
    counts = rng.integers(3, 8, n_rows)
    for k in range(3, 8):
        rows = np.flatnonzero(counts == k)
        cols = np.argsort(rng.random((len(rows), n_elements)), axis=1)[:, :k]
        x[rows[:, None], cols] = rng.dirichlet(np.ones(k), len(rows))
    x = np.round(x / x.sum(axis=1, keepdims=True), 6)
    x /= x.sum(axis=1, keepdims=True)
    y = oracle.properties(x)
    order = rng.permutation(n_rows)
    n_test = n_rows // 5
    dataset = Dataset(
        compositions=x.astype(np.float32),
        properties=y.astype(np.float32),
        elements=tuple(ELEMENTS),
        property_names=tuple(PROPERTY_NAMES),
        property_units=tuple(PROPERTY_UNITS),
        formulas=("",) * n_rows,
        train_index=np.sort(order[n_test:]),
        test_index=np.sort(order[:n_test]),
        name=f"random{n_rows}",
    )
    return dataset


def regression_scores(y_true: np.ndarray, y_pred: np.ndarray, names) -> dict:
    out = {}
    for j, name in enumerate(names):
        resid = y_true[:, j] - y_pred[:, j]
        ss_tot = float(np.sum((y_true[:, j] - y_true[:, j].mean()) ** 2))
        out[name] = {
            "r2": 1.0 - float(np.sum(resid**2)) / ss_tot,
            "mape": float(np.mean(np.abs(resid) / np.abs(y_true[:, j])) * 100.0),
        }
    return out


def run_mlp(dataset, seed: int = 0) -> dict:
    from sklearn.neural_network import MLPRegressor

    train, test = dataset.train, dataset.test
    y = np.log(train.properties.astype(np.float64))
    mean, std = y.mean(axis=0), y.std(axis=0)
    model = MLPRegressor(hidden_layer_sizes=(128, 128), early_stopping=True, random_state=seed)
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(train.compositions, (y - mean) / std)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    pred = np.exp(model.predict(test.compositions) * std + mean)
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "steps": int(model.n_iter_ * np.ceil(0.9 * len(train) / min(200, len(train)))),
        "epochs": int(model.n_iter_),
        "scores": regression_scores(test.properties, pred, dataset.property_names),
    }


def run_surrogate(dataset, seed: int = 0, epochs: int | None = None) -> dict:
    from hea_zoo.models import train_default_surrogate

    cpu = time.process_time()
    model = train_default_surrogate(dataset, epochs=epochs, seed=seed, verbose=0)
    cpu = time.process_time() - cpu
    seconds = float(model.training_seconds)
    scores = model.score(dataset.test.compositions, dataset.test.properties)
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "steps": int(model.optimizer.iterations.numpy()),
        "plan": getattr(model, "training_plan", None),
        "scores": {k: {"r2": v["r2"], "mape": v["mape"]} for k, v in scores.items()},
    }


def run_generator(name: str, dataset, seed: int = 0, max_conditions: int = 2000, epochs: int | None = None) -> dict:
    from hea_zoo.data import oracle
    from hea_zoo.models import train_default_generator

    cpu = time.process_time()
    model = train_default_generator(name, dataset, epochs=epochs, seed=seed, verbose=0)
    cpu = time.process_time() - cpu
    test = dataset.test
    out = {
        "seconds": float(model.training_seconds),
        "cpu_seconds": cpu,
        "steps": int(model.optimizer.iterations.numpy()),
        "plan": getattr(model, "training_plan", None),
    }
    if name in ("cae", "cvae", "flow"):
        logs = model.evaluate(
            test.compositions, test.properties, batch_size=1024, verbose=0, return_dict=True
        )
        out["held_out_loss"] = float(logs["loss"])
    conditions = test.properties[:max_conditions]
    designs = model.generate(conditions, 1, seed=0)[:, 0]
    # The oracle judges alloys: a design of oxygen alone has no properties to compare.
    metallic = oracle.judgeable(designs, dataset.elements)
    out["designs_without_metal"] = int(np.sum(~metallic))
    conditions, designs = conditions[metallic], designs[metallic]
    ape = np.abs(oracle.properties(designs) - conditions) / np.abs(conditions) * 100.0
    out["oracle_mape"] = float(np.mean(ape))
    out["oracle_median_ape"] = [float(v) for v in np.median(ape, axis=0)]
    return out


def run_rows(sizes, models, seed: int = 0, epochs: int | None = None) -> list[dict]:
    from hea_zoo.data.datasets import load_dataset

    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        raise ValueError(f"training_models: unknown {unknown}; valid: {list(MODELS)}")
    rows = []
    for size in sizes:
        dataset = load_dataset() if size == "bundled" else random_table(int(size), seed=seed)
        for name in models:
            print(f"[training_scale] {size} {name} ...", flush=True)
            if name == "mlp" and importlib.util.find_spec("sklearn") is None:
                result = {"skipped": True, "reason": 'needs scikit-learn (pip install -e ".[bench]")'}
            elif name == "mlp":
                result = run_mlp(dataset, seed)
            elif name == "surrogate":
                result = run_surrogate(dataset, seed, epochs)
            else:
                result = run_generator(name, dataset, seed, epochs=epochs)
            result.update(table=str(size), model=name, train_rows=len(dataset.train))
            print(f"[training_scale] {json.dumps(result)}", flush=True)
            rows.append(result)
    return rows


def run(settings, context) -> dict:
    """The study (``python benchmarks/run.py --only training_scale``): one row per table and model."""
    return {"rows": run_rows(settings.training_sizes, settings.training_models, settings.seed, settings.training_epochs)}


def markdown(record: dict) -> str:
    head = ["# Training cost and held-out quality as the table grows", "",
            f"Command: `{record['command']}` ({record['date']}, {record['seconds']:.0f} s, load average "
            f"{record['machine']['load_average']} at the start).", ""]
    return "\n".join(head) + format_table(record["rows"]) + "\n"


def format_table(rows: list[dict]) -> str:
    lines = [
        "| table | train rows | model | wall s | CPU s | steps | held-out quality |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r.get("skipped"):
            lines.append(f"| {r['table']} | {r['train_rows']:,} | {r['model']} | – | – | – | skipped: {r['reason']} |")
            continue
        if "scores" in r:
            quality = "; ".join(
                f"{name}: R² {s['r2']:.4f}, MAPE {s['mape']:.2f} %" for name, s in r["scores"].items()
            )
        else:
            parts = []
            if "held_out_loss" in r:
                parts.append(f"held-out loss {r['held_out_loss']:.4f}")
            if "oracle_median_ape" in r:
                g, k = r["oracle_median_ape"]
                parts.append(f"designs' oracle APE median G {g:.1f} %, K {k:.1f} %")
            parts.append(f"mean {r['oracle_mape']:.1f} %")
            if r.get("designs_without_metal"):
                n = r["designs_without_metal"]
                parts.append(f"{n} design{'' if n == 1 else 's'} of oxygen alone not judged")
            quality = "; ".join(parts)
        lines.append(
            f"| {r['table']} | {r['train_rows']:,} | {r['model']} | {r['seconds']:.1f} | "
            f"{r.get('cpu_seconds', float('nan')):.1f} | {r['steps']:,} | {quality} |"
        )
    return "\n".join(lines)

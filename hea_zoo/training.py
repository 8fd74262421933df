"""Command-line training of one generator (shared by the example scripts).

Trains a generator with its measured defaults on the bundled data or a user's
CSV, saves it as a `.keras` file, trains the surrogate, and prints how close
the designs come to a few target conditions: judged by the surrogate always,
and by the physics oracle when the element list is the study's 22.

Example:

```
python examples/train_cvae.py --epochs 300 --output cvae.keras
python examples/train_cvae.py --data my.csv --composition-column formula \\
    --properties shear_modulus fracture_toughness --output my_cvae.keras
```
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from hea_zoo import metrics
from hea_zoo.composition import to_formulas
from hea_zoo.dataset import load_dataset
from hea_zoo.elements import ELEMENTS
from hea_zoo.models.defaults import (
    DEFAULT_HYPERPARAMETERS,
    get_generator_class,
    train_default_generator,
)


def build_parser(name: str) -> argparse.ArgumentParser:
    """Argument parser of `examples/train_<name>.py`."""
    get_generator_class(name)
    spec = DEFAULT_HYPERPARAMETERS[name]
    parser = argparse.ArgumentParser(
        description=f"Train the {name} generator, save it, and judge its designs."
    )
    parser.add_argument("--data", default=None, help="CSV of alloys (default: the bundled 529).")
    parser.add_argument(
        "--composition-column", default="composition", help="column of formula strings."
    )
    parser.add_argument(
        "--properties", nargs="+", default=None, metavar="COLUMN",
        help="property columns to condition on (default: all but the composition column).",
    )
    parser.add_argument(
        "--elements", nargs="+", default=None, metavar="SYMBOL",
        help="element order (default: the 22 of the study for the bundled data; "
        "the elements the CSV contains otherwise).",
    )
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"training epochs (default {spec['epochs']}).")
    parser.add_argument("--surrogate-epochs", type=int, default=None,
                        help="surrogate training epochs (default: its own).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-per-condition", type=int, default=500,
                        help="designs generated per target condition.")
    parser.add_argument("--output", default=f"{name}.keras", help="where to save the model.")
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    return parser


def target_conditions(dataset, n: int = 3) -> np.ndarray:
    """`n` targets on the segment from the q10 to the q90 property vector (train split)."""
    low, high = dataset.percentile(10), dataset.percentile(90)
    t = np.linspace(0.0, 1.0, n)[:, None]
    return (low + t * (high - low)).astype("float32")


def judge(model, dataset, surrogate, conditions, n_per_condition: int, seed: int = 0) -> dict:
    """Generates designs and scores them against the targets.

    Returns:
        dict with `designs` (m, n, E), `surrogate` (m, n, P) predictions,
        `oracle` (m, n, P) or None, and `surrogate_mape` / `oracle_mape`
        (`metrics.MAPEResult` or None) and `cosine` (mean within-condition
        cosine similarity).
    """
    designs = model.generate(conditions, n_per_condition, seed=seed)
    m, n, e = designs.shape
    flat = designs.reshape(-1, e)
    predicted = np.asarray(surrogate.predict(flat, batch_size=8192, verbose=0)).reshape(m, n, -1)
    truth = None
    if tuple(dataset.elements) == tuple(ELEMENTS) and tuple(dataset.property_names) == (
        "shear_modulus",
        "fracture_toughness",
    ):
        from hea_zoo import oracle

        truth = oracle.properties(flat).reshape(m, n, -1)
    return {
        "designs": designs,
        "surrogate": predicted,
        "oracle": truth,
        "surrogate_mape": metrics.mape(predicted, conditions),
        "oracle_mape": None if truth is None else metrics.mape(truth, conditions),
        "cosine": metrics.within_condition_cosine_similarity(designs).mean,
    }


def main(name: str, argv: Sequence[str] | None = None) -> dict:
    """Runs `examples/train_<name>.py` with `argv`; returns what it printed as a dict."""
    args = build_parser(name).parse_args(argv)
    dataset = load_dataset(
        args.data,
        composition_column=args.composition_column,
        property_columns=args.properties,
        elements=args.elements,
    )
    print(
        f"data: {dataset.name}: {len(dataset.compositions)} alloys "
        f"({len(dataset.train.compositions)} train), {len(dataset.elements)} elements, "
        f"properties {list(dataset.property_names)}"
    )
    start = time.perf_counter()
    model = train_default_generator(
        name, dataset, epochs=args.epochs, seed=args.seed, verbose=args.verbose
    )
    seconds = time.perf_counter() - start
    output = Path(args.output)
    if output.suffix != ".keras":
        raise ValueError(f"--output must end in .keras. Received: {args.output}")
    output.parent.mkdir(parents=True, exist_ok=True)
    model.save(output)
    print(f"trained {name} in {seconds:.1f} s; saved to {output}")

    from hea_zoo.models.surrogate import train_default_surrogate

    surrogate = train_default_surrogate(dataset, epochs=args.surrogate_epochs, seed=args.seed)
    conditions = target_conditions(dataset)
    result = judge(model, dataset, surrogate, conditions, args.n_per_condition, seed=args.seed)

    units = dict(zip(dataset.property_names, dataset.property_units))
    for i, target in enumerate(conditions):
        described = ", ".join(
            f"{p}={v:.3g} {units[p]}".rstrip() for p, v in zip(dataset.property_names, target)
        )
        print(f"target {i + 1}: {described}")
        for judge_name in ("surrogate", "oracle"):
            achieved = result[judge_name]
            if achieved is None:
                continue
            mean = achieved[i].mean(axis=0)
            ape = 100 * np.abs(achieved[i] - target) / np.abs(target)
            print(
                f"  {judge_name:9s} mean achieved "
                + ", ".join(f"{v:.3g}" for v in mean)
                + f"; MAPE {ape.mean():.2f} %"
            )
        print("  e.g. " + "; ".join(to_formulas(result["designs"][i, :3], elements=dataset.elements)))
    print(f"surrogate-judged MAPE: {result['surrogate_mape'].mean:.2f} %")
    if result["oracle_mape"] is not None:
        print(f"oracle-judged MAPE:    {result['oracle_mape'].mean:.2f} %")
    else:
        print("oracle-judged MAPE:    n/a (the oracle covers the study's 22 elements only)")
    print(f"within-condition cosine similarity: {100 * result['cosine']:.2f} %")
    return {
        "model": str(output),
        "seconds": seconds,
        "surrogate_mape": result["surrogate_mape"].mean,
        "oracle_mape": None if result["oracle_mape"] is None else result["oracle_mape"].mean,
        "cosine": result["cosine"],
    }

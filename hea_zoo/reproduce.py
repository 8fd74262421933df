"""Reproduce the study's evaluation: train cAE, cVAE and WcGAN and the surrogate, run the
protocol, write a report folder.

Tung, Debnath & Reinhart, "Evaluating generative models for inverse design of
high-entropy refractory alloys": line (20 conditions), grid (5 × 5) and novelty
(100 training alloys) experiments with 2000 designs per condition; MAPE judged by the
surrogate (as the study) and by the physics oracle (ground truth); within-condition
cosine similarity; novelty; sample bar charts; latent interpolation.

Usage (``hea-zoo reproduce`` and ``examples/reproduce_paper.py`` run this module):

    python -m hea_zoo.reproduce                          # bundled data -> report/
    python -m hea_zoo.reproduce --output my_report --models cvae wcgan
    python -m hea_zoo.reproduce --quick                  # about a minute, a smoke test
    python -m hea_zoo.reproduce --data my.csv --composition-column formula \
        --properties shear_modulus fracture_toughness

Writes ``<output>/report.md`` (Tables 1 and 2 beside the study's numbers, plus hit
rates, validity, uniqueness, distance to the training set and the surrogate–oracle gap),
``<output>/metrics.json`` and ``<output>/figures/``. With ``--save-models`` the trained
models are saved there as ``.keras`` files too.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Sequence

from hea_zoo import experiments, load_dataset, report
from hea_zoo.models import GENERATORS, train_default_generator, train_default_surrogate


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None, help="CSV of alloys (default: the bundled 529).")
    parser.add_argument("--composition-column", default="composition")
    parser.add_argument("--properties", nargs="+", default=None, metavar="COLUMN")
    parser.add_argument("--elements", nargs="+", default=None, metavar="SYMBOL")
    parser.add_argument(
        "--models", nargs="+", default=list(GENERATORS), choices=sorted(GENERATORS),
        help="generators to train and compare (default: all).",
    )  # fmt: skip
    parser.add_argument("--epochs", type=int, default=None,
                        help="generator epochs (default: each model's measured default).")  # fmt: skip
    parser.add_argument("--surrogate-epochs", type=int, default=None)
    parser.add_argument("--n-per-condition", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="report", help="report folder.")
    parser.add_argument("--save-models", action="store_true", help="save the .keras models too.")
    parser.add_argument("--quick", action="store_true",
                        help="10 epochs, 100 designs per condition: a smoke test, not a result.")  # fmt: skip
    parser.add_argument("--verbose", type=int, default=0, choices=(0, 1, 2))
    return parser


def main(argv: Sequence[str] | None = None) -> Path:
    args = build_parser().parse_args(argv)
    began = time.perf_counter()
    if args.quick:
        args.epochs = args.epochs or 10
        args.surrogate_epochs = args.surrogate_epochs or 20
        args.n_per_condition = min(args.n_per_condition, 100)
    dataset = load_dataset(
        args.data,
        composition_column=args.composition_column,
        property_columns=args.properties,
        elements=args.elements,
    )
    print(f"data: {dataset!r}")
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    surrogate = train_default_surrogate(
        dataset, epochs=args.surrogate_epochs, seed=args.seed, verbose=args.verbose
    )
    scores = surrogate.score(dataset.test.compositions, dataset.test.properties)
    print(f"surrogate trained in {time.perf_counter() - start:.0f} s; held-out: {scores}")
    if args.save_models:
        surrogate.save(output / "surrogate.keras")

    evaluations, timings = {}, {}
    for name in args.models:
        start = time.perf_counter()
        model = train_default_generator(
            name, dataset, epochs=args.epochs, seed=args.seed, verbose=args.verbose
        )
        trained = time.perf_counter() - start
        if args.save_models:
            model.save(output / f"{name}.keras")
        start = time.perf_counter()
        evaluations[name] = experiments.evaluate_generator(
            model, dataset, surrogate, n_per_condition=args.n_per_condition, seed=args.seed,
            name=name,
        )  # fmt: skip
        timings[name] = (trained, time.perf_counter() - start)
        summary = evaluations[name].summary()
        oracle_mape = summary["mape_oracle"]
        print(
            f"{name}: trained {trained:.0f} s, evaluated {timings[name][1]:.0f} s; "
            f"MAPE surrogate {summary['mape_surrogate']:.2f} %"
            + ("" if oracle_mape is None else f", oracle {oracle_mape:.2f} %")
            + f"; cosine similarity {100 * summary['cosine_similarity']:.2f} %"
            + f"; novelty {100 * summary['novelty']:.2f} %"
        )

    notes = (
        f"Trained with `hea-zoo reproduce` / `examples/reproduce_paper.py` (seed {args.seed}; generator epochs "
        f"{args.epochs or 'default'}; surrogate epochs {args.surrogate_epochs or 'default'}). "
        + "Training / evaluation time: "
        + ", ".join(f"{n} {t:.0f} s / {e:.0f} s" for n, (t, e) in timings.items())
        + f". Total wall time including the surrogate: {time.perf_counter() - began:.0f} s"
        + " on this machine."
        + (" Quick run: a smoke test, not a result." if args.quick else "")
    )
    path = report.write_report(
        evaluations, output, dataset=dataset, surrogate_scores=scores, notes=notes,
        title="hea_zoo: the study's evaluation, reproduced",
    )  # fmt: skip
    print(f"report: {path}")
    print(f"total time: {time.perf_counter() - began:.0f} s")
    return path


if __name__ == "__main__":
    main()

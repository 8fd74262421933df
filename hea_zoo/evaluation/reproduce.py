"""Reproduce the study's evaluation: train cAE, cVAE and WcGAN and the surrogate, run the
protocol, write a report folder. The conditional flow, a generator beyond the study, runs
as a fourth row (marked so, with no study numbers beside it).

Tung, Debnath & Reinhart, "Evaluating generative models for inverse design of
high-entropy refractory alloys": line (20 conditions), grid (5 × 5) and novelty
(100 training alloys) experiments with 2000 designs per condition; MAPE judged by the
surrogate (as the study) and by the physics oracle (ground truth); within-condition
cosine similarity; novelty; sample bar charts; latent interpolation.

Run it as ``hea-zoo reproduce`` (or ``examples/reproduce_paper.py``, which calls the same
command), or from Python:

    >>> from hea_zoo.evaluation.reproduce import reproduce
    >>> reproduce(out="report")                                  # doctest: +SKIP
    >>> reproduce(hea_zoo.load_dataset("my.csv"), models=["cvae"], out="my_report")  # doctest: +SKIP

Writes ``<out>/report.md`` (Tables 1 and 2 beside the study's numbers, plus hit
rates, validity, uniqueness, distance to the training set and the surrogate–oracle gap),
``<out>/metrics.json`` and ``<out>/figures/``. With ``save_models`` the trained
models are saved there as ``.keras`` files too.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from hea_zoo.constants import GENERATOR_NAMES, short_label
from hea_zoo.data.datasets import load_dataset
from hea_zoo.evaluation import experiments, report
from hea_zoo.files import atomic_write
from hea_zoo.models import get_generator_class, train_default_generator, train_default_surrogate
from hea_zoo.progress import Steps


def reproduce(
    dataset=None,
    models: Sequence[str] = GENERATOR_NAMES,
    out: str | os.PathLike = "report",
    seed: int = 0,
    epochs: int | None = None,
    surrogate_epochs: int | None = None,
    n_per_condition: int = 2000,
    save_models: bool = False,
    quick: bool = False,
    verbose: int | str = "auto",
) -> Path:
    """Trains the generators and the surrogate on `dataset`, runs the protocol, writes a report.

    Args:
        dataset: a `hea_zoo.Dataset` (None: the bundled 529 alloys).
        models: generator names to train and compare.
        out: the report folder.
        seed: seed of training and of every experiment.
        epochs: generator epochs (None: each model's measured default).
        surrogate_epochs: surrogate epochs (None: its default).
        n_per_condition: designs per condition (2000, as the study).
        save_models: also save the trained models as ``<out>/<name>.keras``.
        quick: 10 epochs, 20 surrogate epochs, at most 100 designs per condition: a smoke
            test, not a result.
        verbose: ``"auto"``: a progress bar per training and timed steps on stderr; 0:
            silent (results only); 1 or 2: Keras's own training output.

    Returns:
        The path of ``report.md``.
    """
    began = time.perf_counter()
    steps = Steps(enabled=verbose != 0)
    for name in models:
        get_generator_class(name)  # fails with the valid names
    if quick:
        epochs = epochs or 10
        surrogate_epochs = surrogate_epochs or 20
        n_per_condition = min(n_per_condition, 100)
    if dataset is None:
        dataset = load_dataset()
    print(f"data: {dataset.name}: {len(dataset)} alloys, {len(dataset.elements)} elements, "
          f"properties {', '.join(dataset.property_names)}")  # fmt: skip
    output = Path(out)
    output.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    steps("surrogate: training")
    surrogate = train_default_surrogate(dataset, epochs=surrogate_epochs, seed=seed, verbose=verbose)
    scores = surrogate.score(dataset.test.compositions, dataset.test.properties)
    print(f"surrogate trained in {time.perf_counter() - start:.0f} s; held-out "
          + "; ".join(f"{short_label(k)}: R2 {v['r2']:.4f}, MAPE {v['mape']:.2f} %" for k, v in scores.items()))  # fmt: skip
    if save_models:
        atomic_write(output / "surrogate.keras", surrogate.save)

    evaluations, timings = {}, {}
    for name in models:
        start = time.perf_counter()
        steps(f"{name}: training")
        model = train_default_generator(name, dataset, epochs=epochs, seed=seed, verbose=verbose)
        trained = time.perf_counter() - start
        if save_models:
            atomic_write(output / f"{name}.keras", model.save)
        start = time.perf_counter()
        evaluations[name] = experiments.evaluate_generator(
            model, dataset, surrogate, n_per_condition=n_per_condition, seed=seed, name=name,
            progress=(lambda message, name=name: steps(f"{name}: {message}")) if steps.enabled else None,
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
        f"Trained with `hea-zoo reproduce` (seed {seed}; generator epochs "
        f"{epochs or 'default'}; surrogate epochs {surrogate_epochs or 'default'}). "
        + "Training / evaluation time: "
        + ", ".join(f"{n} {t:.0f} s / {e:.0f} s" for n, (t, e) in timings.items())
        + f". Total wall time including the surrogate: {time.perf_counter() - began:.0f} s"
        + " on this machine."
        + (" Quick run: a smoke test, not a result." if quick else "")
    )
    steps("writing the report and figures")
    path = report.write_report(
        evaluations, output, dataset=dataset, surrogate_scores=scores, notes=notes,
        title="hea_zoo: the study's evaluation, reproduced",
    )  # fmt: skip
    print(f"report: {path}")
    print(f"total time: {time.perf_counter() - began:.0f} s")
    return path

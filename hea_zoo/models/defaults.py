"""Every model's defaults and recipe, in one place: the measured default hyperparameters
(`DEFAULT_HYPERPARAMETERS` for the generators, `SURROGATE_DEFAULTS` for the surrogate), the
generator registry, and the recipes that build and train each model with them
(`build_default_generator`, `train_default_generator`, `train_default_surrogate`). The step
budget they train within is `hea_zoo.models.training`.

The defaults were chosen by measurement on the bundled dataset; the sweep and
its numbers are in docs/HYPERPARAMETERS.md. A model class's own constructor defaults are
the class's (a plain ``CVAE()``); the recipe's are these. Training settings (learning
rate, epochs, batch, budget) are given to `compile` and `fit` here, never to a model's
constructor: they are not part of a saved model's config.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from hea_zoo.errors import UsageError
from hea_zoo.constants import GENERATOR_NAMES
from hea_zoo.models import calibration, validation
from hea_zoo.models.base import ConditionalGenerator
from hea_zoo.models.cae import CAE
from hea_zoo.models.cvae import CVAE
from hea_zoo.models.flow.model import CFlow
from hea_zoo.models.surrogate.descriptors import resolve_descriptors
from hea_zoo.models.surrogate.model import Surrogate
from hea_zoo.models.surrogate.priors import auto_priors
from hea_zoo.models.training import STEPS_PER_EXECUTION, TrainingBudget, fit_with_budget
from hea_zoo.models.wcgan import WCGAN
from hea_zoo.progress import fit_arguments

GENERATORS: dict[str, type[ConditionalGenerator]] = dict(zip(GENERATOR_NAMES, (CAE, CVAE, WCGAN, CFlow)))
"""Generator classes by name."""

DEFAULT_HYPERPARAMETERS: dict[str, dict[str, Any]] = {
    "cae": {
        "model": {"latent_dim": 4, "hidden_units": (128, 128), "latent_noise": 0.1},
        "learning_rate": 1e-3,
        "epochs": 300,
        "batch_size": 32,
        "budget": TrainingBudget(
            max_steps=4500, large_max_steps=1500, max_batch_size=512, reference_rows=250
        ),
        "early_stopping": "val_loss",
    },
    "cvae": {
        "model": {
            "latent_dim": 8,
            "hidden_units": (128, 128),
            "beta": 0.1,
            "reconstruction": "crossentropy",
        },
        "learning_rate": 1e-3,
        "epochs": 300,
        "batch_size": 32,
        "budget": TrainingBudget(
            max_steps=4500, large_max_steps=1500, max_batch_size=512, reference_rows=250
        ),
        "early_stopping": "val_loss",
    },
    "wcgan": {
        "model": {
            "latent_dim": 8,
            "hidden_units": (128, 128),
            "critic_units": (128, 128),
            "clip_value": 0.05,
        },
        "learning_rate": None,  # the model's own default (RMSprop for weight clipping)
        "epochs": 300,
        "batch_size": 64,
        # Its two RMSprop optimizers keep their rate (weight clipping bounds the critic).
        "budget": TrainingBudget(
            max_steps=2100, large_max_steps=500, max_batch_size=256, reference_rows=250,
            lr_scaling=False,
        ),
        # The critic's loss does not measure sample quality: no early stopping.
        "early_stopping": None,
    },
    "flow": {
        "model": {
            "n_couplings": 2,
            "hidden_units": (32, 32),
            "presence_units": (128,),
            "noise_std": 0.5,
        },
        "learning_rate": 1e-3,
        "epochs": 150,
        "batch_size": 64,
        # On large tables: full batches, the learning rate scaled linearly with the batch,
        # fewer steps below 16,000 training rows (docs/HYPERPARAMETERS.md).
        "budget": TrainingBudget(
            max_steps=1200, large_max_steps=1000, large_steps_rows=16000, max_batch_size=512,
            reference_rows=250, lr_exponent=1.0, full_batches=True,
        ),
        # The held-out negative log-likelihood is the flow's own quality measure.
        "early_stopping": "val_loss",
    },
}
"""Per generator: constructor arguments, optimizer learning rate, epochs and batch size on a
small table, the step budget that bounds the cost on large ones
(`hea_zoo.models.training.TrainingBudget`) and the validation metric of early stopping."""


SURROGATE_DEFAULTS: dict[str, Any] = {
    "n_members": 5,
    "hidden_units": (128, 128),
    "learning_rate": 3e-3,
    "epochs": 400,
    "batch_size": 32,
    "budget": TrainingBudget(
        max_steps=6000, large_max_steps=2000, large_steps_rows=32000, max_batch_size=512,
        reference_rows=250, lr_patience=3,
    ),
    # Smooth members interpolate best between the few alloy families of a small table;
    # on large tables (more training rows than the budget's `early_stopping_rows`) ReLU
    # members resolve the oracle's sharp ductility thresholds (docs/HYPERPARAMETERS.md).
    "activation": "silu",
    "large_table_activation": "relu",
    # Small tables (fewer training alloys than "max_alloys"): these replace the values above
    # (docs/MPEA.md, "Small tables": measured against a random forest on MPEA). 400 takes in
    # every MPEA property (hardness: about 300 training alloys) and leaves the bundled
    # table (423) to the large recipe.
    # The kernel reads the element descriptors too, with weights it chooses by leave-one-out
    # error, and per property the Gaussian or the Laplacian kernel, by the same error
    # (docs/MPEA.md, "Small tables"). The kernel is the mean of that regression and the one
    # of greatest marginal likelihood at the same weights (docs/MPEA.md, "Two criteria").
    # A density or an elastic modulus is learnt as its ratio to the rule-of-mixtures
    # density or the Reuss average of the elements' moduli (`physical_priors`;
    # hea_zoo.models.surrogate.priors; docs/MPEA.md, "Physical priors").
    # Every fit of a small table streams from one input pipeline (`stream_rows` replaces the
    # budget's): a table of a few hundred alloys can hold more rows than the budget's 256
    # when a setting repeats alloys (yield strength at every test temperature: 456 training
    # rows), and a new iterator per epoch then doubled its training time (docs/MPEA.md,
    # "Training time"). The bundled table keeps the budget's.
    "small_table": {"max_alloys": 400, "output_margin": 0.0, "hidden_units": (64, 64), "weight_decay": 0.1,
                    "kernel_weight": 1.0, "kernel_descriptors": True, "kernel_laplacian": True,
                    "kernel_evidence": True, "physical_priors": True, "stream_rows": 2000},
}
"""The surrogate's: ensemble size and member widths, the Adam learning rate, epochs and
batch on a small table, the step budget, and the members' activation on small and large
tables (docs/HYPERPARAMETERS.md)."""


def get_generator_class(name: str) -> type[ConditionalGenerator]:
    """The generator class registered under `name` ("cae", "cvae", "wcgan" or "flow").

    Raises:
        ValueError: unknown name (the message lists the valid ones).
    """
    key = str(name).lower()
    if key not in GENERATORS:
        raise UsageError(
            f"Unknown generator {name!r}. Valid names: {sorted(GENERATORS)}",
            field="name",
        )
    return GENERATORS[key]


def build_default_generator(
    name: str, dataset=None, seed: int = 0, steps_per_execution: int = 1, **overrides
) -> ConditionalGenerator:
    """A compiled generator with the default hyperparameters (not adapted, not trained).

    Args:
        name: "cae", "cvae", "wcgan" or "flow".
        dataset: a `hea_zoo.Dataset`; its element list and property names and
            units configure the model (None: the study's 22 elements).
        seed: model seed.
        steps_per_execution: passed to `compile` (keep 1 under a `tf.distribute`
            strategy: the replicas' all-reduces do not run inside Keras' multi-step loop).
        **overrides: constructor arguments replacing the defaults.
    """
    cls = get_generator_class(name)
    spec = DEFAULT_HYPERPARAMETERS[name.lower()]
    kwargs = dict(spec["model"])
    if dataset is not None:
        kwargs.update(
            elements=tuple(dataset.elements),
            condition_names=tuple(getattr(dataset, "condition_names", dataset.property_names)),
            condition_units=tuple(getattr(dataset, "condition_units", dataset.property_units)),
            data_fingerprint=getattr(dataset, "source_fingerprint", None),
        )
        if getattr(dataset, "setting_names", ()):
            kwargs["setting_names"] = tuple(dataset.setting_names)
    kwargs.update(overrides)
    model = cls(seed=seed, **kwargs)
    lr = spec["learning_rate"]
    if isinstance(model, WCGAN) or lr is None:
        model.compile(steps_per_execution=steps_per_execution)  # the model's own optimizer(s)
    else:
        model.compile(optimizer=keras.optimizers.Adam(lr), steps_per_execution=steps_per_execution)
    return model


def train_default_generator(
    name: str,
    dataset,
    epochs: int | None = None,
    seed: int = 0,
    verbose: int | str = "auto",
    budget: TrainingBudget | None = None,
) -> ConditionalGenerator:
    """Trains a generator with the measured defaults on `dataset.train`.

    The generator is conditioned on the dataset's properties then its settings
    (`Dataset.conditions`: e.g. yield strength and the test temperature), and trains on the
    rows that have every property (in a sparse table, the complete rows).

    Builds the default model, adapts it on the training split, then fits within the
    model's step budget (`DEFAULT_HYPERPARAMETERS[name]["budget"]`, see
    `hea_zoo.models.training`): on the bundled table that is the measured epochs and
    batch; on large tables the batch grows, the steps are capped and training stops
    early on a validation split.

    Args:
        name: "cae", "cvae", "wcgan" or "flow".
        dataset: a `hea_zoo.Dataset` (its train split is used).
        epochs: maximum number of epochs, an integer >= 1 (None: the default for that
            model).
        seed: seed of weights initialization and training noise.
        verbose: ``"auto"``: one progress bar and a summary on stderr
            (`hea_zoo.progress.TrainingProgress`); 0: silent; 1 or 2: Keras's own output.
        budget: the step budget (None: the model's default).

    Returns:
        The trained generator; `model.training_seconds` holds the adapt + fit time.

    Example:

    ```python
    ds = hea_zoo.load_dataset()
    model = hea_zoo.models.train_default_generator("cvae", ds)
    ```
    """
    get_generator_class(name)  # fails with the valid names
    dataset.check_learnable()
    spec = DEFAULT_HYPERPARAMETERS[name.lower()]
    epochs = spec["epochs"] if epochs is None else validation.check_epochs(epochs)
    keras.utils.set_random_seed(seed)
    model = build_default_generator(
        name, dataset, seed=seed, steps_per_execution=STEPS_PER_EXECUTION
    )
    train = dataset.train
    # Generators are conditioned on the properties and the settings (`Dataset.conditions`),
    # and learn from the rows that have every property (a condition cannot be missing).
    conditions = train.conditions if getattr(train, "setting_names", ()) else train.properties
    complete = np.all(np.isfinite(conditions), axis=1)
    x, c = model.check_pair(train.compositions[complete], conditions[complete], "training data")
    model.training_rows = int(complete.sum())
    start = time.perf_counter()
    model.adapt(x, c)
    fit_with_budget(
        model,
        x,
        c,
        epochs=epochs,
        batch_size=spec["batch_size"],
        budget=spec["budget"] if budget is None else budget,
        monitor=spec["early_stopping"],
        seed=seed,
        **fit_arguments(verbose, name.lower()),
    )
    model.training_seconds = time.perf_counter() - start
    return model


def surrogate_recipe(dataset) -> dict[str, Any]:
    """`SURROGATE_DEFAULTS` as `train_default_surrogate` applies them to `dataset`: with the
    ``"small_table"`` values in place when its training split has fewer distinct alloys
    (composition groups) than their ``"max_alloys"``. The result's ``"small_table"`` entry
    says which recipe it is (True or False)."""
    small = dict(SURROGATE_DEFAULTS.get("small_table") or {})
    train = dataset.train
    n_train_alloys = len(np.unique(train.groups)) if getattr(train, "groups", None) is not None else len(train)
    if n_train_alloys >= small.pop("max_alloys", 0):
        return {**SURROGATE_DEFAULTS, "small_table": False}
    return {**SURROGATE_DEFAULTS, **small, "small_table": True}


def train_default_surrogate(
    dataset,
    epochs: int | None = None,
    seed: int = 0,
    verbose: int | str = "auto",
    budget: TrainingBudget | None = None,
    coverage: float = calibration.DEFAULT_COVERAGE,
    calibration_fraction: float = calibration.CALIBRATION_FRACTION,
    calibration_folds: int | None = None,
    descriptors: Sequence[str] | str = "auto",
    distance_intervals: bool = True,
) -> Surrogate:
    """Train the default ensemble on `dataset.train` and calibrate its intervals.

    How the intervals are calibrated depends on the number of distinct training alloys
    (composition groups; `hea_zoo.models.calibration`):

    - at least `calibration.CROSS_CONFORMAL_MAX_ALLOYS` (250): a share
      `calibration_fraction` of them (whole groups, seeded by `seed`) is kept out of
      training and calibrates the intervals (split conformal, `Surrogate.calibrate`); the
      ensemble trains on the rest (with the small-table recipe, its kernel ridge
      regression, which gives the mean, then refits on all of them);
    - fewer: K-fold cross-conformal (K = `calibration.CROSS_CONFORMAL_FOLDS`, 5): K
      ensembles, each trained on all folds but one, predict the alloys of the fold they
      did not see; the intervals are fitted on those out-of-fold predictions of every
      training alloy, with each ensemble's spread measured in units of its median spread
      on its own training alloys; the returned ensemble trains on all of them, and its
      interval uses its own spread in the same units (K + 1 trainings).

    With `distance_intervals` (default) the model keeps the compositions its ensemble
    trained on (`Surrogate.distance_rows`) and its intervals also widen with an alloy's
    distance to the nearest of them, as fast as the calibration alloys' errors say
    (`calibration.fit_intervals`). A random calibration split holds few alloys far from
    the training alloys, so a split-calibrated model also trains
    `calibration.DISTANCE_FOLDS` (3) ensembles, each without one k-means cluster of the
    training compositions and for a quarter of the epochs, whose errors on their cluster
    inform the exponents (not the scale: the calibration split alone sets it). Cross-conformal folds already give every
    training alloy an out-of-fold distance.

    When there are too few alloys for either (a calibration set smaller than
    ``min_calibration_size(coverage)``), the model trains on all of them and stays
    uncalibrated, with a warning.

    On the training rows it adapts the target standardization, then fits within the
    default step budget (`SURROGATE_DEFAULTS["budget"]`, see
    `hea_zoo.models.training.TrainingBudget`): the batch grows with the table, the number
    of epochs is capped by a number of optimizer steps, and on large tables training
    stops early on a validation split with the best weights restored. The members' activation is
    `SURROGATE_DEFAULTS["activation"]`, or `"large_table_activation"` on tables of more than
    the budget's `early_stopping_rows` training rows.

    Args:
        dataset: a `hea_zoo.Dataset` (its elements, properties, units and groups).
        epochs: maximum number of epochs (default `SURROGATE_DEFAULTS["epochs"]`); an
            integer >= 1.
        seed: ensemble and calibration-split seed.
        verbose: ``"auto"``: one progress bar and a summary on stderr
            (`hea_zoo.progress.TrainingProgress`); 0: silent; 1 or 2: Keras's own output.
        budget: the step budget (default `SURROGATE_DEFAULTS["budget"]`; on a small table
            with the recipe's ``"stream_rows"``).
        coverage: nominal coverage of the intervals.
        calibration_fraction: share of training alloys used for a calibration split (0:
            no calibration at all).
        calibration_folds: None (default): cross-conformal folds on small tables, a split
            otherwise (above); 0: always a split; K >= 2: always K-fold cross-conformal.
        descriptors: the members' element descriptors (`Surrogate`; ``"auto"``: the
            valence-electron count and atomic radius when the element table covers the
            dataset's elements, fractions only otherwise).
        distance_intervals: intervals that widen with the distance to the training alloys
            (above); False: the intervals of hea_zoo 0.2 (spread only).

    Sparse tables (NaN where a row lacks a property) train on every row with the masked
    loss (`Surrogate.compute_losses`), and each property is calibrated on the rows that
    have it; `model.property_counts` records, per property, the training alloys that
    taught it. The dataset's settings (`Dataset.setting_names`) are inputs of the model.
    Properties that cannot be negative (`calibration.nonnegative_properties`) have their
    predictions and interval ends clipped at 0.

    Returns:
        The trained surrogate; `model.training_seconds` holds the training time
        (calibration included).
    """
    user_epochs = epochs
    epochs = SURROGATE_DEFAULTS["epochs"] if epochs is None else validation.check_epochs(epochs)
    coverage = calibration._check_coverage(coverage)
    calibration_fraction = validation.nonnegative_number(calibration_fraction, "calibration_fraction")
    if calibration_fraction >= 1.0:
        raise UsageError(
            "must be in [0, 1) (the rest trains the ensemble). "
            f"Received: calibration_fraction={calibration_fraction!r}",
            field="calibration_fraction",
        )
    if calibration_folds is not None:
        calibration_folds = validation.nonnegative_int(calibration_folds, "calibration_folds")
        if calibration_folds == 1:
            raise UsageError(
                "must be 0 (a calibration split) or >= 2. Received: calibration_folds=1",
                field="calibration_folds",
            )
    dataset.check_learnable()
    train = dataset.train
    finite = dataset.properties[np.isfinite(dataset.properties)]
    setting_names = tuple(getattr(dataset, "setting_names", ()) or ())
    recipe = surrogate_recipe(dataset)
    if budget is None:
        budget = SURROGATE_DEFAULTS["budget"]
        if recipe.get("stream_rows") is not None:
            budget = dataclasses.replace(budget, stream_rows=recipe["stream_rows"])
    if user_epochs is None:
        epochs = recipe["epochs"]
    settings = {
        "n_members": recipe["n_members"],
        "hidden_units": recipe["hidden_units"],
        "activation": SURROGATE_DEFAULTS[
            "large_table_activation" if len(train) > budget.early_stopping_rows else "activation"
        ],
        "log_targets": bool(np.all(finite > 0)),
        "nonnegative": calibration.nonnegative_properties(
            dataset.property_names, dataset.property_units, train.properties
        ),
        "settings": setting_names,
        "setting_units": tuple(getattr(dataset, "setting_units", ()) or ()),
        "output_margin": recipe.get("output_margin"),
        "kernel_rows": len(train) if recipe.get("kernel_weight") else 0,
        "kernel_weight": recipe.get("kernel_weight") or 0.5,
        "kernel_descriptors": bool(recipe.get("kernel_descriptors")),
        "kernel_laplacian": bool(recipe.get("kernel_laplacian")),
        "kernel_evidence": bool(recipe.get("kernel_evidence")),
        "priors": (auto_priors(dataset.property_names, dataset.property_units, dataset.elements)
                   if recipe.get("physical_priors") else None),  # fmt: skip
        "elements": dataset.elements,
        "property_names": dataset.property_names,
        "property_units": dataset.property_units,
        "seed": seed,
        "data_fingerprint": getattr(dataset, "source_fingerprint", None),
        "coverage": coverage,
        "descriptors": resolve_descriptors(descriptors, dataset.elements),
    }
    fit = {"epochs": epochs, "budget": budget, "seed": seed, "learning_rate": recipe["learning_rate"],
           "weight_decay": recipe.get("weight_decay")}  # fmt: skip
    keras.utils.set_random_seed(seed)
    model = Surrogate(**settings)
    x, y = model.check_data(train.compositions, train.properties,
                            settings=train.settings if setting_names else None)  # fmt: skip
    groups = getattr(train, "groups", None)
    groups = np.arange(len(x)) if groups is None else np.asarray(groups)
    # In a sparse table each property is calibrated on the alloys that have it: the
    # scarcest property decides whether there are enough.
    n_groups = min(len(np.unique(groups[np.isfinite(y[:, j])])) for j in range(y.shape[1]))
    needed = calibration.min_calibration_size(coverage)
    folds = 0
    if calibration_fraction > 0:
        folds = calibration_folds
        if folds is None:
            small = n_groups < calibration.CROSS_CONFORMAL_MAX_ALLOYS
            folds = calibration.CROSS_CONFORMAL_FOLDS if small else 0
        n_cal = n_groups if folds else int(round(n_groups * calibration_fraction))
        if n_cal < needed or n_groups < max(folds, 2):
            warnings.warn(
                f"{n_groups} training alloys leave {n_cal} for calibration; a "
                f"{coverage:.0%} interval needs {needed}. "
                "The surrogate is not calibrated (no intervals).",
                stacklevel=2,
            )
            calibration_fraction, folds = 0.0, 0
    if calibration_fraction > 0 and not folds:
        from hea_zoo.data.datasets import group_split

        fit_index, cal_index = group_split(groups, calibration_fraction, seed + 1)
    if calibration_fraction > 0 and distance_intervals:
        # The kept ensemble's training compositions (distinct), from which its intervals
        # widen with distance (`Surrogate.distance_rows`, `hea_zoo.models.calibration`).
        kept = x[np.arange(len(x)) if folds else fit_index, : len(model.elements)]
        kept = np.unique(kept, axis=0)
        keras.utils.set_random_seed(seed)
        model = Surrogate(**settings, distance_rows=len(kept))
        model.set_distance_rows(kept)
    start = time.perf_counter()
    if calibration_fraction > 0 and folds:
        from hea_zoo.data.datasets import group_folds

        fold = group_folds(groups, folds, seed + 1)
        mean, spread, distance, initial = _out_of_fold(model, x, y, fold, folds, verbose, "surrogate, calibration fold", fit)
        _fit_surrogate(model, x, y, verbose, "surrogate", initial=initial, **fit)
        relative = calibration.fit_intervals(y, mean, spread, coverage, distance if model.distance_rows else None)
        model.set_intervals(calibration.in_units_of(relative, _spread_unit(model, x)), coverage, len(x), folds)
    else:
        if calibration_fraction <= 0:
            fit_index, cal_index = np.arange(len(x)), np.arange(0)
        far = None
        if len(cal_index) and model.distance_rows and calibration.DISTANCE_FOLDS:
            far = _far_rows(model, x[fit_index], y[fit_index], verbose, seed, fit)
        _fit_surrogate(model, x[fit_index], y[fit_index], verbose, "surrogate",
                       initial=model.get_weights() if far is not None else None, **fit)  # fmt: skip
        if len(cal_index):
            n_el = len(model.elements)
            if far is not None:  # the fold ensembles' spreads, on the kept ensemble's scale
                far = (far[0], far[1], far[2] * _spread_unit(model, x[fit_index]), far[3])
            model.calibrate(x[cal_index, :n_el], y[cal_index],
                            settings=x[cal_index, n_el:] if setting_names else None, far=far)  # fmt: skip
            if model.kernel_rows:
                # The kernel (the mean, in the small-table recipe) refits in closed form on
                # every training alloy, the calibration alloys included (docs/MPEA.md,
                # "Small tables"); the members and the calibrated intervals stay.
                model.kernel_choice = model.fit_kernel(x, y)
    model.training_seconds = time.perf_counter() - start
    model.property_counts = {
        name: int(len(np.unique(groups[np.isfinite(y[:, j])]))) for j, name in enumerate(model.property_names)
    }
    return model


def _members_moments(model: Surrogate, x) -> tuple[np.ndarray, np.ndarray]:
    """Ensemble mean (bounded as the model's predictions are) and spread, computed eagerly
    (a compiled function per fold model would be retraced, and warned about, each time)."""
    members = keras.ops.convert_to_numpy(model.member_outputs(x)).astype(np.float64)
    mean = keras.ops.convert_to_numpy(model._bound(members.mean(axis=0))).astype(np.float64)
    return mean, members.std(axis=0)


def _far_rows(model: Surrogate, x, y, verbose, seed: int, fit: dict) -> tuple:
    """``(y, mean, relative spread, distance)`` of every row of (x, y), predicted by an
    ensemble trained without its cluster of compositions (`calibration.DISTANCE_FOLDS`
    k-means clusters, `composition_clusters`): alloys farther from the training alloys than
    a random calibration split holds, which show how fast the error grows with distance.
    Spreads are in units of each fold ensemble's median spread on its own training rows.
    The K trainings share `model` (one traced step); `model` is left trained on the last
    fold: the caller starts it over from the weights it had."""
    from hea_zoo.data.datasets import composition_clusters

    cluster = composition_clusters(x[:, : len(model.elements)], calibration.DISTANCE_FOLDS, seed + 2)
    fit = dict(fit, epochs=max(1, int(round(fit["epochs"] * calibration.DISTANCE_FOLD_EPOCHS))))
    mean, spread, distance, initial = _out_of_fold(model, x, y, cluster, calibration.DISTANCE_FOLDS, verbose,
                                                   "surrogate, distance fold", fit)  # fmt: skip
    model.set_weights(initial)
    return y, mean, spread, distance


def _out_of_fold(model: Surrogate, x, y, fold: np.ndarray, n_folds: int, verbose, label: str, fit: dict) -> tuple:
    """``(mean, relative spread, distance, initial weights)``: each row predicted by an
    ensemble trained on the other folds, its spread in units of that ensemble's median
    spread on its own training rows, its distance to the nearest of them
    (`calibration.nearest_distances`).

    The K trainings start from the same initial weights (returned); one model object runs
    them all, so its training step is traced once (tracing is most of a small table's
    training time), and each starts over from them. `model` is left trained on the last fold.
    """
    n_el = len(model.elements)
    mean, spread = np.full(y.shape, np.nan), np.full(y.shape, np.nan)
    distance = np.zeros(len(x))
    initial = model.get_weights()
    for k in range(n_folds):
        held = fold == k
        _fit_surrogate(model, x[~held], y[~held], verbose, f"{label} {k + 1}/{n_folds}",
                       initial=initial if k else None, **fit)  # fmt: skip
        mean[held], std = _members_moments(model, x[held])
        spread[held] = std / _spread_unit(model, x[~held])
        distance[held] = calibration.nearest_distances(x[held, :n_el], x[~held, :n_el])
    return mean, spread, distance, initial


def _spread_unit(model: Surrogate, x) -> np.ndarray:
    """(P,) the median ensemble spread of `model` on its own training rows `x`: the unit in
    which cross-conformal calibration measures spreads (`hea_zoo.models.calibration`)."""
    return np.maximum(np.median(_members_moments(model, x)[1], axis=0), 1e-12)


def _fit_surrogate(model: Surrogate, x, y, verbose, label: str, epochs: int, budget: TrainingBudget, seed: int,
                   learning_rate: float = SURROGATE_DEFAULTS["learning_rate"], weight_decay: float | None = None,
                   initial: list | None = None) -> None:  # fmt: skip
    """Adapts, compiles and fits `model` on (x, y) with the default batch within `budget`.

    `initial`: the weights of a model that was already fitted once; it starts over from
    them with its optimizer's state zeroed, keeping its compiled (traced) training step.
    """
    from hea_zoo.progress import fit_arguments

    if initial is not None and model.optimizer is not None:
        model.set_weights(initial)
        for variable in model.optimizer.variables:
            variable.assign(keras.ops.zeros_like(variable))
        model.optimizer.learning_rate = learning_rate
        model.adapt(x, y)
        model.kernel_choice = None
    else:
        model.adapt(x, y)
        model.kernel_choice = None
        optimizer = (keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay) if weight_decay
                     else keras.optimizers.Adam(learning_rate))  # fmt: skip
        model.compile(optimizer=optimizer, steps_per_execution=STEPS_PER_EXECUTION)
    fit_with_budget(
        model,
        x,
        y,
        epochs=epochs,
        batch_size=SURROGATE_DEFAULTS["batch_size"],
        budget=budget,
        monitor="val_loss",
        seed=seed,
        **fit_arguments(verbose, label),
    )
    if model.kernel_rows:  # the small-table recipe: a kernel ridge regression joins the members
        model.kernel_choice = model.fit_kernel(x, y)

"""Generator registry and the measured default hyperparameters.

The defaults were chosen by measurement on the bundled dataset; the sweep and
its numbers are in docs/HYPERPARAMETERS.md.
"""

from __future__ import annotations

import time
from typing import Any

import keras

from hea_zoo.constants import GENERATOR_NAMES
from hea_zoo.models import validation
from hea_zoo.models.base import ConditionalGenerator
from hea_zoo.models.cae import CAE
from hea_zoo.models.cvae import CVAE
from hea_zoo.models.flow import CFlow
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


def get_generator_class(name: str) -> type[ConditionalGenerator]:
    """The generator class registered under `name` ("cae", "cvae", "wcgan" or "flow").

    Raises:
        ValueError: unknown name (the message lists the valid ones).
    """
    key = str(name).lower()
    if key not in GENERATORS:
        raise ValueError(
            f"Unknown generator {name!r}. Valid names: {sorted(GENERATORS)}"
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
            condition_names=tuple(dataset.property_names),
            condition_units=tuple(dataset.property_units),
            data_fingerprint=getattr(dataset, "source_fingerprint", None),
        )
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
    spec = DEFAULT_HYPERPARAMETERS[name.lower()]
    epochs = spec["epochs"] if epochs is None else validation.check_epochs(epochs)
    keras.utils.set_random_seed(seed)
    model = build_default_generator(
        name, dataset, seed=seed, steps_per_execution=STEPS_PER_EXECUTION
    )
    train = dataset.train
    x, c = model.check_pair(train.compositions, train.properties, "training data")
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

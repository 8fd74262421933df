"""Training cost bounded by a step budget, not by the size of the table.

The default trainings (`train_default_generator`, `train_default_surrogate`) fit through
`fit_with_budget`, which turns a model's measured small-table settings (epochs, batch
size) into settings that also hold on large tables:

- the batch grows with the table: `base * sqrt(rows / reference_rows)`, rounded down to
  a power of two, between the model's base batch and `max_batch_size`, and with it the
  learning rate, by `sqrt(batch / base)` (`lr_scaling`; `lr_exponent` 1 scales it
  linearly, as the flow does);
- the number of epochs is capped so that the optimizer takes at most `max_steps` steps,
  or `large_max_steps` on tables of more than `early_stopping_rows` training rows (at
  least one epoch); with `large_steps_rows` set, a large table of fewer rows than that
  gets `large_max_steps * sqrt(rows / large_steps_rows)` steps, at least half of
  `large_max_steps` (a smaller table stops improving sooner);
- on tables of more than `early_stopping_rows` training rows, a seeded
  `validation_fraction` of them is held out; the learning rate is multiplied by
  `lr_factor` when the monitored validation loss has not improved for `lr_patience`
  epochs, and training stops when it has not improved for `patience` epochs, restoring
  the best weights; these tables stream from one `tf.data` pipeline for the whole fit
  (a seeded permutation per epoch, epochs of whole compiled executions), so short epochs
  do not pay for a new iterator each (with `full_batches`, every batch is full: static
  shapes, cheaper steps), and their validation losses come from one compiled
  call per epoch on the held-out tensors (`HeldOutLosses`), not from a Keras evaluation
  loop per epoch;
- during the fit, Python's garbage collector skips the objects that existed before it
  (`gc.freeze`, undone at the end): tracing the step functions otherwise triggers full
  collections over every TensorFlow object of the process.

Tables of at most `stream_rows` training rows (256) stream from the same kind of pipeline,
without a validation split: their epochs are a few steps each, and a new iterator per epoch
cost more than the steps (the surrogate on 93 MPEA alloys took 18.7 s, and under a
profiler 24 ms of each 52 ms epoch went to making iterators; from one pipeline, 2.6 s;
docs/HYPERPARAMETERS.md); the optimizer takes the steps of the same number of whole
shuffled passes, rounded up to whole compiled executions of `steps_per_execution` steps.
The surrogate's small-table recipe raises `stream_rows` to 2,000 (`SURROGATE_DEFAULTS`):
a table of a few hundred alloys measured at several test temperatures holds more rows
than 256, and MPEA's yield strength (456 training rows) trained in 28 s on arrays and in
13 s streamed (docs/MPEA.md, "Training time").

On the bundled 529-alloy table (423 training rows) none of this changes the measured
defaults: the base batch, all epochs, no validation split, the arrays passed to `fit`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import math

import keras
import numpy as np

from hea_zoo.errors import UsageError
from hea_zoo.models import validation

__all__ = ["STEPS_PER_EXECUTION", "HeldOutLosses", "TrainingBudget", "fit_with_budget"]

STEPS_PER_EXECUTION = 16
"""Training steps per call of the compiled step function in the default trainings (the
same steps in the same order, with less per-step overhead). Not under a `tf.distribute`
strategy: the replicas' all-reduces fail inside Keras' multi-step loop (TensorFlow 2.21)."""


@dataclasses.dataclass(frozen=True)
class TrainingBudget:
    """How a default training bounds its cost (see the module docstring).

    Attributes:
        max_steps: most optimizer steps of one training (at least one epoch runs).
        large_max_steps: most optimizer steps on a table of more than
            `early_stopping_rows` training rows (None: `max_steps`).
        large_steps_rows: training rows from which a large table gets all of
            `large_max_steps` (None: every large table does); fewer rows get
            `large_max_steps * sqrt(rows / large_steps_rows)`, at least half.
        max_batch_size: the largest batch the growth rule gives.
        reference_rows: table size up to which the base batch is kept.
        early_stopping_rows: tables with more training rows hold out a validation split
            and stop early.
        validation_fraction: share of the training rows held out for early stopping.
        patience: epochs without improvement of the validation loss before stopping.
        lr_factor: factor of the learning rate on a plateau of the validation loss.
        lr_patience: epochs without improvement before the learning rate is reduced.
        lr_scaling: scale the learning rate by `(batch / base) ** lr_exponent` when the
            batch grows.
        lr_exponent: exponent of that scaling (0.5: the square root; 1: linear).
        full_batches: on large tables, every batch holds `batch` rows (each pass over the
            shuffled rows drops its last partial batch, different rows each pass): the step
            function then has static shapes, which makes its steps cheaper.
        stream_rows: tables of at most this many training rows also stream from one
            `tf.data` pipeline (module text; 0: never).
    """

    max_steps: int = 6000
    large_max_steps: int | None = None
    large_steps_rows: int | None = None
    max_batch_size: int = 256
    reference_rows: int = 1000
    early_stopping_rows: int = 2000
    validation_fraction: float = 0.1
    patience: int = 5
    lr_factor: float = 0.3
    lr_patience: int = 2
    lr_scaling: bool = True
    lr_exponent: float = 0.5
    full_batches: bool = False
    stream_rows: int = 256

    def __post_init__(self):
        validation.positive_int(self.max_steps, "max_steps")
        if self.large_max_steps is not None:
            validation.positive_int(self.large_max_steps, "large_max_steps")
        if self.large_steps_rows is not None:
            validation.positive_int(self.large_steps_rows, "large_steps_rows")
        validation.positive_int(self.max_batch_size, "max_batch_size")
        validation.positive_int(self.reference_rows, "reference_rows")
        validation.positive_int(self.early_stopping_rows, "early_stopping_rows")
        validation.positive_int(self.patience, "patience")
        validation.positive_int(self.lr_patience, "lr_patience")
        validation.nonnegative_int(self.stream_rows, "stream_rows")
        if not 0.0 < self.lr_factor <= 1.0:
            raise UsageError(f"must be in (0, 1]. Received: lr_factor={self.lr_factor!r}", field="lr_factor")
        if isinstance(self.lr_exponent, bool) or not (
            isinstance(self.lr_exponent, (int, float)) and 0.0 <= self.lr_exponent <= 1.0
        ):
            raise UsageError(
                f"must be in [0, 1]. Received: lr_exponent={self.lr_exponent!r}",
                field="lr_exponent",
            )
        if not 0.0 < self.validation_fraction < 0.5:
            raise UsageError(
                "must be in (0, 0.5). "
                f"Received: validation_fraction={self.validation_fraction!r}",
                field="validation_fraction",
            )

    def batch_size(self, n_rows: int, base: int) -> int:
        """The batch for a table of `n_rows` training rows, from the model's base batch."""
        base = validation.positive_int(base, "batch_size")
        grown = base * math.sqrt(max(n_rows, 1) / self.reference_rows)
        grown = 2 ** math.floor(math.log2(max(grown, 1.0)))
        return int(min(max(grown, base), max(self.max_batch_size, base)))

    def is_large(self, n_rows: int) -> bool:
        """True for a table of more than `early_stopping_rows` training rows."""
        return n_rows > self.early_stopping_rows

    def epochs(
        self, n_rows: int, batch_size: int, epochs: int, large: bool = False, steps_per_epoch: int | None = None
    ) -> int:
        """`epochs`, capped so that the optimizer takes at most `max_steps` steps
        (`large_max_steps` if `large`); an epoch is `ceil(n_rows / batch_size)` steps unless
        `steps_per_epoch` says otherwise."""
        steps = self.max_steps
        if large and self.large_max_steps is not None:
            steps = self.large_max_steps
            if self.large_steps_rows is not None:
                share = min(1.0, max(0.5, math.sqrt(n_rows / self.large_steps_rows)))
                steps = int(steps * share)
        steps_per_epoch = steps_per_epoch or math.ceil(n_rows / batch_size)
        return int(max(1, min(epochs, steps // steps_per_epoch)))


def fit_with_budget(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    batch_size: int,
    budget: TrainingBudget,
    monitor: str | None = "val_loss",
    seed: int = 0,
    verbose: int = 0,
    callbacks: list | None = None,
) -> keras.callbacks.History:
    """`model.fit(x, y)` within `budget` (the model adapted and compiled).

    Args:
        model: an adapted, compiled hea_zoo model.
        x, y: the training arrays (compositions and conditions or properties).
        epochs: the model's epochs on a small table (an upper bound here).
        batch_size: the model's base batch.
        budget: the `TrainingBudget`.
        monitor: validation metric for early stopping on large tables (None: never
            hold out, never stop early).
        seed: seed of the validation split.
        verbose: Keras verbosity.
        callbacks: more Keras callbacks.

    Returns:
        The Keras `History`; `model.training_plan` records the batch, epoch cap and
        validation rows used.
    """
    epochs = validation.check_epochs(epochs)
    n = len(x)
    large = budget.is_large(n)
    batch = budget.batch_size(n, batch_size)
    if budget.lr_scaling and batch > batch_size:
        factor = (batch / batch_size) ** budget.lr_exponent
        for optimizer in model.optimizers():
            optimizer.learning_rate = float(optimizer.learning_rate) * factor
    callbacks = list(callbacks or [])
    validation_data = None
    n_validation = 0
    if monitor is not None and large:
        order = np.random.default_rng(seed).permutation(n)
        n_validation = int(round(budget.validation_fraction * n))
        held, kept = np.sort(order[:n_validation]), np.sort(order[n_validation:])
        validation_data = (x[held], y[held])
        x, y = x[kept], y[kept]
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=monitor, patience=budget.patience, restore_best_weights=True
            )
        )
        if budget.lr_factor < 1.0:
            callbacks.append(
                keras.callbacks.ReduceLROnPlateau(
                    monitor=monitor, factor=budget.lr_factor, patience=budget.lr_patience
                )
            )
    if validation_data is not None and model.distribute_strategy.num_replicas_in_sync == 1:
        # First, so early stopping, the plateau rule and the progress line see its logs.
        callbacks.insert(0, HeldOutLosses(*validation_data))
        validation_data = None
    steps_per_epoch = None
    streamed = large or len(x) <= budget.stream_rows
    if streamed:
        # A whole number of compiled executions per epoch: Keras runs `steps_per_execution`
        # steps at a time from an endless pipeline, so an epoch ends on a multiple of it.
        per_call = int(getattr(model, "steps_per_execution", 1) or 1)
        # Full batches leave the epochs as long (the patience rules count epochs).
        full = budget.full_batches and large and len(x) >= batch
        passes = math.ceil(len(x) / batch)
        steps_per_epoch = math.ceil(passes / per_call) * per_call
    if streamed and not large:
        # The steps of `epochs` whole passes (within the budget), in epochs of whole executions.
        data_epochs = budget.epochs(len(x), batch, epochs)
        steps = data_epochs * passes
        epochs = math.ceil(steps / steps_per_epoch)
        passes_per_epoch = steps_per_epoch / passes
    else:
        epochs = budget.epochs(len(x), batch, epochs, large=large, steps_per_epoch=steps_per_epoch)
        data_epochs, passes_per_epoch = epochs, 1.0
    model.training_plan = {
        "batch_size": batch,
        "learning_rate": float(model.optimizer.learning_rate),
        "max_epochs": epochs,
        "steps_per_epoch": steps_per_epoch or math.ceil(len(x) / batch),
        "validation_rows": n_validation,
        # What a user's `epochs` counts: passes over the training rows. Small tables run
        # several passes per Keras epoch (whole compiled executions); progress reports passes.
        "epochs": data_epochs,
        "passes_per_epoch": passes_per_epoch,
    }
    if streamed:
        # One input pipeline for the whole fit (Keras keeps its iterator across epochs when
        # given steps_per_epoch): a fresh seeded permutation each epoch, batches gathered
        # whole. Arrays passed to fit would build a new iterator and reshuffle in Python
        # every epoch, which dominates the cost of the short epochs of large tables.
        data = _shuffled_batches(x, y, batch, seed, full=full)
        fit_inputs = {"x": data, "steps_per_epoch": steps_per_epoch, "shuffle": False}
    else:
        fit_inputs = {"x": x, "y": y, "batch_size": batch, "shuffle": True}
    with _old_objects_frozen():
        return model.fit(
            **fit_inputs,
            epochs=epochs,
            validation_data=validation_data,
            validation_batch_size=max(batch, 1024) if validation_data is not None else None,
            callbacks=callbacks,
            verbose=verbose,
        )


@contextlib.contextmanager
def _old_objects_frozen():
    """Python's garbage collector skips the objects that exist when the fit starts.

    Tracing the step functions allocates enough objects to trigger a full collection,
    which walks every object of the process (TensorFlow and Keras hold millions): about
    0.3 s each, a tenth of a whole training on 10,000 rows. Frozen objects are only
    skipped, never freed, and go back to the collector when the fit ends (`gc.freeze`,
    `gc.unfreeze`). A process that froze objects itself is left as it is.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class HeldOutLosses(keras.callbacks.Callback):
    """Adds the model's losses on held-out rows to each epoch's logs, as `val_<name>`.

    The numbers of `fit(validation_data=(x, y), validation_batch_size=chunk_rows)` (the
    model's `compute_losses` with `training=False`, averaged over the rows), from one
    compiled function called on tensors made once, one call per `chunk_rows` rows: Keras'
    validation runs a new evaluation loop every epoch (its callbacks, an iterator over
    the rows, the logs), which costs tens of milliseconds on a few hundred rows and
    dominates the short epochs of large tables. Put it before the callbacks that read
    `val_*` (early stopping, learning-rate plateaus, progress).

    Args:
        x, y: the held-out arrays (compositions and conditions or properties).
        chunk_rows: most rows of one call (bounds the memory of the pass).
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, chunk_rows: int = 16384):
        super().__init__()
        self.x = x
        self.y = y
        self.chunk_rows = validation.positive_int(chunk_rows, "chunk_rows")
        self._losses = None
        self._chunks = []

    def on_train_begin(self, logs=None):
        import tensorflow as tf

        model = self.model
        names = tuple(model.loss_names)
        x, y = np.asarray(self.x), np.asarray(self.y)
        signature = [tf.TensorSpec((None, *a.shape[1:]), tf.as_dtype(a.dtype)) for a in (x, y)]

        @tf.function(input_signature=signature, autograph=False)
        def held_out_losses(xs, ys):
            xs, ys, _ = model.unpack((xs, ys))
            losses = model.compute_losses(xs, ys, None, training=False)
            return {name: losses[name] for name in names}

        self._losses = held_out_losses
        self._chunks = [
            (tf.constant(x[i : i + self.chunk_rows]), tf.constant(y[i : i + self.chunk_rows]))
            for i in range(0, len(x), self.chunk_rows)
        ]

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        parts = [(len(xs), self._losses(xs, ys)) for xs, ys in self._chunks]
        if len(parts) == 1:
            values = {k: float(v) for k, v in parts[0][1].items()}
        else:  # the mean over rows, as Keras' trackers weigh its batches
            rows = sum(n for n, _ in parts)
            values = {k: sum(n * float(p[k]) for n, p in parts) / rows for k in parts[0][1]}
        logs.update({f"val_{k}": v for k, v in values.items()})

    def on_train_end(self, logs=None):
        self._losses = None
        self._chunks = []


def _shuffled_batches(x: np.ndarray, y: np.ndarray, batch: int, seed: int, full: bool = False):
    """An endless `tf.data` pipeline of `(x, y)` batches: epoch after epoch, a permutation
    of the rows (stateless, from `seed` and the epoch number) cut into batches of `batch`
    (the last one of an epoch smaller, or with `full` dropped, so every batch has the static
    shape `(batch, ...)`), gathered in one op per batch, two batches prefetched."""
    import tensorflow as tf

    n = len(x)
    xs, ys = tf.constant(x), tf.constant(y)

    def epoch(index):
        perm = tf.random.experimental.stateless_shuffle(
            tf.range(n, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), index])
        )
        if full:
            starts = tf.data.Dataset.range(0, n - batch + 1, batch)
            return starts.map(lambda start: tf.reshape(perm[start : start + batch], [batch]))
        starts = tf.data.Dataset.range(0, n, batch)
        return starts.map(lambda start: perm[start : tf.minimum(start + batch, n)])

    rows = tf.data.Dataset.range(2**62).flat_map(epoch)
    batches = rows.map(lambda i: (tf.gather(xs, i), tf.gather(ys, i))).prefetch(2)
    # Without autotuning: its background thread makes the iterator's deletion at the end
    # of `fit` wait up to 2 s (measured, TensorFlow 2.21), and a fixed prefetch of two
    # batches already keeps the steps fed.
    options = tf.data.Options()
    options.autotune.enabled = False
    return batches.with_options(options)

"""Shared bases: the training skeleton of every hea_zoo model, and the conditional generator.

`ZooModel` is the base of every hea_zoo Keras model (the generators and the surrogate). It
owns what Keras leaves to a custom model and what hea_zoo needs from all of them:

- the `train_step` skeleton: gradient tape around the family's `compute_losses`, the loss
  scaled for the replicas (under a `tf.distribute` strategy the replicas' gradients are
  summed, so each replica differentiates its share of the global mean:
  `loss / num_replicas_in_sync` for an even split, see `scale_for_replicas`), the
  optimizer update, the loss trackers, and a `test_step` from the same losses;
- statistics adapted explicitly, like `keras.layers.Normalization.adapt`: `adapt(...)`
  before `fit` (`fit` on an un-adapted model fails at once and says so);
- "trained" read from the optimizer (`optimizer.iterations > 0`), so a
  `keras.callbacks.ModelCheckpoint` file is a usable, trained model;
- noise that does not depend on how a batch is split over replicas (`random_normal`), so
  one device and several replicas take the same steps on the same global batch;
- the model and package versions saved in the config (loading another version warns).

`ConditionalGenerator` adds the surface every generator shares: condition normalization
in the model (callers speak physical units), `decode`, `generate`, input validation.

Reference: Tung, Debnath & Reinhart, "Evaluating generative models for inverse design of
high-entropy refractory alloys".
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf

from hea_zoo.errors import UsageError
from hea_zoo._version import __version__
from hea_zoo.artifact import check_seed, noise
from hea_zoo.constants import ELEMENTS, PROPERTY_NAMES, PROPERTY_UNITS
from hea_zoo.models import legacy, validation

MODEL_VERSION = "2"
"""Version of the saved-model layout of the generators (bump on breaking changes).

"1" (hea_zoo 0.1.0): a `trained_flag` weight set by an overridden `fit`; the cAE's latent
Gaussian fitted after training. "2": "trained" is the optimizer's step count; the cAE's
latent Gaussian is a running statistic updated by `train_step`. Layout-1 generator files
load (the flag is dropped).
"""

_RECONSTRUCTION_LOSSES = ("mse", "crossentropy")
_LOG_EPS = 1e-7


def build_mlp(
    input_dims: Sequence[int],
    input_names: Sequence[str],
    output_dim: int,
    hidden_units: Sequence[int],
    activation: str,
    name: str,
    kernel_constraint: Any = None,
    bias_constraint: Any = None,
) -> keras.Model:
    """Builds a functional MLP on the concatenation of several inputs.

    Args:
        input_dims: width of each input.
        input_names: name of each input.
        output_dim: width of the linear output layer.
        hidden_units: widths of the hidden layers.
        activation: activation of the hidden layers (any Keras activation name).
        name: name of the returned model.
        kernel_constraint: constraint applied to every kernel (e.g. clipping).
        bias_constraint: constraint applied to every bias.

    Returns:
        A built `keras.Model` taking `len(input_dims)` tensors and returning
        `(batch, output_dim)` pre-activation outputs.
    """
    inputs = [
        keras.Input(shape=(int(d),), name=f"{name}_{n}") for d, n in zip(input_dims, input_names)
    ]
    h = keras.layers.Concatenate(name=f"{name}_concat")(inputs)
    for i, units in enumerate(hidden_units):
        h = keras.layers.Dense(
            units,
            activation=activation,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
            name=f"{name}_dense_{i}",
        )(h)
    out = keras.layers.Dense(
        output_dim,
        kernel_constraint=kernel_constraint,
        bias_constraint=bias_constraint,
        name=f"{name}_output",
    )(h)
    return keras.Model(inputs, out, name=name)


def weighted_mean(per_sample: tf.Tensor, sample_weight: tf.Tensor | None) -> tf.Tensor:
    """Mean of a per-sample quantity over the batch, weighted by `sample_weight` if given."""
    per_sample = tf.reshape(per_sample, [-1])
    if sample_weight is None:
        return tf.reduce_mean(per_sample)
    sample_weight = tf.reshape(tf.cast(sample_weight, per_sample.dtype), [-1])
    return tf.reduce_sum(per_sample * sample_weight) / tf.maximum(
        tf.reduce_sum(sample_weight), 1e-12
    )


def batch_weight(x: tf.Tensor, sample_weight: tf.Tensor | None) -> tf.Tensor:
    """The weight of this replica's batch: its number of rows, or its sum of sample weights."""
    if sample_weight is None:
        return tf.cast(tf.shape(x)[0], "float32")
    return tf.reduce_sum(tf.cast(sample_weight, "float32"))


def scale_for_replicas(loss: tf.Tensor, weight: tf.Tensor | None = None) -> tf.Tensor:
    """Scales a replica's batch-mean loss so that the replicas' summed gradients are those
    of the global batch mean.

    Under a `tf.distribute` strategy the per-replica gradients are summed. Each replica's
    mean loss is multiplied by its share of the global batch, `weight / sum(weight)` over
    the replicas: `1 / num_replicas_in_sync` when the global batch splits evenly, and
    still exact for the uneven last batch of an epoch. Without `weight`,
    `1 / num_replicas_in_sync`. On one device the loss is returned as is.
    """
    context = tf.distribute.get_replica_context()
    n = tf.distribute.get_strategy().num_replicas_in_sync
    if n == 1:
        return loss
    if weight is None or context is None:
        return loss * (1.0 / n)
    total = context.all_reduce("SUM", weight)
    return loss * (weight / tf.maximum(total, 1e-12))


def _multi_worker(strategy: tf.distribute.Strategy) -> bool:
    """True under a MultiWorkerMirroredStrategy that spans more than one worker."""
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and (
        strategy.num_replicas_in_sync > len(strategy.extended.worker_devices)
    )


@keras.saving.register_keras_serializable(package="hea_zoo")
class ZooModel(keras.Model):
    """Base of hea_zoo's Keras models: the training step skeleton and the shared state.

    A family implements `compute_losses(x, y, sample_weight, training)`, returning a
    dict of scalar tensors with the optimized `"loss"` and every name in `loss_names`
    (the tracked metrics, in order), and `adapt(...)`, which sets the statistics the
    model normalizes with from training arrays. `update_statistics(x, y, sample_weight)`
    runs after each optimizer update (running statistics such as the cAE's latent
    Gaussian); `default_optimizer()` is what `compile()` uses without an optimizer.

    Args:
        loss_names: names of the tracked losses (`keras.metrics.Mean` each).
        **kwargs: passed to `keras.Model`.
    """

    def __init__(self, loss_names: Sequence[str] = ("loss",), **kwargs):
        super().__init__(**kwargs)
        self.loss_names = tuple(loss_names)
        self.trackers = [keras.metrics.Mean(name=name) for name in self.loss_names]
        self._adapted = False

    # ------------------------------------------------------------ the family's part
    def compute_losses(self, x, y, sample_weight, training: bool) -> dict:
        """The batch losses: a dict with `"loss"` and every name in `loss_names`."""
        raise NotImplementedError(f"{type(self).__name__} must implement `compute_losses`.")

    def update_statistics(self, x, y, sample_weight) -> None:
        """Hook run after each optimizer update (default: nothing)."""

    def default_optimizer(self) -> keras.optimizers.Optimizer:
        """The optimizer `compile()` uses when none is given: Adam(1e-3)."""
        return keras.optimizers.Adam(1e-3)

    def optimizers(self) -> list:
        """The optimizers `train_step` applies (one here; the WcGAN has two)."""
        return [] if self.optimizer is None else [self.optimizer]

    # ------------------------------------------------------------------- state
    @property
    def metrics(self):
        return list(self.trackers)

    @property
    def is_adapted(self) -> bool:
        """True once `adapt` has run, or weights were loaded (from a trained model)."""
        return bool(self._adapted) or self.is_trained

    @property
    def is_trained(self) -> bool:
        """True once the optimizer has taken a step (survives save/load and checkpoints)."""
        optimizer = getattr(self, "optimizer", None)
        if optimizer is None:
            return False
        return int(keras.ops.convert_to_numpy(optimizer.iterations)) > 0

    def load_own_variables(self, store):
        super().load_own_variables(store)
        self._adapted = True

    # ----------------------------------------------------------------- compile
    def compile(self, optimizer=None, **kwargs):
        """`keras.Model.compile`; without `optimizer`, the model's `default_optimizer()`."""
        super().compile(
            optimizer=self.default_optimizer() if optimizer is None else optimizer, **kwargs
        )

    def compile_from_config(self, config: dict) -> None:
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if self.built:
            self.optimizer.build(self.trainable_variables)

    # ----------------------------------------------------------------- training
    def _not_adapted_message(self, what: str) -> str:
        return (
            f"{type(self).__name__}.{what}: the model is not adapted. Call "
            f"`model.adapt({self._adapt_arguments})` on the training arrays before "
            f"`{what}` (it sets the normalization statistics the model keeps), or use "
            "`hea_zoo.models.train_default_generator` / `train_default_surrogate`."
        )

    _adapt_arguments = "compositions, conditions"

    def make_train_function(self, force: bool = False):
        # `fit` calls this eagerly before the first step: the place to refuse early.
        if not self.is_adapted:
            raise UsageError(self._not_adapted_message("fit"))
        return super().make_train_function(force)

    def make_test_function(self, force: bool = False):
        if not self.is_adapted:
            raise UsageError(self._not_adapted_message("evaluate"))
        return super().make_test_function(force)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # hea_zoo models are built when constructed, so Keras' symbolic build has only
        # the optimizer to build. Skipping it also skips its cross-replica mean of the
        # first batch, which fails for a (compositions, conditions) pair under
        # MultiWorkerMirroredStrategy ("Attempt to convert a value (PerReplica...) to a
        # Tensor", keras 3.15): see docs/DISTRIBUTED.md.
        if self.optimizer is not None and not self.optimizer.built:
            with self.distribute_strategy.scope():
                self.optimizer.build(self.trainable_variables)

    def unpack(self, data):
        """`(x, y, sample_weight)` of a batch, x and y as float32."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if y is None:
            raise UsageError(
                f"{type(self).__name__} trains on pairs: call `fit(x, y)` with "
                f"`({self._adapt_arguments})`; the second array is missing."
            )
        return tf.cast(x, "float32"), tf.cast(y, "float32"), sample_weight

    def record(self, losses: dict, weight: tf.Tensor | None = None) -> dict:
        """Updates the trackers from a step's losses and returns the logs.

        Each tracker weighs a batch by `weight` (its rows, or its sum of sample weights),
        as Keras' own loss tracker does: an epoch's value is the mean over its rows, the
        same however the batches are split over replicas.
        """
        for tracker in self.trackers:
            tracker.update_state(losses[tracker.name], sample_weight=weight)
        logs = {t.name: t.result() for t in self.trackers}
        if _multi_worker(tf.distribute.get_strategy()):
            # Keras averages a step's logs across workers along axis 0, which a scalar
            # does not have (keras 3.15); a length-1 vector averages to the scalar.
            logs = {k: tf.reshape(v, [1]) for k, v in logs.items()}
        return logs

    def train_step(self, data):
        x, y, sample_weight = self.unpack(data)
        weight = batch_weight(x, sample_weight)
        weights = self.trainable_weights
        with tf.GradientTape() as tape:
            losses = self.compute_losses(x, y, sample_weight, training=True)
            scaled = scale_for_replicas(losses["loss"], weight)
        grads = tape.gradient(scaled, weights)
        self.optimizer.apply_gradients(zip(grads, weights))
        self.update_statistics(x, y, sample_weight)
        return self.record(losses, weight)

    def test_step(self, data):
        x, y, sample_weight = self.unpack(data)
        losses = self.compute_losses(x, y, sample_weight, training=False)
        return self.record(losses, batch_weight(x, sample_weight))

    # ---------------------------------------------------------------- randomness
    def random_normal(self, shape: Sequence, seed_generator=None) -> tf.Tensor:
        """Standard-normal noise for the rows of this replica's batch.

        `shape[0]` is the local batch size. Under a strategy with several replicas the
        draw is made for the global batch (every replica draws the same numbers from the
        mirrored seed) and each replica keeps its own rows, so the training noise is
        the one a single device would draw for the same global batch.
        """
        return self._global_rows(
            shape, lambda s: keras.random.normal(s, seed=seed_generator or self.seed_generator)
        )

    def random_uniform(self, shape: Sequence, seed_generator=None) -> tf.Tensor:
        """Uniform(0, 1) noise for the rows of this replica's batch (see `random_normal`)."""
        return self._global_rows(
            shape,
            lambda s: keras.random.uniform(
                s, minval=0.0, maxval=1.0, seed=seed_generator or self.seed_generator
            ),
        )

    @staticmethod
    def _global_rows(shape, draw):
        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            return draw(shape)
        n_local = tf.reshape(tf.cast(shape[0], "int32"), [1])
        sizes = context.all_gather(n_local, axis=0)
        replica = context.replica_id_in_sync_group
        offset = tf.reduce_sum(sizes[:replica])
        values = draw(tf.concat([[tf.reduce_sum(sizes)], tf.cast(shape[1:], "int32")], 0))
        return values[offset : offset + n_local[0]]

    # ------------------------------------------------------------------- config
    @classmethod
    def _check_versions(cls, saved: str | None, model_version: str | None, current: str) -> None:
        if saved is not None and saved != __version__:
            warnings.warn(
                f"{cls.__name__} was saved with hea_zoo {saved}; this is hea_zoo "
                f"{__version__}. Check its outputs before relying on them.",
                stacklevel=3,
            )
        if model_version is not None and model_version != current:
            warnings.warn(
                f"{cls.__name__} has model_version {model_version!r}; this hea_zoo writes "
                f"model_version {current!r}.",
                stacklevel=3,
            )


@keras.saving.register_keras_serializable(package="hea_zoo")
class ConditionalGenerator(ZooModel):
    """Base class of the conditional composition generators.

    Subclasses build their networks in `__init__`, implement `compute_losses(x, c,
    sample_weight, training)` and `_decode_logits(latent, normalized_conditions)`, and
    may override `_latent_from_noise(z)` (identity here).

    Args:
        elements: element symbols, one per composition column. Defaults to the
            study's 22 elements (`hea_zoo.constants.ELEMENTS`).
        condition_names: names of the conditioning properties. Defaults to
            `("shear_modulus", "fracture_toughness")`.
        condition_units: their units. Defaults to `("GPa", "MPa*m^0.5")`.
        latent_dim: size of the noise vector `z`.
        hidden_units: widths of the hidden layers of the networks.
        activation: activation of the hidden layers.
        seed: seed of the model's `keras.random.SeedGenerator` (training noise
            and `generate(..., seed=None)`).
        model_version: version string of the saved model.
        setting_names: the last condition names that are measurement settings (the test
            temperature): fixed values when designing, never targets (default none).
        data_fingerprint: `Dataset.source_fingerprint` of the training data (set by
            `train_default_generator`; exports record it, and the physics oracle judges
            designs only for models trained on the bundled oracle data).
        loss_names: the tracked losses (set by each family).
        **kwargs: passed to `keras.Model` (e.g. `name`).

    Example:

    ```python
    model = hea_zoo.models.CVAE()
    model.adapt(dataset.train.compositions, dataset.train.properties)
    model.compile()
    model.fit(dataset.train.compositions, dataset.train.properties, epochs=100)
    designs = model.generate([[40.0, 5.0]], n_per_condition=10, seed=0)
    designs.shape  # (1, 10, 22)
    ```
    """

    def __init__(
        self,
        elements: Sequence[str] | None = None,
        condition_names: Sequence[str] | None = None,
        condition_units: Sequence[str] | None = None,
        latent_dim: int = 8,
        hidden_units: Sequence[int] = (128, 128),
        activation: str = "relu",
        seed: int | None = None,
        model_version: str = MODEL_VERSION,
        data_fingerprint: str | None = None,
        loss_names: Sequence[str] = ("loss",),
        setting_names: Sequence[str] = (),
        **kwargs,
    ):
        super().__init__(loss_names=loss_names, **kwargs)
        # === Config ===
        self.elements = validation.as_str_tuple(
            ELEMENTS if elements is None else elements, "elements"
        )
        if len(set(self.elements)) != len(self.elements):
            raise UsageError(
                f"must not repeat a symbol. Received: elements={list(elements)}",
                field="elements",
            )
        self.condition_names = validation.as_str_tuple(
            PROPERTY_NAMES if condition_names is None else condition_names, "condition_names"
        )
        self.condition_units = validation.as_str_tuple(
            PROPERTY_UNITS if condition_units is None else condition_units,
            "condition_units",
            allow_empty=True,  # a user's property may have no unit
        )
        if len(self.condition_units) != len(self.condition_names):
            raise UsageError(
                "`condition_units` must give one unit per condition name. Received: "
                f"condition_names={list(self.condition_names)}, "
                f"condition_units={list(self.condition_units)}",
                field="condition_units",
            )
        self.latent_dim = validation.positive_int(latent_dim, "latent_dim")
        self.hidden_units = validation.units_tuple(hidden_units, "hidden_units")
        keras.activations.get(activation)  # fails early on an unknown name
        self.activation = activation
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise UsageError(f"must be an integer or None. Received: seed={seed!r}", field="seed")
        self.seed = None if seed is None else int(seed)
        self.model_version = str(model_version)
        self.data_fingerprint = None if data_fingerprint is None else str(data_fingerprint)
        self.setting_names = tuple(str(n) for n in setting_names)
        if self.setting_names and tuple(self.condition_names[-len(self.setting_names):]) != self.setting_names:
            raise UsageError(
                f"must be the last condition names. Received: setting_names={list(self.setting_names)}, "
                f"condition_names={list(self.condition_names)}",
                field="setting_names",
            )

        # === State ===
        self.seed_generator = keras.random.SeedGenerator(self.seed, name="seed_generator")
        c = self.n_conditions
        self.condition_mean = self.add_weight(
            shape=(c,), initializer="zeros", trainable=False, name="condition_mean"
        )
        self.condition_std = self.add_weight(
            shape=(c,), initializer="ones", trainable=False, name="condition_std"
        )
        # The range of the training conditions: designs outside it are extrapolations
        # (reported by `hea-zoo design` and recorded in exports).
        self.condition_min = self.add_weight(
            shape=(c,), initializer="zeros", trainable=False, name="condition_min"
        )
        self.condition_max = self.add_weight(
            shape=(c,), initializer="zeros", trainable=False, name="condition_max"
        )

    # ------------------------------------------------------------------ sizes
    @property
    def n_elements(self) -> int:
        """Number of composition columns (elements)."""
        return len(self.elements)

    @property
    def n_conditions(self) -> int:
        """Number of conditioning properties."""
        return len(self.condition_names)

    @property
    def condition_range(self) -> np.ndarray:
        """(2, n_conditions): min and max of the training conditions, physical units."""
        return np.stack(
            [
                keras.ops.convert_to_numpy(self.condition_min),
                keras.ops.convert_to_numpy(self.condition_max),
            ]
        )

    # --------------------------------------------------------------- networks
    def normalize_conditions(self, conditions: tf.Tensor) -> tf.Tensor:
        """Maps physical-unit conditions to the model's standardized scale."""
        conditions = tf.cast(conditions, "float32")
        return (conditions - self.condition_mean) / self.condition_std

    def _latent_from_noise(self, z: tf.Tensor) -> tf.Tensor:
        """Maps standard-normal noise to the decoder's latent space."""
        return z

    def _decode_logits(self, latent: tf.Tensor, normalized_conditions: tf.Tensor) -> tf.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement `_decode_logits`.")

    def decode(self, z: tf.Tensor, conditions: tf.Tensor) -> tf.Tensor:
        """Decodes noise and conditions into compositions.

        Deterministic given `z`; traceable with plain TensorFlow ops (it is the
        graph that export wraps).

        Args:
            z: standard-normal noise, float32 `(batch, latent_dim)`.
            conditions: float32 `(batch, n_conditions)` in physical units
                (`condition_units`).

        Returns:
            float32 tensor `(batch, n_elements)` of atomic fractions: every row
            nonnegative and summing to 1 (a softmax).
        """
        z = tf.cast(z, "float32")
        latent = self._latent_from_noise(z)
        logits = self._decode_logits(latent, self.normalize_conditions(conditions))
        return tf.nn.softmax(logits, axis=-1)

    def call(self, inputs, training=None):
        """`model((z, conditions))` is `model.decode(z, conditions)`."""
        z, conditions = inputs
        return self.decode(z, conditions)

    # ------------------------------------------------------------- validation
    def check_conditions(self, conditions: Any, name: str = "conditions") -> np.ndarray:
        """Validates conditions; float32 `(m, n_conditions)` (see `validation.check_conditions`).

        Negative values are refused only in the columns whose training conditions were
        all nonnegative (a modulus, a strength: `condition_min` >= 0); a condition the
        training data has negative (a test temperature in °C, a formation energy)
        accepts them. Before `adapt` (no training data seen) there is no sign rule.
        """
        return validation.check_conditions(
            conditions,
            self.condition_names,
            self.condition_units,
            name=name,
            nonnegative=self._nonnegative_columns(),
        )

    def _nonnegative_columns(self) -> np.ndarray:
        """(n_conditions,) bool: columns whose training conditions were all >= 0
        (none before `adapt`)."""
        if not self.is_adapted:
            return np.zeros(self.n_conditions, dtype=bool)
        return keras.ops.convert_to_numpy(self.condition_min) >= 0

    def check_compositions(self, compositions: Any, name: str = "compositions") -> np.ndarray:
        """Validates compositions; float32 `(N, n_elements)` (see `validation.check_compositions`)."""
        return validation.check_compositions(compositions, self.elements, name=name)

    def check_pair(self, compositions: Any, conditions: Any, what: str):
        """Validates training compositions and conditions of the same length."""
        return validation.check_pair(
            compositions, conditions, self.elements, self.condition_names, self.condition_units, what
        )

    # ---------------------------------------------------------------- training
    def adapt(self, compositions: Any, conditions: Any) -> None:
        """Sets the condition normalization from the training data (call before `fit`).

        Validates the arrays (a bad row raises a `ValueError` naming it), then stores the
        mean, standard deviation, minimum and maximum of each condition as non-trainable
        weights: the model takes physical units and normalizes inside.

        Args:
            compositions: `(N, n_elements)` training compositions.
            conditions: `(N, n_conditions)` their properties, physical units.
        """
        _, conditions = self.check_pair(compositions, conditions, "adapt")
        mean = conditions.mean(axis=0)
        std = conditions.std(axis=0)
        std = np.where(std > 1e-6 * np.maximum(np.abs(mean), 1.0), std, 1.0)
        self.condition_mean.assign(mean.astype("float32"))
        self.condition_std.assign(std.astype("float32"))
        self.condition_min.assign(conditions.min(axis=0).astype("float32"))
        self.condition_max.assign(conditions.max(axis=0).astype("float32"))
        self._adapted = True

    # -------------------------------------------------------------- sampling
    def sample_noise(self, n: int, seed: int | None = None) -> tf.Tensor:
        """Standard-normal noise `(n, latent_dim)`.

        With an integer `seed` in [0, 2**32) the draw is `hea_zoo.artifact.noise`
        (the same z in Python, `hea-zoo design`, Node and the browser); with
        `seed=None` it advances the model's `SeedGenerator`.
        """
        n = validation.positive_int(n, "n")
        if seed is None:
            return keras.random.normal((n, self.latent_dim), seed=self.seed_generator)
        return tf.constant(noise(check_seed(seed), n, self.latent_dim))

    def generate(
        self,
        conditions: Any,
        n_per_condition: int,
        seed: int | None = None,
        batch_size: int = 16384,
    ) -> np.ndarray:
        """Generates compositions at each condition.

        Args:
            conditions: `(m, n_conditions)` targets in physical units (a single
                vector of shape `(n_conditions,)` is one condition).
            n_per_condition: compositions drawn per condition.
            seed: integer for reproducible samples (same seed, same samples on
                the same machine); None draws from the model's seed generator.
            batch_size: rows decoded at a time.

        Returns:
            float32 array `(m, n_per_condition, n_elements)`; every row is a
            composition (nonnegative, sums to 1) over `elements`.

        Example:

        ```python
        x = model.generate([[30.0, 4.0], [60.0, 8.0]], n_per_condition=100, seed=0)
        x.shape  # (2, 100, 22)
        ```
        """
        conditions = self.check_conditions(conditions)
        n = validation.positive_int(n_per_condition, "n_per_condition")
        batch_size = validation.positive_int(batch_size, "batch_size")
        if not self.is_trained:
            warnings.warn(
                f"{type(self).__name__}.generate: the model has not been trained; "
                "the compositions are random.",
                stacklevel=2,
            )
        m = conditions.shape[0]
        z = self.sample_noise(m * n, seed=seed)
        c = np.repeat(conditions, n, axis=0)
        parts = []
        for start in range(0, m * n, batch_size):
            stop = min(start + batch_size, m * n)
            parts.append(keras.ops.convert_to_numpy(self.decode(z[start:stop], c[start:stop])))
        return np.concatenate(parts, axis=0).reshape(m, n, self.n_elements).astype("float32")

    # ------------------------------------------------------------ reconstruction
    @staticmethod
    def reconstruction_error(x: tf.Tensor, x_hat: tf.Tensor, kind: str) -> tf.Tensor:
        """Per-sample reconstruction error `(batch,)` between compositions.

        `"mse"`: sum over elements of the squared error; `"crossentropy"`:
        `-sum x log x_hat` (the composition read as a distribution over elements).
        """
        if kind == "mse":
            return tf.reduce_sum(tf.square(x - x_hat), axis=-1)
        return -tf.reduce_sum(x * tf.math.log(x_hat + _LOG_EPS), axis=-1)

    @staticmethod
    def _check_reconstruction(kind: str) -> str:
        if kind not in _RECONSTRUCTION_LOSSES:
            raise UsageError(
                f"must be one of {list(_RECONSTRUCTION_LOSSES)}. "
                f"Received: reconstruction={kind!r}",
                field="reconstruction",
            )
        return kind

    # ------------------------------------------------- files of earlier releases
    def load_own_variables(self, store):
        if getattr(self, "_legacy_layout", None) == "1":
            legacy.load_generator_variables(self, store)
            self._adapted = True
        else:
            super().load_own_variables(store)

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "elements": list(self.elements),
                "condition_names": list(self.condition_names),
                "condition_units": list(self.condition_units),
                "latent_dim": self.latent_dim,
                "hidden_units": list(self.hidden_units),
                "activation": self.activation,
                "seed": self.seed,
                "model_version": self.model_version,
                "data_fingerprint": self.data_fingerprint,
                "hea_zoo_version": __version__,
            }
        )
        if self.setting_names:  # generators without settings keep their config
            config["setting_names"] = list(self.setting_names)
        return config

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        saved = config.pop("hea_zoo_version", None)
        config, old_layout = legacy.generator_config(config, MODEL_VERSION)  # earlier releases' files
        cls._check_versions(saved, None if old_layout else str(config.get("model_version", MODEL_VERSION)), MODEL_VERSION)
        model = cls(**config)
        if old_layout:
            model._legacy_layout = "1"
        return model

"""Shared base for the conditional generators (cAE, cVAE, WcGAN).

A conditional generator maps standard-normal noise `z` and a condition vector
`c` (target properties in physical units) to a composition: a row of
nonnegative atomic fractions that sums to 1 over the model's element list.

Every generator in hea_zoo subclasses `ConditionalGenerator`, which owns

- the condition normalization (mean and standard deviation adapted on the
  training conditions, stored as non-trainable weights, so callers always
  speak physical units),
- input validation with errors that name the row and the problem,
- `decode(z, conditions)`, `generate(conditions, n_per_condition, seed)`,
- the configuration every model carries: element list, condition names and
  units, latent size, seed, model version and package version.

Reference: Tung, Debnath & Reinhart, "Evaluating generative models for inverse
design of high-entropy refractory alloys".
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf

from hea_zoo._version import __version__
from hea_zoo.artifact import check_seed, noise
from hea_zoo.constants import ELEMENTS, PROPERTY_NAMES, PROPERTY_UNITS

MODEL_VERSION = "1"
"""Version of the saved-model layout of the generators (bump on breaking changes)."""

_RECONSTRUCTION_LOSSES = ("mse", "crossentropy")
_LOG_EPS = 1e-7


def _as_str_tuple(value: Any, argument: str, allow_empty: bool = False) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValueError(
            f"`{argument}` must be a sequence of strings. Received: "
            f"{argument}={value!r}"
        )
    out = tuple(value)
    if not out or not all(isinstance(v, str) and (v or allow_empty) for v in out):
        raise ValueError(
            f"`{argument}` must be a non-empty sequence of "
            f"{'' if allow_empty else 'non-empty '}strings. Received: {argument}={value!r}"
        )
    return out


def _positive_int(value: Any, argument: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(
            f"`{argument}` must be a positive integer. Received: {argument}={value!r}"
        )
    return int(value)


def _units_tuple(value: Any, argument: str) -> tuple[int, ...]:
    if isinstance(value, numbers.Integral):
        value = (value,)
    try:
        out = tuple(value)
    except TypeError:
        out = None
    if out is None or not all(
        isinstance(u, numbers.Integral) and not isinstance(u, bool) and u > 0 for u in out
    ):
        raise ValueError(
            f"`{argument}` must be a sequence of positive integers (layer widths). "
            f"Received: {argument}={value!r}"
        )
    return tuple(int(u) for u in out)


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
        keras.Input(shape=(int(d),), name=f"{name}_{n}")
        for d, n in zip(input_dims, input_names)
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


def _replica_mean(per_sample: tf.Tensor, sample_weight: tf.Tensor | None) -> tf.Tensor:
    """Weighted batch mean of a per-sample loss."""
    if sample_weight is None:
        return tf.reduce_mean(per_sample)
    sample_weight = tf.reshape(tf.cast(sample_weight, per_sample.dtype), [-1])
    return tf.reduce_sum(per_sample * sample_weight) / tf.maximum(
        tf.reduce_sum(sample_weight), 1e-12
    )


def scale_for_replicas(loss: tf.Tensor) -> tf.Tensor:
    """Divides a per-replica loss by the number of replicas.

    Under a `tf.distribute` strategy the per-replica gradients are summed, so
    the loss each replica differentiates is scaled by `1 / num_replicas` to get
    the gradient of the global mean.
    """
    n = tf.distribute.get_strategy().num_replicas_in_sync
    if n > 1:
        loss = loss * (1.0 / n)
    return loss


@keras.saving.register_keras_serializable(package="hea_zoo")
class ConditionalGenerator(keras.Model):
    """Base class of the conditional composition generators.

    Subclasses build their networks in `__init__`, implement `train_step`,
    `test_step`, `metrics` and `_decode_logits(latent, normalized_conditions)`,
    and may override `_latent_from_noise(z)` (identity here) and
    `_after_fit(compositions, conditions)`.

    Args:
        elements: element symbols, one per composition column. Defaults to the
            study's 22 elements (`hea_zoo.data.elements.ELEMENTS`).
        condition_names: names of the conditioning properties. Defaults to
            `("shear_modulus", "fracture_toughness")`.
        condition_units: their units. Defaults to `("GPa", "MPa*m^0.5")`.
        latent_dim: size of the noise vector `z`.
        hidden_units: widths of the hidden layers of the networks.
        activation: activation of the hidden layers.
        seed: seed of the model's `keras.random.SeedGenerator` (training noise
            and `generate(..., seed=None)`).
        model_version: version string of the saved model.
        data_fingerprint: `Dataset.source_fingerprint` of the training data (set by
            `train_default_generator`; exports record it, and the physics oracle judges
            designs only for models trained on the bundled oracle data).
        **kwargs: passed to `keras.Model` (e.g. `name`).

    Example:

    ```python
    model = hea_zoo.models.CVAE()
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
        **kwargs,
    ):
        super().__init__(**kwargs)
        # === Config ===
        self.elements = _as_str_tuple(
            ELEMENTS if elements is None else elements, "elements"
        )
        if len(set(self.elements)) != len(self.elements):
            raise ValueError(
                f"`elements` must not repeat a symbol. Received: elements={list(elements)}"
            )
        self.condition_names = _as_str_tuple(
            PROPERTY_NAMES if condition_names is None else condition_names,
            "condition_names",
        )
        self.condition_units = _as_str_tuple(
            PROPERTY_UNITS if condition_units is None else condition_units,
            "condition_units",
            allow_empty=True,  # a user's property may have no unit
        )
        if len(self.condition_units) != len(self.condition_names):
            raise ValueError(
                "`condition_units` must give one unit per condition name. Received: "
                f"condition_names={list(self.condition_names)}, "
                f"condition_units={list(self.condition_units)}"
            )
        self.latent_dim = _positive_int(latent_dim, "latent_dim")
        self.hidden_units = _units_tuple(hidden_units, "hidden_units")
        keras.activations.get(activation)  # fails early on an unknown name
        self.activation = activation
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise ValueError(f"`seed` must be an integer or None. Received: seed={seed!r}")
        self.seed = None if seed is None else int(seed)
        self.model_version = str(model_version)
        self.data_fingerprint = None if data_fingerprint is None else str(data_fingerprint)

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
        self.trained_flag = self.add_weight(
            shape=(), initializer="zeros", trainable=False, name="trained_flag"
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
            [keras.ops.convert_to_numpy(self.condition_min), keras.ops.convert_to_numpy(self.condition_max)]
        )

    @property
    def is_trained(self) -> bool:
        """True once `fit` has completed (survives save/load)."""
        return bool(float(keras.ops.convert_to_numpy(self.trained_flag.value)) > 0.5)

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
    def _condition_description(self) -> str:
        return ", ".join(f"{n} [{u}]" for n, u in zip(self.condition_names, self.condition_units))

    def check_conditions(self, conditions: Any, name: str = "conditions") -> np.ndarray:
        """Validates conditions and returns them as float32 `(m, n_conditions)`.

        A single condition vector of shape `(n_conditions,)` is accepted and
        returned as one row.

        Raises:
            ValueError: wrong shape, non-numeric or non-finite values, or a negative
                value in a column whose training data was never negative (the message
                names the row and the expected columns).
        """
        try:
            array = np.asarray(conditions, dtype="float64")
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"`{name}` must be numeric, shape (m, {self.n_conditions}) with columns "
                f"{self._condition_description()}. Could not convert: {error}"
            ) from None
        if array.ndim == 1 and array.shape[0] == self.n_conditions:
            array = array[None, :]
        if array.ndim != 2 or array.shape[1] != self.n_conditions or array.shape[0] == 0:
            raise ValueError(
                f"`{name}` must have shape (m, {self.n_conditions}), one column per "
                f"condition ({self._condition_description()}), m >= 1. "
                f"Received: shape {array.shape}"
            )
        finite = np.isfinite(array)
        if not finite.all():
            row = int(np.argwhere(~finite.all(axis=1))[0, 0])
            raise ValueError(
                f"`{name}` must be finite; row {row} is {array[row].tolist()} "
                f"(columns {self._condition_description()})."
            )
        # Negative values are refused only in columns whose training values were all
        # nonnegative (a modulus, a strength); a condition the data has negative (a test
        # temperature in °C, a formation energy) accepts them. Before adapt: no rule.
        negative = (array < 0) & self._nonnegative_columns()[None, :]
        if negative.any():
            row, col = (int(v) for v in np.argwhere(negative)[0])
            raise ValueError(
                f"`{name}` must be nonnegative where the training data is: row {row} has "
                f"{self.condition_names[col]}={float(array[row, col])!r} "
                f"{self.condition_units[col]} (row {array[row].tolist()}); the training "
                f"data's {self.condition_names[col]} is never negative."
            )
        return array.astype("float32")

    def _nonnegative_columns(self) -> np.ndarray:
        """(n_conditions,) bool: columns whose training conditions were all >= 0."""
        if not (getattr(self, "_adapted", False) or self.is_trained):
            return np.zeros(self.n_conditions, dtype=bool)
        return keras.ops.convert_to_numpy(self.condition_min) >= 0

    def check_compositions(self, compositions: Any, name: str = "compositions") -> np.ndarray:
        """Validates compositions and returns them as float32 `(N, n_elements)`.

        Raises:
            ValueError: wrong number of columns (expected one per element of
                `elements`), or a row that is not a composition (negative, NaN,
                not summing to 1); the message names the row.
        """
        from hea_zoo.data.composition import validate_compositions

        try:
            shape = np.shape(compositions)
        except Exception:  # ragged input: let the validator describe it
            shape = None
        if shape is not None and (len(shape) != 2 or shape[1] != self.n_elements):
            raise ValueError(
                f"`{name}` must have shape (N, {self.n_elements}), one column per "
                f"element ({' '.join(self.elements)}). Received: shape {tuple(shape)}"
            )
        return validate_compositions(compositions, n_elements=self.n_elements, name=name)

    def _check_pair(self, x: Any, y: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
        if y is None:
            raise ValueError(
                f"{what}: the conditions are missing. Call `fit(compositions, conditions)` "
                f"with conditions of shape (N, {self.n_conditions}) "
                f"({self._condition_description()})."
            )
        x = self.check_compositions(x, name=f"{what} compositions")
        y = self.check_conditions(y, name=f"{what} conditions")
        if len(x) != len(y):
            raise ValueError(
                f"{what}: compositions and conditions must have the same number of rows. "
                f"Received: {len(x)} compositions and {len(y)} conditions."
            )
        return x, y

    # ---------------------------------------------------------------- training
    def adapt(self, compositions: Any, conditions: Any) -> None:
        """Sets the condition normalization from training data.

        `fit` calls this on its first run with array inputs; call it yourself
        before fitting on a `tf.data.Dataset`.
        """
        _, conditions = self._check_pair(compositions, conditions, "adapt")
        mean = conditions.mean(axis=0)
        std = conditions.std(axis=0)
        std = np.where(std > 1e-6 * np.maximum(np.abs(mean), 1.0), std, 1.0)
        self.condition_mean.assign(mean.astype("float32"))
        self.condition_std.assign(std.astype("float32"))
        self.condition_min.assign(conditions.min(axis=0).astype("float32"))
        self.condition_max.assign(conditions.max(axis=0).astype("float32"))
        self._adapted = True

    def _after_fit(self, compositions: np.ndarray | None, conditions: np.ndarray | None) -> None:
        """Hook run after `keras.Model.fit` (e.g. the cAE's latent Gaussian)."""

    def _default_compile(self) -> None:
        self.compile(optimizer=keras.optimizers.Adam(1e-3))

    def fit(self, x=None, y=None, **kwargs):
        """Trains the generator: `fit(compositions, conditions, epochs=..., ...)`.

        Validates the inputs, adapts the condition normalization on the first
        fit, compiles with the model's default optimizer if not compiled, then
        runs `keras.Model.fit` (progress bar, callbacks, `validation_data`,
        `validation_split`, `sample_weight` all work as usual).

        Args:
            x: compositions `(N, n_elements)`, or a `tf.data.Dataset` yielding
                `(compositions, conditions)` (then call `adapt` first).
            y: conditions `(N, n_conditions)` in physical units.
            **kwargs: any `keras.Model.fit` argument.

        Returns:
            The Keras `History`.
        """
        x_arr = y_arr = None
        if isinstance(x, (tf.data.Dataset, tf.distribute.DistributedDataset)) or (
            x is not None and not hasattr(x, "__len__") and not hasattr(x, "shape")
        ):
            if not (getattr(self, "_adapted", False) or self.is_trained):
                raise ValueError(
                    "fit on a dataset or generator needs the condition normalization "
                    "first: call `model.adapt(compositions, conditions)` on the "
                    "training arrays, or pass the arrays to `fit`."
                )
        else:
            x_arr, y_arr = self._check_pair(x, y, "fit")
            x, y = x_arr, y_arr
            if not (getattr(self, "_adapted", False) or self.is_trained):
                self.adapt(x_arr, y_arr)
        validation_data = kwargs.get("validation_data")
        if isinstance(validation_data, (tuple, list)):
            if len(validation_data) not in (2, 3):
                raise ValueError(
                    "`validation_data` must be (compositions, conditions) or "
                    "(compositions, conditions, sample_weight). "
                    f"Received a sequence of length {len(validation_data)}."
                )
            vx, vy = self._check_pair(validation_data[0], validation_data[1], "validation_data")
            kwargs["validation_data"] = (vx, vy, *validation_data[2:])
        if not self.compiled:
            self._default_compile()
        history = super().fit(x, y, **kwargs)
        self._after_fit(x_arr, y_arr)
        self.trained_flag.assign(1.0)
        return history

    # -------------------------------------------------------------- sampling
    def sample_noise(self, n: int, seed: int | None = None) -> tf.Tensor:
        """Standard-normal noise `(n, latent_dim)`.

        With an integer `seed` in [0, 2**32) the draw is `hea_zoo.artifact.noise`
        (the same z in Python, `hea-zoo design`, Node and the browser); with
        `seed=None` it advances the model's `SeedGenerator`.
        """
        n = _positive_int(n, "n")
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
        n = _positive_int(n_per_condition, "n_per_condition")
        batch_size = _positive_int(batch_size, "batch_size")
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
            raise ValueError(
                f"`reconstruction` must be one of {list(_RECONSTRUCTION_LOSSES)}. "
                f"Received: reconstruction={kind!r}"
            )
        return kind

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
        return config

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        saved = config.pop("hea_zoo_version", None)
        if saved is not None and saved != __version__:
            warnings.warn(
                f"{cls.__name__} was saved with hea_zoo {saved}; this is hea_zoo "
                f"{__version__}. Check its outputs before relying on them.",
                stacklevel=2,
            )
        if config.get("model_version", MODEL_VERSION) != MODEL_VERSION:
            warnings.warn(
                f"{cls.__name__} has model_version {config.get('model_version')!r}; this "
                f"hea_zoo writes model_version {MODEL_VERSION!r}.",
                stacklevel=2,
            )
        return cls(**config)

"""Files of earlier hea_zoo releases: how they load into today's models.

Everything that reads an older layout lives here, so the model classes hold only today's
layout; they call these functions from ``from_config`` and ``load_own_variables``.

- Generators of model_version "1" (hea_zoo 0.1.0) carry a ``trained_flag`` weight (set by an
  overridden ``fit``; "trained" is now the optimizer's step count), which is dropped; the
  cAE stored its latent Gaussian as a mean and a Cholesky factor, from which the second
  moment it keeps now follows.
- Surrogates of model_version "1" (0.1.0) kept one ``Sequential`` per member; their
  layers are stacked into today's vectorized ensemble. Layout "2" files read fractions only
  (no element descriptors); those saved before the intervals (or before
  ``interval_power``) load uncalibrated (or with power 1, the same intervals).
- Training settings that Keras keeps with ``compile`` (the learning rate) were once part
  of the model config (hea_zoo 0.1.0 to 0.2: ``learning_rate`` of the surrogate and the
  WcGAN); it is dropped from such configs. The optimizer saved in the file keeps its
  learning rate, so a loaded model trains on as before.
"""

from __future__ import annotations

import numpy as np

from hea_zoo.errors import ModelFileError

__all__ = [
    "TRAINING_SETTINGS",
    "drop_training_settings",
    "generator_config",
    "load_generator_variables",
    "surrogate_config",
    "load_surrogate_variables",
]

TRAINING_SETTINGS = ("learning_rate",)
"""Config keys of older files that belong to `compile` (the optimizer), not to the model."""


def drop_training_settings(config: dict) -> dict:
    """`config` without the training settings older releases kept in it."""
    return {key: value for key, value in config.items() if key not in TRAINING_SETTINGS}


# --------------------------------------------------------------------------- generators
def generator_config(config: dict, current: str) -> tuple[dict, bool]:
    """``(config, legacy)``: a generator config in today's terms, and whether its weights
    are of layout "1" (then `load_generator_variables` converts them)."""
    config = drop_training_settings(config)
    legacy = str(config.get("model_version", current)) == "1"
    if legacy:
        config["model_version"] = current
    return config, legacy


def load_generator_variables(model, store) -> None:
    """Assigns the state arrays of a layout-1 generator file to `model`."""
    values = [np.asarray(store[str(i)]) for i in range(len(store.keys()))]
    del values[4]  # 0.1.0's `trained_flag`: "trained" is now the optimizer's step count
    if any(cls.__name__ == "CAE" for cls in type(model).__mro__):
        # 0.1.0 stored the fitted Gaussian's mean and Cholesky factor; the second moment
        # follows from them.
        mean, chol = np.asarray(values[-2]), np.asarray(values[-1])
        values.append((chol @ chol.T + np.outer(mean, mean)).astype("float32"))
    own = model._trainable_variables + model._non_trainable_variables
    if len(values) != len(own):
        raise ModelFileError(
            f"{type(model).__name__}: this file of model_version 1 has {len(values)} "
            f"state arrays where {len(own)} were expected; retrain the model."
        )
    for variable, value in zip(own, values):
        variable.assign(value)


# --------------------------------------------------------------------------- surrogate
def surrogate_config(config: dict, current: str) -> tuple[dict, str]:
    """``(config, layout)``: a surrogate config in today's terms and the layout of its
    weights ("1", "2" or `current`)."""
    config = drop_training_settings(config)
    layout = str(config.get("model_version", current))
    config.setdefault("descriptors", [])  # layouts 1 and 2 read fractions only
    if layout in ("1", "2"):
        config["model_version"] = current
    return config, layout


def load_surrogate_variables(model, store, layout: str, saved_version: str) -> bool:
    """Loads an older surrogate file's weights into `model`; False when `store` holds
    today's layout (the caller loads it as usual)."""
    if layout == "1":
        try:
            _stack_members(model, store)
        except (KeyError, AttributeError, TypeError, ValueError) as error:
            raise ModelFileError(
                f"This Surrogate was saved by hea_zoo {saved_version} (one network per member, "
                f"model_version 1) and could not be converted ({error}): retrain it "
                "(`hea_zoo.models.train_default_surrogate`), or keep using its ONNX and "
                "SavedModel exports, which do not change."
            ) from None
        return True
    own = model._trainable_variables + model._non_trainable_variables
    missing = len(own) - len(store.keys())
    if missing not in (1, 3):
        return False
    # A layout-2 file saved before `interval_power` (1 missing: power 1, the intervals as
    # they were) or before the intervals (3: no interval_scale, interval_offset,
    # interval_power; the model loads uncalibrated).
    for i, variable in enumerate(own[:-missing]):
        variable.assign(store[f"{i}"])
    model.interval_power.assign(np.ones(len(model.property_names), np.float32))
    if missing == 3:
        model.calibration_size = 0
    return True


def _stack_members(model, store) -> None:
    """Stacks the members of a model_version-1 file into the ensemble layers.

    0.1.0 kept member `i` as a `Sequential` (saved as `layers/sequential[_i]`) of Dense
    layers (`layers/dense[_j]`), and a `trained` weight after the target statistics;
    "trained" now is the optimizer's step count, taken from the file.
    """
    values = [np.asarray(store[str(i)]) for i in range(len(store.keys()))]
    mean, std, trained = values
    h5 = store.h5_file
    for j, layer in enumerate(model.ensemble_layers):
        kernels, biases = [], []
        for i in range(model.n_members):
            member = h5["layers"]["sequential" + ("" if i == 0 else f"_{i}")]
            dense = member["layers"]["dense" + ("" if j == 0 else f"_{j}")]["vars"]
            kernels.append(np.asarray(dense["0"]))
            biases.append(np.asarray(dense["1"]))
        layer.kernel.assign(np.stack(kernels))
        layer.bias.assign(np.stack(biases)[:, None, :])
        layer._loaded_from_legacy = True
    model.target_mean.assign(mean)
    model.target_std.assign(std)
    model.calibration_size = 0  # 0.1.0 had no intervals
    if model.optimizer is not None:
        steps = int(np.asarray(h5["optimizer"]["vars"]["0"])) if float(trained) > 0.5 else 0
        # The optimizer's moments do not carry over (their layout changed too).
        model.optimizer.iterations.assign(steps)

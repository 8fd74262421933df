"""The ``generator`` candidate source: a conditional autoencoder (`hea_zoo.models.CAE`)
trained on the measured table alone (compositions conditioned on their measured
properties), decoded at conditions drawn in the goal region (docs/CAMPAIGNS.md).

Conditions: for each learned property, a ``>=`` goal draws from [lo, lo + 25 % of the
measured range], a ``<=`` goal from [hi − 25 %, hi], a range goal from the range, an
objective from the top (or bottom) of the measured values to 25 % of the range beyond
them; a property without a goal or objective from its measured range. Rows with a missing
property are left out of the generator's training (it needs every condition).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["GENERATOR_EPOCHS", "generated"]

GENERATOR_EPOCHS = 150
"""Epochs of the campaign's cAE (batch 32, the default cAE otherwise)."""


def generated(x, y, state, n: int, elements, rng: np.random.Generator) -> np.ndarray:
    """(n, E) raw compositions decoded by a cAE trained on (x, y)."""
    import keras

    from hea_zoo.models.defaults import build_default_generator

    complete = np.all(np.isfinite(y), axis=1)
    if complete.sum() < 8 or n <= 0:
        return np.zeros((0, len(elements)))
    xs, ys = x[complete].astype(np.float32), y[complete].astype(np.float32)
    seed = int(rng.integers(0, 2**31 - 1))
    keras.utils.set_random_seed(seed)
    model = build_default_generator("cae", None, seed=seed, elements=tuple(elements),
                                    condition_names=tuple(state.properties),
                                    condition_units=tuple("" for _ in state.properties))  # fmt: skip
    model.adapt(xs, ys)
    model.fit(xs, ys, epochs=GENERATOR_EPOCHS, batch_size=32, verbose=0, shuffle=True)
    lo_data, hi_data = np.nanmin(ys, axis=0).astype(np.float64), np.nanmax(ys, axis=0).astype(np.float64)
    width = np.maximum(hi_data - lo_data, 1e-9)
    a, b = lo_data.copy(), hi_data.copy()
    for j, lo, hi in state.plan.property_goals:
        if hi == math.inf:
            a[j], b[j] = lo, lo + 0.25 * width[j]
        elif lo == -math.inf:
            a[j], b[j] = hi - 0.25 * width[j], hi
        else:
            a[j], b[j] = lo, hi
    for name, direction in state.objectives:
        if name in state.properties:
            j = state.properties.index(name)
            a[j], b[j] = (hi_data[j], hi_data[j] + 0.25 * width[j]) if direction == "max" else (
                lo_data[j] - 0.25 * width[j], lo_data[j])  # fmt: skip
    m = max(1, n // 8)
    conditions = (a + rng.random((m, len(a))) * (b - a)).astype(np.float32)
    out = np.asarray(model.generate(conditions, 8, seed=seed), dtype=np.float64).reshape(-1, len(elements))
    return out[:n]

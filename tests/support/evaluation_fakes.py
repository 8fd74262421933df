"""Tiny stand-ins for a dataset, a generator and a surrogate, so evaluation tests run
without training anything."""

from __future__ import annotations

import dataclasses

import numpy as np

ELEMENTS = ("Hf", "Nb", "Ta", "Ti", "Zr", "Mo")
WEIGHTS = np.array(
    [[30.0, 60.0], [38.0, 40.0], [69.0, 80.0], [44.0, 30.0], [33.0, 20.0], [126.0, 50.0]]
)  # (E, P): a linear "physics" for the fake data


@dataclasses.dataclass(frozen=True)
class FakeDataset:
    compositions: np.ndarray
    properties: np.ndarray
    elements: tuple
    property_names: tuple
    property_units: tuple
    train_index: np.ndarray
    test_index: np.ndarray
    name: str = "fake"

    @property
    def train(self) -> "FakeDataset":
        idx = self.train_index
        return dataclasses.replace(
            self,
            compositions=self.compositions[idx],
            properties=self.properties[idx],
            train_index=np.arange(idx.size),
            test_index=np.arange(0),
        )


def make_dataset(n: int = 60, seed: int = 0) -> FakeDataset:
    rng = np.random.default_rng(seed)
    compositions = rng.dirichlet(np.ones(len(ELEMENTS)), size=n).astype(np.float32)
    properties = (compositions @ WEIGHTS).astype(np.float32)
    order = rng.permutation(n)
    n_train = int(0.8 * n)
    return FakeDataset(
        compositions=compositions,
        properties=properties,
        elements=ELEMENTS,
        property_names=("shear_modulus", "fracture_toughness"),
        property_units=("GPa", "MPa*m^0.5"),
        train_index=np.sort(order[:n_train]),
        test_index=np.sort(order[n_train:]),
    )


class FakeSurrogate:
    """Linear judge: properties = compositions @ WEIGHTS (exact on the fake data)."""

    def __init__(self, scale: float = 1.0):
        self.scale = scale

    def predict_with_uncertainty(self, compositions):
        mean = self.scale * np.asarray(compositions, np.float64) @ WEIGHTS
        return mean.astype(np.float32), (0.01 * mean).astype(np.float32)


def oracle(compositions):
    """A ground truth that differs from the fake surrogate by 10 %."""
    return 1.1 * np.asarray(compositions, np.float64) @ WEIGHTS


class FakeGenerator:
    """Returns, for each condition, the training alloy with the nearest properties,
    mixed with Dirichlet noise of weight ``noise`` (0 gives exact copies)."""

    name = "fake"

    def __init__(self, dataset: FakeDataset, noise: float = 0.0, latent_dim: int = 3):
        self.dataset = dataset
        self.noise = noise
        self.latent_dim = latent_dim
        self.calls = []

    def _nearest(self, conditions):
        train = self.dataset.train
        scale = train.properties.std(axis=0)
        d = (((conditions[:, None, :] - train.properties[None]) / scale) ** 2).sum(-1)
        return train.compositions[d.argmin(axis=1)].astype(np.float64)

    def generate(self, conditions, n_per_condition, seed=None):
        conditions = np.asarray(conditions, np.float64)
        self.calls.append((conditions.shape, n_per_condition, seed))
        base = np.repeat(self._nearest(conditions)[:, None, :], n_per_condition, axis=1)
        if self.noise:
            rng = np.random.default_rng(seed)
            noise = rng.dirichlet(np.ones(base.shape[-1]), size=base.shape[:2])
            base = (1.0 - self.noise) * base + self.noise * noise
        return base.astype(np.float32)

    def decode(self, z, conditions):
        z = np.asarray(z, np.float64)
        w = 1.0 / (1.0 + np.exp(-z[:, :1]))
        a = np.eye(len(ELEMENTS))[0]
        b = np.full(len(ELEMENTS), 1.0 / len(ELEMENTS))
        return (w * a + (1.0 - w) * b).astype(np.float32)

"""Conditional generators (cAE, cVAE, WcGAN) over a shared base, their registry, and the
forward surrogate."""

import hea_zoo._tensorflow  # noqa: F401  (TensorFlow's start-up lines kept off the terminal)
from hea_zoo.models.base import ConditionalGenerator
from hea_zoo.models.cae import CAE
from hea_zoo.models.cvae import CVAE
from hea_zoo.models.surrogate import SURROGATE_DEFAULTS, Surrogate, train_default_surrogate
from hea_zoo.models.wcgan import WCGAN
from hea_zoo.models.defaults import (
    DEFAULT_HYPERPARAMETERS,
    GENERATORS,
    get_generator_class,
    train_default_generator,
)

__all__ = [
    "CAE",
    "CVAE",
    "ConditionalGenerator",
    "DEFAULT_HYPERPARAMETERS",
    "GENERATORS",
    "SURROGATE_DEFAULTS",
    "Surrogate",
    "WCGAN",
    "get_generator_class",
    "train_default_generator",
    "train_default_surrogate",
]

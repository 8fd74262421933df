"""Conditional generators (cAE, cVAE, WcGAN, and a conditional flow beyond the study) over a shared base, their registry, the
forward surrogate, and the step-budgeted default trainings."""

import hea_zoo._tensorflow  # noqa: F401  (TensorFlow's start-up lines kept off the terminal)
from hea_zoo.models.base import ConditionalGenerator, ZooModel
from hea_zoo.models.cae import CAE
from hea_zoo.models.cvae import CVAE
from hea_zoo.models.flow import CFlow
from hea_zoo.models.surrogate import SURROGATE_DEFAULTS, Surrogate, train_default_surrogate
from hea_zoo.models.training import TrainingBudget, fit_with_budget
from hea_zoo.models.wcgan import WCGAN
from hea_zoo.models.defaults import (
    DEFAULT_HYPERPARAMETERS,
    GENERATORS,
    build_default_generator,
    get_generator_class,
    train_default_generator,
)

__all__ = [
    "CAE",
    "CFlow",
    "CVAE",
    "ConditionalGenerator",
    "DEFAULT_HYPERPARAMETERS",
    "GENERATORS",
    "SURROGATE_DEFAULTS",
    "Surrogate",
    "TrainingBudget",
    "WCGAN",
    "ZooModel",
    "build_default_generator",
    "fit_with_budget",
    "get_generator_class",
    "train_default_generator",
    "train_default_surrogate",
]

"""Keras models of hea_zoo: the conditional generators (cAE, cVAE, WcGAN, and a conditional
flow beyond the study) over a shared base, the forward surrogate, their defaults and
training recipes, and the loaders of earlier releases' files.

Layout (a family that mixes several parts is a folder, as in keras-hub):

- `base`: `ZooModel` and `ConditionalGenerator`, the shared training step and surface;
- `cae`, `cvae`, `wcgan`: one module per single-network family;
- `flow/`: the conditional flow (`transforms`, `bijector`, `made`, `model`);
- `surrogate/`: the surrogate (`layers`, `descriptors`, `model`) and its interval
  calibration in `calibration`;
- `defaults`: every model's defaults and recipe in one module -- the measured
  hyperparameters (`DEFAULT_HYPERPARAMETERS`, `SURROGATE_DEFAULTS`), the generator
  registry and `build_default_generator` / `train_default_generator` /
  `train_default_surrogate`. One module, not one per family, so that every measured number
  is in one place beside the recipes that use it (docs/HYPERPARAMETERS.md); training
  settings (learning rate, epochs, batch) live there and in `compile`/`fit`, never in a
  model's config;
- `training`: the step budget every recipe trains within (`TrainingBudget`,
  `fit_with_budget`);
- `legacy`: how files of earlier releases (0.1.0 layouts, configs with a learning rate)
  load into today's classes;
- `validation`: argument and array checks shared by the models.

Research baselines the models are measured against are not models of the zoo: they live in
`hea_zoo.evaluation.baselines`.
"""

import hea_zoo._tensorflow  # noqa: F401  (TensorFlow's start-up lines kept off the terminal)
from hea_zoo.models.base import ConditionalGenerator, ZooModel
from hea_zoo.models.cae import CAE
from hea_zoo.models.cvae import CVAE
from hea_zoo.models.flow import CFlow
from hea_zoo.models.surrogate import Surrogate
from hea_zoo.models.training import TrainingBudget, fit_with_budget
from hea_zoo.models.wcgan import WCGAN
from hea_zoo.models.defaults import (
    DEFAULT_HYPERPARAMETERS,
    GENERATORS,
    SURROGATE_DEFAULTS,
    build_default_generator,
    get_generator_class,
    train_default_generator,
    train_default_surrogate,
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

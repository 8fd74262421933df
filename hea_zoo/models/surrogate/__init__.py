"""The forward surrogate: an ensemble of small MLPs, composition -> properties.

It is the study's judge of generated designs (Tung, Debnath & Reinhart, "Evaluating
generative models for inverse design of high-entropy refractory alloys"): the study scored
its generators with a learned forward model. hea_zoo's is an ensemble of `n_members`
networks initialized differently; their mean is the prediction and their standard
deviation an uncertainty. The members are one vectorized computation: every layer holds
the weights of all members, shaped `(members, in, out)`, and applies them with one batched
matmul, so a training step updates the whole ensemble at the cost of one wide network.
Targets are standardized inside the model (constants set by `adapt` on the training data
and saved with it), so inputs are atomic fractions and outputs are in physical units.

Besides the fractions, each member reads composition-weighted element descriptors: for
each tabulated element property named in `descriptors` (by default the valence-electron
count and the atomic radius, the two classic descriptors of refractory HEAs: VEC and the
atomic-size mismatch), its mean and its standard deviation over the alloy's atoms
(`descriptor_features`). They are computed inside the model from the element table
(`hea_zoo.data.elements`), so inputs stay atomic fractions and exports need nothing else.

Its uncertainty is a calibrated interval (`calibrate`, `predict_interval`): normalized
split conformal prediction on alloys held out from training (or, on small tables,
cross-conformal scores from folds of the training alloys), the width growing with the
ensemble spread at a fitted rate (`hea_zoo.models.calibration`), so that about `coverage`
(90 % by default) of new alloys' true values fall inside.

The package, one module per part:

- `hea_zoo.models.surrogate.layers`: `EnsembleDense`, every member's layer at once;
- `hea_zoo.models.surrogate.descriptors`: the element-descriptor inputs
  (`resolve_descriptors`, `descriptor_features`, `DEFAULT_DESCRIPTORS`);
- `hea_zoo.models.surrogate.priors`: physical prior means (the rule-of-mixtures density,
  the Reuss average of the elements' moduli) whose ratio a property is learnt as;
- `hea_zoo.models.surrogate.model`: `Surrogate`, the Keras model.

Its default hyperparameters and training recipe (`SURROGATE_DEFAULTS`,
`train_default_surrogate`) are with every model's, in `hea_zoo.models.defaults`, and
importable from `hea_zoo.models`; files of earlier releases load through
`hea_zoo.models.legacy`.
"""

from hea_zoo.models.surrogate.descriptors import (
    DEFAULT_DESCRIPTORS,
    descriptor_features,
    descriptor_table,
    resolve_descriptors,
)
from hea_zoo.models.surrogate.layers import EnsembleDense
from hea_zoo.models.surrogate.model import SURROGATE_MODEL_VERSION, Surrogate

__all__ = [
    "DEFAULT_DESCRIPTORS",
    "EnsembleDense",
    "SURROGATE_MODEL_VERSION",
    "Surrogate",
    "descriptor_features",
    "descriptor_table",
    "resolve_descriptors",
]

_MOVED = ("SURROGATE_DEFAULTS", "train_default_surrogate")


def __getattr__(name: str):
    # The default recipe moved to `hea_zoo.models.defaults` (with every model's); the old
    # import path keeps working, resolved on first use only.
    if name in _MOVED:
        import warnings

        from hea_zoo.models import defaults

        warnings.warn(
            f"hea_zoo.models.surrogate.{name} moved to hea_zoo.models.defaults (also importable "
            "from hea_zoo.models).",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(defaults, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Conditional normalizing flow (cFlow): a generator with an exact likelihood.

Compositions are sparse: most of the 22 fractions are exactly zero, and a log-ratio is
undefined at zero. The flow therefore models a composition in two parts,

    p(x | c) = P(b | c) * p(x_S | b, c),

- **presence** `b`: which elements are present (fraction >= `threshold`, 0.005 by
  default, the drop threshold of printed formulas), a conditional autoregressive
  Bernoulli model (`ConditionalMADE`): `P(b | c) = prod_j Bernoulli(b_j; sigmoid(l_j(b_<j, c)))`;
- **fractions** `x_S` of the `k` present elements on their face of the simplex, through
  an exact change of variables to an additive log-ratio space in which a RealNVP flow of
  TFP bijectors (`tfb.RealNVP`, `tfb.Permute`, `tfb.Shift`, `tfb.Scale`) conditioned on
  `c` maps a masked standard-normal base to the data (the presence pattern enters through
  the masks and the choice of reference).

The fraction transform. Every present element is held at or above the threshold `t`:

    x_j = t + (1 - k t) w_j   (j in S),      x_j = 0   (j not in S),

with `w` a point of the open (k-1)-simplex, and `w` is written in additive log-ratios
against the *reference* element `r` (the last present element in element order):

    y_j = log(w_j / w_r)   for j in S \\ {r}   (the k - 1 *active* coordinates).

In generation the inverse is a masked softmax: absent logits are set to -1e9 (so their
fractions are exactly 0), the reference logit to 0, and `x = t b + (1 - k t) softmax`.
A present element is thus never below `t`: the element count above 0.5 at.% of a design
is exactly its number of present elements.

The density. `log_prob(x, c)` (nats per alloy) is

    log P(b | c) + log p_y(y | b, c) - sum_{j in S} log w_j - (k - 1) log(1 - k t),

the Bernoulli log-likelihood of the presence pattern plus the log-density of the present
fractions with respect to Lebesgue measure on any k - 1 of them (the last two terms are
the log-Jacobian of the floor-and-log-ratio transform; for k = 1 there is no continuous
part). The flow acts as the identity on inactive coordinates and its conditioners never
see them, so `log p_y` is the exact density of the k - 1 active coordinates: base
`N(0, I)` over the active coordinates plus the flow's log-Jacobian. Input fractions below
`t` are treated as absent: the composition is scored as printed (traces dropped, the
rest renormalized). A composition with nothing at or above `t` has no density (NaN).
The presence model puts probability 0 on the empty pattern (if no earlier element is
present, the last one is), so `P(b | c)` is normalized over the patterns `decode` can
produce. Training maximizes this likelihood on log-ratios perturbed by Gaussian noise
(`noise_std`, a smoothing regularizer for 423 training rows); `log_prob` is the exact
density of the trained model at the clean input.

The noise. `decode(z, c)` takes `z` of size `latent_dim = 2 * n_elements`: the first
`n_elements` columns choose the presence pattern (element `j` is present when
`Phi(z_j) < P(b_j = 1 | b_<j, c)`, evaluated in element order), the last `n_elements`
drive the flow (the columns of inactive coordinates are ignored). `decode` is
deterministic given `z` and uses plain TensorFlow ops only, so it converts to ONNX.

Reference: Dinh, Sohl-Dickstein & Bengio, "Density estimation using Real NVP", ICLR 2017
(arXiv:1605.08803); Germain, Gregor, Murray & Larochelle, "MADE: Masked autoencoder for
distribution estimation", ICML 2015; Aitchison, "The Statistical Analysis of
Compositional Data", 1986 (log-ratio transforms). The generators it joins follow Tung,
Debnath & Reinhart, "Evaluating generative models for inverse design of high-entropy
refractory alloys".

The package, one module per part:

- `hea_zoo.models.flow.transforms`: the fraction transform (compositions <-> log-ratios)
  and the masked standard-normal base;
- `hea_zoo.models.flow.bijector`: `RankOneUpdate`, the correlated part of the map;
- `hea_zoo.models.flow.made`: `ConditionalMADE`, the presence model;
- `hea_zoo.models.flow.model`: `CFlow`, the Keras model.

Its defaults and training recipe are with every model's, in `hea_zoo.models.defaults`;
the Gaussian baseline it is measured against is `hea_zoo.evaluation.baselines`.
"""

from hea_zoo.models.flow.bijector import RankOneUpdate, rank_one_factors, rank_one_inverse
from hea_zoo.models.flow.made import ConditionalMADE
from hea_zoo.models.flow.model import CFlow
from hea_zoo.models.flow.transforms import (
    composition_to_log_ratios,
    log_ratios_to_composition,
    masked_normal_log_prob,
    reference_mask,
)

__all__ = [
    "CFlow",
    "ConditionalMADE",
    "RankOneUpdate",
    "composition_to_log_ratios",
    "log_ratios_to_composition",
    "masked_normal_log_prob",
    "rank_one_factors",
    "rank_one_inverse",
    "reference_mask",
]

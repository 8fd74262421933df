"""Acquisition rules of a campaign (docs/CAMPAIGNS.md) and the spread batch selection.

Every rule reads the calibrated predictive distribution of the campaign learner: a normal
per property with the ensemble mean and σ = (upper − lower) / (2 z), z = 1.645 for the
90 % interval (`interval_z` of the learner's coverage: 1.282 at ``coverage=0.8``), as
`hea_zoo.serving.design.goals.probability_within` reads it.

- Threshold goals only: the probability of meeting every goal, ``p_goals``.
- One objective: expected improvement over the best measured value (among measured alloys
  that meet every goal; among all when none does yet) times ``p_goals``
  (constrained EI, Gardner et al., ICML 2014).
- Two objectives: the hypervolume improvement of the candidate's optimistic point
  (mean + σ on each objective, turned "larger is better") over the measured front,
  times ``p_goals``; the batch is filled greedily, each pick's predicted mean joining the
  front before the next (a kriging believer), so picks do not crowd one corner.
"""

from __future__ import annotations

import math

import numpy as np

from hea_zoo.serving.design.goals import INTERVAL_Z, normal_cdf, sigma_from_interval

__all__ = ["sigma_of", "expected_improvement", "hypervolume_2d", "hypervolume_improvement", "greedy_spread"]


def sigma_of(lower, upper, z: float = INTERVAL_Z) -> np.ndarray:
    """σ of the predictive normal from its interval ends (>= 1e-12); `z` of the interval's
    coverage (`hea_zoo.serving.design.goals.interval_z`; the 90 % interval's by default)."""
    return sigma_from_interval(lower, upper, z)


def expected_improvement(mean, sigma, best: float) -> np.ndarray:
    """E[max(Y − best, 0)] for Y ~ N(mean, sigma²) ("larger is better")."""
    mu, s = np.asarray(mean, np.float64), np.asarray(sigma, np.float64)
    z = (mu - best) / s
    pdf = np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return np.maximum((mu - best) * normal_cdf(z) + s * pdf, 0.0)


def hypervolume_2d(points, reference) -> float:
    """Hypervolume dominated by 2-D points ("larger is better") above `reference`.

    The area of the union of the rectangles [ref, p]: sort by the first objective
    descending, and add each point's strip above the best second objective so far.

    Example:
        >>> hypervolume_2d([[3, 1], [1, 3], [2, 2]], [0, 0])
        6.0
    """
    p = np.asarray(points, np.float64).reshape(-1, 2)
    r = np.asarray(reference, np.float64)
    p = p[np.all(p > r, axis=1)]
    if not len(p):
        return 0.0
    p = p[np.lexsort((-p[:, 1], -p[:, 0]))]
    area, top = 0.0, r[1]
    for a, b in p:
        if b > top:
            area += (a - r[0]) * (b - top)
            top = b
    return float(area)


def hypervolume_improvement(candidates, front, reference) -> np.ndarray:
    """(N,) the hypervolume each candidate point adds to `front` (vectorized over candidates)."""
    c = np.asarray(candidates, np.float64).reshape(-1, 2)
    f = np.asarray(front, np.float64).reshape(-1, 2)
    r = np.asarray(reference, np.float64)
    f = f[np.all(f > r, axis=1)]
    if not len(c):
        return np.zeros(0)
    # The candidate's box [r, c] minus the part of it the front dominates already: the
    # front clipped to the box, its hypervolume (a staircase) per candidate.
    out = np.zeros(len(c))
    inside = np.all(c > r, axis=1)
    if not len(f):
        out[inside] = np.prod(c[inside] - r, axis=1)
        return out
    # Staircase of the front: sorted by objective 1 descending, non-dominated only.
    order = np.lexsort((-f[:, 1], -f[:, 0]))
    f = f[order]
    keep, top = [], -np.inf
    for i, (_a, b) in enumerate(f):
        if b > top:
            keep.append(i)
            top = b
    f = f[keep]  # objective 1 descending, objective 2 ascending
    for i in np.flatnonzero(inside):
        a, b = c[i]
        clipped = np.minimum(f, [a, b])
        covered = hypervolume_2d(clipped, r)
        out[i] = (a - r[0]) * (b - r[1]) - covered
    return np.maximum(out, 0.0)


def greedy_spread(score: np.ndarray, fractions: np.ndarray, n: int, min_distance: float,
                  update=None) -> np.ndarray:  # fmt: skip
    """Picks `n` rows best first by `score`, skipping rows closer than `min_distance` to a
    pick (L1/2 over fractions: the share of atoms to move, 0.1 = 10 at.%).

    `update(taken, score)` (optional) returns the scores after a pick (the believer step
    of two objectives). Returns the picked row indices in pick order (fewer than `n` when
    the candidates run out).
    """
    score = np.array(score, dtype=np.float64)
    x = np.asarray(fractions, np.float64)
    alive = np.isfinite(score)
    taken: list[int] = []
    while len(taken) < n and alive.any():
        i = int(np.flatnonzero(alive)[np.argmax(score[alive])])
        taken.append(i)
        alive &= np.abs(x - x[i]).sum(axis=1) / 2.0 >= min_distance
        alive[i] = False
        if update is not None and len(taken) < n:
            score = np.asarray(update(taken, score), np.float64)
    return np.asarray(taken, dtype=np.int64)

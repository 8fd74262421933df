"""Section 5, the selection: ``diverse`` (greedy max-sum of cosine distances, discounted by
the score, with no two designs within a minimum L1 distance) over the pool of in-tolerance
candidates; ``closest`` is the store's order (`hea_zoo.serving.design.store`)."""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["DIVERSE_DISCOUNT", "MIN_DISTANCE", "MIN_DISTANCE_THOUSANDTHS", "complete", "select_diverse"]

DIVERSE_DISCOUNT = "(1 - score / tolerance)^1.25"
"""How the diverse selection discounts a candidate's distances by its score (section 5).

The next design maximizes ``A * w``: ``A`` the sum of its cosine distances to the designs
taken, ``w = (1 - score / tolerance)^1.25`` (computed as ``f = 1 - score / tolerance;
w = f * sqrt(sqrt(f))``): 1 on the target, 0 at the edge of the tolerance, 1/2 at 43 % of
it. Chosen by measurement (benchmarks/results/design_engine.md)."""

MIN_DISTANCE_THOUSANDTHS = 30
"""Two designs whose printed compositions differ by less than 30 thousandths summed over
the elements (L1 < 0.03, e.g. 1.5 at.% moved from one element to another) are *twins*:
``diverse`` never selects both unless the candidates hold too few designs (section 5)."""

MIN_DISTANCE = MIN_DISTANCE_THOUSANDTHS / 1000
"""`MIN_DISTANCE_THOUSANDTHS` as a fraction (0.03)."""


def _discount(score: np.ndarray, tolerance: float) -> np.ndarray:
    """`DIVERSE_DISCOUNT`: ``(1 - score / tolerance)^1.25`` in float64, as section 5 writes it
    (the pool is in tolerance: ``f >= 0``)."""
    f = 1.0 - np.asarray(score, dtype=np.float64) / tolerance
    return f * np.sqrt(np.sqrt(f))


def _max_sum(
    k: np.ndarray, n: int, weight: np.ndarray | None = None, min_distance: int = MIN_DISTANCE_THOUSANDTHS,
    systems_first: bool = False,
) -> np.ndarray:
    """Greedy max-sum diversification by cosine distance, discounted (section 5): positions in `k`.

    The first pool candidate is taken; then, repeatedly, the *eligible* candidate with the
    largest ``A_i * weight_i`` (float64; ties: earlier in the pool) until `n` are taken or
    none is eligible, where ``A_i`` is the sum, over the candidates taken so far in the
    order taken, of the cosine distance ``1 - (k_i . k_s) / sqrt(|k_i|^2 |k_s|^2)`` (the
    dot products and squared norms are exact integers; the quotient as float64), and a
    candidate is eligible unless its printed vector lies within L1 distance
    ``min_distance`` thousandths (``sum_e |k_ie - k_se| < min_distance``) of one taken (a
    twin). `weight` None: all 1. With `systems_first` (goals, section 7.4), while an
    eligible candidate of an alloy system not yet taken remains (the set of its elements at
    50 thousandths or more), only those are eligible. Returns at most `n` positions, in the
    order taken.
    """
    points = k.astype(np.int64)
    if not points.shape[0] or n < 1:
        return np.zeros(0, np.int64)
    norms = (points * points).sum(axis=1).astype(np.float64)

    def distance(s: int) -> np.ndarray:
        dots = (points @ points[s]).astype(np.float64)
        return 1.0 - dots / np.sqrt(norms * norms[s])

    def twins(s: int) -> np.ndarray:
        return np.abs(points - points[s]).sum(axis=1) < min_distance

    chosen = [0]
    total = distance(0)
    blocked = twins(0)  # taken, or a twin of one taken
    blocked[0] = True
    if systems_first:
        _, system = np.unique(points >= 50, axis=0, return_inverse=True)
        system = system.reshape(-1)
        new_system = system != system[0]
    while len(chosen) < n and not blocked.all():
        value = total * weight if weight is not None else total.copy()
        value[blocked] = -np.inf
        if systems_first and (new_system & ~blocked).any():
            value[~new_system] = -np.inf
        best = int(np.argmax(value))  # the first of equal values: earlier in the pool
        chosen.append(best)
        blocked |= twins(best)
        blocked[best] = True
        total += distance(best)
        if systems_first:
            new_system &= system != system[best]
    return np.asarray(chosen, dtype=np.int64)


def _twin_pairs(k: np.ndarray, min_distance: int = MIN_DISTANCE_THOUSANDTHS) -> int:
    """How many pairs of rows of `k` lie within L1 distance `min_distance` (thousandths)."""
    points = k.astype(np.int64)
    pairs = 0
    for i in range(1, points.shape[0]):
        pairs += int((np.abs(points[:i] - points[i]).sum(axis=1) < min_distance).sum())
    return pairs


@dataclasses.dataclass
class Selected:
    """What the diverse selection took: the records (unsorted), and how."""

    records: np.ndarray
    from_pool: int  # in-tolerance designs taken by max-sum
    filled: int  # the closest out-of-tolerance designs at least `min_distance` from those taken
    relaxed: int  # designs taken although a twin of one taken (the candidates held too few)
    twin_pairs: int  # pairs of the designs within `min_distance`


def select_diverse(pool: np.ndarray, fill: np.ndarray, n: int, tolerance: float, systems_first: bool = False) -> Selected:
    """Section 5, ``diverse``: `n` designs from the `pool` (in tolerance, best first) and the
    `fill` (out of tolerance, best first), no two within L1 `MIN_DISTANCE_THOUSANDTHS`
    unless the candidates held too few.

    1. greedy max-sum over the pool (`_max_sum`, twins not eligible; `systems_first`: new
       alloy systems first, section 7.4);
    2. if fewer than `n`: the fill records in order, each taken when it is no twin of one
       taken;
    3. if still fewer: the remaining pool records, then the remaining fill records, in
       order (twins allowed): `relaxed` counts them.
    """
    taken = (_max_sum(pool["k"], n, _discount(pool["score"], tolerance), systems_first=systems_first) if pool.size
             else np.zeros(0, np.int64))  # fmt: skip
    return complete(pool, taken, fill, n)


def complete(pool: np.ndarray, taken: np.ndarray, fill: np.ndarray, n: int) -> Selected:
    """Steps 2-3 of the diverse selection after step 1 took the pool positions `taken`
    (also the fill of the goal selections with objectives, section 7.4)."""
    parts = [pool[taken]]
    count = taken.size
    filled = relaxed = 0
    if count < n and fill.size:
        points = np.concatenate([pool["k"][taken], fill["k"]]).astype(np.int64)
        base = taken.size
        blocked = np.zeros(fill.size, bool)
        for s in range(base):
            blocked |= np.abs(points[base:] - points[s]).sum(axis=1) < MIN_DISTANCE_THOUSANDTHS
        picks = []
        for j in range(fill.size):
            if count >= n:
                break
            if blocked[j]:
                continue
            picks.append(j)
            count += 1
            blocked |= np.abs(points[base:] - points[base + j]).sum(axis=1) < MIN_DISTANCE_THOUSANDTHS
        filled = len(picks)
        parts.append(fill[np.asarray(picks, dtype=np.int64)])
        left_fill = np.setdiff1d(np.arange(fill.size), picks)
    else:
        left_fill = np.arange(fill.size)
    if count < n:
        left_pool = np.setdiff1d(np.arange(pool.size), taken)
        rest = np.concatenate([pool[left_pool], fill[left_fill]])[: n - count]
        relaxed = rest.size
        parts.append(rest)
    records = np.concatenate(parts)
    return Selected(records, int(taken.size), filled, relaxed, _twin_pairs(records["k"]) if relaxed else 0)


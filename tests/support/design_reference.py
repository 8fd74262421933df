"""A small Python reading of docs/DESIGN_ENGINE.md sections 3-5, for the JavaScript engine's tests.

Not the design engine (that is `hea_zoo.serving.design`, vectorized and streaming): a
plain, row-at-a-time transcription of the specification over `hea_zoo.artifact` (noise,
printing, relative errors) and onnxruntime, so the tests can compare a whole design from
examples/web/engine.js against an implementation written from the text alone, and
against `hea-zoo design`. Where the specification leaves a choice open, this file makes
the choice both engines make, and says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hea_zoo import artifact

DEFAULT_MIN_FRACTION = 0.03  # section 3: the defaults of a design request
DEFAULT_TOLERANCE = 0.05  # section 4
INTERVAL_Z = 1.6448536269514722  # section 4: mean ± z std without a calibrated interval


def default_candidates(n: int) -> int:
    """Section 5: candidates drawn unless the request says."""
    return max(100 * n, 32000)


@dataclass
class Constraints:
    allowed: np.ndarray  # bool (E,)
    lo: np.ndarray  # float (E,)
    hi: np.ndarray
    max_elements: int
    min_fraction: float
    trivial: bool

    @property
    def required(self) -> np.ndarray:
        return self.lo > 0


def constraints(elements, allowed=None, excluded=(), max_elements=None, bounds=None, min_fraction=None,
                threshold=artifact.DROP_THRESHOLD) -> Constraints:  # fmt: skip
    """Normal form of a valid request (validation itself is tested on the JavaScript side).

    Unset, the minimum fraction is 0.03 and there is no maximum number of elements."""
    index = {s: e for e, s in enumerate(elements)}
    E = len(elements)
    ok = np.zeros(E, bool) if allowed is not None else np.ones(E, bool)
    for s in allowed or ():
        ok[index[s]] = True
    for s in excluded:
        ok[index[s]] = False
    lo, hi = np.zeros(E), np.ones(E)
    for s, (a, b) in (bounds or {}).items():
        lo[index[s]], hi[index[s]] = a, b
    f_min = DEFAULT_MIN_FRACTION if min_fraction is None else float(min_fraction)
    lo = np.where((lo > 0) & (lo < f_min), f_min, lo)
    m = E if max_elements is None else int(max_elements)
    # the plain request: steps 1-5 and 7 are skipped
    trivial = bool(ok.all() and not lo.any() and (hi == 1).all() and m >= E and f_min == threshold)
    return Constraints(ok, lo, hi, m, f_min, trivial)


def repair(raw: np.ndarray, c: Constraints) -> np.ndarray | None:
    """Section 3, steps 1-7, for one raw row; the printed thousandths or None (dropped)."""
    if c.trivial:  # the plain request: step 6 prints the raw row
        k, ok = artifact.printed_thousandths(raw[None, :], c.min_fraction)
        return k[0] if ok[0] else None
    x = raw.astype(np.float64).copy()
    if not np.all(np.isfinite(x)):
        return None
    x[~c.allowed] = 0.0  # 1
    x[(x < c.min_fraction) & ~c.required] = 0.0  # 2
    # 3: the r required elements count towards m whether or not present yet; of the others
    # at most m - r stay, the largest (ties: lower column)
    slots = max(c.max_elements - int(c.required.sum()), 0)
    rest = [e for e in range(len(x)) if x[e] > 0 and not c.required[e]]
    if len(rest) > slots:
        rest.sort(key=lambda e: (-x[e], e))
        for e in rest[slots:]:
            x[e] = 0.0
    x[c.required & (x == 0)] = c.lo[c.required & (x == 0)]  # 4
    total = 0.0
    for v in x:  # 5: S, added column by column from 0
        total += v
    if not total > 0:
        return None
    x = x / total
    for _ in range(50):
        moved = 0.0
        clipped = np.zeros(len(x), bool)
        for e in range(len(x)):  # present elements in column order
            if not x[e] > 0:
                continue
            v = c.lo[e] if x[e] < c.lo[e] else (c.hi[e] if x[e] > c.hi[e] else x[e])
            if v != x[e]:
                clipped[e] = True
                moved = max(moved, abs(v - x[e]))
                x[e] = v
        clipped_mass, free = 0.0, 0.0  # C and F, in column order from 0
        for e in range(len(x)):
            if clipped[e]:
                clipped_mass += x[e]
            elif x[e] > 0:
                free += x[e]
        if free > 0:
            for e in range(len(x)):
                if x[e] > 0 and not clipped[e]:
                    v = ((1.0 - clipped_mass) * x[e]) / free
                    moved = max(moved, abs(v - x[e]))
                    x[e] = v
        if not moved > 1e-12:  # also NaN; a row that stopped is not touched again
            break
    k, ok = artifact.printed_thousandths(x[None, :], c.min_fraction)  # 6
    if not ok[0]:
        return None
    k = k[0]
    present = k > 0  # 7
    if np.any(present & ~c.allowed) or present.sum() > c.max_elements:
        return None
    if np.any(present & (k < math.ceil(1000 * c.min_fraction - 1e-9))):
        return None
    if np.any(present & ((k < 1000 * c.lo - 1e-9) | (k > 1000 * c.hi + 1e-9))):
        return None
    if np.any(c.required & ~present):
        return None
    return k


MIN_DISTANCE_THOUSANDTHS = 30  # section 5: designs closer than L1 0.03 are twins


def _l1(a, b) -> int:
    return sum(abs(int(x) - int(y)) for x, y in zip(a, b))


def select(judged: list[dict], n: int, how: str, tolerance: float = DEFAULT_TOLERANCE,
           report: dict | None = None) -> list[dict]:  # fmt: skip
    """Section 5 over deduplicated candidates ({index, k, score, in_tolerance}); `report`
    (a dict) receives how the diverse selection took its designs."""
    by_score = sorted(judged, key=lambda d: (d["score"], d["index"]))
    if how == "closest":
        return by_score[:n]
    size = max(50 * n, 2000)
    pool = [d for d in by_score if d["in_tolerance"]][:size]
    fill = [d for d in by_score if not d["in_tolerance"]][:size]
    chosen = []
    if pool:
        k = [[int(v) for v in d["k"]] for d in pool]
        norm = [float(sum(v * v for v in row)) for row in k]
        weight = []
        for d in pool:  # (1 - score / tolerance)^1.25 as f * sqrt(sqrt(f))
            f = 1.0 - d["score"] / tolerance
            weight.append(f * math.sqrt(math.sqrt(f)))

        def distances(s):  # cosine distances to pool[s]: exact integer dot products
            return [1.0 - float(sum(a * b for a, b in zip(row, k[s]))) / math.sqrt(norm[i] * norm[s])
                    for i, row in enumerate(k)]  # fmt: skip

        total = distances(0)
        chosen = [pool[0]]
        # eligible: not taken and no twin of one taken (L1 >= 30 thousandths to each); kept
        # up to date with each new design (a candidate's twins among the older ones stay)
        eligible = [i > 0 and _l1(k[i], k[0]) >= MIN_DISTANCE_THOUSANDTHS for i in range(len(pool))]
        while len(chosen) < n:
            if not any(eligible):
                break
            # A_i * w_i in float64; the first of the largest: earlier in pool order
            values = [total[i] * weight[i] if eligible[i] else -math.inf for i in range(len(pool))]
            best = max((i for i in range(len(pool)) if eligible[i]), key=lambda i: (values[i], -i))
            chosen.append(pool[best])
            eligible = [eligible[i] and i != best and _l1(k[i], k[best]) >= MIN_DISTANCE_THOUSANDTHS
                        for i in range(len(pool))]  # fmt: skip
            total = [a + b for a, b in zip(total, distances(best))]
    from_pool = len(chosen)
    for d in fill:  # the closest out of tolerance, no twin of one taken
        if len(chosen) >= n:
            break
        if all(_l1(d["k"], c["k"]) >= MIN_DISTANCE_THOUSANDTHS for c in chosen):
            chosen.append(d)
    filled = len(chosen) - from_pool
    ids = {id(d) for d in chosen}
    rest = [d for d in pool + fill if id(d) not in ids][: max(n - len(chosen), 0)]
    chosen += rest
    if report is not None:
        pairs = sum(_l1(a["k"], b["k"]) < MIN_DISTANCE_THOUSANDTHS for i, a in enumerate(chosen) for b in chosen[:i])
        report.update(pool=len(pool), from_pool=from_pool, filled=filled, relaxed=len(rest), twin_pairs=pairs)
    return sorted(chosen, key=lambda d: (d["score"], d["index"]))


class Infeasible(ValueError):
    """Section 5: no candidate survived section 3."""


def design(generator_path, surrogate_path, target, n, seed, candidates=None, how="diverse", tolerance=0.05,
           chunk_size=4096, **constraint_args) -> dict:  # fmt: skip
    """The whole design with onnxruntime (Python): designs sorted by (score, index).

    `surrogate_path` None: no surrogate (every score 0, every candidate in tolerance)."""
    import onnxruntime as ort

    from hea_zoo.artifact import decode_metadata

    gen = ort.InferenceSession(str(generator_path), providers=["CPUExecutionProvider"])
    sur = ort.InferenceSession(str(surrogate_path), providers=["CPUExecutionProvider"]) if surrogate_path else None
    meta = decode_metadata(dict(gen.get_modelmeta().custom_metadata_map))
    elements = meta["elements"]
    threshold = float(meta.get("composition_threshold", artifact.DROP_THRESHOLD))
    c = constraints(elements, threshold=threshold, **constraint_args)
    target = np.asarray(target, np.float64)
    rng = np.asarray(meta["condition_range"], np.float64)
    floors = np.maximum(0.01 * (rng[1] - rng[0]), 1e-9)
    count = candidates or default_candidates(n)
    if count < n:
        raise ValueError(f"fewer candidates ({count}) than designs ({n})")
    seen, judged, valid = set(), [], 0
    for start in range(0, count, chunk_size):
        rows = min(chunk_size, count - start)
        z = artifact.noise(seed, rows, int(meta["latent_dim"]), start_row=start)
        cond = np.tile(target.astype(np.float32)[None, :], (rows, 1))
        (raw,) = gen.run(["composition"], {"z": z, "condition": cond})
        fresh = []
        for i in range(rows):
            k = repair(raw[i], c)
            if k is None:
                continue
            valid += 1
            if tuple(k) in seen:  # deduplicated before judging, first occurrence kept
                continue
            seen.add(tuple(k))
            fresh.append({"index": start + i, "k": k.tolist()})
        if not fresh:
            continue
        if sur is None:
            for d in fresh:
                d["score"], d["in_tolerance"] = 0.0, True
                judged.append(d)
            continue
        x = np.array([d["k"] for d in fresh], np.float32) / np.float32(1000)
        mean, std = sur.run(["properties", "properties_std"], {"composition": x})
        half = np.float32(INTERVAL_Z) * std  # float32, as the specification says
        errors = artifact.relative_errors(mean, target, floors)
        for d, e, m, lo, hi in zip(fresh, errors, mean, mean - half, mean + half):
            score = float(e.sum() / len(e))
            d["score"] = math.inf if math.isnan(score) else score
            d["errors"] = e.tolist()
            d["in_tolerance"] = bool(np.all(e <= tolerance))
            d["mean"], d["lower"], d["upper"] = m.tolist(), lo.tolist(), hi.tolist()
            judged.append(d)
    if valid == 0:
        raise Infeasible(f"no candidate satisfies the constraints among {count} candidates tried")
    designs = select(judged, n, how, tolerance)
    systems = {tuple(s for s, v in zip(elements, d["k"]) if v >= 50) for d in designs}
    return {"designs": designs, "systems": len(systems), "elements": elements, "unique": len(judged), "valid": valid}

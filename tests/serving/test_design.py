"""The design engine (hea_zoo.serving.design) on the committed ONNX exports: selection,
streaming, judging as printed, the oracle and interval columns, and bad input."""

from __future__ import annotations

import math
import sys
import warnings

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest

from hea_zoo.artifact import (
    MetadataError,
    formula_strings,
    noise,
    parse_printed,
    printed_thousandths,
)
from hea_zoo.constants import BUNDLED_FINGERPRINT
from hea_zoo.serving import design
from hea_zoo.serving.design import text
from hea_zoo.serving.design import (
    Constraints,
    DesignRequest,
    UsageError,
    Designer,
    InfeasibleError,
    ModelFileError,
    TargetError,
)
from tests.support.design_exports import (
    EXPORTED,
    calibrated_surrogate,
    copy_export,
    foreign_onnx,
    log_prob_model,
    models_dir,
    reference_log_prob,
    truncated_copy,
)

TARGET = [60.0, 35.0]


@pytest.fixture(scope="module")
def cvae() -> Designer:
    return Designer.from_exported("cvae", EXPORTED)


def _fractions(result, designer) -> np.ndarray:
    return np.stack([result.rows[e] for e in designer.elements], axis=1)


def _thousandths(result, designer) -> np.ndarray:
    return np.rint(_fractions(result, designer).astype(np.float64) * 1000).astype(np.int64)


def _surrogate(fractions: np.ndarray):
    session = ort.InferenceSession(str(EXPORTED / "surrogate.onnx"), providers=["CPUExecutionProvider"])
    return session.run(["properties", "properties_std"], {"composition": fractions.astype(np.float32)})


# ----------------------------------------------------------------------------- the designs
@pytest.mark.parametrize("select", ["diverse", "closest"])
def test_designs_are_distinct_printed_and_sorted(cvae, select):
    result = cvae.design(TARGET, n=20, seed=0, select=select)
    rows = result.rows
    assert result.n_designs == 20 and list(rows["rank"]) == list(range(1, 21))
    k = _thousandths(result, cvae)
    assert np.all(k.sum(axis=1) == 1000)
    assert len(set(rows["formula"])) == 20
    # the formula is the printed composition, and printing is a fixed point
    assert formula_strings(parse_printed(rows["formula"], cvae.elements), cvae.elements) == list(rows["formula"])
    np.testing.assert_array_equal(parse_printed(rows["formula"], cvae.elements), k)
    keys = list(zip(rows["relative_error_surrogate"], rows["candidate"]))
    assert keys == sorted(keys)
    assert result.n_candidates == design.default_candidates(20) == 32000
    assert result.n_systems == len(set(rows["system"]))


def test_judged_as_printed(cvae):
    """The surrogate columns are the surrogate's output on the printed fractions."""
    result = cvae.design(TARGET, n=15, seed=4, select="closest")
    x = _fractions(result, cvae)
    mean, std = _surrogate(x)
    np.testing.assert_array_equal(result.rows["shear_modulus_surrogate"], mean[:, 0])
    np.testing.assert_array_equal(result.rows["fracture_toughness_surrogate"], mean[:, 1])
    session = ort.InferenceSession(str(EXPORTED / "surrogate.onnx"), providers=["CPUExecutionProvider"])
    lower, upper = session.run(["properties_lower", "properties_upper"], {"composition": x.astype(np.float32)})
    # The committed surrogate is calibrated: its own interval outputs are printed.
    np.testing.assert_array_equal(result.rows["shear_modulus_lower"], lower[:, 0])
    np.testing.assert_array_equal(result.rows["shear_modulus_upper"], upper[:, 0])
    assert np.all(lower <= mean) and np.all(mean <= upper)
    rel = np.abs(mean.astype(np.float64) - TARGET) / np.abs(TARGET)
    np.testing.assert_allclose(result.rows["relative_error_surrogate"], rel.mean(axis=1), rtol=1e-12)
    assert not any("not calibrated" in n for n in result.notes)


def test_candidates_decode_their_noise_row(cvae):
    """Candidate r is the printed decode of noise row r (the spec's 'rows = candidate index')."""
    result = cvae.design(TARGET, n=10, seed=11, select="closest", candidates=500,
                         constraints={"min_fraction": 0.005})  # fmt: skip
    rows = np.asarray(result.rows["candidate"])
    z = noise(11, 500, cvae.latent_dim)[rows]
    raw = cvae._generator.run(["composition"], {"z": z, "condition": np.tile(np.float32([TARGET]), (len(rows), 1))})[0]
    k, ok = printed_thousandths(raw)
    assert ok.all()
    np.testing.assert_array_equal(k, _thousandths(result, cvae))


def _brute_force(designer, target, n, seed, candidates, select, tolerance=0.05, constraints=None):
    """The specification, literally: every candidate repaired, deduplicated, judged, selected."""
    rules = Constraints.coerce(constraints).resolve(designer.elements)
    raw = designer.generate(target, candidates, seed)
    k, ok = design._repair(raw, rules)
    seen, index, rows = set(), [], []
    for i in np.flatnonzero(ok):
        key = tuple(k[i])
        if key not in seen:
            seen.add(key)
            index.append(i)
            rows.append(k[i])
    rows = np.array(rows)
    mean = designer.judge(rows / 1000.0)[0].astype(np.float64)
    floors = designer.scale_floors()
    errors = np.abs(mean - target) / np.maximum(np.abs(target), floors)
    score = errors.sum(axis=1) / len(target)
    in_tol = np.all(errors <= tolerance, axis=1)
    order = sorted(range(len(index)), key=lambda i: (score[i], index[i]))
    if select == "closest":
        chosen = order[:n]
    else:
        pool = [i for i in order if in_tol[i]][: max(50 * n, 2000)]
        fill = [i for i in order if not in_tol[i]][: max(50 * n, 2000)]

        def twin(i, taken):  # within L1 0.03 (30 thousandths) of a design taken
            return any(int(np.abs(rows[i].astype(np.int64) - rows[s]).sum()) < 30 for s in taken)

        chosen = pool[:1]
        if chosen:
            while len(chosen) < n and any(i not in chosen and not twin(i, chosen) for i in pool):
                def value(i):  # A_i (1 - score_i / tolerance)^1.25, A_i summed in the order taken
                    f = 1.0 - float(score[i]) / tolerance
                    a, b = rows[i].astype(np.int64), [rows[s].astype(np.int64) for s in chosen]
                    total = 0.0
                    for r in b:
                        total += 1.0 - float(a @ r) / math.sqrt(float(a @ a) * float(r @ r))
                    return total * (f * math.sqrt(math.sqrt(f)))

                best = max((i for i in pool if i not in chosen and not twin(i, chosen)),
                           key=lambda i: (value(i), -pool.index(i)))  # fmt: skip
                chosen.append(best)
        for i in fill:
            if len(chosen) < n and not twin(i, chosen):
                chosen.append(i)
        chosen += [i for i in pool + fill if i not in chosen][: n - len(chosen)]
        chosen = sorted(chosen, key=lambda i: (score[i], index[i]))
    return [int(index[i]) for i in chosen]


@pytest.mark.parametrize("select", ["closest", "diverse"])
@pytest.mark.parametrize("constraints", [None, {"max_elements": 5, "bounds": {"Ti": (0.1, 0.3)}}])
def test_selection_matches_the_specification(cvae, select, constraints):
    result = cvae.design(TARGET, n=8, seed=2, candidates=400, select=select, constraints=constraints)
    expected = _brute_force(cvae, np.array(TARGET), 8, 2, 400, select, constraints=constraints)
    assert list(result.rows["candidate"]) == expected


@pytest.mark.parametrize("select", ["closest", "diverse"])
def test_chunked_runs_give_the_same_designs(cvae, select):
    kwargs = dict(n=25, seed=7, candidates=3000, select=select,
                  constraints={"exclude": ["Al"], "bounds": {"Nb": (0.1, 0.5)}})  # fmt: skip
    whole = cvae.design(TARGET, chunk_size=3000, **kwargs)
    for chunk in (1, 97, 1024):
        if chunk == 1:
            kwargs_small = dict(kwargs, candidates=400)
            pd.testing.assert_frame_equal(cvae.design(TARGET, chunk_size=1, **kwargs_small).table,
                                          cvae.design(TARGET, chunk_size=400, **kwargs_small).table)  # fmt: skip
            continue
        pd.testing.assert_frame_equal(cvae.design(TARGET, chunk_size=chunk, **kwargs).table, whole.table)


def test_threads_do_not_change_a_byte(cvae, monkeypatch, tmp_path):
    kwargs = dict(n=3000, candidates=40_000, seed=4, select="closest", chunk_size=5000)
    monkeypatch.setattr(design.pipeline, "_PIECE_ROWS", 1500)  # many pieces in flight
    threaded = cvae.design(TARGET, out=tmp_path / "threads.csv", **kwargs)
    monkeypatch.setattr(design.pipeline, "_WORKERS", 1)
    alone = cvae.design(TARGET, out=tmp_path / "alone.csv", **kwargs)
    assert (tmp_path / "threads.csv").read_bytes() == (tmp_path / "alone.csv").read_bytes()
    assert (threaded.n_valid, threaded.n_distinct, threaded.n_systems) == (alone.n_valid, alone.n_distinct, alone.n_systems)


def test_ordered_map_keeps_the_order_and_raises_in_order():
    import time

    def slow(i):
        time.sleep(0.002 * (i % 3))
        if i == 7:
            raise KeyError(i)
        return i * i

    assert list(design._ordered_map(slow, range(7), workers=3)) == [i * i for i in range(7)]
    assert list(design._ordered_map(slow, range(7), workers=1)) == [i * i for i in range(7)]
    got = []
    with pytest.raises(KeyError):
        for value in design._ordered_map(slow, range(20), workers=3):
            got.append(value)
    assert got == [i * i for i in range(7)]


def test_spilled_store_gives_the_same_designs(cvae, monkeypatch, tmp_path):
    """`closest` with millions of designs spills to a file; force it on a small run."""
    whole = cvae.design(TARGET, n=2500, candidates=3000, seed=1, select="closest", out=tmp_path / "a.csv")
    monkeypatch.setattr(design.store, "_SPILL_RECORDS", 700)
    spilled = cvae.design(TARGET, n=2500, candidates=3000, seed=1, select="closest", chunk_size=500,
                          out=tmp_path / "b.csv")  # fmt: skip
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    pd.testing.assert_frame_equal(whole.table, spilled.table)


def test_best_records_keep_the_best_with_ties():
    rng = np.random.default_rng(0)
    dtype = design._record_dtype(3, 1)
    records = np.zeros(5000, dtype)
    records["index"] = np.arange(5000)
    records["score"] = rng.integers(0, 40, 5000) / 8.0  # many ties
    expected = records[np.lexsort((records["index"], records["score"]))][:300]
    for spill in (False, True):
        store = design._BestRecords(300, dtype, spill=spill)
        for start in range(0, 5000, 123):
            store.offer(records[start : start + 123])
        got = np.concatenate(list(store.sorted_blocks(64)))
        store.close()
        np.testing.assert_array_equal(got, expected)


def test_seen_hashes_match_a_set():
    rng = np.random.default_rng(1)
    seen, reference = design._SeenHashes(), set()
    for _ in range(40):
        h = rng.integers(0, 3000, 200).astype(np.uint64)
        expected = np.zeros(200, bool)
        for i, v in enumerate(h.tolist()):
            if v not in reference:
                reference.add(v)
                expected[i] = True
        np.testing.assert_array_equal(seen.first_seen(h), expected)
    assert len(seen) == len(reference)


def test_diverse_is_more_diverse_than_closest(cvae):
    from hea_zoo.evaluation import metrics

    diverse = cvae.design(TARGET, n=20, seed=0, select="diverse")
    closest = cvae.design(TARGET, n=20, seed=0, select="closest")
    # the reported number of systems is that of the designs' `system` column (max-sum may
    # span fewer systems than the closest designs: it prefers designs sharing few elements)
    for result in (diverse, closest):
        assert result.n_systems == len(set(result.rows["system"])) >= 2
    assert all(diverse.rows["in_tolerance"])  # the pool is larger than n: all within 5 %
    cosine = {name: metrics.within_condition_cosine_similarity(_fractions(r, cvae)[None].astype(float)).mean
              for name, r in (("diverse", diverse), ("closest", closest))}  # fmt: skip
    assert cosine["diverse"] < cosine["closest"] - 0.1, cosine
    k_d, k_c = (_thousandths(r, cvae).astype(float) for r in (diverse, closest))
    spread = lambda k: np.mean([np.linalg.norm(a - b) for a in k for b in k])  # noqa: E731
    assert spread(k_d) > 1.25 * spread(k_c)


def test_max_sum_discounts_cosine_distances_by_score():
    """Section 5: each next design has the largest sum of cosine distances to those taken,
    times (1 - score / tolerance)^1.25; with equal scores it is plain max-sum diversification."""
    k = np.array([[1000, 0, 0], [500, 500, 0], [0, 1000, 0], [0, 0, 1000]])
    # from [0]: cosine distances 0, 1 - 1/sqrt(2), 1, 1 -> [2] (the earlier of the two at 1);
    # then the sums are 1.29 for [1] and 2 for [3] -> [3]
    np.testing.assert_array_equal(design._max_sum(k, 3), [0, 2, 3])
    np.testing.assert_array_equal(design._max_sum(k, 3, design._discount(np.zeros(4), 0.05)), [0, 2, 3])
    # [2] and [3] use three quarters of the tolerance: weight 0.25^1.25 = 0.177, so
    # 1 * 0.177 < (1 - 1/sqrt(2)) * 1 = 0.293 for [1]
    weight = design._discount(np.array([0.0, 0.0, 0.0375, 0.0375]), 0.05)
    np.testing.assert_allclose(weight, [1.0, 1.0, 0.25**1.25, 0.25**1.25], rtol=1e-12)
    np.testing.assert_array_equal(design._max_sum(k, 2, weight), [0, 1])
    # at half the tolerance the weight is 0.5^1.25 = 0.420 > 0.293: [2] comes before [1]
    half = design._discount(np.array([0.0, 0.0, 0.025, 0.025]), 0.05)
    np.testing.assert_allclose(half[2], 0.5**1.25, rtol=1e-15)
    np.testing.assert_array_equal(design._max_sum(k, 2, half), [0, 2])
    # a sum, not a minimum: after [0] and [1], a is orthogonal to [0] and 0.2 from [1] (sum
    # 1.2, minimum 0.2), b is 0.49996 from each (sum 0.99992, minimum 0.49996): max-sum
    # takes a, where farthest-point selection would take b
    e = np.array([[1000, 0, 0], [0, 1000, 0], [0, 800, 600], [500, 500, 707]])
    np.testing.assert_array_equal(design._max_sum(e, 3), [0, 1, 2])
    # at the edge of the tolerance the weight is 0; ties in A * w go to the earlier pool position
    assert design._discount(np.array([0.05]), 0.05)[0] == 0.0
    np.testing.assert_array_equal(design._max_sum(k, 2, design._discount(np.full(4, 0.05), 0.05)), [0, 1])


def test_max_sum_matches_a_direct_sum_of_cosine_distances():
    """The running sums are the sums of cosine distances to every design taken, exactly as
    a direct recomputation gives them, and each step takes the best discounted sum."""
    rng = np.random.default_rng(3)
    k = np.vstack([rng.multinomial(1000, rng.dirichlet(np.ones(6) * 0.3)) for _ in range(300)])
    weight = design._discount(rng.uniform(0, 0.05, 300), 0.05)
    chosen = design._max_sum(k, 15, weight)
    assert len(set(chosen.tolist())) == 15 and chosen[0] == 0
    u = k / np.linalg.norm(k, axis=1, keepdims=True)
    for step in range(1, 15):
        taken = chosen[:step]
        sums = (1.0 - u @ u[taken].T).sum(axis=1) * weight
        sums[taken] = -np.inf
        assert sums[chosen[step]] >= sums.max() - 1e-12


def _reachable_designs_by_the_oracle(designer):
    """`designer` at 12 reachable targets (20 designs, 8,000 candidates, seed i), judged by the
    physics oracle: (mean relative error, within-target cosine, median systems)."""
    import hea_zoo
    from hea_zoo.data import oracle
    from hea_zoo.evaluation import metrics
    from hea_zoo.evaluation.experiments import novelty_conditions

    targets = np.asarray(novelty_conditions(hea_zoo.load_dataset(), 12, seed=0).conditions, dtype=np.float64)
    designs, errors, systems = [], [], []
    for i, t in enumerate(targets):
        result = designer.design(list(t), n=20, seed=i, candidates=8000)
        x = _fractions(result, designer).astype(np.float64)
        designs.append(x)
        errors.append(np.abs(oracle.properties(x, designer.elements) - t) / np.abs(t))
        systems.append(result.n_systems)
    cosine = metrics.within_condition_cosine_similarity(np.stack(designs)).mean
    return float(np.mean(errors)), float(cosine), float(np.median(systems))


@pytest.fixture(scope="module")
def cae_by_the_oracle():
    """The default rule's designs with the cAE, measured once for the tests that compare rules."""
    cae = Designer.from_exported("cae", EXPORTED)
    return cae, _reachable_designs_by_the_oracle(cae)


def test_discounted_selection_is_more_accurate_by_the_oracle(cae_by_the_oracle, monkeypatch):
    """The score discount exists for this: at reachable targets the designs it selects are
    closer to the target by the physics oracle (ground truth) than those of plain
    max-sum selection, and still span many alloy systems."""
    cae, discounted = cae_by_the_oracle
    monkeypatch.setattr(design.selection, "_discount", lambda score, tolerance: np.ones(len(score)))
    plain = _reachable_designs_by_the_oracle(cae)
    assert discounted[0] < plain[0] - 0.003, (discounted, plain)
    assert discounted[2] >= 10, discounted


def test_max_sum_is_more_diverse_than_farthest_point_at_equal_accuracy(cae_by_the_oracle, monkeypatch):
    """Why max-sum: at reachable targets, against the previous rule (greedy farthest-point
    selection: the minimum squared distance times (1 - score / tolerance)^4), its designs
    have a lower within-target cosine similarity at an oracle error no worse
    (docs/DESIGN_ENGINE.md, section 5)."""

    def farthest_point(k, n, weight, systems_first=False):
        weight = weight * weight  # (1 - score / tolerance)^4
        points = k.astype(np.int64)
        chosen, taken = [0], np.zeros(len(points), bool)
        taken[0] = True
        distance = ((points - points[0]) ** 2).sum(axis=1).astype(np.float64)
        while len(chosen) < n:
            value = distance * weight
            value[taken] = -np.inf
            best = int(np.argmax(value))
            chosen.append(best)
            taken[best] = True
            distance = np.minimum(distance, ((points - points[best]) ** 2).sum(axis=1))
        return np.asarray(chosen)

    cae, max_sum = cae_by_the_oracle
    monkeypatch.setattr(design.selection, "_max_sum", farthest_point)
    farthest = _reachable_designs_by_the_oracle(cae)
    assert max_sum[1] < farthest[1] - 0.02, (max_sum, farthest)
    assert max_sum[0] < farthest[0] + 0.002, (max_sum, farthest)


def test_few_in_tolerance_falls_back_to_the_closest(cvae):
    result = cvae.design([150.0, 5.0], n=20, seed=0, tolerance=0.001)
    assert result.n_in_tolerance < 20
    assert any("closest" in note and "within 0.1 %" in note for note in result.notes)
    # the rest are the closest others that are no twins (L1 >= 0.03) of a design taken
    closest = cvae.design([150.0, 5.0], n=2000, candidates=32000, seed=0, tolerance=0.001, select="closest")
    k, inside = _printed(closest, cvae.elements), closest.rows["in_tolerance"]
    assert design._twin_pairs(k[inside]) == 0  # all the in-tolerance ones are taken
    expected = list(np.flatnonzero(inside))
    for i in np.flatnonzero(~inside):
        if len(expected) < 20 and all(np.abs(k[i] - k[j]).sum() >= 30 for j in expected):
            expected.append(i)
    assert sorted(result.rows["candidate"]) == sorted(closest.rows["candidate"][expected])
    assert design._twin_pairs(_printed(result, cvae.elements)) == 0


def _printed(result, elements) -> np.ndarray:
    """The designs' printed compositions in thousandths, (n, E) int64."""
    return np.rint(np.stack([result.rows[s] for s in elements], axis=1) * 1000).astype(np.int64)


def test_seed_none_is_drawn_and_reported(cvae):
    first = cvae.design(TARGET, n=5)
    assert 0 <= first.seed < 2**32
    again = cvae.design(TARGET, n=5, seed=first.seed)
    pd.testing.assert_frame_equal(first.table, again.table)


def test_default_constraints_make_realistic_designs(cvae):
    """With the measured default minimum fraction, no design holds a trace below 3 at.%."""
    k = _thousandths(cvae.design(TARGET, n=40, seed=0), cvae)
    assert k[k > 0].min() >= 1000 * design.DEFAULT_MIN_FRACTION
    plain = _thousandths(cvae.design(TARGET, n=40, seed=0, constraints={"min_fraction": 0.005}), cvae)
    assert (plain > 0).sum(axis=1).mean() > (k > 0).sum(axis=1).mean()


def test_progress_callback_reaches_the_total(cvae):
    calls = []
    cvae.design(TARGET, n=5, candidates=1000, seed=0, chunk_size=300, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(300, 1000), (600, 1000), (900, 1000), (1000, 1000)]


# ----------------------------------------------------------------------------- targets and sizes
def test_target_zero_ranks_by_the_range_floor(cvae):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            result = cvae.design([0.0, 35.0], n=5, seed=0, select="closest")
    rows = result.rows
    floor = cvae.scale_floors()
    expected = (np.abs(rows["shear_modulus_surrogate"].astype(np.float64)) / floor[0]
                + np.abs(rows["fracture_toughness_surrogate"].astype(np.float64) - 35.0) / 35.0) / 2  # fmt: skip
    np.testing.assert_allclose(rows["relative_error_surrogate"], expected, rtol=1e-12)
    assert np.all(np.isfinite(rows["relative_error_surrogate"]))


@pytest.mark.parametrize(
    "kwargs, error, fragment",
    [
        ({"n": -5}, UsageError, "n: must be a positive integer"),
        ({"n": 0}, UsageError, "n: must be a positive integer"),
        ({"n": 2.5}, UsageError, "n: must be an integer"),
        ({"n": 20, "candidates": 5}, UsageError, "candidates: 5 is fewer than the 20 designs"),
        ({"candidates": 0}, UsageError, "candidates: must be a positive integer"),
        ({"candidates": 2**32 + 1}, UsageError, "candidates: must be at most 4,294,967,296"),
        ({"seed": -1}, UsageError, "seed: must be an integer in [0, 4294967295]"),
        ({"seed": 2**32}, UsageError, "seed: must be an integer in [0, 4294967295]"),
        ({"tolerance": 0}, TargetError, "tolerance: must be a positive number"),
        ({"tolerance": -0.1}, TargetError, "tolerance: must be a positive number"),
        ({"tolerance": float("inf")}, TargetError, "tolerance: must be a positive number"),
        ({"select": "best"}, UsageError, "select: must be diverse or closest"),
        ({"chunk_size": 0}, UsageError, "chunk_size: must be a positive integer"),
        ({"target": [60.0]}, TargetError, "expected 2 target values"),
        ({"target": [60.0, float("nan")]}, TargetError, "target[1]: must be a finite number"),
        ({"target": [1e39, 35.0]}, TargetError, "beyond what the models take"),
        ({"target": [-5.0, 35.0]}, TargetError, "target[0]: must be nonnegative (its training values are never negative)"),
        ({"target": {"shear_modulus": 60.0}}, TargetError, "missing target value(s) for ['fracture_toughness']"),
        ({"target": {"shear_modulus": 60, "fracture_toughness": 35, "hardness": 3}}, TargetError, "unknown target(s) ['hardness']"),
        ({"target": {"shear_modulus": float("inf"), "fracture_toughness": 35}}, TargetError,
         "target['shear_modulus']: must be a finite number"),
    ],
)
def test_bad_requests_raise(cvae, kwargs, error, fragment):
    kwargs = dict(kwargs)
    target = kwargs.pop("target", TARGET)
    with pytest.raises(error) as info:
        cvae.design(target, **kwargs)
    assert fragment in str(info.value)


def test_infeasible_constraints_name_the_request_and_the_count(cvae):
    with pytest.raises(InfeasibleError) as info:
        cvae.design(TARGET, n=5, candidates=300, seed=0, constraints={"elements": ["Be", "O"]})
    message = str(info.value)
    assert "elements Be,O" in message and "300 candidates" in message
    assert "\n" not in message


def test_fewer_distinct_than_asked_is_noted(cvae):
    result = cvae.design(TARGET, n=50, candidates=200, seed=0,
                         constraints={"elements": ["Nb", "Ta", "Ti"], "max_elements": 1})  # fmt: skip
    assert result.n_designs == result.n_distinct < 50
    assert any("designs instead of 50" in note for note in result.notes)


# ----------------------------------------------------------------------------- exports with more
def test_oracle_columns_where_the_data_fingerprint_says_so(tmp_path, cvae):
    folder = models_dir(tmp_path, updates={"data_fingerprint": BUNDLED_FINGERPRINT})
    designer = Designer.from_exported("cvae", folder)
    measured = Designer.from_exported("cvae", models_dir(tmp_path / "measured", updates={"data_fingerprint": "0" * 64}))
    assert designer.uses_oracle and not measured.uses_oracle
    result = designer.design(TARGET, n=10, seed=0)
    from hea_zoo.data import oracle

    truth = oracle.properties(_fractions(result, designer).astype(np.float64) / 1.0)
    x = _thousandths(result, designer) / 1000.0
    truth = oracle.properties(x)
    np.testing.assert_allclose(result.rows["shear_modulus_oracle"], truth[:, 0], rtol=1e-12)
    np.testing.assert_allclose(result.rows["fracture_toughness_oracle"], truth[:, 1], rtol=1e-12)
    expected = (np.abs(truth - TARGET) / np.abs(TARGET)).mean(axis=1)
    np.testing.assert_allclose(result.rows["relative_error_oracle"], expected, rtol=1e-12)
    assert "shear_modulus_oracle" not in measured.design(TARGET, n=3, seed=0).rows


def test_calibrated_interval_outputs_are_used(tmp_path):
    folder = models_dir(tmp_path, surrogate=False)
    calibrated_surrogate(folder, z=2.0)
    designer = Designer.from_exported("cvae", folder)
    assert designer.calibrated
    result = designer.design(TARGET, n=8, seed=0)
    mean, std = _surrogate(_fractions(result, designer))
    np.testing.assert_array_equal(result.rows["shear_modulus_lower"], mean[:, 0] - np.float32(2.0) * std[:, 0])
    np.testing.assert_array_equal(result.rows["fracture_toughness_upper"], mean[:, 1] + np.float32(2.0) * std[:, 1])
    assert not any("calibrated" in note for note in result.notes)


def test_uncalibrated_interval_outputs_fall_back_on_the_spread(tmp_path):
    """A surrogate exported uncalibrated (calibration_size 0: its interval outputs are NaN)
    is read like one without interval outputs."""
    import onnx

    folder = models_dir(tmp_path, surrogate=False)
    path = calibrated_surrogate(folder, z=2.0)
    model = onnx.load(str(path))
    model.metadata_props.add(key="calibration_size", value="0")
    onnx.save(model, str(path))
    designer = Designer.from_exported("cvae", folder)
    assert not designer.calibrated
    result = designer.design(TARGET, n=4, seed=0)
    mean, std = _surrogate(_fractions(result, designer))
    half = np.float32(1.6448536269514722) * std[:, 0]
    np.testing.assert_allclose(result.rows["shear_modulus_lower"], mean[:, 0] - half, rtol=1e-6)
    assert any("not calibrated" in note for note in result.notes)


def test_log_prob_column_when_the_generator_has_a_density(tmp_path):
    log_prob_model(tmp_path / "cvae_log_prob.onnx")
    folder = models_dir(tmp_path, updates={"log_prob_model": "cvae_log_prob.onnx"})
    designer = Designer.from_exported("cvae", folder)
    result = designer.design(TARGET, n=6, seed=0)
    expected = reference_log_prob(_fractions(result, designer), TARGET)
    np.testing.assert_allclose(result.rows["log_prob"], expected, rtol=1e-5)
    assert list(result.table.columns).index("log_prob") < list(result.table.columns).index("system")


def test_training_compositions_warn_when_constraints_exclude_them_all(tmp_path):
    training = ["Hf0.2Nb0.2Ta0.2Ti0.2Zr0.2", "Mo0.25Nb0.25Ta0.25W0.25"]
    folder = models_dir(tmp_path, updates={"training_compositions": training})
    designer = Designer.from_exported("cvae", folder)
    inside = designer.design(TARGET, n=3, seed=0, constraints={"elements": "Mo,Nb,Ta,W,V"})
    assert not any("extrapolations beyond the data" in note for note in inside.notes)
    outside = designer.design(TARGET, n=3, seed=0, constraints={"exclude": ["Nb"]})
    assert any("no training alloy satisfies the constraints" in note for note in outside.notes)


def test_no_surrogate_designs_in_candidate_order(tmp_path):
    folder = models_dir(tmp_path, surrogate=False)
    designer = Designer.from_exported("cvae", folder)
    assert not designer.has_surrogate
    result = designer.design(TARGET, n=10, seed=0, select="closest")
    assert list(result.rows["candidate"]) == sorted(result.rows["candidate"])
    assert "shear_modulus_surrogate" not in result.rows
    assert any("no surrogate found" in note and "export command" in note for note in result.notes)
    assert "best by surrogate" not in design.format_table(result, designer)


# ----------------------------------------------------------------------------- broken files
def test_broken_generator_files_name_the_file_and_key(tmp_path):
    bad = truncated_copy(EXPORTED / "cvae.onnx", tmp_path / "cut.onnx")
    with pytest.raises(ModelFileError, match="cut.onnx is not a readable ONNX generator"):
        Designer(bad)
    with pytest.raises(MetadataError, match="foreign.onnx.*missing key"):
        Designer(foreign_onnx(tmp_path / "foreign.onnx"))
    missing = copy_export("cvae", tmp_path, remove=("latent_dim",), as_name="nolatent")
    with pytest.raises(MetadataError, match="nolatent.onnx: metadata is missing key\\(s\\) 'latent_dim'"):
        Designer(missing)
    broken = copy_export("cvae", tmp_path, raw={"elements": '["Al", "Be"'}, as_name="badjson")
    with pytest.raises(MetadataError, match="badjson.onnx: metadata key 'elements' does not parse"):
        Designer(broken)
    surrogate_as_generator = EXPORTED / "surrogate.onnx"
    with pytest.raises(MetadataError, match="missing key"):
        Designer(surrogate_as_generator)


def test_broken_surrogate_names_the_surrogate(tmp_path):
    folder = models_dir(tmp_path, surrogate=False)
    truncated_copy(EXPORTED / "surrogate.onnx", folder / "surrogate.onnx")
    with pytest.raises(ModelFileError, match="surrogate.onnx is not a readable ONNX surrogate"):
        Designer.from_exported("cvae", folder)


# ----------------------------------------------------------------------------- output files
def test_csv_holds_every_design_and_the_table_the_first(cvae, tmp_path):
    out = tmp_path / "designs.csv"
    result = cvae.design(TARGET, n=300, seed=0, select="closest", out=out, table_rows=40)
    assert result.out == out and len(result.table) == 40
    written = pd.read_csv(out)
    assert len(written) == 300 and list(written.columns) == list(result.table.columns)
    full = cvae.design(TARGET, n=300, seed=0, select="closest").table
    assert list(written["formula"]) == list(full["formula"]) and list(written["system"]) == list(full["system"])
    for column in full.columns:
        if full[column].dtype.kind == "f":
            decimals = 6 if column.startswith("relative_error") else 4
            np.testing.assert_allclose(written[column], full[column], atol=0.51 * 10**-decimals, rtol=0)
    # a second run replaces the file whole
    cvae.design(TARGET, n=3, seed=0, out=out)
    assert len(pd.read_csv(out)) == 3 and not list(tmp_path.glob(".*tmp*"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc, where nobody can create files")
def test_unwritable_out_fails_before_the_work(cvae, tmp_path):
    calls = []
    for out, fragment in (
        ("/proc/hea_zoo_designs.csv", "not writable"),
        (tmp_path / "notes.txt" / "designs.csv", "is not a folder"),
        (tmp_path, "is a folder"),
    ):
        (tmp_path / "notes.txt").write_text("a file, not a folder")
        with pytest.raises(design.DesignError, match=fragment):
            cvae.design(TARGET, n=3, out=out, progress=lambda d, t: calls.append(d))
    assert not calls  # nothing was generated


def test_parquet_output(cvae, tmp_path):
    pytest.importorskip("pyarrow")
    out = tmp_path / "designs.parquet"
    result = cvae.design(TARGET, n=30, seed=0, out=out)
    pd.testing.assert_frame_equal(pd.read_parquet(out), result.table, check_dtype=False)


def test_progress_bar_on_stderr(cvae, capsys):
    cvae.design(TARGET, n=5, candidates=3000, seed=0, chunk_size=1000, progress=True)
    err = capsys.readouterr().err
    assert "3,000/3,000 candidates" in err and err.endswith("\n")
    cvae.design(TARGET, n=5, candidates=3000, seed=0, chunk_size=1000)
    assert capsys.readouterr().err == ""


# ----------------------------------------------------------------------------- twins
def _twins(k: np.ndarray) -> list[tuple[int, int]]:
    """Pairs of rows within L1 0.03 (30 thousandths), by brute force."""
    return [(i, j) for i in range(len(k)) for j in range(i) if int(np.abs(k[i] - k[j]).sum()) < 30]


def test_diverse_never_returns_the_cvae_twins_of_0_2(cvae):
    """`design --model cvae -G 60 -K 35 -n 10 --seed 1` returned three designs within 0.01
    of each other in every fraction (0.2); no two designs are twins now."""
    result = cvae.design(TARGET, n=10, seed=1)
    k = _printed(result, cvae.elements)
    assert _twins(k) == [] and not result.notes
    assert not any(np.all(np.abs(k[i] - k[j]) < 10) for i in range(len(k)) for j in range(i))
    # the rule took this design out: without it, it is back, 12 thousandths of Al and Ti
    # away from another
    assert "Al0.237Cr0.245Mo0.241Nb0.09Ti0.187" not in result.rows["formula"]


@pytest.mark.slow
@pytest.mark.parametrize("model", ["cae", "cvae", "wcgan", "flow"])
def test_diverse_designs_have_no_twins(model):
    """For every generator and seeds 0-4, no two of 20 designs lie within L1 0.03 unless
    the output says why (benchmarks/results/design_engine.md measures the same runs)."""
    designer = Designer.from_exported(model, EXPORTED)
    for seed in range(5):
        result = designer.design(TARGET, n=20, seed=seed)
        pairs = _twins(_printed(result, designer.elements))
        assert not pairs or any("closer than 0.03" in note for note in result.notes), (model, seed, pairs)


def test_the_default_generator_is_the_cae_and_spans_many_systems():
    """`hea-zoo design -G 60 -K 35 -n 20 --seed 0` without a model: the cAE, the generator
    that meets every design target, at least 10 alloy systems among 20 designs."""
    designer = Designer.from_exported()
    assert designer.generator_path.name == "cae.onnx" == f"{design.DEFAULT_MODEL}.onnx"
    result = designer.design({"shear_modulus": 60, "fracture_toughness": 35}, n=20, seed=0)
    assert result.n_systems >= 10
    assert _twins(_printed(result, designer.elements)) == []
    # a target by name is the same request as a target in condition order
    same = designer.design([60.0, 35.0], n=20, seed=0)
    pd.testing.assert_frame_equal(result.table, same.table)


def _records(k: np.ndarray, score: np.ndarray) -> np.ndarray:
    records = np.zeros(len(k), design.store.record_dtype(k.shape[1], 2))
    records["index"] = np.arange(len(k))
    records["k"] = k
    records["score"] = score
    return records


def test_twin_rule_fills_with_the_closest_others_then_relaxes_with_a_note():
    """Section 5 on a made-up pool: two clusters of near-copies in tolerance, one distinct
    design out of it. Max-sum takes one per cluster, the fill one more, and only then
    twins (counted in the note)."""
    a, b, c = [500, 500, 0, 0], [0, 0, 500, 500], [250, 250, 250, 250]
    pool_k = np.array([a, [490, 510, 0, 0], b, [0, 0, 510, 490], [505, 495, 0, 0]])
    pool = _records(pool_k, np.array([0.0, 0.001, 0.002, 0.003, 0.004]))
    fill = _records(np.array([[495, 505, 0, 0], c]), np.array([0.06, 0.07]))
    fill["index"] += 10
    taken = design.selection.select_diverse(pool, fill, 4, 0.05)
    assert (taken.from_pool, taken.filled, taken.relaxed) == (2, 1, 1)
    assert sorted(taken.records["index"].tolist()) == [0, 1, 2, 11]  # a, b, c, then the best twin
    assert taken.twin_pairs == 1 == design._twin_pairs(taken.records["k"])
    notes = design.run.selection_notes(taken, pool.size, 4, 0.05, True)
    assert notes[0].startswith("only 2 of the 5 best candidates within 5 % of the target on every property are at least 0.03 apart")
    assert notes[1] == ("1 pair is closer than 0.03 (L1, near-copies): the candidates held only 3 designs at least "
                        "that far apart (draw more candidates).")  # fmt: skip
    # enough distinct designs: no twins, no notes
    taken = design.selection.select_diverse(pool, fill, 3, 0.05)
    assert taken.relaxed == 0 and design._twin_pairs(taken.records["k"]) == 0

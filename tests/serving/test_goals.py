"""Goals (docs/DESIGN_ENGINE.md, section 7): the language, its rejections, the conditions,
P(goals), the exact descriptor goals, objectives, Pareto fronts and the command line."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest

from hea_zoo.cli import main
from hea_zoo.constants import DEFAULT_MIN_PROBABILITY
from hea_zoo.data.descriptors import DescriptorTable
from hea_zoo.errors import TargetError
from hea_zoo.serving.design import Designer
from hea_zoo.serving.design import goals as g
from hea_zoo.serving.design.request import DesignRequest

PROPS = ["shear_modulus", "fracture_toughness"]


@pytest.fixture(scope="module")
def designer() -> Designer:
    return Designer.from_exported("cae")


# ----------------------------------------------------------------------------- 7.1
@pytest.mark.parametrize(
    "text, lo, hi, point",
    [
        ("shear_modulus>=60", 60, math.inf, None),
        ("  density <= 9 ", -math.inf, 9, None),
        ("vec=4.4:5", 4.4, 5, None),
        ("fracture_toughness=35", 35, 35, 35),
        ("tm>=-1e3", -1000, math.inf, None),
    ],
)
def test_parse(text, lo, hi, point):
    goal = g.parse_goal(text)
    assert (goal.lo, goal.hi, goal.point) == (lo, hi, point)


@pytest.mark.parametrize(
    "kwargs, field, message",
    [
        ({"goals": ["shear_modulus>>60"]}, "goals[0]",
         "a goal must read NAME>=V, NAME<=V, NAME=LO:HI or NAME=V (e.g. shear_modulus>=60). Received: 'shear_modulus>>60'"),
        ({"goals": ["vec<=5", "density>=abc"]}, "goals[1]",
         "a goal must read NAME>=V, NAME<=V, NAME=LO:HI or NAME=V (e.g. shear_modulus>=60). Received: 'density>=abc'"),
        ({"goals": [3]}, "goals[0]",
         "a goal must read NAME>=V, NAME<=V, NAME=LO:HI or NAME=V (e.g. shear_modulus>=60). Received: 3"),
        ({"goals": ["vec>=inf"]}, "goals[0]", "inf is not a finite number."),
        ({"goals": ["vec=nan"]}, "goals[0]", "nan is not a finite number."),
        ({"goals": ["vec=6:5"]}, "goals[0]", "the range 6:5 is empty (6 > 5)."),
        ({"goals": ["vec<=5", "vec>=4"]}, "goals[1]", "vec has a goal already (goals[0])."),
        ({"goals": [g.Goal("vec", 6, 5)]}, "goals[0]", "the range 6:5 is empty (6 > 5)."),
        ({"objectives": [("vec", "max"), ("tm", "max"), ("delta", "min")]}, "objectives", "at most two objectives. Received: 3"),
        ({"objectives": [("vec", "max"), ("vec", "min")]}, "objectives[1]", "vec is an objective already (objectives[0])."),
        ({"objectives": [("vec", "up")]}, "objectives[0]", "must be max or min. Received: 'up'"),
        ({"objectives": [("vec",)]}, "objectives[0]", "an objective must be (NAME, 'max' or 'min'). Received: ('vec',)"),
        ({"target": {"shear_modulus": 60}, "goals": ["shear_modulus>=50"]}, "goals[0]",
         "shear_modulus has both a point target and a goal."),
        ({"goals": ["vec<=5"], "min_probability": 1.0}, "min_probability", "must be a number in (0, 1). Received: 1.0"),
    ],
)
def test_rejected_when_built(kwargs, field, message):
    with pytest.raises(TargetError) as err:
        DesignRequest(**kwargs)
    assert (err.value.field, err.value.message) == (field, message)


@pytest.mark.parametrize(
    "kwargs, field, message",
    [
        ({"goals": ["G>=60"]}, "goals[0]",
         "unknown name 'G'; valid names: shear_modulus, fracture_toughness, density, vec, delta, dhmix, omega, tm."),
        ({"objectives": [("toughness", "max")]}, "objectives[0]",
         "unknown name 'toughness'; valid names: shear_modulus, fracture_toughness, density, vec, delta, dhmix, omega, tm."),
        ({"goals": ["density<=1"]}, "goals[0]",
         "no composition of the allowed elements has density<=1: density lies between 1.85 and 22.56 over them."),
        ({"goals": ["vec>=7"], "constraints": {"elements": ["Ti", "Zr", "Nb"]}}, "goals[0]",
         "no composition of the allowed elements has vec>=7: vec lies between 4 and 5 over them."),
        ({"goals": ["delta<=-1"]}, "goals[0]", "no composition of the allowed elements has delta<=-1: delta is never negative."),
        ({"goals": ["shear_modulus>=600"]}, "goals[0]",
         "shear_modulus>=600 is far outside the training data of shear_modulus (34.72 to 151.1): more than the "
         "data's range beyond it, where the models know nothing."),
    ],
)
def test_rejected_against_the_model(designer, kwargs, field, message):
    with pytest.raises(TargetError) as err:
        designer.run(DesignRequest(n=2, candidates=100, seed=0, **kwargs))
    assert (err.value.field, err.value.message) == (field, message)


# ----------------------------------------------------------------------------- 7.2
def test_phi_is_the_root_and_alphas():
    for p in (1, 2, 3):
        phi = g._phi(p)
        assert phi ** (p + 1) == pytest.approx(phi + 1, abs=1e-12)
    assert g._phi(1) == pytest.approx((1 + 5**0.5) / 2, abs=1e-15)


def test_conditions_by_hand(designer):
    request = DesignRequest(goals=["shear_modulus>=60", "fracture_toughness<=30"], n=2, seed=0)
    plan = designer.plan(request)
    (m1, m2), (big1, big2) = designer.training_range()
    w1, w2 = big1 - m1, big2 - m2
    a1, b1 = 60 + 0.02 * w1, max(60 + 0.02 * w1, big1 + 0.25 * w1)
    a2, b2 = max(min(30 - 0.02 * w2, m2 - 0.25 * w2), 0.0), 30 - 0.02 * w2
    phi = g._phi(2)
    alpha = [(1 / phi) % 1, (1 / phi**2) % 1]
    c = plan.conditions(0, 3)
    for r in range(3):
        u = [((r + 1) * alpha[0]) % 1, ((r + 1) * alpha[1]) % 1]
        assert c[r, 0] == np.float32(a1 + u[0] * (b1 - a1))
        assert c[r, 1] == np.float32(a2 + u[1] * (b2 - a2))
    assert np.array_equal(plan.conditions_at(np.array([2, 0])), c[[2, 0]])
    # a range narrower than 2 delta: its midpoint; a point: itself; maximize without a goal
    plan = designer.plan(DesignRequest(goals=["shear_modulus=60:61", "fracture_toughness=35"], n=2))
    assert plan.box[:, 0].tolist() == [60.5, 60.5] and plan.box[:, 1].tolist() == [35, 35]
    plan = designer.plan(DesignRequest(objectives=[("shear_modulus", "max"), ("fracture_toughness", "min")], n=2))
    assert plan.box[:, 0].tolist() == pytest.approx([big1 - 0.25 * w1, big1 + 0.25 * w1])
    assert plan.box[:, 1].tolist() == pytest.approx([max(m2 - 0.25 * w2, 0), m2 + 0.25 * w2])


def _mix32(x: int) -> int:
    x &= 0xFFFFFFFF
    x ^= x >> 16
    x = (x * 0x21F0AAAD) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x735A2D97) & 0xFFFFFFFF
    return x ^ (x >> 15)


def _random_row_by_hand(seed: int, r: int, allowed: list[bool], max_elements: int) -> list[float]:
    """Section 7.2's random composition of candidate r, read from the text with Python ints."""
    h = _mix32(_mix32(seed ^ 0x52616E64) ^ r)
    w = [_mix32(h + j) for j in range(15)]
    pool = [e for e, a in enumerate(allowed) if a]
    top = min(7, len(pool), max_elements)
    m = min(3 + w[0] % 5, top)
    for i in range(top):
        j = i + w[1 + i] % (len(pool) - i)
        pool[i], pool[j] = pool[j], pool[i]
    e = [-math.log((w[8 + i] + 1) / 2**32) for i in range(m)]
    total = e[0]
    for v in e[1:]:
        total += v
    out = [0.0] * len(allowed)
    for i in range(m):
        out[pool[i]] = float(np.float32(e[i] / total))
    return out


@pytest.mark.parametrize("excluded, max_elements", [((), None), (("Al", "W", "O"), 4), (("Mo",), 2)])
def test_random_rows_by_hand(designer, excluded, max_elements):
    from hea_zoo.serving.constraints import Constraints

    rules = Constraints(exclude=excluded, max_elements=max_elements).resolve(designer.elements, designer.threshold)
    rows = np.array([0, 1, 7, 12345, 2**32 - 1])
    raw = g.random_rows(99, rows, rules.allowed, rules.max_elements)
    assert raw.dtype == np.float32 and raw.shape == (5, len(designer.elements))
    for i, r in enumerate(rows):
        assert raw[i].tolist() == _random_row_by_hand(99, int(r), rules.allowed.tolist(), rules.max_elements)
    counts = (raw > 0).sum(axis=1)
    assert np.all(counts >= min(3, rules.max_elements)) and np.all(counts <= min(7, rules.max_elements))
    assert not np.any(raw[:, ~rules.allowed])
    # another seed, other compositions; a row depends on its own index only
    assert not np.array_equal(g.random_rows(98, rows, rules.allowed, rules.max_elements), raw)
    assert np.array_equal(g.random_rows(99, rows[2:3], rules.allowed, rules.max_elements), raw[2:3])


def test_which_candidates_are_random(designer):
    from hea_zoo.artifact import noise
    from hea_zoo.serving.design.run import goal_candidates

    request = DesignRequest(goals=["shear_modulus>=60"], objectives=[("fracture_toughness", "max")], n=2, seed=3)
    plan = designer.plan(request)
    assert plan.random_every == 2 and plan.random_mask(5, 4).tolist() == [True, False, True, False]
    rules = request.constraints.resolve(designer.elements, designer.threshold)
    raw = goal_candidates(designer, plan, 3, 5, 4, rules)
    # with an objective the odd rows are random, the even ones the generator's at their own conditions
    assert np.array_equal(raw[[0, 2]], g.random_rows(3, np.array([5, 7]), rules.allowed, rules.max_elements))
    decoded = designer._decode_rows(noise(3, 4, designer.latent_dim, 5), plan.conditions(5, 4))
    assert np.allclose(raw[[1, 3]], decoded[[1, 3]], atol=1e-6)
    # a random row is not the generator's
    assert not np.allclose(raw[0], decoded[0], atol=1e-3)
    # without objectives every candidate is decoded
    thresholds = designer.plan(DesignRequest(goals=["shear_modulus>=60", "fracture_toughness>=40"]))
    assert thresholds.random_every == 0 and not thresholds.random_mask(0, 5).any()
    assert np.array_equal(goal_candidates(designer, thresholds, 3, 5, 4, rules),
                          designer._decode_rows(noise(3, 4, designer.latent_dim, 5), thresholds.conditions(5, 4)))


# ----------------------------------------------------------------------------- 7.3
def test_erfc_approximation():
    from scipy.special import erfc

    x = np.linspace(-6, 6, 2001)
    assert np.max(np.abs(g._erfc(x) - erfc(x)) / erfc(x)) < 1.2e-7
    assert g.normal_cdf(np.array([-np.inf, np.inf, 0.0])).tolist() == pytest.approx([0, 1, 0.5])


def test_descriptor_goals_are_obeyed_and_p_goals_is_direct(designer):
    request = DesignRequest(goals=["shear_modulus>=60", "fracture_toughness>=40", "density<=8", "vec=4.4:5"],
                            n=20, seed=3, candidates=20000)  # fmt: skip
    result = designer.run(request)
    rows = result.rows
    assert result.n_designs == 20
    k = np.rint(np.stack([rows[e] for e in designer.elements], axis=1) * 1000).astype(np.int64)
    exact = DescriptorTable(designer.elements).compute(k, ["density", "vec"])
    assert np.all(exact["density"] <= 8) and np.all((exact["vec"] >= 4.4) & (exact["vec"] <= 5))
    assert np.array_equal(rows["density"], exact["density"]) and np.array_equal(rows["vec"], exact["vec"])
    assert any("missed the exact goals" in note for note in result.notes)
    mean, lower, upper = designer.judge(k.astype(np.float32) / np.float32(1000))
    z = 1.6448536269514722
    from scipy.stats import norm

    expected = np.ones(20)
    for j, lo in ((0, 60.0), (1, 40.0)):
        sigma = (upper[:, j].astype(np.float64) - lower[:, j]) / (2 * z)
        expected *= 1 - norm.cdf((lo - mean[:, j].astype(np.float64)) / sigma)
    assert np.allclose(rows["p_goals"], expected, atol=2e-7)
    assert np.all(rows["p_goals"] >= 0.5)
    assert np.all(np.diff(1 - rows["p_goals"]) >= 0)  # best first
    columns = list(result.table.columns)
    assert columns[columns.index("fracture_toughness_upper") + 1 : columns.index("fracture_toughness_upper") + 4] == [
        "p_goals", "density", "vec"]  # fmt: skip
    assert "in_tolerance" not in columns and columns[-len(designer.elements) - 2 :][:2] == ["nearest_training", "nearest_distance"]


def test_nearest_training_by_hand(designer):
    result = designer.design({"shear_modulus": 60, "fracture_toughness": 35}, n=3, seed=0)
    rows = result.rows
    training = designer._training_rows().astype(np.int64)
    for i in range(3):
        k = np.rint(np.array([rows[e][i] for e in designer.elements]) * 1000).astype(np.int64)
        d = np.abs(training - k).sum(axis=1)
        j = int(np.argmin(d))
        assert rows["nearest_distance"][i] == d[j] / 20
        from hea_zoo.artifact import formula_strings

        assert rows["nearest_training"][i] == formula_strings(training[j : j + 1], designer.elements)[0]



@pytest.mark.parametrize("total", [1000, 100_000])  # int16 overlaps, and the int64 path past them
def test_nearest_rows_equals_the_dense_l1_rule(total):
    from hea_zoo.serving.design.designer import nearest_rows

    rng = np.random.default_rng(3)

    def alloys(n, e=12):
        k = np.zeros((n, e), np.int64)
        for r in range(n):
            held = rng.choice(e, rng.integers(1, 6), replace=False)
            parts = np.floor(rng.dirichlet(np.ones(held.size)) * total).astype(np.int64)
            parts[0] += total - parts.sum()
            k[r, held] = parts
        return k

    rows = alloys(40)
    rows[7] = rows[3]  # equal rows: the first wins
    k = np.concatenate([alloys(5000), rows[[3, 10]], np.zeros((1, 12), np.int64)])
    best, distance = nearest_rows(k, rows, chunk=777)
    dense = np.abs(k[:, None, :] - rows[None]).sum(axis=2)
    assert np.array_equal(best, np.argmin(dense, axis=1))
    assert np.array_equal(distance, dense.min(axis=1))
    assert best[-3] == 3 and distance[-3] == 0 and distance[-2] == 0
    empty = nearest_rows(np.zeros((0, 12), np.int64), rows)
    assert empty[0].shape == (0,) and empty[1].shape == (0,)

# ----------------------------------------------------------------------------- point goals = targets
def test_point_goals_are_the_classic_request(designer, tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    classic = designer.design({"shear_modulus": 60, "fracture_toughness": 35}, n=10, seed=1, out=a)
    goals = designer.run(DesignRequest(goals=["shear_modulus=60", "fracture_toughness=35"], n=10, seed=1, out=b))
    mixed = designer.run(DesignRequest({"shear_modulus": 60}, goals=["fracture_toughness=35"], n=10, seed=1))
    assert a.read_bytes() == b.read_bytes()
    assert classic.rows["formula"] == goals.rows["formula"] == mixed.rows["formula"]
    header = a.read_text().splitlines()[0].split(",")
    assert header[header.index("system") + 1 : header.index("system") + 3] == ["nearest_training", "nearest_distance"]


# ----------------------------------------------------------------------------- 7.4
def _quarter(rows, name):
    """The value a maximum is ranked by (7.4): the mean less a quarter of the interval's width."""
    width = np.asarray(rows[f"{name}_upper"], np.float64) - np.asarray(rows[f"{name}_lower"], np.float64)
    return np.asarray(rows[f"{name}_surrogate"], np.float64) - width * 0.25


def test_maximize_takes_the_best_value_of_every_candidate(designer, monkeypatch):
    """Without refinement rounds every candidate is the exploration's: brute force over them."""
    monkeypatch.setattr(g, "REFINE_ROUNDS_OBJECTIVES", 0)
    request = DesignRequest(goals=["shear_modulus>=60"], objectives=[("fracture_toughness", "max")], n=5, seed=0,
                            candidates=8000)  # fmt: skip
    rows = designer.run(request).rows
    value = _quarter(rows, "fracture_toughness")
    assert np.all(np.diff(value) <= 0)  # objective order
    # no candidate with p >= p_min has a higher value than the first design: brute force
    plan = designer.plan(request)
    assert plan.phases(8000) == [(0, 8000)]
    from hea_zoo.serving.constraints import _repair

    rules = request.constraints.resolve(designer.elements, designer.threshold)
    from hea_zoo.serving.design.run import goal_candidates

    k, ok = _repair(goal_candidates(designer, plan, 0, 0, 8000, rules), rules)
    mean, lo, hi = designer.judge(k[ok].astype(np.float32) / np.float32(1000))
    p = plan.p_goals(mean, lo, hi)
    best = plan.objective_values(mean, lo, hi, {})[p >= plan.min_probability, 0].max()
    assert value[0] == best and best != np.max(lo[p >= plan.min_probability, 1])  # not the lower end
    assert np.all(rows["p_goals"] >= plan.min_probability)


def test_refinement_rounds_go_beyond_the_exploration(designer):
    """With the default 10 rounds the best design is better than every candidate of the
    exploration (brute force over it), and it comes from a refinement row."""
    request = DesignRequest(goals=["shear_modulus>=60"], objectives=[("fracture_toughness", "max")], n=5, seed=0,
                            candidates=8000)  # fmt: skip
    plan = designer.plan(request)
    phases = plan.phases(8000)
    assert len(phases) == 11 and phases[0] == (0, 8000 - 10 * 666) and phases[-1] == (8000 - 666, 666)
    rows = designer.run(request).rows
    from hea_zoo.serving.constraints import _repair
    from hea_zoo.serving.design.run import goal_candidates

    rules = request.constraints.resolve(designer.elements, designer.threshold)
    first = phases[1][0]
    k, ok = _repair(goal_candidates(designer, plan, 0, 0, first, rules), rules)
    mean, lo, hi = designer.judge(k[ok].astype(np.float32) / np.float32(1000))
    p = plan.p_goals(mean, lo, hi)
    explored = plan.objective_values(mean, lo, hi, {})[p >= plan.min_probability, 0].max()
    assert _quarter(rows, "fracture_toughness")[0] > explored + 1.0
    assert rows["candidate"][0] >= first
    # by the oracle too: the refined designs are tougher than the exploration's best design
    assert np.max(rows["fracture_toughness_oracle"]) > np.max(oracle_k(k[ok][p >= plan.min_probability], designer))


def oracle_k(k, designer):
    from hea_zoo.data import oracle

    return oracle.properties(k.astype(np.float64) / 1000, designer.elements)[:, 1]


def test_refine_rows_follow_their_parents():
    """Section 7.2's refinement rows: deterministic per (seed, row), each parent's elements
    rescaled, at most one allowed element added and at most one removed, a composition."""
    parents = np.zeros((2, 6), np.int64)
    parents[0, :3] = [500, 300, 200]
    parents[1, 1:6] = [200, 200, 200, 200, 200]
    allowed = np.array([True, True, True, True, False, True])
    rows = np.arange(100, 400)
    x = g.refine_rows(7, rows, 100, parents, allowed, 6)
    assert x.dtype == np.float32 and np.allclose(x.sum(axis=1), 1, atol=1e-6)
    assert np.array_equal(x[5:9], g.refine_rows(7, rows[5:9], 100, parents, allowed, 6))  # row by row
    assert not np.array_equal(x, g.refine_rows(8, rows, 100, parents, allowed, 6))  # the seed matters
    parent = parents[(rows - 100) % 2] > 0
    added = (x > 0) & ~parent
    removed = (x == 0) & parent
    assert added.sum(axis=1).max() == 1 and removed.sum(axis=1).max() == 1
    assert not added[:, 4].any()  # never an element that is not allowed
    # 3 in 10 draw an addition (a few lose it again as the smallest), 2 in 10 a removal (parent 0's 3 only after one)
    assert 0.15 < added.any(axis=1).mean() < 0.4 and 0.03 < removed.any(axis=1).mean() < 0.2
    kept = parent & ~removed
    ratio = x[kept] / (parents[(rows - 100) % 2][kept] / 1000)
    assert ratio.min() > 0.4 and ratio.max() < 2.5 and ratio.std() > 0.1  # rescaled, not copied
    assert not g.refine_rows(7, rows, 100, parents[:0], allowed, 6).any()  # no parent: no row
    assert g.goal_phases(10, 10) == [(0, 10)] and g.goal_phases(100, 0) == [(0, 100)]
    assert g.goal_phases(100, 2) == [(0, 50), (50, 25), (75, 25)]


def test_pareto_front_has_no_dominated_design(designer):
    result = designer.run(DesignRequest(objectives=[("shear_modulus", "max"), ("fracture_toughness", "max")],
                                        n=8, seed=0, candidates=8000))  # fmt: skip
    rows = result.rows
    v = np.stack([_quarter(rows, "shear_modulus"), _quarter(rows, "fracture_toughness")], axis=1)
    assert len(v) == 8
    dominated = [(np.all(v >= v[i], axis=1) & np.any(v > v[i], axis=1)).any() for i in range(8)]
    assert not any(dominated)
    assert len(set(rows["system"])) >= 4  # spread along the front
    assert v[:, 0].max() > 120 and v[:, 1].max() > 55  # the two ends
    scaled = (v - v.min(axis=0)) / (v.max(axis=0) - v.min(axis=0))
    order = np.argsort(-scaled[:, 0])
    steps = np.sqrt((np.diff(scaled[order], axis=0) ** 2).sum(axis=1))
    assert steps.max() < 0.45  # no large hole in the front (8 designs over it)


def test_front_ranks_and_spread():
    values = np.array([[3.0, 1.0], [2.0, 2.0], [1.0, 3.0], [1.0, 1.0], [2.0, 2.0], [0.5, 0.5]])
    order, front = g.front_ranks(values, np.ones(6), np.arange(6))
    assert front.tolist() == [0, 0, 0, 1, 0, 2]
    k = np.eye(6, dtype=np.int64) * 1000
    taken = g.select_front(k, values, np.ones(6), np.arange(6), 3, 30)
    assert sorted(taken.tolist()) == [0, 1, 2] or sorted(taken.tolist()) == [0, 2, 4]
    assert {0, 2} <= set(taken.tolist())  # the two ends


# ----------------------------------------------------------------------------- command line
@pytest.mark.parametrize(
    "args, message",
    [
        (["--goal", "density<=1"], "target error: --goal: no composition of the allowed elements has density<=1"),
        (["--goal", "vec=6:5"], "target error: --goal: the range 6:5 is empty (6 > 5)."),
        (["-G", "60", "--goal", "shear_modulus>=50"], "target error: --goal: shear_modulus has both a point target and a goal."),
        (["--maximize", "vec", "--maximize", "tm", "--minimize", "delta"],
         "target error: --maximize/--minimize: at most two objectives. Received: 3"),
        (["--goal", "shear_modulus>=600"], "target error: --goal: shear_modulus>=600 is far outside"),
    ],
)
def test_cli_one_line_errors(args, message, capsys):
    code = main(["design", *args, "-n", "2", "--candidates", "100"])
    captured = capsys.readouterr()
    assert code == 5
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message)
    assert captured.out == ""


def test_a_request_no_candidate_meets_says_so(designer):
    """G >= 80 and K >= 50 (0.0007 % of random alloys): no candidate reaches p_min, and the
    note says the designs are the most probable rather than "only 0 ... meet"."""
    result = designer.run(DesignRequest(goals=["shear_modulus>=80", "fracture_toughness>=50"], n=4, candidates=1000,
                                        seed=0))  # fmt: skip
    assert max(result.rows["p_goals"]) < DEFAULT_MIN_PROBABILITY and len(result.rows["p_goals"]) == 4
    assert result.notes == [f"no distinct candidate meets the goals with probability >= {DEFAULT_MIN_PROBABILITY:g}: "
                            "the designs are the most probable."]  # fmt: skip
    assert list(result.rows["p_goals"]) == sorted(result.rows["p_goals"], reverse=True)  # the most probable first


def test_cli_goal_table(capsys):
    code = main(["design", "--goal", "shear_modulus>=60", "--goal", "vec<=5", "-n", "3", "--seed", "0",
                 "--candidates", "4000"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("goals: shear_modulus>=60, vec<=5  (model: cae, seed 0, 3 designs")
    assert "P(goals)" in out.splitlines()[1] and " vec " in out.splitlines()[1]
    assert f"with P(goals) >= {DEFAULT_MIN_PROBABILITY:g}." in out and DEFAULT_MIN_PROBABILITY == 0.8


def test_goal_csv_rows_match_the_header(designer, tmp_path, monkeypatch):
    monkeypatch.setattr(g, "REFINE_ROUNDS_OBJECTIVES", 0)  # every candidate the exploration's: brute force below
    out = tmp_path / "goals.csv"
    result = designer.run(DesignRequest(goals=["shear_modulus>=60", "density<=9"], objectives=[("vec", "min")], n=5,
                                        seed=2, candidates=4000, out=out))  # fmt: skip
    lines = out.read_text().splitlines()
    header = lines[0].split(",")
    assert all(len(line.split(",")) == len(header) for line in lines[1:]) and len(lines) == 6
    assert header[header.index("shear_modulus_oracle") - 3 :][:3] == ["p_goals", "density", "vec"]
    import pandas as pd

    table = pd.read_csv(out)
    assert np.allclose(table["shear_modulus_oracle"], result.rows["shear_modulus_oracle"], atol=1e-4)
    assert np.all(np.diff(table["vec"]) >= 0)  # minimize: best first
    # the count of dropped candidates is of the exact goals alone (no duplicates in it)
    request = DesignRequest(goals=["shear_modulus>=60", "density<=9"], objectives=[("vec", "min")], n=5, seed=2,
                            candidates=4000)  # fmt: skip
    from hea_zoo.serving.constraints import _repair
    from hea_zoo.serving.design.run import goal_candidates

    plan = designer.plan(request)
    rules = request.constraints.resolve(designer.elements, designer.threshold)
    k, ok = _repair(goal_candidates(designer, plan, 2, 0, 4000, rules), rules)
    d = DescriptorTable(designer.elements).compute(k[ok], ["density", "vec"])
    failed = int((~(d["density"] <= 9) | np.isnan(d["vec"])).sum())
    note = next(n for n in result.notes if "missed the exact goals" in n)
    assert note.startswith(f"{failed:,} of the {int(ok.sum()):,} candidates")
    assert result.n_valid == int(ok.sum()) - failed


def test_design_takes_goals_as_keywords(designer):
    a = designer.design(goals=["shear_modulus>=60", "vec<=5"], n=3, seed=4, candidates=3000)
    b = designer.run(DesignRequest(goals=["shear_modulus>=60", "vec<=5"], n=3, seed=4, candidates=3000))
    assert a.rows["formula"] == b.rows["formula"] and a.goals == ["shear_modulus>=60", "vec<=5"]
    with pytest.raises(TargetError) as err:
        designer.design(n=3)  # neither a target nor goals: today's error
    assert err.value.field == "target"


def test_goal_selection_takes_new_alloy_systems_first():
    """Section 7.4: with systems_first, max-sum takes a candidate of a system not yet taken
    while one is eligible, even over a farther one of a taken system."""
    from hea_zoo.serving.design import selection

    k = np.zeros((4, 4), np.int64)
    k[0] = [500, 500, 0, 0]  # system {0, 1}
    k[1] = [900, 60, 40, 0]  # system {0, 1}, far from row 0 by cosine
    k[2] = [450, 450, 100, 0]  # system {0, 1, 2}, near row 0
    k[3] = [300, 300, 0, 400]  # system {0, 1, 3}
    plain = selection._max_sum(k, 3)
    first = selection._max_sum(k, 3, systems_first=True)
    assert plain.tolist()[:2] == [0, 3] and 1 in plain.tolist()
    assert first.tolist() == [0, 3, 2]  # the new system {0, 1, 2} before the farther row 1
    assert selection._max_sum(k, 4, systems_first=True).tolist() == [0, 3, 2, 1]  # then the rest


def test_threshold_rounds_refine_only_designs_that_meet_the_goals(designer, monkeypatch):
    """Without a design at P >= p_min the rounds explore as the exploration does: the same
    designs as without rounds; with such designs they refine them, and the designs of a
    rare goal set span more systems."""
    none = DesignRequest(goals=["shear_modulus>=80", "fracture_toughness>=50"], n=4, seed=3, candidates=1200)
    rare = DesignRequest(goals=["shear_modulus>=70", "fracture_toughness>=50"], n=10, seed=11, candidates=8000)
    with_rounds = [designer.run(none).rows, designer.run(rare).rows]
    assert max(with_rounds[0]["p_goals"]) < DEFAULT_MIN_PROBABILITY
    monkeypatch.setattr(g, "REFINE_ROUNDS_GOALS", 0)
    without = [designer.run(none).rows, designer.run(rare).rows]
    assert with_rounds[0]["formula"] == without[0]["formula"]
    first = g.goal_phases(8000, 2)[1][0]
    assert any(c >= first for c in with_rounds[1]["candidate"]) and not any(c >= 8000 for c in with_rounds[1]["candidate"])
    assert len(set(with_rounds[1]["system"])) > len(set(without[1]["system"]))


def test_condition_box_alternatives(monkeypatch):
    """The measured alternatives of section 7.2's boxes: not beyond the training range, and a point."""
    rng = np.array([[10.0, 0.0], [110.0, 50.0]])
    plan = lambda: g.plan_goals([g.parse_goal("a>=60")], [("b", "max")], [], ["a", "b"], rng, ["X"], np.ones(1, bool),
                                0.05, 0.8)  # fmt: skip
    assert plan().box.tolist() == [[62.0, 37.5], [135.0, 62.5]]
    monkeypatch.setattr(g, "BOX_BEYOND", 0.0)
    assert plan().box.tolist() == [[62.0, 50.0], [110.0, 50.0]]
    monkeypatch.setattr(g, "BOX_POINT", True)
    assert plan().box.tolist() == [[86.0, 50.0], [86.0, 50.0]]


def test_fronts_peeled_one_at_a_time_equal_the_front_ranks():
    """`select_front` peels fronts lazily: the same fronts as `front_ranks` (ties, -inf)."""
    rng = np.random.default_rng(5)
    for trial in range(200):
        size = int(rng.integers(1, 200))
        values = rng.integers(0, 6, (size, 2)).astype(np.float64) if trial % 2 else rng.random((size, 2))
        values[rng.random(size) < 0.05, int(rng.integers(0, 2))] = -np.inf
        index = rng.permutation(size)
        order, front = g.front_ranks(values, np.ones(size), index)
        peeled = np.full(size, -1)
        for f, members in enumerate(g._fronts(values, np.lexsort((index, -values[:, 1], -values[:, 0])))):
            position = np.empty(size, np.int64)
            position[order] = np.arange(size)
            assert np.all(np.diff(position[members]) > 0)  # in sorted order
            peeled[members] = f
        assert np.array_equal(peeled, front)


def test_descriptor_goal_mask_fails_nan_and_keeps_an_infinite_omega():
    """The one descriptor-goal filter design, propose and the goals study share: inside
    every interval, NaN (no tabulated value) fails, Omega = +inf (ΔHmix = 0) meets omega>=1.1."""
    rng = np.array([[10.0], [110.0]])
    plan = g.plan_goals([g.parse_goal("a>=60"), g.parse_goal("density<=9"), g.parse_goal("omega>=1.1")], [], [],
                        ["a"], rng, ["Nb", "Mo"], np.ones(2, bool), 0.05, 0.8)  # fmt: skip
    values = {"density": np.array([8.0, 9.5, np.nan, 8.9, 8.0]), "omega": np.array([2.0, 2.0, 2.0, np.inf, 1.0])}
    assert plan.descriptors_met(values, 5).tolist() == [True, False, False, True, False]
    bare = g.plan_goals([g.parse_goal("a>=60")], [], [], ["a"], rng, ["Nb", "Mo"], np.ones(2, bool), 0.05, 0.8)
    assert bare.descriptors_met({}, 3).tolist() == [True, True, True]


def test_sigma_from_interval_is_the_half_width_over_z():
    from hea_zoo.campaign.acquisition import sigma_of

    lower, upper = np.array([0.0, 5.0, 1.0]), np.array([2.0 * g.INTERVAL_Z, 5.0, 3.0])
    assert g.sigma_from_interval(lower, upper).tolist() == pytest.approx([1.0, 1e-12, 2.0 / (2 * g.INTERVAL_Z)])
    z80 = g.interval_z(0.8)
    assert np.array_equal(sigma_of(lower, upper, z80), g.sigma_from_interval(lower, upper, z80))


def test_an_objective_is_read_at_its_intervals_coverage():
    """mean less INTERVAL_Z/2 sigma whatever the coverage: a quarter of the width at 90 %,
    the same sigma multiple of an 80 % interval (whose width is 1.2816/1.6449 as large)."""
    rng = np.array([[10.0, 0.0], [110.0, 50.0]])
    plan = g.plan_goals([g.parse_goal("a>=60")], [("b", "max")], [], ["a", "b"], rng, ["X"], np.ones(1, bool), 0.05, 0.8)
    mean, sigma = np.array([[70.0, 40.0]]), np.array([[1.0, 2.0]])
    at90 = plan.objective_values(mean, mean - g.INTERVAL_Z * sigma, mean + g.INTERVAL_Z * sigma, {})
    z80 = g.interval_z(0.8)
    at80 = plan.objective_values(mean, mean - z80 * sigma, mean + z80 * sigma, {}, z80)
    assert at90[0, 0] == 40.0 - 4.0 * g.INTERVAL_Z * 0.25  # exactly the 90 % rule
    assert at80[0, 0] == pytest.approx(40.0 - g.INTERVAL_Z / 2 * 2.0) and at80[0, 0] == pytest.approx(at90[0, 0])

"""`propose`: the closed-loop campaign step, on a tiny measured table (the bundled oracle's
labels) with few candidates and short training; one trace of the learner serves the file."""

import itertools
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hea_zoo.artifact import formula_strings, printed_thousandths
from hea_zoo.data import oracle
from hea_zoo.data.descriptors import compute_descriptors
from hea_zoo.data.elements import ELEMENTS
from hea_zoo.errors import DataError, TargetError, UsageError

GOALS = ("shear_modulus>=70", "fracture_toughness>=50")
SPACE = tuple(e for e in ELEMENTS if e != "O")
FAST = {"candidates": 400, "learner": {"steps": 80}, "elements": SPACE}


def _table(x: np.ndarray) -> pd.DataFrame:
    y = oracle.properties(x, ELEMENTS)
    k = printed_thousandths(x, 1e-6)[0]
    return pd.DataFrame({"composition": formula_strings(k, ELEMENTS), "shear_modulus": y[:, 0],
                         "fracture_toughness": y[:, 1]})  # fmt: skip


@pytest.fixture(scope="module")
def measured() -> pd.DataFrame:
    from hea_zoo.data.datasets import load_dataset

    ds = load_dataset()
    x = ds.compositions.astype(np.float64)
    y = ds.properties
    keep = np.flatnonzero(~((y[:, 0] >= 70) & (y[:, 1] >= 50)) & (x[:, ELEMENTS.index("O")] == 0))
    idx = np.random.default_rng(3).choice(keep, 24, replace=False)
    return _table(x[idx])


@pytest.fixture(scope="module")
def proposal(measured):
    from hea_zoo.campaign import propose

    return propose(measured, goals=GOALS, batch=8, seed=0, **FAST)


def _keys(fractions) -> set:
    return {r.tobytes() for r in np.round(np.asarray(fractions, np.float64) * 1000).astype(np.int64)}


def _measured_fractions(frame, elements):
    from hea_zoo.data.composition import parse_compositions

    return parse_compositions(frame["composition"].tolist(), elements)[0].astype(np.float64)


def test_the_table_has_every_column_in_rank_order(proposal):
    t = proposal.table
    assert len(t) == 8 and t["rank"].tolist() == list(range(1, 9))
    for name in ("shear_modulus", "fracture_toughness"):
        assert np.all(t[f"{name}_lower"] <= t[f"{name}_mean"]) and np.all(t[f"{name}_mean"] <= t[f"{name}_upper"])
    assert t["p_goals"].between(0, 1).all()
    assert {s.split("+")[0] for s in t["source"]} <= {"random", "mutation", "prior"}
    assert proposal.compositions.shape == (8, len(proposal.elements))
    np.testing.assert_allclose(proposal.compositions.sum(axis=1), 1.0, atol=1e-9)
    # The formula is the composition; the nearest measured alloy is the nearest, in at.%.
    np.testing.assert_allclose(_measured_fractions(t.rename(columns={"formula": "composition"}), proposal.elements),
                               proposal.compositions, atol=1e-6)  # fmt: skip
    assert (t["nearest_distance"] > 0).all() and (t["nearest_distance"] <= 100).all()
    s = proposal.summary
    assert s["measured_alloys"] == 24 and s["successes"] == 0 and s["prior"] is None
    assert s["best_so_far"]["shear_modulus"] > 0


def test_same_table_and_seed_give_the_same_batch(measured, proposal):
    from hea_zoo.campaign import propose

    again = propose(measured, goals=GOALS, batch=8, seed=0, **FAST)
    pd.testing.assert_frame_equal(again.table, proposal.table)
    other = propose(measured, goals=GOALS, batch=8, seed=1, **FAST)
    assert other.table["formula"].tolist() != proposal.table["formula"].tolist()


def test_never_a_measured_alloy_and_a_spread_batch(measured, proposal):
    from hea_zoo.campaign import MIN_DISTANCE, propose

    done = _measured_fractions(measured, proposal.elements)
    assert not (_keys(proposal.compositions) & _keys(done))
    for a, b in itertools.combinations(proposal.compositions, 2):
        assert np.abs(a - b).sum() / 2 >= MIN_DISTANCE - 1e-9  # not 8 variants of one alloy
    # Measure the batch: the next call proposes none of it again.
    grown = pd.concat([measured, _table(_pad(proposal))], ignore_index=True)
    nxt = propose(grown, goals=GOALS, batch=8, seed=0, **FAST)
    assert not (_keys(nxt.compositions) & _keys(_measured_fractions(grown, nxt.elements)))
    assert nxt.summary["measured_alloys"] == 32


def _pad(p) -> np.ndarray:
    """The proposals over the 22 bundled elements."""
    out = np.zeros((len(p.compositions), len(ELEMENTS)))
    for j, e in enumerate(p.elements):
        out[:, ELEMENTS.index(e)] = p.compositions[:, j]
    return out


def test_constraints_and_descriptor_goals_hold_exactly(measured):
    from hea_zoo.campaign import propose

    p = propose(measured, goals=(*GOALS, "density<=9"), batch=6, seed=2, exclude=["Al", "V"], max_elements=4,
                bounds={"W": (0.0, 0.2)}, **FAST)  # fmt: skip
    x, el = p.compositions, list(p.elements)
    assert np.all(x[:, [el.index("Al"), el.index("V")]] == 0)
    assert np.all((x > 0).sum(axis=1) <= 4)
    assert np.all(x[:, el.index("W")] <= 0.2 + 1e-12)
    assert np.all(x[x > 0] >= 0.03 - 1e-12)
    density = compute_descriptors(x, el, ["density"])["density"]
    assert np.all(density <= 9.0)
    np.testing.assert_allclose(p.table["density"], density)


def test_pool_based_campaign_proposes_from_the_pool_only(measured, tmp_path):
    from hea_zoo.campaign import propose

    from hea_zoo.data.composition import parse_formula

    # NbTaTi (thirds: printed 0.334/0.333/0.333) is measured too: compared as measured, not as printed.
    row = _table(parse_formula("NbTaTi", ELEMENTS)[None].astype(np.float64)).assign(composition="NbTaTi")
    grown = pd.concat([measured, row], ignore_index=True)
    pool = ["Mo0.25Nb0.25Ta0.25W0.25", "HfNbTaTiZr", "NbTaTiV", "MoNbTaVW", "CrMoNbTaVW", "AlMoNbTaTi",
            measured["composition"][0], "NbTaTi"]  # fmt: skip
    p = propose(grown, goals=GOALS, batch=8, seed=0, pool=pool, min_distance=0.0, **FAST)
    assert set(p.table["source"]) == {"pool"} and len(p.table) == 6
    assert set(p.table["formula"]) == set(pool[:-2])  # never a measured one
    path = tmp_path / "pool.csv"
    pd.DataFrame({"composition": ["NbTaTiV", "Nb0.5Xx0.5", "MoW"]}).to_csv(path, index=False)
    with pytest.raises(DataError) as err:
        propose(measured, goals=GOALS, pool=str(path), **FAST)
    assert err.value.field == "pool" and "line 3" in err.value.message


def test_maximize_and_two_objectives(measured):
    from hea_zoo.campaign import propose

    one = propose(measured, goals=["shear_modulus>=60"], maximize="fracture_toughness", batch=4, seed=0, **FAST)
    assert len(one.table) == 4 and (one.table["acquisition"] >= 0).all()
    assert "max:fracture_toughness" in one.summary["best_objective_meeting_goals"]
    two = propose(measured, maximize=["shear_modulus", "fracture_toughness"], batch=4, seed=0, **FAST)
    assert len(two.table) == 4 and (two.table["acquisition"] >= 0).all()


def test_prior_only_when_asked(measured, tmp_path, monkeypatch):
    import hea_zoo.campaign.next_batch as module

    def refuse(*args, **kwargs):
        raise AssertionError("a prior table was read without being asked for")

    monkeypatch.setattr(module, "_prior_rows", refuse)
    p = module.propose(measured, goals=GOALS, batch=2, seed=0, **FAST)
    assert p.model.calibration_size == 24
    monkeypatch.undo()
    from hea_zoo.data.datasets import load_dataset

    ds = load_dataset()
    prior = tmp_path / "prior.csv"
    ds.to_frame().iloc[100:108][["composition", "shear_modulus", "fracture_toughness"]].to_csv(prior, index=False)
    q = module.propose(measured, goals=GOALS, batch=2, seed=0, prior=str(prior), **FAST)
    assert q.model.calibration_size > 24 and q.summary["prior"] == str(prior)
    assert q.summary["measured_alloys"] == 24  # the prior is no measurement


def test_the_learner_is_a_real_calibrated_surrogate(proposal):
    s = proposal.model.surrogate()
    assert s.is_calibrated and s.n_members == proposal.model.members
    x = proposal.compositions.astype(np.float32)
    mine = proposal.model.predict_interval(x)
    theirs = s.predict_interval(x)
    for a, b in zip(mine, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize(
    "kwargs, error, field, fragment",
    [
        ({"goals": ["hardness>=3"]}, TargetError, "goals[0]", "valid names: shear_modulus, fracture_toughness, density"),
        ({"goals": GOALS, "batch": 0}, UsageError, "batch", "batch=0"),
        ({"goals": GOALS, "sources": ["oracle"]}, UsageError, "sources", "valid: random"),
        ({"goals": GOALS, "properties": ["hardness"]}, TargetError, "properties", "hardness"),
        ({"goals": ["shear_modulus>=x"]}, TargetError, "goals[0]", "NAME>=V"),
        ({}, TargetError, "goals", "at least one goal"),
        ({"goals": GOALS, "exclude": ["Xx"]}, TargetError, "exclude", "Xx"),
        ({"goals": GOALS, "min_elements": 0}, UsageError, "min_elements", "min_elements=0"),
    ],
)
def test_bad_input_errors_name_the_field(measured, kwargs, error, field, fragment):
    from hea_zoo.campaign import propose

    with pytest.raises(error) as err:
        propose(measured, **{**{"elements": SPACE}, **kwargs})
    assert err.value.field == field and fragment in err.value.message, str(err.value)


def test_bad_measured_table_names_its_line(measured, tmp_path):
    from hea_zoo.campaign import propose

    path = tmp_path / "measured.csv"
    bad = measured.copy()
    bad.loc[4, "composition"] = "Nb0.5Qq0.5"
    bad.to_csv(path, index=False)
    with pytest.raises(DataError) as err:
        propose(str(path), goals=GOALS, **FAST)
    assert err.value.field == "data" and "line 6" in err.value.message


def test_write_is_atomic_and_refuses_bad_paths(proposal, tmp_path, monkeypatch):
    out = proposal.write(tmp_path / "next.csv")
    back = pd.read_csv(out)
    assert back["formula"].tolist() == proposal.table["formula"].tolist()
    proposal.write(tmp_path / "next.parquet")
    assert pd.read_parquet(tmp_path / "next.parquet")["formula"].tolist() == back["formula"].tolist()
    for bad in (tmp_path, tmp_path / "next.txt"):
        with pytest.raises(UsageError) as err:
            proposal.write(bad)
        assert err.value.field == "out"
    os.symlink(tmp_path / "nowhere" / "x.csv", tmp_path / "dangling.csv")
    with pytest.raises(UsageError):
        proposal.write(tmp_path / "dangling.csv")
    # A writer that dies half-way leaves the old file whole and no temporary behind.
    before = (tmp_path / "next.csv").read_bytes()

    def boom(self, path, *args, **kwargs):
        Path(path).write_text("half")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", boom)
    with pytest.raises(OSError):
        proposal.write(tmp_path / "next.csv")
    assert (tmp_path / "next.csv").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dangling.csv", "next.csv", "next.parquet"]


def test_cli_propose_and_oracle_end_to_end(measured, tmp_path, capsys):
    from hea_zoo.cli import EXIT_TARGET, EXIT_USAGE, main

    data = tmp_path / "measured.csv"
    measured.to_csv(data, index=False)
    code = main(["propose", "--data", str(data), "--goal", "shear_modulus>=70", "--goal", "fracture_toughness>=50",
                 "--exclude", "O", "--batch", "4", "--candidates", "400", "--seed", "0",
                 "--out", str(tmp_path / "next.csv"), "--plot", str(tmp_path / "progress.png")])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "p_goals" in out and "successes so far: 0" in out and "best so far: shear_modulus" in out
    assert len(pd.read_csv(tmp_path / "next.csv")) == 4
    assert (tmp_path / "progress.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["oracle", "--data", str(tmp_path / "next.csv"), "--append", str(data),
                 "--out", str(tmp_path / "m1.csv")]) == 0  # fmt: skip
    m1 = pd.read_csv(tmp_path / "m1.csv")
    assert len(m1) == 28 and list(m1.columns) == ["composition", "shear_modulus", "fracture_toughness"]
    capsys.readouterr()
    assert main(["propose", "--data", str(data), "--goal", "hardness>=3"]) == EXIT_TARGET
    err = capsys.readouterr().err
    assert err.startswith("target error: --goal: unknown name 'hardness'")
    assert main(["propose", "--data", str(data), "--goal", "shear_modulus>=70", "--out", str(tmp_path)]) == EXIT_USAGE
    assert "--out" in capsys.readouterr().err


def test_propose_fields_map_to_flags():
    """Every field `propose` names in an error has a flag of `hea-zoo propose`."""
    from hea_zoo.cli import build_parser
    from hea_zoo.cli import _flag

    fields = ("data", "batch", "pool", "prior", "sources", "min_elements", "goals[1]", "objectives[0]", "properties",
              "elements", "exclude", "bounds['W']", "max_elements", "min_fraction", "candidates", "seed", "out", "plot",
              "settings['test_temperature']", "min_distance")
    flags = [_flag(f) for f in fields]
    assert None not in flags
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["propose"]
    known = {s for a in sub._actions for s in a.option_strings}
    for flag in flags:
        for part in flag.split("/"):
            assert part.split()[0] in known, flag


def test_cli_propose_learner_and_min_distance(measured, tmp_path, capsys, monkeypatch):
    """--learner KEY=VALUE reaches `propose` typed as the learner's defaults (an empty
    descriptor list: the fractions alone); --min-distance spreads the batch; a bad key or
    value is a usage error naming the flag, and nothing is written."""
    import hea_zoo.campaign as campaign
    from hea_zoo.cli import EXIT_USAGE, main

    data = tmp_path / "measured.csv"
    measured.to_csv(data, index=False)
    seen = []
    real = campaign.propose

    def spy(*args, **kwargs):
        seen.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(campaign, "propose", spy)
    out = tmp_path / "next.csv"
    code = main(["propose", "--data", str(data), "--goal", "shear_modulus>=70", "--goal", "fracture_toughness>=50",
                 "--exclude", "O", "--batch", "4", "--candidates", "400", "--learner", "steps=80",
                 "--learner", "distance_intervals=true", "--min-distance", "0.3", "--out", str(out)])  # fmt: skip
    assert code == 0, capsys.readouterr()
    assert seen[-1]["learner"] == {"steps": 80, "distance_intervals": True} and seen[-1]["min_distance"] == 0.3
    table = pd.read_csv(out)
    x = _measured_fractions(table.rename(columns={"formula": "composition"}), SPACE)
    assert len(x) == 4
    for i, j in itertools.combinations(range(4), 2):
        assert np.abs(x[i] - x[j]).sum() / 2 >= 0.3 - 1e-9
    # without the flags: the learner's defaults and propose's own spread (nothing passed)
    from hea_zoo.cli import _parse_learner, build_parser

    plain = build_parser().parse_args(["propose", "--data", str(data), "--goal", "shear_modulus>=70"])
    assert plain.min_distance is None and _parse_learner(plain) == {}
    # every type of setting, read as its default's (an empty list: the fractions alone)
    typed = build_parser().parse_args(["propose", "--data", str(data), "--goal", "shear_modulus>=70", "--learner",
                                       "descriptors=", "--learner", "hidden_units=32, 32", "--learner", "members=3",
                                       "--learner", "learning_rate=1e-3", "--learner", "activation=relu", "--learner",
                                       "distance_intervals=no"])  # fmt: skip
    assert _parse_learner(typed) == {"descriptors": (), "hidden_units": (32, 32), "members": 3, "learning_rate": 1e-3,
                                     "activation": "relu", "distance_intervals": False}  # fmt: skip
    calls = len(seen)
    bad = {
        "foo=1": "--learner foo: not a learner setting; valid: members, folds",
        "steps=abc": "--learner steps: expects a whole number",
        "folds=1": "--learner folds: must be >= 2",
        "learning_rate=-1": "--learner learning_rate: must be a number > 0",
        "distance_intervals=maybe": "--learner distance_intervals: expects true or false",
        "hidden_units=64,x": "--learner hidden_units: expects a comma-separated list of ints",
        "steps": "--learner: expects KEY=VALUE",
        "descriptors=valence_electrons,bogus": "--learner descriptors: unknown element property bogus; valid: ",
        "activation=foo": "--learner activation: not a Keras activation: 'foo'",
    }
    for item, message in bad.items():
        capsys.readouterr()
        target = tmp_path / "bad.csv"
        code = main(["propose", "--data", str(data), "--goal", "shear_modulus>=70", "--learner", item,
                     "--out", str(target)])  # fmt: skip
        err = capsys.readouterr().err
        assert code == EXIT_USAGE and err.startswith("usage error: " + message), (item, err)
        assert not target.exists()
    assert len(seen) == calls  # rejected before any training
    code = main(["propose", "--data", str(data), "--goal", "shear_modulus>=70", "--min-distance", "1.5",
                 "--candidates", "100", "--learner", "steps=20", "--out", str(tmp_path / "bad.csv")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and "--min-distance" in err and "1.5" in err, err
    assert not (tmp_path / "bad.csv").exists()


def test_p_goals_read_the_intervals_at_their_coverage(measured, proposal):
    """σ comes from the interval at the learner's coverage: at 80 % the same interval ends
    mean a wider normal than at 90 %, so p_goals are the 80 % reading, not the 90 % one."""
    from hea_zoo.campaign import propose
    from hea_zoo.serving.design.goals import INTERVAL_Z, interval_z, normal_cdf

    def p_from(table, z):
        p = np.ones(len(table))
        for name, lo in (("shear_modulus", 70.0), ("fracture_toughness", 50.0)):
            sigma = np.maximum((table[f"{name}_upper"] - table[f"{name}_lower"]).to_numpy() / (2 * z), 1e-12)
            p *= 1.0 - normal_cdf((lo - table[f"{name}_mean"].to_numpy()) / sigma)
        return p

    # the written table rounds the values: compare to a few parts in a thousand
    np.testing.assert_allclose(proposal.table["p_goals"], p_from(proposal.table, INTERVAL_Z), atol=2e-3)
    narrow = propose(measured, goals=GOALS, batch=8, seed=0, coverage=0.8, **FAST)
    z = interval_z(0.8)
    assert abs(z - 1.2815516) < 1e-6
    np.testing.assert_allclose(narrow.table["p_goals"], p_from(narrow.table, z), atol=2e-3)
    assert np.abs(p_from(narrow.table, INTERVAL_Z) - narrow.table["p_goals"]).max() > 0.01  # the 90 % reading differs
    with pytest.raises(TargetError, match="coverage"):
        interval_z(1.0)

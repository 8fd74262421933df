"""`propose(..., settings=...)`: measurement settings (a test temperature) as inputs of the
campaign learner, on a tiny synthetic table whose property falls with the temperature
(strength = 10 G + 200 - 0.5 T, G the oracle's shear modulus); few candidates, short
training."""

import numpy as np
import pandas as pd
import pytest

from hea_zoo.artifact import formula_strings, printed_thousandths
from hea_zoo.data import oracle
from hea_zoo.data.elements import ELEMENTS
from hea_zoo.errors import DataError, TargetError, UsageError

SPACE = ("Al", "Cr", "Hf", "Mo", "Nb", "Ta", "Ti", "V", "W", "Zr")
FAST = {"candidates": 300, "learner": {"steps": 80}, "elements": SPACE}
HOT, ROOM = {"test_temperature": 1000}, {"test_temperature": 25}


def _strength(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    return 10.0 * oracle.properties(x, ELEMENTS)[:, 0] + 200.0 - 0.5 * t


@pytest.fixture(scope="module")
def measured() -> pd.DataFrame:
    """26 rows of 20 alloys: each at 25, 500 or 1000 °C; three of them again at 500 °C,
    three again at 1000 °C (one of those a repeat of its own measurement)."""
    from hea_zoo.data.datasets import load_dataset

    x = load_dataset().compositions.astype(np.float64)
    outside = [ELEMENTS.index(e) for e in ELEMENTS if e not in SPACE]
    idx = np.random.default_rng(0).choice(np.flatnonzero(x[:, outside].sum(axis=1) == 0), 20, replace=False)
    t = np.random.default_rng(1).choice([25.0, 500.0, 1000.0], 20)
    t[:3] = 25.0
    xs = np.concatenate([x[idx], x[idx[:6]]])
    t = np.concatenate([t, [500.0] * 3, [1000.0] * 3])
    k = printed_thousandths(xs, 1e-6)[0]
    return pd.DataFrame({"composition": formula_strings(k, ELEMENTS), "test_temperature": t,
                         "strength": _strength(xs, t)})  # fmt: skip


@pytest.fixture(scope="module")
def hot(measured):
    from hea_zoo.campaign import propose

    return propose(measured, maximize="strength", batch=4, seed=0, settings=HOT, **FAST)


@pytest.fixture(scope="module")
def room(measured):
    from hea_zoo.campaign import propose

    return propose(measured, maximize="strength", batch=4, seed=0, settings=ROOM, **FAST)


def _rows_at(measured, t) -> int:
    """Distinct alloys measured at `t` (one alloy measured twice at it is one)."""
    once = measured.drop_duplicates(["composition", "test_temperature"])
    return int((once["test_temperature"] == t).sum())


def test_predictions_move_with_the_requested_setting(measured, hot, room):
    for p, t in ((hot, 1000.0), (room, 25.0)):
        assert p.settings == {"test_temperature": t} and p.model.settings == ("test_temperature",)
        assert list(p.table.columns[:3]) == ["rank", "formula", "test_temperature"]
        assert (p.table["test_temperature"] == t).all()
        assert p.summary["settings"] == {"test_temperature": t}
    # The truth falls by 0.5 * 975 = 487.5 from 25 to 1000 °C: the learner has learned most of it.
    assert hot.table["strength_mean"].mean() < room.table["strength_mean"].mean() - 250
    for p in (hot, room):
        at_room = p.model.predict_interval(p.compositions, settings=ROOM)[0][:, 0]
        at_hot = p.model.predict_interval(p.compositions, settings=HOT)[0][:, 0]
        assert np.all(at_room - at_hot > 250), at_room - at_hot
    # The proposals' values are the learner's at the requested setting.
    np.testing.assert_allclose(hot.table["strength_mean"], hot.model.predict_interval(hot.compositions, settings=HOT)[0][:, 0])
    # Best so far counts the rows measured at the setting only (its truth is lower when hot).
    assert hot.summary["measured_at_settings"] == _rows_at(measured, 1000) == 7
    assert room.summary["measured_at_settings"] == _rows_at(measured, 25)
    assert hot.summary["measured_rows"] == 26 and hot.summary["measured_alloys"] == 25  # (alloy, setting) pairs
    assert hot.summary["measured_compositions"] == 20
    assert hot.summary["best_objective_meeting_goals"]["max:strength"] < room.summary["best_objective_meeting_goals"]["max:strength"] - 300


def test_the_learner_with_settings_is_a_calibrated_surrogate(hot):
    s = hot.model.surrogate()
    assert s.settings == ("test_temperature",) and s.is_calibrated
    x = hot.compositions.astype(np.float32)
    for a, b in zip(hot.model.predict_interval(x, settings=HOT), s.predict_interval(x, settings=HOT)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-2)


def test_same_table_seed_and_setting_give_the_same_batch(measured, hot):
    from hea_zoo.campaign import propose

    again = propose(measured, maximize="strength", batch=4, seed=0, settings=HOT, **FAST)
    pd.testing.assert_frame_equal(again.table, hot.table)


def test_measured_at_one_setting_is_proposed_at_another_not_at_it(measured):
    from hea_zoo.campaign import propose

    t = measured["test_temperature"]
    counts = measured["composition"].value_counts()
    only_room = next(c for c, v in zip(measured["composition"], t) if v == 25.0 and counts[c] == 1)
    only_hot = next(c for c, v in zip(measured["composition"], t) if v == 1000.0 and counts[c] == 1)
    both = next(measured["composition"][i] for i in (3, 4, 5) if t[i] == 25.0)  # again at 1000 °C (rows 23-25)
    new = ["Mo0.25Nb0.25Ta0.25W0.25", "HfNbTaTiZr"]
    kw = dict(maximize="strength", batch=5, seed=0, pool=[only_room, only_hot, both, *new], min_distance=0.0, **FAST)
    hot = propose(measured, settings=HOT, **kw)
    assert set(hot.table["formula"]) == {only_room, *new}
    room = propose(measured, settings=ROOM, **kw)
    assert set(room.table["formula"]) == {only_hot, *new}
    # The pool's alloys are scored at the requested setting.
    assert (hot.table["test_temperature"] == 1000).all() and (room.table["test_temperature"] == 25).all()
    np.testing.assert_allclose(hot.table["strength_mean"],
                               hot.model.predict_interval(hot.compositions, settings=HOT)[0][:, 0])  # fmt: skip


def test_a_setting_column_not_named_is_not_an_input(measured):
    from hea_zoo.campaign import propose

    p = propose(measured, maximize="strength", batch=2, seed=0, pool=["HfNbTaTiZr", "NbTaTiV"], **FAST)
    assert p.model.settings == () and p.settings == {} and "test_temperature" not in p.table.columns
    assert "settings" not in p.summary


@pytest.mark.parametrize(
    "settings, kwargs, error, field, fragment",
    [
        ({"temperature": 1000}, {}, DataError, "settings['temperature']", "'temperature' is not a column"),
        ({"test_temperature": "hot"}, {}, TargetError, "settings['test_temperature']", "must be a number"),
        ({"test_temperature": float("nan")}, {}, TargetError, "settings['test_temperature']", "finite"),
        ([("test_temperature", 1000)], {}, UsageError, "settings", "mapping"),
        ({"strength": 1000}, {}, UsageError, "settings['strength']", "a measurement setting"),
        ({"test_temperature": 1000}, {"properties": ["strength", "test_temperature"]}, UsageError,
         "settings['test_temperature']", "not a property"),
    ],
)  # fmt: skip
def test_bad_settings_name_the_setting(measured, settings, kwargs, error, field, fragment):
    from hea_zoo.campaign import propose

    with pytest.raises(error) as err:
        propose(measured, **{"maximize": "strength", "settings": settings, **FAST, **kwargs})
    assert err.value.field == field and fragment in err.value.message, str(err.value)


def test_a_row_without_a_setting_value_is_named(measured, tmp_path):
    from hea_zoo.campaign import propose

    bad = measured.copy()
    bad.loc[[4, 9], "test_temperature"] = np.nan
    path = tmp_path / "measured.csv"
    bad.to_csv(path, index=False)
    with pytest.raises(DataError) as err:
        propose(str(path), maximize="strength", settings=HOT, **FAST)
    assert err.value.field == "data"
    assert "'test_temperature' has no value on 2 row(s)" in err.value.message and "line(s) 6, 11" in err.value.message
    bad = bad.astype({"test_temperature": object})
    bad.loc[4, "test_temperature"] = "hot"
    with pytest.raises(DataError) as err:
        propose(bad, maximize="strength", settings=HOT, **FAST)
    assert "line 6: setting 'test_temperature' is not a number ('hot')" in err.value.message
    # Without settings the column is not read: the same table proposes.
    p = propose(bad, maximize="strength", batch=1, pool=["HfNbTaTiZr"], **FAST)
    assert len(p.table) == 1


def test_the_oracle_refuses_proposals_made_at_settings(hot):
    from hea_zoo.campaign.lab import measure
    from hea_zoo.campaign.next_batch import proposal_settings

    assert proposal_settings(hot.table) == ["test_temperature"]
    with pytest.raises(DataError) as err:
        measure(hot.table)
    assert err.value.field == "data" and "['test_temperature']" in err.value.message
    assert "knows no measurement settings" in err.value.message
    plain = hot.table.drop(columns=["test_temperature"])
    assert proposal_settings(plain) == []
    assert len(measure(plain)) == len(plain)


def test_cli_propose_with_setting_end_to_end(measured, tmp_path, capsys):
    from hea_zoo.cli import EXIT_DATA, EXIT_USAGE, main

    data = tmp_path / "measured.csv"
    measured.to_csv(data, index=False)
    base = ["propose", "--data", str(data), "--maximize", "strength", "--elements", ",".join(SPACE),
            "--batch", "3", "--candidates", "300", "--seed", "0"]  # fmt: skip
    code = main([*base, "--setting", "test_temperature=1000", "--out", str(tmp_path / "next.csv")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "measured: 25 (alloy, setting) pairs of 20 alloys; goals: none" in out
    assert f"at test_temperature=1000: {_rows_at(measured, 1000)} of 25 measured rows" in out
    header = out.splitlines()[0].split()
    assert header[:3] == ["rank", "formula", "test_temperature"]
    written = pd.read_csv(tmp_path / "next.csv")
    assert len(written) == 3 and (written["test_temperature"] == 1000).all()
    # The bundled oracle knows no temperatures: it refuses the batch, naming the column.
    assert main(["oracle", "--data", str(tmp_path / "next.csv"), "--append", str(data),
                 "--out", str(tmp_path / "m1.csv")]) == EXIT_DATA  # fmt: skip
    err = capsys.readouterr().err
    assert err.startswith("data error: --data: the proposals are to be measured at the setting(s) ['test_temperature']")
    assert not (tmp_path / "m1.csv").exists()
    assert main([*base, "--setting", "temperature=1000"]) == EXIT_DATA
    assert capsys.readouterr().err.startswith("data error: --setting temperature: 'temperature' is not a column")
    assert main([*base, "--setting", "test_temperature=hot"]) == EXIT_USAGE
    assert "usage error: --setting test_temperature: not a number: 'hot'" in capsys.readouterr().err
    assert main([*base, "--setting", "test_temperature=25", "--setting", "test_temperature=1000"]) == EXIT_USAGE
    assert "given twice" in capsys.readouterr().err

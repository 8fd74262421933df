"""Tests for hea_zoo.evaluation.report: the folder holds what it claims, with the study's numbers."""

import json

import pytest

from hea_zoo.evaluation import experiments, report
from tests.support.evaluation_fakes import FakeGenerator, FakeSurrogate, make_dataset, oracle


@pytest.fixture(scope="module")
def dataset():
    return make_dataset()


@pytest.fixture(scope="module")
def evaluations(dataset):
    return {
        "cvae": experiments.evaluate_generator(
            FakeGenerator(dataset, 0.0), dataset, FakeSurrogate(), oracle=None,
            n_per_condition=8, n_novelty=5, n_grid=2, name="cvae",
        ),
        "mine": experiments.evaluate_generator(
            FakeGenerator(dataset, 0.4), dataset, FakeSurrogate(), oracle=oracle,
            n_per_condition=8, n_novelty=5, n_grid=2, name="mine",
        ),
    }  # fmt: skip


def test_study_results_lookup():
    assert report.study_results_for("cVAE")["mape"] == 2.51
    assert report.study_results_for("WcGAN")["cosine_similarity"] == 98.87
    assert report.study_results_for("c-AE")["novelty"] == 40.46
    assert report.study_results_for("diffusion") is None


def test_write_report_with_figures(evaluations, dataset, tmp_path):
    scores = {"shear_modulus": {"r2": 0.97, "mape": 2.5}, "fracture_toughness": {"r2": 0.9, "mape": 4.0}}
    path = report.write_report(evaluations, tmp_path / "rep", dataset=dataset, surrogate_scores=scores)
    assert path == tmp_path / "rep" / "report.md"
    text = path.read_text()
    # The study's numbers beside ours, both judges, the extra metrics.
    assert "Table 1" in text and "Table 2" in text and "Table 3" in text
    assert "2.51 %" in text and "99.95 %" in text and "41.36 %" in text
    mine = evaluations["mine"]
    assert f"{mine.line.mape_surrogate['mean']:.2f} %" in text
    assert f"{mine.line.mape_oracle['mean']:.2f} %" in text
    assert f"{100 * mine.line.cosine_similarity:.2f} %" in text
    assert f"{100 * mine.novelty.novelty:.2f} %" in text
    assert "hit ±5 %" in text and "validity" in text and "uniqueness" in text
    # Every image the report links exists.
    metrics = json.loads((tmp_path / "rep" / "metrics.json").read_text())
    assert set(metrics["figures"]) == {
        "conditions", "parity", "grid", "line_metrics", "samples", "interpolation", "novelty",
    }  # fmt: skip
    for rel in metrics["figures"].values():
        assert (tmp_path / "rep" / rel).is_file()
        assert f"]({rel})" in text
    assert metrics["models"]["mine"]["summary"]["mape_oracle"] == pytest.approx(
        mine.line.mape_oracle["mean"]
    )
    assert metrics["models"]["cvae"]["line"]["mape_oracle"] is None
    assert metrics["study"]["wcgan"]["mape"] == 16.51
    assert metrics["dataset"]["n_alloys"] == len(dataset.compositions)
    assert metrics["surrogate"]["shear_modulus"]["r2"] == 0.97


def test_write_report_without_figures_or_oracle(evaluations, tmp_path):
    only = {"cvae": evaluations["cvae"]}
    path = report.write_report(only, tmp_path, figures=False, notes="Trained for 3 epochs.")
    text = path.read_text()
    assert text.splitlines()[2] == "Trained for 3 epochs."
    assert "oracle: mean" not in text and "![" not in text
    assert not (tmp_path / "figures").exists()
    data = json.loads((tmp_path / "metrics.json").read_text())
    assert list(data["models"]) == ["cvae"]
    assert "figures" not in data


def test_render_markdown_rejects_empty():
    with pytest.raises(ValueError, match="empty"):
        report.render_markdown({})


def test_report_states_interval_coverage_and_distinct_alloys(evaluations, tmp_path):
    import dataclasses

    import numpy as np

    base = make_dataset()
    groups = np.arange(len(base.compositions))
    groups[1] = groups[0]  # one alloy measured twice
    from hea_zoo.data.datasets import Dataset

    data = Dataset(
        **{f.name: getattr(base, f.name) for f in dataclasses.fields(base)},
        formulas=tuple("x" for _ in groups), groups=groups,
        duplicates="duplicates: 2 rows repeat 1 compositions",
    )  # fmt: skip
    scores = {
        "shear_modulus": {"r2": 0.97, "mape": 2.5, "coverage": 0.9, "interval_coverage": 0.887,
                          "interval_coverage_by_spread": [0.86, 0.9, 0.91], "interval_width": 4.25,
                          "calibration_size": 62, "calibration_folds": 5},
        "fracture_toughness": {"r2": 0.9, "mape": 4.0, "coverage": 0.9, "interval_coverage": 0.934,
                               "interval_coverage_by_spread": [0.95, 0.92, 0.93], "interval_width": 18.2,
                               "calibration_size": 62, "calibration_folds": 5},
    }  # fmt: skip
    text = report.write_report({"cvae": evaluations["cvae"]}, tmp_path, dataset=data,
                               surrogate_scores=scores, figures=False).read_text()  # fmt: skip
    assert "| shear_modulus | 0.970 | 2.50 % | 88.7 % (90 %) | 86 % / 90 % / 91 % | 4.250 |" in text
    assert "| fracture_toughness | 0.900 | 4.00 % | 93.4 % (90 %) |" in text
    assert "calibrated interval (normalized 5-fold cross-conformal (out-of-fold scores of every training alloy), 62 alloys)" in text
    n_train = len(np.unique(groups[data.train_index]))
    assert f"{n_train} distinct alloys trained" in text and "no composition in both" in text
    assert "Repeated compositions: 2 rows repeat 1 compositions." in text
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["dataset"]["n_train_alloys"] == n_train
    assert metrics["surrogate"]["shear_modulus"]["interval_coverage"] == 0.887


def test_the_flow_is_a_row_beyond_the_study(evaluations, tmp_path):
    """The flow has no column in the study: its rows say so and leave the study cells empty."""
    rows = {"cvae": evaluations["cvae"], "flow": evaluations["mine"]}
    text = report.write_report(rows, tmp_path, figures=False).read_text()
    table1 = [line for line in text.splitlines() if line.startswith("| flow")]
    assert table1 and all(line.startswith("| flow (beyond the study) | — |") for line in table1[:1])
    assert "| cvae | 2.51 % |" in text and "| mine" not in text


def test_report_on_user_data_has_no_empty_units():
    import dataclasses

    from hea_zoo.evaluation import experiments, report
    from tests.support.evaluation_fakes import FakeGenerator, FakeSurrogate, make_dataset

    dataset = dataclasses.replace(
        make_dataset(), property_names=("Vickers hardness (HV)", "E"), property_units=("", "")
    )
    evaluation = experiments.evaluate_generator(
        FakeGenerator(dataset, 0.1), dataset, FakeSurrogate(), oracle=None,
        n_per_condition=8, n_novelty=5, n_grid=2, name="mine",
    )  # fmt: skip
    text = report.render_markdown({"mine": evaluation}, dataset=dataset)
    assert "Vickers hardness (HV)" in text
    assert "()" not in text and "[-]" not in text and "[]" not in text

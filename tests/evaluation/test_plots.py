"""Tests for hea_zoo.evaluation.plots: every figure is written where it is claimed, as a real PNG."""

import numpy as np
import pytest

from hea_zoo.evaluation import experiments, plots
from tests.support.evaluation_fakes import FakeGenerator, FakeSurrogate, make_dataset, oracle

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def dataset():
    return make_dataset()


@pytest.fixture(scope="module")
def evaluations(dataset):
    out = {}
    for name, noise, judge in (("collapsed", 0.0, None), ("diverse", 0.4, oracle)):
        out[name] = experiments.evaluate_generator(
            FakeGenerator(dataset, noise), dataset, FakeSurrogate(), oracle=judge,
            n_per_condition=20, n_novelty=6, n_grid=3, name=name,
        )  # fmt: skip
    return out


def _is_png(path):
    return path.is_file() and path.read_bytes()[:8] == PNG_MAGIC and path.stat().st_size > 1000


def test_single_evaluation_accepted(evaluations, tmp_path):
    single = evaluations["diverse"]
    assert _is_png(plots.plot_parity(single, tmp_path / "p.png"))
    assert _is_png(plots.plot_novelty([single], tmp_path / "n.png"))


def test_plot_conditions(dataset, tmp_path):
    assert _is_png(plots.plot_conditions(dataset, tmp_path / "c.png"))
    line = experiments.line_conditions(dataset, 5)
    assert _is_png(plots.plot_conditions(dataset, tmp_path / "c5.png", line=line))


def test_plot_all_writes_every_figure_as_a_png(dataset, evaluations, tmp_path):
    """Every figure of the study, for two models, into a folder it creates; each path is
    the one returned, and no temporary file is left behind."""
    out = tmp_path / "sub" / "figs"
    figures = plots.plot_all(evaluations, out, dataset)
    assert figures == {
        "conditions": out / "fig09_conditions.png",
        "parity": out / "fig10_parity_line.png",
        "grid": out / "fig11_grid_densities.png",
        "line_metrics": out / "fig12_line_metrics.png",
        "samples": out / "fig13_samples.png",
        "interpolation": out / "fig15_interpolation.png",
        "novelty": out / "fig18_novelty.png",
    }
    assert all(_is_png(p) for p in figures.values())
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in figures.values())


def test_missing_runs_are_reported(evaluations, tmp_path):
    import dataclasses

    bare = dataclasses.replace(evaluations["diverse"], runs={})
    with pytest.raises(ValueError, match="raw 'line' run"):
        plots.plot_parity({"bare": bare}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="empty"):
        plots.plot_parity({}, tmp_path / "x.png")


def test_element_colors_distinct():
    colors = plots.element_colors([f"E{i}" for i in range(22)])
    assert len(set(colors.values())) == 22
    assert plots.element_colors(["Nb", "Ta"])["Nb"] == colors["E0"]
    assert np.all(np.asarray(colors["E0"][:3]) <= 1.0)


def test_labels_keep_user_names_and_drop_empty_units():
    from hea_zoo.evaluation.plots import _label, _value

    assert _label("shear_modulus", "GPa") == "Shear modulus (GPa)"
    assert _label("Vickers hardness (HV)", "") == "Vickers hardness (HV)"
    assert _label("yield_strength_MPa") == "yield_strength_MPa"
    assert _value(80.0, "GPa") == "80 GPa" and _value(80.0, "") == "80"

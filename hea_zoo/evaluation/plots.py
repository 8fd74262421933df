"""Figures of the study's protocol, with models side by side.

Each function draws one figure, writes it as a PNG and returns the path. Figures are
built on `matplotlib.figure.Figure` and rendered by the Agg canvas; pyplot is never
imported, so plotting works headless and does not change the backend of a user's session.

The numbering follows Tung, Debnath & Reinhart, "Evaluating generative models for
inverse design of high-entropy refractory alloys":

- `plot_conditions` — the data with the line and grid conditions (Fig. 9);
- `plot_parity` — target vs achieved per property along the line, with spread (Fig. 10);
- `plot_grid_densities` — 2-D density of achieved properties per grid condition (Fig. 11);
- `plot_line_metrics` — cosine similarity and MAPE along the line (Fig. 12);
- `plot_samples` — sample compositions at low and high targets (Figs. 12–14);
- `plot_interpolation` — compositions along a latent path (Figs. 15–17);
- `plot_novelty` — similarity of designs to the alloy that set the condition (Fig. 18).

The plotting functions take ``evaluations``: a mapping from model name to
`hea_zoo.evaluation.experiments.GeneratorEvaluation` (a single evaluation or a list also works),
with the raw runs that `evaluate_generator` keeps.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from hea_zoo.errors import UsageError
from hea_zoo.constants import PROPERTY_NAMES
from hea_zoo.evaluation import experiments, metrics
from hea_zoo.files import atomic_write

__all__ = [
    "element_colors",
    "plot_conditions",
    "plot_parity",
    "plot_grid_densities",
    "plot_line_metrics",
    "plot_samples",
    "plot_interpolation",
    "plot_novelty",
    "plot_all",
]

_PANEL = 3.6  # inches per panel
_DPI = 120


# --------------------------------------------------------------------------- helpers


def element_colors(elements: Sequence[str]) -> dict[str, tuple]:
    """A fixed, distinct colour per element (same element, same colour in every figure).

    Args:
        elements: Element symbols, in order.

    Returns:
        Dict symbol -> RGBA.
    """
    tab20 = list(colormaps["tab20"].colors)
    palette = tab20[0::2] + tab20[1::2] + list(colormaps["Dark2"].colors) + list(colormaps["Set3"].colors)
    return {el: palette[i % len(palette)] for i, el in enumerate(elements)}


_evaluations = experiments.evaluations_by_name


def _run(evaluation, key: str) -> experiments.ConditionRun:
    run = evaluation.runs.get(key) if evaluation.runs else None
    if run is None:
        raise UsageError(
            f"Evaluation {evaluation.name!r} has no raw {key!r} run (results loaded from JSON "
            "carry metrics only). Plot the evaluation returned by `evaluate_generator`.",
            field="evaluation",
        )
    return run


def _label(name: str, unit: str | None = None) -> str:
    """``Shear modulus (GPa)`` for the study's names; a user's column name as written, with
    its unit only when it has one (no empty ``()``)."""
    text = name.replace("_", " ").capitalize() if name in PROPERTY_NAMES else str(name)
    return f"{text} ({unit})" if unit else text


def _value(value: float, unit: str | None) -> str:
    """``80.2 GPa``, or ``80.2`` when the unit is empty."""
    return f"{value:.3g} {unit}" if unit else f"{value:.3g}"


def _save(fig: Figure, path) -> Path:
    return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=_DPI, bbox_inches="tight", format="png"))


def _figure(nrows: int, ncols: int, width=_PANEL, height=_PANEL):
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _judges(run: experiments.ConditionRun) -> list[tuple[str, np.ndarray]]:
    judges = [("surrogate", run.surrogate_properties)]
    if run.oracle_properties is not None:
        judges.append(("oracle", run.oracle_properties))
    return judges


def _stacked_bars(ax, fractions: np.ndarray, x, elements, colors, width=0.85):
    """Stacked bars of ``(k, E)`` fractions at positions ``x``; returns the elements drawn."""
    bottom = np.zeros(fractions.shape[0])
    shown = []
    for e, el in enumerate(elements):
        values = fractions[:, e]
        if np.all(values < 1e-3):
            continue
        ax.bar(x, values, width, bottom=bottom, color=colors[el], label=el, linewidth=0)
        bottom += values
        shown.append(el)
    ax.set_ylim(0, 1)
    return shown


# --------------------------------------------------------------------------- Fig. 9


def plot_conditions(dataset, path, line=None, grid=None) -> Path:
    """The dataset in property space with the line and grid conditions (Fig. 9).

    Args:
        dataset: A `hea_zoo.data.datasets.Dataset` with two or more properties (the first two
            are drawn).
        path: Where to write the PNG.
        line: ``(m, P)`` line conditions (default `experiments.line_conditions`).
        grid: ``(k, P)`` grid conditions (default `experiments.grid_conditions`).

    Returns:
        The path written.
    """
    if len(dataset.property_names) < 2:
        raise UsageError(
            "plot_conditions draws two properties. "
            f"Received: property_names={tuple(dataset.property_names)}",
            field="dataset",
        )
    line = experiments.line_conditions(dataset) if line is None else np.asarray(line)
    grid = experiments.grid_conditions(dataset) if grid is None else np.asarray(grid)
    props = np.asarray(dataset.properties)
    fig, axes = _figure(1, 1, 5.5, 4.5)
    ax = axes[0, 0]
    train = np.zeros(len(props), bool)
    train[np.asarray(dataset.train_index)] = True
    ax.scatter(*props[train, :2].T, s=10, c="0.6", label=f"train ({train.sum()})")
    if (~train).any():
        ax.scatter(*props[~train, :2].T, s=10, c="0.3", marker="^", label=f"test ({(~train).sum()})")
    ax.plot(*line[:, :2].T, "o-", c="tab:red", ms=4, label=f"line ({len(line)})")
    ax.scatter(*grid[:, :2].T, marker="s", s=30, facecolors="none", edgecolors="tab:blue",
               label=f"grid ({len(grid)})")  # fmt: skip
    units = getattr(dataset, "property_units", ("", ""))
    ax.set_xlabel(_label(dataset.property_names[0], units[0]))
    ax.set_ylabel(_label(dataset.property_names[1], units[1]))
    ax.set_title(f"Conditions over {getattr(dataset, 'name', 'the data')}")
    ax.legend(fontsize=8)
    return _save(fig, path)


# --------------------------------------------------------------------------- Fig. 10


def plot_parity(evaluations, path, run: str = "line") -> Path:
    """Target vs achieved property along the line, one panel per property and model (Fig. 10).

    Per condition: the median achieved value with its 5–95 % band across the samples,
    judged by the surrogate (solid) and, where available, the oracle (dashed); the
    diagonal is a perfect hit.

    Args:
        evaluations: Model name -> `GeneratorEvaluation`.
        path: Where to write the PNG.
        run: Which run to draw (``"line"`` as in the study, or ``"grid"``).

    Returns:
        The path written.
    """
    evaluations = _evaluations(evaluations)
    first = next(iter(evaluations.values()))
    names, units = first.property_names, first.property_units
    fig, axes = _figure(len(names), len(evaluations))
    for col, (model, evaluation) in enumerate(evaluations.items()):
        r = _run(evaluation, run)
        for p, name in enumerate(names):
            ax = axes[p, col]
            target = r.conditions[:, p]
            order = np.argsort(target)
            for (judge, values), color, style in zip(
                _judges(r), ("tab:blue", "tab:orange"), ("-", "--")
            ):
                v = values[..., p]
                lo, med, hi = np.nanpercentile(v, [5, 50, 95], axis=1)
                ax.fill_between(target[order], lo[order], hi[order], color=color, alpha=0.2)
                ax.plot(target[order], med[order], style, marker="o", ms=3, color=color,
                        label=f"{judge} (median, 5–95 %)")  # fmt: skip
            lims = [np.nanmin([target.min(), ax.get_ylim()[0]]), np.nanmax([target.max(), ax.get_ylim()[1]])]
            ax.plot(lims, lims, c="k", lw=0.8, label="target")
            ax.set_xlabel(f"target: {_label(name, units[p])}")
            ax.set_ylabel("achieved")
            ax.set_title(f"{model}: {_label(name)}")
            if p == 0 and col == 0:
                ax.legend(fontsize=7)
    return _save(fig, path)


# --------------------------------------------------------------------------- Fig. 11


def _grid_layout(conditions: np.ndarray) -> tuple[int, int, list[tuple[int, int]]]:
    """Panel (row, col) of each grid condition: property 0 along columns, property 1 up rows."""
    xs = np.unique(conditions[:, 0])
    ys = np.unique(conditions[:, 1])
    if len(xs) * len(ys) == len(conditions):
        cells = [
            (len(ys) - 1 - int(np.searchsorted(ys, c[1])), int(np.searchsorted(xs, c[0])))
            for c in conditions
        ]
        return len(ys), len(xs), cells
    ncols = int(np.ceil(np.sqrt(len(conditions))))
    nrows = int(np.ceil(len(conditions) / ncols))
    return nrows, ncols, [(i // ncols, i % ncols) for i in range(len(conditions))]


def plot_grid_densities(evaluations, path, bins: int = 30) -> Path:
    """2-D densities of achieved properties, one small panel per grid condition (Fig. 11).

    For each model (rows) and judge (columns: surrogate; oracle where available) a block
    of panels laid out like the grid (first property increasing to the right, second upwards); each panel
    is a log-scaled 2-D histogram of that condition's designs, with the target marked (×)
    and the designs' mean (•). All panels of a block share their axes.

    Args:
        evaluations: Model name -> `GeneratorEvaluation`.
        path: Where to write the PNG.
        bins: Histogram bins per axis.

    Returns:
        The path written.
    """
    evaluations = _evaluations(evaluations)
    first = next(iter(evaluations.values()))
    names, units = first.property_names, first.property_units
    runs = {model: _run(evaluation, "grid") for model, evaluation in evaluations.items()}
    n_judges = max(len(_judges(run)) for run in runs.values())
    nrows, ncols, _ = _grid_layout(next(iter(runs.values())).conditions[:, :2])
    fig = Figure(
        figsize=(1.5 * ncols * n_judges + 0.5, (1.45 * nrows + 0.7) * len(runs)),
        layout="constrained",
    )
    subfigs = np.array(fig.subfigures(len(runs), n_judges, wspace=0.03, hspace=0.03), dtype=object)
    subfigs = subfigs.reshape(len(runs), n_judges)
    blocks, used = [], []
    for i, (model, run) in enumerate(runs.items()):
        for j, (judge, values) in enumerate(_judges(run)):
            blocks.append((model, judge, values, run))
            used.append(subfigs[i, j])
    for subfig, (model, judge, values, run) in zip(used, blocks):
        targets = run.conditions[:, :2]
        nrows, ncols, cells = _grid_layout(targets)
        axes = subfig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
        flat = values[..., :2].reshape(-1, 2)
        flat = np.concatenate([flat[np.all(np.isfinite(flat), axis=1)], targets])
        lo, hi = flat.min(axis=0), flat.max(axis=0)
        pad = 0.05 * (hi - lo) + 1e-6
        extent = [[lo[0] - pad[0], hi[0] + pad[0]], [lo[1] - pad[1], hi[1] + pad[1]]]
        for ax in axes.ravel():
            ax.set_axis_off()
        for i, (row, col) in enumerate(cells):
            ax = axes[row, col]
            ax.set_axis_on()
            points = values[i, :, :2]
            points = points[np.all(np.isfinite(points), axis=1)]
            if len(points):
                ax.hist2d(*points.T, bins=bins, range=extent, cmap="Blues", norm=LogNorm(vmin=0.8), cmin=1)
                ax.plot(*points.mean(axis=0), "o", mfc="none", mec="k", ms=4, mew=0.8)
            ax.plot(*targets[i], "x", c="tab:red", ms=6, mew=1.8)
            ax.tick_params(labelsize=6)
        subfig.suptitle(f"{model}, judged by the {judge}", fontsize=10)
        subfig.supxlabel(_label(names[0], units[0]), fontsize=8)
        subfig.supylabel(_label(names[1], units[1]), fontsize=8)
    return _save(fig, path)


# --------------------------------------------------------------------------- Fig. 12


def plot_line_metrics(evaluations, path) -> Path:
    """Within-condition cosine similarity and MAPE along the line, models overlaid (Fig. 12).

    Args:
        evaluations: Model name -> `GeneratorEvaluation`.
        path: Where to write the PNG.

    Returns:
        The path written.
    """
    evaluations = _evaluations(evaluations)
    fig, axes = _figure(1, 2, 4.8, 3.6)
    cos_ax, mape_ax = axes[0]
    for i, (model, evaluation) in enumerate(evaluations.items()):
        color = colormaps["tab10"](i % 10)
        m = evaluation.line
        x = np.linspace(0.0, 1.0, m.n_conditions)
        cos_ax.plot(x, 100 * np.asarray(m.cosine_similarity_per_condition), "o-", ms=3,
                    color=color, label=model)  # fmt: skip
        mape_ax.plot(x, np.asarray(m.mape_per_condition_surrogate).mean(axis=1), "o-", ms=3,
                     color=color, label=f"{model} (surrogate)")  # fmt: skip
        if m.mape_per_condition_oracle is not None:
            mape_ax.plot(x, np.asarray(m.mape_per_condition_oracle).mean(axis=1), "s--", ms=3,
                         color=color, label=f"{model} (oracle)")  # fmt: skip
    cos_ax.set_ylabel("within-condition cosine similarity (%)")
    cos_ax.set_ylim(0, 105)
    mape_ax.set_ylabel("MAPE, mean over properties (%)")
    mape_ax.set_ylim(bottom=0)
    for ax in (cos_ax, mape_ax):
        ax.set_xlabel("position on the line (q5 → q95)")
        ax.legend(fontsize=7)
    return _save(fig, path)


# --------------------------------------------------------------------------- Figs. 12–14


def plot_samples(evaluations, path, max_samples: int = 10) -> Path:
    """Stacked bar charts of sample compositions at low and high targets (Figs. 12–14).

    Rows are models, columns the low and high condition; each bar is one design, its
    segments the atomic fractions.

    Args:
        evaluations: Model name -> `GeneratorEvaluation`.
        path: Where to write the PNG.
        max_samples: Bars per panel.

    Returns:
        The path written.
    """
    evaluations = _evaluations(evaluations)
    first = next(iter(evaluations.values()))
    elements = first.elements
    colors = element_colors(elements)
    fig, axes = _figure(len(evaluations), 2, 4.6, 2.8)
    shown: set[str] = set()
    for row, (model, evaluation) in enumerate(evaluations.items()):
        samples = evaluation.samples
        if samples is None:
            raise UsageError(f"Evaluation {model!r} has no samples run.", field="evaluations")
        for col, label in enumerate(("low", "high")):
            ax = axes[row, col]
            designs = samples.designs[col, :max_samples]
            shown.update(_stacked_bars(ax, designs, np.arange(len(designs)), elements, colors))
            target = ", ".join(_value(v, u) for v, u in zip(samples.conditions[col], first.property_units))
            ax.set_title(f"{model}: {label} target ({target})", fontsize=9)
            ax.set_xlabel("sample")
            ax.set_ylabel("atomic fraction")
    _legend(fig, [el for el in elements if el in shown], colors)
    return _save(fig, path)


def _legend(fig: Figure, elements, colors):
    from matplotlib.patches import Patch

    handles = [Patch(color=colors[el], label=el) for el in elements]
    fig.legend(handles=handles, loc="outside right center", fontsize=8, title="element")


# --------------------------------------------------------------------------- Figs. 15–17


def plot_interpolation(evaluations, path) -> Path:
    """Compositions decoded along a straight latent path at a fixed condition (Figs. 15–17).

    One panel per model; bars in path order from ``z0`` (t = 0) to ``z1`` (t = 1), with
    the surrogate-judged first property above each bar.

    Args:
        evaluations: Model name -> `GeneratorEvaluation`.
        path: Where to write the PNG.

    Returns:
        The path written.
    """
    evaluations = _evaluations(evaluations)
    first = next(iter(evaluations.values()))
    elements = first.elements
    colors = element_colors(elements)
    fig, axes = _figure(1, len(evaluations), 4.2, 3.2)
    shown: set[str] = set()
    for col, (model, evaluation) in enumerate(evaluations.items()):
        run = evaluation.interpolation
        if run is None:
            raise UsageError(f"Evaluation {model!r} has no interpolation run.", field="evaluations")
        ax = axes[0, col]
        x = np.arange(len(run.t))
        shown.update(_stacked_bars(ax, run.designs, x, elements, colors))
        ax.set_xticks(x, [f"{t:.1f}" for t in run.t], fontsize=7)
        ax.set_xlabel("t   (z = (1 − t)·z0 + t·z1)")
        ax.set_ylabel("atomic fraction")
        condition = ", ".join(f"{v:.3g}" for v in run.condition)
        ax.set_title(
            f"{model} at ({condition}); above bars: {_label(first.property_names[0])}, surrogate",
            fontsize=8,
        )
        ax.set_ylim(0, 1.12)
        for xi, value in zip(x, run.surrogate_properties[:, 0]):
            ax.text(xi, 1.02, f"{value:.0f}", ha="center", fontsize=6)
    _legend(fig, [el for el in elements if el in shown], colors)
    return _save(fig, path)


# --------------------------------------------------------------------------- Fig. 18


def plot_novelty(evaluations, path) -> Path:
    """Distributions of cosine similarity to the alloy whose properties were the condition (Fig. 18).

    One panel per model: a histogram over every design of the novelty run, the mean
    marked; lower is more novel, 1 means the generator returned that alloy.

    Args:
        evaluations: Model name -> `GeneratorEvaluation`.
        path: Where to write the PNG.

    Returns:
        The path written.
    """
    evaluations = _evaluations(evaluations)
    fig, axes = _figure(1, len(evaluations), 3.6, 3.0)
    bins = np.linspace(0.0, 1.0, 41)
    for col, (model, evaluation) in enumerate(evaluations.items()):
        run = _run(evaluation, "novelty")
        sims = metrics.cosine_similarity_to_reference(run.designs, run.reference).ravel()
        ax = axes[0, col]
        ax.hist(sims, bins=bins, color=colormaps["tab10"](col % 10), alpha=0.8)
        ax.axvline(sims.mean(), c="k", ls="--", lw=1, label=f"mean {100 * sims.mean():.1f} %")
        ax.set_xlabel("cosine similarity to the reference alloy")
        ax.set_ylabel("designs")
        ax.set_title(model)
        ax.legend(fontsize=8)
    return _save(fig, path)


# --------------------------------------------------------------------------- all


def plot_all(evaluations, out_dir, dataset=None) -> dict[str, Path]:
    """Writes every figure into ``out_dir``.

    Args:
        evaluations: Model name -> `GeneratorEvaluation`.
        out_dir: Folder for the PNGs (created if needed).
        dataset: The dataset, for the conditions figure (skipped if None).

    Returns:
        Dict figure name -> path, in the order of the study's figures.
    """
    out_dir = Path(out_dir)
    figures = {}
    if dataset is not None:
        figures["conditions"] = plot_conditions(dataset, out_dir / "fig09_conditions.png")
    figures["parity"] = plot_parity(evaluations, out_dir / "fig10_parity_line.png")
    figures["grid"] = plot_grid_densities(evaluations, out_dir / "fig11_grid_densities.png")
    figures["line_metrics"] = plot_line_metrics(evaluations, out_dir / "fig12_line_metrics.png")
    figures["samples"] = plot_samples(evaluations, out_dir / "fig13_samples.png")
    figures["interpolation"] = plot_interpolation(evaluations, out_dir / "fig15_interpolation.png")
    figures["novelty"] = plot_novelty(evaluations, out_dir / "fig18_novelty.png")
    return figures

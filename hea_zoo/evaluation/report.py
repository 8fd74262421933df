"""A report folder from evaluation results: ``report.md``, ``metrics.json`` and the figures.

The report sets each model's numbers beside those of the study it reproduces (Tung,
Debnath & Reinhart, "Evaluating generative models for inverse design of high-entropy
refractory alloys", Tables 1 and 2), judged by the surrogate as the study did and by the
physics oracle (ground truth) where it applies, and adds what the study did not report:
hit rates, validity, uniqueness, distance to the training set and the surrogate–oracle gap.

Layout written by `write_report`::

    <out_dir>/report.md
    <out_dir>/metrics.json
    <out_dir>/figures/fig09_conditions.png ... fig18_novelty.png
"""

from __future__ import annotations

import json
import os
import platform
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hea_zoo.evaluation import experiments, plots
from hea_zoo._version import __version__
from hea_zoo.constants import GENERATOR_NAMES, STUDY_GENERATORS, short_label
from hea_zoo.files import write_text

__all__ = ["STUDY_RESULTS", "study_results_for", "metrics_dict", "render_markdown", "write_report"]

#: The study's headline numbers (its Tables 1 and 2), in percent. MAPE is judged by the
#: study's surrogate; cosine similarity is within-condition (lower = more diverse);
#: novelty is cosine similarity to the alloy that set the condition (lower = more novel).
STUDY_RESULTS: dict[str, dict[str, float]] = {
    "cae": {"mape": 10.51, "cosine_similarity": 53.44, "novelty": 40.46},
    "cvae": {"mape": 2.51, "cosine_similarity": 99.95, "novelty": 41.36},
    "wcgan": {"mape": 16.51, "cosine_similarity": 98.87, "novelty": 55.15},
}

_DASH = "—"


def study_results_for(name: str) -> dict[str, float] | None:
    """The study's numbers for a model name (``"cVAE"``, ``"wcgan"``, ``"c-ae"`` …), or None."""
    key = re.sub(r"[^a-z0-9]", "", str(name).lower())
    return STUDY_RESULTS.get(key)


def _row_label(model: str) -> str:
    """A table row's model name; a zoo generator the study did not have (the flow) is
    marked as beyond the study (its study columns stay empty)."""
    if str(model).lower() in GENERATOR_NAMES and str(model).lower() not in STUDY_GENERATORS:
        return f"{model} (beyond the study)"
    return str(model)


_evaluations = experiments.evaluations_by_name


def _dataset_info(dataset) -> dict[str, Any] | None:
    if dataset is None:
        return None
    info = {
        "name": getattr(dataset, "name", None),
        "n_alloys": int(len(dataset.compositions)),
        "n_train": int(len(dataset.train_index)),
        "n_test": int(len(dataset.test_index)),
        "n_train_alloys": _alloys(dataset, dataset.train_index),
        "n_test_alloys": _alloys(dataset, dataset.test_index),
        "duplicates": getattr(dataset, "duplicates", "") or "",
        "elements": list(dataset.elements),
        "property_names": list(dataset.property_names),
        "property_units": list(getattr(dataset, "property_units", ())),
    }
    if hasattr(dataset, "fingerprint"):
        info["fingerprint"] = dataset.fingerprint()
    return info


def _alloys(dataset, index) -> int:
    """Distinct alloys (composition groups) among the rows; rows if the data has no groups."""
    groups = getattr(dataset, "groups", None)
    if groups is None:
        return int(len(index))
    return int(len(np.unique(np.asarray(groups)[np.asarray(index, dtype=np.int64)])))


def _surrogate_rows(surrogate_scores) -> tuple[list[str], list[list[str]]]:
    """The surrogate table: held-out error and, when calibrated, measured interval coverage."""
    scores = {p: s for p, s in surrogate_scores.items() if isinstance(s, Mapping)}
    calibrated = any("interval_coverage" in s for s in scores.values())
    header = ["property", "R²", "MAPE"]
    if calibrated:
        header += ["interval coverage (nominal)", "by spread tercile (low / mid / high)", "mean width"]
    rows = []
    for prop, s in scores.items():
        row = [str(prop), _fmt(s.get("r2"), 3), _fmt(s.get("mape"), 2, suffix=" %")]
        if calibrated:
            terciles = s.get("interval_coverage_by_spread") or []
            row += [
                f"{_fmt(s.get('interval_coverage'), 1, 100, ' %')} ({_fmt(s.get('coverage'), 0, 100, ' %')})",
                " / ".join(_fmt(t, 0, 100, " %") for t in terciles) or _DASH,
                _fmt(s.get("interval_width"), 3),
            ]
        rows.append(row)
    return header, rows


def _calibration_text(surrogate_scores) -> str:
    """How the scored surrogate's intervals were calibrated, in words."""
    from hea_zoo.models.calibration import calibration_method

    scores = [s for s in surrogate_scores.values() if isinstance(s, Mapping) and "interval_coverage" in s]
    if not scores or "calibration_folds" not in scores[0]:
        return "normalized conformal on training alloys kept out of its training"
    size = scores[0].get("calibration_size")
    return f"normalized {calibration_method(scores[0]['calibration_folds'])}" + (f", {size} alloys" if size else "")


def metrics_dict(evaluations, dataset=None, surrogate_scores=None) -> dict[str, Any]:
    """Everything the report states, as a JSON-ready dict.

    Args:
        evaluations: Model name -> `hea_zoo.evaluation.experiments.GeneratorEvaluation`.
        dataset: The dataset evaluated on (for its name, size and fingerprint), optional.
        surrogate_scores: The surrogate's held-out scores, e.g. the output of
            ``Surrogate.score(test.compositions, test.properties)``, optional.

    Returns:
        Dict with ``package_version``, ``dataset``, ``surrogate``, ``study`` and
        ``models`` (each model's `GeneratorEvaluation.to_dict`).
    """
    evaluations = _evaluations(evaluations)
    return experiments._jsonable(
        {
            "package_version": __version__,
            "python": platform.python_version(),
            "dataset": _dataset_info(dataset),
            "surrogate": surrogate_scores,
            "study": STUDY_RESULTS,
            "models": {name: e.to_dict() for name, e in evaluations.items()},
        }
    )


# --------------------------------------------------------------------------- markdown


def _fmt(value, digits: int = 2, scale: float = 1.0, suffix: str = "") -> str:
    if value is None:
        return _DASH
    value = float(value) * scale
    if not np.isfinite(value):
        return _DASH
    return f"{value:.{digits}f}{suffix}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(
    evaluations,
    dataset=None,
    surrogate_scores=None,
    figures: Mapping[str, Path] | None = None,
    base_dir: Path | None = None,
    title: str = "hea_zoo evaluation report",
    notes: str | None = None,
) -> str:
    """The text of ``report.md``.

    Args:
        evaluations: Model name -> `GeneratorEvaluation`.
        dataset: The dataset, optional (described in the header).
        surrogate_scores: Held-out scores of the surrogate, ``{property: {"r2", "mape"}}``.
        figures: Figure name -> path, embedded as images (paths made relative to
            ``base_dir``).
        base_dir: Folder the report is written to.
        title: First heading.
        notes: Free text placed under the heading (e.g. how the models were trained).

    Returns:
        Markdown text.
    """
    evaluations = _evaluations(evaluations)
    first = next(iter(evaluations.values()))
    names = list(first.property_names)
    any_oracle = any(e.oracle_used for e in evaluations.values())
    out = [f"# {title}", ""]
    if notes:
        out += [notes.strip(), ""]
    out.append(
        f"hea_zoo {__version__}. Protocol of Tung, Debnath & Reinhart, \"Evaluating generative "
        "models for inverse design of high-entropy refractory alloys\": line of "
        f"{first.line.n_conditions} conditions from (q5, q5) to (q95, q95), grid of "
        f"{first.grid.n_conditions} conditions over [q10, q90], novelty on "
        f"{first.novelty.n_conditions} training alloys; {first.n_per_condition} designs per "
        f"condition; seed {first.seed}."
    )
    out.append("")
    if dataset is not None:
        info = _dataset_info(dataset)
        out.append(
            f"Dataset `{info['name']}`: {info['n_alloys']} rows ({info['n_train']} train, "
            f"{info['n_test']} test; {info['n_train_alloys']} distinct alloys trained, "
            f"{info['n_test_alloys']} tested, no composition in both) over "
            f"{len(info['elements'])} elements; properties "
            + ", ".join(
                f"{n} ({u})" if u else str(n) for n, u in zip(info["property_names"], info["property_units"])
            )
            + (f"; fingerprint `{info['fingerprint'][:16]}`." if "fingerprint" in info else ".")
        )
        if info["duplicates"]:
            out.append(f"Repeated compositions: {info['duplicates'].removeprefix('duplicates: ')}.")
        out.append("")
    if surrogate_scores:
        header, rows = _surrogate_rows(surrogate_scores)
        out += ["Surrogate (the judge), held-out error on alloys it never saw:", "", _table(header, rows), ""]
        if len(header) > 3:
            out += [
                "Interval coverage: share of held-out true values inside the surrogate's "
                f"calibrated interval ({_calibration_text(surrogate_scores)}), overall and by "
                "tercile of ensemble spread; width in the property's units.",
                "",
            ]
    out.append(
        "MAPE is reported twice: judged by the surrogate (as the study did) and by the physics "
        "oracle (ground truth for the bundled data). Headline MAPE and cosine similarity are "
        "over the line conditions. The study's numbers come from its own (non-public) data and "
        "surrogate, so they are a bar to compare against, not the same measurement."
        if any_oracle
        else "MAPE is judged by the surrogate (no oracle applies to this dataset). Headline "
        "MAPE and cosine similarity are over the line conditions. The study's numbers come from "
        "its own data, so they are a bar to compare against, not the same measurement."
    )
    out.append("")

    # Table 1: MAPE.
    header = ["model", "study (surrogate)", "surrogate: mean"]
    header += [f"surrogate: {short_label(n)}" for n in names]
    if any_oracle:
        header += ["oracle: mean"] + [f"oracle: {short_label(n)}" for n in names]
    header += ["grid, surrogate"] + (["grid, oracle"] if any_oracle else [])
    rows = []
    for model, e in evaluations.items():
        study = study_results_for(model) or study_results_for(e.name) or {}
        m_s, m_o = e.line.mape_surrogate, e.line.mape_oracle
        row = [_row_label(model), _fmt(study.get("mape"), suffix=" %"), _fmt(m_s["mean"], suffix=" %")]
        row += [_fmt(m_s[n], suffix=" %") for n in names]
        if any_oracle:
            row += [_fmt(None if m_o is None else m_o["mean"], suffix=" %")]
            row += [_fmt(None if m_o is None else m_o[n], suffix=" %") for n in names]
        row += [_fmt(e.grid.mape_surrogate["mean"], suffix=" %")]
        if any_oracle:
            g_o = e.grid.mape_oracle
            row += [_fmt(None if g_o is None else g_o["mean"], suffix=" %")]
        rows.append(row)
    out += ["## Table 1 — accuracy: MAPE vs target (lower is better)", "", _table(header, rows), ""]

    # Table 1b: accuracy at reachable targets (the novelty run's conditions are the
    # properties of real training alloys, so an alloy with them exists).
    header = ["model", "surrogate: mean"]
    if any_oracle:
        header += ["oracle: mean"] + [f"oracle: {short_label(n)}" for n in names]
        header += ["hit ±5 % (oracle)", "hit ±10 % (oracle)"]
    else:
        header += ["hit ±5 % (surrogate)", "hit ±10 % (surrogate)"]
    rows = []
    for model, e in evaluations.items():
        nov = e.novelty
        row = [model, _fmt(nov.mape_surrogate["mean"], suffix=" %")]
        hits = nov.hit_rate_oracle if any_oracle else nov.hit_rate_surrogate
        if any_oracle:
            m_o = nov.mape_oracle
            row += [_fmt(None if m_o is None else m_o["mean"], suffix=" %")]
            row += [_fmt(None if m_o is None else m_o[n], suffix=" %") for n in names]
        row += [_fmt((hits or {}).get(k), 1, 100, " %") for k in ("5%", "10%")]
        rows.append(row)
    out += [
        "## Table 1b — accuracy at reachable targets (lower MAPE, higher hit rate is better)",
        "",
        f"The {first.novelty.n_conditions} novelty conditions are the properties of real "
        "training alloys, so each target is known to be reachable. The line's conditions are "
        "not always: it joins (q5, q5) to (q95, q95) of each property separately, and where the "
        "properties are anti-correlated (as shear modulus and toughness are in the bundled "
        "data) its high end asks for stiff *and* tough alloys that the data, and the oracle, "
        "do not contain. Line MAPE then measures the distance to an unreachable target as "
        "much as the generator.",
        "",
        _table(header, rows),
        "",
    ]

    # Table 2: diversity and novelty.
    header = [
        "model",
        "cosine similarity: study",
        "cosine similarity: ours",
        "novelty: study",
        "novelty: ours",
    ]
    rows = []
    for model, e in evaluations.items():
        study = study_results_for(model) or study_results_for(e.name) or {}
        rows.append(
            [
                _row_label(model),
                _fmt(study.get("cosine_similarity"), suffix=" %"),
                _fmt(e.line.cosine_similarity, scale=100, suffix=" %"),
                _fmt(study.get("novelty"), suffix=" %"),
                _fmt(e.novelty.novelty, scale=100, suffix=" %"),
            ]
        )
    out += [
        "## Table 2 — diversity and novelty (lower is more diverse / more novel)",
        "",
        "Within-condition cosine similarity: mean over conditions of the mean pairwise cosine "
        "similarity between distinct designs. Novelty: mean cosine similarity between each "
        "design and the real alloy whose properties were the condition.",
        "",
        _table(header, rows),
        "",
    ]

    # Table 3: beyond the study.
    header = ["model", "hit ±5 % (surrogate)", "hit ±10 % (surrogate)"]
    if any_oracle:
        header += ["hit ±5 % (oracle)", "hit ±10 % (oracle)", "surrogate − oracle MAPE"]
    header += ["validity", "uniqueness", "nearest train (L2)", "copies", "surrogate std"]
    rows = []
    for model, e in evaluations.items():
        line = e.line
        row = [model]
        row += [_fmt(line.hit_rate_surrogate.get(k), 1, 100, " %") for k in ("5%", "10%")]
        if any_oracle:
            hits = line.hit_rate_oracle or {}
            row += [_fmt(hits.get(k), 1, 100, " %") for k in ("5%", "10%")]
            gap = line.surrogate_oracle_gap
            row += [_fmt(None if gap is None else gap["mean"], suffix=" pp")]
        validity = min(r.validity for r in (e.line, e.grid, e.novelty))
        row += [_fmt(validity, 1, 100, " %"), _fmt(line.uniqueness, 1, 100, " %")]
        nearest = line.nearest_training or {}
        row += [_fmt(nearest.get("euclidean_mean"), 3), _fmt(nearest.get("copy_rate"), 1, 100, " %")]
        std = line.surrogate_std_mean
        row += [_DASH if not std else ", ".join(f"{short_label(k)} {v:.2g}" for k, v in std.items())]
        rows.append(row)
    out += [
        "## Table 3 — beyond the study",
        "",
        "Over the line conditions. Hit rate: share of designs within the tolerance of the "
        "target on every property. Surrogate − oracle MAPE: negative when the surrogate rates "
        "the designs better than the ground truth does (the generator exploits the judge). "
        "Validity: share of rows that are compositions (nonnegative, sum to 1), worst of the "
        "three runs. Uniqueness: share of distinct rows after rounding to 3 decimals. Nearest "
        "train: mean Euclidean distance in fraction space to the closest training alloy; "
        f"copies: share within L1 {experiments.COPY_DISTANCE_L1} of one. Surrogate std: mean "
        "ensemble spread of the judged properties (large values: designs outside the "
        "surrogate's domain).",
        "",
        _table(header, rows),
        "",
    ]

    if figures:
        out += ["## Figures", ""]
        captions = {
            "conditions": "Fig. 9 — the data with the line and grid conditions",
            "parity": "Fig. 10 — target vs achieved along the line (median, 5–95 % band)",
            "grid": "Fig. 11 — achieved properties per grid condition, target marked ×",
            "line_metrics": "Fig. 12 — cosine similarity and MAPE along the line",
            "samples": "Figs. 12–14 — sample compositions at low and high targets",
            "interpolation": "Figs. 15–17 — compositions along a latent path",
            "novelty": "Fig. 18 — similarity to the alloy that set the condition",
        }
        for key, path in figures.items():
            rel = os.path.relpath(path, base_dir) if base_dir is not None else str(path)
            caption = captions.get(key, key)
            out += [f"**{caption}**", "", f"![{caption}]({Path(rel).as_posix()})", ""]
    return "\n".join(out).rstrip() + "\n"


def write_report(
    evaluations,
    out_dir,
    dataset=None,
    surrogate_scores=None,
    figures: bool = True,
    title: str = "hea_zoo evaluation report",
    notes: str | None = None,
) -> Path:
    """Writes ``report.md``, ``metrics.json`` and (optionally) the figures into ``out_dir``.

    Args:
        evaluations: Model name -> `hea_zoo.evaluation.experiments.GeneratorEvaluation` (as returned
            by `hea_zoo.evaluation.experiments.evaluate_generator`, with its raw runs for the figures).
        out_dir: The report folder (created if needed; files in it are replaced).
        dataset: The dataset evaluated on, optional (header, Fig. 9, fingerprint).
        surrogate_scores: The surrogate's held-out scores, optional.
        figures: Whether to draw the figures into ``out_dir/figures``.
        title: First heading of the report.
        notes: Free text under the heading (how the models were trained, etc.).

    Returns:
        The path of ``report.md``.

    Example:
        >>> results = {"cvae": evaluate_generator(cvae, data, surrogate)}   # doctest: +SKIP
        >>> write_report(results, "report", dataset=data)                  # doctest: +SKIP
        PosixPath('report/report.md')
    """
    evaluations = _evaluations(evaluations)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    drawn = plots.plot_all(evaluations, out_dir / "figures", dataset) if figures else None
    payload = metrics_dict(evaluations, dataset, surrogate_scores)
    if notes:
        payload["notes"] = notes
    if drawn:
        payload["figures"] = {k: os.path.relpath(v, out_dir) for k, v in drawn.items()}
    write_text(out_dir / "metrics.json", json.dumps(payload, indent=2, allow_nan=False) + "\n")
    text = render_markdown(evaluations, dataset, surrogate_scores, drawn, out_dir, title, notes)
    report = out_dir / "report.md"
    write_text(report, text)
    return report

"""A campaign's progress, from its measured table (rows in the order measured): the best
value so far of each goal property or objective against measurements, and the successes
so far (rows meeting every goal). `progress_lines` prints it; `plot_progress` draws it."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["progress_curves", "progress_lines", "plot_progress"]


def progress_curves(proposal) -> dict:
    """``{"measurements": (N,), "best": {name: (N,)}, "successes": (N,), "goals": {name: (lo, hi)}}``."""
    state = proposal._state
    y, meets = state.y, state.meets
    n = len(y)
    best, goals = {}, {}
    names = [(state.properties[j], lo, hi) for j, lo, hi in state.plan.property_goals]
    names += [(name, -math.inf if d == "max" else math.inf, math.inf if d == "max" else -math.inf)
              for name, d in state.objectives if name in state.properties]  # fmt: skip
    for name, lo, hi in names:
        if name in best:
            continue
        v = y[:, state.properties.index(name)]
        lower_is_better = hi != math.inf and lo == -math.inf
        filled = np.where(np.isfinite(v), v, np.inf if lower_is_better else -np.inf)
        best[name] = np.minimum.accumulate(filled) if lower_is_better else np.maximum.accumulate(filled)
        goals[name] = (lo, hi)
    return {"measurements": np.arange(1, n + 1), "best": best, "successes": np.cumsum(meets), "goals": goals}


def progress_lines(proposal) -> list[str]:
    """The summary as lines: measured alloys, best so far per goal and objective, successes."""
    s = proposal.summary
    measured = (f"{s['measured_alloys']} (alloy, setting) pairs of {s['measured_compositions']} alloys"
                if s.get("settings") else f"{s['measured_alloys']} alloys")  # fmt: skip
    lines = [f"measured: {measured}; goals: {', '.join(s['goals']) or 'none'}"
             + (f"; objectives: {', '.join(s['objectives'])}" if s["objectives"] else "")]  # fmt: skip
    if s.get("settings"):
        at = ", ".join(f"{k}={v:g}" for k, v in s["settings"].items())
        lines.append(f"at {at}: {s['measured_at_settings']} of {s['measured_alloys']} measured rows (best so far and "
                     "successes count these)")  # fmt: skip
    for name, value in s["best_so_far"].items():
        lines.append(f"best so far: {name} {value:.4g}" if value is not None else f"best so far: {name}: none measured")
    for name, value in s["best_objective_meeting_goals"].items():
        lines.append(f"best {name} meeting the goals: {'none yet' if value is None else f'{value:.4g}'}")
    lines.append(f"successes so far: {s['successes']}" + (f" ({', '.join(s['success_formulas'][:5])}"
                 + (", ..." if s["successes"] > 5 else "") + ")" if s["successes"] else ""))  # fmt: skip
    lines.append(f"proposed {s['proposed']} of {s['candidates_scored']:,} candidates scored in {s['seconds']:.1f} s "
                 f"(learner {s['learner_seconds']:.1f} s)")  # fmt: skip
    return lines


def plot_progress(proposal, path) -> str:
    """A PNG: one panel per goal property / objective (best so far against measurements,
    the goal's threshold dashed) and one of successes so far. Written atomically."""
    from matplotlib.figure import Figure

    from hea_zoo.files import atomic_write

    curves = progress_curves(proposal)
    panels = list(curves["best"]) + ["successes"]
    fig = Figure(figsize=(3.6 * len(panels), 3.2), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    m = curves["measurements"]
    for ax, name in zip(axes, panels):
        if name == "successes":
            ax.step(m, curves["successes"], where="post", color="C2")
            ax.set_ylabel("successes so far (meet every goal)")
        else:
            ax.step(m, curves["best"][name], where="post", color="C0")
            lo, hi = curves["goals"][name]
            for v in (lo, hi):
                if math.isfinite(v):
                    ax.axhline(v, ls="--", color="0.5", lw=1)
            ax.set_ylabel(f"best {name} so far")
        ax.set_xlabel("measurements")
    fig.suptitle(f"campaign after {len(m)} measurements")
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"), field="plot")
    return str(path)

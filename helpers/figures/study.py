"""Figures of your own study (notebook 08): each group's effect against neutral with its confidence interval."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D

from helpers.figures import base

def effect_sizes(table, *, value: str = "mean_diff", low: str = "mean_ci_low", high: str = "mean_ci_high",
                 notes=(), max_rows: int = 60, figsize=None):
    """Forest plot of per-group effects with confidence intervals, one panel per axis.

    Args:
        table: :func:`helpers.study.effects.layer_effect_sizes` output (axis, layer, and the columns below).
        value, low, high: the estimate and its CI bounds (default: participant mean - 50, rating
            points; ``"d_z", "d_ci_low", "d_ci_high"`` for the standardised effect).
        notes: label lines (:data:`helpers.figures.base.SIMULATED`).
        max_rows: show at most this many groups per axis (the largest |value|).

    Returns:
        matplotlib Figure.

    The title gives the number of participants behind each interval (column ``n``); a legend says what red means.

    Used in: notebook 08 (study-effect-sizes.png).
    """
    axes_names = list(dict.fromkeys(table["axis"]))
    n = min(max_rows, table.groupby("axis").size().max())
    fig, axs = plt.subplots(1, len(axes_names), figsize=figsize or (4.2 * len(axes_names), 1.2 + 0.22 * n), squeeze=False)
    for ax, name in zip(axs[0], axes_names):
        t = table[table["axis"] == name]
        t = t.loc[t[value].abs().sort_values(ascending=False).index[:max_rows]].sort_values(value)
        y = np.arange(len(t))
        excl = (t[low] > 0) | (t[high] < 0)
        colour = np.where(excl, "#c0392b", "#555555")
        ax.errorbar(t[value], y, xerr=[t[value] - t[low], t[high] - t[value]], fmt="none", ecolor=colour, elinewidth=1.2)
        ax.scatter(t[value], y, c=colour, s=14, zorder=3)
        ax.axvline(0, color="k", lw=0.8, ls="--")
        ax.set_yticks(y, [str(v) for v in t["layer"]], fontsize=7)
        ax.set_title(name)
        ax.set_xlabel({"mean_diff": "participant mean - 50 (rating points)", "d_z": "Cohen's d_z"}.get(value, value))
    level = table["level"].iloc[0] if "level" in table else 0.95
    n = table["n"] if "n" in table else None
    who = ("" if n is None or not len(n) else
           f"; N = {int(n.max())} participants" if n.min() == n.max() else f"; N = {int(n.min())}-{int(n.max())} participants")
    fig.suptitle(f"Each group's effect against neutral (50) with its {level:.0%} confidence interval{who}", fontsize=9)
    fig.legend(handles=[Line2D([], [], color="#c0392b", marker="o", ms=4, label="interval excludes 0: differs from neutral"),
                        Line2D([], [], color="#555555", marker="o", ms=4, label="interval includes 0")],
               loc="lower center", ncols=2, fontsize=7, frameon=False, bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, min(0.3, 0.35 / fig.get_figheight()), 1, 1))
    return base.label(fig, *notes)

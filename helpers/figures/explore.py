"""Exploring the layers interactively: one layer at a glance, and a dropdown browser (ipywidgets).

Under papermill (or any run without a live Jupyter front end) :func:`layer_browser` returns the static
figure instead of the widget, so executed notebooks stay reproducible. ipywidgets and IPython are imported
where the widget is built (they need a Jupyter front end to be of use).
"""
from __future__ import annotations

import os
import sys

import matplotlib.pyplot as plt

from helpers.figures import base, paper1

def layer_view(layer, *, images, density, stats_row, tests=None, notes=()):
    """One layer at a glance: its images, its joint density and its statistics (layer browser).

    Args:
        layer: layer name.
        images: list of uint8 HxWx3 arrays (the layer's dream images, one per seed).
        density: ``(bins, bins)`` joint density; stats_row: the layer's row of
            ``stats.joint_density_stats`` (a Series); tests: ``stats.layer_tests`` output.

    Used in: notebook 04.
    """
    n = max(len(images), 1)
    fig = plt.figure(figsize=(2.0 * (n + 2), 2.6))
    grid = fig.add_gridspec(1, n + 2, width_ratios=[1] * n + [1.2, 1.6])
    for k, img in enumerate(images):
        ax = fig.add_subplot(grid[0, k])
        ax.imshow(img)
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_title(f"seed {k}", fontsize=7)
    s = stats_row
    paper1.density_panel(density, mean=(s["mean_arousal"], s["mean_valence"]), median=(s["median_arousal"], s["median_valence"]),
                  ax=fig.add_subplot(grid[0, n]), title="joint density")
    lines = [f"layer {layer} (#{int(s['position'])})", f"mean A/V = {s['mean_arousal']:.1f} / {s['mean_valence']:.1f}",
             f"median A/V = {s['median_arousal']:.1f} / {s['median_valence']:.1f}", f"entropy = {s['entropy']:.2f} bits",
             f"dip p (A, V, joint) = {s['p_dip_arousal_adj']:.2g}, {s['p_dip_valence_adj']:.2g}, {s['p_dip_joint_adj']:.2g}",
             f"bimodal: {s['bimodal']}"]
    if tests is not None:
        for _, t in tests[tests["layer"] == layer].iterrows():
            lines.append(f"{t['axis']}: p_adj = {t['p_adj']:.2g} ({t['direction']})")
    ax = fig.add_subplot(grid[0, n + 1])
    ax.axis("off")
    ax.text(0, 0.95, "\n".join(lines), va="top", fontsize=7, family="monospace", transform=ax.transAxes)
    fig.tight_layout()
    return base.label(fig, *notes)


def layer_browser(layers, *, view, interactive=None, default=None):
    """A small ipywidgets layer browser: a dropdown of layers that redraws ``view(layer)``.

    Under papermill (or any run without a live Jupyter front end) it returns the static
    ``view(default)`` figure instead, so executed notebooks stay reproducible.

    Args:
        layers: layer names for the dropdown.
        view: callable ``layer -> Figure`` (e.g. a ``functools.partial`` of :func:`layer_view`).
        interactive: force widget (True) or static (False); ``None`` guesses from the
            shell (a ZMQ kernel without papermill/nbclient imported). A kernel cannot
            reliably tell papermill from JupyterLab, so notebooks pass their ``BROWSER``
            parameter explicitly.
        default: the layer shown first / statically (default: the first).

    Returns:
        ``ipywidgets.VBox`` when interactive, else the static Figure.

    Used in: notebook 04.
    """
    default = default or layers[0]
    if interactive is None:
        interactive = _has_frontend()
    if not interactive:
        return view(default)
    import ipywidgets as widgets

    pick = widgets.Dropdown(options=list(layers), value=default, description="layer")
    out = widgets.Output()

    def draw(*_):
        out.clear_output(wait=True)
        with out:
            fig = view(pick.value)
            from IPython.display import display

            display(fig)
            plt.close(fig)

    pick.observe(draw, names="value")
    draw()
    return widgets.VBox([pick, out])


def _has_frontend() -> bool:
    """True inside a Jupyter kernel that is not being executed by papermill/nbclient."""
    if "papermill" in sys.modules or os.environ.get("PAPERMILL_EXECUTION") or os.environ.get("NA_STATIC"):
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell" and "nbclient" not in sys.modules

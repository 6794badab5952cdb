"""Interactive explorers (ipywidgets) that fall back to one static figure when no Jupyter front end is there.

:func:`explorer` is the one building block: a few controls (:func:`choice`, :func:`slider`), a ``render``
callable that turns their values into a matplotlib Figure, and optional buttons. In JupyterLab it returns an
:class:`Explorer` (controls above an output area that is redrawn whenever a control changes); under papermill,
nbconvert or a plain Python shell (:func:`has_frontend` is False) it returns the static Figure of the default
values, closed, so that it is shown exactly once as the cell's value and no widget state lands in the executed
notebook. The explorers of notebooks 01, 05, 06 and 07 are in :mod:`helpers.figures.explorers`; notebook 04's layer
browser (:func:`layer_view`, :func:`layer_browser`) is here. ipywidgets and IPython are imported where the widget
is built (they are of use only with a front end).
"""
from __future__ import annotations

import os
import sys
import time
import traceback
from dataclasses import dataclass

import matplotlib.pyplot as plt

from helpers.figures import base, paper1


@dataclass(frozen=True)
class Control:
    """One control of an :func:`explorer`: ``kind`` "choice" (a dropdown) or "slider"; made by :func:`choice` / :func:`slider`.

    Used in: notebooks 01, 04, 05, 06 and 07 through :func:`helpers.figures.explore.explorer`.
    """

    kind: str
    label: str
    value: object
    options: tuple = ()
    low: float = 0
    high: float = 1
    step: float = 1


def choice(options, *, value=None, label: str = "") -> Control:
    """A dropdown: ``options`` a list of values or of ``(text, value)`` pairs; ``value`` the default (the first).

    Used in: notebooks 01, 04, 05, 06 and 07 through :func:`helpers.figures.explore.explorer`.
    """
    options = tuple(tuple(o) if isinstance(o, (tuple, list)) else o for o in options)
    if not options:
        raise ValueError(f"choice {label!r}: no options")
    values = [o[1] if isinstance(o, tuple) else o for o in options]
    value = values[0] if value is None else value
    if value not in values:
        raise ValueError(f"choice {label!r}: default {value!r} is not one of the options {values[:10]}")
    return Control("choice", label, value, options=options)


def slider(low, high, *, step=1, value=None, label: str = "") -> Control:
    """A slider from ``low`` to ``high`` in steps of ``step`` (integers give an integer slider); ``value`` the default (``low``).

    Used in: notebooks 01, 05 and 06 through :func:`helpers.figures.explore.explorer`.
    """
    value = low if value is None else value
    if not low <= value <= high:
        raise ValueError(f"slider {label!r}: default {value!r} is outside [{low}, {high}]")
    return Control("slider", label, value, low=low, high=high, step=step)


def has_frontend() -> bool:
    """True when the code runs in a Jupyter kernel whose cell was run from JupyterLab (or Notebook 7, VS Code).

    The test is the request that runs the current cell: JupyterLab sends the cell's id with it
    (``metadata.cellId``), while papermill and nbconvert (nbclient) do not, even when they are started
    from a notebook inside Lab. ``NA_STATIC=1`` in the environment forces the static figures.

    Used in: notebooks 01, 04, 05, 06 and 07 through :func:`helpers.figures.explore.explorer`.
    """
    if os.environ.get("NA_STATIC", "").strip() not in ("", "0") or "papermill" in sys.modules:
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    if ip is None or type(ip).__name__ != "ZMQInteractiveShell" or getattr(ip, "kernel", None) is None:
        return False
    try:
        parent = ip.kernel.get_parent("shell") or {}
    except Exception:  # an ipykernel without get_parent: no way to tell, so no widget
        return False
    return "cellId" in (parent.get("metadata") or {})


_has_frontend = has_frontend  # the name issue 24 and older notebooks use


class Explorer:
    """A live explorer: ``controls`` (name -> ipywidget), ``output`` (the redrawn area), ``widget`` (all of it).

    ``values`` are the controls' current values; ``figure`` the last figure drawn (closed), ``error`` the last
    error message (or ""); :meth:`set` changes controls from Python (as a person would in the browser).
    Displaying it shows the widget.

    Used in: notebooks 01, 04, 05, 06 and 07 through :func:`helpers.figures.explore.explorer`.
    """

    def __init__(self, controls: dict, render, *, buttons=None, title: str | None = None):
        import ipywidgets as widgets

        self.render, self.figure, self.error, self.seconds = render, None, "", 0.0
        self.controls = {name: _widget(c, widgets) for name, c in controls.items()}
        self.output = widgets.Output()
        self.status = widgets.HTML(value="")
        self.buttons = {}
        for name, action in (buttons or {}).items():
            b = widgets.Button(description=name)
            b.on_click(lambda _b, action=action: self._press(action))
            self.buttons[name] = b
        rows = [widgets.HTML(value=f"<b>{title}</b>")] if title else []
        rows += [widgets.HBox(list(self.controls.values()) + list(self.buttons.values()),
                              layout=widgets.Layout(flex_flow="row wrap")), self.status, self.output]
        self.widget = widgets.VBox(rows)
        for w in self.controls.values():
            w.observe(self.redraw, names="value")
        self.redraw()

    @property
    def values(self) -> dict:
        return {name: w.value for name, w in self.controls.items()}

    def set(self, **values) -> None:
        """Set controls by name (each change redraws, as in the browser)."""
        unknown = sorted(set(values) - set(self.controls))
        if unknown:
            raise KeyError(f"no control {unknown}; controls: {sorted(self.controls)}")
        for name, v in values.items():
            self.controls[name].value = v

    def redraw(self, *_):
        """Render the current values into the output area (a message instead of a traceback on an error)."""
        from IPython.display import display

        self.status.value = "<i>working ...</i>"
        t0 = time.perf_counter()
        try:
            fig = self.render(**self.values)
        except Exception as exc:  # shown in the widget: a knob turned too far must not kill the explorer
            self.error = f"{type(exc).__name__}: {exc}"
            self.status.value = f"<span style='color:#c00000'>{_escape(self.error)}</span>"
            traceback.print_exc(file=sys.stderr)
            return
        plt.close(fig)
        self.figure, self.error, self.seconds = fig, "", time.perf_counter() - t0
        with self.output:
            self.output.clear_output(wait=True)
            display(fig)
        self.status.value = f"<small>drawn in {self.seconds:.1f} s</small>"

    def _press(self, action):
        try:
            message = action(self.values, self.figure)
        except Exception as exc:
            message = f"<span style='color:#c00000'>{_escape(f'{type(exc).__name__}: {exc}')}</span>"
        self.status.value = str(message or "")

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def explorer(controls: dict, render, *, interactive=None, buttons=None, title: str | None = None):
    """Controls that redraw ``render(**values)`` in JupyterLab; the static figure of the defaults elsewhere.

    Args:
        controls: ``{name: Control}`` from :func:`choice` / :func:`slider`; the names are ``render``'s keywords.
        render: callable ``(**values) -> matplotlib Figure``.
        interactive: ``True`` (widget), ``False`` (static) or ``None``: :func:`has_frontend`.
        buttons: ``{label: action}``; ``action(values, figure)`` runs on a click, its return value (a short
            HTML string) is shown under the controls (only in the widget).
        title: a line above the controls (widget only).

    Returns:
        :class:`Explorer` when interactive; else the Figure of the default values, already closed, so that it
        is displayed once (as the cell's value) and not a second time by the inline backend.

    Used in: notebooks 01, 04, 05, 06 and 07.
    """
    if interactive is None:
        interactive = has_frontend()
    if interactive:
        return Explorer(controls, render, buttons=buttons, title=title)
    fig = render(**{name: c.value for name, c in controls.items()})
    plt.close(fig)
    return fig


def _widget(c: Control, widgets):
    """The ipywidget of a :class:`Control`."""
    style = {"description_width": "initial"}
    if c.kind == "choice":
        return widgets.Dropdown(options=list(c.options), value=c.value, description=c.label, style=style)
    if c.kind != "slider":
        raise ValueError(f"unknown control kind {c.kind!r}")
    integer = all(isinstance(v, int) for v in (c.low, c.high, c.step, c.value))
    cls = widgets.IntSlider if integer else widgets.FloatSlider
    return cls(min=c.low, max=c.high, step=c.step, value=c.value, description=c.label, continuous_update=False,
               style=style)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


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
    """Notebook 04's layer browser: a dropdown of layers that redraws ``view(layer)`` (an :func:`explorer`).

    Args:
        layers: layer names for the dropdown.
        view: callable ``layer -> Figure`` (e.g. a ``functools.partial`` of :func:`layer_view`).
        interactive: force the widget (True) or the static view (False); ``None``: the widget in JupyterLab,
            the static view under papermill (:func:`has_frontend`).
        default: the layer shown first / statically (default: the first).

    Returns:
        :class:`Explorer` when interactive, else the static Figure (closed: shown once).

    Used in: notebook 04.
    """
    layers = list(layers)
    default = default or layers[0]
    return explorer({"layer": choice(layers, value=default, label="layer")}, lambda layer: view(layer),
                    interactive=interactive)

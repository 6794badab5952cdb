"""Progress bars that read well wherever the code runs: a widget bar in JupyterLab, plain lines in executed notebooks.

``tqdm.auto`` draws a widget whenever it runs in a Jupyter kernel. A notebook executed by papermill (the
pipeline, the tests) has no frontend to draw it in, so the saved notebook shows the widget's text fallback
frozen at its first state (``0%| | 0/144``). :func:`tqdm` here picks one of three:

- a live frontend (JupyterLab, Notebook, VS Code): ``tqdm.auto``'s widget bar;
- a kernel with no frontend (papermill, ``nbconvert --execute``): no redraws at all; a bar that is kept
  (``leave=True``, tqdm's default) prints one plain line to stdout when it closes (``dream: 144/144 img in
  00:52``) and, for long jobs, a plain progress line at most every ``every`` seconds; a transient bar
  (``leave=False``) prints nothing;
- no kernel (a script, the command line): tqdm's ordinary text bar on stderr.

Usage: ``from helpers.progress import tqdm`` in place of ``from tqdm.auto import tqdm``.
"""
from __future__ import annotations

import io as _io
import os
import sys
import time

from tqdm.std import tqdm as _text_tqdm

HEADLESS_EVERY = 60.0  # seconds between plain progress lines in a kernel without a frontend


def in_kernel() -> bool:
    """True inside a Jupyter (ZMQ) kernel, with or without a frontend attached.

    Used in: no notebook; by :func:`helpers.progress.tqdm`.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return False
    ip = get_ipython()
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def has_frontend() -> bool:
    """True inside a Jupyter kernel whose cells are run from a live frontend that can draw widgets.

    nbclient (which papermill and ``nbconvert --execute`` run on) sends every execute request with
    ``allow_stdin=False`` (``nbclient/client.py``: ``self.kc.allow_stdin = False``); JupyterLab, the classic
    Notebook and VS Code allow stdin, and ipykernel keeps the flag of the running request as
    ``kernel._allow_stdin``. ``NA_STATIC=1`` forces the headless behaviour.

    Used in: notebooks 01-08 through :func:`helpers.progress.tqdm` and :func:`helpers.figures.base.preview`.
    """
    if os.environ.get("NA_STATIC"):
        return False
    if not in_kernel():
        return False
    from IPython import get_ipython

    kernel = getattr(get_ipython(), "kernel", None)
    return bool(getattr(kernel, "_allow_stdin", False))


class _Swallow(_io.TextIOBase):
    """A file that keeps the last line tqdm drew and shows nothing."""

    def __init__(self):
        super().__init__()
        self.last = ""

    def write(self, s):
        text = s.replace("\r", "").strip()
        if text:
            self.last = text
        return len(s)

    def flush(self):
        pass


class LineBar(_text_tqdm):
    """tqdm for a kernel without a frontend: no redraws; plain lines on stdout (see the module docstring).

    Used in: notebooks 01-08 through :func:`helpers.progress.tqdm`.
    """

    def __init__(self, *args, every: float = HEADLESS_EVERY, **kwargs):
        kwargs["file"] = _Swallow()
        kwargs.setdefault("mininterval", 1.0)
        kwargs.pop("dynamic_ncols", None)
        self._every = every
        self._said = time.monotonic()
        super().__init__(*args, **kwargs)

    def _line(self, final: bool) -> str:
        d = self.format_dict
        n, total, unit = d["n"], d["total"], d.get("unit") or "it"
        desc = f"{d['prefix']}: " if d.get("prefix") else ""
        unit = "" if unit == "it" else f" {unit}"
        done = f"{n}/{total}{unit}" if total else f"{n}{unit}"
        elapsed = self.format_interval(d["elapsed"])
        if final:
            return f"{desc}{done} in {elapsed}"
        left = ""
        if total and n and d["elapsed"] > 0:
            left = f", about {self.format_interval(d['elapsed'] * (total - n) / n)} left"
        pct = f" ({100 * n / total:.0f}%)" if total else ""
        return f"{desc}{done}{pct}, {elapsed} elapsed{left}"

    def display(self, msg=None, pos=None):
        now = time.monotonic()
        if not self.disable and now - self._said >= self._every:
            self._said = now
            print(self._line(final=False), file=sys.stdout, flush=True)
        return True

    def close(self):
        if self.disable:
            return
        line = self._line(final=True)
        leave = self.leave
        super().close()
        if leave:
            print(line, file=sys.stdout, flush=True)


def tqdm(*args, **kwargs):
    """A progress bar for where the code runs: widget (live frontend), plain lines (headless kernel) or text.

    Takes tqdm's arguments. Used in: notebook 01 through :func:`helpers.synthesis.dream_jobs.synthesize`;
        notebooks 02 and 08 through :func:`helpers.measures.table.table`; notebooks 04 and 08 through
        :func:`helpers.study.simulate.power_analysis`; notebooks 05 and 06 through
        :func:`helpers.synthesis.biggan_gallery.gallery`; notebook 07 through :func:`helpers.search.index.build_index`.
    """
    if has_frontend():
        from tqdm.auto import tqdm as auto

        return auto(*args, **kwargs)
    if in_kernel():
        return LineBar(*args, **kwargs)
    return _text_tqdm(*args, **kwargs)

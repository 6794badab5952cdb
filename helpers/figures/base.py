"""Figures: one style, one place that saves, image grids, the stand-in label, and inline previews.

Plot helpers (:mod:`helpers.figures.paper1`, :mod:`helpers.figures.paper2`, :mod:`helpers.figures.features`,
:mod:`helpers.figures.study`) take ``ax=None`` (or build their own figure when they need a grid), never
call ``plt.show()``, and return the ``Figure``; their names say what they draw (``layer_boxplots``,
``gallery_grid``). :func:`save` writes PNG and PDF into ``figures/<profile>/`` atomically. Anything
made with stand-in (random) weights or simulated ratings carries a visible red label from :func:`label`.
"""
from __future__ import annotations

import base64
import io as _io
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from IPython.display import HTML
from PIL import Image

from helpers import io, paths, profiles, progress

STYLE_FILE = Path(__file__).with_name("na.mplstyle")


STAND_IN = "STAND-IN: random-initialised weights, not the pretrained network"


SIMULATED = "SIMULATED RATINGS: synthetic data, not the study's participants"


TEST_NAMES = {  # helpers.study.effects.layer_tests(test=...) and group_tests' "test" column, in words
    "wilcoxon": "Wilcoxon signed-rank", "t": "one-sample t-test", "paired": "paired Wilcoxon signed-rank",
    "pooled": "Mann-Whitney U on pooled ratings"}


CORRECTION_NAMES = {  # statsmodels.stats.multitest.multipletests method names, in words
    "fdr_bh": "Benjamini-Hochberg FDR", "fdr_by": "Benjamini-Yekutieli FDR", "fdr_tsbh": "two-stage Benjamini-Hochberg FDR",
    "fdr_tsbky": "two-stage Benjamini-Krieger-Yekutieli FDR", "bonferroni": "Bonferroni", "holm": "Holm",
    "holm-sidak": "Holm-Sidak", "sidak": "Sidak", "simes-hochberg": "Simes-Hochberg", "hommel": "Hommel",
    "none": "no correction"}


def in_words(name, table: dict) -> str:
    """``table[name]`` (a code name in words, e.g. :data:`CORRECTION_NAMES`), or ``name`` itself when unknown.

    Used in: notebook 04 (Figure 10, Supplementary S13) through :func:`helpers.figures.paper1.layer_boxplots`.
    """
    return table.get(str(name), str(name))


def use_style() -> None:
    """Apply the house matplotlib style (seaborn ticks + ``na.mplstyle``).

    Used in: notebooks 00, 01, 02, 03, 04, 05, 06, 07 and 08 through :func:`helpers.setup`.
    """
    sns.set_theme(style="ticks", context="paper")
    plt.style.use(str(STYLE_FILE))


def label(fig, *notes: str):
    """Stamp ``fig`` with one red line per note (e.g. :data:`STAND_IN`, :data:`SIMULATED`).

    Empty or ``None`` notes are ignored, so ``label(fig, STAND_IN if stand_in else None)``
    is fine. Returns the figure.

    Used in: notebook 01 (p1-dream-contact-sheet.png) through :func:`helpers.figures.paper1.contact_sheet`;
        notebook 02 (p1-clutter-maps.png) through :func:`helpers.figures.features.clutter_maps`; notebook 03
        (Figure 6, Figure 8, Figure 9) through :func:`helpers.figures.paper1.affect_violins`; notebook 04 through
        :func:`helpers.figures.paper1.density_cases`; notebooks 05 (Figure 2, Supplementary A2, Supplementary S1)
        and 06 through :func:`helpers.figures.paper2.gallery_grid`; notebook 07 (Figure 4) through
        :func:`helpers.figures.paper2.nearest_pairs`; notebook 08 (study-effect-sizes.png) through
        :func:`helpers.figures.study.effect_sizes`.
    """
    notes = [n for n in notes if n]
    if notes:
        fig.text(0.5, 1.0, "\n".join(notes), ha="center", va="bottom", color="#c00000",
                 fontsize=9, fontweight="bold", transform=fig.transFigure)
    return fig


def save(fig, name: str, *, profile: str = "paper", formats=("png", "pdf"), close: bool = False) -> Path:
    """Save ``fig`` as ``figures/<profile>/<name>.png`` (and ``.pdf``) atomically.

    Args:
        fig: matplotlib Figure.
        name: file stem, named after what it reproduces (``"p1-fig10-layer-boxplots"``);
            a ``.png`` suffix is tolerated.
        profile: ``"paper"`` or ``"smoke"``.
        formats: file formats to write.
        close: close the figure after saving (saves memory in loops).

    Returns:
        Path of the PNG.

    Used in: notebook 01 (p1-dream-contact-sheet.png, p1-dream-octaves.png); notebook 02 (p1-clutter-maps.png,
        p1-feature-correlations.png, p1-feature-distributions.png, p1-feature-separation.png); notebook 03 (Figure
        6, Figure 7, Figure 8, Figure 9, Table 1); notebook 04 (Figure 10, Figure 11, Figure 12, Figure 13, 5 more
        outputs); notebook 05 (Figure 2, Supplementary A2, Supplementary A4 / S6, Supplementary S1,
        p2-distance-vs-alpha.png); notebook 06 (Figure 5, Supplementary A5 / S7, Supplementary S2,
        p2-block-sweep.png); notebook 07 (Figure 4, p2-fig04-top5.png); notebook 08 (study-effect-sizes.png).
    """
    stem = name[:-4] if name.endswith(".png") else name
    folder = paths.figures(profile)
    out = None
    for fmt in formats:
        target = folder / f"{stem}.{fmt}"
        with io.atomic_path(target) as tmp:
            fig.savefig(tmp, format=fmt)
        out = out or target
    if close:
        plt.close(fig)
    return out


def image_grid(images, *, row_labels=None, col_labels=None, title=None, cell_size: float = 1.6,
               notes=(), fontsize: float = 8):
    """A grid of images with labelled rows and columns (galleries, contact sheets).

    Args:
        images: nested sequence ``[row][col]`` of uint8 HxWx3 arrays (``None`` leaves a cell
            blank), or a uint8 array ``(rows, cols, H, W, 3)``.
        row_labels: one label per row (left of the row), or ``None``.
        col_labels: one label per column (above the column), or ``None``.
        title: figure title.
        cell_size: inches per cell.
        notes: extra lines for :func:`label` (stand-in / simulated warnings).

    Returns:
        matplotlib Figure.

    Used in: notebook 01 (p1-dream-contact-sheet.png) through :func:`helpers.figures.paper1.contact_sheet`;
        notebooks 05 (Figure 2, Supplementary A2, Supplementary S1) and 06 through
        :func:`helpers.figures.paper2.gallery_grid`.
    """
    rows = [list(r) for r in images]
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(cell_size * n_cols + 0.8 * bool(row_labels), cell_size * n_rows + 0.4),
                             squeeze=False, gridspec_kw=dict(wspace=0.03, hspace=0.03))
    for r in range(n_rows):
        for c in range(n_cols):
            ax = axes[r, c]
            ax.set_xticks([]), ax.set_yticks([])
            for s in ax.spines.values():
                s.set_visible(False)
            img = rows[r][c] if c < len(rows[r]) else None
            if img is not None:
                ax.imshow(np.asarray(img), interpolation="lanczos" if max(np.shape(img)[:2]) > 64 else "nearest")
            if row_labels is not None and c == 0:
                ax.set_ylabel(str(row_labels[r]), fontsize=fontsize, rotation=0, ha="right", va="center")
            if col_labels is not None and r == 0:
                ax.set_title(str(col_labels[c]), fontsize=fontsize)
    if title:
        fig.suptitle(title, fontsize=fontsize + 2, y=0.995)
    label(fig, *notes)
    return fig


def link_from_notebook(path, *, frontend: bool | None = None) -> str:
    """A relative link to ``path`` that works where the notebook showing it is read.

    Opened in JupyterLab (a live frontend) the notebook is the one in ``notebooks/``, the kernel's
    working folder. Run headless (the pipeline, papermill) the notebook is saved to
    ``build/<profile>/``, two folders deep, so a link relative to ``notebooks/`` (``../figures/...``)
    would be broken there: the link is made relative to the build folder of the figure's profile
    (``figures/<profile>/name.png`` -> ``build/<profile>/``).

    Used in: notebook 01 (p1-dream-contact-sheet.png) through :func:`helpers.figures.base.preview`.
    """
    path = Path(path).resolve()
    frontend = progress.has_frontend() if frontend is None else frontend
    start = Path(os.getcwd())
    if not frontend and path.parent.name in profiles.PROFILES:
        start = paths.build(path.parent.name, create=False)
    return Path(os.path.relpath(path, start)).as_posix()


def preview(path, *, max_px: int = 1000, quality: int = 85):
    """A downsampled inline preview of a saved figure, with a link to the full-size file.

    Executed notebooks then carry a ~100 kB JPEG instead of the full figure (the paper's contact
    sheet is several MB). Returns an ``IPython.display.HTML`` object (display it as a cell's value).
    The link works from ``notebooks/`` in JupyterLab and from ``build/<profile>/`` in an executed
    notebook (:func:`link_from_notebook`).

    Used in: notebook 01.
    """
    path = Path(path)
    im = Image.open(path).convert("RGB")
    full = im.size
    im.thumbnail((max_px, max_px), Image.LANCZOS)
    buf = _io.BytesIO()
    im.save(buf, format="JPEG", quality=quality)
    data = base64.b64encode(buf.getvalue()).decode()
    shown = paths.display(path)  # relative to the repository (or ~/...): no machine's absolute path in the output
    href = link_from_notebook(path)
    return HTML(f'<img src="data:image/jpeg;base64,{data}" style="max-width:100%" '
                f'alt="preview of {path.name}"/><br/><a href="{href}">{shown}</a> '
                f'(full size {full[0]}x{full[1]} px, {path.stat().st_size / 1e6:.1f} MB; preview {im.size[0]}x{im.size[1]} px)')

"""Figures of the image measures (notebook 02): distributions, clutter maps, correlations, separation of groups."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator
from scipy.cluster.hierarchy import leaves_list, linkage
from scipy.spatial.distance import squareform

from helpers.figures import base
from helpers.measures import clutter, separation

DISTRIBUTION_COLUMNS = {  # column -> axis label
    "hue": "mean hue (arithmetic, 0-1)", "hue_circular": "mean hue (circular, 0-1)",
    "saturation": "mean saturation (0-1)", "brightness": "mean brightness, HSV value (0-1)",
    "jpeg_bytes": "JPEG size at q75 (kB)", "png_bytes": "PNG size (kB)",
    "feature_congestion": "Feature Congestion", "subband_entropy": "Sub-band Entropy (nats)",
    "spectrum_slope": "amplitude-spectrum slope", "edge_density": "Canny edge density, sigma 2 px",
}


def distributions(df, *, columns=None, by=None, notes=(), ncols: int = 5, bins: int = 30):
    """Histograms of the per-image features (rows with ``status == "ok"``).

    Args:
        df: the :func:`helpers.measures.table.table` output.
        columns: feature columns to show (default :data:`DISTRIBUTION_COLUMNS`).
        by: optional column to colour by (e.g. a layer-type column); ``None`` for one colour.
        notes: lines stamped above the figure (:data:`helpers.figures.base.STAND_IN` etc.).
        ncols: panels per row.
        bins: histogram bins.

    Returns:
        matplotlib Figure.

    Used in: notebook 02 (p1-feature-distributions.png).
    """
    cols = [c for c in (columns or DISTRIBUTION_COLUMNS) if c in df.columns]
    ok = df[df["status"] == "ok"].copy()
    for c in ("jpeg_bytes", "png_bytes"):
        if c in ok:
            ok[c] = ok[c].astype(float) / 1000.0
    nrows = -(-len(cols) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.6 * ncols, 2.2 * nrows), squeeze=False, constrained_layout=True)
    for ax, c in zip(axes.flat, cols):
        data = ok[[c] + ([by] if by else [])].dropna()
        sns.histplot(data=data, x=c, hue=by, bins=min(bins, max(5, len(data))), ax=ax, element="step",
                     legend=bool(by) and ax is axes.flat[0])
        ax.set_xlabel(DISTRIBUTION_COLUMNS.get(c, c))
        ax.set_ylabel("images" if ax in axes[:, 0] else "")
        ax.set_title(f"n={len(data)}, median {data[c].median():.3g}", fontsize=7)
    for ax in list(axes.flat)[len(cols):]:
        ax.set_visible(False)
    n_failed = int((df["status"] != "ok").sum())
    fig.suptitle(f"Image features of {len(ok)} images" + (f" ({n_failed} failed, not shown)" if n_failed else ""))
    return base.label(fig, *notes)


def _colorbar_ticks(cb, values) -> None:
    """At most 4 distinct, readable ticks on a colour bar, even for a narrow value range.

    A fixed "%.3g" format prints the same label several times when the range is narrow
    (e.g. "0.0316" five times for a nearly flat orientation map); the tick labels here get
    as many decimals as their spacing needs.
    """
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    ticks = MaxNLocator(nbins=3, min_n_ticks=2).tick_values(lo, hi)
    ticks = ticks[(ticks >= lo - 1e-12 * abs(hi)) & (ticks <= hi + 1e-12 * abs(hi))]
    if len(ticks) < 2:
        ticks = np.array([lo, hi]) if hi > lo else np.array([lo])
    step = np.min(np.diff(ticks)) if len(ticks) > 1 else max(abs(lo), 1e-12)
    decimals = int(max(0, -np.floor(np.log10(step)))) if step > 0 else 3
    cb.ax.yaxis.set_major_locator(FixedLocator(ticks))
    cb.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.{decimals}f}"))
    cb.ax.tick_params(labelsize=6)


def clutter_maps(images, *, notes=(), cell: float = 2.2):
    """For each image: the image, its Feature Congestion map, the colour, contrast and
    orientation clutter maps, and its per-band sub-band entropies.

    Args:
        images: dict ``{row title: uint8 HxWx3 array or path}`` (a few examples).
        notes: lines stamped above the figure.
        cell: panel size in inches.

    Returns:
        matplotlib Figure (one row per image, six panels).

    Used in: notebook 02 (p1-clutter-maps.png).
    """
    n = len(images)
    fig, axes = plt.subplots(n, 6, figsize=(6 * cell, n * cell), squeeze=False, constrained_layout=True)
    for r, (title, image) in enumerate(images.items()):
        m = clutter.maps(image)
        rgb, fc, maps, se, ent = m["rgb"], m["feature_congestion"], m["maps"], m["subband_entropy"], m["band_entropies"]
        ax = axes[r]
        ax[0].imshow(rgb)
        ax[0].set_ylabel(title, fontsize=8)
        panels = [("fc", f"Feature Congestion map\nmean {fc:.2f}"), ("color", "colour clutter"),
                  ("contrast", "contrast clutter"), ("orientation", "orientation clutter")]
        for a, (key, name) in zip(ax[1:5], panels):
            im = a.imshow(maps[key], cmap="magma")
            a.set_title(name if r == 0 or key == "fc" else "", fontsize=8)
            cb = fig.colorbar(im, ax=a, fraction=0.046, pad=0.02)
            _colorbar_ticks(cb, maps[key])
        for a in ax[:5]:
            a.set_xticks([])
            a.set_yticks([])
        x = np.arange(len(ent["L"]))
        ax[5].bar(x - 0.2, ent["L"], width=0.4, label="L", color="0.3")
        ax[5].bar(x + 0.2, np.add(ent["a"], ent["b"]) / 2, width=0.4, label="a, b (mean)", color="tab:orange")
        ax[5].set_xticks(x, [f"s{i // 4 + 1}o{i % 4 + 1}" for i in x[:-1]] + ["low"], rotation=90, fontsize=5)
        ax[5].set_title(f"sub-band entropies, SE {se:.2f}", fontsize=8)
        ax[5].tick_params(labelsize=6)
        if r == 0:
            ax[5].legend(fontsize=6, frameon=False)
    axes[0][0].set_title("image", fontsize=8)
    return base.label(fig, *notes)


def correlation_map(df, *, columns=None, method: str = "spearman", notes=(), ax=None):
    """Clustered heat map of the correlations between measures.

    Correlations (``method``: "spearman" or "pearson", pairwise complete) are ordered by
    average-linkage hierarchical clustering on the distance 1 - |r| (``scipy.cluster``), so
    measures that carry the same information sit together whatever the sign.

    Args:
        df: a :func:`helpers.measures.table.table` output.
        columns: measures (default :func:`helpers.measures.separation.measure_columns`; constant ones are dropped).
        method: correlation coefficient.
        notes: lines stamped above the figure.
        ax: axes to draw into (default: a new figure sized to the number of measures).

    Returns:
        matplotlib Figure.

    Used in: notebook 02 (p1-feature-correlations.png).
    """
    _, x = separation.ok_numeric(df, columns or separation.measure_columns(df))
    r = x.corr(method=method).fillna(0.0)
    names = list(r.columns)
    if len(names) >= 3:
        d = np.clip(1 - np.abs(r.to_numpy()), 0, None)
        np.fill_diagonal(d, 0.0)
        order = leaves_list(linkage(squareform((d + d.T) / 2, checks=False), method="average"))
        r = r.iloc[order, order]
        names = list(r.columns)
    n = len(names)
    if ax is None:
        side = max(4.0, 0.18 * n + 2.0)
        fig, ax = plt.subplots(figsize=(side + 1.0, side), constrained_layout=True)
    else:
        fig = ax.figure
    im = ax.imshow(r.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
    fs = 7 if n <= 30 else 5
    ax.set_xticks(range(n), names, rotation=90, fontsize=fs)
    ax.set_yticks(range(n), names, fontsize=fs)
    if n <= 16:
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f"{r.iat[i, j]:.2f}", ha="center", va="center", fontsize=5,
                        color="white" if abs(r.iat[i, j]) > 0.6 else "black")
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, label=f"{method.capitalize()} r")
    ax.set_title(f"Correlations between {n} measures ({len(x)} images), clustered on 1 - |r|", fontsize=9)
    return base.label(fig, *notes)


def separation_bars(sep, *, top: int = 25, alpha: float = 0.05, notes=(), ax=None):
    """Bar chart of :func:`helpers.measures.separation.separation`: eta^2_H per measure, significant ones (BH) coloured.

    Args:
        sep: :func:`helpers.measures.separation.separation` output.
        top: show the ``top`` measures with the largest effect.
        alpha: false discovery rate for the colouring.
        notes: lines stamped above the figure.
        ax: axes to draw into.

    Returns:
        matplotlib Figure.

    Used in: notebook 02 (p1-feature-separation.png).
    """
    s = sep.head(top).iloc[::-1]
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, max(2.5, 0.22 * len(s) + 1.2)), constrained_layout=True)
    else:
        fig = ax.figure
    colours = ["tab:blue" if p < alpha else "0.7" for p in s["p_bh"]]
    ax.barh(range(len(s)), s["eta2"].clip(lower=0), color=colours)
    ax.set_yticks(range(len(s)), [f"{m}  (high: {t})" for m, t in zip(s["measure"], s["top_group"])], fontsize=6)
    ax.set_xlabel("Kruskal-Wallis effect size $\\eta^2_H$ (share of rank variance; negative shown as 0)")
    k = int(sep["k"].max()) if len(sep) else 0
    ax.set_title(f"Measures that separate the {k} groups (blue: BH-adjusted p < {alpha:g})", fontsize=9)
    ax.set_xlim(0, max(0.05, float(s["eta2"].max()) * 1.1 if len(s) else 1))
    return base.label(fig, *notes)

"""Figures of the image measures (notebook 02): distributions, clutter maps, correlations, separation of groups."""
from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator
from scipy.cluster.hierarchy import dendrogram, linkage
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


MEASURE_LABELS = {  # feature-table column -> words (helpers.measures.table; Aesthetics Toolbox columns as in
    # helpers.measures.aesthetics.TOOLBOX_COLUMNS, whose docstrings define them)
    "hue": "mean hue (arithmetic)", "hue_circular": "mean hue (circular)", "hue_concentration": "hue concentration",
    "saturation": "mean saturation", "brightness": "mean brightness (HSV value)",
    "jpeg_bytes": "JPEG size", "png_bytes": "PNG size",
    "feature_congestion": "Feature Congestion (CFC)", "subband_entropy": "Sub-band Entropy (CSE)",
    "spectrum_slope": "spectrum slope", "spectrum_intercept": "spectrum intercept",
    "edge_density_sigma1": "Canny edges, sigma 1 px", "edge_density": "Canny edges, sigma 2 px",
    "edge_density_sigma4": "Canny edges, sigma 4 px",
    "image_size": "image size (pixels)", "aspect_ratio": "aspect ratio", "rms_contrast": "RMS contrast",
    "luminance_entropy": "luminance entropy", "color_entropy": "colour entropy",
    "mean_r": "mean red (RGB)", "mean_g": "mean green (RGB)", "mean_b": "mean blue (RGB)",
    "mean_lab_l": "mean lightness (Lab L)", "mean_lab_a": "mean green-red (Lab a)",
    "mean_lab_b": "mean blue-yellow (Lab b)", "mean_hsv_h": "mean hue (HSV H)", "mean_hsv_s": "mean saturation (HSV S)",
    "mean_hsv_v": "mean value (HSV V)", "std_r": "sd of red (RGB)", "std_g": "sd of green (RGB)",
    "std_b": "sd of blue (RGB)", "std_lab_l": "sd of lightness (Lab L)", "std_lab_a": "sd of green-red (Lab a)",
    "std_lab_b": "sd of blue-yellow (Lab b)", "std_hsv_h": "sd of hue (HSV H)", "std_hsv_s": "sd of saturation (HSV S)",
    "std_hsv_v": "sd of value (HSV V)", "aesthetics_edge_density": "edge density (Toolbox)",
    "eoe_1st_order": "edge-orientation entropy, 1st order", "eoe_2nd_order": "edge-orientation entropy, 2nd order",
    "fourier_slope_redies": "Fourier slope (Redies)", "fourier_sigma": "Fourier sigma (deviation from slope)",
    "fourier_slope_spehar": "Fourier slope (Spehar)", "fourier_slope_mather": "Fourier slope (Mather)",
    "fractal_dimension_2d": "fractal dimension 2D", "fractal_dimension_3d": "fractal dimension 3D",
    "phog_self_similarity": "self-similarity (PHOG)", "phog_complexity": "complexity (PHOG)",
    "phog_anisotropy": "anisotropy (PHOG)", "cnn_self_similarity": "self-similarity (CNN)",
    "cnn_symmetry_lr": "CNN symmetry left-right", "cnn_symmetry_ud": "CNN symmetry up-down",
    "cnn_symmetry_lrud": "CNN symmetry both axes", "cnn_sparseness": "sparseness (CNN)",
    "cnn_variability": "variability (CNN)", "mirror_symmetry": "mirror symmetry", "balance": "balance",
    "dcm_distance": "centre-of-mass offset (DCM)", "dcm_x": "centre-of-mass offset, x (DCM)",
    "dcm_y": "centre-of-mass offset, y (DCM)", "homogeneity": "homogeneity",
}


LAYER_TYPE_NAMES = {  # helpers.nets.layers.layer_type -> words
    "conv": "stem convolutions", "maxpool": "max-pool layers", "lrn": "local response normalisation",
    "1x1": "1x1 convolution branches", "3x3": "3x3 convolution branches", "5x5": "5x5 convolution branches",
    "reduce": "1x1 reductions", "pool branch": "pool branches", "mixed output": "mixed-block outputs",
    "head": "auxiliary heads",
}


def measure_label(name: str) -> str:
    """A feature-table column in words (:data:`MEASURE_LABELS`); unknown columns with spaces for underscores.

    Used in: notebook 02 (p1-feature-correlations.png, p1-feature-separation.png) through
        :func:`helpers.figures.features.correlation_map` and :func:`helpers.figures.features.separation_bars`.
    """
    return MEASURE_LABELS.get(str(name), str(name).replace("_", " "))


def group_label(name: str) -> str:
    """A stimulus group (a layer type of :func:`helpers.nets.layers.layer_type`, else a folder name) in words.

    Used in: notebook 02 (p1-feature-separation.png) through :func:`helpers.figures.features.separation_bars`.
    """
    return LAYER_TYPE_NAMES.get(str(name), str(name))


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
    if hi - lo <= 1e-3 * max(abs(lo), abs(hi), 1e-12):  # flat: one tick, "nearly constant", not 6-digit labels
        cb.ax.yaxis.set_major_locator(FixedLocator([(lo + hi) / 2]))
        cb.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}\n(nearly\nconstant)"))
        cb.ax.tick_params(labelsize=6)
        return
    ticks = MaxNLocator(nbins=3, min_n_ticks=2).tick_values(lo, hi)
    ticks = ticks[(ticks >= lo - 1e-12 * abs(hi)) & (ticks <= hi + 1e-12 * abs(hi))]
    if len(ticks) < 2:
        ticks = np.array([lo, hi]) if hi > lo else np.array([lo])
    step = np.min(np.diff(ticks)) if len(ticks) > 1 else max(abs(lo), 1e-12)
    decimals = min(4, int(max(0, -np.floor(np.log10(step))))) if step > 0 else 3
    cb.ax.yaxis.set_major_locator(FixedLocator(ticks))
    cb.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.{decimals}f}"))
    cb.ax.tick_params(labelsize=6)


def clutter_maps(images, *, notes=(), cell: float = 2.2):
    """For each image: the image, its Feature Congestion map, the colour, contrast and
    orientation clutter maps, and its per-band sub-band entropies.

    Args:
        images: dict ``{row title: uint8 HxWx3 array or path}`` (a few examples); keep titles short (a layer
            name and seed, a file stem): they are wrapped to 22 characters beside the image.
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
        wrapped = [w for line in str(title).split("\n") for w in (textwrap.wrap(line, 22, break_on_hyphens=False) or [""])]
        ax[0].set_ylabel("\n".join(wrapped), fontsize=7)
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
        ax[5].set_xlabel("band: s = scale (1 finest), o = orientation;\nlow = lowpass residual", fontsize=6)
        ax[5].set_ylabel("entropy (nats)", fontsize=6)
        ax[5].set_title(f"sub-band entropies, SE {se:.2f}", fontsize=8)
        ax[5].tick_params(labelsize=6)
        if r == 0:
            ax[5].legend(fontsize=6, frameon=False)
    axes[0][0].set_title("image", fontsize=8)
    return base.label(fig, *notes)


def correlation_map(df, *, columns=None, method: str = "spearman", notes=(), labels: bool = True):
    """Clustered heat map of the correlations between measures, with the clustering's dendrogram on the left.

    Correlations (``method``: "spearman" or "pearson", pairwise complete) are ordered by
    average-linkage hierarchical clustering on the distance 1 - |r| (``scipy.cluster.hierarchy``), so
    measures that carry the same information sit together whatever the sign; the dendrogram shows
    at which distance the families join.

    Args:
        df: a :func:`helpers.measures.table.table` output.
        columns: measures (default :func:`helpers.measures.separation.measure_columns`; constant ones are dropped).
        method: correlation coefficient.
        notes: lines stamped above the figure.
        labels: name the measures in words (:func:`measure_label`) instead of their column names.

    Returns:
        matplotlib Figure.

    Used in: notebook 02 (p1-feature-correlations.png).
    """
    _, x = separation.ok_numeric(df, columns or separation.measure_columns(df))
    r = x.corr(method=method).fillna(0.0)
    n = len(r.columns)
    tree = None
    if n >= 3:
        d = np.clip(1 - np.abs(r.to_numpy()), 0, None)
        np.fill_diagonal(d, 0.0)
        tree = linkage(squareform((d + d.T) / 2, checks=False), method="average")
    cell, dend_w, label_w, label_h, top = 0.2, 1.5, 2.3, 2.3, 0.6  # inches
    side = max(3.0, cell * n)
    width, height = dend_w + side + label_w + 0.2, top + side + label_h
    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes((dend_w / width, label_h / height, side / width, side / height))
    if tree is not None:
        axd = fig.add_axes((0.1 / width, label_h / height, (dend_w - 0.15) / width, side / height))
        order = dendrogram(tree, orientation="left", no_labels=True, ax=axd, color_threshold=0,
                           above_threshold_color="0.3")["leaves"]
        axd.set_ylim(10 * n, 0)  # leaf i sits at 5 + 10 i: top to bottom, as the heat map's rows
        axd.set_xlim(max(1e-3, float(tree[:, 2].max())) * 1.05, 0)
        axd.set_xlabel("1 - |r| at which\nclusters join", fontsize=7)
        axd.tick_params(labelsize=6, left=False, labelleft=False)
        for sp in ("left", "top", "right"):
            axd.spines[sp].set_visible(False)
        r = r.iloc[order, order]
    cax = fig.add_axes((0.3 / width, (label_h - 1.2) / height, (dend_w - 0.6) / width, 0.12 / height))
    names = [measure_label(c) if labels else c for c in r.columns]
    im = ax.imshow(r.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    fs = 7 if n <= 30 else 6
    ax.set_xticks(range(n), names, rotation=90, fontsize=fs)
    ax.set_yticks(range(n), names, fontsize=fs)
    ax.yaxis.tick_right()
    ax.tick_params(length=0)
    if n <= 16:
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f"{r.iat[i, j]:.2f}", ha="center", va="center", fontsize=5,
                        color="white" if abs(r.iat[i, j]) > 0.6 else "black")
    bar = fig.colorbar(im, cax=cax, orientation="horizontal")
    bar.set_label(f"{method.capitalize()} r", fontsize=7)
    bar.ax.tick_params(labelsize=6)
    fig.suptitle(f"Correlations between {n} measures ({len(x)} images), clustered on 1 - |r| (average linkage; "
                 f"dendrogram left)", fontsize=9, y=1 - 0.15 / height, va="top")
    return base.label(fig, *notes)


def separation_bars(sep, *, top: int = 25, alpha: float = 0.05, groups=None, notes=(), ax=None):
    """Bar chart of :func:`helpers.measures.separation.separation`: eta^2_H per measure, significant ones (BH) coloured.

    Each bar is labelled with the measure in words and the group in which it is highest; a legend gives
    how many of the shown and of all measures pass the false discovery rate, and, with ``groups``, a box
    names the groups compared and their sizes.

    Args:
        sep: :func:`helpers.measures.separation.separation` output.
        top: show the ``top`` measures with the largest effect.
        alpha: false discovery rate for the colouring.
        groups: ``{group: number of images}`` (e.g. ``stimuli["group"].value_counts()``), or ``None``.
        notes: lines stamped above the figure.
        ax: axes to draw into.

    Returns:
        matplotlib Figure.

    Used in: notebook 02 (p1-feature-separation.png).
    """
    s = sep.head(top).iloc[::-1]
    groups = dict(groups) if groups is not None else None
    if ax is None:
        fig, ax = plt.subplots(figsize=(8.5 if groups else 6.5, max(3.2, 0.22 * len(s) + 1.4)), constrained_layout=True)
    else:
        fig = ax.figure
    sig = (s["p_bh"] < alpha).to_numpy()
    ax.barh(range(len(s)), s["eta2"].clip(lower=0), color=np.where(sig, "tab:blue", "0.7"))
    ax.set_yticks(range(len(s)), [f"{measure_label(m)}  (highest: {group_label(t)})"
                                  for m, t in zip(s["measure"], s["top_group"])], fontsize=6)
    ax.set_xlabel("Kruskal-Wallis effect size $\\eta^2_H$ (share of rank variance; negative shown as 0)")
    k = int(sep["k"].max()) if len(sep) else 0
    n_all, n_sig_all = len(sep), int((sep["p_bh"] < alpha).sum())
    ax.set_title(f"Measures that best separate the {k} groups (top {len(s)} of {n_all} measures)", fontsize=9)
    ax.set_xlim(0, max(0.05, float(s["eta2"].max()) * 1.1 if len(s) else 1))
    handles = [Patch(color="tab:blue", label=f"Benjamini-Hochberg adjusted p < {alpha:g}: {int(sig.sum())} shown, "
                                             f"{n_sig_all} of all {n_all}"),
               Patch(color="0.7", label=f"not significant: {int((~sig).sum())} shown, {n_all - n_sig_all} of all")]
    ax.legend(handles=handles, loc="lower right", fontsize=6, frameon=True)
    if groups:
        text = "groups compared (images):\n" + "\n".join(f"{group_label(g)} ({n})" for g, n in groups.items())
        ax.text(1.02, 1.0, text, transform=ax.transAxes, ha="left", va="top", fontsize=6,
                bbox=dict(boxstyle="round", facecolor="white", edgecolor="0.7"))
    return base.label(fig, *notes)

"""Figures of Paper 1 (the deep-dream emotion study): the stimuli (notebook 01) and the ratings (notebooks 03-04).

Notebook 01: :func:`contact_sheet` (every layer of one seed), :func:`dream_progress` (one image across
renders and octaves). Notebooks 03-04: Figures 6-13, Supplementary S2-S13 and the Table 1 heat map. Each
takes tidy tables from :mod:`helpers.study` and returns the Figure; notes (stand-in weights, simulated
ratings) go on every figure through :func:`helpers.figures.base.label`.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib.colors as mcolors
import matplotlib.patches as mpatches
import matplotlib.patheffects as pe
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.lines import Line2D
from PIL import Image

from helpers import io
from helpers.figures import base
from helpers.nets.layers import LAYERS, layers_matching

def _two_lines(name: str) -> str:
    """``mixed4d_3x3_bottleneck_pre_relu`` -> ``mixed4d`` / ``3x3_bottleneck_pre_relu`` (block, then branch)."""
    block, _, rest = name.partition("_")
    return f"{block}\n{rest}" if rest else name


def contact_sheet(manifest, out_dir, *, seed: int = 0, n_cols: int = 12, notes=(), cell_size: float = 1.25,
                  thumb: int = 200, fontsize: float = 5.5):
    """All layers of one seed in layer order as an image grid (:func:`helpers.figures.base.image_grid`); returns the Figure.

    Each tile's layer name sits under the tile on two lines (block, branch) at ``fontsize`` pt, with
    room left between the rows so no name touches another tile. Images are shrunk to ``thumb`` px
    (Lanczos) first, so the PDF stays small at 800 px.

    Used in: notebook 01 (p1-dream-contact-sheet.png).
    """
    df = manifest[manifest["seed"] == seed].sort_values("layer_index")
    if df.empty:
        raise ValueError(f"contact_sheet: the manifest has no images for seed {seed}")
    imgs = []
    for p in df["path"]:
        im = Image.fromarray(io.read_image(Path(out_dir) / p))
        if max(im.size) > thumb:
            im = im.resize((thumb, round(thumb * im.size[1] / im.size[0])), Image.LANCZOS)
        imgs.append(np.asarray(im))
    names = list(df["layer"])
    n_cols = min(n_cols, len(imgs))
    rows = [imgs[i:i + n_cols] for i in range(0, len(imgs), n_cols)]
    fig = base.image_grid(rows, title=f"DeepDream of each layer, seed {seed} ({len(imgs)} layers in layer order, left to right)",
                           notes=notes, cell_size=cell_size, fontsize=7)
    label_in = 3.0 * fontsize / 72  # two text lines plus padding and a clear gap to the next row, inches
    w, h = fig.get_size_inches()
    fig.set_size_inches(w, h + len(rows) * label_in + 0.3)
    for ax, name in zip(fig.axes, names):
        ax.set_xlabel(_two_lines(name), fontsize=fontsize, labelpad=1.5, linespacing=1.0)
        for im in ax.get_images():  # thumbnails are already Lanczos-filtered; nearest renders 2x faster
            im.set_interpolation("nearest")
    fig.subplots_adjust(left=0.01, right=0.99, top=1 - 0.45 / fig.get_size_inches()[1], bottom=0.02,
                        wspace=0.04, hspace=label_in / cell_size + 0.04)
    return fig


def _and(items) -> str:
    """``[1, 2, 5]`` -> ``"1, 2 and 5"``."""
    items = [str(i) for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def dream_progress(progress: dict, *, notes=(), cell: float = 1.6, fontsize: float = 7.0):
    """One image across renders (top row) and the octave stack of the final image (bottom row).

    Each row has as many panels as it has images (no blank cell); the shorter row is centred.

    Args:
        progress: :func:`helpers.synthesis.dream.progress_snapshots` (start, renders kept, octaves of the result).
        notes: label lines (:data:`helpers.figures.base.STAND_IN`).
        cell: inches per image.

    Returns:
        matplotlib Figure.

    Used in: notebook 01 (p1-dream-octaves.png).
    """
    layer, kept, octs = progress["layer"], progress["renders"], list(progress["octaves"])
    ks = sorted(kept)
    rows = [([progress["start"]] + [kept[k] for k in ks], ["start image"] + [f"after render {k}" for k in ks],
             "renders"),
            (octs, [f"octave {i + 1}: {o.shape[1]}x{o.shape[0]} px" for i, o in enumerate(octs)], "octaves")]
    n = max(len(r[0]) for r in rows)
    gap, left, label_h, title_h = 0.08, 0.75, 0.25, 0.75
    width = left + n * cell + (n - 1) * gap + 0.15
    height = title_h + 2 * (cell + label_h) + 0.35
    fig = plt.figure(figsize=(width, height))
    for r, (imgs, labels, name) in enumerate(rows):
        x0 = left + (n - len(imgs)) * (cell + gap) / 2
        y = height - title_h - label_h - r * (cell + label_h + 0.35) - cell
        for c, (img, lab) in enumerate(zip(imgs, labels)):
            ax = fig.add_axes(((x0 + c * (cell + gap)) / width, y / height, cell / width, cell / height))
            ax.imshow(np.asarray(img), interpolation="lanczos" if max(np.shape(img)[:2]) > 64 else "nearest")
            ax.set_xticks([]), ax.set_yticks([])
            for sp in ax.spines.values():
                sp.set_visible(False)
            ax.set_title(lab, fontsize=fontsize, pad=3)
            if c == 0:
                ax.set_ylabel(name, fontsize=fontsize + 1, rotation=0, ha="right", va="center", labelpad=6)
    fig.suptitle(f"DeepDream of {layer}: the start image and the image after render{'s' if len(ks) > 1 else ''} "
                 f"{_and(ks)} (top);\nthe octaves of the final image, fine to coarse, each render works through them "
                 f"coarse to fine (bottom)", fontsize=fontsize + 1.5, y=1 - 0.08 / height, va="top")
    return base.label(fig, *notes)


AXIS_COLOURS = {"arousal": "#d1495b", "valence": "#00798c"}


def _fig_ax(ax, figsize):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def violin_box(data, *, x, y, order=None, color=None, ax=None, title=None, ylabel=None, box_width: float = 0.15):
    """Violin plot with a narrow box plot overlaid (the paper's Figures 6, 8, 9 and 11).

    Args:
        data: long DataFrame.
        x: column with the categories (one violin each); y: numeric column (0-100 ratings).
        order: category order; color: one colour or a list per category.

    Returns:
        matplotlib Figure.

    Used in: notebook 03 (Figure 6, Figure 8, Figure 9) through :func:`helpers.figures.paper1.affect_violins`;
        notebook 04 (Figure 11) through :func:`helpers.figures.paper1.layer_groups`.
    """
    fig, ax = _fig_ax(ax, (4, 3))
    order = list(order) if order is not None else list(dict.fromkeys(data[x]))
    palette = color if isinstance(color, (list, tuple)) else [color or "#9aa5b1"] * len(order)
    sns.violinplot(data=data, x=x, y=y, order=order, hue=x, hue_order=order, palette=palette, inner=None, cut=0,
                   linewidth=0.6, legend=False, ax=ax, density_norm="width")
    sns.boxplot(data=data, x=x, y=y, order=order, width=box_width, showfliers=False, ax=ax,
                boxprops=dict(facecolor="white", edgecolor="black", linewidth=0.7, zorder=3),
                # above the box face (zorder 3), or the white face hides the median
                medianprops=dict(color="black", linewidth=1.6, zorder=4, solid_capstyle="butt"),
                whiskerprops=dict(linewidth=0.7, zorder=3), capprops=dict(linewidth=0.7, zorder=3))
    ax.axhline(50, color="0.5", lw=0.6, ls=":", zorder=0)
    ax.set_xlabel("")
    ax.set_ylabel(ylabel or y)
    if title:
        ax.set_title(title)
    return fig


def affect_violins(ratings, *, by=None, order=None, titles=None, notes=(), figsize=None):
    """Arousal and valence distributions, overall (Figure 6) or by a participant covariate (Figures 8, 9).

    Args:
        ratings: long ratings (arousal, valence in 0-100).
        by: ``None`` (one violin per axis) or a covariate column ("attitude", "self_esteem"):
            one panel per axis, one violin per level.
        titles: ``{axis: title}`` (e.g. the ANOVA result).
        notes: label lines (:data:`helpers.figures.base.SIMULATED`).

    Returns:
        matplotlib Figure.

    Used in: notebook 03 (Figure 6, Figure 8, Figure 9).
    """
    if by is None:
        long = ratings.melt(value_vars=["arousal", "valence"], var_name="judgment", value_name="score")
        fig = violin_box(long, x="judgment", y="score", order=["arousal", "valence"],
                         color=[AXIS_COLOURS["arousal"], AXIS_COLOURS["valence"]], ylabel="score (0-100, 50 = neutral)")
        fig.set_size_inches(*(figsize or (4, 3.2)))
        return base.label(fig, *notes)
    fig, axes = plt.subplots(1, 2, figsize=figsize or (8, 3.2), sharey=True)
    levels = order or [str(v) for v in sorted(ratings[by].dropna().unique(), key=lambda v: (str(type(v)), v))]
    data = ratings.assign(**{by: ratings[by].astype(str)})
    for ax, axis in zip(axes, ["arousal", "valence"]):
        violin_box(data, x=by, y=axis, order=levels, color=AXIS_COLOURS[axis], ax=ax,
                   title=f"{axis}: {(titles or {})[axis]}" if axis in (titles or {}) else axis, ylabel="score (0-100, 50 = neutral)")
        ax.set_xlabel(by.replace("_", " "))
    fig.tight_layout()
    return base.label(fig, *notes)


TABLE1_NAMES = {  # Table 1's abbreviations in words (Rosenholtz, Li & Nakano 2007 for the two clutter measures)
    "CFC": "Feature Congestion\nclutter (CFC)", "CSE": "Sub-band Entropy\nclutter (CSE)", "JPEG": "JPEG size"}


def correlation_heatmap(table, *, notes=(), ax=None):
    """Table 1 as a heat map: Pearson r (colour, -1..1) with the value and stars written in each cell.

    Args:
        table: tidy output of ``stats.correlations`` (row, col, r, cell, n, unit); with the
            columns ``paper_r`` and ``paper_stars`` (``stats.paper_table1`` joined on row, col)
            each cell also shows the paper's value in brackets.

    Used in: notebook 03 (Table 1).
    """
    rows, cols = list(dict.fromkeys(table["row"])), list(dict.fromkeys(table["col"]))
    r = table.pivot(index="row", columns="col", values="r").reindex(index=rows, columns=cols)
    cell = table.pivot(index="row", columns="col", values="cell").reindex(index=rows, columns=cols)
    paper = None
    if "paper_r" in table:
        text = [f"({v:.3f}{s if isinstance(s, str) else ''})" if np.isfinite(v) else ""
                for v, s in zip(table["paper_r"].astype(float), table.get("paper_stars", [""] * len(table)))]
        paper = table.assign(_paper=text).pivot(index="row", columns="col", values="_paper").reindex(index=rows, columns=cols)
    fig, ax = _fig_ax(ax, (8, 5) if paper is not None else (7, 4.2))
    im = ax.imshow(np.ma.masked_invalid(r.to_numpy(float)), cmap="RdBu_r", vmin=-1, vmax=1)
    for i in range(len(rows)):
        for j in range(len(cols)):
            if isinstance(cell.iat[i, j], str):
                colour = "white" if abs(r.iat[i, j]) > 0.6 else "black"
                extra = paper.iat[i, j] if paper is not None and isinstance(paper.iat[i, j], str) else ""
                ax.text(j, i - (0.16 if extra else 0), cell.iat[i, j], ha="center", va="center", fontsize=7, color=colour,
                        fontweight="bold")
                if extra:
                    ax.text(j, i + 0.2, extra, ha="center", va="center", fontsize=6, color=colour)
    ax.set_xticks(range(len(cols)), [TABLE1_NAMES.get(c, c) for c in cols], rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), [TABLE1_NAMES.get(r_, r_) for r_ in rows])
    ax.tick_params(length=0)
    for s in ax.spines.values():
        s.set_visible(False)
    n, unit = int(table["n"].max()), table["unit"].iloc[0]
    ax.set_title(f"Table 1: Pearson r (unit: {unit}, n = {n}); * p<0.05, ** p<0.01, *** p<0.001"
                 + ("\nbold: these data; (in brackets): the paper's printed value" if paper is not None else ""), fontsize=9)
    plt.colorbar(im, ax=ax, fraction=0.04, pad=0.02, label="r")
    return base.label(fig, *notes)


def features_vs_judgments(table, *, features=None, responses=("arousal", "valence"), n_outliers: int = 2, notes=()):
    """Figure 7: mean arousal/valence (rows) against each image feature (columns), one point per unit.

    Args:
        table: ``stats.image_means(..., features)`` output (one row per layer or image).
        features: ``{column: display name}`` (default Table 1's six).
        n_outliers: label this many points per panel farthest from the fitted line.

    Returns:
        matplotlib Figure.

    Used in: notebook 03 (Figure 7).
    """
    features = features or {"hue": "Hue", "saturation": "Saturation", "brightness": "Brightness", "jpeg_bytes": "JPEG size (kB)",
                            "feature_congestion": "Feature congestion", "subband_entropy": "Sub-band entropy"}
    features = {k: v for k, v in features.items() if k in table}
    fig, axes = plt.subplots(len(responses), len(features), figsize=(2.6 * len(features), 2.4 * len(responses)),
                             squeeze=False, sharey="row")
    for i, resp in enumerate(responses):
        for j, (col, name) in enumerate(features.items()):
            ax = axes[i, j]
            x, y = table[col].to_numpy(float), table[resp].to_numpy(float)
            if col.endswith("_bytes"):
                x = x / 1000.0  # kB, as the feature figures of notebook 02
            ok = np.isfinite(x) & np.isfinite(y)
            ax.scatter(x[ok], y[ok], s=9, alpha=0.7, color=AXIS_COLOURS.get(resp, "C0"), edgecolors="none")
            if ok.sum() > 2 and np.ptp(x[ok]) > 0:
                b, a = np.polyfit(x[ok], y[ok], 1)
                xs = np.linspace(x[ok].min(), x[ok].max(), 10)
                ax.plot(xs, a + b * xs, color="black", lw=0.8)
                r = np.corrcoef(x[ok], y[ok])[0, 1]
                ax.set_title(f"r = {r:.2f}", fontsize=7, loc="left", pad=2)  # above the panel: no label covers it
                if "layer" in table and n_outliers:
                    resid = np.abs(y - (a + b * x))
                    mid_x, mid_y = (x[ok].min() + x[ok].max()) / 2, (y[ok].min() + y[ok].max()) / 2
                    for k in np.argsort(np.where(ok, -resid, np.inf))[:n_outliers]:
                        right, up = x[k] < mid_x, y[k] < mid_y  # the label points into the panel
                        ax.annotate(str(table["layer"].iloc[k]), (x[k], y[k]), fontsize=5, annotation_clip=True,
                                    xytext=(3 if right else -3, 3 if up else -3), textcoords="offset points",
                                    ha="left" if right else "right", va="bottom" if up else "top", color="0.25")
            ax.axhline(50, color="0.6", lw=0.5, ls=":")
            if i == len(responses) - 1:
                ax.set_xlabel(name)
            if j == 0:
                ax.set_ylabel(f"mean {resp}")
    fig.tight_layout()
    return base.label(fig, *notes)


DEPTH_RANGE = (0.3, 0.95)  # Greys_r: mid-grey at the input (never near black, the median stays visible), near white at the output


def _depth_cmap():
    return mcolors.LinearSegmentedColormap.from_list("depth", plt.get_cmap("Greys_r")(np.linspace(*DEPTH_RANGE, 256)))


def _depth_colours(positions, n_layers: int = 144):
    cmap = _depth_cmap()
    return [cmap(p / max(n_layers - 1, 1)) for p in positions]  # input dark -> deep light


def layer_boxplots(ratings, *, order: str = "median", tests=None, notes=(), figsize=None, fontsize: float = 5.0,
                   rows: int = 1):
    """Figure 10 / S13: per-layer box plots of valence (top) and arousal (bottom) for all layers.

    Boxes are shaded by layer depth (grey near the input, near white for deep layers; a colour
    bar says so). With ``tests`` (``stats.layer_tests``), layers significantly above/below 50
    get a marker above the box (red up-triangle higher, blue down-triangle lower, after the
    stated correction; a legend says so). Medians are drawn in the axis colour with a white
    edge, visible on every shade.

    Args:
        ratings: long ratings.
        order: "median" (each panel sorted by its median, Figure 10) or "position"
            (study order, Supplementary S13).
        figsize: default grows with the number of layers (26 x 9 inches for 144 in one row).
        rows: split each axis's layers over this many rows of panels (``rows=3``: a
            readable version for the screen; 1: the paper's layout).

    Used in: notebook 04 (Figure 10, Supplementary S13).
    """
    if order not in ("median", "position"):
        raise ValueError(f"order must be 'median' or 'position', got {order!r}")
    if rows < 1:
        raise ValueError(f"rows must be >= 1, got {rows}")
    pos = {n: i for i, n in enumerate(LAYERS)}
    groups = {n: g for n, g in ratings.groupby("layer", sort=False)}
    per_row = int(np.ceil(len(groups) / rows))
    width = max(6.0, 0.17 * per_row + 1.5) if rows == 1 else max(6.0, 0.26 * per_row + 1.5)
    fig, axes = plt.subplots(2 * rows, 1, figsize=figsize or (width, 9.0 if rows == 1 else 6.8 * rows + 1.2), squeeze=False)
    axes = axes[:, 0]
    fs = fontsize if rows == 1 else max(fontsize, 7.0)
    corr = test = ""
    if tests is not None and len(tests):
        corr, test = tests["correction"].iloc[0], tests["test"].iloc[0]
    for k, axis in enumerate(["valence", "arousal"]):
        names = sorted(groups, key=pos.get)
        if order == "median":
            names = sorted(names, key=lambda n: (groups[n][axis].median(), groups[n][axis].mean()))
        t = tests[tests["axis"] == axis].set_index("layer") if tests is not None else None
        for r in range(rows):
            ax = axes[k * rows + r]
            chunk = names[r * per_row:(r + 1) * per_row]
            bp = ax.boxplot([groups[n][axis].to_numpy() for n in chunk], patch_artist=True, showfliers=False, widths=0.7,
                            medianprops=dict(color=AXIS_COLOURS[axis], linewidth=1.4, solid_capstyle="butt",
                                             path_effects=[pe.Stroke(linewidth=2.6, foreground="white"), pe.Normal()]),
                            whiskerprops=dict(linewidth=0.5), capprops=dict(linewidth=0.5), boxprops=dict(linewidth=0.4))
            for patch, colour in zip(bp["boxes"], _depth_colours([pos.get(n, 0) for n in chunk])):
                patch.set_facecolor(colour)
            ax.axhline(50, color="black", lw=0.6, ls="--")
            if t is not None:
                for j, n in enumerate(chunk, start=1):
                    if n in t.index and t.at[n, "significant"]:
                        up = t.at[n, "direction"] == "higher"
                        ax.scatter(j, 103, marker="^" if up else "v", s=28 if rows == 1 else 34, zorder=5,
                                   color="#c00000" if up else "#1f4e99", edgecolors="none")
            ax.set_xticks(range(1, len(chunk) + 1), chunk, rotation=90, fontsize=fs)
            ax.set_xlim(0.3, max(len(chunk), per_row) + 0.7)
            ax.set_ylim(-2, 108)
            ax.set_ylabel(f"{axis} (0-100)", fontsize=9 if rows > 1 else None)
            if r == 0:
                what = "sorted by median" if order == "median" else "in layer order"
                extra = (f"; triangles: significantly above / below 50 ({base.in_words(test, base.TEST_NAMES)}, "
                         f"{base.in_words(corr, base.CORRECTION_NAMES)})" if t is not None else "")
                ax.set_title(f"{axis}: {what}{extra}" + (f" (part 1 of {rows})" if rows > 1 else ""), fontsize=9, loc="left")
            elif rows > 1:
                ax.set_title(f"{axis} (part {r + 1} of {rows})", fontsize=9, loc="left")
    if rows == 1:
        fig.subplots_adjust(left=0.03, right=0.955, top=0.93, bottom=0.17, hspace=0.75)
    else:
        fig.tight_layout(rect=(0, 0, 0.93, 0.97))
    cax = fig.add_axes((0.965 if rows == 1 else 0.94, 0.3, 0.008 if rows == 1 else 0.015, 0.4))
    bar = fig.colorbar(ScalarMappable(Normalize(0, len(LAYERS) - 1), _depth_cmap()), cax=cax)
    bar.set_ticks([0, len(LAYERS) - 1], labels=["input\n(conv2d0_pre_relu)", "output\n(mixed5b)"], fontsize=7)
    bar.set_label("box shade: layer depth", fontsize=8)
    handles = [Line2D([], [], color=AXIS_COLOURS["valence"], lw=1.4, label="median (valence)"),
               Line2D([], [], color=AXIS_COLOURS["arousal"], lw=1.4, label="median (arousal)"),
               Line2D([], [], color="black", lw=0.6, ls="--", label="neutral (50)")]
    if tests is not None:
        handles += [Line2D([], [], marker="^", ls="none", color="#c00000", label="significantly above 50"),
                    Line2D([], [], marker="v", ls="none", color="#1f4e99", label="significantly below 50")]
    fig.legend(handles=handles, loc="upper right", ncols=len(handles), fontsize=8, frameon=False,
               bbox_to_anchor=(0.995, 0.995 if rows > 1 else 0.985))
    return base.label(fig, *notes)


LAYER_GROUP_NAMES = {  # helpers.nets.layers.GROUP_PATTERNS keys in words
    "mixed{N}{m}_pool": "pool branches of\nthe mixed blocks",
    "mixed{N}{m}_{K}x{K}_pre_relu": "3x3 and 5x5 convolutions\nof the mixed blocks (pre-ReLU)",
    "conv2d{L}": "stem convolutions\n(conv2d0-2)",
    "mixed{N}{m}": "mixed-block outputs\n(mixed3a-5b)",
}


def group_name(pattern: str) -> str:
    """A Figure 11 layer type (a :data:`helpers.nets.layers.GROUP_PATTERNS` key) in words; other patterns as given.

    Used in: notebook 04 (Figure 11) through :func:`helpers.figures.paper1.layer_groups`.
    """
    return LAYER_GROUP_NAMES.get(pattern, pattern)


def layer_groups(ratings, tests, *, notes=()):
    """Figure 11: ratings pooled over layer types, two panels per comparison (violin + box).

    Args:
        ratings: long ratings.
        tests: ``stats.group_tests`` output; the title of each panel states the paired test.

    Used in: notebook 04 (Figure 11).
    """
    comps = tests.drop_duplicates(["axis", "group_a", "group_b"])
    fig, axes = plt.subplots(1, len(comps), figsize=(4.2 * len(comps), 3.6), squeeze=False)
    for ax, (_, c) in zip(axes[0], comps.iterrows()):
        parts = []
        for g in (c["group_a"], c["group_b"]):
            sub = ratings[ratings["layer"].isin(layers_matching(g))]
            parts.append(sub.assign(group=f"{group_name(g)}\n({sub['layer'].nunique()} layers)"))
        data = pd.concat(parts)
        if data.empty:
            ax.text(0.5, 0.5, f"no rated layers of type\n{group_name(c['group_a'])} or\n{group_name(c['group_b'])}",
                    ha="center", va="center",
                    transform=ax.transAxes, fontsize=8)
            ax.set_title(c["axis"])
            ax.set_axis_off()
            continue
        violin_box(data, x="group", y=c["axis"], color=AXIS_COLOURS[c["axis"]], ax=ax, ylabel=f"{c['axis']} (0-100)")
        paired = tests[(tests["axis"] == c["axis"]) & (tests["group_a"] == c["group_a"]) & (tests["test"] == "paired")]
        if len(paired) and paired.iloc[0]["n_a"] > 0:
            p = paired.iloc[0]
            ax.set_title(f"{c['axis']}: paired Wilcoxon signed-rank p = {p['p']:.2g}, d_z = {p['cohen_d']:.2f}", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    return base.label(fig, *notes)


def density_panel(density, *, mean=None, median=None, target=None, ax=None, title=None, ticks: bool = True, fontsize=7):
    """One joint density heat map on [0, 100]^2: arousal horizontal, valence vertical.

    Markers: white cross = mean, red circle = median (the paper's Figures 12-13); ``target``
    (arousal, valence) draws a red rectangle around a corner/side of the plane (Figure 13).

    Used in: notebook 04 through :func:`helpers.figures.paper1.density_cases`.
    """
    fig, ax = _fig_ax(ax, (2.4, 2.4))
    ax.imshow(density, origin="lower", extent=(0, 100, 0, 100), cmap="magma", aspect="equal", interpolation="bilinear")
    if median is not None:
        ax.plot(*median, marker="o", mfc="none", mec="red", ms=7, mew=1.4)
    if mean is not None:  # drawn last: the cross stays visible inside the circle when mean ~ median
        ax.plot(*mean, marker="x", color="white", ms=5, mew=1.4)
    if target is not None:
        ta, tv = target
        ax.add_patch(mpatches.Rectangle((min(max(ta - 8, 0), 84), min(max(tv - 8, 0), 84)), 16, 16, fill=False,
                                        edgecolor="red", lw=1.5))
    ax.axhline(50, color="white", lw=0.3, alpha=0.5)
    ax.axvline(50, color="white", lw=0.3, alpha=0.5)
    if ticks:
        ax.set_xticks([0, 50, 100])
        ax.set_yticks([0, 50, 100])
        ax.tick_params(labelsize=fontsize - 1)
        ax.set_xlabel("arousal", fontsize=fontsize)
        ax.set_ylabel("valence", fontsize=fontsize)
    else:
        ax.set_xticks([]), ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=fontsize)
    return fig


def density_cases(densities, stats, layers, images, *, titles=None, targets=None, notes=(), cell: float = 2.3):
    """Figures 12 and 13: joint densities (top row) above an image of each layer (bottom row).

    Args:
        densities: ``{layer: (bins, bins) array}`` (``stats.joint_densities``).
        stats: ``stats.joint_density_stats`` output (means and medians per layer).
        layers: the layers to show, left to right.
        images: ``{layer: uint8 HxWx3}`` (one dream image per layer); missing ones are blank.
        titles: one title per column; targets: one (arousal, valence) per column (Figure 13).

    Used in: notebook 04 (Figure 12, Figure 13, Supplementary S2, Supplementary S3, Supplementary S4).
    """
    s = stats.set_index("layer")
    fig, axes = plt.subplots(2, len(layers), figsize=(cell * len(layers), cell * 2 + 0.6), squeeze=False)
    for j, name in enumerate(layers):
        density_panel(densities[name], mean=(s.at[name, "mean_arousal"], s.at[name, "mean_valence"]),
                      median=(s.at[name, "median_arousal"], s.at[name, "median_valence"]),
                      target=None if targets is None else targets[j], ax=axes[0, j], ticks=True,
                      title=(titles[j] + "\n" if titles else "") + name)
        ax = axes[1, j]
        ax.set_xticks([]), ax.set_yticks([])
        for sp in ax.spines.values():
            sp.set_visible(False)
        img = images.get(name)
        if img is not None:
            ax.imshow(img)
        else:
            ax.text(0.5, 0.5, "image not found", ha="center", va="center", fontsize=7, transform=ax.transAxes)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    handles = [Line2D([], [], marker="x", color="white", mew=1.4, ms=6, ls="none", label="mean rating"),
               Line2D([], [], marker="o", mfc="none", mec="red", mew=1.4, ms=7, ls="none", label="median rating")]
    if targets is not None:
        handles.append(mpatches.Patch(fill=False, edgecolor="red", lw=1.5, label="target corner or side of the plane"))
    fig.legend(handles=handles, loc="lower center", ncols=len(handles), fontsize=7, frameon=True, facecolor="0.2",
               edgecolor="0.2", labelcolor="white", bbox_to_anchor=(0.5, 0.005),
               title="density: brighter = more responses (each panel: arousal horizontal, valence vertical, 0-100)",
               title_fontsize=7).get_title().set_color("white")
    return base.label(fig, *notes)


def density_grid(densities, stats=None, *, ncols: int = 8, cell: float = 1.7, notes=(), fontsize: float = 7.0,
                 page: int = 0, pages: int = 1, title: str | None = None):
    """Supplementary S2-S4: the layers' joint densities in a grid (study order), entropy in each title.

    Drawn as one mosaic image (one axes, fast to render and save) rather than 144 axes; each
    tile is scaled to its own maximum so that every layer's shape is visible. Arousal is
    horizontal, valence vertical (up), as in :func:`density_panel`; white x = mean, red o =
    median.

    Args:
        page, pages: draw the ``page``-th (0-based) of ``pages`` consecutive parts of the
            layers (the paper spreads its 144 layers over three figures, S2-S4: ``pages=3``).
        title: figure title (default says which layers are shown).

    Used in: notebook 04 (Supplementary S2, Supplementary S3, Supplementary S4).
    """
    if not 0 <= page < pages:
        raise ValueError(f"page must be in 0..{pages - 1}, got {page}")
    everything = list(densities)
    names = [n for n in np.array_split(np.array(everything, dtype=object), pages)[page]]
    nrows = int(np.ceil(len(names) / ncols))
    b = next(iter(densities.values())).shape[0]
    gap, head = max(b // 12, 2), max(b // 3, 6)
    tile_w, tile_h = b + gap, b + gap + head
    mosaic = np.full((nrows * tile_h, ncols * tile_w, 4), 1.0)
    cmap = plt.get_cmap("magma")
    s = stats.set_index("layer") if stats is not None else None
    fig, ax = plt.subplots(figsize=(cell * ncols, cell * nrows * tile_h / tile_w))
    means, medians = [], []
    for k, name in enumerate(names):
        r, c = divmod(k, ncols)
        y0, x0 = r * tile_h + head, c * tile_w
        d = densities[name]
        mosaic[y0:y0 + b, x0:x0 + b] = cmap(np.flipud(d / d.max()))  # flip: valence up
        tile_title = name if s is None else f"{name}\nH={s.at[name, 'entropy']:.2f} bits"
        ax.text(x0 + b / 2, y0 - 1, tile_title, ha="center", va="bottom", fontsize=fontsize)
        if s is not None:
            to_xy = lambda a, v: (x0 + a / 100 * (b - 1), y0 + (1 - v / 100) * (b - 1))  # noqa: E731
            means.append(to_xy(s.at[name, "mean_arousal"], s.at[name, "mean_valence"]))
            medians.append(to_xy(s.at[name, "median_arousal"], s.at[name, "median_valence"]))
    ax.imshow((mosaic * 255).round().astype(np.uint8), interpolation="none")  # uint8 + "none": fast to save
    if means:
        ax.scatter(*np.array(means).T, marker="x", color="white", s=8, linewidths=0.8)
        ax.scatter(*np.array(medians).T, marker="o", facecolors="none", edgecolors="red", s=8, linewidths=0.7)
    ax.set_axis_off()
    first, last = everything.index(names[0]) + 1, everything.index(names[-1]) + 1
    ax.set_title(title or (f"Joint densities of layers {first}-{last} of {len(everything)} (study order); arousal horizontal, "
                           f"valence vertical, each tile 0-100 and scaled to its maximum; white x = mean, red o = median"),
                 fontsize=9)
    fig.subplots_adjust(left=0.01, right=0.99, top=1 - 0.35 / fig.get_figheight(), bottom=0.01)
    return base.label(fig, *notes)


LEAN = 10.0  # rating points: a median that moved less than this from neutral (50, 50) toward a target does not reach it


def lean_toward(row) -> float:
    """How far (rating points) a layer's median moved from neutral (50, 50) toward its target corner or side.

    The projection of (median - 50) on the unit direction from (50, 50) to the target: 0 for a neutral median,
    negative for one that moved away.

    Used in: notebook 04 (Supplementary S5-S12) through :func:`helpers.figures.paper1.extreme_layer_images`.
    """
    d = np.array([row["target_arousal"] - 50.0, row["target_valence"] - 50.0])
    m = np.array([row["median_arousal"] - 50.0, row["median_valence"] - 50.0])
    return float(m @ d / np.linalg.norm(d))


def extreme_layer_images(nearest, images, *, notes=(), cell: float = 1.5, fontsize: float = 7.0, lean: float = LEAN):
    """Supplementary S5-S12: images of the layers whose median ratings lie nearest each corner and side.

    Args:
        nearest: ``density.nearest_corners(..., k=K)`` (one row per target and rank, with the target's
            coordinates); ``distinct=True`` there shows each layer once.
        images: ``{layer: uint8 HxWx3}`` (one dream image per layer); missing ones are blank.
        lean: a layer whose median moved less than ``lean`` rating points from neutral toward its target
            (:func:`lean_toward`) is titled in grey, and a row where no layer did says so.

    Returns:
        matplotlib Figure: one row per target (the paper's eight supplementary figures), the
        nearest ``K`` layers left to right, each titled with its layer and median arousal /
        valence.

    Used in: notebook 04 (Supplementary S5-S12).
    """
    targets = list(dict.fromkeys(nearest["target"]))
    has_targets = {"target_arousal", "target_valence"} <= set(nearest.columns)
    k = int(nearest.groupby("target").size().max())
    fig, axes = plt.subplots(len(targets), k, figsize=(cell * k + 1.9, (0.88 * cell + 0.4) * len(targets) + 0.6), squeeze=False)
    for i, target in enumerate(targets):
        rows = nearest[nearest["target"] == target].reset_index(drop=True)
        for j in range(k):
            ax = axes[i, j]
            ax.set_xticks([]), ax.set_yticks([])
            for sp in ax.spines.values():
                sp.set_visible(False)
            if j >= len(rows):
                continue
            r = rows.iloc[j]
            img = images.get(r["layer"])
            if img is not None:
                ax.imshow(img)
            else:
                ax.text(0.5, 0.5, "image not found", ha="center", va="center", fontsize=fontsize, transform=ax.transAxes)
            moved = lean_toward(r) if has_targets else np.inf
            ax.set_title(f"{r['layer']}\nmedian A {r['median_arousal']:.0f} / V {r['median_valence']:.0f}"
                         + (f"\nonly {moved:.0f} points toward it" if moved < lean else ""),
                         fontsize=fontsize - 1, color="0.45" if moved < lean else "black")
        none = has_targets and len(rows) and max(lean_toward(r) for _, r in rows.iterrows()) < lean
        axes[i, 0].set_ylabel(target.replace(", ", ",\n") + (f"\n\nno layer moved\n{lean:g} points\ntoward it" if none else ""),
                              fontsize=fontsize, rotation=0, ha="right", va="center",
                              color="#a05000" if none else "black")
    once = not nearest["layer"].duplicated().any()
    fig.suptitle("Supplementary S5-S12: layers with extreme median ratings\n(nearest each corner and side of the "
                 "arousal-valence plane, nearest first" + ("; each layer shown once" if once else "")
                 + (f";\ngrey: the median moved less than {lean:g} rating points from neutral (50, 50) toward the target)"
                    if has_targets else ")"), fontsize=9, y=1.0, va="top")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / fig.get_figheight()))
    return base.label(fig, *notes)


def load_layer_images(manifest, folder, *, layers=None, seeds=None, max_side: int = 256) -> dict:
    """Dream images per layer from notebook 01's manifest: ``{layer: [uint8 HxWx3, ...]}``.

    Args:
        manifest: DataFrame with layer, seed, path (relative to ``folder``).
        folder: ``results/<profile>/dream``.
        layers, seeds: restrict to these (default all in the manifest).
        max_side: downscale larger images to this many pixels (figures only need thumbnails).

    Unreadable images are skipped with a warning, so one bad file never stops a figure.

    Used in: notebook 04 (Figure 12, Figure 13, Supplementary S2, Supplementary S3, 2 more outputs).
    """
    out: dict = {}
    rows = manifest
    if layers is not None:
        rows = rows[rows["layer"].isin(list(layers))]
    if seeds is not None:
        rows = rows[rows["seed"].isin(list(seeds))]
    for row in rows.sort_values(["layer", "seed"], kind="stable").itertuples():
        try:
            img = io.read_image(Path(folder) / row.path)
        except (io.ImageReadError, FileNotFoundError) as exc:
            warnings.warn(f"skipping image of layer {row.layer}, seed {row.seed}: {exc}")
            continue
        if max(img.shape[:2]) > max_side:
            im = Image.fromarray(img)
            im.thumbnail((max_side, max_side), Image.LANCZOS)
            img = np.asarray(im)
        out.setdefault(row.layer, []).append(img)
    return out








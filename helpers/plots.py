"""Figures: one style, one place that saves, image grids, and the stand-in label.

Plot helpers take ``ax=None`` (or build their own figure when they need a grid), never call
``plt.show()``, and return the ``Figure``. :func:`save` writes PNG and PDF into
``figures/<profile>/`` atomically. Anything made with stand-in (random) weights or simulated
ratings carries a visible red label from :func:`label`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

STYLE_FILE = Path(__file__).with_name("na.mplstyle")
STAND_IN = "STAND-IN: random-initialised weights, not the pretrained network"
SIMULATED = "SIMULATED RATINGS: synthetic data, not the study's participants"


def use_style() -> None:
    """Apply the house matplotlib style (seaborn ticks + ``na.mplstyle``)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="ticks", context="paper")
    plt.style.use(str(STYLE_FILE))


def label(fig, *notes: str):
    """Stamp ``fig`` with one red line per note (e.g. :data:`STAND_IN`, :data:`SIMULATED`).

    Empty or ``None`` notes are ignored, so ``label(fig, STAND_IN if stand_in else None)``
    is fine. Returns the figure.
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
    """
    import matplotlib.pyplot as plt

    from helpers import io, paths

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
    """
    import matplotlib.pyplot as plt

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


# ---------------------------------------------------------------------------------------------
# Paper 1: ratings figures (Figures 6-13, S2-S4, S13, Table 1 heat map)
# ---------------------------------------------------------------------------------------------
AXIS_COLOURS = {"arousal": "#d1495b", "valence": "#00798c"}


def _fig_ax(ax, figsize):
    import matplotlib.pyplot as plt

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
    """
    import seaborn as sns

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
        notes: label lines (:data:`SIMULATED`).

    Returns:
        matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    if by is None:
        long = ratings.melt(value_vars=["arousal", "valence"], var_name="judgment", value_name="score")
        fig = violin_box(long, x="judgment", y="score", order=["arousal", "valence"],
                         color=[AXIS_COLOURS["arousal"], AXIS_COLOURS["valence"]], ylabel="score (0-100, 50 = neutral)")
        fig.set_size_inches(*(figsize or (4, 3.2)))
        return label(fig, *notes)
    fig, axes = plt.subplots(1, 2, figsize=figsize or (8, 3.2), sharey=True)
    levels = order or [str(v) for v in sorted(ratings[by].dropna().unique(), key=lambda v: (str(type(v)), v))]
    data = ratings.assign(**{by: ratings[by].astype(str)})
    for ax, axis in zip(axes, ["arousal", "valence"]):
        violin_box(data, x=by, y=axis, order=levels, color=AXIS_COLOURS[axis], ax=ax,
                   title=f"{axis}: {(titles or {})[axis]}" if axis in (titles or {}) else axis, ylabel="score (0-100, 50 = neutral)")
        ax.set_xlabel(by.replace("_", " "))
    fig.tight_layout()
    return label(fig, *notes)


def correlation_heatmap(table, *, notes=(), ax=None):
    """Table 1 as a heat map: Pearson r (colour, -1..1) with the value and stars written in each cell.

    Args:
        table: tidy output of ``stats.correlations`` (row, col, r, cell, n, unit); with the
            columns ``paper_r`` and ``paper_stars`` (``stats.paper_table1`` joined on row, col)
            each cell also shows the paper's value in brackets.
    """
    import matplotlib.pyplot as plt

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
    ax.set_xticks(range(len(cols)), cols, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    ax.tick_params(length=0)
    for s in ax.spines.values():
        s.set_visible(False)
    n, unit = int(table["n"].max()), table["unit"].iloc[0]
    ax.set_title(f"Table 1: Pearson r (unit: {unit}, n = {n}); * p<0.05, ** p<0.01, *** p<0.001"
                 + ("\nbold: these data; (in brackets): the paper's printed value" if paper is not None else ""), fontsize=9)
    plt.colorbar(im, ax=ax, fraction=0.04, pad=0.02, label="r")
    return label(fig, *notes)


def features_vs_judgments(table, *, features=None, responses=("arousal", "valence"), n_outliers: int = 2, notes=()):
    """Figure 7: mean arousal/valence (rows) against each image feature (columns), one point per unit.

    Args:
        table: ``stats.image_means(..., features)`` output (one row per layer or image).
        features: ``{column: display name}`` (default Table 1's six).
        n_outliers: label this many points per panel farthest from the fitted line.

    Returns:
        matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    features = features or {"hue": "Hue", "saturation": "Saturation", "brightness": "Brightness", "jpeg_bytes": "JPEG (bytes)",
                            "feature_congestion": "Feature congestion", "subband_entropy": "Sub-band entropy"}
    features = {k: v for k, v in features.items() if k in table}
    fig, axes = plt.subplots(len(responses), len(features), figsize=(2.6 * len(features), 2.4 * len(responses)),
                             squeeze=False, sharey="row")
    for i, resp in enumerate(responses):
        for j, (col, name) in enumerate(features.items()):
            ax = axes[i, j]
            x, y = table[col].to_numpy(float), table[resp].to_numpy(float)
            ok = np.isfinite(x) & np.isfinite(y)
            ax.scatter(x[ok], y[ok], s=9, alpha=0.7, color=AXIS_COLOURS.get(resp, "C0"), edgecolors="none")
            if ok.sum() > 2 and np.ptp(x[ok]) > 0:
                b, a = np.polyfit(x[ok], y[ok], 1)
                xs = np.linspace(x[ok].min(), x[ok].max(), 10)
                ax.plot(xs, a + b * xs, color="black", lw=0.8)
                r = np.corrcoef(x[ok], y[ok])[0, 1]
                ax.text(0.03, 0.95, f"r = {r:.2f}", transform=ax.transAxes, fontsize=7, va="top")
                if "layer" in table and n_outliers:
                    resid = np.abs(y - (a + b * x))
                    for k in np.argsort(np.where(ok, -resid, np.inf))[:n_outliers]:
                        ax.annotate(str(table["layer"].iloc[k]), (x[k], y[k]), fontsize=5, xytext=(2, 2), textcoords="offset points")
            ax.axhline(50, color="0.6", lw=0.5, ls=":")
            if i == len(responses) - 1:
                ax.set_xlabel(name)
            if j == 0:
                ax.set_ylabel(f"mean {resp}")
    fig.tight_layout()
    return label(fig, *notes)


DEPTH_RANGE = (0.3, 0.95)  # Greys_r: mid-grey at the input (never near black, the median stays visible), near white at the output


def _depth_cmap():
    import matplotlib.colors as mcolors
    import matplotlib.pyplot as plt

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
    """
    import matplotlib.patheffects as pe
    import matplotlib.pyplot as plt
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.lines import Line2D

    from helpers import inception as dream  # LAYERS lives with the network (no dream <-> plots circle)

    if order not in ("median", "position"):
        raise ValueError(f"order must be 'median' or 'position', got {order!r}")
    if rows < 1:
        raise ValueError(f"rows must be >= 1, got {rows}")
    pos = {n: i for i, n in enumerate(dream.LAYERS)}
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
                extra = (f"; triangles: significantly above / below 50 ({test}, {corr})" if t is not None else "")
                ax.set_title(f"{axis}: {what}{extra}" + (f" (part 1 of {rows})" if rows > 1 else ""), fontsize=9, loc="left")
            elif rows > 1:
                ax.set_title(f"{axis} (part {r + 1} of {rows})", fontsize=9, loc="left")
    if rows == 1:
        fig.subplots_adjust(left=0.03, right=0.955, top=0.93, bottom=0.17, hspace=0.75)
    else:
        fig.tight_layout(rect=(0, 0, 0.93, 0.97))
    cax = fig.add_axes((0.965 if rows == 1 else 0.94, 0.3, 0.008 if rows == 1 else 0.015, 0.4))
    bar = fig.colorbar(ScalarMappable(Normalize(0, len(dream.LAYERS) - 1), _depth_cmap()), cax=cax)
    bar.set_ticks([0, len(dream.LAYERS) - 1], labels=["input\n(conv2d0_pre_relu)", "output\n(mixed5b)"], fontsize=7)
    bar.set_label("box shade: layer depth", fontsize=8)
    handles = [Line2D([], [], color=AXIS_COLOURS["valence"], lw=1.4, label="median (valence)"),
               Line2D([], [], color=AXIS_COLOURS["arousal"], lw=1.4, label="median (arousal)"),
               Line2D([], [], color="black", lw=0.6, ls="--", label="neutral (50)")]
    if tests is not None:
        handles += [Line2D([], [], marker="^", ls="none", color="#c00000", label="significantly above 50"),
                    Line2D([], [], marker="v", ls="none", color="#1f4e99", label="significantly below 50")]
    fig.legend(handles=handles, loc="upper right", ncols=len(handles), fontsize=8, frameon=False,
               bbox_to_anchor=(0.995, 0.995 if rows > 1 else 0.985))
    return label(fig, *notes)


def layer_groups(ratings, tests, *, notes=()):
    """Figure 11: ratings pooled over layer types, two panels per comparison (violin + box).

    Args:
        ratings: long ratings.
        tests: ``stats.group_tests`` output; the title of each panel states the paired test.
    """
    import matplotlib.pyplot as plt

    from helpers import ratings as rt

    comps = tests.drop_duplicates(["axis", "group_a", "group_b"])
    fig, axes = plt.subplots(1, len(comps), figsize=(4.2 * len(comps), 3.6), squeeze=False)
    for ax, (_, c) in zip(axes[0], comps.iterrows()):
        parts = []
        for g in (c["group_a"], c["group_b"]):
            sub = ratings[ratings["layer"].isin(rt.layers_matching(g))]
            parts.append(sub.assign(group=f"{g}\n({sub['layer'].nunique()} layers)"))
        import pandas as pd

        data = pd.concat(parts)
        if data.empty:
            ax.text(0.5, 0.5, f"no rated layers of type\n{c['group_a']} or {c['group_b']}", ha="center", va="center",
                    transform=ax.transAxes, fontsize=8)
            ax.set_title(c["axis"])
            ax.set_axis_off()
            continue
        violin_box(data, x="group", y=c["axis"], color=AXIS_COLOURS[c["axis"]], ax=ax, ylabel=f"{c['axis']} (0-100)")
        paired = tests[(tests["axis"] == c["axis"]) & (tests["group_a"] == c["group_a"]) & (tests["test"] == "paired")]
        if len(paired) and paired.iloc[0]["n_a"] > 0:
            p = paired.iloc[0]
            ax.set_title(f"{c['axis']}: paired Wilcoxon p = {p['p']:.2g}, d_z = {p['cohen_d']:.2f}", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    return label(fig, *notes)


def density_panel(density, *, mean=None, median=None, target=None, ax=None, title=None, ticks: bool = True, fontsize=7):
    """One joint density heat map on [0, 100]^2: arousal horizontal, valence vertical.

    Markers: white cross = mean, red circle = median (the paper's Figures 12-13); ``target``
    (arousal, valence) draws a red rectangle around a corner/side of the plane (Figure 13).
    """
    import matplotlib.patches as mpatches

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
    """
    import matplotlib.pyplot as plt

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
    fig.tight_layout()
    return label(fig, *notes)


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
    """
    import matplotlib.pyplot as plt

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
    return label(fig, *notes)


def extreme_layer_images(nearest, images, *, notes=(), cell: float = 1.5, fontsize: float = 7.0):
    """Supplementary S5-S12: images of the layers whose median ratings lie nearest each corner and side.

    Args:
        nearest: ``stats.nearest_corners(..., k=K)`` (one row per target and rank).
        images: ``{layer: uint8 HxWx3}`` (one dream image per layer); missing ones are blank.

    Returns:
        matplotlib Figure: one row per target (the paper's eight supplementary figures), the
        nearest ``K`` layers left to right, each titled with its layer and median arousal /
        valence.
    """
    import matplotlib.pyplot as plt

    targets = list(dict.fromkeys(nearest["target"]))
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
            ax.set_title(f"{r['layer']}\nmedian A {r['median_arousal']:.0f} / V {r['median_valence']:.0f}", fontsize=fontsize - 1)
        axes[i, 0].set_ylabel(target.replace(", ", ",\n"), fontsize=fontsize, rotation=0, ha="right", va="center")
    fig.suptitle("Supplementary S5-S12: layers with extreme median ratings\n(nearest each corner and side of the "
                 "arousal-valence plane, nearest first)", fontsize=9, y=1.0, va="top")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / fig.get_figheight()))
    return label(fig, *notes)


def layer_view(layer, *, images, density, stats_row, tests=None, notes=()):
    """One layer at a glance: its images, its joint density and its statistics (layer browser).

    Args:
        layer: layer name.
        images: list of uint8 HxWx3 arrays (the layer's dream images, one per seed).
        density: ``(bins, bins)`` joint density; stats_row: the layer's row of
            ``stats.joint_density_stats`` (a Series); tests: ``stats.layer_tests`` output.
    """
    import matplotlib.pyplot as plt

    n = max(len(images), 1)
    fig = plt.figure(figsize=(2.0 * (n + 2), 2.6))
    grid = fig.add_gridspec(1, n + 2, width_ratios=[1] * n + [1.2, 1.6])
    for k, img in enumerate(images):
        ax = fig.add_subplot(grid[0, k])
        ax.imshow(img)
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_title(f"seed {k}", fontsize=7)
    s = stats_row
    density_panel(density, mean=(s["mean_arousal"], s["mean_valence"]), median=(s["median_arousal"], s["median_valence"]),
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
    return label(fig, *notes)


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
    """
    default = default or layers[0]
    if interactive is None:
        interactive = _has_frontend()
    if not interactive:
        return view(default)
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

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
    import os
    import sys

    if "papermill" in sys.modules or os.environ.get("PAPERMILL_EXECUTION") or os.environ.get("NA_STATIC"):
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell" and "nbclient" not in sys.modules


def load_layer_images(manifest, folder, *, layers=None, seeds=None, max_side: int = 256) -> dict:
    """Dream images per layer from notebook 01's manifest: ``{layer: [uint8 HxWx3, ...]}``.

    Args:
        manifest: DataFrame with layer, seed, path (relative to ``folder``).
        folder: ``results/<profile>/dream``.
        layers, seeds: restrict to these (default all in the manifest).
        max_side: downscale larger images to this many pixels (figures only need thumbnails).

    Unreadable images are skipped with a warning, so one bad file never stops a figure.
    """
    import warnings
    from pathlib import Path

    from PIL import Image

    from helpers import io

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


# ---------------------------------------------------------------------------------------------
# README preview strip
# ---------------------------------------------------------------------------------------------
PREVIEW_PARTS = (  # (figure stem, crop box as fractions of width/height: left, top, right, bottom)
    ("p1-fig12-joint-density-cases", (0.0, 0.08, 1.0, 0.63)),
    ("p1-fig06-violins", (0.0, 0.12, 1.0, 1.0)),
)


def preview_strip(profile: str = "smoke", path=None, *, parts=PREVIEW_PARTS, height: int = 300, max_width: int = 1600,
                  note: str | None = None) -> Path:
    """Compose README's small preview picture from a profile's saved figures (one labelled strip).

    Args:
        profile: whose ``figures/<profile>/`` to read; anything but "class"/"paper" is
            labelled a stand-in preview.
        path: output PNG (default ``figures/README-preview.png`` beside the profile folders).
        parts: ``(figure stem, crop fractions)`` left to right.
        height: pixel height of each part in the strip (lowered to fit ``max_width``).
        max_width: pixel width of the whole strip at most.
        note: the red label (default says what made the strip).

    Returns:
        Path of the PNG (palette-quantised, well under 200 kB).
    """
    from PIL import Image, ImageDraw, ImageFont

    from helpers import io, paths

    folder = paths.figures(profile, create=False)
    tiles = []
    for stem, (l, t, r, b) in parts:
        im = Image.open(folder / f"{stem}.png").convert("RGB")
        w, h = im.size
        im = im.crop((int(l * w), int(t * h), int(r * w), int(b * h)))
        tiles.append(im)
    gaps = 10 * (len(tiles) - 1)
    natural = sum(t.width * height / t.height for t in tiles)
    height = min(height, int(height * (max_width - gaps) / natural))
    tiles = [t.resize((max(1, round(t.width * height / t.height)), height), Image.LANCZOS) for t in tiles]
    banner = 26
    strip = Image.new("RGB", (sum(t.width for t in tiles) + 10 * (len(tiles) - 1), height + banner), "white")
    x = 0
    for t in tiles:
        strip.paste(t, (x, banner))
        x += t.width + 10
    note = note or (f"PREVIEW ({profile} profile)" if profile in ("class", "paper") else
                    f"STAND-IN PREVIEW ({profile} profile): random-initialised networks and simulated ratings, not results")
    draw = ImageDraw.Draw(strip)
    try:
        font = ImageFont.load_default(size=16)
    except TypeError:  # Pillow < 10.1
        font = ImageFont.load_default()
    draw.text((8, 4), note, fill=(192, 0, 0), font=font)
    target = Path(path) if path else paths.root() / "figures" / "README-preview.png"
    with io.atomic_path(target) as tmp:
        strip.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(tmp, format="PNG", optimize=True)
    return target


if __name__ == "__main__":  # python -m helpers.plots preview [--profile smoke]
    import argparse

    parser = argparse.ArgumentParser(prog="python -m helpers.plots")
    parser.add_argument("cmd", choices=["preview"])
    parser.add_argument("--profile", default="smoke")
    args = parser.parse_args()
    print(preview_strip(args.profile))


def effect_sizes(table, *, value: str = "mean_diff", low: str = "mean_ci_low", high: str = "mean_ci_high",
                 notes=(), max_rows: int = 60, figsize=None):
    """Forest plot of per-group effects with confidence intervals, one panel per axis.

    Args:
        table: :func:`helpers.stats.layer_effect_sizes` output (axis, layer, and the columns below).
        value, low, high: the estimate and its CI bounds (default: participant mean - 50, rating
            points; ``"d_z", "d_ci_low", "d_ci_high"`` for the standardised effect).
        notes: label lines (:data:`SIMULATED`).
        max_rows: show at most this many groups per axis (the largest |value|).

    Returns:
        matplotlib Figure.
    """
    import matplotlib.pyplot as plt

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
    fig.suptitle(f"Effects against neutral with {level:.0%} CIs (red: CI excludes 0)", fontsize=9)
    fig.tight_layout()
    return label(fig, *notes)

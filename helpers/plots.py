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
                medianprops=dict(color="black", linewidth=1.2), whiskerprops=dict(linewidth=0.7), capprops=dict(linewidth=0.7))
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
        table: tidy output of ``stats.correlations`` (row, col, r, cell, n, unit).
    """
    import matplotlib.pyplot as plt

    rows, cols = list(dict.fromkeys(table["row"])), list(dict.fromkeys(table["col"]))
    r = table.pivot(index="row", columns="col", values="r").reindex(index=rows, columns=cols)
    cell = table.pivot(index="row", columns="col", values="cell").reindex(index=rows, columns=cols)
    fig, ax = _fig_ax(ax, (7, 4.2))
    im = ax.imshow(np.ma.masked_invalid(r.to_numpy(float)), cmap="RdBu_r", vmin=-1, vmax=1)
    for i in range(len(rows)):
        for j in range(len(cols)):
            if isinstance(cell.iat[i, j], str):
                ax.text(j, i, cell.iat[i, j], ha="center", va="center", fontsize=7,
                        color="white" if abs(r.iat[i, j]) > 0.6 else "black")
    ax.set_xticks(range(len(cols)), cols, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    ax.tick_params(length=0)
    for s in ax.spines.values():
        s.set_visible(False)
    n, unit = int(table["n"].max()), table["unit"].iloc[0]
    ax.set_title(f"Table 1: Pearson r (unit: {unit}, n = {n}); * p<0.05, ** p<0.01, *** p<0.001")
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


def _depth_colours(positions, n_layers: int = 144):
    import matplotlib.pyplot as plt

    cmap = plt.get_cmap("Greys_r")
    return [cmap(0.15 + 0.7 * p / max(n_layers - 1, 1)) for p in positions]  # input dark -> deep light


def layer_boxplots(ratings, *, order: str = "median", tests=None, notes=(), figsize=None, fontsize: float = 5.0):
    """Figure 10 / S13: per-layer box plots of valence (top) and arousal (bottom) for all layers.

    Boxes are shaded by layer depth (dark near the input, light for deep layers). With
    ``tests`` (``stats.layer_tests``), layers significantly above/below 50 get a marker
    above the box (red ``+`` higher, blue ``-`` lower, after the stated correction).

    Args:
        ratings: long ratings.
        order: "median" (each panel sorted by its median, Figure 10) or "position"
            (study order, Supplementary S13).
        figsize: default grows with the number of layers (26 x 9 inches for 144).
    """
    import matplotlib.pyplot as plt

    from helpers import inception as dream  # LAYERS lives with the network (no dream <-> plots circle)

    if order not in ("median", "position"):
        raise ValueError(f"order must be 'median' or 'position', got {order!r}")
    pos = {n: i for i, n in enumerate(dream.LAYERS)}
    groups = {n: g for n, g in ratings.groupby("layer", sort=False)}
    fig, axes = plt.subplots(2, 1, figsize=figsize or (max(6.0, 0.17 * len(groups) + 1.5), 9))
    for ax, axis in zip(axes, ["valence", "arousal"]):
        names = sorted(groups, key=(lambda n: groups[n][axis].median()) if order == "median" else pos.get)
        if order == "median":
            names = sorted(names, key=lambda n: (groups[n][axis].median(), groups[n][axis].mean()))
        bp = ax.boxplot([groups[n][axis].to_numpy() for n in names], patch_artist=True, showfliers=False, widths=0.7,
                        medianprops=dict(color=AXIS_COLOURS[axis], linewidth=1.0), whiskerprops=dict(linewidth=0.5),
                        capprops=dict(linewidth=0.5), boxprops=dict(linewidth=0.4))
        for patch, colour in zip(bp["boxes"], _depth_colours([pos.get(n, 0) for n in names])):
            patch.set_facecolor(colour)
        ax.axhline(50, color="black", lw=0.6, ls="--")
        if tests is not None:
            t = tests[tests["axis"] == axis].set_index("layer")
            for k, n in enumerate(names, start=1):
                if n in t.index and t.at[n, "significant"]:
                    up = t.at[n, "direction"] == "higher"
                    ax.text(k, 101, "+" if up else "-", ha="center", va="bottom", fontsize=fontsize + 2,
                            color="#c00000" if up else "#1f4e99", fontweight="bold")
            corr = tests["correction"].iloc[0] if len(tests) else ""
            ax.set_title(f"{axis}: {'sorted by median' if order == 'median' else 'in layer order'}; "
                         f"+/-: significantly above/below 50 ({tests['test'].iloc[0] if len(tests) else ''}, {corr})",
                         fontsize=9)
        else:
            ax.set_title(axis)
        ax.set_xticks(range(1, len(names) + 1), names, rotation=90, fontsize=fontsize)
        ax.set_xlim(0.3, len(names) + 0.7)
        ax.set_ylim(-2, 107)
        ax.set_ylabel(f"{axis} (0-100)")
    fig.subplots_adjust(left=0.03, right=0.995, top=0.95, bottom=0.17, hspace=0.75)
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


def density_grid(densities, stats=None, *, ncols: int = 12, cell: float = 1.25, notes=(), fontsize: float = 4.5):
    """Supplementary S2-S4: every layer's joint density in one grid (study order), entropy in each title.

    Drawn as one mosaic image (one axes, fast to render and save) rather than 144 axes; each
    tile is scaled to its own maximum so that every layer's shape is visible. Arousal is
    horizontal, valence vertical (up), as in :func:`density_panel`; white x = mean, red o =
    median.
    """
    import matplotlib.pyplot as plt

    names = list(densities)
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
        title = name if s is None else f"{name}\nH={s.at[name, 'entropy']:.2f} bits"
        ax.text(x0 + b / 2, y0 - 1, title, ha="center", va="bottom", fontsize=fontsize)
        if s is not None:
            to_xy = lambda a, v: (x0 + a / 100 * (b - 1), y0 + (1 - v / 100) * (b - 1))  # noqa: E731
            means.append(to_xy(s.at[name, "mean_arousal"], s.at[name, "mean_valence"]))
            medians.append(to_xy(s.at[name, "median_arousal"], s.at[name, "median_valence"]))
    ax.imshow((mosaic * 255).round().astype(np.uint8), interpolation="none")  # uint8 + "none": fast to save
    if means:
        ax.scatter(*np.array(means).T, marker="x", color="white", s=8, linewidths=0.8)
        ax.scatter(*np.array(medians).T, marker="o", facecolors="none", edgecolors="red", s=8, linewidths=0.7)
    ax.set_axis_off()
    ax.set_title("Joint densities of every layer (arousal: horizontal, valence: vertical, each tile 0-100 and scaled to "
                 "its maximum); white x = mean, red o = median", fontsize=9)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.97, bottom=0.01)
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

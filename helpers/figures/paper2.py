"""Figures of Paper 2 (perturbed BigGAN, Janik 2023): galleries, distances, spectra and the nearest painting.

Notebooks 05-06: :func:`gallery_grid` (Figures 2, 5, S1, S2, S7, A2, the block sweep),
:func:`distance_vs_alpha`, :func:`spectra_and_edges` (Figure S6). Notebook 07: :func:`nearest_pairs` draws
Figure 4 as the paper does (a few chosen pairs, the generated image on the left and its nearest ArtBench-10
painting on the right, labelled (a), (b), ... with artist, title and style); :func:`choose_pairs` picks
them; :func:`topk_strip` is the companion strip (each query and its top-k), bounded in rows so that it
stays small at paper settings; :func:`nearest_notes` says what the figures must be labelled with.
"""
from __future__ import annotations

import math
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from PIL import Image

from helpers.figures import base
from helpers.search import artbench

DEMO_QUERIES_NOTE = "DEMO QUERIES: procedurally generated, not BigGAN images"

def gallery_grid(g, *, title: str | None = None, wrap: int | None = None, cell_size: float = 1.4):
    """Figure of a :class:`helpers.synthesis.biggan_gallery.Gallery`: rows = class names, columns = networks (seed labels).

    ``wrap`` splits long rows (e.g. 24 seeds) into chunks of ``wrap`` columns, each cell titled
    with its network. The layout is set in inches (:func:`_layout`), so the figure title, the
    column titles and the images never overlap, whatever the number of rows. Stand-in galleries
    carry :data:`helpers.figures.base.STAND_IN`.

    Used in: notebook 05 (Figure 2, Supplementary A2, Supplementary S1); notebook 06 (Figure 5, Supplementary A5 /
        S7, Supplementary S2, p2-block-sweep.png).
    """
    notes = [base.STAND_IN] if g.stand_in else []
    n = len(g.networks)
    if not wrap or wrap >= n:
        fig = base.image_grid(g.images, row_labels=g.row_labels, col_labels=g.col_labels, notes=notes,
                               cell_size=cell_size)
        return _layout(fig, len(g.classes), max(n, 1), cell_size=cell_size, title=title, col_titles="first")
    chunks = [(r, j) for r in range(len(g.classes)) for j in range(0, n, wrap)]
    rows = [[g.images[r, c] for c in range(j, min(j + wrap, n))] for r, j in chunks]
    labels = [g.row_labels[r] if j == 0 else "" for r, j in chunks]
    fig = base.image_grid(rows, row_labels=labels, notes=notes, cell_size=cell_size)
    axes = np.asarray(fig.axes).reshape(len(rows), wrap)
    for (r, j), row_axes in zip(chunks, axes):
        for c, ax in enumerate(row_axes):
            if j + c < n:
                ax.set_title(g.col_labels[j + c], fontsize=7, pad=2)
    return _layout(fig, len(rows), wrap, cell_size=cell_size, title=title, col_titles="every")


def _layout(fig, n_rows: int, n_cols: int, *, cell_size: float, title: str | None, col_titles: str,
            gap: float = 0.04, left: float = 1.1, title_size: float = 10.0):
    """Place an image grid's axes in inches: room above the first row (or every row) for column titles,
    and above that for the figure title (wrapped to the figure's width). ``col_titles``: "first" or "every"."""
    line = title_size / 72 * 1.35  # inches per title line
    col_h = 0.24 if col_titles == "first" else 0.0
    row_gap = 0.2 if col_titles == "every" else gap
    width = left + n_cols * cell_size + (n_cols - 1) * gap + 0.1
    lines = textwrap.wrap(title, width=max(20, int((width - 0.2) / (title_size / 72 * 0.55)))) if title else []
    top = 0.06 + col_h + (row_gap if col_titles == "every" else 0.0) + (len(lines) * line + 0.08 if lines else 0.0)
    height = top + n_rows * cell_size + (n_rows - 1) * row_gap + 0.06
    fig.set_size_inches(width, height)
    for k, ax in enumerate(fig.axes[: n_rows * n_cols]):
        r, c = divmod(k, n_cols)
        x = left + c * (cell_size + gap)
        y = height - top - (r + 1) * cell_size - r * row_gap
        ax.set_position([x / width, y / height, cell_size / width, cell_size / height])
    if lines:
        fig.suptitle("\n".join(lines), fontsize=title_size, x=(left + (width - left - 0.1) / 2) / width,
                     y=1 - 0.04 / height, va="top")
    return fig


def distance_vs_alpha(sweep, *, stand_in: bool = True, ax=None):
    """Measured distances (points, ±1 sd) and the analytic curves vs alpha, with the paper's values.

    Args:
        sweep: :func:`helpers.synthesis.biggan_distances.distance_sweep` output.
        stand_in: label the figure STAND-IN.
        ax: axes to draw into (default: a new figure).

    Used in: notebook 05 (p2-distance-vs-alpha.png).
    """
    # imported here: the distances module imports torch (1.9 s), which no other figure needs
    from helpers.synthesis.biggan import ALPHA
    from helpers.synthesis.biggan_distances import PAPER_DISTANCES, analytic_distance

    fig, ax = (plt.subplots(figsize=(5, 3.6)) if ax is None else (ax.figure, ax))
    grid = np.linspace(0, max(sweep["alpha"].max(), 0.6), 200)
    for (comp, d), color, between in zip(sweep.groupby("comparison", sort=False), ("C0", "C1"), (False, True)):
        ax.plot(grid, analytic_distance(grid, between_perturbed=between), color=color, lw=1,
                label=f"{comp}: analytic")
        ax.errorbar(d["alpha"], d["mean"], yerr=d["sd"].fillna(0), fmt="o", ms=4, color=color, capsize=2,
                    label=f"{comp}: measured")
    ax.plot([ALPHA, ALPHA], [PAPER_DISTANCES["perturbed_vs_original"], PAPER_DISTANCES["perturbed_vs_perturbed"]],
            "k*", ms=9, label="reported in the paper (α = 0.35)")
    ax.set(xlabel="α (Eq. 3)", ylabel="cosine distance", title="Distance of perturbed networks vs α")
    ax.legend(fontsize=7, frameon=False)
    base.label(fig, base.STAND_IN if stand_in else None)
    return fig


NATURAL_SKIMAGE_NOTE = "scikit-image sample photos"


def spectra_and_edges(per_image, spectra, *, stand_in: bool = True, size: int = 256, group_notes=None):
    """Left: mean radial amplitude spectrum per group (log-log, band = 1 sd); right: Canny edge density.

    ``group_notes`` (``{group: what it is}``) says where a group's images come from, in the legend and on
    the x axis; by default the "natural" group is :data:`NATURAL_SKIMAGE_NOTE` (notebook 05's default
    photographs, :func:`helpers.measures.spectra.natural_images` with no folder).

    Used in: notebook 05 (Supplementary A4 / S6).
    """
    group_notes = {"natural": NATURAL_SKIMAGE_NOTE} if group_notes is None else dict(group_notes)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.6), gridspec_kw=dict(width_ratios=(1.4, 1)))
    for i, (group, d) in enumerate(spectra.groupby("group", sort=False)):
        m = np.log10(d.pivot_table(index="k", columns="image", values="amplitude").clip(lower=1e-12))
        k = m.index.to_numpy() * size
        mean, sd = m.mean(axis=1).to_numpy(), m.std(axis=1).fillna(0).to_numpy()  # over images, in log10
        what = f"{group} = {group_notes[group]}" if group in group_notes else group
        a1.plot(k, 10 ** mean, color=f"C{i}", lw=1.2, label=f"{what} (n={m.shape[1]})")
        a1.fill_between(k, 10 ** (mean - sd), 10 ** (mean + sd), color=f"C{i}", alpha=0.2, lw=0)
    a1.set(xscale="log", yscale="log", xlabel=f"wavenumber k (cycles per {size} px)", ylabel="Fourier amplitude (geometric mean ± 1 sd)",
           title="Radially averaged amplitude spectra")
    a1.legend(fontsize=7, frameon=False)
    sns.boxplot(data=per_image, x="group", y="edge_density", hue="group", ax=a2, fliersize=0, width=0.5, legend=False)
    sns.stripplot(data=per_image, x="group", y="edge_density", color="k", size=2.5, ax=a2)
    a2.set(xlabel="", ylabel="Canny edge density (fraction of pixels)", title="Sharp edges")
    a2.set_xticks(a2.get_xticks(), [f"{t.get_text()}\n({group_notes[t.get_text()]})" if t.get_text() in group_notes
                                    else t.get_text() for t in a2.get_xticklabels()], fontsize=7)
    fig.tight_layout()
    base.label(fig, base.STAND_IN if stand_in else None)
    return fig


def _caption(row, width=28) -> str:
    title = textwrap.shorten(str(row.get("title") or row.get("item")), width=width, placeholder="…")
    artist = str(row.get("artist") or "?").replace("-", " ").title()
    style = str(row.get("style") or "?").replace("_", " ")
    return f"{title}\n{textwrap.shorten(artist, width=width, placeholder='…')}\n{style} · cos {row['similarity']:.3f}"


def _thumb(load, size=160):
    try:
        img = load()
    except (ValueError, OSError):
        return np.full((size, size, 3), 200, np.uint8)
    return np.asarray(Image.fromarray(img).resize((size, size), Image.BICUBIC))


def choose_pairs(results, *, n: int = 4, queries=None) -> list[str]:
    """The queries Figure 4 shows: ``queries`` if given, else the ``n`` best rank-1 pairs with distinct paintings.

    Rank-1 pairs are taken in decreasing similarity, skipping a query whose painting is already
    shown (so a "hub" painting appears once); when fewer than ``n`` distinct paintings exist the
    remaining best pairs fill up.

    Args:
        results: DataFrame from :func:`helpers.search.index.exact_search` / ``Index.search``.
        n: number of pairs.
        queries: query ids to show, in order (checked against ``results``).

    Returns:
        Query ids, in figure order.

    Raises:
        ValueError: a requested query is not in ``results`` (naming it).

    Used in: notebook 07 (Figure 4).
    """
    top = results[results["rank"] == 1].sort_values("similarity", ascending=False, kind="stable")
    if queries is not None:
        missing = [q for q in queries if q not in set(top["query"])]
        if missing:
            raise ValueError(f"choose_pairs: queries {missing} have no results; known: {list(top['query'])[:8]} ...")
        return list(queries)
    chosen, seen = [], set()
    for q, item in zip(top["query"], top["item"]):
        if item not in seen:
            chosen.append(q)
            seen.add(item)
    chosen += [q for q in top["query"] if q not in chosen]
    return chosen[:n]


def _pair_caption(letter, row, width=34) -> str:
    artist = str(row.get("artist") or "unknown artist").replace("-", " ").title()
    title = textwrap.shorten(str(row.get("title") or row.get("item")), width=width, placeholder="…")
    style = str(row.get("style") or "?").replace("_", " ")
    return f"({letter}) {textwrap.shorten(artist, width=width, placeholder='…')},\n{title}\n{style} · Gram cosine {row['similarity']:.3f}"


def sameness_note(n_distinct: int, n_shown: int, n_all: int, n_queries: int, what: str) -> str:
    """The line a nearest-painting figure carries when its matches are not distinct (e.g. with a stand-in network).

    Used in: notebook 07 (Figure 4, p2-fig04-top5.png) through :func:`helpers.figures.paper2.nearest_pairs` and
        :func:`helpers.figures.paper2.topk_strip`.
    """
    return (f"NOTE: the {n_shown} pairs shown have only {n_distinct} distinct {what} painting"
            f"{'s' if n_distinct != 1 else ''} ({n_all} over all {n_queries} queries):\n"
            "the generated images' Gram vectors barely differ")


def nearest_pairs(results, queries, corpus, *, pairs=None, query_labels=None, notes=(), columns: int = 2,
                 cell_size: float = 2.0):
    """Figure 4 as in the paper: chosen pairs, generated image left, nearest painting right, labelled (a), (b), ...

    Args:
        results: DataFrame from :func:`helpers.search.index.exact_search` / ``Index.search``.
        queries: :class:`helpers.search.artbench.Corpus` of the query images (ids as in ``results``).
        corpus: :class:`helpers.search.artbench.Corpus` holding the artworks (``row`` in ``results``).
        pairs: query ids to show (default :func:`choose_pairs` with ``n=4``).
        query_labels: one label per query of ``queries`` (default: its id).
        notes: lines for :func:`helpers.figures.base.label` (stand-in / demo warnings).
        columns: pairs per figure row.
        cell_size: inches per image.

    Returns:
        matplotlib Figure.

    Used in: notebook 07 (Figure 4).
    """
    pairs = choose_pairs(results, n=4) if pairs is None else list(pairs)
    names = [queries.name(i) for i in range(len(queries))]
    labels = dict(zip(names, query_labels if query_labels is not None else [Path(n).stem for n in names]))
    cols = max(1, min(columns, len(pairs)))
    nrows = max(1, math.ceil(len(pairs) / cols))
    fig = plt.figure(figsize=(cols * (2 * cell_size + 0.3), nrows * (cell_size + 0.95)))
    grid = fig.add_gridspec(nrows, cols, wspace=0.12, hspace=0.5)
    for j, q in enumerate(pairs):
        r, c = divmod(j, cols)
        inner = grid[r, c].subgridspec(1, 2, wspace=0.03)
        axq, axa = fig.add_subplot(inner[0, 0]), fig.add_subplot(inner[0, 1])
        for ax in (axq, axa):
            ax.set_axis_off()
        row = results[(results["query"] == q) & (results["rank"] == 1)].iloc[0]
        axq.imshow(_thumb(lambda: queries.load(names.index(q)), 224))
        axq.set_title(labels.get(q, q), fontsize=7, color="#1f3f8f")
        axa.imshow(_thumb(lambda: corpus.load(int(row["row"])), 224))
        axq.text(1.015, -0.04, _pair_caption("abcdefghijklmnopqrstuvwxyz"[j], row), transform=axq.transAxes,
                 ha="center", va="top", fontsize=7)
    what = "image of the demo corpus" if getattr(corpus, "demo", False) else "ArtBench-10 painting"
    fig.suptitle(f"Generated images beside their perceptually nearest {what} (right of each pair)\n"
                 "similarity: cosine of ResNet-152 layer3 Gram matrices", fontsize=8.5, y=1.0)
    shown = results[(results["rank"] == 1) & results["query"].isin(pairs)]
    n_distinct, n_all = shown["item"].nunique(), results.loc[results["rank"] == 1, "item"].nunique()
    if len(pairs) > 1 and n_distinct < len(pairs):
        notes = [*notes, sameness_note(n_distinct, len(pairs), n_all, results["query"].nunique(), "nearest")]
    base.label(fig, *notes)
    fig.subplots_adjust(left=0.01, right=0.99, top=1 - 0.55 / (nrows * (cell_size + 0.95)), bottom=0.02 + 0.6 / (nrows * (cell_size + 0.95)))
    return fig


def topk_strip(results, queries, corpus, *, k: int = 5, query_labels=None, notes=(), max_rows: int = 12,
                    cell_size: float = 1.25, thumb: int = 96):
    """One row per query: the query image, then its top-``k`` artworks with captions.

    At most ``max_rows`` queries are drawn (the first ones, in ``queries`` order) so the file stays
    small at paper settings; the figure says how many were left out (the table has them all).

    Returns:
        matplotlib Figure.

    Used in: notebook 07 (p2-fig04-top5.png).
    """
    nq_all = len(queries)
    nq = min(nq_all, max_rows)
    fig, axes = plt.subplots(nq, k + 1, figsize=((k + 1) * cell_size, nq * (cell_size + 0.62)), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for q in range(nq):
        name = queries.name(q)
        axes[q, 0].imshow(_thumb(lambda: queries.load(q), thumb))
        axes[q, 0].set_title(query_labels[q] if query_labels is not None else Path(name).stem, fontsize=6, color="#1f3f8f")
        res = results[results["query"] == name].sort_values("rank")
        for j, (_, row) in enumerate(res.head(k).iterrows(), 1):
            axes[q, j].imshow(_thumb(lambda: corpus.load(int(row["row"])), thumb))
            axes[q, j].set_title(f"#{j} " + _caption(row, width=20), fontsize=5)
    more = f" (first {nq} of {nq_all} queries; all are in the table)" if nq < nq_all else ""
    what = "images of the demo corpus" if getattr(corpus, "demo", False) else "artworks"
    fig.suptitle(f"Top-{k} nearest {what} per generated image (Gram cosine){more}", fontsize=8)
    fig.tight_layout()
    lists = results[results["rank"] <= k].sort_values(["query", "rank"]).groupby("query")["item"].apply(tuple)
    if len(lists) > 1 and lists.nunique() == 1:
        notes = [*notes, f"NOTE: all {len(lists)} generated images have the same top-{k} list: their Gram vectors "
                         "barely differ"]
    base.label(fig, *notes)
    return fig


def nearest_notes(encoder, corpus, queries) -> list[str]:
    """Red warning lines for a figure: stand-in network, demo corpus, demo / stand-in queries.

    Used in: notebook 07.
    """
    notes = [f"{base.STAND_IN} (ResNet-152)"] if encoder.stand_in else []
    if corpus.demo:
        notes.append(artbench.DEMO_CORPUS_NOTE)
    if queries.demo:
        notes.append(DEMO_QUERIES_NOTE)
    elif "stand_in" in queries.items and queries.items["stand_in"].astype(bool).any():
        notes.append("Queries generated by a STAND-IN BigGAN (random weights)")
    return notes

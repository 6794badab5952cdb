"""Figures of the nearest-painting search (paper 2, Figure 4 and the top-k strip).

:func:`plot_nearest` draws Figure 4 as the paper does: a few chosen pairs, the generated image
on the left and its nearest ArtBench-10 painting on the right, labelled (a), (b), ... with artist,
title and style. :func:`choose_pairs` picks them. :func:`plot_topk_strip` is the companion strip
(each query and its top-k), bounded in rows so that it stays small at paper settings.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def _caption(row, width=28) -> str:
    import textwrap

    title = textwrap.shorten(str(row.get("title") or row.get("item")), width=width, placeholder="…")
    artist = str(row.get("artist") or "?").replace("-", " ").title()
    style = str(row.get("style") or "?").replace("_", " ")
    return f"{title}\n{textwrap.shorten(artist, width=width, placeholder='…')}\n{style} · cos {row['similarity']:.3f}"


def _thumb(load, size=160):
    from PIL import Image

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
        results: DataFrame from :func:`helpers.artsearch.exact_search` / ``Index.search``.
        n: number of pairs.
        queries: query ids to show, in order (checked against ``results``).

    Returns:
        Query ids, in figure order.

    Raises:
        ValueError: a requested query is not in ``results`` (naming it).
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
    import textwrap

    artist = str(row.get("artist") or "unknown artist").replace("-", " ").title()
    title = textwrap.shorten(str(row.get("title") or row.get("item")), width=width, placeholder="…")
    style = str(row.get("style") or "?").replace("_", " ")
    return f"({letter}) {textwrap.shorten(artist, width=width, placeholder='…')},\n{title}\n{style} · Gram cosine {row['similarity']:.3f}"


def plot_nearest(results, queries, corpus, *, pairs=None, query_labels=None, notes=(), columns: int = 2,
                 cell_size: float = 2.0):
    """Figure 4 as in the paper: chosen pairs, generated image left, nearest painting right, labelled (a), (b), ...

    Args:
        results: DataFrame from :func:`helpers.artsearch.exact_search` / ``Index.search``.
        queries: :class:`helpers.artbench.Corpus` of the query images (ids as in ``results``).
        corpus: :class:`helpers.artbench.Corpus` holding the artworks (``row`` in ``results``).
        pairs: query ids to show (default :func:`choose_pairs` with ``n=4``).
        query_labels: one label per query of ``queries`` (default: its id).
        notes: lines for :func:`helpers.plots.label` (stand-in / demo warnings).
        columns: pairs per figure row.
        cell_size: inches per image.

    Returns:
        matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    from helpers import plots

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
    fig.suptitle("Generated images beside their perceptually nearest ArtBench-10 painting (right of each pair)\n"
                 "similarity: cosine of ResNet-152 layer3 Gram matrices", fontsize=8.5, y=1.0)
    plots.label(fig, *notes)
    fig.subplots_adjust(left=0.01, right=0.99, top=1 - 0.55 / (nrows * (cell_size + 0.95)), bottom=0.02 + 0.6 / (nrows * (cell_size + 0.95)))
    return fig


def plot_topk_strip(results, queries, corpus, *, k: int = 5, query_labels=None, notes=(), max_rows: int = 12,
                    cell_size: float = 1.25, thumb: int = 96):
    """One row per query: the query image, then its top-``k`` artworks with captions.

    At most ``max_rows`` queries are drawn (the first ones, in ``queries`` order) so the file stays
    small at paper settings; the figure says how many were left out (the table has them all).

    Returns:
        matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    from helpers import plots

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
    fig.suptitle(f"Top-{k} nearest artworks per generated image (Gram cosine){more}", fontsize=8)
    fig.tight_layout()
    plots.label(fig, *notes)
    return fig

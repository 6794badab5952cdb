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


def plot_nearest(results, queries, corpus, *, query_labels=None, notes=(), cell_size: float = 2.0):
    """Figure 4: each query image beside its nearest artwork (artist, title, style, similarity).

    Args:
        results: DataFrame from :func:`exact_search` / :meth:`Index.search`.
        queries: :class:`Corpus` of the query images (same order as the queries searched).
        corpus: :class:`Corpus` holding the artworks (``row`` in ``results``).
        query_labels: one label per query (default: its id).
        notes: lines for :func:`helpers.plots.label` (stand-in / demo warnings).

    Returns:
        matplotlib Figure (pairs laid out in up to 3 pair-columns).
    """
    import matplotlib.pyplot as plt

    from helpers import plots

    nq = len(queries)
    pairs = min(3, nq)
    nrows = math.ceil(nq / pairs)
    fig, axes = plt.subplots(nrows, 2 * pairs, figsize=(2 * pairs * cell_size, nrows * (cell_size + 0.75)), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for q in range(nq):
        r, c = divmod(q, pairs)
        name = queries.name(q)
        top = results[(results["query"] == name) & (results["rank"] == 1)]
        axq, axa = axes[r, 2 * c], axes[r, 2 * c + 1]
        axq.imshow(_thumb(lambda: queries.load(q)))
        axq.set_title(query_labels[q] if query_labels is not None else Path(name).stem, fontsize=7)
        if len(top):
            row = top.iloc[0]
            axa.imshow(_thumb(lambda: corpus.load(int(row["row"]))))
            axa.set_title(_caption(row), fontsize=6.5)
    fig.suptitle("Generated image → nearest artwork by Gram-matrix cosine (ResNet-152 layer3)", fontsize=9)
    fig.tight_layout()
    plots.label(fig, *notes)
    return fig


def plot_topk_strip(results, queries, corpus, *, k: int = 5, query_labels=None, notes=(), cell_size: float = 1.6):
    """One row per query: the query image, then its top-``k`` artworks with captions.

    Returns:
        matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    from helpers import plots

    nq = len(queries)
    fig, axes = plt.subplots(nq, k + 1, figsize=((k + 1) * cell_size, nq * (cell_size + 0.7)), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for q in range(nq):
        name = queries.name(q)
        axes[q, 0].imshow(_thumb(lambda: queries.load(q), 112))
        axes[q, 0].set_title(query_labels[q] if query_labels is not None else Path(name).stem, fontsize=6.5, color="#1f3f8f")
        res = results[results["query"] == name].sort_values("rank")
        for j, (_, row) in enumerate(res.head(k).iterrows(), 1):
            axes[q, j].imshow(_thumb(lambda: corpus.load(int(row["row"])), 112))
            axes[q, j].set_title(f"#{j} " + _caption(row, width=22), fontsize=5.5)
    fig.suptitle(f"Top-{k} nearest artworks per generated image (Gram cosine)", fontsize=9)
    fig.tight_layout()
    plots.label(fig, *notes)
    return fig


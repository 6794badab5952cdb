"""Which measures differ between groups of images, and the numeric measure columns of a feature table."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import kruskal
from statsmodels.stats.multitest import multipletests

NON_MEASURES = ("width", "height", "layer_index", "seed", "status", "error", "note")
"""Numeric table columns that are not image measures (left out of the analyses)."""


def measure_columns(df) -> list:
    """The numeric measure columns of a :func:`table` output (not ids, sizes or status).

    Used in: notebook 02.
    """
    return [c for c in df.columns if c not in NON_MEASURES and not c.startswith("_")
            and pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])]


def ok_numeric(df, columns):
    """Rows with status ok, the given columns as float, constant or all-NaN columns dropped.

    Used in: notebook 02 (p1-feature-separation.csv, p1-feature-separation.png) through
        :func:`helpers.measures.separation.separation`.
    """
    ok = df[df["status"] == "ok"] if "status" in df else df
    x = ok[list(columns)].astype(float)
    keep = [c for c in x.columns if x[c].notna().sum() > 2 and x[c].std(skipna=True) > 0]
    return ok, x[keep]


def separation(df, by: str, *, columns=None):
    """Which measures differ between groups of images (e.g. layer types).

    Per measure: the Kruskal-Wallis H test across the groups of ``by``
    (``scipy.stats.kruskal``, rank-based, so the scales of the measures do not matter), its
    effect size eta^2_H = (H - k + 1) / (n - k) (the share of the rank variance explained
    by the groups, ~0 for none, near 1 for complete separation; Tomczak & Tomczak 2014,
    Trends Sport Sci. 21:19), and Benjamini-Hochberg adjusted p-values over all measures
    (``statsmodels.stats.multitest.multipletests``).

    Args:
        df: a :func:`table` output (rows with ``status == "ok"`` are used).
        by: column holding the group of each image (at least 2 groups with 2+ images).
        columns: measures to test (default :func:`measure_columns`; constant ones are skipped).

    Returns:
        DataFrame sorted by eta^2_H (largest first): ``measure``, ``H``, ``p``, ``p_bh``,
        ``eta2``, ``n``, ``k`` (groups), and ``top_group`` / ``bottom_group`` (the groups
        with the highest and lowest median).

    Used in: notebook 02 (p1-feature-separation.csv, p1-feature-separation.png).
    """
    if by not in df.columns:
        raise ValueError(f"separation.separation: no column {by!r} (columns: {list(df.columns)})")
    ok, x = ok_numeric(df, columns or measure_columns(df))
    rows = []
    for c in x.columns:
        d = pd.DataFrame({"v": x[c], "g": ok[by]}).dropna()
        groups = [g["v"].to_numpy() for _, g in d.groupby("g") if len(g) >= 2]
        if len(groups) < 2:
            continue
        n, k = sum(len(g) for g in groups), len(groups)
        if len(np.unique(d["v"])) < 2:
            continue
        H, p = kruskal(*groups)
        med = d.groupby("g")["v"].median()
        rows.append({"measure": c, "H": float(H), "p": float(p), "eta2": float((H - k + 1) / (n - k)) if n > k else np.nan,
                     "n": n, "k": k, "top_group": str(med.idxmax()), "bottom_group": str(med.idxmin())})
    if not rows:
        raise ValueError(f"separation.separation: no measure could be tested across the groups of {by!r} "
                         "(need 2+ groups with 2+ images each)")
    out = pd.DataFrame(rows)
    out["p_bh"] = multipletests(out["p"], method="fdr_bh")[1]
    out = out.sort_values("eta2", ascending=False, ignore_index=True)
    return out[["measure", "H", "p", "p_bh", "eta2", "n", "k", "top_group", "bottom_group"]]

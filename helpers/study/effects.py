"""Each group of stimuli against neutral (Figure 10), layer types against each other (Figure 11), effect sizes.

The unit is the participant: each participant's mean over a group's images, so repeated images of one
person never count as independent. :func:`layer_tests` (Wilcoxon or t against 50, corrected together),
:func:`group_tests` (Figure 11's layer-type comparisons), :func:`layer_effect_sizes` (mean difference,
d_z and the rank-biserial r with confidence intervals), :func:`correction_sensitivity` (Figure 10 under
other corrections) and :func:`layer_key_numbers` (notebook 04's key numbers). "Layer" stands for any
grouping variable (``group_by="condition"``).
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats as ss
from statsmodels.stats.multitest import multipletests

from helpers import io
from helpers.nets.layers import LAYERS, layers_matching
from helpers.study.ratings import AXES

def participant_layer_means(ratings, *, group_by: str = "layer"):
    """Each participant's mean arousal and valence per layer (or per ``group_by`` value).

    Used in: notebook 04 through :func:`helpers.study.density.joint_density_stats`; notebook 08 through
        :func:`helpers.study.effects.layer_tests`.
    """
    return ratings.groupby([group_by, "participant"], sort=False)[list(AXES)].mean().reset_index()


def layer_tests(ratings, *, test: str = "wilcoxon", correction: str = "fdr_bh", alpha: float = 0.05,
                neutral: float = 50.0, layers=None, group_by: str = "layer"):
    """Per-layer tests of arousal and valence against the neutral 50, corrected for 288 tests.

    The unit is the participant: each participant's mean over the layer's five images, so
    repeated images of one person do not count as independent. ``test="wilcoxon"``:
    two-sided one-sample Wilcoxon signed-rank test of (mean - 50) (scipy.stats.wilcoxon);
    ``test="t"``: one-sample t-test. The p-values of all layers and both axes are corrected
    together with ``statsmodels.stats.multitest.multipletests(method=correction)``
    (Benjamini-Hochberg by default).

    ``group_by`` names the grouping variable (default "layer"; any descriptive column, e.g.
    "condition" or "network", or "stimulus"); the output keeps the column name ``layer`` for
    the group's value (and adds ``group_by``), so the figures work unchanged. Groups that are
    not InceptionV1 layers come in order of appearance, with position -1.

    Returns:
        tidy DataFrame, one row per (axis, layer) in study order: position (0-based layer
        index), n, mean, median, q1, q3 (of the ratings themselves), statistic, p, p_adj,
        significant, direction ("higher", "lower" or "neutral"), test, correction.

    Used in: notebook 04 (Figure 10, Supplementary S13, p1-layer-tests.csv); notebook 08 (key-numbers.json,
        study/correction-sensitivity.csv, study/group-tests.csv, study/power.csv).
    """
    if test not in ("wilcoxon", "t"):
        raise ValueError(f"test must be 'wilcoxon' or 't', got {test!r}")
    if group_by not in ratings.columns:
        raise ValueError(f"layer_tests: group_by={group_by!r} is not a column of the ratings ({list(ratings.columns)})")
    present = list(dict.fromkeys(ratings[group_by]))
    if layers is not None:
        order = [n for n in layers if n in set(present)]
    else:  # InceptionV1 layers in study order, any other group in order of appearance
        order = [n for n in LAYERS if n in set(present)]
        order += [n for n in present if n not in set(order)]
    pos = {n: i for i, n in enumerate(LAYERS)}
    pm = participant_layer_means(ratings, group_by=group_by)
    rows = []
    for axis in AXES:
        by_layer = dict(tuple(pm.groupby(group_by, sort=False)[axis]))
        raw = dict(tuple(ratings.groupby(group_by, sort=False)[axis]))
        for name in order:
            x = by_layer[name].to_numpy(float) - neutral
            if test == "wilcoxon":
                res = ss.wilcoxon(x) if np.any(x != 0) else None
            else:
                res = ss.ttest_1samp(x, 0.0)
            stat, p = (np.nan, 1.0) if res is None else (float(res.statistic), float(res.pvalue))
            r = raw[name]
            rows.append(dict(axis=axis, layer=name, position=pos.get(name, -1), n=len(x), mean=r.mean(), median=r.median(),
                             q1=r.quantile(0.25), q3=r.quantile(0.75), participant_mean=x.mean() + neutral,
                             statistic=stat, p=p))
    out = pd.DataFrame(rows)
    reject, p_adj, _, _ = multipletests(out["p"].fillna(1.0), alpha=alpha, method=correction)
    out["p_adj"], out["significant"] = p_adj, reject
    out["direction"] = np.where(~reject, "neutral", np.where(out["participant_mean"] > neutral, "higher", "lower"))
    out["test"], out["correction"] = test, correction
    if group_by != "layer":
        out["group_by"] = group_by
    return out


def group_tests(ratings, *, comparisons=None):
    """Figure 11: layer-type comparisons (e.g. mixed{N}{m}_pool vs mixed{N}{m}_{K}x{K}_pre_relu).

    Two tests per comparison:
    - ``paired``: each participant's mean over group A's layers vs over group B's layers,
      two-sided Wilcoxon signed-rank test across participants (the participant is the
      unit); effect size Cohen's d_z (mean difference / sd of differences) and the
      matched-pairs rank-biserial correlation.
    - ``pooled``: all ratings of group A vs group B, two-sided Mann-Whitney U (what the
      paper's pooled box plots show; ignores that ratings share participants); effect size
      Cohen's d (pooled sd) and the rank-biserial correlation 2U/(n_a n_b) - 1.

    Args:
        comparisons: list of ``(axis, pattern_a, pattern_b)`` with patterns from
            :data:`helpers.nets.layers.GROUP_PATTERNS` (or regexes). Default: Figure 11's two.

    Returns:
        tidy DataFrame: axis, group_a, group_b, layers_a, layers_b, test, n_a, n_b, mean_a,
        mean_b, median_a, median_b, statistic, p, cohen_d, rank_biserial.

    Used in: notebook 04 (Figure 11, p1-group-tests.csv).
    """
    comparisons = comparisons or [("arousal", "mixed{N}{m}_pool", "mixed{N}{m}_{K}x{K}_pre_relu"),
                                  ("valence", "conv2d{L}", "mixed{N}{m}")]
    present = list(dict.fromkeys(ratings["layer"]))
    rows = []
    for axis, ga, gb in comparisons:
        la, lb = layers_matching(ga, present), layers_matching(gb, present)
        base = dict(axis=axis, group_a=ga, group_b=gb, layers_a=" ".join(la), layers_b=" ".join(lb))
        if not la or not lb:
            warnings.warn(f"group_tests: no rated layers match {ga!r} ({len(la)}) or {gb!r} ({len(lb)}); not tested")
            nan = dict.fromkeys(("mean_a", "mean_b", "median_a", "median_b", "statistic", "p", "cohen_d", "rank_biserial"), np.nan)
            rows += [dict(base, test=t, n_a=0, n_b=0, **nan) for t in ("paired", "pooled")]
            continue
        pa_ = ratings[ratings["layer"].isin(la)].groupby("participant")[axis].mean()
        pb_ = ratings[ratings["layer"].isin(lb)].groupby("participant")[axis].mean()
        pa_, pb_ = pa_.align(pb_, join="inner")
        diff = (pa_ - pb_).to_numpy()
        w = ss.wilcoxon(diff)
        ranks = ss.rankdata(np.abs(diff[diff != 0]))
        r_pos = ranks[diff[diff != 0] > 0].sum()
        rbc = (2 * r_pos - ranks.sum()) / ranks.sum() if ranks.size else np.nan
        rows.append(dict(base, test="paired", n_a=len(pa_), n_b=len(pb_), mean_a=pa_.mean(), mean_b=pb_.mean(),
                         median_a=pa_.median(), median_b=pb_.median(), statistic=float(w.statistic), p=float(w.pvalue),
                         cohen_d=diff.mean() / diff.std(ddof=1), rank_biserial=rbc))
        xa = ratings.loc[ratings["layer"].isin(la), axis].to_numpy(float)
        xb = ratings.loc[ratings["layer"].isin(lb), axis].to_numpy(float)
        u = ss.mannwhitneyu(xa, xb, alternative="two-sided")
        sp = np.sqrt(((len(xa) - 1) * xa.var(ddof=1) + (len(xb) - 1) * xb.var(ddof=1)) / (len(xa) + len(xb) - 2))
        rows.append(dict(base, test="pooled", n_a=len(xa), n_b=len(xb), mean_a=xa.mean(), mean_b=xb.mean(),
                         median_a=np.median(xa), median_b=np.median(xb), statistic=float(u.statistic), p=float(u.pvalue),
                         cohen_d=(xa.mean() - xb.mean()) / sp, rank_biserial=2 * u.statistic / (len(xa) * len(xb)) - 1))
    return pd.DataFrame(rows)


def layer_key_numbers(tests, groups, joint, cases, corners) -> dict:
    """Notebook 04's numbers for ``p1-key-numbers.json``: significant layers, group tests, density cases.

    Used in: notebook 04.
    """
    sig = tests[tests["significant"]]
    return io.strict_json({
        "test": str(tests["test"].iloc[0]), "correction": str(tests["correction"].iloc[0]),
        "significant": {a: sorted(sig.loc[sig["axis"] == a, "layer"]) for a in AXES},
        "n_significant": {a: int((sig["axis"] == a).sum()) for a in AXES},
        "group_tests": {f"{r.axis}/{r.test}": {"p": float(r.p), "cohen_d": float(r.cohen_d), "mean_a": float(r.mean_a),
                                               "mean_b": float(r.mean_b)} for r in groups.itertuples()},
        "bimodal": {str(r.layer): str(r.bimodal) for r in joint.itertuples() if r.bimodal != "none"},
        "entropy": {"min": float(joint["entropy"].min()), "mean": float(joint["entropy"].mean()),
                    "max": float(joint["entropy"].max()), "bins": int(joint["bins"].iloc[0]),
                    "bandwidth": float(joint["bandwidth"].iloc[0])},
        "cases": {int(r.case): str(r.layer) for r in cases.itertuples()},
        "corners": {str(r.target): str(r.layer) for r in corners.itertuples()},
    })


def _dz_ci(t, n, level: float = 0.95):
    """Exact CIs of Cohen's d_z from the noncentral t (Steiger & Fouladi 1997), vectorised over tests.

    For each observed t with n - 1 degrees of freedom, the noncentrality parameters whose
    distributions put t at the upper and lower ``(1 - level) / 2`` quantiles, found by bisection
    (60 halvings of a bracket several sds wide), divided by sqrt(n). NaN where t is not finite.
    """
    t, n = np.atleast_1d(np.asarray(t, float)), np.atleast_1d(np.asarray(n, float))
    df, tail = n - 1, (1 - level) / 2
    ok = np.isfinite(t) & (n >= 3)
    tt, dd = np.where(ok, t, 0.0), np.where(ok, df, 2.0)
    width = 8.0 * np.sqrt(1.0 + tt * tt / (2.0 * dd)) + 1.0
    out = []
    for q in (1 - tail, tail):  # cdf(t; ncp) decreases in ncp: q = 1 - tail gives the lower bound
        lo, hi = tt - width, tt + width
        for _ in range(60):
            mid = (lo + hi) / 2
            above = np.nan_to_num(ss.nct.cdf(tt, dd, mid), nan=0.5) > q
            lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
        out.append(np.where(ok, (lo + hi) / 2 / np.sqrt(n), np.nan))
    return out[0], out[1]


def _rank_biserial_resampled(x, idx):
    """Matched-pairs rank-biserial r of each resample ``x[idx[b]]`` (zeros dropped, as the Wilcoxon test does).

    The same numbers as ranking every row with ``scipy.stats.rankdata`` (average ranks for ties), found by
    counting instead of sorting: a resample only repeats values of ``x``, so the average rank of the
    ``c`` copies of the k-th smallest ``|x|`` is (copies of smaller values) + (c + 1) / 2. Ranks are
    half-integers and their sums exact in float64, so the result is bit for bit that of ranking
    (tests/test_stats.py checks it); for 2000 resamples of 150 it takes ~7 ms instead of ~60 ms.
    """
    x = np.asarray(x, dtype=float)
    idx = np.atleast_2d(idx)
    b, n = idx.shape
    levels, group = np.unique(np.abs(x), return_inverse=True)  # tied |x| share a group
    k = len(levels)
    cell = (np.arange(b)[:, None] * k + group[idx]).ravel()  # (resample, |x| group) of every draw
    counts = np.bincount(cell, minlength=b * k).reshape(b, k).astype(float)
    positive = np.bincount(cell, weights=(x[idx] > 0).ravel().astype(float), minlength=b * k).reshape(b, k)
    counts[:, (levels == 0) | np.isnan(levels)] = 0.0  # zeros and missing values are dropped before ranking
    before = np.cumsum(counts, axis=1) - counts
    ranks = before + (counts + 1) / 2
    m = counts.sum(axis=1)
    total = m * (m + 1) / 2
    pos = (positive * ranks).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (2 * pos - total) / total, 0.0)


def layer_effect_sizes(ratings, *, group_by: str = "layer", neutral: float = 50.0, level: float = 0.95):
    """Effect sizes with confidence intervals for the per-layer tests against neutral.

    The unit is the participant's mean over the group's images, as in :func:`layer_tests`.

    Returns:
        tidy DataFrame, one row per (axis, layer): n, mean_diff (participant mean - 50) with
        its t-based CI (mean_ci_low/high, rating points), d_z = mean_diff / sd with the exact
        noncentral-t CI (d_ci_low/high), and the matched-pairs rank-biserial r of the
        Wilcoxon test with a percentile bootstrap CI (r_ci_low/high, 2000 resamples, seed 0).

    Used in: notebook 04 (p1-layer-effect-sizes.csv); notebook 08 (study-effect-sizes.png,
        study/effect-sizes.csv).
    """
    pm = participant_layer_means(ratings, group_by=group_by)
    rng = np.random.default_rng(0)
    rows = []
    for axis in AXES:
        for name, g in pm.groupby(group_by, sort=False):
            x = g[axis].to_numpy(float) - neutral
            n = len(x)
            m, sd = x.mean(), x.std(ddof=1) if n > 1 else np.nan
            se = sd / np.sqrt(n) if n > 1 else np.nan
            tcrit = ss.t.ppf(1 - (1 - level) / 2, n - 1) if n > 1 else np.nan
            t = m / se if se and np.isfinite(se) and se > 0 else np.nan
            d = m / sd if sd and np.isfinite(sd) and sd > 0 else np.nan
            d_lo, d_hi = np.nan, np.nan  # filled below, all tests at once
            boots = _rank_biserial_resampled(x, rng.integers(0, n, (2000, n))) if n > 2 else np.array([np.nan])
            rows.append(dict(axis=axis, layer=name, n=n, mean_diff=m, mean_ci_low=m - tcrit * se, mean_ci_high=m + tcrit * se,
                             d_z=d, d_ci_low=d_lo, d_ci_high=d_hi, rank_biserial=float(_rank_biserial_resampled(x, np.arange(n)[None])[0]),
                             r_ci_low=float(np.nanquantile(boots, (1 - level) / 2)),
                             r_ci_high=float(np.nanquantile(boots, 1 - (1 - level) / 2)), level=level, _t=t))
    out = pd.DataFrame(rows)
    out["d_ci_low"], out["d_ci_high"] = _dz_ci(out["_t"].to_numpy(float), out["n"].to_numpy(float), level)
    return out.drop(columns="_t")


CORRECTIONS = {"BH over all tests": ("fdr_bh", "all"), "BH per axis": ("fdr_bh", "axis"),
               "Bonferroni over all tests": ("bonferroni", "all"), "none": (None, "all")}
"""Figure 10's significance under each multiple-comparison correction: name -> (method, family)."""


def correction_sensitivity(tests, *, alpha: float = 0.05, corrections=CORRECTIONS):
    """How many layers Figure 10 calls significant under each correction (from one set of raw p).

    Args:
        tests: :func:`layer_tests` output (its raw ``p`` column is re-corrected).
        corrections: ``{name: (statsmodels multipletests method or None, "all" | "axis")}``;
            "all" corrects the 288 tests together, "axis" each axis's 144 separately.

    Returns:
        (summary, detail): summary has one row per (correction, axis) with n_significant,
        n_tests, n_higher, n_lower; detail has one row per (correction, axis, layer) with p_adj
        and significant.

    Used in: notebook 04 (Figure 10); notebook 08 (key-numbers.json, study/correction-sensitivity.csv,
        study/power.csv).
    """
    detail = []
    for name, (method, family) in corrections.items():
        parts = [tests] if family == "all" else [g for _, g in tests.groupby("axis", sort=False)]
        for part in parts:
            p = part["p"].fillna(1.0).to_numpy()
            p_adj = p if method is None else multipletests(p, alpha=alpha, method=method)[1]
            detail.append(pd.DataFrame({"correction": name, "axis": part["axis"].to_numpy(), "layer": part["layer"].to_numpy(),
                                        "p": p, "p_adj": p_adj, "significant": p_adj < alpha,
                                        "higher": part["participant_mean"].to_numpy() > 50}))
    detail = pd.concat(detail, ignore_index=True)
    summary = (detail.assign(n_higher=detail["significant"] & detail["higher"], n_lower=detail["significant"] & ~detail["higher"])
               .groupby(["correction", "axis"], sort=False)
               .agg(n_significant=("significant", "sum"), n_tests=("significant", "size"), n_higher=("n_higher", "sum"),
                    n_lower=("n_lower", "sum")).reset_index())
    summary["alpha"] = alpha
    return summary, detail.drop(columns="higher")

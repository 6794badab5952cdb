"""Statistics of the emotion study (Paper 1): Table 1, regressions, ANOVAs, layer tests, joint densities.

Every function takes the ratings (long format, see :mod:`helpers.ratings`) and/or the image
features (notebook 02's ``features.parquet``) and returns a tidy DataFrame; notebooks only
display and plot. Libraries do the arithmetic: scipy.stats (Pearson, Wilcoxon, Mann-Whitney),
statsmodels (OLS, ANOVA, VIF, Benjamini-Hochberg), diptest (Hartigan's dip test).
"""
from __future__ import annotations

import numpy as np

AXES = ("arousal", "valence")
FEATURES = {"hue": "Hue", "saturation": "Saturation", "brightness": "Brightness", "jpeg_bytes": "JPEG",
            "feature_congestion": "CFC", "subband_entropy": "CSE"}
"""Table 1's image features: column in features.parquet -> the paper's name."""
SELECTED = ("hue", "feature_congestion", "subband_entropy")
"""The paper's selected regression model (arousal R^2 = 0.37; valence R^2 = 0.033)."""
FULL = tuple(FEATURES)
CORNERS = (  # Figure 13, left to right: (name, arousal, valence)
    ("low arousal, low valence", 0.0, 0.0), ("low arousal, neutral valence", 0.0, 50.0),
    ("low arousal, high valence", 0.0, 100.0), ("neutral arousal, high valence", 50.0, 100.0),
    ("high arousal, high valence", 100.0, 100.0), ("high arousal, neutral valence", 100.0, 50.0),
    ("high arousal, low valence", 100.0, 0.0), ("neutral arousal, low valence", 50.0, 0.0))


PAPER_TABLE1 = (  # (row, column, r, stars) as printed in the paper's Table 1
    ("Hue", "Arousal", 0.120, ""), ("Hue", "Valence", 0.080, ""),
    ("Saturation", "Arousal", 0.187, "*"), ("Saturation", "Valence", 0.060, ""), ("Saturation", "Hue", 0.990, "***"),
    ("Brightness", "Arousal", 0.204, "**"), ("Brightness", "Valence", 0.050, ""), ("Brightness", "Hue", 0.986, "***"),
    ("Brightness", "Saturation", 0.999, "***"),
    ("JPEG", "Arousal", 0.215, "**"), ("JPEG", "Valence", -0.053, ""), ("JPEG", "Hue", 0.807, "***"),
    ("JPEG", "Saturation", 0.805, "***"), ("JPEG", "Brightness", 0.808, "***"),
    ("CFC", "Arousal", 0.343, "***"), ("CFC", "Valence", -0.056, ""), ("CFC", "Hue", 0.814, "***"),
    ("CFC", "Saturation", 0.848, "***"), ("CFC", "Brightness", 0.858, "***"), ("CFC", "JPEG", 0.874, "***"),
    ("CSE", "Arousal", -0.216, "**"), ("CSE", "Valence", 0.023, ""), ("CSE", "Hue", 0.364, "***"),
    ("CSE", "Saturation", 0.343, "***"), ("CSE", "Brightness", 0.344, "***"), ("CSE", "JPEG", 0.236, "**"),
    ("CSE", "CFC", 0.340, "***"))


PAPER_NUMBERS = {  # reported in the paper's text, for side-by-side comparison
    "r2": {"arousal/selected": 0.37, "valence/selected": 0.033},
    "anova": {"valence/attitude": (2, 147, 2.44, 0.091), "arousal/attitude": (2, 147, 2.41, 0.786),
              "valence/self_esteem": (4, 145, 1.45, 0.221), "arousal/self_esteem": (4, 145, 1.58, 0.183)},
}


def paper_table1():
    """The paper's Table 1 as a tidy DataFrame: row, col, paper_r, paper_stars (join on row, col)."""
    import pandas as pd

    return pd.DataFrame(PAPER_TABLE1, columns=["row", "col", "paper_r", "paper_stars"])


def table1_unit_check(ns=(144, 150, 720), tails=(2,)):
    """Which sample size (and test) do the paper's Table 1 stars imply? Stars recomputed from each printed r.

    For every n in ``ns`` and number of tails in ``tails`` (2: two-sided, 1: one-sided) the p
    of a Pearson r with n - 2 degrees of freedom is computed from the printed r, turned into
    stars and compared with the printed stars. At n = 144 a two-sided test matches 26 of 27
    cells (Brightness/Arousal r = 0.204 is printed ** but p = 0.014), a one-sided test all 27.

    Returns:
        DataFrame: n, tails, matches (cells whose stars agree, of 27), of, mismatched (list of cells).
    """
    import pandas as pd
    from scipy import stats as ss

    rows = []
    for n in ns:
        for k in tails:
            bad = []
            for row, col, r, st in PAPER_TABLE1:
                t = r * np.sqrt((n - 2) / (1 - r * r))
                if stars(k * ss.t.sf(abs(t), n - 2)) != st:
                    bad.append(f"{row}/{col} {r}{st}")
            rows.append(dict(n=n, tails=k, matches=len(PAPER_TABLE1) - len(bad), of=len(PAPER_TABLE1),
                             mismatched="; ".join(bad)))
    return pd.DataFrame(rows)


def table1_implied_r2(terms=("Hue", "CFC", "CSE")) -> dict:
    """R^2 of the regression on ``terms`` implied by Table 1's own correlations: r' R^-1 r per response.

    For standardised variables an OLS R^2 is ``r_xy' R_xx^-1 r_xy`` (``r_xy``: the terms'
    correlations with the response, ``R_xx``: among the terms), so Table 1 fixes what the
    selected model can explain: about 0.29 for arousal and 0.05 for valence, not the printed
    0.37 and 0.033 (same n, same means).

    Returns:
        ``{"arousal": R^2, "valence": R^2}``.
    """
    cell = {(a, b): r for a, b, r, _ in PAPER_TABLE1}
    corr = lambda a, b: 1.0 if a == b else cell.get((a, b), cell.get((b, a)))  # noqa: E731
    R = np.array([[corr(a, b) for b in terms] for a in terms])
    out = {}
    for axis in AXES:
        r = np.array([corr(t, axis.capitalize()) for t in terms])
        out[axis] = float(r @ np.linalg.solve(R, r))
    return out


def stars(p: float) -> str:
    """'***' for p < 0.001, '**' for p < 0.01, '*' for p < 0.05, '' otherwise (Table 1)."""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""


def _ok(features):
    if "status" in features:
        bad = features["status"].ne("ok")
        if bad.any():
            import warnings

            warnings.warn(f"{int(bad.sum())} feature rows have status != 'ok' and are left out of the analysis")
        features = features[~bad]
    return features


def _unit_keys(ratings, unit: str) -> list[str]:
    """Key columns of a unit: "image" -> stimulus (or layer, seed); "layer" or any column -> itself."""
    if unit == "image":
        return ["stimulus"] if "stimulus" in ratings.columns else ["layer", "seed"]
    if unit not in ratings.columns or unit in ("participant", *AXES):
        raise ValueError(f"unit must be 'image' or a descriptive column of the ratings ({', '.join(map(str, ratings.columns))}), "
                         f"got {unit!r}")
    return [unit]


def _stimulus_features(ratings, features, keys):
    """Features averaged per ``keys`` in the general form: matched to ratings by stimulus id (= ``path``)."""
    f = _ok(features)
    if "stimulus" not in f.columns and "path" in f.columns:
        f = f.rename(columns={"path": "stimulus"})
    cols = [c for c in FEATURES if c in f.columns]
    per_stim = f[["stimulus", *cols]].drop_duplicates("stimulus")
    unknown = sorted(set(ratings["stimulus"]) - set(per_stim["stimulus"]))
    if unknown:
        import warnings

        warnings.warn(f"{len(unknown)} rated stimuli have no feature row (e.g. {unknown[:3]}); left out of feature analyses")
    if keys == ["stimulus"]:
        return per_stim
    desc = ratings[["stimulus", *keys]].drop_duplicates("stimulus")
    return desc.merge(per_stim, on="stimulus", how="inner").groupby(keys, sort=False)[cols].mean().reset_index()


def image_means(ratings, features=None, *, unit: str = "layer"):
    """Mean arousal and valence per image (``unit="image"``) or per layer (``unit="layer"``).

    Args:
        ratings: long ratings (participant, layer, seed, arousal, valence), or the general form
            with a ``stimulus`` column (:mod:`helpers.ratings`).
        features: optional per-image features; averaged the same way and joined (in the
            general form matched by stimulus id, the features' ``path`` or ``stimulus``).
        unit: "image" (one row per layer x seed, n = 720 in the study; per stimulus in the
            general form), "layer" (images of a layer pooled, n = 144), or the name of any
            descriptive column to pool by (e.g. "condition", "network").

    Returns:
        DataFrame: layer[, seed] (or the unit's column), arousal, valence, n_ratings[, feature columns].
    """
    keys = _unit_keys(ratings, unit)
    out = ratings.groupby(keys, sort=False)[list(AXES)].mean()
    out["n_ratings"] = ratings.groupby(keys, sort=False).size()
    out = out.reset_index()
    if features is not None:
        if "stimulus" in ratings.columns:
            f = _stimulus_features(ratings, features, keys)
        else:
            cols = [c for c in FEATURES if c in features.columns]
            f = _ok(features).groupby(keys, sort=False)[cols].mean().reset_index()
        out = out.merge(f, on=keys, how="inner", validate="one_to_one")
    return out


def correlations(ratings, features, *, unit: str = "layer", columns=None):
    """Table 1: Pearson r (scipy.stats.pearsonr) between mean arousal/valence and the features.

    Args:
        ratings, features: as :func:`image_means`.
        unit: "layer" (n = 144; the unit the paper's significance stars imply, see notebook
            03) or "image" (n = 720).
        columns: feature columns (default: Table 1's six, ``FEATURES``).

    Returns:
        tidy DataFrame, one row per (row variable, column variable) of Table 1's lower
        triangle: row, col (paper names), r, p, n, stars, cell ("0.343***"), unit.
    """
    from scipy import stats as ss

    columns = list(columns or FEATURES)
    data = image_means(ratings, features, unit=unit)
    names = {"arousal": "Arousal", "valence": "Valence", **FEATURES}
    order = ["arousal", "valence"] + columns
    rows = []
    for i, a in enumerate(order):
        for b in order[:i]:
            if a in AXES:  # Table 1 has no arousal-valence cell
                continue
            x, y = data[a].to_numpy(float), data[b].to_numpy(float)
            keep = np.isfinite(x) & np.isfinite(y)
            ok = keep.sum() >= 3 and np.ptp(x[keep]) > 0 and np.ptp(y[keep]) > 0
            r, p = ss.pearsonr(x[keep], y[keep]) if ok else (np.nan, np.nan)
            rows.append(dict(row=names[a], col=names[b], r=float(r), p=float(p), n=int(keep.sum()),
                             stars=stars(p), cell=f"{r:.3f}{stars(p)}" if ok else "n/a", unit=unit))
    import pandas as pd

    return pd.DataFrame(rows)


def correlation_matrix(table):
    """Table 1 laid out as in the paper (rows Hue..CSE, columns Arousal..CFC; strings with stars)."""
    wide = table.pivot(index="row", columns="col", values="cell")
    rows = list(dict.fromkeys(table["row"]))
    cols = list(dict.fromkeys(table["col"]))
    return wide.reindex(index=rows, columns=cols).fillna("")


def regression(ratings, features, *, unit: str = "layer", models=None, responses=AXES):
    """Multiple linear regressions (statsmodels OLS) of mean arousal and valence on features.

    Args:
        ratings, features, unit: as :func:`image_means`.
        models: ``{name: [feature columns]}``; default the paper's ``selected`` model
            (hue, feature congestion, sub-band entropy) and the ``full`` model (Table 1's six).
        responses: which axes to model.

    Returns:
        tidy DataFrame, one row per (response, model, term): coef, se, t, p, ci_low,
        ci_high (95 %), vif (variance inflation factor of the term; NaN for the intercept),
        and the model's n, r2, adj_r2, f, f_p, df_model, df_resid, unit.
    """
    import pandas as pd
    import statsmodels.api as sm
    from statsmodels.stats.outliers_influence import variance_inflation_factor

    models = models or {"selected": list(SELECTED), "full": list(FULL)}
    data = image_means(ratings, features, unit=unit)
    rows = []
    for response in responses:
        for name, terms in models.items():
            d = data[[response, *terms]].dropna()
            X = sm.add_constant(d[list(terms)].astype(float), has_constant="add")
            if len(d) <= X.shape[1]:
                import warnings

                warnings.warn(f"regression {response}/{name}: {len(d)} {unit}s for {X.shape[1]} parameters; not fitted")
                nan = dict.fromkeys(("coef", "se", "t", "p", "ci_low", "ci_high", "vif", "r2", "adj_r2", "f", "f_p",
                                     "df_model", "df_resid"), np.nan)
                rows += [dict(response=response, model=name, term=t, **nan, n=len(d), unit=unit) for t in X.columns]
                continue
            fit = sm.OLS(d[response].astype(float), X).fit()
            ci = fit.conf_int(0.05)
            vif = {t: float(variance_inflation_factor(X.to_numpy(), j)) for j, t in enumerate(X.columns) if t != "const"}
            for term in X.columns:
                rows.append(dict(response=response, model=name, term=term, coef=fit.params[term], se=fit.bse[term],
                                 t=fit.tvalues[term], p=fit.pvalues[term], ci_low=ci.loc[term, 0], ci_high=ci.loc[term, 1],
                                 vif=vif.get(term, np.nan), n=int(fit.nobs), r2=fit.rsquared, adj_r2=fit.rsquared_adj,
                                 f=fit.fvalue, f_p=fit.f_pvalue, df_model=int(fit.df_model), df_resid=int(fit.df_resid),
                                 unit=unit))
    return pd.DataFrame(rows)


def participant_means(ratings):
    """Each participant's mean arousal and valence over all images, with their covariates."""
    extra = [c for c in ("attitude", "self_esteem") if c in ratings.columns]
    out = ratings.groupby("participant", sort=False)[list(AXES)].mean()
    if extra:
        out = out.join(ratings.groupby("participant", sort=False)[extra].first())
    return out.reset_index()


def anova(ratings, *, factors=("attitude", "self_esteem"), responses=("valence", "arousal")):
    """One-way ANOVAs of participants' mean ratings by each covariate (statsmodels anova_lm).

    The unit is the participant (the paper's F(2,147) and F(4,145) imply 150 participants).

    Returns:
        tidy DataFrame: response, factor, k (levels present), n, df1, df2, F, p,
        eta2 (SS_between / SS_total), label ("F(2, 147) = 2.44, p = 0.091").
    """
    import pandas as pd
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    means = participant_means(ratings)
    rows = []
    for factor in factors:
        if factor not in means:
            raise ValueError(f"anova: ratings lack the participant covariate {factor!r}")
        for response in responses:
            d = means[[response, factor]].dropna().copy()
            d["g"] = d[factor].astype(str)
            tab = anova_lm(smf.ols(f"{response} ~ C(g)", data=d).fit(), typ=1)
            ss_b, ss_w = tab.loc["C(g)", "sum_sq"], tab.loc["Residual", "sum_sq"]
            df1, df2 = int(tab.loc["C(g)", "df"]), int(tab.loc["Residual", "df"])
            f, p = float(tab.loc["C(g)", "F"]), float(tab.loc["C(g)", "PR(>F)"])
            rows.append(dict(response=response, factor=factor, k=d["g"].nunique(), n=len(d), df1=df1, df2=df2, F=f, p=p,
                             eta2=ss_b / (ss_b + ss_w), label=f"F({df1}, {df2}) = {f:.2f}, p = {p:.3f}"))
    return pd.DataFrame(rows)


def participant_layer_means(ratings, *, group_by: str = "layer"):
    """Each participant's mean arousal and valence per layer (or per ``group_by`` value)."""
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
    """
    import pandas as pd
    from scipy import stats as ss
    from statsmodels.stats.multitest import multipletests

    from helpers import dream

    if test not in ("wilcoxon", "t"):
        raise ValueError(f"test must be 'wilcoxon' or 't', got {test!r}")
    if group_by not in ratings.columns:
        raise ValueError(f"layer_tests: group_by={group_by!r} is not a column of the ratings ({list(ratings.columns)})")
    present = list(dict.fromkeys(ratings[group_by]))
    if layers is not None:
        order = [n for n in layers if n in set(present)]
    else:  # InceptionV1 layers in study order, any other group in order of appearance
        order = [n for n in dream.LAYERS if n in set(present)]
        order += [n for n in present if n not in set(order)]
    pos = {n: i for i, n in enumerate(dream.LAYERS)}
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
            ``ratings.GROUP_PATTERNS`` (or regexes). Default: Figure 11's two.

    Returns:
        tidy DataFrame: axis, group_a, group_b, layers_a, layers_b, test, n_a, n_b, mean_a,
        mean_b, median_a, median_b, statistic, p, cohen_d, rank_biserial.
    """
    import pandas as pd
    from scipy import stats as ss

    from helpers import ratings as rt

    comparisons = comparisons or [("arousal", "mixed{N}{m}_pool", "mixed{N}{m}_{K}x{K}_pre_relu"),
                                  ("valence", "conv2d{L}", "mixed{N}{m}")]
    present = list(dict.fromkeys(ratings["layer"]))
    rows = []
    for axis, ga, gb in comparisons:
        la, lb = rt.layers_matching(ga, present), rt.layers_matching(gb, present)
        base = dict(axis=axis, group_a=ga, group_b=gb, layers_a=" ".join(la), layers_b=" ".join(lb))
        if not la or not lb:
            import warnings

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


# ---------------------------------------------------------------------------------------------
# joint densities
# ---------------------------------------------------------------------------------------------
def joint_density(arousal, valence, *, bins: int = 101, bandwidth: float = 5.0):
    """Smoothed 2-D histogram of (arousal, valence) on [0, 100]^2, normalised to sum to 1.

    A histogram with ``bins`` x ``bins`` cells smoothed by a Gaussian of sd ``bandwidth``
    rating points (scipy.ndimage.gaussian_filter, reflecting at the edges, so ratings
    clipped at 0 or 100 keep their mass). Equivalent to a Gaussian KDE with a fixed
    bandwidth, evaluated on the grid, at a fraction of the cost for 144 layers.

    Returns:
        float64 array ``(bins, bins)``, rows = valence (low to high), columns = arousal.
    """
    from scipy import ndimage

    a, v = np.asarray(arousal, float), np.asarray(valence, float)
    h, _, _ = np.histogram2d(v, a, bins=bins, range=[[0, 100], [0, 100]])
    h = ndimage.gaussian_filter(h, sigma=bandwidth * bins / 100.0, mode="reflect")
    return h / h.sum()


def entropy(density) -> float:
    """Shannon entropy in bits of a normalised density grid (the paper's pixel-intensity entropy)."""
    p = np.asarray(density, float).ravel()
    p = p[p > 0] / p.sum()
    return float(-(p * np.log2(p)).sum())


def joint_densities(ratings, *, bins: int = 101, bandwidth: float = 5.0, layers=None, group_by: str = "layer") -> dict:
    """``{layer: density}`` for every layer (study order; other ``group_by`` values in order of appearance)."""
    from helpers import dream

    groups = dict(tuple(ratings.groupby(group_by, sort=False)))
    order = [n for n in (layers or dream.LAYERS) if n in groups]
    if layers is None and len(order) < len(groups):
        order += [n for n in groups if n not in set(order)]
    return {n: joint_density(groups[n]["arousal"], groups[n]["valence"], bins=bins, bandwidth=bandwidth) for n in order}


def joint_density_stats(ratings, *, densities=None, bins: int = 101, bandwidth: float = 5.0, alpha: float = 0.05,
                        group_by: str = "layer"):
    """Per-layer joint-density statistics: entropy, centre, bimodality, nearest corner.

    Bimodality uses Hartigan's dip test (``diptest.diptest``) on each participant's mean
    over the layer's images (the participant is the unit, so two groups of participants
    give two modes), centred per participant (minus the participant's mean over all
    images, plus the grand mean) so that people's habitual slider offsets do not blur the
    modes: per axis, and jointly on the projection onto the first principal axis
    of the (arousal, valence) cloud. p-values are Benjamini-Hochberg corrected across the
    layers for each of the three tests.

    Returns:
        tidy DataFrame, one row per layer in study order: position, n_ratings, mean_/median_
        arousal/valence, entropy (bits; grid ``bins``^2, ``bandwidth`` stated in columns),
        dip_arousal, p_dip_arousal, dip_valence, p_dip_valence, dip_joint, p_dip_joint
        (raw and *_adj), bimodal ("none", "arousal", "valence", "both" or "joint"),
        dist_neutral (distance of the mean from (50, 50)), bins, bandwidth.
    """
    import diptest
    import pandas as pd
    from statsmodels.stats.multitest import multipletests

    from helpers import dream

    densities = densities or joint_densities(ratings, bins=bins, bandwidth=bandwidth, group_by=group_by)
    plm = participant_layer_means(ratings, group_by=group_by)
    centre = ratings.groupby("participant")[list(AXES)].mean()
    for axis in AXES:
        plm[axis] = plm[axis] - plm["participant"].map(centre[axis]).to_numpy() + ratings[axis].mean()
    pm = dict(tuple(plm.groupby(group_by, sort=False)))
    raw = dict(tuple(ratings.groupby(group_by, sort=False)))
    pos = {n: i for i, n in enumerate(dream.LAYERS)}
    rows = []
    for name, dens in densities.items():
        r, m = raw[name], pm[name]
        row = dict(layer=name, position=pos.get(name, -1), n_ratings=len(r), n_participants=len(m),
                   mean_arousal=r["arousal"].mean(), mean_valence=r["valence"].mean(),
                   median_arousal=r["arousal"].median(), median_valence=r["valence"].median(), entropy=entropy(dens))
        for axis in AXES:
            row[f"dip_{axis}"], row[f"p_dip_{axis}"] = diptest.diptest(m[axis].to_numpy(float))
        xy = m[list(AXES)].to_numpy(float)
        xy = xy - xy.mean(0)
        _, _, vt = np.linalg.svd(xy, full_matrices=False)
        row["dip_joint"], row["p_dip_joint"] = diptest.diptest(xy @ vt[0])
        rows.append(row)
    out = pd.DataFrame(rows)
    for col in ("arousal", "valence", "joint"):
        out[f"p_dip_{col}_adj"] = multipletests(out[f"p_dip_{col}"], method="fdr_bh")[1]
    ba, bv, bj = (out[f"p_dip_{c}_adj"] < alpha for c in ("arousal", "valence", "joint"))
    out["bimodal"] = np.select([ba & bv, ba, bv, bj], ["both", "arousal", "valence", "joint"], "none")
    out["dist_neutral"] = np.hypot(out["mean_arousal"] - 50, out["mean_valence"] - 50)
    out["bins"], out["bandwidth"] = bins, bandwidth
    return out


def layer_family(name: str) -> str:
    """A layer and its ``_pre_relu`` twin (near-identical images) share a family: ``conv2d0_pre_relu`` -> ``conv2d0``."""
    return name.removesuffix("_pre_relu")


def nearest_corners(stats, *, k: int = 1):
    """Figure 13: for each of the 8 corners and sides, a layer whose median is near it, each layer once.

    The layers are assigned to the 8 targets jointly (``scipy.optimize.linear_sum_assignment``,
    minimum total distance) so that no layer appears twice; a layer and its ``_pre_relu`` twin
    count as one (:func:`layer_family`), since their images are near-identical. With fewer
    families than targets, families repeat. ``k > 1`` adds, per target, the next nearest
    layers of other families (ranks 2..k; Supplementary S5-S12 show such layers' images).

    Returns:
        DataFrame: target (e.g. "low arousal, high valence"), target_arousal,
        target_valence, layer, median_arousal, median_valence, distance, rank (1 = the
        Figure 13 layer).
    """
    import pandas as pd
    from scipy.optimize import linear_sum_assignment

    s = stats.reset_index(drop=True)
    fam = s["layer"].map(layer_family)
    targets = np.array([(ta, tv) for _, ta, tv in CORNERS])
    d = np.hypot(s["median_arousal"].to_numpy()[None, :] - targets[:, :1], s["median_valence"].to_numpy()[None, :] - targets[:, 1:])
    families = list(dict.fromkeys(fam))
    best = np.empty((len(CORNERS), len(families)), int)  # the nearest member of each family, per target
    for j, f in enumerate(families):
        members = np.flatnonzero((fam == f).to_numpy())
        best[:, j] = members[np.argmin(d[:, members], axis=1)]
    cost = np.take_along_axis(d, best, axis=1)
    chosen = {}
    remaining = list(range(len(CORNERS)))
    while remaining:  # fewer families than targets: assign in rounds
        rows, cols = linear_sum_assignment(cost[remaining])
        for r, c in zip(rows, cols):
            chosen[remaining[r]] = best[remaining[r], c]
        remaining = [t for t in remaining if t not in chosen]
    out = []
    for t, (name, ta, tv) in enumerate(CORNERS):
        picks = [chosen[t]]
        for j in np.argsort(cost[t], kind="stable"):
            if len(picks) >= k:
                break
            if fam.iat[best[t, j]] not in {fam.iat[i] for i in picks}:
                picks.append(best[t, j])
        for rank, i in enumerate(picks, start=1):
            row = s.iloc[i]
            out.append(dict(target=name, target_arousal=ta, target_valence=tv, layer=row["layer"],
                            median_arousal=row["median_arousal"], median_valence=row["median_valence"],
                            distance=float(d[t, i]), rank=rank))
    return pd.DataFrame(out)


def select_cases(stats):
    """Figure 12's six cases from :func:`joint_density_stats`.

    1. minimum entropy; 2. "mean-like": entropy nearest the mean entropy and mean nearest
    (50, 50) (smallest sum of both, each in units of its sd over layers); 3. maximum
    entropy; 4. bimodal valence only (largest valence dip among layers flagged "valence",
    else among unflagged layers); 5. bimodal arousal only (likewise); 6. bimodal jointly
    (largest joint dip among layers flagged "both", then "joint"; else among unflagged
    layers). The reason names the chosen layer's own flag, so a panel never calls a layer
    bimodal that the dip test did not flag. A layer is used once.

    Returns:
        DataFrame: case (1-6), layer, reason, and the layer's statistics.
    """
    import pandas as pd

    s = stats.set_index("layer")
    used: list[str] = []

    def pick(score, candidates=None):
        sc = score.drop(index=used, errors="ignore")
        if sc.empty:  # fewer layers than cases (smoke runs): allow repeats
            sc = score
        if candidates is not None and sc.index.intersection(candidates).size:
            sc = sc.loc[sc.index.intersection(candidates)]
        name = sc.idxmin()
        used.append(name)
        return name

    h = s["entropy"]
    sd_h, sd_d = h.std(), s["dist_neutral"].std()
    mean_like = (h - h.mean()).abs() / (sd_h if sd_h > 0 else 1) + s["dist_neutral"] / (sd_d if sd_d > 0 else 1)
    # the specific bimodal cases first, so an entropy extreme cannot take their layer
    def bimodal_case(kinds, what, axis):
        for kind in kinds:  # first the flags that fit the case best
            idx = s.index[(s["bimodal"] == kind) & ~s.index.isin(used)]
            if len(idx):
                name = pick(-s[f"dip_{axis}"], idx)
                return name, f"{what}\n(dip test: {s.at[name, 'bimodal']})"
        idx = s.index[s["bimodal"] == "none"]  # nothing flagged: say so, and show the largest dip of the unflagged
        name = pick(-s[f"dip_{axis}"], idx if len(idx) else None)
        return name, f"largest {axis} dip, not bimodal\n(no layer flagged {'/'.join(kinds)})"

    p4, r4 = bimodal_case(["valence"], "bimodal valence, spread arousal", "valence")
    p5, r5 = bimodal_case(["arousal"], "bimodal arousal, spread valence", "arousal")
    p6, r6 = bimodal_case(["both", "joint"], "bimodal in both", "joint")
    picks = [(1, pick(h), "minimum entropy"),
             (2, pick(mean_like), "entropy nearest the mean,\nmean nearest (50, 50)"),
             (3, pick(-h), "maximum entropy"), (4, p4, r4), (5, p5, r5), (6, p6, r6)]
    out = pd.DataFrame(picks, columns=["case", "layer", "reason"])
    return out.merge(stats, on="layer", how="left")


def key_numbers(regression_table, anova_table, correlation_table, ratings, *, truth=None) -> dict:
    """The numbers a reader or a test checks, as a JSON-friendly dict (notebook 03).

    Includes n (participants, ratings, layers, images), the unit, R^2 / adjusted R^2 / F / p of
    each regression, each ANOVA's F(df1, df2), p and eta^2, r(CFC, arousal), whether the
    ratings are simulated and, with ``truth``, whether each planted coefficient lies in the
    selected model's 95 % confidence interval.
    """
    flag = bool(ratings["simulated"].astype(bool).any()) if "simulated" in ratings else False
    out = {"simulated": bool(ratings.attrs.get("simulated", False)) or flag, "paper": PAPER_NUMBERS,
           "n_participants": int(ratings["participant"].nunique()), "n_ratings": int(len(ratings)),
           "n_layers": int(ratings["layer"].nunique()), "n_images": int(len(ratings[["layer", "seed"]].drop_duplicates())),
           "unit": str(regression_table["unit"].iloc[0]), "regression": {}, "anova": {}}
    for (resp, model), g in regression_table.groupby(["response", "model"], sort=False):
        first = g.iloc[0]
        out["regression"][f"{resp}/{model}"] = {k: float(first[k]) for k in ("r2", "adj_r2", "f", "f_p")} | {
            "n": int(first["n"]), "p": {t: float(p) for t, p in zip(g["term"], g["p"]) if t != "const"}}
    for row in anova_table.itertuples():
        out["anova"][f"{row.response}/{row.factor}"] = {"F": float(row.F), "df1": int(row.df1), "df2": int(row.df2),
                                                       "p": float(row.p), "eta2": float(row.eta2)}
    cfc = correlation_table[(correlation_table["row"] == "CFC") & (correlation_table["col"] == "Arousal")]
    if len(cfc):
        out["r_cfc_arousal"] = float(cfc["r"].iloc[0])
    if truth is not None and regression_table["ci_low"].notna().any():
        # compare with the estimand (planted coefficients plus the layer effects' projection onto the features)
        unit = str(regression_table["unit"].iloc[0])
        target = truth.get("estimand", {}).get(unit, {}).get("selected") or truth["coefficients"]
        sel = regression_table[regression_table["model"] == "selected"].set_index(["response", "term"])
        pairs = [(a, t, b) for a, coefs in target.items() for t, b in coefs.items() if t != "const" and (a, t) in sel.index]
        out["planted_in_ci"] = {f"{a}/{t}": bool(sel.loc[(a, t), "ci_low"] <= b <= sel.loc[(a, t), "ci_high"])
                                for a, t, b in pairs}
        out["planted_z"] = {f"{a}/{t}": float((sel.loc[(a, t), "coef"] - b) / sel.loc[(a, t), "se"]) for a, t, b in pairs}
    return _finite(out)


def paper_comparison(key: dict, correlation_table=None) -> "pd.DataFrame":  # noqa: F821
    """Notebook 03's "expected vs paper" table: the paper's number, ours, and why they differ.

    Args:
        key: :func:`key_numbers` output (this run's R^2, ANOVAs, whether simulated).
        correlation_table: :func:`correlations` output, for Table 1's arousal cells.

    Returns:
        DataFrame: quantity, paper, ours, why (one row per reported number, then the
        paper's own inconsistencies, which no data can remove).
    """
    import pandas as pd
    from scipy import stats as ss

    sim = bool(key.get("simulated"))
    source = ("simulated ratings, calibrated to the paper's R^2 (ratings.DEFAULT_R2) with Table 1's directions"
              if sim else "the ratings given in RATINGS")
    reg = key.get("regression", {})
    fmt = lambda v, d=3: "n/a" if v is None else f"{v:.{d}f}"  # noqa: E731
    rows = []
    for axis, printed in (("arousal", 0.37), ("valence", 0.033)):
        ours = reg.get(f"{axis}/selected", {}).get("r2")
        rows.append((f"R^2, {axis} ~ hue + CFC + CSE", f"{printed}", fmt(ours),
                     f"{source}; Table 1's own r imply {table1_implied_r2()[axis]:.2f} (row below)"))
    if correlation_table is not None:
        ct = correlation_table.set_index(["row", "col"])["r"]
        for feat, paper_r in (("Hue", 0.120), ("CFC", 0.343), ("CSE", -0.216)):
            ours = float(ct.get((feat, "Arousal"), np.nan))
            why = ("simulated: Table 1's directions, scaled to the printed R^2, which is above what Table 1 implies, "
                   "and with these images' feature correlations (not the paper's): |r| comes out larger" if sim else "the data given")
            rows.append((f"Table 1 r({feat}, arousal)", f"{paper_r:.3f}", fmt(ours if np.isfinite(ours) else None), why))
    for name, (df1, df2, f, p) in PAPER_NUMBERS["anova"].items():
        resp, factor = name.split("/")
        ours = key.get("anova", {}).get(f"{resp}/{factor}", {})
        why = "no attitude or self-esteem effect is simulated (the paper found none)" if sim else "the data given"
        rows.append((f"ANOVA {resp} by {factor.replace('_', '-')}", f"F({df1},{df2}) = {f}, p = {p}",
                     f"F({ours.get('df1')},{ours.get('df2')}) = {fmt(ours.get('F'), 2)}, p = {fmt(ours.get('p'))}"
                     if ours else "n/a", why))
    check = table1_unit_check(ns=(144, 720), tails=(1, 2)).set_index(["n", "tails"])
    p_att = float(ss.f.sf(2.41, 2, 147))
    rows += [
        ("paper: ANOVA arousal by attitude", "F(2,147) = 2.41, p = 0.786", f"F(2,147) = 2.41 gives p = {p_att:.3f}",
         "the printed p does not follow from the printed F (valence's F = 2.44 gives its printed p = 0.091)"),
        ("paper: unit of Table 1", "n not stated", f"n = 144 fits {check.loc[(144, 2), 'matches']} of 27 stars, "
         f"n = 720 fits {check.loc[(720, 2), 'matches']}", "the stars imply one mean per layer (n = 144), so we use UNIT = layer"),
        ("paper: Table 1 stars, test", "not stated", f"one-tailed at n = 144: {check.loc[(144, 1), 'matches']} of 27; "
         f"two-tailed: {check.loc[(144, 2), 'matches']} of 27", "Brightness/Arousal r = 0.204 is ** only one-tailed "
         "(two-tailed p = 0.014); our tests are two-tailed"),
        ("paper: R^2 implied by Table 1", "0.37 / 0.033 (arousal / valence)",
         f"{table1_implied_r2()['arousal']:.2f} / {table1_implied_r2()['valence']:.2f}",
         "r' R^-1 r from Table 1's correlations of hue, CFC, CSE; the printed R^2 cannot come from the same means"),
        ("paper: layer mixed3d_5x5_pre_relu", "named in O1 (arousal)", "read as mixed4d_5x5_pre_relu",
         "InceptionV1 has no mixed3d (mixed3a-b, 4a-e, 5a-b)"),
        ("paper: network name", "Inception-V3", "InceptionV1 (inception5h)", "the 144 layer names are GoogLeNet's"),
    ]
    return pd.DataFrame(rows, columns=["quantity", "paper", "ours", "why they differ"])


def _finite(obj):
    """NaN/inf -> None, recursively, so the JSON is strict."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def layer_key_numbers(tests, groups, joint, cases, corners) -> dict:
    """Notebook 04's numbers for ``p1-key-numbers.json``: significant layers, group tests, density cases."""
    sig = tests[tests["significant"]]
    return _finite({
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


# ---------------------------------------------------------------------------------------------
# beyond the paper: mixed model, effect sizes, sensitivity to the correction, power
# ---------------------------------------------------------------------------------------------
def with_features(ratings, features, *, columns=None):
    """Each rating joined with its image's features (study form: on layer, seed; general form: stimulus id)."""
    f = _ok(features)
    columns = [c for c in (columns or FEATURES) if c in f.columns]
    if "stimulus" in ratings.columns:
        if "stimulus" not in f.columns and "path" in f.columns:
            f = f.rename(columns={"path": "stimulus"})
        keys = ["stimulus"]
    else:
        keys = ["layer", "seed"]
    per = f[keys + columns].drop_duplicates(keys)
    return ratings.drop(columns=[c for c in columns if c in ratings.columns]).merge(per, on=keys, how="inner",
                                                                                     validate="many_to_one")


def mixed_model(ratings, features=None, *, response: str = "arousal", terms=SELECTED, nested_in="layer",
                standardise: bool = False, reml: bool = True, engine: str = "auto"):
    """Crossed random-effects model: rating ~ features + (1 | participant) + (1 | stimulus) [+ (1 | layer)].

    Every participant rates every image, so ratings share both a person and an image; a per-layer
    OLS of means ignores both. Fitted with statsmodels ``MixedLM`` as variance components
    (statsmodels' documented route for crossed effects: one group holding all rows, one variance
    component per factor, here with sparse indicator matrices). With ``nested_in`` (default
    "layer", when the ratings have that column) a layer component is added: stimuli nested in
    layers, since stimulus ids are unique across layers.

    Args:
        ratings: long ratings (either form; see :mod:`helpers.ratings`).
        features: per-image features (notebook 02) joined by :func:`with_features`; ``None``
            when the ``terms`` columns are already in ``ratings``.
        response: "arousal" or "valence".
        terms: fixed-effect columns (default the paper's selected model).
        nested_in: grouping column that stimuli are nested in, or None.
        standardise: z-score the terms over the rated images first (coefficients per sd).
        reml: REML (default) or maximum likelihood.
        engine: "statsmodels" (``MixedLM``), "crossprod" (the same model and estimator from the
            data's cross-products, :func:`_lmm_crossprod`: seconds for the study's 150 x 720
            ratings, where MixedLM's per-row work takes far longer) or "auto" (statsmodels up to
            4 million rows x random-effect levels, else crossprod).

    Returns:
        tidy DataFrame: kind ("fixed" or "variance"), term (fixed term, or the variance
        component: participant, stimulus, layer, residual), estimate, se, z, p, ci_low, ci_high
        (95 %, Wald; variance rows: estimate and sd only), and n, n_participants, n_stimuli,
        response, converged, method ("statsmodels MixedLM, variance components, REML").
    """
    import warnings

    import pandas as pd
    import statsmodels.api as sm
    from scipy import sparse
    from statsmodels.regression.mixed_linear_model import MixedLM, VCSpec

    from helpers import ratings as rt

    terms = list(terms)
    data = with_features(ratings, features, columns=terms) if features is not None else ratings
    data = data.dropna(subset=[response, *terms]).reset_index(drop=True)
    stim = rt.stimulus_ids(data)
    X = data[terms].astype(float)
    if standardise:
        per = X.groupby(stim.to_numpy()).first()
        X = (X - per.mean()) / per.std(ddof=0).replace(0, 1)
    X = sm.add_constant(X, has_constant="add")
    factors = {"participant": data["participant"].astype(str), "stimulus": stim}
    if nested_in and nested_in in data.columns and 1 < data[nested_in].nunique() < stim.nunique():
        factors[nested_in] = data[nested_in].astype(str)  # (one image per group: the group is the stimulus, left out)
    n = len(data)
    names, colnames, mats = [], [], []
    for name, values in factors.items():
        codes, levels = pd.factorize(values, sort=True)
        names.append(name)
        colnames.append([[str(v) for v in levels]])
        mats.append([sparse.csr_matrix((np.ones(n), (np.arange(n), codes)), shape=(n, len(levels)))])
    y = data[response].astype(float).to_numpy()
    q = sum(m[0].shape[1] for m in mats)
    if engine == "auto":
        engine = "statsmodels" if n * q <= 4_000_000 else "crossprod"
    if engine == "statsmodels":
        model = MixedLM(y, X, groups=np.zeros(n), exog_vc=VCSpec(names, colnames, mats))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit = model.fit(reml=reml, method=["lbfgs"])
        converged = bool(getattr(fit, "converged", True)) and not any("converge" in str(w.message).lower() for w in caught)
        est = dict(fe=fit.fe_params.to_numpy(), se=fit.bse_fe.to_numpy(), vcomp=np.atleast_1d(fit.vcomp), scale=float(fit.scale))
        label = "statsmodels MixedLM, variance components"
    elif engine == "crossprod":
        est = _lmm_crossprod(y, X.to_numpy(float), [m[0] for m in mats], reml=reml)
        converged = est["converged"]
        label = "variance components fitted from cross-products (Henderson's equations; agrees with statsmodels MixedLM, tested)"
    else:
        raise ValueError(f"mixed_model: engine must be 'auto', 'statsmodels' or 'crossprod', got {engine!r}")
    from scipy import stats as ss

    zcrit = ss.norm.ppf(0.975)
    base = dict(n=n, n_participants=int(factors["participant"].nunique()), n_stimuli=int(stim.nunique()),
                response=response, converged=converged, method=f"{label}, {'REML' if reml else 'ML'}")
    rows = []
    for j, term in enumerate(X.columns):
        b, se = float(est["fe"][j]), float(est["se"][j])
        rows.append(dict(kind="fixed", term=term, estimate=b, se=se, z=b / se, p=float(2 * ss.norm.sf(abs(b / se))),
                         ci_low=b - zcrit * se, ci_high=b + zcrit * se, **base))
    for name, var in zip(names, est["vcomp"]):
        rows.append(dict(kind="variance", term=name, estimate=float(var), sd=float(np.sqrt(max(var, 0.0))), **base))
    rows.append(dict(kind="variance", term="residual", estimate=est["scale"], sd=float(np.sqrt(est["scale"])), **base))
    return pd.DataFrame(rows)


def _lmm_crossprod(y, X, Zs, *, reml: bool = True) -> dict:
    """Variance-components LMM y = X b + sum_j Z_j u_j + e from cross-products only.

    With u_j ~ N(0, s2 g_j I) and e ~ N(0, s2 I), the (restricted) likelihood depends on the data only
    through X'X, X'Z, Z'Z, X'y, Z'y and y'y (Henderson's mixed-model equations; Woodbury for the
    determinants), so a fit costs a few Cholesky factorisations of a (p + q)-square matrix per
    evaluation however many ratings there are. The log ratios g_j are optimised with L-BFGS-B
    (s2 and b profiled out); Cov(b) = s2 [C^-1]_bb as in statsmodels.
    """
    from scipy import linalg, optimize, sparse

    n, p = X.shape
    Z = sparse.hstack(Zs).tocsc()
    sizes = [z.shape[1] for z in Zs]
    which = np.repeat(np.arange(len(Zs)), sizes)
    ZtZ = (Z.T @ Z).toarray()
    XtZ = np.asarray((Z.T @ X).T)
    XtX, Xty, Zty, yty = X.T @ X, X.T @ y, np.asarray(Z.T @ y).ravel(), float(y @ y)
    m = p + ZtZ.shape[0]
    top = np.hstack([XtX, XtZ])
    rhs = np.concatenate([Xty, Zty])
    dof = n - p if reml else n

    def parts(theta):
        g = np.exp(theta)[which]
        C = np.vstack([top, np.hstack([XtZ.T, ZtZ + np.diag(1.0 / g)])])
        L = linalg.cho_factor(C, lower=True, check_finite=False)
        sol = linalg.cho_solve(L, rhs, check_finite=False)
        rss = max(yty - sol @ rhs, 1e-300)
        s2 = rss / dof
        logdet_c = 2.0 * np.log(np.diag(L[0])).sum()
        logdet_g = np.log(g).sum()
        if reml:
            obj = dof * np.log(s2) + logdet_g + logdet_c
        else:  # ML: log|H| = log|G| + log|Z'Z + G^-1|
            Lz = linalg.cho_factor(ZtZ + np.diag(1.0 / g), lower=True, check_finite=False)
            obj = n * np.log(s2) + logdet_g + 2.0 * np.log(np.diag(Lz[0])).sum()
        return obj, s2, sol, L

    def f(theta):
        try:
            return parts(theta)[0]
        except linalg.LinAlgError:
            return np.inf

    start = np.zeros(len(Zs))
    res = optimize.minimize(f, start, method="L-BFGS-B", bounds=[(-18.0, 8.0)] * len(Zs))
    _, s2, sol, L = parts(res.x)
    cinv_bb = linalg.cho_solve(L, np.eye(m)[:, :p], check_finite=False)[:p]
    return dict(fe=sol[:p], se=np.sqrt(np.diag(s2 * cinv_bb)), vcomp=s2 * np.exp(res.x), scale=float(s2),
                converged=bool(res.success))


def _dz_ci(t, n, level: float = 0.95):
    """Exact CIs of Cohen's d_z from the noncentral t (Steiger & Fouladi 1997), vectorised over tests.

    For each observed t with n - 1 degrees of freedom, the noncentrality parameters whose
    distributions put t at the upper and lower ``(1 - level) / 2`` quantiles, found by bisection
    (60 halvings of a bracket several sds wide), divided by sqrt(n). NaN where t is not finite.
    """
    from scipy import stats as ss

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
    """
    import pandas as pd
    from scipy import stats as ss

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
    """
    import pandas as pd
    from statsmodels.stats.multitest import multipletests

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


def power_analysis(features, *, effect: float = 10.0, axis: str = "valence", layer=None,
                   n_participants=(5, 10, 20, 40), n_sims: int = 20, alpha: float = 0.05, test: str = "wilcoxon",
                   correction: str = "fdr_bh", target_power: float = 0.8, seed: int = 0, progress: bool = True,
                   **simulate_kwargs):
    """Power to detect one layer's effect, from the simulator (:func:`helpers.ratings.simulate`).

    For each number of participants, ``n_sims`` data sets are simulated with ``effect`` rating
    points planted on ``layer`` (default: the first layer of ``features``) on ``axis`` and
    nothing else planted (no other layer, group or bimodal effects; the simulator's random
    layer, image, participant and noise terms stay). Each is analysed as Figure 10 is
    (:func:`layer_tests` over every layer and both axes, corrected together); power is the
    share of data sets where the layer is significant in the planted direction. Ratings are not
    rounded here (``round_to=None``; with ties scipy's small-sample Wilcoxon falls back to a
    permutation test, 100x slower); pass ``round_to=1.0`` to simulate whole slider steps.

    Returns:
        (table, summary): table has one row per n_participants: power, its binomial standard
        error, n_sims, the mean true deviation of the layer from 50 in the simulations
        (planted effect plus the random layer term); summary is a dict with ``n_for_power``
        (the smallest tried n reaching ``target_power``, or None) and the settings.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    from helpers import ratings as rt

    layer = layer or str(features["layer"].iloc[0])
    simulate_kwargs.setdefault("round_to", None)  # unrounded: no ties, so scipy's Wilcoxon stays exact and fast
    planted = {a: {} for a in AXES}
    planted[axis][layer] = float(effect)
    rows = []
    bar = tqdm(total=len(n_participants) * n_sims, desc="power simulations", disable=not progress)
    for n in n_participants:
        hits, dev = 0, []
        for k in range(n_sims):
            sim = rt.simulate(features, n_participants=int(n), seed=seed * 100003 + k * 1009 + int(n),
                              layer_effects=planted, group_effects={}, bimodal={}, neutral_layers=(), **simulate_kwargs)
            tests = layer_tests(sim.ratings, test=test, correction=correction, alpha=alpha)
            row = tests[(tests["axis"] == axis) & (tests["layer"] == layer)].iloc[0]
            want = "higher" if effect > 0 else "lower"
            hits += bool(row["significant"] and row["direction"] == want)
            dev.append(sim.truth["expected_layer_mean"][axis][layer] - 50.0)
            bar.update()
        p = hits / n_sims
        rows.append(dict(n_participants=int(n), power=p, se=np.sqrt(p * (1 - p) / n_sims), n_sims=n_sims,
                         planted_effect=float(effect), mean_true_deviation=float(np.mean(dev)), axis=axis, layer=layer))
    bar.close()
    table = pd.DataFrame(rows)
    reached = table.loc[table["power"] >= target_power, "n_participants"]
    summary = {"n_for_power": int(reached.iloc[0]) if len(reached) else None, "target_power": target_power,
               "effect": float(effect), "axis": axis, "layer": layer, "alpha": alpha, "test": test,
               "correction": correction, "n_sims": n_sims, "n_layers": int(features["layer"].nunique())}
    return table, summary


def mixed_models(ratings, features=None, *, responses=AXES, **kwargs):
    """:func:`mixed_model` for each response (arousal, valence), stacked in one tidy table."""
    import pandas as pd

    return pd.concat([mixed_model(ratings, features, response=r, **kwargs) for r in responses], ignore_index=True)


def mixed_vs_regression(mixed, regression_table, *, model: str = "selected"):
    """The mixed model's fixed effects beside the paper's layer-mean OLS (:func:`regression`), per term.

    Returns:
        DataFrame: response, term, ols_coef, ols_se, ols_p, mixed_coef, mixed_se, mixed_p, se_ratio
        (mixed / OLS; both in rating points per raw feature unit).
    """
    fixed = mixed[mixed["kind"] == "fixed"][["response", "term", "estimate", "se", "p"]]
    fixed = fixed.rename(columns={"estimate": "mixed_coef", "se": "mixed_se", "p": "mixed_p"})
    ols = regression_table[regression_table["model"] == model][["response", "term", "coef", "se", "p"]]
    ols = ols.rename(columns={"coef": "ols_coef", "se": "ols_se", "p": "ols_p"})
    out = ols.merge(fixed, on=["response", "term"], how="outer")
    out["se_ratio"] = out["mixed_se"] / out["ols_se"]
    return out

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


def image_means(ratings, features=None, *, unit: str = "layer"):
    """Mean arousal and valence per image (``unit="image"``) or per layer (``unit="layer"``).

    Args:
        ratings: long ratings (participant, layer, seed, arousal, valence).
        features: optional per-image features; averaged the same way and joined.
        unit: "image" (one row per layer x seed, n = 720 in the study) or "layer"
            (images of a layer pooled, n = 144).

    Returns:
        DataFrame: layer[, seed], arousal, valence, n_ratings[, feature columns].
    """
    if unit not in ("image", "layer"):
        raise ValueError(f"unit must be 'image' or 'layer', got {unit!r}")
    keys = ["layer", "seed"] if unit == "image" else ["layer"]
    out = ratings.groupby(keys, sort=False)[list(AXES)].mean()
    out["n_ratings"] = ratings.groupby(keys, sort=False).size()
    out = out.reset_index()
    if features is not None:
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


def participant_layer_means(ratings):
    """Each participant's mean arousal and valence per layer (over the layer's images)."""
    return ratings.groupby(["layer", "participant"], sort=False)[list(AXES)].mean().reset_index()


def layer_tests(ratings, *, test: str = "wilcoxon", correction: str = "fdr_bh", alpha: float = 0.05,
                neutral: float = 50.0, layers=None):
    """Per-layer tests of arousal and valence against the neutral 50, corrected for 288 tests.

    The unit is the participant: each participant's mean over the layer's five images, so
    repeated images of one person do not count as independent. ``test="wilcoxon"``:
    two-sided one-sample Wilcoxon signed-rank test of (mean - 50) (scipy.stats.wilcoxon);
    ``test="t"``: one-sample t-test. The p-values of all layers and both axes are corrected
    together with ``statsmodels.stats.multitest.multipletests(method=correction)``
    (Benjamini-Hochberg by default).

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
    order = [n for n in (layers or dream.LAYERS) if n in set(ratings["layer"])]
    pos = {n: i for i, n in enumerate(dream.LAYERS)}
    pm = participant_layer_means(ratings)
    rows = []
    for axis in AXES:
        by_layer = dict(tuple(pm.groupby("layer", sort=False)[axis]))
        raw = dict(tuple(ratings.groupby("layer", sort=False)[axis]))
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


def joint_densities(ratings, *, bins: int = 101, bandwidth: float = 5.0, layers=None) -> dict:
    """``{layer: density}`` for every layer (study order), see :func:`joint_density`."""
    from helpers import dream

    groups = dict(tuple(ratings.groupby("layer", sort=False)))
    order = [n for n in (layers or dream.LAYERS) if n in groups]
    return {n: joint_density(groups[n]["arousal"], groups[n]["valence"], bins=bins, bandwidth=bandwidth) for n in order}


def joint_density_stats(ratings, *, densities=None, bins: int = 101, bandwidth: float = 5.0, alpha: float = 0.05):
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

    densities = densities or joint_densities(ratings, bins=bins, bandwidth=bandwidth)
    plm = participant_layer_means(ratings)
    centre = ratings.groupby("participant")[list(AXES)].mean()
    for axis in AXES:
        plm[axis] = plm[axis] - plm["participant"].map(centre[axis]).to_numpy() + ratings[axis].mean()
    pm = dict(tuple(plm.groupby("layer", sort=False)))
    raw = dict(tuple(ratings.groupby("layer", sort=False)))
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

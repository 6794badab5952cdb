"""Statistics of the emotion study (Paper 1): Table 1, regressions, ANOVAs, the key numbers and the paper beside ours.

Every function takes the ratings (long format, see :mod:`helpers.study.ratings`) and/or the image
features (notebook 02's ``features.parquet``) and returns a tidy DataFrame; notebooks only
display and plot. Libraries do the arithmetic: scipy.stats (Pearson), statsmodels (OLS, ANOVA, VIF).
The per-layer tests against neutral and their effect sizes are :mod:`helpers.study.effects`, the joint
densities :mod:`helpers.study.density`, the crossed mixed model :mod:`helpers.study.mixed`.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats as ss
from statsmodels.stats.anova import anova_lm
from statsmodels.stats.outliers_influence import variance_inflation_factor

from helpers import io
from helpers.study.ratings import AXES

FEATURES = {"hue": "Hue", "saturation": "Saturation", "brightness": "Brightness", "jpeg_bytes": "JPEG",
            "feature_congestion": "CFC", "subband_entropy": "CSE"}
"""Table 1's image features: column in features.parquet -> the paper's name."""
SELECTED = ("hue", "feature_congestion", "subband_entropy")
"""The paper's selected regression model (arousal R^2 = 0.37; valence R^2 = 0.033)."""
FULL = tuple(FEATURES)


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
    """The paper's Table 1 as a tidy DataFrame: row, col, paper_r, paper_stars (join on row, col).

    Used in: notebook 03 (Table 1, p1-expected-vs-paper.csv, p1-key-numbers.json).
    """
    return pd.DataFrame(PAPER_TABLE1, columns=["row", "col", "paper_r", "paper_stars"])


def table1_unit_check(ns=(144, 150, 720), tails=(2,)):
    """Which sample size (and test) do the paper's Table 1 stars imply? Stars recomputed from each printed r.

    For every n in ``ns`` and number of tails in ``tails`` (2: two-sided, 1: one-sided) the p
    of a Pearson r with n - 2 degrees of freedom is computed from the printed r, turned into
    stars and compared with the printed stars. At n = 144 a two-sided test matches 26 of 27
    cells (Brightness/Arousal r = 0.204 is printed ** but p = 0.014), a one-sided test all 27.

    Returns:
        DataFrame: n, tails, matches (cells whose stars agree, of 27), of, mismatched (list of cells).

    Used in: notebook 03.
    """
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

    Used in: notebook 03.
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
    """'***' for p < 0.001, '**' for p < 0.01, '*' for p < 0.05, '' otherwise (Table 1).

    Used in: notebook 03 (Table 1, p1-expected-vs-paper.csv, p1-key-numbers.json) through
        :func:`helpers.study.stats.correlations`.
    """
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""


def _ok(features):
    if "status" in features:
        bad = features["status"].ne("ok")
        if bad.any():
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
        warnings.warn(f"{len(unknown)} rated stimuli have no feature row (e.g. {unknown[:3]}); left out of feature analyses")
    if keys == ["stimulus"]:
        return per_stim
    desc = ratings[["stimulus", *keys]].drop_duplicates("stimulus")
    return desc.merge(per_stim, on="stimulus", how="inner").groupby(keys, sort=False)[cols].mean().reset_index()


def image_means(ratings, features=None, *, unit: str = "layer"):
    """Mean arousal and valence per image (``unit="image"``) or per layer (``unit="layer"``).

    Args:
        ratings: long ratings (participant, layer, seed, arousal, valence), or the general form
            with a ``stimulus`` column (:mod:`helpers.study.ratings`).
        features: optional per-image features; averaged the same way and joined (in the
            general form matched by stimulus id, the features' ``path`` or ``stimulus``).
        unit: "image" (one row per layer x seed, n = 720 in the study; per stimulus in the
            general form), "layer" (images of a layer pooled, n = 144), or the name of any
            descriptive column to pool by (e.g. "condition", "network").

    Returns:
        DataFrame: layer[, seed] (or the unit's column), arousal, valence, n_ratings[, feature columns].

    Used in: notebook 03 (Figure 7).
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

    Used in: notebook 03 (Table 1, p1-expected-vs-paper.csv, p1-key-numbers.json).
    """
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
    return pd.DataFrame(rows)


def correlation_matrix(table):
    """Table 1 laid out as in the paper (rows Hue..CSE, columns Arousal..CFC; strings with stars).

    Used in: notebook 03.
    """
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

    Used in: notebook 03 (p1-expected-vs-paper.csv, p1-key-numbers.json, p1-mixed-model.csv, p1-regression.csv).
    """
    models = models or {"selected": list(SELECTED), "full": list(FULL)}
    data = image_means(ratings, features, unit=unit)
    rows = []
    for response in responses:
        for name, terms in models.items():
            d = data[[response, *terms]].dropna()
            X = sm.add_constant(d[list(terms)].astype(float), has_constant="add")
            if len(d) <= X.shape[1]:
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
    """Each participant's mean arousal and valence over all images, with their covariates.

    Used in: notebook 03 through :func:`helpers.study.stats.anova`.
    """
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

    Used in: notebook 03 (Figure 8, Figure 9, p1-anova.csv, p1-expected-vs-paper.csv, p1-key-numbers.json).
    """
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


def key_numbers(regression_table, anova_table, correlation_table, ratings, *, truth=None) -> dict:
    """The numbers a reader or a test checks, as a JSON-friendly dict (notebook 03).

    Includes n (participants, ratings, layers, images), the unit, R^2 / adjusted R^2 / F / p of
    each regression, each ANOVA's F(df1, df2), p and eta^2, r(CFC, arousal), whether the
    ratings are simulated and, with ``truth``, whether each planted coefficient lies in the
    selected model's 95 % confidence interval.

    Used in: notebook 03 (p1-expected-vs-paper.csv, p1-key-numbers.json).
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
    return io.strict_json(out)


def paper_comparison(key: dict, correlation_table=None) -> "pd.DataFrame":  # noqa: F821
    """Notebook 03's "expected vs paper" table: the paper's number, ours, and why they differ.

    Args:
        key: :func:`key_numbers` output (this run's R^2, ANOVAs, whether simulated).
        correlation_table: :func:`correlations` output, for Table 1's arousal cells.

    Returns:
        DataFrame: quantity, paper, ours, why (one row per reported number, then the
        paper's own inconsistencies, which no data can remove).

    Used in: notebook 03 (p1-expected-vs-paper.csv).
    """
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

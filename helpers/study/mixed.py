"""The crossed mixed model of every rating: rating ~ features + (1 | participant) + (1 | stimulus) [+ (1 | layer)].

Moved unchanged from ``helpers/stats.py`` (its in-function imports are as they were); issue 21 rewrites it.
"""
from __future__ import annotations

import numpy as np

from helpers.study.ratings import AXES
from helpers.study.stats import FEATURES, SELECTED, _ok


def with_features(ratings, features, *, columns=None):
    """Each rating joined with its image's features (study form: on layer, seed; general form: stimulus id).

    Used in: notebooks 03 (p1-mixed-model.csv) and 08 (key-numbers.json, study/mixed-model.csv, study/power.csv)
        through :func:`helpers.study.mixed.mixed_models`.
    """
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
        ratings: long ratings (either form; see :mod:`helpers.study.ratings`).
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

    Used in: notebooks 03 (p1-mixed-model.csv) and 08 (key-numbers.json, study/mixed-model.csv, study/power.csv)
        through :func:`helpers.study.mixed.mixed_models`.
    """
    import warnings

    import pandas as pd
    import statsmodels.api as sm
    from scipy import sparse
    from statsmodels.regression.mixed_linear_model import MixedLM, VCSpec

    from helpers.study import ratings as rt

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


def mixed_models(ratings, features=None, *, responses=AXES, **kwargs):
    """:func:`mixed_model` for each response (arousal, valence), stacked in one tidy table.

    Used in: notebook 03 (p1-mixed-model.csv); notebook 08 (key-numbers.json, study/mixed-model.csv,
        study/power.csv).
    """
    import pandas as pd

    return pd.concat([mixed_model(ratings, features, response=r, **kwargs) for r in responses], ignore_index=True)


def mixed_vs_regression(mixed, regression_table, *, model: str = "selected"):
    """The mixed model's fixed effects beside the paper's layer-mean OLS (:func:`regression`), per term.

    Returns:
        DataFrame: response, term, ols_coef, ols_se, ols_p, mixed_coef, mixed_se, mixed_p, se_ratio
        (mixed / OLS; both in rating points per raw feature unit).

    Used in: notebook 03 (p1-mixed-model.csv).
    """
    fixed = mixed[mixed["kind"] == "fixed"][["response", "term", "estimate", "se", "p"]]
    fixed = fixed.rename(columns={"estimate": "mixed_coef", "se": "mixed_se", "p": "mixed_p"})
    ols = regression_table[regression_table["model"] == model][["response", "term", "coef", "se", "p"]]
    ols = ols.rename(columns={"coef": "ols_coef", "se": "ols_se", "p": "ols_p"})
    out = ols.merge(fixed, on=["response", "term"], how="outer")
    out["se_ratio"] = out["mixed_se"] / out["ols_se"]
    return out

"""The crossed mixed model of every rating: rating ~ features + (1 | participant) + (1 | stimulus) [+ (1 | layer)].

Fitted as lme4 fits it (the numerics: :mod:`helpers.study.lmm`), with lmerTest's Satterthwaite df beside
the z tests; statsmodels' MixedLM stays available as an engine. R's lme4 is the oracle of the tests
(tests/test_mixed_lme4.py through :mod:`helpers.testing.lme4`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from helpers.study import lmm
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


ENGINES = ("native", "statsmodels")
"""Fitting engines of :func:`mixed_model` ("auto" and the old "crossprod" name mean "native")."""


@dataclass
class Design:
    """One mixed model's data: response y, fixed-effect matrix X (with "const"), random-intercept factors.

    ``factors`` maps each grouping name (participant, stimulus[, layer]) to its labels per row, in the
    order of the random terms; ``data`` holds the same as a table (y, the terms, the factors) for R.

    Used in: notebooks 03 (p1-mixed-model.csv) and 08 (study/mixed-model.csv) through :func:`mixed_model`;
        helpers.testing.lme4, tests/test_mixed_lme4.py, benchmarks/mixed.py.
    """

    y: np.ndarray
    X: "pd.DataFrame"  # noqa: F821
    factors: dict
    response: str
    reml: bool = True

    @property
    def data(self):
        import pandas as pd

        return pd.concat([pd.Series(self.y, name="y"), self.X.drop(columns="const").reset_index(drop=True),
                          pd.DataFrame({k: np.asarray(v) for k, v in self.factors.items()})], axis=1)

    def problem(self) -> lmm.Problem:
        """The cross-products :func:`helpers.study.lmm.fit` works on (factor levels sorted, as lme4's).

        Used in: notebooks 03 and 08 through :func:`mixed_model`; tests/test_mixed.py, benchmarks/mixed.py.
        """
        import pandas as pd

        codes = {k: pd.factorize(pd.Series(v), sort=True)[0] for k, v in self.factors.items()}
        return lmm.Problem.from_data(self.y, self.X.to_numpy(float), codes, reml=self.reml)


def design(ratings, features=None, *, response: str = "arousal", terms=SELECTED, nested_in="layer",
           standardise: bool = False, reml: bool = True) -> Design:
    """The rows, fixed effects and grouping factors :func:`mixed_model` fits (arguments as there).

    Rows missing the response or a term are left out (missing ratings); a layer factor is added when
    ``nested_in`` names a column with more than one level and fewer levels than stimuli.

    Used in: notebooks 03 (p1-mixed-model.csv) and 08 (study/mixed-model.csv) through :func:`mixed_model`;
        tests/test_mixed_lme4.py, benchmarks/mixed.py.
    """
    import pandas as pd

    from helpers.study import ratings as rt

    terms = list(terms)
    if not terms:
        raise ValueError("mixed_model: terms is empty; give at least one fixed-effect column")
    data = with_features(ratings, features, columns=terms) if features is not None else ratings
    missing = [c for c in ("participant", response, *terms) if c not in data.columns]
    if missing:
        raise ValueError(f"mixed_model: the ratings{' joined with the features' if features is not None else ''} "
                         f"lack the columns {missing} (have {list(map(str, data.columns))})")
    for c in (response, *terms):
        if not pd.api.types.is_numeric_dtype(data[c]):
            bad = data[c][pd.to_numeric(data[c], errors="coerce").isna() & data[c].notna()]
            raise ValueError(f"mixed_model: column {c!r} must be numeric; row {bad.index[0]} holds {bad.iloc[0]!r}")
    data = data.dropna(subset=[response, *terms]).reset_index(drop=True)
    if len(data) == 0:
        raise ValueError(f"mixed_model: no row has both {response!r} and every term {terms}")
    stim = rt.stimulus_ids(data)
    X = data[terms].astype(float)
    if standardise:
        per = X.groupby(stim.to_numpy()).first()
        X = (X - per.mean()) / per.std(ddof=0).replace(0, 1)
    X.insert(0, "const", 1.0)
    factors = {"participant": data["participant"].astype(str).to_numpy(), "stimulus": stim.astype(str).to_numpy()}
    if nested_in and nested_in in data.columns and 1 < data[nested_in].nunique() < stim.nunique():
        factors[nested_in] = data[nested_in].astype(str).to_numpy()  # (one image per group: the group is the stimulus)
    for name, v in factors.items():
        if len(set(v)) < 2:
            raise ValueError(f"mixed_model: the factor {name!r} has {len(set(v))} level in the {len(data)} rows; a random "
                             "intercept needs at least 2")
    rank = np.linalg.matrix_rank(X.to_numpy())
    if rank < X.shape[1]:
        const = [t for t in terms if X[t].nunique() <= 1]
        raise ValueError(f"mixed_model: the fixed effects {list(X.columns)} are collinear (rank {rank})"
                         + (f"; constant: {const}" if const else ""))
    if len(data) <= X.shape[1] + 1:
        raise ValueError(f"mixed_model: {len(data)} rows for {X.shape[1]} fixed effects")
    return Design(y=data[response].astype(float).to_numpy(), X=X, factors=factors, response=response, reml=reml)


def mixed_model(ratings, features=None, *, response: str = "arousal", terms=SELECTED, nested_in="layer",
                standardise: bool = False, reml: bool = True, engine: str = "native"):
    """Crossed random-effects model: rating ~ features + (1 | participant) + (1 | stimulus) [+ (1 | layer)], as lme4.

    Every participant rates every image, so ratings share both a person and an image; a per-layer
    OLS of means ignores both. With ``nested_in`` (default "layer", when the ratings have that column) a
    layer component is added: stimuli nested in layers, since stimulus ids are unique across layers.
    The same model in R: ``lmer(rating ~ terms + (1 | participant) + (1 | stimulus) + (1 | layer))``.

    The native engine (default) minimises lme4's profiled REML (or ML) criterion over the relative
    standard deviations theta >= 0 (:mod:`helpers.study.lmm`: exact gradient and Hessian, projected Newton,
    three starts) and reports what lme4 and lmerTest report: fixed effects, their standard errors
    (sigma^2 (X'V^-1X)^-1 at the optimum), the criterion, a singular fit (a theta below 1e-4, lme4's
    ``isSingular``) and Satterthwaite degrees of freedom (lmerTest). Tests (tests/test_mixed_lme4.py)
    hold it to lme4 1.1-31's best fit on simulated designs: criterion 1e-6 relative, estimates 1e-4,
    standard errors 1e-3, df 1e-2.

    ``engine="statsmodels"`` fits MixedLM with crossed variance components (one group holding every
    row). It falls short of lme4: its default L-BFGS stops short of the optimum (up to 14 criterion units
    above it on benchmarks/mixed.py's test-size designs), it never reports a singular fit (it leaves
    variances well above 0 where lme4's are 0), its standard errors come from the full Hessian (up to 69 %
    off there), and its per-row work makes it slow at the study's size. Its ``criterion`` column is lme4's
    criterion at its variance ratios; df are not given.

    Args:
        ratings: long ratings (either form; see :mod:`helpers.study.ratings`).
        features: per-image features (notebook 02) joined by :func:`with_features`; ``None``
            when the ``terms`` columns are already in ``ratings``.
        response: "arousal" or "valence".
        terms: fixed-effect columns (default the paper's selected model).
        nested_in: grouping column that stimuli are nested in, or None.
        standardise: z-score the terms over the rated images first (coefficients per sd).
        reml: REML (default) or maximum likelihood.
        engine: "native" (default; "auto" and "crossprod" are other names for it) or "statsmodels".

    Returns:
        tidy DataFrame: kind ("fixed" or "variance"), term (fixed term, or the variance
        component: participant, stimulus, layer, residual), estimate, se, z, p, ci_low, ci_high
        (95 %, Wald), df_satterthwaite and p_satterthwaite (lmerTest's two-sided t test on those
        df); variance rows: estimate (variance), sd and theta (sd relative to the residual sd); and
        n, n_participants, n_stimuli, response, converged, singular, criterion (lme4's REMLcrit or
        deviance), method, fit_notes (one line a reader can take in: converged, singular and where).

    Used in: notebooks 03 (p1-mixed-model.csv) and 08 (key-numbers.json, study/mixed-model.csv, study/power.csv)
        through :func:`helpers.study.mixed.mixed_models`.
    """
    import pandas as pd
    from scipy import stats as ss

    engine = {"auto": "native", "crossprod": "native"}.get(engine, engine)
    if engine not in ENGINES:
        raise ValueError(f"mixed_model: engine must be 'native' or 'statsmodels', got {engine!r}")
    d = design(ratings, features, response=response, terms=terms, nested_in=nested_in, standardise=standardise,
               reml=reml)
    est = fit_design(d, engine=engine)
    zcrit = ss.norm.ppf(0.975)
    names = list(d.factors)
    base = dict(n=len(d.y), n_participants=int(len(set(d.factors["participant"]))),
                n_stimuli=int(len(set(d.factors["stimulus"]))), response=response, converged=est["converged"],
                singular=est["singular"], criterion=est["criterion"], method=est["method"], fit_notes=est["notes"])
    rows = []
    for j, term in enumerate(d.X.columns):
        b, se, df = float(est["beta"][j]), float(est["se"][j]), float(est["df"][j])
        rows.append(dict(kind="fixed", term=term, estimate=b, se=se, z=b / se, p=float(2 * ss.norm.sf(abs(b / se))),
                         ci_low=b - zcrit * se, ci_high=b + zcrit * se, df_satterthwaite=df,
                         p_satterthwaite=float(2 * ss.t.sf(abs(b / se), df)) if np.isfinite(df) else np.nan, **base))
    for name, var, th in zip(names, est["vcomp"], est["theta"]):
        rows.append(dict(kind="variance", term=name, estimate=float(var), sd=float(np.sqrt(max(var, 0.0))),
                         theta=float(th), **base))
    rows.append(dict(kind="variance", term="residual", estimate=est["sigma2"], sd=float(np.sqrt(est["sigma2"])), **base))
    return pd.DataFrame(rows)


def fit_design(d: Design, *, engine: str = "native", blas_threads: int | None = 1) -> dict:
    """Fit one :class:`Design`: beta, se, df (Satterthwaite), theta, vcomp, sigma2, criterion, singular, converged.

    ``blas_threads``: BLAS threads inside the fit (threadpoolctl; None leaves them as they are). The
    native fit's matrices are small (q x q, q the number of levels), where one thread is as fast on an idle
    machine and many times faster on a busy one (benchmarks/mixed.py on a 2-core VM shared with other
    jobs: 8 s against 127 s at the study's 150 x 720 ratings).

    Used in: notebooks 03 and 08 through :func:`mixed_model`; tests/test_mixed_lme4.py, benchmarks/mixed.py.
    """
    from threadpoolctl import threadpool_limits

    if blas_threads is not None:
        with threadpool_limits(limits=blas_threads, user_api="blas"):
            return fit_design(d, engine=engine, blas_threads=None)
    prob = d.problem()
    names = list(d.factors)
    if engine == "native":
        f = lmm.fit(prob)
        st = lmm.satterthwaite(prob, f.gamma)
        theta, converged = f.theta, f.converged
        method = "lme4's profiled criterion, projected Newton (helpers.study.lmm)"
        extra = dict(beta=st["beta"], se=st["se"], df=st["df"], sigma2=st["sigma2"], criterion=st["criterion"])
        why = "" if converged else f"did not converge ({f.message}); "
    elif engine == "statsmodels":
        sm_fit = _statsmodels(d)
        theta = np.sqrt(np.maximum(sm_fit["vcomp"] / sm_fit["scale"], 0.0))
        converged = sm_fit["converged"]
        method = "statsmodels MixedLM, variance components"
        extra = dict(beta=sm_fit["fe"], se=sm_fit["se"], df=np.full(len(sm_fit["fe"]), np.nan), sigma2=sm_fit["scale"],
                     criterion=lmm.criterion(prob, theta ** 2))
        why = "" if converged else "statsmodels reports no convergence; "
    else:
        raise ValueError(f"fit_design: engine must be one of {ENGINES}, got {engine!r}")
    singular = bool((theta < lmm.SINGULAR_TOL).any())
    at0 = [n for n, t in zip(names, theta) if t < lmm.SINGULAR_TOL]
    notes = why + (f"singular fit: {' and '.join(at0)} variance{'s' if len(at0) > 1 else ''} at 0 "
                   f"(theta < {lmm.SINGULAR_TOL:g}), as lme4 would report" if singular else
                   ("converged, " if converged else "") + "not singular")
    if engine == "statsmodels":
        notes += "; statsmodels: no singular check of its own, no Satterthwaite df"
    return dict(theta=theta, vcomp=extra["sigma2"] * theta ** 2, converged=bool(converged), singular=singular,
                method=f"{method}, {'REML' if d.reml else 'ML'}", notes=notes, **extra)


def _statsmodels(d: Design) -> dict:
    """statsmodels MixedLM with one variance component per factor (sparse indicators, one group)."""
    import warnings

    import pandas as pd
    from scipy import sparse
    from statsmodels.regression.mixed_linear_model import MixedLM, VCSpec

    n = len(d.y)
    names, colnames, mats = [], [], []
    for name, values in d.factors.items():
        codes, levels = pd.factorize(pd.Series(values), sort=True)
        names.append(name)
        colnames.append([[str(v) for v in levels]])
        mats.append([sparse.csr_matrix((np.ones(n), (np.arange(n), codes)), shape=(n, len(levels)))])
    model = MixedLM(d.y, d.X, groups=np.zeros(n), exog_vc=VCSpec(names, colnames, mats))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = model.fit(reml=d.reml, method=["lbfgs"])
    converged = bool(getattr(fit, "converged", True)) and not any("converge" in str(w.message).lower() for w in caught)
    return dict(fe=fit.fe_params.to_numpy(), se=fit.bse_fe.to_numpy(), vcomp=np.atleast_1d(fit.vcomp),
                scale=float(fit.scale), converged=converged)


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

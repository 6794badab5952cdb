"""The mixed model's numerics without R: lme4's criterion, its exact derivatives, bounds, closed forms, bad input.

R's lme4 itself is the oracle of tests/test_mixed_lme4.py; here the references are finite differences, the
criterion written out with n x n matrices (lme4's formula, not the Woodbury route the engine takes), and the
closed-form REML fit of a balanced one-way design (Searle, Casella and McCulloch 1992, Variance
Components, sec. 3.7 / 6.4: sigma^2 = MSW, sigma_a^2 = (MSB - MSW) / m, and the exact df a - 1 of the mean).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.nets import layers
from helpers.study import lmm, mixed, simulate


def _crossed(n_part=8, n_layers=4, n_seeds=3, seed=0, sds=(3.0, 1.0, 2.0), noise=4.0):
    """A small crossed design: participant x stimulus, stimuli nested in layers, two covariates."""
    rng = np.random.default_rng(seed)
    stim = [(layer, s) for layer in range(n_layers) for s in range(n_seeds)]
    rows = [(p, f"L{layer}", f"L{layer}s{s}") for p in range(n_part) for layer, s in stim]
    df = pd.DataFrame(rows, columns=["participant", "layer", "stimulus"])
    x = {s: rng.normal(size=2) for s in df["stimulus"].unique()}
    df["x1"] = [x[s][0] for s in df["stimulus"]]
    df["x2"] = [x[s][1] for s in df["stimulus"]]
    eff = {col: {v: rng.normal(0, sd) for v in df[col].unique()} for col, sd in zip(("participant", "stimulus", "layer"), sds)}
    df["y"] = (1 + 2 * df["x1"] - df["x2"] + sum(df[c].map(eff[c]) for c in eff) + rng.normal(0, noise, len(df)))
    df["participant"] = df["participant"].astype(str)
    return df


def _problem(df, reml=True, factors=("participant", "stimulus", "layer")):
    X = np.column_stack([np.ones(len(df)), df[["x1", "x2"]].to_numpy()])
    codes = {f: pd.factorize(df[f], sort=True)[0] for f in factors}
    return lmm.Problem.from_data(df["y"].to_numpy(), X, codes, reml=reml), X, codes


def _dense_criterion(y, X, codes, gamma, reml):
    """lme4's profiled criterion (Bates et al. 2015, eqs. 34, 41) with V = I + sum gamma_k Z_k Z_k' built in full."""
    n, p = X.shape
    V = np.eye(n)
    for g, c in zip(gamma, codes.values()):
        Z = np.eye(c.max() + 1)[c]
        V += g * Z @ Z.T
    Vi = np.linalg.inv(V)
    F = X.T @ Vi @ X
    b = np.linalg.solve(F, X.T @ Vi @ y)
    r2 = (y - X @ b) @ Vi @ (y - X @ b)
    N = n - p if reml else n
    return np.linalg.slogdet(V)[1] + (np.linalg.slogdet(F)[1] if reml else 0) + N * (1 + np.log(2 * np.pi * r2 / N))


@pytest.mark.parametrize("reml", [True, False])
def test_criterion_equals_lme4s_formula_written_out(reml):
    df = _crossed(n_part=5, n_layers=3, n_seeds=2)
    prob, X, codes = _problem(df, reml)
    for gamma in ([0.5, 0.1, 0.3], [2.0, 0.0, 1e-3], [0.0, 0.0, 0.0]):
        want = _dense_criterion(df["y"].to_numpy(), X, codes, gamma, reml)
        assert lmm.criterion(prob, gamma) == pytest.approx(want, rel=1e-12, abs=1e-9)


@pytest.mark.parametrize("reml", [True, False])
def test_gradient_and_hessian_equal_finite_differences(reml):
    prob, _, _ = _problem(_crossed(), reml)
    for gamma in (np.array([0.4, 0.07, 0.2]), np.array([1.3, 0.0, 0.05])):
        ev = lmm.evaluate(prob, gamma, order=2)
        h = 1e-5
        # forward differences (the bound at 0), second order: (-3 f0 + 4 f1 - f2) / 2h
        fd = np.array([(-3 * lmm.criterion(prob, gamma) + 4 * lmm.criterion(prob, gamma + h * e)
                        - lmm.criterion(prob, gamma + 2 * h * e)) / (2 * h) for e in np.eye(3)])
        np.testing.assert_allclose(ev["grad"], fd, rtol=1e-5, atol=1e-5 * np.abs(fd).max())
        fdh = np.array([(-3 * ev["grad"] + 4 * lmm.evaluate(prob, gamma + h * e, 1)["grad"]
                         - lmm.evaluate(prob, gamma + 2 * h * e, 1)["grad"]) / (2 * h) for e in np.eye(3)])
        np.testing.assert_allclose(ev["hess"], fdh, rtol=1e-4, atol=1e-5 * np.abs(fdh).max())
        assert np.allclose(lmm.evaluate(prob, gamma, order=1)["grad"], ev["grad"], rtol=1e-10)


@pytest.mark.parametrize("factors", [("participant", "stimulus", "layer"), ("layer", "participant"), ("stimulus",)])
@pytest.mark.parametrize("reml", [True, False])
def test_the_stimulus_elimination_equals_the_direct_q_by_q_route(reml, factors):
    """evaluate() eliminates the largest factor in closed form; _evaluate_dense() works with q x q matrices."""
    prob, _, _ = _problem(_crossed(), reml, factors)
    for gamma in ([0.4, 0.07, 0.2], [1.3, 0.0, 0.05], [0.0, 0.0, 0.0]):
        gamma = np.array(gamma[:len(factors)])
        a, b = lmm.evaluate(prob, gamma, order=2), lmm._evaluate_dense(prob, gamma, order=2)
        for key in ("criterion", "beta", "grad", "hess", "ZVX", "Zqy", "r2_hess", "logdet_hess"):
            np.testing.assert_allclose(a[key], b[key], rtol=1e-10, atol=1e-10 * np.abs(b[key]).max(), err_msg=key)


def _one_way(means_spread, seed=1, a=12, m=5):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(a), m)
    y = 10 + means_spread * rng.normal(size=a)[g] + rng.normal(size=a * m)
    return y, g, a, m


@pytest.mark.parametrize("spread", [2.0, 0.0])
def test_balanced_one_way_has_the_closed_form_reml_fit_and_df(spread):
    y, g, a, m = _one_way(spread)
    prob = lmm.Problem.from_data(y, np.ones((len(y), 1)), {"group": g})
    means = y.reshape(a, m).mean(1)
    msb = m * ((means - y.mean()) ** 2).sum() / (a - 1)
    msw = ((y.reshape(a, m) - means[:, None]) ** 2).sum() / (a * (m - 1))
    f = lmm.fit(prob)
    st = lmm.satterthwaite(prob, f.gamma)
    assert f.converged
    if msb > msw:  # interior: sigma^2 = MSW, sigma_a^2 = (MSB - MSW) / m, var(mean) = MSB / (a m), df = a - 1
        assert st["sigma2"] == pytest.approx(msw, rel=1e-8)
        assert f.gamma[0] * st["sigma2"] == pytest.approx((msb - msw) / m, rel=1e-7)
        assert st["se"][0] ** 2 == pytest.approx(msb / (a * m), rel=1e-8)
        assert st["df"][0] == pytest.approx(a - 1, rel=1e-7)
    else:  # at the bound: gamma exactly 0, the ordinary mean and its OLS SE, df n - 1
        assert f.gamma[0] == 0 and st["grad"][0] > 0
        assert st["se"][0] ** 2 == pytest.approx(y.var(ddof=1) / len(y), rel=1e-10)
        assert st["df"][0] == pytest.approx(len(y) - 1, rel=1e-8)


def test_a_start_at_the_bound_reaches_the_interior_optimum():
    """The issue's failure: an optimiser that starts (or lands) at the bound must not stop there."""
    prob, _, _ = _problem(_crossed(seed=3))
    best = lmm.fit(prob)
    assert best.converged and (best.gamma > 1e-3).all()
    for start in (np.zeros(3), np.full(3, 1e-8), np.full(3, 50.0)):
        f = lmm.fit(prob, starts=[start])
        assert f.converged, f.message
        np.testing.assert_allclose(f.gamma, best.gamma, rtol=1e-6)
        assert f.criterion == pytest.approx(best.criterion, rel=1e-12)
    assert all(ok for *_, ok, _ in best.starts) and len(best.starts) == 3


def test_a_singular_fit_is_at_zero_and_says_so():
    df = _crossed(seed=4, sds=(3.0, 0.0, 0.0))
    # no stimulus or layer variation at all beyond the covariates: centre the residual noise within stimuli
    resid = df["y"] - (1 + 2 * df["x1"] - df["x2"])
    df["y"] -= resid.groupby(df["stimulus"]).transform("mean")
    d = mixed.design(df, None, response="y", terms=["x1", "x2"], nested_in="layer")
    out = mixed.fit_design(d)
    theta = dict(zip(d.factors, out["theta"]))
    assert theta["stimulus"] == 0 and theta["layer"] == 0 and theta["participant"] > 0.1
    assert out["singular"] and out["converged"]
    assert "singular fit: stimulus and layer variances at 0" in out["notes"]
    table = mixed.mixed_model(df, None, response="y", terms=["x1", "x2"])
    assert table["singular"].all() and table["fit_notes"].str.contains("as lme4 would report").all()
    # the KKT conditions at the bound: gradient >= 0 for the gammas at 0, 0 for the free one
    st = lmm.satterthwaite(d.problem(), out["theta"] ** 2)
    assert (st["grad"][1:] >= 0).all() and abs(st["grad"][0]) < 1e-6


def test_mixed_model_table_columns_and_engines():
    sim = _crossed(n_part=10, n_layers=5, seed=7)
    a = mixed.mixed_model(sim, None, response="y", terms=["x1", "x2"])
    for col in ("singular", "criterion", "converged", "df_satterthwaite", "p_satterthwaite", "fit_notes", "theta"):
        assert col in a.columns
    fixed = a[a["kind"] == "fixed"]
    assert fixed["df_satterthwaite"].between(1, len(sim)).all() and fixed["p_satterthwaite"].between(0, 1).all()
    assert (fixed["p_satterthwaite"] >= fixed["p"]).all()  # t tails are heavier than z tails
    assert set(a.loc[a["kind"] == "variance", "term"]) == {"participant", "stimulus", "layer", "residual"}
    b = mixed.mixed_model(sim, None, response="y", terms=["x1", "x2"], engine="statsmodels")
    assert b["criterion"].iloc[0] >= a["criterion"].iloc[0] - 1e-9 * abs(a["criterion"].iloc[0])
    assert b["df_satterthwaite"].isna().all() and "statsmodels" in b["fit_notes"].iloc[0]
    c = mixed.mixed_model(sim, None, response="y", terms=["x1", "x2"], engine="crossprod")  # the old name: native
    pd.testing.assert_frame_equal(a, c)


@pytest.mark.parametrize("change, words", [
    (lambda d: d.drop(columns="x2"), ["lack the columns", "'x2'"]),
    (lambda d: d.assign(y=d["y"].astype(str).where(d.index != 5, "high")), ["'y' must be numeric", "row 5", "'high'"]),
    (lambda d: d.assign(participant="p1"), ["factor 'participant'", "1 level"]),
    (lambda d: d.assign(x2=2 * d["x1"]), ["collinear", "rank 2"]),
    (lambda d: d.assign(x2=1.0), ["collinear", "constant: ['x2']"]),
    (lambda d: d.assign(y=np.nan), ["no row has both 'y'"]),
])
def test_bad_input_gets_a_clear_error(change, words):
    with pytest.raises(ValueError) as err:
        mixed.mixed_model(change(_crossed()), None, response="y", terms=["x1", "x2"])
    for w in words:
        assert w in str(err.value), str(err.value)
    with pytest.raises(ValueError, match="engine must be 'native' or 'statsmodels', got 'lbfgs'"):
        mixed.mixed_model(_crossed(), None, response="y", terms=["x1", "x2"], engine="lbfgs")


def test_missing_ratings_are_left_out_and_the_fit_uses_the_rest():
    rng = np.random.default_rng(2)
    feats = pd.DataFrame([dict(layer=layer, seed=s, hue=rng.uniform(), feature_congestion=rng.normal(3, 1),
                               subband_entropy=rng.normal(3, 0.5)) for layer in layers.LAYERS[:6] for s in range(2)])
    sim = simulate.ratings(feats, n_participants=8, seed=1, round_to=None, layer_effects={}, group_effects={}, bimodal={},
                           neutral_layers=())
    r = sim.ratings.copy()
    r.loc[r.index[::7], "arousal"] = np.nan
    fit = mixed.mixed_model(r, feats, response="arousal")
    assert fit["n"].iloc[0] == r["arousal"].notna().sum() and fit["converged"].all()

"""Analyses beside the paper's: mixed model (recovers the simulator's planted truth), effect sizes, sensitivity, power."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.nets import layers
from helpers.study import effects, mixed, simulate, stats


@pytest.fixture(scope="module")
def features():
    rng = np.random.default_rng(3)
    return pd.DataFrame([dict(layer=layer, seed=s, hue=rng.uniform(0, 1), feature_congestion=rng.normal(3, 1),
                              subband_entropy=rng.normal(3, 0.5), status="ok")
                         for layer in layers.LAYERS[:24] for s in range(3)])


@pytest.fixture(scope="module")
def clean_sim(features):
    # only what the mixed model models: feature slopes + random participant, layer, image, noise terms
    # explicit slopes and variance components (the simulator's defaults are calibrated to the paper's small effects,
    # which put the layer and image variances at the boundary where no REML engine pins them down)
    return simulate.ratings(features, n_participants=30, seed=5, layer_effects={}, group_effects={}, bimodal={},
                            neutral_layers=(), round_to=None, r2=None,
                            coefficients={"arousal": {"hue": 6.0, "feature_congestion": 4.0, "subband_entropy": -3.0},
                                          "valence": {"hue": 1.0, "feature_congestion": -0.5, "subband_entropy": 0.5}},
                            layer_sd=3.0, image_sd=1.5, participant_sd=7.0, noise_sd=14.0)


@pytest.mark.parametrize("axis", ["arousal", "valence"])
def test_mixed_model_recovers_planted_effects(clean_sim, features, axis):
    truth = clean_sim.truth
    fit = mixed.mixed_model(clean_sim.ratings, features, response=axis)
    fixed = fit[fit["kind"] == "fixed"].set_index("term")
    for term, planted in truth["coefficients"][axis].items():
        est, se = fixed.loc[term, "estimate"], fixed.loc[term, "se"]
        assert abs(est - planted) < 3.5 * se, f"{axis}/{term}: {est:.2f} +- {se:.2f} vs planted {planted:.2f}"
    assert abs(fixed.loc["const", "estimate"] - (truth["intercept"][axis]
                                                - sum(b * truth["feature_mean"][f] for f, b in truth["coefficients"][axis].items()))) \
        < 3.5 * fixed.loc["const", "se"]
    var = fit[fit["kind"] == "variance"].set_index("term")["sd"]
    sd = truth["sd"]
    assert var["residual"] == pytest.approx(sd["noise"], rel=0.05)
    assert var["participant"] == pytest.approx(sd["participant"], rel=0.5)
    assert var["layer"] < 3 * sd["layer"] and var["stimulus"] < 3 * sd["image"]
    assert fit["converged"].all() and fit["n_stimuli"].iloc[0] == len(features)


def test_mixed_model_standard_errors_are_honest_where_ols_of_ratings_is_not(clean_sim, features):
    """Treating 30 x 72 ratings as independent gives the slope a smaller SE than the crossed model."""
    import statsmodels.formula.api as smf

    fit = mixed.mixed_model(clean_sim.ratings, features, response="arousal").set_index("term")
    data = mixed.with_features(clean_sim.ratings, features)
    ols = smf.ols("arousal ~ hue + feature_congestion + subband_entropy", data).fit()
    assert fit.loc["feature_congestion", "se"] > 1.1 * ols.bse["feature_congestion"]


def test_effect_size_intervals(clean_sim):
    es = effects.layer_effect_sizes(clean_sim.ratings)
    assert len(es) == 2 * 24
    ok = es.dropna(subset=["d_ci_low"])
    assert (ok["d_ci_low"] < ok["d_z"]).all() and (ok["d_z"] < ok["d_ci_high"]).all()
    assert (ok["mean_ci_low"] < ok["mean_diff"]).all() and (ok["r_ci_low"] <= ok["rank_biserial"]).all()
    # the exact d_z interval: a one-sample t test's CI of the mean excludes 0 exactly when d's does
    agree = (ok["mean_ci_low"] > 0) == (ok["d_ci_low"] > 0)
    assert agree.all()


def test_correction_sensitivity_is_monotone(features):
    sim = simulate.ratings(features, n_participants=25, seed=2, round_to=None)
    tests = effects.layer_tests(sim.ratings)
    summary, detail = effects.correction_sensitivity(tests)
    n = summary.groupby("correction")["n_significant"].sum()
    assert n["Bonferroni over all tests"] <= n["BH over all tests"] <= n["none"]
    assert n["Bonferroni over all tests"] <= n["BH per axis"] <= n["none"]  # per axis may find more or fewer than over all
    assert summary["n_tests"].sum() == 4 * 2 * 24
    bh = detail[detail["correction"] == "BH over all tests"].set_index(["axis", "layer"])["significant"]
    assert bh.equals(tests.set_index(["axis", "layer"])["significant"].rename("significant"))


def test_power_rises_with_participants(features):
    table, summary = simulate.power_analysis(features.query("seed < 2"), effect=14.0, axis="valence",
                                          n_participants=(4, 24), n_sims=6, progress=False)
    assert table["power"].iloc[0] < table["power"].iloc[1]
    assert table["power"].iloc[1] >= 0.8 and summary["n_for_power"] == 24
    assert summary["layer"] == layers.LAYERS[0] and (table["n_sims"] == 6).all()


def test_mixed_vs_regression_table(clean_sim, features):
    mm = mixed.mixed_models(clean_sim.ratings, features)
    reg = stats.regression(clean_sim.ratings, features, unit="layer", models={"selected": list(stats.SELECTED)})
    side = mixed.mixed_vs_regression(mm, reg)
    assert set(side["response"]) == {"arousal", "valence"} and len(side) == 8
    assert side[["ols_coef", "mixed_coef", "se_ratio"]].notna().all().all()


def test_native_engine_equals_statsmodels_where_both_converge(clean_sim, features):
    a = mixed.mixed_model(clean_sim.ratings, features, response="arousal", engine="statsmodels").set_index("term")
    b = mixed.mixed_model(clean_sim.ratings, features, response="arousal", engine="native").set_index("term")
    assert b["converged"].all() and not b["singular"].any()
    np.testing.assert_allclose(b["estimate"], a["estimate"], rtol=2e-3, atol=2e-3)
    fixed = a["kind"] == "fixed"
    np.testing.assert_allclose(b.loc[fixed, "se"], a.loc[fixed, "se"], rtol=2e-3)
    assert b["criterion"].iloc[0] <= a["criterion"].iloc[0] + 1e-9  # lme4's criterion: native at its minimum


def test_mixed_model_leaves_out_a_layer_factor_that_equals_the_stimulus(features):
    one = features[features["seed"] == 0]  # one image per layer (the smoke profile's shape)
    sim = simulate.ratings(one, n_participants=6, seed=1, round_to=None)
    fit = mixed.mixed_model(sim.ratings, one, response="valence")
    assert set(fit.loc[fit["kind"] == "variance", "term"]) == {"participant", "stimulus", "residual"}

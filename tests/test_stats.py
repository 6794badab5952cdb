"""Statistics: recover the simulation's planted effects and agree with independent computations."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as ss

from helpers.nets import layers
from helpers.study import simulate
from helpers.study import density, effects, stats
from test_ratings import synthetic_features


@pytest.fixture(scope="module")
def features():
    return synthetic_features()


@pytest.fixture(scope="module")
def sim(features):
    return simulate.ratings(features, n_participants=150, seed=0)


@pytest.fixture(scope="module")
def jd(sim):
    return density.joint_density_stats(sim.ratings, bins=51, bandwidth=5.0)


@pytest.mark.parametrize("n_seeds, unit", [(5, "layer"), (1, "layer"), (1, "image")])  # paper, smoke/class sizes
def test_regression_recovers_the_planted_estimand(n_seeds, unit):
    """Every estimate within its 95 % CI of the estimand (the planted coefficients plus the layer effects' projection)."""
    f = synthetic_features(n_seeds=n_seeds)
    zs = []
    for seed in (0, 1, 2):
        s = simulate.ratings(f, n_participants=150, seed=seed)
        reg = stats.regression(s.ratings, f, unit=unit)
        for model in ("selected", "full"):
            sel = reg[(reg.model == model) & (reg.term != "const")].set_index(["response", "term"])
            for axis, coefs in s.truth["estimand"][unit][model].items():
                for term, beta in coefs.items():
                    if term != "const":
                        zs.append((sel.loc[(axis, term), "coef"] - beta) / sel.loc[(axis, term), "se"])
    zs = np.array(zs)
    # the estimand is conditional on the drawn layer effects, which the OLS standard errors also count: |z| < 1.96 always
    assert np.abs(zs).max() < 1.96 and abs(zs.mean()) < 0.3, zs.round(2)


def test_regression_recovers_planted_coefficients(sim, features):
    reg = stats.regression(sim.ratings, features, unit="layer")
    sel = reg[(reg.model == "selected") & (reg.term != "const")].set_index(["response", "term"])
    for axis in ("arousal", "valence"):
        for term, beta in sim.truth["estimand"]["layer"]["selected"][axis].items():
            if term == "const":
                continue
            row = sel.loc[(axis, term)]
            assert row.ci_low <= beta <= row.ci_high, (axis, term, beta, row.ci_low, row.ci_high)
    assert sel.loc[("arousal", "feature_congestion"), "p"] < 0.001
    r2 = reg.groupby(["response", "model"])["r2"].first()
    assert 0.25 < r2["arousal", "selected"] < 0.5 and r2["valence", "selected"] < 0.12
    assert (reg.loc[reg.term != "const", "vif"] >= 1).all()


def test_regression_can_fail_on_wrong_truth(sim, features):
    reg = stats.regression(sim.ratings, features, unit="layer")
    row = reg[(reg.response == "arousal") & (reg.model == "selected") & (reg.term == "feature_congestion")].iloc[0]
    wrong = 2 * sim.truth["estimand"]["layer"]["selected"]["arousal"]["feature_congestion"]
    assert not row.ci_low <= wrong <= row.ci_high


def test_regression_matches_numpy_least_squares(sim, features):
    reg = stats.regression(sim.ratings, features, unit="image", responses=("arousal",), models={"m": ["hue", "subband_entropy"]})
    data = stats.image_means(sim.ratings, features, unit="image")
    X = np.c_[np.ones(len(data)), data[["hue", "subband_entropy"]].to_numpy()]
    y = data["arousal"].to_numpy()
    beta, res, *_ = np.linalg.lstsq(X, y, rcond=None)
    np.testing.assert_allclose(reg["coef"].to_numpy(), beta, rtol=1e-8)
    r2 = 1 - res[0] / ((y - y.mean()) ** 2).sum()
    assert reg["r2"].iloc[0] == pytest.approx(r2) and reg["n"].iloc[0] == len(sim.ratings[["layer", "seed"]].drop_duplicates())
    sigma2 = res[0] / (len(y) - 3)
    se = np.sqrt(np.diag(sigma2 * np.linalg.inv(X.T @ X)))
    np.testing.assert_allclose(reg["se"].to_numpy(), se, rtol=1e-8)
    # VIF of a term = 1 / (1 - R^2 of that term on the others)
    r = np.corrcoef(data["hue"], data["subband_entropy"])[0, 1]
    assert reg.loc[reg.term == "hue", "vif"].iloc[0] == pytest.approx(1 / (1 - r**2))


def test_correlations_match_numpy_and_t_distribution(sim, features):
    tab = stats.correlations(sim.ratings, features, unit="layer")
    assert len(tab) == 2 * 6 + 15 and set(tab["n"]) == {144} and (tab["unit"] == "layer").all()
    data = stats.image_means(sim.ratings, features, unit="layer")
    row = tab[(tab.row == "CFC") & (tab.col == "Arousal")].iloc[0]
    r = np.corrcoef(data["feature_congestion"], data["arousal"])[0, 1]
    t = r * np.sqrt(142 / (1 - r**2))
    assert row.r == pytest.approx(r) and row.p == pytest.approx(2 * ss.t.sf(abs(t), 142), rel=1e-6)
    assert row.cell == f"{r:.3f}{stats.stars(row.p)}"
    wide = stats.correlation_matrix(tab)
    assert list(wide.index) == ["Hue", "Saturation", "Brightness", "JPEG", "CFC", "CSE"]
    assert list(wide.columns) == ["Arousal", "Valence", "Hue", "Saturation", "Brightness", "JPEG", "CFC"]
    assert wide.loc["Hue", "Saturation"] == ""


def test_stars_thresholds():
    assert [stats.stars(p) for p in (0.2, 0.04, 0.009, 0.0009)] == ["", "*", "**", "***"]


def test_anova_matches_scipy_f_oneway(sim):
    tab = stats.anova(sim.ratings)
    pm = stats.participant_means(sim.ratings)
    for row in tab.itertuples():
        groups = [g[row.response].to_numpy() for _, g in pm.groupby(row.factor, observed=True)]
        f, p = ss.f_oneway(*groups)
        assert row.F == pytest.approx(f) and row.p == pytest.approx(p)
        grand = pm[row.response].mean()
        ssb = sum(len(g) * (g.mean() - grand) ** 2 for g in groups)
        assert row.eta2 == pytest.approx(ssb / ((pm[row.response] - grand) ** 2).sum())
    assert set(zip(tab.factor, tab.df1, tab.df2)) == {("attitude", 2, 147), ("self_esteem", 4, 145)}
    assert (tab["p"] > 0.001).all()  # nothing planted


def test_layer_tests_find_planted_non_neutral_and_spare_neutral(sim):
    lt = effects.layer_tests(sim.ratings)
    assert len(lt) == 288 and lt["p_adj"].ge(lt["p"]).all()
    for axis in ("arousal", "valence"):
        found = lt[(lt.axis == axis) & lt.significant].set_index("layer")
        for layer in sim.truth["non_neutral"][axis]:
            want = "higher" if sim.truth["expected_layer_mean"][axis][layer] > 50 else "lower"
            assert found.loc[layer, "direction"] == want, (axis, layer)
    neutral = lt[lt.layer.isin(sim.truth["neutral_layers"])]
    assert not neutral["significant"].any()


def test_layer_tests_match_scipy_and_bh(sim):
    lt = effects.layer_tests(sim.ratings, test="t")
    pm = sim.ratings[sim.ratings.layer == "mixed5a"].groupby("participant")["valence"].mean()
    row = lt[(lt.axis == "valence") & (lt.layer == "mixed5a")].iloc[0]
    assert row.p == pytest.approx(ss.ttest_1samp(pm, 50).pvalue)
    np.testing.assert_allclose(lt["p_adj"], np.minimum(ss.false_discovery_control(lt["p"], method="bh"), 1), rtol=1e-9)


def test_group_tests_recover_figure_11_directions(sim):
    g = effects.group_tests(sim.ratings)
    paired = g[g.test == "paired"].set_index("axis")
    assert paired.loc["arousal", "mean_a"] > paired.loc["arousal", "mean_b"] and paired.loc["arousal", "p"] < 1e-6
    assert paired.loc["valence", "mean_a"] > paired.loc["valence", "mean_b"] and paired.loc["valence", "p"] < 1e-6
    assert (g["cohen_d"] > 0).all() and (g["rank_biserial"] > 0).all()
    pooled = g[(g.test == "pooled") & (g.axis == "valence")].iloc[0]
    xa = sim.ratings.loc[sim.ratings.layer.isin(["conv2d0", "conv2d1", "conv2d2"]), "valence"]
    xb = sim.ratings.loc[sim.ratings.layer.isin(layers.layers_matching("mixed{N}{m}")), "valence"]
    assert pooled.p == pytest.approx(ss.mannwhitneyu(xa, xb).pvalue) and pooled.n_a == len(xa)


def test_joint_density_detects_planted_bimodal_layers(sim, jd):
    flagged = jd.set_index("layer")["bimodal"]
    for layer, axis in sim.truth["bimodal"].items():
        assert flagged[layer] == axis, (layer, axis, flagged[layer])
    assert (flagged != "none").sum() <= len(sim.truth["bimodal"]) + 2  # few false alarms
    cases = density.select_cases(jd).set_index("case")["layer"]
    inv = {v: k for k, v in sim.truth["bimodal"].items()}
    assert cases[4] == inv["valence"] and cases[5] == inv["arousal"] and cases[6] == inv["both"]
    assert cases.is_unique


def test_joint_density_normalised_entropy_and_corners():
    rng = np.random.default_rng(0)
    tight = density.joint_density(rng.normal(80, 2, 500).clip(0, 100), rng.normal(20, 2, 500).clip(0, 100), bins=51)
    wide = density.joint_density(rng.uniform(0, 100, 500), rng.uniform(0, 100, 500), bins=51)
    assert tight.sum() == pytest.approx(1) and tight.shape == (51, 51)
    assert density.entropy(tight) < density.entropy(wide) <= np.log2(51 * 51)
    iv, ia = np.unravel_index(tight.argmax(), tight.shape)  # rows valence, columns arousal
    assert abs(ia * 2 - 80) <= 4 and abs(iv * 2 - 20) <= 4
    p = wide.ravel()
    assert density.entropy(wide) == pytest.approx(ss.entropy(p, base=2))
    s = pd.DataFrame({"layer": ["a", "b", "c"], "median_arousal": [5.0, 95, 50], "median_valence": [95.0, 5, 52]})
    nc = density.nearest_corners(s).set_index("target")["layer"]
    assert nc["low arousal, high valence"] == "a" and nc["high arousal, low valence"] == "b" and len(nc) == 8


def test_nearest_corners_use_each_layer_once_and_twins_as_one():
    from helpers.nets import layers

    rng = np.random.default_rng(0)
    names = list(layers.LAYERS)
    s = pd.DataFrame({"layer": names, "median_arousal": rng.uniform(30, 70, 144), "median_valence": rng.uniform(30, 70, 144)})
    low = s.layer.isin(["conv2d0_pre_relu", "conv2d0"])
    s.loc[low, ["median_arousal", "median_valence"]] = [[2.0, 2.0], [3.0, 8.0]]  # twins, both nearest (0, 0) and (0, 50)
    nc = density.nearest_corners(s)
    assert nc["layer"].is_unique and nc["layer"].map(layers.layer_family).is_unique
    assert nc.set_index("target").loc["low arousal, low valence", "layer"] in ("conv2d0_pre_relu", "conv2d0")
    assert layers.layer_family("mixed4d_5x5_pre_relu") == "mixed4d_5x5" and layers.layer_family("mixed5a") == "mixed5a"


def test_select_cases_never_calls_an_unflagged_layer_bimodal(jd):
    none = jd.assign(bimodal="none")
    cases = density.select_cases(none).set_index("case")
    for c in (4, 5, 6):
        assert "not bimodal" in cases.loc[c, "reason"] and cases.loc[c, "bimodal"] == "none"
    assert cases["layer"].is_unique
    flagged = density.select_cases(jd).set_index("case")
    assert all(f"dip test: {flagged.loc[c, 'bimodal']}" in flagged.loc[c, "reason"] for c in (4, 5, 6))


def test_correlations_reject_bad_unit(sim, features):
    with pytest.raises(ValueError, match="unit"):
        stats.correlations(sim.ratings, features, unit="participant")


def test_paper_table1_implies_per_layer_unit():
    check = stats.table1_unit_check().set_index("n")
    assert check.loc[144, "matches"] == 26 and check.loc[720, "matches"] == 20
    assert len(stats.paper_table1()) == 27


def test_paper_table1_stars_fit_a_one_tailed_test_at_n144():
    check = stats.table1_unit_check(ns=(144,), tails=(1, 2)).set_index("tails")
    assert check.loc[1, "matches"] == 27 and check.loc[2, "matches"] == 26
    assert check.loc[2, "mismatched"] == "Brightness/Arousal 0.204**"


def test_paper_table1_implies_lower_r2_than_printed():
    implied = stats.table1_implied_r2()
    assert implied["arousal"] == pytest.approx(0.291, abs=0.001) and implied["valence"] == pytest.approx(0.050, abs=0.001)
    # independent check: the R^2 of an OLS on data drawn with exactly Table 1's correlation matrix
    names = ["Arousal", "Valence", "Hue", "CFC", "CSE"]
    cell = {(a, b): r for a, b, r, _ in stats.PAPER_TABLE1}
    C = np.array([[1.0 if a == b else cell.get((a, b), cell.get((b, a), 0.0)) for b in names] for a in names])
    C[0, 1] = C[1, 0] = 0.0  # Table 1 has no arousal-valence cell; it does not enter either R^2
    x = np.random.default_rng(0).multivariate_normal(np.zeros(5), C, size=200_000)
    X = np.c_[np.ones(len(x)), x[:, 2:]]
    for k, axis in enumerate(("arousal", "valence")):
        resid = x[:, k] - X @ np.linalg.lstsq(X, x[:, k], rcond=None)[0]
        assert 1 - resid.var() / x[:, k].var() == pytest.approx(implied[axis], abs=0.01)


def test_key_numbers_are_strict_json(sim, features):
    import json

    reg = stats.regression(sim.ratings, features)
    key = stats.key_numbers(reg, stats.anova(sim.ratings), stats.correlations(sim.ratings, features), sim.ratings, truth=sim.truth)
    json.dumps(key, allow_nan=False)
    assert key["n_participants"] == 150 and key["simulated"] is True and all(key["planted_in_ci"].values())
    assert key["regression"]["arousal/selected"]["r2"] > 0.3


def test_resampled_rank_biserial_is_that_of_ranking_every_resample():
    """The bootstrap of layer_effect_sizes counts copies instead of sorting: bit for bit the ranked version."""
    from scipy import stats as ss

    def ranked(x):  # the definition: drop zeros and missing values, average ranks of |x|, r = (2 W+ - T) / T
        x = np.atleast_2d(x)
        a = np.where((x == 0) | np.isnan(x), np.nan, np.abs(x))
        r = ss.rankdata(a, axis=1, nan_policy="omit")
        total = np.nansum(r, axis=1)
        pos = np.nansum(np.where(x > 0, r, 0.0), axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, (2 * pos - total) / total, 0.0)

    rng = np.random.default_rng(5)
    cases = [rng.normal(0, 10, 150), rng.integers(-3, 4, 40).astype(float), np.array([0.0, 0.0, 1.0]),
             np.array([2.0, -2.0, 2.0, 0.0, -1.5]), np.zeros(4), np.array([1.0, np.nan, -3.0, 3.0, 0.0])]
    cases += [rng.integers(-4, 5, rng.integers(3, 25)).astype(float) for _ in range(200)]
    for x in cases:
        idx = rng.integers(0, len(x), (300, len(x)))
        got = effects._rank_biserial_resampled(x, idx)
        assert np.array_equal(got, ranked(x[idx])), x
        assert effects._rank_biserial_resampled(x, np.arange(len(x))[None])[0] == ranked(x)[0]

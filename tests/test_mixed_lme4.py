"""The mixed model gives lme4's answer: R's lme4 1.1-31 and lmerTest fit the same designs (one Rscript run).

The oracle is lme4's best fit of three (default, tight bobyqa, tight nloptwrap; helpers.testing.lme4).
Tolerances (issue 21): criterion 1e-6 relative, estimates 1e-4, standard errors 1e-3, Satterthwaite df
1e-2 against lmerTest. The designs come from the project's simulator (helpers.study.simulate) and cover
an ordinary crossed fit, a singular fit, near-zero components, unbalanced cells with missing ratings, ML,
the paper's default simulation, and a design without a layer factor.

Needs Rscript with lme4, lmerTest and jsonlite (Debian r-base-core r-cran-lme4 r-cran-lmertest
r-cran-jsonlite). Without them the tests are skipped, except under ``CI=true``, where they fail (.ci/run
installs them).
"""
from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from helpers.nets import layers
from helpers.study import mixed, simulate
from helpers.testing import ci, lme4

pytestmark = pytest.mark.lme4

CLEAN = dict(layer_effects={}, group_effects={}, bimodal={}, neutral_layers=(), round_to=None, r2=None,
             coefficients={"arousal": {"hue": 6.0, "feature_congestion": 4.0, "subband_entropy": -3.0},
                           "valence": {"hue": 1.0, "feature_congestion": -0.5, "subband_entropy": 0.5}})


def _features(n_layers, seeds, rng_seed=3):
    rng = np.random.default_rng(rng_seed)
    seeds = seeds if callable(seeds) else (lambda i, s=seeds: s)
    return pd.DataFrame([dict(layer=layer, seed=s, hue=rng.uniform(0, 1), feature_congestion=rng.normal(3, 1),
                              subband_entropy=rng.normal(3, 0.5), status="ok")
                         for i, layer in enumerate(layers.LAYERS[:n_layers]) for s in range(seeds(i))])


def _designs() -> dict:
    out = {}
    f = _features(8, 3)
    sim = simulate.ratings(f, n_participants=16, seed=5, layer_sd=3.0, image_sd=1.5, participant_sd=7.0, noise_sd=14.0,
                           **CLEAN)
    out["crossed"] = mixed.design(sim.ratings, f, response="arousal")
    out["crossed_ml"] = mixed.design(sim.ratings, f, response="arousal", reml=False)
    # no stimulus or layer variance planted: lme4 puts both at 0 (a singular fit)
    sim = simulate.ratings(f, n_participants=12, seed=2, layer_sd=0.0, image_sd=0.0, participant_sd=7.0, noise_sd=14.0,
                           **CLEAN)
    out["singular"] = mixed.design(sim.ratings, f, response="valence")
    # small stimulus and layer variances beside large noise: near zero, not at it
    sim = simulate.ratings(f, n_participants=20, seed=27, layer_sd=2.0, image_sd=1.0, participant_sd=5.0, noise_sd=14.0,
                           **CLEAN)
    out["near_zero"] = mixed.design(sim.ratings, f, response="arousal")
    # unbalanced: 1-4 images per layer, a quarter of the ratings missing, one image without features
    fu = _features(9, lambda i: 1 + i % 4, rng_seed=8)
    sim = simulate.ratings(fu, n_participants=14, seed=4, layer_sd=2.0, image_sd=2.0, participant_sd=6.0, noise_sd=12.0,
                           **CLEAN)
    r = sim.ratings.copy()
    r.loc[np.random.default_rng(0).random(len(r)) < 0.25, "valence"] = np.nan
    fu.loc[3, "hue"] = np.nan
    out["unbalanced_missing"] = mixed.design(r, fu, response="valence")
    # the simulator's defaults (the paper's R^2, planted layers, bimodal layers, ratings rounded and clipped)
    fp = _features(12, 2, rng_seed=1)
    fp["layer"] = list(np.repeat(list(simulate.PAPER_NAMED_LAYERS) + ["conv2d1", "mixed4a", "mixed5b", "maxpool0", "mixed3a"],
                                 2)[:len(fp)])
    sim = simulate.ratings(fp, n_participants=15, seed=0)
    out["paper_defaults"] = mixed.design(sim.ratings, fp, response="arousal")
    out["no_layer_factor"] = mixed.design(sim.ratings, fp, response="valence", nested_in=None)
    return out


@pytest.fixture(scope="module")
def fits():
    ci.require(lme4.missing())
    designs = _designs()
    return designs, lme4.fit_lmer(designs), {name: mixed.fit_design(d) for name, d in designs.items()}


NAMES = ["crossed", "crossed_ml", "singular", "near_zero", "unbalanced_missing", "paper_defaults", "no_layer_factor"]


@pytest.mark.parametrize("name", NAMES)
def test_mixed_model_equals_lme4(fits, name):
    designs, r_fits, ours = fits
    d, R, o = designs[name], r_fits[name], ours[name]
    terms = list(d.X.columns)
    assert o["converged"], o["notes"]
    # criterion: ours is lme4's best to 1e-6 relative (and never meaningfully above it)
    assert o["criterion"] == pytest.approx(R["criterion"], rel=1e-6), (o["criterion"], R["criteria"])
    assert o["criterion"] <= R["criterion"] + 1e-9 * abs(R["criterion"])
    # estimates 1e-4: fixed effects, relative sds (theta), residual sd
    np.testing.assert_allclose(o["beta"], [R["beta"][t] for t in terms], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(o["theta"], [R["theta"][f] for f in d.factors], rtol=1e-4, atol=1e-5)
    assert np.sqrt(o["sigma2"]) == pytest.approx(R["sigma"], rel=1e-4)
    # standard errors 1e-3, Satterthwaite df 1e-2 (lmerTest)
    np.testing.assert_allclose(o["se"], [R["se"][t] for t in terms], rtol=1e-3)
    np.testing.assert_allclose(o["df"], [R["df"][t] for t in terms], rtol=1e-2)
    assert o["singular"] == R["is_singular"], (o["theta"], R["theta"])


def test_the_designs_cover_singular_near_zero_unbalanced_and_missing(fits):
    designs, r_fits, ours = fits
    assert r_fits["singular"]["is_singular"] and min(r_fits["singular"]["theta"].values()) == 0
    assert "singular fit" in ours["singular"]["notes"] and "as lme4 would report" in ours["singular"]["notes"]
    near = r_fits["near_zero"]["theta"]
    assert 1e-4 < min(near.values()) < 0.05 and not r_fits["near_zero"]["is_singular"]
    d = designs["unbalanced_missing"]
    per_stim = pd.Series(d.factors["stimulus"]).value_counts()
    per_layer = pd.Series(d.factors["layer"]).drop_duplicates().size
    assert per_stim.nunique() > 3 and per_layer == 9 and len(d.y) < 0.8 * 14 * sum(1 + i % 4 for i in range(9))
    assert not designs["crossed_ml"].reml and "layer" not in designs["no_layer_factor"].factors
    assert all(r["versions"]["lme4"] == "1.1.31" for r in r_fits.values()), {r["versions"]["lme4"] for r in r_fits.values()}


def test_statsmodels_falls_short_of_lme4_where_the_fit_is_singular(fits):
    """What mixed_model's docstring says of the statsmodels engine, measured on the singular design."""
    designs, r_fits, _ = fits
    sm = mixed.fit_design(designs["singular"], engine="statsmodels")
    R = r_fits["singular"]
    # it stops short of lme4's optimum and away from the bound, so it reports no singular fit
    assert sm["criterion"] - R["criterion"] > 0.1 and not sm["singular"] and R["is_singular"]

"""Benchmark of the crossed mixed model (helpers.study.mixed): ours beside R's lme4 (and statsmodels), in one run.

For each design (simulated by helpers.study.simulate): lme4 1.1-31 in one Rscript process per round
(helpers.testing.lme4: the default ``lmer`` fit and two tight refits; lme4's best criterion is the
reference, lmerTest gives the Satterthwaite df in the first round), then our native engine with one BLAS
thread (the default), our native engine with the BLAS library's own thread count, and statsmodels'
MixedLM (test size only: at study size its per-row work takes far longer). Rounds are interleaved
(R, ours, R, ours, ...) so that a busy machine slows every engine alike; times are medians over rounds,
R's measured inside R around each ``lmer`` call (no R start-up), ours around :func:`mixed.fit_design`
(cross-products included).

Reports per design and engine: the criterion's difference to lme4's best (REMLcrit, or deviance for ML;
positive = above the optimum), the largest absolute differences of the fixed effects, relative ones of
the standard errors and of the Satterthwaite df, singular (ours / lme4), the median time per fit and
the ratio of lme4's default fit time to it (> 1: faster than lme4).

Usage: ``python benchmarks/mixed.py [--rounds 3] [--quick]`` (``--quick``: test size only).

Last run (2026-12-06, Intel Xeon, 2 vCPUs shared with other jobs, load average 10-23; 3 rounds): ours
agreed with lme4's best fit to 1.2e-11 in the criterion at test size and 1.1e-8 (1.4e-14 relative) at study
size, estimates to 1.5e-7, SEs to 2e-6 and lmerTest's df to 8e-6 relative; lme4's default fit ended 1e-11
to 2.4e-7 above its own tight refits. Time per fit, lme4's default / ours: 1.15-5.0x at test size (368-480
ratings), 4.2-5.0x at study size (108,000 ratings: 5.9-8.0 s against 25-40 s). With the BLAS library's own
two threads ours took 121-127 s at study size (one thread: 15-20x faster on this busy machine). statsmodels
(test size only) ended 6.4e-9 to 13.7 criterion units above lme4's optimum, with SEs off by up to 69 %
and 20-33x slower than lme4.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd

from helpers.nets import layers
from helpers.study import mixed, simulate
from helpers.testing import lme4, machine

CLEAN = dict(layer_effects={}, group_effects={}, bimodal={}, neutral_layers=(), round_to=None, r2=None,
             coefficients={"arousal": {"hue": 6.0, "feature_congestion": 4.0, "subband_entropy": -3.0},
                           "valence": {"hue": 1.0, "feature_congestion": -0.5, "subband_entropy": 0.5}})


def _features(layer_names, seeds, rng_seed=3):
    rng = np.random.default_rng(rng_seed)
    return pd.DataFrame([dict(layer=layer, seed=s, hue=rng.uniform(0, 1), feature_congestion=rng.normal(3, 1),
                              subband_entropy=rng.normal(3, 0.5), status="ok") for layer in layer_names for s in range(seeds)])


def designs(quick: bool) -> dict:
    """``{(size, name): Design}``: three test-size designs and, unless quick, the study's 150 x 720 for both axes."""
    out = {}
    f = _features(layers.LAYERS[:8], 3)
    sim = simulate.ratings(f, n_participants=20, seed=5, layer_sd=3.0, image_sd=1.5, participant_sd=7.0, noise_sd=14.0, **CLEAN)
    out[("test", "crossed")] = mixed.design(sim.ratings, f, response="arousal")
    sim = simulate.ratings(f, n_participants=20, seed=2, layer_sd=0.0, image_sd=0.0, participant_sd=7.0, noise_sd=14.0, **CLEAN)
    out[("test", "singular")] = mixed.design(sim.ratings, f, response="valence")
    sim = simulate.ratings(f, n_participants=20, seed=0)  # the simulator's defaults, a quarter of the ratings missing
    r = sim.ratings.copy()
    r.loc[np.random.default_rng(0).random(len(r)) < 0.25, "arousal"] = np.nan
    out[("test", "paper defaults, missing")] = mixed.design(r, f, response="arousal")
    if not quick:
        fs = _features(layers.LAYERS, 5)  # 144 layers x 5 seeds = 720 images, 150 participants: 108,000 ratings
        sim = simulate.ratings(fs, n_participants=150, seed=1)
        for axis in ("arousal", "valence"):
            out[("study", f"paper defaults, {axis}")] = mixed.design(sim.ratings, fs, response=axis)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="test size only")
    args = ap.parse_args(argv)
    why = lme4.missing()
    if why:
        raise SystemExit(f"benchmarks/mixed.py needs R's lme4: {why}")
    print(machine.describe())
    ds = designs(args.quick)
    names = {f"{s}: {n}": d for (s, n), d in ds.items()}
    times = {k: {"lme4 default": [], "lme4 best (tight)": [], "native": [], "native, BLAS threads": [], "statsmodels": []}
             for k in names}
    ref, ours = None, {}
    for rnd in range(args.rounds):
        r = lme4.fit_lmer(names, satterthwaite=rnd == 0)
        if ref is None:
            ref = r
        for k in names:
            times[k]["lme4 default"] += r[k]["times"]["default"]
            times[k]["lme4 best (tight)"] += r[k]["times"][ref[k]["best"]]
        for k, d in names.items():
            for engine, label, threads in (("native", "native", 1), ("native", "native, BLAS threads", None),
                                           ("statsmodels", "statsmodels", None)):
                if engine == "statsmodels" and k.startswith("study"):
                    continue
                t0 = time.perf_counter()
                o = mixed.fit_design(d, engine=engine, blas_threads=threads)
                times[k][label].append(time.perf_counter() - t0)
                ours.setdefault((k, label), o)
        print(f"round {rnd + 1}/{args.rounds} done", flush=True)
    rows = []
    for k, d in names.items():
        R, terms = ref[k], list(d.X.columns)
        t_lme4 = statistics.median(times[k]["lme4 default"])
        rows.append(dict(design=k, n=len(d.y), engine=f"lme4 default (best: {R['best']})", crit_minus_lme4=
                         R["criteria"]["default"] - R["criterion"], max_abs_dbeta=np.nan, max_rel_dse=np.nan,
                         max_rel_ddf=np.nan, singular=R["is_singular"], median_s=t_lme4, lme4_over_this=1.0))
        for label in ("native", "native, BLAS threads", "statsmodels"):
            if (k, label) not in ours:
                continue
            o = ours[(k, label)]
            rb = np.array([R["beta"][t] for t in terms])
            rse = np.array([R["se"][t] for t in terms])
            rdf = np.array([R["df"][t] for t in terms])
            med = statistics.median(times[k][label])
            rows.append(dict(design=k, n=len(d.y), engine=label, crit_minus_lme4=o["criterion"] - R["criterion"],
                             max_abs_dbeta=float(np.abs(o["beta"] - rb).max()),
                             max_rel_dse=float(np.abs(o["se"] / rse - 1).max()),
                             max_rel_ddf=float(np.abs(o["df"] / rdf - 1).max()) if np.isfinite(o["df"]).all() else np.nan,
                             singular=o["singular"], median_s=med, lme4_over_this=t_lme4 / med))
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.3g}".format):
        print(table.to_string(index=False))
    print(f"times: medians over {args.rounds} interleaved rounds; lme4_over_this > 1: faster than lme4's default fit. "
          f"lme4 {ref[next(iter(names))]['versions']['lme4']}, lmerTest {ref[next(iter(names))]['versions']['lmerTest']}")
    return table


if __name__ == "__main__":
    main()

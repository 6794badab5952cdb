"""Simulated participants, clearly labelled, and the power analysis built on them.

The study's ratings are not public. :func:`ratings` simulates the emotion study (every participant rates
every image of notebook 02's feature table) from a stated generative model calibrated to the paper's
Table 1 and R^2, and returns the planted truth, so the analyses of notebooks 03 and 04 can be checked
against it; :func:`power_analysis` reruns it many times. :func:`responses` simulates participants of an
exported experiment (any stimulus set, notebook 08) by a simpler stated model, for trying the chain of
export, data files and import before real data exist. Both are the project's only rating simulators.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import ndtr

from helpers.nets.layers import LAYERS, layers_matching
from helpers.progress import tqdm
from helpers.study import effects, experiment, stats
from helpers.study.ratings import ATTITUDE_LEVELS, AXES, NEUTRAL, SELF_ESTEEM_LEVELS

PAPER_CORRELATIONS = {
    # Table 1 of the paper: r of mean arousal / valence with the selected model's features (hue, CFC, CSE)
    "arousal": {"hue": 0.120, "feature_congestion": 0.343, "subband_entropy": -0.216},
    "valence": {"hue": 0.080, "feature_congestion": -0.056, "subband_entropy": 0.023},
}


DEFAULT_R2 = {"arousal": 0.37, "valence": 0.033}
"""The paper's selected-model R^2 (Section 4.3): the simulation's target feature-driven share of variance."""


DEFAULT_LAYER_EFFECTS = {
    # planted non-neutral layers (paper Section 4.4.1, O1; "mixed3d" in the paper is read as mixed4d)
    "arousal": {"conv2d0": 10.0, "mixed4d_5x5_pre_relu": -9.0},
    "valence": {"mixed4d_pool_reduce_pre_relu": 9.0, "mixed5a": -9.0},
}


DEFAULT_GROUP_EFFECTS = {
    # Figure 11's layer types (added to every layer of the type; small, so that few single layers leave 50)
    "arousal": {"mixed{N}{m}_pool": 1.2, "mixed{N}{m}_{K}x{K}_pre_relu": -0.8},
    "valence": {"conv2d{L}": 2.0, "mixed{N}{m}": -0.8},
}


DEFAULT_NEUTRAL_LAYERS = ("localresponsenorm0", "mixed3b_3x3_bottleneck_pre_relu")


DEFAULT_BIMODAL = {"mixed3a_1x1_pre_relu": "valence", "mixed4b_3x3": "arousal", "mixed4c_pool_reduce": "both"}


PAPER_NAMED_LAYERS = tuple(dict.fromkeys(
    [*DEFAULT_LAYER_EFFECTS["arousal"], *DEFAULT_LAYER_EFFECTS["valence"], *DEFAULT_NEUTRAL_LAYERS, *DEFAULT_BIMODAL]))
"""The layers the paper names (Sections 4.4.1-4.4.2) and the simulation plants on: a reduced layer set (the class
profile) should include them, or the planted effects have nowhere to show."""


@dataclass
class Simulation:
    """A simulated data set: ratings (joined with covariates), participants, and the planted truth.

    ``truth`` keys: ``model`` (text of the generative model), ``coefficients`` (per axis, per
    feature, in raw feature units per rating point, as planted), ``coefficients_per_sd``,
    ``estimand`` (``{unit: {model: {axis: {term: coefficient}}}}``: what an OLS of the
    expected unit means on the features estimates, i.e. the planted coefficients plus the
    projection of the layer effects onto the features; compare estimates with these),
    ``feature_mean``/``feature_sd``, ``layer_effect`` (per axis, per layer, rating points),
    ``expected_layer_mean`` (per axis, per layer, before clipping), ``non_neutral`` (per
    axis: layers whose expected mean is at least ``non_neutral_margin`` from 50),
    ``neutral_layers`` (expected mean exactly 50 on both axes), ``bimodal`` (layer -> axis),
    ``missing_planted`` (planted layers absent from the features), ``group_effects`` and the
    parameters.

    Used in: notebook 03 through :func:`helpers.study.simulate.ratings`; notebooks 04 (p1-power.csv) and 08
        (key-numbers.json, study/power.csv) through :func:`helpers.study.simulate.power_analysis`.
    """

    ratings: object
    participants: object
    truth: dict = field(default_factory=dict)


def _expected_clipped(m, sd: float, lo: float = 0.0, hi: float = 100.0):
    """E[clip(X, lo, hi)] for X ~ N(m, sd) (elementwise)."""
    if sd <= 0:
        return np.clip(m, lo, hi)
    a, b = (lo - m) / sd, (hi - m) / sd
    pdf = lambda x: np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)  # noqa: E731
    return lo * ndtr(a) + m * (ndtr(b) - ndtr(a)) + sd * (pdf(a) - pdf(b)) + hi * (1 - ndtr(b))


def _r2_scale(f, rest, design, noise_var: float, target: float) -> float:
    """Scale ``c`` >= 0 at which the population R^2 of ``c f + rest`` on ``design`` (layer level) is ``target``.

    R^2(c) = |P(y - mean y)|^2 / (|y - mean y|^2 + n noise_var) with ``P`` the projection on the
    centred design, i.e. what an OLS of the layer means on the features explains in expectation.
    """
    n = len(f)
    if n < 3 or np.var(f) == 0 or target <= 0:
        return 0.0
    X = design - design.mean(0)
    q = np.linalg.qr(X)[0] if X.size else np.zeros((n, 0))

    def r2_of(c):
        y = c * f + rest
        y = y - y.mean()
        return float(np.sum((q.T @ y) ** 2) / (np.sum(y * y) + n * noise_var)) - target

    if r2_of(0.0) >= 0:  # the layer effects alone already explain the target share
        return 0.0
    hi = 1.0
    while r2_of(hi) < 0 and hi < 1e6:
        hi *= 2
    return float(brentq(r2_of, 0.0, hi)) if r2_of(hi) >= 0 else hi


def _estimands(expected_img, features, layers_of_img, seeds_of_img) -> dict:
    """OLS coefficients of the expected unit means on the unit-mean features, as :func:`helpers.study.stats.regression` fits them."""
    f = features.reset_index(drop=True)
    ok = f["status"].eq("ok") if "status" in f else pd.Series(True, index=f.index)
    cols = [c for c in stats.FEATURES if c in f.columns]
    frame = pd.DataFrame({"layer": layers_of_img, "seed": seeds_of_img, **{a: expected_img[a] for a in AXES}})
    out: dict = {}
    for unit, keys in (("layer", ["layer"]), ("image", ["layer", "seed"])):
        y = frame.groupby(keys, sort=False)[list(AXES)].mean().reset_index()
        x = f[ok].groupby(keys, sort=False)[cols].mean().reset_index()
        d = y.merge(x, on=keys, how="inner")
        out[unit] = {}
        for model, terms in (("selected", list(stats.SELECTED)), ("full", list(stats.FULL))):
            terms = [t for t in terms if t in d]
            out[unit][model] = {}
            for axis in AXES:
                dd = d[[axis, *terms]].apply(pd.to_numeric, errors="coerce").dropna()
                if len(dd) <= len(terms) + 1:
                    continue
                X = np.c_[np.ones(len(dd)), dd[terms].to_numpy(float)]
                beta = np.linalg.lstsq(X, dd[axis].to_numpy(float), rcond=None)[0]
                out[unit][model][axis] = {"const": float(beta[0]), **{t: float(b) for t, b in zip(terms, beta[1:])}}
    return out


def ratings(features, *, n_participants: int = 150, seed: int = 0, coefficients="paper", r2="paper", layer_effects=None,
             group_effects=None, neutral_layers=DEFAULT_NEUTRAL_LAYERS, bimodal=None, bimodal_shift: float = 56.0,
             intercept=(50.0, 50.0), layer_sd: float = 0.6, image_sd: float = 0.5, participant_sd: float = 12.0,
             noise_sd: float = 10.0, non_neutral_margin: float = 5.0, round_to: float | None = 1.0) -> Simulation:
    """Simulate arousal/valence ratings of every image in ``features`` (clearly synthetic).

    Generative model, for participant ``p`` rating image ``i`` of layer ``l`` on axis ``a``::

        mu[a, i]   = intercept[a] + c[a] * sum_f beta[a, f] * z_f(i)   # z: feature standardised over layer means
                     + group_effect[a, l] + planted[a, l] + u[a, l] + w[a, i]
        rating     = clip(mu[a, i] + b[a, p] + g[p, l] * s[a, l] + e, 0, 100), rounded to ``round_to``

    with ``u ~ N(0, layer_sd)`` per layer, ``w ~ N(0, image_sd)`` per image, participant
    offsets ``b ~ N(0, participant_sd)`` (centred over the participants), ``e ~ N(0, noise_sd)``. By default (``coefficients=
    "paper"``) the weights are ``beta = R^-1 r``, with ``R`` the correlation matrix of the
    features' layer means in *these* data and ``r`` Table 1's correlations
    (:data:`PAPER_CORRELATIONS`), so that the feature part correlates with each feature as the
    paper's judgments did. ``c[a]`` scales the feature part so that, over the layers, it
    explains the share ``r2[a]`` of the variance of the layer means (the rest: group, planted
    and random layer effects and the rating noise averaged over participants and images);
    the default is the paper's selected-model R^2 (arousal 0.37, valence 0.033), so the
    analyses find effects of the paper's size. Bimodal layers split the participants in two random halves ``g = +-1`` and
    shift them by ``s = +-bimodal_shift/2`` on the named axis ("arousal", "valence", or
    "both": low arousal with high valence vs high arousal with low valence). Neutral layers
    get ``u``, ``w`` and ``planted`` chosen so that their expected mean is exactly 50 on both
    axes. Attitude and self-esteem are drawn independently of the ratings (no planted
    effect, as the paper found none). Layer-level effects can correlate with the features,
    so an OLS of layer means on the features estimates ``truth["estimand"]`` (the planted
    coefficients plus that projection), not ``truth["coefficients"]`` alone.

    Args:
        features: DataFrame with one row per image: layer, seed and the feature columns
            named in ``coefficients`` (notebook 02's ``features.parquet``); rows with a
            ``status`` other than "ok" or missing features are rated without feature effect.
        n_participants: number of simulated participants (each rates every image).
        seed: seed of the NumPy generator; same seed -> same data.
        coefficients: ``"paper"`` (weights from Table 1's correlations, see above) or
            ``{axis: {feature: weight per sd of the feature's layer means}}``: rating points per
            sd when ``r2=None``, else relative weights.
        r2: ``"paper"`` (:data:`DEFAULT_R2`), ``{axis: share in [0, 1)}``, or ``None`` (use
            ``coefficients`` as they are).
        layer_effects: ``{axis: {layer: rating points}}`` planted non-neutral layers.
        group_effects: ``{axis: {GROUP_PATTERNS key: rating points}}``.
        neutral_layers: layers forced to an expected mean of exactly 50.
        bimodal: ``{layer: "arousal" | "valence" | "both"}``.
        non_neutral_margin: how far from 50 an expected layer mean must be to count as
            non-neutral in the truth.

    Returns:
        :class:`Simulation`; ``ratings.attrs["simulated"] = True``.

    Used in: notebook 03 (Figure 6, Figure 7, Figure 8, Figure 9, 7 more outputs); notebooks 04 (p1-power.csv) and
        08 (key-numbers.json, study/power.csv) through :func:`helpers.study.simulate.power_analysis`.
    """
    from_paper = isinstance(coefficients, str) and coefficients == "paper"
    coefficients = PAPER_CORRELATIONS if from_paper or coefficients is None else coefficients
    layer_effects = DEFAULT_LAYER_EFFECTS if layer_effects is None else layer_effects
    group_effects = DEFAULT_GROUP_EFFECTS if group_effects is None else group_effects
    bimodal = DEFAULT_BIMODAL if bimodal is None else bimodal
    r2 = dict(DEFAULT_R2) if isinstance(r2, str) and r2 == "paper" else r2
    for name, table in (("layer_effects", layer_effects), ("bimodal", {k: 0 for k in bimodal}),
                        ("neutral_layers", {k: 0 for k in neutral_layers})):
        unknown = [k for k in (table.get("arousal", {}) | table.get("valence", {}) if name == "layer_effects" else table)
                   if k not in LAYERS]
        if unknown:
            raise ValueError(f"simulate: {name} names unknown layers {unknown}")
    bad_axis = {k: v for k, v in bimodal.items() if v not in ("arousal", "valence", "both")}
    if bad_axis:
        raise ValueError(f"simulate: bimodal axis must be 'arousal', 'valence' or 'both', got {bad_axis}")
    if n_participants < 2:
        raise ValueError(f"simulate: n_participants must be >= 2, got {n_participants}")
    if from_paper and r2 is None:
        raise ValueError("simulate: coefficients='paper' gives only the direction of the feature effects; give r2 too")
    if r2 is not None and not all(0 <= float(v) < 1 for v in r2.values()):
        raise ValueError(f"simulate: r2 must map axes to shares in [0, 1), got {r2}")
    missing = {"layer", "seed"} - set(features.columns)
    if missing:
        raise ValueError(f"simulate: features lack columns {sorted(missing)}")

    rng = np.random.default_rng([seed, 0x5E71])  # own stream: unrelated to other uses of the same seed
    img = features[["layer", "seed"]].copy().reset_index(drop=True)
    if img.duplicated().any():
        raise ValueError("simulate: features have duplicate (layer, seed) rows")
    unknown = sorted(set(img["layer"]) - set(LAYERS))
    if unknown:
        raise ValueError(f"simulate: features name unknown layers {unknown[:5]}")
    ok = features["status"].eq("ok").to_numpy() if "status" in features else np.ones(len(img), bool)
    feats = sorted({f for axis in AXES for f in coefficients.get(axis, {})})
    absent = [f for f in feats if f not in features.columns]
    if absent:
        raise ValueError(f"simulate: features lack the columns {absent} that the coefficients name")
    layers = list(dict.fromkeys(img["layer"]))
    layer_pos = {name: i for i, name in enumerate(layers)}
    li = img["layer"].map(layer_pos).to_numpy()
    n_seeds = np.bincount(li, minlength=len(layers))
    mean, sd, z, zl = {}, {}, {}, {}
    for f in feats:  # standardise over the layer means (the unit of Table 1 and of the R^2 target)
        x = pd.to_numeric(features[f], errors="coerce").to_numpy(float).copy()
        x[~ok] = np.nan
        xl = pd.Series(x).groupby(li).mean().reindex(range(len(layers))).to_numpy(float)
        mean[f], sd[f] = (float(np.nanmean(xl)), float(np.nanstd(xl))) if np.isfinite(xl).any() else (0.0, 0.0)
        z[f] = np.nan_to_num((x - mean[f]) / (sd[f] if sd[f] > 0 else 1.0))
        zl[f] = np.nan_to_num((xl - mean[f]) / (sd[f] if sd[f] > 0 else 1.0))
    if from_paper:  # beta = R^-1 r: the feature part correlates with each feature as in Table 1
        coefficients = {}
        corr = np.corrcoef(np.array([zl[f] for f in feats])) if len(layers) > 2 else np.eye(len(feats))
        corr = np.nan_to_num(np.atleast_2d(corr), nan=0.0) + 1e-9 * np.eye(len(feats))
        for axis in AXES:
            target = np.array([PAPER_CORRELATIONS[axis].get(f, 0.0) for f in feats])
            coefficients[axis] = dict(zip(feats, np.linalg.lstsq(corr, target, rcond=None)[0].tolist()))
    group_of = {}
    for axis in AXES:
        for pattern in group_effects.get(axis, {}):
            for name in layers_matching(pattern, layers):
                group_of.setdefault(axis, {})[name] = group_effects[axis][pattern]

    mu, layer_effect, expected, scale = {}, {}, {}, {}
    intercepts = dict(zip(AXES, intercept))
    for axis in AXES:
        u = rng.normal(0.0, layer_sd, len(layers))
        w = rng.normal(0.0, image_sd, len(img))
        eff = np.array([group_of.get(axis, {}).get(n, 0.0) + layer_effects.get(axis, {}).get(n, 0.0) for n in layers]) + u
        feat_part = sum(coefficients.get(axis, {}).get(f, 0.0) * z[f] for f in feats) if feats else np.zeros(len(img))
        feat_part = np.asarray(feat_part, float) * np.ones(len(img))
        scale[axis] = 1.0
        if r2 is not None:  # scale the feature part to the target share of the layer means' variance
            f_layer = np.bincount(li, feat_part, len(layers)) / n_seeds
            rest = eff + np.bincount(li, w, len(layers)) / n_seeds
            design = np.array([zl[f] for f in feats]).T if feats else np.zeros((len(layers), 0))
            scale[axis] = _r2_scale(f_layer, rest, design, float(np.mean(noise_sd ** 2 / (n_participants * n_seeds))),
                                    float(r2.get(axis, 0.0)))
            feat_part = feat_part * scale[axis]
        for name in neutral_layers:  # expected mean exactly 50: cancel features, layer and image effects
            if name in layer_pos:
                rows = li == layer_pos[name]
                eff[layer_pos[name]] = NEUTRAL - intercepts[axis] - feat_part[rows].mean()
                w[rows] = feat_part[rows].mean() - feat_part[rows]
        mu[axis] = intercepts[axis] + feat_part + eff[li] + w
        layer_effect[axis] = dict(zip(layers, eff))
        expected[axis] = pd.Series(mu[axis]).groupby(img["layer"]).mean().reindex(layers).to_dict()

    pid = [f"S{k:03d}" for k in range(1, n_participants + 1)]
    people = pd.DataFrame({"participant": pid,
                           "attitude": pd.Categorical(rng.choice(ATTITUDE_LEVELS, n_participants, p=[0.2, 0.45, 0.35]),
                                                      categories=ATTITUDE_LEVELS, ordered=True),
                           "self_esteem": rng.choice(SELF_ESTEEM_LEVELS, n_participants, p=[0.06, 0.14, 0.3, 0.32, 0.18])})
    offsets = {axis: rng.normal(0.0, participant_sd, n_participants) for axis in AXES}
    offsets = {axis: o - o.mean() for axis, o in offsets.items()}  # centred: the sample's offsets do not move every layer
    groups = {name: rng.permutation(np.r_[np.ones(n_participants // 2), -np.ones(n_participants - n_participants // 2)])
              for name in bimodal}

    n_img = len(img)
    out = {"participant": np.repeat(pid, n_img), "layer": np.tile(img["layer"].to_numpy(), n_participants),
           "seed": np.tile(img["seed"].to_numpy().astype(np.int64), n_participants)}
    expected_img = {}
    for axis in AXES:
        value = np.tile(mu[axis], n_participants) + np.repeat(offsets[axis], n_img)
        for name, which in bimodal.items():
            if name not in layer_pos or (which != "both" and which != axis):
                continue
            sign = -1.0 if (which == "both" and axis == "valence") else 1.0  # "both": high arousal with low valence
            rows = np.tile(li == layer_pos[name], n_participants)
            value[rows] += sign * bimodal_shift / 2 * np.repeat(groups[name], n_img)[rows]
        # expected mean rating of each image over these participants, clipping included (the regression estimand)
        expected_img[axis] = _expected_clipped(value, noise_sd).reshape(n_participants, n_img).mean(axis=0)
        value += rng.normal(0.0, noise_sd, value.shape)
        if round_to:
            value = np.round(value / round_to) * round_to
        out[axis] = np.clip(value, 0.0, 100.0)
    rated = pd.DataFrame(out).merge(people, on="participant", how="left")
    rated.attrs.update(simulated=True, source=f"simulate.ratings(seed={seed}, n_participants={n_participants})")

    planted = [*layer_effects.get("arousal", {}), *layer_effects.get("valence", {}), *neutral_layers, *bimodal]
    truth = {
        "model": ratings.__doc__.split("Args:")[0].strip(),
        "seed": seed, "n_participants": n_participants,
        "r2_target": None if r2 is None else {a: float(v) for a, v in r2.items()}, "feature_scale": scale,
        "coefficients_per_sd": {a: {f: v * scale[a] for f, v in coefficients.get(a, {}).items()} for a in AXES},
        "coefficients": {a: {f: coefficients.get(a, {}).get(f, 0.0) * scale[a] / (sd[f] or 1.0) for f in feats} for a in AXES},
        "estimand": _estimands(expected_img, features, img["layer"].to_numpy(), img["seed"].to_numpy()),
        "feature_mean": mean, "feature_sd": sd, "intercept": intercepts,
        "layer_effect": layer_effect, "expected_layer_mean": expected,
        "non_neutral": {a: sorted((n for n, m in expected[a].items()
                                   if abs(m - NEUTRAL) >= non_neutral_margin and not (n in bimodal and bimodal[n] in (a, "both"))),
                                  key=layer_pos.get) for a in AXES},
        "neutral_layers": [n for n in neutral_layers if n in layer_pos],
        "bimodal": {k: v for k, v in bimodal.items() if k in layer_pos}, "bimodal_shift": bimodal_shift,
        "missing_planted": [n for n in dict.fromkeys(planted) if n not in layer_pos],
        "group_effects": {a: dict(group_effects.get(a, {})) for a in AXES},
        "planted_layer_effects": {a: dict(layer_effects.get(a, {})) for a in AXES},
        "sd": {"layer": layer_sd, "image": image_sd, "participant": participant_sd, "noise": noise_sd},
    }
    return Simulation(ratings=rated, participants=people, truth=truth)


def power_analysis(features, *, effect: float = 10.0, axis: str = "valence", layer=None,
                   n_participants=(5, 10, 20, 40), n_sims: int = 20, alpha: float = 0.05, test: str = "wilcoxon",
                   correction: str = "fdr_bh", target_power: float = 0.8, seed: int = 0, progress: bool = True,
                   **simulate_kwargs):
    """Power to detect one layer's effect, from the simulator (:func:`ratings`).

    For each number of participants, ``n_sims`` data sets are simulated with ``effect`` rating
    points planted on ``layer`` (default: the first layer of ``features``) on ``axis`` and
    nothing else planted (no other layer, group or bimodal effects; the simulator's random
    layer, image, participant and noise terms stay). Each is analysed as Figure 10 is
    (:func:`helpers.study.effects.layer_tests` over every layer and both axes, corrected together); power is the
    share of data sets where the layer is significant in the planted direction. Ratings are not
    rounded here (``round_to=None``; with ties scipy's small-sample Wilcoxon falls back to a
    permutation test, 100x slower); pass ``round_to=1.0`` to simulate whole slider steps.

    Returns:
        (table, summary): table has one row per n_participants: power, its binomial standard
        error, n_sims, the mean true deviation of the layer from 50 in the simulations
        (planted effect plus the random layer term); summary is a dict with ``n_for_power``
        (the smallest tried n reaching ``target_power``, or None) and the settings.

    Used in: notebook 04 (p1-power.csv); notebook 08 (key-numbers.json, study/power.csv).
    """
    layer = layer or str(features["layer"].iloc[0])
    simulate_kwargs.setdefault("round_to", None)  # unrounded: no ties, so scipy's Wilcoxon stays exact and fast
    planted = {a: {} for a in AXES}
    planted[axis][layer] = float(effect)
    rows = []
    bar = tqdm(total=len(n_participants) * n_sims, desc="power simulations", disable=not progress)
    for n in n_participants:
        hits, dev = 0, []
        for k in range(n_sims):
            sim = ratings(features, n_participants=int(n), seed=seed * 100003 + k * 1009 + int(n),
                              layer_effects=planted, group_effects={}, bimodal={}, neutral_layers=(), **simulate_kwargs)
            tests = effects.layer_tests(sim.ratings, test=test, correction=correction, alpha=alpha)
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


def responses(manifest, features=None, *, n_participants: int = 8, seed: int = 0, group_by=None,
                        group_effect: float = 12.0, coefficients=None, participant_sd: float = 6.0, noise_sd: float = 10.0):
    """A stated model of ratings for an exported stimulus set; returns responses and the planted truth.

    For participant ``p`` and stimulus ``s`` on axis ``a``: ``50 + sum_f beta[a, f] z_f(s) + g[a, group(s)]
    + b[a, p] + e``, clipped to 0-100 and rounded to whole slider steps, with ``z`` a feature standardised
    over the stimuli, ``b ~ N(0, participant_sd)``, ``e ~ N(0, noise_sd)``; the first group of
    ``group_by`` (sorted) gets ``+group_effect`` on valence, the last ``-group_effect`` (others 0).

    Args:
        manifest: :func:`helpers.study.experiment.load_manifest` of the export.
        features: per-stimulus features with ``path`` (= stimulus id) or ``stimulus``.
        coefficients: ``{axis: {feature: rating points per sd}}``; default arousal +6 per sd of
            feature_congestion, valence +3 per sd of saturation (when the columns exist).

    Returns:
        (responses, truth): ``responses[participant](stimulus) -> (valence, arousal)`` callables
        (for :func:`helpers.study.browser.run_sessions` or :func:`helpers.study.experiment.write_sessions`), and the planted values.

    Used in: notebook 08 (key-numbers.json, study-effect-sizes.png, study/correction-sensitivity.csv,
        study/effect-sizes.csv, 4 more outputs).
    """
    stim = experiment.stimulus_table(manifest)
    coefficients = coefficients if coefficients is not None else {"arousal": {"feature_congestion": 6.0},
                                                                  "valence": {"saturation": 3.0}}
    mu = {ax: np.full(len(stim), 50.0) for ax in ("valence", "arousal")}
    if features is not None:
        f = features.rename(columns={"path": "stimulus"}) if "stimulus" not in features else features
        f = stim[["stimulus"]].merge(f, on="stimulus", how="left")
        for ax, coefs in coefficients.items():
            for col, beta in coefs.items():
                if col in f:
                    x = pd.to_numeric(f[col], errors="coerce").to_numpy(float)
                    sd = np.nanstd(x)
                    mu[ax] += beta * np.nan_to_num((x - np.nanmean(x)) / (sd if sd > 0 else 1.0))
    groups = {}
    if group_by and group_by in stim:
        levels = sorted(stim[group_by].astype(str).unique())
        if len(levels) > 1:
            groups = {levels[0]: group_effect, levels[-1]: -group_effect}
            mu["valence"] += stim[group_by].astype(str).map(groups).fillna(0.0).to_numpy()
    rng = np.random.default_rng([seed, 0x57D1])
    index = {s: i for i, s in enumerate(stim["stimulus"])}
    players = {}
    for k in range(n_participants):
        pid = f"SIM{k + 1:03d}"
        b = {ax: rng.normal(0, participant_sd) for ax in mu}
        e = {ax: rng.normal(0, noise_sd, len(stim)) for ax in mu}
        vals = {ax: np.clip(np.round(mu[ax] + b[ax] + e[ax]), 0, 100).astype(int) for ax in mu}
        players[pid] = (lambda v, a: (lambda s: (int(v[index[s]]), int(a[index[s]]))))(vals["valence"], vals["arousal"])
    truth = {"model": responses.__doc__.split("Args:")[0].strip(), "coefficients_per_sd": coefficients,
             "group_by": group_by, "group_effects_valence": groups, "participant_sd": participant_sd, "noise_sd": noise_sd,
             "expected": {ax: dict(zip(stim["stimulus"], map(float, mu[ax]))) for ax in mu}, "seed": seed}
    return players, truth

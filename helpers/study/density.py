"""Joint densities of arousal and valence per layer (Figures 12, 13, S2-S12): entropy, bimodality, corners.

:func:`joint_densities` smooths each layer's ratings on the [0, 100]^2 plane; :func:`joint_density_stats`
gives their entropy, centre and Hartigan dip tests; :func:`select_cases` picks Figure 12's six layers and
:func:`nearest_corners` Figure 13's eight.
"""
from __future__ import annotations

import diptest
import numpy as np
import pandas as pd
from scipy import ndimage
from scipy.optimize import linear_sum_assignment
from statsmodels.stats.multitest import multipletests

from helpers.nets.layers import LAYERS, layer_family
from helpers.study.effects import participant_layer_means
from helpers.study.ratings import AXES

CORNERS = (  # Figure 13, left to right: (name, arousal, valence)
    ("low arousal, low valence", 0.0, 0.0), ("low arousal, neutral valence", 0.0, 50.0),
    ("low arousal, high valence", 0.0, 100.0), ("neutral arousal, high valence", 50.0, 100.0),
    ("high arousal, high valence", 100.0, 100.0), ("high arousal, neutral valence", 100.0, 50.0),
    ("high arousal, low valence", 100.0, 0.0), ("neutral arousal, low valence", 50.0, 0.0))


def joint_density(arousal, valence, *, bins: int = 101, bandwidth: float = 5.0):
    """Smoothed 2-D histogram of (arousal, valence) on [0, 100]^2, normalised to sum to 1.

    A histogram with ``bins`` x ``bins`` cells smoothed by a Gaussian of sd ``bandwidth``
    rating points (scipy.ndimage.gaussian_filter, reflecting at the edges, so ratings
    clipped at 0 or 100 keep their mass). Equivalent to a Gaussian KDE with a fixed
    bandwidth, evaluated on the grid, at a fraction of the cost for 144 layers.

    Returns:
        float64 array ``(bins, bins)``, rows = valence (low to high), columns = arousal.

    Used in: notebook 04 through :func:`helpers.study.density.joint_densities`.
    """
    a, v = np.asarray(arousal, float), np.asarray(valence, float)
    h, _, _ = np.histogram2d(v, a, bins=bins, range=[[0, 100], [0, 100]])
    h = ndimage.gaussian_filter(h, sigma=bandwidth * bins / 100.0, mode="reflect")
    return h / h.sum()


def entropy(density) -> float:
    """Shannon entropy in bits of a normalised density grid (the paper's pixel-intensity entropy).

    Used in: notebook 04 through :func:`helpers.study.density.joint_density_stats`.
    """
    p = np.asarray(density, float).ravel()
    p = p[p > 0] / p.sum()
    return float(-(p * np.log2(p)).sum())


def joint_densities(ratings, *, bins: int = 101, bandwidth: float = 5.0, layers=None, group_by: str = "layer") -> dict:
    """``{layer: density}`` for every layer (study order; other ``group_by`` values in order of appearance).

    Used in: notebook 04 (Figure 12, Figure 13, Supplementary S2, Supplementary S3, 3 more outputs).
    """
    groups = dict(tuple(ratings.groupby(group_by, sort=False)))
    order = [n for n in (layers or LAYERS) if n in groups]
    if layers is None and len(order) < len(groups):
        order += [n for n in groups if n not in set(order)]
    return {n: joint_density(groups[n]["arousal"], groups[n]["valence"], bins=bins, bandwidth=bandwidth) for n in order}


def joint_density_stats(ratings, *, densities=None, bins: int = 101, bandwidth: float = 5.0, alpha: float = 0.05,
                        group_by: str = "layer"):
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

    Used in: notebook 04 (Figure 12, Figure 13, Supplementary S2, Supplementary S3, 3 more outputs).
    """
    densities = densities or joint_densities(ratings, bins=bins, bandwidth=bandwidth, group_by=group_by)
    plm = participant_layer_means(ratings, group_by=group_by)
    centre = ratings.groupby("participant")[list(AXES)].mean()
    for axis in AXES:
        plm[axis] = plm[axis] - plm["participant"].map(centre[axis]).to_numpy() + ratings[axis].mean()
    pm = dict(tuple(plm.groupby(group_by, sort=False)))
    raw = dict(tuple(ratings.groupby(group_by, sort=False)))
    pos = {n: i for i, n in enumerate(LAYERS)}
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


def nearest_corners(stats, *, k: int = 1, distinct: bool = False):
    """Figure 13: for each of the 8 corners and sides, a layer whose median is near it, each layer once.

    The layers are assigned to the 8 targets jointly (``scipy.optimize.linear_sum_assignment``,
    minimum total distance) so that no layer appears twice; a layer and its ``_pre_relu`` twin
    count as one (:func:`helpers.nets.layers.layer_family`), since their images are near-identical. With fewer
    families than targets, families repeat. ``k > 1`` adds, per target, the next nearest
    layers of other families (ranks 2..k; Supplementary S5-S12 show such layers' images). Those are chosen per
    target, so one layer can be among the nearest of two targets; ``distinct=True`` shows every family once over
    all targets (the ranks 2..k are filled nearest pair first over all targets, each family going to the target it
    is nearest to while that target has room), so a target may get fewer than ``k`` layers.

    Returns:
        DataFrame: target (e.g. "low arousal, high valence"), target_arousal,
        target_valence, layer, median_arousal, median_valence, distance, rank (1 = the
        Figure 13 layer).

    Used in: notebook 04 (Figure 12, Figure 13, Supplementary S2, Supplementary S3, 2 more outputs).
    """
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
    extra = {t: [] for t in range(len(CORNERS))}
    if distinct:
        used = {fam.iat[i] for i in chosen.values()}
        for flat in np.argsort(cost, axis=None, kind="stable"):
            t, j = divmod(int(flat), len(families))
            if families[j] not in used and 1 + len(extra[t]) < k:
                extra[t].append(best[t, j])
                used.add(families[j])
    out = []
    for t, (name, ta, tv) in enumerate(CORNERS):
        picks = [chosen[t]] + extra[t]
        for j in ([] if distinct else np.argsort(cost[t], kind="stable")):
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

    Used in: notebook 04 (Figure 12, Figure 13, Supplementary S2, Supplementary S3, Supplementary S4).
    """
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

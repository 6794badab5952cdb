"""Cosine distances between BigGAN-deep-256 networks perturbed by Eq. 3 (Janik 2023): measured, analytic, reported.

:func:`perturbation_distances` measures them without building the networks (one stream over the tensors);
:func:`analytic_distance` is the law-of-large-numbers value; :func:`distance_table` puts both beside the
paper's numbers (``p2-distances.csv``), :func:`distance_sweep` over alpha (the distance-vs-alpha figure).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from helpers.progress import tqdm
from helpers.synthesis.biggan import ALPHA, check_include, noise_factor_, tensors

PAPER_DISTANCES = {"perturbed_vs_original": 0.056, "perturbed_vs_perturbed": 0.109}


def _as_state(x, include):
    if isinstance(x, torch.nn.Module):
        return tensors(x, include=include)
    if isinstance(x, dict) or hasattr(x, "items"):
        return dict(x)
    raise TypeError(f"expected a torch.nn.Module or a state dict, got {type(x).__name__}")


def cosine_distance(a, b, *, include: str = "parameters") -> float:
    """``1 - <a, b> / (|a| |b|)`` over the whole parameter vectors, accumulated tensor by tensor.

    Args:
        a, b: models (their :func:`tensors` for ``include``) or state dicts with the same keys; a
            state dict compared with a model is restricted to the model's selected keys.
        include: for models, ``"parameters"`` or ``"all"`` (buffers too).

    Returns:
        float in [0, 2]; dot products and norms are accumulated in float64, one tensor at a time
        (no flattened 55M-element copies).

    Used in: no notebook; ``benchmarks/biggan.py``, ``tests/test_biggan.py``.
    """
    sa, sb = _as_state(a, include), _as_state(b, include)
    if isinstance(a, torch.nn.Module) != isinstance(b, torch.nn.Module):  # a module picks the keys of a state dict
        keys = sa.keys() if isinstance(a, torch.nn.Module) else sb.keys()
        sa, sb = ({k: s[k] for k in keys if k in s} for s in (sa, sb))
        missing = [k for k in keys if k not in sa or k not in sb]
        if missing:
            raise ValueError(f"cosine_distance: the state dict lacks {len(missing)} of the model's keys, e.g. {missing[:3]}")
    if sa.keys() != sb.keys():
        diff = sorted(set(sa) ^ set(sb))
        raise ValueError(f"cosine_distance: the two state dicts differ in {len(diff)} keys, e.g. {diff[:3]}")
    dot = na = nb = 0.0
    for k in sa:
        x, y = sa[k].detach(), sb[k].detach()
        if x.shape != y.shape:
            raise ValueError(f"cosine_distance: {k} has shape {tuple(x.shape)} vs {tuple(y.shape)}")
        x = x.cpu().reshape(-1).to(torch.float64).numpy()  # numpy's float64 dot (BLAS) beats torch's here
        y = y.cpu().reshape(-1).to(torch.float64).numpy()
        dot += float(np.dot(x, y))
        na += float(np.dot(x, x))
        nb += float(np.dot(y, y))
    return 1.0 - dot / math.sqrt(na * nb)


def analytic_distance(alpha, *, fraction: float = 1.0, between_perturbed: bool = False):
    """Expected cosine distance of Eq. 3 for many parameters (law of large numbers).

    With ``theta_i' = theta_i (1 + alpha n_i)``: ``<theta, theta'> ~ |theta|^2`` and
    ``|theta'|^2 ~ |theta|^2 (1 + alpha^2)``. If only a share ``fraction`` of the squared norm is
    perturbed (e.g. parameters perturbed, distance over the whole state dict) ``alpha^2`` becomes
    ``fraction * alpha^2``. Hence ``1 - 1/sqrt(1 + f a^2)`` vs the original and
    ``1 - 1/(1 + f a^2)`` between two independently perturbed networks (0.0561 and 0.1091 at
    alpha = 0.35, f = 1).

    Used in: notebook 05 (p2-distance-vs-alpha.png) through :func:`helpers.figures.paper2.distance_vs_alpha`.
    """
    s = 1.0 + fraction * np.asarray(alpha, dtype=float) ** 2
    return 1.0 - (1.0 / s if between_perturbed else 1.0 / np.sqrt(s))


def _gram(model, seeds, alpha, include, progress):
    """Gram matrix (K+1)x(K+1) of [original, perturbed networks] over the perturbed tensors, and the
    squared norm of the rest of the state dict (identical in every network)."""
    gens = [torch.Generator(device="cpu").manual_seed(s) for s in seeds]
    k = len(seeds)
    perturbed = tensors(model, include=include)
    gram = np.zeros((k + 1, k + 1))
    m = torch.empty(k + 1, max(t.numel() for t in perturbed.values()), dtype=torch.float32)
    rest = 0.0
    with torch.no_grad():
        for name, t in tqdm(model.state_dict().items(), disable=not progress, desc="distances"):
            x = t.detach().cpu().float().reshape(-1)
            if name not in perturbed:
                rest += float(x.double().square().sum())
                continue
            rows = m[:, : x.numel()]
            rows[0].copy_(x)
            for i, g in enumerate(gens):  # the same values perturb() writes: x * (1 + alpha * randn)
                torch.randn(t.shape, generator=g, dtype=torch.float32, out=rows[i + 1].view(t.shape))
                noise_factor_(rows[i + 1], alpha).mul_(x)
            for j in range(0, x.numel(), 1 << 20):  # numpy's float64 GEMM: 4x faster than torch's here
                c = rows[:, j:j + (1 << 20)].numpy().astype(np.float64)
                gram += c @ c.T
    return gram, rest


def _distances(gram):
    norms = np.sqrt(np.diag(gram))
    dist = 1.0 - gram / np.outer(norms, norms)
    return dist[0, 1:], dist[1:, 1:]


def perturbation_distances(model, seeds, *, alpha: float = ALPHA, include: str = "parameters",
                           measure: str | None = None, progress: bool = True) -> dict:
    """Cosine distances of Eq. 3 networks to the original and to each other, without building them.

    Streams the tensors once; for each tensor the noise of every seed is drawn from that seed's
    generator (the same order and float32 arithmetic as :func:`perturb`, so the numbers are those of
    the networks :func:`perturb` makes) and float64 dot products are accumulated. Peak memory:
    K+1 copies of the largest tensor (33 MB each for BigGAN's ``gen_z``).

    Args:
        model: the original network (left untouched).
        seeds: K network seeds.
        alpha: deformation magnitude.
        include: tensors perturbed (``"parameters"`` or ``"all"``).
        measure: tensors the distance runs over (default: ``include``); ``"all"`` with
            ``include="parameters"`` adds the unperturbed buffers to the vectors.
        progress: tqdm bar over tensors.

    Returns:
        dict with ``seeds``, ``to_original`` (K,) and ``pairwise`` (K, K) float64 distances, and the
        squared norms ``perturbed_norm2``/``total_norm2`` of the original over the measured tensors
        (their ratio is :func:`analytic_distance`'s ``fraction``).

    Used in: notebook 05 (p2-distance-vs-alpha.png) through
        :func:`helpers.synthesis.biggan_distances.distance_sweep`.
    """
    check_include(include)
    measure = measure or include
    check_include(measure)
    if include == "all" and measure == "parameters":
        raise ValueError("measure='parameters' with include='all' would skip perturbed buffers; use measure='all'")
    seeds = [int(s) for s in seeds]
    gram, rest = _gram(model, seeds, alpha, include, progress)
    p2 = gram[0, 0]
    if measure == "all":
        gram = gram + rest
    to_original, pairwise = _distances(gram)
    return {"seeds": seeds, "to_original": to_original, "pairwise": pairwise, "perturbed_norm2": p2,
            "total_norm2": gram[0, 0]}


def _summary(values) -> dict:
    v = np.asarray(values, dtype=float)
    return {"n": v.size, "mean": v.mean(), "sd": v.std(ddof=1) if v.size > 1 else np.nan, "min": v.min(), "max": v.max()}


def distance_table(model, seeds, *, alpha: float = ALPHA, progress: bool = True):
    """Measured vs analytic vs reported cosine distances of Eq. 3 networks (p2-distances.csv).

    Three variants: perturb the trainable parameters and measure over them (default), perturb
    and measure the whole state dict (``include="all"``), and perturb the parameters but measure
    over the whole state dict (the unperturbed buffers dilute the distance: ``fraction`` < 1).

    Returns:
        pandas.DataFrame, one row per (variant, comparison) with n, mean, sd, min, max of the
        measured distances over ``seeds`` (pairs for "perturbed vs perturbed"), the analytic
        expectation and the paper's value.

    Used in: notebook 05 (p2-distances.csv).
    """
    seeds = [int(s) for s in seeds]
    rows = []
    iu = np.triu_indices(len(seeds), k=1)
    grams = {include: _gram(model, seeds, alpha, include, progress) for include in ("parameters", "all")}
    for include, measure in [("parameters", "parameters"), ("all", "all"), ("parameters", "all")]:
        gram, rest = grams[include]
        total = gram + rest if measure == "all" else gram
        r = dict(zip(("to_original", "pairwise"), _distances(total)))
        f = gram[0, 0] / total[0, 0]
        for comp, values, between in [("perturbed vs original", r["to_original"], False),
                                      ("perturbed vs perturbed", r["pairwise"][iu], True)]:
            key = "perturbed_vs_perturbed" if between else "perturbed_vs_original"
            rows.append({"perturbed": include, "measured_over": measure, "comparison": comp, "alpha": alpha,
                         "seeds": f"{min(seeds)}-{max(seeds)}", **_summary(values),
                         "analytic": float(analytic_distance(alpha, fraction=f, between_perturbed=between)),
                         "perturbed_share_of_norm2": f, "paper": PAPER_DISTANCES[key]})
    return pd.DataFrame(rows)


def distance_sweep(model, alphas, seeds, *, include: str = "parameters", progress: bool = True):
    """Measured (mean, sd over seeds / pairs) and analytic distances for each alpha (long DataFrame).

    Used in: notebook 05 (p2-distance-vs-alpha.png).
    """
    rows = []
    iu = np.triu_indices(len(seeds), k=1)
    for a in tqdm(list(alphas), disable=not progress, desc="alphas"):
        r = perturbation_distances(model, seeds, alpha=float(a), include=include, progress=False)
        for comp, values, between in [("perturbed vs original", r["to_original"], False),
                                      ("perturbed vs perturbed", r["pairwise"][iu], True)]:
            rows.append({"alpha": float(a), "comparison": comp, **_summary(values),
                         "analytic": float(analytic_distance(a, between_perturbed=between))})
    return pd.DataFrame(rows)

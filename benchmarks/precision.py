"""Benchmark: are bf16 DeepDream stimuli the same stimuli *as the study measures them*? (issue 22)

The same (layer, start image) pairs are dreamed three ways:

* ``fp32_2t``: float32 on 2 torch threads -- the reference;
* ``fp32_1t``: float32 on 1 thread -- float32's own spread (a thread-count change alone);
* ``bf16``: ``precision="bf16"`` on 2 threads.

All three use the default engine (:func:`helpers.synthesis.dream.check_engine`: the fused engine on a CPU).
Every column of the features table (notebook 02's measure groups ``paper1``, ``spectrum``, ``edges``,
``aesthetics``, :func:`helpers.measures.table.measure`) is computed for every image. Per measure:

* ``|bf16 - fp32|`` (mean over the pairs) beside ``|fp32(1t) - fp32(2t)|``, both in units of the
  between-seed standard deviation within a layer (fp32 2t, pooled over layers: the spread of the
  measure among the study's five images of one layer);
* a TOST (two one-sided paired t-tests) of the mean bf16 - fp32 shift against the margin +-0.2 sd;
  ``pass`` when both one-sided p < 0.05 (the 90% CI of the mean shift lies inside the margin).

Also: a figure of fp32 / fp32 1 thread / bf16 side by side for six layers; the per-step gradient
error against float64 (one tile, every layer of the run, fp32 and bf16, fused engine and autograd);
and the settling of the comparison over renders (the same statistics at earlier render counts for
the settling seeds), so that a run with fewer renders than the paper's 50 shows whether its verdict
would move with more.

Weights: the rehearsal stand-in ``tensorflow_inception_graph.pb`` in the real format
(:func:`helpers.testing.rehearsal.write_inception5h_graph`) unless ``--weights`` names the real file;
AlexNet's conv1 (the CNN measures) likewise the rehearsal stand-in unless ``NA_WEIGHTS_ALEXNET`` is set.
Start images: the study's five (:func:`helpers.synthesis.start_images.start_images` ``"study"``; where they
cannot be had offline, seeded noise of the same statistics, which the output says).

The paper's size (800 px x 5 octaves x 50 renders x 12 layers x 5 starts x 3 ways) is days of CPU on
2 cores: ``--size/--octaves/--renders`` choose what runs and every output states it. Resumable and
shardable: each image is written atomically under ``--out`` and skipped when present; ``--shard i
--n-shards n`` splits the dreams and the measuring; ``--stage report`` only reads what is there.

Usage: ``python benchmarks/precision.py [--size 128 --octaves 3 --renders 20] [--shard 0 --n-shards 2]
[--stage dream|measure|report|all]``
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers import io  # noqa: E402  (helpers before torch: its OpenMP setting)
from helpers.nets import graphdef, models  # noqa: E402
from helpers.synthesis import dream, start_images, threads as synthesis_threads  # noqa: E402
from helpers.testing import machine  # noqa: E402
from helpers.testing import rehearsal  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

OUT = Path(__file__).resolve().parent / "out" / "precision"
#: >= 12 layers over the depth: conv2d0, an LRN layer, mixed3a..mixed5b, a pool branch, a 5x5 branch, a head
LAYERS = ("conv2d0", "localresponsenorm1", "mixed3a", "mixed3b", "mixed4a", "mixed4b_pool_reduce", "mixed4c",
          "mixed4d_5x5", "mixed4e", "mixed5a", "mixed5b", "head1_bottleneck")
FIGURE_LAYERS = ("conv2d0", "localresponsenorm1", "mixed3b", "mixed4c", "mixed5b", "head1_bottleneck")
WAYS = {"fp32_2t": ("fp32", 2), "fp32_1t": ("fp32", 1), "bf16": ("bf16", 2)}
MEASURE_GROUPS = ("paper1", "spectrum", "edges", "aesthetics")  # notebook 02's MEASURES
MARGIN = 0.2  # TOST margin in between-seed sd (issue 22)
ALPHA = 0.05


def setup(out: Path, weights=None, *, load=True):
    """(model or None, weights label) for the run (``load=False``: the measuring stage needs no network)."""
    out.mkdir(parents=True, exist_ok=True)
    if not os.environ.get("NA_WEIGHTS_ALEXNET"):
        os.environ["NA_WEIGHTS_ALEXNET"] = str(rehearsal.write_alexnet(out / "weights"))
    if not load:
        return None, (f"real weights {Path(weights).name}" if weights else "STAND-IN weights")
    if weights:
        model, label = graphdef.from_file(weights), f"real weights {Path(weights).name}"
    else:
        pb = rehearsal.write_inception5h_graph(out / "weights" / "tensorflow_inception_graph.pb", seed=0)
        model, label = graphdef.from_file(pb), "STAND-IN weights (rehearsal tensorflow_inception_graph.pb, seed 0)"
    return model, label


def starts(seeds, size):
    try:
        got = start_images.start_images("study", seeds, size=size, progress=False)
        note = "the study's start images"
    except Exception as exc:  # noqa: BLE001 - offline: say so and use the documented fallback
        got = start_images.start_images("noise", seeds, size=size)
        note = f"seeded noise of the study's statistics (study PNGs unavailable: {type(exc).__name__})"
    return got, note


def image_path(out, way, layer, seed, r):
    return out / "images" / way / layer / f"s{seed}_r{r:03d}.png"


def jobs(args):
    """(way, layer, seed) of this shard, seed-major: an interrupted run leaves whole seeds (every layer, every way)."""
    return [(w, layer, s) for s in args.seeds for layer in args.layers for w in WAYS][args.shard::args.n_shards]


def dream_all(args, model, start):
    """Dream every job of this shard not yet on disk; keeps the checkpoint renders too."""
    keep = sorted(set(args.checkpoints) | {args.renders})
    for way, layer, seed in jobs(args):
        final = image_path(args.out, way, layer, seed, args.renders)
        if final.exists():
            continue
        precision, n_threads = WAYS[way]
        t0 = time.perf_counter()
        kept = {}

        def cb(r, im, kept=kept):
            if r + 1 in keep:
                kept[r + 1] = dream.to_uint8(im)

        with synthesis_threads.torch_threads(n_threads):
            dream.dream(model, layer, start[seed][0], n_renders=args.renders, octave_n=args.octaves, seed=seed,
                        precision=precision, callback=cb)
        for r, im in kept.items():
            if r != args.renders:
                io.save_image(im, image_path(args.out, way, layer, seed, r))
        io.save_image(kept[args.renders], final)  # last: its presence marks the job done
        print(f"dreamed {way:8s} {layer:20s} seed {seed}: {time.perf_counter() - t0:6.1f} s", flush=True)


def measure_all(args):
    """Every column of the features table for each image of this shard (final renders; checkpoints of the
    settling seeds), one JSON per image, atomically."""
    from helpers.measures import aesthetics_cnn, table

    cnn = aesthetics_cnn.alexnet_conv1(progress=False)
    finals, checks = [], []  # every final render first (the table), then the settling checkpoints
    for way, layer, seed in jobs(args):
        for r in [args.renders] + ([r for r in args.checkpoints if r < args.renders] if seed in args.settle_seeds else []):
            p = image_path(args.out, way, layer, seed, r)
            j = p.with_suffix(".json")
            if p.exists() and not j.exists():
                (finals if r == args.renders else checks).append((p, j))
    todo = finals + checks
    for i, (p, j) in enumerate(todo):
        t0 = time.perf_counter()
        row = table.measure(io.read_image(p), measures=MEASURE_GROUPS[:-1] + (("aesthetics", {"cnn": cnn}),))
        io.save_json({k: (float(v) if isinstance(v, (int, float, np.floating, np.integer)) else v)
                      for k, v in row.items()}, j)
        print(f"measured {i + 1}/{len(todo)} {p.relative_to(args.out)} {time.perf_counter() - t0:.1f} s", flush=True)


def load_measures(args, r):
    """DataFrame (way, layer, seed, measure columns...) of render ``r``."""
    import pandas as pd

    rows = []
    for layer in args.layers:
        for seed in args.seeds:
            for way in WAYS:
                j = image_path(args.out, way, layer, seed, r).with_suffix(".json")
                if j.exists():
                    rows.append({"way": way, "layer": layer, "seed": seed, **json.loads(j.read_text())})
    return pd.DataFrame(rows)


def compare(df):
    """Per measure: |bf16-fp32|/sd, |fp32 1t - 2t|/sd, mean shift, TOST p and verdict (see module docstring)."""
    import pandas as pd
    from scipy import stats

    cols = [c for c in df.columns if c not in ("way", "layer", "seed", "width", "height", "image_size",
                                               "aspect_ratio") and not c.startswith("_")]
    wide = df.pivot_table(index=["layer", "seed"], columns="way", values=cols)
    ref = df[df.way == "fp32_2t"]
    out = []
    for c in cols:
        try:
            a, b, t1 = wide[c]["fp32_2t"], wide[c]["bf16"], wide[c]["fp32_1t"]
        except KeyError:
            continue
        ok = a.notna() & b.notna() & t1.notna()
        a, b, t1 = a[ok], b[ok], t1[ok]
        var = ref.groupby("layer")[c].var(ddof=1)
        sd = float(np.sqrt(var.mean()))  # pooled between-seed sd within a layer
        d, dt = (b - a).to_numpy(float), (t1 - a).to_numpy(float)
        n = len(d)
        if n < 3 or not np.isfinite(sd):
            continue
        m, se = d.mean(), d.std(ddof=1) / np.sqrt(n)
        delta = MARGIN * sd
        def tost_p(m, se):
            if se == 0:
                return 0.0 if abs(m) < delta else 1.0
            return max(stats.t.sf((m + delta) / se, n - 1), stats.t.cdf((m - delta) / se, n - 1))

        p = tost_p(m, se)
        # the same test of fp32's own 1-thread shift: how the margin fares against a mere thread-count change
        p_thread = tost_p(dt.mean(), dt.std(ddof=1) / np.sqrt(n))
        h = stats.t.ppf(1 - ALPHA, n - 1) * se
        out.append(dict(measure=c, n=n, between_seed_sd=sd, bf16_abs_sd=np.abs(d).mean() / sd if sd else np.nan,
                        thread_abs_sd=np.abs(dt).mean() / sd if sd else np.nan,
                        shift_sd=m / sd if sd else np.nan, ci90_lo_sd=(m - h) / sd if sd else np.nan,
                        ci90_hi_sd=(m + h) / sd if sd else np.nan, tost_p=p,
                        tost=("n/a" if sd == 0 else "pass" if p < ALPHA else "FAIL"),
                        thread_shift_sd=dt.mean() / sd if sd else np.nan, thread_tost_p=p_thread,
                        thread_tost=("n/a" if sd == 0 else "pass" if p_thread < ALPHA else "FAIL")))
    return pd.DataFrame(out)


def gradient_errors(model, layers, start, size=128):
    """Per layer: one tile's gradient against float64 (relative L2, cosine), fp32/bf16 x fused/autograd."""
    import copy

    import pandas as pd

    m64 = copy.deepcopy(model).double()
    x = torch.as_tensor(start.astype(np.float32)[:size, :size]).permute(2, 0, 1)[None]
    rows = []
    for layer in layers:
        truth = dream.Dreamer(m64, layer, fast=False, engine="autograd").tile_grads(x.double())
        for precision in ("fp32", "bf16"):
            for engine in ("fused", "autograd"):
                g = dream.Dreamer(model, layer, precision=precision, engine=engine).tile_grads(x).double()
                rows.append(dict(layer=layer, precision=precision, engine=engine,
                                 rel_l2=float((g - truth).norm() / truth.norm()),
                                 cosine=float((g * truth).sum() / g.norm() / truth.norm())))
    return pd.DataFrame(rows)


def figure(args, path, note):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seed = args.seeds[0]
    layers = [layer for layer in FIGURE_LAYERS if layer in args.layers]
    fig, axes = plt.subplots(len(layers), 3, figsize=(7.5, 2.5 * len(layers)), squeeze=False)
    for i, layer in enumerate(layers):
        for k, way in enumerate(WAYS):
            ax = axes[i, k]
            p = image_path(args.out, way, layer, seed, args.renders)
            if p.exists():
                ax.imshow(io.read_image(p), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title({"fp32_2t": "fp32, 2 threads\n(reference)", "fp32_1t": "fp32, 1 thread",
                              "bf16": "bf16, 2 threads"}[way], fontsize=10)
            if k == 0:
                ax.set_ylabel(layer, fontsize=9)
    fig.suptitle(textwrap.fill(f"Same layer and start image, three ways (seed {seed}; {note})", 95), fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def settling_figure(curves, path, note):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for c, g in curves.groupby("measure"):
        g = g.sort_values("renders")
        axes[0].plot(g.renders, g.bf16_abs_sd, color="C3", alpha=0.35, lw=1)
        axes[0].plot(g.renders, g.thread_abs_sd, color="C0", alpha=0.35, lw=1)
        axes[1].plot(g.renders, g.shift_sd, color="C3", alpha=0.35, lw=1)
    med = curves.groupby("renders")[["bf16_abs_sd", "thread_abs_sd", "shift_sd"]].median()
    axes[0].plot(med.index, med.bf16_abs_sd, "o-", color="C3", lw=2.5, label="|bf16 - fp32| (median measure)")
    axes[0].plot(med.index, med.thread_abs_sd, "o-", color="C0", lw=2.5, label="|fp32 1t - fp32 2t| (median)")
    axes[0].set_ylabel("mean |difference| / between-seed sd")
    axes[1].plot(med.index, med.shift_sd, "o-", color="C3", lw=2.5, label="mean bf16 - fp32 shift (median)")
    for y in (-MARGIN, MARGIN):
        axes[1].axhline(y, ls="--", color="k", lw=1)
    axes[1].set_ylabel("mean shift / between-seed sd")
    axes[1].set_title("dashed: the TOST margin +-0.2 sd", fontsize=8)
    for ax in axes:
        ax.set_xlabel("renders")
        ax.legend(fontsize=8)
    fig.suptitle(textwrap.fill(f"Settling over renders, one line per measure ({note})", 140), fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(args, model, start, weights_label, start_note):
    import pandas as pd

    note = (f"{args.size} px, {args.octaves} octaves, {args.renders} renders, {len(args.layers)} layers x "
            f"{len(args.seeds)} starts x 3 ways; {weights_label}; {start_note}")
    df = load_measures(args, args.renders)
    expected = len(args.layers) * len(args.seeds) * len(WAYS)
    print(f"\n== precision benchmark: size run = {note}\n   measured images at render {args.renders}: "
          f"{len(df)}/{expected}; machine: {machine.describe()}")
    if df.empty:
        print("nothing measured yet")
        return
    tab = compare(df)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_rows", 200)
    print("\nPer measure (units: between-seed sd within a layer; TOST margin +-0.2 sd, alpha 0.05):")
    print(tab.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    failed = list(tab.loc[tab.tost == "FAIL", "measure"])
    print(f"\nTOST: {int((tab.tost == 'pass').sum())}/{int((tab.tost != 'n/a').sum())} testable measures pass; "
          f"FAIL: {', '.join(failed) or 'none'}; fp32 1 thread vs 2 threads, same test: "
          f"{int((tab.thread_tost == 'pass').sum())} pass, FAIL: {', '.join(tab.loc[tab.thread_tost == 'FAIL', 'measure'])}")
    print("Rule: " + ("bf16 may become precision='auto' on hardware with bf16 matrix units" if not failed else
                      "fp32 stays the default (precision='auto' = fp32); failing measures: " + ", ".join(failed)))
    res = args.out / f"table-{args.size}px-{args.renders}r.csv"
    io.save_table(tab, res) if hasattr(io, "save_table") else tab.to_csv(res, index=False)
    curves = []
    for r in sorted(set(args.checkpoints) | {args.renders}):
        d = load_measures(args, r)
        d = d[d.seed.isin(args.settle_seeds)] if r != args.renders else d[d.seed.isin(args.settle_seeds)]
        if len(d) and d.seed.nunique() >= 1:
            # the sd is the full run's between-seed sd (the settling seeds alone cannot give one)
            t = compare_with_sd(d, tab)
            t["renders"] = r
            curves.append(t)
    if curves:
        curves = pd.concat(curves)
        io.save_table(curves, args.out / "settling.csv") if hasattr(io, "save_table") else curves.to_csv(
            args.out / "settling.csv", index=False)
        med = curves.groupby("renders")[["bf16_abs_sd", "thread_abs_sd", "shift_sd"]].median()
        print(f"\nSettling (seeds {args.settle_seeds}; median over measures, units of the full run's between-seed sd):")
        print(med.to_string(float_format=lambda v: f"{v:.3f}"))
        settling_figure(curves, args.out / "precision-settling.png", note)
    figure(args, args.out / "precision-three-ways.png", note)
    print(f"\nfigures: {args.out / 'precision-three-ways.png'}, {args.out / 'precision-settling.png'}")
    ge = gradient_errors(model, args.layers, start[args.seeds[0]][0], size=min(args.size, 128))
    print("\nPer-step gradient error against float64 (one 128-px tile, relative L2 / cosine):")
    print(ge.pivot_table(index="layer", columns=["precision", "engine"], values="rel_l2").to_string(
        float_format=lambda v: f"{v:.2e}"))
    ge.to_csv(args.out / "gradient-error.csv", index=False)
    with open(args.out / "verdict.json", "w") as f:
        json.dump({"size_run": note, "failed_measures": failed, "n_measures": int(len(tab)),
                   "passed": not failed}, f, indent=1)


def compare_with_sd(d, full):
    """Mean |bf16 - fp32| and |1t - 2t| and the mean shift of ``d``, in units of ``full``'s between-seed sd."""
    import pandas as pd

    sd = dict(zip(full.measure, full.between_seed_sd))
    wide = d.pivot_table(index=["layer", "seed"], columns="way", values=[c for c in sd if c in d.columns])
    rows = []
    for c, s in sd.items():
        if c not in wide.columns.get_level_values(0) or not s:
            continue
        a, b, t1 = wide[c]["fp32_2t"], wide[c]["bf16"], wide[c]["fp32_1t"]
        rows.append(dict(measure=c, bf16_abs_sd=float(np.abs(b - a).mean() / s),
                         thread_abs_sd=float(np.abs(t1 - a).mean() / s), shift_sd=float((b - a).mean() / s)))
    return pd.DataFrame(rows)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--octaves", type=int, default=3)
    p.add_argument("--renders", type=int, default=20)
    p.add_argument("--checkpoints", type=int, nargs="*", default=[5, 10], help="earlier renders kept (settling)")
    p.add_argument("--settle-seeds", type=int, nargs="*", default=[0], help="seeds whose checkpoints are measured")
    p.add_argument("--layers", nargs="+", default=list(LAYERS))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--weights", default=None, help="real inception5h .pb/.zip (default: the rehearsal stand-in)")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--shard", type=int, default=0)
    p.add_argument("--n-shards", type=int, default=1)
    p.add_argument("--stage", choices=("dream", "measure", "report", "all"), default="all")
    args = p.parse_args(argv)
    if not 0 <= args.shard < args.n_shards:
        raise SystemExit(f"--shard must be in 0..{args.n_shards - 1}, got {args.shard}")
    args.out = args.out or OUT / f"{args.size}px-{args.octaves}oct-{args.renders}r"
    model, weights_label = setup(args.out, args.weights, load=args.stage != "measure")
    start, start_note = starts(args.seeds, args.size)
    print(f"precision benchmark: {args.size} px, {args.octaves} octaves, {args.renders} renders, layers {args.layers}, "
          f"seeds {args.seeds}, shard {args.shard}/{args.n_shards}; {weights_label}; {start_note}; out {args.out}",
          flush=True)
    if args.stage in ("dream", "all"):
        dream_all(args, model, start)
    if args.stage in ("measure", "all"):
        measure_all(args)
    if args.stage in ("report", "all"):
        report(args, model, start, weights_label, start_note)


if __name__ == "__main__":
    main()

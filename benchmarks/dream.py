"""Benchmark: DeepDream of one image, reference port vs helpers.dream, side by side in one process.

Reference (``helpers.dream._reference_dream``): a straight port of the study's TF1 loop -- NumPy HWC
image, ``np.roll``, one tile at a time, full-depth forward (all 144 layers per tile), float32.
Ours (``helpers.dream.dream``): truncated forward (only the target layer's ancestors), torch image
kept on the device, no NumPy round trips. Both use the random stand-in (same architecture and
FLOPs as the pretrained inception5h, which is not available here).

Configurations: "paper" (800x800, 50 renders, 5 octaves, 512-px tiles) and "reduced" (smaller image,
fewer renders). ``--quick``: paper size with 1 render, reduced at 128 px / 3 renders.

Agreement metric: the uint8 outputs of both, per layer: max |diff|, share of differing pixel
values, PSNR (dB). Time: median of ``--repeats`` interleaved runs (ref, ours, ref, ours, ...).

The 720-image estimate: time per render of ours is fitted as ``a + b * MACs(layer)`` over the
measured layers (MACs of the truncated forward, :func:`helpers.inception.flops`) and summed over
all 144 layers x 5 seeds x 50 renders; the reference costs the same for every layer (full depth),
so its estimate is the mean measured reference time per render x 720 x 50.

Usage: ``python benchmarks/dream.py [--quick] [--layers conv2d2 mixed4c ...] [--repeats 3]``
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers import dream, inception  # noqa: E402


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def run_config(model, layers, *, size, renders, octave_n, repeats, tile_size=512, label=""):
    img = dream.noise_image(0, size)
    kw = dict(n_renders=renders, iter_n=1, step=2.0, octave_n=octave_n, octave_scale=1.4, tile_size=tile_size, seed=0)
    rows = []
    for layer in layers:
        t_ref, t_ours = [], []
        for _ in range(repeats):
            ref, dt = timed(lambda: dream._reference_dream(model, layer, img, **kw))
            t_ref.append(dt)
            ours, dt = timed(lambda: dream.dream(model, layer, img, **kw))
            t_ours.append(dt)
        d = np.abs(ref.astype(int) - ours)
        rows.append(dict(config=label, layer=layer, size=size, renders=renders, ref_s=statistics.median(t_ref),
                         ours_s=statistics.median(t_ours), max_abs=int(d.max()), frac_diff=float((d > 0).mean()),
                         psnr=psnr(ref, ours)))
        r = rows[-1]
        print(f"{label:8s} {layer:28s} {size:5d} {renders:4d} {r['ref_s']:9.2f} {r['ours_s']:9.2f} "
              f"{r['ref_s'] / r['ours_s']:6.2f}x {r['max_abs']:5d} {r['frac_diff']:9.2e} {r['psnr']:7.1f}", flush=True)
    return rows


def estimate_720(rows, *, renders_full=50, n_seeds=5):
    """Seconds for the full job at the measured size, from per-render times of the measured layers."""
    x = np.array([inception.flops(r["layer"], r["size"]) for r in rows])
    y_ours = np.array([r["ours_s"] / r["renders"] for r in rows])
    y_ref = np.array([r["ref_s"] / r["renders"] for r in rows])
    b, a = np.polyfit(x, y_ours, 1) if len(rows) > 1 else (y_ours[0] / x[0], 0.0)
    per_layer = [max(a + b * inception.flops(layer, rows[0]["size"]), 0.05 * y_ours.min()) for layer in dream.LAYERS]
    ours = sum(per_layer) * n_seeds * renders_full
    ref = float(y_ref.mean()) * len(dream.LAYERS) * n_seeds * renders_full
    return ref, ours


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="paper size with 1 render; reduced config at 128 px / 3 renders")
    p.add_argument("--layers", nargs="+", default=["conv2d2", "mixed3b_5x5", "mixed4c", "mixed5b"])
    p.add_argument("--repeats", type=int, default=None, help="interleaved repeats per layer (median reported)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--skip-paper", action="store_true", help="only the reduced configuration")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = inception.random_model(seed=0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device cpu, stand-in weights (same FLOPs)")
    print("agreement: uint8 outputs of reference vs ours: max |diff|, share of differing values, PSNR dB")
    print(f"{'config':8s} {'layer':28s} {'size':>5s} {'rend':>4s} {'ref_s':>9s} {'ours_s':>9s} {'ratio':>7s} "
          f"{'maxd':>5s} {'frac_diff':>9s} {'psnr':>7s}")
    reduced = dict(size=128, renders=3, octave_n=3) if args.quick else dict(size=224, renders=5, octave_n=4)
    rows = run_config(model, args.layers, repeats=args.repeats or (1 if args.quick else 3), label="reduced", **reduced)
    paper = []
    if not args.skip_paper:
        paper = run_config(model, args.layers, repeats=args.repeats or 1, label="paper", size=800,
                           renders=1 if args.quick else 50, octave_n=5)
    for name, rs in (("reduced", rows), ("paper", paper)):
        if not rs:
            continue
        tr, to = sum(r["ref_s"] for r in rs), sum(r["ours_s"] for r in rs)
        print(f"{name}: total ref {tr:.1f} s, ours {to:.1f} s, ratio {tr / to:.2f}x (median per layer "
              f"{statistics.median(r['ref_s'] / r['ours_s'] for r in rs):.2f}x); worst max|diff| "
              f"{max(r['max_abs'] for r in rs)}, min PSNR {min(r['psnr'] for r in rs):.1f} dB")
    if paper:
        ref, ours = estimate_720(paper)
        print(f"estimated full 720-image job (800 px, 50 renders, 5 octaves) on this machine: reference "
              f"{ref / 3600:.0f} h, ours {ours / 3600:.0f} h, ratio {ref / ours:.2f}x "
              f"(layer costs fitted on MACs of the truncated forward over {len(paper)} layers)")


if __name__ == "__main__":
    main()

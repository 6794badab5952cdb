"""Benchmark: issue 22's list of DeepDream speed ideas, each measured (``python benchmarks/dream.py --ideas``).

One 512-px tile gradient (d mean(layer) / d input: the unit of work of a render; an 800-px render is
about five tile-equivalents) per variant, all variants interleaved in one process, median of
``repeats``; the ratio is the variant's speed over its baseline's in the same run:

==============================================  ==========================================================
idea                                            variant vs baseline
==============================================  ==========================================================
channels-last throughout                        autograd path channels-last vs NCHW
activations in bf16 end to end                  fused engine bf16 vs fused fp32
bf16 by autocast (the earlier path)             autograd + autocast bf16 vs autograd fp32
oneDNN implicit fp32->bf16 (mkldnn fp32_precision)  fused fp32 with ``torch.backends.mkldnn.fp32_precision="bf16"``
fused conv + bias + ReLU (oneDNN post-op)       fused engine with vs without ``_convolution_pointwise``
fused ReLU backward + hand-written input grad   fused engine (no post-op, torch.cat) vs autograd (what is left)
one-buffer mixed blocks                         fused engine with one output buffer vs ``torch.cat``
the tiles of one octave as one batch            two 512-px tiles as one batch vs one at a time (at 800 px
                                                no two tiles of an octave share a shape: nothing to batch)
torch.compile (inductor, on-disk cache)         compiled autograd forward+backward vs autograd, in a
                                                subprocess with a time limit (graceful fallback)
==============================================  ==========================================================
"""
from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers.nets import inception, inception_fast  # noqa: E402
from helpers.synthesis import dream, start_images, threads as synthesis_threads  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"


def autograd_grad(model, layer, x, *, channels_last=True, autocast=False):
    """The autograd path's tile gradient, with channels-last and bf16 autocast as switches."""
    x = x.detach()
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    with torch.enable_grad(), inception.input_grad_only(model):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            out = model(x, layer)
        score = out.float().mean(dim=(1, 2, 3)).sum()
        (g,) = torch.autograd.grad(score, x)
    return g


@contextlib.contextmanager
def mkldnn_implicit_bf16(on=True):
    """``torch.backends.mkldnn.fp32_precision = "bf16"`` (oneDNN may compute float32 convolutions and matrix
    products in bf16) for the block."""
    old = torch.backends.mkldnn.fp32_precision
    if on:
        torch.backends.mkldnn.fp32_precision = "bf16"
    try:
        yield
    finally:
        torch.backends.mkldnn.fp32_precision = old


def variants(model, layer, x):
    f32 = inception_fast.FusedInception(model, layer)
    bf = inception_fast.FusedInception(model, layer, dtype=torch.bfloat16)
    nopw = inception_fast.FusedInception(model, layer, fuse_pointwise=False)
    cat = inception_fast.FusedInception(model, layer, one_buffer=False)
    plain = inception_fast.FusedInception(model, layer, fuse_pointwise=False, one_buffer=False)
    x2 = torch.cat([x, x.flip(-1)])

    def implicit():
        with mkldnn_implicit_bf16():
            return f32.input_grad(x)

    def implicit_autograd():
        with mkldnn_implicit_bf16():
            return autograd_grad(model, layer, x)

    return {
        "autograd_fp32": lambda: autograd_grad(model, layer, x),
        "autograd_nchw": lambda: autograd_grad(model, layer, x, channels_last=False),
        "autograd_autocast_bf16": lambda: autograd_grad(model, layer, x, autocast=True),
        "autograd_mkldnn_bf16": implicit_autograd,
        "fused_fp32": lambda: f32.input_grad(x),
        "fused_bf16": lambda: bf.input_grad(x),
        "fused_mkldnn_bf16": implicit,
        "fused_no_postop": lambda: nopw.input_grad(x),
        "fused_cat": lambda: cat.input_grad(x),
        "fused_plain": lambda: plain.input_grad(x),
        "fused_two_tiles_batched": lambda: f32.input_grad(x2),
        "fused_two_tiles_sequential": lambda: (f32.input_grad(x2[:1]), f32.input_grad(x2[1:])),
    }


#: (idea, variant, baseline)
IDEAS = (("channels-last throughout", "autograd_fp32", "autograd_nchw"),
         ("activations in bf16 end to end", "fused_bf16", "fused_fp32"),
         ("bf16 by autocast (earlier path)", "autograd_autocast_bf16", "autograd_fp32"),
         ("oneDNN implicit bf16 (mkldnn), fused", "fused_mkldnn_bf16", "fused_fp32"),
         ("oneDNN implicit bf16 (mkldnn), autograd", "autograd_mkldnn_bf16", "autograd_fp32"),
         ("fused conv+bias+ReLU (oneDNN post-op)", "fused_fp32", "fused_no_postop"),
         ("hand-written input grad + fused ReLU bwd", "fused_plain", "autograd_fp32"),
         ("one-buffer mixed blocks", "fused_fp32", "fused_cat"),
         ("two tiles as one batch", "fused_two_tiles_batched", "fused_two_tiles_sequential"),
         ("all kept fp32 changes together", "fused_fp32", "autograd_fp32"))


def run_ideas(layers=("conv2d2", "mixed4c", "mixed5b"), *, threads=2, size=512, repeats=3, compile_timeout=420,
              only=None):
    """Prints and returns the ideas table (speed ratio variant/baseline per layer, geometric mean); ``only``: time
    just these variants (ideas whose variants were not timed are left out; no torch.compile)."""
    model = inception.random_model(seed=0)
    x = torch.as_tensor(start_images.noise_image(0, size).astype(np.float32)).permute(2, 0, 1)[None]
    med = {}
    with synthesis_threads.torch_threads(threads):
        for layer in layers:
            fns = {k: f for k, f in variants(model, layer, x).items() if not only or k in only}
            for f in fns.values():
                f()  # warm-up (oneDNN primitive creation)
            times = {k: [] for k in fns}
            for _ in range(repeats):
                for k, f in fns.items():
                    t0 = time.perf_counter()
                    f()
                    times[k].append(time.perf_counter() - t0)
            med[layer] = {k: statistics.median(v) for k, v in times.items()}
            print(f"{layer}: " + ", ".join(f"{k} {v:.2f}s" for k, v in med[layer].items()), flush=True)
    comp = {} if only else compile_ratio(layers, threads=threads, size=size, timeout=compile_timeout)
    print(f"\nIdeas, one {size}-px tile gradient, {threads} threads, median of {repeats} interleaved; speed ratio "
          f"baseline time / variant time (>1: the idea helps); stand-in weights")
    print(f"{'idea':44s}" + "".join(f"{l:>10s}" for l in layers) + f"{'geo.mean':>10s}")
    rows = []
    for idea, var, base in IDEAS:
        if var not in med[layers[0]] or base not in med[layers[0]]:
            continue
        r = [med[l][base] / med[l][var] for l in layers]
        g = float(np.exp(np.mean(np.log(r))))
        print(f"{idea:44s}" + "".join(f"{v:9.2f}x" for v in r) + f"{g:9.2f}x")
        rows.append(dict(idea=idea, variant=var, baseline=base, **dict(zip(layers, r)), geomean=g))
    for layer, c in comp.items():
        print(f"torch.compile ({layer}): {c}")
    return rows, comp


_COMPILE_CHILD = r"""
import os, sys, time, statistics
sys.path.insert(0, os.getcwd())
from helpers.nets import inception
from helpers.synthesis import start_images
import numpy as np, torch
sys.path.insert(0, os.path.join(os.getcwd(), "benchmarks"))
from dream_ideas import autograd_grad
layer, size, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
model = inception.random_model(seed=0)
x = torch.as_tensor(start_images.noise_image(0, size).astype(np.float32)).permute(2, 0, 1)[None]
def grad(x):
    return autograd_grad(model, layer, x)
t0 = time.perf_counter()
try:
    cg = torch.compile(grad, dynamic=False)
    cg(x)
except Exception as exc:
    print("FAILED", type(exc).__name__, str(exc)[:200]); sys.exit(0)
tc = time.perf_counter() - t0
ref = grad(x); got = cg(x)
rel = float((got - ref).norm() / ref.norm())
a, b = [], []
for _ in range(3):
    t = time.perf_counter(); grad(x); a.append(time.perf_counter() - t)
    t = time.perf_counter(); cg(x); b.append(time.perf_counter() - t)
print("OK", tc, statistics.median(a), statistics.median(b), rel)
"""


def compile_ratio(layers, *, threads, size, timeout):
    """torch.compile of the autograd gradient, one subprocess per layer (cache on disk under
    ``benchmarks/out/inductor-cache``), bounded by ``timeout`` seconds: a failure or timeout is reported,
    not raised (the graceful fallback the issue asks of any compiled path)."""
    env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=str(OUT / "inductor-cache"))
    res = {}
    for layer in layers[:1] if timeout < 600 else layers:
        try:
            p = subprocess.run([sys.executable, "-c", _COMPILE_CHILD, layer, str(size), str(threads)],
                               capture_output=True, text=True, timeout=timeout, env=env,
                               cwd=str(Path(__file__).resolve().parents[1]))
            line = [l for l in p.stdout.splitlines() if l.startswith(("OK", "FAILED"))]
            if not line:
                res[layer] = f"failed: {p.stderr.strip().splitlines()[-1][:200] if p.stderr.strip() else 'no output'}"
            elif line[-1].startswith("FAILED"):
                res[layer] = line[-1]
            else:
                _, tc, a, b, rel = line[-1].split()
                res[layer] = (f"compile {float(tc):.0f} s (first call, cold cache), then {float(a) / float(b):.2f}x the "
                              f"autograd path ({float(b):.2f} vs {float(a):.2f} s per tile), rel. diff {float(rel):.1e}")
        except subprocess.TimeoutExpired:
            res[layer] = f"not finished within {timeout} s (compilation on 2 shared cores): fell back, not kept"
    return res

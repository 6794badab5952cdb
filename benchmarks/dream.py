"""Benchmark: DeepDream of one image, reference port vs helpers.synthesis.dream, side by side in one process.

Reference (``helpers.synthesis.dream.reference_dream``): a straight port of the study's TF1 loop -- NumPy HWC
image, ``np.roll``, one tile at a time, full-depth forward (all 144 layers per tile), float32, LRN as
torch's own ``F.local_response_norm`` (and torch-lucent) computes it.
Ours (``helpers.synthesis.dream.dream``, default ``fast=True``): truncated forward (only the target layer's
ancestors), channels-last convolutions, 1x1 convolutions as one matmul, LRN with a band-matrix
channel sum and its closed-form gradient, conv2d0's input gradient in sub-pixel form, torch image
kept on the device. Column ``exact``: ours with ``fast=False`` (truncation only; reproduces the
reference's bytes to max |diff| <= 1). Both use the random stand-in (same architecture and FLOPs
as the pretrained inception5h, which is not available here).

Configurations: "paper" (800x800, 50 renders, 5 octaves, 512-px tiles) and "reduced" (smaller image,
fewer renders). ``--quick``: paper size with 1 render, reduced at 128 px / 3 renders.

Agreement metric: PSNR (dB) and max |diff| of the uint8 outputs, ours vs reference, next to the
same for the reference against itself run on one torch thread ("ref spread"): DeepDream amplifies
float32 rounding over renders, so any change of rounding (thread count, library, device) moves the
result, and ours lands about as far from the reference as the reference from itself. (Per step,
``tests/test_dream.py`` checks both against a float64 run.) Time: median of ``--repeats`` interleaved
runs (ref, ours, exact, ...); with 1 render it includes first-call warm-up, which a 50-render job
amortises, so the ``--job`` figures are the better guide to the full job.

The 720-image estimate: time per render of ours is fitted as ``a + b * MACs(layer)`` over the
measured layers (MACs of the truncated forward, :func:`helpers.nets.inception.flops`) and summed over
all 144 layers x 5 seeds x 50 renders; the reference costs the same for every layer (full depth),
so its estimate is the mean measured reference time per render x 720 x 50.

``--job``: throughput of the whole-job function at 800 px: the reference loop image after image
vs ``dream.synthesize`` in one process (torch's threads) and with ``workers=2`` (two spawned
processes, one thread each), over the same images (``--layers`` x seeds 0 and 1, ``--job-renders``
renders each, process start-up and warm-up included).

``--tf``: the peer tool. The study's own TensorFlow loop (``benchmarks/dream_tf.py``, a re-statement of
``Image_Generation.py`` with the same TF ops; see its docstring for what had to be fixed to run it) on
the real-format stand-in ``tensorflow_inception_graph.pb`` (:func:`helpers.testing.rehearsal.write_inception5h_graph`),
against ours on the *same graph* (``inception.from_file`` of that .pb), side by side, interleaved
(TF published loop, TF gradient built once, ours fp32, ours bf16, per repeat), seconds per render
(the loop only: graph import and a warm-up excluded for both). TensorFlow runs in its own venv that
this script creates on demand under ``benchmarks/out/tf-venv`` (``pip install tensorflow-cpu``); it is
never a project dependency. Agreement: PSNR (dB) of each uint8 result against ours fp32 at the same
thread count (the "fp32 reference"), beside that reference against itself on 1 thread ("spread",
what a thread-count change alone does). ``--busy``: the same with a CPU-burning process beside it
(one core held; killed afterwards).

``--threading``: the OpenMP wait setting ``helpers`` makes (``GOMP_SPINCOUNT=1000``, see
``helpers._openmp_wait``) against passive waiting and libgomp's default, with 1, 2 and
``"auto"`` threads, on a quiet machine and beside a CPU-burning process; one fresh process per cell.

``--floor`` (also printed by ``--tf``): the float32 floor of one render, the multiply-adds of every
convolution's forward and input gradient at this machine's best dense float32 GEMM rate, beside a third
of TensorFlow's time (the issue's 3x target): where the floor is the larger, no float32 implementation
can reach 3x (:func:`fp32_floor`).

``--ideas``: issue 22's speed ideas, each measured against its baseline in one run (``benchmarks/dream_ideas.py``).

``--gpu-estimate``: a CUDA-event-timed estimate of the 720-image job on a GPU (:func:`gpu_estimate`):
run it on a machine with CUDA; no GPU figure was measured for this project.

Usage: ``python benchmarks/dream.py [--quick] [--job] [--layers conv2d2 mixed4c ...] [--repeats 3]``,
``python benchmarks/dream.py --tf [--busy] [--renders 3] [--threads 2]``, ``python benchmarks/dream.py --floor``,
``python benchmarks/dream.py --threading``
"""
from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# helpers before torch: it bounds OpenMP's spin-waiting (GOMP_SPINCOUNT), which libgomp reads once, when torch loads
from helpers.nets import graphdef, inception, layers as nets_layers
from helpers.synthesis import dream, dream_jobs, start_images, threads as synthesis_threads  # noqa: E402
from helpers.testing import machine  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def run_config(model, layers, *, size, renders, octave_n, repeats, tile_size=512, label="", spread=True):
    img = start_images.noise_image(0, size)
    kw = dict(n_renders=renders, iter_n=1, step=2.0, octave_n=octave_n, octave_scale=1.4, tile_size=tile_size, seed=0)
    rows = []
    for layer in layers:
        t_ref, t_ours, t_exact = [], [], []
        for _ in range(repeats):
            ref, dt = timed(lambda: dream.reference_dream(model, layer, img, **kw))
            t_ref.append(dt)
            ours, dt = timed(lambda: dream.dream(model, layer, img, **kw))
            t_ours.append(dt)
            exact, dt = timed(lambda: dream.dream(model, layer, img, fast=False, **kw))
            t_exact.append(dt)
        spread_psnr, spread_max = float("nan"), -1
        if spread:
            with synthesis_threads.torch_threads(1):
                ref1 = dream.reference_dream(model, layer, img, **kw)
            spread_psnr, spread_max = psnr(ref, ref1), int(np.abs(ref.astype(int) - ref1).max())
        d = np.abs(ref.astype(int) - ours)
        rows.append(dict(config=label, layer=layer, size=size, renders=renders, ref_s=statistics.median(t_ref),
                         ours_s=statistics.median(t_ours), exact_s=statistics.median(t_exact), max_abs=int(d.max()),
                         psnr=psnr(ref, ours), spread_psnr=spread_psnr, spread_max=spread_max,
                         exact_max=int(np.abs(ref.astype(int) - exact).max())))
        r = rows[-1]
        print(f"{label:8s} {layer:22s} {size:5d} {renders:4d} {r['ref_s']:8.2f} {r['exact_s']:8.2f} {r['ours_s']:8.2f} "
              f"{r['ref_s'] / r['exact_s']:6.2f}x {r['ref_s'] / r['ours_s']:6.2f}x {r['psnr']:6.1f} {r['max_abs']:4d} "
              f"{r['spread_psnr']:7.1f} {r['spread_max']:4d} {r['exact_max']:5d}", flush=True)
    return rows


def estimate_720(rows, *, key="ours_s", renders_full=50, n_seeds=5):
    """Seconds for the full job at the measured size: (reference, ours[key]) from per-render times."""
    x = np.array([inception.flops(r["layer"], r["size"]) for r in rows])
    y_ours = np.array([r[key] / r["renders"] for r in rows])
    y_ref = np.array([r["ref_s"] / r["renders"] for r in rows])
    b, a = np.polyfit(x, y_ours, 1) if len(rows) > 1 else (y_ours[0] / x[0], 0.0)
    per_layer = [max(a + b * inception.flops(layer, rows[0]["size"]), 0.05 * y_ours.min()) for layer in nets_layers.LAYERS]
    ours = sum(per_layer) * n_seeds * renders_full
    ref = float(y_ref.mean()) * len(nets_layers.LAYERS) * n_seeds * renders_full
    return ref, ours


def run_job(model, layers, *, renders, seeds=(0, 1)):
    """Whole-job throughput over ``layers`` x ``seeds``: reference image after image (measured on
    seed 0 and counted once per seed -- its cost does not depend on the seed: same shapes, same
    operations) vs ``synthesize`` with workers=1 and workers=2 (start-up, warm-up and the
    objective before/after included)."""
    import tempfile

    kw = dict(size=800, n_renders=renders, octave_n=5, progress=False)
    img = start_images.noise_image(0, 800)
    t_ref = 0.0
    for layer in layers:
        _, dt = timed(lambda: dream.reference_dream(model, layer, img, n_renders=renders, seed=0))
        t_ref += dt * len(seeds)
    times = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as d:
            _, times[workers] = timed(lambda: dream_jobs.synthesize(layers, list(seeds), d, model=model, workers=workers,
                                                               **kw))
    n = len(layers) * len(seeds)
    print(f"job: {n} images ({len(layers)} layers x {len(seeds)} seeds) x {renders} renders at 800 px: reference "
          f"{t_ref:.0f} s ({t_ref / n / renders:.2f} s/render); ours 1 process {times[1]:.0f} s "
          f"({times[1] / n / renders:.2f} s/render, {t_ref / times[1]:.2f}x); ours workers=2 {times[2]:.0f} s "
          f"({times[2] / n / renders:.2f} s/render, {t_ref / times[2]:.2f}x)", flush=True)
    return t_ref, times


# --- the peer tool: the study's TensorFlow loop -------------------------------------------------

OUT = Path(__file__).resolve().parent / "out"
TF_REQUIREMENT = "tensorflow-cpu>=2.15,<2.21"


def tf_python(venv=OUT / "tf-venv"):
    """Python of the TensorFlow venv, created on demand (``tensorflow-cpu`` from PyPI, never a project
    dependency)."""
    import subprocess

    py = Path(venv) / "bin" / "python"
    if py.exists() and subprocess.run([str(py), "-c", "import tensorflow"], capture_output=True).returncode == 0:
        return py
    print(f"creating {venv} with {TF_REQUIREMENT} (one time, ~600 MB)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", TF_REQUIREMENT], check=True)
    return py


@contextlib.contextmanager
def busy_core(on=True, *, seconds=3600):
    """A CPU-burning process beside the benchmark (one core held), bounded in time and killed after."""
    import subprocess

    if not on:
        yield None
        return
    proc = subprocess.Popen([sys.executable, "-c", f"import time\nt = time.time() + {seconds}\nwhile time.time() < t: pass"])
    try:
        time.sleep(0.5)
        yield proc
    finally:
        proc.kill()
        proc.wait()


def run_tf(py, graph, start, layers, *, renders, octave_n, threads, variant, seed=0):
    """Run ``dream_tf.py`` in the TF venv; returns {layer: (seconds, uint8 image)}."""
    import json
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(dir=OUT) as d:
        cmd = [str(py), str(Path(__file__).with_name("dream_tf.py")), "--graph", str(graph), "--start", str(start),
               "--layers", *layers, "--renders", str(renders), "--octave-n", str(octave_n), "--seed", str(seed),
               "--threads", str(threads), "--variant", variant, "--out", d]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode:
            raise RuntimeError(f"dream_tf.py failed:\n{res.stderr[-3000:]}")
        out = {}
        for line in res.stdout.splitlines():
            if line.startswith("{"):
                r = json.loads(line)
                out[r["layer"]] = (r["seconds"], dream.to_uint8(np.load(Path(d) / f"{r['layer']}.npy")))
        return out


#: what ``--tf`` times, besides TensorFlow: (label, precision, engine); "default" is what users get
TF_METHODS = (("default", "auto", "auto"), ("fp32", "fp32", "fused"), ("fp32_autograd", "fp32", "autograd"),
              ("bf16", "bf16", "fused"))


def geomean(xs):
    xs = [float(x) for x in xs]
    return float(np.exp(np.mean(np.log(xs)))) if xs else float("nan")


def run_tf_compare(layers, *, size=800, renders=3, octave_n=5, repeats=3, threads=2, busy=False, bf16=True,
                   published=False, venv=None):
    """TF (gradient built once; ``published``: also the published loop) vs ours (the default, fp32 fused,
    fp32 autograd = the straight path, bf16 fused) on the same graph; prints the table and geometric means."""
    from helpers.testing import rehearsal

    OUT.mkdir(parents=True, exist_ok=True)
    py = tf_python(venv or OUT / "tf-venv")
    graph = rehearsal.write_inception5h_graph(OUT / "tensorflow_inception_graph.pb", seed=0)
    model = graphdef.from_file(graph)
    img = start_images.noise_image(0, size)
    start = OUT / f"start-{size}.npy"
    np.save(start, img)
    kw = dict(n_renders=renders, octave_n=octave_n, seed=0)
    torch.set_num_threads(threads)
    ours = {m: (p, e) for m, p, e in TF_METHODS if bf16 or p != "bf16"}
    resolved = {m: (dream.check_precision(p), dream.check_engine(e, model)) for m, (p, e) in ours.items()}
    print("ours: " + ", ".join(f"{m} = precision {r[0]}, engine {r[1]}" for m, r in resolved.items()), flush=True)
    # the default resolves to one of the explicit configurations on most machines: time it once
    same = [m for m in ours if m != "default" and resolved[m] == resolved["default"]]
    timed_ours = [m for m in ours if not (m == "default" and same)]
    with synthesis_threads.torch_threads(threads):  # warm-up, as dream_tf.py does: one render of a tile-sized crop per layer
        for layer in layers:
            for m in timed_ours:
                dream.dream(model, layer, img[:512, :512], n_renders=1, octave_n=octave_n, precision=ours[m][0],
                            engine=ours[m][1])
    tf_methods = ["tf_published", "tf_once"] if published else ["tf_once"]
    methods = tf_methods + timed_ours
    times = {(m, l): [] for m in methods for l in layers}
    outs = {}
    with busy_core(busy):
        for rep in range(repeats):
            for m in methods:
                if m.startswith("tf"):
                    for layer, (sec, im) in run_tf(py, graph, start, layers, renders=renders, octave_n=octave_n,
                                                   threads=threads, variant=m[3:]).items():
                        times[m, layer].append(sec / renders)
                        outs[m, layer] = im
                else:
                    for layer in layers:
                        with synthesis_threads.torch_threads(threads):
                            im, dt = timed(lambda: dream.dream(model, layer, img, precision=ours[m][0],
                                                               engine=ours[m][1], **kw))
                        times[m, layer].append(dt / renders)
                        outs[m, layer] = im
            print(f"repeat {rep + 1}/{repeats} done", flush=True)
        with synthesis_threads.torch_threads(1):
            spread = {layer: psnr(outs["fp32", layer], dream.dream(model, layer, img, precision="fp32", **kw))
                      for layer in layers}
    if same:
        for layer in layers:
            times["default", layer] = times[same[0], layer]
            outs["default", layer] = outs[same[0], layer]
        methods = methods + ["default"]
    print(f"\nTF (study's loop) vs ours on the same graph, {size} px, {octave_n} octaves, {renders} renders, "
          f"{threads} threads{', ONE CORE BUSY' if busy else ''}; machine: {machine.describe()}; s/render median (min) of "
          f"{repeats} interleaved; PSNR dB vs ours fp32 ({threads} thr); spread = ours fp32 {threads} thr vs 1 thr"
          + (f"; default = {same[0]} (same precision and engine, timed once)" if same else ""))
    print(f"{'layer':12s}" + "".join(f"{m:>22s}" for m in methods) + f"{'spread':>8s}")
    rows = []
    for layer in layers:
        med = {m: statistics.median(times[m, layer]) for m in methods}
        cells = "".join(f"{med[m]:8.2f} ({min(times[m, layer]):5.2f}) "
                        f"{(psnr(outs[m, layer], outs['fp32', layer]) if m != 'fp32' else float('inf')):5.1f}"
                        for m in methods)
        print(f"{layer:12s}{cells}{spread[layer]:8.1f}", flush=True)
        rows.append(dict(layer=layer, size=size, renders=renders, spread=spread[layer], busy=busy, threads=threads,
                         **{f"{m}_s": med[m] for m in methods}, **{f"{m}_min": min(times[m, layer]) for m in methods},
                         **{f"{m}_psnr": psnr(outs[m, layer], outs["fp32", layer]) for m in methods if m != "fp32"}))
    print(f"\nspeed-up over TensorFlow (gradient built once), per layer and geometric mean (targets: default >= 3x, "
          f"fp32 >= 1.25x):")
    ours_cols = [m for m in methods if not m.startswith("tf")]
    print(f"{'layer':12s}" + "".join(f"{m:>15s}" for m in ours_cols))
    for r in rows:
        print(f"{r['layer']:12s}" + "".join(f"{r['tf_once_s'] / r[m + '_s']:14.2f}x" for m in ours_cols))
    print(f"{'geo. mean':12s}" + "".join(f"{geomean(r['tf_once_s'] / r[m + '_s'] for r in rows):14.2f}x"
                                          for m in ours_cols), flush=True)
    fp32_floor(layers, threads=threads, size=size, octave_n=octave_n, tf_once={r["layer"]: r["tf_once_s"] for r in rows},
               ours={r["layer"]: r["fp32_s"] for r in rows}, model=model)
    return rows


# --- OpenMP waiting: the setting helpers makes, against the alternatives, quiet and beside a busy core ---

_THREADING_CHILD = """
import sys, time
import numpy as np
from helpers import dream, inception  # helpers first: its OpenMP setting must precede torch
import torch
layer, size, renders, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
threads = threads if threads == "auto" else int(threads)
model = inception.random_model(seed=0)
img = dream.noise_image(0, size)
dream.dream(model, layer, img[:256, :256], n_renders=1, octave_n=2, threads=threads)  # warm-up
stamps, used = [time.perf_counter()], []
def cb(r, im):
    stamps.append(time.perf_counter())
    used.append(torch.get_num_threads())
dream.dream(model, layer, img, n_renders=renders, threads=threads, callback=cb)
print(float(np.median(np.diff(stamps))), max(used), inception._OMP_POLICY)
"""

#: (label, extra environment) of the OpenMP wait settings compared; {}: what importing helpers sets
THREADING_SETTINGS = (("helpers (GOMP_SPINCOUNT=1000)", {}),
                      ("passive (OMP_WAIT_POLICY=PASSIVE)", {"OMP_WAIT_POLICY": "PASSIVE"}),
                      ("libgomp default (300,000 spins)", {"GOMP_SPINCOUNT": "300000"}))


def run_threading(*, layer="mixed4c", size=800, renders=3, repeats=2, threads=("1", "2", "auto")):
    """Seconds per render of ``dream`` in a fresh process per OpenMP setting x thread count, on a quiet
    machine and with a CPU-burning process beside it, ``repeats`` interleaved rounds (median of the
    rounds' medians); prints the table."""
    import os
    import subprocess

    root = str(Path(__file__).resolve().parents[1])
    times: dict = {}
    for busy in (False, True):
        with busy_core(busy):
            for rep in range(repeats):
                for label, extra in THREADING_SETTINGS:
                    for th in threads:
                        env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
                        env.update(extra, PYTHONPATH=root)
                        res = subprocess.run([sys.executable, "-c", _THREADING_CHILD, layer, str(size), str(renders),
                                              th], env=env, capture_output=True, text=True)
                        if res.returncode:
                            raise RuntimeError(f"threading child failed ({label}, threads={th}):\n{res.stderr[-2000:]}")
                        sec, used, policy = res.stdout.split(maxsplit=2)
                        times.setdefault((busy, label, th), []).append(float(sec))
                        print(f"{'busy' if busy else 'quiet':6s} round {rep + 1} {label:34s} threads={th:5s} "
                              f"{float(sec):6.2f} s/render (threads used {used}; {policy.strip()})", flush=True)
    print(f"\nOpenMP waiting, {layer}, {size} px, 5 octaves, s/render: median over {repeats} interleaved rounds of "
          f"the median of {renders} renders (a fresh process each; busy: a CPU-burning process beside it)")
    print(f"| setting | {' | '.join(f'quiet {t}' for t in threads)} | {' | '.join(f'busy {t}' for t in threads)} |")
    print("|---|" + "---:|" * (2 * len(threads)))
    rows = []
    for label, _ in THREADING_SETTINGS:
        cells = [statistics.median(times[b, label, t]) for b in (False, True) for t in threads]
        rows.append(dict(setting=label, **{f"{'busy' if b else 'quiet'}_{t}": statistics.median(times[b, label, t])
                                           for b in (False, True) for t in threads}))
        print(f"| {label} | " + " | ".join(f"{c:.2f}" for c in cells) + " |")
    return rows


# --- the fp32 arithmetic floor of one render, against the 3x-TensorFlow target --------------------

def gemm_rate(threads, sizes=(2048, 4096)):
    """Best float32 multiply-adds per second of a dense square ``torch.mm`` on ``threads`` threads: the
    fastest any convolution of this machine's libraries runs (oneDNN's convolutions are GEMM-like)."""
    best = 0.0
    with synthesis_threads.torch_threads(threads):
        for n in sizes:
            a, b = torch.randn(n, n), torch.randn(n, n)
            c = torch.empty(n, n)
            torch.mm(a, b, out=c)
            for _ in range(3):
                t0 = time.perf_counter()
                torch.mm(a, b, out=c)
                best = max(best, n ** 3 / (time.perf_counter() - t0))
    return best


def render_tiles(*, size=800, octave_n=5, octave_scale=1.4, tile_size=512):
    """(height, width) of every tile of one render, every octave, as ``Dreamer.grad_tiled`` cuts them."""
    return [(min(tile_size, h - y), min(tile_size, w - x))
            for h, w in dream.octave_sizes((size, size), octave_n, octave_scale) for y, x in dream._tiles(h, w, tile_size)]


def render_macs(layer, *, size=800, octave_n=5, kernels=None):
    """Multiply-adds of one render's forward passes (:func:`render_tiles`), convolutions only
    (:func:`helpers.nets.inception.flops`)."""
    return sum(inception.flops(layer, tile, kernels=kernels) for tile in render_tiles(size=size, octave_n=octave_n))


def conv_only_seconds(model, layer, *, threads, size=800, octave_n=5, reps=3):
    """Seconds per render that torch's own convolutions (oneDNN, float32, channels-last) take alone: the
    forward and the input gradient of every convolution the truncated forward calls, on every tile
    shape of a render, each timed on its own (best of ``reps``) and summed, with everything else of
    the render (LRN, pooling, ReLU, concatenation, the step) left out. The convolutions' shapes are
    recorded from a forward in the reference operations (every convolution through ``F.conv2d``)."""
    import torch.nn.functional as F

    real = F.conv2d
    per_tile: dict = {}  # tile shape -> the (input, weight, stride, padding) of each convolution it calls
    current: list = []

    def record(x, weight, bias=None, stride=1, padding=0, *args, **kwargs):
        current.append((tuple(x.shape), tuple(weight.shape), stride, padding))
        return real(x, weight, bias, stride, padding, *args, **kwargs)

    tiles = render_tiles(size=size, octave_n=octave_n)
    F.conv2d = record
    try:
        with torch.no_grad(), inception.reference_ops(model, True):
            for tile in sorted(set(tiles)):
                current = per_tile[tile] = []
                model(torch.zeros((1, 3) + tile), layer)
    finally:
        F.conv2d = real

    def one(xs, ws, stride, padding):
        x = torch.randn(xs).contiguous(memory_format=torch.channels_last)
        wt = torch.randn(ws).contiguous(memory_format=torch.channels_last)
        y = F.conv2d(x, wt, None, stride, padding)
        gy = torch.randn_like(y)
        st = [stride] * 2 if isinstance(stride, int) else list(stride)
        pd = [padding] * 2 if isinstance(padding, int) else list(padding)
        best = float("inf")
        for _ in range(reps):
            t0 = time.perf_counter()
            F.conv2d(x, wt, None, stride, padding)
            torch.ops.aten.convolution_backward(gy, x, wt, None, st, pd, [1, 1], False, [0, 0], 1, [True, False, False])
            best = min(best, time.perf_counter() - t0)
        return best

    cache: dict = {}
    total = 0.0
    with synthesis_threads.torch_threads(threads), torch.no_grad():
        for tile in tiles:
            for key in per_tile[tile]:
                if key not in cache:
                    cache[key] = one(*key)
                total += cache[key]
    return total


def fp32_floor(layers, *, threads, size=800, octave_n=5, tf_once=None, ours=None, model=None):
    """Seconds per render below which no float32 implementation gets, beside the 3x-TF target.

    A render needs each convolution's forward and its input gradient (the same multiply-adds again;
    no weight gradients), so ``2 * render_macs`` at :func:`gemm_rate`. Second floor: even if every
    3x3 and 5x5 convolution (the only ones a fast algorithm such as Winograd's could shorten) cost
    nothing. Third: torch's own convolutions alone (:func:`conv_only_seconds`, on ``model``, default the
    stand-in), what any torch implementation spends before anything else. ``tf_once``/``ours``:
    measured seconds per render by layer, for the comparison."""
    rate = gemm_rate(threads)
    model = model or inception.random_model(seed=0)
    print(f"\nfp32 floor per render, {size} px, {octave_n} octaves, {threads} threads: forward + input gradient of "
          f"every convolution at this machine's best dense float32 GEMM rate ({rate / 1e9:.0f} G multiply-adds/s)")
    print(f"{'layer':12s}{'G MAC':>8s}{'floor s':>9s}{'w/o 3x3,5x5':>12s}{'convs only':>11s}"
          + (f"{'TF once/3':>11s}" if tf_once else "")
          + (f"{'ours fp32':>10s}{'ours/floor':>11s}" if ours else ""))
    rows = []
    for layer in layers:
        macs = 2 * render_macs(layer, size=size, octave_n=octave_n)
        rest = macs - 2 * render_macs(layer, size=size, octave_n=octave_n, kernels=(3, 5))
        row = dict(layer=layer, macs=macs, floor_s=macs / rate, floor_no35_s=rest / rate, rate=rate,
                   convs_s=conv_only_seconds(model, layer, threads=threads, size=size, octave_n=octave_n))
        line = f"{layer:12s}{macs / 1e9:8.1f}{row['floor_s']:9.2f}{row['floor_no35_s']:12.2f}{row['convs_s']:11.2f}"
        if tf_once:
            row["target_s"] = tf_once[layer] / 3
            line += f"{row['target_s']:11.2f}"
        if ours:
            line += f"{ours[layer]:10.2f}{ours[layer] / row['floor_s']:10.2f}x"
        print(line)
        rows.append(row)
    if tf_once:
        below = [r["layer"] for r in rows if r["floor_s"] > r["target_s"]]
        print(f"(3x TensorFlow is below the fp32 floor for {', '.join(below) if below else 'no layer'}"
              f"{'' if not below else ': no float32 implementation reaches it there'})")
        slow = [r["layer"] for r in rows if r["convs_s"] > r["target_s"]]
        print(f"(torch's convolutions alone take longer than a third of TensorFlow's render for "
              f"{', '.join(slow) if slow else 'no layer'})")
    return rows


# --- GPU: an estimate method for users with CUDA -----------------------------------------------

def gpu_estimate(*, layers=("conv2d2", "mixed4c", "mixed5b"), size=800, renders=2, seeds=(0, 1, 2, 3, 4),
                 precision="bf16", device="cuda"):
    """CUDA-event-timed seconds per render of :func:`helpers.synthesis.dream.dream_batch` (the five seeds of a
    layer in one batch) on ``device``, and the 720-image job estimated from them (fit on MACs as
    :func:`estimate_720`). Needs a CUDA GPU; nothing here was run on one for this project."""
    if not torch.cuda.is_available():
        raise RuntimeError("gpu_estimate needs a CUDA device (torch.cuda.is_available() is False)")
    model = inception.random_model(seed=0).to(device)
    imgs = [start_images.noise_image(s, size) for s in seeds]
    rows = []
    for layer in layers:
        dream.dream_batch(model, layer, imgs, seeds=list(seeds), n_renders=1, octave_n=5, precision=precision,
                          device=device)  # warm-up
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        dream.dream_batch(model, layer, imgs, seeds=list(seeds), n_renders=renders, octave_n=5, precision=precision,
                          device=device)
        b.record()
        torch.cuda.synchronize()
        per_render = a.elapsed_time(b) / 1000 / renders / len(seeds)  # seconds per image-render
        rows.append(dict(layer=layer, size=size, renders=1, ours_s=per_render, ref_s=float("nan")))
        print(f"gpu {layer:12s} {per_render * 1000:8.1f} ms per image-render ({len(seeds)} seeds batched, {precision})")
    _, total = estimate_720(rows, n_seeds=len(seeds))
    print(f"estimated 720-image job on {torch.cuda.get_device_name(device)}: {total / 60:.1f} min")
    return rows, total


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="paper size with 1 render; reduced config at 128 px / 3 renders")
    p.add_argument("--layers", nargs="+", default=["conv2d2", "mixed3b_5x5", "mixed4c", "mixed5b"])
    p.add_argument("--repeats", type=int, default=None, help="interleaved repeats per layer (median reported)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--skip-paper", action="store_true", help="only the reduced configuration")
    p.add_argument("--job", action="store_true", help="also time whole-job throughput (workers=1 vs 2)")
    p.add_argument("--job-only", action="store_true", help="only the whole-job throughput")
    p.add_argument("--job-renders", type=int, default=6)
    p.add_argument("--tf", action="store_true", help="the study's TensorFlow loop vs ours fp32/bf16 (creates a TF venv)")
    p.add_argument("--busy", action="store_true", help="with --tf: a CPU-burning process beside it")
    p.add_argument("--renders", type=int, default=3, help="with --tf: renders per image (800 px, 5 octaves)")
    p.add_argument("--size", type=int, default=800, help="with --tf: image side")
    p.add_argument("--gpu-estimate", action="store_true", help="CUDA-event-timed 720-image estimate (needs CUDA)")
    p.add_argument("--threading", action="store_true", help="OpenMP wait settings x threads, quiet and busy")
    p.add_argument("--floor", action="store_true", help="only the fp32 floor per render (no TensorFlow; --tf prints it too)")
    p.add_argument("--tf-venv", type=Path, default=None, help="with --tf: the TensorFlow venv (default benchmarks/out/tf-venv)")
    p.add_argument("--tf-published", action="store_true", help="with --tf: also the published loop (graph grows)")
    p.add_argument("--ideas", action="store_true", help="issue 22's speed ideas, each measured (benchmarks/dream_ideas.py)")
    p.add_argument("--ideas-only", nargs="+", default=None, help="with --ideas: only these variants")
    args = p.parse_args(argv)
    if args.ideas:
        import dream_ideas

        layers = args.layers if args.layers != p.get_default("layers") else ["conv2d2", "mixed4c", "mixed5b"]
        dream_ideas.run_ideas(layers, threads=args.threads or 2, repeats=args.repeats or 3, only=args.ideas_only)
        return
    if args.threading:
        run_threading(size=args.size)
        return
    if args.floor:
        layers = args.layers if args.layers != p.get_default("layers") else ["conv2d2", "mixed4c", "mixed5b"]
        fp32_floor(layers, threads=args.threads or 2, size=args.size)
        return
    if args.gpu_estimate:
        gpu_estimate()
        return
    if args.tf:
        layers = args.layers if args.layers != p.get_default("layers") else ["conv2d2", "mixed4c", "mixed5b"]
        rows = run_tf_compare(layers, size=args.size, renders=args.renders, repeats=args.repeats or 3,
                              threads=args.threads or 2, busy=args.busy, published=args.tf_published,
                              venv=args.tf_venv)
        for key in ("default_s", "fp32_s", "fp32_autograd_s", "bf16_s", "tf_once_s"):
            if key in rows[0]:
                per, est = estimate_720([{**r, "ref_s": r["tf_once_s"], "renders": 1} for r in rows], key=key)
                print(f"720-image estimate ({args.size} px, 5 octaves, 50 renders, 144 layers x 5 seeds) from {key[:-2]}: "
                      f"{est / 3600:.1f} h = {est / 720:.0f} s per image")
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    model = inception.random_model(seed=0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device cpu, stand-in weights (same FLOPs)")
    print("agreement: uint8 outputs, ours vs reference (PSNR dB, max |diff|) beside the reference vs itself on "
          "1 thread (spread); exact vs reference max |diff|")
    print(f"{'config':8s} {'layer':22s} {'size':>5s} {'rend':>4s} {'ref_s':>8s} {'exact_s':>8s} {'ours_s':>8s} "
          f"{'exact':>7s} {'ours':>7s} {'psnr':>6s} {'maxd':>4s} {'spread':>7s} {'smax':>4s} {'exmax':>5s}")
    if args.job_only:
        run_job(model, args.layers, renders=args.job_renders)
        return
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
        te = sum(r["exact_s"] for r in rs)
        print(f"{name}: total ref {tr:.1f} s, exact {te:.1f} s ({tr / te:.2f}x), ours {to:.1f} s ({tr / to:.2f}x; "
              f"median per layer {statistics.median(r['ref_s'] / r['ours_s'] for r in rs):.2f}x); ours vs ref min PSNR "
              f"{min(r['psnr'] for r in rs):.1f} dB, ref spread min PSNR {min(r['spread_psnr'] for r in rs):.1f} dB; "
              f"exact max|diff| {max(r['exact_max'] for r in rs)}")
    if paper:
        ref, ours = estimate_720(paper)
        _, exact = estimate_720(paper, key="exact_s")
        print(f"estimated full 720-image job (800 px, 50 renders, 5 octaves) on this machine: reference "
              f"{ref / 3600:.1f} h, exact {exact / 3600:.1f} h ({ref / exact:.2f}x), ours {ours / 3600:.1f} h "
              f"({ref / ours:.2f}x) (layer costs fitted on MACs of the truncated forward over {len(paper)} layers)")
    if args.job:
        run_job(model, args.layers, renders=args.job_renders)


if __name__ == "__main__":
    main()

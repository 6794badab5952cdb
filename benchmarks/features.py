"""Benchmark of the image measures: clutter before/after, each measure per 800x800 image, the table.

Runs in one process pinned to one core (``os.sched_setaffinity``, as ``taskset -c 0``) with
one BLAS/OpenMP/torch thread:

1. Feature Congestion and Sub-band Entropy of ``helpers.measures.clutter`` side by side with two
   earlier implementations taken from git and loaded as modules: ``BASELINE`` (in
   ``helpers/features.py``, before the clutter rewrite) and ``PREVIOUS`` (``helpers/clutter.py``
   in NumPy/SciPy only, before its numba loops and torch FFTs), interleaved round by round
   so the machine's load hits all alike: median and minimum CPU seconds per image, the
   ratios, and the largest relative difference of the values.
2. Every measure group of ``features.measure`` on its own (median CPU s per image),
   including the Aesthetics Toolbox group when ``helpers.measures.aesthetics`` is importable.
3. ``features.table`` on a sample of images with all cores, extrapolated to the paper's
   720 images (said so in the output).
4. The floor of FC + SE in float64 on this core (:func:`floor`): the work no implementation of
   the reference's arithmetic can skip, each part timed or rated on this machine, summed and set
   beside the 0.2 s target of issue #12 and the measured time of ``clutter.measure``.

Usage: ``.venv/bin/python benchmarks/features.py [--quick] [--rounds N] [--floor-only]``
(quick: 256x256 images, fewer rounds). Timings on a shared machine are noisy: compare the
ratios of one run, not absolute seconds across runs.
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from helpers import io
from helpers.measures import clutter, table  # noqa: E402

BASELINE = "72cc6db"  # the last commit before helpers/clutter.py (FC with the half-pixel phase error)
PREVIOUS = "89ddfa3"  # helpers/clutter.py in NumPy/SciPy only, before the numba loops and torch FFTs
ROOT = Path(__file__).resolve().parents[1]


def git_module(commit, path="helpers/features.py"):
    """``path`` at ``commit`` as a module, or None when git cannot provide it."""
    try:
        src = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:{path}"],
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    mod = types.ModuleType(f"{Path(path).stem}_{commit}")
    exec(compile(src, f"{path}@{commit}", "exec"), mod.__dict__)
    return mod


def test_images(n, size, seed=0):
    """Deterministic textured colour images (blobs, gratings, edges and noise), uint8 HxWx3."""
    rng = np.random.default_rng(seed)
    out = []
    yy, xx = np.mgrid[0:size, 0:size] / size
    for _ in range(n):
        img = np.zeros((size, size, 3))
        for _ in range(12):
            cy, cx, r = rng.random(3) * [1, 1, 0.25]
            th, f = rng.random() * np.pi, 4 + rng.random() * 40
            blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (r + 0.02) ** 2))
            img += blob[..., None] * np.cos(2 * np.pi * f * (np.cos(th) * xx + np.sin(th) * yy))[..., None] * rng.normal(size=3)
        img += 0.15 * rng.normal(size=img.shape)
        out.append(np.clip(127.5 + 80 * img, 0, 255).astype(np.uint8))
    return out


def cpu(fn, *args):
    """(CPU seconds, wall seconds, result) of one call."""
    c, w = time.process_time(), time.perf_counter()
    res = fn(*args)
    return time.process_time() - c, time.perf_counter() - w, res


class _CountingNumpy:
    """``numpy`` for :mod:`helpers.measures.clutter` with a ``matmul`` that adds up the multiply-adds of
    the non-zero matrix entries (the taps of the banded filter stages, without the zeros a
    dense block carries), then multiplies as NumPy does."""

    def __init__(self):
        self.macs = 0

    def __getattr__(self, name):
        return getattr(np, name)

    def matmul(self, a, b, out=None):
        # the band block is the smaller operand (at most a few hundred rows and columns); each of
        # its non-zeros multiplies one value per vector of the other operand
        if a.size <= b.size:
            self.macs += int(np.count_nonzero(a)) * (b.size // a.shape[1])
        else:
            self.macs += int(np.count_nonzero(b)) * (a.size // b.shape[0])
        return np.matmul(a, b, out=out)


def _best(fn, n=7):
    """Minimum wall seconds of ``n`` calls after one warm-up (a floor wants the best case)."""
    fn()
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def floor(img, *, target=0.2):
    """Lower bound of FC + SE (reference arithmetic, float64) on this core, and the current time.

    Parts, each the least that any implementation of the June01 arithmetic in float64 needs:
    - SE's FFTs: the transforms :func:`helpers.measures.clutter._sf_bands` does, which are already the
      minimum (one real forward FFT per channel, two real bands per complex inverse FFT),
      each shape timed with torch (Intel MKL) and SciPy (pocketfft), the faster taken;
    - FC's one non-separable filter pair (the diagonal orientation filters): one FFT
      convolution pair at the padded size, timed the same way;
    - FC's separable filtering: the multiply-adds of every filter tap (counted by running
      ``clutter.measure`` with a counting ``matmul``; zeros of the banded blocks not counted)
      at this core's dense float64 GEMM rate (2048^3 ``numpy.matmul``), which no banded
      filter reaches, so the figure is optimistic;
    - the sub-band histograms: one read of every band value (the compiled min/max pass).
    Not counted at all: CIELab, the products and per-pixel steps, the cross-scale collapse.
    """
    import scipy.fft as sfft
    import torch

    lab = clutter._rgb2lab_rr(img)
    h, w = lab.shape[:2]
    chans = np.ascontiguousarray(np.moveaxis(lab, -1, 0))
    t_now = statistics.median([cpu(clutter.measure, img)[0] for _ in range(5)])

    def fft_time(shape, kind):
        x = np.random.default_rng(0).normal(size=shape)
        if kind == "rfft2":
            tt = torch.from_numpy(x)
            return min(_best(lambda: torch.fft.rfft2(tt)), _best(lambda: sfft.rfft2(x, workers=1)))
        z = x + 1j * x[..., ::-1]
        tz = torch.from_numpy(z.copy())
        return min(_best(lambda: torch.fft.ifft2(tz, out=tz)),
                   _best(lambda: sfft.ifft2(z, overwrite_x=True, workers=1)))

    # the shapes of _sf_bands: rfft2 [3, H, W]; per level an ifft2 of [3, 2, h, w] (4 bands as
    # 2 packed pairs); the lowpass ifft2 [3, h', w']
    levels = 3  # the reference's pyramid levels (FC and SE) and SE's 4 orientations (order 3)
    masks = clutter._sf_masks((h, w), levels, 3)
    se_fft = fft_time((3, h, w), "rfft2")
    for bands, gather, _ in masks[1:levels + 1]:
        se_fft += fft_time((3, 2) + bands.shape[-2:], "ifft2")
        low = (np.ravel(gather[0]).size, np.ravel(gather[1]).size)  # the next level's (finally the lowpass) size
    se_fft += fft_time((3,) + low, "ifft2")
    # FC's diagonal pair on each pyramid level: at least one real forward FFT and one complex
    # inverse (both filters packed into it) at the size of the padded linear convolution, as
    # clutter._mirror_fftconv2: k // 2 px of mirror padding on each side, then k - 1 more
    k = clutter._orient_filters().shape[-1]
    fc_fft = 0.0
    lh, lw = h, w
    for _ in range(levels):
        shape = tuple(sfft.next_fast_len(s + 2 * (k // 2) + k - 1) for s in (lh, lw))
        fc_fft += fft_time(shape, "rfft2") + fft_time(shape, "ifft2")
        lh, lw = (lh + 1) // 2, (lw + 1) // 2
    # the taps of every separable stage, counted
    counter = _CountingNumpy()
    clutter.np = counter
    try:
        clutter.measure(img)
    finally:
        clutter.np = np
    a = np.random.default_rng(0).random((2048, 2048))
    gemm_rate = 2048 ** 3 / _best(lambda: np.matmul(a, a), n=3)
    fc_macs = counter.macs / gemm_rate
    bands = clutter._sf_bands(chans, 3, 3)
    hist = _best(lambda: [clutter._min_max(np.atleast_2d(b)) for bl in bands for b in bl])
    total = se_fft + fc_fft + fc_macs + hist
    print(f"\n## Floor of FC + SE on this core, float64, {w}x{h} (issue #12's target: {target:.2f} s)")
    print("| part | how | s |\n|---|---|---:|")
    print(f"| SE: steerable-pyramid FFTs | timed, faster of MKL and pocketfft | {se_fft:.3f} |")
    print(f"| FC: diagonal orientation filters | FFT pair per level, timed | {fc_fft:.3f} |")
    print(f"| FC: separable filter taps | {counter.macs / 1e9:.2f} G multiply-adds at the dense GEMM rate "
          f"({gemm_rate / 1e9:.1f} G/s) | {fc_macs:.3f} |")
    print(f"| SE: histograms | one read of every band value | {hist:.3f} |")
    print(f"| **floor** | sum (CIELab, products, collapse not counted) | **{total:.3f}** |")
    print(f"| clutter.measure now | CPU s, median of 5 | {t_now:.3f} |")
    verdict = "above" if total > target else "below"
    print(f"(the floor is {total / target:.2f}x the target: {verdict} it; now is {t_now / total:.2f}x the floor)")
    return dict(se_fft=se_fft, fc_fft=fc_fft, fc_macs=counter.macs, gemm_rate=gemm_rate, hist=hist, floor=total,
                now=t_now)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="256x256 images, fewer rounds")
    ap.add_argument("--rounds", type=int, default=None, help="interleaved rounds per image (default 5, quick 2)")
    ap.add_argument("--table-sample", type=int, default=None, help="images in the table sample")
    ap.add_argument("--floor-only", action="store_true", help="only the floor of FC + SE (section 4)")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    size, n_img = (256, 2) if args.quick else (800, 3)
    rounds = args.rounds or (2 if args.quick else 5)
    imgs = test_images(n_img, size)
    noise = np.clip(np.rint(np.random.default_rng(12345).normal(126.5, 12.75, (size, size, 3))), 0, 255).astype(np.uint8)
    imgs.append(noise)  # the reference run's noise image (clutter-matlab.json) at this size
    if args.floor_only:
        clutter.measure(imgs[0])  # compile and cache first
        floor(imgs[0])
        return
    old = git_module(BASELINE)  # helpers/features.py before the clutter rewrite
    prev = git_module(PREVIOUS, "helpers/clutter.py")
    for im in imgs[:1]:  # warm up imports, compiled loops and cached matrices
        clutter.measure(im)
        for mod, fn in ((old, "clutter"), (prev, "measure")):
            if mod is not None:
                getattr(mod, fn)(im)
    print(f"# image measures benchmark: {len(imgs)} images of {size}x{size}, one core, one thread, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    # 1. clutter: before the rewrite, the previous NumPy/SciPy code, and now, interleaved
    versions = {"before": (old, ("feature_congestion", "subband_entropy", "clutter")),
                "previous": (prev, ("feature_congestion", "subband_entropy", "measure"))}
    names = {"feature_congestion": 0, "subband_entropy": 1, "FC + SE (shared Lab)": 2}
    now_fns = {"feature_congestion": clutter.feature_congestion, "subband_entropy": clutter.subband_entropy,
               "FC + SE (shared Lab)": clutter.measure}
    t = {k: {"now": [], "previous": [], "before": []} for k in names}
    rel = {k: {"previous": 0.0, "before": 0.0} for k in names}

    def values(v):
        return np.array(list(v.values()) if isinstance(v, dict) else [v], float)

    for im in imgs:
        for _ in range(rounds):
            for name, i in names.items():
                c_now, _, v_now = cpu(now_fns[name], im)
                t[name]["now"].append(c_now)
                for ver, (mod, fns) in versions.items():
                    if mod is None:
                        continue
                    c, _, v = cpu(getattr(mod, fns[i]), im)
                    t[name][ver].append(c)
                    a, b = values(v_now), values(v)
                    rel[name][ver] = max(rel[name][ver], float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300))))
    print(f"\n## Clutter per {size}x{size} image, CPU seconds on one core ({len(imgs)} images x {rounds} rounds, "
          "interleaved; median, min in brackets)")
    for ver, commit in (("before", BASELINE), ("previous", PREVIOUS)):
        if versions[ver][0] is None:
            print(f"({ver}: {commit} not available from git, not timed)")
    print(f"| measure | before ({BASELINE}) | previous ({PREVIOUS}) | now | now vs previous | now vs before "
          "| max rel. diff vs previous | vs before |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")

    def cell(x):
        return f"{statistics.median(x):.3f} ({min(x):.3f})" if x else "-"

    def ratio(a, b):
        return f"{statistics.median(a) / statistics.median(b):.2f}x" if a and b else "-"

    for name in names:
        n, p, o = t[name]["now"], t[name]["previous"], t[name]["before"]
        print(f"| {name} | {cell(o)} | {cell(p)} | {cell(n)} | {ratio(p, n)} | {ratio(o, n)} "
              f"| {rel[name]['previous']:.1e} | {rel[name]['before']:.1e} |")
    print("(the FC difference against 'before' is the phase fix: the baseline put expanded samples half a pixel "
          "off; tests/test_clutter.py holds the current code to the MATLAB original)")

    # 2. every measure group on its own
    groups = [g for g in table.available_measures() if g not in table.ALIASES]
    standin = None
    if "aesthetics" in groups and not os.environ.get("NA_WEIGHTS_ALEXNET"):
        try:  # the real AlexNet weights are cached? otherwise time the CNN measures on the rehearsal stand-in
            from helpers.nets import models

            models.weights_file("alexnet", download_missing=False, progress=False)
        except (models.WeightsUnavailable, models.WeightsFileError):
            from helpers.testing import rehearsal

            standin = tempfile.mkdtemp(prefix="na-bench-alexnet-")
            os.environ["NA_WEIGHTS_ALEXNET"] = str(rehearsal.write_alexnet(standin))
    print(f"\n## Each measure group per {size}x{size} image (CPU s, median over {len(imgs)} images x {rounds} rounds)")
    if standin:
        print("(the aesthetics group's CNN measures run on the seeded AlexNet stand-in written by "
              "helpers.testing.rehearsal: the real network's architecture and arithmetic, so its time, not its values)")
    print("| group | columns | CPU s |\n|---|---|---:|")
    for g in groups:
        try:
            times, cols = [], []
            for im in imgs:
                for _ in range(rounds):
                    c, _, row = cpu(lambda x: table.measure(x, measures=g), im)
                    times.append(c)
                    cols = [k for k in row if k not in ("width", "height")]
            print(f"| {g} | {', '.join(cols)[:90]} | {statistics.median(times):.3f} |")
        except Exception as exc:  # e.g. the CNN weights of the aesthetics group are missing
            print(f"| {g} | failed: {type(exc).__name__}: {str(exc)[:80]} | - |")

    if standin:
        import shutil

        shutil.rmtree(standin, ignore_errors=True)
        del os.environ["NA_WEIGHTS_ALEXNET"]

    # 3. the table on a sample, extrapolated to 720 images
    n_sample = args.table_sample or (4 if args.quick else 12)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    with tempfile.TemporaryDirectory() as tmp:
        for i, im in enumerate(test_images(n_sample, size, seed=1)):
            io.save_image(im, Path(tmp) / f"img{i:03d}.png")
        table.MIN_PER_WORKER = 1  # use the worker pool even for a small sample
        t0 = time.perf_counter()
        df = table.table(tmp, n_jobs=0, progress=False, cache=Path(tmp) / "cache.parquet")
        t_table = time.perf_counter() - t0
        t1 = time.perf_counter()
        table.table(tmp, n_jobs=0, progress=False, cache=Path(tmp) / "cache.parquet")
        t_cached = time.perf_counter() - t1
    assert (df["status"] == "ok").all()
    cores = os.cpu_count() or 1
    print(f"\n## features.table (default groups), {n_sample} images of {size}x{size}, {cores} workers")
    print(f"- wall {t_table:.1f} s ({t_table / n_sample:.2f} s per image, worker start-up included); "
          f"re-run from the cache {t_cached:.2f} s")
    print(f"- extrapolated to the paper's 720 images: about {720 * t_table / n_sample / 60:.1f} min on these {cores} cores "
          "(an estimate from the sample, not a measured 720-image run)")

    # 4. the floor, back on one core
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    floor(imgs[0])


if __name__ == "__main__":
    main()

"""Benchmark of helpers.features: each measure per 800x800 image, and the whole 720-image table.

Runs, in one process and on one core (OMP/MKL/OpenBLAS threads = 1):

1. Feature Congestion + Sub-band Entropy, ours (vectorised) against a straightforward
   loop-based port of the same MATLAB reference kept below as the baseline (per-pixel
   Python loops for the cross-scale max and for MATLAB ``histc``, direct
   ``scipy.signal.convolve2d`` for every ``conv2``, ``pyrtools.SteerablePyramidFreq`` for
   ``buildSFpyr``), side by side on the same images: medians, ratio and the max relative
   difference of the values.
2. Every measure of ``features.measure`` on its own (median seconds per image).
3. ``features.table`` on a sample of images with all cores, extrapolated to the
   paper's 720 images (said so in the output).

Usage: ``.venv/bin/python benchmarks/features.py [--quick]`` (quick: 256x256 images, fewer repeats).
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy.signal import convolve2d  # noqa: E402

from helpers import features, io  # noqa: E402


# ------------------------------------------------------------------------------------------
# Baseline: a loop-based port of the MATLAB reference, written the straightforward way
# ------------------------------------------------------------------------------------------
def b_rgb2lab(im):
    """RGB2Lab.m, element-wise formulas on float64 (no lookup table)."""
    im = im.astype(np.float64) / 255.0
    out = np.empty_like(im)
    for c in range(3):
        v = im[:, :, c]
        out[:, :, c] = np.where(v > 0.04045, ((v + 0.055) / 1.055) ** 2.4, v / 12.92)
    r, g, b = out[:, :, 0], out[:, :, 1], out[:, :, 2]
    x = (r * 0.4124 + g * 0.3576 + b * 0.1805) / 95.047
    y = (r * 0.2126 + g * 0.7152 + b * 0.0722) / 100.000
    z = (r * 0.0193 + g * 0.1192 + b * 0.9505) / 108.883
    f = [np.where(t > 0.008856, t ** (1 / 3), 7.787 * t + 16 / 116) for t in (x, y, z)]
    lab = np.empty_like(im)
    lab[:, :, 0] = 116 * f[1] - 16
    lab[:, :, 1] = 500 * (f[0] - f[1])
    lab[:, :, 2] = 200 * (f[1] - f[2])
    return lab


def b_gauss1d(halfsupport, sigma, center=0.0):
    """RRgaussfilter1D.m as a row vector."""
    k = np.array([np.exp(-((t - center) ** 2) / (2 * sigma ** 2)) for t in range(-halfsupport, halfsupport + 1)])
    return (k / k.sum()).reshape(1, -1)


def b_filt2(kernel, im):
    """filt2.m: addborder 'odd' by the kernel size, conv2 'same', crop."""
    ky, kx = kernel.shape
    big = np.pad(im, ((ky, ky), (kx, kx)), mode="reflect")
    return convolve2d(big, kernel, mode="same")[ky:ky + im.shape[0], kx:kx + im.shape[1]]


def b_overlapconv(kernel, im):
    """RRoverlapconv.m."""
    out = convolve2d(im, kernel, mode="same")
    overlap = convolve2d(np.ones_like(im), kernel, mode="same")
    return kernel.sum() * out / overlap


def b_reduce(im, kernel=None):
    """reduce.m."""
    kernel = np.array([[0.05, 0.25, 0.4, 0.25, 0.05]]) if kernel is None else kernel
    im = b_filt2(kernel, im)[:, ::2]
    return b_filt2(kernel.T, im)[::2, :]


def b_pyramid(im, levels):
    """RRgaussianPyramid.m."""
    pyr = [im]
    for _ in range(levels - 1):
        pyr.append(b_reduce(pyr[-1]))
    return pyr


def b_expand(im, kernel):
    """RRoverlapconvexpand.m with explicit zero insertion."""
    kernel = 2 * kernel
    h, w = im.shape
    tmp = np.zeros((h, 2 * w))
    tmp[:, ::2] = im
    tmp = b_overlapconv(kernel, tmp)
    out = np.zeros((2 * h, 2 * w))
    out[::2, :] = tmp
    return b_overlapconv(kernel.T, out)


def b_collapse(levels):
    """Cross-scale max of colorClutter.m etc., element by element as in the public ports."""
    import pyrtools

    k1 = np.array([[0.05, 0.25, 0.4, 0.25, 0.05]])
    k2 = convolve2d(k1, k1.T)
    out = levels[0].copy()
    for s in range(1, len(levels)):
        here = levels[s]
        for _ in range(s, 0, -1):
            here = pyrtools.upConv(here, k2, "reflect1", (2, 2), start=(0, 0))
        for i in range(min(out.shape[0], here.shape[0])):
            for j in range(min(out.shape[1], here.shape[1])):
                out[i][j] = max(out[i][j], here[i][j])
    return out


def b_color(L, a, b, pool_sigma=3):
    """computeColorClutter.m."""
    g = b_gauss1d(round(2 * pool_sigma), pool_sigma)
    out = []
    for i in range(len(L)):
        def E(x):
            return b_overlapconv(g.T, b_overlapconv(g, x))
        mL, ma, mb = E(L[i]), E(a[i]), E(b[i])
        c11 = E(L[i] ** 2) - mL ** 2 + 0.0007 ** 2
        c12 = E(L[i] * a[i]) - mL * ma
        c13 = E(L[i] * b[i]) - mL * mb
        c22 = E(a[i] ** 2) - ma ** 2 + 0.1 ** 2
        c23 = E(a[i] * b[i]) - ma * mb
        c33 = E(b[i] ** 2) - mb ** 2 + 0.05 ** 2
        det = c11 * (c22 * c33 - c23 * c23) - c12 * (c12 * c33 - c23 * c13) + c13 * (c12 * c23 - c22 * c13)
        out.append(np.sqrt(det) ** (1 / 3))
    return out


def b_contrast(L, filt_sigma=1, pool_sigma=3):
    """RRcontrast1channel.m, DoG1filter.m, contrastClutter.m."""
    a = round(3 * filt_sigma)
    t = np.arange(-a, a + 1)
    gi = np.exp(-(t ** 2) / (2 * (0.71 * filt_sigma) ** 2))
    go = np.exp(-(t ** 2) / (2 * (1.14 * filt_sigma) ** 2))
    gi, go = (gi / gi.sum()).reshape(1, -1), (go / go.sum()).reshape(1, -1)
    g = b_gauss1d(round(2 * pool_sigma), pool_sigma)
    out = []
    for Li in L:
        c = np.abs(b_filt2(gi.T, b_filt2(gi, Li)) - b_filt2(go.T, b_filt2(go, Li)))
        m = b_overlapconv(g.T, b_overlapconv(g, c))
        m2 = b_overlapconv(g.T, b_overlapconv(g, c ** 2))
        out.append(np.sqrt(np.abs(m2 - m ** 2)))
    return out


def b_imrotate(k, angle):
    """imrotate(k, angle, 'bicubic', 'crop'), pixel by pixel (Keys a = -0.5, zero fill)."""
    def keys(t):
        t = abs(t)
        return 1.5 * t ** 3 - 2.5 * t ** 2 + 1 if t <= 1 else (-0.5 * t ** 3 + 2.5 * t ** 2 - 4 * t + 2 if t < 2 else 0.0)

    n0, n1 = k.shape
    c0, c1 = (n0 - 1) / 2, (n1 - 1) / 2
    th = np.deg2rad(angle)
    out = np.zeros_like(k)
    for r in range(n0):
        for c in range(n1):
            y, x = r - c0, c - c1
            xs = np.cos(th) * x - np.sin(th) * y + c1
            ys = np.sin(th) * x + np.cos(th) * y + c0
            y0, x0 = int(np.floor(ys)), int(np.floor(xs))
            for yy in range(y0 - 1, y0 + 3):
                for xx in range(x0 - 1, x0 + 3):
                    if 0 <= yy < n0 and 0 <= xx < n1:
                        out[r, c] += keys(ys - yy) * keys(xs - xx) * k[yy, xx]
    return out


def b_orient_filtnew(im, sigma):
    """orient_filtnew.m: returns the H, V, L, R filter outputs."""
    hs = round(3 * sigma)
    gx = b_gauss1d(hs, sigma)
    G = []
    for c in (sigma, 0.0, -sigma):
        g = convolve2d(gx, b_gauss1d(hs, sigma, c).T)
        G.append(g / g.sum())
    H = -G[0] + 2 * G[1] - G[2]
    rot = {}
    for ang in (45, -45):
        R = [b_imrotate(g, ang) for g in G]
        R = [r / r.sum() for r in R]
        rot[ang] = -R[0] + 2 * R[1] - R[2]
    return [b_filt2(H, im), b_filt2(H.T, im), b_filt2(rot[-45], im), b_filt2(rot[45], im)]


def b_orientation(L):
    """RROrientationOppEnergy.m, poolnew.m, computeOrientationClutter.m."""
    pool = b_gauss1d(round(2 * 1.75), 1.75)
    big = b_gauss1d(round(8 * 3.5), 4 * 3.5)
    out = []
    for Li in L:
        e = [b_reduce(b_expand(x ** 2, pool), pool) for x in b_orient_filtnew(Li, 16 / 14 * 1.75)]
        total = e[0] + e[1] + e[2] + e[3] + 1.0
        c, s = (e[0] - e[1]) / total, (e[3] - e[2]) / total

        def E(x):
            return b_overlapconv(big.T, b_overlapconv(big, x))
        Dc, Ds = E(c), E(s)
        c11 = E(c ** 2) - Dc ** 2 + 0.001
        c12 = E(c * s) - Dc * Ds
        c22 = E(s ** 2) - Ds ** 2 + 0.001
        out.append((c11 * c22 - c12 ** 2) ** 0.25)
    return out


def baseline_fc(rgb):
    """getClutter_FC.m, loop-based."""
    lab = b_rgb2lab(rgb)
    L, a, b = (b_pyramid(lab[:, :, i], 3) for i in range(3))
    fc = (b_collapse(b_color(L, a, b)) / 0.2088 + b_collapse(b_contrast(L)) / 0.0660
          + b_collapse(b_orientation(L)) / 0.0269)
    return float(np.mean(fc))


def b_entropy(x):
    """entropy.m with MATLAB histc, value by value."""
    x = x.ravel()
    nbins = int(np.ceil(np.sqrt(x.size)))
    if not x.max() > x.min():
        return 0.0
    edges = np.linspace(x.min(), x.max(), nbins)
    counts = np.zeros(nbins)
    for v in np.digitize(x, edges):
        counts[v - 1] += 1
    p = counts[counts > 0] / x.size
    return float(-np.sum(p * np.log(p)))


def baseline_se(rgb):
    """getClutter_SE.m and band_entropy.m with pyrtools' buildSFpyr port (highpass skipped)."""
    import pyrtools

    lab = b_rgb2lab(rgb)
    total = 0.0
    for c, w in ((0, 1.0), (1, 0.0625), (2, 0.0625)):
        ch = lab[:, :, c]
        if c and ch.max() - ch.min() < 0.008:
            ch = np.zeros_like(ch)
        co = pyrtools.pyramids.SteerablePyramidFreq(ch, height=3, order=3).pyr_coeffs
        total += w * np.mean([b_entropy(v) for k, v in co.items() if k != "residual_highpass"])
    return total / (1 + 2 * 0.0625)


# ------------------------------------------------------------------------------------------
def test_images(n, size, seed=0):
    """Deterministic textured colour images (blobs, gratings, edges and noise)."""
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


CPU = {}  # fn name -> list of CPU seconds (process time), beside the wall-clock medians


def timed(fn, *args, repeats=1):
    """(median wall seconds, last result); CPU seconds are collected in ``CPU``."""
    ts, res = [], None
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        res = fn(*args)
        ts.append(time.perf_counter() - t)
        CPU.setdefault(getattr(fn, "__name__", str(fn)), []).append(time.process_time() - c)
    return statistics.median(ts), res


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="256x256 images, fewer repeats")
    ap.add_argument("--table-sample", type=int, default=None, help="images in the table sample")
    args = ap.parse_args()
    size, n_img, reps = (256, 2, 2) if args.quick else (800, 3, 3)
    imgs = test_images(n_img, size)
    features.clutter(imgs[0][:64, :64])  # warm up imports and lazy caches
    features.clutter(imgs[0])
    print(f"# helpers.features benchmark: {n_img} images of {size}x{size}, 1 thread, {os.cpu_count()} cores visible, "
          f"load average {os.getloadavg()[0]:.1f}")
    CPU.clear()

    # 1. clutter: baseline vs ours
    rows, rel = [], []
    for name, base, ours in [("feature_congestion", baseline_fc, features.feature_congestion),
                             ("subband_entropy", baseline_se, features.subband_entropy)]:
        tb, to = [], []
        for im in imgs:
            t_b, v_b = timed(base, im)
            t_o, v_o = timed(ours, im, repeats=reps)
            tb.append(t_b)
            to.append(t_o)
            rel.append((name, abs(v_o - v_b) / abs(v_b)))
        rows.append((name, statistics.median(tb), statistics.median(to)))
    t_both = statistics.median(timed(features.clutter, im, repeats=reps)[0] for im in imgs)
    rows.append(("FC + SE (features.clutter, shared Lab)", rows[0][1] + rows[1][1], t_both))
    cpu = {k: statistics.median(v) for k, v in CPU.items()}
    cpu_pairs = {"feature_congestion": (cpu["baseline_fc"], cpu["feature_congestion"]),
                 "subband_entropy": (cpu["baseline_se"], cpu["subband_entropy"])}
    cpu_pairs["FC + SE (features.clutter, shared Lab)"] = (cpu["baseline_fc"] + cpu["baseline_se"], cpu["clutter"])
    print(f"\n## Clutter per {size}x{size} image (medians; baseline = loop-based port; wall and CPU seconds)")
    print(f"| {'measure':40s} | baseline wall s | ours wall s | speed-up | baseline CPU s | ours CPU s | max rel. diff |")
    print(f"|{'-' * 42}|----------------:|------------:|---------:|---------------:|-----------:|--------------:|")
    for name, b, o in rows:
        d = max((r for n, r in rel if n == name), default=None)
        if d is None:
            d = max(r for _, r in rel)
        cb, co = cpu_pairs[name]
        print(f"| {name:40s} | {b:15.2f} | {o:11.3f} | {b / o:7.1f}x | {cb:14.2f} | {co:10.3f} | {d:13.2e} |")

    # 2. every measure on its own
    print(f"\n## Each measure per {size}x{size} image (ours, median s over {n_img} images x {reps} runs)")
    print("| measure | wall s | CPU s |\n|---|---:|---:|")
    for name, fn in [("color_stats", features.color_stats), ("jpeg_size (q75)", features.jpeg_size),
                     ("png_size", features.png_size), ("feature_congestion", features.feature_congestion),
                     ("subband_entropy", features.subband_entropy), ("clutter (FC + SE)", features.clutter),
                     ("radial_spectrum", features.radial_spectrum), ("edge_density (sigma 2)", features.edge_density),
                     ("measure (all, 3 Canny sigmas)", features.measure)]:
        CPU.pop(fn.__name__, None)
        t = statistics.median(timed(fn, im, repeats=reps)[0] for im in imgs)
        print(f"| {name} | {t:.3f} | {statistics.median(CPU[fn.__name__]):.3f} |")

    # 3. the table on a sample, extrapolated to 720 images
    n_sample = args.table_sample or (4 if args.quick else 12)
    with tempfile.TemporaryDirectory() as tmp:
        sample = test_images(n_sample, size, seed=1)
        for i, im in enumerate(sample):
            io.save_image(im, Path(tmp) / f"img{i:03d}.png")
        cores = os.cpu_count() or 1
        features.MIN_PER_WORKER = 1  # use the worker pool even for a small sample
        t0 = time.perf_counter()
        df = features.table(tmp, n_jobs=0, progress=False, cache=Path(tmp) / "cache.parquet")
        t_table = time.perf_counter() - t0
        t1 = time.perf_counter()
        features.table(tmp, n_jobs=0, progress=False, cache=Path(tmp) / "cache.parquet")
        t_cached = time.perf_counter() - t1
    assert (df["status"] == "ok").all()
    per_image = statistics.median(CPU["measure"])  # CPU s of all measures for one image, one core
    print(f"\n## features.table, {n_sample} images of {size}x{size}, n_jobs=all ({cores} cores), worker pool")
    print(f"measured: {t_table:.1f} s for {n_sample} images ({t_table / n_sample:.2f} s/image, incl. spawning workers)")
    print(f"cached re-run of the same images: {t_cached:.2f} s")
    print(f"EXTRAPOLATED (not measured) to the paper's 720 images: {720 * t_table / n_sample / 60:.1f} min at the "
          f"sample's wall-clock rate on this machine now (load {os.getloadavg()[0]:.1f}); "
          f"{720 * per_image / cores / 60:.1f} min from the CPU time per image ({per_image:.2f} s) on {cores} idle cores")

if __name__ == "__main__":
    main()

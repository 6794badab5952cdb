"""Benchmark helpers.synthesis.biggan on the CPU: perturb/restore, distances, generation batch size, Figure 2 + S1 cost.

Usage::

    .venv/bin/python benchmarks/biggan.py            # 3 repeats, batch sizes 1..9
    .venv/bin/python benchmarks/biggan.py --quick    # 1-2 repeats, batch sizes 1, 3, 9 on fewer images

Runs on the BigGAN-deep-256 stand-in (same architecture and sizes as the pretrained network,
so times and memory carry over). Baselines and ours run side by side in this one process.
Peak memory is the largest resident-set growth over the call's starting RSS, sampled every
2 ms from /proc/self/statm (Linux); the script re-executes itself with a fixed glibc mmap
threshold and trims the heap before each call, so memory freed by an earlier call is not
silently reused (which would hide a later call's growth).
"""
from __future__ import annotations

import argparse
import copy
import ctypes
import os
import statistics
import sys
import threading
import time

import numpy as np
import torch

from helpers.nets import models
from helpers.synthesis import biggan, biggan_distances

_PAGE = os.sysconf("SC_PAGE_SIZE")


def _trim() -> None:
    """Hand freed heap memory back to the OS so RSS growth measures the next call alone (glibc)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE


def measure(fn, repeats: int):
    """Median wall seconds and the largest peak RSS growth (MB) of ``fn()`` over ``repeats`` runs."""
    times, peaks, result = [], [], None
    for _ in range(repeats):
        _trim()
        start, peak, stop = _rss(), [0], threading.Event()

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], _rss() - start)
                time.sleep(0.002)

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
        stop.set()
        th.join()
        peaks.append(max(peak[0], _rss() - start) / 2**20)
    return statistics.median(times), max(peaks), result


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats and batch sizes")
    args = ap.parse_args(argv)
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:  # fixed mmap threshold: big tensors are unmapped when freed
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"})
    reps = 1 if args.quick else 3
    torch.manual_seed(0)
    model = models.load("biggan-deep-256", source="random", seed=0, progress=False)
    original = {k: v.clone() for k, v in model.state_dict().items()}
    model_mb = sum(v.numel() * v.element_size() for v in original.values()) / 2**20
    n_train = f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f}M"
    rows = []

    # 0. loading the real file format (helpers.testing.rehearsal) vs the package's own loader on the same folder
    import tempfile

    from pytorch_pretrained_biggan import BigGAN

    from helpers.testing import rehearsal
    with tempfile.TemporaryDirectory() as tmp:
        f = rehearsal.write_biggan_deep_256(tmp, seed=0)
        tb, mb, ref_m = measure(lambda: BigGAN.from_pretrained(tmp).eval(), reps)
        t, m, our_m = measure(lambda: models.load("biggan-deep-256", path=f, progress=False), reps)
        same = all(torch.equal(a, b) for a, b in zip(ref_m.state_dict().values(), our_m.state_dict().values()))
        rows.append(("load pytorch_model.bin + config.json", "BigGAN.from_pretrained (strict=False)",
                     "models.load (strict, sha256 verify)", tb, t, mb, m, f"same state: {same}"))
        del ref_m, our_m

    def restored():
        return all(torch.equal(v, original[k]) for k, v in model.state_dict().items())

    # 1. perturb + restore: naive deep copy of the model, in-memory backup, ours (disk backup)
    def naive():
        m2 = copy.deepcopy(model)
        with torch.no_grad():
            for _, t, noise in biggan.noise_stream(m2, seed=1):
                t.mul_(biggan.noise_factor_(noise, biggan.ALPHA))
        snap = m2.generator.layers[1].conv_1.weight_orig.clone()
        del m2
        return snap

    def backed(mode):
        def run():
            with biggan.perturb(model, seed=1, backup=mode):
                snap = model.generator.layers[1].conv_1.weight_orig.clone()
            return snap
        return run

    tb, mb, ref = measure(naive, reps)
    for mode in ("memory", "disk"):
        t, m, snap = measure(backed(mode), reps)
        rows.append((f"perturb + restore (Eq. 3, {n_train})", "deepcopy model", f"backup={mode!r}", tb, t, mb, m,
                     f"same weights: {torch.equal(ref, snap)}; restored bitwise: {restored()}"))

    # 2. resample B2 + restore (scipy draws, 8.65M)
    def resample_b2():
        with biggan.resample(model, block="B2", seed=0):
            pass
    t, m, _ = measure(resample_b2, reps)
    rows.append(("resample B2 + restore (Eq. 4, 8.65M)", "-", "scipy, disk backup", float("nan"), t, float("nan"), m,
                 f"restored bitwise: {restored()}"))

    # 3. cosine distance: flattened float64 vectors vs tensor-by-tensor accumulation
    with biggan.perturb(model, seed=2):
        def flat():
            a = torch.cat([v.reshape(-1).double() for v in biggan.tensors(model).values()])
            b = torch.cat([original[k].reshape(-1).double() for k in biggan.tensors(model)])
            return 1 - float(a @ b / (a.norm() * b.norm()))
        tb, mb, d0 = measure(flat, reps)
        t, m, d1 = measure(lambda: biggan_distances.cosine_distance(model, original), reps)
    rows.append((f"cosine distance ({n_train})", "torch.cat float64", "streamed float64", tb, t, mb, m, f"|diff| = {abs(d0 - d1):.1e}"))

    # 4. distances among K networks: build each network and compare vs one streamed pass
    seeds = [0, 1, 2]
    def built():
        states = []
        for s in seeds:
            with biggan.perturb(model, seed=s, backup="memory"):
                states.append({k: v.clone() for k, v in biggan.tensors(model).items()})
        orig = {k: original[k] for k in states[0]}
        return [biggan_distances.cosine_distance(states[i], orig) for i in range(len(seeds))] + \
               [biggan_distances.cosine_distance(states[i], states[j]) for i in range(len(seeds)) for j in range(i + 1, len(seeds))]
    tb, mb, dref = measure(built, 1)
    def streamed():
        r = biggan_distances.perturbation_distances(model, seeds, progress=False)
        iu = np.triu_indices(len(seeds), 1)
        return list(r["to_original"]) + list(r["pairwise"][iu])
    t, m, dours = measure(streamed, 1)
    rows.append((f"distances, {len(seeds)} networks + pairs", "build K networks", "one streamed pass", tb, t, mb, m,
                 f"max |diff| = {np.max(np.abs(np.subtract(dref, dours))):.1e}"))

    # 5. generation throughput by batch size
    sizes = [1, 3, 9] if args.quick else list(range(1, 10))
    n_img = 3 if args.quick else 9
    classes = list(biggan.PAPER_CLASSES[:n_img])
    per_image = {}
    ref_img = None
    for bs in sizes:
        t, m, imgs = measure(lambda: biggan.generate(model, classes, batch_size=bs), 1)
        per_image[bs] = t / n_img
        if ref_img is None:
            ref_img = imgs
        agree = int(np.abs(imgs.astype(int) - ref_img.astype(int)).max())
        rows.append((f"generate {n_img} images, batch {bs}", "batch 1", f"batch {bs}", per_image[sizes[0]] * n_img, t,
                     float("nan"), m, f"{n_img / t:.2f} img/s; max px diff vs batch 1: {agree}"))
    best = min(per_image, key=per_image.get)
    t, m, train_img = measure(lambda: biggan.generate(model, classes, batch_size=best, spectral_norm="train"), 1)
    rows.append((f"generate {n_img} images, spectral_norm='train'", f"'stored', batch {best}", "'train' (1 power iteration)",
                 per_image[best] * n_img, t, float("nan"), m, f"restored bitwise: {restored()}"))

    # 5b. a B2-redrawn network (Eq. 4): the package's forward pass (subnormal attention weights, slow on x86)
    # against generate(), which rounds them to 0 on the CPU (biggan.subnormal_attention_zeroed)
    z, y = biggan.latents(classes[:2])
    with biggan.resample(model, block="B2", seed=0):
        def package():
            with torch.no_grad():
                return biggan.to_uint8(model(z, y, biggan.TRUNCATION))
        tb, mb, img_pkg = measure(package, reps)
        t, m, img_ours = measure(lambda: biggan.generate(model, classes[:2], batch_size=2), reps)
    rows.append(("generate 2 images, B2 redrawn", "package forward", "generate (subnormals to 0)", tb, t, mb, m,
                 f"same uint8 images: {np.array_equal(img_pkg, img_ours)}"))

    # 6. Figure 2 + S1 cost from the unit costs (5 + 24 networks, 24 + 48 images)
    t_pert = [r for r in rows if r[2] == "backup='disk'"][0][4]
    fig2 = 5 * t_pert + 24 * per_image[best]
    s1 = 24 * t_pert + 48 * per_image[best]

    print(f"\nBigGAN-deep-256 stand-in, CPU, torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"model state {model_mb:.0f} MB; medians of {reps} run(s)\n")
    head = ("task", "baseline", "ours", "base s", "ours s", "ratio", "base MB", "ours MB", "agreement")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for task, base, ours, tb, t, mb, m, agree in rows:
        ratio = tb / t if tb == tb and t else float("nan")
        print(f"| {task} | {base} | {ours} | {tb:.2f} | {t:.2f} | {ratio:.2f} | {mb:.0f} | {m:.0f} | {agree} |")
    print(f"\nfastest batch size on this CPU: {best} ({1 / per_image[best]:.2f} img/s; biggan.BATCH_SIZE = {biggan.BATCH_SIZE})")
    print(f"estimated cost: Figure 2 (5 networks, 24 images) {fig2:.0f} s; S1 (24 networks, 48 images) {s1:.0f} s; "
          f"both {fig2 + s1:.0f} s")


if __name__ == "__main__":
    main()

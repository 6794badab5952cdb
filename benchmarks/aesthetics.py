"""Benchmark of helpers.measures.aesthetics against the Aesthetics Toolbox's own code, side by side.

On the same images, in one run, on one core each (OMP/MKL/OpenBLAS/torch threads = 1):

1. the toolbox: its ``AT/*_qips.py`` functions called as its ``QIP_machine_script.py`` calls
   them (through ``tests/data/aesthetics-toolbox/make_reference.py``), in a subprocess of the
   toolbox's own Python environment, per measure group and per image;
2. ours: ``aesthetics.measure(img, which=group)`` per group, and the whole table
   ``aesthetics.measure(img)`` per image (shared colour conversions);
3. ours over 2 worker processes (one thread each): wall time per image.

It prints median seconds per image (median over images of the median over repeats), the
toolbox/ours ratio, and the largest relative difference of the values. Both sides count
their colour conversions (RGB to Lab, HSV and gray) in the size+color group. The toolbox is run
once per image (it takes minutes); ours ``--repeats`` times. The toolbox's CNN group here
computes the conv1 responses 5 times per image, its script 8 times, so its whole-script time
is a little higher than the sum shown. Times on a shared machine are noisy: repeat the run.

Usage::

    .venv/bin/python benchmarks/aesthetics.py --toolbox /path/to/Aesthetics-Toolbox \\
        --toolbox-python /path/to/toolbox-venv/bin/python [--images chelsea astronaut] [--repeats 3]

Defaults: ``$NA_AESTHETICS_TOOLBOX`` and ``$NA_AESTHETICS_TOOLBOX_PYTHON``.
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "aesthetics-toolbox"
# the toolbox's groups (make_reference.run) -> ours (aesthetics.MEASURES)
TOOLBOX_GROUPS = {"size+color": ("conversions", "simple"), "edges": ("edges",),
                  "fourier": ("fourier_redies", "fourier_spehar", "fourier_mather"),
                  "fractal": ("fractal_2d", "fractal_3d"), "phog": ("phog",), "cnn": ("cnn",), "balance": ("balance",)}
OUR_GROUPS = {"size+color": ("size", "color"), "edges": ("edges",), "fourier": ("fourier",), "fractal": ("fractal",),
              "phog": ("phog",), "cnn": ("cnn",), "balance": ("balance",)}

_TOOLBOX_SCRIPT = r"""
import json, sys, importlib.util
spec = importlib.util.spec_from_file_location("make_reference", sys.argv[1])
mr = importlib.util.module_from_spec(spec); spec.loader.exec_module(mr)
imgs = mr.images()
out = {}
for name in sys.argv[3:]:
    vals, secs = mr.run(sys.argv[2], imgs[name])
    out[name] = {"values": vals, "seconds": secs}
    print(name, round(sum(secs.values()), 1), "s", file=sys.stderr, flush=True)
print(json.dumps(out))
"""


def load_image(name):
    sys.path.insert(0, str(ROOT))
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_reference", DATA / "make_reference.py")
    mr = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mr)
    return mr.images()[name]


def _ours_whole(name):
    import torch

    torch.set_num_threads(1)
    from helpers.measures import aesthetics, aesthetics_cnn

    img = load_image(name)
    t = time.perf_counter()
    aesthetics.measure(img, cnn=aesthetics_cnn.toolbox_conv1(DATA / "bvlc_alexnet_conv1.npz"))
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--toolbox", default=os.environ.get("NA_AESTHETICS_TOOLBOX"), help="checkout of RBartho/Aesthetics-Toolbox")
    ap.add_argument("--toolbox-python", default=os.environ.get("NA_AESTHETICS_TOOLBOX_PYTHON"),
                    help="python of an environment with the toolbox's requirements")
    ap.add_argument("--images", nargs="+", default=["chelsea", "astronaut", "synthetic-portrait"])
    ap.add_argument("--repeats", type=int, default=3, help="repeats of our code per image")
    ap.add_argument("--skip-toolbox", action="store_true", help="time ours only")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(ROOT))
    from helpers.measures import aesthetics, aesthetics_cnn

    conv = aesthetics_cnn.toolbox_conv1(DATA / "bvlc_alexnet_conv1.npz")
    images = {n: load_image(n) for n in args.images}
    print(f"images: {', '.join(f'{n} {im.shape[1]}x{im.shape[0]}' for n, im in images.items())}; one thread each")

    tb = {}
    if not args.skip_toolbox:
        if not (args.toolbox and args.toolbox_python):
            ap.error("--toolbox and --toolbox-python (or $NA_AESTHETICS_TOOLBOX[_PYTHON]) are needed; or --skip-toolbox")
        env = dict(os.environ, PYTHONPATH="")
        t = time.perf_counter()
        res = subprocess.run([args.toolbox_python, "-c", _TOOLBOX_SCRIPT, str(DATA / "make_reference.py"), args.toolbox,
                              *args.images], capture_output=True, text=True, env=env, check=True)
        tb = json.loads(res.stdout)
        print(f"toolbox: {time.perf_counter() - t:.0f} s for {len(args.images)} images")

    aesthetics.measure(images[args.images[0]], cnn=conv)  # warm-up (imports, torch init)
    ours = {g: {n: [] for n in images} for g in OUR_GROUPS}
    whole = {n: [] for n in images}
    values = {}
    for _ in range(args.repeats):
        for n, img in images.items():
            for g, ours_groups in OUR_GROUPS.items():
                t = time.perf_counter()
                aesthetics.measure(img, which=list(ours_groups), cnn=conv)
                ours[g][n].append(time.perf_counter() - t)
            t = time.perf_counter()
            values[n] = aesthetics.measure(img, cnn=conv)
            whole[n].append(time.perf_counter() - t)

    def med(per_image):  # median over images of the median over repeats
        return statistics.median(statistics.median(v) if isinstance(v, list) else v for v in per_image.values())

    print(f"\n{'group':<12}{'toolbox s/img':>15}{'ours s/img':>12}{'ratio':>8}{'max rel diff':>14}")
    tb_total = {n: 0.0 for n in images}
    for g in OUR_GROUPS:
        o = med(ours[g])
        diff = ""
        if tb:
            per = {n: sum(tb[n]["seconds"][k] for k in TOOLBOX_GROUPS[g]) for n in images}
            for n in images:
                tb_total[n] += per[n]
            cols = [c for og in OUR_GROUPS[g] for c in aesthetics.MEASURES[og]]
            d = max(abs(values[n][c] - tb[n]["values"][aesthetics.TOOLBOX_COLUMNS[c]]) /
                    max(abs(tb[n]["values"][aesthetics.TOOLBOX_COLUMNS[c]]), 1e-12) for n in images for c in cols)
            t = med(per)
            print(f"{g:<12}{t:>15.3f}{o:>12.3f}{t / o:>8.1f}{d:>14.1e}")
        else:
            print(f"{g:<12}{'-':>15}{o:>12.3f}")
    w = med(whole)
    if tb:
        t = med(tb_total)
        print(f"{'whole table':<12}{t:>15.3f}{w:>12.3f}{t / w:>8.1f}")
    else:
        print(f"{'whole table':<12}{'-':>15}{w:>12.3f}")

    names = [n for n in images for _ in range(2)]  # each image twice: 2 tasks per worker at least
    with ProcessPoolExecutor(2) as ex:
        list(ex.map(_ours_whole, names[:2]))  # start the workers (imports) before timing
        t = time.perf_counter()
        list(ex.map(_ours_whole, names))
        par = (time.perf_counter() - t) / len(names)
    line = f"{'ours, 2 processes':<20} {par:.3f} s/img wall"
    if tb:
        line += f" ({med(tb_total) / par:.1f}x the toolbox's single thread)"
    print(line)
    print("Noisy shared machine: medians of few runs; rerun for stable numbers.")


if __name__ == "__main__":
    main()

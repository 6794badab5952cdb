"""Wall time of the whole class chain (notebooks 00-08, ``PROFILE="class"``) on the rehearsal files.

The class profile needs the pretrained weights and ArtBench-10, which cannot be fetched on
every machine. The rehearsal files (``helpers.testing.rehearsal``) hold seeded stand-in weights in the
real on-disk formats, so the same architectures run the same FLOPs: the wall time measured
here is the class profile's, only the pictures differ (and say STAND-IN).

What it does, in a fresh temporary folder (nothing of the user's is touched):

1. writes every rehearsal file: inception5h.zip, BigGAN-deep-256 as pytorch_pretrained_biggan
   saves it, ResNet-152 as torchvision saves it, and ArtBench-10 as ``artbench-10-python.tar.gz``
   with enough test images for the class profile's 100 per style;
2. serves the study's five start PNGs over HTTP from ``--study-files`` when given (the class
   profile starts from them, as the paper does), else runs notebook 01 with seeded noise starts;
3. runs ``helpers.pipeline.run("class")`` and prints each notebook's seconds and the total, with
   the machine's core count.

Usage: ``.venv/bin/python benchmarks/class_chain.py [--study-files DIR] [--keep DIR]``
"""
from __future__ import annotations

import argparse
import functools
import http.server
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path


def _serve(folder: Path) -> tuple[str, http.server.ThreadingHTTPServer]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a, **k: None
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{srv.server_address[1]}/{{name}}", srv


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study-files", type=Path, default=None,
                    help="folder holding gaussianNoise800x800_1..5.png (the study's start images)")
    ap.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it (default: a temporary one)")
    args = ap.parse_args(argv)

    work = args.keep or Path(tempfile.mkdtemp(prefix="na-class-chain-"))
    work.mkdir(parents=True, exist_ok=True)
    for var, sub in [("NA_RESULTS_DIR", "results"), ("NA_FIGURES_DIR", "figures"), ("NA_BUILD_DIR", "build"),
                     ("NA_CACHE_DIR", "cache")]:
        os.environ[var] = str(work / sub)
    from helpers import pipeline
    from helpers.testing import rehearsal

    t0 = time.perf_counter()
    # about 1/6 of each style lands in the test split: 600 per style gives the class profile's 100 test images
    out = rehearsal.write_all(work / "rehearsal", artbench_layouts=("cifar-python",), n_per_style=600, set_env=True)
    print(f"rehearsal files written in {time.perf_counter() - t0:.0f} s under {work / 'rehearsal'}", flush=True)
    params, srv = {}, None
    if args.study_files:
        url, srv = _serve(args.study_files)
        os.environ["NA_STUDY_START_URL"] = url
    else:
        params["START_IMAGES"] = "noise"
        print("no --study-files: notebook 01 starts from seeded noise (same cost)", flush=True)
    t0 = time.perf_counter()
    index = pipeline.run("class", parameters=params, keep_going=True)
    total = time.perf_counter() - t0
    if srv is not None:
        srv.shutdown()
    print(f"\nclass chain on {os.cpu_count()} CPU cores (torch threads: default), rehearsal weights:")
    print("| notebook | seconds |\n|---|---|")
    for e in index["notebooks"]:
        print(f"| {e['notebook']} | {e['seconds']:.0f} ({e['status']}) |")
    print(f"| **total (wall, incl. kernel starts)** | **{total:.0f}** ({total / 60:.1f} min) |")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

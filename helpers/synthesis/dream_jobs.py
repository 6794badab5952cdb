"""The whole DeepDream job: one PNG per (layer, seed), resumable, in worker processes, with a manifest.

:func:`synthesize` dreams every pending (layer, seed) pair of a job (:func:`helpers.synthesis.dream.dream`),
writes each PNG and then its JSON record atomically, and rebuilds ``manifest.csv`` from the records
(:func:`write_manifest`), so an interrupted run continues where it stopped.
"""
from __future__ import annotations

import concurrent.futures as cf
import difflib
import json
import multiprocessing as mp
import time
import warnings
from pathlib import Path

import pandas as pd
import torch

from helpers import io
from helpers.nets.layers import LAYERS
from helpers.progress import tqdm
from helpers.synthesis import dream, start_images
from helpers.synthesis.threads import torch_threads

def image_name(layer: str, seed: int) -> str:
    """Relative path of one stimulus inside the output folder.

    Used in: notebook 01 (p1-dream-contact-sheet.png) through :func:`helpers.synthesis.dream_jobs.synthesize`.
    """
    return f"images/{LAYERS.index(layer) if layer in LAYERS else 999:03d}_{layer}_seed{seed}.png"


def synthesize(layers, seeds, out_dir, *, model, size: int = 800, n_renders: int = 50, iter_n: int = 1,
               step: float = 2.0, octave_n: int = 5, octave_scale: float = 1.4, tile_size: int = 512,
               start=None, device=None, shard: int = 0, n_shards: int = 1, on_error: str = "warn",
               fast: bool = True, batch_tiles: bool = False, threads=None,
               workers: int = 1, progress: bool = True, precision: str = "fp32", batch_images: bool | None = None,
               manifest: bool = True):
    """Dream one PNG per (layer, seed) into ``out_dir`` and write ``out_dir/manifest.csv``.

    Resumable: each finished image gets a JSON record (``records/``) written after its PNG,
    both atomically; a re-run skips (layer, seed) pairs whose PNG and record exist with the
    same settings and weights, so an interrupted run leaves no half-written file and
    continues where it stopped. The manifest is rebuilt from all records (every shard's).

    Args:
        layers: ``"all"`` or layer names (from :data:`helpers.nets.layers.LAYERS`).
        seeds: seeds; each picks the start image (:func:`helpers.synthesis.start_images.start_images`) and the roll offsets.
        out_dir: output folder (the notebook uses ``paths.results(PROFILE) / "dream"``).
        model: the network (``models.load("inception5h", ...)``); its ``na_info`` is recorded.
        size, n_renders, iter_n, step, octave_n, octave_scale, tile_size: see :func:`helpers.synthesis.dream.dream`.
        start: ``None`` (seeded noise), a folder or list of the study's start PNGs.
        device: torch device.
        shard, n_shards: process only jobs ``shard, shard + n_shards, ...`` (parallel machines).
        on_error: ``"warn"`` (log a warning, skip the image, continue) or ``"raise"``.
        fast, batch_tiles, precision: see :func:`helpers.synthesis.dream.dream`; the resolved precision is recorded per
            image (a change of precision re-dreams the images), and so is the engine
            (:func:`helpers.synthesis.dream.check_engine`: fused on a CPU).
        threads: torch CPU threads for the job (restored afterwards); ``"auto"``: as many as
            there are free cores, re-measured before every render (:class:`helpers.synthesis.threads.AdaptiveThreads`;
            with ``workers``: 1 per worker); ``None`` keeps torch's
            setting (with ``workers``: torch's setting divided among the workers). On a CPU
            shared with other busy processes 1 thread per job is often much faster than several
            (OpenMP threads wait for each other).
        workers: dream this many images at once in separate processes (CPU only). Two
            single-threaded workers keep 2 cores busier than one 2-thread process (small
            late-octave tiles parallelise poorly); ``benchmarks/dream.py --job`` measures it.
            Each image is still computed exactly as with ``workers=1`` on one thread.
        progress: tqdm bar with ETA.
        batch_images: dream the seeds of each layer as one batch (:func:`helpers.synthesis.dream.dream_batch`) in one
            process; ``None``: on for CUDA devices, off on a CPU (where it gains nothing). ``fast``
            and ``batch_tiles`` do not apply (the batched path is the fast one).
        manifest: rebuild ``manifest.csv``; ``False`` (a shard of a cluster job, :mod:`helpers.synthesis.dream_shards`,
            so shards never write the same file) returns this shard's image paths instead.

    Returns:
        pandas.DataFrame: the manifest (columns ``layer``, ``layer_index``, ``seed``, ``path``,
        weights provenance, every parameter, ``objective_before``, ``objective_after``,
        ``seconds``), sorted by layer index then seed.

    Used in: notebook 01 (p1-dream-contact-sheet.png).
    """
    if model is None:
        raise ValueError("synthesize needs model= (e.g. models.load('inception5h', source='pretrained'))")
    if on_error not in ("warn", "raise"):
        raise ValueError(f"on_error must be 'warn' or 'raise', got {on_error!r}")
    if not 0 <= shard < n_shards:
        raise ValueError(f"shard must be in [0, n_shards={n_shards}), got {shard}")
    layers = list(LAYERS) if layers == "all" else [layers] if isinstance(layers, str) else list(layers)
    for layer in layers:
        if layer not in LAYERS:
            raise KeyError(f"unknown layer {layer!r}; closest: {difflib.get_close_matches(layer, LAYERS, n=5, cutoff=0.5)}")
        if hasattr(model, "check_layer"):
            model.check_layer(layer)
    seeds = [int(s) for s in seeds]
    out_dir = Path(out_dir)
    (out_dir / "records").mkdir(parents=True, exist_ok=True)
    info = dict(getattr(model, "na_info", {}) or {})
    weights = {"weights_name": info.get("name", "unknown"), "weights_source": info.get("source", "unknown"),
               "weights_file": Path(info["file"]).name if info.get("file") else None,
               "weights_sha256": info.get("sha256"), "weights_seed": info.get("seed")}
    params = dict(size=size, n_renders=n_renders, iter_n=iter_n, step=float(step), octave_n=octave_n,
                  octave_scale=float(octave_scale), tile_size=tile_size)
    precision = dream.check_precision(precision, fast=fast, device=device or next(model.parameters()).device)
    starts = start_images.start_images(start, seeds, size=size)
    jobs = [(layer, s) for layer in layers for s in seeds][shard::n_shards]
    todo = []
    for layer, s in jobs:
        rec = out_dir / "records" / (Path(image_name(layer, s)).stem + ".json")
        if rec.exists() and (out_dir / image_name(layer, s)).exists():
            old = io.load_json(rec)
            if all(old.get(k) == v for k, v in {**params, **weights}.items()) and old.get("start_image") == starts[s][1] \
                    and old.get("precision", "fp32") == precision:
                continue
        todo.append((layer, s, rec))
    workers = int(workers)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if workers > 1 and str(device or next(model.parameters()).device).startswith("cuda"):
        raise ValueError("workers > 1 runs several CPU processes; on a GPU use workers=1: the seeds of a layer are "
                         "then dreamed as one batch (batch_images, on by default on CUDA), which replaces the "
                         "workers; shard=/n_shards= split the job across GPUs")
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    if batch_images is None:
        batch_images = dev.type == "cuda"
    if batch_images and (workers > 1 or not fast):
        raise ValueError("batch_images=True runs the fast path in one process: use workers=1 and fast=True")
    if batch_images:
        with torch_threads(None if threads == "auto" else threads):
            _run_jobs_batched(model, todo, starts, params, weights, out_dir, device=dev, on_error=on_error,
                              progress=progress, precision=precision)
    elif workers > 1 and len(todo) > 1:
        _run_jobs_parallel(model, todo, starts, params, weights, out_dir, workers=workers,
                           threads=None if threads == "auto" else threads, device=device, on_error=on_error,
                           fast=fast, batch_tiles=batch_tiles, progress=progress, precision=precision)
    else:
        with torch_threads(threads):
            _run_jobs(model, todo, starts, params, weights, out_dir, device=device, on_error=on_error,
                      fast=fast, batch_tiles=batch_tiles, progress=progress, precision=precision,
                      threads="auto" if threads == "auto" else None)
    if not manifest:
        return [image_name(layer, s) for layer, s in jobs]
    wanted = {(layer, s) for layer in layers for s in seeds}
    return write_manifest(out_dir, keep=lambda r: (r["layer"], r["seed"]) in wanted and r.get("start_image") == starts[r["seed"]][1]
                          and all(r.get(k) == v for k, v in {**params, **weights}.items())
                          and r.get("precision", "fp32") == precision)


def _one_image(model, layer, s, rec, start, params, weights, out_dir, *, device, fast, batch_tiles, precision="fp32",
               threads=None):
    """Dream one (layer, seed), then write its PNG and (after it) its JSON record, both atomically."""
    img, run = dream.dream(model, layer, start[0], seed=s, device=device, return_info=True, fast=fast,
                     batch_tiles=batch_tiles, precision=precision, threads=threads,
                     **{k: v for k, v in params.items() if k != "size"})
    io.save_image(img, Path(out_dir) / image_name(layer, s))
    row = {"layer": layer, "layer_index": LAYERS.index(layer), "seed": s, "path": image_name(layer, s),
           **weights, **params, "start_image": start[1], "device": str(device or "model"), "fast": bool(fast),
           "precision": run["precision"], "engine": run["engine"],
           "objective_before": run["objective_before"], "objective_after": run["objective_after"],
           "seconds": round(run["seconds"], 3)}
    io.save_json(row, rec)


def _run_jobs_batched(model, todo, starts, params, weights, out_dir, *, device, on_error, progress, precision):
    """:func:`_run_jobs` with the pending seeds of each layer dreamed together (:func:`helpers.synthesis.dream.dream_batch`)."""
    by_layer: dict = {}
    for layer, s, rec in todo:
        by_layer.setdefault(layer, []).append((s, rec))
    kw = {k: v for k, v in params.items() if k != "size"}
    bar = tqdm(total=len(todo), desc="dream (batched)", unit="img", disable=not progress)
    for layer, items in by_layer.items():
        bar.set_postfix_str(f"{layer} x{len(items)}")
        try:
            t0 = time.perf_counter()
            seeds = [s for s, _ in items]
            befores = [dream.objective(model, layer, starts[s][0], device=device) for s in seeds]
            outs = dream.dream_batch(model, layer, [starts[s][0] for s in seeds], seeds=seeds, device=device,
                               precision=precision, **kw)
            dt = (time.perf_counter() - t0) / len(items)
            for (s, rec), img, before in zip(items, outs, befores):
                io.save_image(img, Path(out_dir) / image_name(layer, s))
                row = {"layer": layer, "layer_index": LAYERS.index(layer), "seed": s, "path": image_name(layer, s),
                       **weights, **params, "start_image": starts[s][1], "device": str(device), "fast": True,
                       "precision": precision, "engine": "autograd", "batched": len(items), "objective_before": before,
                       "objective_after": dream.objective(model, layer, img, device=device), "seconds": round(dt, 3)}
                io.save_json(row, rec)
        except Exception as exc:  # noqa: BLE001 - one bad layer must not stop a 720-image job
            if on_error == "raise":
                raise
            warnings.warn(f"dream: {layer} seeds {[s for s, _ in items]} failed ({type(exc).__name__}: {exc}); "
                          "skipped", stacklevel=3)
        bar.update(len(items))
    bar.close()


def _run_jobs(model, todo, starts, params, weights, out_dir, *, device, on_error, fast, batch_tiles, progress,
              precision="fp32", threads=None):
    bar = tqdm(todo, desc="dream", unit="img", disable=not progress)
    for layer, s, rec in bar:
        bar.set_postfix_str(f"{layer} seed {s}")
        try:
            _one_image(model, layer, s, rec, starts[s], params, weights, out_dir, device=device, fast=fast,
                       batch_tiles=batch_tiles, precision=precision, threads=threads)
        except Exception as exc:  # noqa: BLE001 - one bad image must not stop a 720-image job
            if on_error == "raise":
                raise
            warnings.warn(f"dream: {layer} seed {s} failed ({type(exc).__name__}: {exc}); skipped", stacklevel=3)
    bar.close()


_WORKER: dict = {}


def _worker_init(model, threads):
    torch.set_num_threads(int(threads))
    _WORKER["model"] = model.eval()


def _worker_job(layer, s, rec, start, params, weights, out_dir, device, fast, batch_tiles, precision="fp32"):
    try:
        _one_image(_WORKER["model"], layer, s, rec, start, params, weights, out_dir, device=device, fast=fast,
                   batch_tiles=batch_tiles, precision=precision)
    except Exception as exc:  # re-raised in the parent as a plain, always picklable error
        raise RuntimeError(f"{type(exc).__name__}: {exc}") from None


def _run_jobs_parallel(model, todo, starts, params, weights, out_dir, *, workers, threads, device, on_error, fast,
                       batch_tiles, progress, precision="fp32"):
    """:func:`_run_jobs` over ``workers`` spawned processes; records and PNGs are per image, so an
    interrupted run resumes like a sequential one."""
    threads = int(threads) if threads else max(1, torch.get_num_threads() // workers)
    workers = min(workers, len(todo))
    # spawned workers inherit the environment, with it the OpenMP wait setting that importing helpers
    # made before torch loaded (helpers.OMP_POLICY)
    with cf.ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_worker_init,
                                initargs=(model, threads)) as ex:
        futures = {ex.submit(_worker_job, layer, s, rec, starts[s], params, weights, out_dir, device, fast,
                             batch_tiles, precision): (layer, s) for layer, s, rec in todo}
        try:
            for fut in tqdm(cf.as_completed(futures), total=len(futures), desc=f"dream ({workers} workers)",
                            unit="img", disable=not progress):
                exc = fut.exception()
                if exc is None:
                    continue
                layer, s = futures[fut]
                if on_error == "raise":
                    raise RuntimeError(f"dream: {layer} seed {s} failed: {exc}") from exc
                warnings.warn(f"dream: {layer} seed {s} failed ({exc}); skipped", stacklevel=3)
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def write_manifest(out_dir, *, keep=None):
    """Rebuild ``out_dir/manifest.csv`` from the per-image records; returns the DataFrame.

    Args:
        out_dir: the job's folder.
        keep: predicate on a record dict; :func:`synthesize` keeps the records of its own job
            (all shards, same settings and weights), so stale images from other settings in the
            same folder never enter the manifest.

    Used in: notebook 01 (p1-dream-contact-sheet.png) through :func:`helpers.synthesis.dream_jobs.synthesize`.
    """
    out_dir = Path(out_dir)
    rows = [json.loads(p.read_text()) for p in sorted((out_dir / "records").glob("*.json"))]
    rows = [r for r in rows if (out_dir / r["path"]).exists() and (keep is None or keep(r))]
    df = pd.DataFrame(rows)
    first = ["layer", "layer_index", "seed", "path", "weights_name", "weights_source", "weights_file", "weights_sha256",
             "weights_seed", *dream.PARAMS, "start_image", "objective_before", "objective_after", "seconds", "device"]
    df = df[[c for c in first if c in df.columns] + [c for c in df.columns if c not in first]] if len(df) else \
        pd.DataFrame(columns=first)
    if len(df):
        df = df.sort_values(["layer_index", "seed"], kind="stable").reset_index(drop=True)
    io.save_table(df, out_dir / "manifest.csv")
    return df

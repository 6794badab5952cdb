"""Notebook 01's DeepDream job in shards, for a cluster (:mod:`helpers.cluster`): prepare, one shard, merge.

Each step does what notebook 01's cells do up to the job (``profiles.resolve``, ``helpers.setup``,
``models.load``, ``start_images``, ``dream_jobs.synthesize``), from the same parameters (the notebook's
parameters cell, overridden by ``-p``), so a shard dreams exactly the images the notebook would, byte for byte
at the same thread count. A shard writes only its own images and records (``dream_jobs.synthesize`` with
``shard``/``n_shards`` and ``manifest=False``); the notebook, run afterwards, finds every image done and writes
the manifest and the figures.
"""
from __future__ import annotations

import helpers
from helpers import paths, profiles
from helpers.nets import models
from helpers.nets.layers import LAYERS
from helpers.synthesis import dream, dream_jobs, start_images


def _settings(p: dict):
    """Notebook 01's cell 'the profile's settings for every parameter left at None', from its parameters ``p``."""
    return profiles.resolve("01", p["PROFILE"], layers=p["LAYERS"], seeds=p["SEEDS"], size=p["SIZE"],
                            n_renders=p["N_RENDERS"], iter_n=p["ITER_N"], step=p["STEP"], octave_n=p["OCTAVE_N"],
                            octave_scale=p["OCTAVE_SCALE"], tile_size=p["TILE_SIZE"], start=p["START_IMAGES"],
                            threads=p["THREADS"], workers=p["WORKERS"])


def prepare(p: dict, *, n_shards: int) -> None:
    """Fetch (and check) the weights and start images once, before the shards read them from the cache.

    Used in: no notebook; by :func:`helpers.cluster.run_task` (the prepare job of ``pipeline submit 01``).
    """
    cfg = _settings(p)
    device = helpers.setup(seed=p["SEED"], device=p["DEVICE"], style=False)
    models.load("inception5h", source=cfg.source, path=p["WEIGHTS"], device=device)
    start_images.start_images(cfg.start, cfg.seeds, size=cfg.size)
    n = len(LAYERS if cfg.layers == "all" else cfg.layers) * len(cfg.seeds)
    print(f"prepare 01: weights and start images ready; {n} images in {n_shards} shards", flush=True)


def run_shard(p: dict, *, shard: int, n_shards: int) -> dict:
    """Dream shard ``shard`` of ``n_shards`` (images ``shard, shard + n_shards, ...`` of the job); resumable.

    Returns:
        ``{"files": [...]}``: the images this shard owns (relative to the job folder), all present.

    Raises:
        SystemExit: an image of the shard failed (the task fails, the notebook job does not start).

    Used in: no notebook; by :func:`helpers.cluster.run_task` (the array job of ``pipeline submit 01``).
    """
    cfg = _settings(p)
    algo = {k: cfg[k] for k in dream.PARAMS}
    device = helpers.setup(seed=p["SEED"], device=p["DEVICE"], style=False)
    model = models.load("inception5h", source=cfg.source, path=p["WEIGHTS"], device=device)
    out = paths.results(p["PROFILE"]) / "dream"
    workers = (2 if device.type == "cpu" else 1) if cfg.workers == "auto" else int(cfg.workers)
    files = dream_jobs.synthesize(cfg.layers, cfg.seeds, out, model=model, start=cfg.start, device=device, shard=shard,
                                  n_shards=n_shards, threads=cfg.threads, workers=workers, fast=p["FAST"],
                                  precision=p["PRECISION"], manifest=False, progress=False, **algo)
    missing = [f for f in files if not (out / f).exists()]
    if missing:
        raise SystemExit(f"shard {shard} of {n_shards}: {len(missing)} of {len(files)} images failed "
                         f"(first: {missing[0]}); see the warnings above. Submit again to retry them.")
    print(f"shard {shard} of {n_shards}: {len(files)} images in {paths.display(out)}", flush=True)
    return {"files": files}


def merge(p: dict, *, n_shards: int) -> None:
    """Nothing to assemble: notebook 01, run next, skips every finished image and writes the manifest.

    Used in: no notebook; by :func:`helpers.cluster.run_task` (the notebook job of ``pipeline submit 01``).
    """
    print(f"merge 01: {n_shards} shards finished; the notebook writes the manifest and the figures", flush=True)

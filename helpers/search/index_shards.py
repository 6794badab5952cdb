"""Notebook 07's corpus encoding in shards, for a cluster (:mod:`helpers.cluster`): prepare, one shard, merge.

The single-process build (:func:`helpers.search.index.build_index`) encodes the corpus in batches of
``batch_size`` rows and fits one mean direction on a seeded sample. Here

* **prepare** reads the corpus and the encoder as notebook 07 does, fits the mean direction once
  (:func:`helpers.search.index.fit_mean`) and writes ``plan.json`` (the index settings, the shards' row ranges)
  beside it in ``<INDEX>.shards/``;
* **shard k** builds an index of its own contiguous block of rows into ``<INDEX>.shards/shard-KKKK-of-NNNN/``
  with that mean (``build_index(..., mean=)``: resumable, atomic commits). Block boundaries are multiples of
  ``batch_size``, so every network batch holds the same images as in the single-process build;
* **merge** concatenates the shards' row-ordered files (``sketch.f16``, ``factors.f16``, ``ok.u8``,
  ``energy.f32``, raw arrays without headers) and item tables into ``INDEX`` and marks it complete with the plan's
  settings (no network runs); notebook 07, run next, finds the index complete with its own settings and loads it
  (:func:`verify` then checks that it did, and did not rebuild it).

The merged arrays equal the single-process index byte for byte (``tests/test_slurm.py``).
"""
from __future__ import annotations

import inspect
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

import helpers
from helpers import io, paths, profiles
from helpers.search import artbench, gram, index

ARRAYS = ("sketch.f16", "factors.f16", "ok.u8", "energy.f32")  # build_index's row-ordered memmaps
N_FIT = inspect.signature(index.build_index).parameters["n_fit"].default  # notebook 07 leaves n_fit at its default


def shard_ranges(n: int, n_shards: int, batch_size: int) -> list[tuple[int, int]]:
    """Contiguous ``(lo, hi)`` row blocks, one per shard, whose bounds are multiples of ``batch_size`` (but ``n``).

    Whole batches are dealt out evenly; shards beyond the number of batches get an empty block.

    Used in: no notebook; by :func:`helpers.search.index_shards.prepare`; ``tests/test_slurm.py``.
    """
    n_batches = -(-n // batch_size)
    base, extra = divmod(n_batches, n_shards)
    out, b = [], 0
    for k in range(n_shards):
        nb = base + (k < extra)
        out.append((min(n, b * batch_size), min(n, (b + nb) * batch_size)))
        b += nb
    return out


def _open(p: dict, *, make_demo: bool):
    """Notebook 07's cells up to the index: settings, corpus (the smoke demo corpus made only when asked), encoder."""
    device = helpers.setup(seed=p["SEED"], device=p["DEVICE"], style=False)
    cfg = profiles.resolve("07", p["PROFILE"], corpus_layout=p["CORPUS_LAYOUT"], n_per_style=p["N_PER_STYLE"],
                           split=p["SUBSET_SPLIT"], image_size=p["IMAGE_SIZE"], weights=p["WEIGHTS"],
                           batch_size=p["BATCH_SIZE"], download=p["DOWNLOAD"], rebuild=p["REBUILD"])
    corpus_path = p["CORPUS"]
    if corpus_path is None and cfg.demo_corpus:
        corpus_path = paths.results(p["PROFILE"]) / "artsearch-demo-corpus"
        if make_demo:
            artbench.make_demo_corpus(corpus_path, seed=p["SEED"], **cfg.demo_corpus)
    corpus = artbench.read_corpus(artbench.locate_corpus(corpus_path, layout=cfg.corpus_layout, download=cfg.download))
    if cfg.n_per_style:
        corpus = artbench.subset(corpus, n_per_style=cfg.n_per_style, split=cfg.split)
    encoder = gram.GramEncoder(size=cfg.image_size, source=cfg.weights, seed=p["SEED"], device=device,
                               precision=p["PRECISION"])
    if encoder.stand_in:
        encoder.calibrate_stand_in(corpus.load(i) for i in range(0, len(corpus), 2))
    out = Path(p["INDEX"] or paths.results(p["PROFILE"]) / "artsearch-index")
    settings = index.index_settings(corpus, encoder, sketch_dim=p["SKETCH_DIM"], rank=p["RANK"], seed=p["SEED"],
                                    n_fit=N_FIT)
    return cfg, corpus, encoder, out, settings


def shards_dir(index_dir) -> Path:
    """``<INDEX>.shards``: the plan, the mean direction and one folder per shard.

    Used in: no notebook; by the steps of this module; ``tests/test_slurm.py``.
    """
    index_dir = Path(index_dir)
    return index_dir.with_name(index_dir.name + ".shards")


def _plan(d: Path, settings: dict, n_shards: int) -> dict:
    plan = io.load_json(d / "plan.json") if (d / "plan.json").exists() else None
    if plan is None or plan["settings"] != settings or plan["n_shards"] != n_shards:
        raise SystemExit(f"{d}: no shard plan for these settings and {n_shards} shards; submit again "
                         "(its prepare job writes the plan)")
    return plan


def prepare(p: dict, *, n_shards: int) -> None:
    """Make (smoke) or fetch the corpus, fit the mean direction once and write the shards' plan.

    A plan of other settings (another corpus, encoder or sizes) is removed with its shards' folders.

    Used in: no notebook; by :func:`helpers.cluster.run_task` (the prepare job of ``pipeline submit 07``).
    """
    cfg, corpus, encoder, out, settings = _open(p, make_demo=True)
    d = shards_dir(out)
    d.mkdir(parents=True, exist_ok=True)
    plan = io.load_json(d / "plan.json") if (d / "plan.json").exists() else None
    if plan is not None and (plan["settings"] != settings or plan["n_shards"] != n_shards):
        print(f"prepare 07: {paths.display(d)} holds shards of other settings or another shard count; removing them")
        for old in d.glob("shard-*"):
            shutil.rmtree(old)
        (d / "plan.json").unlink()
        plan = None
    if plan is None or not (d / "mean.npy").exists():
        t0 = time.perf_counter()
        mean = index.fit_mean(corpus, encoder, seed=p["SEED"], n_fit=N_FIT, batch_size=cfg.batch_size,
                              num_workers=p["NUM_WORKERS"])
        with io.atomic_path(d / "mean.npy", suffix=".npy") as tmp:
            np.save(tmp, mean)
        ranges = shard_ranges(len(corpus), n_shards, cfg.batch_size)
        io.save_json({"settings": settings, "n": len(corpus), "n_shards": n_shards, "batch_size": cfg.batch_size,
                      "ranges": ranges}, d / "plan.json")  # last: the plan commits the prepare step
        print(f"prepare 07: {len(corpus)} artworks in {n_shards} shards of whole batches of {cfg.batch_size}; "
              f"mean direction fitted in {time.perf_counter() - t0:.1f} s", flush=True)
    else:
        print(f"prepare 07: plan and mean direction already in {paths.display(d)}", flush=True)


def run_shard(p: dict, *, shard: int, n_shards: int) -> dict:
    """Encode this shard's block of rows into its own index folder (resumes where a killed task stopped).

    Returns:
        ``{"rows": [lo, hi], "folder": ...}``.

    Used in: no notebook; by :func:`helpers.cluster.run_task` (the array job of ``pipeline submit 07``).
    """
    cfg, corpus, encoder, out, settings = _open(p, make_demo=False)
    d = shards_dir(out)
    plan = _plan(d, settings, n_shards)
    lo, hi = plan["ranges"][shard]
    folder = d / f"shard-{shard:04d}-of-{n_shards:04d}"
    if hi > lo:
        part = artbench.Corpus(corpus.items.iloc[lo:hi].reset_index(drop=True), arrays=corpus.arrays, root=corpus.root,
                               kind=corpus.kind, demo=corpus.demo)
        t0 = time.perf_counter()
        index.build_index(part, folder, encoder=encoder, sketch_dim=p["SKETCH_DIM"], rank=p["RANK"], seed=p["SEED"],
                          n_fit=N_FIT, batch_size=cfg.batch_size, num_workers=p["NUM_WORKERS"], overwrite=True,
                          progress=False, mean=np.load(d / "mean.npy"))
        print(f"shard {shard} of {n_shards}: rows {lo}-{hi - 1} encoded in {time.perf_counter() - t0:.1f} s "
              f"({paths.display(folder)})", flush=True)
    return {"rows": [lo, hi], "folder": paths.display(folder)}


def merge(p: dict, *, n_shards: int) -> None:
    """Assemble ``INDEX`` from the shards' folders (atomic writes); no network runs.

    The arrays are the shards' row-ordered files concatenated, ``items.parquet`` their item tables in row order,
    ``mean.npy`` the plan's and ``meta.json`` the plan's settings (which every shard checked against its own)
    marked complete, written last. Does nothing when ``INDEX`` already holds the complete index of these settings.

    Raises:
        SystemExit: a shard's folder is missing or incomplete, or ``INDEX`` holds an index of other settings
            (and the profile does not rebuild: ``REBUILD``).

    Used in: no notebook; by :func:`helpers.cluster.run_task` (the notebook job of ``pipeline submit 07``).
    """
    cfg = profiles.resolve("07", p["PROFILE"], rebuild=p["REBUILD"])
    out = Path(p["INDEX"] or paths.results(p["PROFILE"]) / "artsearch-index")
    d = shards_dir(out)
    plan = io.load_json(d / "plan.json") if (d / "plan.json").exists() else None
    if plan is None or plan["n_shards"] != n_shards:
        raise SystemExit(f"{d}: no shard plan for {n_shards} shards; submit again (its prepare job writes the plan)")
    settings, n = plan["settings"], plan["n"]
    meta = io.load_json(out / "meta.json") if (out / "meta.json").exists() else None
    if meta is not None and {k: meta.get(k) for k in settings} == settings and meta.get("complete"):
        print(f"merge 07: {paths.display(out)} already holds the complete index", flush=True)
        return
    if meta is not None and {k: meta.get(k) for k in settings} != settings and not cfg.rebuild:
        raise SystemExit(f"{out}: holds an index built with other settings or another corpus; use another INDEX, "
                         "delete it, or pass -p REBUILD True")
    parts = []
    for k, (lo, hi) in enumerate(plan["ranges"]):
        if hi == lo:
            continue
        folder = d / f"shard-{k:04d}-of-{n_shards:04d}"
        m = io.load_json(folder / "meta.json") if (folder / "meta.json").exists() else {}
        if not m.get("complete") or m.get("n") != hi - lo or m.get("encoder") != settings["encoder"]:
            raise SystemExit(f"merge 07: shard {k} ({paths.display(folder)}) is missing, incomplete or of other "
                             "settings; submit again")
        parts.append(folder)
    out.mkdir(parents=True, exist_ok=True)
    (out / "meta.json").unlink(missing_ok=True)  # an index of other settings stops being one before its files change
    for name in ARRAYS:
        with io.atomic_path(out / name) as tmp, open(tmp, "wb") as dst:
            for folder in parts:
                with open(folder / name, "rb") as src:
                    shutil.copyfileobj(src, dst, 16 << 20)
    items = pd.concat([pd.read_parquet(f / "items.parquet") for f in parts], ignore_index=True)
    if len(items) != n:
        raise SystemExit(f"merge 07: the shards hold {len(items)} items, the plan {n}")
    io.save_table(items, out / "items.parquet")
    with io.atomic_path(out / "mean.npy", suffix=".npy") as tmp:
        np.save(tmp, np.load(d / "mean.npy"))
    io.save_json({**settings, "position": n, "complete": True,
                  "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "merged_from": {"folder": paths.display(d), "n_shards": n_shards}}, out / "meta.json")
    print(f"merge 07: {len(parts)} shards -> {paths.display(out)} ({n} artworks)", flush=True)


def verify(p: dict, *, n_shards: int) -> None:
    """After notebook 07 ran: its index must still be the one assembled from the shards (``merged_from``).

    With ``REBUILD`` (smoke) a notebook whose index settings differed from the shards' would silently re-encode
    the whole corpus in one process; this makes such a mismatch an error of the notebook job.

    Raises:
        SystemExit: naming the index folder.

    Used in: no notebook; by :func:`helpers.cluster.run_task` (the notebook job of ``pipeline submit 07``).
    """
    out = Path(p["INDEX"] or paths.results(p["PROFILE"]) / "artsearch-index")
    meta = io.load_json(out / "meta.json") if (out / "meta.json").exists() else {}
    if meta.get("merged_from", {}).get("n_shards") != n_shards or not meta.get("complete"):
        raise SystemExit(f"{out}: notebook 07 did not use the index assembled from the {n_shards} shards (it rebuilt "
                         "it: its settings differ from the shard plan's); report this as a bug of helpers/search/index_shards.py")

"""Benchmark of the nearest-painting search (helpers.search.gram, helpers.search.index), all in one process.

Sections (``--only pass,demo,synthetic,bf16``; all by default):

* ``pass`` (issue 22): whole ``build_index`` passes, JPEG decoding included, over 200 real-format 256-px
  JPEGs written by :func:`helpers.testing.rehearsal.write_artbench`: the straight fp32 path (torchvision
  trunk, float64 eigh on all threads: the previous path and what a user would write) against the default
  path (``fast=True``: BatchNorm folded, channels-last, cached triangle, float32 eigh on one thread),
  interleaved in one run (``--bf16`` adds the fast bf16 path). Reports images/s (wall), CPU seconds per
  image (steadier on a shared machine) and hours per 60,000 paintings, recall@10 of the default path
  against the straight fp32 exact search (every corpus image a query against the others: 200 queries),
  a CPU-time profile of each stage (decode, resize, forward, Gram, eigh, sketch) per path, and the floor:
  the trunk's GFLOP at this machine's measured GEMM rate. Prints the machine.
  Last run (2026-12-06, Intel Xeon, 2 vCPUs, AVX512_BF16, no AMX, shared machine at load 7-14, 200 JPEGs):
  straight fp32 0.62 img/s wall, 0.683 CPU s/img; default 1.86 img/s (3.0x), 0.335 CPU s/img (2.0x); recall@10
  vs straight fp32 exact over 200 queries: exact 1.000, index 0.988 (straight's index 0.987); eigh 727.8 ->
  3.1 CPU ms/img; fp32 GEMM floor 16.7 img/s. Quiet machine (load 2, --corpus 200 --reps 3): straight 6.7, default 11.0 img/s
  (1.64x), bare fast forward 12.0, floor 18.8. Table and reading in docs/nearest-painting.md.

* ``bf16``: ResNet-152 to layer3 at 224 px, seconds per image in fp32 and under bf16 autocast
  (median of repeats, same batch, same process), and the agreement: the Gram cosine between the
  bf16 and fp32 vectors of the same image, the largest change of a pairwise cosine, and whether
  the nearest neighbour within the batch stays the same. Random ResNet-152 whose BatchNorm
  statistics are re-estimated on demo paintings (no pretrained weights here): its sensitivity to
  bf16 may differ from the pretrained network's.
* ``synthetic``: a real index (``build_index``, unchanged) over a synthetic corpus
  (:class:`SynthActivations`: layer3-like activations ``relu(D (w * (style + artist + item)))``
  with a power-law weighting ``w_k = k^-0.6`` of 96 latent directions and 60 items per artist;
  parameters chosen so that the pairwise Gram cosines (median 0.88, 5-95% 0.82-0.92) and the
  energy kept by rank 32 (0.9988) match what the calibrated stand-in gives on demo paintings:
  cosines 0.8-0.99, 0.9987 at 224 px). The exact top-10 of the queries comes from the same
  pass. Reports recall@1/@10 of the index against exact search for several candidate counts,
  and the query latency (p50/p95) on that index and on a 60,000-item index of tiled records
  (the work per query does not depend on the values), for 7x7 and 14x14 (224 px) queries.
* ``demo`` (the original table): encoding throughput (bare forward vs ``iter_encoded`` vs
  ``build_index``), query latency on a 60,000-item index of tiled demo records, index bytes per
  artwork, recall on demo paintings through the calibrated stand-in ResNet-152.

Usage: ``python benchmarks/artsearch.py [--quick] [--device cpu|cuda] [--only ...] [--synthetic N]``.
Timings on a shared machine are noisy: repeat, and compare ratios measured in one run.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import math
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from helpers import io
from helpers.nets import models
from helpers.search import artbench, gram, index as search_index
from helpers.testing import machine as _machine


def _med(ts):
    return float(np.median(ts))


# --- synthetic 60,000-item corpus (recall and latency at full size) -------------------------

class SynthActivations:
    """Seeded synthetic layer3 activations with a hierarchical style/artist/item structure.

    ``X_i = relu(D (w * (a S_style + b A_artist + c E_i)) + beta)``: ``D`` a fixed C x L Gaussian
    "feature dictionary", ``w_k = k^-power`` a power-law weighting of the L latent directions (so
    per-item Gram eigenvalues decay as a power law), ``S`` 10 style templates, ``A`` one template per
    artist (``items_per_artist`` items each), ``E_i`` item noise, all L x HW standard normals.
    Item ``i`` belongs to artist ``i // items_per_artist`` and style ``artist % 10``. Queries are new
    items (fresh noise) of existing artists, so their true neighbours are near-duplicates in style
    but not copies, as for generated images against paintings.
    """

    def __init__(self, *, channels=1024, hw=49, latent=96, items_per_artist=60, power=0.6, a=1.0, b=0.8, c=0.9,
                 beta=0.0, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.C, self.hw, self.L, self.ipa = channels, hw, latent, items_per_artist
        self.D = torch.randn(channels, latent, generator=g) / math.sqrt(latent)
        self.w = torch.arange(1, latent + 1, dtype=torch.float32).pow(-power)
        self.S = torch.randn(10, latent, hw, generator=g)
        self.a, self.b, self.c, self.beta, self.seed = a, b, c, beta, seed
        self._artists = {}

    def artist(self, j):
        if j not in self._artists:
            self._artists[j] = torch.randn(self.L, self.hw, generator=torch.Generator().manual_seed(10_000 + j))
        return self._artists[j]

    def acts(self, ids, *, query=False):
        """Activations N x C x HW for item ids (``query=True``: fresh noise for artist ``id``)."""
        zs = []
        for i in ids:
            art = int(i) if query else int(i) // self.ipa
            e = torch.randn(self.L, self.hw, generator=torch.Generator().manual_seed(
                (2_000_000_000 if query else 1_000_000) + int(i) + 7919 * self.seed))
            zs.append(self.w[:, None] * (self.a * self.S[art % 10] + self.b * self.artist(art) + self.c * e))
        z = torch.stack(zs)
        return torch.relu(self.D @ z + self.beta)


class _IdImages:
    """corpus.arrays stand-in: image ``r`` is an 8x8 constant image whose RGB bytes spell ``r``."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, r):
        r = int(r)
        return np.broadcast_to(np.array([r >> 16, (r >> 8) & 255, r & 255], np.uint8), (8, 8, 3)).copy()


class SynthEncoder(gram.GramEncoder):
    """A GramEncoder whose "network" maps an id image to :class:`SynthActivations` (the rest is the real code).

    Also keeps the exact top-k of ``queries`` over every row it encodes once (the exact baseline
    comes from the same pass that builds the index).
    """

    def __init__(self, synth, *, k=10):
        self.synth, self.size, self.device, self.precision = synth, 16, torch.device("cpu"), "fp32"
        self.channels = synth.C
        self.dim = self.channels * (self.channels + 1) // 2
        self.stand_in, self.description = True, "SYNTHETIC activations (benchmark)"
        self.info = {"name": "synthetic", "source": "random", "seed": synth.seed}
        self.k, self.qv, self.seen = k, None, set()
        self.best_s = self.best_i = None

    def ids(self, batch):
        mean = torch.tensor(gram.IMAGENET_MEAN)[None, :]
        std = torch.tensor(gram.IMAGENET_STD)[None, :]
        v = ((batch[:, :, 0, 0] * std + mean) * 255).round().long()
        return (v[:, 0] << 16 | v[:, 1] << 8 | v[:, 2]).tolist()

    def encode_batch(self, batch):
        ids = self.ids(batch)
        xn = self.normalised(self.synth.acts(ids))
        vec = gram.triangle(xn @ xn.transpose(1, 2))
        if self.qv is not None:
            new = [j for j, i in enumerate(ids) if i not in self.seen]
            if new:
                self.seen.update(ids[j] for j in new)
                s = self.qv @ vec[new].T
                idx = torch.tensor([ids[j] for j in new])[None].expand(s.shape[0], -1)
                s = torch.cat([self.best_s, s], 1)
                i = torch.cat([self.best_i, idx], 1)
                top = torch.topk(s, min(self.k, s.shape[1]), dim=1)
                self.best_s, self.best_i = top.values, torch.gather(i, 1, top.indices)
        return vec, xn

    def set_queries(self, qv):
        self.qv = qv
        self.best_s = torch.full((qv.shape[0], 0), -math.inf)
        self.best_i = torch.zeros((qv.shape[0], 0), dtype=torch.long)


def synthetic_corpus(n):
    import pandas as pd

    items = pd.DataFrame({"item": [f"synthetic-{i:05d}" for i in range(n)], "path": None, "row": np.arange(n),
                          "artist": None, "title": None, "style": None, "split": None, "file": None})
    return artbench.Corpus(items, arrays=_IdImages(n), kind="synthetic")


def _tiled_index(index, n_big, out, rng):
    """An ``n_big``-item index whose records repeat ``index``'s with 2% noise (same work per query, same format)."""
    import pandas as pd

    out.mkdir(parents=True)
    n, d1 = index.sketch.shape
    c, r = index.factors.shape[1:]
    sk = np.memmap(out / "sketch.f16", dtype=np.float16, mode="w+", shape=(n_big, d1))
    fa = np.memmap(out / "factors.f16", dtype=np.float16, mode="w+", shape=(n_big, c, r))
    for s in range(0, n_big, 2000):
        pick = rng.integers(0, n, min(2000, n_big - s))
        sk[s:s + len(pick)] = np.asarray(index.sketch[np.sort(pick)], np.float32) * (
            1 + 0.02 * rng.standard_normal((len(pick), d1), dtype=np.float32))
        fa[s:s + len(pick)] = index.factors[np.sort(pick)]
    sk.flush(), fa.flush()
    del sk, fa
    np.memmap(out / "ok.u8", dtype=np.uint8, mode="w+", shape=(n_big,))[:] = 1
    np.memmap(out / "energy.f32", dtype=np.float32, mode="w+", shape=(n_big,))[:] = 1
    shutil.copy(index.path / "mean.npy", out / "mean.npy")
    io.save_table(pd.DataFrame({"item": [f"tiled-{i}" for i in range(n_big)], "path": None, "artist": None,
                                "title": None, "style": None, "split": None}), out / "items.parquet")
    io.save_json({**index.meta, "n": n_big, "corpus": "tiled"}, out / "meta.json")
    return search_index.Index.load(out, encoder=index.encoder)


def synthetic_section(n, *, n_queries=20, k=10, candidates=(100, 200, 400), batch=64, rows=None, seed=0,
                      n_latency=60_000):
    """Build a real index over ``n`` synthetic items, exact top-k from the same pass; recall + latency."""
    import pandas as pd

    rows = [] if rows is None else rows
    synth = SynthActivations(seed=seed)
    enc = SynthEncoder(synth, k=k)
    rng = np.random.default_rng(seed)
    q_artists = rng.choice(n // synth.ipa, n_queries, replace=False)
    qxn = enc.normalised(synth.acts(q_artists, query=True))
    qv = gram.triangle(qxn @ qxn.transpose(1, 2))
    enc.set_queries(qv)
    corpus = synthetic_corpus(n)
    tmp = Path(tempfile.mkdtemp(prefix="na-bench-synth-"))
    try:
        t0 = time.perf_counter()
        index = search_index.build_index(corpus, tmp / "index", encoder=enc, batch_size=batch, num_workers=0,
                                      progress=True, flush_every=50)
        t_build = time.perf_counter() - t0
        names = [f"query-{j:03d}" for j in range(n_queries)]
        truth = pd.DataFrame([{"query": names[q], "rank": r + 1, "item": corpus.name(int(enc.best_i[q, r]))}
                              for q in range(n_queries) for r in range(k)])
        ex = enc.best_s.numpy()
        energy = float(index.energy[index.ok].mean())
        sample = torch.stack([gram.triangle(x @ x.T) for x in enc.normalised(synth.acts(rng.choice(n, 200, replace=False)))])
        cos = (sample @ sample.T).numpy()[np.triu_indices(200, 1)]
        rows.append((f"synthetic {n:,}: build_index (real code, synthetic activations HW={synth.hw})", f"{t_build:.0f} s", ""))
        rows.append((f"synthetic {n:,}: pairwise Gram cosine median [p5, p95]",
                     f"{np.median(cos):.3f} [{np.percentile(cos, 5):.3f}, {np.percentile(cos, 95):.3f}]", ""))
        rows.append((f"synthetic {n:,}: rank-32 energy kept (mean)", f"{energy:.4f}", ""))
        rows.append((f"synthetic {n:,}: exact top-1 cosine, gap top1-top2, gap top1-top10 (medians)",
                     f"{np.median(ex[:, 0]):.3f}, {np.median(ex[:, 0] - ex[:, 1]):.4f}, {np.median(ex[:, 0] - ex[:, -1]):.4f}", ""))
        out = {}
        for rr in ("none", "lowrank"):
            for c in candidates:
                found = index.search_encoded(qv, qxn, k=k, candidates=c, rerank=rr, names=names)
                r1, rk = search_index.recall_at(found, truth, k=1), search_index.recall_at(found, truth, k=k)
                lat = []
                for q in range(n_queries):
                    t0 = time.perf_counter()
                    index.search_encoded(qv[q:q + 1], qxn[q:q + 1], k=k, candidates=c, rerank=rr)
                    lat.append(time.perf_counter() - t0)
                lat = np.array(lat[1:])
                out[(rr, c)] = (r1, rk, float(np.median(lat)), float(np.percentile(lat, 95)))
                rows.append((f"synthetic {n:,}: rerank={rr}, {c} candidates: recall@1 / @{k}, p50 / p95 latency",
                             f"{r1:.3f} / {rk:.3f}, {1e3 * np.median(lat):.1f} / {1e3 * np.percentile(lat, 95):.1f} ms", ""))
        if n_latency and n_latency > n:
            big = _tiled_index(index, n_latency, tmp / "big", rng)
            for hw in (synth.hw, 196):  # 196 = 14 x 14: a 224-px query (the work does not depend on values)
                g = torch.Generator().manual_seed(1)
                x = torch.relu(torch.randn(n_queries, synth.C, hw, generator=g))
                xq = enc.normalised(x)
                vq = gram.triangle(xq @ xq.transpose(1, 2))
                for c in (100, 200):
                    lat = []
                    for q in range(n_queries):
                        t0 = time.perf_counter()
                        big.search_encoded(vq[q:q + 1], xq[q:q + 1], k=k, candidates=c, rerank="lowrank")
                        lat.append(time.perf_counter() - t0)
                    lat = np.array(lat[1:])
                    out[("latency", hw, c)] = (float(np.median(lat)), float(np.percentile(lat, 95)))
                    rows.append((f"latency, {n_latency:,}-item index (tiled records), query HW={hw}, {c} cand., lowrank: "
                                 "p50 / p95", f"{1e3 * np.median(lat):.1f} / {1e3 * np.percentile(lat, 95):.1f} ms", ""))
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bf16_section(*, size=224, batch=8, reps=3, rows=None, device="cpu"):
    """ResNet-152 -> layer3 Gram encoding, fp32 vs bf16 autocast: s/image (medians) and Gram cosine bf16 vs fp32."""
    rows = [] if rows is None else rows
    dev = torch.device(device)
    model = models.load("resnet152", source="random", seed=0, device=dev)
    rng = np.random.default_rng(3)
    imgs = [artbench.demo_painting(rng, i % 10, 256) for i in range(max(batch, 16))]
    fp = gram.GramEncoder(model, size=size, device=dev).calibrate_stand_in(imgs, batch_size=16)
    bf = gram.GramEncoder(model, size=size, device=dev, precision="bf16")
    x = torch.stack([fp.preprocess(im) for im in imgs[:batch]])
    times = {}
    for name, enc in (("fp32", fp), ("bf16", bf)):
        enc.encode_batch(x[:2])  # warm-up (oneDNN primitive creation)
        ts = []
        for _ in range(reps):
            t0 = time.perf_counter()
            enc.encode_batch(x)
            if dev.type == "cuda":
                torch.cuda.synchronize()
            ts.append((time.perf_counter() - t0) / batch)
        times[name] = _med(ts)
    v32, _ = fp.encode_batch(x)
    v16, _ = bf.encode_batch(x)
    agree = (v32 * v16).sum(1)  # both unit vectors: the Gram cosine of bf16 vs fp32 for the same image
    sims32, sims16 = (v32 @ v32.T).numpy(), (v16 @ v16.T).numpy()
    iu = np.triu_indices(batch, 1)
    rank_same = float(np.mean(np.argsort(-sims32, 1)[:, 1] == np.argsort(-sims16, 1)[:, 1]))
    rows.append((f"encode {size} px, batch {batch}: fp32 s/image (median of {reps})", f"{times['fp32']:.3f}", "1.00"))
    rows.append((f"encode {size} px, batch {batch}: bf16 autocast s/image", f"{times['bf16']:.3f}",
                 f"{times['fp32'] / times['bf16']:.2f}x faster"))
    rows.append(("bf16 vs fp32: Gram cosine of the same image, min / median", f"{agree.min():.6f} / {agree.median():.6f}", ""))
    rows.append(("bf16 vs fp32: max |pairwise cosine difference| (vs spread of pairwise cosines)",
                 f"{np.abs(sims32 - sims16)[iu].max():.5f} (spread {np.std(sims32[iu]):.4f})", ""))
    rows.append(("bf16 vs fp32: same nearest neighbour within the batch", f"{rank_same:.2f}", ""))
    return times, float(agree.min())


# --- the whole build_index pass: straight fp32 (the peer) vs the default path (issue 22) -------------------

def machine() -> str:
    """The machine (:func:`helpers.testing.machine.describe`) and torch's version and threads."""
    return f"{_machine.describe()}; torch {torch.__version__}, {torch.get_num_threads()} threads"


def _load() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


class _Recorder:
    """Wraps an encoder's ``encode_batch`` to keep every vector and activation it returns (exact search from the same pass)."""

    def __init__(self, enc):
        self.enc, self.vecs, self.xns, self.real = enc, [], [], enc.encode_batch

    def __enter__(self):
        def rec(batch):
            v, xn = self.real(batch)
            self.vecs.append(v.detach().clone())
            self.xns.append(xn.detach().clone())
            return v, xn
        self.enc.encode_batch = rec
        return self

    def __exit__(self, *exc):
        del self.enc.encode_batch  # back to the class's method


def trunk_gflop(trunk, size=224) -> float:
    """Multiply-adds x 2 of the trunk's convolutions for one image at ``size`` px (counted with hooks)."""
    flop = []

    def hook(m, i, o):
        flop.append(2 * o.shape[1] * o.shape[2] * o.shape[3] * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1])

    hs = [m.register_forward_hook(hook) for m in trunk.modules() if isinstance(m, torch.nn.Conv2d)]
    try:
        with torch.inference_mode():
            trunk(torch.zeros(1, 3, size, size))
    finally:
        for h in hs:
            h.remove()
    return sum(flop) / 1e9


def gemm_gflops(dtype, *, n=2048, reps=5) -> float:
    """One core's matrix-multiply rate (GFLOP per CPU-second, 1 thread): the ceiling for convolutions."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        a @ b
        ts = []
        for _ in range(reps):
            c0 = time.process_time()
            a @ b
            ts.append(time.process_time() - c0)
    finally:
        torch.set_num_threads(before)
    return 2 * n ** 3 / min(ts) / 1e9


def _profile(enc, corpus, rows, *, rank=32, sketch_dim=1024):
    """CPU and wall ms per image of each stage of one build_index batch, on this encoder's path."""
    fast = enc.fast
    bucket, sign = search_index._countsketch(enc.dim, sketch_dim, 0)
    out = {}

    def stage(name, f):
        t0, c0 = time.perf_counter(), time.process_time()
        r = f()
        out[name] = ((time.perf_counter() - t0) / len(rows) * 1e3, (time.process_time() - c0) / len(rows) * 1e3)
        return r

    with search_index._threads(1):  # as in the pass's DataLoader worker (torch runs it on one thread)
        imgs = stage("decode (JPEG -> uint8; 1 thread)", lambda: [corpus.load(i) for i in rows])
        x = stage("resize + crop + normalise (1 thread)", lambda: torch.stack([enc.preprocess(im) for im in imgs]))
    acts = stage("forward (ResNet-152 -> layer3)", lambda: enc.activations(x))
    xn = stage("normalise activations", lambda: enc.normalised(acts))
    vec = stage("Gram (one matmul) + triangle", lambda: (gram.triangle if fast else gram.triangle_straight)(
        xn @ xn.transpose(1, 2)))
    stage("rank-32 factor (eigh)", lambda: search_index._factors(
        xn, rank, torch.float32 if fast else torch.float64, one_thread=fast))
    mean = torch.nn.functional.normalize(vec.double().mean(0), dim=0).float()
    stage("sketch (CountSketch)", lambda: search_index._sketch(vec, mean, bucket, sign, sketch_dim))
    return out


def _cpu_seconds() -> float:
    """CPU seconds of this process and of its finished children (the DataLoader's decoding workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _loo_top(qv, cv, k):
    """Top-k corpus rows per query row, the query's own row left out (queries are the corpus)."""
    s = qv @ cv.T
    s.fill_diagonal_(-math.inf)
    return torch.topk(s, k, dim=1).indices.numpy()


def _table(top, names, corpus, k):
    import pandas as pd

    return pd.DataFrame([{"query": names[q], "rank": j + 1, "item": corpus.name(int(top[q, j]))}
                         for q in range(len(names)) for j in range(k)])


def pass_section(*, n_corpus=200, size=224, batch=16, reps=1, workers=None, bf16=False, k=10, rows=None,
                 device="cpu"):
    """Whole ``build_index`` passes (decode included) over real-format JPEGs, straight fp32 vs default, interleaved.

    Corpus: ``n_corpus`` 256-px JPEGs written by :func:`helpers.testing.rehearsal.write_artbench` (the real
    ImageFolder layout; stand-in pixels). Network: the calibrated STAND-IN ResNet-152 (random weights,
    BatchNorm statistics re-estimated on corpus images), shared by every path. Each pass is timed in wall
    seconds and in CPU seconds (this process + its decoding workers): on a shared machine the CPU time per
    image is the steadier measure, and ``2 / (CPU s per image)`` is what two quiet cores would give.
    Recall@k: every corpus image is a query against the others (``n_corpus`` queries, its own row left
    out); the default path's exact search and its index search against the straight fp32 exact search.
    """
    from helpers.testing import rehearsal

    rows = [] if rows is None else rows
    dev = torch.device(device)
    tmp = Path(tempfile.mkdtemp(prefix="na-bench-pass-"))
    try:
        croot = rehearsal.write_artbench(tmp / "corpus", layout="imagefolder-split", n_per_style=max(2, n_corpus // 10), seed=0)
        corpus = artbench.read_corpus(croot)
        model = models.load("resnet152", source="random", seed=0, device=dev)
        straight = gram.GramEncoder(model, size=size, device=dev, fast=False)
        straight.calibrate_stand_in([corpus.load(i) for i in range(0, len(corpus), max(1, len(corpus) // 32))])
        paths = {"straight fp32": straight, "default (fast fp32)": gram.GramEncoder(model, size=size, device=dev)}
        bf = gram.GramEncoder(model, size=size, device=dev, precision="bf16")
        if bf16:
            paths["fast bf16"] = bf
        names = list(paths)
        n_fit = 8
        n_enc = len(corpus) + n_fit
        print(f"pass: {len(corpus)} corpus JPEGs (256 px) = {len(corpus)} leave-one-out queries, {size} px, batch {batch}, "
              f"load {_load()}", flush=True)

        # the stage profile (one batch each, after a warm-up); bf16 always (one batch is cheap)
        prof_rows = list(range(min(batch, len(corpus))))
        pencs = {**paths, "fast bf16": bf}
        for enc in pencs.values():
            enc.encode_batch(torch.stack([enc.preprocess(corpus.load(i)) for i in prof_rows[:2]]))
        prof = {nm: _profile(enc, corpus, prof_rows) for nm, enc in pencs.items()}
        for st in prof[names[0]]:
            print(f"  profile CPU ms/img [{' | '.join(prof)}]: {st}: " + "  ".join(f"{prof[nm][st][1]:.1f}" for nm in prof),
                  flush=True)

        # whole passes, interleaved; the first pass of each path also records its vectors (exact search)
        times = {nm: [] for nm in names}
        cpu = {nm: [] for nm in names}
        cvec, cxn, index = {}, {}, {}
        for r in range(reps):
            for nm in names:
                enc = paths[nm]
                out = tmp / f"index-{r}-{names.index(nm)}"
                with _Recorder(enc) as rec:
                    t0, c0 = time.perf_counter(), _cpu_seconds()
                    idx = search_index.build_index(corpus, out, encoder=enc, batch_size=batch, n_fit=n_fit,
                                                   num_workers=workers, progress=False)
                    times[nm].append(time.perf_counter() - t0)
                    cpu[nm].append(_cpu_seconds() - c0)
                if r == 0:
                    cvec[nm] = torch.cat(rec.vecs)[-len(corpus):]  # the index batches (after the fit batch)
                    cxn[nm] = torch.cat(rec.xns)[-len(corpus):]
                    index[nm] = idx
                else:
                    shutil.rmtree(out, ignore_errors=True)
                print(f"  rep {r}: {nm}: {n_enc / times[nm][-1]:.2f} img/s wall, {cpu[nm][-1] / n_enc:.3f} CPU s/img "
                      f"(load {_load()})", flush=True)

        # recall@k: each corpus image against the others, vs the straight fp32 exact search
        ref = names[0]
        qn = [corpus.name(i) for i in range(len(corpus))]
        truth = _table(_loo_top(cvec[ref], cvec[ref], k), qn, corpus, k)
        recall = {}
        for nm in names:
            exact = _table(_loo_top(cvec[nm], cvec[nm], k), qn, corpus, k)
            found = index[nm].search_encoded(cvec[nm], cxn[nm], k=k + 1, names=qn)
            found = found[found["item"] != found["query"]]
            found = found.assign(rank=found.groupby("query").cumcount() + 1)
            recall[nm] = (search_index.recall_at(exact, truth, k=k), search_index.recall_at(found, truth, k=k),
                          float((cvec[nm] * cvec[ref]).sum(1).min()))

        med = {nm: _med(times[nm]) for nm in names}
        cmed = {nm: _med(cpu[nm]) / n_enc for nm in names}
        base, cbase = med[ref], cmed[ref]
        ncpu = os.cpu_count() or 2
        for nm in names:
            rows.append((f"build_index pass, {nm}: images/s wall (median of {reps}; {n_enc} images incl. {n_fit} fit)",
                         f"{n_enc / med[nm]:.2f}", f"{base / med[nm]:.2f}x"))
        for nm in names:
            rows.append((f"build_index pass, {nm}: CPU s/image | img/s on {ncpu} cores of our own ({ncpu} / CPU s; a "
                         "lower bound: a busy machine inflates CPU time)",
                         f"{cmed[nm]:.3f} | {ncpu / cmed[nm]:.2f}", f"{cbase / cmed[nm]:.2f}x"))
        for nm in names:
            rows.append((f"  hours per 60,000 paintings, {nm}: at this run's wall rate | on {ncpu} cores of our own",
                         f"{(60_000 + 256) / (n_enc / med[nm]) / 3600:.1f} | {(60_000 + 256) * cmed[nm] / ncpu / 3600:.1f} h", ""))
        for nm in names:
            re, ri, cmin = recall[nm]
            rows.append((f"recall@{k} vs straight fp32 exact ({len(corpus)} queries), {nm}: exact | index",
                         f"{re:.3f} | {ri:.3f}", f"min cos vs fp32 {cmin:.6f}"))
        pn = list(prof)
        hdr = " | ".join(pn)
        for st in prof[ref]:
            rows.append((f"profile CPU ms/img [{hdr}]: {st}", "  ".join(f"{prof[nm][st][1]:7.1f}" for nm in pn), ""))
        tot = {nm: sum(c for _, c in prof[nm].values()) for nm in pn}
        rows.append((f"profile CPU ms/img [{hdr}]: all stages", "  ".join(f"{tot[nm]:7.1f}" for nm in pn), ""))
        fwd = {nm: prof[nm]["forward (ResNet-152 -> layer3)"] for nm in pn}
        for nm in pn:
            rows.append((f"forward alone, {nm}: wall img/s (this batch) | on {ncpu} cores of our own ({ncpu} / CPU s)",
                         f"{1e3 / fwd[nm][0]:.2f} | {ncpu * 1e3 / fwd[nm][1]:.2f}", ""))
        # the floor: the trunk's arithmetic at this core's best matrix-multiply rate, on every core
        gf = trunk_gflop(straight.trunk, size)
        for dt in (torch.float32, torch.bfloat16):
            rate = gemm_gflops(dt)
            fl = ncpu * rate / gf
            rows.append((f"floor: {gf:.1f} GFLOP/img at {size} px / ({ncpu} cores x {rate:.0f} GFLOP/s "
                         f"{str(dt).split('.')[-1]} GEMM per core)", f"{fl:.1f} img/s at most",
                         f"{(60_000 + 256) / fl / 3600:.2f} h per 60k at best"))
        return {"times": times, "cpu": cpu, "recall": recall, "profile": prof, "n_encoded": n_enc}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _print(rows, title):
    w = max(len(r[0]) for r in rows)
    print(f"\n{title} (torch threads {torch.get_num_threads()})")
    print(f"{'measure':<{w}}  {'value':>40}  ratio")
    for name, val, ratio in rows:
        print(f"{name:<{w}}  {val:>40}  {ratio}", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small corpus, 112 px, 10,000-item latency index")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--workers", type=int, default=None, help="DataLoader workers (default: min(4, cpus-1))")
    ap.add_argument("--only", default="pass,demo,synthetic,bf16",
                    help="comma-separated sections: pass (whole build_index, straight vs default), demo (stand-in "
                         "encoder on demo paintings), synthetic, bf16")
    ap.add_argument("--corpus", type=int, default=200,
                    help="pass: JPEGs in the timed corpus, each also a query against the others (recall@10)")
    ap.add_argument("--reps", type=int, default=1, help="pass: interleaved repeats of each whole pass")
    ap.add_argument("--bf16", action="store_true", help="pass: also the fast bf16 path")
    ap.add_argument("--synthetic", type=int, default=60_000, help="items of the synthetic corpus (default 60,000)")
    ap.add_argument("--latency-items", type=int, default=60_000,
                    help="when the synthetic corpus is smaller, also time queries on an index of this many tiled records")
    args = ap.parse_args(argv)
    only = set(args.only.split(","))
    print(f"machine: {machine()}", flush=True)
    extra_rows = []
    if "pass" in only:
        rows = []
        q = args.quick
        pass_section(n_corpus=20 if q else args.corpus, size=112 if q else 224,
                     batch=8 if q else 16, reps=1 if q else args.reps, workers=args.workers, bf16=args.bf16, rows=rows,
                     device=args.device)
        _print(rows, f"whole build_index pass: straight fp32 vs default (calibrated STAND-IN ResNet-152; {machine()}; "
                     f"load {_load()})")
    if "bf16" in only:
        bf16_section(size=112 if args.quick else 224, batch=4 if args.quick else 8, reps=2 if args.quick else 3,
                     rows=extra_rows, device=args.device)
        _print(extra_rows, "bf16 autocast vs fp32, calibrated STAND-IN ResNet-152 to layer3")
    if "synthetic" in only:
        n = 6_000 if args.quick and args.synthetic == 60_000 else args.synthetic
        rows = []
        synthetic_section(n, rows=rows, n_latency=args.latency_items)
        _print(rows, f"index on a synthetic {n:,}-item corpus (see SynthActivations), exact top-10 from the same pass")
    if "demo" not in only:
        return 0
    size = 112 if args.quick else 224
    n_corpus, n_queries = (32, 8) if args.quick else (64, 12)
    batch = 8 if args.quick else 16
    n_big = 10_000 if args.quick else 60_000
    sketch_dim, rank, k = 1024, 32, 10
    dev = torch.device(args.device)
    tmp = Path(tempfile.mkdtemp(prefix="na-bench-artsearch-"))
    rows = []
    try:
        root = artbench.make_demo_corpus(tmp / "corpus", n=n_corpus, size=256, seed=1)
        corpus = artbench.read_corpus(root)
        qroot = artbench.make_demo_corpus(tmp / "queries", n=n_queries, size=256, seed=2)
        queries = [artbench.read_corpus(qroot).load(i) for i in range(n_queries)]
        model = models.load("resnet152", source="random", seed=0, device=dev)
        enc = gram.GramEncoder(model, size=size, device=dev)
        enc.calibrate_stand_in([corpus.load(i) for i in range(0, n_corpus, max(1, n_corpus // 32))])

        # --- throughput: bare forward vs streamed encoding vs index build ------------------
        # the baseline sees the same images, pre-decoded in memory, in the same batches
        xs = [torch.stack([enc.preprocess(corpus.load(i)) for i in range(s, min(s + batch, n_corpus))]).to(dev)
              for s in range(0, n_corpus, batch)]
        enc.activations(xs[0][:2])  # warm-up
        t_bare = []
        for x in xs:
            t0 = time.perf_counter()
            enc.activations(x)
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t_bare.append((time.perf_counter() - t0) / len(x))
        bare = 1.0 / (sum(t_bare) / len(t_bare))  # images/s over the whole corpus
        t0 = time.perf_counter()
        vecs = []
        for _, v, _, _ in gram.iter_encoded(corpus, enc, batch_size=batch, num_workers=args.workers):
            vecs.append(v.cpu())
        stream = n_corpus / (time.perf_counter() - t0)
        vecs = torch.cat(vecs)
        t0 = time.perf_counter()
        index = search_index.build_index(corpus, tmp / "index", encoder=enc, sketch_dim=sketch_dim, rank=rank,
                                      batch_size=batch, num_workers=args.workers, progress=False)
        n_fit = min(256, n_corpus, max(8, n_corpus // 4))  # build_index's mean-direction sample, encoded too
        build = (n_corpus + n_fit) / (time.perf_counter() - t0)
        rows.append(("encode: bare ResNet-152->layer3 forward (baseline)", f"{bare:.2f} img/s", "1.00"))
        rows.append(("encode: iter_encoded (JPEG decode in workers + net + Gram)", f"{stream:.2f} img/s",
                     f"{stream / bare:.2f}"))
        rows.append(("encode: build_index (+ eigh factor, sketch, memmap; fit images counted)", f"{build:.2f} img/s",
                     f"{build / bare:.2f}"))

        # --- recall vs exact on the demo corpus ----------------------------------------------
        qv, qxn, _ = gram.encode_corpus_rows(search_index.as_queries(queries), enc, list(range(n_queries)))
        sims = (qv @ vecs.T).numpy()
        truth_rows = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        import pandas as pd

        truth = pd.DataFrame([{"query": f"query-{q:03d}", "rank": r + 1, "item": corpus.name(int(truth_rows[q, r]))}
                              for q in range(n_queries) for r in range(k)])
        cand = max(2 * k, n_corpus // 8)
        rec = {}
        for rr in ("none", "lowrank", "exact"):
            found = index.search_encoded(qv, qxn, k=k, candidates=cand, rerank=rr)
            rec[rr] = (search_index.recall_at(found, truth, k=1), search_index.recall_at(found, truth, k=k))
        energy = float(index.energy[index.ok].mean())
        gap = float(np.median(sims.max(1) - np.sort(sims, 1)[:, -2]))

        # --- latency on a large index ----------------------------------------------------------
        big = tmp / "big"
        big.mkdir()
        rng = np.random.default_rng(0)
        src_s = np.asarray(index.sketch, dtype=np.float32)
        src_f = np.asarray(index.factors, dtype=np.float32)
        sk = np.memmap(big / "sketch.f16", dtype=np.float16, mode="w+", shape=(n_big, 1 + sketch_dim))
        fa = np.memmap(big / "factors.f16", dtype=np.float16, mode="w+", shape=(n_big, enc.channels, rank))
        chunk = 2000
        for s in range(0, n_big, chunk):
            pick = rng.integers(0, n_corpus, min(chunk, n_big - s))
            sk[s:s + len(pick)] = (src_s[pick] * (1 + 0.02 * rng.standard_normal((len(pick), 1 + sketch_dim)))).astype(np.float16)
            fa[s:s + len(pick)] = (src_f[pick] * np.float32(1.0) + 1e-3 * rng.standard_normal(
                (len(pick), enc.channels, rank), dtype=np.float32)).astype(np.float16)
        sk.flush(), fa.flush()
        del sk, fa
        np.memmap(big / "ok.u8", dtype=np.uint8, mode="w+", shape=(n_big,))[:] = 1
        np.memmap(big / "energy.f32", dtype=np.float32, mode="w+", shape=(n_big,))[:] = 1
        shutil.copy(tmp / "index" / "mean.npy", big / "mean.npy")
        io.save_table(pd.DataFrame({"item": [f"synthetic-{i}" for i in range(n_big)], "path": None,
                                    "artist": None, "title": None, "style": None, "split": None}), big / "items.parquet")
        meta = {**index.meta, "n": n_big, "corpus": "synthetic"}
        io.save_json(meta, big / "meta.json")
        t0 = time.perf_counter()
        bigidx = search_index.Index.load(big, encoder=enc)
        t_open = time.perf_counter() - t0
        lat = []
        for q in range(n_queries):
            t0 = time.perf_counter()
            bigidx.search_encoded(qv[q:q + 1], qxn[q:q + 1], k=k, rerank="lowrank")
            lat.append(time.perf_counter() - t0)
        lat = np.array(lat[1:])  # the first query warms the caches
        exact_s = n_big / stream
        rows.append((f"query latency, {n_big:,} items: exact pass (baseline, est.)", f"{exact_s:.0f} s", "1"))
        rows.append((f"query latency, {n_big:,} items: index p50 (cand. 100, lowrank)", f"{1e3 * np.percentile(lat, 50):.1f} ms",
                     f"{exact_s / np.percentile(lat, 50):.0f}x faster"))
        rows.append((f"query latency, {n_big:,} items: index p95", f"{1e3 * np.percentile(lat, 95):.1f} ms", ""))
        rows.append((f"index open ({n_big:,} items: memmap + sketches read)", f"{t_open:.1f} s", ""))
        hw = (size // 16) ** 2
        rows.append(("bytes/artwork: fp16 full Gram | fp16 layer3 acts (224px)", f"{1024 * 1024 * 2:,} | {1024 * 196 * 2:,}", ""))
        rows.append(("bytes/artwork: index (sketch 1025 + rank-32 factor, fp16)", f"{index.bytes_per_item():,.0f}",
                     f"{index.bytes_per_item() / (1024 * 1024 * 2):.3f} of Gram"))
        rows.append(("index for 60,000 artworks", f"{index.bytes_per_item() * 60000 / 2**30:.2f} GiB", ""))
        for rr, (r1, rk) in rec.items():
            rows.append((f"recall@1 / @{k} vs exact, rerank={rr} (cand. {cand} of {n_corpus})", f"{r1:.3f} / {rk:.3f}", ""))
        rows.append((f"mean Frobenius energy kept by rank {rank} (HW={hw})", f"{energy:.4f}", ""))
        rows.append(("median gap top-1 vs top-2 exact cosine", f"{gap:.4f}", ""))

        _print(rows, "demo corpus")
        w = max(len(r[0]) for r in rows)
        print(f"\nartsearch benchmark ({'quick' if args.quick else 'full'}; device {dev}; {size} px; batch {batch}; "
              f"torch threads {torch.get_num_threads()}; corpus: {n_corpus} generated 256x256 JPEG 'paintings', "
              f"calibrated STAND-IN ResNet-152; {n_queries} generated queries)")
        print(f"{'measure':<{w}}  {'value':>22}  ratio")
        for name, val, ratio in rows:
            print(f"{name:<{w}}  {val:>22}  {ratio}")
        print(json.dumps({"recall": rec, "latency_ms_p50": 1e3 * float(np.percentile(lat, 50)),
                          "latency_ms_p95": 1e3 * float(np.percentile(lat, 95)), "throughput": {"bare": bare, "stream": stream,
                                                                                             "build": build}}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

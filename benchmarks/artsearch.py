"""Benchmark of the nearest-painting search (helpers.artsearch), all in one process.

Rows of the printed table:

* encoding throughput, images/s, at one batch size:
  - baseline: the bare network (ResNet-152 to layer3) on a batch already in memory;
  - ``iter_encoded``: 256x256 JPEG files decoded in DataLoader workers + network + Gram vectors
    (what exact search does per image); ratio vs the bare forward (target >= 0.90);
  - ``build_index``: the same + low-rank factor (SVD) + sketch + fp16 memmap writes;
* query latency (p50 / p95, one query at a time) on a **60,000-item** index. Its rows are the
  measured demo-corpus records repeated with small noise (values do not change the work
  done: a faiss flat inner-product scan of all sketches + re-ranking of the candidates read
  from the memory-mapped factors); the baseline is exact search, one full pass over 60,000
  images, estimated from the measured ``iter_encoded`` throughput;
* index bytes per artwork (on disk) vs a fp16 full Gram (2 MiB) and fp16 layer3 activations;
* recall@1 and recall@10 of the index (sketch only, and re-ranked) against exact search on a
  corpus of procedurally generated "paintings" (``artbench.make_demo_corpus``, not ArtBench)
  encoded by a BatchNorm-calibrated random ResNet-152 (no pretrained weights here); queries
  are other generated images. Stated as such in the table.

Usage: ``python benchmarks/artsearch.py [--quick] [--device cpu|cuda]``.
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from helpers import artbench, artsearch, gram, io, models


def _med(ts):
    return float(np.median(ts))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small corpus, 112 px, 10,000-item latency index")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--workers", type=int, default=None, help="DataLoader workers (default: min(4, cpus-1))")
    args = ap.parse_args(argv)
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
        index = artsearch.build_index(corpus, tmp / "index", encoder=enc, sketch_dim=sketch_dim, rank=rank,
                                      batch_size=batch, num_workers=args.workers, progress=False)
        n_fit = min(256, n_corpus, max(8, n_corpus // 4))  # build_index's mean-direction sample, encoded too
        build = (n_corpus + n_fit) / (time.perf_counter() - t0)
        rows.append(("encode: bare ResNet-152->layer3 forward (baseline)", f"{bare:.2f} img/s", "1.00"))
        rows.append(("encode: iter_encoded (JPEG decode in workers + net + Gram)", f"{stream:.2f} img/s",
                     f"{stream / bare:.2f}"))
        rows.append(("encode: build_index (+ eigh factor, sketch, memmap; fit images counted)", f"{build:.2f} img/s",
                     f"{build / bare:.2f}"))

        # --- recall vs exact on the demo corpus ----------------------------------------------
        qv, qxn, _ = gram._encode_corpus_rows(artsearch.as_queries(queries), enc, list(range(n_queries)))
        sims = (qv @ vecs.T).numpy()
        truth_rows = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        import pandas as pd

        truth = pd.DataFrame([{"query": f"query-{q:03d}", "rank": r + 1, "item": corpus.name(int(truth_rows[q, r]))}
                              for q in range(n_queries) for r in range(k)])
        cand = max(2 * k, n_corpus // 8)
        rec = {}
        for rr in ("none", "lowrank", "exact"):
            found = index.search_encoded(qv, qxn, k=k, candidates=cand, rerank=rr)
            rec[rr] = (artsearch.recall_at(found, truth, k=1), artsearch.recall_at(found, truth, k=k))
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
        bigidx = artsearch.Index.load(big, encoder=enc)
        t_open = time.perf_counter() - t0
        lat = []
        for q in range(n_queries):
            t0 = time.perf_counter()
            bigidx.search_encoded(qv[q:q + 1], qxn[q:q + 1], k=k, rerank="lowrank")
            lat.append(time.perf_counter() - t0)
        lat = np.array(lat[1:])  # first query warms faiss
        exact_s = n_big / stream
        rows.append((f"query latency, {n_big:,} items: exact pass (baseline, est.)", f"{exact_s:.0f} s", "1"))
        rows.append((f"query latency, {n_big:,} items: index p50 (cand. 100, lowrank)", f"{1e3 * np.percentile(lat, 50):.1f} ms",
                     f"{exact_s / np.percentile(lat, 50):.0f}x faster"))
        rows.append((f"query latency, {n_big:,} items: index p95", f"{1e3 * np.percentile(lat, 95):.1f} ms", ""))
        rows.append((f"index open ({n_big:,} items: memmap + faiss add)", f"{t_open:.1f} s", ""))
        hw = (size // 16) ** 2
        rows.append(("bytes/artwork: fp16 full Gram | fp16 layer3 acts (224px)", f"{1024 * 1024 * 2:,} | {1024 * 196 * 2:,}", ""))
        rows.append(("bytes/artwork: index (sketch 1025 + rank-32 factor, fp16)", f"{index.bytes_per_item():,.0f}",
                     f"{index.bytes_per_item() / (1024 * 1024 * 2):.3f} of Gram"))
        rows.append(("index for 60,000 artworks", f"{index.bytes_per_item() * 60000 / 2**30:.2f} GiB", ""))
        for rr, (r1, rk) in rec.items():
            rows.append((f"recall@1 / @{k} vs exact, rerank={rr} (cand. {cand} of {n_corpus})", f"{r1:.3f} / {rk:.3f}", ""))
        rows.append((f"mean Frobenius energy kept by rank {rank} (HW={hw})", f"{energy:.4f}", ""))
        rows.append(("median gap top-1 vs top-2 exact cosine", f"{gap:.4f}", ""))

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

"""Nearest-painting search by Gram-matrix similarity (paper 2, Figure 4): exact search and a compact index.

Images become unit Gram vectors in :mod:`helpers.search.gram` (cosine of flattened ResNet-152 ``layer3``
Grams); corpora come from :mod:`helpers.search.artbench`; the figures are in :mod:`helpers.figures.paper2`.

**Exact search** (:func:`exact_search`): one streaming pass over the corpus for a batch of
queries, keeping the running top-k per query (memory: queries x 524,800 floats + one batch),
checkpointed atomically (running top-k + position) so an interrupted pass resumes.
:func:`self_retrieval` checks the chain end to end: corpus images used as queries must find
themselves at rank 1.

**Index** (:func:`build_index`, :class:`Index`). Storing 60,000 full Grams would take 120 GB
in fp16 (63 GB as triangles); storing the layer3 activations (enough for the exact cosine,
since ``<G_a, G_b> = ||X_a^T X_b||_F^2 / (HW)^2``) 24 GB. The index instead keeps two small
per-artwork records, both memory-mapped fp16:

1. *Candidate sketch* (``sketch.f16``, ``1 + sketch_dim`` values): ReLU Gram vectors all point
   near one common direction (their cosines are typically 0.8-0.99), so a plain random
   projection's error (about 1/sqrt(d)) swamps the differences that decide the ranking. The
   sketch therefore stores the component ``c = <g, m>`` along a fixed unit "mean direction"
   ``m`` (fitted once on a seeded sample of the corpus) exactly, and a seeded CountSketch
   (sparse JL: each coordinate hashed to one of ``sketch_dim`` buckets with a random sign) of
   the residual ``g - c m``. ``<s_a, s_b> = c_a c_b + <CS(r_a), CS(r_b)>`` is an unbiased
   estimate of the cosine whose error scales with the small residual norms only. An exact
   inner-product scan of all sketches (one float32 matrix-vector product and ``torch.topk``;
   faiss's ``IndexFlatIP`` gave the same candidates 2-3x slower for one query, as it scans
   single-threaded below 20 queries) gives ``candidates`` candidates per query.
2. *Low-rank Gram factor* (``factors.f16``, ``1024 x rank``): the top ``rank`` singular
   directions of the normalised activations, ``F = U_r S_r`` with ``F F^T`` = the best
   rank-``rank`` approximation of ``G / ||G||_F``. Candidates are re-ranked by
   ``||Xn_q^T F_c||_F^2`` with the *query's full activations* ``Xn_q``: the query side is exact,
   the artwork side is truncated to its top ``rank`` eigenpairs (the fraction of
   ``||G||_F^2`` kept is recorded per artwork as ``energy``). How close this is to exact is
   *measured* (``benchmarks/artsearch.py``: recall@1/@10 against exact search on a 60,000-item
   synthetic corpus with a measured spectrum), not assumed.

``Index.search(..., rerank="exact")`` re-encodes the candidates from their images and re-ranks
by the exact cosine (one network pass per candidate). Defaults ``sketch_dim=1024, rank=32`` cost
``2 * (1025 + 32 * 1024) = 67.6 KB`` per artwork, 3.8 GiB for ArtBench-10 (vs 24 GB of
activations). Everything is float32 on both CPU and CUDA; fp16 only for storage, whose effect on
the ranking is inside the measured recall.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from helpers import io, paths
from helpers.nets import models
from helpers.progress import tqdm
from helpers.search.artbench import META_COLUMNS, Corpus, demo_painting, read_corpus
from helpers.search.gram import GramEncoder, default_workers, encode_corpus_rows, iter_encoded

INDEX_VERSION = 1


# --- queries ------------------------------------------------------------------------------


def read_queries(path, *, n: int | None = None, demo_fallback: bool = False, n_demo: int = 4, seed: int = 0) -> Corpus:
    """The query images: a folder (with notebook 05's ``manifest.csv`` when present) or a demo set.

    With ``manifest.csv`` (columns ``file, network, seed, class_id, class_name, stand_in``) the
    queries are its files in order, labelled ``"<network> · <class_name>"``; otherwise every
    image in the folder, labelled by file name. When the folder is missing and
    ``demo_fallback`` is set, ``n_demo`` procedurally generated images are used instead
    (``Corpus.demo`` is True, labels say DEMO). ``n`` keeps only the first ``n`` queries.

    Returns:
        :class:`Corpus` whose items carry ``label`` and ``stand_in`` columns.

    Raises:
        FileNotFoundError: no such folder (and no fallback).

    Used in: notebook 07 (Figure 4, p2-fig04-top5.png, p2-nearest-key-numbers.json, p2-nearest-paintings.csv).
    """
    path = Path(path)
    if not path.exists():
        if not demo_fallback:
            raise FileNotFoundError(f"queries {path} not found: run notebook 05 first or set QUERIES to a folder of images")
        rng = np.random.default_rng(seed)
        arrays = [demo_painting(rng, int(rng.integers(0, 10)), 128) for _ in range(n_demo)]
        q = as_queries(arrays)
        q.items["label"] = [f"DEMO query {j}" for j in range(n_demo)]
        q.items["stand_in"] = True
        q.demo = True
        return q
    manifest = path / "manifest.csv"
    if manifest.exists():
        m = pd.read_csv(manifest)
        if "file" not in m:
            raise ValueError(f"{manifest}: expected a 'file' column, got {list(m.columns)}")
        files = [str(f if Path(f).is_absolute() else path / f) for f in m["file"]]
        q = as_queries(files)
        q.items["item"] = list(m["file"].astype(str))
        net = m["network"].astype(str) if "network" in m else pd.Series([""] * len(m))
        cls = m["class_name"].astype(str) if "class_name" in m else pd.Series([""] * len(m))
        q.items["label"] = [f"{a} · {b}".strip(" ·") for a, b in zip(net, cls)]
        q.items["stand_in"] = models.is_stand_in(m)  # the one rule: no provenance column counts as a stand-in
        return _head(q, n)
    q = read_corpus(path, metadata=None)
    q.items["label"] = q.items["file"].map(lambda f: Path(f).stem)
    q.items["stand_in"] = False
    return _head(q, n)


def _head(q: Corpus, n):
    if n is None or n >= len(q):
        return q
    return Corpus(q.items.iloc[: int(n)].reset_index(drop=True), arrays=q.arrays, root=q.root, kind=q.kind, demo=q.demo)


def nearest_table(results, queries: Corpus, *, method: str, encoder: "GramEncoder") -> "object":
    """The published table: results + query label, the method and the network's provenance.

    Used in: notebook 07 (p2-fig04-top5.png, p2-nearest-paintings.csv).
    """
    labels = dict(zip(queries.items["item"].astype(str), queries.items.get("label", queries.items["item"])))
    out = results.copy()
    out.insert(1, "query_label", out["query"].map(labels))
    out["method"] = method
    out["network"] = encoder.description
    out["stand_in"] = encoder.stand_in
    return out.drop(columns=["row"])


def as_queries(queries) -> Corpus:
    """Queries as a :class:`Corpus`: a folder, a list of paths/arrays, or a Corpus.

    Used in: notebook 07 through :func:`helpers.search.index.build_index`.
    """
    if isinstance(queries, Corpus):
        return queries
    if isinstance(queries, (str, Path)):
        return read_corpus(queries, metadata=None)
    rows, arrays = [], []
    for j, q in enumerate(queries):
        if isinstance(q, np.ndarray):
            rows.append({"item": f"query-{j:03d}", "path": None, "file": f"query-{j:03d}", "row": len(arrays)})
            arrays.append(q)
        else:
            rows.append({"item": str(q), "path": str(q), "file": Path(q).name, "row": -1})
    items = pd.DataFrame(rows)
    for c in META_COLUMNS:
        items[c] = None
    if arrays and len(arrays) != len(rows):
        raise ValueError("queries: mix of arrays and paths; give one kind")
    return Corpus(items, arrays=arrays or None, kind="queries")


def _named(names) -> Corpus:
    return Corpus(pd.DataFrame({"item": [str(n) for n in names], "path": None}), kind="queries")


# --- exact streaming search ----------------------------------------------------------------

def _merge_topk(best_s, best_i, scores, idx, k):
    s = torch.cat([best_s, scores], dim=1)
    i = torch.cat([best_i, idx.expand(scores.shape[0], -1)], dim=1)
    top = torch.topk(s, k=min(k, s.shape[1]), dim=1)
    return top.values, torch.gather(i, 1, top.indices)


def exact_search(queries, corpus, *, k: int = 5, encoder: GramEncoder | None = None, batch_size: int = 16,
                 num_workers: int | None = None, checkpoint=None, checkpoint_every: int = 50,
                 progress: bool = True, device="cpu"):
    """Exact top-k by Gram cosine: one streaming pass over ``corpus`` for all ``queries``.

    Memory is ``len(queries) x 524,800`` floats plus one batch, whatever the corpus size.
    With ``checkpoint`` (a ``.npz`` path) the running top-k and the position are written
    atomically every ``checkpoint_every`` batches and at the end; a later call with the same
    queries, corpus and ``k`` resumes from there.

    Args:
        queries: folder, list of image paths / uint8 HxWx3 arrays, or a :class:`Corpus`.
        corpus: a :class:`Corpus` or a path for :func:`read_corpus`.
        k: results per query.
        encoder: :class:`GramEncoder` (default: pretrained ResNet-152 at 224 px on ``device``).
        batch_size: corpus images per network batch.
        num_workers: DataLoader decoding workers (default :func:`default_workers`; 0 = in-process).
        checkpoint: ``.npz`` file for resuming, or ``None``.
        checkpoint_every: batches between checkpoints.
        progress: progress bar.

    Returns:
        DataFrame with ``query, rank (1..k), item, similarity`` (cosine in [-1, 1]), ``row``
        (corpus row) and the corpus metadata (``artist, title, style, split, path``).

    Used in: notebook 07 (Figure 4, p2-fig04-top5.png, p2-nearest-key-numbers.json, p2-nearest-paintings.csv).
    """
    corpus = corpus if isinstance(corpus, Corpus) else read_corpus(corpus)
    qc = as_queries(queries)
    encoder = encoder or GramEncoder(device=device)
    qv, _, qok = encode_corpus_rows(qc, encoder, list(range(len(qc))), batch_size=batch_size)
    qv = qv.to(encoder.device)
    nq, n = len(qc), len(corpus)
    fp = hashlib.sha256(qv.cpu().numpy().tobytes() + corpus.fingerprint().encode() + str(k).encode()).hexdigest()
    best_s = torch.full((nq, 0), -math.inf, device=encoder.device)
    best_i = torch.zeros((nq, 0), dtype=torch.long, device=encoder.device)
    pos = 0
    ck = Path(checkpoint) if checkpoint else None
    if ck and ck.exists():
        z = np.load(ck)
        if str(z["fingerprint"]) == fp:
            best_s = torch.from_numpy(z["scores"]).to(encoder.device)
            best_i = torch.from_numpy(z["rows"]).to(encoder.device)
            pos = int(z["position"])
        else:
            warnings.warn(f"exact_search: checkpoint {paths.display(ck)} belongs to other queries/corpus/k; starting over",
                          stacklevel=2)

    def save(position):
        with io.atomic_path(ck, suffix=".npz") as tmp:
            np.savez(tmp, scores=best_s.cpu().numpy(), rows=best_i.cpu().numpy(), position=position,
                     fingerprint=np.array(fp))

    nw = default_workers() if num_workers is None else num_workers
    bar = tqdm(total=n, initial=pos, desc="exact search", unit="img", disable=not progress, leave=False)
    for b, (idx, vec, _, errs) in enumerate(iter_encoded(corpus, encoder, start=pos, batch_size=batch_size,
                                                         num_workers=nw), 1):
        ok = [e == "" for e in errs]
        scores = qv @ vec.T
        scores[:, ~torch.tensor(ok, device=scores.device)] = -math.inf
        best_s, best_i = _merge_topk(best_s, best_i, scores, torch.tensor(idx, device=scores.device)[None], k)
        pos = idx[-1] + 1
        bar.update(len(idx))
        if ck and b % checkpoint_every == 0:
            save(pos)
    bar.close()
    if ck:
        save(n)
    return _results(qc, corpus, best_s.cpu().numpy(), best_i.cpu().numpy())


def _results(qc, corpus, scores, rows):
    out = []
    items = corpus.items
    for q in range(len(qc)):
        rank = 0
        for s, r in zip(scores[q], rows[q]):
            if not np.isfinite(s):
                continue
            rank += 1
            rec = {"query": qc.name(q), "rank": rank, "item": str(items["item"].iat[int(r)]), "similarity": float(s),
                   "row": int(r)}
            for c in (*META_COLUMNS, "path"):
                rec[c] = items[c].iat[int(r)] if c in items else None
            out.append(rec)
    return pd.DataFrame(out, columns=["query", "rank", "item", "similarity", "row", *META_COLUMNS, "path"])


# --- compact index ----------------------------------------------------------------------------

def _countsketch(dim_in: int, dim_out: int, seed: int):
    """Seeded CountSketch: bucket (int64) and sign (float32) per input coordinate."""
    g = torch.Generator().manual_seed(int(seed))
    bucket = torch.randint(0, dim_out, (dim_in,), generator=g)
    sign = torch.randint(0, 2, (dim_in,), generator=g).float().mul_(2).sub_(1)
    return bucket, sign


def _countsketch_apply(x, bucket, sign, dim_out):
    """CountSketch of the rows of ``x`` (N x D -> N x dim_out)."""
    out = torch.zeros(x.shape[0], dim_out, dtype=x.dtype, device=x.device)
    return out.index_add_(1, bucket, x * sign)


def _sketch(vec, mean, bucket, sign, dim_out, mean_cs=None):
    """Unit Gram vectors N x D -> N x (1 + dim_out): [<g,m>, CountSketch(g - <g,m> m)].

    CountSketch is linear, so ``CS(g - c m) = CS(g) - c CS(m)``; ``mean_cs`` (1 x dim_out) is
    ``CS(m)``, computed here when not given (queries pass a cached one).
    """
    c = vec @ mean
    if mean_cs is None:
        mean_cs = _countsketch_apply(mean[None], bucket, sign, dim_out)
    out = _countsketch_apply(vec, bucket, sign, dim_out) - c[:, None] * mean_cs
    return torch.cat([c[:, None], out], dim=1)


def _factors(xn, rank, dtype=torch.float64, *, one_thread: bool = False):
    """Xn N x C x HW -> F N x C x rank (``F F^T`` = best rank-``rank`` part of Xn Xn^T) and kept energy.

    ``dtype``: the precision of the eigen-decomposition. float64 is the straight path; the fast
    path (``GramEncoder.fast``) uses float32, whose error on the kept (largest) eigenpairs is far
    below the fp16 the factors are stored in (``tests/test_artsearch.py`` bounds the difference).
    ``one_thread``: run the eigen-decompositions on one thread. LAPACK's multi-threaded ``syevd``
    on a batch of 196 x 196 matrices spends its time synchronising: on the 2-core Xeon of
    2026-12-06 it took 110-170 CPU-ms per image on 2 threads and 1.8-2.6 on one
    (``benchmarks/artsearch.py --only pass`` profiles it).
    """
    # eigen-decomposition of the small HW x HW matrix Xn^T Xn (HW = 196 <= C = 1024): its
    # eigenvalues are those of Xn Xn^T and Xn V = U S, so F = Xn V_r without an SVD of Xn
    x = xn.to(dtype)
    small = x.transpose(1, 2) @ x
    with _threads(1 if one_thread else None):
        lam, v = torch.linalg.eigh(small)  # ascending
    lam = lam.clamp_min(0).flip(-1)
    v = v.flip(-1)
    r = min(rank, lam.shape[1])
    f = (x @ v[:, :, :r]).to(xn.dtype)
    if r < rank:
        f = torch.cat([f, f.new_zeros(f.shape[0], f.shape[1], rank - r)], dim=2)
    lam2 = lam.pow(2)
    energy = (lam2[:, :r].sum(1) / lam2.sum(1).clamp_min(1e-30)).to(xn.dtype)
    return f, energy


def index_settings(corpus: Corpus, encoder: GramEncoder, *, sketch_dim: int, rank: int, seed: int, n_fit: int) -> dict:
    """What an index's ``meta.json`` must hold for :func:`build_index` to reuse it (as JSON would read it back).

    Used in: notebook 07 through :func:`helpers.search.index.build_index`; by
        :func:`helpers.search.index_shards.merge` (the index assembled from shards).
    """
    settings = {"version": INDEX_VERSION, "n": len(corpus), "sketch_dim": int(sketch_dim), "rank": int(rank),
                "seed": int(seed), "n_fit": int(n_fit), "channels": encoder.channels, "corpus": corpus.fingerprint(),
                "encoder": encoder.config()}
    return json.loads(json.dumps(settings, default=str))


def fit_mean(corpus: Corpus, encoder: GramEncoder, *, seed: int = 0, n_fit: int = 256, batch_size: int = 16,
             num_workers: int | None = None) -> np.ndarray:
    """The index's unit mean direction (float32): the mean Gram vector of a seeded sample of ``corpus``.

    The sample is ``min(n_fit, n, max(8, n // 4))`` rows drawn without replacement with ``seed``.

    Used in: notebook 07 through :func:`helpers.search.index.build_index`; by
        :func:`helpers.search.index_shards.prepare` (one fit for every shard).
    """
    n = len(corpus)
    nw = default_workers() if num_workers is None else num_workers
    rng = np.random.default_rng(seed)
    fit = sorted(rng.choice(n, size=min(n_fit, n, max(8, n // 4)), replace=False).tolist())
    m = torch.zeros(encoder.dim, dtype=torch.float64, device=encoder.device)
    for _, vec, _, errs in iter_encoded(corpus, encoder, rows=fit, batch_size=batch_size, num_workers=nw):
        m += vec[torch.tensor([e == "" for e in errs], device=vec.device)].double().sum(0)
    m = m.cpu() if m.norm() > 0 else torch.ones(encoder.dim, dtype=torch.float64)
    return (m / m.norm()).float().numpy()


@contextlib.contextmanager
def _threads(n):
    """Run the block on ``n`` torch threads (``None``: unchanged), restoring the count afterwards."""
    before = torch.get_num_threads()
    if n is not None and n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def build_index(corpus, out_dir, *, encoder: GramEncoder | None = None, sketch_dim: int = 1024, rank: int = 32,
                seed: int = 0, n_fit: int = 256, batch_size: int = 16, num_workers: int | None = None,
                flush_every: int = 20, overwrite: bool = False, progress: bool = True, device="cpu",
                mean=None) -> "Index":
    """Encode ``corpus`` once into a compact, memory-mapped index in ``out_dir`` (resumable).

    Per artwork the index stores a fp16 sketch (``1 + sketch_dim`` values) for candidates and a
    fp16 rank-``rank`` Gram factor (``1024 x rank``) for re-ranking (see the module docstring).
    Decoding runs in DataLoader workers, overlapped with the network. Progress is committed
    (memmaps flushed, then ``meta.json`` rewritten atomically) every ``flush_every`` batches;
    calling again with the same corpus and settings continues where it stopped, and returns
    the finished index at once when it is complete.

    Args:
        corpus: :class:`Corpus` or a path for :func:`read_corpus`.
        out_dir: index folder (created).
        encoder: :class:`GramEncoder` (default: pretrained ResNet-152, 224 px, on ``device``).
        sketch_dim: CountSketch size of the residual.
        rank: Gram factor rank kept per artwork.
        seed: seeds the CountSketch and the sample that fits the mean direction.
        n_fit: artworks (seeded sample) that fit the mean direction (at most a quarter of a
            corpus larger than 32, so small corpora are not encoded twice).
        batch_size, num_workers: network batch and decoding workers.
        flush_every: batches between committed checkpoints.
        overwrite: when ``out_dir`` holds an index of other settings or another corpus, start
            over instead of raising.
        progress: progress bars.
        mean: the mean direction (:func:`fit_mean`, fitted once on the whole corpus when shards of it are
            indexed apart, :mod:`helpers.search.index_shards`); ``None`` fits it on ``corpus``.

    Returns:
        :class:`Index`.

    Used in: notebook 07 (Figure 4, p2-fig04-top5.png, p2-nearest-key-numbers.json, p2-nearest-paintings.csv).
    """
    corpus = corpus if isinstance(corpus, Corpus) else read_corpus(corpus)
    encoder = encoder or GramEncoder(device=device)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n = len(corpus)
    settings = index_settings(corpus, encoder, sketch_dim=sketch_dim, rank=rank, seed=seed, n_fit=n_fit)
    meta_path = out / "meta.json"
    meta = io.load_json(meta_path) if meta_path.exists() else None
    if meta is not None and {k: meta.get(k) for k in settings} != settings:
        if overwrite:
            meta = None
        else:
            raise ValueError(f"{out}: holds an index built with other settings or another corpus; "
                             "use another out_dir, delete it, or pass overwrite=True")
    if meta is None:
        meta = {**settings, "position": 0, "complete": False, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        for f in ("sketch.f16", "factors.f16", "ok.u8", "energy.f32", "mean.npy"):
            (out / f).unlink(missing_ok=True)
    io.save_table(corpus.items.drop(columns=[c for c in ("row",) if c in corpus.items and corpus.arrays is None]),
                  out / "items.parquet")
    if not meta["complete"]:
        nw = default_workers() if num_workers is None else num_workers
        if not (out / "mean.npy").exists():
            m = fit_mean(corpus, encoder, seed=seed, n_fit=n_fit, batch_size=batch_size, num_workers=nw) \
                if mean is None else np.asarray(mean, dtype=np.float32)
            with io.atomic_path(out / "mean.npy", suffix=".npy") as tmp:
                np.save(tmp, m)
        mean = torch.from_numpy(np.load(out / "mean.npy")).to(encoder.device)
        bucket, sign = (t.to(encoder.device) for t in _countsketch(encoder.dim, sketch_dim, seed))
        fast = bool(getattr(encoder, "fast", False))
        eigh_dtype = torch.float32 if fast else torch.float64
        mean_cs = _countsketch_apply(mean[None], bucket, sign, sketch_dim) if fast else None
        mode = "r+" if (out / "sketch.f16").exists() else "w+"
        sk = np.memmap(out / "sketch.f16", dtype=np.float16, mode=mode, shape=(n, 1 + sketch_dim))
        fa = np.memmap(out / "factors.f16", dtype=np.float16, mode=mode, shape=(n, encoder.channels, rank))
        okm = np.memmap(out / "ok.u8", dtype=np.uint8, mode=mode, shape=(n,))
        en = np.memmap(out / "energy.f32", dtype=np.float32, mode=mode, shape=(n,))
        pos = int(meta["position"])
        bar = tqdm(total=n, initial=pos, desc="build index", unit="img", disable=not progress, leave=False)

        def commit(position, complete=False):
            for a in (sk, fa, okm, en):
                a.flush()
            meta.update(position=position, complete=complete)
            io.save_json(meta, meta_path)

        for b, (idx, vec, xn, errs) in enumerate(iter_encoded(corpus, encoder, start=pos, batch_size=batch_size,
                                                              num_workers=nw), 1):
            f, energy = _factors(xn, rank, eigh_dtype, one_thread=fast)
            s = _sketch(vec, mean, bucket, sign, sketch_dim, mean_cs)
            lo, hi = idx[0], idx[-1] + 1
            good = np.array([e == "" for e in errs])
            sk[lo:hi] = s.cpu().numpy().astype(np.float16)
            fa[lo:hi] = f.cpu().numpy().astype(np.float16)
            okm[lo:hi] = good
            en[lo:hi] = energy.cpu().numpy()
            bar.update(len(idx))
            if b % flush_every == 0:
                commit(hi)
        bar.close()
        commit(n, complete=True)
        del sk, fa, okm, en
    return Index.load(out, encoder=encoder, corpus=corpus)


class Index:
    """A built Gram-similarity index (see :func:`build_index`); open with :meth:`Index.load`.

    Used in: notebook 07 through :func:`helpers.search.index.build_index`.
    """

    def __init__(self, path, meta, items, sketch, factors, ok, energy, encoder=None, corpus=None):
        self.path, self.meta, self.items = Path(path), meta, items
        self.sketch, self.factors, self.ok, self.energy = sketch, factors, ok, energy
        self.encoder, self._corpus = encoder, corpus
        self.rows = np.flatnonzero(ok)
        # the usable sketches as one float32 matrix in memory (60,000 x 1,025: 246 MB), filled in chunks
        self._sketches = torch.empty((len(self.rows), sketch.shape[1]), dtype=torch.float32)
        for s in range(0, len(self.rows), 8192):
            self._sketches[s:s + 8192] = torch.from_numpy(np.asarray(sketch[self.rows[s:s + 8192]], dtype=np.float32))

    def _candidates(self, qs: np.ndarray, c: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-``c`` sketch inner products per query row: (estimates, positions in ``rows``)."""
        est, pos = [], []
        for s in range(0, len(qs), 256):  # 256 x 60,000 scores at a time
            v, i = torch.topk(torch.from_numpy(qs[s:s + 256]) @ self._sketches.T, c, dim=1)
            est.append(v.numpy()), pos.append(i.numpy())
        return np.concatenate(est), np.concatenate(pos)

    @classmethod
    def load(cls, path, *, encoder: GramEncoder | None = None, corpus: Corpus | None = None) -> "Index":
        """Open an index folder (memory-maps its arrays; reads the sketches into memory).

        Args:
            path: folder written by :func:`build_index`.
            encoder: encoder for queries; default: rebuilt from the recorded weights and size.
            corpus: the corpus (only for ``rerank="exact"``; default: re-read from the item paths).

        Raises:
            FileNotFoundError / ValueError: missing or incomplete index, naming the folder.
        """
        path = Path(path)
        if not (path / "meta.json").exists():
            raise FileNotFoundError(f"{path}: no index here (meta.json missing); build one with index.build_index")
        meta = io.load_json(path / "meta.json")
        if not meta.get("complete"):
            raise ValueError(f"{path}: index is incomplete ({meta.get('position')}/{meta.get('n')}); "
                             "call build_index again to finish it")
        n, d, r, c = meta["n"], meta["sketch_dim"], meta["rank"], meta["channels"]
        sketch = np.memmap(path / "sketch.f16", dtype=np.float16, mode="r", shape=(n, 1 + d))
        factors = np.memmap(path / "factors.f16", dtype=np.float16, mode="r", shape=(n, c, r))
        ok = np.array(np.memmap(path / "ok.u8", dtype=np.uint8, mode="r", shape=(n,)), dtype=bool)
        energy = np.array(np.memmap(path / "energy.f32", dtype=np.float32, mode="r", shape=(n,)))
        items = pd.read_parquet(path / "items.parquet")
        return cls(path, meta, items, sketch, factors, ok, energy, encoder=encoder, corpus=corpus)

    def __len__(self) -> int:
        return int(self.meta["n"])

    def bytes_per_item(self) -> float:
        """On-disk bytes per artwork (sketch + factor + flags)."""
        total = sum((self.path / f).stat().st_size for f in ("sketch.f16", "factors.f16", "ok.u8", "energy.f32"))
        return total / max(1, len(self))

    def _encoder(self):
        if self.encoder is None:
            m = self.meta["encoder"]["model"]
            if m.get("calibrated_bn"):
                raise ValueError(f"{self.path}: built with a calibrated stand-in encoder; pass Index.load(..., encoder=...)")
            src = "random" if m.get("source") == "random" else "pretrained"
            self.encoder = GramEncoder(size=self.meta["encoder"]["size"], source=src, seed=m.get("seed") or 0)
        return self.encoder

    def search(self, queries, *, k: int = 5, candidates: int | None = None, rerank: str = "lowrank",
               batch_size: int = 16):
        """Top-k artworks per query.

        Args:
            queries: folder, list of image paths / uint8 arrays, or a :class:`Corpus`.
            k: results per query.
            candidates: sketch candidates re-ranked per query (default ``max(100, 20 k)``).
            rerank: ``"lowrank"`` (stored rank-r factors, query side exact), ``"exact"``
                (re-encode the candidates' images: the exact Gram cosine) or ``"none"``
                (sketch estimate).

        Returns:
            DataFrame like :func:`exact_search` (``similarity`` is the re-ranking score).
        """
        enc = self._encoder()
        qc = as_queries(queries)
        qv, xn, ok = encode_corpus_rows(qc, enc, list(range(len(qc))), batch_size=batch_size)
        return self.search_encoded(qv, xn, k=k, candidates=candidates, rerank=rerank, names=qc)

    def search_encoded(self, qv, xn, *, k: int = 5, candidates: int | None = None, rerank: str = "lowrank", names=None):
        """:meth:`search` for queries already encoded (``GramEncoder.encode_batch`` output)."""
        if rerank not in ("lowrank", "exact", "none"):
            raise ValueError(f"rerank must be 'lowrank', 'exact' or 'none', got {rerank!r}")
        if getattr(self, "_sketcher", None) is None or self._sketcher[0].device != qv.device:
            mean = torch.from_numpy(np.load(self.path / "mean.npy")).to(qv.device)
            bucket, sign = (t.to(qv.device) for t in _countsketch(qv.shape[1], self.meta["sketch_dim"], self.meta["seed"]))
            self._sketcher = (mean, bucket, sign, _countsketch_apply(mean[None], bucket, sign, self.meta["sketch_dim"]))
        mean, bucket, sign, mean_cs = self._sketcher
        qs = _sketch(qv, mean, bucket, sign, self.meta["sketch_dim"], mean_cs).cpu().numpy().astype(np.float32)
        c = min(len(self.rows), candidates or max(100, 20 * k))
        est, pos = self._candidates(qs, c)
        cand = self.rows[pos]  # nq x c corpus rows
        nq = qv.shape[0]
        scores = np.full((nq, c), -np.inf, dtype=np.float64)
        if rerank == "none":
            scores = est.astype(np.float64)
        elif rerank == "lowrank":
            for q in range(nq):
                order = np.argsort(cand[q])  # sorted reads from the memmap
                f = torch.from_numpy(self.factors[cand[q][order]]).to(xn.device).float()  # c x C x r
                cc, ch, r = f.shape
                prod = xn[q].T @ f.permute(1, 0, 2).reshape(ch, cc * r)  # HW x (c r): one GEMM
                scores[q, order] = prod.reshape(-1, cc, r).pow(2).sum((0, 2)).double().cpu().numpy()
        else:
            corpus = self._corpus_for_rerank()
            uniq = np.unique(cand)
            vec, _, ok = encode_corpus_rows(corpus, self._encoder(), uniq.tolist())
            sim = (qv.to(vec.device) @ vec.T).double().cpu().numpy()
            sim[:, ~ok] = -np.inf
            col = {r: j for j, r in enumerate(uniq)}
            for q in range(nq):
                scores[q] = sim[q, [col[r] for r in cand[q]]]
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        best_s = np.take_along_axis(scores, top, 1)
        best_r = np.take_along_axis(cand, top, 1)
        qc = names if isinstance(names, Corpus) else _named(names or [f"query-{j:03d}" for j in range(nq)])
        return _results(qc, Corpus(self.items), best_s, best_r)

    def _corpus_for_rerank(self) -> Corpus:
        if self._corpus is None:
            if self.items["path"].isna().any():
                raise ValueError(f"{self.path}: rerank='exact' needs the corpus; pass Index.load(..., corpus=...)")
            self._corpus = Corpus(self.items)
        return self._corpus


def probe_queries(corpus: Corpus, *, n: int = 4, seed: int = 0) -> Corpus:
    """``n`` corpus images (a seeded choice, one per style where possible) as queries for :func:`self_retrieval`.

    Query ids are ``self:<item>``; column ``expected`` holds the corpus item each must find.

    Used in: notebook 07 (p2-nearest-key-numbers.json).
    """
    rng = np.random.default_rng(seed)
    items = corpus.items
    order = rng.permutation(len(items))
    styles = items["style"].to_numpy()
    picked, seen = [], set()
    for i in order:  # one per style first, then anything
        if styles[i] not in seen:
            picked.append(int(i))
            seen.add(styles[i])
        if len(picked) == n:
            break
    picked += [int(i) for i in order if int(i) not in picked][: n - len(picked)]
    arrays = [corpus.load(i) for i in picked]
    q = as_queries(arrays)
    q.items["item"] = [f"self:{corpus.name(i)}" for i in picked]
    q.items["expected"] = [corpus.name(i) for i in picked]
    q.items["label"] = [f"corpus image {corpus.name(i)}" for i in picked]
    q.items["stand_in"] = False
    return Corpus(pd.DataFrame(q.items), arrays=q.arrays, kind="queries", demo=corpus.demo)


def self_retrieval(results, probes: Corpus) -> "object":
    """Did each probe (a corpus image used as a query) find itself at rank 1?

    Args:
        results: search results for ``probes`` (any k).
        probes: from :func:`probe_queries`.

    Returns:
        DataFrame ``query, expected, found, similarity, self_rank`` (``NaN`` when not in the
        results) and ``ok`` (found itself at rank 1).

    Used in: notebook 07 (p2-nearest-key-numbers.json).
    """
    rows = []
    for q, expected in zip(probes.items["item"], probes.items["expected"]):
        r = results[results["query"] == q].sort_values("rank")
        hit = r[r["item"] == expected]
        rows.append({"query": q, "expected": expected, "found": r["item"].iat[0] if len(r) else None,
                     "similarity": float(r["similarity"].iat[0]) if len(r) else float("nan"),
                     "self_rank": float(hit["rank"].iat[0]) if len(hit) else float("nan")})
    out = pd.DataFrame(rows)
    out["ok"] = out["self_rank"] == 1
    return out


def recall_at(found, truth, *, k: int) -> float:
    """Mean over queries of |top-k found ∩ top-k true| / k (both DataFrames with query, rank, item).

    Used in: notebook 07 (p2-nearest-key-numbers.json).
    """
    vals = []
    for q, t in truth.groupby("query"):
        tk = set(t.nsmallest(k, "rank")["item"])
        fk = set(found[found["query"] == q].nsmallest(k, "rank")["item"])
        vals.append(len(tk & fk) / max(1, len(tk)))
    return float(np.mean(vals)) if vals else float("nan")


"""Nearest-painting search over ArtBench-10 by Gram-matrix similarity (paper 2, Figure 4).

Similarity (SPEC.md): the cosine similarity of flattened Gram matrices
``G = (1/HW) X X^T`` of ResNet-152 activations at the output of ``layer3``
(``X``: 1024 channels x HW positions; 1024 x 14 x 14 at 224 px), i.e. of
1,048,576-dimensional vectors.

**Preprocessing** (:meth:`GramEncoder.preprocess`): RGB uint8 -> resize the *shorter* side to
``size`` (224) with bilinear, antialiased interpolation -> centre crop ``size x size`` -> [0, 1]
-> ImageNet mean/std normalisation. ArtBench-10's 256x256 images are simply scaled to 224x224;
BigGAN's 256x256 images likewise.

**Gram vectors.** ``G`` is symmetric, so :meth:`GramEncoder.encode` returns the upper
triangle (``C(C+1)/2 = 524,800`` values) with off-diagonal entries multiplied by sqrt(2):
dot products of these vectors equal the Frobenius products of the full Gram matrices exactly
(``tests/test_artsearch.py`` checks it), at half the size. Vectors are unit-normalised, so a
dot product *is* the cosine similarity of the flattened Grams.

**Exact search** (:func:`exact_search`): one streaming pass over the corpus for a batch of
queries, keeping the running top-k per query (memory: queries x 524,800 floats + one batch),
checkpointed atomically (running top-k + position) so an interrupted pass resumes.

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
   estimate of the cosine whose error scales with the small residual norms only. A faiss
   ``IndexFlatIP`` over the sketches gives ``candidates`` candidates per query.
2. *Low-rank Gram factor* (``factors.f16``, ``1024 x rank``): the top ``rank`` singular
   directions of the normalised activations, ``F = U_r S_r`` with ``F F^T`` = the best
   rank-``rank`` approximation of ``G / ||G||_F``. Candidates are re-ranked by
   ``||Xn_q^T F_c||_F^2`` with the *query's full activations* ``Xn_q``: the query side is exact,
   the artwork side is truncated to its top ``rank`` eigenpairs (the fraction of
   ``||G||_F^2`` kept is recorded per artwork as ``energy``). ReLU Grams are dominated by few
   eigenvalues (squared in the Frobenius norm), so this is close to exact; how close is
   *measured* (``benchmarks/artsearch.py``, recall@1/@10 vs :func:`exact_search`), not assumed.

Measured (``benchmarks/artsearch.py``, 2 shared CPU cores, 224 px, calibrated STAND-IN
ResNet-152 on 64 generated "paintings", 12 generated queries, 20 candidates of 64): recall@1 /
recall@10 against exact search 1.000 / 1.000 re-ranked with the rank-32 factors (0.750 / 0.900
from the sketch alone); the rank-32 factors keep 99.87% of ``||G||_F^2`` on average; query
latency on a 60,000-item index p50 72-250 ms, p95 100-630 ms (load-dependent). With the
pretrained network and real artworks the spectrum and the recall may differ: run the
benchmark (or the notebook's exact check, which reports recall) where those are available.

``Index.search(..., rerank="exact")`` re-encodes the candidates from their image files and
re-ranks by the exact cosine (needs the corpus on disk; one network pass per candidate).
Defaults ``sketch_dim=1024, rank=32`` cost ``2 * (1025 + 32 * 1024) = 67.6 KB`` per artwork,
4.1 GB for ArtBench-10 (vs 24 GB of activations); the choice and its recall are in the
benchmark table. Everything is float32 on both CPU and CUDA; fp16 only for storage, whose
effect on the ranking is inside the measured recall.

**Corpora** (:func:`read_corpus`): ArtBench-10 256x256 ImageFolder trees (with or without the
train/test split), the 32x32 CIFAR-python archive (``artbench-10-batches-py`` pickle batches
with ``data``, ``labels``, ``filenames``), or any folder of images; joined with
``ArtBench-10.csv`` for artist, title and style when it is found. Unreadable images are skipped
with a warning naming the file.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import tarfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

STYLES = ("art_nouveau", "baroque", "expressionism", "impressionism", "post_impressionism", "realism",
          "renaissance", "romanticism", "surrealism", "ukiyo_e")
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
METADATA_FILE = "ArtBench-10.csv"
# Canonical locations (README of github.com/liaopeiyuan/artbench). No sha256 is published for
# them, so none is pinned: helpers.download records the hash at first download and verifies it later.
ARTBENCH_URLS = {
    "metadata": "https://artbench.eecs.berkeley.edu/files/ArtBench-10.csv",
    "imagefolder-split": "https://artbench.eecs.berkeley.edu/files/artbench-10-imagefolder-split.tar",
    "imagefolder": "https://artbench.eecs.berkeley.edu/files/artbench-10-imagefolder.tar",
    "cifar-python": "https://artbench.eecs.berkeley.edu/files/artbench-10-python.tar.gz",
}
ARTBENCH_FOLDERS = {"imagefolder-split": "artbench-10-imagefolder-split", "imagefolder": "artbench-10-imagefolder",
                    "cifar-python": "artbench-10-batches-py"}
INDEX_VERSION = 1
META_COLUMNS = ("artist", "title", "style", "split")
DEMO_MARKER = "DEMO-NOT-ARTBENCH.txt"
DEMO_CORPUS_NOTE = "DEMO CORPUS: procedurally generated 'paintings' with fake metadata, not ArtBench-10"
DEMO_QUERIES_NOTE = "DEMO QUERIES: procedurally generated, not BigGAN images"


# --- corpora ------------------------------------------------------------------------------

@dataclass
class Corpus:
    """A list of artworks: a table (one row per item) plus where its pixels come from.

    ``items`` has at least ``item`` (unique id), ``path`` (file or ``None``), ``artist``,
    ``title``, ``style`` and ``split`` (``None`` where unknown). CIFAR corpora keep their pixels
    in ``arrays`` (uint8 N x 32 x 32 x 3) and ``path`` is ``None``.
    """

    items: "object"  # pandas.DataFrame
    arrays: "np.ndarray | list | None" = None
    root: str = ""
    kind: str = "folder"
    demo: bool = False  # made by make_demo_corpus / make_demo_queries: not real data

    def __len__(self) -> int:
        return len(self.items)

    def load(self, i: int) -> np.ndarray:
        """Pixels of item ``i`` as uint8 HxWx3; raises ``io.ImageReadError`` naming the file."""
        from helpers import io

        if self.arrays is not None:
            return io.read_image(self.arrays[int(self.items["row"].iat[i])], min_size=8)
        return io.read_image(self.items["path"].iat[i])

    def name(self, i: int) -> str:
        return str(self.items["item"].iat[i])

    def fingerprint(self) -> str:
        """sha256 of the ordered item ids (checks that a checkpoint or index belongs to this corpus)."""
        h = hashlib.sha256()
        for s in self.items["item"].astype(str):
            h.update(s.encode() + b"\0")
        return h.hexdigest()


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTS)


def read_corpus(path, *, metadata="auto") -> Corpus:
    """Read a corpus of artworks (or any images) from ``path``.

    Recognised layouts:
      * ArtBench-10 ImageFolder with split: ``path/{train,test}/<style>/<file>.jpg``;
      * ArtBench-10 ImageFolder without split: ``path/<style>/<file>.jpg``;
      * CIFAR-python: ``path`` is ``artbench-10-python.tar.gz`` or a folder holding
        ``data_batch_*`` / ``test_batch`` pickles (``data`` N x 3072 uint8, ``labels``,
        ``filenames``) and a ``meta`` pickle with ``styles``;
      * any other folder: every image file below it (item id = path relative to ``path``).

    Args:
        path: folder or archive.
        metadata: ``"auto"`` (look for ``ArtBench-10.csv`` in ``path``, its parent and
            :func:`helpers.paths.data`), a CSV path, or ``None``.

    Returns:
        :class:`Corpus`, items sorted by id; metadata joined on the file name.

    Raises:
        FileNotFoundError: ``path`` does not exist or holds no images.
    """
    import pandas as pd

    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"corpus {path} does not exist (see artsearch.download_artbench or README)")
    if path.is_file() and path.name.endswith((".tar.gz", ".tgz", ".tar")):
        corpus = _read_cifar_tar(path)
    elif path.is_dir() and (list(path.glob("data_batch_*")) or (path / "test_batch").exists()):
        corpus = _read_cifar_dir(path)
    elif path.is_dir() and (path / ARTBENCH_FOLDERS["cifar-python"]).is_dir():
        corpus = _read_cifar_dir(path / ARTBENCH_FOLDERS["cifar-python"])
    elif path.is_dir():
        files = _image_files(path)
        if not files:
            raise FileNotFoundError(f"corpus {path}: no image files ({', '.join(IMAGE_EXTS)}) below it")
        rows = []
        for f in files:
            rel = f.relative_to(path).parts
            split = rel[0] if len(rel) == 3 and rel[0] in ("train", "test") else None
            style = rel[-2] if len(rel) >= 2 and rel[-2] in STYLES else None
            rows.append({"item": "/".join(rel), "path": str(f), "file": f.name, "style": style, "split": split})
        kind = "imagefolder-split" if any(r["split"] for r in rows) else (
            "imagefolder" if any(r["style"] for r in rows) else "folder")
        corpus = Corpus(pd.DataFrame(rows), root=str(path), kind=kind)
    else:
        raise FileNotFoundError(f"corpus {path}: expected a folder of images or an ArtBench CIFAR-python archive")
    corpus.demo = (path if path.is_dir() else path.parent).joinpath(DEMO_MARKER).exists()
    csv = _find_metadata(path, metadata)
    corpus.items = _join_metadata(corpus.items, read_metadata(csv) if csv else None)
    corpus.items = corpus.items.sort_values("item", kind="stable").reset_index(drop=True)
    return corpus


def _find_metadata(path: Path, metadata):
    if metadata is None:
        return None
    if metadata != "auto":
        if not Path(metadata).exists():
            raise FileNotFoundError(f"metadata file {metadata} does not exist")
        return Path(metadata)
    from helpers import paths

    base = path if path.is_dir() else path.parent
    for cand in (base / METADATA_FILE, base.parent / METADATA_FILE, paths.data(create=False) / METADATA_FILE):
        if cand.exists():
            return cand
    return None


_SYNONYMS = {"title": ("title", "painting", "artwork"), "name": ("name", "filename", "file", "image"),
             "style": ("label", "style", "class"), "artist": ("artist", "painter"), "split": ("split", "subset"),
             "url": ("url", "link"), "is_public_domain": ("is_public_domain", "public_domain"),
             "cifar_index": ("cifar_index", "cifar_idx")}


def read_metadata(csv) -> "object":
    """Read ``ArtBench-10.csv`` into a DataFrame with normalised columns.

    Columns are matched case-insensitively (``name``/``filename`` -> ``name``, ``label``/
    ``style`` -> ``style``, ``artist``, ``title``, ``split``, ``url``, ``is_public_domain``,
    ``cifar_index``); ``title`` is derived from the file name (``artist_title-words.jpg``)
    when the file has no title column. A ``key`` column (file name without extension, lower
    case) is what corpora join on.

    Raises:
        ValueError: the file has no column naming the image file.
    """
    import pandas as pd

    df = pd.read_csv(csv)
    lower = {c.lower().strip(): c for c in df.columns}
    out = pd.DataFrame(index=df.index)
    for norm, names in _SYNONYMS.items():
        for n in names:
            if n in lower:
                out[norm] = df[lower[n]]
                break
    if "name" not in out:
        raise ValueError(f"{csv}: no column naming the image file (expected one of {_SYNONYMS['name']}); "
                         f"columns are {list(df.columns)}")
    out["key"] = out["name"].astype(str).map(_key)
    if "title" not in out:
        out["title"] = [_title_from_name(n, a) for n, a in zip(out["name"], out.get("artist", [None] * len(out)))]
    return out


def _key(name) -> str:
    stem = Path(str(name)).name
    for ext in IMAGE_EXTS:
        if stem.lower().endswith(ext):
            stem = stem[: -len(ext)]
    return stem.lower()


def _title_from_name(name, artist=None) -> str:
    stem = Path(str(name)).stem
    if artist and stem.startswith(f"{artist}_"):
        stem = stem[len(artist) + 1:]
    elif "_" in stem:
        stem = stem.split("_", 1)[1]
    return stem.replace("-", " ").strip().capitalize()


def _join_metadata(items, meta):

    items = items.copy()
    items["key"] = items["file"].map(_key)
    if meta is not None:
        cols = [c for c in ("artist", "title", "style", "split", "url", "is_public_domain", "cifar_index") if c in meta]
        right = meta.drop_duplicates("key")[["key", *cols]].rename(columns={c: f"{c}_meta" for c in cols})
        items = items.merge(right, on="key", how="left")
        for c in cols:
            if c in items:
                items[c] = items[f"{c}_meta"].where(items[f"{c}_meta"].notna(), items[c])
            else:
                items[c] = items[f"{c}_meta"]
            items = items.drop(columns=f"{c}_meta")
    for c in META_COLUMNS:
        if c not in items:
            items[c] = None
    if items["title"].isna().all():
        items["title"] = items["file"].map(_title_from_name)
    items["style"] = items["style"].map(lambda s: STYLES[int(s)] if isinstance(s, (int, np.integer)) and 0 <= s < 10 else s)
    return items.drop(columns="key").astype({"item": str})


def _cifar_batches(batches: dict, meta: dict | None):
    import pandas as pd

    styles = [s.decode() if isinstance(s, bytes) else s for s in (meta or {}).get("styles", STYLES)]
    rows, arrays = [], []
    for bname in sorted(batches):
        b = {(k.decode() if isinstance(k, bytes) else k): v for k, v in batches[bname].items()}
        data = np.asarray(b["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in b.get("filenames", [f"{bname}_{i}" for i in range(len(data))])]
        split = "test" if "test" in bname else "train"
        offset = sum(len(a) for a in arrays)
        for i, (lab, name) in enumerate(zip(b["labels"], names)):
            rows.append({"item": f"{bname}/{name}", "path": None, "file": name, "row": offset + i,
                         "style": styles[int(lab)], "split": split})
        arrays.append(data)
    if not rows:
        raise FileNotFoundError("CIFAR-python archive holds no data_batch_* / test_batch")
    return pd.DataFrame(rows), np.concatenate(arrays)


def _read_cifar_dir(folder: Path) -> Corpus:
    batches = {}
    for f in sorted(folder.iterdir()):
        if f.name.startswith("data_batch") or f.name == "test_batch":
            with open(f, "rb") as fh:
                batches[f.name] = pickle.load(fh, encoding="bytes")
    meta = None
    if (folder / "meta").exists():
        with open(folder / "meta", "rb") as fh:
            meta = {(k.decode() if isinstance(k, bytes) else k): v for k, v in pickle.load(fh, encoding="bytes").items()}
    items, arrays = _cifar_batches(batches, meta)
    return Corpus(items, arrays=arrays, root=str(folder), kind="cifar-python")


def _read_cifar_tar(archive: Path) -> Corpus:
    batches, meta = {}, None
    with tarfile.open(archive) as tar:
        for m in tar.getmembers():
            name = Path(m.name).name
            if m.isfile() and (name.startswith("data_batch") or name == "test_batch" or name == "meta"):
                obj = pickle.load(tar.extractfile(m), encoding="bytes")
                if name == "meta":
                    meta = {(k.decode() if isinstance(k, bytes) else k): v for k, v in obj.items()}
                else:
                    batches[name] = obj
    items, arrays = _cifar_batches(batches, meta)
    return Corpus(items, arrays=arrays, root=str(archive), kind="cifar-python")


def download_artbench(dest=None, *, what=("imagefolder-split", "metadata"), extract: bool = True,
                      progress: bool = True) -> dict:
    """Fetch ArtBench-10 files from their canonical locations into ``dest`` (default ``paths.data()``).

    Downloads resume (HTTP Range) and are sha256-recorded at first download and verified after
    (no hash is published to pin). Archives are extracted beside themselves once.

    Args:
        dest: target folder.
        what: any of ``"imagefolder-split"`` (256x256, train/test, recommended, ~2.9 GB),
            ``"imagefolder"``, ``"cifar-python"``, ``"metadata"`` (``ArtBench-10.csv``).
        extract: untar archives (skipped when the folder already exists).
        progress: progress bars.

    Returns:
        dict ``what -> Path`` of the extracted folder (or the CSV).
    """
    from helpers import download, paths

    dest = Path(dest) if dest else paths.data()
    out = {}
    for w in what:
        if w not in ARTBENCH_URLS:
            raise ValueError(f"download_artbench: unknown item {w!r}; expected one of {sorted(ARTBENCH_URLS)}")
        url = ARTBENCH_URLS[w]
        f = dest / url.rsplit("/", 1)[1]
        if f.exists():
            download.verify(f, progress=progress)
        else:
            download.download(url, f, progress=progress)
        if w == "metadata" or w == "cifar-python" or not extract:
            out[w] = f
            continue
        folder = dest / ARTBENCH_FOLDERS[w]
        if not folder.exists():
            tmp = dest / f".{folder.name}.extracting"
            with tarfile.open(f) as tar:
                tar.extractall(tmp, filter="data")
            inner = tmp / folder.name if (tmp / folder.name).is_dir() else tmp
            os.replace(inner, folder)
            if tmp.exists():
                import shutil

                shutil.rmtree(tmp)
        out[w] = folder
    return out


def default_corpus_path() -> Path:
    """Where the paper profile expects ArtBench-10: ``paths.data()/artbench-10-imagefolder-split``."""
    from helpers import paths

    return paths.data(create=False) / ARTBENCH_FOLDERS["imagefolder-split"]


def locate_corpus(path=None, *, download: bool = False, progress: bool = True) -> Path:
    """The corpus folder to search: ``path``, else ArtBench-10 under ``paths.data()``.

    With ``download=True`` a missing default corpus (and ``ArtBench-10.csv``) is fetched by
    :func:`download_artbench`.

    Raises:
        FileNotFoundError: the corpus is missing; the message says where to put it by hand.
    """
    from helpers import paths

    target = Path(path).expanduser() if path else default_corpus_path()
    if target.exists():
        return target
    if download and not path:
        return download_artbench(progress=progress)["imagefolder-split"]
    raise FileNotFoundError(
        f"corpus {target} not found. For ArtBench-10 download {ARTBENCH_URLS['imagefolder-split']} and "
        f"{ARTBENCH_URLS['metadata']}, untar the first into {paths.data(create=False)} (giving "
        f"{ARTBENCH_FOLDERS['imagefolder-split']}/train|test/<style>/*.jpg) and put {METADATA_FILE} beside it; "
        "or set CORPUS to any folder of images, or call artsearch.download_artbench().")


def read_queries(path, *, demo_fallback: bool = False, n_demo: int = 4, seed: int = 0) -> Corpus:
    """The query images: a folder (with notebook 05's ``manifest.csv`` when present) or a demo set.

    With ``manifest.csv`` (columns ``file, network, seed, class_id, class_name, stand_in``) the
    queries are its files in order, labelled ``"<network> · <class_name>"``; otherwise every
    image in the folder, labelled by file name. When the folder is missing and
    ``demo_fallback`` is set, ``n_demo`` procedurally generated images are used instead
    (``Corpus.demo`` is True, labels say DEMO).

    Returns:
        :class:`Corpus` whose items carry ``label`` and ``stand_in`` columns.

    Raises:
        FileNotFoundError: no such folder (and no fallback).
    """
    import pandas as pd

    path = Path(path)
    if not path.exists():
        if not demo_fallback:
            raise FileNotFoundError(f"queries {path} not found: run notebook 05 first or set QUERIES to a folder of images")
        rng = np.random.default_rng(seed)
        arrays = [_demo_painting(rng, int(rng.integers(0, 10)), 128) for _ in range(n_demo)]
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
        q.items["stand_in"] = m["stand_in"].astype(bool).tolist() if "stand_in" in m else False
        return q
    q = read_corpus(path, metadata=None)
    q.items["label"] = q.items["file"].map(lambda f: Path(f).stem)
    q.items["stand_in"] = False
    return q


def figure_notes(encoder: "GramEncoder", corpus: Corpus, queries: Corpus) -> list[str]:
    """Red warning lines for a figure: stand-in network, demo corpus, demo / stand-in queries."""
    from helpers import plots

    notes = [f"{plots.STAND_IN} (ResNet-152)"] if encoder.stand_in else []
    if corpus.demo:
        notes.append(DEMO_CORPUS_NOTE)
    if queries.demo:
        notes.append(DEMO_QUERIES_NOTE)
    elif "stand_in" in queries.items and queries.items["stand_in"].astype(bool).any():
        notes.append("Queries generated by a STAND-IN BigGAN (random weights)")
    return notes


def nearest_table(results, queries: Corpus, *, method: str, encoder: "GramEncoder") -> "object":
    """The published table: results + query label, the method and the network's provenance."""
    labels = dict(zip(queries.items["item"].astype(str), queries.items.get("label", queries.items["item"])))
    out = results.copy()
    out.insert(1, "query_label", out["query"].map(labels))
    out["method"] = method
    out["network"] = encoder.description
    out["stand_in"] = encoder.stand_in
    return out.drop(columns=["row"])


# --- images -> Gram vectors -----------------------------------------------------------------

def triangle(gram):
    """Upper triangle of symmetric Grams (..., C, C) -> (..., C(C+1)/2), off-diagonals x sqrt(2).

    Dot products of the results equal Frobenius products of the full matrices.
    """
    import torch

    c = gram.shape[-1]
    iu = torch.triu_indices(c, c, device=gram.device)
    w = torch.full((iu.shape[1],), math.sqrt(2.0), dtype=gram.dtype, device=gram.device)
    w[iu[0] == iu[1]] = 1.0
    return gram[..., iu[0], iu[1]] * w


class GramEncoder:
    """ResNet-152 up to ``layer3`` -> Gram matrices of the activations.

    Preprocessing: resize the shorter side to ``size`` (bilinear, antialiased), centre crop
    ``size x size``, scale to [0, 1], ImageNet mean/std normalisation.

    Args:
        model: a torchvision ResNet (e.g. ``models.load("resnet152", ...)``); ``None`` loads
            ResNet-152 with ``source``/``seed``.
        size: input side in pixels (224 in the paper; layer3 output is ``size/16`` on a side).
        device: torch device.
        source: ``"pretrained"`` or ``"random"`` when ``model`` is None.
        seed: stand-in seed when ``source="random"``.
    """

    def __init__(self, model=None, *, size: int = 224, device="cpu", source: str = "pretrained", seed: int = 0,
                 progress: bool = True):
        import torch

        from helpers import models, resolve_device

        self.device = resolve_device(device)
        if model is None:
            model = models.load("resnet152", source=source, seed=seed, device=self.device, progress=progress)
        self.model = model
        self.info = dict(getattr(model, "na_info", {}) or {})
        self.stand_in = models.is_stand_in(model)
        self.description = models.describe(model)
        self.size = int(size)
        self.trunk = torch.nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool,
                                         model.layer1, model.layer2, model.layer3).to(self.device).eval()
        self.channels = model.layer3[-1].conv3.out_channels if hasattr(model.layer3[-1], "conv3") else 256
        self.dim = self.channels * (self.channels + 1) // 2

    def config(self) -> dict:
        """What an index needs to rebuild the same encoder (size, weights provenance)."""
        return {"size": self.size, "model": self.info, "stand_in": self.stand_in, "description": self.description}

    def calibrate_stand_in(self, images, *, batch_size: int = 32) -> "GramEncoder":
        """Stand-in only: set the BatchNorm running statistics of the trunk from ``images``.

        A random-initialised ResNet keeps BatchNorm statistics 0/1, so activations grow block
        by block and every Gram is almost the same matrix (cosines ~ 1.0000): no ranking to
        test. Re-estimating the statistics on a batch (as BigGAN's stand-in does) gives Gram
        cosines spread like a trained network's (about 0.5-0.95). Still a STAND-IN.

        Raises:
            ValueError: the encoder carries pretrained weights (never touch those).
        """
        import torch

        if not self.stand_in:
            raise ValueError("calibrate_stand_in: refusing to change the statistics of pretrained weights")
        x = torch.stack([self.preprocess(_as_image(im)) for im in list(images)[:batch_size]]).to(self.device)
        bns = [m for m in self.trunk.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        for m in bns:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over this one batch
        self.trunk.train()
        with torch.no_grad():
            self.trunk(x)
        self.trunk.eval()
        self.info["calibrated_bn"] = len(x)
        return self

    def preprocess(self, img) -> "object":
        """uint8 HxWx3 -> float32 tensor 3 x size x size (resize shorter side, centre crop, normalise)."""
        import torch
        import torchvision.transforms.v2.functional as TF

        t = torch.from_numpy(np.array(img, dtype=np.uint8, copy=True)).permute(2, 0, 1)
        t = TF.resize(t, [self.size], interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
        t = TF.center_crop(t, [self.size, self.size])
        t = t.float().div_(255.0)
        return TF.normalize(t, IMAGENET_MEAN, IMAGENET_STD)

    def activations(self, batch):
        """Normalised batch N x 3 x S x S -> layer3 activations N x C x HW (float32, on device)."""
        import torch

        with torch.inference_mode():
            x = self.trunk(batch.to(self.device, non_blocking=True).float())
        return x.flatten(2)

    @staticmethod
    def gram(acts):
        """Activations N x C x HW -> Grams N x C x C, ``G = X X^T / HW``."""
        return acts @ acts.transpose(1, 2) / acts.shape[-1]

    @staticmethod
    def normalised(acts):
        """Scale activations so that ``Xn Xn^T`` is the unit-Frobenius Gram: ``Xn = X / sqrt(HW ||G||_F)``.

        Then ``cos(G_a, G_b) = ||Xn_a^T Xn_b||_F^2``. All-zero activations stay zero.
        """
        hw = acts.shape[-1]
        small = acts.transpose(1, 2) @ acts if hw <= acts.shape[1] else acts @ acts.transpose(1, 2)
        norm = small.flatten(1).norm(dim=1).div(hw).clamp_min(1e-30)  # ||X X^T||_F = ||X^T X||_F
        return acts / (hw * norm).sqrt()[:, None, None]

    def encode_batch(self, batch):
        """Normalised batch -> (unit Gram triangle vectors N x C(C+1)/2, Xn N x C x HW)."""
        acts = self.activations(batch)
        xn = self.normalised(acts)
        return triangle(xn @ xn.transpose(1, 2)), xn

    def encode(self, images, *, batch_size: int = 16, progress: bool = False):
        """Images (uint8 HxWx3 arrays or paths) -> unit Gram triangle vectors N x 524,800 (float32, CPU).

        ``encode(a) @ encode(b).T`` is the cosine similarity of the flattened Gram matrices.
        """
        import torch

        vecs = []
        for start in _trange(0, len(images), batch_size, progress, "encode"):
            batch = torch.stack([self.preprocess(_as_image(im)) for im in images[start:start + batch_size]])
            vecs.append(self.encode_batch(batch)[0].cpu())
        return torch.cat(vecs) if vecs else torch.zeros(0, self.dim)


def _as_image(im):
    from helpers import io

    return io.read_image(im)


def _trange(start, stop, step, progress, desc):
    from tqdm.auto import tqdm

    rng = range(start, stop, step)
    return tqdm(rng, desc=desc, disable=not progress, leave=False) if progress else rng


class _Dataset:
    """torch Dataset over a corpus: (preprocessed tensor, index, error message or '')."""

    def __init__(self, corpus: Corpus, encoder: GramEncoder, indices):
        self.corpus, self.encoder, self.indices = corpus, encoder, list(indices)
        self.size = encoder.size

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, j):
        import torch

        from helpers import io

        i = self.indices[j]
        try:
            return self.encoder.preprocess(self.corpus.load(i)), i, ""
        except (io.ImageReadError, OSError, ValueError) as exc:
            return torch.zeros(3, self.size, self.size), i, str(exc) or repr(exc)


class _Prep:
    """Picklable stand-in for the encoder inside DataLoader workers (preprocessing only)."""

    def __init__(self, size):
        self.size = size

    preprocess = GramEncoder.preprocess


def _loader(corpus, encoder, indices, *, batch_size, num_workers):
    import torch

    ds = _Dataset(corpus, _Prep(encoder.size), indices)
    kw = dict(num_workers=num_workers, persistent_workers=False)
    if num_workers > 0:
        kw.update(prefetch_factor=4)
    return torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=False, pin_memory=encoder.device.type == "cuda",
                                       collate_fn=_collate, **kw)


def _collate(rows):
    import torch

    return torch.stack([r[0] for r in rows]), [r[1] for r in rows], [r[2] for r in rows]


def default_workers() -> int:
    """DataLoader workers for decoding: ``min(4, cpu_count - 1)``, at least 1."""
    return max(1, min(4, (os.cpu_count() or 2) - 1))


def iter_encoded(corpus: Corpus, encoder: "GramEncoder", *, start: int = 0, stop: int | None = None, rows=None,
                 batch_size: int = 16, num_workers: int | None = None):
    """Stream a corpus through the encoder: decoding in DataLoader workers overlaps the network.

    ``rows`` (a list of corpus rows) replaces ``start``/``stop`` when given. Unreadable images are reported with a warning naming the file and come back with an
    error message (their vectors are meaningless and must be skipped).

    Yields:
        ``(rows, vectors, xn, errors)``: corpus rows (list of int), unit Gram triangle vectors
        B x C(C+1)/2 and normalised activations B x C x HW (on the encoder's device), and one
        error string per row (``""`` when the image was read).
    """
    nw = default_workers() if num_workers is None else num_workers
    stop = len(corpus) if stop is None else stop
    rows = range(start, stop) if rows is None else rows
    for batch, idx, errs in _loader(corpus, encoder, rows, batch_size=batch_size, num_workers=nw):
        for i, e in zip(idx, errs):
            if e:
                _warn_bad(corpus, i, e)
        vec, xn = encoder.encode_batch(batch)
        yield idx, vec, xn, errs


def _warn_bad(corpus, i, err):
    where = corpus.items["path"].iat[i] or corpus.name(i)
    warnings.warn(f"artsearch: skipping unreadable image {where}: {err}", stacklevel=3)


# --- queries ------------------------------------------------------------------------------

def as_queries(queries) -> Corpus:
    """Queries as a :class:`Corpus`: a folder, a list of paths/arrays, or a Corpus."""
    import pandas as pd

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
    import pandas as pd

    return Corpus(pd.DataFrame({"item": [str(n) for n in names], "path": None}), kind="queries")


def _encode_corpus_rows(corpus, encoder, indices, *, batch_size=16):
    """Encode specific rows in-process -> (vectors, xn, ok mask)."""
    import torch

    vecs, xns, ok = [], [], []
    for s in range(0, len(indices), batch_size):
        chunk = indices[s:s + batch_size]
        tens, good = [], []
        for i in chunk:
            try:
                tens.append(encoder.preprocess(corpus.load(i)))
                good.append(True)
            except (ValueError, OSError) as exc:
                _warn_bad(corpus, i, exc)
                tens.append(torch.zeros(3, encoder.size, encoder.size))
                good.append(False)
        v, xn = encoder.encode_batch(torch.stack(tens))
        vecs.append(v), xns.append(xn), ok.extend(good)
    return torch.cat(vecs), torch.cat(xns), np.array(ok, dtype=bool)


# --- exact streaming search ----------------------------------------------------------------

def _merge_topk(best_s, best_i, scores, idx, k):
    import torch

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
    """
    import torch

    from helpers import io

    corpus = corpus if isinstance(corpus, Corpus) else read_corpus(corpus)
    qc = as_queries(queries)
    encoder = encoder or GramEncoder(device=device)
    qv, _, qok = _encode_corpus_rows(qc, encoder, list(range(len(qc))), batch_size=batch_size)
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
            warnings.warn(f"exact_search: checkpoint {ck} belongs to other queries/corpus/k; starting over", stacklevel=2)

    def save(position):
        with io.atomic_path(ck, suffix=".npz") as tmp:
            np.savez(tmp, scores=best_s.cpu().numpy(), rows=best_i.cpu().numpy(), position=position,
                     fingerprint=np.array(fp))

    nw = default_workers() if num_workers is None else num_workers
    from tqdm.auto import tqdm

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
    import pandas as pd

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
    import torch

    g = torch.Generator().manual_seed(int(seed))
    bucket = torch.randint(0, dim_out, (dim_in,), generator=g)
    sign = torch.randint(0, 2, (dim_in,), generator=g).float().mul_(2).sub_(1)
    return bucket, sign


def _sketch(vec, mean, bucket, sign, dim_out):
    """Unit Gram vectors N x D -> N x (1 + dim_out): [<g,m>, CountSketch(g - <g,m> m)]."""
    import torch

    c = vec @ mean
    both = torch.zeros(vec.shape[0] + 1, dim_out, dtype=vec.dtype, device=vec.device)
    both.index_add_(1, bucket, torch.cat([vec, mean[None]]) * sign)  # CountSketch is linear:
    out = both[:-1] - c[:, None] * both[-1:]  # CS(g - c m) = CS(g) - c CS(m)
    return torch.cat([c[:, None], out], dim=1)


def _factors(xn, rank):
    """Xn N x C x HW -> F N x C x rank (``F F^T`` = best rank-``rank`` part of Xn Xn^T) and kept energy."""
    import torch

    # eigen-decomposition of the small HW x HW matrix Xn^T Xn (HW = 196 <= C = 1024): its
    # eigenvalues are those of Xn Xn^T and Xn V = U S, so F = Xn V_r without an SVD of Xn
    lam, v = torch.linalg.eigh(xn.transpose(1, 2).double() @ xn.double())  # ascending
    lam = lam.clamp_min(0).flip(-1)
    v = v.flip(-1)
    r = min(rank, lam.shape[1])
    f = (xn.double() @ v[:, :, :r]).to(xn.dtype)
    if r < rank:
        f = torch.cat([f, f.new_zeros(f.shape[0], f.shape[1], rank - r)], dim=2)
    lam2 = lam.pow(2)
    energy = (lam2[:, :r].sum(1) / lam2.sum(1).clamp_min(1e-30)).to(xn.dtype)
    return f, energy


def build_index(corpus, out_dir, *, encoder: GramEncoder | None = None, sketch_dim: int = 1024, rank: int = 32,
                seed: int = 0, n_fit: int = 256, batch_size: int = 16, num_workers: int | None = None,
                flush_every: int = 20, overwrite: bool = False, progress: bool = True, device="cpu") -> "Index":
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

    Returns:
        :class:`Index`.
    """
    import torch

    from helpers import io

    corpus = corpus if isinstance(corpus, Corpus) else read_corpus(corpus)
    encoder = encoder or GramEncoder(device=device)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n = len(corpus)
    settings = {"version": INDEX_VERSION, "n": n, "sketch_dim": int(sketch_dim), "rank": int(rank), "seed": int(seed),
                "n_fit": int(n_fit), "channels": encoder.channels, "corpus": corpus.fingerprint(),
                "encoder": encoder.config()}
    meta_path = out / "meta.json"
    meta = io.load_json(meta_path) if meta_path.exists() else None
    if meta is not None and {k: meta.get(k) for k in settings} != json.loads(json.dumps(settings, default=str)):
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
            rng = np.random.default_rng(seed)
            fit = sorted(rng.choice(n, size=min(n_fit, n, max(8, n // 4)), replace=False).tolist())
            m = torch.zeros(encoder.dim, dtype=torch.float64, device=encoder.device)
            for _, vec, _, errs in iter_encoded(corpus, encoder, rows=fit, batch_size=batch_size, num_workers=nw):
                m += vec[torch.tensor([e == "" for e in errs], device=vec.device)].double().sum(0)
            m = m.cpu() if m.norm() > 0 else torch.ones(encoder.dim, dtype=torch.float64)
            m = (m / m.norm()).float().numpy()
            with io.atomic_path(out / "mean.npy", suffix=".npy") as tmp:
                np.save(tmp, m)
        mean = torch.from_numpy(np.load(out / "mean.npy")).to(encoder.device)
        bucket, sign = (t.to(encoder.device) for t in _countsketch(encoder.dim, sketch_dim, seed))
        mode = "r+" if (out / "sketch.f16").exists() else "w+"
        sk = np.memmap(out / "sketch.f16", dtype=np.float16, mode=mode, shape=(n, 1 + sketch_dim))
        fa = np.memmap(out / "factors.f16", dtype=np.float16, mode=mode, shape=(n, encoder.channels, rank))
        okm = np.memmap(out / "ok.u8", dtype=np.uint8, mode=mode, shape=(n,))
        en = np.memmap(out / "energy.f32", dtype=np.float32, mode=mode, shape=(n,))
        pos = int(meta["position"])
        from tqdm.auto import tqdm

        bar = tqdm(total=n, initial=pos, desc="build index", unit="img", disable=not progress, leave=False)

        def commit(position, complete=False):
            for a in (sk, fa, okm, en):
                a.flush()
            meta.update(position=position, complete=complete)
            io.save_json(meta, meta_path)

        for b, (idx, vec, xn, errs) in enumerate(iter_encoded(corpus, encoder, start=pos, batch_size=batch_size,
                                                              num_workers=nw), 1):
            f, energy = _factors(xn, rank)
            s = _sketch(vec, mean, bucket, sign, sketch_dim)
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
    """A built Gram-similarity index (see :func:`build_index`); open with :meth:`Index.load`."""

    def __init__(self, path, meta, items, sketch, factors, ok, energy, encoder=None, corpus=None):
        import faiss

        self.path, self.meta, self.items = Path(path), meta, items
        self.sketch, self.factors, self.ok, self.energy = sketch, factors, ok, energy
        self.encoder, self._corpus = encoder, corpus
        self.rows = np.flatnonzero(ok)
        self.faiss = faiss.IndexFlatIP(sketch.shape[1])
        for s in range(0, len(self.rows), 8192):
            self.faiss.add(np.ascontiguousarray(sketch[self.rows[s:s + 8192]], dtype=np.float32))

    @classmethod
    def load(cls, path, *, encoder: GramEncoder | None = None, corpus: Corpus | None = None) -> "Index":
        """Open an index folder (memory-maps its arrays; loads the sketches into a faiss IndexFlatIP).

        Args:
            path: folder written by :func:`build_index`.
            encoder: encoder for queries; default: rebuilt from the recorded weights and size.
            corpus: the corpus (only for ``rerank="exact"``; default: re-read from the item paths).

        Raises:
            FileNotFoundError / ValueError: missing or incomplete index, naming the folder.
        """
        import pandas as pd

        from helpers import io

        path = Path(path)
        if not (path / "meta.json").exists():
            raise FileNotFoundError(f"{path}: no index here (meta.json missing); build one with artsearch.build_index")
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
        qv, xn, ok = _encode_corpus_rows(qc, enc, list(range(len(qc))), batch_size=batch_size)
        return self.search_encoded(qv, xn, k=k, candidates=candidates, rerank=rerank, names=qc)

    def search_encoded(self, qv, xn, *, k: int = 5, candidates: int | None = None, rerank: str = "lowrank", names=None):
        """:meth:`search` for queries already encoded (``GramEncoder.encode_batch`` output)."""
        import torch

        if rerank not in ("lowrank", "exact", "none"):
            raise ValueError(f"rerank must be 'lowrank', 'exact' or 'none', got {rerank!r}")
        if getattr(self, "_sketcher", None) is None or self._sketcher[0].device != qv.device:
            mean = torch.from_numpy(np.load(self.path / "mean.npy")).to(qv.device)
            self._sketcher = (mean, *(t.to(qv.device) for t in _countsketch(qv.shape[1], self.meta["sketch_dim"],
                                                                             self.meta["seed"])))
        qs = _sketch(qv, *self._sketcher, self.meta["sketch_dim"]).cpu().numpy().astype(np.float32)
        c = min(len(self.rows), candidates or max(100, 20 * k))
        est, pos = self.faiss.search(qs, c)
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
            vec, _, ok = _encode_corpus_rows(corpus, self._encoder(), uniq.tolist())
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


def recall_at(found, truth, *, k: int) -> float:
    """Mean over queries of |top-k found ∩ top-k true| / k (both DataFrames with query, rank, item)."""
    vals = []
    for q, t in truth.groupby("query"):
        tk = set(t.nsmallest(k, "rank")["item"])
        fk = set(found[found["query"] == q].nsmallest(k, "rank")["item"])
        vals.append(len(tk & fk) / max(1, len(tk)))
    return float(np.mean(vals)) if vals else float("nan")


# --- demo corpus (smoke profile and tests) -------------------------------------------------

def make_demo_corpus(out_dir, *, n: int = 40, size: int = 96, seed: int = 0, bad: int = 0, split: bool = True) -> Path:
    """Write ``n`` procedurally generated "paintings" as an ArtBench-style ImageFolder + fake CSV.

    Each style has its own palette and stroke statistics (so Gram similarity has structure to
    find); files are named ``artist_title-words.jpg`` and ``ArtBench-10.csv`` beside the tree
    lists them (columns ``name, artist, url, is_public_domain, length, width, label, split,
    cifar_index``), so the metadata join is exercised. ``bad`` extra files are corrupt.
    DEMO DATA: not ArtBench-10.

    Returns:
        The ImageFolder root.
    """
    import pandas as pd

    from helpers import io

    import shutil

    rng = np.random.default_rng(seed)
    root = Path(out_dir)
    if root.exists() and any(root.iterdir()):
        if not (root / DEMO_MARKER).exists():
            raise FileExistsError(f"make_demo_corpus: {root} is not empty and not a demo corpus; refusing to overwrite")
        shutil.rmtree(root)  # a previous demo corpus: start clean so no stale files stay
    rows = []
    words = ["dawn", "harbour", "garden", "portrait", "river", "storm", "market", "bridge", "night", "field", "saint",
             "mountain", "lady", "still-life", "wave", "temple"]
    for j in range(n):
        s = j % len(STYLES)
        img = _demo_painting(rng, s, size)
        artist = f"demo-artist-{s}{'ab'[j // len(STYLES) % 2]}"
        title = "-".join(rng.choice(words, 2, replace=False))
        name = f"{artist}_{title}-{j}.jpg"
        sp = "test" if j % 5 == 4 else "train"
        folder = root / sp / STYLES[s] if split else root / STYLES[s]
        io.save_image(img, folder / name)
        rows.append({"name": name, "artist": artist, "url": f"https://example.invalid/{name}", "is_public_domain": True,
                     "length": size, "width": size, "label": STYLES[s], "split": sp, "cifar_index": j})
    for b in range(bad):
        folder = root / "train" / STYLES[b % 10] if split else root / STYLES[b % 10]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"corrupt_file-{b}.jpg").write_bytes(b"not a jpeg at all")
    io.save_table(pd.DataFrame(rows), root / METADATA_FILE)
    io.write_bytes(root / DEMO_MARKER, (DEMO_CORPUS_NOTE + "\n").encode())
    return root


def _demo_painting(rng, style: int, size: int) -> np.ndarray:
    """One procedural "painting": a style-specific palette, wave field, blobs and brush noise."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    srng = np.random.default_rng(1000 + style)
    palette = srng.uniform(0, 255, (4, 3))
    freq, angle = srng.uniform(2, 12), srng.uniform(0, np.pi)
    img = np.zeros((size, size, 3))
    t = np.cos(2 * np.pi * freq * (xx * np.cos(angle) + yy * np.sin(angle)) + rng.uniform(0, 6.3))
    for c in range(3):
        img[..., c] = palette[0, c] * (0.5 + 0.5 * t) + palette[1, c] * (0.5 - 0.5 * t)
    for _ in range(int(srng.integers(3, 12))):
        cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.3)
        mask = (xx - cx) ** 2 + (yy - cy) ** 2 < r * r
        img[mask] = palette[2 + int(rng.integers(0, 2))] + rng.normal(0, 10, 3)
    img += rng.normal(0, srng.uniform(2, 25), img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


# --- figures ---------------------------------------------------------------------------------

def _caption(row, width=28) -> str:
    import textwrap

    title = textwrap.shorten(str(row.get("title") or row.get("item")), width=width, placeholder="…")
    artist = str(row.get("artist") or "?").replace("-", " ").title()
    style = str(row.get("style") or "?").replace("_", " ")
    return f"{title}\n{textwrap.shorten(artist, width=width, placeholder='…')}\n{style} · cos {row['similarity']:.3f}"


def _thumb(load, size=160):
    from PIL import Image

    try:
        img = load()
    except (ValueError, OSError):
        return np.full((size, size, 3), 200, np.uint8)
    return np.asarray(Image.fromarray(img).resize((size, size), Image.BICUBIC))


def plot_nearest(results, queries, corpus, *, query_labels=None, notes=(), cell_size: float = 2.0):
    """Figure 4: each query image beside its nearest artwork (artist, title, style, similarity).

    Args:
        results: DataFrame from :func:`exact_search` / :meth:`Index.search`.
        queries: :class:`Corpus` of the query images (same order as the queries searched).
        corpus: :class:`Corpus` holding the artworks (``row`` in ``results``).
        query_labels: one label per query (default: its id).
        notes: lines for :func:`helpers.plots.label` (stand-in / demo warnings).

    Returns:
        matplotlib Figure (pairs laid out in up to 3 pair-columns).
    """
    import matplotlib.pyplot as plt

    from helpers import plots

    nq = len(queries)
    pairs = min(3, nq)
    nrows = math.ceil(nq / pairs)
    fig, axes = plt.subplots(nrows, 2 * pairs, figsize=(2 * pairs * cell_size, nrows * (cell_size + 0.75)), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for q in range(nq):
        r, c = divmod(q, pairs)
        name = queries.name(q)
        top = results[(results["query"] == name) & (results["rank"] == 1)]
        axq, axa = axes[r, 2 * c], axes[r, 2 * c + 1]
        axq.imshow(_thumb(lambda: queries.load(q)))
        axq.set_title(query_labels[q] if query_labels is not None else Path(name).stem, fontsize=7)
        if len(top):
            row = top.iloc[0]
            axa.imshow(_thumb(lambda: corpus.load(int(row["row"]))))
            axa.set_title(_caption(row), fontsize=6.5)
    fig.suptitle("Generated image → nearest artwork by Gram-matrix cosine (ResNet-152 layer3)", fontsize=9)
    fig.tight_layout()
    plots.label(fig, *notes)
    return fig


def plot_topk_strip(results, queries, corpus, *, k: int = 5, query_labels=None, notes=(), cell_size: float = 1.6):
    """One row per query: the query image, then its top-``k`` artworks with captions.

    Returns:
        matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    from helpers import plots

    nq = len(queries)
    fig, axes = plt.subplots(nq, k + 1, figsize=((k + 1) * cell_size, nq * (cell_size + 0.7)), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for q in range(nq):
        name = queries.name(q)
        axes[q, 0].imshow(_thumb(lambda: queries.load(q), 112))
        axes[q, 0].set_title(query_labels[q] if query_labels is not None else Path(name).stem, fontsize=6.5, color="#1f3f8f")
        res = results[results["query"] == name].sort_values("rank")
        for j, (_, row) in enumerate(res.head(k).iterrows(), 1):
            axes[q, j].imshow(_thumb(lambda: corpus.load(int(row["row"])), 112))
            axes[q, j].set_title(f"#{j} " + _caption(row, width=22), fontsize=5.5)
    fig.suptitle(f"Top-{k} nearest artworks per generated image (Gram cosine)", fontsize=9)
    fig.tight_layout()
    plots.label(fig, *notes)
    return fig

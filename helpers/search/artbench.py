"""ArtBench-10 on disk: its distributions, its metadata CSV, downloads, and a demo stand-in.

ArtBench-10 (Liao et al. 2022, github.com/liaopeiyuan/artbench) holds 60,000 artworks, 10 styles x
(5,000 train + 1,000 test). Facts below come from that repository at commit
57fbb923e35409c26cb3e3827ade81b78bc259a4 (``README.md`` and ``artbench.py``) unless stated otherwise:

* **Download URLs** (README, "Accessing Dataset"): the metadata CSV, the 32x32 CIFAR-python and
  CIFAR-binary archives, and the 256x256 ImageFolder trees without and with a train/test split.
* **CIFAR-python** (``artbench.py``: ``class ArtBench10(CIFAR10)``): archive
  ``artbench-10-python.tar.gz`` (md5 ``9df1e998ee026aae36ec60ca7b44960e``) extracting to
  ``artbench-10-batches-py/`` with pickles ``data_batch_1`` .. ``data_batch_5`` and ``test_batch``
  and a ``meta`` pickle whose key ``styles`` lists the class names. The loader is torchvision's
  ``CIFAR10``, which reads only ``data`` (N x 3072 uint8, channel planes R, G, B of 32x32) and
  ``labels`` from each batch, concatenating the train batches in the order above. A batch need not
  hold ``filenames``.
* **The CSV's columns** are not listed in the repository. Public loaders of the real file agree on
  ``name, artist, url, is_public_domain, length, width, label, split, cifar_index`` (one of them checks
  that exact set), with ``label`` the style name, ``split`` ``train``/``test`` and ``cifar_index``
  the position within that split's concatenated CIFAR batches (train 0..49,999: batch
  ``cifar_index // 10,000``; test 0..9,999). So CIFAR items join the CSV on ``(split, cifar_index)``;
  ImageFolder items join on the file name (``name``). There is no title column: the title is read
  from the file name (``<artist>_<title-words>.jpg``).
* **CIFAR-binary**: the README links ``artbench-10-binary.tar.gz`` but does not describe it. It
  follows the CIFAR-10 binary format (Krizhevsky's CIFAR page; the same public loaders read it so):
  ``artbench-10-batches-bin/data_batch_{1..5}.bin`` and ``test_batch.bin``, 10,000 records of 3,073
  bytes (one label byte, then 3,072 pixel bytes as in the python pickles), and ``batches.meta.txt``
  with one class name per line.
* **ImageFolder trees**: ``<root>/{train,test}/<style>/<name>.jpg`` (split) or ``<root>/<style>/<name>.jpg``.
  The repository does not name the folders inside the two ``.tar`` files; :func:`download_artbench`
  uses whatever single top-level folder the archive holds (public code calls them
  ``artbench-10-imagefolder-split`` and ``artbench-10-imagefolder``).

Unreadable images are skipped later with a warning naming the file (``helpers.search.gram.iter_encoded``).
"""
from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import download, io, paths, sources

# Class order of meta['styles'] (used only when an archive lacks its meta file; the archive's own list wins)
STYLES = ("art_nouveau", "baroque", "expressionism", "impressionism", "post_impressionism", "realism",
          "renaissance", "romanticism", "surrealism", "ukiyo_e")
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
METADATA_FILE = "ArtBench-10.csv"
# The CSV's columns, in order (see the module docstring for where this comes from)
CSV_COLUMNS = ("name", "artist", "url", "is_public_domain", "length", "width", "label", "split", "cifar_index")
CIFAR_PYTHON_FOLDER = "artbench-10-batches-py"  # artbench.py: ArtBench10.base_folder
CIFAR_BINARY_FOLDER = "artbench-10-batches-bin"  # public loaders of the real archive (not named in the repo)
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))  # artbench.py: train_list, in this order
TEST_BATCH = "test_batch"
BINARY_META = "batches.meta.txt"
RECORD_BYTES = 1 + 3 * 32 * 32  # CIFAR binary: label byte + R, G, B planes
PER_BATCH = 10_000
META_COLUMNS = ("artist", "title", "style", "split")
DEMO_MARKER = "DEMO-NOT-ARTBENCH.txt"
DEMO_CORPUS_NOTE = "DEMO CORPUS: procedurally generated 'paintings' with fake metadata, not ArtBench-10"


# --- corpora ------------------------------------------------------------------------------

@dataclass
class Corpus:
    """A list of artworks: a table (one row per item) plus where its pixels come from.

    ``items`` has at least ``item`` (unique id), ``path`` (file or ``None``), ``artist``,
    ``title``, ``style`` and ``split`` (``None`` where unknown). CIFAR corpora keep their pixels
    in ``arrays`` (uint8 N x 32 x 32 x 3), ``path`` is ``None`` and ``row`` indexes ``arrays``;
    their ids are ``<split>/<cifar_index>`` (5 digits).

    Used in: notebook 07 through :func:`helpers.search.artbench.read_corpus`.
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


def _cifar_layout(path: Path) -> "tuple[str, Path] | None":
    """('cifar-python' | 'cifar-binary', folder or archive) when ``path`` holds a CIFAR distribution."""
    if path.is_file() and path.name.endswith((".tar.gz", ".tgz", ".tar")):
        with tarfile.open(path) as tar:
            names = {Path(m.name).name for m in tar.getmembers() if m.isfile()}
        if {f"{b}.bin" for b in (*TRAIN_BATCHES, TEST_BATCH)} & names:
            return "cifar-binary", path
        if set(TRAIN_BATCHES + (TEST_BATCH,)) & names:
            return "cifar-python", path
        return None
    if not path.is_dir():
        return None
    for folder in (path, path / CIFAR_PYTHON_FOLDER, path / CIFAR_BINARY_FOLDER):
        if any((folder / f"{b}.bin").is_file() for b in (*TRAIN_BATCHES, TEST_BATCH)):
            return "cifar-binary", folder
        if any((folder / b).is_file() for b in (*TRAIN_BATCHES, TEST_BATCH)):
            return "cifar-python", folder
    return None


def read_corpus(path, *, metadata="auto") -> Corpus:
    """Read a corpus of artworks (or any images) from ``path``.

    Recognised layouts (see the module docstring for their sources):
      * ArtBench-10 ImageFolder with split: ``path/{train,test}/<style>/<file>.jpg``;
      * ArtBench-10 ImageFolder without split: ``path/<style>/<file>.jpg``;
      * CIFAR-python: ``artbench-10-python.tar.gz`` or a folder holding ``data_batch_1..5`` /
        ``test_batch`` pickles (``data``, ``labels``, optionally ``filenames``) and ``meta``
        (``styles``), or the folder above ``artbench-10-batches-py``;
      * CIFAR-binary: ``artbench-10-binary.tar.gz`` or a folder holding ``data_batch_1..5.bin`` /
        ``test_batch.bin`` and ``batches.meta.txt`` (or the folder above ``artbench-10-batches-bin``);
      * any other folder: every image file below it (item id = path relative to ``path``).

    Args:
        path: folder or archive.
        metadata: ``"auto"`` (look for ``ArtBench-10.csv`` beside ``path``, in its parent and
            grandparent, and in :func:`helpers.paths.data`), a CSV path, or ``None``.

    Returns:
        :class:`Corpus`, items sorted by id. Metadata is joined on ``(split, cifar_index)`` for
        CIFAR items and on the file name otherwise.

    Raises:
        FileNotFoundError: ``path`` does not exist or holds no images.
        ValueError: a batch file is not in the expected format (the message names it), or the
            CSV's style disagrees with the archive's label for the same ``(split, cifar_index)``.

    Used in: notebook 07 (Figure 4, p2-fig04-top5.png, p2-nearest-key-numbers.json, p2-nearest-paintings.csv).
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"corpus {path} does not exist (see artbench.download_artbench or README)")
    layout = _cifar_layout(path)
    if layout is not None:
        kind, where = layout
        reader = _read_cifar_python if kind == "cifar-python" else _read_cifar_binary
        items, arrays = reader(where)
        corpus = Corpus(items, arrays=arrays, root=str(where), kind=kind)
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
        raise FileNotFoundError(f"corpus {path}: expected a folder of images or an ArtBench CIFAR archive")
    base = Path(corpus.root) if Path(corpus.root).is_dir() else Path(corpus.root).parent
    corpus.demo = any((d / DEMO_MARKER).exists() for d in (base, base.parent, path if path.is_dir() else path.parent))
    csv = _find_metadata(base, metadata)
    corpus.items = _join_metadata(corpus.items, read_metadata(csv) if csv else None, csv)
    corpus.items = corpus.items.sort_values("item", kind="stable").reset_index(drop=True)
    return corpus


def subset(corpus: Corpus, *, n_per_style: int, split: str | None = None) -> Corpus:
    """A fixed subset: the first ``n_per_style`` items of each style (in id order), optionally one split.

    For CIFAR corpora "first" means the lowest ``cifar_index``, so the subset is the same on every
    machine. Pixels stay shared with ``corpus``.

    Raises:
        ValueError: the corpus has no styles, or ``split`` is not one of its splits.

    Used in: notebook 07 (Figure 4, p2-fig04-top5.png, p2-nearest-key-numbers.json, p2-nearest-paintings.csv).
    """
    items = corpus.items
    if items["style"].isna().all():
        raise ValueError("subset: the corpus has no style labels to balance over")
    if split is not None:
        if split not in set(items["split"].dropna()):
            raise ValueError(f"subset: split {split!r} not in the corpus (has {sorted(set(items['split'].dropna()))})")
        items = items[items["split"] == split]
    picked = items.groupby("style", sort=True, group_keys=False).head(int(n_per_style))
    return Corpus(picked.reset_index(drop=True), arrays=corpus.arrays, root=corpus.root, kind=corpus.kind,
                  demo=corpus.demo)


def _find_metadata(base: Path, metadata):
    if metadata is None:
        return None
    if metadata != "auto":
        if not Path(metadata).exists():
            raise FileNotFoundError(f"metadata file {metadata} does not exist")
        return Path(metadata)
    for cand in (base / METADATA_FILE, base.parent / METADATA_FILE, base.parent.parent / METADATA_FILE,
                 paths.data(create=False) / METADATA_FILE):
        if cand.exists():
            return cand
    return None


def read_metadata(csv) -> "object":
    """Read ``ArtBench-10.csv`` into a DataFrame with the columns the corpora use.

    Keeps the file's columns (:data:`CSV_COLUMNS`), adds ``style`` (= ``label``), ``title``
    (from the file name ``<artist>_<title-words>.jpg``) and ``key`` (file name without
    extension, lower case). ``cifar_index`` becomes an integer.

    Raises:
        ValueError: the file lacks ``name`` or ``label`` (naming the file and its columns), or a
            ``cifar_index`` is not an integer (naming the row).

    Used in: notebook 07 through :func:`helpers.search.artbench.read_corpus`.
    """
    df = pd.read_csv(csv)
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in ("name", "label") if c not in df.columns]
    if missing:
        raise ValueError(f"{csv}: not an ArtBench-10 metadata file: missing column(s) {missing}; expected "
                         f"{list(CSV_COLUMNS)}, found {list(df.columns)}")
    out = df.copy()
    out["style"] = out["label"]
    if "cifar_index" in out:
        idx = pd.to_numeric(out["cifar_index"], errors="coerce")
        bad = idx.isna() & out["cifar_index"].notna()
        if bad.any():
            r = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(f"{csv}: row {r + 2}: cifar_index {out['cifar_index'].iat[r]!r} is not an integer")
        out["cifar_index"] = idx.astype("Int64")
    out["key"] = out["name"].astype(str).map(_key)
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
    if isinstance(artist, str) and stem.startswith(f"{artist}_"):
        stem = stem[len(artist) + 1:]
    elif "_" in stem:
        stem = stem.split("_", 1)[1]
    return stem.replace("-", " ").strip().capitalize()


_JOINED = ("name", "artist", "title", "style", "split", "url", "is_public_domain", "length", "width")


def _join_metadata(items, meta, csv=None):
    items = items.copy()
    if meta is not None:
        by_index = "cifar_index" in items and {"split", "cifar_index"} <= set(meta.columns)
        if by_index:
            keys = ["split", "cifar_index"]
            right = meta.dropna(subset=keys).drop_duplicates(keys)
            right = right.astype({"cifar_index": "int64"})
        else:
            items["key"] = items["file"].map(_key)
            keys = ["key"]
            right = meta.drop_duplicates("key")
        cols = [c for c in _JOINED if c in right and c not in keys]
        right = right[[*keys, *cols]].rename(columns={c: f"{c}_meta" for c in cols})
        items = items.merge(right, on=keys, how="left")
        if by_index and "style" in items and "style_meta" in items:
            both = items["style_meta"].notna() & items["style"].notna()
            clash = both & (items["style_meta"] != items["style"])
            if clash.any():
                r = items[clash].iloc[0]
                raise ValueError(f"{csv}: label {r['style_meta']!r} for ({r['split']}, cifar_index {r['cifar_index']}) "
                                 f"but the archive labels that image {r['style']!r} ({int(clash.sum())} such rows): "
                                 "the CSV belongs to another archive")
        for c in cols:
            if c in items:
                items[c] = items[f"{c}_meta"].where(items[f"{c}_meta"].notna(), items[c])
            else:
                items[c] = items[f"{c}_meta"]
            items = items.drop(columns=f"{c}_meta")
        items = items.drop(columns=[c for c in ("key",) if c in items])
    for c in META_COLUMNS:
        if c not in items:
            items[c] = None
    if items["title"].isna().all() and items.get("file") is not None and items["file"].notna().any():
        items["title"] = items["file"].map(lambda f: _title_from_name(f) if isinstance(f, str) else None)
    return items.astype({"item": str})


# --- CIFAR-python and CIFAR-binary ----------------------------------------------------------

def _str_keys(obj, where) -> dict:
    if not isinstance(obj, dict):
        raise ValueError(f"{where}: not a CIFAR-python batch (a pickled dict was expected, got {type(obj).__name__})")
    return {(k.decode() if isinstance(k, bytes) else k): v for k, v in obj.items()}


def _unpickle(fh, where):
    """A CIFAR-python pickle read by :func:`helpers.io.load_numpy_pickle`: arrays, dtypes and containers only, no code."""
    try:
        return _str_keys(io.load_numpy_pickle(fh, encoding="bytes"), where)
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise ValueError(f"{where}: not a CIFAR-python pickle ({exc})") from exc


def _decode(s):
    return s.decode() if isinstance(s, bytes) else str(s)


def _cifar_table(batches: dict, styles, root: str):
    """batches {name: (data N x 3072 uint8, labels, filenames or None)} -> (items, arrays N x 32 x 32 x 3)."""
    styles = [_decode(s) for s in styles]
    rows, arrays, offsets = [], [], {"train": 0, "test": 0}
    order = [b for b in (*TRAIN_BATCHES, TEST_BATCH) if b in batches]
    if not order:
        raise FileNotFoundError(f"{root}: no data_batch_1..5 or test_batch in this CIFAR archive")
    total = 0
    for bname in order:
        data, labels, names = batches[bname]
        if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
            raise ValueError(f"{root}/{bname}: expected data N x 3072 and N labels, got data {data.shape} and "
                             f"{len(labels)} labels")
        split = "test" if bname == TEST_BATCH else "train"
        for i, lab in enumerate(labels):
            lab = int(lab)
            if not 0 <= lab < len(styles):
                raise ValueError(f"{root}/{bname}: label {lab} of image {i} is outside the {len(styles)} styles")
            ci = offsets[split] + i
            rows.append({"item": f"{split}/{ci:05d}", "path": None, "file": _decode(names[i]) if names is not None else None,
                         "row": total + i, "style": styles[lab], "split": split, "cifar_index": ci, "batch": bname})
        offsets[split] += len(labels)
        total += len(labels)
        arrays.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return pd.DataFrame(rows), np.ascontiguousarray(np.concatenate(arrays))


def _python_batch(obj, where):
    if "data" not in obj or ("labels" not in obj and "fine_labels" not in obj):
        raise ValueError(f"{where}: not a CIFAR-python batch: keys {sorted(obj)}; expected 'data' and 'labels'")
    data = np.asarray(obj["data"], dtype=np.uint8)
    labels = list(obj.get("labels", obj.get("fine_labels")))
    names = obj.get("filenames")
    return data, labels, (list(names) if names is not None else None)


def _read_cifar_python(where: Path):
    batches, meta = {}, None
    if where.is_file():
        with tarfile.open(where) as tar:
            for m in tar.getmembers():
                name = Path(m.name).name
                if m.isfile() and name in (*TRAIN_BATCHES, TEST_BATCH, "meta"):
                    obj = _unpickle(tar.extractfile(m), f"{where}:{m.name}")
                    if name == "meta":
                        meta = obj
                    else:
                        batches[name] = _python_batch(obj, f"{where}:{m.name}")
    else:
        for name in (*TRAIN_BATCHES, TEST_BATCH):
            if (where / name).is_file():
                with open(where / name, "rb") as fh:
                    batches[name] = _python_batch(_unpickle(fh, where / name), where / name)
        if (where / "meta").is_file():
            with open(where / "meta", "rb") as fh:
                meta = _unpickle(fh, where / "meta")
    if meta is not None and "styles" not in meta:
        raise ValueError(f"{where}: meta pickle has keys {sorted(meta)}; ArtBench-10's has 'styles'")
    return _cifar_table(batches, meta["styles"] if meta is not None else STYLES, str(where))


def _binary_batch(raw: bytes, where):
    if len(raw) % RECORD_BYTES:
        raise ValueError(f"{where}: {len(raw)} bytes is not a whole number of {RECORD_BYTES}-byte CIFAR records")
    rec = np.frombuffer(raw, dtype=np.uint8).reshape(-1, RECORD_BYTES)
    return np.ascontiguousarray(rec[:, 1:]), rec[:, 0].astype(int).tolist(), None


def _read_cifar_binary(where: Path):
    batches, styles = {}, None
    wanted = {f"{b}.bin": b for b in (*TRAIN_BATCHES, TEST_BATCH)}
    if where.is_file():
        with tarfile.open(where) as tar:
            for m in tar.getmembers():
                name = Path(m.name).name
                if m.isfile() and name in wanted:
                    batches[wanted[name]] = _binary_batch(tar.extractfile(m).read(), f"{where}:{m.name}")
                elif m.isfile() and name == BINARY_META:
                    styles = tar.extractfile(m).read().decode().split()
    else:
        for fname, b in wanted.items():
            if (where / fname).is_file():
                batches[b] = _binary_batch((where / fname).read_bytes(), where / fname)
        if (where / BINARY_META).is_file():
            styles = (where / BINARY_META).read_text().split()
    return _cifar_table(batches, styles or STYLES, str(where))


# --- download ----------------------------------------------------------------------------------

def download_artbench(dest=None, *, what=("imagefolder-split", "metadata"), extract: bool = True,
                      progress: bool = True) -> dict:
    """Fetch ArtBench-10 files from the locations its README gives into ``dest`` (default ``paths.data()``).

    Downloads resume (HTTP Range). The CIFAR-python archive is checked against the md5 the
    dataset's own loader publishes; the other files have no published hash, so their sha256 is
    recorded at first download and verified after. Archives are extracted beside themselves once.

    Args:
        dest: target folder.
        what: any of ``"imagefolder-split"`` (256x256, train/test, the README's recommendation),
            ``"imagefolder"``, ``"cifar-python"`` and ``"cifar-binary"`` (32x32),
            ``"metadata"`` (``ArtBench-10.csv``).
        extract: untar the ImageFolder archives (CIFAR archives are read as they are).
        progress: progress bars.

    Returns:
        dict ``what -> Path`` of the extracted folder, the archive or the CSV.

    Raises:
        ValueError: an unknown item.
        helpers.download.ChecksumError: the CIFAR-python archive does not match the published md5.

    Used in: notebook 07 through :func:`helpers.search.artbench.locate_corpus`.
    """
    dest = Path(dest) if dest else paths.data()
    out = {}
    for w in what:
        if w not in sources.ARTBENCH_URLS:
            raise ValueError(f"download_artbench: unknown item {w!r}; expected one of {sorted(sources.ARTBENCH_URLS)}")
        url = sources.ARTBENCH_URLS[w]
        f = dest / url.rsplit("/", 1)[1]
        if f.exists():
            download.verify(f, progress=progress)
        else:
            download.download(url, f, progress=progress)
        if f.name in sources.CIFAR_PYTHON_MD5 and download.md5sum(f) != sources.CIFAR_PYTHON_MD5[f.name]:
            raise download.ChecksumError(f"{f}: md5 {download.md5sum(f)} but ArtBench-10's loader publishes "
                                         f"{sources.CIFAR_PYTHON_MD5[f.name]}; delete the file and download it again")
        if w in ("metadata", "cifar-python", "cifar-binary") or not extract:
            out[w] = f
            continue
        out[w] = _extract_once(f, dest)
    return out


def _extract_once(archive: Path, dest: Path) -> Path:
    """Untar ``archive`` into ``dest`` once; returns its single top-level folder (recorded beside it)."""
    done = dest / f"{archive.name}.folder"
    if done.exists() and (dest / done.read_text().strip()).is_dir():
        return dest / done.read_text().strip()
    tmp = dest / f".{archive.name}.extracting"
    shutil.rmtree(tmp, ignore_errors=True)
    with tarfile.open(archive) as tar:
        tar.extractall(tmp, filter="data")
    tops = [p for p in tmp.iterdir()]
    inner = tops[0] if len(tops) == 1 and tops[0].is_dir() else tmp
    name = inner.name if inner is not tmp else archive.name.split(".")[0]
    os.replace(inner, dest / name)
    shutil.rmtree(tmp, ignore_errors=True)
    done.write_text(name + "\n")
    return dest / name


def default_corpus_path(layout: str = "imagefolder-split") -> Path:
    """Where a profile expects ArtBench-10 under ``paths.data()``: the extracted folder or the CIFAR archive.

    Used in: notebook 07 through :func:`helpers.search.artbench.locate_corpus`.
    """
    data = paths.data(create=False)
    if layout in ("cifar-python", "cifar-binary"):
        return data / sources.ARTBENCH_URLS[layout].rsplit("/", 1)[1]
    done = data / f"{sources.ARTBENCH_URLS[layout].rsplit('/', 1)[1]}.folder"
    return data / (done.read_text().strip() if done.exists() else f"artbench-10-{layout}")


def locate_corpus(path=None, *, layout: str = "imagefolder-split", download: bool = False,
                  progress: bool = True) -> Path:
    """The corpus to search: ``path``, else ArtBench-10's ``layout`` under ``paths.data()``.

    With ``download=True`` a missing default corpus (and ``ArtBench-10.csv``) is fetched by
    :func:`download_artbench`.

    Raises:
        FileNotFoundError: the corpus is missing; the message says where to put it by hand.

    Used in: notebook 07 (Figure 4, p2-fig04-top5.png, p2-nearest-key-numbers.json, p2-nearest-paintings.csv).
    """
    if layout not in sources.ARTBENCH_URLS or layout == "metadata":
        raise ValueError(f"locate_corpus: layout must be one of {sorted(set(sources.ARTBENCH_URLS) - {'metadata'})}, got {layout!r}")
    target = Path(path).expanduser() if path else default_corpus_path(layout)
    if target.exists():
        return target
    if download and not path:
        return download_artbench(what=(layout, "metadata"), progress=progress)[layout]
    extracted = "" if layout.startswith("cifar") else ", untar it there"
    raise FileNotFoundError(
        f"corpus {target} not found. For ArtBench-10 download {sources.ARTBENCH_URLS[layout]} and {sources.ARTBENCH_URLS['metadata']} "
        f"into {paths.data(create=False)}{extracted}, and keep {METADATA_FILE} beside it; or set CORPUS to any "
        "folder of images, or call artbench.download_artbench().")


# --- demo corpus (smoke profile, tests, rehearsal stand-in pixels) ---------------------------

_WORDS = ["dawn", "harbour", "garden", "portrait", "river", "storm", "market", "bridge", "night", "field", "saint",
          "mountain", "lady", "still-life", "wave", "temple"]


def demo_row(j: int, style: int, rng, *, size: int, split: str, cifar_index: int) -> dict:
    """One fake ``ArtBench-10.csv`` row (the real columns, values clearly fake: example.invalid URLs).

    Used in: notebook 07 through :func:`helpers.search.artbench.make_demo_corpus`.
    """
    artist = f"demo-artist-{style}{'ab'[j // len(STYLES) % 2]}"
    title = "-".join(rng.choice(_WORDS, 2, replace=False))
    name = f"{artist}_{title}-{j}.jpg"
    return {"name": name, "artist": artist, "url": f"https://example.invalid/demo/{name}", "is_public_domain": True,
            "length": size, "width": size, "label": STYLES[style], "split": split, "cifar_index": cifar_index}


def make_demo_corpus(out_dir, *, n: int = 40, size: int = 96, seed: int = 0, bad: int = 0, split: bool = True) -> Path:
    """Write ``n`` procedurally generated "paintings" as an ArtBench-style ImageFolder + fake CSV.

    Each style has its own palette and stroke statistics (so Gram similarity has structure to
    find); files are named ``artist_title-words.jpg`` and ``ArtBench-10.csv`` beside the tree
    lists them with the real columns (:data:`CSV_COLUMNS`), so the metadata join is exercised.
    ``bad`` extra files are corrupt. DEMO DATA: not ArtBench-10.

    Returns:
        The ImageFolder root.

    Used in: notebook 07 (Figure 4, p2-fig04-top5.png, p2-nearest-key-numbers.json, p2-nearest-paintings.csv).
    """
    rng = np.random.default_rng(seed)
    root = Path(out_dir)
    _clear_demo(root)
    rows, counts = [], {"train": 0, "test": 0}
    for j in range(n):
        s = j % len(STYLES)
        img = demo_painting(rng, s, size)
        sp = "test" if j % 5 == 4 else "train"
        row = demo_row(j, s, rng, size=size, split=sp, cifar_index=counts[sp])
        counts[sp] += 1
        folder = root / sp / STYLES[s] if split else root / STYLES[s]
        io.save_image(img, folder / row["name"])
        rows.append(row)
    for b in range(bad):
        folder = root / "train" / STYLES[b % 10] if split else root / STYLES[b % 10]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"corrupt_file-{b}.jpg").write_bytes(b"not a jpeg at all")
    io.save_table(pd.DataFrame(rows, columns=list(CSV_COLUMNS)), root / METADATA_FILE)
    io.write_bytes(root / DEMO_MARKER, (DEMO_CORPUS_NOTE + "\n").encode())
    return root


def _clear_demo(root: Path):
    if root.exists() and any(root.iterdir()):
        if not (root / DEMO_MARKER).exists():
            raise FileExistsError(f"{root} is not empty and holds no {DEMO_MARKER}; refusing to overwrite it")
        shutil.rmtree(root)  # a previous demo corpus: start clean so no stale files stay


def demo_painting(rng, style: int, size: int) -> np.ndarray:
    """One procedural "painting" (uint8 size x size x 3): a style-specific palette, wave field, blobs, brush noise.

    Used in: notebook 07 through :func:`helpers.search.artbench.make_demo_corpus`.
    """
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


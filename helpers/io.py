"""Atomic file writes, small result files, robust image reading, and the one safe reader of NumPy pickles.

Every writer goes through :func:`atomic_path`: the data are written to a temporary file in
the destination folder and renamed into place, so an interrupted job never leaves a
half-written file behind. :func:`load_numpy_pickle` reads the pickles of published data (CIFAR-python
batches, the Aesthetics Toolbox's filters) without running any code they might carry.
"""
from __future__ import annotations

import codecs
import contextlib
import fcntl
import json
import math
import os
import pickle
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError


@contextlib.contextmanager
def atomic_path(path, *, suffix: str | None = None):
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The temporary file keeps ``path``'s suffix (or ``suffix``) so libraries that pick a
    format from the extension still work. The result gets the permissions of a file made by
    ``open()`` (0666 minus the user's umask, 0644 typically), so colleagues on a shared
    server can read it. On an exception the temporary file is removed
    and ``path`` is left untouched.

    Used in: notebook 00 (setup-check.json) through :func:`helpers.io.save_json`; notebooks 01
        (p1-dream-contact-sheet.png, p1-dream-octaves.png), 03, 04, 05 and 06 through
        :func:`helpers.figures.base.save`; notebooks 02 and 08 through :func:`helpers.measures.table.table`;
        notebook 07 through :func:`helpers.search.artbench.make_demo_corpus`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=suffix or path.suffix + ".part")
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        if tmp.exists():  # mkstemp makes 0600 files; give the result the mode open() would (0666 minus the umask)
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def exclusive(path):
    """Hold an exclusive lock on ``<path>.lock`` (POSIX ``flock``) for the duration of the ``with`` block.

    For work that several processes may start at once on the same output (e.g. converting one weights file into
    one cache file): the second waits, then finds the first one's result.

    Used in: notebook 01 through :func:`helpers.nets.graphdef.from_file` (the converted-graph cache).
    """
    lock = Path(f"{path}.lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _umask() -> int:
    """The process's current umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically.

    Used in: notebooks 00 (setup-check.json), 03 (p1-key-numbers.json), 04 (p1-key-numbers.json) and 08
        (key-numbers.json) through :func:`helpers.io.save_json`; notebook 01 (p1-dream-contact-sheet.png) through
        :func:`helpers.synthesis.dream_jobs.synthesize`; notebook 07 through
        :func:`helpers.search.index.build_index`.
    """
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def save_json(obj, path) -> Path:
    """Write ``obj`` as indented JSON atomically (NumPy scalars and arrays become plain JSON).

    Used in: notebook 00 (setup-check.json); notebook 01 (p1-dream-contact-sheet.png) through
        :func:`helpers.synthesis.dream_jobs.synthesize`; notebook 03 (p1-key-numbers.json); notebook 04
        (p1-key-numbers.json); notebook 07 (p2-nearest-key-numbers.json); notebook 08 (key-numbers.json).
    """
    text = json.dumps(obj, indent=2, sort_keys=True, default=_json_default)
    return write_bytes(path, (text + "\n").encode())


def load_json(path):
    """Read a JSON file.

    Used in: notebook 01 (p1-dream-contact-sheet.png) through :func:`helpers.synthesis.dream_jobs.synthesize`;
        notebook 04 (p1-key-numbers.json); notebook 07 through :func:`helpers.search.index.build_index`.
    """
    return json.loads(Path(path).read_text())


def strict_json(obj):
    """``obj`` with every NaN or infinite float replaced by None, recursively, so the JSON is strict (key-number files).

    Used in: notebook 03 (p1-expected-vs-paper.csv, p1-key-numbers.json) through
        :func:`helpers.study.stats.key_numbers`; notebook 04 through
        :func:`helpers.study.effects.layer_key_numbers`.
    """
    if isinstance(obj, dict):
        return {k: strict_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def rounded(obj, digits: int = 3):
    """A copy of a JSON-like object (dicts, lists, numbers) with every float rounded to ``digits`` significant digits.

    For showing key numbers in a notebook; the saved file keeps every digit. Integers, strings, booleans and
    ``None`` pass unchanged; NumPy scalars count as the Python numbers they hold.

    Used in: notebook 03 (p1-key-numbers.json).
    """
    if isinstance(obj, dict):
        return {k: rounded(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(rounded(v, digits) for v in obj)
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and math.isfinite(obj) and obj != 0:
        return round(obj, max(0, digits - 1 - int(math.floor(math.log10(abs(obj))))))
    return obj


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def save_table(df, path, *, index: bool = False) -> Path:
    """Write a DataFrame atomically; the format follows the suffix (``.csv`` or ``.parquet``).

    Used in: notebook 01 (p1-dream-contact-sheet.png) through :func:`helpers.synthesis.dream_jobs.synthesize`;
        notebook 02 (features.parquet, p1-feature-separation.csv); notebook 03 (Table 1, p1-anova.csv,
        p1-expected-vs-paper.csv, p1-mixed-model.csv, p1-regression.csv); notebook 04 (Figure 10,
        p1-group-tests.csv, p1-joint-density.csv, p1-layer-effect-sizes.csv, 2 more outputs); notebook 05 (Figure
        1, p2-biggan-features.parquet, p2-distances.csv, p2-spectra-edges.csv); notebook 07
        (p2-nearest-paintings.csv); notebook 08 (study/correction-sensitivity.csv, study/effect-sizes.csv,
        study/group-tests.csv, study/mixed-model.csv, 2 more outputs).
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        if path.suffix == ".csv":
            df.to_csv(tmp, index=index)
        elif path.suffix == ".parquet":
            df.to_parquet(tmp, index=index)
        else:
            raise ValueError(f"save_table: unsupported suffix {path.suffix!r} for {path} (use .csv or .parquet)")
    return path


def load_table(path):
    """Read a ``.csv`` or ``.parquet`` table into a DataFrame.

    Used in: notebook 02 through :func:`helpers.measures.table.stimuli`; notebook 03 (Figure 6, Figure 7, Figure
        8, Figure 9, 7 more outputs); notebook 04 (Figure 12, Figure 13, Supplementary S2, Supplementary S3, 3
        more outputs); notebook 05 (p2-biggan-features.parquet); notebook 08 (key-numbers.json,
        study-effect-sizes.png, study/correction-sensitivity.csv, study/effect-sizes.csv, 4 more outputs).
    """
    path = Path(path)
    if path.suffix == ".csv":
        return pd.read_csv(path)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    raise ValueError(f"load_table: unsupported suffix {path.suffix!r} for {path} (use .csv or .parquet)")


def save_image(img, path) -> Path:
    """Save ``img`` (uint8 HxWx3) atomically; the format follows the suffix (PNG by default).

    Used in: notebook 01 (p1-dream-contact-sheet.png) through :func:`helpers.synthesis.dream_jobs.synthesize`;
        notebook 05 through :func:`helpers.synthesis.biggan_gallery.save_gallery_images`; notebook 07 through
        :func:`helpers.search.artbench.make_demo_corpus`.
    """
    img = np.asarray(img)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"save_image: expected uint8 HxWx3, got {img.dtype} {img.shape} for {path}")
    path = Path(path)
    with atomic_path(path) as tmp:
        Image.fromarray(img).save(tmp, format=(path.suffix.lstrip(".") or "png").upper().replace("JPG", "JPEG"))
    return path


class ImageReadError(ValueError):
    """An image file could not be read as RGB; the message names the file and why.

    Used in: notebook 01 (p1-dream-contact-sheet.png) through :func:`helpers.figures.paper1.contact_sheet`;
        notebooks 02 and 08 through :func:`helpers.measures.table.table`; notebook 04 through
        :func:`helpers.figures.paper1.load_layer_images`; notebook 05 (Supplementary A4 / S6,
        p2-spectra-edges.csv) through :func:`helpers.measures.spectra.spectra_edges`; notebook 07 through
        :func:`helpers.search.artbench.read_corpus`.
    """


def read_image(path_or_array, *, min_size: int = 8) -> np.ndarray:
    """Read an image as uint8 HxWx3 RGB.

    Grayscale is replicated to three channels, RGBA/LA are composited on white,
    16-bit images are scaled to 8 bit, palette images are converted. Arrays pass through
    the same normalisation.

    Raises:
        ImageReadError: unreadable or truncated file, or smaller than ``min_size`` pixels
            on a side; the message names the file.

    Used in: notebook 01 (p1-dream-contact-sheet.png) through :func:`helpers.figures.paper1.contact_sheet`;
        notebooks 02 and 08 through :func:`helpers.measures.table.table`; notebook 04 through
        :func:`helpers.figures.paper1.load_layer_images`; notebook 05 (Supplementary A4 / S6,
        p2-spectra-edges.csv) through :func:`helpers.measures.spectra.spectra_edges`; notebook 07 through
        :func:`helpers.search.artbench.read_corpus`.
    """
    name = "<array>" if isinstance(path_or_array, np.ndarray) else str(path_or_array)
    if isinstance(path_or_array, np.ndarray):
        arr = path_or_array
    else:
        try:
            with Image.open(path_or_array) as im:
                im.load()
                if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
                    im = im.convert("RGBA")
                    bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
                    im = Image.alpha_composite(bg, im).convert("RGB")
                elif im.mode in ("I;16", "I;16B", "I;16L", "I"):
                    a = np.asarray(im, dtype=np.float64)
                    hi = 65535.0 if a.max() > 255 else 255.0
                    im = Image.fromarray(np.clip(np.round(a / hi * 255), 0, 255).astype(np.uint8))
                arr = np.asarray(im.convert("RGB") if im.mode != "RGB" else im)
        except (OSError, UnidentifiedImageError, SyntaxError) as exc:
            raise ImageReadError(f"{name}: cannot be read as an image ({exc})") from exc
    arr = np.asarray(arr)
    if arr.dtype == np.uint16:
        arr = np.round(arr / 257.0).astype(np.uint8)
    elif arr.dtype.kind == "f":
        scale = 255.0 if arr.max(initial=0) <= 1.0 else 1.0
        arr = np.clip(np.round(arr * scale), 0, 255).astype(np.uint8)
    elif arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        a = arr[..., 3:4].astype(np.float32) / 255.0
        arr = np.round(arr[..., :3] * a + 255.0 * (1 - a)).astype(np.uint8)
    elif arr.ndim == 3 and arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ImageReadError(f"{name}: expected an RGB image, got array of shape {arr.shape}")
    if min(arr.shape[:2]) < min_size:
        raise ImageReadError(f"{name}: image is {arr.shape[1]}x{arr.shape[0]} px, smaller than {min_size} px on a side")
    return np.ascontiguousarray(arr)


def _latin1_encode(text, encoding="latin1"):
    """``_codecs.encode`` as Python 3 pickles bytes at protocol 2, for the latin-1 codec only."""
    if str(encoding).lower().replace("_", "-") not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"refusing to decode bytes with codec {encoding!r}: only latin-1 rebuilds bytes")
    return codecs.encode(text, "latin1")


class NumpyUnpickler(pickle.Unpickler):
    """An unpickler that admits only what a pickle of NumPy arrays in builtin containers holds.

    Allowed globals: NumPy's array reconstruction (``_reconstruct`` with ``ndarray``, protocol 5's
    ``_frombuffer``), ``dtype`` and NumPy scalars (``scalar``), under both NumPy 1's ``numpy.core`` and
    NumPy 2's ``numpy._core`` module names, and ``_codecs.encode`` for the latin-1 codec (how Python 3
    writes bytes at protocol 2). Lists, dicts, tuples, strings, bytes and numbers are opcodes and need no
    global. Anything else (a function or class that would run code, e.g. ``os.system``) is refused with
    ``pickle.UnpicklingError`` before it is called.

    Used in: notebook 07 through :func:`helpers.search.artbench.read_corpus`.
    """

    ALLOWED = {(mod, name) for core in ("numpy.core", "numpy._core")
               for mod, name in ((f"{core}.multiarray", "_reconstruct"), (f"{core}.multiarray", "scalar"),
                                 (f"{core}.numeric", "_frombuffer"))} | {("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module, name):
        if (module, name) == ("_codecs", "encode"):
            return _latin1_encode
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays are allowed")


def load_numpy_pickle(fh, *, encoding: str = "ASCII"):
    """Read one pickle of NumPy arrays, dtypes and builtin containers from the binary file ``fh``, safely.

    Args:
        fh: a binary file object positioned at the pickle.
        encoding: how to decode Python 2 ``str`` objects (``"bytes"`` keeps them as bytes, as the
            CIFAR-python readers do; ``"latin1"`` for NumPy arrays pickled by Python 2).

    Raises:
        pickle.UnpicklingError: the pickle asks for anything else (:class:`NumpyUnpickler`), or is broken.

    Used in: notebook 07 through :func:`helpers.search.artbench.read_corpus`.
    """
    return NumpyUnpickler(fh, encoding=encoding).load()

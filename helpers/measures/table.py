"""The measures of many images in one table: pluggable measure groups, run in parallel and cached.

==========================  ===============================================================
function                    returns
==========================  ===============================================================
:func:`measure`             the chosen measure groups of one image as a flat dict
:func:`table`               the same for many images, parallel and cached
:func:`stimuli`             the images notebook 02 measures (dream stimuli or any folder)
:func:`available_measures`  the group names ``measures=`` accepts here
==========================  ===============================================================

The measures themselves are one function of one image each: :mod:`helpers.measures.colour` (HSV
statistics), :mod:`helpers.measures.compression` (JPEG and PNG size), :mod:`helpers.measures.clutter`
(Feature Congestion, Sub-band Entropy), :mod:`helpers.measures.spectra` (Fourier spectrum, Canny edges),
:mod:`helpers.measures.aesthetics` (the Aesthetics Toolbox's). ``image`` is either a uint8 HxWx3 RGB
array or a path; both go through :func:`helpers.io.read_image`, which converts grayscale, RGBA, palette
and 16-bit images to 8-bit RGB and raises :class:`helpers.io.ImageReadError` naming the file when it
cannot (see :func:`table` for each kind of bad input).

Measure groups (``measures=`` of :func:`measure` and :func:`table`) are pluggable: each is a
function ``(rgb uint8 HxWx3, **settings) -> {column: value}``; :data:`GROUPS` holds the
built-in ones, :data:`LAZY_GROUPS` those imported on first use (``"aesthetics"``: the
Aesthetics Toolbox measures of :mod:`helpers.measures.aesthetics`), and any module-level function works.
"""
from __future__ import annotations

import functools
import importlib
import importlib.util
import json
import multiprocessing as mp
import os
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from helpers import io, paths
from helpers.measures import clutter, colour, compression, spectra
from helpers.nets import layers, models
from helpers.progress import tqdm

MIN_SIZE = 32  # px on the shorter side: Sub-band Entropy needs 3 steerable-pyramid levels
MAX_PIXELS = 20_000_000  # images with more pixels give a failed row unless max_pixels is raised
EDGE_SIGMAS = (1.0, 2.0, 4.0)  # Canny sigmas in px; edge_density uses 2.0
MIN_PER_WORKER = 8  # table() measures fewer than this many images per worker in-process
_CACHE_VERSION = 2  # bump when a measure changes so cached rows are recomputed (2: FC phase fix)
_KEY = ["_abspath", "_size", "_mtime_ns", "_settings"]


def _group_color(rgb, **_):
    """Mean hue (arithmetic and circular), saturation and brightness (:func:`helpers.measures.colour.color_stats`)."""
    return colour.color_stats(rgb)


def _group_compression(rgb, *, jpeg_quality: int = 75, **_):
    """``jpeg_bytes`` (PIL, quality ``jpeg_quality``) and ``png_bytes`` (lossless)."""
    return {"jpeg_bytes": compression.jpeg_size(rgb, quality=jpeg_quality), "png_bytes": compression.png_size(rgb)}


def _group_clutter(rgb, **_):
    """``feature_congestion`` and ``subband_entropy`` (:mod:`helpers.measures.clutter`)."""
    return clutter.measure(rgb)


def _group_spectrum(rgb, **_):
    """``spectrum_slope`` and ``spectrum_intercept`` of :func:`helpers.measures.spectra.radial_spectrum`."""
    spec = spectra.radial_spectrum(rgb)
    return {"spectrum_slope": spec["slope"], "spectrum_intercept": spec["intercept"]}


def _group_edges(rgb, *, edge_sigmas=EDGE_SIGMAS, **_):
    """Canny ``edge_density`` at sigma 2 px and ``edge_density_sigma<s>`` at the other sigmas."""
    if 2.0 not in tuple(edge_sigmas):
        raise ValueError(f"table: edge_sigmas must include 2.0 (edge_density), got {edge_sigmas!r}")
    return {"edge_density" if s == 2.0 else f"edge_density_sigma{s:g}": spectra.edge_density(rgb, sigma=s) for s in edge_sigmas}


def _call_lazy(module: str, attr: str, rgb, *, jpeg_quality=None, edge_sigmas=None, **opts):
    """Import ``module`` and call its ``attr(rgb, **opts)`` (a lazy group's measure; no table settings)."""
    return getattr(importlib.import_module(module), attr)(rgb, **opts)


GROUPS = {"color": _group_color, "compression": _group_compression, "clutter": _group_clutter,
          "spectrum": _group_spectrum, "edges": _group_edges}
"""Built-in measure groups: name -> function ``(rgb uint8 HxWx3, **settings) -> {column: value}``."""
ALIASES = {"paper1": ("color", "compression", "clutter")}
"""Names standing for several groups: ``paper1`` = Paper 1's features (HSV, JPEG/PNG size, FC, SE)."""
LAZY_GROUPS = {"aesthetics": ("helpers.measures.aesthetics", "measure")}
"""Groups whose module is imported only when asked for: name -> (module, function name).
``aesthetics``: ``helpers.measures.aesthetics.measure(rgb, *, which=None) -> dict`` (the Aesthetics
Toolbox measures); the group's options (e.g. ``which``) go to it, the table settings do not."""
DEFAULT_MEASURES = ("paper1", "spectrum", "edges")


def _find_spec(module: str):
    """importlib's spec of ``module`` or None (also when its parent package is missing)."""
    try:
        return importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None


def _call_user(fn, rgb, *, jpeg_quality=None, edge_sigmas=None, **opts):
    """A user's group function gets the image and its own options, not the table settings."""
    return fn(rgb, **opts)


def available_measures() -> list:
    """Names accepted by ``measures=``: aliases, built-in groups, and lazy groups whose module imports.

    Used in: notebook 02 (features.parquet, p1-clutter-maps.png, p1-feature-correlations.png,
        p1-feature-distributions.png, 2 more outputs); notebooks 05 (p2-biggan-features.parquet) and 08 through
        :func:`helpers.measures.table.table`.
    """
    lazy = [n for n, (mod, _) in LAZY_GROUPS.items() if _find_spec(mod) is not None]
    return list(ALIASES) + list(GROUPS) + lazy


def _resolve(measures) -> list:
    """``measures`` -> list of ``(name, function, options)``, aliases expanded, duplicates dropped.

    An entry is a group name, a ``(name, {option: value})`` pair (options go to the group
    function, e.g. ``("aesthetics", {"which": ["fourier"]})``) or a module-level function
    ``f(rgb, **settings) -> dict`` (picklable, so the worker processes can run it).
    """
    if isinstance(measures, str) or callable(measures):
        measures = [measures]
    out, seen = [], set()
    for entry in measures:
        name, opts = (entry if isinstance(entry, tuple) else (entry, {}))
        if callable(name):
            fn, name = name, f"{name.__module__}.{name.__qualname__}"
            fn = functools.partial(_call_user, fn)
        elif name in ALIASES:
            for g in ALIASES[name]:
                if g not in seen:
                    seen.add(g)
                    out.append((g, GROUPS[g], {}))
            continue
        elif name in GROUPS:
            fn = GROUPS[name]
        elif name in LAZY_GROUPS:
            mod, attr = LAZY_GROUPS[name]
            fn = functools.partial(_call_lazy, mod, attr)
            if _find_spec(mod) is None:
                raise ValueError(f"table: measure group {name!r} needs the module {mod}, which is not "
                                 f"importable here; available: {', '.join(available_measures())}")
        else:
            raise ValueError(f"table: unknown measure group {name!r}; available: {', '.join(available_measures())} "
                             "(or a function rgb -> dict)")
        if name not in seen:
            seen.add(name)
            out.append((name, fn, dict(opts)))
    if not out:
        raise ValueError("table: measures is empty; available: " + ", ".join(available_measures()))
    return out


def _check_pixels(h: int, w: int, name: str, max_pixels) -> None:
    """Refuse images above ``max_pixels`` (None: no limit) with an error naming the file."""
    if max_pixels is not None and h * w > max_pixels:
        raise io.ImageReadError(f"{name}: image is {w}x{h} px = {h * w / 1e6:.1f} MP, more than max_pixels="
                                f"{max_pixels / 1e6:g} MP (pass a larger max_pixels, or None, to measure it)")


def _group_version(name: str):
    """Cache version of a group: ``CACHE_VERSION`` of a lazy group's module, else None."""
    if name in LAZY_GROUPS:
        return getattr(importlib.import_module(LAZY_GROUPS[name][0]), "CACHE_VERSION", None)
    return None


def measure(image, *, measures=DEFAULT_MEASURES, jpeg_quality: int = 75, edge_sigmas=EDGE_SIGMAS,
            max_pixels: int | None = MAX_PIXELS, keep_going: bool = False) -> dict:
    """The measures of one image, as a flat dict of scalars.

    Args:
        image: uint8 HxWx3 RGB array or a path (converted by ``io.read_image``, see
            :func:`table` for what is converted how).
        measures: measure groups (see :func:`table`); default Paper 1's features, the
            spectrum slope and the edge densities.
        jpeg_quality: JPEG quality for ``jpeg_bytes``.
        edge_sigmas: Canny sigmas; ``edge_density`` is the value at 2.0 px (must be
            included), the others go to ``edge_density_sigma<s>``.
        max_pixels: largest image (height x width) measured; ``None``: no limit.
        keep_going: when one of several groups raises, leave its columns out and list the
            error under ``"_group_errors"`` instead of raising (what :func:`table` does).

    Returns:
        dict with ``width`` and ``height`` then each group's columns. With the default
        groups: ``hue``, ``hue_circular``, ``hue_concentration``, ``saturation``,
        ``brightness``, ``jpeg_bytes``, ``png_bytes``, ``feature_congestion``,
        ``subband_entropy``, ``spectrum_slope``, ``spectrum_intercept``,
        ``edge_density`` and ``edge_density_sigma<s>``. A column that an earlier group
        already produced is renamed ``<group>_<column>`` (e.g. the toolbox's
        ``edge_density`` becomes ``aesthetics_edge_density`` next to the Canny one).

    Raises:
        io.ImageReadError: unreadable, truncated, smaller than 32 px on a side, or larger
            than ``max_pixels``.
        ValueError: unknown measure group.

    Used in: notebooks 02, 05 (p2-biggan-features.parquet) and 08 through :func:`helpers.measures.table.table`.
    """
    groups = _resolve(measures)
    if not isinstance(image, np.ndarray) and max_pixels is not None:
        try:
            with Image.open(image) as im:  # reads the header only
                w, h = im.size
        except Exception:  # io.read_image below names the file and the reason
            pass
        else:
            _check_pixels(h, w, str(image), max_pixels)
    rgb = io.read_image(image, min_size=MIN_SIZE)
    _check_pixels(rgb.shape[0], rgb.shape[1], "<array>" if isinstance(image, np.ndarray) else str(image), max_pixels)
    settings = {"jpeg_quality": int(jpeg_quality), "edge_sigmas": tuple(float(s) for s in edge_sigmas)}
    row = {"width": rgb.shape[1], "height": rgb.shape[0]}
    for name, fn, opts in groups:
        try:
            values = fn(rgb, **settings, **opts)
        except Exception as exc:
            partial = getattr(exc, "values", None)  # e.g. aesthetics.MeasuresIncomplete: the rest was measured
            if keep_going and isinstance(partial, dict):
                row.setdefault("_group_errors", []).append(f"group {name}: {exc}")
                values = partial
            elif not keep_going or len(groups) == 1:
                raise
            else:
                row.setdefault("_group_errors", []).append(f"group {name}: {type(exc).__name__}: {exc}")
                continue
        for col, val in values.items():
            row[col if col not in row else f"{name}_{col}"] = val
    return row


def _source_note(path) -> str:
    """How ``io.read_image`` will have converted the file ("" for 8-bit RGB)."""
    try:
        with Image.open(path) as im:
            mode, bits = im.mode, im.info.get("bits")
            fmt = im.format
    except Exception:  # the measurement itself reports unreadable files
        return ""
    if mode == "RGB" and not (fmt == "PNG" and _png_bit_depth(path) == 16):
        return ""
    if mode == "RGB":
        return "converted from 16-bit RGB PNG (read as 8-bit RGB, high byte)"
    return f"converted from PIL mode {mode}" + (f" ({bits} bits)" if bits else "")


def _png_bit_depth(path) -> int:
    """Bit depth field of a PNG's IHDR chunk (byte 24 of the file), 0 if unreadable."""
    try:
        with open(path, "rb") as f:
            head = f.read(25)
        return head[24] if len(head) == 25 and head[12:16] == b"IHDR" else 0
    except OSError:
        return 0


def _measure_file(path: str, settings: dict) -> dict:
    """One table row for ``path``; never raises (failures become status 'failed')."""
    try:
        row = measure(path, **settings, keep_going=True)
        errors = row.pop("_group_errors", [])
        return {**row, "status": "ok", "error": "; ".join(errors), "note": _source_note(path)}
    except Exception as exc:  # keep going past one bad image; the row says why
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "note": ""}


def _mp_context():
    """Worker start method: "forkserver" with this module preloaded where available (a clean,
    single-threaded server imports NumPy/SciPy once, workers fork from it in milliseconds;
    unlike plain fork it is safe after torch has started threads), else "spawn"."""
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["helpers.measures.table", "scipy.ndimage", "scipy.fft", "skimage.feature", "pyrtools"])
        return ctx
    return mp.get_context("spawn")


def _file_key(path, settings: dict) -> dict:
    """Cache key of one file: absolute path, size, mtime and the measurement settings."""
    p = os.path.abspath(path)
    try:
        st = os.stat(p)
        size, mtime = int(st.st_size), int(st.st_mtime_ns)
    except OSError:
        size, mtime = -1, -1
    return {"_abspath": p, "_size": size, "_mtime_ns": mtime,
            "_settings": json.dumps({**settings, "version": _CACHE_VERSION}, sort_keys=True, default=list)}


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")


def _inputs(paths_or_folder, root):
    """(DataFrame of extra columns, list of path strings as given, list of files to open)."""
    if isinstance(paths_or_folder, pd.DataFrame):
        if "path" not in paths_or_folder.columns:
            raise ValueError("table.table: a DataFrame input needs a 'path' column "
                             f"(got columns {list(paths_or_folder.columns)})")
        df = paths_or_folder.reset_index(drop=True).copy()
        given = [str(p) for p in df["path"]]
    elif isinstance(paths_or_folder, (str, Path)) and Path(paths_or_folder).is_dir():
        folder = Path(paths_or_folder)
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        given = [str(p.relative_to(folder)) for p in files]
        root = folder if root is None else root
        df = pd.DataFrame({"path": given})
    else:
        if isinstance(paths_or_folder, (str, Path)):
            raise FileNotFoundError(f"table.table: {paths_or_folder} is not a folder (pass a list for one file)")
        given = [str(p) for p in paths_or_folder]
        df = pd.DataFrame({"path": given})
    files = [str(Path(root) / g) if root is not None and not Path(g).is_absolute() else g for g in given]
    return df, given, files


def table(paths_or_folder, *, measures=DEFAULT_MEASURES, root=None, cache=None, n_jobs: int | None = None,
          progress: bool = True, jpeg_quality: int = 75, edge_sigmas=EDGE_SIGMAS,
          max_pixels: int | None = MAX_PIXELS, flush_every: int = 20):
    """Measure many images: one row per image with every measure, in parallel, cached.

    Args:
        paths_or_folder: a folder (searched recursively for image files), a list of paths,
            or a DataFrame with a ``path`` column (e.g. the dream ``manifest.csv``); a
            DataFrame's other columns (``layer``, ``layer_index``, ``seed``, ...) are kept.
        measures: which measure groups to compute, in column order: names of
            :data:`GROUPS` (``"color"``, ``"compression"``, ``"clutter"``, ``"spectrum"``,
            ``"edges"``), the alias ``"paper1"`` (colour + compression + clutter), the lazy
            group ``"aesthetics"`` (the Aesthetics Toolbox measures of
            ``helpers.measures.aesthetics.measure``), ``(name, {option: value})`` pairs such as
            ``("aesthetics", {"which": ["fourier", "fractal"]})``, or module-level
            functions ``f(rgb, **settings) -> {column: value}``. An unknown name raises
            ``ValueError`` listing :func:`available_measures`. The cache keys on them.
        root: folder that relative paths are resolved against (a folder input is its own
            root); the ``path`` column keeps the paths as given.
        cache: parquet file of earlier results. Rows whose file (absolute path, size,
            mtime) and settings are unchanged are reused; the rest are measured and the
            cache is rewritten atomically every ``flush_every`` new rows and at the end,
            so an interrupted run resumes. ``None``: no cache.
        n_jobs: worker processes (``None`` or 0: all cores; 1: in this process). Fewer than
            ``8 * n_jobs`` images are measured in-process, where starting workers
            (forkserver or spawn, seconds under load) would cost more than it saves.
        progress: show a ``tqdm`` progress bar.
        jpeg_quality: JPEG quality for ``jpeg_bytes`` (PIL, default 75).
        edge_sigmas: Canny sigmas in px; ``edge_density`` is at 2.0.
        max_pixels: images with more pixels (height x width, read from the file header
            before decoding) give a failed row; ``None``: no limit (PIL's own
            decompression-bomb check, about 179 MP, still applies).
        flush_every: write the cache after this many new rows.

    Returns:
        DataFrame in input order: the input columns (``path`` first), the columns of
        :func:`measure`, ``status`` ("ok" or "failed"), ``error`` (message, "" when ok)
        and ``note`` (how the file was converted, "" for 8-bit RGB).

    Bad input (what happens to each kind of file; conversions by ``io.read_image``):

    - grayscale (L, I;16, 1-bit): replicated to three equal channels (so saturation 0);
    - 16-bit grayscale (I;16): scaled to 8 bits by 255/65535, rounded (a file whose
      values all fit in 0..255 is taken as 8-bit values); 16-bit RGB PNGs are read by
      PIL as 8-bit RGB (high byte);
    - RGBA, LA and palette images with transparency: composited on white;
    - palette (P) without transparency: mapped through the palette;
    - CMYK, YCbCr and other modes: PIL's conversion to RGB;
    - these rows are "ok" with a ``note`` saying "converted from PIL mode ...";
    - smaller than 32 px on a side, more than ``max_pixels`` pixels, truncated, not an
      image (or missing): a warning naming the file and a "failed" row with NaN
      measures and the reason in ``error``; the rest of the table goes on;
    - one measure group failing on an image (e.g. a fit that does not converge): the row
      stays "ok" with that group's columns NaN, ``error`` names the group and the reason,
      and a warning names the file.

    Used in: notebook 02 (features.parquet, p1-clutter-maps.png, p1-feature-correlations.png,
        p1-feature-distributions.png, 2 more outputs); notebook 05 (p2-biggan-features.parquet); notebook 08
        (key-numbers.json, study-effect-sizes.png, study/correction-sensitivity.csv, study/effect-sizes.csv, 4
        more outputs).
    """
    groups = _resolve(measures)  # unknown names fail here, before any work
    settings = {"measures": [measures] if isinstance(measures, str) or callable(measures) else list(measures),
                "jpeg_quality": int(jpeg_quality), "edge_sigmas": tuple(float(s) for s in edge_sigmas),
                "max_pixels": max_pixels}
    key_settings = {**settings, "measures": [[name, opts, _group_version(name)] for name, _, opts in groups]}
    df, given, files = _inputs(paths_or_folder, root)
    keys = pd.DataFrame([_file_key(f, key_settings) for f in files])
    done: dict[int, dict] = {}
    cached = None
    if cache is not None and os.path.exists(cache):
        try:
            cached = pd.read_parquet(cache)
        except Exception as exc:
            warnings.warn(f"table.table: cache {cache} is unreadable ({exc}); recomputing everything")
    if cached is not None and len(keys) and set(_KEY) <= set(cached.columns):
        cached = cached.drop_duplicates(_KEY, keep="last")
        hit = keys.reset_index().merge(cached, on=_KEY, how="inner")
        for rec in hit.to_dict("records"):
            i = rec.pop("index")
            done[i] = {k: v for k, v in rec.items() if k not in _KEY}
    todo = [i for i in range(len(files)) if i not in done]
    new_rows: dict[int, dict] = {}

    def flush():
        if cache is None or not new_rows:
            return
        rows = [{**keys.iloc[i].to_dict(), **r} for i, r in {**done, **new_rows}.items()]
        old = cached if cached is not None and set(_KEY) <= set(cached.columns) else None
        out = pd.DataFrame(rows)
        if old is not None:  # keep other images' entries (another folder sharing the cache)
            out = pd.concat([old, out], ignore_index=True).drop_duplicates(_KEY, keep="last")
        io.save_table(out, cache)

    n_jobs = (os.cpu_count() or 1) if not n_jobs else max(1, int(n_jobs))
    bar = tqdm(total=len(files), initial=len(done), desc="image features", disable=not progress)
    since = 0
    if n_jobs == 1 or len(todo) < MIN_PER_WORKER * n_jobs:  # spawning workers costs seconds each
        for i in todo:
            new_rows[i] = _measure_file(files[i], settings)
            bar.update()
            since += 1
            if since >= flush_every:
                flush()
                since = 0
    else:
        with ProcessPoolExecutor(max_workers=n_jobs, mp_context=_mp_context()) as ex:
            futs = {ex.submit(_measure_file, files[i], settings): i for i in todo}
            for fut in as_completed(futs):
                new_rows[futs[fut]] = fut.result()
                bar.update()
                since += 1
                if since >= flush_every:
                    flush()
                    since = 0
    bar.close()
    flush()
    rows = {**done, **new_rows}
    res = pd.DataFrame([rows[i] for i in range(len(files))], index=range(len(files)))
    for c in ("width", "height", "jpeg_bytes", "png_bytes"):
        if c in res:
            res[c] = res[c].astype("Int64")
    # one warning per distinct problem (a missing weights file would otherwise repeat once per image)
    problems: dict = {}
    for i in range(len(files)):
        err = str(rows[i].get("error") or "")
        if rows[i].get("status") == "failed" or err:
            what = "row marked failed" if rows[i].get("status") == "failed" else "those columns left empty"
            problems.setdefault((err.replace(files[i], "<file>"), what), []).append(files[i])
    for (err, what), where in problems.items():
        if len(where) == 1:
            msg = err.replace("<file>", where[0]) if "<file>" in err else f"{where[0]}: {err}"
        else:
            msg = f"{len(where)} images ({where[0]}, ...): {err}"
        warnings.warn(f"table.table: {msg} ({what}, the rest goes on)", stacklevel=2)
    res = pd.concat([df, res.drop(columns=[c for c in res.columns if c in df.columns])], axis=1)
    front = [c for c in df.columns] + [c for c in res.columns if c not in df.columns and c not in ("status", "error", "note")]
    return res[front + ["status", "error", "note"]]


# ----------------------------------------------------------------------------------------
# Figures of notebook 02 (kept here, beside the measures they show)
# ----------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------
# Structure of the measures: correlations, and which measures separate groups of images
# ----------------------------------------------------------------------------------------


def stimuli(images=None, *, profile: str = "class", n: int | None = None):
    """The images notebook 02 measures, as a DataFrame for :func:`table`.

    Args:
        images: a folder of images (searched recursively for :data:`IMAGE_SUFFIXES`), or
            ``None`` for the dream stimuli of notebook 01 (``results/<profile>/dream/manifest.csv``).
        profile: profile whose dream stimuli are used when ``images`` is None.
        n: keep at most the first ``n`` images (``None``: all).

    Returns:
        DataFrame with ``path`` (relative to ``df.attrs["root"]``) and a ``group`` column:
        the :func:`helpers.nets.layers.layer_type` of each dream image (beside ``layer``, ``layer_index``,
        ``seed``), or the first sub-folder of each file of ``images`` ("." for files at the
        top). ``df.attrs``: ``root`` (folder the paths are relative to) and ``stand_in``
        (True when the dream images were made with stand-in weights).

    Used in: notebook 02 (features.parquet, p1-clutter-maps.png, p1-feature-correlations.png,
        p1-feature-distributions.png, 2 more outputs).
    """
    if images is None:
        root = paths.results(profile) / "dream"
        manifest = io.load_table(root / "manifest.csv")
        df = manifest[["layer", "layer_index", "seed", "path"]].copy()
        df["group"] = df["layer"].map(layers.layer_type)
        stand_in = models.is_stand_in(manifest)
    else:
        root = Path(images)
        if not root.is_dir():
            raise FileNotFoundError(f"table.stimuli: IMAGES={images!s} is not a folder of images")
        files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise FileNotFoundError(f"table.stimuli: no image files ({', '.join(IMAGE_SUFFIXES)}) under {root}")
        rel = [p.relative_to(root) for p in files]
        df = pd.DataFrame({"path": [str(r) for r in rel], "group": [r.parts[0] if len(r.parts) > 1 else "." for r in rel]})
        stand_in = False
    if n is not None:
        df = df.head(int(n)).reset_index(drop=True)
    df.attrs.update(root=root, stand_in=stand_in)
    return df

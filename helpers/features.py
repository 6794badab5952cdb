"""Per-image measures: colour, compressed size, clutter, Fourier spectrum and edges; the table runner.

Every measure is a function of one image. ``image`` is either a uint8 HxWx3 RGB array or
a path; both go through :func:`helpers.io.read_image`, which converts grayscale, RGBA,
palette and 16-bit images to 8-bit RGB and raises :class:`helpers.io.ImageReadError`
naming the file when it cannot (see :func:`table` for each kind of bad input).

==========================  ===============================================================
function                    returns
==========================  ===============================================================
:func:`color_stats`         mean hue (arithmetic and circular), saturation, brightness (HSV)
:func:`jpeg_size`           bytes of the image saved as JPEG (quality 75 by default)
:func:`png_size`            bytes of the image saved as PNG (lossless complexity proxy)
:func:`feature_congestion`  Rosenholtz et al. (2007) Feature Congestion (from helpers.clutter)
:func:`subband_entropy`     Rosenholtz et al. (2007) Sub-band Entropy (from helpers.clutter)
:func:`clutter`             both clutter measures, sharing the Lab conversion
:func:`radial_spectrum`     radially averaged Fourier amplitude/power and power-law slope
:func:`edge_density`        fraction of pixels that are Canny edges
:func:`measure`             the chosen measure groups of one image as a flat dict
:func:`table`               the same for many images, parallel and cached
:func:`stimuli`             the images notebook 02 measures (dream stimuli or any folder)
:func:`layer_type`          coarse type of an InceptionV1 layer name (conv, 3x3, reduce, ...)
:func:`separation`          Kruskal-Wallis test and effect size of each measure across groups
:func:`plot_distributions`  histograms of the table's features (figure of notebook 02)
:func:`plot_clutter_maps`   images with their clutter maps (figure of notebook 02)
:func:`plot_correlations`   clustered heat map of the correlations between measures
:func:`plot_separation`     effect sizes of the measures that separate groups best
==========================  ===============================================================

Measure groups (``measures=`` of :func:`measure` and :func:`table`) are pluggable: each is a
function ``(rgb uint8 HxWx3, **settings) -> {column: value}``; :data:`GROUPS` holds the
built-in ones, :data:`LAZY_GROUPS` those imported on first use (``"aesthetics"``: the
Aesthetics Toolbox measures of ``helpers.aesthetics``), and any module-level function works.
"""
from __future__ import annotations

import io as _io
import math

import numpy as np

from helpers import clutter as _clutter
from helpers import io

# The clutter measures live in helpers.clutter; these names stay importable from here.
FC_WEIGHTS = _clutter.FC_WEIGHTS
SE_CHROMA_WEIGHT = _clutter.SE_CHROMA_WEIGHT
feature_congestion = _clutter.feature_congestion
subband_entropy = _clutter.subband_entropy
clutter = _clutter.measure


def _rgb(image) -> np.ndarray:
    """uint8 HxWx3 from an array or a path (via ``io.read_image``)."""
    return io.read_image(image)


def _luminance(rgb: np.ndarray) -> np.ndarray:
    """float64 HxW luminance in [0, 1] (Rec. 709 weights, as ``skimage.color.rgb2gray``)."""
    from skimage.color import rgb2gray

    return rgb2gray(rgb).astype(np.float64)


# ----------------------------------------------------------------------------------------
# Colour
# ----------------------------------------------------------------------------------------
def color_stats(image) -> dict:
    """Mean hue, saturation and brightness in HSV (``skimage.color.rgb2hsv``, bit for bit, via
    :func:`helpers.colorspace.rgb2hsv`).

    Hue is an angle: 0 and 1 are both red. The arithmetic mean of hue values in [0, 1)
    (what image-statistics papers usually report, and what Paper 1 most likely used)
    therefore puts the mean of a half-magenta, half-orange image at cyan-green. The
    circular mean takes the direction of the mean unit vector
    ``mean(exp(2*pi*i*h))`` and maps it back to [0, 1); its length ``hue_concentration``
    (0 = hues spread evenly around the circle, 1 = one hue) says how meaningful it is.
    Both are unweighted over all pixels; achromatic pixels (saturation 0) have hue 0 in
    skimage and are included, as in a plain per-pixel mean.

    Args:
        image: uint8 HxWx3 RGB array or a path.

    Returns:
        dict with float ``hue`` (arithmetic mean, [0, 1)), ``hue_circular`` ([0, 1)),
        ``hue_concentration`` ([0, 1]), ``saturation`` ([0, 1]), ``brightness``
        (mean HSV value, [0, 1]).
    """
    from helpers.colorspace import rgb2hsv

    hsv = rgb2hsv(_rgb(image))
    h = hsv[..., 0].ravel()
    z = np.exp(2j * np.pi * h).mean()
    circ = (np.angle(z) / (2 * np.pi)) % 1.0
    return {"hue": float(h.mean()), "hue_circular": float(circ), "hue_concentration": float(abs(z)),
            "saturation": float(hsv[..., 1].mean()), "brightness": float(hsv[..., 2].mean())}


# ----------------------------------------------------------------------------------------
# Compressed size
# ----------------------------------------------------------------------------------------
def jpeg_size(image, *, quality: int = 75) -> int:
    """Size in bytes of ``image`` encoded as JPEG by PIL at ``quality`` (default 75).

    PIL's defaults otherwise: 4:2:0 chroma subsampling, baseline, no optimisation, no
    metadata. Larger files mean more fine detail the encoder cannot discard (a complexity
    proxy, Paper 1's "JPEG" feature).

    Args:
        image: uint8 HxWx3 RGB array or a path (the file is re-encoded, not measured).
        quality: JPEG quality 1-95.
    """
    from PIL import Image

    if not 1 <= int(quality) <= 100:
        raise ValueError(f"jpeg_size: quality must be in 1..100, got {quality!r}")
    buf = _io.BytesIO()
    Image.fromarray(_rgb(image)).save(buf, format="JPEG", quality=int(quality))
    return buf.tell()


def png_size(image, *, compress_level: int = 6) -> int:
    """Size in bytes of ``image`` encoded losslessly as PNG by PIL (zlib level ``compress_level``, 0-9)."""
    from PIL import Image

    buf = _io.BytesIO()
    Image.fromarray(_rgb(image)).save(buf, format="PNG", compress_level=int(compress_level))
    return buf.tell()


# ----------------------------------------------------------------------------------------
# Fourier spectrum and edges (Paper 2, Supplementary A4 / Figure S6)
# ----------------------------------------------------------------------------------------
def radial_spectrum(image, *, n_bins: int | None = None) -> dict:
    """Radially averaged Fourier amplitude and power spectrum of the luminance.

    Steps: luminance in [0, 1] (Rec. 709, ``skimage.color.rgb2gray``); subtract its
    mean; multiply by a separable 2-D Hann window (``np.hanning`` along each axis) so the
    image borders do not add a spurious cross of power at all frequencies; ``np.fft.fft2``
    with norm ``"ortho"``; amplitude ``|F|`` and power ``|F|^2`` averaged over rings of
    radial frequency ``f = sqrt(fx^2 + fy^2)`` in **cycles per pixel** (``np.fft.fftfreq``;
    for a non-square image each axis uses its own length). Ring ``i`` (0-based) is centred
    on ``(i + 1) * 0.5 / n_bins`` and is one ring-width wide, so the DC term and the
    corners beyond Nyquist (``f > 0.5 + half a ring``) are left out.

    The power law ``amplitude ~ k**slope`` is fitted by least squares to
    ``log10(amplitude)`` against ``log10(k)`` over all returned bins (natural images give a
    slope near -1 for amplitude, -2 for power).

    Args:
        image: uint8 HxWx3 RGB array or a path.
        n_bins: number of equally wide rings up to 0.5 cycles/pixel. ``None``:
            ``min(H, W) // 2``, i.e. one ring per integer wavenumber 1 .. N/2 (cycles per
            image) of the shorter side N.

    Returns:
        dict with ``k`` (float64 [n_bins], mean frequency of each ring's samples in
        cycles/pixel; multiply by the side length for cycles per image), ``amplitude`` and ``power`` (float64 [n_bins],
        ring means of ``|F|`` and ``|F|^2``), ``slope`` and ``intercept`` (floats, the
        fit ``log10 A = intercept + slope * log10 k``). Rings without any frequency
        sample (possible only for very large ``n_bins``) are dropped.
    """
    lum = _luminance(_rgb(image))
    h, w = lum.shape
    if n_bins is None:
        n_bins = min(h, w) // 2
    n_bins = int(n_bins)
    if n_bins < 2:
        raise ValueError(f"radial_spectrum: n_bins must be >= 2, got {n_bins}")
    x = (lum - lum.mean()) * np.outer(np.hanning(h), np.hanning(w))
    F = np.fft.fft2(x, norm="ortho")
    amp = np.abs(F)
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[None, :]
    f = np.sqrt(fx ** 2 + fy ** 2)
    step = 0.5 / n_bins
    edges = step * (np.arange(n_bins + 1) + 0.5)  # ring i is centred on (i + 1) * step
    idx = np.digitize(f.ravel(), edges) - 1  # ring i holds edges[i] <= f < edges[i+1]
    keep = (idx >= 0) & (idx < n_bins) & (f.ravel() > 0)
    idx = idx[keep]
    count = np.bincount(idx, minlength=n_bins)
    a_sum = np.bincount(idx, weights=amp.ravel()[keep], minlength=n_bins)
    p_sum = np.bincount(idx, weights=(amp.ravel()[keep]) ** 2, minlength=n_bins)
    k_sum = np.bincount(idx, weights=f.ravel()[keep], minlength=n_bins)
    ok = count > 0
    k = k_sum[ok] / count[ok]  # mean frequency of the samples in each ring
    amplitude = a_sum[ok] / count[ok]
    power = p_sum[ok] / count[ok]
    fit = amplitude > 0
    if fit.sum() >= 2:
        slope, intercept = np.polyfit(np.log10(k[fit]), np.log10(amplitude[fit]), 1)
    else:  # a uniform image has no spectrum to fit
        slope, intercept = math.nan, math.nan
    return {"k": k, "amplitude": amplitude, "power": power, "slope": float(slope), "intercept": float(intercept)}


def edge_density(image, *, sigma: float = 2.0) -> float:
    """Fraction of pixels marked as edges by ``skimage.feature.canny`` on the luminance.

    The luminance is Rec. 709 in [0, 1] (``skimage.color.rgb2gray``); Canny uses Gaussian
    smoothing with standard deviation ``sigma`` pixels and skimage's default hysteresis
    thresholds (10 % and 20 % of the dtype range, i.e. 0.1 and 0.2 of the gradient
    magnitude scale of [0, 1] images).

    Args:
        image: uint8 HxWx3 RGB array or a path.
        sigma: Gaussian smoothing in pixels (larger -> only coarser edges).

    Returns:
        float in [0, 1].
    """
    from skimage.feature import canny

    return float(canny(_luminance(_rgb(image)), sigma=float(sigma)).mean())



# ----------------------------------------------------------------------------------------
# Everything for one image: measure groups
# ----------------------------------------------------------------------------------------
MIN_SIZE = 32  # px on the shorter side: Sub-band Entropy needs 3 steerable-pyramid levels
MAX_PIXELS = 20_000_000  # images with more pixels give a failed row unless max_pixels is raised
EDGE_SIGMAS = (1.0, 2.0, 4.0)  # Canny sigmas in px; edge_density uses 2.0
MIN_PER_WORKER = 8  # table() measures fewer than this many images per worker in-process
_CACHE_VERSION = 2  # bump when a measure changes so cached rows are recomputed (2: FC phase fix)
_KEY = ["_abspath", "_size", "_mtime_ns", "_settings"]


def _group_color(rgb, **_):
    """Mean hue (arithmetic and circular), saturation and brightness (:func:`color_stats`)."""
    return color_stats(rgb)


def _group_compression(rgb, *, jpeg_quality: int = 75, **_):
    """``jpeg_bytes`` (PIL, quality ``jpeg_quality``) and ``png_bytes`` (lossless)."""
    return {"jpeg_bytes": jpeg_size(rgb, quality=jpeg_quality), "png_bytes": png_size(rgb)}


def _group_clutter(rgb, **_):
    """``feature_congestion`` and ``subband_entropy`` (:mod:`helpers.clutter`)."""
    return _clutter.measure(rgb)


def _group_spectrum(rgb, **_):
    """``spectrum_slope`` and ``spectrum_intercept`` of :func:`radial_spectrum`."""
    spec = radial_spectrum(rgb)
    return {"spectrum_slope": spec["slope"], "spectrum_intercept": spec["intercept"]}


def _group_edges(rgb, *, edge_sigmas=EDGE_SIGMAS, **_):
    """Canny ``edge_density`` at sigma 2 px and ``edge_density_sigma<s>`` at the other sigmas."""
    if 2.0 not in tuple(edge_sigmas):
        raise ValueError(f"features: edge_sigmas must include 2.0 (edge_density), got {edge_sigmas!r}")
    return {"edge_density" if s == 2.0 else f"edge_density_sigma{s:g}": edge_density(rgb, sigma=s) for s in edge_sigmas}


def _call_lazy(module: str, attr: str, rgb, *, jpeg_quality=None, edge_sigmas=None, **opts):
    """Import ``module`` and call its ``attr(rgb, **opts)`` (a lazy group's measure; no table settings)."""
    import importlib

    return getattr(importlib.import_module(module), attr)(rgb, **opts)


GROUPS = {"color": _group_color, "compression": _group_compression, "clutter": _group_clutter,
          "spectrum": _group_spectrum, "edges": _group_edges}
"""Built-in measure groups: name -> function ``(rgb uint8 HxWx3, **settings) -> {column: value}``."""
ALIASES = {"paper1": ("color", "compression", "clutter")}
"""Names standing for several groups: ``paper1`` = Paper 1's features (HSV, JPEG/PNG size, FC, SE)."""
LAZY_GROUPS = {"aesthetics": ("helpers.aesthetics", "measure")}
"""Groups whose module is imported only when asked for: name -> (module, function name).
``aesthetics``: ``helpers.aesthetics.measure(rgb, *, which=None) -> dict`` (the Aesthetics
Toolbox measures); the group's options (e.g. ``which``) go to it, the table settings do not."""
DEFAULT_MEASURES = ("paper1", "spectrum", "edges")


def _find_spec(module: str):
    """importlib's spec of ``module`` or None (also when its parent package is missing)."""
    import importlib.util

    try:
        return importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None


def _call_user(fn, rgb, *, jpeg_quality=None, edge_sigmas=None, **opts):
    """A user's group function gets the image and its own options, not the table settings."""
    return fn(rgb, **opts)


def available_measures() -> list:
    """Names accepted by ``measures=``: aliases, built-in groups, and lazy groups whose module imports."""
    lazy = [n for n, (mod, _) in LAZY_GROUPS.items() if _find_spec(mod) is not None]
    return list(ALIASES) + list(GROUPS) + lazy


def _resolve(measures) -> list:
    """``measures`` -> list of ``(name, function, options)``, aliases expanded, duplicates dropped.

    An entry is a group name, a ``(name, {option: value})`` pair (options go to the group
    function, e.g. ``("aesthetics", {"which": ["fourier"]})``) or a module-level function
    ``f(rgb, **settings) -> dict`` (picklable, so the worker processes can run it).
    """
    import functools

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
                raise ValueError(f"features: measure group {name!r} needs the module {mod}, which is not "
                                 f"importable here; available: {', '.join(available_measures())}")
        else:
            raise ValueError(f"features: unknown measure group {name!r}; available: {', '.join(available_measures())} "
                             "(or a function rgb -> dict)")
        if name not in seen:
            seen.add(name)
            out.append((name, fn, dict(opts)))
    if not out:
        raise ValueError("features: measures is empty; available: " + ", ".join(available_measures()))
    return out


def _check_pixels(h: int, w: int, name: str, max_pixels) -> None:
    """Refuse images above ``max_pixels`` (None: no limit) with an error naming the file."""
    if max_pixels is not None and h * w > max_pixels:
        raise io.ImageReadError(f"{name}: image is {w}x{h} px = {h * w / 1e6:.1f} MP, more than max_pixels="
                                f"{max_pixels / 1e6:g} MP (pass a larger max_pixels, or None, to measure it)")


def _group_version(name: str):
    """Cache version of a group: ``CACHE_VERSION`` of a lazy group's module, else None."""
    if name in LAZY_GROUPS:
        import importlib

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
    """
    groups = _resolve(measures)
    if not isinstance(image, np.ndarray) and max_pixels is not None:
        from PIL import Image

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
    from PIL import Image

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
    import multiprocessing as mp

    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["helpers.features", "scipy.ndimage", "scipy.fft", "skimage.feature", "pyrtools"])
        return ctx
    return mp.get_context("spawn")


def _file_key(path, settings: dict) -> dict:
    """Cache key of one file: absolute path, size, mtime and the measurement settings."""
    import json
    import os

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
    import pandas as pd
    from pathlib import Path

    if isinstance(paths_or_folder, pd.DataFrame):
        if "path" not in paths_or_folder.columns:
            raise ValueError("features.table: a DataFrame input needs a 'path' column "
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
            raise FileNotFoundError(f"features.table: {paths_or_folder} is not a folder (pass a list for one file)")
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
            ``helpers.aesthetics.measure``), ``(name, {option: value})`` pairs such as
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
    """
    import os
    import warnings
    from concurrent.futures import ProcessPoolExecutor, as_completed

    import pandas as pd
    from tqdm.auto import tqdm

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
            warnings.warn(f"features.table: cache {cache} is unreadable ({exc}); recomputing everything")
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
        warnings.warn(f"features.table: {msg} ({what}, the rest goes on)", stacklevel=2)
    res = pd.concat([df, res.drop(columns=[c for c in res.columns if c in df.columns])], axis=1)
    front = [c for c in df.columns] + [c for c in res.columns if c not in df.columns and c not in ("status", "error", "note")]
    return res[front + ["status", "error", "note"]]


# ----------------------------------------------------------------------------------------
# Figures of notebook 02 (kept here, beside the measures they show)
# ----------------------------------------------------------------------------------------
DISTRIBUTION_COLUMNS = {  # column -> axis label
    "hue": "mean hue (arithmetic, 0-1)", "hue_circular": "mean hue (circular, 0-1)",
    "saturation": "mean saturation (0-1)", "brightness": "mean brightness, HSV value (0-1)",
    "jpeg_bytes": "JPEG size at q75 (kB)", "png_bytes": "PNG size (kB)",
    "feature_congestion": "Feature Congestion", "subband_entropy": "Sub-band Entropy (nats)",
    "spectrum_slope": "amplitude-spectrum slope", "edge_density": "Canny edge density, sigma 2 px",
}


def plot_distributions(df, *, columns=None, by=None, notes=(), ncols: int = 5, bins: int = 30):
    """Histograms of the per-image features (rows with ``status == "ok"``).

    Args:
        df: the :func:`table` output.
        columns: feature columns to show (default :data:`DISTRIBUTION_COLUMNS`).
        by: optional column to colour by (e.g. a layer-type column); ``None`` for one colour.
        notes: lines stamped above the figure (``plots.STAND_IN`` etc.).
        ncols: panels per row.
        bins: histogram bins.

    Returns:
        matplotlib Figure.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    from helpers import plots

    cols = [c for c in (columns or DISTRIBUTION_COLUMNS) if c in df.columns]
    ok = df[df["status"] == "ok"].copy()
    for c in ("jpeg_bytes", "png_bytes"):
        if c in ok:
            ok[c] = ok[c].astype(float) / 1000.0
    nrows = -(-len(cols) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.6 * ncols, 2.2 * nrows), squeeze=False, constrained_layout=True)
    for ax, c in zip(axes.flat, cols):
        data = ok[[c] + ([by] if by else [])].dropna()
        sns.histplot(data=data, x=c, hue=by, bins=min(bins, max(5, len(data))), ax=ax, element="step",
                     legend=bool(by) and ax is axes.flat[0])
        ax.set_xlabel(DISTRIBUTION_COLUMNS.get(c, c))
        ax.set_ylabel("images" if ax in axes[:, 0] else "")
        ax.set_title(f"n={len(data)}, median {data[c].median():.3g}", fontsize=7)
    for ax in list(axes.flat)[len(cols):]:
        ax.set_visible(False)
    n_failed = int((df["status"] != "ok").sum())
    fig.suptitle(f"Image features of {len(ok)} images" + (f" ({n_failed} failed, not shown)" if n_failed else ""))
    return plots.label(fig, *notes)


def _colorbar_ticks(cb, values) -> None:
    """At most 4 distinct, readable ticks on a colour bar, even for a narrow value range.

    A fixed "%.3g" format prints the same label several times when the range is narrow
    (e.g. "0.0316" five times for a nearly flat orientation map); the tick labels here get
    as many decimals as their spacing needs.
    """
    from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator

    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    ticks = MaxNLocator(nbins=3, min_n_ticks=2).tick_values(lo, hi)
    ticks = ticks[(ticks >= lo - 1e-12 * abs(hi)) & (ticks <= hi + 1e-12 * abs(hi))]
    if len(ticks) < 2:
        ticks = np.array([lo, hi]) if hi > lo else np.array([lo])
    step = np.min(np.diff(ticks)) if len(ticks) > 1 else max(abs(lo), 1e-12)
    decimals = int(max(0, -np.floor(np.log10(step)))) if step > 0 else 3
    cb.ax.yaxis.set_major_locator(FixedLocator(ticks))
    cb.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.{decimals}f}"))
    cb.ax.tick_params(labelsize=6)


def plot_clutter_maps(images, *, notes=(), cell: float = 2.2):
    """For each image: the image, its Feature Congestion map, the colour, contrast and
    orientation clutter maps, and its per-band sub-band entropies.

    Args:
        images: dict ``{row title: uint8 HxWx3 array or path}`` (a few examples).
        notes: lines stamped above the figure.
        cell: panel size in inches.

    Returns:
        matplotlib Figure (one row per image, six panels).
    """
    import matplotlib.pyplot as plt

    from helpers import plots

    n = len(images)
    fig, axes = plt.subplots(n, 6, figsize=(6 * cell, n * cell), squeeze=False, constrained_layout=True)
    for r, (title, image) in enumerate(images.items()):
        rgb = _rgb(image)
        lab = _clutter._rgb2lab_rr(rgb)
        fc, maps = _clutter._fc_from_lab(lab, return_maps=True)
        se, ent = _clutter._se_from_lab(lab, return_bands=True)
        ax = axes[r]
        ax[0].imshow(rgb)
        ax[0].set_ylabel(title, fontsize=8)
        panels = [("fc", f"Feature Congestion map\nmean {fc:.2f}"), ("color", "colour clutter"),
                  ("contrast", "contrast clutter"), ("orientation", "orientation clutter")]
        for a, (key, name) in zip(ax[1:5], panels):
            im = a.imshow(maps[key], cmap="magma")
            a.set_title(name if r == 0 or key == "fc" else "", fontsize=8)
            cb = fig.colorbar(im, ax=a, fraction=0.046, pad=0.02)
            _colorbar_ticks(cb, maps[key])
        for a in ax[:5]:
            a.set_xticks([])
            a.set_yticks([])
        x = np.arange(len(ent["L"]))
        ax[5].bar(x - 0.2, ent["L"], width=0.4, label="L", color="0.3")
        ax[5].bar(x + 0.2, np.add(ent["a"], ent["b"]) / 2, width=0.4, label="a, b (mean)", color="tab:orange")
        ax[5].set_xticks(x, [f"s{i // 4 + 1}o{i % 4 + 1}" for i in x[:-1]] + ["low"], rotation=90, fontsize=5)
        ax[5].set_title(f"sub-band entropies, SE {se:.2f}", fontsize=8)
        ax[5].tick_params(labelsize=6)
        if r == 0:
            ax[5].legend(fontsize=6, frameon=False)
    axes[0][0].set_title("image", fontsize=8)
    return plots.label(fig, *notes)


# ----------------------------------------------------------------------------------------
# Structure of the measures: correlations, and which measures separate groups of images
# ----------------------------------------------------------------------------------------
NON_MEASURES = ("width", "height", "layer_index", "seed", "status", "error", "note")
"""Numeric table columns that are not image measures (left out of the analyses below)."""


def layer_type(layer: str) -> str:
    """Coarse type of an InceptionV1 (inception5h) layer name, for grouping the dream stimuli.

    From the layer naming scheme of ``dream.LAYERS``: the stem's ``conv2d*`` -> "conv",
    ``maxpool*`` -> "maxpool", ``localresponsenorm*`` -> "lrn"; a mixed block's branches
    ``*_1x1`` -> "1x1", ``*_3x3`` -> "3x3", ``*_5x5`` -> "5x5", their 1x1 reductions
    ``*_bottleneck``/``*_pool_reduce`` -> "reduce", ``*_pool`` -> "pool branch", the block
    output ``mixedNx`` -> "mixed output"; the auxiliary ``head*`` layers -> "head".
    ``_pre_relu`` variants get the type of their layer.
    """
    import re

    name = str(layer).removesuffix("_pre_relu")
    if name.startswith("head"):
        return "head"
    if re.fullmatch(r"conv2d\d+", name):
        return "conv"
    if re.fullmatch(r"maxpool\d+", name):
        return "maxpool"
    if re.fullmatch(r"localresponsenorm\d+", name):
        return "lrn"
    m = re.fullmatch(r"mixed\d[a-e](?:_(.*))?", name)
    if not m:
        return "other"
    branch = m.group(1)
    if branch is None:
        return "mixed output"
    if branch.endswith("bottleneck") or branch == "pool_reduce":
        return "reduce"
    return {"1x1": "1x1", "3x3": "3x3", "5x5": "5x5", "pool": "pool branch"}.get(branch, "other")


def measure_columns(df) -> list:
    """The numeric measure columns of a :func:`table` output (not ids, sizes or status)."""
    import pandas as pd

    return [c for c in df.columns if c not in NON_MEASURES and not c.startswith("_")
            and pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])]


def _ok_numeric(df, columns):
    """Rows with status ok, the given columns as float, constant or all-NaN columns dropped."""
    ok = df[df["status"] == "ok"] if "status" in df else df
    x = ok[list(columns)].astype(float)
    keep = [c for c in x.columns if x[c].notna().sum() > 2 and x[c].std(skipna=True) > 0]
    return ok, x[keep]


def separation(df, by: str, *, columns=None):
    """Which measures differ between groups of images (e.g. layer types).

    Per measure: the Kruskal-Wallis H test across the groups of ``by``
    (``scipy.stats.kruskal``, rank-based, so the scales of the measures do not matter), its
    effect size eta^2_H = (H - k + 1) / (n - k) (the share of the rank variance explained
    by the groups, ~0 for none, near 1 for complete separation; Tomczak & Tomczak 2014,
    Trends Sport Sci. 21:19), and Benjamini-Hochberg adjusted p-values over all measures
    (``statsmodels.stats.multitest.multipletests``).

    Args:
        df: a :func:`table` output (rows with ``status == "ok"`` are used).
        by: column holding the group of each image (at least 2 groups with 2+ images).
        columns: measures to test (default :func:`measure_columns`; constant ones are skipped).

    Returns:
        DataFrame sorted by eta^2_H (largest first): ``measure``, ``H``, ``p``, ``p_bh``,
        ``eta2``, ``n``, ``k`` (groups), and ``top_group`` / ``bottom_group`` (the groups
        with the highest and lowest median).
    """
    import pandas as pd
    from scipy.stats import kruskal
    from statsmodels.stats.multitest import multipletests

    if by not in df.columns:
        raise ValueError(f"features.separation: no column {by!r} (columns: {list(df.columns)})")
    ok, x = _ok_numeric(df, columns or measure_columns(df))
    rows = []
    for c in x.columns:
        d = pd.DataFrame({"v": x[c], "g": ok[by]}).dropna()
        groups = [g["v"].to_numpy() for _, g in d.groupby("g") if len(g) >= 2]
        if len(groups) < 2:
            continue
        n, k = sum(len(g) for g in groups), len(groups)
        if len(np.unique(d["v"])) < 2:
            continue
        H, p = kruskal(*groups)
        med = d.groupby("g")["v"].median()
        rows.append({"measure": c, "H": float(H), "p": float(p), "eta2": float((H - k + 1) / (n - k)) if n > k else np.nan,
                     "n": n, "k": k, "top_group": str(med.idxmax()), "bottom_group": str(med.idxmin())})
    if not rows:
        raise ValueError(f"features.separation: no measure could be tested across the groups of {by!r} "
                         "(need 2+ groups with 2+ images each)")
    out = pd.DataFrame(rows)
    out["p_bh"] = multipletests(out["p"], method="fdr_bh")[1]
    out = out.sort_values("eta2", ascending=False, ignore_index=True)
    return out[["measure", "H", "p", "p_bh", "eta2", "n", "k", "top_group", "bottom_group"]]


def plot_correlations(df, *, columns=None, method: str = "spearman", notes=(), ax=None):
    """Clustered heat map of the correlations between measures.

    Correlations (``method``: "spearman" or "pearson", pairwise complete) are ordered by
    average-linkage hierarchical clustering on the distance 1 - |r| (``scipy.cluster``), so
    measures that carry the same information sit together whatever the sign.

    Args:
        df: a :func:`table` output.
        columns: measures (default :func:`measure_columns`; constant ones are dropped).
        method: correlation coefficient.
        notes: lines stamped above the figure.
        ax: axes to draw into (default: a new figure sized to the number of measures).

    Returns:
        matplotlib Figure.
    """
    import matplotlib.pyplot as plt
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    from helpers import plots

    _, x = _ok_numeric(df, columns or measure_columns(df))
    r = x.corr(method=method).fillna(0.0)
    names = list(r.columns)
    if len(names) >= 3:
        d = np.clip(1 - np.abs(r.to_numpy()), 0, None)
        np.fill_diagonal(d, 0.0)
        order = leaves_list(linkage(squareform((d + d.T) / 2, checks=False), method="average"))
        r = r.iloc[order, order]
        names = list(r.columns)
    n = len(names)
    if ax is None:
        side = max(4.0, 0.18 * n + 2.0)
        fig, ax = plt.subplots(figsize=(side + 1.0, side), constrained_layout=True)
    else:
        fig = ax.figure
    im = ax.imshow(r.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
    fs = 7 if n <= 30 else 5
    ax.set_xticks(range(n), names, rotation=90, fontsize=fs)
    ax.set_yticks(range(n), names, fontsize=fs)
    if n <= 16:
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f"{r.iat[i, j]:.2f}", ha="center", va="center", fontsize=5,
                        color="white" if abs(r.iat[i, j]) > 0.6 else "black")
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, label=f"{method.capitalize()} r")
    ax.set_title(f"Correlations between {n} measures ({len(x)} images), clustered on 1 - |r|", fontsize=9)
    return plots.label(fig, *notes)


def plot_separation(sep, *, top: int = 25, alpha: float = 0.05, notes=(), ax=None):
    """Bar chart of :func:`separation`: eta^2_H per measure, significant ones (BH) coloured.

    Args:
        sep: :func:`separation` output.
        top: show the ``top`` measures with the largest effect.
        alpha: false discovery rate for the colouring.
        notes: lines stamped above the figure.
        ax: axes to draw into.

    Returns:
        matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    from helpers import plots

    s = sep.head(top).iloc[::-1]
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, max(2.5, 0.22 * len(s) + 1.2)), constrained_layout=True)
    else:
        fig = ax.figure
    colours = ["tab:blue" if p < alpha else "0.7" for p in s["p_bh"]]
    ax.barh(range(len(s)), s["eta2"].clip(lower=0), color=colours)
    ax.set_yticks(range(len(s)), [f"{m}  (high: {t})" for m, t in zip(s["measure"], s["top_group"])], fontsize=6)
    ax.set_xlabel("Kruskal-Wallis effect size $\\eta^2_H$ (share of rank variance; negative shown as 0)")
    k = int(sep["k"].max()) if len(sep) else 0
    ax.set_title(f"Measures that separate the {k} groups (blue: BH-adjusted p < {alpha:g})", fontsize=9)
    ax.set_xlim(0, max(0.05, float(s["eta2"].max()) * 1.1 if len(s) else 1))
    return plots.label(fig, *notes)


def stimuli(images=None, *, profile: str = "class", n: int | None = None):
    """The images notebook 02 measures, as a DataFrame for :func:`table`.

    Args:
        images: a folder of images (searched recursively for :data:`IMAGE_SUFFIXES`), or
            ``None`` for the dream stimuli of notebook 01 (``results/<profile>/dream/manifest.csv``).
        profile: profile whose dream stimuli are used when ``images`` is None.
        n: keep at most the first ``n`` images (``None``: all).

    Returns:
        DataFrame with ``path`` (relative to ``df.attrs["root"]``) and a ``group`` column:
        the :func:`layer_type` of each dream image (beside ``layer``, ``layer_index``,
        ``seed``), or the first sub-folder of each file of ``images`` ("." for files at the
        top). ``df.attrs``: ``root`` (folder the paths are relative to) and ``stand_in``
        (True when the dream images were made with stand-in weights).
    """
    import pandas as pd
    from pathlib import Path

    from helpers import paths

    if images is None:
        root = paths.results(profile) / "dream"
        manifest = io.load_table(root / "manifest.csv")
        df = manifest[["layer", "layer_index", "seed", "path"]].copy()
        df["group"] = df["layer"].map(layer_type)
        stand_in = "weights_source" in manifest and bool((manifest["weights_source"] != "pretrained").any())
    else:
        root = Path(images)
        if not root.is_dir():
            raise FileNotFoundError(f"features.stimuli: IMAGES={images!s} is not a folder of images")
        files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise FileNotFoundError(f"features.stimuli: no image files ({', '.join(IMAGE_SUFFIXES)}) under {root}")
        rel = [p.relative_to(root) for p in files]
        df = pd.DataFrame({"path": [str(r) for r in rel], "group": [r.parts[0] if len(r.parts) > 1 else "." for r in rel]})
        stand_in = False
    if n is not None:
        df = df.head(int(n)).reset_index(drop=True)
    df.attrs.update(root=root, stand_in=stand_in)
    return df

"""Measures of empirical aesthetics, equal to the Aesthetics Toolbox's on the same images.

The Aesthetics Toolbox (Redies lab; Bartho et al., *Behavior Research Methods* 2025;
https://github.com/RBartho/Aesthetics-Toolbox) computes about 33 "quantitative image
properties" (QIPs) in a single thread. This module computes the same properties with the
same definitions (image sizes, colour conversions, filter banks, bins, fits and thresholds
taken from the toolbox's ``AT/*_qips.py`` and the MATLAB/Python originals it ships), written
anew and vectorised. The toolbox served as a test oracle: its own code was run on reference
images and ``tests/test_aesthetics.py`` checks every value against it (tolerances there).

``measure(img, which=...)`` returns a flat ``{column: float}`` dict; one function per
measure (or per group of measures that share their intermediate results) is public as well.
Every function takes an RGB ``uint8`` image of shape ``(H, W, 3)`` with ``H, W >= 32``;
conversions from grayscale, RGBA, 16-bit or palette images are the caller's
(:func:`helpers.features.table`). Derived images are made as the toolbox makes them:

* gray: Pillow's ``Image.convert("L")`` (ITU-R 601-2 luma, integer arithmetic), ``uint8``;
* CIELAB: ``skimage.color.rgb2lab`` (D65, L in [0, 100]); HSV: ``skimage.color.rgb2hsv``
  (all three channels in [0, 1], hue as a fraction of a full turn; for uint8 images its
  formulas in one compiled pass, equal bit for bit: :mod:`helpers.colorspace`).

Agreement with the toolbox (commit 005e0365, six reference images): every measure to
floating-point precision (<= 4e-14 relative), except the CNN measures (<= 3e-7), whose
reference the toolbox computes with ``scipy.signal.correlate`` in FFT mode, ~4e-8 relative
rounding in the conv1 responses; ours are float64 sums. ``benchmarks/aesthetics.py`` times
both: about 20x faster per image on one core, mostly from the CNN, Fourier and 2nd-order
edge measures.

Column names are ours (snake case); :data:`TOOLBOX_COLUMNS` maps each to the toolbox's CSV
header, and :func:`to_toolbox` renames a table so it lines up with a toolbox CSV.

Notes on the toolbox (the published paper itself was not available to this project; the
toolbox's own documentation page ``pages/3_QIP_Documentation.py`` was used as the reference
description):

* Fourier slopes come out negative (a falling spectrum), as in the toolbox's code and CSVs;
  its documentation quotes their "empirical ranges" as magnitudes (Redies [0, 5), Spehar and
  Mather [0, 2.5]).
* Balance and Homogeneity decide whether to invert the image from a histogram in which
  grey level 127 is counted on both sides; the toolbox keeps this from the MATLAB original on
  purpose ("hardly any effect on the results") and so does this module, for equal values.
* The CNN measures of the toolbox use the conv1 filters of Caffe's ``bvlc_alexnet`` (96
  filters, BGR input minus the ImageNet BGR mean, 0-255 scale), shipped with the toolbox as
  ``AT/bvlc_alexnet_conv1.npy``. By default this module uses torchvision's AlexNet conv1
  (64 filters, loaded through :func:`helpers.models.load`), which gives *different numbers*;
  pass ``cnn=toolbox_conv1(path)`` to get the toolbox's values.
"""
from __future__ import annotations

import functools
import math
import pickle
import warnings
from dataclasses import dataclass

import numpy as np

# --- names --------------------------------------------------------------------------------

#: measure group -> its output columns; ``measure(which=...)`` takes group or column names.
MEASURES: dict[str, tuple[str, ...]] = {
    "size": ("image_size", "aspect_ratio"),
    "color": ("rms_contrast", "luminance_entropy", "color_entropy",
              "mean_r", "mean_g", "mean_b", "mean_lab_l", "mean_lab_a", "mean_lab_b",
              "mean_hsv_h", "mean_hsv_s", "mean_hsv_v",
              "std_r", "std_g", "std_b", "std_lab_l", "std_lab_a", "std_lab_b",
              "std_hsv_h", "std_hsv_s", "std_hsv_v"),
    "edges": ("edge_density", "eoe_1st_order", "eoe_2nd_order"),
    "fourier": ("fourier_slope_redies", "fourier_sigma", "fourier_slope_spehar", "fourier_slope_mather"),
    "fractal": ("fractal_dimension_2d", "fractal_dimension_3d"),
    "phog": ("phog_self_similarity", "phog_complexity", "phog_anisotropy"),
    "cnn": ("cnn_self_similarity", "cnn_symmetry_lr", "cnn_symmetry_ud", "cnn_symmetry_lrud",
            "cnn_sparseness", "cnn_variability"),
    "balance": ("mirror_symmetry", "balance", "dcm_distance", "dcm_x", "dcm_y", "homogeneity"),
}
COLUMNS: tuple[str, ...] = tuple(c for cols in MEASURES.values() for c in cols)

#: our column -> the Aesthetics Toolbox's CSV header (``QIP_machine_script.py``).
TOOLBOX_COLUMNS: dict[str, str] = {
    "image_size": "Image size (pixels)", "aspect_ratio": "Aspect ratio",
    "rms_contrast": "RMS contrast", "luminance_entropy": "Luminance entropy", "color_entropy": "Color entropy",
    "mean_r": "mean R channel", "mean_g": "mean G channel", "mean_b": "mean B channel (RGB)",
    "mean_lab_l": "mean L channel", "mean_lab_a": "mean a channel", "mean_lab_b": "mean b channel (Lab)",
    "mean_hsv_h": "mean H channel", "mean_hsv_s": "mean S channel", "mean_hsv_v": "mean V channel",
    "std_r": "std R channel", "std_g": "std G channel", "std_b": "std B channel",
    "std_lab_l": "std L channel", "std_lab_a": "std a channel", "std_lab_b": "std b channel (Lab)",
    "std_hsv_h": "std H channel", "std_hsv_s": "std S channel", "std_hsv_v": "std V channel",
    "edge_density": "Edge density", "eoe_1st_order": "1st-order EOE", "eoe_2nd_order": "2nd-order EOE",
    "fourier_slope_redies": "Slope Redies", "fourier_sigma": "Fourier sigma",
    "fourier_slope_spehar": "Slope Spehar", "fourier_slope_mather": "Slope Mather",
    "fractal_dimension_2d": "2D Fractal dimension", "fractal_dimension_3d": "3D Fractal dimension",
    "phog_self_similarity": "Self-similarity (PHOG)", "phog_complexity": "Complexity", "phog_anisotropy": "Anisotropy",
    "cnn_self_similarity": "Self-similarity (CNN)", "cnn_symmetry_lr": "CNN symmetry left-right",
    "cnn_symmetry_ud": "CNN symmetry up-down", "cnn_symmetry_lrud": "CNN symmetry left-right & up-down",
    "cnn_sparseness": "Sparseness", "cnn_variability": "Variability",
    "mirror_symmetry": "Mirror symmetry", "balance": "Balance",
    "dcm_distance": "DCM distance", "dcm_x": "DCM x position", "dcm_y": "DCM y position",
    "homogeneity": "Homogeneity",
}

MIN_SIDE = 32  # px; smaller images are refused (several measures need a few octaves)


def to_toolbox(df):
    """Rename a table's measure columns to the Aesthetics Toolbox's CSV headers."""
    return df.rename(columns=TOOLBOX_COLUMNS)


# --- input --------------------------------------------------------------------------------

def check_rgb(img, name: str = "img") -> np.ndarray:
    """Return ``img`` as an RGB ``uint8`` array or raise a ``ValueError`` saying what was expected."""
    if not isinstance(img, np.ndarray):
        raise ValueError(f"{name}: expected a numpy array (RGB uint8, HxWx3), got {type(img).__name__}")
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"{name}: expected an RGB image of shape (H, W, 3), got shape {img.shape}; "
                         "convert grayscale/RGBA/palette images to RGB first")
    if img.dtype != np.uint8:
        raise ValueError(f"{name}: expected dtype uint8 (0-255), got {img.dtype}; convert 16-bit or float images first")
    if min(img.shape[:2]) < MIN_SIDE:
        raise ValueError(f"{name}: image of {img.shape[1]}x{img.shape[0]} px is too small; both sides must be >= {MIN_SIDE} px")
    return img


class _Image:
    """One image and its derived versions, each made once and only when needed."""

    def __init__(self, img):
        self.rgb = check_rgb(img)

    @functools.cached_property
    def gray(self) -> np.ndarray:
        from PIL import Image

        return np.asarray(Image.fromarray(self.rgb).convert("L"))

    @functools.cached_property
    def lab(self) -> np.ndarray:
        from skimage.color import rgb2lab

        return rgb2lab(self.rgb)

    @functools.cached_property
    def hsv(self) -> np.ndarray:
        from helpers.colorspace import rgb2hsv  # skimage's rgb2hsv, bit for bit, in one compiled pass

        return rgb2hsv(self.rgb)


def _ctx(img) -> _Image:
    return img if isinstance(img, _Image) else _Image(img)


# --- size and colour ----------------------------------------------------------------------

def image_size(img) -> int:
    """Image size: height + width in pixels (the toolbox's default "sum" kind).

    Args:
        img: RGB ``uint8`` array, ``(H, W, 3)``.

    Returns:
        ``H + W`` (px).
    """
    h, w = _ctx(img).rgb.shape[:2]
    return h + w


def aspect_ratio(img) -> float:
    """Aspect ratio: width / height (dimensionless, (0, inf))."""
    h, w = _ctx(img).rgb.shape[:2]
    return w / h


def rms_contrast(img) -> float:
    """RMS contrast: population standard deviation of CIELAB L* (L* units, [0, 50))."""
    return float(np.std(_ctx(img).lab[:, :, 0]))


def _entropy_256(channel: np.ndarray) -> float:
    """Shannon entropy (bits) of a channel rescaled by its maximum to 256 integer levels."""
    from scipy.stats import entropy

    top = channel.max()
    scaled = np.round((channel / top if top > 0 else channel) * 255).astype(np.int64)
    return float(entropy(np.bincount(scaled.ravel()), base=2))


def luminance_entropy(img) -> float:
    """Lightness entropy: Shannon entropy of CIELAB L* rescaled to 256 levels.

    L* is divided by its maximum over the image, times 255 and rounded, then the entropy of
    the histogram of those integer levels is taken.

    Returns:
        Entropy in bits, [0, 8].
    """
    return _entropy_256(_ctx(img).lab[:, :, 0])


def color_entropy(img) -> float:
    """Colour entropy: Shannon entropy of HSV hue rescaled to 256 levels (bits, [0, 8]).

    Hue (a fraction of a turn) is divided by its maximum over the image, times 255 and
    rounded, as for :func:`luminance_entropy`.
    """
    return _entropy_256(_ctx(img).hsv[:, :, 0])


def circular_hue_stats(img) -> tuple[float, float]:
    """Circular mean and circular standard deviation of HSV hue.

    ``scipy.stats.circmean``/``circstd`` with hue as a fraction of a turn (``low=0, high=1``):
    the mean is in [0, 1); the spread ``sqrt(-2 ln R)`` (R the mean resultant length) is in
    the same units, i.e. fractions of a turn, in [0, inf).
    """
    from scipy import stats

    hue = _ctx(img).hsv[:, :, 0]
    return float(stats.circmean(hue, high=1, low=0)), float(stats.circstd(hue, high=1, low=0))


def color_stats(img) -> dict[str, float]:
    """RMS contrast, lightness and colour entropy, and channel means and SDs in RGB, Lab and HSV.

    Means and population SDs over all pixels: RGB in [0, 255], L* in [0, 100], a*/b* in
    about [-128, 127], S and V in [0, 1]. Hue is circular: ``mean_hsv_h``/``std_hsv_h`` are
    :func:`circular_hue_stats` (fractions of a turn).

    Returns:
        dict with the columns of ``MEASURES["color"]``.
    """
    c = _ctx(img)
    out = {"rms_contrast": rms_contrast(c), "luminance_entropy": luminance_entropy(c), "color_entropy": color_entropy(c)}
    rgb = c.rgb.astype(np.float64)
    for space, arr, names in (("", rgb, "rgb"), ("lab_", c.lab, "lab"), ("hsv_", c.hsv, "hsv")):
        m, s = arr.mean(axis=(0, 1)), arr.std(axis=(0, 1))
        for k, ch in enumerate(names):
            out[f"mean_{space}{ch}"], out[f"std_{space}{ch}"] = float(m[k]), float(s[k])
    out["mean_hsv_h"], out["std_hsv_h"] = circular_hue_stats(c)
    return {k: out[k] for k in MEASURES["color"]}


# --- edges: Gabor filter bank (Redies, Brachmann & Wagemans 2017) --------------------------

EDGE_PIXELS = 300 * 400  # images are resized (Lanczos) to about this many pixels
GABOR_BINS, GABOR_SIZE = 24, 31  # orientations over a full turn; filter side (px)
CIRC_BINS, MAX_DISTANCE, N_STRONGEST = 48, 500, 10000  # 2nd-order histogram: directions, distances (px), edges


@functools.lru_cache(maxsize=1)
def gabor_bank() -> np.ndarray:
    """The 24 odd-phase Gabor filters of the edge measures, ``float64 (24, 31, 31)``.

    Spatial frequency 1/8 cycle/px (octave 3), a half-response bandwidth of 4 octaves
    setting the Gaussian's sigma, orientations ``2*pi*k/24``; the Gaussian and the filter are
    each rounded to 4 decimals, as in the original code.
    """
    f = 0.5 ** 3
    hrsf = 4
    sigma = 1 / (np.pi * f) * np.sqrt(np.log(2) / 2) * (2.0 ** hrsf + 1) / (2.0 ** hrsf - 1)
    v = np.arange(-(GABOR_SIZE // 2), GABOR_SIZE // 2 + 1, dtype=np.float64)
    x, y = np.meshgrid(v, v)
    theta = np.linspace(0, 2 * np.pi, GABOR_BINS + 1)[:-1, None, None]
    omega = 2 * np.pi * f
    gauss = np.round(np.exp(-(x * x + y * y) / (2 * sigma * sigma)), 4)
    return np.round(gauss * np.cos(x * (omega * np.sin(theta)) + y * (omega * np.cos(theta)) + np.pi / 2), 4)


def _edge_image(gray: np.ndarray) -> np.ndarray:
    """Gray image resized with Lanczos to about :data:`EDGE_PIXELS` pixels, keeping the aspect ratio."""
    from PIL import Image

    h, w = gray.shape
    a = np.sqrt(EDGE_PIXELS / float(w * h))
    return np.asarray(Image.fromarray(gray).resize((int(w * a), int(h * a)), Image.Resampling.LANCZOS), dtype=np.float64)


def _nth_largest(v: np.ndarray, n: int) -> float:
    flat = v.ravel()
    return flat[np.argpartition(flat, flat.size - n)[flat.size - n]] if flat.size >= n else flat.min()


def gabor_responses(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Strongest Gabor response per pixel and its orientation bin.

    The 24 filters are convolved with the image (mirror-symmetric borders, as
    ``scipy.ndimage.convolve``'s default), all at once through ``scipy.signal.fftconvolve``.
    Pixels whose outcome FFT rounding could decide (within 1e-11 of the largest response
    from the 10,000-strongest cutoff, or from a tie between two filters) are recomputed as
    ``scipy.ndimage.convolve`` sums (:func:`_sequential_responses`).

    Args:
        gray: ``float64 (H, W)`` gray values in [0, 255].

    Returns:
        ``(value, bin)``: ``float64 (H, W)`` maximum response and ``int (H, W)`` its filter index.
    """
    from scipy.signal import fftconvolve

    r = GABOR_SIZE // 2
    padded = np.pad(gray, r, mode="symmetric")
    resp = fftconvolve(padded[None], gabor_bank(), mode="valid", axes=(1, 2))
    val, ori = resp.max(axis=0), resp.argmax(axis=0)
    second = np.partition(resp, GABOR_BINS - 2, axis=0)[GABOR_BINS - 2]
    band = 1e-11 * float(np.abs(val).max())
    cutoff = _nth_largest(val, N_STRONGEST)
    redo = (np.abs(val - cutoff) <= band) | ((val - second <= band) & (val >= cutoff - band))
    if redo.any():
        rows, cols = np.nonzero(redo)
        exact = _sequential_responses(padded, rows, cols)
        val[rows, cols], ori[rows, cols] = exact.max(axis=1), exact.argmax(axis=1)
    return val, ori


def _sequential_responses(padded: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """All 24 filter responses at a few pixels, summed term by term, ``(n, 24)``.

    ``scipy.ndimage.convolve`` (the original's filter) adds the products of the flipped
    kernel's non-zero weights in C order one after another; FFT convolution differs from it
    by ~1e-15 relative, which can swap two pixels tied at the 10,000-strongest cutoff or two
    filters tied for the maximum. Those few pixels are recomputed in ndimage's order.
    """
    k = GABOR_SIZE
    flipped = gabor_bank()[:, ::-1, ::-1].reshape(GABOR_BINS, -1)
    patches = np.stack([padded[r:r + k, c:c + k].ravel() for r, c in zip(rows, cols)])  # (n, 961)
    out = np.empty((len(rows), GABOR_BINS))
    for f in range(GABOR_BINS):
        nz = flipped[f] != 0
        out[:, f] = np.cumsum(patches[:, nz] * flipped[f, nz], axis=1)[:, -1]
    return out


def _bits(p: np.ndarray, axis=-1) -> np.ndarray:
    """Shannon entropy (bits) of histograms along ``axis`` (normalised first; 0 log 0 = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):  # empty histograms give NaN, dropped by the callers
        p = p / p.sum(axis=axis, keepdims=True)
        return -np.sum(np.where(p > 0, p * np.log2(np.where(p > 0, p, 1)), 0.0), axis=axis)


def _pair_histogram(ey, ex, orient, val, shape, *, chunk: int = 512) -> np.ndarray:
    """Weighted histogram (distance, direction, relative orientation) over all ordered edge pairs.

    For edge pixels i (reference) and j: distance ``round(|p_j - p_i|)`` px (capped at 499),
    direction ``round(atan2(dy, dx) * 48 / (2 pi) + 2 * o_i) mod 48`` (relative to the
    reference's orientation), relative orientation ``(o_j - o_i) mod 24``; weight
    ``v_i * v_j``. Distances and angles are looked up in tables over all offsets.
    """
    h, w = shape
    dy, dx = np.meshgrid(np.arange(-h, h + 1, dtype=np.float64), np.arange(-w, w + 1, dtype=np.float64), indexing="ij")
    dist = np.minimum(np.round(np.sqrt(dx ** 2 + dy ** 2)), MAX_DISTANCE - 1).astype(np.int64).ravel()
    angle = (np.arctan2(dy, dx) / (2.0 * np.pi) * CIRC_BINS).ravel()
    counts = np.zeros(MAX_DISTANCE * CIRC_BINS * GABOR_BINS)
    stride = 2 * w + 1
    pos_j = ey * stride + ex  # partners in raster order: each reference reads the tables sequentially
    for o in np.unique(orient):
        # the (distance, direction) part of the bin index for every offset, for references of orientation o
        base = dist * (CIRC_BINS * GABOR_BINS) + np.mod(np.round(angle + o / float(GABOR_BINS) * CIRC_BINS).astype(np.int64),
                                                        CIRC_BINS) * GABOR_BINS
        rel = np.mod(orient - o, GABOR_BINS)
        idx_i = np.flatnonzero(orient == o)
        for s in range(0, idx_i.size, chunk):
            ii = idx_i[s:s + chunk]
            off = pos_j[None, :] - (ey[ii] * stride + ex[ii])[:, None] + (h * stride + w)
            counts += np.bincount((base[off] + rel[None, :]).ravel(), weights=np.outer(val[ii], val).ravel(),
                                  minlength=counts.size)
    return counts.reshape(MAX_DISTANCE, CIRC_BINS, GABOR_BINS)


def edge_measures(img, *, second_order: bool = True) -> dict[str, float]:
    """Edge density and 1st- and 2nd-order edge-orientation entropy (Redies et al., 2017).

    The gray image is resized (Lanczos) to about 120,000 px keeping its aspect ratio and
    filtered with 24 oriented Gabor filters (:func:`gabor_bank`); each pixel keeps its
    strongest response and that filter's orientation.

    * ``edge_density``: mean strongest response over all pixels (filter-response units of a
      0-255 image, >= 0).
    * ``eoe_1st_order``: Shannon entropy (bits, [0, log2 24 = 4.585]) of the orientation
      histogram of the 10,000 strongest edge pixels, each weighted by its response.
    * ``eoe_2nd_order``: for every ordered pair of those pixels, the relative orientation is
      histogrammed per distance (1 px bins) and direction (48 bins, relative to the first
      pixel's orientation), weighted by the product of responses; the entropy (bits) of
      each histogram with a total weight > 1 is averaged over directions, then over
      distances 20-239 px.

    Args:
        img: RGB ``uint8`` array, ``(H, W, 3)``.
        second_order: compute ``eoe_2nd_order`` (the expensive part: 10^8 pairs).

    Returns:
        dict with ``edge_density``, ``eoe_1st_order`` and (if asked) ``eoe_2nd_order``.
    """
    val, ori = gabor_responses(_edge_image(_ctx(img).gray))
    out = {"edge_density": float(val.sum() / float(val.size))}
    cutoff = _nth_largest(val, N_STRONGEST)
    keep = (val >= cutoff) & (val != 0)
    first = np.bincount(ori[keep], weights=val[keep], minlength=GABOR_BINS)
    out["eoe_1st_order"] = float(_bits(first)) if first.sum() > 0 else 0.0
    if second_order:
        ey, ex = np.nonzero(keep)
        counts = _pair_histogram(ey, ex, ori[ey, ex], val[ey, ex], val.shape)
        total = counts.sum(axis=2)
        ent = np.where(total + 0.00001 > 1, _bits(counts), np.nan)  # the original's 1e-5 guard, then a > 1 test
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=RuntimeWarning)  # all-NaN distances are skipped
            out["eoe_2nd_order"] = float(np.nanmean(np.nanmean(ent, axis=1)[20:240]))
    return out


# --- Fourier spectrum ---------------------------------------------------------------------

def _ring_means(a: np.ndarray, *, floor_centre: bool = True) -> np.ndarray:
    """Mean of a square (N, N) spectrum over rings of integer radius 0..N/2 around the centre.

    Coordinates run from ``(-N)//2`` (``floor_centre``, Redies' rotavg) or from ``-N/2``
    (Olshausen's rot_avg.m, used by Spehar and Mather); the same for even N.
    """
    n = a.shape[0]
    v = np.arange((-n) // 2, n // 2) if floor_centre else np.arange(-n / 2, n / 2)
    rho = np.round(np.hypot(*np.meshgrid(v, v))).astype(np.int64).ravel()
    inside = rho <= n / 2
    sums = np.bincount(rho[inside], weights=a.ravel()[inside], minlength=n // 2 + 1)
    num = np.bincount(rho[inside], minlength=n // 2 + 1)
    with np.errstate(invalid="ignore"):
        return sums / num


def _redies_square(gray: np.ndarray) -> np.ndarray:
    """Longer side resized (Lanczos) to 1024 px, then padded to a square with the mean gray value."""
    from PIL import Image

    mean = np.round(np.mean(gray)).astype(np.uint8)
    h, w = gray.shape
    a = 1024 / float(max(w, h))
    img = np.asarray(Image.fromarray(gray).resize((int(w * a), int(h * a)), Image.Resampling.LANCZOS))
    h, w = img.shape
    if h == w:
        return img
    n = max(h, w)
    out = np.full((n, n), mean)
    c, half = n // 2, min(h, w) // 2
    lo, hi = c - half, c + half + min(h, w) % 2
    if h > w:
        out[:, lo:hi] = img
    else:
        out[lo:hi, :] = img
    return out


def fourier_redies(img, *, bin_size: int = 2, cycles_min: int = 10, cycles_max: int = 256) -> dict[str, float]:
    """Fourier slope and Fourier sigma after Redies et al. (2007) and Koch et al. (2010).

    The gray image's longer side is resized (Lanczos) to 1024 px, the shorter side padded
    with the mean gray value to a square. The radially averaged power spectrum (rings of
    integer radius) between ``cycles_min`` and ``cycles_max`` cycles/image is averaged in
    ``ceil((cycles_max - cycles_min) / bin_size)`` log-spaced bins; a straight line is fitted
    to the binned log10-log10 spectrum.

    Returns:
        ``fourier_slope_redies``: the line's slope (log10 power per log10 frequency; about
        -2 for natural scenes, negative, "[0, 5)" quoted as a magnitude by the toolbox);
        ``fourier_sigma``: variance of the unbinned log10 spectrum around that line, [0, inf).
    """
    sq = _redies_square(_ctx(img).gray).astype(np.float64)
    power = np.abs(np.fft.fftshift(np.fft.fft2(sq))) ** 2
    spec = _ring_means(power)
    cycles_max = min(cycles_max, spec.size)
    freq = np.arange(cycles_min, cycles_max + 1)
    lo, hi = cycles_min, cycles_max  # the bins run over frequencies lo..hi (cycles/image)
    n_bins = int(np.ceil((hi - lo) / bin_size))
    step = (np.log10(hi) - np.log10(lo)) / n_bins
    # bin edges 10**(log10(lo) + k*step), rounded down; scalar powers (C pow), as in the original
    edges = np.array([math.floor(10 ** float(np.log10(lo) + k * step)) for k in range(n_bins + 1)])
    start, stop = edges[:-1], np.minimum(edges[1:], spec.size)
    x = (start + stop) / 2.0
    y = np.array([spec[a - 1:b].mean() for a, b in zip(start, stop)])  # spectrum index k holds frequency k + 1
    slope, intercept = np.polyfit(np.log10(x), np.log10(y), 1)
    resid = slope * np.log10(freq) + intercept - np.log10(spec[freq - 1])
    return {"fourier_slope_redies": float(slope), "fourier_sigma": float(np.var(resid))}


def _cooks_distance(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Cook's distance of each point of an ordinary least-squares line ``y ~ a + b x``."""
    n = x.size
    xc = x - x.mean()
    b = np.dot(xc, y) / np.dot(xc, xc)
    resid = y - (y.mean() + b * xc)
    lev = 1 / n + xc ** 2 / np.dot(xc, xc)
    s2 = np.dot(resid, resid) / (n - 2)
    return resid ** 2 / (2 * s2) * lev / (1 - lev) ** 2


def fourier_slope_spehar(img) -> float:
    """Fourier slope after Isherwood, Spehar et al. (2021): amplitude spectrum, outliers removed.

    The gray image is trimmed to even sides and, if not square, centre-cropped to the largest
    power-of-two square; the rotationally averaged *amplitude* spectrum at 1..N/2
    cycles/image is fitted by a straight line on linear axes, points with Cook's distance
    > 4/n are dropped (mostly the lowest frequencies), and a line is fitted to the rest on
    natural-log axes.

    Returns:
        The log-log slope (log amplitude per log frequency; about -1 to -1.5 for natural
        images; negative).
    """
    g = _ctx(img).gray
    g = g[: g.shape[0] - g.shape[0] % 2, : g.shape[1] - g.shape[1] % 2]
    if g.shape[0] != g.shape[1]:
        s = min(2 ** int(np.log2(g.shape[0])), 2 ** int(np.log2(g.shape[1])))
        cy, cx = g.shape[0] // 2, g.shape[1] // 2
        g = g[cy - s // 2: cy + s // 2, cx - s // 2: cx + s // 2]
    n = g.shape[0]
    amp = _ring_means(np.abs(np.fft.fftshift(np.fft.fft2(g.astype(np.float64)))), floor_centre=False)
    x = np.arange(1, n // 2 + 1, dtype=np.float64)
    y = amp[1: n // 2 + 1]
    keep = ~(_cooks_distance(x, y) > 4 / x.size)
    return float(np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)[0])


def fourier_slope_mather(img) -> float:
    """Fourier slope after Mather (2014): power spectrum of the lightness of a centred square.

    The RGB image is centre-cropped to the largest power-of-two square, converted to CIELAB;
    L* is scaled to 0-255 and truncated to ``uint8``; the rotationally averaged power
    spectrum between N/50 and N/4 cycles/image is fitted on natural-log axes.

    Returns:
        Half the log-log slope of the power spectrum, i.e. the amplitude-spectrum slope
        (about -1 to -1.5 for natural images; negative). NaN when the shorter side is under
        128 px: the crop is then at most 64 px, and the fitted range, which starts at
        frequency ``round(N/50) - 1``, includes the DC term (log 0) or is empty; the
        toolbox's ``fourier_slope_mather`` raises there (numpy's "SVD did not converge").
    """
    c = _ctx(img)
    h, w = c.rgb.shape[:2]
    if min(h, w) < 128:
        return float("nan")
    half = int(2 ** (np.floor(np.log2(min(h, w))) - 1))
    cy, cx = h // 2, w // 2
    crop = c.lab[cy - half: cy + half, cx - half: cx + half, 0]  # rgb2lab is per pixel: the crop's Lab
    n = crop.shape[0]
    lum = (crop / 100.0 * 255.0).astype(np.uint8)
    power = np.abs(np.fft.fftshift(np.fft.fft2(lum.astype(np.float64) / 255))) ** 2
    spec = _ring_means(power, floor_centre=False)
    fmin, fmax = int(np.round((n / 2) * (1 / 25))), int(np.round((n / 2) * 0.5))
    f = np.arange(n // 2 + 1)[fmin - 1: fmax]
    with np.errstate(divide="ignore"):
        return float(np.polyfit(np.log(f), np.log(spec[fmin - 1: fmax]), 1)[0] / 2)


def fourier_measures(img) -> dict[str, float]:
    """All Fourier measures: :func:`fourier_redies`, :func:`fourier_slope_spehar`, :func:`fourier_slope_mather`."""
    c = _ctx(img)
    return {**fourier_redies(c), "fourier_slope_spehar": fourier_slope_spehar(c), "fourier_slope_mather": fourier_slope_mather(c)}


# --- fractal dimension --------------------------------------------------------------------

def fractal_dimension_2d(img) -> float:
    """Box-counting fractal dimension of the binarised image (Spehar et al.; range (1, 2)).

    The gray image is resized (bicubic) to a square of its shorter side, binarised at its
    mean (dark = 1), and boxes of 2, 4, 8, ... px are counted that hold part of an edge
    (boxes neither empty nor full, recursively on 2x2 blocks) while the grid is larger than
    6 px; the dimension is the log2-log2 slope of box counts against grid size, leaving out
    the finest scale.
    """
    from PIL import Image

    g = _ctx(img).gray
    h, w = g.shape
    if h != w:
        g = np.asarray(Image.fromarray(g).resize((min(h, w),) * 2, Image.Resampling.BICUBIC))
    b = (g < np.mean(g)).astype(np.int64)
    sizes, counts = [], []
    while b.shape[0] > 6:
        sizes.append(b.shape[0])
        counts.append(int(b.sum()))
        m = b.shape[0] // 2
        c = b[: 2 * m, : 2 * m].reshape(m, 2, m, 2).sum(axis=(1, 3))
        b = ((c > 0) & (c < 4)).astype(np.int64)
    return float(np.polyfit(np.log2(sizes[1:]), np.log2(counts[1:]), 1)[0])


def fractal_dimension_3d(img) -> float:
    """Differential box-counting fractal dimension of the gray-level surface (Mather, 2018).

    The gray image is centre-cropped to the largest power-of-two square (side N); for box
    sides s from ``2**ceil(log2(N**(1/3)))`` upward in steps of 2, the image is tiled with
    s x s boxes (columns overlapping by one pixel) and each box counts
    ``ceil((max - min) / (s / N))`` gray-level boxes (1 if flat); the dimension is the
    log-log slope of the total count against 1/s. Range (2, 3).
    """
    from numpy.lib.stride_tricks import sliding_window_view

    g = _ctx(img).gray
    nr, nc = g.shape
    side = int(2 ** np.floor(np.log2(min(nr, nc))))
    r0, c0 = int(round((nr - side) / 2)), int(round((nc - side) / 2))
    g = g[r0: r0 + side, c0: c0 + side]
    n = side
    bmin = 2 ** int(np.ceil(np.log2(n ** (1 / 3))))
    bmax = bmin
    while np.ceil(n / bmax + 1) <= np.ceil(n / (bmax - 1)):
        bmax += 1
    boxes = np.arange(bmin, bmax + 1, 2)
    heights = boxes * (1 / n)
    totals = np.zeros(boxes.size)
    for k, (s, bh) in enumerate(zip(boxes, heights)):
        win = sliding_window_view(g, (s, s))[np.arange(0, n - s - 1, s)][:, np.arange(0, n - s, s - 1)]
        hi, lo = win.max(axis=(-2, -1)), win.min(axis=(-2, -1))
        totals[k] = np.where(hi == lo, 1.0, np.ceil((hi - lo) / bh)).sum()
    return float(np.polyfit(np.log(1.0 / boxes), np.log(totals), 1)[0])


def fractal_measures(img) -> dict[str, float]:
    """Both fractal dimensions (:func:`fractal_dimension_2d`, :func:`fractal_dimension_3d`)."""
    c = _ctx(img)
    return {"fractal_dimension_2d": fractal_dimension_2d(c), "fractal_dimension_3d": fractal_dimension_3d(c)}


# --- PHOG (Braun et al., 2013; Redies & Gross, 2013) ------------------------------------

def _matlab_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB scaled to MATLAB's 8-bit ranges: L* to 0-255 (rounded), a* and b* + 128 (truncated)."""
    from skimage.color import rgb2lab

    lab = rgb2lab(rgb)
    out = np.empty(lab.shape, dtype=np.float64)
    out[:, :, 0] = np.round(lab[:, :, 0] / 100 * 255)
    out[:, :, 1:] = np.trunc(lab[:, :, 1:] + 128)
    return out.astype(np.uint16).astype(np.float64)


def phog(img, *, bins: int = 16, levels: int = 3, weights=(1, 1, 1)) -> dict[str, float]:
    """PHOG self-similarity, complexity and anisotropy (pyramid of histograms of oriented gradients).

    Gradients (``numpy.gradient``) of the image in MATLAB-scaled CIELAB (:func:`_matlab_lab`);
    per pixel the channel with the largest absolute x (and, separately, y) derivative wins.
    Orientations over 360 degrees fall in ``bins`` bins centred on multiples of 360/bins;
    histograms weighted by gradient magnitude are taken over the whole image and over
    2^l x 2^l cells at levels l = 1..``levels`` (no resizing: the toolbox's default).

    Returns:
        ``phog_self_similarity``: per level, the median over cells of the histogram
        intersection between the cell's and the whole image's normalised histograms, times
        the ratio of their (area-scaled) mean strengths; averaged over levels with ``weights``
        ([0, 1]).
        ``phog_complexity``: mean gradient magnitude (Lab units per px).
        ``phog_anisotropy``: SD of all bins of the top-level cells' normalised histograms,
        after all histograms together are scaled to sum 1 (small, >= 0).
    """
    lab = _matlab_lab(_ctx(img).rgb)
    gy, gx = np.gradient(lab, axis=(0, 1))

    def absmax(a):
        hi, lo = a.max(axis=2), a.min(axis=2)
        return np.where(-lo > hi, lo, hi)

    gx, gy = absmax(gx), absmax(gy)
    mag = np.sqrt(gx ** 2 + gy ** 2)
    gx[gx == 0] = 1e-5  # the original's guard, which also decides the angle of flat pixels
    angle = (np.arctan2(gy, gx) + np.pi) * 180 / np.pi
    width = 360 / bins
    edges = np.arange(1, bins + 1) * width - width / 2  # bin b covers [b*w - w/2, (b+1)*w - w/2), bin 0 wraps
    obin = np.searchsorted(edges, angle, side="right") % bins
    h, w = angle.shape
    hists = [np.bincount(obin.ravel(), weights=mag.ravel(), minlength=bins)[None]]
    for lvl in range(1, levels + 1):
        k = 2 ** lvl
        if w / k < 1 or h / k < 1:
            raise ValueError(f"img: {w}x{h} px is too small for {levels} PHOG levels")
        # cell borders as MATLAB rounds them; cells run x-major (columns outer), as in the original
        cx = np.searchsorted(np.round(np.arange(1, k) * (w / k)), np.arange(w), side="right")
        cy = np.searchsorted(np.round(np.arange(1, k) * (h / k)), np.arange(h), side="right")
        cell = (cx[None, :] * k + cy[:, None]) * bins + obin
        hists.append(np.bincount(cell.ravel(), weights=mag.ravel(), minlength=k * k * bins).reshape(k * k, bins))
    raw = np.concatenate(hists)  # (1 + 4 + 16 + 64, bins)
    sums = raw.sum(axis=1, keepdims=True)
    norm = np.divide(raw, sums, out=raw.copy(), where=sums != 0)
    glob = norm.ravel() / norm.sum() if norm.sum() != 0 else norm.ravel()
    anisotropy = float(np.std(glob.reshape(norm.shape)[-(4 ** levels):]))
    ref, m1 = norm[0], raw[0].mean()
    start = 1
    medians = []
    for lvl in range(1, levels + 1):
        part = slice(start, start + 4 ** lvl)
        m2 = raw[part].mean(axis=1) * 4 ** lvl
        strength = np.where((m1 < 1e-8) | (m2 < 1e-8), 0.0, np.minimum(m1, m2) / np.maximum(np.maximum(m1, m2), 1e-300))
        inter = np.minimum(ref[None], norm[part]).sum(axis=1) * strength
        ok = (ref.max() > 1e-8) & (norm[part].max(axis=1) > 1e-8)
        medians.append(float(np.median(np.where(ok, inter, 0.0))))
        start += 4 ** lvl
    self_sim = sum(m * wt for m, wt in zip(medians, weights)) / sum(weights)
    return {"phog_self_similarity": float(self_sim), "phog_complexity": float(mag.mean()), "phog_anisotropy": anisotropy}


# --- CNN (AlexNet conv1; Brachmann & Redies 2016, 2017) ------------------------------------

CNN_SIZE = 512  # px; the image is resized (bilinear, anti-aliased) to CNN_SIZE x CNN_SIZE
CNN_STRIDE = 4


@dataclass(frozen=True, eq=False)
class Conv1:
    """First-layer filters for the CNN measures, applied to a 0-255 RGB image minus ``mean``.

    Attributes:
        weight: ``float (n_filters, 3, kh, kw)``, input channels in RGB order, per 0-255 unit.
        bias: ``float (n_filters,)``.
        mean: ``float (3,)`` RGB values (0-255 scale) subtracted from the resized image.
        source: where the filters come from, for labels ("pretrained", "random", "toolbox").
        description: one line for titles and manifests.
    """

    weight: np.ndarray
    bias: np.ndarray
    mean: np.ndarray
    source: str
    description: str = ""

    @property
    def is_stand_in(self) -> bool:
        return self.source == "random"


# Caffe's ImageNet mean of bvlc_alexnet in BGR order, as the toolbox subtracts it (AT/CNN_qips.py).
CAFFE_MEAN_BGR = (104.00698793, 116.66876762, 122.67891434)
# torchvision's AlexNet_Weights.IMAGENET1K_V1 transforms (ImageClassification defaults).
TORCHVISION_MEAN, TORCHVISION_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that rebuilds numpy arrays and nothing else (no arbitrary code)."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar")}

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays are allowed")


def toolbox_conv1(path) -> Conv1:
    """The Aesthetics Toolbox's conv1 filters (Caffe ``bvlc_alexnet``), from its ``.npy`` or an ``.npz``.

    Args:
        path: the toolbox's ``AT/bvlc_alexnet_conv1.npy`` (a pickled ``[kernel, bias]`` pair,
            read with a numpy-arrays-only unpickler) or an ``.npz`` with ``kernel``
            ``(11, 11, 3, 96)`` (BGR input channels) and ``bias`` ``(96,)``.

    Returns:
        :class:`Conv1` with the filters reordered to RGB input and the Caffe mean.
    """
    from pathlib import Path

    p = Path(path)
    if p.suffix == ".npz":
        with np.load(p, allow_pickle=False) as z:
            kernel, bias = z["kernel"], z["bias"]
    else:
        with open(p, "rb") as fh:
            major, _ = np.lib.format.read_magic(fh)
            read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(fh)
            if dtype.hasobject:
                kernel, bias = _NumpyOnlyUnpickler(fh, encoding="latin1").load()
            else:
                raise ValueError(f"{p}: expected the toolbox's pickled [kernel, bias] pair, got a plain {dtype} array {shape}")
    kernel, bias = np.asarray(kernel), np.asarray(bias)
    if kernel.ndim != 4 or kernel.shape[2] != 3 or bias.shape != (kernel.shape[3],):
        raise ValueError(f"{p}: expected kernel (kh, kw, 3, n) and bias (n,), got {kernel.shape} and {bias.shape}")
    weight = kernel.transpose(3, 2, 0, 1)[:, ::-1]  # (n, BGR, kh, kw) -> (n, RGB, kh, kw)
    return Conv1(np.ascontiguousarray(weight), bias, np.array(CAFFE_MEAN_BGR[::-1]), "toolbox",
                 f"Aesthetics Toolbox conv1 (Caffe bvlc_alexnet, 96 filters) from {p.name}")


def alexnet_conv1(*, source: str = "auto", path=None, seed: int = 0, progress: bool = True) -> Conv1:
    """torchvision's AlexNet conv1 (64 filters, 11x11) through :func:`helpers.models.load`.

    torchvision's preprocessing (``x / 255``, minus ``TORCHVISION_MEAN``, over
    ``TORCHVISION_STD``) is folded into the filters, so they act on a 0-255 image minus
    ``255 * TORCHVISION_MEAN``. Stride 4 and no padding, as the toolbox's measures use
    (torchvision's network pads by 2). These filters differ from the toolbox's Caffe
    filters, and so do the measures' values.

    Args:
        source: ``"pretrained"``/``"auto"`` (real weights, downloaded on first use) or
            ``"random"`` (seeded stand-in, labelled as such).
        path: local ``alexnet-owt-7be5be79.pth`` (offline machines).
        seed: seed of the stand-in.
        progress: show download progress.
    """
    from helpers import models

    net = models.load("alexnet", source=source, path=path, seed=seed, progress=progress)
    conv = net.features[0]
    std = np.array(TORCHVISION_STD)
    weight = conv.weight.detach().double().cpu().numpy() / (255.0 * std)[None, :, None, None]
    return Conv1(weight, conv.bias.detach().double().cpu().numpy(), 255.0 * np.array(TORCHVISION_MEAN),
                 "random" if models.is_stand_in(net) else "pretrained", models.describe(net))


_DEFAULT_CONV1: list = []  # [Conv1] or [the exception]: one attempt per process, not one download per image


def _default_conv1() -> Conv1:
    from helpers import models

    if not _DEFAULT_CONV1:
        try:
            _DEFAULT_CONV1.append(alexnet_conv1(source="auto"))
        except (models.WeightsUnavailable, models.WeightsFileError) as exc:
            _DEFAULT_CONV1.append(exc)
    if isinstance(_DEFAULT_CONV1[0], Exception):
        raise _DEFAULT_CONV1[0]
    return _DEFAULT_CONV1[0]


def cnn_responses(rgb: np.ndarray, conv: Conv1, *, device="cpu") -> np.ndarray:
    """ReLU conv1 responses of the image resized to 512 x 512, ``float64 (n_filters, 126, 126)``.

    The image (as ``float32``) is resized with ``skimage.transform.resize`` (bilinear,
    anti-aliased), ``conv.mean`` is subtracted, and the filters are applied with stride 4
    and no padding (``torch.nn.functional.conv2d`` in float64).
    """
    import torch
    from skimage.transform import resize

    x = resize(rgb.astype(np.float32), (CNN_SIZE, CNN_SIZE), order=1) - conv.mean
    dev = torch.device(device)
    dtype = torch.float64 if dev.type != "mps" else torch.float32  # MPS has no float64
    w = torch.as_tensor(conv.weight, dtype=dtype, device=dev)
    b = torch.as_tensor(conv.bias, dtype=dtype, device=dev)
    t = torch.as_tensor(np.ascontiguousarray(x.transpose(2, 0, 1)), dtype=dtype, device=dev)[None]
    with torch.no_grad():
        out = torch.relu(torch.nn.functional.conv2d(t, w, b, stride=CNN_STRIDE))
    return out[0].cpu().numpy().astype(np.float64)


def _max_pool(resp: np.ndarray, patches: int) -> np.ndarray:
    """Maximum of each filter's response over a ``patches x patches`` grid, ``(p, p, n_filters)``."""
    _, ih, iw = resp.shape
    ph, pw = ih / float(patches), iw / float(patches)
    # cell borders int(k*ph) .. int(k*ph + ph), computed as the original computes them
    rows = [(int(k * ph), int(k * ph + ph)) for k in range(patches)]
    cols = [(int(k * pw), int(k * pw + pw)) for k in range(patches)]
    by_row = np.stack([resp[:, a:b, :].max(axis=1) for a, b in rows], axis=1)  # (n, p, iw)
    return np.stack([by_row[:, :, a:b].max(axis=2) for a, b in cols], axis=2).transpose(1, 2, 0)


def _normalise(pool: np.ndarray) -> np.ndarray:
    return pool / pool.sum(axis=2, keepdims=True)


def _pool_similarity(a: np.ndarray, b: np.ndarray) -> float:
    return float(1.0 - np.abs(a - b).sum() / np.maximum(a, b).sum())


def cnn_measures(img, *, cnn: Conv1 | None = None, device="cpu") -> dict[str, float]:
    """CNN self-similarity, symmetry, sparseness and variability from AlexNet conv1 responses.

    Responses as :func:`cnn_responses`; per filter the maximum over a grid of patches,
    normalised over filters per patch where stated.

    * ``cnn_self_similarity``: median over an 8x8 grid of the histogram intersection between
      each patch's normalised filter histogram and the whole image's ([0, 1]).
    * ``cnn_symmetry_lr``/``_ud``/``_lrud``: ``1 - sum|P - P'| / sum max(P, P')`` between the
      17x17 max-pooling maps of the image and of its left-right, up-down and both-ways flipped
      copy, each flipped before resizing ([0, 1]).
    * ``cnn_sparseness``: variance of the normalised 22x22 map (empirically 0-0.0014).
    * ``cnn_variability``: median over filters of the variance of the normalised 12x12 map
      (empirically 0-0.0001).

    Args:
        img: RGB ``uint8`` array, ``(H, W, 3)``.
        cnn: the conv1 filters; ``None`` loads torchvision's pretrained AlexNet
            (:func:`alexnet_conv1`). The toolbox's values need the toolbox's own filters:
            ``cnn=toolbox_conv1(".../AT/bvlc_alexnet_conv1.npy")``.
        device: torch device for the convolutions.
    """
    rgb = _ctx(img).rgb
    conv = cnn if cnn is not None else _default_conv1()
    resp = cnn_responses(rgb, conv, device=device)
    whole = _normalise(_max_pool(resp, 1))
    grid8 = _normalise(_max_pool(resp, 8))
    out = {"cnn_self_similarity": float(np.median(np.minimum(whole, grid8).sum(axis=2)))}
    p17 = _max_pool(resp, 17)
    for key, flipped in (("lr", rgb[:, ::-1]), ("ud", rgb[::-1]), ("lrud", rgb[::-1, ::-1])):
        out[f"cnn_symmetry_{key}"] = _pool_similarity(p17, _max_pool(cnn_responses(flipped, conv, device=device), 17))
    out["cnn_sparseness"] = float(np.var(_normalise(_max_pool(resp, 22))))
    out["cnn_variability"] = float(np.median(np.var(_normalise(_max_pool(resp, 12)), axis=(0, 1))))
    return {k: out[k] for k in MEASURES["cnn"]}


# --- balance and symmetry (Huebner & Fillinger, 2016) --------------------------------------

def _dark_positive(gray: np.ndarray, *, count_127_twice: bool) -> np.ndarray:
    """The gray image, inverted unless dark pixels (< 128) outnumber light ones, so content is high."""
    counts = np.bincount(gray.ravel(), minlength=256)
    light = counts[127:].sum() if count_127_twice else counts[128:].sum()
    return (255 - gray) if counts[:128].sum() <= light else gray


def balance(img) -> float:
    """Balance (Hübner & Fillinger, 2016): mean imbalance of "mass" over 8 partitions, in percent.

    The gray image is inverted if light pixels are at least as many as dark ones (grey level
    127 counted on both sides, as in the MATLAB original). For the left/right and top/bottom
    halves, the two diagonals, and the matching inner/outer partitions (outer quarters;
    triangles beyond 1/sqrt(2) of a side), the absolute difference of summed gray values is
    divided by the total; the 8 percentages are averaged. [0, 100]; 0 = balanced.
    """
    im = _dark_positive(_ctx(img).gray, count_127_twice=True).astype(np.int64)
    hgt, wid = im.shape
    total = im.sum() or 1

    def pct(a, b):
        return abs(a - b) / total * 100

    def inner_outer(outer):
        return abs((total - outer) - outer) / total * 100

    col, row = im.sum(axis=0), im.sum(axis=1)
    w2, h2, w4, h4 = wid // 2, hgt // 2, wid // 4, hgt // 4
    r, c = np.indices(im.shape)
    diag = c - r  # np.triu(m, k) keeps diag >= k, np.tril(m, k) keeps diag <= k
    b1, b2 = hgt - int(hgt * (1 / np.sqrt(2))), wid - int(wid * (1 / np.sqrt(2)))
    rot = np.rot90(im)
    rr, rc = np.indices(rot.shape)
    rdiag = rc - rr
    parts = [
        pct(col[:w2].sum(), col[wid - w2:].sum()), inner_outer(col[:w4].sum() + col[wid - w4:].sum()),
        pct(row[:h2].sum(), row[hgt - h2:].sum()), inner_outer(row[:h4].sum() + row[hgt - h4:].sum()),
        pct(im[diag >= 1].sum(), im[diag <= -1].sum()), inner_outer(im[diag <= -b1].sum() + im[diag >= b2].sum()),
        pct(rot[rdiag >= 1].sum(), rot[rdiag <= -1].sum()), inner_outer(rot[rdiag <= -b2].sum() + rot[rdiag >= b1].sum()),
    ]
    return float(sum(parts) / 8)


def dcm(img) -> dict[str, float]:
    """Deviation of the centre of "mass" (Hübner & Fillinger, 2016).

    The gray image is inverted if light pixels (>= 128) are at least as many as dark ones;
    its centre of mass (gray values as mass) is rounded to whole pixels (1-based).

    Returns:
        ``dcm_x``, ``dcm_y``: 0.5 minus the centre's position as a fraction of width/height
        (positive = left of / above the centre, [-0.5, 0.5]); ``dcm_distance``: their
        Euclidean norm over 0.5, in percent ([0, ~141]).
    """
    im = _dark_positive(_ctx(img).gray, count_127_twice=False)
    hgt, wid = im.shape
    total = im.sum(dtype=np.float64)
    x = (np.round((im.sum(axis=0, dtype=np.float64) * np.arange(wid)).sum() / total) + 1) / wid
    y = (np.round((im.sum(axis=1, dtype=np.float64) * np.arange(hgt)).sum() / total) + 1) / hgt
    dx, dy = 0.5 - x, 0.5 - y
    return {"dcm_distance": float(np.sqrt(dx ** 2 + dy ** 2) / 0.5 * 100), "dcm_x": float(dx), "dcm_y": float(dy)}


def mirror_symmetry(img) -> float:
    """Mirror symmetry of the Otsu-binarised image (Hübner & Fillinger, 2016), in percent.

    Dark pixels (gray <= Otsu's threshold) that have a dark mirror partner are counted about
    the horizontal and vertical midlines (and, for square images, both diagonals), each pair
    weighted from 1 at the border to 2 next to the axis; each axis' sum is scaled so an
    all-dark image gives 1, and the axes are averaged. [0, 100].
    """
    from skimage.filters import threshold_otsu

    g = _ctx(img).gray
    bw = (g <= threshold_otsu(g)).astype(np.float64)
    hgt, wid = bw.shape

    def axis_score(b):  # mirror about the horizontal midline; rows j from the top pair with rows h-1-j
        n = b.shape[0] // 2
        pairs = (b[:n] * b[::-1][:n]).sum(axis=1)
        return float((pairs * (1 + np.arange(n) / (n - 1))).sum() * (2 / (3 * b.shape[1] * n)))

    scores = [axis_score(bw), axis_score(bw.T)]
    if hgt == wid:
        i, j = np.tril_indices(hgt, -1)  # below the diagonal: partner (j, i), weight 1 + (j + 1) / i
        wts = 1 + (j + 1) / i
        norm = 2 / (3 * hgt * (wid - 1) / 2)
        for b in (bw, np.rot90(bw)):
            scores.append(float((b[i, j] * b[j, i] * wts).sum() * norm))
    return float(np.mean(scores) * 100)


def homogeneity(img) -> float:
    """Homogeneity (Hübner & Fillinger, 2016): evenness of "mass" over a 10x10 grid, in percent.

    The gray image is inverted as for :func:`balance`, binarised above Otsu's threshold, and
    the foreground pixels are counted in 10 column and 10 row strips (leftover pixels join
    the last strip); the Shannon entropies of the column and row distributions, as a
    percentage of log2(10), are averaged. [0, 100]; 100 = evenly spread.
    """
    from skimage.filters import threshold_otsu

    im = _dark_positive(_ctx(img).gray, count_127_twice=True)
    bw = im > threshold_otsu(im)
    hgt, wid = bw.shape
    cols = np.bincount(np.minimum(np.arange(wid) // (wid // 10), 9), weights=bw.sum(axis=0), minlength=10)
    rows = np.bincount(np.minimum(np.arange(hgt) // (hgt // 10), 9), weights=bw.sum(axis=1), minlength=10)
    total = cols.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        return float((_bits(cols / total) + _bits(rows / total)) / 2 / np.log2(10) * 100)


def balance_measures(img) -> dict[str, float]:
    """Mirror symmetry, balance, DCM and homogeneity (see each function)."""
    c = _ctx(img)
    return {"mirror_symmetry": mirror_symmetry(c), "balance": balance(c), **dcm(c), "homogeneity": homogeneity(c)}


# --- all together -------------------------------------------------------------------------

def _expand(which) -> list[str]:
    if which is None:
        return list(COLUMNS)
    if isinstance(which, str):
        which = [which]
    cols = []
    for name in which:
        if name in MEASURES:
            cols.extend(MEASURES[name])
        elif name in COLUMNS:
            cols.append(name)
        else:
            import difflib

            close = difflib.get_close_matches(str(name), [*MEASURES, *COLUMNS], n=1, cutoff=0.5)
            raise ValueError(f"which: unknown measure {name!r}; expected a group {tuple(MEASURES)} or a column of "
                             "helpers.aesthetics.COLUMNS" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return list(dict.fromkeys(cols))


class MeasuresIncomplete(RuntimeError):
    """Raised by :func:`measure` when the CNN measures could not run (no AlexNet weights on an
    offline machine, a weights file that fails its check): ``values`` holds every requested
    column, the CNN ones NaN, and ``errors`` says why, so a table keeps the other measures."""

    def __init__(self, values: dict, errors: list[str]):
        super().__init__("; ".join(errors))
        self.values, self.errors = values, errors


def measure(img, *, which=None, cnn: Conv1 | None = None, device="cpu") -> dict[str, float]:
    """Compute the measures of empirical aesthetics of one image.

    Args:
        img: RGB ``uint8`` array, ``(H, W, 3)``, both sides >= 32 px.
        which: group names of :data:`MEASURES` and/or column names of :data:`COLUMNS`
            (a string or an iterable); ``None`` = all. Groups share their work: asking for
            ``edge_density`` alone skips the 2nd-order entropy, for example.
        cnn: conv1 filters of the CNN measures (:class:`Conv1`); ``None`` = torchvision's
            pretrained AlexNet (:func:`alexnet_conv1`); the toolbox's values need
            :func:`toolbox_conv1`.
        device: torch device of the CNN convolutions.

    Returns:
        ``{column: float}`` in the order of :data:`COLUMNS`; :data:`TOOLBOX_COLUMNS` gives the
        toolbox's name of each.

    Raises:
        ValueError: ``img`` is not an RGB uint8 array of at least 32 x 32 px, or ``which``
            names an unknown measure.
        MeasuresIncomplete: the CNN weights are unavailable or fail their check; its
            ``values`` carry the other measures (``features.table`` keeps them and notes why).
    """
    cols = _expand(which)
    c = _Image(img)
    want = set(cols)
    out: dict[str, float] = {}
    if want & set(MEASURES["size"]):
        out.update(image_size=float(image_size(c)), aspect_ratio=aspect_ratio(c))
    if want & set(MEASURES["color"]):
        out.update(color_stats(c))
    if want & set(MEASURES["edges"]):
        out.update(edge_measures(c, second_order="eoe_2nd_order" in want))
    if want & {"fourier_slope_redies", "fourier_sigma"}:
        out.update(fourier_redies(c))
    if "fourier_slope_spehar" in want:
        out["fourier_slope_spehar"] = fourier_slope_spehar(c)
    if "fourier_slope_mather" in want:
        out["fourier_slope_mather"] = fourier_slope_mather(c)
    if "fractal_dimension_2d" in want:
        out["fractal_dimension_2d"] = fractal_dimension_2d(c)
    if "fractal_dimension_3d" in want:
        out["fractal_dimension_3d"] = fractal_dimension_3d(c)
    if want & set(MEASURES["phog"]):
        out.update(phog(c))
    errors = []
    if want & set(MEASURES["cnn"]):
        from helpers import models

        try:
            out.update(cnn_measures(c, cnn=cnn, device=device))
        except (models.WeightsUnavailable, models.WeightsFileError) as exc:
            errors.append(f"CNN measures left empty: {type(exc).__name__}: {exc}")
            out.update(dict.fromkeys(MEASURES["cnn"], float("nan")))
    if want & set(MEASURES["balance"]):
        out.update(balance_measures(c))
    values = {k: float(out[k]) for k in cols}
    if errors:
        raise MeasuresIncomplete(values, errors)
    return values

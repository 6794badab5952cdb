"""Edge measures of the Aesthetics Toolbox: Canny-free Gabor edge density and edge-orientation entropy, and PHOG.

Edge-orientation entropy and edge density from a Gabor filter bank (Redies, Brachmann & Wagemans 2017);
PHOG self-similarity, complexity and anisotropy (Braun et al. 2013; Redies & Gross 2013). Definitions,
sizes, bins and thresholds as the toolbox's ``AT/*_qips.py`` (see :mod:`helpers.measures.aesthetics`).
"""
from __future__ import annotations

import functools
import warnings

import numpy as np
from PIL import Image
from scipy.signal import fftconvolve
from skimage.color import rgb2lab

from helpers.measures.aesthetics_base import entropy_bits, toolbox_image

EDGE_PIXELS = 300 * 400  # images are resized (Lanczos) to about this many pixels


GABOR_BINS, GABOR_SIZE = 24, 31  # orientations over a full turn; filter side (px)


CIRC_BINS, MAX_DISTANCE, N_STRONGEST = 48, 500, 10000  # 2nd-order histogram: directions, distances (px), edges


@functools.lru_cache(maxsize=1)
def gabor_bank() -> np.ndarray:
    """The 24 odd-phase Gabor filters of the edge measures, ``float64 (24, 31, 31)``.

    Spatial frequency 1/8 cycle/px (octave 3), a half-response bandwidth of 4 octaves
    setting the Gaussian's sigma, orientations ``2*pi*k/24``; the Gaussian and the filter are
    each rounded to 4 decimals, as in the original code.

    Used in: notebook 02 through :func:`helpers.measures.table.table` (measure group ``"aesthetics"``).
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

    Used in: notebook 02 through :func:`helpers.measures.table.table` (measure group ``"aesthetics"``).
    """
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

    Used in: notebook 02 through :func:`helpers.measures.table.table` (measure group ``"aesthetics"``).
    """
    val, ori = gabor_responses(_edge_image(toolbox_image(img).gray))
    out = {"edge_density": float(val.sum() / float(val.size))}
    cutoff = _nth_largest(val, N_STRONGEST)
    keep = (val >= cutoff) & (val != 0)
    first = np.bincount(ori[keep], weights=val[keep], minlength=GABOR_BINS)
    out["eoe_1st_order"] = float(entropy_bits(first)) if first.sum() > 0 else 0.0
    if second_order:
        ey, ex = np.nonzero(keep)
        counts = _pair_histogram(ey, ex, ori[ey, ex], val[ey, ex], val.shape)
        total = counts.sum(axis=2)
        ent = np.where(total + 0.00001 > 1, entropy_bits(counts), np.nan)  # the original's 1e-5 guard, then a > 1 test
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=RuntimeWarning)  # all-NaN distances are skipped
            out["eoe_2nd_order"] = float(np.nanmean(np.nanmean(ent, axis=1)[20:240]))
    return out


def _matlab_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB scaled to MATLAB's 8-bit ranges: L* to 0-255 (rounded), a* and b* + 128 (truncated)."""
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

    Used in: notebook 02 through :func:`helpers.measures.table.table` (measure group ``"aesthetics"``).
    """
    lab = _matlab_lab(toolbox_image(img).rgb)
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

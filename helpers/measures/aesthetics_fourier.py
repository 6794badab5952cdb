"""Fourier slopes and fractal dimensions of the Aesthetics Toolbox (Redies; Spehar; Mather; box counting).

Definitions, sizes, bins and fits as the toolbox's ``AT/*_qips.py`` (see :mod:`helpers.measures.aesthetics`).
"""
from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image

from helpers.measures.aesthetics_base import toolbox_image

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

    Used in: notebook 02 through :func:`helpers.measures.table.table` (measure group ``"aesthetics"``).
    """
    sq = _redies_square(toolbox_image(img).gray).astype(np.float64)
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

    Used in: notebook 02 through :func:`helpers.measures.table.table` (measure group ``"aesthetics"``).
    """
    g = toolbox_image(img).gray
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

    Used in: notebook 02 through :func:`helpers.measures.table.table` (measure group ``"aesthetics"``).
    """
    c = toolbox_image(img)
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


def fractal_dimension_2d(img) -> float:
    """Box-counting fractal dimension of the binarised image (Spehar et al.; range (1, 2)).

    The gray image is resized (bicubic) to a square of its shorter side, binarised at its
    mean (dark = 1), and boxes of 2, 4, 8, ... px are counted that hold part of an edge
    (boxes neither empty nor full, recursively on 2x2 blocks) while the grid is larger than
    6 px; the dimension is the log2-log2 slope of box counts against grid size, leaving out
    the finest scale.

    Used in: notebook 02 through :func:`helpers.measures.table.table` (measure group ``"aesthetics"``).
    """
    g = toolbox_image(img).gray
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

    Used in: notebook 02 through :func:`helpers.measures.table.table` (measure group ``"aesthetics"``).
    """
    g = toolbox_image(img).gray
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

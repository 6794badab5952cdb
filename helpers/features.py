"""Per-image measures: colour, compressed size, clutter, Fourier spectrum and edges.

Every measure is a function of one image. ``image`` is either a uint8 HxWx3 RGB array or
a path; both go through :func:`helpers.io.read_image`, which converts grayscale, RGBA,
palette and 16-bit images to 8-bit RGB and raises :class:`helpers.io.ImageReadError`
naming the file when it cannot.

==========================  ===============================================================
function                    returns
==========================  ===============================================================
:func:`color_stats`         mean hue (arithmetic and circular), saturation, brightness (HSV)
:func:`jpeg_size`           bytes of the image saved as JPEG (quality 75 by default)
:func:`png_size`            bytes of the image saved as PNG (lossless complexity proxy)
:func:`feature_congestion`  Rosenholtz et al. (2007) Feature Congestion clutter (+ maps)
:func:`subband_entropy`     Rosenholtz et al. (2007) Sub-band Entropy clutter
:func:`radial_spectrum`     radially averaged Fourier amplitude/power and power-law slope
:func:`edge_density`        fraction of pixels that are Canny edges
:func:`table`               all of the above for many images, parallel and cached
==========================  ===============================================================
"""
from __future__ import annotations

import io as _io
import math

import numpy as np

from helpers import io


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
    """Mean hue, saturation and brightness in HSV (``skimage.color.rgb2hsv``).

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
    from skimage.color import rgb2hsv

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

"""Fourier amplitude spectra and Canny edges of images (Paper 2, Supplementary A4 / Figure S6).

:func:`radial_spectrum` (radially averaged amplitude and power, power-law slope) and :func:`edge_density`
measure one image; :func:`spectra_edges` measures groups of images (perturbed, original, natural), and
:func:`natural_images` gives the natural photographs they are compared with.
"""
from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import skimage.data
from PIL import Image
from skimage.color import rgb2gray
from skimage.feature import canny

from helpers import io

def _luminance(rgb: np.ndarray) -> np.ndarray:
    """float64 HxW luminance in [0, 1] (Rec. 709 weights, as ``skimage.color.rgb2gray``)."""
    return rgb2gray(rgb).astype(np.float64)


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

    Used in: notebooks 02 and 08 through :func:`helpers.measures.table.table`; notebook 05 (Supplementary A4 / S6,
        p2-spectra-edges.csv) through :func:`helpers.measures.spectra.spectra_edges`.
    """
    lum = _luminance(io.read_image(image))
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

    Used in: notebooks 02 and 08 through :func:`helpers.measures.table.table`; notebook 05 (Supplementary A4 / S6,
        p2-spectra-edges.csv) through :func:`helpers.measures.spectra.spectra_edges`.
    """
    return float(canny(_luminance(io.read_image(image)), sigma=float(sigma)).mean())
NATURAL_SKIMAGE = ("astronaut", "camera", "chelsea", "coffee", "rocket", "grass", "gravel", "brick")


def natural_images(folder=None, *, size: int = 256, limit: int | None = None) -> dict:
    """Natural photographs, centre-cropped to squares and resized to ``size`` (uint8 HxWx3).

    Args:
        folder: folder of images (``*.png``, ``*.jpg``, ``*.jpeg``, ``*.JPEG``, searched recursively,
            e.g. a few ImageNet validation images as in the paper); ``None``: photographs that ship
            inside scikit-image (:data:`NATURAL_SKIMAGE`, no download).
        size: side length in pixels (the generator's 256 by default, so wavenumbers compare).
        limit: at most this many images (sorted by name).

    Returns:
        ``{name: uint8 (size, size, 3)}``; unreadable files are skipped with a warning.

    Used in: notebook 05 (Supplementary A4 / S6, p2-spectra-edges.csv).
    """
    if folder is None:
        sources = {n: (lambda n=n: getattr(skimage.data, n)()) for n in NATURAL_SKIMAGE}
    else:
        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"NATURAL_IMAGES folder {folder} does not exist or is not a folder")
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
        if not files:
            raise FileNotFoundError(f"NATURAL_IMAGES folder {folder} holds no .png/.jpg/.jpeg images")
        sources = {str(p.relative_to(folder)): (lambda p=p: p) for p in files}
    out = {}
    for name, get in list(sources.items())[:limit]:
        try:
            img = io.read_image(get())
        except io.ImageReadError as exc:
            warnings.warn(f"natural_images: skipping {name}: {exc}", stacklevel=2)
            continue
        h, w = img.shape[:2]
        s = min(h, w)
        crop = img[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
        out[name] = np.asarray(Image.fromarray(crop).resize((size, size), Image.Resampling.LANCZOS))
    return out


def spectra_edges(groups: dict, *, sigma: float = 2.0):
    """Radial amplitude spectra and Canny edge densities of image groups (:func:`radial_spectrum`, :func:`edge_density`).

    Args:
        groups: ``{group name: {image name: uint8 HxWx3}}`` (e.g. perturbed / original / natural).
        sigma: Canny smoothing in pixels.

    Returns:
        (per-image DataFrame: group, image, slope, intercept, edge_density, low_freq_amplitude
        (mean amplitude below 0.05 cycles/pixel); spectra DataFrame: group, image, k, amplitude).

    Used in: notebook 05 (Supplementary A4 / S6, p2-spectra-edges.csv).
    """
    rows, spec = [], []
    for group, images in groups.items():
        for name, img in images.items():
            s = radial_spectrum(img)
            low = s["k"] < 0.05
            rows.append({"group": group, "image": name, "slope": s["slope"], "intercept": s["intercept"],
                         "edge_density": edge_density(img, sigma=sigma),
                         "low_freq_amplitude": float(np.mean(s["amplitude"][low]))})
            spec.append(pd.DataFrame({"group": group, "image": name, "k": s["k"], "amplitude": s["amplitude"]}))
    return pd.DataFrame(rows), pd.concat(spec, ignore_index=True)

"""Measures of empirical aesthetics, equal to the Aesthetics Toolbox's on the same images.

The Aesthetics Toolbox (Redies lab; Bartho et al., *Behavior Research Methods* 2025;
https://github.com/RBartho/Aesthetics-Toolbox) computes about 33 "quantitative image
properties" (QIPs) in a single thread. This module computes the same properties with the
same definitions (image sizes, colour conversions, filter banks, bins, fits and thresholds
taken from the toolbox's ``AT/*_qips.py`` and the MATLAB/Python originals it ships), written
anew and vectorised. The toolbox served as a test oracle: its own code was run on reference
images and ``tests/test_aesthetics.py`` checks every value against it (tolerances there).

``measure(img, which=...)`` returns a flat ``{column: float}`` dict; one function per
measure (or per group of measures that share their intermediate results) is public as well:
size, colour and balance here; edges and PHOG in :mod:`helpers.measures.aesthetics_edges`; Fourier
slopes and fractal dimensions in :mod:`helpers.measures.aesthetics_fourier`; the CNN measures in
:mod:`helpers.measures.aesthetics_cnn` (the only one that imports torch, and only when asked for).
Every function takes an RGB ``uint8`` image of shape ``(H, W, 3)`` with ``H, W >= 32`` (or the
:class:`helpers.measures.aesthetics_base.ToolboxImage` that holds its derived versions);
conversions from grayscale, RGBA, 16-bit or palette images are the caller's
(:func:`helpers.measures.table.table`).

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
  (64 filters, loaded through :func:`helpers.nets.models.load`), which gives *different numbers*;
  pass ``cnn=toolbox_conv1(path)`` to get the toolbox's values.
"""
from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats
from scipy.stats import entropy
from skimage.filters import threshold_otsu

from helpers.measures import aesthetics_edges, aesthetics_fourier
from helpers.measures.aesthetics_base import ToolboxImage, entropy_bits, toolbox_image
from helpers.nets import models

if TYPE_CHECKING:  # imported by measure() only when the CNN group is asked for (it imports torch)
    from helpers.measures import aesthetics_cnn

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


def to_toolbox(df):
    """Rename a table's measure columns to the Aesthetics Toolbox's CSV headers.

    Used in: no notebook; ``tests/test_aesthetics.py``.
    """
    return df.rename(columns=TOOLBOX_COLUMNS)


# --- size and colour ----------------------------------------------------------------------

def image_size(img) -> int:
    """Image size: height + width in pixels (the toolbox's default "sum" kind).

    Args:
        img: RGB ``uint8`` array, ``(H, W, 3)``.

    Returns:
        ``H + W`` (px).

    Used in: notebook 02 through :func:`helpers.measures.table.table` (measure group ``"aesthetics"``).
    """
    h, w = toolbox_image(img).rgb.shape[:2]
    return h + w


def aspect_ratio(img) -> float:
    """Aspect ratio: width / height (dimensionless, (0, inf)).

    Used in: notebook 02 through :func:`helpers.measures.table.table` (measure group ``"aesthetics"``).
    """
    h, w = toolbox_image(img).rgb.shape[:2]
    return w / h


def rms_contrast(img) -> float:
    """RMS contrast: population standard deviation of CIELAB L* (L* units, [0, 50)).

    Used in: notebook 02 through :func:`helpers.measures.table.table` (measure group ``"aesthetics"``).
    """
    return float(np.std(toolbox_image(img).lab[:, :, 0]))


def _entropy_256(channel: np.ndarray) -> float:
    """Shannon entropy (bits) of a channel rescaled by its maximum to 256 integer levels."""
    top = channel.max()
    scaled = np.round((channel / top if top > 0 else channel) * 255).astype(np.int64)
    return float(entropy(np.bincount(scaled.ravel()), base=2))


def luminance_entropy(img) -> float:
    """Lightness entropy: Shannon entropy of CIELAB L* rescaled to 256 levels.

    L* is divided by its maximum over the image, times 255 and rounded, then the entropy of
    the histogram of those integer levels is taken.

    Returns:
        Entropy in bits, [0, 8].

    Used in: notebook 02 through :func:`helpers.measures.table.table` (measure group ``"aesthetics"``).
    """
    return _entropy_256(toolbox_image(img).lab[:, :, 0])


def color_entropy(img) -> float:
    """Colour entropy: Shannon entropy of HSV hue rescaled to 256 levels (bits, [0, 8]).

    Hue (a fraction of a turn) is divided by its maximum over the image, times 255 and
    rounded, as for :func:`luminance_entropy`.

    Used in: notebook 02 through :func:`helpers.measures.table.table` (measure group ``"aesthetics"``).
    """
    return _entropy_256(toolbox_image(img).hsv[:, :, 0])


def circular_hue_stats(img) -> tuple[float, float]:
    """Circular mean and circular standard deviation of HSV hue.

    ``scipy.stats.circmean``/``circstd`` with hue as a fraction of a turn (``low=0, high=1``):
    the mean is in [0, 1); the spread ``sqrt(-2 ln R)`` (R the mean resultant length) is in
    the same units, i.e. fractions of a turn, in [0, inf).

    Used in: notebook 02 through :func:`helpers.measures.table.table` (measure group ``"aesthetics"``).
    """
    hue = toolbox_image(img).hsv[:, :, 0]
    return float(stats.circmean(hue, high=1, low=0)), float(stats.circstd(hue, high=1, low=0))


def color_stats(img) -> dict[str, float]:
    """RMS contrast, lightness and colour entropy, and channel means and SDs in RGB, Lab and HSV.

    Means and population SDs over all pixels: RGB in [0, 255], L* in [0, 100], a*/b* in
    about [-128, 127], S and V in [0, 1]. Hue is circular: ``mean_hsv_h``/``std_hsv_h`` are
    :func:`circular_hue_stats` (fractions of a turn).

    Returns:
        dict with the columns of ``MEASURES["color"]``.

    Used in: notebook 02 through :func:`helpers.measures.table.table` (measure group ``"aesthetics"``).
    """
    c = toolbox_image(img)
    out = {"rms_contrast": rms_contrast(c), "luminance_entropy": luminance_entropy(c), "color_entropy": color_entropy(c)}
    rgb = c.rgb.astype(np.float64)
    for space, arr, names in (("", rgb, "rgb"), ("lab_", c.lab, "lab"), ("hsv_", c.hsv, "hsv")):
        m, s = arr.mean(axis=(0, 1)), arr.std(axis=(0, 1))
        for k, ch in enumerate(names):
            out[f"mean_{space}{ch}"], out[f"std_{space}{ch}"] = float(m[k]), float(s[k])
    out["mean_hsv_h"], out["std_hsv_h"] = circular_hue_stats(c)
    return {k: out[k] for k in MEASURES["color"]}


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

    Used in: notebook 02 through :func:`helpers.measures.table.table` (measure group ``"aesthetics"``).
    """
    im = _dark_positive(toolbox_image(img).gray, count_127_twice=True).astype(np.int64)
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

    Used in: notebook 02 through :func:`helpers.measures.table.table` (measure group ``"aesthetics"``).
    """
    im = _dark_positive(toolbox_image(img).gray, count_127_twice=False)
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

    Used in: notebook 02 through :func:`helpers.measures.table.table` (measure group ``"aesthetics"``).
    """
    g = toolbox_image(img).gray
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

    Used in: notebook 02 through :func:`helpers.measures.table.table` (measure group ``"aesthetics"``).
    """
    im = _dark_positive(toolbox_image(img).gray, count_127_twice=True)
    bw = im > threshold_otsu(im)
    hgt, wid = bw.shape
    cols = np.bincount(np.minimum(np.arange(wid) // (wid // 10), 9), weights=bw.sum(axis=0), minlength=10)
    rows = np.bincount(np.minimum(np.arange(hgt) // (hgt // 10), 9), weights=bw.sum(axis=1), minlength=10)
    total = cols.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        return float((entropy_bits(cols / total) + entropy_bits(rows / total)) / 2 / np.log2(10) * 100)


def balance_measures(img) -> dict[str, float]:
    """Mirror symmetry, balance, DCM and homogeneity (see each function).

    Used in: notebook 02 through :func:`helpers.measures.table.table` (measure group ``"aesthetics"``).
    """
    c = toolbox_image(img)
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
            close = difflib.get_close_matches(str(name), [*MEASURES, *COLUMNS], n=1, cutoff=0.5)
            raise ValueError(f"which: unknown measure {name!r}; expected a group {tuple(MEASURES)} or a column of "
                             "helpers.measures.aesthetics.COLUMNS" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return list(dict.fromkeys(cols))


class MeasuresIncomplete(RuntimeError):
    """Raised by :func:`measure` when the CNN measures could not run (no AlexNet weights on an
    offline machine, a weights file that fails its check): ``values`` holds every requested
    column, the CNN ones NaN, and ``errors`` says why, so a table keeps the other measures.

    Used in: notebook 02 through :func:`helpers.measures.table.table` (measure group ``"aesthetics"``).
    """

    def __init__(self, values: dict, errors: list[str]):
        super().__init__("; ".join(errors))
        self.values, self.errors = values, errors


def measure(img, *, which=None, cnn: "aesthetics_cnn.Conv1 | None" = None, device="cpu") -> dict[str, float]:
    """Compute the measures of empirical aesthetics of one image.

    Args:
        img: RGB ``uint8`` array, ``(H, W, 3)``, both sides >= 32 px.
        which: group names of :data:`MEASURES` and/or column names of :data:`COLUMNS`
            (a string or an iterable); ``None`` = all. Groups share their work: asking for
            ``edge_density`` alone skips the 2nd-order entropy, for example.
        cnn: conv1 filters of the CNN measures (:class:`helpers.measures.aesthetics_cnn.Conv1`); ``None`` =
            torchvision's pretrained AlexNet (:func:`helpers.measures.aesthetics_cnn.alexnet_conv1`); the
            toolbox's values need :func:`helpers.measures.aesthetics_cnn.toolbox_conv1`.
        device: torch device of the CNN convolutions.

    Returns:
        ``{column: float}`` in the order of :data:`COLUMNS`; :data:`TOOLBOX_COLUMNS` gives the
        toolbox's name of each.

    Raises:
        ValueError: ``img`` is not an RGB uint8 array of at least 32 x 32 px, or ``which``
            names an unknown measure.
        MeasuresIncomplete: the CNN weights are unavailable or fail their check; its
            ``values`` carry the other measures (:func:`helpers.measures.table.table` keeps them and notes why).

    Used in: notebook 02 through :func:`helpers.measures.table.table` (measure group ``"aesthetics"``).
    """
    cols = _expand(which)
    c = ToolboxImage(img)
    want = set(cols)
    out: dict[str, float] = {}
    if want & set(MEASURES["size"]):
        out.update(image_size=float(image_size(c)), aspect_ratio=aspect_ratio(c))
    if want & set(MEASURES["color"]):
        out.update(color_stats(c))
    if want & set(MEASURES["edges"]):
        out.update(aesthetics_edges.edge_measures(c, second_order="eoe_2nd_order" in want))
    if want & {"fourier_slope_redies", "fourier_sigma"}:
        out.update(aesthetics_fourier.fourier_redies(c))
    if "fourier_slope_spehar" in want:
        out["fourier_slope_spehar"] = aesthetics_fourier.fourier_slope_spehar(c)
    if "fourier_slope_mather" in want:
        out["fourier_slope_mather"] = aesthetics_fourier.fourier_slope_mather(c)
    if "fractal_dimension_2d" in want:
        out["fractal_dimension_2d"] = aesthetics_fourier.fractal_dimension_2d(c)
    if "fractal_dimension_3d" in want:
        out["fractal_dimension_3d"] = aesthetics_fourier.fractal_dimension_3d(c)
    if want & set(MEASURES["phog"]):
        out.update(aesthetics_edges.phog(c))
    errors = []
    if want & set(MEASURES["cnn"]):
        # imported here: the CNN module imports torch (1.9 s), which only this group needs
        from helpers.measures import aesthetics_cnn

        try:
            out.update(aesthetics_cnn.cnn_measures(c, cnn=cnn, device=device))
        except (models.WeightsUnavailable, models.WeightsFileError) as exc:
            errors.append(f"CNN measures left empty: {type(exc).__name__}: {exc}")
            out.update(dict.fromkeys(MEASURES["cnn"], float("nan")))
    if want & set(MEASURES["balance"]):
        out.update(balance_measures(c))
    values = {k: float(out[k]) for k in cols}
    if errors:
        raise MeasuresIncomplete(values, errors)
    return values

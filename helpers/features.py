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
:func:`clutter`             both clutter measures, sharing the Lab conversion
:func:`measure`             every measure of one image as a flat dict
:func:`table`               all of the above for many images, parallel and cached
:func:`plot_distributions`  histograms of the table's features (figure of notebook 02)
:func:`plot_clutter_maps`   images with their clutter maps (figure of notebook 02)
==========================  ===============================================================

The clutter measures follow the MATLAB code of Rosenholtz, Li & Nakano (2007), "Measuring
visual clutter", J. Vision 7(2):17; each private helper names the reference file it ports.
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


# ----------------------------------------------------------------------------------------
# Clutter: Rosenholtz, Li & Nakano (2007), "Measuring visual clutter", J. Vision 7(2):17
# ----------------------------------------------------------------------------------------
# A vectorised port of the authors' MATLAB code (June 2007 release). Each private helper
# names the reference file it follows. Filtering conventions of the reference:
#   filt2.m / addborder.m: convolution after "odd" (whole-sample, no edge repeat) reflection
#     -> scipy.ndimage mode="mirror";
#   RRoverlapconv.m: zero-padded convolution rescaled by the part of the kernel that
#     overlaps the image;
#   upConv.m (matlabPyrTools), used by the cross-scale collapse -> pyrtools.upConv.
# All kernels are symmetric about their centre, so convolution and correlation agree.

FC_WEIGHTS = {"color": 0.2088, "contrast": 0.0660, "orientation": 0.0269}  # getClutter_FC.m
SE_CHROMA_WEIGHT = 0.0625  # getClutter_SE.m, wght_chrom
_PYR_KERNEL = np.array([0.05, 0.25, 0.4, 0.25, 0.05])  # reduce.m and the collapse kernel


def _srgb_linear(x: np.ndarray) -> np.ndarray:
    """sRGB decoding of values in [0, 1], as RGB2Lab.m."""
    return np.where(x > 0.04045, ((x + 0.055) / 1.055) ** 2.4, x / 12.92)


_LUT: dict = {}


def _srgb_lut() -> np.ndarray:
    """The 256 values of :func:`_srgb_linear` for uint8 input (same numbers, looked up)."""
    if "srgb" not in _LUT:
        _LUT["srgb"] = _srgb_linear(np.arange(256, dtype=np.float64) / 255.0)
    return _LUT["srgb"]


def _rgb2lab_rr(rgb: np.ndarray) -> np.ndarray:
    """CIELab exactly as the reference RGB2Lab.m: float64 HxWx3 (L, a, b).

    Follows RGB2Lab.m, including its historical scaling: RGB is divided by 255 and
    linearised (sRGB), so X, Y, Z lie in [0, 1], but they are then divided by the white
    point in percent (95.047, 100, 108.883). L therefore spans about [0, 9] rather than
    [0, 100]; every constant of the clutter measures (the colour deltas, the 0.008
    chroma threshold, the FC weights) was tuned on this scale, so it is kept.
    """
    x = _srgb_lut()[rgb] if rgb.dtype == np.uint8 else _srgb_linear(rgb.astype(np.float64) / 255.0)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    X = (r * 0.4124 + g * 0.3576 + b * 0.1805) / 95.047
    Y = (r * 0.2126 + g * 0.7152 + b * 0.0722) / 100.000
    Z = (r * 0.0193 + g * 0.1192 + b * 0.9505) / 108.883

    def f(t):
        return np.where(t > 0.008856, np.cbrt(t), 7.787 * t + 16 / 116)

    fx, fy, fz = f(X), f(Y), f(Z)
    return np.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], axis=-1)


def _gauss1d(halfsupport: int, sigma: float, center: float = 0.0) -> np.ndarray:
    """RRgaussfilter1D.m: normalised Gaussian on -halfsupport..halfsupport."""
    t = np.arange(-halfsupport, halfsupport + 1, dtype=np.float64)
    k = np.exp(-((t - center) ** 2) / (2 * sigma ** 2))
    return k / k.sum()


def _filt1(x: np.ndarray, k: np.ndarray, axis: int) -> np.ndarray:
    """filt2.m with a 1-D kernel along ``axis`` ("odd" reflection = mode mirror)."""
    from scipy.ndimage import convolve1d

    return convolve1d(x, k, axis=axis, mode="mirror")


def _overlapconv(x: np.ndarray, k: np.ndarray, axis: int) -> np.ndarray:
    """RRoverlapconv.m along ``axis``: zero-padded convolution / kernel overlap."""
    from scipy.ndimage import convolve1d

    n = x.shape[axis]
    num = convolve1d(x, k, axis=axis, mode="constant", cval=0.0)
    den = convolve1d(np.ones(n), k, mode="constant", cval=0.0)
    shape = [1] * x.ndim
    shape[axis] = n
    return k.sum() * num / den.reshape(shape)


def _overlapconv2(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """RRoverlapconv(k) then RRoverlapconv(k') over the last two axes, as one FFT convolution.

    The two passes of the reference are separable, and the overlap normalisations are a
    per-column and a per-row factor, so one 2-D convolution with ``outer(k, k)`` divided
    by the outer product of the two overlap sums is the same linear map (equal up to
    floating-point rounding). Long kernels (the 57-tap orientation pooling) make the FFT
    much faster than two direct passes.
    """
    from scipy.ndimage import convolve1d
    from scipy.signal import fftconvolve

    h, w = x.shape[-2:]
    den_x = convolve1d(np.ones(w), k, mode="constant", cval=0.0)
    den_y = convolve1d(np.ones(h), k, mode="constant", cval=0.0)
    if len(k) <= 15:  # short kernels: direct separable passes, one normalisation at the end
        num = convolve1d(convolve1d(x, k, axis=-1, mode="constant", cval=0.0), k, axis=-2, mode="constant", cval=0.0)
        num *= k.sum() ** 2 / np.outer(den_y, den_x)
        return num
    num = fftconvolve(x, np.outer(k, k).reshape((1,) * (x.ndim - 2) + (len(k), len(k))), mode="same",
                      axes=(-2, -1))
    return k.sum() ** 2 * num / np.outer(den_y, den_x)


def _reduce(x: np.ndarray, k: np.ndarray = _PYR_KERNEL) -> np.ndarray:
    """reduce.m: filter rows, keep even columns, filter columns, keep even rows."""
    x = _filt1(x, k, -1)[..., :, ::2]
    return _filt1(x, k, -2)[..., ::2, :]


def _gaussian_pyramid(x: np.ndarray, levels: int) -> list:
    """RRgaussianPyramid.m: level 1 is ``x``; each next level is ``reduce`` of the previous."""
    pyr = [np.asarray(x, dtype=np.float64)]
    for _ in range(levels - 1):
        pyr.append(_reduce(pyr[-1]))
    return pyr


def _collapse(levels: list) -> np.ndarray:
    """Cross-scale max, as at the end of colorClutter.m / contrastClutter.m / orientationClutter.m.

    Level ``s`` (1-based) is upsampled ``s - 1`` times with matlabPyrTools ``upConv``
    (zero insertion, 5x5 kernel summing to 1, 'reflect1' edges; note this scales the
    coarse maps by 1/4 per step, a property of the reference that is kept), then the
    pixelwise maximum is taken over the common top-left region.
    """
    import pyrtools

    k2 = np.outer(_PYR_KERNEL, _PYR_KERNEL)
    out = levels[0].copy()
    for s in range(1, len(levels)):
        here = levels[s]
        for _ in range(s):
            here = pyrtools.upConv(here, k2, "reflect1", (2, 2), start=(0, 0))
        h, w = min(out.shape[0], here.shape[0]), min(out.shape[1], here.shape[1])
        np.maximum(out[:h, :w], here[:h, :w], out=out[:h, :w])
    return out


def _color_clutter_levels(L: list, a: list, b: list, pool_sigma: float = 3.0) -> list:
    """computeColorClutter.m: cube root of sqrt(det) of the local Lab covariance, per level."""
    dL2, da2, db2 = 0.0007 ** 2, 0.1 ** 2, 0.05 ** 2
    g = _gauss1d(round(2 * pool_sigma), pool_sigma)
    out = []
    for Li, ai, bi in zip(L, a, b):
        stack = np.stack([Li, ai, bi, Li * Li, Li * ai, Li * bi, ai * ai, ai * bi, bi * bi])
        mL, ma, mb, LL, La, Lb, aa, ab, bb = _overlapconv2(stack, g)
        c11 = LL - mL ** 2 + dL2
        c12 = La - mL * ma
        c13 = Lb - mL * mb
        c22 = aa - ma ** 2 + da2
        c23 = ab - ma * mb
        c33 = bb - mb ** 2 + db2
        det = c11 * (c22 * c33 - c23 * c23) - c12 * (c12 * c33 - c23 * c13) + c13 * (c12 * c23 - c22 * c13)
        out.append(np.sqrt(det) ** (1 / 3))
    return out


def _dog1(a: int, sigma: float):
    """DoG1filter.m: inner (0.71 sigma) and outer (1.14 sigma) normalised 1-D Gaussians."""
    t = np.arange(-a, a + 1, dtype=np.float64)
    gi = np.exp(-(t ** 2) / (2 * (0.71 * sigma) ** 2))
    go = np.exp(-(t ** 2) / (2 * (1.14 * sigma) ** 2))
    return gi / gi.sum(), go / go.sum()


def _contrast_clutter_levels(L: list, filt_sigma: float = 1.0, pool_sigma: float | None = None) -> list:
    """RRcontrast1channel.m (|DoG| of L) then contrastClutter.m (local std over a Gaussian window)."""
    pool_sigma = 3 * filt_sigma if pool_sigma is None else pool_sigma
    gi, go = _dog1(round(3 * filt_sigma), filt_sigma)
    g = _gauss1d(round(2 * pool_sigma), pool_sigma)
    out = []
    for Li in L:
        c = np.abs(_filt1(_filt1(Li, gi, -1), gi, -2) - _filt1(_filt1(Li, go, -1), go, -2))
        m, m2 = _overlapconv2(np.stack([c, c * c]), g)
        out.append(np.sqrt(np.abs(m2 - m ** 2)))
    return out


def _imrotate_bicubic(k: np.ndarray, angle_deg: float) -> np.ndarray:
    """MATLAB ``imrotate(k, angle, 'bicubic', 'crop')`` for a small odd-sized kernel.

    Rotation counter-clockwise about the centre pixel, Keys cubic convolution
    (a = -0.5, MATLAB's 'bicubic'), zero outside the kernel.
    """
    n0, n1 = k.shape
    c0, c1 = (n0 - 1) / 2, (n1 - 1) / 2
    th = np.deg2rad(angle_deg)
    r, c = np.mgrid[0:n0, 0:n1].astype(np.float64)
    y, x = r - c0, c - c1  # rows grow downwards: counter-clockwise on screen
    xs = np.cos(th) * x - np.sin(th) * y + c1
    ys = np.sin(th) * x + np.cos(th) * y + c0

    def keys(t):
        t = np.abs(t)
        return np.where(t <= 1, 1.5 * t ** 3 - 2.5 * t ** 2 + 1,
                        np.where(t < 2, -0.5 * t ** 3 + 2.5 * t ** 2 - 4 * t + 2, 0.0))

    out = np.zeros_like(k, dtype=np.float64)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    for dy in range(-1, 3):
        for dx in range(-1, 3):
            yy, xx = y0 + dy, x0 + dx
            ok = (yy >= 0) & (yy < n0) & (xx >= 0) & (xx < n1)
            w = keys(ys - yy) * keys(xs - xx)
            out[ok] += w[ok] * k[yy[ok], xx[ok]]
    return out


def _orient_filters(sigma: float = 16 / 14 * 1.75) -> np.ndarray:
    """orient_filtnew.m: 2nd-derivative-of-Gaussian filters, float64 [4, n, n] (H, V, L, R)."""
    hs = round(3 * sigma)
    gx = _gauss1d(hs, sigma)
    G = [np.outer(_gauss1d(hs, sigma, c), gx) for c in (sigma, 0.0, -sigma)]
    G = [g / g.sum() for g in G]
    H = -G[0] + 2 * G[1] - G[2]

    def rot(angle):
        R = [_imrotate_bicubic(g, angle) for g in G]
        R = [r / r.sum() for r in R]
        return -R[0] + 2 * R[1] - R[2]

    return np.stack([H, H.T, rot(-45), rot(45)])


_ORIENT_FILTERS: dict = {}


def _mirror_fftconv(x: np.ndarray, kernels: np.ndarray) -> np.ndarray:
    """filt2.m for several 2-D kernels at once: mirror padding + FFT convolution, [K, H, W]."""
    from scipy import fft

    kh, kw = kernels.shape[-2:]
    ph, pw = kh // 2, kw // 2
    xp = np.pad(x, ((ph, ph), (pw, pw)), mode="reflect")  # numpy "reflect" == MATLAB "odd"
    shape = (xp.shape[0] + kh - 1, xp.shape[1] + kw - 1)
    shape = tuple(fft.next_fast_len(s, real=True) for s in shape)
    X = fft.rfft2(xp, shape)
    K = fft.rfft2(kernels, shape)
    full = fft.irfft2(X[None] * K, shape)
    h, w = x.shape
    return full[:, 2 * ph:2 * ph + h, 2 * pw:2 * pw + w]


def _expand(x: np.ndarray, k: np.ndarray, axis: int) -> np.ndarray:
    """RRoverlapconvexpand.m along one axis: zero-insert to double length, RRoverlapconv with 2*k.

    Computed polyphase (the even and the odd outputs are short convolutions of ``x``
    itself), which skips the multiplications by the inserted zeros but is the same sum.
    """
    from scipy.ndimage import correlate1d

    k2 = 2 * k
    r = len(k2) // 2
    n = x.shape[axis]
    shape = list(x.shape)
    shape[axis] = 2 * n
    out = np.empty(shape)
    for phase in (0, 1):  # output 2i + phase reads x[i + q] with tap k2[r + 2q - phase]
        qs = [q for q in range(-r, r + 2) if 0 <= r + 2 * q - phase <= 2 * r]
        w = np.array([k2[r + 2 * q - phase] for q in qs])
        res = correlate1d(x, w, axis=axis, mode="constant", cval=0.0, origin=-qs[0] - len(w) // 2)
        idx = [slice(None)] * x.ndim
        idx[axis] = slice(phase, None, 2)
        out[tuple(idx)] = res
    from scipy.ndimage import convolve1d

    den = convolve1d(np.ones(2 * n), k2, mode="constant", cval=0.0)
    bshape = [1] * x.ndim
    bshape[axis] = 2 * n
    out *= (k2.sum() / den).reshape(bshape)  # one pass; equal to sum(k) * out / den up to rounding
    return out


def _pool(e: np.ndarray, k: np.ndarray) -> np.ndarray:
    """poolnew.m: ``reduce(RRoverlapconvexpand(e, k), k)`` on the last two axes.

    The x and y passes of expand and reduce are separable and commute, so each axis is
    expanded and reduced in turn: the same linear map, on arrays half the size.
    """
    for axis in (-1, -2):
        e = _filt1(_expand(e, k, axis), k, axis)
        e = e[..., ::2] if axis == -1 else e[..., ::2, :]
    return e


def _opp_energy(Li: np.ndarray) -> tuple:
    """RROrientationOppEnergy.m for one pyramid level: (cos 2theta, sin 2theta) estimates."""
    sigma = 16 / 14 * 1.75
    if sigma not in _ORIENT_FILTERS:
        _ORIENT_FILTERS[sigma] = _orient_filters(sigma)
    filters = _ORIENT_FILTERS[sigma]
    # H = outer(dy, gx) and V = H.T are separable: two short passes each; the diagonal
    # filters are not, and go through one FFT convolution
    hs = round(3 * sigma)
    gx = _gauss1d(hs, sigma)
    gys = [_gauss1d(hs, sigma, c) for c in (sigma, 0.0, -sigma)]
    dy = sum(w * g / (g.sum() * gx.sum()) for w, g in zip((-1.0, 2.0, -1.0), gys))
    h = _filt1(_filt1(Li, gx, -1), dy, -2)
    v = _filt1(_filt1(Li, dy, -1), gx, -2)
    lr = _mirror_fftconv(Li, filters[2:])
    e = np.stack([h, v, lr[0], lr[1]]) ** 2  # H, V, L, R energies
    k = _gauss1d(round(2 * 1.75), 1.75)  # poolnew.m with poolScale 1.75
    e = _pool(e, k)
    total = e.sum(axis=0) + 1.0  # noise = 1.0
    return (e[0] - e[1]) / total, (e[3] - e[2]) / total  # (H - V), (R - L)


def _orientation_clutter_levels(L: list) -> list:
    """computeOrientationClutter.m: 4th root of det of the local (cos, sin) covariance, per level."""
    noise, pool = 0.001, 7 / 2
    g = _gauss1d(round(8 * pool), 4 * pool)
    out = []
    for Li in L:
        c, s = _opp_energy(Li)
        Dc, Ds, cc, cs, ss = _overlapconv2(np.stack([c, s, c * c, c * s, s * s]), g)
        c11 = cc - Dc ** 2 + noise
        c12 = cs - Dc * Ds
        c22 = ss - Ds ** 2 + noise
        out.append((c11 * c22 - c12 ** 2) ** 0.25)
    return out


def feature_congestion(image, *, p: float = 1.0, levels: int = 3, return_maps: bool = False):
    """Feature Congestion clutter (Rosenholtz, Li & Nakano 2007), as getClutter_FC.m.

    Pipeline (reference file of each step in brackets): CIELab [RGB2Lab.m, with its
    historical scaling, see :func:`_rgb2lab_rr`]; 3-level Gaussian pyramids of L, a, b
    [RRgaussianPyramid.m, reduce.m, filt2.m]; per level, colour clutter = volume of the
    local Lab covariance ellipsoid, pooled with a Gaussian of sigma 3 [computeColorClutter.m,
    RRoverlapconv.m]; contrast clutter = local std of |DoG| of L (DoG sigma 1, pool sigma
    3) [RRcontrast1channel.m, DoG1filter.m, contrastClutter.m]; orientation clutter = area
    of the local covariance of oriented opponent energy (H-V, R-L) normalised by total
    energy, pooled with a Gaussian of sigma 14 [orient_filtnew.m, poolnew.m,
    RROrientationOppEnergy.m, computeOrientationClutter.m]; each collapsed across scales
    by the pixelwise max after upsampling [colorClutter.m etc., upConv.m]; combined as
    ``color/0.2088 + contrast/0.0660 + orientation/0.0269`` and Minkowski-pooled over
    pixels, ``mean(map**p)**(1/p)`` [getClutter_FC.m].

    Implementation: numpy/scipy.ndimage; separable passes where the reference's 2-D
    kernels are separable, FFT convolutions for the two diagonal 13x13 filters and the
    57-tap orientation pooling, polyphase upsampling: the same linear maps as the
    reference's direct convolutions, so values agree to floating-point rounding (max
    relative difference ~1e-16 against a loop-based port, see benchmarks/features.py).

    Args:
        image: uint8 HxWx3 RGB array or a path. At least 8 px on a side.
        p: Minkowski exponent of the spatial pooling (reference default 1: the mean).
        levels: pyramid levels (reference default 3).
        return_maps: also return the clutter maps.

    Returns:
        float (a uniform image gives 1.248283, the reference's floor), or with
        ``return_maps`` a tuple ``(value, maps)`` where ``maps`` is a dict of float64 HxW
        arrays: ``"fc"`` (combined map), ``"color"``, ``"contrast"``, ``"orientation"``
        (collapsed, unweighted).
    """
    return _fc_from_lab(_rgb2lab_rr(_rgb(image)), p=p, levels=levels, return_maps=return_maps)


def _fc_from_lab(lab: np.ndarray, *, p: float = 1.0, levels: int = 3, return_maps: bool = False):
    """Feature Congestion from a reference-scaled Lab image (see :func:`feature_congestion`)."""
    L = _gaussian_pyramid(lab[..., 0], levels)
    a = _gaussian_pyramid(lab[..., 1], levels)
    b = _gaussian_pyramid(lab[..., 2], levels)
    maps = {"color": _collapse(_color_clutter_levels(L, a, b)),
            "contrast": _collapse(_contrast_clutter_levels(L)),
            "orientation": _collapse(_orientation_clutter_levels(L))}
    fc = sum(maps[k] / w for k, w in FC_WEIGHTS.items())
    value = float(np.mean(fc ** p) ** (1 / p))
    if return_maps:
        return value, {"fc": fc, **maps}
    return value


_SF_MASKS: dict = {}


def _sf_masks(shape: tuple, height: int, order: int, twidth: int = 1) -> list:
    """Frequency masks of pyrtools' SteerablePyramidFreq (= matlabPyrTools buildSFpyr.m).

    Built with pyrtools' own ``rcosFn``/``pointOp`` in the same order as
    ``pyrtools.pyramids.SteerablePyramidFreq.__init__``, once per image shape, and cached.
    The frequency ramps follow buildSFpyr.m; they equal pyrtools' for even sizes.
    Returns per level ``(band_masks [nbands, h, w] complex, gather, lomask)``, all in
    natural (unshifted) FFT order, so no ``fftshift`` is needed: ``gather`` indexes the
    next level's spectrum out of this one, which is pyrtools' centred crop permuted.
    Level 0 holds only the initial lowpass mask.
    """
    from math import factorial

    from pyrtools.tools.utils import rcosFn
    from pyrtools.pyramids.c.wrapper import pointOp

    key = (tuple(shape), height, order, twidth)
    if key in _SF_MASKS:
        return _SF_MASKS[key]
    nb = order + 1
    dims = np.asarray(shape)
    ctr = np.ceil((dims + 0.5) / 2).astype(int)
    # buildSFpyr.m's ramps; pyrtools uses linspace(-1, 1, n + 1)[:-1], identical for even
    # sizes but without a zero frequency for odd ones (then a uniform image leaks into the bands)
    xramp, yramp = np.meshgrid((np.arange(1, dims[1] + 1) - ctr[1]) / (dims[1] / 2),
                               (np.arange(1, dims[0] + 1) - ctr[0]) / (dims[0] / 2))
    angle = np.arctan2(yramp, xramp)
    log_rad = np.sqrt(xramp ** 2 + yramp ** 2)
    log_rad[ctr[0] - 1, ctr[1] - 1] = log_rad[ctr[0] - 1, ctr[1] - 2]
    log_rad = np.log2(log_rad)
    Xrcos, Yrcos = rcosFn(twidth, (-twidth / 2.0), np.asarray([0, 1]))
    Yrcos = np.sqrt(Yrcos)
    YIrcos = np.sqrt(1.0 - Yrcos ** 2)
    lo0 = pointOp(log_rad, YIrcos, Xrcos[0], Xrcos[1] - Xrcos[0])
    levels = [(None, None, lo0)]  # level 0: just the initial lowpass
    cur = dims.copy()
    for _ in range(height):
        Xrcos = Xrcos - np.log2(2)
        lutsize = 1024
        Xcosn = np.pi * np.arange(-(2 * lutsize + 1), (lutsize + 2)) / lutsize
        const = (2 ** (2 * order)) * (factorial(order) ** 2) / float(nb * factorial(2 * order))
        Ycosn = np.sqrt(const) * (np.cos(Xcosn)) ** order
        himask = pointOp(log_rad, Yrcos, Xrcos[0], Xrcos[1] - Xrcos[0])
        bands = np.stack([pointOp(angle, Ycosn, Xcosn[0] + np.pi * b / nb, Xcosn[1] - Xcosn[0]) * himask
                          for b in range(nb)]).astype(np.complex128) * ((-1j) ** order)
        c = np.ceil((cur + 0.5) / 2).astype(int)
        lodims = np.ceil((cur - 0.5) / 2).astype(int)
        loctr = np.ceil((lodims + 0.5) / 2).astype(int)
        start = c - loctr
        end = start + lodims
        crop = (slice(start[0], end[0]), slice(start[1], end[1]))
        # the same crop as index arrays into the unshifted (natural FFT order) spectrum
        gather = tuple(np.fft.ifftshift(np.fft.fftshift(np.arange(n))[sl]) for n, sl in zip(cur, crop))
        log_rad, angle = np.ascontiguousarray(log_rad[crop]), np.ascontiguousarray(angle[crop])
        YIrcos = np.abs(np.sqrt(1.0 - Yrcos ** 2))
        lomask = pointOp(log_rad, YIrcos, Xrcos[0], Xrcos[1] - Xrcos[0])
        levels.append((np.fft.ifftshift(bands, axes=(-2, -1)), np.ix_(*gather), np.fft.ifftshift(lomask)))
        cur = lodims
    levels[0] = (None, None, np.fft.ifftshift(lo0))
    # Level 1 works on fft2(real image) * an even lowpass mask, a Hermitian spectrum X, so
    # real(ifft2(X * M)) == ifft2(X * herm(M)) with herm(M)(k) = (M(k) + conj(M(-k))) / 2,
    # whose result is real: two bands then share one complex inverse FFT,
    # ifft2(X * (herm(M1) + 1j herm(M2))) = band1 + 1j band2.
    m1 = levels[1][0]
    flip = np.ix_(*[(-np.arange(n)) % n for n in m1.shape[-2:]])
    herm = (m1 + np.conj(m1[(slice(None),) + flip])) / 2
    packed = np.stack([herm[i] + 1j * herm[i + 1] for i in range(0, nb - 1, 2)]) if nb % 2 == 0 else None
    _SF_MASKS[key] = levels + [packed]
    return _SF_MASKS[key]


def _sf_bands(channels: np.ndarray, height: int = 3, order: int = 3) -> list:
    """Steerable-pyramid sub-bands of each channel, float64 arrays, in buildSFpyr order.

    ``channels``: float64 [C, H, W]. Returns a list over channels of lists of bands:
    ``height * (order + 1)`` oriented bands (finest scale first) then the lowpass
    residual; the highpass residual is not computed (band_entropy.m skips it). Same
    arithmetic as ``pyrtools.pyramids.SteerablePyramidFreq`` (masks shared across
    channels and images of one size; FFTs batched with ``scipy.fft``).
    """
    from scipy import fft

    *masks, packed = _sf_masks(channels.shape[-2:], height, order)
    lodft = fft.fft2(channels) * masks[0][2]
    out = [[] for _ in range(len(channels))]
    for level, (bands, gather, lomask) in enumerate(masks[1:]):
        if level == 0 and packed is not None:  # two real bands per inverse FFT (see _sf_masks)
            z = fft.ifft2(lodft[:, None] * packed[None])  # [C, nb / 2, h, w]
            res = np.stack([part for i in range(z.shape[1]) for part in (z[:, i].real, z[:, i].imag)], axis=1)
        else:
            res = fft.ifft2(lodft[:, None] * bands[None]).real  # [C, nb, h, w]
        for c in range(len(channels)):
            out[c].extend(res[c])
        lodft = lodft[(slice(None),) + gather] * lomask
    low = fft.ifft2(lodft).real
    for c in range(len(channels)):
        out[c].append(low[c])
    return out


def _entropy(x: np.ndarray, tol: float = 0.0) -> float:
    """entropy.m: natural-log Shannon entropy of a ``ceil(sqrt(n))``-bin histogram of ``x``.

    Bins as MATLAB ``histc`` with ``nbins`` equally spaced edges from ``min(x)`` to
    ``max(x)`` (the last bin holds the values equal to the maximum), as in the
    visual-clutter Python port of the reference code. A constant band, or one whose range
    is at most ``tol`` (FFT round-off), has entropy 0.
    """
    x = np.ravel(x)
    nbins = int(np.ceil(np.sqrt(x.size)))
    lo, hi = x.min(), x.max()
    if nbins <= 1 or not hi - lo > tol:
        return 0.0
    # histc bins: k holds edges[k] <= x < edges[k+1], the last holds x == hi. The bin index
    # is estimated arithmetically and corrected against the edges, as np.histogram does,
    # so the counts are exact (np.histogram itself is slower: validation per call).
    edges = np.linspace(lo, hi, nbins)
    idx = np.minimum(((x - lo) * ((nbins - 1) / (hi - lo))).astype(np.intp), nbins - 1)
    idx -= x < edges[idx]
    idx += (x >= edges[np.minimum(idx + 1, nbins - 1)]) & (idx < nbins - 1)
    counts = np.bincount(idx, minlength=nbins)
    pr = counts[counts > 0] / x.size
    return float(-np.sum(pr * np.log(pr)))


def subband_entropy(image, *, levels: int = 3, orientations: int = 4, chroma_weight: float = SE_CHROMA_WEIGHT,
                    return_bands: bool = False):
    """Sub-band Entropy clutter (Rosenholtz, Li & Nakano 2007), as getClutter_SE.m.

    Pipeline: CIELab [RGB2Lab.m, see :func:`_rgb2lab_rr`]; for L, a and b a steerable
    pyramid with ``levels`` scales and ``orientations`` orientations [buildSFpyr.m =
    pyrtools SteerablePyramidFreq, order ``orientations - 1``]; the Shannon entropy of
    each oriented band and of the lowpass residual (not the highpass residual)
    [band_entropy.m, entropy.m]; mean over bands per channel; a chroma channel whose
    range is below 0.008 counts as all zero; result
    ``(E_L + w * (E_a + E_b)) / (1 + 2 w)`` with ``w = chroma_weight`` [getClutter_SE.m].

    Args:
        image: uint8 HxWx3 RGB array or a path (at least 32 px on a side for 3 levels).
        levels: pyramid scales (reference default 3).
        orientations: orientations per scale (reference 4).
        chroma_weight: weight of each chrominance channel (reference 0.0625).
        return_bands: also return the per-band entropies.

    Returns:
        float in nats (0 for a uniform image), or with ``return_bands`` a tuple
        ``(value, {"L": [...], "a": [...], "b": [...]})`` of per-band entropies, finest
        scale first, lowpass last.

    Deviation (round-off only): a band whose range is below 1e-9 of its channel's
    magnitude is FFT noise of a flat channel (odd image sizes) and counts as flat, so a
    uniform image gives 0 at every size.
    """
    return _se_from_lab(_rgb2lab_rr(_rgb(image)), levels=levels, orientations=orientations,
                        chroma_weight=chroma_weight, return_bands=return_bands)


def _se_from_lab(lab: np.ndarray, *, levels: int = 3, orientations: int = 4, chroma_weight: float = SE_CHROMA_WEIGHT,
                 return_bands: bool = False):
    """Sub-band Entropy from a reference-scaled Lab image (see :func:`subband_entropy`)."""
    max_ht = int(np.floor(np.log2(min(lab.shape[:2])))) - 2
    if levels > max_ht:
        raise ValueError(f"subband_entropy: image {lab.shape[1]}x{lab.shape[0]} px is too small for "
                         f"{levels} pyramid levels (at most {max_ht})")
    chans = np.moveaxis(lab, -1, 0).copy()
    for c in (1, 2):
        if chans[c].max() - chans[c].min() < 0.008:
            chans[c] = 0.0
    bands = _sf_bands(chans, levels, orientations - 1)
    # Round-off guard (not in the reference): a band whose range is below 1e-9 of the
    # channel's magnitude is FFT noise of a flat channel (odd sizes), so it counts as flat.
    tols = [1e-9 * max(1.0, float(np.abs(c).max())) for c in chans]
    ent = {name: [_entropy(b, tol) for b in bl] for name, bl, tol in zip("Lab", bands, tols)}
    value = (np.mean(ent["L"]) + chroma_weight * (np.mean(ent["a"]) + np.mean(ent["b"]))) / (1 + 2 * chroma_weight)
    if return_bands:
        return float(value), ent
    return float(value)


def clutter(image) -> dict:
    """Feature Congestion and Sub-band Entropy together, sharing the Lab conversion.

    Args:
        image: uint8 HxWx3 RGB array or a path.

    Returns:
        dict with floats ``feature_congestion`` and ``subband_entropy`` (reference defaults).
    """
    lab = _rgb2lab_rr(_rgb(image))
    return {"feature_congestion": _fc_from_lab(lab), "subband_entropy": _se_from_lab(lab)}


# ----------------------------------------------------------------------------------------
# Everything for one image, and the per-image table
# ----------------------------------------------------------------------------------------
MIN_SIZE = 32  # px on the shorter side: Sub-band Entropy needs 3 steerable-pyramid levels
EDGE_SIGMAS = (1.0, 2.0, 4.0)  # Canny sigmas in px; edge_density uses 2.0
MIN_PER_WORKER = 8  # table() measures fewer than this many images per worker in-process
_CACHE_VERSION = 1  # bump when a measure changes so cached rows are recomputed
_KEY = ["_abspath", "_size", "_mtime_ns", "_settings"]


def measure(image, *, jpeg_quality: int = 75, edge_sigmas=EDGE_SIGMAS) -> dict:
    """Every measure of this module for one image, as a flat dict of scalars.

    Args:
        image: uint8 HxWx3 RGB array or a path (converted by ``io.read_image``).
        jpeg_quality: JPEG quality for ``jpeg_bytes``.
        edge_sigmas: Canny sigmas; ``edge_density`` is the value at 2.0 px (must be
            included), the others go to ``edge_density_sigma<s>``.

    Returns:
        dict with ``width``, ``height``, ``hue``, ``hue_circular``, ``hue_concentration``,
        ``saturation``, ``brightness``, ``jpeg_bytes``, ``png_bytes``,
        ``feature_congestion``, ``subband_entropy``, ``spectrum_slope``,
        ``spectrum_intercept``, ``edge_density`` and ``edge_density_sigma<s>``.

    Raises:
        io.ImageReadError: unreadable, truncated, or smaller than 32 px on a side.
    """
    rgb = io.read_image(image, min_size=MIN_SIZE)
    if 2.0 not in tuple(edge_sigmas):
        raise ValueError(f"measure: edge_sigmas must include 2.0 (edge_density), got {edge_sigmas!r}")
    row = {"width": rgb.shape[1], "height": rgb.shape[0], **color_stats(rgb),
           "jpeg_bytes": jpeg_size(rgb, quality=jpeg_quality), "png_bytes": png_size(rgb), **clutter(rgb)}
    spec = radial_spectrum(rgb)
    row["spectrum_slope"], row["spectrum_intercept"] = spec["slope"], spec["intercept"]
    for s in edge_sigmas:
        d = edge_density(rgb, sigma=s)
        row["edge_density" if s == 2.0 else f"edge_density_sigma{s:g}"] = d
    return row


def _source_note(path) -> str:
    """How ``io.read_image`` will have converted the file ("" for 8-bit RGB)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            mode = im.mode
    except Exception:  # the measurement itself reports unreadable files
        return ""
    return "" if mode == "RGB" else f"converted from PIL mode {mode}"


def _measure_file(path: str, settings: dict) -> dict:
    """One table row for ``path``; never raises (failures become status 'failed')."""
    try:
        row = measure(path, **settings)
        return {**row, "status": "ok", "error": "", "note": _source_note(path)}
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


def table(paths_or_folder, *, root=None, cache=None, n_jobs: int | None = None, progress: bool = True,
          jpeg_quality: int = 75, edge_sigmas=EDGE_SIGMAS, flush_every: int = 20):
    """Measure many images: one row per image with every measure, in parallel, cached.

    Args:
        paths_or_folder: a folder (searched recursively for image files), a list of paths,
            or a DataFrame with a ``path`` column (e.g. the dream ``manifest.csv``); a
            DataFrame's other columns (``layer``, ``layer_index``, ``seed``, ...) are kept.
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
        flush_every: write the cache after this many new rows.

    Returns:
        DataFrame in input order: the input columns (``path`` first), the columns of
        :func:`measure`, ``status`` ("ok" or "failed"), ``error`` (message, "" when ok)
        and ``note`` (e.g. "converted from PIL mode L" for grayscale, RGBA or 16-bit
        files, which are measured after conversion). Unreadable, truncated or tiny (< 32
        px) files give a warning naming the file and a failed row with NaN measures.
    """
    import os
    import warnings
    from concurrent.futures import ProcessPoolExecutor, as_completed

    import pandas as pd
    from tqdm.auto import tqdm

    settings = {"jpeg_quality": int(jpeg_quality), "edge_sigmas": tuple(float(s) for s in edge_sigmas)}
    df, given, files = _inputs(paths_or_folder, root)
    keys = pd.DataFrame([_file_key(f, settings) for f in files])
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
    for i in range(len(files)):
        if rows[i].get("status") == "failed":
            err = str(rows[i].get("error"))
            where = "" if files[i] in err else f"{files[i]}: "
            warnings.warn(f"features.table: {where}{err} (row marked failed, the rest goes on)", stacklevel=2)
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
        lab = _rgb2lab_rr(rgb)
        fc, maps = _fc_from_lab(lab, return_maps=True)
        se, ent = _se_from_lab(lab, return_bands=True)
        ax = axes[r]
        ax[0].imshow(rgb)
        ax[0].set_ylabel(title, fontsize=8)
        panels = [("fc", f"Feature Congestion map\nmean {fc:.2f}"), ("color", "colour clutter"),
                  ("contrast", "contrast clutter"), ("orientation", "orientation clutter")]
        for a, (key, name) in zip(ax[1:5], panels):
            im = a.imshow(maps[key], cmap="magma")
            a.set_title(name if r == 0 or key == "fc" else "", fontsize=8)
            cb = fig.colorbar(im, ax=a, fraction=0.046, pad=0.02, format="%.3g")
            cb.ax.tick_params(labelsize=6)
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

"""Rosenholtz, Li & Nakano (2007) clutter: Feature Congestion and Sub-band Entropy.

"Measuring visual clutter", J. Vision 7(2):17. A port of the authors' MATLAB code, the
"June01" release; each private helper names the reference file it follows. Against that
code run unmodified under GNU Octave (``tests/test_clutter.py``, reference values in
``clutter-matlab.json``) both measures agree to better than 1e-8 relative.

==========================  ===============================================================
function                    returns
==========================  ===============================================================
:func:`feature_congestion`  Feature Congestion clutter (+ colour/contrast/orientation maps)
:func:`subband_entropy`     Sub-band Entropy clutter in nats (+ per-band entropies)
:func:`measure`             both, sharing the Lab conversion, as a dict of table columns
==========================  ===============================================================

``image`` is a uint8 HxWx3 RGB array or a path (read by :func:`helpers.io.read_image`).
"""
from __future__ import annotations

from math import factorial

import numpy as np
from scipy import fft
from scipy.ndimage import convolve1d

from helpers import io
from helpers.jit import compiled

# torch (1.9 s; here only for its MKL FFTs) and pyrtools (1.0 s: it imports matplotlib) are imported inside the
# functions that use them: the measure modules are imported by worker processes and analysis notebooks.

# The per-pixel loops below are compiled with numba (:func:`helpers.jit.compiled`). Each
# does what the NumPy expression in its docstring does, in one pass over memory instead of
# one per operation.


def _rgb(image) -> np.ndarray:
    """uint8 HxWx3 from an array or a path (via ``io.read_image``)."""
    return io.read_image(image)

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
    rgb = np.asarray(rgb)
    flat = np.ascontiguousarray(rgb).reshape(-1, 3)
    if rgb.dtype == np.uint8:
        lab = _lab_u8(flat, _srgb_lut())
    else:
        lab = _lab_linear(np.ascontiguousarray(_srgb_linear(flat.astype(np.float64) / 255.0)))
    return lab.reshape(rgb.shape)


@compiled
def _lab_pixel(r, g, b):  # pragma: no cover - compiled
    """RGB2Lab.m for one linearised RGB pixel: (L, a, b) on the reference's scale."""
    X = (r * 0.4124 + g * 0.3576 + b * 0.1805) / 95.047
    Y = (r * 0.2126 + g * 0.7152 + b * 0.0722) / 100.000
    Z = (r * 0.0193 + g * 0.1192 + b * 0.9505) / 108.883
    fx = np.cbrt(X) if X > 0.008856 else 7.787 * X + 16 / 116
    fy = np.cbrt(Y) if Y > 0.008856 else 7.787 * Y + 16 / 116
    fz = np.cbrt(Z) if Z > 0.008856 else 7.787 * Z + 16 / 116
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


@compiled
def _lab_u8(rgb, lut):  # pragma: no cover - compiled
    """:func:`_lab_pixel` of uint8 pixels [N, 3], linearised through ``lut`` (one pass, no temporary)."""
    out = np.empty((rgb.shape[0], 3))
    for i in range(rgb.shape[0]):
        out[i, 0], out[i, 1], out[i, 2] = _lab_pixel(lut[rgb[i, 0]], lut[rgb[i, 1]], lut[rgb[i, 2]])
    return out


@compiled
def _lab_linear(x):  # pragma: no cover - compiled
    """:func:`_lab_pixel` of linearised float pixels [N, 3]."""
    out = np.empty((x.shape[0], 3))
    for i in range(x.shape[0]):
        out[i, 0], out[i, 1], out[i, 2] = _lab_pixel(x[i, 0], x[i, 1], x[i, 2])
    return out


def _gauss1d(halfsupport: int, sigma: float, center: float = 0.0) -> np.ndarray:
    """RRgaussfilter1D.m: normalised Gaussian on -halfsupport..halfsupport."""
    t = np.arange(-halfsupport, halfsupport + 1, dtype=np.float64)
    k = np.exp(-((t - center) ** 2) / (2 * sigma ** 2))
    return k / k.sum()


def _filt1(x: np.ndarray, k: np.ndarray, axis: int) -> np.ndarray:
    """filt2.m with a 1-D kernel along ``axis`` ("odd" reflection = mode mirror)."""
    return convolve1d(x, k, axis=axis, mode="mirror")


def _overlapconv(x: np.ndarray, k: np.ndarray, axis: int) -> np.ndarray:
    """RRoverlapconv.m along ``axis``: zero-padded convolution / kernel overlap."""
    n = x.shape[axis]
    num = convolve1d(x, k, axis=axis, mode="constant", cval=0.0)
    den = convolve1d(np.ones(n), k, mode="constant", cval=0.0)
    shape = [1] * x.ndim
    shape[axis] = n
    return k.sum() * num / den.reshape(shape)


def _expand(x: np.ndarray, k: np.ndarray, axis: int) -> np.ndarray:
    """RRoverlapconvexpand.m along one axis: zero-insert to double length, RRoverlapconv with 2*k.

    The MATLAB code writes ``tmp(:, 2*k) = in(:, k)`` (1-based), so input sample ``i``
    (0-based) lands at position ``2i + 1`` of the doubled signal, not ``2i`` as in the
    Python ports of the reference (a half-pixel shift of the pooled orientation energy).
    """
    n = x.shape[axis]
    shape = list(x.shape)
    shape[axis] = 2 * n
    tmp = np.zeros(shape)
    idx = [slice(None)] * x.ndim
    idx[axis] = slice(1, None, 2)
    tmp[tuple(idx)] = x
    return _overlapconv(tmp, 2 * k, axis)


# 1-D stages of the reference as functions of (array, axis); each is linear, so along an
# axis of length n it is an (n_out x n) matrix, built once per length by applying the
# stage to the identity and then applied with BLAS (see _AxisOp).
def _stage_reduce(k):
    """reduce.m along one axis: filt2 (mirror) then keep the even samples (1-based odd)."""
    def f(x, axis):
        y = _filt1(x, k, axis)
        idx = [slice(None)] * y.ndim
        idx[axis] = slice(0, None, 2)
        return y[tuple(idx)]
    return f


def _stage_pool(k):
    """poolnew.m along one axis: reduce(RRoverlapconvexpand(x, k), k) (n -> n)."""
    red = _stage_reduce(k)
    return lambda x, axis: red(_expand(x, k, axis), axis)


class _AxisOp:
    """A linear map along one array axis, stored as a banded matrix and applied blockwise.

    ``M`` (n_out x n_in) is cut into row blocks; each block touches only the input columns
    where its rows are non-zero, so applying it costs one small dense matrix product per
    block (BLAS), e.g. 64 x 120 for the 57-tap orientation pooling. The result equals the
    stage the matrix was built from up to floating-point rounding (~1e-16 relative): the
    same products, summed in another order.
    """

    def __init__(self, M: np.ndarray, block: int | None = None):
        self.M = M
        self.n_out, self.n_in = M.shape
        nz = M != 0
        width = max(1, int(nz.sum(axis=1).max()))
        block = block or max(32, 2 * width)
        self.blocks = []
        for r0 in range(0, self.n_out, block):
            r1 = min(r0 + block, self.n_out)
            cols = np.flatnonzero(nz[r0:r1].any(axis=0))
            c0, c1 = (int(cols[0]), int(cols[-1]) + 1) if cols.size else (0, 1)
            self.blocks.append((r0, r1, c0, c1, np.ascontiguousarray(M[r0:r1, c0:c1]),
                                np.ascontiguousarray(M[r0:r1, c0:c1].T)))

    def __call__(self, x: np.ndarray, axis: int) -> np.ndarray:
        """Apply along ``axis`` (-1 or -2) of a float64 array ``[..., H, W]``."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        if axis == -1:
            flat = x.reshape(-1, x.shape[-1])
            out = np.empty((flat.shape[0], self.n_out))
            for r0, r1, c0, c1, _, mt in self.blocks:
                np.matmul(flat[:, c0:c1], mt, out=out[:, r0:r1])
            return out.reshape(x.shape[:-1] + (self.n_out,))
        if axis == -2:
            lead = x.reshape((-1,) + x.shape[-2:])
            out = np.empty((lead.shape[0], self.n_out, x.shape[-1]))
            for r0, r1, c0, c1, m, _ in self.blocks:
                np.matmul(m, lead[:, c0:c1, :], out=out[:, r0:r1, :])
            return out.reshape(x.shape[:-2] + (self.n_out, x.shape[-1]))
        raise ValueError(f"_AxisOp: axis must be -1 or -2, got {axis}")


_OPS: dict = {}


def _op(name: str, stage, n: int) -> _AxisOp:
    """The cached :class:`_AxisOp` of ``stage`` (a 1-D reference stage) for length ``n``."""
    key = (name, n)
    if key not in _OPS:
        _OPS[key] = _AxisOp(np.ascontiguousarray(stage(np.eye(n), 0)))
    return _OPS[key]


def _sep2(x: np.ndarray, name: str, stage) -> np.ndarray:
    """Apply the 1-D ``stage`` along the last two axes (x first, then y, as the reference)."""
    x = _op(name, stage, x.shape[-1])(x, -1)
    return _op(name, stage, x.shape[-2])(x, -2)


def _sep2t(x: np.ndarray, name: str, stage) -> np.ndarray:
    """:func:`_sep2` returning the result with its last two axes swapped, ``[C, W', H']``.

    The y pass runs first (a row block times the image rows: large BLAS products), then the
    x pass as ``M @ rows.T``, which BLAS does faster than ``rows @ M.T`` blocks and whose
    output is the transpose. Callers that only combine the results pixel by pixel keep
    working in this layout and transpose once at the end (or apply another ``_sep2t``).
    Separable stages on different axes commute, so this is the same linear map.
    """
    y = _op(name, stage, x.shape[-2])(x, -2)
    lead, h, w = y.shape[:-2], y.shape[-2], y.shape[-1]
    flat = y.reshape(-1, w)  # [C * H', W]
    op = _op(name, stage, w)
    out = np.empty((op.n_out, flat.shape[0]))
    ft = flat.T
    for r0, r1, c0, c1, m, _ in op.blocks:
        np.matmul(m, ft[c0:c1], out=out[r0:r1])
    out = out.reshape((op.n_out,) + lead + (h,))  # [W', C..., H']
    return np.moveaxis(out, 0, -2)


def _overlapconv2t(x: np.ndarray, k: np.ndarray, name: str) -> np.ndarray:
    """RRoverlapconv(k) then RRoverlapconv(k') over the last two axes (``name``: cache key of ``k``),
    returned with those two axes swapped (see :func:`_sep2t`)."""
    return _sep2t(x, "overlap:" + name, lambda y, axis: _overlapconv(y, k, axis))


def _reduce(x: np.ndarray, k: np.ndarray = _PYR_KERNEL) -> np.ndarray:
    """reduce.m: filter rows, keep even columns, filter columns, keep even rows."""
    return _sep2(x, "reduce:" + repr(k.tolist()), _stage_reduce(k))


def _gaussian_pyramid(x: np.ndarray, levels: int) -> list:
    """RRgaussianPyramid.m: level 1 is ``x``; each next level is ``reduce`` of the previous."""
    pyr = [np.asarray(x, dtype=np.float64)]
    for _ in range(levels - 1):
        pyr.append(_reduce(pyr[-1]))
    return pyr


def _upconv_stage(y: np.ndarray, axis: int) -> np.ndarray:
    """One matlabPyrTools ``upConv`` step along axis 0 (zero insertion, 5-tap kernel, 'reflect1')."""
    import pyrtools

    assert axis == 0
    return pyrtools.upConv(y, _PYR_KERNEL.reshape(-1, 1), "reflect1", (2, 1), start=(0, 0))


def _collapse(levels: list) -> np.ndarray:
    """Cross-scale max, as at the end of colorClutter.m / contrastClutter.m / orientationClutter.m.

    Level ``s`` (1-based) is upsampled ``s - 1`` times with matlabPyrTools ``upConv``
    (zero insertion, 5x5 kernel summing to 1, 'reflect1' edges; note this scales the
    coarse maps by 1/4 per step, a property of the reference that is kept), then the
    pixelwise maximum is taken over the common top-left region. The 5x5 kernel is the
    outer product of the 1-D one and reflection acts on each axis alone, so each step is
    pyrtools' 1-D ``upConv`` along the rows and then the columns (a banded matrix built
    from pyrtools itself, :class:`_AxisOp`; equal to the 2-D call to ~1e-16).
    """
    out = levels[0].copy()
    for s in range(1, len(levels)):
        here = levels[s]
        for _ in range(s):
            here = _sep2(here, "upconv", _upconv_stage)
        h, w = min(out.shape[0], here.shape[0]), min(out.shape[1], here.shape[1])
        np.maximum(out[:h, :w], here[:h, :w], out=out[:h, :w])
    return out


def _color_clutter_levels(L: list, a: list, b: list, pool_sigma: float = 3.0) -> list:
    """computeColorClutter.m: cube root of sqrt(det) of the local Lab covariance, per level."""
    dL2, da2, db2 = 0.0007 ** 2, 0.1 ** 2, 0.05 ** 2
    g = _gauss1d(round(2 * pool_sigma), pool_sigma)
    out = []
    for Li, ai, bi in zip(L, a, b):
        stack = np.empty((9,) + Li.shape)
        stack[0], stack[1], stack[2] = Li, ai, bi
        np.multiply(Li, Li, out=stack[3])
        np.multiply(Li, ai, out=stack[4])
        np.multiply(Li, bi, out=stack[5])
        np.multiply(ai, ai, out=stack[6])
        np.multiply(ai, bi, out=stack[7])
        np.multiply(bi, bi, out=stack[8])
        pooled = _overlapconv2t(stack, g, f"color{pool_sigma}")  # [9, W, H]
        out.append(np.ascontiguousarray(_color_volume(pooled, dL2, da2, db2).T))
    return out


@compiled
def _color_volume(m, dL2, da2, db2):  # pragma: no cover - compiled
    """computeColorClutter.m's per-pixel step, from the pooled [mL, ma, mb, LL, La, Lb, aa, ab, bb]:

    ``c11 = LL - mL**2 + dL2``, ``c12 = La - mL*ma``, ``c13 = Lb - mL*mb``,
    ``c22 = aa - ma**2 + da2``, ``c23 = ab - ma*mb``, ``c33 = bb - mb**2 + db2``;
    ``det = c11 (c22 c33 - c23 c23) - c12 (c12 c33 - c23 c13) + c13 (c12 c23 - c22 c13)``;
    returns ``cbrt(sqrt(det))`` (the reference's ``sqrt(det).^(1/3)``, to rounding: ``1/3`` is
    not a double, and ``pow`` is several times slower than ``cbrt``).
    """
    _, h, w = m.shape
    out = np.empty((h, w))
    for i in range(h):
        for j in range(w):
            mL, ma, mb = m[0, i, j], m[1, i, j], m[2, i, j]
            c11 = m[3, i, j] - mL ** 2 + dL2
            c12 = m[4, i, j] - mL * ma
            c13 = m[5, i, j] - mL * mb
            c22 = m[6, i, j] - ma ** 2 + da2
            c23 = m[7, i, j] - ma * mb
            c33 = m[8, i, j] - mb ** 2 + db2
            det = c11 * (c22 * c33 - c23 * c23) - c12 * (c12 * c33 - c23 * c13) + c13 * (c12 * c23 - c22 * c13)
            out[i, j] = np.cbrt(np.sqrt(det))
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
        inner = _sep2(Li, f"mirror:dog-inner{filt_sigma}", lambda y, axis: _filt1(y, gi, axis))
        outer = _sep2(Li, f"mirror:dog-outer{filt_sigma}", lambda y, axis: _filt1(y, go, axis))
        c = np.abs(inner - outer)
        m, m2 = _overlapconv2t(np.stack([c, c * c]), g, f"contrast{pool_sigma}")
        out.append(np.ascontiguousarray(np.sqrt(np.abs(m2 - m ** 2)).T))
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


_FFT_KERNELS: dict = {}


def _mirror_fftconv2(x: np.ndarray, k1: np.ndarray, k2: np.ndarray, name: str) -> tuple:
    """filt2.m with two real 2-D kernels of one size: mirror padding + one FFT convolution pair.

    Both results come from one complex inverse FFT: with ``X`` the spectrum of the padded
    image, ``ifft2(X * (K1 + 1j K2)) = x*k1 + 1j x*k2`` because both convolutions are
    real. The kernels' spectrum is cached per padded size under ``name``. torch's FFT
    (MKL), double precision. Returns ``(x*k1, x*k2)``, each HxW (strided views).
    """
    import torch

    kh, kw = k1.shape
    ph, pw = kh // 2, kw // 2
    xp = np.pad(x, ((ph, ph), (pw, pw)), mode="reflect")  # numpy "reflect" == MATLAB "odd"
    shape = tuple(fft.next_fast_len(s) for s in (xp.shape[0] + kh - 1, xp.shape[1] + kw - 1))
    key = (name, shape)
    if key not in _FFT_KERNELS:
        _FFT_KERNELS[key] = torch.fft.fft2(torch.from_numpy(k1 + 1j * k2), s=shape)
    z = torch.fft.fft2(torch.from_numpy(xp).to(torch.complex128), s=shape)
    z *= _FFT_KERNELS[key]
    torch.fft.ifft2(z, out=z)
    h, w = x.shape
    full = z.numpy()[2 * ph:2 * ph + h, 2 * pw:2 * pw + w]
    return full.real, full.imag


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
    # y passes first (fast BLAS shape), then the x passes as M @ rows.T: h and v come out
    # transposed [W, H], and so do the FFT outputs below, for one transposed energy stack
    fy = lambda k1: (lambda y, axis: _filt1(y, k1, axis))  # noqa: E731
    ys = np.stack([_op("mirror:orient-dy", fy(dy), Li.shape[0])(Li, -2),
                   _op("mirror:orient-gx", fy(gx), Li.shape[0])(Li, -2)])
    e = np.empty((4, Li.shape[1], Li.shape[0]))
    for i, (name, k1) in enumerate((("mirror:orient-gx", gx), ("mirror:orient-dy", dy))):
        op = _op(name, fy(k1), Li.shape[1])
        for r0, r1, c0, c1, m, _ in op.blocks:
            np.matmul(m, ys[i].T[c0:c1], out=e[i, r0:r1])
    left, right = _mirror_fftconv2(Li, filters[2], filters[3], f"orient-diag{sigma}")
    e[2], e[3] = left.T, right.T
    e *= e  # H, V, L, R energies, [4, W, H]
    k = _gauss1d(round(2 * 1.75), 1.75)  # poolnew.m with poolScale 1.75
    e = _sep2t(e, "pool1.75", _stage_pool(k))  # swaps back to [4, H, W]
    total = e.sum(axis=0) + 1.0  # noise = 1.0
    return (e[0] - e[1]) / total, (e[3] - e[2]) / total  # (H - V), (R - L)


def _orientation_clutter_levels(L: list) -> list:
    """computeOrientationClutter.m: 4th root of det of the local (cos, sin) covariance, per level."""
    noise, pool = 0.001, 7 / 2
    g = _gauss1d(round(8 * pool), 4 * pool)
    out = []
    for Li in L:
        c, s = _opp_energy(Li)
        Dc, Ds, cc, cs, ss = _overlapconv2t(np.stack([c, s, c * c, c * s, s * s]), g, f"orient{pool}")  # [W, H]
        c11 = cc - Dc ** 2 + noise
        c12 = cs - Dc * Ds
        c22 = ss - Ds ** 2 + noise
        out.append(np.ascontiguousarray(((c11 * c22 - c12 ** 2) ** 0.25).T))
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

    Implementation: every separable 1-D stage of the reference (mirror-padded filt2,
    RRoverlapconv, reduce, the expand-and-reduce of poolnew.m) is, along an axis of
    length n, a banded n_out x n matrix; it is built once per length from the reference
    stage itself and applied block by block with BLAS (:class:`_AxisOp`). The two diagonal
    13x13 orientation filters, which are not separable, go through one FFT convolution
    pair (torch's FFT, both in one complex transform); the per-pixel steps (Lab, the
    colour covariance volume) are numba loops.
    These are the reference's linear maps, so only rounding differs: against the June01
    MATLAB code under GNU Octave the value agrees to better than 1e-8 relative
    (tests/test_clutter.py); against the previous implementation see benchmarks/features.py.
    float64 throughout: the colour covariances subtract squares of L up to ~81 from each
    other next to a floor of 0.0007**2, beyond float32.

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

    Used in: no notebook; ``benchmarks/features.py``, ``tests/test_browser.py``, ``tests/test_clutter.py``,
        ``tests/test_features.py`` and 5 more.
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
    # Every level works on a Hermitian spectrum X (fft2 of a real image times even masks,
    # cropped symmetrically about DC; checked to rounding for even and odd sizes), so
    # real(ifft2(X * M)) == ifft2(X * herm(M)) with herm(M)(k) = (M(k) + conj(M(-k))) / 2,
    # whose result is real: two bands then share one complex inverse FFT,
    # ifft2(X * (herm(M1) + 1j herm(M2))) = band1 + 1j band2.
    packed = []
    for bands_l, _, _ in levels[1:]:
        flip = np.ix_(*[(-np.arange(n)) % n for n in bands_l.shape[-2:]])
        herm = (bands_l + np.conj(bands_l[(slice(None),) + flip])) / 2
        packed.append(np.stack([herm[i] + 1j * herm[i + 1] for i in range(0, nb - 1, 2)]) if nb % 2 == 0 else None)
    _SF_MASKS[key] = levels + [packed]
    return _SF_MASKS[key]


@compiled
def _full_spectrum_times(half, w, mask):  # pragma: no cover - compiled
    """``fft2(x) * mask`` for real ``x`` [C, h, w] from ``half = rfft2(x)`` (Hermitian symmetry).

    Column ``j >= nh`` of the full spectrum is ``conj(half[(-i) % h, w - j])``.
    """
    c_, h, nh = half.shape
    out = np.empty((c_, h, w), np.complex128)
    for c in range(c_):
        for i in range(h):
            ir = (h - i) % h
            for j in range(w):
                v = half[c, i, j] if j < nh else np.conj(half[c, ir, w - j])
                out[c, i, j] = v * mask[i, j]
    return out


@compiled
def _times_each(x, masks):  # pragma: no cover - compiled
    """``x[:, None] * masks[None]``: [C, h, w] times [P, h, w] -> [C, P, h, w]."""
    c_, h, w = x.shape
    p_ = masks.shape[0]
    out = np.empty((c_, p_, h, w), np.complex128)
    for c in range(c_):
        for p in range(p_):
            for i in range(h):
                for j in range(w):
                    out[c, p, i, j] = x[c, i, j] * masks[p, i, j]
    return out


@compiled
def _gather_times(x, rows, cols, mask):  # pragma: no cover - compiled
    """``x[:, rows][:, :, cols] * mask`` (the next pyramid level's spectrum)."""
    c_ = x.shape[0]
    h, w = rows.size, cols.size
    out = np.empty((c_, h, w), np.complex128)
    for c in range(c_):
        for i in range(h):
            for j in range(w):
                out[c, i, j] = x[c, rows[i], cols[j]] * mask[i, j]
    return out


def _sf_bands(channels: np.ndarray, height: int = 3, order: int = 3) -> list:
    """Steerable-pyramid sub-bands of each channel, float64 arrays, in buildSFpyr order.

    ``channels``: float64 [C, H, W]. Returns a list over channels of lists of bands:
    ``height * (order + 1)`` oriented bands (finest scale first) then the lowpass
    residual; the highpass residual is not computed (band_entropy.m skips it). Same
    arithmetic as ``pyrtools.pyramids.SteerablePyramidFreq`` (masks shared across
    channels and images of one size). The FFTs are torch's (Intel MKL in the x86 wheels,
    about 1.6x pocketfft's speed on one core), double precision, in place; the bands are
    strided views (real and imaginary parts of one complex array).
    """
    import torch

    *masks, packed = _sf_masks(channels.shape[-2:], height, order)
    x = torch.from_numpy(np.ascontiguousarray(channels, dtype=np.float64))
    lodft = _full_spectrum_times(torch.fft.rfft2(x).numpy(), x.shape[-1], masks[0][2])
    out = [[] for _ in range(len(channels))]
    for level, (bands, gather, lomask) in enumerate(masks[1:]):
        two = packed[level] is not None  # two real bands per inverse FFT (see _sf_masks)
        z = _times_each(lodft, packed[level] if two else bands)
        torch.fft.ifft2(torch.from_numpy(z), out=torch.from_numpy(z))  # in place
        for c in range(len(channels)):
            if two:
                out[c].extend(part for i in range(z.shape[1]) for part in (z[c, i].real, z[c, i].imag))
            else:
                out[c].extend(z[c, i].real for i in range(z.shape[1]))
        lodft = _gather_times(lodft, np.ravel(gather[0]), np.ravel(gather[1]), lomask)
    torch.fft.ifft2(torch.from_numpy(lodft), out=torch.from_numpy(lodft))
    for c in range(len(channels)):
        out[c].append(lodft[c].real)
    return out


def _entropy(x: np.ndarray, tol: float = 0.0) -> float:
    """entropy.m: natural-log Shannon entropy of a ``ceil(sqrt(n))``-bin histogram of ``x``.

    Exactly as the June01 reference's ``entropy.m`` and ``histogram.m``: ``ceil(sqrt(n))``
    bins with equally spaced edges from ``min(x)`` to ``max(x)``, counted as MATLAB
    ``histc`` (bin k holds ``edges[k] <= x < edges[k+1]``, the last bin the values equal
    to the maximum), probabilities ``count / n``, natural logarithm (nats). Checked
    against the original run under GNU Octave (tests/test_clutter.py). A constant band, or
    one whose range is at most ``tol`` (FFT round-off), has entropy 0. ``x`` may be a
    strided view (e.g. the real part of a complex array): it is not copied.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        x = x.reshape(1, -1)
    nbins = int(np.ceil(np.sqrt(x.size)))
    lo, hi = _min_max(x)
    if nbins <= 1 or not hi - lo > tol:
        return 0.0
    counts = _histc_counts(x, lo, hi, nbins)
    pr = counts[counts > 0] / x.size
    return float(-np.sum(pr * np.log(pr)))


@compiled
def _min_max(x):  # pragma: no cover - compiled
    """``(x.min(), x.max())`` of a non-empty 2-D array (any strides) in one pass."""
    lo = hi = x[0, 0]
    h, w = x.shape
    for i in range(h):
        row = x[i]
        for j in range(w):
            v = row[j]
            lo = min(lo, v)
            hi = max(hi, v)
    return lo, hi


@compiled
def _histc_counts(x, lo, hi, nbins):  # pragma: no cover - compiled
    """MATLAB ``histc(x(:), linspace(lo, hi, nbins))`` of a 2-D array (any strides).

    The bin of each value is estimated arithmetically and then corrected against the
    edges themselves (``np.linspace``'s values), so the counts are exact even where the
    range is tiny against the values' magnitude. Four partial
    histograms, summed at the end, keep consecutive increments of one bin from waiting
    on each other.
    """
    step = (hi - lo) / (nbins - 1)
    edges = np.empty(nbins + 1)
    for k in range(nbins):
        edges[k] = k * step + lo  # np.linspace(lo, hi, nbins)
    edges[nbins - 1] = hi
    edges[nbins] = np.inf
    scale = (nbins - 1) / (hi - lo)
    parts = np.zeros((4, nbins + 1), np.int64)
    h, w = x.shape
    for i in range(h):
        row = x[i]
        for j in range(w):
            v = row[j]
            k = min(int((v - lo) * scale), nbins - 1)
            while k > 0 and v < edges[k]:
                k -= 1
            while v >= edges[k + 1]:  # edges[nbins] is +inf
                k += 1
            parts[j & 3, k] += 1
    return parts.sum(axis=0)[:nbins]


def subband_entropy(image, *, levels: int = 3, orientations: int = 4, chroma_weight: float = SE_CHROMA_WEIGHT,
                    return_bands: bool = False):
    """Sub-band Entropy clutter (Rosenholtz, Li & Nakano 2007), as getClutter_SE.m.

    Pipeline: CIELab [RGB2Lab.m, see :func:`_rgb2lab_rr`]; for L, a and b a steerable
    pyramid with ``levels`` scales and ``orientations`` orientations [buildSFpyr.m =
    pyrtools SteerablePyramidFreq, order ``orientations - 1``]; the Shannon entropy of
    each oriented band and of the lowpass residual (not the highpass residual)
    [band_entropy.m, entropy.m: a ``ceil(sqrt(n))``-bin histogram from min to max, natural
    log, see :func:`_entropy`]; mean over bands per channel; a chroma channel whose
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

    Used in: no notebook; ``benchmarks/features.py``, ``tests/test_clutter.py``, ``tests/test_features.py``,
        ``tests/test_ratings.py`` and 4 more.
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


def measure(image) -> dict:
    """Feature Congestion and Sub-band Entropy together, sharing the Lab conversion.

    Args:
        image: uint8 HxWx3 RGB array or a path.

    Returns:
        dict with floats ``feature_congestion`` and ``subband_entropy`` (reference defaults).

    Used in: notebooks 02, 05 (p2-biggan-features.parquet) and 08 through :func:`helpers.measures.table.table`.
    """
    lab = _rgb2lab_rr(_rgb(image))
    return {"feature_congestion": _fc_from_lab(lab), "subband_entropy": _se_from_lab(lab)}


def maps(image) -> dict:
    """Everything the clutter-maps figure shows of one image, sharing the Lab conversion.

    Args:
        image: uint8 HxWx3 RGB array or a path.

    Returns:
        dict: ``rgb`` (the uint8 image), ``feature_congestion`` and ``maps`` (as
        :func:`feature_congestion` with ``return_maps``), ``subband_entropy`` and ``band_entropies``
        (as :func:`subband_entropy` with ``return_bands``).

    Used in: notebooks 02, 05 (p2-biggan-features.parquet) and 08 through :func:`helpers.measures.table.table`.
    """
    rgb = _rgb(image)
    lab = _rgb2lab_rr(rgb)
    fc, fc_maps = _fc_from_lab(lab, return_maps=True)
    se, ent = _se_from_lab(lab, return_bands=True)
    return {"rgb": rgb, "feature_congestion": fc, "maps": fc_maps, "subband_entropy": se, "band_entropies": ent}

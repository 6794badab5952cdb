"""Tests of helpers.measures.clutter: Feature Congestion and Sub-band Entropy against the MATLAB original."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from helpers.measures import clutter
from synthetic_images import objects

REFERENCE = Path(__file__).resolve().parents[1] / "tests" / "data" / "clutter-matlab.json"


# --- clutter: Feature Congestion and Sub-band Entropy ------------------------------------


def _gratings(n_orient, size=128, period=8):
    """Gray image of line gratings: one orientation, or ``n_orient`` in a 2x2 patchwork."""
    yy, xx = np.mgrid[0:size, 0:size]
    angles = np.linspace(0, np.pi, n_orient, endpoint=False)
    img = np.zeros((size, size))
    half = size // 2
    for i, (sy, sx) in enumerate([(0, 0), (0, half), (half, 0), (half, half)]):
        th = angles[i % n_orient]
        patch = np.cos(2 * np.pi * (np.cos(th) * xx + np.sin(th) * yy) / period)
        img[sy:sy + half, sx:sx + half] = patch[sy:sy + half, sx:sx + half]
    g = np.round(127.5 + 100 * img).astype(np.uint8)
    return np.repeat(g[..., None], 3, axis=2)


@pytest.mark.parametrize("colour,shape", [((128, 128, 128), (64, 64)), ((10, 200, 30), (48, 80)), ((255, 0, 255), (33, 47))])
def test_uniform_image_reference_values(colour, shape):
    img = np.empty(shape + (3,), np.uint8)
    img[:] = colour
    assert clutter.feature_congestion(img) == pytest.approx(1.248283, abs=5e-7)
    if min(shape) >= 32:
        assert clutter.subband_entropy(img) == 0.0


def test_feature_congestion_maps():
    img = objects(10, size=96)
    value, maps = clutter.feature_congestion(img, return_maps=True)
    assert set(maps) == {"fc", "color", "contrast", "orientation"}
    assert all(m.shape == (96, 96) and np.isfinite(m).all() for m in maps.values())
    assert value == pytest.approx(maps["fc"].mean())
    w = clutter.FC_WEIGHTS
    np.testing.assert_allclose(maps["fc"], maps["color"] / w["color"] + maps["contrast"] / w["contrast"]
                               + maps["orientation"] / w["orientation"])
    assert clutter.feature_congestion(img, p=2) >= value  # Minkowski p=2 >= mean


def test_more_objects_more_clutter():
    few, many = objects(3), objects(40)
    assert clutter.feature_congestion(many) > clutter.feature_congestion(few) > 1.248283
    assert clutter.subband_entropy(many) > clutter.subband_entropy(few) > 0


def test_more_orientations_more_orientation_clutter():
    one, four = _gratings(1), _gratings(4)
    _, m1 = clutter.feature_congestion(one, return_maps=True)
    _, m4 = clutter.feature_congestion(four, return_maps=True)
    assert m4["orientation"].mean() > 1.5 * m1["orientation"].mean()
    assert clutter.feature_congestion(four) > clutter.feature_congestion(one)


def test_constant_shift_leaves_contrast_and_colour_clutter_alone():
    # A constant shift of L (and of a, b) changes no local (co)variance: DoG kernels and
    # covariances are shift invariant, as in the reference.
    lab = clutter._rgb2lab_rr(objects(20, size=96))
    L, a, b = (clutter._gaussian_pyramid(lab[..., i], 3) for i in range(3))
    shift = lambda pyr, c: [x + c for x in pyr]  # noqa: E731
    for c0, c1 in zip(clutter._contrast_clutter_levels(L), clutter._contrast_clutter_levels(shift(L, 2.5))):
        np.testing.assert_allclose(c0, c1, atol=1e-9)
    col0 = clutter._color_clutter_levels(L, a, b)
    col1 = clutter._color_clutter_levels(shift(L, 1.0), shift(a, -3.0), shift(b, 4.0))
    for c0, c1 in zip(col0, col1):
        np.testing.assert_allclose(c0, c1, rtol=1e-6)
    # and a uniform colour swap on a gray-level pattern keeps the contrast clutter map
    # whenever the luminance pattern is the same: compare against the same image
    img = objects(15, size=96)
    v, m = clutter.feature_congestion(img, return_maps=True)
    v2, m2 = clutter.feature_congestion(img.copy(), return_maps=True)
    np.testing.assert_array_equal(m["contrast"], m2["contrast"])


def test_gaussian_pyramid_and_orient_filters():
    pyr = clutter._gaussian_pyramid(np.arange(64 * 48, dtype=float).reshape(64, 48), 3)
    assert [p.shape for p in pyr] == [(64, 48), (32, 24), (16, 12)]
    f = clutter._orient_filters()
    assert f.shape == (4, 13, 13)
    np.testing.assert_allclose(f.sum(axis=(1, 2)), 0, atol=1e-12)  # derivative filters
    np.testing.assert_allclose(f[1], f[0].T)
    np.testing.assert_allclose(f[2], f[3][:, ::-1], atol=1e-12)  # +-45 degrees mirror each other


def test_subband_pyramid_matches_pyrtools():
    import pyrtools

    x = np.random.default_rng(1).normal(size=(3, 72, 56))
    ours = clutter._sf_bands(x, 3, 3)
    for c in range(3):
        ref = pyrtools.pyramids.SteerablePyramidFreq(x[c], height=3, order=3).pyr_coeffs
        ref = [ref[(i, j)] for i in range(3) for j in range(4)] + [ref["residual_lowpass"]]
        assert len(ours[c]) == 13
        for o, r in zip(ours[c], ref):
            np.testing.assert_allclose(o, r, atol=1e-12 * np.abs(r).max())


def test_entropy_is_matlab_histc():
    rng = np.random.default_rng(2)
    x = rng.normal(size=1000)
    nb = int(np.ceil(np.sqrt(x.size)))
    edges = np.linspace(x.min(), x.max(), nb)
    counts = np.zeros(nb)
    for v in x:  # histc: edges[k] <= v < edges[k+1], last bin v == edges[-1]
        counts[min(np.searchsorted(edges, v, side="right") - 1, nb - 1)] += 1
    p = counts[counts > 0] / x.size
    assert clutter._entropy(x) == pytest.approx(-(p * np.log(p)).sum(), rel=1e-12)
    assert clutter._entropy(np.full(100, 3.0)) == 0.0
    u = np.repeat(np.arange(10.0), 10)  # 10 equally likely values -> log(10)
    assert clutter._entropy(u) == pytest.approx(np.log(10))


def test_subband_entropy_bands_and_small_images():
    v, ent = clutter.subband_entropy(objects(10, size=64), return_bands=True)
    assert set(ent) == {"L", "a", "b"} and all(len(e) == 13 for e in ent.values())
    w = clutter.SE_CHROMA_WEIGHT
    assert v == pytest.approx((np.mean(ent["L"]) + w * (np.mean(ent["a"]) + np.mean(ent["b"]))) / (1 + 2 * w))
    gray = np.repeat(objects(10, size=64)[..., :1], 3, axis=2)
    _, eg = clutter.subband_entropy(gray, return_bands=True)
    assert max(eg["a"]) == 0 and max(eg["b"]) == 0  # achromatic: chroma range < 0.008
    with pytest.raises(ValueError, match="too small"):
        clutter.subband_entropy(np.zeros((16, 16, 3), np.uint8))


# --- the MATLAB original ----------------------------------------------------------------
def _reference_images() -> dict:
    """The images of clutter-matlab.json, made as its "images" entry says."""
    import skimage.data

    noise = np.random.default_rng(12345).normal(126.5, 12.75, (800, 800, 3))
    uniform = np.empty((256, 256, 3), np.uint8)
    uniform[:] = (200, 30, 40)
    return {"astronaut": skimage.data.astronaut(), "coffee": skimage.data.coffee(), "rocket": skimage.data.rocket(),
            "noise800": np.clip(np.rint(noise), 0, 255).astype(np.uint8), "uniform": uniform}


def test_reference_file_describes_these_images():
    ref = json.loads(REFERENCE.read_text())
    assert set(ref["values"]) == set(ref["images"]) == set(_reference_images())
    assert "June01" in ref["about"] and "getClutter_FC" in ref["about"]


@pytest.mark.parametrize("name", ["astronaut", "coffee", "rocket", "noise800", "uniform"])
def test_matches_matlab_original(name):
    # getClutter_FC(file, 1) and getClutter_SE(file, 3, 0.0625) of the June01 code under
    # GNU Octave (tests/data/clutter-matlab.json, copied from the reference run)
    want = json.loads(REFERENCE.read_text())["values"][name]
    got = clutter.measure(_reference_images()[name])
    assert got["feature_congestion"] == pytest.approx(want["feature_congestion"], rel=1e-6)
    assert got["subband_entropy"] == pytest.approx(want["subband_entropy_nats"], rel=1e-6, abs=1e-12)


def test_expand_puts_samples_at_odd_positions():
    # RRoverlapconvexpand.m: tmp(:, 2*k) = in(:, k) (1-based) -> 0-based 2i + 1
    k = clutter._gauss1d(4, 1.75)
    x = np.zeros((1, 12))
    x[0, 5] = 1.0
    y = clutter._expand(x, k, -1)
    assert y.shape == (1, 24) and int(np.argmax(y[0])) == 11
    np.testing.assert_allclose(y[0, 7:16], 2 * k)  # interior: the doubled kernel, centred on 11


def test_axis_op_equals_direct_stage():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 37, 53))
    k = clutter._gauss1d(28, 14.0)
    stage = lambda y, axis: clutter._overlapconv(y, k, axis)  # noqa: E731
    for axis, n in ((-1, 53), (-2, 37)):
        op = clutter._AxisOp(np.ascontiguousarray(stage(np.eye(n), 0)), block=8)
        np.testing.assert_allclose(op(x, axis), stage(x, axis), rtol=1e-12, atol=1e-14)
    pool = clutter._stage_pool(clutter._gauss1d(4, 1.75))
    op = clutter._AxisOp(np.ascontiguousarray(pool(np.eye(53), 0)))
    np.testing.assert_allclose(op(x, -1), pool(x, -1), rtol=1e-12, atol=1e-14)
    red = clutter._stage_reduce(clutter._PYR_KERNEL)
    op = clutter._AxisOp(np.ascontiguousarray(red(np.eye(37), 0)))
    assert op(x, -2).shape == (2, 19, 53)
    np.testing.assert_allclose(op(x, -2), red(x, -2), rtol=1e-12, atol=1e-14)


def test_features_names_still_importable():
    assert clutter.feature_congestion is clutter.feature_congestion
    assert clutter.subband_entropy is clutter.subband_entropy
    assert clutter.measure is clutter.measure and clutter.FC_WEIGHTS is clutter.FC_WEIGHTS


# --- the compiled kernels and the torch FFT paths, each against the plain NumPy/SciPy form ---


def _histc_entropy(x):
    """entropy.m with MATLAB histc semantics, written out with np.searchsorted."""
    x = np.ravel(x)
    nb = int(np.ceil(np.sqrt(x.size)))
    edges = np.linspace(x.min(), x.max(), nb)
    idx = np.minimum(np.searchsorted(edges, x, side="right") - 1, nb - 1)
    p = np.bincount(idx, minlength=nb)
    p = p[p > 0] / x.size
    return float(-np.sum(p * np.log(p)))


@pytest.mark.parametrize("case", ["normal", "tiny-range", "on-edges", "ties", "strided", "constant-steps"])
def test_entropy_counts_equal_searchsorted_histc(case):
    rng = np.random.default_rng(7)
    x = {"normal": lambda: rng.normal(size=(333, 517)),
         "tiny-range": lambda: 1e6 + 1e-7 * rng.normal(size=(100, 100)),  # range ~1e-12 of |x|
         "on-edges": lambda: np.linspace(-3.0, 2.0, 10001).reshape(1, -1),  # every value an edge
         "ties": lambda: np.round(3 * rng.normal(size=(200, 300))) / 3,
         "strided": lambda: (rng.normal(size=(64, 80)) + 1j * rng.normal(size=(64, 80))).imag,
         "constant-steps": lambda: np.repeat(np.linspace(-2, 5, 50), 40).reshape(40, 50)}[case]()
    assert clutter._entropy(x) == _histc_entropy(x)  # same counts, same sum: bit for bit


def test_lab_kernel_equals_float_path():
    rng = np.random.default_rng(8)
    rgb = rng.integers(0, 256, size=(300, 301, 3), dtype=np.uint8)
    rgb[0, :8] = [[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255], [1, 1, 1], [10, 10, 10], [11, 11, 11]]
    np.testing.assert_allclose(clutter._rgb2lab_rr(rgb), clutter._rgb2lab_rr(rgb.astype(np.float64)), rtol=0, atol=1e-13)


def test_collapse_equals_2d_upconv():
    import pyrtools

    rng = np.random.default_rng(9)
    levels = [rng.random((45, 61)), rng.random((23, 31)), rng.random((12, 16))]
    k2 = np.outer(clutter._PYR_KERNEL, clutter._PYR_KERNEL)
    want = levels[0].copy()
    for s in range(1, 3):  # the reference's 2-D upConv, s times for level s
        here = levels[s]
        for _ in range(s):
            here = pyrtools.upConv(here, k2, "reflect1", (2, 2), start=(0, 0))
        h, w = min(want.shape[0], here.shape[0]), min(want.shape[1], here.shape[1])
        want[:h, :w] = np.maximum(want[:h, :w], here[:h, :w])
    np.testing.assert_allclose(clutter._collapse(levels), want, rtol=1e-13, atol=1e-15)


def test_diagonal_filters_by_fft_equal_direct_mirror_convolution():
    from scipy.ndimage import convolve

    x = np.random.default_rng(10).normal(size=(41, 57))
    f = clutter._orient_filters()
    left, right = clutter._mirror_fftconv2(x, f[2], f[3], "test-diag")
    np.testing.assert_allclose(left, convolve(x, f[2], mode="mirror"), atol=1e-12)
    np.testing.assert_allclose(right, convolve(x, f[3], mode="mirror"), atol=1e-12)

"""Unit tests of helpers.features on small synthetic images."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import features, io


def _noise(h=96, w=96, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _pink(h=128, w=128, seed=0, exponent=1.0):
    """Gray image whose amplitude spectrum falls as 1/f**exponent."""
    rng = np.random.default_rng(seed)
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]
    f = np.hypot(fx, fy)
    f[0, 0] = 1.0
    x = np.real(np.fft.ifft2(np.fft.fft2(rng.standard_normal((h, w))) / f ** exponent))
    x = (x - x.min()) / (x.max() - x.min())
    return np.repeat(np.round(x * 255).astype(np.uint8)[..., None], 3, axis=2)


# --- colour ------------------------------------------------------------------------------
def test_color_stats_pure_colours():
    red = np.zeros((16, 16, 3), np.uint8)
    red[..., 0] = 255
    s = features.color_stats(red)
    assert s["hue"] == pytest.approx(0.0) and s["saturation"] == pytest.approx(1.0)
    assert s["brightness"] == pytest.approx(1.0) and s["hue_concentration"] == pytest.approx(1.0)
    gray = np.full((16, 16, 3), 64, np.uint8)
    g = features.color_stats(gray)
    assert g["saturation"] == 0 and g["brightness"] == pytest.approx(64 / 255)


def test_color_stats_circular_hue_differs_from_arithmetic():
    # half magenta-red (hue ~0.95), half orange-red (hue ~0.05): circular mean is red (0),
    # the arithmetic mean is cyan-ish (0.5)
    from skimage.color import hsv2rgb

    hsv = np.ones((8, 16, 3))
    hsv[:, :8, 0], hsv[:, 8:, 0] = 0.95, 0.05
    img = np.round(hsv2rgb(hsv) * 255).astype(np.uint8)
    s = features.color_stats(img)
    assert s["hue"] == pytest.approx(0.5, abs=0.01)
    assert min(s["hue_circular"], 1 - s["hue_circular"]) < 0.01


# --- compressed size ---------------------------------------------------------------------
def test_jpeg_and_png_size_grow_with_detail():
    flat = np.full((64, 64, 3), 120, np.uint8)
    noisy = _noise(64, 64)
    assert features.jpeg_size(noisy) > 3 * features.jpeg_size(flat)
    assert features.png_size(noisy) > 3 * features.png_size(flat)
    assert features.jpeg_size(noisy, quality=95) > features.jpeg_size(noisy, quality=20)
    with pytest.raises(ValueError, match="quality"):
        features.jpeg_size(noisy, quality=0)


def test_paths_and_arrays_agree(tmp_path):
    img = _noise(40, 50)
    p = io.save_image(img, tmp_path / "a.png")
    assert features.jpeg_size(p) == features.jpeg_size(img)
    assert features.color_stats(str(p)) == features.color_stats(img)


# --- spectrum and edges ------------------------------------------------------------------
@pytest.mark.parametrize("exponent", [1.0, 1.5])
def test_radial_spectrum_recovers_power_law(exponent):
    r = features.radial_spectrum(_pink(exponent=exponent))
    assert set(r) == {"k", "amplitude", "power", "slope", "intercept"}
    assert r["k"].shape == r["amplitude"].shape == r["power"].shape == (64,)
    assert np.all(np.diff(r["k"]) > 0) and r["k"].max() <= 0.5
    np.testing.assert_allclose(r["power"], r["power"])  # finite
    assert r["slope"] == pytest.approx(-exponent, abs=0.15)


def test_radial_spectrum_white_noise_is_flat_and_bins():
    r = features.radial_spectrum(_noise(128, 96), n_bins=20)
    assert len(r["k"]) == 20 and abs(r["slope"]) < 0.15
    assert np.all(r["power"] >= r["amplitude"] ** 2 - 1e-12)  # E|F|^2 >= (E|F|)^2


def test_edge_density():
    flat = np.full((64, 64, 3), 200, np.uint8)
    assert features.edge_density(flat) == 0.0
    square = flat.copy()
    square[16:48, 16:48] = 0
    d = features.edge_density(square, sigma=2.0)
    assert 0 < d < 0.1  # one outline of ~128 px out of 4096
    assert features.edge_density(_noise(64, 64), sigma=1.0) > features.edge_density(_noise(64, 64), sigma=4.0)

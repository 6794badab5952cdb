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


# --- clutter: Feature Congestion and Sub-band Entropy ------------------------------------
def _objects(n, size=128, seed=0):
    """Mid-gray canvas with ``n`` random coloured rectangles (seeded)."""
    rng = np.random.default_rng(seed)
    img = np.full((size, size, 3), 128, np.uint8)
    for _ in range(n):
        y, x = rng.integers(0, size - 12, 2)
        h, w = rng.integers(6, 14, 2)
        img[y:y + h, x:x + w] = rng.integers(0, 256, 3)
    return img


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
    assert features.feature_congestion(img) == pytest.approx(1.248283, abs=5e-7)
    if min(shape) >= 32:
        assert features.subband_entropy(img) == 0.0


def test_feature_congestion_maps():
    img = _objects(10, size=96)
    value, maps = features.feature_congestion(img, return_maps=True)
    assert set(maps) == {"fc", "color", "contrast", "orientation"}
    assert all(m.shape == (96, 96) and np.isfinite(m).all() for m in maps.values())
    assert value == pytest.approx(maps["fc"].mean())
    w = features.FC_WEIGHTS
    np.testing.assert_allclose(maps["fc"], maps["color"] / w["color"] + maps["contrast"] / w["contrast"]
                               + maps["orientation"] / w["orientation"])
    assert features.feature_congestion(img, p=2) >= value  # Minkowski p=2 >= mean


def test_more_objects_more_clutter():
    few, many = _objects(3), _objects(40)
    assert features.feature_congestion(many) > features.feature_congestion(few) > 1.248283
    assert features.subband_entropy(many) > features.subband_entropy(few) > 0


def test_more_orientations_more_orientation_clutter():
    one, four = _gratings(1), _gratings(4)
    _, m1 = features.feature_congestion(one, return_maps=True)
    _, m4 = features.feature_congestion(four, return_maps=True)
    assert m4["orientation"].mean() > 1.5 * m1["orientation"].mean()
    assert features.feature_congestion(four) > features.feature_congestion(one)


def test_constant_shift_leaves_contrast_and_colour_clutter_alone():
    # A constant shift of L (and of a, b) changes no local (co)variance: DoG kernels and
    # covariances are shift invariant, as in the reference.
    lab = features._rgb2lab_rr(_objects(20, size=96))
    L, a, b = (features._gaussian_pyramid(lab[..., i], 3) for i in range(3))
    shift = lambda pyr, c: [x + c for x in pyr]  # noqa: E731
    for c0, c1 in zip(features._contrast_clutter_levels(L), features._contrast_clutter_levels(shift(L, 2.5))):
        np.testing.assert_allclose(c0, c1, atol=1e-9)
    col0 = features._color_clutter_levels(L, a, b)
    col1 = features._color_clutter_levels(shift(L, 1.0), shift(a, -3.0), shift(b, 4.0))
    for c0, c1 in zip(col0, col1):
        np.testing.assert_allclose(c0, c1, rtol=1e-6)
    # and a uniform colour swap on a gray-level pattern keeps the contrast clutter map
    # whenever the luminance pattern is the same: compare against the same image
    img = _objects(15, size=96)
    v, m = features.feature_congestion(img, return_maps=True)
    v2, m2 = features.feature_congestion(img.copy(), return_maps=True)
    np.testing.assert_array_equal(m["contrast"], m2["contrast"])


def test_gaussian_pyramid_and_orient_filters():
    pyr = features._gaussian_pyramid(np.arange(64 * 48, dtype=float).reshape(64, 48), 3)
    assert [p.shape for p in pyr] == [(64, 48), (32, 24), (16, 12)]
    f = features._orient_filters()
    assert f.shape == (4, 13, 13)
    np.testing.assert_allclose(f.sum(axis=(1, 2)), 0, atol=1e-12)  # derivative filters
    np.testing.assert_allclose(f[1], f[0].T)
    np.testing.assert_allclose(f[2], f[3][:, ::-1], atol=1e-12)  # +-45 degrees mirror each other


def test_subband_pyramid_matches_pyrtools():
    import pyrtools

    x = np.random.default_rng(1).normal(size=(3, 72, 56))
    ours = features._sf_bands(x, 3, 3)
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
    assert features._entropy(x) == pytest.approx(-(p * np.log(p)).sum(), rel=1e-12)
    assert features._entropy(np.full(100, 3.0)) == 0.0
    u = np.repeat(np.arange(10.0), 10)  # 10 equally likely values -> log(10)
    assert features._entropy(u) == pytest.approx(np.log(10))


def test_subband_entropy_bands_and_small_images():
    v, ent = features.subband_entropy(_objects(10, size=64), return_bands=True)
    assert set(ent) == {"L", "a", "b"} and all(len(e) == 13 for e in ent.values())
    w = features.SE_CHROMA_WEIGHT
    assert v == pytest.approx((np.mean(ent["L"]) + w * (np.mean(ent["a"]) + np.mean(ent["b"]))) / (1 + 2 * w))
    gray = np.repeat(_objects(10, size=64)[..., :1], 3, axis=2)
    _, eg = features.subband_entropy(gray, return_bands=True)
    assert max(eg["a"]) == 0 and max(eg["b"]) == 0  # achromatic: chroma range < 0.008
    with pytest.raises(ValueError, match="too small"):
        features.subband_entropy(np.zeros((16, 16, 3), np.uint8))


# --- measure() and table() ---------------------------------------------------------------
@pytest.fixture()
def image_folder(tmp_path):
    """Folder with good, grayscale, RGBA, 16-bit, tiny, unreadable and truncated files."""
    from PIL import Image

    rng = np.random.default_rng(0)
    d = tmp_path / "imgs"
    io.save_image(_objects(8, size=64), d / "sub" / "good.png")
    Image.fromarray(rng.integers(0, 256, (48, 40), dtype=np.uint8)).save(d / "gray.png")
    Image.fromarray(rng.integers(0, 256, (40, 40, 4), dtype=np.uint8)).save(d / "rgba.png")
    Image.fromarray(rng.integers(0, 65536, (40, 40), dtype=np.uint16)).save(d / "deep16.png")
    io.save_image(_noise(12, 12), d / "tiny.png")
    (d / "broken.png").write_bytes(b"this is not an image")
    good = (d / "sub" / "good.png").read_bytes()
    (d / "truncated.png").write_bytes(good[: len(good) // 2])
    (d / "notes.txt").write_text("ignored")
    return d


CONTRACT = ["path", "hue", "hue_circular", "saturation", "brightness", "jpeg_bytes", "png_bytes",
            "feature_congestion", "subband_entropy", "spectrum_slope", "edge_density", "status", "error"]


def test_measure_row():
    img = _objects(8, size=64)
    row = features.measure(img)
    assert row["width"] == row["height"] == 64
    assert row["feature_congestion"] == pytest.approx(features.feature_congestion(img))
    assert row["subband_entropy"] == pytest.approx(features.subband_entropy(img))
    assert row["edge_density"] == features.edge_density(img, sigma=2.0)
    assert row["jpeg_bytes"] == features.jpeg_size(img) and row["png_bytes"] == features.png_size(img)
    assert row["spectrum_slope"] == pytest.approx(features.radial_spectrum(img)["slope"])
    assert {"edge_density_sigma1", "edge_density_sigma4"} <= set(row)


def test_table_bad_files_and_conversions(image_folder):
    with pytest.warns(UserWarning) as rec:
        df = features.table(image_folder, n_jobs=1, progress=False)
    assert set(CONTRACT) <= set(df.columns)
    assert list(df["path"]) == sorted(df["path"]) and "notes.txt" not in set(df["path"])
    st = dict(zip(df["path"], df["status"]))
    assert st == {"broken.png": "failed", "deep16.png": "ok", "gray.png": "ok", "rgba.png": "ok",
                  "sub/good.png": "ok", "tiny.png": "failed", "truncated.png": "failed"}
    messages = " ".join(str(w.message) for w in rec)
    for name in ("broken.png", "tiny.png", "truncated.png"):
        assert name in messages
    bad = df[df["status"] == "failed"]
    assert bad["feature_congestion"].isna().all() and (bad["error"].str.len() > 0).all()
    ok = df[df["status"] == "ok"].set_index("path")
    assert ok[["feature_congestion", "subband_entropy", "edge_density"]].notna().all().all()
    assert "mode L" in ok.loc["gray.png", "note"] and "RGBA" in ok.loc["rgba.png", "note"]
    assert "16" in ok.loc["deep16.png", "note"] and ok.loc["sub/good.png", "note"] == ""
    assert ok.loc["gray.png", "saturation"] == 0.0


def test_table_cache_recomputes_only_changed(image_folder, tmp_path, monkeypatch):
    import os
    import warnings

    cache = tmp_path / "cache" / "features.parquet"
    warnings.simplefilter("ignore")
    first = features.table(image_folder, cache=cache, n_jobs=1, progress=False)
    assert cache.exists()
    calls = []
    real = features._measure_file
    monkeypatch.setattr(features, "_measure_file", lambda p, s: calls.append(p) or real(p, s))
    again = features.table(image_folder, cache=cache, n_jobs=1, progress=False)
    assert calls == []
    import pandas as pd

    pd.testing.assert_frame_equal(first, again)
    # change one image (new content and mtime) and add one: only those two are measured
    io.save_image(_objects(30, size=64, seed=5), image_folder / "sub" / "good.png")
    st = os.stat(image_folder / "sub" / "good.png")
    os.utime(image_folder / "sub" / "good.png", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    io.save_image(_objects(3, size=64, seed=6), image_folder / "new.png")
    third = features.table(image_folder, cache=cache, n_jobs=1, progress=False)
    assert sorted(os.path.basename(c) for c in calls) == ["good.png", "new.png"]
    old_fc = first.set_index("path").loc["sub/good.png", "feature_congestion"]
    assert third.set_index("path").loc["sub/good.png", "feature_congestion"] != old_fc
    # different settings are a different cache entry
    calls.clear()
    features.table(image_folder, cache=cache, n_jobs=1, progress=False, jpeg_quality=90)
    assert len(calls) == len(third)


def test_table_manifest_columns_and_parallel(tmp_path, monkeypatch):
    import pandas as pd

    d = tmp_path / "dream"
    rows = []
    for i in range(4):
        rel = f"layer{i}/seed{i}.png"
        io.save_image(_objects(4 + i, size=48, seed=i), d / rel)
        rows.append({"layer": f"layer{i}", "layer_index": i, "seed": i, "path": rel})
    manifest = pd.DataFrame(rows)
    serial = features.table(manifest, root=d, n_jobs=1, progress=False)
    assert list(serial.columns[:4]) == ["layer", "layer_index", "seed", "path"]
    assert (serial["status"] == "ok").all() and list(serial["seed"]) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="'path' column"):
        features.table(manifest.drop(columns="path"))
    monkeypatch.setattr(features, "MIN_PER_WORKER", 0)  # use the process pool even for 4 images
    parallel = features.table(manifest, root=d, n_jobs=2, progress=False)
    pd.testing.assert_frame_equal(serial, parallel)


def test_figures(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    rows = [{"path": f"{i}.png", **features.measure(_objects(3 + 5 * i, size=48, seed=i)), "status": "ok", "error": ""}
            for i in range(3)]
    rows.append({"path": "bad.png", "status": "failed", "error": "ImageReadError: bad"})
    fig = features.plot_distributions(pd.DataFrame(rows), notes=["TEST NOTE"])
    assert "1 failed" in fig._suptitle.get_text()
    assert any(t.get_text() == "TEST NOTE" for t in fig.texts)
    fig2 = features.plot_clutter_maps({"a": _objects(5, size=48), "b": _objects(20, size=48)})
    assert len(fig2.axes) >= 12  # 2 rows x 6 panels (+ colour bars)

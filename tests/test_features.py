"""Unit tests of the image measures and their table (helpers.measures) on small synthetic images."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import io
from helpers.figures import features
from helpers.measures import clutter, colour, compression, separation, spectra, table
from helpers.nets import layers
from synthetic_images import objects


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
    s = colour.color_stats(red)
    assert s["hue"] == pytest.approx(0.0) and s["saturation"] == pytest.approx(1.0)
    assert s["brightness"] == pytest.approx(1.0) and s["hue_concentration"] == pytest.approx(1.0)
    gray = np.full((16, 16, 3), 64, np.uint8)
    g = colour.color_stats(gray)
    assert g["saturation"] == 0 and g["brightness"] == pytest.approx(64 / 255)


def test_color_stats_circular_hue_differs_from_arithmetic():
    # half magenta-red (hue ~0.95), half orange-red (hue ~0.05): circular mean is red (0),
    # the arithmetic mean is cyan-ish (0.5)
    from skimage.color import hsv2rgb

    hsv = np.ones((8, 16, 3))
    hsv[:, :8, 0], hsv[:, 8:, 0] = 0.95, 0.05
    img = np.round(hsv2rgb(hsv) * 255).astype(np.uint8)
    s = colour.color_stats(img)
    assert s["hue"] == pytest.approx(0.5, abs=0.01)
    assert min(s["hue_circular"], 1 - s["hue_circular"]) < 0.01


# --- compressed size ---------------------------------------------------------------------
def test_jpeg_and_png_size_grow_with_detail():
    flat = np.full((64, 64, 3), 120, np.uint8)
    noisy = _noise(64, 64)
    assert compression.jpeg_size(noisy) > 3 * compression.jpeg_size(flat)
    assert compression.png_size(noisy) > 3 * compression.png_size(flat)
    assert compression.jpeg_size(noisy, quality=95) > compression.jpeg_size(noisy, quality=20)
    with pytest.raises(ValueError, match="quality"):
        compression.jpeg_size(noisy, quality=0)


def test_paths_and_arrays_agree(tmp_path):
    img = _noise(40, 50)
    p = io.save_image(img, tmp_path / "a.png")
    assert compression.jpeg_size(p) == compression.jpeg_size(img)
    assert colour.color_stats(str(p)) == colour.color_stats(img)


# --- spectrum and edges ------------------------------------------------------------------
@pytest.mark.parametrize("exponent", [1.0, 1.5])
def test_radial_spectrum_recovers_power_law(exponent):
    r = spectra.radial_spectrum(_pink(exponent=exponent))
    assert set(r) == {"k", "amplitude", "power", "slope", "intercept"}
    assert r["k"].shape == r["amplitude"].shape == r["power"].shape == (64,)
    assert np.all(np.diff(r["k"]) > 0) and r["k"].max() <= 0.5
    np.testing.assert_allclose(r["power"], r["power"])  # finite
    assert r["slope"] == pytest.approx(-exponent, abs=0.15)


def test_radial_spectrum_white_noise_is_flat_and_bins():
    r = spectra.radial_spectrum(_noise(128, 96), n_bins=20)
    assert len(r["k"]) == 20 and abs(r["slope"]) < 0.15
    assert np.all(r["power"] >= r["amplitude"] ** 2 - 1e-12)  # E|F|^2 >= (E|F|)^2


def test_edge_density():
    flat = np.full((64, 64, 3), 200, np.uint8)
    assert spectra.edge_density(flat) == 0.0
    square = flat.copy()
    square[16:48, 16:48] = 0
    d = spectra.edge_density(square, sigma=2.0)
    assert 0 < d < 0.1  # one outline of ~128 px out of 4096
    assert spectra.edge_density(_noise(64, 64), sigma=1.0) > spectra.edge_density(_noise(64, 64), sigma=4.0)




# --- measure() and table() ---------------------------------------------------------------
def _png16_rgb(path, a):
    """Write uint16 HxWx3 ``a`` as a 16-bit RGB PNG (PIL cannot write one)."""
    import struct
    import zlib

    h, w, _ = a.shape
    raw = b"".join(b"\x00" + a[i].astype(">u2").tobytes() for i in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.fixture()
def image_folder(tmp_path):
    """Folder with good, grayscale, RGBA, 16-bit, palette, tiny, huge, unreadable and truncated files."""
    from PIL import Image

    rng = np.random.default_rng(0)
    d = tmp_path / "imgs"
    io.save_image(objects(8, size=64), d / "sub" / "good.png")
    Image.fromarray(rng.integers(0, 256, (48, 40), dtype=np.uint8)).save(d / "gray.png")
    Image.fromarray(rng.integers(0, 256, (40, 40, 4), dtype=np.uint8)).save(d / "rgba.png")
    Image.fromarray(rng.integers(0, 65536, (40, 40), dtype=np.uint16)).save(d / "deep16.png")
    _png16_rgb(d / "rgb16.png", rng.integers(0, 65536, (40, 48, 3), dtype=np.uint16))
    Image.fromarray(objects(8, size=64)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(d / "palette.png")
    pt = Image.fromarray(objects(8, size=64)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    pt.info["transparency"] = 0
    pt.save(d / "palette_transparent.png", transparency=0)
    Image.new("L", (4600, 4600)).save(d / "huge.png")  # 21.2 MP; compresses to a few kB
    io.save_image(_noise(12, 12), d / "tiny.png")
    (d / "broken.png").write_bytes(b"this is not an image")
    good = (d / "sub" / "good.png").read_bytes()
    (d / "truncated.png").write_bytes(good[: len(good) // 2])
    (d / "notes.txt").write_text("ignored")
    return d


CONTRACT = ["path", "hue", "hue_circular", "saturation", "brightness", "jpeg_bytes", "png_bytes",
            "feature_congestion", "subband_entropy", "spectrum_slope", "edge_density", "status", "error"]


def test_measure_row():
    img = objects(8, size=64)
    row = table.measure(img)
    assert row["width"] == row["height"] == 64
    assert row["feature_congestion"] == pytest.approx(clutter.feature_congestion(img))
    assert row["subband_entropy"] == pytest.approx(clutter.subband_entropy(img))
    assert row["edge_density"] == spectra.edge_density(img, sigma=2.0)
    assert row["jpeg_bytes"] == compression.jpeg_size(img) and row["png_bytes"] == compression.png_size(img)
    assert row["spectrum_slope"] == pytest.approx(spectra.radial_spectrum(img)["slope"])
    assert {"edge_density_sigma1", "edge_density_sigma4"} <= set(row)


def test_table_bad_files_and_conversions(image_folder):
    from PIL import Image

    with pytest.warns(UserWarning) as rec:
        df = table.table(image_folder, n_jobs=1, progress=False)
    assert set(CONTRACT) <= set(df.columns)
    assert list(df["path"]) == sorted(df["path"]) and "notes.txt" not in set(df["path"])
    st = dict(zip(df["path"], df["status"]))
    assert st == {"broken.png": "failed", "deep16.png": "ok", "gray.png": "ok", "huge.png": "failed",
                  "palette.png": "ok", "palette_transparent.png": "ok", "rgb16.png": "ok", "rgba.png": "ok",
                  "sub/good.png": "ok", "tiny.png": "failed", "truncated.png": "failed"}
    messages = [str(w.message) for w in rec]
    for name in ("broken.png", "tiny.png", "truncated.png", "huge.png"):  # one warning per bad file, naming it
        assert sum(name in m for m in messages) == 1
    bad = df[df["status"] == "failed"].set_index("path")
    assert bad["feature_congestion"].isna().all() and (bad["error"].str.len() > 0).all()
    assert "max_pixels" in bad.loc["huge.png", "error"] and "21.2 MP" in bad.loc["huge.png", "error"]
    assert "smaller than 32 px" in bad.loc["tiny.png", "error"]
    assert "cannot be read" in bad.loc["broken.png", "error"] and "cannot be read" in bad.loc["truncated.png", "error"]
    ok = df[df["status"] == "ok"].set_index("path")
    assert ok[["feature_congestion", "subband_entropy", "edge_density"]].notna().all().all()
    assert "mode L" in ok.loc["gray.png", "note"] and "RGBA" in ok.loc["rgba.png", "note"]
    assert "16" in ok.loc["deep16.png", "note"] and ok.loc["sub/good.png", "note"] == ""
    assert "16-bit RGB" in ok.loc["rgb16.png", "note"] and "mode P" in ok.loc["palette.png", "note"]
    assert ok.loc["gray.png", "saturation"] == 0.0
    # the defined conversions: palette -> its colours; transparent palette entries -> white;
    # 16-bit RGB -> high byte; 16-bit gray -> scaled by 255/65535
    pal = np.asarray(Image.open(image_folder / "palette.png").convert("RGB"))
    assert ok.loc["palette.png", "jpeg_bytes"] == compression.jpeg_size(pal)
    pt = Image.open(image_folder / "palette_transparent.png")
    white = np.asarray(pt.convert("RGB")).copy()
    white[np.asarray(pt) == 0] = 255
    assert ok.loc["palette_transparent.png", "jpeg_bytes"] == compression.jpeg_size(white)
    a16 = np.asarray(Image.open(image_folder / "deep16.png"), dtype=np.float64)
    gray8 = np.repeat(np.round(a16 / 65535 * 255).astype(np.uint8)[..., None], 3, axis=2)
    assert ok.loc["deep16.png", "feature_congestion"] == pytest.approx(clutter.feature_congestion(gray8), rel=1e-12)
    # raising the pixel limit measures the huge image (in its own call, to keep the test fast)
    assert table.measure(image_folder / "huge.png", measures="color", max_pixels=None)["width"] == 4600
    with pytest.raises(io.ImageReadError, match="huge.png.*max_pixels"):
        table.measure(image_folder / "huge.png", measures="color")


def test_table_missing_file_in_list(tmp_path):
    good = io.save_image(objects(4, size=48), tmp_path / "a.png")
    with pytest.warns(UserWarning, match="nowhere.png"):
        df = table.table([good, tmp_path / "nowhere.png"], n_jobs=1, progress=False, measures="color")
    assert list(df["status"]) == ["ok", "failed"]


def _two_columns(rgb):
    """A user's measure group (module level, so worker processes can pickle it)."""
    return {"red_mean": float(rgb[..., 0].mean()), "edge_density": -1.0}


def test_measures_groups_pluggable(tmp_path, monkeypatch):
    img = objects(6, size=48)
    assert list(table.measure(img, measures="clutter")) == ["width", "height", "feature_congestion",
                                                                 "subband_entropy"]
    row = table.measure(img, measures=["edges", _two_columns])
    assert row["red_mean"] == pytest.approx(img[..., 0].mean())
    assert row["edge_density"] == spectra.edge_density(img) and row[f"{__name__}._two_columns_edge_density"] == -1.0
    assert set(table.measure(img, measures="paper1")) == set(table.measure(img, measures=["color", "compression",
                                                                                                  "clutter"]))
    with pytest.raises(ValueError, match="unknown measure group 'nope'.*available: paper1, color"):
        table.table([tmp_path / "x.png"], measures=["paper1", "nope"])
    # a lazy group whose module is missing: a clear error naming it and what is available
    monkeypatch.setitem(table.LAZY_GROUPS, "aesthetics", ("helpers.no_such_module", "measure"))
    with pytest.raises(ValueError, match="'aesthetics' needs the module helpers.no_such_module.*available"):
        table.measure(img, measures=["aesthetics"])
    assert "aesthetics" not in table.available_measures()
    # ... and one that exists: imported on first use, its options passed on, table settings not
    (tmp_path / "fake_aesthetics.py").write_text(
        "CACHE_VERSION = 7\n"
        "def measure(img, *, which=None):\n"
        "    return {'image_size': float(img.shape[0] * img.shape[1]), 'which': str(which)}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(table.LAZY_GROUPS, "aesthetics", ("fake_aesthetics", "measure"))
    assert "aesthetics" in table.available_measures()
    row = table.measure(img, measures=[("aesthetics", {"which": ["size"]})])
    assert row["image_size"] == 48 * 48 and row["which"] == "['size']"


def _failing_group(rgb):
    """A measure group that fails on every image."""
    raise RuntimeError("fit did not converge")


def test_one_failing_group_keeps_the_row(tmp_path):
    p = io.save_image(objects(4, size=48), tmp_path / "a.png")
    with pytest.warns(UserWarning, match="a.png.*_failing_group.*fit did not converge.*columns left empty"):
        df = table.table([p], measures=["clutter", _failing_group], n_jobs=1, progress=False)
    assert df.loc[0, "status"] == "ok" and df.loc[0, "feature_congestion"] > 0
    assert "fit did not converge" in df.loc[0, "error"]
    with pytest.raises(RuntimeError, match="converge"):
        table.measure(p, measures=["clutter", _failing_group])


def test_table_cache_keys_on_measures(tmp_path, monkeypatch):
    import warnings

    for i in range(2):
        io.save_image(objects(3 + i, size=48, seed=i), tmp_path / "imgs" / f"{i}.png")
    cache = tmp_path / "cache.parquet"
    calls = []
    real = table._measure_file
    monkeypatch.setattr(table, "_measure_file", lambda p, s: calls.append(s["measures"]) or real(p, s))
    warnings.simplefilter("ignore")
    a = table.table(tmp_path / "imgs", cache=cache, n_jobs=1, progress=False, measures="color")
    assert len(calls) == 2 and "feature_congestion" not in a.columns
    table.table(tmp_path / "imgs", cache=cache, n_jobs=1, progress=False, measures="color")
    assert len(calls) == 2  # same measures: from the cache
    b = table.table(tmp_path / "imgs", cache=cache, n_jobs=1, progress=False, measures=["color", "clutter"])
    assert len(calls) == 4 and b["feature_congestion"].notna().all()
    table.table(tmp_path / "imgs", cache=cache, n_jobs=1, progress=False, measures="color")
    assert len(calls) == 4  # both entries live side by side in the cache


def test_table_cache_recomputes_only_changed(image_folder, tmp_path, monkeypatch):
    import os
    import warnings

    cache = tmp_path / "cache" / "features.parquet"
    warnings.simplefilter("ignore")
    first = table.table(image_folder, cache=cache, n_jobs=1, progress=False)
    assert cache.exists()
    calls = []
    real = table._measure_file
    monkeypatch.setattr(table, "_measure_file", lambda p, s: calls.append(p) or real(p, s))
    again = table.table(image_folder, cache=cache, n_jobs=1, progress=False)
    assert calls == []
    import pandas as pd

    pd.testing.assert_frame_equal(first, again)
    # change one image (new content and mtime) and add one: only those two are measured
    io.save_image(objects(30, size=64, seed=5), image_folder / "sub" / "good.png")
    st = os.stat(image_folder / "sub" / "good.png")
    os.utime(image_folder / "sub" / "good.png", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    io.save_image(objects(3, size=64, seed=6), image_folder / "new.png")
    third = table.table(image_folder, cache=cache, n_jobs=1, progress=False)
    assert sorted(os.path.basename(c) for c in calls) == ["good.png", "new.png"]
    old_fc = first.set_index("path").loc["sub/good.png", "feature_congestion"]
    assert third.set_index("path").loc["sub/good.png", "feature_congestion"] != old_fc
    # different settings are a different cache entry
    calls.clear()
    table.table(image_folder, cache=cache, n_jobs=1, progress=False, jpeg_quality=90)
    assert len(calls) == len(third)


def test_table_manifest_columns_and_parallel(tmp_path, monkeypatch):
    import pandas as pd

    d = tmp_path / "dream"
    rows = []
    for i in range(4):
        rel = f"layer{i}/seed{i}.png"
        io.save_image(objects(4 + i, size=48, seed=i), d / rel)
        rows.append({"layer": f"layer{i}", "layer_index": i, "seed": i, "path": rel})
    manifest = pd.DataFrame(rows)
    serial = table.table(manifest, root=d, n_jobs=1, progress=False)
    assert list(serial.columns[:4]) == ["layer", "layer_index", "seed", "path"]
    assert (serial["status"] == "ok").all() and list(serial["seed"]) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="'path' column"):
        table.table(manifest.drop(columns="path"))
    monkeypatch.setattr(table, "MIN_PER_WORKER", 0)  # use the process pool even for 4 images
    parallel = table.table(manifest, root=d, n_jobs=2, progress=False)
    pd.testing.assert_frame_equal(serial, parallel)


def test_figures(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    rows = [{"path": f"{i}.png", **table.measure(objects(3 + 5 * i, size=48, seed=i)), "status": "ok", "error": ""}
            for i in range(3)]
    rows.append({"path": "bad.png", "status": "failed", "error": "ImageReadError: bad"})
    fig = features.distributions(pd.DataFrame(rows), notes=["TEST NOTE"])
    assert "1 failed" in fig._suptitle.get_text()
    assert any(t.get_text() == "TEST NOTE" for t in fig.texts)
    fig2 = features.clutter_maps({"a": objects(5, size=48), "b": objects(20, size=48)})
    assert len(fig2.axes) >= 12  # 2 rows x 6 panels (+ colour bars)


# --- structure of the measures (notebook 02) ---------------------------------------------
def test_layer_type_covers_every_study_layer():
    types = {layer: layers.layer_type(layer) for layer in layers.LAYERS}
    assert "other" not in types.values()
    assert types["conv2d0_pre_relu"] == types["conv2d2"] == "conv" and types["maxpool10"] == "maxpool"
    assert types["localresponsenorm1"] == "lrn" and types["mixed4c"] == "mixed output"
    assert types["mixed4c_3x3_bottleneck_pre_relu"] == types["mixed5b_pool_reduce"] == "reduce"
    assert types["mixed3a_5x5"] == "5x5" and types["mixed3a_pool"] == "pool branch" and types["head1_pool"] == "head"
    assert sum(t == "reduce" for t in types.values()) == 9 * 6  # 3 reductions x 2 (pre_relu) in 9 mixed blocks


def _grouped_table(n_per=6, seed=0):
    """A fake table: measure a separates groups A/B/C completely, b partly, c not at all."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    g = np.repeat(["A", "B", "C"], n_per)
    a = np.repeat([0.0, 10.0, 20.0], n_per) + rng.random(3 * n_per)
    return pd.DataFrame({"path": [f"{i}.png" for i in range(3 * n_per)], "group": g, "a": a,
                         "b": a / 20 + rng.normal(0, 0.6, 3 * n_per), "c": rng.normal(size=3 * n_per),
                         "const": 1.0, "width": 64, "status": "ok"})


def test_separation_ranks_measures():
    from scipy.stats import kruskal

    df = _grouped_table()
    sep = separation.separation(df, "group")
    assert list(sep["measure"])[:1] == ["a"] and set(sep["measure"]) == {"a", "b", "c"}  # const, width left out
    row = sep.set_index("measure").loc["a"]
    H, p = kruskal(*[df.loc[df["group"] == k, "a"] for k in "ABC"])
    assert row["H"] == pytest.approx(H) and row["p"] == pytest.approx(p)
    assert row["eta2"] == pytest.approx((H - 3 + 1) / (18 - 3)) and row["eta2"] > 0.85  # complete separation
    assert sep.set_index("measure").loc["c", "eta2"] < 0.3
    assert row["top_group"] == "C" and row["bottom_group"] == "A" and (sep["p_bh"] >= sep["p"]).all()
    with pytest.raises(ValueError, match="no column 'layer_type'"):
        separation.separation(df, "layer_type")


def test_correlation_and_separation_figures():
    import matplotlib

    matplotlib.use("Agg")
    df = _grouped_table()
    fig = features.correlation_map(df, notes=["TEST NOTE"])
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert sorted(labels) == ["a", "b", "c"] and labels.index("c") in (0, 2)  # a, b cluster together
    assert any(t.get_text() == "TEST NOTE" for t in fig.texts)
    fig2 = features.separation_bars(separation.separation(df, "group"))
    assert len(fig2.axes[0].patches) == 3


def test_stimuli_from_a_folder(tmp_path, empty_dir):
    for rel in ("cats/a.png", "cats/b.png", "dogs/c.jpg", "top.png"):
        io.save_image(objects(3, size=40), tmp_path / rel)
    (tmp_path / "readme.txt").write_text("not an image")
    df = table.stimuli(tmp_path)
    assert list(df["path"]) == ["cats/a.png", "cats/b.png", "dogs/c.jpg", "top.png"]
    assert list(df["group"]) == ["cats", "cats", "dogs", "."] and df.attrs["root"] == tmp_path
    assert len(table.stimuli(tmp_path, n=2)) == 2
    with pytest.raises(FileNotFoundError, match="not a folder"):
        table.stimuli(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="no image files"):
        table.stimuli(empty_dir)


def test_missing_cnn_weights_empty_only_the_cnn_columns_with_one_warning(tmp_path, monkeypatch):
    """Offline without AlexNet (the rehearsal files hold none): the Aesthetics Toolbox group still gives its other
    measures; the CNN columns are NaN, each row says why, one warning covers all images, one load is attempted."""
    from helpers.measures import aesthetics, aesthetics_cnn
    from helpers.nets import models

    attempts = []

    def unavailable(**kw):
        attempts.append(kw)
        raise models.WeightsUnavailable("Pretrained weights for 'alexnet' are not available: offline")

    monkeypatch.setattr(aesthetics_cnn, "alexnet_conv1", unavailable)
    monkeypatch.setattr(aesthetics_cnn, "_DEFAULT_CONV1", [])
    paths_ = [io.save_image(objects(s, size=64), tmp_path / f"{s}.png") for s in range(3)]
    with pytest.warns(UserWarning) as rec:
        df = table.table(paths_, measures=[("aesthetics", {"which": ["size", "cnn", "balance"]})], n_jobs=1,
                            progress=False)
    msgs = [str(w.message) for w in rec if "table.table" in str(w.message)]
    assert len(msgs) == 1 and msgs[0].startswith("table.table: 3 images (") and "alexnet" in msgs[0], msgs
    assert len(attempts) == 1
    assert (df["status"] == "ok").all() and df["error"].str.contains("CNN measures left empty").all()
    assert df["cnn_sparseness"].isna().all() and df["mirror_symmetry"].notna().all()
    assert (df["image_size"] == 128).all()
    with pytest.raises(aesthetics.MeasuresIncomplete) as info:  # called directly: the rest rides on the error
        aesthetics.measure(objects(0, size=64), which=["size", "cnn"])
    assert info.value.values["image_size"] == 128 and np.isnan(info.value.values["cnn_variability"])

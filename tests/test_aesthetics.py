"""helpers.measures.aesthetics against the Aesthetics Toolbox's own outputs (tests/data/aesthetics-toolbox/).

The reference values were made by running the toolbox's Python code (commit in
reference.json) on four skimage.data photographs and two seeded synthetic images; see that
folder's README.md. The CNN measures are compared with the toolbox's own conv1 filters
(Caffe bvlc_alexnet, bvlc_alexnet_conv1.npz there), so the algorithm is tested exactly;
torchvision's pretrained filters give different numbers by design.
"""
from __future__ import annotations

import functools
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.measures import aesthetics, aesthetics_cnn, aesthetics_edges, aesthetics_fourier
from helpers import download, sources
from helpers.nets import models

DATA = Path(__file__).parent / "data" / "aesthetics-toolbox"
REFERENCE = json.loads((DATA / "reference.json").read_text())
IMAGES = list(REFERENCE["images"])

# Relative tolerance per group (absolute floor 1e-12 for values near 0, e.g. the DCM offsets).
# Everything agrees to floating-point precision (observed <= 1e-13) except the CNN measures:
# the toolbox correlates with scipy.signal.correlate, which picks FFT convolution and leaves
# ~4e-8 relative error in the conv1 responses; ours are exact float64 sums (observed <= 3e-7).
TOLERANCE = {group: 1e-9 for group in aesthetics.MEASURES} | {"cnn": 1e-6}
GROUP_OF = {col: g for g, cols in aesthetics.MEASURES.items() for col in cols}


@functools.lru_cache(maxsize=None)
def image(name: str) -> np.ndarray:
    if name.startswith("synthetic"):
        return np.asarray(Image.open(DATA / f"{name}.png").convert("RGB"))
    import skimage.data

    return getattr(skimage.data, name)()


@functools.lru_cache(maxsize=None)
def toolbox_filters() -> aesthetics_cnn.Conv1:
    return aesthetics_cnn.toolbox_conv1(DATA / "bvlc_alexnet_conv1.npz")


@functools.lru_cache(maxsize=None)
def ours(name: str) -> dict:
    return aesthetics.measure(image(name), cnn=toolbox_filters())


def test_reference_images_are_the_ones_measured():
    for name in IMAGES:
        assert list(image(name).shape) == REFERENCE["images"][name]["shape"]
    shapes = [tuple(REFERENCE["images"][n]["shape"][:2]) for n in IMAGES]
    assert any(h > w for h, w in shapes) and any(h < w for h, w in shapes) and any(h == w for h, w in shapes)
    assert any(h % 2 or w % 2 for h, w in shapes)  # odd sides exercise the padding/cropping branches


def test_columns_map_onto_the_toolbox_csv_headers():
    assert list(aesthetics.TOOLBOX_COLUMNS) == list(aesthetics.COLUMNS)
    # the reference holds exactly the toolbox's header names (QIP_machine_script.py)
    assert set(aesthetics.TOOLBOX_COLUMNS.values()) == set(REFERENCE["images"][IMAGES[0]]["values"])
    import pandas as pd

    df = aesthetics.to_toolbox(pd.DataFrame([dict.fromkeys(aesthetics.COLUMNS, 0.0)]))
    assert list(df.columns) == list(aesthetics.TOOLBOX_COLUMNS.values())


@pytest.mark.parametrize("name", IMAGES)
@pytest.mark.parametrize("group", list(aesthetics.MEASURES))
def test_matches_the_toolbox(name, group):
    got = ours(name)
    want = REFERENCE["images"][name]["values"]
    bad = {}
    for col in aesthetics.MEASURES[group]:
        w = want[aesthetics.TOOLBOX_COLUMNS[col]]
        if got[col] != pytest.approx(w, rel=TOLERANCE[group], abs=1e-12):
            bad[col] = (got[col], w, abs(got[col] - w) / max(abs(w), 1e-300))
    assert not bad, f"{name}: (ours, toolbox, relative difference) {bad}"


def test_which_selects_groups_and_columns_with_the_same_values():
    img = image("chelsea")
    full = ours("chelsea")
    sub = aesthetics.measure(img, which=["size", "edge_density", "fourier_slope_spehar", "balance"])
    assert list(sub) == ["image_size", "aspect_ratio", "edge_density", "fourier_slope_spehar",
                         *aesthetics.MEASURES["balance"]]
    for k, v in sub.items():
        assert v == pytest.approx(full[k], rel=1e-12)
    assert list(aesthetics.measure(img, which="fractal")) == list(aesthetics.MEASURES["fractal"])
    with pytest.raises(ValueError, match="did you mean 'edge_density'"):
        aesthetics.measure(img, which=["edge_densty"])


def test_one_function_per_measure_agrees_with_measure():
    img, full = image("synthetic-portrait"), ours("synthetic-portrait")
    assert aesthetics.image_size(img) == full["image_size"] == 333 + 241
    assert aesthetics.aspect_ratio(img) == full["aspect_ratio"] == pytest.approx(241 / 333)
    assert aesthetics.rms_contrast(img) == full["rms_contrast"] == pytest.approx(full["std_lab_l"], rel=1e-12)
    assert aesthetics.luminance_entropy(img) == full["luminance_entropy"]
    assert aesthetics.color_entropy(img) == full["color_entropy"]
    assert aesthetics.circular_hue_stats(img) == (full["mean_hsv_h"], full["std_hsv_h"])
    assert aesthetics_fourier.fourier_slope_mather(img) == full["fourier_slope_mather"]
    assert aesthetics_fourier.fractal_dimension_3d(img) == full["fractal_dimension_3d"]
    assert aesthetics.mirror_symmetry(img) == full["mirror_symmetry"]
    assert aesthetics.homogeneity(img) == full["homogeneity"]
    assert aesthetics_edges.edge_measures(img, second_order=False) == {k: full[k] for k in ("edge_density", "eoe_1st_order")}


@pytest.mark.parametrize("bad, match", [
    (np.zeros((64, 64), np.uint8), r"shape \(H, W, 3\)"),
    (np.zeros((64, 64, 4), np.uint8), r"got shape \(64, 64, 4\)"),
    (np.zeros((64, 64, 3), np.uint16), "dtype uint8"),
    (np.zeros((64, 64, 3), np.float32), "dtype uint8"),
    (np.zeros((20, 64, 3), np.uint8), ">= 32 px"),
    ([[0, 0, 0]], "numpy array"),
])
def test_bad_input_raises_a_clear_error(bad, match):
    with pytest.raises(ValueError, match=match):
        aesthetics.measure(bad, which="size")
    with pytest.raises(ValueError, match=match):
        aesthetics.balance(bad)


def test_mirror_symmetry_rotation_is_skimages():
    # the toolbox rotates the binary image with skimage.transform.rotate(BW, 90); we use np.rot90
    from skimage.transform import rotate

    bw = np.random.default_rng(0).random((37, 37)) > 0.5
    assert np.array_equal(rotate(bw, 90).astype(bool), np.rot90(bw))


def test_gabor_responses_equal_ndimage_convolve():
    # the original filters with scipy.ndimage.convolve (mirror borders); we use FFTs plus exact re-sums
    from scipy.ndimage import convolve

    g = np.random.default_rng(1).random((40, 50)) * 255
    want = np.stack([convolve(g, f) for f in aesthetics_edges.gabor_bank()])
    val, ori = aesthetics_edges.gabor_responses(g)
    np.testing.assert_allclose(val, want.max(axis=0), rtol=1e-12, atol=1e-9)
    assert np.array_equal(ori, want.argmax(axis=0))
    rows, cols = np.array([0, 17, 39]), np.array([0, 25, 49])
    padded = np.pad(g, aesthetics_edges.GABOR_SIZE // 2, mode="symmetric")
    assert np.array_equal(aesthetics_edges._sequential_responses(padded, rows, cols), want[:, rows, cols].T)


# --- conv1 filters --------------------------------------------------------------------------

def test_toolbox_filters_load_from_its_pickled_npy_and_nothing_else(tmp_path):
    tb = toolbox_filters()
    assert tb.weight.shape == (96, 3, 11, 11) and tb.source == "toolbox" and not tb.is_stand_in
    with np.load(DATA / "bvlc_alexnet_conv1.npz") as z:
        kernel, bias = z["kernel"], z["bias"]
    # the toolbox's layout: a pickled object array [kernel (11, 11, 3 BGR, 96), bias (96,)]
    f = tmp_path / "bvlc_alexnet_conv1.npy"
    pair = np.empty(2, dtype=object)
    pair[0], pair[1] = kernel, bias
    np.save(f, pair, allow_pickle=True)
    again = aesthetics_cnn.toolbox_conv1(f)
    assert np.array_equal(again.weight, tb.weight) and np.array_equal(again.bias, tb.bias)
    assert np.array_equal(tb.weight[:, 0], kernel[:, :, 2].transpose(2, 0, 1))  # R is the toolbox's third (BGR)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    evil = np.empty(1, dtype=object)
    evil[0] = Evil()
    np.save(tmp_path / "evil.npy", evil, allow_pickle=True)
    with pytest.raises(pickle.UnpicklingError, match="only numpy arrays"):
        aesthetics_cnn.toolbox_conv1(tmp_path / "evil.npy")
    np.save(tmp_path / "plain.npy", np.zeros(3))
    with pytest.raises(ValueError, match="pickled"):
        aesthetics_cnn.toolbox_conv1(tmp_path / "plain.npy")


def test_alexnet_spec_is_torchvisions():
    from torchvision.models import AlexNet_Weights

    spec = sources.WEIGHTS["alexnet"]
    assert spec.url == AlexNet_Weights.IMAGENET1K_V1.url
    assert spec.filename == spec.url.rsplit("/", 1)[1]
    assert spec.sha256_prefix == spec.filename.rsplit("-", 1)[1].split(".")[0]
    assert "alexnet" in models.NAMES


def test_alexnet_stand_in_is_labelled_and_gives_bounded_measures():
    conv = aesthetics_cnn.alexnet_conv1(source="random", seed=0)
    assert conv.is_stand_in and "STAND-IN" in conv.description
    assert conv.weight.shape == (64, 3, 11, 11)
    vals = aesthetics.measure(image("chelsea"), which="cnn", cnn=conv)
    assert all(np.isfinite(list(vals.values())))
    for k in ("cnn_self_similarity", "cnn_symmetry_lr", "cnn_symmetry_ud", "cnn_symmetry_lrud"):
        assert 0 <= vals[k] <= 1
    # torchvision's (here: stand-in) filters are not the toolbox's: different numbers
    assert vals["cnn_symmetry_lr"] != pytest.approx(ours("chelsea")["cnn_symmetry_lr"], rel=1e-3)


def test_alexnet_pretrained_goes_through_models_load(tmp_path):
    net = models.load("alexnet", source="random", seed=3)
    f = tmp_path / "my-alexnet.pth"
    import torch

    torch.save(net.state_dict(), f)
    conv = aesthetics_cnn.alexnet_conv1(path=f, progress=False)
    assert conv.source == "pretrained" and not conv.is_stand_in
    np.testing.assert_allclose(conv.weight * (255 * np.array(aesthetics_cnn.TORCHVISION_STD))[None, :, None, None],
                               net.features[0].weight.double().numpy(), rtol=1e-12)
    # under torchvision's own file name the pinned sha256 prefix is checked
    pinned = tmp_path / sources.WEIGHTS["alexnet"].filename
    pinned.write_bytes(f.read_bytes())
    with pytest.raises(download.ChecksumError, match="7be5be79"):
        aesthetics_cnn.alexnet_conv1(path=pinned, progress=False)
    with pytest.raises(models.WeightsUnavailable, match="alexnet-owt-7be5be79.pth"):
        models.load("alexnet", source="pretrained", progress=False)


@pytest.mark.parametrize("side", [32, 96, 127, 128])
def test_small_images_get_every_measure_and_mathers_slope_is_nan_below_128_px(side):
    """The smallest documented image (32 px) up to 127 px: Mather's fitted range N/50..N/4 of the
    <= 64-px crop starts at the DC term (log 0) or is empty, where the toolbox raises; that one
    column is NaN, every other measure (CNN aside, weights) is finite."""
    rng = np.random.default_rng(side)
    img = (rng.random((side, side + 5, 3)) * 255).astype(np.uint8)
    cols = [c for c in aesthetics.COLUMNS if c not in aesthetics.MEASURES["cnn"]]
    got = aesthetics.measure(img, which=cols)
    assert np.isnan(got.pop("fourier_slope_mather")) == (side < 128)
    assert all(np.isfinite(v) for v in got.values()), {k: v for k, v in got.items() if not np.isfinite(v)}

"""Ratings figures: each helper returns a labelled Figure, handles 144 layers, and saves through plots.save."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from helpers import io
from helpers.figures import base, explore, paper1, readme
from helpers.nets import layers
from helpers.study import density, effects, simulate, stats  # noqa: E402
from test_ratings import synthetic_features  # noqa: E402


@pytest.fixture(scope="module")
def data():
    f = synthetic_features(n_seeds=2)
    return f, simulate.ratings(f, n_participants=30, seed=1).ratings


def _texts(fig):
    return [t.get_text() for t in fig.texts] + [t.get_text() for ax in fig.axes for t in ax.texts] + \
        [ax.get_title() for ax in fig.axes]


def test_simulated_label_on_every_ratings_figure(data):
    f, r = data
    tests = effects.layer_tests(r)
    figs = [paper1.affect_violins(r, notes=[base.SIMULATED]),
            paper1.affect_violins(r, by="attitude", titles={"arousal": "F(2, 27) = 1.00, p = 0.380"}, notes=[base.SIMULATED]),
            paper1.correlation_heatmap(stats.correlations(r, f), notes=[base.SIMULATED]),
            paper1.features_vs_judgments(stats.image_means(r, f), notes=[base.SIMULATED]),
            paper1.layer_boxplots(r, tests=tests, notes=[base.SIMULATED]),
            paper1.layer_groups(r, effects.group_tests(r), notes=[base.SIMULATED])]
    for fig in figs:
        assert base.SIMULATED in "\n".join(_texts(fig))
        plt.close(fig)


def test_layer_boxplots_order_and_depth_shading(data):
    _, r = data
    fig = paper1.layer_boxplots(r, order="median")
    ax = fig.axes[1]  # arousal
    names = [t.get_text() for t in ax.get_xticklabels()]
    assert len(names) == 144
    med = r.groupby("layer")["arousal"].median()
    assert list(med[names]) == sorted(med[names])
    fig2 = paper1.layer_boxplots(r, order="position")
    assert [t.get_text() for t in fig2.axes[0].get_xticklabels()] == list(layers.LAYERS)
    shades = [p.get_facecolor()[0] for p in fig2.axes[0].patches]
    assert shades[0] < shades[-1]  # input layers darker than deep ones
    assert min(shades) >= 0.25  # never near black: the median must stay visible
    with pytest.raises(ValueError, match="order"):
        paper1.layer_boxplots(r, order="alphabet")
    plt.close("all")


def test_density_figures_and_save(data, tmp_path):
    _, r = data
    dens = density.joint_densities(r, bins=26)
    jd = density.joint_density_stats(r, densities=dens, bins=26)
    imgs = {n: np.full((16, 16, 3), 128, np.uint8) for n in list(dens)[:3]}
    fig = paper1.density_cases(dens, jd, list(dens)[:3], imgs, titles=["a", "b", "c"], targets=[(0, 0), (50, 100), (100, 50)])
    assert len(fig.axes) == 6
    out = base.save(fig, "test-density-cases", profile="smoke", close=True)
    assert out.exists() and out.with_suffix(".pdf").exists()
    pages = [paper1.density_grid(dens, jd, page=k, pages=3, notes=[base.SIMULATED]) for k in range(3)]
    assert [sum(" bits" in t.get_text() for t in g.axes[0].texts) for g in pages] == [48, 48, 48]  # S2, S3, S4: three pages of 48
    assert "layers 49-96 of 144" in pages[1].axes[0].get_title()
    with pytest.raises(ValueError, match="page"):
        paper1.density_grid(dens, jd, page=3, pages=3)
    view = explore.layer_view("conv2d0", images=list(imgs.values()), density=dens["conv2d0"], stats_row=jd.set_index("layer").loc["conv2d0"])
    assert explore.layer_browser(["conv2d0"], view=lambda layer: view, interactive=False) is view
    plt.close("all")


def test_layer_browser_widget_when_interactive():
    seen = []

    def view(layer):
        seen.append(layer)
        return plt.figure()

    browser = explore.layer_browser(["a", "b"], view=view, interactive=True)
    assert type(browser).__name__ == "Explorer" and browser.controls["layer"].options == ("a", "b")
    browser.set(layer="b")  # picking a layer redraws its view
    assert seen == ["a", "b"] and browser.values == {"layer": "b"}
    plt.close("all")


def test_load_layer_images_skips_bad_files(tmp_path):
    io.save_image(np.zeros((300, 200, 3), np.uint8), tmp_path / "a.png")
    (tmp_path / "b.png").write_bytes(b"not a png")
    manifest = pd.DataFrame({"layer": ["conv2d0", "conv2d0"], "seed": [0, 1], "path": ["a.png", "b.png"]})
    with pytest.warns(UserWarning, match="seed 1"):
        imgs = paper1.load_layer_images(manifest, tmp_path, max_side=64)
    assert len(imgs["conv2d0"]) == 1 and max(imgs["conv2d0"][0].shape[:2]) == 64


def _pixel(fig, ax, x, y):
    """RGB (0-255) of the rendered figure at data point (x, y) of ``ax``."""
    fig.canvas.draw()
    img = np.asarray(fig.canvas.buffer_rgba())[..., :3]
    px, py = ax.transData.transform((x, y))
    return img[int(round(img.shape[0] - py)), int(round(px))].astype(int)


def test_violin_box_shows_the_median_over_the_white_box():
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"g": ["a"] * 400, "y": np.r_[rng.uniform(20, 40, 200), rng.uniform(60, 80, 200)]})
    fig = paper1.violin_box(data, x="g", y="y")
    fig.set_dpi(100)
    ax = fig.axes[0]
    med = data["y"].median()
    assert _pixel(fig, ax, 0, med).max() < 90  # the black median line, not the white box face
    assert _pixel(fig, ax, 0, (med + data["y"].quantile(0.75)) / 2).min() > 200  # the box face elsewhere
    plt.close(fig)


def test_layer_boxplots_legend_marks_and_readable_rows(data):
    _, r = data
    tests = effects.layer_tests(r)
    tests.loc[tests.index[:3], "significant"] = True  # make sure some marks are drawn
    fig = paper1.layer_boxplots(r, order="position", tests=tests)
    texts = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert "significantly above 50" in texts and "median (valence)" in texts
    assert any("layer depth" in a.get_ylabel() for a in fig.axes)  # the shading has a colour bar
    marks = [c for a in fig.axes for c in a.collections if hasattr(c, "get_sizes") and len(c.get_sizes())]
    assert marks and all(c.get_sizes()[0] >= 20 for c in marks)  # triangles, not 2-px dashes
    small = paper1.layer_boxplots(r, order="median", tests=tests, rows=3)
    boxes = [a for a in small.axes if a.get_xticklabels()]
    assert len(boxes) == 6 and sum(len(a.get_xticklabels()) for a in boxes) == 2 * 144
    assert small.get_figwidth() < 16
    plt.close("all")


def test_heatmap_shows_the_papers_values_and_both_labels(data):
    f, r = data
    table = stats.correlations(r, f).merge(stats.paper_table1(), on=["row", "col"], how="left")
    fig = paper1.correlation_heatmap(table, notes=[base.SIMULATED, base.STAND_IN])
    texts = "\n".join(_texts(fig))
    assert "(0.343***)" in texts and "(-0.216**)" in texts and "(0.120)" in texts
    assert base.SIMULATED in texts and base.STAND_IN in texts
    plt.close(fig)


def test_extreme_layer_images_one_row_per_corner(data):
    _, r = data
    jd = density.joint_density_stats(r, bins=26)
    near = density.nearest_corners(jd, k=3)
    assert (near.groupby("target").size() == 3).all()
    assert near.groupby("target")["layer"].apply(lambda s: s.map(layers.layer_family).is_unique).all()
    imgs = {n: np.full((16, 16, 3), 100, np.uint8) for n in near["layer"]}
    fig = paper1.extreme_layer_images(near, imgs, notes=[base.SIMULATED])
    assert len(fig.axes) == 24 and base.SIMULATED in "\n".join(_texts(fig))
    plt.close(fig)


def test_preview_strip_is_small_and_labelled(tmp_path):
    from PIL import Image

    from helpers import paths

    folder = paths.figures("smoke")
    rng = np.random.default_rng(0)
    for stem, _ in readme.PREVIEW_PARTS:  # figure-like: smooth colour fields with some noisy patches
        img = np.full((400, 900, 3), 255, np.uint8)
        img[:, :, 0] = np.linspace(0, 255, 900, dtype=np.uint8)[None, :]
        img[50:150, 100:200] = rng.integers(0, 255, (100, 100, 3), dtype=np.uint8)
        Image.fromarray(img).save(folder / f"{stem}.png")
    out = readme.preview_strip("smoke", tmp_path / "preview.png")
    im = Image.open(out)
    assert im.width <= 1600 and im.height <= 300 + 26 and out.stat().st_size < 200_000
    assert np.asarray(im.convert("RGB"))[5:20, 8:300].reshape(-1, 3).max(axis=0)[0] >= 150  # red label drawn

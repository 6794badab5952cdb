"""Ratings figures: each helper returns a labelled Figure, handles 144 layers, and saves through plots.save."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from helpers import io, plots, stats  # noqa: E402
from helpers import ratings as rt  # noqa: E402
from test_ratings import synthetic_features  # noqa: E402


@pytest.fixture(scope="module")
def data():
    f = synthetic_features(n_seeds=2)
    return f, rt.simulate(f, n_participants=30, seed=1).ratings


def _texts(fig):
    return [t.get_text() for t in fig.texts] + [t.get_text() for ax in fig.axes for t in ax.texts] + \
        [ax.get_title() for ax in fig.axes]


def test_simulated_label_on_every_ratings_figure(data):
    f, r = data
    tests = stats.layer_tests(r)
    figs = [plots.affect_violins(r, notes=[plots.SIMULATED]),
            plots.affect_violins(r, by="attitude", titles={"arousal": "F(2, 27) = 1.00, p = 0.380"}, notes=[plots.SIMULATED]),
            plots.correlation_heatmap(stats.correlations(r, f), notes=[plots.SIMULATED]),
            plots.features_vs_judgments(stats.image_means(r, f), notes=[plots.SIMULATED]),
            plots.layer_boxplots(r, tests=tests, notes=[plots.SIMULATED]),
            plots.layer_groups(r, stats.group_tests(r), notes=[plots.SIMULATED])]
    for fig in figs:
        assert plots.SIMULATED in "\n".join(_texts(fig))
        plt.close(fig)


def test_layer_boxplots_order_and_depth_shading(data):
    _, r = data
    fig = plots.layer_boxplots(r, order="median")
    ax = fig.axes[1]  # arousal
    names = [t.get_text() for t in ax.get_xticklabels()]
    assert len(names) == 144
    med = r.groupby("layer")["arousal"].median()
    assert list(med[names]) == sorted(med[names])
    fig2 = plots.layer_boxplots(r, order="position")
    from helpers import dream

    assert [t.get_text() for t in fig2.axes[0].get_xticklabels()] == list(dream.LAYERS)
    shades = [p.get_facecolor()[0] for p in fig2.axes[0].patches]
    assert shades[0] < shades[-1]  # input layers darker than deep ones
    with pytest.raises(ValueError, match="order"):
        plots.layer_boxplots(r, order="alphabet")
    plt.close("all")


def test_density_figures_and_save(data, tmp_path):
    _, r = data
    dens = stats.joint_densities(r, bins=26)
    jd = stats.joint_density_stats(r, densities=dens, bins=26)
    imgs = {n: np.full((16, 16, 3), 128, np.uint8) for n in list(dens)[:3]}
    fig = plots.density_cases(dens, jd, list(dens)[:3], imgs, titles=["a", "b", "c"], targets=[(0, 0), (50, 100), (100, 50)])
    assert len(fig.axes) == 6
    out = plots.save(fig, "test-density-cases", profile="smoke", close=True)
    assert out.exists() and out.with_suffix(".pdf").exists()
    grid = plots.density_grid(dens, jd, notes=[plots.SIMULATED])
    assert sum("bits" in t for t in _texts(grid)) == 144
    view = plots.layer_view("conv2d0", images=list(imgs.values()), density=dens["conv2d0"], stats_row=jd.set_index("layer").loc["conv2d0"])
    assert plots.layer_browser(["conv2d0"], view=lambda layer: view, interactive=False) is view
    plt.close("all")


def test_layer_browser_widget_when_interactive():
    fig = plt.figure()
    box = plots.layer_browser(["a", "b"], view=lambda layer: fig, interactive=True)
    assert type(box).__name__ == "VBox" and box.children[0].options == ("a", "b")
    plt.close("all")


def test_load_layer_images_skips_bad_files(tmp_path):
    io.save_image(np.zeros((300, 200, 3), np.uint8), tmp_path / "a.png")
    (tmp_path / "b.png").write_bytes(b"not a png")
    manifest = pd.DataFrame({"layer": ["conv2d0", "conv2d0"], "seed": [0, 1], "path": ["a.png", "b.png"]})
    with pytest.warns(UserWarning, match="seed 1"):
        imgs = plots.load_layer_images(manifest, tmp_path, max_side=64)
    assert len(imgs["conv2d0"]) == 1 and max(imgs["conv2d0"][0].shape[:2]) == 64

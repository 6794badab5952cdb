"""The explorers without a browser: the static fallback under papermill (one image, no widget), and their logic.

The widgets are driven from Python here (ipywidgets works without a front end); ``tests/test_explore_lab.py``
drives the same explorers in a real JupyterLab in Chromium.
"""
from __future__ import annotations

import json
import sys
import types

import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pandas as pd
import pytest

from helpers import io, paths
from helpers.figures import explore, explorers
from helpers.nets import models

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def _pixels(fig, k=0) -> np.ndarray:
    """The array shown by the ``k``-th image of a figure."""
    return np.asarray([im for ax in fig.axes for im in ax.images][k].get_array())


def _square(n):
    fig, ax = plt.subplots(figsize=(1, 1))
    ax.imshow(np.full((4, 4), n, np.uint8), vmin=0, vmax=9)
    return fig


def test_static_fallback_returns_the_defaults_figure_closed():
    fig = explore.explorer({"n": explore.slider(0, 9, value=3), "c": explore.choice(["a", "b"])},
                           lambda n, c: _square(n), interactive=False)
    assert isinstance(fig, plt.Figure) and _pixels(fig)[0, 0] == 3
    assert not plt.fignum_exists(fig.number), "left open, the inline backend would show the figure a second time"


def test_controls_check_their_defaults():
    with pytest.raises(ValueError, match="outside"):
        explore.slider(0, 1, value=2, label="alpha")
    with pytest.raises(ValueError, match="not one of the options"):
        explore.choice(["B1", "B2"], value="B14", label="block")


def test_the_live_explorer_redraws_on_every_change_and_reports_errors():
    def render(n, c):
        if n == 9:
            raise ValueError("nine is too many")
        return _square(n)

    e = explore.explorer({"n": explore.slider(0, 9, value=3), "c": explore.choice(["a", "b"])}, render, interactive=True)
    assert isinstance(e, explore.Explorer) and _pixels(e.figure)[0, 0] == 3
    e.set(n=5)
    assert _pixels(e.figure)[0, 0] == 5 and e.error == ""
    e.set(n=9)
    assert "nine is too many" in e.error and "nine is too many" in e.status.value
    assert _pixels(e.figure)[0, 0] == 5  # the last good figure stays
    with pytest.raises(KeyError, match="no control"):
        e.set(m=1)
    assert WIDGET_MIME in e._repr_mimebundle_()


def test_has_frontend_only_for_a_cell_run_from_a_front_end(monkeypatch):
    assert not explore.has_frontend()  # plain pytest: no kernel at all

    class ZMQInteractiveShell:  # the name is what has_frontend checks, as IPython's own class is named
        def __init__(self, metadata):
            self.kernel = types.SimpleNamespace(get_parent=lambda channel: {"metadata": metadata})

    ipython = types.ModuleType("IPython")
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.delenv("NA_STATIC", raising=False)
    monkeypatch.delitem(sys.modules, "papermill", raising=False)
    ipython.get_ipython = lambda: ZMQInteractiveShell({"cellId": "a1", "deletedCells": []})  # JupyterLab's request
    assert explore.has_frontend()
    ipython.get_ipython = lambda: ZMQInteractiveShell({})  # nbclient's (papermill, nbconvert) request
    assert not explore.has_frontend()
    ipython.get_ipython = lambda: ZMQInteractiveShell({"cellId": "a1"})
    monkeypatch.setenv("NA_STATIC", "1")
    assert not explore.has_frontend()


def test_under_papermill_each_explorer_cell_shows_one_image_and_no_widget(tmp_path):
    """A real papermill run: the kernel sees no front end, so the cell's value is the static figure, shown once."""
    import papermill

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell("import matplotlib.pyplot as plt, numpy as np\n"
                                  "from helpers.figures import explore\n%matplotlib inline"),
        nbformat.v4.new_code_cell("def view(layer):\n    fig, ax = plt.subplots()\n    ax.imshow(np.eye(4) * len(layer))\n"
                                  "    return fig\n"
                                  "explore.layer_browser(['conv2d0', 'mixed4c'], view=view, interactive=None)"),
        nbformat.v4.new_code_cell("explore.explorer({'n': explore.slider(0, 9, value=2)}, lambda n: view('x' * n))"),
        nbformat.v4.new_code_cell("print(explore.has_frontend())"),
    ]
    src, dst = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(nb, src)
    papermill.execute_notebook(str(src), str(dst), kernel_name="python3", progress_bar=False, cwd=str(paths.root()))
    cells = nbformat.read(dst, as_version=4).cells
    for c in cells[1:3]:
        images = [o for o in c.outputs if "image/png" in o.get("data", {})]
        assert len(images) == 1, f"expected the static figure once, got {len(images)} images: {c.source}"
        assert not any(WIDGET_MIME in o.get("data", {}) or o.get("name") == "stderr" for o in c.outputs), c.outputs
    assert cells[3].outputs[0]["text"].strip() == "False"


# --- notebook 01 ----------------------------------------------------------------------------------


def test_dream_explorer_remakes_the_cached_stimulus_and_follows_its_controls(tmp_path, inception_stand_in, one_torch_thread):
    from helpers.synthesis import dream_jobs

    s = explorers.dream_settings("smoke")
    assert s == {"size": 96, "n_renders": 2, "iter_n": 1, "step": 12.0, "octave_n": 2, "octave_scale": 1.4, "tile_size": 512,
                 "start": None}  # profiles.NOTEBOOKS["01"]["smoke"]
    assert explorers.dream_settings("paper")["size"] == 256 == explorers.dream_settings("class")["size"]
    assert explorers.dream_settings("class", start="noise")["start"] == "noise"  # the notebook's START_IMAGES wins
    algo = {k: v for k, v in s.items() if k != "start"}
    dream_jobs.synthesize(["conv2d0"], [0], tmp_path, model=inception_stand_in, start=None, progress=False, **algo)
    fig = explorers.dream_explorer(inception_stand_in, settings=s, dream_dir=tmp_path, layer="conv2d0", interactive=False)
    cached = io.read_image(tmp_path / dream_jobs.image_name("conv2d0", 0))
    # the explorer at the job's settings makes the job's image, byte for byte (same machine, same thread count)
    np.testing.assert_array_equal(_pixels(fig, 0), cached)
    np.testing.assert_array_equal(_pixels(fig, 1), cached)
    assert "cached stimulus" in fig.axes[1].get_title()

    e = explorers.dream_explorer(inception_stand_in, settings=s, dream_dir=tmp_path, layer="conv2d0", interactive=True)
    first = _pixels(e.figure, 0).copy()
    e.set(layer="mixed3a")
    assert not np.array_equal(_pixels(e.figure, 0), first)
    assert "no cached stimulus" in e.figure.axes[1].texts[0].get_text()
    e.set(n_renders=1, octave_n=1, seed=1)
    assert e.error == "" and "1 renders x 1 octaves" in e.figure.axes[0].get_title()


# --- notebooks 05 and 06 -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def biggan_stand_in():
    return models.load("biggan-deep-256", source="random", seed=0, progress=False)


def test_biggan_keep_saves_a_panel_with_settings_that_remake_each_image(biggan_stand_in, tmp_path, monkeypatch):
    from helpers.synthesis import biggan_gallery

    monkeypatch.setenv("NA_FIGURES_DIR", str(tmp_path / "figures"))
    e = explorers.biggan_explorer(biggan_stand_in, class_id=832, seed=0, alpha=0.35, profile="smoke", interactive=True)
    before = _pixels(e.figure).copy()
    e.set(seed=3)
    assert not np.array_equal(_pixels(e.figure), before), "a new seed must give a new image"
    e.buttons["keep"].click()
    e.set(class_id=967, alpha=0.6)
    e.buttons["keep"].click()
    assert "kept 2" in e.status.value
    png = tmp_path / "figures" / "smoke" / "p2-fig03-favourites.png"
    assert png.exists() and png.with_suffix(".pdf").exists()
    meta = json.loads(png.with_suffix(".json").read_text())
    got = [(f["class_id"], f["network_seed"], f["alpha"]) for f in meta["favourites"]]
    assert got == [(832, 3, 0.35), (967, 3, 0.6)]
    # the JSON is enough to make each kept image again, byte for byte
    f = meta["favourites"][1]
    g = biggan_gallery.gallery(biggan_stand_in, [f["class_id"]], [biggan_gallery.perturbed(f["network_seed"], alpha=f["alpha"])],
                               noise_seed=f["noise_seed"], spectral_norm=f["spectral_norm"], progress=False)
    np.testing.assert_array_equal(g.images[0, 0], io.read_image(png.parent / f["file"]))
    assert f["stand_in"] and "STAND-IN" in f["weights"]
    assert [x["settings"]["network_seed"] for x in explorers.load_favourites(profile="smoke")] == [3, 3]
    e.buttons["forget last"].click()
    assert len(json.loads(png.with_suffix(".json").read_text())["favourites"]) == 1


def test_biggan_and_block_explorers_static_figures(biggan_stand_in):
    fig = explorers.biggan_explorer(biggan_stand_in, class_id=967, seed=1, interactive=False)
    assert "espresso (967)" in fig.axes[0].get_title() and "seed 1" in fig.axes[0].get_title()
    assert any("STAND-IN" in t.get_text() for t in fig.texts)
    e = explorers.block_explorer(biggan_stand_in, classes=[832, 967], block="B13", seed=2, interactive=True)
    fig = e.figure
    assert "B13 redrawn (Eq. 4), seed 2" in fig.axes[0].get_title() and fig.axes[1].get_title() == "original network"
    assert not np.array_equal(_pixels(fig, 0), _pixels(fig, 1))
    e.set(block="B12")
    assert not np.array_equal(_pixels(e.figure, 0), _pixels(fig, 0)), "another block must give another image"
    np.testing.assert_array_equal(_pixels(e.figure, 1), _pixels(fig, 1))  # the original, made once


# --- notebook 07 ----------------------------------------------------------------------------------


def test_nearest_explorer_shows_each_querys_paintings_with_metadata(tmp_path):
    from helpers.search import artbench, index

    corpus = artbench.read_corpus(artbench.make_demo_corpus(tmp_path / "corpus", n=10, size=48, seed=0))
    queries = index.read_queries(tmp_path / "none", demo_fallback=True, n_demo=2)
    rows = []
    for q, picks in zip([queries.name(0), queries.name(1)], ([0, 1, 2], [5, 6, 7])):
        for rank, r in enumerate(picks, 1):
            item = corpus.items.iloc[r]
            rows.append({"query": q, "rank": rank, "item": item["item"], "similarity": 1 - rank / 10, "row": r,
                         **{c: item[c] for c in ("artist", "title", "style", "split")}})
    results = pd.DataFrame(rows)
    e = explorers.nearest_explorer(results, queries, corpus, k=3, interactive=True)
    first = _pixels(e.figure, 1).copy()
    np.testing.assert_array_equal(first, explorers._thumb(corpus.load(0), 160))
    e.set(query=queries.name(1))
    np.testing.assert_array_equal(_pixels(e.figure, 1), explorers._thumb(corpus.load(5), 160))
    title = e.figure.axes[1].get_title()
    assert str(corpus.items.iloc[5]["style"]).replace("_", " ")[:10] in title and "cos 0.900" in title
    fig = explorers.nearest_explorer(results, queries, corpus, k=3, interactive=False)
    assert len(fig.axes) == 4 and not plt.fignum_exists(fig.number)

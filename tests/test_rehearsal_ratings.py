"""Rehearsal: notebooks 03 and 04 in the class profile, on inputs in the on-disk format notebooks 01 and 02 write.

Notebooks 03-04 load no weights; their class profile reads the class-profile outputs of notebooks 01-02
(``results/class/features.parquet``, ``results/class/dream/manifest.csv`` and its PNGs) and simulates ratings.
Here those files are written for a reduced layer set that spans the network and holds every layer the paper
names (``ratings.PAPER_NAMED_LAYERS``), and the notebooks run through the pipeline as ``make class`` runs them.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import io, paths, pipeline, registry
from helpers.nets import layers
from helpers.study import simulate

pytestmark = pytest.mark.rehearsal

LAYERS = sorted(set(simulate.PAPER_NAMED_LAYERS) | {"conv2d1", "conv2d2", "maxpool0", "mixed3a", "mixed4a", "mixed4e",
                                             "mixed3a_pool", "mixed4a_pool", "mixed5b_pool", "mixed3a_3x3_pre_relu",
                                             "mixed4a_5x5_pre_relu", "mixed5b_3x3_pre_relu", "head0_pool"},
                key=layers.LAYERS.index)


def _write_class_inputs(profile: str = "class") -> None:
    """features.parquet and dream/manifest.csv (+ PNGs) with the columns notebooks 01 and 02 write."""
    rng = np.random.default_rng(7)
    out = paths.results(profile)
    rows, man = [], []
    for layer in LAYERS:
        k = layers.LAYERS.index(layer)
        rel = f"images/{k:03d}_{layer}_seed0.png"
        img = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
        io.save_image(img, out / "dream" / rel)
        man.append(dict(layer=layer, layer_index=k, seed=0, path=rel, weights_name="inception5h", weights_source="random",
                        size=64, n_renders=1))
        c, h, e = rng.normal(size=3)
        rows.append(dict(layer=layer, layer_index=k, seed=0, path=rel, width=64, height=64, hue=0.4 + 0.1 * h,
                         hue_circular=0.4, saturation=0.3 + 0.05 * (h + c), brightness=0.5 + 0.05 * (h + c),
                         jpeg_bytes=4000 + 800 * c, png_bytes=9000, feature_congestion=4 + c, subband_entropy=3 + 0.3 * (e + 0.4 * c),
                         spectrum_slope=-2.0, edge_density=0.1, status="ok", error="", note=""))
    io.save_table(pd.DataFrame(man), out / "dream" / "manifest.csv")
    io.save_table(pd.DataFrame(rows), out / "features.parquet")


def test_notebooks_03_04_in_the_class_profile():
    _write_class_inputs()
    index = pipeline.run("class", only=["03", "04"], parameters={"N_PARTICIPANTS": 60})
    assert [e["status"] for e in index["notebooks"]] == ["ok", "ok"], index
    for nb in ("03-ratings-statistics.ipynb", "04-layer-response-figures.ipynb"):
        for item in registry.for_notebook(nb):
            assert item.path("class").exists(), item.id
    key = io.load_json(paths.results("class") / "p1-key-numbers.json")
    assert key["simulated"] and key["n_layers"] == len(LAYERS) and key["unit"] == "layer"
    assert all(key["planted_in_ci"].values()), key["planted_z"]
    assert set(key["layers"]["bimodal"]) >= set(simulate.DEFAULT_BIMODAL)  # the three planted bimodal layers are found
    truth = io.load_json(paths.results("class") / "ratings-simulation-truth.json")
    assert truth["missing_planted"] == []
    comparison = io.load_table(paths.results("class") / "p1-expected-vs-paper.csv")
    assert {"quantity", "paper", "ours", "why they differ"} <= set(comparison.columns) and len(comparison) >= 10

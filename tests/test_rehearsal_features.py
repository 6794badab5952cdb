"""Rehearsal of notebook 02 with PROFILE="paper" and "class" at reduced counts.

Writes a stand-in dream manifest (seeded images in notebook 01's real on-disk layout:
``dream/manifest.csv`` with ``layer``, ``layer_index``, ``seed``, ``path``,
``weights_source``) into a temporary results folder, runs the notebook through papermill,
and checks its registered outputs. A second run over any folder of images (``IMAGES``)
checks the path that issue 14 asks for.
"""
from __future__ import annotations

import numpy as np
import pytest

from helpers import io, paths, registry
from helpers.measures import aesthetics
from helpers.nets import layers
from helpers.testing import rehearsal

pytestmark = pytest.mark.rehearsal

NB = paths.root() / "notebooks" / "02-image-features.ipynb"


def _stand_in_dream(folder, n=24, size=64, seed=0):
    """``n`` seeded images of ``size`` px, one per study layer, and their manifest (stand-in weights)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    rows = []
    for i, layer in enumerate(layers.LAYERS[:: max(1, len(layers.LAYERS) // n)][:n]):
        grating = np.sin(2 * np.pi * (2 + i % 9) * (xx * np.cos(i) + yy * np.sin(i)))[..., None]
        img = np.clip(127 + 60 * grating * rng.normal(size=3) + rng.normal(0, 5 + 3 * (i % 5), (size, size, 3)), 0, 255)
        rel = f"{layer}/seed0.png"
        io.save_image(img.astype(np.uint8), folder / rel)
        rows.append({"layer": layer, "layer_index": layers.LAYERS.index(layer), "seed": 0, "path": rel,
                     "weights_source": "random"})
    io.save_table(pd.DataFrame(rows), folder / "manifest.csv")


@pytest.mark.parametrize("profile", ["paper"])  # "class" runs in test_notebook02_any_folder
def test_notebook02_rehearsal(tmp_path, monkeypatch, profile):
    import papermill

    monkeypatch.setenv("NA_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("NA_FIGURES_DIR", str(tmp_path / "figures"))
    # every measure of the paper profile, the CNN ones on AlexNet in torchvision's real file layout
    monkeypatch.setenv("NA_WEIGHTS_ALEXNET", str(rehearsal.write_alexnet(tmp_path / "weights")))
    _stand_in_dream(paths.results(profile) / "dream")
    papermill.execute_notebook(str(NB), str(tmp_path / "02.ipynb"), progress_bar=False, kernel_name="python3",
                               parameters={"PROFILE": profile, "N_IMAGES": 12, "N_JOBS": 1, "N_EXAMPLES": 2})
    for item in registry.ITEMS:
        if item.notebook == NB.name:
            assert item.path(profile).exists(), f"{item.id}: not written"
    feats = io.load_table(paths.results(profile) / "features.parquet")
    assert len(feats) == 12 and (feats["status"] == "ok").all()
    assert {"layer", "group", "feature_congestion", "subband_entropy", "spectrum_slope"} <= set(feats.columns)
    assert not feats["error"].fillna("").astype(bool).any(), feats["error"].unique()
    toolbox = [c for c in aesthetics.COLUMNS if c != "fourier_slope_mather"]  # NaN below 128 px (64-px images here)
    assert feats[toolbox].notna().all().all(), feats[toolbox].columns[feats[toolbox].isna().any()].tolist()
    sep = io.load_table(paths.results(profile) / "p1-feature-separation.csv")
    assert {"measure", "H", "p_bh", "eta2"} <= set(sep.columns) and len(sep) > 5


def test_notebook02_any_folder(tmp_path, monkeypatch):
    import papermill

    monkeypatch.setenv("NA_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("NA_FIGURES_DIR", str(tmp_path / "figures"))
    rng = np.random.default_rng(1)
    for group, noise in (("calm", 4), ("busy", 60)):
        for i in range(4):
            img = np.clip(120 + rng.normal(0, noise, (48, 56, 3)), 0, 255).astype(np.uint8)
            io.save_image(img, tmp_path / "mine" / group / f"{i}.png")
    (tmp_path / "mine" / "broken.png").write_bytes(b"not an image")
    papermill.execute_notebook(str(NB), str(tmp_path / "02.ipynb"), progress_bar=False, kernel_name="python3",
                               parameters={"PROFILE": "class", "IMAGES": str(tmp_path / "mine"), "N_JOBS": 1,
                                           "N_EXAMPLES": 2, "MEASURES": ["paper1", "spectrum", "edges"]})
    feats = io.load_table(paths.results("class") / "features.parquet")
    assert sorted(feats["group"].unique()) == [".", "busy", "calm"]
    assert (feats.set_index("path").loc["broken.png", "status"]) == "failed"
    sep = io.load_table(paths.results("class") / "p1-feature-separation.csv").set_index("measure")
    assert sep.loc["feature_congestion", "top_group"] == "busy"

"""Rehearsal of notebook 08 under the paper and class profiles at reduced counts (marker ``rehearsal``).

Notebook 08 reads notebook 01's output (``results/<profile>/dream/manifest.csv`` and its PNGs) when no
IMAGES folder is given; here a small folder in that layout (columns path, layer, seed, as
``dream.synthesize`` writes them) stands in, so the paper/class code paths (their parameter values,
the power analysis over InceptionV1 layers, the mixed model with stimuli nested in layers) run.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from helpers import paths, registry
from helpers.nets import layers as nets_layers
from helpers.synthesis import dream_jobs

pytestmark = pytest.mark.rehearsal


def _dream_folder(folder, layers, seeds):
    rng = np.random.default_rng(0)
    rows = []
    for layer in layers:
        for seed in seeds:
            rel = dream_jobs.image_name(layer, seed)  # the layout dream.synthesize writes
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            spread = 10 + 20 * nets_layers.LAYERS.index(layer) % 90
            img = np.clip(128 + rng.normal(0, spread, (64, 64, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(folder / rel)
            rows.append(dict(layer=layer, layer_index=nets_layers.LAYERS.index(layer), seed=seed, path=rel))
    pd.DataFrame(rows).to_csv(folder / "manifest.csv", index=False)


@pytest.mark.parametrize("profile", ["paper", "class"])
def test_notebook_08_rehearsal(profile, tmp_path, monkeypatch):
    import papermill as pm

    monkeypatch.setenv("NA_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("NA_FIGURES_DIR", str(tmp_path / "figures"))
    _dream_folder(paths.results(profile) / "dream", nets_layers.LAYERS[:6], [0, 1])
    params = dict(PROFILE=profile, N_IMAGES=12, N_PARTICIPANTS=5, POWER_N=[4, 8], POWER_SIMS=2, DISPLAY_SIZE=96, N_JOBS=1)
    pm.execute_notebook(str(paths.notebooks() / "08-your-own-study.ipynb"), str(tmp_path / "08.ipynb"), parameters=params,
                        kernel_name="python3", cwd=str(paths.notebooks()), progress_bar=False)
    for item in registry.for_notebook("08-your-own-study.ipynb"):
        assert item.path(profile).exists(), f"{item.id}: {item.path(profile)} missing"
    key = json.loads((paths.results(profile) / "study" / "key-numbers.json").read_text())
    assert key["n_stimuli"] == 12 and key["group_by"] == "layer" and key["n_participants"] == 5
    assert key["power"]["n_layers"] == 6 and key["simulated"] is True
    mm = pd.read_csv(paths.results(profile) / "study" / "mixed-model.csv")
    assert {"participant", "stimulus", "layer", "residual"} <= set(mm.loc[mm["kind"] == "variance", "term"])
    assert os.path.exists(paths.results(profile) / "study" / "experiment" / "index.html")

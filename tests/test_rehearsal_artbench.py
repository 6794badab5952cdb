"""Rehearsal: notebook 07's paper and class profiles on ArtBench-10 and ResNet-152 in their real on-disk formats.

ArtBench-10 comes from :func:`helpers.testing.rehearsal.write_artbench` (the real archive layouts and CSV
columns, stand-in pixels, fake metadata). ResNet-152 is a torchvision state dict saved with
``torch.save`` as torchvision's own file is (random weights whose BatchNorm statistics are
re-estimated on stand-in paintings, so similarities are spread out), reached through
``NA_WEIGHTS_RESNET152`` the way a user points at a downloaded file. The queries are written by
notebook 05's own writer (``biggan.save_gallery_images``) into the folder notebook 07 reads by default.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import io
from helpers.nets import models
from helpers.search import artbench, gram
from helpers.synthesis import biggan_gallery
from helpers.testing import rehearsal

pytestmark = pytest.mark.rehearsal

NB = "07-nearest-painting.ipynb"
K = 3


@pytest.fixture(scope="module")
def resnet_file(tmp_path_factory):
    """ResNet-152 as torchvision saves it (``torch.save(state_dict)``), stand-in weights with calibrated BN."""
    path = tmp_path_factory.mktemp("weights") / "resnet152-rehearsal.pth"
    model = models.load("resnet152", source="random", seed=0)
    rng = np.random.default_rng(5)
    enc = gram.GramEncoder(model, size=64)
    enc.calibrate_stand_in([artbench.demo_painting(rng, s % 10, 96) for s in range(10)], batch_size=10)
    torch.save(model.state_dict(), path)
    return path


def _queries(folder, seed=0):
    """Four "generated images" (stand-in pixels) with notebook 05's manifest, via its own writer."""
    rng = np.random.default_rng(seed)
    images = np.stack([[artbench.demo_painting(rng, (3 * r + c) % 10, 256) for c in range(2)] for r in range(2)])
    nets = [{"network": "original", "seed": None, "alpha": None, "label": "original"},
            {"network": "seed-0", "seed": 0, "alpha": 0.35, "label": "seed 0"}]
    g = biggan_gallery.Gallery(images, [832, 967], nets, stand_in=True, weights="STAND-IN (rehearsal)")
    return biggan_gallery.save_gallery_images(g, folder)


def _run(tmp_path, monkeypatch, resnet_file, profile, layout, n_per_style, params):
    import papermill as pm

    from helpers import paths

    for var, sub in (("NA_RESULTS_DIR", "results"), ("NA_FIGURES_DIR", "figures"), ("NA_DATA_DIR", "data"),
                     ("NA_CACHE_DIR", "cache")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    monkeypatch.setenv("NA_WEIGHTS_RESNET152", str(resnet_file))
    written = rehearsal.write_artbench(paths.data(), layout=layout, n_per_style=n_per_style, seed=1)
    _queries(paths.results(profile) / "biggan" / "fig2")
    pm.execute_notebook(str(paths.notebooks() / NB), str(tmp_path / NB), kernel_name="python3", progress_bar=False,
                        parameters={"PROFILE": profile, "DOWNLOAD": False, "K": K, "BATCH_SIZE": 10, "SELF_CHECK": 2,
                                    **params},
                        cwd=str(tmp_path))
    return written, io.load_json(paths.results(profile) / "p2-nearest-key-numbers.json")


def _check_outputs(tmp_path, profile, key, n_corpus):
    from helpers import paths

    assert key["self_retrieval"] == 1.0  # both probes found themselves at rank 1
    assert key["n_corpus"] == n_corpus and key["n_queries"] == 4
    assert 0 <= key["recall@1"] <= 1 and f"recall@{K}" in key
    assert "pretrained weights resnet152-rehearsal.pth" in key["network"]
    table = pd.read_csv(paths.results(profile) / "p2-nearest-paintings.csv")
    assert len(table) == 4 * K and table["artist"].str.startswith("demo-artist").all()
    assert table["style"].isin(artbench.STYLES).all() and table["title"].notna().all()
    for name in ("p2-fig04-nearest-painting", "p2-fig04-top5"):
        png = paths.figures(profile) / f"{name}.png"
        assert png.exists() and png.with_suffix(".pdf").exists() and png.stat().st_size < 3_000_000
    return table


def test_paper_profile_on_real_layouts(tmp_path, monkeypatch, resnet_file):
    """The paper profile: 256x256 ImageFolder-split tar (extracted by the download code), exact check.

    Input side reduced from the paper's 224 px to 64 px (a size parameter; the code path is the same)."""
    written, key = _run(tmp_path, monkeypatch, resnet_file, "paper", "imagefolder-split", 2, {"IMAGE_SIZE": 64})
    assert written.name == "artbench-10-imagefolder-split"
    assert key["image_size"] == 64 and key["corpus_layout"] == "imagefolder-split" and key["n_per_style"] is None
    _check_outputs(tmp_path, "paper", key, 20)


def test_class_profile_on_cifar_python(tmp_path, monkeypatch, resnet_file):
    """The class profile: the CIFAR-python archive read as shipped, its fixed per-style subset of the test split."""
    written, key = _run(tmp_path, monkeypatch, resnet_file, "class", "cifar-python", 12,
                        {"N_PER_STYLE": 2, "IMAGE_SIZE": 64})
    assert written.name == "artbench-10-python.tar.gz"
    assert key["corpus_layout"] == "cifar-python" and key["split"] == "test" and key["n_per_style"] == 2
    table = _check_outputs(tmp_path, "class", key, 20)
    assert table["split"].eq("test").all() and table["item"].str.match(r"test/\d{5}$").all()

"""Rehearsal tier for inception5h: real-format files (Google's inception5h.zip GraphDef, torch-lucent's
inception5h.pth) holding the seeded stand-in, loaded through every route of ``models.load``, and notebook 01
run with PROFILE="paper" and "class" on them through papermill at reduced counts."""
from __future__ import annotations

import functools
import http.server
import shutil
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import io, paths
from helpers.nets import inception, models
from helpers.synthesis import dream, dream_jobs, start_images, threads
from helpers.testing import rehearsal

pytestmark = pytest.mark.rehearsal

STUDY_FILES = Path("/work/studyfiles")  # the study's real PNGs where a machine has them (never committed)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("rehearsal-inception5h")
    return {"zip": rehearsal.write_inception5h_zip(d / "inception5h.zip"),
            "pb": rehearsal.write_inception5h_graph(d / "tensorflow_inception_graph.pb"),
            "pth": rehearsal.write_lucent_pth(d / "inception5h.pth")}


def test_the_zip_is_laid_out_as_google_ships_it(files):
    with zipfile.ZipFile(files["zip"]) as z:
        assert z.namelist() == list(rehearsal.INCEPTION5H_ZIP_MEMBERS)
        assert z.read("tensorflow_inception_graph.pb") == files["pb"].read_bytes()
        assert len(z.read("imagenet_comp_graph_label_strings.txt").splitlines()) == 1008
    assert 45e6 < files["zip"].stat().st_size < 56e6  # the real zip: 49,937,555 bytes


def test_lucent_file_has_lucents_keys(files):
    sd = torch.load(files["pth"], weights_only=True)
    assert list(sd)[:4] == ["conv2d0_pre_relu_conv.weight", "conv2d0_pre_relu_conv.bias", "conv2d1_pre_relu_conv.weight",
                            "conv2d1_pre_relu_conv.bias"]
    assert "mixed3a_pool_reduce_pre_relu_conv.weight" in list(sd)[:20] and not any(k.startswith("head") for k in sd)
    assert tuple(sd["softmax2_pre_activation_matmul.weight"].shape) == (1008, 1024) and len(sd) == 2 * 57 + 2


def test_every_route_loads_and_gives_the_same_activations(files, tmp_path, monkeypatch):
    monkeypatch.setenv("NA_CACHE_DIR", str(tmp_path / "cache"))
    routes = {"path=zip": models.load("inception5h", path=files["zip"]),
              "path=pb": models.load("inception5h", path=files["pb"]),
              "path=pth": models.load("inception5h", path=files["pth"])}
    monkeypatch.setenv("NA_WEIGHTS_INCEPTION5H", str(files["zip"]))
    routes["env"] = models.load("inception5h", source="pretrained")
    monkeypatch.delenv("NA_WEIGHTS_INCEPTION5H")
    shutil.copy(files["zip"], paths.cache() / "inception5h.zip")
    routes["cache"] = models.load("inception5h", source="pretrained")  # converted once, then from the cache
    marked = ("path=zip", "path=pb", "env", "cache")  # the graph carries the rehearsal marker; lucent's layout cannot
    assert all(models.is_stand_in(routes[r]) for r in marked)
    assert all(models.is_stand_in(routes[r]) and routes[r].na_info["source"] == "rehearsal" for r in marked)
    assert "STAND-IN" in models.describe(routes["env"])
    stand_in = inception.random_model(seed=0)
    x = torch.from_numpy(np.random.default_rng(0).uniform(0, 255, (1, 3, 112, 112)).astype(np.float32))
    with torch.no_grad():
        want = stand_in(x, ["localresponsenorm0", "localresponsenorm1", "mixed4c", "mixed5b", "head1_bottleneck"])
        for route, m in routes.items():
            for layer, w in want.items():
                if layer.startswith("head") and route == "path=pth":
                    with pytest.raises(inception.LayerUnavailable):
                        m(x, layer)
                    continue
                assert torch.equal(m(x, layer), w), (route, layer)


# --- notebook 01 on the rehearsal files --------------------------------------------------------

@pytest.fixture(scope="module")
def study_url():
    """A localhost mirror of the study's start PNGs when this machine has the real files, else None."""
    if not (STUDY_FILES / "gaussianNoise800x800_1.png").exists():
        yield None
        return

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(STUDY_FILES)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/{{name}}"
    srv.shutdown()
    srv.server_close()


# a few layers across the network (incl. both LRNs' descendants and an auxiliary head), 2 seeds (one of the
# study's files and one beyond the five), a size whose smallest octave still fits the heads, 2 renders
REDUCED = dict(LAYERS=["localresponsenorm1", "mixed3a_3x3_bottleneck", "head0_bottleneck"], SEEDS=[0, 5], SIZE=136,
               N_RENDERS=2, OCTAVE_N=3, OCTAVE_LAYER="localresponsenorm1", THREADS=1, WORKERS=1)


def _run(profile, parameters, monkeypatch, study_url):
    import papermill as pm

    if study_url:
        monkeypatch.setenv("NA_STUDY_START_URL", study_url)
    params = {"PROFILE": profile, **parameters}
    if not study_url:
        params["START_IMAGES"] = "noise"  # CI: the study's PNGs cannot be fetched (tests/test_dream.py serves stand-ins)
    out = paths.build(profile) / "01-dream-synthesis.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    pm.execute_notebook(str(paths.notebooks() / "01-dream-synthesis.ipynb"), str(out), parameters=params,
                        kernel_name="python3", cwd=str(paths.notebooks()), progress_bar=False)
    return io.load_table(paths.results(profile) / "dream" / "manifest.csv")


def test_notebook_01_paper_and_class_profiles_on_the_real_formats(files, monkeypatch, study_url):
    """PROFILE="paper" on inception5h.zip (through NA_WEIGHTS_INCEPTION5H) and PROFILE="class" on lucent's .pth
    (through WEIGHTS): the same weights in two formats must dream the same bytes, and those of the in-memory
    network with the graph's LRN constants. With lucent's MMdnn constants in the .pth route or the stand-in
    (main before this change) the LRN layers' descendants differ."""
    monkeypatch.setenv("NA_WEIGHTS_INCEPTION5H", str(files["zip"]))
    paper = _run("paper", REDUCED, monkeypatch, study_url)
    monkeypatch.delenv("NA_WEIGHTS_INCEPTION5H")
    cls = _run("class", {**REDUCED, "LAYERS": REDUCED["LAYERS"][:2], "WEIGHTS": str(files["pth"])}, monkeypatch, study_url)
    assert len(paper) == 6 and set(paper["weights_source"]) == {"rehearsal"} and set(paper["size"]) == {136}
    assert set(paper["weights_file"]) == {"inception5h.zip"} and set(cls["weights_file"]) == {"inception5h.pth"}
    labels = dict(zip(paper["seed"], paper["start_image"]))
    assert labels[5] == "noise:5"
    assert labels[0] == ("gaussianNoise800x800_1.png[centre 136x136]" if study_url else "noise:0")
    for item in ("p1-dream-contact-sheet", "p1-dream-octaves"):
        for profile in ("paper", "class"):
            assert (paths.figures(profile) / f"{item}.png").exists() and (paths.figures(profile) / f"{item}.pdf").exists()
    nb = (paths.build("paper") / "01-dream-synthesis.ipynb").read_text()
    assert "STAND-IN" in nb  # the rehearsal file's outputs are labelled
    assert "data:image/jpeg;base64" in nb and len(nb) < 2e6  # a small preview of the contact sheet, not the sheet
    for layer in REDUCED["LAYERS"][:2]:
        for seed in REDUCED["SEEDS"]:
            name = dream_jobs.image_name(layer, seed)
            a = io.read_image(paths.results("paper") / "dream" / name)
            b = io.read_image(paths.results("class") / "dream" / name)
            assert np.array_equal(a, b), f"{name}: zip and lucent .pth routes dream different images"
    start = start_images.start_images("study" if study_url else "noise", [0], size=136, url=study_url)[0][0]
    kw = {k.lower(): v for k, v in REDUCED.items() if k in ("N_RENDERS", "OCTAVE_N")}
    with threads.torch_threads(1):
        want = dream.dream(inception.random_model(seed=0), "mixed3a_3x3_bottleneck", start, seed=0, **kw)
    assert np.array_equal(io.read_image(paths.results("paper") / "dream" / dream_jobs.image_name("mixed3a_3x3_bottleneck", 0)), want)

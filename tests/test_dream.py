"""DeepDream synthesis: TF1 resize, octave/tile geometry, faithfulness to the reference port,
determinism, the 720-image job's manifest and resume after an interruption."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import io, sources
from helpers.figures import base, paper1
from helpers.nets import layers
from helpers.synthesis import dream, dream_jobs, start_images


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model(inception_stand_in):
    return inception_stand_in


def ref_resize(a, oh, ow):
    """TF1 resize_bilinear, legacy: src = dst * in / out, lower = floor, upper = min(ceil, in - 1)."""
    C, H, W = a.shape
    out = np.zeros((C, oh, ow))
    for i in range(oh):
        y = i * (H / oh)
        y0, y1, fy = int(np.floor(y)), min(int(np.ceil(y)), H - 1), y - np.floor(y)
        for j in range(ow):
            x = j * (W / ow)
            x0, x1, fx = int(np.floor(x)), min(int(np.ceil(x)), W - 1), x - np.floor(x)
            top = a[:, y0, x0] + (a[:, y0, x1] - a[:, y0, x0]) * fx
            bot = a[:, y1, x0] + (a[:, y1, x1] - a[:, y1, x0]) * fx
            out[:, i, j] = top + (bot - top) * fy
    return out


@pytest.mark.parametrize("src,dst", [((7, 9), (5, 6)), ((5, 6), (7, 9)), ((10, 10), (7, 7)), ((7, 7), (10, 10)), ((4, 4), (4, 4))])
def test_resize_matches_tf1_legacy_formula(src, dst):
    a = np.random.default_rng(0).uniform(0, 255, (3,) + src)
    got = dream.resize_bilinear(torch.from_numpy(a.astype(np.float32)), dst).numpy()
    np.testing.assert_allclose(got, ref_resize(a, *dst), rtol=1e-5, atol=1e-3)
    # not torch's half-pixel convention
    if src != dst:
        half = torch.nn.functional.interpolate(torch.from_numpy(a.astype(np.float32))[None], size=dst, mode="bilinear")[0]
        assert not np.allclose(got, half.numpy(), atol=1e-2)


def test_octave_sizes_and_tiles_follow_the_tf_code():
    assert dream.octave_sizes((800, 800), 5, 1.4) == [(800, 800), (571, 571), (407, 407), (290, 290), (207, 207)]
    assert dream._tiles(800, 800, 512) == [(0, 0), (0, 512), (512, 0), (512, 512)]
    assert dream._tiles(571, 407, 512) == [(0, 0)]  # the tutorial's loop leaves a strip under 256 px untiled


def test_noise_image_matches_the_study_statistics():
    a, b = start_images.noise_image(3, 200), start_images.noise_image(3, 200)
    assert a.dtype == np.uint8 and a.shape == (200, 200, 3) and np.array_equal(a, b)
    assert not np.array_equal(a, start_images.noise_image(4, 200))
    for c in range(3):
        assert abs(a[..., c].mean() - 126.5) < 0.5 and abs(a[..., c].std() - 12.75) < 0.5
    assert abs(np.corrcoef(a[..., 0].ravel(), a[..., 1].ravel())[0, 1]) < 0.05


def test_dream_is_deterministic_and_raises_the_objective(model):
    img = start_images.noise_image(0, 72)
    kw = dict(n_renders=2, octave_n=2, tile_size=512)
    a, info = dream.dream(model, "mixed3b_3x3", img, seed=1, return_info=True, **kw)
    b = dream.dream(model, "mixed3b_3x3", img, seed=1, **kw)
    assert a.dtype == np.uint8 and a.shape == img.shape and np.array_equal(a, b)
    assert np.abs(a.astype(int) - img).mean() > 1  # it changed the image
    assert info["objective_after"] > info["objective_before"]
    c = dream.dream(model, "mixed3b_3x3", img, seed=2, n_renders=2, octave_n=2, tile_size=32)
    d = dream.dream(model, "mixed3b_3x3", img, seed=3, n_renders=2, octave_n=2, tile_size=32)
    assert not np.array_equal(c, d)  # the seed drives the roll offsets


@pytest.mark.parametrize("layer", ["localresponsenorm0", "mixed4a_pool", "mixed5b"])
def test_exact_mode_reproduces_the_reference_port_bytes(model, layer):
    img = start_images.noise_image(1, 80)
    kw = dict(n_renders=3, octave_n=3, tile_size=48, seed=5)  # several tiles, rolled, incl. uneven ones
    ref = dream.reference_dream(model, layer, img, **kw)
    ours = dream.dream(model, layer, img, fast=False, **kw)  # truncated forward, torch-side loop, same bytes
    np.testing.assert_array_equal(ours, ref)  # incl. NumPy's float32 mean for the step size


@pytest.mark.parametrize("layer", ["mixed3a", "maxpool4"])
def test_exact_mode_bytes_in_the_configurations_that_differed(model, layer, one_torch_thread):
    """96 px, one 512-px tile, 3 octaves, 3 renders: summing |g| over an HWC *view* of CHW memory (or
    a reference whose resize returns such views) differed here by 1-6 grey levels."""
    img = start_images.noise_image(0, 96)
    kw = dict(n_renders=3, octave_n=3, tile_size=512, seed=0)
    np.testing.assert_array_equal(dream.dream(model, layer, img, fast=False, **kw),
                                  dream.reference_dream(model, layer, img, **kw))


@pytest.mark.parametrize("layer", ["localresponsenorm1", "mixed4a", "mixed5b"])
def test_fast_mode_gradient_is_as_accurate_as_the_reference(model, layer):
    """One tiled gradient step, fast (channels-last, closed-form LRN) and reference operations, each
    against float64 ground truth. Float32 rounding alone is ~1e-7, but any rounding change can flip
    a ReLU or max-pool decision sitting within rounding of its kink, which moves the gradient by
    ~1e-3 (relative L2); the reference shows the same between thread counts. So: relative error
    under 1e-2, and the typical element exact to 1e-5 of the largest."""
    import copy

    img = torch.as_tensor(start_images.noise_image(3, 160).astype(np.float32)).permute(2, 0, 1)
    truth = dream.Dreamer(copy.deepcopy(model).double(), layer, fast=False).grad_tiled(
        img.double(), np.random.RandomState(0), 96)
    for fast in (True, False):
        g = dream.Dreamer(model, layer, fast=fast).grad_tiled(img, np.random.RandomState(0), 96).double()
        err = (g - truth).abs()
        assert float((g - truth).norm() / truth.norm()) < 1e-2, (fast, layer)
        assert float(err.median()) <= 1e-5 * float(truth.abs().max()), (fast, layer)


def test_fast_mode_dream_stays_close_to_the_reference(model):
    img = start_images.noise_image(1, 96)
    kw = dict(n_renders=2, octave_n=2, tile_size=64, seed=2)
    ref = dream.reference_dream(model, "mixed4b", img, **kw)
    ours = dream.dream(model, "mixed4b", img, **kw)
    d = np.abs(ours.astype(int) - ref)
    assert d.mean() < 0.5 and d.max() <= 16, (d.mean(), d.max())


def test_batched_tiles_give_the_same_gradients(model):
    img = torch.as_tensor(start_images.noise_image(2, 96).astype(np.float32)).permute(2, 0, 1)
    g1 = dream.Dreamer(model, "mixed4a", batch_tiles=False).grad_tiled(img, np.random.RandomState(0), 32)
    g2 = dream.Dreamer(model, "mixed4a", batch_tiles=True).grad_tiled(img, np.random.RandomState(0), 32)
    torch.testing.assert_close(g1, g2, rtol=1e-3, atol=1e-4 * float(g1.abs().max()))


def test_every_layer_can_be_dreamed_at_a_small_size(model):
    img = start_images.noise_image(0, 72)
    for layer in layers.LAYERS[::7] + ("head0_bottleneck", "head1_pool"):
        out = dream.dream(model, layer, img, n_renders=1, octave_n=1)
        assert out.shape == img.shape, layer


KW = dict(size=40, n_renders=1, octave_n=2, progress=False)
LAYERS = ["conv2d0", "mixed3a_pool", "maxpool4"]


def _files(d):
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*.png"))}


def test_synthesize_writes_manifest_and_resumes_after_interruption(model, tmp_path, monkeypatch):
    full = dream_jobs.synthesize(LAYERS, [0, 1], tmp_path / "a", model=model, **KW)
    assert list(full.columns[:4]) == ["layer", "layer_index", "seed", "path"]
    assert len(full) == 6 and list(full["layer_index"]) == sorted(full["layer_index"])
    for col in ("weights_source", "weights_sha256", "step", "octave_scale", "tile_size", "n_renders",
                "objective_before", "objective_after", "seconds"):
        assert col in full.columns
    on_disk = io.load_table(tmp_path / "a" / "manifest.csv")
    assert list(on_disk["path"]) == list(full["path"]) and all((tmp_path / "a" / p).exists() for p in full["path"])

    real, calls = dream.dream, {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("injected crash")
        return real(*args, **kwargs)

    monkeypatch.setattr(dream, "dream", flaky)
    with pytest.raises(RuntimeError, match="injected"):
        dream_jobs.synthesize(LAYERS, [0, 1], tmp_path / "b", model=model, on_error="raise", **KW)
    assert len(_files(tmp_path / "b")) == 3 and not list((tmp_path / "b").rglob("*.part"))
    monkeypatch.setattr(dream, "dream", real)
    calls["n"] = 0
    monkeypatch.setattr(dream, "dream", lambda *a, **k: (calls.__setitem__("n", calls["n"] + 1), real(*a, **k))[1])
    resumed = dream_jobs.synthesize(LAYERS, [0, 1], tmp_path / "b", model=model, **KW)
    assert calls["n"] == 3  # only the missing images were dreamed
    timing = ["seconds"]
    pd.testing.assert_frame_equal(resumed.drop(columns=timing), full.drop(columns=timing))
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    again = dream_jobs.synthesize(LAYERS, [0, 1], tmp_path / "b", model=model, **KW)
    assert calls["n"] == 3 and len(again) == 6


def test_synthesize_shards_and_bad_images(model, tmp_path, recwarn):
    d = tmp_path / "s"
    dream_jobs.synthesize(LAYERS, [0, 1], d, model=model, shard=0, n_shards=2, **KW)
    part = dream_jobs.synthesize(LAYERS, [0, 1], d, model=model, shard=1, n_shards=2, **KW)
    assert len(part) == 6
    with pytest.warns(UserWarning, match="head0_bottleneck seed 0 failed"):  # 40 px is too small for a head
        out = dream_jobs.synthesize(["head0_bottleneck", "conv2d0"], [0], tmp_path / "w", model=model, **KW)
    assert list(out["layer"]) == ["conv2d0"]
    other = dream_jobs.synthesize(["conv2d0"], [0], d, model=model, **{**KW, "n_renders": 2})  # new settings, same folder
    assert len(other) == 1 and other["n_renders"].tolist() == [2]  # the manifest holds only this job's images
    with pytest.raises(KeyError, match="mixed4c_3x3_pre_relu"):
        dream_jobs.synthesize(["mixed4c_3x3_prerelu"], [0], tmp_path / "x", model=model, **KW)


def test_synthesize_with_worker_processes_matches_one_process(model, tmp_path):
    """workers=2 (spawned processes, one thread each) writes the same bytes and manifest as one
    single-threaded process, and a failing image is reported and skipped."""
    seq = dream_jobs.synthesize(LAYERS[:2], [0, 1], tmp_path / "seq", model=model, threads=1, **KW)
    with pytest.warns(UserWarning, match=r"head0_bottleneck seed \d failed"):
        par = dream_jobs.synthesize(LAYERS[:2] + ["head0_bottleneck"], [0, 1], tmp_path / "par", model=model, workers=2,
                               threads=1, **KW)
    timing = ["seconds"]
    pd.testing.assert_frame_equal(par.drop(columns=timing), seq.drop(columns=timing))
    assert _files(tmp_path / "par") == _files(tmp_path / "seq")
    with pytest.raises(ValueError, match="workers"):
        dream_jobs.synthesize(LAYERS[:1], [0], tmp_path / "bad", model=model, workers=0, **KW)


def test_start_images_from_a_folder(tmp_path):
    for k in range(2):
        io.save_image(start_images.noise_image(10 + k, 40), tmp_path / f"seed_{k}.png")
    starts = start_images.start_images(tmp_path, [0, 1], size=40)
    assert np.array_equal(starts[1][0], start_images.noise_image(11, 40)) and starts[1][1] == "seed_1.png"
    with pytest.raises(ValueError, match="expected 50x50"):
        start_images.start_images(tmp_path, [0], size=50)
    with pytest.raises(ValueError, match="seed 2"):
        start_images.start_images(tmp_path, [2], size=40)


# --- the study's start images, served over HTTP through the same download code ----------------

@pytest.fixture
def serve(tmp_path):
    """``serve(folder)`` -> URL template ``http://127.0.0.1:<port>/{name}`` of a localhost server of ``folder``."""
    import functools
    import http.server
    import threading

    servers = []

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    def start(folder):
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}/{{name}}", srv

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def _fake_study(folder, n=5, size=64):
    from helpers import download

    folder.mkdir(parents=True, exist_ok=True)
    pins = {}
    for k in range(n):
        name = f"gaussianNoise800x800_{k + 1}.png"
        io.save_image(start_images.noise_image(100 + k, size), folder / name)
        pins[name] = download.sha256sum(folder / name)
    return pins


def test_study_start_images_download_check_cache_and_fall_back_to_noise(tmp_path, serve, monkeypatch):
    from helpers import download

    monkeypatch.setenv("NA_DATA_DIR", str(tmp_path / "data"))
    assert sources.STUDY_START_URL.format(name="gaussianNoise800x800_1.png") == \
        "https://raw.githubusercontent.com/CVRL/human-reactions-to-deepdream-samples/main/gaussianNoise800x800_1.png"
    pins = _fake_study(tmp_path / "site")
    url, srv = serve(tmp_path / "site")
    starts = start_images.start_images("study", [0, 4, 7], size=48, url=url, pins=pins)
    assert starts[4][1] == "gaussianNoise800x800_5.png[centre 48x48]"  # file k for seed k-1
    assert np.array_equal(starts[4][0], start_images.noise_image(104, 64)[8:56, 8:56])
    assert starts[7][1] == "noise:7" and np.array_equal(starts[7][0], start_images.noise_image(7, 48))  # beyond the five
    cached = start_images.study_start_folder() / "gaussianNoise800x800_1.png"
    assert cached.exists() and download.record_path(cached).exists()
    srv.shutdown()  # offline now (socket closed: refused at once, not a 30-s timeout): the cache serves
    srv.server_close()
    again = start_images.start_images("study", [0], size=64, url=url, pins=pins)
    assert again[0][1] == "gaussianNoise800x800_1.png" and np.array_equal(again[0][0], start_images.noise_image(100, 64))
    with pytest.raises(start_images.StartImagesUnavailable) as info:  # not cached and offline: where to put it
        start_images.start_images("study", [1], size=64, url=url, pins=pins)
    msg = str(info.value)
    for part in ("gaussianNoise800x800_2.png", url.format(name="gaussianNoise800x800_2.png"), pins["gaussianNoise800x800_2.png"],
                 str(start_images.study_start_folder()), "NA_DATA_DIR"):
        assert part in msg, part


def test_study_start_image_with_a_wrong_hash_is_refused(tmp_path, serve, monkeypatch):
    from helpers import download

    monkeypatch.setenv("NA_DATA_DIR", str(tmp_path / "data"))
    pins = _fake_study(tmp_path / "site", n=1)
    url, _ = serve(tmp_path / "site")
    bad = {k: "0" * 64 for k in pins}
    with pytest.raises(download.ChecksumError, match="is pinned"):
        start_images.start_images("study", [0], size=64, url=url, pins=bad)
    assert not (start_images.study_start_folder() / "gaussianNoise800x800_1.png").exists()  # nothing half-written kept


STUDY_FILES = __import__("pathlib").Path("/work/studyfiles")


@pytest.mark.skipif(not (STUDY_FILES / "gaussianNoise800x800_5.png").exists(), reason="the study's real PNGs are not on this machine")
def test_the_real_study_pngs_match_the_pinned_hashes(tmp_path, serve, monkeypatch):
    monkeypatch.setenv("NA_DATA_DIR", str(tmp_path / "data"))
    url, _ = serve(STUDY_FILES)
    starts = start_images.start_images("study", range(5), size=800, url=url)  # the pinned sha256, checked by the download
    for k, (img, label) in starts.items():
        assert label == f"gaussianNoise800x800_{k + 1}.png" and img.shape == (800, 800, 3) and img.dtype == np.uint8
        assert abs(img.mean() - start_images.NOISE_MEAN) < 0.5 and abs(img.std() - start_images.NOISE_SD) < 0.5


def _overlaps(fig, texts):
    """(text, axes index) pairs where a text's box meets another image axes (or comes within 3 pt of it vertically)."""
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    boxes = [ax.get_window_extent(r) if ax.get_images() else None for ax in fig.axes]  # blank cells draw nothing
    bad = []
    for txt, own in texts:
        tb = txt.get_window_extent(r)
        pad = 3 * fig.dpi / 72  # at least 3 pt clear of the tiles above and below
        tb = type(tb).from_extents(tb.x0, tb.y0 - pad, tb.x1, tb.y1 + pad)
        bad += [(txt.get_text(), i) for i, b in enumerate(boxes) if b is not None and i != own and txt.get_text() and tb.overlaps(b)]
    return bad


def test_contact_sheet_names_sit_under_their_own_tile_at_a_readable_size(tmp_path):
    import matplotlib.pyplot as plt

    names = list(layers.LAYERS[:26])
    for i, n in enumerate(names):
        io.save_image(start_images.noise_image(i, 40), tmp_path / f"{n}.png")
    manifest = pd.DataFrame({"layer": names, "layer_index": range(26), "seed": 0, "path": [f"{n}.png" for n in names]})
    fig = paper1.contact_sheet(manifest, tmp_path)
    texts = [(ax.xaxis.label, i) for i, ax in enumerate(fig.axes)] + [(ax.title, i) for i, ax in enumerate(fig.axes)]
    assert _overlaps(fig, texts) == []
    assert fig.axes[4].xaxis.label.get_text() == "conv2d1\npre_relu" and fig.axes[4].xaxis.label.get_fontsize() >= 5
    plt.close(fig)


def test_octave_size_labels_do_not_cover_the_images(model):
    import matplotlib.pyplot as plt

    progress = dream.progress_snapshots(model, "conv2d0", start_images.noise_image(0, 72), snapshots=(1, 2), n_renders=2,
                                        octave_n=3)
    fig = paper1.dream_progress(progress)
    texts = [(ax.xaxis.label, i) for i, ax in enumerate(fig.axes)] + [(ax.title, i) for i, ax in enumerate(fig.axes)]
    assert _overlaps(fig, texts) == [] and "72x72 px" in fig.axes[3].get_title()
    assert all(ax.get_images() for ax in fig.axes)  # no blank panel: each row has as many panels as images
    assert "[" not in fig._suptitle.get_text() and "renders 1 and 2" in fig._suptitle.get_text()
    plt.close(fig)


def test_preview_is_small_and_links_the_full_figure(tmp_path):
    big = tmp_path / "sheet.png"
    io.save_image(np.random.default_rng(0).integers(0, 255, (2400, 2000, 3), dtype=np.uint8), big)
    html = base.preview(big, max_px=600).data
    assert html.startswith('<img src="data:image/jpeg;base64,') and "sheet.png" in html and "2000x2400 px" in html
    assert len(html) < 0.1 * big.stat().st_size and "preview 500x600 px" in html

"""DeepDream speed options: bf16 autocast (the fast ops under it), OpenMP waiting, adaptive threads,
and the batched (several images at once) path."""
from __future__ import annotations

import copy
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import helpers
from helpers import io
from helpers.nets import inception_ops
from helpers.synthesis import dream, dream_jobs, start_images, threads

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model(inception_stand_in):
    return inception_stand_in


def test_precision_argument_is_checked():
    assert dream.check_precision("fp32") == "fp32"
    assert dream.check_precision("bf16") == "bf16"
    assert dream.check_precision("auto") in ("fp32", "bf16")
    assert dream.check_precision("auto", fast=False) == "fp32"
    with pytest.raises(ValueError, match="precision must be one of"):
        dream.check_precision("fp16")
    with pytest.raises(ValueError, match="needs fast=True"):
        dream.check_precision("bf16", fast=False)


def test_lrn_computes_in_float32_under_autocast():
    """Rounded to bf16, alpha * S (about 1e-5 here) would vanish next to bias = 1."""
    x = torch.randn(1, 64, 9, 9).contiguous(memory_format=torch.channels_last) * 30
    want = inception_ops.lrn(x, 2, 1.0, 1e-4, 0.75)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = inception_ops.lrn(x.to(torch.bfloat16), 2, 1.0, 1e-4, 0.75)
        got_f = inception_ops.lrn(x, 2, 1.0, 1e-4, 0.75)
    assert got.dtype == torch.float32 and got_f.dtype == torch.float32
    torch.testing.assert_close(got_f, want, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(got, want, rtol=1e-2, atol=1e-2)  # only the bf16 input's rounding


def test_strided_conv_input_gradient_under_autocast():
    """The sub-pixel conv2d0 gradient works when the forward ran under autocast and the backward
    outside it (bf16 gradient arriving, float32 weights), and returns the input's dtype."""
    g = torch.Generator().manual_seed(0)
    w, b = torch.randn(8, 3, 7, 7, generator=g), torch.randn(8, generator=g)
    x = (torch.randn(1, 3, 20, 22, generator=g) * 50).requires_grad_(True)
    (want,) = torch.autograd.grad(inception_ops.conv2d_same(x, w, b, 2).square().sum(), x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = inception_ops.conv2d_same_input_grad(x, w, b, 2)
    assert y.dtype == torch.bfloat16
    (got,) = torch.autograd.grad(y.float().square().sum(), x)
    assert got.dtype == torch.float32
    assert float((got - want).norm() / want.norm()) < 2e-2


@pytest.mark.parametrize("layer", ["localresponsenorm1", "mixed4a"])
def test_bf16_gradient_error_is_bounded_and_fp32_stays_exact(model, layer):
    """Per step, against float64: fp32 ~1e-6 relative L2; bf16 a few percent (measured 5e-2 at
    conv2d2 up to 0.36 at mixed5b on the stand-in, 320-px image, 224-px tiles; cosine >= 0.93)."""
    img = torch.as_tensor(start_images.noise_image(3, 128).astype(np.float32)).permute(2, 0, 1)
    truth = dream.Dreamer(copy.deepcopy(model).double(), layer, fast=False).grad_tiled(
        img.double(), np.random.RandomState(0), 96)
    errs = {}
    for precision in ("fp32", "bf16"):
        g = dream.Dreamer(model, layer, precision=precision).grad_tiled(img, np.random.RandomState(0), 96)
        assert g.dtype == torch.float32 and bool(torch.isfinite(g).all())
        g = g.double()
        errs[precision] = float((g - truth).norm() / truth.norm())
        cos = float((g * truth).sum() / g.norm() / truth.norm())
        assert cos > 0.9, (precision, cos)
    assert errs["fp32"] < 1e-4, errs
    assert 1e-4 < errs["bf16"] < 0.3, errs  # bf16 really ran (not silently fp32) and stays useful


def test_bf16_dream_is_deterministic_and_recorded(model, tmp_path):
    img = start_images.noise_image(0, 72)
    kw = dict(n_renders=2, octave_n=2, seed=1, precision="bf16")
    a, info = dream.dream(model, "mixed3b_3x3", img, return_info=True, **kw)
    assert np.array_equal(a, dream.dream(model, "mixed3b_3x3", img, **kw))
    assert info["precision"] == "bf16" and info["objective_after"] > info["objective_before"]
    assert not np.array_equal(a, dream.dream(model, "mixed3b_3x3", img, n_renders=2, octave_n=2, seed=1))
    kw = dict(size=40, n_renders=1, octave_n=2, progress=False, model=model)
    m1 = dream_jobs.synthesize(["conv2d0"], [0], tmp_path, precision="fp32", **kw)
    assert list(m1["precision"]) == ["fp32"]
    m2 = dream_jobs.synthesize(["conv2d0"], [0], tmp_path, precision="bf16", **kw)  # a new precision re-dreams
    assert list(m2["precision"]) == ["bf16"]


def test_openmp_spin_is_bounded_unless_the_user_chose():
    """Set when the package is imported, whichever module comes first (here one that never loads torch)."""
    code = "import helpers.study.ratings, os; print(os.environ.get('GOMP_SPINCOUNT'), '|', helpers.OMP_POLICY)"
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}

    def run(extra, src=code):
        return subprocess.run([sys.executable, "-c", src], env={**env, **extra}, capture_output=True, text=True,
                              check=True).stdout.strip()

    assert run({}) == f"{helpers.OMP_SPINCOUNT} | GOMP_SPINCOUNT={helpers.OMP_SPINCOUNT}"
    assert run({"OMP_WAIT_POLICY": "active"}) == "None | OMP_WAIT_POLICY=active"  # the user's choice stands
    assert run({"GOMP_SPINCOUNT": "5k"}) == "5k | GOMP_SPINCOUNT=5k"
    # torch first: too late for libgomp, which read its environment when torch loaded
    assert run({}, "import torch, helpers; print(helpers.OMP_POLICY)").startswith("libgomp's default")


def test_adaptive_threads_measure_a_fresh_start_over_a_window(monkeypatch):
    """The first render of a call: /proc/stat's 10 ms ticks over a few microseconds see nobody, so the
    free cores are measured over ``min_window`` instead (a busy core was missed: 2 threads beside it)."""
    calls = []
    monkeypatch.setattr(threads, "free_cores", lambda since=None, interval=0.2: calls.append((since, interval)) or 1.0)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    with threads.torch_threads(2):
        a = threads.AdaptiveThreads()
        first = a.sample
        assert a.update() == 1 and calls == [(None, a.min_window)]
        old = (first[0], first[1], first[2] - 1.0)  # a render later: measured since the last sample
        a.sample = old
        a.update()
        assert calls[1] == (old, 0.2)


def test_adaptive_threads_follow_the_free_cores(monkeypatch):
    """Machine busy time minus our own: another process using one of two cores -> 1 thread."""
    # (machine non-idle core-seconds, our CPU seconds, wall seconds); each update reads twice
    # (end of the last interval, start of the next)
    ticks = [(0.0, 0.0, 0.0),
             (2.0, 1.0, 1.0), (2.0, 1.0, 1.0),  # machine 2, ours 1 -> others 1 -> 1 free
             (3.0, 2.0, 2.0), (3.0, 2.0, 2.0),  # machine 1, ours 1 -> others 0 -> 2 free
             (4.6, 2.5, 3.0), (4.6, 2.5, 3.0),  # machine 1.6, ours 0.5 -> others 1.1 -> 0.9 free -> 1
             (6.0, 3.5, 4.0), (6.0, 3.5, 4.0)]  # machine 1.4, ours 1.0 -> others 0.4 -> 1.6 free -> 2
    it = iter(ticks)
    monkeypatch.setattr(threads, "_cpu_times", lambda: next(it))
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    with threads.torch_threads(1):
        a = threads.AdaptiveThreads()
        assert [a.update(), a.update(), a.update(), a.update()] == [1, 2, 1, 2]
        assert torch.get_num_threads() == 2
    monkeypatch.undo()
    assert 0.0 <= threads.free_cores(interval=0.05) <= (os.cpu_count() or 1)


def test_threads_argument_is_checked(model):
    with pytest.raises(ValueError, match="threads must be"):
        with threads.torch_threads(0):
            pass
    out, info = dream.dream(model, "conv2d0", start_images.noise_image(0, 40), n_renders=2, octave_n=1, threads="auto",
                            return_info=True)
    assert len(info["threads"]) == 2 and all(t >= 1 for t in info["threads"])


def test_batched_images_match_one_at_a_time(model):
    """Per step, the N-image batch gives each image's own gradient (own roll offsets); after a
    render the images agree to the rounding a batched convolution changes."""
    imgs = [start_images.noise_image(s, 96) for s in (0, 1, 2)]
    d = dream.Dreamer(model, "mixed4a")
    t = torch.stack([torch.as_tensor(im.astype(np.float32)).permute(2, 0, 1) for im in imgs])
    gb = d.grad_tiled_batch(t, [np.random.RandomState(s) for s in (0, 1, 2)], 64)
    for i, s in enumerate((0, 1, 2)):
        g1 = d.grad_tiled(t[i], np.random.RandomState(s), 64)
        torch.testing.assert_close(gb[i], g1, rtol=1e-3, atol=1e-4 * float(g1.abs().max()))
    kw = dict(n_renders=1, octave_n=2, tile_size=64)
    batched = dream.dream_batch(model, "mixed4a", imgs, seeds=[0, 1, 2], **kw)
    for im, s, b in zip(imgs, (0, 1, 2), batched):
        one = dream.dream(model, "mixed4a", im, seed=s, **kw)
        diff = np.abs(one.astype(int) - b)
        assert diff.mean() < 0.05 and diff.max() <= 2, (s, diff.mean(), diff.max())
    with pytest.raises(ValueError, match="one seed per image"):
        dream.dream_batch(model, "mixed4a", imgs, seeds=[0])


def test_synthesize_batched_writes_the_same_job(model, tmp_path):
    kw = dict(size=48, n_renders=1, octave_n=2, progress=False, model=model)
    m = dream_jobs.synthesize(["conv2d2"], [0, 1], tmp_path / "b", batch_images=True, **kw)
    ref = dream_jobs.synthesize(["conv2d2"], [0, 1], tmp_path / "a", batch_images=False, **kw)
    assert list(m["seed"]) == [0, 1] and list(m["batched"]) == [2, 2]
    for p in ref["path"]:
        a, b = (io.read_image(tmp_path / d / p).astype(int) for d in ("a", "b"))
        assert np.abs(a - b).max() <= 2
    with pytest.raises(ValueError, match="workers=1"):
        dream_jobs.synthesize(["conv2d2"], [0, 1], tmp_path / "c", batch_images=True, workers=2, **kw)

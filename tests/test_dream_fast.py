"""The fused DeepDream engine (helpers.nets.inception_fast) against the autograd path and float64.

Tolerance of the fused path (the one :mod:`helpers.synthesis.dream` promises): per tiled gradient step,
relative L2 error against a float64 run under 1e-2 with the typical element exact to 1e-5 of the
largest (the bound the autograd path itself meets: float32 rounding is ~1e-7, but a rounding change can
flip a ReLU or max-pool decision sitting within rounding of its kink, ~1e-3 relative); against the
autograd path the same. Over renders DeepDream amplifies any rounding change, so whole dreams are
compared as the fast path is against the reference port (mean |diff| < 0.5 grey levels, max <= 16).
"""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from helpers.nets import inception_fast
from helpers.synthesis import dream, dream_jobs, start_images

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# every kind of node: strided conv (+ its pre-ReLU), LRN, max pools, a whole mixed block (one buffer),
# a 5x5 tower, a pool tower, a pre-ReLU inside a block, an auxiliary head (VALID average pool)
LAYERS = ["conv2d0_pre_relu", "conv2d0", "localresponsenorm0", "conv2d2", "maxpool1", "mixed3a", "mixed3b_5x5",
          "mixed4a_pool_reduce", "mixed4c_3x3_bottleneck_pre_relu", "mixed4e", "mixed5b", "head0_bottleneck",
          "head1_pool"]


@pytest.fixture(scope="module")
def model(inception_stand_in):
    return inception_stand_in


@pytest.fixture(scope="module")
def batch():
    return torch.as_tensor(start_images.noise_image(5, 130).astype(np.float32)).permute(2, 0, 1)[None]


@pytest.fixture(scope="module")
def truth64(model, batch):
    m64 = copy.deepcopy(model).double()
    return {layer: dream.Dreamer(m64, layer, fast=False, engine="autograd").tile_grads(batch.double())
            for layer in LAYERS}


def _rel(a, b):
    return float((a.double() - b.double()).norm() / b.double().norm())


@pytest.mark.parametrize("layer", LAYERS)
def test_fused_gradient_matches_float64_and_autograd(model, batch, truth64, layer):
    truth = truth64[layer]
    fused = inception_fast.FusedInception(model, layer).input_grad(batch)
    auto = dream.Dreamer(model, layer, engine="autograd").tile_grads(batch)
    assert fused.dtype == torch.float32 and fused.shape == batch.shape
    for g in (fused, auto):
        assert _rel(g, truth) < 1e-2, layer
        assert float((g.double() - truth).abs().median()) <= 1e-5 * float(truth.abs().max()), layer
    assert _rel(fused, auto) < 1e-2, layer


@pytest.mark.parametrize("layer", ["mixed3b", "mixed4c", "head1_bottleneck"])
def test_fusion_switches_change_no_mathematics(model, batch, layer):
    """One buffer instead of torch.cat computes the same numbers bit for bit; oneDNN's fused
    conv+bias+ReLU rounds like the separate ops up to the kink effect."""
    base = inception_fast.FusedInception(model, layer).input_grad(batch)
    cat = inception_fast.FusedInception(model, layer, one_buffer=False).input_grad(batch)
    assert torch.equal(base, cat)
    plain = inception_fast.FusedInception(model, layer, fuse_pointwise=False).input_grad(batch)
    assert _rel(plain, base) < 1e-2


@pytest.mark.parametrize("layer", ["conv2d2", "mixed4a"])
def test_fused_bf16_gradient_error_is_bounded(model, batch, truth64, layer):
    """bf16 end to end: a few percent to tens of percent per step on the stand-in (its He-initialised
    weights; ``benchmarks/precision.py`` measures what that does to the study's measures), direction kept."""
    truth = truth64.get(layer)
    if truth is None:
        truth = dream.Dreamer(copy.deepcopy(model).double(), layer, fast=False, engine="autograd").tile_grads(
            batch.double())
    g = inception_fast.FusedInception(model, layer, dtype=torch.bfloat16).input_grad(batch)
    assert g.dtype == torch.float32 and bool(torch.isfinite(g).all())
    err = _rel(g, truth)
    cos = float((g.double() * truth).sum() / g.double().norm() / truth.norm())
    assert 1e-4 < err < 0.35 and cos > 0.93, (err, cos)


def test_fused_dream_stays_close_to_the_autograd_dream(model):
    img = start_images.noise_image(1, 96)
    kw = dict(n_renders=2, octave_n=2, tile_size=64, seed=2)
    a, info = dream.dream(model, "mixed4b", img, engine="fused", return_info=True, **kw)
    b = dream.dream(model, "mixed4b", img, engine="autograd", **kw)
    assert info["engine"] == "fused" and info["precision"] == "fp32"
    assert np.array_equal(a, dream.dream(model, "mixed4b", img, **kw))  # auto = fused on a CPU, deterministic
    d = np.abs(a.astype(int) - b)
    assert d.mean() < 0.5 and d.max() <= 16, (d.mean(), d.max())


def test_engine_and_precision_rules(model, monkeypatch):
    assert dream.check_engine("auto", model) == "fused"
    assert dream.check_engine("auto", model, fast=False) == "autograd"
    assert dream.check_engine("auto", torch.nn.Conv2d(3, 3, 1)) == "autograd"
    with pytest.raises(ValueError, match="engine must be one of"):
        dream.check_engine("compiled", model)
    with pytest.raises(ValueError, match="needs an InceptionV1"):
        dream.check_engine("fused", model, fast=False)
    # native bf16 matrix units: AMX on a CPU; AVX512-BF16 alone is not enough
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert not dream.bf16_supported("cpu")
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert dream.bf16_supported("cpu") == bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    # auto needs the precision benchmark's pass as well as the hardware
    monkeypatch.setattr(dream, "BF16_BENCHMARK_PASSED", False)
    assert dream.check_precision("auto") == "fp32"
    monkeypatch.setattr(dream, "BF16_BENCHMARK_PASSED", True)
    assert dream.check_precision("auto") == ("bf16" if dream.bf16_supported("cpu") else "fp32")


def test_manifest_records_precision_and_engine(model, tmp_path):
    m = dream_jobs.synthesize(["mixed3a"], [0], tmp_path, model=model, size=40, n_renders=1, octave_n=2,
                              progress=False)
    assert list(m["precision"]) == ["fp32"] and list(m["engine"]) == ["fused"]


def test_fused_engine_refuses_bad_input(model):
    with pytest.raises(ValueError, match="dtype must be"):
        inception_fast.FusedInception(model, "mixed3a", dtype=torch.float16)
    with pytest.raises(KeyError, match="unknown InceptionV1 layer"):
        inception_fast.FusedInception(model, "mixed9z")
    with pytest.raises(ValueError, match="smaller than"):
        inception_fast.FusedInception(model, "head0_pool").input_grad(torch.zeros(1, 3, 40, 40))

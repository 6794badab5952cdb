"""GoogLeNet / InceptionV1 exactly as Google's 2015 DeepDream graph ("inception5h"), in PyTorch.

All 144 layers of the emotion study (:data:`LAYERS`) are nodes of one small
graph that :class:`InceptionV1` evaluates, including the two local-response-norm layers and
the six auxiliary-head layers (``head0_*`` from ``mixed4a``, ``head1_*`` from ``mixed4d``).

Input convention: NCHW float tensors with RGB values in [0, 255]; the model subtracts the
graph's mean 117.0 itself (the TF graph takes HWC RGB in [0, 255] minus 117).

``model(x, "mixed4c")`` evaluates only the ancestors of ``mixed4c`` (a truncated forward);
``model(x)`` evaluates every node and returns a dict of all 144 outputs.

Operations follow TensorFlow semantics, written out because torch has no direct
equivalent: ``SAME`` padding is computed per input size (asymmetric for stride 2:
``before = total // 2``, the extra pixel after), max pooling pads with -inf, average
pooling excludes the padding, and LRN is ``tf.nn.local_response_normalization``:
``x / (bias + alpha * sum_{|c'-c| <= depth_radius} x_c'^2) ** beta``.

Speed: by default the model uses "fast" operations with the same mathematics (closed-form LRN
gradient, 1x1 convolutions of channels-last inputs as matrix products, a sub-pixel input gradient
for the strided conv2d0 under :func:`input_grad_only`); :func:`reference_ops` switches to the
straightforward formulations (torch's ``F.local_response_norm``-style LRN, ``F.conv2d``) that
the DeepDream speed baseline uses. The two agree to float32 rounding (tested).

Weights:

* :func:`random_model`: seeded He (Kaiming) initialisation -- a labelled stand-in;
* :func:`from_file`: ``inception5h.zip`` or ``tensorflow_inception_graph.pb`` (converted
  without TensorFlow by :func:`convert_graphdef`, cached as a state dict in
  :func:`helpers.paths.cache` with its sha256 recorded), torch-lucent's ``inception5h.pth``
  (no auxiliary-head weights: ``head*_bottleneck*`` stay unavailable; LRN with the graph's constants
  :data:`GRAPH_LRN`, not those of lucent's module), or a converted file. An unreadable file raises a
  ValueError saying what the file is not and what was found instead.
"""
from __future__ import annotations

import contextlib
import difflib
import math
import zipfile
from pathlib import Path

#: libgomp busy-wait spins before an idle OpenMP thread sleeps (GOMP_SPINCOUNT), unless the user chose
OMP_SPINCOUNT = 1000


def _openmp_wait():
    """Bound how long idle OpenMP threads spin before they sleep (``GOMP_SPINCOUNT=1000``), unless the user chose.

    torch's OpenMP (GNU libgomp, in the PyPI wheels) spins 300,000 times at every barrier before it
    sleeps (libgomp's documentation, "GOMP_SPINCOUNT"). With another process on one of two cores, the
    spinning thread takes the time slice its partner needs: a 2-thread render took 2-10x as long as a
    1-thread one. Sleeping at once (``OMP_WAIT_POLICY=PASSIVE``, this module's earlier choice) fixes
    that but costs a wake-up at every barrier, and on a virtual machine a wake-up is slow: on a quiet
    2-core VM, 2 passive threads took 4.2 s per 800-px render of mixed4c, 1 thread 2.6 s, 2 spinning
    threads 1.6 s. 1000 spins (a few microseconds) cover the short waits inside an operation and
    sleep through the long ones: 1.8 s quiet (but up to 6.8 s while the VM's host was itself busy),
    3.1-3.6 s beside a busy core (passive: 2.8-2.9 s; 300,000 spins: 5.7 s); ``threads="auto"``
    (1 thread there) 2.6-3.0 s with any setting. ``benchmarks/dream.py --threading`` measures it
    (2026-12-01, 2-core Intel Xeon VM). libgomp reads the variable once,
    when torch is first imported, so it is set here, before this module imports torch, and spawned
    worker processes inherit it. Left alone when ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` is set.
    Returns the setting in effect for this process.
    """
    import os
    import sys

    if "torch" in sys.modules:
        return _OMP_POLICY if "_OMP_POLICY" in globals() else "libgomp's default (torch imported before helpers)"
    if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        os.environ["GOMP_SPINCOUNT"] = str(OMP_SPINCOUNT)
    return " ".join(f"{k}={os.environ[k]}" for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT") if k in os.environ)


_OMP_POLICY = _openmp_wait()  # noqa: E305


import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

MEAN = 117.0
FORMAT = "na-inception5h-v1"

# LRN attributes of inception5h's two LRN nodes (localresponsenorm0/1), in TF semantics
# (``x / (bias + alpha * sum_{|c'-c| <= depth_radius} x_c'^2) ** beta``). Source: the node dump of
# lucid's InceptionV1.pb (the same graph) in greentfrapp/lucent pull request #51: depth_radius 5,
# bias 2.0, alpha 9.999999747378752e-05 (float32 1e-4), beta 0.5. torch-lucent's module computes
# F.local_response_norm(size=9, alpha=1e-4, beta=0.5, k=1), the output of an MMdnn 0.2.5
# conversion bug (fixed upstream in ProGamerGov/neural-dream), not the graph's values. Converted
# graphs take the values from their own LRN attributes; lucent's .pth (the same weights) and the
# stand-in use these.
GRAPH_LRN = {"depth_radius": 5, "bias": 2.0, "alpha": 9.999999747378752e-05, "beta": 0.5}
# TF's defaults for an LRN node that omits an attribute. Source: tensorflow/core/ops/nn_ops.cc,
# REGISTER_OP("LRN") .Attr("depth_radius: int = 5") .Attr("bias: float = 1.0")
# .Attr("alpha: float = 1.0") .Attr("beta: float = 0.5").
TF_LRN_DEFAULTS = {"depth_radius": 5, "bias": 1.0, "alpha": 1.0, "beta": 0.5}

# The 144 layers of the emotion study, in the study's order (they belong with the network;
# helpers.dream re-exports them as dream.LAYERS).
_BRANCHES = ("1x1_pre_relu", "1x1", "3x3_bottleneck_pre_relu", "3x3_bottleneck", "3x3_pre_relu", "3x3",
             "5x5_bottleneck_pre_relu", "5x5_bottleneck", "5x5_pre_relu", "5x5", "pool", "pool_reduce_pre_relu",
             "pool_reduce", "")


def _mixed_layers(block: str) -> list[str]:
    return [f"{block}_{b}" if b else block for b in _BRANCHES]


LAYERS: tuple[str, ...] = tuple(
    ["conv2d0_pre_relu", "conv2d0", "maxpool0", "localresponsenorm0", "conv2d1_pre_relu", "conv2d1",
     "conv2d2_pre_relu", "conv2d2", "localresponsenorm1", "maxpool1"]
    + _mixed_layers("mixed3a") + _mixed_layers("mixed3b") + ["maxpool4"]
    + [n for b in ("mixed4a", "mixed4b", "mixed4c", "mixed4d", "mixed4e") for n in _mixed_layers(b)] + ["maxpool10"]
    + _mixed_layers("mixed5a") + _mixed_layers("mixed5b")
    + ["head0_pool", "head0_bottleneck_pre_relu", "head0_bottleneck", "head1_pool", "head1_bottleneck_pre_relu",
       "head1_bottleneck"]
)
assert len(LAYERS) == 144 and len(set(LAYERS)) == 144

_MIXED = {  # block: (in, 1x1, 3x3 bottleneck, 3x3, 5x5 bottleneck, 5x5, pool reduce)
    "mixed3a": (192, 64, 96, 128, 16, 32, 32),
    "mixed3b": (256, 128, 128, 192, 32, 96, 64),
    "mixed4a": (480, 192, 96, 204, 16, 48, 64),
    "mixed4b": (508, 160, 112, 224, 24, 64, 64),
    "mixed4c": (512, 128, 128, 256, 24, 64, 64),
    "mixed4d": (512, 112, 144, 288, 32, 64, 64),
    "mixed4e": (528, 256, 160, 320, 32, 128, 128),
    "mixed5a": (832, 256, 160, 320, 48, 128, 128),
    "mixed5b": (832, 384, 192, 384, 48, 128, 128),
}


def _build_graph():
    """(nodes, convs): ``nodes`` maps name -> (op, inputs, attrs) in topological order;
    ``convs`` maps conv node name -> (in, out, kernel, stride)."""
    nodes: dict[str, tuple] = {}
    convs: dict[str, tuple] = {}

    def conv(name, src, cin, cout, k, s=1):
        convs[f"{name}_pre_relu"] = (cin, cout, k, s)
        nodes[f"{name}_pre_relu"] = ("conv", (src,), {})
        nodes[name] = ("relu", (f"{name}_pre_relu",), {})

    def pool(name, op, src, k, s, padding):
        nodes[name] = (op, (src,), {"ksize": k, "stride": s, "padding": padding})

    conv("conv2d0", "input", 3, 64, 7, 2)
    pool("maxpool0", "maxpool", "conv2d0", 3, 2, "SAME")
    nodes["localresponsenorm0"] = ("lrn", ("maxpool0",), dict(GRAPH_LRN))
    conv("conv2d1", "localresponsenorm0", 64, 64, 1)
    conv("conv2d2", "conv2d1", 64, 192, 3)
    nodes["localresponsenorm1"] = ("lrn", ("conv2d2",), dict(GRAPH_LRN))
    pool("maxpool1", "maxpool", "localresponsenorm1", 3, 2, "SAME")
    src = "maxpool1"
    for b, (cin, c1, c3b, c3, c5b, c5, cp) in _MIXED.items():
        if b == "mixed4a":
            pool("maxpool4", "maxpool", src, 3, 2, "SAME")
            src = "maxpool4"
        if b == "mixed5a":
            pool("maxpool10", "maxpool", src, 3, 2, "SAME")
            src = "maxpool10"
        conv(f"{b}_1x1", src, cin, c1, 1)
        conv(f"{b}_3x3_bottleneck", src, cin, c3b, 1)
        conv(f"{b}_3x3", f"{b}_3x3_bottleneck", c3b, c3, 3)
        conv(f"{b}_5x5_bottleneck", src, cin, c5b, 1)
        conv(f"{b}_5x5", f"{b}_5x5_bottleneck", c5b, c5, 5)
        pool(f"{b}_pool", "maxpool", src, 3, 1, "SAME")
        conv(f"{b}_pool_reduce", f"{b}_pool", cin, cp, 1)
        towers = (f"{b}_1x1", f"{b}_3x3", f"{b}_5x5", f"{b}_pool_reduce")
        nodes[b] = ("concat", towers, {"order": list(towers)})  # order: as the graph's Concat lists them
        assert c1 + c3 + c5 + cp == (_MIXED[_next(b)][0] if _next(b) else 1024)
        src = b
    for head, base in (("head0", "mixed4a"), ("head1", "mixed4d")):
        pool(f"{head}_pool", "avgpool", base, 5, 3, "VALID")
        conv(f"{head}_bottleneck", f"{head}_pool", _MIXED[_next(base)][0], 128, 1)
    return nodes, convs


def _next(block):
    keys = list(_MIXED)
    i = keys.index(block)
    return keys[i + 1] if i + 1 < len(keys) else None


NODES, CONVS = _build_graph()
# the 1x1 convolutions of a mixed block that read the block's input (fused in fast mode)
_SIBLINGS_1X1 = {n: [f"{b}_{k}_pre_relu" for k in ("1x1", "3x3_bottleneck", "5x5_bottleneck")]
                 for b in _MIXED for n in (f"{b}_{k}_pre_relu" for k in ("1x1", "3x3_bottleneck", "5x5_bottleneck"))}
HEAD_WEIGHT_LAYERS = ("head0_bottleneck_pre_relu", "head0_bottleneck", "head1_bottleneck_pre_relu", "head1_bottleneck")


# --- TF-semantics operations ---------------------------------------------------------------

def same_pads(n: int, k: int, s: int) -> tuple[int, int]:
    """TF ``SAME`` padding (before, after) of one axis of length ``n``, kernel ``k``, stride ``s``."""
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def conv2d_same(x, weight, bias=None, stride: int = 1):
    """``tf.nn.conv2d(padding="SAME")`` + bias on NCHW ``x``; ``weight`` is OIHW."""
    k_h, k_w = weight.shape[-2:]
    ph, pw = same_pads(x.shape[-2], k_h, stride), same_pads(x.shape[-1], k_w, stride)
    if ph[0] == ph[1] and pw[0] == pw[1]:
        return F.conv2d(x, weight, bias, stride=stride, padding=(ph[0], pw[0]))
    return F.conv2d(F.pad(x, (pw[0], pw[1], ph[0], ph[1])), weight, bias, stride=stride)


def max_pool(x, ksize: int, stride: int, padding: str = "SAME"):
    """``tf.nn.max_pool`` on NCHW ``x`` (``SAME`` pads with -inf, asymmetric like TF).

    Padding only after (TF's extra pixel for stride 2 on an even side) is done with
    ``ceil_mode`` (the clipped last window is the same as a -inf pad) instead of a padded copy.
    """
    if padding == "VALID":
        return F.max_pool2d(x, ksize, stride)
    ph, pw = same_pads(x.shape[-2], ksize, stride), same_pads(x.shape[-1], ksize, stride)
    if ph[0] == ph[1] and pw[0] == pw[1] and 2 * ph[0] <= ksize and 2 * pw[0] <= ksize:
        return F.max_pool2d(x, ksize, stride, padding=(ph[0], pw[0]))
    if ph[0] == pw[0] == 0 and ph[1] < ksize and pw[1] < ksize:
        out = F.max_pool2d(x, ksize, stride, ceil_mode=True)
        if out.shape[-2:] == (-(-x.shape[-2] // stride), -(-x.shape[-1] // stride)):
            return out
    return F.max_pool2d(F.pad(x, (pw[0], pw[1], ph[0], ph[1]), value=float("-inf")), ksize, stride)


def avg_pool(x, ksize: int, stride: int, padding: str = "VALID"):
    """``tf.nn.avg_pool`` on NCHW ``x``; with ``SAME`` the padding is excluded from the mean."""
    if padding == "VALID":
        if min(x.shape[-2:]) < ksize:
            raise ValueError(f"avg_pool VALID: input {tuple(x.shape[-2:])} is smaller than the {ksize}x{ksize} window "
                             "(head0_*/head1_* layers need images of at least 65 px per side, octaves included)")
        return F.avg_pool2d(x, ksize, stride)
    ph, pw = same_pads(x.shape[-2], ksize, stride), same_pads(x.shape[-1], ksize, stride)
    pad = (pw[0], pw[1], ph[0], ph[1])
    total = F.avg_pool2d(F.pad(x, pad), ksize, stride, divisor_override=1)
    ones = torch.ones((1, 1) + tuple(x.shape[-2:]), dtype=x.dtype, device=x.device)
    count = F.avg_pool2d(F.pad(ones, pad), ksize, stride, divisor_override=1)
    return total / count


def lrn(x, depth_radius: int = 5, bias: float = 1.0, alpha: float = 1.0, beta: float = 0.5, *, impl: str = "fast"):
    """``tf.nn.local_response_normalization`` over the channels of NCHW ``x``.

    ``impl="fast"`` (default): the channel-window sum is one matrix product with a 0/1 band
    matrix, and the gradient is TF's LRNGrad formula in closed form (:class:`_LRN`):
    ``dx_j = g_j D_j - 2 alpha beta x_j sum_{c: |c-j| <= r} g_c x_c D_c / (bias + alpha S_c)``
    with ``D = (bias + alpha S) ** -beta``. About 8x faster than ``impl="pool"``, the formulation
    of ``torch.nn.functional.local_response_norm`` and torch-lucent (a 3-D average pool over a
    channel window, differentiated by autograd), which agrees to float32 rounding (tested).
    """
    if _autocast_on(x):
        # under (bf16) autocast the window sum would be rounded to 8 bits before ``bias + alpha * S``,
        # losing alpha * S next to bias: LRN always computes in float32 (the cast is differentiable)
        with torch.autocast(x.device.type, enabled=False):
            return lrn(x.float(), depth_radius, bias, alpha, beta, impl=impl)
    if impl == "pool":
        sq = (x * x).unsqueeze(1)  # N,1,C,H,W
        win = 2 * int(depth_radius) + 1
        sqr_sum = F.avg_pool3d(sq, (win, 1, 1), stride=1, padding=(int(depth_radius), 0, 0),
                               divisor_override=1).squeeze(1)
        return x / (bias + alpha * sqr_sum).pow(beta)
    if impl != "fast":
        raise ValueError(f"lrn impl={impl!r}: expected 'fast' or 'pool'")
    return _LRN.apply(x, int(depth_radius), float(bias), float(alpha), float(beta))


def _autocast_on(t) -> bool:
    """Whether autocast is active for ``t``'s device type (e.g. ``precision="bf16"`` in :mod:`helpers.dream`)."""
    return torch.is_autocast_enabled(t.device.type)


def _channels_last(t) -> bool:
    return t.ndim == 4 and t.is_contiguous(memory_format=torch.channels_last) and not t.is_contiguous()


def conv1x1_matmul(x, weight, bias=None):
    """A 1x1, stride-1 convolution of a channels-last NCHW ``x`` as one ``addmm`` on its (N*H*W, C)
    view; returns a channels-last tensor (same values as ``F.conv2d`` up to float32 rounding)."""
    n, c, h, w = x.shape
    out_c = weight.shape[0]
    v = x.permute(0, 2, 3, 1).reshape(n * h * w, c)
    wt = weight.reshape(out_c, c).t()
    y = torch.addmm(bias, v, wt) if bias is not None else v @ wt
    return y.view(n, h, w, out_c).permute(0, 3, 1, 2)


def _subpixel_weight(weight, stride: int):
    """Rearrange an OIHW stride-``s`` kernel into the (I*s*s, O, K, K) kernel of the equivalent
    stride-1 convolution whose ``pixel_shuffle`` is the transposed convolution (one phase per
    output channel group; taps beyond the kernel are zero)."""
    o, c, kh, kw = weight.shape
    k = -(-max(kh, kw) // stride)
    out = weight.new_zeros(c, stride, stride, o, k, k)
    for p in range(stride):
        for q in range(stride):
            for a in range(k):
                i = stride * (k - 1 - a) + p
                for b in range(k):
                    j = stride * (k - 1 - b) + q
                    if i < kh and j < kw:
                        out[:, p, q, :, a, b] = weight[:, :, i, j].t()
    return out.reshape(c * stride * stride, o, k, k), k


class _StridedConvInputGrad(torch.autograd.Function):
    """``F.conv2d(x, weight, bias, stride)`` (no padding) whose backward gives the input gradient
    only, as a stride-1 convolution plus ``pixel_shuffle`` (sub-pixel form of the transposed
    convolution). For conv2d0 (7x7, stride 2, 64 -> 3 channels) it is 2-3x faster than torch's
    backward, whose 3-channel transposed convolution runs far below the CPU's speed."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride):
        ctx.save_for_backward(weight)
        ctx.stride, ctx.in_hw, ctx.in_dtype = stride, tuple(x.shape[-2:]), x.dtype
        return F.conv2d(x, weight, bias, stride=stride)  # under autocast: in its lower precision

    @staticmethod
    def backward(ctx, g):
        # the backward may run outside the forward's autocast (helpers.dream leaves autocast before
        # autograd.grad): the kernel follows the incoming gradient's dtype, the result the input's
        (weight,) = ctx.saved_tensors
        wk, k = _subpixel_weight(weight.to(g.dtype), ctx.stride)
        dx = F.pixel_shuffle(F.conv2d(g, wk, padding=k - 1), ctx.stride)
        return dx[..., :ctx.in_hw[0], :ctx.in_hw[1]].to(ctx.in_dtype), None, None, None


def conv2d_same_input_grad(x, weight, bias=None, stride: int = 1):
    """:func:`conv2d_same` for when only the input needs a gradient (weights are used detached):
    strided convolutions differentiate through :class:`_StridedConvInputGrad`."""
    if stride == 1:
        return conv2d_same(x, weight.detach(), None if bias is None else bias.detach(), 1)
    k_h, k_w = weight.shape[-2:]
    ph, pw = same_pads(x.shape[-2], k_h, stride), same_pads(x.shape[-1], k_w, stride)
    if any((ph[0], ph[1], pw[0], pw[1])):
        x = F.pad(x, (pw[0], pw[1], ph[0], ph[1]))
    return _StridedConvInputGrad.apply(x, weight.detach(), None if bias is None else bias.detach(), stride)


def conv1x1_matmul_fused(x, convs):
    """Several 1x1, stride-1 convolutions of the same channels-last ``x`` as one ``addmm`` (their
    weights stacked): the input is read once and, in the backward, its gradient is one product
    instead of a sum of several. Returns one (strided) NCHW view per convolution."""
    n, c, h, w = x.shape
    sizes = [m.weight.shape[0] for m in convs]
    wt = torch.cat([m.weight.reshape(m.weight.shape[0], c) for m in convs]).t()
    bias = torch.cat([m.bias for m in convs])
    y = torch.addmm(bias, x.permute(0, 2, 3, 1).reshape(n * h * w, c), wt)
    return [part.view(n, h, w, k).permute(0, 3, 1, 2) for part, k in zip(y.split(sizes, dim=1), sizes)]


def _channel_window_sum(t, band, block: int = 32):
    """``sum_{c'} band[c, c'] t[:, c']`` by matrix products, in ``t``'s memory format.

    Channels-last: per block of ``block`` output channels only the input channels within the
    band's reach enter the product (the band is zero elsewhere, so the sums are the same).
    """
    n, c, h, w = t.shape
    if _channels_last(t):
        v = t.permute(0, 2, 3, 1).reshape(n * h * w, c)
        r = int((band[0] != 0).sum()) - 1  # band radius
        if c <= 2 * block:
            out = v @ band
        else:
            out = torch.cat([v[:, max(0, c0 - r):min(c, c0 + block + r)] @ band[max(0, c0 - r):min(c, c0 + block + r),
                                                                               c0:c0 + block]
                             for c0 in range(0, c, block)], dim=1)
        return out.view(n, h, w, c).permute(0, 3, 1, 2)
    return (band @ t.reshape(n, c, h * w)).reshape(n, c, h, w)


class _LRN(torch.autograd.Function):
    """TF LRN with its analytic gradient (see :func:`lrn`)."""

    @staticmethod
    def forward(ctx, x, r, bias, alpha, beta):
        i = torch.arange(x.shape[1], device=x.device)
        band = ((i[:, None] - i[None, :]).abs() <= r).to(x.dtype)
        base = _channel_window_sum(x * x, band).mul_(alpha).add_(bias)
        d = base.rsqrt() if beta == 0.5 else base.pow(-beta)
        ctx.save_for_backward(x, d, base, band)
        ctx.k = 2.0 * alpha * beta
        return x * d

    @staticmethod
    def backward(ctx, g):
        x, d, base, band = ctx.saved_tensors
        s = _channel_window_sum((g * x).mul_(d).div_(base), band)
        return (g * d).sub_(s.mul_(x), alpha=ctx.k), None, None, None, None


# --- the model ---------------------------------------------------------------------------------

class LayerUnavailable(KeyError):
    """A layer exists in InceptionV1 but the loaded weights file has no weights for it."""


class InceptionV1(nn.Module):
    """InceptionV1 / GoogLeNet of the inception5h graph; every one of the 144 study layers is a node.

    Args:
        config: per-node settings overriding the defaults (LRN ``depth_radius``/``bias``/
            ``alpha``/``beta``; pooling ``ksize``/``stride``/``padding``), e.g. from a graph.
        unavailable: layers whose weights are missing (asking for them raises
            :class:`LayerUnavailable`).

    Call ``model(x, layer)`` with ``x`` a float tensor (N, 3, H, W), RGB in [0, 255] (the model
    subtracts 117), to get that layer's NCHW output, computing only what it needs;
    ``model(x, [a, b])`` gives a dict; ``model(x)`` a dict of all 144 layers (full depth; the
    auxiliary heads are left out when the input is too small for their 5x5 VALID pooling).
    """

    def __init__(self, *, config: dict | None = None, unavailable=()):
        super().__init__()
        for name, (cin, cout, k, s) in CONVS.items():
            self.add_module(f"{name}_conv", nn.Conv2d(cin, cout, k, stride=s, bias=True))
        self.config = {n: dict(a) for n, (op, _, a) in NODES.items() if a}
        for name, attrs in (config or {}).items():
            if name not in self.config:
                raise ValueError(f"config for unknown node {name!r}")
            self.config[name].update(attrs)
        self.unavailable = set(unavailable)
        self._ancestor_cache: dict[tuple, list] = {}
        self.ops = "fast"  # "fast" or "reference" (see reference_ops())
        self.input_grad_only = False  # set by input_grad_only(): weights used detached

    @property
    def layer_names(self) -> tuple[str, ...]:
        """All 144 layer names in graph order."""
        return tuple(NODES)

    def check_layer(self, name: str) -> str:
        """Return ``name`` if it is a usable layer; else raise with the closest matches."""
        if name not in NODES:
            close = difflib.get_close_matches(str(name), list(NODES), n=5, cutoff=0.5)
            raise KeyError(f"unknown InceptionV1 layer {name!r}; closest matches: {close or 'none'} "
                           f"(see helpers.inception.LAYERS for all 144)")
        needed = set(self._plan((name,)))
        missing = sorted(needed & self.unavailable)
        if missing:
            raise LayerUnavailable(f"layer {name!r} needs {missing}, whose weights are not in the loaded file "
                                   "(torch-lucent's inception5h.pth has no auxiliary-head weights; load the original "
                                   "inception5h.zip / tensorflow_inception_graph.pb for head0_*/head1_* layers)")
        return name

    def _plan(self, targets: tuple) -> list:
        """Nodes needed for ``targets``, in topological order (cached)."""
        if targets not in self._ancestor_cache:
            need = set().union(*(_ancestors(t) for t in targets))
            self._ancestor_cache[targets] = [n for n in NODES if n in need]
        return self._ancestor_cache[targets]

    def _node(self, name, vals):
        op, inputs, _ = NODES[name]
        args = [vals[i] for i in inputs]
        cfg = self.config.get(name, {})
        if op == "conv":
            m = getattr(self, f"{name}_conv")
            if self.ops == "fast" and m.kernel_size == (1, 1) and m.stride == (1, 1) and _channels_last(args[0]):
                return conv1x1_matmul(args[0], m.weight, m.bias)
            if self.ops == "fast" and self.input_grad_only and m.stride[0] > 1:
                return conv2d_same_input_grad(args[0], m.weight, m.bias, m.stride[0])
            return conv2d_same(args[0], m.weight, m.bias, m.stride[0])
        if op == "relu":
            return F.relu(args[0])
        if op == "maxpool":
            return max_pool(args[0], cfg["ksize"], cfg["stride"], cfg["padding"])
        if op == "avgpool":
            return avg_pool(args[0], cfg["ksize"], cfg["stride"], cfg["padding"])
        if op == "lrn":
            return lrn(args[0], cfg["depth_radius"], cfg["bias"], cfg["alpha"], cfg["beta"],
                       impl="fast" if self.ops == "fast" else "pool")
        if op == "concat":
            order = cfg.get("order", inputs)
            return torch.cat(args if list(order) == list(inputs) else [vals[i] for i in order], dim=1)
        raise AssertionError(op)

    def forward(self, x, layers=None):
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"InceptionV1 expects (N, 3, H, W) RGB in [0, 255], got shape {tuple(x.shape)}")
        single = isinstance(layers, str)
        targets = tuple(NODES) if layers is None else ((layers,) if single else tuple(layers))
        if layers is None:
            targets = tuple(n for n in NODES if not (set(self._plan((n,))) & self.unavailable))
        else:
            for t in targets:
                self.check_layer(t)
        vals = {"input": x - MEAN}
        plan = self._plan(targets)
        for name in plan:
            if name in vals:
                continue  # computed with its siblings (fused 1x1 convolutions)
            if layers is None and any(i not in vals for i in NODES[name][1]):
                continue  # full forward on a tile too small for a head: skip that head
            if self.ops == "fast" and name in _SIBLINGS_1X1 and _channels_last(vals[NODES[name][1][0]]):
                group = [n for n in _SIBLINGS_1X1[name] if n in plan]
                if len(group) > 1:
                    outs = conv1x1_matmul_fused(vals[NODES[name][1][0]], [getattr(self, f"{n}_conv") for n in group])
                    vals.update(zip(group, outs))
                    continue
            try:
                vals[name] = self._node(name, vals)
            except ValueError:
                if layers is not None or NODES[name][0] != "avgpool":
                    raise
        return vals[targets[0]] if single else {t: vals[t] for t in targets if t in vals}


@contextlib.contextmanager
def _setting(model, attr: str, value):
    """Set ``model.<attr>`` for the block and restore it after; modules without it pass through."""
    if not hasattr(model, attr):
        yield model
        return
    old = getattr(model, attr)
    setattr(model, attr, value)
    try:
        yield model
    finally:
        setattr(model, attr, old)


def reference_ops(model, on: bool = True):
    """Context manager: within the block, ``model`` computes as the straightforward port that the
    speed baseline uses (``on=False``: the fast operations, the default):

    * ``"reference"``: LRN as ``torch.nn.functional.local_response_norm`` and torch-lucent compute
      it (:func:`lrn` ``impl="pool"``), every convolution by ``F.conv2d``;
    * ``"fast"``: the closed-form LRN, and 1x1 convolutions of channels-last inputs as matrix
      products (:func:`conv1x1_matmul`, :func:`conv1x1_matmul_fused`).

    Both are the same mathematics; float32 rounding differs. Other modules pass through unchanged.
    """
    return _setting(model, "ops", "reference" if on else "fast")


def input_grad_only(model):
    """Context manager: within the block only gradients with respect to the input are asked of
    ``model`` (as in DeepDream): with the fast operations, strided convolutions then use a faster
    input-gradient (:class:`_StridedConvInputGrad`) and give no weight gradients."""
    return _setting(model, "input_grad_only", True)


# --- weights ------------------------------------------------------------------------------------

def random_model(*, seed: int = 0) -> InceptionV1:
    """InceptionV1 with seeded He-normal conv weights and small random biases (a stand-in).

    Activations stay finite and non-constant at every layer (He init keeps the scale through
    the ReLUs); LRN uses the graph's :data:`GRAPH_LRN`. Same seed -> same weights.
    """
    model = InceptionV1()
    g = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        for name in CONVS:
            m = getattr(model, f"{name}_conv")
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu", generator=g)
            m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.05)
    return model.eval()


def _model_from_state(state: dict, *, config=None, unavailable=()) -> InceptionV1:
    model = InceptionV1(config=config, unavailable=unavailable)
    expected = {k for k in model.state_dict() if not any(k.startswith(f"{u}_conv.") for u in unavailable)}
    missing = sorted(expected - set(state))
    if missing:
        raise RuntimeError(f"weights are missing {len(missing)} tensors, e.g. {missing[:5]}")
    own = model.state_dict()
    for k in expected:
        if tuple(state[k].shape) != tuple(own[k].shape):
            raise RuntimeError(f"weight {k}: shape {tuple(state[k].shape)}, expected {tuple(own[k].shape)}")
    model.load_state_dict({k: state[k] for k in expected}, strict=False)
    if unavailable:  # make unusable weights obviously so
        with torch.no_grad():
            for u in unavailable:
                if u in CONVS:
                    getattr(model, f"{u}_conv").weight.fill_(float("nan"))
    return model.eval()


def _tensor(node, nodes):
    """The ndarray value of a Const ``node`` (following Identity nodes)."""
    from tensorboard.util import tensor_util

    seen = 0
    while node.op == "Identity" and seen < 16:
        node = nodes[_clean(node.input[0])]
        seen += 1
    if node.op != "Const":
        raise ValueError(f"graph node {node.name!r} is a {node.op}, expected a Const weight")
    return tensor_util.make_ndarray(node.attr["value"].tensor)


def _clean(name: str) -> str:
    return name.split(":")[0].lstrip("^")


def convert_graphdef(graph) -> dict:
    """Convert a TF1 GraphDef of inception5h to this module's weights, without TensorFlow.

    Args:
        graph: serialized GraphDef bytes or a ``GraphDef`` message
            (``tensorboard.compat.proto.graph_pb2``).

    Returns:
        dict with ``format``, ``state_dict`` (torch tensors, conv weights OIHW), ``config``
        (LRN and pooling settings read from the graph's node attributes), ``unavailable``
        (layers absent from the graph), ``unused`` (names of Const nodes not needed by the 144
        layers, e.g. the classifier weights) and ``extra`` (those tensors, kept verbatim).

    Raises:
        ValueError: a node has an unexpected op, shape, stride or padding (names the node).
    """
    import numpy as np

    if isinstance(graph, (bytes, bytearray)):
        graph = _parse_graphdef(graph, "graph bytes")
    nodes = {n.name: n for n in graph.node}
    state, config, unavailable, used = {}, {}, set(), set()
    for name, (cin, cout, k, s) in CONVS.items():
        conv, badd = nodes.get(f"{name}/conv"), nodes.get(name)
        if conv is None or badd is None:
            if name.startswith("head"):
                unavailable.update(n for n in NODES if n.startswith(name.split("_")[0] + "_bottleneck"))
                continue
            raise ValueError(f"graph has no Conv2D node {name + '/conv'!r} / BiasAdd {name!r}")
        if conv.op != "Conv2D" or badd.op != "BiasAdd":
            raise ValueError(f"graph node {conv.name!r} is {conv.op} / {badd.name!r} is {badd.op}; expected Conv2D / BiasAdd")
        strides = list(conv.attr["strides"].list.i)
        padding = conv.attr["padding"].s.decode()
        fmt = conv.attr["data_format"].s.decode() if "data_format" in conv.attr else "NHWC"
        # VALID on a 1x1 stride-1 kernel pads nothing either: the same convolution as SAME
        if strides[1:3] != [s, s] or fmt != "NHWC" or not (padding == "SAME" or (padding == "VALID" and k == 1)):
            raise ValueError(f"{conv.name}: strides {strides} padding {padding} data_format {fmt}; expected stride {s}, "
                             f"SAME{' (or VALID)' if k == 1 else ''}, NHWC")
        w_node, b_node = nodes[_clean(conv.input[1])], nodes[_clean(badd.input[1])]
        w, b = _tensor(w_node, nodes), _tensor(b_node, nodes)
        if w.shape != (k, k, cin, cout) or b.shape != (cout,):
            raise ValueError(f"{w_node.name}: shape {w.shape} / {b_node.name}: {b.shape}; expected {(k, k, cin, cout)} / {(cout,)}")
        state[f"{name}_conv.weight"] = torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1)).astype(np.float32))
        state[f"{name}_conv.bias"] = torch.from_numpy(b.astype(np.float32).copy())
        used.update({w_node.name, b_node.name})
    for name, (op, _, attrs) in NODES.items():
        if op not in ("maxpool", "avgpool", "lrn"):
            continue
        node = nodes.get(name)
        if node is None:
            if name.startswith("head"):
                unavailable.update(n for n in NODES if n.startswith(name.split("_")[0]))
                continue
            raise ValueError(f"graph has no node {name!r}")
        want = {"maxpool": "MaxPool", "avgpool": "AvgPool", "lrn": "LRN"}[op]
        if node.op != want:
            raise ValueError(f"graph node {name!r} is {node.op}, expected {want}")
        if op == "lrn":  # an attribute the node omits takes TF's op default (never protobuf's 0)
            a = node.attr
            config[name] = {k: (type(d)(a[k].i if isinstance(d, int) else a[k].f) if k in a else d)
                            for k, d in TF_LRN_DEFAULTS.items()}
        else:
            ks, st = list(node.attr["ksize"].list.i), list(node.attr["strides"].list.i)
            if ks[1] != ks[2] or st[1] != st[2]:
                raise ValueError(f"{name}: non-square ksize {ks} / strides {st} not supported")
            config[name] = {"ksize": int(ks[1]), "stride": int(st[1]), "padding": node.attr["padding"].s.decode()}
    for name, (op, towers, _) in NODES.items():
        if op == "concat":
            config[name] = {"order": _concat_order(nodes, name, towers)}
            used.add(f"{name}/concat_dim")
    unused = sorted(n.name for n in graph.node if n.op == "Const" and n.name not in used)
    extra = {}
    for n in unused:
        try:
            extra[n] = torch.from_numpy(np.array(_tensor(nodes[n], nodes)))
        except (ValueError, TypeError):
            pass  # non-numeric consts (strings) are not weights
    return {"format": FORMAT, "state_dict": state, "config": config, "unavailable": sorted(unavailable),
            "unused": unused, "extra": extra}


def _concat_order(nodes, name, towers) -> list:
    """The towers of mixed block ``name`` in the order its graph node concatenates them.

    inception5h uses the old-style ``Concat`` (inputs: the ``<block>/concat_dim`` axis Const first,
    then the towers; lucid's ``_populate_inception_bottlenecks`` reads ``op.inputs[1:]`` likewise);
    ``ConcatV2`` has the axis last. The axis must be 3 (channels of NHWC).
    """
    node = nodes.get(name)
    if node is None:
        raise ValueError(f"graph has no node {name!r}")
    inputs = [_clean(i) for i in node.input if not i.startswith("^")]
    if node.op == "Concat":
        axis_name, parts = inputs[0], inputs[1:]
    elif node.op == "ConcatV2":
        axis_name, parts = inputs[-1], inputs[:-1]
    else:
        raise ValueError(f"graph node {name!r} is {node.op}, expected Concat (or ConcatV2)")
    axis = _tensor(nodes[axis_name], nodes) if axis_name in nodes else None
    if axis is None or int(axis) not in (3, -1):
        raise ValueError(f"graph node {name!r}: concat axis {axis_name!r} = {axis}, expected 3 (channels)")
    if sorted(parts) != sorted(towers):
        raise ValueError(f"graph node {name!r} concatenates {parts}, expected the towers {sorted(towers)}")
    return parts


# Google's inception5h.zip holds tensorflow_inception_graph.pb, imagenet_comp_graph_label_strings.txt
# and LICENSE (see helpers.rehearsal.INCEPTION5H_ZIP_MEMBERS for the sources).
GRAPH_MEMBER = "tensorflow_inception_graph.pb"
REHEARSAL_MARK = "rehearsal/stand_in"  # string Const of helpers.rehearsal's files (not in Google's graph)


def holds_stand_in(model) -> bool:
    """True when ``model`` was loaded from a rehearsal file (real layout, seeded stand-in weights)."""
    return bool(getattr(model, "rehearsal_stand_in", False))


def _found(data: bytes) -> str:
    """A short description of what a file's first bytes look like (for error messages)."""
    head = data[:16]
    kinds = [(b"PK\x03\x04", "a zip archive"), (b"\x80", "a pickle"), (b"\x89PNG", "a PNG image"),
             (b"<", "text/HTML"), (b"\x1f\x8b", "a gzip file")]
    kind = next((k for magic, k in kinds if head.startswith(magic)), "unrecognised bytes")
    return f"{kind}, first bytes {head!r}"


def _parse_graphdef(data: bytes, where: str):
    """``data`` as a GraphDef, or ValueError("<where>: not a TensorFlow GraphDef: ...")."""
    from google.protobuf.message import DecodeError
    from tensorboard.compat.proto import graph_pb2

    msg = graph_pb2.GraphDef()
    try:
        msg.ParseFromString(bytes(data))
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise ValueError(f"{where}: not a TensorFlow GraphDef: protobuf parsing failed ({exc}); "
                         f"found {len(data):,} bytes of {_found(data)}") from None
    if not any(n.op == "Conv2D" for n in msg.node):
        ops = sorted({n.op for n in msg.node})
        raise ValueError(f"{where}: not a TensorFlow GraphDef of inception5h: {len(msg.node)} nodes, no Conv2D "
                         f"(ops found: {ops[:8] or 'none'}); found {len(data):,} bytes of {_found(data)}")
    return msg


def _read_graph_bytes(path: Path) -> tuple[bytes, str]:
    """(GraphDef bytes, description) from a .pb file or an inception5h zip."""
    head = path.open("rb").read(4)
    if path.suffix != ".zip" and head != b"PK\x03\x04":
        return path.read_bytes(), str(path)
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            pbs = [n for n in names if Path(n).name == GRAPH_MEMBER] or [n for n in names if n.endswith(".pb")]
            if not pbs:
                raise ValueError(f"{path}: not an inception5h zip: no {GRAPH_MEMBER} inside; members found: "
                                 f"{names[:8]}{' ...' if len(names) > 8 else ''}")
            return z.read(pbs[0]), f"{path}:{pbs[0]}"
    except (zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"{path}: not an inception5h zip: {exc}; found {path.stat().st_size:,} bytes of "
                         f"{_found(path.read_bytes()[:16])}") from None


def converted_path(source_sha256: str) -> Path:
    """Cache file of the state dict converted from the graph with this sha256."""
    from helpers import paths

    return paths.cache() / f"inception5h-converted-{source_sha256[:16]}.pt"


def _is_torch_zip(path: Path) -> bool:
    """True for torch.save's zip format (an ``<archive>/data.pkl`` member)."""
    try:
        with zipfile.ZipFile(path) as z:
            return any(n.endswith("/data.pkl") for n in z.namelist())
    except (zipfile.BadZipFile, OSError, EOFError):
        return False


def _torch_load(path: Path):
    """``torch.load(weights_only=True)``, or ValueError naming what the file holds instead.

    Torch's own message on failure suggests ``weights_only=False`` (unsafe: it executes the
    file's code), so only its first line, without that advice, is quoted.
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - re-raised with the file name and what was found
        first = next((ln.strip() for ln in str(exc).splitlines() if ln.strip() and "weights_only" not in ln), "")
        raise ValueError(f"{path}: not a lucent state dict (torch-lucent's inception5h.pth) nor a converted "
                         f"inception5h file: torch.load(weights_only=True) failed ({type(exc).__name__}: "
                         f"{first[:200]}); found {path.stat().st_size:,} bytes of "
                         f"{_found(path.open('rb').read(16))}") from None


def from_file(path) -> InceptionV1:
    """Load InceptionV1 weights from ``inception5h.zip``, the ``.pb``, lucent's ``.pth`` or a converted file.

    A graph is converted once and cached (:func:`converted_path`, sha256 recorded beside it by
    :func:`helpers.download.verify` and checked on later loads).

    Raises:
        FileNotFoundError: no such file.
        ValueError: unreadable or unrecognised file: ``"<file>: not a TensorFlow GraphDef: ..."``,
            ``"<file>: not an inception5h zip: ..."`` or ``"<file>: not a lucent state dict ..."``,
            with what was found instead (never a raw protobuf/pickle traceback).
    """
    from helpers import download

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"InceptionV1 weights file {path} does not exist")
    is_graph = path.suffix in (".zip", ".pb") and not _is_torch_zip(path)
    if is_graph:
        src_sha = download.sha256sum(path)
        cached = converted_path(src_sha)
        if cached.exists():
            download.verify(cached)
            return from_file(cached)
        raw, where = _read_graph_bytes(path)
        data = convert_graphdef(_parse_graphdef(raw, where))
        data["source_sha256"], data["source_file"] = src_sha, path.name
        from helpers import io

        with io.atomic_path(cached) as tmp:
            torch.save(data, tmp)
        download.verify(cached)  # records the converted file's sha256
        model = _model_from_state(data["state_dict"], config=data["config"], unavailable=data["unavailable"])
        model.rehearsal_stand_in = REHEARSAL_MARK in data["unused"]
        return model
    data = _torch_load(path)
    if isinstance(data, dict) and data.get("format") == FORMAT:
        model = _model_from_state(data["state_dict"], config=data["config"], unavailable=data["unavailable"])
        model.rehearsal_stand_in = REHEARSAL_MARK in data.get("unused", ())
        return model
    if isinstance(data, dict) and "conv2d0_pre_relu_conv.weight" in data:  # torch-lucent / ProGamerGov port
        missing = {n for n in CONVS if f"{n}_conv.weight" not in data}
        unavailable = {n for n in NODES if any(m in _ancestors(n) for m in missing)}
        # the same graph's weights: its LRN attributes, not lucent's MMdnn-converted constants
        config = {"localresponsenorm0": dict(GRAPH_LRN), "localresponsenorm1": dict(GRAPH_LRN)}
        try:
            return _model_from_state(data, config=config, unavailable=unavailable)
        except RuntimeError as exc:
            raise ValueError(f"{path}: not a lucent state dict of inception5h: {exc}") from None
    found = (f"a dict of {len(data)} keys such as {sorted(map(str, data))[:5]}" if isinstance(data, dict)
             else f"a {type(data).__name__}")
    raise ValueError(f"{path}: not a lucent state dict (no 'conv2d0_pre_relu_conv.weight' key) nor a converted "
                     f"inception5h file (no '{FORMAT}' format tag): found {found}")


def _ancestors(name: str) -> set:
    need, stack = set(), [name]
    while stack:
        n = stack.pop()
        if n in need or n == "input":
            continue
        need.add(n)
        stack.extend(NODES[n][1])
    return need


def flops(layer: str, size=224, *, kernels=None) -> float:
    """Multiply-accumulates of the convolutions of the truncated forward to ``layer``.

    Args:
        layer: layer name.
        size: image side, or ``(height, width)``.
        kernels: count only convolutions with these kernel sizes (e.g. ``(1,)``); all if None.

    Pooling, LRN and ReLU are not counted (a few per cent of the work).
    """
    h0, w0 = size if isinstance(size, (tuple, list)) else (size, size)
    hw = {"input": (int(h0), int(w0))}
    total = 0.0
    need = _ancestors(layer)
    for n in [m for m in NODES if m in need]:
        op, inputs, a = NODES[n]
        h, w = hw[inputs[0]]
        if op == "conv":
            cin, cout, k, s = CONVS[n]
            h, w = math.ceil(h / s), math.ceil(w / s)
            if kernels is None or k in kernels:
                total += h * w * cin * cout * k * k
        elif op in ("maxpool", "avgpool"):
            if a["padding"] == "SAME":
                h, w = math.ceil(h / a["stride"]), math.ceil(w / a["stride"])
            else:
                h, w = (h - a["ksize"]) // a["stride"] + 1, (w - a["ksize"]) // a["stride"] + 1
        hw[n] = (h, w)
    return total

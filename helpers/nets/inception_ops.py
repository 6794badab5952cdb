"""The operations of :class:`helpers.nets.inception.InceptionV1` with TensorFlow's semantics, in PyTorch.

TensorFlow's ``SAME`` padding (asymmetric for stride 2), max pooling that pads with -inf, average pooling
that excludes the padding, and ``tf.nn.local_response_normalization``; plus the fast forms DeepDream uses
(closed-form LRN gradient, 1x1 convolutions of channels-last inputs as matrix products, a sub-pixel input
gradient for strided convolutions), which agree with the straightforward ones to float32 rounding (tested).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def same_pads(n: int, k: int, s: int) -> tuple[int, int]:
    """TF ``SAME`` padding (before, after) of one axis of length ``n``, kernel ``k``, stride ``s``.

    Used in: notebook 01 (p1-dream-contact-sheet.png, p1-dream-octaves.png) through
        :func:`helpers.nets.models.load` (network ``"inception5h"``).
    """
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def conv2d_same(x, weight, bias=None, stride: int = 1):
    """``tf.nn.conv2d(padding="SAME")`` + bias on NCHW ``x``; ``weight`` is OIHW.

    Used in: notebook 01 (p1-dream-contact-sheet.png, p1-dream-octaves.png) through
        :func:`helpers.nets.models.load` (network ``"inception5h"``).
    """
    k_h, k_w = weight.shape[-2:]
    ph, pw = same_pads(x.shape[-2], k_h, stride), same_pads(x.shape[-1], k_w, stride)
    if ph[0] == ph[1] and pw[0] == pw[1]:
        return F.conv2d(x, weight, bias, stride=stride, padding=(ph[0], pw[0]))
    return F.conv2d(F.pad(x, (pw[0], pw[1], ph[0], ph[1])), weight, bias, stride=stride)


def max_pool(x, ksize: int, stride: int, padding: str = "SAME"):
    """``tf.nn.max_pool`` on NCHW ``x`` (``SAME`` pads with -inf, asymmetric like TF).

    Padding only after (TF's extra pixel for stride 2 on an even side) is done with
    ``ceil_mode`` (the clipped last window is the same as a -inf pad) instead of a padded copy.

    Used in: notebook 01 (p1-dream-contact-sheet.png, p1-dream-octaves.png) through
        :func:`helpers.nets.models.load` (network ``"inception5h"``).
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
    """``tf.nn.avg_pool`` on NCHW ``x``; with ``SAME`` the padding is excluded from the mean.

    Used in: notebook 01 (p1-dream-contact-sheet.png, p1-dream-octaves.png) through
        :func:`helpers.nets.models.load` (network ``"inception5h"``).
    """
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

    Used in: notebook 01 (p1-dream-contact-sheet.png, p1-dream-octaves.png) through
        :func:`helpers.nets.models.load` (network ``"inception5h"``).
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
    """Whether autocast is active for ``t``'s device type (e.g. ``precision="bf16"`` in :mod:`helpers.synthesis.dream`)."""
    return torch.is_autocast_enabled(t.device.type)


def channels_last(t) -> bool:
    """True for a 4-D tensor stored channels-last (and not also contiguous NCHW, as a 1x1 image is).

    Used in: notebook 01 (p1-dream-contact-sheet.png, p1-dream-octaves.png) through
        :func:`helpers.nets.models.load` (network ``"inception5h"``).
    """
    return t.ndim == 4 and t.is_contiguous(memory_format=torch.channels_last) and not t.is_contiguous()


def conv1x1_matmul(x, weight, bias=None):
    """A 1x1, stride-1 convolution of a channels-last NCHW ``x`` as one ``addmm`` on its (N*H*W, C)
    view; returns a channels-last tensor (same values as ``F.conv2d`` up to float32 rounding).

    Used in: notebook 01 (p1-dream-contact-sheet.png, p1-dream-octaves.png) through
        :func:`helpers.nets.models.load` (network ``"inception5h"``).
    """
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
        # the backward may run outside the forward's autocast (helpers.synthesis.dream leaves autocast before
        # autograd.grad): the kernel follows the incoming gradient's dtype, the result the input's
        (weight,) = ctx.saved_tensors
        wk, k = _subpixel_weight(weight.to(g.dtype), ctx.stride)
        dx = F.pixel_shuffle(F.conv2d(g, wk, padding=k - 1), ctx.stride)
        return dx[..., :ctx.in_hw[0], :ctx.in_hw[1]].to(ctx.in_dtype), None, None, None


def conv2d_same_input_grad(x, weight, bias=None, stride: int = 1):
    """:func:`conv2d_same` for when only the input needs a gradient (weights are used detached):
    strided convolutions differentiate through :class:`_StridedConvInputGrad`.

    Used in: notebook 01 (p1-dream-contact-sheet.png, p1-dream-octaves.png) through
        :func:`helpers.nets.models.load` (network ``"inception5h"``).
    """
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
    instead of a sum of several. Returns one (strided) NCHW view per convolution.

    Used in: notebook 01 (p1-dream-contact-sheet.png, p1-dream-octaves.png) through
        :func:`helpers.nets.models.load` (network ``"inception5h"``).
    """
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
    if channels_last(t):
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

"""A fused forward + input gradient of :class:`helpers.nets.inception.InceptionV1` for DeepDream.

DeepDream needs only d(mean of one layer)/d(input): no weight gradients, no autograd graph. This
module evaluates the ancestors of the target layer by hand and then walks them backwards, which
lets it do what autograd cannot:

* convolution + bias + ReLU as one oneDNN call (``torch.ops.mkldnn._convolution_pointwise``,
  the post-op fusion inductor uses), where the layer is not a mixed block's tower;
* each mixed block's four towers written into one preallocated channels-last output
  (``clamp_min(..., out=slice)``: the tower's ReLU and the concatenation in one pass) instead of
  ``torch.cat``; in the backward the towers' gradients are views of the block's gradient;
* the ReLU backward as one masked pass (``threshold_backward`` on the saved output), written
  straight into the sibling 1x1 convolutions' stacked gradient buffer;
* the three 1x1 convolutions that read a block's input as one matrix product, forward and back;
* only the input gradient of every convolution (``convolution_backward`` with
  ``output_mask=[True, False, False]``); conv2d0's strided input gradient in sub-pixel form
  (:func:`helpers.nets.inception_ops._subpixel_weight`);
* activations in one dtype end to end (``float32``, or ``bfloat16`` with LRN, the score and the
  returned gradient in float32), channels-last throughout; weights cast and laid out once.

The mathematics (TF ``SAME`` padding, -inf max-pool padding, padding-excluding average pools, TF's
LRN and its closed-form gradient) is that of :mod:`helpers.nets.inception_ops`; the engine agrees
with the autograd path (``engine="autograd"`` in :mod:`helpers.synthesis.dream`) to float32 rounding
(``tests/test_dream_fast.py``: per tile gradient against the autograd path and against float64).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from helpers.nets.inception import CONVS, MEAN, NODES
from helpers.nets.inception_ops import _channel_window_sum, _subpixel_weight, same_pads

_CL = torch.channels_last


def pointwise_available() -> bool:
    """Whether torch has oneDNN's fused convolution + post-op (``mkldnn._convolution_pointwise``) on CPU.

    Used in: no notebook; :class:`FusedInception`, ``benchmarks/dream.py`` (ideas table).
    """
    try:
        x = torch.ones(1, 1, 3, 3).contiguous(memory_format=_CL)
        w = torch.ones(1, 1, 1, 1).contiguous(memory_format=_CL)
        torch.ops.mkldnn._convolution_pointwise(x, w, None, [0, 0], [1, 1], [1, 1], 1, "relu", [None], "")
        return True
    except (AttributeError, RuntimeError, NotImplementedError):
        return False


def _pool_args(h, w, ksize, stride):
    """How to compute a TF ``SAME`` max pool with torch: (explicit -inf pad or None, padding, ceil_mode)."""
    ph, pw = same_pads(h, ksize, stride), same_pads(w, ksize, stride)
    if ph[0] == ph[1] and pw[0] == pw[1] and 2 * ph[0] <= ksize and 2 * pw[0] <= ksize:
        return None, (ph[0], pw[0]), False
    if ph[0] == pw[0] == 0 and ph[1] < ksize and pw[1] < ksize:
        oh = (h - ksize + stride - 1) // stride + 1 if h > ksize else 1
        ow = (w - ksize + stride - 1) // stride + 1 if w > ksize else 1
        if (oh, ow) == (-(-h // stride), -(-w // stride)):
            return None, (0, 0), True
    return (pw[0], pw[1], ph[0], ph[1]), (0, 0), False


class FusedInception:
    """Fused forward and input gradient of the mean of one layer of an InceptionV1 (see module docstring).

    Args:
        model: :class:`helpers.nets.inception.InceptionV1` (its weights are copied once, in ``dtype``).
        layer: the target layer (one of the 144).
        dtype: ``torch.float32`` or ``torch.bfloat16`` (activations and weights).
        fuse_pointwise: use oneDNN's convolution + bias + ReLU where it applies (default: when available).
        one_buffer: mixed blocks write their towers into one output (``False``: ``torch.cat``, for the
            ideas benchmark).

    Call :meth:`input_grad` with a float32 (N, 3, H, W) batch in [0, 255] to get d(sum over images of
    the mean of the layer)/d(input), float32, channels-last.

    Used in: notebook 01 (p1-dream-contact-sheet.png) through :class:`helpers.synthesis.dream.Dreamer`
        (``engine="fused"``).
    """

    def __init__(self, model, layer: str, *, dtype=torch.float32, fuse_pointwise: bool | None = None,
                 one_buffer: bool = True):
        if dtype not in (torch.float32, torch.bfloat16):
            raise ValueError(f"FusedInception: dtype must be float32 or bfloat16, got {dtype}")
        model.check_layer(layer)
        self.layer, self.dtype, self.one_buffer = layer, dtype, one_buffer
        self.fuse_pointwise = pointwise_available() if fuse_pointwise is None else bool(fuse_pointwise)
        self.plan = model._plan((layer,))
        self.config = model.config
        plan = set(self.plan)
        self.weights, self.bias = {}, {}
        with torch.no_grad():
            for name in self.plan:
                if NODES[name][0] != "conv":
                    continue
                m = getattr(model, f"{name}_conv")
                w = m.weight.detach().to(dtype)
                self.weights[name] = (w.reshape(w.shape[0], -1).contiguous() if CONVS[name][2] == 1
                                      else w.contiguous(memory_format=_CL))
                self.bias[name] = m.bias.detach().to(dtype).contiguous()
        # steps: ("conv", pre_name, relu_name or None) / ("group", [(pre, relu or None), ...], src) / (op, name)
        self.steps, done = [], set()
        for name in self.plan:
            if name in done:
                continue
            op, inputs, _ = NODES[name]
            if op == "conv":
                siblings = [n for n in _sibling_1x1(name) if n in plan] if CONVS[name][2] == 1 else [name]
                members = [(n, n[:-len("_pre_relu")] if n[:-len("_pre_relu")] in plan else None) for n in siblings]
                done.update(n for pair in members for n in pair if n)
                if CONVS[name][2] == 1:
                    self.steps.append(("group", members, inputs[0]))
                else:
                    self.steps.append(("conv",) + members[0])
                continue
            done.add(name)
            self.steps.append((op, name))
        # the relu outputs that are towers of a mixed block in the plan (written into its buffer)
        self.tower_of = {}
        for name in self.plan:
            if NODES[name][0] == "concat":
                off = 0
                for t in NODES[name][1]:
                    c = CONVS[f"{t}_pre_relu"][1]
                    self.tower_of[t] = (name, off, c)
                    off += c
        if "conv2d0_pre_relu" in plan:
            wk, k = _subpixel_weight(self.weights["conv2d0_pre_relu"].float(), CONVS["conv2d0_pre_relu"][3])
            self.conv0_grad_weight, self.conv0_k = wk.to(dtype).contiguous(memory_format=_CL), k

    # --- forward -----------------------------------------------------------------------------

    def _dest(self, relu_name, like, vals, bufs):
        """The block-buffer slice a tower's ReLU output goes to (None: not a tower, or one_buffer off)."""
        if not self.one_buffer or relu_name not in self.tower_of:
            return None
        block, off, c = self.tower_of[relu_name]
        if block not in bufs:
            n, _, h, w = like.shape
            bufs[block] = torch.empty((n, sum(CONVS[f"{t}_pre_relu"][1] for t in NODES[block][1]), h, w),
                                      dtype=self.dtype, memory_format=_CL)
        return bufs[block][:, off:off + c]

    def _conv(self, name, relu, x, vals, bufs, saved):
        cin, cout, k, s = CONVS[name]
        w, b = self.weights[name], self.bias[name]
        ph, pw = same_pads(x.shape[-2], k, s), same_pads(x.shape[-1], k, s)
        xin = x
        if s > 1 or ph[0] != ph[1] or pw[0] != pw[1]:  # strided: explicit pad (the sub-pixel gradient assumes none)
            xin = F.pad(x, (pw[0], pw[1], ph[0], ph[1])).contiguous(memory_format=_CL)
            pad = (0, 0)
        else:
            pad = (ph[0], pw[0])
        saved[name] = (xin, pad, (ph[0], pw[0]), tuple(x.shape))
        dest = self._dest(relu, x, vals, bufs) if relu else None
        if relu and dest is None and self.fuse_pointwise:
            vals[relu] = torch.ops.mkldnn._convolution_pointwise(xin, w, b, list(pad), [s, s], [1, 1], 1, "relu",
                                                                 [None], "")
            return
        pre = F.conv2d(xin, w, b, stride=s, padding=pad)
        if relu is None:
            vals[name] = pre
        elif dest is not None:
            vals[relu] = torch.clamp_min(pre, 0, out=dest)
        else:
            vals[relu] = pre.clamp_min_(0)

    def _group(self, members, src, x, vals, bufs, saved):
        n, c, h, w = x.shape
        v = x.permute(0, 2, 3, 1).reshape(n * h * w, c)
        names = [pre for pre, _ in members]
        wt = torch.cat([self.weights[p] for p in names]).t() if len(names) > 1 else self.weights[names[0]].t()
        bias = torch.cat([self.bias[p] for p in names]) if len(names) > 1 else self.bias[names[0]]
        y = torch.addmm(bias, v, wt)
        saved[names[0]] = (wt, y.shape[1])
        off = 0
        for pre, relu in members:
            k = CONVS[pre][1]
            part = y[:, off:off + k]
            view = part.view(n, h, w, k).permute(0, 3, 1, 2) if len(members) == 1 else \
                part.unflatten(0, (n, h, w)).permute(0, 3, 1, 2)
            if relu is None:
                vals[pre] = view
            else:
                dest = self._dest(relu, x, vals, bufs)
                if dest is not None:
                    vals[relu] = torch.clamp_min(view, 0, out=dest)
                else:
                    part.clamp_min_(0)
                    vals[relu] = view
            off += k

    def forward(self, x):
        """Evaluate the plan on ``x`` (float32 (N, 3, H, W), [0, 255]); returns (values, saved)."""
        vals = {"input": (x - MEAN).to(self.dtype).contiguous(memory_format=_CL)}
        bufs, saved = {}, {}
        for step in self.steps:
            kind = step[0]
            if kind == "conv":
                _, pre, relu = step
                self._conv(pre, relu, vals[NODES[pre][1][0]], vals, bufs, saved)
            elif kind == "group":
                _, members, src = step
                self._group(members, src, vals[src], vals, bufs, saved)
            else:
                op, name = step
                src = NODES[name][1]
                cfg = self.config.get(name, {})
                if op == "maxpool":
                    t = vals[src[0]]
                    pad, padding, ceil = _pool_args(t.shape[-2], t.shape[-1], cfg["ksize"], cfg["stride"])
                    tin = F.pad(t, pad, value=float("-inf")) if pad else t
                    out, idx = torch.ops.aten.max_pool2d_with_indices(tin, [cfg["ksize"]] * 2, [cfg["stride"]] * 2,
                                                                      list(padding), [1, 1], ceil)
                    saved[name] = (tin, idx, padding, ceil, pad, tuple(t.shape))
                    vals[name] = out
                elif op == "avgpool":
                    t = vals[src[0]]
                    if cfg["padding"] != "VALID":
                        raise NotImplementedError("FusedInception: only VALID average pools (the graph has no other)")
                    if min(t.shape[-2:]) < cfg["ksize"]:
                        raise ValueError(f"avg_pool VALID: input {tuple(t.shape[-2:])} is smaller than the "
                                         f"{cfg['ksize']}x{cfg['ksize']} window (head layers need >= 65 px)")
                    saved[name] = t
                    vals[name] = F.avg_pool2d(t, cfg["ksize"], cfg["stride"])
                elif op == "lrn":
                    t = vals[src[0]].float()
                    r = int(cfg["depth_radius"])
                    i = torch.arange(t.shape[1])
                    band = ((i[:, None] - i[None, :]).abs() <= r).float()
                    base = _channel_window_sum(t * t, band).mul_(cfg["alpha"]).add_(cfg["bias"])
                    d = base.rsqrt() if cfg["beta"] == 0.5 else base.pow(-cfg["beta"])
                    saved[name] = (t, d, base, band, 2.0 * cfg["alpha"] * cfg["beta"])
                    vals[name] = (t * d).to(self.dtype)
                elif op == "concat":
                    if self.one_buffer:
                        vals[name] = bufs[name]
                    else:
                        vals[name] = torch.cat([vals[s] for s in src], dim=1)
                elif op == "relu":  # a relu whose conv is not in the plan cannot happen; kept for completeness
                    vals[name] = vals[src[0]].clamp_min(0)
                else:
                    raise AssertionError(op)
        return vals, saved

    # --- backward ----------------------------------------------------------------------------

    def input_grad(self, x):
        """d(sum_i mean(layer(x_i)))/dx for a float32 batch ``x`` (N, 3, H, W); float32, channels-last."""
        with torch.no_grad():
            vals, saved = self.forward(x)
            out = vals[self.layer]
            per = out[0].numel()
            grads = {self.layer: torch.full(out.shape, 1.0 / per, dtype=self.dtype).contiguous(memory_format=_CL)}

            def add(name, g):
                if name in grads:
                    grads[name] = grads[name] + g
                else:
                    grads[name] = g

            for step in reversed(self.steps):
                kind = step[0]
                if kind == "conv":
                    _, pre, relu = step
                    g = grads.pop(relu if relu else pre, None)
                    if g is None:
                        continue
                    if relu:
                        g = torch.ops.aten.threshold_backward(g, vals[relu], 0)
                    add(NODES[pre][1][0], self._conv_backward(pre, g, saved))
                elif kind == "group":
                    _, members, src = step
                    wt, ctot = saved[members[0][0]]
                    t = vals[src]
                    n, c, h, w = t.shape
                    gy = torch.zeros((n * h * w, ctot), dtype=self.dtype) if any(
                        (r or p) not in grads for p, r in members) else torch.empty((n * h * w, ctot), dtype=self.dtype)
                    off = 0
                    for pre, relu in members:
                        k = CONVS[pre][1]
                        g = grads.pop(relu or pre, None)
                        if g is not None:
                            g2 = g.permute(0, 2, 3, 1).reshape(n * h * w, k)
                            if relu:
                                o2 = vals[relu].permute(0, 2, 3, 1).reshape(n * h * w, k)
                                torch.ops.aten.threshold_backward.grad_input(g2, o2, 0, grad_input=gy[:, off:off + k])
                            else:
                                gy[:, off:off + k].copy_(g2)
                        off += k
                    gx = torch.mm(gy, wt.t())
                    add(src, gx.view(n, h, w, c).permute(0, 3, 1, 2))
                else:
                    op, name = step
                    g = grads.pop(name, None)
                    if g is None:
                        continue
                    src = NODES[name][1]
                    cfg = self.config.get(name, {})
                    if op == "maxpool":
                        tin, idx, padding, ceil, pad, shape = saved[name]
                        gi = torch.ops.aten.max_pool2d_with_indices_backward(
                            g.contiguous(memory_format=_CL), tin, [cfg["ksize"]] * 2, [cfg["stride"]] * 2,
                            list(padding), [1, 1], ceil, idx)
                        if pad:
                            gi = gi[..., pad[2]:pad[2] + shape[2], pad[0]:pad[0] + shape[3]]
                        add(src[0], gi)
                    elif op == "avgpool":
                        t = saved[name]
                        add(src[0], torch.ops.aten.avg_pool2d_backward(
                            g.contiguous(memory_format=_CL), t, [cfg["ksize"]] * 2, [cfg["stride"]] * 2, [0, 0],
                            False, True, None))
                    elif op == "lrn":
                        t, d, base, band, k2 = saved[name]
                        gf = g.float()
                        s = _channel_window_sum((gf * t).mul_(d).div_(base), band)
                        add(src[0], (gf * d).sub_(s.mul_(t), alpha=k2).to(self.dtype))
                    elif op == "concat":
                        off = 0
                        for s_ in src:
                            c = vals[s_].shape[1]
                            add(s_, g[:, off:off + c])
                            off += c
                    elif op == "relu":
                        add(src[0], torch.ops.aten.threshold_backward(g, vals[name], 0))
                    else:
                        raise AssertionError(op)
            gin = grads.pop("input")
            return gin.float().contiguous(memory_format=_CL)

    def _conv_backward(self, name, g, saved):
        cin, cout, k, s = CONVS[name]
        xin, pad, (pt, pl), shape = saved[name]
        if s > 1:  # sub-pixel input gradient of the strided conv2d0 (see inception_ops._StridedConvInputGrad)
            kk = self.conv0_k
            dx = F.pixel_shuffle(F.conv2d(g.contiguous(memory_format=_CL), self.conv0_grad_weight, padding=kk - 1), s)
            dx = dx[..., :xin.shape[-2], :xin.shape[-1]]
        else:
            dx = torch.ops.aten.convolution_backward(
                g.contiguous(memory_format=_CL), xin, self.weights[name], None, [s, s], list(pad), [1, 1], False,
                [0, 0], 1, [True, False, False])[0]
        if xin.shape[-2:] != shape[-2:]:
            dx = dx[..., pt:pt + shape[2], pl:pl + shape[3]]
        return dx


def _sibling_1x1(name):
    """The 1x1 convolutions reading the same input as ``name`` (a mixed block's three, or ``name`` alone)."""
    src = NODES[name][1][0]
    return [n for n in NODES if NODES[n][0] == "conv" and CONVS[n][2] == 1 and CONVS[n][3] == 1
            and NODES[n][1][0] == src]

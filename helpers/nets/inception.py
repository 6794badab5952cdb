"""GoogLeNet / InceptionV1 exactly as Google's 2015 DeepDream graph ("inception5h"), in PyTorch.

All 144 layers of the emotion study (:data:`helpers.nets.layers.LAYERS`) are nodes of one small
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

The operations are in :mod:`helpers.nets.inception_ops`, the layer names in :mod:`helpers.nets.layers`.

Weights:

* :func:`random_model`: seeded He (Kaiming) initialisation -- a labelled stand-in;
* :func:`helpers.nets.graphdef.from_file`: ``inception5h.zip``, ``tensorflow_inception_graph.pb``
  (converted without TensorFlow), torch-lucent's ``inception5h.pth`` or a converted file.
"""
from __future__ import annotations

import contextlib
import difflib
import math

import torch
import torch.nn.functional as F
from torch import nn

from helpers.nets.inception_ops import (avg_pool, channels_last, conv1x1_matmul, conv1x1_matmul_fused, conv2d_same,
                                        conv2d_same_input_grad, lrn, max_pool)
from helpers.nets.layers import LAYERS

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
assert set(NODES) == set(LAYERS)  # every study layer is a node, and every node a study layer
# the 1x1 convolutions of a mixed block that read the block's input (fused in fast mode)
_SIBLINGS_1X1 = {n: [f"{b}_{k}_pre_relu" for k in ("1x1", "3x3_bottleneck", "5x5_bottleneck")]
                 for b in _MIXED for n in (f"{b}_{k}_pre_relu" for k in ("1x1", "3x3_bottleneck", "5x5_bottleneck"))}
HEAD_WEIGHT_LAYERS = ("head0_bottleneck_pre_relu", "head0_bottleneck", "head1_bottleneck_pre_relu", "head1_bottleneck")


# --- TF-semantics operations ---------------------------------------------------------------


# --- the model ---------------------------------------------------------------------------------

class LayerUnavailable(KeyError):
    """A layer exists in InceptionV1 but the loaded weights file has no weights for it.

    Used in: notebook 01 (p1-dream-contact-sheet.png, p1-dream-octaves.png) through
        :func:`helpers.nets.models.load` (network ``"inception5h"``).
    """


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

    Used in: notebook 01 (p1-dream-contact-sheet.png, p1-dream-octaves.png) through
        :func:`helpers.nets.models.load` (network ``"inception5h"``).
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
                           f"(see helpers.nets.layers.LAYERS for all 144)")
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
            need = set().union(*(ancestors(t) for t in targets))
            self._ancestor_cache[targets] = [n for n in NODES if n in need]
        return self._ancestor_cache[targets]

    def _node(self, name, vals):
        op, inputs, _ = NODES[name]
        args = [vals[i] for i in inputs]
        cfg = self.config.get(name, {})
        if op == "conv":
            m = getattr(self, f"{name}_conv")
            if self.ops == "fast" and m.kernel_size == (1, 1) and m.stride == (1, 1) and channels_last(args[0]):
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
            if self.ops == "fast" and name in _SIBLINGS_1X1 and channels_last(vals[NODES[name][1][0]]):
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

    Used in: notebook 01 (p1-dream-octaves.png) through :func:`helpers.synthesis.dream.progress_snapshots`.
    """
    return _setting(model, "ops", "reference" if on else "fast")


def input_grad_only(model):
    """Context manager: within the block only gradients with respect to the input are asked of
    ``model`` (as in DeepDream): with the fast operations, strided convolutions then use a faster
    input-gradient (:class:`_StridedConvInputGrad`) and give no weight gradients.

    Used in: notebook 01 (p1-dream-octaves.png) through :func:`helpers.synthesis.dream.progress_snapshots`.
    """
    return _setting(model, "input_grad_only", True)


# --- weights ------------------------------------------------------------------------------------

def random_model(*, seed: int = 0) -> InceptionV1:
    """InceptionV1 with seeded He-normal conv weights and small random biases (a stand-in).

    Activations stay finite and non-constant at every layer (He init keeps the scale through
    the ReLUs); LRN uses the graph's :data:`GRAPH_LRN`. Same seed -> same weights.

    Used in: notebook 01 (p1-dream-contact-sheet.png, p1-dream-octaves.png) through
        :func:`helpers.nets.models.load` (network ``"inception5h"``).
    """
    model = InceptionV1()
    g = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        for name in CONVS:
            m = getattr(model, f"{name}_conv")
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu", generator=g)
            m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.05)
    return model.eval()


def model_from_state(state: dict, *, config=None, unavailable=()) -> InceptionV1:
    """InceptionV1 holding ``state`` (every tensor of the available layers, shapes checked), in eval mode.

    Used in: notebook 01 (p1-dream-contact-sheet.png, p1-dream-octaves.png) through
        :func:`helpers.nets.models.load` (network ``"inception5h"``).
    """
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


def ancestors(name: str) -> set:
    """Every node ``name`` depends on, itself included (the truncated forward computes these).

    Used in: notebook 01 (p1-dream-contact-sheet.png, p1-dream-octaves.png) through
        :func:`helpers.nets.models.load` (network ``"inception5h"``).
    """
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

    Used in: no notebook; ``benchmarks/dream.py``, ``tests/test_inception.py``.
    """
    h0, w0 = size if isinstance(size, (tuple, list)) else (size, size)
    hw = {"input": (int(h0), int(w0))}
    total = 0.0
    need = ancestors(layer)
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

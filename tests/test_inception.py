"""InceptionV1 (inception5h): TF op semantics against explicit NumPy references, the 144 layers,
the stand-in, the GraphDef converter (on a GraphDef built here) and lucent's file."""
from __future__ import annotations

import itertools
import math
import zipfile

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers.nets import graphdef, inception, inception_ops, layers, models
from helpers.testing import rehearsal


# --- explicit TF references (NumPy loops; padding from the TF documentation's formula) ---

def tf_same(n, k, s):
    out = math.ceil(n / s)
    total = max((out - 1) * s + k - n, 0)
    return out, total // 2  # TF puts the odd extra pixel at the end


def ref_conv_same(x, w, b, s):
    """x (C,H,W), w (O,C,k,k): out[o,i,j] = b[o] + sum x[c, i*s+di-pt, j*s+dj-pl] w[o,c,di,dj]."""
    C, H, W = x.shape
    O, _, k, _ = w.shape
    oh, pt = tf_same(H, k, s)
    ow, pl = tf_same(W, k, s)
    out = np.zeros((O, oh, ow), np.float64)
    for i, j in itertools.product(range(oh), range(ow)):
        for di, dj in itertools.product(range(k), range(k)):
            y, xx = i * s + di - pt, j * s + dj - pl
            if 0 <= y < H and 0 <= xx < W:
                out[:, i, j] += w[:, :, di, dj] @ x[:, y, xx]
    return out + b[:, None, None]


def ref_pool(x, k, s, padding, kind):
    C, H, W = x.shape
    if padding == "SAME":
        (oh, pt), (ow, pl) = tf_same(H, k, s), tf_same(W, k, s)
    else:
        oh, ow, pt, pl = (H - k) // s + 1, (W - k) // s + 1, 0, 0
    out = np.zeros((C, oh, ow))
    for i, j in itertools.product(range(oh), range(ow)):
        ys = [y for y in range(i * s - pt, i * s - pt + k) if 0 <= y < H]
        xs = [v for v in range(j * s - pl, j * s - pl + k) if 0 <= v < W]
        win = x[:, ys][:, :, xs].reshape(C, -1)
        out[:, i, j] = win.max(1) if kind == "max" else win.mean(1)  # avg excludes padding, like TF
    return out


def ref_lrn(x, r, bias, alpha, beta):
    C = x.shape[0]
    out = np.zeros_like(x, dtype=np.float64)
    for c in range(C):
        sq = (x[max(0, c - r):c + r + 1] ** 2).sum(0)
        out[c] = x[c] / (bias + alpha * sq) ** beta
    return out


def t(a):
    return torch.from_numpy(np.asarray(a, np.float32))


@pytest.mark.parametrize("n,k,s,expected", [(224, 7, 2, (2, 3)), (225, 7, 2, (3, 3)), (112, 3, 2, (0, 1)),
                                            (113, 3, 2, (1, 1)), (10, 5, 1, (2, 2)), (9, 3, 2, (1, 1))])
def test_same_pads_match_tf(n, k, s, expected):
    assert inception_ops.same_pads(n, k, s) == expected


@pytest.mark.parametrize("hw,k,s", [((11, 10), 7, 2), ((12, 9), 3, 2), ((9, 8), 3, 1), ((8, 7), 5, 1), ((6, 6), 1, 1)])
def test_conv_same_matches_tf_reference(hw, k, s):
    rng = np.random.default_rng(1)
    x, w, b = rng.normal(size=(3,) + hw), rng.normal(size=(4, 3, k, k)), rng.normal(size=4)
    got = inception_ops.conv2d_same(t(x)[None], t(w), t(b), s)[0].numpy()
    np.testing.assert_allclose(got, ref_conv_same(x, w, b, s), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("hw,k,s,padding", [((11, 10), 3, 2, "SAME"), ((8, 9), 3, 1, "SAME"), ((12, 12), 3, 2, "SAME"),
                                            ((13, 11), 5, 3, "VALID"), ((10, 7), 5, 3, "SAME")])
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pools_match_tf_reference(hw, k, s, padding, kind):
    x = np.random.default_rng(2).normal(size=(3,) + hw)
    fn = inception_ops.max_pool if kind == "max" else inception_ops.avg_pool
    got = fn(t(x)[None], k, s, padding)[0].numpy()
    np.testing.assert_allclose(got, ref_pool(x, k, s, padding, kind), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("r,bias,alpha,beta", [(5, 2.0, 1e-4, 0.5), (4, 1.0, 1e-4 / 9, 0.5), (2, 1.0, 0.3, 0.75)])
@pytest.mark.parametrize("impl,layout", [("fast", "nchw"), ("fast", "channels_last"), ("pool", "nchw")])
def test_lrn_matches_tf_formula(r, bias, alpha, beta, impl, layout):
    x = np.random.default_rng(3).normal(scale=20, size=(13, 4, 5))
    xt = t(x)[None]
    if layout == "channels_last":
        xt = xt.contiguous(memory_format=torch.channels_last)
    got = inception_ops.lrn(xt, r, bias, alpha, beta, impl=impl)[0].numpy()
    np.testing.assert_allclose(got, ref_lrn(x, r, bias, alpha, beta), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("r,bias,alpha,beta", [(5, 2.0, 1e-4, 0.5), (2, 1.0, 0.3, 0.75)])
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
def test_lrn_closed_form_gradient(r, bias, alpha, beta, layout):
    """The hand-written LRN backward (TF's LRNGrad formula) against finite differences (float64)
    and against autograd through torch's formulation (float32)."""
    x = torch.from_numpy(np.random.default_rng(4).normal(scale=3, size=(2, 13, 4, 5)))
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: inception_ops.lrn(v, r, bias, alpha, beta), (x,))
    x32 = (x.detach().float() * 10).requires_grad_(True)
    g = torch.randn(x32.shape, generator=torch.Generator().manual_seed(0))
    fast = torch.autograd.grad(inception_ops.lrn(x32, r, bias, alpha, beta, impl="fast"), x32, g)[0]
    pool = torch.autograd.grad(inception_ops.lrn(x32, r, bias, alpha, beta, impl="pool"), x32, g)[0]
    torch.testing.assert_close(fast, pool, rtol=1e-5, atol=1e-6 * float(pool.abs().max()))
    with pytest.raises(ValueError, match="impl"):
        inception_ops.lrn(x32, r, bias, alpha, beta, impl="cudnn")


@pytest.mark.parametrize("c,r", [(150, 4), (97, 5), (64, 2)])
def test_lrn_blocked_channel_sum_on_many_channels(c, r):
    """Channels-last LRN on more than 64 channels sums in 32-channel blocks (band reach only)."""
    x = np.random.default_rng(6).normal(scale=20, size=(c, 3, 2))
    xt = t(x)[None].contiguous(memory_format=torch.channels_last)
    got = inception_ops.lrn(xt, r, 1.0, 1e-3, 0.75)[0].numpy()
    np.testing.assert_allclose(got, ref_lrn(x, r, 1.0, 1e-3, 0.75), rtol=1e-5, atol=1e-5)
    x64 = torch.from_numpy(x / 20)[None].contiguous(memory_format=torch.channels_last).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: inception_ops.lrn(v, r, 1.0, 0.3, 0.75), (x64,))


@pytest.mark.parametrize("hw,k,s", [((37, 40), 7, 2), ((20, 21), 3, 2), ((17, 16), 5, 3), ((12, 12), 7, 2)])
def test_strided_conv_subpixel_input_gradient(hw, k, s):
    """The input-only backward of strided SAME convolutions (sub-pixel form) equals autograd's."""
    g = torch.Generator().manual_seed(8)
    x = torch.randn((2, 3) + hw, generator=g)
    w, b = torch.randn(6, 3, k, k, generator=g), torch.randn(6, generator=g)
    a, c = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    got, want = inception_ops.conv2d_same_input_grad(a, w, b, s), inception_ops.conv2d_same(c, w, b, s)
    torch.testing.assert_close(got, want)
    gy = torch.randn(want.shape, generator=g)
    torch.testing.assert_close(torch.autograd.grad(got, a, gy)[0], torch.autograd.grad(want, c, gy)[0],
                               rtol=1e-5, atol=1e-5)


def test_input_grad_only_is_scoped(inception_stand_in):
    m = inception_stand_in
    with inception.input_grad_only(m):
        assert m.input_grad_only
    assert not m.input_grad_only


def test_fused_sibling_1x1_convolutions_match_separate_ones(inception_stand_in, monkeypatch):
    """Fast mode computes a mixed block's three 1x1 convolutions of the block input as one matmul;
    outputs and input gradients equal those of separate convolutions (float32 rounding)."""
    m = inception_stand_in
    x = (torch.rand(1, 3, 72, 72, generator=torch.Generator().manual_seed(9)) * 255).contiguous(
        memory_format=torch.channels_last)
    calls = []
    fused_fn = inception_ops.conv1x1_matmul_fused
    monkeypatch.setattr(inception, "conv1x1_matmul_fused", lambda *a: calls.append(1) or fused_fn(*a))

    def run():
        a = x.clone().requires_grad_(True)
        out = m(a, "mixed4a")
        return out.detach(), torch.autograd.grad(out.sum(), a)[0]

    fused, g_fused = run()
    assert len(calls) == 3  # mixed3a, mixed3b, mixed4a
    monkeypatch.setattr(inception, "_SIBLINGS_1X1", {})
    plain, g_plain = run()
    assert len(calls) == 3
    torch.testing.assert_close(fused, plain, rtol=1e-4, atol=1e-4 * float(plain.abs().max()))
    torch.testing.assert_close(g_fused, g_plain, rtol=1e-3, atol=1e-4 * float(g_plain.abs().max()))


def test_conv1x1_matmul_matches_conv2d():
    g = torch.Generator().manual_seed(7)
    x = torch.randn(2, 24, 5, 7, generator=g).contiguous(memory_format=torch.channels_last).requires_grad_(True)
    w, b = torch.randn(16, 24, 1, 1, generator=g), torch.randn(16, generator=g)
    got, want = inception_ops.conv1x1_matmul(x, w, b), F.conv2d(x, w, b)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    assert got.is_contiguous(memory_format=torch.channels_last)
    gy = torch.randn(want.shape, generator=g)
    torch.testing.assert_close(torch.autograd.grad(got, x, gy)[0], torch.autograd.grad(want, x, gy)[0],
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("hw", [(12, 12), (12, 9), (9, 12)])
def test_max_pool_ceil_mode_equals_minus_inf_padding_with_gradient(hw):
    """Stride-2 SAME pooling on an even side pads one -inf pixel after; ``ceil_mode`` must give the
    same values and route the same gradients."""
    x = torch.from_numpy(np.random.default_rng(5).normal(size=(1, 3) + hw).astype(np.float32))
    ph, pw = inception_ops.same_pads(hw[0], 3, 2), inception_ops.same_pads(hw[1], 3, 2)
    a, b = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    got = inception_ops.max_pool(a, 3, 2, "SAME")
    want = F.max_pool2d(F.pad(b, (pw[0], pw[1], ph[0], ph[1]), value=float("-inf")), 3, 2)
    assert torch.equal(got, want)
    g = torch.randn(got.shape, generator=torch.Generator().manual_seed(1))
    assert torch.equal(torch.autograd.grad(got, a, g)[0], torch.autograd.grad(want, b, g)[0])


@pytest.fixture(scope="module")
def model(inception_stand_in, one_torch_thread):
    return inception_stand_in


def test_layers_are_the_study_list_and_all_finite_nonconstant(model):
    assert len(layers.LAYERS) == 144 and tuple(model.layer_names) == layers.LAYERS
    with torch.no_grad():
        out = model(t(np.random.default_rng(0).uniform(0, 255, (1, 3, 96, 96))))
    assert list(out) == list(layers.LAYERS)
    for name, v in out.items():
        assert torch.isfinite(v).all() and v.std() > 0, name


def test_structure_concat_input_mean_and_truncated_forward(model):
    x = t(np.random.default_rng(1).uniform(0, 255, (1, 3, 80, 72)))
    with torch.no_grad():
        full = model(x)
        assert torch.equal(full["mixed4b"], torch.cat([full[f"mixed4b_{b}"] for b in ("1x1", "3x3", "5x5", "pool_reduce")], 1))
        for name in ("conv2d2", "localresponsenorm1", "mixed4c_5x5_pre_relu", "mixed5b", "head1_bottleneck"):
            torch.testing.assert_close(model(x, name), full[name], rtol=1e-5, atol=1e-4)
        w = model.conv2d0_pre_relu_conv
        torch.testing.assert_close(full["conv2d0_pre_relu"], inception_ops.conv2d_same(x - 117.0, w.weight, w.bias, 2))
    assert full["head0_pool"].shape[1:] == (508, 1, 1) and full["mixed5b"].shape[1] == 1024
    # truncation really prunes: mixed3a_1x1 needs none of the 3x3 / 5x5 / pool branches
    assert "mixed3a_3x3" not in model._plan(("mixed3a_1x1",))


@pytest.mark.parametrize("layer", ["conv2d2", "mixed4c", "mixed5b"])
def test_flops_counts_the_convolutions_the_truncated_forward_runs(model, monkeypatch, layer):
    counted = []  # (kernel size, multiply-adds) of every convolution the forward calls
    real = torch.nn.functional.conv2d

    def counting(x, weight, *args, **kwargs):
        y = real(x, weight, *args, **kwargs)
        counted.append((weight.shape[-1], y.shape[-2] * y.shape[-1] * weight[0].numel() * weight.shape[0]))
        return y

    monkeypatch.setattr(torch.nn.functional, "conv2d", counting)
    with torch.no_grad(), inception.reference_ops(model, True):
        model(t(np.zeros((1, 3, 90, 70))), layer)
    assert inception.flops(layer, (90, 70)) == sum(m for _, m in counted)
    assert inception.flops(layer, (90, 70), kernels=(3, 5)) == sum(m for k, m in counted if k in (3, 5)) > 0
    assert inception.flops(layer, 64) == inception.flops(layer, (64, 64))


def test_wrong_layer_name_lists_close_matches(model):
    with pytest.raises(KeyError, match="mixed4c_3x3_pre_relu"):
        model(torch.zeros(1, 3, 32, 32), "mixed4c_3x3_prerelu")


def test_stand_in_is_seeded_and_loaded_through_models():
    a, b, c = inception.random_model(seed=1), inception.random_model(seed=1), inception.random_model(seed=2)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.conv2d0_pre_relu_conv.weight, c.conv2d0_pre_relu_conv.weight)
    m = models.load("inception5h", source="random", seed=1)
    assert isinstance(m, inception.InceptionV1) and not m.training and models.is_stand_in(m)
    assert not any(p.requires_grad for p in m.parameters())
    assert torch.equal(m.mixed5b_5x5_pre_relu_conv.weight, a.mixed5b_5x5_pre_relu_conv.weight)


# --- the converter, on a GraphDef built here ------------------------------------------------

def graphdef_from(model, *, lrn=(5, 2.0, 1e-4, 0.5), heads=True, identity=False, extra_const=True, bad_stride=None):
    """Write ``model`` as a TF1-style inception5h GraphDef: Const ``<layer>_w`` (HWIO) / ``<layer>_b``,
    Conv2D ``<layer>_pre_relu/conv``, BiasAdd ``<layer>_pre_relu``, Relu, MaxPool/AvgPool/LRN/ConcatV2."""
    from tensorboard.compat.proto import graph_pb2
    from tensorboard.util import tensor_util

    g = graph_pb2.GraphDef()

    def node(name, op, inputs=(), **attrs):
        return rehearsal.graph_node(g, name, op, inputs, **attrs)

    def const(name, arr):
        node(name, "Const", value=tensor_util.make_tensor_proto(np.asarray(arr, np.float32)))

    node("input", "Placeholder")
    for name, (op, inputs, _) in inception.NODES.items():
        if not heads and name.startswith("head"):
            continue
        src = [i if i != "input" else "input" for i in inputs]
        cfg = model.config.get(name, {})
        if op == "conv":
            base = name[:-len("_pre_relu")]
            m = getattr(model, f"{name}_conv")
            w = m.weight.detach().numpy().transpose(2, 3, 1, 0)
            const(f"{base}_w", w)
            const(f"{base}_b", m.bias.detach().numpy())
            wname = f"{base}_w"
            if identity:
                node(f"{base}_w/read", "Identity", [wname])
                wname = f"{base}_w/read"
            s = m.stride[0] if bad_stride != name else 1 + m.stride[0]
            node(f"{name}/conv", "Conv2D", [src[0], wname], strides=[1, s, s, 1], padding=b"SAME")
            node(name, "BiasAdd", [f"{name}/conv", f"{base}_b"])
        elif op == "relu":
            node(name, "Relu", src)
        elif op in ("maxpool", "avgpool"):
            k, s = cfg["ksize"], cfg["stride"]
            node(name, "MaxPool" if op == "maxpool" else "AvgPool", src, ksize=[1, k, k, 1], strides=[1, s, s, 1],
                 padding=cfg["padding"].encode())
        elif op == "lrn":
            node(name, "LRN", src, depth_radius=lrn[0], bias=lrn[1], alpha=lrn[2], beta=lrn[3])
        elif op == "concat":
            node(f"{name}/concat_dim", "Const", value=tensor_util.make_tensor_proto(np.int32(3)))
            node(name, "ConcatV2", src + [f"{name}/concat_dim"])
    if extra_const:
        const("softmax2_w", np.arange(6, dtype=np.float32).reshape(2, 3))
    return g


def test_converter_roundtrip_takes_lrn_from_graph_attrs(model):
    data = graphdef.convert_graphdef(graphdef_from(model, identity=True).SerializeToString())
    conv = inception.model_from_state(data["state_dict"], config=data["config"])
    for k, v in model.state_dict().items():
        assert torch.equal(conv.state_dict()[k], v), k
    assert data["config"]["localresponsenorm0"] == pytest.approx({"depth_radius": 5, "bias": 2.0, "alpha": 1e-4, "beta": 0.5})
    assert data["config"]["maxpool0"] == {"ksize": 3, "stride": 2, "padding": "SAME"}
    assert data["config"]["head0_pool"] == {"ksize": 5, "stride": 3, "padding": "VALID"}
    assert "softmax2_w" in data["unused"] and data["extra"]["softmax2_w"].shape == (2, 3)
    assert data["unavailable"] == []
    x = t(np.random.default_rng(4).uniform(0, 255, (1, 3, 64, 64)))
    with torch.no_grad():  # only the LRN settings differ from the stand-in
        torch.testing.assert_close(conv(x, "conv2d1_pre_relu"),
                                   inception_ops.conv2d_same(inception_ops.lrn(model(x, "maxpool0"), 5, 2.0, 1e-4, 0.5),
                                                         model.conv2d1_pre_relu_conv.weight, model.conv2d1_pre_relu_conv.bias))


def test_converter_errors_name_the_node(model):
    with pytest.raises(ValueError, match="mixed3a_3x3_pre_relu/conv"):
        graphdef.convert_graphdef(graphdef_from(model, bad_stride="mixed3a_3x3_pre_relu"))


def test_from_file_pb_and_zip_cache_the_converted_state_dict(model, tmp_path):
    from helpers import download, paths

    pb = tmp_path / "tensorflow_inception_graph.pb"
    pb.write_bytes(graphdef_from(model, heads=False).SerializeToString())
    m1 = graphdef.from_file(pb)
    cached = graphdef.converted_path(download.sha256sum(pb))
    assert cached.exists() and download.record_path(cached).exists() and cached.parent == paths.cache()
    assert m1.unavailable >= {"head0_bottleneck", "head1_bottleneck_pre_relu"}
    with pytest.raises(inception.LayerUnavailable, match="head0_bottleneck"):
        m1(torch.zeros(1, 3, 96, 96), "head0_bottleneck")
    assert torch.equal(m1.mixed4e_5x5_pre_relu_conv.weight, model.mixed4e_5x5_pre_relu_conv.weight)
    zp = tmp_path / "inception5h.zip"
    with zipfile.ZipFile(zp, "w") as z:
        z.write(pb, "tensorflow_inception_graph.pb")
        z.writestr("imagenet_comp_graph_label_strings.txt", "dummy\n")
    m2 = graphdef.from_file(zp)
    assert torch.equal(m2.conv2d0_pre_relu_conv.weight, model.conv2d0_pre_relu_conv.weight)
    m3 = models.load("inception5h", path=cached)  # the converted file itself is accepted too
    assert models.describe(m3).startswith("inception5h: pretrained")


def test_lucent_state_dict_loads_without_heads(model, tmp_path):
    sd = {k: v for k, v in model.state_dict().items() if not k.startswith("head")}
    sd["softmax2_pre_activation_matmul.weight"] = torch.zeros(1008, 1024)
    torch.save(sd, tmp_path / "inception5h.pth")
    m = graphdef.from_file(tmp_path / "inception5h.pth")
    assert m.config["localresponsenorm0"] == inception.GRAPH_LRN  # the graph's values, not lucent's MMdnn ones
    x = torch.full((1, 3, 96, 96), 128.0)
    with torch.no_grad():
        torch.testing.assert_close(m(x, "mixed5b"), model(x, "mixed5b"))
        assert m(x, "head0_pool").shape[1] == 508  # weight-free: still available
    for name in inception.HEAD_WEIGHT_LAYERS:
        with pytest.raises(inception.LayerUnavailable):
            m.check_layer(name)
    with pytest.raises(ValueError, match=r"other.pth: not a lucent state dict .*found a dict of 1 keys such as \['foo'\]"):
        torch.save({"foo": torch.zeros(1)}, tmp_path / "other.pth")
        graphdef.from_file(tmp_path / "other.pth")


# --- real-format files (helpers.testing.rehearsal) and the graph's own constants -----------------------

def test_lrn_constants_are_the_graphs_in_every_route(model):
    # lucent PR #51's node dump of the graph: depth_radius 5, bias 2.0, alpha float32(1e-4), beta 0.5
    assert inception.GRAPH_LRN == {"depth_radius": 5, "bias": 2.0, "alpha": float(np.float32(1e-4)), "beta": 0.5}
    assert inception.TF_LRN_DEFAULTS == {"depth_radius": 5, "bias": 1.0, "alpha": 1.0, "beta": 0.5}
    for name in ("localresponsenorm0", "localresponsenorm1"):
        assert model.config[name] == inception.GRAPH_LRN
    x = t(np.random.default_rng(2).uniform(0, 255, (1, 3, 40, 40)))
    with torch.no_grad():
        want = ref_lrn(model(x, "maxpool0")[0].double().numpy(), 5, 2.0, 1e-4, 0.5)
        np.testing.assert_allclose(model(x, "localresponsenorm0")[0].numpy(), want, rtol=1e-5, atol=1e-5)


def _graph(**kw):
    from helpers.testing import rehearsal

    return rehearsal.inception5h_graphdef(seed=0, **kw)


@pytest.fixture(scope="module")
def real_graph():
    return _graph()


def test_rehearsal_graph_has_the_real_node_names_and_ops(real_graph):
    ops = {n.name: n for n in real_graph.node}
    assert ops["input"].op == "Placeholder" and real_graph.node[0].name == "input"
    assert ops["conv2d0_w"].op == ops["conv2d0_b"].op == "Const"
    assert (ops["conv2d0_pre_relu/conv"].op, ops["conv2d0_pre_relu"].op, ops["conv2d0"].op) == ("Conv2D", "BiasAdd", "Relu")
    assert ops["mixed4c"].op == "Concat" and ops["mixed4c"].input[0] == "mixed4c/concat_dim"
    assert ops["localresponsenorm1"].op == "LRN" and ops["localresponsenorm1"].attr["bias"].f == 2.0
    assert list(ops["head1_pool"].attr["ksize"].list.i) == [1, 5, 5, 1] and ops["head1_pool"].attr["padding"].s == b"VALID"
    assert ops["avgpool0"].op == "AvgPool" and ops["nn0_pre_relu/matmul"].op == "MatMul"
    assert ops["softmax2"].op == "Softmax" and [ops[o].op for o in ("output", "output1", "output2")] == ["Identity"] * 3
    assert sum(n.op == "Conv2D" for n in real_graph.node) == 59  # the TF deepdream tutorial's count
    consts = [i for i, n in enumerate(real_graph.node) if n.op == "Const" and n.name.endswith(("_w", "_b"))]
    assert consts == list(range(1, len(consts) + 1))  # every weight Const before the first op, as in the real graph


def test_converter_reads_the_rehearsal_graph_exactly(model, real_graph):
    data = graphdef.convert_graphdef(real_graph.SerializeToString())
    assert data["unavailable"] == [] and data["config"]["localresponsenorm0"] == inception.GRAPH_LRN
    assert {"nn0_w", "softmax2_w", "mixed3a/concat_dim"} & set(data["unused"]) == {"nn0_w", "softmax2_w"}
    for k, v in model.state_dict().items():
        assert torch.equal(data["state_dict"][k], v), k


def test_lrn_attributes_a_graph_omits_take_tf_defaults():
    data = graphdef.convert_graphdef(_graph(lrn={}))
    assert data["config"]["localresponsenorm0"] == inception.TF_LRN_DEFAULTS  # never protobuf's 0
    data = graphdef.convert_graphdef(_graph(lrn={"bias": 2.0, "alpha": 1e-4}))
    assert data["config"]["localresponsenorm1"] == pytest.approx({"depth_radius": 5, "bias": 2.0, "alpha": 1e-4, "beta": 0.5})


def test_valid_padding_is_accepted_on_1x1_convolutions_only(model):
    data = graphdef.convert_graphdef(_graph(conv1x1_padding="VALID"))
    assert torch.equal(data["state_dict"]["mixed4a_1x1_pre_relu_conv.weight"], model.mixed4a_1x1_pre_relu_conv.weight)
    g = _graph()
    next(n for n in g.node if n.name == "mixed4a_3x3_pre_relu/conv").attr["padding"].s = b"VALID"
    with pytest.raises(ValueError, match="mixed4a_3x3_pre_relu/conv: .*padding VALID"):
        graphdef.convert_graphdef(g)


def test_concat_order_comes_from_the_graph(model):
    order = ["mixed3b_pool_reduce", "mixed3b_1x1", "mixed3b_5x5", "mixed3b_3x3"]
    data = graphdef.convert_graphdef(_graph(concat_order={"mixed3b": order}))
    assert data["config"]["mixed3b"] == {"order": order} and data["config"]["mixed3a"]["order"][0] == "mixed3a_1x1"
    m = inception.model_from_state(data["state_dict"], config=data["config"])
    x = t(np.random.default_rng(3).uniform(0, 255, (1, 3, 48, 48)))
    with torch.no_grad():
        parts = model(x, order)
        torch.testing.assert_close(m(x, "mixed3b"), torch.cat([parts[k] for k in order], dim=1))
    g = _graph()
    bad = next(n for n in g.node if n.name == "mixed4e")
    bad.input[2] = "mixed4d_3x3"
    with pytest.raises(ValueError, match="mixed4e.*concatenates"):
        graphdef.convert_graphdef(g)


@pytest.mark.parametrize("name", ["tensorflow_inception_graph.pb", "inception5h.zip", "inception5h.pth", "weights.bin"])
def test_unreadable_files_give_one_clear_message(tmp_path, name):
    f = tmp_path / name
    f.write_bytes(np.random.default_rng(0).bytes(100_000))
    expected = {".pb": "not a TensorFlow GraphDef", ".zip": "not an inception5h zip"}.get(f.suffix, "not a lucent state dict")
    with pytest.raises(ValueError) as info:
        graphdef.from_file(f)
    msg = str(info.value)
    assert msg.startswith(f"{f}: {expected}") and "found 100,000 bytes of unrecognised bytes" in msg, msg
    assert "weights_only=False" not in msg and info.value.__cause__ is None


def test_zip_without_the_graph_and_graph_without_convolutions(tmp_path):
    from tensorboard.compat.proto import graph_pb2

    z = tmp_path / "inception5h.zip"
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("LICENSE", "x")
    with pytest.raises(ValueError, match=r"not an inception5h zip: no tensorflow_inception_graph.pb inside; members found: \['LICENSE'\]"):
        graphdef.from_file(z)
    g = graph_pb2.GraphDef()
    g.node.add(name="a", op="Placeholder")
    (tmp_path / "g.pb").write_bytes(g.SerializeToString())
    with pytest.raises(ValueError, match=r"g.pb: not a TensorFlow GraphDef of inception5h: 1 nodes, no Conv2D \(ops found: \['Placeholder'\]\)"):
        graphdef.from_file(tmp_path / "g.pb")

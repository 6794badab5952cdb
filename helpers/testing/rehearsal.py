"""Rehearsal files: each network and dataset in its *real on-disk format*, holding stand-in weights.

Pretrained weights and ArtBench-10 cannot be downloaded on CI or in this workplace, so the
paper profile's loading code would otherwise never meet a file it did not write itself. The
writers here produce files in the layouts the real artifacts have (Google's
``inception5h.zip`` GraphDef, torch-lucent's ``inception5h.pth``, pytorch_pretrained_biggan's
``pytorch_model.bin`` + ``config.json``, torchvision's ``resnet152-394f9c45.pth``, ArtBench-10's
archives and CSV), made through the authoritative code path where one exists. The weights in
them are seeded random stand-ins: everything made from them is labelled STAND-IN.

Used by the ``rehearsal`` test tier, the ``class`` profile in CI, and the benchmarks.
"""
from __future__ import annotations

import argparse
import collections
import io as _io
import os
import pickle
import shutil
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from tensorboard.compat.proto import graph_pb2, types_pb2
from tensorboard.util import tensor_util

from helpers import download, io, sources
from helpers.nets import graphdef, inception, models
from helpers.search import artbench


# === inception5h (GraphDef zip, lucent .pth) ==================================================
# Layout sources (facts, not code, carried over):
# * node names, op types and order: a public listing of ``graph.get_operations()`` after
#   ``tf.import_graph_def`` of tensorflow_inception_graph.pb (a TF deepdream-tutorial adaptation found
#   by code search): Placeholder ``input``; all Consts first (``<layer>_w``/``<layer>_b`` in layer order,
#   then ``nn0_w``, ``softmax0_w``, ...); ``<layer>_pre_relu/conv`` Conv2D -> ``<layer>_pre_relu``
#   BiasAdd -> ``<layer>`` Relu; ``mixedXX/concat_dim`` Const then ``mixedXX`` Concat; ``avgpool0``
#   AvgPool; per head ``headN_pool`` AvgPool, ``headN_bottleneck/reshape`` Reshape (2048 features),
#   ``nnN_pre_relu/matmul`` MatMul -> BiasAdd -> ``nnN`` Relu (1024), ``nnN/reshape``,
#   ``softmaxN_pre_activation/matmul`` -> BiasAdd -> ``softmaxN`` Softmax (1008 classes); then
#   ``avgpool0/reshape``, ``softmax2*``, and Identity ``output``, ``output1``, ``output2``.
# * old-style Concat (axis Const first): lucid ``modelzoo/other_models/InceptionV1.py`` reads the towers
#   as ``op.inputs[1:]``; input name ``'input'`` (lucid ``input_name``, TF deepdream tutorial's
#   ``tf.import_graph_def(graph_def, {'input': t_preprocessed})``), RGB in [0, 255] minus 117.
# * LRN attributes: :data:`helpers.nets.inception.GRAPH_LRN` (lucent PR #51's node dump).
# * head pools 5x5 stride 3 VALID; ``avgpool0`` 7x7 stride 1 VALID (GoogLeNet's global pool at 224 px).
# * zip members: ``unzip inception5h.zip`` transcripts in public READMEs (e.g. TensorFlow Go/Java
#   hello-world examples): imagenet_comp_graph_label_strings.txt, tensorflow_inception_graph.pb,
#   LICENSE, in that order; the real zip is 49,937,555 bytes.
# * lucent's inception5h.pth: the parameter names of greentfrapp/lucent
#   ``lucent/modelzoo/inceptionv1/InceptionV1.py`` (``<layer>_pre_relu_conv`` Conv2d modules, per block
#   1x1, 3x3_bottleneck, 5x5_bottleneck, pool_reduce, 3x3, 5x5; ``softmax2_pre_activation_matmul``
#   Linear 1024 -> 1008; no head0/head1 modules).
INCEPTION5H_ZIP_MEMBERS = ("imagenet_comp_graph_label_strings.txt", "tensorflow_inception_graph.pb", "LICENSE")
_N_CLASSES, _NN_IN, _NN_OUT = 1008, 2048, 1024
_STAND_IN_LICENSE = ("STAND-IN rehearsal file written by helpers.testing.rehearsal: seeded random weights in the layout of "
                     "Google's inception5h.zip, not Google's trained network.\n")


def _inception_heads(seed: int) -> dict:
    """Seeded stand-in weights of the classifier heads (nn0/nn1 2048 -> 1024, softmax0/1/2 1024 -> 1008)."""
    rng = np.random.default_rng([int(seed), 5])
    out = {}
    for name, (i, o) in {"nn0": (_NN_IN, _NN_OUT), "softmax0": (_NN_OUT, _N_CLASSES), "nn1": (_NN_IN, _NN_OUT),
                         "softmax1": (_NN_OUT, _N_CLASSES), "softmax2": (_NN_OUT, _N_CLASSES)}.items():
        out[f"{name}_w"] = (rng.standard_normal((i, o), dtype=np.float32) * np.float32(np.sqrt(2.0 / i)))
        out[f"{name}_b"] = np.zeros(o, np.float32)
    return out


def graph_node(g, name: str, op: str, inputs=(), **attrs):
    """Append a NodeDef to the GraphDef ``g``; each attribute's kind follows its value: ``T`` and
    ``dtype`` are DataType enums, then bytes -> ``s``, bool -> ``b``, float -> ``f``, int -> ``i``,
    list -> ``list.i``, anything else a TensorProto (``tensor``). Returns the node.

    Used in: no notebook; by :func:`helpers.testing.rehearsal.inception5h_graphdef`; ``tests/test_inception.py``.
    """
    n = g.node.add(name=name, op=op)
    n.input.extend(inputs)
    for k, v in attrs.items():
        a = n.attr[k]
        if k in ("T", "dtype"):
            a.type = v
        elif isinstance(v, bytes):
            a.s = v
        elif isinstance(v, bool):
            a.b = v
        elif isinstance(v, float):
            a.f = v
        elif isinstance(v, int):
            a.i = v
        elif isinstance(v, list):
            a.list.i.extend(v)
        else:
            a.tensor.CopyFrom(v)
    return n


def inception5h_graphdef(*, seed: int = 0, conv1x1_padding: str = "SAME", lrn: dict | None = None,
                         concat_order: dict | None = None):
    """The stand-in inception5h network (:func:`helpers.nets.inception.random_model`) as a TF1 ``GraphDef``
    message with the real graph's node names, op types, attributes and order (sources above).

    Args:
        seed: stand-in seed (same weights as ``random_model(seed=seed)``).
        conv1x1_padding: padding attribute written on the 1x1 convolutions ("SAME" or "VALID").
        lrn: LRN attributes to write (default :data:`helpers.nets.inception.GRAPH_LRN`); keys left out
            are omitted from the node (TF then uses its op defaults).
        concat_order: ``{block: [tower, ...]}`` to write a mixed block's Concat inputs in another
            order (the stand-in's weights are then read in that channel order too, so the graph
            stays self-consistent only if the next layer's weights are permuted; for tests).

    Used in: no notebook; by :func:`helpers.testing.rehearsal.write_inception5h_graph`,
        :func:`helpers.testing.rehearsal.write_inception5h_zip`; ``tests/test_inception.py``.
    """
    model = inception.random_model(seed=seed)
    heads = _inception_heads(seed)
    lrn = dict(inception.GRAPH_LRN) if lrn is None else dict(lrn)
    g = graph_pb2.GraphDef()
    g.versions.producer = 9  # an old (2015-era) producer version; the converter does not read it

    def node(name, op, inputs=(), **attrs):
        return graph_node(g, name, op, inputs, **attrs)

    f32 = types_pb2.DT_FLOAT

    def const(name, arr):
        arr = np.asarray(arr)
        node(name, "Const", dtype=types_pb2.DT_INT32 if arr.dtype == np.int32 else f32,
             value=tensor_util.make_tensor_proto(arr))

    node("input", "Placeholder", dtype=f32)
    for name in inception.CONVS:  # every Const first, as in the real graph
        base = name[:-len("_pre_relu")]
        m = getattr(model, f"{name}_conv")
        const(f"{base}_w", m.weight.detach().numpy().transpose(2, 3, 1, 0))  # OIHW -> HWIO
        const(f"{base}_b", m.bias.detach().numpy())
        if base.endswith("_bottleneck") and base.startswith("head"):
            k = base[len("head")]
            for h in (f"nn{k}", f"softmax{k}"):
                const(f"{h}_w", heads[f"{h}_w"])
                const(f"{h}_b", heads[f"{h}_b"])
    const("softmax2_w", heads["softmax2_w"])
    const("softmax2_b", heads["softmax2_b"])

    def dense(src, features, layer, act):
        const(f"{src}/reshape/shape", np.array([-1, features], np.int32))
        node(f"{src}/reshape", "Reshape", [src, f"{src}/reshape/shape"], T=f32)
        suffix = "pre_relu" if act == "Relu" else "pre_activation"
        node(f"{layer}_{suffix}/matmul", "MatMul", [f"{src}/reshape", f"{layer}_w"], T=f32, transpose_a=False,
             transpose_b=False)
        node(f"{layer}_{suffix}", "BiasAdd", [f"{layer}_{suffix}/matmul", f"{layer}_b"], T=f32)
        node(layer, act, [f"{layer}_{suffix}"], T=f32)

    for name, (op, inputs, attrs) in inception.NODES.items():
        cfg = model.config.get(name, {})
        if op == "conv":
            base = name[:-len("_pre_relu")]
            m = getattr(model, f"{name}_conv")
            s, k = m.stride[0], m.kernel_size[0]
            pad = conv1x1_padding.encode() if k == 1 else b"SAME"
            node(f"{name}/conv", "Conv2D", [inputs[0], f"{base}_w"], T=f32, strides=[1, s, s, 1], padding=pad,
                 use_cudnn_on_gpu=True)
            node(name, "BiasAdd", [f"{name}/conv", f"{base}_b"], T=f32)
        elif op == "relu":
            node(name, "Relu", list(inputs), T=f32)
            if name == "head0_bottleneck" or name == "head1_bottleneck":
                k = name[len("head")]
                dense(name, _NN_IN, f"nn{k}", "Relu")
                dense(f"nn{k}", _NN_OUT, f"softmax{k}", "Softmax")
        elif op in ("maxpool", "avgpool"):
            if name == "head0_pool":  # avgpool0 (the global pool) follows mixed5b, before the heads
                node("avgpool0", "AvgPool", ["mixed5b"], T=f32, ksize=[1, 7, 7, 1], strides=[1, 1, 1, 1],
                     padding=b"VALID")
            k, s = cfg["ksize"], cfg["stride"]
            node(name, "MaxPool" if op == "maxpool" else "AvgPool", list(inputs), T=f32, ksize=[1, k, k, 1],
                 strides=[1, s, s, 1], padding=cfg["padding"].encode())
        elif op == "lrn":
            node(name, "LRN", list(inputs), T=f32, **{k: (int(v) if k == "depth_radius" else float(v))
                                                       for k, v in lrn.items()})
        elif op == "concat":
            towers = list((concat_order or {}).get(name, inputs))
            const(f"{name}/concat_dim", np.array(3, np.int32))
            node(name, "Concat", [f"{name}/concat_dim", *towers], N=len(towers), T=f32)
    dense("avgpool0", _NN_OUT, "softmax2", "Softmax")
    for out, src in (("output", "softmax0"), ("output1", "softmax1"), ("output2", "softmax2")):
        node(out, "Identity", [src], T=f32)
    # not in Google's graph: an unused string Const by which loaders recognise a rehearsal file
    # (helpers.nets.graphdef.REHEARSAL_MARK), so outputs made from it are labelled STAND-IN
    node(graphdef.REHEARSAL_MARK, "Const", dtype=types_pb2.DT_STRING,
         value=tensor_util.make_tensor_proto(np.array(_STAND_IN_LICENSE.strip().encode(), dtype=object)))
    return g


def write_inception5h_graph(path, *, seed: int = 0, **kwargs):
    """Write ``tensorflow_inception_graph.pb`` (a serialized GraphDef, see :func:`inception5h_graphdef`).

    Returns:
        Path: ``path``.

    Used in: no notebook; ``benchmarks/dream.py``, ``tests/test_rehearsal_inception.py``.
    """
    return io.write_bytes(path, inception5h_graphdef(seed=seed, **kwargs).SerializeToString())


def write_inception5h_zip(path, *, seed: int = 0, **kwargs):
    """Write ``inception5h.zip`` as Google ships it: label strings, the graph and LICENSE (deflated).

    The 1008 label lines and the LICENSE text say STAND-IN. ``kwargs`` go to :func:`inception5h_graphdef`.

    Returns:
        Path: ``path``.

    Used in: no notebook; by :func:`helpers.testing.rehearsal.write_all`; ``tests/test_models.py``,
        ``tests/test_rehearsal_inception.py``.
    """
    graph = inception5h_graphdef(seed=seed, **kwargs).SerializeToString()
    labels = "".join(f"stand-in class {i}\n" for i in range(_N_CLASSES))
    with io.atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
            for member, data in zip(INCEPTION5H_ZIP_MEMBERS, (labels.encode(), graph, _STAND_IN_LICENSE.encode())):
                z.writestr(member, data)
    return Path(path)


# torch-lucent's InceptionV1 module order within a mixed block (lucent/modelzoo/inceptionv1/InceptionV1.py)
_LUCENT_BLOCK_ORDER = ("1x1", "3x3_bottleneck", "5x5_bottleneck", "pool_reduce", "3x3", "5x5")


def lucent_state_dict(*, seed: int = 0) -> dict:
    """The stand-in's weights under torch-lucent's ``inception5h.pth`` keys, in lucent's order.

    Used in: no notebook; by :func:`helpers.testing.rehearsal.write_lucent_pth`.
    """
    model = inception.random_model(seed=seed)
    names = ["conv2d0", "conv2d1", "conv2d2"] + [f"{b}_{t}" for b in inception._MIXED for t in _LUCENT_BLOCK_ORDER]
    sd = collections.OrderedDict()
    for n in names:
        m = getattr(model, f"{n}_pre_relu_conv")
        sd[f"{n}_pre_relu_conv.weight"] = m.weight.detach().clone()
        sd[f"{n}_pre_relu_conv.bias"] = m.bias.detach().clone()
    heads = _inception_heads(seed)
    sd["softmax2_pre_activation_matmul.weight"] = torch.from_numpy(heads["softmax2_w"].T.copy())  # Linear: out x in
    sd["softmax2_pre_activation_matmul.bias"] = torch.from_numpy(heads["softmax2_b"].copy())
    return sd


def write_lucent_pth(path, *, seed: int = 0):
    """Write torch-lucent's ``inception5h.pth`` layout (``torch.save`` of a state dict; no head0/head1).

    Returns:
        Path: ``path``.

    Used in: no notebook; by :func:`helpers.testing.rehearsal.write_all`; ``tests/test_rehearsal_inception.py``.
    """
    with io.atomic_path(path) as tmp:
        torch.save(lucent_state_dict(seed=seed), tmp)
    return Path(path)


# === BigGAN-deep-256 and ResNet-152 ============================================================

BIGGAN_WEIGHTS = "pytorch_model.bin"  # pytorch_pretrained_biggan.model.WEIGHTS_NAME
BIGGAN_CONFIG = "config.json"  # pytorch_pretrained_biggan.model.CONFIG_NAME
RESNET_REHEARSAL_NAME = "resnet152-rehearsal.pth"
ALEXNET_REHEARSAL_NAME = "alexnet-rehearsal.pth"
_WRITTEN: dict = {}  # (writer, seed) -> files written earlier in this process, copied instead of rebuilt


def _reuse(key, targets) -> bool:
    """Copy the files an earlier call wrote for ``key`` to ``targets`` (same order); False if none."""
    earlier = _WRITTEN.get(key)
    if not earlier or not all(Path(e).exists() for e in earlier):
        return False
    for src, dst in zip(earlier, targets):
        if Path(src).resolve() != Path(dst).resolve():
            shutil.copyfile(src, dst)
    return True


def _forget_records(*files) -> None:
    """Remove sha256 records (helpers.download) of files about to be rewritten."""
    for f in files:
        download.record_path(f).unlink(missing_ok=True)


def write_biggan_deep_256(folder, *, seed: int = 0):
    """BigGAN-deep-256 as pytorch_pretrained_biggan saves it, holding seeded stand-in weights.

    Made through the package's own code path: ``BigGAN(BigGAN256)`` with the package's config
    constant (``pytorch_pretrained_biggan.convert_tf_to_pytorch.BigGAN256``, the config the published
    weights were converted with), initialised as :func:`helpers.nets.models.load` initialises its stand-in
    (``generator.bn`` set, spectral-norm ``u``/``v`` power-iterated, batch-norm statistics calibrated),
    then saved as the package's converter saves a model (``convert_tf_to_pytorch.main``):
    ``torch.save(model.state_dict(), folder/"pytorch_model.bin")`` (``weight_orig``, ``weight_u``,
    ``weight_v``; torch's spectral-norm version metadata) and ``config.to_json_string()`` written to
    ``folder/"config.json"`` (``BigGANConfig`` has no ``to_json_file``). ``BigGAN.from_pretrained(folder)``
    loads the folder, and so does :func:`helpers.nets.models.load` (``path=`` or ``$NA_WEIGHTS_BIGGAN_DEEP_256``
    pointing at ``pytorch_model.bin``; the ``config.json`` beside it is used). The files are not linked under
    the names of the package's download URLs: those names carry the pinned sha256 of the real files
    (:mod:`helpers.sources`), which stand-in weights (rightly) fail. A marker
    (:func:`helpers.nets.models.mark_stand_in`) keeps everything made from the files labelled STAND-IN.

    The first call in a process builds the network (a few seconds); later calls with the same seed
    copy the bytes.

    Args:
        folder: output folder (created).
        seed: seed of the stand-in weights.

    Returns:
        Path of ``folder/pytorch_model.bin``.

    Used in: no notebook; by :func:`helpers.testing.rehearsal.write_all`; ``benchmarks/biggan.py``,
        ``tests/test_models.py``, ``tests/test_rehearsal_biggan.py``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights, config = folder / BIGGAN_WEIGHTS, folder / BIGGAN_CONFIG
    key = ("biggan-deep-256", int(seed))
    real_names = [folder / sources.WEIGHTS["biggan-deep-256"].filename, folder / sources.BIGGAN_CONFIG.filename]
    _forget_records(weights, config, *real_names)
    for f in real_names:  # links of earlier versions of this writer: a stand-in under a pinned name
        if f.is_symlink():
            f.unlink()
    if not _reuse(key, [weights, config]):
        model = models._biggan_random(int(seed))  # BigGAN(BigGAN256) + the stand-in initialisation
        torch.save(model.state_dict(), weights)
        config.write_text(model.config.to_json_string(), encoding="utf-8")
        _WRITTEN[key] = [weights, config]
    for src in (weights, config):
        models.mark_stand_in(src, writer="helpers.testing.rehearsal.write_biggan_deep_256", seed=int(seed))
    return weights


def write_resnet152(path, *, seed: int = 0):
    """ResNet-152 as torchvision's ``resnet152-394f9c45.pth`` is: ``torch.save`` of the model's state dict.

    The weights are torchvision's seeded random initialisation (``resnet152(weights=None)``). The
    file is *not* written under torchvision's name ``resnet152-394f9c45.pth``: that name carries the
    first digits of the real file's sha256, which :func:`helpers.nets.models.load` checks, and a stand-in
    must fail that check. Point ``$NA_WEIGHTS_RESNET152`` or ``path=`` at the file instead (a
    non-canonical name is verified against the sha256 recorded at first load).

    Args:
        path: file to write, or a folder (the file is then ``resnet152-rehearsal.pth`` in it).
        seed: seed of the stand-in weights.

    Returns:
        Path of the written file.

    Raises:
        ValueError: ``path`` is named ``resnet152-394f9c45.pth``.

    Used in: no notebook; by :func:`helpers.testing.rehearsal.write_all`; ``tests/test_models.py``.
    """
    return _write_torchvision("resnet152", path, RESNET_REHEARSAL_NAME, seed)


def write_alexnet(path, *, seed: int = 0):
    """AlexNet as torchvision's ``alexnet-owt-7be5be79.pth`` is (the CNN measures of ``helpers.measures.aesthetics``).

    As :func:`write_resnet152`: a ``torch.save`` of the state dict of torchvision's seeded random
    initialisation, never under the real file's name (its sha256 prefix is pinned); point
    ``$NA_WEIGHTS_ALEXNET`` or ``path=`` at it. The folder default name is ``alexnet-rehearsal.pth``.

    Used in: no notebook; by :func:`helpers.testing.rehearsal.write_all`; ``benchmarks/features.py``,
        ``tests/test_models.py``, ``tests/test_rehearsal_features.py``.
    """
    return _write_torchvision("alexnet", path, ALEXNET_REHEARSAL_NAME, seed)


def _write_torchvision(name: str, path, default_name: str, seed: int):
    """A torchvision network's seeded stand-in saved as torchvision saves the real weights (see write_resnet152)."""
    path = Path(path)
    if path.is_dir() or not path.suffix:
        path = path / default_name
    if path.name == sources.WEIGHTS[name].filename:
        raise ValueError(f"write_{name}: {path.name} is the real file's name, whose sha256 prefix is pinned; "
                         f"a stand-in under that name would (rightly) be refused. Use another name, e.g. {default_name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = (name, int(seed))
    _forget_records(path)
    if not _reuse(key, [path]):
        torch.save(models._torchvision_random(name, int(seed)).state_dict(), path)
        _WRITTEN[key] = [path]
    models.mark_stand_in(path, writer=f"helpers.testing.rehearsal.write_{name}", seed=int(seed))
    return path


# === ArtBench-10 (CIFAR-python, CIFAR-binary, ImageFolder, CSV) ===============================
# Layouts and names from helpers.search.artbench (which cites liaopeiyuan/artbench@57fbb92 and public loaders
# of the real files). Pixels are helpers.search.artbench.demo_painting stand-ins; the CSV has the real
# columns with clearly fake values (demo-artist-*, example.invalid URLs), and DEMO-NOT-ARTBENCH.txt
# beside the files makes every figure say DEMO CORPUS.
ARTBENCH_LAYOUTS = ("cifar-python", "cifar-binary", "imagefolder-split", "imagefolder")


def _artbench_plan(n_per_style: int, seed: int):
    """(style, split, cifar_index) for every stand-in image: 1/6 of each style in test, as 1,000 of 6,000."""
    if n_per_style < 2:
        raise ValueError(f"write_artbench: n_per_style must be >= 2 (one train and one test image), got {n_per_style}")
    rng = np.random.default_rng(seed)
    n_test = max(1, round(n_per_style / 6))
    plan = {"train": [], "test": []}
    for s in range(len(artbench.STYLES)):
        plan["train"] += [s] * (n_per_style - n_test)
        plan["test"] += [s] * n_test
    for split in plan:  # the real batches mix the styles
        rng.shuffle(plan[split])
    return [(s, split, i) for split in ("train", "test") for i, s in enumerate(plan[split])]


def write_artbench(folder, *, layout: str = "cifar-python", n_per_style: int = 12, seed: int = 0,
                   filenames: bool = False) -> "Path":
    """Write a stand-in ArtBench-10 in one of its real on-disk layouts, with ``ArtBench-10.csv``.

    * ``"cifar-python"``: ``artbench-10-python.tar.gz`` holding ``artbench-10-batches-py/`` with
      pickled dicts ``data_batch_1..5`` / ``test_batch`` (``data`` N x 3072 uint8 in R, G, B planes,
      ``labels``; ``filenames`` only with ``filenames=True``) and ``meta`` (``styles``); 32 px.
    * ``"cifar-binary"``: ``artbench-10-binary.tar.gz`` holding ``artbench-10-batches-bin/`` with
      ``data_batch_1..5.bin`` / ``test_batch.bin`` (3,073-byte records: label byte + pixels) and
      ``batches.meta.txt``; 32 px.
    * ``"imagefolder-split"`` / ``"imagefolder"``: the ``.tar`` of 256x256 JPEGs
      (``<split>/<style>/<name>.jpg`` or ``<style>/<name>.jpg``), extracted beside it by
      :func:`helpers.search.artbench.download_artbench`'s own extraction code.

    Train images fill the five train batches in consecutive blocks; ``cifar_index`` is the
    position within the split's concatenated batches, as in the real CSV.

    Args:
        folder: output folder (also what ``NA_DATA_DIR`` should point at).
        layout: one of :data:`ARTBENCH_LAYOUTS`.
        n_per_style: images per style (about 1/6 of them in the test split; the real set has 6,000).
        seed: seeds the pixels, the shuffling and the fake titles.
        filenames: also store ``filenames`` in the CIFAR-python batches (CIFAR-10 does; the
            official ArtBench loader does not read them).

    Returns:
        The path :func:`helpers.search.artbench.read_corpus` takes: the CIFAR archive or the extracted
        ImageFolder root.

    Used in: no notebook; by :func:`helpers.testing.rehearsal.write_all`; ``tests/test_artbench.py``,
        ``tests/test_rehearsal_artbench.py``.
    """
    if layout not in ARTBENCH_LAYOUTS:
        raise ValueError(f"write_artbench: layout must be one of {ARTBENCH_LAYOUTS}, got {layout!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed + 1)
    plan = _artbench_plan(n_per_style, seed)
    cifar = layout.startswith("cifar")
    size = 32 if cifar else 256
    rows, pixels = [], []
    for j, (s, split, ci) in enumerate(plan):
        pixels.append(artbench.demo_painting(rng, s, size))
        rows.append(artbench.demo_row(j, s, rng, size=size, split=split, cifar_index=ci))
    io.save_table(pd.DataFrame(rows, columns=list(artbench.CSV_COLUMNS)), folder / artbench.METADATA_FILE)
    io.write_bytes(folder / artbench.DEMO_MARKER, (artbench.DEMO_CORPUS_NOTE + "\n").encode())
    archive = folder / sources.ARTBENCH_URLS[layout].rsplit("/", 1)[1]

    def add(tar, name, data: bytes):
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = len(data), 0, 0o644
        tar.addfile(info, _io.BytesIO(data))

    if cifar:
        batches = {b: [] for b in (*artbench.TRAIN_BATCHES, artbench.TEST_BATCH)}
        for j, (s, split, ci) in enumerate(plan):
            b = artbench.TEST_BATCH if split == "test" else artbench.TRAIN_BATCHES[ci * 5 // max(1, _n(plan, "train"))]
            batches[b].append(j)
        with io.atomic_path(archive, suffix=".tmp") as tmp, tarfile.open(tmp, "w:gz") as tar:
            for b, js in batches.items():
                data = np.stack([pixels[j].transpose(2, 0, 1).reshape(-1) for j in js]) if js else np.zeros((0, 3072), np.uint8)
                labels = [plan[j][0] for j in js]
                if layout == "cifar-python":
                    entry = {"batch_label": f"stand-in {b}", "labels": labels, "data": data}
                    if filenames:
                        entry["filenames"] = [rows[j]["name"] for j in js]
                    add(tar, f"{artbench.CIFAR_PYTHON_FOLDER}/{b}", pickle.dumps(entry, protocol=2))
                else:
                    rec = np.concatenate([np.array(labels, np.uint8)[:, None], data], axis=1) if js else data
                    add(tar, f"{artbench.CIFAR_BINARY_FOLDER}/{b}.bin", rec.astype(np.uint8).tobytes())
            if layout == "cifar-python":
                add(tar, f"{artbench.CIFAR_PYTHON_FOLDER}/meta", pickle.dumps({"styles": list(artbench.STYLES)}, protocol=2))
            else:
                add(tar, f"{artbench.CIFAR_BINARY_FOLDER}/{artbench.BINARY_META}", ("\n".join(artbench.STYLES) + "\n").encode())
        return archive
    top = f"artbench-10-{layout}"
    with io.atomic_path(archive, suffix=".tmp") as tmp, tarfile.open(tmp, "w") as tar:
        for (s, split, _), row, img in zip(plan, rows, pixels):
            buf = _io.BytesIO()
            Image.fromarray(img).save(buf, format="JPEG", quality=90)
            sub = f"{split}/{artbench.STYLES[s]}" if layout == "imagefolder-split" else artbench.STYLES[s]
            add(tar, f"{top}/{sub}/{row['name']}", buf.getvalue())
    root = artbench._extract_once(archive, folder)
    io.write_bytes(root / artbench.DEMO_MARKER, (artbench.DEMO_CORPUS_NOTE + "\n").encode())
    return root


def _n(plan, split):
    return sum(1 for p in plan if p[1] == split)


# === all at once ==============================================================================
def write_all(folder, *, seed: int = 0, artbench_layouts=("cifar-python", "imagefolder-split"), n_per_style: int = 12,
              set_env: bool = False) -> dict:
    """Write every rehearsal file under ``folder``: the four networks (AlexNet for the CNN measures) and ArtBench-10 layouts.

    Args:
        folder: output folder (created); networks go to ``folder/weights``, ArtBench to ``folder/data``.
        seed: seed of every stand-in.
        artbench_layouts: ArtBench-10 layouts to write (:func:`write_artbench`).
        n_per_style: ArtBench images per style.
        set_env: also point ``NA_WEIGHTS_*`` and ``NA_DATA_DIR`` of this process at the files.

    Returns:
        dict: ``env`` (variable -> path, what a shell would export) and ``files`` (name -> path).

    Used in: no notebook; by :func:`helpers.testing.rehearsal.main`; ``benchmarks/class_chain.py``.
    """
    folder = Path(folder)
    weights, data = folder / "weights", folder / "data"
    weights.mkdir(parents=True, exist_ok=True)
    files = {
        "inception5h": write_inception5h_zip(weights / "inception5h.zip", seed=seed),
        "inception5h-lucent": write_lucent_pth(weights / "inception5h.pth", seed=seed),
        "biggan-deep-256": write_biggan_deep_256(weights / "biggan-deep-256", seed=seed),
        "resnet152": write_resnet152(weights, seed=seed),
        "alexnet": write_alexnet(weights, seed=seed),
    }
    biggan = files["biggan-deep-256"]
    for layout in artbench_layouts:
        files[f"artbench-{layout}"] = write_artbench(data, layout=layout, n_per_style=n_per_style, seed=seed)
    env = {"NA_WEIGHTS_INCEPTION5H": str(files["inception5h"]), "NA_WEIGHTS_BIGGAN_DEEP_256": str(biggan),
           "NA_WEIGHTS_RESNET152": str(files["resnet152"]), "NA_WEIGHTS_ALEXNET": str(files["alexnet"]),
           "NA_DATA_DIR": str(data)}
    if set_env:
        os.environ.update(env)
    return {"env": env, "files": files}


def main(argv=None) -> int:
    """``python -m helpers.testing.rehearsal FOLDER``: write every rehearsal file, print the exports that use them.

    Used in: the command line (``python -m helpers.testing.rehearsal FOLDER``).
    """
    ap = argparse.ArgumentParser(prog="python -m helpers.testing.rehearsal", description=main.__doc__)
    ap.add_argument("folder", help="output folder")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-per-style", type=int, default=12, help="ArtBench-10 stand-in images per style")
    args = ap.parse_args(argv)
    out = write_all(args.folder, seed=args.seed, n_per_style=args.n_per_style)
    print("# rehearsal files (STAND-IN weights in the real formats); to use them:")
    for k, v in out["env"].items():
        print(f"export {k}={v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Reading inception5h weights from their files: Google's GraphDef (zip or .pb), torch-lucent's .pth, or a converted file.

:func:`from_file` loads :class:`helpers.nets.inception.InceptionV1` from ``inception5h.zip`` or
``tensorflow_inception_graph.pb`` (converted without TensorFlow by :func:`convert_graphdef`, cached as a
state dict in :func:`helpers.paths.cache` with its sha256 recorded), torch-lucent's ``inception5h.pth`` (no
auxiliary-head weights: ``head*_bottleneck*`` stay unavailable; LRN with the graph's constants
:data:`helpers.nets.inception.GRAPH_LRN`, not those of lucent's module), or a converted file. An unreadable
file raises a ValueError saying what the file is not and what was found instead.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch
from google.protobuf.message import DecodeError
from tensorboard.compat.proto import graph_pb2

from helpers import download, io, paths
from helpers.nets.inception import CONVS, FORMAT, GRAPH_LRN, NODES, TF_LRN_DEFAULTS, InceptionV1, model_from_state, ancestors

def _tensor(node, nodes):
    """The ndarray value of a Const ``node`` (following Identity nodes)."""
    # imported here: 0.15 s (measured after torch), and only a graph's first conversion needs it
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

    Used in: notebook 01 (p1-dream-contact-sheet.png, p1-dream-octaves.png) through
        :func:`helpers.nets.models.load` (network ``"inception5h"``).
    """
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
# and LICENSE (see helpers.testing.rehearsal.INCEPTION5H_ZIP_MEMBERS for the sources).
GRAPH_MEMBER = "tensorflow_inception_graph.pb"


REHEARSAL_MARK = "rehearsal/stand_in"  # string Const of helpers.testing.rehearsal's files (not in Google's graph)


def _found(data: bytes) -> str:
    """A short description of what a file's first bytes look like (for error messages)."""
    head = data[:16]
    kinds = [(b"PK\x03\x04", "a zip archive"), (b"\x80", "a pickle"), (b"\x89PNG", "a PNG image"),
             (b"<", "text/HTML"), (b"\x1f\x8b", "a gzip file")]
    kind = next((k for magic, k in kinds if head.startswith(magic)), "unrecognised bytes")
    return f"{kind}, first bytes {head!r}"


def _parse_graphdef(data: bytes, where: str):
    """``data`` as a GraphDef, or ValueError("<where>: not a TensorFlow GraphDef: ...")."""
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
    """Cache file of the state dict converted from the graph with this sha256.

    Used in: notebook 01 (p1-dream-contact-sheet.png, p1-dream-octaves.png) through
        :func:`helpers.nets.models.load` (network ``"inception5h"``).
    """
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

    Used in: notebook 01 (p1-dream-contact-sheet.png, p1-dream-octaves.png) through
        :func:`helpers.nets.models.load` (network ``"inception5h"``).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"InceptionV1 weights file {path} does not exist")
    is_graph = path.suffix in (".zip", ".pb") and not _is_torch_zip(path)
    if is_graph:
        src_sha = download.sha256sum(path)
        cached = converted_path(src_sha)
        # one process converts, others wait for its file (two writers at once left a checksum record of one
        # writer's bytes beside the other's file)
        with io.exclusive(cached):
            if cached.exists():
                download.verify(cached)
                return from_file(cached)
            raw, where = _read_graph_bytes(path)
            data = convert_graphdef(_parse_graphdef(raw, where))
            data["source_sha256"], data["source_file"] = src_sha, path.name
            with io.atomic_path(cached) as tmp:
                torch.save(data, tmp)
            download.verify(cached)  # records the converted file's sha256
        model = model_from_state(data["state_dict"], config=data["config"], unavailable=data["unavailable"])
        model.rehearsal_stand_in = REHEARSAL_MARK in data["unused"]
        return model
    data = _torch_load(path)
    if isinstance(data, dict) and data.get("format") == FORMAT:
        model = model_from_state(data["state_dict"], config=data["config"], unavailable=data["unavailable"])
        model.rehearsal_stand_in = REHEARSAL_MARK in data.get("unused", ())
        return model
    if isinstance(data, dict) and "conv2d0_pre_relu_conv.weight" in data:  # torch-lucent / ProGamerGov port
        missing = {n for n in CONVS if f"{n}_conv.weight" not in data}
        unavailable = {n for n in NODES if any(m in ancestors(n) for m in missing)}
        # the same graph's weights: its LRN attributes, not lucent's MMdnn-converted constants
        config = {"localresponsenorm0": dict(GRAPH_LRN), "localresponsenorm1": dict(GRAPH_LRN)}
        try:
            return model_from_state(data, config=config, unavailable=unavailable)
        except RuntimeError as exc:
            raise ValueError(f"{path}: not a lucent state dict of inception5h: {exc}") from None
    found = (f"a dict of {len(data)} keys such as {sorted(map(str, data))[:5]}" if isinstance(data, dict)
             else f"a {type(data).__name__}")
    raise ValueError(f"{path}: not a lucent state dict (no 'conv2d0_pre_relu_conv.weight' key) nor a converted "
                     f"inception5h file (no '{FORMAT}' format tag): found {found}")

"""The CNN measures of the Aesthetics Toolbox: self-similarity, symmetry, sparseness and variability of conv1 responses.

Brachmann & Redies 2016, 2017: the responses of AlexNet's first convolutional layer to the image resized
to 512 x 512 px, max-pooled over patches. The toolbox uses the conv1 filters of Caffe's ``bvlc_alexnet``
(:func:`toolbox_conv1`); by default this module uses torchvision's AlexNet conv1 (:func:`alexnet_conv1`,
loaded through :func:`helpers.nets.models.load`), which gives different numbers. This is the one measure
module that runs a network (torch's conv2d on the filters), so the only one that imports torch.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from skimage.transform import resize

from helpers import io
from helpers.measures.aesthetics_base import toolbox_image
from helpers.nets import models

CNN_SIZE = 512  # px; the image is resized (bilinear, anti-aliased) to CNN_SIZE x CNN_SIZE


CNN_STRIDE = 4


@dataclass(frozen=True, eq=False)
class Conv1:
    """First-layer filters for the CNN measures, applied to a 0-255 RGB image minus ``mean``.

    Attributes:
        weight: ``float (n_filters, 3, kh, kw)``, input channels in RGB order, per 0-255 unit.
        bias: ``float (n_filters,)``.
        mean: ``float (3,)`` RGB values (0-255 scale) subtracted from the resized image.
        source: where the filters come from, for labels ("pretrained", "random", "toolbox").
        description: one line for titles and manifests.

    Used in: notebook 02 through :func:`helpers.measures.table.table` (measure group ``"aesthetics"``).
    """

    weight: np.ndarray
    bias: np.ndarray
    mean: np.ndarray
    source: str
    description: str = ""

    @property
    def is_stand_in(self) -> bool:
        return self.source == "random"


# Caffe's ImageNet mean of bvlc_alexnet in BGR order, as the toolbox subtracts it (AT/CNN_qips.py).
CAFFE_MEAN_BGR = (104.00698793, 116.66876762, 122.67891434)


# torchvision's AlexNet_Weights.IMAGENET1K_V1 transforms (ImageClassification defaults).
TORCHVISION_MEAN, TORCHVISION_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def toolbox_conv1(path) -> Conv1:
    """The Aesthetics Toolbox's conv1 filters (Caffe ``bvlc_alexnet``), from its ``.npy`` or an ``.npz``.

    Args:
        path: the toolbox's ``AT/bvlc_alexnet_conv1.npy`` (a pickled ``[kernel, bias]`` pair,
            read with a numpy-arrays-only unpickler) or an ``.npz`` with ``kernel``
            ``(11, 11, 3, 96)`` (BGR input channels) and ``bias`` ``(96,)``.

    Returns:
        :class:`Conv1` with the filters reordered to RGB input and the Caffe mean.

    Used in: no notebook; ``benchmarks/aesthetics.py``, ``tests/test_aesthetics.py``.
    """
    p = Path(path)
    if p.suffix == ".npz":
        with np.load(p, allow_pickle=False) as z:
            kernel, bias = z["kernel"], z["bias"]
    else:
        with open(p, "rb") as fh:
            major, _ = np.lib.format.read_magic(fh)
            read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(fh)
            if dtype.hasobject:
                kernel, bias = io.load_numpy_pickle(fh, encoding="latin1")
            else:
                raise ValueError(f"{p}: expected the toolbox's pickled [kernel, bias] pair, got a plain {dtype} array {shape}")
    kernel, bias = np.asarray(kernel), np.asarray(bias)
    if kernel.ndim != 4 or kernel.shape[2] != 3 or bias.shape != (kernel.shape[3],):
        raise ValueError(f"{p}: expected kernel (kh, kw, 3, n) and bias (n,), got {kernel.shape} and {bias.shape}")
    weight = kernel.transpose(3, 2, 0, 1)[:, ::-1]  # (n, BGR, kh, kw) -> (n, RGB, kh, kw)
    return Conv1(np.ascontiguousarray(weight), bias, np.array(CAFFE_MEAN_BGR[::-1]), "toolbox",
                 f"Aesthetics Toolbox conv1 (Caffe bvlc_alexnet, 96 filters) from {p.name}")


def alexnet_conv1(*, source: str = "auto", path=None, seed: int = 0, progress: bool = True) -> Conv1:
    """torchvision's AlexNet conv1 (64 filters, 11x11) through :func:`helpers.nets.models.load`.

    torchvision's preprocessing (``x / 255``, minus ``TORCHVISION_MEAN``, over
    ``TORCHVISION_STD``) is folded into the filters, so they act on a 0-255 image minus
    ``255 * TORCHVISION_MEAN``. Stride 4 and no padding, as the toolbox's measures use
    (torchvision's network pads by 2). These filters differ from the toolbox's Caffe
    filters, and so do the measures' values.

    Args:
        source: ``"pretrained"``/``"auto"`` (real weights, downloaded on first use) or
            ``"random"`` (seeded stand-in, labelled as such).
        path: local ``alexnet-owt-7be5be79.pth`` (offline machines).
        seed: seed of the stand-in.
        progress: show download progress.

    Used in: notebook 02 through :func:`helpers.measures.table.table` (measure group ``"aesthetics"``).
    """
    net = models.load("alexnet", source=source, path=path, seed=seed, progress=progress)
    conv = net.features[0]
    std = np.array(TORCHVISION_STD)
    weight = conv.weight.detach().double().cpu().numpy() / (255.0 * std)[None, :, None, None]
    return Conv1(weight, conv.bias.detach().double().cpu().numpy(), 255.0 * np.array(TORCHVISION_MEAN),
                 "random" if models.is_stand_in(net) else "pretrained", models.describe(net))


_DEFAULT_CONV1: list = []  # [Conv1] or [the exception]: one attempt per process, not one download per image


def _default_conv1() -> Conv1:
    if not _DEFAULT_CONV1:
        try:
            _DEFAULT_CONV1.append(alexnet_conv1(source="auto"))
        except (models.WeightsUnavailable, models.WeightsFileError) as exc:
            _DEFAULT_CONV1.append(exc)
    if isinstance(_DEFAULT_CONV1[0], Exception):
        raise _DEFAULT_CONV1[0]
    return _DEFAULT_CONV1[0]


def cnn_responses(rgb: np.ndarray, conv: Conv1, *, device="cpu") -> np.ndarray:
    """ReLU conv1 responses of the image resized to 512 x 512, ``float64 (n_filters, 126, 126)``.

    The image (as ``float32``) is resized with ``skimage.transform.resize`` (bilinear,
    anti-aliased), ``conv.mean`` is subtracted, and the filters are applied with stride 4
    and no padding (``torch.nn.functional.conv2d`` in float64).

    Used in: notebook 02 through :func:`helpers.measures.table.table` (measure group ``"aesthetics"``).
    """
    x = resize(rgb.astype(np.float32), (CNN_SIZE, CNN_SIZE), order=1) - conv.mean
    dev = torch.device(device)
    dtype = torch.float64 if dev.type != "mps" else torch.float32  # MPS has no float64
    w = torch.as_tensor(conv.weight, dtype=dtype, device=dev)
    b = torch.as_tensor(conv.bias, dtype=dtype, device=dev)
    t = torch.as_tensor(np.ascontiguousarray(x.transpose(2, 0, 1)), dtype=dtype, device=dev)[None]
    with torch.no_grad():
        out = torch.relu(torch.nn.functional.conv2d(t, w, b, stride=CNN_STRIDE))
    return out[0].cpu().numpy().astype(np.float64)


def _max_pool(resp: np.ndarray, patches: int) -> np.ndarray:
    """Maximum of each filter's response over a ``patches x patches`` grid, ``(p, p, n_filters)``."""
    _, ih, iw = resp.shape
    ph, pw = ih / float(patches), iw / float(patches)
    # cell borders int(k*ph) .. int(k*ph + ph), computed as the original computes them
    rows = [(int(k * ph), int(k * ph + ph)) for k in range(patches)]
    cols = [(int(k * pw), int(k * pw + pw)) for k in range(patches)]
    by_row = np.stack([resp[:, a:b, :].max(axis=1) for a, b in rows], axis=1)  # (n, p, iw)
    return np.stack([by_row[:, :, a:b].max(axis=2) for a, b in cols], axis=2).transpose(1, 2, 0)


def _normalise(pool: np.ndarray) -> np.ndarray:
    return pool / pool.sum(axis=2, keepdims=True)


def _pool_similarity(a: np.ndarray, b: np.ndarray) -> float:
    return float(1.0 - np.abs(a - b).sum() / np.maximum(a, b).sum())


def cnn_measures(img, *, cnn: Conv1 | None = None, device="cpu") -> dict[str, float]:
    """CNN self-similarity, symmetry, sparseness and variability from AlexNet conv1 responses.

    Responses as :func:`cnn_responses`; per filter the maximum over a grid of patches,
    normalised over filters per patch where stated.

    * ``cnn_self_similarity``: median over an 8x8 grid of the histogram intersection between
      each patch's normalised filter histogram and the whole image's ([0, 1]).
    * ``cnn_symmetry_lr``/``_ud``/``_lrud``: ``1 - sum|P - P'| / sum max(P, P')`` between the
      17x17 max-pooling maps of the image and of its left-right, up-down and both-ways flipped
      copy, each flipped before resizing ([0, 1]).
    * ``cnn_sparseness``: variance of the normalised 22x22 map (empirically 0-0.0014).
    * ``cnn_variability``: median over filters of the variance of the normalised 12x12 map
      (empirically 0-0.0001).

    Args:
        img: RGB ``uint8`` array, ``(H, W, 3)``.
        cnn: the conv1 filters; ``None`` loads torchvision's pretrained AlexNet
            (:func:`alexnet_conv1`). The toolbox's values need the toolbox's own filters:
            ``cnn=toolbox_conv1(".../AT/bvlc_alexnet_conv1.npy")``.
        device: torch device for the convolutions.

    Used in: notebook 02 through :func:`helpers.measures.table.table` (measure group ``"aesthetics"``).
    """
    rgb = toolbox_image(img).rgb
    conv = cnn if cnn is not None else _default_conv1()
    resp = cnn_responses(rgb, conv, device=device)
    whole = _normalise(_max_pool(resp, 1))
    grid8 = _normalise(_max_pool(resp, 8))
    out = {"cnn_self_similarity": float(np.median(np.minimum(whole, grid8).sum(axis=2)))}
    p17 = _max_pool(resp, 17)
    for key, flipped in (("lr", rgb[:, ::-1]), ("ud", rgb[::-1]), ("lrud", rgb[::-1, ::-1])):
        out[f"cnn_symmetry_{key}"] = _pool_similarity(p17, _max_pool(cnn_responses(flipped, conv, device=device), 17))
    out["cnn_sparseness"] = float(np.var(_normalise(_max_pool(resp, 22))))
    out["cnn_variability"] = float(np.median(np.var(_normalise(_max_pool(resp, 12)), axis=(0, 1))))
    return out  # the columns of helpers.measures.aesthetics.MEASURES["cnn"], in that order

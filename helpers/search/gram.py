"""Images -> Gram vectors: ResNet-152 up to ``layer3`` and the Gram matrices of its activations.

Similarity (SPEC.md; Janik 2023, Methods, Eq. 5): the cosine similarity of flattened Gram matrices
``G = (1/HW) X X^T`` of ResNet-152 (ImageNet) activations at the output of ``layer3``
(``X``: 1024 channels x HW positions; 1024 x 14 x 14 at 224 px), i.e. of 1,048,576-dimensional vectors.

**Preprocessing** (:meth:`GramEncoder.preprocess`): RGB uint8 -> resize the *shorter* side to
``size`` (224) with bilinear, antialiased interpolation -> centre crop ``size x size`` -> [0, 1]
-> ImageNet mean/std normalisation. ArtBench-10's 256x256 images are simply scaled to 224x224;
BigGAN's 256x256 images likewise; the 32x32 CIFAR images are scaled up.

**Gram vectors.** ``G`` is symmetric, so :meth:`GramEncoder.encode` returns the upper triangle
(``C(C+1)/2 = 524,800`` values) with off-diagonal entries multiplied by sqrt(2): dot products of
these vectors equal the Frobenius products of the full Gram matrices exactly
(``tests/test_artsearch.py`` checks it), at half the size. Vectors are unit-normalised, so a dot
product *is* the cosine similarity of the flattened Grams.

**Precision.** ``precision="fp32"`` (default) runs the network in float32. ``"bf16"`` runs it in
bfloat16 (the fast path: bf16 weights and activations from start to end; the straight path: bf16
autocast) and computes the Gram from the activations cast back to float32. On the 2-core Xeon
without AMX of 2026-12-06 (AVX512_BF16 only) bf16 was no faster than the fast fp32 path (CPU time
per image 0.97-1.48x fp32's) and moved rankings (recall@10 0.73 against fp32, 200 queries), so fp32 stays the
default; measured speed and agreement are in ``benchmarks/artsearch.py`` and ``docs/nearest-painting.md``. The index records the precision it was built with.

**Fast path** (``fast=True``, default; issue 22). The same numbers as the straight torchvision
trunk (``fast=False``) to float32 rounding, in less time: BatchNorm folded into the convolutions
(:func:`fold_batchnorm`), channels-last activations (oneDNN's blocked kernels without reorders), the
Gram triangle gathered with indices built once (:func:`triangle`), and, in
:func:`helpers.search.index.build_index`, float32 eigen-decompositions on one thread. Tolerance
(``tests/test_artsearch.py``): each image's Gram vector has cosine >= 1 - 1e-6 with the straight
path's, pairwise similarities move by < 1e-5, and the top-10 of an exact search is unchanged.

**Devices.** The encoder runs on ``device``; images are decoded and preprocessed on the CPU in
DataLoader workers and moved in batches (pinned memory on CUDA).
"""
from __future__ import annotations

import contextlib
import math
import os
import warnings

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF

from helpers import io, resolve_device
from helpers.nets import models
from helpers.progress import tqdm

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision's ImageNet weights (IMAGENET1K_V1 transforms)
IMAGENET_STD = (0.229, 0.224, 0.225)
PRECISIONS = ("fp32", "bf16")


def triangle(gram):
    """Upper triangle of symmetric Grams (..., C, C) -> (..., C(C+1)/2), off-diagonals x sqrt(2).

    Dot products of the results equal Frobenius products of the full matrices. The flat indices and
    weights are built once per (C, dtype, device) and reused (one ``index_select`` and one in-place
    multiply per call; ``tests/test_artsearch.py`` checks it against the straight gather).

    Used in: notebook 07 through :class:`helpers.search.gram.GramEncoder`.
    """
    c = gram.shape[-1]
    flat, w = _triangle_index(c, gram.dtype, gram.device)
    out = gram.reshape(*gram.shape[:-2], c * c).index_select(-1, flat)
    return out.mul_(w)


_TRIANGLES: dict = {}


def _triangle_index(c: int, dtype, device):
    """Flat row-major positions of the upper triangle of a C x C matrix and the sqrt(2) off-diagonal weights."""
    key = (int(c), dtype, str(device))
    if key not in _TRIANGLES:
        iu = torch.triu_indices(c, c, device=device)
        w = torch.full((iu.shape[1],), math.sqrt(2.0), dtype=dtype, device=device)
        w[iu[0] == iu[1]] = 1.0
        if len(_TRIANGLES) > 8:
            _TRIANGLES.clear()
        _TRIANGLES[key] = (iu[0] * c + iu[1], w)
    return _TRIANGLES[key]


def triangle_straight(gram):
    """:func:`triangle` as first written (advanced indexing, indices rebuilt per call): the reference it is tested against.

    Used in: no notebook; ``tests/test_artsearch.py`` and ``benchmarks/artsearch.py`` (the straight path).
    """
    c = gram.shape[-1]
    iu = torch.triu_indices(c, c, device=gram.device)
    w = torch.full((iu.shape[1],), math.sqrt(2.0), dtype=gram.dtype, device=gram.device)
    w[iu[0] == iu[1]] = 1.0
    return gram[..., iu[0], iu[1]] * w


def fold_batchnorm(trunk):
    """An inference-only copy of a ResNet trunk with every BatchNorm folded into the convolution before it.

    ``conv -> BatchNorm (eval)`` becomes one convolution with ``W' = W * gamma / sqrt(var + eps)``
    and ``b' = beta + (b - mean) * gamma / sqrt(var + eps)`` (``torch.nn.utils.fusion.fuse_conv_bn_eval``):
    the same function to float32 rounding, one pass over the activations fewer per convolution.
    The stem (``conv1, bn1``), each bottleneck's ``conv1..3 / bn1..3`` and the ``downsample``
    (conv, BN) pairs are folded; the original trunk is not touched.

    Raises:
        ValueError: a BatchNorm that does not follow a convolution (nothing to fold it into), or a
            trunk in training mode (the running statistics would still change).

    Used in: notebook 07 through :class:`helpers.search.gram.GramEncoder` (``fast=True``).
    """
    import copy

    from torch.nn.utils.fusion import fuse_conv_bn_eval

    if trunk.training:
        raise ValueError("fold_batchnorm: the trunk is in training mode; call .eval() first")
    t = copy.deepcopy(trunk)
    mods = list(t.children())
    if len(mods) > 1 and isinstance(mods[0], torch.nn.Conv2d) and isinstance(mods[1], torch.nn.BatchNorm2d):
        t[0], t[1] = fuse_conv_bn_eval(mods[0], mods[1]), torch.nn.Identity()
    for mod in t.modules():
        for a, b in (("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3")):
            conv, bn = getattr(mod, a, None), getattr(mod, b, None)
            if isinstance(conv, torch.nn.Conv2d) and isinstance(bn, torch.nn.BatchNorm2d):
                setattr(mod, a, fuse_conv_bn_eval(conv, bn))
                setattr(mod, b, torch.nn.Identity())
        ds = getattr(mod, "downsample", None)
        if isinstance(ds, torch.nn.Sequential) and len(ds) == 2 and isinstance(ds[1], torch.nn.BatchNorm2d):
            mod.downsample = torch.nn.Sequential(fuse_conv_bn_eval(ds[0], ds[1]))
    left = [n for n, m in t.named_modules() if isinstance(m, torch.nn.BatchNorm2d)]
    if left:
        raise ValueError(f"fold_batchnorm: BatchNorm layers not after a convolution: {left[:5]}")
    return t.eval()


class GramEncoder:
    """ResNet-152 up to ``layer3`` -> Gram matrices of the activations.

    Preprocessing: resize the shorter side to ``size`` (bilinear, antialiased), centre crop
    ``size x size``, scale to [0, 1], ImageNet mean/std normalisation.

    Args:
        model: a torchvision ResNet (e.g. ``models.load("resnet152", ...)``); ``None`` loads
            ResNet-152 with ``source``/``seed``.
        size: input side in pixels (224 in the paper; layer3 output is ``size/16`` on a side).
        device: torch device.
        source: ``"pretrained"`` or ``"random"`` when ``model`` is None.
        seed: stand-in seed when ``source="random"``.
        precision: ``"fp32"`` or ``"bf16"`` (bfloat16 network; the Gram in fp32).
        fast: the inference-only path (BatchNorm folded, channels-last; see the module docstring);
            ``False`` runs the straight torchvision trunk, the reference the fast path is tested against.
        progress: download / hashing progress bars.

    Raises:
        ValueError: an unknown ``precision``.

    Used in: notebook 07 (Figure 4, p2-fig04-top5.png, p2-nearest-key-numbers.json, p2-nearest-paintings.csv).
    """

    def __init__(self, model=None, *, size: int = 224, device="cpu", source: str = "pretrained", seed: int = 0,
                 precision: str = "fp32", fast: bool = True, progress: bool = True):
        if precision not in PRECISIONS:
            raise ValueError(f"GramEncoder: precision must be one of {PRECISIONS}, got {precision!r}")
        self.precision = precision
        self.device = resolve_device(device)
        if model is None:
            model = models.load("resnet152", source=source, seed=seed, device=self.device, progress=progress)
        self.model = model
        self.info = dict(getattr(model, "na_info", {}) or {})
        self.stand_in = models.is_stand_in(model)
        self.description = models.describe(model)
        self.size = int(size)
        self.trunk = torch.nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool,
                                         model.layer1, model.layer2, model.layer3).to(self.device).eval()
        self.channels = model.layer3[-1].conv3.out_channels if hasattr(model.layer3[-1], "conv3") else 256
        self.dim = self.channels * (self.channels + 1) // 2
        self.fast = bool(fast)
        self._net = None  # the inference-only trunk (fast path), built on first use

    def inference_trunk(self):
        """The network the fast path runs: :func:`fold_batchnorm` of the trunk, channels-last, bf16 weights under ``"bf16"``.

        Built on first use and rebuilt after :meth:`calibrate_stand_in` (which changes the statistics it folds).
        """
        if self._net is None:
            net = fold_batchnorm(self.trunk).to(memory_format=torch.channels_last)
            if self.precision == "bf16":
                net = net.to(torch.bfloat16)
            for p in net.parameters():
                p.requires_grad_(False)
            self._net = net
        return self._net

    def config(self) -> dict:
        """What an index needs to rebuild the same encoder (size, weights provenance)."""
        return {"size": self.size, "model": self.info, "stand_in": self.stand_in, "description": self.description,
                "precision": self.precision, "fast": self.fast}

    def _autocast(self):
        if self.precision == "bf16":
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def calibrate_stand_in(self, images, *, batch_size: int = 32) -> "GramEncoder":
        """Stand-in only: set the BatchNorm running statistics of the trunk from ``images``.

        A random-initialised ResNet keeps BatchNorm statistics 0/1, so activations grow block
        by block and every Gram is almost the same matrix (cosines ~ 1.0000): no ranking to
        test. Re-estimating the statistics on a batch (as BigGAN's stand-in does) gives Gram
        cosines spread like a trained network's (about 0.5-0.95). Still a STAND-IN.

        Raises:
            ValueError: the encoder carries pretrained weights (never touch those).
        """
        if not self.stand_in:
            raise ValueError("calibrate_stand_in: refusing to change the statistics of pretrained weights")
        x = torch.stack([self.preprocess(_as_image(im)) for im in list(images)[:batch_size]]).to(self.device)
        bns = [m for m in self.trunk.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        for m in bns:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over this one batch
        self.trunk.train()
        with torch.no_grad():
            self.trunk(x)
        self.trunk.eval()
        self._net = None  # the folded trunk carries the old statistics
        self.info["calibrated_bn"] = len(x)
        return self

    def preprocess(self, img) -> "object":
        """uint8 HxWx3 -> float32 tensor 3 x size x size (resize shorter side, centre crop, normalise)."""
        t = torch.from_numpy(np.array(img, dtype=np.uint8, copy=True)).permute(2, 0, 1)
        t = TF.resize(t, [self.size], interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
        t = TF.center_crop(t, [self.size, self.size])
        t = t.float().div_(255.0)
        return TF.normalize(t, IMAGENET_MEAN, IMAGENET_STD)

    def activations(self, batch):
        """Normalised batch N x 3 x S x S -> layer3 activations N x C x HW (float32, on device).

        ``fast=True``: the :meth:`inference_trunk` on a channels-last input, in bf16 from start to
        end under ``"bf16"``. ``fast=False``: the straight torchvision trunk (under bf16 autocast for
        ``"bf16"``), as a user would write it.
        """
        if not self.fast:
            with torch.inference_mode(), self._autocast():
                x = self.trunk(batch.to(self.device, non_blocking=True).float())
            return x.float().flatten(2)
        net = self.inference_trunk()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float32
        x = batch.to(self.device, non_blocking=True).to(dtype).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            y = net(x)
        return y.float().flatten(2)

    @staticmethod
    def gram(acts):
        """Activations N x C x HW -> Grams N x C x C, ``G = X X^T / HW``."""
        return acts @ acts.transpose(1, 2) / acts.shape[-1]

    @staticmethod
    def normalised(acts):
        """Scale activations so that ``Xn Xn^T`` is the unit-Frobenius Gram: ``Xn = X / sqrt(HW ||G||_F)``.

        Then ``cos(G_a, G_b) = ||Xn_a^T Xn_b||_F^2``. All-zero activations stay zero.
        """
        hw = acts.shape[-1]
        small = acts.transpose(1, 2) @ acts if hw <= acts.shape[1] else acts @ acts.transpose(1, 2)
        norm = small.flatten(1).norm(dim=1).div(hw).clamp_min(1e-30)  # ||X X^T||_F = ||X^T X||_F
        return acts / (hw * norm).sqrt()[:, None, None]

    def encode_batch(self, batch):
        """Normalised batch -> (unit Gram triangle vectors N x C(C+1)/2, Xn N x C x HW)."""
        acts = self.activations(batch)
        xn = self.normalised(acts)
        return (triangle if self.fast else triangle_straight)(xn @ xn.transpose(1, 2)), xn

    def encode(self, images, *, batch_size: int = 16, progress: bool = False):
        """Images (uint8 HxWx3 arrays or paths) -> unit Gram triangle vectors N x 524,800 (float32, CPU).

        ``encode(a) @ encode(b).T`` is the cosine similarity of the flattened Gram matrices.
        """
        vecs = []
        for start in _trange(0, len(images), batch_size, progress, "encode"):
            batch = torch.stack([self.preprocess(_as_image(im)) for im in images[start:start + batch_size]])
            vecs.append(self.encode_batch(batch)[0].cpu())
        return torch.cat(vecs) if vecs else torch.zeros(0, self.dim)


def _as_image(im):
    return io.read_image(im)


def _trange(start, stop, step, progress, desc):
    rng = range(start, stop, step)
    return tqdm(rng, desc=desc, disable=not progress, leave=False) if progress else rng


class _Dataset:
    """torch Dataset over a corpus: (preprocessed tensor, index, error message or '')."""

    def __init__(self, corpus, encoder, indices):
        self.corpus, self.encoder, self.indices = corpus, encoder, list(indices)
        self.size = encoder.size

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, j):
        i = self.indices[j]
        try:
            return self.encoder.preprocess(self.corpus.load(i)), i, ""
        except (io.ImageReadError, OSError, ValueError) as exc:
            return torch.zeros(3, self.size, self.size), i, str(exc) or repr(exc)


class _Prep:
    """Picklable stand-in for the encoder inside DataLoader workers (preprocessing only)."""

    def __init__(self, size):
        self.size = size

    preprocess = GramEncoder.preprocess


def _loader(corpus, encoder, indices, *, batch_size, num_workers):
    ds = _Dataset(corpus, _Prep(encoder.size), indices)
    kw = dict(num_workers=num_workers, persistent_workers=False)
    if num_workers > 0:
        kw.update(prefetch_factor=4)
    return torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=False, pin_memory=encoder.device.type == "cuda",
                                       collate_fn=_collate, **kw)


def _collate(rows):
    return torch.stack([r[0] for r in rows]), [r[1] for r in rows], [r[2] for r in rows]


def default_workers() -> int:
    """DataLoader workers for decoding: ``min(4, cpu_count - 1)``, at least 1.

    Used in: notebook 07 through :func:`helpers.search.index.build_index`.
    """
    return max(1, min(4, (os.cpu_count() or 2) - 1))


def iter_encoded(corpus, encoder: "GramEncoder", *, start: int = 0, stop: int | None = None, rows=None,
                 batch_size: int = 16, num_workers: int | None = None):
    """Stream a corpus through the encoder: decoding in DataLoader workers overlaps the network.

    ``rows`` (a list of corpus rows) replaces ``start``/``stop`` when given. Unreadable images are reported with a warning naming the file and come back with an
    error message (their vectors are meaningless and must be skipped).

    Yields:
        ``(rows, vectors, xn, errors)``: corpus rows (list of int), unit Gram triangle vectors
        B x C(C+1)/2 and normalised activations B x C x HW (on the encoder's device), and one
        error string per row (``""`` when the image was read).

    Used in: notebook 07 through :func:`helpers.search.index.build_index`.
    """
    nw = default_workers() if num_workers is None else num_workers
    stop = len(corpus) if stop is None else stop
    rows = range(start, stop) if rows is None else rows
    for batch, idx, errs in _loader(corpus, encoder, rows, batch_size=batch_size, num_workers=nw):
        for i, e in zip(idx, errs):
            if e:
                _warn_bad(corpus, i, e)
        vec, xn = encoder.encode_batch(batch)
        yield idx, vec, xn, errs


def _warn_bad(corpus, i, err):
    where = corpus.items["path"].iat[i] or corpus.name(i)
    warnings.warn(f"gram: skipping unreadable image {where}: {err}", stacklevel=3)


def encode_corpus_rows(corpus, encoder, indices, *, batch_size=16):
    """Encode specific rows in-process -> (vectors, xn, ok mask).

    Used in: notebook 07 through :func:`helpers.search.index.build_index`.
    """
    vecs, xns, ok = [], [], []
    for s in range(0, len(indices), batch_size):
        chunk = indices[s:s + batch_size]
        tens, good = [], []
        for i in chunk:
            try:
                tens.append(encoder.preprocess(corpus.load(i)))
                good.append(True)
            except (ValueError, OSError) as exc:
                _warn_bad(corpus, i, exc)
                tens.append(torch.zeros(3, encoder.size, encoder.size))
                good.append(False)
        v, xn = encoder.encode_batch(torch.stack(tens))
        vecs.append(v), xns.append(xn), ok.extend(good)
    return torch.cat(vecs), torch.cat(xns), np.array(ok, dtype=bool)


"""BigGAN-deep-256 weight surgery for Janik (Sci. Rep. 2023): Eq. 3, Eq. 4, distances, images.

The generator of ``pytorch_pretrained_biggan`` (``helpers.models.load("biggan-deep-256")``)
is split as in the paper's Figure 1 (:func:`blocks`):

===========  ===============================================  ===========================
paper        modules                                          note
===========  ===============================================  ===========================
``entry``    ``embeddings`` (Linear 1000->128), ``generator.gen_z``  class embedding, z -> 4x4
``B1..B13``  ``generator.layers.0`` .. ``generator.layers.12``  GenBlocks; ``B9`` = SelfAttn
``output``   ``generator.bn``, ``generator.conv_to_rgb``        final BN, 3x3 conv to RGB
===========  ===============================================  ===========================

B2, B4, B6, B8, B11 and B13 upsample by 2. The network is built from the config the package
publishes beside the weights (:func:`helpers.models.biggan_config`): the generator holds
55,880,833 trainable parameters, the paper's "55.9M", and B2 holds 8,654,336 of them (the
paper's "around 8.5 million").

**What is perturbed.** ``include="parameters"`` (default) selects the 55,880,833 trainable
parameters: both counts the paper quotes are trainable-parameter counts, so Eq. 3 perturbs the
trainable parameters. ``include="all"`` selects the whole state dict (58,573,185 numbers):
parameters *plus* the buffers, i.e. the batch-norm ``running_means``/``running_vars`` (51
truncation rows each) and the spectral-norm ``weight_u``/``weight_v`` vectors, offered for
comparison. With ``include="all"`` a running variance multiplied by ``1 + alpha * n < 0``
(probability ``Phi(-1/alpha)``, 0.2 % at alpha = 0.35) becomes negative and its channel NaN at
the truncation rows it touches; a warning says when that happens.

**Spectral norm.** Every conv/linear weight of BigGAN is spectrally normalised: the stored
parameter is ``weight_orig`` and the forward pass uses ``weight_orig / sigma`` with
``sigma = u^T weight_orig v`` computed from the stored buffers ``weight_u``/``weight_v``.
In eval mode there is no power iteration; in train mode, which the package's README example
silently uses (``BigGAN.from_pretrained`` returns a model in train mode), every forward pass
first runs one power iteration and *overwrites* ``u``/``v``.
Multiplying ``weight_orig`` element-wise therefore also changes ``sigma``: for Eq. 3,
``E[u^T (W o (1 + a N)) v] = sigma``, so the effective weight is the multiplicatively
perturbed one divided by a random scalar close to 1. For Eq. 4 the stored ``u``/``v`` are not
singular vectors of the redrawn matrix and ``u^T W v`` is a near-zero random number, which
would blow the block's activations up; :func:`resample` therefore power-iterates ``u``/``v``
of every redrawn weight (``sn_power_iterations``, default 30; 0 keeps them), and restores them
on exit like everything else it touched.

**Generation mode** (:func:`generate`, ``spectral_norm=``): ``"stored"`` (default) runs in eval
mode with the stored ``u``/``v`` (for Eq. 3 the pretrained ones, for Eq. 4 the re-estimated ones):
an image depends only on the network and its inputs, never on how many images were made before.
``"train"`` reproduces the package README's train mode: each forward pass starts from the stored
``u``/``v``, runs one power iteration, and the stored vectors are put back afterwards, so every
batch sees what a freshly loaded ``from_pretrained`` model does on its first call.

**Bitwise restore with one model of memory.** :func:`perturb` and :func:`resample` are
context managers that change the model in place and restore every touched tensor bit for bit
on exit, also after an exception. The originals are streamed tensor by tensor to an anonymous
temporary file (``backup="disk"``, default; deleted by the OS when closed) before each tensor
is changed, so the process holds one model plus one tensor; ``backup="memory"`` keeps CPU
clones instead (faster, two models). Regenerating the noise and dividing is *not* exact in
floating point, which is why the originals are kept. Inside the contexts, run the model through
:func:`generate` (whose ``"train"`` mode puts ``u``/``v`` back after every batch), never with a bare
``model.train()``, which would move ``u``/``v`` behind their back.
"""
from __future__ import annotations

import contextlib
import math
import tempfile
import warnings

import numpy as np
import torch

from helpers import models

ALPHA = 0.35
TRUNCATION = 0.4
NOISE_SEED = 5678
PAPER_CLASSES = (832, 967, 947, 46, 528, 949, 319, 978, 980)
FIG2_CLASSES = (832, 967, 528, 978)  # stupa, espresso, dial telephone, seashore
FIG5_CLASSES = (832, 967, 980, 528)  # stupa, espresso, volcano, dial telephone
BLOCKS = ("entry",) + tuple(f"B{i}" for i in range(1, 14)) + ("output",)
BATCH_SIZE = 3  # images per forward pass on CPU, from benchmarks/biggan.py
INCLUDE = ("parameters", "all")
PAPER_DISTANCES = {"perturbed_vs_original": 0.056, "perturbed_vs_perturbed": 0.109}

_PREFIXES = {"entry": ("embeddings.", "generator.gen_z."), "output": ("generator.bn.", "generator.conv_to_rgb.")}
_PREFIXES.update({f"B{i + 1}": (f"generator.layers.{i}.",) for i in range(13)})


# --- structure -------------------------------------------------------------------------------

def block_of(name: str) -> str:
    """The paper's block (``"entry"``, ``"B1"``..``"B13"``, ``"output"``) of a state-dict key."""
    for block, prefixes in _PREFIXES.items():
        if name.startswith(prefixes):
            return block
    raise KeyError(f"state-dict key {name!r} belongs to no block of BigGAN-deep-256 (expected a prefix among "
                   f"{sorted(p for ps in _PREFIXES.values() for p in ps)})")


def _check_blocks(blocks):
    if blocks is None:
        return None
    if isinstance(blocks, str):
        blocks = [blocks]
    blocks = list(blocks)
    bad = [b for b in blocks if b not in BLOCKS]
    if bad:
        raise ValueError(f"blocks: unknown block(s) {bad}; expected names among {BLOCKS}")
    return set(blocks)


def _check_include(include):
    if include not in INCLUDE:
        raise ValueError(f"include must be one of {INCLUDE}, got {include!r}")


def tensors(model, *, include: str = "parameters", blocks=None) -> dict:
    """The tensors Eq. 3 / Eq. 4 act on, in the fixed order noise is drawn.

    Args:
        model: BigGAN-deep-256 ``torch.nn.Module``.
        include: ``"parameters"`` (trainable) or ``"all"`` (the whole state dict, buffers included).
        blocks: restrict to these blocks (``"entry"``, ``"B1"``..``"B13"``, ``"output"``); ``None`` = all.

    Returns:
        ``{state-dict key: tensor}`` in ``model.state_dict()`` order (which is module registration
        order); the tensors are the model's own storage (changing them changes the model).
    """
    _check_include(include)
    wanted = _check_blocks(blocks)
    params = {id(p) for p in model.parameters()}
    out = {}
    for name, t in model.state_dict(keep_vars=True).items():
        if include == "parameters" and id(t) not in params:
            continue
        if wanted is not None and block_of(name) not in wanted:
            continue
        out[name] = t
    return out


def blocks(model):
    """The paper's Figure 1 structure mapped onto ``pytorch_pretrained_biggan`` modules.

    Returns:
        pandas.DataFrame, one row per block (``entry``, ``B1``..``B13``, ``output``) with the
        modules, the block's type, whether it upsamples (x2), channels in/out, the number of
        trainable parameters, of buffer numbers (BN running statistics, spectral-norm u/v), of
        both (the state dict), and the ``;``-joined parameter names and shapes.
    """
    import pandas as pd
    from pytorch_pretrained_biggan.model import GenBlock, SelfAttn

    params = {id(p) for p in model.parameters()}
    state = model.state_dict(keep_vars=True)
    rows = []
    for block in BLOCKS:
        names = [k for k in state if block_of(k) == block]
        pnames = [k for k in names if id(state[k]) in params]
        row = {"block": block, "modules": " + ".join(p.rstrip(".") for p in _PREFIXES[block])}
        if block.startswith("B"):
            layer = model.generator.layers[int(block[1:]) - 1]
            row["type"] = "self-attention" if isinstance(layer, SelfAttn) else "residual (GenBlock)"
            row["upsample"] = bool(getattr(layer, "up_sample", False))
            row["attention"] = isinstance(layer, SelfAttn)
            if isinstance(layer, GenBlock):
                row["in_channels"], row["out_channels"] = layer.conv_0.in_channels, layer.conv_3.out_channels
            else:
                row["in_channels"] = row["out_channels"] = layer.in_channels
        else:
            row.update(type="entry stage" if block == "entry" else "output stage", upsample=False, attention=False,
                       in_channels=1000 if block == "entry" else model.generator.conv_to_rgb.in_channels,
                       out_channels=model.generator.gen_z.out_features if block == "entry" else 3)
        row["n_parameter_tensors"] = len(pnames)
        row["n_parameters"] = sum(state[k].numel() for k in pnames)
        row["n_buffer_numbers"] = sum(state[k].numel() for k in names if k not in pnames)
        row["n_state"] = row["n_parameters"] + row["n_buffer_numbers"]
        row["parameters"] = "; ".join(f"{k}{tuple(state[k].shape)}" for k in pnames)
        rows.append(row)
    return pd.DataFrame(rows)


# --- backups -----------------------------------------------------------------------------------

class _Backup:
    """Originals of the tensors about to change, on disk (one tensor in RAM at a time) or in memory."""

    def __init__(self, mode: str = "disk", tmpdir=None):
        if mode not in ("disk", "memory"):
            raise ValueError(f"backup must be 'disk' or 'memory', got {mode!r}")
        self.mode, self.entries = mode, {}
        self.file = tempfile.TemporaryFile(dir=tmpdir, prefix="biggan-backup-") if mode == "disk" else None
        self.offset = 0

    def save(self, name: str, t: torch.Tensor) -> None:
        if name in self.entries:
            return
        cpu = t.detach().to("cpu", copy=self.mode == "memory").contiguous()
        if self.mode == "memory":
            self.entries[name] = (t, cpu)
            return
        raw = cpu.reshape(-1).view(torch.uint8).numpy()
        self.file.write(memoryview(raw))
        self.entries[name] = (t, (self.offset, raw.nbytes, cpu.dtype, tuple(cpu.shape)))
        self.offset += raw.nbytes

    def restore(self) -> None:
        with torch.no_grad():
            if self.mode == "memory":
                for t, cpu in self.entries.values():
                    t.copy_(cpu)
                return
            self.file.flush()
            for t, (offset, nbytes, dtype, shape) in self.entries.values():
                buf = bytearray(nbytes)
                self.file.seek(offset)
                if self.file.readinto(buf) != nbytes:
                    raise OSError(f"biggan backup file truncated at offset {offset} ({nbytes} bytes expected)")
                t.copy_(torch.frombuffer(buf, dtype=torch.uint8).view(dtype).view(shape))

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
        self.entries.clear()


@contextlib.contextmanager
def _restoring(backup, tmpdir):
    b = _Backup(backup, tmpdir)
    try:
        yield b
    finally:
        try:
            b.restore()
        finally:
            b.close()


# --- Eq. 3: multiplicative perturbation ----------------------------------------------------------

def _factor_(noise: torch.Tensor, alpha: float) -> torch.Tensor:
    """``noise`` -> ``1 + alpha * noise`` in place (float32): the one formula perturb and the distances share."""
    return noise.mul_(alpha).add_(1.0)


def noise_stream(model, *, seed: int = 0, include: str = "parameters"):
    """Yield ``(name, tensor, noise)`` in the documented order: the one definition of a seed's network.

    A CPU ``torch.Generator`` seeded with ``seed`` draws ``torch.randn(tensor.shape)`` (float32)
    for every tensor of ``tensors(model, include=include)`` in state-dict order, so the same seed
    gives the same network on CPU and CUDA, and a block subset gets exactly the noise it has in
    the full network. ``noise`` is a view of one reused buffer, valid until the next item.
    """
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    ts = tensors(model, include=include)
    buf = torch.empty(max((t.numel() for t in ts.values()), default=0), dtype=torch.float32)
    for name, t in ts.items():
        noise = buf[: t.numel()].view(t.shape)
        torch.randn(t.shape, generator=gen, dtype=torch.float32, out=noise)
        yield name, t, noise


@contextlib.contextmanager
def perturb(model, *, alpha: float = ALPHA, seed: int = 0, blocks=None, include: str = "parameters",
            backup: str = "disk", tmpdir=None):
    """Eq. 3 in place: ``theta = theta* x (1 + alpha x N(0, 1))`` element-wise; restored on exit.

    The noise of each tensor comes from :func:`noise_stream` (one seeded CPU generator, state-dict
    order, drawn for every included tensor even when ``blocks`` selects a subset), so ``seed`` names
    the network: ``perturb(m, seed=3, blocks="B2")`` equals the B2 part of ``perturb(m, seed=3)``.

    Args:
        model: BigGAN-deep-256 (eval mode).
        alpha: deformation magnitude (paper: 0.35); 0 leaves the weights unchanged.
        seed: integer naming the network.
        blocks: block name(s) to perturb (``"entry"``, ``"B1"``..``"B13"``, ``"output"``); ``None`` = all.
        include: ``"parameters"`` (trainable, default) or ``"all"`` (the whole state dict; see module doc).
        backup: ``"disk"`` (stream originals to a temporary file: about one model of memory) or ``"memory"``.
        tmpdir: folder for the temporary backup file (default: the system's temp folder).

    Yields:
        the same ``model``, perturbed. On exit (normal or exception) every touched tensor is
        restored bit for bit.
    """
    if not (isinstance(alpha, (int, float)) and math.isfinite(alpha) and alpha >= 0):
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha!r}")
    wanted = _check_blocks(blocks)
    with _restoring(backup, tmpdir) as b, torch.no_grad():
        negative_vars = 0
        for name, t, noise in noise_stream(model, seed=seed, include=include):
            if wanted is not None and block_of(name) not in wanted:
                continue
            b.save(name, t)
            t.mul_(_factor_(noise, alpha).to(device=t.device, dtype=t.dtype))
            if name.endswith("running_vars"):
                negative_vars += int((t < 0).sum())
        if negative_vars:
            warnings.warn(f"perturb(seed={seed}, alpha={alpha}, include='all'): {negative_vars} batch-norm running "
                          f"variances became negative; their channels give NaN", RuntimeWarning, stacklevel=3)
        yield model


# --- Eq. 4: block resampling -------------------------------------------------------------------

def _redraw(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """New draws with x's statistics: per filter pixel for kxk convolutions (k > 1), else per tensor."""
    from scipy import stats

    if x.ndim == 4 and x.shape[2] * x.shape[3] > 1:
        out_c, in_c, kh, kw = x.shape
        pix = x.reshape(out_c * in_c, kh * kw).astype(np.float64)
        mean, var = pix.mean(axis=0), pix.var(axis=0)
        mvn = stats.multivariate_normal(mean=mean, cov=np.diag(var), allow_singular=True)
        draws = mvn.rvs(size=out_c * in_c, random_state=rng).reshape(out_c * in_c, kh * kw)
        return draws.reshape(x.shape).astype(x.dtype)
    flat = x.astype(np.float64)
    draws = stats.norm.rvs(loc=flat.mean(), scale=flat.std(), size=x.shape, random_state=rng)
    return np.asarray(draws, dtype=x.dtype).reshape(x.shape)


def _sn_owner(model, name: str):
    """(module, SpectralNorm hook) owning parameter ``...weight_orig``, or (None, None)."""
    from torch.nn.utils.spectral_norm import SpectralNorm

    if not name.endswith("_orig"):
        return None, None
    module = model.get_submodule(name.rsplit(".", 1)[0]) if "." in name else model
    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, SpectralNorm) and name.endswith("." + hook.name + "_orig"):
            return module, hook
    return None, None


_power_iterate = models.power_iterate  # one implementation, shared with the stand-in builder


@contextlib.contextmanager
def resample(model, *, block="B2", seed: int = 0, include: str = "parameters", sn_power_iterations: int = 30,
             backup: str = "disk", tmpdir=None):
    """Eq. 4 in place: every tensor of ``block`` redrawn from a normal with that tensor's statistics.

    For each selected tensor (state-dict order) the mean and standard deviation (population,
    ddof=0, float64) of the *original* tensor are taken and new values drawn with ``scipy.stats``
    from ``numpy.random.default_rng(seed)`` (one generator for the whole block, so the seed names
    the network): kxk convolution weights (k > 1, i.e. the 3x3 filters) get one statistic per
    filter pixel and are drawn from ``scipy.stats.multivariate_normal`` with the 9 per-pixel means
    and a diagonal covariance of the 9 per-pixel variances (as the paper's Methods); every other
    tensor from ``scipy.stats.norm``. Draws happen on the CPU, so the result is device-independent.

    Args:
        model: BigGAN-deep-256 (eval mode).
        block: block name or list of names (``"B1"``..``"B13"``, ``"entry"``, ``"output"``).
        seed: integer naming the network.
        include: ``"parameters"`` (default; B2 = 8.65M, the paper's "8.5 million") or ``"all"``.
        sn_power_iterations: power iterations re-estimating spectral-norm ``u``/``v`` of each
            redrawn ``weight_orig`` (0 keeps the stored vectors; see module doc).
        backup, tmpdir: as in :func:`perturb`.

    Yields:
        the same ``model``; restored bit for bit on exit (also after an exception).
    """
    wanted = _check_blocks(block)
    if wanted is None:
        raise ValueError("resample: block must name at least one block, e.g. 'B2'")
    rng = np.random.default_rng(int(seed))
    with _restoring(backup, tmpdir) as b, torch.no_grad():
        for name, t in tensors(model, include=include, blocks=sorted(wanted)).items():
            b.save(name, t)
            new = _redraw(t.detach().cpu().numpy(), rng)
            t.copy_(torch.from_numpy(new))
            module, hook = _sn_owner(model, name)
            if module is not None and sn_power_iterations > 0:
                b.save(name[: -len("_orig")] + "_u", getattr(module, hook.name + "_u"))
                b.save(name[: -len("_orig")] + "_v", getattr(module, hook.name + "_v"))
                _power_iterate(module, hook, sn_power_iterations)
        yield model


# --- distances --------------------------------------------------------------------------------

def _as_state(x, include):
    if isinstance(x, torch.nn.Module):
        return tensors(x, include=include)
    if isinstance(x, dict) or hasattr(x, "items"):
        return dict(x)
    raise TypeError(f"expected a torch.nn.Module or a state dict, got {type(x).__name__}")


def cosine_distance(a, b, *, include: str = "parameters") -> float:
    """``1 - <a, b> / (|a| |b|)`` over the whole parameter vectors, accumulated tensor by tensor.

    Args:
        a, b: models (their :func:`tensors` for ``include``) or state dicts with the same keys; a
            state dict compared with a model is restricted to the model's selected keys.
        include: for models, ``"parameters"`` or ``"all"`` (buffers too).

    Returns:
        float in [0, 2]; dot products and norms are accumulated in float64, one tensor at a time
        (no flattened 55M-element copies).
    """
    sa, sb = _as_state(a, include), _as_state(b, include)
    if isinstance(a, torch.nn.Module) != isinstance(b, torch.nn.Module):  # a module picks the keys of a state dict
        keys = sa.keys() if isinstance(a, torch.nn.Module) else sb.keys()
        sa, sb = ({k: s[k] for k in keys if k in s} for s in (sa, sb))
        missing = [k for k in keys if k not in sa or k not in sb]
        if missing:
            raise ValueError(f"cosine_distance: the state dict lacks {len(missing)} of the model's keys, e.g. {missing[:3]}")
    if sa.keys() != sb.keys():
        diff = sorted(set(sa) ^ set(sb))
        raise ValueError(f"cosine_distance: the two state dicts differ in {len(diff)} keys, e.g. {diff[:3]}")
    dot = na = nb = 0.0
    for k in sa:
        x, y = sa[k].detach(), sb[k].detach()
        if x.shape != y.shape:
            raise ValueError(f"cosine_distance: {k} has shape {tuple(x.shape)} vs {tuple(y.shape)}")
        x = x.cpu().reshape(-1).to(torch.float64).numpy()  # numpy's float64 dot (BLAS) beats torch's here
        y = y.cpu().reshape(-1).to(torch.float64).numpy()
        dot += float(np.dot(x, y))
        na += float(np.dot(x, x))
        nb += float(np.dot(y, y))
    return 1.0 - dot / math.sqrt(na * nb)


def analytic_distance(alpha, *, fraction: float = 1.0, between_perturbed: bool = False):
    """Expected cosine distance of Eq. 3 for many parameters (law of large numbers).

    With ``theta_i' = theta_i (1 + alpha n_i)``: ``<theta, theta'> ~ |theta|^2`` and
    ``|theta'|^2 ~ |theta|^2 (1 + alpha^2)``. If only a share ``fraction`` of the squared norm is
    perturbed (e.g. parameters perturbed, distance over the whole state dict) ``alpha^2`` becomes
    ``fraction * alpha^2``. Hence ``1 - 1/sqrt(1 + f a^2)`` vs the original and
    ``1 - 1/(1 + f a^2)`` between two independently perturbed networks (0.0561 and 0.1091 at
    alpha = 0.35, f = 1).
    """
    s = 1.0 + fraction * np.asarray(alpha, dtype=float) ** 2
    return 1.0 - (1.0 / s if between_perturbed else 1.0 / np.sqrt(s))


def _gram(model, seeds, alpha, include, progress):
    """Gram matrix (K+1)x(K+1) of [original, perturbed networks] over the perturbed tensors, and the
    squared norm of the rest of the state dict (identical in every network)."""
    from tqdm.auto import tqdm

    gens = [torch.Generator(device="cpu").manual_seed(s) for s in seeds]
    k = len(seeds)
    perturbed = tensors(model, include=include)
    gram = np.zeros((k + 1, k + 1))
    m = torch.empty(k + 1, max(t.numel() for t in perturbed.values()), dtype=torch.float32)
    rest = 0.0
    with torch.no_grad():
        for name, t in tqdm(model.state_dict().items(), disable=not progress, desc="distances"):
            x = t.detach().cpu().float().reshape(-1)
            if name not in perturbed:
                rest += float(x.double().square().sum())
                continue
            rows = m[:, : x.numel()]
            rows[0].copy_(x)
            for i, g in enumerate(gens):  # the same values perturb() writes: x * (1 + alpha * randn)
                torch.randn(t.shape, generator=g, dtype=torch.float32, out=rows[i + 1].view(t.shape))
                _factor_(rows[i + 1], alpha).mul_(x)
            for j in range(0, x.numel(), 1 << 20):  # numpy's float64 GEMM: 4x faster than torch's here
                c = rows[:, j:j + (1 << 20)].numpy().astype(np.float64)
                gram += c @ c.T
    return gram, rest


def _distances(gram):
    norms = np.sqrt(np.diag(gram))
    dist = 1.0 - gram / np.outer(norms, norms)
    return dist[0, 1:], dist[1:, 1:]


def perturbation_distances(model, seeds, *, alpha: float = ALPHA, include: str = "parameters",
                           measure: str | None = None, progress: bool = True) -> dict:
    """Cosine distances of Eq. 3 networks to the original and to each other, without building them.

    Streams the tensors once; for each tensor the noise of every seed is drawn from that seed's
    generator (the same order and float32 arithmetic as :func:`perturb`, so the numbers are those of
    the networks :func:`perturb` makes) and float64 dot products are accumulated. Peak memory:
    K+1 copies of the largest tensor (33 MB each for BigGAN's ``gen_z``).

    Args:
        model: the original network (left untouched).
        seeds: K network seeds.
        alpha: deformation magnitude.
        include: tensors perturbed (``"parameters"`` or ``"all"``).
        measure: tensors the distance runs over (default: ``include``); ``"all"`` with
            ``include="parameters"`` adds the unperturbed buffers to the vectors.
        progress: tqdm bar over tensors.

    Returns:
        dict with ``seeds``, ``to_original`` (K,) and ``pairwise`` (K, K) float64 distances, and the
        squared norms ``perturbed_norm2``/``total_norm2`` of the original over the measured tensors
        (their ratio is :func:`analytic_distance`'s ``fraction``).
    """
    _check_include(include)
    measure = measure or include
    _check_include(measure)
    if include == "all" and measure == "parameters":
        raise ValueError("measure='parameters' with include='all' would skip perturbed buffers; use measure='all'")
    seeds = [int(s) for s in seeds]
    gram, rest = _gram(model, seeds, alpha, include, progress)
    p2 = gram[0, 0]
    if measure == "all":
        gram = gram + rest
    to_original, pairwise = _distances(gram)
    return {"seeds": seeds, "to_original": to_original, "pairwise": pairwise, "perturbed_norm2": p2,
            "total_norm2": gram[0, 0]}


# --- generation -------------------------------------------------------------------------------

def latents(classes=PAPER_CLASSES, *, truncation: float = TRUNCATION, noise_seed: int = NOISE_SEED):
    """The paper's inputs: one truncated-normal latent row and one one-hot row per class.

    The paper draws ``truncated_noise_sample(truncation=0.4, batch_size=9, seed=5678)`` for its
    nine classes, so class ``PAPER_CLASSES[i]`` gets row ``i`` whatever list it appears in (the
    same latent per class across networks and figures). A class outside the nine gets row
    ``9 + j`` of a larger draw with the same seed (``j``: its order among such classes).

    Returns:
        (z float32 (N, 128), one_hot float32 (N, 1000)) as torch tensors.
    """
    from pytorch_pretrained_biggan import truncated_noise_sample

    classes = [int(c) for c in classes]
    bad = [c for c in classes if not 0 <= c < 1000]
    if bad:
        raise ValueError(f"classes must be ImageNet indices 0..999, got {bad}")
    extra = [c for c in dict.fromkeys(classes) if c not in PAPER_CLASSES]
    base = truncated_noise_sample(truncation=truncation, batch_size=len(PAPER_CLASSES), seed=noise_seed)
    more = truncated_noise_sample(truncation=truncation, batch_size=len(PAPER_CLASSES) + len(extra),
                                  seed=noise_seed)[len(PAPER_CLASSES):] if extra else None
    rows = [base[PAPER_CLASSES.index(c)] if c in PAPER_CLASSES else more[extra.index(c)] for c in classes]
    z = torch.from_numpy(np.stack(rows).astype(np.float32))
    one_hot = torch.zeros(len(classes), 1000)
    one_hot[torch.arange(len(classes)), torch.tensor(classes)] = 1.0
    return z, one_hot


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """Generator output (N, 3, H, W) in [-1, 1] -> uint8 (N, H, W, 3), as ``convert_to_images`` does."""
    arr = x.detach().float().cpu().numpy().transpose(0, 2, 3, 1)
    arr = np.nan_to_num(arr, nan=-1.0)
    return np.clip((arr + 1.0) / 2.0 * 256.0, 0, 255).astype(np.uint8)


SPECTRAL_NORM_MODES = ("stored", "train")


def _check_spectral_norm(mode):
    if mode not in SPECTRAL_NORM_MODES:
        raise ValueError(f"spectral_norm must be one of {SPECTRAL_NORM_MODES} ('stored': eval mode, the stored u/v; "
                         f"'train': one power iteration per forward pass, as the package README), got {mode!r}")


@contextlib.contextmanager
def _one_power_iteration(model):
    """Train mode for spectral norm, with the stored ``u``/``v`` put back after every forward pass.

    Yields a function ``run(*args)`` that restores the stored vectors, runs ``model(*args)`` in
    train mode (one power iteration per spectral-norm layer, as on a fresh ``from_pretrained``
    model) and leaves ``model`` in eval mode with its stored vectors on exit.
    """
    pairs = models.spectral_norms(model)
    stored = [(getattr(m, h.name + "_u").clone(), getattr(m, h.name + "_v").clone()) for m, h in pairs]
    was_training = model.training

    def put_back():
        with torch.no_grad():
            for (m, h), (u, v) in zip(pairs, stored):
                getattr(m, h.name + "_u").copy_(u)
                getattr(m, h.name + "_v").copy_(v)

    def run(*args):
        put_back()
        model.train()
        try:
            return model(*args)
        finally:
            model.train(was_training)

    try:
        yield run
    finally:
        put_back()
        model.train(was_training)


def _zero_subnormal(module, args, out):
    """Forward hook: attention weights below the smallest normal float become 0 (in place)."""
    return out.masked_fill_(out < torch.finfo(out.dtype).tiny, 0.0)


@contextlib.contextmanager
def subnormal_attention_zeroed(model):
    """While active, the softmax of each self-attention layer of ``model`` rounds subnormal weights to 0.

    Why: with a block redrawn (Eq. 4) the attention logits spread widely, and ``exp`` underflows into
    subnormal floats (2.2 million of them in four 256-px images of the stand-in). x86 CPUs compute with
    subnormals 20-25x slower: the attention layer took 4-6 s per batch instead of 0.2 s, and a
    gallery of B2-redrawn networks twice its time. Each such weight is < 1.2e-38, so it adds less than
    one float32 rounding step to any sum it enters; the images of the perturbed, redrawn and original
    networks are bit for bit the same uint8 with and without it (tests/test_biggan.py checks one).
    ``torch.set_flush_denormal`` would do this for the calling thread only, not torch's worker threads.
    :func:`generate` uses it on the CPU; GPUs have no subnormal penalty, and there the network runs as
    the package defines it.
    """
    from pytorch_pretrained_biggan.model import SelfAttn

    hooks = [m.softmax.register_forward_hook(_zero_subnormal) for m in model.modules() if isinstance(m, SelfAttn)]
    try:
        yield model
    finally:
        for h in hooks:
            h.remove()


def generate(model, classes=PAPER_CLASSES, *, truncation: float = TRUNCATION, noise_seed: int = NOISE_SEED,
             batch_size: int = BATCH_SIZE, device=None, spectral_norm: str = "stored", progress: bool = False) -> np.ndarray:
    """Images of ``classes`` from ``model`` with the paper's inputs (:func:`latents`).

    Args:
        model: BigGAN-deep-256 (possibly inside :func:`perturb` / :func:`resample`).
        classes: ImageNet class indices; the default is the paper's nine.
        truncation: latent truncation in (0, 1] (paper: 0.4).
        noise_seed: seed of ``truncated_noise_sample`` (paper: 5678).
        batch_size: images per forward pass (default from ``benchmarks/biggan.py``).
        device: where to run (default: the model's device).
        spectral_norm: ``"stored"`` (eval mode: the stored ``u``/``v``, the project's default) or
            ``"train"`` (one power iteration from the stored ``u``/``v`` per forward pass, as the
            package README's example runs; the stored vectors are put back after each batch).
        progress: tqdm bar over batches.

    On the CPU the attention weights below 1.2e-38 are rounded to 0 (:func:`subnormal_attention_zeroed`:
    the same images, up to 2x faster for redrawn blocks).

    Returns:
        uint8 array (N, 256, 256, 3); NaN pixels (a broken network) become black.
    """
    from tqdm.auto import tqdm

    if not 0 < truncation <= 1:
        raise ValueError(f"truncation must be in (0, 1], got {truncation}")
    _check_spectral_norm(spectral_norm)
    device = torch.device(device) if device is not None else next(model.parameters()).device
    z, y = latents(classes, truncation=truncation, noise_seed=noise_seed)
    out = []
    with torch.no_grad(), contextlib.ExitStack() as stack:
        if device.type == "cpu":
            stack.enter_context(subnormal_attention_zeroed(model))
        run = stack.enter_context(_one_power_iteration(model)) if spectral_norm == "train" else model
        for i in tqdm(range(0, len(z), batch_size), disable=not progress, desc="generate"):
            out.append(to_uint8(run(z[i:i + batch_size].to(device), y[i:i + batch_size].to(device), truncation)))
    return np.concatenate(out) if out else np.zeros((0, 256, 256, 3), np.uint8)


def class_names(classes) -> list[str]:
    """ImageNet class names (torchvision's list, offline), e.g. 832 -> ``"stupa"``."""
    from torchvision.models import ResNet152_Weights

    cats = ResNet152_Weights.IMAGENET1K_V1.meta["categories"]
    return [cats[int(c)] for c in classes]


# --- galleries --------------------------------------------------------------------------------

FIG2_SEEDS = (0, 1, 2, 3, 4)  # the paper picked five of seeds 0-10 without naming them: we take 0-4, unselected
FIG5_SEEDS = (0, 1, 2, 3, 4)
CONSECUTIVE_SEEDS = tuple(range(24))  # Supplementary S1 / S2: seeds 0-23, no selection
ALPHAS = (0.0, 0.1, 0.2, 0.3, 0.35, 0.4, 0.5, 0.6, 0.8)  # Supplementary A2 sweep


# Counts of notebooks 05 and 06 per profile. "paper": the paper's settings; "class": pretrained weights at
# teaching size (a few classes and networks, minutes on a laptop CPU); "smoke": stand-in weights, tiny (CI).
# A notebook passes its parameters through sizes(), so a value set by papermill always wins.
PROFILE_SIZES = {
    "05": {
        "FIG2_SEEDS": {"paper": list(FIG2_SEEDS), "class": [0, 1, 2], "smoke": [0, 1]},
        "FIG2_CLASSES": {"paper": list(FIG2_CLASSES), "class": [832, 967], "smoke": [832, 967]},
        "S1_SEEDS": {"paper": list(CONSECUTIVE_SEEDS), "class": list(range(8)), "smoke": [0, 1]},
        "S1_CLASSES": {"paper": [832, 967], "class": [832, 967], "smoke": [832, 967]},
        "ALPHAS": {"paper": [0.0, 0.1, 0.2, 0.3, 0.35, 0.4, 0.5, 0.6, 0.8, 1.0], "class": [0.0, 0.2, 0.35, 0.6],
                   "smoke": [0.0, 0.35, 0.6]},
        "SWEEP_CLASSES": {"paper": list(FIG2_CLASSES), "class": [832, 967], "smoke": [832]},
        "DISTANCE_SEEDS": {"paper": list(CONSECUTIVE_SEEDS), "class": list(range(6)), "smoke": [0, 1, 2]},
        "DISTANCE_ALPHAS": {"paper": [0.05, 0.1, 0.2, 0.3, 0.35, 0.4, 0.5, 0.6, 0.8, 1.0], "class": [0.1, 0.35, 0.6],
                            "smoke": [0.1, 0.35, 0.6]},
        "DISTANCE_ALPHA_SEEDS": {"paper": [0, 1, 2, 3, 4], "class": [0, 1, 2], "smoke": [0, 1]},
        "ORIGINAL_NOISE_SEEDS": {"paper": [5678, 5679, 5680, 5681, 5682], "class": [5678, 5679], "smoke": [5679]},
    },
    "06": {
        "FIG5_SEEDS": {"paper": list(FIG5_SEEDS), "class": [0, 1, 2], "smoke": [0, 1]},
        "FIG5_CLASSES": {"paper": list(FIG5_CLASSES), "class": [832, 967], "smoke": [832, 967]},
        "S2_SEEDS": {"paper": list(CONSECUTIVE_SEEDS), "class": list(range(8)), "smoke": [0, 1]},
        "S2_CLASSES": {"paper": [832, 967], "class": [832, 967], "smoke": [832, 967]},
        "SWEEP_BLOCKS": {"paper": [f"B{i}" for i in range(1, 14)], "class": [f"B{i}" for i in range(1, 14)],
                         "smoke": ["B1", "B2", "B9", "B13"]},  # smoke: first, the paper's, the attention block, the last
        "SWEEP_CLASSES": {"paper": list(FIG5_CLASSES), "class": [967], "smoke": [832]},
        "S7_SEEDS": {"paper": [0, 1, 2, 3, 4], "class": [0, 1], "smoke": [0]},
        "S7_CLASSES": {"paper": list(FIG5_CLASSES), "class": [832, 967], "smoke": [832]},
    },
}


def sizes(notebook: str, profile: str, **given) -> dict:
    """The counts of ``notebook`` (``"05"`` or ``"06"``) for ``profile``; a value in ``given`` that is not None wins.

    Returns:
        ``{name: list}`` in the order of ``given`` (every name the notebook passes, None for "the profile's").

    Raises:
        ValueError: unknown notebook, profile or name.
    """
    from helpers import check_profile

    check_profile(profile)
    if notebook not in PROFILE_SIZES:
        raise ValueError(f"sizes: notebook must be one of {sorted(PROFILE_SIZES)}, got {notebook!r}")
    table = PROFILE_SIZES[notebook]
    unknown = [k for k in given if k not in table]
    if unknown:
        raise ValueError(f"sizes: {unknown} are not counts of notebook {notebook}; known: {sorted(table)}")
    return {k: list(v) if v is not None else list(table[k][profile]) for k, v in given.items()}


def original() -> dict:
    """Network spec of the unmodified network (for :func:`gallery`)."""
    return {"network": "original", "label": "original", "kind": "original", "seed": None, "alpha": None, "block": None}


def perturbed(seed: int, *, alpha: float = ALPHA, label: str | None = None) -> dict:
    """Network spec of Eq. 3 with ``seed`` and ``alpha`` (for :func:`gallery`)."""
    name = f"seed-{seed}" if alpha == ALPHA else f"seed-{seed}-alpha-{alpha:g}"
    return {"network": name, "label": label or (f"seed {seed}" if alpha == ALPHA else f"α = {alpha:g}"),
            "kind": "perturb", "seed": int(seed), "alpha": float(alpha), "block": None}


def resampled(seed: int, *, block: str = "B2", alpha: float | None = None, label: str | None = None) -> dict:
    """Network spec of Eq. 4 on ``block`` with ``seed``; with ``alpha`` also Eq. 3 (same seed) on top."""
    _check_blocks(block)
    name = f"{block}-seed-{seed}" + (f"-alpha-{alpha:g}" if alpha is not None else "")
    return {"network": name, "label": label or f"{block} seed {seed}" + (f" + α {alpha:g}" if alpha is not None else ""),
            "kind": "resample" if alpha is None else "resample+perturb", "seed": int(seed),
            "alpha": None if alpha is None else float(alpha), "block": block}


@contextlib.contextmanager
def applied(model, spec: dict, *, sn_power_iterations: int = 30, backup: str = "disk"):
    """Context manager putting ``model`` into the network ``spec`` names; restores it on exit.

    For ``"resample+perturb"`` Eq. 4 is applied first and Eq. 3 (same seed, every tensor,
    the redrawn block included) on top; exits undo them in reverse order.
    """
    with contextlib.ExitStack() as stack:
        if spec["kind"] in ("resample", "resample+perturb"):
            stack.enter_context(resample(model, block=spec["block"], seed=spec["seed"],
                                         sn_power_iterations=sn_power_iterations, backup=backup))
        if spec["kind"] in ("perturb", "resample+perturb"):
            stack.enter_context(perturb(model, alpha=spec["alpha"], seed=spec["seed"], backup=backup))
        elif spec["kind"] not in ("original", "resample"):
            raise ValueError(f"unknown network kind {spec['kind']!r} in {spec}")
        yield model


class Gallery:
    """Images of several networks x classes: ``images`` uint8 (rows=classes, cols=networks, 256, 256, 3)."""

    def __init__(self, images, classes, networks, stand_in, weights, noise_seed=NOISE_SEED):
        self.images, self.classes, self.networks = images, list(classes), list(networks)
        self.stand_in, self.weights, self.noise_seed = stand_in, weights, noise_seed

    @property
    def row_labels(self) -> list[str]:
        return class_names(self.classes)

    @property
    def col_labels(self) -> list[str]:
        return [n["label"] for n in self.networks]

    def __repr__(self):
        return f"Gallery({len(self.classes)} classes x {len(self.networks)} networks, stand_in={self.stand_in})"


def gallery(model, classes, networks, *, noise_seed: int = NOISE_SEED, sn_power_iterations: int = 30,
            spectral_norm: str = "stored", batch_size: int = BATCH_SIZE, device=None, progress: bool = True) -> Gallery:
    """Generate every class with every network (identical inputs per class: :func:`latents`).

    Args:
        model: BigGAN-deep-256; each network is applied in place and undone before the next.
        classes: ImageNet class indices (rows).
        networks: specs from :func:`original`, :func:`perturbed`, :func:`resampled` (columns).
        noise_seed: latent seed (paper: 5678).
        sn_power_iterations: passed to :func:`resample`.
        spectral_norm, batch_size, device: as in :func:`generate`.
        progress: tqdm bar over networks.

    Returns:
        :class:`Gallery`.
    """
    from tqdm.auto import tqdm

    from helpers import models

    _check_spectral_norm(spectral_norm)
    cols = []
    for spec in tqdm(list(networks), disable=not progress, desc="networks"):
        with applied(model, spec, sn_power_iterations=sn_power_iterations):
            cols.append(generate(model, classes, noise_seed=noise_seed, batch_size=batch_size, device=device,
                                 spectral_norm=spectral_norm))
    images = np.stack(cols, axis=1) if cols else np.zeros((len(classes), 0, 256, 256, 3), np.uint8)
    return Gallery(images, classes, networks, models.is_stand_in(model), models.describe(model), noise_seed)


def images_of(*galleries: Gallery, exclude=()) -> dict:
    """``{"<network>_<class>[_z<noise seed>]": uint8 image}`` of galleries, skipping networks in ``exclude``."""
    out = {}
    for g in galleries:
        z = "" if g.noise_seed == NOISE_SEED else f"_z{g.noise_seed}"
        for r, cid in enumerate(g.classes):
            for c, spec in enumerate(g.networks):
                if spec["network"] not in exclude:
                    out[f"{spec['network']}_{cid}{z}"] = g.images[r, c]
    return out


def plot_gallery(g: Gallery, *, title: str | None = None, wrap: int | None = None, cell_size: float = 1.4):
    """Figure of a :class:`Gallery`: rows = class names, columns = networks (seed labels).

    ``wrap`` splits long rows (e.g. 24 seeds) into chunks of ``wrap`` columns, each cell titled
    with its network. The layout is set in inches (:func:`_layout`), so the figure title, the
    column titles and the images never overlap, whatever the number of rows. Stand-in galleries
    carry :data:`helpers.plots.STAND_IN`.
    """
    from helpers import plots

    notes = [plots.STAND_IN] if g.stand_in else []
    n = len(g.networks)
    if not wrap or wrap >= n:
        fig = plots.image_grid(g.images, row_labels=g.row_labels, col_labels=g.col_labels, notes=notes,
                               cell_size=cell_size)
        return _layout(fig, len(g.classes), max(n, 1), cell_size=cell_size, title=title, col_titles="first")
    chunks = [(r, j) for r in range(len(g.classes)) for j in range(0, n, wrap)]
    rows = [[g.images[r, c] for c in range(j, min(j + wrap, n))] for r, j in chunks]
    labels = [g.row_labels[r] if j == 0 else "" for r, j in chunks]
    fig = plots.image_grid(rows, row_labels=labels, notes=notes, cell_size=cell_size)
    axes = np.asarray(fig.axes).reshape(len(rows), wrap)
    for (r, j), row_axes in zip(chunks, axes):
        for c, ax in enumerate(row_axes):
            if j + c < n:
                ax.set_title(g.col_labels[j + c], fontsize=7, pad=2)
    return _layout(fig, len(rows), wrap, cell_size=cell_size, title=title, col_titles="every")


def _layout(fig, n_rows: int, n_cols: int, *, cell_size: float, title: str | None, col_titles: str,
            gap: float = 0.04, left: float = 1.1, title_size: float = 10.0):
    """Place an image grid's axes in inches: room above the first row (or every row) for column titles,
    and above that for the figure title (wrapped to the figure's width). ``col_titles``: "first" or "every"."""
    import textwrap

    line = title_size / 72 * 1.35  # inches per title line
    col_h = 0.24 if col_titles == "first" else 0.0
    row_gap = 0.2 if col_titles == "every" else gap
    width = left + n_cols * cell_size + (n_cols - 1) * gap + 0.1
    lines = textwrap.wrap(title, width=max(20, int((width - 0.2) / (title_size / 72 * 0.55)))) if title else []
    top = 0.06 + col_h + (row_gap if col_titles == "every" else 0.0) + (len(lines) * line + 0.08 if lines else 0.0)
    height = top + n_rows * cell_size + (n_rows - 1) * row_gap + 0.06
    fig.set_size_inches(width, height)
    for k, ax in enumerate(fig.axes[: n_rows * n_cols]):
        r, c = divmod(k, n_cols)
        x = left + c * (cell_size + gap)
        y = height - top - (r + 1) * cell_size - r * row_gap
        ax.set_position([x / width, y / height, cell_size / width, cell_size / height])
    if lines:
        fig.suptitle("\n".join(lines), fontsize=title_size, x=(left + (width - left - 0.1) / 2) / width,
                     y=1 - 0.04 / height, va="top")
    return fig


def save_gallery_images(g: Gallery, folder):
    """Write each image as ``<folder>/<network>_<classid>.png`` and ``<folder>/manifest.csv``.

    Manifest columns: ``file`` (name relative to ``folder``), ``network`` (``"original"`` or
    ``"seed-N"``...), ``seed``, ``alpha``, ``class_id``, ``class_name``, ``stand_in``, ``weights``.
    """
    from pathlib import Path

    import pandas as pd

    from helpers import io

    folder = Path(folder)
    rows = []
    for r, (cid, cname) in enumerate(zip(g.classes, g.row_labels)):
        for c, spec in enumerate(g.networks):
            file = f"{spec['network']}_{cid}.png"
            io.save_image(g.images[r, c], folder / file)
            rows.append({"file": file, "network": spec["network"], "seed": spec["seed"], "alpha": spec["alpha"],
                         "class_id": cid, "class_name": cname, "stand_in": g.stand_in, "weights": g.weights})
    df = pd.DataFrame(rows)
    df["seed"] = df["seed"].astype("Int64")
    io.save_table(df, folder / "manifest.csv")
    return df


# --- distance tables and plots ----------------------------------------------------------------

def _summary(values) -> dict:
    v = np.asarray(values, dtype=float)
    return {"n": v.size, "mean": v.mean(), "sd": v.std(ddof=1) if v.size > 1 else np.nan, "min": v.min(), "max": v.max()}


def distance_table(model, seeds, *, alpha: float = ALPHA, progress: bool = True):
    """Measured vs analytic vs reported cosine distances of Eq. 3 networks (p2-distances.csv).

    Three variants: perturb the trainable parameters and measure over them (default), perturb
    and measure the whole state dict (``include="all"``), and perturb the parameters but measure
    over the whole state dict (the unperturbed buffers dilute the distance: ``fraction`` < 1).

    Returns:
        pandas.DataFrame, one row per (variant, comparison) with n, mean, sd, min, max of the
        measured distances over ``seeds`` (pairs for "perturbed vs perturbed"), the analytic
        expectation and the paper's value.
    """
    import pandas as pd

    seeds = [int(s) for s in seeds]
    rows = []
    iu = np.triu_indices(len(seeds), k=1)
    grams = {include: _gram(model, seeds, alpha, include, progress) for include in ("parameters", "all")}
    for include, measure in [("parameters", "parameters"), ("all", "all"), ("parameters", "all")]:
        gram, rest = grams[include]
        total = gram + rest if measure == "all" else gram
        r = dict(zip(("to_original", "pairwise"), _distances(total)))
        f = gram[0, 0] / total[0, 0]
        for comp, values, between in [("perturbed vs original", r["to_original"], False),
                                      ("perturbed vs perturbed", r["pairwise"][iu], True)]:
            key = "perturbed_vs_perturbed" if between else "perturbed_vs_original"
            rows.append({"perturbed": include, "measured_over": measure, "comparison": comp, "alpha": alpha,
                         "seeds": f"{min(seeds)}-{max(seeds)}", **_summary(values),
                         "analytic": float(analytic_distance(alpha, fraction=f, between_perturbed=between)),
                         "perturbed_share_of_norm2": f, "paper": PAPER_DISTANCES[key]})
    return pd.DataFrame(rows)


def distance_sweep(model, alphas, seeds, *, include: str = "parameters", progress: bool = True):
    """Measured (mean, sd over seeds / pairs) and analytic distances for each alpha (long DataFrame)."""
    import pandas as pd
    from tqdm.auto import tqdm

    rows = []
    iu = np.triu_indices(len(seeds), k=1)
    for a in tqdm(list(alphas), disable=not progress, desc="alphas"):
        r = perturbation_distances(model, seeds, alpha=float(a), include=include, progress=False)
        for comp, values, between in [("perturbed vs original", r["to_original"], False),
                                      ("perturbed vs perturbed", r["pairwise"][iu], True)]:
            rows.append({"alpha": float(a), "comparison": comp, **_summary(values),
                         "analytic": float(analytic_distance(a, between_perturbed=between))})
    return pd.DataFrame(rows)


def plot_distance_vs_alpha(sweep, *, stand_in: bool = True, ax=None):
    """Measured distances (points, ±1 sd) and the analytic curves vs alpha, with the paper's values."""
    import matplotlib.pyplot as plt

    from helpers import plots

    fig, ax = (plt.subplots(figsize=(5, 3.6)) if ax is None else (ax.figure, ax))
    grid = np.linspace(0, max(sweep["alpha"].max(), 0.6), 200)
    for (comp, d), color, between in zip(sweep.groupby("comparison", sort=False), ("C0", "C1"), (False, True)):
        ax.plot(grid, analytic_distance(grid, between_perturbed=between), color=color, lw=1,
                label=f"{comp}: analytic")
        ax.errorbar(d["alpha"], d["mean"], yerr=d["sd"].fillna(0), fmt="o", ms=4, color=color, capsize=2,
                    label=f"{comp}: measured")
    ax.plot([ALPHA, ALPHA], [PAPER_DISTANCES["perturbed_vs_original"], PAPER_DISTANCES["perturbed_vs_perturbed"]],
            "k*", ms=9, label="reported in the paper (α = 0.35)")
    ax.set(xlabel="α (Eq. 3)", ylabel="cosine distance", title="Distance of perturbed networks vs α")
    ax.legend(fontsize=7, frameon=False)
    plots.label(fig, plots.STAND_IN if stand_in else None)
    return fig


# --- spectra and edges (Supplementary A4 / S6) ---------------------------------------------------

NATURAL_SKIMAGE = ("astronaut", "camera", "chelsea", "coffee", "rocket", "grass", "gravel", "brick")


def natural_images(folder=None, *, size: int = 256, limit: int | None = None) -> dict:
    """Natural photographs, centre-cropped to squares and resized to ``size`` (uint8 HxWx3).

    Args:
        folder: folder of images (``*.png``, ``*.jpg``, ``*.jpeg``, ``*.JPEG``, searched recursively,
            e.g. a few ImageNet validation images as in the paper); ``None``: photographs that ship
            inside scikit-image (:data:`NATURAL_SKIMAGE`, no download).
        size: side length in pixels (the generator's 256 by default, so wavenumbers compare).
        limit: at most this many images (sorted by name).

    Returns:
        ``{name: uint8 (size, size, 3)}``; unreadable files are skipped with a warning.
    """
    from pathlib import Path

    from PIL import Image

    from helpers import io

    if folder is None:
        import skimage.data

        sources = {n: (lambda n=n: getattr(skimage.data, n)()) for n in NATURAL_SKIMAGE}
    else:
        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"NATURAL_IMAGES folder {folder} does not exist or is not a folder")
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
        if not files:
            raise FileNotFoundError(f"NATURAL_IMAGES folder {folder} holds no .png/.jpg/.jpeg images")
        sources = {str(p.relative_to(folder)): (lambda p=p: p) for p in files}
    out = {}
    for name, get in list(sources.items())[:limit]:
        try:
            img = io.read_image(get())
        except io.ImageReadError as exc:
            warnings.warn(f"natural_images: skipping {name}: {exc}", stacklevel=2)
            continue
        h, w = img.shape[:2]
        s = min(h, w)
        crop = img[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
        out[name] = np.asarray(Image.fromarray(crop).resize((size, size), Image.Resampling.LANCZOS))
    return out


def spectra_edges(groups: dict, *, sigma: float = 2.0):
    """Radial amplitude spectra and Canny edge densities of image groups (features.py measures).

    Args:
        groups: ``{group name: {image name: uint8 HxWx3}}`` (e.g. perturbed / original / natural).
        sigma: Canny smoothing in pixels.

    Returns:
        (per-image DataFrame: group, image, slope, intercept, edge_density, low_freq_amplitude
        (mean amplitude below 0.05 cycles/pixel); spectra DataFrame: group, image, k, amplitude).
    """
    import pandas as pd

    from helpers import features

    rows, spec = [], []
    for group, images in groups.items():
        for name, img in images.items():
            s = features.radial_spectrum(img)
            low = s["k"] < 0.05
            rows.append({"group": group, "image": name, "slope": s["slope"], "intercept": s["intercept"],
                         "edge_density": features.edge_density(img, sigma=sigma),
                         "low_freq_amplitude": float(np.mean(s["amplitude"][low]))})
            spec.append(pd.DataFrame({"group": group, "image": name, "k": s["k"], "amplitude": s["amplitude"]}))
    return pd.DataFrame(rows), pd.concat(spec, ignore_index=True)


def plot_spectra_edges(per_image, spectra, *, stand_in: bool = True, size: int = 256):
    """Left: mean radial amplitude spectrum per group (log-log, band = 1 sd); right: Canny edge density."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from helpers import plots

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.6), gridspec_kw=dict(width_ratios=(1.4, 1)))
    for i, (group, d) in enumerate(spectra.groupby("group", sort=False)):
        m = np.log10(d.pivot_table(index="k", columns="image", values="amplitude").clip(lower=1e-12))
        k = m.index.to_numpy() * size
        mean, sd = m.mean(axis=1).to_numpy(), m.std(axis=1).fillna(0).to_numpy()  # over images, in log10
        a1.plot(k, 10 ** mean, color=f"C{i}", lw=1.2, label=f"{group} (n={m.shape[1]})")
        a1.fill_between(k, 10 ** (mean - sd), 10 ** (mean + sd), color=f"C{i}", alpha=0.2, lw=0)
    a1.set(xscale="log", yscale="log", xlabel=f"wavenumber k (cycles per {size} px)", ylabel="Fourier amplitude (geometric mean ± 1 sd)",
           title="Radially averaged amplitude spectra")
    a1.legend(fontsize=7, frameon=False)
    sns.boxplot(data=per_image, x="group", y="edge_density", hue="group", ax=a2, fliersize=0, width=0.5, legend=False)
    sns.stripplot(data=per_image, x="group", y="edge_density", color="k", size=2.5, ax=a2)
    a2.set(xlabel="", ylabel="Canny edge density (fraction of pixels)", title="Sharp edges")
    fig.tight_layout()
    plots.label(fig, plots.STAND_IN if stand_in else None)
    return fig

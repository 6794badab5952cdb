"""BigGAN-deep-256 weight surgery for Janik (Sci. Rep. 2023): Eq. 3, Eq. 4, and images from the paper's inputs.

The distances between networks are :mod:`helpers.synthesis.biggan_distances`; galleries of networks x
classes, :mod:`helpers.synthesis.biggan_gallery`.

The generator of ``pytorch_pretrained_biggan`` (``helpers.nets.models.load("biggan-deep-256")``)
is split as in the paper's Figure 1 (:func:`blocks`):

===========  ===============================================  ===========================
paper        modules                                          note
===========  ===============================================  ===========================
``entry``    ``embeddings`` (Linear 1000->128), ``generator.gen_z``  class embedding, z -> 4x4
``B1..B13``  ``generator.layers.0`` .. ``generator.layers.12``  GenBlocks; ``B9`` = SelfAttn
``output``   ``generator.bn``, ``generator.conv_to_rgb``        final BN, 3x3 conv to RGB
===========  ===============================================  ===========================

B2, B4, B6, B8, B11 and B13 upsample by 2. The network is built from the config the package
publishes beside the weights (:func:`helpers.nets.models.biggan_config`): the generator holds
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
import pandas as pd
import torch
from pytorch_pretrained_biggan import truncated_noise_sample
from pytorch_pretrained_biggan.model import GenBlock, SelfAttn
from scipy import stats
from torch.nn.utils.spectral_norm import SpectralNorm

from helpers.nets import models
from helpers.progress import tqdm

ALPHA = 0.35
TRUNCATION = 0.4
NOISE_SEED = 5678
PAPER_CLASSES = (832, 967, 947, 46, 528, 949, 319, 978, 980)
BLOCKS = ("entry",) + tuple(f"B{i}" for i in range(1, 14)) + ("output",)
BATCH_SIZE = 3  # images per forward pass on CPU, from benchmarks/biggan.py
INCLUDE = ("parameters", "all")

_PREFIXES = {"entry": ("embeddings.", "generator.gen_z."), "output": ("generator.bn.", "generator.conv_to_rgb.")}
_PREFIXES.update({f"B{i + 1}": (f"generator.layers.{i}.",) for i in range(13)})


# --- structure -------------------------------------------------------------------------------

def block_of(name: str) -> str:
    """The paper's block (``"entry"``, ``"B1"``..``"B13"``, ``"output"``) of a state-dict key.

    Used in: notebooks 05 and 06 through :func:`helpers.synthesis.biggan_gallery.gallery`.
    """
    for block, prefixes in _PREFIXES.items():
        if name.startswith(prefixes):
            return block
    raise KeyError(f"state-dict key {name!r} belongs to no block of BigGAN-deep-256 (expected a prefix among "
                   f"{sorted(p for ps in _PREFIXES.values() for p in ps)})")


def check_blocks(blocks):
    """The set of block names in ``blocks`` (a name or a list; None: None), or ValueError naming unknown ones.

    Used in: notebooks 05 and 06 through :func:`helpers.synthesis.biggan_gallery.gallery`.
    """
    if blocks is None:
        return None
    if isinstance(blocks, str):
        blocks = [blocks]
    blocks = list(blocks)
    bad = [b for b in blocks if b not in BLOCKS]
    if bad:
        raise ValueError(f"blocks: unknown block(s) {bad}; expected names among {BLOCKS}")
    return set(blocks)


def check_include(include):
    """Raise unless ``include`` is one of :data:`INCLUDE` ("parameters" or "all").

    Used in: notebooks 05 and 06 through :func:`helpers.synthesis.biggan_gallery.gallery`.
    """
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

    Used in: notebooks 05 and 06 through :func:`helpers.synthesis.biggan_gallery.gallery`.
    """
    check_include(include)
    wanted = check_blocks(blocks)
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

    Used in: notebook 05 (Figure 1); notebook 06 (p2-block-sweep.png).
    """
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

def noise_factor_(noise: torch.Tensor, alpha: float) -> torch.Tensor:
    """``noise`` -> ``1 + alpha * noise`` in place (float32): the one formula perturb and the distances share.

    Used in: notebooks 05 and 06 through :func:`helpers.synthesis.biggan_gallery.gallery`.
    """
    return noise.mul_(alpha).add_(1.0)


def noise_stream(model, *, seed: int = 0, include: str = "parameters"):
    """Yield ``(name, tensor, noise)`` in the documented order: the one definition of a seed's network.

    A CPU ``torch.Generator`` seeded with ``seed`` draws ``torch.randn(tensor.shape)`` (float32)
    for every tensor of ``tensors(model, include=include)`` in state-dict order, so the same seed
    gives the same network on CPU and CUDA, and a block subset gets exactly the noise it has in
    the full network. ``noise`` is a view of one reused buffer, valid until the next item.

    Used in: notebooks 05 and 06 through :func:`helpers.synthesis.biggan_gallery.gallery`.
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

    Used in: notebooks 05 and 06 through :func:`helpers.synthesis.biggan_gallery.gallery`.
    """
    if not (isinstance(alpha, (int, float)) and math.isfinite(alpha) and alpha >= 0):
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha!r}")
    wanted = check_blocks(blocks)
    with _restoring(backup, tmpdir) as b, torch.no_grad():
        negative_vars = 0
        for name, t, noise in noise_stream(model, seed=seed, include=include):
            if wanted is not None and block_of(name) not in wanted:
                continue
            b.save(name, t)
            t.mul_(noise_factor_(noise, alpha).to(device=t.device, dtype=t.dtype))
            if name.endswith("running_vars"):
                negative_vars += int((t < 0).sum())
        if negative_vars:
            warnings.warn(f"perturb(seed={seed}, alpha={alpha}, include='all'): {negative_vars} batch-norm running "
                          f"variances became negative; their channels give NaN", RuntimeWarning, stacklevel=3)
        yield model


# --- Eq. 4: block resampling -------------------------------------------------------------------

def _redraw(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """New draws with x's statistics: per filter pixel for kxk convolutions (k > 1), else per tensor."""
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

    Used in: notebooks 05 and 06 through :func:`helpers.synthesis.biggan_gallery.gallery`.
    """
    wanted = check_blocks(block)
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


# --- generation -------------------------------------------------------------------------------

def latents(classes=PAPER_CLASSES, *, truncation: float = TRUNCATION, noise_seed: int = NOISE_SEED):
    """The paper's inputs: one truncated-normal latent row and one one-hot row per class.

    The paper draws ``truncated_noise_sample(truncation=0.4, batch_size=9, seed=5678)`` for its
    nine classes, so class ``PAPER_CLASSES[i]`` gets row ``i`` whatever list it appears in (the
    same latent per class across networks and figures). A class outside the nine gets row
    ``9 + j`` of a larger draw with the same seed (``j``: its order among such classes).

    Returns:
        (z float32 (N, 128), one_hot float32 (N, 1000)) as torch tensors.

    Used in: notebooks 05 and 06 through :func:`helpers.synthesis.biggan_gallery.gallery`.
    """
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
    """Generator output (N, 3, H, W) in [-1, 1] -> uint8 (N, H, W, 3), as ``convert_to_images`` does.

    Used in: notebooks 05 and 06 through :func:`helpers.synthesis.biggan_gallery.gallery`.
    """
    arr = x.detach().float().cpu().numpy().transpose(0, 2, 3, 1)
    arr = np.nan_to_num(arr, nan=-1.0)
    return np.clip((arr + 1.0) / 2.0 * 256.0, 0, 255).astype(np.uint8)


SPECTRAL_NORM_MODES = ("stored", "train")


def check_spectral_norm(mode):
    """Raise unless ``mode`` is one of :data:`SPECTRAL_NORM_MODES`.

    Used in: notebooks 05 and 06 through :func:`helpers.synthesis.biggan_gallery.gallery`.
    """
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

    Used in: notebooks 05 and 06 through :func:`helpers.synthesis.biggan_gallery.gallery`.
    """
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

    Used in: notebooks 05 and 06 through :func:`helpers.synthesis.biggan_gallery.gallery`.
    """
    if not 0 < truncation <= 1:
        raise ValueError(f"truncation must be in (0, 1], got {truncation}")
    check_spectral_norm(spectral_norm)
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
    """ImageNet class names (torchvision's list, offline), e.g. 832 -> ``"stupa"``.

    Used in: notebooks 05 and 06 through :func:`helpers.synthesis.biggan_gallery.gallery`.
    """
    # imported here: torchvision adds 1.3 s to torch's import (measured), for a list of names
    from torchvision.models import ResNet152_Weights

    cats = ResNet152_Weights.IMAGENET1K_V1.meta["categories"]
    return [cats[int(c)] for c in classes]

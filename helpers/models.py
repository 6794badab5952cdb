"""One loading layer for the three networks of the two studies.

``load(name, source=...)`` returns an eval-mode ``torch.nn.Module`` for

* ``"inception5h"``: GoogLeNet/InceptionV1 as in Google's 2015 DeepDream graph, all 144
  layers of the emotion study (:mod:`helpers.inception`);
* ``"biggan-deep-256"``: ``pytorch_pretrained_biggan.BigGAN`` (55.9M parameters);
* ``"resnet152"``: ``torchvision.models.resnet152`` with ImageNet weights (IMAGENET1K_V1).

``source="pretrained"`` (or ``"auto"``, the same thing: never a silent fallback) loads the
real weights: from ``path=``, from ``$NA_WEIGHTS_<NAME>``, from the cache folder
(:func:`helpers.paths.cache`), or downloaded there with a progress bar. Files are checked
against a pinned sha256 where one can be cited, otherwise against the sha256 recorded at
first download (:mod:`helpers.download`). ``source="random"`` builds the same architecture
with seeded random weights that give finite, non-constant outputs: a *stand-in* for tests
and CI, labelled as such (:func:`is_stand_in`, :func:`describe`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from helpers import download, paths

NAMES = ("inception5h", "biggan-deep-256", "resnet152")
SOURCES = ("auto", "pretrained", "random")


class WeightsUnavailable(RuntimeError):
    """Pretrained weights are neither on disk nor downloadable; the message says what to do."""


@dataclass(frozen=True)
class WeightSpec:
    name: str
    url: str
    filename: str
    sha256: str | None = None  # full pin, only where citable
    sha256_prefix: str | None = None  # e.g. torchvision's file-name prefix
    note: str = ""

    @property
    def env_var(self) -> str:
        return "NA_WEIGHTS_" + self.name.upper().replace("-", "_")


SPECS = {
    "inception5h": WeightSpec(
        "inception5h",
        "https://storage.googleapis.com/download.tensorflow.org/models/inception5h.zip",
        "inception5h.zip",
        note="Google's 2015 DeepDream graph (tensorflow_inception_graph.pb inside the zip). Also accepted via path=: "
             "the extracted .pb, torch-lucent's inception5h.pth (140 of the 144 layers: no head0/head1 bottlenecks), or a converted state dict.",
    ),
    "biggan-deep-256": WeightSpec(
        "biggan-deep-256",
        "https://s3.amazonaws.com/models.huggingface.co/biggan/biggan-deep-256-pytorch_model.bin",
        "biggan-deep-256-pytorch_model.bin",
        note="pytorch_pretrained_biggan's converted DeepMind TF-Hub weights.",
    ),
    "resnet152": WeightSpec(
        "resnet152",
        "https://download.pytorch.org/models/resnet152-394f9c45.pth",
        "resnet152-394f9c45.pth",
        sha256_prefix="394f9c45",  # torchvision's file names carry the first hex digits of the sha256
        note="torchvision ResNet152_Weights.IMAGENET1K_V1.",
    ),
}

# BigGAN-deep-256 (the config.json that pytorch_pretrained_biggan downloads beside the weights):
# 12 GenBlocks + 1 self-attention = the paper's 13 blocks B1..B13.
BIGGAN_DEEP_256_CONFIG = dict(
    output_dim=256, z_dim=128, class_embed_dim=128, channel_width=128, num_classes=1000,
    layers=[(False, 16, 16), (True, 16, 16), (False, 16, 16), (True, 16, 8), (False, 8, 8), (True, 8, 8),
            (False, 8, 4), (True, 4, 4), (False, 4, 2), (True, 2, 2), (False, 2, 1), (True, 1, 1)],
    attention_layer_position=8, eps=1e-4, n_stats=51,
)


def _check(name: str, source: str) -> None:
    if name not in NAMES:
        import difflib

        close = difflib.get_close_matches(str(name), NAMES, n=3, cutoff=0.3)
        raise ValueError(f"unknown network {name!r}; expected one of {NAMES}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")


def weights_file(name: str, *, path=None, download_missing: bool = True, progress: bool = True) -> Path:
    """Locate (and if needed download) the pretrained weights of ``name``; verify its sha256.

    Order: ``path``, ``$NA_WEIGHTS_<NAME>``, the cache folder, then a download into the
    cache folder.

    Raises:
        WeightsUnavailable: with the network, URL, expected file name, sha256 and where to put it.
        FileNotFoundError: ``path`` was given but does not exist.
        download.ChecksumError: the file does not match the pinned or recorded sha256.
    """
    _check(name, "pretrained")
    spec = SPECS[name]
    explicit = path or os.environ.get(spec.env_var)
    if explicit:
        p = Path(explicit).expanduser()
        if not p.exists():
            raise FileNotFoundError(f"{name}: weights file {p} (from {'path=' if path else spec.env_var}) does not exist")
        pinned = spec.filename == p.name
        download.verify(p, sha256=spec.sha256 if pinned else None, sha256_prefix=spec.sha256_prefix if pinned else None,
                        progress=progress)
        return p
    cached = paths.cache() / spec.filename
    if cached.exists():
        download.verify(cached, sha256=spec.sha256, sha256_prefix=spec.sha256_prefix, progress=progress)
        return cached
    if download_missing:
        try:
            return download.download(spec.url, cached, sha256=spec.sha256, sha256_prefix=spec.sha256_prefix, progress=progress)
        except download.DownloadError as exc:
            reason = str(exc)
    else:
        reason = "downloading was switched off"
    pin = spec.sha256 or (f"starting with {spec.sha256_prefix}" if spec.sha256_prefix else
                          "not pinned (none can be cited); it is recorded at first download and verified afterwards")
    raise WeightsUnavailable(
        f"Pretrained weights for {name!r} are not available: {reason}.\n"
        f"  URL:       {spec.url}\n"
        f"  file name: {spec.filename}\n"
        f"  sha256:    {pin}\n"
        f"  put it at: {cached}  (cache folder; set NA_CACHE_DIR to move it)\n"
        f"  or pass:   models.load({name!r}, path='/path/to/{spec.filename}')  or set {spec.env_var}\n"
        f"  {spec.note}\n"
        f"  For tests and demos without the real weights use source='random' (a labelled stand-in)."
    )


def load(name: str, *, source: str = "auto", path=None, device="cpu", seed: int = 0, progress: bool = True):
    """Load one of the study networks in eval mode.

    Args:
        name: ``"inception5h"``, ``"biggan-deep-256"`` or ``"resnet152"``.
        source: ``"pretrained"``/``"auto"`` (real weights or a clear error) or ``"random"``
            (seeded stand-in of the same architecture).
        path: local weights file (offline machines); implies pretrained.
        device: torch device or string (``"cpu"``, ``"cuda"``).
        seed: seed of the random stand-in.
        progress: show download / hashing progress bars.

    Returns:
        torch.nn.Module in eval mode with ``requires_grad`` off for every parameter and a
        ``na_info`` dict (name, source, file, sha256, seed) describing its weights.
    """
    _check(name, source)
    if source == "random" and path is not None:
        raise ValueError("path= loads pretrained weights; it cannot be combined with source='random'")
    info = {"name": name, "source": "random" if source == "random" else "pretrained", "seed": seed if source == "random" else None,
            "file": None, "sha256": None}
    if source == "random":
        model = _BUILDERS[name](seed)
    else:
        f = weights_file(name, path=path, progress=progress)
        info["file"] = str(f)
        info["sha256"] = download.record_path(f).read_text().split()[0] if download.record_path(f).exists() else download.sha256sum(f)
        model = _LOADERS[name](f)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    model.na_info = info
    return model.to(device)


def is_stand_in(model) -> bool:
    """True when ``model`` carries random stand-in weights (or no provenance at all)."""
    return getattr(model, "na_info", {}).get("source", "random") != "pretrained"


def describe(model) -> str:
    """One line saying which weights ``model`` carries, for titles and manifests."""
    info = getattr(model, "na_info", None)
    if not info:
        return "unknown weights (not loaded through helpers.models)"
    if info["source"] == "random":
        return f"{info['name']}: STAND-IN random weights (seed {info['seed']}), not the pretrained network"
    return f"{info['name']}: pretrained weights {Path(info['file']).name} (sha256 {info['sha256'][:12]}...)"


# --- ResNet-152 -------------------------------------------------------------------------

def _resnet_random(seed: int):
    import torchvision

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return torchvision.models.resnet152(weights=None)


def _resnet_pretrained(f: Path):
    import torchvision

    model = torchvision.models.resnet152(weights=None)
    state = torch.load(f, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model


# --- BigGAN-deep-256 ----------------------------------------------------------------------

def biggan_config():
    """The ``BigGANConfig`` of BigGAN-deep-256."""
    from pytorch_pretrained_biggan import BigGANConfig

    return BigGANConfig.from_dict(BIGGAN_DEEP_256_CONFIG)


def _biggan_random(seed: int, *, calibrate_batch: int = 2, truncation: float = 0.4):
    """Random BigGAN-deep-256 whose outputs are finite and textured.

    Three things a fresh ``BigGAN(config)`` gets wrong: (1) the unconditional
    ``generator.bn`` allocates ``weight``/``bias`` with ``torch.Tensor(n)``, i.e. whatever
    was in memory (NaN-prone): set to 1 and 0; (2) spectral norm's ``u``/``v`` start as random
    vectors, so ``sigma`` is badly underestimated in eval mode and activations blow up:
    power-iterate them to convergence; (3) the batch-norm running statistics are 0/1 while
    real activations are not: calibrate them on one seeded batch, so every layer sees
    normalised inputs (the pretrained file carries real statistics instead).
    """
    from pytorch_pretrained_biggan import BigGAN, truncated_noise_sample
    from pytorch_pretrained_biggan.model import BigGANBatchNorm

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BigGAN(biggan_config())
        with torch.no_grad():
            model.generator.bn.weight.fill_(1.0)
            model.generator.bn.bias.zero_()
            _power_iterate_spectral_norms(model, n_iter=30)
        model.eval()
        z = torch.from_numpy(truncated_noise_sample(truncation=truncation, batch_size=calibrate_batch, seed=seed))
        classes = torch.zeros(calibrate_batch, 1000)
        classes[torch.arange(calibrate_batch), torch.randint(0, 1000, (calibrate_batch,))] = 1.0

    def set_stats(module, args):
        x = args[0]
        with torch.no_grad():
            module.running_means.copy_(x.mean(dim=(0, 2, 3)).expand_as(module.running_means))
            module.running_vars.copy_(x.var(dim=(0, 2, 3)).clamp_min(1e-8).expand_as(module.running_vars))

    hooks = [m.register_forward_pre_hook(set_stats) for m in model.modules() if isinstance(m, BigGANBatchNorm)]
    try:
        with torch.no_grad():
            model(z, classes, truncation)
    finally:
        for h in hooks:
            h.remove()
    return model


def _power_iterate_spectral_norms(model, *, n_iter: int = 30) -> None:
    """Converge every spectral-norm ``u``/``v`` pair of ``model`` in place."""
    from torch.nn.utils.spectral_norm import SpectralNorm

    for module in model.modules():
        for hook in list(module._forward_pre_hooks.values()):
            if isinstance(hook, SpectralNorm):
                power_iterate(module, hook, n_iter)


def power_iterate(module, hook, n_iter: int) -> None:
    """Converge ``u``/``v`` of one spectrally normalised module on its current ``weight_orig``."""
    old = hook.n_power_iterations
    hook.n_power_iterations = n_iter
    try:
        setattr(module, hook.name, hook.compute_weight(module, do_power_iteration=True))
    finally:
        hook.n_power_iterations = old


def _biggan_pretrained(f: Path):
    """Build BigGAN-deep-256 and load ``f`` with an explicit key check.

    ``BigGAN.from_pretrained`` loads with ``strict=False`` and would silently keep random
    tensors for missing keys. Here the only keys allowed to be missing are spectral-norm
    ``*.weight_v`` vectors, which torch recomputes from ``weight_u`` and ``weight_orig``
    when loading; anything else missing or unexpected is an error.
    """
    from pytorch_pretrained_biggan import BigGAN

    model = BigGAN(biggan_config())
    state = torch.load(f, map_location="cpu", weights_only=True)
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith(".weight_v")]
    if missing or result.unexpected_keys:
        raise RuntimeError(f"{f}: not a BigGAN-deep-256 state dict: {len(missing)} missing keys "
                           f"(e.g. {missing[:5]}), {len(result.unexpected_keys)} unexpected (e.g. {result.unexpected_keys[:5]})")
    return model


# --- InceptionV1 / inception5h ------------------------------------------------------------

def _inception_random(seed: int):
    from helpers import inception

    return inception.random_model(seed=seed)


def _inception_pretrained(f: Path):
    from helpers import inception

    return inception.from_file(f)


_BUILDERS = {"inception5h": _inception_random, "biggan-deep-256": _biggan_random, "resnet152": _resnet_random}
_LOADERS = {"inception5h": _inception_pretrained, "biggan-deep-256": _biggan_pretrained, "resnet152": _resnet_pretrained}


def status():
    """Which pretrained weights are on disk: one row per network (no download, no hashing).

    Returns:
        pandas.DataFrame with name, file, present, path, recorded sha256 (first 16 hex), pin, url.
    """
    import pandas as pd

    rows = []
    for name, spec in SPECS.items():
        env = os.environ.get(spec.env_var)
        f = Path(env).expanduser() if env else paths.cache(create=False) / spec.filename
        rec = download.record_path(f)
        rows.append({
            "name": name, "file": spec.filename, "present": f.exists(), "path": str(f),
            "recorded_sha256": rec.read_text().split()[0][:16] if rec.exists() else None,
            "pin": spec.sha256 or (f"prefix {spec.sha256_prefix}" if spec.sha256_prefix else "recorded at first download"),
            "url": spec.url,
        })
    return pd.DataFrame(rows)


# --- AlexNet (conv1 filters of the CNN measures in helpers.aesthetics) -------------------
# URL and file name from torchvision/models/alexnet.py (AlexNet_Weights.IMAGENET1K_V1); the
# file name carries the first 8 hex digits of the file's sha256, as torch.hub checks them.

SPECS["alexnet"] = WeightSpec(
    "alexnet",
    "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
    "alexnet-owt-7be5be79.pth",
    sha256_prefix="7be5be79",
    note="torchvision AlexNet_Weights.IMAGENET1K_V1 (conv1 feeds the CNN measures of helpers.aesthetics).",
)


def _alexnet_random(seed: int):
    import torchvision

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return torchvision.models.alexnet(weights=None)


def _alexnet_pretrained(f: Path):
    import torchvision

    model = torchvision.models.alexnet(weights=None)
    model.load_state_dict(torch.load(f, map_location="cpu", weights_only=True), strict=True)
    return model


_BUILDERS["alexnet"] = _alexnet_random
_LOADERS["alexnet"] = _alexnet_pretrained
NAMES = (*NAMES, "alexnet")

"""One loading layer for the networks of the two studies, and the one rule for what is a stand-in.

``load(name, source=...)`` returns an eval-mode ``torch.nn.Module`` for

* ``"inception5h"``: GoogLeNet/InceptionV1 as in Google's 2015 DeepDream graph, all 144
  layers of the emotion study (:mod:`helpers.nets.inception`);
* ``"biggan-deep-256"``: ``pytorch_pretrained_biggan.BigGAN`` (55,880,833 trainable parameters, the
  paper's "55.9M"), built from the ``config.json`` the package publishes beside the weights;
* ``"resnet152"``: ``torchvision.models.resnet152`` with ImageNet weights (IMAGENET1K_V1);
* ``"alexnet"``: ``torchvision.models.alexnet`` (IMAGENET1K_V1), whose conv1 feeds the CNN measures.

``source="pretrained"`` (or ``"auto"``, the same thing: never a silent fallback) loads the
real weights: from ``path=``, from ``$NA_WEIGHTS_<NAME>``, from the cache folder
(:func:`helpers.paths.cache`), or downloaded there with a progress bar. Files are checked
against a pinned sha256 where one can be cited, otherwise against the sha256 recorded at
first download (:mod:`helpers.sources`, :mod:`helpers.download`). ``source="random"`` builds the same
architecture with seeded random weights that give finite, non-constant outputs: a *stand-in* for tests
and CI, labelled as such (:func:`is_stand_in`, :func:`describe`).

Every way a weights file can be wrong (corrupt, truncated, another format, another network's
file, a checkpoint missing keys) ends in one :class:`WeightsFileError` that names the network,
the file, its size and sha256, what was expected and how to fix it. Files written by
:mod:`helpers.testing.rehearsal` (the real formats holding stand-in weights) carry a marker beside them
(:func:`mark_stand_in`) and load as ``source="rehearsal"``: still labelled STAND-IN.

:func:`is_stand_in` is the one rule for what carries stand-in weights: a model, a manifest or a table.
"""
from __future__ import annotations

import difflib
import json
import os
import re
from pathlib import Path

import pandas as pd

from helpers import download, paths, sources

# torch (1.9 s), torchvision, pytorch_pretrained_biggan and the network modules are imported inside the
# functions that build or read a network: the stand-in rule, the errors and status() are used by modules
# that never run a network (helpers.measures.table, the analysis notebooks), which must not load torch.

NAMES = tuple(sources.WEIGHTS)
SOURCES = ("auto", "pretrained", "random")


class WeightsUnavailable(RuntimeError):
    """Pretrained weights are neither on disk nor downloadable; the message says what to do.

    Used in: notebooks 01 (p1-dream-contact-sheet.png, p1-dream-octaves.png), 05 and 06 through
        :func:`helpers.nets.models.load`; notebook 02 through :func:`helpers.measures.table.table` (measure group
        ``"aesthetics"``); notebook 07 through :class:`helpers.search.gram.GramEncoder`.
    """


class WeightsFileError(ValueError):
    """A weights (or config) file exists but cannot be loaded: corrupt, truncated or the wrong file.

    The message names the network, the file, its size and sha256, what was expected and the fix.
    ``reason`` holds the short cause ("not a BigGAN-deep-256 checkpoint: missing 3 keys such as ...").

    Used in: notebooks 01 (p1-dream-contact-sheet.png, p1-dream-octaves.png), 05 and 06 through
        :func:`helpers.nets.models.load`; notebook 02 through :func:`helpers.measures.table.table` (measure group
        ``"aesthetics"``); notebook 07 through :class:`helpers.search.gram.GramEncoder`.
    """

    def __init__(self, message: str, *, reason: str = ""):
        super().__init__(message)
        self.reason = reason


BIGGAN_CONFIG_FIELDS = ("output_dim", "z_dim", "class_embed_dim", "channel_width", "num_classes", "layers",
                        "attention_layer_position", "eps", "n_stats")


def _check(name: str, source: str) -> None:
    if name not in NAMES:
        close = difflib.get_close_matches(str(name), NAMES, n=3, cutoff=0.3)
        raise ValueError(f"unknown network {name!r}; expected one of {NAMES}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")


def weights_file(name: str, *, path=None, download_missing: bool = True, progress: bool = True) -> Path:
    """Locate (and if needed download) the pretrained weights of ``name``; verify its sha256.

    Order: ``path``, ``$NA_WEIGHTS_<NAME>``, the cache folder, then a download into the
    cache folder (each of the spec's locations in turn).

    Raises:
        WeightsUnavailable: with the network, URLs, expected file name, sha256 and where to put it.
        FileNotFoundError: ``path`` was given but does not exist.
        download.ChecksumError: the file does not match the pinned or recorded sha256.

    Used in: notebooks 01 (p1-dream-contact-sheet.png, p1-dream-octaves.png), 05 and 06 through
        :func:`helpers.nets.models.load`; notebook 02 through :func:`helpers.measures.table.table` (measure group
        ``"aesthetics"``); notebook 07 through :class:`helpers.search.gram.GramEncoder`.
    """
    _check(name, "pretrained")
    return _locate(sources.WEIGHTS[name], path=path, download_missing=download_missing, progress=progress,
                   hint=f"models.load({name!r}, path='/path/to/{sources.WEIGHTS[name].filename}')")


def _locate(spec: sources.WeightSpec, *, path=None, download_missing=True, progress=True, hint="", timeout=30.0) -> Path:
    explicit = path or os.environ.get(spec.env_var)
    if explicit:
        p = Path(explicit).expanduser()
        if not p.exists():
            raise FileNotFoundError(f"{spec.name}: weights file {p} (from {'path=' if path else spec.env_var}) does not exist")
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
            return download.download_first(spec.urls, cached, sha256=spec.sha256, sha256_prefix=spec.sha256_prefix,
                                           progress=progress, timeout=timeout)
        except download.DownloadError as exc:
            reason = str(exc)
    else:
        reason = "downloading was switched off"
    pin = spec.sha256 or (f"starting with {spec.sha256_prefix}" if spec.sha256_prefix else
                          "not pinned (none can be cited); it is recorded at first download and verified afterwards")
    urls = "\n             ".join(spec.urls)
    raise WeightsUnavailable(
        f"Pretrained weights for {spec.name!r} are not available: {reason}.\n"
        f"  URL{'s' if len(spec.urls) > 1 else ' '}:      {urls}\n"
        f"  file name: {spec.filename}\n"
        f"  sha256:    {pin}\n"
        f"  put it at: {cached}  (cache folder; set NA_CACHE_DIR to move it)\n"
        f"  or pass:   {hint}  or set {spec.env_var}\n"
        f"  {spec.note}\n"
        f"  Without the real weights: PROFILE = \"smoke\" (make smoke; make lab PROFILE=smoke; NA_PROFILE=smoke) runs "
        f"every notebook on labelled stand-ins, as source='random' does here."
    )


def load(name: str, *, source: str = "auto", path=None, device="cpu", seed: int = 0, progress: bool = True):
    """Load one of the study networks in eval mode.

    Args:
        name: ``"inception5h"``, ``"biggan-deep-256"`` or ``"resnet152"``.
        source: ``"pretrained"``/``"auto"`` (real weights or a clear error) or ``"random"``
            (seeded stand-in of the same architecture).
        path: local weights file (offline machines); implies pretrained. For BigGAN a
            ``config.json`` beside it (the package's folder layout) is used when present.
        device: torch device or string (``"cpu"``, ``"cuda"``).
        seed: seed of the random stand-in.
        progress: show download / hashing progress bars.

    Returns:
        torch.nn.Module in eval mode with ``requires_grad`` off for every parameter and a
        ``na_info`` dict (name, source, file, sha256, seed, and for BigGAN the config used)
        describing its weights. ``source`` is ``"pretrained"``, ``"random"`` (stand-in) or
        ``"rehearsal"`` (a real-format file holding stand-in weights, :func:`mark_stand_in`).

    Raises:
        WeightsUnavailable: no file and no download (the message says where to put one).
        WeightsFileError: the file (or BigGAN's config.json) is corrupt, truncated or the wrong file.
        download.ChecksumError: the file differs from its pinned or recorded sha256.

    Used in: notebook 01 (p1-dream-contact-sheet.png, p1-dream-octaves.png); notebook 02 through
        :func:`helpers.measures.table.table` (measure group ``"aesthetics"``); notebook 05 (Figure 1, Figure 2,
        Supplementary A2, Supplementary A4 / S6, 4 more outputs); notebook 06 (Figure 5, Supplementary A5 / S7,
        Supplementary S2, p2-block-sweep.png); notebook 07 through :class:`helpers.search.gram.GramEncoder`.
    """
    _check(name, source)
    if source == "random" and path is not None:
        raise ValueError("path= loads pretrained weights; it cannot be combined with source='random'")
    info = {"name": name, "source": "random" if source == "random" else "pretrained", "seed": seed if source == "random" else None,
            "file": None, "sha256": None}
    if source == "random":
        model = _BUILDERS[name](seed)
        if name == "biggan-deep-256":
            info["config"] = BIGGAN_FALLBACK
    else:
        f = weights_file(name, path=path, progress=progress)
        info["file"] = str(f)
        info["sha256"] = download.record_path(f).read_text().split()[0] if download.record_path(f).exists() else download.sha256sum(f)
        marker = stand_in_marker(f)
        if marker is not None:
            info.update(source="rehearsal", seed=marker.get("seed"), writer=marker.get("writer"))
        kwargs = {}
        if name == "biggan-deep-256":
            kwargs["config"], info["config"] = biggan_config(f, progress=progress)
        try:
            model = _LOADERS[name](f, **kwargs)
        except WeightsUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - every parse failure becomes one message (WeightsFileError)
            raise _file_error(sources.WEIGHTS[name], f, exc, sha256=info["sha256"]) from None
        if info["source"] == "pretrained" and getattr(model, "rehearsal_stand_in", False):
            # a rehearsal GraphDef carries its marker inside the graph (helpers.nets.graphdef.REHEARSAL_MARK)
            info.update(source="rehearsal", seed=None, writer="helpers.testing.rehearsal.write_inception5h_graph")
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    model.na_info = info
    return model.to(device)


def is_stand_in(obj) -> bool:
    """True unless ``obj`` is shown to come from the pretrained weights: the project's one stand-in rule.

    ``obj`` is one of

    * a network (as :func:`load` returns it, with ``na_info``): a stand-in unless ``na_info["source"]``
      is ``"pretrained"`` and it was not read from a rehearsal file (a rehearsal GraphDef carries its
      mark inside the graph, :data:`helpers.nets.graphdef.REHEARSAL_MARK`); no ``na_info``: a stand-in;
    * a manifest or table of generated images (a DataFrame, or the path of a CSV or parquet file): a
      stand-in unless its ``weights_source`` column (notebook 01's manifest) is ``"pretrained"`` on every
      row; without that column a ``stand_in`` column (notebook 05's gallery manifest) decides, a stand-in
      if any row is one; a table with neither column is a stand-in.

    Why a manifest without ``weights_source`` counts as a stand-in (notebooks 03 and 04 said so, the
    feature table said not): the STAND-IN label is a warning that what a figure shows may not come
    from the pretrained network, and a manifest without provenance cannot show that it does. Of the
    two possible mistakes, labelling real images STAND-IN costs a reader's doubt about one figure and
    is undone by writing the column (every manifest this project writes has it); leaving random-weight
    images unlabelled lets them pass for results, which is what the label exists to prevent. A network
    without provenance is a stand-in for the same reason.

    Used in: notebooks 01, 03 and 04; notebook 02 through :func:`helpers.measures.table.stimuli`; notebook 05
        (Supplementary A4 / S6, p2-distance-vs-alpha.png); notebook 06 through
        :func:`helpers.synthesis.biggan_gallery.gallery`; notebook 07 through
        :class:`helpers.search.gram.GramEncoder`.
    """
    if isinstance(obj, (str, Path)):
        obj = pd.read_parquet(obj) if Path(obj).suffix == ".parquet" else pd.read_csv(obj)
    if isinstance(obj, pd.DataFrame):
        if "weights_source" in obj.columns:
            return bool((obj["weights_source"] != "pretrained").any())
        if "stand_in" in obj.columns:
            return bool(obj["stand_in"].astype(bool).any())
        return True
    if getattr(obj, "rehearsal_stand_in", False):
        return True
    return getattr(obj, "na_info", {}).get("source", "random") != "pretrained"


def describe(model) -> str:
    """One line saying which weights ``model`` carries, for titles and manifests.

    Used in: notebooks 01, 05 and 06; notebook 02 through :func:`helpers.measures.table.table` (measure group
        ``"aesthetics"``); notebook 07 through :class:`helpers.search.gram.GramEncoder`.
    """
    info = getattr(model, "na_info", None)
    if not info:
        return "unknown weights (not loaded through helpers.nets.models)"
    if info["source"] == "random":
        return f"{info['name']}: STAND-IN random weights (seed {info['seed']}), not the pretrained network"
    if info["source"] == "rehearsal":
        seed = "" if info["seed"] is None else f" (seed {info['seed']})"
        return (f"{info['name']}: STAND-IN random weights{seed} in the real file format "
                f"({Path(info['file']).name}, written by helpers.testing.rehearsal), not the pretrained network")
    return f"{info['name']}: pretrained weights {Path(info['file']).name} (sha256 {info['sha256'][:12]}...)"


# --- errors and stand-in markers ------------------------------------------------------------

STAND_IN_SUFFIX = ".stand-in.json"


def mark_stand_in(path, **info) -> Path:
    """Write the marker that labels ``path`` as a real-format file holding stand-in weights.

    :func:`load` then reports ``source="rehearsal"`` and :func:`is_stand_in` is True, so every
    output made from the file is labelled STAND-IN. The marker is ``<file>.stand-in.json``
    (e.g. ``{"writer": "helpers.testing.rehearsal.write_biggan_deep_256", "seed": 0}``).

    Used in: no notebook; by :func:`helpers.testing.rehearsal.write_alexnet`,
        :func:`helpers.testing.rehearsal.write_biggan_deep_256`,
        :func:`helpers.testing.rehearsal.write_resnet152`.
    """
    path = Path(path)
    marker = path.with_name(path.name + STAND_IN_SUFFIX)
    marker.write_text(json.dumps({"stand_in": True, **info}, sort_keys=True) + "\n")
    return marker


def stand_in_marker(path) -> dict | None:
    """The marker of :func:`mark_stand_in` for ``path`` (or for the file a symlink points at), else None.

    Used in: notebooks 01 (p1-dream-contact-sheet.png, p1-dream-octaves.png), 05 and 06 through
        :func:`helpers.nets.models.load`; notebook 02 through :func:`helpers.measures.table.table` (measure group
        ``"aesthetics"``); notebook 07 through :class:`helpers.search.gram.GramEncoder`.
    """
    path = Path(path)
    for p in dict.fromkeys([path, path.resolve()]):
        marker = p.with_name(p.name + STAND_IN_SUFFIX)
        if marker.exists():
            try:
                return json.loads(marker.read_text())
            except (OSError, ValueError):
                return {"stand_in": True}
    return None


def _mb(n: int) -> str:
    return f"{n:,} bytes ({n / 1e6:.1f} MB)" if n >= 1e5 else f"{n:,} bytes"


def _clean(exc) -> str:
    """One line of an inner exception's text, without torch's advice to pass weights_only=False."""
    text = " ".join(str(exc).split())
    if not text and isinstance(exc, BaseException):
        text = type(exc).__name__ + (": the file is empty or ends early" if isinstance(exc, EOFError) else "")
    if "weights_only" in text:
        # torch's UnpicklingError explains how to bypass its safe loader: never pass that on, keep only the cause
        head = text.split("Weights only load failed")[0].rstrip(" (")
        m = re.search(r"WeightsUnpickler error:\s*(.*?)\s*(?:Check the documentation|$)", text)
        cause = m.group(1).strip() if m else ""
        if cause.startswith("Unsupported global"):
            why = f"it holds Python objects other than tensors ({cause}), which a safe load does not run"
        else:
            why = "its bytes are not a pickled torch checkpoint" + (f": {cause}" if cause else "")
        text = f"{head} ({why})" if head else why
    text = text.split(" This is an internal miniz error")[0]
    return text[:300] + ("..." if len(text) > 300 else "")


def _file_error(spec: sources.WeightSpec, f: Path, exc: BaseException, *, sha256: str | None = None) -> WeightsFileError:
    """One message for a file that exists but cannot be loaded (see :class:`WeightsFileError`)."""
    f = Path(f)
    size = f.stat().st_size if f.exists() else 0
    if sha256 is None and f.exists():
        sha256 = download.sha256sum(f)
    if isinstance(exc, WeightsFileError) and exc.reason:
        reason = exc.reason
    else:
        reason = _clean(exc)
        for prefix in (f"{f}: ", f"{f.name}: "):
            reason = reason.removeprefix(prefix)
        if not reason.startswith("not a"):
            reason = f"not a valid {spec.name} file: {reason}"
    record = download.record_path(f)
    where = f"{spec.env_var} or path=" if f.parent != paths.cache(create=False) else "the cache folder"
    lines = [
        f"{spec.name}: cannot load {f}",
        f"  file:     {_mb(size)}, sha256 {sha256}",
        f"  problem:  {reason}",
        f"  expected: {spec.expected}" + (f"; size {spec.size}" if spec.size else ""),
        f"  fix:      delete {f.name}" + (f" and its record {record.name}" if record.exists() else "")
        + f" and download it again ({' or '.join(spec.urls)}), or point {where} at a good copy",
    ]
    return WeightsFileError("\n".join(lines), reason=reason)


class _NotATorchFile(WeightsFileError):
    """torch.load could not read the file at all."""


def _torch_load(f: Path):
    """``torch.load(f, weights_only=True)`` on the CPU; unreadable files raise :class:`_NotATorchFile`."""
    import torch

    try:
        return torch.load(f, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - classified below, never passed on verbatim
        text = _clean(exc)
        if isinstance(exc, EOFError) or any(k in text.lower() for k in ("central directory", "ran out of input",
                                                                          "unexpected eof", "truncated")):
            why = f"the file is truncated or damaged (torch.load: {text})"
        else:
            why = f"torch.load cannot read it: it is corrupt, truncated or in another format ({text})"
        raise _NotATorchFile(why, reason=f"not a torch checkpoint: {why}") from None


def _state_dict_problem(label: str, state, model) -> str | None:
    """Why ``state`` is not exactly ``model``'s state dict (keys and shapes), or None."""
    if not isinstance(state, dict):
        return f"not a {label} checkpoint: the file holds a {type(state).__name__}, not a state dict"
    want = model.state_dict()
    missing = [k for k in want if k not in state]
    unexpected = [k for k in state if k not in want]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} of its {len(want)} keys, such as {', '.join(missing[:4])}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys, such as {', '.join(unexpected[:4])}")
        guess = _guess_network(state)
        return f"not a {label} checkpoint: " + "; ".join(parts) + (f" (it looks like a {guess} file)" if guess else "")
    bad = [k for k in want if tuple(state[k].shape) != tuple(want[k].shape)]
    if bad:
        k = bad[0]
        return (f"not a {label} checkpoint: {len(bad)} tensors have other shapes, such as {k} "
                f"{tuple(state[k].shape)} in the file vs {tuple(want[k].shape)} in the network")
    return None


def _guess_network(state: dict) -> str | None:
    keys = set(state) if isinstance(state, dict) else set()
    if "generator.gen_z.weight_orig" in keys:
        return "BigGAN (pytorch_pretrained_biggan)"
    if "layer4.0.conv1.weight" in keys and "fc.weight" in keys:
        return "torchvision ResNet"
    if "conv2d0_pre_relu_conv.weight" in keys or "format" in keys:
        return "inception5h"
    return None


# --- ResNet-152 -------------------------------------------------------------------------

def _torchvision_random(arch: str, seed: int):
    """torchvision's ``arch`` with its own seeded random initialisation."""
    import torch
    import torchvision

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return getattr(torchvision.models, arch)(weights=None)


def _torchvision_pretrained(arch: str, label: str, f: Path):
    """torchvision's ``arch`` with the state dict in ``f``; every key and shape must match."""
    import torchvision

    model = getattr(torchvision.models, arch)(weights=None)
    state = _torch_load(f)
    problem = _state_dict_problem(label, state, model)
    if problem:
        raise WeightsFileError(problem, reason=problem)
    model.load_state_dict(state, strict=True)
    return model


def _resnet_random(seed: int):
    return _torchvision_random("resnet152", seed)


def _resnet_pretrained(f: Path):
    return _torchvision_pretrained("resnet152", "ResNet-152 (torchvision)", f)


# --- BigGAN-deep-256 ----------------------------------------------------------------------

BIGGAN_FALLBACK = "pytorch_pretrained_biggan.convert_tf_to_pytorch.BigGAN256 (the package's constant; offline fallback)"


def biggan_package_config():
    """The package's own ``BigGAN256`` config (``convert_tf_to_pytorch``; imports without TensorFlow).

    Used in: notebooks 05 and 06 through :func:`helpers.nets.models.load` (network ``"biggan-deep-256"``).
    """
    from pytorch_pretrained_biggan.convert_tf_to_pytorch import BigGAN256

    return BigGAN256


def biggan_config(weights=None, *, download_missing: bool = True, progress: bool = True):
    """The ``BigGANConfig`` of BigGAN-deep-256, from its source, and where it came from.

    Order: a ``config.json`` beside ``weights`` (the package's folder layout ``pytorch_model.bin`` +
    ``config.json``, or ``<name>-config.json`` beside ``<name>-pytorch_model.bin``); the cached
    ``biggan-deep-256-config.json`` (sha256 recorded at first download and verified); a download of
    the config the package publishes beside the weights (:data:`helpers.sources.BIGGAN_CONFIG`) into the cache, when
    the weights come from the cache folder (not for ``path=`` / ``$NA_WEIGHTS_...`` files, so an
    offline machine never waits on the network); else the package's constant ``BigGAN256``.

    Args:
        weights: the weights file, or None (no file: cache, download, constant).
        download_missing: allow the download.
        progress: progress bars.

    Returns:
        ``(BigGANConfig, source)`` with ``source`` a sentence naming the file or the constant.

    Raises:
        WeightsFileError: a config file exists but is not a BigGAN config (named in the message).

    Used in: notebooks 05 and 06 through :func:`helpers.nets.models.load` (network ``"biggan-deep-256"``).
    """
    candidates = []
    if weights is not None:
        w = Path(weights)
        if "pytorch_model.bin" in w.name:
            candidates.append(w.with_name(w.name.replace("pytorch_model.bin", "config.json")))
        candidates.append(w.with_name("config.json"))
    local = next((c for c in dict.fromkeys(candidates) if c.exists()), None)
    if local is not None:
        download.verify(local, progress=False)
        return _read_biggan_config(local), f"{local} (beside the weights)"
    from_cache = weights is None or Path(weights).parent == paths.cache(create=False)
    cached = paths.cache(create=False) / sources.BIGGAN_CONFIG.filename
    if cached.exists() or (from_cache and download_missing):
        try:
            f = _locate(sources.BIGGAN_CONFIG, download_missing=download_missing, progress=progress, timeout=10.0)
            return _read_biggan_config(f), f"{f} (cached from {sources.BIGGAN_CONFIG.url})"
        except WeightsUnavailable:
            pass
    return biggan_package_config(), BIGGAN_FALLBACK


def _read_biggan_config(f: Path):
    from pytorch_pretrained_biggan import BigGANConfig

    try:
        data = json.loads(Path(f).read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"a JSON {type(data).__name__}, not an object")
        missing = [k for k in BIGGAN_CONFIG_FIELDS if k not in data]
        if missing:
            raise ValueError(f"missing fields {missing}")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _file_error(sources.BIGGAN_CONFIG, f, WeightsFileError("", reason=f"not a BigGAN config: {_clean(exc)}")) from None
    return BigGANConfig.from_json_file(str(f))  # the package's own reader, as from_pretrained uses


def _biggan_random(seed: int, *, calibrate_batch: int = 2, truncation: float = 0.4, config=None):
    """Random BigGAN-deep-256 whose outputs are finite and textured.

    Built as the package builds it, ``BigGAN(config)`` with the package's ``BigGAN256`` config by
    default. Three things a fresh ``BigGAN(config)`` gets wrong: (1) the unconditional
    ``generator.bn`` allocates ``weight``/``bias`` with ``torch.Tensor(n)``, i.e. whatever
    was in memory (NaN-prone): set to 1 and 0; (2) spectral norm's ``u``/``v`` start as random
    vectors, so ``sigma`` is badly underestimated in eval mode and activations blow up:
    power-iterate them to convergence; (3) the batch-norm running statistics are 0/1 while
    real activations are not: calibrate them on one seeded batch, so every layer sees
    normalised inputs (the pretrained file carries real statistics instead).
    """
    import torch
    from pytorch_pretrained_biggan import BigGAN, truncated_noise_sample
    from pytorch_pretrained_biggan.model import BigGANBatchNorm

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BigGAN(config or biggan_package_config())
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
    for module, hook in spectral_norms(model):
        power_iterate(module, hook, n_iter)


def spectral_norms(model) -> list:
    """``(module, SpectralNorm hook)`` of every spectrally normalised module, in module order.

    Used in: notebook 05 through :func:`helpers.nets.models.load` (network ``"biggan-deep-256"``); notebook 06
        through :func:`helpers.synthesis.biggan_gallery.gallery`.
    """
    from torch.nn.utils.spectral_norm import SpectralNorm

    return [(m, h) for m in model.modules() for h in list(m._forward_pre_hooks.values()) if isinstance(h, SpectralNorm)]


def power_iterate(module, hook, n_iter: int) -> None:
    """Converge ``u``/``v`` of one spectrally normalised module on its current ``weight_orig``.

    Used in: notebook 05 through :func:`helpers.nets.models.load` (network ``"biggan-deep-256"``); notebook 06
        through :func:`helpers.synthesis.biggan_gallery.gallery`.
    """
    old = hook.n_power_iterations
    hook.n_power_iterations = n_iter
    try:
        setattr(module, hook.name, hook.compute_weight(module, do_power_iteration=True))
    finally:
        hook.n_power_iterations = old


def _biggan_pretrained(f: Path, *, config=None):
    """Build ``BigGAN(config)`` and load ``f`` strictly: every key, ``weight_v`` included, and every shape.

    ``BigGAN.from_pretrained`` loads with ``strict=False`` and would silently keep random tensors
    for missing keys; a file without ``weight_v`` would also get a wrong spectral norm (torch
    recomputes ``v`` only for old-format files that hold ``weight`` too). Such files are refused,
    with the keys named.
    """
    from pytorch_pretrained_biggan import BigGAN

    model = BigGAN(config or biggan_package_config())
    state = _torch_load(f)
    problem = _state_dict_problem("BigGAN-deep-256", state, model)
    if problem:
        raise WeightsFileError(problem, reason=problem)
    model.load_state_dict(state, strict=True)
    return model


# --- InceptionV1 / inception5h ------------------------------------------------------------

def _inception_random(seed: int):
    from helpers.nets import inception

    return inception.random_model(seed=seed)


def _inception_pretrained(f: Path):
    from helpers.nets import graphdef

    return graphdef.from_file(f)  # raises ValueError for files it cannot read; load() turns it into WeightsFileError


def _alexnet_random(seed: int):
    return _torchvision_random("alexnet", seed)


def _alexnet_pretrained(f: Path):
    return _torchvision_pretrained("alexnet", "AlexNet (torchvision)", f)


_BUILDERS = {"inception5h": _inception_random, "biggan-deep-256": _biggan_random, "resnet152": _resnet_random,
             "alexnet": _alexnet_random}
_LOADERS = {"inception5h": _inception_pretrained, "biggan-deep-256": _biggan_pretrained, "resnet152": _resnet_pretrained,
            "alexnet": _alexnet_pretrained}


def status():
    """Which pretrained weights are on disk: one row per network (no download, no hashing).

    Returns:
        pandas.DataFrame with name, file, present, path, recorded sha256 (first 16 hex), pin, url.

    Used in: notebook 00 (setup-check.json).
    """
    rows = []
    for name, spec in sources.WEIGHTS.items():
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

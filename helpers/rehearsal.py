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


# === inception5h (GraphDef zip, lucent .pth) ==================================================
# (helpers.rehearsal: inception5h writers go here)



# === BigGAN-deep-256 and ResNet-152 ============================================================

BIGGAN_WEIGHTS = "pytorch_model.bin"  # pytorch_pretrained_biggan.model.WEIGHTS_NAME
BIGGAN_CONFIG = "config.json"  # pytorch_pretrained_biggan.model.CONFIG_NAME
RESNET_REHEARSAL_NAME = "resnet152-rehearsal.pth"
_WRITTEN: dict = {}  # (writer, seed) -> files written earlier in this process, copied instead of rebuilt


def _reuse(key, targets) -> bool:
    """Copy the files an earlier call wrote for ``key`` to ``targets`` (same order); False if none."""
    import shutil
    from pathlib import Path

    earlier = _WRITTEN.get(key)
    if not earlier or not all(Path(e).exists() for e in earlier):
        return False
    for src, dst in zip(earlier, targets):
        if Path(src).resolve() != Path(dst).resolve():
            shutil.copyfile(src, dst)
    return True


def _forget_records(*files) -> None:
    """Remove sha256 records (helpers.download) of files about to be rewritten."""
    from helpers import download

    for f in files:
        download.record_path(f).unlink(missing_ok=True)


def _link(src, dst) -> None:
    """``dst`` -> ``src`` as a relative symlink (a copy where symlinks are not allowed)."""
    import os
    import shutil

    if dst.is_symlink() or dst.exists():
        dst.unlink()
    try:
        os.symlink(src.name, dst)
    except OSError:
        shutil.copyfile(src, dst)


def write_biggan_deep_256(folder, *, seed: int = 0):
    """BigGAN-deep-256 as pytorch_pretrained_biggan saves it, holding seeded stand-in weights.

    Made through the package's own code path: ``BigGAN(BigGAN256)`` with the package's config
    constant (``pytorch_pretrained_biggan.convert_tf_to_pytorch.BigGAN256``, the config the published
    weights were converted with), initialised as :func:`helpers.models.load` initialises its stand-in
    (``generator.bn`` set, spectral-norm ``u``/``v`` power-iterated, batch-norm statistics calibrated),
    then saved as the package's converter saves a model (``convert_tf_to_pytorch.main``):
    ``torch.save(model.state_dict(), folder/"pytorch_model.bin")`` (``weight_orig``, ``weight_u``,
    ``weight_v``; torch's spectral-norm version metadata) and ``config.to_json_string()`` written to
    ``folder/"config.json"`` (``BigGANConfig`` has no ``to_json_file``). ``BigGAN.from_pretrained(folder)``
    loads the folder. The same two files are also linked under the names of the package's download
    URLs, ``biggan-deep-256-pytorch_model.bin`` and ``biggan-deep-256-config.json``, for
    ``$NA_WEIGHTS_BIGGAN_DEEP_256`` or the cache folder. A marker (:func:`helpers.models.mark_stand_in`)
    keeps everything made from the files labelled STAND-IN.

    The first call in a process builds the network (a few seconds); later calls with the same seed
    copy the bytes.

    Args:
        folder: output folder (created).
        seed: seed of the stand-in weights.

    Returns:
        Path of ``folder/pytorch_model.bin``.
    """
    from pathlib import Path

    import torch

    from helpers import models

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights, config = folder / BIGGAN_WEIGHTS, folder / BIGGAN_CONFIG
    key = ("biggan-deep-256", int(seed))
    _forget_records(weights, config, folder / models.SPECS["biggan-deep-256"].filename, folder / models.BIGGAN_CONFIG.filename)
    if not _reuse(key, [weights, config]):
        model = models._biggan_random(int(seed))  # BigGAN(BigGAN256) + the stand-in initialisation
        torch.save(model.state_dict(), weights)
        config.write_text(model.config.to_json_string(), encoding="utf-8")
        _WRITTEN[key] = [weights, config]
    for src in (weights, config):
        models.mark_stand_in(src, writer="helpers.rehearsal.write_biggan_deep_256", seed=int(seed))
    _link(weights, folder / models.SPECS["biggan-deep-256"].filename)
    _link(config, folder / models.BIGGAN_CONFIG.filename)
    return weights


def write_resnet152(path, *, seed: int = 0):
    """ResNet-152 as torchvision's ``resnet152-394f9c45.pth`` is: ``torch.save`` of the model's state dict.

    The weights are torchvision's seeded random initialisation (``resnet152(weights=None)``). The
    file is *not* written under torchvision's name ``resnet152-394f9c45.pth``: that name carries the
    first digits of the real file's sha256, which :func:`helpers.models.load` checks, and a stand-in
    must fail that check. Point ``$NA_WEIGHTS_RESNET152`` or ``path=`` at the file instead (a
    non-canonical name is verified against the sha256 recorded at first load).

    Args:
        path: file to write, or a folder (the file is then ``resnet152-rehearsal.pth`` in it).
        seed: seed of the stand-in weights.

    Returns:
        Path of the written file.

    Raises:
        ValueError: ``path`` is named ``resnet152-394f9c45.pth``.
    """
    from pathlib import Path

    import torch

    from helpers import models

    path = Path(path)
    if path.is_dir() or not path.suffix:
        path = path / RESNET_REHEARSAL_NAME
    if path.name == models.SPECS["resnet152"].filename:
        raise ValueError(f"write_resnet152: {path.name} is the real file's name, whose sha256 prefix is pinned; "
                         f"a stand-in under that name would (rightly) be refused. Use another name, e.g. {RESNET_REHEARSAL_NAME}")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = ("resnet152", int(seed))
    _forget_records(path)
    if not _reuse(key, [path]):
        torch.save(models._resnet_random(int(seed)).state_dict(), path)
        _WRITTEN[key] = [path]
    models.mark_stand_in(path, writer="helpers.rehearsal.write_resnet152", seed=int(seed))
    return path




# === ArtBench-10 (CIFAR-python, CIFAR-binary, ImageFolder, CSV) ===============================
# (helpers.rehearsal: artbench writers go here)



# === all at once ==============================================================================
# (helpers.rehearsal: write_all goes here)

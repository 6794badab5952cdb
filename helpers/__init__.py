"""Helpers for the Neural Aesthetics Notebooks: a small library, grouped by concern.

Import the module you need under its own name (``from helpers.synthesis import dream``,
``from helpers.study import stats``) and call :func:`setup` once at the top of a notebook to seed
every random number generator and apply the house plot style.

==============  ============================================================================
package         what it holds
==============  ============================================================================
(top level)     ``paths``, ``io``, ``download`` (the one file hasher), ``sources`` (every URL and
                pinned hash), ``profiles`` (the one profile resolver), ``registry``, ``pipeline``, ``jit``
``nets``        loading the networks and the stand-in rule (``models``); layer names without torch
                (``layers``); InceptionV1 (``inception``, ``inception_ops``, ``graphdef``)
``synthesis``   DeepDream (``dream``, ``dream_jobs``, ``start_images``, ``threads``) and BigGAN
                weight surgery (``biggan``, ``biggan_gallery``, ``biggan_distances``)
``measures``    per-image measures (``colour``, ``compression``, ``clutter``, ``spectra``,
                ``aesthetics*``) and the cached parallel table (``table``, ``separation``)
``study``       ratings format (``ratings``), importers, simulation and power (``simulate``),
                statistics (``stats``, ``effects``, ``density``, ``mixed``), experiment export
                (``experiment``, ``browser``)
``search``      nearest painting: ArtBench-10 (``artbench``), Gram features (``gram``), ``index``
``figures``     ``base`` (style, save, label, grid), ``paper1``, ``paper2``, ``features``,
                ``study``, ``explore`` (widgets), ``readme`` (README's preview strip)
``testing``     ``rehearsal``: stand-in weight files in the real formats, for tests and benchmarks
==============  ============================================================================

**The one import-time setting.** Importing ``helpers`` bounds how long idle OpenMP threads spin
before they sleep, ``GOMP_SPINCOUNT=1000`` (:data:`OMP_SPINCOUNT`), unless the user already set
``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT``. torch's OpenMP (GNU libgomp, in the PyPI wheels) spins
300,000 times at every barrier before it sleeps (libgomp's documentation, "GOMP_SPINCOUNT"). With
another process on one of two cores, the spinning thread takes the time slice its partner needs: a
2-thread render took 2-10x as long as a 1-thread one. Sleeping at once (``OMP_WAIT_POLICY=PASSIVE``)
fixes that but costs a wake-up at every barrier, and on a virtual machine a wake-up is slow: on a
quiet 2-core VM, 2 passive threads took 4.2 s per 800-px render of mixed4c, 1 thread 2.6 s, 2
spinning threads 1.6 s. 1000 spins (a few microseconds) cover the short waits inside an operation
and sleep through the long ones: 1.8 s quiet (but up to 6.8 s while the VM's host was itself busy),
3.1-3.6 s beside a busy core (passive: 2.8-2.9 s; 300,000 spins: 5.7 s); ``threads="auto"`` (1 thread
there) 2.6-3.0 s with any setting. ``benchmarks/dream.py --threading`` measures it (2026-12-01, 2-core
Intel Xeon VM). libgomp reads the variable once, when torch is first imported, so it is set here,
when the package is imported, whatever module is imported first; spawned worker processes inherit
it. It changes no number, only how idle threads wait. :data:`OMP_POLICY` says what is in effect
(libgomp's default when torch was imported before ``helpers``).
"""
from __future__ import annotations

import os
import sys

__version__ = "0.1.0"

#: libgomp busy-wait spins before an idle OpenMP thread sleeps (GOMP_SPINCOUNT), unless the user chose
OMP_SPINCOUNT = 1000


def _openmp_wait() -> str:
    """Set ``GOMP_SPINCOUNT`` (see the module docstring) unless the user chose; return the setting in effect."""
    if "torch" in sys.modules:
        return OMP_POLICY if "OMP_POLICY" in globals() else "libgomp's default (torch imported before helpers)"
    if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        os.environ["GOMP_SPINCOUNT"] = str(OMP_SPINCOUNT)
    return " ".join(f"{k}={os.environ[k]}" for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT") if k in os.environ)


OMP_POLICY = _openmp_wait()
"""The OpenMP wait setting in effect for this process (``GOMP_SPINCOUNT=1000`` unless the user chose)."""

# torch (1.9 s to import) and matplotlib are imported inside the functions below, not here: importing
# `helpers` (and with it helpers.study and helpers.measures) must not load them.


def setup(seed: int = 0, *, style: bool = True, device: str = "auto"):
    """Seed Python, NumPy and torch, apply the plot style, and pick a device.

    Args:
        seed: seed for ``random``, ``numpy.random`` and ``torch``.
        style: apply the house matplotlib style (:func:`helpers.figures.base.use_style`).
        device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"`` or ``"cuda[:N]"``.

    Returns:
        torch.device: the device notebooks should pass to helpers.

    Used in: notebooks 00, 01, 02, 03, 04, 05, 06, 07 and 08.
    """
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if style:
        from helpers.figures import base

        base.use_style()
    return resolve_device(device)


def resolve_device(device="auto"):
    """``"auto"`` -> CUDA if available else CPU; anything else -> ``torch.device(device)``.

    Used in: notebooks 00, 01, 02, 03, 04, 05, 06 and 08 through :func:`helpers.setup`; notebook 07 through
        :class:`helpers.search.gram.GramEncoder`.
    """
    import torch

    if isinstance(device, torch.device):
        return device
    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device={device!r} was asked for but torch sees no CUDA device; use 'cpu' or 'auto'.")
    return dev


_CORE = ("torch", "torchvision", "pytorch-pretrained-biggan", "numpy", "scipy", "pandas", "scikit-image", "seaborn",
         "matplotlib", "statsmodels", "papermill", "jupyterlab", "pyrtools", "numba", "pandera")


def environment_report() -> dict:
    """Python, package versions and device facts as a JSON-friendly dict (notebook 00, manifests).

    Used in: notebook 00 (setup-check.json).
    """
    import platform
    from importlib import metadata

    import torch

    pkgs = {}
    for name in _CORE:
        try:
            pkgs[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pkgs[name] = None
    dev = {"cuda_available": torch.cuda.is_available(), "cpu_threads": torch.get_num_threads(),
           "platform": platform.platform(), "python": platform.python_version()}
    if torch.cuda.is_available():
        dev["cuda_device"] = torch.cuda.get_device_name(0)
    return {"packages": pkgs, "device": dev}

"""Helpers for the Neural Aesthetics Notebooks.

Import the concern you need by name (``from helpers import dream, features, stats,
plots``); nothing here runs at import time. Call :func:`setup` once at the top of a
notebook to seed every random number generator and apply the house plot style.
"""
from __future__ import annotations

__version__ = "0.1.0"

PROFILES = ("paper", "class", "smoke")  # papers' settings; real weights at teaching size; stand-ins, tiny


def setup(seed: int = 0, *, style: bool = True, device: str = "auto"):
    """Seed Python, NumPy and torch, apply the plot style, and pick a device.

    Args:
        seed: seed for ``random``, ``numpy.random`` and ``torch``.
        style: apply the house matplotlib style (``plots.use_style``).
        device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"`` or ``"cuda[:N]"``.

    Returns:
        torch.device: the device notebooks should pass to helpers.
    """
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if style:
        from helpers import plots

        plots.use_style()
    return resolve_device(device)


def resolve_device(device="auto"):
    """``"auto"`` -> CUDA if available else CPU; anything else -> ``torch.device(device)``."""
    import torch

    if isinstance(device, torch.device):
        return device
    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device={device!r} was asked for but torch sees no CUDA device; use 'cpu' or 'auto'.")
    return dev


def check_profile(profile: str) -> str:
    """Return ``profile`` if it is one of :data:`PROFILES`, else raise a clear ValueError."""
    if profile not in PROFILES:
        raise ValueError(f"PROFILE must be one of {PROFILES}, got {profile!r}")
    return profile


_CORE = ("torch", "torchvision", "pytorch-pretrained-biggan", "numpy", "scipy", "pandas", "scikit-image", "seaborn",
         "matplotlib", "statsmodels", "papermill", "jupyterlab", "pyrtools", "numba", "pandera")


def environment_report() -> dict:
    """Python, package versions and device facts as a JSON-friendly dict (notebook 00, manifests)."""
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

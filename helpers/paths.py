"""Every path the project reads or writes, resolved from this file, overridable by env vars.

=====================  ==========================================  =========================
what                   default                                     override
=====================  ==========================================  =========================
repository root        parent of ``helpers/``                      ``NA_ROOT``
notebooks              ``<root>/notebooks``                        --
results (tables, data) ``<root>/results/<profile>``                ``NA_RESULTS_DIR``
figures (PNG + PDF)    ``<root>/figures/<profile>``                ``NA_FIGURES_DIR``
executed notebooks     ``<root>/build/<profile>``                  ``NA_BUILD_DIR``
downloaded weights     ``~/.cache/neural-aesthetics/weights``      ``NA_CACHE_DIR``
datasets (ArtBench)    ``~/.cache/neural-aesthetics/data``         ``NA_DATA_DIR``
=====================  ==========================================  =========================

With an override the profile is still appended (``$NA_RESULTS_DIR/<profile>``), so a smoke
run never overwrites paper results.
"""
from __future__ import annotations

import os
from pathlib import Path

from helpers import profiles

_HERE = Path(__file__).resolve().parent


def _env_path(var: str, default: Path) -> Path:
    value = os.environ.get(var)
    return Path(value).expanduser().resolve() if value else default


def root() -> Path:
    """Repository root."""
    return _env_path("NA_ROOT", _HERE.parent)


def notebooks() -> Path:
    """Folder of the numbered notebooks."""
    return root() / "notebooks"


def _profiled(var: str, name: str, profile: str, create: bool) -> Path:
    path = _env_path(var, root() / name) / profiles.check(profile)
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def results(profile: str = "paper", *, create: bool = True) -> Path:
    """Folder for tables, data and manifests of one profile (``results/<profile>``)."""
    return _profiled("NA_RESULTS_DIR", "results", profile, create)


def figures(profile: str = "paper", *, create: bool = True) -> Path:
    """Folder for figures of one profile (``figures/<profile>``)."""
    return _profiled("NA_FIGURES_DIR", "figures", profile, create)


def build(profile: str = "paper", *, create: bool = True) -> Path:
    """Folder for executed notebooks of one profile (``build/<profile>``)."""
    return _profiled("NA_BUILD_DIR", "build", profile, create)


def cache(*, create: bool = True) -> Path:
    """Folder of downloaded and converted network weights."""
    path = _env_path("NA_CACHE_DIR", Path.home() / ".cache" / "neural-aesthetics" / "weights")
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def data(*, create: bool = True) -> Path:
    """Folder of downloaded datasets (ArtBench-10)."""
    path = _env_path("NA_DATA_DIR", Path.home() / ".cache" / "neural-aesthetics" / "data")
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def display(path) -> str:
    """``path`` relative to the repository root when it lies inside it (for printed output and indexes), else as is."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(root().resolve()))
    except ValueError:
        return str(p)

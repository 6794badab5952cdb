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
    """Repository root.

    Used in: notebook 00 (setup-check.json) through :func:`helpers.paths.build`; notebooks 01
        (p1-dream-contact-sheet.png, p1-dream-octaves.png), 03, 05 and 06 through
        :func:`helpers.figures.base.save`; notebooks 02, 07 and 08 through :func:`helpers.paths.results`; notebook
        04 through :func:`helpers.paths.display`.
    """
    return _env_path("NA_ROOT", _HERE.parent)


def notebooks() -> Path:
    """Folder of the numbered notebooks.

    Used in: no notebook; by :func:`helpers.pipeline.run`; ``benchmarks/class_chain.py``, ``tests/conftest.py``,
        ``tests/test_io_paths.py``, ``tests/test_layout.py`` and 11 more.
    """
    return root() / "notebooks"


def _profiled(var: str, name: str, profile: str, create: bool) -> Path:
    path = _env_path(var, root() / name) / profiles.check(profile)
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def results(profile: str = "paper", *, create: bool = True) -> Path:
    """Folder for tables, data and manifests of one profile (``results/<profile>``).

    Used in: notebook 00 (setup-check.json); notebooks 01, 03, 04 and 05; notebook 02 (features.parquet,
        p1-clutter-maps.png, p1-feature-correlations.png, p1-feature-distributions.png, 2 more outputs); notebook
        07 (Figure 4, p2-fig04-top5.png, p2-nearest-key-numbers.json, p2-nearest-paintings.csv); notebook 08
        (key-numbers.json, study-effect-sizes.png, study/correction-sensitivity.csv, study/effect-sizes.csv, 4
        more outputs).
    """
    return _profiled("NA_RESULTS_DIR", "results", profile, create)


def figures(profile: str = "paper", *, create: bool = True) -> Path:
    """Folder for figures of one profile (``figures/<profile>``).

    Used in: notebook 00 (setup-check.json); notebooks 01 (p1-dream-contact-sheet.png, p1-dream-octaves.png), 02,
        03, 04, 05, 06, 07 (Figure 4, p2-fig04-top5.png) and 08 (study-effect-sizes.png) through
        :func:`helpers.figures.base.save`.
    """
    return _profiled("NA_FIGURES_DIR", "figures", profile, create)


def build(profile: str = "paper", *, create: bool = True) -> Path:
    """Folder for executed notebooks of one profile (``build/<profile>``).

    Used in: notebook 00 (setup-check.json).
    """
    return _profiled("NA_BUILD_DIR", "build", profile, create)


def cache(*, create: bool = True) -> Path:
    """Folder of downloaded and converted network weights.

    Used in: notebook 00 (setup-check.json); notebooks 01 (p1-dream-contact-sheet.png, p1-dream-octaves.png), 05
        and 06 through :func:`helpers.nets.models.load`; notebook 02 through :func:`helpers.measures.table.table`
        (measure group ``"aesthetics"``); notebook 07 through :class:`helpers.search.gram.GramEncoder`.
    """
    path = _env_path("NA_CACHE_DIR", Path.home() / ".cache" / "neural-aesthetics" / "weights")
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def data(*, create: bool = True) -> Path:
    """Folder of downloaded datasets (ArtBench-10).

    Used in: notebook 00 (setup-check.json); notebook 01 (p1-dream-octaves.png) through
        :func:`helpers.synthesis.start_images.start_images`; notebook 07 through
        :func:`helpers.search.artbench.read_corpus`.
    """
    path = _env_path("NA_DATA_DIR", Path.home() / ".cache" / "neural-aesthetics" / "data")
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


DISPLAY_VARS = ("NA_RESULTS_DIR", "NA_FIGURES_DIR", "NA_BUILD_DIR", "NA_CACHE_DIR", "NA_DATA_DIR")


def display(path) -> str:
    """``path`` for printed output and indexes, never a machine's absolute path where a shorter one says the same.

    Relative to the repository root when it lies inside it; else ``$NA_RESULTS_DIR/...`` (and likewise for the
    other folders of :data:`DISPLAY_VARS`) when it lies in a folder moved by that variable; else ``~/...`` in
    the home folder; else as is.

    Used in: notebook 00 (setup-check.json); notebook 03 (Figure 6, Figure 7, Figure 8, Figure 9, Table 1);
        notebook 04 (Figure 10, Figure 11, Figure 12, Figure 13, 6 more outputs).
    """
    p = Path(path).expanduser()
    full = p.resolve()
    bases = [(root().resolve(), None)]
    bases += [(Path(os.environ[v]).expanduser().resolve(), f"${v}") for v in DISPLAY_VARS if os.environ.get(v)]
    try:
        bases.append((Path.home().resolve(), "~"))
    except RuntimeError:  # no home folder
        pass
    for base, name in bases:
        try:
            rel = full.relative_to(base)
        except ValueError:
            continue
        return str(rel) if name is None else str(Path(name) / rel)
    return str(p)

"""The start images of DeepDream: the study's five noise PNGs (downloaded, sha256-checked), seeded noise, or yours.

:func:`start_images` gives ``{seed: (uint8 image, label)}`` for a source: ``"study"`` (the study's files,
:data:`helpers.sources.STUDY_START_IMAGES`, cached under the data folder), ``"noise"`` / ``None`` (seeded
Gaussian noise of the same statistics, :func:`noise_image`), or a folder or list of image files.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from helpers import download, io, paths, sources

NOISE_MEAN, NOISE_SD = 126.5, 12.75


def noise_image(seed: int, size: int = 800) -> np.ndarray:
    """The study's kind of start image: 8-bit RGB Gaussian noise, independent per channel.

    Args:
        seed: NumPy ``default_rng`` seed (the study used seeds 0-4 for its five images).
        size: side in pixels.

    Returns:
        uint8 array (size, size, 3), mean about 126.5, sd about 12.75 per channel.

    Used in: notebook 01 (p1-dream-octaves.png) through :func:`helpers.synthesis.start_images.start_images`.
    """
    rng = np.random.default_rng(int(seed))
    return np.clip(np.rint(rng.normal(NOISE_MEAN, NOISE_SD, (size, size, 3))), 0, 255).astype(np.uint8)


def load_start_image(path, *, size: int | None = None) -> np.ndarray:
    """Read a user start image (e.g. one of the study's five PNGs) as uint8 HxWx3.

    Args:
        path: image file.
        size: when given, the image must be ``size`` x ``size`` (a clear error otherwise).

    Used in: notebook 01 (p1-dream-octaves.png) through :func:`helpers.synthesis.start_images.start_images`.
    """
    img = io.read_image(path)
    if size is not None and img.shape[:2] != (size, size):
        raise ValueError(f"start image {path}: {img.shape[1]}x{img.shape[0]} px, expected {size}x{size} (SIZE)")
    return img


STUDY_START_SIZE = 800


class StartImagesUnavailable(RuntimeError):
    """A study start image is neither cached nor downloadable (the message says where to put it).

    Used in: notebook 01 (p1-dream-octaves.png) through :func:`helpers.synthesis.start_images.start_images`.
    """


def study_start_folder() -> Path:
    """Folder the study's start PNGs are cached in (``<NA_DATA_DIR>/deepdream-start-images``).

    Used in: notebook 01 (p1-dream-octaves.png) through :func:`helpers.synthesis.start_images.start_images`.
    """
    return paths.data() / "deepdream-start-images"


def study_start_file(seed: int, *, download_missing: bool = True, progress: bool = True, url: str | None = None,
                     pins: dict | None = None) -> Path:
    """The study's start PNG of ``seed`` (file ``seed + 1``), cached and sha256-checked; downloaded if missing.

    Args:
        seed: 0-4.
        download_missing: download into :func:`study_start_folder` when not cached.
        progress: download progress bar.
        url: URL template with ``{name}``; default ``$NA_STUDY_START_URL`` (a mirror of the study's
            repository, e.g. a local copy served over HTTP) or :data:`helpers.sources.STUDY_START_URL`. The pinned
            sha256 is checked whatever the URL.
        pins: ``{file name: sha256}`` (default :data:`helpers.sources.STUDY_START_IMAGES`).

    Raises:
        StartImagesUnavailable: offline and not cached: the URL, file, sha256 and where to put it.
        helpers.download.ChecksumError: a cached or downloaded file does not match its pin.

    Used in: notebook 01 (p1-dream-octaves.png) through :func:`helpers.synthesis.start_images.start_images`.
    """
    pins = sources.STUDY_START_IMAGES if pins is None else pins
    names = list(pins)
    if not 0 <= int(seed) < len(names):
        raise ValueError(f"the study has {len(names)} start images (seeds 0-{len(names) - 1}), not seed {seed}")
    name = names[int(seed)]
    url = url or os.environ.get("NA_STUDY_START_URL") or sources.STUDY_START_URL
    dest = study_start_folder() / name
    if dest.exists():
        download.verify(dest, sha256=pins[name])
        return dest
    src = url.format(name=name)
    if download_missing:
        try:
            return download.download(src, dest, sha256=pins[name], progress=progress)
        except download.DownloadError as exc:
            reason = str(exc)
    else:
        reason = "downloading was switched off"
    raise StartImagesUnavailable(
        f"The study's start image {name} (seed {seed}) is not available: {reason}.\n"
        f"  URL:       {src}\n"
        f"  file name: {name}\n"
        f"  sha256:    {pins[name]}\n"
        f"  put it at: {dest}  (data folder; set NA_DATA_DIR to move it)\n"
        f"  or pass:   START_IMAGES='/folder/with/the/five/pngs' (seed k takes the k-th file by name)\n"
        f"  or use seeded noise of the same statistics: START_IMAGES=None (start_images.noise_image)")


def centre_crop(img: np.ndarray, size: int) -> np.ndarray:
    """The central ``size`` x ``size`` pixels of a uint8 HxWx3 image (noise keeps its per-pixel statistics,
    which a resize would smooth away).

    Used in: notebook 01 (p1-dream-octaves.png) through :func:`helpers.synthesis.start_images.start_images`.
    """
    h, w = img.shape[:2]
    if size > min(h, w):
        raise ValueError(f"start image is {w}x{h} px, smaller than SIZE={size}")
    y, x = (h - size) // 2, (w - size) // 2
    return np.ascontiguousarray(img[y:y + size, x:x + size])


def start_images(source, seeds, *, size: int = 800, download_missing: bool = True, progress: bool = False,
                 url: str | None = None, pins: dict | None = None) -> dict:
    """Start image per seed: ``{seed: (uint8 image, label)}``.

    Args:
        source: ``"study"``: the study's five PNGs (:func:`study_start_file`: file k for seed k-1,
            downloaded and sha256-checked; centre-cropped when ``size`` < 800), seeded noise for other
            seeds; ``None`` or ``"noise"``: seeded noise (:func:`noise_image`) for every seed; a folder of PNG/JPEG
            files (sorted by name; seed k takes the k-th file), or a list of files (same rule).
        seeds: integer seeds.
        size: image side for noise / crops; files from a folder must have exactly this size.
        download_missing, progress, url, pins: see :func:`study_start_file`.

    Used in: notebook 01 (p1-dream-octaves.png).
    """
    if source is None or (isinstance(source, str) and source == "noise"):
        return {s: (noise_image(s, size), f"noise:{s}") for s in seeds}
    if isinstance(source, str) and source == "study":
        out = {}
        n = len(sources.STUDY_START_IMAGES if pins is None else pins)
        for s in seeds:
            if not 0 <= s < n:
                out[s] = (noise_image(s, size), f"noise:{s}")
                continue
            f = study_start_file(s, download_missing=download_missing, progress=progress, url=url, pins=pins)
            img = load_start_image(f)
            label = f.name if img.shape[:2] == (size, size) else f"{f.name}[centre {size}x{size}]"
            out[s] = (centre_crop(img, size), label)
        return out
    src = Path(source) if not isinstance(source, (list, tuple)) else None
    if src is not None and not src.is_dir():
        raise NotADirectoryError(f"START_IMAGES {source} is not a folder (nor 'study' or None)")
    files = sorted(p for p in src.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg")) if src else [Path(p) for p in source]
    out = {}
    for s in seeds:
        if not 0 <= s < len(files):
            raise ValueError(f"seed {s} needs start image number {s}, but {source} has {len(files)} images")
        out[s] = (load_start_image(files[s], size=size), files[s].name)
    return out

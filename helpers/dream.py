"""DeepDream synthesis of the emotion study's stimuli (Paper 1).

``LAYERS`` (defined with the network in :mod:`helpers.inception`) are the 144 InceptionV1 layers of the
study in the study's order.
"""
from __future__ import annotations

from helpers.inception import LAYERS  # noqa: E402,F401 - the network's layer list, re-exported as dream.LAYERS
# OpenMP spin-waiting is bounded (set in helpers.inception before torch is imported; see inception._openmp_wait)
from helpers.inception import _OMP_POLICY  # noqa: E402,F401


# =====================================================================================
# Synthesis
# =====================================================================================
import contextlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

PARAMS = ("size", "n_renders", "iter_n", "step", "octave_n", "octave_scale", "tile_size")
DEFAULTS = dict(size=800, n_renders=50, iter_n=1, step=2.0, octave_n=5, octave_scale=1.4, tile_size=512)
NOISE_MEAN, NOISE_SD = 126.5, 12.75

# 20 layers spanning the network, one or two per stage, for the class profile (first conv to aux head)
CLASS_LAYERS = ("conv2d0", "localresponsenorm0", "conv2d2", "maxpool1", "mixed3a_3x3_bottleneck_pre_relu", "mixed3a",
                "mixed3b_5x5", "mixed3b", "mixed4a_1x1", "mixed4a", "mixed4b_3x3", "mixed4c", "mixed4c_pool_reduce",
                "mixed4d_3x3_bottleneck_pre_relu", "mixed4d", "mixed4e_5x5", "mixed5a", "mixed5b_3x3", "mixed5b",
                "head1_bottleneck")
# Settings per profile (notebook 01 fills in every parameter left at None from here):
# paper = the study (Methods "Image generation" and Image_Generation.py); class = pretrained weights,
# 20 layers x 1 seed at 256 px, 10 renders; smoke = stand-in weights, tiny, bigger steps so changes show.
PROFILE_SETTINGS = {
    "paper": dict(layers="all", seeds=[0, 1, 2, 3, 4], size=800, n_renders=50, iter_n=1, step=2.0, octave_n=5,
                  octave_scale=1.4, tile_size=512, start="study", source="pretrained", threads=None, workers="auto"),
    "class": dict(layers=list(CLASS_LAYERS), seeds=[0], size=256, n_renders=10, iter_n=1, step=2.0, octave_n=5,
                  octave_scale=1.4, tile_size=512, start="study", source="pretrained", threads=None, workers="auto"),
    "smoke": dict(layers="all", seeds=[0], size=96, n_renders=2, iter_n=1, step=12.0, octave_n=2, octave_scale=1.4,
                  tile_size=512, start=None, source="random", threads=1, workers=1),
}


def profile_settings(profile: str, **overrides) -> dict:
    """The settings of ``profile`` (:data:`PROFILE_SETTINGS`) with every override that is not ``None`` applied."""
    if profile not in PROFILE_SETTINGS:
        raise ValueError(f"PROFILE must be one of {list(PROFILE_SETTINGS)}, got {profile!r}")
    unknown = set(overrides) - set(PROFILE_SETTINGS[profile])
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}; known: {sorted(PROFILE_SETTINGS[profile])}")
    return {**PROFILE_SETTINGS[profile], **{k: v for k, v in overrides.items() if v is not None}}


def noise_image(seed: int, size: int = 800) -> np.ndarray:
    """The study's kind of start image: 8-bit RGB Gaussian noise, independent per channel.

    Args:
        seed: NumPy ``default_rng`` seed (the study used seeds 0-4 for its five images).
        size: side in pixels.

    Returns:
        uint8 array (size, size, 3), mean about 126.5, sd about 12.75 per channel.
    """
    rng = np.random.default_rng(int(seed))
    return np.clip(np.rint(rng.normal(NOISE_MEAN, NOISE_SD, (size, size, 3))), 0, 255).astype(np.uint8)


def load_start_image(path, *, size: int | None = None) -> np.ndarray:
    """Read a user start image (e.g. one of the study's five PNGs) as uint8 HxWx3.

    Args:
        path: image file.
        size: when given, the image must be ``size`` x ``size`` (a clear error otherwise).
    """
    from helpers import io

    img = io.read_image(path)
    if size is not None and img.shape[:2] != (size, size):
        raise ValueError(f"start image {path}: {img.shape[1]}x{img.shape[0]} px, expected {size}x{size} (SIZE)")
    return img


# The study's five start images: public repository CVRL/human-reactions-to-deepdream-samples, branch
# main (the study's Image_Generation.py opens gaussianNoise800x800_{i+1}.png for its i-th image set);
# sha256 pinned in the issue "Real artifacts" (checked against the files of the fetched repository).
STUDY_START_URL = "https://raw.githubusercontent.com/CVRL/human-reactions-to-deepdream-samples/main/{name}"
STUDY_START_IMAGES = {
    "gaussianNoise800x800_1.png": "b40adb18962da35acd5f6d627d47dc9bf785a1459f7a1f5477e4aac65a438f3b",
    "gaussianNoise800x800_2.png": "bf000a19555bf5ebcb99b33912e91aa9e4c152e84e2c1ccbd84431cb940ac081",
    "gaussianNoise800x800_3.png": "05168016d6230b587b7647e4d75cc05cb6109c6b09d72d2ca07216e86c36372e",
    "gaussianNoise800x800_4.png": "4c9100125eb473ea1678ff9579183154403da2a730bafec8228fa4c32c8f1c86",
    "gaussianNoise800x800_5.png": "2b0fcdbcc1ef76d25497b09021ae0a45e466415fb3980f58d952a16a4741bb50",
}
STUDY_START_SIZE = 800


class StartImagesUnavailable(RuntimeError):
    """A study start image is neither cached nor downloadable (the message says where to put it)."""


def study_start_folder() -> Path:
    """Folder the study's start PNGs are cached in (``<NA_DATA_DIR>/deepdream-start-images``)."""
    from helpers import paths

    return paths.data() / "deepdream-start-images"


def study_start_file(seed: int, *, download_missing: bool = True, progress: bool = True, url: str | None = None,
                     pins: dict | None = None) -> Path:
    """The study's start PNG of ``seed`` (file ``seed + 1``), cached and sha256-checked; downloaded if missing.

    Args:
        seed: 0-4.
        download_missing: download into :func:`study_start_folder` when not cached.
        progress: download progress bar.
        url: URL template with ``{name}``; default ``$NA_STUDY_START_URL`` (a mirror of the study's
            repository, e.g. a local copy served over HTTP) or :data:`STUDY_START_URL`. The pinned
            sha256 is checked whatever the URL.
        pins: ``{file name: sha256}`` (default :data:`STUDY_START_IMAGES`).

    Raises:
        StartImagesUnavailable: offline and not cached: the URL, file, sha256 and where to put it.
        helpers.download.ChecksumError: a cached or downloaded file does not match its pin.
    """
    from helpers import download

    pins = STUDY_START_IMAGES if pins is None else pins
    names = list(pins)
    if not 0 <= int(seed) < len(names):
        raise ValueError(f"the study has {len(names)} start images (seeds 0-{len(names) - 1}), not seed {seed}")
    name = names[int(seed)]
    url = url or os.environ.get("NA_STUDY_START_URL") or STUDY_START_URL
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
        f"  or use seeded noise of the same statistics: START_IMAGES=None (dream.noise_image)")


def centre_crop(img: np.ndarray, size: int) -> np.ndarray:
    """The central ``size`` x ``size`` pixels of a uint8 HxWx3 image (noise keeps its per-pixel statistics,
    which a resize would smooth away)."""
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
    """
    if source is None or (isinstance(source, str) and source == "noise"):
        return {s: (noise_image(s, size), f"noise:{s}") for s in seeds}
    if isinstance(source, str) and source == "study":
        out = {}
        n = len(STUDY_START_IMAGES if pins is None else pins)
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


def resize_bilinear(img, size):
    """TF1 ``tf.image.resize_bilinear`` (align_corners=False, no half-pixel centres) on (..., H, W).

    Source coordinate ``src = dst * in / out`` in float32, ``lower = floor(src)``,
    ``upper = min(ceil(src), in - 1)``, ``top + (bottom - top) * lerp`` like TF's kernel.

    Args:
        img: float32 torch tensor (..., H, W).
        size: (out_h, out_w).
    """
    import torch

    def axis(n_in, n_out):
        scale = np.float32(n_in) / np.float32(n_out)
        src = torch.arange(n_out, dtype=torch.float32, device=img.device) * torch.tensor(scale, device=img.device)
        lo = torch.floor(src)
        upper = torch.clamp(torch.ceil(src), max=n_in - 1).long()
        return lo.long().clamp(max=n_in - 1), upper, src - lo

    (h, w), (oh, ow) = img.shape[-2:], (int(size[0]), int(size[1]))
    y0, y1, fy = axis(h, oh)
    x0, x1, fx = axis(w, ow)
    # Separable, same arithmetic as TF's kernel: the x-interpolation of input row y0 *is* TF's
    # ``top`` (and of y1 its ``bottom``), so interpolate every input row once, then pick rows.
    c0, c1 = img.index_select(-1, x0), img.index_select(-1, x1)
    horiz = c0 + (c1 - c0) * fx
    top, bottom = horiz.index_select(-2, y0), horiz.index_select(-2, y1)
    return top + (bottom - top) * fy[:, None]


def octave_sizes(hw, octave_n: int, octave_scale: float) -> list:
    """Octave sizes from largest to smallest, rounded like the TF code: ``np.int32(np.float32(hw) / scale)``."""
    sizes = [tuple(int(v) for v in hw)]
    for _ in range(octave_n - 1):
        sizes.append(tuple(int(v) for v in np.int32(np.float32(sizes[-1]) / octave_scale)))
    return sizes


def _tiles(h: int, w: int, sz: int):
    """Tile origins of the TF tutorial's ``calc_grad_tiled`` (it skips a last strip under sz/2)."""
    return [(y, x) for y in range(0, max(h - sz // 2, sz), sz) for x in range(0, max(w - sz // 2, sz), sz)]


class Dreamer:
    """The gradient machinery for one (model, layer): truncated forward, batched equal tiles.

    Args:
        model: :class:`helpers.inception.InceptionV1` (or any module called as ``model(x, layer)``).
        layer: layer name.
        fast: channels-last memory, the fast operations of :func:`helpers.inception.reference_ops`
            (closed-form LRN gradient, 1x1 convolutions as one matmul) with conv2d0's sub-pixel
            input gradient (:func:`helpers.inception.input_grad_only`), and torch's mean for the
            step size: same mathematics, float32 rounding differs from the reference. ``False``:
            NCHW and the reference's operations (LRN as torch's ``F.local_response_norm``,
            NumPy's mean), which reproduces the reference port's bytes on the same machine and
            thread count.
        batch_tiles: stack tiles of equal shape into one batch (mathematically the same
            gradients, but a batched convolution rounds differently and DeepDream amplifies
            that; off by default, and at 800 px no two tiles have the same shape anyway).
    """

    def __init__(self, model, layer: str, *, fast: bool = True, batch_tiles: bool = False, precision: str = "fp32"):
        if hasattr(model, "check_layer"):
            model.check_layer(layer)
        self.model, self.layer = model, layer
        self.fast, self.batch_tiles = bool(fast), batch_tiles
        dev = next(iter(model.parameters())).device if hasattr(model, "parameters") else None
        self.precision = check_precision(precision, fast=fast, device=dev)

    def tile_grads(self, batch):
        """d mean(layer output) / d input for each image of ``batch`` (N, 3, h, w), [0, 255] scale."""
        import torch

        from helpers import inception

        # a new leaf (``detach`` shares memory; the input is never written to): no copy in NCHW,
        # one layout copy (of a possibly strided tile view) for channels-last
        x = batch.detach()
        if self.fast:
            x = x.contiguous(memory_format=torch.channels_last)
        x.requires_grad_(True)
        with torch.enable_grad(), inception.reference_ops(self.model, not self.fast), inception.input_grad_only(self.model):
            # bf16: the forward under autocast (convolutions and matrix products in bfloat16 with float32
            # accumulation, LRN in float32); the backward runs outside it on the saved dtypes; x, the
            # score and the returned gradient stay float32
            with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
                out = self.model(x, self.layer)
            out = out.float()
            score = out.mean(dim=tuple(range(1, out.ndim))).sum()  # no flatten: a channels-last output would be copied
            (g,) = torch.autograd.grad(score, x)
        return g  # in x's memory format; callers copy it into place

    def grad_tiled(self, img, rng, tile_size: int = 512):
        """Gradient of the tiled objective on a randomly rolled image (3, H, W), rolled back."""
        import torch

        sz = tile_size
        h, w = img.shape[-2:]
        sx, sy = rng.randint(sz, size=2)
        shifted = torch.roll(img, shifts=(int(sy), int(sx)), dims=(-2, -1))
        grad = torch.zeros_like(img)
        origins = _tiles(h, w, sz)
        groups: dict = {}
        for y, x in origins:
            sub = shifted[:, y:y + sz, x:x + sz]
            key = tuple(sub.shape) if self.batch_tiles else (y, x)
            groups.setdefault(key, []).append((y, x, sub))
        for items in groups.values():
            # one tile: a view (tile_grads makes the only copy); several: stacked into a batch
            g = self.tile_grads(items[0][2][None] if len(items) == 1 else torch.stack([s for _, _, s in items]))
            for (y, x, s), gi in zip(items, g):
                grad[:, y:y + s.shape[1], x:x + s.shape[2]] = gi
        return torch.roll(grad, shifts=(-int(sy), -int(sx)), dims=(-2, -1))

    def render(self, img, rng, *, iter_n=1, step=2.0, octave_n=5, octave_scale=1.4, tile_size=512):
        """One ``render_deepdream`` call of the TF tutorial on a float image (3, H, W); returns the new image."""
        def ascend(img):
            g = self.grad_tiled(img, rng, tile_size)
            # fast: torch's mean (no host round trip; on a GPU no synchronisation); exact: NumPy's
            return img + g * (step / (g.abs().mean() + 1e-7) if self.fast else _step_scale(g, step))

        return _octaves(img, ascend, iter_n=iter_n, octave_n=octave_n, octave_scale=octave_scale)

    def grad_tiled_batch(self, imgs, rngs, tile_size: int = 512):
        """:meth:`grad_tiled` of several images (N, 3, H, W) at once: each image is rolled by its own
        offsets (from its own ``rngs[i]``, as alone), and the N tiles at each tile position, all of
        one shape, go through the network as one batch."""
        import torch

        sz = tile_size
        h, w = imgs.shape[-2:]
        offsets = [tuple(int(v) for v in rng.randint(sz, size=2)) for rng in rngs]  # (sx, sy) per image
        shifted = torch.stack([torch.roll(im, shifts=(sy, sx), dims=(-2, -1)) for im, (sx, sy) in zip(imgs, offsets)])
        grad = torch.zeros_like(shifted)
        for y, x in _tiles(h, w, sz):
            sub = shifted[:, :, y:y + sz, x:x + sz]
            grad[:, :, y:y + sub.shape[2], x:x + sub.shape[3]] = self.tile_grads(sub)
        return torch.stack([torch.roll(g, shifts=(-sy, -sx), dims=(-2, -1)) for g, (sx, sy) in zip(grad, offsets)])

    def render_batch(self, imgs, rngs, *, iter_n=1, step=2.0, octave_n=5, octave_scale=1.4, tile_size=512):
        """:meth:`render` of several images (N, 3, H, W) at once; the step size is per image."""
        def ascend(imgs):
            g = self.grad_tiled_batch(imgs, rngs, tile_size)
            return imgs + g * (step / (g.abs().mean(dim=(1, 2, 3), keepdim=True) + 1e-7))

        return _octaves(imgs, ascend, iter_n=iter_n, octave_n=octave_n, octave_scale=octave_scale)


def _octaves(img, ascend, *, iter_n, octave_n, octave_scale):
    """The octave loop of the TF tutorial's ``render_deepdream``: split ``img`` (..., H, W) into
    ``octave_n`` scales (each ``1/octave_scale`` of the last, sizes truncated as TF's int32 cast),
    then from the coarsest up add back each scale's detail and call ``ascend(img)`` ``iter_n`` times."""
    octaves = []
    for _ in range(octave_n - 1):
        hw = img.shape[-2:]
        lo = resize_bilinear(img, np.int32(np.float32(hw) / octave_scale))
        octaves.append(img - resize_bilinear(lo, hw))
        img = lo
    for octave in range(octave_n):
        if octave > 0:
            hi = octaves[-octave]
            img = resize_bilinear(img, hi.shape[-2:]) + hi
        for _ in range(iter_n):
            img = ascend(img)
    return img


PRECISIONS = ("fp32", "bf16", "auto")


def bf16_supported(device="cpu") -> bool:
    """Whether ``device`` computes bfloat16 convolutions natively (CPU: oneDNN with AVX512-BF16 or AMX
    (``lscpu`` flags ``avx512_bf16`` / ``amx_bf16``); CUDA: compute capability 8.0 or newer)."""
    import torch

    dev = torch.device(device)
    if dev.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False))
    if dev.type == "cpu":
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def check_precision(precision: str, *, fast: bool = True, device=None) -> str:
    """Resolve ``precision`` (``"fp32"``, ``"bf16"`` or ``"auto"``) to ``"fp32"`` or ``"bf16"``.

    ``"auto"`` is bf16 where :func:`bf16_supported` says the device has it natively, else fp32.
    ``fast=False`` (the reference's operations and bytes) is float32 only.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "auto":
        precision = "bf16" if fast and bf16_supported(device or "cpu") else "fp32"
    if precision == "bf16" and not fast:
        raise ValueError("precision='bf16' needs fast=True (fast=False reproduces the float32 reference port)")
    return precision


def _step_scale(g, step):
    """``step / (np.abs(g).mean() + 1e-7)`` computed exactly as NumPy does it on the contiguous HWC float32 array.

    DeepDream amplifies rounding: a torch mean (different summation order) instead of NumPy's
    pairwise float32 sum changes the uint8 result by up to tens of levels after a few renders,
    while this keeps it bit-identical to the published NumPy loop (tested). Costs one device-to-
    host copy of the gradient per step; used with ``fast=False``.
    """
    import torch

    # A contiguous HWC copy, as the reference's gradient array is: NumPy's pairwise sum follows the
    # memory order, so a mere HWC *view* of CHW memory sums in another order (1 ulp in ~20% of steps,
    # amplified to several grey levels after a few renders).
    a = np.ascontiguousarray(g.detach().cpu().numpy().transpose(1, 2, 0))
    return torch.tensor(step / (np.abs(a).mean() + 1e-7), dtype=torch.float32, device=g.device)


def _cpu_times():
    """(seconds of non-idle CPU time of the whole machine, of this process, of the allowed cores), or None."""
    import os

    try:
        with open("/proc/stat") as f:
            vals = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    busy = sum(vals[:8]) - vals[3] - (vals[4] if len(vals) > 4 else 0)  # all but idle and iowait
    t = os.times()
    return busy / hz, t.user + t.system, time.monotonic()


def free_cores(since=None, *, interval: float = 0.2) -> float:
    """Cores not used by other processes, measured from ``/proc/stat`` minus this process's own CPU time.

    Args:
        since: a :func:`_cpu_times` sample to measure from (e.g. taken before the last render); ``None``
            samples over ``interval`` seconds now.

    Returns:
        free cores of the machine, between 0 and ``os.cpu_count()`` (the cpu count where
        ``/proc/stat`` is unavailable, e.g. macOS/Windows).
    """
    import os

    n = os.cpu_count() or 1
    a = since or _cpu_times()
    if a is None:
        return float(n)
    if since is None:
        time.sleep(interval)
    b = _cpu_times()
    wall = b[2] - a[2]
    if wall <= 0:
        return float(n)
    others = max(0.0, (b[0] - a[0]) - (b[1] - a[1])) / wall
    return float(min(n, max(0.0, n - others)))


class AdaptiveThreads:
    """``threads="auto"``: before each render, torch gets as many threads as there are free cores
    (at least 1, at most the cores this process may use), measured over the previous render by
    :func:`free_cores`. A CPU shared with a busy job then runs on 1 thread instead of fighting for
    the busy core (OpenMP threads wait at every barrier for the slowest one)."""

    def __init__(self):
        import os

        try:
            self.max = len(os.sched_getaffinity(0))
        except AttributeError:  # not Linux
            self.max = os.cpu_count() or 1
        self.sample = _cpu_times()
        self.history: list[int] = []

    #: shortest window (s) free cores are measured over; /proc/stat counts in 10 ms ticks, so a
    #: sample taken just before (the first render of a call) would see no other process at all
    min_window = 0.2

    def update(self) -> int:
        import torch

        if self.sample is None:  # no /proc/stat
            free = self.max
        elif time.monotonic() - self.sample[2] < self.min_window:
            free = free_cores(interval=self.min_window)
        else:
            free = free_cores(self.sample)
        # our own threads' share is excluded; round half up so a lightly loaded core still counts
        n = int(min(self.max, max(1, int(free + 0.5))))
        if n != torch.get_num_threads():
            torch.set_num_threads(n)
        self.sample = _cpu_times()
        self.history.append(n)
        return n


@contextlib.contextmanager
def torch_threads(n):
    """Run a block with ``n`` torch CPU threads (``None`` or ``"auto"``: unchanged here; ``"auto"`` is
    applied per render by :func:`dream`), restoring the old count."""
    import torch

    if n is not None and n != "auto" and (not isinstance(n, (int, np.integer)) or int(n) < 1):
        raise ValueError(f"threads must be None, 'auto' or a positive integer, got {n!r}")
    old = torch.get_num_threads()
    if n and n != "auto":
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def objective(model, layer: str, image, *, device=None) -> float:
    """Mean of ``layer``'s output on the whole uint8/float image (H, W, 3) in [0, 255] (no tiling)."""
    import torch

    dev = device or next(model.parameters()).device
    x = torch.as_tensor(np.asarray(image, dtype=np.float32), device=dev).permute(2, 0, 1)[None]
    with torch.no_grad():
        return float(model(x, layer).mean())


def to_uint8(img) -> np.ndarray:
    """Float image (3, H, W) torch or (H, W, 3) array in [0, 255] -> uint8 HxWx3 exactly as the study saved it:
    ``np.uint8(np.clip(img / 255, 0, 1) * 255)`` in float32 (Image_Generation.py, like the TF tutorial's
    ``showarray``). It agreed with ``np.uint8(np.clip(img, 0, 255))`` on every integer and on 10^6 random
    float32 values tried; the study's form is kept so no rounding case can differ."""
    import torch

    if isinstance(img, torch.Tensor):
        img = img.detach().permute(1, 2, 0).cpu().numpy()
    a = np.asarray(img, dtype=np.float32)
    return np.uint8(np.clip(a / np.float32(255), 0, 1) * np.float32(255))


def dream(model, layer: str, image, *, n_renders: int = 50, iter_n: int = 1, step: float = 2.0, octave_n: int = 5,
          octave_scale: float = 1.4, tile_size: int = 512, seed: int = 0, device=None, return_info: bool = False,
          callback=None, fast: bool = True, batch_tiles: bool = False, progress: bool = False,
          precision: str = "fp32", threads=None):
    """DeepDream ``image`` towards the plain mean of ``layer``, as the study did.

    ``n_renders`` calls of the TF tutorial's ``render_deepdream`` in sequence (each rebuilds the
    octave stack from the current float image), gradients from 512-px tiles of a randomly rolled
    image (offsets from ``np.random.RandomState(seed).randint(tile_size, size=2)`` per step), step
    ``g * step / (mean|g| + 1e-7)``; finally clipped to [0, 255] and cast to uint8.

    Args:
        model: :class:`helpers.inception.InceptionV1` (its device is used unless ``device`` is given).
        layer: one of :data:`LAYERS`.
        image: uint8 (or float) array (H, W, 3), RGB in [0, 255].
        n_renders, iter_n, step, octave_n, octave_scale, tile_size: the algorithm's settings.
        seed: seed of the roll offsets. Same seed -> same bytes (same machine and device).
        device: torch device to compute on.
        return_info: also return a dict with ``objective_before``/``objective_after`` (mean layer
            output on the whole start / final uint8 image) and ``seconds``.
        callback: called as ``callback(render_index, float_image_tensor)`` after each render.
        fast, batch_tiles: see :class:`Dreamer`. ``fast=True`` agrees with the reference port
            (:func:`_reference_dream`) to float32 rounding in every step; DeepDream amplifies
            rounding over renders, by as much as running the reference itself on another
            thread count does (``benchmarks/dream.py`` measures both). ``fast=False`` gives the
            reference's bytes.
        progress: show a tqdm bar over renders.
        precision: ``"fp32"``; ``"bf16"``: the network's forward under bfloat16 autocast (the
            backward follows; float32 accumulation, LRN, image, score and step in float32),
            about 1.5-2x faster on CPUs with AVX512-BF16/AMX and on recent GPUs, at a per-step
            gradient error of a few percent instead of ~1e-6 (``tests/test_dream_precision.py``,
            ``benchmarks/dream.py``); ``"auto"``: bf16 where :func:`bf16_supported`.
        threads: torch CPU threads: ``None`` (unchanged), a number, or ``"auto"`` (as many as
            there are free cores, re-measured before every render: :class:`AdaptiveThreads`).

    Returns:
        uint8 array (H, W, 3), or ``(image, info)`` with ``return_info``.
    """
    import torch
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image: expected (H, W, 3) RGB, got shape {image.shape}")
    dreamer = Dreamer(model, layer, fast=fast, batch_tiles=batch_tiles, precision=precision)
    before = objective(model, layer, image, device=dev) if return_info else None
    img = torch.as_tensor(image.astype(np.float32), device=dev).permute(2, 0, 1).contiguous()
    rng = np.random.RandomState(int(seed))
    adapt = AdaptiveThreads() if threads == "auto" and dev.type == "cpu" else None
    with torch_threads(threads):
        for r in tqdm(range(n_renders), desc=layer, disable=not progress, leave=False):
            if adapt is not None:
                adapt.update()
            img = dreamer.render(img, rng, iter_n=iter_n, step=step, octave_n=octave_n, octave_scale=octave_scale,
                                 tile_size=tile_size)
            if callback is not None:
                callback(r, img)
    out = to_uint8(img)
    if not return_info:
        return out
    info = {"objective_before": before, "objective_after": objective(model, layer, out, device=dev),
            "seconds": time.perf_counter() - t0, "precision": dreamer.precision,
            "threads": adapt.history if adapt is not None else torch.get_num_threads()}
    return out, info


def dream_batch(model, layer: str, images, *, seeds, n_renders: int = 50, iter_n: int = 1, step: float = 2.0,
                octave_n: int = 5, octave_scale: float = 1.4, tile_size: int = 512, device=None,
                precision: str = "fp32", progress: bool = False):
    """:func:`dream` of several equal-sized images of one layer at once (e.g. the five seeds), for GPUs.

    Each image keeps its own roll offsets (``np.random.RandomState(seeds[i])``) and step size, so the
    result is image for image what :func:`dream` computes, up to the rounding of a batched
    convolution (DeepDream amplifies rounding over renders; tested equal per step on CPU). The N
    tiles at each tile position (same shape for every image) form one batch on the device; images
    stay on the device between renders, channels-last inside the network. On a GPU this batching
    replaces :func:`synthesize`'s worker processes (``workers > 1`` is CPU only). On a CPU it is no
    faster than one image at a time (a 512-px tile already fills the cores). ``torch.compile`` and
    CUDA graphs are not used: they could not be measured here (no GPU).

    Args:
        images: sequence of uint8/float arrays (H, W, 3), all the same shape.
        seeds: one roll-offset seed per image.
        precision: as :func:`dream` (``"bf16"``: autocast; on a GPU TF32 matrix products are left
            to torch's global setting, ``torch.backends.cuda.matmul.allow_tf32``).
        other arguments: as :func:`dream`.

    Returns:
        list of uint8 arrays (H, W, 3), one per image.
    """
    import torch
    from tqdm.auto import tqdm

    dev = torch.device(device) if device is not None else next(model.parameters()).device
    arrs = [np.asarray(im) for im in images]
    if not arrs or len(seeds) != len(arrs):
        raise ValueError(f"dream_batch: {len(arrs)} images but {len(seeds)} seeds (one seed per image)")
    if any(a.ndim != 3 or a.shape[2] != 3 or a.shape != arrs[0].shape for a in arrs):
        raise ValueError(f"dream_batch: images must all be (H, W, 3) of one shape, got {[a.shape for a in arrs]}")
    dreamer = Dreamer(model, layer, precision=precision)
    imgs = torch.as_tensor(np.stack(arrs).astype(np.float32), device=dev).permute(0, 3, 1, 2).contiguous()
    rngs = [np.random.RandomState(int(s)) for s in seeds]
    for _ in tqdm(range(n_renders), desc=f"{layer} x{len(arrs)}", disable=not progress, leave=False):
        imgs = dreamer.render_batch(imgs, rngs, iter_n=iter_n, step=step, octave_n=octave_n,
                                    octave_scale=octave_scale, tile_size=tile_size)
    return [to_uint8(im) for im in imgs]


def octave_stack(image, *, octave_n: int = 5, octave_scale: float = 1.4) -> list:
    """The low-pass octaves of ``image`` (H, W, 3) as uint8 images, largest first."""
    import torch

    img = torch.as_tensor(np.asarray(image, dtype=np.float32)).permute(2, 0, 1)
    out = [to_uint8(img)]
    for _ in range(octave_n - 1):
        img = resize_bilinear(img, np.int32(np.float32(img.shape[-2:]) / octave_scale))
        out.append(to_uint8(img))
    return out


# --- the whole job ---------------------------------------------------------------------------

def image_name(layer: str, seed: int) -> str:
    """Relative path of one stimulus inside the output folder."""
    return f"images/{LAYERS.index(layer) if layer in LAYERS else 999:03d}_{layer}_seed{seed}.png"


def synthesize(layers, seeds, out_dir, *, model, size: int = 800, n_renders: int = 50, iter_n: int = 1,
               step: float = 2.0, octave_n: int = 5, octave_scale: float = 1.4, tile_size: int = 512,
               start=None, device=None, shard: int = 0, n_shards: int = 1, on_error: str = "warn",
               fast: bool = True, batch_tiles: bool = False, threads=None,
               workers: int = 1, progress: bool = True, precision: str = "fp32", batch_images: bool | None = None):
    """Dream one PNG per (layer, seed) into ``out_dir`` and write ``out_dir/manifest.csv``.

    Resumable: each finished image gets a JSON record (``records/``) written after its PNG,
    both atomically; a re-run skips (layer, seed) pairs whose PNG and record exist with the
    same settings and weights, so an interrupted run leaves no half-written file and
    continues where it stopped. The manifest is rebuilt from all records (every shard's).

    Args:
        layers: ``"all"`` or layer names (from :data:`LAYERS`).
        seeds: seeds; each picks the start image (:func:`start_images`) and the roll offsets.
        out_dir: output folder (the notebook uses ``paths.results(PROFILE) / "dream"``).
        model: the network (``models.load("inception5h", ...)``); its ``na_info`` is recorded.
        size, n_renders, iter_n, step, octave_n, octave_scale, tile_size: see :func:`dream`.
        start: ``None`` (seeded noise), a folder or list of the study's start PNGs.
        device: torch device.
        shard, n_shards: process only jobs ``shard, shard + n_shards, ...`` (parallel machines).
        on_error: ``"warn"`` (log a warning, skip the image, continue) or ``"raise"``.
        fast, batch_tiles, precision: see :func:`dream`; the resolved precision is recorded per
            image (a change of precision re-dreams the images).
        threads: torch CPU threads for the job (restored afterwards); ``"auto"``: as many as
            there are free cores, re-measured before every render (:class:`AdaptiveThreads`;
            with ``workers``: 1 per worker); ``None`` keeps torch's
            setting (with ``workers``: torch's setting divided among the workers). On a CPU
            shared with other busy processes 1 thread per job is often much faster than several
            (OpenMP threads wait for each other).
        workers: dream this many images at once in separate processes (CPU only). Two
            single-threaded workers keep 2 cores busier than one 2-thread process (small
            late-octave tiles parallelise poorly); ``benchmarks/dream.py --job`` measures it.
            Each image is still computed exactly as with ``workers=1`` on one thread.
        progress: tqdm bar with ETA.
        batch_images: dream the seeds of each layer as one batch (:func:`dream_batch`) in one
            process; ``None``: on for CUDA devices, off on a CPU (where it gains nothing). ``fast``
            and ``batch_tiles`` do not apply (the batched path is the fast one).

    Returns:
        pandas.DataFrame: the manifest (columns ``layer``, ``layer_index``, ``seed``, ``path``,
        weights provenance, every parameter, ``objective_before``, ``objective_after``,
        ``seconds``), sorted by layer index then seed.
    """
    import torch

    from helpers import io

    if model is None:
        raise ValueError("synthesize needs model= (e.g. models.load('inception5h', source='pretrained'))")
    if on_error not in ("warn", "raise"):
        raise ValueError(f"on_error must be 'warn' or 'raise', got {on_error!r}")
    if not 0 <= shard < n_shards:
        raise ValueError(f"shard must be in [0, n_shards={n_shards}), got {shard}")
    layers = list(LAYERS) if layers == "all" else [layers] if isinstance(layers, str) else list(layers)
    for layer in layers:
        if layer not in LAYERS:
            import difflib

            raise KeyError(f"unknown layer {layer!r}; closest: {difflib.get_close_matches(layer, LAYERS, n=5, cutoff=0.5)}")
        if hasattr(model, "check_layer"):
            model.check_layer(layer)
    seeds = [int(s) for s in seeds]
    out_dir = Path(out_dir)
    (out_dir / "records").mkdir(parents=True, exist_ok=True)
    info = dict(getattr(model, "na_info", {}) or {})
    weights = {"weights_name": info.get("name", "unknown"), "weights_source": info.get("source", "unknown"),
               "weights_file": Path(info["file"]).name if info.get("file") else None,
               "weights_sha256": info.get("sha256"), "weights_seed": info.get("seed")}
    params = dict(size=size, n_renders=n_renders, iter_n=iter_n, step=float(step), octave_n=octave_n,
                  octave_scale=float(octave_scale), tile_size=tile_size)
    precision = check_precision(precision, fast=fast, device=device or next(model.parameters()).device)
    starts = start_images(start, seeds, size=size)
    jobs = [(layer, s) for layer in layers for s in seeds][shard::n_shards]
    todo = []
    for layer, s in jobs:
        rec = out_dir / "records" / (Path(image_name(layer, s)).stem + ".json")
        if rec.exists() and (out_dir / image_name(layer, s)).exists():
            old = io.load_json(rec)
            if all(old.get(k) == v for k, v in {**params, **weights}.items()) and old.get("start_image") == starts[s][1] \
                    and old.get("precision", "fp32") == precision:
                continue
        todo.append((layer, s, rec))
    workers = int(workers)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if workers > 1 and str(device or next(model.parameters()).device).startswith("cuda"):
        raise ValueError("workers > 1 runs several CPU processes; on a GPU use workers=1: the seeds of a layer are "
                         "then dreamed as one batch (batch_images, on by default on CUDA), which replaces the "
                         "workers; shard=/n_shards= split the job across GPUs")
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    if batch_images is None:
        batch_images = dev.type == "cuda"
    if batch_images and (workers > 1 or not fast):
        raise ValueError("batch_images=True runs the fast path in one process: use workers=1 and fast=True")
    if batch_images:
        with torch_threads(None if threads == "auto" else threads):
            _run_jobs_batched(model, todo, starts, params, weights, out_dir, device=dev, on_error=on_error,
                              progress=progress, precision=precision)
    elif workers > 1 and len(todo) > 1:
        _run_jobs_parallel(model, todo, starts, params, weights, out_dir, workers=workers,
                           threads=None if threads == "auto" else threads, device=device, on_error=on_error,
                           fast=fast, batch_tiles=batch_tiles, progress=progress, precision=precision)
    else:
        with torch_threads(threads):
            _run_jobs(model, todo, starts, params, weights, out_dir, device=device, on_error=on_error,
                      fast=fast, batch_tiles=batch_tiles, progress=progress, precision=precision,
                      threads="auto" if threads == "auto" else None)
    wanted = {(layer, s) for layer in layers for s in seeds}
    return write_manifest(out_dir, keep=lambda r: (r["layer"], r["seed"]) in wanted and r.get("start_image") == starts[r["seed"]][1]
                          and all(r.get(k) == v for k, v in {**params, **weights}.items())
                          and r.get("precision", "fp32") == precision)


def _one_image(model, layer, s, rec, start, params, weights, out_dir, *, device, fast, batch_tiles, precision="fp32",
               threads=None):
    """Dream one (layer, seed), then write its PNG and (after it) its JSON record, both atomically."""
    from helpers import io

    img, run = dream(model, layer, start[0], seed=s, device=device, return_info=True, fast=fast,
                     batch_tiles=batch_tiles, precision=precision, threads=threads,
                     **{k: v for k, v in params.items() if k != "size"})
    io.save_image(img, Path(out_dir) / image_name(layer, s))
    row = {"layer": layer, "layer_index": LAYERS.index(layer), "seed": s, "path": image_name(layer, s),
           **weights, **params, "start_image": start[1], "device": str(device or "model"), "fast": bool(fast),
           "precision": run["precision"],
           "objective_before": run["objective_before"], "objective_after": run["objective_after"],
           "seconds": round(run["seconds"], 3)}
    io.save_json(row, rec)


def _run_jobs_batched(model, todo, starts, params, weights, out_dir, *, device, on_error, progress, precision):
    """:func:`_run_jobs` with the pending seeds of each layer dreamed together (:func:`dream_batch`)."""
    from tqdm.auto import tqdm

    from helpers import io

    by_layer: dict = {}
    for layer, s, rec in todo:
        by_layer.setdefault(layer, []).append((s, rec))
    kw = {k: v for k, v in params.items() if k != "size"}
    bar = tqdm(total=len(todo), desc="dream (batched)", unit="img", disable=not progress)
    for layer, items in by_layer.items():
        bar.set_postfix_str(f"{layer} x{len(items)}")
        try:
            t0 = time.perf_counter()
            seeds = [s for s, _ in items]
            befores = [objective(model, layer, starts[s][0], device=device) for s in seeds]
            outs = dream_batch(model, layer, [starts[s][0] for s in seeds], seeds=seeds, device=device,
                               precision=precision, **kw)
            dt = (time.perf_counter() - t0) / len(items)
            for (s, rec), img, before in zip(items, outs, befores):
                io.save_image(img, Path(out_dir) / image_name(layer, s))
                row = {"layer": layer, "layer_index": LAYERS.index(layer), "seed": s, "path": image_name(layer, s),
                       **weights, **params, "start_image": starts[s][1], "device": str(device), "fast": True,
                       "precision": precision, "batched": len(items), "objective_before": before,
                       "objective_after": objective(model, layer, img, device=device), "seconds": round(dt, 3)}
                io.save_json(row, rec)
        except Exception as exc:  # noqa: BLE001 - one bad layer must not stop a 720-image job
            if on_error == "raise":
                raise
            warnings.warn(f"dream: {layer} seeds {[s for s, _ in items]} failed ({type(exc).__name__}: {exc}); "
                          "skipped", stacklevel=3)
        bar.update(len(items))
    bar.close()


def _run_jobs(model, todo, starts, params, weights, out_dir, *, device, on_error, fast, batch_tiles, progress,
              precision="fp32", threads=None):
    from tqdm.auto import tqdm

    bar = tqdm(todo, desc="dream", unit="img", disable=not progress)
    for layer, s, rec in bar:
        bar.set_postfix_str(f"{layer} seed {s}")
        try:
            _one_image(model, layer, s, rec, starts[s], params, weights, out_dir, device=device, fast=fast,
                       batch_tiles=batch_tiles, precision=precision, threads=threads)
        except Exception as exc:  # noqa: BLE001 - one bad image must not stop a 720-image job
            if on_error == "raise":
                raise
            warnings.warn(f"dream: {layer} seed {s} failed ({type(exc).__name__}: {exc}); skipped", stacklevel=3)
    bar.close()


_WORKER: dict = {}


def _worker_init(model, threads):
    import torch

    torch.set_num_threads(int(threads))
    _WORKER["model"] = model.eval()


def _worker_job(layer, s, rec, start, params, weights, out_dir, device, fast, batch_tiles, precision="fp32"):
    try:
        _one_image(_WORKER["model"], layer, s, rec, start, params, weights, out_dir, device=device, fast=fast,
                   batch_tiles=batch_tiles, precision=precision)
    except Exception as exc:  # re-raised in the parent as a plain, always picklable error
        raise RuntimeError(f"{type(exc).__name__}: {exc}") from None


def _run_jobs_parallel(model, todo, starts, params, weights, out_dir, *, workers, threads, device, on_error, fast,
                       batch_tiles, progress, precision="fp32"):
    """:func:`_run_jobs` over ``workers`` spawned processes; records and PNGs are per image, so an
    interrupted run resumes like a sequential one."""
    import concurrent.futures as cf
    import multiprocessing as mp

    import torch
    from tqdm.auto import tqdm

    threads = int(threads) if threads else max(1, torch.get_num_threads() // workers)
    workers = min(workers, len(todo))
    # spawned workers inherit the environment, with it the OpenMP wait setting that importing helpers
    # made before torch loaded (inception._openmp_wait)
    with cf.ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_worker_init,
                                initargs=(model, threads)) as ex:
        futures = {ex.submit(_worker_job, layer, s, rec, starts[s], params, weights, out_dir, device, fast,
                             batch_tiles, precision): (layer, s) for layer, s, rec in todo}
        try:
            for fut in tqdm(cf.as_completed(futures), total=len(futures), desc=f"dream ({workers} workers)",
                            unit="img", disable=not progress):
                exc = fut.exception()
                if exc is None:
                    continue
                layer, s = futures[fut]
                if on_error == "raise":
                    raise RuntimeError(f"dream: {layer} seed {s} failed: {exc}") from exc
                warnings.warn(f"dream: {layer} seed {s} failed ({exc}); skipped", stacklevel=3)
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def write_manifest(out_dir, *, keep=None):
    """Rebuild ``out_dir/manifest.csv`` from the per-image records; returns the DataFrame.

    Args:
        out_dir: the job's folder.
        keep: predicate on a record dict; :func:`synthesize` keeps the records of its own job
            (all shards, same settings and weights), so stale images from other settings in the
            same folder never enter the manifest.
    """
    import pandas as pd

    from helpers import io

    out_dir = Path(out_dir)
    rows = [json.loads(p.read_text()) for p in sorted((out_dir / "records").glob("*.json"))]
    rows = [r for r in rows if (out_dir / r["path"]).exists() and (keep is None or keep(r))]
    df = pd.DataFrame(rows)
    first = ["layer", "layer_index", "seed", "path", "weights_name", "weights_source", "weights_file", "weights_sha256",
             "weights_seed", *PARAMS, "start_image", "objective_before", "objective_after", "seconds", "device"]
    df = df[[c for c in first if c in df.columns] + [c for c in df.columns if c not in first]] if len(df) else \
        pd.DataFrame(columns=first)
    if len(df):
        df = df.sort_values(["layer_index", "seed"], kind="stable").reset_index(drop=True)
    io.save_table(df, out_dir / "manifest.csv")
    return df


def _two_lines(name: str) -> str:
    """``mixed4d_3x3_bottleneck_pre_relu`` -> ``mixed4d`` / ``3x3_bottleneck_pre_relu`` (block, then branch)."""
    block, _, rest = name.partition("_")
    return f"{block}\n{rest}" if rest else name


def contact_sheet(manifest, out_dir, *, seed: int = 0, n_cols: int = 12, notes=(), cell_size: float = 1.25,
                  thumb: int = 200, fontsize: float = 5.5):
    """All layers of one seed in layer order as an image grid (``plots.image_grid``); returns the Figure.

    Each tile's layer name sits under the tile on two lines (block, branch) at ``fontsize`` pt, with
    room left between the rows so no name touches another tile. Images are shrunk to ``thumb`` px
    (Lanczos) first, so the PDF stays small at 800 px.
    """
    from PIL import Image

    from helpers import io, plots

    df = manifest[manifest["seed"] == seed].sort_values("layer_index")
    if df.empty:
        raise ValueError(f"contact_sheet: the manifest has no images for seed {seed}")
    imgs = []
    for p in df["path"]:
        im = Image.fromarray(io.read_image(Path(out_dir) / p))
        if max(im.size) > thumb:
            im = im.resize((thumb, round(thumb * im.size[1] / im.size[0])), Image.LANCZOS)
        imgs.append(np.asarray(im))
    names = list(df["layer"])
    n_cols = min(n_cols, len(imgs))
    rows = [imgs[i:i + n_cols] for i in range(0, len(imgs), n_cols)]
    fig = plots.image_grid(rows, title=f"DeepDream of each layer, seed {seed} ({len(imgs)} layers in layer order, left to right)",
                           notes=notes, cell_size=cell_size, fontsize=7)
    label_in = 3.0 * fontsize / 72  # two text lines plus padding and a clear gap to the next row, inches
    w, h = fig.get_size_inches()
    fig.set_size_inches(w, h + len(rows) * label_in + 0.3)
    for ax, name in zip(fig.axes, names):
        ax.set_xlabel(_two_lines(name), fontsize=fontsize, labelpad=1.5, linespacing=1.0)
        for im in ax.get_images():  # thumbnails are already Lanczos-filtered; nearest renders 2x faster
            im.set_interpolation("nearest")
    fig.subplots_adjust(left=0.01, right=0.99, top=1 - 0.45 / fig.get_size_inches()[1], bottom=0.02,
                        wspace=0.04, hspace=label_in / cell_size + 0.04)
    return fig


def preview(path, *, max_px: int = 1000, quality: int = 85):
    """A downsampled inline preview of a saved figure, with a link to the full-size file.

    Executed notebooks then carry a ~100 kB JPEG instead of the full figure (the paper's contact
    sheet is several MB). Returns an ``IPython.display.HTML`` object (display it as a cell's value).
    """
    import base64
    import io as _io
    import os

    from IPython.display import HTML
    from PIL import Image

    from helpers import paths

    path = Path(path)
    im = Image.open(path).convert("RGB")
    full = im.size
    im.thumbnail((max_px, max_px), Image.LANCZOS)
    buf = _io.BytesIO()
    im.save(buf, format="JPEG", quality=quality)
    data = base64.b64encode(buf.getvalue()).decode()
    try:
        shown = path.resolve().relative_to(paths.root().resolve())
    except ValueError:
        shown = path
    href = os.path.relpath(path, os.getcwd())
    return HTML(f'<img src="data:image/jpeg;base64,{data}" style="max-width:100%" '
                f'alt="preview of {shown.name}"/><br/><a href="{href}">{shown}</a> '
                f'(full size {full[0]}x{full[1]} px, {path.stat().st_size / 1e6:.1f} MB; preview {im.size[0]}x{im.size[1]} px)')


def progress_figure(model, layer: str, image, *, snapshots=(1, 2, 5, 10, 25, 50), notes=(), threads=None, **kwargs):
    """One image across renders (top row) and the octave stack of the final image (bottom row).

    ``kwargs`` go to :func:`dream`; ``threads`` as in :func:`synthesize`. Returns the Figure.
    """
    from helpers import plots

    kept = {}
    n = kwargs.pop("n_renders", max(snapshots))
    with torch_threads(threads):
        final = dream(model, layer, image, n_renders=n,
                      callback=lambda r, im: kept.__setitem__(r + 1, to_uint8(im)) if r + 1 in snapshots else None, **kwargs)
    renders = [np.asarray(image)] + [kept[k] for k in sorted(kept)]
    octs = octave_stack(final, octave_n=kwargs.get("octave_n", 5), octave_scale=kwargs.get("octave_scale", 1.4))
    grid = [renders, octs + [None] * (len(renders) - len(octs))]
    fig = plots.image_grid(grid, row_labels=["renders", "octaves"], notes=notes,
                           title=f"{layer}: start, after renders {sorted(kept)}; octave stack of the result")
    for ax, lab in zip(fig.axes[:len(renders)], ["start"] + [f"render {k}" for k in sorted(kept)]):
        ax.set_title(lab, fontsize=7)
    for ax, o in zip(fig.axes[len(renders):], octs):  # under the tile: nothing of the row above is covered
        ax.set_xlabel(f"{o.shape[1]}x{o.shape[0]} px", fontsize=7, labelpad=2)
    w, h = fig.get_size_inches()
    fig.set_size_inches(w, h + 0.5)
    fig.subplots_adjust(hspace=0.25, bottom=0.08)
    return fig


def _reference_dream(model, layer: str, image, *, n_renders: int = 50, iter_n: int = 1, step: float = 2.0,
                     octave_n: int = 5, octave_scale: float = 1.4, tile_size: int = 512, seed: int = 0) -> np.ndarray:
    """Straightforward port of the published TF1 loop, kept as the honest baseline for tests and
    ``benchmarks/dream.py``: NumPy HWC image, ``np.roll``, one tile at a time, full-depth forward
    (every one of the 144 layers computed for every tile), float32, LRN as torch's own
    ``F.local_response_norm`` computes it (:func:`helpers.inception.reference_ops`)."""
    import torch

    dev = next(model.parameters()).device

    def resize(a, hw):
        # a C-contiguous HWC array, as sess.run returns it: a mere HWC view of CHW memory would make
        # NumPy propagate that layout (zeros_like, roll) into the gradient array and change the
        # order in which np.abs(g).mean() sums it from octave to octave
        t = torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1))).to(dev)
        return np.ascontiguousarray(resize_bilinear(t, hw).permute(1, 2, 0).cpu().numpy())

    def t_grad(sub):
        x = torch.from_numpy(np.ascontiguousarray(sub.transpose(2, 0, 1)))[None].to(dev).requires_grad_(True)
        with torch.enable_grad():
            score = model(x)[layer].mean()  # full forward: all layers, then pick one
            (g,) = torch.autograd.grad(score, x)
        return g[0].permute(1, 2, 0).cpu().numpy()

    def calc_grad_tiled(img, rng):
        sz = tile_size
        h, w = img.shape[:2]
        sx, sy = rng.randint(sz, size=2)
        img_shift = np.roll(np.roll(img, sx, 1), sy, 0)
        grad = np.zeros_like(img)
        for y in range(0, max(h - sz // 2, sz), sz):
            for x in range(0, max(w - sz // 2, sz), sz):
                sub = img_shift[y:y + sz, x:x + sz]
                grad[y:y + sz, x:x + sz] = t_grad(sub)
        return np.roll(np.roll(grad, -sx, 1), -sy, 0)

    def render_deepdream(img, rng):
        octaves = []
        for _ in range(octave_n - 1):
            hw = img.shape[:2]
            lo = resize(img, np.int32(np.float32(hw) / octave_scale))
            hi = img - resize(lo, hw)
            img = lo
            octaves.append(hi)
        for octave in range(octave_n):
            if octave > 0:
                hi = octaves[-octave]
                img = resize(img, hi.shape[:2]) + hi
            for _ in range(iter_n):
                g = calc_grad_tiled(img, rng)
                img += g * (step / (np.abs(g).mean() + 1e-7))
        return img

    from helpers import inception

    img = np.asarray(image, dtype=np.float32).copy()
    rng = np.random.RandomState(int(seed))
    with inception.reference_ops(model):  # LRN as torch's F.local_response_norm / torch-lucent compute it
        for _ in range(n_renders):
            img = render_deepdream(img, rng)
    return np.uint8(np.clip(img / 255, 0, 1) * 255)  # as Image_Generation.py saves it

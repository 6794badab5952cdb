"""DeepDream rendering of the emotion study's stimuli (Paper 1): the TF tutorial's loop, on InceptionV1.

:func:`dream` renders one image towards the mean of a layer, as the study did (``n_renders`` calls of
the TF tutorial's ``render_deepdream``: octaves, 512-px tiles of a randomly rolled image, normalised
gradient steps); :func:`dream_batch` renders several images of one layer at once (GPUs). The whole job,
one PNG per (layer, seed) with a manifest, is :func:`helpers.synthesis.dream_jobs.synthesize`; the start
images are :mod:`helpers.synthesis.start_images`; :func:`reference_dream` is the straightforward port the
tests and ``benchmarks/dream.py`` compare against.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from helpers.nets import inception, inception_fast
from helpers.progress import tqdm
from helpers.synthesis.threads import AdaptiveThreads, torch_threads

PARAMS = ("size", "n_renders", "iter_n", "step", "octave_n", "octave_scale", "tile_size")
DEFAULTS = dict(size=800, n_renders=50, iter_n=1, step=2.0, octave_n=5, octave_scale=1.4, tile_size=512)


def resize_bilinear(img, size):
    """TF1 ``tf.image.resize_bilinear`` (align_corners=False, no half-pixel centres) on (..., H, W).

    Source coordinate ``src = dst * in / out`` in float32, ``lower = floor(src)``,
    ``upper = min(ceil(src), in - 1)``, ``top + (bottom - top) * lerp`` like TF's kernel.

    Args:
        img: float32 torch tensor (..., H, W).
        size: (out_h, out_w).

    Used in: notebook 01 (p1-dream-octaves.png) through :func:`helpers.synthesis.dream.progress_snapshots`.
    """
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
    """Octave sizes from largest to smallest, rounded like the TF code: ``np.int32(np.float32(hw) / scale)``.

    Used in: no notebook; ``benchmarks/dream.py``, ``tests/test_dream.py``.
    """
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
        model: :class:`helpers.nets.inception.InceptionV1` (or any module called as ``model(x, layer)``).
        layer: layer name.
        fast: channels-last memory, the fast operations of :func:`helpers.nets.inception.reference_ops`
            (closed-form LRN gradient, 1x1 convolutions as one matmul) with conv2d0's sub-pixel
            input gradient (:func:`helpers.nets.inception.input_grad_only`), and torch's mean for the
            step size: same mathematics, float32 rounding differs from the reference. ``False``:
            NCHW and the reference's operations (LRN as torch's ``F.local_response_norm``,
            NumPy's mean), which reproduces the reference port's bytes on the same machine and
            thread count.
        batch_tiles: stack tiles of equal shape into one batch (mathematically the same
            gradients, but a batched convolution rounds differently and DeepDream amplifies
            that; off by default, and at 800 px no two tiles have the same shape anyway).
        precision: ``"fp32"``, ``"bf16"`` or ``"auto"`` (:func:`check_precision`).
        engine: ``"fused"``: :class:`helpers.nets.inception_fast.FusedInception` (hand-written forward and
            input gradient, activations in the precision's dtype end to end, one-buffer mixed blocks, fused
            ReLU forward and backward); ``"autograd"``: the model's forward under torch autograd (bf16 by
            autocast), the straight path; ``"auto"`` (default): fused for an InceptionV1 on a CPU with
            ``fast=True``, else autograd (:func:`check_engine`).

    Used in: notebook 01 (p1-dream-octaves.png) through :func:`helpers.synthesis.dream.progress_snapshots`.
    """

    def __init__(self, model, layer: str, *, fast: bool = True, batch_tiles: bool = False, precision: str = "fp32",
                 engine: str = "auto"):
        if hasattr(model, "check_layer"):
            model.check_layer(layer)
        self.model, self.layer = model, layer
        self.fast, self.batch_tiles = bool(fast), batch_tiles
        dev = next(iter(model.parameters())).device if hasattr(model, "parameters") else None
        self.precision = check_precision(precision, fast=fast, device=dev)
        self.engine = check_engine(engine, model, fast=fast, device=dev)
        self._fused = (inception_fast.FusedInception(
            model, layer, dtype=torch.bfloat16 if self.precision == "bf16" else torch.float32)
            if self.engine == "fused" else None)

    def tile_grads(self, batch):
        """d mean(layer output) / d input for each image of ``batch`` (N, 3, h, w), [0, 255] scale."""
        # a new leaf (``detach`` shares memory; the input is never written to): no copy in NCHW,
        # one layout copy (of a possibly strided tile view) for channels-last
        if self._fused is not None:
            return self._fused.input_grad(batch.detach().float())
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
ENGINES = ("auto", "fused", "autograd")

#: The verdict of ``benchmarks/precision.py`` (run 2026-12-06: 128 px, 3 octaves, 10 renders, 12 layers x 5 starts,
#: stand-in weights; docs/deepdream.md): the measures of ``features.table`` whose mean bf16-fp32 shift failed the
#: equivalence test (TOST, margin 0.2 between-seed sd), 39 of 58. While any fails, ``precision="auto"`` stays
#: float32 everywhere and fp32 is the default.
BF16_FAILED_MEASURES: tuple = (
    'aesthetics_edge_density', 'brightness', 'cnn_self_similarity', 'cnn_sparseness', 'cnn_symmetry_lrud',
    'cnn_symmetry_ud', 'cnn_variability', 'color_entropy', 'dcm_distance', 'dcm_x', 'dcm_y',
    'edge_density_sigma1', 'fourier_slope_mather', 'fourier_slope_redies', 'fourier_slope_spehar',
    'fractal_dimension_2d', 'fractal_dimension_3d', 'homogeneity', 'hue', 'hue_circular', 'hue_concentration',
    'jpeg_bytes', 'luminance_entropy', 'mean_hsv_h', 'mean_hsv_s', 'mean_hsv_v', 'mean_r', 'mirror_symmetry',
    'phog_anisotropy', 'phog_complexity', 'saturation', 'spectrum_intercept', 'std_b', 'std_g', 'std_hsv_h',
    'std_hsv_v', 'std_lab_a', 'std_r', 'subband_entropy'
)
#: Whether ``benchmarks/precision.py`` passed for every measure.
BF16_BENCHMARK_PASSED = not BF16_FAILED_MEASURES


def bf16_supported(device="cpu") -> bool:
    """Whether ``device`` has native bfloat16 *matrix units*: CPU: AMX tiles (``lscpu`` flags ``amx_bf16`` /
    ``amx_tile``; ``torch.cpu._is_amx_tile_supported``); CUDA: compute capability 8.0 or newer (bf16 tensor cores).

    AVX512-BF16 alone (``avx512_bf16`` without AMX) does not count: on such a CPU (the 2-core Xeon of
    ``benchmarks/dream.py``) oneDNN's bf16 convolutions measured 0.5-0.65x the speed of float32 ones.

    Used in: notebook 01 (p1-dream-octaves.png) through :func:`helpers.synthesis.dream.progress_snapshots`.
    """
    dev = torch.device(device)
    if dev.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False))
    if dev.type == "cpu":
        amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
                    and amx is not None and amx())
    return False


def check_engine(engine: str, model=None, *, fast: bool = True, device=None) -> str:
    """Resolve ``engine`` (``"auto"``, ``"fused"``, ``"autograd"``) to ``"fused"`` or ``"autograd"``.

    ``"auto"``: fused for an :class:`helpers.nets.inception.InceptionV1` on a CPU with ``fast=True``; the
    autograd path elsewhere (GPUs, other modules, ``fast=False``, which reproduces the reference port's bytes).

    Used in: notebook 01 (p1-dream-contact-sheet.png) through :func:`helpers.synthesis.dream_jobs.synthesize`.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    usable = fast and isinstance(model, inception.InceptionV1) and torch.device(device or "cpu").type == "cpu"
    if engine == "fused" and not usable:
        raise ValueError("engine='fused' needs an InceptionV1 on the CPU with fast=True (use engine='autograd')")
    if engine == "auto":
        return "fused" if usable else "autograd"
    return engine


def check_precision(precision: str, *, fast: bool = True, device=None) -> str:
    """Resolve ``precision`` (``"fp32"``, ``"bf16"`` or ``"auto"``) to ``"fp32"`` or ``"bf16"``.

    ``"auto"`` is bf16 only where :func:`bf16_supported` (native bf16 matrix units) *and* ``benchmarks/precision.py``
    passed for every measure (:data:`BF16_BENCHMARK_PASSED`); float32 otherwise.
    ``fast=False`` (the reference's operations and bytes) is float32 only.

    Used in: notebook 01 (p1-dream-octaves.png) through :func:`helpers.synthesis.dream.progress_snapshots`.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "auto":
        precision = "bf16" if fast and BF16_BENCHMARK_PASSED and bf16_supported(device or "cpu") else "fp32"
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
    # A contiguous HWC copy, as the reference's gradient array is: NumPy's pairwise sum follows the
    # memory order, so a mere HWC *view* of CHW memory sums in another order (1 ulp in ~20% of steps,
    # amplified to several grey levels after a few renders).
    a = np.ascontiguousarray(g.detach().cpu().numpy().transpose(1, 2, 0))
    return torch.tensor(step / (np.abs(a).mean() + 1e-7), dtype=torch.float32, device=g.device)


def objective(model, layer: str, image, *, device=None) -> float:
    """Mean of ``layer``'s output on the whole uint8/float image (H, W, 3) in [0, 255] (no tiling).

    Used in: notebook 01 (p1-dream-octaves.png) through :func:`helpers.synthesis.dream.progress_snapshots`.
    """
    dev = device or next(model.parameters()).device
    x = torch.as_tensor(np.asarray(image, dtype=np.float32), device=dev).permute(2, 0, 1)[None]
    with torch.no_grad():
        return float(model(x, layer).mean())


def to_uint8(img) -> np.ndarray:
    """Float image (3, H, W) torch or (H, W, 3) array in [0, 255] -> uint8 HxWx3 exactly as the study saved it:
    ``np.uint8(np.clip(img / 255, 0, 1) * 255)`` in float32 (Image_Generation.py, like the TF tutorial's
    ``showarray``). It agreed with ``np.uint8(np.clip(img, 0, 255))`` on every integer and on 10^6 random
    float32 values tried; the study's form is kept so no rounding case can differ.

    Used in: notebook 01 (p1-dream-octaves.png) through :func:`helpers.synthesis.dream.progress_snapshots`.
    """
    if isinstance(img, torch.Tensor):
        img = img.detach().permute(1, 2, 0).cpu().numpy()
    a = np.asarray(img, dtype=np.float32)
    return np.uint8(np.clip(a / np.float32(255), 0, 1) * np.float32(255))


def dream(model, layer: str, image, *, n_renders: int = 50, iter_n: int = 1, step: float = 2.0, octave_n: int = 5,
          octave_scale: float = 1.4, tile_size: int = 512, seed: int = 0, device=None, return_info: bool = False,
          callback=None, fast: bool = True, batch_tiles: bool = False, progress: bool = False,
          precision: str = "fp32", threads=None, engine: str = "auto"):
    """DeepDream ``image`` towards the plain mean of ``layer``, as the study did.

    ``n_renders`` calls of the TF tutorial's ``render_deepdream`` in sequence (each rebuilds the
    octave stack from the current float image), gradients from 512-px tiles of a randomly rolled
    image (offsets from ``np.random.RandomState(seed).randint(tile_size, size=2)`` per step), step
    ``g * step / (mean|g| + 1e-7)``; finally clipped to [0, 255] and cast to uint8.

    Args:
        model: :class:`helpers.nets.inception.InceptionV1` (its device is used unless ``device`` is given).
        layer: one of :data:`helpers.nets.layers.LAYERS`.
        image: uint8 (or float) array (H, W, 3), RGB in [0, 255].
        n_renders, iter_n, step, octave_n, octave_scale, tile_size: the algorithm's settings.
        seed: seed of the roll offsets. Same seed -> same bytes (same machine and device).
        device: torch device to compute on.
        return_info: also return a dict with ``objective_before``/``objective_after`` (mean layer
            output on the whole start / final uint8 image) and ``seconds``.
        callback: called as ``callback(render_index, float_image_tensor)`` after each render.
        fast, batch_tiles: see :class:`Dreamer`. ``fast=True`` agrees with the reference port
            (:func:`reference_dream`) to float32 rounding in every step; DeepDream amplifies
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
        engine: ``"auto"`` (default: the fused engine on a CPU), ``"fused"`` or ``"autograd"`` (:class:`Dreamer`).
            The fused engine's per-step gradient agrees with the autograd path's to float32 rounding
            (``tests/test_dream_fast.py``); like any rounding change, DeepDream amplifies it over renders.

    Returns:
        uint8 array (H, W, 3), or ``(image, info)`` with ``return_info`` (``precision`` and ``engine`` used among it).

    Used in: notebook 01 (p1-dream-octaves.png) through :func:`helpers.synthesis.dream.progress_snapshots`.
    """
    t0 = time.perf_counter()
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image: expected (H, W, 3) RGB, got shape {image.shape}")
    dreamer = Dreamer(model, layer, fast=fast, batch_tiles=batch_tiles, precision=precision, engine=engine)
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
            "seconds": time.perf_counter() - t0, "precision": dreamer.precision, "engine": dreamer.engine,
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

    Used in: notebook 01 (p1-dream-contact-sheet.png) through :func:`helpers.synthesis.dream_jobs.synthesize`.
    """
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
    """The low-pass octaves of ``image`` (H, W, 3) as uint8 images, largest first.

    Used in: notebook 01 (p1-dream-octaves.png) through :func:`helpers.synthesis.dream.progress_snapshots`.
    """
    img = torch.as_tensor(np.asarray(image, dtype=np.float32)).permute(2, 0, 1)
    out = [to_uint8(img)]
    for _ in range(octave_n - 1):
        img = resize_bilinear(img, np.int32(np.float32(img.shape[-2:]) / octave_scale))
        out.append(to_uint8(img))
    return out



def progress_snapshots(model, layer: str, image, *, snapshots=(1, 2, 5, 10, 25, 50), threads=None, **kwargs) -> dict:
    """One image across renders, and the octave stack of the result (drawn by :func:`helpers.figures.paper1.dream_progress`).

    Args:
        model, layer, image: as :func:`dream`.
        snapshots: renders after which the image is kept (those up to ``n_renders``).
        threads: torch CPU threads (as :func:`helpers.synthesis.dream_jobs.synthesize`).
        kwargs: the other settings of :func:`dream` (``n_renders``: default the largest snapshot).

    Returns:
        dict: ``layer``, ``start`` (the image), ``renders`` (``{render number: uint8 HxWx3}``, ascending) and
        ``octaves`` (:func:`octave_stack` of the final image, largest first).

    Used in: notebook 01 (p1-dream-octaves.png).
    """
    kept = {}
    n = kwargs.pop("n_renders", max(snapshots))
    with torch_threads(threads):
        final = dream(model, layer, image, n_renders=n,
                      callback=lambda r, im: kept.__setitem__(r + 1, to_uint8(im)) if r + 1 in snapshots else None, **kwargs)
    octs = octave_stack(final, octave_n=kwargs.get("octave_n", 5), octave_scale=kwargs.get("octave_scale", 1.4))
    return {"layer": layer, "start": np.asarray(image), "renders": {k: kept[k] for k in sorted(kept)}, "octaves": octs}


def reference_dream(model, layer: str, image, *, n_renders: int = 50, iter_n: int = 1, step: float = 2.0,
                     octave_n: int = 5, octave_scale: float = 1.4, tile_size: int = 512, seed: int = 0) -> np.ndarray:
    """Straightforward port of the published TF1 loop, kept as the honest baseline for tests and
    ``benchmarks/dream.py``: NumPy HWC image, ``np.roll``, one tile at a time, full-depth forward
    (every one of the 144 layers computed for every tile), float32, LRN as torch's own
    ``F.local_response_norm`` computes it (:func:`helpers.nets.inception.reference_ops`).

    Used in: no notebook; ``benchmarks/dream.py``, ``tests/test_dream.py``.
    """
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

    img = np.asarray(image, dtype=np.float32).copy()
    rng = np.random.RandomState(int(seed))
    with inception.reference_ops(model):  # LRN as torch's F.local_response_norm / torch-lucent compute it
        for _ in range(n_renders):
            img = render_deepdream(img, rng)
    return np.uint8(np.clip(img / 255, 0, 1) * 255)  # as Image_Generation.py saves it

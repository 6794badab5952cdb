"""Colour: the HSV statistics of Paper 1 and the colour-space conversion the image measures share.

=====================  ===================================================================
function               returns
=====================  ===================================================================
:func:`color_stats`    mean hue (arithmetic and circular), saturation, brightness (HSV)
:func:`rgb2hsv`        ``skimage.color.rgb2hsv``'s result, float64 HxWx3 (H, S, V in [0, 1])
=====================  ===================================================================

``skimage.color.rgb2hsv`` makes about a dozen full-image temporaries and boolean-mask
passes (about 0.19 s for an 800x800 image on one core). For uint8 input the same
formulas run here in one compiled pass, in skimage's order, so the result is equal bit
for bit (``tests/test_colorspace.py`` checks every grey, every tie of two channels and a
million random colours against skimage). Other dtypes go to skimage itself.
"""
from __future__ import annotations

import numpy as np

from helpers import io
from helpers.jit import compiled


def rgb2hsv(rgb: np.ndarray) -> np.ndarray:
    """HSV of an RGB image, exactly ``skimage.color.rgb2hsv(rgb)``.

    skimage's definition (version 0.26): the image is scaled to [0, 1] (uint8: times
    ``1/255``); V is the channel maximum, S = (max - min) / V (0 where max = min); H is
    ``(g - b) / delta``, ``2 + (b - r) / delta`` or ``4 + (r - g) / delta`` for a red,
    green or blue maximum (on ties the later channel wins), divided by 6, modulo 1, and 0
    where max = min.

    Args:
        rgb: HxWx3 array; uint8 takes the compiled path, anything else skimage's.

    Returns:
        float64 HxWx3 (float32 for float32 input, as skimage).

    Used in: notebooks 02, 05 (p2-biggan-features.parquet) and 08 through :func:`helpers.measures.table.table`.
    """
    rgb = np.asarray(rgb)
    if rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[-1] == 3:
        return _hsv_u8(np.ascontiguousarray(rgb))
    from skimage.color import rgb2hsv as _sk

    return _sk(rgb)


@compiled
def _hsv_u8(rgb):  # pragma: no cover - compiled
    """:func:`rgb2hsv` of uint8 HxWx3, one pass."""
    h, w, _ = rgb.shape
    out = np.empty((h, w, 3))
    scale = 1.0 / 255
    for i in range(h):
        for j in range(w):
            r = rgb[i, j, 0] * scale
            g = rgb[i, j, 1] * scale
            b = rgb[i, j, 2] * scale
            v = max(r, g, b)
            delta = v - min(r, g, b)
            if delta == 0.0:
                out[i, j, 0] = 0.0
                out[i, j, 1] = 0.0
            else:
                if b == v:
                    hue = 4.0 + (r - g) / delta
                elif g == v:
                    hue = 2.0 + (b - r) / delta
                else:
                    hue = (g - b) / delta
                out[i, j, 0] = (hue / 6.0) % 1.0
                out[i, j, 1] = delta / v
            out[i, j, 2] = v
    return out


def color_stats(image) -> dict:
    """Mean hue, saturation and brightness in HSV (``skimage.color.rgb2hsv``, bit for bit, via
    :func:`rgb2hsv`).

    Hue is an angle: 0 and 1 are both red. The arithmetic mean of hue values in [0, 1)
    (what image-statistics papers usually report, and what Paper 1 most likely used)
    therefore puts the mean of a half-magenta, half-orange image at cyan-green. The
    circular mean takes the direction of the mean unit vector
    ``mean(exp(2*pi*i*h))`` and maps it back to [0, 1); its length ``hue_concentration``
    (0 = hues spread evenly around the circle, 1 = one hue) says how meaningful it is.
    Both are unweighted over all pixels; achromatic pixels (saturation 0) have hue 0 in
    skimage and are included, as in a plain per-pixel mean.

    Args:
        image: uint8 HxWx3 RGB array or a path.

    Returns:
        dict with float ``hue`` (arithmetic mean, [0, 1)), ``hue_circular`` ([0, 1)),
        ``hue_concentration`` ([0, 1]), ``saturation`` ([0, 1]), ``brightness``
        (mean HSV value, [0, 1]).

    Used in: notebooks 02, 05 (p2-biggan-features.parquet) and 08 through :func:`helpers.measures.table.table`.
    """
    hsv = rgb2hsv(io.read_image(image))
    h = hsv[..., 0].ravel()
    z = np.exp(2j * np.pi * h).mean()
    circ = (np.angle(z) / (2 * np.pi)) % 1.0
    return {"hue": float(h.mean()), "hue_circular": float(circ), "hue_concentration": float(abs(z)),
            "saturation": float(hsv[..., 1].mean()), "brightness": float(hsv[..., 2].mean())}

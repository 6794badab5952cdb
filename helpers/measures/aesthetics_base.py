"""The input of the Aesthetics Toolbox measures: an RGB uint8 image and its derived versions, made once.

Derived images are made as the toolbox makes them: gray by Pillow's ``Image.convert("L")`` (ITU-R 601-2
luma, integer arithmetic, ``uint8``); CIELAB by ``skimage.color.rgb2lab`` (D65, L in [0, 100]); HSV as
``skimage.color.rgb2hsv`` (all three channels in [0, 1]; for uint8 images its formulas in one compiled
pass, equal bit for bit: :func:`helpers.measures.colour.rgb2hsv`).
"""
from __future__ import annotations

import functools

import numpy as np
from PIL import Image
from skimage.color import rgb2lab

from helpers.measures.colour import rgb2hsv

MIN_SIDE = 32  # px; smaller images are refused (several measures need a few octaves)


def check_rgb(img, name: str = "img") -> np.ndarray:
    """Return ``img`` as an RGB ``uint8`` array or raise a ``ValueError`` saying what was expected.

    Used in: notebook 02 through :func:`helpers.measures.table.table` (measure group ``"aesthetics"``).
    """
    if not isinstance(img, np.ndarray):
        raise ValueError(f"{name}: expected a numpy array (RGB uint8, HxWx3), got {type(img).__name__}")
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"{name}: expected an RGB image of shape (H, W, 3), got shape {img.shape}; "
                         "convert grayscale/RGBA/palette images to RGB first")
    if img.dtype != np.uint8:
        raise ValueError(f"{name}: expected dtype uint8 (0-255), got {img.dtype}; convert 16-bit or float images first")
    if min(img.shape[:2]) < MIN_SIDE:
        raise ValueError(f"{name}: image of {img.shape[1]}x{img.shape[0]} px is too small; both sides must be >= {MIN_SIDE} px")
    return img


class ToolboxImage:
    """One image and its derived versions (gray, CIELAB, HSV, as the toolbox makes them), each made once when first needed.

    Used in: notebook 02 through :func:`helpers.measures.table.table` (measure group ``"aesthetics"``).
    """

    def __init__(self, img):
        self.rgb = check_rgb(img)

    @functools.cached_property
    def gray(self) -> np.ndarray:
        return np.asarray(Image.fromarray(self.rgb).convert("L"))

    @functools.cached_property
    def lab(self) -> np.ndarray:
        return rgb2lab(self.rgb)

    @functools.cached_property
    def hsv(self) -> np.ndarray:
        # skimage's rgb2hsv, bit for bit, in one compiled pass
        return rgb2hsv(self.rgb)


def toolbox_image(img) -> ToolboxImage:
    """``img`` as a :class:`ToolboxImage` (itself when it already is one, so its derived images are shared).

    Used in: notebook 02 through :func:`helpers.measures.table.table` (measure group ``"aesthetics"``).
    """
    return img if isinstance(img, ToolboxImage) else ToolboxImage(img)


def entropy_bits(p: np.ndarray, axis=-1) -> np.ndarray:
    """Shannon entropy (bits) of histograms along ``axis`` (normalised first; 0 log 0 = 0).

    Used in: notebook 02 through :func:`helpers.measures.table.table` (measure group ``"aesthetics"``).
    """
    with np.errstate(divide="ignore", invalid="ignore"):  # empty histograms give NaN, dropped by the callers
        p = p / p.sum(axis=axis, keepdims=True)
        return -np.sum(np.where(p > 0, p * np.log2(np.where(p > 0, p, 1)), 0.0), axis=axis)

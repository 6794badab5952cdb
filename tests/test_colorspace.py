"""helpers.measures.colour: the compiled HSV conversion equals skimage's bit for bit."""
from __future__ import annotations

import numpy as np
import pytest
from skimage.color import rgb2hsv as skimage_rgb2hsv

from helpers.measures import colour


def _hard_colours():
    """Every grey, every colour where two channels tie (and the third varies), as an Nx1x3 image."""
    v = np.arange(256, dtype=np.uint8)
    a, b = (x.ravel() for x in np.meshgrid(v, v))
    ties = [np.stack([a, a, b], -1), np.stack([a, b, a], -1), np.stack([b, a, a], -1)]
    return np.concatenate(ties)[:, None, :]


@pytest.mark.parametrize("which", ["ties", "random"])
def test_rgb2hsv_equals_skimage_bit_for_bit(which):
    if which == "ties":
        img = _hard_colours()
    else:
        img = np.random.default_rng(0).integers(0, 256, size=(1000, 1000, 3), dtype=np.uint8)
    ours, theirs = colour.rgb2hsv(img), skimage_rgb2hsv(img)
    assert ours.dtype == theirs.dtype == np.float64
    np.testing.assert_array_equal(ours, theirs)


def test_rgb2hsv_other_dtypes_go_to_skimage():
    img = np.random.default_rng(1).random((7, 9, 3)).astype(np.float32)
    np.testing.assert_array_equal(colour.rgb2hsv(img), skimage_rgb2hsv(img))


def test_compiled_works_where_numba_has_no_cache_location():
    from helpers.jit import compiled

    ns: dict = {}  # a function whose source file does not exist: numba finds no cache locator
    exec(compile("def f(x):\n    return x + 1\n", "/nonexistent/folder/f.py", "exec"), ns)
    with pytest.warns(UserWarning, match="NUMBA_CACHE_DIR"):
        f = compiled(ns["f"])
    assert f(2) == 3

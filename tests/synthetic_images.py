"""Seeded synthetic test images shared by several test files (imported as a plain module)."""
from __future__ import annotations

import numpy as np


def objects(n, size=128, seed=0):
    """Mid-gray canvas with ``n`` random coloured rectangles (seeded), uint8 size x size x 3."""
    rng = np.random.default_rng(seed)
    img = np.full((size, size, 3), 128, np.uint8)
    for _ in range(n):
        y, x = rng.integers(0, size - 12, 2)
        h, w = rng.integers(6, 14, 2)
        img[y:y + h, x:x + w] = rng.integers(0, 256, 3)
    return img

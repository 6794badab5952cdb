"""numba compilation for the per-pixel loops of the image measures, cached where possible.

``@compiled`` is ``numba.njit(cache=True, nogil=True)``: each loop is compiled once per
machine and kept in ``__pycache__`` beside its module, or, where that folder is not
writable, in numba's per-user cache (``NUMBA_CACHE_DIR`` or the user's cache folder).
Where no cache location is writable at all (a read-only install with no home folder)
numba refuses ``cache=True`` outright; then the loop is compiled anew in each process (a
second or two, once) instead of failing the import.
"""
from __future__ import annotations

import warnings

from numba import njit


def compiled(fn):
    """``fn`` compiled by numba (no Python objects inside), released GIL, disk cache if possible.

    Used in: notebooks 02, 05 (p2-biggan-features.parquet) and 08 through :func:`helpers.measures.table.table`.
    """
    try:
        return njit(cache=True, nogil=True)(fn)
    except RuntimeError as exc:  # numba: "cannot cache function ...: no locator available ..."
        warnings.warn(f"numba cannot cache {fn.__qualname__} ({exc}); it is compiled in each process. "
                      "Set NUMBA_CACHE_DIR to a writable folder to keep the compiled code.", stacklevel=2)
        return njit(nogil=True)(fn)

"""Compressed size: how many bytes JPEG and PNG need for an image (Paper 1's "JPEG" complexity feature)."""
from __future__ import annotations

import io as _io

from PIL import Image

from helpers import io

def jpeg_size(image, *, quality: int = 75) -> int:
    """Size in bytes of ``image`` encoded as JPEG by PIL at ``quality`` (default 75).

    PIL's defaults otherwise: 4:2:0 chroma subsampling, baseline, no optimisation, no
    metadata. Larger files mean more fine detail the encoder cannot discard (a complexity
    proxy, Paper 1's "JPEG" feature).

    Args:
        image: uint8 HxWx3 RGB array or a path (the file is re-encoded, not measured).
        quality: JPEG quality 1-95.

    Used in: notebooks 02, 05 (p2-biggan-features.parquet) and 08 through :func:`helpers.measures.table.table`.
    """
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"jpeg_size: quality must be in 1..100, got {quality!r}")
    buf = _io.BytesIO()
    Image.fromarray(io.read_image(image)).save(buf, format="JPEG", quality=int(quality))
    return buf.tell()


def png_size(image, *, compress_level: int = 6) -> int:
    """Size in bytes of ``image`` encoded losslessly as PNG by PIL (zlib level ``compress_level``, 0-9).

    Used in: notebooks 02, 05 (p2-biggan-features.parquet) and 08 through :func:`helpers.measures.table.table`.
    """
    buf = _io.BytesIO()
    Image.fromarray(io.read_image(image)).save(buf, format="PNG", compress_level=int(compress_level))
    return buf.tell()

"""README's preview strip: a few saved figures of a profile, cropped into one small labelled picture.

Usage::

    python -m helpers.figures.readme preview --profile class   # writes figures/README-preview.png
"""
from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from helpers import io, paths

PREVIEW_PARTS = (  # (figure stem, crop box as fractions of width/height: left, top, right, bottom)
    ("p1-fig12-joint-density-cases", (0.0, 0.08, 1.0, 0.56)),  # the density row, above the images and legend
    ("p1-fig06-violins", (0.0, 0.12, 1.0, 1.0)),
)


def preview_strip(profile: str = "smoke", path=None, *, parts=PREVIEW_PARTS, height: int = 300, max_width: int = 1600,
                  note: str | None = None) -> Path:
    """Compose README's small preview picture from a profile's saved figures (one labelled strip).

    Args:
        profile: whose ``figures/<profile>/`` to read; anything but "class"/"paper" is
            labelled a stand-in preview.
        path: output PNG (default ``figures/README-preview.png`` beside the profile folders).
        parts: ``(figure stem, crop fractions)`` left to right.
        height: pixel height of each part in the strip (lowered to fit ``max_width``).
        max_width: pixel width of the whole strip at most.
        note: the red label (default says what made the strip).

    Returns:
        Path of the PNG (palette-quantised, well under 200 kB).

    Used in: no notebook; by :func:`helpers.figures.readme.main`; ``tests/test_plots.py``.
    """
    folder = paths.figures(profile, create=False)
    tiles = []
    for stem, (l, t, r, b) in parts:
        im = Image.open(folder / f"{stem}.png").convert("RGB")
        w, h = im.size
        im = im.crop((int(l * w), int(t * h), int(r * w), int(b * h)))
        tiles.append(im)
    gaps = 10 * (len(tiles) - 1)
    natural = sum(t.width * height / t.height for t in tiles)
    height = min(height, int(height * (max_width - gaps) / natural))
    tiles = [t.resize((max(1, round(t.width * height / t.height)), height), Image.LANCZOS) for t in tiles]
    banner = 26
    strip = Image.new("RGB", (sum(t.width for t in tiles) + 10 * (len(tiles) - 1), height + banner), "white")
    x = 0
    for t in tiles:
        strip.paste(t, (x, banner))
        x += t.width + 10
    note = note or (f"PREVIEW ({profile} profile)" if profile in ("class", "paper") else
                    f"STAND-IN PREVIEW ({profile} profile): random-initialised networks and simulated ratings, not results")
    draw = ImageDraw.Draw(strip)
    try:
        font = ImageFont.load_default(size=16)
    except TypeError:  # Pillow < 10.1
        font = ImageFont.load_default()
    draw.text((8, 4), note, fill=(192, 0, 0), font=font)
    target = Path(path) if path else paths.root() / "figures" / "README-preview.png"
    with io.atomic_path(target) as tmp:
        strip.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(tmp, format="PNG", optimize=True)
    return target


def main(argv=None) -> int:
    """``python -m helpers.figures.readme preview [--profile smoke]``: write the strip, print its path.

    Used in: the command line (``make preview``).
    """
    parser = argparse.ArgumentParser(prog="python -m helpers.figures.readme", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cmd", choices=["preview"])
    parser.add_argument("--profile", default="smoke")
    args = parser.parse_args(argv)
    print(preview_strip(args.profile))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

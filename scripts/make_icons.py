"""Draw the PWA icons (PNG) from icon.svg's design: a green tile with five cream bars.

Run from the repository root: python3 scripts/make_icons.py (needs Pillow). The PNGs
are committed; run this again only when the design changes.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

STATIC = Path(__file__).resolve().parents[1] / "src" / "parlor" / "web" / "static"
GREEN, CREAM = (0x2F, 0x7D, 0x57, 255), (0xF2, 0xEE, 0xE3, 255)
# (x, y_top, y_bottom) of each bar on the 512 grid of icon.svg; stroke 34, round caps.
BARS = [(176, 200, 312), (256, 150, 362), (336, 200, 312), (112, 236, 276), (400, 236, 276)]
SUPERSAMPLE = 4


def draw(size: int, maskable: bool) -> Image.Image:
    big = size * SUPERSAMPLE
    k = big / 512
    img = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    if maskable:
        # Full bleed: the launcher cuts its own shape. The bars already sit inside the
        # maskable safe zone (a circle of 40% of the size around the centre).
        d.rectangle((0, 0, big, big), fill=GREEN)
    else:
        d.rounded_rectangle((0, 0, big - 1, big - 1), radius=112 * k, fill=GREEN)
    half = 17 * k
    for x, top, bottom in BARS:
        d.rounded_rectangle((x * k - half, top * k - half, x * k + half, bottom * k + half), radius=half, fill=CREAM)
    return img.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    for name, size, maskable in (
        ("icon-192.png", 192, False),
        ("icon-512.png", 512, False),
        ("icon-maskable-512.png", 512, True),
    ):
        draw(size, maskable).save(STATIC / name, optimize=True)


if __name__ == "__main__":
    main()

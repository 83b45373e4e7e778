"""Cover art for categories: generated pictures for `flask seed demo`."""
from __future__ import annotations

import io
import zlib

from PIL import Image, ImageDraw, ImageFont

SIZE = (600, 800)  # 3:4, the shape category tiles show
PALETTES = [
    ((13, 148, 136), (99, 102, 241)), ((219, 39, 119), (245, 158, 11)), ((37, 99, 235), (6, 182, 212)),
    ((124, 58, 237), (236, 72, 153)), ((21, 128, 61), (132, 204, 22)), ((194, 65, 12), (234, 179, 8)),
    ((3, 105, 161), (139, 92, 246)), ((190, 18, 60), (124, 58, 237)),
]
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def cover_key(slug: str) -> str:
    return f"categories/{slug}/cover.jpg"


def _font(size: int):
    try:
        return ImageFont.truetype(FONT, size)
    except OSError:
        return ImageFont.load_default(size)


def render_cover(name: str, slug: str) -> bytes:
    """A 600x800 JPEG: a diagonal gradient, a few soft shapes and the category's name."""
    seed = zlib.crc32(slug.encode())
    (r1, g1, b1), (r2, g2, b2) = PALETTES[seed % len(PALETTES)]
    width, height = SIZE
    side = 1200
    gradient = Image.linear_gradient("L").resize((side, side)).rotate(35, resample=Image.Resampling.BICUBIC)
    gradient = gradient.crop(((side - width) // 2, (side - height) // 2, (side + width) // 2, (side + height) // 2))
    image = Image.composite(Image.new("RGB", SIZE, (r2, g2, b2)), Image.new("RGB", SIZE, (r1, g1, b1)), gradient)
    overlay = Image.new("RGBA", SIZE, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for i in range(5):
        x = (seed >> (i * 5)) % width
        y = (seed >> (i * 3 + 2)) % (height // 2)
        radius = 80 + (seed >> i) % 160
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=(255, 255, 255, 26 + 8 * i))
    for row in range(300):  # a shade under the name, fading in
        draw.line((0, height - 300 + row, width, height - 300 + row), fill=(0, 0, 0, row * 90 // 300))
    image = Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")
    text = ImageDraw.Draw(image)
    words, lines = name.split(), [""]
    font = _font(64)
    for word in words:
        candidate = f"{lines[-1]} {word}".strip()
        if text.textlength(candidate, font=font) > width - 80 and lines[-1]:
            lines.append(word)
        else:
            lines[-1] = candidate
    y = height - 60 - 72 * len(lines)
    for line in lines:
        text.text((40, y), line, font=font, fill=(255, 255, 255))
        y += 72
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue()

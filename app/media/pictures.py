"""Uploaded pictures made safe: checked, decoded once, cropped and re-encoded without metadata."""
from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}
# A small file can still claim a huge canvas; refuse before decoding anything that big.
MAX_SOURCE_PIXELS = 40_000_000


class PictureError(ValueError):
    """Why an upload was refused, in words the uploader can act on."""


def open_upload(data: bytes, max_bytes: int) -> Image.Image:
    """The upload decoded, upright and flattened to RGB, or PictureError saying what is wrong."""
    if not data:
        raise PictureError("That file is empty. Choose a picture to upload.")
    if len(data) > max_bytes:
        raise PictureError(f"That file is larger than {max_bytes // (1024 * 1024)} MB. Pick a smaller picture.")
    too_large = "That picture is too large. Use one under 40 megapixels."
    with warnings.catch_warnings():
        # Pillow only warns about a picture that claims a huge canvas; refuse it instead.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            source = Image.open(io.BytesIO(data))
        except UnidentifiedImageError:
            raise PictureError("That file isn't a picture we can read. Upload a JPEG, PNG, WebP or GIF.") from None
        except (Image.DecompressionBombWarning, Image.DecompressionBombError):
            raise PictureError(too_large) from None
        if source.format not in ACCEPTED_FORMATS:
            raise PictureError("Upload a JPEG, PNG, WebP or GIF picture.")
        if source.width * source.height > MAX_SOURCE_PIXELS:
            raise PictureError(too_large)
        try:
            source.load()
            source = ImageOps.exif_transpose(source)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning):
            raise PictureError("That picture looks damaged. Try exporting it again.") from None

    if source.mode in ("RGBA", "LA") or (source.mode == "P" and "transparency" in source.info):
        rgba = source.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (0, 0, 0))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        source = flat
    return source.convert("RGB")


def clean_jpeg(source: Image.Image, size: tuple[int, int], quality: int = 85) -> bytes:
    """`source` cover-cropped to `size` as a JPEG that carries no EXIF, ICC, XMP or comments."""
    fitted = ImageOps.fit(source, size, Image.Resampling.LANCZOS)
    clean = Image.new("RGB", size)  # a fresh image has an empty info dict
    clean.paste(fitted)
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=quality, optimize=True, progressive=True)
    return out.getvalue()

"""Uploaded pictures made safe: checked, decoded once, cropped and re-encoded without metadata,
the heavy part on a native thread so a web process's event loop keeps serving meanwhile."""
from __future__ import annotations

import io
import os
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    from gevent.threadpool import ThreadPool

from PIL import Image, ImageOps, UnidentifiedImageError

T = TypeVar("T")

ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}
ACCEPT_ATTRIBUTE = "image/jpeg,image/png,image/webp,image/gif"
MIB = 1024 * 1024
# A small file can still claim a huge canvas: refuse, before decoding, anything past these.
# Decoded whole, 40 MP is 160 MB of RGBA. JPEGs (phone photos: 12 MP, 48 MP, 50 MP) are decoded
# at a reduced scale close to the largest variant we keep (Image.draft), which costs a fraction.
MAX_SOURCE_PIXELS = 40_000_000
MAX_JPEG_PIXELS = 64_000_000
# Pictures decoded at once per process: each may take a core and a few hundred MB, and the event
# loop needs a core of its own to keep serving. More uploads wait their turn.
DECODERS = max(1, min(4, (os.cpu_count() or 2) // 2))
ORIENTATION = 0x0112  # the EXIF tag


class PictureError(ValueError):
    """Why an upload was refused, in words the uploader can act on."""


def max_bytes(config: Mapping[str, Any]) -> int:
    """The largest picture file this site accepts (PICTURE_MAX_MB)."""
    return int(config["PICTURE_MAX_MB"]) * MIB


def too_large_message(limit_bytes: int) -> str:
    return f"That file is larger than {limit_bytes // MIB} MB. Pick a smaller picture."


def form_help(limit_bytes: int) -> str:
    """What every picture form says about what it takes."""
    return f"JPEG, PNG, WebP or GIF, up to {limit_bytes // MIB} MB."


def _identify(data: bytes, limit_bytes: int) -> Image.Image:
    """The upload opened (its header read, nothing decoded yet), or PictureError."""
    if not data:
        raise PictureError("That file is empty. Choose a picture to upload.")
    if len(data) > limit_bytes:
        raise PictureError(too_large_message(limit_bytes))
    # Only the header is read here, in the caller's thread: catch_warnings changes process-wide
    # state, which a native decoder thread must not touch.
    with warnings.catch_warnings():
        # Pillow only warns about a picture that claims a huge canvas; refuse it instead.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            source = Image.open(io.BytesIO(data))
        except UnidentifiedImageError:
            raise PictureError("That file isn't a picture we can read. Upload a JPEG, PNG, WebP or GIF.") from None
        except (Image.DecompressionBombWarning, Image.DecompressionBombError):
            raise PictureError(_too_many_pixels(MAX_SOURCE_PIXELS)) from None
    if source.format not in ACCEPTED_FORMATS:
        raise PictureError("Upload a JPEG, PNG, WebP or GIF picture.")
    limit = MAX_JPEG_PIXELS if source.format == "JPEG" else MAX_SOURCE_PIXELS
    if source.width * source.height > limit:
        raise PictureError(_too_many_pixels(limit))
    return source


def _too_many_pixels(limit: int) -> str:
    return f"That picture is too large. Use one under {limit // 1_000_000} megapixels."


def _decode(source: Image.Image, largest: tuple[int, int] | None) -> Image.Image:
    """Decode an identified upload: upright (EXIF orientation), flattened to RGB.
    `largest` (width, height) is the most any variant needs of it."""
    try:
        if largest is not None and source.format == "JPEG":
            # Decode at 1/2, 1/4 or 1/8 scale while that still covers the largest variant, so
            # nothing we keep loses detail. The pixels are stored before the EXIF turn.
            if source.getexif().get(ORIENTATION) in (5, 6, 7, 8):
                largest = (largest[1], largest[0])
            source.draft("RGB", largest)
        source.load()
        source = ImageOps.exif_transpose(source)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
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


def _encode(source: Image.Image, sizes: Sequence[tuple[int, int]]) -> list[bytes]:
    upright = _decode(source, (max(w for w, _ in sizes), max(h for _, h in sizes)))
    return [clean_jpeg(upright, size) for size in sizes]


def clean_variants(data: bytes, limit_bytes: int, sizes: Sequence[tuple[int, int]]) -> list[bytes]:
    """One clean JPEG per size (cover-cropped) from an upload, or PictureError.

    The decoding and encoding run off the event loop (`off_loop`): a 40 MP PNG takes a core
    for half a second or more, which on the loop would stall every request of the process."""
    source = _identify(data, limit_bytes)
    return off_loop(_encode, source, sizes)


_pool = None
_pool_pid = 0
_pool_lock = threading.Lock()


def _native_pool() -> ThreadPool:
    """gevent's pool of real OS threads (DECODERS of them), one per process (made after a fork)."""
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            from gevent.threadpool import ThreadPool

            _pool, _pool_pid = ThreadPool(DECODERS), os.getpid()
        return _pool


def _on_gevent_loop() -> bool:
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a dependency of the web process
        return False
    return monkey.is_module_patched("threading")


def off_loop(work: Callable[..., T], *args: object) -> T:
    """`work(*args)` on a native thread when this process runs gevent's event loop (the web's
    gunicorn worker): Pillow lets go of the GIL while it decodes, resizes and encodes, so the
    loop serves other requests meanwhile, and this greenlet waits without blocking it. At most
    DECODERS run at once; more wait their turn. Elsewhere (jobs, tests, the threaded development
    server) the caller already has a thread of its own: `work` runs right here."""
    if not _on_gevent_loop():
        return work(*args)
    done, result = _native_pool().apply(_captured, (work, args))
    if not done:
        raise cast(Exception, result)
    return cast(T, result)


def _captured(work: Callable[..., object], args: tuple[object, ...]) -> tuple[bool, object]:
    # Raised in the caller, not in the pool: gevent prints a task's exception as a crash, and a
    # refused picture (PictureError) is an ordinary answer.
    try:
        return True, work(*args)
    except Exception as error:  # noqa: BLE001 - handed over as it is
        return False, error

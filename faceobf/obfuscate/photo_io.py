"""Reading any photo safely and writing obfuscated photos without metadata, atomically.

`read_photo` applies the EXIF orientation (so faces are upright for the detector) and converts
grayscale, palette, RGBA and 16-bit images to 8-bit RGB; a file that is not an image, or a
truncated one, raises `ImageReadError` naming the file, and one whose header claims more than
`MAX_PIXELS` (a decompression bomb, or a photo too large to process) raises `ImageTooLargeError`
before any pixel is decoded. `write_photo` builds the output from pixels
only, so no EXIF (GPS included), XMP, ICC profile or comment of the input can reach it; it writes
through a temporary file and a rename, and refuses to write over any input.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from faceobf.errors import UsageError
from faceobf.data.images import ImageReadError
from faceobf.io import atomic_path, public_mode

MAX_PIXELS = 120_000_000  # about 11,000 x 11,000: far above any camera photo, far below a decompression bomb


class ImageTooLargeError(ImageReadError):
    """A photo whose pixel count exceeds `MAX_PIXELS` (refused before decoding)."""


FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".jpe": "JPEG", ".jfif": "JPEG", ".png": "PNG", ".webp": "WEBP", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF"}


def _to_rgb8(im: Image.Image) -> np.ndarray:
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(im, dtype=np.float64)
        top = 65535.0 if a.max() > 255 else 255.0
        gray = np.clip(a / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.stack([gray] * 3, axis=-1)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA").convert("RGB")  # drop alpha: the outputs are opaque photos
    return np.asarray(im.convert("RGB"), dtype=np.uint8)


def read_photo(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """An upright uint8 (H, W, 3) RGB array of the photo at `path`; `ImageReadError` naming it otherwise."""
    try:
        with Image.open(path) as im:
            if im.width * im.height > max_pixels:
                raise ImageTooLargeError(f"{path}: {im.width}x{im.height} is {im.width * im.height / 1e6:.0f} megapixels, "
                                         f"more than the {max_pixels / 1e6:.0f} this tool decodes (decompression-bomb guard)")
            im.load()
            return _to_rgb8(ImageOps.exif_transpose(im))
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"{path}: {exc}") from exc
    except ImageReadError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        reason = "not an image" if isinstance(exc, UnidentifiedImageError) else str(exc)
        raise ImageReadError(f"{path}: cannot read photo ({reason})") from exc


def refuse_overwriting_input(target: str | os.PathLike, inputs: Iterable[str | os.PathLike]) -> None:
    """Refuse (UsageError) a `target` that is one of `inputs`: an input is never overwritten, photo or clip."""
    resolved = Path(target).resolve()
    if any(Path(src).resolve() == resolved for src in inputs):
        raise UsageError(f"{target}: refusing to overwrite an input file")


def write_photo(image: np.ndarray, target: str | os.PathLike, inputs: Iterable[str | os.PathLike] = (), quality: int = 95,
                before_rename: Callable[[], None] | None = None) -> Path:
    """Write uint8 RGB `image` to `target` (format from its suffix) with no metadata, atomically, with the mode the
    umask gives new files; `before_rename` runs once the file is complete, before it takes `target`'s name (the batch
    tool records the photo there, so an output never exists without its record).

    Refuses (ValueError) when `target` is one of `inputs`: an input is never overwritten.
    """
    target = Path(target)
    fmt = FORMATS.get(target.suffix.lower())
    if fmt is None:
        raise UsageError(f"{target}: unsupported output format {target.suffix!r}; use one of {', '.join(sorted(FORMATS))}")
    refuse_overwriting_input(target, inputs)
    pixels = Image.fromarray(np.ascontiguousarray(np.asarray(image, dtype=np.uint8)))
    options = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    with atomic_path(target, suffix=target.suffix) as tmp:
        pixels.save(tmp, format=fmt, **options)
        public_mode(tmp)  # a temporary file is private (0600); the photo is as any new file would be
        if before_rename is not None:
            before_rename()
    return target

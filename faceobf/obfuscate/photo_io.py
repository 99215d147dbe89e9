"""Reading any photo safely and writing obfuscated photos without metadata, atomically.

`read_photo` applies the EXIF orientation (so faces are upright for the detector) and converts
grayscale, palette, RGBA and 16-bit images to the 8-bit RGB the models see; a file that is not an
image, or a truncated one, raises `ImageReadError` naming the file, and one whose header claims more
than `MAX_PIXELS` (a decompression bomb, or a photo too large to process) raises `ImageTooLargeError`
before any pixel is decoded. `read_photo_format` also keeps what the output can give back
(`PhotoFormat`): the alpha channel, greyscale, and 16-bit depth where the output format holds them, and
names what it cannot (a palette, CMYK, the ICC profile). `write_photo` builds the output from pixels
only, so no EXIF (GPS included), XMP, ICC profile or comment of the input can reach it; it writes
through a temporary file and a rename, and refuses to write over any input.
"""

from __future__ import annotations

import os
from pathlib import Path
from dataclasses import dataclass
from typing import Callable, Iterable

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from faceobf.errors import UsageError
from faceobf.data.images import ImageReadError
from faceobf.io import atomic_path, public_mode

MAX_PIXELS = 120_000_000  # about 11,000 x 11,000: far above any camera photo, far below a decompression bomb


class ImageTooLargeError(ImageReadError):
    """A photo whose pixel count exceeds `MAX_PIXELS` (refused before decoding)."""


FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".jpe": "JPEG", ".jfif": "JPEG", ".png": "PNG", ".webp": "WEBP", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF"}


KEEPS_ALPHA = ("PNG", "TIFF", "WEBP")  # the output formats that hold an alpha channel, greyscale, 16-bit greyscale
KEEPS_GREY = ("PNG", "TIFF", "JPEG", "BMP")
KEEPS_16_BIT = ("PNG", "TIFF")


@dataclass(frozen=True)
class PhotoFormat:
    """What of a photo's pixel format its output keeps (the models see 8-bit RGB): its alpha channel, greyscale, 16-bit
    greyscale (outside the faces the output keeps the input's 16-bit values), and the changes it cannot avoid."""

    alpha: np.ndarray | None = None  # (H, W) uint8, upright
    grey: bool = False
    deep: np.ndarray | None = None  # (H, W) uint16 greyscale pixels of a 16-bit photo, upright
    seen: np.ndarray | None = None  # for a 16-bit photo: the 8-bit RGB the models saw, to find what they changed
    changes: tuple[str, ...] = ()  # what the output does not keep, in words (the report's `format_changes`)

    def for_output(self, fmt: str) -> "PhotoFormat":
        """This format as an output of `fmt` (a PIL format name) can hold it, what it cannot added to `changes`."""
        changes, alpha, grey, deep = list(self.changes), self.alpha, self.grey, self.deep
        if alpha is not None and fmt not in KEEPS_ALPHA:
            alpha, changes = None, changes + [f"transparency dropped ({fmt} has none)"]
        if deep is not None and fmt not in KEEPS_16_BIT:
            deep, changes = None, changes + [f"16-bit depth reduced to 8 bits ({fmt} holds 8)"]
        if grey and fmt not in KEEPS_GREY:
            grey, changes = False, changes + [f"greyscale stored as RGB ({fmt})"]
        return PhotoFormat(alpha, grey, deep, self.seen, tuple(changes))


def _format_of(im: Image.Image) -> PhotoFormat:
    """What an opened (upright) photo's output can give back, and the changes it cannot avoid."""
    changes = ["ICC colour profile removed (metadata)"] if im.info.get("icc_profile") else []
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        deep = np.asarray(im, dtype=np.float64)
        deep = deep if deep.max() > 255 else deep * 257.0  # a 16-bit file holding 8-bit values: scale to 16 bits
        return PhotoFormat(grey=True, deep=np.clip(deep, 0, 65535).astype(np.uint16), changes=tuple(changes))
    alpha = None
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        alpha = np.asarray(im.convert("RGBA"), dtype=np.uint8)[..., 3].copy()
    if im.mode in ("P", "PA"):
        changes.append("palette colours stored as full colour")
    elif im.mode == "CMYK":
        changes.append("CMYK stored as RGB")
    return PhotoFormat(alpha=alpha, grey=im.mode in ("L", "LA", "1"), changes=tuple(changes))


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
    return read_photo_format(path, max_pixels)[0]


def read_photo_format(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> tuple[np.ndarray, PhotoFormat]:
    """(`read_photo`'s upright 8-bit RGB pixels, what of the photo's format its output can keep)."""
    try:
        with Image.open(path) as im:
            if im.width * im.height > max_pixels:
                raise ImageTooLargeError(f"{path}: {im.width}x{im.height} is {im.width * im.height / 1e6:.0f} megapixels, "
                                         f"more than the {max_pixels / 1e6:.0f} this tool decodes (decompression-bomb guard)")
            im.load()
            upright = ImageOps.exif_transpose(im)
            upright.info.setdefault("icc_profile", im.info.get("icc_profile"))
            pixels, fmt = _to_rgb8(upright), _format_of(upright)
            return pixels, (PhotoFormat(fmt.alpha, fmt.grey, fmt.deep, pixels, fmt.changes) if fmt.deep is not None else fmt)
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"{path}: {exc}") from exc
    except ImageReadError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        reason = "not an image" if isinstance(exc, UnidentifiedImageError) else str(exc)
        raise ImageReadError(f"{path}: cannot read photo ({reason})") from exc


def _restore(image: np.ndarray, like: PhotoFormat) -> Image.Image:
    """The output image: `image` (8-bit RGB) with `like`'s alpha, greyscale and 16-bit depth given back. A 16-bit
    photo keeps its own values wherever the models changed nothing (grown by 2 px, so no pixel of a changed face
    keeps its low bits), and the changed pixels' 8-bit values scaled to 16 bits."""
    if like.deep is not None:
        grey = np.asarray(Image.fromarray(image).convert("L"), dtype=np.uint16) * 257
        changed = np.any(image != like.seen, axis=-1).astype(np.uint8) if like.seen is not None else np.ones(grey.shape, np.uint8)
        changed = cv2.dilate(changed, np.ones((5, 5), np.uint8)).astype(bool)
        return Image.fromarray(np.where(changed, grey, like.deep).astype(np.uint16))
    out = Image.fromarray(image)
    if like.grey:
        out = out.convert("L")
    if like.alpha is not None:
        out.putalpha(Image.fromarray(like.alpha))
    return out


def refuse_overwriting_input(target: str | os.PathLike, inputs: Iterable[str | os.PathLike]) -> None:
    """Refuse (UsageError) a `target` that is one of `inputs`: an input is never overwritten, photo or clip."""
    resolved = Path(target).resolve()
    if any(Path(src).resolve() == resolved for src in inputs):
        raise UsageError(f"{target}: refusing to overwrite an input file")


def write_photo(image: np.ndarray, target: str | os.PathLike, inputs: Iterable[str | os.PathLike] = (), quality: int = 95,
                before_rename: Callable[[], None] | None = None, like: PhotoFormat | None = None) -> Path:
    """Write uint8 RGB `image` to `target` (format from its suffix) with no metadata, atomically, with the mode the
    umask gives new files; `before_rename` runs once the file is complete, before it takes `target`'s name (the batch
    tool records the photo there, so an output never exists without its record). With `like` (the input's format,
    `PhotoFormat.for_output` of the target's), its alpha, greyscale and 16-bit depth are given back.

    Refuses (ValueError) when `target` is one of `inputs`: an input is never overwritten.
    """
    target = Path(target)
    fmt = FORMATS.get(target.suffix.lower())
    if fmt is None:
        raise UsageError(f"{target}: unsupported output format {target.suffix!r}; use one of {', '.join(sorted(FORMATS))}")
    refuse_overwriting_input(target, inputs)
    pixels = np.ascontiguousarray(np.asarray(image, dtype=np.uint8))
    pixels = Image.fromarray(pixels) if like is None else _restore(pixels, like.for_output(fmt))
    options = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    with atomic_path(target, suffix=target.suffix) as tmp:
        pixels.save(tmp, format=fmt, **options)
        public_mode(tmp)  # a temporary file is private (0600); the photo is as any new file would be
        if before_rename is not None:
            before_rename()
    return target

"""Decode CelebA images and cut the documented face crop.

The aligned CelebA images are 178x218 (w x h) with the eyes near row 111 and the mouth near row 152.
`FACE_CROP` is the square that holds the whole face, from the top of the forehead to below the chin:
the full width (178 px) and rows 30..207. Every stage works on this crop, resized to the profile's
resolution with area interpolation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from faceobf.errors import FaceobfError


class ImageReadError(FaceobfError, ValueError):
    """An image file that cannot be decoded; the message names the file."""


@dataclass(frozen=True)
class CropBox:
    """A square crop: `size` pixels from (top, left) of the aligned image."""

    top: int
    left: int
    size: int

    @property
    def key(self) -> str:
        return f"t{self.top}l{self.left}s{self.size}"


FACE_CROP = CropBox(top=30, left=0, size=178)
ALIGNED_SHAPE = (218, 178)  # (height, width) of img_align_celeba


def read_rgb(path: str | Path) -> np.ndarray:
    """Decode an image file to a uint8 (H, W, 3) RGB array; `ImageReadError` naming the file otherwise."""
    try:
        with Image.open(path) as im:
            im.load()
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ImageReadError(f"{path}: cannot decode image ({exc})") from exc


def crop_and_resize(image: np.ndarray, crop: CropBox, resolution: int) -> np.ndarray:
    """Cut `crop` out of an aligned image and resize it to (resolution, resolution); pads if the image is small."""
    h, w = image.shape[:2]
    if crop.top + crop.size > h or crop.left + crop.size > w:
        pad_h = max(0, crop.top + crop.size - h)
        pad_w = max(0, crop.left + crop.size - w)
        image = np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    square = image[crop.top : crop.top + crop.size, crop.left : crop.left + crop.size]
    if crop.size == resolution:
        return np.ascontiguousarray(square)
    interp = cv2.INTER_AREA if resolution < crop.size else cv2.INTER_LINEAR
    return cv2.resize(square, (resolution, resolution), interpolation=interp)


def aligned_to_crop(points: np.ndarray, crop: CropBox, resolution: int) -> np.ndarray:
    """Map (x, y) points of the aligned image into the coordinates of the resized crop."""
    scale = resolution / crop.size
    return (np.asarray(points, dtype=np.float32) - np.array([crop.left, crop.top], np.float32)) * scale


def resize_images(images: np.ndarray, resolution: int) -> np.ndarray:
    """A batch of uint8 (N, H, W, 3) images resized to (N, resolution, resolution, 3) with area interpolation."""
    return np.stack([cv2.resize(np.asarray(im), (resolution, resolution), interpolation=cv2.INTER_AREA) for im in images])

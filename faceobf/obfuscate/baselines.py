"""The classic obfuscation baselines, applied inside a face mask: Gaussian blur, pixelation, black-out.

Pure functions on uint8 or float (H, W, 3) images; every pixel outside the mask is returned as is.
"""

from __future__ import annotations

import cv2
import numpy as np


def _inside(image: np.ndarray, mask: np.ndarray, replaced: np.ndarray) -> np.ndarray:
    if mask.shape != image.shape[:2]:
        raise ValueError(f"mask of shape {mask.shape} does not match image of shape {image.shape[:2]}")
    return np.where(mask[..., None] > 0, replaced.astype(image.dtype), image)


def blur_face(image: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with standard deviation `sigma` pixels inside the mask (kernel 6 sigma + 1)."""
    if sigma <= 0:
        raise ValueError(f"blur sigma must be positive, got {sigma}")
    k = int(2 * np.ceil(3 * sigma) + 1)
    return _inside(image, mask, cv2.GaussianBlur(image, (k, k), sigma))


def pixelate_face(image: np.ndarray, mask: np.ndarray, block: int) -> np.ndarray:
    """Blocks of `block` x `block` pixels, each its mean colour (area down-sampling), inside the mask."""
    if block < 2:
        raise ValueError(f"pixelation block must be at least 2 pixels, got {block}")
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(1, round(w / block)), max(1, round(h / block))), interpolation=cv2.INTER_AREA)
    return _inside(image, mask, cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST))


def blackout_face(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Black inside the mask."""
    return _inside(image, mask, np.zeros_like(image))

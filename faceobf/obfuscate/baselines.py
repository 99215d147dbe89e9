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


EXACT_BLUR_SIGMA = 8.0  # wider blurs run on a shrunk copy: a 6-sigma kernel at every pixel of a 16 MP photo costs seconds


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with standard deviation `sigma` pixels (kernel 6 sigma + 1). Above `EXACT_BLUR_SIGMA` the image
    is shrunk by a whole factor of sigma / 4 (area averaging, itself a blur), blurred by the rest and enlarged
    again (linear): within a few grey levels of the exact blur, at least as smooth, and its cost independent
    of sigma."""
    if sigma <= 0:
        raise ValueError(f"blur sigma must be positive, got {sigma}")
    if sigma <= EXACT_BLUR_SIGMA:
        k = int(2 * np.ceil(3 * sigma) + 1)
        return cv2.GaussianBlur(image, (k, k), sigma)
    factor = int(sigma // 4)
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(1, round(w / factor)), max(1, round(h / factor))), interpolation=cv2.INTER_AREA)
    rest = sigma / factor
    k = int(2 * np.ceil(3 * rest) + 1)
    return cv2.resize(cv2.GaussianBlur(small, (k, k), rest), (w, h), interpolation=cv2.INTER_LINEAR)


def blur_face(image: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with standard deviation `sigma` pixels inside the mask (`gaussian_blur`)."""
    return _inside(image, mask, gaussian_blur(image, sigma))


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

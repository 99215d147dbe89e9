"""Paste a redrawn face back so that it matches the photo around it: its colour and its grain.

A redraw is drawn at 64 or 128 px and resampled to the face's size in the photo, so it is cleaner and
softer than the photo: no sensor noise, no JPEG grain, and often a slightly different mean colour. Both
show where a face was replaced. Here the colour is matched by shifting the redraw's mean, per channel, to
the photo's in the feathered band at the edge of the face region, and the grain by adding Gaussian noise
of the strength measured in a ring around the face (a robust estimate from the median absolute
deviation of the photo's high-pass residual, which flat skin, wall or sky dominate and edges do not).
Poisson blending (OpenCV's `NORMAL_CLONE`) is an option; nothing here takes detail from the original face
(`MIXED_CLONE` would), only a mean colour and a noise level.
"""

from __future__ import annotations

import cv2
import numpy as np

PASTES = ("plain", "match", "poisson")  # feathered alpha only; + colour and grain matched; Poisson + grain
_HIGH_PASS_SIGMA = 1.0


def _unit_noise_residual() -> float:
    """How much of white noise's standard deviation the high-pass residual keeps (measured once on a large sample)."""
    noise = np.random.default_rng(0).normal(0.0, 1.0, (512, 512)).astype(np.float32)
    return float((noise - cv2.GaussianBlur(noise, (0, 0), _HIGH_PASS_SIGMA)).std())


RESIDUAL_OF_UNIT_NOISE = _unit_noise_residual()


def ring(region: np.ndarray, width: int) -> np.ndarray:
    """The band of `width` pixels just outside a 0/1 region (where the photo, not the face, is)."""
    width = max(1, int(width))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1, 2 * width + 1))
    grown = cv2.dilate((np.asarray(region) > 0).astype(np.uint8), kernel)
    return (grown > 0) & ~(np.asarray(region) > 0)


def grain_sigma(window: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Per channel, the standard deviation of white noise that explains the photo's fine grain at `where` (a robust
    estimate: 1.4826 x the median absolute deviation of the high-pass residual, over the residual of unit noise)."""
    image = np.asarray(window, np.float32)
    residual = image - cv2.GaussianBlur(image, (0, 0), _HIGH_PASS_SIGMA)
    values = residual[np.asarray(where, bool)]
    if values.shape[0] < 16:
        return np.zeros(image.shape[-1], np.float32)
    mad = np.median(np.abs(values - np.median(values, axis=0)), axis=0)
    return (1.4826 * mad / RESIDUAL_OF_UNIT_NOISE).astype(np.float32)


def match_photo(redraw: np.ndarray, window: np.ndarray, region: np.ndarray, alpha: np.ndarray, face_size: float,
                rng: np.random.Generator, poisson: bool = False) -> np.ndarray:
    """The redraw (float, photo scale, 0-255) with the photo's mean colour at the region's edge and the grain of the
    ring around it; with `poisson`, Poisson-blended into `window` instead of colour-shifted (the caller alpha-blends
    the result either way, so nothing outside the region changes)."""
    redraw = np.asarray(redraw, np.float32)
    window = np.asarray(window, np.float32)
    inside = np.asarray(region) > 0
    if not inside.any():
        return redraw
    if poisson:
        ys, xs = np.nonzero(inside)
        centre = (int((xs.min() + xs.max() + 1) // 2), int((ys.min() + ys.max() + 1) // 2))
        mask = (inside * 255).astype(np.uint8)
        mask[[0, -1], :] = 0  # seamlessClone needs the region off the window's border
        mask[:, [0, -1]] = 0
        if mask.any():
            cloned = cv2.seamlessClone(np.clip(redraw, 0, 255).astype(np.uint8), np.clip(window, 0, 255).astype(np.uint8),
                                       mask.copy(), centre, cv2.NORMAL_CLONE)  # OpenCV writes into the mask it is given
            redraw = np.where(mask[..., None] > 0, cloned.astype(np.float32), redraw)
    else:
        a = np.asarray(alpha, np.float32).reshape(inside.shape)
        band = (a > 0.05) & (a < 0.95) if ((a > 0.05) & (a < 0.95)).sum() >= 16 else inside
        redraw = redraw + (window[band].mean(axis=0) - redraw[band].mean(axis=0))
    sigma = grain_sigma(window, ring(inside, max(3, round(face_size / 10))))
    if np.any(sigma > 0):
        redraw = redraw + rng.normal(0.0, 1.0, redraw.shape).astype(np.float32) * sigma
    return np.clip(redraw, 0.0, 255.0)

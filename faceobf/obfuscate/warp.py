"""The warp-only control: a face's own pixels moved as its landmarks move, with no network redrawing it.

Chapter 4 sets it beside the U-Net rows so that what the geometry does and what the redraw does can be
told apart: the landmark mapping moves the 68 points as the seed's flips would, and the original face
is warped after them by a thin-plate spline (backward mapped: every output pixel looks up where it
came from), with points on the image border pinned so the frame stays put.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.interpolate import RBFInterpolator

BORDER_ANCHORS = 8  # pinned points per image side


def _border(h: int, w: int, n: int = BORDER_ANCHORS) -> np.ndarray:
    xs, ys = np.linspace(0, w - 1, n), np.linspace(0, h - 1, n)
    return np.concatenate([np.stack([xs, np.zeros(n)], 1), np.stack([xs, np.full(n, h - 1)], 1),
                           np.stack([np.zeros(n), ys], 1), np.stack([np.full(n, w - 1), ys], 1)])


def warp_to_landmarks(image: np.ndarray, landmarks: np.ndarray, moved: np.ndarray) -> np.ndarray:
    """`image` (H, W, C) warped so that the content at `landmarks` (n, 2; x, y pixels) lands on `moved`; same dtype."""
    h, w = image.shape[:2]
    landmarks, moved = np.asarray(landmarks, np.float64), np.asarray(moved, np.float64)
    if landmarks.shape != moved.shape:
        raise ValueError(f"landmarks {landmarks.shape} and moved {moved.shape} differ in shape")
    anchors = _border(h, w)
    targets = np.concatenate([moved, anchors])
    offsets = np.concatenate([landmarks - moved, np.zeros_like(anchors)])
    spline = RBFInterpolator(targets, offsets, kernel="thin_plate_spline", smoothing=1e-6)
    ys, xs = np.mgrid[0:h, 0:w]
    grid = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float64)
    source = grid + spline(grid)
    map_x = source[:, 0].reshape(h, w).astype(np.float32)
    map_y = source[:, 1].reshape(h, w).astype(np.float32)
    return cv2.remap(image, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)

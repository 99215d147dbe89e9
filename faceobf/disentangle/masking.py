"""Stage 1, context factor: black out the face with an ellipse fitted to the landmarks (OpenCV).

The ellipse is fitted (`cv2.fitEllipse`) to the jaw line, the cheeks and a forehead line (the brows
lifted by a third of the eye-to-chin distance), then grown until every one of the 68 landmarks lies
inside with a relative `margin`. What remains outside is the context: hair, ears, neck, background.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from faceobf.disentangle.landmarks import BROWS, EYES, JAW


@dataclass(frozen=True)
class Ellipse:
    """An OpenCV rotated rectangle: centre (x, y), full axes (width, height) and angle in degrees."""

    center: tuple[float, float]
    axes: tuple[float, float]
    angle: float

    def as_cv2(self) -> tuple:
        return (self.center, self.axes, self.angle)

    def normalized_radius(self, points: np.ndarray) -> np.ndarray:
        """For each (x, y) point: <1 inside the ellipse, 1 on it, >1 outside."""
        theta = np.deg2rad(self.angle)
        d = np.asarray(points, np.float64) - np.asarray(self.center)
        u = d[:, 0] * np.cos(theta) + d[:, 1] * np.sin(theta)
        v = -d[:, 0] * np.sin(theta) + d[:, 1] * np.cos(theta)
        return np.sqrt((u / (self.axes[0] / 2)) ** 2 + (v / (self.axes[1] / 2)) ** 2)


def fit_face_ellipse(landmarks: np.ndarray, margin: float = 0.08, forehead: float = 0.33) -> Ellipse:
    """The face ellipse for (68, 2) landmarks: all points inside, at most 1 / (1 + margin) of the radius."""
    points = np.asarray(landmarks, np.float32)
    eye_center = points[EYES].mean(axis=0)
    chin = points[8]
    up = eye_center - chin
    forehead_line = points[BROWS] + forehead * up
    support = np.concatenate([points[JAW], forehead_line]).astype(np.float32)
    (cx, cy), (w, h), angle = cv2.fitEllipse(support)
    ellipse = Ellipse((float(cx), float(cy)), (float(w), float(h)), float(angle))
    needed = float(ellipse.normalized_radius(points).max()) * (1.0 + margin)
    if needed > 1.0:
        ellipse = Ellipse(ellipse.center, (w * needed, h * needed), ellipse.angle)
    return ellipse


def ellipse_mask(shape: tuple[int, int], ellipse: Ellipse) -> np.ndarray:
    """(H, W) float32 mask, 1 inside the filled ellipse, 0 outside."""
    mask = np.zeros(shape[:2], np.uint8)
    cv2.ellipse(mask, ellipse.as_cv2(), color=1, thickness=-1, lineType=cv2.LINE_8)
    return mask.astype(np.float32)


def mask_face(image: np.ndarray, landmarks: np.ndarray, margin: float = 0.08) -> tuple[np.ndarray, np.ndarray]:
    """(masked context, mask): the image with the face ellipse drawn black, and the (H, W) mask."""
    mask = ellipse_mask(image.shape, fit_face_ellipse(landmarks, margin))
    keep = (1.0 - mask)[..., None]
    masked = (image.astype(np.float32) * keep).astype(image.dtype)
    return masked, mask

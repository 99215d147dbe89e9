"""Alignment of a face in a photo to the canonical template: the similarity transform and its inverse use."""

from __future__ import annotations

import numpy as np

from faceobf.disentangle.template import MEAN_LANDMARKS

CROP = 178  # the face crop frame of aligned CelebA (FACE_CROP), where the template lives
ALIGN_POINTS = slice(17, 68)  # brows, nose, eyes, mouth: the jaw line moves with pose, so it is left out


def similarity_to_template(points: np.ndarray, size: int = CROP, on: slice = ALIGN_POINTS) -> np.ndarray:
    """2x3 matrix of the similarity transform (rotation, uniform scale, shift) taking `points` onto the
    template at `size` pixels, least squares over the landmarks `on` (default the inner face; Umeyama, without reflection)."""
    src = np.asarray(points, np.float64)[on]
    dst = MEAN_LANDMARKS[on].astype(np.float64) * size
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    u, sig, vt = np.linalg.svd(d.T @ s / len(src))
    sign = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
    rot = u @ sign @ vt
    scale = np.trace(np.diag(sig) @ sign) / (s**2).sum(axis=1).mean()
    return np.hstack([scale * rot, (mu_d - scale * rot @ mu_s)[:, None]])


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(n, 2) points mapped by a 2x3 affine matrix (e.g. `similarity_to_template`)."""
    return np.asarray(points, np.float64) @ matrix[:, :2].T + matrix[:, 2]

"""The landmark factor as a function of the attributes: how flipping attributes moves the 68 points.

The seed flips attributes but keeps each face's landmarks, and the landmarks pin exactly the geometry
its flips name (a smile is in the mouth's points, a big nose in the nose's). Following Ma et al. (CVPR
2018), who sample each factor of a disentangled face through a mapping, this module gives the landmark
factor a mapping that follows the attributes:

1. every train face's landmarks are aligned to the template by a similarity transform fitted on the
   eyes (position, size and in-plane rotation removed; `similarity_to_template`), in template units;
   the eyes, because the flips move the mouth, the nose and the jaw, which an alignment on the whole
   inner face would partly absorb as a change of scale;
2. a ridge regression of the aligned shapes (136 numbers) on the 40 attributes (0/1) gives each
   attribute j a displacement field B_j over the 68 points: what having attribute j adds to the shape;
3. a flip from attributes a to targets a' moves a face's aligned shape by gain * (a' - a) @ B, mapped back
   into the face's own pixels through the inverse of its alignment's linear part.

`LandmarkMapping.report` gives each attribute's mean displacement in inter-ocular distances (the
distance between the eye centres of the template) and the share of the shape variance its term
explains. The gain is set from validation faces by whoever uses the mapping (stage 2, the chapters).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from faceobf.disentangle.attributes import CELEBA_ATTRIBUTES
from faceobf.disentangle.template import MEAN_LANDMARKS
from faceobf.io import save_npz
from faceobf.disentangle.align import apply_affine, similarity_to_template

LEFT_EYE, RIGHT_EYE = slice(36, 42), slice(42, 48)
EYES = slice(36, 48)  # the points the shapes are aligned on


def inter_ocular(points: np.ndarray) -> np.ndarray:
    """Distance between the eye centres of (..., 68, 2) landmarks."""
    points = np.asarray(points, np.float64)
    return np.linalg.norm(points[..., LEFT_EYE, :].mean(-2) - points[..., RIGHT_EYE, :].mean(-2), axis=-1)


TEMPLATE_INTER_OCULAR = float(inter_ocular(MEAN_LANDMARKS))


def align_shapes(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """((N, 68, 2) shapes in template units, (N, 2, 2) linear parts of each face's alignment) of (N, 68, 2) landmarks."""
    matrices = np.stack([similarity_to_template(p, size=1, on=EYES) for p in np.asarray(landmarks, np.float64)])
    shapes = np.stack([apply_affine(m, p) for m, p in zip(matrices, landmarks)])
    return shapes, matrices[:, :, :2]


def template_to_face(landmarks, xp=np):
    """(N, 2, 2) linear maps from template units back into each face's pixels: the inverse of the rotation and
    scale of its eye alignment (`align_shapes`), in closed form (a 2-D similarity fit is complex least squares,
    a = sum conj(s) d / sum |s|^2), so that numpy and jitted JAX code share it."""
    eyes = landmarks[..., EYES, :]
    src = eyes - eyes.mean(axis=-2, keepdims=True)
    template = xp.asarray(MEAN_LANDMARKS[EYES] - MEAN_LANDMARKS[EYES].mean(axis=0), dtype=landmarks.dtype)
    norm = (src**2).sum(axis=(-2, -1))
    re = (src * template).sum(axis=(-2, -1)) / norm  # a = re + i im: face -> template
    im = (src[..., 0] * template[..., 1] - src[..., 1] * template[..., 0]).sum(axis=-1) / norm
    scale = re**2 + im**2
    return xp.stack([xp.stack([re, im], -1), xp.stack([-im, re], -1)], -2) / scale[..., None, None]


def move_landmarks(landmarks, difference, coefficients, gain=1.0, xp=np):
    """(N, 68, 2) landmarks moved by gain * difference @ coefficients (template units), mapped into each face's frame.

    `difference` (N, 40) is targets - attributes; `gain` a scalar or (N,) (an amplified flip moves further).
    Pure and jittable with `xp=jax.numpy` (stage 2 moves the landmarks of its edited redraws inside the step).
    """
    gain = xp.asarray(gain, dtype=landmarks.dtype)
    change = xp.tensordot(difference, coefficients, axes=1)  # (N, 68, 2)
    change = change * (gain[..., None, None] if gain.ndim else gain)
    return landmarks + xp.einsum("nij,nkj->nki", template_to_face(landmarks, xp), change)


@dataclass(frozen=True)
class LandmarkMapping:
    """A ridge map from the 40 attributes to the aligned 68-point shape (template units)."""

    intercept: np.ndarray  # (68, 2): the shape of a face with no attribute
    coefficients: np.ndarray  # (40, 68, 2): what each attribute adds to the shape
    ridge: float
    shape_variance: float  # total variance of the train shapes (sum over the 136 coordinates)
    explained: np.ndarray  # (40,): share of shape_variance each attribute's term carries on the train faces
    r2: float  # share of the train shapes' variance the whole map explains
    n_faces: int

    @classmethod
    def fit(cls, landmarks: np.ndarray, attributes: np.ndarray, ridge: float = 10.0) -> "LandmarkMapping":
        """Fit on (N, 68, 2) landmarks (any pixel frame) and their (N, 40) 0/1 attributes (train faces only)."""
        shapes, _ = align_shapes(landmarks)
        y = shapes.reshape(len(shapes), -1)
        x = np.asarray(attributes, np.float64)
        if len(x) != len(y) or x.shape[1] != len(CELEBA_ATTRIBUTES):
            raise ValueError(f"expected (N, 68, 2) landmarks and (N, 40) attributes, got {np.shape(landmarks)} and {x.shape}")
        x_mean, y_mean = x.mean(0), y.mean(0)
        xc, yc = x - x_mean, y - y_mean
        b = np.linalg.solve(xc.T @ xc + ridge * np.eye(x.shape[1]), xc.T @ yc)  # (40, 136)
        total = float((yc**2).sum(axis=1).mean())
        fitted = xc @ b
        r2 = 1.0 - float(((yc - fitted) ** 2).sum(axis=1).mean()) / total
        per_attribute = np.array([float(((xc[:, [j]] * b[[j]]) ** 2).sum(axis=1).mean()) / total for j in range(x.shape[1])])
        return cls((y_mean - x_mean @ b).reshape(68, 2), b.reshape(-1, 68, 2), ridge, total, per_attribute, r2, len(y))

    def shape_of(self, attributes: np.ndarray) -> np.ndarray:
        """(N, 68, 2) aligned shapes the map predicts for (N, 40) attributes."""
        return self.intercept + np.tensordot(np.asarray(attributes, np.float64), self.coefficients, axes=1)

    def move(self, landmarks: np.ndarray, attributes: np.ndarray, targets: np.ndarray, gain: float | np.ndarray = 1.0) -> np.ndarray:
        """(N, 68, 2) landmarks moved as flipping `attributes` to `targets` moves the shape, in the landmarks' own frame."""
        return np.asarray(move_landmarks(np.asarray(landmarks, np.float32), np.asarray(targets, np.float32) - np.asarray(attributes, np.float32),
                                         self.coefficients.astype(np.float32), gain, xp=np), np.float32)

    def report(self) -> list[dict]:
        """Per attribute: mean and largest displacement of a point (inter-ocular units) and the shape variance explained."""
        norms = np.linalg.norm(self.coefficients, axis=-1) / TEMPLATE_INTER_OCULAR  # (40, 68)
        return [{"attribute": name, "mean_displacement_iod": float(norms[j].mean()), "max_displacement_iod": float(norms[j].max()),
                 "most_moved_point": int(norms[j].argmax()), "shape_variance_explained": float(self.explained[j])}
                for j, name in enumerate(CELEBA_ATTRIBUTES)]

    def save(self, path: str | Path) -> None:
        """Write the map atomically (.npz)."""
        save_npz(path, intercept=self.intercept, coefficients=self.coefficients,
                 scalars=np.array([self.ridge, self.shape_variance, self.r2, self.n_faces]), explained=self.explained)

    @classmethod
    def load(cls, path: str | Path) -> "LandmarkMapping":
        with np.load(path) as f:
            ridge, variance, r2, n = f["scalars"]
            return cls(f["intercept"], f["coefficients"], float(ridge), float(variance), f["explained"], float(r2), int(n))

"""An appearance prior for stage 2: a linear map from the 40 attributes to a face, warped to the landmarks.

The landmark mapping (`faceobf.disentangle.geometry`) says where a flipped attribute moves the points;
this says what it does to the pixels. Each train face is warped to the mean shape (so the map is not
blurred by pose), then a ridge regression from its attributes a in {0, 1}^40 to its pixels is fitted:

    face(a) = intercept + a @ coefficients            (coefficients: (40, R, R, 3))

At a step, the prior is drawn at the target attributes, warped from the mean shape to the (moved)
landmarks, and its colour statistics inside the face ellipse set to those of the face's own pixels, so
skin tone and light carry over while the shape of the face does not. A generator given it as three
more input channels (`ReconTrainConfig.appearance_prior`) starts from a coherent face in the right
colour; its job becomes the detail, which is what a CPU budget can teach.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from faceobf.io import save_npz
from faceobf.reconstruct.imageops import match_colour

WARP_SIGMA = 0.08  # width of the landmarks' influence on the warp, in units of the crop's side


def warp_to(images: jax.Array, source: jax.Array, target: jax.Array) -> jax.Array:
    """(B, R, R, C) images whose landmarks sit at `source` (B, 68, 2) redrawn with them at `target`: each pixel p reads
    the image at p plus the landmarks' displacements (source - target) averaged with Gaussian weights around target."""
    resolution = images.shape[1]
    grid = jnp.stack(jnp.meshgrid(jnp.arange(resolution), jnp.arange(resolution), indexing="xy"), -1)
    grid = grid.reshape(-1, 2).astype(jnp.float32)  # (P, 2) pixel centres, (x, y)
    sigma = WARP_SIGMA * resolution
    distance2 = ((grid[None, :, None, :] - target[:, None, :, :]) ** 2).sum(-1)  # (B, P, 68)
    weights = jax.nn.softmax(-distance2 / (2 * sigma**2), axis=-1)
    where = grid[None] + jnp.einsum("bpk,bkd->bpd", weights, source - target)  # (B, P, 2)

    def sample(image, points):  # bilinear, edges repeated
        coords = [points[:, 1], points[:, 0]]
        return jnp.stack([jax.scipy.ndimage.map_coordinates(image[..., c], coords, order=1, mode="nearest")
                          for c in range(image.shape[-1])], -1)

    return jax.vmap(sample)(images, where).reshape(images.shape)


@struct.dataclass
class AppearancePrior:
    """The fitted map (its arrays are a pytree, so a jitted step takes it as an argument)."""

    intercept: jax.Array | np.ndarray  # (R, R, 3): the mean-shape face with no attribute, in [0, 1]
    coefficients: jax.Array | np.ndarray  # (40, R, R, 3): what each attribute adds
    mean_shape: jax.Array | np.ndarray  # (68, 2): the landmarks the map is drawn at, crop pixels

    def draw(self, attributes: jax.Array, landmarks: jax.Array, faces: jax.Array, masks: jax.Array) -> jax.Array:
        """(B, R, R, 3) the prior at `attributes` (B, 40), warped to `landmarks` (B, 68, 2), coloured like `faces`
        (B, R, R, 3 in [0, 1]) inside `masks` (B, R, R), zero outside them."""
        flat = jnp.tensordot(attributes.astype(jnp.float32), jnp.asarray(self.coefficients, jnp.float32), axes=1)
        drawn = jnp.asarray(self.intercept, jnp.float32) + flat
        mean_shape = jnp.broadcast_to(jnp.asarray(self.mean_shape, jnp.float32), landmarks.shape)
        drawn = warp_to(drawn, mean_shape, landmarks.astype(jnp.float32))
        return match_colour(drawn, faces, masks) * masks[..., None]

    def save(self, path: str | Path) -> None:
        """Write the map atomically (.npz, float32)."""
        save_npz(path, intercept=np.asarray(self.intercept, np.float32),
                 coefficients=np.asarray(self.coefficients, np.float32), mean_shape=np.asarray(self.mean_shape, np.float32))

    @classmethod
    def load(cls, path: str | Path) -> "AppearancePrior":
        with np.load(path) as f:
            return cls(f["intercept"], f["coefficients"], f["mean_shape"])


def fit_prior(images: np.ndarray, landmarks: np.ndarray, attributes: np.ndarray, ridge: float = 10.0,
              chunk: int = 256) -> AppearancePrior:
    """Fit on (N, R, R, 3) uint8 train faces, their (N, 68, 2) crop landmarks and (N, 40) 0/1 attributes: each face
    warped to the mean shape, then a ridge map from the centred attributes to the pixels (in chunks, float64 sums)."""
    n, resolution = len(images), images.shape[1]
    if n == 0 or landmarks.shape != (n, 68, 2) or attributes.shape != (n, 40):
        raise ValueError(f"expected N faces, (N, 68, 2) landmarks, (N, 40) attributes; got {images.shape}, "
                         f"{landmarks.shape}, {attributes.shape}")
    mean_shape = landmarks.astype(np.float64).mean(axis=0).astype(np.float32)
    warp = jax.jit(lambda x, points: warp_to(x.astype(jnp.float32) / 255.0, points,
                                             jnp.broadcast_to(mean_shape, points.shape)))
    x = attributes.astype(np.float64)
    x_mean = x.mean(axis=0)
    xc = x - x_mean
    cross = np.zeros((40, resolution * resolution * 3))
    total = np.zeros(resolution * resolution * 3)
    for start in range(0, n, chunk):
        part = slice(start, start + chunk)
        warped = np.asarray(warp(jnp.asarray(images[part]), jnp.asarray(landmarks[part], jnp.float32)), np.float64)
        warped = warped.reshape(len(warped), -1)
        cross += xc[part].T @ warped
        total += warped.sum(axis=0)
    coefficients = np.linalg.solve(xc.T @ xc + ridge * np.eye(40), cross)  # (40, P)
    intercept = total / n - x_mean @ coefficients
    shape = (resolution, resolution, 3)
    return AppearancePrior(intercept.reshape(shape).astype(np.float32),
                           coefficients.reshape((40,) + shape).astype(np.float32), mean_shape)

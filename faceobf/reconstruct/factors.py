"""Stage 1 -> stage 2: the three factors of a set of faces, and the 111-channel U-Net input.

`face_factors` gathers, for data set rows at one resolution, the face crops, their landmarks in crop
pixels, the ellipse masks and the attributes. Rows where HOG found no face are **excluded** and
counted (`excluded`), never passed on with made-up landmarks. `assemble_inputs` (pure, jittable)
concatenates 68 landmark heatmaps, the masked context (3) and 40 attribute planes; `assemble_factors`
keeps the planes factored, which the networks convolve in closed form (`faceobf.models.factored`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from faceobf.models.factored import FactoredPlanes, Factors
from faceobf.data.dataset import CelebA
from faceobf.data.images import aligned_to_crop
from faceobf.reconstruct.imageops import batch_heatmaps
from faceobf.disentangle.landmarks import landmark_cache
from faceobf.disentangle.masking import ellipse_mask, fit_face_ellipse

N_CHANNELS = 68 + 3 + 40


class FaceBatch(NamedTuple):
    """The factors of a batch of faces, by name, as stage 2 reads them in training and at inference: a new factor is a
    field here, made where the faces are gathered and read where the U-Net input is assembled."""

    images: np.ndarray | jax.Array  # (B, R, R, 3) uint8 (or float in [0, 1]) face crops
    landmarks: np.ndarray | jax.Array  # (B, 68, 2) float32, crop pixels
    masks: np.ndarray | jax.Array  # (B, R, R) uint8 (or float), 1 inside the face ellipse
    attributes: np.ndarray | jax.Array  # (B, 40) 0/1 (int8 as stored, float when drawn with other values)


@dataclass
class FaceFactors:
    """Stage-1 factors of the faces HOG found among the requested rows."""

    rows: np.ndarray  # (N,) data set rows kept
    images: np.ndarray  # (N, R, R, 3) uint8 face crops
    landmarks: np.ndarray  # (N, 68, 2) float32, crop pixels
    masks: np.ndarray  # (N, R, R) uint8, 1 inside the face ellipse
    attributes: np.ndarray  # (N, 40) int8, 0/1
    excluded: np.ndarray  # rows dropped because HOG found no face

    def __len__(self) -> int:
        return len(self.rows)

    def batch(self) -> FaceBatch:
        """The faces' factors as one named batch."""
        return FaceBatch(self.images, self.landmarks, self.masks, self.attributes)

    def take(self, index: np.ndarray) -> "FaceFactors":
        return FaceFactors(self.rows[index], self.images[index], self.landmarks[index], self.masks[index],
                           self.attributes[index], self.excluded)


def face_factors(dataset: CelebA, rows: np.ndarray, resolution: int, progress: bool = True) -> FaceFactors:
    """Crops, landmarks, masks and attributes of `rows`; rows without a detected face are excluded."""
    rows = np.asarray(rows, np.int64)
    cache = landmark_cache(dataset, rows, progress=progress)
    kept = rows[cache.detected[rows]]
    images = dataset.images(kept, resolution, progress=progress)
    points = np.stack([aligned_to_crop(cache.landmarks[r], dataset.crop, resolution) for r in kept]) if kept.size else np.zeros((0, 68, 2), np.float32)
    masks = np.stack([ellipse_mask((resolution, resolution), fit_face_ellipse(p)).astype(np.uint8) for p in points]) if kept.size else np.zeros((0, resolution, resolution), np.uint8)
    return FaceFactors(kept, images, points.astype(np.float32), masks, dataset.attributes[kept], rows[~cache.detected[rows]])


def assemble_factors(images: jax.Array, landmarks: jax.Array, masks: jax.Array, attributes: jax.Array, table: jax.Array,
                     subset: tuple[int, ...] | None = None, appearance: jax.Array | None = None) -> Factors:
    """The U-Net input as `Factors`: 68 landmark heatmaps | masked context RGB [| the appearance prior's RGB] as
    arrays, the 40 attribute planes factored.

    With `subset` (indices of a landmark subset), only those heatmaps. Images in [0, 1].
    """
    resolution = images.shape[1]
    context = images * (1.0 - masks[..., None])
    if subset is not None:
        landmarks = landmarks[:, jnp.asarray(subset)]
    spatial = [batch_heatmaps(landmarks, resolution), context] + ([] if appearance is None else [appearance])
    spatial = jnp.concatenate(spatial, axis=-1)
    return Factors(spatial, FactoredPlanes.nearest(attributes, table, resolution))


def assemble_inputs(images: jax.Array, landmarks: jax.Array, masks: jax.Array, attributes: jax.Array, table: jax.Array,
                    subset: tuple[int, ...] | None = None) -> jax.Array:
    """(B, R, R, 111): `assemble_factors` concatenated (68 heatmaps | context | 40 attribute planes), as the seed builds it."""
    return assemble_factors(images, landmarks, masks, attributes, table, subset).dense()


def input_channels(subset: tuple[int, ...], n_attributes: int = 40, appearance: bool = False) -> int:
    """Channels of `assemble_inputs` for a landmark subset (indices): heatmaps + RGB context [+ RGB prior] + planes."""
    return len(subset) + 3 + (3 if appearance else 0) + n_attributes

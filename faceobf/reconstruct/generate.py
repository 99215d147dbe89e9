"""Stage 2 at inference: the trained U-Net as a batched function from factors to a redrawn face.

`FaceGenerator` holds the U-Net (evaluation mode, jitted once), its attribute table and the recipe's
landmark subset and feathering. Given the factors of any number of faces (uint8 crops, landmarks in
crop pixels, masks, 0/1 attributes) it returns the composites: the generated face inside the feathered
ellipse, the original context outside it, as float32 in [0, 1].
"""

from __future__ import annotations

import copy

import jax.numpy as jnp
import numpy as np

from faceobf.inference import BatchedModel, as_float_images
from faceobf.models.unet import UNet
from faceobf.reconstruct.factors import FaceFactors, assemble_factors
from faceobf.reconstruct.imageops import composite


class FaceGenerator:
    """Composites of the U-Net's faces for given factors (any number of faces, batched and padded)."""

    def __init__(self, unet: UNet, table: np.ndarray, feather_radius: float, subset: tuple[int, ...] | None = None,
                 batch_size: int = 16):
        table_device = jnp.asarray(table, jnp.float32)

        def apply(g: UNet, images, landmarks, masks, attributes):
            images, masks = as_float_images(images), masks.astype(jnp.float32)
            x = assemble_factors(images, landmarks, masks, attributes.astype(jnp.float32), table_device, subset)
            return composite(g(x), images, masks, feather_radius)

        self._model = BatchedModel(unet, apply, batch_size)

    def with_weights(self, unet: UNet) -> "FaceGenerator":
        """This generator with the weights of `unet` (same architecture), reusing the compiled function."""
        other = copy.copy(self)
        other._model = self._model.with_weights(unet)
        return other

    def __call__(self, images: np.ndarray, landmarks: np.ndarray, masks: np.ndarray, attributes: np.ndarray) -> np.ndarray:
        """(N, R, R, 3) composites of N faces: images uint8 (or float in [0, 1]), landmarks (N, 68, 2), masks (N, R, R)."""
        return self._model(images, np.asarray(landmarks, np.float32), masks, attributes)

    def render(self, faces: FaceFactors, attributes: np.ndarray | None = None) -> np.ndarray:
        """The composites of every face of `faces`, with their own attributes or with `attributes` (N, 40)."""
        return self(faces.images, faces.landmarks, faces.masks, faces.attributes if attributes is None else attributes)

"""Stage 2 at inference: the trained U-Net as a batched function from factors to a redrawn face.

`FaceGenerator` holds the U-Net (evaluation mode, jitted once), its attribute table and the recipe's
landmark subset and feathering. Given the factors of any number of faces (uint8 crops, landmarks in
crop pixels, masks, 0/1 attributes) it returns the composites: the generated face inside the feathered
ellipse, the original context outside it, as float32 in [0, 1].

With a landmark mapping (`geometry`, a model trained with geometry 'follow'), a face asked for other
attributes than its `source` ones is drawn from its landmarks moved by the mapping (times the
strength's `gain`), so that a flipped smile or nose changes the points that pin it; `with_geometry(None)`
keeps the landmarks (the seed's fixed geometry, an ablation). The strength's `intensity` amplifies the
flipped attribute planes at test time (a plane of 2 instead of 1, -1 instead of 0), as Fader Networks
and STGAN amplify their edits; both are chosen on validation faces (`faceobf.reconstruct.tuning`).
With an appearance `prior` (`faceobf.reconstruct.prior`), it is drawn at the same amplified targets and
from the same landmarks, and given to the U-Net as three more input channels. With `colour_match`, the
drawn face's colour statistics inside the ellipse are set to the face's own before compositing.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
from flax import nnx

from faceobf.disentangle.geometry import LandmarkMapping
from faceobf.inference import BatchedModel, as_float_images
from faceobf.reconstruct.factors import FaceBatch, FaceFactors, assemble_factors
from faceobf.reconstruct.imageops import composite_face
from faceobf.reconstruct.prior import AppearancePrior


@dataclass(frozen=True)
class FlipStrength:
    """How far a flip goes at test time: the landmark mapping's gain and the flipped planes' intensity (1, 1: as trained)."""

    gain: float = 1.0
    intensity: float = 1.0


class FaceGenerator:
    """Composites of the U-Net's faces for given factors (any number of faces, batched and padded)."""

    def __init__(self, unet: nnx.Module, table: np.ndarray, feather_radius: float, subset: tuple[int, ...] | None = None,
                 batch_size: int = 16, geometry: LandmarkMapping | None = None, strength: FlipStrength = FlipStrength(),
                 difference: bool = False, prior: AppearancePrior | None = None, colour_match: bool = False):
        self.geometry, self.strength, self.difference, self.prior = geometry, strength, difference, prior
        table_device = jnp.asarray(table, jnp.float32)

        def apply(g, *arrays):
            faces, targets = FaceBatch(*arrays[:4]), arrays[4]
            images, masks = as_float_images(faces.images), faces.masks.astype(jnp.float32)
            appearance = None if prior is None else prior.draw(targets, faces.landmarks, images, masks)
            x = assemble_factors(images, faces.landmarks, masks, faces.attributes.astype(jnp.float32), table_device, subset,
                                 appearance)
            return composite_face(g(x), images, masks, feather_radius, colour_match)

        self._model = BatchedModel(unet, apply, batch_size)

    def with_weights(self, unet: nnx.Module) -> "FaceGenerator":
        """This generator with the weights of `unet` (same architecture), reusing the compiled function."""
        other = copy.copy(self)
        other._model = self._model.with_weights(unet)
        return other

    def with_geometry(self, geometry: LandmarkMapping | None, strength: FlipStrength | None = None) -> "FaceGenerator":
        """This generator with another landmark mapping (None: landmarks fixed) or strength, sharing the compiled function."""
        other = copy.copy(self)
        other.geometry, other.strength = geometry, self.strength if strength is None else strength
        return other

    def drawn_landmarks(self, landmarks: np.ndarray, attributes: np.ndarray, source: np.ndarray | None) -> np.ndarray:
        """The landmarks the faces are drawn from: moved from `source` to `attributes` by the mapping, if any."""
        landmarks = np.asarray(landmarks, np.float32)
        if self.geometry is None or source is None:
            return landmarks
        return self.geometry.move(landmarks, source, attributes, self.strength.gain)

    def drawn_attributes(self, attributes: np.ndarray, source: np.ndarray | None) -> np.ndarray:
        """The values the planes are drawn with: the flips from `source` amplified by the strength's intensity; for a
        model conditioned on differences (STGAN), the amplified difference (zero where nothing is flipped)."""
        targets = self.drawn_targets(attributes, source)
        if not self.difference:
            return targets
        return np.zeros_like(targets) if source is None else targets - np.asarray(source, np.float32)

    def drawn_targets(self, attributes: np.ndarray, source: np.ndarray | None) -> np.ndarray:
        """The attribute values the faces are drawn at (the flips amplified), whatever the planes carry."""
        attributes = np.asarray(attributes, np.float32)
        if source is None:
            return attributes
        source = np.asarray(source, np.float32)
        return source + self.strength.intensity * (attributes - source)

    def __call__(self, images: np.ndarray, landmarks: np.ndarray, masks: np.ndarray, attributes: np.ndarray,
                 source: np.ndarray | None = None) -> np.ndarray:
        """(N, R, R, 3) composites of N faces: images uint8 (or float in [0, 1]), landmarks (N, 68, 2), masks (N, R, R);
        `source` (N, 40): the faces' own attributes, from which the geometry moves the landmarks towards `attributes`."""
        return self._model(*FaceBatch(images, self.drawn_landmarks(landmarks, attributes, source), masks,
                                      self.drawn_attributes(attributes, source)), self.drawn_targets(attributes, source))

    def render(self, faces: FaceFactors, attributes: np.ndarray | None = None, source: np.ndarray | None = None) -> np.ndarray:
        """The composites of every face of `faces`, with their own attributes or with `attributes` (N, 40) (flipped from
        `source`, default the faces' labels, when the generator has a geometry)."""
        if attributes is None:
            return self(faces.images, faces.landmarks, faces.masks, faces.attributes)
        return self(faces.images, faces.landmarks, faces.masks, attributes, faces.attributes if source is None else source)

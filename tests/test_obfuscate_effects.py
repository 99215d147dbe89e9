"""The single-flip sweep chapter 3 draws: the change each flip makes inside the face mask."""

from __future__ import annotations

import numpy as np
import pytest

from faceobf.disentangle.attributes import CELEBA_ATTRIBUTES
from faceobf.obfuscate.effects import single_flip_effects
from faceobf.obfuscate.policies import PROTECTED_ATTRIBUTES, allowed_indices
from faceobf.reconstruct.factors import FaceFactors


class WeightedGenerator:
    """A stand-in generator whose face brightness is a known weighted sum of the attributes."""

    def __init__(self, weights: np.ndarray):
        self.weights = weights

    def render(self, faces: FaceFactors, attributes: np.ndarray, source: np.ndarray | None = None) -> np.ndarray:
        level = np.asarray(attributes, np.float32) @ self.weights  # (N,)
        return np.broadcast_to(level[:, None, None, None], faces.images.shape).astype(np.float32)


def _faces(n: int = 3, r: int = 8) -> FaceFactors:
    masks = np.zeros((n, r, r), np.uint8)
    masks[:, 2:6, 2:6] = 1
    return FaceFactors(np.arange(n), np.zeros((n, r, r, 3), np.uint8), np.zeros((n, 68, 2), np.float32), masks,
                       np.zeros((n, 40), np.int8), np.zeros(0, np.int64))


def test_single_flip_effects_measure_the_change_inside_the_mask() -> None:
    weights = np.linspace(0.0, 0.039, 40).astype(np.float32)
    faces = _faces()
    attributes = (np.arange(40)[None, :] % 3 == np.arange(3)[:, None]).astype(np.int8)
    effects = single_flip_effects(WeightedGenerator(weights), faces, attributes, keep=2)
    assert set(effects.change) == {CELEBA_ATTRIBUTES[j] for j in allowed_indices()}
    assert not set(effects.change) & set(PROTECTED_ATTRIBUTES)
    for name, value in effects.change.items():
        assert value == pytest.approx(weights[CELEBA_ATTRIBUTES.index(name)], abs=1e-6)  # |flip| moves every pixel by its weight
    assert effects.strongest(1) == ["Young"]  # the last attribute carries the largest weight
    assert effects.base.shape == (2, 8, 8, 3) and effects.samples["Smiling"].shape == (2, 8, 8, 3)



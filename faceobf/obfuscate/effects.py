"""How much each single attribute flip changes the redrawn face (chapter 3's chart and grid)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from faceobf.disentangle.attributes import CELEBA_ATTRIBUTES
from faceobf.disentangle.attributes import allowed_indices
from faceobf.reconstruct.factors import FaceFactors
from faceobf.reconstruct.generate import FaceGenerator


@dataclass
class SingleFlipEffects:
    """Mean |change| inside the mask per flipped attribute, and the first faces as redrawn for a grid."""

    change: dict[str, float]  # attribute -> mean absolute change of pixel values in [0, 1] inside the masks
    base: np.ndarray  # (k, R, R, 3) the first k faces redrawn with their own attributes
    samples: dict[str, np.ndarray]  # attribute -> (k, R, R, 3) the same faces with that attribute flipped

    def strongest(self, n: int) -> list[str]:
        """The `n` attributes whose flip changes the face most, strongest first."""
        return sorted(self.change, key=self.change.get, reverse=True)[:n]


def single_flip_effects(generator: FaceGenerator, faces: FaceFactors, attributes: np.ndarray, keep: int = 5,
                        respect_protected: bool = True) -> SingleFlipEffects:
    """Redraw `faces` with `attributes` (N, 40), then once per allowed attribute with only that one flipped."""
    attributes = np.asarray(attributes)
    base = generator.render(faces, attributes, source=attributes)
    inside = faces.masks[..., None].astype(bool)
    area = max(1, int(inside.sum()) * 3)
    change, samples = {}, {}
    for j in allowed_indices(respect_protected):
        flipped = attributes.copy()
        flipped[:, j] = 1 - flipped[:, j]
        out = generator.render(faces, flipped, source=attributes)
        change[CELEBA_ATTRIBUTES[j]] = float((np.abs(out - base) * inside).sum() / area)
        samples[CELEBA_ATTRIBUTES[j]] = out[:keep]
    return SingleFlipEffects(change, base[:keep], samples)

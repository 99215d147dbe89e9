"""How far a stage-2 model's flips move an identity, read by assessors it never trained with: dlib and the ArcFace recogniser.

Chapter 2 trains its ablation arms at the U-Net's resolution; chapter 4 runs the full protocol on the main
model only. This is the same protocol at chapter 2's scale, so an arm that claims to move identities (the
identity hinge) is judged by the assessors it never saw: every test face is redrawn without a flip and
with the flips, scaled to the 178 px crop, and each redraw is a probe against the gallery of the original
crops, its own original left out (Recall@1: is its nearest gallery face the same person?).
"""

from __future__ import annotations

from typing import Callable, Sequence

import cv2
import numpy as np

from faceobf.disentangle.attributes import attribute_index
from faceobf.evaluate.metrics import recall_at_1
from faceobf.reconstruct.editing import as_uint8
from faceobf.reconstruct.factors import FaceFactors
from faceobf.reconstruct.generate import FaceGenerator
from faceobf.recognition import face_descriptor


def _upscale(faces: np.ndarray, size: int) -> np.ndarray:
    return np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_CUBIC) for f in faces])


class IdentityAssessors:
    """dlib (and the second recogniser, given `embed`) with the gallery of the original crops described once, so that
    many generators are read against it at the cost of their own redraws only."""

    def __init__(self, faces: FaceFactors, originals: np.ndarray, identities: np.ndarray,
                 embed: Callable[[np.ndarray], np.ndarray] | None = None):
        self.faces, self.identities = faces, np.asarray(identities)
        self.size = originals.shape[1]
        points = np.asarray(faces.landmarks, np.float64) * (self.size / faces.images.shape[1])
        self.describers: dict[str, Callable[[np.ndarray], np.ndarray]] = {
            "dlib": lambda crops: np.stack([face_descriptor(c, p) for c, p in zip(crops, points)])}
        if embed is not None:
            self.describers["ArcFace"] = embed
        self.galleries = {name: describe(np.asarray(originals, np.uint8)) for name, describe in self.describers.items()}
        self.original = {name: self._recall(name, gallery) for name, gallery in self.galleries.items()}

    def _recall(self, name: str, probes: np.ndarray) -> float:
        keys = np.arange(len(self.identities))
        return float(recall_at_1(probes, self.identities, self.galleries[name], self.identities, keys, keys).mean())

    def shift(self, generator: FaceGenerator, base: np.ndarray, flips: Sequence[str]) -> dict[str, dict[str, float]]:
        """{assessor: {"original", "no flip", "flips": Recall@1}} of the faces redrawn by `generator` from the judge's
        readings `base`, without a flip and with `flips`."""
        targets = base.copy()
        flipped = [attribute_index(n) for n in flips]
        targets[:, flipped] = 1 - targets[:, flipped]
        redraws = {probe: _upscale(as_uint8(generator.render(self.faces, attributes, source=base)), self.size)
                   for probe, attributes in (("no flip", base), ("flips", targets))}
        return {name: {"original": self.original[name],
                       **{probe: self._recall(name, describe(crops)) for probe, crops in redraws.items()}}
                for name, describe in self.describers.items()}


def identity_shift(generator: FaceGenerator, faces: FaceFactors, originals: np.ndarray, identities: np.ndarray, base: np.ndarray,
                   flips: Sequence[str], embed: Callable[[np.ndarray], np.ndarray] | None = None) -> dict[str, dict[str, float]]:
    """{assessor: {"original", "no flip", "flips": Recall@1}} of `faces` (their `originals` as uint8 crops, the judge's
    readings `base`) redrawn by `generator`; dlib always, the second recogniser when `embed` (crops -> unit embeddings).
    For several generators, build one `IdentityAssessors` and call its `shift`: the gallery is then described once."""
    return IdentityAssessors(faces, originals, identities, embed).shift(generator, base, flips)

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


def identity_shift(generator: FaceGenerator, faces: FaceFactors, originals: np.ndarray, identities: np.ndarray, base: np.ndarray,
                   flips: Sequence[str], embed: Callable[[np.ndarray], np.ndarray] | None = None) -> dict[str, dict[str, float]]:
    """{assessor: {"original", "no flip", "flips": Recall@1}} of `faces` (their `originals` as uint8 crops, the judge's
    readings `base`) redrawn by `generator`; dlib always, the second recogniser when `embed` (crops -> unit embeddings)."""
    size = originals.shape[1]
    points = np.asarray(faces.landmarks, np.float64) * (size / faces.images.shape[1])
    targets = base.copy()
    flipped = [attribute_index(n) for n in flips]
    targets[:, flipped] = 1 - targets[:, flipped]
    probes = {"original": np.asarray(originals, np.uint8),
              "no flip": _upscale(as_uint8(generator.render(faces, base, source=base)), size),
              "flips": _upscale(as_uint8(generator.render(faces, targets, source=base)), size)}
    keys = np.arange(len(originals))
    assessors: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "dlib": lambda crops: np.stack([face_descriptor(c, p) for c, p in zip(crops, points)])}
    if embed is not None:
        assessors["ArcFace"] = embed
    out = {}
    for name, describe in assessors.items():
        gallery = describe(probes["original"])
        out[name] = {probe: float(recall_at_1(gallery if probe == "original" else describe(crops), identities, gallery, identities,
                                              keys, keys).mean())
                     for probe, crops in probes.items()}
    return out

"""The identity shift of a stage-2 model's flips: each redraw a probe against the original crops, its own left out."""

from __future__ import annotations

import numpy as np
import pytest

from faceobf.evaluate import identity_shift as module
from faceobf.reconstruct.factors import FaceFactors

COLOURS = np.array([[200, 30, 30], [200, 30, 30], [30, 30, 200], [30, 30, 200]], np.uint8)  # two "people": red and blue


class Swapper:
    """A stand-in generator: each face as it is without flips; with flips, the other person's colour."""

    def render(self, faces: FaceFactors, attributes: np.ndarray, source: np.ndarray | None = None) -> np.ndarray:
        changed = (np.asarray(attributes) != np.asarray(source)).any(axis=1)
        colours = np.where(changed[:, None], COLOURS[::-1], COLOURS).astype(np.float32) / 255.0
        return np.broadcast_to(colours[:, None, None, :], faces.images.shape).copy()


def _mean_colour(crops: np.ndarray) -> np.ndarray:  # a "recogniser" that tells people by their colour
    return np.asarray(crops, np.float32).reshape(len(crops), -1, 3).mean(axis=1)


def _two_people() -> tuple[FaceFactors, np.ndarray]:
    """Four 64 px faces (two red, two blue) and their 178 px original crops."""
    images = np.broadcast_to(COLOURS[:, None, None, :], (4, 64, 64, 3)).copy()
    faces = FaceFactors(np.arange(4), images, np.full((4, 68, 2), 32.0, np.float32), np.ones((4, 64, 64), np.uint8),
                        np.zeros((4, 40), np.int8), np.zeros(0, np.int64))
    return faces, np.broadcast_to(COLOURS[:, None, None, :], (4, 178, 178, 3)).copy()


def test_flips_that_draw_another_person_lose_every_match_and_redraws_without_flips_keep_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(module, "face_descriptor", lambda crop, points: _mean_colour(crop[None])[0])
    faces, originals = _two_people()
    readings = module.identity_shift(Swapper(), faces, originals, np.array([0, 0, 1, 1]), np.zeros((4, 40), np.int8), ["Smiling"],
                                     embed=_mean_colour)
    for assessor in ("dlib", "ArcFace"):
        assert readings[assessor] == {"original": 1.0, "no flip": 1.0, "flips": 0.0}


def test_assessors_describe_the_gallery_once_for_many_generators(monkeypatch: pytest.MonkeyPatch) -> None:
    described = []

    def counting(crop: np.ndarray, points: np.ndarray) -> np.ndarray:
        described.append(1)
        return _mean_colour(crop[None])[0]

    monkeypatch.setattr(module, "face_descriptor", counting)
    faces, originals = _two_people()
    base = np.zeros((4, 40), np.int8)
    assessors = module.IdentityAssessors(faces, originals, np.array([0, 0, 1, 1]))
    readings = [assessors.shift(Swapper(), base, ["Smiling"]) for _ in range(3)]
    assert len(described) == 4 + 3 * 2 * 4  # the gallery once, then two redraws of four faces per generator
    assert readings[0] == readings[2] == module.identity_shift(Swapper(), faces, originals, np.array([0, 0, 1, 1]), base,
                                                               ["Smiling"])

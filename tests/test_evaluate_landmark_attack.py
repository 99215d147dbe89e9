"""The landmark attacker: shape vectors ignore pose in the image plane and identify distinct shapes."""

from __future__ import annotations

import numpy as np

from faceobf.evaluate.landmark_attack import LANDMARK_SUBSETS, landmark_recall, normalise_landmarks
from faceobf.disentangle.template import MEAN_LANDMARKS


def _similar(points: np.ndarray, angle: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return points @ (scale * np.array([[c, -s], [s, c]])).T + np.array(shift)


def test_shape_vector_ignores_rotation_scale_and_shift() -> None:
    face = MEAN_LANDMARKS * 178
    moved = _similar(face, 0.2, 1.7, (40.0, -12.0))
    for subset in LANDMARK_SUBSETS:
        a, b = normalise_landmarks(np.stack([face, moved]), subset)
        assert np.allclose(a, b, atol=1e-6)
        assert a.size == 2 * len(LANDMARK_SUBSETS[subset]) and np.isclose(np.linalg.norm(a), 1.0)


def test_attacker_identifies_people_by_their_face_shape() -> None:
    rng = np.random.default_rng(0)
    people = [MEAN_LANDMARKS * 178 + rng.normal(scale=3.0, size=(68, 2)) for _ in range(5)]  # 5 distinct shapes
    shots, ids = [], []
    for person, shape in enumerate(people):
        for _ in range(4):  # each photographed 4 times: other pose, small landmark noise
            shots.append(_similar(shape + rng.normal(scale=0.3, size=(68, 2)), rng.uniform(-0.3, 0.3), rng.uniform(0.8, 1.2), (5.0, 5.0)))
            ids.append(person)
    shots, ids, keys = np.stack(shots), np.array(ids), np.arange(len(ids))
    assert landmark_recall(shots, ids, shots, ids, keys, keys).mean() == 1.0
    # shapes that carry no identity (everyone the mean face plus independent noise): near chance (3/19)
    anonymous = np.stack([MEAN_LANDMARKS * 178 + rng.normal(scale=3.0, size=(68, 2)) for _ in ids])
    assert landmark_recall(anonymous, ids, anonymous, ids, keys, keys).mean() < 0.5

"""Which test faces the evaluation uses, in an order that keeps every prefix balanced over identities."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from faceobf.data import CelebA
from faceobf.data.images import FACE_CROP, aligned_to_crop
from faceobf.disentangle.landmarks import landmark_cache
from faceobf.profiles import EvalConfig


@dataclass(frozen=True)
class EvalFaces:
    """Test faces with landmarks, ordered round-robin over identities (any prefix spans them all)."""

    rows: np.ndarray  # data set rows
    identities: np.ndarray
    landmarks: np.ndarray  # (n, 68, 2) in aligned-image pixels (HOG, upsample 1)

    def __len__(self) -> int:
        return len(self.rows)

    def crop_points(self, i: int) -> np.ndarray:
        """Landmarks of face `i` in the 178x178 face crop."""
        return aligned_to_crop(self.landmarks[i], FACE_CROP, FACE_CROP.size)

    @property
    def n_identities(self) -> int:
        return int(np.unique(self.identities).size)


def round_robin(groups: list[np.ndarray]) -> np.ndarray:
    """Interleave groups: first element of each, then the second of each, ..."""
    out = []
    for k in range(max((len(g) for g in groups), default=0)):
        out.extend(int(g[k]) for g in groups if k < len(g))
    return np.asarray(out, np.int64)


def select_faces(dataset: CelebA, cfg: EvalConfig, split: str = "test", progress: bool = True) -> EvalFaces:
    """The evaluation's faces: test identities (seeded choice), their images with a HOG face.

    Images where HOG finds no face are left out (they have no landmarks, so no method can be applied
    and the machine assessor could not read them either); the count is in the report.
    """
    rows = dataset.split(split)
    ids = dataset.identities[rows]
    rng = np.random.default_rng(cfg.seed)
    chosen = rng.permutation(np.unique(ids))
    if cfg.identities is not None:
        chosen = chosen[: cfg.identities]
    per_identity = [np.sort(rows[ids == i]) for i in chosen]
    if cfg.images_per_identity is not None:  # a few spare images stand in for HOG misses
        per_identity = [g[: cfg.images_per_identity + 3] for g in per_identity]
    cache = landmark_cache(dataset, np.concatenate(per_identity), progress=progress)
    groups = []
    for g in per_identity:
        g = g[cache.detected[g]]
        g = g[: cfg.images_per_identity] if cfg.images_per_identity is not None else g
        groups.append(rng.permutation(g))
    order = round_robin(groups)
    return EvalFaces(order, dataset.identities[order], cache.landmarks[order].astype(np.float32))


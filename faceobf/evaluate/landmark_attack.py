"""The landmark-leak attacker: identify a person from the 68 landmarks alone.

Stage 2 feeds the landmarks to the generator unchanged, so whatever identity their geometry carries
survives every attribute flip. The attacker removes position, scale and in-plane rotation (similarity
alignment to the mean template on the inner-face points, as stage 3 aligns faces), then matches the
remaining shape to a gallery by nearest neighbour. CIAGAN reports 30.5% Recall@1 for this on CelebA.
"""

from __future__ import annotations

import numpy as np

from faceobf.evaluate.metrics import recall_at_1
from faceobf.disentangle.landmarks import LANDMARK_SUBSETS, landmark_subset  # noqa: F401  (re-exported for callers)


def normalise_landmarks(points: np.ndarray, subset: str = "all") -> np.ndarray:
    """(n, 68, 2) landmarks -> (n, 2k) shape vectors: each set aligned to the template by a similarity
    transform (all 68 points define the frame), then the `subset` kept, centred and scaled to unit norm."""
    from faceobf.disentangle.align import apply_affine, similarity_to_template

    points = np.asarray(points, np.float64)
    idx = np.asarray(landmark_subset(subset))
    out = []
    for p in points:
        aligned = apply_affine(similarity_to_template(p, 1), p)[idx]
        aligned = aligned - aligned.mean(axis=0)
        out.append((aligned / np.linalg.norm(aligned)).ravel())
    return np.asarray(out)


def landmark_recall(probes: np.ndarray, probe_ids: np.ndarray, gallery: np.ndarray, gallery_ids: np.ndarray,
                    probe_keys: np.ndarray | None = None, gallery_keys: np.ndarray | None = None, subset: str = "all") -> np.ndarray:
    """Per probe landmark set: is the nearest gallery shape (own image excluded) the same person?"""
    return recall_at_1(normalise_landmarks(probes, subset), probe_ids, normalise_landmarks(gallery, subset), gallery_ids,
                       probe_keys, gallery_keys)

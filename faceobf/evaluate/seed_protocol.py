"""The seed's own identity test (its table 3): a small CNN identity classifier trained on originals.

A classifier learns ~20 test identities from part of their original images; it is then asked to
name the held-out images, once as originals and once as each method processed them. The seed
reported 60% on originals, 36.67% after its 4 flips and 30% after flipping all attributes.
"""

from __future__ import annotations

import numpy as np

from faceobf.models.identity_cnn import IdentityCNNConfig
from faceobf.trained import identity_classifier


def split_identities(identities: np.ndarray, n_identities: int, train_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train index, test index, chosen identities): the `n_identities` with most faces, each split in two."""
    values, counts = np.unique(identities, return_counts=True)
    chosen = values[np.argsort(-counts, kind="stable")][:n_identities]
    rng = np.random.default_rng(seed)
    train, test = [], []
    for identity in chosen:
        idx = rng.permutation(np.flatnonzero(identities == identity))
        cut = max(1, int(round(train_fraction * len(idx))))
        train.extend(idx[:cut])
        test.extend(idx[cut:])
    return np.sort(train), np.sort(test), chosen


def seed_protocol(original_crops: np.ndarray, identities: np.ndarray, processed: dict[str, tuple[np.ndarray, np.ndarray]],
                  n_identities: int, config: IdentityCNNConfig = IdentityCNNConfig()) -> dict[str, dict]:
    """Accuracy of the identity CNN on held-out originals and on their processed versions.

    `processed[name] = (crops, index)`: a method's crops and which faces (indices into the originals)
    they are; a method that processed only some faces is scored on the held-out faces it has.
    """
    train, test, chosen = split_identities(identities, n_identities, config.train_fraction, config.seed)
    label_of = {int(v): k for k, v in enumerate(chosen)}
    labels = np.array([label_of.get(int(i), -1) for i in identities])
    predict = identity_classifier(np.asarray(original_crops)[train], labels[train], len(chosen), config)
    out = {}
    for name, (crops, index) in processed.items():
        position = {int(j): k for k, j in enumerate(index)}
        have = [j for j in test if int(j) in position]
        if not have:
            continue
        guess = predict(np.asarray(crops)[[position[int(j)] for j in have]])
        out[name] = {"accuracy": float((guess == labels[have]).mean()), "faces": len(have),
                     "identities": len(chosen), "chance": 1.0 / len(chosen), "train_faces": int(len(train))}
    return out

"""The seed's identity-classifier protocol: identity split and a classifier that can learn and fail."""

from __future__ import annotations

import numpy as np
import pytest

from faceobf.evaluate.seed_protocol import IdentityCNNConfig, seed_protocol, split_identities


def test_split_keeps_identities_with_most_faces_and_holds_out_a_third() -> None:
    ids = np.array([1] * 9 + [2] * 6 + [3] * 3)
    train, test, chosen = split_identities(ids, 2, 2 / 3, seed=0)
    assert chosen.tolist() == [1, 2]
    assert not set(train) & set(test)
    assert sorted(ids[train].tolist()) == [1] * 6 + [2] * 4 and sorted(ids[test].tolist()) == [1] * 3 + [2] * 2


@pytest.mark.slow
def test_classifier_learns_colours_and_fails_on_their_blackout() -> None:
    rng = np.random.default_rng(0)
    colours = np.array([[220, 30, 30], [30, 220, 30], [30, 30, 220]], np.uint8)
    ids = np.repeat(np.arange(3), 9)
    crops = np.stack([np.clip(colours[i] + rng.integers(-20, 20, (32, 32, 3)), 0, 255).astype(np.uint8) for i in ids])
    black = np.zeros_like(crops)
    result = seed_protocol(crops, ids, {"original": (crops, np.arange(len(ids))), "blackout": (black, np.arange(len(ids)))},
                           3, IdentityCNNConfig(resolution=32, widths=(8, 16), epochs=30, batch_size=6))
    assert result["original"]["accuracy"] == 1.0 and result["original"]["faces"] == 9
    assert result["blackout"]["accuracy"] <= 1 / 3 + 1e-9  # one constant input -> at most one class right


def test_fewer_faces_than_a_batch_still_train() -> None:
    from faceobf.train.identity_cnn import train_identity_cnn

    colours = np.array([[220, 30, 30], [30, 30, 220]], np.uint8)
    labels = np.array([0, 1, 0, 1])
    crops = np.stack([np.broadcast_to(colours[i], (32, 32, 3)) for i in labels]).astype(np.uint8)
    predict = train_identity_cnn(crops, labels, 2, IdentityCNNConfig(resolution=32, widths=(8,), epochs=150, batch_size=32))
    assert predict(crops).tolist() == labels.tolist()  # 4 faces, batch 32: it learned, so steps ran

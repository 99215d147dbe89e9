"""The classic baselines and the evaluation's methods change only the face region."""

from __future__ import annotations

import numpy as np
import pytest

from faceobf.obfuscate.baselines import blackout_face, blur_face, pixelate_face
from faceobf.evaluate.methods import FALLBACK, METHODS, UNTOUCHED, face_mask, get_method, process_crops
from faceobf.disentangle.template import MEAN_LANDMARKS

CROP = 178


@pytest.fixture
def crop() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(CROP, CROP, 3), dtype=np.uint8)


POINTS = MEAN_LANDMARKS * CROP


@pytest.mark.parametrize("name", [m.name for m in METHODS.values() if m.kind == "baseline"])
def test_baselines_change_only_the_face_region(crop: np.ndarray, name: str) -> None:
    crops, outcome = process_crops(get_method(name), crop[None], [POINTS], keys=[0])
    out = crops[0]
    assert outcome.tolist() == [FALLBACK]
    mask = face_mask(crop, POINTS) > 0
    assert out.dtype == np.uint8 and out.shape == crop.shape
    assert np.array_equal(out[~mask], crop[~mask])  # bit-identical outside the ellipse
    assert np.abs(out[mask].astype(int) - crop[mask]).mean() > 20  # and really changed inside (noise image)
    assert crop is not out


def test_baseline_strengths() -> None:
    image = np.zeros((64, 64, 3), np.uint8)
    image[:, 32:] = 255
    mask = np.ones((64, 64), np.uint8)
    assert blackout_face(image, mask).max() == 0
    weak, strong = blur_face(image, mask, 2.0), blur_face(image, mask, 8.0)
    assert 0 < weak[32, 28, 0] < strong[32, 28, 0] < 128  # more blur spreads the edge further
    blocks = pixelate_face(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8), mask, 16)
    assert all(len(np.unique(blocks[r : r + 16, c : c + 16].reshape(-1, 3), axis=0)) == 1 for r in range(0, 64, 16) for c in range(0, 64, 16))
    with pytest.raises(ValueError, match="sigma must be positive"):
        blur_face(image, mask, 0)
    with pytest.raises(ValueError, match="at least 2 pixels"):
        pixelate_face(image, mask, 1)
    with pytest.raises(ValueError, match="does not match"):
        blackout_face(image, np.ones((8, 8)))


def test_unknown_method_and_unet_method_without_models(crop: np.ndarray) -> None:
    with pytest.raises(ValueError, match="unknown method 'smudge'"):
        get_method("smudge")
    with pytest.raises(ValueError, match="pass an Obfuscator"):
        process_crops(get_method("flip4"), crop[None], [POINTS], keys=[0])
    crops, outcome = process_crops(get_method("original"), crop[None], [POINTS], keys=[0])
    assert np.array_equal(crops[0], crop) and outcome.tolist() == [UNTOUCHED]

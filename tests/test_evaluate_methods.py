"""The classic baselines and the evaluation's methods change only the face region."""

from __future__ import annotations

import numpy as np
import pytest

from faceobf.obfuscate.baselines import EXACT_BLUR_SIGMA, blackout_face, blur_face, gaussian_blur, pixelate_face
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


@pytest.mark.parametrize("sigma", [EXACT_BLUR_SIGMA + 0.5, 20.0, 70.0])
def test_a_wide_blur_on_a_shrunk_copy_matches_the_exact_blur(sigma: float) -> None:
    """A photo-sized face's fallback blur (sigma = width / 9) runs on a shrunk copy: within 2 grey levels of
    OpenCV's exact Gaussian blur away from the border, and no sharper (mean horizontal gradient)."""
    import cv2
    from skimage import data

    image = cv2.resize(data.astronaut(), (1200, 1000)).astype(np.float32)
    k = int(2 * np.ceil(3 * sigma) + 1)
    exact, fast = cv2.GaussianBlur(image, (k, k), sigma), gaussian_blur(image, sigma)
    inner = slice(int(3 * sigma), -int(3 * sigma))
    assert np.abs(exact - fast)[inner, inner].max() < 2.0
    assert np.abs(np.diff(fast, axis=1)).mean() <= np.abs(np.diff(exact, axis=1)).mean() * 1.001
    np.testing.assert_array_equal(gaussian_blur(image, 3.0), cv2.GaussianBlur(image, (19, 19), 3.0))


def test_unknown_method_and_unet_method_without_models(crop: np.ndarray) -> None:
    with pytest.raises(ValueError, match="unknown method 'smudge'"):
        get_method("smudge")
    with pytest.raises(ValueError, match="pass an Obfuscator"):
        process_crops(get_method("flip4"), crop[None], [POINTS], keys=[0])
    crops, outcome = process_crops(get_method("original"), crop[None], [POINTS], keys=[0])
    assert np.array_equal(crops[0], crop) and outcome.tolist() == [UNTOUCHED]


def test_the_warp_moves_the_pixels_at_the_landmarks_to_their_new_places() -> None:
    from faceobf.obfuscate.warp import warp_to_landmarks

    image = np.zeros((120, 120, 3), np.uint8)
    image[58:62, 38:42] = 255  # a bright dot at (40, 60)
    points = np.array([[40.0, 60.0], [80.0, 60.0], [60.0, 90.0], [60.0, 30.0]])
    np.testing.assert_array_equal(warp_to_landmarks(image, points, points), image)  # nothing moved: the same image
    moved = points.copy()
    moved[0] += [8.0, 6.0]
    out = warp_to_landmarks(image, points, moved)
    ys, xs = np.nonzero(out[..., 0] > 128)
    assert abs(xs.mean() - 47.5) < 1.0 and abs(ys.mean() - 65.5) < 1.0
    assert out.dtype == np.uint8 and out[0, 0].tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="differ in shape"):
        warp_to_landmarks(image, points, moved[:3])


def test_the_warp_control_and_fixed_geometry_need_a_mapping(crop: np.ndarray) -> None:
    from types import SimpleNamespace

    assert get_method("warp4").needs_models and get_method("flip4_fixed").geometry == "fixed"
    no_mapping = SimpleNamespace(generator=SimpleNamespace(geometry=None))
    with pytest.raises(ValueError, match="landmark mapping"):
        process_crops(get_method("warp4"), crop[None], [POINTS], keys=[0], obfuscator=no_mapping)


def test_every_method_has_a_short_figure_label_and_a_kind() -> None:
    from faceobf.evaluate.report import plot_labels

    short = plot_labels()
    assert all(name in short and short[f"{name}:kind"] == method.kind for name, method in METHODS.items())

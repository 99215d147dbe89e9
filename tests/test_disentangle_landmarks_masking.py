"""dlib landmarks on a real face, the landmark cache, heatmaps and the face ellipse mask."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from skimage import data

from faceobf.data import FACE_CROP, CelebA, crop_and_resize
from faceobf.data.images import aligned_to_crop
from faceobf.dlib_models import SHAPE_PREDICTOR_68, model_path
from faceobf.disentangle.landmarks import LandmarkCache, detect_faces, detect_landmarks, landmark_heatmaps
from faceobf.disentangle.masking import fit_face_ellipse, mask_face
from tests.conftest import astronaut_aligned


def test_model_files_come_from_face_recognition_models_without_its_init() -> None:
    import sys

    path = model_path(SHAPE_PREDICTOR_68)
    assert path.is_file() and path.stat().st_size > 90_000_000
    assert "face_recognition_models" not in sys.modules  # located, not imported


def test_astronaut_has_68_landmarks_inside_the_detected_box() -> None:
    faces = detect_faces(data.astronaut(), upsample=1)
    assert faces, "HOG found no face on the astronaut"
    face = faces[0]
    left, top, right, bottom = face.box
    assert face.landmarks.shape == (68, 2)
    slack = 0.15 * (right - left)  # dlib's jaw points may sit a few pixels outside its box
    assert (face.landmarks[:, 0] >= left - slack).all() and (face.landmarks[:, 0] <= right + slack).all()
    assert (face.landmarks[:, 1] >= top - slack).all() and (face.landmarks[:, 1] <= bottom + slack).all()
    # The eyes (36-47) lie above the mouth (48-67) and between the jaw ends.
    assert face.landmarks[36:48, 1].mean() < face.landmarks[48:68, 1].mean()


def test_largest_face_is_kept_when_hog_fires_twice() -> None:
    faces = detect_faces(data.astronaut(), upsample=1)
    chosen = detect_landmarks(data.astronaut(), upsample=1)
    np.testing.assert_array_equal(chosen, faces[0].landmarks)
    assert all((f.area, f.score) <= (faces[0].area, faces[0].score) for f in faces)


def test_no_face_gives_none() -> None:
    assert detect_landmarks(np.full((200, 200, 3), 127, np.uint8)) is None


def test_heatmaps_peak_at_the_landmarks() -> None:
    points = np.array([[10.0, 20.0], [50.0, 5.0]] + [[30.0, 30.0]] * 66, np.float32)
    maps = landmark_heatmaps(points, 64)
    assert maps.shape == (64, 64, 68) and maps.dtype == np.float32
    assert np.unravel_index(maps[..., 0].argmax(), (64, 64)) == (20, 10)  # (row, col) = (y, x)
    assert np.unravel_index(maps[..., 1].argmax(), (64, 64)) == (5, 50)
    assert maps.max() <= 1.0 and maps[..., 0][20, 10] == pytest.approx(1.0)
    # Any resolution: the same points at double size peak at double coordinates.
    assert np.unravel_index(landmark_heatmaps(points * 2, 128)[..., 0].argmax(), (128, 128)) == (40, 20)


def _astronaut_crop(resolution: int) -> tuple[np.ndarray, np.ndarray]:
    aligned = astronaut_aligned()
    points = detect_landmarks(aligned)
    assert points is not None
    return crop_and_resize(aligned, FACE_CROP, resolution), aligned_to_crop(points, FACE_CROP, resolution)


@pytest.mark.parametrize("resolution", [96, 178])
def test_mask_covers_every_landmark_and_little_else(resolution: int) -> None:
    image, points = _astronaut_crop(resolution)
    masked, mask = mask_face(image, points)
    rows = np.clip(np.round(points[:, 1]).astype(int), 0, resolution - 1)
    cols = np.clip(np.round(points[:, 0]).astype(int), 0, resolution - 1)
    assert mask[rows, cols].all(), "a landmark lies outside the mask"
    assert (masked[mask > 0] == 0).all() and (masked[mask == 0] == image[mask == 0]).all()
    # Every landmark is inside with the margin, and the ellipse is not much larger than the landmark hull.
    ellipse = fit_face_ellipse(points, margin=0.08)
    assert ellipse.normalized_radius(points).max() <= 1 / 1.08 + 1e-6
    import cv2

    hull_area = cv2.contourArea(cv2.convexHull(points.astype(np.float32)))
    assert hull_area < mask.sum() < 2.2 * hull_area


def test_landmark_cache_computes_once_and_reports_misses(celeba_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ds = CelebA.open(celeba_dir)
    blank = celeba_dir / "img_align_celeba" / "000004.jpg"
    from PIL import Image

    Image.fromarray(np.full((218, 178, 3), 90, np.uint8)).save(blank)  # no face in this one
    cache = LandmarkCache(ds.cache_dir(), len(ds))
    cache.ensure(np.arange(6), ds.read_aligned, progress=False)
    report = cache.miss_report(np.arange(6))
    assert report == {"images": 6, "missed": 1, "miss_rate": 1 / 6}
    assert not cache.detected[3] and cache.detected[[0, 1, 2, 4, 5]].all()

    def fail(row):
        raise AssertionError("image decoded again")

    reopened = LandmarkCache(ds.cache_dir(), len(ds))
    reopened.ensure(np.arange(6), fail, progress=False)
    np.testing.assert_array_equal(reopened.landmarks[:6], cache.landmarks[:6])
    with pytest.raises(ValueError, match="not computed"):
        reopened.miss_report(np.arange(12))

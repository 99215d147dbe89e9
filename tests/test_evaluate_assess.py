"""The machine assessor's reading of a face: same answer on any thread, detection of the same face."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import astronaut_aligned
from faceobf.evaluate.assess import paste_crop, read_face, read_faces
from faceobf.disentangle.landmarks import detect_faces


@pytest.mark.slow
def test_threads_give_the_same_readings_as_one_thread() -> None:
    # dlib's detectors and networks keep scratch state: shared between threads they gave wrong answers
    base = astronaut_aligned()
    rng = np.random.default_rng(0)
    images = [np.clip(base.astype(int) + rng.integers(-12, 12, base.shape), 0, 255).astype(np.uint8) for _ in range(6)]
    points = np.stack([detect_faces(im, 1)[0].landmarks for im in images])
    serial = [read_face(im, p) for im, p in zip(images, points)]
    threaded = read_faces(images * 2, np.concatenate([points, points]), np.zeros(12, bool), workers=4)
    for one, many in zip(serial * 2, threaded):
        assert one.hog_found and many.hog_found
        assert np.array_equal(one.descriptor, many.descriptor) and np.array_equal(one.landmarks, many.landmarks)


def test_a_blacked_out_face_is_not_found_but_still_described_at_the_known_place() -> None:
    image = astronaut_aligned()
    points = detect_faces(image, 1)[0].landmarks
    crop = image[30:208].copy()
    crop[40:170, 30:150] = 0
    reading = read_face(paste_crop(image, crop), points, run_cnn=True)
    assert not reading.hog_found and reading.cnn_found == 0
    assert np.isnan(reading.landmarks).all() and reading.descriptor.shape == (128,)
    assert np.array_equal(paste_crop(image, image[30:208]), image)

"""Readings of a redrawn face in its photo: the inner box, overlap, the detail ratio of a blurred face, the summary."""

from __future__ import annotations


import cv2
import pandas as pd
import pytest
from skimage import data

from faceobf.evaluate.photo_quality import face_readings, inner_box, summarise
from faceobf.obfuscate.detect import iou
from faceobf.obfuscate.detect import DetectorSettings, detect


def test_inner_box_and_overlap() -> None:
    assert inner_box((0, 0, 100, 50)) == (20, 10, 80, 40)
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0 and iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(1 / 3)


def test_a_blurred_face_keeps_little_detail_and_the_untouched_one_keeps_all() -> None:
    photo = data.astronaut()
    face = detect(photo, DetectorSettings(detectors=("hog",)))[0]
    left, top, right, bottom = face.box
    blurred = photo.copy()
    blurred[top:bottom, left:right] = cv2.GaussianBlur(photo[top:bottom, left:right], (0, 0), 4)
    same = face_readings(photo, photo, face, [face.box])
    soft = face_readings(photo, blurred, face, [])
    assert same["detail_ratio"] == pytest.approx(1.0) and same["same_person"] and same["dlib_distance"] < 1e-6
    assert soft["detail_ratio"] < 0.3 and not soft["found_again"]


def test_the_summary_counts_each_photos_seconds_once() -> None:
    rows = pd.DataFrame([{"tool": "a", "photo": "p1", "seconds": 2.0, "detail_ratio": 0.5, "same_person": True, "found_again": True},
                         {"tool": "a", "photo": "p1", "seconds": 2.0, "detail_ratio": 0.7, "same_person": False, "found_again": True},
                         {"tool": "a", "photo": "p2", "seconds": 4.0, "detail_ratio": 0.9, "same_person": False, "found_again": False}])
    table = summarise(rows)
    assert table.loc["a", "faces"] == 3 and table.loc["a", "median detail ratio"] == pytest.approx(0.7)
    assert table.loc["a", "dlib same person"] == pytest.approx(1 / 3) and table.loc["a", "median s/photo"] == pytest.approx(3.0)


def test_a_widened_box_window_keeps_the_face_and_its_surroundings_inside_the_image() -> None:
    import numpy as np

    from faceobf.evaluate.photo_quality import box_window

    image = np.zeros((100, 200))
    rows, cols = box_window((10, 20, 50, 60), 0.25)  # 40 x 40 box, 10 px more on each side
    assert (rows, cols) == (slice(10, 70), slice(0, 60))  # the left edge clipped at the image
    assert image[rows, cols].shape == (60, 60)

"""Face detection for the photo tool: CenterFace beside HOG, merged detections, the confirmation and landmark checks."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from faceobf.obfuscate.detect import (CENTERFACE_ONNX, DETECTORS, CenterFace, DetectorModelError,
                                      DetectorSettings, detect, detect_twice, five_of_68,
                                      hog_box_from_five, iou, landmark_error, nms, template_error)


def test_boxes_overlap_and_suppression() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0 and iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], float)
    assert nms(boxes, np.array([0.5, 0.9, 0.7]), 0.3).tolist() == [1, 2]


def test_the_astronaut_face_is_confirmed_by_both_detectors_with_agreeing_landmarks() -> None:
    found = detect(data.astronaut())
    face = next(d for d in found if d.box[1] < 150)
    assert set(face.scores) == {"hog", "centerface"} and face.confirmed and face.plausible and face.redrawable
    assert face.landmark_error < 0.15  # dlib's 68 points and CenterFace's 5 agree within 15% of the eye distance
    patch = [d for d in found if d.box[1] > 300]
    assert all(not d.redrawable and "unconfirmed" in d.reason() for d in patch)  # HOG's weak hit on the mission patch


def test_a_lone_detection_is_confirmed_only_above_its_min_score() -> None:
    photo = np.full((300, 400, 3), 180, np.uint8)
    photo[100:196, 150:246] = cv2.resize(data.astronaut(), (96, 96), interpolation=cv2.INTER_AREA)  # a face of ~18 px
    found = detect(photo)
    assert len(found) == 1 and set(found[0].scores) == {"centerface"}  # too small for HOG
    score = found[0].scores["centerface"]
    assert not detect(photo, DetectorSettings(min_score={"hog": 0.5, "centerface": score + 0.01}))[0].confirmed
    assert detect(photo, DetectorSettings(min_score={"hog": 0.5, "centerface": score - 0.01}))[0].confirmed


def test_implausible_landmarks_are_measured_against_both_references() -> None:
    from faceobf.disentangle.template import MEAN_LANDMARKS

    points = np.asarray(MEAN_LANDMARKS, np.float32) * 200 + 30
    assert landmark_error(points, five_of_68(points)) == 0.0 and template_error(points) < 1e-6
    shuffled = points[np.random.default_rng(0).permutation(68)]
    assert landmark_error(shuffled, five_of_68(points)) > 0.35 and template_error(shuffled) > 0.35


def test_a_box_from_five_points_is_where_hog_would_put_it() -> None:
    face = next(d for d in detect(data.astronaut()) if len(d.scores) == 2)
    assert iou(hog_box_from_five(face.five), face.start_box) > 0.6


def test_a_missing_or_altered_centerface_model_stops_the_tool(tmp_path: Path) -> None:
    with pytest.raises(DetectorModelError, match="missing"):
        CenterFace(tmp_path / "centerface.onnx")
    altered = tmp_path / "altered.onnx"
    altered.write_bytes(CENTERFACE_ONNX.read_bytes()[:-1] + b"\0")
    with pytest.raises(DetectorModelError, match="checksum"):
        CenterFace(altered)


@pytest.mark.parametrize("side", [512, 2000])
def test_detecting_twice_finds_what_two_detections_find_with_the_shared_work_done_once(
    side: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first pass and the last check's sweep of one photo: CenterFace's network runs once where
    both settings see the photo at one scale (512 px), twice where they do not (2000 px: 1600 and
    2400); the faces are the same."""
    photo = cv2.resize(data.astronaut(), (side, side), interpolation=cv2.INTER_AREA)
    # and a small face
    photo[20:116, 20:116] = cv2.resize(data.astronaut(), (96, 96), interpolation=cv2.INTER_AREA)
    first = DetectorSettings()
    check = first.last_check()
    network = DETECTORS["centerface"]._network()
    calls = []
    forward = network.forward
    monkeypatch.setattr(network, "forward", lambda rgb: calls.append(rgb.shape) or forward(rgb))
    pair = detect_twice(photo, first, check)
    assert len(calls) == (1 if side == 512 else 2)
    for got, want in zip(pair, (detect(photo, first), detect(photo, check))):
        assert [(d.box, d.scores, d.confirmed, d.plausible) for d in got] == \
               [(d.box, d.scores, d.confirmed, d.plausible) for d in want]
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a.landmarks, b.landmarks)
    # the check's lower threshold keeps every face the first pass keeps
    assert len(pair[1]) >= len(pair[0]) >= 1

"""A clip's faces on key frames and followed between them: every face the full detectors find on a frame is
found there too, with far fewer full detections."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from conftest import paste_face
from faceobf.obfuscate import follow as follow_module
from faceobf.obfuscate.detect import DetectorSettings, detect, detect_in_window, iou
from faceobf.obfuscate.follow import FollowSettings, find_faces, quick_look

FACE = cv2.resize(np.ascontiguousarray(data.astronaut()[20:240, 130:330]), (110, 120), interpolation=cv2.INTER_AREA)
BACKGROUND = np.full((240, 400, 3), 90, np.uint8)



def _turned(face: np.ndarray, degrees: float) -> np.ndarray:
    h, w = face.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(face, matrix, (w, h), borderMode=cv2.BORDER_CONSTANT, borderValue=(90, 90, 90))


def _scene(name: str, frames: int = 24) -> list[np.ndarray]:
    out = []
    for k in range(frames):
        if name == "entering and leaving":  # from beyond the left edge to beyond the right
            out.append(paste_face(BACKGROUND, FACE, -100 + 22 * k, 50))
        elif name == "two faces crossing":
            out.append(paste_face(paste_face(BACKGROUND, FACE, 10 + 12 * k, 40), FACE[:, ::-1].copy(), 280 - 12 * k, 70))
        elif name == "turning":  # in the picture's plane, back and forth
            out.append(paste_face(BACKGROUND, _turned(FACE, 35 * np.sin(k / 4)), 140, 50))
        elif name == "a face appearing between key frames":
            out.append(paste_face(BACKGROUND, FACE, 40, 50) if k < 11 else paste_face(paste_face(BACKGROUND, FACE, 40, 50),
                                                                                FACE[:, ::-1].copy(), 250, 60))
        elif name == "a face appearing after the last key frame":
            out.append(paste_face(BACKGROUND, FACE, 40, 50) if k < 20 else paste_face(paste_face(BACKGROUND, FACE, 40, 50),
                                                                                FACE[:, ::-1].copy(), 250, 60))
        elif name == "a face appearing just before a cut":
            scene = paste_face(BACKGROUND, FACE, 30, 40)
            out.append(scene if k < 10 else paste_face(scene, FACE[:, ::-1].copy(), 250, 60) if k < 13
                       else paste_face(np.full_like(BACKGROUND, 200), FACE, 140, 90))
        else:  # a cut: one face, then another elsewhere
            out.append(paste_face(BACKGROUND, FACE, 30, 40) if k < 13 else paste_face(BACKGROUND, FACE[:, ::-1].copy(), 260, 90))
    return out


@pytest.mark.parametrize("scene", ["entering and leaving", "two faces crossing", "turning",
                                   "a face appearing between key frames", "a cut"])
def test_every_face_the_full_detectors_find_on_a_frame_is_found_with_key_frames(scene: str, monkeypatch) -> None:
    frames = _scene(scene)
    settings = DetectorSettings()
    every = [detect(f, settings) for f in frames]
    calls = {"full": 0}
    real_detect = follow_module.detect

    def counting(photo, s):
        calls["full"] += 1
        return real_detect(photo, s)

    monkeypatch.setattr(follow_module, "detect", counting)
    follow = FollowSettings(key_every=8)
    found, keys = find_faces(frames, settings, follow)
    assert len(found) == len(frames) and keys[0] == 0
    assert calls["full"] == len(keys) < len(frames)  # the full detectors ran on the key frames only
    for k, (full, followed) in enumerate(zip(every, found)):
        # a face is followed, or it is one the quick look sees, which the video's last check covers on every frame
        looked = [box for box, _ in quick_look(frames[k], settings, follow.gate_side)]
        for face in full:
            assert any(iou(face.box, f.box) >= 0.3 for f in followed) or any(iou(face.box, b) >= 0.3 for b in looked), (
                scene, k, face.box, [f.box for f in followed])


@pytest.mark.parametrize("scene", ["a face appearing between key frames", "a face appearing after the last key frame",
                                   "a face appearing just before a cut"])
def test_a_face_the_quick_look_cannot_see_is_found_from_the_frame_it_entered(scene: str, monkeypatch) -> None:
    """With the quick look blind (a face too small for it, or one only HOG finds), a face that enters between key
    frames is still found on every frame from its first: by the next key frame's backward search, or by the key
    frame made after the fact on a stretch's last frame (before a cut, at the clip's end)."""
    frames = _scene(scene)
    monkeypatch.setattr(follow_module, "quick_look", lambda *args: [])
    found, keys = find_faces(frames, DetectorSettings(), FollowSettings(key_every=8))
    assert keys[-1] == len(frames) - 1
    for k, frame in enumerate(frames):
        for face in detect(frame):
            assert any(iou(face.box, f.box) >= 0.3 for f in found[k]), (scene, k, face.box, [f.box for f in found[k]])


def test_with_key_every_1_every_frame_is_a_key_frame() -> None:
    frames = _scene("two faces crossing", 6)
    found, keys = find_faces(frames, DetectorSettings(), FollowSettings(key_every=1))
    assert keys == list(range(6))
    assert [[d.box for d in f] for f in found] == [[d.box for d in detect(f)] for f in frames]


def test_each_key_frame_keeps_the_last_checks_sweep_of_its_untouched_pixels() -> None:
    """With `checks`, the same faces are found, and each key frame (those made after the fact at a
    cut and at the clip's end too) gets the last check's faces on the frame as it came, for the last
    check to reuse."""
    frames = _scene("a face appearing just before a cut")
    checks: dict = {}
    found, keys = find_faces(frames, DetectorSettings(), FollowSettings(key_every=8), checks=checks)
    assert ([[d.box for d in f] for f in found]
            == [[d.box for d in f] for f in find_faces(frames)[0]])
    assert sorted(checks) == keys and keys[-1] == len(frames) - 1 and len(keys) >= 3
    for k in keys:
        assert ([d.box for d in checks[k]]
                == [d.box for d in detect(frames[k], DetectorSettings().last_check())])


def test_a_window_finds_the_faces_the_whole_frame_finds_there() -> None:
    frame = paste_face(paste_face(BACKGROUND, FACE, 20, 40), FACE[:, ::-1].copy(), 250, 80)
    whole = detect(frame)
    assert len(whole) == 2
    for face in whole:
        left, top, right, bottom = face.box
        inside = detect_in_window(frame, (left - 40, top - 40, right + 40, bottom + 40))
        (match,) = [d for d in inside if iou(d.box, face.box) >= 0.5]
        assert abs(np.asarray(match.box) - np.asarray(face.box)).max() <= 6  # CenterFace pads its input to 32 px
        assert np.abs(match.landmarks - face.landmarks).mean() < 2.0
    assert detect_in_window(frame, (160, 0, 240, 240)) == []  # the grey gap between them


def test_key_every_below_1_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        FollowSettings(key_every=0)

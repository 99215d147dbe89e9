"""A clip's faces found on key frames and followed between them, at a fraction of detecting every frame.

A **key frame** runs the full detectors (`faceobf.obfuscate.detect.detect`) on the whole frame. Between key
frames each face of the frame before is found again by matching its grey patch in a window around it (the
shift of the best normalised correlation, at about 48 px a face) and refitted there by dlib's 68-point shape
predictor alone, and kept while the points still form a face
(`template_error`) and the face aligned by them still looks like the same face did on the key frame (the
normalised correlation of 32 px grey crops, at least `min_similarity`); a quick look over the whole frame
(CenterFace alone, on a copy `gate_side` pixels wide, at the last check's threshold) watches for faces that
were not there. A frame becomes a key frame when `key_every` frames have passed since the last, when the
picture changes at once (a cut: the mean grey-level change of the small copy above `cut_level`), when a
followed face is lost, or when the quick look sees a face no followed face explains. A face that a key
frame finds and the frame before did not have is looked for backwards through the frames since the last
key frame, frame by frame, by the full detectors in a window around it (`detect_in_window`, each at its
whole-frame scale; past up to two frames where it is not found), so a face that entered between key frames
is covered from the frame it entered; the last frame before a cut and the clip's last frame are made key
frames after the fact, so a face that entered after the last key frame is searched for too. With
`key_every=1` every frame is a key frame, as for a photo.

What this gives up against the full detectors on every frame: a face that appears and is gone again
strictly between two key frames is seen only by the quick look (CenterFace on the small copy), so one too
small for it (below about 30 px on a 1080p frame at the default `gate_side`) or that only HOG finds can be
missed there; `key_every=1` closes that gap at the cost of speed.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from typing import Callable, Iterable

import cv2
import dlib
import numpy as np

from faceobf.disentangle.align import similarity_to_template
from faceobf.disentangle.landmarks import as_uint8_rgb, shape_predictor_68
from faceobf.obfuscate.detect import (DETECTORS, Detection, DetectorSettings, detect,
                                      detect_in_window, detect_twice, five_of_68, hog_box_from_five,
                                      iou, template_error)

PATCH = 32  # side of the grey crop that tells whether a refitted face is still the same face


@dataclass(frozen=True)
class FollowSettings:
    """How a clip's faces are found: the full detectors on key frames, windows and a quick look in between."""

    key_every: int = 8  # a key frame at least every this many frames (1: the full detectors on every frame)
    window: float = 0.6  # a followed face is looked for in its predicted box grown by this share of its size per side
    match_iou: float = 0.3  # a face found in the window is the followed one when it overlaps the prediction this much
    min_similarity: float = 0.6  # a refitted face's crop correlates at least this much with its key frame's
    gate_side: int = 640  # the quick look's copy of the frame, longer side in pixels
    cut_level: float = 30.0  # mean grey-level change of that copy from the frame before that counts as a cut

    def __post_init__(self) -> None:
        if self.key_every < 1:
            raise ValueError(f"key_every must be at least 1, got {self.key_every}")


def _shrunk(grey: np.ndarray, side: int) -> np.ndarray:
    """A grey frame scaled so that its longer side is at most `side`, in floats."""
    factor = min(1.0, side / max(grey.shape[:2]))
    size = (max(1, round(grey.shape[1] * factor)), max(1, round(grey.shape[0] * factor)))
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA).astype(np.float32)


def quick_settings(settings: DetectorSettings, side: int) -> DetectorSettings:
    """The quick look: CenterFace alone, at the last check's threshold, on a copy at most `side` pixels wide."""
    check = settings.last_check()
    return replace(check, detectors=("centerface",), centerface_max_side=min(side, check.centerface_max_side))


def quick_look(frame: np.ndarray, settings: DetectorSettings, side: int) -> list[tuple[tuple[float, ...], float]]:
    """(box, score) of each face the quick look (`quick_settings`) sees on `frame`, without landmarks."""
    return [(c.box, c.score) for c in DETECTORS["centerface"].find(frame, quick_settings(settings, side))]


def _window(box: np.ndarray, grow: float) -> tuple[float, float, float, float]:
    width, height = box[2] - box[0], box[3] - box[1]
    return (box[0] - grow * width, box[1] - grow * height, box[2] + grow * width, box[3] + grow * height)


def follow_face(frame: np.ndarray, predicted: np.ndarray, settings: DetectorSettings,
                follow: FollowSettings) -> Detection | None:
    """The face in `frame` that best overlaps the `predicted` box, found in a window around it; None when lost."""
    found = detect_in_window(frame, _window(predicted, follow.window), settings)
    best = max(found, key=lambda d: iou(d.box, predicted), default=None)
    return best if best is not None and iou(best.box, predicted) >= follow.match_iou else None


def appearance(frame: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The face aligned by its landmarks to a PATCH x PATCH grey crop, zero mean and unit variance."""
    matrix = similarity_to_template(landmarks, PATCH)
    crop = cv2.warpAffine(np.ascontiguousarray(frame[..., :3]), matrix, (PATCH, PATCH), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return (grey - grey.mean()) / (grey.std() + 1e-6)


def locate(before: np.ndarray, now: np.ndarray, box: tuple[int, int, int, int], size: int = 48) -> np.ndarray:
    """How far the patch of grey frame `before` inside `box` moved in grey frame `now`: (dx, dy) of the best
    normalised correlation within a face's size around it, matched at about `size` pixels a face."""
    h, w = before.shape[:2]
    left, top, right, bottom = max(0, int(box[0])), max(0, int(box[1])), min(w, int(box[2])), min(h, int(box[3]))
    if right - left < 4 or bottom - top < 4:
        return np.zeros(2)
    width, height = right - left, bottom - top
    x0, y0, x1, y1 = max(0, left - width), max(0, top - height), min(w, right + width), min(h, bottom + height)
    scale = min(1.0, size / max(width, height))

    def small(image: np.ndarray) -> np.ndarray:
        return cv2.resize(image, (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))),
                          interpolation=cv2.INTER_AREA)

    template, search = small(before[top:bottom, left:right]), small(now[y0:y1, x0:x1])
    if search.shape[0] < template.shape[0] or search.shape[1] < template.shape[1]:
        return np.zeros(2)
    _, _, _, (mx, my) = cv2.minMaxLoc(cv2.matchTemplate(search, template, cv2.TM_CCOEFF_NORMED))
    return np.array([x0 + mx / scale - left, y0 + my / scale - top])


def refit(frame: np.ndarray, face: Detection, step: np.ndarray, reference: np.ndarray, settings: DetectorSettings,
          follow: FollowSettings) -> Detection | None:
    """`face` of the frame before, fitted again in `frame` by the shape predictor alone (started from its landmarks
    moved by `step`); None when the points no longer form a face, leave the frame, or the face they align no
    longer looks like `reference` (its key frame's `appearance`)."""
    h, w = frame.shape[:2]
    start = hog_box_from_five(five_of_68(np.asarray(face.landmarks, np.float64) + step))
    rect = dlib.rectangle(*(int(round(v)) for v in start))
    points = np.array([[p.x, p.y] for p in shape_predictor_68()(as_uint8_rgb(frame), rect).parts()], np.float32)
    five = five_of_68(points)
    if five[:, 0].min() < 0 or five[:, 1].min() < 0 or five[:, 0].max() >= w or five[:, 1].max() >= h:
        return None
    error = template_error(points)
    if error > settings.max_landmark_error:
        return None
    if float((appearance(frame, points) * reference).mean()) < follow.min_similarity:
        return None
    before = np.asarray(face.landmarks, np.float64)
    scale = float(np.linalg.norm(points - points.mean(0), axis=1).mean()
                  / max(np.linalg.norm(before - before.mean(0), axis=1).mean(), 1e-6))
    centre, half = np.asarray(face.box, np.float64).reshape(2, 2).mean(0), np.diff(np.asarray(face.box, np.float64)
                                                                                   .reshape(2, 2), axis=0)[0] / 2
    centre = centre + (points.mean(0) - before.mean(0))
    box = tuple(int(round(v)) for v in np.concatenate([centre - scale * half, centre + scale * half]))
    # confirmed and plausible as on its key frame (where the 68 points were held against CenterFace's 5): a face
    # whose landmarks that check rejected stays rejected while it is followed
    return replace(face, box=box, landmarks=points, five=None, start_box=start, landmark_error=error)


def _explained(box, score: float, faces: list[Detection], known: list, threshold: float, level: float = 0.3) -> bool:
    """Whether a quick-look box lies on a followed face (overlaps it, or its centre is inside the face's box), or,
    while its score stays below the full detectors' `threshold`, on one the quick look saw on the last key frame
    and the full detectors did not call a face (the last check covers those where they are left unchanged)."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return (any(iou(box, f.box) >= level or (f.box[0] <= cx <= f.box[2] and f.box[1] <= cy <= f.box[3]) for f in faces)
            or (score < threshold and any(iou(box, k) >= level for k, _ in known)))


def find_faces(frames: Iterable[np.ndarray], settings: DetectorSettings = DetectorSettings(),
               follow: FollowSettings = FollowSettings(),
               progress: Callable[[int], None] | None = None,
               checks: dict[int, list[Detection]] | None = None
               ) -> tuple[list[list[Detection]], list[int]]:
    """(the faces of every frame, the key frames) of a clip (see the module's docstring);
    `progress(frames done)`. With `checks`, each key frame's last-check sweep of its untouched
    pixels is put there by frame index (from the same detector runs as its faces, `detect_twice`),
    for the last check to search only around the changes."""
    found: list[list[Detection]] = []
    keys: list[int] = []
    recent: deque[np.ndarray] = deque(maxlen=max(0, follow.key_every - 1))  # the frames since the last key frame
    references: list[np.ndarray] = []  # each face's appearance on the key frame, in the same order
    known: list = []  # what the quick look saw on the last key frame: (box, score)
    small_before = grey_before = None
    for index, frame in enumerate(frames):
        grey = cv2.cvtColor(np.ascontiguousarray(frame[..., :3]), cv2.COLOR_RGB2GRAY)
        small = _shrunk(grey, follow.gate_side)
        cut = small_before is not None and float(np.abs(small - small_before).mean()) > follow.cut_level
        small_before = small
        faces: list[Detection] | None = None
        if keys and index - keys[-1] < follow.key_every and not cut:
            faces = []
            for face, reference in zip(found[-1], references):
                step = locate(grey_before, grey, face.box)
                again = refit(frame, face, step, reference, settings, follow)
                if again is None:
                    faces = None
                    break
                faces.append(again)
            if faces is not None and any(not _explained(box, score, faces, known, settings.centerface_threshold)
                                         for box, score in quick_look(frame, settings, follow.gate_side)):
                faces = None
        if faces is None:  # a key frame
            if cut:  # the scene that ends gets a key frame on its last frame
                _close(found, recent, keys, settings, follow, checks)
            faces = _key_frame_faces(frame, index, settings, checks)
            if found and not cut:  # a face the frame before did not have may have entered since the last key frame
                _look_back(faces, found, recent, settings, follow)
            known = quick_look(frame, settings, follow.gate_side) if follow.key_every > 1 else []
            keys.append(index)
            recent.clear()
            references = [appearance(frame, face.landmarks) for face in faces]
        found.append(faces)
        grey_before = grey
        if follow.key_every > 1:
            recent.append(frame)
        if progress is not None:
            progress(len(found))
    _close(found, recent, keys, settings, follow, checks)  # and so does the clip's last frame
    return found, keys


def _key_frame_faces(frame: np.ndarray, index: int, settings: DetectorSettings,
                     checks: dict[int, list[Detection]] | None) -> list[Detection]:
    """The full detectors' faces on a key frame (and, into `checks`, the last check's sweep of
    it)."""
    if checks is None:
        return detect(frame, settings)
    faces, checks[index] = detect_twice(frame, settings, settings.last_check())
    return faces


def _close(found: list[list[Detection]], recent: deque, keys: list[int], settings: DetectorSettings,
           follow: FollowSettings, checks: dict[int, list[Detection]] | None = None) -> None:
    """Where a stretch of frames ends (at a cut, at the clip's end), make its last frame (`found[-1]`, whose
    pixels are `recent[-1]`) a key frame after the fact: the full detectors on it, each face they find that it
    did not have added, and searched backwards through the frames before."""
    if not found or not recent or keys[-1] == len(found) - 1:
        return
    last = recent.pop()
    faces = _key_frame_faces(last, len(found) - 1, settings, checks)
    new = _look_back(faces, found[:-1], recent, settings, follow, found[-1])
    found[-1].extend(new)
    keys.append(len(found) - 1)


def _look_back(faces: list[Detection], found: list[list[Detection]], recent: deque, settings: DetectorSettings,
               follow: FollowSettings, before: list[Detection] | None = None) -> list[Detection]:
    """The `faces` of a key frame that its frame before (`before`, default `found[-1]`) did not have, each searched
    backwards through `recent` (the frames of `found`'s end)."""
    before = found[-1] if before is None else before
    new = [face for face in faces if not any(iou(face.box, b.box) >= follow.match_iou for b in before)]
    for face in new:
        _follow_back(face, recent, found, settings, follow)
    return new


def _follow_back(face: Detection, recent: deque, found: list[list[Detection]], settings: DetectorSettings,
                 follow: FollowSettings, patience: int = 2) -> None:
    """Look for a face new at a key frame backwards through the `recent` frames (those of `found`'s end), in a
    window around where it was last found; add it to each frame it is found in. The search goes on past up to
    `patience` frames in a row where it is not found (a detector's blink: the track bridges them), and ends
    where the face already is."""
    box, misses = np.asarray(face.box, np.float64), 0
    for back, frame in enumerate(reversed(recent), start=1):
        earlier = follow_face(frame, box, settings, follow)
        if earlier is None:
            misses += 1
            if misses > patience:
                return
            continue
        if any(iou(earlier.box, f.box) >= follow.match_iou for f in found[-back]):
            return
        found[-back].append(earlier)
        box, misses = np.asarray(earlier.box, np.float64), 0

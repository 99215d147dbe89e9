"""Faces linked across the frames of a video, so that each person keeps one new identity and no frame leaks a face.

Detections of consecutive frames are linked greedily by the overlap (IoU) of each track's predicted box
(its last box moved by its velocity) with the new boxes. A track survives `max_gap` frames without a
detection; the frames it was not re-found in get a box and landmarks interpolated between the detections
on either side, and `pad` frames before its first and after its last detection get the nearest box, so
a detector that blinks, or fires late as a face enters, never leaves a frame uncovered. Landmarks and
boxes are smoothed along the track (a centred moving average), so a redraw does not jitter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from faceobf.obfuscate.detect import Detection, iou


@dataclass
class TrackFace:
    """A track's face in one frame: its box and landmarks, and the detection (None where it was not re-found)."""

    box: np.ndarray  # (4,) left, top, right, bottom
    landmarks: np.ndarray  # (68, 2)
    detection: Detection | None


@dataclass
class Track:
    """One face followed through a clip: frame index -> its face there."""

    id: int
    faces: dict[int, TrackFace] = field(default_factory=dict)

    @property
    def first(self) -> int:
        return min(self.faces)

    @property
    def last(self) -> int:
        return max(self.faces)

    @property
    def detected(self) -> list[int]:
        return sorted(f for f, face in self.faces.items() if face.detection is not None)


def link_tracks(detections: Sequence[Sequence[Detection]], iou_min: float = 0.3, max_gap: int = 12, pad: int = 2,
                smooth: int = 5) -> list[Track]:
    """Tracks over the per-frame detections of a clip of `len(detections)` frames (see the module's docstring)."""
    n_frames = len(detections)
    tracks: list[Track] = []
    active: list[tuple[Track, int, np.ndarray, np.ndarray]] = []  # (track, last frame, last box, velocity per frame)
    for frame, found in enumerate(detections):
        active = [a for a in active if frame - a[1] <= max_gap + 1]
        boxes = [np.asarray(d.box, np.float64) for d in found]
        pairs = sorted(((iou(a[2] + a[3] * (frame - a[1]), box), i, j) for i, a in enumerate(active) for j, box in enumerate(boxes)),
                       reverse=True)
        used_tracks, used_boxes = set(), set()
        for overlap, i, j in pairs:
            if overlap < iou_min or i in used_tracks or j in used_boxes:
                continue
            track, last, last_box, _ = active[i]
            velocity = (boxes[j] - last_box) / (frame - last)
            track.faces[frame] = TrackFace(boxes[j], np.asarray(found[j].landmarks, np.float64), found[j])
            active[i] = (track, frame, boxes[j], velocity)
            used_tracks.add(i)
            used_boxes.add(j)
        for j, box in enumerate(boxes):
            if j not in used_boxes:
                track = Track(len(tracks), {frame: TrackFace(box, np.asarray(found[j].landmarks, np.float64), found[j])})
                tracks.append(track)
                active.append((track, frame, box, np.zeros(4)))
    for track in tracks:
        _fill_gaps(track)
        _pad(track, pad, n_frames)
        _smooth(track, smooth)
    return tracks


def _fill_gaps(track: Track) -> None:
    """Interpolate box and landmarks linearly over the frames between two detections."""
    frames = track.detected
    for a, b in zip(frames, frames[1:]):
        for f in range(a + 1, b):
            t = (f - a) / (b - a)
            fa, fb = track.faces[a], track.faces[b]
            track.faces[f] = TrackFace((1 - t) * fa.box + t * fb.box, (1 - t) * fa.landmarks + t * fb.landmarks, None)


def _pad(track: Track, pad: int, n_frames: int) -> None:
    """Cover `pad` frames before the first and after the last detection with the nearest face (not re-found)."""
    first, last = track.first, track.last
    for f in range(max(0, first - pad), first):
        track.faces[f] = TrackFace(track.faces[first].box.copy(), track.faces[first].landmarks.copy(), None)
    for f in range(last + 1, min(n_frames, last + pad + 1)):
        track.faces[f] = TrackFace(track.faces[last].box.copy(), track.faces[last].landmarks.copy(), None)


def _smooth(track: Track, window: int) -> None:
    """Centred moving average of boxes and landmarks along the track (the window shrinks at its ends)."""
    if window <= 1:
        return
    frames = sorted(track.faces)
    boxes = np.stack([track.faces[f].box for f in frames])
    points = np.stack([track.faces[f].landmarks for f in frames])
    half = window // 2
    for k, f in enumerate(frames):
        lo, hi = max(0, k - half), min(len(frames), k + half + 1)
        track.faces[f].box = boxes[lo:hi].mean(axis=0)
        track.faces[f].landmarks = points[lo:hi].mean(axis=0)

"""Whether a redrawn clip keeps one new person per track, and never the old one, as dlib reads them.

The input clip's faces are found by dlib's HOG in every `step`-th frame and linked into tracks the same
way as the tool links them (`faceobf.obfuscate.track`). For each face there, dlib's descriptor is taken
on the input and on the output frame at the input's landmarks. Along a track, the distance between the
output faces of consecutive sampled frames says whether the redraw stays one person: a real face moving
through a clip reads about 0.3, and dlib's threshold for "same person" is 0.6. The distance from the
input face says whether the redraw is someone else (at least 0.6). Every HOG face on a sampled output
frame is also checked against the changed pixels: a face left as it was would count as uncovered.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from faceobf.disentangle.landmarks import detect_faces
from faceobf.evaluate.photo_quality import box_window
from faceobf.obfuscate.detect import Detection
from faceobf.obfuscate.track import link_tracks
from faceobf.obfuscate.video_io import read_frames
from faceobf.recognition import face_descriptor


def sampled_tracks(source: Path, output: Path, step: int = 5, min_width: int = 40) -> tuple[list, list, list]:
    """(every `step`-th frame of the input, the same frames of the output, the input's HOG faces at least `min_width`
    wide linked into tracks over those frames, as the tool links them)."""
    frames_in, frames_out, found = [], [], []
    for k, (a, b) in enumerate(zip(read_frames(source), read_frames(output))):
        if k % step:
            continue
        frames_in.append(a)
        frames_out.append(b)
        found.append([Detection(f.box, {"hog": f.score}, f.landmarks, confirmed=True, plausible=True)
                      for f in detect_faces(a) if f.box[2] - f.box[0] >= min_width])
    return frames_in, frames_out, link_tracks(found, max_gap=1, pad=0, smooth=1)


def track_strip(source: Path, output: Path, step: int = 10, size: int = 112, track: int = 0) -> tuple[list, list]:
    """(input faces, output faces) of one track of the input's faces, every `step`-th frame, each cropped at the
    input face's box (widened by a quarter) and resized to `size`: the strip shows whether a track stays one person."""
    frames_in, frames_out, tracks = sampled_tracks(source, output, step)
    if len(tracks) <= track:
        return [], []
    before, after = [], []
    for k in tracks[track].detected:
        window = box_window(tracks[track].faces[k].detection.box, 0.25)
        before.append(cv2.resize(frames_in[k][window], (size, size), interpolation=cv2.INTER_AREA))
        after.append(cv2.resize(frames_out[k][window], (size, size), interpolation=cv2.INTER_AREA))
    return before, after


def clip_identity(source: Path, output: Path, step: int = 5, min_width: int = 40) -> dict:
    """Per track and over the clip: the median distances between consecutive redrawn faces and to the input's,
    and how many sampled HOG faces of the output sit where the output equals the input (uncovered)."""
    frames_in, frames_out, tracks = sampled_tracks(source, output, step, min_width)
    consecutive, from_input, per_track = [], [], []
    for track in tracks:
        descriptors = []
        for k in track.detected:
            points = track.faces[k].detection.landmarks
            out, inp = face_descriptor(frames_out[k], points), face_descriptor(frames_in[k], points)
            descriptors.append(out)
            from_input.append(float(np.linalg.norm(out - inp)))
        steps = [float(np.linalg.norm(a - b)) for a, b in zip(descriptors, descriptors[1:])]
        consecutive += steps
        per_track.append({"track": track.id, "sampled_faces": len(descriptors),
                          "median_consecutive": float(np.median(steps)) if steps else None})
    uncovered = 0
    for a, b in zip(frames_in, frames_out):
        for face in detect_faces(b):
            left, top, right, bottom = face.box
            if np.abs(a[max(0, top):bottom, max(0, left):right].astype(int) - b[max(0, top):bottom, max(0, left):right]).mean() < 2.0:
                uncovered += 1  # a face where the output is the input (up to the codec's loss)
    return {"sampled_frames": len(frames_in), "tracks": per_track,
            "median_consecutive": float(np.median(consecutive)) if consecutive else None,
            "median_from_input": float(np.median(from_input)) if from_input else None,
            "share_from_input_at_least_0.6": float(np.mean(np.asarray(from_input) >= 0.6)) if from_input else None,
            "uncovered_faces": uncovered}

"""The clip readings: a clip read against itself is one unchanged person, and every face in it counts as uncovered."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _clip(tmp_path: Path) -> Path:
    from skimage import data

    from faceobf.data.clips import face_clip
    from faceobf.disentangle.landmarks import detect_faces
    from faceobf.obfuscate.video_io import write_video

    photo = data.astronaut()
    face = detect_faces(photo)[0]
    return write_video(tmp_path / "clip.mp4", face_clip(photo, face.box, 10, (320, 180)), rate=10)


def test_a_clip_read_against_itself_is_one_unchanged_person_left_uncovered(tmp_path: Path) -> None:
    from faceobf.evaluate.video_quality import clip_identity, track_strip

    clip = _clip(tmp_path)
    reading = clip_identity(clip, clip, step=3)
    assert reading["sampled_frames"] == 4 and len(reading["tracks"]) == 1
    assert reading["median_from_input"] == 0.0 and reading["median_consecutive"] < 0.35
    assert reading["uncovered_faces"] >= 4  # the face of every sampled frame is where output equals input
    before, after = track_strip(clip, clip, step=3, size=48)
    assert len(before) == 4 and all(a.shape == (48, 48, 3) and np.array_equal(a, b) for a, b in zip(before, after))

"""Video through stage 3: tracks that keep one identity and cover every frame, the clip's timing and audio kept."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from conftest import paste_face
from faceobf.obfuscate import detect as detect_module
from faceobf.obfuscate.batch import REPORT_NAME, collect_inputs, obfuscate_files
from faceobf.obfuscate.detect import Detection
from faceobf.obfuscate.track import link_tracks
from faceobf.obfuscate.video_io import VIDEO_SUFFIXES, probe, read_frames, rewrite_video, write_video


def _face(left: float, top: float, size: float = 40.0) -> Detection:
    points = np.stack([np.linspace(left, left + size, 68), np.linspace(top, top + size, 68)], axis=1)
    return Detection((int(left), int(top), int(left + size), int(top + size)), {"hog": 1.0}, points.astype(np.float32),
                     confirmed=True, plausible=True)


def test_tracks_link_moving_faces_fill_the_frames_a_face_was_missed_and_pad_their_ends() -> None:
    frames = [[_face(10 + 5 * f, 20)] for f in range(10)]
    frames[4], frames[5] = [], []  # the detector blinks
    for f in range(6, 10):
        frames[f].append(_face(200, 100 + 2 * f))  # a second person enters at frame 6
    tracks = link_tracks(frames, pad=2, smooth=1)
    assert len(tracks) == 2
    walker, newcomer = sorted(tracks, key=lambda t: t.first)
    assert sorted(walker.faces) == list(range(10)) and walker.detected == [0, 1, 2, 3, 6, 7, 8, 9]
    np.testing.assert_allclose(walker.faces[4].box, [30, 20, 70, 60], atol=1e-6)  # interpolated between frames 3 and 6
    assert newcomer.first == 4 and newcomer.faces[4].detection is None  # covered two frames before it is first seen
    assert newcomer.last == 9


def test_smoothing_removes_landmark_jitter_along_a_track() -> None:
    rng = np.random.default_rng(0)
    frames = [[_face(50 + rng.normal(0, 2), 50 + rng.normal(0, 2))] for _ in range(30)]
    raw = np.std([f[0].landmarks[0, 0] for f in frames])
    (track,) = link_tracks(frames, smooth=5)
    smoothed = np.std([track.faces[f].landmarks[0, 0] for f in range(30)])
    assert smoothed < 0.6 * raw


@pytest.mark.parametrize("suffix", VIDEO_SUFFIXES)
def test_a_rewritten_clip_keeps_its_frames_rate_and_audio(tmp_path: Path, suffix: str) -> None:
    frames = [np.full((48, 64, 3), 10 * k, np.uint8) for k in range(9)]
    clip = write_video(tmp_path / f"in{suffix}", frames, rate=15, tone_hz=440)
    out = tmp_path / f"out{suffix}"
    assert rewrite_video(clip, out, lambda i, frame: 255 - frame) == 9
    before, after = probe(clip), probe(out)
    assert (after.frames, after.rate, after.audio, after.width, after.height) == (9, 15, True, 64, 48) == \
        (before.frames, before.rate, before.audio, before.width, before.height)
    last = list(read_frames(out))[-1]
    assert np.abs(last.astype(int) - (255 - 80)).mean() < 4  # lossy, but the frame is the processed one
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def _pattern() -> np.ndarray:
    """A frame no rotation or mirror maps onto itself: a white corner top left, a green block bottom right."""
    frame = np.zeros((48, 80, 3), np.uint8)
    frame[:10, :20], frame[30:, 60:, 1] = 255, 200
    return frame


@pytest.mark.parametrize("rotation", [90, 180, 270])
@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".mkv"])
def test_a_clip_stored_turned_is_read_and_written_as_displayed(tmp_path: Path, rotation: int, suffix: str) -> None:
    import av

    upright = _pattern()
    clip = write_video(tmp_path / f"phone{suffix}", [upright] * 3, rate=10, rotation=rotation)
    with av.open(str(clip)) as container:  # stored turned, with a display matrix: as a phone writes a portrait clip
        stored = next(container.decode(container.streams.video[0]))
        assert stored.rotation != 0 and (stored.width, stored.height) != (80, 48) or rotation == 180
    info = probe(clip)
    assert (info.width, info.height) == (80, 48) and info.orientation != "upright"
    frames = list(read_frames(clip))
    assert frames[0].shape == upright.shape and np.abs(frames[0].astype(int) - upright).mean() < 6
    seen = []
    out = tmp_path / f"out{suffix}"
    rewrite_video(clip, out, lambda i, frame: seen.append(frame.shape) or frame)
    assert seen == [upright.shape] * 3  # the tool is handed upright frames
    with av.open(str(out)) as container:  # written upright, without a display matrix: it displays as the input did
        first = next(container.decode(container.streams.video[0]))
        assert first.rotation == 0 and (first.width, first.height) == (80, 48)
    assert np.abs(next(read_frames(out)).astype(int) - upright).mean() < 8


@pytest.mark.parametrize("degrees, hflip, vflip", [(0, True, False), (0, False, True), (90, True, False), (270, False, True)])
def test_mirrored_display_matrices_are_applied_as_ffmpeg_applies_them(tmp_path: Path, degrees: int, hflip: bool, vflip: bool) -> None:
    import av

    stored = _pattern()
    path = tmp_path / "mirrored.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 80, 48, "yuv420p"
        stream.set_display_rotation(degrees, hflip=hflip, vflip=vflip)
        for _ in range(2):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(stored, format="rgb24")))
        out.mux(stream.encode())
    want = np.rot90(stored, degrees // 90)  # counter-clockwise, then the mirrors
    want = want[:, ::-1] if hflip else want
    want = want[::-1] if vflip else want
    got = next(read_frames(path))
    assert got.shape == want.shape and np.abs(got.astype(int) - want).mean() < 6


def _timed_clip(path: Path, stamps: list[int], b_frames: bool) -> Path:
    """A clip whose frames are shown at `stamps` (in 1/90000 s), with or without B-frames."""
    import av
    from fractions import Fraction

    from faceobf.obfuscate.video_io import _container_format

    base = Fraction(1, 90000)
    codec = "libvpx-vp9" if path.suffix == ".webm" else "libx264"
    with av.open(str(path), "w", format=_container_format(path)) as out:
        stream = out.add_stream(codec, rate=30, options={} if b_frames or codec != "libx264" else {"bf": "0"})
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = stream.codec_context.time_base = base
        for k, stamp in enumerate(stamps):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 12 * k % 256, np.uint8), format="rgb24")
            frame.pts, frame.time_base = stamp, base
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def _stamps(path: Path) -> list[float]:
    import av

    with av.open(str(path)) as container:
        return [float(f.pts * f.time_base) for f in container.decode(container.streams.video[0])]


@pytest.mark.parametrize("timing", ["variable frame rate", "jitter", "B-frames"])
@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".mkv", ".webm"])
def test_every_frame_keeps_its_timestamp(tmp_path: Path, timing: str, suffix: str) -> None:
    rng = np.random.default_rng(3)
    if timing == "variable frame rate":  # gaps of 40-250 ms, as phones and screen recorders write
        stamps = np.concatenate([[0], np.cumsum(rng.choice([40, 60, 120, 250], 23))]) * 90
    elif timing == "jitter":  # 30 frames/s, each frame a third of a millisecond early or late
        stamps = np.arange(24) * 3000 + np.concatenate([[0], rng.choice([-30, 0, 30], 23)])
    else:
        stamps = np.arange(24) * 3000
    clip = _timed_clip(tmp_path / f"in{suffix}", [int(s) for s in stamps], b_frames=timing == "B-frames")
    out = tmp_path / f"out{suffix}"
    assert rewrite_video(clip, out, lambda i, frame: 255 - frame) == 24
    assert _stamps(out) == _stamps(clip) and len(set(_stamps(clip))) == 24


def test_a_clip_whose_timestamps_go_backwards_is_refused_with_a_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from faceobf.obfuscate import video_io

    clip = _timed_clip(tmp_path / "in.mp4", [k * 3000 for k in range(6)], b_frames=False)
    real = video_io._Display.__call__

    def stamps_repeat(self, frame):  # a broken muxer: the fourth frame claims the third's time
        if frame.pts == 9000:
            frame.pts = 6000
        return real(self, frame)

    monkeypatch.setattr(video_io._Display, "__call__", stamps_repeat)
    with pytest.raises(video_io.VideoReadError, match="not after the one before it") as error:
        rewrite_video(clip, tmp_path / "out.mp4", lambda i, frame: frame)
    assert "in.mp4" in str(error.value) and not (tmp_path / "out.mp4").exists()


def _astronaut_clip(path: Path, n: int = 10) -> Path:
    """The astronaut panning right and zooming in slowly: one face in every frame."""
    photo = data.astronaut()
    frames = []
    for k in range(n):
        scale = 1.0 + 0.02 * k
        matrix = np.array([[scale, 0, 3 * k - 256 * (scale - 1)], [0, scale, -256 * (scale - 1)]], np.float32)
        frames.append(cv2.resize(cv2.warpAffine(photo, matrix, (512, 512), borderMode=cv2.BORDER_REFLECT), (256, 256)))
    return write_video(path, frames, rate=10, tone_hz=330)


@pytest.mark.slow
def test_a_clip_gets_one_identity_per_track_every_frame_covered_and_a_report_per_track(obfuscator, tmp_path: Path,
                                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from faceobf.obfuscate import follow as follow_module
    from faceobf.obfuscate.follow import FollowSettings

    clip = _astronaut_clip(tmp_path / "in" / "walk.mp4")
    real_detect_twice = detect_module.detect_twice
    calls = {"n": 0}

    def blinking(photo, first, check):  # the first pass misses the face in the 5th frame (the check's sweep sees it)
        calls["n"] += 1
        faces, seen = real_detect_twice(photo, first, check)
        return ([] if calls["n"] == 5 else faces), seen

    monkeypatch.setattr(follow_module, "detect_twice", blinking)
    every_frame = replace(obfuscator, follow=FollowSettings(key_every=1))  # the full detectors on every frame
    out_dir = tmp_path / "out"
    summary, report = obfuscate_files(every_frame, collect_inputs([tmp_path / "in"]), out_dir, progress=False)
    assert summary.done == 1 and not summary.refused
    (entry,) = [e for e in report if e.get("input")]
    assert entry["frames"] == 10
    track = max(entry["tracks"], key=lambda t: t["detected"])  # the astronaut (CenterFace also fires on small patches)
    # one way in every frame: the blinked frame is redrawn from the track's landmarks too, never blurred between redraws
    assert track["frames"] == [0, 9] and track["not_refound"] == 1 and track["fallback"] == 0 and track["redrawn"] == 10
    assert sorted(track["flipped"]) == sorted(["Pointy_Nose", "Smiling", "Young", "Big_Nose"])
    out = Path(entry["output"])
    info = probe(out)
    assert (info.frames, info.rate, info.audio) == (10, 10, True)
    before, after = list(read_frames(clip)), list(read_frames(out))
    for k, (a, b) in enumerate(zip(before, after)):  # the face changed in every frame, the blinked one included
        box = (slice(60 + 0, 130), slice(85 + k, 135 + k))
        assert np.abs(a[box].astype(int) - b[box]).mean() > 4, f"frame {k} left the face as it was"
    records = [json.loads(line) for line in (out_dir / REPORT_NAME).read_text().splitlines()]
    assert records[0]["tracks"] == entry["tracks"]



@pytest.mark.parametrize("decoded_alike", [True, False])
def test_a_key_frames_sweep_is_reused_only_on_the_pixels_it_was_made_on(
        obfuscator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, decoded_alike: bool) -> None:
    """Key frames reuse the first pass's sweep of their pixels for the last check; should the second
    decode give other pixels, those frames get the whole sweep of the result instead."""
    from faceobf.obfuscate import pipeline as pipeline_module
    from faceobf.obfuscate import video as video_module

    clip = _astronaut_clip(tmp_path / "walk.mp4", n=6)
    if not decoded_alike:  # the first pass sees slightly brighter frames than the second
        monkeypatch.setattr(video_module, "read_frames",
                            lambda source: (np.clip(f.astype(int) + 3, 0, 255).astype(np.uint8)
                                            for f in read_frames(source)))
    reused, whole = [], []
    real_checked, real_detect = pipeline_module.checked_faces, pipeline_module.detect
    monkeypatch.setattr(pipeline_module, "checked_faces",
                        lambda *args: reused.append(1) or real_checked(*args))
    monkeypatch.setattr(pipeline_module, "detect", lambda photo, settings: whole.append(settings)
                        or real_detect(photo, settings))
    video_module.obfuscate_video(obfuscator, clip, tmp_path / "out.mp4")
    full = [s for s in whole if s == obfuscator.detection.last_check()]
    assert (len(reused) > 0, len(full) > 0) == ((True, False) if decoded_alike else (False, True))


def _uncovered(before: list[np.ndarray], after: list[np.ndarray], every: int = 3) -> list[int]:
    """Sampled frames in which dlib's CNN detector (used by neither of the tool's detectors) finds a face on the input
    whose box the output left as it was."""
    from faceobf.disentangle.landmarks import detect_faces

    left_alone = []
    for k in range(0, len(before), every):
        for face in detect_faces(before[k], detector="cnn"):
            x0, y0, x1, y1 = (max(0, v) for v in face.box)
            if np.abs(before[k][y0:y1, x0:x1].astype(int) - after[k][y0:y1, x0:x1]).mean() < 4:
                left_alone.append(k)
    return left_alone


@pytest.mark.slow
@pytest.mark.parametrize("scene", ["entering and leaving", "two faces crossing"])
def test_no_face_an_independent_detector_finds_is_left_as_it_was(obfuscator, tmp_path: Path, scene: str) -> None:
    face = cv2.resize(np.ascontiguousarray(data.astronaut()[20:240, 130:330]), (110, 120), interpolation=cv2.INTER_AREA)
    background = np.full((200, 360, 3), 90, np.uint8)
    frames = []
    for k in range(16):
        if scene == "entering and leaving":  # from beyond the left edge to beyond the right
            frames.append(paste_face(background, face, -90 + 28 * k, 40))
        else:  # one face moving right, one left, crossing in the middle
            frames.append(paste_face(paste_face(background, face, 10 + 14 * k, 30), face[:, ::-1].copy(), 240 - 14 * k, 50))
    clip = write_video(tmp_path / "in" / "scene.mp4", frames, rate=8)
    summary, report = obfuscate_files(obfuscator, collect_inputs([tmp_path / "in"]), tmp_path / "out", progress=False)
    (entry,) = [e for e in report if e.get("input")]
    assert summary.done == 1 and entry["frames"] == 16 and probe(Path(entry["output"])).frames == 16
    assert _uncovered(list(read_frames(clip)), list(read_frames(entry["output"]))) == []


@pytest.mark.slow
@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_a_clip_stored_turned_has_no_face_left_on_any_displayed_frame(obfuscator, tmp_path: Path, rotation: int) -> None:
    from faceobf.disentangle.landmarks import detect_faces

    face = cv2.resize(np.ascontiguousarray(data.astronaut()[20:240, 130:330]), (110, 120), interpolation=cv2.INTER_AREA)
    background = np.full((200, 360, 3), 90, np.uint8)
    frames = []
    for k in range(8):  # one face cut by the left edge, one at the right edge, drifting
        frames.append(paste_face(paste_face(background, face, -25 + k, 30 + k), face[:, ::-1].copy(), 250 - k, 60))
    assert all(len(detect_faces(f, detector="cnn")) == 2 for f in frames[::3])  # the check below is not vacuous
    clip = write_video(tmp_path / "in" / "portrait.mp4", frames, rate=8, rotation=rotation)
    summary, report = obfuscate_files(obfuscator, collect_inputs([tmp_path / "in"]), tmp_path / "out", progress=False)
    (entry,) = [e for e in report if e.get("input")]
    assert summary.done == 1 and entry["frames"] == 8 and len(entry["tracks"]) >= 2
    out = Path(entry["output"])
    info = probe(out)
    assert (info.width, info.height, info.orientation) == (360, 200, "upright")  # displays as the input does
    assert _uncovered(list(read_frames(clip)), list(read_frames(out)), every=1) == []


@pytest.mark.slow
@pytest.mark.parametrize("redrawable_share", [0.8, 0.2])
def test_a_track_is_redrawn_or_covered_the_same_way_in_every_frame(obfuscator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    redrawable_share: float) -> None:
    from dataclasses import replace

    from faceobf.obfuscate import follow as follow_module
    from faceobf.obfuscate.follow import FollowSettings

    clip = _astronaut_clip(tmp_path / "in" / "walk.mp4")
    real_detect_twice, calls = detect_module.detect_twice, {"n": 0}

    def some_unconfirmed(photo, first, check):  # the detectors confirm the face in only some frames of the first pass
        calls["n"] += 1
        found, seen = real_detect_twice(photo, first, check)
        confirmed = calls["n"] <= 10 and (calls["n"] % 10) < 10 * redrawable_share
        return (found if confirmed or calls["n"] > 10 else [replace(d, confirmed=False) for d in found]), seen

    monkeypatch.setattr(follow_module, "detect_twice", some_unconfirmed)
    every_frame = replace(obfuscator, follow=FollowSettings(key_every=1))  # the first pass's calls are its frames
    summary, report = obfuscate_files(every_frame, collect_inputs([clip]), tmp_path / "out", progress=False)
    (entry,) = [e for e in report if e.get("input")]
    track = max(entry["tracks"], key=lambda t: t["detected"])
    if redrawable_share > 0.5:
        assert (track["redrawn"], track["fallback"]) == (10, 0)
    else:
        assert (track["redrawn"], track["fallback"]) == (0, 10)


def test_a_broken_clip_is_refused_by_name_and_the_batch_goes_on(obfuscator, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video")
    good = np.full((48, 64, 3), 90, np.uint8)
    write_video(tmp_path / "in" / "empty.mkv", [good] * 4, rate=4)  # no face: refused unless --allow-no-face
    summary, report = obfuscate_files(obfuscator, collect_inputs([tmp_path / "in"]), tmp_path / "out", progress=False)
    by_name = {Path(e["input"]).name: e for e in report if e.get("input")}
    assert by_name["broken.mp4"]["status"] == "error" and "broken.mp4" in by_name["broken.mp4"]["error"]
    assert by_name["empty.mkv"]["status"] == "no_face" and summary.done == 0
    assert not (tmp_path / "out" / "in" / "broken.mp4").exists() and not (tmp_path / "out" / "in" / "empty.mkv").exists()
    summary, report = obfuscate_files(obfuscator, collect_inputs([tmp_path / "in" / "empty.mkv"]), tmp_path / "out2",
                                      progress=False, allow_no_face=True)
    (entry,) = [e for e in report if e.get("input")]
    assert entry["status"] == "no_face_allowed" and probe(Path(entry["output"])).frames == 4


@pytest.mark.slow
def test_clips_panned_over_real_photos_keep_their_frames_and_leave_no_face(obfuscator, real_photos: Path, tmp_path: Path) -> None:
    from faceobf.data.clips import face_clip
    from faceobf.disentangle.landmarks import detect_faces
    from faceobf.obfuscate.photo_io import read_photo

    chosen = []
    for path in sorted(real_photos.iterdir()):
        photo = read_photo(path) if path.suffix.lower() in (".jpg", ".png") else None
        faces = [f for f in detect_faces(photo) if f.box[2] - f.box[0] >= 80] if photo is not None and max(photo.shape[:2]) <= 1200 else []
        if faces:  # the view follows the face, which fills a third of the frame's height
            chosen.append((path.stem, photo, faces[0].box))
        if len(chosen) == 2:
            break
    assert chosen, f"no photo in {real_photos} has a frontal face of 80 px or more"
    for name, photo, box in chosen:
        clip = write_video(tmp_path / "in" / f"{name}.mp4", face_clip(photo, box, 12, (640, 360), face_height=1 / 3), rate=12)
        out = tmp_path / "out" / f"{name}.mp4"
        rewritten = obfuscate_files(obfuscator, collect_inputs([clip]), tmp_path / "out", progress=False, overwrite=True)[1]
        (entry,) = [e for e in rewritten if e.get("input")]
        assert entry["status"] == "done" and probe(out).frames == 12 and entry["tracks"], entry
        assert _uncovered(list(read_frames(clip)), list(read_frames(out))) == []

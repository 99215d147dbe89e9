"""Video through stage 3: every person one new identity for the whole clip, and no frame with a face left as it was.

Two passes over the clip. The first finds the faces of every frame (`faceobf.obfuscate.follow`: the full
detectors of `faceobf.obfuscate.detect` on key frames, each face followed in a window between them) and
links them into tracks (`faceobf.obfuscate.track`); for each track the attribute classifier reads up to
`READINGS` of its faces spread over the clip, their majority is the track's attributes, and the policy
chooses its flips once (keyed by the clip and the track, so a random policy is reproducible). Each track
is then treated one way in all its frames, so no frame flashes another face: a track whose detections
are mostly redrawable (`REDRAW_SHARE`) is redrawn in every frame with the track's attributes, flips and
smoothed landmarks (interpolated where the detectors blinked), and any other track gets the fallback (blur)
in every frame; only a frame where the face is narrower than `min_face` falls back alone. The second pass
does that to every frame; then the detectors run on the result (in full on key frames, the quick look over
the whole frame between them), and any face found where nothing changed gets the fallback too (or fails the clip with `on_miss="refuse"`). All of it runs on the frames as
displayed (`faceobf.obfuscate.video_io`), so a phone's portrait clip is seen upright. The report has one
entry per track.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np

from faceobf.disentangle.attributes import CELEBA_ATTRIBUTES
from faceobf.obfuscate.detect import Detection
from faceobf.obfuscate.follow import find_faces, quick_settings
from faceobf.obfuscate.pipeline import NoFaceError, Obfuscator, aligned_crop
from faceobf.obfuscate.policies import flipped_names
from faceobf.obfuscate.track import Track, link_tracks
from faceobf.obfuscate.video_io import read_frames, rewrite_video

NOT_REFOUND = "not re-found"  # the score key of a face a track predicts in a frame where no detector found it
READINGS = 8  # faces per track the attribute classifier reads (spread over the track); their majority is the track's
REDRAW_SHARE = 0.5  # a track is redrawn when at least this share of its detections may be redrawn, else covered
FRAME_BATCH = 8  # consecutive frames whose faces go through the networks in one batch


@dataclass
class TrackChoice:
    """What a track is drawn with in every frame."""

    attributes: np.ndarray  # (40,) the majority of the classifier's readings
    targets: np.ndarray  # (40,) after the policy's flips
    redrawable: bool  # the track is redrawn in every frame (else covered by the fallback in every frame)


def clip_key(path: Path) -> bytes:
    """A key of the clip's content (its first MiB and size), for the policies' reproducible draws."""
    with open(path, "rb") as f:
        head = f.read(1 << 20)
    return hashlib.sha256(head + str(path.stat().st_size).encode()).digest()


def _may_redraw(tool: Obfuscator, detection: Detection | None) -> bool:
    return detection is not None and tool.may_redraw(detection)


def choose_for_tracks(tool: Obfuscator, tracks: list[Track], samples: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]],
                      key: bytes) -> dict[int, TrackChoice]:
    """Each track's attributes (majority of its sampled readings) and the policy's targets for them."""
    choices = {}
    for track in tracks:
        mine = [samples[(track.id, f)] for f in track.detected if (track.id, f) in samples]
        redrawable = sum(_may_redraw(tool, track.faces[f].detection) for f in track.detected)
        if not mine or redrawable < REDRAW_SHARE * len(track.detected):
            choices[track.id] = TrackChoice(np.zeros(len(CELEBA_ATTRIBUTES), np.int8), np.zeros(len(CELEBA_ATTRIBUTES), np.int8), False)
            continue
        crops, points = [c for c, _ in mine], [p for _, p in mine]
        readings = tool.classifier.predict(np.stack(crops))
        majority = (readings.mean(axis=0) >= 0.5).astype(np.int8)
        track_key = int.from_bytes(hashlib.sha256(key + track.id.to_bytes(4, "little")).digest()[:8], "little")
        _, targets = tool.choose(crops[:1], points[:1], [track_key], attributes=majority[None])
        choices[track.id] = TrackChoice(majority, targets[0], True)
    return choices


def _frame_face(face) -> Detection:
    """A track's face in one frame as a detection with the track's smoothed landmarks (one it predicted where no detector
    re-found it gets a box and landmarks only)."""
    landmarks = face.landmarks.astype(np.float32)
    if face.detection is None:
        return Detection(tuple(int(round(v)) for v in face.box), {NOT_REFOUND: 0.0}, landmarks)
    return replace(face.detection, landmarks=landmarks)


def _digest(frame: np.ndarray) -> bytes:
    """A frame's pixels in 16 bytes (BLAKE2b)."""
    return hashlib.blake2b(np.ascontiguousarray(frame).data, digest_size=16).digest()


def _digested(frames, digests: dict[int, bytes]):
    """`frames`, passed on, each one's `_digest` kept in `digests` by index."""
    for index, frame in enumerate(frames):
        digests[index] = _digest(frame)
        yield frame


def sample_frames(frames: list[int], n: int = READINGS) -> list[int]:
    """Up to `n` of `frames`, spread evenly over them."""
    return frames if len(frames) <= n else [frames[round(i)] for i in np.linspace(0, len(frames) - 1, n)]


def obfuscate_video(tool: Obfuscator, source: Path, target: Path, before_rename: Callable[[dict], None] | None = None,
                    allow_no_face: bool = False, progress: Callable[[str, int], None] | None = None) -> dict:
    """Obfuscate the clip `source` into `target` (see the module's docstring); returns the report's fields (frames; face
    frames; those given the fallback; faces the last check found; one entry per track; `faces`: the tracks, and
    `fallbacks`: the tracks with a fallback in some frame, for the summary), also given to `before_rename` once the clip is complete and before it
    takes its name. `progress(pass, frames done)`. Raises `NoFaceError` for a clip without a face unless
    `allow_no_face`."""
    source, target = Path(source), Path(target)
    wanted: dict[int, list[tuple[int, Detection]]] = {}
    # each key frame's last-check sweep, used only on the pixels (digests) it was made on
    checks: dict[int, list[Detection]] = {}
    digests: dict[int, bytes] = {}
    found, keys = find_faces(_digested(read_frames(source), digests), tool.detection, tool.follow,
                             None if progress is None else lambda done: progress("detecting", done),
                             checks)
    key_frames, quick = set(keys), quick_settings(tool.detection, tool.follow.gate_side)
    tracks = link_tracks(found)
    for track in tracks:  # the faces each track's attributes are read from: some of those it may redraw
        for f in sample_frames([f for f in track.detected if _may_redraw(tool, track.faces[f].detection)]):
            wanted.setdefault(f, []).append((track.id, track.faces[f].detection))
    samples = {}
    if wanted:
        for index, frame in enumerate(read_frames(source)):
            for track_id, detection in wanted.get(index, []):
                crop, points, _ = aligned_crop(frame, detection.landmarks)
                samples[(track_id, index)] = (crop, points)
    if not tracks and not allow_no_face:
        raise NoFaceError("no face found in any frame")
    choices = choose_for_tracks(tool, tracks, samples, clip_key(source))
    by_frame: dict[int, list[tuple[Track, int]]] = {}
    for track in tracks:
        for f in track.faces:
            by_frame.setdefault(f, []).append((track, f))
    totals = {"frames": 0, "face_frames": 0, "fallback_frames": 0, "missed_then_covered": 0}
    per_track = {t.id: {"redrawn": 0, "fallback": 0} for t in tracks}

    def process(indices: list[int], frames: list[np.ndarray]) -> list[np.ndarray]:
        """Several consecutive frames: their faces redrawn in one batch, then each finished and checked."""
        here = [by_frame.get(index, []) for index in indices]
        faces = [[_frame_face(track.faces[f]) for track, f in mine] for mine in here]
        chosen = [{k: (choices[track.id].attributes, choices[track.id].targets) for k, ((track, _), face) in
                   enumerate(zip(mine, found_here)) if choices[track.id].redrawable and face.width >= tool.min_face}
                  for mine, found_here in zip(here, faces)]
        placed = tool.redraw_faces(frames, faces, chosen)
        results = []
        for index, frame, mine, found_here, drawn in zip(indices, frames, here, faces, placed):
            # the full last check on key frames (the sweep of the untouched frame, the result
            # searched again around the changes), the quick look between them (the followed faces
            # are all redrawn or covered)
            seen = checks.get(index) if digests.get(index) == _digest(frame) else None
            result, records = (tool.finish(frame, found_here, drawn, None, seen)
                               if index in key_frames
                               else tool.finish(frame, found_here, drawn, quick))
            for (track, _), face, record in zip(mine, found_here, records):  # the track's way, in every frame
                if record.method != "unet" and not choices[track.id].redrawable:
                    record.reason = "its track is covered in every frame: too few of its faces could be redrawn"
                elif NOT_REFOUND in face.scores:
                    record.reason = "predicted by its track, not re-found in this frame"
                per_track[track.id]["redrawn" if record.method == "unet" else "fallback"] += 1
            totals["face_frames"] += len(found_here)
            totals["fallback_frames"] += sum(r.method.startswith("fallback") for r in records[: len(found_here)])
            totals["missed_then_covered"] += len(records) - len(found_here)
            totals["frames"] = index + 1
            if progress is not None:
                progress("redrawing", index + 1)
            results.append(result)
        return results

    def report() -> dict:
        entries = []
        for track in tracks:
            choice = choices[track.id]
            entries.append({"track": track.id, "frames": [track.first, track.last], "detected": len(track.detected),
                            "not_refound": len(track.faces) - len(track.detected), **per_track[track.id],
                            "flipped": flipped_names(choice.attributes[None], choice.targets[None])[0] if choice.redrawable else []})
        return {**totals, "tracks": entries, "faces": len(tracks), "fallbacks": sum(e["fallback"] > 0 for e in entries)}

    rewrite_video(source, target, lambda index, frame: process([index], [frame])[0], batch=FRAME_BATCH,
                  process_many=process, before_rename=None if before_rename is None else lambda: before_rename(report()))
    return report()

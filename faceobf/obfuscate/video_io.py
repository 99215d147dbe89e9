"""Reading and writing video for the photo tool: frames as RGB arrays, the frame count, timing and audio kept.

PyAV (FFmpeg's libraries, shipped inside its wheel) decodes and encodes in process. It was chosen over
imageio-ffmpeg, which pipes raw frames to an ffmpeg binary. Both decode and encode 720p faster than
the tool redraws faces, so speed does not decide. PyAV keeps each frame's timestamp, so variable frame
rates survive. It also copies the audio packets into the output unchanged, where imageio-ffmpeg would
need a second ffmpeg run to put them back. The output container is the input's. The video is H.264
(VP9 for WebM), at a quality high enough not to add visible loss. Nothing but the streams is copied:
no metadata, no subtitles and no attachments reach the output.

Frames are handed out **as displayed**: a phone stores a portrait clip as landscape frames plus a display
matrix (90 degrees, sometimes a mirror), which FFmpeg's decoder does not apply. `read_frames` and
`rewrite_video` apply it (as FFmpeg's own player does), so the detectors see faces upright, and the
output is written upright without a display matrix: it displays as the input did. Every frame keeps its
timestamp, in the input's time base (variable frame rates, jitter and B-frames included); a container
that cannot hold them (AVI holds one frame rate) is refused with a sentence saying what to do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from faceobf.errors import FaceobfError
from faceobf.io import atomic_path, public_mode

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi")
ENCODERS = {".webm": ("libvpx-vp9", {"crf": "20", "b": "0", "deadline": "good", "cpu-used": "4"}),
            ".avi": ("libx264", {"crf": "16", "preset": "medium", "bf": "0"})}  # AVI cannot order B-frames
DEFAULT_ENCODER = ("libx264", {"crf": "16", "preset": "medium"})  # visually lossless for most footage


class VideoReadError(FaceobfError, ValueError):
    """A video that cannot be opened or decoded; the message names the file."""


Transform = Callable[[np.ndarray], np.ndarray]

# What FFmpeg's player (`fftools`) does to show a stored frame, as numpy, by name
DISPLAY: dict[str, Transform] = {
    "upright": lambda a: a,
    "turned 90 degrees clockwise": lambda a: np.rot90(a, -1),
    "turned 90 degrees counter-clockwise": lambda a: np.rot90(a, 1),
    "turned 90 degrees counter-clockwise and mirrored": lambda a: a.transpose(1, 0, 2),
    "turned 90 degrees clockwise and mirrored": lambda a: a[::-1, ::-1].transpose(1, 0, 2),
    "turned 180 degrees": lambda a: a[::-1, ::-1],
    "mirrored": lambda a: a[:, ::-1],
    "flipped upside down": lambda a: a[::-1],
}


def display_transform(matrix: Sequence[int] | None) -> tuple[Transform, str]:
    """(the function that turns a stored frame into the displayed one, its name) for an FFmpeg display
    matrix (nine int32, 16.16 fixed point, as MP4/MOV/MKV carry it), chosen as FFmpeg's player chooses:
    the rotation to the nearest quarter turn, its mirror from the matrix's signs."""
    if matrix is None:
        return DISPLAY["upright"], "upright"
    m = [float(v) for v in matrix]
    angle = np.degrees(np.arctan2(m[1] / max(np.hypot(m[1], m[4]), 1e-9),
                                  m[0] / max(np.hypot(m[0], m[3]), 1e-9)))
    clockwise = round(angle) % 360  # how far the stored frame is turned clockwise to display (av_display_rotation_get)
    if clockwise in (89, 90, 91):
        name = "turned 90 degrees counter-clockwise and mirrored" if m[3] > 0 else "turned 90 degrees clockwise"
    elif clockwise in (269, 270, 271):
        name = "turned 90 degrees clockwise and mirrored" if m[3] < 0 else "turned 90 degrees counter-clockwise"
    elif clockwise in (179, 180, 181):
        name = {(True, True): "turned 180 degrees", (True, False): "mirrored",
                (False, True): "flipped upside down", (False, False): "upright"}[(m[0] < 0, m[4] < 0)]
    elif clockwise in (359, 0, 1):
        name = "flipped upside down" if m[4] < 0 else "upright"
    else:
        raise VideoReadError(f"a display rotation of {clockwise} degrees (not a quarter turn) is not supported")
    return DISPLAY[name], name


def _frame_matrix(frame) -> list[int] | None:
    """The display matrix a decoded frame carries (FFmpeg hands the container's to every frame), or None."""
    import av

    # looked up by its type: PyAV 18.1.1 iterates the side data by type, 18.1.0 by the data itself
    side = frame.side_data.get(av.sidedata.sidedata.Type.DISPLAYMATRIX)
    return None if side is None else list(np.frombuffer(bytes(side), dtype="<i4", count=9))


@dataclass(frozen=True)
class VideoInfo:
    """What the tool keeps from an input video."""

    frames: int  # decoded frames (counted, not read from a header)
    rate: Fraction  # average frame rate
    width: int  # as displayed
    height: int
    audio: bool
    orientation: str = "upright"  # what displaying does to the stored frames ("turned 90 degrees clockwise": a portrait clip)


def is_video(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def _open(path: Path):
    import av

    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise VideoReadError(f"{path}: cannot open video ({exc})") from exc
    if not container.streams.video:
        container.close()
        raise VideoReadError(f"{path}: no video stream")
    return container


class _Display:
    """Turns decoded frames into uint8 RGB pixels as displayed; the clip's display matrix is its first frame's."""

    def __init__(self, path: Path):
        self.path, self.transform = path, None

    def __call__(self, frame) -> np.ndarray:
        if self.transform is None:
            try:
                self.transform, _ = display_transform(_frame_matrix(frame))
            except VideoReadError as exc:
                raise VideoReadError(f"{self.path}: {exc}") from None
        return np.ascontiguousarray(self.transform(frame.to_ndarray(format="rgb24")))


def _decoded(path: Path, container) -> Iterator[np.ndarray]:
    """Every frame of the first video stream, as displayed, in order."""
    import av

    display = _Display(path)
    try:
        for frame in container.decode(container.streams.video[0]):
            yield display(frame)
    except av.FFmpegError as exc:
        raise VideoReadError(f"{path}: cannot decode video ({exc})") from exc


def read_frames(path: str | os.PathLike) -> Iterator[np.ndarray]:
    """Every frame of the first video stream as uint8 (H, W, 3) RGB as displayed (its display matrix applied), in order."""
    with _open(Path(path)) as container:
        yield from _decoded(Path(path), container)


def probe(path: str | os.PathLike) -> VideoInfo:
    """Frame count (by decoding: headers lie), frame rate, size as displayed, audio, and how the frames are stored."""
    import av

    with _open(Path(path)) as container:
        stream = container.streams.video[0]
        frames, first = 0, None
        try:
            for frame in container.decode(stream):
                first = frame if first is None else first
                frames += 1
        except av.FFmpegError as exc:
            raise VideoReadError(f"{path}: cannot decode video ({exc})") from exc
        orientation = "upright" if first is None else display_transform(_frame_matrix(first))[1]
        turned = "90 degrees" in orientation
        width, height = (stream.height, stream.width) if turned else (stream.width, stream.height)
        return VideoInfo(frames, Fraction(stream.average_rate or stream.guessed_rate or 25), width, height,
                         bool(container.streams.audio), orientation)


def _displayed_size(path: Path) -> tuple[int, int]:
    """(width, height) of the first frame as displayed."""
    with _open(path) as container:
        for pixels in _decoded(path, container):
            return pixels.shape[1], pixels.shape[0]
    raise VideoReadError(f"{path}: no frame to decode")


def rewrite_video(source: str | os.PathLike, target: str | os.PathLike, process: Callable[[int, np.ndarray], np.ndarray],
                  before_rename: Callable[[], None] | None = None, progress: Callable[[int], None] | None = None,
                  batch: int = 1, process_many: Callable[[list[int], list[np.ndarray]], list[np.ndarray]] | None = None
                  ) -> int:
    """Write `target` (container from its suffix) with every frame of `source`, as displayed, replaced by
    `process(index, frame)` at the same timestamps, upright, and `source`'s audio copied unchanged; atomically (a
    temporary file renamed when complete, after `before_rename`). With `process_many`, up to `batch` consecutive
    frames at a time go to `process_many(indices, frames)` instead (one batch of redraws for several frames).
    Returns the number of frames written."""
    import av

    source, target = Path(source), Path(target)
    width, height = _displayed_size(source)
    written, last_pts = 0, None
    pending: list[tuple[np.ndarray, int, Fraction]] = []  # decoded frames (as displayed), their pts and time base

    def flush(vout, out) -> None:
        nonlocal written
        if not pending:
            return
        indices = list(range(written, written + len(pending)))
        frames = [pixels for pixels, _, _ in pending]
        images = process_many(indices, frames) if process_many is not None else [process(indices[0], frames[0])]
        if len(images) != len(frames):
            raise ValueError(f"{len(frames)} frames processed into {len(images)}: every frame must come back")
        for image, (_, pts, time_base) in zip(images, pending):
            new = av.VideoFrame.from_ndarray(np.ascontiguousarray(image, dtype=np.uint8), format="rgb24")
            new.pts, new.time_base = pts, time_base
            out.mux(vout.encode(new))
            written += 1
            if progress is not None:
                progress(written)
        pending.clear()

    with atomic_path(target, suffix=target.suffix) as tmp, _open(source) as inp:
        vin = inp.streams.video[0]
        ain = inp.streams.audio[0] if inp.streams.audio else None
        with av.open(str(tmp), "w", format=_container_format(target)) as out:
            vout = _video_stream(out, target, width, height, vin.average_rate or vin.guessed_rate or 25)
            vout.time_base = vout.codec_context.time_base = vin.time_base  # every frame's own timestamp, exactly
            aout = out.add_stream_from_template(ain) if ain is not None else None
            display = _Display(source)
            try:
                for packet in inp.demux(*([vin] + ([ain] if ain is not None else []))):
                    if packet.stream is ain:
                        if packet.dts is not None:
                            packet.stream = aout
                            out.mux(packet)
                        continue
                    for frame in packet.decode():
                        pixels = display(frame)
                        if last_pts is not None and frame.pts is not None and frame.pts <= last_pts:
                            raise VideoReadError(f"{source}: frame {written + len(pending)} has a timestamp ({frame.pts}) not after the "
                                                 f"one before it ({last_pts}); the clip's timing is broken: remux or "
                                                 "re-encode it (e.g. to .mp4) and try again")
                        last_pts = frame.pts
                        pending.append((pixels, frame.pts, frame.time_base))
                        if len(pending) >= (max(1, batch) if process_many is not None else 1):
                            flush(vout, out)
                flush(vout, out)
                out.mux(vout.encode())
            except av.FFmpegError as exc:
                raise VideoReadError(_encode_failure(source, target, exc)) from exc
        public_mode(tmp)
        if before_rename is not None:
            before_rename()
    return written


def _encode_failure(source: Path, target: Path, exc: Exception) -> str:
    """A sentence for a clip that decodes but cannot be written again: AVI holds one frame rate, so a clip whose
    frames come at uneven times cannot be kept in it; anything else is named as FFmpeg names it."""
    if target.suffix.lower() == ".avi":
        return (f"{source}: its frames come at uneven times (a variable frame rate), which AVI cannot store without "
                "changing them; convert it to .mp4 or .mkv (which keep every frame's time) and run faceobf on that")
    return f"{source}: cannot re-encode video ({exc})"


def _video_stream(out, target: Path, width: int, height: int, rate: Fraction):
    """The output video stream of `target`'s container: its encoder, size and rate (4:2:0 where the size allows)."""
    codec, options = ENCODERS.get(target.suffix.lower(), DEFAULT_ENCODER)
    stream = out.add_stream(codec, rate=rate, options=options)
    stream.width, stream.height = width, height
    stream.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
    return stream


def _container_format(target: Path) -> str:
    return {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi"}[target.suffix.lower()]


def write_video(target: str | os.PathLike, frames: Iterator[np.ndarray] | list[np.ndarray], rate: int | Fraction = 25,
                tone_hz: float | None = None, rotation: int = 0) -> Path:
    """Encode uint8 RGB `frames` as a video at `rate` (with a sine tone of `tone_hz` as an AAC or Opus audio track when
    given), atomically: clips for tests, benchmarks and the book, made from real photos. With `rotation` (90, 180,
    270), the frames are stored turned by that much clockwise, with a display matrix that turns them back, as a
    phone stores a portrait clip: the clip displays as `frames`."""
    import av

    target = Path(target)
    if rotation % 90:
        raise ValueError(f"rotation {rotation}: a multiple of 90 degrees")
    frames = [np.rot90(f, -(rotation // 90)) for f in frames]
    with atomic_path(target, suffix=target.suffix) as tmp:
        with av.open(str(tmp), "w", format=_container_format(target)) as out:
            height, width = frames[0].shape[:2]
            vout = _video_stream(out, target, width, height, Fraction(rate))
            if rotation % 360:
                vout.set_display_rotation(rotation % 360)  # counter-clockwise: undoes the clockwise turn
            aout = None
            if tone_hz is not None:
                aout = out.add_stream("libopus" if target.suffix.lower() == ".webm" else "aac", rate=48000)
                aout.layout = "mono"
            for frame in frames:
                out.mux(vout.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame, dtype=np.uint8), format="rgb24")))
            out.mux(vout.encode())
            if aout is not None:
                seconds = len(frames) / float(Fraction(rate))
                t = np.arange(int(48000 * seconds)) / 48000.0
                samples = (0.2 * np.sin(2 * np.pi * tone_hz * t)).astype(np.float32)
                for start in range(0, len(samples), 960):
                    chunk = samples[start : start + 960]
                    audio = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
                    audio.sample_rate, audio.pts = 48000, start
                    out.mux(aout.encode(audio))
                out.mux(aout.encode())
        public_mode(tmp)
    return target

"""Reading and writing video for the photo tool: frames as RGB arrays, the frame count, timing and audio kept.

PyAV (FFmpeg's libraries, shipped inside its wheel) decodes and encodes in process. It was chosen over
imageio-ffmpeg, which pipes raw frames to an ffmpeg binary. Both decode and encode 720p faster than
the tool redraws faces, so speed does not decide. PyAV keeps each frame's timestamp, so variable frame
rates survive. It also copies the audio packets into the output unchanged, where imageio-ffmpeg would
need a second ffmpeg run to put them back. The output container is the input's. The video is H.264
(VP9 for WebM), at a quality high enough not to add visible loss. Nothing but the streams is copied:
no metadata, no subtitles and no attachments reach the output.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from faceobf.errors import FaceobfError
from faceobf.io import atomic_path, public_mode

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi")
ENCODERS = {".webm": ("libvpx-vp9", {"crf": "20", "b": "0", "deadline": "good", "cpu-used": "4"}),
            ".avi": ("libx264", {"crf": "16", "preset": "medium", "bf": "0"})}  # AVI cannot order B-frames
DEFAULT_ENCODER = ("libx264", {"crf": "16", "preset": "medium"})  # visually lossless for most footage


class VideoReadError(FaceobfError, ValueError):
    """A video that cannot be opened or decoded; the message names the file."""


@dataclass(frozen=True)
class VideoInfo:
    """What the tool keeps from an input video."""

    frames: int  # decoded frames (counted, not read from a header)
    rate: Fraction  # average frame rate
    width: int
    height: int
    audio: bool


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


def read_frames(path: str | os.PathLike) -> Iterator[np.ndarray]:
    """Every frame of the first video stream as uint8 (H, W, 3) RGB, in order."""
    import av

    with _open(Path(path)) as container:
        try:
            for frame in container.decode(container.streams.video[0]):
                yield frame.to_ndarray(format="rgb24")
        except av.FFmpegError as exc:
            raise VideoReadError(f"{path}: cannot decode video ({exc})") from exc


def probe(path: str | os.PathLike) -> VideoInfo:
    """Frame count (by decoding: headers lie), frame rate, size and whether there is audio."""
    import av

    with _open(Path(path)) as container:
        stream = container.streams.video[0]
        try:
            frames = sum(1 for _ in container.decode(stream))
        except av.FFmpegError as exc:
            raise VideoReadError(f"{path}: cannot decode video ({exc})") from exc
        return VideoInfo(frames, Fraction(stream.average_rate or stream.guessed_rate or 25), stream.width, stream.height,
                         bool(container.streams.audio))


def rewrite_video(source: str | os.PathLike, target: str | os.PathLike, process: Callable[[int, np.ndarray], np.ndarray],
                  before_rename: Callable[[], None] | None = None, progress: Callable[[int], None] | None = None) -> int:
    """Write `target` (container from its suffix) with every frame of `source` replaced by `process(index, frame)` at
    the same timestamps, and `source`'s audio copied unchanged; atomically (a temporary file renamed when complete,
    after `before_rename`). Returns the number of frames written."""
    import av

    source, target = Path(source), Path(target)
    written = 0
    with atomic_path(target, suffix=target.suffix) as tmp, _open(source) as inp:
        vin = inp.streams.video[0]
        ain = inp.streams.audio[0] if inp.streams.audio else None
        with av.open(str(tmp), "w", format=_container_format(target)) as out:
            vout = _video_stream(out, target, vin.width, vin.height, vin.average_rate or vin.guessed_rate or 25)
            vout.time_base = vin.time_base
            aout = out.add_stream_from_template(ain) if ain is not None else None
            streams = [vin] + ([ain] if ain is not None else [])
            try:
                for packet in inp.demux(*streams):
                    if packet.stream is ain:
                        if packet.dts is not None:
                            packet.stream = aout
                            out.mux(packet)
                        continue
                    for frame in packet.decode():
                        image = process(written, frame.to_ndarray(format="rgb24"))
                        new = av.VideoFrame.from_ndarray(np.ascontiguousarray(image, dtype=np.uint8), format="rgb24")
                        new.pts, new.time_base = frame.pts, frame.time_base
                        out.mux(vout.encode(new))
                        written += 1
                        if progress is not None:
                            progress(written)
                out.mux(vout.encode())
            except av.FFmpegError as exc:
                raise VideoReadError(f"{source}: cannot re-encode video ({exc})") from exc
        public_mode(tmp)
        if before_rename is not None:
            before_rename()
    return written


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
                tone_hz: float | None = None) -> Path:
    """Encode uint8 RGB `frames` as a video at `rate` (with a sine tone of `tone_hz` as an AAC or Opus audio track when
    given), atomically: clips for tests, benchmarks and the book, made from real photos."""
    import av

    target = Path(target)
    frames = list(frames)
    with atomic_path(target, suffix=target.suffix) as tmp:
        with av.open(str(tmp), "w", format=_container_format(target)) as out:
            height, width = frames[0].shape[:2]
            vout = _video_stream(out, target, width, height, Fraction(rate))
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

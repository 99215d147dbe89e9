"""Decode + encode speed of a 720p clip with PyAV against imageio-ffmpeg: the measurement behind video_io's choice.

    python benchmarks/bench_video_io.py [--frames 60]     (needs imageio-ffmpeg, which faceobf does not install)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from skimage import data

from faceobf.obfuscate.video_io import rewrite_video, write_video


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=60)
    args = parser.parse_args()
    base = cv2.resize(data.astronaut(), (1280, 720))
    with tempfile.TemporaryDirectory() as tmp:
        clip = write_video(Path(tmp, "clip.mp4"), [np.roll(base, 4 * i, axis=1) for i in range(args.frames)], rate=30)
        start = time.perf_counter()
        n = rewrite_video(clip, Path(tmp, "av.mp4"), lambda i, frame: frame)
        print(f"PyAV (faceobf.obfuscate.video_io): {n / (time.perf_counter() - start):.1f} frames/s decode + encode at 720p")
        import imageio_ffmpeg

        start = time.perf_counter()
        reader = imageio_ffmpeg.read_frames(str(clip))
        meta = next(reader)
        writer = imageio_ffmpeg.write_frames(str(Path(tmp, "iio.mp4")), meta["size"], fps=meta["fps"], codec="libx264", macro_block_size=1)
        writer.send(None)
        n = 0
        for raw in reader:
            writer.send(np.frombuffer(raw, np.uint8).reshape(meta["size"][1], meta["size"][0], 3))
            n += 1
        writer.close()
        print(f"imageio-ffmpeg: {n / (time.perf_counter() - start):.1f} frames/s decode + encode at 720p")


if __name__ == "__main__":
    main()

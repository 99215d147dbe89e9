"""Video: frames per second of `faceobf obfuscate` on a 720p clip, and whether each track keeps one new person.

Clips are made from real photos (a folder of unaligned photos, e.g. photos-dev, or the astronaut), by a slow
pan and zoom over each photo: HOLD seconds per photo at 25 fps, scaled to 1280x720. Each clip is obfuscated
with the trained (or shipped) models of the profile; then `faceobf.evaluate.video_quality.clip_identity`
reads the input and output with dlib every 5th frame: the median distance between consecutive redrawn
faces of a track (one person: at most 0.35), the median distance to the input face (someone else: at least
0.6), and HOG faces left uncovered.

    python benchmarks/bench_video.py [FOLDER] [--profile cpu] [--clips 3] [--seconds 2]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from skimage import data

from common import print_backends
from faceobf import trained
from faceobf.data.clips import pan_zoom
from faceobf.evaluate.video_quality import clip_identity
from faceobf.obfuscate.inputs import collect_inputs
from faceobf.obfuscate.photo_io import read_photo
from faceobf.obfuscate.video import obfuscate_video
from faceobf.obfuscate.video_io import write_video
from faceobf.profiles import get_profile

SIZE, RATE = (1280, 720), 25


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?", help="photos to make clips from (default: the astronaut)")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--clips", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    print_backends(False, f"video, profile {args.profile}")
    tool = trained.obfuscator(get_profile(args.profile))
    tool.obfuscate_photo(data.astronaut())  # compile once
    photos = ([read_photo(i.path) for i in sorted(collect_inputs([args.folder]), key=lambda i: i.path.name) if not i.refusal]
              if args.folder else [data.astronaut()])
    frames = int(args.seconds * RATE)
    results = []
    for k, photo in enumerate(photos[: args.clips]):
        with tempfile.TemporaryDirectory() as tmp:
            clip = write_video(Path(tmp, "clip.mp4"), pan_zoom(photo, frames, SIZE), rate=RATE)
            start = time.perf_counter()
            report = obfuscate_video(tool, clip, Path(tmp, "out.mp4"))
            seconds = time.perf_counter() - start
            reading = clip_identity(clip, Path(tmp, "out.mp4"))
        results.append({"clip": k, "frames": report["frames"], "fps": round(report["frames"] / seconds, 2),
                        "tracks": len(report["tracks"]), **{key: reading[key] for key in
                                                            ("median_consecutive", "median_from_input",
                                                             "share_from_input_at_least_0.6", "uncovered_faces")}})
        print(json.dumps(results[-1]), flush=True)
    fps = [r["fps"] for r in results]
    print(f"\n{len(results)} clips at 1280x720: median {np.median(fps):.2f} frames/s")


if __name__ == "__main__":
    main()

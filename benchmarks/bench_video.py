"""Video: frames per second of `faceobf obfuscate` on a 720p clip, and whether each track keeps one new person.

Clips are made from real photos (a folder of unaligned photos, e.g. photos-dev, or the astronaut), by a slow
pan and zoom that follows the widest face of each photo with a face of at least 60 px (`faceobf.data.clips.face_clip`):
--seconds at 25 fps, 1280x720. Each clip is obfuscated
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
from itertools import islice

import numpy as np
from skimage import data

from common import obfuscate_face_clip, print_backends
from faceobf import trained
from faceobf.obfuscate.detect import detect
from faceobf.evaluate.video_quality import clip_identity
from faceobf.obfuscate.inputs import collect_inputs
from faceobf.obfuscate.photo_io import read_photo
from faceobf.profiles import get_profile

SIZE, RATE = (1280, 720), 25


def faces_to_follow(tool, paths, min_width: int = 60):
    """(name, photo, widest face) of each photo with a redrawable face at least `min_width` wide; the astronaut
    when `paths` is empty."""
    photos = ((p.name, read_photo(p)) for p in paths) if paths else [("astronaut", data.astronaut())]
    for name, photo in photos:
        faces = [f for f in detect(photo, tool.detection) if f.redrawable and f.width >= min_width]
        if faces:
            yield name, photo, max(faces, key=lambda f: f.width)


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
    paths = sorted((i.path for i in collect_inputs([args.folder]) if not i.refusal), key=lambda p: p.name) if args.folder else []
    frames = int(args.seconds * RATE)
    results = []
    for k, (name, photo, face) in enumerate(islice(faces_to_follow(tool, paths), args.clips)):
        with tempfile.TemporaryDirectory() as tmp:
            clip, out, seconds, report = obfuscate_face_clip(tool, photo, face.box, tmp, frames, SIZE, RATE)
            reading = clip_identity(clip, out)
        results.append({"clip": k, "photo": name, "frames": report["frames"], "fps": round(report["frames"] / seconds, 2),
                        "tracks": len(report["tracks"]), **{key: reading[key] for key in
                                                            ("median_consecutive", "median_from_input",
                                                             "share_from_input_at_least_0.6", "uncovered_faces")}})
        print(json.dumps(results[-1]), flush=True)
    fps = [r["fps"] for r in results]
    def median(key):
        values = [r[key] for r in results if r[key] is not None]
        return float(np.median(values)) if values else float("nan")

    print(f"\n{len(results)} clips at 1280x720: median {np.median(fps):.2f} frames/s; over the clips, median of the "
          f"consecutive-face distances {median('median_consecutive'):.3f} (one person: <= 0.35), from the input "
          f"{median('median_from_input'):.3f} (someone else: >= 0.6); uncovered faces "
          f"{sum(r['uncovered_faces'] for r in results)}")


if __name__ == "__main__":
    main()

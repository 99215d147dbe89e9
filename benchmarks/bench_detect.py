"""Face detection on real photos: faces found, lone detections and seconds per photo for each detector setting.

    python benchmarks/bench_detect.py ../shared/data/photos-dev/photos [--limit N] [--json out.json]

Every photo of photos-dev holds at least one face (a CelebA celebrity), so "photos with a face found"
is a lower bound on recall; lone detections (one detector only) are where false positives hide. Also
prints the calibration of `hog_box_from_five` from faces both detectors found.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from common import print_backends
from faceobf.disentangle.landmarks import detect_faces
from faceobf.obfuscate.detect import DetectorSettings, detect
from faceobf.obfuscate.photo_io import read_photo

SETTINGS = {
    "hog up1, full size (before)": None,
    "hog, size-aware": DetectorSettings(detectors=("hog",)),
    "centerface": DetectorSettings(detectors=("centerface",)),
    "hog + centerface (default)": DetectorSettings(),
}


def run(name: str, photo: np.ndarray) -> dict:
    t0 = time.perf_counter()
    if SETTINGS[name] is None:
        faces = detect_faces(photo, 1, "hog")
        record = {"faces": len(faces), "redrawable": len(faces), "lone": len(faces), "scores": [f.score for f in faces]}
    else:
        found = detect(photo, SETTINGS[name])
        record = {"faces": len(found), "redrawable": sum(d.redrawable for d in found), "lone": sum(len(d.scores) == 1 for d in found),
                  "scores": [d.scores for d in found], "errors": [d.landmark_error for d in found],
                  "calibration": [_calibration(d) for d in found if len(d.scores) == 2]}
    record["seconds"] = time.perf_counter() - t0
    return record


def _calibration(d) -> tuple[float, float]:
    """(centre position along eyes->mouth, side in eye-mouth distances) of the HOG box of a face both detectors saw."""
    five = d.five
    eyes, mouth = five[:2].mean(axis=0), five[3:].mean(axis=0)
    axis = mouth - eyes
    left, top, right, bottom = d.start_box
    return (0.0, 0.0) if not np.any(axis) else (float(np.dot(np.array([(left + right) / 2, (top + bottom) / 2]) - eyes, axis) / np.dot(axis, axis)),
                                                 float((right - left) / np.linalg.norm(axis)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS))
    parser.add_argument("--json")
    args = parser.parse_args()
    print_backends(False, "face detection on photos")
    files = sorted(p for p in Path(args.folder).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[: args.limit]
    results: dict[str, dict] = {}
    for path in files:
        photo = read_photo(path)
        results[path.name] = {"size": photo.shape[:2], **{name: run(name, photo) for name in args.settings}}
        if args.json:
            Path(args.json).write_text(json.dumps(results, default=float))
    for name in args.settings:
        rows = [r[name] for r in results.values()]
        seconds = np.array([r["seconds"] for r in rows])
        big = np.array([max(r["size"]) >= 2000 for r in results.values()])
        print(f"{name:30s} photos with a face {sum(r['faces'] > 0 for r in rows)}/{len(rows)} | faces {sum(r['faces'] for r in rows)} "
              f"| redrawable {sum(r['redrawable'] for r in rows)} | lone detections {sum(r['lone'] for r in rows)} "
              f"| s/photo mean {seconds.mean():.2f}, max {seconds.max():.1f}" + (f", >=2000 px mean {seconds[big].mean():.1f}" if big.any() else ""))


if __name__ == "__main__":
    main()

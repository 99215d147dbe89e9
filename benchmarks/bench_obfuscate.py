"""Seconds per photo of `faceobf obfuscate`, by stage: detection, redraw (classifier + U-Net + upscaler), blending
(the paste-back), last check; then frames per second on a 720p clip.

Photos: the astronaut (512x512), the same scaled to 1080p and to 4000 px, and a multi-face photo composed
of 12 CelebA-mini test images ($FACEOBF_DATA; else 12 astronauts), each under each detector setting, then
under the default detectors with the 64 px path (no upscaler, plain paste: the tool before the upscaler)
beside the default tool. Uses the trained (or shipped) models of a profile; compilation and loading are
excluded (one warm-up).

    python benchmarks/bench_obfuscate.py [--profile cpu] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace

import cv2
import numpy as np
from skimage import data

from common import obfuscate_face_clip, print_backends
from faceobf.obfuscate.detect import DetectorSettings, detect, detect_twice
from faceobf.profiles import get_profile
from faceobf import trained

SETTINGS = {"hog": DetectorSettings(detectors=("hog",)), "centerface": DetectorSettings(detectors=("centerface",)),
            "hog + centerface": DetectorSettings()}


def stages(obfuscator, photo: np.ndarray) -> dict[str, float]:
    """Wall seconds of each stage of `obfuscate_photos` for one photo (detection: the first pass and the last
    check's detectors on the untouched photo; last check: the search around the changes), and the faces found."""
    times = {}
    t0 = time.perf_counter()
    check = obfuscator.detection.last_check()
    faces, seen = detect_twice(photo, obfuscator.detection, check)  # the first pass, and the check's on the photo
    times["detection"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    redrawn = obfuscator.redraw_faces([photo], [faces])[0]
    times["redraw"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    result, changed, records = obfuscator.blend(photo, faces, redrawn)
    times["blending"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    _, records = obfuscator.last_check(result, changed, records, check, seen)
    times["last check"] = time.perf_counter() - t0
    times["total"] = sum(times.values())
    times["faces"] = len(records)
    return times


def photos() -> dict[str, np.ndarray]:
    astronaut = data.astronaut()
    out = {"astronaut 512x512": astronaut,
           "astronaut 1080x1080": cv2.resize(astronaut, (1080, 1080), interpolation=cv2.INTER_CUBIC),
           "astronaut 4000x4000": cv2.resize(astronaut, (4000, 4000), interpolation=cv2.INTER_CUBIC)}
    root = os.environ.get("FACEOBF_DATA")
    if root:
        from faceobf.data import CelebA

        ds = CelebA.open(root)
        tiles = [ds.read_aligned(int(r)) for r in ds.split("test")[::55][:12]]
    else:
        tiles = [cv2.resize(astronaut, (178, 218))] * 12
    rows = [np.concatenate(tiles[k : k + 4], axis=1) for k in range(0, 12, 4)]
    out["12 faces, 712x654"] = np.concatenate(rows, axis=0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--repeat", type=int, default=2, help="runs per photo and setting (the best is kept)")
    args = parser.parse_args()
    print_backends(False, f"faceobf obfuscate, profile {args.profile}")
    base = trained.obfuscator(get_profile(args.profile))
    base.obfuscate_photo(data.astronaut())  # warm-up: compile the networks
    for name, photo in photos().items():
        for setting, detection in SETTINGS.items():
            obfuscator = replace(base, detection=detection)
            best = min((stages(obfuscator, photo) for _ in range(args.repeat)), key=lambda t: t["total"])
            parts = " + ".join(f"{k} {best[k]:.2f}" for k in ("detection", "redraw", "blending", "last check"))
            print(f"{name:20s} {setting:17s} {best['total']:6.2f} s = {parts} ({best['faces']} faces)")
    plain64 = replace(trained.obfuscator(get_profile(args.profile), upscale=False), paste="plain")
    plain64.obfuscate_photo(data.astronaut())
    print("\nthe 64 px path (no upscaler, plain paste) beside the default tool, hog + centerface:")
    for name, photo in photos().items():
        for label, tool in (("64 px, plain", plain64), ("default", base)):
            best = min((stages(tool, photo) for _ in range(args.repeat)), key=lambda t: t["total"])
            print(f"{name:20s} {label:17s} {best['total']:6.2f} s (redraw {best['redraw']:.2f}, blending {best['blending']:.2f})")
    astronaut = data.astronaut()
    face = max(detect(astronaut, base.detection), key=lambda f: f.width)
    with tempfile.TemporaryDirectory() as tmp:
        _, _, seconds, report = obfuscate_face_clip(base, astronaut, face.box, tmp)
    print(f"\n720p clip (the astronaut, panned and zoomed): {report['frames']} frames in {seconds:.1f} s, "
          f"{report['frames'] / seconds:.2f} frames/s ({len(report['tracks'])} track)")


if __name__ == "__main__":
    main()

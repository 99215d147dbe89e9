"""Seconds per photo of `faceobf obfuscate`, split into detection, landmarks, generation and blending.

Uses the trained models of a profile (default cpu; train them first, see the README) on
`skimage.data.astronaut()` and on CelebA-mini test photos ($FACEOBF_DATA). Compilation and model
loading are excluded (one warm-up photo). Goal: under 1 s per photo on 2 CPU cores.

    python benchmarks/bench_obfuscate.py [--profile cpu] [--photos 20]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from skimage import data

from faceobf.dlib_models import frontal_detector, shape_predictor_68
from faceobf.disentangle.landmarks import detect_faces
from faceobf.obfuscate.align import CROP, apply_affine, similarity_to_template
from faceobf.obfuscate.pipeline import obfuscator_from_runs
from faceobf.profiles import get_profile


def breakdown(obfuscator, photo: np.ndarray) -> dict[str, float]:
    """Wall seconds of each part for one photo; 'blending' is the total minus the measured parts."""
    import cv2
    import dlib

    t0 = time.perf_counter()
    rects, _, _ = frontal_detector().run(photo, obfuscator.upsample, 0.0)
    t_detect = time.perf_counter() - t0
    t0 = time.perf_counter()
    for rect in rects:
        shape_predictor_68()(photo, dlib.rectangle(rect.left(), rect.top(), rect.right(), rect.bottom()))
    t_landmarks = time.perf_counter() - t0
    faces = detect_faces(photo, obfuscator.upsample)
    matrices = [similarity_to_template(face.landmarks) for face in faces]
    crops = [cv2.warpAffine(photo, m, (CROP, CROP), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT) for m in matrices]
    t0 = time.perf_counter()
    if faces:  # all faces of the photo are redrawn in one batch, as obfuscate_photo does
        obfuscator.redraw(crops, [apply_affine(m, f.landmarks) for m, f in zip(matrices, faces)], range(len(faces)))
    t_generate = time.perf_counter() - t0
    t0 = time.perf_counter()
    obfuscator.obfuscate_photo(photo, allow_no_face=True)
    total = time.perf_counter() - t0
    return {"detection": t_detect, "landmarks": t_landmarks, "generation": t_generate,
            "blending": max(0.0, total - t_detect - t_landmarks - t_generate), "total": total, "faces": len(rects)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--photos", type=int, default=20, help="CelebA-mini test photos to time")
    args = parser.parse_args()
    obfuscator = obfuscator_from_runs(get_profile(args.profile))
    astronaut = data.astronaut()
    obfuscator.obfuscate_photo(astronaut)  # warm-up: compile the networks
    sets = {"astronaut (512x512)": [astronaut]}
    root = os.environ.get("FACEOBF_DATA")
    if root:
        from faceobf.data import CelebA
        from faceobf.obfuscate.photo_io import read_photo

        ds = CelebA.open(root)
        sets[f"CelebA-mini test (178x218), {args.photos} photos"] = [read_photo(ds.image_path(int(r))) for r in ds.split("test")[: args.photos]]
    print(f"profile {args.profile}, detector hog (upsample {obfuscator.upsample}), {os.cpu_count()} CPU cores")
    for name, photos in sets.items():
        parts = [breakdown(obfuscator, p) for p in photos]
        mean = {k: float(np.mean([p[k] for p in parts])) for k in parts[0]}
        print(f"{name}: {mean['total']:.3f} s/photo = detection {mean['detection']:.3f} + landmarks {mean['landmarks']:.3f} "
              f"+ generation {mean['generation']:.3f} + blending {mean['blending']:.3f} ({mean['faces']:.2f} faces/photo)")


if __name__ == "__main__":
    main()

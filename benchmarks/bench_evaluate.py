"""Seconds per face of the machine assessor's steps (HOG detection + landmarks, descriptor, CNN detection),
and `read_faces` on one thread against one per core. Needs $FACEOBF_DATA (CelebA-mini test faces).

    FACEOBF_DATA=../shared/data/celeba-mini python benchmarks/bench_evaluate.py [--faces 40]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from faceobf.data import CelebA
from faceobf.evaluate.assess import read_faces
from faceobf.disentangle.landmarks import detect_faces, landmark_cache
from faceobf.recognition import face_descriptor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=40)
    args = parser.parse_args()
    dataset = CelebA.open()
    rows = dataset.split("test")[: args.faces]
    cache = landmark_cache(dataset, rows, progress=False)
    rows = rows[cache.detected[rows]]
    images = [dataset.read_aligned(int(r)) for r in rows]
    points = cache.landmarks[rows]
    face_descriptor(images[0], points[0])  # load the models once
    detect_faces(images[0], 0, "cnn")

    def per_face(step) -> float:
        start = time.perf_counter()
        for image, p in zip(images, points):
            step(image, p)
        return (time.perf_counter() - start) / len(images)

    print(f"{len(images)} CelebA-mini test faces (178x218), {os.cpu_count()} cores")
    print(f"HOG detection (upsample 1) + 68 landmarks: {per_face(lambda im, p: detect_faces(im, 1)):.3f} s/face")
    print(f"descriptor (dlib ResNet):                  {per_face(face_descriptor):.3f} s/face")
    print(f"CNN detection (upsample 0) + landmarks:    {per_face(lambda im, p: detect_faces(im, 0, 'cnn')):.3f} s/face")
    for workers in (1, os.cpu_count() or 1):
        start = time.perf_counter()
        read_faces(images, points, np.zeros(len(images), bool), workers=workers)
        print(f"read_faces, {workers} thread(s): {(time.perf_counter() - start) / len(images):.3f} s/face (HOG + landmarks + descriptor)")


if __name__ == "__main__":
    main()

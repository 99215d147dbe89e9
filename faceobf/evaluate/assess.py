"""What the machine sees in one processed face: does a detector still find it, its landmarks, its descriptor.

The attacker works like a real pipeline on the processed 178x218 image: dlib's HOG detector (and,
on a subset, its CNN detector), the 68-point predictor, the face recognition ResNet. Where HOG finds
no face the descriptor is taken at the original landmarks, i.e. an attacker who knows where the face
is (it is an aligned crop): a method is not credited with privacy just because detection failed.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from faceobf.data.images import FACE_CROP
from faceobf.disentangle.landmarks import detect_faces
from faceobf.recognition import face_descriptor


@dataclass(frozen=True)
class FaceReading:
    hog_found: bool
    landmarks: np.ndarray  # (68, 2) aligned pixels; NaN where HOG found no face
    descriptor: np.ndarray  # (128,)
    cnn_found: int  # 1/0, or -1 when the CNN detector was not run


def paste_crop(aligned: np.ndarray, crop: np.ndarray) -> np.ndarray:
    """The aligned image with its face crop (FACE_CROP) replaced by `crop`."""
    out = aligned.copy()
    out[FACE_CROP.top : FACE_CROP.top + FACE_CROP.size, FACE_CROP.left : FACE_CROP.left + FACE_CROP.size] = crop
    return out


def _covering(faces, points: np.ndarray):
    """The first detection whose box contains the centre of the original landmarks (the same face)."""
    cx, cy = np.asarray(points, np.float64).mean(axis=0)
    for face in faces:
        left, top, right, bottom = face.box
        if left <= cx <= right and top <= cy <= bottom:
            return face
    return None


def read_face(image: np.ndarray, original_points: np.ndarray, run_cnn: bool = False) -> FaceReading:
    """Detect, landmark and describe the face of a processed aligned image."""
    face = _covering(detect_faces(image, 1, "hog"), original_points)
    points = face.landmarks if face is not None else original_points
    cnn = -1
    if run_cnn:
        cnn = int(_covering(detect_faces(image, 0, "cnn"), original_points) is not None)
    landmarks = np.asarray(face.landmarks, np.float32) if face is not None else np.full((68, 2), np.nan, np.float32)
    return FaceReading(face is not None, landmarks, face_descriptor(image, points).astype(np.float32), cnn)


def read_faces(images: list[np.ndarray], original_points: np.ndarray, run_cnn: np.ndarray, workers: int = 1) -> list[FaceReading]:
    """`read_face` over many images, on `workers` threads (each with its own dlib models).

    One thread by default: dlib's ResNet already spreads over the cores, and on 2 cores two threads
    measured slower (0.117 against 0.098 s per face, `benchmarks/bench_evaluate.py`).
    """
    if workers <= 1:
        return [read_face(im, p, bool(c)) for im, p, c in zip(images, original_points, run_cnn)]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(read_face, images, original_points, run_cnn))

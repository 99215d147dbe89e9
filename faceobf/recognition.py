"""dlib's face recognition ResNet (128-d descriptors, 99.38% on LFW): the machine assessor's eyes.

Two faces are "the same person" for dlib when their descriptors are closer than 0.6 (Euclidean).
"""

from __future__ import annotations

import numpy as np

from faceobf.dlib_models import FACE_RECOGNITION_RESNET, model_path, per_thread

SAME_PERSON_THRESHOLD = 0.6


@per_thread
def face_recognizer():
    import dlib

    return dlib.face_recognition_model_v1(str(model_path(FACE_RECOGNITION_RESNET)))


def face_descriptor(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The 128-d descriptor of the face with these 68 (x, y) landmarks in uint8 RGB `image`."""
    import dlib

    pts = np.asarray(landmarks, np.float64)
    (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
    rect = dlib.rectangle(int(x0), int(y0), int(np.ceil(x1)), int(np.ceil(y1)))
    shape = dlib.full_object_detection(rect, [dlib.point(int(round(x)), int(round(y))) for x, y in pts])
    return np.asarray(face_recognizer().compute_face_descriptor(np.ascontiguousarray(image, dtype=np.uint8), shape))

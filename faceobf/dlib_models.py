"""Paths to dlib's model files shipped by the PyPI package `face_recognition_models`.

We locate the package with `importlib.util.find_spec`, which does not run its `__init__`
(that imports `pkg_resources`, removed from setuptools 82), and never download anything.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

SHAPE_PREDICTOR_68 = "shape_predictor_68_face_landmarks.dat"
FACE_RECOGNITION_RESNET = "dlib_face_recognition_resnet_model_v1.dat"
CNN_FACE_DETECTOR = "mmod_human_face_detector.dat"


class ModelFileError(FileNotFoundError):
    """A dlib model file is not installed; the message says how to install it."""


def model_path(filename: str) -> Path:
    """Absolute path of one of the .dat files of `face_recognition_models`."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError("the package face_recognition_models is not installed: pip install face_recognition_models==0.3.0")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / filename
    if not path.is_file():
        raise ModelFileError(f"{path} is missing; reinstall face_recognition_models==0.3.0")
    return path


@lru_cache(maxsize=None)
def frontal_detector():
    """dlib's HOG + linear SVM frontal face detector (loaded once per process)."""
    import dlib

    return dlib.get_frontal_face_detector()


@lru_cache(maxsize=None)
def shape_predictor_68():
    """dlib's 68-point shape predictor (iBUG 300-W layout), loaded once per process."""
    import dlib

    return dlib.shape_predictor(str(model_path(SHAPE_PREDICTOR_68)))


@lru_cache(maxsize=None)
def cnn_detector():
    """dlib's CNN (MMOD) face detector: slower than HOG on a CPU, better on rotated and small faces."""
    import dlib

    return dlib.cnn_face_detection_model_v1(str(model_path(CNN_FACE_DETECTOR)))

"""Paths to dlib's model files shipped by the PyPI package `face_recognition_models`.

We locate the package with `importlib.util.find_spec`, which does not run its `__init__`
(that imports `pkg_resources`, removed from setuptools 82), and never download anything.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from pathlib import Path

from faceobf.errors import FaceobfError

SHAPE_PREDICTOR_68 = "shape_predictor_68_face_landmarks.dat"
FACE_RECOGNITION_RESNET = "dlib_face_recognition_resnet_model_v1.dat"
CNN_FACE_DETECTOR = "mmod_human_face_detector.dat"


class ModelFileError(FaceobfError, FileNotFoundError):
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


_thread_local = threading.local()


def per_thread(load):
    """Cache what `load` returns once per thread: dlib's detectors and networks keep scratch state
    while they run (the HOG scanner loads the image, the ResNet keeps its layer outputs), so two
    threads must never share one instance."""

    @functools.wraps(load)
    def get():
        cache = _thread_local.__dict__.setdefault("models", {})
        if load.__qualname__ not in cache:
            cache[load.__qualname__] = load()
        return cache[load.__qualname__]

    return get


@per_thread
def frontal_detector():
    """dlib's HOG + linear SVM frontal face detector (loaded once per thread)."""
    import dlib

    return dlib.get_frontal_face_detector()


@per_thread
def shape_predictor_68():
    """dlib's 68-point shape predictor (iBUG 300-W layout), loaded once per thread."""
    import dlib

    return dlib.shape_predictor(str(model_path(SHAPE_PREDICTOR_68)))


@per_thread
def cnn_detector():
    """dlib's CNN (MMOD) face detector: slower than HOG on a CPU, better on rotated and small faces."""
    import dlib

    return dlib.cnn_face_detection_model_v1(str(model_path(CNN_FACE_DETECTOR)))

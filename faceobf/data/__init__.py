"""CelebA in its original layout: parsing and checks, face crops, an on-disk image cache, batches.

Names load on first use (PEP 562), so a command that only needs `faceobf.data.download` or the
file list never imports JAX through `batches`.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "Problem": "annotations", "read_annotations": "annotations",
    "Batch": "batches", "epoch_order": "batches", "iterate_batches": "batches",
    "CelebA": "dataset", "CelebAFormatError": "dataset", "sample_rows": "dataset",
    "FACE_CROP": "images", "CropBox": "images", "ImageReadError": "images",
    "crop_and_resize": "images", "read_rgb": "images",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    """Import the submodule that defines `name` the first time it is asked for."""
    if name not in _HOMES:
        raise AttributeError(f"module 'faceobf.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"faceobf.data.{_HOMES[name]}"), name)
    globals()[name] = value
    return value

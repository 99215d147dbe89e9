"""CelebA in its original layout: parsing and checks, face crops, an on-disk image cache, batches."""

from faceobf.data.annotations import Problem, read_annotations
from faceobf.data.batches import Batch, epoch_order, iterate_batches
from faceobf.data.dataset import CelebA, CelebAFormatError, sample_rows
from faceobf.data.images import FACE_CROP, CropBox, ImageReadError, crop_and_resize, read_rgb

__all__ = [
    "Batch", "CelebA", "CelebAFormatError", "CropBox", "FACE_CROP", "ImageReadError", "Problem",
    "crop_and_resize", "epoch_order", "iterate_batches", "read_annotations", "read_rgb", "sample_rows",
]

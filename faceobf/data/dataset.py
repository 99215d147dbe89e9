"""The CelebA data set object: splits, attribute names, identities and cached face crops."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from faceobf.errors import FaceobfError
from faceobf.data.annotations import (
    ATTR_FILE,
    IMAGE_DIR,
    SPLIT_NAMES,
    Annotations,
    Problem,
    read_annotations,
)
from faceobf.data.cache import ImageCache, dataset_key
from faceobf.data.images import FACE_CROP, CropBox, crop_and_resize, read_rgb
from faceobf.paths import cache_root, data_root


class CelebAFormatError(FaceobfError, ValueError):
    """The CelebA folder has defects; the message lists each with its file and line."""

    def __init__(self, root: Path, problems: list[Problem]):
        self.problems = problems
        shown = "\n".join(f"  {p}" for p in problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{root}: {len(problems)} problem(s) in the CelebA files:\n{shown}{more}\n(run `faceobf data check {root}`)")


def sample_rows(rows: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    """All `rows`, or a seeded random `limit` of them (sorted), so that small profiles span identities."""
    if limit is None or limit >= rows.size:
        return rows
    return np.sort(np.random.default_rng(seed).choice(rows, size=limit, replace=False))


@dataclass
class CelebA:
    """A checked CelebA folder. Rows follow the attribute file; `split('train')` gives row indices."""

    root: Path
    annotations: Annotations
    crop: CropBox = FACE_CROP

    @classmethod
    def open(cls, root: str | Path | None = None, crop: CropBox = FACE_CROP) -> "CelebA":
        """Read and cross-check the folder (default $FACEOBF_DATA); `CelebAFormatError` on any problem."""
        path = data_root(root)
        annotations = read_annotations(path)
        if annotations.problems:
            raise CelebAFormatError(path, annotations.problems)
        return cls(path, annotations, crop)

    @property
    def names(self) -> list[str]:
        return self.annotations.names

    @property
    def attribute_names(self) -> list[str]:
        return self.annotations.attribute_names

    @property
    def attributes(self) -> np.ndarray:
        """(N, 40) int8 in {0, 1}: 1 where the attribute is present."""
        return self.annotations.attributes

    @property
    def identities(self) -> np.ndarray:
        return self.annotations.identities

    def __len__(self) -> int:
        return len(self.names)

    def split(self, name: str) -> np.ndarray:
        """Row indices of the official 'train', 'val' or 'test' partition (identity-disjoint)."""
        if name not in SPLIT_NAMES:
            raise ValueError(f"unknown split {name!r}; choose one of {SPLIT_NAMES}")
        return np.flatnonzero(self.annotations.partition == SPLIT_NAMES.index(name))

    def image_path(self, row: int) -> Path:
        return self.root / IMAGE_DIR / self.names[row]

    def read_aligned(self, row: int) -> np.ndarray:
        """The original aligned image (218, 178, 3) uint8."""
        return read_rgb(self.image_path(row))

    @property
    def key(self) -> str:
        """Fingerprint of the data set (names and attribute file), used to key every cache."""
        return dataset_key(self.names, (self.root / ATTR_FILE).read_bytes())

    def cache_dir(self) -> Path:
        return cache_root() / f"celeba-{self.key}"

    def image_cache(self, resolution: int) -> ImageCache:
        """The on-disk cache of face crops at `resolution` for this data set and crop."""
        directory = self.cache_dir() / f"images-{self.crop.key}-r{resolution}"
        return ImageCache(directory, len(self), resolution, lambda row: crop_and_resize(self.read_aligned(row), self.crop, resolution))

    def images(self, rows: np.ndarray, resolution: int, progress: bool = True) -> np.ndarray:
        """uint8 (len(rows), R, R, 3) face crops, decoded once and then read from the cache."""
        return self.image_cache(resolution).get(rows, progress=progress)

    def float_images(self, rows: np.ndarray, resolution: int, progress: bool = True) -> np.ndarray:
        """float32 (len(rows), R, R, 3) face crops in [0, 1], the form the networks take."""
        return self.images(rows, resolution, progress=progress).astype(np.float32) / 255.0

    def summary(self) -> dict:
        """Counts a reader wants first: images, identities, images and identities per split."""
        out = {"images": len(self), "identities": int(np.unique(self.identities).size)}
        for name in SPLIT_NAMES:
            rows = self.split(name)
            out[name] = {"images": int(rows.size), "identities": int(np.unique(self.identities[rows]).size)}
        return out

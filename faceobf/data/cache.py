"""A decoded-image cache on disk, so that epochs after the first never decode a JPEG.

One uint8 array of shape (N, R, R, 3) per (data set, crop, resolution), stored as a memory-mapped .npy
beside a bitmap of the rows already filled. Rows are decoded lazily, so a profile that touches 200
images decodes 200, and the full set can be filled once in the background.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from tqdm.auto import tqdm

from faceobf.errors import StaleCacheError
from faceobf.io import atomic_path


def dataset_key(names: Sequence[str], extra: bytes = b"") -> str:
    """A short fingerprint of a data set: its image names in order plus any annotation bytes."""
    digest = hashlib.sha1()
    digest.update("\n".join(names).encode())
    digest.update(extra)
    return digest.hexdigest()[:12]


class ImageCache:
    """Rows of decoded, cropped, resized images for one data set, filled on demand."""

    def __init__(self, directory: Path, n_images: int, resolution: int, decode: Callable[[int], np.ndarray]):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.resolution = resolution
        self._decode = decode
        self._data_path = self.directory / "images.npy"
        self._filled_path = self.directory / "filled.npy"
        shape = (n_images, resolution, resolution, 3)
        if self._data_path.exists():
            self.images = np.load(self._data_path, mmap_mode="r+")
            if self.images.shape != shape:
                raise StaleCacheError(f"{self._data_path}: cached shape {self.images.shape} does not match {shape}; delete the folder")
            self.filled = np.load(self._filled_path) if self._filled_path.exists() else np.zeros(n_images, bool)
        else:
            self.images = np.lib.format.open_memmap(self._data_path, mode="w+", dtype=np.uint8, shape=shape)
            self.filled = np.zeros(n_images, bool)

    def ensure(self, indices: Sequence[int] | np.ndarray, progress: bool = True) -> None:
        """Decode every row of `indices` not cached yet, then persist the bitmap atomically."""
        indices = np.asarray(indices, dtype=np.int64)
        missing = indices[~self.filled[indices]]
        if missing.size == 0:
            return
        for i in tqdm(missing, desc=f"decoding {missing.size} images", disable=not progress, leave=False):
            self.images[i] = self._decode(int(i))
        self.images.flush()
        self.filled[missing] = True
        with atomic_path(self._filled_path, suffix=".npy") as tmp:
            np.save(tmp, self.filled)

    def get(self, indices: Sequence[int] | np.ndarray, progress: bool = True) -> np.ndarray:
        """uint8 (len(indices), R, R, 3) images, decoding what is missing first."""
        self.ensure(indices, progress=progress)
        return np.asarray(self.images[np.asarray(indices, dtype=np.int64)])

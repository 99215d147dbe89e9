"""Stage 1, landmark factor: dlib's HOG face detector, the 68-point shape predictor, and heatmaps.

`detect_landmarks` returns the 68 (x, y) points of the largest face, or None when HOG finds none.
`LandmarkCache` runs it once over a data set and keeps the result on disk beside the image cache.
`landmark_heatmaps` turns the points into 68 Gaussian channels, the landmark factor fed to the U-Net.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm.auto import tqdm

from faceobf.errors import StaleCacheError, UsageError
from faceobf.dlib_models import frontal_detector, shape_predictor_68
from faceobf.io import save_npz

N_LANDMARKS = 68
# Index ranges of the iBUG 68-point layout.
JAW = slice(0, 17)
BROWS = slice(17, 27)
NOSE = slice(27, 36)
EYES = slice(36, 48)
MOUTH = slice(48, 68)


@dataclass(frozen=True)
class Face:
    """One detected face: box (left, top, right, bottom), HOG score and its 68 landmarks (x, y)."""

    box: tuple[int, int, int, int]
    score: float
    landmarks: np.ndarray

    @property
    def area(self) -> int:
        left, top, right, bottom = self.box
        return max(0, right - left) * max(0, bottom - top)


def as_uint8_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        if image.dtype.kind == "f":
            image = np.clip(image * 255.0 if image.max() <= 1.0 else image, 0, 255)
        image = image.astype(np.uint8)
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {image.shape}")
    return np.ascontiguousarray(image[..., :3])


DETECTORS = ("hog", "cnn")


def detect_faces(image: np.ndarray, upsample: int = 1, detector: str = "hog") -> list[Face]:
    """Every face the detector ('hog' or dlib's 'cnn') finds, with landmarks, largest first (ties: score)."""
    rgb = as_uint8_rgb(image)
    if detector == "hog":
        rects, scores, _ = frontal_detector().run(rgb, upsample, 0.0)
    elif detector == "cnn":
        from faceobf.dlib_models import cnn_detector

        found = cnn_detector()(rgb, upsample)
        rects, scores = [d.rect for d in found], [d.confidence for d in found]
    else:
        raise UsageError(f"unknown detector {detector!r}; choose one of {DETECTORS}")
    faces = []
    for rect, score in zip(rects, scores):
        shape = shape_predictor_68()(rgb, rect)
        points = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)
        faces.append(Face((rect.left(), rect.top(), rect.right(), rect.bottom()), float(score), points))
    # Upsampled HOG sometimes fires on small round objects: the real face is the largest box.
    return sorted(faces, key=lambda f: (f.area, f.score), reverse=True)


def detect_landmarks(image: np.ndarray, upsample: int = 1) -> np.ndarray | None:
    """(68, 2) float32 landmarks (x, y) of the largest face in `image`, or None when no face is found."""
    faces = detect_faces(image, upsample)
    return faces[0].landmarks if faces else None


def landmark_heatmaps(points: np.ndarray, resolution: int, sigma: float | None = None) -> np.ndarray:
    """(R, R, 68) float32 Gaussian heatmaps, one channel per landmark, peak 1 at the point.

    `points` are (x, y) in the pixel frame of the R x R image; `sigma` defaults to R / 64
    (1.5 px at 96), wide enough to survive down-sampling in the U-Net encoder.
    """
    sigma = sigma if sigma is not None else max(1.0, resolution / 64)
    grid = np.arange(resolution, dtype=np.float32) + 0.0
    px = np.asarray(points, np.float32)
    dx2 = (grid[None, :] - px[:, 0:1]) ** 2  # (68, R) over x
    dy2 = (grid[None, :] - px[:, 1:2]) ** 2  # (68, R) over y
    maps = np.exp(-dy2[:, :, None] / (2 * sigma**2)) * np.exp(-dx2[:, None, :] / (2 * sigma**2))
    return np.transpose(maps, (1, 2, 0)).astype(np.float32)


# Named subsets of the 68 points (iBUG 300-W order) that stage 2 may be given instead of all of them.
LANDMARK_SUBSETS: dict[str, tuple[int, ...]] = {
    "all": tuple(range(N_LANDMARKS)),
    # sparse, in the spirit of CIAGAN: the face outline and the nose line; eyes, brows and mouth are left
    # for the generator to draw, so their identity-bearing geometry is not copied from the original
    "outline_nose": tuple(range(N_LANDMARKS))[JAW] + tuple(range(N_LANDMARKS))[NOSE],
}


def landmark_subset(name: str) -> tuple[int, ...]:
    """Indices of the named landmark subset; a clear error listing the names otherwise."""
    try:
        return LANDMARK_SUBSETS[name]
    except KeyError:
        raise UsageError(f"unknown landmark subset {name!r}; choose one of {', '.join(LANDMARK_SUBSETS)}") from None


class LandmarkCache:
    """Landmarks of every image of a data set, computed once with HOG at `upsample`, kept as .npz.

    Arrays (one row per image, in data set order): `landmarks` (N, 68, 2) in aligned-image pixels,
    `detected` (N,) whether HOG found a face, `computed` (N,) whether the row was processed, `score`.
    """

    def __init__(self, directory: Path, n_images: int, upsample: int = 1):
        self.path = Path(directory) / f"landmarks-hog-up{upsample}.npz"
        self.upsample = upsample
        if self.path.exists():
            with np.load(self.path) as data:
                self.landmarks = data["landmarks"]
                self.detected = data["detected"]
                self.computed = data["computed"]
                self.score = data["score"]
            if len(self.computed) != n_images:
                raise StaleCacheError(f"{self.path}: cached for {len(self.computed)} images, data set has {n_images}; delete it")
        else:
            self.landmarks = np.zeros((n_images, N_LANDMARKS, 2), np.float32)
            self.detected = np.zeros(n_images, bool)
            self.computed = np.zeros(n_images, bool)
            self.score = np.zeros(n_images, np.float32)

    def save(self) -> None:
        save_npz(self.path, landmarks=self.landmarks, detected=self.detected, computed=self.computed, score=self.score)

    def ensure(self, rows: Sequence[int] | np.ndarray, read_image, progress: bool = True, save_every: int = 500) -> None:
        """Run detection on every row of `rows` not computed yet; `read_image(row)` gives the aligned image."""
        rows = np.asarray(rows, dtype=np.int64)
        todo = rows[~self.computed[rows]]
        for k, row in enumerate(tqdm(todo, desc="dlib landmarks", disable=not progress or todo.size == 0)):
            faces = detect_faces(read_image(int(row)), self.upsample)
            if faces:
                self.landmarks[row] = faces[0].landmarks
                self.score[row] = faces[0].score
                self.detected[row] = True
            self.computed[row] = True
            if (k + 1) % save_every == 0:
                self.save()
        if todo.size:
            self.save()

    def miss_report(self, rows: Sequence[int] | np.ndarray) -> dict:
        """How many of `rows` HOG missed: the pipeline excludes those from every stage needing landmarks."""
        rows = np.asarray(rows, dtype=np.int64)
        if not self.computed[rows].all():
            raise ValueError("landmarks not computed for all requested rows; call ensure() first")
        missed = int((~self.detected[rows]).sum())
        return {"images": int(rows.size), "missed": missed, "miss_rate": missed / max(1, rows.size)}


def landmark_cache(dataset, rows: Sequence[int] | np.ndarray, upsample: int = 1, progress: bool = True) -> LandmarkCache:
    """The data set's landmark cache with every row of `rows` computed (stored beside its image cache)."""
    cache = LandmarkCache(dataset.cache_dir(), len(dataset), upsample=upsample)
    cache.ensure(rows, dataset.read_aligned, progress=progress)
    return cache

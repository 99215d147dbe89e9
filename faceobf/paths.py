"""Where faceobf finds data and keeps caches and training runs (all set by environment variables)."""

from __future__ import annotations

import os
from pathlib import Path

from faceobf.errors import FaceobfError

DATA_ENV = "FACEOBF_DATA"
CACHE_ENV = "FACEOBF_CACHE"
RUNS_ENV = "FACEOBF_RUNS"


class DataNotFoundError(FaceobfError, FileNotFoundError):
    """Raised when no CelebA root is configured or the configured one does not exist."""


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The CelebA root: the argument, else $FACEOBF_DATA; a clear error when neither points at a folder."""
    value = root if root is not None else os.environ.get(DATA_ENV)
    if not value:
        raise DataNotFoundError(
            f"No CelebA folder given: pass one or set {DATA_ENV} to a folder holding "
            "img_align_celeba/ and list_attr_celeba.txt (see `faceobf data download --help`)."
        )
    path = Path(value).expanduser()
    if not path.is_dir():
        raise DataNotFoundError(f"{DATA_ENV} / data root {path} is not a folder.")
    return path


def cache_root() -> Path:
    """Decoded-image and landmark caches: $FACEOBF_CACHE, default ~/.cache/faceobf."""
    path = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "faceobf").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def runs_root() -> Path:
    """Training runs (checkpoints, histories): $FACEOBF_RUNS, default <cache>/runs."""
    path = Path(os.environ.get(RUNS_ENV) or cache_root() / "runs").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


PHOTOS_ENV = "FACEOBF_PHOTOS"


def photos_root() -> Path | None:
    """A folder of real unaligned photos for the photo tool's checks: $FACEOBF_PHOTOS, else `photos-dev/photos` beside
    $FACEOBF_DATA; None when there is no such folder (callers fall back to a sample photo or skip)."""
    value = os.environ.get(PHOTOS_ENV)
    if not value and os.environ.get(DATA_ENV):
        value = str(Path(os.environ[DATA_ENV]).expanduser().parent / "photos-dev" / "photos")
    return Path(value).expanduser() if value and Path(value).expanduser().is_dir() else None

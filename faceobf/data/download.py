"""Fetch the official CelebA files and verify them against the MD5 sums torchvision checks.

Sources: Google Drive (the official release, through `gdown`) or any mirror (`--url BASE`, files
fetched as BASE/<filename>); the Kaggle copy and local folders are read by `faceobf.data.sources`. Each file is downloaded to a temporary name beside its target, checked,
and only then renamed into place; a wrong checksum deletes the temporary file and raises, so nothing
half-written or unverified remains. The image zip is extracted into a temporary folder and renamed.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import urllib.request
import zipfile
from pathlib import Path
from typing import Callable, Sequence

from tqdm.auto import tqdm

from faceobf.errors import FaceobfError
from faceobf.data.annotations import IMAGE_DIR
from faceobf.data.celeba_files import CELEBA_FILES, RemoteFile  # noqa: F401 (re-exported)
from faceobf.io import atomic_path


HTML_HINT = ("Google Drive saves such a page in place of the file when its quota is exceeded ('Too many users have "
             "viewed or downloaded this file recently'); delete it and download again later, or use the Kaggle copy "
             "or a mirror (see `faceobf data --help`)")


class HTMLPageError(FaceobfError, ValueError):
    """A file that should be CelebA data is an HTML page."""


def is_html(path: Path) -> bool:
    """True when `path` starts like an HTML page (after whitespace and a byte-order mark)."""
    with open(path, "rb") as f:
        head = f.read(1024).lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<?xml")) or b"<html" in head[:256]


def check_not_html(path: Path) -> None:
    """Raise `HTMLPageError` naming `path` when it is an HTML page."""
    if is_html(path):
        raise HTMLPageError(f"{path} is an HTML page, not the CelebA file it is named after. {HTML_HINT}")


class ChecksumError(FaceobfError, ValueError):
    """A downloaded file's MD5 differs from the expected one; the file was deleted."""


def md5sum(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_url(url: str, target: Path) -> None:
    """Stream `url` into `target` with a progress bar."""
    with urllib.request.urlopen(url, timeout=60) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        with open(target, "wb") as out, tqdm(total=total, unit="B", unit_scale=True, desc=target.name.split(".part")[0], leave=False) as bar:
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
                bar.update(len(block))


def fetch_drive(drive_id: str, target: Path) -> None:
    """Download a Google Drive file with gdown (handles the large-file confirmation page)."""
    import gdown

    result = gdown.download(id=drive_id, output=str(target), quiet=False)
    if result is None:
        raise ConnectionError(f"gdown could not fetch Google Drive id {drive_id} (quota exceeded? try --url with a mirror)")


def download_file(remote: RemoteFile, root: Path, fetch: Callable[[Path], None]) -> Path:
    """Download one file into `root` unless a verified copy exists; raise `ChecksumError` on a mismatch."""
    target = root / remote.filename
    if target.is_file() and md5sum(target) == remote.md5:
        return target
    with atomic_path(target) as tmp:
        fetch(tmp)
        check_not_html(tmp)  # a quota page saved in place of the file gets its name, not an MD5 mismatch
        actual = md5sum(tmp)
        if actual != remote.md5:
            raise ChecksumError(f"{remote.filename}: MD5 {actual} != expected {remote.md5}; the download was deleted")
    return target


def extract_images(zip_path: Path, root: Path) -> Path:
    """Extract img_align_celeba.zip into root/img_align_celeba via a temporary folder (atomic rename)."""
    final = root / IMAGE_DIR
    if final.is_dir():
        return final
    staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=root))
    try:
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(staging)
        extracted = staging / IMAGE_DIR
        if not extracted.is_dir():
            raise ValueError(f"{zip_path}: archive has no top-level {IMAGE_DIR}/ folder")
        extracted.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def download_celeba(
    root: str | Path,
    url: str | None = None,
    files: Sequence[RemoteFile] | None = None,
    extract: bool = True,
    log: Callable[[str], None] = print,
) -> Path:
    """Download and verify every file of `files` into `root` (from `url` if given, else Google Drive)."""
    files = CELEBA_FILES if files is None else files
    root = Path(root).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    for remote in files:
        if url:
            source = url.rstrip("/") + "/" + remote.filename
            fetch = lambda tmp, source=source: fetch_url(source, tmp)
        else:
            fetch = lambda tmp, remote=remote: fetch_drive(remote.drive_id, tmp)
        log(f"{remote.filename}: fetching and checking MD5 {remote.md5}")
        download_file(remote, root, fetch)
    zip_names = [f.filename for f in files if f.filename.endswith(".zip")]
    if extract:
        for name in zip_names:
            extract_images(root / name, root)
    log(f"CelebA is in {root}; set FACEOBF_DATA={root}")
    return root

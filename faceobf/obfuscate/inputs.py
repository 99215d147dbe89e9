"""What `faceobf obfuscate` was given: every file named or found in a folder, each with its output path or the reason
it cannot be processed.

Nothing found is skipped in silence: a file of a format the tool does not read (a GIF, a HEIC, a text
file) and anything that is not a regular file (a FIFO, a device) become inputs with a `refusal`, so the
report names them. Folders are walked with their symbolic links followed, each real folder once (a link
loop ends there). The output folder, the report and the debris of an interrupted run are never read as
inputs, so an output folder inside the input folder does not grow a copy of itself on every run.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Iterable, NamedTuple

from faceobf.errors import FaceobfError
from faceobf.obfuscate.photo_io import FORMATS
from faceobf.obfuscate.video_io import VIDEO_SUFFIXES

READABLE = (*FORMATS, *VIDEO_SUFFIXES)  # photos and clips

# A temporary file of `faceobf.io.atomic_path` (".NAME.RANDOM.part[.SUFFIX]") that a killed run left behind.
DEBRIS = re.compile(r"^\..+\.[a-z0-9_]{8}\.part(\.[A-Za-z0-9]+)?$")
LOCK_NAME = ".faceobf.lock"


class InputNotFoundError(FaceobfError, FileNotFoundError):
    """A photo or folder given on the command line does not exist (a typo): refused before anything runs."""


class Input(NamedTuple):
    """One file the tool was given or found: where it is, where its output goes (relative to OUTDIR), and why it
    cannot be processed (None when it can)."""

    path: Path
    relative: Path
    refusal: str | None = None


def _kind(mode: int) -> str | None:
    """Why a file of this mode cannot be read as a photo, or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    for test, name in ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return f"not a regular file: {name}"
    return "not a regular file"


def refusal_of(path: Path) -> str | None:
    """Why `path` cannot be obfuscated without opening it (its kind, its suffix), or None."""
    try:
        kind = _kind(os.stat(path).st_mode)
    except OSError as exc:
        return f"cannot stat: {exc.strerror or exc}"
    if kind:
        return kind
    if path.suffix.lower() not in READABLE:
        what = f"format {path.suffix!r}" if path.suffix else "a file without a suffix"
        return (f"unsupported: {what} (faceobf reads photos: {', '.join(sorted(FORMATS))}; and videos: "
                f"{', '.join(VIDEO_SUFFIXES)}; convert it, e.g. to .png or .mp4)")
    return None


def _inside(path: Path, folders: list[Path]) -> bool:
    return any(path == f or f in path.parents for f in folders)


def _walk(folder: Path, excluded: list[Path]) -> list[Path]:
    """Every file below `folder` (links followed, each real folder once), the excluded paths and debris left out."""
    files, seen = [], set()
    for root, dirs, names in os.walk(folder, followlinks=True):
        real = Path(root).resolve()
        info = os.stat(real)
        key = (info.st_dev, info.st_ino)
        if key in seen or _inside(real, excluded):
            dirs[:] = []
            continue
        seen.add(key)
        dirs.sort()
        dirs[:] = [d for d in dirs if not _inside((Path(root) / d).resolve(), excluded)]
        for name in sorted(names):
            path = Path(root) / name
            if name == LOCK_NAME or DEBRIS.match(name) or path.resolve() in excluded:
                continue
            files.append(path)
    return files


BESIDE_SUFFIX = ".obfuscated"  # without -o, `x.jpg` is written beside itself as `x.obfuscated.jpg`


def input_root(paths: Iterable[str | os.PathLike]) -> Path:
    """The common folder output paths are relative to: the parent of each named file or folder, shared by all."""
    return Path(os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in paths]))


def is_beside_output(path: Path) -> bool:
    """Whether a file is named as a `BESIDE_SUFFIX` output of this tool (`x.obfuscated.jpg`)."""
    return Path(path.stem).suffix == BESIDE_SUFFIX and path.suffix.lower() in READABLE


def collect_inputs(paths: Iterable[str | os.PathLike], exclude: Iterable[str | os.PathLike] = (), beside: bool = False) -> list[Input]:
    """The inputs named by `paths` (files, and everything in folders), each with its output path relative to OUTDIR.

    Output paths mirror each input's place below `input_root(paths)` (a folder argument keeps its own
    name), so `a/x.jpg` and `b/x.jpg` stay apart; a file reached twice (named, inside a named folder,
    through a link) is one input. `exclude` (the output folder, the report) is never collected. With
    `beside` (no output folder: OUTDIR is the input root), each output is named `x.obfuscated.jpg` and
    files so named, earlier outputs, are not inputs. A path that does not exist raises InputNotFoundError
    (a typo, before anything runs).
    """
    paths = list(paths)
    excluded = [Path(p).resolve() for p in exclude]
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not os.path.lexists(path):
            raise InputNotFoundError(f"{path}: no such file or folder")
        if path.is_dir():
            found += [f for f in _walk(path, excluded) if not (beside and is_beside_output(f))]
        elif path.resolve() not in excluded:
            found.append(path)
    if not found:
        return []
    common = input_root(paths)
    inputs, seen = [], set()
    for file in found:
        identity = file.resolve()
        if identity in seen:
            continue
        seen.add(identity)
        relative = Path(os.path.abspath(file)).relative_to(common)
        if beside:
            relative = relative.with_name(relative.stem + BESIDE_SUFFIX + relative.suffix)
        inputs.append(Input(file, relative, refusal_of(file)))
    return inputs

"""What `faceobf obfuscate` was given: every file named or found in a folder, each with its output path or the reason
it cannot be processed.

Nothing found is skipped in silence: a file of a format the tool does not read (a GIF, a HEIC, a text
file), anything that is not a regular file (a FIFO, a device) and a folder that cannot be listed become
inputs with a `refusal`, so the report names them. Folders are walked with their symbolic links
followed, each real folder once (a link loop ends there); a file reached through a link is written under
its real path when that lies below the inputs' folder. What faceobf wrote itself is never read as an
input, whatever `-o` says now or said before: the output folder, reports, locks, the debris of an
interrupted run, files named `x.obfuscated.jpg`, and every output a report in a walked folder records
(they are counted in `left_out`), so no run obfuscates an earlier run's outputs again.
"""

from __future__ import annotations

import json
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
REPORT_NAME = "faceobf-report.jsonl"


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


def read_report(path: Path) -> list[dict]:
    """The input records of a JSON Lines report (a torn line from a killed run is ignored)."""
    records = []
    for line in Path(path).read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "input" in record:
            records.append(record)
    return records


def recorded_output(record: dict, report: Path) -> Path | None:
    """The absolute path of a record's output (reports before 2026-12 gave it relative to the working folder with
    `-o`; `output_relative` below the report's folder is then where it is)."""
    if not record.get("output"):
        return None
    if Path(record["output"]).is_absolute():
        return Path(record["output"])
    return report.parent / record["output_relative"] if record.get("output_relative") else None


def _recorded_outputs(folder: Path) -> set[Path]:
    """The real paths of every output the faceobf report in `folder` (if any) records."""
    report = folder / REPORT_NAME
    try:
        records = read_report(report) if report.is_file() else []
    except OSError:
        return set()
    return {out.resolve() for r in records if (out := recorded_output(r, report)) is not None}


def _bookkeeping(path: Path) -> bool:
    """A report, lock or temporary file of faceobf, known by its name: never an input, never worth a mention."""
    return path.name in (REPORT_NAME, LOCK_NAME) or bool(DEBRIS.match(path.name))


def _walk(folder: Path, excluded: list[Path], left_out: list[Path]) -> tuple[list[Path], list[Input]]:
    """(every file below `folder`, links followed, each real folder once, faceobf's own files and the excluded paths
    left out (into `left_out`); a refusal for each folder that cannot be listed)."""
    files, seen, unlisted = [], set(), []
    outputs: set[Path] = set().union(*(_recorded_outputs(up) for up in Path(os.path.abspath(folder)).parents))

    def cannot_list(error: OSError) -> None:
        where = Path(error.filename or folder)
        unlisted.append(Input(where, Path(where.name), f"cannot read folder: {error.strerror or error}"))

    for root, dirs, names in os.walk(folder, followlinks=True, onerror=cannot_list):
        real = Path(root).resolve()
        info = os.stat(real)
        key = (info.st_dev, info.st_ino)
        if key in seen or _inside(real, excluded):
            dirs[:] = []
            continue
        seen.add(key)
        dirs.sort()
        dirs[:] = [d for d in dirs if not _inside((Path(root) / d).resolve(), excluded)]
        outputs |= _recorded_outputs(Path(root))  # a report covers its folder and everything below it
        for name in sorted(names):
            path = Path(root) / name
            if _bookkeeping(path) or path.resolve() in excluded:
                continue
            if is_beside_output(path) or path.resolve() in outputs:  # an earlier run's output
                left_out.append(path)
                continue
            files.append(path)
    return files, unlisted


BESIDE_SUFFIX = ".obfuscated"  # without -o, `x.jpg` is written beside itself as `x.obfuscated.jpg`


def input_root(paths: Iterable[str | os.PathLike]) -> Path:
    """The common folder output paths are relative to: the parent of each named file or folder, shared by all."""
    return Path(os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in paths]))


def is_beside_output(path: Path) -> bool:
    """Whether a file is named as a `BESIDE_SUFFIX` output of this tool (`x.obfuscated.jpg`)."""
    return Path(path.stem).suffix == BESIDE_SUFFIX and path.suffix.lower() in READABLE


def beside_homes(paths: Iterable[str | os.PathLike]) -> list[tuple[Path, list[str]]]:
    """Without an output folder, where each named path's outputs, report and lock go: a folder's own, or a photo's
    folder; [(home, the paths it holds)] in the order first named, so every folder keeps its own report."""
    homes: dict[Path, tuple[Path, list[str]]] = {}
    for raw in paths:
        path = Path(raw)
        if not os.path.lexists(path):
            raise InputNotFoundError(f"{path}: no such file or folder")
        home = Path(os.path.abspath(path if path.is_dir() else path.parent))
        homes.setdefault(home.resolve(), (home, []))[1].append(str(raw))
    return list(homes.values())


def collect_inputs(paths: Iterable[str | os.PathLike], exclude: Iterable[str | os.PathLike] = (), beside: bool = False,
                   root: Path | None = None, left_out: list[Path] | None = None) -> list[Input]:
    """The inputs named by `paths` (files, and everything in folders), each with its output path relative to OUTDIR.

    Output paths mirror each input's place below `root` (default `input_root(paths)`: a folder argument
    keeps its own name), so `a/x.jpg` and `b/x.jpg` stay apart; a file reached twice (named, inside a named
    folder, through a link) is one input, placed at its real path when that is below `root`. `exclude`
    (the output folder, the report) is never collected, nor is anything faceobf wrote (see the module's
    docstring); what was left out is appended to `left_out`. With `beside` (no output folder), each output
    is named `x.obfuscated.jpg`. A path that does not exist raises InputNotFoundError (a typo, before
    anything runs).
    """
    paths = list(paths)
    excluded = [Path(p).resolve() for p in exclude]
    left_out = [] if left_out is None else left_out
    found: list[tuple[Path, Path]] = []  # (file, the named path it was found under)
    refusals: list[Input] = []
    for raw in paths:
        path = Path(raw)
        if not os.path.lexists(path):
            raise InputNotFoundError(f"{path}: no such file or folder")
        if path.is_dir():
            files, unlisted = _walk(path, excluded, left_out)
            found += [(f, path) for f in files]
            refusals += unlisted
        elif path.resolve() in excluded or _bookkeeping(path):
            continue
        elif is_beside_output(path) or path.resolve() in _recorded_outputs(path.parent):
            left_out.append(path)
        else:
            found.append((path, path.parent))
    if not found:
        return refusals
    common = Path(os.path.abspath(root)) if root is not None else input_root(paths)
    inputs, seen = [], set()
    for file, named in found:
        identity = file.resolve()
        if identity in seen:
            continue
        seen.add(identity)
        relative = Path(os.path.abspath(file)).relative_to(common)
        real = _below(identity, named.resolve())  # reached through a link to elsewhere in the same folder: its real place
        if real is not None:
            relative = Path(os.path.abspath(named)).relative_to(common) / real
        if beside:
            relative = relative.with_name(relative.stem + BESIDE_SUFFIX + relative.suffix)
        inputs.append(Input(file, relative, refusal_of(file)))
    return inputs + refusals


def _below(path: Path, folder: Path) -> Path | None:
    """`path` relative to `folder` when it lies below it, else None."""
    try:
        return path.relative_to(folder)
    except ValueError:
        return None

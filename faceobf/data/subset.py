"""CelebA-mini cut out of a full CelebA folder, byte for byte, so that its data-set key is the shipped models'.

The `cpu` profile's models ship with faceobf and are keyed by the data set they were trained on: CelebA-mini,
6,000 official images of 200 identities (30 each) with the official identity-disjoint split. A reader with the
full CelebA (on Colab, say) gets exactly that data set with `faceobf data mini SOURCE TARGET`: the same image
files, and annotation files made of the official rows for those images, in the official format. The chapters
then load the shipped models instead of training for hours.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable, Sequence

from faceobf.data.annotations import ATTR_FILE, IDENTITY_FILE, IMAGE_DIR, PARTITION_FILE
from faceobf.data.cache import dataset_key
from faceobf.data.sources import MissingSourceFileError, UnknownLayoutError, find_layout, write_official_lines
from faceobf.io import atomic_path

MINI_NAMES_FILE = Path(__file__).with_name("celeba_mini_images.txt")
PLUS_NAMES_FILE = Path(__file__).with_name("celeba_plus_images.txt")
MINI_KEY = "95e5095a50c1"  # dataset_key of CelebA-mini: the suffix of every shipped model's folder
COUNTED_FILES = (ATTR_FILE,)  # tables that start with a count line and a header line


def _names(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line and not line.startswith("#")]


def mini_names() -> list[str]:
    """The 6,000 image names of CelebA-mini, in the official order."""
    return _names(MINI_NAMES_FILE)


def plus_names() -> list[str]:
    """The 24,998 image names of CelebA-plus (train faces of 5,000 more people), in the official order."""
    return _names(PLUS_NAMES_FILE)


def mini_plus_names() -> list[str]:
    """CelebA-mini and CelebA-plus together (30,998 images; no person in both), in the official order."""
    return sorted(mini_names() + plus_names())


def _rows(path: Path, counted: bool) -> tuple[bytes | None, dict[str, bytes]]:
    """(header line or None, {image name: its row as written}) of one official annotation file, CRLF or LF."""
    lines = path.read_bytes().replace(b"\r\n", b"\n").split(b"\n")
    header, body = (lines[1], lines[2:]) if counted else (None, lines)
    return header, {line.split(b" ", 1)[0].decode(): line for line in body if line.strip()}


def _write_table(target: Path, names: Sequence[str], header: bytes | None, rows: dict[str, bytes]) -> None:
    """The official format: CRLF lines, counted tables with the number of rows and the header first."""
    lines = ([str(len(names)).encode(), header] if header is not None else []) + [rows[n] for n in names]
    write_official_lines(target, [line.decode() for line in lines])


def _place_image(source: Path, target: Path) -> None:
    """`target` as a hard link to `source` (no space used), else a copy; a finished file is kept on a rerun."""
    if target.is_file() and target.stat().st_size == source.stat().st_size:
        return
    with atomic_path(target) as tmp:
        tmp.unlink()
        try:
            os.link(source, tmp)
        except OSError:  # another file system, or links not allowed
            shutil.copyfile(source, tmp)


def cut_subset(source: str | os.PathLike, target: str | os.PathLike, names: Sequence[str] | None = None,
               log: Callable[[str], None] = print) -> str:
    """Write the CelebA subset `names` (default: CelebA-mini) of the full folder `source` into `target`; returns
    its data-set key. Images first, annotations last, so an interrupted cut is never taken for a finished one."""
    names = list(names) if names is not None else mini_names()
    layout = find_layout(source)
    files = {name: layout.files.get(name) for name in (ATTR_FILE, IDENTITY_FILE, PARTITION_FILE)}
    unusable = [name for name, path in files.items() if path is None or path.suffix != ".txt"]
    if unusable or layout.image_dir is None:
        raise UnknownLayoutError(f"{layout.root}: needs {', '.join(unusable) or IMAGE_DIR + '/'} in the official text "
                                 f"format; make an official folder first with `faceobf data import {layout.root} DIR`")
    tables = {name: _rows(path, name in COUNTED_FILES) for name, path in files.items()}
    for name, (_, rows) in tables.items():
        absent = [n for n in names if n not in rows]
        if absent:
            raise MissingSourceFileError(f"{files[name]}: no row for {len(absent)} of the {len(names)} images "
                                         f"(first: {', '.join(absent[:3])}); is it the full official file?")
    absent = [n for n in names if not (layout.image_dir / n).is_file()]
    if absent:
        raise MissingSourceFileError(f"{layout.image_dir}: {len(absent)} of the {len(names)} images are missing "
                                     f"(first: {', '.join(absent[:3])})")
    target = Path(target).expanduser()
    if target.resolve() == layout.root.resolve():
        raise UnknownLayoutError(f"{target}: the subset must go to another folder than its source")
    (target / IMAGE_DIR).mkdir(parents=True, exist_ok=True)
    for n in names:
        _place_image(layout.image_dir / n, target / IMAGE_DIR / n)
    for name, (header, rows) in tables.items():
        _write_table(target / name, names, header, rows)
    key = dataset_key(names, (target / ATTR_FILE).read_bytes())
    if names == mini_names():
        verdict = ("the shipped cpu models match it" if key == MINI_KEY else
                   f"its key {key} is not the shipped models' {MINI_KEY}: the source's attribute rows differ from the "
                   "official file (see `faceobf data check`), so the cpu models would be trained anew")
        log(f"CelebA-mini ({len(names):,d} images) in {target}: {verdict}; set FACEOBF_DATA={target}")
    else:
        log(f"{len(names):,d} images in {target} (key {key}); set FACEOBF_DATA={target}")
    return key


def union_folders(sources: Sequence[str | os.PathLike], target: str | os.PathLike,
                  log: Callable[[str], None] = print) -> str:
    """Write one official CelebA folder holding every image of the official-layout folders `sources` (e.g.
    CelebA-mini and CelebA-plus) and their annotation rows, in the official order; returns its data-set key,
    the same as `cut_subset` of those names from a full CelebA folder. A name in two sources must have the same
    rows there."""
    layouts = [find_layout(source) for source in sources]
    target = Path(target).expanduser()
    tables: dict[str, tuple[bytes | None, dict[str, bytes]]] = {}
    images: dict[str, Path] = {}
    for layout in layouts:
        if layout.image_dir is None or target.resolve() == layout.root.resolve():
            raise UnknownLayoutError(f"{layout.root}: needs {IMAGE_DIR}/ and must not be the target folder")
        for name in (ATTR_FILE, IDENTITY_FILE, PARTITION_FILE):
            path = layout.files.get(name)
            if path is None or path.suffix != ".txt":
                raise MissingSourceFileError(f"{layout.root}: needs {name} in the official text format")
            header, rows = _rows(path, name in COUNTED_FILES)
            known_header, known = tables.setdefault(name, (header, {}))
            clash = [n for n in rows if n in known and known[n] != rows[n]]
            if clash or header != known_header:
                raise UnknownLayoutError(f"{path}: {len(clash)} row(s) differ from another source's "
                                         f"(first: {', '.join(clash[:3]) or 'the header'})")
            known.update(rows)
        images.update({p.name: p for p in layout.image_dir.iterdir() if p.name in tables[ATTR_FILE][1]})
    names = sorted(tables[ATTR_FILE][1])
    absent = [n for n in names if n not in images or any(n not in rows for _, rows in tables.values())]
    if absent:
        raise MissingSourceFileError(f"{len(absent)} image(s) lack a file or an annotation row "
                                     f"(first: {', '.join(absent[:3])})")
    (target / IMAGE_DIR).mkdir(parents=True, exist_ok=True)
    for n in names:
        _place_image(images[n], target / IMAGE_DIR / n)
    for name, (header, rows) in tables.items():
        _write_table(target / name, names, header, rows)
    key = dataset_key(names, (target / ATTR_FILE).read_bytes())
    log(f"{len(names):,d} images of {len(layouts)} folders in {target} (key {key}); set FACEOBF_DATA={target}")
    return key

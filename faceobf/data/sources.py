"""CelebA from any common source: the official files, the Kaggle copy, or a mirror of the official Drive folder.

`CelebA.open` reads one layout, the official one (`img_align_celeba/` beside the three annotation `.txt`
files). The other common sources are recognised by `find_layout` and turned into it by `import_source`:
annotation files written in the official format (Kaggle's CSVs converted), the image folder linked, never
copied (202,599 JPEGs). Two failures get a name instead of a parse error: a file that is an HTML page (what
Google Drive saves in place of a file when its download quota is exceeded) and a file the source lacks (the
Kaggle copy has no identity file), with what needs it. Official annotation files are verified by their MD5
(the sums torchvision checks); a subset or a converted file is reported as such.
"""

from __future__ import annotations

import csv
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from faceobf.errors import FaceobfError
from faceobf.data.annotations import ATTR_FILE, IDENTITY_FILE, IMAGE_DIR, IMAGE_SUFFIXES, LANDMARKS_FILE, PARTITION_FILE
from faceobf.data.download import CELEBA_FILES, HTML_HINT, check_not_html, is_html, md5sum
from faceobf.io import atomic_path

OFFICIAL_MD5 = {f.filename: f.md5 for f in CELEBA_FILES}
OFFICIAL_IMAGES = 202_599
KAGGLE_DATASET = "jessicali9530/celeba-dataset"
ANNOTATION_FILES = (ATTR_FILE, IDENTITY_FILE, PARTITION_FILE)

# What each annotation file serves, for the error a source without it gets.
NEEDED_BY = {
    ATTR_FILE: "the 40 attributes, which every stage reads",
    PARTITION_FILE: "the official identity-disjoint train/val/test split, which every stage reads",
    IDENTITY_FILE: ("who is who: the evaluation (chapter 4, `faceobf evaluate`), the second recogniser, the seed's "
                    "protocol, the human test and the check that the splits share no person"),
}


class MissingSourceFileError(FaceobfError, FileNotFoundError):
    """The source lacks a file; the message says what needs it and where to get it."""


class UnknownLayoutError(FaceobfError, ValueError):
    """The folder matches none of the known CelebA layouts."""


@dataclass(frozen=True)
class Layout:
    """Where one source keeps each official file (None: the source lacks it), and its images."""

    name: str  # "official", "kaggle" or "drive-mirror"
    root: Path
    image_dir: Path | None  # the folder of JPEGs (None: not there, or only zipped)
    image_zip: Path | None  # img_align_celeba.zip, where the source has it packed
    files: dict[str, Path | None] = field(default_factory=dict)  # official name -> file in the source

    @property
    def missing(self) -> list[str]:
        return [name for name in ANNOTATION_FILES if self.files.get(name) is None]


def _first(*candidates: Path) -> Path | None:
    return next((p for p in candidates if p.is_file()), None)


def _image_folder(*candidates: Path) -> Path | None:
    """The first candidate folder that holds images directly (the Kaggle zip nests img_align_celeba twice)."""
    for folder in candidates:
        if folder.is_dir() and any(p.suffix.lower() in IMAGE_SUFFIXES for p in _some(folder)):
            return folder
    return None


def _some(folder: Path, n: int = 50):
    for k, p in enumerate(folder.iterdir()):
        if k >= n:
            return
        yield p


def find_layout(root: str | os.PathLike) -> Layout:
    """The layout of the CelebA source at `root`: official files, the Kaggle copy, or the official Drive folder."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise MissingSourceFileError(f"{root} is not a folder")
    kaggle_csv = root / "list_attr_celeba.csv"
    if kaggle_csv.is_file() or (root / IMAGE_DIR / IMAGE_DIR).is_dir():
        return Layout("kaggle", root, _image_folder(root / IMAGE_DIR / IMAGE_DIR, root / IMAGE_DIR), None, {
            ATTR_FILE: _first(kaggle_csv), PARTITION_FILE: _first(root / "list_eval_partition.csv"),
            IDENTITY_FILE: _first(root / IDENTITY_FILE, root / "identity_CelebA.csv"),
            LANDMARKS_FILE: _first(root / "list_landmarks_align_celeba.csv")})
    if (root / "Anno").is_dir() or (root / "Img").is_dir():
        return Layout("drive-mirror", root, _image_folder(root / "Img" / IMAGE_DIR, root / IMAGE_DIR),
                      _first(root / "Img" / "img_align_celeba.zip", root / "img_align_celeba.zip"), {
                          ATTR_FILE: _first(root / "Anno" / ATTR_FILE), IDENTITY_FILE: _first(root / "Anno" / IDENTITY_FILE),
                          PARTITION_FILE: _first(root / "Eval" / PARTITION_FILE, root / "Anno" / PARTITION_FILE),
                          LANDMARKS_FILE: _first(root / "Anno" / LANDMARKS_FILE)})
    if (root / ATTR_FILE).is_file() or (root / IMAGE_DIR).is_dir() or (root / "img_align_celeba.zip").is_file():
        return Layout("official", root, _image_folder(root / IMAGE_DIR), _first(root / "img_align_celeba.zip"),
                      {name: _first(root / name) for name in (*ANNOTATION_FILES, LANDMARKS_FILE)})
    raise UnknownLayoutError(
        f"{root} holds no CelebA layout faceobf knows: official ({ATTR_FILE} and {IMAGE_DIR}/), Kaggle "
        f"({KAGGLE_DATASET}: list_attr_celeba.csv and {IMAGE_DIR}/{IMAGE_DIR}/) or the official Drive folder "
        "(Anno/, Eval/, Img/)")


@dataclass
class SourceReport:
    """What `check_source` found: the layout, each file's state, the image count."""

    layout: Layout
    html_pages: list[Path]
    checksums: dict[str, str]  # official name -> "official", "differs from the official file (...)" or "no official checksum (...)"
    images: int | None

    @property
    def problems(self) -> list[str]:
        out = [f"{p} is an HTML page, not data. {HTML_HINT}" for p in self.html_pages]
        out += [missing_message(name, self.layout) for name in self.layout.missing]
        if self.layout.image_dir is None and self.layout.image_zip is None:
            out.append(f"no image folder found under {self.layout.root}")
        return out

    def text(self) -> str:
        lines = [f"CelebA source: {self.layout.root} ({self.layout.name} layout)"]
        for name in ANNOTATION_FILES:
            path = self.layout.files.get(name)
            lines.append(f"  {name:24s} {'missing' if path is None else str(path.relative_to(self.layout.root))}"
                         + (f": {self.checksums[name]}" if name in self.checksums else ""))
        where = self.layout.image_dir or self.layout.image_zip
        count = "" if self.images is None else f", {self.images:,d} images (the official release has {OFFICIAL_IMAGES:,d})"
        lines.append(f"  images: {'missing' if where is None else where.relative_to(self.layout.root)}{count}")
        lines += [f"problem: {p}" for p in self.problems]
        return "\n".join(lines)


def missing_message(name: str, layout: Layout) -> str:
    """Why a missing file matters and how to get it."""
    how = (f"download it alone (a few MB): `faceobf data download --root DIR --only {name}` and pass "
           f"`--{'identities' if name == IDENTITY_FILE else 'annotation'} DIR/{name}` to `faceobf data import`")
    lacks = "the Kaggle copy has no identity file" if (layout.name == "kaggle" and name == IDENTITY_FILE) else f"it is not in {layout.root}"
    return f"{name} is missing ({lacks}); it holds {NEEDED_BY[name]}. Get it: {how}"


def check_source(root: str | os.PathLike) -> SourceReport:
    """Layout, HTML pages, MD5 of each official annotation file, and the image count of a CelebA source."""
    layout = find_layout(root)
    html, checksums = [], {}
    for name, path in layout.files.items():
        if path is None:
            continue
        if is_html(path):
            html.append(path)
        elif name in ANNOTATION_FILES:
            if path.suffix == ".csv":
                checksums[name] = "no official checksum (Kaggle's CSV conversion)"
            else:
                actual = md5sum(path)
                checksums[name] = ("official (MD5 matches)" if actual == OFFICIAL_MD5[name]
                                   else f"differs from the official file (MD5 {actual}): a subset or a modified copy")
    if layout.image_zip is not None and layout.image_dir is None and is_html(layout.image_zip):
        html.append(layout.image_zip)
    images = None
    if layout.image_dir is not None:
        images = sum(1 for p in layout.image_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    return SourceReport(layout, html, checksums, images)


def _csv_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        return header, [row for row in reader if row]


def write_official_lines(target: Path, lines: list[str]) -> None:
    """`lines` as an official annotation file: CRLF line ends, written atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text("\r\n".join(lines) + "\r\n", newline="")


def _convert_csv(name: str, source: Path, target: Path) -> None:
    """One Kaggle CSV (image_id, values...) written in the official text format of `name`."""
    header, rows = _csv_rows(source)
    lines = [" ".join(row) for row in rows]
    if name in (ATTR_FILE, LANDMARKS_FILE):  # counted tables: a count line and the column names first
        lines = [str(len(rows)), " ".join(header[1:])] + lines
    write_official_lines(target, lines)


def import_source(root: str | os.PathLike, target: str | os.PathLike, identities: str | os.PathLike | None = None,
                  log=print) -> Path:
    """Make `target` an official-layout CelebA folder from the source at `root` (annotations written, images
    linked); `identities` supplies identity_CelebA.txt for a source without it. Returns `target`."""
    from faceobf.data.annotations import read_annotations
    from faceobf.data.download import extract_images

    report = check_source(root)
    layout = report.layout
    files = dict(layout.files)
    if identities is not None:
        files[IDENTITY_FILE] = Path(identities)
        if not files[IDENTITY_FILE].is_file():
            raise MissingSourceFileError(f"--identities {identities}: no such file")
        check_not_html(files[IDENTITY_FILE])
    if report.html_pages:
        check_not_html(report.html_pages[0])  # raises, naming the first page
    missing = [name for name in ANNOTATION_FILES if files.get(name) is None]
    if missing:
        raise MissingSourceFileError("\n".join(missing_message(name, layout) for name in missing))
    target = Path(target).expanduser()
    target.mkdir(parents=True, exist_ok=True)
    for name in (*ANNOTATION_FILES, LANDMARKS_FILE):
        path = files.get(name)
        if path is None:
            continue
        if path.suffix == ".csv":
            _convert_csv(name, path, target / name)
        elif path.resolve() != (target / name).resolve():
            with atomic_path(target / name) as tmp:
                shutil.copyfile(path, tmp)
    link = target / IMAGE_DIR
    if layout.image_dir is not None:
        if link.is_symlink() or not link.exists():
            if link.is_symlink():
                link.unlink()
            link.symlink_to(layout.image_dir.resolve(), target_is_directory=True)
    elif layout.image_zip is not None:
        extract_images(layout.image_zip, target)
    annotations = read_annotations(target)
    if annotations.problems:
        shown = "\n".join(f"  {p}" for p in annotations.problems[:10])
        raise UnknownLayoutError(f"{target}: the imported folder has {len(annotations.problems)} problem(s):\n{shown}")
    log(f"{layout.name} source {layout.root} imported into {target}: {len(annotations.names):,d} images; "
        f"set FACEOBF_DATA={target}")
    return target

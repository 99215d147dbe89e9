"""Parse and cross-check the CelebA annotation files in their original layout.

Every problem is reported as a `Problem` naming the file and the line, so that `faceobf data check`
can list all of them at once and the dataset loader can refuse a broken folder with a clear message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

IMAGE_DIR = "img_align_celeba"
ATTR_FILE = "list_attr_celeba.txt"
IDENTITY_FILE = "identity_CelebA.txt"
PARTITION_FILE = "list_eval_partition.txt"
LANDMARKS_FILE = "list_landmarks_align_celeba.txt"  # optional: the 5 official landmarks
SPLIT_NAMES = ("train", "val", "test")  # partition codes 0, 1, 2
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class Problem:
    """One defect in a CelebA folder: which file, which line (1-based; 0 = whole file), what is wrong."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


@dataclass
class Table:
    """Rows of one annotation file: image name -> values, plus the problems met while parsing it."""

    file: str
    rows: dict[str, list[str]] = field(default_factory=dict)
    header: list[str] = field(default_factory=list)
    line_of: dict[str, int] = field(default_factory=dict)  # image name -> 1-based line number
    problems: list[Problem] = field(default_factory=list)


def _lines(path: Path) -> list[str]:
    # CelebA ships CRLF line endings; keep line numbers aligned with what an editor shows.
    return path.read_text(encoding="utf-8", errors="replace").splitlines()


def _read_rows(table: Table, lines: list[str], first_line: int, n_values: int) -> None:
    """Fill `table.rows` from `lines`, which start at 1-based line number `first_line`."""
    for offset, raw in enumerate(lines):
        lineno = first_line + offset
        parts = raw.split()
        if not parts:
            continue
        if len(parts) != 1 + n_values:
            table.problems.append(
                Problem(table.file, lineno, f"expected {1 + n_values} columns (name + {n_values} values), found {len(parts)}")
            )
            continue
        name, values = parts[0], parts[1:]
        if name in table.rows:
            table.problems.append(Problem(table.file, lineno, f"duplicate image name {name}"))
            continue
        table.rows[name] = values
        table.line_of[name] = lineno


def parse_counted_table(path: Path, n_values: int | None = None) -> Table:
    """Parse a file with a count line, a header line and `name v1 .. vK` rows (attributes, landmarks)."""
    table = Table(path.name)
    lines = _lines(path)
    if len(lines) < 2:
        table.problems.append(Problem(path.name, 0, "file too short: needs a count line and a header line"))
        return table
    try:
        declared = int(lines[0].strip())
    except ValueError:
        table.problems.append(Problem(path.name, 1, f"first line must be the image count, found {lines[0].strip()[:40]!r}"))
        declared = None
    table.header = lines[1].split()
    expected = n_values if n_values is not None else len(table.header)
    if n_values is not None and len(table.header) != n_values:
        table.problems.append(Problem(path.name, 2, f"header names {len(table.header)} columns, expected {n_values}"))
    _read_rows(table, lines[2:], 3, expected)
    if declared is not None and declared != sum(1 for line in lines[2:] if line.strip()):
        table.problems.append(
            Problem(path.name, 1, f"count line says {declared} images but the file has {sum(1 for l in lines[2:] if l.strip())} rows")
        )
    return table


def parse_plain_table(path: Path) -> Table:
    """Parse a file of `name value` rows without a header (identities, partition)."""
    table = Table(path.name)
    _read_rows(table, _lines(path), 1, 1)
    return table


@dataclass
class Annotations:
    """The parsed, cross-checked annotations of one CelebA folder, in the attribute file's row order."""

    root: Path
    names: list[str]
    attribute_names: list[str]
    attributes: np.ndarray  # (N, 40) int8 in {0, 1}
    identities: np.ndarray  # (N,) int64
    partition: np.ndarray  # (N,) int8 in {0, 1, 2}
    landmarks5: np.ndarray | None  # (N, 5, 2) official landmarks when the optional file exists
    problems: list[Problem]


def read_annotations(root: Path) -> Annotations:
    """Parse all annotation files under `root` and cross-check them against each other and the images."""
    root = Path(root)
    problems: list[Problem] = []
    image_dir = root / IMAGE_DIR
    if not image_dir.is_dir():
        problems.append(Problem(IMAGE_DIR, 0, f"image folder {image_dir} is missing"))
        on_disk: set[str] = set()
    else:
        on_disk = {p.name for p in image_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}

    tables: dict[str, Table] = {}
    for fname, parser in ((ATTR_FILE, parse_counted_table), (IDENTITY_FILE, parse_plain_table), (PARTITION_FILE, parse_plain_table)):
        path = root / fname
        if not path.is_file():
            problems.append(Problem(fname, 0, f"required annotation file {path} is missing"))
            tables[fname] = Table(fname)
        else:
            tables[fname] = parser(path)
            problems.extend(tables[fname].problems)
    attr = tables[ATTR_FILE]
    ident = tables[IDENTITY_FILE]
    part = tables[PARTITION_FILE]

    landmarks_table = None
    if (root / LANDMARKS_FILE).is_file():
        landmarks_table = parse_counted_table(root / LANDMARKS_FILE, n_values=10)
        problems.extend(landmarks_table.problems)

    # Values: attributes are 1/-1, identities positive integers, partitions 0/1/2.
    bad: set[str] = set()
    for name, values in attr.rows.items():
        wrong = [v for v in values if v not in ("1", "-1")]
        if wrong:
            problems.append(Problem(ATTR_FILE, attr.line_of[name], f"{name}: attribute values must be 1 or -1, found {wrong[0]!r}"))
            bad.add(name)
    for name, values in ident.rows.items():
        if not values[0].isdigit():
            problems.append(Problem(IDENTITY_FILE, ident.line_of[name], f"{name}: identity must be a positive integer, found {values[0]!r}"))
            bad.add(name)
    for name, values in part.rows.items():
        if values[0] not in ("0", "1", "2"):
            problems.append(Problem(PARTITION_FILE, part.line_of[name], f"{name}: partition must be 0, 1 or 2, found {values[0]!r}"))
            bad.add(name)

    # Cross-checks: every image has a row in every file, every row has an image.
    if image_dir.is_dir():
        for fname, table in tables.items():
            if not (root / fname).is_file():
                continue
            for name in sorted(on_disk - table.rows.keys()):
                problems.append(Problem(fname, 0, f"image {IMAGE_DIR}/{name} has no row in this file"))
            for name in sorted(table.rows.keys() - on_disk):
                problems.append(Problem(fname, table.line_of[name], f"row for {name} but no such image in {IMAGE_DIR}/"))

    names = [n for n in attr.rows if n in ident.rows and n in part.rows and n in on_disk and n not in bad]
    attributes = np.array([[v == "1" for v in attr.rows[n]] for n in names], dtype=np.int8).reshape(len(names), len(attr.header))
    identities = np.array([int(ident.rows[n][0]) for n in names], dtype=np.int64)
    partition = np.array([int(part.rows[n][0]) for n in names], dtype=np.int8)
    landmarks5 = None
    if landmarks_table is not None and all(n in landmarks_table.rows for n in names):
        landmarks5 = np.array([[int(v) for v in landmarks_table.rows[n]] for n in names], dtype=np.float32).reshape(-1, 5, 2)
    return Annotations(root, names, attr.header, attributes, identities, partition, landmarks5, problems)

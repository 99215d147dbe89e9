"""Parsing and cross-checking of the CelebA annotation files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faceobf.cli import main
from faceobf.data import CelebA, CelebAFormatError, read_annotations
from tests.conftest import ATTRIBUTE_NAMES


def test_parses_counts_attributes_and_splits(celeba_dir: Path) -> None:
    ds = CelebA.open(celeba_dir)
    assert len(ds) == 12
    assert ds.attribute_names == ATTRIBUTE_NAMES
    assert ds.attributes.shape == (12, 40)
    assert set(np.unique(ds.attributes)) <= {0, 1}
    assert [ds.split(s).size for s in ("train", "val", "test")] == [6, 3, 3]
    summary = ds.summary()
    assert summary["identities"] == 4 and summary["test"]["identities"] == 1
    # The parsed values match the file: row 1, attribute 'Male'.
    row = (celeba_dir / "list_attr_celeba.txt").read_text().splitlines()[2].split()
    assert ds.attributes[0, ATTRIBUTE_NAMES.index("Male")] == (row[1 + ATTRIBUTE_NAMES.index("Male")] == "1")


def _edit_line(path: Path, lineno: int, new: str | None) -> None:
    lines = path.read_text().splitlines()
    if new is None:
        del lines[lineno - 1]
    else:
        lines[lineno - 1] = new
    path.write_text("\r\n".join(lines) + "\r\n")


def _messages(root: Path) -> list[str]:
    return [str(p) for p in read_annotations(root).problems]


def test_image_without_annotation_rows(celeba_dir: Path) -> None:
    (celeba_dir / "img_align_celeba" / "000001.jpg").rename(celeba_dir / "img_align_celeba" / "999999.jpg")
    messages = _messages(celeba_dir)
    assert any("image img_align_celeba/999999.jpg has no row" in m and m.startswith("list_attr_celeba.txt") for m in messages)
    assert any(m.startswith("list_attr_celeba.txt:3: row for 000001.jpg but no such image") for m in messages)


def test_row_without_image(celeba_dir: Path) -> None:
    (celeba_dir / "img_align_celeba" / "000005.jpg").unlink()
    messages = _messages(celeba_dir)
    assert "identity_CelebA.txt:5: row for 000005.jpg but no such image in img_align_celeba/" in messages
    assert "list_eval_partition.txt:5: row for 000005.jpg but no such image in img_align_celeba/" in messages


def test_wrong_column_count(celeba_dir: Path) -> None:
    path = celeba_dir / "list_attr_celeba.txt"
    line = path.read_text().splitlines()[3]
    _edit_line(path, 4, line.rsplit(" ", 1)[0])  # drop the last value of the second image
    assert "list_attr_celeba.txt:4: expected 41 columns (name + 40 values), found 40" in _messages(celeba_dir)


def test_values_other_than_plus_minus_one(celeba_dir: Path) -> None:
    path = celeba_dir / "list_attr_celeba.txt"
    line = path.read_text().splitlines()[4]
    _edit_line(path, 5, line[: line.rindex(" ")] + " 0")
    assert any(m.startswith("list_attr_celeba.txt:5: 000003.jpg: attribute values must be 1 or -1, found '0'") for m in _messages(celeba_dir))


def test_duplicate_names(celeba_dir: Path) -> None:
    path = celeba_dir / "list_eval_partition.txt"
    _edit_line(path, 2, "000001.jpg 0")
    messages = _messages(celeba_dir)
    assert "list_eval_partition.txt:2: duplicate image name 000001.jpg" in messages


def test_count_line_mismatch_and_bad_partition(celeba_dir: Path) -> None:
    _edit_line(celeba_dir / "list_attr_celeba.txt", 1, "13")
    _edit_line(celeba_dir / "list_eval_partition.txt", 7, "000007.jpg 5")
    messages = _messages(celeba_dir)
    assert "list_attr_celeba.txt:1: count line says 13 images but the file has 12 rows" in messages
    assert "list_eval_partition.txt:7: 000007.jpg: partition must be 0, 1 or 2, found '5'" in messages


def test_missing_file_is_named(celeba_dir: Path) -> None:
    (celeba_dir / "identity_CelebA.txt").unlink()
    assert any(m.startswith("identity_CelebA.txt: required annotation file") for m in _messages(celeba_dir))


def test_open_refuses_a_broken_folder_with_every_problem(celeba_dir: Path) -> None:
    (celeba_dir / "img_align_celeba" / "000005.jpg").unlink()
    with pytest.raises(CelebAFormatError) as info:
        CelebA.open(celeba_dir)
    assert "000005.jpg" in str(info.value) and len(info.value.problems) == 3


def test_cli_check_reports_counts_and_exit_codes(celeba_dir: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["data", "check", str(celeba_dir)]) == 0
    out = capsys.readouterr().out
    assert "images: 12" in out and "identities: 4" in out and "no problems found" in out
    assert "Male" in out
    (celeba_dir / "img_align_celeba" / "000002.jpg").unlink()
    assert main(["data", "check", str(celeba_dir)]) == 1
    assert "list_attr_celeba.txt:4: row for 000002.jpg but no such image" in capsys.readouterr().out


def test_cli_names_a_missing_data_root(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FACEOBF_DATA", raising=False)
    assert main(["data", "check"]) == 2
    assert "FACEOBF_DATA" in capsys.readouterr().err

"""CelebA from the official layout, the Kaggle copy and the official Drive folder; HTML pages and missing files named."""

from __future__ import annotations

import csv
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from faceobf.data import CelebA
from faceobf.data.annotations import ATTR_FILE, IDENTITY_FILE, PARTITION_FILE
from faceobf.data.download import HTMLPageError, is_html
from faceobf.data.sources import MissingSourceFileError, UnknownLayoutError, check_source, find_layout, import_source

QUOTA_PAGE = "<!DOCTYPE html><html><head><title>Google Drive - Quota exceeded</title></head><body>Too many users have viewed or downloaded this file recently.</body></html>"


def _table(path: Path, counted: bool) -> tuple[list[str], list[list[str]]]:
    lines = [line.split() for line in path.read_text().splitlines() if line.strip()]
    return (["image_id", *lines[1]], lines[2:]) if counted else (["image_id", "value"], lines)


def kaggle_copy(official: Path, root: Path) -> Path:
    """The Kaggle layout of an official folder: CSV annotations (no identity file), images nested twice."""
    (root / "img_align_celeba").mkdir(parents=True)
    shutil.copytree(official / "img_align_celeba", root / "img_align_celeba" / "img_align_celeba")
    for name, csv_name, counted in ((ATTR_FILE, "list_attr_celeba.csv", True), (PARTITION_FILE, "list_eval_partition.csv", False)):
        header, rows = _table(official / name, counted)
        if not counted:
            header = ["image_id", "partition"]
        with open(root / csv_name, "w", newline="") as f:
            csv.writer(f).writerows([header, *rows])
    return root


def drive_mirror(official: Path, root: Path) -> Path:
    """The official Google Drive folder: Anno/, Eval/ and Img/img_align_celeba.zip."""
    for sub in ("Anno", "Eval", "Img"):
        (root / sub).mkdir(parents=True)
    shutil.copyfile(official / ATTR_FILE, root / "Anno" / ATTR_FILE)
    shutil.copyfile(official / IDENTITY_FILE, root / "Anno" / IDENTITY_FILE)
    shutil.copyfile(official / PARTITION_FILE, root / "Eval" / PARTITION_FILE)
    with zipfile.ZipFile(root / "Img" / "img_align_celeba.zip", "w") as z:
        for p in sorted((official / "img_align_celeba").iterdir()):
            z.write(p, f"img_align_celeba/{p.name}")
    return root


def assert_same_dataset(a: Path, b: Path) -> None:
    x, y = CelebA.open(a), CelebA.open(b)
    assert x.names == y.names and x.attribute_names == y.attribute_names
    np.testing.assert_array_equal(x.attributes, y.attributes)
    np.testing.assert_array_equal(x.identities, y.identities)
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(x.split(split), y.split(split))


def test_layouts_are_recognised(celeba_dir: Path, tmp_path: Path) -> None:
    assert find_layout(celeba_dir).name == "official"
    assert find_layout(kaggle_copy(celeba_dir, tmp_path / "kaggle")).name == "kaggle"
    assert find_layout(drive_mirror(celeba_dir, tmp_path / "drive")).name == "drive-mirror"
    (tmp_path / "empty").mkdir()
    with pytest.raises(UnknownLayoutError, match="Kaggle"):
        find_layout(tmp_path / "empty")


def test_kaggle_copy_names_the_missing_identity_file_and_imports_with_it(celeba_dir: Path, tmp_path: Path) -> None:
    source = kaggle_copy(celeba_dir, tmp_path / "kaggle")
    report = check_source(source)
    assert report.layout.missing == [IDENTITY_FILE] and report.images == 12
    assert any("identity_CelebA.txt is missing" in p and "Kaggle copy has no identity file" in p and "evaluation" in p
               for p in report.problems)
    with pytest.raises(MissingSourceFileError, match="evaluation"):
        import_source(source, tmp_path / "imported")
    assert not (tmp_path / "imported").exists()  # nothing written before the check
    target = import_source(source, tmp_path / "imported", identities=celeba_dir / IDENTITY_FILE, log=lambda s: None)
    assert (target / "img_align_celeba").is_symlink()  # linked, not copied
    assert_same_dataset(celeba_dir, target)


def test_drive_mirror_is_extracted_and_reads_like_the_original(celeba_dir: Path, tmp_path: Path) -> None:
    target = import_source(drive_mirror(celeba_dir, tmp_path / "drive"), tmp_path / "imported", log=lambda s: None)
    assert (target / "img_align_celeba").is_dir() and not (target / "img_align_celeba").is_symlink()
    assert_same_dataset(celeba_dir, target)


@pytest.mark.parametrize("layout", ["official", "kaggle", "drive"])
def test_an_html_page_in_place_of_a_file_is_named(layout: str, celeba_dir: Path, tmp_path: Path) -> None:
    if layout == "official":
        source, page = celeba_dir, celeba_dir / ATTR_FILE
    elif layout == "kaggle":
        source = kaggle_copy(celeba_dir, tmp_path / "kaggle")
        page = source / "list_attr_celeba.csv"
    else:
        source = drive_mirror(celeba_dir, tmp_path / "drive")
        page = source / "Anno" / IDENTITY_FILE
    page.write_text(QUOTA_PAGE)
    assert is_html(page)
    report = check_source(source)
    assert report.html_pages == [page] and any("HTML page" in p and "quota" in p for p in report.problems)
    with pytest.raises(HTMLPageError, match=page.name):
        import_source(source, tmp_path / "imported", identities=celeba_dir / IDENTITY_FILE if layout == "kaggle" else None)


def test_official_files_are_verified_by_md5(celeba_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from faceobf.data import sources
    from faceobf.data.download import md5sum

    assert "differs from the official file" in check_source(celeba_dir).checksums[ATTR_FILE]
    monkeypatch.setitem(sources.OFFICIAL_MD5, ATTR_FILE, md5sum(celeba_dir / ATTR_FILE))
    assert check_source(celeba_dir).checksums[ATTR_FILE] == "official (MD5 matches)"


def test_download_names_a_quota_page_and_keeps_nothing(tmp_path: Path) -> None:
    from faceobf.data.download import RemoteFile, download_file

    remote = RemoteFile("x", "0" * 32, "list_attr_celeba.txt")
    with pytest.raises(HTMLPageError, match="quota"):
        download_file(remote, tmp_path, lambda tmp: Path(tmp).write_text(QUOTA_PAGE))
    assert list(tmp_path.iterdir()) == []


def test_cli_check_and_import_a_kaggle_copy(celeba_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from faceobf.cli import main

    source = kaggle_copy(celeba_dir, tmp_path / "kaggle")
    assert main(["data", "check", str(source)]) == 1
    out = capsys.readouterr().out
    assert "kaggle layout" in out and "faceobf data import" in out and "identity_CelebA.txt is missing" in out
    assert main(["data", "import", str(source), str(tmp_path / "a")]) == 2  # a user error: one line, exit 2
    assert "identity" in capsys.readouterr().err
    assert main(["data", "import", str(source), str(tmp_path / "b"), "--identities", str(celeba_dir / IDENTITY_FILE)]) == 0
    assert main(["data", "check", str(tmp_path / "b")]) == 0


def test_colab_setup_tries_the_sources_in_order(celeba_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from faceobf import colab

    monkeypatch.delenv("FACEOBF_DATA", raising=False)
    kaggle = kaggle_copy(celeba_dir, tmp_path / "kaggle")
    tried, messages = [], []

    def quota_page(root: Path) -> None:
        tried.append("drive")
        raise HTMLPageError("list_attr_celeba.txt is an HTML page")

    def from_kaggle(root: Path) -> None:
        tried.append("kaggle")
        import_source(kaggle, root, identities=celeba_dir / IDENTITY_FILE, log=lambda s: None)

    root = colab.setup(tmp_path / "content", sources=(("drive", quota_page), ("kaggle", from_kaggle), ("never", quota_page)),
                       log=messages.append)
    assert tried == ["drive", "kaggle"] and root == tmp_path / "content"
    assert any("drive failed" in m and "HTML" in m for m in messages)
    assert_same_dataset(celeba_dir, root)
    assert colab.setup(root, sources=(), log=messages.append) == root  # a complete folder is used as it is
    monkeypatch.delenv("FACEOBF_DATA", raising=False)
    with pytest.raises(RuntimeError, match="drive: HTMLPageError"):
        colab.setup(tmp_path / "other", sources=(("drive", quota_page),), log=messages.append)


def test_a_subset_is_cut_with_official_rows_and_reruns_cleanly(celeba_dir: Path, tmp_path: Path) -> None:
    from faceobf.data.subset import cut_subset

    full = CelebA.open(celeba_dir)
    names = [full.names[k] for k in (0, 2, 5, 7, 11)]
    lf = tmp_path / "lf"  # the same folder with LF line endings, as a converted copy might have
    shutil.copytree(celeba_dir, lf)
    for name in (ATTR_FILE, IDENTITY_FILE, PARTITION_FILE):
        (lf / name).write_bytes((celeba_dir / name).read_bytes().replace(b"\r\n", b"\n"))
    key = cut_subset(lf, tmp_path / "sub", names, log=lambda s: None)
    sub = CelebA.open(tmp_path / "sub")
    assert sub.names == names and sub.key == key
    rows = [full.names.index(n) for n in names]
    assert np.array_equal(sub.attributes, full.attributes[rows])
    assert np.array_equal(sub.identities, full.identities[rows]) and np.array_equal(sub.annotations.partition, full.annotations.partition[rows])
    attr = (tmp_path / "sub" / ATTR_FILE).read_bytes().split(b"\r\n")
    assert attr[0] == b"5" and attr[1] == (celeba_dir / ATTR_FILE).read_bytes().split(b"\r\n")[1]
    for name in names:  # the same bytes, never re-encoded
        assert (tmp_path / "sub" / "img_align_celeba" / name).read_bytes() == (celeba_dir / "img_align_celeba" / name).read_bytes()
    assert cut_subset(celeba_dir, tmp_path / "sub", names, log=lambda s: None) == key  # a rerun over a finished cut


def test_a_subset_names_what_the_source_lacks_and_writes_no_annotations(celeba_dir: Path, tmp_path: Path) -> None:
    from faceobf.cli import main
    from faceobf.data.subset import cut_subset

    (celeba_dir / "img_align_celeba" / "000003.jpg").unlink()
    with pytest.raises(MissingSourceFileError, match="000003.jpg"):
        cut_subset(celeba_dir, tmp_path / "sub", ["000001.jpg", "000003.jpg"], log=lambda s: None)
    assert not (tmp_path / "sub" / ATTR_FILE).exists()
    with pytest.raises(MissingSourceFileError, match="no row for 1 of the 2 images"):
        cut_subset(celeba_dir, tmp_path / "sub", ["000001.jpg", "999999.jpg"], log=lambda s: None)
    assert main(["data", "mini", str(celeba_dir), str(tmp_path / "mini")]) == 2  # a user error: the 6,000 are not there


def test_celeba_mini_cut_from_the_full_annotations_is_byte_for_byte_the_shipped_models_data(real_celeba: Path,
                                                                                            tmp_path: Path) -> None:
    """The full official annotation files plus the 6,000 images give exactly CelebA-mini: the shipped models' key."""
    import gzip

    from faceobf.data.subset import MINI_KEY, cut_subset, mini_names

    annotations = real_celeba.parent / "celeba-annotations-full"
    if not annotations.is_dir():
        pytest.skip(f"{annotations}: the full official annotation files are not here")
    full = tmp_path / "full"  # the full annotations; of the images, only the 6,000 (linked)
    (full / "img_align_celeba").mkdir(parents=True)
    for name in (ATTR_FILE, IDENTITY_FILE, PARTITION_FILE):
        (full / name).write_bytes(gzip.decompress((annotations / f"{name}.gz").read_bytes()))
    for name in mini_names():
        (full / "img_align_celeba" / name).symlink_to(real_celeba / "img_align_celeba" / name)
    messages = []
    assert cut_subset(full, tmp_path / "mini", log=messages.append) == MINI_KEY == CelebA.open(real_celeba).key
    assert "shipped cpu models match it" in messages[-1]
    for name in (ATTR_FILE, IDENTITY_FILE, PARTITION_FILE):
        assert (tmp_path / "mini" / name).read_bytes() == (real_celeba / name).read_bytes()


def test_colab_setup_under_the_cpu_profile_points_at_the_cut(celeba_dir: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from faceobf import colab
    from faceobf.data import subset

    names = ["000001.jpg", "000004.jpg", "000012.jpg"]
    monkeypatch.setattr(subset, "mini_names", lambda: names)
    monkeypatch.setenv("FACEOBF_PROFILE", "cpu")
    monkeypatch.setenv("FACEOBF_DATA", str(celeba_dir))
    root = colab.setup(sources=(), log=lambda s: None)
    assert root == celeba_dir.with_name("celeba-mini") and os.environ["FACEOBF_DATA"] == str(root)
    assert (root / "img_align_celeba").is_dir() and sorted(p.name for p in (root / "img_align_celeba").iterdir()) == names
    assert colab.setup(sources=(), log=lambda s: None) == root  # run again: the cut is used as it is
    monkeypatch.setenv("FACEOBF_PROFILE", "gpu")
    monkeypatch.setenv("FACEOBF_DATA", str(celeba_dir))
    assert colab.setup(sources=(), log=lambda s: None) == celeba_dir  # the gpu profile trains on all of it


def test_a_union_of_two_cuts_is_the_cut_of_their_names(celeba_dir: Path, tmp_path: Path) -> None:
    """CelebA-mini + CelebA-plus merged by `data union` is the folder `data mini --plus` cuts from full CelebA."""
    from faceobf.cli import main
    from faceobf.data.subset import cut_subset, mini_names, mini_plus_names, plus_names, union_folders

    full = CelebA.open(celeba_dir)
    first, second = full.names[:5], full.names[5:9]
    cut_subset(celeba_dir, tmp_path / "a", first, log=lambda s: None)
    cut_subset(celeba_dir, tmp_path / "b", second, log=lambda s: None)
    key = cut_subset(celeba_dir, tmp_path / "ab", sorted(first + second), log=lambda s: None)
    merged = tmp_path / "merged"
    assert main(["data", "union", str(tmp_path / "b"), str(tmp_path / "a"), str(merged)]) == 0
    assert CelebA.open(merged).key == key and CelebA.open(merged).names == sorted(first + second)
    for name in (ATTR_FILE, IDENTITY_FILE, PARTITION_FILE):
        assert (merged / name).read_bytes() == (tmp_path / "ab" / name).read_bytes()
    attr = tmp_path / "b" / ATTR_FILE  # the same image with other attributes in two sources is refused
    attr.write_bytes(attr.read_bytes().replace(b" 1", b"-1", 1))
    cut_subset(celeba_dir, tmp_path / "c", second[:1], log=lambda s: None)
    with pytest.raises(UnknownLayoutError, match="differ from another source"):
        union_folders([tmp_path / "c", tmp_path / "b"], tmp_path / "bad", log=lambda s: None)
    mini, plus = set(mini_names()), set(plus_names())
    assert len(mini) == 6000 and len(plus) == 24998 and not mini & plus
    assert mini_plus_names() == sorted(mini | plus)

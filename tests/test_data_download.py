"""`faceobf data download` against a loopback HTTP server: verified files land, bad ones leave nothing."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
import zipfile
from pathlib import Path

import pytest

from faceobf.cli import main
from faceobf.data import download as download_module
from faceobf.data.download import ChecksumError, RemoteFile, download_celeba


@pytest.fixture
def mirror(tmp_path: Path):
    """Serve a folder with a small img_align_celeba.zip and an annotation file on 127.0.0.1."""
    served = tmp_path / "mirror"
    served.mkdir()
    with zipfile.ZipFile(served / "img_align_celeba.zip", "w") as archive:
        archive.writestr("img_align_celeba/000001.jpg", b"\xff\xd8fake-jpeg-bytes")
        archive.writestr("img_align_celeba/000002.jpg", b"\xff\xd8more-bytes")
    (served / "list_eval_partition.txt").write_bytes(b"000001.jpg 0\r\n000002.jpg 2\r\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.RequestHandlerClass.log_message = lambda *a: None
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", served
    server.shutdown()
    server.server_close()


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _files(served: Path) -> tuple[RemoteFile, ...]:
    return tuple(RemoteFile("unused-drive-id", _md5(served / name), name) for name in ("img_align_celeba.zip", "list_eval_partition.txt"))


def test_download_verifies_and_extracts(mirror, tmp_path: Path) -> None:
    url, served = mirror
    root = tmp_path / "celeba"
    download_celeba(root, url=url, files=_files(served), log=lambda s: None)
    assert (root / "list_eval_partition.txt").read_bytes() == (served / "list_eval_partition.txt").read_bytes()
    assert sorted(p.name for p in (root / "img_align_celeba").iterdir()) == ["000001.jpg", "000002.jpg"]
    assert not [p for p in root.iterdir() if p.name.startswith(".")], "temporary files left behind"
    # A second run finds verified files and fetches nothing.
    served.joinpath("list_eval_partition.txt").unlink()
    download_celeba(root, url=url, files=_files_with(root), log=lambda s: None)


def _files_with(root: Path) -> tuple[RemoteFile, ...]:
    return tuple(RemoteFile("x", _md5(root / n), n) for n in ("img_align_celeba.zip", "list_eval_partition.txt"))


def test_wrong_checksum_is_rejected_and_nothing_remains(mirror, tmp_path: Path) -> None:
    url, served = mirror
    root = tmp_path / "celeba"
    wrong = (RemoteFile("x", "0" * 32, "list_eval_partition.txt"),)
    with pytest.raises(ChecksumError, match="list_eval_partition.txt: MD5 .* != expected 0{32}"):
        download_celeba(root, url=url, files=wrong, log=lambda s: None)
    assert list(root.iterdir()) == []


def test_existing_bad_file_is_replaced_only_by_a_verified_one(mirror, tmp_path: Path) -> None:
    url, served = mirror
    root = tmp_path / "celeba"
    root.mkdir()
    (root / "list_eval_partition.txt").write_bytes(b"stale")
    download_celeba(root, url=url, files=_files(served)[1:], log=lambda s: None)
    assert (root / "list_eval_partition.txt").read_bytes().startswith(b"000001.jpg")


def test_cli_download_reports_a_checksum_error(mirror, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    url, served = mirror
    monkeypatch.setattr(download_module, "CELEBA_FILES", (RemoteFile("x", "f" * 32, "list_eval_partition.txt"),))
    assert main(["data", "download", "--root", str(tmp_path / "c"), "--url", url]) == 2
    assert "MD5" in capsys.readouterr().err
    assert not any((tmp_path / "c").iterdir())


def test_official_table_matches_torchvision() -> None:
    names = {f.filename: f.md5 for f in download_module.CELEBA_FILES}
    assert names["img_align_celeba.zip"] == "00d2c5bc6d35e252742224ab0c1e8fcb"
    assert names["list_attr_celeba.txt"] == "75e246fa4810816ffd6ee81facbd244c"
    assert names["identity_CelebA.txt"] == "32bd1bd63d3c78cd57e08160ec5ed1e2"
    assert names["list_eval_partition.txt"] == "d32c9cbf5e040fd4025c592c306e6668"

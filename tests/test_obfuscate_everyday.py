"""The photo tool on an ordinary afternoon: folders that each keep their own report, runs that compose, earlier
outputs never read again, links, read-only and full disks named on one line, formats kept."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest

from faceobf.commands import obfuscate as obfuscate_command
from PIL import Image

from faceobf import cli
from faceobf.obfuscate.batch import collect_inputs, obfuscate_files, read_report
from faceobf.obfuscate.pipeline import FaceRecord
from test_obfuscate_batch import Inverts, _photo


class ChangesABox:
    """A stand-in for the models that changes only the top-left 8x8 pixels (a 'face'), as the tool changes only faces."""

    def obfuscate_photo(self, photo: np.ndarray):
        out = photo.copy()
        out[:8, :8] = 255 - out[:8, :8]
        return out, [FaceRecord((0, 0, 8, 8), {"hog": 1.0}, "unet")]


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(obfuscate_command, "build_obfuscator", lambda args: Inverts())


def test_sibling_folders_run_without_flags_each_keep_their_own_report(tmp_path: Path, stand_in, monkeypatch, capsys) -> None:
    holiday, party = tmp_path / "Pictures" / "holiday", tmp_path / "Pictures" / "party"
    _photo(holiday / "beach.png", 10)
    _photo(party / "cake.png", 20)
    monkeypatch.chdir(holiday)
    assert _run(["obfuscate", "."], capsys)[0] == 0
    monkeypatch.chdir(party)  # a second folder: its own report, nothing refused
    code, out, err = _run(["obfuscate", "."], capsys)
    assert code == 0 and "1 photo done" in out and err == ""
    _photo(holiday / "sunset.png", 30)  # a new photo in the first folder: added to its report
    monkeypatch.chdir(holiday)
    code, out, _ = _run(["obfuscate", "."], capsys)
    assert code == 0 and "1 photo done" in out and "1 skipped (done before)" in out
    assert not (tmp_path / "Pictures" / "faceobf-report.jsonl").exists()
    for folder, names in ((holiday, ["beach.png", "sunset.png"]), (party, ["cake.png"])):
        records = read_report(folder / "faceobf-report.jsonl")
        assert sorted(Path(r["input"]).name for r in records) == names and {r["status"] for r in records} == {"done"}
        assert all(Path(r["output"]).is_absolute() and Path(r["output"]).exists() for r in records)
    assert (holiday / "sunset.obfuscated.png").exists() and (party / "cake.obfuscated.png").exists()


def test_a_second_photo_of_the_same_folder_and_overwrite_keep_every_record(tmp_path: Path, stand_in, capsys) -> None:
    first, second = _photo(tmp_path / "a.png", 10), _photo(tmp_path / "b.png", 20)
    assert _run(["obfuscate", str(first)], capsys)[0] == 0
    assert _run(["obfuscate", str(second)], capsys)[0] == 0  # refused before: "a report of an earlier run exists"
    assert _run(["obfuscate", str(first), "--overwrite"], capsys)[0] == 0
    records = read_report(tmp_path / "faceobf-report.jsonl")
    assert sorted((Path(r["input"]).name, r["status"]) for r in records) == [("a.png", "done"), ("b.png", "done")]
    assert (tmp_path / "a.obfuscated.png").exists() and (tmp_path / "b.obfuscated.png").exists()


@pytest.mark.parametrize("first", [["-o", "{f4}/out"], []])
def test_earlier_outputs_are_never_inputs_whatever_o_says(tmp_path: Path, stand_in, capsys, first: list[str]) -> None:
    f4 = tmp_path / "f4"
    for v in range(6):
        _photo(f4 / f"{v}.png", 10 + v)
    assert _run(["obfuscate", str(f4), *[a.replace("{f4}", str(f4)) for a in first]], capsys)[0] == 0
    code, out, _ = _run(["obfuscate", str(f4), "-o", str(f4 / "out2")], capsys)
    assert code == 0 and "6 photos done" in out and "left out 6 earlier output(s)" in out
    assert sorted(p.name for p in (f4 / "out2").rglob("*.png")) == [f"{v}.png" for v in range(6)]
    assert [r["status"] for r in read_report(f4 / "out2" / "faceobf-report.jsonl")] == ["done"] * 6


def test_files_reached_through_a_link_are_written_under_their_real_path(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    _photo(root / "sub" / "x.png", 10)
    os.symlink(root / "sub", root / "link_to_sub")  # sorts before "sub": reached through the link first
    inputs = collect_inputs([root])
    assert [i.relative.as_posix() for i in inputs] == ["photos/sub/x.png"]
    summary, report = obfuscate_files(Inverts(), inputs, tmp_path / "out", progress=False)
    assert summary.done == 1 and (tmp_path / "out" / "photos" / "sub" / "x.png").exists()
    assert not (tmp_path / "out" / "photos" / "link_to_sub").exists()
    assert report[0]["input_resolved"] == str((root / "sub" / "x.png").resolve())


@pytest.mark.parametrize("where", ["output folder", "beside the inputs"])
def test_a_read_only_place_is_one_line_naming_the_folder(tmp_path: Path, stand_in, monkeypatch, capsys, where: str) -> None:
    from faceobf.obfuscate import batch

    _photo(tmp_path / "in" / "a.png", 10)
    target = tmp_path / "out" if where == "output folder" else tmp_path / "in"
    real_open = os.open

    def read_only(path, flags, *args, **kwargs):  # as a read-only mount answers (root ignores permission bits)
        if Path(path).parent == target and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(batch.os, "open", read_only)
    code, out, err = _run(["obfuscate", str(tmp_path / "in")] + (["-o", str(target)] if where == "output folder" else []), capsys)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"faceobf: error: {target}: cannot write there (Read-only file system)") and "-o" in err


def test_a_disk_that_fills_mid_write_leaves_nothing_half_written_and_the_batch_goes_on(tmp_path: Path, monkeypatch) -> None:
    from faceobf.obfuscate import photo_io

    inputs = collect_inputs([_photo(tmp_path / "in" / f"{v}.png", v) for v in (10, 20, 30)])
    real_save = Image.Image.save

    def fills_up(self, fp, *args, **kwargs):  # the second photo: half its bytes written, then the disk is full
        if int(np.asarray(self)[0, 0, 0]) == 255 - 20:
            Path(fp).write_bytes(b"\x89PNG half a photo")
            raise OSError(errno.ENOSPC, "No space left on device", str(fp))
        return real_save(self, fp, *args, **kwargs)

    monkeypatch.setattr(photo_io.Image.Image, "save", fills_up)
    summary, report = obfuscate_files(Inverts(), inputs, tmp_path / "out", progress=False)
    assert summary.done == 2 and [r["status"] for r in report] == ["done", "error", "done"]
    assert report[1]["error"] == f"OSError: cannot write {tmp_path / 'out' / '20.png'} (No space left on device)"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["10.png", "30.png", "faceobf-report.jsonl"]


def test_a_report_that_cannot_grow_stops_the_run_on_one_line_and_no_output_goes_unrecorded(tmp_path: Path, monkeypatch,
                                                                                            capsys) -> None:
    from faceobf.obfuscate import batch

    for v in (10, 20):
        _photo(tmp_path / "in" / f"{v}.png", v)
    real_write, calls = os.write, {"n": 0}

    def full_after_one(fd, data):  # the disk fills after the report's first record
        calls["n"] += data.startswith(b'{"input"')
        if calls["n"] > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(obfuscate_command, "build_obfuscator", lambda args: Inverts())
    monkeypatch.setattr(batch.os, "write", full_after_one)
    code, _, err = _run(["obfuscate", str(tmp_path / "in"), "-o", str(tmp_path / "out")], capsys)
    errors = [line for line in err.splitlines() if line.startswith("faceobf")]  # below the progress bar
    assert code == 2 and len(errors) == 1 and "cannot add to the report (No space left on device)" in errors[0]
    outputs = sorted(p.name for p in (tmp_path / "out" / "in").iterdir()) if (tmp_path / "out" / "in").exists() else []
    assert outputs == ["10.png"] and [r["input"] for r in read_report(tmp_path / "out" / "faceobf-report.jsonl")] == [
        str(tmp_path / "in" / "10.png")]


def test_a_folder_that_cannot_be_listed_is_refused_by_name(tmp_path: Path, monkeypatch) -> None:
    from faceobf.obfuscate import inputs as inputs_module

    _photo(tmp_path / "in" / "a.png", 10)
    _photo(tmp_path / "in" / "locked" / "b.png", 20)
    real_scandir = os.scandir

    def locked(path=".", *args):
        if Path(path).name == "locked":
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_scandir(path, *args)

    monkeypatch.setattr(inputs_module.os, "scandir", locked)
    monkeypatch.setattr(os, "scandir", locked)
    found = collect_inputs([tmp_path / "in"])
    refusals = {i.path.name: i.refusal for i in found if i.refusal}
    assert refusals == {"locked": "cannot read folder: Permission denied"} and len(found) == 2


def test_photos_and_clips_are_counted_by_kind(tmp_path: Path) -> None:
    from faceobf.obfuscate.batch import Summary

    assert Summary(done=3, clips=1, faces=4).line().startswith("2 photos and 1 clip done, 4 faces found")
    assert Summary(done=1).line().startswith("1 photo done, 0 faces found")
    assert Summary(done=2, clips=2).line().startswith("2 clips done")


def test_alpha_greyscale_and_16_bit_depth_are_kept_where_the_format_holds_them(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    alpha = np.tile(np.linspace(0, 255, 16).astype(np.uint8), (16, 1))
    (tmp_path / "in").mkdir()
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(tmp_path / "in" / "cutout.png")
    Image.fromarray(rgb[..., 0], "L").save(tmp_path / "in" / "grey.jpg", quality=100)
    deep = rng.integers(0, 65536, (16, 16)).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / "in" / "deep.png")
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(tmp_path / "in" / "palette.png")
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(tmp_path / "in" / "cutout.webp", lossless=True)
    summary, report = obfuscate_files(ChangesABox(), collect_inputs([tmp_path / "in"]), tmp_path / "out", progress=False)
    assert summary.done == 5
    out = tmp_path / "out" / "in"
    with Image.open(out / "cutout.png") as im:
        assert im.mode == "RGBA" and (np.asarray(im)[..., 3] == alpha).all()
    with Image.open(out / "cutout.webp") as im:
        assert im.mode == "RGBA" and (np.asarray(im)[..., 3] == alpha).all()
    with Image.open(out / "grey.jpg") as im:
        assert im.mode == "L"
    with Image.open(out / "deep.png") as im:
        pixels = np.asarray(im).astype(np.int64)
        assert im.mode.startswith("I") and pixels.max() > 255
    unchanged = np.ones((16, 16), bool)
    unchanged[: 8 + 2, : 8 + 2] = False  # the changed box, grown by the 2 px that take no low bits of the face
    assert (pixels[unchanged] == deep[unchanged]).all() and (pixels[:8, :8] % 257 == 0).all()
    changes = {Path(r["input"]).name: r.get("format_changes", []) for r in report}
    assert changes["palette.png"] == ["palette colours stored as full colour"] and changes["cutout.png"] == []



def test_an_output_folder_that_vanishes_mid_run_stops_it_on_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    import shutil

    for v in (10, 20, 30):
        _photo(tmp_path / "in" / f"{v}.png", v)

    class UnplugsTheDrive(Inverts):
        def obfuscate_photo(self, photo):
            if int(photo[0, 0, 0]) == 20:
                shutil.rmtree(tmp_path / "out")  # the USB drive is pulled while the second photo is redrawn
            return super().obfuscate_photo(photo)

    monkeypatch.setattr(obfuscate_command, "build_obfuscator", lambda args: UnplugsTheDrive())
    code, _, err = _run(["obfuscate", str(tmp_path / "in"), "-o", str(tmp_path / "out")], capsys)
    errors = [line for line in err.splitlines() if line.startswith("faceobf")]
    assert code == 2 and len(errors) == 1 and "the report was removed during the run" in errors[0]
    left = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert left == []  # the second photo was not renamed into place without its record, the third never started


def test_a_cold_start_says_why_it_is_silent_on_a_terminal_only(tmp_path: Path, monkeypatch, capsys) -> None:
    import sys

    from faceobf.obfuscate.batch import LOADING

    _photo(tmp_path / "in" / "a.png", 10)
    monkeypatch.setattr(obfuscate_command, "build_obfuscator", lambda args: Inverts())
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert _run(["obfuscate", str(tmp_path / "in")], capsys)[2].startswith(LOADING)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)  # a pipe or a log: no message
    _photo(tmp_path / "in" / "b.png", 20)
    assert LOADING not in _run(["obfuscate", str(tmp_path / "in")], capsys)[2]

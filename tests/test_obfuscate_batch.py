"""The batch tool's guarantees: nothing lost, nothing overwritten, one bad photo never ends a batch, resumable runs,
random flips drawn per photo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceobf.obfuscate.batch import OutputExistsError, collect_inputs, obfuscate_files, read_report
from faceobf.obfuscate.photo_io import ImageTooLargeError, read_photo
from faceobf.obfuscate.pipeline import FaceRecord, photo_face_keys
from faceobf.obfuscate.policies import FlipRandom


class Inverts:
    """A stand-in for the models: 'obfuscates' by inverting the photo, fails on request (the batch logic is under test)."""

    def __init__(self, fail_on: tuple[str, ...] = (), interrupt_on: tuple[str, ...] = ()):
        self.fail_on, self.interrupt_on, self.seen = fail_on, interrupt_on, []

    def obfuscate_photo(self, photo: np.ndarray):
        value = int(photo[0, 0, 0])
        self.seen.append(value)
        if value in self.interrupt_on:
            raise KeyboardInterrupt
        if value in self.fail_on:
            raise RuntimeError("dlib: something deep inside failed")
        return 255 - photo, [FaceRecord((0, 0, 10, 10), 1.0, "unet")]


def _photo(path: Path, value: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((16, 16, 3), value, np.uint8)).save(path)
    return path


def test_same_names_in_different_folders_get_different_outputs(tmp_path: Path) -> None:
    a, b = _photo(tmp_path / "a" / "x.png", 10), _photo(tmp_path / "b" / "x.png", 20)
    inputs = collect_inputs([a, b, tmp_path / "a"])  # a/x.png twice: once
    assert [i.relative.as_posix() for i in inputs] == ["a/x.png", "b/x.png"]
    summary, _ = obfuscate_files(Inverts(), inputs, tmp_path / "out", progress=False)
    assert summary.done == 2
    assert int(read_photo(tmp_path / "out" / "a" / "x.png")[0, 0, 0]) == 245 and int(read_photo(tmp_path / "out" / "b" / "x.png")[0, 0, 0]) == 235
    assert [i.relative.as_posix() for i in collect_inputs([tmp_path / "a"])] == ["a/x.png"]  # a folder keeps its name


def test_names_that_differ_only_in_case_are_refused_not_overwritten(tmp_path: Path) -> None:
    one, two = _photo(tmp_path / "in" / "Face.png", 10), _photo(tmp_path / "in" / "face.png", 20)
    summary, report = obfuscate_files(Inverts(), [(one, Path("Face.png")), (two, Path("face.png"))], tmp_path / "out", progress=False)
    assert summary.done == 1 and [r["status"] for r in report] == ["done", "error"]
    assert report[1]["error"].startswith("OutputCollisionError")


def test_one_failing_photo_is_refused_by_name_and_the_batch_goes_on(tmp_path: Path) -> None:
    inputs = collect_inputs([_photo(tmp_path / "in" / f"{v}.png", v) for v in (10, 20, 30)])
    summary, report = obfuscate_files(Inverts(fail_on=(20,)), inputs, tmp_path / "out", progress=False)
    assert summary.done == 2 and summary.refused == [(str(tmp_path / "in" / "20.png"), "RuntimeError: dlib: something deep inside failed")]
    assert report[1]["status"] == "error" and report[1]["error"] == "RuntimeError: dlib: something deep inside failed"
    assert not (tmp_path / "out" / "in" / "20.png").exists()
    assert [r["status"] for r in read_report(tmp_path / "out" / "faceobf-report.jsonl")] == ["done", "error", "done"]


def test_a_later_run_continues_the_report_and_overwrite_keeps_every_other_record(tmp_path: Path) -> None:
    first = collect_inputs([_photo(tmp_path / "in" / "1.png", 10)])
    obfuscate_files(Inverts(), first, tmp_path / "out", progress=False)
    model = Inverts()
    summary, report = obfuscate_files(model, first, tmp_path / "out", progress=False)  # again: done, not refused
    assert summary.skipped == 1 and summary.refused == [] and model.seen == []
    second = collect_inputs([_photo(tmp_path / "in" / "2.png", 20)])  # a new photo, same output folder
    summary, _ = obfuscate_files(Inverts(), second, tmp_path / "out", progress=False)
    assert summary.done == 1 and summary.refused == []
    assert sorted(Path(r["input"]).name for r in read_report(tmp_path / "out" / "faceobf-report.jsonl")) == ["1.png", "2.png"]
    summary, _ = obfuscate_files(Inverts(), second, tmp_path / "out", overwrite=True, progress=False)  # redo 2.png only
    assert summary.done == 1
    records = read_report(tmp_path / "out" / "faceobf-report.jsonl")
    assert sorted((Path(r["input"]).name, r["status"]) for r in records) == [("1.png", "done"), ("2.png", "done")]
    _photo(tmp_path / "out" / "3.png", 99)  # a file faceobf did not write, where an output would go
    third = collect_inputs([_photo(tmp_path / "in" / "3.png", 30)])
    summary, report = obfuscate_files(Inverts(), third, tmp_path / "out", report_path=tmp_path / "second.jsonl", progress=False)
    assert summary.done == 0 and report[0]["error"].startswith("OutputExistsError")
    assert all(Path(r["output"]).is_absolute() for r in read_report(tmp_path / "out" / "faceobf-report.jsonl"))


def test_an_interrupted_run_keeps_its_records_and_resumes(tmp_path: Path) -> None:
    inputs = collect_inputs([_photo(tmp_path / "in" / f"{v}.png", v) for v in (10, 20, 30)])
    summary, _ = obfuscate_files(Inverts(interrupt_on=(20,)), inputs, tmp_path / "out", progress=False)  # Ctrl-C on 20
    assert summary.interrupted and summary.done == 1 and "run the same command again" in summary.line()
    kept = read_report(tmp_path / "out" / "faceobf-report.jsonl")
    assert [(Path(r["input"]).name, r["status"]) for r in kept] == [("10.png", "done"), ("20.png", "interrupted")]
    model = Inverts()
    summary, report = obfuscate_files(model, inputs, tmp_path / "out", progress=False)
    assert model.seen == [20, 30] and summary.skipped == 1 and summary.done == 2
    assert [r["status"] for r in report] == ["skipped", "done", "done"]
    final = read_report(tmp_path / "out" / "faceobf-report.jsonl")  # one record per photo: the interrupted one redone
    assert sorted((Path(r["input"]).name, r["status"]) for r in final) == [("10.png", "done"), ("20.png", "done"), ("30.png", "done")]


def test_huge_images_are_refused_by_name_before_decoding(tmp_path: Path) -> None:
    path = _photo(tmp_path / "big.png", 10)
    with pytest.raises(ImageTooLargeError, match="decompression-bomb guard"):
        read_photo(path, max_pixels=100)
    bomb = tmp_path / "bomb.png"
    Image.new("1", (15000, 15000)).save(bomb)  # 225 megapixels in a few kilobytes
    assert bomb.stat().st_size < 100_000
    with pytest.raises(ImageTooLargeError, match="bomb"):
        read_photo(bomb)


def test_random_flips_are_drawn_per_photo_and_reproducible() -> None:
    rng = np.random.default_rng(0)
    photos = [rng.integers(0, 256, (20, 30, 3), dtype=np.uint8) for _ in range(3)]
    policy, attributes = FlipRandom(k=4, seed=0), np.zeros((2, 40), np.int8)
    draws = [policy.flip_mask(attributes, photo_face_keys(p, [0, 1])) for p in photos]
    assert len({d[0].tobytes() for d in draws}) == 3  # three photos, three different draws for their first face
    assert not np.array_equal(draws[0][0], draws[0][1])  # two faces of one photo differ too
    assert np.array_equal(policy.flip_mask(attributes, photo_face_keys(photos[0].copy(), [0, 1])), draws[0])  # same photo, same draw
    other_seed = FlipRandom(k=4, seed=1).flip_mask(attributes, photo_face_keys(photos[0], [0, 1]))
    assert not np.array_equal(other_seed, draws[0])


def test_every_file_in_a_folder_has_one_outcome_and_linked_folders_are_followed_once(tmp_path: Path) -> None:
    import os

    root = tmp_path / "in"
    _photo(root / "a.png", 10)
    Image.fromarray(np.full((16, 16, 3), 20, np.uint8)).save(root / "b.jfif", format="JPEG")  # a JPEG by another name
    Image.fromarray(np.full((16, 16, 3), 30, np.uint8)).save(root / "c.gif")
    (root / "d.heic").write_bytes(b"\x00\x00\x00\x18ftypheic")
    (root / "notes.txt").write_text("not a photo")
    _photo(tmp_path / "elsewhere" / "e.png", 40)
    os.symlink(tmp_path / "elsewhere", root / "linked")
    os.symlink(root, root / "linked" / "loop")  # a link back up: walked once
    inputs = collect_inputs([root])
    names = sorted(i.relative.as_posix() for i in inputs)
    assert names == ["in/a.png", "in/b.jfif", "in/c.gif", "in/d.heic", "in/linked/e.png", "in/notes.txt"]
    refused = {i.path.name: i.refusal for i in inputs if i.refusal}
    assert set(refused) == {"c.gif", "d.heic", "notes.txt"} and all("unsupported" in r for r in refused.values())
    summary, report = obfuscate_files(Inverts(), inputs, tmp_path / "out", progress=False)
    assert summary.done == 3 and len(summary.refused) == 3 and len(report) == 6
    assert {Path(r["input"]).name: r["status"] for r in report}["c.gif"] == "refused"
    assert (tmp_path / "out" / "in" / "linked" / "e.png").exists() and (tmp_path / "out" / "in" / "b.jfif").exists()


def test_a_fifo_is_refused_without_being_opened(tmp_path: Path) -> None:
    import os

    os.mkfifo(tmp_path / "pipe.png")
    inputs = collect_inputs([tmp_path / "pipe.png"])
    assert inputs[0].refusal.startswith("not a regular file: a FIFO")
    summary, report = obfuscate_files(Inverts(), inputs, tmp_path / "out", progress=False)  # would hang if it were read
    assert report[0]["status"] == "refused" and summary.done == 0


def test_resume_knows_photos_by_identity_not_by_spelling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for v in (10, 20):
        _photo(tmp_path / "in" / f"{v}.png", v)
    monkeypatch.chdir(tmp_path)
    obfuscate_files(Inverts(), collect_inputs(["in"]), Path("out"), progress=False)
    (tmp_path / "out").rename(tmp_path / "renamed")  # the user renames the output folder
    monkeypatch.chdir(tmp_path / "in")  # and resumes from elsewhere, with an absolute path
    model = Inverts()
    summary, _ = obfuscate_files(model, collect_inputs([tmp_path / "in"]), tmp_path / "renamed", progress=False)
    assert summary.skipped == 2 and model.seen == [] and summary.refused == []
    assert len(read_report(tmp_path / "renamed" / "faceobf-report.jsonl")) == 2  # one record per photo


def test_an_output_folder_inside_the_input_folder_is_never_read_back(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    _photo(root / "a.png", 10)
    out = root / "out"
    for options in ({}, {}, {"overwrite": True}):
        inputs = collect_inputs([root], exclude=[out, out / "faceobf-report.jsonl"])
        assert [i.relative.as_posix() for i in inputs] == ["photos/a.png"]
        obfuscate_files(Inverts(), inputs, out, progress=False, **options)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and not p.name.startswith("."))
    assert files == ["faceobf-report.jsonl", "photos/a.png"]  # no out/photos/out/... nesting


def test_one_writer_per_output_folder(tmp_path: Path) -> None:
    import os

    from faceobf.obfuscate.batch import OutputLockedError, output_lock

    inputs = collect_inputs([_photo(tmp_path / "in" / "a.png", 10)])
    with output_lock(tmp_path / "out"):
        with pytest.raises(OutputLockedError, match=f"pid {os.getpid()}"):
            obfuscate_files(Inverts(), inputs, tmp_path / "out", overwrite=True, progress=False)
    summary, _ = obfuscate_files(Inverts(), inputs, tmp_path / "out", progress=False)  # released: the next run goes ahead
    assert summary.done == 1


def test_debris_of_a_killed_run_is_removed_and_permissions_follow_the_umask(tmp_path: Path) -> None:
    import os

    out = tmp_path / "out"
    (out / "in").mkdir(parents=True)
    debris = out / "in" / ".a.png.k3x9_q2m.part.png"
    debris.write_bytes(b"half a photo")
    old = os.umask(0o027)
    try:
        summary, _ = obfuscate_files(Inverts(), collect_inputs([_photo(tmp_path / "in" / "a.png", 10)]), out, progress=False)
    finally:
        os.umask(old)
    assert summary.debris_removed == 1 and not debris.exists()
    assert (out / "a.png").stat().st_mode & 0o777 == 0o640
    assert (out / "faceobf-report.jsonl").stat().st_mode & 0o777 == 0o640


def test_models_load_only_when_a_photo_needs_them(tmp_path: Path) -> None:
    inputs = collect_inputs([_photo(tmp_path / "in" / "a.png", 10)])
    loads = []

    def load():
        loads.append(1)
        return Inverts()

    obfuscate_files(load, inputs, tmp_path / "out", progress=False)
    assert loads == [1]
    obfuscate_files(load, inputs, tmp_path / "out", progress=False)  # nothing left to do: no models
    (tmp_path / "in" / "b.gif").write_bytes(b"GIF89a")
    obfuscate_files(load, collect_inputs([tmp_path / "in"]), tmp_path / "out", progress=False)
    assert loads == [1]  # a.png done before, b.gif refused by format: still no models

    def broken():
        raise FileNotFoundError("no trained U-Net")

    _photo(tmp_path / "in" / "c.png", 30)
    with pytest.raises(FileNotFoundError, match="no trained U-Net"):
        obfuscate_files(broken, collect_inputs([tmp_path / "in"]), tmp_path / "out", progress=False)
    assert len(read_report(tmp_path / "out" / "faceobf-report.jsonl")) == 2  # nothing recorded for a run that never started


KILLED_RUN = """
import sys, time
from pathlib import Path
import numpy as np
from faceobf.obfuscate.batch import collect_inputs, obfuscate_files
from faceobf.obfuscate.pipeline import FaceRecord

class Slow:
    def obfuscate_photo(self, photo):
        time.sleep(0.1)
        return 255 - photo, [FaceRecord((0, 0, 4, 4), 1.0, "unet")]

root, out = Path(sys.argv[1]), Path(sys.argv[2])
obfuscate_files(Slow(), collect_inputs([root], exclude=[out]), out, progress=False)
"""


@pytest.mark.slow
def test_a_batch_killed_at_random_points_resumes_to_one_output_and_one_record_per_photo(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    root, out = tmp_path / "in", tmp_path / "out"
    for v in range(24):
        _photo(root / f"{v // 8}" / f"{v:02d}.png", v + 10)
    rng = np.random.default_rng(0)
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    report = out / "faceobf-report.jsonl"
    lines = lambda: report.read_bytes().count(b"\n") if report.exists() else 0
    kills = 0
    for _ in range(10):
        # kill once the run has recorded a photo, then at a random point of the next photo's work or writes: the kills
        # land mid-batch however fast the machine starts Python (a fixed delay let a fast machine finish the batch)
        before, deadline = lines(), time.monotonic() + 120
        child = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(root), str(out)], env=env)
        while child.poll() is None and lines() == before and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(float(rng.uniform(0.0, 0.15)))
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
            kills += 1
        child.wait()
    done = subprocess.run([sys.executable, "-c", KILLED_RUN, str(root), str(out)], env=env, timeout=300)
    assert done.returncode == 0 and kills >= 5
    records = read_report(out / "faceobf-report.jsonl")
    photos = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.png"))
    outputs = sorted(p.relative_to(out / "in").as_posix() for p in (out / "in").rglob("*") if p.is_file())
    assert outputs == photos  # every photo once, no debris (a .part file would show here)
    assert sorted(Path(r["input"]).relative_to(root).as_posix() for r in records) == photos  # exactly one record each
    assert all(r["status"] == "done" for r in records)
    assert all(int(read_photo(out / "in" / p)[0, 0, 0]) == 255 - int(read_photo(root / p)[0, 0, 0]) for p in photos)

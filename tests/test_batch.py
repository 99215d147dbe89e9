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
    assert [rel.as_posix() for _, rel in inputs] == ["a/x.png", "b/x.png"]
    summary, _ = obfuscate_files(Inverts(), inputs, tmp_path / "out", progress=False)
    assert summary.done == 2
    assert int(read_photo(tmp_path / "out" / "a" / "x.png")[0, 0, 0]) == 245 and int(read_photo(tmp_path / "out" / "b" / "x.png")[0, 0, 0]) == 235
    assert [rel.as_posix() for _, rel in collect_inputs([tmp_path / "a"])] == ["a/x.png"]  # a folder keeps its name


def test_names_that_differ_only_in_case_are_refused_not_overwritten(tmp_path: Path) -> None:
    one, two = _photo(tmp_path / "in" / "Face.png", 10), _photo(tmp_path / "in" / "face.png", 20)
    summary, report = obfuscate_files(Inverts(), [(one, Path("Face.png")), (two, Path("face.png"))], tmp_path / "out", progress=False)
    assert summary.done == 1 and [r["status"] for r in report] == ["done", "error"]
    assert report[1]["error"].startswith("OutputCollisionError")


def test_one_failing_photo_is_refused_by_name_and_the_batch_goes_on(tmp_path: Path) -> None:
    inputs = collect_inputs([_photo(tmp_path / "in" / f"{v}.png", v) for v in (10, 20, 30)])
    summary, report = obfuscate_files(Inverts(fail_on=(20,)), inputs, tmp_path / "out", progress=False)
    assert summary.done == 2 and summary.refused == [str(tmp_path / "in" / "20.png")]
    assert report[1]["status"] == "error" and report[1]["error"] == "RuntimeError: dlib: something deep inside failed"
    assert not (tmp_path / "out" / "in" / "20.png").exists()
    assert [r["status"] for r in read_report(tmp_path / "out" / "faceobf-report.jsonl")] == ["done", "error", "done"]


def test_existing_outputs_and_reports_are_never_overwritten_without_asking(tmp_path: Path) -> None:
    inputs = collect_inputs([_photo(tmp_path / "in" / "1.png", 10)])
    obfuscate_files(Inverts(), inputs, tmp_path / "out", progress=False)
    with pytest.raises(OutputExistsError, match="--resume"):
        obfuscate_files(Inverts(), inputs, tmp_path / "out", progress=False)
    summary, report = obfuscate_files(Inverts(), inputs, tmp_path / "out", report_path=tmp_path / "second.jsonl", progress=False)
    assert summary.done == 0 and report[0]["error"].startswith("OutputExistsError")
    summary, _ = obfuscate_files(Inverts(), inputs, tmp_path / "out", overwrite=True, progress=False)
    assert summary.done == 1


def test_an_interrupted_run_keeps_its_records_and_resumes(tmp_path: Path) -> None:
    inputs = collect_inputs([_photo(tmp_path / "in" / f"{v}.png", v) for v in (10, 20, 30)])
    with pytest.raises(KeyboardInterrupt):
        obfuscate_files(Inverts(interrupt_on=(20,)), inputs, tmp_path / "out", progress=False)
    kept = read_report(tmp_path / "out" / "faceobf-report.jsonl")
    assert [(Path(r["input"]).name, r["status"]) for r in kept] == [("10.png", "done"), ("20.png", "interrupted")]
    model = Inverts()
    summary, report = obfuscate_files(model, inputs, tmp_path / "out", resume=True, progress=False)
    assert model.seen == [20, 30] and summary.skipped == 1 and summary.done == 2
    assert [r["status"] for r in report] == ["skipped", "done", "done"]


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

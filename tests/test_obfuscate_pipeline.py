"""Whole-photo obfuscation: alignment, pixels outside the face ellipses untouched, several faces,
fallbacks for small faces, and failing closed when no face is found."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from faceobf.commands import obfuscate as obfuscate_command
from skimage import data

from faceobf.disentangle.landmarks import detect_faces
from faceobf.disentangle.align import CROP, similarity_to_template
from faceobf.obfuscate.batch import read_report
from faceobf.obfuscate.detect import DetectorSettings, detect, detect_twice
from faceobf.obfuscate.detect import Detection, iou
from faceobf.obfuscate.pipeline import (MissedFaceError, NoFaceError, Obfuscator, apply_fallback,
                                        change_windows, fallback_area, fallback_in_place,
                                        fallback_region)
from faceobf.obfuscate.policies import FlipNamed
from faceobf.disentangle.template import MEAN_LANDMARKS


def _outside(photo: np.ndarray) -> np.ndarray:
    """True where no face region of `photo` reaches (the largest a face can get: landmark ellipse and box)."""
    inside = np.zeros(photo.shape[:2], bool)
    for face in detect(photo, DetectorSettings().last_check()):
        inside |= fallback_region(photo.shape[:2], face.box, face.landmarks) > 0
    return ~inside


def test_similarity_transform_recovers_a_rotated_scaled_shifted_face() -> None:
    template = MEAN_LANDMARKS * CROP
    angle, scale, shift = np.deg2rad(20), 2.5, np.array([40.0, -7.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    photo_points = (template @ rot.T) * scale + shift
    matrix = similarity_to_template(photo_points)
    np.testing.assert_allclose(photo_points @ matrix[:, :2].T + matrix[:, 2], template, atol=1e-6)


def test_astronaut_is_obfuscated_and_nothing_outside_the_faces_changes(obfuscator: Obfuscator) -> None:
    photo = data.astronaut()
    out, records = obfuscator.obfuscate_photo(photo)
    assert out.shape == photo.shape and out.dtype == np.uint8
    face = next(r for r in records if r.method == "unet")
    assert sorted(face.flipped) == sorted(["Pointy_Nose", "Smiling", "Young", "Big_Nose"])
    outside = _outside(photo)
    np.testing.assert_array_equal(out[outside], photo[outside])
    left, top, right, bottom = face.box
    assert np.abs(out[top:bottom, left:right].astype(int) - photo[top:bottom, left:right]).mean() > 5



@pytest.mark.parametrize("paste", ["plain", "match", "poisson"])
def test_an_upscaled_redraw_pasted_each_way_changes_the_face_only_and_is_reproducible(obfuscator: Obfuscator, paste: str) -> None:
    from dataclasses import replace

    calls = []

    def twice_as_large(faces: np.ndarray) -> np.ndarray:  # the upscaler's contract: (N, r, r, 3) -> (N, 2r, 2r, 3)
        calls.append(faces.shape)
        return np.repeat(np.repeat(faces, 2, axis=1), 2, axis=2)

    tool = replace(obfuscator, upscaler=twice_as_large, paste=paste)
    photo = data.astronaut()
    out, records = tool.obfuscate_photo(photo)
    assert calls and calls[0][1:] == (32, 32, 3)
    outside = _outside(photo)
    np.testing.assert_array_equal(out[outside], photo[outside])
    np.testing.assert_array_equal(tool.obfuscate_photo(photo)[0], out)  # grain drawn from the photo's key: same photo, same output
    with pytest.raises(ValueError, match="unknown paste"):
        replace(obfuscator, paste="mixed")

def test_the_astronauts_mission_patch_gets_no_face(obfuscator: Obfuscator) -> None:
    photo = data.astronaut()
    out, records = obfuscator.obfuscate_photo(photo)
    face = next(r for r in records if r.box[1] < 150)
    patch = [r for r in records if r.box[1] > 300]  # the patch is on the chest, below the face
    assert face.method == "unet" and set(face.scores) == {"hog", "centerface"}
    assert patch and all(r.method == "fallback:blur" and r.reason.startswith("unconfirmed") for r in patch)


def test_the_last_check_catches_a_face_the_first_pass_missed(obfuscator: Obfuscator) -> None:
    from dataclasses import replace

    photo = np.full((400, 600, 3), 180, np.uint8)
    photo[:, :400] = cv2.resize(data.astronaut(), (400, 400))[:, :, :]
    photo[150:246, 450:546] = cv2.resize(data.astronaut(), (96, 96), interpolation=cv2.INTER_AREA)  # a face of ~18 px
    hog_only = replace(obfuscator, detection=DetectorSettings(detectors=("hog",)))
    out, records = hog_only.obfuscate_photo(photo)
    caught = [r for r in records if r.reason.startswith("missed by the first pass")]
    assert len(caught) == 1 and set(caught[0].scores) == {"final check"} and caught[0].method == "fallback:blur"
    left, top, right, bottom = caught[0].box
    assert 450 <= left and right <= 546 and np.abs(out[top:bottom, left:right].astype(int) - photo[top:bottom, left:right]).mean() > 2
    with pytest.raises(MissedFaceError, match="left untouched"):
        replace(hog_only, on_miss="refuse").obfuscate_photo(photo)


def test_changes_are_searched_again_in_windows_around_them_joined_where_they_overlap() -> None:
    changed = np.zeros((400, 600), np.uint8)
    changed[100:140, 100:180] = 1  # 80 x 40: grown by 40 and 20 px
    changed[300:310, 580:600] = 1  # small, at the edge: grown by 16 px, clipped to the photo
    assert sorted(change_windows(changed)) == [(60, 80, 220, 160), (564, 284, 600, 326)]
    changed[150:170, 200:220] = 1  # within the first window's reach: one window over both
    assert sorted(change_windows(changed)) == [(60, 80, 236, 186), (564, 284, 600, 326)]
    assert change_windows(np.zeros((10, 10), np.uint8)) == []


def test_the_last_check_near_the_changes_flags_what_a_whole_second_sweep_flags(
    obfuscator: Obfuscator
) -> None:
    """The last check reads the faces of unchanged pixels from the sweep of the untouched photo and
    searches the result again only around the changes: the same faces flagged as by running the
    detectors on the whole result, here a small face the HOG-only first pass missed, and a face the
    change does not cover."""
    from dataclasses import replace

    photo = np.full((400, 700, 3), 180, np.uint8)
    photo[:, :400] = cv2.resize(data.astronaut(), (400, 400))
    # a face of ~18 px
    photo[150:246, 450:546] = cv2.resize(data.astronaut(), (96, 96), interpolation=cv2.INTER_AREA)
    photo[60:300, 560:700] = cv2.resize(data.astronaut()[20:260, 150:290], (140, 240),
                                        interpolation=cv2.INTER_AREA)
    hog_only = replace(obfuscator, detection=DetectorSettings(detectors=("hog",)))
    check = hog_only.detection.last_check()
    faces, seen = detect_twice(photo, hog_only.detection, check)
    faces = [f for f in faces if f.box[0] < 400]  # the first pass is told of the astronaut only
    placed = hog_only.redraw_faces([photo], [faces])[0]
    whole = hog_only.finish(photo, faces, placed, check)
    near = hog_only.finish(photo, faces, placed, check, seen)
    flagged = [[r.box for r in records if r.reason.startswith("missed by the first pass")]
               for _, records in (whole, near)]
    assert len(flagged[0]) == len(flagged[1]) >= 2
    assert all(max(iou(a, b) for b in flagged[1]) > 0.7 for a in flagged[0])
    assert np.abs(near[0].astype(int) - whole[0]).max() <= 40 and (near[0] != photo).any()


@pytest.mark.parametrize("right", [140, 150, 165, 180, 195])
def test_a_missed_face_beside_a_change_is_covered_as_by_a_whole_second_sweep(obfuscator: Obfuscator,
                                                                             right: int) -> None:
    """A face the first pass was not told of, next to a changed face, at places where the search
    window around the change cuts it: the check covers as much of it as the whole sweep does (a face
    cut by a window never replaces the whole face seen on the photo)."""
    from faceobf.obfuscate.pipeline import checked_faces, uncovered

    face = data.astronaut()[40:220, 130:310]
    photo = np.full((220, 420, 3), 200, np.uint8)
    photo[20:200, 20:200] = face
    part = face[:, ::-1][:, 35:]
    photo[20:200, right:right + part.shape[1]] = part
    check = obfuscator.detection.last_check()
    faces, seen = detect_twice(photo, obfuscator.detection, check)
    out, changed = photo.copy(), np.zeros(photo.shape[:2], np.uint8)
    for f in faces:
        # the first pass is told of the left face only; its fallback is the change
        if f.box[0] < 90:
            fallback_in_place(out, changed, f, "blur")
    near = checked_faces(out, changed, seen, check)
    near = detect(out, check) if near is None else near
    covered = {}
    for name, found in (("whole", detect(out, check)), ("near", near)):
        mask = changed.copy()
        for miss in uncovered(found, changed, out.shape[:2]):
            fallback_in_place(out.copy(), mask, miss, "blur")
        left, top, right_edge, bottom = max(seen, key=lambda d: d.box[0]).box
        covered[name] = mask[top:bottom, left:right_edge].mean()
    assert covered["near"] >= min(covered["whole"], 0.95) - 0.01, covered


def test_a_photo_whose_only_face_the_first_pass_misses_gets_it_covered_not_refused(
        obfuscator: Obfuscator) -> None:
    from dataclasses import replace

    photo = np.full((300, 400, 3), 180, np.uint8)
    photo[100:196, 150:246] = cv2.resize(data.astronaut(), (96, 96), interpolation=cv2.INTER_AREA)
    # the face is too small for HOG
    hog_only = replace(obfuscator, detection=DetectorSettings(detectors=("hog",)))
    assert detect(photo, hog_only.detection) == []
    out, records = hog_only.obfuscate_photo(photo)
    assert len(records) == 1 and records[0].reason.startswith("missed by the first pass")
    left, top, right, bottom = records[0].box
    changed = np.abs(out[top:bottom, left:right].astype(int) - photo[top:bottom, left:right])
    assert changed.mean() > 2
    with pytest.raises(NoFaceError):  # nothing any detector calls a face: refused as before
        hog_only.obfuscate_photo(np.full((300, 400, 3), 180, np.uint8))


def test_several_faces_in_one_photo(obfuscator: Obfuscator) -> None:
    face = data.astronaut()[40:220, 130:310]
    photo = np.concatenate([face, np.full((180, 60, 3), 200, np.uint8), face[:, ::-1]], axis=1)
    out, records = obfuscator.obfuscate_photo(photo)
    assert sum(r.method == "unet" for r in records) == 2
    outside = _outside(photo)
    np.testing.assert_array_equal(out[outside], photo[outside])


def test_small_faces_get_the_fallback(obfuscator: Obfuscator) -> None:
    from dataclasses import replace

    pixelating = replace(obfuscator, min_face=1000, fallback="pixelate")
    photo = data.astronaut()
    out, records = pixelating.obfuscate_photo(photo)
    assert all(r.method == "fallback:pixelate" and r.flipped == [] for r in records)
    outside = _outside(photo)
    np.testing.assert_array_equal(out[outside], photo[outside])
    assert not np.array_equal(out, photo)
    with pytest.raises(ValueError, match="unknown fallback 'smudge'"):
        replace(obfuscator, fallback="smudge")


@pytest.mark.parametrize("how", ["blur", "pixelate", "blackout"])
def test_a_fallback_worked_on_its_window_equals_the_whole_photo_one(how: str) -> None:
    """The tool gives a fallback on the face's window only (`fallback_in_place`, no photo-sized mask or float
    copy): the same pixels as the whole-photo fallback, for faces inside the photo, at its edges and over its corner."""
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    template = MEAN_LANDMARKS * 0.5
    for left, top in ((150, 100), (-20, 80), (330, 240), (-30, -25)):
        points = template + np.array([left, top]) + rng.normal(0, 1.0, template.shape)
        box = (left + 10, top + 5, left + 80, top + 90)
        (y0, x0), region = fallback_area(photo.shape[:2], box, points)
        whole = fallback_region(photo.shape[:2], box, points)
        assert whole[:y0].sum() == whole[:, :x0].sum() == 0
        assert whole[y0 + region.shape[0]:].sum() == whole[:, x0 + region.shape[1]:].sum() == 0
        np.testing.assert_array_equal(region, whole[y0 : y0 + region.shape[0], x0 : x0 + region.shape[1]])
        out, changed = photo.copy(), np.zeros(photo.shape[:2], np.uint8)
        fallback_in_place(out, changed, Detection(box, {"hog": 1.0}, points), how)
        np.testing.assert_array_equal(out, apply_fallback(photo, whole, how, 70))  # the box is 70 px wide
        np.testing.assert_array_equal(changed, whole > 0)


def test_a_photo_without_a_face_fails_closed(obfuscator: Obfuscator) -> None:
    blank = np.full((120, 160, 3), 127, np.uint8)
    with pytest.raises(NoFaceError):
        obfuscator.obfuscate_photo(blank)
    out, records = obfuscator.obfuscate_photo(blank, allow_no_face=True)
    assert records == [] and np.array_equal(out, blank)


def test_grayscale_and_rgba_photos_work(obfuscator: Obfuscator) -> None:
    gray = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)
    out, records = obfuscator.obfuscate_photo(np.stack([gray] * 3, axis=-1))
    assert records and out.shape == (512, 512, 3)
    rgba = np.dstack([data.astronaut(), np.full((512, 512), 255, np.uint8)])
    out, records = obfuscator.obfuscate_photo(rgba)
    assert records and out.shape == (512, 512, 3)


def test_cli_obfuscates_refuses_and_reports(obfuscator: Obfuscator, tmp_path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:

    from PIL import Image

    from faceobf import cli

    inputs = tmp_path / "in"
    inputs.mkdir()
    exif = Image.Exif()
    exif.get_ifd(0x8825)[1] = "N"
    Image.fromarray(data.astronaut()).save(inputs / "astronaut.jpg", exif=exif)
    Image.fromarray(np.full((100, 100, 3), 120, np.uint8)).save(inputs / "blank.png")
    (inputs / "notes.jpg").write_text("not a photo")
    monkeypatch.setattr(obfuscate_command, "build_obfuscator", lambda args: obfuscator)
    out = tmp_path / "out"
    code = cli.main(["obfuscate", str(inputs), "-o", str(out), "--report", str(tmp_path / "report.jsonl")])
    assert code == 1  # two photos refused
    printed = capsys.readouterr().out
    assert "1 photo done" in printed and "2 files refused" in printed
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == ["in/astronaut.jpg"]  # nothing for the refused photos
    with Image.open(out / "in" / "astronaut.jpg") as im:
        assert len(im.getexif()) == 0
    report = read_report(tmp_path / "report.jsonl")
    status = {Path(p["input"]).name: p["status"] for p in report}
    assert status == {"astronaut.jpg": "done", "blank.png": "no_face", "notes.jpg": "error"}
    assert next(p for p in report if p["status"] == "error")["error"].startswith("ImageReadError: ")
    face = next(f for f in report[0]["faces"] if f["method"] == "unet")
    assert set(face) == {"box", "scores", "method", "policy", "flipped", "predicted", "reason"} and face["method"] == "unet"
    assert face["policy"].startswith("FlipNamed(")

    code = cli.main(["obfuscate", str(inputs / "blank.png"), "-o", str(out), "--allow-no-face"])
    assert code == 0 and (out / "blank.png").exists() and (out / "faceobf-report.jsonl").exists()


def test_cli_without_trained_models_says_how_to_get_them(tmp_path, capsys) -> None:
    from faceobf import cli

    (tmp_path / "a.png").write_bytes(b"")
    code = cli.main(["obfuscate", str(tmp_path / "a.png"), "-o", str(tmp_path / "o"), "--profile", "ci", "--checkpoint", str(tmp_path / "runs")])
    assert code == 2
    err = capsys.readouterr().err
    assert "faceobf train fac --profile ci" in err and "Traceback" not in err


def test_cnn_detector_finds_the_astronaut() -> None:
    faces = detect_faces(data.astronaut(), upsample=0, detector="cnn")
    assert len(faces) == 1 and faces[0].landmarks.shape == (68, 2)
    left, top, right, bottom = faces[0].box
    assert left < faces[0].landmarks[30, 0] < right and top < faces[0].landmarks[30, 1] < bottom  # nose tip inside
    with pytest.raises(ValueError, match="unknown detector"):
        detect_faces(data.astronaut(), detector="haar")


def test_face_descriptors_match_the_same_face() -> None:
    from faceobf.recognition import SAME_PERSON_THRESHOLD, face_descriptor

    photo = data.astronaut()
    face = detect_faces(photo)[0]
    d = face_descriptor(photo, face.landmarks)
    assert d.shape == (128,)
    np.testing.assert_allclose(face_descriptor(photo, face.landmarks), d)
    mirrored = np.ascontiguousarray(photo[:, ::-1])
    d_mirror = face_descriptor(mirrored, detect_faces(mirrored)[0].landmarks)
    assert np.linalg.norm(d - d_mirror) < SAME_PERSON_THRESHOLD


def test_identity_aware_policy_flips_k_allowed_attributes(obfuscator: Obfuscator) -> None:
    from dataclasses import replace

    from faceobf.obfuscate.policies import PROTECTED_ATTRIBUTES, IdentityAware

    searching = replace(obfuscator, policy=IdentityAware(k=2, beam=3))
    photo = data.astronaut()
    out, records = searching.obfuscate_photo(photo)
    face = next(r for r in records if r.method == "unet")
    assert len(face.flipped) == 2 and not set(face.flipped) & set(PROTECTED_ATTRIBUTES)
    outside = _outside(photo)
    np.testing.assert_array_equal(out[outside], photo[outside])
    with pytest.raises(ValueError, match="call it with a scorer"):
        IdentityAware()(np.zeros((1, 40), np.int8))


def test_the_evaluation_takes_the_tools_photo_path_and_scores_a_missed_face_as_untouched(obfuscator: Obfuscator) -> None:
    from faceobf.data.images import FACE_CROP, crop_and_resize
    from faceobf.evaluate.methods import REDRAWN, UNTOUCHED, get_method, process_crops

    face = cv2.resize(data.astronaut()[30:230, 110:330], (178, 218))  # the astronaut's face roughly where CelebA has one
    blank = np.full((218, 178, 3), 128, np.uint8)  # nothing the tool can find
    aligned = [face, blank]
    crops = np.stack([crop_and_resize(a, FACE_CROP, FACE_CROP.size) for a in aligned])
    points = [np.asarray(MEAN_LANDMARKS, np.float32) * CROP] * 2
    out, outcome = process_crops(get_method("flip4"), crops, points, [0, 1], obfuscator, aligned)
    assert outcome.tolist() == [REDRAWN, UNTOUCHED]
    assert np.array_equal(out[1], crops[1]) and not np.array_equal(out[0], crops[0])
    assert out.shape == crops.shape and out.dtype == np.uint8


def _smile_mapping():
    from faceobf.disentangle.attributes import attribute_index
    from faceobf.disentangle.geometry import LandmarkMapping

    coefficients = np.zeros((40, 68, 2))
    coefficients[attribute_index("Smiling"), 48:68, 1] = 0.06  # a smile lowers the mouth (template units)
    return LandmarkMapping(np.zeros((68, 2)), coefficients, 1.0, 1.0, np.zeros(40), 0.5, 10)


def test_in_the_photo_path_a_flip_moves_the_landmarks_and_fixed_geometry_keeps_them(obfuscator: Obfuscator) -> None:
    from dataclasses import replace

    from faceobf.reconstruct.generate import FlipStrength

    photo = data.astronaut()
    follow = replace(obfuscator, generator=obfuscator.generator.with_geometry(_smile_mapping(), FlipStrength(gain=3.0)),
                     policy=FlipNamed(("Smiling",)))
    fixed = replace(follow, generator=follow.generator.with_geometry(None))
    moved, records = follow.obfuscate_photo(photo)
    kept, _ = fixed.obfuscate_photo(photo)
    assert next(r for r in records if r.method == "unet").flipped == ["Smiling"]
    assert not np.array_equal(moved, kept)  # the same flip, drawn from other landmarks
    outside = _outside(photo)
    np.testing.assert_array_equal(moved[outside], photo[outside])
    from faceobf.obfuscate.policies import FlipNone

    unflipped, _ = replace(follow, policy=FlipNone()).obfuscate_photo(photo)
    plain, _ = replace(fixed, policy=FlipNone()).obfuscate_photo(photo)
    np.testing.assert_array_equal(unflipped, plain)  # nothing flipped: nothing moves


def test_cli_policy_none_and_geometry_choose_the_tools_flips_and_landmarks(obfuscator: Obfuscator, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from faceobf import cli, trained
    from faceobf.obfuscate.policies import FlipNone

    with_mapping = replace(obfuscator, generator=obfuscator.generator.with_geometry(_smile_mapping()))
    monkeypatch.setattr(trained, "obfuscator", lambda profile, encoding, policy, upscale: replace(with_mapping, policy=policy))
    parse = cli.build_parser().parse_args
    tool = obfuscate_command.build_obfuscator(parse(["obfuscate", "x.jpg", "-o", "out", "--profile", "ci", "--policy", "none"]))
    assert isinstance(tool.policy, FlipNone) and tool.generator.geometry is not None  # follow: the model's default
    tool = obfuscate_command.build_obfuscator(parse(["obfuscate", "x.jpg", "-o", "out", "--profile", "ci", "--geometry", "fixed"]))
    assert tool.generator.geometry is None and with_mapping.generator.geometry is not None  # the loaded model untouched
    monkeypatch.setattr(trained, "obfuscator", lambda profile, encoding, policy, upscale: replace(obfuscator, policy=policy))
    with pytest.raises(ValueError, match="no landmark mapping"):
        obfuscate_command.build_obfuscator(parse(["obfuscate", "x.jpg", "-o", "out", "--profile", "ci", "--geometry", "follow"]))


def test_cli_refuses_what_needs_no_model_before_loading_any_and_names_reasons(tmp_path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from faceobf import cli

    def no_models(args):
        raise AssertionError("the models were loaded for a run that needed none")

    monkeypatch.setattr(obfuscate_command, "build_obfuscator", no_models)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "clip.gif").write_bytes(b"GIF89a")
    (tmp_path / "taken").write_text("a file where the output folder should go")
    assert cli.main(["obfuscate", str(tmp_path / "in"), "-o", str(tmp_path / "taken")]) == 2
    assert "a file, not a folder" in capsys.readouterr().err
    assert cli.main(["obfuscate", str(tmp_path / "in"), "-o", str(tmp_path / "out")]) == 1
    printed = capsys.readouterr().out
    assert "refused: " in printed and "clip.gif: unsupported: format '.gif'" in printed
    assert f"report: {tmp_path / 'out' / 'faceobf-report.jsonl'}" in printed


def test_cli_without_an_output_folder_writes_beside_the_inputs_and_reruns_cleanly(obfuscator: Obfuscator, tmp_path,
                                                                                  monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from PIL import Image

    from faceobf import cli

    monkeypatch.setattr(obfuscate_command, "build_obfuscator", lambda args: obfuscator)
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(data.astronaut()).save(photos / "astronaut.jpg")
    assert cli.main(["obfuscate", str(photos)]) == 0
    assert (photos / "astronaut.obfuscated.jpg").exists() and (photos / "astronaut.jpg").exists()
    assert f"report: {photos / 'faceobf-report.jsonl'}" in capsys.readouterr().out  # the folder's own report
    assert cli.main(["obfuscate", str(photos)]) == 0  # the output is not read back as a new input
    assert "1 skipped" in capsys.readouterr().out
    assert sorted(p.name for p in photos.iterdir()) == ["astronaut.jpg", "astronaut.obfuscated.jpg", "faceobf-report.jsonl"]
    assert len(read_report(photos / "faceobf-report.jsonl")) == 1


def test_photos_and_clips_share_one_per_face_sequence(obfuscator: Obfuscator) -> None:
    """The clip path gives `redraw_faces` each track's choice; given the choice the photo path makes, the pixels and
    the records are the photo path's own."""
    from skimage import data

    from faceobf.obfuscate.pipeline import aligned_crop, photo_face_keys

    photo = data.astronaut()
    faces = detect(photo, obfuscator.detection)
    mine = [k for k, face in enumerate(faces) if obfuscator.may_redraw(face)]
    assert mine
    crops, points = zip(*(aligned_crop(photo, faces[k].landmarks)[:2] for k in mine))
    attributes, targets = obfuscator.choose(crops, points, photo_face_keys(photo, mine))
    chosen = {k: (attributes[n], targets[n]) for n, k in enumerate(mine)}
    (as_photo, photo_records), = obfuscator.obfuscate_photos([photo])
    as_clip, clip_records = obfuscator.finish(photo, faces, obfuscator.redraw_faces([photo], [faces], [chosen])[0])
    np.testing.assert_array_equal(as_clip, as_photo)
    assert [r.as_dict() for r in clip_records] == [r.as_dict() for r in photo_records]


def test_the_shipped_cpu_models_draw_the_reference_pixels(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tool as `faceobf obfuscate photo.jpg --profile cpu` runs it, on NASA's astronaut photo (skimage), against
    the output the code gave before its stage-2 and stage-3 refactor (tests/reference): the same pixels (here exactly;
    two grey levels of leeway for another CPU's float rounding). Regenerate the reference only for a deliberate change of the output."""
    import contextlib
    import io

    from skimage import data

    from faceobf.cli import build_parser

    reference = np.load(Path(__file__).parent / "reference" / "astronaut_obfuscated_cpu.npz")
    photo = data.astronaut()
    with contextlib.redirect_stdout(io.StringIO()):
        tool = obfuscate_command.build_obfuscator(build_parser().parse_args(["obfuscate", "x.jpg", "--profile", "cpu"]))
    out, records = tool.obfuscate_photo(photo)
    (y0, y1, x0, x1), region = reference["box"], reference["region"]
    outside = np.ones(photo.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    np.testing.assert_array_equal(out[outside], photo[outside])  # nothing changed outside the faces
    difference = np.abs(out[y0:y1, x0:x1].astype(int) - region.astype(int))
    assert difference.max() <= 2 and difference.mean() < 0.05, (difference.max(), difference.mean())  # here: 0
    assert [r.method for r in records] == ["fallback:blur", "unet"]

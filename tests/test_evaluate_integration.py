"""The evaluation on real CelebA-mini faces with the classic baselines (no trained models needed):
`faceobf evaluate`, `faceobf human-test make` and `score`, and what the stored results hold."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from faceobf.cli import main

pytestmark = pytest.mark.slow  # the whole evaluation on real faces


def test_evaluate_then_human_test_on_real_faces(real_celeba: Path, tmp_path: Path, capsys) -> None:
    from faceobf.data import CelebA
    from faceobf.data.images import FACE_CROP, crop_and_resize
    from faceobf.evaluate.methods import face_mask
    from faceobf.evaluate.protocol import MethodResult, evaluation_dir, load_faces
    from faceobf.profiles import get_profile

    out = tmp_path / "report"
    out.mkdir()
    assert main(["evaluate", "--profile", "ci", "--root", str(real_celeba), "--methods", "blur_s8", "blackout", "--out", str(out)]) == 0
    report = json.loads((out / "evaluation.json").read_text())
    methods = report["methods"]
    assert set(methods) == {"original", "blur_s8", "blackout"}
    assert methods["original"]["faces"] == 40 and methods["original"]["identities"] == 10
    assert methods["original"]["recall_at_1"] >= 0.8  # dlib knows these people from their other photos
    assert methods["original"]["hog_detection"] == 1.0
    assert methods["blackout"]["hog_detection"] == 0.0 and methods["blackout"]["recall_at_1"] < methods["original"]["recall_at_1"]
    assert "kid" not in methods["blur_s8"]  # no FAC trained in this test's cache: no KID
    assert "no trained FAC" in capsys.readouterr().out
    assert "| black-out |" in (out / "evaluation.md").read_text()
    assert set(report["seed_protocol"]) == {"original", "blur_s8", "blackout"}
    assert report["landmark_attack"]["all"]["original"] > 0.1  # 10 people: chance is 10%

    dataset = CelebA.open(real_celeba)
    directory = evaluation_dir(get_profile("ci"), dataset, "onehot")
    faces, blackout = load_faces(directory), MethodResult.load(directory, "blackout")
    for i in range(3):  # stored crops: black inside the face ellipse, the original everywhere else
        original = crop_and_resize(dataset.read_aligned(int(faces.rows[i])), FACE_CROP, FACE_CROP.size)
        mask = face_mask(original, faces.crop_points(i)) > 0
        assert np.array_equal(blackout.crops[i][~mask], original[~mask]) and blackout.crops[i][mask].max() == 0

    test_dir = tmp_path / "human"
    assert main(["human-test", "make", "--profile", "ci", "--root", str(real_celeba), "--method", "blur_s8", "--trials", "4", "--out", str(test_dir)]) == 0
    page = (test_dir / "index.html").read_text()
    assert page.count("data:image/jpeg;base64,") == 40
    capsys.readouterr()
    assert main(["human-test", "score", str(test_dir / "machine_answers.json"), "--json"]) == 0
    text = capsys.readouterr().out
    assert "of 4 sheets right" in text and "chance 11.1%" in text and "nearest original" in text
    assert main(["human-test", "make", "--profile", "ci", "--root", str(real_celeba), "--method", "blur_s8", "--out", str(test_dir)]) == 2
    assert "already holds a human test" in capsys.readouterr().err


def test_unet_methods_without_trained_models_name_the_training_command(real_celeba: Path, tmp_path: Path, capsys) -> None:
    assert main(["evaluate", "--profile", "ci", "--root", str(real_celeba), "--methods", "flip4", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no trained" in err and "--profile ci" in err and "faceobf train" in err


def test_scoring_a_missing_file_is_one_line(tmp_path: Path, capsys) -> None:
    assert main(["human-test", "score", str(tmp_path / "nope.json")]) == 2
    assert "nope.json: no such answers file" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["evaluate", "--help"], ["human-test", "make", "--help"], ["human-test", "score", "--help"]])
def test_evaluation_commands_have_help(argv: list[str]) -> None:
    from faceobf.cli import build_parser

    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 0

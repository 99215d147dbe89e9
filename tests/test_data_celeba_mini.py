"""Integration tests on the real CelebA-mini (skipped with a reason when FACEOBF_DATA is not set)."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from faceobf.cli import main
from faceobf.data import CelebA
from faceobf.data.download import CELEBA_FILES
from faceobf.disentangle.landmarks import detect_landmarks
from faceobf.disentangle.masking import mask_face
from faceobf.data.images import aligned_to_crop
from faceobf.data import FACE_CROP, crop_and_resize


def test_counts_and_identity_disjoint_splits(real_celeba: Path) -> None:
    ds = CelebA.open(real_celeba)
    assert len(ds) == 6000
    assert np.unique(ds.identities).size == 200
    assert [ds.split(s).size for s in ("train", "val", "test")] == [4560, 780, 660]
    ids = [set(ds.identities[ds.split(s)].tolist()) for s in ("train", "val", "test")]
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
    assert len(ds.attribute_names) == 40 and ds.attribute_names[20] == "Male"


def test_data_check_cli_reports_no_problems(real_celeba: Path, capsys) -> None:
    assert main(["data", "check", str(real_celeba)]) == 0
    out = capsys.readouterr().out
    assert "images: 6000" in out and "identities: 200" in out and "no problems found" in out


def test_landmarks_and_mask_on_real_faces(real_celeba: Path) -> None:
    ds = CelebA.open(real_celeba)
    found = 0
    for row in ds.split("test")[:10]:
        aligned = ds.read_aligned(int(row))
        points = detect_landmarks(aligned)
        if points is None:
            continue
        found += 1
        crop = crop_and_resize(aligned, FACE_CROP, 96)
        _, mask = mask_face(crop, aligned_to_crop(points, FACE_CROP, 96))
        assert 0.15 < mask.mean() < 0.6
    assert found >= 8


def test_official_checksums_match_the_full_annotation_files(real_celeba: Path) -> None:
    full = real_celeba.parent / "celeba-annotations-full"
    if not full.is_dir():
        pytest.skip(f"{full} not present")
    expected = {f.filename: f.md5 for f in CELEBA_FILES}
    for gz in sorted(full.glob("*.txt.gz")):
        name = gz.name[: -len(".gz")]
        assert hashlib.md5(gzip.decompress(gz.read_bytes())).hexdigest() == expected[name], name


def test_the_face_template_is_the_mean_training_landmarks(real_celeba: Path) -> None:
    from faceobf.disentangle.landmarks import landmark_cache
    from faceobf.disentangle.template import MEAN_LANDMARKS

    ds = CelebA.open(real_celeba)
    rows = ds.split("train")[::10]  # a tenth is enough to check the committed mean
    cache = landmark_cache(ds, rows, progress=False)
    rows = rows[cache.detected[rows]]
    mean = np.mean([aligned_to_crop(cache.landmarks[r], FACE_CROP, 178) for r in rows], axis=0) / 178
    np.testing.assert_allclose(mean, MEAN_LANDMARKS, atol=0.01)

"""The naturalness yardstick: each measure on known cases, then its ranking of real faces of other people, light blur,
pixelation and black-out on real CelebA-mini faces, as a person looking at them ranks them."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from faceobf.evaluate.naturalness import (blockiness, frechet_distance, kid_excess, naturalness_table, skin_tone_difference,
                                          two_sample_accuracy)


def test_frechet_distance_is_zero_for_one_set_and_grows_with_a_shift() -> None:
    x = np.random.default_rng(0).normal(size=(400, 8))
    assert abs(frechet_distance(x, x)) < 1e-6
    assert frechet_distance(x + 0.5, x) == pytest.approx(8 * 0.25, rel=0.05)


def test_kid_excess_is_zero_for_the_control_and_its_interval_excludes_zero_for_a_shift() -> None:
    rng = np.random.default_rng(0)
    reference, control = rng.normal(size=(200, 16)), rng.normal(size=(200, 16))
    same, low, high = kid_excess(control, control, reference, subsets=50)
    assert low <= 0 <= high and abs(same) < 0.02
    shifted, low, high = kid_excess(control + 1.0, control, reference, subsets=50)
    assert low > 0 and low <= shifted <= high


def test_the_two_sample_test_is_at_chance_on_one_distribution_and_sure_on_two() -> None:
    rng = np.random.default_rng(1)
    same, low, high = two_sample_accuracy(rng.normal(size=(150, 20)), rng.normal(size=(150, 20)))
    assert low <= 0.5 <= high and same < 0.65
    apart, _, _ = two_sample_accuracy(rng.normal(size=(150, 20)), rng.normal(size=(150, 20)) + 1.0)
    assert apart > 0.95


def test_blockiness_sees_a_mosaic_and_banding_but_not_a_photo_or_its_blur() -> None:
    face = cv2.resize(data.astronaut()[20:240, 130:330], (178, 178), interpolation=cv2.INTER_AREA)
    mosaic = cv2.resize(cv2.resize(face, (178 // 8, 178 // 8), interpolation=cv2.INTER_AREA), (178, 178),
                        interpolation=cv2.INTER_NEAREST)
    bands = face.astype(np.int16)
    bands[::4] += 25
    blurred = cv2.GaussianBlur(face, (0, 0), 2.5)
    assert blockiness(face) < 1.6 and blockiness(blurred) < 1.6
    assert blockiness(mosaic) > 3 * blockiness(face) and blockiness(np.clip(bands, 0, 255).astype(np.uint8)) > 2


def test_skin_tone_difference_is_zero_for_the_same_face_and_large_for_another_skin() -> None:
    face = cv2.resize(data.astronaut()[20:240, 130:330], (178, 178), interpolation=cv2.INTER_AREA)
    paler = np.clip(face.astype(np.float64) * 0.6 + 0.4 * 255, 0, 255).astype(np.uint8)
    difference = skin_tone_difference(np.stack([face, paler]), np.stack([face, face]))
    assert difference[0] < 1e-6 and difference[1] > 5  # CIEDE2000: about 2 is just noticeable, 5 plainly another skin


@pytest.mark.celeba
def test_it_ranks_real_faces_blur_pixelation_and_black_out_as_a_person_would(real_celeba: Path) -> None:
    from faceobf.data import CelebA
    from faceobf.evaluate.naturalness import face_region, people_halves
    from faceobf.obfuscate.baselines import blackout_face, blur_face, pixelate_face

    dataset = CelebA.open(real_celeba)
    reference, heldout = (dataset.images(r, 178, progress=False)
                          for r in people_halves(dataset.identities, dataset.split("test"), 80))
    face = face_region(178)
    table = naturalness_table(reference, heldout, {
        "light blur": np.stack([blur_face(f, face, 2.5) for f in heldout]),
        "pixelated 8 px": np.stack([pixelate_face(f, face, 8) for f in heldout]),
        "blacked out": np.stack([blackout_face(f, face) for f in heldout])})
    real, blur, mosaic, black = (table.loc[m] for m in ("real (other people)", "light blur", "pixelated 8 px", "blacked out"))
    for net in ("dlib", "centerface"):  # further from real faces, the more of the face is gone
        assert real[f"{net} KID interval"][0] <= 0 <= real[f"{net} KID interval"][1]
        assert blur[f"{net} KID excess x1e3"] < mosaic[f"{net} KID excess x1e3"] < black[f"{net} KID excess x1e3"]
    assert real["two-sample accuracy"] < 0.65 < blur["two-sample accuracy"] and black["two-sample accuracy"] > 0.9
    assert mosaic["blockiness median"] > 1.5 * real["blockiness median"] and blur["blockiness median"] < 1.2 * real["blockiness median"]
    assert black["skin dE median"] > 20 > 5 > blur["skin dE median"]
    assert np.isnan(real["dlib same person"]) and blur["dlib same person"] > 0.5 > black["dlib same person"]


@pytest.mark.celeba
def test_a_flip_costs_nothing_when_it_changes_nothing_and_the_light_blur_bound_lies_below_a_mosaic(
    real_celeba: Path
) -> None:
    """The operating point's bound on 178 px crops (the photo path's; at the U-Net's 64 px dlib
    reads a light blur as nothing): redraws identical to the unflipped ones cost about nothing, a
    light blur of real faces more, a face pixelated in 8 px blocks far more."""
    from faceobf.data import CelebA
    from faceobf.evaluate.naturalness import face_region, flip_cost, light_blur_cost, people_halves
    from faceobf.obfuscate.baselines import pixelate_face

    dataset = CelebA.open(real_celeba)
    reference, faces = (dataset.images(r, 178, progress=False)
                        for r in people_halves(dataset.identities, dataset.split("val"), 60))
    cost = flip_cost(reference, faces)
    same, low, high = cost(faces.copy())
    assert low <= 0 <= high and abs(same) < 0.2
    bound = light_blur_cost(reference, faces)
    mosaic = cost(np.stack([pixelate_face(f, face_region(178), 8) for f in faces]))
    assert same < bound < mosaic[0] and mosaic[1] > 0

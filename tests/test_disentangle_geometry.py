"""The landmark mapping: a planted attribute displacement is recovered from posed faces and moves each face in its own frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faceobf.disentangle.attributes import CELEBA_ATTRIBUTES
from faceobf.disentangle.geometry import TEMPLATE_INTER_OCULAR, LandmarkMapping, align_shapes
from faceobf.disentangle.template import MEAN_LANDMARKS

SMILING = CELEBA_ATTRIBUTES.index("Smiling")
MOUTH = slice(48, 68)


def _posed(shapes: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Each template-unit shape put into a photo by a random similarity (scale 60-200 px, +-30 degrees, anywhere)."""
    out, linear = [], []
    for shape in shapes:
        angle, scale = np.deg2rad(rng.uniform(-30, 30)), rng.uniform(60, 200)
        m = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        out.append(shape @ m.T + rng.uniform(0, 500, 2))
        linear.append(m)
    return np.stack(out), np.stack(linear)


def _planted(n: int, seed: int = 0):
    """Faces whose shape is the template, plus a mouth widening for Smiling, plus noise; posed at random."""
    rng = np.random.default_rng(seed)
    attributes = (rng.random((n, 40)) > 0.5).astype(np.int8)
    smile = np.zeros((68, 2))
    smile[MOUTH, 0] = 0.03 * np.sign(MEAN_LANDMARKS[MOUTH, 0] - MEAN_LANDMARKS[MOUTH, 0].mean())  # corners outwards
    shapes = MEAN_LANDMARKS[None] + attributes[:, SMILING, None, None] * smile + rng.normal(0, 0.002, (n, 68, 2))
    landmarks, linear = _posed(shapes, rng)
    return landmarks, attributes, smile, linear


def test_the_map_recovers_a_planted_displacement_whatever_the_pose() -> None:
    landmarks, attributes, smile, _ = _planted(600)
    mapping = LandmarkMapping.fit(landmarks, attributes, ridge=1.0)
    # alignment maps the mouth's widening to (nearly) itself: the inner face carries the alignment, the smile is small
    np.testing.assert_allclose(mapping.coefficients[SMILING], smile, atol=0.004)
    others = np.delete(np.arange(40), SMILING)
    assert np.abs(mapping.coefficients[others]).max() < 0.002
    report = {r["attribute"]: r for r in mapping.report()}
    assert max(report, key=lambda a: report[a]["shape_variance_explained"]) == "Smiling"
    assert report["Smiling"]["most_moved_point"] in range(48, 68)
    assert report["Smiling"]["max_displacement_iod"] == pytest.approx(0.03 / TEMPLATE_INTER_OCULAR, rel=0.15)
    assert 0.5 < mapping.r2 <= 1.0


def test_a_flip_moves_each_face_in_its_own_pixels_and_no_flip_moves_nothing() -> None:
    landmarks, attributes, smile, linear = _planted(400)
    mapping = LandmarkMapping.fit(landmarks, attributes, ridge=1.0)
    faces, attrs, _, scale_rot = _planted(5, seed=1)
    targets = attrs.copy()
    targets[:, SMILING] = 1 - targets[:, SMILING]
    np.testing.assert_allclose(mapping.move(faces, attrs, attrs), faces, atol=1e-3)
    moved = mapping.move(faces, attrs, targets, gain=2.0)
    sign = (targets[:, SMILING] - attrs[:, SMILING]).astype(float)
    expected = faces + 2.0 * sign[:, None, None] * np.einsum("nij,kj->nki", scale_rot, smile)
    np.testing.assert_allclose(moved, expected, atol=0.05 * np.abs(expected - faces).max())  # 5% of the move: the fit's noise
    # the moved faces, aligned again, differ from the originals by the planted shape change only
    before, _ = align_shapes(faces)
    after, _ = align_shapes(moved)
    assert np.abs(after - before)[:, :17].max() < 0.01  # the jaw does not move with a smile


def test_the_map_survives_a_round_trip_and_refuses_misshapen_input(tmp_path: Path) -> None:
    landmarks, attributes, _, _ = _planted(100)
    mapping = LandmarkMapping.fit(landmarks, attributes)
    mapping.save(tmp_path / "map.npz")
    again = LandmarkMapping.load(tmp_path / "map.npz")
    np.testing.assert_array_equal(again.coefficients, mapping.coefficients)
    assert (again.r2, again.n_faces, again.ridge) == (mapping.r2, 100, mapping.ridge)
    with pytest.raises(ValueError, match="attributes"):
        LandmarkMapping.fit(landmarks, attributes[:, :39])


def test_the_closed_form_frames_match_the_alignment_and_jax_matches_numpy() -> None:
    import jax.numpy as jnp

    from faceobf.disentangle.geometry import move_landmarks, template_to_face

    landmarks, attributes, _, linear = _planted(6, seed=2)
    _, aligned_linear = align_shapes(landmarks)
    np.testing.assert_allclose(template_to_face(landmarks), np.linalg.inv(aligned_linear), rtol=1e-9)
    rng = np.random.default_rng(3)
    difference = rng.integers(-1, 2, (6, 40)).astype(np.float32)
    coefficients = rng.normal(0, 0.01, (40, 68, 2)).astype(np.float32)
    gains = np.linspace(1, 3, 6).astype(np.float32)
    expected = move_landmarks(landmarks.astype(np.float32), difference, coefficients, gains)
    got = move_landmarks(jnp.asarray(landmarks, jnp.float32), jnp.asarray(difference), jnp.asarray(coefficients), jnp.asarray(gains), xp=jnp)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-4, atol=1e-3)
    # a per-face gain scales each face's move, and gain 0 moves nothing
    once = move_landmarks(landmarks, difference, coefficients, 1.0) - landmarks
    np.testing.assert_allclose(expected - landmarks.astype(np.float32), gains[:, None, None] * once, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(move_landmarks(landmarks, difference, coefficients, 0.0), landmarks)

"""Stage-3 attribute policies: protected attributes, reproducible randomness, the bounded identity search."""

from __future__ import annotations

import numpy as np
import pytest

from faceobf.disentangle.attributes import CELEBA_ATTRIBUTES
from faceobf.obfuscate.policies import (
    PROTECTED_ATTRIBUTES,
    SEED_FLIPS,
    FlipAll,
    FlipNamed,
    FlipRandom,
    ProtectedAttributeError,
    flipped_names,
    identity_aware_flips,
)

PROTECTED = [CELEBA_ATTRIBUTES.index(n) for n in PROTECTED_ATTRIBUTES]


def _faces(n: int = 6) -> np.ndarray:
    return (np.random.default_rng(3).random((n, 40)) > 0.5).astype(np.int8)


def test_protected_set_is_gender_and_gender_linked() -> None:
    assert "Male" in PROTECTED_ATTRIBUTES and {"Goatee", "Mustache", "Heavy_Makeup", "Wearing_Lipstick"} <= set(PROTECTED_ATTRIBUTES)
    assert not set(SEED_FLIPS) & set(PROTECTED_ATTRIBUTES)


def test_flip_named_flips_exactly_the_seed_set() -> None:
    faces = _faces()
    out = FlipNamed()(faces)
    assert flipped_names(faces, out) == [sorted(SEED_FLIPS, key=CELEBA_ATTRIBUTES.index)] * len(faces)
    assert faces.dtype == out.dtype and not np.shares_memory(faces, out)


def test_naming_a_protected_attribute_is_an_error_unless_allowed() -> None:
    with pytest.raises(ProtectedAttributeError, match="Male is protected") as refused:
        FlipNamed(("Smiling", "Male"))
    assert "--unprotect" in str(refused.value)  # the command-line user is told the option, not a Python argument
    faces = _faces()
    out = FlipNamed(("Male",), respect_protected=False)(faces)
    np.testing.assert_array_equal(out[:, CELEBA_ATTRIBUTES.index("Male")], 1 - faces[:, CELEBA_ATTRIBUTES.index("Male")])
    with pytest.raises(ValueError, match="unknown attribute 'Smile'"):
        FlipNamed(("Smile",))


def test_flip_all_leaves_protected_attributes_alone() -> None:
    faces = _faces()
    out = FlipAll()(faces)
    np.testing.assert_array_equal(out[:, PROTECTED], faces[:, PROTECTED])
    assert (out != faces).sum(axis=1).tolist() == [40 - len(PROTECTED)] * len(faces)
    assert ((FlipAll(respect_protected=False)(faces)) != faces).all()


def test_flip_random_is_seeded_per_face_and_honours_protection() -> None:
    faces = _faces(10)
    policy = FlipRandom(k=3, seed=7)
    out = policy(faces, keys=np.arange(100, 110))
    assert ((out != faces).sum(axis=1) == 3).all()
    np.testing.assert_array_equal(out[:, PROTECTED], faces[:, PROTECTED])
    np.testing.assert_array_equal(out, policy(faces, keys=np.arange(100, 110)))  # reproducible
    # The flips of a face depend on its key, not on its position in the batch.
    reversed_out = policy(faces[::-1], keys=np.arange(109, 99, -1))
    np.testing.assert_array_equal(reversed_out[::-1], out)
    assert not np.array_equal(FlipRandom(k=3, seed=8)(faces, keys=np.arange(100, 110)), out)
    with pytest.raises(ValueError, match="k must be between 1 and 32"):
        FlipRandom(k=33)


def test_identity_aware_search_finds_the_furthest_allowed_set_within_its_bound() -> None:
    rng = np.random.default_rng(0)
    weights = rng.random(40)
    weights[CELEBA_ATTRIBUTES.index("Male")] = 10.0  # the most identity-changing flip is protected
    face = _faces(1)[0]

    def distance(candidates: np.ndarray) -> np.ndarray:  # additive: each flipped attribute moves the face by its weight
        return (candidates != face) @ weights

    names, score, n_scored = identity_aware_flips(face, distance, k=4, beam=8)
    allowed = [j for j in range(40) if j not in PROTECTED]
    best_four = sorted(sorted(allowed, key=lambda j: -weights[j])[:4])
    assert names == tuple(CELEBA_ATTRIBUTES[j] for j in best_four)
    assert score == pytest.approx(weights[best_four].sum())
    assert n_scored == 32 + 70  # all singles, then C(8, 4) combinations
    unprotected, _, _ = identity_aware_flips(face, distance, k=4, beam=8, respect_protected=False)
    assert "Male" in unprotected


def test_flip_none_redraws_every_face_with_its_own_attributes() -> None:
    from faceobf.obfuscate.policies import FlipNone

    attributes = (np.random.default_rng(0).random((5, 40)) > 0.5).astype(np.int8)
    out = FlipNone()(attributes)
    np.testing.assert_array_equal(out, attributes)
    assert out is not attributes and not FlipNone.needs_scorer

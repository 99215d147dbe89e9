"""Stage 3 attribute manipulation policies: which attributes to flip before the U-Net redraws a face.

Every policy is a `Policy`: called with the (N, 40) 0/1 attribute vectors of N faces, stable keys of
the faces and, for policies that search (`needs_scorer`), a `Scorer` that says how far the face drawn
with candidate attributes lies from the original; it returns the vectors fed to the U-Net. All
policies honour `PROTECTED_ATTRIBUTES` unless built with `respect_protected=False`:

* `FlipNone`: flip nothing: the face is redrawn with its own attributes (the control any user can run);
* `FlipNamed`: flip a named set, by default the seed's final choice (Pointy_Nose, Smiling, Young,
  Big_Nose); naming a protected attribute is an error, not a silent skip;
* `FlipAll`: flip every attribute that is not protected;
* `FlipRandom`: flip k allowed attributes drawn per face from (seed, face key), so the same face
  gets the same flips whatever batch it comes in;
* `IdentityAware`: among allowed flip sets of size k, the one that moves a face descriptor furthest
  from the original, found by a bounded beam search (`identity_aware_flips`).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Callable, ClassVar, Protocol, Sequence

import numpy as np

from faceobf.errors import FaceobfError, UsageError
from faceobf.disentangle.attributes import (  # noqa: F401  (the attribute lists live with the names in stage 1)
    CELEBA_ATTRIBUTES, PROTECTED_ATTRIBUTES, SEED_FLIPS, allowed_indices, attribute_index,
)

Scorer = Callable[[int, np.ndarray], np.ndarray]
"""(face index, (M, 40) candidate attribute vectors of that face) -> (M,) distances from the original face."""


class Policy(Protocol):
    """What stage 3 calls: new attribute vectors for N faces; `needs_scorer` policies get a `Scorer`."""

    needs_scorer: ClassVar[bool]

    def __call__(self, attributes: np.ndarray, keys: Sequence[int] | None = None, scorer: Scorer | None = None) -> np.ndarray: ...


class ProtectedAttributeError(FaceobfError, ValueError):
    """A policy was asked to flip a protected attribute without `respect_protected=False`."""


def _flip(attributes: np.ndarray, mask: np.ndarray) -> np.ndarray:
    attributes = np.asarray(attributes)
    if attributes.ndim != 2 or attributes.shape[1] != len(CELEBA_ATTRIBUTES):
        raise ValueError(f"expected (N, {len(CELEBA_ATTRIBUTES)}) attributes, got shape {attributes.shape}")
    return np.where(mask, 1 - attributes, attributes).astype(attributes.dtype)


@dataclass(frozen=True)
class FlipNone:
    """Flip nothing: every face is redrawn from its own factors (what the redraw alone does to an identity)."""

    respect_protected: bool = True
    needs_scorer: ClassVar[bool] = False

    def __call__(self, attributes: np.ndarray, keys: Sequence[int] | None = None, scorer: Scorer | None = None) -> np.ndarray:
        return _flip(attributes, np.zeros(np.shape(attributes), bool))


@dataclass(frozen=True)
class FlipNamed:
    """Flip the named attributes of every face."""

    names: tuple[str, ...] = SEED_FLIPS
    respect_protected: bool = True
    needs_scorer: ClassVar[bool] = False

    def __post_init__(self) -> None:
        for name in self.names:
            attribute_index(name)  # unknown names fail here, with the list of valid ones
        if self.respect_protected:
            blocked = [n for n in self.names if n in PROTECTED_ATTRIBUTES]
            if blocked:
                raise ProtectedAttributeError(
                    f"{', '.join(blocked)} {'is' if len(blocked) == 1 else 'are'} protected (gender and gender-linked "
                    "attributes); pass --unprotect (respect_protected=False in Python) to flip anyway"
                )

    def flip_mask(self, attributes: np.ndarray, keys: Sequence[int] | None = None) -> np.ndarray:
        mask = np.zeros(np.shape(attributes), bool)
        mask[:, [attribute_index(n) for n in self.names]] = True
        return mask

    def __call__(self, attributes: np.ndarray, keys: Sequence[int] | None = None, scorer: Scorer | None = None) -> np.ndarray:
        return _flip(attributes, self.flip_mask(attributes, keys))


@dataclass(frozen=True)
class FlipAll:
    """Flip every attribute that may be flipped."""

    respect_protected: bool = True
    needs_scorer: ClassVar[bool] = False

    def flip_mask(self, attributes: np.ndarray, keys: Sequence[int] | None = None) -> np.ndarray:
        mask = np.zeros(np.shape(attributes), bool)
        mask[:, allowed_indices(self.respect_protected)] = True
        return mask

    def __call__(self, attributes: np.ndarray, keys: Sequence[int] | None = None, scorer: Scorer | None = None) -> np.ndarray:
        return _flip(attributes, self.flip_mask(attributes, keys))


@dataclass(frozen=True)
class FlipRandom:
    """Flip `k` allowed attributes per face, drawn from a generator seeded by (seed, key of the face)."""

    k: int
    seed: int = 0
    respect_protected: bool = True
    needs_scorer: ClassVar[bool] = False

    def __post_init__(self) -> None:
        n_allowed = allowed_indices(self.respect_protected).size
        if not 0 < self.k <= n_allowed:
            raise UsageError(f"k must be between 1 and {n_allowed} (the attributes that may be flipped), got {self.k}")

    def flip_mask(self, attributes: np.ndarray, keys: Sequence[int] | None = None) -> np.ndarray:
        n = len(attributes)
        keys = np.arange(n) if keys is None else np.asarray(keys)
        if len(keys) != n:
            raise ValueError(f"got {len(keys)} keys for {n} faces")
        allowed = allowed_indices(self.respect_protected)
        mask = np.zeros((n, len(CELEBA_ATTRIBUTES)), bool)
        for i, key in enumerate(keys):
            mask[i, np.random.default_rng([self.seed, int(key)]).choice(allowed, size=self.k, replace=False)] = True
        return mask

    def __call__(self, attributes: np.ndarray, keys: Sequence[int] | None = None, scorer: Scorer | None = None) -> np.ndarray:
        return _flip(attributes, self.flip_mask(attributes, keys))


@dataclass(frozen=True)
class IdentityAware:
    """Flip the allowed set of `k` attributes whose redrawn face lies furthest from the original by the
    scorer (dlib's descriptor distance in stage 3), found per face by `identity_aware_flips`."""

    k: int = 4
    beam: int = 8
    respect_protected: bool = True
    needs_scorer: ClassVar[bool] = True

    def __call__(self, attributes: np.ndarray, keys: Sequence[int] | None = None, scorer: Scorer | None = None) -> np.ndarray:
        if scorer is None:
            raise ValueError("IdentityAware searches over redrawn faces: call it with a scorer (the Obfuscator makes one)")
        attributes = np.asarray(attributes)
        mask = np.zeros(attributes.shape, bool)
        for i in range(len(attributes)):
            names, _, _ = identity_aware_flips(attributes[i], lambda candidates, i=i: scorer(i, candidates), self.k, self.beam,
                                               self.respect_protected)
            mask[i, [attribute_index(n) for n in names]] = True
        return _flip(attributes, mask)


def flipped_names(before: np.ndarray, after: np.ndarray) -> list[list[str]]:
    """For each face, the names of the attributes that differ (what a report records)."""
    return [[CELEBA_ATTRIBUTES[j] for j in np.flatnonzero(b != a)] for b, a in zip(np.asarray(before), np.asarray(after))]


def identity_aware_flips(
    attributes: np.ndarray,
    distance: Callable[[np.ndarray], np.ndarray],
    k: int = 4,
    beam: int = 8,
    respect_protected: bool = True,
) -> tuple[tuple[str, ...], float, int]:
    """The flip set of size `k` (allowed attributes only) whose generated face lies furthest from the original.

    `distance(candidates)` takes (M, 40) attribute vectors of one face and returns (M,) distances,
    e.g. between dlib descriptors of the original and of the face the U-Net draws for each vector.
    The search is bounded: all single flips are scored once (one call of size A = 32 allowed
    attributes), then only combinations of the `beam` best single flips are scored (C(beam, k) more,
    70 for beam 8 and k 4), so the cost is A + C(beam, k) generations instead of C(A, k) = 35,960.
    Returns (flipped names, distance, number of candidates scored).
    """
    base = np.asarray(attributes).reshape(1, -1)
    allowed = allowed_indices(respect_protected)
    if not 0 < k <= allowed.size:
        raise UsageError(f"k must be between 1 and {allowed.size}, got {k}")
    singles = np.repeat(base, allowed.size, axis=0)
    singles[np.arange(allowed.size), allowed] = 1 - singles[np.arange(allowed.size), allowed]
    single_scores = np.asarray(distance(singles), float)
    shortlist = allowed[np.argsort(-single_scores, kind="stable")[: max(k, beam)]]
    sets = list(combinations(sorted(shortlist.tolist()), k))
    candidates = np.repeat(base, len(sets), axis=0)
    for row, chosen in enumerate(sets):
        candidates[row, list(chosen)] = 1 - candidates[row, list(chosen)]
    scores = np.asarray(distance(candidates), float)
    best = int(np.argmax(scores))
    return tuple(CELEBA_ATTRIBUTES[j] for j in sets[best]), float(scores[best]), allowed.size + len(sets)

"""Trial sheets of the seed's human test, and the machine assessor answering the same sheets.

A sheet shows 10 faces: one original image of a person, one processed image of the same person
(a different photo, so the unchanged background cannot give the pair away), and originals of 8
other people, shuffled. The assessor picks the two faces that show the same person; a random pick
is right with probability 1/45.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import combinations

import numpy as np

FACES_PER_SHEET = 10


def chance_level(faces: int = FACES_PER_SHEET) -> float:
    """Probability that a random pair of `faces` faces is the matching one."""
    return 1.0 / (faces * (faces - 1) / 2)


@dataclass(frozen=True)
class TrialSheet:
    """One trial: the shown faces in display order, and which two show the same person."""

    trial: int
    rows: tuple[int, ...]  # data set row of each shown face
    identities: tuple[int, ...]
    processed: int  # position of the processed face
    original: int  # position of the original of the same person

    @property
    def match(self) -> tuple[int, int]:
        return tuple(sorted((self.processed, self.original)))

    def as_dict(self) -> dict:
        return {**asdict(self), "match": list(self.match)}


def make_sheets(rows: np.ndarray, identities: np.ndarray, n_trials: int, seed: int = 0,
                processed_rows: np.ndarray | None = None, faces: int = FACES_PER_SHEET) -> list[TrialSheet]:
    """`n_trials` seeded sheets from face `rows` with their `identities`.

    The processed face is drawn from `processed_rows` (default: all rows) and its person needs a second
    image; the target person cycles so that sheets spread over people. No identity appears twice on a
    sheet except in the matching pair.
    """
    rows, identities = np.asarray(rows), np.asarray(identities)
    if len(rows) != len(identities):
        raise ValueError("rows and identities differ in length")
    by_identity = {int(i): rows[identities == i] for i in np.unique(identities)}
    if len(by_identity) < faces - 1:
        raise ValueError(f"a sheet of {faces} faces needs at least {faces - 1} identities, got {len(by_identity)}")
    allowed = set(map(int, rows if processed_rows is None else processed_rows))
    targets = [i for i, r in by_identity.items() if len(r) >= 2 and any(int(x) in allowed for x in r)]
    if not targets:
        raise ValueError("no identity has a processed image and a second image")
    identity_of = {int(r): int(i) for r, i in zip(rows, identities)}
    rng = np.random.default_rng(seed)
    order = rng.permutation(targets)
    sheets = []
    for t in range(n_trials):
        target = int(order[t % len(order)])
        candidates = [int(r) for r in by_identity[target] if int(r) in allowed]
        processed = int(rng.choice(candidates))
        original = int(rng.choice([int(r) for r in by_identity[target] if int(r) != processed]))
        others = rng.choice([i for i in by_identity if i != target], size=faces - 2, replace=False)
        shown = [processed, original] + [int(rng.choice(by_identity[int(i)])) for i in others]
        perm = rng.permutation(faces)
        shown = [shown[k] for k in perm]
        where = {k: int(np.flatnonzero(perm == k)[0]) for k in (0, 1)}
        sheets.append(TrialSheet(t, tuple(shown), tuple(identity_of[r] for r in shown), where[0], where[1]))
    return sheets


def machine_answer(descriptors: np.ndarray) -> tuple[int, int]:
    """The pair of positions whose descriptors are closest: the machine assessor's pick on one sheet."""
    d = np.asarray(descriptors, np.float64)
    pairs = list(combinations(range(len(d)), 2))
    return pairs[int(np.argmin([np.linalg.norm(d[i] - d[j]) for i, j in pairs]))]


def machine_answers(sheets: list[TrialSheet], original_descriptors: dict[int, np.ndarray],
                    processed_descriptors: dict[int, np.ndarray]) -> list[dict]:
    """The machine's pick on every sheet, in the answers format the human page exports."""
    answers = []
    for sheet in sheets:
        shown = [processed_descriptors[r] if k == sheet.processed else original_descriptors[r] for k, r in enumerate(sheet.rows)]
        answers.append({"trial": sheet.trial, "picks": list(machine_answer(np.stack(shown))), "ms": None})
    return answers

"""Trial sheets of the human test, and the machine assessor answering the same sheets.

A sheet holds 10 faces: one processed image of a person, one original image of the same person (a
different photo, so the unchanged background cannot give the pair away), and originals of 8 other
people. It is shown in one of two forms:

* `query` (the primary form): the processed face apart, the 9 originals below it; which of the 9 is
  the same person? A random pick is right with probability 1/9.
* `pairs` (the seed's form): all 10 faces shuffled; which two show the same person? A random pair is
  right with probability 1/45, but that is not this design's chance level: the processed face is the
  only one that looks edited (the page even says one face may), so an assessor who spots it only has to
  find its match among the other 9. Its chance level is therefore 1/9 as well (`chance_level`), and
  1/45 is kept only as the naive figure (`naive_chance_level`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import combinations

import numpy as np

from faceobf.errors import UsageError

FACES_PER_SHEET = 10
FORMS = ("query", "pairs")


def chance_level(faces: int = FACES_PER_SHEET) -> float:
    """The chance level of a sheet of `faces` faces, in either form: one right answer among the `faces - 1` originals
    (in the pairs form, the processed face gives itself away, leaving its match among the other faces)."""
    return 1.0 / (faces - 1)


def naive_chance_level(faces: int = FACES_PER_SHEET) -> float:
    """Probability that a random pair of `faces` faces is the matching one: the pairs form's chance only if the
    processed face could not be told from the originals."""
    return 1.0 / (faces * (faces - 1) / 2)


@dataclass(frozen=True)
class TrialSheet:
    """One trial: the shown faces in display order, and which two show the same person."""

    trial: int
    rows: tuple[int, ...]  # data set row of each face, in display order (query form: the query is at `processed`)
    identities: tuple[int, ...]
    processed: int  # position of the processed face
    original: int  # position of the original of the same person
    form: str = "query"

    def __post_init__(self) -> None:
        if self.form not in FORMS:
            raise UsageError(f"unknown sheet form {self.form!r}; choose one of {', '.join(FORMS)}")

    @property
    def match(self) -> tuple[int, ...]:
        """The right answer: (position of the matching original,) in the query form, the sorted pair in the pairs form."""
        return (self.original,) if self.form == "query" else tuple(sorted((self.processed, self.original)))

    @property
    def gallery(self) -> list[int]:
        """Positions an assessor may pick: the originals in the query form, every face in the pairs form."""
        return [k for k in range(len(self.rows)) if self.form == "pairs" or k != self.processed]

    @property
    def picks(self) -> int:
        """How many faces an answer picks."""
        return len(self.match)

    def as_dict(self) -> dict:
        return {**asdict(self), "match": list(self.match), "chance": chance_level(len(self.rows))}


def make_sheets(rows: np.ndarray, identities: np.ndarray, n_trials: int, seed: int = 0,
                processed_rows: np.ndarray | None = None, faces: int = FACES_PER_SHEET, form: str = "query") -> list[TrialSheet]:
    """`n_trials` seeded sheets of `form` from face `rows` with their `identities` (both forms draw the same faces).

    The processed face is drawn from `processed_rows` (default: all rows) and its person needs a second
    image; the target person cycles so that sheets spread over people. No identity appears twice on a
    sheet except in the matching pair.
    """
    rows, identities = np.asarray(rows), np.asarray(identities)
    if len(rows) != len(identities):
        raise ValueError("rows and identities differ in length")
    by_identity = {int(i): rows[identities == i] for i in np.unique(identities)}
    if len(by_identity) < faces - 1:
        raise UsageError(f"a sheet of {faces} faces needs at least {faces - 1} identities, got {len(by_identity)}")
    allowed = set(map(int, rows if processed_rows is None else processed_rows))
    targets = [i for i, r in by_identity.items() if len(r) >= 2 and any(int(x) in allowed for x in r)]
    if not targets:
        raise UsageError("no identity has a processed image and a second image")
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
        sheets.append(TrialSheet(t, tuple(shown), tuple(identity_of[r] for r in shown), where[0], where[1], form))
    return sheets


def machine_answer(descriptors: np.ndarray, sheet: TrialSheet) -> list[int]:
    """The machine assessor's pick on one sheet, from the descriptors of its faces in display order: the original
    nearest to the processed face (query form), or the closest pair of faces (pairs form)."""
    d = np.asarray(descriptors, np.float64)
    if sheet.form == "query":
        gallery = sheet.gallery
        return [gallery[int(np.argmin([np.linalg.norm(d[k] - d[sheet.processed]) for k in gallery]))]]
    pairs = list(combinations(range(len(d)), 2))
    return list(pairs[int(np.argmin([np.linalg.norm(d[i] - d[j]) for i, j in pairs]))])


def machine_answers(sheets: list[TrialSheet], original_descriptors: dict[int, np.ndarray],
                    processed_descriptors: dict[int, np.ndarray]) -> list[dict]:
    """The machine's pick on every sheet, in the answers format the human page exports."""
    answers = []
    for sheet in sheets:
        shown = [processed_descriptors[r] if k == sheet.processed else original_descriptors[r] for k, r in enumerate(sheet.rows)]
        answers.append({"trial": sheet.trial, "picks": machine_answer(np.stack(shown), sheet), "ms": None})
    return answers

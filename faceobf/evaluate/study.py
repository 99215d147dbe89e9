"""The whole evaluation of chapter 4 in one call: results table, the seed's protocol, the landmark
attacker, the machine on the trial sheets; written as JSON and Markdown by `faceobf evaluate`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from faceobf.data import CelebA
from faceobf.evaluate.faces import EvalFaces
from faceobf.evaluate.human_test import score_answers
from faceobf.evaluate.landmark_attack import LANDMARK_SUBSETS
from faceobf.evaluate.protocol import (DEFAULT_METHODS, MethodResult, context_record, evaluation_dir, load_faces,
                                       landmark_recall_of, load_reference, run_evaluation, sheet_material,
                                       summarise)
from faceobf.evaluate.seed_protocol import seed_protocol
from faceobf.evaluate.sheets import FORMS, chance_level, make_sheets
from faceobf.profiles import Profile


@dataclass
class Study:
    """All numbers of one evaluation (see `run_study`)."""

    context: dict
    table: dict[str, dict]  # every method on all the faces it processed
    subset_table: dict[str, dict]  # every method on the faces the identity-aware search processed
    seed_protocol: dict[str, dict]
    landmark_attack: dict[str, dict]
    machine_sheets: dict[str, dict]  # the primary (query) form of the sheets, by method
    machine_sheets_pairs: dict[str, dict] = field(default_factory=dict)  # the seed's ten-face form, by method
    results: dict[str, MethodResult] = field(repr=False, default_factory=dict)
    faces: EvalFaces | None = field(repr=False, default=None)

    def as_dict(self) -> dict:
        return {"context": self.context, "methods": self.table, "identity_aware_subset": self.subset_table,
                "seed_protocol": self.seed_protocol, "landmark_attack": self.landmark_attack, "machine_sheets": self.machine_sheets,
                "machine_sheets_pairs": self.machine_sheets_pairs}


def landmark_attack(faces: EvalFaces, results: dict[str, MethodResult]) -> dict[str, dict]:
    """Recall@1 of the landmark attacker per landmark subset, on the landmarks re-detected in each
    method's faces (for 'original', the originals' own) against the originals'."""
    out = {}
    for subset, points in LANDMARK_SUBSETS.items():
        row: dict = {"points": len(points)}
        for name, r in results.items():
            value = landmark_recall_of(r, faces, subset)
            if value is not None:
                row[name] = value
        out[subset] = row
    return out


def machine_on_sheets(faces: EvalFaces, results: dict[str, MethodResult], trials: int, seed: int,
                      form: str = "query") -> dict[str, dict]:
    """The machine assessor's success rate on `trials` seeded sheets of `form` per method (scored like people)."""
    out = {}
    for name, r in results.items():
        if name == "original":
            continue
        sheets = make_sheets(faces.rows, faces.identities, trials, seed, processed_rows=r.rows, form=form)
        _, answers = sheet_material(sheets, r, results["original"])
        key = {"test_id": "machine", "method": name, "sheets": [s.as_dict() for s in sheets]}
        out[name] = score_answers({"test_id": "machine", "assessor": "dlib", "answers": answers}, key)
    return out


def run_study(profile: Profile, dataset: CelebA, encoding: str = "onehot", methods: Sequence[str] = DEFAULT_METHODS,
              progress: bool = True, log: Callable[[str], None] = print) -> Study:
    """Run or load every method, then compute every table of chapter 4."""
    from faceobf.trained import recogniser_run

    directory = evaluation_dir(profile, dataset, encoding)
    results = run_evaluation(profile, dataset, encoding, methods, directory, progress, log)
    faces, reference = load_faces(directory), load_reference(directory)
    recogniser = recogniser_run(profile, dataset, progress=progress, log=log)
    embeddings = {name: recogniser.embed(np.asarray(r.crops)) for name, r in results.items()}
    table = summarise(results, faces, reference, embeddings=embeddings)
    subset = min((len(r.rows) for r in results.values()), default=0)
    subset_table = summarise(results, faces, reference, subset=subset, embeddings=embeddings) if subset < len(faces) else {}
    originals = results["original"]
    processed = {name: (r.crops, np.arange(len(r.rows))) for name, r in results.items()}
    seed = seed_protocol(originals.crops, faces.identities, processed, profile.evaluation.seed_protocol_identities,
                         profile.evaluation.identity_cnn)
    context = context_record(profile, encoding, faces, directory)
    context["chance_sheet"] = chance_level()
    context["second_recogniser"] = {"what": "ResNet-50 + ArcFace, trained on the train identities (faceobf train recogniser)",
                                    "run": recogniser.run_dir.name, **recogniser.test}
    sheets = {form: machine_on_sheets(faces, results, profile.evaluation.trials, profile.evaluation.seed, form) for form in FORMS}
    return Study(context, table, subset_table, seed, landmark_attack(faces, results), sheets["query"], sheets["pairs"],
                 results=results, faces=faces)


def write_study(study: Study, out_dir: Path) -> tuple[Path, Path]:
    """evaluation.json and evaluation.md in `out_dir`, atomically."""
    from faceobf.evaluate.report import markdown_report
    from faceobf.io import atomic_path, write_json

    out_dir = Path(out_dir)
    write_json(out_dir / "evaluation.json", study.as_dict())
    with atomic_path(out_dir / "evaluation.md") as tmp:
        tmp.write_text(markdown_report(study.as_dict()))
    return out_dir / "evaluation.json", out_dir / "evaluation.md"


def _share_originals(source: Path, target: Path) -> None:
    """Reuse the originals' readings of another evaluation of the same faces (they do not depend on the U-Net)."""
    import shutil

    target.mkdir(parents=True, exist_ok=True)
    for name in ("original.npz", "original-crops.npy", "reference.npz"):
        if (source / name).exists() and not (target / name).exists():
            shutil.copyfile(source / name, target / name)


def compare_landmark_subsets(profile: Profile, dataset: CelebA, encoding: str, subset: str,
                             methods: Sequence[str] = ("unet_noflip", "flip4"), progress: bool = True,
                             log: Callable[[str], None] = print) -> dict[str, dict[str, dict]]:
    """The same U-Net methods with the U-Net fed all 68 landmarks and fed only `subset`, both trained under the
    profile's ablation budget:
    {landmarks: {method: table row}}, the row with the landmark attacker's Recall@1 for both subsets."""
    from faceobf.profiles import with_ablation_budget, with_landmarks

    out = {}
    for landmarks in ("all", subset):  # both arms under the ablation budget (faceobf.train.ablations)
        variant = with_ablation_budget(with_landmarks(profile, landmarks))
        directory = evaluation_dir(variant, dataset, encoding)
        if landmarks != "all":
            main = evaluation_dir(profile, dataset, encoding)
            if (main / "faces.npz").exists():
                _share_originals(main, directory)
        results = run_evaluation(variant, dataset, encoding, methods, directory, progress, log)
        faces, reference = load_faces(directory), load_reference(directory)
        table = summarise(results, faces, reference)
        for name in table:
            table[name]["landmark_recall_subset"] = landmark_recall_of(results[name], faces, subset)
        out[landmarks] = table
    return out

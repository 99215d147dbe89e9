"""The evaluation protocol: every method on the same test faces, read by the machine assessor, summarised.

`run_evaluation` processes the faces with each method, reads them (detection, landmarks, descriptor),
computes image metrics and FAC features, and keeps one result file per method in the evaluation
directory, so an interrupted run resumes at the next method and the chapter loads what the CLI made.
`summarise` turns the stored results into the table of chapter 4.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from tqdm.auto import tqdm

from faceobf.errors import UsageError
from faceobf import runs
from faceobf.data import CelebA
from faceobf.disentangle.classifier import AttributeClassifier
from faceobf.evaluate import metrics
from faceobf.evaluate.assess import paste_crop, read_faces
from faceobf.evaluate.faces import EvalFaces, select_faces
from faceobf.evaluate.landmark_attack import landmark_recall
from faceobf.evaluate.methods import DEFAULT_METHODS, Method, face_mask, get_method, process_crops
from faceobf.io import save_npz
from faceobf.obfuscate.pipeline import Obfuscator
from faceobf.data.images import FACE_CROP, crop_and_resize
from faceobf.paths import runs_root
from faceobf.profiles import Profile
from faceobf.recognition import SAME_PERSON_THRESHOLD

FARS = (0.01, 0.001)


@dataclass
class MethodResult:
    """Everything measured on one method's processed faces (row order = `EvalFaces` order, maybe a prefix)."""

    name: str
    rows: np.ndarray
    crops: np.ndarray  # (n, 178, 178, 3) uint8 processed face crops
    hog_found: np.ndarray
    landmarks: np.ndarray  # (n, 68, 2) re-detected, NaN where HOG missed
    cnn_found: np.ndarray  # 1/0, -1 = not run
    descriptors: np.ndarray  # (n, 128)
    features: np.ndarray  # (n, 2048) FAC ResNet-50 pooled features (empty when no FAC)
    image_metrics: dict  # name -> (n,) SSIM / PSNR to the original, whole crop and inside the face mask
    seconds: float
    outcome: np.ndarray | None = None  # (n,) int8 UNTOUCHED / REDRAWN / FALLBACK (faceobf.evaluate.methods)

    def save(self, directory: Path) -> None:
        """Crops first, then the .npz: the .npz marks a finished method (both written atomically)."""
        from faceobf.io import atomic_path

        with atomic_path(directory / f"{self.name}-crops.npy") as tmp:
            with open(tmp, "wb") as f:
                np.save(f, np.ascontiguousarray(self.crops))
        save_npz(directory / f"{self.name}.npz", rows=self.rows, hog_found=self.hog_found, landmarks=self.landmarks,
                 cnn_found=self.cnn_found, descriptors=self.descriptors, features=self.features, outcome=self.outcome,
                 seconds=np.float64(self.seconds), **{f"m_{k}": v for k, v in self.image_metrics.items()})

    @classmethod
    def load(cls, directory: Path, name: str) -> "MethodResult":
        with np.load(directory / f"{name}.npz") as z:
            arrays = {k: z[k] for k in z.files}
        crops = np.load(directory / f"{name}-crops.npy", mmap_mode="r")
        return cls(name, arrays["rows"], crops, arrays["hog_found"], arrays["landmarks"], arrays["cnn_found"],
                   arrays["descriptors"], arrays["features"],
                   {k[2:]: v for k, v in arrays.items() if k.startswith("m_")}, float(arrays["seconds"]), arrays["outcome"])

    @staticmethod
    def exists(directory: Path, name: str) -> bool:
        return (directory / f"{name}.npz").exists() and (directory / f"{name}-crops.npy").exists()


def evaluation_dir(profile: Profile, dataset: CelebA, encoding: str) -> Path:
    """Where the evaluation of `profile`'s models on `dataset` keeps its per-method results (the run registry's name)."""
    return runs_root() / runs.RunSpec.evaluation(profile, encoding).folder_name(dataset.key)


def method_limit(method: Method, profile: Profile, n_faces: int) -> int:
    """How many faces a method processes: all, except for policies that search over redrawn faces (slow)."""
    searches = method.policy is not None and method.policy.needs_scorer
    return min(n_faces, profile.evaluation.identity_aware_limit) if searches else n_faces


def _image_metrics(processed: np.ndarray, originals: np.ndarray, masks: np.ndarray, batch: int = 32) -> dict:
    from faceobf.reconstruct.imageops import image_metrics

    out: dict[str, list] = {}
    for s in range(0, len(processed), batch):
        m = image_metrics(processed[s : s + batch].astype(np.float32) / 255.0, originals[s : s + batch].astype(np.float32) / 255.0,
                          masks[s : s + batch])
        for k in ("ssim", "ssim_mask", "psnr", "psnr_mask"):
            out.setdefault(k, []).append(np.asarray(m[k]))
    return {k: np.concatenate(v) for k, v in out.items()}


def run_method(method: Method, faces: EvalFaces, aligned: Sequence[np.ndarray], profile: Profile, obfuscator=None,
               classifier: AttributeClassifier | None = None, progress: bool = True, chunk: int = 32) -> MethodResult:
    """Process the first `method_limit` faces (their decoded aligned images: `aligned`) with `method`, in
    batches of `chunk`, and read them as the machine assessor."""
    import time

    start = time.time()
    n = method_limit(method, profile, len(faces))
    originals = np.stack([crop_and_resize(a, FACE_CROP, FACE_CROP.size) for a in aligned[:n]])
    points = [faces.crop_points(i) for i in range(n)]
    rows, images = faces.rows[:n], list(aligned[:n])
    parts = [process_crops(method, originals[s : s + chunk], points[s : s + chunk], rows[s : s + chunk], obfuscator,
                           images[s : s + chunk]) for s in tqdm(range(0, n, chunk), desc=f"{method.name}: process", disable=not progress)]
    crops, outcome = np.concatenate([c for c, _ in parts]), np.concatenate([o for _, o in parts])
    run_cnn = np.arange(n) < profile.evaluation.cnn_limit
    readings = read_faces([paste_crop(a, c) for a, c in zip(aligned[:n], crops)], faces.landmarks[:n], run_cnn)
    masks = np.stack([face_mask(originals[i], points[i]) for i in range(n)])
    feats = classifier.features(crops) if classifier is not None else np.zeros((n, 0), np.float32)
    return MethodResult(
        method.name, faces.rows[:n], crops,
        np.array([r.hog_found for r in readings]), np.stack([r.landmarks for r in readings]),
        np.array([r.cnn_found for r in readings], np.int8), np.stack([r.descriptor for r in readings]),
        feats.astype(np.float32), _image_metrics(crops, originals, masks), time.time() - start, outcome,
    )


def reference_features(dataset: CelebA, classifier: AttributeClassifier, limit: int | None, seed: int) -> np.ndarray:
    """FAC features of real faces from the validation split: the 'real' side of the KID."""
    from faceobf.data.dataset import sample_rows

    rows = sample_rows(dataset.split("val"), limit, seed)
    return classifier.features(dataset.images(rows, 178, progress=False))


def load_models(profile: Profile, encoding: str, need_unet: bool = True) -> tuple[Obfuscator | None, AttributeClassifier | None, Path | None]:
    """(Obfuscator or None, the FAC as a classifier or None, the FAC's run folder or None) of the profile's finished runs.

    A missing U-Net or FAC raises `MissingCheckpointError` (naming how to train it) only when a method
    needs it; without a FAC the evaluation still runs but has no KID column.
    """
    from faceobf import trained

    obfuscator = trained.obfuscator(profile, encoding) if need_unet else None
    found = trained.classifier(profile)
    return (obfuscator, None, None) if found is None else (obfuscator, *found)


# The code whose output the stored readings are: processing (stage 3, baselines, detection), reading (recognisers,
# detectors, metrics) and face selection. A change to any of them makes stored readings stale.
READING_PACKAGES = ("faceobf.evaluate", "faceobf.obfuscate", "faceobf.disentangle", "faceobf.reconstruct")
READING_MODULES = ("faceobf.recognition", "faceobf.models.identity_cnn", "faceobf.data.images")


def source_key(source: str) -> str:
    """The AST of Python `source` with comments and docstrings left out (they cannot change a number)."""
    import ast

    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def code_version() -> str:
    """A hash of the code that makes and reads the evaluation's faces (`source_key` of each module), so stored
    readings are reused only by the code that made them."""
    import importlib
    import pkgutil

    names = list(READING_MODULES)
    for package in READING_PACKAGES:
        names += [m.name for m in pkgutil.iter_modules(importlib.import_module(package).__path__, package + ".")]
    digest = hashlib.sha256()
    for name in sorted(names):
        digest.update(name.encode() + source_key(Path(importlib.import_module(name).__file__).read_text()).encode())
    return digest.hexdigest()[:16]


def _check_models(directory: Path, obfuscator, fac_dir: Path | None) -> None:
    """Refuse to mix stored results of other models, or of other evaluation code, with new ones."""
    from faceobf.io import write_json

    record = {"fac": runs.fingerprint(fac_dir), "unet": runs.fingerprint(getattr(obfuscator, "run_dir", None)),
              "code": code_version()}
    path = directory / "models.json"
    if path.exists():
        stored = json.loads(path.read_text())
        for key, value in record.items():
            if value is not None and stored.get(key) != value and (key == "code" or stored.get(key) is not None):
                what = "evaluation code" if key == "code" else f"{key} model"
                raise runs.RunConfigError(f"{directory}: its results were made with another {what} ({stored.get(key)}, now {value}); "
                                 f"delete that folder (rm -r {directory}) to evaluate again")
        record = {k: record[k] or stored.get(k) for k in record}
    write_json(path, record)


def run_evaluation(profile: Profile, dataset: CelebA, encoding: str = "onehot", methods: Sequence[str] = DEFAULT_METHODS,
                   directory: Path | None = None, progress: bool = True, log: Callable[[str], None] = print) -> dict[str, MethodResult]:
    """Run (or load, per method) every method on the profile's evaluation faces; returns results by name.

    'original' is always included: its readings are the gallery and the SSIM reference.
    """
    names = ["original"] + [m for m in methods if m != "original"]
    chosen = [get_method(m) for m in names]
    directory = runs.claim(runs.RunSpec.evaluation(profile, encoding), dataset.key, directory or evaluation_dir(profile, dataset, encoding))
    faces = select_faces(dataset, profile.evaluation, progress=progress)
    obfuscator, classifier, fac_dir = load_models(profile, encoding, any(m.needs_models for m in chosen))
    _check_models(directory, obfuscator, fac_dir)
    if classifier is not None:  # KID's features at the evaluation's size, for the real faces and every method alike
        classifier = classifier.at_resolution(profile.evaluation.kid_resolution)
    if classifier is None:
        log(f"no trained FAC for profile {profile.name!r}: the report has no KID column")
    elif not (directory / "reference.npz").exists():
        save_npz(directory / "reference.npz", features=reference_features(dataset, classifier, 400, profile.evaluation.seed))
    save_npz(directory / "faces.npz", rows=faces.rows, identities=faces.identities, landmarks=faces.landmarks)
    todo = [m for m in chosen if not MethodResult.exists(directory, m.name)]
    aligned = [dataset.read_aligned(int(r)) for r in faces.rows] if todo else []  # decoded once for all methods
    results = {}
    for method in chosen:
        if MethodResult.exists(directory, method.name):
            results[method.name] = MethodResult.load(directory, method.name)
            continue
        log(f"evaluating {method.name} ({method.label}) on {method_limit(method, profile, len(faces))} faces")
        result = run_method(method, faces, aligned, profile, obfuscator, classifier, progress)
        result.save(directory)
        results[method.name] = MethodResult.load(directory, method.name)
    return results


def load_reference(directory: Path) -> np.ndarray | None:
    """The real faces' FAC features stored by `run_evaluation` (None when no FAC was trained)."""
    path = Path(directory) / "reference.npz"
    if not path.exists():
        return None
    with np.load(path) as z:
        return z["features"]


def load_faces(directory: Path) -> EvalFaces:
    with np.load(Path(directory) / "faces.npz") as z:
        return EvalFaces(z["rows"], z["identities"], z["landmarks"])


def landmark_recall_of(result: MethodResult, faces: EvalFaces, subset: str = "all", n: int | None = None) -> float | None:
    """The landmark attacker on the landmarks re-detected in the first `n` processed faces, against every
    original's landmarks (the face's own image left out); None when HOG found none of them."""
    n = len(result.rows) if n is None else n
    found = result.hog_found[:n]
    if not found.any():
        return None
    return float(landmark_recall(result.landmarks[:n][found], faces.identities[:n][found], faces.landmarks, faces.identities,
                                 result.rows[:n][found], faces.rows, subset).mean())


def summarise_method(result: MethodResult, originals: MethodResult, faces: EvalFaces, reference: np.ndarray | None,
                     subset: int | None = None, embeddings: dict[str, np.ndarray] | None = None) -> dict:
    """The table row of one method: identification (dlib, and the second recogniser when its `embeddings` of every
    method's crops are given), verification, detection, image metrics, KID, landmark leak.

    With `subset`, only its first `subset` faces count (to compare methods on the identity-aware faces).
    """
    n = len(result.rows) if subset is None else min(subset, len(result.rows))
    ids = faces.identities[:n]
    gallery_ids = faces.identities[: len(originals.rows)]
    keys, gallery_keys = result.rows[:n], originals.rows
    desc = result.descriptors[:n]
    hits = metrics.recall_at_1(desc, ids, originals.descriptors, gallery_ids, keys, gallery_keys)
    genuine, impostor = metrics.pair_distances(desc, ids, originals.descriptors, gallery_ids, keys, gallery_keys)
    cnn = result.cnn_found[:n]
    row = {
        "faces": int(n),
        "identities": int(np.unique(ids).size),
        "recall_at_1": float(hits.mean()),
        "verification_at_0.6": metrics.verification_rate(genuine, SAME_PERSON_THRESHOLD),
        **{f"tar_at_far_{far:g}": metrics.tar_at_far(genuine, impostor, far) for far in FARS},
        "genuine_distance": float(genuine.mean()),
        "impostor_distance": float(impostor.mean()),
        "hog_detection": float(result.hog_found[:n].mean()),
        "cnn_detection": float(cnn[cnn >= 0].mean()) if (cnn >= 0).any() else None,
        "cnn_faces": int((cnn >= 0).sum()),
        # the original against itself has no meaningful SSIM/PSNR (PSNR is infinite)
        **{k: (None if result.name == "original" else float(np.mean(v[:n]))) for k, v in result.image_metrics.items()},
    }
    if embeddings is not None:  # the same Recall@1, by a recogniser no policy has seen
        second = metrics.recall_at_1(embeddings[result.name][:n], ids, embeddings["original"], gallery_ids, keys, gallery_keys)
        row["recall_at_1_second"] = float(second.mean())
    row["landmark_recall_at_1"] = landmark_recall_of(result, faces, "all", n)
    if result.outcome is not None and result.name != "original":  # what the tool did with each face (photo path)
        from faceobf.evaluate.methods import FALLBACK, REDRAWN, UNTOUCHED

        for key, code in (("tool_missed", UNTOUCHED), ("tool_redrew", REDRAWN), ("tool_fallback", FALLBACK)):
            row[key] = float((result.outcome[:n] == code).mean())
    if reference is not None and result.features.shape[1] and n >= 20:  # KID of fewer faces is noise
        kid, kid_std = metrics.kernel_distance(result.features[:n], reference)
        row["kid"], row["kid_std"] = kid, kid_std
    return row


def summarise(results: dict[str, MethodResult], faces: EvalFaces, reference: np.ndarray | None, subset: int | None = None,
              embeddings: dict[str, np.ndarray] | None = None) -> dict[str, dict]:
    """One summary row per method (see `summarise_method`), chance level included."""
    originals = results["original"]
    table = {name: summarise_method(r, originals, faces, reference, subset, embeddings) for name, r in results.items()}
    for row in table.values():
        row["chance_recall_at_1"] = 1.0 / row["identities"] if row["identities"] else None
    return table


def context_record(profile: Profile, encoding: str, faces: EvalFaces, directory: Path) -> dict:
    from faceobf.profiles import hardware_summary

    return {"profile": profile.name, "encoding": encoding, "landmark_subset": profile.recon.landmark_subset, "faces": len(faces), "identities": faces.n_identities,
            "evaluation": asdict(profile.evaluation), "results_dir": str(directory), "hardware": hardware_summary(),
            "assessor": "dlib face recognition ResNet v1 (128-d), HOG detector upsample 1, 68-point landmarks",
            "kid_network": f"the profile's FAC ResNet-50 (pooled 2048-d) on crops at {profile.evaluation.kid_resolution} px, "
                           "reference: 400 validation-split originals"}


def sheet_material(sheets, result: MethodResult, originals: MethodResult) -> tuple[list[list[np.ndarray]], list[dict]]:
    """The faces each sheet shows (the processed one from `result`) and the machine's picks on them."""
    from faceobf.evaluate.sheets import machine_answers

    pos = {int(r): k for k, r in enumerate(result.rows)}
    opos = {int(r): k for k, r in enumerate(originals.rows)}
    images = [[np.asarray(result.crops[pos[r]] if k == s.processed else originals.crops[opos[r]]) for k, r in enumerate(s.rows)]
              for s in sheets]
    answers = machine_answers(sheets, {r: originals.descriptors[k] for r, k in opos.items()},
                              {r: result.descriptors[k] for r, k in pos.items()})
    return images, answers


def _subset(faces: EvalFaces, rows: Sequence[int]) -> EvalFaces:
    where = {int(r): k for k, r in enumerate(faces.rows)}
    idx = np.array([where[int(r)] for r in rows])
    return EvalFaces(faces.rows[idx], faces.identities[idx], faces.landmarks[idx])


def human_test_material(profile: Profile, dataset: CelebA, encoding: str, method_name: str, trials: int, seed: int = 0,
                        progress: bool = True, form: str = "query"):
    """(sheets, images, machine answers) for `trials` sheets of `form` of `method_name` on the evaluation faces.

    Uses the stored results of `faceobf evaluate` when they exist; otherwise processes only the faces
    the sheets show.
    """
    from dataclasses import replace

    from faceobf import trained
    from faceobf.evaluate.sheets import make_sheets

    method = get_method(method_name)
    if method.name == "original":
        raise UsageError("the human test compares a processed face with originals: choose a method other than 'original'")
    faces = select_faces(dataset, profile.evaluation, progress=progress)
    sheets = make_sheets(faces.rows, faces.identities, trials, seed, processed_rows=faces.rows[: method_limit(method, profile, len(faces))],
                         form=form)
    directory = evaluation_dir(profile, dataset, encoding)
    if MethodResult.exists(directory, method.name) and MethodResult.exists(directory, "original"):
        result, originals = MethodResult.load(directory, method.name), MethodResult.load(directory, "original")
    else:
        quick = replace(profile, evaluation=replace(profile.evaluation, cnn_limit=0))
        processed = _subset(faces, list(dict.fromkeys(s.rows[s.processed] for s in sheets)))
        shown = _subset(faces, list(dict.fromkeys(r for s in sheets for r in s.rows)))
        aligned = {int(r): dataset.read_aligned(int(r)) for r in np.union1d(processed.rows, shown.rows)}
        obfuscator = trained.obfuscator(profile, encoding) if method.needs_models else None
        result = run_method(method, processed, [aligned[int(r)] for r in processed.rows], quick, obfuscator, None, progress)
        originals = run_method(get_method("original"), shown, [aligned[int(r)] for r in shown.rows], quick, None, None, progress)
    images, answers = sheet_material(sheets, result, originals)
    return sheets, images, answers

"""Stage 3: obfuscate faces by flipping attributes and redrawing them, in aligned crops or whole photos.

For each face: align it to the canonical template (`faceobf.obfuscate.align`) by a similarity
transform, read its 40 attributes with the attribute classifier, let the policy change them, redraw
the face with the U-Net from (landmark heatmaps, masked context, new attribute planes), warp the new
face back and blend it into the photo inside the feathered face ellipse. Pixels outside every face
ellipse are returned bit for bit. The faces of a photo (or a list of crops) are redrawn in one batch.

It fails closed: a photo with no detected face raises `NoFaceError` (unless `allow_no_face`), and any
error on one face fails the whole photo, so nothing half-obfuscated is ever returned as done. Faces
too small for the model get a documented fallback (blur, pixelate or black-out) inside their ellipse.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from faceobf.disentangle.attributes import CELEBA_ATTRIBUTES
from faceobf.disentangle.classifier import AttributeClassifier
from faceobf.disentangle.landmarks import detect_faces
from faceobf.disentangle.masking import ellipse_mask, fit_face_ellipse
from faceobf.obfuscate.align import CROP, apply_affine, similarity_to_template
from faceobf.obfuscate.baselines import blackout_face, blur_face, pixelate_face
from faceobf.obfuscate.policies import FlipNamed, Policy, Scorer, flipped_names
from faceobf.reconstruct.generate import FaceGenerator
from faceobf.recognition import face_descriptor

FALLBACKS = ("blur", "pixelate", "blackout")


class NoFaceError(ValueError):
    """No face was found in a photo: it must not be passed on as obfuscated."""


@dataclass
class FaceRecord:
    """What was done to one face of a photo (one entry of the per-photo report)."""

    box: tuple[int, int, int, int]
    score: float
    method: str  # "unet" or "fallback:<name>"
    policy: str = ""
    flipped: list[str] = field(default_factory=list)
    predicted: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _feather_np(mask: np.ndarray, radius: float) -> np.ndarray:
    """Numpy twin of `imageops.feather` for photo-sized masks: 0 outside the mask, fading in inside."""
    if radius <= 0:
        return mask.astype(np.float32)
    size = int(2 * round(3 * radius) + 1)
    blurred = cv2.GaussianBlur(mask.astype(np.float32), (size, size), radius, borderType=cv2.BORDER_REPLICATE)
    return mask * np.sqrt(np.clip(2.0 * blurred - 1.0, 0.0, 1.0))


def apply_fallback(photo: np.ndarray, mask: np.ndarray, how: str, face_size: float) -> np.ndarray:
    """Blur, pixelate or black out the region inside `mask`, with strengths scaled to the face size
    (blur sigma = size / 9, pixel blocks = size / 8); the rest of the photo is untouched."""
    if how not in FALLBACKS:
        raise ValueError(f"unknown fallback {how!r}; choose one of {FALLBACKS}")
    if how == "blackout":
        return blackout_face(photo, mask)
    if how == "blur":
        return blur_face(photo, mask, max(1.0, face_size / 9))
    return pixelate_face(photo, mask, max(2, int(face_size // 8)))


@dataclass
class Redrawn:
    """One face as stage 3 redrew it in the crop frame: the new face, its ellipse, what was flipped and read."""

    face: np.ndarray  # (CROP, CROP, 3) float in [0, 1]
    mask: np.ndarray  # (CROP, CROP) ellipse of the face's landmarks
    flipped: list[str]
    predicted: list[str]


def photo_face_keys(photo: np.ndarray, faces: Sequence[int]) -> list[int]:
    """Keys of faces of a photo for the policies' draws: a hash of the photo's pixels and the face's index, so a
    random policy draws differently for each photo and face, and the same again for the same photo."""
    digest = hashlib.sha256(np.ascontiguousarray(photo).tobytes() + repr(photo.shape).encode()).digest()
    return [int.from_bytes(hashlib.sha256(digest + int(k).to_bytes(4, "little")).digest()[:8], "little") for k in faces]


def descriptor_scorer(crops: Sequence[np.ndarray], points: Sequence[np.ndarray], draw) -> Scorer:
    """A `Scorer` by dlib's descriptor distance between each original crop and the faces `draw(i, candidates)` gives."""
    originals: dict[int, np.ndarray] = {}

    def score(i: int, candidates: np.ndarray) -> np.ndarray:
        if i not in originals:
            originals[i] = face_descriptor(crops[i], points[i])
        faces = (np.clip(draw(i, candidates), 0, 1) * 255).astype(np.uint8)
        return np.array([np.linalg.norm(face_descriptor(f, points[i]) - originals[i]) for f in faces])

    return score


@dataclass
class Obfuscator:
    """Everything stage 3 needs: the attribute classifier, the U-Net generator, a policy and the photo options."""

    classifier: AttributeClassifier
    generator: FaceGenerator
    resolution: int  # the U-Net's face resolution
    policy: Policy
    detector: str = "hog"
    upsample: int = 1
    min_face: int = 32  # faces whose box is narrower (pixels) get the fallback
    fallback: str = "blur"
    feather_radius: float = 1.5
    run_dir: Path | None = None  # the U-Net's training run, when loaded from one (recorded by the evaluation)

    def __post_init__(self) -> None:
        if self.fallback not in FALLBACKS:
            raise ValueError(f"unknown fallback {self.fallback!r}; choose one of {FALLBACKS}")

    def _draw(self, small: np.ndarray, pts: np.ndarray, masks: np.ndarray, attributes: np.ndarray) -> np.ndarray:
        """U-Net composites of faces at the model's resolution, scaled up to CROP x CROP."""
        out = self.generator(small, pts, masks, attributes)
        return np.stack([cv2.resize(o, (CROP, CROP), interpolation=cv2.INTER_CUBIC) for o in out])

    def redraw(self, crops: Sequence[np.ndarray], points: Sequence[np.ndarray], keys: Sequence[int]) -> list[Redrawn]:
        """Obfuscate aligned CROP x CROP uint8 faces (landmarks in crop pixels) in one batch."""
        crops = np.stack([np.asarray(c, np.uint8) for c in crops])
        points = [np.asarray(p, np.float32) for p in points]
        attrs = self.classifier.predict(crops)
        small = np.stack([cv2.resize(c, (self.resolution,) * 2, interpolation=cv2.INTER_AREA) for c in crops])
        pts = np.stack(points) * (self.resolution / CROP)
        masks = np.stack([ellipse_mask((self.resolution, self.resolution), fit_face_ellipse(p)) for p in pts])

        def draw_one(i: int, candidates: np.ndarray) -> np.ndarray:
            n = len(candidates)
            return self._draw(np.repeat(small[i : i + 1], n, 0), np.repeat(pts[i : i + 1], n, 0),
                              np.repeat(masks[i : i + 1], n, 0), np.asarray(candidates))

        scorer = descriptor_scorer(crops, points, draw_one) if self.policy.needs_scorer else None
        new_attrs = self.policy(attrs, keys=list(keys), scorer=scorer)
        faces = self._draw(small, pts, masks, new_attrs)
        flipped = flipped_names(attrs, new_attrs)
        return [Redrawn(np.clip(faces[i], 0.0, 1.0), ellipse_mask((CROP, CROP), fit_face_ellipse(points[i])), flipped[i],
                        [CELEBA_ATTRIBUTES[j] for j in np.flatnonzero(attrs[i])]) for i in range(len(crops))]

    def obfuscate_crops(self, crops: Sequence[np.ndarray], points: Sequence[np.ndarray], keys: Sequence[int]) -> list[tuple[np.ndarray, list[str]]]:
        """Aligned CROP x CROP uint8 faces with each face redrawn and blended in its feathered ellipse
        (the whole-photo path without detection and warping), with the flipped attribute names."""
        out = []
        for crop, r in zip(crops, self.redraw(crops, points, keys)):
            alpha = _feather_np(r.mask, self.feather_radius)[..., None]
            blended = alpha * r.face * 255.0 + (1.0 - alpha) * np.asarray(crop, np.float32)
            out.append((np.clip(np.rint(blended), 0, 255).astype(np.uint8), r.flipped))
        return out

    def obfuscate_crop(self, crop: np.ndarray, points: np.ndarray, key: int = 0) -> tuple[np.ndarray, list[str]]:
        """One aligned face: `obfuscate_crops` of a batch of one."""
        return self.obfuscate_crops([crop], [points], [key])[0]

    def obfuscate_photo(self, photo: np.ndarray, allow_no_face: bool = False) -> tuple[np.ndarray, list[FaceRecord]]:
        """The photo with every detected face obfuscated, and one record per face.

        Raises `NoFaceError` when no face is found, unless `allow_no_face` (then the photo comes back
        unchanged with an empty record list, and the caller says so).
        """
        photo = np.ascontiguousarray(photo[..., :3]).astype(np.uint8)
        faces = detect_faces(photo, self.upsample, self.detector)
        if not faces:
            if allow_no_face:
                return photo.copy(), []
            raise NoFaceError("no face found")
        h, w = photo.shape[:2]
        out = photo.astype(np.float32)
        records: list[FaceRecord | None] = [None] * len(faces)
        large = [k for k, face in enumerate(faces) if face.box[2] - face.box[0] >= self.min_face]
        matrices = {k: similarity_to_template(faces[k].landmarks) for k in large}
        crops = [cv2.warpAffine(photo, matrices[k], (CROP, CROP), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT) for k in large]
        points = [apply_affine(matrices[k], faces[k].landmarks) for k in large]
        redrawn = self.redraw(crops, points, photo_face_keys(photo, large)) if large else []
        by_face = dict(zip(large, redrawn))
        for key, face in enumerate(faces):
            width = face.box[2] - face.box[0]
            photo_mask = ellipse_mask((h, w), fit_face_ellipse(face.landmarks))
            if key not in by_face:
                out = apply_fallback(out, photo_mask, self.fallback, width)
                records[key] = FaceRecord(face.box, face.score, f"fallback:{self.fallback}", repr(self.policy))
                continue
            r, matrix = by_face[key], matrices[key]
            back = cv2.warpAffine(r.face * 255.0, matrix, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)
            region = cv2.warpAffine(r.mask, matrix, (w, h), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP, borderValue=0)
            region = region * photo_mask  # never outside the ellipse fitted in the photo itself
            scale = 1.0 / np.sqrt(abs(np.linalg.det(matrix[:, :2])))
            alpha = _feather_np(region, self.feather_radius * scale)[..., None]
            out = alpha * back + (1.0 - alpha) * out
            records[key] = FaceRecord(face.box, face.score, "unet", repr(self.policy), r.flipped, r.predicted)
        return np.clip(np.rint(out), 0, 255).astype(np.uint8), records


def obfuscator_from_runs(profile, encoding: str = "onehot", policy: Policy | None = None, **options) -> Obfuscator:
    """An `Obfuscator` from the finished FAC and U-Net runs of `profile`, found by the run registry (no data set needed).

    Missing runs raise `faceobf.runs.MissingCheckpointError` naming the commands that train them,
    instead of starting hours of training unasked; runs of another configuration are refused.
    """
    from faceobf import runs
    from faceobf.train import fac, recon

    fac_dir = runs.find(runs.RunSpec.fac(profile))
    recon_dir = runs.find(runs.RunSpec.recon(profile, encoding))
    classifier = fac.load_run(fac_dir, profile).classifier()
    generator = recon.load_run(recon_dir, profile, encoding).generator()
    return Obfuscator(classifier, generator, profile.recon.resolution, policy or FlipNamed(),
                      feather_radius=profile.recon.feather_radius, run_dir=recon_dir, **options)

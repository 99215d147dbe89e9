"""Stage 3: obfuscate faces by flipping attributes and redrawing them, in aligned crops or whole photos.

For each face: align it to the canonical template (`faceobf.template`) by a similarity transform,
predict its 40 attributes with the FAC, let the policy change them, redraw the face with the U-Net
from (landmark heatmaps, masked context, new attribute planes), warp the new face back and blend it
into the photo inside the feathered face ellipse. Pixels outside every face ellipse are returned
bit for bit.

It fails closed: a photo with no detected face raises `NoFaceError` (unless `allow_no_face`), and any
error on one face fails the whole photo, so nothing half-obfuscated is ever returned as done. Faces
too small for the model get a documented fallback (blur, pixelate or black-out) inside their ellipse.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from faceobf.attributes import CELEBA_ATTRIBUTES
from faceobf.baselines import blackout_face, blur_face, pixelate_face
from faceobf.landmarks import detect_faces
from faceobf.masking import ellipse_mask, fit_face_ellipse
from faceobf.policies import FlipNamed, IdentityAware, flipped_names, identity_aware_flips
from faceobf.recognition import face_descriptor
from faceobf.template import MEAN_LANDMARKS

CROP = 178  # the face crop frame of aligned CelebA (FACE_CROP), where the template lives
FALLBACKS = ("blur", "pixelate", "blackout")
ALIGN_POINTS = slice(17, 68)  # brows, nose, eyes, mouth: the jaw line moves with pose, so it is left out


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


def similarity_to_template(points: np.ndarray, size: int = CROP) -> np.ndarray:
    """2x3 matrix of the similarity transform (rotation, uniform scale, shift) taking `points` onto the
    template at `size` pixels, least squares over the inner-face landmarks (Umeyama, without reflection)."""
    src = np.asarray(points, np.float64)[ALIGN_POINTS]
    dst = MEAN_LANDMARKS[ALIGN_POINTS].astype(np.float64) * size
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    u, sig, vt = np.linalg.svd(d.T @ s / len(src))
    sign = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
    rot = u @ sign @ vt
    scale = np.trace(np.diag(sig) @ sign) / (s**2).sum(axis=1).mean()
    return np.hstack([scale * rot, (mu_d - scale * rot @ mu_s)[:, None]])


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(n, 2) points mapped by a 2x3 affine matrix (e.g. `similarity_to_template`)."""
    return np.asarray(points, np.float64) @ matrix[:, :2].T + matrix[:, 2]


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
class Obfuscator:
    """Everything stage 3 needs: the attribute classifier, the U-Net and its attribute table, a policy.

    `predict_attributes(images)` takes float (B, r, r, 3) crops at `fac_resolution` and returns (B, 40)
    probabilities; `generate(images, landmarks, masks, attributes, table)` is the U-Net composite of
    `faceobf.train.recon.make_generate` at `resolution`; `policy(attributes, keys)` returns new ones.
    """

    predict_attributes: Callable[[np.ndarray], np.ndarray]
    fac_resolution: int
    generate: Callable
    table: np.ndarray
    resolution: int
    policy: Callable
    detector: str = "hog"
    upsample: int = 1
    min_face: int = 32  # faces whose box is narrower (pixels) get the fallback
    fallback: str = "blur"
    feather_radius: float = 1.5
    run_dir: Path | None = None  # the U-Net's training run, when loaded from one (recorded by the evaluation)

    def __post_init__(self) -> None:
        if self.fallback not in FALLBACKS:
            raise ValueError(f"unknown fallback {self.fallback!r}; choose one of {FALLBACKS}")

    def redraw(self, crop: np.ndarray, points: np.ndarray, key: int = 0) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
        """Obfuscate one aligned CROP x CROP face: (new face float [0, 1], its mask, flipped, predicted)."""
        fac_in = cv2.resize(crop, (self.fac_resolution,) * 2, interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        attrs = (np.asarray(self.predict_attributes(fac_in[None]))[0] > 0.5).astype(np.int8)[None]
        small = cv2.resize(crop, (self.resolution,) * 2, interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        pts = np.asarray(points, np.float32) * (self.resolution / CROP)
        mask_small = ellipse_mask((self.resolution, self.resolution), fit_face_ellipse(pts))

        def draw(candidates: np.ndarray) -> np.ndarray:
            n = len(candidates)
            out = self.generate(np.repeat(small[None], n, 0), np.repeat(pts[None], n, 0), np.repeat(mask_small[None], n, 0),
                                np.asarray(candidates, np.float32), self.table)
            return np.stack([cv2.resize(o, (CROP, CROP), interpolation=cv2.INTER_CUBIC) for o in np.asarray(out)])

        if isinstance(self.policy, IdentityAware):
            original = face_descriptor(crop, points)

            def distance(candidates: np.ndarray) -> np.ndarray:
                faces = (np.clip(draw(candidates), 0, 1) * 255).astype(np.uint8)
                return np.array([np.linalg.norm(face_descriptor(f, points) - original) for f in faces])

            names, _, _ = identity_aware_flips(attrs[0], distance, self.policy.k, self.policy.beam, self.policy.respect_protected)
            new_attrs = FlipNamed(names, respect_protected=self.policy.respect_protected)(attrs)
        else:
            new_attrs = self.policy(attrs, keys=[key])
        face = draw(new_attrs)[0]
        mask = ellipse_mask((CROP, CROP), fit_face_ellipse(points))
        predicted = [CELEBA_ATTRIBUTES[j] for j in np.flatnonzero(attrs[0])]
        return np.clip(face, 0.0, 1.0), mask, flipped_names(attrs, new_attrs)[0], predicted

    def obfuscate_crop(self, crop: np.ndarray, points: np.ndarray, key: int = 0) -> tuple[np.ndarray, list[str]]:
        """An aligned CROP x CROP uint8 face with the face redrawn and blended in its feathered ellipse
        (the whole-photo path without detection and warping); also the flipped attribute names."""
        new_face, mask, flipped, _ = self.redraw(crop, points, key)
        alpha = _feather_np(mask, self.feather_radius)[..., None]
        out = alpha * new_face * 255.0 + (1.0 - alpha) * crop.astype(np.float32)
        return np.clip(np.rint(out), 0, 255).astype(np.uint8), flipped

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
        records = []
        for key, face in enumerate(faces):
            width = face.box[2] - face.box[0]
            photo_mask = ellipse_mask((h, w), fit_face_ellipse(face.landmarks))
            if width < self.min_face:
                out = apply_fallback(out, photo_mask, self.fallback, width)
                records.append(FaceRecord(face.box, face.score, f"fallback:{self.fallback}", repr(self.policy)))
                continue
            matrix = similarity_to_template(face.landmarks)
            crop = cv2.warpAffine(photo, matrix, (CROP, CROP), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            new_face, crop_mask, flipped, predicted = self.redraw(crop, apply_affine(matrix, face.landmarks), key)
            back = cv2.warpAffine(new_face * 255.0, matrix, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)
            region = cv2.warpAffine(crop_mask, matrix, (w, h), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP, borderValue=0)
            region = region * photo_mask  # never outside the ellipse fitted in the photo itself
            scale = 1.0 / np.sqrt(abs(np.linalg.det(matrix[:, :2])))
            alpha = _feather_np(region, self.feather_radius * scale)[..., None]
            out = alpha * back + (1.0 - alpha) * out
            records.append(FaceRecord(face.box, face.score, "unet", repr(self.policy), flipped, predicted))
        return np.clip(np.rint(out), 0, 255).astype(np.uint8), records


class MissingCheckpointError(FileNotFoundError):
    """The trained models of a profile are not on disk; the message says how to get them."""


def find_run_dir(kind: str, profile_name: str, encoding: str | None = None) -> Path:
    """The finished run of `kind` ('fac' or 'recon') for a profile in $FACEOBF_RUNS, found without the data."""
    from faceobf.paths import runs_root

    prefix = f"{kind}-{profile_name}-" + (f"{encoding}-" if encoding else "")
    found = sorted(d for d in runs_root().glob(prefix + "*") if (d / "test_metrics.json").exists() and d.name.count("-") == prefix.count("-"))
    if not found:
        encoding_flag = ""
        if encoding:  # a variant is "<encoding>" or "<encoding>-lm_<landmark subset>" (profiles.recon_variant)
            base, _, subset = encoding.partition("-lm_")
            encoding_flag = f" --encoding {base}" + (f" --landmarks {subset}" if subset else "")
        raise MissingCheckpointError(
            f"no trained {kind} model for profile {profile_name!r} in {runs_root()}: train it with "
            f"`faceobf train {kind} --profile {profile_name}{encoding_flag}` (or run the book's chapters 1 and 2)"
        )
    if len(found) > 1:
        raise MissingCheckpointError(f"several finished {kind} runs for profile {profile_name!r}: {', '.join(d.name for d in found)}; keep one")
    return found[0]


def obfuscator_from_runs(profile, encoding: str = "onehot", policy: Callable | None = None, **options) -> Obfuscator:
    """An `Obfuscator` from the finished FAC and U-Net runs of `profile` (no data set needed).

    Missing runs raise `MissingCheckpointError` naming the commands that train them, instead of
    starting hours of training unasked.
    """
    from faceobf.policies import FlipNamed
    from faceobf.train import fac, recon

    from faceobf.profiles import recon_variant

    fac_dir, recon_dir = find_run_dir("fac", profile.name), find_run_dir("recon", profile.name, recon_variant(encoding, profile.recon))
    fac_run = fac.load_run(fac_dir, profile)
    recon_run = recon.load_run(recon_dir, profile, encoding)
    return Obfuscator(fac_run.predictor(), profile.fac.resolution, recon_run.generator(), recon_run.table,
                      profile.recon.resolution, policy or FlipNamed(), run_dir=recon_dir, **options)

"""Stage 3: obfuscate faces by flipping attributes and redrawing them, in aligned crops or whole photos.

For each face: align it to the canonical template (`faceobf.disentangle.align`) by a similarity
transform, read its 40 attributes with the attribute classifier, let the policy change them, redraw
the face with the U-Net from (landmark heatmaps, masked context, new attribute planes), warp the new
face back and blend it into the photo inside the feathered face ellipse. Pixels outside every face
ellipse are returned bit for bit. The faces of a photo (or a list of crops) are redrawn in one batch.

It fails closed: a photo with no detected face raises `NoFaceError` (unless `allow_no_face`), and any
error on one face fails the whole photo, so nothing half-obfuscated is ever returned as done. Every
face any detector reports (`faceobf.obfuscate.detect`) is obfuscated: redrawn when it is confirmed,
its landmarks are plausible and it is at least `min_face` wide, otherwise a documented fallback (blur,
pixelate or black-out) over its landmark ellipse and its box. A last check runs the detectors on the
result: a face found where the tool changed nothing is a miss, and gets the fallback (or, with
`on_miss="refuse"`, fails the photo with `MissedFaceError`); every such event is in the records.
Where nothing changed the result is the photo, so a photo's check reads those faces from a sweep of
the untouched photo (`detect_twice`, beside the first pass) and searches the result again only
around the changes (`checked_faces`).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import cv2
import numpy as np

from faceobf.errors import FaceobfError, UsageError
from faceobf.disentangle.attributes import CELEBA_ATTRIBUTES
from faceobf.disentangle.masking import Ellipse, ellipse_mask, fit_face_ellipse
from faceobf.disentangle.align import CROP, apply_affine, similarity_to_template
from faceobf.obfuscate.baselines import blackout_face, blur_face, pixelate_face
from faceobf.obfuscate.detect import (Detection, DetectorSettings, detect, detect_in_window,
                                      detect_twice, iou)
from faceobf.obfuscate.follow import FollowSettings
from faceobf.obfuscate.pasteback import PASTES, match_photo
from faceobf.obfuscate.policies import Policy, Scorer, flipped_names
from faceobf.recognition import face_descriptor

if TYPE_CHECKING:  # the models arrive built; a refusal or a folder's listing never imports JAX
    from faceobf.disentangle.classifier import AttributeClassifier
    from faceobf.reconstruct.generate import FaceGenerator

FALLBACKS = ("blur", "pixelate", "blackout")


class NoFaceError(FaceobfError, ValueError):
    """No face was found in a photo: it must not be passed on as obfuscated."""


class MissedFaceError(FaceobfError, ValueError):
    """The last check found a face the tool had left untouched, and `on_miss` is 'refuse'."""


ON_MISS = ("fallback", "refuse")


@dataclass
class FaceRecord:
    """What was done to one face of a photo (one entry of the per-photo report)."""

    box: tuple[int, int, int, int]
    scores: dict[str, float]  # by detector ("final check" for a face the last check found)
    method: str  # "unet" or "fallback:<name>"
    policy: str = ""
    flipped: list[str] = field(default_factory=list)
    predicted: list[str] = field(default_factory=list)
    reason: str = ""  # why a fallback instead of a redraw

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
    extent = _extent(mask)
    if extent is None:
        _check_fallback(how)
        return photo
    out = photo.copy()
    _fallback_inside(out, mask, extent, how, face_size)
    return out


def _extent(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) bounds of a mask's non-zero pixels (OpenCV's bounding box), or None when empty."""
    x, y, w, h = cv2.boundingRect((np.asarray(mask) > 0).astype(np.uint8))
    return None if w == 0 or h == 0 else (y, y + h, x, x + w)


def _check_fallback(how: str) -> None:
    if how not in FALLBACKS:
        raise UsageError(f"unknown fallback {how!r}; choose one of {FALLBACKS}")


def _fallback_inside(photo: np.ndarray, mask: np.ndarray, extent: tuple[int, int, int, int], how: str,
                     face_size: float, origin: tuple[int, int] = (0, 0)) -> None:
    """`apply_fallback` in place, reading only a window around `extent` (top, bottom, left, right of the mask's
    pixels, in the mask's frame); `mask` covers `photo` from `origin` (row, column)."""
    _check_fallback(how)
    sigma, block = max(1.0, face_size / 9), max(2, int(face_size // 8))
    margin = int(np.ceil(3 * sigma)) + block  # the blur kernel's reach: the window's result inside the mask is exact
    top, bottom, left, right = extent
    oy, ox = origin
    y0, y1 = max(0, oy + top - margin), min(photo.shape[0], oy + bottom + margin)
    x0, x1 = max(0, ox + left - margin), min(photo.shape[1], ox + right + margin)
    window = photo[y0:y1, x0:x1]
    inside = np.zeros(window.shape[:2], np.float32)
    my0, my1, mx0, mx1 = max(0, y0 - oy), min(mask.shape[0], y1 - oy), max(0, x0 - ox), min(mask.shape[1], x1 - ox)
    inside[my0 + oy - y0 : my1 + oy - y0, mx0 + ox - x0 : mx1 + ox - x0] = mask[my0:my1, mx0:mx1]
    if how == "blackout":
        changed = blackout_face(window, inside)
    elif how == "blur":
        changed = blur_face(window, inside, sigma)
    else:
        changed = pixelate_face(window, inside, block)
    window[...] = changed


@dataclass
class AlignedFaces:
    """Faces aligned to the crop frame and the same at the U-Net's resolution: the inputs of one batch of redraws."""

    crops: np.ndarray  # (N, CROP, CROP, 3) uint8
    points: list[np.ndarray]  # (68, 2) landmarks in crop pixels, per face
    small: np.ndarray  # (N, r, r, 3) uint8, the crops at the U-Net's resolution
    landmarks: np.ndarray  # (N, 68, 2) at the U-Net's resolution
    masks: np.ndarray  # (N, r, r) their ellipses


@dataclass
class Redrawn:
    """One face as stage 3 redrew it in the crop frame: the new face, its ellipse, what was flipped and read."""

    face: np.ndarray  # (CROP, CROP, 3) float in [0, 1]
    mask: np.ndarray  # (CROP, CROP) ellipse of the face's landmarks
    flipped: list[str]
    predicted: list[str]


@dataclass
class Placed:
    """A redraw ready to go into its photo: the redraw, the photo-to-crop matrix and the face's key (the policy's draw
    and the paste's grain)."""

    redrawn: Redrawn
    matrix: np.ndarray
    key: int


def aligned_crop(photo: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(the face aligned to the CROP x CROP template, its landmarks in the crop, the photo-to-crop matrix)."""
    matrix = similarity_to_template(landmarks)
    crop = cv2.warpAffine(photo, matrix, (CROP, CROP), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return crop, apply_affine(matrix, landmarks), matrix


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


def fallback_region(shape: tuple[int, int], box: Sequence[float], landmarks: np.ndarray | None) -> np.ndarray:
    """Where a face that is not redrawn gets the fallback: its landmark ellipse joined with the ellipse inscribed in its
    detector box grown by 20% (landmarks of a turned or hidden face can miss part of it; the box does not)."""
    left, top, right, bottom = box
    centre, axes = ((left + right) / 2, (top + bottom) / 2), (1.2 * (right - left), 1.2 * (bottom - top))
    region = ellipse_mask(shape, Ellipse(centre, axes, 0.0))
    if landmarks is not None:
        region = np.maximum(region, ellipse_mask(shape, fit_face_ellipse(landmarks)))
    return region


def fallback_area(shape: tuple[int, int], box: Sequence[float], landmarks: np.ndarray | None
                  ) -> tuple[tuple[int, int], np.ndarray]:
    """(origin (row, column), the fallback region on the window of `shape` it can touch): `fallback_region`
    without a photo-sized mask."""
    left, top, right, bottom = box
    cx, cy, rx, ry = (left + right) / 2, (top + bottom) / 2, 0.6 * (right - left) + 2, 0.6 * (bottom - top) + 2
    y0, y1, x0, x1 = cy - ry, cy + ry, cx - rx, cx + rx
    if landmarks is not None:  # the landmark ellipse's reach, as in `_window`
        ellipse = fit_face_ellipse(landmarks)
        (ex, ey), reach = ellipse.center, max(ellipse.axes) / 2 + 2
        y0, y1, x0, x1 = min(y0, ey - reach), max(y1, ey + reach), min(x0, ex - reach), max(x1, ex + reach)
    y0, x0 = max(0, int(np.floor(y0))), max(0, int(np.floor(x0)))
    y1, x1 = min(shape[0], int(np.ceil(y1)) + 1), min(shape[1], int(np.ceil(x1)) + 1)
    y1, x1 = max(y1, y0), max(x1, x0)
    shifted = (left - x0, top - y0, right - x0, bottom - y0)
    points = None if landmarks is None else np.asarray(landmarks, np.float64) - np.array([x0, y0])
    return (y0, x0), fallback_region((y1 - y0, x1 - x0), shifted, points)


def fallback_in_place(photo: np.ndarray, changed: np.ndarray, face: Detection, how: str) -> None:
    """The fallback `how` on `face`'s region of `photo` (uint8, changed in place) and marked in `changed` (uint8):
    the same pixels as `apply_fallback` with `fallback_region`, reading only the face's window (a 16-megapixel
    photo gets no photo-sized mask or float copy per face)."""
    (y0, x0), region = fallback_area(photo.shape[:2], face.box, face.landmarks)
    extent = _extent(region)
    if extent is not None:
        _fallback_inside(photo, region, extent, how, face.width, (y0, x0))
        changed[y0 : y0 + region.shape[0], x0 : x0 + region.shape[1]] |= region > 0


def _window(ellipse, shape: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    """((top, bottom), (left, right)) of the pixels an ellipse can touch, with a 2-pixel margin, inside `shape`."""
    reach = max(ellipse.axes) / 2 + 2
    cx, cy = ellipse.center
    return ((max(0, int(cy - reach)), min(shape[0], int(np.ceil(cy + reach)) + 1)),
            (max(0, int(cx - reach)), min(shape[1], int(np.ceil(cx + reach)) + 1)))


def uncovered(detections: Sequence[Detection], changed: np.ndarray, shape: tuple[int, int]) -> list[Detection]:
    """The detections of the last check that lie mostly (>= half of their box ellipse) where the tool changed nothing."""
    misses = []
    for d in detections:
        left, top, right, bottom = d.box
        x0, y0 = max(0, int(left - 0.1 * (right - left))), max(0, int(top - 0.1 * (bottom - top)))
        x1, y1 = min(shape[1], int(right + 0.1 * (right - left)) + 1), min(shape[0], int(bottom + 0.1 * (bottom - top)) + 1)
        own = fallback_region((y1 - y0, x1 - x0), (left - x0, top - y0, right - x0, bottom - y0), None)
        if (own * changed[y0:y1, x0:x1]).sum() < 0.5 * max(own.sum(), 1.0):
            misses.append(d)
    return misses


# the last check searches the result again this many of a change's own sizes around it
CHANGE_MARGIN = 0.5


def change_windows(changed: np.ndarray, margin: float = CHANGE_MARGIN
                   ) -> list[tuple[int, int, int, int]]:
    """(left, top, right, bottom) around each connected region of `changed`, grown by `margin` of
    its size on each side (at least 16 px), windows that overlap joined into one: where a change can
    alter what a detector sees."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(changed, connectivity=8)
    windows = []
    for x, y, w, h, _ in stats[1:count].tolist():
        grow_x, grow_y = max(16, int(margin * w)), max(16, int(margin * h))
        windows.append([x - grow_x, y - grow_y, x + w + grow_x, y + h + grow_y])
    merged: list[list[int]] = []
    while windows:  # join overlapping windows until none overlap
        a = windows.pop()
        overlapping = [b for b in merged
                       if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]]
        if overlapping:  # the union goes back to be checked against the rest
            group = overlapping + [a]
            merged = [b for b in merged if b not in overlapping]
            windows.append([min(v[0] for v in group), min(v[1] for v in group),
                            max(v[2] for v in group), max(v[3] for v in group)])
        else:
            merged.append(a)
    windows = merged
    h, w = changed.shape[:2]
    return [(max(0, a), max(0, b), min(w, c), min(h, d)) for a, b, c, d in windows]


def checked_faces(result: np.ndarray, changed: np.ndarray, seen: Sequence[Detection],
                  check: DetectorSettings) -> list[Detection] | None:
    """The last check's faces on `result` without a whole second sweep: where nothing changed, the
    result is the photo, so its faces there are `seen` (the check's detectors on the untouched
    photo); around each change (`change_windows`) the detectors run again on the result, and a face
    found there replaces a seen one it overlaps only when the window held all of the seen face. A
    seen face the changes hid is kept: `uncovered` still asks whether its pixels were changed. None
    when a face found in a window reaches the window's edge inside the photo (the window may have
    cut it): then only the whole sweep of the result will do."""
    h, w = result.shape[:2]
    found: list[tuple[Detection, tuple[int, int, int, int]]] = []
    for window in change_windows(changed):
        left, top, right, bottom = window
        for face in detect_in_window(result, window, check):
            box = face.box
            cut = ((left > 0 and box[0] <= left + 1) or (top > 0 and box[1] <= top + 1)
                   or (right < w and box[2] >= right - 1) or (bottom < h and box[3] >= bottom - 1))
            if cut:
                return None
            if all(iou(box, other.box) < check.merge_iou for other, _ in found):
                found.append((face, window))

    def replaced(face: Detection) -> bool:
        return any(iou(face.box, f.box) >= check.merge_iou and window[0] <= face.box[0]
                   and window[1] <= face.box[1] and face.box[2] <= window[2]
                   and face.box[3] <= window[3] for f, window in found)

    return [f for f, _ in found] + [s for s in seen if not replaced(s)]


@dataclass
class Obfuscator:
    """Everything stage 3 needs: the attribute classifier, the U-Net generator, a policy and the photo options."""

    classifier: AttributeClassifier
    generator: FaceGenerator
    resolution: int  # the U-Net's face resolution
    policy: Policy
    detection: DetectorSettings = field(default_factory=DetectorSettings)
    min_face: int = 32  # faces whose box is narrower (pixels) get the fallback
    fallback: str = "blur"
    on_miss: str = "fallback"  # what the last check does with a face the tool left untouched: "fallback" or "refuse"
    feather_radius: float = 1.5
    run_dir: Path | None = None  # the U-Net's training run, when loaded from one (recorded by the evaluation)
    # stage 3's upscaler: float (N, r, r, 3) redraws in [0, 1] -> (N, f·r, f·r, 3); None: resampling only
    upscaler: Callable[[np.ndarray], np.ndarray] | None = None
    paste: str = "match"  # how a redraw goes into a photo: "plain" (feathered), "match" (+ colour and grain), "poisson"
    follow: FollowSettings = field(default_factory=FollowSettings)  # a clip's key frames and what happens between

    def __post_init__(self) -> None:
        if self.paste not in PASTES:
            raise UsageError(f"unknown paste {self.paste!r}; choose one of {', '.join(PASTES)}")
        if self.fallback not in FALLBACKS:
            raise UsageError(f"unknown fallback {self.fallback!r}; choose one of {FALLBACKS}")
        if self.on_miss not in ON_MISS:
            raise UsageError(f"unknown on_miss {self.on_miss!r}; choose one of {ON_MISS}")

    def _draw(self, small: np.ndarray, pts: np.ndarray, masks: np.ndarray, attributes: np.ndarray, source: np.ndarray) -> np.ndarray:
        """U-Net composites of faces at the model's resolution (drawn with `attributes`, flipped from `source`: the
        landmarks follow the flips when the generator has a geometry), upscaled when there is an upscaler, and resampled
        to CROP x CROP."""
        out = self.generator(small, pts, masks, attributes, source)
        if self.upscaler is not None:  # learned detail up to the upscaler's size, resampling above it
            out = np.asarray(self.upscaler(np.asarray(out, np.float32)))
        return np.stack([cv2.resize(o, (CROP, CROP), interpolation=cv2.INTER_CUBIC) for o in out])

    def may_redraw(self, face: Detection) -> bool:
        """A face is redrawn when the detectors confirm it, its landmarks are plausible and it is wide enough."""
        return face.redrawable and face.width >= self.min_face

    def align(self, crops: Sequence[np.ndarray], points: Sequence[np.ndarray]) -> AlignedFaces:
        """Aligned crops and their landmarks with the same faces at the U-Net's resolution and their ellipses."""
        crops = np.stack([np.asarray(c, np.uint8) for c in crops])
        points = [np.asarray(p, np.float32) for p in points]
        small = np.stack([cv2.resize(c, (self.resolution,) * 2, interpolation=cv2.INTER_AREA) for c in crops])
        pts = np.stack(points) * (self.resolution / CROP)
        masks = np.stack([ellipse_mask((self.resolution, self.resolution), fit_face_ellipse(p)) for p in pts])
        return AlignedFaces(crops, points, small, pts, masks)

    def choose(self, crops: Sequence[np.ndarray], points: Sequence[np.ndarray], keys: Sequence[int],
               attributes: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(each face's attributes, as read or as given; the attributes the policy draws it with)."""
        return self._choose(self.align(crops, points), keys, attributes)

    def _choose(self, faces: AlignedFaces, keys: Sequence[int], attributes: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
        attrs = self.classifier.predict(faces.crops) if attributes is None else np.asarray(attributes, np.int8)

        def draw_one(i: int, candidates: np.ndarray) -> np.ndarray:
            n = len(candidates)
            return self._draw(np.repeat(faces.small[i : i + 1], n, 0), np.repeat(faces.landmarks[i : i + 1], n, 0),
                              np.repeat(faces.masks[i : i + 1], n, 0), np.asarray(candidates), np.repeat(attrs[i : i + 1], n, 0))

        scorer = descriptor_scorer(faces.crops, faces.points, draw_one) if self.policy.needs_scorer else None
        return attrs, self.policy(attrs, keys=list(keys), scorer=scorer)

    def redraw(self, crops: Sequence[np.ndarray], points: Sequence[np.ndarray], keys: Sequence[int],
               chosen: tuple[np.ndarray, np.ndarray] | None = None) -> list[Redrawn]:
        """Obfuscate aligned CROP x CROP uint8 faces (landmarks in crop pixels) in one batch; `chosen` (attributes,
        targets), when given, replaces the classifier's reading and the policy (a video track keeps one choice)."""
        faces = self.align(crops, points)
        attrs, new_attrs = chosen if chosen is not None else self._choose(faces, keys)
        drawn = self._draw(faces.small, faces.landmarks, faces.masks, new_attrs, attrs)
        flipped = flipped_names(attrs, new_attrs)
        return [Redrawn(np.clip(drawn[i], 0.0, 1.0), ellipse_mask((CROP, CROP), fit_face_ellipse(faces.points[i])), flipped[i],
                        [CELEBA_ATTRIBUTES[j] for j in np.flatnonzero(attrs[i])]) for i in range(len(faces.crops))]

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
        """The photo with every detected face obfuscated, and one record per face (those of the last check included).

        Raises `NoFaceError` when no face is found, unless `allow_no_face` (then the photo comes back
        unchanged with an empty record list, and the caller says so); `MissedFaceError` when the last check
        finds an untouched face and `on_miss` is 'refuse'.
        """
        photo = np.ascontiguousarray(photo[..., :3]).astype(np.uint8)
        (out, records), = self.obfuscate_photos([photo])
        if not records:
            if allow_no_face:
                return out, []
            raise NoFaceError("no face found")
        return out, records

    def obfuscate_photos(self, photos: Sequence[np.ndarray]) -> list[tuple[np.ndarray, list[FaceRecord]]]:
        """`obfuscate_photo` of many photos with all their faces redrawn in one batch; a photo in
        which no face is found, not even by the last check's more sensitive sweep, comes back
        unchanged with no records (the caller decides what that means: a refusal, a miss)."""
        photos = [np.ascontiguousarray(p[..., :3]).astype(np.uint8) for p in photos]
        check = self.detection.last_check()
        faces, seen = (zip(*(detect_twice(p, self.detection, check) for p in photos)) if photos
                       else ((), ()))
        placed = self.redraw_faces(photos, faces)
        # a photo whose only faces are those the more sensitive check sees gets them covered too
        return [self.finish(photo, found, mine, check, before) if found or before
                else (photo.copy(), [])
                for photo, found, mine, before in zip(photos, faces, placed, seen)]

    def redraw_faces(self, photos: Sequence[np.ndarray], faces: Sequence[Sequence[Detection]],
                     chosen: Sequence[dict[int, tuple[np.ndarray, np.ndarray]]] | None = None) -> list[dict[int, Placed]]:
        """Per photo, {face index: its redraw, placed} for the faces redrawn; the faces of all photos go through the
        networks in one batch. By default every face that `may_redraw`, read by the classifier and flipped by the
        policy; with `chosen`, per photo {face index: (attributes, targets)}, exactly those faces, drawn with those
        (a clip's tracks, each chosen once)."""
        if chosen is None:
            jobs = [(i, k) for i, found in enumerate(faces) for k, face in enumerate(found) if self.may_redraw(face)]
        else:
            jobs = [(i, k) for i, mine in enumerate(chosen) for k in sorted(mine)]
        out: list[dict[int, Placed]] = [{} for _ in photos]
        if not jobs:
            return out
        crops, points, matrices = zip(*(aligned_crop(photos[i], faces[i][k].landmarks) for i, k in jobs))
        key_of: dict[tuple[int, int], int] = {}
        for i in sorted({i for i, _ in jobs}):  # one hash of each photo's pixels
            mine = [k for j, k in jobs if j == i]
            key_of.update(zip([(i, k) for k in mine], photo_face_keys(photos[i], mine)))
        keys = [key_of[job] for job in jobs]
        given = None
        if chosen is not None:  # (attributes, targets) of each job, stacked
            given = (np.stack([chosen[i][k][0] for i, k in jobs]), np.stack([chosen[i][k][1] for i, k in jobs]))
        for (i, k), r, m, key in zip(jobs, self.redraw(list(crops), list(points), keys, given), matrices, keys):
            out[i][k] = Placed(r, m, key)
        return out

    def finish(self, photo: np.ndarray, faces: Sequence[Detection], placed: dict[int, Placed],
               check: DetectorSettings | None = None, seen: Sequence[Detection] | None = None
               ) -> tuple[np.ndarray, list[FaceRecord]]:
        """The photo with its redraws blended in, every other face given the fallback, and the last check run on it
        (with `check`'s detectors, default `detection.last_check()`; `seen`: their faces on the
        untouched photo, see `last_check`); one record per face, then one per face the last check
        found."""
        result, changed, records = self.blend(photo, faces, placed)
        return self.last_check(result, changed, records, check, seen)

    def blend(self, photo: np.ndarray, faces: Sequence[Detection], redrawn: dict[int, Placed]
              ) -> tuple[np.ndarray, np.ndarray, list[FaceRecord]]:
        """(photo with each redraw warped back and blended and every other face given the fallback, the mask of
        changed pixels, one record per face)."""
        h, w = photo.shape[:2]
        out = photo.copy()  # each face's window is worked in floats; the rest of the photo is never converted
        changed = np.zeros((h, w), np.uint8)
        records: list[FaceRecord] = []
        for key, face in enumerate(faces):
            if key not in redrawn:
                fallback_in_place(out, changed, face, self.fallback)
                reason = face.reason() or f"{face.width} px wide, below --min-face {self.min_face}"
                records.append(FaceRecord(face.box, face.scores, f"fallback:{self.fallback}", repr(self.policy), reason=reason))
                continue
            r, matrix = redrawn[key].redrawn, redrawn[key].matrix
            ellipse = fit_face_ellipse(face.landmarks)
            (y0, y1), (x0, x1) = _window(ellipse, (h, w))
            # the crop-to-photo warp evaluated on the face's window only: photo (x, y) = window (x, y) + (x0, y0)
            shifted = np.concatenate([matrix[:, :2], matrix[:, :2] @ np.array([[x0], [y0]], np.float64) + matrix[:, 2:]], axis=1)
            size = (x1 - x0, y1 - y0)
            back = cv2.warpAffine(r.face * 255.0, shifted, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)
            region = cv2.warpAffine(r.mask, shifted, size, flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP, borderValue=0)
            inside = Ellipse((ellipse.center[0] - x0, ellipse.center[1] - y0), ellipse.axes, ellipse.angle)
            region = region * ellipse_mask((y1 - y0, x1 - x0), inside)  # never outside the ellipse fitted in the photo
            scale = 1.0 / np.sqrt(abs(np.linalg.det(matrix[:, :2])))
            alpha = _feather_np(region, self.feather_radius * scale)[..., None]
            window = out[y0:y1, x0:x1].astype(np.float32)
            if self.paste != "plain":  # the photo's colour at the seam and its grain; no detail of the original face
                back = match_photo(back, window, region, alpha, face.width,
                                   np.random.default_rng(redrawn[key].key), poisson=self.paste == "poisson")
            out[y0:y1, x0:x1] = np.clip(np.rint(alpha * back + (1.0 - alpha) * window), 0, 255).astype(np.uint8)
            changed[y0:y1, x0:x1] |= region > 0
            records.append(FaceRecord(face.box, face.scores, "unet", repr(self.policy), r.flipped, r.predicted))
        return out, changed, records

    def last_check(self, result: np.ndarray, changed: np.ndarray, records: list[FaceRecord],
                   check: DetectorSettings | None = None, seen: Sequence[Detection] | None = None
                   ) -> tuple[np.ndarray, list[FaceRecord]]:
        """Run the detectors on the result (`check`, default `detection.last_check()`); a face where nothing changed
        is a miss: fallback, or refuse the photo. With `seen` (the same detectors' faces on the
        photo before any change, from `detect_twice`), only the neighbourhood of the changes is
        searched again (`checked_faces`)."""
        check = check or self.detection.last_check()
        found = None if seen is None else checked_faces(result, changed, seen, check)
        if found is None:
            found = detect(result, check)
        misses = uncovered(found, changed, result.shape[:2])
        if misses and self.on_miss == "refuse":
            raise MissedFaceError(f"the last check found {len(misses)} face(s) the tool left untouched "
                                  f"(boxes {[m.box for m in misses]}); refusing the photo (--on-miss refuse)")
        out = result.copy() if misses else result
        for miss in misses:
            fallback_in_place(out, changed, miss, self.fallback)
            records.append(FaceRecord(miss.box, {"final check": max(miss.scores.values())}, f"fallback:{self.fallback}",
                                      repr(self.policy), reason="missed by the first pass, found by the last check"))
        return out, records

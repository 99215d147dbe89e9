"""The obfuscation methods compared under one protocol.

Every method gets the same input, an aligned 178x218 CelebA image, and is read on the same 178x178 face crop.
The stage-3 methods take the tool's own path (`path = "photo"`): the whole image goes through
`Obfuscator.obfuscate_photos`, detection, alignment, redraw, warp back, blend and the last check included, and
a face the tool does not find stays as it was (a privacy failure, scored, never dropped). One method keeps the
seed's crop path (`flip4_crop`: the crop redrawn in place from the data set's landmarks, no detection) to show
what the photo path changes. Two rows tell geometry and redrawing apart: `flip4_fixed` (the seed's flips with
the landmarks kept, the seed's design; the planes keep the tool's intensity, so only the geometry differs from
`flip4`) and `warp4` (no U-Net: the original face warped as the landmark mapping moves its points for the
seed's flips). `flip4_64` is the photo path before the upscaler: the 64 px redraw resampled and pasted plain.
The classic baselines blur, pixelate or black out the landmark ellipse of the crop, the region the U-Net
redraws.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np

from faceobf.errors import UsageError
from faceobf.obfuscate.baselines import blackout_face, blur_face, pixelate_face
from faceobf.disentangle.masking import ellipse_mask, fit_face_ellipse
from faceobf.disentangle.attributes import SEED_FLIPS
from faceobf.obfuscate.policies import FlipAll, FlipNamed, FlipRandom, IdentityAware, Policy


@dataclass(frozen=True)
class Method:
    """One row of the results table: how a face crop is processed."""

    name: str
    label: str
    kind: str  # "original", "unet" (needs the trained models), "warp" (the classifier and the landmark mapping) or "baseline"
    policy: Policy | None = None  # stage-3 policy for kinds "unet" and "warp"
    baseline: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None  # (crop, mask) -> crop
    path: str = "photo"  # for kind "unet": "photo" (the tool's path) or "crop" (redrawn in the crop, no detection)
    geometry: str = "follow"  # for kind "unet": landmarks follow the flips (when the U-Net has a mapping) or stay "fixed"
    upscale: bool = True  # for kind "unet": the tool's upscaler and matched paste-back (False: 64 px resampled, pasted plain)

    @property
    def needs_models(self) -> bool:
        return self.kind in ("unet", "warp")


METHODS: dict[str, Method] = {m.name: m for m in (
    Method("original", "original", "original"),
    Method("unet_noflip", "U-Net, no flips", "unet", FlipNamed(())),
    Method("flip4", "U-Net, seed's 4 flips", "unet", FlipNamed(SEED_FLIPS)),
    Method("flip4_crop", "U-Net, seed's 4 flips, crop path", "unet", FlipNamed(SEED_FLIPS), path="crop"),
    Method("flip4_fixed", "U-Net, seed's 4 flips, landmarks fixed", "unet", FlipNamed(SEED_FLIPS), geometry="fixed"),
    Method("flip4_64", "U-Net, seed's 4 flips, 64 px pasted plain", "unet", FlipNamed(SEED_FLIPS), upscale=False),
    Method("warp4", "warp only, seed's 4 flips (no U-Net)", "warp", FlipNamed(SEED_FLIPS)),
    Method("flip_all", "U-Net, all allowed flips", "unet", FlipAll()),
    Method("flip_random4", "U-Net, 4 random flips", "unet", FlipRandom(4, seed=0)),
    Method("identity4", "U-Net, identity-aware 4 flips", "unet", IdentityAware(4, beam=8)),
    Method("blur_s3", "Gaussian blur, sigma 3 px", "baseline", baseline=lambda c, m: blur_face(c, m, 3.0)),
    Method("blur_s8", "Gaussian blur, sigma 8 px", "baseline", baseline=lambda c, m: blur_face(c, m, 8.0)),
    Method("pixelate_8", "pixelation, 8 px blocks", "baseline", baseline=lambda c, m: pixelate_face(c, m, 8)),
    Method("pixelate_16", "pixelation, 16 px blocks", "baseline", baseline=lambda c, m: pixelate_face(c, m, 16)),
    Method("blackout", "black-out", "baseline", baseline=blackout_face),
)}
DEFAULT_METHODS: tuple[str, ...] = tuple(METHODS)  # what `faceobf evaluate` compares unless told


def get_method(name: str) -> Method:
    """The method called `name`; a clear error listing the known ones otherwise."""
    try:
        return METHODS[name]
    except KeyError:
        raise UsageError(f"unknown method {name!r}; choose from {', '.join(METHODS)}") from None


def face_mask(crop: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The face ellipse of stage 1 at the crop's size: the region every method may change."""
    return ellipse_mask(crop.shape[:2], fit_face_ellipse(points))


# What the tool did with the face of an evaluation image (MethodResult.outcome).
UNTOUCHED, REDRAWN, FALLBACK = 0, 1, 2


def process_crops(method: Method, crops: np.ndarray, points: Sequence[np.ndarray], keys: Sequence[int], obfuscator=None,
                  aligned: Sequence[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(the crops as `method` leaves them (uint8, one batch), the outcome of each face: REDRAWN, FALLBACK or
    UNTOUCHED). U-Net methods need an `Obfuscator` (its policy is replaced by the method's); the photo path also
    needs the `aligned` images the crops were cut from."""
    crops = np.ascontiguousarray(crops, dtype=np.uint8)
    if method.kind == "original":
        return crops.copy(), np.full(len(crops), UNTOUCHED, np.int8)
    if method.kind == "baseline":
        return np.stack([method.baseline(c, face_mask(c, p)) for c, p in zip(crops, points)]), np.full(len(crops), FALLBACK, np.int8)
    if obfuscator is None:
        raise ValueError(f"method {method.name!r} redraws faces with the trained models: pass an Obfuscator")
    if method.kind == "warp":
        return warp_crops(obfuscator, method.policy, crops, points, keys), np.full(len(crops), REDRAWN, np.int8)
    tool = replace(obfuscator, policy=method.policy)
    if method.geometry == "fixed":
        tool = replace(tool, generator=tool.generator.with_geometry(None))
    if not method.upscale:
        tool = replace(tool, upscaler=None, paste="plain")
    if method.path == "crop":
        return np.stack([out for out, _ in tool.obfuscate_crops(crops, points, keys)]), np.full(len(crops), REDRAWN, np.int8)
    from faceobf.data.images import FACE_CROP, crop_and_resize

    outs, outcome = [], []
    for image, records in tool.obfuscate_photos(aligned):
        outs.append(crop_and_resize(image, FACE_CROP, FACE_CROP.size))
        face = _the_face(records)
        outcome.append(UNTOUCHED if face is None else REDRAWN if face.method == "unet" else FALLBACK)
    return np.stack(outs), np.array(outcome, np.int8)


def warp_crops(obfuscator, policy: Policy, crops: np.ndarray, points: Sequence[np.ndarray], keys: Sequence[int]) -> np.ndarray:
    """The warp-only control: each crop's own pixels warped as the U-Net's landmark mapping (at its gain) moves its
    landmarks for the flips `policy` picks from the classifier's reading; nothing is redrawn."""
    from faceobf.obfuscate.warp import warp_to_landmarks

    generator = obfuscator.generator
    if generator.geometry is None:
        raise UsageError("the warp-only control moves landmarks by the U-Net's landmark mapping; this U-Net has none "
                         "(trained with fixed geometry)")
    attributes = obfuscator.classifier.predict(crops)
    targets = policy(attributes, keys=list(keys))
    moved = generator.drawn_landmarks(np.stack(points), targets, attributes)
    return np.stack([warp_to_landmarks(c, p, m) for c, p, m in zip(crops, points, moved)])


def _the_face(records):
    """The record of the evaluation image's face (the largest detection over the crop), or None when none was found."""
    from faceobf.data.images import FACE_CROP

    centre = (FACE_CROP.left + FACE_CROP.size / 2, FACE_CROP.top + FACE_CROP.size / 2)
    over = [r for r in records if r.box[0] <= centre[0] <= r.box[2] and r.box[1] <= centre[1] <= r.box[3]]
    return max(over, key=lambda r: (r.box[2] - r.box[0]) * (r.box[3] - r.box[1]), default=None)

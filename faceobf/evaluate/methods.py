"""The obfuscation methods compared under one protocol, each a function of an aligned face crop.

Every method gets the same input: a 178x178 aligned CelebA face crop (uint8), its 68 landmarks in
crop pixels and a stable key (the image's row), and returns the processed crop. Stage-3 methods
redraw the face with the U-Net inside the landmark ellipse; the classic baselines blur, pixelate or
black out the same ellipse, so every method changes exactly the same region.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np

from faceobf.obfuscate.baselines import blackout_face, blur_face, pixelate_face
from faceobf.disentangle.masking import ellipse_mask, fit_face_ellipse
from faceobf.obfuscate.policies import SEED_FLIPS, FlipAll, FlipNamed, FlipRandom, IdentityAware, Policy


@dataclass(frozen=True)
class Method:
    """One row of the results table: how a face crop is processed."""

    name: str
    label: str
    kind: str  # "original", "unet" (needs the trained models) or "baseline"
    policy: Policy | None = None  # stage-3 policy for kind "unet"
    baseline: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None  # (crop, mask) -> crop

    @property
    def needs_models(self) -> bool:
        return self.kind == "unet"


METHODS: dict[str, Method] = {m.name: m for m in (
    Method("original", "original", "original"),
    Method("unet_noflip", "U-Net, no flips", "unet", FlipNamed(())),
    Method("flip4", "U-Net, seed's 4 flips", "unet", FlipNamed(SEED_FLIPS)),
    Method("flip_all", "U-Net, all allowed flips", "unet", FlipAll()),
    Method("flip_random4", "U-Net, 4 random flips", "unet", FlipRandom(4, seed=0)),
    Method("identity4", "U-Net, identity-aware 4 flips", "unet", IdentityAware(4, beam=8)),
    Method("blur_s3", "Gaussian blur, sigma 3 px", "baseline", baseline=lambda c, m: blur_face(c, m, 3.0)),
    Method("blur_s8", "Gaussian blur, sigma 8 px", "baseline", baseline=lambda c, m: blur_face(c, m, 8.0)),
    Method("pixelate_8", "pixelation, 8 px blocks", "baseline", baseline=lambda c, m: pixelate_face(c, m, 8)),
    Method("pixelate_16", "pixelation, 16 px blocks", "baseline", baseline=lambda c, m: pixelate_face(c, m, 16)),
    Method("blackout", "black-out", "baseline", baseline=blackout_face),
)}


def get_method(name: str) -> Method:
    """The method called `name`; a clear error listing the known ones otherwise."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; choose from {', '.join(METHODS)}") from None


def face_mask(crop: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The face ellipse of stage 1 at the crop's size: the region every method may change."""
    return ellipse_mask(crop.shape[:2], fit_face_ellipse(points))


def process_crops(method: Method, crops: np.ndarray, points: Sequence[np.ndarray], keys: Sequence[int], obfuscator=None) -> np.ndarray:
    """The crops as `method` leaves them (uint8, one batch). U-Net methods need an `Obfuscator` (any policy:
    the method's own replaces it)."""
    crops = np.ascontiguousarray(crops, dtype=np.uint8)
    if method.kind == "original":
        return crops.copy()
    if method.kind == "baseline":
        return np.stack([method.baseline(c, face_mask(c, p)) for c, p in zip(crops, points)])
    if obfuscator is None:
        raise ValueError(f"method {method.name!r} redraws faces with the trained models: pass an Obfuscator")
    return np.stack([out for out, _ in replace(obfuscator, policy=method.policy).obfuscate_crops(crops, points, keys)])

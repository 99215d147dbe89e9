"""How good a redrawn face is: image metrics against the original, the mean-colour baseline, previews."""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np
from PIL import Image

from faceobf.io import atomic_path
from faceobf.reconstruct.factors import FaceFactors
from faceobf.reconstruct.imageops import fill_mask, image_metrics


def evaluate_images(pred: np.ndarray, f: FaceFactors, batch_size: int = 64) -> dict[str, float]:
    """Mean SSIM / PSNR / L1, whole image and inside the mask, of `pred` against the originals."""
    sums: dict[str, float] = {}
    for start in range(0, len(f), batch_size):
        idx = np.arange(start, min(start + batch_size, len(f)))
        m = image_metrics(jnp.asarray(pred[idx]), jnp.asarray(f.images[idx], jnp.float32) / 255.0, jnp.asarray(f.masks[idx], jnp.float32))
        for k, v in m.items():
            sums[k] = sums.get(k, 0.0) + float(np.asarray(v).sum())
    return {k: v / max(1, len(f)) for k, v in sums.items()}


def mean_face_colour(f: FaceFactors) -> np.ndarray:
    """Mean RGB inside the masks of `f`, the colour of the trivial baseline."""
    m = f.masks.astype(bool)
    return f.images[m].reshape(-1, 3).mean(axis=0) / 255.0


def mean_colour_baseline(test: FaceFactors, train: FaceFactors) -> np.ndarray:
    """The test faces with their masks filled by the training faces' mean colour (float32 in [0, 1])."""
    return fill_mask(test.images.astype(np.float32) / 255.0, test.masks, mean_face_colour(train)).astype(np.float32)


def save_preview(path: Path, f: FaceFactors, recon: np.ndarray) -> None:
    """Rows of original | masked context | reconstruction, saved atomically as PNG."""
    rows = []
    for img, mask, rec in zip(f.images, f.masks, recon):
        masked = img * (1 - mask[..., None])
        rows.append(np.concatenate([img, masked, (np.clip(rec, 0, 1) * 255).astype(np.uint8)], axis=1))
    with atomic_path(path, suffix=".png") as tmp:
        Image.fromarray(np.concatenate(rows, axis=0)).save(tmp)

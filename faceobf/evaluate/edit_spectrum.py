"""Where a redraw's mosaic and bands come from: the spectrum of an edit minus the redraw of the same face.

A generator that edits by painting a pattern leaves it in the difference between the face redrawn with
flipped attributes and the same face redrawn as it is. Blocks and horizontal bands are structure along
the image axes: their power sits on the two axes of the 2-D spectrum. `axis_ratio` is that power over
the power at the same radius off the axes: about 1 for a change with no preferred direction (an
untrained U-Net's noise), about 2 for a face's own features (what a light blur removes: eyes, brows and
mouth run horizontally), 5-6 for pixelation's blocks.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from faceobf.disentangle.attributes import SEED_FLIPS, attribute_index
from faceobf.reconstruct.factors import FaceFactors
from faceobf.reconstruct.generate import FaceGenerator

def flipped(attributes: np.ndarray, names: Sequence[str] = SEED_FLIPS) -> np.ndarray:
    """(N, 40) attributes with the named ones flipped (0 <-> 1) on every face."""
    out = np.asarray(attributes, np.float32).copy()
    for name in names:
        out[:, attribute_index(name)] = 1.0 - out[:, attribute_index(name)]
    return out


def edit_differences(generator: FaceGenerator, faces: FaceFactors, names: Sequence[str] = SEED_FLIPS) -> np.ndarray:
    """(N, R, R) grey-level difference, inside each face's mask, of its redraw with `names` flipped minus its redraw."""
    redrawn = generator.render(faces).astype(np.float64)
    edited = generator.render(faces, flipped(faces.attributes, names)).astype(np.float64)
    return (edited - redrawn).mean(axis=-1) * faces.masks


def mean_power_spectrum(differences: np.ndarray) -> np.ndarray:
    """(R, R) mean power spectrum of the differences (Hann-windowed, zero frequency at the centre)."""
    size = differences.shape[-1]
    window = np.outer(np.hanning(size), np.hanning(size))
    spectra = np.abs(np.fft.fftshift(np.fft.fft2(differences * window), axes=(-2, -1))) ** 2
    return spectra.mean(axis=0)


def axis_ratio(spectrum: np.ndarray, low: int = 2) -> float:
    """Mean power on the two axes of the spectrum (horizontal and vertical structure: bands, block edges) over the
    power off them at the same radius, averaged over radii beyond `low`: ~1 for a change with no preferred direction."""
    size = spectrum.shape[0]
    offsets = np.arange(size) - size // 2
    fy, fx = np.meshgrid(offsets, offsets, indexing="ij")
    radius = np.rint(np.hypot(fy, fx)).astype(int)
    on_axis = (fy == 0) | (fx == 0)
    ratios = [spectrum[(radius == r) & on_axis].mean() / max(spectrum[(radius == r) & ~on_axis].mean(), 1e-12)
              for r in range(low + 1, size // 2)]
    return float(np.mean(ratios))


def spectrum_summary(differences: np.ndarray) -> dict[str, float]:
    """The edits' size (mean |difference| in grey levels inside the faces) and their spectrum's axis ratio."""
    spectrum = mean_power_spectrum(differences)
    inside = differences[differences != 0]
    summary = {"mean |edit - redraw| (grey levels)": float(np.abs(inside).mean() * 255.0) if inside.size else 0.0}
    summary["axis ratio"] = axis_ratio(spectrum)
    return summary

"""Where a redraw's mosaic and bands come from: the spectrum of an edit minus the redraw of the same face.

A generator that edits by painting a pattern leaves it in the difference between the face redrawn with
flipped attributes and the same face redrawn as it is. Blocks and horizontal bands are structure along
the image axes: their power sits on the two axes of the 2-D spectrum. `axis_ratio` is that power over
the power at the same radius off the axes (a radially symmetric window, so the window itself favours no
direction): about 1 for a change with no preferred direction, more for blocks and bands; the benchmark
(`benchmarks/bench_edit_spectrum.py`) prints the references a reading needs (smooth noise, a light blur's
residual, pixelation's) at the same size and inside the same masks.
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
    """(N, R, R) grey-level difference of each face's redraw with `names` flipped minus its redraw (zero outside the
    face's feathered ellipse, where both composites keep the photo)."""
    redrawn = generator.render(faces).astype(np.float64)
    edited = generator.render(faces, flipped(faces.attributes, names)).astype(np.float64)
    return (edited - redrawn).mean(axis=-1)


def radial_window(size: int) -> np.ndarray:
    """(size, size) Hann window of the distance to the centre: tapers the same way in every direction."""
    offsets = np.arange(size) - (size - 1) / 2
    radius = np.hypot(*np.meshgrid(offsets, offsets, indexing="ij")) / (size / 2)
    return np.where(radius < 1, 0.5 * (1 + np.cos(np.pi * radius)), 0.0)


def mean_power_spectrum(differences: np.ndarray) -> np.ndarray:
    """(R, R) mean power spectrum of the differences (radially windowed, zero frequency at the centre)."""
    spectra = np.abs(np.fft.fftshift(np.fft.fft2(differences * radial_window(differences.shape[-1])),
                                     axes=(-2, -1))) ** 2
    return spectra.mean(axis=0)


def axis_ratio(spectrum: np.ndarray, low: int = 2, floor: float = 1e-3) -> float:
    """Power on the two axes of the spectrum (horizontal and vertical structure: bands, block edges) over the power
    off them at the same radius, the geometric mean over the rings beyond radius `low` that hold at least `floor` of
    the strongest ring's power (so leakage in empty rings does not count): ~1 for a change with no preferred
    direction."""
    size = spectrum.shape[0]
    offsets = np.arange(size) - size // 2
    fy, fx = np.meshgrid(offsets, offsets, indexing="ij")
    radius = np.rint(np.hypot(fy, fx)).astype(int)
    on_axis = (fy == 0) | (fx == 0)
    rings = [radius == r for r in range(low + 1, size // 2)]
    power = np.array([spectrum[ring].mean() for ring in rings])
    ratios = [spectrum[ring & on_axis].mean() / max(spectrum[ring & ~on_axis].mean(), 1e-30)
              for ring, p in zip(rings, power) if p >= floor * power.max()]
    return float(np.exp(np.mean(np.log(ratios))))


def spectrum_summary(differences: np.ndarray, masks: np.ndarray) -> dict[str, float]:
    """The differences' size (mean |difference| in grey levels inside the masks) and their spectrum's axis ratio."""
    size = float(np.abs(differences * masks).sum() / max(float(masks.sum()), 1.0) * 255.0)
    return {"mean |difference| (grey levels)": size, "axis ratio": axis_ratio(mean_power_spectrum(differences))}

"""The edit spectrum: blocks and bands put their power on the spectrum's axes, noise does not."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceobf.disentangle.attributes import SEED_FLIPS, attribute_index
from faceobf.evaluate.edit_spectrum import axis_ratio, flipped, mean_power_spectrum, spectrum_summary

RNG = np.random.default_rng(0)


def test_noise_has_no_preferred_direction_and_blocks_and_bands_do() -> None:
    noise = RNG.normal(size=(32, 64, 64))
    blocks = np.kron(RNG.normal(size=(32, 8, 8)), np.ones((8, 8)))  # a mosaic of 8 px blocks
    bands = np.repeat(RNG.normal(size=(32, 64, 1)), 64, axis=2)  # horizontal bands
    ratios = {name: axis_ratio(mean_power_spectrum(d)) for name, d in (("noise", noise), ("blocks", blocks),
                                                                       ("bands", bands))}
    assert ratios["noise"] == pytest.approx(1.0, abs=0.3)
    assert ratios["blocks"] > 2 and ratios["bands"] > 10


def test_the_summary_sizes_the_differences_in_grey_levels_inside_the_masks() -> None:
    differences, masks = np.zeros((4, 64, 64)), np.zeros((4, 64, 64))
    differences[:, 16:48, 16:48] = 10 / 255
    masks[:, 16:48, 8:56] = 1  # a third of the mask unchanged: counted, as zero
    assert spectrum_summary(differences, masks)["mean |difference| (grey levels)"] == pytest.approx(20 / 3)


def test_flipped_flips_the_named_attributes_only() -> None:
    attributes = (RNG.random((3, 40)) > 0.5).astype(np.int8)
    out = flipped(attributes)
    changed = np.flatnonzero((out != attributes).any(axis=0))
    assert sorted(changed) == sorted(attribute_index(n) for n in SEED_FLIPS)

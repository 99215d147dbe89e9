"""Test-time flip strength, chosen on validation faces: how far the landmarks move and how loud the flipped planes are.

A stage-2 model trained with landmarks that follow the flips can be asked for more than it was shown
on average: the landmark mapping's gain (its ridge estimate shrinks what one attribute does, because
correlated attributes share it) and the flipped planes' intensity (Fader Networks and STGAN amplify
attributes at test time). Both are chosen here on **validation** faces, by the judge's editing
accuracy of a flip set under a floor on the preservation of the other attributes, and then reported
on test faces by the chapters; test faces never choose anything.
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd

from faceobf.disentangle.attributes import SEED_FLIPS, attribute_index
from faceobf.disentangle.classifier import AttributeClassifier
from faceobf.reconstruct.editing import as_uint8, judge_edit
from faceobf.reconstruct.factors import FaceFactors
from faceobf.reconstruct.generate import FaceGenerator, FlipStrength

GAINS = (1.0, 2.0, 3.0)  # the landmark gains training covered (`FOLLOW_GAIN`)
INTENSITIES = (1.0, 1.5, 2.0)
MIN_PRESERVATION = 0.90  # the floor: the other attributes must still read as they were on 90% of pairs


def strength_sweep(generator: FaceGenerator, judge: AttributeClassifier, faces: FaceFactors, flips: Sequence[str] = SEED_FLIPS,
                   gains: Sequence[float] = GAINS, intensities: Sequence[float] = INTENSITIES) -> pd.DataFrame:
    """One row per (gain, intensity): the judge's editing accuracy (plain and balanced) of `flips` on `faces` and the
    preservation of the other attributes. Without a landmark mapping only the intensities are swept (gain 1)."""
    base = judge.predict(faces.images)
    flipped = [attribute_index(n) for n in flips]
    targets = base.copy()
    targets[:, flipped] = 1 - targets[:, flipped]
    rows = []
    for gain in (gains if generator.geometry is not None else (1.0,)):
        for intensity in intensities:
            strength = FlipStrength(float(gain), float(intensity))
            drawn = generator.with_geometry(generator.geometry, strength).render(faces, targets, source=base)
            result = judge_edit(judge.predict(as_uint8(drawn)), base, flipped)
            rows.append({"gain": strength.gain, "intensity": strength.intensity, "editing": result["mean_accuracy"],
                         "balanced": result["mean_balanced"], "preservation": result["preservation"]})
    return pd.DataFrame(rows)


def choose_strength(sweep: pd.DataFrame, min_preservation: float = MIN_PRESERVATION) -> FlipStrength:
    """The strength with the best editing accuracy among those that keep `min_preservation`; the best-preserving one
    when none does (then the floor is missed, and the chapter says so); ties go to the weaker strength."""
    allowed = sweep[sweep["preservation"] >= min_preservation]
    ranked = (allowed.sort_values(["editing", "gain", "intensity"], ascending=[False, True, True]) if len(allowed)
              else sweep.sort_values(["preservation", "gain", "intensity"], ascending=[False, True, True]))
    best = ranked.iloc[0]
    return FlipStrength(float(best["gain"]), float(best["intensity"]))

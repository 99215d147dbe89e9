"""Test-time flip strength, chosen on validation faces: how far the landmarks move and how loud the flipped planes are.

A stage-2 model trained with landmarks that follow the flips can be asked for more than it was shown
on average: the landmark mapping's gain (its ridge estimate shrinks what one attribute does, because
correlated attributes share it) and the flipped planes' intensity (Fader Networks and STGAN amplify
attributes at test time). Both are chosen here on **validation** faces, by the judge's editing
accuracy of a flip set under a floor on the preservation of the other attributes, and then reported
on test faces by the chapters; test faces never choose anything.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
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
                   gains: Sequence[float] = GAINS, intensities: Sequence[float] = INTENSITIES,
                   cost: Callable[[np.ndarray], tuple[float, float, float]] | None = None
                   ) -> pd.DataFrame:
    """One row per (gain, intensity): the judge's editing accuracy (plain and balanced) of `flips` on `faces` and the
    preservation of the other attributes; with `cost` (e.g. `naturalness.flip_cost`, fed the uint8
    redraws) its mean and interval as `flip cost`, `flip cost low`, `flip cost high`. Without a
    landmark mapping only the intensities are swept (gain 1)."""
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
            row = {"gain": strength.gain, "intensity": strength.intensity,
                   "editing": result["mean_accuracy"], "balanced": result["mean_balanced"],
                   "preservation": result["preservation"]}
            if cost is not None:
                row["flip cost"], row["flip cost low"], row["flip cost high"] = cost(
                    as_uint8(drawn))
            rows.append(row)
    return pd.DataFrame(rows)


def choose_strength(sweep: pd.DataFrame, min_preservation: float = MIN_PRESERVATION,
                    max_cost: float | None = None) -> FlipStrength:
    """The strength with the best editing accuracy among those that keep `min_preservation` and,
    with `max_cost`, whose flip cost is at most that bound (e.g. `naturalness.light_blur_cost`:
    flips may make a redraw no less natural than a light blur makes a real face); when none does,
    the best-preserving within the bound, else the cheapest (then a target is missed, and the
    chapter says so); ties go to the weaker strength."""
    within = (sweep["flip cost"] <= max_cost if max_cost is not None
              else pd.Series(True, index=sweep.index))
    allowed = sweep[within & (sweep["preservation"] >= min_preservation)]
    if len(allowed):
        ranked = allowed.sort_values(["editing", "gain", "intensity"],
                                     ascending=[False, True, True])
    elif within.any():
        ranked = sweep[within].sort_values(["preservation", "gain", "intensity"],
                                           ascending=[False, True, True])
    else:
        ranked = sweep.sort_values(["flip cost", "gain", "intensity"])
    best = ranked.iloc[0]
    return FlipStrength(float(best["gain"]), float(best["intensity"]))

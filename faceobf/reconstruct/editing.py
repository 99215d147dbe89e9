"""Does the U-Net obey its attribute planes? The frozen attribute classifier judges the edited faces.

For a set of flipped attributes, every face is redrawn with the classifier's own reading of it, those
attributes flipped (the stage-3 path), and read again by the same classifier:

* editing accuracy of an attribute: the share of faces whose redrawn face the classifier reads as
  the flipped (target) value; AttGAN and STGAN report 80-90% with a separate classifier;
* preservation: the share of (face, attribute not flipped) pairs on which the redrawn face is read as
  the original was;
* reconstruction agreement: the same agreement for the redraw with nothing flipped (the control).

Original and redrawn faces are read at the same resolution (the U-Net's, resized to the classifier's),
so the judge sees both through the same lens. The judge is never used in stage-2 training.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from faceobf.disentangle.attributes import CELEBA_ATTRIBUTES, attribute_index
from faceobf.disentangle.classifier import AttributeClassifier
from faceobf.reconstruct.factors import FaceFactors
from faceobf.reconstruct.generate import FaceGenerator


def _as_uint8(images: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(np.asarray(images) * 255.0), 0, 255).astype(np.uint8)


def judge_edit(redrawn_reading: np.ndarray, base: np.ndarray, flipped: Sequence[int]) -> dict:
    """Editing accuracy per flipped attribute (and their mean) and preservation of the others, from 0/1 readings."""
    flip = np.zeros(base.shape[1], bool)
    flip[list(flipped)] = True
    target = np.where(flip, 1 - base, base)
    hits = redrawn_reading == target
    accuracy = {CELEBA_ATTRIBUTES[j]: float(hits[:, j].mean()) for j in flipped}
    return {"flipped": [CELEBA_ATTRIBUTES[j] for j in flipped], "accuracy": accuracy,
            "mean_accuracy": float(np.mean(list(accuracy.values()))) if accuracy else float("nan"),
            "preservation": float(hits[:, ~flip].mean()), "faces": int(len(base))}


def editing_accuracy(generator: FaceGenerator, judge: AttributeClassifier, faces: FaceFactors,
                     flip_sets: Mapping[str, Sequence[str]]) -> dict[str, dict]:
    """`judge_edit` of each named flip set over all `faces`, plus 'no flip' (the reconstruction agreement)."""
    base = judge.predict(faces.images)
    out = {}
    for name, names in {"no flip": (), **flip_sets}.items():
        flipped = [attribute_index(n) for n in names]
        targets = base.copy()
        targets[:, flipped] = 1 - targets[:, flipped]
        reading = judge.predict(_as_uint8(generator.render(faces, targets)))
        out[name] = judge_edit(reading, base, flipped)
    return out


def edit_grid(generator: FaceGenerator, judge: AttributeClassifier, faces: FaceFactors,
              flips: Sequence[str]) -> tuple[list[np.ndarray], list[str]]:
    """Images and titles of a grid with one row per face: the original, the redraw with the judge's own reading
    (nothing flipped), and the redraw with each attribute of `flips` flipped alone (the stage-3 path)."""
    base = judge.predict(faces.images)
    columns = [("redrawn", base)]
    for name in flips:
        targets = base.copy()
        targets[:, attribute_index(name)] = 1 - targets[:, attribute_index(name)]
        columns.append((name, targets))
    drawn = [_as_uint8(generator.render(faces, targets)) for _, targets in columns]
    images, titles = [], []
    for i in range(len(faces)):
        images += [faces.images[i]] + [pictures[i] for pictures in drawn]
        titles += ["original" if i == 0 else "", "redrawn" if i == 0 else ""]
        titles += [f"{'+' if targets[i, attribute_index(name)] else '-'}{name}" for name, targets in columns[1:]]
    return images, titles


def single_flip_sets(names: Sequence[str], together: Mapping[str, Sequence[str]] | None = None) -> dict[str, tuple[str, ...]]:
    """{name: (name,)} for each attribute in `names`, then the named sets in `together` (e.g. the seed's four)."""
    return {**{n: (n,) for n in names}, **{k: tuple(v) for k, v in (together or {}).items()}}


def editing_frame(results: Mapping[str, Mapping[str, dict]], judge_test: dict) -> pd.DataFrame:
    """One row per flip set measured for every model: the judge's own test accuracy and majority baseline on real
    faces (single flips), then each model's editing accuracy (the mean for a set) and preservation."""
    models = list(results)
    sets = [s for s in results[models[0]] if all(s in r for r in results.values())]
    accuracy = dict(zip(judge_test["attributes"], judge_test["accuracy"]))
    majority = dict(zip(judge_test["attributes"], judge_test["majority_baseline"]))
    rows = {}
    for name in sets:
        flipped = results[models[0]][name]["flipped"]
        single = flipped[0] if len(flipped) == 1 else None
        row = {("judge on real faces", "accuracy"): accuracy.get(single, np.nan),
               ("judge on real faces", "majority"): majority.get(single, np.nan)}
        for model in models:
            r = results[model][name]
            row[(model, "editing")] = r["mean_accuracy"]
            row[(model, "preservation")] = r["preservation"]
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")

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

from faceobf.disentangle.attributes import (CELEBA_ATTRIBUTES, attribute_index, majority_baseline, per_attribute_accuracy,
                                            per_attribute_balanced_accuracy)
from faceobf.disentangle.classifier import AttributeClassifier
from faceobf.reconstruct.factors import FaceFactors
from faceobf.reconstruct.generate import FaceGenerator


def as_uint8(images: np.ndarray) -> np.ndarray:
    """Float images in [0, 1] as uint8 (what the judge reads)."""
    return np.clip(np.rint(np.asarray(images) * 255.0), 0, 255).astype(np.uint8)


def judge_edit(redrawn_reading: np.ndarray, base: np.ndarray, flipped: Sequence[int]) -> dict:
    """Editing accuracy per flipped attribute (and their mean) and preservation of the others, from 0/1 readings.

    Beside the plain accuracy (dominated by the direction most faces flip in: most CelebA faces are young,
    so flipping Young mostly asks for an old face), each attribute's **balanced** editing accuracy is the
    mean of its success rates towards present and towards absent (a direction with no face is left out).
    `hits` keeps each face's success per flipped attribute for paired tests (`mcnemar`).
    """
    flip = np.zeros(base.shape[1], bool)
    flip[list(flipped)] = True
    target = np.where(flip, 1 - base, base)
    hits = redrawn_reading == target
    accuracy = {CELEBA_ATTRIBUTES[j]: float(hits[:, j].mean()) for j in flipped}
    balanced = {CELEBA_ATTRIBUTES[j]: balanced_rate(hits[:, j], target[:, j]) for j in flipped}
    return {"flipped": [CELEBA_ATTRIBUTES[j] for j in flipped], "accuracy": accuracy,
            "mean_accuracy": float(np.mean(list(accuracy.values()))) if accuracy else float("nan"),
            "balanced": balanced, "mean_balanced": float(np.mean(list(balanced.values()))) if balanced else float("nan"),
            "preservation": float(hits[:, ~flip].mean()), "faces": int(len(base)),
            "hits": hits[:, list(flipped)]}


def balanced_rate(hits: np.ndarray, target: np.ndarray) -> float:
    """Mean over the target values present (0 and 1) of the share of hits among the faces with that target."""
    rates = [float(hits[target == v].mean()) for v in (0, 1) if np.any(target == v)]
    return float(np.mean(rates)) if rates else float("nan")


def mcnemar(hits_a: np.ndarray, hits_b: np.ndarray) -> dict:
    """Exact paired McNemar test of two models' successes on the same (face, attribute) pairs: the counts where only
    A succeeds (b) and only B does (c), and the two-sided binomial p-value of b among b + c at one half."""
    from scipy.stats import binomtest

    a, b_ = np.asarray(hits_a, bool).ravel(), np.asarray(hits_b, bool).ravel()
    if a.shape != b_.shape:
        raise ValueError(f"paired test needs the same pairs for both models, got {a.size} and {b_.size}")
    only_a, only_b = int((a & ~b_).sum()), int((~a & b_).sum())
    p = 1.0 if only_a + only_b == 0 else float(binomtest(only_a, only_a + only_b, 0.5).pvalue)
    return {"only_a": only_a, "only_b": only_b, "pairs": int(a.size), "p_value": p}


def judge_on_faces(judge: AttributeClassifier, faces: FaceFactors, train_attributes: np.ndarray) -> dict:
    """The judge's own reading of real `faces` at the resolution it judges redraws (the U-Net's, resized to its own),
    against their CelebA labels: accuracy, balanced accuracy and the train split's majority baseline per attribute, in
    the layout of the classifier's test metrics (what `editing_frame` sets beside each edit)."""
    reading = judge.predict(faces.images).astype(np.float64)
    return {"attributes": list(CELEBA_ATTRIBUTES), "faces": int(len(faces)),
            "accuracy": per_attribute_accuracy(reading, faces.attributes).tolist(),
            "balanced_accuracy": per_attribute_balanced_accuracy(reading, faces.attributes).tolist(),
            "majority_baseline": majority_baseline(train_attributes, faces.attributes).tolist()}


def editing_accuracy(generator: FaceGenerator, judge: AttributeClassifier, faces: FaceFactors,
                     flip_sets: Mapping[str, Sequence[str]]) -> dict[str, dict]:
    """`judge_edit` of each named flip set over all `faces`, plus 'no flip' (the reconstruction agreement)."""
    base = judge.predict(faces.images)
    out = {}
    for name, names in {"no flip": (), **flip_sets}.items():
        flipped = [attribute_index(n) for n in names]
        targets = base.copy()
        targets[:, flipped] = 1 - targets[:, flipped]
        reading = judge.predict(as_uint8(generator.render(faces, targets, source=base)))
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
    drawn = [as_uint8(generator.render(faces, targets, source=base)) for _, targets in columns]
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
    """One row per flip set measured for every model: the judge's own test accuracy, balanced accuracy and majority
    baseline on real faces (single flips), then each model's editing accuracy and balanced editing accuracy (the
    means for a set) and preservation."""
    models = list(results)
    sets = [s for s in results[models[0]] if all(s in r for r in results.values())]
    accuracy = dict(zip(judge_test["attributes"], judge_test["accuracy"]))
    majority = dict(zip(judge_test["attributes"], judge_test["majority_baseline"]))
    balanced = dict(zip(judge_test["attributes"], judge_test.get("balanced_accuracy", [np.nan] * len(judge_test["attributes"]))))
    rows = {}
    for name in sets:
        flipped = results[models[0]][name]["flipped"]
        single = flipped[0] if len(flipped) == 1 else None
        row = {("judge on real faces", "accuracy"): accuracy.get(single, np.nan),
               ("judge on real faces", "balanced"): balanced.get(single, np.nan),
               ("judge on real faces", "majority"): majority.get(single, np.nan)}
        for model in models:
            r = results[model][name]
            row[(model, "editing")] = r["mean_accuracy"]
            row[(model, "balanced")] = r.get("mean_balanced", np.nan)
            row[(model, "preservation")] = r["preservation"]
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")

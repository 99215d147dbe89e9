"""The attribute factor of stage 1: the 40 CelebA attributes by name, in file order, the lists of flips and protected
attributes, and the per-attribute scores every reader of attributes (classifier, judge, critic) is measured with."""

from __future__ import annotations

import numpy as np

from faceobf.errors import UsageError

CELEBA_ATTRIBUTES: tuple[str, ...] = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs", "Big_Lips",
    "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows", "Chubby",
    "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones", "Male",
    "Mouth_Slightly_Open", "Mustache", "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose",
    "Receding_Hairline", "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair",
    "Wearing_Earrings", "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young",
)


def attribute_index(name: str) -> int:
    """Column of attribute `name`; a clear error listing the names otherwise."""
    try:
        return CELEBA_ATTRIBUTES.index(name)
    except ValueError:
        raise UsageError(f"unknown attribute {name!r}; CelebA attributes are: {', '.join(CELEBA_ATTRIBUTES)}") from None


# The seed's final flips (its report's choice for stage 3).
SEED_FLIPS: tuple[str, ...] = ("Pointy_Nose", "Smiling", "Young", "Big_Nose")

# The seed keeps the perceived gender: Male, and the attributes CelebA annotates almost only for one
# gender (facial hair for men, make-up for women), which would change it when flipped.
PROTECTED_ATTRIBUTES: tuple[str, ...] = (
    "Male", "5_o_Clock_Shadow", "Goatee", "Mustache", "No_Beard", "Sideburns", "Heavy_Makeup", "Wearing_Lipstick",
)


def allowed_indices(respect_protected: bool = True) -> np.ndarray:
    """Columns a policy may flip: all 40, or all but the protected ones."""
    protected = {attribute_index(n) for n in PROTECTED_ATTRIBUTES} if respect_protected else set()
    return np.array([j for j in range(len(CELEBA_ATTRIBUTES)) if j not in protected])


def per_attribute_accuracy(probabilities: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Accuracy of each attribute (K,) when predicting 'present' above `threshold`."""
    predictions = np.asarray(probabilities) > threshold
    return (predictions == (np.asarray(labels) > 0.5)).mean(axis=0)


def per_attribute_balanced_accuracy(probabilities: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """(K,) mean of the true-positive and true-negative rates per attribute (a class absent from `labels` is left out):
    0.5 for a classifier that always says the majority class, however rare the attribute."""
    predictions, truth = np.asarray(probabilities) > threshold, np.asarray(labels) > 0.5
    out = np.empty(truth.shape[1])
    for k in range(truth.shape[1]):
        rates = [np.mean(predictions[truth[:, k] == v, k] == v) for v in (False, True) if np.any(truth[:, k] == v)]
        out[k] = np.mean(rates)
    return out


def majority_baseline(train_labels: np.ndarray, test_labels: np.ndarray) -> np.ndarray:
    """Per-attribute test accuracy of always predicting the training split's majority class."""
    majority = np.asarray(train_labels).mean(axis=0) > 0.5
    return ((np.asarray(test_labels) > 0.5) == majority[None, :]).mean(axis=0)

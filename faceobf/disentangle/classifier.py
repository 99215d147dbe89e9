"""The attribute factor's reader: the trained ResNet-50 as a batched function of face crops.

`AttributeClassifier` is what every later stage calls: stage 3 reads the attributes of the face it
redraws, chapter 4 takes the pooled features for the KID. Crops of any size are resized to the
network's resolution on the host (area interpolation) and sent to the device as uint8.
"""

from __future__ import annotations

import copy

import jax
import numpy as np

from faceobf.data.images import resize_images
from faceobf.inference import BatchedModel, as_float_images
from faceobf.models.resnet import ResNet


class AttributeClassifier:
    """Probabilities of the 40 attributes (and pooled features) of uint8 face crops, in batches."""

    def __init__(self, model: ResNet, resolution: int, batch_size: int = 32):
        self.resolution = resolution
        self._proba = BatchedModel(model, lambda m, x: jax.nn.sigmoid(m(as_float_images(x))), batch_size)
        self._features = BatchedModel(model, lambda m, x: m.features(as_float_images(x)), batch_size)

    def with_weights(self, model: ResNet) -> "AttributeClassifier":
        """This classifier with the weights of `model` (same architecture), reusing the compiled functions."""
        other = copy.copy(self)
        other._proba, other._features = self._proba.with_weights(model), self._features.with_weights(model)
        return other

    def at_resolution(self, resolution: int) -> "AttributeClassifier":
        """This classifier reading crops resized to `resolution` (the network is fully convolutional; chapter 4 takes
        KID features at 128 px, where an upscaled redraw's detail is still seen)."""
        other = copy.copy(self)
        other.resolution = resolution
        return other

    def _prepare(self, crops: np.ndarray) -> np.ndarray:
        crops = np.asarray(crops)
        return crops if crops.shape[1:3] == (self.resolution, self.resolution) else resize_images(crops, self.resolution)

    def probabilities(self, crops: np.ndarray) -> np.ndarray:
        """(N, 40) attribute probabilities of (N, H, W, 3) uint8 crops (float crops in [0, 1] are accepted too)."""
        return self._proba(self._prepare(crops))

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """(N, 40) int8 0/1 attributes: present where the probability exceeds 0.5."""
        return (self.probabilities(crops) > 0.5).astype(np.int8)

    def features(self, crops: np.ndarray) -> np.ndarray:
        """(N, 2048) pooled ResNet-50 features (chapter 4's KID space)."""
        return self._features(self._prepare(crops))

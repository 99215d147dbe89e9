"""Losses and metrics of the face attribute classifier (the seed's equations 1 and 2)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax


def summed_bce(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Binary cross-entropy summed over the attributes of each sample, averaged over the batch."""
    return optax.sigmoid_binary_cross_entropy(logits, labels).sum(axis=-1).mean()


def per_attribute_accuracy(probabilities: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Accuracy of each attribute (K,) when predicting 'present' above `threshold`."""
    predictions = np.asarray(probabilities) > threshold
    return (predictions == (np.asarray(labels) > 0.5)).mean(axis=0)


def mean_attribute_accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The seed's metric: the mean over attributes of per-attribute accuracy."""
    return float(per_attribute_accuracy(probabilities, labels).mean())


def majority_baseline(train_labels: np.ndarray, test_labels: np.ndarray) -> np.ndarray:
    """Per-attribute test accuracy of always predicting the training split's majority class."""
    majority = np.asarray(train_labels).mean(axis=0) > 0.5
    return ((np.asarray(test_labels) > 0.5) == majority[None, :]).mean(axis=0)


def batch_accuracy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean per-attribute accuracy of a batch, inside jit."""
    return jnp.mean((logits > 0) == (labels > 0.5))

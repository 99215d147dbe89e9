"""Losses and metrics of the face attribute classifier (the seed's equations 1 and 2), and the GAN losses' BCE."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from faceobf.disentangle.attributes import majority_baseline, per_attribute_accuracy, per_attribute_balanced_accuracy  # noqa: F401


def bce(logits: jax.Array, target: float) -> jax.Array:
    """Binary cross-entropy of every logit against one constant target (1: real, 0: fake), averaged: a GAN's loss."""
    return optax.sigmoid_binary_cross_entropy(logits, jnp.full_like(logits, target)).mean()


def summed_bce(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Binary cross-entropy summed over the attributes of each sample, averaged over the batch."""
    return optax.sigmoid_binary_cross_entropy(logits, labels).sum(axis=-1).mean()


def mean_attribute_accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The seed's metric: the mean over attributes of per-attribute accuracy."""
    return float(per_attribute_accuracy(probabilities, labels).mean())


def batch_accuracy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean per-attribute accuracy of a batch, inside jit."""
    return jnp.mean((logits > 0) == (labels > 0.5))

"""The inference wrapper every stage uses: batches padded and kept in order, one compiled function for new weights."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from faceobf.inference import BatchedModel, as_float_images


class Scale(nnx.Module):
    def __init__(self):
        self.w = nnx.Param(jnp.full((3,), 2.0))

    def __call__(self, x):
        return x * self.w[...]


def test_batched_model_pads_batches_converts_bytes_and_keeps_order() -> None:
    model = BatchedModel(Scale(), lambda m, x: m(as_float_images(x)).sum(axis=(1, 2)), batch_size=4)
    images = np.random.default_rng(0).integers(0, 256, (10, 2, 2, 3), dtype=np.uint8)
    out = model(images)
    np.testing.assert_allclose(out, (images.astype(np.float32) / 255 * 2).sum(axis=(1, 2)), rtol=1e-6)
    np.testing.assert_allclose(model(images[:3]), out[:3], rtol=1e-6)  # the same faces, another batch split
    assert model(images[:0]).shape == (0, 3)
    with pytest.raises(ValueError, match="different lengths"):
        BatchedModel(Scale(), lambda m, x, y: m(x) + y, 4)(np.zeros((2, 3)), np.zeros((3, 3)))


def test_a_short_last_batch_is_padded_to_the_next_power_of_two_only() -> None:
    shapes = []

    def apply(m, x):
        shapes.append(x.shape[0])  # runs only while jax traces: one entry per compiled shape
        return m(x)

    model = BatchedModel(Scale(), apply, batch_size=32)
    x = np.arange(37 * 3, dtype=np.float32).reshape(37, 3)
    np.testing.assert_allclose(model(x), 2 * x)  # a full batch of 32, then 5 items padded to 8
    np.testing.assert_allclose(model(x[:1]), 2 * x[:1])
    np.testing.assert_allclose(model(x[:7]), 2 * x[:7])  # 8 again: no new shape
    assert shapes == [32, 8, 1]


def test_with_weights_reuses_the_compiled_function_for_new_weights() -> None:
    traces = []

    def apply(m, x):
        traces.append(1)  # runs only while jax traces
        return m(x)

    model = BatchedModel(Scale(), apply, batch_size=2)
    x = np.ones((4, 3), np.float32)  # two full batches: one shape
    np.testing.assert_allclose(model(x), 2 * x)
    other = Scale()
    other.w[...] = jnp.full((3,), 5.0)
    np.testing.assert_allclose(model.with_weights(other)(x), 5 * x)
    np.testing.assert_allclose(model(x), 2 * x)  # the original keeps its weights
    assert len(traces) == 1


def test_a_classifier_at_another_resolution_reads_crops_at_that_size_and_leaves_the_first_as_it_was() -> None:
    from flax import nnx

    from faceobf.disentangle.classifier import AttributeClassifier
    from faceobf.models.resnet import ResNet, ResNetConfig

    classifier = AttributeClassifier(ResNet(ResNetConfig(stage_sizes=(1, 1), base_width=8), rngs=nnx.Rngs(0)), 32)
    crops = np.random.default_rng(0).integers(0, 256, (3, 80, 80, 3), dtype=np.uint8)
    larger = classifier.at_resolution(48)
    assert larger._prepare(crops).shape == (3, 48, 48, 3) and classifier._prepare(crops).shape == (3, 32, 32, 3)
    a, b = classifier.features(crops), larger.features(crops)
    assert a.shape == b.shape and not np.allclose(a, b)  # the same network, other pixels

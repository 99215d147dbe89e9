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


def test_with_weights_reuses_the_compiled_function_for_new_weights() -> None:
    traces = []

    def apply(m, x):
        traces.append(1)  # runs only while jax traces
        return m(x)

    model = BatchedModel(Scale(), apply, batch_size=2)
    x = np.ones((3, 3), np.float32)
    np.testing.assert_allclose(model(x), 2 * x)
    other = Scale()
    other.w[...] = jnp.full((3,), 5.0)
    np.testing.assert_allclose(model.with_weights(other)(x), 5 * x)
    np.testing.assert_allclose(model(x), 2 * x)  # the original keeps its weights
    assert len(traces) == 1

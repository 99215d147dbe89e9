"""A trained nnx model as a jitted batched function: the one inference path of every stage.

`BatchedModel` puts the model in evaluation mode (batch-norm running averages, no dropout), splits it
once into a graph and its state, and jits `apply(model, *arrays)`. Calls take any number of items:
they are cut into batches of `batch_size`, the last one padded by repeating its last item up to the next
power of two (so a photo with one face runs a batch of one, not of `batch_size`, and at most
log2(batch_size) + 1 shapes are ever compiled; the persistent compilation cache keeps them), and the
results come back as one numpy array. Images may be passed as uint8: they
go to the device as bytes and `as_float_images` turns them into floats there.
"""

from __future__ import annotations

import copy
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx


def as_float_images(images: jax.Array) -> jax.Array:
    """uint8 images -> float32 in [0, 1]; float images pass unchanged (inside jit: the dtype is static)."""
    return images.astype(jnp.float32) / 255.0 if images.dtype == jnp.uint8 else images.astype(jnp.float32)


def _eval_split(model: nnx.Module) -> tuple[nnx.GraphDef, nnx.State]:
    """(graph, state) of `model` in evaluation mode, taken from a view so that the caller's model keeps its mode."""
    graphdef, state = nnx.split(model)
    view = nnx.merge(graphdef, state)  # shares the arrays
    view.eval()
    return nnx.split(view)


class BatchedModel:
    """`apply(model, *arrays)` of a trained model, jitted, over any number of items in fixed-size batches."""

    def __init__(self, model: nnx.Module, apply: Callable[..., jax.Array], batch_size: int = 32):
        graphdef, self._state = _eval_split(model)
        self._apply = jax.jit(lambda state, *arrays: apply(nnx.merge(graphdef, state), *arrays))
        self.batch_size = batch_size

    def with_weights(self, model: nnx.Module) -> "BatchedModel":
        """The same compiled function over the weights of `model` (same architecture): no new compilation,
        e.g. for validating each epoch of a training run."""
        other = copy.copy(self)
        _, other._state = _eval_split(model)
        return other

    def __call__(self, *arrays: np.ndarray) -> np.ndarray:
        """The outputs for all items of `arrays` (equal first dimensions), batched and padded."""
        n = len(arrays[0])
        if any(len(a) != n for a in arrays):
            raise ValueError(f"arrays of different lengths: {[len(a) for a in arrays]}")
        if n == 0:
            out = jax.eval_shape(lambda *xs: self._apply(self._state, *xs),
                                 *(jax.ShapeDtypeStruct((1, *np.shape(a)[1:]), np.asarray(a).dtype) for a in arrays))
            return np.zeros((0, *out.shape[1:]), out.dtype)
        outputs = []
        for start in range(0, n, self.batch_size):
            index = np.arange(start, min(start + self.batch_size, n))
            shape = min(self.batch_size, 1 << (index.size - 1).bit_length())  # the next power of two
            padded = np.concatenate([index, np.full(shape - index.size, index[-1])])
            outputs.append((index.size, self._apply(self._state, *(np.asarray(a)[padded] for a in arrays))))
        return np.concatenate([np.asarray(out)[:size] for size, out in outputs])

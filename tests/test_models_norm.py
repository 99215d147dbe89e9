"""faceobf's BatchNorm is nnx.BatchNorm: the same outputs, gradients, running statistics and state, sums as products."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from faceobf.models.norm import BatchNorm, channel_sums


@pytest.mark.parametrize("shape", [(4, 6, 5, 8), (7, 8), (3, 4, 4, 4, 2)])
def test_channel_sums_are_the_sums_over_every_axis_but_the_last(shape) -> None:
    x = jnp.asarray(np.random.default_rng(0).normal(size=shape) + 3.0, jnp.float32)
    np.testing.assert_allclose(channel_sums(x), x.sum(axis=tuple(range(x.ndim - 1))), rtol=1e-5)


@pytest.mark.parametrize("shape", [(4, 6, 6, 8), (16, 8)])
def test_batch_norm_matches_nnx_in_training_and_evaluation(shape) -> None:
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.normal(size=shape) * 3 + 1, jnp.float32)
    ours, theirs = BatchNorm(shape[-1], momentum=0.9, rngs=nnx.Rngs(0)), nnx.BatchNorm(shape[-1], momentum=0.9, use_fast_variance=False,
                                                                                    rngs=nnx.Rngs(0))
    for m in (ours, theirs):
        m.scale[...] = jnp.linspace(0.5, 2.0, shape[-1])
        m.bias[...] = jnp.linspace(-1.0, 1.0, shape[-1])
    assert jax.tree.structure(nnx.state(ours)) == jax.tree.structure(nnx.state(theirs))  # checkpoints are interchangeable

    def loss(m, x):
        return jnp.sum(jnp.sin(m(x)) * x)

    g_ours, g_theirs = nnx.grad(loss, argnums=(0, 1))(ours, x), nnx.grad(loss, argnums=(0, 1))(theirs, x)
    for a, b in zip(jax.tree.leaves(g_theirs), jax.tree.leaves(g_ours)):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4 * float(jnp.abs(a).max()))
    np.testing.assert_allclose(ours(x), theirs(x), atol=1e-5)  # a training call updates the running statistics alike
    np.testing.assert_allclose(ours.mean[...], theirs.mean[...], atol=1e-5)
    np.testing.assert_allclose(ours.var[...], theirs.var[...], rtol=1e-5)
    assert float(jnp.abs(ours.mean[...]).max()) > 0.05  # they did move
    ours.eval()
    theirs.eval()
    np.testing.assert_allclose(ours(x), theirs(x), atol=1e-5)

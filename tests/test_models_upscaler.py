"""Stage 3's upscaler network: pixel shuffle's layout, and an untrained network is plain bilinear resampling."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from faceobf.models.upscaler import Upscaler, UpscalerConfig, pixel_shuffle


def test_pixel_shuffle_puts_each_pixels_channel_groups_into_its_patch() -> None:
    x = jnp.arange(2 * 3 * 4, dtype=jnp.float32).reshape(1, 2, 3, 4)  # 4 channels = one channel, 2 x 2 patches
    y = pixel_shuffle(x, 2)
    assert y.shape == (1, 4, 6, 1)
    np.testing.assert_array_equal(y[0, 0:2, 0:2, 0], x[0, 0, 0].reshape(2, 2))  # pixel (0, 0)'s channels, row-major
    np.testing.assert_array_equal(y[0, 2:4, 4:6, 0], x[0, 1, 2].reshape(2, 2))


def test_an_untrained_upscaler_is_bilinear_resampling_and_learns_only_the_residual() -> None:
    model = Upscaler(UpscalerConfig(width=8, blocks=2), rngs=nnx.Rngs(0))
    x = jax.random.uniform(jax.random.key(0), (2, 16, 16, 3))
    out = model(x)
    assert out.shape == (2, 32, 32, 3)
    np.testing.assert_allclose(out, jax.image.resize(x, (2, 32, 32, 3), "bilinear"), atol=1e-6)  # the tail starts at zero
    model.tail.kernel[...] = jnp.ones_like(model.tail.kernel[...]) * 0.01
    assert float(jnp.abs(model(x) - out).max()) > 1e-3  # a trained tail adds detail on top

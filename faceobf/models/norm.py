"""Batch norm whose per-channel sums are matrix products: the same `nnx.BatchNorm`, 2-4x cheaper on XLA:CPU.

Training-mode batch norm needs, per channel, sums over every other axis: the mean and E[x^2] going
forward, the sums of dy and of dy * x_hat coming back. XLA:CPU computes such column reductions of an
(N, C) array about ten times slower than the same sum as a product with a vector of ones
(`benchmarks/bench_layers.py --norm`), and in ResNet-50 they were the largest single cost of a step.
`BatchNorm` computes all four as products, with the textbook backward pass as a custom VJP; its
parameters, statistics, update rule and checkpoints are those of `nnx.BatchNorm` (the variance in two
passes, as `nnx.BatchNorm(use_fast_variance=False)`). Inference, masks, cross-device axes and non-CPU backends take nnx's own path.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from flax import nnx


def channel_sums(x: jax.Array) -> jax.Array:
    """(C,) sums of x (..., W, C) over every axis but the last, as matrix-vector products.

    In two stages (the leading axes, then W) so that no float32 accumulator adds up more than a few
    hundred terms: one product over all B H W rows loses about 30x more precision to rounding.
    """
    if x.ndim <= 2:
        return jnp.ones((x.shape[0],), x.dtype) @ x if x.ndim == 2 else x
    width, c = x.shape[-2], x.shape[-1]
    rows = x.reshape(-1, width * c)
    per_column = (jnp.ones((rows.shape[0],), x.dtype) @ rows).reshape(width, c)
    return jnp.ones((width,), x.dtype) @ per_column


def _statistics(x: jax.Array, epsilon: float):
    count = x.size // x.shape[-1]
    mean = channel_sums(x) / count
    var = channel_sums(jnp.square(x - mean)) / count  # two passes: no E[x^2] - E[x]^2 cancellation
    return mean, var, jax.lax.rsqrt(var + epsilon), count


@partial(jax.custom_vjp, nondiff_argnums=(3,))
def batch_norm_train(x: jax.Array, scale: jax.Array, bias: jax.Array, epsilon: float) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(y, batch mean, batch variance) of training-mode batch norm over the last axis."""
    mean, var, inv, _ = _statistics(x, epsilon)
    return (x - mean) * (inv * scale) + bias, mean, var


def _forward(x, scale, bias, epsilon):
    mean, var, inv, _ = _statistics(x, epsilon)
    return ((x - mean) * (inv * scale) + bias, mean, var), (x, mean, inv, scale)


def _backward(epsilon, residuals, cotangents):
    x, mean, inv, scale = residuals
    dy, dmean, dvar = cotangents
    count = x.size // x.shape[-1]
    centred = x - mean
    x_hat = centred * inv
    dbias = channel_sums(dy)
    dscale = channel_sums(dy * x_hat)
    dx = (scale * inv) * (dy - (dbias + x_hat * dscale) / count) + (dmean + 2.0 * dvar * centred) / count
    return dx, dscale, dbias


batch_norm_train.defvjp(_forward, _backward)


class BatchNorm(nnx.BatchNorm):
    """`nnx.BatchNorm` over the last axis, its training-mode sums computed as products on XLA:CPU (see the module)."""

    def __call__(self, x: jax.Array, use_running_average: bool | None = None, *, mask: jax.Array | None = None) -> jax.Array:
        running = self.use_running_average if use_running_average is None else use_running_average
        if (running or mask is not None or self.axis_name is not None or self.axis not in (-1, x.ndim - 1)
                or self.scale is None or self.bias is None or jax.default_backend() != "cpu"):
            return super().__call__(x, use_running_average, mask=mask)
        x, scale, bias = self.promote_dtype((x, self.scale[...], self.bias[...]), dtype=self.dtype)
        y, mean, var = batch_norm_train(x, scale, bias, self.epsilon)
        self.mean[...] = jax.lax.stop_gradient(self.momentum * self.mean[...] + (1 - self.momentum) * mean)
        self.var[...] = jax.lax.stop_gradient(self.momentum * self.var[...] + (1 - self.momentum) * var)
        return y

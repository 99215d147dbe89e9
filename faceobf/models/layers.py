"""A 2-D convolution that XLA:CPU runs fast: the parameters of `nnx.Conv`, a lowering chosen per call shape.

On this CPU, XLA's own convolution is slow for two shapes that ResNet-50 and the U-Net are full of
(`benchmarks/bench_layers.py`): 1x1 convolutions, which are matrix products (striding is slicing),
and 3x3 stride-1 convolutions on small maps (at most `IM2COL_MAX_SIDE` pixels, e.g. ResNet-50's last
stages), where stacking the nine shifted copies of the input (im2col) and one matrix product wins.
Everything else, and every other backend (GPU, TPU), uses XLA's convolution. `Conv` subclasses
`nnx.Conv`: same parameters, initialisers, state paths and checkpoints; only the arithmetic's order
differs, so outputs agree to float tolerance.
"""

from __future__ import annotations

from contextlib import contextmanager

import jax
import jax.numpy as jnp
from flax import nnx

IM2COL_MAX_SIDE = 6  # measured (bench_layers): im2col wins on 3x3-4x4 maps, ties at 6-8, loses from 12 on
_fast_lowerings = [True]


@contextmanager
def xla_convolutions():
    """Inside this block, models traced use XLA's own convolution everywhere (the benchmarks' 'before')."""
    _fast_lowerings.append(False)
    try:
        yield
    finally:
        _fast_lowerings.pop()


def _pair(value, default: int = 1) -> tuple[int, int]:
    if value is None:
        return (default, default)
    if isinstance(value, int):
        return (value, value)
    return tuple(value)


def conv_lowering(kernel_size: tuple[int, int], strides, padding, height: int, width: int, backend: str) -> str:
    """'dot', 'im2col' or 'xla': how a convolution of this shape is computed on `backend`."""
    if backend != "cpu" or not _fast_lowerings[-1]:
        return "xla"
    strides = _pair(strides)
    if tuple(kernel_size) == (1, 1) and padding in ("SAME", "VALID", 0, ((0, 0), (0, 0))):
        return "dot"
    if tuple(kernel_size) == (3, 3) and strides == (1, 1) and padding == "SAME" and max(height, width) <= IM2COL_MAX_SIDE:
        return "im2col"
    return "xla"


def conv_as_dot(x: jax.Array, kernel: jax.Array, strides: tuple[int, int]) -> jax.Array:
    """A 1x1 convolution (NHWC, HWIO kernel) as one matrix product; striding by slicing."""
    if strides != (1, 1):
        x = x[:, :: strides[0], :: strides[1], :]
    return jnp.dot(x, kernel[0, 0])


def conv_as_im2col(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """A 3x3 stride-1 'SAME' convolution as the nine shifted copies of the zero-padded input and one matrix product."""
    _, h, w, _ = x.shape
    padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    columns = jnp.concatenate([padded[:, dy : dy + h, dx : dx + w, :] for dy in range(3) for dx in range(3)], axis=-1)
    return jnp.dot(columns, kernel.reshape(-1, kernel.shape[-1]))  # (dy, dx, cin) order matches the HWIO kernel


class Conv(nnx.Conv):
    """`nnx.Conv` (2-D, NHWC) computed by the fastest lowering of its call shape on the current backend."""

    def __call__(self, inputs: jax.Array, out_sharding=None) -> jax.Array:
        plain = (inputs.ndim != 4 or len(self.kernel_size) != 2 or self.feature_group_count != 1 or self.mask is not None
                 or _pair(self.kernel_dilation) != (1, 1) or _pair(self.input_dilation) != (1, 1) or out_sharding is not None)
        how = "xla" if plain else conv_lowering(self.kernel_size, self.strides, self.padding, inputs.shape[1], inputs.shape[2],
                                                jax.default_backend())
        if how == "xla":
            return super().__call__(inputs, out_sharding)
        kernel = self.kernel[...]
        bias = self.bias[...] if self.bias is not None else None
        inputs, kernel, bias = self.promote_dtype((inputs, kernel, bias), dtype=self.dtype)
        y = conv_as_dot(inputs, kernel, _pair(self.strides)) if how == "dot" else conv_as_im2col(inputs, kernel)
        return y + bias if bias is not None else y

"""A 2-D convolution that XLA:CPU runs fast: the parameters of `nnx.Conv`, a lowering chosen per call shape.

On this CPU, XLA's own convolution is slow for some shapes that ResNet-50 and the U-Net are full of
(`benchmarks/bench_layers.py`):

* 1x1 convolutions are matrix products (striding is slicing): `dot`;
* 3x3 stride-1 convolutions on small maps (at most `IM2COL_MAX_SIDE` pixels, e.g. ResNet-50's last
  stages): the nine shifted copies of the input stacked (im2col) and one matrix product: `im2col`;
* everything else is XLA's own convolution, forward and both gradients. (Its kernel gradient on large
  maps was the slowest part of a step while XLA:CPU ran convolutions through YNNPACK; `faceobf.runtime`
  turns that off, and then XLA's kernel gradient beats the custom VJPs tried in bench_layers.py.)

Every other backend (GPU, TPU) uses XLA's convolution. `Conv` subclasses `nnx.Conv`: same parameters,
initialisers, state paths and checkpoints; only the arithmetic's order differs, so outputs agree to
float tolerance. It also convolves a concatenation given as parts without building it, the attribute
planes among them in closed form (`faceobf.models.factored`).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

import jax
import jax.numpy as jnp
from flax import nnx

from faceobf.models.factored import FactoredPlanes, conv_pads

IM2COL_MAX_SIDE = 6  # measured (bench_layers): im2col wins on 3x3-4x4 maps, ties at 6-8, loses from 12 on


@dataclass(frozen=True)
class Lowerings:
    """Which of faceobf's faster computations are on (all by default); the benchmarks switch them off to compare."""

    fast_convolutions: bool = True  # the dot / im2col lowerings
    factored_planes: bool = True  # attribute planes convolved in closed form (else concatenated, as the seed does)


_lowerings = [Lowerings()]


@contextmanager
def lowerings(**switches: bool):
    """Inside this block, models traced use the given `Lowerings` switches (e.g. `factored_planes=False`)."""
    _lowerings.append(replace(_lowerings[-1], **switches))
    try:
        yield
    finally:
        _lowerings.pop()


def xla_convolutions():
    """Inside this block, models traced use XLA's own convolution everywhere and the seed's concatenation."""
    return lowerings(fast_convolutions=False, factored_planes=False)


def active_lowerings() -> Lowerings:
    """The switches in force where a model is being traced."""
    return _lowerings[-1]


def _pair(value, default: int = 1) -> tuple[int, int]:
    if value is None:
        return (default, default)
    if isinstance(value, int):
        return (value, value)
    return tuple(value)


def conv_lowering(kernel_size: tuple[int, int], strides, padding, height: int, width: int, backend: str) -> str:
    """'dot', 'im2col' or 'xla': how a convolution of this shape is computed on `backend`."""
    if backend != "cpu" or not active_lowerings().fast_convolutions:
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


def _xla_conv(x: jax.Array, kernel: jax.Array, strides: tuple[int, int], pads, precision) -> jax.Array:
    return jax.lax.conv_general_dilated(x, kernel, strides, pads, dimension_numbers=("NHWC", "HWIO", "NHWC"), precision=precision)


class Conv(nnx.Conv):
    """`nnx.Conv` (2-D, NHWC) computed by the fastest lowering of its call shape on the current backend.

    Called with a list of parts (arrays and `FactoredPlanes`), it convolves their channel concatenation
    without building it: the arrays' channels as one convolution, each factored part by its exact
    closed form (`FactoredPlanes.convolve`), the kernel sliced by the parts' channel counts.
    """

    def __call__(self, inputs: jax.Array | Sequence[jax.Array | FactoredPlanes], out_sharding=None) -> jax.Array:
        if isinstance(inputs, (list, tuple)):
            if active_lowerings().factored_planes:
                return self._concatenated(inputs)
            inputs = jnp.concatenate([p.dense() if isinstance(p, FactoredPlanes) else p for p in inputs], axis=-1)
        if self._plain(inputs) or out_sharding is not None:
            return super().__call__(inputs, out_sharding)
        kernel = self.kernel[...]
        bias = self.bias[...] if self.bias is not None else None
        inputs, kernel, bias = self.promote_dtype((inputs, kernel, bias), dtype=self.dtype)
        y = self._convolve(inputs, kernel)
        return y + bias if bias is not None else y

    def _plain(self, inputs: jax.Array) -> bool:
        """Whether this call needs nnx.Conv's general path (features the fast lowerings do not cover)."""
        return inputs.ndim != 4 or not self._lowerable()

    def _lowerable(self) -> bool:
        return (len(self.kernel_size) == 2 and self.feature_group_count == 1 and self.mask is None
                and _pair(self.kernel_dilation) == (1, 1) and _pair(self.input_dilation) == (1, 1)
                and self.padding not in ("CIRCULAR", "CAUSAL", "REFLECT"))

    def _convolve(self, x: jax.Array, kernel: jax.Array) -> jax.Array:
        """x (B, H, W, C) convolved with `kernel` (kh, kw, C, out) by the lowering chosen for this shape; no bias."""
        strides = _pair(self.strides)
        how = conv_lowering(self.kernel_size, strides, self.padding, x.shape[1], x.shape[2], jax.default_backend())
        if how == "dot":
            return conv_as_dot(x, kernel, strides)
        if how == "im2col":
            return conv_as_im2col(x, kernel)
        return _xla_conv(x, kernel, strides, conv_pads(x.shape[1:3], kernel.shape[:2], strides, self.padding), self.precision)

    def _concatenated(self, parts: Sequence[jax.Array | FactoredPlanes]) -> jax.Array:
        if not self._lowerable():
            raise ValueError("a concatenation of parts needs a plain 2-D convolution (no groups, mask, dilation or circular padding)")
        kernel = self.kernel[...]
        bias = self.bias[...] if self.bias is not None else None
        if sum(p.shape[-1] for p in parts) != kernel.shape[2]:
            raise ValueError(f"parts with {[p.shape[-1] for p in parts]} channels for a kernel of {kernel.shape[2]} input channels")
        dense, dense_kernels, y, start = [], [], None, 0
        for part in parts:
            k = kernel[:, :, start : start + part.shape[-1]]
            start += part.shape[-1]
            if isinstance(part, FactoredPlanes):
                term = part.convolve(k, _pair(self.strides), self.padding)
                y = term if y is None else y + term
            else:
                dense.append(part)
                dense_kernels.append(k)
        if dense:
            x = dense[0] if len(dense) == 1 else jnp.concatenate(dense, axis=-1)
            x, k, _ = self.promote_dtype((x, dense_kernels[0] if len(dense_kernels) == 1 else jnp.concatenate(dense_kernels, axis=2), None),
                                         dtype=self.dtype)
            term = self._convolve(x, k)
            y = term if y is None else y + term
        return y + bias if bias is not None else y


"""Attribute planes kept factored, and their exact convolution at a fraction of its cost.

Stage 2 conditions its networks on 40 attribute planes: plane j of face b is a_bj times a fixed map
T_j (ones for one-hot; a word2vec vector laid out as an S x S map), resized to the layer's size by a
fixed row matrix and column matrix (nearest-neighbour upsampling, then average pooling for the
decoder's inject layers). Concatenated to the image channels they make every convolution that sees
them 40 input channels wider, forward and backward. But for a kernel W

    conv(planes, W)[b, i, k, o] = sum_{dy, dx, s, t} Y[i, dy, s] X[k, dx, t] (sum_j a_bj T_j[s, t] W[dy, dx, j, o])

where Y[i, dy, s] is the row matrix at the input row that tap dy of output row i reads, and zero where
the padding cuts that tap off (the border). The bracket is a small (taps x S x S x out) term per face,
Y and X are fixed, so the planes' contribution costs a few matrix products instead of a convolution.
The kernel keeps all its input channels (checkpoints are unchanged) and the result equals the plain
concatenation to float rounding (tests/test_models_factored.py).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct


def nearest_matrix(size: int, cells: int) -> np.ndarray:
    """(size, cells) 0/1: row i picks cell i // ceil(size / cells), as upsampling by repetition then cropping does."""
    reps = -(-size // cells)
    m = np.zeros((size, cells), np.float32)
    m[np.arange(size), np.arange(size) // reps] = 1.0
    return m


def mean_pool_matrix(size: int, side: int) -> np.ndarray:
    """(side, size): output row i is the mean of input rows [i f, (i + 1) f), f = size / side."""
    if size % side:
        raise ValueError(f"cannot average-pool {size} rows to {side}: {side} does not divide {size}")
    f = size // side
    return np.kron(np.eye(side, dtype=np.float32), np.full((1, f), 1.0 / f, np.float32))


@struct.dataclass
class FactoredPlanes:
    """(B, H, W, n) planes: plane j of face b is attributes[b, j] * (rows @ table[j] @ cols.T), never materialised."""

    attributes: jax.Array  # (B, n) float, 0/1 (or any weights)
    table: jax.Array  # (n, S, T): each plane's map before it is spread over the grid
    rows: jax.Array  # (H, S): how the map's rows spread over the plane's rows
    cols: jax.Array  # (W, T)

    @classmethod
    def nearest(cls, attributes: jax.Array, table: jax.Array, resolution: int) -> "FactoredPlanes":
        """The seed's planes at `resolution`: each table map upsampled by nearest-neighbour repetition."""
        table = jnp.asarray(table, jnp.float32)
        return cls(jnp.asarray(attributes, jnp.float32), table, jnp.asarray(nearest_matrix(resolution, table.shape[1])),
                   jnp.asarray(nearest_matrix(resolution, table.shape[2])))

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (self.attributes.shape[0], self.rows.shape[0], self.cols.shape[0], self.attributes.shape[1])

    def dense(self) -> jax.Array:
        """The (B, H, W, n) planes themselves (the seed's concatenation; the reference the factored path is tested against)."""
        maps = jnp.einsum("hs,jst,wt->hwj", self.rows, self.table, self.cols)
        return self.attributes[:, None, None, :] * maps[None]

    def pooled(self, side: int) -> "FactoredPlanes":
        """These planes average-pooled to side x side (the U-Net's inject layers), still factored."""
        return self.replace(rows=jnp.asarray(mean_pool_matrix(self.rows.shape[0], side)) @ self.rows,
                            cols=jnp.asarray(mean_pool_matrix(self.cols.shape[0], side)) @ self.cols)

    def convolve(self, kernel: jax.Array, strides: tuple[int, int], padding) -> jax.Array:
        """(B, H', W', out): the planes convolved with `kernel` (kh, kw, n, out; HWIO) as XLA would, padding and all."""
        kh, kw = kernel.shape[:2]
        (pad_y, pad_x) = conv_pads((self.rows.shape[0], self.cols.shape[0]), (kh, kw), strides, padding)
        y = _tap_matrix(self.rows, kh, strides[0], pad_y)  # (H', kh, S)
        x = _tap_matrix(self.cols, kw, strides[1], pad_x)  # (W', kw, T)
        per_face = jnp.einsum("bj,jst,yxjo->byxsto", self.attributes, self.table, kernel.astype(self.table.dtype))
        per_row = jnp.einsum("kxt,byxsto->bysko", x, per_face)  # the columns first: (B, kh, S, W', out)
        return jnp.einsum("iys,bysko->biko", y, per_row)


def conv_pads(spatial: tuple[int, int], kernel: tuple[int, int], strides: tuple[int, int], padding) -> list[tuple[int, int]]:
    """Explicit (low, high) padding per spatial axis of an `nnx.Conv` padding ('SAME', 'VALID', an int or pairs), as XLA applies it."""
    if isinstance(padding, str):
        return jax.lax.padtype_to_pads(spatial, kernel, strides, padding)
    if isinstance(padding, int):
        return [(padding, padding)] * 2
    return [(p, p) if isinstance(p, int) else tuple(p) for p in padding]


def _tap_matrix(spread: jax.Array, taps: int, stride: int, pad: tuple[int, int]) -> jax.Array:
    """(out, taps, S): the spread matrix's row at the input row each tap of each output row reads; 0 in the padding."""
    size = spread.shape[0]
    out = (size + pad[0] + pad[1] - taps) // stride + 1
    source = np.arange(out)[:, None] * stride - pad[0] + np.arange(taps)[None, :]
    inside = (source >= 0) & (source < size)
    return jnp.where(jnp.asarray(inside)[..., None], spread[np.clip(source, 0, size - 1)], 0.0)


@struct.dataclass
class Factors:
    """Stage 2's input in parts: the spatial channels (landmark heatmaps, context) and the factored attribute planes."""

    spatial: jax.Array  # (B, R, R, C)
    planes: FactoredPlanes

    def parts(self, with_planes: bool = True) -> list[jax.Array | FactoredPlanes]:
        """The parts in concatenation order, for `Conv` (which convolves them without concatenating)."""
        return [self.spatial, self.planes] if with_planes else [self.spatial]

    def dense(self) -> jax.Array:
        """(B, R, R, C + 40): the plain concatenation."""
        return jnp.concatenate([self.spatial, self.planes.dense()], axis=-1)

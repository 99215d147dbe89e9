"""The seed protocol's identity classifier (chapter 4): a small CNN over the whole face crop."""

from __future__ import annotations

from dataclasses import dataclass

import jax
from flax import nnx

from faceobf.models.layers import Conv


@dataclass(frozen=True)
class IdentityCNNConfig:
    """The small classifier and how it is trained (whole 178x178 crop resized to `resolution`)."""

    resolution: int = 64
    widths: tuple[int, ...] = (32, 64, 128, 256)
    epochs: int = 40
    batch_size: int = 32
    learning_rate: float = 1e-3
    train_fraction: float = 2 / 3  # of each identity's images; the rest are held out for testing
    seed: int = 0


class IdentityCNN(nnx.Module):
    """conv3x3-BN-ReLU-maxpool blocks, global average pooling, a linear layer over identities."""

    def __init__(self, n_classes: int, config: IdentityCNNConfig, *, rngs: nnx.Rngs):
        convs, norms, cin = [], [], 3
        for width in config.widths:
            convs.append(Conv(cin, width, (3, 3), rngs=rngs))
            norms.append(nnx.BatchNorm(width, rngs=rngs))
            cin = width
        self.convs, self.norms = nnx.List(convs), nnx.List(norms)
        self.dropout = nnx.Dropout(0.3, rngs=rngs)
        self.head = nnx.Linear(cin, n_classes, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        """Identity logits of images in [0, 1], shape (B, R, R, 3)."""
        x = (x - 0.5) / 0.25
        for conv, norm in zip(self.convs, self.norms):
            x = nnx.max_pool(nnx.relu(norm(conv(x))), (2, 2), strides=(2, 2))
        return self.head(self.dropout(x.mean(axis=(1, 2))))

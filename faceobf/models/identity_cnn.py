"""The seed protocol's identity classifier (chapter 4): a small CNN over the whole face crop."""

from __future__ import annotations

import jax
from flax import nnx

from faceobf.models.configs import IdentityCNNConfig  # noqa: F401 (re-exported)
from faceobf.models.layers import Conv


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

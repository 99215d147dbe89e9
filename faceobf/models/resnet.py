"""ResNet-50 (He et al., 2016) in flax.nnx, with a multi-label head for the 40 CelebA attributes.

Bottleneck blocks [3, 4, 6, 3] with widths 64-128-256-512 (x4 expansion), batch norm after every
convolution, global average pooling and one dense layer of `num_outputs` logits. The model takes
images in [0, 1]; `predict_proba` applies the sigmoid.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from faceobf.models.configs import ResNetConfig  # noqa: F401 (re-exported)
from faceobf.models.layers import Conv
from faceobf.models.norm import BatchNorm


def _bn(features: int, config: ResNetConfig, rngs: nnx.Rngs, zero_init: bool = False) -> BatchNorm:
    scale_init = nnx.initializers.zeros_init() if zero_init else nnx.initializers.ones_init()
    return BatchNorm(features, momentum=config.bn_momentum, epsilon=1e-5, scale_init=scale_init, rngs=rngs)


def _conv(cin: int, cout: int, kernel: int, stride: int, rngs: nnx.Rngs) -> Conv:
    return Conv(
        cin, cout, (kernel, kernel), strides=(stride, stride), padding="SAME", use_bias=False,
        kernel_init=nnx.initializers.variance_scaling(2.0, "fan_out", "normal"), rngs=rngs,
    )


class Bottleneck(nnx.Module):
    """1x1 reduce, 3x3 (carries the stride), 1x1 expand; projection shortcut when the shape changes."""

    def __init__(self, cin: int, width: int, stride: int, config: ResNetConfig, rngs: nnx.Rngs):
        cout = width * 4
        self.conv1 = _conv(cin, width, 1, 1, rngs)
        self.bn1 = _bn(width, config, rngs)
        self.conv2 = _conv(width, width, 3, stride, rngs)
        self.bn2 = _bn(width, config, rngs)
        self.conv3 = _conv(width, cout, 1, 1, rngs)
        # Zero-initialised last BN scale: each block starts as identity (Goyal et al., 2017).
        self.bn3 = _bn(cout, config, rngs, zero_init=True)
        self.has_projection = stride != 1 or cin != cout
        if self.has_projection:
            self.proj_conv = _conv(cin, cout, 1, stride, rngs)
            self.proj_bn = _bn(cout, config, rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        y = nnx.relu(self.bn1(self.conv1(x)))
        y = nnx.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        shortcut = self.proj_bn(self.proj_conv(x)) if self.has_projection else x
        return nnx.relu(y + shortcut)


class ResNet(nnx.Module):
    """ResNet with bottleneck blocks; `ResNetConfig()` gives ResNet-50 with 40 outputs (~23.6M parameters)."""

    def __init__(self, config: ResNetConfig, *, rngs: nnx.Rngs):
        self.config = config
        self.stem_conv = _conv(3, config.base_width, 7, 2, rngs)
        self.stem_bn = _bn(config.base_width, config, rngs)
        blocks = []
        cin = config.base_width
        for stage, n_blocks in enumerate(config.stage_sizes):
            width = config.base_width * 2**stage
            for b in range(n_blocks):
                stride = 2 if stage > 0 and b == 0 else 1
                blocks.append(Bottleneck(cin, width, stride, config, rngs))
                cin = width * 4
        self.blocks = nnx.List(blocks)
        self.head = nnx.Linear(cin, config.num_outputs, rngs=rngs)
        self.feature_dim = cin

    def features(self, images: jax.Array) -> jax.Array:
        """Pooled 2048-d features of images in [0, 1], shape (B, H, W, 3)."""
        x = (images - 0.5) / 0.25
        x = nnx.relu(self.stem_bn(self.stem_conv(x)))
        x = nnx.max_pool(x, (3, 3), strides=(2, 2), padding="SAME")
        for block in self.blocks:
            x = block(x)
        return jnp.mean(x, axis=(1, 2))

    def __call__(self, images: jax.Array) -> jax.Array:
        """Attribute logits (B, num_outputs)."""
        return self.head(self.features(images))


def resnet50(num_outputs: int = 40, seed: int = 0) -> ResNet:
    """A freshly initialised ResNet-50 with `num_outputs` sigmoid logits."""
    return ResNet(ResNetConfig(num_outputs=num_outputs), rngs=nnx.Rngs(seed))


def predict_proba(model: ResNet, images: jax.Array) -> jax.Array:
    """Per-attribute probabilities: sigmoid of the logits."""
    return jax.nn.sigmoid(model(images))


def count_parameters(model: nnx.Module) -> int:
    """Number of trainable parameters (batch-norm statistics excluded)."""
    return sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))

"""Stage 3's upscaler: a small residual network that draws a redrawn 64 px face at 128 px (flax.nnx).

EDSR-style (Lim et al., 2017): a 3x3 convolution to `width` channels, `blocks` residual blocks (conv, ReLU,
conv, scaled by `residual_scale`, no normalisation), a 3x3 convolution to 3·factor² channels and a pixel
shuffle (depth to space) to the output size, added to the input resized bilinearly. The network therefore
only learns the detail that resampling cannot give. It sees the redraw only, never the original face.
"""

from __future__ import annotations

import jax
from flax import nnx

from faceobf.models.configs import UpscalerConfig  # noqa: F401 (re-exported)
from faceobf.models.layers import Conv


def pixel_shuffle(x: jax.Array, factor: int) -> jax.Array:
    """(B, H, W, C·f²) -> (B, H·f, W·f, C): each pixel's f² channel groups become an f x f patch (Shi et al., 2016)."""
    b, h, w, c = x.shape
    channels = c // (factor * factor)
    x = x.reshape(b, h, w, factor, factor, channels)
    return x.transpose(0, 1, 3, 2, 4, 5).reshape(b, h * factor, w * factor, channels)


class ResidualBlock(nnx.Module):
    """conv 3x3, ReLU, conv 3x3, scaled and added to the input."""

    def __init__(self, width: int, scale: float, *, rngs: nnx.Rngs):
        self.conv1 = Conv(width, width, (3, 3), rngs=rngs)
        self.conv2 = Conv(width, width, (3, 3), rngs=rngs)
        self.scale = scale

    def __call__(self, x: jax.Array) -> jax.Array:
        return x + self.scale * self.conv2(nnx.relu(self.conv1(x)))


class Upscaler(nnx.Module):
    """Images in [0, 1], (B, R, R, 3) -> (B, R·factor, R·factor, 3), not clipped."""

    def __init__(self, config: UpscalerConfig, *, rngs: nnx.Rngs):
        self.config = config
        self.head = Conv(3, config.width, (3, 3), rngs=rngs)
        self.body = nnx.List([ResidualBlock(config.width, config.residual_scale, rngs=rngs) for _ in range(config.blocks)])
        self.tail = Conv(config.width, 3 * config.factor**2, (3, 3), rngs=rngs,
                         kernel_init=nnx.initializers.zeros_init())  # starts as plain bilinear resampling

    def __call__(self, x: jax.Array) -> jax.Array:
        b, h, w, c = x.shape
        f = self.config.factor
        base = jax.image.resize(x, (b, h * f, w * f, c), "bilinear")
        features = self.head((x - 0.5) / 0.25)
        skip = features
        for block in self.body:
            features = block(features)
        return base + pixel_shuffle(self.tail(features + skip), f)

"""Stage 2's networks: a U-Net generator and a conditional PatchGAN discriminator (flax.nnx).

U-Net (Ronneberger et al., 2015): `depth` encoder blocks of two (conv 3x3, GroupNorm, ReLU) layers,
each followed by 2x2 max-pooling; a bottleneck block; `depth` decoder blocks of nearest-neighbour
up-sampling, a conv, concatenation with the encoder's skip, and two conv layers. Widths double at
each level from `base_width`. A 1x1 conv and a sigmoid give RGB in [0, 1]. GroupNorm (not batch
norm) keeps training and inference identical and independent of the batch. With `inject_levels`
> 0, the attribute planes (the input's last `n_attributes` channels) also reach the first
`inject_levels` decoder blocks, average-pooled to their scale (AttGAN's inject layers, He et al. 2019).

PatchGAN (Isola et al., 2017): given the U-Net's input and an image, sees the factors (all, all but the
attribute planes, or none: its `condition`) and the image, concatenated, and returns a map of logits, one
per overlapping patch (70x70 receptive field with three stride-2 layers). With `attribute_head`, it also
returns 40 attribute logits
from its pooled last features (AttGAN's auxiliary classifier), trained on real faces and their labels;
AttGAN's discriminator sees the image only, so that the head cannot read an attribute from the landmark
heatmaps (a smile is in the mouth's landmarks), which the generator cannot change.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from faceobf.models.configs import PATCHGAN_CONDITIONS, PatchGANConfig, UNetConfig  # noqa: F401 (re-exported)
from faceobf.models.factored import FactoredPlanes, Factors
from faceobf.models.layers import Conv


def _groups(width: int, groups: int) -> int:
    while width % groups:
        groups //= 2
    return max(1, groups)


class ConvBlock(nnx.Module):
    """Two (3x3 conv, GroupNorm, ReLU) layers."""

    def __init__(self, cin: int, cout: int, groups: int, rngs: nnx.Rngs):
        self.conv1 = Conv(cin, cout, (3, 3), padding="SAME", use_bias=False, rngs=rngs)
        self.norm1 = nnx.GroupNorm(cout, num_groups=_groups(cout, groups), rngs=rngs)
        self.conv2 = Conv(cout, cout, (3, 3), padding="SAME", use_bias=False, rngs=rngs)
        self.norm2 = nnx.GroupNorm(cout, num_groups=_groups(cout, groups), rngs=rngs)

    def __call__(self, x: jax.Array | list) -> jax.Array:
        """x: an array, or parts of one (see `Conv`)."""
        x = nnx.relu(self.norm1(self.conv1(x)))
        return nnx.relu(self.norm2(self.conv2(x)))


def _pool_to(planes: jax.Array, side: int) -> jax.Array:
    """(B, R, R, C) planes average-pooled to (B, side, side, C); R divisible by side."""
    b, r, _, c = planes.shape
    f = r // side
    return planes.reshape(b, side, f, side, f, c).mean(axis=(2, 4))


def _upsample2x(x: jax.Array) -> jax.Array:
    return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


class UNet(nnx.Module):
    """U-Net from (B, R, R, in_channels) factors to (B, R, R, 3) RGB in [0, 1]; R divisible by 2**depth."""

    def __init__(self, config: UNetConfig, *, rngs: nnx.Rngs):
        self.config = config
        widths = [config.base_width * 2**i for i in range(config.depth + 1)]
        encoders, cin = [], config.in_channels
        for w in widths[:-1]:
            encoders.append(ConvBlock(cin, w, config.groups, rngs))
            cin = w
        self.encoders = nnx.List(encoders)
        self.bottleneck = ConvBlock(cin, widths[-1], config.groups, rngs)
        ups, decoders = [], []
        for level, (w_low, w) in enumerate(zip(widths[:0:-1], widths[-2::-1])):
            ups.append(Conv(w_low, w, (3, 3), padding="SAME", rngs=rngs))
            injected = config.n_attributes if level < config.inject_levels else 0
            decoders.append(ConvBlock(2 * w + injected, w, config.groups, rngs))
        self.ups = nnx.List(ups)
        self.decoders = nnx.List(decoders)
        self.head = Conv(widths[0], config.out_channels, (1, 1), rngs=rngs)

    def __call__(self, x: jax.Array | Factors) -> jax.Array:
        """x: the factors concatenated (B, R, R, in_channels), or as `Factors` (the same result, cheaper: the
        attribute planes are convolved in closed form, here and in the inject layers)."""
        if isinstance(x, Factors):
            planes, x = x.planes, x.parts()
        else:
            planes = x[..., -self.config.n_attributes :]
        skips = []
        for block in self.encoders:
            x = block(x)
            skips.append(x)
            x = nnx.max_pool(x, (2, 2), strides=(2, 2))
        x = self.bottleneck(x)
        for level, (up, block, skip) in enumerate(zip(self.ups, self.decoders, reversed(skips))):
            parts = [nnx.relu(up(_upsample2x(x))), skip]
            if level < self.config.inject_levels:
                side = skip.shape[1]
                parts.append(planes.pooled(side) if isinstance(planes, FactoredPlanes) else _pool_to(planes, side))
            x = block(parts if isinstance(planes, FactoredPlanes) else jnp.concatenate(parts, axis=-1))
        return jax.nn.sigmoid(self.head(x))


class PatchGAN(nnx.Module):
    """Conditional PatchGAN: (factors, image) -> (B, R/8, R/8, 1) real/fake logits per patch."""

    def __init__(self, config: PatchGANConfig, *, rngs: nnx.Rngs):
        self.config = config
        convs, norms = [], []
        cin, width = config.in_channels, config.base_width
        for i in range(config.n_layers):
            convs.append(Conv(cin, width, (4, 4), strides=(2, 2), padding="SAME", rngs=rngs))
            norms.append(nnx.GroupNorm(width, num_groups=_groups(width, 8), rngs=rngs) if i > 0 else None)
            cin, width = width, min(width * 2, 8 * config.base_width)
        self.convs = nnx.List(convs)
        self.norms = nnx.List([n for n in norms if n is not None])
        self.penultimate = Conv(cin, width, (4, 4), padding="SAME", rngs=rngs)
        self.penultimate_norm = nnx.GroupNorm(width, num_groups=_groups(width, 8), rngs=rngs)
        self.out = Conv(width, 1, (4, 4), padding="SAME", rngs=rngs)
        if config.attribute_head:  # set only when used: an attribute first set to None could not hold a layer later
            self.attribute_head = nnx.Linear(width, config.n_attributes, rngs=rngs)

    def _trunk(self, factors: jax.Array | Factors, image: jax.Array) -> jax.Array:
        """factors: the U-Net's whole input (an array or `Factors`); the discriminator keeps what its condition says."""
        if isinstance(factors, Factors):
            x = factors.parts()[: self.config.factor_parts()] + [image]
        else:
            x = jnp.concatenate([factors[..., : self.config.factor_channels(factors.shape[-1])], image], axis=-1)
        x = nnx.leaky_relu(self.convs[0](x), 0.2)
        for conv, norm in zip(self.convs[1:], self.norms):
            x = nnx.leaky_relu(norm(conv(x)), 0.2)
        return nnx.leaky_relu(self.penultimate_norm(self.penultimate(x)), 0.2)

    def __call__(self, factors: jax.Array | Factors, image: jax.Array) -> jax.Array:
        """(B, R/8, R/8, 1) real/fake logits per patch."""
        return self.out(self._trunk(factors, image))

    def classify(self, factors: jax.Array | Factors, image: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(patch logits, (B, 40) attribute logits); needs `attribute_head`."""
        x = self._trunk(factors, image)
        return self.out(x), self.attribute_head(x.mean(axis=(1, 2)))

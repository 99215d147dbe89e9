"""A small-data GAN kit for stage 2: what a discriminator sees augmented, lazy R1, an average of the generator.

* DiffAugment (Zhao et al., 2020): every image the discriminator judges, real or drawn, in the D step and
  in the G step alike, goes through the same kind of random, differentiable translation (up to 1/8 of the
  side, zero fill) and cutout (a square of half the side set to zero); the spatial factors (heatmaps,
  context) move with the image, so the pair stays aligned (the attribute planes are left as they are:
  they say what the face should be, not where). DiffAugment's colour jitter is left out: the discriminator's
  attribute head reads colour attributes (hair colours, Pale_Skin) from the same images.
* Lazy R1 (Mescheder et al., 2018; StyleGAN2): gamma/2 times the squared gradient of the real faces'
  patch logits, summed over the patches (so gamma is on another scale than StyleGAN2's single logit),
  with respect to the real image as the discriminator is shown it (augmented, under DiffAugment), every
  `R1_INTERVAL` D steps and scaled by it.
* An exponential moving average of the generator's weights (StyleGAN2-ADA's schedule: a half-life in
  images, ramped up over the first images seen), the weights validation, snapshots and inference use
  (its parameters: the U-Net's group norm keeps no batch statistics).

Why translation matters here (`benchmarks/bench_edit_spectrum.py`): the gradient a strided discriminator
sends the generator, from its patches and from its attribute head alike, is a lattice on its stride grid;
a generator that follows it step after step paints that lattice (the mosaic). Shifted afresh each step,
the lattice's phase differs every time, and what the steps add up to is a weaker lattice.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

R1_INTERVAL = 16  # D steps between R1 penalties (StyleGAN2's lazy regularisation)
EMA_RAMPUP = 0.05  # the average's half-life is at most this share of the images seen so far


def _translate(stack: jax.Array, key: jax.Array, ratio: float = 0.125) -> jax.Array:
    """(B, R, R, C) shifted per sample by up to `ratio` of the side in each direction, zero filled."""
    size = stack.shape[1]
    pad = max(int(size * ratio + 0.5), 1)
    shifts = jax.random.randint(key, (stack.shape[0], 2), 0, 2 * pad + 1)
    padded = jnp.pad(stack, ((0, 0), (pad, pad), (pad, pad), (0, 0)))

    def crop(image, shift):
        return jax.lax.dynamic_slice(image, (shift[0], shift[1], 0), (size, size, image.shape[-1]))

    return jax.vmap(crop)(padded, shifts)


def _cutout(stack: jax.Array, key: jax.Array, ratio: float = 0.5) -> jax.Array:
    """(B, R, R, C) with a square of `ratio` of the side, placed at random per sample, set to zero."""
    size = stack.shape[1]
    half = int(size * ratio + 0.5) // 2
    centres = jax.random.randint(key, (stack.shape[0], 2), 0, size)
    rows = jnp.arange(size)[None, :, None]
    cols = jnp.arange(size)[None, None, :]
    inside = (jnp.abs(rows - centres[:, 0, None, None]) < half) & (jnp.abs(cols - centres[:, 1, None, None]) < half)
    return stack * (~inside)[..., None]


def diff_augment(key: jax.Array, x: jax.Array, image: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(spatial factors, image) translated and cut out together, differentiably (DiffAugment's translation + cutout)."""
    channels = x.shape[-1]
    shift_key, cut_key = jax.random.split(key)
    stack = _cutout(_translate(jnp.concatenate([x, image], axis=-1), shift_key), cut_key)
    return stack[..., :channels], stack[..., channels:]


def r1_penalty(patch_logits, image: jax.Array) -> jax.Array:
    """mean over faces of the squared gradient norm of the summed patch logits with respect to the real image."""
    grad = jax.grad(lambda im: patch_logits(im).sum())(image)
    return (grad ** 2).sum(axis=(1, 2, 3)).mean()


def lazy_r1(step: jax.Array, gamma: float, patch_logits, image: jax.Array) -> jax.Array:
    """gamma/2 x `R1_INTERVAL` x R1 on the D steps that are multiples of `R1_INTERVAL`, 0 on the others (jit-safe)."""
    return jax.lax.cond(step % R1_INTERVAL == 0,
                        lambda im: 0.5 * gamma * R1_INTERVAL * r1_penalty(patch_logits, im),
                        lambda im: jnp.float32(0.0), image)


def ema_decay(images_seen: jax.Array, batch_size: int, half_life: int) -> jax.Array:
    """The average's decay per step: half-life `half_life` images, at most `EMA_RAMPUP` of the images seen."""
    horizon = jnp.minimum(jnp.float32(half_life), images_seen.astype(jnp.float32) * EMA_RAMPUP)
    return jnp.power(0.5, batch_size / jnp.maximum(horizon, 1e-8))


def generator_weights(generator: nnx.Module) -> nnx.State:
    """The weights of a generator the average follows (its parameters)."""
    return nnx.state(generator, nnx.Param)


def update_average(average: nnx.State, weights: nnx.State, decay: jax.Array) -> nnx.State:
    """One step of the exponential moving average: decay x average + (1 - decay) x weights."""
    return jax.tree.map(lambda a, w: w + decay * (a - w), average, weights)

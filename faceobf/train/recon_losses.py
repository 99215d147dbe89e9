"""Stage 2's generator loss as named terms: each a small function of what the generator step drew, with its weight.

The step (`faceobf.train.recon`) draws the redraws and the discriminator's judgments once into a
`GeneratorView`, then sums weight x value over the terms that apply; each term's value is logged under
its name. A new term is one `register_loss(LossTerm(...))`; its weight comes from the run's
configuration (`ReconTrainConfig.loss_weights`, set on the command line with `--loss NAME=WEIGHT`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax

from faceobf.profiles import ReconTrainConfig
from faceobf.reconstruct.imageops import ssim_map
from faceobf.train.losses import bce


def attribute_bce(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """Binary cross-entropy of attribute logits against 0/1 targets, averaged over faces and attributes."""
    return optax.sigmoid_binary_cross_entropy(logits, targets).mean()


def masked_l1(a: jax.Array, b: jax.Array, mask: jax.Array) -> jax.Array:
    """Mean absolute error over the pixels inside `mask` (B, R, R)."""
    m = mask[..., None]
    return (jnp.abs(a - b) * m).sum() / jnp.maximum(m.sum() * a.shape[-1], 1.0)


def identity_hinge(recogniser, edited: jax.Array, original: jax.Array, margin: float) -> jax.Array:
    """mean max(0, cos(e(edited), e(original)) - margin) under a frozen recogniser e (unit embeddings): zero once an
    edited face is at least as far from its original as the margin asks."""
    cosine = (recogniser(edited) * jax.lax.stop_gradient(recogniser(original))).sum(axis=-1)
    return jax.nn.relu(cosine - margin).mean()


@dataclass(frozen=True)
class GeneratorView:
    """What one generator step drew, as its loss terms see it (inside the traced loss function)."""

    cfg: ReconTrainConfig
    images: jax.Array  # (B, R, R, 3) float in [0, 1]
    masks: jax.Array  # (B, R, R) float
    fake: jax.Array  # the composite of the unedited redraw
    fake_edit: jax.Array  # the composite of the edited redraw (the unedited one when the recipe does not edit)
    targets: jax.Array  # (B, 40) the attributes the edited redraw was asked for
    patches: jax.Array  # the discriminator's patch logits on the unedited redraw
    patches_edit: jax.Array | None  # ... and on the edited redraw (None without edits)
    attributes_read: jax.Array | None  # the critic's attribute logits on the edited redraw (None without a head or edits)
    recogniser: Any = None  # the frozen identity recogniser, when the run has one


@dataclass(frozen=True)
class LossTerm:
    """One named term of the generator's loss: its value, its weight in a configuration, and when it applies."""

    name: str  # the key of its value in the step's metrics
    value: Callable[[GeneratorView], jax.Array]
    weight: Callable[[ReconTrainConfig], float] | None = None  # None: `cfg.loss_weights` by name (a registered term)
    applies: Callable[[GeneratorView], bool] = lambda view: True

    def weight_in(self, cfg: ReconTrainConfig) -> float:
        return dict(cfg.loss_weights).get(self.name, 0.0) if self.weight is None else self.weight(cfg)


def _adversarial(view: GeneratorView) -> jax.Array:
    """The non-saturating GAN loss on the patch logits, averaged over both redraws."""
    loss = bce(view.patches, 1.0)
    return loss if view.patches_edit is None else 0.5 * (loss + bce(view.patches_edit, 1.0))


def _ssim(view: GeneratorView) -> jax.Array:
    s = (ssim_map(view.fake, view.images) * view.masks).sum() / jnp.maximum(view.masks.sum(), 1.0)
    return 1.0 - s


GENERATOR_TERMS: dict[str, LossTerm] = {term.name: term for term in (
    LossTerm("l1", lambda v: masked_l1(v.fake, v.images, v.masks), lambda cfg: cfg.l1_weight),
    LossTerm("g_adv", _adversarial, lambda cfg: cfg.adv_weight),
    LossTerm("g_attr", lambda v: attribute_bce(v.attributes_read, v.targets), lambda cfg: cfg.attr_weight,
             applies=lambda v: v.attributes_read is not None),
    LossTerm("g_identity", lambda v: identity_hinge(v.recogniser, v.fake_edit, v.images, v.cfg.identity_margin),
             lambda cfg: cfg.identity_weight, applies=lambda v: v.recogniser is not None),
    LossTerm("g_ssim", _ssim, lambda cfg: cfg.ssim_weight, applies=lambda v: v.cfg.ssim_weight != 0),
)}


def register_loss(term: LossTerm) -> LossTerm:
    """Add a generator loss term (an experiment); it applies where the run's `loss_weights` gives it a weight."""
    if term.name in GENERATOR_TERMS:
        raise ValueError(f"a loss term {term.name!r} exists already")
    if term.weight is None:  # weighted by the run's loss_weights: it applies where they weigh it
        name, applies = term.name, term.applies
        term = replace(term, applies=lambda v: dict(v.cfg.loss_weights).get(name, 0.0) != 0 and applies(v))
    GENERATOR_TERMS[term.name] = term
    return term


def check_loss_weights(cfg: ReconTrainConfig) -> None:
    """Refuse a configuration that weighs a loss term no one registered, or a built-in term by name."""
    unknown = [name for name, _ in cfg.loss_weights if name not in GENERATOR_TERMS]
    if unknown:
        raise ValueError(f"no loss term {', '.join(unknown)} is registered (faceobf.train.recon_losses.register_loss); "
                         f"known: {', '.join(GENERATOR_TERMS)}")
    own = [name for name, _ in cfg.loss_weights if GENERATOR_TERMS[name].weight is not None]
    if own:
        raise ValueError(f"loss term {', '.join(own)} is weighted by its own setting of the configuration "
                         "(e.g. --l1-weight, --attr-weight), not by --loss")


def generator_loss(view: GeneratorView) -> tuple[jax.Array, dict[str, jax.Array]]:
    """(the weighted sum of the terms that apply, each term's value by its name)."""
    values = {name: term.value(view) for name, term in GENERATOR_TERMS.items() if term.applies(view)}
    total = sum(GENERATOR_TERMS[name].weight_in(view.cfg) * value for name, value in values.items())
    return total, values

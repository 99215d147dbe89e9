"""Train the stage-2 U-Net to redraw a face from its factors, obeying its attribute planes.

The loss of the generator G, with x the factors of a face, x' the same factors with `edit_flips`
allowed attributes flipped to targets a', C(x) the composite of G's face with the context, and D_adv,
D_att the discriminator's patch logits and attribute head (AttGAN, He et al. 2019, on pix2pix):

    L_G = l1_weight * |C(x) - I|_mask + adv_weight * (BCE(D_adv(C(x)), 1) + BCE(D_adv(C(x')), 1)) / 2
          + attr_weight * BCE(D_att(C(x')), a')       [+ ssim_weight * (1 - SSIM_mask(C(x), I))]
    L_D = (BCE(D_adv(I), 1) + (BCE(D_adv(C(x)), 0) + BCE(D_adv(C(x')), 0)) / 2) / 2 + d_attr_weight * BCE(D_att(I), a)

* L1 inside the face mask (outside, the composite *is* the original), weight 100: the low frequencies;
  it applies to the unedited redraw only, since an edited face has no ground truth;
* the non-saturating GAN loss on the PatchGAN's patch logits, weight 1: the high frequencies;
* the attribute loss: D's head learns the 40 attributes from real faces and their CelebA labels; G is
  asked to draw edited faces that the head reads as the targets. Without it (the `pix2pix` recipe,
  `edit_flips = 0`) L1 is met from the context and the landmarks and G learns to ignore the planes.

With `head_warmup_epochs`, the discriminator first trains alone on real faces, its head's BCE only, so that
the attribute loss means something from the generator's first step (AttGAN trains ~10^6 steps; a CPU
budget is a few thousand). Adam(2e-4, beta1 = 0.5) for both networks. G and D are separate `jax.jit` steps over explicit nnx
state; one G step, then one D step on the G step's fakes, per batch, run by the shared loop
(`faceobf.train.loop.fit`) on prefetched uint8 batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx, struct

from faceobf import runs, shipped
from faceobf.data.batches import iterate_batches
from faceobf.data.dataset import CelebA, sample_rows
from faceobf.inference import BatchedModel, as_float_images
from faceobf.io import write_json
from faceobf.models.unet import PatchGAN, PatchGANConfig, UNet, UNetConfig
from faceobf.disentangle.attributes import SEED_FLIPS, allowed_indices, attribute_index
from faceobf.disentangle.geometry import LandmarkMapping, move_landmarks
from faceobf.profiles import Profile, ReconTrainConfig
from faceobf.networks import (MAPPING_FILE, PRIOR_FILE, STRENGTH_FILE, discriminator_network,  # noqa: F401  (re-exported)
                               face_generator, generator_network, landmark_indices, stored_flip_settings, stored_prior)
from faceobf.models.factored import Factors
from faceobf.reconstruct.factors import FaceBatch, assemble_factors, face_factors
from faceobf.reconstruct.generate import FaceGenerator, FlipStrength
from faceobf.reconstruct.imageops import composite_face
from faceobf.reconstruct.planes import attribute_table
from faceobf.reconstruct.prior import AppearancePrior, fit_prior
from faceobf.reconstruct.quality import evaluate_images, mean_colour_baseline, save_preview
from faceobf.train.checkpoints import restore_finished, restore_run
from faceobf.train.loop import fit
from faceobf.train.parallel import DataParallel, batch_sharding
from faceobf.train.gan_kit import diff_augment, ema_decay, generator_weights, lazy_r1, update_average
from faceobf.train.recon_losses import GeneratorView, attribute_bce, bce, check_loss_weights, generator_loss


SNAPSHOTS = "snapshots"  # a run's generator every `snapshot_every` epochs, each a folder `load_network` reads


class StepAids(NamedTuple):
    """What a generator step reads besides the batch: the attribute table, the landmark mapping's coefficients (geometry
    'follow'), the frozen critic's state (critic 'frozen'), the identity recogniser's state (identity_weight > 0) and
    the appearance prior (appearance_prior)."""

    table: jax.Array
    coefficients: jax.Array | None = None
    critic_state: nnx.State | None = None
    identity_state: nnx.State | None = None
    prior: AppearancePrior | None = None


@struct.dataclass
class Redraws:
    """What a generator step drew, handed to the discriminator step: both inputs, both composites, the edit."""

    x: Factors  # the U-Net input of the faces as they are
    x_edit: Factors  # ... with the flipped targets and the moved landmarks (x itself without edits)
    fake: jax.Array
    fake_edit: jax.Array
    targets: jax.Array  # (B, 40) float
    moved: jax.Array  # (B, 68, 2) the landmarks the edited redraw was drawn from


def create_recon_state(unet: UNetConfig, patchgan: PatchGANConfig, cfg: ReconTrainConfig):
    """Split a fresh (generator, Adam) and (discriminator, Adam) pair into graphs and explicit states.

    The networks are the registry's `cfg.generator` and `cfg.discriminator` (`faceobf.networks`); the U-Net's input
    channels follow the recipe's landmark subset, and the discriminator sees the generator's input and an image.
    """
    g = generator_network(unet, cfg, cfg.seed)
    d = discriminator_network(patchgan, g, cfg, cfg.seed + 1)
    g_opt = nnx.Optimizer(g, optax.adam(cfg.lr_g, b1=cfg.beta1), wrt=nnx.Param)
    d_opt = nnx.Optimizer(d, optax.adam(cfg.lr_d, b1=cfg.beta1), wrt=nnx.Param)
    g_def, g_state = nnx.split((g, g_opt))
    d_def, d_state = nnx.split((d, d_opt))
    return g_def, g_state, d_def, d_state


def _factors(batch: FaceBatch, aids: StepAids, cfg: ReconTrainConfig, targets=None, landmarks=None):
    """(images float, masks float, the U-Net input) from a batch as stored (uint8 images and masks, int8 attributes).

    The planes carry `targets` (default: the face's own attributes), or under condition 'difference' (STGAN)
    targets - attributes: zero for a redraw, +-1 on the flipped attributes for an edit; the heatmaps, `landmarks`
    (default: the batch's); the appearance prior, if any, is drawn at the targets from those landmarks."""
    images, masks = as_float_images(batch.images), batch.masks.astype(jnp.float32)
    attributes = batch.attributes.astype(jnp.float32)
    landmarks = batch.landmarks if landmarks is None else landmarks
    planes = attributes if targets is None else targets.astype(jnp.float32)
    appearance = None if aids.prior is None else aids.prior.draw(planes, landmarks, images, masks)
    if cfg.condition == "difference":
        planes = planes - attributes
    return images, masks, assemble_factors(images, landmarks, masks, planes, aids.table, landmark_indices(cfg), appearance)


def edit_targets(attributes: jax.Array, key: jax.Array, k: int, seed_share: float = 0.0) -> jax.Array:
    """`attributes` (B, 40) with `k` allowed (non-protected) attributes flipped per face, drawn from `key`; on a
    `seed_share` of the faces (drawn too) the `k` are drawn from the seed's four flips instead."""
    allowed = np.zeros(attributes.shape[-1], bool)
    allowed[allowed_indices()] = True
    seed_set = np.zeros(attributes.shape[-1], bool)
    seed_set[[attribute_index(n) for n in SEED_FLIPS]] = True
    if seed_share and k > seed_set.sum():
        raise ValueError(f"seed_edit_share > 0 needs edit_flips <= {seed_set.sum()} (the seed's flips), got {k}")
    pick, share = jax.random.split(key)
    from_seed = (jax.random.uniform(share, attributes.shape[:1]) < seed_share)[:, None]
    scores = jnp.where(jnp.where(from_seed, seed_set, allowed), jax.random.uniform(pick, attributes.shape), -1.0)
    _, chosen = jax.lax.top_k(scores, k)
    flip = jax.nn.one_hot(chosen, attributes.shape[-1]).sum(axis=1) > 0
    return jnp.where(flip, 1.0 - attributes, attributes)


def _judge(d: PatchGAN, x: jax.Array, image: jax.Array) -> tuple[jax.Array, jax.Array | None]:
    """(patch logits, attribute logits or None) of the discriminator on one image batch."""
    if d.config.attribute_head:
        return d.classify(x, image)
    return d(x, image), None


def edited_landmarks(landmarks: jax.Array, attributes: jax.Array, targets: jax.Array, coefficients: jax.Array, key: jax.Array,
                     cfg: ReconTrainConfig) -> jax.Array:
    """The landmarks an edited redraw is drawn from: moved by the landmark mapping (gain uniform in
    `cfg.geometry_gain` per face) under geometry 'follow', the original ones under 'fixed'."""
    if cfg.geometry == "fixed":
        return landmarks
    if coefficients is None:
        raise ValueError("geometry 'follow' moves the edited landmarks by a landmark mapping: pass its coefficients")
    low, high = cfg.geometry_gain
    gain = jax.random.uniform(key, landmarks.shape[:1], minval=low, maxval=high)
    return move_landmarks(landmarks, targets - attributes, coefficients, gain, xp=jnp)


def _inputs(batch: FaceBatch, aids: StepAids, step: jax.Array, cfg: ReconTrainConfig):
    """(images float, masks float, x, x_edit, targets, moved landmarks) of a G step: the edit drawn from the step count."""
    images, masks, x = _factors(batch, aids, cfg)
    attributes = batch.attributes.astype(jnp.float32)
    if cfg.edit_flips == 0:
        return images, masks, x, x, attributes, batch.landmarks
    edit_key, gain_key = jax.random.split(jax.random.fold_in(jax.random.key(cfg.seed), step))
    targets = edit_targets(attributes, edit_key, cfg.edit_flips, cfg.seed_edit_share)
    moved = edited_landmarks(batch.landmarks, attributes, targets, aids.coefficients, gain_key, cfg)
    _, _, x_edit = _factors(batch, aids, cfg, targets, moved)
    return images, masks, x, x_edit, targets, moved


def _critics(d_def, aids: StepAids, cfg: ReconTrainConfig, identity_def) -> tuple:
    """(the frozen critic or None, the frozen identity recogniser or None), checked against the configuration."""
    if cfg.critic == "frozen" and aids.critic_state is None:
        raise ValueError("critic 'frozen': pass the warmed-up discriminator's state as critic_state")
    critic = None if aids.critic_state is None else nnx.merge(d_def, aids.critic_state)[0]
    if not cfg.identity_weight:
        return critic, None
    if aids.identity_state is None or identity_def is None:
        raise ValueError("identity_weight > 0: pass the identity recogniser's graph and state")
    recogniser = nnx.merge(identity_def, aids.identity_state)
    recogniser.eval()  # frozen: running batch statistics, no updates
    return critic, recogniser


def make_recon_steps(g_def, d_def, cfg: ReconTrainConfig, identity_def: nnx.GraphDef | None = None):
    """Jitted `g_step(g_state, d_state, batch, aids) -> (g_state, redraws, metrics)` and
    `d_step(d_state, batch, redraws) -> (d_state, metrics)`.

    With `cfg.edit_flips` > 0, each G step also redraws every face with `edit_flips` allowed attributes
    flipped (targets drawn from the step count, so a resumed run replays them), from landmarks moved by the
    landmark mapping under geometry 'follow' (`edited_landmarks`). The generator's loss is the weighted sum
    of the named terms of `faceobf.train.recon_losses` (L1 and SSIM on the unedited redraw; the adversarial
    loss on both; the attribute loss of D's head, or under critic 'frozen' of the head as its warm-up left
    it, on the edited one; the identity hinge); the D step sees real faces (and trains its head on their
    labels, weight `d_attr_weight`) against both redraws. Under condition 'difference' the planes carry
    target - own attributes (`_factors`). The small-data kit (`faceobf.train.gan_kit`): under `diffaugment` the
    live discriminator sees every pair augmented, in both steps; `r1_gamma` > 0 adds lazy R1 on real faces.
    """
    check_loss_weights(cfg)
    editing = cfg.edit_flips > 0

    def seen(x, image, key):
        """What the discriminator is shown of (factors, image): under `cfg.diffaugment` the image and the spatial factors
        augmented together (the attribute planes as they are), else both as they are."""
        if not cfg.diffaugment:
            return x, image
        spatial, image = diff_augment(key, x.spatial, image)
        return x.replace(spatial=spatial), image

    def g_step(g_state, d_state, batch: FaceBatch, aids: StepAids):
        g, g_opt = nnx.merge(g_def, g_state)
        d, _ = nnx.merge(d_def, d_state)
        critic, recogniser = _critics(d_def, aids, cfg, identity_def)
        images, masks, x, x_edit, targets, moved = _inputs(batch, aids, g_opt.step[...], cfg)
        plain_key, edit_key = jax.random.split(jax.random.fold_in(jax.random.key(cfg.seed + 2), g_opt.step[...]))

        def loss_fn(g):
            fake = composite_face(g(x), images, masks, cfg.feather_radius, cfg.colour_match)
            fake_edit = composite_face(g(x_edit), images, masks, cfg.feather_radius, cfg.colour_match) if editing else fake
            patches_edit, read = _judge(d, *seen(x_edit, fake_edit, edit_key)) if editing else (None, None)
            if editing and critic is not None:  # the frozen head reads the attributes; the live D judges realism
                read = _judge(critic, x_edit, fake_edit)[1]
            view = GeneratorView(cfg, images, masks, fake, fake_edit, targets, _judge(d, *seen(x, fake, plain_key))[0],
                                 patches_edit, read, recogniser)
            loss, terms = generator_loss(view)
            return loss, (fake, fake_edit, terms)

        (loss, (fake, fake_edit, terms)), grads = nnx.value_and_grad(loss_fn, has_aux=True)(g)
        g_opt.update(g, grads)
        return nnx.state((g, g_opt)), Redraws(x, x_edit, fake, fake_edit, targets, moved), {"g_loss": loss, **terms}

    def d_step(d_state, batch: FaceBatch, redraws: Redraws):
        d, d_opt = nnx.merge(d_def, d_state)
        labels, images = batch.attributes.astype(jnp.float32), as_float_images(batch.images)
        drawn = jax.lax.stop_gradient(redraws)
        step = d_opt.step[...]
        real_key, fake_key, edit_key = jax.random.split(jax.random.fold_in(jax.random.key(cfg.seed + 3), step), 3)
        x_real, real = seen(drawn.x, images, real_key)

        def loss_fn(d):
            real_patches, real_attrs = _judge(d, x_real, real)
            fake_loss = bce(_judge(d, *seen(drawn.x, drawn.fake, fake_key))[0], 0.0)
            if editing:
                fake_loss = 0.5 * (fake_loss + bce(_judge(d, *seen(drawn.x_edit, drawn.fake_edit, edit_key))[0], 0.0))
            d_attr = attribute_bce(real_attrs, labels) if real_attrs is not None else jnp.float32(0.0)
            r1 = lazy_r1(step, cfg.r1_gamma, lambda im: _judge(d, x_real, im)[0], real) if cfg.r1_gamma else 0.0
            return 0.5 * (bce(real_patches, 1.0) + fake_loss) + cfg.d_attr_weight * d_attr + r1, (d_attr, r1)

        (loss, (d_attr, r1)), grads = nnx.value_and_grad(loss_fn, has_aux=True)(d)
        d_opt.update(d, grads)
        metrics = {"d_loss": loss}
        if d.config.attribute_head:
            metrics["d_attr"] = d_attr
        if cfg.r1_gamma:
            metrics["d_r1"] = r1
        return nnx.state((d, d_opt)), metrics

    return jax.jit(g_step, donate_argnums=0), jax.jit(d_step, donate_argnums=0)


def make_head_warmup_step(d_def, cfg: ReconTrainConfig, aids: StepAids) -> Callable:
    """Jitted `(d_state, *batch) -> (d_state, metrics)`: the discriminator learns the attributes of real faces, nothing else."""

    def step(d_state, *arrays):
        d, d_opt = nnx.merge(d_def, d_state)
        batch = FaceBatch(*arrays)
        images, _, x = _factors(batch, aids, cfg)

        def loss_fn(d):
            return attribute_bce(_judge(d, x, images)[1], batch.attributes.astype(jnp.float32))

        loss, grads = nnx.value_and_grad(loss_fn)(d)
        d_opt.update(d, grads)
        return nnx.state((d, d_opt)), {"d_attr": loss}

    return jax.jit(step, donate_argnums=0)


def head_accuracy(d_def, d_state, faces, aids: StepAids, cfg: ReconTrainConfig) -> np.ndarray:
    """(40,) share of `faces` whose CelebA labels the discriminator's head reads right (its own strength as a critic)."""
    d, _ = nnx.merge(d_def, d_state)

    def logits(d, *arrays):
        images, _, x = _factors(FaceBatch(*arrays), aids, cfg)
        return _judge(d, x, images)[1]

    predicted = BatchedModel(d, logits, cfg.batch_size)(*faces.batch()) > 0
    return (predicted == (faces.attributes > 0)).mean(axis=0)


def epoch_batches(train, cfg: ReconTrainConfig, seed: int, parallel: DataParallel | None) -> Callable:
    """`epoch -> batches` of the train faces (`cfg.epoch_size` of them drawn afresh each epoch, if set)."""
    return lambda epoch: iterate_batches(train.batch(), cfg.batch_size, seed=seed, epoch=epoch,
                                         sharding=batch_sharding(parallel), limit=cfg.epoch_size)


def steps_per_epoch(train, cfg: ReconTrainConfig) -> int:
    """The number of batches `epoch_batches` yields in an epoch."""
    return min(len(train), cfg.epoch_size or len(train)) // cfg.batch_size


def warm_up_head(d_def, d_state, train, val, aids: StepAids, cfg: ReconTrainConfig, run_dir: Path,
                 progress: bool, log: Callable[[str], None]) -> tuple[nnx.State, dict]:
    """`cfg.head_warmup_epochs` of `make_head_warmup_step` on the train faces (resumable under run_dir/head_warmup)."""
    if not nnx.merge(d_def, d_state)[0].config.attribute_head:
        raise ValueError("head_warmup_epochs > 0 needs a discriminator with an attribute head (PatchGANConfig.attribute_head)")
    parallel = DataParallel.over(cfg.batch_size)
    d_state, history, _ = fit(
        d_state, make_head_warmup_step(d_def, cfg, aids), epoch_batches(train, cfg, cfg.seed + 1, parallel),
        cfg.head_warmup_epochs, run_dir=run_dir / "head_warmup",
        validate=lambda state: {"val_head_accuracy": float(head_accuracy(d_def, state, val, aids, cfg).mean())},
        steps_per_epoch=steps_per_epoch(train, cfg), desc="D head warm-up", progress=progress, log=log, parallel=parallel,
    )
    return d_state, history


def make_train_step(g_def, d_def, cfg: ReconTrainConfig, table: jax.Array, coefficients: jax.Array | None = None,
                    critic_state: nnx.State | None = None, identity: tuple[nnx.GraphDef, nnx.State] | None = None,
                    prior: AppearancePrior | None = None) -> Callable:
    """`(state, *batch) -> (state, metrics)`: one G step, then one D step on its redraws (and, under
    `ema_half_life`, the average's step); the state is `training_state`'s (G, D[, G's average]).

    `coefficients` (40, 68, 2): the landmark mapping's, needed under geometry 'follow'; `critic_state`: the frozen
    critic's, needed under critic 'frozen' (a copy: the steps donate the live discriminator's buffers); `identity`:
    the identity recogniser's (graph, state), needed when `identity_weight` > 0; `prior`: needed with appearance_prior."""
    identity_def, identity_state = identity if identity is not None else (None, None)
    if cfg.appearance_prior and prior is None:
        raise ValueError("appearance_prior: pass the run's appearance prior (`fit_appearance_prior`)")
    g_step, d_step = make_recon_steps(g_def, d_def, cfg, identity_def)
    aids = StepAids(table, None if coefficients is None else jnp.asarray(coefficients, jnp.float32), critic_state,
                    identity_state, prior_arrays(prior))

    average_step = make_average_step(g_def, cfg) if cfg.ema_half_life else None

    def step(state, *arrays):
        if len(state) != 2 + bool(average_step):
            raise ValueError("the training state is (G, D) and, under ema_half_life, G's average: `training_state`")
        g_state, d_state = state[:2]
        batch = FaceBatch(*arrays)
        g_state, redraws, gm = g_step(g_state, d_state, batch, aids)
        d_state, dm = d_step(d_state, batch, redraws)
        averaged = (average_step(state[2], g_state),) if average_step else ()
        return (g_state, d_state, *averaged), {**{k: v for k, v in gm.items() if k != "g_loss"}, **dm}

    return step


def make_average_step(g_def, cfg: ReconTrainConfig) -> Callable:
    """Jitted `(average, g_state) -> average`: the generator's moving average after a G step (`cfg.ema_half_life`)."""

    def step(average, g_state):
        g, g_opt = nnx.merge(g_def, g_state)
        decay = ema_decay(g_opt.step[...] * cfg.batch_size, cfg.batch_size, cfg.ema_half_life)
        return update_average(average, generator_weights(g), decay)

    return jax.jit(step, donate_argnums=0)


def training_state(g_def, g_state, d_state, cfg: ReconTrainConfig) -> tuple:
    """What a U-Net run trains and checkpoints: (G, D) and, under `cfg.ema_half_life`, G's moving average (a copy)."""
    if not cfg.ema_half_life:
        return g_state, d_state
    return g_state, d_state, jax.tree.map(jnp.copy, generator_weights(nnx.merge(g_def, g_state)[0]))


def inference_state(g_def, state: tuple) -> nnx.State:
    """The (U-Net, optimizer) state a training state stands for, its weights `inference_unet`'s."""
    return nnx.state((inference_unet(g_def, state), nnx.merge(g_def, state[0])[1]))


def inference_unet(g_def, state: tuple) -> UNet:
    """The U-Net a training state stands for: G's weights, or their moving average where the run keeps one."""
    if len(state) <= 2:
        return nnx.merge(g_def, state[0])[0]
    # a copy: nnx.merge shares the state's variables, and updating them would write the average into the live G
    # (whose buffers the next step donates: the run then fails on its next step)
    unet, _ = nnx.merge(g_def, state[0], copy=True)
    nnx.update(unet, state[2])
    return unet


def fit_mapping(train, cfg: ReconTrainConfig, run_dir: Path) -> LandmarkMapping | None:
    """The run's landmark mapping (geometry 'follow'): fitted once on its train faces and kept in the run folder; None
    under geometry 'fixed'."""
    if cfg.geometry == "fixed":
        return None
    path = Path(run_dir) / MAPPING_FILE
    if path.exists():
        return LandmarkMapping.load(path)
    mapping = LandmarkMapping.fit(train.landmarks, train.attributes, cfg.mapping_ridge)
    mapping.save(path)
    return mapping


def fit_appearance_prior(train, cfg: ReconTrainConfig, run_dir: Path) -> AppearancePrior | None:
    """The run's appearance prior (appearance_prior): fitted once on its train faces and kept in the run folder."""
    if not cfg.appearance_prior:
        return None
    path = Path(run_dir) / PRIOR_FILE
    if path.exists():
        return AppearancePrior.load(path)
    prior = fit_prior(train.images, train.landmarks, train.attributes.astype(np.float32), cfg.prior_ridge)
    prior.save(path)
    return prior


def prior_arrays(prior: AppearancePrior | None) -> AppearancePrior | None:
    """The prior with device arrays, as a jitted step takes it."""
    return None if prior is None else jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), prior)


def store_flip_strength(run_dir: Path, strength: FlipStrength, how: dict) -> None:
    """Keep the flip strength chosen for a run (and how it was chosen) in its folder, where the tool finds it."""
    write_json(Path(run_dir) / STRENGTH_FILE, {"gain": strength.gain, "intensity": strength.intensity, **how})


def identity_recogniser(cfg: ReconTrainConfig, dataset: CelebA, run_dir: Path, progress: bool = True,
                        log: Callable[[str], None] = print) -> tuple[nnx.GraphDef, nnx.State] | None:
    """(graph, state) of the run's identity recogniser network when `identity_weight` > 0: trained once on the train identities
    in run_dir/identity_critic (resumable), then frozen; None otherwise."""
    if not cfg.identity_weight:
        return None
    from faceobf.train.recogniser import fit_recogniser, restore_recogniser

    folder = Path(run_dir) / "identity_critic"
    finished = (folder / runs.FINISHED).exists()
    run = restore_recogniser(folder, cfg.identity_critic) if finished else fit_recogniser(
        cfg.identity_critic, dataset, folder, progress, desc="identity recogniser", log=log)
    log(f"identity recogniser: open-set Recall@1 {run.test['recall_at_1']:.1%} on test people it never saw")
    model, _ = nnx.merge(run.graphdef, run.state)  # the network without its optimizer
    return nnx.split(model)


def make_generator(g_def, g_state, table: np.ndarray, cfg: ReconTrainConfig, geometry: LandmarkMapping | None = None,
                   strength: FlipStrength = FlipStrength(), prior: AppearancePrior | None = None) -> FaceGenerator:
    """The generator part of a (U-Net, optimizer) state as stage 2's `FaceGenerator` (with the run's landmark mapping
    and appearance prior)."""
    g, _ = nnx.merge(g_def, g_state)
    return face_generator(g, table, cfg, geometry, strength, prior)


@dataclass
class ReconRun:
    """A trained reconstruction network, its attribute table and what its run recorded."""

    run_dir: Path
    encoding: str
    g_def: nnx.GraphDef
    g_state: nnx.State
    table: np.ndarray
    history: dict
    test: dict
    config: ReconTrainConfig
    geometry: LandmarkMapping | None = None  # the landmark mapping edits follow (geometry 'follow')
    strength: FlipStrength = FlipStrength()  # the test-time flip strength chosen on validation faces
    prior: AppearancePrior | None = None  # the appearance prior (appearance_prior)

    def unet(self) -> UNet:
        """The trained U-Net itself (evaluation mode)."""
        unet, _ = nnx.merge(self.g_def, self.g_state)
        unet.eval()
        return unet

    def generator(self) -> FaceGenerator:
        """The trained U-Net as stage 2's batched, jitted generator (edits move the landmarks under geometry 'follow')."""
        return make_generator(self.g_def, self.g_state, self.table, self.config, self.geometry, self.strength, self.prior)


def train_recon(
    profile: Profile,
    dataset: CelebA,
    encoding: str = "onehot",
    run_dir: Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> ReconRun:
    """Train (or resume) the U-Net under `profile`, then evaluate it and the baseline on the test split."""
    cfg = profile.recon
    run_dir = runs.claim(runs.RunSpec.recon(profile, encoding), dataset.key, run_dir)

    splits = {s: sample_rows(dataset.split(s), cfg.train_limit if s == "train" else cfg.eval_limit, cfg.seed) for s in ("train", "val", "test")}
    data = {s: face_factors(dataset, rows, cfg.resolution, progress=progress) for s, rows in splits.items()}
    for s, f in data.items():
        log(f"{s}: {len(f)} faces, {len(f.excluded)} excluded (no face found by HOG)")
    train, val = data["train"], data["val"]
    table = attribute_table(encoding, train.attributes, run_dir)
    mapping, prior = fit_mapping(train, cfg, run_dir), fit_appearance_prior(train, cfg, run_dir)
    aids = StepAids(jnp.asarray(table), prior=prior_arrays(prior))

    g_def, g_state, d_def, d_state = create_recon_state(profile.unet, profile.patchgan, cfg)
    warmup = {}
    if cfg.head_warmup_epochs:
        d_state, warmup = warm_up_head(d_def, d_state, train, val, aids, cfg, run_dir, progress, log)
    preview = val.take(np.arange(min(8, len(val))))
    generator = make_generator(g_def, g_state, table, cfg, prior=prior)  # compiled once, given each epoch's weights

    def current(state) -> FaceGenerator:
        return generator.with_weights(inference_unet(g_def, state))

    def validate(state) -> dict[str, float]:
        m = evaluate_images(current(state).render(val), val)
        return {"val_l1_mask": m["l1_mask"], "val_ssim_mask": m["ssim_mask"]}

    def write_preview(epoch: int, state) -> None:
        save_preview(run_dir / "previews" / f"epoch_{epoch:03d}.png", preview, current(state).render(preview))
        if cfg.snapshot_every and epoch % cfg.snapshot_every == 0:
            shipped.save_network(run_dir / SNAPSHOTS / f"epoch_{epoch:03d}", inference_unet(g_def, state))

    parallel = DataParallel.over(cfg.batch_size)  # every local device that divides the batch; None on one
    critic_state = jax.tree.map(jnp.copy, d_state) if cfg.critic == "frozen" else None  # the head as the warm-up left it
    if critic_state is not None and parallel is not None:
        critic_state = parallel.replicate(critic_state)
    identity = identity_recogniser(cfg, dataset, run_dir, progress, log)
    if identity is not None and parallel is not None:
        identity = (identity[0], parallel.replicate(identity[1]))
    state, history, best_epoch = fit(
        training_state(g_def, g_state, d_state, cfg), make_train_step(g_def, d_def, cfg, jnp.asarray(table), None if mapping is None else mapping.coefficients,
                                            critic_state, identity, prior),
        epoch_batches(train, cfg, cfg.seed, parallel), cfg.epochs, run_dir=run_dir, validate=validate,
        best=("val_l1_mask", "min"), on_epoch_end=write_preview, steps_per_epoch=steps_per_epoch(train, cfg), desc="U-Net",
        progress=progress, log=log, parallel=parallel,
    )
    g_state, d_state = inference_state(g_def, state), state[1]
    unet = nnx.merge(g_def, g_state)[0]
    test = evaluate_recon(generator.with_weights(unet), data["test"], train)
    test["best_epoch"] = best_epoch
    if profile.patchgan.attribute_head:  # how well the critic that taught the edits reads real test faces
        test["head_warmup"] = warmup
        test["head_test_accuracy"] = head_accuracy(d_def, d_state, data["test"], aids, cfg).round(4).tolist()
    shipped.save_network(run_dir, unet)  # what inference reads, before the run is finished
    write_json(run_dir / runs.FINISHED, test)
    return ReconRun(run_dir, encoding, g_def, g_state, table, history, test, cfg, *stored_flip_settings(run_dir), prior)


def evaluate_recon(generator: FaceGenerator, test, train) -> dict:
    """Test metrics of the U-Net and of the mean-face-colour baseline on the same faces."""
    return {
        "unet": evaluate_images(generator.render(test), test),
        "mean_colour_baseline": evaluate_images(mean_colour_baseline(test, train), test),
        "n_test_faces": int(len(test)),
        "n_excluded": int(len(test.excluded)),
    }


def load_or_train_recon(profile: Profile, dataset: CelebA, encoding: str = "onehot", progress: bool = True,
                        log: Callable[[str], None] = print) -> ReconRun:
    """The finished run of (`profile`, `encoding`) on this data set if on disk, else train it (resuming a partial run)."""
    try:
        run_dir = shipped.find_or_install(runs.RunSpec.recon(profile, encoding), dataset.key)
    except runs.MissingCheckpointError:
        return train_recon(profile, dataset, encoding, progress=progress, log=log)
    run = load_run(run_dir, profile, encoding)
    log(runs.loaded_line(run_dir, len(run.history["epoch"]), "run"))
    return run


def load_run(run_dir: Path, profile: Profile, encoding: str) -> ReconRun:
    """A finished run, checked against `profile`: the best generator, its attribute table, the full history, the test metrics."""
    runs.check(run_dir, runs.RunSpec.recon(profile, encoding))
    cfg = profile.recon
    g_def, g_state, d_def, d_state = create_recon_state(profile.unet, profile.patchgan, cfg)
    if cfg.ema_half_life and not shipped.is_installed(run_dir):  # checkpoints hold (G, D, G's average)
        state, history, test = restore_finished(run_dir, training_state(g_def, g_state, d_state, cfg))
        g_state = inference_state(g_def, state)
    else:
        g_state, history, test = restore_run(run_dir, g_def, g_state, beside=d_state)
    table = attribute_table(encoding, np.zeros((0, 40)), run_dir)
    return ReconRun(run_dir, encoding, g_def, g_state, table, history, test, cfg, *stored_flip_settings(run_dir),
                    stored_prior(run_dir, cfg))

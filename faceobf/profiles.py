"""Run profiles in one place: `ci` (minutes on CPU), `cpu` (the committed book outputs), `gpu` (full CelebA).

Select with $FACEOBF_PROFILE or let `active_profile()` pick `gpu` when JAX sees a GPU, else `cpu`.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field, replace

from faceobf.errors import UsageError
from faceobf.models.configs import (
    IdentityCNNConfig, PatchGANConfig, RecogniserConfig, ResNetConfig, UNetConfig, UpscalerConfig,
)

PROFILE_ENV = "FACEOBF_PROFILE"


# The identity hinge's recogniser: a small ResNet (three stages, so the last map is 4x4 at 64 px) with an ArcFace head,
# on the U-Net's 64 px crops; ~2 min per epoch on 2 CPU cores.
IDENTITY_CRITIC = RecogniserConfig(trunk=ResNetConfig(stage_sizes=(1, 1, 1), base_width=32, num_outputs=1), resolution=64,
                                   epochs=8, batch_size=64)

GEOMETRIES = ("fixed", "follow")  # edited redraws keep the landmarks (the seed's design) or move them with the flips
CONDITIONS = ("target", "difference")
CRITICS = ("head", "frozen")


@dataclass(frozen=True)
class FACTrainConfig:
    """How the face attribute classifier is trained (Adam, summed BCE) under one profile."""

    resolution: int = 96
    batch_size: int = 32
    epochs: int = 6
    learning_rate: float = 1e-3  # Adam's default, as in the seed
    train_limit: int | None = None  # first N images of the shuffled train split; None = all
    eval_limit: int | None = None  # first N images of val/test; None = all
    hflip: bool = True  # horizontal flips: no CelebA attribute is left/right specific
    seed: int = 0


@dataclass(frozen=True)
class ReconTrainConfig:
    """How the stage-2 U-Net is trained (L1 + adversarial, optional SSIM) under one profile."""

    resolution: int = 64
    batch_size: int = 16
    epochs: int = 4
    lr_g: float = 2e-4  # pix2pix's Adam settings
    lr_d: float = 2e-4
    beta1: float = 0.5
    l1_weight: float = 100.0
    adv_weight: float = 1.0
    ssim_weight: float = 0.0  # > 0 adds (1 - SSIM inside the mask), the seed's final-report loss
    feather_radius: float = 1.5  # pixels over which the generated face fades into the context
    train_limit: int | None = None
    eval_limit: int | None = None
    # faces drawn afresh from the train faces for each epoch (None: all of them), so that a large set (CelebA-mini +
    # CelebA-plus: 29,558 faces, ~3 h an epoch on 2 cores) is checkpointed and validated often
    epoch_size: int | None = None
    snapshot_every: int = 0  # keep the generator's weights every N epochs (run_dir/snapshots), for curves; 0: never
    landmark_subset: str = "all"  # which landmarks the U-Net sees (faceobf.disentangle.landmarks.LANDMARK_SUBSETS)
    # AttGAN's attribute loss (He et al., 2019); edit_flips = 0 is the pix2pix recipe (L1 + adversarial only)
    edit_flips: int = 0  # allowed attributes flipped per face for the edited redraw of each G step
    attr_weight: float = 0.0  # weight of the discriminator head's BCE on edited faces against their targets (AttGAN: 10)
    d_attr_weight: float = 1.0  # weight of the head's BCE on real faces and their labels in the D loss (AttGAN: 1)
    head_warmup_epochs: int = 0  # epochs in which only the discriminator learns the attributes of real faces, before G starts
    # Geometry that follows the attributes: "follow" draws each edited redraw from its landmarks moved by the landmark
    # mapping fitted on the train faces (faceobf.disentangle.geometry), by a gain drawn per face from `geometry_gain`;
    # "fixed" is the seed's design (an edited face keeps the original's landmarks).
    geometry: str = "fixed"
    geometry_gain: tuple[float, float] = (1.0, 1.0)  # (low, high) of the uniform gain on the mapping's displacement
    mapping_ridge: float = 10.0  # ridge of the landmark mapping
    seed_edit_share: float = 0.0  # share of edited redraws that flip the seed's four (the others: `edit_flips` at random)
    condition: str = "target"  # the planes carry the target attributes, or their "difference" from the face's own (STGAN)
    critic: str = "head"  # G's attribute loss from D's head as it trains, or from a "frozen" copy of the warmed-up head
    # Identity as a measured option: identity_weight * max(0, cos(e(edited), e(original)) - identity_margin) with e a small
    # recogniser trained in the run on the train identities (never an assessor: dlib and the evaluation's ArcFace judge)
    identity_weight: float = 0.0
    identity_margin: float = 0.3
    identity_critic: RecogniserConfig = field(default_factory=lambda: IDENTITY_CRITIC)
    # weights of loss terms registered beyond the built-in ones (faceobf.train.losses.register_loss), by name
    loss_weights: tuple[tuple[str, float], ...] = ()
    # An appearance prior as three more input channels (faceobf.reconstruct.prior): a ridge map from the attributes to
    # a mean-shape face, fitted on the run's train faces, drawn at the targets, warped to the (moved) landmarks and
    # coloured like the face's own pixels
    appearance_prior: bool = False
    prior_ridge: float = 10.0
    # The generated face's colour statistics inside the ellipse set to the face's own before compositing, in training
    # and at inference (faceobf.reconstruct.imageops.match_colour): skin tone and light carried over, not learned
    colour_match: bool = False
    # A small-data GAN kit (faceobf.train.gan_kit): DiffAugment's translation and cutout on every pair the discriminator
    # sees; lazy R1 on real faces (its gamma; 0: off); the generator's moving average (its half-life in images; 0: none)
    diffaugment: bool = False
    r1_gamma: float = 0.0
    ema_half_life: int = 0
    generator: str = "unet"  # the generator and discriminator, by name (faceobf.models.registry)
    discriminator: str = "patchgan"
    seed: int = 0

    def __post_init__(self) -> None:
        for name, value, allowed in (("geometry", self.geometry, GEOMETRIES), ("condition", self.condition, CONDITIONS),
                                     ("critic", self.critic, CRITICS)):
            if value not in allowed:
                raise UsageError(f"unknown {name} {value!r}; choose one of {', '.join(allowed)}")


@dataclass(frozen=True)
class UpscalerTrainConfig:
    """How stage 3's upscaler is trained: real train faces at `resolution` are the targets, their versions at
    1/factor, degraded afresh each epoch (blur, noise, JPEG), the inputs; L1 for `epochs`, then (`adv_weight` > 0)
    a fine-tune against a PatchGAN, ESRGAN's two phases (`faceobf.train.upscaler`)."""

    resolution: int = 128  # the upscaler's output; its input is the U-Net's resolution
    batch_size: int = 16
    epochs: int = 10  # of L1, ~3 min each over CelebA-mini's train faces on 2 CPU cores (adversarial: see train.upscaler)
    learning_rate: float = 2e-4
    # the fine-tune's PatchGAN weight, L1's being 1 (pix2pix's ratio, 100 : 1); 0: the L1 upscaler alone. On 60 real
    # photos (bench_photo_size.py) it keeps a median 0.62 of the face's fine detail against 0.57 for the L1 upscaler
    adv_weight: float = 0.01
    blur_sigma: tuple[float, float] = (0.0, 1.5)  # Gaussian blur before downsampling, in output pixels (uniform range)
    noise_sigma: tuple[float, float] = (0.0, 3.0)  # Gaussian noise after downsampling, in grey levels
    jpeg_quality: tuple[int, int] = (40, 95)  # JPEG quality of the degraded input (uniform range)
    train_limit: int | None = None
    eval_limit: int | None = None
    seed: int = 0


@dataclass(frozen=True)
class EvalConfig:
    """Which test faces the evaluation (chapter 4) processes, and how many get the slow checks."""

    identities: int | None = None  # test identities used (those with most detected faces first); None = all
    images_per_identity: int | None = None  # detected faces per identity; None = all
    identity_aware_limit: int = 66  # faces the identity-aware policy redraws (~100 redraws each)
    cnn_limit: int = 100  # faces per method also checked with dlib's CNN detector (~0.3 s each on CPU)
    seed_protocol_identities: int = 20  # the seed's identity-classifier protocol (its table 3)
    trials: int = 40  # trial sheets per method for the machine assessor
    seed: int = 0
    identity_cnn: IdentityCNNConfig = field(default_factory=IdentityCNNConfig)  # the seed protocol's classifier
    recogniser: RecogniserConfig = field(default_factory=RecogniserConfig)  # the second recogniser (ArcFace)
    kid_resolution: int = 128  # KID's features: the FAC on crops resized to this size (128 px: the upscaler's detail counts)


@dataclass(frozen=True)
class AblationBudget:
    """The shorter stage-2 budget that both arms of an ablation train under (the main model gets the full one)."""

    epochs: int = 1
    head_warmup_epochs: int = 2
    train_limit: int | None = None  # train faces each arm sees; None = the main model's


@dataclass(frozen=True)
class Profile:
    """A named budget: every model's architecture, how many images each stage sees and how long it trains."""

    name: str
    fac: FACTrainConfig
    landmark_limit: int | None  # images per split whose landmarks the chapter computes; None = all
    description: str
    recon: ReconTrainConfig = field(default_factory=ReconTrainConfig)
    unet: UNetConfig = field(default_factory=UNetConfig)
    evaluation: EvalConfig = field(default_factory=EvalConfig)
    fac_model: ResNetConfig = field(default_factory=ResNetConfig)  # ResNet-50 (chapter 1)
    patchgan: PatchGANConfig = field(default_factory=PatchGANConfig)  # its input channels follow the U-Net's
    ablation: AblationBudget = field(default_factory=AblationBudget)
    upscaler: UpscalerConfig = field(default_factory=UpscalerConfig)  # stage 3: the U-Net's faces at `factor` times the size
    upscaler_train: UpscalerTrainConfig = field(default_factory=UpscalerTrainConfig)
    tags: tuple[str, ...] = ()  # set by with_ablation_budget / without_injection: part of the U-Net run's name
    batch_per_device: bool = False  # batches are per device: scaled by the local device count (data parallel)


# Stage 2 as attribute-editing GANs train it (AttGAN, He et al. 2019): four allowed flips per face per step
# (the seed's policy flips four), the discriminator head's BCE on the edited faces at AttGAN's weight 10. AttGAN
# trains ~10^6 steps; a CPU budget is ~2,500, so the head first learns the attributes of real faces alone (cheap:
# no generator) and gives the generator a meaningful attribute gradient from its first step.
ATTRIBUTE_RECIPE = dict(edit_flips=4, attr_weight=10.0, d_attr_weight=1.0, head_warmup_epochs=8)
# Flips that move the face: each edited redraw is drawn from its landmarks moved by the landmark mapping (gains 1-3),
# and half of the edits flip the seed's four (the flips stage 3 makes by default).
FOLLOW_GAIN = (1.0, 3.0)  # gains the edited landmarks train under: the mapping's own estimate up to 3x (amplified flips)
FOLLOW_RECIPE = dict(geometry="follow", geometry_gain=FOLLOW_GAIN, seed_edit_share=0.5)

PROFILES: dict[str, Profile] = {
    "ci": Profile(
        name="ci",
        fac=FACTrainConfig(resolution=96, batch_size=16, epochs=2, train_limit=192, eval_limit=64),
        landmark_limit=48,
        description="a few minutes on 2 CPU cores; checks that every cell runs, numbers mean nothing",
        recon=ReconTrainConfig(resolution=64, batch_size=8, epochs=1, train_limit=64, eval_limit=16, **ATTRIBUTE_RECIPE,
                               **FOLLOW_RECIPE, identity_critic=replace(IDENTITY_CRITIC, epochs=1, train_limit=128)),
        unet=UNetConfig(base_width=16, depth=3, inject_levels=2),
        patchgan=PatchGANConfig(base_width=16, attribute_head=True, condition="none"),  # as wide as the U-Net it judges
        evaluation=EvalConfig(identities=10, images_per_identity=4, identity_aware_limit=2, cnn_limit=4,
                              seed_protocol_identities=10, trials=6,
                              recogniser=RecogniserConfig(trunk=ResNetConfig(stage_sizes=(1, 1, 1, 1), base_width=8, num_outputs=1),
                                                          epochs=1, batch_size=16, train_limit=192)),
        upscaler=UpscalerConfig(width=8, blocks=1),
        upscaler_train=UpscalerTrainConfig(epochs=1, batch_size=8, train_limit=64, eval_limit=16),
    ),
    "cpu": Profile(
        name="cpu",
        fac=FACTrainConfig(resolution=96, batch_size=32, epochs=8),
        landmark_limit=None,
        description="CelebA-mini on 2 CPU cores, about 4 hours of training (FAC 1 h, U-Net 3 h); the committed outputs",
        # all train faces with landmarks; an 8-epoch head warm-up (~1 min each) and 7 epochs at ~3 img/s (edited redraws from
        # moved landmarks, half of them the seed's four) are about 3 h on 2 cores
        recon=ReconTrainConfig(resolution=64, batch_size=16, epochs=7, train_limit=None, **ATTRIBUTE_RECIPE, **FOLLOW_RECIPE),
        unet=UNetConfig(base_width=32, depth=4, inject_levels=2),
        patchgan=PatchGANConfig(base_width=64, attribute_head=True, condition="none"),
        evaluation=EvalConfig(identity_aware_limit=150, recogniser=RecogniserConfig(epochs=6)),  # ~25 min at ~18 img/s
        # each ablation arm: 2 warm-up epochs and one epoch over 2,400 faces (the seed-recipe U-Net's first budget), ~16 min on 2 cores
        ablation=AblationBudget(epochs=1, head_warmup_epochs=2, train_limit=2400),
    ),
    "gpu": Profile(
        name="gpu",
        fac=FACTrainConfig(resolution=128, batch_size=128, epochs=10),
        landmark_limit=None,
        description="full CelebA on one GPU (Colab); batches per device, so 8 TPU cores or GPUs train 8x the batch",
        batch_per_device=True,
        recon=ReconTrainConfig(resolution=128, batch_size=64, epochs=20, **ATTRIBUTE_RECIPE, **FOLLOW_RECIPE),
        unet=UNetConfig(base_width=64, depth=5, inject_levels=2),
        patchgan=PatchGANConfig(base_width=64, attribute_head=True, condition="none"),
        evaluation=EvalConfig(images_per_identity=10, identity_aware_limit=500, cnn_limit=1000, trials=200),
        upscaler_train=UpscalerTrainConfig(resolution=256, batch_size=32, epochs=20),
    ),
}


def with_landmarks(profile: Profile, subset: str) -> Profile:
    """The profile with its U-Net fed the named landmark subset (a separate run directory)."""
    from faceobf.disentangle.landmarks import landmark_subset

    landmark_subset(subset)  # unknown names fail here
    return replace(profile, recon=replace(profile.recon, landmark_subset=subset))


RECIPES = ("attgan", "pix2pix")


def recipe_of(profile: Profile) -> str:
    """'attgan' when the U-Net is trained with edited redraws and the attribute loss, else 'pix2pix' (L1 + GAN only)."""
    return "attgan" if profile.recon.edit_flips > 0 else "pix2pix"


def with_recipe(profile: Profile, recipe: str) -> Profile:
    """The profile with its stage-2 recipe replaced: 'pix2pix' is the seed's L1 + adversarial recipe
    (no edited redraws, no attribute head, no injected planes), kept for the ablation (a separate run directory)."""
    if recipe not in RECIPES:
        raise UsageError(f"unknown recipe {recipe!r}; choose one of {', '.join(RECIPES)}")
    if recipe == recipe_of(profile):
        return profile
    if recipe == "attgan":
        raise UsageError(f"profile {profile.name!r} defines no attribute recipe to switch back to")
    return replace(profile, recon=replace(profile.recon, edit_flips=0, attr_weight=0.0, head_warmup_epochs=0, geometry="fixed",
                                          geometry_gain=(1.0, 1.0), seed_edit_share=0.0, condition="target", critic="head"),
                   unet=replace(profile.unet, inject_levels=0),
                   patchgan=replace(profile.patchgan, attribute_head=False, condition="factors"))


def with_geometry(profile: Profile, geometry: str) -> Profile:
    """The profile with edited redraws drawn from fixed landmarks (the seed's design) or from landmarks that follow the
    flipped attributes (the landmark mapping, gains uniform in `FOLLOW_GAIN`); the variant says which."""
    if geometry not in GEOMETRIES:
        raise UsageError(f"unknown geometry {geometry!r}; choose one of {', '.join(GEOMETRIES)}")
    if geometry == profile.recon.geometry:
        return profile
    if recipe_of(profile) != "attgan":
        raise UsageError("only the attgan recipe draws edited redraws whose landmarks could follow the attributes")
    gain = FOLLOW_GAIN if geometry == "follow" else (1.0, 1.0)
    return replace(profile, recon=replace(profile.recon, geometry=geometry, geometry_gain=gain))


def with_seed_edits(profile: Profile, share: float) -> Profile:
    """The profile with a `share` of the edited redraws flipping the seed's four (the variant says 'seed<percent>')."""
    if not 0.0 <= share <= 1.0:
        raise UsageError(f"the share of seed edits is between 0 and 1, got {share}")
    if recipe_of(profile) != "attgan":
        raise UsageError("only the attgan recipe draws edited redraws")
    return replace(profile, recon=replace(profile.recon, seed_edit_share=float(share)))


def with_condition(profile: Profile, condition: str) -> Profile:
    """The profile with the attribute planes carrying the targets or their difference from the face's own (STGAN)."""
    if recipe_of(profile) != "attgan" and condition != "target":
        raise UsageError("difference conditioning needs edited redraws (the attgan recipe)")
    return replace(profile, recon=replace(profile.recon, condition=condition))


def with_critic(profile: Profile, critic: str) -> Profile:
    """The profile with the generator's attribute loss from the live head or a frozen copy of the warmed-up head."""
    if critic == "frozen" and not (recipe_of(profile) == "attgan" and profile.recon.head_warmup_epochs):
        raise UsageError("a frozen critic is the discriminator's head after its warm-up: it needs the attgan recipe with "
                         "head_warmup_epochs > 0")
    return replace(profile, recon=replace(profile.recon, critic=critic))


def with_identity_hinge(profile: Profile, weight: float, margin: float | None = None) -> Profile:
    """The profile with the identity hinge at `weight` (and `margin`) on edited redraws (tagged 'id<weight>')."""
    if recipe_of(profile) != "attgan":
        raise UsageError("the identity hinge acts on edited redraws: it needs the attgan recipe")
    margin = profile.recon.identity_margin if margin is None else float(margin)
    if weight == profile.recon.identity_weight and margin == profile.recon.identity_margin:
        return profile
    return replace(profile, recon=replace(profile.recon, identity_weight=float(weight), identity_margin=margin),
                   tags=profile.tags + (f"id{weight:g}",))


def with_setting(profile: Profile, name: str, value: float | str, tag: str) -> Profile:
    """The profile with `ReconTrainConfig.<name>` set to `value`, tagged '<tag><value>' (a separate run) if it changes."""
    if value == getattr(profile.recon, name):
        return profile
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return replace(profile, recon=replace(profile.recon, **{name: value}), tags=profile.tags + (f"{tag}{text}",))


def with_l1_weight(profile: Profile, weight: float) -> Profile:
    """The profile with the reconstruction L1 weighted `weight` instead (tagged 'l1<weight>')."""
    if weight != profile.recon.l1_weight and weight <= 0:
        raise UsageError(f"the L1 weight must be positive, got {weight}")
    return with_setting(profile, "l1_weight", float(weight), "l1")


def with_loss_weights(profile: Profile, weights: tuple[tuple[str, float], ...]) -> Profile:
    """The profile with registered loss terms weighted (name, weight) (each tagged '<name><weight>')."""
    current = dict(profile.recon.loss_weights)
    for name, weight in weights:
        if current.get(name) == weight:
            continue
        current[name] = float(weight)
        profile = replace(profile, tags=profile.tags + (f"{name}{weight:g}",))
    return replace(profile, recon=replace(profile.recon, loss_weights=tuple(sorted(current.items()))))


def with_upscaler_adversary(profile: Profile, weight: float) -> Profile:
    """The profile with its upscaler fine-tuned against a PatchGAN at `weight` (relative to L1's 1), starting from
    the profile's L1 upscaler as ESRGAN does (`faceobf.train.upscaler`): a separate run (`faceobf train upscaler
    --adv-weight W`), so the two can be measured side by side. Weight 0 is the L1 upscaler itself."""
    if weight < 0:
        raise UsageError(f"adversarial weight {weight}: must be >= 0")
    return replace(profile, upscaler_train=replace(profile.upscaler_train, adv_weight=float(weight)))


def with_switch(profile: Profile, name: str, on: bool = True) -> Profile:
    """The profile with the switch `ReconTrainConfig.<name>` on or off (a separate run, named by its option)."""
    return replace(profile, recon=replace(profile.recon, **{name: bool(on)}))


def with_at_least(profile: Profile, name: str, value: float | int, tag: str, minimum: float, refusal: str) -> Profile:
    """`with_setting` for a value that must be at least `minimum` (below it, a UsageError saying `refusal`)."""
    if value < minimum:
        raise UsageError(refusal)
    return with_setting(profile, name, value, tag)


def with_r1(profile: Profile, gamma: float) -> Profile:
    """The profile with lazy R1 of weight `gamma` on real faces (tagged 'r1<gamma>')."""
    return with_at_least(profile, "r1_gamma", float(gamma), "r1", 0, f"--r1 {gamma}: a weight >= 0 (0: off)")


def with_average(profile: Profile, half_life: int) -> Profile:
    """The profile keeping a moving average of the generator, half-life `half_life` images (tagged 'ema<half_life>')."""
    return with_at_least(profile, "ema_half_life", int(half_life), "ema", 0,
                         f"--ema {half_life}: a half-life in images >= 0 (0: none)")


def with_epochs(profile: Profile, epochs: int) -> Profile:
    """The profile with the U-Net trained for `epochs` (tagged 'e<epochs>')."""
    return with_at_least(profile, "epochs", int(epochs), "e", 1, f"--epochs {epochs}: train at least one epoch")


def with_snapshots(profile: Profile, every: int) -> Profile:
    """The profile keeping the generator's weights every `every` epochs (tagged 'snap<every>')."""
    return with_at_least(profile, "snapshot_every", int(every), "snap", 0,
                         f"--snapshot-every {every}: a number of epochs, 0 for none")


def with_epoch_size(profile: Profile, size: int) -> Profile:
    """The profile with each epoch drawing `size` train faces afresh (tagged 'ep<size>')."""
    batch = profile.recon.batch_size
    return with_at_least(profile, "epoch_size", int(size), "ep", batch,
                         f"--epoch-size {size}: at least one batch ({batch} faces) per epoch")


def with_ablation_budget(profile: Profile) -> Profile:
    """The profile with its U-Net trained under the ablation budget (a separate run, tagged 'short')."""
    if "short" in profile.tags:
        return profile
    recon = replace(profile.recon, epochs=profile.ablation.epochs,
                    head_warmup_epochs=profile.ablation.head_warmup_epochs if profile.recon.head_warmup_epochs else 0,
                    train_limit=profile.ablation.train_limit or profile.recon.train_limit)
    return replace(profile, recon=recon, tags=profile.tags + ("short",))


def with_attribute_weight(profile: Profile, weight: float) -> Profile:
    """The profile with the generator's attribute loss weighted `weight` instead (tagged 'attr<weight>')."""
    if weight != profile.recon.attr_weight and recipe_of(profile) != "attgan":
        raise UsageError("only the attgan recipe has an attribute loss to weight")
    return with_setting(profile, "attr_weight", float(weight), "attr")


def without_injection(profile: Profile) -> Profile:
    """The profile with the attribute planes reaching the U-Net's input only (no inject layers; tagged 'noinject')."""
    if profile.unet.inject_levels == 0:
        return profile
    return replace(profile, unet=replace(profile.unet, inject_levels=0), tags=profile.tags + ("noinject",))


def get_profile(name: str) -> Profile:
    """The profile called `name` (its batches scaled to the local devices where they are per device); a clear error
    listing the known names otherwise."""
    try:
        profile = PROFILES[name]
    except KeyError:
        raise UsageError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}") from None
    return scaled_to_devices(profile) if profile.batch_per_device else profile


def scaled_to_devices(profile: Profile, devices: int | None = None) -> Profile:
    """`profile` with every training batch multiplied by the number of local devices (`devices`, default JAX's
    count): each device keeps the batch the profile was tuned for, and the data-parallel steps split it."""
    if devices is None:
        import jax

        devices = jax.device_count()
    if devices == 1:
        return profile
    recogniser = replace(profile.evaluation.recogniser, batch_size=profile.evaluation.recogniser.batch_size * devices)
    return replace(profile, fac=replace(profile.fac, batch_size=profile.fac.batch_size * devices),
                   recon=replace(profile.recon, batch_size=profile.recon.batch_size * devices),
                   evaluation=replace(profile.evaluation, recogniser=recogniser))


def active_profile() -> Profile:
    """$FACEOBF_PROFILE if set, else `gpu` when JAX sees a GPU, else `cpu`."""
    name = os.environ.get(PROFILE_ENV)
    if name:
        return get_profile(name)
    import jax

    return get_profile("gpu" if any(d.platform == "gpu" for d in jax.devices()) else "cpu")


def hardware_summary() -> str:
    """One line naming the JAX backend, devices and host CPU, printed at the top of every chapter."""
    import jax

    devices = ", ".join(sorted({d.device_kind for d in jax.devices()}))
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        if names:
            cpu = names[0]
    except OSError:
        pass
    return (
        f"JAX {jax.__version__} on {jax.default_backend()} ({devices}); "
        f"host: {cpu}, {os.cpu_count()} cores"
    )

"""Finished networks for inference, built from their configuration alone: the attribute classifier, the U-Net
generator and the upscaler, with nothing of training (no optimiser, no discriminator, no random initialisation).

Each network is laid out by `nnx.eval_shape` (its shapes from the profile, no arrays computed) and its
weights are read straight in from the run folder (`faceobf.shipped.load_network`): a shipped model's
`weights.npz`, or a local run's `network.npz`, which training writes when a run finishes. The pieces
that say how a U-Net is put together for a profile (its input channels, its landmark subset, the
landmark mapping and flip strength kept in its run folder) live here, so training and inference share
them.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Callable, Protocol

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from faceobf import shipped
from faceobf.disentangle.classifier import AttributeClassifier
from faceobf.disentangle.geometry import LandmarkMapping
from faceobf.disentangle.landmarks import landmark_subset
from faceobf.inference import BatchedModel
from faceobf.models.resnet import ResNet
from faceobf.errors import UsageError
from faceobf.models.factored import Factors
from faceobf.models.unet import PatchGAN, UNet, UNetConfig
from faceobf.models.upscaler import Upscaler
from faceobf.profiles import Profile, ReconTrainConfig
from faceobf.reconstruct.factors import input_channels
from faceobf.reconstruct.generate import FaceGenerator, FlipStrength
from faceobf.reconstruct.planes import attribute_table
from faceobf.reconstruct.prior import AppearancePrior

# A geometry-'follow' run's landmark mapping (fitted on its train faces) and the flip strength chosen for the run on
# validation faces (`faceobf.reconstruct.tuning`), kept in its run folder and shipped beside its weights
# and, with `appearance_prior`, its appearance prior
MAPPING_FILE, STRENGTH_FILE, PRIOR_FILE = shipped.RUN_FILES


def landmark_indices(cfg: ReconTrainConfig) -> tuple[int, ...] | None:
    """Indices of the landmark subset the U-Net sees, or None for all 68."""
    return None if cfg.landmark_subset == "all" else landmark_subset(cfg.landmark_subset)


def unet_config(unet: UNetConfig, cfg: ReconTrainConfig) -> UNetConfig:
    """The U-Net's configuration for a recipe: its input channels follow the recipe's landmark subset."""
    subset = landmark_indices(cfg)
    if subset is None and not cfg.appearance_prior:
        return unet
    channels = input_channels(tuple(range(68)) if subset is None else subset, appearance=cfg.appearance_prior)
    return dataclasses.replace(unet, in_channels=channels)


class Generator(Protocol):
    """What stage 2 and stage 3 call a generator with: the factors of a batch of faces (landmark heatmaps and context
    as arrays, the attribute planes factored) -> (B, R, R, 3) faces; `config.in_channels` sizes its discriminator."""

    config: Any

    def __call__(self, x: Factors) -> jax.Array: ...


# Networks by name (`ReconTrainConfig.generator` and `.discriminator`): each built from its configuration in the profile
# (`Profile.unet`, `Profile.patchgan`), the run's training configuration and a seed. A new one is an entry here.
GENERATORS: dict[str, Callable[[Any, ReconTrainConfig, int], Generator]] = {
    "unet": lambda config, cfg, seed: UNet(unet_config(config, cfg), rngs=nnx.Rngs(seed)),
}
DISCRIMINATORS: dict[str, Callable[[Any, Generator, ReconTrainConfig, int], nnx.Module]] = {
    "patchgan": lambda config, generator, cfg, seed: PatchGAN(
        dataclasses.replace(config, in_channels=config.factor_channels(generator.config.in_channels) + 3),
        rngs=nnx.Rngs(seed)),
}


def _registered(table: dict, name: str, what: str):
    try:
        return table[name]
    except KeyError:
        raise UsageError(f"unknown {what} {name!r}; registered: {', '.join(table)}") from None


def generator_network(config: Any, cfg: ReconTrainConfig, seed: int = 0) -> Generator:
    """A fresh generator of the registry's kind `cfg.generator`, laid out by `config` (the profile's `unet`)."""
    return _registered(GENERATORS, cfg.generator, "generator")(config, cfg, seed)


def discriminator_network(config: Any, generator: Generator, cfg: ReconTrainConfig, seed: int = 0) -> nnx.Module:
    """A fresh discriminator of the registry's kind `cfg.discriminator` for `generator` (it sees the generator's input
    and an image)."""
    return _registered(DISCRIMINATORS, cfg.discriminator, "discriminator")(config, generator, cfg, seed)


def stored_flip_settings(run_dir: Path) -> tuple[LandmarkMapping | None, FlipStrength]:
    """(the run's landmark mapping or None, the flip strength chosen for it on validation faces, as trained if none
    was)."""
    path, strength_path = Path(run_dir) / MAPPING_FILE, Path(run_dir) / STRENGTH_FILE
    strength = FlipStrength()
    if strength_path.exists():
        stored = json.loads(strength_path.read_text())
        strength = FlipStrength(float(stored["gain"]), float(stored["intensity"]))
    return (LandmarkMapping.load(path) if path.exists() else None), strength


def stored_prior(run_dir: Path, cfg: ReconTrainConfig) -> AppearancePrior | None:
    """The run's appearance prior (`cfg.appearance_prior`), or None; a run that should have one and lacks it is refused."""
    if not cfg.appearance_prior:
        return None
    path = Path(run_dir) / PRIOR_FILE
    if not path.exists():
        raise shipped.ShippedModelError(f"{run_dir}: trained with an appearance prior but holds no {PRIOR_FILE}")
    return AppearancePrior.load(path)


def face_generator(unet: Generator, table: np.ndarray, cfg: ReconTrainConfig, geometry: LandmarkMapping | None = None,
                   strength: FlipStrength = FlipStrength(), prior: AppearancePrior | None = None) -> FaceGenerator:
    """A trained U-Net as stage 2's batched, jitted `FaceGenerator` under its recipe."""
    if cfg.appearance_prior and prior is None:
        raise ValueError("a U-Net trained with an appearance prior needs it (`stored_prior`)")
    return FaceGenerator(unet, table, cfg.feather_radius, landmark_indices(cfg), cfg.batch_size, geometry, strength,
                         difference=cfg.condition == "difference", prior=prior, colour_match=cfg.colour_match)


def upscale_function(model: Upscaler, batch_size: int) -> BatchedModel:
    """float (N, r, r, 3) faces in [0, 1] -> float (N, r·factor, r·factor, 3) in [0, 1], batched and jitted."""
    return BatchedModel(model, lambda m, x: jnp.clip(m(x), 0.0, 1.0), batch_size)


def classifier(profile: Profile, run_dir: Path) -> AttributeClassifier:
    """The attribute classifier of a finished run of `profile`."""
    model = shipped.load_network(run_dir, lambda: ResNet(profile.fac_model, rngs=nnx.Rngs(0)),
                                 f"ResNet {profile.fac_model!r}")
    return AttributeClassifier(model, profile.fac.resolution, profile.fac.batch_size)


def generator(profile: Profile, encoding: str, run_dir: Path, weights_dir: Path | None = None) -> FaceGenerator:
    """The U-Net of a run of (`profile`, `encoding`) as stage 2's generator, with the run's landmark mapping, flip
    strength and prior; its weights from `weights_dir` when given (a snapshot of a run still training)."""
    cfg = profile.recon
    unet = shipped.load_network(weights_dir or run_dir, lambda: generator_network(profile.unet, cfg),
                                f"generator {profile.unet!r} {cfg!r}")
    table = attribute_table(encoding, np.zeros((0, 40)), run_dir)
    return face_generator(unet, table, cfg, *stored_flip_settings(run_dir), stored_prior(run_dir, cfg))


def upscaler(profile: Profile, run_dir: Path) -> BatchedModel:
    """The upscaler of a finished run of `profile`, as a batched function of faces."""
    model = shipped.load_network(run_dir, lambda: Upscaler(profile.upscaler, rngs=nnx.Rngs(0)),
                                 f"Upscaler {profile.upscaler!r}")
    return upscale_function(model, profile.upscaler_train.batch_size)

"""The networks' architecture settings, one frozen dataclass per model, importable without JAX.

The model modules re-export their config; profiles, options and `--help` read them here, so choosing
settings never pays for importing JAX and flax."""

from __future__ import annotations

from dataclasses import dataclass, field

PATCHGAN_CONDITIONS = ("factors", "factors_without_attributes", "none")


@dataclass(frozen=True)
class ResNetConfig:
    """Architecture of the face attribute classifier."""

    stage_sizes: tuple[int, ...] = (3, 4, 6, 3)  # ResNet-50
    base_width: int = 64
    num_outputs: int = 40
    bn_momentum: float = 0.9


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


@dataclass(frozen=True)
class RecogniserConfig:
    """Architecture and training of the second recogniser."""

    trunk: ResNetConfig = field(default_factory=lambda: ResNetConfig(num_outputs=1))  # ResNet-50; its 1-unit head is unused
    resolution: int = 96  # the 178x178 face crop resized, as the attribute classifier sees it
    embedding: int = 128
    margin: float = 0.5  # ArcFace's m (radians)
    scale: float = 30.0  # ArcFace's s
    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-3
    hflip: bool = True
    train_limit: int | None = None  # first N train images (shuffled); None = all
    seed: int = 0


@dataclass(frozen=True)
class UNetConfig:
    """Architecture of the reconstruction U-Net."""

    in_channels: int = 111  # 68 landmark heatmaps + 3 masked context + 40 attribute planes
    out_channels: int = 3
    base_width: int = 32
    depth: int = 4
    groups: int = 8
    inject_levels: int = 0  # decoder blocks, from the coarsest up, that also get the attribute planes
    n_attributes: int = 40  # the input's last channels are the attribute planes


@dataclass(frozen=True)
class PatchGANConfig:
    """Architecture of the conditional PatchGAN discriminator."""

    in_channels: int = 111 + 3  # factors + image (set from the U-Net's input by the trainer)
    base_width: int = 64
    n_layers: int = 3
    attribute_head: bool = False  # also predict the 40 attributes (AttGAN's auxiliary classifier)
    condition: str = "factors"  # what it sees beside the image: "factors", "factors_without_attributes" or "none"
    n_attributes: int = 40

    def __post_init__(self) -> None:
        if self.condition not in PATCHGAN_CONDITIONS:
            raise ValueError(f"PatchGAN condition {self.condition!r}: choose one of {', '.join(PATCHGAN_CONDITIONS)}")

    def factor_channels(self, factor_channels: int) -> int:
        """How many of the U-Net's `factor_channels` input channels the discriminator sees."""
        return {"factors": factor_channels, "factors_without_attributes": factor_channels - self.n_attributes,
                "none": 0}[self.condition]

    def factor_parts(self) -> int:
        """How many of the parts of `Factors` (spatial, planes) the discriminator sees."""
        return {"factors": 2, "factors_without_attributes": 1, "none": 0}[self.condition]


@dataclass(frozen=True)
class UpscalerConfig:
    """Architecture of the upscaler."""

    factor: int = 2  # 64 -> 128
    width: int = 32
    blocks: int = 4
    residual_scale: float = 0.2  # EDSR's scaling of each block's residual: stable training without normalisation

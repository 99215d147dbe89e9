"""Shared fixtures: a tiny CelebA folder in the original layout, built from skimage's astronaut."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ATTRIBUTE_NAMES = (
    "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair "
    "Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup "
    "High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose "
    "Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat "
    "Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young"
).split()


def astronaut_aligned() -> np.ndarray:
    """A 218x178 crop of skimage's astronaut placed like a CelebA aligned face (eyes near row 111)."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[4:222, 136:314])



def paste_face(background: np.ndarray, face: np.ndarray, left: int, top: int) -> np.ndarray:
    """`face` pasted with its top-left corner at (left, top), clipped at the frame's edges (clips of moving faces)."""
    out = background.copy()
    h, w = face.shape[:2]
    x0, y0, x1, y1 = max(0, left), max(0, top), min(out.shape[1], left + w), min(out.shape[0], top + h)
    if x1 > x0 and y1 > y0:
        out[y0:y1, x0:x1] = face[y0 - top : y1 - top, x0 - left : x1 - left]
    return out


def write_celeba(root: Path, n_identities: int = 4, per_identity: int = 3, seed: int = 0) -> Path:
    """Write a CelebA-layout folder: images, attribute file (count + header), identities, partition."""
    rng = np.random.default_rng(seed)
    base = astronaut_aligned()
    (root / "img_align_celeba").mkdir(parents=True)
    names, attr_lines, id_lines, part_lines = [], [], [], []
    k = 0
    for identity in range(1, n_identities + 1):
        split = 0 if identity <= n_identities - 2 else (1 if identity == n_identities - 1 else 2)
        for _ in range(per_identity):
            k += 1
            name = f"{k:06d}.jpg"
            image = np.clip(base.astype(np.int16) + rng.integers(-20, 20), 0, 255).astype(np.uint8)
            if k % 2 == 0:
                image = image[:, ::-1]
            Image.fromarray(np.ascontiguousarray(image)).save(root / "img_align_celeba" / name, quality=92)
            values = rng.choice(["-1", " 1"], size=len(ATTRIBUTE_NAMES))
            names.append(name)
            attr_lines.append(name + " " + " ".join(values))
            id_lines.append(f"{name} {identity}")
            part_lines.append(f"{name} {split}")
    crlf = "\r\n"
    (root / "list_attr_celeba.txt").write_text(crlf.join([str(len(names)), " ".join(ATTRIBUTE_NAMES)] + attr_lines) + crlf, newline="")
    (root / "identity_CelebA.txt").write_text(crlf.join(id_lines) + crlf, newline="")
    (root / "list_eval_partition.txt").write_text(crlf.join(part_lines) + crlf, newline="")
    return root



def interrupt_at_epoch(monkeypatch: pytest.MonkeyPatch, module, stop: int):
    """Make `module.iterate_batches` raise KeyboardInterrupt when epoch `stop` (0-based) starts, as a killed training
    would stop; returns the real function, to put back for the resumed run."""
    real = module.iterate_batches

    def interrupted(*args, epoch: int, **kwargs):
        if epoch == stop:
            raise KeyboardInterrupt
        return real(*args, epoch=epoch, **kwargs)

    monkeypatch.setattr(module, "iterate_batches", interrupted)
    return real


@pytest.fixture
def celeba_dir(tmp_path: Path) -> Path:
    """A fresh 12-image CelebA folder (4 identities: 2 train, 1 val, 1 test)."""
    return write_celeba(tmp_path / "celeba")


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own cache and runs folder, so no test sees another's files."""
    monkeypatch.setenv("FACEOBF_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("FACEOBF_RUNS", str(tmp_path / "runs"))
    return tmp_path / "cache"


@pytest.fixture
def real_celeba() -> Path:
    """The real CelebA-mini folder from $FACEOBF_DATA; the test is skipped when it is not set."""
    root = os.environ.get("FACEOBF_DATA")
    if not root or not Path(root).is_dir():
        pytest.skip("FACEOBF_DATA is not set to the CelebA-mini folder; integration test skipped")
    return Path(root)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark what reads the real CelebA-mini (the `real_celeba` fixture, the chapters) `celeba` and `slow`."""
    for item in items:
        real = bool({"real_celeba", "real_photos"} & set(getattr(item, "fixturenames", ()))) or item.path.suffix == ".ipynb"
        if real and not item.get_closest_marker("celeba"):
            item.add_marker(pytest.mark.celeba)
        if real or item.get_closest_marker("celeba"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def obfuscator():
    """Stage 3 with real (small, untrained) ResNet and U-Net: the pipeline's guarantees do not depend on training."""
    from flax import nnx

    from faceobf.disentangle.classifier import AttributeClassifier
    from faceobf.models.resnet import ResNet, ResNetConfig
    from faceobf.models.unet import PatchGANConfig, UNetConfig
    from faceobf.obfuscate.pipeline import Obfuscator
    from faceobf.obfuscate.policies import FlipNamed
    from faceobf.profiles import ReconTrainConfig
    from faceobf.reconstruct.planes import onehot_table
    from faceobf.train.recon import create_recon_state, make_generator

    classifier = AttributeClassifier(ResNet(ResNetConfig(stage_sizes=(1, 1), base_width=8), rngs=nnx.Rngs(0)), 32)
    cfg = ReconTrainConfig(resolution=32)
    g_def, g_state, _, _ = create_recon_state(UNetConfig(base_width=8, depth=2), PatchGANConfig(base_width=8), cfg)
    return Obfuscator(classifier, make_generator(g_def, g_state, onehot_table(), cfg), 32, FlipNamed())


@pytest.fixture
def real_photos() -> Path:
    """A folder of real unaligned photos (`faceobf.paths.photos_root`: $FACEOBF_PHOTOS, else a `photos-dev/photos`
    beside $FACEOBF_DATA); skipped when there is none."""
    from faceobf.paths import photos_root

    root = photos_root()
    if root is None:
        pytest.skip("no folder of real photos (FACEOBF_PHOTOS, or photos-dev beside FACEOBF_DATA); test skipped")
    return root

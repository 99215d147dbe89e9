"""Train stage 3's upscaler on real CelebA train faces: their degraded half-size versions in, the faces out.

Each epoch degrades every training face afresh on the host (a Gaussian blur of random width, area
downsampling by the upscaler's factor, Gaussian noise, a JPEG round trip of random quality), so the
network learns to undo softness it cannot predict exactly, as a redraw's softness is. The loss is L1,
and the kept epoch has the lowest validation L1. With `adv_weight` > 0 the run fine-tunes the finished
L1 upscaler for `ADVERSARIAL_EPOCHS` against a PatchGAN (its non-saturating loss on the upscaled faces),
ESRGAN's second phase, and keeps its last epoch: the adversary trades a little L1 for detail, so the
L1 would pick the least adversarial epoch. The test metrics compare the upscaler with bicubic
resampling of the same inputs: L1, PSNR, and the detail ratio (Laplacian spread, output over the real
face).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import cv2
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from faceobf import runs, shipped
from faceobf.data.batches import iterate_batches
from faceobf.data.dataset import CelebA, sample_rows
from faceobf.inference import BatchedModel, as_float_images
from faceobf.networks import upscale_function
from faceobf.io import write_json
from faceobf.models.unet import PatchGAN, PatchGANConfig
from faceobf.models.upscaler import Upscaler, UpscalerConfig
from faceobf.profiles import Profile, UpscalerTrainConfig
from faceobf.train.losses import bce
from faceobf.reconstruct.imageops import laplacian_detail
from faceobf.train.checkpoints import restore_run
from faceobf.train.loop import fit
from faceobf.train.parallel import DataParallel, batch_sharding

ADVERSARIAL_EPOCHS = 3  # an adversarial run's fine-tuning of the finished L1 upscaler (~5 min each on 2 cores)
CRITIC = PatchGANConfig(in_channels=3, base_width=32, n_layers=3, condition="none")  # judges 128 px faces alone


def degrade(faces: np.ndarray, factor: int, cfg: UpscalerTrainConfig, rng: np.random.Generator) -> np.ndarray:
    """uint8 (N, R, R, 3) faces -> uint8 (N, R/factor, R/factor, 3): blurred, downsampled, noised and JPEG-compressed,
    each face with its own draw of blur width, noise and quality."""
    out = []
    size = faces.shape[1] // factor
    for face in faces:
        sigma = rng.uniform(*cfg.blur_sigma)
        x = cv2.GaussianBlur(face, (0, 0), sigma) if sigma > 0.05 else face
        x = cv2.resize(x, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
        x = np.clip(np.rint(x + rng.normal(0.0, rng.uniform(*cfg.noise_sigma), x.shape)), 0, 255).astype(np.uint8)
        quality = int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1))
        ok, encoded = cv2.imencode(".jpg", x[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        out.append(cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1] if ok else x)
    return np.stack(out)


def epoch_batches(faces: np.ndarray, factor: int, cfg: UpscalerTrainConfig, epoch: int, sharding=None):
    """The batches of (degraded input, target) pairs of one epoch: a random half of the faces mirrored, then every face
    degraded afresh (both from the (seed, epoch) stream), so input and target always show the same face the same way."""
    rng = np.random.default_rng((cfg.seed, 0, epoch))
    mirrored = rng.random(len(faces)) < 0.5
    high = np.where(mirrored[:, None, None, None], faces[:, :, ::-1], faces)
    low = degrade(high, factor, cfg, rng)
    return iterate_batches((low, high), cfg.batch_size, seed=cfg.seed, epoch=epoch, sharding=sharding)  # no hflip: done above


def create_train_state(model_cfg: UpscalerConfig, cfg: UpscalerTrainConfig) -> tuple[nnx.GraphDef, nnx.State]:
    """A fresh (upscaler, Adam, critic, Adam) split into its graph and explicit state (the critic idle at adv_weight 0)."""
    rngs = nnx.Rngs(cfg.seed)
    model, critic = Upscaler(model_cfg, rngs=rngs), PatchGAN(CRITIC, rngs=rngs)
    optimizer = nnx.Optimizer(model, optax.adam(cfg.learning_rate, b1=0.9), wrt=nnx.Param)
    critic_optimizer = nnx.Optimizer(critic, optax.adam(cfg.learning_rate, b1=0.5), wrt=nnx.Param)
    return nnx.split((model, optimizer, critic, critic_optimizer))


def make_train_step(graphdef: nnx.GraphDef, cfg: UpscalerTrainConfig) -> Callable:
    """Jitted `(state, low, high) -> (state, metrics)`: one upscaler step (and one critic step when adversarial)."""

    @partial(jax.jit, donate_argnums=0)
    def step(state, low, high):
        model, optimizer, critic, critic_optimizer = nnx.merge(graphdef, state)
        x, target = as_float_images(low), as_float_images(high)

        def loss_fn(model: Upscaler):
            out = model(x)
            l1 = jnp.abs(out - target).mean()
            adversarial = bce(critic(out[..., :0], out), 1.0) if cfg.adv_weight > 0 else jnp.float32(0)
            return l1 + cfg.adv_weight * adversarial, (out, l1, adversarial)

        (_, (out, l1, adversarial)), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model)
        optimizer.update(model, grads)
        metrics = {"train_l1": l1}
        if cfg.adv_weight > 0:
            fake = jax.lax.stop_gradient(out)

            def critic_loss(critic: PatchGAN):
                return 0.5 * (bce(critic(target[..., :0], target), 1.0) + bce(critic(fake[..., :0], fake), 0.0))

            d_loss, d_grads = nnx.value_and_grad(critic_loss)(critic)
            critic_optimizer.update(critic, d_grads)
            metrics.update(train_adv=adversarial, train_d=d_loss)
        return nnx.state((model, optimizer, critic, critic_optimizer)), metrics

    return step


@dataclass
class UpscalerRun:
    """A trained upscaler and what its run recorded."""

    run_dir: Path
    graphdef: nnx.GraphDef
    state: nnx.State
    history: dict
    test: dict
    config: UpscalerTrainConfig

    def model(self) -> Upscaler:
        model, *_ = nnx.merge(self.graphdef, self.state)
        return model

    def upscale(self) -> BatchedModel:
        """float (N, r, r, 3) faces in [0, 1] -> float (N, r·factor, r·factor, 3) in [0, 1], batched and jitted."""
        return upscale_function(self.model(), self.config.batch_size)


def _metrics(out: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """L1 and PSNR (images in [0, 1]) and the median detail ratio (Laplacian spread of output over target)."""
    mse = np.mean((out - target) ** 2, axis=(1, 2, 3))
    ratios = [laplacian_detail(o * 255.0) / max(laplacian_detail(t * 255.0), 1e-6) for o, t in zip(out, target)]
    return {"l1": float(np.abs(out - target).mean()), "psnr": float(np.mean(10 * np.log10(1.0 / np.maximum(mse, 1e-10)))),
            "detail_ratio": float(np.median(ratios))}


def evaluate_upscaler(upscale: Callable[[np.ndarray], np.ndarray], low: np.ndarray, high: np.ndarray) -> dict:
    """Test metrics of the upscaler and of bicubic resampling on the same degraded inputs."""
    size = high.shape[1]
    bicubic = np.stack([cv2.resize(x, (size, size), interpolation=cv2.INTER_CUBIC) for x in low]).astype(np.float32) / 255.0
    target = high.astype(np.float32) / 255.0
    return {"upscaler": _metrics(np.asarray(upscale(low.astype(np.float32) / 255.0)), target),
            "bicubic": _metrics(np.clip(bicubic, 0, 1), target), "n_test_faces": int(len(high))}


def train_upscaler(profile: Profile, dataset: CelebA, run_dir: Path | None = None, progress: bool = True,
                   log: Callable[[str], None] = print) -> UpscalerRun:
    """Train (or resume) the upscaler of `profile`, then compare it with bicubic resampling on test faces."""
    cfg, model_cfg = profile.upscaler_train, profile.upscaler
    run_dir = runs.claim(runs.RunSpec.upscaler(profile), dataset.key, run_dir)
    rows = {s: sample_rows(dataset.split(s), cfg.train_limit if s == "train" else cfg.eval_limit, cfg.seed) for s in ("train", "val", "test")}
    faces = {s: dataset.images(r, cfg.resolution, progress=progress) for s, r in rows.items()}
    fixed = {s: degrade(faces[s], model_cfg.factor, cfg, np.random.default_rng((cfg.seed, i))) for i, s in enumerate(("val", "test"), 1)}
    graphdef, state = create_train_state(model_cfg, cfg)
    adversarial = cfg.adv_weight > 0
    if adversarial and not (run_dir / "last").exists():  # a fresh fine-tune starts from the L1 upscaler
        state = _from_l1_upscaler(graphdef, state, profile, dataset, progress, log)
    upscale = upscale_function(nnx.merge(graphdef, state)[0], cfg.batch_size)  # compiled once
    parallel = DataParallel.over(cfg.batch_size)

    def validate(state) -> dict[str, float]:
        current = upscale.with_weights(nnx.merge(graphdef, state)[0])
        out = np.asarray(current(fixed["val"].astype(np.float32) / 255.0))
        return {"val_l1": float(np.abs(out - faces["val"].astype(np.float32) / 255.0).mean())}

    def batches(epoch: int):
        return epoch_batches(faces["train"], model_cfg.factor, cfg, epoch, batch_sharding(parallel))

    epochs, best = (ADVERSARIAL_EPOCHS, None) if adversarial else (cfg.epochs, ("val_l1", "min"))  # adversarial: the last epoch
    state, history, best_epoch = fit(state, make_train_step(graphdef, cfg), batches, epochs, run_dir=run_dir, validate=validate,
                                     best=best, steps_per_epoch=len(faces["train"]) // cfg.batch_size, desc="upscaler",
                                     progress=progress, log=log, parallel=parallel)
    test = evaluate_upscaler(upscale.with_weights(nnx.merge(graphdef, state)[0]), fixed["test"], faces["test"])
    test["best_epoch"] = best_epoch
    shipped.save_network(run_dir, nnx.merge(graphdef, state)[0])  # what inference reads, before the run is finished
    write_json(run_dir / runs.FINISHED, test)
    return UpscalerRun(run_dir, graphdef, state, history, test, cfg)


def _from_l1_upscaler(graphdef: nnx.GraphDef, state: nnx.State, profile: Profile, dataset: CelebA, progress: bool,
                      log: Callable[[str], None]) -> nnx.State:
    """`state` with the upscaler's weights of the profile's finished L1 upscaler (trained first where missing)."""
    from faceobf.profiles import with_upscaler_adversary

    start = load_or_train_upscaler(with_upscaler_adversary(profile, 0.0), dataset, progress=progress, log=log)
    model, *rest = nnx.merge(graphdef, state)
    nnx.update(model, nnx.state(start.model()))
    return nnx.state((model, *rest))


def load_run(run_dir: Path, profile: Profile) -> UpscalerRun:
    """A finished run, checked against `profile` (installed shipped weights or training checkpoints)."""
    runs.check(run_dir, runs.RunSpec.upscaler(profile))
    graphdef, state = create_train_state(profile.upscaler, profile.upscaler_train)
    state, history, test = restore_run(run_dir, graphdef, state)
    return UpscalerRun(run_dir, graphdef, state, history, test, profile.upscaler_train)


def load_or_train_upscaler(profile: Profile, dataset: CelebA, progress: bool = True,
                           log: Callable[[str], None] = print) -> UpscalerRun:
    """The finished upscaler of `profile` on this data set if on disk (or shipped), else train it (resuming)."""
    try:
        run_dir = shipped.find_or_install(runs.RunSpec.upscaler(profile), dataset.key)
    except runs.MissingCheckpointError:
        return train_upscaler(profile, dataset, progress=progress, log=log)
    run = load_run(run_dir, profile)
    log(runs.loaded_line(run_dir, len(run.history["epoch"]), "upscaler run"))
    return run

"""Train the stage-2 U-Net to redraw a face from its factors: L1 + adversarial (PatchGAN) loss.

The loss, as in pix2pix (Isola et al., 2017), with the choice written down:

* L1 between the composite and the original **inside the face mask** (outside, the composite *is*
  the original), weight `l1_weight` = 100: L1 carries the low frequencies and keeps training stable;
* the non-saturating GAN loss (binary cross-entropy on the PatchGAN's patch logits), weight
  `adv_weight` = 1: it pushes the high frequencies (skin texture, sharp edges) that L1 blurs away;
  the discriminator minimises 0.5 * (BCE(real, 1) + BCE(fake, 0));
* optional `ssim_weight` * (1 - SSIM inside the mask), the seed's final-report loss.

Adam(2e-4, beta1 = 0.5) for both networks. G and D are separate `jax.jit` steps over explicit
nnx state; one G step, then one D step on the G step's fakes, per batch.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from PIL import Image
from tqdm.auto import tqdm

from faceobf.attributes import ENCODINGS, Word2VecConfig, embedding_table, load_word2vec, onehot_table, save_word2vec, train_word2vec
from faceobf.data.batches import epoch_order
from faceobf.data.dataset import CelebA, sample_rows
from faceobf.factors import FaceFactors, assemble_inputs, face_factors, input_channels
from faceobf.landmarks import landmark_subset
from faceobf.imageops import composite, fill_mask, image_metrics, ssim_map
from faceobf.io import atomic_path, write_json
from faceobf.models.unet import PatchGAN, PatchGANConfig, UNet, UNetConfig
from faceobf.paths import runs_root
from faceobf.profiles import Profile, ReconTrainConfig, recon_variant
from faceobf.train.checkpoints import CheckpointSlot, claim_run_dir, restore_finished


def _bce(logits: jax.Array, target: float) -> jax.Array:
    return optax.sigmoid_binary_cross_entropy(logits, jnp.full_like(logits, target)).mean()


def masked_l1(a: jax.Array, b: jax.Array, mask: jax.Array) -> jax.Array:
    """Mean absolute error over the pixels inside `mask` (B, R, R)."""
    m = mask[..., None]
    return (jnp.abs(a - b) * m).sum() / jnp.maximum(m.sum() * a.shape[-1], 1.0)


def _points(cfg: ReconTrainConfig) -> tuple[int, ...] | None:
    """The landmark subset the U-Net sees, or None for all 68."""
    return None if cfg.landmark_subset == "all" else landmark_subset(cfg.landmark_subset)


def create_recon_state(unet: UNetConfig, cfg: ReconTrainConfig):
    """Split fresh (U-Net, Adam) and (PatchGAN, Adam) pairs into graphs and explicit states."""
    if cfg.landmark_subset != "all":
        unet = dataclasses.replace(unet, in_channels=input_channels(landmark_subset(cfg.landmark_subset)))
    g = UNet(unet, rngs=nnx.Rngs(cfg.seed))
    d = PatchGAN(PatchGANConfig(in_channels=unet.in_channels + 3), rngs=nnx.Rngs(cfg.seed + 1))
    g_opt = nnx.Optimizer(g, optax.adam(cfg.lr_g, b1=cfg.beta1), wrt=nnx.Param)
    d_opt = nnx.Optimizer(d, optax.adam(cfg.lr_d, b1=cfg.beta1), wrt=nnx.Param)
    g_def, g_state = nnx.split((g, g_opt))
    d_def, d_state = nnx.split((d, d_opt))
    return g_def, g_state, d_def, d_state


def make_recon_steps(g_def, d_def, cfg: ReconTrainConfig):
    """Jitted `g_step(g_state, d_state, batch, table)` and `d_step(d_state, batch, fakes, table)`."""

    def g_step(g_state, d_state, images, landmarks, masks, attributes, table):
        g, g_opt = nnx.merge(g_def, g_state)
        d, _ = nnx.merge(d_def, d_state)
        x = assemble_inputs(images, landmarks, masks, attributes, table, _points(cfg))

        def loss_fn(g):
            fake = composite(g(x), images, masks, cfg.feather_radius)
            l1 = masked_l1(fake, images, masks)
            adv = _bce(d(x, fake), 1.0)
            loss = cfg.l1_weight * l1 + cfg.adv_weight * adv
            if cfg.ssim_weight:
                s = (ssim_map(fake, images) * masks).sum() / jnp.maximum(masks.sum(), 1.0)
                loss = loss + cfg.ssim_weight * (1.0 - s)
            return loss, (fake, l1, adv)

        (loss, (fake, l1, adv)), grads = nnx.value_and_grad(loss_fn, has_aux=True)(g)
        g_opt.update(g, grads)
        return nnx.state((g, g_opt)), fake, {"g_loss": loss, "l1": l1, "g_adv": adv}

    def d_step(d_state, images, landmarks, masks, attributes, fakes, table):
        d, d_opt = nnx.merge(d_def, d_state)
        x = assemble_inputs(images, landmarks, masks, attributes, table, _points(cfg))
        fakes = jax.lax.stop_gradient(fakes)

        def loss_fn(d):
            return 0.5 * (_bce(d(x, images), 1.0) + _bce(d(x, fakes), 0.0))

        loss, grads = nnx.value_and_grad(loss_fn)(d)
        d_opt.update(d, grads)
        return nnx.state((d, d_opt)), {"d_loss": loss}

    return jax.jit(g_step, donate_argnums=0), jax.jit(d_step, donate_argnums=0)


def make_generate(g_def, g_state, cfg: ReconTrainConfig) -> Callable:
    """Jitted `generate(images, landmarks, masks, attributes, table) -> composite` for inference."""
    g, _ = nnx.merge(g_def, g_state)
    gd, gs = nnx.split(g)

    @jax.jit
    def generate(gs, images, landmarks, masks, attributes, table):
        x = assemble_inputs(images, landmarks, masks, attributes, table, _points(cfg))
        return composite(nnx.merge(gd, gs)(x), images, masks, cfg.feather_radius)

    return lambda *args: generate(gs, *args)


def _batch(f: FaceFactors, idx: np.ndarray):
    return (f.images[idx].astype(np.float32) / 255.0, f.landmarks[idx], f.masks[idx].astype(np.float32),
            f.attributes[idx].astype(np.float32))


def generate_all(generate: Callable, f: FaceFactors, table: np.ndarray, batch_size: int, attributes: np.ndarray | None = None) -> np.ndarray:
    """Composites for every face of `f` (optionally with other attributes), padding the last batch."""
    if len(f) == 0:
        return np.zeros((0, *f.images.shape[1:]), np.float32)
    out = []
    for start in range(0, len(f), batch_size):
        idx = np.arange(start, min(start + batch_size, len(f)))
        pad = np.concatenate([idx, np.full(batch_size - idx.size, idx[-1])])
        images, landmarks, masks, attrs = _batch(f, pad)
        if attributes is not None:
            attrs = attributes[pad].astype(np.float32)
        out.append(np.asarray(generate(images, landmarks, masks, attrs, table))[: idx.size])
    return np.concatenate(out)


def evaluate_images(pred: np.ndarray, f: FaceFactors, batch_size: int = 64) -> dict[str, float]:
    """Mean SSIM / PSNR / L1, whole image and inside the mask, of `pred` against the originals."""
    sums: dict[str, float] = {}
    for start in range(0, len(f), batch_size):
        idx = np.arange(start, min(start + batch_size, len(f)))
        m = image_metrics(jnp.asarray(pred[idx]), jnp.asarray(f.images[idx], jnp.float32) / 255.0, jnp.asarray(f.masks[idx], jnp.float32))
        for k, v in m.items():
            sums[k] = sums.get(k, 0.0) + float(np.asarray(v).sum())
    return {k: v / max(1, len(f)) for k, v in sums.items()}


def mean_face_colour(f: FaceFactors) -> np.ndarray:
    """Mean RGB inside the masks of `f`, the colour of the trivial baseline."""
    m = f.masks.astype(bool)
    return f.images[m].reshape(-1, 3).mean(axis=0) / 255.0


def save_preview(path: Path, f: FaceFactors, recon: np.ndarray) -> None:
    """Rows of original | masked context | reconstruction, saved atomically as PNG."""
    rows = []
    for img, mask, rec in zip(f.images, f.masks, recon):
        masked = img * (1 - mask[..., None])
        rows.append(np.concatenate([img, masked, (np.clip(rec, 0, 1) * 255).astype(np.uint8)], axis=1))
    grid = np.concatenate(rows, axis=0)
    with atomic_path(path, suffix=".png") as tmp:
        Image.fromarray(grid).save(tmp)


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

    def generator(self) -> Callable:
        return make_generate(self.g_def, self.g_state, self.config)


def run_dir_for(profile: Profile, dataset: CelebA, encoding: str) -> Path:
    return runs_root() / f"recon-{profile.name}-{recon_variant(encoding, profile.recon)}-{dataset.key}"


def attribute_table(encoding: str, train_attributes: np.ndarray, run_dir: Path, w2v: Word2VecConfig = Word2VecConfig()) -> np.ndarray:
    """The (40, s, s) attribute table of `encoding`; word2vec is trained once and saved in the run."""
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown attribute encoding {encoding!r}; choose one of {ENCODINGS}")
    if encoding == "onehot":
        return onehot_table()
    path = run_dir / "word2vec.model"
    model = load_word2vec(path) if path.exists() else train_word2vec(train_attributes, w2v)
    if not path.exists():
        save_word2vec(model, path)
    return embedding_table(model, w2v)


def train_recon(
    profile: Profile,
    dataset: CelebA,
    encoding: str = "onehot",
    run_dir: Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> ReconRun:
    """Train (or resume) the U-Net under `profile`, then evaluate it and the baseline on the test split."""
    cfg, unet = profile.recon, profile.unet
    run_dir = Path(run_dir or run_dir_for(profile, dataset, encoding))
    train_record = dataclasses.asdict(cfg)
    if cfg.landmark_subset == "all":  # runs made before the option existed keep their recorded config
        train_record.pop("landmark_subset")
    claim_run_dir(run_dir, {"unet": dataclasses.asdict(unet), "train": train_record, "encoding": encoding})

    splits = {s: sample_rows(dataset.split(s), cfg.train_limit if s == "train" else cfg.eval_limit, cfg.seed) for s in ("train", "val", "test")}
    data = {s: face_factors(dataset, rows, cfg.resolution, progress=progress) for s, rows in splits.items()}
    for s, f in data.items():
        log(f"{s}: {len(f)} faces, {len(f.excluded)} excluded (no face found by HOG)")
    train, val = data["train"], data["val"]
    table = jnp.asarray(attribute_table(encoding, train.attributes, run_dir))

    g_def, g_state, d_def, d_state = create_recon_state(unet, cfg)
    last, best = CheckpointSlot(run_dir, "last"), CheckpointSlot(run_dir, "best")
    history: dict = {k: [] for k in ("epoch", "l1", "g_adv", "d_loss", "val_l1_mask", "val_ssim_mask", "images_per_s")}
    if last.latest_step is not None:
        (g_state, d_state), history = last.restore((g_state, d_state))
        log(f"resuming from {last.directory} after epoch {last.latest_step}")
    g_step, d_step = make_recon_steps(g_def, d_def, cfg)
    preview = val.take(np.arange(min(8, len(val))))

    for epoch in range(len(history["epoch"]), cfg.epochs):
        order = epoch_order(len(train), cfg.seed, epoch)
        n_batches = len(train) // cfg.batch_size
        sums = {"l1": 0.0, "g_adv": 0.0, "d_loss": 0.0}
        t0, timed = None, 0
        for i in tqdm(range(n_batches), desc=f"U-Net epoch {epoch + 1}/{cfg.epochs}", disable=not progress, leave=False):
            batch = _batch(train, order[i * cfg.batch_size : (i + 1) * cfg.batch_size])
            g_state, fakes, gm = g_step(g_state, d_state, *batch, table)
            d_state, dm = d_step(d_state, *batch, fakes, table)
            if i == 0:
                jax.block_until_ready(dm)
                t0 = time.perf_counter()
            else:
                timed += cfg.batch_size
            for k, v in {**gm, **dm}.items():
                if k in sums:
                    sums[k] += float(v)
        jax.block_until_ready(g_state)
        generate = make_generate(g_def, g_state, cfg)
        val_metrics = evaluate_images(generate_all(generate, val, np.asarray(table), cfg.batch_size), val)
        history["epoch"].append(epoch + 1)
        for k in sums:
            history[k].append(sums[k] / max(1, n_batches))
        history["val_l1_mask"].append(val_metrics["l1_mask"])
        history["val_ssim_mask"].append(val_metrics["ssim_mask"])
        history["images_per_s"].append(timed / (time.perf_counter() - t0) if timed else float("nan"))
        log(f"epoch {epoch + 1}/{cfg.epochs}: L1 {history['l1'][-1]:.4f} G adv {history['g_adv'][-1]:.3f} D {history['d_loss'][-1]:.3f} | "
            f"val L1 (mask) {val_metrics['l1_mask']:.4f} SSIM (mask) {val_metrics['ssim_mask']:.4f} | {history['images_per_s'][-1]:.1f} img/s")
        save_preview(run_dir / "previews" / f"epoch_{epoch + 1:03d}.png", preview, generate_all(generate, preview, np.asarray(table), cfg.batch_size))
        last.save(epoch + 1, (g_state, d_state), history)
        if history["val_l1_mask"][-1] <= min(history["val_l1_mask"]):
            best.save(epoch + 1, (g_state, d_state), history)

    (g_state, _), _ = best.restore((g_state, d_state))
    best_epoch = int(best.latest_step)
    last.close()
    best.close()
    test = evaluate_recon(make_generate(g_def, g_state, cfg), data["test"], train, np.asarray(table), cfg)
    test["best_epoch"] = best_epoch
    write_json(run_dir / "test_metrics.json", test)
    return ReconRun(run_dir, encoding, g_def, g_state, np.asarray(table), history, test, cfg)


def evaluate_recon(generate: Callable, test: FaceFactors, train: FaceFactors, table: np.ndarray, cfg: ReconTrainConfig) -> dict:
    """Test metrics of the U-Net and of the mean-face-colour baseline on the same faces."""
    recon = generate_all(generate, test, table, cfg.batch_size)
    colour = mean_face_colour(train)
    baseline = fill_mask(test.images.astype(np.float32) / 255.0, test.masks, colour)
    return {
        "unet": evaluate_images(recon, test),
        "mean_colour_baseline": evaluate_images(baseline.astype(np.float32), test),
        "n_test_faces": int(len(test)),
        "n_excluded": int(len(test.excluded)),
    }


def load_or_train_recon(profile: Profile, dataset: CelebA, encoding: str = "onehot", progress: bool = True, log: Callable[[str], None] = print) -> ReconRun:
    """The finished run of (`profile`, `encoding`) if on disk, else train it (resuming a partial run)."""
    run_dir = run_dir_for(profile, dataset, encoding)
    if not (run_dir / "test_metrics.json").exists():
        return train_recon(profile, dataset, encoding, run_dir, progress=progress, log=log)
    run = load_run(run_dir, profile, encoding)
    log(f"loaded the finished run {run_dir.name} ({len(run.history['epoch'])} epochs) from {run_dir.parent}")
    return run


def load_run(run_dir: Path, profile: Profile, encoding: str) -> ReconRun:
    """A finished run: the best generator, the saved attribute table, the full history, the test metrics."""
    cfg = profile.recon
    g_def, g_state, d_def, d_state = create_recon_state(profile.unet, cfg)
    (g_state, _), history, test = restore_finished(run_dir, (g_state, d_state))
    table = attribute_table(encoding, np.zeros((0, 40)), run_dir)
    return ReconRun(run_dir, encoding, g_def, g_state, table, history, test, cfg)

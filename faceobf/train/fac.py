"""Train the face attribute classifier (ResNet-50, 40 sigmoid outputs) as the seed did.

Adam with default settings, binary cross-entropy summed over the 40 attributes, and the mean
per-attribute accuracy as metric. Steps are `jax.jit` functions over the explicit nnx state of
(model, optimizer); the Python loop only feeds batches, so a step costs what XLA costs.
Each epoch ends with a `last` checkpoint (resume point) and, when validation improves, a `best` one.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import jax
import numpy as np
import optax
from flax import nnx
from tqdm.auto import tqdm

from faceobf.data.batches import iterate_batches
from faceobf.data.dataset import CelebA, sample_rows
from faceobf.io import write_json
from faceobf.models.resnet import ResNet, ResNetConfig
from faceobf.paths import runs_root
from faceobf.profiles import FACTrainConfig, Profile
from faceobf.train.checkpoints import CheckpointSlot, claim_run_dir, restore_finished
from faceobf.train.losses import (
    batch_accuracy,
    majority_baseline,
    mean_attribute_accuracy,
    per_attribute_accuracy,
    summed_bce,
)


def create_train_state(model_config: ResNetConfig, train_config: FACTrainConfig) -> tuple[nnx.GraphDef, nnx.State]:
    """Split a fresh (model, Adam optimizer) pair into a static graph and the explicit state to train."""
    model = ResNet(model_config, rngs=nnx.Rngs(train_config.seed))
    optimizer = nnx.Optimizer(model, optax.adam(train_config.learning_rate), wrt=nnx.Param)
    return nnx.split((model, optimizer))


def make_train_step(graphdef: nnx.GraphDef) -> Callable:
    """A jitted `(state, images, labels) -> (state, loss, accuracy)`; the state buffer is donated."""

    def step(state: nnx.State, images: jax.Array, labels: jax.Array):
        model, optimizer = nnx.merge(graphdef, state)

        def loss_fn(model: ResNet):
            logits = model(images)
            return summed_bce(logits, labels), logits

        (loss, logits), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model)
        optimizer.update(model, grads)
        return nnx.state((model, optimizer)), loss, batch_accuracy(logits, labels)

    return jax.jit(step, donate_argnums=0)


def make_predict(graphdef: nnx.GraphDef, state: nnx.State) -> Callable[[np.ndarray], np.ndarray]:
    """A jitted inference function (batch-norm running averages) over the model part of `state`."""
    model, _ = nnx.merge(graphdef, state)
    model.eval()
    model_graphdef, model_state = nnx.split(model)

    @jax.jit
    def predict(model_state: nnx.State, images: jax.Array) -> jax.Array:
        return jax.nn.sigmoid(nnx.merge(model_graphdef, model_state)(images))

    return lambda images: np.asarray(predict(model_state, images))


def predict_in_batches(predict: Callable, images_uint8: np.ndarray, batch_size: int) -> np.ndarray:
    """Probabilities for all images, padding the last batch so that only one shape is compiled."""
    out = []
    for start in range(0, len(images_uint8), batch_size):
        chunk = images_uint8[start : start + batch_size].astype(np.float32) / 255.0
        n = len(chunk)
        if n < batch_size:
            chunk = np.concatenate([chunk, np.zeros((batch_size - n, *chunk.shape[1:]), np.float32)])
        out.append(predict(chunk)[:n])
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


@dataclass
class FACRun:
    """A trained classifier and what its run recorded: per-epoch history and test metrics."""

    run_dir: Path
    graphdef: nnx.GraphDef
    state: nnx.State
    history: dict
    test: dict

    def predictor(self) -> Callable[[np.ndarray], np.ndarray]:
        return make_predict(self.graphdef, self.state)

    def model(self) -> ResNet:
        model, _ = nnx.merge(self.graphdef, self.state)
        model.eval()
        return model


def run_dir_for(profile: Profile, dataset: CelebA) -> Path:
    return runs_root() / f"fac-{profile.name}-{dataset.key}"


def _config_record(model_config: ResNetConfig, train_config: FACTrainConfig) -> dict:
    return {"model": dataclasses.asdict(model_config), "train": dataclasses.asdict(train_config)}


def train_fac(
    profile: Profile,
    dataset: CelebA,
    run_dir: Path | None = None,
    model_config: ResNetConfig = ResNetConfig(),
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> FACRun:
    """Train (or resume) the FAC under `profile`, then evaluate the best checkpoint on the test split."""
    cfg = profile.fac
    run_dir = Path(run_dir or run_dir_for(profile, dataset))
    claim_run_dir(run_dir, _config_record(model_config, cfg))

    train_rows = sample_rows(dataset.split("train"), cfg.train_limit, cfg.seed)
    val_rows = sample_rows(dataset.split("val"), cfg.eval_limit, cfg.seed)
    test_rows = sample_rows(dataset.split("test"), cfg.eval_limit, cfg.seed)
    all_rows = np.concatenate([train_rows, val_rows, test_rows])
    dataset.image_cache(cfg.resolution).ensure(all_rows, progress=progress)
    train_x = dataset.images(train_rows, cfg.resolution, progress=False)
    train_y = dataset.attributes[train_rows]
    val_x = dataset.images(val_rows, cfg.resolution, progress=False)
    val_y = dataset.attributes[val_rows]

    graphdef, state = create_train_state(model_config, cfg)
    last, best = CheckpointSlot(run_dir, "last"), CheckpointSlot(run_dir, "best")
    history: dict = {"epoch": [], "train_loss": [], "train_acc": [], "val_loss": [], "val_acc": [], "images_per_s": []}
    if last.latest_step is not None:
        state, history = last.restore(state)
        log(f"resuming from {last.directory} after epoch {last.latest_step}")
    start_epoch = len(history["epoch"])

    train_step = make_train_step(graphdef)
    for epoch in range(start_epoch, cfg.epochs):
        losses, accs = [], []
        n_batches = len(train_x) // cfg.batch_size
        bar = tqdm(total=n_batches, desc=f"FAC epoch {epoch + 1}/{cfg.epochs}", disable=not progress, leave=False)
        t0, timed_images, t_first = None, 0, time.perf_counter()
        for i, batch in enumerate(iterate_batches(train_x, train_y, cfg.batch_size, seed=cfg.seed, epoch=epoch, hflip=cfg.hflip)):
            state, loss, acc = train_step(state, batch.images, batch.labels)
            if i == 0:
                loss.block_until_ready()  # exclude compilation from the throughput
                t0 = time.perf_counter()
            else:
                timed_images += len(batch.images)
            losses.append(loss)
            accs.append(acc)
            bar.update(1)
            if i % 10 == 0:
                bar.set_postfix(loss=f"{float(loss):.2f}")
        jax.block_until_ready(state)
        bar.close()
        elapsed = time.perf_counter() - (t0 or t_first)
        predict = make_predict(graphdef, state)
        val_p = predict_in_batches(predict, val_x, cfg.batch_size)
        val_loss = _bce_from_proba(val_p, val_y)
        history["epoch"].append(epoch + 1)
        history["train_loss"].append(float(np.mean([float(l) for l in losses])))
        history["train_acc"].append(float(np.mean([float(a) for a in accs])))
        history["val_loss"].append(val_loss)
        history["val_acc"].append(mean_attribute_accuracy(val_p, val_y))
        history["images_per_s"].append(timed_images / elapsed if timed_images else float("nan"))
        log(
            f"epoch {epoch + 1}/{cfg.epochs}: train loss {history['train_loss'][-1]:.3f} acc {history['train_acc'][-1]:.4f} | "
            f"val loss {val_loss:.3f} acc {history['val_acc'][-1]:.4f} | {history['images_per_s'][-1]:.1f} img/s"
        )
        last.save(epoch + 1, state, history)
        if history["val_acc"][-1] >= max(history["val_acc"]):
            best.save(epoch + 1, state, history)

    best_state, _ = best.restore(state)
    last.close()
    best.close()
    test = evaluate_on_test(graphdef, best_state, dataset, train_rows, test_rows, cfg)
    test["best_epoch"] = int(best.latest_step)
    write_json(run_dir / "test_metrics.json", test)
    return FACRun(run_dir, graphdef, best_state, history, test)


def _bce_from_proba(p: np.ndarray, y: np.ndarray) -> float:
    """Summed-over-attributes BCE from probabilities, averaged over images (for validation)."""
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).sum(axis=1).mean())


def evaluate_on_test(graphdef, state, dataset: CelebA, train_rows, test_rows, cfg: FACTrainConfig) -> dict:
    """Per-attribute test accuracy of the model and of the majority-class baseline."""
    test_x = dataset.images(test_rows, cfg.resolution, progress=False)
    test_y = dataset.attributes[test_rows]
    probs = predict_in_batches(make_predict(graphdef, state), test_x, cfg.batch_size)
    acc = per_attribute_accuracy(probs, test_y)
    base = majority_baseline(dataset.attributes[train_rows], test_y)
    return {
        "attributes": list(dataset.attribute_names),
        "accuracy": [float(a) for a in acc],
        "majority_baseline": [float(b) for b in base],
        "mean_accuracy": float(acc.mean()),
        "mean_majority_baseline": float(base.mean()),
        "n_test_images": int(len(test_rows)),
        "n_train_images": int(len(train_rows)),
    }


def load_or_train_fac(
    profile: Profile,
    dataset: CelebA,
    model_config: ResNetConfig = ResNetConfig(),
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> FACRun:
    """The finished run of `profile` if one is on disk, else train it (resuming a partial run)."""
    run_dir = run_dir_for(profile, dataset)
    if (run_dir / "test_metrics.json").exists():
        run = load_run(run_dir, profile, model_config)
        log(f"loaded the finished run {run_dir.name} ({len(run.history['epoch'])} epochs) from {run_dir.parent}")
        return run
    return train_fac(profile, dataset, run_dir, model_config, progress=progress, log=log)


def load_run(run_dir: Path, profile: Profile, model_config: ResNetConfig = ResNetConfig()) -> FACRun:
    """A finished run: the best checkpoint's state, the full history and the test metrics."""
    graphdef, state = create_train_state(model_config, profile.fac)
    state, history, test = restore_finished(run_dir, state)
    return FACRun(run_dir, graphdef, state, history, test)

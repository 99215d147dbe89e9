"""Train the face attribute classifier (ResNet-50, 40 sigmoid outputs) as the seed did.

Adam with default settings, binary cross-entropy summed over the 40 attributes, and the mean
per-attribute accuracy as metric. The step is a `jax.jit` function over the explicit nnx state of
(model, optimizer), run by the shared loop (`faceobf.train.loop.fit`): prefetched uint8 batches,
metrics summed on the device, a `last` checkpoint each epoch and a `best` one on validation accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import jax
import numpy as np
import optax
from flax import nnx

from faceobf import runs, shipped
from faceobf.data.batches import iterate_batches
from faceobf.data.dataset import CelebA, sample_rows
from faceobf.disentangle.classifier import AttributeClassifier
from faceobf.inference import as_float_images
from faceobf.io import write_json
from faceobf.models.resnet import ResNet, ResNetConfig
from faceobf.profiles import FACTrainConfig, Profile
from faceobf.train.checkpoints import restore_run
from faceobf.train.loop import fit
from faceobf.train.parallel import DataParallel, batch_sharding
from faceobf.train.losses import (batch_accuracy, majority_baseline, mean_attribute_accuracy, per_attribute_accuracy,
                                  per_attribute_balanced_accuracy, summed_bce)


def create_train_state(model_config: ResNetConfig, train_config: FACTrainConfig) -> tuple[nnx.GraphDef, nnx.State]:
    """Split a fresh (model, Adam optimizer) pair into a static graph and the explicit state to train."""
    model = ResNet(model_config, rngs=nnx.Rngs(train_config.seed))
    optimizer = nnx.Optimizer(model, optax.adam(train_config.learning_rate), wrt=nnx.Param)
    return nnx.split((model, optimizer))


def make_train_step(graphdef: nnx.GraphDef) -> Callable:
    """A jitted `(state, images, labels) -> (state, {train_loss, train_acc})`; images may be uint8; the state is donated."""

    def step(state: nnx.State, images: jax.Array, labels: jax.Array):
        model, optimizer = nnx.merge(graphdef, state)
        labels = labels.astype(jax.numpy.float32)

        def loss_fn(model: ResNet):
            logits = model(as_float_images(images))
            return summed_bce(logits, labels), logits

        (loss, logits), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model)
        optimizer.update(model, grads)
        return nnx.state((model, optimizer)), {"train_loss": loss, "train_acc": batch_accuracy(logits, labels)}

    return jax.jit(step, donate_argnums=0)


@dataclass
class FACRun:
    """A trained classifier and what its run recorded: per-epoch history and test metrics."""

    run_dir: Path
    graphdef: nnx.GraphDef
    state: nnx.State
    history: dict
    test: dict
    resolution: int
    batch_size: int

    def model(self) -> ResNet:
        model, _ = nnx.merge(self.graphdef, self.state)
        model.eval()
        return model

    def classifier(self) -> AttributeClassifier:
        """The trained network as stage 1's attribute classifier (batched, jitted, evaluation mode)."""
        return AttributeClassifier(self.model(), self.resolution, self.batch_size)


def _classifier(graphdef: nnx.GraphDef, state: nnx.State, cfg: FACTrainConfig) -> AttributeClassifier:
    model, _ = nnx.merge(graphdef, state)
    return AttributeClassifier(model, cfg.resolution, cfg.batch_size)


def train_fac(
    profile: Profile,
    dataset: CelebA,
    run_dir: Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> FACRun:
    """Train (or resume) the FAC under `profile`, then evaluate the best checkpoint on the test split."""
    cfg, model_config = profile.fac, profile.fac_model
    run_dir = runs.claim(runs.RunSpec.fac(profile), dataset.key, run_dir)

    train_rows = sample_rows(dataset.split("train"), cfg.train_limit, cfg.seed)
    val_rows = sample_rows(dataset.split("val"), cfg.eval_limit, cfg.seed)
    test_rows = sample_rows(dataset.split("test"), cfg.eval_limit, cfg.seed)
    dataset.image_cache(cfg.resolution).ensure(np.concatenate([train_rows, val_rows, test_rows]), progress=progress)
    train_x = dataset.images(train_rows, cfg.resolution, progress=False)
    train_y = dataset.attributes[train_rows]
    val_x = dataset.images(val_rows, cfg.resolution, progress=False)
    val_y = dataset.attributes[val_rows]

    graphdef, state = create_train_state(model_config, cfg)
    classifier = _classifier(graphdef, state, cfg)  # compiled once, given each epoch's weights
    parallel = DataParallel.over(cfg.batch_size)  # every local device that divides the batch; None on one

    def validate(state: nnx.State) -> dict[str, float]:
        p = classifier.with_weights(nnx.merge(graphdef, state)[0]).probabilities(val_x)
        return {"val_loss": _bce_from_proba(p, val_y), "val_acc": mean_attribute_accuracy(p, val_y)}

    state, history, best_epoch = fit(
        state, make_train_step(graphdef),
        lambda epoch: iterate_batches((train_x, train_y), cfg.batch_size, seed=cfg.seed, epoch=epoch, hflip=cfg.hflip,
                                      sharding=batch_sharding(parallel)),
        cfg.epochs, run_dir=run_dir, validate=validate, best=("val_acc", "max"),
        steps_per_epoch=len(train_x) // cfg.batch_size, desc="FAC", progress=progress, log=log, parallel=parallel,
    )
    test = evaluate_on_test(classifier.with_weights(nnx.merge(graphdef, state)[0]), dataset, train_rows, test_rows, cfg)
    test["best_epoch"] = best_epoch
    shipped.save_network(run_dir, nnx.merge(graphdef, state)[0])  # what inference reads, before the run is finished
    write_json(run_dir / runs.FINISHED, test)
    return FACRun(run_dir, graphdef, state, history, test, cfg.resolution, cfg.batch_size)


def _bce_from_proba(p: np.ndarray, y: np.ndarray) -> float:
    """Summed-over-attributes BCE from probabilities, averaged over images (for validation)."""
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).sum(axis=1).mean())


def evaluate_on_test(classifier: AttributeClassifier, dataset: CelebA, train_rows, test_rows, cfg: FACTrainConfig) -> dict:
    """Per-attribute test accuracy of the model and of the majority-class baseline."""
    test_y = dataset.attributes[test_rows]
    probs = classifier.probabilities(dataset.images(test_rows, cfg.resolution, progress=False))
    acc = per_attribute_accuracy(probs, test_y)
    base = majority_baseline(dataset.attributes[train_rows], test_y)
    return {
        "attributes": list(dataset.attribute_names),
        "accuracy": [float(a) for a in acc],
        "majority_baseline": [float(b) for b in base],
        "balanced_accuracy": [float(b) for b in per_attribute_balanced_accuracy(probs, test_y)],
        "mean_accuracy": float(acc.mean()),
        "mean_majority_baseline": float(base.mean()),
        "n_test_images": int(len(test_rows)),
        "n_train_images": int(len(train_rows)),
    }


def load_or_train_fac(profile: Profile, dataset: CelebA, progress: bool = True, log: Callable[[str], None] = print) -> FACRun:
    """The finished run of `profile` on this data set if one is on disk, else train it (resuming a partial run)."""
    spec = runs.RunSpec.fac(profile)
    try:
        run_dir = shipped.find_or_install(spec, dataset.key)
    except runs.MissingCheckpointError:
        return train_fac(profile, dataset, progress=progress, log=log)
    run = load_run(run_dir, profile)
    log(runs.loaded_line(run_dir, len(run.history["epoch"]), "run"))
    return run


def load_run(run_dir: Path, profile: Profile) -> FACRun:
    """A finished run, checked against `profile`: the best checkpoint's state, the full history, the test metrics."""
    runs.check(run_dir, runs.RunSpec.fac(profile))
    graphdef, state = create_train_state(profile.fac_model, profile.fac)
    state, history, test = restore_run(run_dir, graphdef, state)
    return FACRun(run_dir, graphdef, state, history, test, profile.fac.resolution, profile.fac.batch_size)

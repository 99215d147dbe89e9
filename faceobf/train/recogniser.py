"""Train the second face recogniser (ResNet-50 + ArcFace) on the train identities; judge it on unseen people.

Training: ArcFace's softmax cross-entropy over the train split's identities, Adam, horizontal flips,
one jitted step over explicit nnx state run by the shared loop (checkpoints each epoch, resumable).
Validation and test are open-set, as the evaluation uses it: on the val (test) split, whose people the
network never saw, Recall@1 of each image's nearest other image by cosine distance; the best epoch by
val Recall@1 is kept. `Recogniser` embeddings of any crops come from `RecogniserRun.embed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import jax
import numpy as np
import optax
from flax import nnx

from faceobf import runs
from faceobf.data.batches import iterate_batches
from faceobf.data.dataset import CelebA, sample_rows
from faceobf.inference import BatchedModel, as_float_images
from faceobf.data.images import resize_images
from faceobf.io import write_json
from faceobf.models.recogniser import Recogniser, RecogniserConfig
from faceobf.profiles import Profile
from faceobf.train.checkpoints import restore_finished
from faceobf.train.loop import fit
from faceobf.train.parallel import DataParallel, batch_sharding


def _resize(crops: np.ndarray, resolution: int) -> np.ndarray:
    return resize_images(np.asarray(crops, np.uint8), resolution)


def create_train_state(config: RecogniserConfig, n_identities: int) -> tuple[nnx.GraphDef, nnx.State]:
    """A fresh (recogniser, Adam) pair split into its graph and explicit state."""
    model = Recogniser(config, n_identities, rngs=nnx.Rngs(config.seed))
    optimizer = nnx.Optimizer(model, optax.adam(config.learning_rate), wrt=nnx.Param)
    return nnx.split((model, optimizer))


def make_train_step(graphdef: nnx.GraphDef) -> Callable:
    """Jitted `(state, images, labels) -> (state, {train_loss, train_acc})` with ArcFace's loss; the state is donated."""

    def step(state, images, labels):
        model, optimizer = nnx.merge(graphdef, state)

        def loss_fn(model: Recogniser):
            logits = model.arcface_logits(model(as_float_images(images)), labels)
            return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean(), logits

        (loss, logits), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model)
        optimizer.update(model, grads)
        return nnx.state((model, optimizer)), {"train_loss": loss, "train_acc": (logits.argmax(-1) == labels).mean()}

    return jax.jit(step, donate_argnums=0)


def open_set_recall(embeddings: np.ndarray, identities: np.ndarray) -> float:
    """Recall@1 of each embedding's nearest other embedding (cosine) among faces of people never trained on."""
    e = np.asarray(embeddings, np.float64)
    similarity = e @ e.T
    np.fill_diagonal(similarity, -np.inf)
    return float((np.asarray(identities)[similarity.argmax(axis=1)] == np.asarray(identities)).mean())


@dataclass
class RecogniserRun:
    """A trained second recogniser and what its run recorded."""

    run_dir: Path
    graphdef: nnx.GraphDef
    state: nnx.State
    history: dict
    test: dict
    config: RecogniserConfig

    def embedder(self) -> BatchedModel:
        """uint8 crops at the recogniser's resolution -> (N, 128) unit embeddings, batched and jitted."""
        model, _ = nnx.merge(self.graphdef, self.state)
        return BatchedModel(model, lambda m, images: m(as_float_images(images)), self.config.batch_size)

    def embed(self, crops: np.ndarray) -> np.ndarray:
        """Unit embeddings of uint8 face crops of any size (resized to the recogniser's resolution)."""
        return self.embedder()(_resize(crops, self.config.resolution))


def _identities(dataset: CelebA, rows: np.ndarray) -> tuple[np.ndarray, int]:
    """Labels 0..K-1 of the identities of `rows`, and K."""
    ids = dataset.identities[rows]
    _, labels = np.unique(ids, return_inverse=True)
    return labels.astype(np.int32), int(labels.max() + 1)


def train_recogniser(profile: Profile, dataset: CelebA, run_dir: Path | None = None, progress: bool = True,
                     log: Callable[[str], None] = print) -> RecogniserRun:
    """Train (or resume) the second recogniser of `profile`, then measure its open-set Recall@1 on the test split."""
    run_dir = runs.claim(runs.RunSpec.recogniser(profile), dataset.key, run_dir)
    return fit_recogniser(profile.evaluation.recogniser, dataset, run_dir, progress, log=log)


def fit_recogniser(cfg: RecogniserConfig, dataset: CelebA, run_dir: Path, progress: bool = True, desc: str = "recogniser",
                   log: Callable[[str], None] = print) -> RecogniserRun:
    """Train (or resume) a recogniser of `cfg` on the train identities in `run_dir`, best epoch by val Recall@1, and
    measure its open-set Recall@1 on the test split (written as the run's test metrics)."""
    train_rows = sample_rows(dataset.split("train"), cfg.train_limit, cfg.seed)
    val_rows, test_rows = dataset.split("val"), dataset.split("test")
    labels, n_identities = _identities(dataset, train_rows)
    train_x = dataset.images(train_rows, cfg.resolution, progress=progress)
    val_x = dataset.images(val_rows, cfg.resolution, progress=False)
    graphdef, state = create_train_state(cfg, n_identities)
    model, _ = nnx.merge(graphdef, state)
    embedder = BatchedModel(model, lambda m, images: m(as_float_images(images)), cfg.batch_size)  # compiled once
    parallel = DataParallel.over(cfg.batch_size)

    def validate(state) -> dict[str, float]:
        current = embedder.with_weights(nnx.merge(graphdef, state)[0])
        return {"val_recall_at_1": open_set_recall(current(val_x), dataset.identities[val_rows])}

    state, history, best_epoch = fit(
        state, make_train_step(graphdef),
        lambda epoch: iterate_batches((train_x, labels), cfg.batch_size, seed=cfg.seed, epoch=epoch, hflip=cfg.hflip,
                                      sharding=batch_sharding(parallel)),
        cfg.epochs, run_dir=run_dir, validate=validate, best=("val_recall_at_1", "max"),
        steps_per_epoch=len(train_x) // cfg.batch_size, desc=desc, progress=progress, log=log, parallel=parallel,
    )
    final = embedder.with_weights(nnx.merge(graphdef, state)[0])
    test_ids = dataset.identities[test_rows]
    test = {"recall_at_1": open_set_recall(final(dataset.images(test_rows, cfg.resolution, progress=False)), test_ids),
            "chance": float(np.mean([(test_ids == i).sum() - 1 for i in test_ids]) / (len(test_rows) - 1)),
            "n_test_images": int(len(test_rows)), "n_test_identities": int(np.unique(test_ids).size),
            "n_train_images": int(len(train_rows)), "n_train_identities": n_identities, "best_epoch": best_epoch}
    write_json(run_dir / runs.FINISHED, test)
    return RecogniserRun(run_dir, graphdef, state, history, test, cfg)


def load_run(run_dir: Path, profile: Profile) -> RecogniserRun:
    """A finished run, checked against `profile`."""
    runs.check(run_dir, runs.RunSpec.recogniser(profile))
    return restore_recogniser(run_dir, profile.evaluation.recogniser)


def restore_recogniser(run_dir: Path, cfg: RecogniserConfig) -> RecogniserRun:
    """The best state of a finished recogniser run of `cfg` (no registry check: the caller owns the folder)."""
    import json

    n_identities = json.loads((Path(run_dir) / runs.FINISHED).read_text())["n_train_identities"]
    graphdef, state = create_train_state(cfg, n_identities)
    state, history, test = restore_finished(run_dir, state)
    return RecogniserRun(run_dir, graphdef, state, history, test, cfg)


def load_or_train_recogniser(profile: Profile, dataset: CelebA, progress: bool = True,
                             log: Callable[[str], None] = print) -> RecogniserRun:
    """The finished second recogniser of `profile` on this data set if on disk, else train it (resuming)."""
    try:
        run_dir = runs.find(runs.RunSpec.recogniser(profile), dataset.key)  # never shipped
    except runs.MissingCheckpointError:
        return train_recogniser(profile, dataset, progress=progress, log=log)
    run = load_run(run_dir, profile)
    log(runs.loaded_line(run_dir, len(run.history["epoch"]), "recogniser run"))
    return run

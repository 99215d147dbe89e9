"""The seed's own identity test (its table 3): a small CNN identity classifier trained on originals.

A classifier learns ~20 test identities from part of their original images; it is then asked to
name the held-out images, once as originals and once as each method processed them. The seed
reported 60% on originals, 36.67% after its 4 flips and 30% after flipping all attributes.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from faceobf.data.batches import iterate_batches
from faceobf.data.images import resize_images
from faceobf.inference import BatchedModel, as_float_images
from faceobf.models.identity_cnn import IdentityCNN, IdentityCNNConfig
from faceobf.train.loop import fit


def split_identities(identities: np.ndarray, n_identities: int, train_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train index, test index, chosen identities): the `n_identities` with most faces, each split in two."""
    values, counts = np.unique(identities, return_counts=True)
    chosen = values[np.argsort(-counts, kind="stable")][:n_identities]
    rng = np.random.default_rng(seed)
    train, test = [], []
    for identity in chosen:
        idx = rng.permutation(np.flatnonzero(identities == identity))
        cut = max(1, int(round(train_fraction * len(idx))))
        train.extend(idx[:cut])
        test.extend(idx[cut:])
    return np.sort(train), np.sort(test), chosen


def train_identity_cnn(crops: np.ndarray, labels: np.ndarray, n_classes: int,
                       config: IdentityCNNConfig = IdentityCNNConfig()) -> Callable[[np.ndarray], np.ndarray]:
    """Train on (uint8 crops, labels 0..n_classes-1) with the shared loop; returns crops -> predicted labels."""
    x, y = resize_images(crops, config.resolution), np.asarray(labels, np.int32)
    model = IdentityCNN(n_classes, config, rngs=nnx.Rngs(config.seed))
    optimizer = nnx.Optimizer(model, optax.adam(config.learning_rate), wrt=nnx.Param)
    graphdef, state = nnx.split((model, optimizer))

    @partial(jax.jit, donate_argnums=0)
    def step(state, images, targets):
        model, optimizer = nnx.merge(graphdef, state)
        model.train()

        def loss_fn(m):
            return optax.softmax_cross_entropy_with_integer_labels(m(as_float_images(images)), targets).mean()

        loss, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads)
        return nnx.state((model, optimizer)), {"train_loss": loss}

    batch = min(config.batch_size, len(x))  # fewer faces than a batch still train: one smaller batch per epoch
    state, history, _ = fit(state, step, lambda epoch: iterate_batches((x, y), batch, seed=config.seed, epoch=epoch, hflip=True),
                            config.epochs, progress=False, log=lambda line: None)
    if "train_loss" not in history:  # a loss is only recorded when a step ran
        raise RuntimeError(f"the identity CNN made no training step ({len(x)} faces, batch {config.batch_size})")
    model, _ = nnx.merge(graphdef, state)
    classify = BatchedModel(model, lambda m, images: jnp.argmax(m(as_float_images(images)), axis=-1), config.batch_size)
    return lambda crops: classify(resize_images(crops, config.resolution))


def seed_protocol(original_crops: np.ndarray, identities: np.ndarray, processed: dict[str, tuple[np.ndarray, np.ndarray]],
                  n_identities: int, config: IdentityCNNConfig = IdentityCNNConfig()) -> dict[str, dict]:
    """Accuracy of the identity CNN on held-out originals and on their processed versions.

    `processed[name] = (crops, index)`: a method's crops and which faces (indices into the originals)
    they are; a method that processed only some faces is scored on the held-out faces it has.
    """
    train, test, chosen = split_identities(identities, n_identities, config.train_fraction, config.seed)
    label_of = {int(v): k for k, v in enumerate(chosen)}
    labels = np.array([label_of.get(int(i), -1) for i in identities])
    predict = train_identity_cnn(np.asarray(original_crops)[train], labels[train], len(chosen), config)
    out = {}
    for name, (crops, index) in processed.items():
        position = {int(j): k for k, j in enumerate(index)}
        have = [j for j in test if int(j) in position]
        if not have:
            continue
        guess = predict(np.asarray(crops)[[position[int(j)] for j in have]])
        out[name] = {"accuracy": float((guess == labels[have]).mean()), "faces": len(have),
                     "identities": len(chosen), "chance": 1.0 / len(chosen), "train_faces": int(len(train))}
    return out

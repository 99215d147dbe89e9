"""The seed's own identity test (its table 3): a small CNN identity classifier trained on originals.

A classifier learns ~20 test identities from part of their original images; it is then asked to
name the held-out images, once as originals and once as each method processed them. The seed
reported 60% on originals, 36.67% after its 4 flips and 30% after flipping all attributes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from faceobf.data.images import resize_images


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


class IdentityCNN(nnx.Module):
    """conv3x3-BN-ReLU-maxpool blocks, global average pooling, a linear layer over identities."""

    def __init__(self, n_classes: int, config: IdentityCNNConfig, *, rngs: nnx.Rngs):
        convs, norms, cin = [], [], 3
        for width in config.widths:
            convs.append(nnx.Conv(cin, width, (3, 3), rngs=rngs))
            norms.append(nnx.BatchNorm(width, rngs=rngs))
            cin = width
        self.convs, self.norms = nnx.List(convs), nnx.List(norms)
        self.dropout = nnx.Dropout(0.3, rngs=rngs)
        self.head = nnx.Linear(cin, n_classes, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = (x - 0.5) / 0.25
        for conv, norm in zip(self.convs, self.norms):
            x = nnx.max_pool(nnx.relu(norm(conv(x))), (2, 2), strides=(2, 2))
        return self.head(self.dropout(x.mean(axis=(1, 2))))


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


def _prepare(crops: np.ndarray, resolution: int) -> np.ndarray:
    return resize_images(crops, resolution).astype(np.float32) / 255.0


def train_identity_cnn(crops: np.ndarray, labels: np.ndarray, n_classes: int,
                       config: IdentityCNNConfig = IdentityCNNConfig()) -> Callable[[np.ndarray], np.ndarray]:
    """Train on (crops, labels 0..n_classes-1); returns a function crops -> predicted labels."""
    x, y = _prepare(crops, config.resolution), np.asarray(labels, np.int32)
    model = IdentityCNN(n_classes, config, rngs=nnx.Rngs(config.seed))
    optimizer = nnx.Optimizer(model, optax.adam(config.learning_rate), wrt=nnx.Param)
    graphdef, state = nnx.split((model, optimizer))

    @jax.jit
    def step(state, images, targets):
        model, optimizer = nnx.merge(graphdef, state)
        model.train()

        def loss_fn(m):
            return optax.softmax_cross_entropy_with_integer_labels(m(images), targets).mean()

        loss, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads)
        return nnx.state((model, optimizer)), loss

    rng = np.random.default_rng(config.seed)
    for _ in range(config.epochs):
        order = rng.permutation(len(x))
        for s in range(0, len(order) - config.batch_size + 1, config.batch_size):
            idx = order[s : s + config.batch_size]
            batch = x[idx]
            flip = rng.random(len(idx)) < 0.5
            batch = np.where(flip[:, None, None, None], batch[:, :, ::-1], batch)
            state, _ = step(state, batch, y[idx])
    model, _ = nnx.merge(graphdef, state)
    model.eval()
    m_def, m_state = nnx.split(model)
    predict = jax.jit(lambda st, images: jnp.argmax(nnx.merge(m_def, st)(images), axis=-1))
    return lambda crops: np.asarray(predict(m_state, _prepare(crops, config.resolution)))


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

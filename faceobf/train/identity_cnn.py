"""The seed protocol's identity CNN, trained on the spot: ~20 identities from part of their original images."""

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

"""The second face recogniser (chapter 4): a ResNet-50 trunk and an additive-angular-margin (ArcFace) head.

It exists so that no obfuscation is judged only by the recogniser a policy optimises: the identity-aware
policy maximises dlib's descriptor distance, and this network, trained here on the data set's train
identities and never shown to any policy, judges it independently. The trunk is the chapter-1 ResNet
(a fresh one, not the attribute classifier's weights); a linear layer and batch norm give a 128-d
embedding, normalised to the unit sphere. Training uses ArcFace's loss (Deng et al., 2019): the logit
of the true identity is s * cos(theta + m), the others s * cos(theta), with theta the angle between the
embedding and the identity's centre. At test time only embeddings are used: faces of unseen people are
compared by cosine distance.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from faceobf.models.configs import RecogniserConfig  # noqa: F401 (re-exported)
from faceobf.models.resnet import ResNet


def _normalise(x: jax.Array) -> jax.Array:
    return x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


class Recogniser(nnx.Module):
    """Images in [0, 1] -> unit 128-d embeddings; `arcface_logits` for training on `n_identities` people."""

    def __init__(self, config: RecogniserConfig, n_identities: int, *, rngs: nnx.Rngs):
        self.config = config
        self.trunk = ResNet(config.trunk, rngs=rngs)
        self.project = nnx.Linear(self.trunk.feature_dim, config.embedding, rngs=rngs)
        self.norm = nnx.BatchNorm(config.embedding, rngs=rngs)
        self.centres = nnx.Param(jax.random.normal(rngs.params(), (n_identities, config.embedding)) * 0.01)

    def __call__(self, images: jax.Array) -> jax.Array:
        """(B, 128) unit embeddings."""
        return _normalise(self.norm(self.project(self.trunk.features(images))))

    def arcface_logits(self, embeddings: jax.Array, labels: jax.Array) -> jax.Array:
        """(B, n_identities) logits with the angular margin added to each true identity's angle."""
        cosine = embeddings @ _normalise(self.centres[...]).T
        theta = jnp.arccos(jnp.clip(cosine, -1.0 + 1e-6, 1.0 - 1e-6))
        true = jax.nn.one_hot(labels, cosine.shape[-1], dtype=bool)
        # past pi - m, cos(theta + m) would rise again: use cos(theta) - m sin(m) there (the easy-margin-free variant)
        target = jnp.where(theta + self.config.margin < jnp.pi, jnp.cos(theta + self.config.margin),
                           cosine - self.config.margin * jnp.sin(self.config.margin))
        return self.config.scale * jnp.where(true, target, cosine)

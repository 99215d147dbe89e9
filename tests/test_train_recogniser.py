"""The second recogniser: ArcFace's margin, open-set Recall@1, training through the registry, embeddings of unseen faces."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from faceobf.models.recogniser import Recogniser, RecogniserConfig
from faceobf.models.resnet import ResNetConfig
from faceobf.train.recogniser import open_set_recall

TINY = RecogniserConfig(trunk=ResNetConfig(stage_sizes=(1, 1), base_width=8, num_outputs=1), resolution=32, embedding=16,
                        epochs=2, batch_size=4)


def test_the_margin_lowers_only_the_true_identitys_logit() -> None:
    model = Recogniser(TINY, 5, rngs=nnx.Rngs(0))
    model.eval()
    emb = model(jnp.asarray(np.random.default_rng(0).random((3, 32, 32, 3), np.float32)))
    assert np.allclose(np.linalg.norm(np.asarray(emb), axis=1), 1.0, atol=1e-5)
    labels = jnp.array([0, 3, 4])
    with_margin = np.asarray(model.arcface_logits(emb, labels))
    without = np.asarray(_with_margin(model, 0.0).arcface_logits(emb, labels))
    rows = np.arange(3)
    assert (with_margin[rows, labels] < without[rows, labels]).all()  # the true class must win by the margin
    others = np.ones_like(with_margin, bool)
    others[rows, labels] = False
    np.testing.assert_allclose(with_margin[others], without[others], rtol=1e-6)


def _with_margin(model: Recogniser, margin: float) -> Recogniser:
    model.config = replace(model.config, margin=margin)
    return model


def test_open_set_recall_counts_nearest_other_faces() -> None:
    e = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9], [0.8, 0.2]], float)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    assert open_set_recall(e, np.array([0, 0, 1, 1, 1])) == pytest.approx(4 / 5)  # the last one's nearest is person 0


@pytest.mark.slow
def test_training_through_the_registry_resumes_and_embeds(celeba_dir: Path) -> None:
    from faceobf.data import CelebA
    from faceobf.profiles import EvalConfig, FACTrainConfig, Profile
    from faceobf.train.recogniser import load_or_train_recogniser

    profile = Profile("test", FACTrainConfig(), None, "unit test", evaluation=EvalConfig(recogniser=TINY))
    dataset = CelebA.open(celeba_dir)
    run = load_or_train_recogniser(profile, dataset, progress=False, log=lambda line: None)
    assert len(run.history["epoch"]) == 2 and "val_recall_at_1" in run.history
    assert 0.0 <= run.test["recall_at_1"] <= 1.0 and run.test["n_train_identities"] == 2
    again = load_or_train_recogniser(profile, dataset, progress=False, log=lambda line: None)  # loaded, not retrained
    crops = dataset.images(dataset.split("test"), 64, progress=False)
    np.testing.assert_allclose(again.embed(crops), run.embed(crops), atol=1e-5)
    assert again.embed(crops).shape == (len(crops), 16)

"""ResNet-50 shape and size, the jitted train step, checkpoints and resuming."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jax
import numpy as np
import pytest
from flax import nnx

from faceobf.data import CelebA
from faceobf.models.resnet import ResNetConfig, count_parameters, predict_proba, resnet50
from faceobf.profiles import PROFILES, FACTrainConfig, Profile, get_profile
from faceobf.train import fac as fac_module
from faceobf.train.checkpoints import CheckpointSlot
from faceobf.train.fac import create_train_state, load_or_train_fac, make_train_step, train_fac
from faceobf.train.losses import majority_baseline, mean_attribute_accuracy, per_attribute_accuracy, summed_bce
from tests.conftest import interrupt_at_epoch

TINY = ResNetConfig(stage_sizes=(1, 1), base_width=8)


@pytest.mark.slow
def test_resnet50_output_and_parameter_count() -> None:
    model = resnet50()
    assert count_parameters(model) == 23_589_992  # 23.5M backbone + 2048*40+40 head
    probs = predict_proba(model, np.random.default_rng(0).random((2, 96, 96, 3), dtype=np.float32))
    assert probs.shape == (2, 40)
    assert ((probs > 0) & (probs < 1)).all()


def test_losses_and_metrics_on_known_values() -> None:
    labels = np.array([[1.0, 0.0], [0.0, 0.0]], np.float32)
    logits = np.zeros((2, 2), np.float32)
    assert float(summed_bce(logits, labels)) == pytest.approx(2 * np.log(2))  # summed over 2 attributes
    probs = np.array([[0.9, 0.2], [0.6, 0.1]])
    np.testing.assert_allclose(per_attribute_accuracy(probs, labels), [0.5, 1.0])
    assert mean_attribute_accuracy(probs, labels) == pytest.approx(0.75)
    np.testing.assert_allclose(majority_baseline(np.array([[1, 0], [1, 0], [0, 1]]), labels), [0.5, 1.0])


@pytest.mark.slow
def test_one_jit_train_step_lowers_the_loss_on_a_fixed_batch() -> None:
    cfg = FACTrainConfig(resolution=64, batch_size=8)
    graphdef, state = create_train_state(ResNetConfig(), cfg)
    step = make_train_step(graphdef)
    rng = np.random.default_rng(0)
    images = rng.random((8, 64, 64, 3), dtype=np.float32)
    labels = (rng.random((8, 40)) > 0.5).astype(np.float32)
    state, first = step(state, images, labels)
    for _ in range(3):
        state, metrics = step(state, images, labels)
    assert float(metrics["train_loss"]) < float(first["train_loss"])


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    graphdef, state = create_train_state(TINY, FACTrainConfig())
    slot = CheckpointSlot(tmp_path, "last")
    slot.save(3, state, {"epoch": [1, 2, 3]})
    _, fresh = create_train_state(TINY, dataclasses.replace(FACTrainConfig(), seed=1))
    restored, history = slot.restore(fresh)
    slot.close()
    assert history == {"epoch": [1, 2, 3]}
    for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(restored)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def _tiny_profile(epochs: int) -> Profile:
    fac = FACTrainConfig(resolution=32, batch_size=2, epochs=epochs, hflip=True)
    return Profile("test", fac, landmark_limit=None, description="unit test", fac_model=TINY)


@pytest.mark.slow
def test_training_resumes_after_an_interruption_without_losing_epochs(celeba_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ds = CelebA.open(celeba_dir)
    profile = _tiny_profile(epochs=3)
    run_dir = celeba_dir.parent / "run"
    real_iterate = interrupt_at_epoch(monkeypatch, fac_module, 2)  # killed in epoch 3
    with pytest.raises(KeyboardInterrupt):
        train_fac(profile, ds, run_dir, progress=False, log=lambda s: None)
    assert CheckpointSlot(run_dir, "last").latest_step == 2
    monkeypatch.setattr(fac_module, "iterate_batches", real_iterate)

    logs: list[str] = []
    resumed = train_fac(profile, ds, run_dir, progress=False, log=logs.append)
    assert any("resuming" in line and "after epoch 2" in line for line in logs)
    assert resumed.history["epoch"] == [1, 2, 3]

    # The same run without interruption gives the same epochs 1-2 (deterministic data order).
    straight = train_fac(profile, ds, celeba_dir.parent / "run2", progress=False, log=lambda s: None)
    np.testing.assert_allclose(straight.history["train_loss"][:2], resumed.history["train_loss"][:2], rtol=1e-5)
    test = json.loads((run_dir / "test_metrics.json").read_text())
    assert len(test["accuracy"]) == 40 and 0 <= test["mean_accuracy"] <= 1
    assert test["n_test_images"] == 3


@pytest.mark.slow
def test_load_or_train_trains_once_then_loads_the_best_state_and_full_history(celeba_dir: Path) -> None:
    ds = CelebA.open(celeba_dir)
    profile = _tiny_profile(epochs=2)
    trained = load_or_train_fac(profile, ds, progress=False, log=lambda s: None)
    logs: list[str] = []
    loaded = load_or_train_fac(profile, ds, progress=False, log=logs.append)
    assert logs and logs[0].startswith("loaded the finished run")
    assert loaded.history == trained.history and loaded.history["epoch"] == [1, 2]
    assert loaded.test == trained.test
    for a, b in zip(jax.tree.leaves(nnx.state(loaded.model())), jax.tree.leaves(nnx.state(trained.model()))):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.slow
def test_a_run_refuses_a_changed_configuration(celeba_dir: Path) -> None:
    ds = CelebA.open(celeba_dir)
    run_dir = celeba_dir.parent / "run"
    train_fac(_tiny_profile(1), ds, run_dir, progress=False, log=lambda s: None)
    with pytest.raises(ValueError, match="another configuration"):
        train_fac(_tiny_profile(2), ds, run_dir, progress=False, log=lambda s: None)


def test_profiles_are_known_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert set(PROFILES) == {"ci", "cpu", "gpu"}
    assert all(p.fac.resolution >= 96 for p in PROFILES.values())  # ResNet-50's last stage is slow on 2x2 maps
    with pytest.raises(ValueError, match="choose one of"):
        get_profile("laptop")
    from faceobf.profiles import active_profile

    monkeypatch.setenv("FACEOBF_PROFILE", "ci")
    assert active_profile().name == "ci"

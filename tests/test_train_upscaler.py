"""Training stage 3's upscaler through the registry: degraded inputs, resume, load, test metrics against bicubic."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from faceobf.data import CelebA
from faceobf.models.upscaler import UpscalerConfig
from faceobf.profiles import UpscalerTrainConfig, get_profile
from faceobf.train.upscaler import degrade, epoch_batches, load_or_train_upscaler


def test_degradation_halves_blurs_and_compresses_each_face_its_own_way() -> None:
    faces = np.tile(np.random.default_rng(0).integers(0, 256, (1, 32, 32, 3), dtype=np.uint8), (4, 1, 1, 1))
    cfg = UpscalerTrainConfig(blur_sigma=(0.0, 2.0), noise_sigma=(0.0, 4.0), jpeg_quality=(30, 90))
    low = degrade(faces, 2, cfg, np.random.default_rng(1))
    assert low.shape == (4, 16, 16, 3) and low.dtype == np.uint8
    assert len({low[i].tobytes() for i in range(4)}) == 4  # the same face, four different degradations
    np.testing.assert_array_equal(low, degrade(faces, 2, cfg, np.random.default_rng(1)))  # seeded


def test_each_training_pair_shows_the_same_face_the_same_way_round() -> None:
    rng = np.random.default_rng(0)
    faces = np.zeros((8, 32, 32, 3), np.uint8)
    faces[:, :, :8] = 220  # a bright left edge: a mirrored target with an unmirrored input (or back) would show it
    faces += rng.integers(0, 30, faces.shape, dtype=np.uint8)  # texture, no overflow
    cfg = UpscalerTrainConfig(batch_size=4, blur_sigma=(0.0, 0.0), noise_sigma=(0.0, 0.0), jpeg_quality=(95, 95))
    mirrored = 0
    for batch in epoch_batches(faces, 2, cfg, epoch=3):
        low, high = (np.asarray(a) for a in batch.arrays)
        halved = high.reshape(len(high), 16, 2, 16, 2, 3).mean(axis=(2, 4))
        assert np.abs(low.astype(float) - halved).mean(axis=(1, 2, 3)).max() < 15  # the input is its target, halved (a mirror: ~60)
        mirrored += int((high[:, :, -1] > 200).all(axis=(1, 2)).sum())  # the bright edge on the right
    assert 0 < mirrored < 8  # some faces mirrored, some not


@pytest.mark.slow
def test_training_through_the_registry_resumes_loads_and_compares_with_bicubic(celeba_dir: Path) -> None:
    profile = replace(get_profile("ci"), upscaler=UpscalerConfig(width=8, blocks=1),
                      upscaler_train=UpscalerTrainConfig(resolution=32, batch_size=2, epochs=2, eval_limit=4, adv_weight=0.0))
    dataset = CelebA.open(celeba_dir)
    run = load_or_train_upscaler(profile, dataset, progress=False, log=lambda line: None)
    assert run.history["epoch"] == [1, 2] and set(run.test) >= {"upscaler", "bicubic", "best_epoch"}
    for name in ("upscaler", "bicubic"):
        assert 0 < run.test[name]["l1"] < 0.5 and run.test[name]["detail_ratio"] > 0
    again = load_or_train_upscaler(profile, dataset, progress=False, log=lambda line: None)  # loaded, not retrained
    faces = np.random.default_rng(0).random((3, 16, 16, 3)).astype(np.float32)
    out = np.asarray(again.upscale()(faces))
    assert out.shape == (3, 32, 32, 3) and out.min() >= 0 and out.max() <= 1
    np.testing.assert_allclose(out, np.asarray(run.upscale()(faces)), atol=1e-6)


def test_an_adversarial_step_trains_the_critic_beside_the_upscaler() -> None:
    import jax

    from faceobf.train.upscaler import create_train_state, make_train_step

    cfg = UpscalerTrainConfig(resolution=16, batch_size=2, adv_weight=0.01)
    graphdef, state = create_train_state(UpscalerConfig(width=8, blocks=1), cfg)
    before = jax.tree_util.tree_leaves(state)
    rng = np.random.default_rng(0)
    low, high = rng.integers(0, 256, (2, 8, 8, 3), dtype=np.uint8), rng.integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    copies = [np.asarray(leaf).copy() for leaf in before]
    state, metrics = make_train_step(graphdef, cfg)(state, low, high)
    assert {"train_l1", "train_adv", "train_d"} <= set(metrics) and all(np.isfinite(float(v)) for v in metrics.values())
    changed = [not np.array_equal(a, np.asarray(b)) for a, b in zip(copies, jax.tree_util.tree_leaves(state))]
    assert sum(changed) > len(changed) // 2  # the upscaler's and the critic's weights (and both Adam states) moved


@pytest.mark.slow
def test_the_adversarial_upscaler_fine_tunes_the_l1_one_and_keeps_its_last_epoch(celeba_dir: Path,
                                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import jax

    from faceobf.profiles import with_upscaler_adversary
    from faceobf.train import upscaler as module
    from faceobf.train.upscaler import ADVERSARIAL_EPOCHS

    profile = replace(get_profile("ci"), upscaler=UpscalerConfig(width=8, blocks=1),
                      upscaler_train=UpscalerTrainConfig(resolution=32, batch_size=2, epochs=2, eval_limit=4, adv_weight=0.0))
    adversarial = with_upscaler_adversary(profile, 0.01)
    assert with_upscaler_adversary(adversarial, 0) == profile
    dataset = CelebA.open(celeba_dir)
    started, real_fit = {}, module.fit

    def recording_fit(state, *args, **kwargs):
        started["state"], started["best"] = jax.tree_util.tree_map(np.asarray, state), kwargs["best"]
        return real_fit(state, *args, **kwargs)

    monkeypatch.setattr(module, "fit", recording_fit)
    run = load_or_train_upscaler(adversarial, dataset, progress=False, log=lambda line: None)
    l1 = load_or_train_upscaler(profile, dataset, progress=False, log=lambda line: None)  # trained first, as the start
    assert started["best"] is None and run.history["epoch"] == list(range(1, ADVERSARIAL_EPOCHS + 1))
    assert run.run_dir != l1.run_dir and l1.history["epoch"] == [1, 2]
    model, *_ = module.nnx.merge(run.graphdef, started["state"])
    for a, b in zip(jax.tree_util.tree_leaves(module.nnx.state(model)), jax.tree_util.tree_leaves(module.nnx.state(l1.model()))):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))  # the fine-tune started from the L1 weights
    again = load_or_train_upscaler(adversarial, dataset, progress=False, log=lambda line: None)  # its last epoch, loaded
    faces = np.random.default_rng(0).random((2, 16, 16, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(again.upscale()(faces)), np.asarray(run.upscale()(faces)), atol=1e-6)

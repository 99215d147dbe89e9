"""The small-data GAN kit: DiffAugment's paired translation and cutout, lazy R1, the generator's moving average."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from faceobf.models.unet import PatchGANConfig, UNetConfig
from faceobf.profiles import ReconTrainConfig
from faceobf.reconstruct.planes import onehot_table
from faceobf.train.gan_kit import EMA_RAMPUP, R1_INTERVAL, diff_augment, ema_decay, lazy_r1, r1_penalty, update_average
from faceobf.train.recon import (FaceBatch, StepAids, create_recon_state, inference_state, inference_unet,
                                 make_recon_steps, make_train_step, training_state)

RNG = np.random.default_rng(0)


def test_diffaugment_moves_factors_and_image_together_and_cuts_out_a_square() -> None:
    x = jnp.asarray(RNG.random((6, 32, 32, 5), dtype=np.float32))
    augmented_x, augmented_image = diff_augment(jax.random.key(1), x, x[..., :3])
    np.testing.assert_array_equal(np.asarray(augmented_x[..., :3]), np.asarray(augmented_image))  # one shift, one cut
    zeros = (np.asarray(augmented_x) == 0).all(axis=-1).mean(axis=(1, 2))
    assert (zeros >= 0.06).all() and (zeros <= 0.6).all()  # a 16x16 square (a quarter of it at a corner) + the fill
    again = diff_augment(jax.random.key(2), x, x[..., :3])[1]
    assert not np.allclose(np.asarray(again), np.asarray(augmented_image))  # drawn afresh per key


def test_diffaugment_passes_gradients_to_the_image() -> None:
    x, image = jnp.zeros((2, 16, 16, 4)), jnp.asarray(RNG.random((2, 16, 16, 3), dtype=np.float32))
    grad = jax.grad(lambda im: diff_augment(jax.random.key(0), x, im)[1].sum())(image)
    assert 0 < float((grad != 0).mean()) < 1  # what the cutout and the shift keep gets a gradient, the rest none


def test_r1_is_the_squared_input_gradient_and_lazy_on_its_interval() -> None:
    weights = jnp.asarray(RNG.normal(size=(8, 8, 3)), jnp.float32)
    image = jnp.asarray(RNG.random((2, 8, 8, 3), dtype=np.float32))
    logits = lambda im: (im * weights).sum(axis=(1, 2, 3))  # noqa: E731  (a linear critic: gradient = weights)
    assert float(r1_penalty(logits, image)) == pytest.approx(float((weights ** 2).sum()), rel=1e-5)
    on = lazy_r1(jnp.int32(2 * R1_INTERVAL), 4.0, logits, image)
    assert float(on) == pytest.approx(0.5 * 4.0 * R1_INTERVAL * float((weights ** 2).sum()), rel=1e-5)
    assert float(lazy_r1(jnp.int32(2 * R1_INTERVAL + 1), 4.0, logits, image)) == 0.0


def test_the_average_ramps_up_then_keeps_its_half_life() -> None:
    batch, half_life = 16, 10_000
    early = float(ema_decay(jnp.int32(160), batch, half_life))  # horizon 160 x 0.05 = 8 images: follows G closely
    assert early == pytest.approx(0.5 ** (batch / (160 * EMA_RAMPUP)))
    late = float(ema_decay(jnp.int32(10 ** 7), batch, half_life))
    assert late == pytest.approx(0.5 ** (batch / half_life)) and late > early
    average = update_average({"w": jnp.zeros(3)}, {"w": jnp.ones(3)}, jnp.float32(0.75))
    np.testing.assert_allclose(np.asarray(average["w"]), 0.25)


def _batch(n: int = 4, r: int = 32) -> FaceBatch:
    images = RNG.integers(0, 256, (n, r, r, 3), dtype=np.uint8)
    landmarks = (RNG.random((n, 68, 2)) * r).astype(np.float32)
    masks = np.zeros((n, r, r), np.uint8)
    masks[:, 8:24, 8:24] = 1
    return FaceBatch(images, landmarks, masks, (RNG.random((n, 40)) > 0.5).astype(np.int8))


def test_the_kit_steps_log_r1_and_keep_an_average_that_inference_uses() -> None:
    cfg = ReconTrainConfig(resolution=32, batch_size=4, diffaugment=True, r1_gamma=1.0, ema_half_life=100)
    g_def, g_state, d_def, d_state = create_recon_state(UNetConfig(base_width=8, depth=2), PatchGANConfig(base_width=8), cfg)
    state = training_state(g_def, g_state, d_state, cfg)
    assert len(state) == 3
    initial = jax.tree.map(np.array, state[2])
    step = make_train_step(g_def, d_def, cfg, jnp.asarray(onehot_table()))
    batch = _batch()
    state, first = step(state, *batch)  # D step 0: R1 applies
    state, second = step(state, *batch)  # D step 1: it does not
    assert float(first["d_r1"]) > 0 and float(second["d_r1"]) == 0
    live = jax.tree.leaves(nnx.state(nnx.merge(g_def, state[0])[0], nnx.Param))
    moved = [float(np.abs(np.asarray(a) - b).max()) for a, b in zip(jax.tree.leaves(state[2]), jax.tree.leaves(initial))]
    assert max(moved) > 0  # the average follows G (closely this early: its half-life ramps up with the images seen)
    for a, w in zip(jax.tree.leaves(state[2]), live):
        np.testing.assert_allclose(np.asarray(a), np.asarray(w), atol=1e-5)
    zeroed = (state[0], state[1], jax.tree.map(jnp.zeros_like, state[2]))
    assert all(float(jnp.abs(w).max()) == 0 for w in jax.tree.leaves(nnx.state(inference_unet(g_def, zeroed), nnx.Param)))


def test_reading_the_average_leaves_the_live_generator_whole_and_training_goes_on() -> None:
    """Validation and snapshots read the U-Net through `inference_unet`: the live generator keeps its own weights
    and the next step runs (a long run failed at its next step when the average was written into G's state,
    whose buffers that step donates)."""
    cfg = ReconTrainConfig(resolution=32, batch_size=4, ema_half_life=100)
    g_def, g_state, d_def, d_state = create_recon_state(UNetConfig(base_width=8, depth=2), PatchGANConfig(base_width=8), cfg)
    step = make_train_step(g_def, d_def, cfg, jnp.asarray(onehot_table()))
    batch = _batch()
    state, _ = step(training_state(g_def, g_state, d_state, cfg), *batch)
    state = (state[0], state[1], jax.tree.map(lambda a: a + 1.0, state[2]))  # an average far from G
    live = [np.array(w) for w in jax.tree.leaves(nnx.state(nnx.merge(g_def, state[0])[0], nnx.Param))]
    read = jax.tree.leaves(nnx.state(inference_unet(g_def, state), nnx.Param))
    inference_state(g_def, state)
    for a, r in zip(jax.tree.leaves(state[2]), read):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(r))  # inference reads the average
    for w, now in zip(live, jax.tree.leaves(nnx.state(nnx.merge(g_def, state[0])[0], nnx.Param))):
        np.testing.assert_array_equal(w, np.asarray(now))  # and G keeps its own weights
    state, metrics = step(state, *batch)
    assert np.isfinite(float(metrics["l1"]))


def test_without_diffaugment_the_discriminator_sees_the_pairs_as_they_are() -> None:
    plain = ReconTrainConfig(resolution=32, batch_size=4, lr_d=1e-5)
    kit = ReconTrainConfig(resolution=32, batch_size=4, lr_d=1e-5, diffaugment=True)
    batch, losses = _batch(), {}
    for name, cfg in (("plain", plain), ("kit", kit)):
        g_def, g_state, d_def, d_state = create_recon_state(UNetConfig(base_width=8, depth=2),
                                                            PatchGANConfig(base_width=8), cfg)
        g_step, _ = make_recon_steps(g_def, d_def, cfg)
        _, _, metrics = g_step(g_state, d_state, batch, StepAids(jnp.asarray(onehot_table())))
        losses[name] = (float(metrics["l1"]), float(metrics["g_adv"]))
    assert losses["plain"][0] == pytest.approx(losses["kit"][0])  # the same redraw (same seed, same G)
    assert losses["plain"][1] != pytest.approx(losses["kit"][1])  # judged on another view of it


def test_the_kit_options_name_their_runs() -> None:
    from faceobf.options import run_variant
    from faceobf.profiles import get_profile, with_average, with_r1, with_switch

    profile = with_average(with_r1(with_switch(get_profile("cpu"), "diffaugment"), 10.0), 10_000)
    variant = run_variant("onehot", profile)
    assert "daug" in variant.split("-") and variant.endswith("r110-ema10000")
    assert (profile.recon.diffaugment, profile.recon.r1_gamma, profile.recon.ema_half_life) == (True, 10.0, 10_000)


@pytest.mark.slow
def test_a_run_with_the_average_saves_and_reloads_the_averaged_network(celeba_dir: Path) -> None:
    from faceobf import networks
    from faceobf.data import CelebA
    from faceobf.profiles import FACTrainConfig, Profile
    from faceobf.train.recon import load_run, train_recon

    recon = ReconTrainConfig(resolution=32, batch_size=2, epochs=1, diffaugment=True, r1_gamma=1.0, ema_half_life=50)
    profile = Profile("test", FACTrainConfig(), None, "unit test", recon=recon, unet=UNetConfig(base_width=8, depth=2),
                      patchgan=PatchGANConfig(base_width=8))
    run = train_recon(profile, CelebA.open(celeba_dir), progress=False, log=lambda s: None)
    assert "d_r1" in run.history
    batch = _batch(1)
    batch = (batch.images, batch.landmarks, batch.masks, batch.attributes.astype(np.float32))
    shipped_way = networks.generator(profile, "onehot", run.run_dir)(*batch)
    np.testing.assert_allclose(load_run(run.run_dir, profile, "onehot").generator()(*batch), shipped_way, atol=1e-5)
    np.testing.assert_allclose(run.generator()(*batch), shipped_way, atol=1e-5)

"""The appearance prior: its warp, its colour match, its fit, and the U-Net that reads it as three more inputs."""

from __future__ import annotations

import contextlib
import dataclasses
import io
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from faceobf import networks, runs
from faceobf.cli import build_parser
from faceobf.commands.common import announce_profile
from faceobf.models.unet import PatchGANConfig, UNetConfig
from faceobf.profiles import ReconTrainConfig
from faceobf.reconstruct.planes import onehot_table
from faceobf.reconstruct.imageops import match_colour
from faceobf.reconstruct.prior import AppearancePrior, fit_prior, warp_to
from faceobf.train.recon import FaceBatch, StepAids, create_recon_state, make_generator, make_recon_steps, prior_arrays

RNG = np.random.default_rng(0)
R = 32


def _landmarks(n: int) -> np.ndarray:
    """(n, 68, 2) points spread over the middle of an R-pixel crop, slightly different per face."""
    base = np.stack(np.meshgrid(np.linspace(8, 24, 17), np.linspace(10, 22, 4)), -1).reshape(-1, 2)[:68]
    return (base[None] + RNG.normal(0, 0.5, (n, 68, 2))).astype(np.float32)


def test_a_warp_between_equal_landmarks_keeps_the_image_and_a_shift_of_all_moves_it() -> None:
    images = jnp.asarray(RNG.random((2, R, R, 3)), jnp.float32)
    points = jnp.asarray(_landmarks(2))
    np.testing.assert_allclose(np.asarray(warp_to(images, points, points)), np.asarray(images), atol=1e-5)
    shifted = np.asarray(warp_to(images, points, points + jnp.asarray([3.0, 0.0])))  # landmarks 3 px to the right
    np.testing.assert_allclose(shifted[:, :, 3:], np.asarray(images)[:, :, :-3], atol=1e-5)


def test_the_colour_match_gives_the_prior_the_faces_mean_and_spread_inside_the_mask() -> None:
    drawn = jnp.asarray(0.4 + 0.1 * RNG.random((2, R, R, 3)), jnp.float32)
    faces = jnp.asarray(0.2 + 0.15 * RNG.random((2, R, R, 3)), jnp.float32) * jnp.asarray([1.0, 0.8, 0.6])
    masks = jnp.zeros((2, R, R)).at[:, 8:24, 6:26].set(1.0)
    matched = np.asarray(match_colour(drawn, faces, masks))[:, 8:24, 6:26]
    inside = np.asarray(faces)[:, 8:24, 6:26]
    np.testing.assert_allclose(matched.mean(axis=(1, 2)), inside.mean(axis=(1, 2)), atol=2e-3)
    np.testing.assert_allclose(matched.std(axis=(1, 2)), inside.std(axis=(1, 2)), rtol=0.02)


def test_a_generator_with_colour_match_draws_the_faces_own_colour_inside_the_ellipse() -> None:
    cfg = ReconTrainConfig(resolution=R, batch_size=2, colour_match=True)
    g_def, g_state, _, _ = create_recon_state(UNetConfig(base_width=8, depth=2), PatchGANConfig(base_width=8), cfg)
    images = np.clip(RNG.normal([150, 100, 80], 20, (2, R, R, 3)), 0, 255).astype(np.uint8)
    masks = np.zeros((2, R, R), np.uint8)
    masks[:, 4:28, 6:26] = 1
    batch = (images, _landmarks(2), masks, np.zeros((2, 40), np.float32))
    inside = (slice(None), slice(4, 28), slice(6, 26))  # the ellipse (here a box) and its feathered edge
    drawn = make_generator(g_def, g_state, onehot_table(), cfg)(*batch)[inside]
    plain = make_generator(g_def, g_state, onehot_table(), dataclasses.replace(cfg, colour_match=False))(*batch)[inside]
    own = images[inside] / 255.0
    assert np.abs(drawn.mean(axis=(1, 2)) - own.mean(axis=(1, 2))).max() < 0.02
    assert np.abs(plain.mean(axis=(1, 2)) - own.mean(axis=(1, 2))).max() > 0.05  # an untrained U-Net's own colour


def test_the_fit_recovers_a_linear_map_from_attributes_to_faces() -> None:
    n = 400
    attributes = (RNG.random((n, 40)) < 0.4).astype(np.float32)
    intercept = RNG.uniform(0.3, 0.5, (R, R, 3))
    coefficients = RNG.normal(0, 0.02, (40, R, R, 3))  # faces stay inside [0, 1]
    faces = intercept + np.tensordot(attributes, coefficients, axes=1) + RNG.normal(0, 0.01, (n, R, R, 3))
    landmarks = np.repeat(_landmarks(1), n, axis=0)  # one shape: the warp to the mean shape is the identity
    prior = fit_prior(np.clip(np.round(faces * 255), 0, 255).astype(np.uint8), landmarks, attributes, ridge=1e-3)
    assert np.abs(prior.coefficients - coefficients).mean() < 0.1 * np.abs(coefficients).mean()
    assert np.abs(prior.intercept - intercept).mean() < 0.005
    with pytest.raises(ValueError, match="expected N faces"):
        fit_prior(faces[:3].astype(np.uint8), landmarks[:2], attributes[:3])


def _prior() -> AppearancePrior:
    return AppearancePrior(RNG.uniform(0.3, 0.6, (R, R, 3)).astype(np.float32),
                           RNG.normal(0, 0.1, (40, R, R, 3)).astype(np.float32), _landmarks(1)[0])


def test_a_unet_trained_with_the_prior_reads_it_and_its_run_keeps_it(tmp_path: Path) -> None:
    cfg = ReconTrainConfig(resolution=R, batch_size=2, appearance_prior=True, edit_flips=1, attr_weight=1.0)
    unet, patchgan = UNetConfig(base_width=8, depth=2), PatchGANConfig(base_width=8, attribute_head=True)
    g_def, g_state, d_def, d_state = create_recon_state(unet, patchgan, cfg)
    assert networks.unet_config(unet, cfg).in_channels == 68 + 3 + 3 + 40
    images = RNG.integers(0, 255, (2, R, R, 3), dtype=np.uint8)
    masks = np.zeros((2, R, R), np.uint8)
    masks[:, 6:26, 8:24] = 1
    batch = FaceBatch(images, _landmarks(2), masks, (RNG.random((2, 40)) < 0.5).astype(np.int8))
    prior = _prior()
    g_step, _ = make_recon_steps(g_def, d_def, cfg)
    _, _, metrics = g_step(jax.tree.map(jnp.copy, g_state), d_state, batch,  # the step donates its state
                            StepAids(jnp.asarray(onehot_table()), prior=prior_arrays(prior)))
    assert np.isfinite(float(metrics["g_loss"]))
    generator = make_generator(g_def, g_state, onehot_table(), cfg, prior=prior)
    other = make_generator(g_def, g_state, onehot_table(), cfg, prior=AppearancePrior(
        prior.intercept[::-1].copy(), prior.coefficients, prior.mean_shape))
    assert np.abs(generator(*batch) - other(*batch)).max() > 1e-3  # another prior, another face: the U-Net reads it
    with pytest.raises(ValueError, match="appearance prior"):
        make_generator(g_def, g_state, onehot_table(), cfg)
    prior.save(tmp_path / "appearance_prior.npz")
    again = networks.stored_prior(tmp_path, cfg)
    np.testing.assert_array_equal(again.coefficients, prior.coefficients)
    with pytest.raises(Exception, match="holds no appearance_prior.npz"):
        networks.stored_prior(tmp_path / "elsewhere", cfg)


def test_the_prior_option_names_its_run_and_its_command_makes_it_again() -> None:
    def profile(argv):
        with contextlib.redirect_stdout(io.StringIO()):
            return announce_profile(build_parser().parse_args(argv))

    spec = runs.RunSpec.recon(profile(["train", "recon", "--profile", "ci", "--appearance-prior", "--colour-match",
                                       "--short"]), "onehot")
    assert spec.variant == "onehot-follow-seed50-prior-colour-short" and spec.config["train"]["colour_match"]
    assert "--appearance-prior --colour-match" in spec.train_command()
    again = runs.RunSpec.recon(profile(spec.train_command().split()[1:]), "onehot")
    assert (again.variant, again.config) == (spec.variant, spec.config)
    long = runs.RunSpec.recon(profile(["train", "recon", "--profile", "cpu", "--appearance-prior", "--epochs", "40",
                                       "--epoch-size", "3000"]), "onehot")
    assert long.variant == "onehot-follow-seed50-prior-e40-ep3000"
    assert (long.config["train"]["epochs"], long.config["train"]["epoch_size"]) == (40, 3000)
    again = runs.RunSpec.recon(profile(long.train_command().split()[1:]), "onehot")
    assert (again.variant, again.config) == (long.variant, long.config)


@pytest.mark.slow
def test_a_run_with_the_prior_keeps_it_and_snapshots_and_inference_reads_it_back(celeba_dir: Path) -> None:
    from faceobf.data import CelebA
    from faceobf.profiles import FACTrainConfig, Profile
    from faceobf.train.recon import SNAPSHOTS, load_run, train_recon

    recon = ReconTrainConfig(resolution=R, batch_size=2, epochs=2, appearance_prior=True, epoch_size=4, snapshot_every=2)
    profile = Profile("test", FACTrainConfig(), None, "unit test", recon=recon, unet=UNetConfig(base_width=8, depth=2),
                      patchgan=PatchGANConfig(base_width=8))
    run = train_recon(profile, CelebA.open(celeba_dir), progress=False, log=lambda s: None)
    assert run.history["epoch"] == [1, 2] and (run.run_dir / "appearance_prior.npz").exists()
    assert sorted(p.name for p in (run.run_dir / SNAPSHOTS).iterdir()) == ["epoch_002"]
    faces = load_run(run.run_dir, profile, "onehot")
    np.testing.assert_array_equal(faces.prior.coefficients, run.prior.coefficients)
    generator = networks.generator(profile, "onehot", run.run_dir)
    images = RNG.integers(0, 255, (1, R, R, 3), dtype=np.uint8)
    masks = np.zeros((1, R, R), np.uint8)
    masks[:, 6:26, 8:24] = 1
    batch = (images, _landmarks(1), masks, np.zeros((1, 40), np.float32))
    np.testing.assert_allclose(generator(*batch), faces.generator()(*batch), atol=1e-5)  # inference reads the same
    snapshot = networks.generator(profile, "onehot", run.run_dir, run.run_dir / SNAPSHOTS / "epoch_002")
    np.testing.assert_allclose(snapshot(*batch), generator(*batch), atol=1e-5)  # the last epoch's snapshot is the run's

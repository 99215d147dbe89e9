"""Room to experiment: a new stage-2 option, loss term, generator and detector each added in one place, through the
public registries, and trained (or run) at once; the run registry names and reproduces the runs they make."""

from __future__ import annotations

import contextlib
import dataclasses
import io

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from faceobf import networks, options, runs
from faceobf.errors import UsageError
from faceobf.cli import build_parser
from faceobf.commands.common import announce_profile
from faceobf.models.unet import UNet
from faceobf.profiles import get_profile, with_loss_weights
from faceobf.reconstruct.planes import onehot_table
from faceobf.train import recon_losses
from faceobf.train.recon import create_recon_state, make_recon_steps, make_train_step


@pytest.fixture
def registries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fresh copies of the registries, so what a test registers is gone after it."""
    monkeypatch.setattr(options, "STAGE2_OPTIONS", list(options.STAGE2_OPTIONS))
    monkeypatch.setattr(recon_losses, "GENERATOR_TERMS", dict(recon_losses.GENERATOR_TERMS))
    monkeypatch.setattr(networks, "GENERATORS", dict(networks.GENERATORS))


def _brightness(view: recon_losses.GeneratorView) -> jax.Array:
    """A dummy term: the edited redraw's mean brightness inside the face."""
    m = view.masks[..., None]
    return (view.fake_edit * m).sum() / jnp.maximum(m.sum() * 3, 1.0)


def _register_dummies() -> None:
    recon_losses.register_loss(recon_losses.LossTerm("brightness", _brightness))
    options.register_option(options.Option(
        "--brightness-weight", "weight of the dummy brightness term", lambda p, w: with_loss_weights(p, (("brightness", w),)),
        lambda config, variant: dict(map(tuple, config["train"]["loss_weights"])).get("brightness"), metavar="WEIGHT"))


def _profile(argv: list[str]):
    with contextlib.redirect_stdout(io.StringIO()):
        return announce_profile(build_parser().parse_args(argv))


def test_a_new_option_and_loss_term_reach_the_command_line_the_run_name_and_one_training_step(registries) -> None:
    _register_dummies()
    profile = _profile(["train", "recon", "--profile", "ci", "--brightness-weight", "0.5", "--short"])
    assert profile.recon.loss_weights == (("brightness", 0.5),)
    spec = runs.RunSpec.recon(profile, "onehot")
    assert spec.variant == "onehot-follow-seed50-brightness0.5-short"  # its tag before --short's, as declared
    again = runs.RunSpec.recon(_profile(spec.train_command().split()[1:]), "onehot")  # the command makes this run again
    assert (again.variant, again.config) == (spec.variant, spec.config)
    assert _profile(["train", "recon", "--profile", "ci", "--loss", "brightness=0.5", "--short"]) == profile  # the generic way
    chosen = build_parser().parse_args(["models", "export", "recon", "--brightness-weight", "0.5"])
    assert chosen.brightness_weight_option == 0.5  # the commands that pick a trained U-Net offer it too

    cfg = profile.recon
    g_def, g_state, d_def, d_state = create_recon_state(profile.unet, profile.patchgan, cfg)
    rng = np.random.default_rng(0)
    r, b = cfg.resolution, cfg.batch_size
    landmarks = (r / 4 + rng.random((b, 68, 2)) * r / 2).astype(np.float32)
    masks = np.zeros((b, r, r), np.uint8)
    masks[:, r // 4 : 3 * r // 4, r // 4 : 3 * r // 4] = 1
    batch = (rng.integers(0, 256, (b, r, r, 3), dtype=np.uint8), landmarks, masks,
             (rng.random((b, 40)) > 0.5).astype(np.int8))
    coefficients = rng.normal(0, 0.01, (40, 68, 2)).astype(np.float32)
    step = make_train_step(g_def, d_def, cfg, jnp.asarray(onehot_table()), coefficients)
    _, metrics = step((g_state, d_state), *batch)
    assert {"l1", "g_adv", "g_attr", "brightness", "d_loss", "d_attr"} <= set(metrics)
    assert 0.0 < float(metrics["brightness"]) < 1.0


def test_a_loss_term_no_one_registered_is_refused_before_training(registries) -> None:
    profile = with_loss_weights(get_profile("ci"), (("sharpness", 1.0),))
    with pytest.raises(ValueError, match="no loss term sharpness"):
        make_recon_steps(None, None, profile.recon)
    with pytest.raises(ValueError, match="its own setting"):
        make_recon_steps(None, None, with_loss_weights(get_profile("ci"), (("l1", 1.0),)).recon)


def test_a_new_generator_is_one_registry_entry(registries) -> None:
    networks.GENERATORS["shallow"] = lambda config, cfg, seed: UNet(
        dataclasses.replace(networks.unet_config(config, cfg), depth=2), rngs=nnx.Rngs(seed))
    profile = get_profile("ci")
    cfg = dataclasses.replace(profile.recon, generator="shallow")
    g_def, g_state, d_def, d_state = create_recon_state(profile.unet, profile.patchgan, cfg)
    assert nnx.merge(g_def, g_state)[0].config.depth == 2 and profile.unet.depth == 3
    with pytest.raises(UsageError, match="unknown generator 'nothing'"):
        create_recon_state(profile.unet, profile.patchgan, dataclasses.replace(cfg, generator="nothing"))


def test_a_new_detector_is_one_registration_and_the_faces_it_alone_finds_are_covered(obfuscator,
                                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from skimage import data

    from faceobf.obfuscate import detect as detect_module
    from faceobf.obfuscate.detect import Candidate, Detector, DetectorSettings, detect, register_detector

    monkeypatch.setattr(detect_module, "DETECTORS", dict(detect_module.DETECTORS))

    class Corner(Detector):
        """A stand-in detector that always reports one unsure face in the photo's top-left corner."""

        name, min_score = "corner", 0.9

        def find(self, rgb, settings):
            return [Candidate((8.0, 8.0, 88.0, 98.0), 0.5)]

    register_detector(Corner())
    photo = data.astronaut()
    assert DetectorSettings().min_score["corner"] == 0.9  # its own default, from its declaration
    (face,) = detect(photo, DetectorSettings(detectors=("corner",)))
    assert face.scores == {"corner": 0.5} and not face.confirmed  # alone and below its min score
    settings = DetectorSettings(detectors=("hog", "corner"))
    tool = dataclasses.replace(obfuscator, detection=settings)
    out, records = tool.obfuscate_photo(photo)
    corner = [r for r in records if "corner" in r.scores]
    assert len(corner) == 1 and corner[0].method.startswith("fallback")  # covered, never left as it was
    assert np.abs(out[20:80, 20:80].astype(int) - photo[20:80, 20:80]).mean() > 1.0
    with pytest.raises(UsageError, match="unknown detector nothing"):
        detect(photo, DetectorSettings(detectors=("nothing",)))

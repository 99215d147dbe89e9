"""Shipped models: export a finished run, install it as a run, restore it, and the models the package ships."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np
import pytest

from faceobf import runs, shipped
from faceobf.models.unet import PatchGANConfig, UNetConfig
from faceobf.profiles import FACTrainConfig, Profile, ReconTrainConfig
from faceobf.train.recon import create_recon_state

PROFILE = Profile("tiny", FACTrainConfig(), None, "unit test", recon=ReconTrainConfig(resolution=32, batch_size=2, epochs=1),
                  unet=UNetConfig(base_width=8, depth=2), patchgan=PatchGANConfig(base_width=8))


def _leaf(state, key: str) -> np.ndarray:
    return np.asarray(dict(shipped._leaves(state))[key])


def _finished_run(runs_dir: Path) -> tuple[Path, tuple]:
    """A finished (untrained) U-Net run of PROFILE in `runs_dir`, as training leaves it."""
    run_dir = runs.claim(runs.RunSpec.recon(PROFILE, "onehot"), "data1", runs_dir / "recon-tiny")
    (run_dir / runs.FINISHED).write_text(json.dumps({"unet": {"ssim_mask": 0.5}}))
    g_def, g_state, d_def, d_state = create_recon_state(PROFILE.unet, PROFILE.patchgan, PROFILE.recon)
    return run_dir, (g_state, d_state)


@pytest.fixture
def runs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FACEOBF_RUNS", str(tmp_path / "runs"))
    monkeypatch.setattr(shipped, "SHIPPED_ROOT", tmp_path / "shipped")
    return tmp_path / "runs"


def test_export_keeps_the_network_only_in_float16_with_a_card(runs_dir: Path) -> None:
    run_dir, state = _finished_run(runs_dir)
    path = shipped.export(run_dir, state, "recon", {"epoch": [1]}, {"unet": {"ssim_mask": 0.5}}, {"max_pixel_change_0_255": 0.4})
    card = json.loads((path / shipped.CARD).read_text())
    assert card["record"] == runs.read_record(run_dir) and card["sha256"] == shipped.sha256(path / shipped.WEIGHTS)
    with np.load(path / shipped.WEIGHTS) as npz:
        assert npz.files and all(key.startswith("[0][0]") for key in npz.files)  # no optimizer state, no discriminator
        assert {npz[k].dtype for k in npz.files} == {np.dtype("float16")}
    text = (path / shipped.MODEL_CARD).read_text()
    assert "non-commercial research only" in text and card["sha256"] in text and "faceobf train recon --profile tiny" in text
    with pytest.raises(FileExistsError, match="shipped once"):
        shipped.export(run_dir, state, "recon", {"epoch": [1]}, {}, {})


def test_the_registry_installs_a_shipped_model_when_no_run_exists_and_restores_its_weights(runs_dir: Path, tmp_path: Path) -> None:
    run_dir, state = _finished_run(tmp_path / "elsewhere")
    shipped.export(run_dir, state, "recon", {"epoch": [1, 2]}, {"unet": {"ssim_mask": 0.5}}, {})
    spec = runs.RunSpec.recon(PROFILE, "onehot")
    installed = runs.find(spec, "data1")  # nothing in $FACEOBF_RUNS: the shipped model is installed there
    assert installed.parent == runs_dir and shipped.is_installed(installed) and runs.is_finished(installed)
    assert runs.find(spec, "data1") == installed  # found as an ordinary finished run the second time
    with pytest.raises(runs.MissingCheckpointError):
        runs.find(spec, "other-data")  # trained on another data set: not offered for it

    from faceobf.train.checkpoints import restore_finished

    _, _, d_def, fresh_d = create_recon_state(PROFILE.unet, PROFILE.patchgan, PROFILE.recon)
    g_like = create_recon_state(PROFILE.unet, PROFILE.patchgan, ReconTrainConfig(resolution=32, seed=5))[1]
    (g_state, d_state), history, test = restore_finished(installed, (g_like, fresh_d))
    key = next(k for k, _ in shipped._leaves((g_like, fresh_d)) if k.startswith("[0][0]") and k.endswith("kernel'].value"))
    expected = _leaf(state, key).astype(np.float16).astype(np.float32)
    np.testing.assert_array_equal(_leaf((g_state, d_state), key), expected)
    assert _leaf((g_state, d_state), key).dtype == np.float32 and history == {"epoch": [1, 2]} and test["unet"]["ssim_mask"] == 0.5


def test_a_follow_runs_landmark_mapping_and_gain_ship_with_it_and_are_checked(runs_dir: Path, tmp_path: Path) -> None:
    from faceobf.disentangle.geometry import LandmarkMapping
    from faceobf.reconstruct.generate import FlipStrength
    from faceobf.train.recon import MAPPING_FILE, STRENGTH_FILE, store_flip_strength, stored_flip_settings

    run_dir, state = _finished_run(tmp_path / "elsewhere")
    mapping = LandmarkMapping(np.zeros((68, 2)), np.full((40, 68, 2), 0.01), 10.0, 1.0, np.zeros(40), 0.3, 100)
    mapping.save(run_dir / MAPPING_FILE)
    store_flip_strength(run_dir, FlipStrength(2.5, 1.5), {"chosen_on": "validation"})
    path = shipped.export(run_dir, state, "recon", {"epoch": [1]}, {}, {})
    card = json.loads((path / shipped.CARD).read_text())
    assert set(card["files"]) == {MAPPING_FILE, STRENGTH_FILE}
    installed = runs.find(runs.RunSpec.recon(PROFILE, "onehot"), "data1")
    again, strength = stored_flip_settings(installed)
    np.testing.assert_array_equal(again.coefficients, mapping.coefficients)
    assert strength == FlipStrength(2.5, 1.5) and stored_flip_settings(tmp_path) == (None, FlipStrength())  # fixed, as trained
    (path / STRENGTH_FILE).write_text(json.dumps({"gain": 9.0, "intensity": 1.0}))  # tampered with after export
    with pytest.raises(shipped.ShippedModelError, match="checksum"):
        shipped.install(path.name, tmp_path / "other-runs")


def test_a_corrupt_or_misshapen_shipped_model_is_refused(runs_dir: Path, tmp_path: Path) -> None:
    run_dir, state = _finished_run(tmp_path / "elsewhere")
    path = shipped.export(run_dir, state, "recon", {}, {}, {})
    with np.load(path / shipped.WEIGHTS) as npz:
        arrays = {k: npz[k] for k in npz.files}
    key = next(iter(arrays))
    with pytest.raises(shipped.ShippedModelError, match="shape"):
        shipped.with_arrays(state, {key: np.zeros((1, 2, 3), np.float16)})
    arrays[key] = arrays[key] + np.float16(1)
    np.savez(path / shipped.WEIGHTS, **arrays)
    with pytest.raises(shipped.ShippedModelError, match="checksum"):
        shipped.install(path.name, runs_dir)
    assert not (runs_dir / path.name).exists()  # nothing half-installed


def test_float16_fidelity_measures_what_rounding_changes() -> None:
    state = ({"w": jax.numpy.asarray(np.array([1.0 + 2**-12, 3.0], np.float32))},)
    fidelity = shipped.float16_fidelity(lambda s: np.asarray(s[0]["w"], np.float64), state, "[0]", lambda x: x > 1.0)
    assert fidelity == {"max_abs_change": pytest.approx(2**-12, abs=1e-6), "same_decisions": 0.5}  # 1 + 2^-12 rounds to 1.0


SHIPPED = shipped.cards()


@pytest.mark.parametrize("card", SHIPPED, ids=[c["name"] for c in SHIPPED])
def test_each_shipped_model_matches_its_checksum_and_costs_nothing_in_float16(card: dict) -> None:
    path = shipped.SHIPPED_ROOT / card["name"]
    assert shipped.sha256(path / shipped.WEIGHTS) == card["sha256"] and card["dtype"] == "float16"
    fidelity = card["fidelity"]
    if card["kind"] == "fac":
        assert fidelity["same_attribute_decisions"] >= 0.999 and fidelity["max_probability_change"] < 0.01
    else:
        assert fidelity["max_pixel_change_0_255"] <= 2.0


def test_the_shipped_models_fit_the_size_budget_and_the_cpu_profile() -> None:
    from faceobf.profiles import get_profile

    total = sum((shipped.SHIPPED_ROOT / c["name"] / shipped.WEIGHTS).stat().st_size for c in SHIPPED)
    assert total <= 80e6
    cpu = get_profile("cpu")
    for card in SHIPPED:  # a profile changed after shipping would silently stop using its shipped model
        spec = runs.RunSpec.fac(cpu) if card["kind"] == "fac" else runs.RunSpec.recon(cpu, card["record"]["config"]["encoding"])
        assert shipped.matching_card(spec.record(None)) == card, f"{card['name']} no longer matches the cpu profile"


@pytest.mark.celeba
def test_the_shipped_attribute_classifier_reads_real_test_faces(real_celeba: Path) -> None:
    """A fresh install (empty $FACEOBF_RUNS) gets the shipped FAC, and it reads unseen CelebA faces as its card says."""
    from faceobf.data import CelebA
    from faceobf.profiles import get_profile
    from faceobf.train.fac import load_or_train_fac

    if not any(c["kind"] == "fac" for c in SHIPPED):
        pytest.skip("no attribute classifier is shipped")
    dataset = CelebA.open(real_celeba)
    profile = get_profile("cpu")
    run = load_or_train_fac(profile, dataset, progress=False, log=lambda line: None)  # installs, never trains here
    assert shipped.is_installed(run.run_dir)
    rows = dataset.split("test")[:96]
    predicted = run.classifier().predict(dataset.images(rows, profile.fac.resolution, progress=False))
    accuracy = (predicted == dataset.attributes[rows]).mean()
    assert accuracy > run.test["mean_majority_baseline"] and abs(accuracy - run.test["mean_accuracy"]) < 0.03


def test_the_shipped_unet_draws_the_same_faces_with_factored_planes_as_with_the_concatenation(tmp_path: Path) -> None:
    """The cheaper convolution of the attribute planes changes no parameter and no output of a trained model."""
    from faceobf.disentangle.masking import Ellipse, ellipse_mask
    from faceobf.models.layers import lowerings
    from faceobf.profiles import get_profile
    from faceobf.train.recon import load_run

    card = next((c for c in SHIPPED if c["kind"] == "recon"), None)
    if card is None:
        pytest.skip("no U-Net is shipped")
    encoding = card["record"]["config"]["encoding"]
    run = load_run(shipped.install(card["name"], tmp_path), get_profile("cpu"), encoding)
    rng = np.random.default_rng(0)
    r = run.config.resolution
    images = rng.integers(0, 256, (4, r, r, 3), dtype=np.uint8)
    landmarks = (r * (0.25 + 0.5 * rng.random((4, 68, 2)))).astype(np.float32)
    masks = np.stack([ellipse_mask((r, r), Ellipse((r / 2, r / 2), (0.6 * r, 0.8 * r), 0.0)).astype(np.uint8)] * 4)
    attributes = (rng.random((4, 40)) > 0.5).astype(np.int8)
    factored = run.generator()(images, landmarks, masks, attributes)
    with lowerings(factored_planes=False):  # traced inside: the seed's concatenation
        concatenated = run.generator()(images, landmarks, masks, attributes)
    assert np.abs(factored - concatenated).max() * 255 < 0.05
    assert np.abs(factored - images / 255.0).max() > 0.1  # it did redraw something

"""Shipped models: export a finished run, install it as a run, restore it, and the models the package ships."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jax
import numpy as np
import pytest
from flax import nnx

from faceobf import runs, shipped
from faceobf.models.unet import PatchGANConfig, UNetConfig
from faceobf.profiles import FACTrainConfig, Profile, ReconTrainConfig
from faceobf.train.recon import create_recon_state

PROFILE = Profile("tiny", FACTrainConfig(), None, "unit test", recon=ReconTrainConfig(resolution=32, batch_size=2, epochs=1),
                  unet=UNetConfig(base_width=8, depth=2), patchgan=PatchGANConfig(base_width=8))


def _leaf(state, key: str) -> np.ndarray:
    return np.asarray(dict(shipped._leaves(state))[key])


def _unet(seed: int = 0):
    """An untrained U-Net of PROFILE (the network a run ships), drawn with `seed`."""
    from dataclasses import replace

    g_def, g_state, _, _ = create_recon_state(PROFILE.unet, PROFILE.patchgan, replace(PROFILE.recon, seed=seed))
    unet, _ = nnx.merge(g_def, g_state)
    return unet


def _finished_run(runs_dir: Path) -> tuple[Path, nnx.Module]:
    """A finished (untrained) U-Net run of PROFILE in `runs_dir`, and its network."""
    run_dir = runs.claim(runs.RunSpec.recon(PROFILE, "onehot"), "data1", runs_dir / "recon-tiny")
    (run_dir / runs.FINISHED).write_text(json.dumps({"unet": {"ssim_mask": 0.5}}))
    return run_dir, _unet()


@pytest.fixture
def runs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FACEOBF_RUNS", str(tmp_path / "runs"))
    monkeypatch.setattr(shipped, "SHIPPED_ROOT", tmp_path / "shipped")
    return tmp_path / "runs"


def test_export_keeps_the_network_only_in_float16_with_a_card(runs_dir: Path) -> None:
    run_dir, unet = _finished_run(runs_dir)
    path = shipped.export(run_dir, unet, "recon", {"epoch": [1]}, {"unet": {"ssim_mask": 0.5}}, {"max_pixel_change_0_255": 0.4})
    card = json.loads((path / shipped.CARD).read_text())
    assert card["record"] == runs.read_record(run_dir) and card["sha256"] == shipped.sha256(path / shipped.WEIGHTS)
    with np.load(path / shipped.WEIGHTS) as npz:  # the network's own arrays by their paths in it: no optimizer, no discriminator
        assert sorted(npz.files) == sorted(k for k, _ in shipped._leaves(nnx.state(unet))) and card["keys"] == "network"
        assert {npz[k].dtype for k in npz.files} == {np.dtype("float16")}
    text = (path / shipped.MODEL_CARD).read_text()
    assert "non-commercial research only" in text and card["sha256"] in text and "faceobf train recon --profile tiny" in text
    with pytest.raises(FileExistsError, match="shipped once"):
        shipped.export(run_dir, unet, "recon", {"epoch": [1]}, {}, {})


def test_the_registry_installs_a_shipped_model_when_no_run_exists_and_restores_its_weights(runs_dir: Path, tmp_path: Path) -> None:
    run_dir, unet = _finished_run(tmp_path / "elsewhere")
    shipped.export(run_dir, unet, "recon", {"epoch": [1, 2]}, {"unet": {"ssim_mask": 0.5}}, {})
    spec = runs.RunSpec.recon(PROFILE, "onehot")
    with pytest.raises(runs.MissingCheckpointError):
        runs.find(spec, "data1")  # the registry only finds; installing is asked for by name
    installed = shipped.find_or_install(spec, "data1")  # nothing in $FACEOBF_RUNS: the shipped model is installed there
    assert installed.parent == runs_dir and shipped.is_installed(installed) and runs.is_finished(installed)
    assert runs.find(spec, "data1") == installed == shipped.find_or_install(spec, "data1")  # an ordinary finished run now
    with pytest.raises(runs.MissingCheckpointError):
        shipped.find_or_install(spec, "other-data")  # trained on another data set: not offered for it

    other = _unet(seed=5)
    history, test = shipped.load_into(installed, other)
    key = next(k for k, _ in shipped._leaves(nnx.state(unet)) if k.endswith("kernel'].value"))
    expected = _leaf(nnx.state(unet), key).astype(np.float16).astype(np.float32)
    np.testing.assert_array_equal(_leaf(nnx.state(other), key), expected)
    assert _leaf(nnx.state(other), key).dtype == np.float32 and history == {"epoch": [1, 2]} and test["unet"]["ssim_mask"] == 0.5


def test_weights_shipped_before_they_were_keyed_by_the_network_still_load(runs_dir: Path, tmp_path: Path) -> None:
    run_dir, unet = _finished_run(tmp_path / "elsewhere")
    path = shipped.export(run_dir, unet, "recon", {"epoch": [1]}, {}, {})
    with np.load(path / shipped.WEIGHTS) as npz:  # as the first exports wrote them: keyed by the place in ((G, opt), D)
        np.savez(path / shipped.WEIGHTS, **{"[0][0]" + k: npz[k] for k in npz.files})
    card = json.loads((path / shipped.CARD).read_text())
    del card["keys"]
    card["sha256"] = shipped.sha256(path / shipped.WEIGHTS)
    (path / shipped.CARD).write_text(json.dumps(card))
    other = _unet(seed=5)
    shipped.load_into(shipped.install(path.name, runs_dir), other)
    key = next(k for k, _ in shipped._leaves(nnx.state(unet)) if k.endswith("kernel'].value"))
    np.testing.assert_array_equal(_leaf(nnx.state(other), key), _leaf(nnx.state(unet), key).astype(np.float16).astype(np.float32))


def test_a_newer_version_of_a_shipped_model_replaces_its_earlier_install(runs_dir: Path, tmp_path: Path) -> None:
    run_dir, unet = _finished_run(tmp_path / "elsewhere")
    path = shipped.export(run_dir, unet, "recon", {"epoch": [1]}, {}, {})
    installed = shipped.install(path.name, runs_dir)
    card = json.loads((path / shipped.CARD).read_text())
    card["history"] = {"epoch": [1, 2]}  # re-exported: another card, same name
    (path / shipped.CARD).write_text(json.dumps(card))
    assert shipped.install(path.name, runs_dir) == installed
    assert json.loads((installed / shipped.HISTORY).read_text()) == {"epoch": [1, 2]}
    assert sorted(p.name for p in runs_dir.iterdir()) == [path.name]  # no stale or partial copies left
    shutil.rmtree(installed)
    installed.mkdir()  # a training run of the same name (no shipped weights): never replaced
    (installed / "notes.txt").write_text("mine")
    with pytest.raises(shipped.ShippedModelError, match="not this shipped model"):
        shipped.install(path.name, runs_dir)
    assert (installed / "notes.txt").read_text() == "mine"


def test_a_follow_runs_landmark_mapping_and_gain_ship_with_it_and_are_checked(runs_dir: Path, tmp_path: Path) -> None:
    from faceobf.disentangle.geometry import LandmarkMapping
    from faceobf.reconstruct.generate import FlipStrength
    from faceobf.train.recon import MAPPING_FILE, STRENGTH_FILE, store_flip_strength, stored_flip_settings

    run_dir, unet = _finished_run(tmp_path / "elsewhere")
    mapping = LandmarkMapping(np.zeros((68, 2)), np.full((40, 68, 2), 0.01), 10.0, 1.0, np.zeros(40), 0.3, 100)
    mapping.save(run_dir / MAPPING_FILE)
    store_flip_strength(run_dir, FlipStrength(2.5, 1.5), {"chosen_on": "validation"})
    path = shipped.export(run_dir, unet, "recon", {"epoch": [1]}, {}, {})
    card = json.loads((path / shipped.CARD).read_text())
    assert set(card["files"]) == {MAPPING_FILE, STRENGTH_FILE}
    installed = shipped.find_or_install(runs.RunSpec.recon(PROFILE, "onehot"), "data1")
    again, strength = stored_flip_settings(installed)
    np.testing.assert_array_equal(again.coefficients, mapping.coefficients)
    assert strength == FlipStrength(2.5, 1.5) and stored_flip_settings(tmp_path) == (None, FlipStrength())  # fixed, as trained
    (path / STRENGTH_FILE).write_text(json.dumps({"gain": 9.0, "intensity": 1.0}))  # tampered with after export
    with pytest.raises(shipped.ShippedModelError, match="checksum"):
        shipped.install(path.name, tmp_path / "other-runs")


def test_a_corrupt_or_misshapen_shipped_model_is_refused(runs_dir: Path, tmp_path: Path) -> None:
    run_dir, unet = _finished_run(tmp_path / "elsewhere")
    path = shipped.export(run_dir, unet, "recon", {}, {}, {})
    with np.load(path / shipped.WEIGHTS) as npz:
        arrays = {k: npz[k] for k in npz.files}
    key = next(iter(arrays))
    with pytest.raises(shipped.ShippedModelError, match="shape"):
        shipped.with_arrays(nnx.state(unet), {**arrays, key: np.zeros((1, 2, 3), np.float16)})
    with pytest.raises(shipped.ShippedModelError, match="not in the shipped weights"):
        shipped.with_arrays(nnx.state(unet), {k: v for k, v in arrays.items() if k != key})
    arrays[key] = arrays[key] + np.float16(1)
    np.savez(path / shipped.WEIGHTS, **arrays)
    with pytest.raises(shipped.ShippedModelError, match="checksum"):
        shipped.install(path.name, runs_dir)
    assert not (runs_dir / path.name).exists()  # nothing half-installed


def test_float16_fidelity_measures_what_rounding_changes() -> None:
    state = {"w": jax.numpy.asarray(np.array([1.0 + 2**-12, 3.0], np.float32))}
    fidelity = shipped.float16_fidelity(lambda s: np.asarray(s["w"], np.float64), state, lambda x: x > 1.0)
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
    from faceobf.profiles import with_upscaler_adversary

    cpu = get_profile("cpu")
    for card in SHIPPED:  # a profile changed after shipping would silently stop using its shipped model
        weight = card["record"]["config"].get("train", {}).get("adv_weight", 0.0)  # the L1 upscaler: the fine-tune's start
        spec = {"fac": lambda: runs.RunSpec.fac(cpu), "upscaler": lambda: runs.RunSpec.upscaler(with_upscaler_adversary(cpu, weight)),
                "recon": lambda: runs.RunSpec.recon(cpu, card["record"]["config"]["encoding"])}[card["kind"]]()
        assert shipped.matching_card(spec.record(None)) == card, f"{card['name']} no longer matches the cpu profile"
    assert shipped.matching_card(runs.RunSpec.upscaler(cpu).record(None)) is not None  # the tool's own upscaler ships


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


def test_every_shipped_model_is_keyed_by_celeba_mini_which_faceobf_data_mini_reproduces() -> None:
    from faceobf.data.subset import MINI_KEY, mini_names

    models = [p.name for p in shipped.SHIPPED_ROOT.iterdir() if p.is_dir() and p.name != "detectors"]
    assert models and all(name.endswith(f"-{MINI_KEY}") for name in models)
    names = mini_names()
    assert len(names) == len(set(names)) == 6000 and names == sorted(names)

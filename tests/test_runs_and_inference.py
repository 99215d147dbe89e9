"""The run registry, the inference wrapper and the training loop that every stage shares."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from faceobf import runs
from faceobf.data.batches import iterate_batches
from faceobf.inference import BatchedModel, as_float_images
from faceobf.profiles import get_profile
from faceobf.train.loop import fit


@pytest.fixture
def runs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FACEOBF_RUNS", str(tmp_path / "runs"))
    return tmp_path / "runs"


def _finish(run_dir: Path, metrics: dict | None = None) -> None:
    (run_dir / runs.FINISHED).write_text(json.dumps(metrics or {"mean_accuracy": 0.5}))


def test_runs_are_found_by_their_stored_config_not_by_folder_name(runs_dir: Path) -> None:
    profile = get_profile("ci")
    spec = runs.RunSpec.recon(profile, "onehot")
    with pytest.raises(runs.MissingCheckpointError, match="faceobf train recon --profile ci --encoding onehot"):
        runs.find(spec)
    run_dir = runs.claim(spec, "data1")
    assert run_dir.name == f"recon-ci-{spec.variant}-data1" and json.loads((run_dir / runs.RECORD).read_text())["kind"] == "recon"
    with pytest.raises(runs.MissingCheckpointError):
        runs.find(spec)  # started, not finished
    _finish(run_dir)
    moved = run_dir.rename(run_dir.parent / "my-favourite-model")
    assert runs.find(spec) == moved
    assert runs.find(spec, "data1") == moved
    with pytest.raises(runs.MissingCheckpointError):
        runs.find(spec, "other-data")
    with pytest.raises(runs.MissingCheckpointError):
        runs.find(runs.RunSpec.recon(profile, "word2vec"))  # another variant is another run


def test_a_run_of_another_configuration_is_refused(runs_dir: Path) -> None:
    profile = get_profile("ci")
    run_dir = runs.claim(runs.RunSpec.fac(profile), "data1")
    _finish(run_dir)
    changed = dataclasses.replace(profile, fac=dataclasses.replace(profile.fac, epochs=profile.fac.epochs + 1))
    with pytest.raises(runs.RunConfigError, match="trained with another config"):
        runs.find(runs.RunSpec.fac(changed))
    with pytest.raises(runs.RunConfigError, match="another configuration"):
        runs.claim(runs.RunSpec.fac(changed), "data1", run_dir)
    runs.check(run_dir, runs.RunSpec.fac(profile))  # the profile it was made with passes


def test_fingerprints_change_when_a_run_is_retrained(runs_dir: Path) -> None:
    run_dir = runs.claim(runs.RunSpec.fac(get_profile("ci")), "data1")
    _finish(run_dir, {"mean_accuracy": 0.5})
    first = runs.fingerprint(run_dir)
    _finish(run_dir, {"mean_accuracy": 0.6})
    assert runs.fingerprint(run_dir) != first and first.startswith(run_dir.name + ":")
    assert runs.fingerprint(None) is None


class Scale(nnx.Module):
    def __init__(self):
        self.w = nnx.Param(jnp.full((3,), 2.0))

    def __call__(self, x):
        return x * self.w[...]


def test_batched_model_pads_batches_converts_bytes_and_keeps_order() -> None:
    model = BatchedModel(Scale(), lambda m, x: m(as_float_images(x)).sum(axis=(1, 2)), batch_size=4)
    images = np.random.default_rng(0).integers(0, 256, (10, 2, 2, 3), dtype=np.uint8)
    out = model(images)
    np.testing.assert_allclose(out, (images.astype(np.float32) / 255 * 2).sum(axis=(1, 2)), rtol=1e-6)
    np.testing.assert_allclose(model(images[:3]), out[:3], rtol=1e-6)  # the same faces, another batch split
    assert model(images[:0]).shape == (0, 3)
    with pytest.raises(ValueError, match="different lengths"):
        BatchedModel(Scale(), lambda m, x, y: m(x) + y, 4)(np.zeros((2, 3)), np.zeros((3, 3)))


def test_fit_averages_step_metrics_over_the_epoch_on_the_device() -> None:
    values = np.arange(8, dtype=np.float32)[:, None]

    @jax.jit
    def step(state, x):
        return state + 1, {"seen": x.mean(), "count": jnp.float32(len(x))}

    state, history, epoch = fit(jnp.float32(0), step, lambda e: iterate_batches((values,), 2, seed=0, epoch=e, shuffle=False),
                                epochs=2, progress=False, log=lambda s: None)
    assert float(state) == 8 and epoch == 2  # 4 steps per epoch
    assert history["epoch"] == [1, 2] and history["seen"] == [3.5, 3.5] and history["count"] == [2.0, 2.0]
    assert list(history) == ["epoch", "count", "seen", "images_per_s"]


def test_the_old_recipe_is_a_separate_run_with_its_own_command() -> None:
    from faceobf.profiles import recipe_of, with_landmarks, with_recipe

    profile = get_profile("cpu")
    assert recipe_of(profile) == "attgan" and profile.patchgan.attribute_head and profile.unet.inject_levels > 0
    old = with_recipe(profile, "pix2pix")
    assert recipe_of(old) == "pix2pix" and not old.patchgan.attribute_head and old.unet.inject_levels == 0
    spec = runs.RunSpec.recon(with_landmarks(old, "outline_nose"), "word2vec")
    assert spec.variant == "word2vec-lm_outline_nose-pix2pix"
    assert spec.train_command().endswith("--encoding word2vec --landmarks outline_nose --recipe pix2pix")
    assert runs.RunSpec.recon(profile, "onehot").variant == "onehot"
    with pytest.raises(ValueError, match="unknown recipe"):
        with_recipe(profile, "stargan")


def test_ablations_train_under_the_shorter_budget_as_their_own_runs() -> None:
    from faceobf.profiles import with_ablation_budget, with_recipe, without_injection

    profile = get_profile("cpu")
    short = with_ablation_budget(profile)
    assert (short.recon.epochs, short.recon.head_warmup_epochs) == (profile.ablation.epochs, profile.ablation.head_warmup_epochs)
    assert with_ablation_budget(short) == short and runs.RunSpec.recon(short, "onehot").variant == "onehot-short"
    old = with_ablation_budget(with_recipe(profile, "pix2pix"))
    assert old.recon.head_warmup_epochs == 0 and old.recon.epochs == short.recon.epochs  # the same budget for both arms
    spec = runs.RunSpec.recon(with_ablation_budget(without_injection(profile)), "word2vec")
    assert spec.variant == "word2vec-noinject-short" and spec.config["unet"]["inject_levels"] == 0
    assert spec.train_command().endswith("--encoding word2vec --no-inject --short")
    assert runs.RunSpec.recon(old, "onehot").train_command().endswith("--encoding onehot --recipe pix2pix --short")


def test_with_weights_reuses_the_compiled_function_for_new_weights() -> None:
    traces = []

    def apply(m, x):
        traces.append(1)  # runs only while jax traces
        return m(x)

    model = BatchedModel(Scale(), apply, batch_size=2)
    x = np.ones((3, 3), np.float32)
    np.testing.assert_allclose(model(x), 2 * x)
    other = Scale()
    other.w[...] = jnp.full((3,), 5.0)
    np.testing.assert_allclose(model.with_weights(other)(x), 5 * x)
    np.testing.assert_allclose(model(x), 2 * x)  # the original keeps its weights
    assert len(traces) == 1


def test_geometry_and_seed_edits_name_their_runs_and_old_records_still_match(runs_dir: Path) -> None:
    from faceobf.profiles import ReconTrainConfig, with_ablation_budget, with_geometry, with_seed_edits

    cpu = get_profile("cpu")
    follow = with_seed_edits(with_geometry(cpu, "follow"), 0.5)
    spec = runs.RunSpec.recon(follow, "onehot")
    assert spec.variant == "onehot-follow-seed50" and follow.recon.geometry_gain == (1.0, 3.0)
    assert spec.train_command().endswith("--encoding onehot --geometry follow --seed-edits 0.5")
    fixed = with_ablation_budget(with_geometry(follow, "fixed"))
    assert runs.RunSpec.recon(fixed, "onehot").variant == "onehot-seed50-short"
    assert runs.RunSpec.recon(fixed, "onehot").train_command().endswith("--encoding onehot --seed-edits 0.5 --short")
    ci = get_profile("ci")  # whose recipe follows: its fixed arm must say so
    assert runs.RunSpec.recon(with_geometry(ci, "fixed"), "onehot").train_command().endswith("--encoding onehot --geometry fixed")
    assert runs.RunSpec.recon(ci, "onehot").train_command().endswith("--profile ci --encoding onehot")
    with pytest.raises(ValueError, match="unknown geometry"):
        with_geometry(cpu, "warp")
    with pytest.raises(ValueError, match="between 0 and 1"):
        with_seed_edits(cpu, 1.5)
    # a run recorded before the geometry options existed trained with their defaults, and is still found
    old_spec = runs.RunSpec.recon(cpu, "onehot")
    run_dir = runs.claim(old_spec, "data1")
    record = json.loads((run_dir / runs.RECORD).read_text())
    new_keys = ("geometry", "geometry_gain", "mapping_ridge", "seed_edit_share")
    for key in new_keys:
        del record["config"]["train"][key]
    (run_dir / runs.RECORD).write_text(json.dumps(record))
    _finish(run_dir)
    assert runs.find(old_spec) == run_dir
    with pytest.raises(runs.MissingCheckpointError):
        runs.find(spec)  # the follow recipe is another run
    assert all(getattr(ReconTrainConfig(), k) == dataclasses.asdict(cpu.recon)[k] for k in new_keys)

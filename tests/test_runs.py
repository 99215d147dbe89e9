"""The run registry: runs found by their stored configuration, refused when it changed, named by their recipe."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from faceobf import runs
from faceobf.profiles import get_profile


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


def test_the_old_recipe_is_a_separate_run_with_its_own_command() -> None:
    from faceobf.profiles import recipe_of, with_landmarks, with_recipe

    profile = get_profile("cpu")
    assert recipe_of(profile) == "attgan" and profile.patchgan.attribute_head and profile.unet.inject_levels > 0
    old = with_recipe(profile, "pix2pix")
    assert recipe_of(old) == "pix2pix" and not old.patchgan.attribute_head and old.unet.inject_levels == 0
    spec = runs.RunSpec.recon(with_landmarks(old, "outline_nose"), "word2vec")
    assert spec.variant == "word2vec-lm_outline_nose-pix2pix"
    assert spec.train_command().endswith("--encoding word2vec --landmarks outline_nose --recipe pix2pix")
    assert runs.RunSpec.recon(profile, "onehot").variant == "onehot-follow-seed50"  # the book's recipe names its parts
    with pytest.raises(ValueError, match="unknown recipe"):
        with_recipe(profile, "stargan")


def test_ablations_train_under_the_shorter_budget_as_their_own_runs() -> None:
    from faceobf.profiles import with_ablation_budget, with_recipe, without_injection

    profile = get_profile("cpu")
    short = with_ablation_budget(profile)
    assert (short.recon.epochs, short.recon.head_warmup_epochs) == (profile.ablation.epochs, profile.ablation.head_warmup_epochs)
    assert with_ablation_budget(short) == short and runs.RunSpec.recon(short, "onehot").variant == "onehot-follow-seed50-short"
    old = with_ablation_budget(with_recipe(profile, "pix2pix"))
    assert old.recon.head_warmup_epochs == 0 and old.recon.epochs == short.recon.epochs  # the same budget for both arms
    spec = runs.RunSpec.recon(with_ablation_budget(without_injection(profile)), "word2vec")
    assert spec.variant == "word2vec-follow-seed50-noinject-short" and spec.config["unet"]["inject_levels"] == 0
    assert spec.train_command().endswith("--encoding word2vec --no-inject --short")
    assert runs.RunSpec.recon(old, "onehot").train_command().endswith("--encoding onehot --recipe pix2pix --short")


def test_geometry_and_seed_edits_name_their_runs_and_old_records_still_match(runs_dir: Path) -> None:
    from faceobf.profiles import ReconTrainConfig, with_ablation_budget, with_geometry, with_seed_edits

    cpu = get_profile("cpu")  # the book's recipe: landmarks follow the flips, half of the edits the seed's four
    follow = with_seed_edits(with_geometry(cpu, "follow"), 0.5)
    assert follow == cpu
    spec = runs.RunSpec.recon(follow, "onehot")
    assert spec.variant == "onehot-follow-seed50" and follow.recon.geometry_gain == (1.0, 3.0)
    assert spec.train_command().endswith("--profile cpu --encoding onehot")  # the profile's defaults need no option
    fixed = with_ablation_budget(with_geometry(follow, "fixed"))
    assert runs.RunSpec.recon(fixed, "onehot").variant == "onehot-seed50-short"
    assert runs.RunSpec.recon(fixed, "onehot").train_command().endswith("--encoding onehot --geometry fixed --short")
    assert runs.RunSpec.recon(with_seed_edits(cpu, 0.25), "onehot").train_command().endswith("--encoding onehot --seed-edits 0.25")
    with pytest.raises(ValueError, match="unknown geometry"):
        with_geometry(cpu, "warp")
    with pytest.raises(ValueError, match="between 0 and 1"):
        with_seed_edits(cpu, 1.5)
    # a run recorded before the geometry options existed trained with their defaults (the seed's fixed landmarks, no
    # seed edits), and is still found
    before = with_seed_edits(with_geometry(cpu, "fixed"), 0.0)
    old_spec = runs.RunSpec.recon(before, "onehot")
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
    assert all(getattr(ReconTrainConfig(), k) == dataclasses.asdict(before.recon)[k] for k in new_keys)


def test_an_adversarial_upscaler_is_its_own_run_named_by_its_weight() -> None:
    from faceobf.profiles import get_profile, with_upscaler_adversary
    from faceobf.runs import RunSpec

    plain = RunSpec.upscaler(with_upscaler_adversary(get_profile("cpu"), 0.0))
    adversarial = RunSpec.upscaler(with_upscaler_adversary(get_profile("cpu"), 0.005))
    assert plain.variant == "" and plain.folder_name("k") == "upscaler-cpu-k"
    assert RunSpec.upscaler(get_profile("cpu")).folder_name("k") == "upscaler-cpu-adv0.01-k"  # the default: fine-tuned
    assert adversarial.folder_name("k") == "upscaler-cpu-adv0.005-k" and adversarial.config != plain.config
    assert adversarial.train_command() == "faceobf train upscaler --profile cpu --adv-weight 0.005"
    with pytest.raises(ValueError, match=">= 0"):
        with_upscaler_adversary(get_profile("cpu"), -1.0)


@pytest.mark.parametrize("argv", [[], ["--recipe", "pix2pix", "--no-inject"], ["--landmarks", "outline_nose", "--l1-weight", "50"],
                                  ["--geometry", "fixed", "--condition", "difference", "--critic", "frozen", "--short"],
                                  ["--no-inject", "--attr-weight", "5", "--identity-weight", "0.5", "--seed-edits", "0.25"]])
@pytest.mark.parametrize("profile", ["ci", "cpu", "gpu"])
def test_the_command_a_run_names_trains_that_run_again(profile: str, argv: list[str]) -> None:
    import contextlib
    import io

    from faceobf.cli import build_parser
    from faceobf.commands.common import announce_profile

    def spec_of(arguments: list[str]) -> runs.RunSpec:
        args = build_parser().parse_args(arguments)
        with contextlib.redirect_stdout(io.StringIO()):
            return runs.RunSpec.recon(announce_profile(args), args.encoding)

    spec = spec_of(["train", "recon", "--profile", profile, "--encoding", "word2vec"] + argv)
    again = spec_of(spec.train_command().split()[1:])
    assert (again.variant, again.config) == (spec.variant, spec.config)

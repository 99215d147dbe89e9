"""Stage 2 building blocks: attribute encodings, U-Net and PatchGAN, compositing, metrics, train steps."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from skimage.metrics import structural_similarity

from faceobf.disentangle.attributes import CELEBA_ATTRIBUTES
from faceobf.obfuscate.policies import FlipNamed
from faceobf.reconstruct.planes import (
    Word2VecConfig,
    attribute_planes,
    attribute_sentences,
    embedding_table,
    load_word2vec,
    onehot_table,
    save_word2vec,
    train_word2vec,
)
from faceobf.data import CelebA
from faceobf.reconstruct.factors import N_CHANNELS, assemble_inputs, face_factors
from faceobf.reconstruct.imageops import composite, feather, image_metrics, ssim_map
from faceobf.models.unet import PatchGAN, PatchGANConfig, UNet, UNetConfig
from faceobf.profiles import ReconTrainConfig
from faceobf.train.recon import FaceBatch, StepAids, create_recon_state, make_recon_steps
from tests.conftest import ATTRIBUTE_NAMES, interrupt_at_epoch


def _attributes(n: int = 300, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = (rng.random((n, 40)) < 0.3).astype(np.int8)
    a[:, CELEBA_ATTRIBUTES.index("Goatee")] = a[:, CELEBA_ATTRIBUTES.index("Male")]  # a co-occurring pair
    return a


def test_attribute_names_match_the_celeba_header() -> None:
    assert CELEBA_ATTRIBUTES == tuple(ATTRIBUTE_NAMES) and len(CELEBA_ATTRIBUTES) == 40


def test_onehot_planes_are_ones_for_present_and_zero_for_absent() -> None:
    attrs = np.zeros((2, 40), np.int8)
    attrs[0, [3, 31]] = 1
    planes = attribute_planes(attrs, onehot_table(), 16)
    assert planes.shape == (2, 16, 16, 40)
    assert (planes[0, :, :, 3] == 1).all() and (planes[0, :, :, 31] == 1).all()
    assert planes[0].sum() == 2 * 16 * 16 and planes[1].sum() == 0


def test_word2vec_is_deterministic_cbow_and_zero_for_absent(tmp_path: Path) -> None:
    attrs = _attributes()
    config = Word2VecConfig(epochs=5)
    a, b = train_word2vec(attrs, config), train_word2vec(attrs, config)
    assert a.sg == 0 and a.wv.vector_size == 16
    np.testing.assert_array_equal(a.wv["Male"], b.wv["Male"])
    save_word2vec(a, tmp_path / "w2v.model")
    table = embedding_table(load_word2vec(tmp_path / "w2v.model"), config)
    np.testing.assert_array_equal(table, embedding_table(a, config))
    assert table.shape == (40, 4, 4)
    np.testing.assert_array_equal(table[CELEBA_ATTRIBUTES.index("Male")].ravel(), a.wv["Male"])
    planes = attribute_planes(attrs[:3], table, 8)
    for j in range(40):
        if not attrs[0, j]:
            assert (planes[0, :, :, j] == 0).all()
        else:  # the 4x4 map, each cell repeated 2x2
            np.testing.assert_array_equal(planes[0, ::2, ::2, j], table[j])
    assert attribute_sentences(attrs[:1])[0] == [CELEBA_ATTRIBUTES[j] for j in np.flatnonzero(attrs[0])]


def test_word2vec_places_attributes_of_the_same_contexts_together() -> None:
    rng = np.random.default_rng(1)
    groups = [["Male", "Goatee", "Mustache", "Sideburns"], ["Heavy_Makeup", "Wearing_Lipstick", "Arched_Eyebrows", "Wearing_Earrings"]]
    attrs = np.zeros((800, 40), np.int8)
    for i in range(800):
        group = groups[i % 2]
        for name in rng.choice(group, size=3, replace=False):
            attrs[i, CELEBA_ATTRIBUTES.index(name)] = 1
        attrs[i, rng.choice(40, size=2)] |= 1  # some noise
    wv = train_word2vec(attrs, Word2VecConfig(epochs=30)).wv
    assert wv.similarity("Male", "Goatee") > wv.similarity("Male", "Wearing_Lipstick")
    assert wv.similarity("Heavy_Makeup", "Wearing_Lipstick") > wv.similarity("Heavy_Makeup", "Mustache")


def test_flip_by_name_and_errors() -> None:
    attrs = np.zeros((1, 40), np.int8)
    flipped = FlipNamed(("Smiling", "Young"))(attrs)
    assert flipped[0, CELEBA_ATTRIBUTES.index("Smiling")] == 1 and flipped.sum() == 2 and attrs.sum() == 0
    with pytest.raises(ValueError, match="unknown attribute 'Smiley'"):
        FlipNamed(("Smiley",))


@pytest.mark.slow
def test_unet_and_patchgan_shapes_and_range() -> None:
    unet = UNet(UNetConfig(base_width=8, depth=3), rngs=nnx.Rngs(0))
    x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 32, 32, N_CHANNELS)), jnp.float32)
    y = unet(x)
    assert y.shape == (2, 32, 32, 3) and float(y.min()) >= 0 and float(y.max()) <= 1
    d = PatchGAN(PatchGANConfig(base_width=8), rngs=nnx.Rngs(1))
    assert d(x, y).shape == (2, 4, 4, 1)


def test_composite_leaves_every_pixel_outside_the_mask_untouched() -> None:
    rng = np.random.default_rng(0)
    original = rng.random((1, 32, 32, 3)).astype(np.float32)
    generated = rng.random((1, 32, 32, 3)).astype(np.float32)
    mask = np.zeros((1, 32, 32), np.float32)
    mask[0, 8:24, 6:26] = 1
    out = np.asarray(composite(generated, original, mask, radius=2.0))
    outside = mask[0] == 0
    np.testing.assert_array_equal(out[0][outside], original[0][outside])
    np.testing.assert_allclose(out[0, 16, 16], generated[0, 16, 16], atol=1e-6)  # centre: fully generated
    alpha = np.asarray(feather(mask, 2.0))[0, ..., 0]
    assert 0 < alpha[8, 16] < 1  # the edge fades


def test_ssim_matches_scikit_image_away_from_the_border() -> None:
    from skimage import data

    a = data.astronaut()[100:164, 150:214].astype(np.float32) / 255
    b = np.clip(a + np.random.default_rng(0).normal(0, 0.05, a.shape), 0, 1).astype(np.float32)
    _, ref = structural_similarity(a, b, channel_axis=2, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                   use_sample_covariance=False, full=True)
    mine = np.asarray(ssim_map(a[None], b[None]))[0]
    np.testing.assert_allclose(mine[8:-8, 8:-8], ref.mean(axis=-1)[8:-8, 8:-8], atol=1e-4)
    m = image_metrics(jnp.asarray(a[None]), jnp.asarray(a[None]), jnp.ones((1, 64, 64)))
    assert float(m["ssim"][0]) == pytest.approx(1.0, abs=1e-5) and float(m["l1_mask"][0]) == 0.0


def test_face_factors_exclude_faces_hog_misses(celeba_dir: Path) -> None:
    from PIL import Image

    Image.fromarray(np.full((218, 178, 3), 80, np.uint8)).save(celeba_dir / "img_align_celeba" / "000002.jpg")
    ds = CelebA.open(celeba_dir)
    f = face_factors(ds, np.arange(4), 32, progress=False)
    assert f.excluded.tolist() == [1] and f.rows.tolist() == [0, 2, 3]
    assert f.images.shape == (3, 32, 32, 3) and f.masks.shape == (3, 32, 32) and f.landmarks.shape == (3, 68, 2)
    x = assemble_inputs(jnp.asarray(f.images, jnp.float32) / 255, f.landmarks, jnp.asarray(f.masks, jnp.float32),
                        jnp.asarray(f.attributes, jnp.float32), jnp.asarray(onehot_table()))
    assert x.shape == (3, 32, 32, 111)
    assert float(jnp.abs(x[..., 68:71] * f.masks[..., None]).max()) == 0.0  # the face is blacked out


@pytest.mark.slow
def test_one_generator_and_one_discriminator_step_lower_their_losses() -> None:
    # Small learning rates: Adam's first step moves every weight by ~lr, and a step of the default
    # 2e-4 can overshoot on a batch this small; the claim tested is that the gradients point downhill.
    cfg = ReconTrainConfig(resolution=32, batch_size=4, lr_g=1e-4, lr_d=1e-5)
    g_def, g_state, d_def, d_state = create_recon_state(UNetConfig(base_width=8, depth=3), PatchGANConfig(base_width=8), cfg)
    g_step, d_step = make_recon_steps(g_def, d_def, cfg)
    rng = np.random.default_rng(0)
    images = rng.random((4, 32, 32, 3), dtype=np.float32)
    landmarks = (rng.random((4, 68, 2)) * 32).astype(np.float32)
    masks = np.zeros((4, 32, 32), np.float32)
    masks[:, 8:24, 8:24] = 1
    attrs = (rng.random((4, 40)) > 0.5).astype(np.float32)
    table = jnp.asarray(onehot_table())
    frozen_d = jax.tree.map(jnp.array, d_state)  # the G steps see a fixed discriminator
    batch = FaceBatch(images, landmarks, masks, attrs)
    g_state, fakes, before = g_step(g_state, frozen_d, batch, StepAids(table))
    g_state, _, after = g_step(g_state, frozen_d, batch, StepAids(table))  # reports the loss after step 1
    assert float(after["g_loss"]) < float(before["g_loss"])
    d_state, d_before = d_step(d_state, batch, fakes)
    d_state, d_after = d_step(d_state, batch, fakes)
    assert float(d_after["d_loss"]) < float(d_before["d_loss"])


@pytest.mark.slow
def test_recon_training_resumes_and_reports_test_metrics(celeba_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from faceobf.profiles import FACTrainConfig, Profile
    from faceobf.train import recon as recon_module
    from faceobf.train.recon import load_or_train_recon, train_recon

    profile = Profile("test", FACTrainConfig(), None, "unit test", recon=ReconTrainConfig(resolution=32, batch_size=2, epochs=2),
                      unet=UNetConfig(base_width=8, depth=2), patchgan=PatchGANConfig(base_width=8))
    ds = CelebA.open(celeba_dir)
    real_iterate = interrupt_at_epoch(monkeypatch, recon_module, 1)  # killed in epoch 2
    with pytest.raises(KeyboardInterrupt):
        train_recon(profile, ds, "word2vec", progress=False, log=lambda s: None)
    monkeypatch.setattr(recon_module, "iterate_batches", real_iterate)
    logs: list[str] = []
    run = train_recon(profile, ds, "word2vec", progress=False, log=logs.append)
    assert any("after epoch 1" in line for line in logs)
    assert run.history["epoch"] == [1, 2]
    assert (run.run_dir / "word2vec.model").exists() and (run.run_dir / "previews" / "epoch_002.png").exists()
    for method in ("unet", "mean_colour_baseline"):
        assert set(run.test[method]) == {"ssim", "ssim_mask", "psnr", "psnr_mask", "l1", "l1_mask"}
    assert run.test["n_test_faces"] == 3
    loaded = load_or_train_recon(profile, ds, "word2vec", progress=False, log=lambda s: None)
    np.testing.assert_array_equal(loaded.table, run.table)
    assert loaded.test == json.loads((run.run_dir / "test_metrics.json").read_text())


@pytest.mark.slow
def test_the_optional_ssim_term_adds_one_minus_ssim_to_the_generator_loss() -> None:
    rng = np.random.default_rng(0)
    images = rng.random((2, 16, 16, 3), dtype=np.float32)
    landmarks = (rng.random((2, 68, 2)) * 16).astype(np.float32)
    masks = np.zeros((2, 16, 16), np.float32)
    masks[:, 4:12, 4:12] = 1
    attrs = np.zeros((2, 40), np.float32)
    table = jnp.asarray(onehot_table())
    losses = {}
    for weight in (0.0, 10.0):
        cfg = ReconTrainConfig(resolution=16, batch_size=2, ssim_weight=weight)
        g_def, g_state, d_def, d_state = create_recon_state(UNetConfig(base_width=8, depth=2), PatchGANConfig(base_width=8), cfg)
        g_step, _ = make_recon_steps(g_def, d_def, cfg)
        _, _, metrics = g_step(g_state, d_state, FaceBatch(images, landmarks, masks, attrs), StepAids(table))
        losses[weight] = metrics
    extra = float(losses[10.0]["g_loss"]) - float(losses[0.0]["g_loss"])
    assert float(losses[10.0]["l1"]) == pytest.approx(float(losses[0.0]["l1"]))  # same initial networks
    assert 0.0 < extra <= 10.0 * 2.0  # 10 * (1 - SSIM), and 1 - SSIM lies in [0, 2]


@pytest.mark.slow
def test_a_landmark_subset_feeds_only_its_heatmaps_and_names_its_own_run(celeba_dir: Path) -> None:
    from faceobf.disentangle.landmarks import LANDMARK_SUBSETS
    from faceobf import runs
    from faceobf.profiles import get_profile, with_landmarks
    from faceobf.options import run_variant as recon_variant
    from faceobf.train.recon import make_generator

    subset = LANDMARK_SUBSETS["outline_nose"]
    rng = np.random.default_rng(0)
    images = rng.random((2, 32, 32, 3), dtype=np.float32)
    landmarks = (rng.random((2, 68, 2)) * 32).astype(np.float32)
    masks, attrs, table = np.ones((2, 32, 32), np.float32), np.zeros((2, 40), np.float32), jnp.asarray(onehot_table())
    x = assemble_inputs(images, landmarks, masks, attrs, table, subset)
    assert x.shape[-1] == len(subset) + 43
    full = assemble_inputs(images, landmarks, masks, attrs, table)
    assert np.allclose(x[..., : len(subset)], full[..., list(subset)])  # the same heatmaps, the others dropped
    moved = landmarks.copy()
    moved[:, 40] += 5.0  # an eye point, not in the subset: the model input does not change
    assert np.array_equal(assemble_inputs(images, moved, masks, attrs, table, subset), x)

    cfg = ReconTrainConfig(resolution=32, landmark_subset="outline_nose")
    g_def, g_state, _, _ = create_recon_state(UNetConfig(base_width=8, depth=3), PatchGANConfig(base_width=8), cfg)
    assert make_generator(g_def, g_state, onehot_table(), cfg)(images, landmarks, masks, attrs).shape == (2, 32, 32, 3)

    profile = with_landmarks(get_profile("ci"), "outline_nose")
    assert recon_variant("onehot", profile) == "onehot-lm_outline_nose-follow-seed50"  # the ci recipe's flips move landmarks
    spec = runs.RunSpec.recon(profile, "onehot")
    assert "-onehot-lm_outline_nose-follow-seed50-" in spec.folder_name(CelebA.open(celeba_dir).key)
    with pytest.raises(runs.MissingCheckpointError, match="--encoding onehot --landmarks outline_nose"):
        runs.find(spec)
    with pytest.raises(ValueError, match="unknown landmark subset 'eyes'"):
        with_landmarks(profile, "eyes")


def test_edit_targets_flip_exactly_k_allowed_attributes() -> None:
    from faceobf.obfuscate.policies import PROTECTED_ATTRIBUTES
    from faceobf.train.recon import edit_targets

    attributes = jnp.asarray((np.random.default_rng(0).random((64, 40)) > 0.5).astype(np.float32))
    targets = np.asarray(edit_targets(attributes, jax.random.key(3), 4))
    flipped = targets != np.asarray(attributes)
    assert (flipped.sum(axis=1) == 4).all()
    protected = [CELEBA_ATTRIBUTES.index(n) for n in PROTECTED_ATTRIBUTES]
    assert not flipped[:, protected].any()
    assert len({tuple(np.flatnonzero(row)) for row in flipped}) > 1  # drawn per face
    np.testing.assert_array_equal(targets, np.asarray(edit_targets(attributes, jax.random.key(3), 4)))  # a key replays


@pytest.mark.parametrize("condition, seen", [("factors", 111 + 3), ("factors_without_attributes", 71 + 3), ("none", 3)])
def test_the_discriminator_sees_what_its_condition_says(condition: str, seen: int) -> None:
    _, _, d_def, d_state = create_recon_state(UNetConfig(base_width=8, depth=3), PatchGANConfig(base_width=8, condition=condition),
                                              ReconTrainConfig(resolution=32))
    assert nnx.merge(d_def, d_state)[0].convs[0].kernel.shape[2] == seen
    with pytest.raises(ValueError, match="choose one of"):
        PatchGANConfig(condition="landmarks")


@pytest.mark.slow
def test_the_attribute_recipe_adds_the_head_and_edited_redraws() -> None:
    cfg = ReconTrainConfig(resolution=32, batch_size=4, edit_flips=4, attr_weight=10.0, lr_d=1e-5)
    unet = UNetConfig(base_width=8, depth=3, inject_levels=2)
    patchgan = PatchGANConfig(base_width=8, attribute_head=True, condition="none")
    g_def, g_state, d_def, d_state = create_recon_state(unet, patchgan, cfg)
    g, _ = nnx.merge(g_def, g_state)
    d, _ = nnx.merge(d_def, d_state)
    assert g.decoders[0].conv1.kernel.shape[2] == 2 * 32 + 40 and g.decoders[1].conv1.kernel.shape[2] == 2 * 16 + 40
    assert g.decoders[2].conv1.kernel.shape[2] == 2 * 8  # only the two coarsest levels get the planes
    assert d.convs[0].kernel.shape[2] == 3  # AttGAN's discriminator: the image only, so attributes are read from it
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    landmarks = (rng.random((4, 68, 2)) * 32).astype(np.float32)
    masks = np.zeros((4, 32, 32), np.uint8)
    masks[:, 8:24, 8:24] = 1
    attrs = (rng.random((4, 40)) > 0.5).astype(np.int8)
    table = jnp.asarray(onehot_table())
    g_step, d_step = make_recon_steps(g_def, d_def, cfg)
    batch = FaceBatch(images, landmarks, masks, attrs)
    g_state, fakes, gm = g_step(g_state, d_state, batch, StepAids(table))
    expected = cfg.l1_weight * float(gm["l1"]) + cfg.adv_weight * float(gm["g_adv"]) + cfg.attr_weight * float(gm["g_attr"])
    assert float(gm["g_loss"]) == pytest.approx(expected, rel=1e-5)
    fake, fake_edit, targets, moved = fakes.fake, fakes.fake_edit, fakes.targets, fakes.moved
    np.testing.assert_array_equal(np.asarray(moved), landmarks)  # geometry 'fixed': the edit keeps the landmarks
    assert (np.asarray(targets) != attrs).sum(axis=1).tolist() == [4] * 4
    assert not np.allclose(np.asarray(fake), np.asarray(fake_edit))  # the edited redraw is another face
    d_state, before = d_step(d_state, batch, fakes)
    d_state, after = d_step(d_state, batch, fakes)
    assert set(before) == {"d_loss", "d_attr"} and float(after["d_loss"]) < float(before["d_loss"])


def test_the_head_warmup_teaches_the_discriminator_attributes_and_nothing_else() -> None:
    from faceobf.reconstruct.factors import FaceFactors
    from faceobf.train.recon import head_accuracy, make_head_warmup_step

    cfg = ReconTrainConfig(resolution=32, batch_size=4, lr_d=1e-3)
    _, _, d_def, d_state = create_recon_state(UNetConfig(base_width=8, depth=3),
                                              PatchGANConfig(base_width=8, attribute_head=True, condition="none"), cfg)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    landmarks = (rng.random((4, 68, 2)) * 32).astype(np.float32)
    masks = np.ones((4, 32, 32), np.uint8)
    attrs = (rng.random((4, 40)) > 0.5).astype(np.int8)
    table = onehot_table()
    faces = FaceFactors(np.arange(4), images, landmarks, masks, attrs, np.zeros(0, int))
    step = make_head_warmup_step(d_def, cfg, StepAids(jnp.asarray(table)))
    losses = []
    for _ in range(30):
        d_state, metrics = step(d_state, images, landmarks, masks, attrs)
        losses.append(float(metrics["d_attr"]))
    assert set(metrics) == {"d_attr"} and losses[-1] < 0.5 * losses[0]  # it memorises four faces' labels
    accuracy = head_accuracy(d_def, d_state, faces, StepAids(jnp.asarray(table)), cfg)
    assert accuracy.shape == (40,) and accuracy.mean() > 0.9


def test_editing_accuracy_and_preservation_from_known_readings() -> None:
    from faceobf.reconstruct.editing import judge_edit

    base = np.zeros((4, 40), np.int8)
    base[:, 31] = [1, 1, 0, 0]  # Smiling
    smiling, young = CELEBA_ATTRIBUTES.index("Smiling"), CELEBA_ATTRIBUTES.index("Young")
    reading = base.copy()
    reading[:3, smiling] = 1 - base[:3, smiling]  # 3 of 4 faces read with the flipped smile
    reading[0, young] = 1  # one unflipped attribute of one face changed
    result = judge_edit(reading, base, [smiling])
    assert result["accuracy"] == {"Smiling": 0.75} and result["mean_accuracy"] == 0.75
    assert result["preservation"] == pytest.approx(1 - 1 / (4 * 39))
    assert judge_edit(base, base, [])["preservation"] == 1.0


def test_editing_accuracy_runs_the_judge_on_redrawn_faces() -> None:
    from faceobf.disentangle.classifier import AttributeClassifier
    from faceobf.models.resnet import ResNet, ResNetConfig
    from faceobf.reconstruct.editing import editing_accuracy
    from faceobf.reconstruct.factors import FaceFactors
    from faceobf.train.recon import make_generator

    cfg = ReconTrainConfig(resolution=32)
    g_def, g_state, _, _ = create_recon_state(UNetConfig(base_width=8, depth=2), PatchGANConfig(base_width=8), cfg)
    rng = np.random.default_rng(0)
    masks = np.zeros((3, 32, 32), np.uint8)
    masks[:, 8:24, 8:24] = 1
    faces = FaceFactors(np.arange(3), rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8),
                        (rng.random((3, 68, 2)) * 32).astype(np.float32), masks, np.zeros((3, 40), np.int8), np.zeros(0, np.int64))
    judge = AttributeClassifier(ResNet(ResNetConfig(stage_sizes=(1, 1), base_width=8), rngs=nnx.Rngs(0)), 32)
    out = editing_accuracy(make_generator(g_def, g_state, onehot_table(), cfg), judge, faces, {"seed's 4": ("Pointy_Nose", "Smiling", "Young", "Big_Nose")})
    assert set(out) == {"no flip", "seed's 4"} and out["no flip"]["flipped"] == []
    assert set(out["seed's 4"]["accuracy"]) == {"Pointy_Nose", "Smiling", "Young", "Big_Nose"}
    assert all(0.0 <= v <= 1.0 for v in out["seed's 4"]["accuracy"].values()) and out["seed's 4"]["faces"] == 3


def test_the_ablation_arms_differ_from_the_reference_in_one_thing_under_one_budget() -> None:
    from faceobf import runs
    from faceobf.profiles import get_profile, recipe_of, with_geometry, with_seed_edits
    from faceobf.train.ablations import REFERENCE_ARM, ablation_arms

    profile = with_seed_edits(with_geometry(get_profile("cpu"), "follow"), 0.5)
    arms = ablation_arms(profile)
    reference, _ = arms[REFERENCE_ARM]
    variants = {runs.RunSpec.recon(p, enc).variant for p, enc in arms.values()}
    assert len(variants) == len(arms) and runs.RunSpec.recon(profile, "onehot").variant not in variants  # own runs
    assert all(p.recon.epochs == profile.ablation.epochs for p, _ in arms.values()) and profile.ablation.epochs < profile.recon.epochs
    assert all(p.recon.train_limit == profile.ablation.train_limit for p, _ in arms.values())
    fields = ("geometry", "seed_edit_share", "condition", "critic", "l1_weight", "identity_weight")

    def changes(p, encoding):
        if recipe_of(p) != recipe_of(reference):
            return ["recipe"]  # the old recipe as a whole (no edits, so no geometry, seed edits or critic either)
        return [f for f in fields if getattr(p.recon, f) != getattr(reference.recon, f)] + (["encoding"] if encoding != "onehot" else [])
    assert {arm: changes(p, enc) for arm, (p, enc) in arms.items()} == {
        REFERENCE_ARM: [], "landmarks fixed (the seed's design)": ["geometry"], "no edits from the seed's four": ["seed_edit_share"],
        "difference planes (STGAN)": ["condition"], "frozen attribute critic": ["critic"], "L1 weight 30": ["l1_weight"],
        "L1 weight 10": ["l1_weight"], "identity hinge": ["identity_weight"], "word2vec planes": ["encoding"],
        "pix2pix recipe (the seed's)": ["recipe"]}


def test_editing_frame_puts_the_judge_beside_each_models_accuracy() -> None:
    from faceobf.reconstruct.editing import editing_frame, single_flip_sets

    sets = single_flip_sets(["Smiling", "Young"], {"seed's four": ("Smiling", "Young")})
    assert sets == {"Smiling": ("Smiling",), "Young": ("Young",), "seed's four": ("Smiling", "Young")}
    def result(flipped, acc):
        return {"flipped": flipped, "mean_accuracy": acc, "preservation": 0.9}
    results = {"new": {"Smiling": result(["Smiling"], 0.8), "seed's four": result(["Smiling", "Young"], 0.7)},
               "old": {"Smiling": result(["Smiling"], 0.1), "seed's four": result(["Smiling", "Young"], 0.05), "Young": result(["Young"], 0.2)}}
    judge = {"attributes": ["Smiling", "Young"], "accuracy": [0.9, 0.85], "majority_baseline": [0.5, 0.77]}
    frame = editing_frame(results, judge)
    assert list(frame.index) == ["Smiling", "seed's four"]  # only the sets measured for every model
    assert frame.loc["Smiling", ("judge on real faces", "accuracy")] == 0.9 and np.isnan(frame.loc["seed's four", ("judge on real faces", "accuracy")])
    assert frame.loc["seed's four", ("old", "editing")] == 0.05 and frame.loc["Smiling", ("new", "preservation")] == 0.9


def test_edit_grid_redraws_each_face_with_each_flip_alone() -> None:
    from faceobf.reconstruct.editing import edit_grid
    from faceobf.reconstruct.factors import FaceFactors
    from faceobf.train.recon import make_generator

    cfg = ReconTrainConfig(resolution=32)
    unet = UNetConfig(base_width=8, depth=2, inject_levels=1)
    g_def, g_state, _, _ = create_recon_state(unet, PatchGANConfig(base_width=8), cfg)
    generator = make_generator(g_def, g_state, onehot_table(), cfg)
    rng = np.random.default_rng(0)
    faces = FaceFactors(np.arange(2), rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8),
                        (rng.random((2, 68, 2)) * 32).astype(np.float32), np.ones((2, 32, 32), np.uint8),
                        np.zeros((2, 40), np.int8), np.zeros(0, int))

    class ReadsSmilingOnTheFirstFace:  # a judge with a known reading
        def predict(self, images):
            reading = np.zeros((len(images), 40), np.int8)
            reading[0, 31] = 1
            return reading

    images, titles = edit_grid(generator, ReadsSmilingOnTheFirstFace(), faces, ["Smiling", "Young"])
    assert len(images) == len(titles) == 2 * 4
    assert titles[:4] == ["original", "redrawn", "-Smiling", "+Young"] and titles[4:] == ["", "", "+Smiling", "+Young"]
    assert np.array_equal(images[0], faces.images[0]) and all(img.dtype == np.uint8 and img.shape == (32, 32, 3) for img in images)
    assert not np.array_equal(images[1], images[2])  # the flip reached the U-Net's planes


def test_seed_edits_flip_the_seeds_four_on_their_share_of_faces() -> None:
    from faceobf.disentangle.attributes import SEED_FLIPS
    from faceobf.train.recon import edit_targets

    attributes = jnp.asarray((np.random.default_rng(0).random((400, 40)) > 0.5).astype(np.float32))
    seed = sorted(CELEBA_ATTRIBUTES.index(n) for n in SEED_FLIPS)
    every = np.asarray(edit_targets(attributes, jax.random.key(1), 4, seed_share=1.0)) != np.asarray(attributes)
    assert all(np.flatnonzero(row).tolist() == seed for row in every)
    half = np.asarray(edit_targets(attributes, jax.random.key(1), 4, seed_share=0.5)) != np.asarray(attributes)
    share = np.mean([np.flatnonzero(row).tolist() == seed for row in half])
    assert 0.4 < share < 0.6 and (half.sum(axis=1) == 4).all()
    with pytest.raises(ValueError, match="edit_flips <= 4"):
        edit_targets(attributes, jax.random.key(1), 5, seed_share=0.5)


@pytest.mark.slow
def test_under_geometry_follow_the_edited_redraw_is_drawn_from_moved_landmarks() -> None:
    from faceobf.disentangle.geometry import move_landmarks
    from faceobf.train.recon import make_train_step

    cfg = ReconTrainConfig(resolution=32, batch_size=4, edit_flips=2, attr_weight=10.0, geometry="follow", geometry_gain=(2.0, 3.0))
    unet = UNetConfig(base_width=8, depth=2, inject_levels=1)
    g_def, g_state, d_def, d_state = create_recon_state(unet, PatchGANConfig(base_width=8, attribute_head=True, condition="none"), cfg)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    landmarks = (10 + rng.random((4, 68, 2)) * 12).astype(np.float32)
    masks = np.ones((4, 32, 32), np.uint8)
    attrs = (rng.random((4, 40)) > 0.5).astype(np.int8)
    coefficients = rng.normal(0, 0.02, (40, 68, 2)).astype(np.float32)
    g_step, _ = make_recon_steps(g_def, d_def, cfg)
    with pytest.raises(ValueError, match="coefficients"):
        g_step(g_state, d_state, FaceBatch(images, landmarks, masks, attrs), StepAids(jnp.asarray(onehot_table())))
    _, drawn, _ = g_step(jax.tree.map(jnp.array, g_state), d_state, FaceBatch(images, landmarks, masks, attrs),
                         StepAids(jnp.asarray(onehot_table()), jnp.asarray(coefficients)))
    targets, moved = drawn.targets, drawn.moved
    difference = np.asarray(targets) - attrs
    once = move_landmarks(landmarks, difference, coefficients, 1.0) - landmarks
    per_face = [float(np.asarray(moved - landmarks)[i].ravel() @ once[i].ravel() / (once[i].ravel() @ once[i].ravel())) for i in range(4)]
    assert all(2.0 - 1e-3 <= g <= 3.0 + 1e-3 for g in per_face), per_face  # the mapping's move, at a gain drawn in range
    np.testing.assert_allclose(np.asarray(moved - landmarks), np.array(per_face)[:, None, None] * once, atol=1e-3)
    step = make_train_step(g_def, d_def, cfg, jnp.asarray(onehot_table()), coefficients)
    (g_state, d_state), metrics = step((g_state, d_state), images, landmarks, masks, attrs)
    assert np.isfinite(float(metrics["g_attr"])) and np.isfinite(float(metrics["d_loss"]))


def test_a_generator_with_a_mapping_moves_the_landmarks_of_flipped_faces_only() -> None:
    from faceobf.disentangle.geometry import LandmarkMapping
    from faceobf.train.recon import make_generator

    cfg = ReconTrainConfig(resolution=32)
    g_def, g_state, _, _ = create_recon_state(UNetConfig(base_width=8, depth=2), PatchGANConfig(base_width=8), cfg)
    rng = np.random.default_rng(0)
    coefficients = np.zeros((40, 68, 2))
    coefficients[CELEBA_ATTRIBUTES.index("Smiling"), 48:68, 1] = 0.05  # a smile lowers the mouth
    mapping = LandmarkMapping(np.zeros((68, 2)), coefficients, 1.0, 1.0, np.zeros(40), 0.5, 10)
    from faceobf.reconstruct.generate import FlipStrength

    generator = make_generator(g_def, g_state, onehot_table(), cfg, mapping, FlipStrength(gain=2.0))
    from faceobf.disentangle.template import MEAN_LANDMARKS

    landmarks = (MEAN_LANDMARKS[None] * 24 + 4).repeat(2, 0).astype(np.float32)
    source = np.zeros((2, 40), np.int8)
    targets = source.copy()
    targets[0, CELEBA_ATTRIBUTES.index("Smiling")] = 1
    drawn = generator.drawn_landmarks(landmarks, targets, source)
    np.testing.assert_allclose(drawn[1], landmarks[1])  # nothing flipped: nothing moves
    np.testing.assert_allclose(drawn[0, :48], landmarks[0, :48], atol=1e-4)
    assert np.allclose(drawn[0, 48:, 1] - landmarks[0, 48:, 1], drawn[0, 48, 1] - landmarks[0, 48, 1]) and drawn[0, 48, 1] > landmarks[0, 48, 1]
    np.testing.assert_allclose(generator.with_geometry(None).drawn_landmarks(landmarks, targets, source), landmarks)
    masks = np.ones((2, 32, 32), np.uint8)
    images = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    moved_faces = generator(images, landmarks, masks, targets, source)
    fixed_faces = generator.with_geometry(None)(images, landmarks, masks, targets, source)
    assert not np.allclose(moved_faces[0], fixed_faces[0]) and np.allclose(moved_faces[1], fixed_faces[1])
    strong = generator.with_geometry(mapping, FlipStrength(gain=2.0, intensity=2.0))
    np.testing.assert_array_equal(strong.drawn_attributes(targets, source)[0, CELEBA_ATTRIBUTES.index("Smiling")], 2.0)
    np.testing.assert_array_equal(strong.drawn_attributes(targets, source)[1], targets[1])  # unflipped: as they are
    np.testing.assert_array_equal(strong.drawn_attributes(targets, None), targets)


def test_balanced_editing_accuracy_and_the_paired_test() -> None:
    from faceobf.reconstruct.editing import balanced_rate, judge_edit, mcnemar

    young = CELEBA_ATTRIBUTES.index("Young")
    base = np.zeros((10, 40), np.int8)
    base[:8, young] = 1  # eight young faces, two old
    reading = base.copy()
    reading[:, young] = 1  # the redraws all read young: the two old faces flipped, the eight young ones not
    result = judge_edit(reading, base, [young])
    assert result["accuracy"]["Young"] == pytest.approx(0.2) and result["balanced"]["Young"] == pytest.approx(0.5)
    assert result["hits"].shape == (10, 1)
    assert balanced_rate(np.array([True, True]), np.array([1, 1])) == 1.0  # one direction present: its rate
    a = np.array([True] * 30 + [False] * 10)
    b = np.array([True] * 10 + [False] * 30)
    test = mcnemar(a, b)
    assert (test["only_a"], test["only_b"], test["pairs"]) == (20, 0, 40) and test["p_value"] < 1e-5
    assert mcnemar(a, a)["p_value"] == 1.0
    with pytest.raises(ValueError, match="same pairs"):
        mcnemar(a, b[:-1])


def test_the_flip_strength_is_the_best_editor_that_keeps_the_other_attributes() -> None:
    import pandas as pd

    from faceobf.reconstruct.generate import FlipStrength
    from faceobf.reconstruct.tuning import choose_strength

    sweep = pd.DataFrame([{"gain": 1.0, "intensity": 1.0, "editing": 0.3, "balanced": 0.3, "preservation": 0.95},
                          {"gain": 2.0, "intensity": 1.0, "editing": 0.5, "balanced": 0.5, "preservation": 0.92},
                          {"gain": 3.0, "intensity": 2.0, "editing": 0.7, "balanced": 0.6, "preservation": 0.85},
                          {"gain": 3.0, "intensity": 1.0, "editing": 0.5, "balanced": 0.5, "preservation": 0.91}])
    assert choose_strength(sweep) == FlipStrength(2.0, 1.0)  # the best of those above the floor; the weaker of a tie
    assert choose_strength(sweep, min_preservation=0.8) == FlipStrength(3.0, 2.0)
    assert choose_strength(sweep, min_preservation=0.99) == FlipStrength(1.0, 1.0)  # none keeps it: the best-preserving
    # naturalness lost to the flips, bounded by `max_cost`
    sweep["flip cost"] = [0.1, 0.2, 0.9, 0.4]
    assert choose_strength(sweep, max_cost=0.5) == FlipStrength(2.0, 1.0)
    # (3, 2) costs too much
    assert choose_strength(sweep, min_preservation=0.8, max_cost=0.5) == FlipStrength(2.0, 1.0)
    assert choose_strength(sweep, min_preservation=0.99, max_cost=0.15) == FlipStrength(1.0, 1.0)
    # none within the bound: the cheapest
    assert choose_strength(sweep, max_cost=0.05) == FlipStrength(1.0, 1.0)


def test_the_strength_sweep_redraws_validation_faces_at_each_strength() -> None:
    from faceobf.disentangle.classifier import AttributeClassifier
    from faceobf.disentangle.geometry import LandmarkMapping
    from faceobf.models.resnet import ResNet, ResNetConfig
    from faceobf.reconstruct.factors import FaceFactors
    from faceobf.reconstruct.tuning import strength_sweep
    from faceobf.train.recon import make_generator

    cfg = ReconTrainConfig(resolution=32)
    g_def, g_state, _, _ = create_recon_state(UNetConfig(base_width=8, depth=2), PatchGANConfig(base_width=8), cfg)
    rng = np.random.default_rng(0)
    faces = FaceFactors(np.arange(3), rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8),
                        (8 + rng.random((3, 68, 2)) * 16).astype(np.float32), np.ones((3, 32, 32), np.uint8),
                        np.zeros((3, 40), np.int8), np.zeros(0, np.int64))
    judge = AttributeClassifier(ResNet(ResNetConfig(stage_sizes=(1, 1), base_width=8), rngs=nnx.Rngs(0)), 32)
    generator = make_generator(g_def, g_state, onehot_table(), cfg)
    fixed = strength_sweep(generator, judge, faces, gains=(1.0, 2.0), intensities=(1.0, 2.0))
    assert fixed[["gain", "intensity"]].values.tolist() == [[1.0, 1.0], [1.0, 2.0]]  # no mapping: no gain to sweep
    mapping = LandmarkMapping(np.zeros((68, 2)), rng.normal(0, 0.01, (40, 68, 2)), 1.0, 1.0, np.zeros(40), 0.5, 10)
    follow = strength_sweep(generator.with_geometry(mapping), judge, faces, gains=(1.0, 2.0), intensities=(1.0, 2.0))
    assert len(follow) == 4 and follow["preservation"].between(0, 1).all() and follow["editing"].between(0, 1).all()
    seen = []
    costed = strength_sweep(
        generator, judge, faces, intensities=(1.0, 2.0),
        cost=lambda drawn: seen.append(drawn.dtype) or (float(len(seen)), 0.0, 9.0))
    # fed the redraws as uint8
    assert costed["flip cost"].tolist() == [1.0, 2.0] and seen == [np.uint8, np.uint8]


def _edit_batch(n: int = 4, size: int = 32):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    landmarks = (8 + rng.random((n, 68, 2)) * 16).astype(np.float32)
    masks = np.ones((n, size, size), np.uint8)
    attrs = (rng.random((n, 40)) > 0.5).astype(np.int8)
    return images, landmarks, masks, attrs


@pytest.mark.slow
def test_a_frozen_critic_reads_the_edits_while_the_live_discriminator_judges_realism() -> None:
    cfg = ReconTrainConfig(resolution=32, batch_size=4, edit_flips=2, attr_weight=10.0, critic="frozen")
    g_def, g_state, d_def, d_state = create_recon_state(UNetConfig(base_width=8, depth=2, inject_levels=1),
                                                        PatchGANConfig(base_width=8, attribute_head=True, condition="none"), cfg)
    batch, table = _edit_batch(), jnp.asarray(onehot_table())
    g_step, _ = make_recon_steps(g_def, d_def, cfg)
    with pytest.raises(ValueError, match="critic_state"):
        g_step(g_state, d_state, FaceBatch(*batch), StepAids(table))
    critic = jax.tree.map(jnp.copy, d_state)
    live = jax.tree.map(lambda v: v * 1.5 if jnp.issubdtype(v.dtype, jnp.floating) else v, d_state)  # D moved on
    copy = lambda s: jax.tree.map(jnp.copy, s)  # noqa: E731  (the step donates its state)
    _, _, with_critic = g_step(copy(g_state), live, FaceBatch(*batch), StepAids(table, None, critic))
    head_step, _ = make_recon_steps(g_def, d_def, dataclasses.replace(cfg, critic="head"))
    _, _, plain = head_step(copy(g_state), copy(critic), FaceBatch(*batch), StepAids(table))  # the live D is the warmed-up one
    assert float(with_critic["g_attr"]) == pytest.approx(float(plain["g_attr"]), rel=1e-5)  # the frozen head's reading
    assert float(with_critic["g_adv"]) != pytest.approx(float(plain["g_adv"]), rel=1e-3)  # realism: the live D's
    with pytest.raises(ValueError, match="warm-up"):
        from faceobf.profiles import get_profile, with_critic, with_recipe

        with_critic(with_recipe(get_profile("cpu"), "pix2pix"), "frozen")


def test_difference_planes_are_zero_for_a_redraw_and_the_flips_for_an_edit() -> None:
    from faceobf.reconstruct.generate import FlipStrength
    from faceobf.train.recon import _factors, make_generator

    cfg = ReconTrainConfig(resolution=32, condition="difference")
    images, landmarks, masks, attrs = _edit_batch()
    targets = attrs.copy()
    targets[:, 3] = 1 - targets[:, 3]
    table = jnp.asarray(onehot_table())
    _, _, x = _factors(FaceBatch(images, landmarks, masks, attrs), StepAids(table), cfg)
    _, _, x_edit = _factors(FaceBatch(images, landmarks, masks, attrs), StepAids(table), cfg, targets)
    assert float(jnp.abs(x.planes.attributes).max()) == 0.0
    np.testing.assert_array_equal(np.asarray(x_edit.planes.attributes), (targets - attrs).astype(np.float32))
    g_def, g_state, _, _ = create_recon_state(UNetConfig(base_width=8, depth=2), PatchGANConfig(base_width=8), cfg)
    generator = make_generator(g_def, g_state, onehot_table(), cfg)
    assert generator.difference and not generator.drawn_attributes(attrs, None).any()
    amplified = generator.with_geometry(None, FlipStrength(1.0, 2.0)).drawn_attributes(targets, attrs)
    np.testing.assert_array_equal(amplified, 2.0 * (targets - attrs))
    with pytest.raises(ValueError, match="unknown condition"):
        ReconTrainConfig(condition="sum")


def test_the_identity_hinge_pushes_edits_past_the_margin_through_a_frozen_recogniser() -> None:
    from faceobf.models.recogniser import Recogniser, RecogniserConfig
    from faceobf.models.resnet import ResNetConfig
    from faceobf.train.recon_losses import identity_hinge

    config = RecogniserConfig(trunk=ResNetConfig(stage_sizes=(1, 1), base_width=8, num_outputs=1), resolution=32)
    recogniser = Recogniser(config, 5, rngs=nnx.Rngs(0))
    recogniser.eval()
    images = jnp.asarray(np.random.default_rng(0).random((4, 32, 32, 3), dtype=np.float32))
    assert float(identity_hinge(recogniser, images, images, 0.3)) == pytest.approx(0.7, abs=1e-4)  # the same face: cos 1
    assert float(identity_hinge(recogniser, images, images, 1.01)) == 0.0  # past any cosine: nothing to push
    identity_def, identity_state = nnx.split(recogniser)
    cfg = ReconTrainConfig(resolution=32, batch_size=4, edit_flips=2, attr_weight=10.0, identity_weight=5.0, identity_critic=config)
    g_def, g_state, d_def, d_state = create_recon_state(UNetConfig(base_width=8, depth=2, inject_levels=1),
                                                        PatchGANConfig(base_width=8, attribute_head=True, condition="none"), cfg)
    g_step, _ = make_recon_steps(g_def, d_def, cfg, identity_def)
    batch, table = _edit_batch(), jnp.asarray(onehot_table())
    with pytest.raises(ValueError, match="identity recogniser"):
        g_step(jax.tree.map(jnp.copy, g_state), d_state, FaceBatch(*batch), StepAids(table))
    _, _, metrics = g_step(g_state, d_state, FaceBatch(*batch), StepAids(table, None, None, identity_state))
    expected = (cfg.l1_weight * float(metrics["l1"]) + cfg.adv_weight * float(metrics["g_adv"]) + cfg.attr_weight * float(metrics["g_attr"])
                + cfg.identity_weight * float(metrics["g_identity"]))
    assert float(metrics["g_loss"]) == pytest.approx(expected, rel=1e-5) and 0.0 <= float(metrics["g_identity"]) <= 0.7


def test_the_ablation_frame_reads_each_arms_test_metrics_and_edits() -> None:
    from types import SimpleNamespace

    from faceobf.train.ablations import ablation_frame

    unet = {"ssim_mask": 0.5, "psnr_mask": 15.0, "l1_mask": 0.1}
    runs_ = {"ref": SimpleNamespace(test={"unet": unet, "head_test_accuracy": [0.8, 0.9]}, history={"epoch": [1]}),
             "arm": SimpleNamespace(test={"unet": {**unet, "ssim_mask": 0.4}}, history={"epoch": [1]})}
    edits = {"ref": {"seed's four": {"mean_accuracy": 0.3, "mean_balanced": 0.4, "preservation": 0.92}, "no flip": {"preservation": 0.95}},
             "arm": {"seed's four": {"mean_accuracy": 0.5, "preservation": 0.9}, "no flip": {"preservation": 0.93}}}
    frame = ablation_frame(runs_, edits, "seed's four")
    assert frame.loc["ref", "balanced editing, seed's four"] == 0.4 and np.isnan(frame.loc["arm", "balanced editing, seed's four"])
    assert frame.loc["arm", "SSIM (mask)"] == 0.4 and frame.loc["ref", "critic's test accuracy"] == pytest.approx(0.85)
    assert np.isnan(frame.loc["arm", "critic's test accuracy"]) and frame.loc["arm", "editing, seed's four"] == 0.5

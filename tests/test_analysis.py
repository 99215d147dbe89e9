"""Analysis code the chapters call: the single-flip sweep, the landmark-subset table, the Colab setup."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faceobf.disentangle.attributes import CELEBA_ATTRIBUTES
from faceobf.evaluate.report import landmark_subset_frame
from faceobf.obfuscate.effects import single_flip_effects
from faceobf.obfuscate.policies import PROTECTED_ATTRIBUTES, allowed_indices
from faceobf.reconstruct.factors import FaceFactors


class WeightedGenerator:
    """A stand-in generator whose face brightness is a known weighted sum of the attributes."""

    def __init__(self, weights: np.ndarray):
        self.weights = weights

    def render(self, faces: FaceFactors, attributes: np.ndarray, source: np.ndarray | None = None) -> np.ndarray:
        level = np.asarray(attributes, np.float32) @ self.weights  # (N,)
        return np.broadcast_to(level[:, None, None, None], faces.images.shape).astype(np.float32)


def _faces(n: int = 3, r: int = 8) -> FaceFactors:
    masks = np.zeros((n, r, r), np.uint8)
    masks[:, 2:6, 2:6] = 1
    return FaceFactors(np.arange(n), np.zeros((n, r, r, 3), np.uint8), np.zeros((n, 68, 2), np.float32), masks,
                       np.zeros((n, 40), np.int8), np.zeros(0, np.int64))


def test_single_flip_effects_measure_the_change_inside_the_mask() -> None:
    weights = np.linspace(0.0, 0.039, 40).astype(np.float32)
    faces = _faces()
    attributes = (np.arange(40)[None, :] % 3 == np.arange(3)[:, None]).astype(np.int8)
    effects = single_flip_effects(WeightedGenerator(weights), faces, attributes, keep=2)
    assert set(effects.change) == {CELEBA_ATTRIBUTES[j] for j in allowed_indices()}
    assert not set(effects.change) & set(PROTECTED_ATTRIBUTES)
    for name, value in effects.change.items():
        assert value == pytest.approx(weights[CELEBA_ATTRIBUTES.index(name)], abs=1e-6)  # |flip| moves every pixel by its weight
    assert effects.strongest(1) == ["Young"]  # the last attribute carries the largest weight
    assert effects.base.shape == (2, 8, 8, 3) and effects.samples["Smiling"].shape == (2, 8, 8, 3)


def test_landmark_subset_frame_puts_both_models_side_by_side() -> None:
    row = {"recall_at_1": 0.2, "verification_at_0.6": 0.05, "hog_detection": 1.0, "landmark_recall_at_1": 0.3,
           "landmark_recall_subset": 0.25, "ssim": 0.8, "kid": 0.04}
    both = {"all": {"unet_noflip": row, "flip4": row}, "outline_nose": {"unet_noflip": {**row, "kid": None}, "flip4": row}}
    frame = landmark_subset_frame(both)
    assert frame.shape == (4, 7)
    assert frame.loc[("U-Net fed all 68", "U-Net, no flips"), "KID x1e3"] == pytest.approx(40.0)
    assert np.isnan(frame.loc[("U-Net fed outline + nose (26)", "U-Net, no flips"), "KID x1e3"])  # not measured
    assert frame.loc[("U-Net fed outline + nose (26)", "U-Net, seed's 4 flips"), "Recall@1"] == 0.2


def test_chapter_results_are_written_by_cpu_runs_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from faceobf.results import ChapterResults, load_results

    monkeypatch.setenv("FACEOBF_RESULTS", str(tmp_path))
    ci = ChapterResults("02_stage2_reconstruct", "ci")
    ci.record("ssim", np.float32(0.5), glue=False)
    assert ci.save() is None and not list(tmp_path.iterdir())  # a ci run never changes a committed file
    cpu = ChapterResults("02_stage2_reconstruct", "cpu")
    assert cpu.record("ssim", np.float64(0.8265), glue=False) == 0.8265
    cpu.record("accuracy", {"Smiling": np.float32(0.75)}, glue=False)
    assert cpu.save() == tmp_path / "02_stage2_reconstruct.json"
    assert load_results("02_stage2_reconstruct") == {"ssim": 0.8265, "accuracy": {"Smiling": 0.75}}

"""Finished networks for inference: built from their configuration alone, without `faceobf.train`, drawing what the
training path draws pixel for pixel; a local run keeps its network when it finishes, an older run gets it once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from skimage import data

from faceobf import networks, shipped

FRESH_INTERPRETER = """
import sys
from faceobf import trained
from faceobf.profiles import get_profile
tool = trained.obfuscator(get_profile("cpu"))
classifier, _ = trained.classifier(get_profile("cpu"))
entered = sorted(m for m in sys.modules if m == "faceobf.train" or m.startswith("faceobf.train."))
print("ENTERED", entered, type(tool.upscaler).__name__)
"""


def test_the_obfuscator_and_classifier_load_without_entering_training_code(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "FACEOBF_RUNS": str(tmp_path / "runs"), "JAX_PLATFORMS": "cpu"}
    run = subprocess.run([sys.executable, "-c", FRESH_INTERPRETER], capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "ENTERED [] BatchedModel" in run.stdout


@pytest.mark.slow
def test_the_shipped_models_draw_the_same_pixels_as_through_their_training_states(tmp_path: Path,
                                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from faceobf import runs, trained
    from faceobf.obfuscate.pipeline import Obfuscator
    from faceobf.obfuscate.policies import FlipNamed
    from faceobf.profiles import get_profile
    from faceobf.train import fac, recon, upscaler

    monkeypatch.setenv("FACEOBF_RUNS", str(tmp_path / "runs"))
    profile = get_profile("cpu")
    through_training = Obfuscator(
        fac.load_run(shipped.find_or_install(runs.RunSpec.fac(profile)), profile).classifier(),
        recon.load_run(shipped.find_or_install(runs.RunSpec.recon(profile, "onehot")), profile, "onehot").generator(),
        profile.recon.resolution, FlipNamed(), feather_radius=profile.recon.feather_radius,
        upscaler=upscaler.load_run(shipped.find_or_install(runs.RunSpec.upscaler(profile)), profile).upscale())
    inference = trained.obfuscator(profile)
    for photo in (data.astronaut(), np.ascontiguousarray(data.astronaut()[:, ::-1])):
        (a, records_a), (b, records_b) = through_training.obfuscate_photo(photo), inference.obfuscate_photo(photo)
        assert np.array_equal(a, b) and [r.as_dict() for r in records_a] == [r.as_dict() for r in records_b]


def test_a_finished_run_keeps_its_network_and_an_older_run_gets_it_once(celeba_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from faceobf import trained
    from faceobf.data import CelebA
    from test_train_fac import _tiny_profile

    profile = _tiny_profile(epochs=1)
    run = trained.fac_run(profile, CelebA.open(celeba_dir), progress=False, log=lambda _: None)
    kept = run.run_dir / shipped.NETWORK
    assert kept.is_file()
    crops = CelebA.open(celeba_dir).images(np.arange(4), profile.fac.resolution, progress=False)
    expected = run.classifier().probabilities(crops)
    loaded, run_dir = trained.classifier(profile)
    np.testing.assert_allclose(loaded.probabilities(crops), expected, atol=1e-6)
    kept.unlink()  # a run finished before runs kept their network
    with pytest.raises(shipped.NoNetworkFileError):
        networks.classifier(profile, run_dir)
    again, _ = trained.classifier(profile)
    assert kept.is_file()
    np.testing.assert_allclose(again.probabilities(crops), expected, atol=1e-6)

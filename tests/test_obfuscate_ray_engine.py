"""The batch tool on a local Ray instance: the same outputs and records as the local run, resume honoured."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from faceobf.obfuscate.batch import collect_inputs, obfuscate_files, read_report

pytestmark = pytest.mark.slow  # starts Ray


def _tiny_obfuscator():
    """The conftest obfuscator, built inside each Ray worker."""
    from flax import nnx

    from faceobf.disentangle.classifier import AttributeClassifier
    from faceobf.models.resnet import ResNet, ResNetConfig
    from faceobf.models.unet import PatchGANConfig, UNetConfig
    from faceobf.obfuscate.pipeline import Obfuscator
    from faceobf.obfuscate.policies import FlipNamed
    from faceobf.profiles import ReconTrainConfig
    from faceobf.reconstruct.planes import onehot_table
    from faceobf.train.recon import create_recon_state, make_generator

    classifier = AttributeClassifier(ResNet(ResNetConfig(stage_sizes=(1, 1), base_width=8), rngs=nnx.Rngs(0)), 32)
    cfg = ReconTrainConfig(resolution=32)
    g_def, g_state, _, _ = create_recon_state(UNetConfig(base_width=8, depth=2), PatchGANConfig(base_width=8), cfg)
    return Obfuscator(classifier, make_generator(g_def, g_state, onehot_table(), cfg), 32, FlipNamed())


def _records(report_path: Path) -> dict[str, tuple]:
    return {Path(r["input"]).name: (r["status"], r.get("output_relative"), len(r.get("faces", [])))
            for r in read_report(report_path) if r.get("status") != "skipped"}


def test_ray_writes_what_the_local_run_writes_and_resumes(tmp_path: Path) -> None:
    import sys

    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import a test module: ship it by value
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)  # one local instance for both runs
    try:
        _compare_and_resume(tmp_path)
    finally:
        ray.shutdown()


def _compare_and_resume(tmp_path: Path) -> None:
    photos = tmp_path / "in"
    photos.mkdir()
    astronaut = data.astronaut()
    Image.fromarray(astronaut).save(photos / "a.png")
    Image.fromarray(np.ascontiguousarray(astronaut[:, ::-1])).save(photos / "b.png")
    (photos / "broken.jpg").write_bytes(b"not a photo")
    (photos / "notes.txt").write_text("refused by name, on the driver")
    local, ray_out = tmp_path / "local", tmp_path / "ray"
    s_local, _ = obfuscate_files(_tiny_obfuscator, collect_inputs([photos]), local, progress=False)
    s_ray, _ = obfuscate_files(_tiny_obfuscator, collect_inputs([photos]), ray_out, progress=False, engine="ray", workers=1)
    assert (s_ray.done, s_ray.faces, len(s_ray.refused)) == (s_local.done, s_local.faces, len(s_local.refused)) == (2, s_local.faces, 2)
    assert _records(ray_out / "faceobf-report.jsonl") == _records(local / "faceobf-report.jsonl")
    for name in ("a.png", "b.png"):
        np.testing.assert_array_equal(np.asarray(Image.open(ray_out / "in" / name)), np.asarray(Image.open(local / "in" / name)))
    (ray_out / "in" / "b.png").unlink()  # resume: only b is redone
    s_again, _ = obfuscate_files(_tiny_obfuscator, collect_inputs([photos]), ray_out, progress=False, engine="ray", workers=1)
    assert s_again.done == 1 and s_again.skipped == 1
    np.testing.assert_array_equal(np.asarray(Image.open(ray_out / "in" / "b.png")), np.asarray(Image.open(local / "in" / "b.png")))


QUIET_RUN = """
import sys
from pathlib import Path
import numpy as np
from PIL import Image
from faceobf.obfuscate.batch import collect_inputs, obfuscate_files
from faceobf.obfuscate.pipeline import FaceRecord

class Inverts:
    def obfuscate_photo(self, photo):
        return 255 - photo, [FaceRecord((0, 0, 4, 4), {"hog": 1.0}, "unet")]

def load():
    return Inverts()

root = Path(sys.argv[1])
for v in (10, 20):
    (root / "in").mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((16, 16, 3), v, np.uint8)).save(root / "in" / f"{v}.png")
summary, _ = obfuscate_files(load, collect_inputs([root / "in"]), root / "out", engine="ray", workers=1, progress=False)
print(summary.line())
"""


def test_a_local_ray_instance_starts_and_runs_quietly(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    run = subprocess.run([sys.executable, "-c", QUIET_RUN, str(tmp_path)], capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0 and run.stdout.startswith("2 photos done"), run.stderr
    for noise in ("Token authentication", "core_worker", "deprecated", "Progress bars", "Starting execution"):
        assert noise not in run.stderr, run.stderr

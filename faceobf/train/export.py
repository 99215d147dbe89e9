"""Export a finished run as a shipped model (`faceobf models export`), measuring what float16 weights change.

The measurement runs the network twice on real test faces, with its float32 weights and with the same
weights rounded to float16: the FAC's probabilities and 0.5-decisions, the U-Net's redrawn pixels (0-255).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from flax import nnx

from faceobf import runs, shipped
from faceobf.data.dataset import CelebA, sample_rows
from faceobf.profiles import Profile

FIDELITY_FACES = 256  # test faces the float16 check runs on


def export_fac(profile: Profile, dataset: CelebA, root: Path | None = None) -> Path:
    """Ship the finished attribute classifier of `profile` (trained on `dataset`)."""
    from faceobf.train.fac import _classifier, load_run

    run = load_run(runs.find(runs.RunSpec.fac(profile), dataset.key), profile)
    classifier = run.classifier()
    rows = sample_rows(dataset.split("test"), FIDELITY_FACES, 0)
    crops = dataset.images(rows, profile.fac.resolution, progress=False)

    def probabilities(state) -> np.ndarray:
        return classifier.with_weights(nnx.merge(run.graphdef, state)[0]).probabilities(crops)

    fidelity = shipped.float16_fidelity(probabilities, run.state, shipped.MODEL_PREFIX["fac"], lambda p: p > 0.5)
    fidelity = {"max_probability_change": fidelity["max_abs_change"], "same_attribute_decisions": fidelity["same_decisions"],
                "test_faces": int(len(rows))}
    return shipped.export(run.run_dir, run.state, "fac", run.history, run.test, fidelity, root)


def export_recon(profile: Profile, dataset: CelebA, encoding: str = "onehot", root: Path | None = None) -> Path:
    """Ship the finished U-Net of `profile` and `encoding` (trained on `dataset`)."""
    from faceobf.reconstruct.factors import face_factors
    from faceobf.train.recon import load_run

    run_dir = runs.find(runs.RunSpec.recon(profile, encoding), dataset.key)
    run = load_run(run_dir, profile, encoding)
    generator = run.generator()
    faces = face_factors(dataset, sample_rows(dataset.split("test"), FIDELITY_FACES, 0), profile.recon.resolution, progress=False)

    def pixels(g_state) -> np.ndarray:
        return generator.with_weights(nnx.merge(run.g_def, g_state)[0]).render(faces).astype(np.float64) * 255.0

    # the U-Net is [0] of its (model, optimizer) state, and [0][0] (MODEL_PREFIX) of the (G, D) states a run restores
    fidelity = shipped.float16_fidelity(pixels, run.g_state, "[0]", np.rint)
    fidelity = {"max_pixel_change_0_255": fidelity["max_abs_change"], "same_rounded_pixels": fidelity["same_decisions"],
                "test_faces": int(len(faces))}
    return shipped.export(run.run_dir, (run.g_state, None), "recon", run.history, run.test, fidelity, root)

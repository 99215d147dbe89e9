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
    from faceobf.train.fac import load_run

    run = load_run(runs.find(runs.RunSpec.fac(profile), dataset.key), profile)
    network, classifier = run.model(), run.classifier()
    graphdef = nnx.graphdef(network)
    rows = sample_rows(dataset.split("test"), FIDELITY_FACES, 0)
    crops = dataset.images(rows, profile.fac.resolution, progress=False)

    def probabilities(weights) -> np.ndarray:
        return classifier.with_weights(nnx.merge(graphdef, weights)).probabilities(crops)

    fidelity = shipped.float16_fidelity(probabilities, nnx.state(network), lambda p: p > 0.5)
    fidelity = {"max_probability_change": fidelity["max_abs_change"], "same_attribute_decisions": fidelity["same_decisions"],
                "test_faces": int(len(rows))}
    return shipped.export(run.run_dir, network, "fac", run.history, run.test, fidelity, root)


def export_recon(profile: Profile, dataset: CelebA, encoding: str = "onehot", root: Path | None = None) -> Path:
    """Ship the finished U-Net of `profile` and `encoding` (trained on `dataset`)."""
    from faceobf.reconstruct.factors import face_factors
    from faceobf.train.recon import load_run

    run_dir = runs.find(runs.RunSpec.recon(profile, encoding), dataset.key)
    run = load_run(run_dir, profile, encoding)
    network, generator = run.unet(), run.generator()
    graphdef = nnx.graphdef(network)
    faces = face_factors(dataset, sample_rows(dataset.split("test"), FIDELITY_FACES, 0), profile.recon.resolution, progress=False)

    def pixels(weights) -> np.ndarray:
        return generator.with_weights(nnx.merge(graphdef, weights)).render(faces).astype(np.float64) * 255.0

    fidelity = shipped.float16_fidelity(pixels, nnx.state(network), np.rint)
    fidelity = {"max_pixel_change_0_255": fidelity["max_abs_change"], "same_rounded_pixels": fidelity["same_decisions"],
                "test_faces": int(len(faces))}
    return shipped.export(run.run_dir, network, "recon", run.history, run.test, fidelity, root)


def export_upscaler(profile: Profile, dataset: CelebA, root: Path | None = None) -> Path:
    """Ship the finished upscaler of `profile` (trained on `dataset`)."""
    from faceobf.train.upscaler import degrade, load_run

    run = load_run(runs.find(runs.RunSpec.upscaler(profile), dataset.key), profile)
    network, upscale = run.model(), run.upscale()
    graphdef = nnx.graphdef(network)
    faces = dataset.images(sample_rows(dataset.split("test"), FIDELITY_FACES, 0), run.config.resolution, progress=False)
    low = degrade(faces, profile.upscaler.factor, run.config, np.random.default_rng(0)).astype(np.float32) / 255.0

    def pixels(weights) -> np.ndarray:
        return np.asarray(upscale.with_weights(nnx.merge(graphdef, weights))(low), np.float64) * 255.0

    fidelity = shipped.float16_fidelity(pixels, nnx.state(network), np.rint)
    fidelity = {"max_pixel_change_0_255": fidelity["max_abs_change"], "same_rounded_pixels": fidelity["same_decisions"],
                "test_faces": int(len(faces))}
    return shipped.export(run.run_dir, network, "upscaler", run.history, run.test, fidelity, root)

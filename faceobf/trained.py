"""One way in for finished models: the attribute classifier, the U-Net, the second recogniser and the obfuscator.

Each is found by the run registry (a local run, else the matching shipped model installed as one); given a
data set, a missing run is trained (or resumed) instead. Stage 3, the evaluation and the command line get
their models here and never import `faceobf.train`, so how a model is trained can change without them.
`classifier` and `obfuscator` build the networks for inference alone (`faceobf.networks`: shapes from the
profile, weights read straight in) and do not import `faceobf.train` at all; only a local run finished
before runs kept their network apart is read once through its training checkpoints, and then keeps it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from faceobf import networks, runs, shipped
from faceobf.data.dataset import CelebA
from faceobf.disentangle.classifier import AttributeClassifier
from faceobf.models.identity_cnn import IdentityCNNConfig
from faceobf.obfuscate.pipeline import Obfuscator
from faceobf.obfuscate.policies import FlipNamed, Policy
from faceobf.profiles import Profile

if TYPE_CHECKING:
    from faceobf.train.fac import FACRun
    from faceobf.train.recogniser import RecogniserRun
    from faceobf.train.recon import ReconRun
    from faceobf.train.upscaler import UpscalerRun


def fac_run(profile: Profile, dataset: CelebA | None = None, progress: bool = True,
            log: Callable[[str], None] = print) -> FACRun:
    """The finished attribute classifier of `profile`; with `dataset`, trained on it (or resumed) when there is none."""
    from faceobf.train import fac

    if dataset is not None:
        return fac.load_or_train_fac(profile, dataset, progress=progress, log=log)
    return fac.load_run(shipped.find_or_install(runs.RunSpec.fac(profile)), profile)


def recon_run(profile: Profile, encoding: str = "onehot", dataset: CelebA | None = None, progress: bool = True,
              log: Callable[[str], None] = print) -> ReconRun:
    """The finished U-Net of `profile` and `encoding`; with `dataset`, trained on it (or resumed) when there is none."""
    from faceobf.train import recon

    if dataset is not None:
        return recon.load_or_train_recon(profile, dataset, encoding, progress=progress, log=log)
    return recon.load_run(shipped.find_or_install(runs.RunSpec.recon(profile, encoding)), profile, encoding)


def recogniser_run(profile: Profile, dataset: CelebA, progress: bool = True, log: Callable[[str], None] = print) -> RecogniserRun:
    """The finished second recogniser (ResNet-50 + ArcFace) of `profile` on `dataset`, trained (or resumed) when missing."""
    from faceobf.train import recogniser

    return recogniser.load_or_train_recogniser(profile, dataset, progress=progress, log=log)


def upscaler_run(profile: Profile, dataset: CelebA | None = None, progress: bool = True,
                 log: Callable[[str], None] = print) -> UpscalerRun:
    """The finished upscaler of `profile`; with `dataset`, trained on it (or resumed) when there is none."""
    from faceobf.train import upscaler

    if dataset is not None:
        return upscaler.load_or_train_upscaler(profile, dataset, progress=progress, log=log)
    return upscaler.load_run(shipped.find_or_install(runs.RunSpec.upscaler(profile)), profile)


def _for_inference(run_dir: Path, build: Callable[[Path], object], training_model: Callable[[], object]):
    """`build(run_dir)` of a finished run; a run finished before runs kept their network (`shipped.NETWORK`) is read
    once through its training checkpoints (`training_model()`), and its network is kept for the next time."""
    try:
        return build(run_dir)
    except shipped.NoNetworkFileError:
        shipped.save_network(run_dir, training_model())
        return build(run_dir)


def _finished(spec: runs.RunSpec) -> Path:
    """The folder of the finished run of `spec` (a local run, else the shipped model installed), checked against it."""
    run_dir = shipped.find_or_install(spec)
    runs.check(run_dir, spec)
    return run_dir


def classifier(profile: Profile) -> tuple[AttributeClassifier, Path] | None:
    """(The finished attribute classifier of `profile`, its run folder), or None when there is none (no local run, none
    shipped)."""
    try:
        run_dir = _finished(runs.RunSpec.fac(profile))
    except runs.MissingCheckpointError:
        return None
    return _classifier(profile, run_dir), run_dir


def _classifier(profile: Profile, run_dir: Path) -> AttributeClassifier:
    return _for_inference(run_dir, lambda d: networks.classifier(profile, d), lambda: fac_run(profile).model())


def obfuscator(profile: Profile, encoding: str = "onehot", policy: Policy | None = None, upscale: bool | None = None,
               unet_dir: Path | None = None, unet_weights: Path | None = None, **options) -> Obfuscator:
    """The stage-3 `Obfuscator` from the finished attribute classifier, U-Net and upscaler of `profile` (no data set).

    `upscale`: None uses the upscaler when one is trained or shipped (else resampling), True requires it, False
    never uses it. Missing models raise `faceobf.runs.MissingCheckpointError` naming the commands that train them,
    instead of starting hours of training unasked; runs of another configuration are refused. `unet_dir` (with
    `unet_weights`, e.g. a snapshot folder) judges a given U-Net run, finished or still training, checked against
    the profile.
    """
    classifier_dir = _finished(runs.RunSpec.fac(profile))
    if unet_dir is None:
        unet_dir = _finished(runs.RunSpec.recon(profile, encoding))
        generator = _for_inference(unet_dir, lambda d: networks.generator(profile, encoding, d),
                                   lambda: recon_run(profile, encoding).unet())
    else:
        runs.check(unet_dir, runs.RunSpec.recon(profile, encoding))
        if unet_weights is None and not runs.is_finished(unet_dir):
            raise runs.MissingCheckpointError(f"{unet_dir.name} is still training: judge one of its snapshots "
                                              "(trained with --snapshot-every; e.g. --snapshot 5)")
        generator = networks.generator(profile, encoding, unet_dir, unet_weights)
    upscale_faces = None
    if upscale is not False:
        try:
            upscaler_dir = _finished(runs.RunSpec.upscaler(profile))
        except runs.MissingCheckpointError:
            if upscale:
                raise
        else:
            upscale_faces = _for_inference(upscaler_dir, lambda d: networks.upscaler(profile, d),
                                           lambda: upscaler_run(profile).model())
    return Obfuscator(_classifier(profile, classifier_dir), generator, profile.recon.resolution, policy or FlipNamed(),
                      feather_radius=profile.recon.feather_radius, run_dir=unet_dir, upscaler=upscale_faces, **options)


def identity_classifier(crops: np.ndarray, labels: np.ndarray, n_classes: int,
                        config: IdentityCNNConfig = IdentityCNNConfig()) -> Callable[[np.ndarray], np.ndarray]:
    """The seed protocol's small identity CNN, trained here and now on (crops, labels); returns crops -> predicted labels."""
    from faceobf.train.identity_cnn import train_identity_cnn

    return train_identity_cnn(crops, labels, n_classes, config)

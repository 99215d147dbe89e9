"""Seconds to build the stage-3 tool from finished models: through their training states (a ResNet-50, a U-Net with
its PatchGAN and two Adam optimisers, an upscaler with its critic, all randomly initialised, then overwritten) against
the inference networks alone (`faceobf.networks`: shapes from the profile, weights read straight in). Each build runs
in a fresh interpreter, as `faceobf obfuscate` does (imports not counted), the two in turn, `--repeat` times; then
whether both draw the same pixels on two photos.

The models are installed first (the shipped ones into a temporary $FACEOBF_RUNS unless one is set), so neither
timing includes the copy.

    python benchmarks/bench_startup.py [--profile cpu] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from skimage import data

from common import print_backends
from faceobf import runs, shipped, trained
from faceobf.obfuscate.pipeline import Obfuscator
from faceobf.obfuscate.policies import FlipNamed
from faceobf.profiles import get_profile


CHILD = """
import time
from faceobf import trained
from faceobf.profiles import get_profile
from bench_startup import through_training_states
profile = get_profile("{profile}")
start = time.perf_counter()
{builder}(profile)
print("SECONDS", time.perf_counter() - start)
"""


def through_training_states(profile) -> Obfuscator:
    """The tool as faceobf built it before `faceobf.networks`: every model through its training run."""
    from faceobf.train import fac, recon, upscaler

    return Obfuscator(
        fac.load_run(shipped.find_or_install(runs.RunSpec.fac(profile)), profile).classifier(),
        recon.load_run(shipped.find_or_install(runs.RunSpec.recon(profile, "onehot")), profile, "onehot").generator(),
        profile.recon.resolution, FlipNamed(), feather_radius=profile.recon.feather_radius,
        upscaler=upscaler.load_run(shipped.find_or_install(runs.RunSpec.upscaler(profile)), profile).upscale())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    print_backends(False, f"building the stage-3 tool, profile {args.profile}")
    os.environ.setdefault("FACEOBF_RUNS", tempfile.mkdtemp(prefix="faceobf-runs-"))
    profile = get_profile(args.profile)
    trained.obfuscator(profile)  # installs the shipped models first
    seconds = {"training states": [], "inference networks": []}
    for _ in range(args.repeat):
        for name, builder in (("training states", "through_training_states"), ("inference networks", "trained.obfuscator")):
            child = subprocess.run([sys.executable, "-c", CHILD.format(profile=args.profile, builder=builder)],
                                   capture_output=True, text=True, check=True, cwd=Path(__file__).parent)
            seconds[name].append(float(child.stdout.split("SECONDS")[1]))
    for name, values in seconds.items():
        print(f"build through {name:18s}: {min(values):.2f} s (best of {len(values)} fresh interpreters)")
    old, new = through_training_states(profile), trained.obfuscator(profile)
    for name, photo in (("the astronaut", data.astronaut()), ("its mirror image", data.astronaut()[:, ::-1].copy())):
        same = np.array_equal(old.obfuscate_photo(photo)[0], new.obfuscate_photo(photo)[0])
        print(f"same pixels on {name}: {same}")


if __name__ == "__main__":
    main()

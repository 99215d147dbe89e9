"""The flip strength under a naturalness bound, through the tool's photo path:
on validation faces of CelebA-mini (its people in two halves: reference faces and faces to redraw),
each (gain, intensity) of `faceobf.reconstruct.tuning` flips the seed's four; per strength the
judge's editing accuracy and preservation (the FAC reading the 178 px crops) and what the flips cost
in naturalness (`naturalness.flip_cost`: dlib KID to real faces of other people, x1e3, in excess of
the same faces redrawn without flips), then the bound (what a light blur of 2.5 px costs real faces,
`light_blur_cost`) and the strength `choose_strength` picks within it. No test face chooses
anything. The stage-2 options pick the U-Net as in bench_naturalness.py (`--run-dir DIR --snapshot
N` for a run still training).

    python benchmarks/bench_operating_point.py [--root $FACEOBF_DATA] [--faces 60] [stage-2 options]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from faceobf.data import CelebA
from faceobf.evaluate.naturalness import flip_cost, light_blur_cost, people_halves
from faceobf.options import add_options, apply_options
from faceobf.profiles import get_profile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", help="CelebA folder (default: $FACEOBF_DATA)")
    parser.add_argument("--faces", type=int, default=60,
                        help="reference faces and faces to redraw, each")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--encoding", default="onehot", choices=("onehot", "word2vec"))
    parser.add_argument("--snapshot", type=int, metavar="EPOCH",
                        help="the run's weights after this epoch")
    parser.add_argument("--run-dir", type=Path,
                        help="the U-Net run folder (finished or still training)")
    add_options(parser, selecting=True)
    args = parser.parse_args()

    from faceobf import runs, trained
    from faceobf.data.images import FACE_CROP
    from faceobf.disentangle.attributes import SEED_FLIPS, attribute_index
    from faceobf.obfuscate.policies import FlipNamed, FlipNone
    from faceobf.reconstruct.editing import judge_edit
    from faceobf.reconstruct.generate import FlipStrength
    from faceobf.reconstruct.tuning import GAINS, INTENSITIES, choose_strength
    from faceobf.train.recon import SNAPSHOTS

    dataset = CelebA.open(args.root)
    ref_rows, rows = people_halves(dataset.identities, dataset.split("val"), args.faces)
    profile = apply_options(get_profile(args.profile), args)
    run_dir = args.run_dir
    if run_dir is None and args.snapshot is not None:
        run_dir = runs.find(runs.RunSpec.recon(profile, args.encoding))
    weights = None if args.snapshot is None else run_dir / SNAPSHOTS / f"epoch_{args.snapshot:03d}"
    tool = trained.obfuscator(profile, args.encoding, unet_dir=run_dir, unet_weights=weights)
    print(f"U-Net {tool.run_dir.name}"
          + ("" if args.snapshot is None else f" after epoch {args.snapshot}"))
    crop = (slice(FACE_CROP.top, FACE_CROP.top + FACE_CROP.size),
            slice(FACE_CROP.left, FACE_CROP.left + FACE_CROP.size))
    images = [dataset.read_aligned(int(r)) for r in rows]
    reference = np.stack([dataset.read_aligned(int(r))[crop] for r in ref_rows])
    real = np.stack([image[crop] for image in images])
    base_generator, judge = tool.generator, tool.classifier

    def redrawn(policy, strength: FlipStrength) -> np.ndarray:
        tool.policy, tool.generator = policy, base_generator.with_geometry(
            base_generator.geometry, strength)
        return np.stack([tool.obfuscate_photo(image, allow_no_face=True)[0][crop]
                         for image in images])

    start = time.perf_counter()
    cost = flip_cost(reference, redrawn(FlipNone(), FlipStrength()))
    bound = light_blur_cost(reference, real)
    base = judge.predict(real)
    flipped = [attribute_index(n) for n in SEED_FLIPS]
    table = []
    for gain in (GAINS if base_generator.geometry is not None else (1.0,)):
        for intensity in INTENSITIES:
            faces = redrawn(FlipNamed(), FlipStrength(gain, intensity))
            result = judge_edit(judge.predict(faces), base, flipped)
            mean, low, high = cost(faces)
            table.append({"gain": gain, "intensity": intensity, "editing": result["mean_accuracy"],
                          "balanced": result["mean_balanced"],
                          "preservation": result["preservation"],
                          "flip cost": mean, "flip cost low": low, "flip cost high": high})
    sweep = pd.DataFrame(table)
    pd.set_option("display.width", 200)
    print(sweep.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    chosen, unbounded = choose_strength(sweep, max_cost=bound), choose_strength(sweep)
    print(f"bound: flips may cost {bound:.3f} (dlib KID x1e3), what a 2.5 px blur costs these "
          "real faces")
    print(f"chosen within the bound: gain {chosen.gain}, intensity {chosen.intensity}; "
          f"without it: gain {unbounded.gain}, intensity {unbounded.intensity}")
    people = [len(np.unique(dataset.identities[r])) for r in (ref_rows, rows)]
    print(f"{args.faces} faces to redraw and {args.faces} reference faces of {people[1]} and "
          f"{people[0]} validation people; {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()

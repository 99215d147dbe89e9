"""The naturalness yardstick (`faceobf.evaluate.naturalness`) checked against what a person sees: its table for
real faces of other people, light blur (sigma 2.5 px), heavier blur (8 px), pixelation in 8 and 16 px blocks and
black-out, all inside the template's face ellipse of held-out CelebA-mini test faces, and today's redraws (the
tool's photo path on the aligned images, shipped `cpu` models, no flips and the seed's four), and its cost.
The stage-2 options pick another trained U-Net (e.g. `--appearance-prior --short`: the run that
`faceobf train recon --profile cpu --appearance-prior --short` made in $FACEOBF_RUNS), and `--snapshot N`
its weights after epoch N (a run trained with `--snapshot-every`; a curve over a long run, one call per epoch);
`--run-dir DIR` judges that run folder (the same stage-2 options as it was trained with; one still training by its
snapshots).

Reference and held-out faces are of different people (the test split's people in two random halves).

    python benchmarks/bench_naturalness.py [--root $FACEOBF_DATA] [--faces 100] [--profile cpu] [--grid PNG]
        [stage-2 options]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from faceobf.data import CelebA
from faceobf.evaluate.naturalness import face_region, naturalness_table, people_halves
from faceobf.obfuscate.baselines import blackout_face, blur_face, pixelate_face
from faceobf.options import add_options, apply_options
from faceobf.profiles import Profile, get_profile


def redraws(dataset: CelebA, rows: np.ndarray, profile: Profile, encoding: str, snapshot: int | None = None,
            run_dir: Path | None = None) -> dict[str, list[np.ndarray]]:
    """{name: the face crops of the aligned images redrawn by the tool's photo path}, with no flips and the seed's four;
    an image in which no face is found stays as it is (counted)."""
    from faceobf import runs, trained
    from faceobf.data.images import FACE_CROP
    from faceobf.obfuscate.policies import FlipNamed, FlipNone
    from faceobf.train.recon import SNAPSHOTS

    if run_dir is None and snapshot is not None:
        run_dir = runs.find(runs.RunSpec.recon(profile, encoding))
    weights = None if snapshot is None else run_dir / SNAPSHOTS / f"epoch_{snapshot:03d}"
    tool, out = trained.obfuscator(profile, encoding, unet_dir=run_dir, unet_weights=weights), {}
    print(f"redraws by {tool.run_dir.name}" + ("" if snapshot is None else f" after epoch {snapshot}"))
    for name, policy in (("redrawn, no flips", FlipNone()), ("redrawn, seed's four", FlipNamed())):
        tool.policy, faces, missed = policy, [], 0
        for row in rows:
            photo, records = tool.obfuscate_photo(dataset.read_aligned(int(row)), allow_no_face=True)
            missed += not records
            faces.append(photo[FACE_CROP.top:FACE_CROP.top + FACE_CROP.size, FACE_CROP.left:FACE_CROP.left + FACE_CROP.size])
        out[name] = faces
        print(f"{name}: {missed} of {len(rows)} images without a face found (left as they are)")
    return out


def write_grid(path: Path, methods: dict[str, list[np.ndarray]], faces: int = 8) -> None:
    """Every 12th of the first `faces` * 12 held-out faces (spread over the people), one column per method
    (named in the header row) at the crops' native 178 px, as a PNG: what each method's faces look like."""
    import cv2

    picks = list(range(0, 12 * faces, 12))
    columns = []
    for name, crops in methods.items():
        rows = [crops[k % len(crops)] for k in picks]
        header = np.full((24, rows[0].shape[1], 3), 255, np.uint8)
        cv2.putText(header, name[:24], (3, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
        columns.append(np.concatenate([header, *rows], axis=0))
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(columns, axis=1), cv2.COLOR_RGB2BGR))
    print(f"faces to look at: {path} (columns: {', '.join(methods)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", help="CelebA folder (default: $FACEOBF_DATA)")
    parser.add_argument("--faces", type=int, default=100, help="reference and held-out faces each")
    parser.add_argument("--no-redraws", action="store_true", help="leave out the tool's redraws (no models needed)")
    parser.add_argument("--profile", default="cpu", help="the profile of the models that redraw (default: cpu)")
    parser.add_argument("--encoding", default="onehot", choices=("onehot", "word2vec"))
    parser.add_argument("--snapshot", type=int, metavar="EPOCH", help="the picked run's weights after this epoch")
    parser.add_argument("--run-dir", type=Path, help="judge this U-Net run folder (finished or still training)")
    parser.add_argument("--grid", type=Path, metavar="PNG",
                        help="also write 8 held-out faces at native size, one column per method, to look at")
    add_options(parser, selecting=True)
    args = parser.parse_args()
    dataset = CelebA.open(args.root)
    ref_rows, held_rows = people_halves(dataset.identities, dataset.split("test"), args.faces)
    reference, heldout = (dataset.images(r, 178, progress=False) for r in (ref_rows, held_rows))
    face = face_region(178)
    methods = {"blur 2.5 px": [blur_face(f, face, 2.5) for f in heldout], "blur 8 px": [blur_face(f, face, 8) for f in heldout],
               "pixelated 8 px": [pixelate_face(f, face, 8) for f in heldout],
               "pixelated 16 px": [pixelate_face(f, face, 16) for f in heldout], "blacked out": [blackout_face(f, face) for f in heldout]}
    if not args.no_redraws:
        profile = apply_options(get_profile(args.profile), args)
        methods.update(redraws(dataset, held_rows, profile, args.encoding, args.snapshot, args.run_dir))
    if args.grid:
        write_grid(args.grid, {"real": list(heldout), **methods})
    start = time.perf_counter()
    table = naturalness_table(reference, heldout, {k: np.stack(v) for k, v in methods.items()})
    seconds = time.perf_counter() - start
    pd.set_option("display.width", 200)
    for columns in (["dlib FD excess", "dlib KID excess x1e3", "dlib KID interval", "centerface FD excess",
                     "centerface KID excess x1e3", "centerface KID interval"],
                    ["two-sample accuracy", "two-sample interval", "skin dE median", "skin dE p90", "blockiness median",
                     "dlib same person"]):
        print(table[columns].to_string(float_format=lambda v: f"{v:.3f}"), end="\n\n")
    faces = args.faces * (2 + len(methods))
    people = [len(np.unique(dataset.identities[r])) for r in (ref_rows, held_rows)]
    print(f"{args.faces} reference and {args.faces} held-out faces of {people[0]} and {people[1]} people; "
          f"{seconds:.0f} s for {faces} faces ({seconds / faces:.2f} s per face, dlib's descriptor most of it)")


if __name__ == "__main__":
    main()

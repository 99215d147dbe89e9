"""`faceobf obfuscate`: every face in photos and clips, files or folders, one report per output folder."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from faceobf.commands.common import PROFILE_NAMES, add_model_choice, announce_profile
from faceobf.errors import UsageError


def build_obfuscator(args: argparse.Namespace):
    """The stage-3 pipeline the command line asks for (separate so tests can swap the models)."""
    from dataclasses import replace

    from faceobf import trained
    from faceobf.paths import RUNS_ENV
    from faceobf.disentangle.attributes import SEED_FLIPS
    from faceobf.obfuscate.policies import FlipAll, FlipNamed, FlipNone, FlipRandom, IdentityAware

    if args.checkpoint:
        os.environ[RUNS_ENV] = args.checkpoint
    policy = {
        "none": lambda: FlipNone(),
        "named": lambda: FlipNamed(tuple(args.flip or SEED_FLIPS), respect_protected=not args.unprotect),
        "all": lambda: FlipAll(respect_protected=not args.unprotect),
        "random": lambda: FlipRandom(args.k, seed=args.seed, respect_protected=not args.unprotect),
        "identity": lambda: IdentityAware(args.k, respect_protected=not args.unprotect),
    }[args.policy]()
    from faceobf.obfuscate.detect import DETECTORS, DetectorSettings
    from faceobf.obfuscate.follow import FollowSettings

    unknown = [name for name in args.detectors if name not in DETECTORS]
    if unknown:
        raise UsageError(f"--detectors {' '.join(unknown)}: unknown; choose from {', '.join(DETECTORS)}")

    min_score = dict(DetectorSettings().min_score)  # every option is checked before the models load
    for item in args.min_score or []:
        name, _, value = item.partition("=")
        try:
            score = float(value)
        except ValueError:
            score = None
        if name not in min_score or score is None:
            raise UsageError(f"--min-score {item!r}: write DETECTOR=VALUE with DETECTOR one of {', '.join(min_score)} and VALUE a number")
        min_score[name] = score
    detection = DetectorSettings(detectors=tuple(args.detectors), min_score=min_score)
    if args.key_every < 1:
        raise UsageError(f"--key-every {args.key_every}: give 1 (detect on every frame) or more")
    follow = FollowSettings(key_every=args.key_every)
    profile = announce_profile(args)
    obfuscator = trained.obfuscator(profile, args.encoding, policy, upscale=False if args.no_upscale else None)
    generator = obfuscator.generator
    if args.geometry == "fixed":
        generator = generator.with_geometry(None)
    elif args.geometry == "follow" and generator.geometry is None:
        raise UsageError("--geometry follow: this U-Net was trained with fixed landmarks and has no landmark mapping; "
                         "train one with `faceobf train recon --geometry follow`")
    return replace(obfuscator, generator=generator, detection=detection, fallback=args.fallback, min_face=args.min_face,
                   on_miss=args.on_miss, paste=args.paste, follow=follow)


def _obfuscate_jobs(args: argparse.Namespace) -> list[tuple[Path, Path, list]]:
    """[(output folder, report, inputs)]: with -o one folder for everything; without, each folder named (or each photo's
    folder) keeps its outputs beside its inputs and its own report and lock, so folders never refuse one another."""
    from faceobf.obfuscate.batch import REPORT_NAME, collect_inputs
    from faceobf.obfuscate.inputs import beside_homes

    if args.output is not None:
        outdir = Path(args.output)
        if outdir.exists() and not outdir.is_dir():
            raise UsageError(f"-o {outdir}: a file, not a folder; give the folder the outputs go to")
        report = Path(args.report) if args.report else outdir / REPORT_NAME
        return [(outdir, report, collect_inputs(args.inputs, exclude=[outdir, report], left_out=args.left_out))]
    homes = beside_homes(args.inputs)
    if args.report and len(homes) > 1:
        raise UsageError("--report names one report, and these inputs are in several folders (each keeps its own "
                         "report): give -o OUTDIR, or run once per folder")
    jobs, seen = [], set()
    for home, paths in homes:
        report = Path(args.report) if args.report else home / REPORT_NAME
        inputs = [i for i in collect_inputs(paths, exclude=[report], beside=True, root=home, left_out=args.left_out)
                  if i.path.resolve() not in seen]  # a file under two named folders goes with the first
        seen.update(i.path.resolve() for i in inputs)
        jobs.append((home, report, inputs))
    return jobs


def _cmd_obfuscate(args: argparse.Namespace) -> int:
    from functools import partial

    from faceobf.obfuscate.batch import Summary, obfuscate_files

    args.left_out = []
    jobs = [job for job in _obfuscate_jobs(args) if job[2]]
    if not jobs:
        print("faceobf: error: no input files found" + (f" ({len(args.left_out)} earlier output(s) of faceobf left out)"
                                                        if args.left_out else ""), file=sys.stderr)
        return 2
    total, load = Summary(left_out=len(args.left_out)), _load_once(partial(build_obfuscator, args))
    for outdir, report, inputs in jobs:
        summary, _ = obfuscate_files(load, inputs, outdir, report, allow_no_face=args.allow_no_face, overwrite=args.overwrite,
                                     engine=args.engine, workers=args.workers, address=args.ray_address)
        total.add(summary)
        if summary.debris_removed:
            print(f"removed {summary.debris_removed} temporary file(s) an interrupted run left in {outdir}")
        if summary.interrupted:
            break
    print(total.line())
    for path, reason in total.refused:
        print(f"  refused: {path}: {reason}")
    if total.left_out:
        print(f"left out {total.left_out} earlier output(s) of faceobf (named x.obfuscated.* or recorded in a report)")
    for _, report, _ in jobs:
        print(f"report: {report}")
    if total.interrupted:
        return 130
    return 1 if total.refused else 0


def _load_once(load):
    """`load` called at most once, however many folders ask for the models (Ray workers call it themselves)."""
    loaded = []

    def once():
        if not loaded:
            loaded.append(load())
        return loaded[0]

    return once



def add_parser(commands) -> None:
    """`faceobf obfuscate INPUTS`."""
    obf = commands.add_parser("obfuscate", help="obfuscate every face in photos and videos (files or folders); fails closed")
    obf.add_argument("inputs", nargs="+", help="photos, videos (mp4, mov, mkv, webm, avi: one new identity per tracked "
                                               "person, audio kept) or folders of them")
    obf.add_argument("-o", "--output", help="output folder, mirroring the inputs' folders (default: each output beside its "
                                            "input as NAME.obfuscated.EXT; inputs are never overwritten)")
    obf.add_argument("--policy", choices=["none", "named", "all", "random", "identity"], default="named",
                     help="which attributes to flip (default: named); identity: the k flips that move dlib's descriptor furthest; "
                          "none: redraw each face with its own attributes (the control)")
    obf.add_argument("--geometry", choices=["follow", "fixed"],
                     help="follow: a flip also moves the landmarks it names (a smile, a nose), as the U-Net was trained; fixed: "
                          "keep the face's landmarks (the seed's design; the planes keep the model's flip intensity); default: follow when "
                          "the U-Net has a landmark mapping")
    obf.add_argument("--flip", nargs="+", metavar="ATTR", help="attributes for --policy named (default: Pointy_Nose Smiling Young Big_Nose)")
    obf.add_argument("--k", type=int, default=4, help="how many attributes --policy random or identity flips (default 4)")
    obf.add_argument("--seed", type=int, default=0, help="seed of --policy random")
    obf.add_argument("--unprotect", action="store_true", help="allow flipping gender and gender-linked attributes")
    models = obf.add_argument_group("which trained models (for people who trained their own; the defaults use the "
                                    "shipped ones)")
    models.add_argument("--profile", choices=PROFILE_NAMES, help="whose trained models to use (default: the active profile)")
    models.add_argument("--checkpoint", help="folder of training runs (default: $FACEOBF_RUNS)")
    add_model_choice(obf, skip=("--geometry",))  # obfuscate's own --geometry says how the flips are drawn
    obf.add_argument("--detectors", nargs="+", metavar="NAME", default=["hog", "centerface"],
                     help="face detectors, by name, whose faces are all obfuscated (default both: HOG for frontal faces, CenterFace for "
                          "small, turned and hidden ones)")
    obf.add_argument("--min-score", nargs="+", metavar="DETECTOR=VALUE",
                     help="score a face found by one detector alone needs to be redrawn rather than blurred "
                          "(default hog=0.5 centerface=0.8)")
    obf.add_argument("--key-every", type=int, default=8, metavar="K",
                     help="videos: the full detectors at least every K frames, each face followed in a window around it "
                          "between them and a quick look for new ones (default 8; 1: the full detectors on every frame)")
    obf.add_argument("--on-miss", choices=["fallback", "refuse"], default="fallback",
                     help="a face the last check finds untouched: give it the fallback (default) or refuse the photo")
    obf.add_argument("--fallback", choices=["blur", "pixelate", "blackout"], default="blur", help="for faces too small for the model")
    obf.add_argument("--min-face", type=int, default=32, help="faces narrower than this many pixels get the fallback (default 32)")
    obf.add_argument("--paste", choices=["match", "plain", "poisson"], default="match",
                     help="how a redrawn face goes into the photo: match (default: feathered, with the photo's colour at the "
                          "seam and its grain), plain (feathered only), poisson (OpenCV NORMAL_CLONE, then the grain)")
    obf.add_argument("--no-upscale", action="store_true",
                     help="resample the U-Net's 64 px faces instead of drawing them at 128 px with the upscaler")
    obf.add_argument("--allow-no-face", action="store_true", help="write photos without faces (metadata stripped) instead of refusing them")
    obf.add_argument("--report", help="JSON Lines report, one line per photo as it finishes (default: faceobf-report.jsonl in "
                                      "OUTDIR, or without -o in each input folder); a later run continues it")
    obf.add_argument("--overwrite", action="store_true", help="redo the outputs of these inputs (and replace files in the "
                                                              "way), keeping every other record of the report")
    obf.add_argument("--resume", action="store_true", help=argparse.SUPPRESS)  # every run continues its report now
    many = obf.add_argument_group("large collections (Ray)")
    many.add_argument("--engine", choices=["local", "ray"], default="local",
                      help="local (default): one process; ray: the same work over Ray Data workers, each loading the models once")
    many.add_argument("--workers", type=int, help="--engine ray: how many workers (default: one per CPU Ray sees)")
    many.add_argument("--ray-address", help="--engine ray: a running cluster's address (`ray start --head` prints it); "
                                            "default: a local Ray instance started for this run")
    obf.set_defaults(func=_cmd_obfuscate)

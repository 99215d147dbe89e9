"""The `faceobf` command: data checks and downloads, landmark caches, training, obfuscation, evaluation."""

from __future__ import annotations

import argparse
import sys

from faceobf.commands import evaluate, models, obfuscate, train


def _cmd_data_check(args: argparse.Namespace) -> int:
    from faceobf.data.check import check_folder
    from faceobf.paths import data_root

    report, code = check_folder(data_root(args.root))
    print(report)
    return code


def _cmd_data_download(args: argparse.Namespace) -> int:
    from faceobf.data.download import CELEBA_FILES, download_celeba

    files = [f for f in CELEBA_FILES if not args.only or f.filename in args.only]
    download_celeba(args.root, url=args.url, files=files, extract=not args.no_extract)
    return 0


def _cmd_data_import(args: argparse.Namespace) -> int:
    from faceobf.data.sources import import_source

    import_source(args.source, args.target, identities=args.identities)
    return 0


def _cmd_data_mini(args: argparse.Namespace) -> int:
    from faceobf.data.subset import cut_subset, mini_plus_names

    cut_subset(args.source, args.target, mini_plus_names() if args.plus else None)
    return 0


def _cmd_data_union(args: argparse.Namespace) -> int:
    from faceobf.data.subset import union_folders

    union_folders(args.sources, args.target)
    return 0


def _cmd_data_landmarks(args: argparse.Namespace) -> int:
    import numpy as np

    from faceobf.data import CelebA
    from faceobf.disentangle.landmarks import landmark_cache

    dataset = CelebA.open(args.root)
    cache = landmark_cache(dataset, np.arange(len(dataset)), upsample=args.upsample)
    for split in ("train", "val", "test"):
        r = cache.miss_report(dataset.split(split))
        print(f"{split:5s}: HOG missed {r['missed']} of {r['images']} faces ({r['miss_rate']:.1%}); those images are excluded from stages that need landmarks")
    print(f"cache: {cache.path}")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from faceobf.profiles import active_profile, hardware_summary

    profile = active_profile()
    print(f"profile {profile.name}: {profile.description}\nhardware: {hardware_summary()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from faceobf.data.celeba_files import CELEBA_FILES

    parser = argparse.ArgumentParser(prog="faceobf", description="Identity obfuscation in face images.")
    commands = parser.add_subparsers(dest="command", required=True)

    data = commands.add_parser("data", help="CelebA: check, download, landmarks").add_subparsers(dest="data_command", required=True)
    check = data.add_parser("check", help="count images, identities and splits; list every problem")
    check.add_argument("root", nargs="?", help="CelebA folder (default: $FACEOBF_DATA)")
    check.set_defaults(func=_cmd_data_check)
    download = data.add_parser("download", help="fetch the official CelebA files and verify their MD5 sums")
    download.add_argument("--root", required=True, help="folder to download into")
    download.add_argument("--url", help="mirror base URL serving the files by name (default: Google Drive via gdown)")
    download.add_argument("--no-extract", action="store_true", help="keep img_align_celeba.zip packed")
    download.add_argument("--only", nargs="+", metavar="FILE", choices=[f.filename for f in CELEBA_FILES],
                          help="fetch only these files (e.g. identity_CelebA.txt for the Kaggle copy, which lacks it)")
    download.set_defaults(func=_cmd_data_download)
    imp = data.add_parser("import", help="make an official-layout folder from the Kaggle copy or the official Drive folder")
    imp.add_argument("source", help="the source folder (official, Kaggle jessicali9530/celeba-dataset, or Drive's Anno/Eval/Img)")
    imp.add_argument("target", help="the folder to write (annotations in the official format, images linked)")
    imp.add_argument("--identities", help="identity_CelebA.txt, for a source without it (the Kaggle copy)")
    imp.set_defaults(func=_cmd_data_import)
    mini = data.add_parser("mini", help="cut CelebA-mini (the shipped cpu models' 6,000 images) out of a full CelebA folder")
    mini.add_argument("source", help="a full CelebA folder in the official layout (see `faceobf data import`)")
    mini.add_argument("target", help="the folder to write (images hard-linked where possible, annotations cut)")
    mini.add_argument("--plus", action="store_true", help="with CelebA-plus: 24,998 more train faces of 5,000 "
                      "more people (30,998 images; validation and test stay CelebA-mini's)")
    mini.set_defaults(func=_cmd_data_mini)
    union = data.add_parser("union", help="one CelebA folder from several official-layout folders (e.g. CelebA-mini "
                            "and CelebA-plus): images linked, annotation rows merged in the official order")
    union.add_argument("sources", nargs="+", help="official-layout CelebA folders")
    union.add_argument("target", help="the folder to write")
    union.set_defaults(func=_cmd_data_union)
    landmarks = data.add_parser("landmarks", help="run dlib's HOG + 68-point predictor over the data set once (cached)")
    landmarks.add_argument("root", nargs="?", help="CelebA folder (default: $FACEOBF_DATA)")
    landmarks.add_argument("--upsample", type=int, default=1, help="HOG upsampling (default 1)")
    landmarks.set_defaults(func=_cmd_data_landmarks)

    train.add_parsers(commands)
    obfuscate.add_parser(commands)
    evaluate.add_parsers(commands)
    models.add_parsers(commands)

    info = commands.add_parser("info", help="print the active profile and hardware")
    info.set_defaults(func=_cmd_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; a user's error (`FaceobfError`) prints one line on stderr and exits 2, a bug keeps its traceback."""
    from faceobf.errors import FaceobfError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("faceobf: interrupted", file=sys.stderr)
        return 130
    except FaceobfError as exc:
        print(f"faceobf: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

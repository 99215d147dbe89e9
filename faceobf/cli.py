"""The `faceobf` command: data checks and downloads, landmark caches, training, obfuscation, evaluation."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from faceobf.errors import OutputExistsError, UsageError


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
    from faceobf.data.subset import cut_subset

    cut_subset(args.source, args.target)
    return 0


def _cmd_data_landmarks(args: argparse.Namespace) -> int:
    from faceobf.data import CelebA
    from faceobf.disentangle.landmarks import landmark_cache

    dataset = CelebA.open(args.root)
    cache = landmark_cache(dataset, np.arange(len(dataset)), upsample=args.upsample)
    for split in ("train", "val", "test"):
        r = cache.miss_report(dataset.split(split))
        print(f"{split:5s}: HOG missed {r['missed']} of {r['images']} faces ({r['miss_rate']:.1%}); those images are excluded from stages that need landmarks")
    print(f"cache: {cache.path}")
    return 0


def _announce_profile(args: argparse.Namespace):
    """The profile named by --profile (else the active one), printed with the hardware; --landmarks and --recipe applied."""
    from faceobf.profiles import (active_profile, get_profile, hardware_summary, with_ablation_budget, with_attribute_weight,
                                  with_condition, with_critic, with_geometry, with_identity_hinge, with_l1_weight, with_landmarks, with_recipe,
                                  with_seed_edits, with_upscaler_adversary, without_injection)

    profile = get_profile(args.profile) if args.profile else active_profile()
    if getattr(args, "landmarks", None):
        profile = with_landmarks(profile, args.landmarks)
    if getattr(args, "recipe", None):
        profile = with_recipe(profile, args.recipe)
    if getattr(args, "no_inject", False):
        profile = without_injection(profile)
    if getattr(args, "attr_weight", None) is not None:
        profile = with_attribute_weight(profile, args.attr_weight)
    if getattr(args, "geometry_training", None):
        profile = with_geometry(profile, args.geometry_training)
    if getattr(args, "seed_edits", None) is not None:
        profile = with_seed_edits(profile, args.seed_edits)
    if getattr(args, "condition", None):
        profile = with_condition(profile, args.condition)
    if getattr(args, "critic", None):
        profile = with_critic(profile, args.critic)
    if getattr(args, "l1_weight", None) is not None:
        profile = with_l1_weight(profile, args.l1_weight)
    if getattr(args, "identity_weight", None) is not None:
        profile = with_identity_hinge(profile, args.identity_weight)
    if getattr(args, "short", False):
        profile = with_ablation_budget(profile)
    if getattr(args, "adv_weight", None) is not None:
        profile = with_upscaler_adversary(profile, args.adv_weight)
    print(f"profile {profile.name}: {profile.description}\nhardware: {hardware_summary()}")
    return profile


def _cmd_train_recogniser(args: argparse.Namespace) -> int:
    from faceobf.data import CelebA
    from faceobf.train.recogniser import train_recogniser

    profile = _announce_profile(args)
    run = train_recogniser(profile, CelebA.open(args.root), Path(args.run_dir) if args.run_dir else None)
    print(f"test (unseen people): Recall@1 {run.test['recall_at_1']:.1%} (chance {run.test['chance']:.1%}); run: {run.run_dir}")
    return 0


def _cmd_train_fac(args: argparse.Namespace) -> int:
    from faceobf.data import CelebA
    from faceobf.train.fac import train_fac

    profile = _announce_profile(args)
    run = train_fac(profile, CelebA.open(args.root), Path(args.run_dir) if args.run_dir else None)
    print(f"test mean attribute accuracy {run.test['mean_accuracy']:.4f} (majority baseline {run.test['mean_majority_baseline']:.4f})")
    print(f"checkpoints and history: {run.run_dir}")
    return 0


def _cmd_train_upscaler(args: argparse.Namespace) -> int:
    from faceobf.data import CelebA
    from faceobf.train.upscaler import train_upscaler

    profile = _announce_profile(args)
    run = train_upscaler(profile, CelebA.open(args.root), Path(args.run_dir) if args.run_dir else None)
    for name in ("upscaler", "bicubic"):
        m = run.test[name]
        print(f"{name:9s} test L1 {m['l1']:.4f}  PSNR {m['psnr']:.2f} dB  detail ratio {m['detail_ratio']:.2f}")
    print(f"checkpoints and history: {run.run_dir}")
    return 0


def _cmd_train_recon(args: argparse.Namespace) -> int:
    from faceobf.data import CelebA
    from faceobf.train.recon import train_recon

    profile = _announce_profile(args)
    run = train_recon(profile, CelebA.open(args.root), args.encoding, Path(args.run_dir) if args.run_dir else None)
    for name, m in (("U-Net", run.test["unet"]), ("mean-colour baseline", run.test["mean_colour_baseline"])):
        print(f"{name:20s} test SSIM {m['ssim']:.4f} (mask {m['ssim_mask']:.4f})  PSNR {m['psnr']:.2f} dB (mask {m['psnr_mask']:.2f})  L1 {m['l1']:.4f} (mask {m['l1_mask']:.4f})")
    print(f"checkpoints, previews and history: {run.run_dir}")
    return 0


def _cmd_train_ablations(args: argparse.Namespace) -> int:
    from faceobf import runs
    from faceobf.data import CelebA
    from faceobf.train.ablations import ablation_arms
    from faceobf.train.recon import load_or_train_recon

    profile = _announce_profile(args)
    dataset = CelebA.open(args.root)
    arms = ablation_arms(profile)
    for number, (arm, (arm_profile, encoding)) in enumerate(arms.items(), 1):
        print(f"[{number}/{len(arms)}] {arm}: {runs.RunSpec.recon(arm_profile, encoding).train_command()}", flush=True)
        run = load_or_train_recon(arm_profile, dataset, encoding, progress=not args.quiet)
        print(f"[{number}/{len(arms)}] {arm}: finished, test SSIM (mask) {run.test['unet']['ssim_mask']:.4f}; {run.run_dir}", flush=True)
    return 0


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
    from faceobf.obfuscate.detect import DetectorSettings

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
    profile = _announce_profile(args)
    obfuscator = trained.obfuscator(profile, args.encoding, policy, upscale=False if args.no_upscale else None)
    generator = obfuscator.generator
    if args.geometry == "fixed":
        generator = generator.with_geometry(None)
    elif args.geometry == "follow" and generator.geometry is None:
        raise UsageError("--geometry follow: this U-Net was trained with fixed landmarks and has no landmark mapping; "
                         "train one with `faceobf train recon --geometry follow`")
    return replace(obfuscator, generator=generator, detection=detection, fallback=args.fallback, min_face=args.min_face,
                   on_miss=args.on_miss, paste=args.paste)


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


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from faceobf.data import CelebA
    from faceobf.evaluate.report import markdown_table
    from faceobf.evaluate.study import run_study, write_study

    profile = _announce_profile(args)
    study = run_study(profile, CelebA.open(args.root), args.encoding, args.methods)
    json_path, md_path = write_study(study, Path(args.out))
    print(markdown_table(study.table))
    print(f"reports: {json_path} and {md_path}")
    return 0


def _cmd_human_make(args: argparse.Namespace) -> int:
    from faceobf.data import CelebA
    from faceobf.evaluate.human_test import write_human_test
    from faceobf.evaluate.methods import get_method
    from faceobf.evaluate.protocol import human_test_material

    if (Path(args.out) / "key.json").exists():
        raise OutputExistsError(f"{args.out}: already holds a human test (key.json); choose a new --out folder")
    method = get_method(args.method)
    profile = _announce_profile(args)
    sheets, images, machine = human_test_material(profile, CelebA.open(args.root), args.encoding, method.name, args.trials, args.seed,
                                                  form=args.form)
    paths = write_human_test(Path(args.out), sheets, images, method.name, method.label, machine)
    print(f"{len(sheets)} sheets of {method.label}: open {paths['page']} in a browser (works offline); "
          f"keep {paths['key']} away from assessors")
    print(f"score an assessor's export with: faceobf human-test score ANSWERS.json --key {paths['key']}")
    print(f"the machine assessor's picks on the same sheets: {paths['machine']}")
    return 0


def _cmd_human_score(args: argparse.Namespace) -> int:
    import json

    from faceobf.evaluate.human_test import describe_score, score_file

    scores = [score_file(Path(p), Path(args.key) if args.key else None) for p in args.answers]
    for score in scores:
        print(describe_score(score))
    if args.json:
        print(json.dumps(scores if len(scores) > 1 else scores[0], indent=2))
    return 0


def _cmd_models_list(args: argparse.Namespace) -> int:
    from faceobf import runs, shipped
    from faceobf.paths import runs_root

    print(f"shipped with faceobf ({shipped.SHIPPED_ROOT}):")
    for card in shipped.cards():
        r = card["record"]
        print(f"  {card['name']}: {r['kind']} {r['profile']} {r['variant'] or ''} ({card['dtype']}, {card['bytes'] / 1e6:.1f} MB)")
    print(f"local runs ({runs_root()}):")
    for record_path in sorted(runs_root().glob(f"*/{runs.RECORD}")):
        r, folder = runs.read_record(record_path.parent) or {}, record_path.parent
        state = "shipped weights" if shipped.is_installed(folder) else ("finished" if runs.is_finished(folder) else "unfinished")
        print(f"  {folder.name}: {r.get('kind')} {r.get('profile')} {r.get('variant') or ''} ({state})")
    return 0


def _cmd_models_export(args: argparse.Namespace) -> int:
    from faceobf.data import CelebA
    from faceobf.train.export import export_fac, export_recon, export_upscaler

    profile = _announce_profile(args)
    dataset, root = CelebA.open(args.root), Path(args.to) if args.to else None
    path = {"fac": lambda: export_fac(profile, dataset, root), "recon": lambda: export_recon(profile, dataset, args.encoding, root),
            "upscaler": lambda: export_upscaler(profile, dataset, root)}[args.kind]()
    print(f"exported {path} ({(path / 'weights.npz').stat().st_size / 1e6:.1f} MB); its card: {path / 'MODEL_CARD.md'}")
    return 0


def _cmd_models_import(args: argparse.Namespace) -> int:
    from faceobf.paths import runs_root
    from faceobf.shipped import install

    folder = Path(args.folder)
    print(f"installed {install(folder.name, runs_root(), folder.parent)}")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from faceobf.profiles import active_profile, hardware_summary

    profile = active_profile()
    print(f"profile {profile.name}: {profile.description}\nhardware: {hardware_summary()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from faceobf.disentangle.landmarks import LANDMARK_SUBSETS
    from faceobf.data.download import CELEBA_FILES

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
    mini.set_defaults(func=_cmd_data_mini)
    landmarks = data.add_parser("landmarks", help="run dlib's HOG + 68-point predictor over the data set once (cached)")
    landmarks.add_argument("root", nargs="?", help="CelebA folder (default: $FACEOBF_DATA)")
    landmarks.add_argument("--upsample", type=int, default=1, help="HOG upsampling (default 1)")
    landmarks.set_defaults(func=_cmd_data_landmarks)

    train = commands.add_parser("train", help="train a model").add_subparsers(dest="model", required=True)
    fac = train.add_parser("fac", help="the ResNet-50 face attribute classifier")
    fac.add_argument("--profile", choices=["ci", "cpu", "gpu"], help="default: $FACEOBF_PROFILE, else gpu if JAX sees one, else cpu")
    fac.add_argument("--root", help="CelebA folder (default: $FACEOBF_DATA)")
    fac.add_argument("--run-dir", help="checkpoint folder (default: $FACEOBF_RUNS/fac-<profile>-<dataset>)")
    fac.set_defaults(func=_cmd_train_fac)

    rec = train.add_parser("recogniser", help="the second face recogniser (ResNet-50 + ArcFace) that judges obfuscation in chapter 4")
    rec.add_argument("--profile", choices=["ci", "cpu", "gpu"], help="default: $FACEOBF_PROFILE, else gpu if JAX sees one, else cpu")
    rec.add_argument("--root", help="CelebA folder (default: $FACEOBF_DATA)")
    rec.add_argument("--run-dir", help="checkpoint folder (default: $FACEOBF_RUNS/recogniser-<profile>-<dataset>)")
    rec.set_defaults(func=_cmd_train_recogniser)

    recon = train.add_parser("recon", help="the stage-2 U-Net that redraws a face from its factors (L1 + PatchGAN + attribute loss)")
    recon.add_argument("--profile", choices=["ci", "cpu", "gpu"], help="default: $FACEOBF_PROFILE, else gpu if JAX sees one, else cpu")
    recon.add_argument("--encoding", choices=["onehot", "word2vec"], default="onehot", help="attribute planes (default onehot)")
    recon.add_argument("--root", help="CelebA folder (default: $FACEOBF_DATA)")
    recon.add_argument("--landmarks", choices=list(LANDMARK_SUBSETS), default="all",
                       help="landmarks the U-Net sees (default all 68; outline_nose: jaw line and nose, a separate run)")
    recon.add_argument("--recipe", choices=["attgan", "pix2pix"], default="attgan",
                       help="attgan (default): edited redraws judged by the discriminator's attribute head; pix2pix: L1 + GAN only (a separate run)")
    recon.add_argument("--no-inject", action="store_true", help="attribute planes at the input only, no inject layers (an ablation)")
    recon.add_argument("--attr-weight", type=float, help="weight of the generator's attribute loss (default: the profile's; a separate run)")
    recon.add_argument("--geometry", dest="geometry_training", choices=["fixed", "follow"],
                       help="edited redraws from fixed landmarks (the seed's design) or from landmarks moved with the flips "
                            "(follow); default: the profile's; a separate run")
    recon.add_argument("--seed-edits", type=float, metavar="SHARE",
                       help="share of edited redraws that flip the seed's four (default: the profile's; a separate run)")
    recon.add_argument("--condition", choices=["target", "difference"],
                       help="attribute planes carry the targets, or their difference from the face's own (STGAN); a separate run")
    recon.add_argument("--critic", choices=["head", "frozen"],
                       help="the generator's attribute loss from D's head as it trains, or a frozen copy of the warmed-up head; "
                            "a separate run")
    recon.add_argument("--identity-weight", type=float,
                       help="weight of the identity hinge on edited redraws (a small recogniser trained in the run on the train "
                            "identities; default 0: off; a separate run)")
    recon.add_argument("--l1-weight", type=float, help="weight of the reconstruction L1 (default: the profile's 100; a separate run)")
    recon.add_argument("--short", action="store_true", help="train under the profile's ablation budget (a separate run)")
    recon.add_argument("--run-dir", help="checkpoint folder (default: $FACEOBF_RUNS/recon-<profile>-<variant>-<dataset>)")
    recon.set_defaults(func=_cmd_train_recon)

    up = train.add_parser("upscaler", help="stage 3's upscaler: redrawn faces at twice the U-Net's size, trained on real faces")
    up.add_argument("--profile", choices=["ci", "cpu", "gpu"], help="default: $FACEOBF_PROFILE, else gpu if JAX sees one, else cpu")
    up.add_argument("--root", help="CelebA folder (default: $FACEOBF_DATA)")
    up.add_argument("--adv-weight", type=float, help="fine-tune the L1 upscaler against a PatchGAN at this weight, L1's being 1, "
                    "for 3 epochs as ESRGAN does (default 0: L1 only; each weight is a separate run)")
    up.add_argument("--run-dir", help="checkpoint folder (default: $FACEOBF_RUNS/upscaler-<profile>[-adv<W>]-<dataset>)")
    up.set_defaults(func=_cmd_train_upscaler)

    abl = train.add_parser("ablations", help="every arm of chapter 2's stage-2 ablation under the profile's ablation budget, "
                                              "in turn (each resumes or is loaded when finished)")
    abl.add_argument("--profile", choices=["ci", "cpu", "gpu"], help="default: $FACEOBF_PROFILE, else gpu if JAX sees one, else cpu")
    abl.add_argument("--root", help="CelebA folder (default: $FACEOBF_DATA)")
    abl.add_argument("--geometry", dest="geometry_training", choices=["fixed", "follow"], help="the reference recipe's geometry "
                     "(default: the profile's)")
    abl.add_argument("--seed-edits", type=float, metavar="SHARE", help="the reference recipe's share of seed edits (default: the profile's)")
    abl.add_argument("--quiet", action="store_true", help="no progress bars (for logs)")
    abl.set_defaults(func=_cmd_train_ablations)

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
    models = obf.add_argument_group("which trained models (for people who trained their own; the defaults use the shipped ones)")
    models.add_argument("--profile", choices=["ci", "cpu", "gpu"], help="whose trained models to use (default: the active profile)")
    models.add_argument("--encoding", choices=["onehot", "word2vec"], default="onehot", help="U-Net attribute encoding (default onehot)")
    models.add_argument("--recipe", choices=["attgan", "pix2pix"], default="attgan", help="use the U-Net trained with this stage-2 recipe")
    models.add_argument("--landmarks", choices=list(LANDMARK_SUBSETS), default="all", help="use the U-Net trained on this landmark subset")
    models.add_argument("--checkpoint", help="folder of training runs (default: $FACEOBF_RUNS)")
    obf.add_argument("--detectors", nargs="+", choices=["hog", "centerface"], default=["hog", "centerface"],
                     help="face detectors whose faces are all obfuscated (default both: HOG for frontal faces, CenterFace for "
                          "small, turned and hidden ones)")
    obf.add_argument("--min-score", nargs="+", metavar="DETECTOR=VALUE",
                     help="score a face found by one detector alone needs to be redrawn rather than blurred "
                          "(default hog=0.5 centerface=0.8)")
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

    from faceobf.evaluate.methods import METHODS
    from faceobf.evaluate.protocol import DEFAULT_METHODS

    ev = commands.add_parser("evaluate", help="machine assessor, landmark attacker and the seed's protocol over obfuscation methods")
    ev.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(DEFAULT_METHODS), metavar="METHOD",
                    help=f"methods to compare (default all: {', '.join(METHODS)})")
    ev.add_argument("--profile", choices=["ci", "cpu", "gpu"], help="whose models and evaluation size (default: the active profile)")
    ev.add_argument("--encoding", choices=["onehot", "word2vec"], default="onehot", help="U-Net attribute encoding (default onehot)")
    ev.add_argument("--recipe", choices=["attgan", "pix2pix"], default="attgan", help="use the U-Net trained with this stage-2 recipe")
    ev.add_argument("--landmarks", choices=list(LANDMARK_SUBSETS), default="all", help="evaluate the U-Net trained on this landmark subset")
    ev.add_argument("--root", help="CelebA folder (default: $FACEOBF_DATA)")
    ev.add_argument("--out", default=".", help="folder for evaluation.json and evaluation.md (default: here)")
    ev.set_defaults(func=_cmd_evaluate)

    human = commands.add_parser("human-test", help="the seed's human test: offline HTML trial sheets and their scorer")
    human_commands = human.add_subparsers(dest="human_command", required=True)
    make = human_commands.add_parser("make", help="write index.html (self-contained, offline), key.json and the machine's answers")
    make.add_argument("--out", required=True, help="new folder for the test")
    make.add_argument("--method", required=True, choices=[m for m in METHODS if m != "original"], metavar="METHOD",
                      help=f"how the matching face is processed: {', '.join(m for m in METHODS if m != 'original')}")
    make.add_argument("--trials", type=int, default=20, help="number of sheets (default 20)")
    make.add_argument("--form", choices=["query", "pairs"], default="query",
                      help="query: the processed face above 9 originals, pick its match (default); pairs: the seed's 10 faces, "
                           "pick the matching two (chance 1/9 for both)")
    make.add_argument("--seed", type=int, default=0, help="seed of the sheet draw (default 0)")
    make.add_argument("--profile", choices=["ci", "cpu", "gpu"], help="whose models and test faces (default: the active profile)")
    make.add_argument("--encoding", choices=["onehot", "word2vec"], default="onehot", help="U-Net attribute encoding (default onehot)")
    make.add_argument("--recipe", choices=["attgan", "pix2pix"], default="attgan", help="use the U-Net trained with this stage-2 recipe")
    make.add_argument("--landmarks", choices=list(LANDMARK_SUBSETS), default="all", help="use the U-Net trained on this landmark subset")
    make.add_argument("--root", help="CelebA folder (default: $FACEOBF_DATA)")
    make.set_defaults(func=_cmd_human_make)
    score = human_commands.add_parser("score", help="success rate of exported answers, 95% CI, test against the sheets' chance level (1/9)")
    score.add_argument("answers", nargs="+", help="answers JSON files exported by the page (or machine_answers.json)")
    score.add_argument("--key", help="the test's key.json (default: beside the answers, else where the page was made)")
    score.add_argument("--json", action="store_true", help="also print the scores as JSON")
    score.set_defaults(func=_cmd_human_score)

    models = commands.add_parser("models", help="shipped models: list, export a finished run, import one").add_subparsers(
        dest="models_command", required=True)
    models.add_parser("list", help="the models shipped with faceobf and the runs in $FACEOBF_RUNS").set_defaults(func=_cmd_models_list)
    export = models.add_parser("export", help="write a finished run as inference-only float16 weights with a model card")
    export.add_argument("kind", choices=["fac", "recon", "upscaler"])
    export.add_argument("--profile", choices=["ci", "cpu", "gpu"], help="default: the active profile")
    export.add_argument("--encoding", choices=["onehot", "word2vec"], default="onehot", help="U-Net attribute encoding (default onehot)")
    export.add_argument("--recipe", choices=["attgan", "pix2pix"], default="attgan", help="the U-Net's stage-2 recipe")
    export.add_argument("--landmarks", choices=list(LANDMARK_SUBSETS), default="all", help="the U-Net's landmark subset")
    export.add_argument("--no-inject", action="store_true", help="the U-Net trained without inject layers")
    export.add_argument("--short", action="store_true", help="the U-Net trained under the ablation budget")
    export.add_argument("--root", help="CelebA folder, for the float16 check on test faces (default: $FACEOBF_DATA)")
    export.add_argument("--to", help="folder to write into (default: the package's shipped models)")
    export.set_defaults(func=_cmd_models_export)
    imp = models.add_parser("import", help="install an exported model folder as a finished run in $FACEOBF_RUNS")
    imp.add_argument("folder", help="a folder written by `faceobf models export` (card.json + weights.npz)")
    imp.set_defaults(func=_cmd_models_import)

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

"""`faceobf train`: the attribute classifier, the second recogniser, the stage-2 U-Net, its ablations, the upscaler."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable

from faceobf.commands.common import add_profile, add_root, announce_profile


def _train(args: argparse.Namespace, trainer: str, train: Callable | None = None):
    """The profile announced, the data set opened, and `train(profile, dataset, run_dir)` run into --run-dir; the
    trainer's module (`trainer`, "module:function") is imported last, so a bad option or folder is refused at once."""
    import importlib

    from faceobf.data import CelebA

    dataset = CelebA.open(args.root)  # a wrong folder is refused before JAX starts
    profile = announce_profile(args)
    module, _, name = trainer.partition(":")
    function = getattr(importlib.import_module(module), name)
    run_dir = Path(args.run_dir) if args.run_dir else None
    return train(function, profile, dataset, run_dir) if train else function(profile, dataset, run_dir)


def _cmd_train_recogniser(args: argparse.Namespace) -> int:
    run = _train(args, "faceobf.train.recogniser:train_recogniser")
    print(f"test (unseen people): Recall@1 {run.test['recall_at_1']:.1%} (chance {run.test['chance']:.1%}); "
          f"run: {run.run_dir}")
    return 0


def _cmd_train_fac(args: argparse.Namespace) -> int:
    run = _train(args, "faceobf.train.fac:train_fac")
    print(f"test mean attribute accuracy {run.test['mean_accuracy']:.4f} "
          f"(majority baseline {run.test['mean_majority_baseline']:.4f})")
    print(f"checkpoints and history: {run.run_dir}")
    return 0


def _cmd_train_upscaler(args: argparse.Namespace) -> int:
    run = _train(args, "faceobf.train.upscaler:train_upscaler")
    for name in ("upscaler", "bicubic"):
        m = run.test[name]
        print(f"{name:9s} test L1 {m['l1']:.4f}  PSNR {m['psnr']:.2f} dB  detail ratio {m['detail_ratio']:.2f}")
    print(f"checkpoints and history: {run.run_dir}")
    return 0


def _cmd_train_recon(args: argparse.Namespace) -> int:
    run = _train(args, "faceobf.train.recon:train_recon",
                 lambda train_recon, profile, dataset, run_dir: train_recon(profile, dataset, args.encoding, run_dir))
    for name, m in (("U-Net", run.test["unet"]), ("mean-colour baseline", run.test["mean_colour_baseline"])):
        print(f"{name:20s} test SSIM {m['ssim']:.4f} (mask {m['ssim_mask']:.4f})  PSNR {m['psnr']:.2f} dB "
              f"(mask {m['psnr_mask']:.2f})  L1 {m['l1']:.4f} (mask {m['l1_mask']:.4f})")
    print(f"checkpoints, previews and history: {run.run_dir}")
    return 0


def _cmd_train_ablations(args: argparse.Namespace) -> int:
    from faceobf import runs
    from faceobf.data import CelebA
    from faceobf.train.ablations import ablation_arms
    from faceobf.train.recon import load_or_train_recon

    profile = announce_profile(args)
    dataset = CelebA.open(args.root)
    arms = ablation_arms(profile)
    for number, (arm, (arm_profile, encoding)) in enumerate(arms.items(), 1):
        print(f"[{number}/{len(arms)}] {arm}: {runs.RunSpec.recon(arm_profile, encoding).train_command()}", flush=True)
        run = load_or_train_recon(arm_profile, dataset, encoding, progress=not args.quiet)
        print(f"[{number}/{len(arms)}] {arm}: finished, test SSIM (mask) {run.test['unet']['ssim_mask']:.4f}; "
              f"{run.run_dir}", flush=True)
    return 0


def _run_dir(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument("--run-dir", help=f"checkpoint folder (default: $FACEOBF_RUNS/{default})")


def add_parsers(commands) -> None:
    """`faceobf train fac | recogniser | recon | upscaler | ablations`."""
    from faceobf.options import ENCODINGS, add_options

    train = commands.add_parser("train", help="train a model").add_subparsers(dest="model", required=True)
    fac = train.add_parser("fac", help="the ResNet-50 face attribute classifier")
    rec = train.add_parser("recogniser", help="the second face recogniser (ResNet-50 + ArcFace) that judges obfuscation "
                                              "in chapter 4")
    for parser, name, func in ((fac, "fac", _cmd_train_fac), (rec, "recogniser", _cmd_train_recogniser)):
        add_profile(parser)
        add_root(parser)
        _run_dir(parser, f"{name}-<profile>-<dataset>")
        parser.set_defaults(func=func)

    recon = train.add_parser("recon", help="the stage-2 U-Net that redraws a face from its factors (L1 + PatchGAN + "
                                           "attribute loss)")
    add_profile(recon)
    recon.add_argument("--encoding", choices=ENCODINGS, default="onehot", help="attribute planes (default onehot)")
    add_root(recon)
    add_options(recon)
    _run_dir(recon, "recon-<profile>-<variant>-<dataset>")
    recon.set_defaults(func=_cmd_train_recon)

    up = train.add_parser("upscaler", help="stage 3's upscaler: redrawn faces at twice the U-Net's size, trained on "
                                           "real faces")
    add_profile(up)
    add_root(up)
    up.add_argument("--adv-weight", type=float, help="fine-tune the L1 upscaler against a PatchGAN at this weight, L1's "
                    "being 1, for 3 epochs as ESRGAN does (default 0: L1 only; each weight is a separate run)")
    _run_dir(up, "upscaler-<profile>[-adv<W>]-<dataset>")
    up.set_defaults(func=_cmd_train_upscaler)

    abl = train.add_parser("ablations", help="every arm of chapter 2's stage-2 ablation under the profile's ablation "
                                             "budget, in turn (each resumes or is loaded when finished)")
    add_profile(abl)
    add_root(abl)
    add_options(abl, only=("--geometry", "--seed-edits"))
    abl.add_argument("--quiet", action="store_true", help="no progress bars (for logs)")
    abl.set_defaults(func=_cmd_train_ablations)

"""`faceobf models`: the shipped models and local runs listed, a finished run exported, an export installed."""

from __future__ import annotations

import argparse
from pathlib import Path

from faceobf.commands.common import add_model_choice, add_profile, announce_profile


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

    profile = announce_profile(args)
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


def add_parsers(commands) -> None:
    """`faceobf models list | export | import`."""
    models = commands.add_parser("models", help="shipped models: list, export a finished run, import one").add_subparsers(
        dest="models_command", required=True)
    models.add_parser("list", help="the models shipped with faceobf and the runs in $FACEOBF_RUNS").set_defaults(func=_cmd_models_list)
    export = models.add_parser("export", help="write a finished run as inference-only float16 weights with a model card")
    export.add_argument("kind", choices=["fac", "recon", "upscaler"])
    add_profile(export, "default: the active profile")
    add_model_choice(export)
    export.add_argument("--root", help="CelebA folder, for the float16 check on test faces (default: $FACEOBF_DATA)")
    export.add_argument("--to", help="folder to write into (default: the package's shipped models)")
    export.set_defaults(func=_cmd_models_export)
    imp = models.add_parser("import", help="install an exported model folder as a finished run in $FACEOBF_RUNS")
    imp.add_argument("folder", help="a folder written by `faceobf models export` (card.json + weights.npz)")
    imp.set_defaults(func=_cmd_models_import)

"""Stage 2's training options, each declared once: its flag, type, help and how it changes the profile.

From an `Option` come the command line (`faceobf train recon`, and the options that pick a trained
U-Net in `obfuscate`, `evaluate`, `human-test make` and `models export`), the profile a command runs
under (`apply_options`), the run's name (`run_variant`: each option's part, in declaration order) and
its inverse, the command that trains a run (`training_command`). A new option is a field of
`ReconTrainConfig` (`faceobf.profiles`), one `Option` here (`profiles.with_setting` is the usual way it
changes the profile) and its use in the training step; an experiment outside the package calls `register_option` instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Callable

from faceobf import profiles
from faceobf.errors import UsageError
from faceobf.profiles import Profile

ENCODINGS = ("onehot", "word2vec")
LANDMARK_SUBSET_NAMES = ("all", "outline_nose")  # faceobf.disentangle.landmarks.LANDMARK_SUBSETS (a test keeps them equal)


def run_config(profile: Profile, encoding: str) -> dict:
    """What identifies a U-Net run besides its name: the networks' and the training's configuration, the encoding."""
    return json.loads(json.dumps({"unet": dataclasses.asdict(profile.unet), "patchgan": dataclasses.asdict(profile.patchgan),
                                  "train": dataclasses.asdict(profile.recon), "encoding": encoding}))


@dataclass(frozen=True)
class Option:
    """One stage-2 training option: its flag and help, how it changes a profile, its part of the run's name."""

    flag: str  # "--l1-weight"
    help: str
    apply: Callable[[Profile, Any], Profile]  # the profile under this value (checks it; a UsageError says why not)
    read: Callable[[dict, str], Any]  # its value in a run's (config, variant), for the command that trains the run
    type: Callable[[str], Any] | None = float  # None: a switch (no value)
    choices: tuple[str, ...] | None = None
    metavar: str | None = None
    nargs: str | None = None  # "+": several values, given as a list
    name: Callable[[Profile], str | None] | None = None  # its part of the run name read from the profile, if any
    identity: bool = True  # changes which run it is (so it also picks the trained model in the other commands)

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_") + "_option"

    def fragment(self, value: Any) -> str:
        """This option as written on a command line."""
        if self.type is None:
            return f" {self.flag}"
        if isinstance(value, list):
            return f" {self.flag} " + " ".join(value)
        return f" {self.flag} {value:g}" if isinstance(value, float) else f" {self.flag} {value}"


def _train(field: str) -> Callable[[dict, str], Any]:
    return lambda config, variant: config["train"].get(field)


STAGE2_OPTIONS: list[Option] = [
    Option("--landmarks", "landmarks the U-Net sees: all 68, or outline_nose (jaw line and nose)", profiles.with_landmarks,
           _train("landmark_subset"), type=str, choices=LANDMARK_SUBSET_NAMES,
           name=lambda p: None if p.recon.landmark_subset == "all" else f"lm_{p.recon.landmark_subset}"),
    Option("--recipe", "attgan: edited redraws judged by the discriminator's attribute head; pix2pix: L1 + GAN only", profiles.with_recipe, lambda config, variant: "pix2pix" if config["train"]["edit_flips"] == 0 else "attgan",
           type=str, choices=profiles.RECIPES, name=lambda p: "pix2pix" if profiles.recipe_of(p) == "pix2pix" else None),
    Option("--geometry", "edited redraws from fixed landmarks (the seed's design) or from landmarks moved with the flips "
           "(follow)", profiles.with_geometry, _train("geometry"), type=str, choices=profiles.GEOMETRIES,
           name=lambda p: "follow" if p.recon.geometry == "follow" else None),
    Option("--seed-edits", "share of edited redraws that flip the seed's four", profiles.with_seed_edits,
           _train("seed_edit_share"), metavar="SHARE",
           name=lambda p: f"seed{round(100 * p.recon.seed_edit_share)}" if p.recon.seed_edit_share else None),
    Option("--condition", "attribute planes carry the targets, or their difference from the face's own (STGAN)",
           profiles.with_condition, _train("condition"), type=str, choices=profiles.CONDITIONS,
           name=lambda p: "diff" if p.recon.condition == "difference" else None),
    Option("--critic", "the generator's attribute loss from D's head as it trains, or a frozen copy of the warmed-up head",
           profiles.with_critic, _train("critic"), type=str, choices=profiles.CRITICS,
           name=lambda p: "frozen" if p.recon.critic == "frozen" else None),
    Option("--appearance-prior", "give the U-Net an appearance prior: a ridge map from the attributes to a face, fitted on "
           "the train faces, drawn at the targets, warped to the landmarks, coloured like the face (3 more inputs)",
           lambda p, on: profiles.with_switch(p, "appearance_prior", on), _train("appearance_prior"), type=None,
           name=lambda p: "prior" if p.recon.appearance_prior else None),
    Option("--colour-match", "set the generated face's colour mean and spread inside the ellipse to the face's own, "
           "in training and at inference (skin tone and light carried over)",
           lambda p, on: profiles.with_switch(p, "colour_match", on),
           _train("colour_match"), type=None, name=lambda p: "colour" if p.recon.colour_match else None),
    Option("--diffaugment", "show the discriminator every pair (factors, image), real or drawn, translated and cut out "
           "(DiffAugment), so it overfits less on few faces", lambda p, on: profiles.with_switch(p, "diffaugment", on),
           _train("diffaugment"), type=None, name=lambda p: "daug" if p.recon.diffaugment else None),
    Option("--r1", "lazy R1 penalty on real faces (their summed patch logits), its gamma; every 16 D steps",
           profiles.with_r1, _train("r1_gamma"), metavar="GAMMA"),
    Option("--ema", "keep a moving average of the generator (half-life in images) for validation, snapshots and "
           "inference", profiles.with_average, _train("ema_half_life"), type=int, metavar="IMAGES"),
    Option("--no-inject", "attribute planes at the input only, no inject layers (an ablation)",
           lambda p, on: profiles.without_injection(p) if on else p,
           lambda config, variant: config["unet"]["inject_levels"] == 0, type=None),
    Option("--attr-weight", "weight of the generator's attribute loss", profiles.with_attribute_weight, _train("attr_weight"),
           metavar="WEIGHT"),
    Option("--l1-weight", "weight of the reconstruction L1", profiles.with_l1_weight, _train("l1_weight"), metavar="WEIGHT"),
    Option("--identity-weight", "weight of the identity hinge on edited redraws (a small recogniser trained in the run on "
           "the train identities), 0: off", profiles.with_identity_hinge, _train("identity_weight"), metavar="WEIGHT"),
    Option("--loss", "loss terms registered with faceobf.train.recon_losses.register_loss, weighted (an experiment)",
           lambda p, items: profiles.with_loss_weights(p, parse_weights(items)), lambda config, variant: [
               f"{name}={weight:g}" for name, weight in config["train"].get("loss_weights", [])] or None,
           type=str, metavar="NAME=WEIGHT", nargs="+"),
    Option("--epochs", "epochs of the U-Net's training (--short sets its own)", profiles.with_epochs,
           lambda config, variant: None if "short" in variant.split("-") else config["train"]["epochs"], type=int,
           metavar="N"),
    Option("--epoch-size", "train faces drawn afresh for each epoch, so a large data set is checkpointed often",
           profiles.with_epoch_size, _train("epoch_size"), type=int, metavar="FACES"),
    Option("--snapshot-every", "keep the generator's weights every N epochs (run folder/snapshots), to measure "
           "them later", profiles.with_snapshots, _train("snapshot_every"), type=int, metavar="N"),
    Option("--short", "train under the profile's ablation budget", lambda p, on: profiles.with_ablation_budget(p) if on else p,
           lambda config, variant: "short" in variant.split("-"), type=None),
]


def parse_weights(items: list[str]) -> tuple[tuple[str, float], ...]:
    """NAME=WEIGHT items as (name, weight) pairs; a clear error for anything else."""
    pairs = []
    for item in items:
        name, _, value = item.partition("=")
        try:
            pairs.append((name, float(value)))
        except ValueError:
            raise UsageError(f"--loss {item!r}: write NAME=WEIGHT, WEIGHT a number") from None
    return tuple(pairs)


def register_option(option: Option, before: str = "--short") -> Option:
    """Add a stage-2 option (an experiment outside the package), placed before `before` in the run's name."""
    if any(o.flag == option.flag for o in STAGE2_OPTIONS):
        raise ValueError(f"{option.flag} is declared already")
    index = next((i for i, o in enumerate(STAGE2_OPTIONS) if o.flag == before), len(STAGE2_OPTIONS))
    STAGE2_OPTIONS.insert(index, option)
    return option


def add_options(parser: argparse.ArgumentParser, selecting: bool = False, only: tuple[str, ...] | None = None,
                skip: tuple[str, ...] = ()) -> None:
    """The stage-2 options on `parser`: to train a run, or (`selecting`) to pick a trained one; `only`/`skip` flags."""
    group = parser.add_argument_group("which trained U-Net (the defaults: the shipped one)") if selecting else parser
    for option in STAGE2_OPTIONS:
        if (only is not None and option.flag not in only) or option.flag in skip or (selecting and not option.identity):
            continue
        what = "use the U-Net trained with: " if selecting else ""
        notes = ([] if option.type is None else ["default: the profile's"]) + ([] if selecting else ["a separate run"])
        extra = {} if option.type is None else {"type": option.type, "choices": option.choices, "metavar": option.metavar,
                                                 "nargs": option.nargs}
        group.add_argument(option.flag, dest=option.dest, action="store_true" if option.type is None else "store",
                           help=f"{what}{option.help}" + (f" ({'; '.join(notes)})" if notes else ""), **extra)


def apply_options(profile: Profile, args: argparse.Namespace) -> Profile:
    """`profile` under the stage-2 options given in `args`, in declaration order."""
    for option in STAGE2_OPTIONS:
        value = getattr(args, option.dest, None)
        if value is not None and value is not False:
            profile = option.apply(profile, value)
    return profile


def run_variant(encoding: str, profile: Profile) -> str:
    """A U-Net run's name: the encoding, each option's part (the landmark subset, '-pix2pix', '-follow', '-seed<percent>',
    '-diff', '-frozen', '-prior', '-colour', '-daug'), then the profile's tags in the order they were set ('-noinject', '-attr40', '-l130', '-short')."""
    parts = [encoding] + [part for option in STAGE2_OPTIONS if option.name and (part := option.name(profile))]
    return "-".join(parts + list(profile.tags))


def training_command(profile_name: str, variant: str, config: dict) -> str:
    """The command that trains the run (`variant`, `config`): each option whose value differs from what the options
    before it leave in the named profile (so a recipe's own settings are not repeated)."""
    encoding = config.get("encoding", variant.split("-")[0])
    command = f"faceobf train recon --profile {profile_name} --encoding {encoding}"
    if profile_name not in profiles.PROFILES:
        return command
    profile = profiles.PROFILES[profile_name]
    for option in STAGE2_OPTIONS:
        wanted = option.read(config, variant)
        if wanted is None or wanted == option.read(run_config(profile, encoding), run_variant(encoding, profile)):
            continue
        if option.type is None and not wanted:
            continue
        try:
            profile = option.apply(profile, wanted)
        except UsageError:
            continue
        command += option.fragment(wanted)
    return command

"""What several commands share: the profile option and its announcement, the model choice, the data folder."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Iterator, Sequence

PROFILE_NAMES = ("ci", "cpu", "gpu")


class LazyChoices(Sequence[str]):
    """An option's choices read from a registry on first use, so building the parser (and `--help`) imports
    nothing heavy; argparse reads them only to check a value or to print the command's own help."""

    def __init__(self, load: Callable[[], Iterable[str]]) -> None:
        self._load = load
        self._names: tuple[str, ...] | None = None

    def _loaded(self) -> tuple[str, ...]:
        if self._names is None:
            self._names = tuple(self._load())
        return self._names

    def __getitem__(self, index):  # type: ignore[override]
        return self._loaded()[index]

    def __len__(self) -> int:
        return len(self._loaded())

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaded())

    def __contains__(self, name: object) -> bool:
        return name in self._loaded()


def add_profile(parser: argparse.ArgumentParser, help: str = "default: $FACEOBF_PROFILE, else gpu if JAX sees one, "
                "else cpu") -> None:
    """--profile (a profile's name) on `parser`."""
    parser.add_argument("--profile", choices=PROFILE_NAMES, help=help)


def add_root(parser: argparse.ArgumentParser) -> None:
    """--root, the CelebA folder, on `parser`."""
    parser.add_argument("--root", help="CelebA folder (default: $FACEOBF_DATA)")


def add_model_choice(parser: argparse.ArgumentParser, skip: tuple[str, ...] = ()) -> None:
    """--encoding and every stage-2 option that picks a trained U-Net (`faceobf.options`), on `parser`."""
    from faceobf.options import ENCODINGS, add_options

    parser.add_argument("--encoding", choices=ENCODINGS, default="onehot", help="U-Net attribute encoding (default onehot)")
    add_options(parser, selecting=True, skip=skip)


def announce_profile(args: argparse.Namespace):
    """The profile named by --profile (else the active one) under the stage-2 options given, printed with the hardware."""
    import os

    from faceobf.options import apply_options
    from faceobf.profiles import PROFILE_ENV, active_profile, get_profile, hardware_summary, with_upscaler_adversary

    if not (args.profile or os.environ.get(PROFILE_ENV)):
        apply_options(get_profile("cpu"), args)  # a bad option is refused before JAX starts to look for a GPU
    profile = apply_options(get_profile(args.profile) if args.profile else active_profile(), args)
    if getattr(args, "adv_weight", None) is not None:
        profile = with_upscaler_adversary(profile, args.adv_weight)
    print(f"profile {profile.name}: {profile.description}\nhardware: {hardware_summary()}")
    return profile

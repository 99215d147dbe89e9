"""The run registry: how training runs and evaluations are named, found, checked and fingerprinted.

A run is a folder under $FACEOBF_RUNS holding `config.json` (its `RunSpec` record: kind, profile,
variant, data set, and the full model and training configuration), checkpoints, and, once finished,
`test_metrics.json`. Runs are found by that record, never by the shape of the folder name, and a
run whose stored configuration differs from the profile's is refused instead of loaded silently.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faceobf.errors import FaceobfError
from faceobf.io import write_json
from faceobf import options
from faceobf.paths import runs_root
from faceobf.profiles import Profile

RECORD = "config.json"
FINISHED = "test_metrics.json"


class MissingCheckpointError(FaceobfError, FileNotFoundError):
    """The trained models of a profile are not on disk; the message says how to get them."""


class RunConfigError(FaceobfError, ValueError):
    """A run folder holds a run made with another configuration than the one asked for."""


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj))


@dataclass(frozen=True)
class RunSpec:
    """What identifies a run: its kind ('fac', 'recon', 'recogniser', 'upscaler', 'eval'), profile, variant and full configuration."""

    kind: str
    profile: str
    variant: str
    config: dict

    @classmethod
    def fac(cls, profile: Profile) -> "RunSpec":
        """The attribute classifier of `profile` (chapter 1)."""
        return cls("fac", profile.name, "", {"model": dataclasses.asdict(profile.fac_model), "train": dataclasses.asdict(profile.fac)})

    @classmethod
    def recon(cls, profile: Profile, encoding: str) -> "RunSpec":
        """The U-Net of `profile` with attribute planes `encoding` (chapter 2)."""
        return cls("recon", profile.name, options.run_variant(encoding, profile), options.run_config(profile, encoding))

    @classmethod
    def recogniser(cls, profile: Profile) -> "RunSpec":
        """The second, independent face recogniser of `profile` (chapter 4)."""
        return cls("recogniser", profile.name, "", {"recogniser": dataclasses.asdict(profile.evaluation.recogniser)})

    @classmethod
    def upscaler(cls, profile: Profile) -> "RunSpec":
        """Stage 3's upscaler of `profile`: the U-Net's faces at twice the size (chapter 3)."""
        adversary = profile.upscaler_train.adv_weight
        return cls("upscaler", profile.name, f"adv{adversary:g}" if adversary else "",
                   {"model": dataclasses.asdict(profile.upscaler), "train": dataclasses.asdict(profile.upscaler_train)})

    @classmethod
    def evaluation(cls, profile: Profile, encoding: str) -> "RunSpec":
        """The stored evaluation of `profile`'s models (chapter 4)."""
        return cls("eval", profile.name, options.run_variant(encoding, profile),
                   {"evaluation": dataclasses.asdict(profile.evaluation), "encoding": encoding})

    def record(self, dataset_key: str) -> dict:
        return _jsonable({"kind": self.kind, "profile": self.profile, "variant": self.variant, "dataset": dataset_key,
                          "config": self.config})

    def folder_name(self, dataset_key: str) -> str:
        return "-".join(part for part in (self.kind, self.profile, self.variant, dataset_key) if part)

    def train_command(self) -> str:
        """The command that makes this run, for error messages."""
        if self.kind in ("fac", "recogniser", "upscaler"):
            adversary = f" --adv-weight {self.variant[len('adv'):]}" if self.variant.startswith("adv") else ""
            return f"faceobf train {self.kind} --profile {self.profile}{adversary}"
        return options.training_command(self.profile, self.variant, self.config)


def complete_record(record: dict) -> dict:
    """A stored record with the training options added since it was written set to their defaults, which reproduce
    what the run trained with (every new option defaults to the behaviour before it existed)."""
    from faceobf.profiles import ReconTrainConfig

    train = record.get("config", {}).get("train") if record.get("kind") == "recon" else None
    if not isinstance(train, dict):
        return record
    defaults = _jsonable(dataclasses.asdict(ReconTrainConfig()))
    missing = {k: v for k, v in defaults.items() if k not in train}
    if not missing:
        return record
    return {**record, "config": {**record["config"], "train": {**train, **missing}}}


def read_record(run_dir: Path) -> dict | None:
    """The stored record of a run folder (completed by `complete_record`), or None when it has none (or an unreadable one)."""
    try:
        return complete_record(json.loads((Path(run_dir) / RECORD).read_text()))
    except (OSError, ValueError):
        return None


def claim(spec: RunSpec, dataset_key: str, run_dir: Path | None = None) -> Path:
    """The folder of `spec` on this data set (default under $FACEOBF_RUNS), created with its record;
    a folder started with another record is refused."""
    run_dir = Path(run_dir) if run_dir is not None else runs_root() / spec.folder_name(dataset_key)
    run_dir.mkdir(parents=True, exist_ok=True)
    record, stored = spec.record(dataset_key), read_record(run_dir)
    if stored is not None and stored != record:
        raise RunConfigError(f"{run_dir / RECORD}: the run was started with another configuration; use a new run directory")
    write_json(run_dir / RECORD, record)
    return run_dir


def is_finished(run_dir: Path) -> bool:
    return (Path(run_dir) / FINISHED).exists()


def check(run_dir: Path, spec: RunSpec) -> None:
    """Refuse a run whose stored configuration is not `spec`'s (the profile changed since it was trained)."""
    stored = read_record(run_dir)
    if stored is None:
        raise RunConfigError(f"{run_dir}: no readable {RECORD}; it is not a faceobf run")
    wanted = _jsonable({"kind": spec.kind, "profile": spec.profile, "variant": spec.variant, "config": spec.config})
    differs = [k for k in wanted if stored.get(k) != wanted[k]]
    if differs:
        raise RunConfigError(f"{run_dir}: trained with another {', '.join(differs)} than profile {spec.profile!r} now asks for; "
                             f"retrain with `{spec.train_command()}` into a new folder, or restore the profile it was made with")


def finished_runs(spec: RunSpec, dataset_key: str | None = None) -> dict[Path, dict]:
    """The finished runs in $FACEOBF_RUNS of `spec`'s kind, profile and variant (on that data set, if given), with their records."""
    found: dict[Path, dict] = {}
    for record_path in sorted(runs_root().glob(f"*/{RECORD}")):
        stored = read_record(record_path.parent)
        if not stored or (stored.get("kind"), stored.get("profile"), stored.get("variant")) != (spec.kind, spec.profile, spec.variant):
            continue
        if dataset_key is not None and stored.get("dataset") != dataset_key:
            continue
        if is_finished(record_path.parent):
            found[record_path.parent] = stored
    return found


def find(spec: RunSpec, dataset_key: str | None = None) -> Path:
    """The finished run of `spec` in $FACEOBF_RUNS (of that data set, if given), checked against its config.

    Raises `MissingCheckpointError` naming the command that trains it when there is none (`faceobf.shipped.find_or_install`
    falls back to the shipped models), and `RunConfigError` when the runs there were made with another configuration.
    """
    candidates = finished_runs(spec, dataset_key)
    if not candidates:
        raise MissingCheckpointError(
            f"no trained {spec.kind} model for profile {spec.profile!r}{' (' + spec.variant + ')' if spec.variant else ''} "
            f"in {runs_root()}: train it with `{spec.train_command()}` (or run the book's chapters 1 and 2)")
    matching = [d for d, stored in candidates.items() if stored.get("config") == _jsonable(spec.config)]
    if not matching:
        check(next(iter(candidates)), spec)  # raises, naming what differs
    if len(matching) > 1:
        raise MissingCheckpointError(f"several finished {spec.kind} runs for profile {spec.profile!r}: "
                                     f"{', '.join(d.name for d in matching)}; keep one")
    return matching[0]


def loaded_line(run_dir: Path, epochs: int, what: str = "run") -> str:
    """What a loader says it loaded: the run's name and epochs (no folder: where runs live is $FACEOBF_RUNS)."""
    return f"loaded the finished {what} {Path(run_dir).name} ({epochs} epochs)"


def fingerprint(run_dir: Path | None) -> str | None:
    """Which finished run: its folder name and a hash of its test metrics (rewritten by retraining)."""
    if run_dir is None:
        return None
    return f"{Path(run_dir).name}:{hashlib.sha256((Path(run_dir) / FINISHED).read_bytes()).hexdigest()[:16]}"

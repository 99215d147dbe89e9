"""Models shipped with faceobf: the book's trained `cpu` models as inference-only weights, each with a model card.

A shipped model is a folder `faceobf/shipped/<run name>/` holding `weights.npz` (the network's parameters and
statistics only, no optimizer state; float16 where the export measured that it changes nothing that matters),
`card.json` (the run's registry record, its training history and test metrics, the checksum and the measured
float16 fidelity) and `MODEL_CARD.md` (the same for people). The weights are keyed by their paths inside the
network (`nnx.state(model)`), never by where the network sits in a training state. When no local run of a
profile exists, `find_or_install` installs the matching shipped model as a finished run (`install`), so
`faceobf obfuscate` and the chapters work on a fresh install without CelebA or training; `faceobf models export|import|list` are the
commands. Weights trained on CelebA inherit its terms: non-commercial research only.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any, Callable

import jax
import numpy as np
from flax import nnx

from faceobf import runs
from faceobf.errors import FaceobfError, OutputExistsError
from faceobf.io import save_npz, write_json
from faceobf.layouts import network_layout
from faceobf.paths import runs_root

SHIPPED_ROOT = Path(__file__).parent / "shipped"
WEIGHTS = "weights.npz"
NETWORK = "network.npz"  # a finished local run's trained network (float32, keyed as WEIGHTS): what inference reads
CARD = "card.json"
HISTORY = "history.json"
MODEL_CARD = "MODEL_CARD.md"
# Files of a run that ship beside its weights when present: the landmark mapping of a geometry-'follow' U-Net and the
# flip strength chosen for it on validation faces (`faceobf.train.recon.MAPPING_FILE`, `STRENGTH_FILE`) and the
# appearance prior of a U-Net trained with one (`PRIOR_FILE`), checked by checksum like the
# weights.
RUN_FILES = ("landmark_mapping.npz", "flip_strength.json", "appearance_prior.npz")
KEYS = "network"  # cards say how their weights are keyed: by the paths inside the network (`nnx.state(model)`)
# Cards written before `KEYS` keyed the weights by the network's place in the training state; read, never written.
LEGACY_PREFIX = {"fac": "[0]", "recon": "[0][0]"}
LICENCE = ("Trained on CelebA (Liu et al., 2015), whose images are for non-commercial research only; these "
           "weights inherit that restriction. The faceobf code is MIT-licensed.")


class ShippedModelError(FaceobfError, RuntimeError):
    """A shipped model is corrupt (checksum), or does not fit the network it is loaded into."""


class NoNetworkFileError(FaceobfError, FileNotFoundError):
    """A finished run from before runs kept their network apart (`NETWORK`): only its training checkpoints hold it."""


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _leaves(state: Any) -> list[tuple[str, Any]]:
    return [(jax.tree_util.keystr(path), leaf) for path, leaf in jax.tree_util.tree_flatten_with_path(state)[0]]


def network_arrays(network: Any, dtype: str = "float16") -> dict[str, np.ndarray]:
    """Every array of a network's state (`nnx.state(model)`), keyed by its path inside the network; floats cast to `dtype`."""
    arrays = {}
    for key, leaf in _leaves(network):
        value = np.asarray(leaf)
        arrays[key] = value.astype(dtype) if np.issubdtype(value.dtype, np.floating) else value
    return arrays


def with_arrays(like: Any, arrays: dict[str, np.ndarray]) -> Any:
    """The network state `like` with every leaf taken from `arrays` (cast to the leaf's dtype); a missing or misshapen one is refused."""
    leaves, treedef = jax.tree_util.tree_flatten_with_path(like)
    out = []
    for path, leaf in leaves:
        key = jax.tree_util.keystr(path)
        if key not in arrays:
            raise ShippedModelError(f"{key}: not in the shipped weights; they were exported from another network")
        value = arrays[key]
        shape, dtype = (leaf.shape, leaf.dtype) if hasattr(leaf, "dtype") else (np.shape(leaf), np.asarray(leaf).dtype)
        if value.shape != tuple(shape):
            raise ShippedModelError(f"{key}: shipped shape {value.shape}, the network wants {tuple(shape)}")
        out.append(value.astype(dtype))
    # one transfer of every array (jnp.asarray of a numpy array would stage and compile a copy per distinct shape)
    return jax.tree_util.tree_unflatten(treedef, jax.device_put(out))


def cards(root: Path | None = None) -> list[dict]:
    """The cards of all models under `root` (default: those shipped with the package), by name."""
    return [json.loads(p.read_text()) for p in sorted(Path(root or SHIPPED_ROOT).glob(f"*/{CARD}"))]


def matching_card(record: dict, root: Path | None = None) -> dict | None:
    """The shipped model whose run record is `record` (kind, profile, variant, config; data set if not None)."""
    for card in cards(root):
        stored = runs.complete_record(card["record"])
        if all(stored.get(k) == record[k] for k in ("kind", "profile", "variant", "config")) and (
                record.get("dataset") is None or stored.get("dataset") == record["dataset"]):
            return card
    return None


def install(name: str, runs_dir: Path, root: Path | None = None) -> Path:
    """Materialise the shipped model `name` (under `root`, default the package's) as a finished run in `runs_dir`,
    after checking its checksum. An earlier install of another version of it is replaced (it holds nothing else)."""
    source = Path(root or SHIPPED_ROOT) / name
    if not (source / CARD).is_file() or not (source / WEIGHTS).is_file():
        raise ShippedModelError(f"{source}: no {CARD} and {WEIGHTS}; not a folder written by `faceobf models export`")
    card = json.loads((source / CARD).read_text())
    if sha256(source / WEIGHTS) != card["sha256"]:
        raise ShippedModelError(f"{source / WEIGHTS}: checksum differs from its card; reinstall faceobf or re-export the model")
    target = Path(runs_dir) / name
    if target.exists():
        if not (is_installed(target) and (target / CARD).is_file()):
            raise ShippedModelError(f"{target} exists and is not this shipped model; move it away or name another $FACEOBF_RUNS")
        if ((target / CARD).read_bytes() == (source / CARD).read_bytes() and (target / runs.FINISHED).exists()
                and sha256(target / WEIGHTS) == card["sha256"]):
            return target  # already installed, intact
    partial = target.with_name(target.name + ".part")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    shutil.copyfile(source / WEIGHTS, partial / WEIGHTS)
    for file, digest in card.get("files", {}).items():
        if sha256(source / file) != digest:
            raise ShippedModelError(f"{source / file}: checksum differs from its card; reinstall faceobf or re-export the model")
        shutil.copyfile(source / file, partial / file)
    shutil.copyfile(source / CARD, partial / CARD)
    write_json(partial / HISTORY, card["history"])
    write_json(partial / runs.RECORD, card["record"])
    write_json(partial / runs.FINISHED, card["test"])
    if target.exists():  # another version of this shipped model, or a damaged copy: it holds nothing but shipped files
        stale = target.with_name(target.name + ".stale")
        shutil.rmtree(stale, ignore_errors=True)
        target.rename(stale)
        partial.rename(target)
        shutil.rmtree(stale, ignore_errors=True)
    else:
        partial.rename(target)  # a run folder appears complete or not at all
    return target


def find_or_install(spec: runs.RunSpec, dataset_key: str | None = None) -> Path:
    """The finished run of `spec` in $FACEOBF_RUNS (`runs.find`); with none there, the matching shipped model installed
    there as one, so a fresh install works without CelebA or training."""
    if not runs.finished_runs(spec, dataset_key):
        card = matching_card(spec.record(dataset_key))
        if card is not None:
            run_dir = install(card["name"], runs_root())
            print(f"no local {spec.kind} run for profile {spec.profile!r}: using the shipped model {card['name']} "
                  f"(installed into {run_dir}; `faceobf models list` shows it)")
            return run_dir
    return runs.find(spec, dataset_key)


def is_installed(run_dir: Path) -> bool:
    """Whether a run folder holds shipped weights (rather than training checkpoints)."""
    return (Path(run_dir) / WEIGHTS).exists()


def _installed_arrays(run_dir: Path) -> dict[str, np.ndarray]:
    """The arrays of an installed shipped model's `weights.npz`, keyed by their paths inside the network."""
    with np.load(Path(run_dir) / WEIGHTS) as npz:
        arrays = {key: npz[key] for key in npz.files}
    card = json.loads((Path(run_dir) / CARD).read_text())
    if card.get("keys") != KEYS:
        prefix = LEGACY_PREFIX[card["kind"]]
        arrays = {key[len(prefix):]: value for key, value in arrays.items() if key.startswith(prefix)}
    return arrays


def save_network(run_dir: Path, network: nnx.Module) -> Path:
    """Keep a finished run's trained network in its folder (`NETWORK`, float32), where inference reads it alone."""
    path = Path(run_dir) / NETWORK
    save_npz(path, **network_arrays(nnx.state(network), "float32"))
    return path


def load_network(run_dir: Path, build: Callable[[], nnx.Module], layout_key: str) -> nnx.Module:
    """The trained network of a finished run: laid out by `build` under `nnx.eval_shape` (shapes only: no random
    initialisation runs; kept per `layout_key`, the configuration's description, by `faceobf.layouts`) and filled
    from the run's shipped `weights.npz` or its `network.npz`. A run that has neither raises `NoNetworkFileError`."""
    run_dir = Path(run_dir)
    if is_installed(run_dir):
        arrays = _installed_arrays(run_dir)
    elif (run_dir / NETWORK).is_file():
        with np.load(run_dir / NETWORK) as npz:
            arrays = {key: npz[key] for key in npz.files}
    else:
        raise NoNetworkFileError(f"{run_dir}: no {WEIGHTS} or {NETWORK}")
    graphdef, abstract = network_layout(build, layout_key)
    return nnx.merge(graphdef, with_arrays(abstract, arrays))


def load_into(run_dir: Path, network: nnx.Module) -> tuple[dict, dict]:
    """Set `network`'s weights (in place) from a run's `weights.npz`; returns the run's (history, test metrics)."""
    nnx.update(network, with_arrays(nnx.state(network), _installed_arrays(run_dir)))
    history = json.loads((Path(run_dir) / HISTORY).read_text())
    return history, json.loads((Path(run_dir) / runs.FINISHED).read_text())


def export(run_dir: Path, network: nnx.Module, kind: str, history: dict, test: dict, fidelity: dict, root: Path | None = None,
           dtype: str = "float16") -> Path:
    """Write the shipped model of a finished run under `root` (default the package's): the trained `network`'s weights
    in `dtype` (keyed by their paths inside it; no optimizer, no discriminator), card and model card."""
    record = runs.read_record(run_dir)
    name = Path(run_dir).name
    target = Path(root or SHIPPED_ROOT) / name
    if target.exists():
        raise OutputExistsError(f"{target} exists: a version is shipped once; remove it first to replace it on purpose")
    partial = target.with_name(name + ".part")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    np.savez(partial / WEIGHTS, **network_arrays(nnx.state(network), dtype))
    files = {}
    for file in RUN_FILES:
        if (Path(run_dir) / file).exists():
            shutil.copyfile(Path(run_dir) / file, partial / file)
            files[file] = sha256(partial / file)
    card = {"name": name, "kind": kind, "record": record, "dtype": dtype, "keys": KEYS, "sha256": sha256(partial / WEIGHTS), "files": files,
            "bytes": (partial / WEIGHTS).stat().st_size, "fidelity": fidelity, "test": test, "history": history,
            "licence": LICENCE}
    write_json(partial / CARD, card)
    (partial / MODEL_CARD).write_text(model_card_text(card))
    partial.rename(target)
    return target


def model_card_text(card: dict) -> str:
    """The human-readable model card of a shipped model."""
    record = card["record"]
    what = {"fac": "ResNet-50 face attribute classifier (40 CelebA attributes; chapter 1)",
            "recon": "stage-2 U-Net that redraws a face from its landmarks, context and attributes (chapter 2)",
            "upscaler": "stage-3 upscaler that draws a redrawn face at twice its size (chapter 3)"}[card["kind"]]
    lines = [f"# {card['name']}", "", f"**What**: {what}.", "",
             f"**Trained**: profile `{record['profile']}`{', variant `' + record['variant'] + '`' if record['variant'] else ''}, "
             f"data set key `{record['dataset']}` (CelebA-mini: 6,000 CelebA images, 200 identities, official split), "
             f"{len(card['history'].get('epoch', []))} epochs.", "",
             f"**Weights**: {card['dtype']}, {card['bytes'] / 1e6:.1f} MB, sha256 `{card['sha256']}`; inference only.", "",
             "**float16 against float32** (measured at export on test faces): "
             + ", ".join(f"{k} {v}" for k, v in card["fidelity"].items()) + ".", "",
             "**Test metrics**: see `card.json` (`test`) and the book's chapter.", "",
             f"**Licence**: {card['licence']}", "",
             "**Reproduce**: `" + _train_command(record) + "`, then `faceobf models export` (see the README).", ""]
    return "\n".join(lines)


def _train_command(record: dict) -> str:
    return runs.RunSpec(record["kind"], record["profile"], record["variant"], record["config"]).train_command()


def float16_fidelity(outputs: Callable[[Any], np.ndarray], network: Any, decide: Callable[[np.ndarray], np.ndarray]) -> dict:
    """How much rounding a network's weights (its state, `nnx.state(model)`) to float16 changes `outputs(network)`:
    the largest absolute change and the share of `decide(outputs)` that stay the same."""
    reference = outputs(network)
    rounded = outputs(with_arrays(network, network_arrays(network, "float16")))
    return {"max_abs_change": round(float(np.abs(rounded.astype(np.float64) - reference).max()), 6),
            "same_decisions": round(float((decide(rounded) == decide(reference)).mean()), 6)}

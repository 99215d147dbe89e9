"""Models shipped with faceobf: the book's trained `cpu` models as inference-only weights, each with a model card.

A shipped model is a folder `faceobf/shipped/<run name>/` holding `weights.npz` (the network's parameters and
statistics only, no optimizer state; float16 where the export measured that it changes nothing that matters),
`card.json` (the run's registry record, its training history and test metrics, the checksum and the measured
float16 fidelity) and `MODEL_CARD.md` (the same for people). When the registry finds no local run of a
profile, it installs the matching shipped model as a finished run (`install`), so `faceobf obfuscate` and the
chapters work on a fresh install without CelebA or training; `faceobf models export|import|list` are the
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

from faceobf.io import write_json

SHIPPED_ROOT = Path(__file__).parent / "shipped"
WEIGHTS = "weights.npz"
CARD = "card.json"
HISTORY = "history.json"
MODEL_CARD = "MODEL_CARD.md"
# Files of a run that ship beside its weights when present: the landmark mapping of a geometry-'follow' U-Net and the
# flip strength chosen for it on validation faces (`faceobf.train.recon.MAPPING_FILE`, `STRENGTH_FILE`), checked by
# checksum like the weights.
RUN_FILES = ("landmark_mapping.npz", "flip_strength.json")
# Where the network sits in the state a run restores: FAC (model, optimizer); U-Net ((model, optimizer), D's).
MODEL_PREFIX = {"fac": "[0]", "recon": "[0][0]"}
LICENCE = ("Trained on CelebA (Liu et al., 2015), whose images are for non-commercial research only; these "
           "weights inherit that restriction. The faceobf code is MIT-licensed.")


class ShippedModelError(RuntimeError):
    """A shipped model is corrupt (checksum), or does not fit the network it is loaded into."""


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _leaves(state: Any) -> list[tuple[str, Any]]:
    return [(jax.tree_util.keystr(path), leaf) for path, leaf in jax.tree_util.tree_flatten_with_path(state)[0]]


def model_arrays(state: Any, prefix: str, dtype: str = "float16") -> dict[str, np.ndarray]:
    """The arrays of `state` whose path starts with `prefix` (the network's), keyed by their path; floats cast to `dtype`."""
    arrays = {}
    for key, leaf in _leaves(state):
        if key.startswith(prefix):
            value = np.asarray(leaf)
            arrays[key] = value.astype(dtype) if np.issubdtype(value.dtype, np.floating) else value
    return arrays


def with_arrays(like: Any, arrays: dict[str, np.ndarray]) -> Any:
    """`like` with the leaves named in `arrays` replaced (cast to each leaf's dtype); the others kept."""
    leaves, treedef = jax.tree_util.tree_flatten_with_path(like)
    out = []
    for path, leaf in leaves:
        key = jax.tree_util.keystr(path)
        if key in arrays:
            value = arrays[key]
            if value.shape != np.shape(leaf):
                raise ShippedModelError(f"{key}: shipped shape {value.shape}, the network wants {np.shape(leaf)}")
            leaf = jax.numpy.asarray(value.astype(np.asarray(leaf).dtype))
        out.append(leaf)
    return jax.tree_util.tree_unflatten(treedef, out)


def cards(root: Path | None = None) -> list[dict]:
    """The cards of all models under `root` (default: those shipped with the package), by name."""
    return [json.loads(p.read_text()) for p in sorted(Path(root or SHIPPED_ROOT).glob(f"*/{CARD}"))]


def matching_card(record: dict, root: Path | None = None) -> dict | None:
    """The shipped model whose run record is `record` (kind, profile, variant, config; data set if not None)."""
    from faceobf.runs import complete_record

    for card in cards(root):
        stored = complete_record(card["record"])
        if all(stored.get(k) == record[k] for k in ("kind", "profile", "variant", "config")) and (
                record.get("dataset") is None or stored.get("dataset") == record["dataset"]):
            return card
    return None


def install(name: str, runs_dir: Path, root: Path | None = None) -> Path:
    """Materialise the shipped model `name` (under `root`, default the package's) as a finished run in `runs_dir`,
    after checking its checksum."""
    from faceobf import runs

    source = Path(root or SHIPPED_ROOT) / name
    card = json.loads((source / CARD).read_text())
    if sha256(source / WEIGHTS) != card["sha256"]:
        raise ShippedModelError(f"{source / WEIGHTS}: checksum differs from its card; reinstall faceobf or re-export the model")
    target = Path(runs_dir) / name
    if (target / runs.FINISHED).exists() and (target / WEIGHTS).exists() and sha256(target / WEIGHTS) == card["sha256"]:
        return target
    if target.exists():
        raise ShippedModelError(f"{target} exists and is not this shipped model; move it away or name another $FACEOBF_RUNS")
    partial = target.with_name(target.name + ".part")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    shutil.copyfile(source / WEIGHTS, partial / WEIGHTS)
    for name, digest in card.get("files", {}).items():
        if sha256(source / name) != digest:
            raise ShippedModelError(f"{source / name}: checksum differs from its card; reinstall faceobf or re-export the model")
        shutil.copyfile(source / name, partial / name)
    shutil.copyfile(source / CARD, partial / CARD)
    write_json(partial / HISTORY, card["history"])
    write_json(partial / runs.RECORD, card["record"])
    write_json(partial / runs.FINISHED, card["test"])
    partial.rename(target)  # a run folder appears complete or not at all
    return target


def is_installed(run_dir: Path) -> bool:
    """Whether a run folder holds shipped weights (rather than training checkpoints)."""
    return (Path(run_dir) / WEIGHTS).exists()


def restore(run_dir: Path, like: Any) -> tuple[Any, dict, dict]:
    """(state shaped like `like` with the network's weights from the run's `weights.npz`, history, test metrics)."""
    from faceobf import runs

    with np.load(Path(run_dir) / WEIGHTS) as npz:
        arrays = {key: npz[key] for key in npz.files}
    state = with_arrays(like, arrays)
    history = json.loads((Path(run_dir) / HISTORY).read_text())
    return state, history, json.loads((Path(run_dir) / runs.FINISHED).read_text())


def export(run_dir: Path, state: Any, kind: str, history: dict, test: dict, fidelity: dict, root: Path | None = None,
           dtype: str = "float16") -> Path:
    """Write the shipped model of a finished run under `root` (default the package's): its network's weights in
    `dtype`, card and model card."""
    from faceobf import runs

    record = runs.read_record(run_dir)
    name = Path(run_dir).name
    target = Path(root or SHIPPED_ROOT) / name
    if target.exists():
        raise FileExistsError(f"{target} exists: a version is shipped once; remove it first to replace it on purpose")
    partial = target.with_name(name + ".part")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    np.savez(partial / WEIGHTS, **model_arrays(state, MODEL_PREFIX[kind], dtype))
    files = {}
    for file in RUN_FILES:
        if (Path(run_dir) / file).exists():
            shutil.copyfile(Path(run_dir) / file, partial / file)
            files[file] = sha256(partial / file)
    card = {"name": name, "kind": kind, "record": record, "dtype": dtype, "sha256": sha256(partial / WEIGHTS), "files": files,
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
            "recon": "stage-2 U-Net that redraws a face from its landmarks, context and attributes (chapter 2)"}[card["kind"]]
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
    from faceobf import runs

    return runs.RunSpec(record["kind"], record["profile"], record["variant"], record["config"]).train_command()


def float16_fidelity(outputs: Callable[[Any], np.ndarray], state: Any, prefix: str, decide: Callable[[np.ndarray], np.ndarray]) -> dict:
    """How much rounding the network's weights (the leaves of `state` under `prefix`) to float16 changes
    `outputs(state)`: the largest absolute change and the share of `decide(outputs)` that stay the same."""
    reference = outputs(state)
    rounded = outputs(with_arrays(state, model_arrays(state, prefix, "float16")))
    return {"max_abs_change": round(float(np.abs(rounded.astype(np.float64) - reference).max()), 6),
            "same_decisions": round(float((decide(rounded) == decide(reference)).mean()), 6)}

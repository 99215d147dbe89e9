"""`faceobf data check`: counts and every problem of a CelebA folder, as text."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from faceobf.data.annotations import SPLIT_NAMES, Annotations, read_annotations


def format_report(ann: Annotations) -> str:
    """Human-readable counts (images, identities, splits, attribute positive rates) and problems."""
    lines = [f"CelebA folder: {ann.root}"]
    lines.append(f"images: {len(ann.names)}")
    lines.append(f"identities: {np.unique(ann.identities).size}")
    for code, split in enumerate(SPLIT_NAMES):
        rows = ann.partition == code
        lines.append(f"  {split:5s}: {int(rows.sum()):6d} images, {np.unique(ann.identities[rows]).size:5d} identities")
    if len(ann.names):
        lines.append("attribute positive rates:")
        rates = ann.attributes.mean(axis=0)
        for name, rate in zip(ann.attribute_names, rates):
            lines.append(f"  {name:20s} {rate:6.1%}")
    lines.append(f"landmarks file: {'present' if ann.landmarks5 is not None else 'absent (optional)'}")
    if ann.problems:
        lines.append(f"{len(ann.problems)} problem(s):")
        lines.extend(f"  {p}" for p in ann.problems)
    else:
        lines.append("no problems found")
    return "\n".join(lines)


def check_folder(root: Path) -> tuple[str, int]:
    """(report text, exit code): 0 when the folder has no problems, 1 otherwise. A source in another layout (the
    Kaggle copy, the official Drive folder) is described with what `faceobf data import` needs."""
    from faceobf.data.sources import UnknownLayoutError, check_source

    try:
        source = check_source(root)
    except (UnknownLayoutError, FileNotFoundError):
        source = None
    if source is not None and source.layout.name != "official":
        return (source.text() + f"\nnot the official layout: `faceobf data import {root} TARGET` writes one "
                "(annotations converted, images linked, not copied)"), 1
    ann = read_annotations(Path(root))
    text = format_report(ann)
    if source is not None:
        text += "\n" + "\n".join(f"{name}: {state}" for name, state in source.checksums.items())
        text += "".join(f"\nproblem: {p}" for p in source.problems)
    return text, (1 if ann.problems or (source is not None and source.problems) else 0)

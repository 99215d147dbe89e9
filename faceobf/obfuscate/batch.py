"""`faceobf obfuscate`: many photos in, obfuscated photos and a JSON report out, failing closed.

Each input photo ends in one of three states, all recorded in the report:
`done` (every face obfuscated, output written), `no_face` (refused, nothing written, unless
`allow_no_face`, where the photo is written metadata-free and recorded as such) and `error`
(unreadable input or a failure on a face: nothing written).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from tqdm.auto import tqdm

from faceobf.data.images import ImageReadError
from faceobf.io import write_json
from faceobf.obfuscate.pipeline import NoFaceError, Obfuscator
from faceobf.obfuscate.photo_io import FORMATS, read_photo, write_photo


def collect_inputs(paths: Iterable[str | os.PathLike]) -> list[tuple[Path, Path]]:
    """(input file, output path relative to OUTDIR) for files and, recursively, the images in folders."""
    found = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in FORMATS):
                found.append((file, file.relative_to(path.parent)))
        elif path.exists():
            found.append((path, Path(path.name)))
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    return found


@dataclass
class Summary:
    """Counts printed at the end of a run."""

    done: int = 0
    faces: int = 0
    fallbacks: int = 0
    refused: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (f"{self.done} photo(s) done, {self.faces} face(s) found, {self.fallbacks} needed a fallback, "
                f"{len(self.refused)} photo(s) refused")


def obfuscate_files(obfuscator: Obfuscator, inputs: list[tuple[Path, Path]], outdir: Path, report_path: Path | None = None,
                    allow_no_face: bool = False, progress: bool = True) -> tuple[Summary, list[dict]]:
    """Obfuscate every input into `outdir`; write the report; never write a photo that is not fully done."""
    outdir = Path(outdir)
    summary, report = Summary(), []
    sources = [src for src, _ in inputs]
    for src, rel in tqdm(inputs, desc="obfuscating", disable=not progress or len(inputs) < 2):
        entry: dict = {"input": str(src), "output": None, "faces": []}
        try:
            photo = read_photo(src)
            try:
                out, records = obfuscator.obfuscate_photo(photo)
                entry["status"] = "done"
            except NoFaceError:
                if not allow_no_face:
                    raise
                out, records = photo, []
                entry["status"] = "no_face_allowed"
            target = write_photo(out, outdir / rel, inputs=sources)
            entry["output"] = str(target)
            entry["faces"] = [r.as_dict() for r in records]
            summary.done += 1
            summary.faces += len(records)
            summary.fallbacks += sum(r.method.startswith("fallback") for r in records)
        except NoFaceError:
            entry["status"] = "no_face"
            entry["error"] = "no face found; nothing written (use --allow-no-face to pass such photos through)"
            summary.refused.append(str(src))
        except (ImageReadError, ValueError, OSError) as exc:
            entry["status"] = "error"
            entry["error"] = str(exc)
            summary.refused.append(str(src))
        report.append(entry)
    if report_path is not None:
        write_json(report_path, {"summary": summary.line(), "photos": report})
    return summary, report

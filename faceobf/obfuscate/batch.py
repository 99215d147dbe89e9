"""`faceobf obfuscate`: many photos in, obfuscated photos and a JSON Lines report out, failing closed.

Each input photo ends in one state, recorded in the report as soon as the photo finishes:
`done` (every face obfuscated, output written), `no_face` (refused, nothing written, unless
`allow_no_face`, where the photo is written metadata-free as `no_face_allowed`), `error` (anything
that went wrong on this photo, named: nothing written, the batch goes on), `skipped` (`resume`:
done by an earlier run whose output is still there) and `interrupted` (the run was stopped on it).

Nothing is lost or overwritten: outputs mirror the inputs' folders below their common folder, so two
inputs never share an output (a case-only clash is refused by name); an existing output is replaced
only with `overwrite`; the report gains one line per photo as it finishes, so an interrupted run
keeps its records and `resume` picks up where it stopped.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from tqdm.auto import tqdm

from faceobf.obfuscate.pipeline import NoFaceError, Obfuscator
from faceobf.obfuscate.photo_io import FORMATS, read_photo, write_photo

REPORT_NAME = "faceobf-report.jsonl"
WRITTEN = ("done", "no_face_allowed")


class OutputExistsError(FileExistsError):
    """The output of a photo exists and neither `overwrite` nor `resume` allows touching it."""


class OutputCollisionError(ValueError):
    """Two inputs would be written to the same output (names that differ only in case)."""


def collect_inputs(paths: Iterable[str | os.PathLike]) -> list[tuple[Path, Path]]:
    """(input file, output path relative to OUTDIR) for files and, recursively, the images in folders.

    Output paths mirror each input's place below the common folder of all inputs (a folder argument
    keeps its own name), so `a/x.jpg` and `b/x.jpg` become `a/x.jpg` and `b/x.jpg`; a file named twice
    (directly and inside a folder) is processed once.
    """
    found: list[tuple[Path, Path]] = []  # (file, the folder its output path starts from)
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            anchor = Path(os.path.abspath(path)).parent
            found += [(file, anchor) for file in sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in FORMATS)]
        elif path.exists():
            found.append((path, Path(os.path.abspath(path)).parent))
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    if not found:
        return []
    common = Path(os.path.commonpath([str(anchor) for _, anchor in found]))
    inputs, seen = [], set()
    for file, _ in found:
        if file.resolve() in seen:
            continue
        seen.add(file.resolve())
        inputs.append((file, Path(os.path.abspath(file)).relative_to(common)))
    return inputs


@dataclass
class Summary:
    """Counts printed at the end of a run."""

    done: int = 0
    skipped: int = 0
    faces: int = 0
    fallbacks: int = 0
    refused: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (f"{self.done} photo(s) done, {self.faces} face(s) found, {self.fallbacks} needed a fallback, "
                f"{len(self.refused)} photo(s) refused" + (f", {self.skipped} skipped (done before)" if self.skipped else ""))


def read_report(path: Path) -> list[dict]:
    """The photo records of a JSON Lines report (a torn last line from an interrupted run is ignored)."""
    records = []
    for line in Path(path).read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if "input" in record:
            records.append(record)
    return records


def _done_before(report_path: Path) -> dict[str, str]:
    """{input: output} of the photos an earlier run wrote."""
    if not report_path.exists():
        return {}
    return {r["input"]: r["output"] for r in read_report(report_path) if r.get("status") in WRITTEN and r.get("output")}


def obfuscate_files(obfuscator: Obfuscator, inputs: list[tuple[Path, Path]], outdir: Path, report_path: Path | None = None,
                    allow_no_face: bool = False, overwrite: bool = False, resume: bool = False,
                    progress: bool = True) -> tuple[Summary, list[dict]]:
    """Obfuscate every input into `outdir`, one report line per photo as it finishes; never write a photo that is
    not fully done, never let one photo's failure end the batch. The report defaults to OUTDIR/faceobf-report.jsonl."""
    outdir = Path(outdir)
    report_path = Path(report_path) if report_path is not None else outdir / REPORT_NAME
    if report_path.exists() and not (resume or overwrite):
        raise OutputExistsError(f"{report_path}: a report of an earlier run exists; use --resume to continue that run "
                                "or --overwrite to start again")
    done_before = _done_before(report_path) if resume else {}
    report_path.parent.mkdir(parents=True, exist_ok=True)
    summary, report, claimed = Summary(), [], set()
    sources = [src for src, _ in inputs]
    with open(report_path, "a" if resume else "w") as log:
        for src, rel in tqdm(inputs, desc="obfuscating", disable=not progress or len(inputs) < 2):
            target = outdir / rel
            entry: dict = {"input": str(src), "output": None, "faces": []}
            try:
                if str(target).casefold() in claimed:
                    raise OutputCollisionError(f"{target}: another input of this run is written there (names differ only in case)")
                claimed.add(str(target).casefold())
                if resume and done_before.get(str(src)) == str(target) and target.exists():
                    entry.update(status="skipped", output=str(target))
                    summary.skipped += 1
                    continue
                if target.exists() and not overwrite:
                    raise OutputExistsError(f"{target} exists and no earlier run of this report wrote it; use --overwrite to replace it")
                photo = read_photo(src)
                try:
                    out, records = obfuscator.obfuscate_photo(photo)
                    entry["status"] = "done"
                except NoFaceError:
                    if not allow_no_face:
                        raise
                    out, records = photo, []
                    entry["status"] = "no_face_allowed"
                entry["output"] = str(write_photo(out, target, inputs=sources))
                entry["faces"] = [r.as_dict() for r in records]
                summary.done += 1
                summary.faces += len(records)
                summary.fallbacks += sum(r.method.startswith("fallback") for r in records)
            except NoFaceError:
                entry.update(status="no_face", error="no face found; nothing written (use --allow-no-face to pass such photos through)")
                summary.refused.append(str(src))
            except Exception as exc:  # noqa: BLE001 - any failure refuses this photo, named, and the batch goes on
                entry.update(status="error", error=f"{type(exc).__name__}: {exc}")
                summary.refused.append(str(src))
            finally:  # also on an interrupt (Ctrl-C): the report says so and `resume` redoes the photo
                entry.setdefault("status", "interrupted")
                report.append(entry)
                log.write(json.dumps(entry) + "\n")
                log.flush()
        log.write(json.dumps({"summary": summary.line()}) + "\n")
    return summary, report

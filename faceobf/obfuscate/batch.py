"""`faceobf obfuscate`: many photos in, obfuscated photos and a JSON Lines report out, failing closed.

Each input ends in one state, recorded in the report: `done` (every face obfuscated, output written),
`no_face` (refused, nothing written, unless `allow_no_face`, where the photo is written metadata-free
as `no_face_allowed`), `refused` (a file the tool cannot read: its format, its kind; named before any
model loads), `error` (anything that went wrong on this photo, named: nothing written, the batch goes
on), `skipped` (done by an earlier run whose output is still there; its earlier record stands) and
`interrupted` (Ctrl-C stopped the run on it).

Runs compose: a report in the output folder is continued, never refused. A later run over the same
folder skips what is done, processes what is new or failed, and keeps the records of inputs it was not
given; `overwrite` redoes the outputs of the inputs it is given and keeps every other record.

Nothing is lost or overwritten, and a run killed at any point resumes cleanly:
* one writer per output folder: a lock (`.faceobf.lock` while a run holds it, released by the system when
  its holder dies) refuses a second run by name;
* a photo's record is appended to the report (one `write` of one line) *before* its output is renamed
  into place, so an output never exists without its record; a record whose output is missing is redone;
* a run knows photos by their resolved paths and their outputs by their place below OUTDIR, so the same
  folder typed another way, from another working directory, or a renamed output folder, resumes; it
  rewrites the report (atomically) with one record per input and removes the temporary files
  (`.NAME.XXXXXXXX.part.EXT`) a killed run left behind; an output that the report of its input's own
  folder records (a run without `-o` there) is done too;
* a folder that cannot be written (read-only, full, vanished) ends the run with one `OutputFolderError`
  naming it; a report that cannot be appended to stops the run (`ReportError`) before any output goes
  without its record;
* outputs mirror the inputs' folders below their common folder (a case-only clash is refused by name);
  an existing output is replaced only with `overwrite`; photos and the report follow the umask.
"""

from __future__ import annotations

import datetime
import errno
import fcntl
import importlib.util
import json
import os
import socket
import sys
from functools import partial
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Protocol, runtime_checkable

from tqdm.auto import tqdm

from faceobf.errors import FaceobfError, OutputExistsError, UsageError
from faceobf.io import atomic_path, public_mode
from faceobf.obfuscate.inputs import (DEBRIS, LOCK_NAME, REPORT_NAME, Input, collect_inputs,  # noqa: F401  (the CLI's way in)
                                     read_report, recorded_output)
from faceobf.obfuscate.pipeline import NoFaceError, Obfuscator
from faceobf.obfuscate.photo_io import FORMATS, read_photo_format, refuse_overwriting_input, write_photo
from faceobf.obfuscate.video import obfuscate_video
from faceobf.obfuscate.video_io import is_video

ENGINES = ("local", "ray")
WRITTEN = ("done", "no_face_allowed")
WRITE_ERRORS = (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.ENOENT)


@runtime_checkable
class PhotoObfuscator(Protocol):
    """What a batch runs on each photo (an `Obfuscator`, or a stand-in in tests and benchmarks); a batch is given one
    of these, or a function that loads one when a photo first needs the models."""

    def obfuscate_photo(self, photo, allow_no_face: bool = False): ...


class OutputCollisionError(FaceobfError, ValueError):
    """Two inputs would be written to the same output (names that differ only in case)."""


class OutputLockedError(FaceobfError, RuntimeError):
    """Another faceobf run is writing to the same output folder."""


class OutputFolderError(FaceobfError, OSError):
    """The output folder (or the folder beside the inputs) cannot be written: read-only, full, or gone."""


class ReportError(FaceobfError, OSError):
    """The report cannot be appended to (a full disk, a vanished folder): the run stops, as no output may go unrecorded."""


def _folder_error(folder: Path, exc: OSError) -> OutputFolderError:
    """One sentence naming the folder and what to do, for an OSError met while setting up the output folder."""
    hint = {errno.ENOSPC: "free some space or choose another output folder with -o",
            errno.ENOENT: "it vanished; check the drive and run again"}.get(exc.errno, "choose another output folder with -o")
    return OutputFolderError(f"{folder}: cannot write there ({exc.strerror or exc}); {hint}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


@dataclass
class Summary:
    """Counts printed at the end of a run."""

    done: int = 0  # photos and clips
    skipped: int = 0
    faces: int = 0
    fallbacks: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)  # (input, reason)
    debris_removed: int = 0
    interrupted: bool = False
    clips: int = 0  # of `done`, how many were clips
    left_out: int = 0  # earlier outputs of faceobf found among the inputs and not read

    @classmethod
    def from_dict(cls, counts: dict) -> "Summary":
        """A summary from `dataclasses.asdict` of one (as a Ray worker returns it)."""
        return cls(**{**counts, "refused": [tuple(r) for r in counts.get("refused", [])]})

    def add(self, other: "Summary") -> None:
        """Count `other`'s inputs (one input's counts, a worker's, or another folder's) into these."""
        for name in ("done", "skipped", "faces", "fallbacks", "debris_removed", "clips", "left_out"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.refused.extend(other.refused)
        self.interrupted = self.interrupted or other.interrupted

    def line(self) -> str:
        photos = self.done - self.clips
        kinds = ([_count(photos, "photo")] if photos or not self.clips else []) + ([_count(self.clips, "clip")] if self.clips else [])
        line = (f"{' and '.join(kinds)} done, {_count(self.faces, 'face')} found, {self.fallbacks} needed a fallback, "
                f"{_count(len(self.refused), 'file')} refused")
        line += f", {self.skipped} skipped (done before)" if self.skipped else ""
        return line + (", interrupted: run the same command again to finish" if self.interrupted else "")


def _identity(record: dict) -> str:
    """Which input a record is about: its resolved path (as an earlier run resolved it)."""
    return record.get("input_resolved") or str(Path(record["input"]).resolve())


def _relative_output(record: dict, outdir: Path) -> str | None:
    """Where below OUTDIR a record's output is (reports written before `output_relative` give the output path)."""
    if record.get("output_relative"):
        return record["output_relative"]
    if record.get("output"):
        try:
            return str(Path(record["output"]).resolve().relative_to(outdir.resolve()))
        except ValueError:
            return None
    return None


class ReportWriter:
    """A JSON Lines report opened for appending: each record is one `write` of one line (never torn by a kill
    between records), the file's mode follows the umask. A record that cannot be written, or a report that was
    removed under the run, raises `ReportError`."""

    def __init__(self, path: Path, records: list[dict] | None = None):
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if records is not None:  # start from exactly these records (a new run, or a continued one compacted)
                with atomic_path(path, suffix=".jsonl") as tmp:
                    tmp.write_text("".join(json.dumps(r) + "\n" for r in records))
                    public_mode(tmp)
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        except OSError as exc:
            raise _folder_error(path.parent, exc) from None

    def write(self, record: dict) -> None:
        line = (json.dumps(record) + "\n").encode()
        try:
            if os.fstat(self._fd).st_nlink == 0:
                raise ReportError(f"{self.path}: the report was removed during the run (did its folder vanish?); "
                                  "stopped so that no output goes unrecorded: run again to finish")
            if os.write(self._fd, line) != len(line):
                raise OSError(errno.ENOSPC, "the record was written only in part")
        except OSError as exc:
            if isinstance(exc, ReportError):
                raise
            raise ReportError(f"{self.path}: cannot add to the report ({exc.strerror or exc}); stopped so that no output "
                              "goes unrecorded: free some space and run again to finish") from None

    def close(self) -> None:
        os.close(self._fd)


@contextmanager
def output_lock(outdir: Path) -> Iterator[None]:
    """Hold the output folder's lock for the block; `OutputLockedError` naming the holder when another run has it.

    The lock is `flock` on OUTDIR/.faceobf.lock, so the system releases it when its holder dies (a killed run never
    locks a folder for good); the file is removed on the way out, and a run that locked a file removed under it
    tries again on the new one."""
    path = outdir / LOCK_NAME
    while True:
        try:
            outdir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise _folder_error(outdir, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            try:
                holder = path.read_text().strip()
            except OSError:
                holder = ""
            raise OutputLockedError(f"{outdir} is being written by another faceobf run ({holder or 'no details given'}); "
                                    "wait for it to finish or choose another output folder") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder removed the file as we locked it: lock the file that is there now
    started = datetime.datetime.now().isoformat(timespec="seconds")
    os.ftruncate(fd, 0)
    os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}, started {started}".encode())
    try:
        yield
    finally:
        path.unlink(missing_ok=True)  # removed while still locked, then released
        os.close(fd)


def remove_debris(outdir: Path) -> int:
    """Delete the temporary files a killed run left below `outdir` (the caller holds its lock); how many."""
    removed = 0
    for root, _, names in os.walk(outdir):
        for name in names:
            if DEBRIS.match(name):
                (Path(root) / name).unlink(missing_ok=True)
                removed += 1
    return removed


def _plan(report_path: Path, outdir: Path, inputs: list[Input], overwrite: bool) -> tuple[list[dict], dict[str, str]]:
    """(the records the report keeps, {input identity: output below OUTDIR} of the inputs done before).

    Kept: the last record of each input done before whose output is still there, and of each input this run
    was not given; everything else is redone and gets a fresh record. With `overwrite` nothing counts as done,
    and only the records of inputs this run was not given are kept. An input is also done when the report of
    its own folder (a run without `-o` there) records its output where this run would write it."""
    last: dict[str, dict] = {}
    for record in read_report(report_path) if report_path.exists() else []:
        last[_identity(record)] = record
    given = {str(i.path.resolve()): i for i in inputs}
    done = {}
    for key, record in last.items():
        relative = _relative_output(record, outdir)
        if record.get("status") in WRITTEN and relative and (outdir / relative).exists():
            done[key] = relative
    done.update(_done_in_own_folders(report_path, outdir, [i for k, i in given.items() if k not in done]))
    if overwrite:
        done = {}
    kept = [r for key, r in last.items() if key in done or key not in given]
    return kept, done


def _done_in_own_folders(report_path: Path, outdir: Path, inputs: list[Input]) -> dict[str, str]:
    """{input identity: output below OUTDIR} of the inputs whose own folder's report (not this run's) records their
    output, still there, exactly where this run would write it."""
    done: dict[str, str] = {}
    reports: dict[Path, dict[str, dict]] = {}  # each folder's report read once (empty: none, or this run's own)
    own = report_path.resolve()
    for item in inputs:
        source = item.path.resolve()
        report = source.parent / REPORT_NAME
        if report not in reports:
            reports[report] = ({} if report.resolve() == own or not report.is_file()
                               else {_identity(r): r for r in read_report(report)})
        record = reports[report].get(str(source))
        output = recorded_output(record, report) if record and record.get("status") in WRITTEN else None
        if output is not None and output.exists() and output.resolve() == (outdir / item.relative).resolve():
            done[str(source)] = str(item.relative)
    return done


def obfuscate_files(obfuscator: Obfuscator | Callable[[], Obfuscator], inputs: list[Input] | list[tuple[Path, Path]],
                    outdir: Path, report_path: Path | None = None, allow_no_face: bool = False, overwrite: bool = False,
                    progress: bool = True, engine: str = "local", workers: int | None = None,
                    address: str | None = None) -> tuple[Summary, list[dict]]:
    """Obfuscate every input into `outdir`, one report record per input; never write a photo that is not fully done,
    never let one photo's failure end the batch. An earlier report there is continued (see the module's docstring).
    `obfuscator` may be a function that loads the models: it is called only when a photo needs them. The report
    defaults to OUTDIR/faceobf-report.jsonl. `engine="ray"` processes the inputs on Ray
    (`faceobf.obfuscate.ray_engine`: `workers` actors, a cluster at `address`); `obfuscator` must then be the
    function that loads the models, which each worker calls once."""
    outdir = Path(outdir)
    inputs = [i if isinstance(i, Input) else Input(Path(i[0]), Path(i[1])) for i in inputs]
    report_path = Path(report_path) if report_path is not None else outdir / REPORT_NAME
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if engine == "ray" and importlib.util.find_spec("ray") is None:
        raise UsageError("--engine ray needs Ray: pip install 'ray[data]' (or faceobf[ray])")
    if engine == "ray" and isinstance(obfuscator, PhotoObfuscator):
        raise UsageError("engine 'ray' loads the models in each worker: pass the function that loads them, not an Obfuscator")
    with output_lock(outdir):
        try:
            summary = Summary(debris_removed=remove_debris(outdir))
        except OSError as exc:
            raise _folder_error(outdir, exc) from None
        kept, done_before = _plan(report_path, outdir, inputs, overwrite)
        run_jobs = None
        if engine == "ray":
            from faceobf.obfuscate.ray_engine import run_on_ray

            process = partial(process_input, sources=[i.path for i in inputs], allow_no_face=allow_no_face)
            run_jobs = lambda jobs: [(entry, Summary.from_dict(counts)) for entry, counts in  # noqa: E731
                                     run_on_ray(obfuscator, jobs, process, partial(ReportWriter, report_path), workers, address)]
        elif not isinstance(obfuscator, PhotoObfuscator) and any(_needs_models(i, outdir, done_before, overwrite) for i in inputs):
            say_loading(progress)
            obfuscator = obfuscator()  # models load only when a photo needs them, and before any record is written
        writer = ReportWriter(report_path, kept)
        try:
            report = _run(obfuscator, inputs, outdir, writer, done_before, summary, allow_no_face, overwrite, progress, run_jobs)
        finally:
            try:
                writer.write({"summary": summary.line()})
            except ReportError:
                pass  # the error that stopped the run is the one to tell
            writer.close()
    return summary, report


LOADING = "loading the models; the first photo also compiles them (up to a minute on a first run) ..."


def say_loading(progress: bool) -> None:
    """On a terminal, say why the next minute may be silent: the models load, and the first photo compiles them."""
    if progress and sys.stderr.isatty():
        print(LOADING, file=sys.stderr, flush=True)


def _done(item: Input, outdir: Path, done_before: dict[str, str]) -> str | None:
    """Where below OUTDIR an earlier run wrote this input's output, if it did and the output is still there (wherever
    this run would put it: the same photo given as a file then and inside a folder now is still done)."""
    relative = done_before.get(str(item.path.resolve()))
    return relative if relative is not None and (outdir / relative).exists() else None


def _needs_models(item: Input, outdir: Path, done_before: dict[str, str], overwrite: bool) -> bool:
    """Whether an input gets as far as the models (not refused by format, not done before, not blocked by an output)."""
    target = outdir / item.relative
    if item.refusal or _done(item, outdir, done_before):
        return False
    return overwrite or not target.exists()



def _video(obfuscator, item: Input, target: Path, allow_no_face: bool, progress: bool, record_first: Callable[[dict], None]) -> dict:
    """Obfuscate one clip into `target`, its record (with one entry per track) written before the clip takes its name."""
    bar = tqdm(desc=f"{item.path.name}: detecting", unit="frame", disable=not progress, leave=False)
    current = ["detecting"]

    def advance(stage: str, done: int) -> None:  # frames per second, per pass
        if stage != current[0]:
            current[0] = stage
            bar.set_description_str(f"{item.path.name}: {stage}")
            bar.reset()
        bar.update(done - bar.n)

    try:
        return obfuscate_video(obfuscator, item.path, target, before_rename=record_first, allow_no_face=allow_no_face,
                               progress=advance)
    finally:
        bar.close()


def _entry(item: Input) -> dict:
    """A record's first fields: the input as found (absolute) and its real path (they differ behind a link)."""
    return {"input": os.path.abspath(item.path), "input_resolved": str(item.path.resolve()), "output": None,
            "output_relative": None, "faces": []}


def process_input(obfuscator, item: Input, target: Path, writer: ReportWriter, sources: list[Path], allow_no_face: bool,
                  progress: bool = False) -> tuple[dict, Summary]:
    """Obfuscate one photo or clip into `target`: (its record, in the report before the output takes its name; its
    counts). Any failure refuses this input by name; Ctrl-C propagates (the caller records the interruption)."""
    entry, counts, recorded = _entry(item), Summary(), False
    output = os.path.abspath(target)

    def record_first(fields: dict | None = None) -> None:  # the record is in the report before the output is in place
        nonlocal recorded
        entry.update(fields or {})
        writer.write(entry)
        recorded = True

    try:
        if is_video(item.path):
            refuse_overwriting_input(target, sources)
            fields = _video(obfuscator, item, target, allow_no_face, progress,
                            lambda f: record_first({"status": "done" if f["tracks"] else "no_face_allowed", "output": output,
                                                    "output_relative": str(item.relative), **{k: v for k, v in f.items()
                                                                                            if k not in ("faces", "fallbacks")}}))
            counts.faces, counts.fallbacks, counts.clips = fields["faces"], fields["fallbacks"], 1
        else:
            photo, kept = read_photo_format(item.path)
            try:
                out, records = obfuscator.obfuscate_photo(photo)
                status = "done"
            except NoFaceError:
                if not allow_no_face:
                    raise
                out, records, status = photo, [], "no_face_allowed"
            changes = kept.for_output(FORMATS.get(target.suffix.lower(), "")).changes
            entry.update(status=status, output=output, output_relative=str(item.relative), faces=[r.as_dict() for r in records],
                         **({"format_changes": list(changes)} if changes else {}))
            write_photo(out, target, inputs=sources, before_rename=record_first, like=kept)
            counts.faces, counts.fallbacks = len(records), sum(r.method.startswith("fallback") for r in records)
        counts.done = 1
    except NoFaceError:
        entry.update(status="no_face", output=None, output_relative=None, faces=[],
                     error="no face found; nothing written (use --allow-no-face to pass such photos through)")
        counts.refused.append((str(item.path), "no face found"))
        recorded = False
    except (KeyboardInterrupt, ReportError):
        raise  # Ctrl-C is recorded by the caller; a report that takes no records ends the run
    except Exception as exc:  # noqa: BLE001 - any failure refuses this input, named, and the batch goes on
        writing = isinstance(exc, OSError) and not isinstance(exc, FaceobfError) and exc.errno in WRITE_ERRORS
        error = f"cannot write {target} ({exc.strerror})" if writing else str(exc)
        entry.update(status="error", output=None, output_relative=None, error=f"{type(exc).__name__}: {error}")
        counts.refused.append((str(item.path), entry["error"]))
        recorded = False  # a record written before a failed rename is superseded by this one
    if not recorded:
        writer.write(entry)
    return entry, counts


def _run(obfuscator, inputs: list[Input], outdir: Path, writer: ReportWriter, done_before: dict[str, str], summary: Summary,
         allow_no_face: bool, overwrite: bool, progress: bool, engine: Callable | None = None) -> list[dict]:
    """Decide each input's fate here (refused, skipped as done, blocked by an output), and obfuscate the rest: one by one,
    or all at once by `engine(jobs) -> [(record, counts)]` (Ray), which writes to the same report."""
    sources = [i.path for i in inputs]
    report, claimed, jobs = [], set(), []
    bar = tqdm(inputs, desc="obfuscating", disable=not progress or len(inputs) < 2 or engine is not None)
    for item in bar:
        target, entry = outdir / item.relative, _entry(item)
        try:
            if item.refusal:
                entry.update(status="refused", error=item.refusal)
                summary.refused.append((str(item.path), item.refusal))
                report.append(entry)
                writer.write(entry)
                continue
            if str(target).casefold() in claimed:
                raise OutputCollisionError(f"{target}: another input of this run is written there (names differ only in case)")
            claimed.add(str(target).casefold())
            earlier = _done(item, outdir, done_before)
            if earlier is not None:
                entry.update(status="skipped", output=os.path.abspath(outdir / earlier), output_relative=earlier)
                summary.skipped += 1
                report.append(entry)  # its earlier record stands
                continue
            if target.exists() and not overwrite:
                raise OutputExistsError(f"{target} exists and no earlier run of this report wrote it; use --overwrite to replace it")
            if engine is not None:
                jobs.append((item, target))
                continue
            try:
                entry, counts = process_input(obfuscator, item, target, writer, sources, allow_no_face, progress)
            except KeyboardInterrupt:
                entry.update(status="interrupted")
                summary.interrupted = True
                report.append(entry)
                writer.write(entry)
                break
            summary.add(counts)
            report.append(entry)
            continue
        except ReportError:
            raise
        except Exception as exc:  # noqa: BLE001 - a collision or an existing output refuses this input, named
            entry.update(status="error", error=f"{type(exc).__name__}: {exc}")
            summary.refused.append((str(item.path), entry["error"]))
        report.append(entry)
        writer.write(entry)
    bar.close()
    if jobs:
        for entry, counts in engine(jobs):
            summary.add(counts)
            report.append(entry)
    return report

"""Every number a chapter quotes, kept in one file per chapter: `book/results/<chapter>.json`.

A chapter makes one `ChapterResults`, records each number it quotes (`record` also glues it, so the
prose cites it with myst-nb's ``{glue:text}`key:.1%` `` instead of a typed copy), and saves at the end.
Only the `cpu` and `gpu` profiles write the file: a `ci` run (CI, quick checks) never changes a
committed result. The README and the tests read the same files.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from faceobf.io import write_json

RESULTS_ENV = "FACEOBF_RESULTS"
WRITING_PROFILES = ("cpu", "gpu")


def results_dir() -> Path:
    """$FACEOBF_RESULTS, else `results/` beside the chapter being run (chapters run in `book/`)."""
    return Path(os.environ.get(RESULTS_ENV) or "results")


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


class ChapterResults:
    """The numbers one chapter quotes, glued for its text and saved for the README and tests."""

    def __init__(self, chapter: str, profile: str):
        self.chapter, self.profile = chapter, profile
        self.values: dict[str, Any] = {}
        self.started = time.perf_counter()  # made in a chapter's first cell: `save` records the chapter's run time

    def record(self, key: str, value: Any, glue: bool = True) -> Any:
        """Keep `value` under `key` (JSON-able: numpy scalars become numbers) and glue it for the text."""
        value = _jsonable(value)
        self.values[key] = value
        if glue:
            try:
                from myst_nb import glue as myst_glue
            except ImportError:  # outside the book's environment the value is only kept
                return value
            myst_glue(key, value, display=False)
        return value

    @property
    def path(self) -> Path:
        return results_dir() / f"{self.chapter}.json"

    def save(self) -> Path | None:
        """Record `run_minutes` (since this object was made), then write the file (atomically) for the cpu/gpu
        profiles; a ci run writes nothing and returns None."""
        self.record("run_minutes", (time.perf_counter() - self.started) / 60)
        if self.profile not in WRITING_PROFILES:
            return None
        write_json(self.path, {"chapter": self.chapter, "profile": self.profile, "values": self.values})
        return self.path


def load_results(chapter: str, directory: str | os.PathLike | None = None) -> dict[str, Any]:
    """The saved values of `chapter` (what the README and tests cite)."""
    path = Path(directory or results_dir()) / f"{chapter}.json"
    return json.loads(path.read_text())["values"]

"""The committed chapters: executed, with their figures, every glued number saved, no error outputs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
CHAPTERS = sorted(BOOK.glob("0*.ipynb"))


def _outputs(nb: dict) -> list[dict]:
    return [o for cell in nb["cells"] if cell["cell_type"] == "code" for o in cell.get("outputs", [])]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_is_committed_executed_with_figures_and_no_errors(path: Path) -> None:
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c.get("execution_count") for c in code if c["source"] and not c["source"][0].startswith("# On Colab only")), \
        "every code cell ran (committed executed)"
    outputs = _outputs(nb)
    assert not [o for o in outputs if o["output_type"] == "error"]
    # a kernel started with MPLBACKEND=Agg keeps no figures: the chapters must carry theirs
    assert any(k.startswith("image/") for o in outputs for k in o.get("data", {})), "no figure in the committed outputs"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_glue_reference_has_a_saved_value(path: Path) -> None:
    nb = json.loads(path.read_text())
    text = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    keys = {m.split(":")[0] for m in re.findall(r"\{glue:text\}`([^`]+)`", text)}
    if not keys:
        return
    saved = json.loads((BOOK / "results" / f"{path.stem}.json").read_text())["values"]
    assert not keys - saved.keys(), f"glued in the text but not in results/{path.stem}.json"


# ---- the book as a textbook (issue 24): what a reader sees in the page column ---------------------------------------
HIDDEN = {"remove-cell", "remove-input", "hide-input"}
PAGE_WIDE_PX = 1100
NOISE = re.compile(r"PosixPath\(|/work/|/home/|/tmp/|object at 0x|\w+Config\(|# NBVAL_|\d+ numbers recorded")


def _png_width(data: str) -> int:
    import base64
    import struct

    return struct.unpack(">I", base64.b64decode(data)[16:20])[0]


def _visible_code(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code" and not HIDDEN & set(c["metadata"].get("tags", []))]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_figures_fit_the_page_column(path: Path) -> None:
    nb = json.loads(path.read_text())
    widths = [_png_width(o["data"]["image/png"]) for o in _outputs(nb) if "image/png" in o.get("data", {})]
    assert widths
    assert sum(w > PAGE_WIDE_PX for w in widths) <= len(widths) / 5, f"figure widths {widths}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_visible_code_is_short_and_narrow_and_prints_no_paths_or_reprs(path: Path) -> None:
    nb = json.loads(path.read_text())
    for cell in _visible_code(nb):
        lines = "".join(cell["source"]).splitlines()
        assert len(lines) <= 30, f"a code cell of {len(lines)} lines"
        assert max(map(len, lines), default=0) <= 88, "a code line over 88 characters"
        if "remove-output" in cell["metadata"].get("tags", []):
            continue
        for out in cell.get("outputs", []):
            text = "".join(out.get("text", "")) + "".join(out.get("data", {}).get("text/plain", ""))
            if "image/png" in out.get("data", {}) or "text/html" in out.get("data", {}):
                text = "".join(out.get("text", ""))  # a figure's or table's text/plain fallback is never shown
            assert not NOISE.search(text), f"a path, repr or marker in an output: {NOISE.search(text).group(0)!r}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_ends_with_a_summary_and_exercises_with_hidden_solutions(path: Path) -> None:
    nb = json.loads(path.read_text())
    text = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert "## Summary" in text
    exercises = re.findall(r"```\{admonition\} Exercise", text)
    solutions = re.findall(r"```\{admonition\} Solution\n:class: dropdown", text)
    assert len(exercises) >= 4 and len(solutions) == len(exercises)


def test_the_introduction_glues_only_saved_values() -> None:
    text = (BOOK / "intro.md").read_text()
    glued = re.findall(r"\{glue:text\}`([\w.]+)\.ipynb::([^`:]+)", text)
    assert glued
    for doc, key in glued:
        saved = json.loads((BOOK / "results" / f"{doc}.json").read_text())["values"]
        assert key in saved, f"intro.md glues {doc}::{key}, which results/{doc}.json lacks"


def test_cited_works_are_in_the_bibliography() -> None:
    bib = (BOOK.parent / "references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([^,]+),", bib))
    sources = [(BOOK / "intro.md").read_text()] + [
        "".join("".join(c["source"]) for c in json.loads(p.read_text())["cells"] if c["cell_type"] == "markdown")
        for p in CHAPTERS]
    cited = {k.strip() for s in sources for group in re.findall(r"\{cite(?::[pt])?\}`([^`]+)`", s) for k in group.split(",")}
    assert cited and not cited - keys, f"cited but not in references.bib: {cited - keys}"

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

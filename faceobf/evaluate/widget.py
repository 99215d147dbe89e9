"""The human test inside a notebook: the same trial sheets as ipywidgets, scored like the HTML page."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from faceobf.evaluate.sheets import TrialSheet, chance_level

if TYPE_CHECKING:
    import ipywidgets


def _png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def sheet_widget(sheets: list[TrialSheet], images: list[list[np.ndarray]],
                 on_done: Callable[[list[dict]], None] | None = None) -> ipywidgets.VBox:
    """An ipywidgets box showing one sheet at a time in its form: tick the matching original (query form: the
    processed face is shown apart, above the originals) or the matching pair (pairs form), press Confirm.

    Answers accumulate in `box.answers` in the format of the HTML page (trial, picks, ms);
    `on_done(answers)` is called after the last sheet.
    """
    import ipywidgets as w

    box = w.VBox()
    box.answers = []
    progress, status = w.HTML(), w.HTML()
    confirm = w.Button(description="Confirm", disabled=True)
    state = {"boxes": {}, "shown": 0.0}

    def changed(_=None):
        confirm.disabled = sum(c.value for c in state["boxes"].values()) != sheets[len(box.answers)].picks

    def show():
        k = len(box.answers)
        if k >= len(sheets):
            right = sum(sorted(a["picks"]) == list(s.match) for a, s in zip(box.answers, sheets))
            status.value = (f"<b>Done: {right} of {len(sheets)} sheets right</b> "
                            f"(chance {chance_level(len(sheets[0].rows)):.0%} per sheet).")
            box.children = [progress, status]
            if on_done:
                on_done(box.answers)
            return
        sheet = sheets[k]
        query = sheet.form == "query"
        progress.value = (f"Sheet {k + 1} of {len(sheets)}: " + ("the face on top was processed; tick the photo below that "
                          "shows the same person." if query else "tick the two faces that show the same person."))
        cells, state["boxes"] = [], {}
        for i in sheet.gallery:
            tick = w.Checkbox(description=f"face {i + 1}", value=False, indent=False)
            tick.observe(changed, "value")
            state["boxes"][i] = tick
            cells.append(w.VBox([w.Image(value=_png(images[k][i]), format="png", width=110), tick]))
        grid = w.GridBox(cells, layout=w.Layout(grid_template_columns="repeat(5, 120px)"))
        top = [w.Image(value=_png(images[k][sheet.processed]), format="png", width=150)] if query else []
        box.children = [progress, *top, grid, confirm, status]
        confirm.disabled = True
        state["shown"] = time.perf_counter()

    def on_confirm(_):
        picks = [i for i, c in state["boxes"].items() if c.value]
        if len(picks) == sheets[len(box.answers)].picks:
            box.answers.append({"trial": sheets[len(box.answers)].trial, "picks": picks,
                                "ms": round(1000 * (time.perf_counter() - state["shown"]))})
            show()

    confirm.on_click(on_confirm)
    show()
    return box

"""Chapter results: written by cpu and gpu runs, never by a ci run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def test_chapter_results_are_written_by_cpu_runs_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from faceobf.results import ChapterResults, load_results

    monkeypatch.setenv("FACEOBF_RESULTS", str(tmp_path))
    ci = ChapterResults("02_stage2_reconstruct", "ci")
    ci.record("ssim", np.float32(0.5), glue=False)
    assert ci.save() is None and not list(tmp_path.iterdir())  # a ci run never changes a committed file
    cpu = ChapterResults("02_stage2_reconstruct", "cpu")
    assert cpu.record("ssim", np.float64(0.8265), glue=False) == 0.8265
    cpu.record("accuracy", {"Smiling": np.float32(0.75)}, glue=False)
    assert cpu.save() == tmp_path / "02_stage2_reconstruct.json"
    saved = load_results("02_stage2_reconstruct")
    assert saved.pop("run_minutes") >= 0  # the chapter's run time, from the first cell to `save`
    assert saved == {"ssim": 0.8265, "accuracy": {"Smiling": 0.75}}

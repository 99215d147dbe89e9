"""Trial sheets (one matching pair, no identity reused, seeded), the machine's pick, the scorer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from faceobf.evaluate.human_test import AnswersError, score_answers, score_file, write_human_test
from faceobf.evaluate.sheets import chance_level, machine_answer, machine_answers, make_sheets

ROWS = np.arange(100, 160)
IDS = np.repeat(np.arange(12), 5)  # 12 people, 5 images each


def test_every_sheet_has_exactly_one_matching_pair_and_no_reused_identity() -> None:
    processed_rows = ROWS[::2]
    sheets = make_sheets(ROWS, IDS, 30, seed=3, processed_rows=processed_rows)
    identity_of = dict(zip(ROWS.tolist(), IDS.tolist()))
    for s in sheets:
        assert len(s.rows) == 10 and len(set(s.rows)) == 10
        assert [identity_of[r] for r in s.rows] == list(s.identities)
        values, counts = np.unique(s.identities, return_counts=True)
        assert sorted(counts.tolist()) == [1] * 8 + [2]  # one person twice, everyone else once
        pair = [k for k, i in enumerate(s.identities) if i == values[counts == 2][0]]
        assert tuple(pair) == s.match and s.processed in pair
        assert s.rows[s.processed] in set(processed_rows.tolist())
    assert len({s.identities[s.processed] for s in sheets}) == 12  # targets cycle through the people


def test_sheets_are_seeded() -> None:
    assert make_sheets(ROWS, IDS, 5, seed=1) == make_sheets(ROWS, IDS, 5, seed=1)
    assert make_sheets(ROWS, IDS, 5, seed=1) != make_sheets(ROWS, IDS, 5, seed=2)


def test_too_few_identities_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least 9 identities"):
        make_sheets(ROWS[:40], IDS[:40], 3)


def test_chance_is_one_in_45() -> None:
    assert chance_level() == pytest.approx(1 / 45)


def test_machine_picks_the_closest_pair() -> None:
    d = np.array([[0.0, 0.0], [3.0, 3.0], [9.0, 0.0], [3.1, 3.2], [0.0, 9.0]])
    assert machine_answer(d) == (1, 3)


def test_machine_answers_use_the_processed_descriptor_for_the_processed_face() -> None:
    sheets = make_sheets(ROWS, IDS, 4, seed=0)
    originals = {int(r): np.array([float(i), 0.0]) * 10 for r, i in zip(ROWS, IDS)}  # each person a point
    processed = {int(r): np.array([float(i), 0.0]) * 10 + 0.1 for r, i in zip(ROWS, IDS)}  # near its own person
    answers = machine_answers(sheets, originals, processed)
    assert [tuple(a["picks"]) for a in answers] == [s.match for s in sheets]


def _key(sheets) -> dict:
    return {"test_id": "t1", "method": "blur_s8", "sheets": [s.as_dict() for s in sheets]}


def test_scorer_counts_right_answers_with_an_exact_interval() -> None:
    sheets = make_sheets(ROWS, IDS, 10, seed=0)
    answers = [{"trial": s.trial, "picks": list(s.match) if s.trial < 4 else [0, 1] if s.match != (0, 1) else [0, 2], "ms": 900}
               for s in sheets]
    score = score_answers({"test_id": "t1", "answers": answers}, _key(sheets))
    assert score["correct"] == 4 and score["trials"] == 10 and score["success_rate"] == 0.4
    assert score["ci95"][0] == pytest.approx(0.1216, abs=1e-4) and score["ci95"][1] == pytest.approx(0.7376, abs=1e-4)
    assert score["chance"] == pytest.approx(1 / 45) and score["p_above_chance"] < 1e-3
    assert score["median_ms"] == 900


@pytest.mark.parametrize(("answers", "message"), [
    ({"test_id": "other", "answers": [{"trial": 0, "picks": [0, 1]}]}, "belong to test"),
    ({"test_id": "t1", "answers": []}, "no answers"),
    ({"test_id": "t1", "answers": [{"trial": 0, "picks": [0, 1]}, {"trial": 0, "picks": [0, 2]}]}, "answered twice"),
    ({"test_id": "t1", "answers": [{"trial": 0, "picks": [3, 3]}]}, "two different faces"),
    ({"test_id": "t1", "answers": [{"trial": 0, "picks": [0, 10]}]}, "two different faces"),
    ({"test_id": "t1", "answers": [{"trial": 99, "picks": [0, 1]}]}, "unknown trial"),
])
def test_scorer_rejects_bad_answers_by_name(answers: dict, message: str) -> None:
    with pytest.raises(AnswersError, match=message):
        score_answers(answers, _key(make_sheets(ROWS, IDS, 3, seed=0)), source="a.json")


def test_page_key_and_machine_answers_on_disk(tmp_path: Path) -> None:
    sheets = make_sheets(ROWS, IDS, 3, seed=0)
    images = [[np.full((16, 16, 3), 20 * k, np.uint8) for k in range(10)] for _ in sheets]
    machine = [{"trial": s.trial, "picks": list(s.match), "ms": None} for s in sheets]
    paths = write_human_test(tmp_path / "test", sheets, images, "blur_s8", "blur", machine)
    page = paths["page"].read_text()
    assert "data:image/jpeg;base64," in page and "http://" not in page and "https://" not in page
    assert '"match"' not in page and '"processed"' not in page  # the answers are not in the page
    score = score_file(paths["machine"])  # key.json beside it is found
    assert score["correct"] == 3
    with pytest.raises(FileExistsError, match="already holds a human test"):
        write_human_test(tmp_path / "test", sheets, images, "blur_s8")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(AnswersError, match="bad.json: not a JSON answers file"):
        score_file(tmp_path / "bad.json")
    lone = tmp_path / "elsewhere" / "a.json"
    lone.parent.mkdir()
    lone.write_text(json.dumps({"test_id": "x", "answers": []}))
    with pytest.raises(AnswersError, match="cannot find the test's key.json"):
        score_file(lone)


def test_notebook_widget_records_picks_like_the_page() -> None:
    from faceobf.evaluate.widget import sheet_widget

    sheets = make_sheets(ROWS, IDS, 2, seed=0)
    images = [[np.full((8, 8, 3), 10 * k, np.uint8) for k in range(10)] for _ in sheets]
    done = []
    box = sheet_widget(sheets, images, on_done=done.append)
    confirm = box.children[2]
    for sheet, picks in zip(sheets, [sheet.match for sheet in sheets[:1]] + [(0, 1) if sheets[1].match != (0, 1) else (0, 2)]):
        ticks = [cell.children[1] for cell in box.children[1].children]
        assert len(ticks) == 10 and confirm.disabled
        ticks[picks[0]].value = True
        assert confirm.disabled
        ticks[picks[1]].value = True
        assert not confirm.disabled
        confirm.click()
    assert [a["picks"] for a in box.answers] == [list(sheets[0].match), [0, 1] if sheets[1].match != (0, 1) else [0, 2]]
    assert done == [box.answers] and "1 of 2 sheets right" in box.children[1].value

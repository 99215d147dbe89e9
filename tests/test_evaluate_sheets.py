"""Trial sheets (one matching pair, no identity reused, seeded), the machine's pick, the scorer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from faceobf.evaluate.human_test import AnswersError, score_answers, score_file, write_human_test
from faceobf.evaluate.sheets import chance_level, machine_answer, machine_answers, make_sheets, naive_chance_level

ROWS = np.arange(100, 160)
IDS = np.repeat(np.arange(12), 5)  # 12 people, 5 images each


def test_every_sheet_has_exactly_one_matching_pair_and_no_reused_identity() -> None:
    processed_rows = ROWS[::2]
    sheets = make_sheets(ROWS, IDS, 30, seed=3, processed_rows=processed_rows, form="pairs")
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


def test_chance_is_one_in_nine_in_both_forms() -> None:
    assert chance_level() == pytest.approx(1 / 9) and naive_chance_level() == pytest.approx(1 / 45)
    query, pairs = make_sheets(ROWS, IDS, 5, seed=1), make_sheets(ROWS, IDS, 5, seed=1, form="pairs")
    assert [q.rows for q in query] == [p.rows for p in pairs]  # the same faces, shown two ways
    for q, p in zip(query, pairs):
        assert q.match == (q.original,) and len(q.gallery) == 9 and q.processed not in q.gallery and q.picks == 1
        assert p.match == tuple(sorted((p.processed, p.original))) and len(p.gallery) == 10 and p.picks == 2
        assert q.as_dict()["chance"] == p.as_dict()["chance"] == pytest.approx(1 / 9)
    with pytest.raises(ValueError, match="unknown sheet form"):
        make_sheets(ROWS, IDS, 1, form="triples")


def test_machine_picks_the_nearest_original_or_the_closest_pair() -> None:
    d = np.array([[0.0, 0.0], [3.0, 3.0], [9.0, 0.0], [3.1, 3.2], [0.0, 9.0]])
    from faceobf.evaluate.sheets import TrialSheet

    pairs = TrialSheet(0, tuple(range(5)), (0, 1, 2, 1, 3), 3, 1, "pairs")
    query = TrialSheet(0, tuple(range(5)), (0, 1, 2, 1, 3), 2, 0, "query")  # the processed face is at 2: (9, 0)
    assert machine_answer(d, pairs) == [1, 3]
    assert machine_answer(d, query) == [1]  # (3, 3) is the nearest of the others to (9, 0)


@pytest.mark.parametrize("form", ["query", "pairs"])
def test_machine_answers_use_the_processed_descriptor_for_the_processed_face(form: str) -> None:
    sheets = make_sheets(ROWS, IDS, 4, seed=0, form=form)
    originals = {int(r): np.array([float(i), 0.0]) * 10 for r, i in zip(ROWS, IDS)}  # each person a point
    processed = {int(r): np.array([float(i), 0.0]) * 10 + 0.1 for r, i in zip(ROWS, IDS)}  # near its own person
    answers = machine_answers(sheets, originals, processed)
    assert [tuple(a["picks"]) for a in answers] == [s.match for s in sheets]


def _key(sheets) -> dict:
    return {"test_id": "t1", "method": "blur_s8", "sheets": [s.as_dict() for s in sheets]}


def test_scorer_counts_right_answers_with_an_exact_interval() -> None:
    sheets = make_sheets(ROWS, IDS, 10, seed=0, form="pairs")
    answers = [{"trial": s.trial, "picks": list(s.match) if s.trial < 4 else [0, 1] if s.match != (0, 1) else [0, 2], "ms": 900}
               for s in sheets]
    score = score_answers({"test_id": "t1", "answers": answers}, _key(sheets))
    assert score["correct"] == 4 and score["trials"] == 10 and score["success_rate"] == 0.4
    assert score["ci95"][0] == pytest.approx(0.1216, abs=1e-4) and score["ci95"][1] == pytest.approx(0.7376, abs=1e-4)
    assert score["chance"] == pytest.approx(1 / 9) and score["naive_chance"] == pytest.approx(1 / 45)
    from math import comb

    tail = sum(comb(10, k) * (1 / 9) ** k * (8 / 9) ** (10 - k) for k in range(4, 11))  # P(X >= 4), X ~ Binomial(10, 1/9)
    assert score["p_above_chance"] == pytest.approx(tail, rel=1e-6) and 0.01 < tail < 0.02
    assert score["median_ms"] == 900 and score["form"] == "pairs"


def test_query_sheets_take_one_pick_among_the_originals() -> None:
    sheets = make_sheets(ROWS, IDS, 9, seed=0)
    answers = [{"trial": s.trial, "picks": [s.original] if s.trial < 3 else [next(k for k in s.gallery if k != s.original)]}
               for s in sheets]
    score = score_answers({"test_id": "t1", "answers": answers}, _key(sheets))
    assert (score["correct"], score["trials"], score["form"]) == (3, 9, "query") and score["chance"] == pytest.approx(1 / 9)
    with pytest.raises(AnswersError, match="must pick 1 different face"):
        score_answers({"test_id": "t1", "answers": [{"trial": 0, "picks": [sheets[0].processed]}]}, _key(sheets))


@pytest.mark.parametrize(("answers", "message"), [
    ({"test_id": "other", "answers": [{"trial": 0, "picks": [0, 1]}]}, "belong to test"),
    ({"test_id": "t1", "answers": []}, "no answers"),
    ({"test_id": "t1", "answers": [{"trial": 0, "picks": [0, 1]}, {"trial": 0, "picks": [0, 2]}]}, "answered twice"),
    ({"test_id": "t1", "answers": [{"trial": 0, "picks": [3, 3]}]}, "2 different face"),
    ({"test_id": "t1", "answers": [{"trial": 0, "picks": [0, 10]}]}, "2 different face"),
    ({"test_id": "t1", "answers": [{"trial": 99, "picks": [0, 1]}]}, "unknown trial"),
])
def test_scorer_rejects_bad_answers_by_name(answers: dict, message: str) -> None:
    with pytest.raises(AnswersError, match=message):
        score_answers(answers, _key(make_sheets(ROWS, IDS, 3, seed=0, form="pairs")), source="a.json")


@pytest.mark.parametrize("form", ["query", "pairs"])
def test_page_key_and_machine_answers_on_disk(tmp_path: Path, form: str) -> None:
    sheets = make_sheets(ROWS, IDS, 3, seed=0, form=form)
    images = [[np.full((16, 16, 3), 20 * k, np.uint8) for k in range(10)] for _ in sheets]
    machine = [{"trial": s.trial, "picks": list(s.match), "ms": None} for s in sheets]
    paths = write_human_test(tmp_path / "test", sheets, images, "blur_s8", "blur", machine)
    page = paths["page"].read_text()
    assert "data:image/jpeg;base64," in page and "http://" not in page and "https://" not in page
    assert '"match"' not in page and '"processed"' not in page and '"original"' not in page  # the answers are not in the page
    assert ("Which face shows the same person?" in page) == (form == "query")
    assert json.loads(paths["key"].read_text())["form"] == form
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

    sheets = make_sheets(ROWS, IDS, 2, seed=0, form="pairs")
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


def test_notebook_widget_shows_the_query_apart_and_takes_one_pick() -> None:
    from faceobf.evaluate.widget import sheet_widget

    sheets = make_sheets(ROWS, IDS, 1, seed=0)
    images = [[np.full((8, 8, 3), 10 * k, np.uint8) for k in range(10)] for _ in sheets]
    box = sheet_widget(sheets, images)
    progress, query, grid, confirm = box.children[:4]
    assert "processed" in progress.value and len(grid.children) == 9
    ticks = {int(cell.children[1].description.split()[1]) - 1: cell.children[1] for cell in grid.children}
    assert sheets[0].processed not in ticks
    ticks[sheets[0].original].value = True
    assert not confirm.disabled
    confirm.click()
    assert box.answers[0]["picks"] == [sheets[0].original]
